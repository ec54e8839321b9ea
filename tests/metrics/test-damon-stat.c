/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DAMON_STAT's outputs from snapshots (lib/damon-stat.c), against values worked out by hand
 * with mm/damon/stat.c's definitions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "damon-stat.h"
#include "macro.h"

static const struct snapshot_region three[] = {
	{ .start = 0, .end = 4096, .nr_accesses = 0, .age = 9 },      /* idle 10 intervals */
	{ .start = 4096, .end = 12288, .nr_accesses = 2, .age = 4 },  /* hot for 5 intervals */
	{ .start = 12288, .end = 16384, .nr_accesses = 0, .age = 0 }, /* idle 1 interval */
};

static void t_three_regions(void **state)
{
	const struct damon_snapshot snap = { .nr_regions = 3, .regions = three };
	const struct damon_snapshot *s[] = { &snap };
	struct damon_stat_result r;

	assert_int_equal(damon_stat_compute(s, 1, 1, 100000, &r), 0);
	assert_int_equal(r.total_bytes, 16384);
	/* 8192 bytes x 2 accesses per 100 ms aggregation */
	assert_int_equal(r.estimated_memory_bandwidth, 163840);
	/* sorted: hot 5 (50 % of the bytes), idle 1 (to 75 %), idle 10 (to 100 %) */
	for (int p = 0; p <= 50; p++)
		assert_int_equal(r.idle_ms_percentiles[p], -500);
	for (int p = 51; p <= 75; p++)
		assert_int_equal(r.idle_ms_percentiles[p], 100);
	for (int p = 76; p <= 100; p++)
		assert_int_equal(r.idle_ms_percentiles[p], 1000);

	/* addr_unit scales sizes, hence the bandwidth, not the shares */
	assert_int_equal(damon_stat_compute(s, 1, 4, 100000, &r), 0);
	assert_int_equal(r.estimated_memory_bandwidth, 4 * 163840);
	assert_int_equal(r.idle_ms_percentiles[50], -500);
	assert_int_equal(r.idle_ms_percentiles[51], 100);
}

static void t_targets_merge(void **state)
{
	/* two targets of one kdamond count as one population, as the kernel's walk does */
	const struct damon_snapshot a = { .nr_regions = 1, .regions = &three[0] };
	const struct damon_snapshot b = { .nr_regions = 2, .regions = &three[1] };
	const struct damon_snapshot *s[] = { &a, NULL, &b };
	struct damon_stat_result r;

	assert_int_equal(damon_stat_compute(s, 3, 1, 200000, &r), 0);
	assert_int_equal(r.total_bytes, 16384);
	assert_int_equal(r.estimated_memory_bandwidth, 81920);
	assert_int_equal(r.idle_ms_percentiles[0], -1000);
	assert_int_equal(r.idle_ms_percentiles[100], 2000);
}

static void t_uneven_shares(void **state)
{
	/* 1 byte of 3 in each: percentile p takes the first region whose running share reaches it */
	const struct snapshot_region rs[] = {
		{ .start = 0, .end = 1, .age = 2 },
		{ .start = 1, .end = 2, .age = 0 },
		{ .start = 2, .end = 3, .age = 1 },
	};
	const struct damon_snapshot snap = { .nr_regions = 3, .regions = rs };
	const struct damon_snapshot *s[] = { &snap };
	struct damon_stat_result r;

	assert_int_equal(damon_stat_compute(s, 1, 1, 1000, &r), 0);
	/* shares 33, 66, 100 (integer division); idle 1, 2, 3 ms */
	assert_int_equal(r.idle_ms_percentiles[33], 1);
	assert_int_equal(r.idle_ms_percentiles[34], 2);
	assert_int_equal(r.idle_ms_percentiles[66], 2);
	assert_int_equal(r.idle_ms_percentiles[67], 3);
	assert_int_equal(r.estimated_memory_bandwidth, 0);
}

static void t_edges(void **state)
{
	const struct damon_snapshot snap = { .nr_regions = 3, .regions = three };
	const struct damon_snapshot *s[] = { &snap };
	struct damon_stat_result r;

	assert_int_equal(damon_stat_compute(s, 1, 1, 0, &r), -EINVAL);
	assert_int_equal(damon_stat_compute(s, 0, 1, 1000, &r), 0);
	assert_int_equal(r.total_bytes, 0);
}

struct ref_region {
	int64_t idle;
	uint64_t bytes;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref_region *x = a, *y = b;

	return (x->idle > y->idle) - (x->idle < y->idle);
}

/* The kernel's walk over every region sorted one by one: the reference the merged walk must equal. */
static void ref_percentiles(const struct snapshot_region *r, size_t n, uint64_t aggr_us, int64_t *out)
{
	struct ref_region *v = calloc(n, sizeof(*v));
	uint64_t total = 0, acc = 0;
	int next = 0;

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i].bytes = r[i].end - r[i].start;
		v[i].idle = r[i].nr_accesses ? -(int64_t)(r[i].age + 1) : (int64_t)(r[i].age + 1);
		total += v[i].bytes;
	}
	qsort(v, n, sizeof(*v), ref_cmp);
	for (size_t i = 0; i < n; i++) {
		acc += v[i].bytes;
		while (next < DAMON_STAT_NR_PERCENTILES && (uint64_t)next <= acc * 100 / total)
			out[next++] = v[i].idle * (int64_t)aggr_us / 1000;
	}
	free(v);
}

/* 20,000 regions with few distinct ages, 3,000 with all-distinct ones, and 20,000 in runs of 64 neighbours
 * sharing their idle time (as a snapshot of untouched memory): equal to the reference */
static void t_many_regions_match_reference(void **state)
{
	static const size_t sizes[] = { 20000, 3000, 20000 };

	srand(7);
	for (size_t c = 0; c < ARRAY_SIZE(sizes); c++) {
		size_t n = sizes[c];
		struct snapshot_region *r = calloc(n, sizeof(*r));
		struct damon_snapshot snap = { .nr_regions = n };
		const struct damon_snapshot *sp = &snap;
		struct damon_stat_result res;
		int64_t ref[DAMON_STAT_NR_PERCENTILES];
		uint64_t access = 0;

		assert_non_null(r);
		for (size_t i = 0; i < n; i++) {
			r[i].start = 0x100000000ULL + i * 0x10000;
			r[i].end = r[i].start + 4096 * (1 + (uint64_t)(rand() % 8));
			r[i].nr_accesses = rand() % 3 == 0 ? 1 + rand() % 19 : 0;
			r[i].age = c == 0 ? (unsigned)(rand() % 40) : (unsigned)i * 7;
			if (c == 2) {
				r[i].nr_accesses = i / 64 % 3 == 0 ? 4 : 0;
				r[i].age = (unsigned)(i / 64 % 30);
			}
			access += (r[i].end - r[i].start) * r[i].nr_accesses;
		}
		snap.regions = r;
		assert_int_equal(damon_stat_compute(&sp, 1, 1, 100000, &res), 0);
		assert_int_equal(res.estimated_memory_bandwidth, access * 10);
		ref_percentiles(r, n, 100000, ref);
		for (int p = 0; p < DAMON_STAT_NR_PERCENTILES; p++)
			assert_int_equal(res.idle_ms_percentiles[p], ref[p]);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_three_regions),
		cmocka_unit_test(t_targets_merge),
		cmocka_unit_test(t_uneven_shares),
		cmocka_unit_test(t_edges),
		cmocka_unit_test(t_many_regions_match_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
