/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "damon-stat.h"
#include "macro.h"

struct idle_region {
	int64_t idle; /* aggregation intervals; negative: accessed */
	uint64_t bytes;
};

static int64_t idle_intervals(const struct snapshot_region *r)
{
	int64_t v = (int64_t)r->age + 1;

	return r->nr_accesses ? -v : v;
}

/*
 * Regions of equal idle time merged into one entry (their bytes summed): the
 * percentile walk gives the same result, and a snapshot has few distinct ages,
 * so the sort is over tens of entries instead of 20,000 regions (2 ms a status
 * on the host, tens of ms under QEMU's emulation). An open-addressing table of
 * 2n slots maps an idle time to its entry; returns the number of entries.
 */
static size_t merge_equal(struct idle_region *v, size_t n)
{
	size_t cap = 1, m = 0;
	uint32_t *slot; /* entry index + 1; 0: empty */

	while (cap < 2 * n)
		cap <<= 1;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return n; /* unmerged: the sort still gives the right answer */
	for (size_t i = 0; i < n; i++) {
		size_t h = (size_t)((uint64_t)v[i].idle * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);

		while (slot[h] && v[slot[h] - 1].idle != v[i].idle)
			h = (h + 1) & (cap - 1);
		if (slot[h]) {
			v[slot[h] - 1].bytes += v[i].bytes;
			continue;
		}
		v[m] = v[i];
		slot[h] = (uint32_t)++m;
	}
	free(slot);
	return m;
}

static int cmp_idle(const void *a, const void *b)
{
	const struct idle_region *x = a, *y = b;

	return (x->idle > y->idle) - (x->idle < y->idle);
}

int damon_stat_compute(const struct damon_snapshot *const *snaps, size_t nr_snaps, uint64_t addr_unit,
		       uint64_t aggr_interval_us, struct damon_stat_result *ret)
{
	struct idle_region *v;
	size_t n = 0, k = 0;
	unsigned __int128 access = 0;
	uint64_t total = 0, accounted = 0;
	int next = 0;

	if (!aggr_interval_us)
		return -EINVAL;
	addr_unit = MAX(addr_unit, 1ULL);
	*ret = (struct damon_stat_result){ .aggr_interval_us = aggr_interval_us };
	for (size_t s = 0; s < nr_snaps; s++)
		n += snaps[s] ? snaps[s]->nr_regions : 0;
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t s = 0; s < nr_snaps; s++)
		for (size_t i = 0; snaps[s] && i < snaps[s]->nr_regions; i++) {
			const struct snapshot_region *r = &snaps[s]->regions[i];

			v[k].bytes = (r->end - r->start) * addr_unit;
			v[k].idle = idle_intervals(r);
			access += (unsigned __int128)v[k].bytes * r->nr_accesses;
			total += v[k].bytes;
			k++;
		}
	ret->total_bytes = total;
	access = access * 1000000 / aggr_interval_us;
	ret->estimated_memory_bandwidth = access > UINT64_MAX ? UINT64_MAX : (uint64_t)access;
	if (total == 0) {
		free(v);
		return 0;
	}
	if (n <= UINT32_MAX - 1)
		n = merge_equal(v, n);
	qsort(v, n, sizeof(*v), cmp_idle);
	/* the kernel's walk: every percentile up to the share of bytes accounted so far */
	for (size_t i = 0; i < n; i++) {
		accounted += v[i].bytes;
		while (next < DAMON_STAT_NR_PERCENTILES &&
		       (uint64_t)next <= (uint64_t)((unsigned __int128)accounted * 100 / total))
			ret->idle_ms_percentiles[next++] = v[i].idle * (int64_t)aggr_interval_us / 1000;
	}
	free(v);
	return 0;
}
