/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Quota goals' current values (lib/goal-current.c): the parsers, the kernel's
 * arithmetic, and goal_current_read() over a fake /proc and /sys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "goal-current.h"
#include "macro.h"
#include "snapshot.h"

static char root[] = "/tmp/damond-goal-XXXXXX";
static char proc[512], sys[512];

static void put(const char *rel, const char *text)
{
	char path[1024], dir[1024], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void t_parse_psi(void **state)
{
	uint64_t t = 0;

	assert_int_equal(goal_parse_psi_some_total("some avg10=0.00 avg60=0.00 avg300=0.00 total=123456\n"
						   "full avg10=0.00 avg60=0.00 avg300=0.00 total=99\n",
						   &t),
			 0);
	assert_int_equal(t, 123456);
	/* "full" first: still the "some" line's total */
	assert_int_equal(goal_parse_psi_some_total("full avg10=0.00 total=5\nsome avg10=1.00 total=77\n", &t), 0);
	assert_int_equal(t, 77);
	assert_int_equal(goal_parse_psi_some_total("full avg10=0.00 total=5\n", &t), -EINVAL);
	/* a "some" line without total= must not borrow the next line's */
	assert_int_equal(goal_parse_psi_some_total("some avg10=0.00\nfull total=5\n", &t), -EINVAL);
}

static void t_parse_node_meminfo(void **state)
{
	uint64_t total = 0, free_b = 0;

	assert_int_equal(goal_parse_node_meminfo("Node 0 MemTotal:       16318416 kB\n"
						 "Node 0 MemFree:         1000000 kB\n"
						 "Node 0 MemUsed:        15318416 kB\n",
						 &total, &free_b),
			 0);
	assert_int_equal(total, 16318416ULL * 1024);
	assert_int_equal(free_b, 1000000ULL * 1024);
	assert_int_equal(goal_parse_node_meminfo("Node 0 MemTotal: 5 kB\n", &total, &free_b), -EINVAL);
}

static void t_parse_numa_stat(void **state)
{
	const char *text = "anon N0=1 N1=2 N11=3\n"
			   "file N0=1 N1=2 N11=3\n"
			   "active_anon N0=4096 N1=100 N11=1000\n"
			   "inactive_anon N0=8192 N1=200 N11=2000\n"
			   "active_file N0=0 N1=300 N11=3000\n"
			   "inactive_file N0=4096 N1=400 N11=4000\n"
			   "unevictable N0=999999 N1=999999 N11=999999\n";
	uint64_t b = 0;

	assert_int_equal(goal_parse_numa_stat_lru(text, 0, &b), 0);
	assert_int_equal(b, 4096 + 8192 + 0 + 4096);
	/* N1 is not the prefix of N11 */
	assert_int_equal(goal_parse_numa_stat_lru(text, 1, &b), 0);
	assert_int_equal(b, 1000);
	assert_int_equal(goal_parse_numa_stat_lru(text, 11, &b), 0);
	assert_int_equal(b, 10000);
	assert_int_equal(goal_parse_numa_stat_lru(text, 2, &b), -ENOENT);
	assert_int_equal(goal_parse_numa_stat_lru("anon N0=1\n", 0, &b), -EINVAL);
}

static void t_parse_meminfo_lru(void **state)
{
	uint64_t a = 0, i = 0;

	assert_int_equal(goal_parse_meminfo_lru("MemTotal: 100 kB\nActive:  30 kB\nInactive:  10 kB\n"
						"Active(anon):  20 kB\nInactive(anon):  5 kB\n",
						&a, &i),
			 0);
	assert_int_equal(a, 30 * 1024);
	assert_int_equal(i, 10 * 1024);
}

static void t_bp(void **state)
{
	assert_int_equal(goal_bp(1, 4), 2500);
	assert_int_equal(goal_bp(0, 0), 0);
	/* no overflow where value * 10000 would wrap */
	assert_int_equal(goal_bp(UINT64_MAX / 2, UINT64_MAX / 2), 10000);
	assert_int_equal(goal_bp(UINT64_MAX / 4, UINT64_MAX / 2), 4999);
	assert_int_equal(goal_score_bp(3000, 2000), 15000);
}

static void t_psi_feed(void **state)
{
	struct goal_psi p = {};

	goal_psi_feed(&p, 1000, 1000000, 1000000);
	assert_false(p.have_rate);
	/* too soon: ignored, the first sample stays the base */
	goal_psi_feed(&p, 5000, 1500000, 1000000);
	assert_false(p.have_rate);
	goal_psi_feed(&p, 51000, 3000000, 1000000);
	assert_true(p.have_rate);
	assert_true(p.us_per_s > 24999.0 && p.us_per_s < 25001.0); /* 50 ms of stall over 2 s */
	/* a counter that went backwards (a new boot's record?): no rate from it, a new base */
	goal_psi_feed(&p, 10, 5000000, 1000000);
	assert_int_equal(p.total_us, 10);
	assert_true(p.us_per_s > 24999.0 && p.us_per_s < 25001.0);
}

static void t_read(void **state)
{
	struct goal_psi_set psi = {};
	struct goal_current c;
	struct damos_goal_cfg g = { .metric = DAMOS_GOAL_NODE_MEM_FREE_BP, .nid = 1, .target_value = 2000 };

	put("sys/devices/system/node/node1/meminfo", "Node 1 MemTotal: 1000 kB\nNode 1 MemFree: 250 kB\n");
	put("sys/fs/cgroup/work.slice/app/memory.numa_stat",
	    "active_anon N0=0 N1=102400\ninactive_anon N0=0 N1=0\nactive_file N0=0 N1=0\n"
	    "inactive_file N0=0 N1=0\n");
	put("proc/meminfo", "MemTotal: 1000 kB\nActive: 300 kB\nInactive: 100 kB\n");
	put("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n");

	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 2500);
	assert_string_equal(c.unit, "bp");
	g.metric = DAMOS_GOAL_NODE_MEM_USED_BP;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_int_equal(c.value, 7500);

	/* memcg: LRU bytes of the memcg on the node over the node's total (100 KiB of 1000 KiB) */
	g.metric = DAMOS_GOAL_NODE_MEMCG_USED_BP;
	g.path = (char *)"/work.slice/app";
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 1000);
	g.metric = DAMOS_GOAL_NODE_MEMCG_FREE_BP;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_int_equal(c.value, 9000);
	g.path = (char *)"nosuch";
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(c.why);

	/* a node that does not exist */
	g.metric = DAMOS_GOAL_NODE_MEM_FREE_BP;
	g.nid = 3;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "node"));

	g.metric = DAMOS_GOAL_ACTIVE_MEM_BP;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_int_equal(c.value, 7500);
	g.metric = DAMOS_GOAL_INACTIVE_MEM_BP;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_int_equal(c.value, 2500);

	/* PSI: two samples 2 s apart, 40 ms of stall: 20 ms per 1 s reset interval, 100 ms per 5 s */
	g.metric = DAMOS_GOAL_SOME_MEM_PSI_US;
	g.path = NULL; /* the system's: a path would name one cgroup */
	goal_current_read(proc, sys, &g, 5000, &psi, 10000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "two samples"));
	put("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=41000\n");
	goal_current_read(proc, sys, &g, 5000, &psi, 12000000, NULL, &c);
	assert_true(c.known);
	assert_string_equal(c.unit, "us");
	assert_int_equal(c.value, 100000);

	g.metric = DAMOS_GOAL_USER_INPUT;
	g.current_value = 42;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 42);

	/* node_eligible_mem_bp without a region observation: unknown, and why */
	g.metric = DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(c.why);
	goal_psi_set_free(&psi);
}

/*
 * node_eligible_mem_bp (7.2's definition: the bytes of the regions matching the scheme's access pattern that
 * lie on node nid over all the matching bytes) from a snapshot of regions and the nodes' physical ranges. The
 * fixture: node 0 is [1 MiB, 1 GiB), node 1 [1 GiB, 1.375 GiB) and [1.4375 GiB, 2 GiB) (a hole between); the
 * scheme takes idle regions (0 accesses) of at least 4 KiB aged 10 aggregations or more.
 */
static const struct damon_addr_range node0[] = { { 0x100000, 0x40000000 } };
static const struct damon_addr_range node1[] = { { 0x40000000, 0x58000000 }, { 0x5c000000, 0x80000000 } };
static const struct snapshot_region regions[] = {
	{ 0x100000, 0x200000, 0, 20 },      /* eligible, node 0 */
	{ 0x200000, 0x300000, 3, 20 },      /* accessed: not */
	{ 0x3ff00000, 0x40100000, 0, 10 },  /* eligible (age bound inclusive), 1 MiB on each node */
	{ 0x40100000, 0x40200000, 0, 9 },   /* too young: not */
	{ 0x50000000, 0x60000000, 0, 100 }, /* eligible, node 1 with its hole: 128 + 64 MiB on it */
	{ 0x60000000, 0x60000000, 0, 100 }, /* empty: ignored */
};

static void t_eligible(void **state)
{
	struct damos_cfg s = { .sz = { 4096, UINT64_MAX }, .nr_accesses = { 0, 0 }, .age = { 10, DAMON_UINT_MAX } };
	uint64_t on0 = 0, all0 = 0, on1 = 0, all1 = 0;
	struct goal_eligible_obs el = {};
	struct damos_goal_cfg g = { .metric = DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP, .target_value = 5000 };
	struct goal_psi_set psi = {};
	struct goal_current c;

	assert_true(goal_region_eligible(&s, 4096, 0, 10));
	assert_false(goal_region_eligible(&s, 4095, 0, 10));
	assert_false(goal_region_eligible(&s, 4096, 1, 10));
	assert_false(goal_region_eligible(&s, 4096, 0, 9));
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node0, ARRAY_SIZE(node0), NULL, 1, &on0, &all0);
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node1, ARRAY_SIZE(node1), NULL, 1, &on1, &all1);
	assert_int_equal(all0, 0x100000 + 0x200000 + 0x10000000);
	assert_int_equal(all1, all0);
	assert_int_equal(on0, 0x100000 + 0x100000);
	assert_int_equal(on1, 0x100000 + 0x8000000 + 0x4000000);

	/* the value: node 1's share in bp (the kernel's mult_frac rounds down) */
	el = (struct goal_eligible_obs){ .known = true, .node_bytes = on1, .all_bytes = all1 };
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, &el, &c);
	assert_true(c.known);
	assert_string_equal(c.unit, "bp");
	assert_int_equal(c.value, on1 * 10000 / all1);
	assert_int_equal(c.value, 7451);

	/* a second target (the caller adds each target's regions): the sums go on */
	goal_eligible_add(&s, regions, 1, node0, ARRAY_SIZE(node0), NULL, 1, &on0, &all0);
	assert_int_equal(on0, 0x300000);
	assert_int_equal(all0, 0x10400000);

	/* the size bound is inclusive too: a 256 MiB maximum keeps the 256 MiB region, one byte less drops it */
	s.sz.max = 0x10000000;
	on0 = all0 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node0, ARRAY_SIZE(node0), NULL, 1, &on0, &all0);
	assert_int_equal(all0, 0x10300000);
	s.sz.max = 0x10000000 - 1;
	on0 = all0 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node0, ARRAY_SIZE(node0), NULL, 1, &on0, &all0);
	assert_int_equal(all0, 0x300000);
	assert_int_equal(on0, 0x200000);

	/* no node ranges (a memoryless node): nothing on it */
	on1 = all1 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), NULL, 0, NULL, 1, &on1, &all1);
	assert_int_equal(on1, 0);
	assert_int_equal(all1, 0x300000);

	/* nothing eligible: 0, as the kernel (nothing of it on the node) */
	el = (struct goal_eligible_obs){ .known = true };
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, &el, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 0);
	/* the observation's reason goes through */
	el = (struct goal_eligible_obs){ .why = "measuring: no complete aggregation of the current targets yet" };
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, &el, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "aggregation"));
	goal_psi_set_free(&psi);
}

/* a /proc/kpageflags of the pages below end (bytes): LRU, except [a, b) free (buddy) and [c, d) slab */
static int kpageflags_file(uint64_t end, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	char path[] = "/tmp/damond-kpageflags-XXXXXX";
	int fd = mkstemp(path);
	uint64_t *f = calloc(end / 4096, sizeof(*f));

	assert_true(fd >= 0);
	assert_non_null(f);
	unlink(path);
	for (uint64_t p = 0; p < end / 4096; p++) {
		uint64_t addr = p * 4096;

		f[p] = addr >= a && addr < b   ? UINT64_C(1) << 10
		       : addr >= c && addr < d ? UINT64_C(1) << 7
					       : (UINT64_C(1) << 5) | (UINT64_C(1) << 12);
	}
	assert_int_equal(write(fd, f, end / 4096 * sizeof(*f)), (ssize_t)(end / 4096 * sizeof(*f)));
	free(f);
	return fd;
}

/*
 * node_eligible_mem_bp counts what the kernel's folio walk counts: LRU pages only (issue 16: damond's whole
 * regions read 3 % above the kernel in the 7.2 guest). The fixture's regions over a kpageflags where region
 * 0's first half is slab, [0x50000000, 0x54000000) free and the file ends at 0x5e000000 (absent beyond).
 */
static void t_eligible_pages(void **state)
{
	struct damos_cfg s = { .sz = { 4096, UINT64_MAX }, .nr_accesses = { 0, 0 }, .age = { 10, DAMON_UINT_MAX } };
	int fd = kpageflags_file(0x5e000000, 0x50000000, 0x54000000, 0x100000, 0x180000);
	struct goal_lru_cache lc = {};
	uint64_t on0 = 0, all0 = 0, on1 = 0, all1 = 0;

	/* every page of the regions' span read at once (budget 0) */
	assert_int_equal(goal_lru_refresh(&lc, fd, 0x100000, 0x60000000, 4096, 0), 0);
	assert_int_equal(lc.nr_read, lc.nr_blocks);
	assert_int_equal(lc.first_pfn, 0x100000 / 4096 / GOAL_LRU_BLOCK * GOAL_LRU_BLOCK);
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node0, ARRAY_SIZE(node0), &lc, 1, &on0, &all0);
	/* region 0: 512 KiB of LRU; region 2: 1 MiB on each node; region 4: 64 MiB free, 64 MiB on node 1, the
	 * 64 MiB hole between node 1's ranges (LRU here, on no node), 32 MiB on node 1, 32 MiB absent */
	assert_int_equal(on0, 0x80000 + 0x100000);
	assert_int_equal(all0, 0x80000 + 0x200000 + 0xa000000);
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node1, ARRAY_SIZE(node1), &lc, 1, &on1, &all1);
	assert_int_equal(on1, 0x100000 + 0x6000000);
	assert_int_equal(all1, all0);
	/* part of a block: pro rata (64 pages of a 128-page block whose 128 are LRU; of a free one: none) */
	assert_int_equal(goal_lru_bytes(&lc, 0x200000, 0x240000), 0x40000);
	assert_int_equal(goal_lru_bytes(&lc, 0x50000000, 0x50040000), 0);

	/* core units of 1 KiB (addr_unit): the same bytes, in those units */
	{
		struct snapshot_region r1k[ARRAY_SIZE(regions)];
		struct damon_addr_range n1k[ARRAY_SIZE(node1)];
		struct damos_cfg s1k = s;
		uint64_t on = 0, all = 0;

		for (size_t i = 0; i < ARRAY_SIZE(regions); i++)
			r1k[i] = (struct snapshot_region){ regions[i].start / 1024, regions[i].end / 1024,
							   regions[i].nr_accesses, regions[i].age };
		for (size_t i = 0; i < ARRAY_SIZE(node1); i++)
			n1k[i] = (struct damon_addr_range){ node1[i].start / 1024, node1[i].end / 1024 };
		s1k.sz.min = 4;
		goal_eligible_add(&s1k, r1k, ARRAY_SIZE(r1k), n1k, ARRAY_SIZE(n1k), &lc, 1024, &on, &all);
		assert_int_equal(on, on1 / 1024);
		assert_int_equal(all, all1 / 1024);
	}
	goal_lru_cache_done(&lc);

	/* round robin under a budget: 12,800 pages (100 blocks) a refresh; before the span is read, the blocks not
	 * read count at the read ones' mean; after one pass, exact */
	lc = (struct goal_lru_cache){};
	assert_int_equal(goal_lru_refresh(&lc, fd, 0x100000, 0x60000000, 4096, 12800), 0);
	assert_int_equal(lc.nr_read, 100);
	assert_int_equal(lc.read_pages, 12800);
	on1 = all1 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node1, ARRAY_SIZE(node1), &lc, 1, &on1, &all1);
	/* the first 100 blocks (50 MiB from 1 MiB) are LRU but 512 KiB of slab: everything else counts at that mean */
	assert_true(on1 > 0x8000000 + 0x4000000 + 0x100000 - 0x2000000 && on1 <= 0x8000000 + 0x4000000 + 0x100000);
	for (int i = 0; i < 40 && lc.passes == 0; i++)
		assert_int_equal(goal_lru_refresh(&lc, fd, 0x100000, 0x60000000, 4096, 12800), 0);
	assert_int_equal(lc.nr_read, lc.nr_blocks);
	on1 = all1 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node1, ARRAY_SIZE(node1), &lc, 1, &on1, &all1);
	assert_int_equal(on1, 0x100000 + 0x6000000);
	assert_int_equal(all1, all0);
	/* a wider span keeps what was read: region 4's blocks still counted exactly */
	assert_int_equal(goal_lru_refresh(&lc, fd, 0, 0x70000000, 4096, 128), 0);
	assert_int_equal(lc.first_pfn, 0);
	assert_int_equal(goal_lru_bytes(&lc, 0x50000000, 0x58000000), 0x4000000);
	goal_lru_cache_done(&lc);

	/* no cache: whole regions */
	on1 = all1 = 0;
	goal_eligible_add(&s, regions, ARRAY_SIZE(regions), node1, ARRAY_SIZE(node1), NULL, 1, &on1, &all1);
	assert_int_equal(on1, 0x100000 + 0x8000000 + 0x4000000);
	assert_int_equal(all1, 0x100000 + 0x200000 + 0x10000000);
	close(fd);
}

/* some_mem_psi_us of one cgroup (issue 16: no kernel has it): its memory.pressure, sampled apart from
 * the system's and from other cgroups' */
static void t_read_psi_cgroup(void **state)
{
	struct goal_psi_set psi = {};
	struct goal_current c;
	struct damos_goal_cfg g = { .metric = DAMOS_GOAL_SOME_MEM_PSI_US, .target_value = 1000 };
	struct damos_goal_cfg sysg = g;

	put("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=5000000\n"
				    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	put("sys/fs/cgroup/system.slice/db.service/memory.pressure",
	    "some avg10=1.00 avg60=0.50 avg300=0.10 total=1000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=900\n");
	put("sys/fs/cgroup/other/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	g.path = (char *)"/system.slice/db.service";
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "two samples"));
	goal_current_read(proc, sys, &sysg, 1000, &psi, 1000000, NULL, &c); /* the system's first sample */
	g.path = (char *)"/other";
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);

	/* 2 s later: the cgroup stalled 30 ms ("some", not "full"), the system 2 s, the other cgroup 0 */
	put("sys/fs/cgroup/system.slice/db.service/memory.pressure",
	    "some avg10=1.00 avg60=0.50 avg300=0.10 total=31000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=900\n");
	put("proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=7000000\n");
	g.path = (char *)"/system.slice/db.service";
	goal_current_read(proc, sys, &g, 1000, &psi, 3000000, NULL, &c);
	assert_true(c.known);
	assert_string_equal(c.unit, "us");
	assert_int_equal(c.value, 15000); /* 30 ms over 2 s: 15 ms per 1 s window */
	goal_current_read(proc, sys, &sysg, 1000, &psi, 3000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 1000000);
	g.path = (char *)"/other";
	goal_current_read(proc, sys, &g, 1000, &psi, 3000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 0);

	/* a cgroup without the file (gone, or no PSI) */
	g.path = (char *)"/nosuch";
	goal_current_read(proc, sys, &g, 1000, &psi, 3000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "memory.pressure"));

	/* more cgroups than samplers: the least recently read one starts over, the others keep theirs */
	for (int i = 0; i < GOAL_PSI_CGROUPS; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/c%d", i);
		assert_non_null(goal_psi_for(&psi, p, 4000000 + (uint64_t)i));
	}
	g.path = (char *)"/system.slice/db.service"; /* evicted: measuring again */
	goal_current_read(proc, sys, &g, 1000, &psi, 5000000, NULL, &c);
	assert_false(c.known);
	assert_true(goal_psi_for(&psi, NULL, 0) == &psi.sys);
	goal_psi_set_free(&psi);
}

/* damond's own metrics (issue 16 item 3): swap in use, a cgroup's usage against its limit, a user's file */
static void t_read_damond_own(void **state)
{
	struct goal_psi_set psi = {};
	struct goal_current c;
	struct damos_goal_cfg g = { .metric = DAMOS_GOAL_SWAP_USED_BP, .target_value = 5000 };
	char file[600];
	uint64_t a, b;

	assert_int_equal(goal_parse_meminfo_swap("MemTotal: 1 kB\nSwapTotal: 4000 kB\nSwapFree: 1000 kB\n", &a, &b), 0);
	assert_int_equal(a, 4000 * 1024);
	assert_int_equal(b, 1000 * 1024);
	assert_int_equal(goal_parse_meminfo_swap("MemTotal: 1 kB\n", &a, &b), -EINVAL);
	assert_int_equal(goal_parse_number("  1234\n", &a), 0);
	assert_int_equal(a, 1234);
	assert_int_equal(goal_parse_number("max\n", &a), -EINVAL);
	assert_int_equal(goal_parse_number("12x\n", &a), -EINVAL);
	assert_false(damos_goal_metric_is_kernel(DAMOS_GOAL_SWAP_USED_BP));
	assert_true(damos_goal_metric_is_kernel(DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP));
	assert_true(goal_current_measurable(DAMOS_GOAL_FILE));

	put("proc/meminfo", "MemTotal: 1000 kB\nSwapTotal: 4000 kB\nSwapFree: 1000 kB\n");
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 7500);
	assert_string_equal(c.unit, "bp");
	put("proc/meminfo", "MemTotal: 1000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n");
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "no swap"));

	g.metric = DAMOS_GOAL_MEMCG_USAGE_BP;
	g.path = (char *)"/work.slice/app";
	put("sys/fs/cgroup/work.slice/app/memory.current", "268435456\n");
	put("sys/fs/cgroup/work.slice/app/memory.max", "1073741824\n");
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 2500);
	put("sys/fs/cgroup/work.slice/app/memory.max", "max\n");
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known);
	assert_non_null(strstr(c.why, "unlimited"));

	g.metric = DAMOS_GOAL_FILE;
	snprintf(file, sizeof(file), "%s/proc/steer", root);
	g.path = file;
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_false(c.known); /* not written yet */
	put("proc/steer", "420\n");
	goal_current_read(proc, sys, &g, 1000, &psi, 1000000, NULL, &c);
	assert_true(c.known);
	assert_int_equal(c.value, 420);
	assert_string_equal(c.unit, "");
}

static int setup(void **state)
{
	if (!mkdtemp(root))
		return -1;
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse_psi),
		cmocka_unit_test(t_parse_node_meminfo),
		cmocka_unit_test(t_parse_numa_stat),
		cmocka_unit_test(t_parse_meminfo_lru),
		cmocka_unit_test(t_bp),
		cmocka_unit_test(t_psi_feed),
		cmocka_unit_test(t_read),
		cmocka_unit_test(t_eligible),
		cmocka_unit_test(t_eligible_pages),
		cmocka_unit_test(t_read_psi_cgroup),
		cmocka_unit_test(t_read_damond_own),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
