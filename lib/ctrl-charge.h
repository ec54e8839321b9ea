/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctrl-charge: emulation of the DAMOS failed-region quota charge ratio
 * (quotas/fail_charge_num/denom, native since 7.2) on kernels without it.
 *
 * Contract (the native semantics): over each quota window, applied bytes +
 * failed bytes x NUM/DENOM stay within the user's size quota Q, while the
 * scheme keeps applying close to Q as long as there is memory on which the
 * action succeeds.
 *
 * The kernel lets damond change only the quota it enforces (K, the scheme's
 * quotas/bytes; in force from the next window rollover after a commit) and
 * the scheme's filters (in force at the commit). The controller therefore
 * has two modes:
 *
 *  - EXCLUDE (a page-state oracle exists: paddr + pageout/lru_(de)prio and a
 *    readable /proc/kpageflags): memory on which the action would fail is
 *    taken away from the scheme, so it is neither tried nor charged; K stays
 *    at Q (or below, approximating the native charge of failures at
 *    NUM/DENOM). Applied bytes can never exceed Q in any window. The manager
 *    realises reject[] as GAPS IN THE paddr MONITORING TARGET, not as addr
 *    reject filters (docs/CONTROLLERS.md: those starve the memory behind each
 *    excluded range on 6.12, because a region starting inside a filter is
 *    cut at the filter end and the remainder is skipped for that pass, then
 *    merged back at the next aggregation).
 *  - FALLBACK (no oracle: vaddr, migrate, stat, kpageflags unreadable): K is
 *    raised by the *lowest* failure share observed over recent windows,
 *    capped; with clustered failures this is ~Q (no gain), with a stationary
 *    mix it approaches Q; a window overshooting (1 + margin) Q drops K back
 *    to Q at once.
 *  - OFF: NUM/DENOM disabled (denom 0) or >= 1: K = Q, no filters.
 *
 * The controller is a pure function of (params, state, observation, now):
 * no I/O, no logging, no allocation in charge_step(). The manager feeds it
 * stats (cumulative counters) every poll and applies the decision in one
 * place: when set_filters, it replaces the exclusion it installed before by
 * reject[0..nr_reject) (target regions = the user's ranges minus
 * reject[]); when set_quota, it
 * writes quotas/bytes; then one `commit`.
 * The manager must report back through charge_committed() once the commit
 * went through (or charge_commit_failed()).
 *
 * Address units: reject[] and the map are physical bytes. EXCLUDE needs
 * addr_unit 1 (the manager gives a context with another addr_unit no
 * oracle, so it runs FALLBACK).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon.h"
#include "pageflags.h"

#define CHARGE_MAX_FILTERS 32 /* hard cap on reject ranges per scheme */
#define CHARGE_MAX_RUNS 256   /* scratch runs while planning */
#define CHARGE_FHIST 32       /* failure-share samples remembered */

enum charge_mode {
	CHARGE_MODE_OFF,
	CHARGE_MODE_EXCLUDE,
	CHARGE_MODE_FALLBACK,
	_CHARGE_MODE_MAX,
};

struct charge_params {
	uint64_t quota_bytes;            /* Q: the user's size quota */
	uint64_t reset_interval_us;      /* the scheme's charge window */
	uint32_t num, denom;             /* failed-byte charge ratio; denom 0 = off */
	uint64_t min_commit_interval_us; /* between ordinary commits (6.12: >= 5 s) */
	uint64_t emergency_commit_interval_us; /* between safety commits (K down) */
	uint64_t min_region_sz;          /* kernel min_region_sz (page) */
	unsigned max_filters;            /* reject ranges damond may install, <= CHARGE_MAX_FILTERS */
	uint32_t exclude_below_permil;   /* chunk excluded when its ok share is below this */
	uint32_t include_above_permil;   /* excluded chunk re-included at/above this (hysteresis) */
	uint64_t replan_min_bytes;       /* smallest map change worth a commit; 0 = Q */
	uint32_t urgent_gain_factor;     /* change >= this x replan_min_bytes may commit
					  * after emergency_commit_interval_us (0 = never) */
	uint32_t margin_permil;          /* tolerated overshoot of Q per window (100 = 10 %) */
	uint32_t fallback_fcap_permil;   /* FALLBACK: largest failure share credited */
	unsigned fallback_history;       /* FALLBACK: samples in the f_min window (<= CHARGE_FHIST) */
	uint32_t deadband_permil;        /* K changes smaller than this are not committed */
	uint32_t residual_fcap_permil;   /* EXCLUDE: largest residual failure share credited in K (0: none) */
	unsigned residual_history;       /* EXCLUDE: closed periods in its f_min window (<= CHARGE_FHIST) */
};

/* Defaults for a user quota (bytes per reset interval). */
void charge_params_default(struct charge_params *p, uint64_t quota_bytes, uint64_t reset_interval_us,
			   uint32_t num, uint32_t denom);

struct charge_obs {
	uint64_t now_us;
	/* cumulative scheme stats (stats/ files or damos_stat_after_apply_interval) */
	uint64_t sz_tried, sz_applied, nr_tried, nr_applied, qt_exceeds;
	uint64_t kernel_quota_bytes;        /* K in force as far as the manager knows */
	const struct pageflags_map *map;    /* NULL when no oracle */
};

struct charge_run {
	uint64_t start, end;
	uint64_t bad, ok;   /* bytes inside the run */
	uint64_t gap_ok;    /* ok bytes between the previous run and this one */
};

struct charge_state {
	enum charge_mode mode;
	uint64_t kernel_quota;      /* K damond asked for last */
	/* reject ranges damond asked for last (sorted, disjoint) */
	struct damon_addr_range reject[CHARGE_MAX_FILTERS];
	size_t nr_reject;
	uint64_t excluded_bytes; /* size of reject[] */
	uint64_t map_generation; /* last map planned and settled (committed, or nothing to do) */
	unsigned nr_deferred;    /* steps that had a commit to make and waited for the pace */

	bool commit_pending;
	uint64_t last_commit_us;    /* last commit asked for (0 = never) */
	unsigned nr_commits;

	/* observation bookkeeping */
	bool have_prev;
	uint64_t prev_us, prev_tried, prev_applied;
	uint64_t acc_us, acc_tried, acc_applied;
	uint32_t fhist[CHARGE_FHIST]; /* failure share per closed period, permil */
	unsigned nr_fhist, fhist_pos;
	uint32_t fail_share_permil;   /* last closed period */
	uint64_t applied_per_window;  /* last closed period, normalised to one window */

	struct charge_run scratch[CHARGE_MAX_RUNS];
};

struct charge_decision {
	bool set_quota;
	uint64_t quota_bytes;
	bool set_filters;
	struct damon_addr_range reject[CHARGE_MAX_FILTERS];
	size_t nr_reject;
	char reason[192];
};

void charge_init(struct charge_state *s, const struct charge_params *p, uint64_t now_us);
void charge_step(const struct charge_params *p, struct charge_state *s, const struct charge_obs *o,
		 struct charge_decision *ret);
/* The manager reports the outcome of the commit carrying the last decision. */
void charge_committed(struct charge_state *s, uint64_t now_us);
void charge_commit_failed(struct charge_state *s, uint64_t now_us);

/*
 * Plan reject ranges from a map (exposed for tests). cur/nr_cur: ranges in
 * force (for hysteresis). Writes at most max ranges to ret (sorted) and
 * returns their number; *ret_bad_hidden/ret_ok_hidden: failing/ok bytes
 * inside them.
 */
size_t charge_plan_reject(const struct charge_params *p, struct charge_state *s,
			  const struct pageflags_map *m, struct damon_addr_range *ret, size_t max,
			  uint64_t *ret_bad_hidden, uint64_t *ret_ok_hidden);
