/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "damon-stat.h"
#include "macro.h"

/* The bytes of every region with one idle time (aggregation intervals; negative: accessed). */
struct idle_bytes {
	int64_t idle;
	uint64_t bytes;
	bool used;
};

/*
 * Regions of equal idle time are summed into one entry of an open-addressing
 * table that grows with the number of distinct idle times, not of regions: a
 * snapshot has few distinct ages, so 20,000 regions cost a small table and a
 * sort of tens of entries. The percentile walk over the summed entries gives
 * the same result as the kernel's walk over the regions one by one. (Sorting
 * all regions took 2 ms a call on the host, and its 0.3 MiB buffer, mmap'd
 * and unmapped each call, cost 80 page faults: with metrics on, every stats
 * tick computes this.)
 */
struct idle_table {
	struct idle_bytes *v;
	size_t cap, n; /* cap: a power of two */
};

static size_t slot_of(int64_t idle, size_t cap)
{
	return (size_t)((uint64_t)idle * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);
}

static int table_grow(struct idle_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct idle_bytes *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t h;

		if (!t->v[i].used)
			continue;
		for (h = slot_of(t->v[i].idle, cap); v[h].used; h = (h + 1) & (cap - 1))
			;
		v[h] = t->v[i];
	}
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

/* bytes to idle's entry, added if new; its slot in *ret_h (valid until the next add) */
static int table_add(struct idle_table *t, int64_t idle, uint64_t bytes, size_t *ret_h)
{
	size_t h;

	if (2 * (t->n + 1) > t->cap && table_grow(t) < 0)
		return -ENOMEM;
	for (h = slot_of(idle, t->cap); t->v[h].used && t->v[h].idle != idle; h = (h + 1) & (t->cap - 1))
		;
	if (!t->v[h].used) {
		t->v[h] = (struct idle_bytes){ .idle = idle, .used = true };
		t->n++;
	}
	t->v[h].bytes += bytes;
	*ret_h = h;
	return 0;
}

static int64_t idle_intervals(const struct snapshot_region *r)
{
	int64_t v = (int64_t)r->age + 1;

	return r->nr_accesses ? -v : v;
}

static int cmp_idle(const void *a, const void *b)
{
	const struct idle_bytes *x = a, *y = b;

	return (x->idle > y->idle) - (x->idle < y->idle);
}

int damon_stat_compute(const struct damon_snapshot *const *snaps, size_t nr_snaps, uint64_t addr_unit,
		       uint64_t aggr_interval_us, struct damon_stat_result *ret)
{
	struct idle_table t = {};
	unsigned __int128 access = 0;
	uint64_t total = 0, accounted = 0;
	size_t k = 0, last_h = 0;
	int64_t last_idle = 0;
	int next = 0;

	if (!aggr_interval_us)
		return -EINVAL;
	addr_unit = MAX(addr_unit, 1ULL);
	*ret = (struct damon_stat_result){ .aggr_interval_us = aggr_interval_us };
	for (size_t s = 0; s < nr_snaps; s++)
		for (size_t i = 0; snaps[s] && i < snaps[s]->nr_regions; i++) {
			const struct snapshot_region *r = &snaps[s]->regions[i];
			uint64_t bytes = (r->end - r->start) * addr_unit;
			int64_t idle = idle_intervals(r);

			/* neighbours mostly share their idle time (equal ages): no hash for a run of them */
			if (t.n && idle == last_idle)
				t.v[last_h].bytes += bytes;
			else if (table_add(&t, idle, bytes, &last_h) < 0) {
				free(t.v);
				return -ENOMEM;
			}
			last_idle = idle;
			if (r->nr_accesses)
				access += (unsigned __int128)bytes * r->nr_accesses;
			total += bytes;
		}
	ret->total_bytes = total;
	access = access * 1000000 / aggr_interval_us;
	ret->estimated_memory_bandwidth = access > UINT64_MAX ? UINT64_MAX : (uint64_t)access;
	if (total == 0) {
		free(t.v);
		return 0;
	}
	/* the used entries to the front, sorted by idle time */
	for (size_t i = 0; i < t.cap; i++)
		if (t.v[i].used)
			t.v[k++] = t.v[i];
	qsort(t.v, k, sizeof(*t.v), cmp_idle);
	/* the kernel's walk: every percentile up to the share of bytes accounted so far */
	for (size_t i = 0; i < k; i++) {
		accounted += t.v[i].bytes;
		while (next < DAMON_STAT_NR_PERCENTILES &&
		       (uint64_t)next <= (uint64_t)((unsigned __int128)accounted * 100 / total))
			ret->idle_ms_percentiles[next++] = t.v[i].idle * (int64_t)aggr_interval_us / 1000;
	}
	free(t.v);
	return 0;
}
