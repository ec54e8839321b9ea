/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/*
 * DAMON_STAT's two outputs (mm/damon/stat.c, 6.17+) computed from one
 * aggregation's regions, with the kernel's definitions, so that damond's users
 * keep them while damond holds DAMON (DAMON_STAT must be off for sysfs
 * kdamonds to start):
 *
 *  - estimated memory bandwidth, bytes/s: sum over regions of
 *    size * nr_accesses, times 1 s / aggregation interval;
 *  - memory idle time percentiles, ms: a region's idle time is (age + 1)
 *    aggregation intervals, negative ("hot for that long") when nr_accesses is
 *    not 0; regions sorted by it, percentile p is the idle time of the region
 *    in which the p-th percent of the bytes falls.
 *
 * Pure: no I/O; allocates only a table of the distinct idle times.
 */

#define DAMON_STAT_NR_PERCENTILES 101

struct damon_stat_result {
	uint64_t total_bytes;
	uint64_t aggr_interval_us;
	uint64_t estimated_memory_bandwidth; /* bytes per second */
	int64_t idle_ms_percentiles[DAMON_STAT_NR_PERCENTILES];
};

/* An empty result (total_bytes 0) for n == 0; -EINVAL for aggr_interval_us 0; -ENOMEM. */
int damon_stat_compute(const struct damon_snapshot *const *snaps, size_t nr_snaps, uint64_t addr_unit,
		       uint64_t aggr_interval_us, struct damon_stat_result *ret);
