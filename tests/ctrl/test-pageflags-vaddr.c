/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vaddr page-state oracle (pageflags_vmap_step(): /proc/PID/pagemap to
 * PFNs to /proc/kpageflags, issue 17) on fixture files, and with --live on
 * this process's own memory: a buffer half mlocked, read through
 * /proc/self/pagemap and /proc/kpageflags (read only). --live exits 77
 * (skipped) where that cannot work: not root, PFNs hidden, mlock refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl-charge.h"
#include "pageflags.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define PG 4096ULL
#define CH (2 * MiB)
#define PPC (CH / PG) /* pages per chunk */

#define F(b) PAGEFLAG_BIT(PAGEFLAG_##b)
#define LRU_ANON (F(LRU) | F(ANON) | F(SWAPBACKED) | F(MMAP))

static const uint64_t R1 = 0x10000000, R2 = 0x20000000;

struct fixture {
	char dir[64];
	int pm, kpf;
};

static void put_u64(int fd, uint64_t idx, uint64_t v)
{
	assert_int_equal(pwrite(fd, &v, sizeof(v), (off_t)(idx * sizeof(v))), (ssize_t)sizeof(v));
}

static void pm_set(struct fixture *f, uint64_t vaddr, uint64_t entry)
{
	put_u64(f->pm, vaddr / PG, entry);
}

/*
 * R1 = 4 chunks: [0] evictable anon (PFNs 0x1000..), [1] mlocked, [2] half
 * never touched, half swapped out, [3] one THP (head LRU, tails without LRU:
 * they inherit the head); R2 = 2 chunks: [0] a hugetlb page, [1] present
 * pages whose PFNs lie beyond the end of kpageflags.
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[96];
	uint64_t pfn;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pageflags-vaddr.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/pagemap", f->dir);
	f->pm = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	snprintf(path, sizeof(path), "%s/kpageflags", f->dir);
	f->kpf = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(f->pm >= 0 && f->kpf >= 0);

	for (uint64_t i = 0; i < PPC; i++) {
		/* chunk 0: evictable, PFNs in runs of 64 with holes (several kpageflags reads) */
		pfn = 0x1000 + i + i / 64;
		pm_set(f, R1 + i * PG, PAGEMAP_PRESENT | pfn);
		put_u64(f->kpf, pfn, LRU_ANON);
		/* chunk 1: mlocked, PFNs backwards (one read each) */
		pfn = 0x3000 - i;
		pm_set(f, R1 + CH + i * PG, PAGEMAP_PRESENT | pfn);
		put_u64(f->kpf, pfn, LRU_ANON | F(UNEVICTABLE) | F(MLOCKED));
		/* chunk 2: the first half never touched (0), the second swapped (type 1, offset i) */
		if (i >= PPC / 2)
			pm_set(f, R1 + 2 * CH + i * PG, PAGEMAP_SWAPPED | (i << 5) | 1);
		/* chunk 3: a THP at PFN 0x4000 */
		pfn = 0x4000 + i;
		pm_set(f, R1 + 3 * CH + i * PG, PAGEMAP_PRESENT | pfn);
		put_u64(f->kpf, pfn,
			i == 0 ? LRU_ANON | F(COMPOUND_HEAD) | F(THP) : F(ANON) | F(COMPOUND_TAIL) | F(THP));
		/* R2 chunk 0: a hugetlb page at PFN 0x5000 */
		pfn = 0x5000 + i;
		pm_set(f, R2 + i * PG, PAGEMAP_PRESENT | pfn);
		put_u64(f->kpf, pfn, (i == 0 ? F(COMPOUND_HEAD) : F(COMPOUND_TAIL)) | F(HUGE));
		/* R2 chunk 1: PFNs past the end of kpageflags (0x6000 is its last PFN) */
		pm_set(f, R2 + CH + i * PG, PAGEMAP_PRESENT | (0x7000 + i));
	}
	put_u64(f->kpf, 0x6000, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->pm);
	close(f->kpf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static const struct pageflags_range ranges[] = { { R1, R1 + 4 * CH }, { R2, R2 + 2 * CH } };

static void test_translate(void **state)
{
	struct fixture *f = *state;
	struct pageflags_map m = {};
	uint64_t s, e;

	assert_int_equal(pageflags_vmap_step(&m, ranges, 2, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 5), 1);
	assert_int_equal(m.generation, 1);
	assert_int_equal(m.scanned_us, 5);
	assert_int_equal(m.nr_chunks, 6);
	assert_int_equal(m.chunks[0].ok_pages, PPC); /* evictable */
	assert_int_equal(m.chunks[1].ok_pages, 0);   /* mlocked */
	assert_int_equal(m.chunks[2].ok_pages, PPC); /* none / swapped: madvise succeeds */
	assert_int_equal(m.chunks[3].ok_pages, PPC); /* THP: tails take the head's verdict */
	assert_int_equal(m.chunks[4].ok_pages, 0);   /* hugetlb */
	assert_int_equal(m.chunks[5].ok_pages, 0);   /* beyond kpageflags */
	for (size_t c = 0; c < 6; c++)
		assert_int_equal(m.chunks[c].nr_pages, PPC);
	assert_int_equal(m.total_bytes, 6 * CH);
	assert_int_equal(m.ok_bytes, 3 * CH);
	assert_int_equal(m.pass_pages, 6 * PPC);
	assert_false(pageflags_vmap_in_pass(&m));
	/* the segmented layout */
	pageflags_map_chunk_range(&m, 4, &s, &e);
	assert_int_equal(s, R2);
	assert_int_equal(e, R2 + CH);
	assert_int_equal(pageflags_map_chunk_of(&m, R1 + CH + 5), 1);
	assert_int_equal(pageflags_map_chunk_of(&m, R2 + CH), 5);
	assert_int_equal(pageflags_map_chunk_of(&m, R1 + 4 * CH), SIZE_MAX); /* between the ranges */
	/* the LRU class takes mlocked pages */
	assert_int_equal(pageflags_vmap_step(&m, ranges, 2, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_LRU, 0, 6), 1);
	assert_int_equal(m.generation, 2);
	assert_int_equal(m.chunks[1].ok_pages, PPC);
	assert_int_equal(m.chunks[4].ok_pages, 0);
	/* a physical scan of a segmented map is refused */
	assert_int_equal(pageflags_map_scan(&m, f->kpf, PAGEFLAGS_CLASS_LRU, 7), -EINVAL);
	pageflags_map_done(&m);
}

/* a bounded pass: the map keeps the last complete pass until the new one ends; the layout given mid-pass is ignored */
static void test_incremental(void **state)
{
	struct fixture *f = *state;
	struct pageflags_map m = {};
	const struct pageflags_range one[] = { { R1 + CH, R1 + 2 * CH } };
	unsigned steps = 0;
	int r;

	assert_int_equal(pageflags_vmap_step(&m, one, 1, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 1), 1);
	assert_int_equal(m.nr_chunks, 1);
	assert_int_equal(m.ok_bytes, 0);
	do {
		r = pageflags_vmap_step(&m, steps ? one : ranges, steps ? 1 : 2, CH, PG, f->pm, f->kpf,
					PAGEFLAGS_CLASS_EVICTABLE, 1000, 10 + steps);
		steps++;
		if (r == 0) {
			assert_true(pageflags_vmap_in_pass(&m));
			assert_int_equal(m.generation, 1); /* still the old pass */
			assert_int_equal(m.nr_chunks, 1);
		}
	} while (r == 0 && steps < 100);
	assert_int_equal(r, 1);
	assert_int_equal(steps, (6 * PPC + 999) / 1000);
	assert_int_equal(m.pass_steps, steps);
	assert_int_equal(m.pass_us, steps - 1);
	assert_int_equal(m.generation, 2);
	assert_int_equal(m.nr_chunks, 6); /* the layout the pass started with */
	assert_int_equal(m.ok_bytes, 3 * CH);
	pageflags_map_done(&m);
}

/* PFNs read as 0 (no CAP_SYS_ADMIN): the pass fails with -EPERM, the map keeps what it had */
static void test_pfn_hidden(void **state)
{
	struct fixture *f = *state;
	struct pageflags_map m = {};
	const struct pageflags_range one[] = { { R1, R1 + CH } };

	assert_int_equal(pageflags_vmap_step(&m, one, 1, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 1), 1);
	pm_set(f, R1 + 7 * PG, PAGEMAP_PRESENT); /* PFN 0 */
	assert_int_equal(pageflags_vmap_step(&m, one, 1, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 2),
			 -EPERM);
	assert_int_equal(m.last_error, -EPERM);
	assert_false(pageflags_vmap_in_pass(&m));
	assert_int_equal(m.generation, 1);
	assert_int_equal(m.ok_bytes, CH);
	pm_set(f, R1 + 7 * PG, PAGEMAP_PRESENT | (0x1000 + 7));
	/* bad layouts */
	assert_int_equal(pageflags_vmap_step(&m, NULL, 0, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 3),
			 -EINVAL);
	const struct pageflags_range unsorted[] = { { R2, R2 + CH }, { R1, R1 + CH } };
	assert_int_equal(pageflags_vmap_step(&m, unsorted, 2, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 3),
			 -EINVAL);
	assert_int_equal(m.generation, 1);
	pageflags_map_done(&m);
}

/* the planner over a segmented map: it rejects the mlocked and the hugetlb chunks, in virtual addresses */
static void test_plan_vaddr(void **state)
{
	struct fixture *f = *state;
	struct pageflags_map m = {};
	struct charge_params p;
	struct charge_state *s = calloc(1, sizeof(*s));
	struct damon_addr_range rej[CHARGE_MAX_FILTERS];
	uint64_t bad, ok;
	size_t n;

	assert_non_null(s);
	assert_int_equal(pageflags_vmap_step(&m, ranges, 2, CH, PG, f->pm, f->kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 5), 1);
	charge_params_default(&p, 32 * MiB, 1000000, 1, 4096);
	charge_init(s, &p, 0);
	n = charge_plan_reject(&p, s, &m, rej, CHARGE_MAX_FILTERS, &bad, &ok);
	assert_int_equal(n, 2);
	assert_int_equal(rej[0].start, R1 + CH);
	assert_int_equal(rej[0].end, R1 + 2 * CH);
	/* the hugetlb chunk and the one past kpageflags: one run across them (contiguous) */
	assert_int_equal(rej[1].start, R2);
	assert_int_equal(rej[1].end, R2 + 2 * CH);
	assert_int_equal(bad, 3 * CH);
	assert_int_equal(ok, 0);
	free(s);
	pageflags_map_done(&m);
}

/* ---- --live: this process's own memory ---------------------------------------------------------------- */

static int live_skip(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fprintf(stderr, "skipped: %s\n", why);
	return 77;
}

static int live(void)
{
	const size_t len = 8 * MiB;
	char *raw, *buf;
	int pm, kpf, r, fails = 0;
	struct pageflags_map m = {};
	struct pageflags_range rg;

	if (geteuid() != 0)
		return live_skip(
			"not root: /proc/kpageflags is root-only and pagemap hides PFNs without CAP_SYS_ADMIN");
	kpf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpf < 0)
		return live_skip("cannot open /proc/kpageflags");
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return live_skip("cannot open /proc/self/pagemap");
	raw = mmap(NULL, len + CH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return live_skip("mmap failed");
	buf = (char *)(((uintptr_t)raw + CH - 1) & ~(uintptr_t)(CH - 1));
	/* no THP: a PTE-mapped buffer exercises the page-by-page path; the second half mlocked */
	(void)madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 0x5a, len);
	/* the syscall: ASan's mlock() interceptor does nothing and returns 0 */
	if (syscall(SYS_mlock, buf + len / 2, len / 2) < 0)
		return live_skip("mlock refused (RLIMIT_MEMLOCK?)");
	/* the evictable half onto the LRU lists: mlock drained this CPU's batch; touch again for good measure */
	for (size_t i = 0; i < len; i += PG)
		buf[i]++;
	rg = (struct pageflags_range){ (uintptr_t)buf, (uintptr_t)buf + len };
	r = pageflags_vmap_step(&m, &rg, 1, CH, PG, pm, kpf, PAGEFLAGS_CLASS_EVICTABLE, 0, 1);
	if (r == -EPERM)
		return live_skip("PFNs read as 0 in /proc/self/pagemap (no CAP_SYS_ADMIN in this namespace)");
	printf("1..3\n");
	printf("%s 1 - pass published (%d)\n", r == 1 ? "ok" : "not ok", r);
	fails += r != 1;
	for (size_t c = 0; r == 1 && c < m.nr_chunks; c++)
		fprintf(stderr, "# chunk %zu: %u of %u pages ok\n", c, m.chunks[c].ok_pages, m.chunks[c].nr_pages);
	/* evictable half: nearly all ok (a few pages may sit in a per-CPU LRU batch, not yet on a list) */
	bool ok1 = r == 1 && m.nr_chunks == 4 && m.chunks[0].ok_pages + m.chunks[1].ok_pages >= 2 * PPC * 9 / 10;
	printf("%s 2 - the unlocked half is evictable\n", ok1 ? "ok" : "not ok");
	bool ok2 = r == 1 && m.nr_chunks == 4 && m.chunks[2].ok_pages == 0 && m.chunks[3].ok_pages == 0;
	printf("%s 3 - the mlocked half is not\n", ok2 ? "ok" : "not ok");
	fails += !ok1 + !ok2;
	pageflags_map_done(&m);
	syscall(SYS_munlock, buf + len / 2, len / 2);
	munmap(raw, len + CH);
	close(pm);
	close(kpf);
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_translate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pfn_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_vaddr, setup, teardown),
	};

	if (argc > 1 && strcmp(argv[1], "--live") == 0)
		return live();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
