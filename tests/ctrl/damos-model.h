/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A model of DAMOS quota charging on a paddr target, detailed enough to
 * reproduce the "quota eaten by failures" problem and to drive ctrl-charge:
 *  - pages with a class (free, kernel, mlocked, idle anon); pageout succeeds
 *    on idle anon only, which then becomes free; a region is charged whole;
 *  - DAMON regions (merge of idle neighbours up to total/min_nr_regions,
 *    random 10-90 % splits while nr <= max/2, age +1 per aggregation,
 *    weighted age on merge);
 *  - one pageout scheme, nr_accesses max 0, applied every aggregation: quota
 *    window of reset_interval, esz = committed sz recomputed only at rollover,
 *    quota cut + split, round-robin resume point, age reset of every tried
 *    region, pieces created by splits during a pass skipped in that pass;
 *  - optional cold-score prioritisation (age log2 buckets as damon_cold_score
 *    with a non-zero age weight; sysfs default weights are 0 = uniform score)
 *    and whether the score histogram skips core-filtered regions;
 *  - addr reject filters evaluated before charging (rejected memory is not
 *    tried, not charged, keeps its age);
 *  - commits take effect at the first aggregation boundary after a latency
 *    and (6.12) make that aggregation skip the scheme.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon.h"

enum model_page {
	MPG_FREE,
	MPG_KERNEL,
	MPG_MLOCKED,
	MPG_ANON,
};

struct model_region {
	uint64_t start, end;
	uint32_t age;
};

struct model_cfg {
	uint64_t mem_bytes;
	uint64_t page_sz;
	uint64_t aggr_us;
	unsigned min_nr_regions, max_nr_regions;
	uint64_t reset_interval_us;
	uint64_t quota_bytes; /* initial sz */
	bool age_weighted;
	bool hist_respects_filters;
	uint64_t commit_latency_us;
	bool commit_skips_apply;
	/* realise reject ranges as gaps in the monitoring target instead of
	 * addr filters (damon_set_regions on commit) */
	bool exclude_by_target;
	uint64_t seed;
};

#define MODEL_MAX_FILTERS 64

struct model {
	struct model_cfg cfg;
	uint8_t *pages;
	size_t nr_pages;
	struct model_region *regions;
	size_t nr_regions, cap_regions;
	uint64_t now_us;
	uint64_t next_apply_us;
	uint64_t rng;
	/* quota */
	uint64_t sz, esz, charged, charged_from;
	bool started, resume_set;
	uint64_t resume_addr;
	/* filters in force */
	struct damon_addr_range filters[MODEL_MAX_FILTERS];
	size_t nr_filters;
	/* pending commit */
	bool commit_pending;
	uint64_t commit_at_us;
	bool c_set_quota, c_set_filters;
	uint64_t c_sz;
	struct damon_addr_range c_filters[MODEL_MAX_FILTERS];
	size_t c_nr_filters;
	unsigned nr_commits;
	/* stats */
	uint64_t sz_tried, sz_applied, nr_tried, nr_applied, qt_exceeds;
	/* applied bytes of each closed window, and their start time */
	uint64_t *win_applied, *win_start_us;
	size_t nr_win, cap_win;
	uint64_t cur_win_applied;
};

int model_init(struct model *m, const struct model_cfg *cfg);
void model_free(struct model *m);
void model_set_pages(struct model *m, uint64_t start, uint64_t end, enum model_page t);
/* every n-th page of [start, end) (from the first) set to t */
void model_set_pages_every(struct model *m, uint64_t start, uint64_t end, unsigned n, enum model_page t);
uint64_t model_count(const struct model *m, enum model_page t);
/* advance to t_us, aggregation by aggregation */
void model_run_until(struct model *m, uint64_t t_us);
void model_commit(struct model *m, bool set_quota, uint64_t sz, bool set_filters,
		  const struct damon_addr_range *f, size_t nr);
/* write the pages as a /proc/kpageflags image (PFN 0 = address 0) */
int model_write_kpageflags(const struct model *m, int fd);
