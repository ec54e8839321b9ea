/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "damon.h"

/*
 * The current value of a DAMOS quota goal, as the kernel measures it
 * (mm/damon/core.c damos_set_quota_goal_current_value; ../shared/docs/kernel-damon.md
 * section 3.5). The kernel never writes the value it measured back to sysfs,
 * so damond measures the same quantity from /proc and /sys to show current
 * against target.
 *
 * The parsers and the arithmetic are pure (tests feed them text); goal_current_read()
 * is the only part that opens files, under the given roots.
 */

struct goal_current {
	bool known;
	uint64_t value;   /* in the metric's unit (unit below) */
	const char *unit; /* "bp" (1/10000), "us", or "" for user_input */
	const char *why;  /* when !known: a static reason */
};

/*
 * node_eligible_mem_bp, the kernel's way (7.2, paddr only): the bytes of the
 * regions that match the scheme's access pattern and lie on node nid, over
 * the bytes of all the regions that match it. The kernel walks the folios of
 * the eligible regions at each evaluation; damond has each region's access
 * pattern from its monitor's last aggregation (lib/snapshot.h) and each
 * node's physical ranges (lib/numa.h), and intersects them. The caller
 * gathers those (the daemon: daemon/goal-eligible.c) into this observation.
 */
struct goal_eligible_obs {
	bool known;
	uint64_t node_bytes;  /* eligible and on node nid (in core address units, as the regions) */
	uint64_t all_bytes;   /* eligible */
	const char *why;      /* when !known: a static reason */
	bool pages;           /* only LRU pages counted (struct goal_lru_cache below), else whole regions */
	uint32_t read_permil; /* pages: the share of the span's blocks read at least once */
	uint64_t pass_pages;  /* pages: the span, read in a pass of refreshes */
};

struct snapshot_region;

/* Does a region of sz bytes (core units) with nr_accesses and age match scheme s's access pattern, the
 * kernel's inclusive bounds (__damos_valid_target)? */
bool goal_region_eligible(const struct damos_cfg *s, uint64_t sz, uint32_t nr_accesses, uint32_t age);

/*
 * What the kernel's walk counts: damos_calc_eligible_bytes() adds a folio only
 * when damon_get_folio() finds it, that is when it is on an LRU list. Free
 * pages, slab, page tables, hugetlb folios and reserved memory inside an
 * eligible region count for no node. damond reads the same fact per page from
 * /proc/kpageflags (the LRU bit; the kernel reports a large folio's flags on
 * each of its pages).
 *
 * Reading the flags costs 8 bytes and a kernel lookup per page (about 130 ns
 * on a virtualised x86 host: 35 ms per GiB), too much to read all eligible
 * memory every second on a big machine. So the count per block of
 * GOAL_LRU_BLOCK pages is kept, and each refresh reads at most `budget` pages
 * of blocks, round robin over the physical span: a static layout is counted
 * exactly, a changing one lags by one pass (span / budget refreshes). A piece
 * of a region takes its blocks' counts pro rata; blocks never read yet take
 * the mean of the read ones.
 */
#define GOAL_LRU_BLOCK 128
#define GOAL_LRU_UNREAD 0xff
struct goal_lru_cache {
	uint64_t page_sz;
	uint64_t first_pfn; /* block 0's first page */
	size_t nr_blocks;
	uint8_t *lru;        /* LRU pages of each block, GOAL_LRU_UNREAD: not read yet */
	size_t next;         /* the next block a refresh reads */
	size_t nr_read;      /* blocks read at least once */
	uint64_t read_lru;   /* their LRU pages (the mean for the unread ones) */
	uint64_t read_pages; /* pages read, all refreshes */
	uint64_t passes;     /* complete passes over the span */
	int err;             /* the last refresh's read error (a negative errno), else 0 */
};

/* Make c cover [lo, hi) (physical bytes) as well as what it covered (the counts read are kept), then read the
 * flags of up to budget pages (0: all), round robin. 0 or a negative errno (then c->err; the counts read
 * before stay). */
int goal_lru_refresh(struct goal_lru_cache *c, int fd, uint64_t lo, uint64_t hi, uint64_t page_sz, uint64_t budget);
void goal_lru_cache_done(struct goal_lru_cache *c);
/* The LRU bytes of [a, b) (physical bytes) as c counts them. Pure. */
uint64_t goal_lru_bytes(const struct goal_lru_cache *c, uint64_t a, uint64_t b) _pure_;

/* Adds to *node_bytes and *all_bytes the eligible bytes of n address-ordered regions, the part of them inside
 * node's nn ranges (sorted, not overlapping) and the whole. lru NULL: whole regions; else only their LRU pages
 * as lru counts them (in core units still: addr_unit bytes per unit, rounded down). Pure. */
void goal_eligible_add(const struct damos_cfg *s, const struct snapshot_region *r, size_t n,
		       const struct damon_addr_range *node, size_t nn, const struct goal_lru_cache *lru,
		       uint64_t addr_unit, uint64_t *node_bytes, uint64_t *all_bytes);

/* PSI "some" memory stall: the kernel's value is the stall time since its previous
 * evaluation (one quota reset interval). damond keeps the last total it read and
 * scales the delta to the goal's window. */
struct goal_psi {
	bool have;
	uint64_t total_us; /* some total= at t_us */
	uint64_t t_us;
	bool have_rate;
	double us_per_s; /* stall per second over the last sampling period */
};

/* The PSI samplers of a daemon: the system's (/proc/pressure/memory) and one per cgroup a
 * some_mem_psi_us goal names with path/unit (<cgroup>/memory.pressure, damond's: no kernel has it).
 * At most GOAL_PSI_CGROUPS cgroups; past that the least recently read one starts over. */
#define GOAL_PSI_CGROUPS 16
struct goal_psi_set {
	struct goal_psi sys;
	struct {
		char *path; /* NULL: free slot */
		uint64_t used_us;
		struct goal_psi p;
	} cg[GOAL_PSI_CGROUPS];
};
/* The sampler of cgroup path (NULL: the system's), created on first use; NULL on ENOMEM. */
struct goal_psi *goal_psi_for(struct goal_psi_set *s, const char *path, uint64_t now_us);
void goal_psi_set_free(struct goal_psi_set *s);

/* "some avg10=... total=N" -> N (µs). -EINVAL when absent. */
int goal_parse_psi_some_total(const char *text, uint64_t *ret_total_us);
/* /sys/devices/system/node/nodeN/meminfo: "Node N MemTotal: X kB", "MemFree". Bytes. */
int goal_parse_node_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_free);
/* memory.numa_stat: active/inactive anon/file on node nid (bytes, summed). */
int goal_parse_numa_stat_lru(const char *text, int nid, uint64_t *ret_bytes);
/* /proc/meminfo "Active:" and "Inactive:" (bytes). */
int goal_parse_meminfo_lru(const char *text, uint64_t *ret_active, uint64_t *ret_inactive);

/* /proc/meminfo "SwapTotal:" and "SwapFree:" (bytes). */
int goal_parse_meminfo_swap(const char *text, uint64_t *ret_total, uint64_t *ret_free);
/* The first unsigned integer of text (what a user program writes into a 'file' goal's file). */
int goal_parse_number(const char *text, uint64_t *ret);

/* value * 10000 / total, without overflow; 0 when total is 0 */
uint64_t goal_bp(uint64_t value, uint64_t total);

/* Feed a PSI total read at now_us; the rate updates when at least min_period_us passed. */
void goal_psi_feed(struct goal_psi *p, uint64_t total_us, uint64_t now_us, uint64_t min_period_us);

/*
 * Measure goal g's current value. procfs_root is /proc (or a test's), sys_root /sys
 * (node meminfo under devices/system/node, the cgroup2 mount under fs/cgroup).
 * psis are the daemon's PSI samplers (fed here: the system's, or the goal's cgroup's when a
 * some_mem_psi_us goal has a path), now_us a monotonic clock. eligible: the goal's eligible bytes when it is
 * node_eligible_mem_bp (NULL: no region observation, the value is unknown).
 */
void goal_current_read(const char *procfs_root, const char *sys_root, const struct damos_goal_cfg *g,
		       uint64_t reset_interval_ms, struct goal_psi_set *psis, uint64_t now_us,
		       const struct goal_eligible_obs *eligible, struct goal_current *ret);

/* damond can measure metric m the way the kernel does (every metric: node_eligible_mem_bp from the regions of
 * its monitor, unknown while it has none). */
bool goal_current_measurable(enum damos_goal_metric m);

/* The goal's score the way the kernel computes it: current * 10000 / target (10000 = met). */
uint64_t goal_score_bp(uint64_t current, uint64_t target);
