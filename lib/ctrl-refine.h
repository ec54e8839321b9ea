/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctrl-refine: region refinement where the kernel stopped splitting.
 *
 * Kernels up to 7.2 split regions only while a context has at most
 * max_nr_regions/2 of them (kernel-damon.md §4.4). Above that, access
 * structure that appears inside an existing region stays invisible: the
 * region's nr_accesses only says what share of its samples hit (measured on
 * 6.12 and 7.2: a 4 MiB hot range inside a 21-45 MiB region shows as that
 * whole region at 1-7 of 20 samples, for good; docs/CONTROLLERS.md).
 *
 * On 6.12 and 7.2 a commit of a target's region list with an extra boundary
 * X inside region [s, e) truncates the region to [s, X) (keeping its values)
 * and creates a fresh [X, e) (§5.2). The boundary survives the next merge
 * only when the two pieces' access counts differ by more than the merge
 * threshold; so the controller splits where it expects the difference to be
 * largest:
 *
 *  - a region is a candidate when it is partly accessed (0 < nr_accesses <
 *    max_nr_accesses) and at least 2 x min_region_sz;
 *  - its hot share is estimated as f = nr_accesses / max_nr_accesses;
 *  - if a contiguous neighbour is more accessed than the region, the hot
 *    part is assumed to lie on that side: X = that edge -/+ f x size (the
 *    piece next to the hot neighbour is then mostly hot, the rest mostly
 *    cold); otherwise two cuts, in thirds (halves of a region with its hot
 *    part in the middle are equal and merge again: seen in CI on 6.12);
 *  - candidates are ranked by size x min(nr_accesses, max - nr_accesses)
 *    (bytes whose access state is uncertain); at most max_splits cuts are
 *    made per round, never more than the room left below max_nr_regions.
 *
 * Only when the kernel does not split by itself: every context region count
 * above max/2 (kernels 7.3+ keep splitting there; their commits also merge
 * committed boundaries, so the controller could not help). Rather than
 * guessing the kernel from a version, it measures its own effect: a round
 * whose boundaries all disappeared by the next snapshot doubles the wait
 * before the next round (up to REFINE_MAX_BACKOFF x interval); a round that
 * kept any resets it. A region split twice and seen again unchanged
 * (merged back both times: uniformly warm memory) is not split again for
 * REFINE_COOLDOWN_ROUNDS x interval. Twice, because one loss is often
 * timing: the new piece starts at 0 accesses part-way through a window, so
 * a hot piece cut off the right end of a region looks lukewarm in its first
 * window and can merge back (in the VM, 1 split in 4-5 was lost this way).
 *
 * The raise law (refine.raise, issue 15) cuts nothing itself: it lets the
 * kernel's own splitter run where it stopped. A round commits max_nr_regions
 * x 2 (the context's attributes only, the regions stay the kernel's); at its
 * next aggregation the kernel finds the count (at most max after the merge)
 * at or below the raised max/2 and splits every region in two at a random
 * point, as 7.3 splits some. Once every target shows a snapshot produced
 * after that commit (the kernel ran an aggregation end with the raised max),
 * the next tick commits the user's max again, and the first merge under it
 * (forced under max by doubling the merge threshold) keeps the boundaries
 * whose pieces differ most. The cost bound: between the raise and that merge,
 * a few aggregations (the tick that sees the snapshot, plus one or two) run
 * with up to 2 x max regions; at most one raise per interval. Each raise and
 * lower is a commit of the attributes (on 7.x the aggregation window
 * restarts, on 6.12 every commit restarts the schemes' apply intervals).
 *
 * Neither law commits on a kernel that splits above max/2 itself
 * (kernel_splits_above_half: 7.3+, known from the probe `weight` file of
 * the same release): its commits coalesce committed boundaries, and its
 * splitter already does what the raise law emulates. Verdict kernel-splits
 * there, and only there; below-half where the count is at or below max/2
 * on a kernel that stops splitting above it.
 *
 * A round is judged on snapshots produced at least settle_us (one
 * aggregation) after its commit, and no round uses a snapshot older than
 * max_age_us or runs before every target has one.
 *
 * Pure: no I/O, no logging, no allocation. The manager feeds the newest
 * snapshot of each target, applies decision.splits with one commit of the
 * targets' region lists, and reports back with refine_committed() /
 * refine_commit_failed().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon.h"
#include "snapshot.h"

#define REFINE_MAX_SPLITS 32       /* per round, all targets */
#define REFINE_MAX_TARGETS 16      /* targets per context the controller looks at */
#define REFINE_MAX_BACKOFF 16      /* longest wait, in intervals */
#define REFINE_COOLDOWN_ROUNDS 12  /* a merged-back region is left alone this many intervals */
#define REFINE_TRIED 64            /* split regions remembered for the cooldown */

struct refine_params {
	uint64_t interval_us;      /* between refinement commits */
	unsigned max_splits;       /* per round, <= REFINE_MAX_SPLITS */
	uint64_t min_region_sz;    /* smallest piece, in target address units (page) */
	uint32_t max_nr_accesses;  /* aggr_us / sample_us */
	uint64_t max_nr_regions;   /* the context's max */
	uint64_t settle_us;        /* a round is judged on a snapshot this much after its commit (aggr_us) */
	uint64_t max_age_us;       /* an older snapshot is not used for a round */
	bool raise;                /* the raise law instead of cuts */
	bool kernel_splits_above_half; /* 7.3+: no commits at all */
};

struct refine_split {
	unsigned target;           /* index in refine_obs.targets */
	uint64_t at;               /* new boundary, inside (start, end) of the region */
	uint64_t start, end;       /* the region it splits */
	uint32_t nr_accesses;
};

struct refine_try {
	unsigned target, tries;    /* tries of this very region (same bounds) */
	uint64_t start, end, until_us;
};

struct refine_state {
	uint64_t next_round_us;    /* no round before this */
	unsigned backoff;          /* current wait, in intervals (>= 1) */
	bool pending;              /* a round was committed, its effect not yet seen */
	uint64_t committed_us;
	struct refine_split last[REFINE_MAX_SPLITS];
	size_t nr_last;
	struct refine_try tried[REFINE_TRIED];
	bool raised;        /* the raise law committed max x 2, the lower is due */
	uint64_t raised_us; /* when that commit returned */
	/* for status */
	uint64_t rounds, splits, kept, lost, raises;
	size_t last_kept;
};

struct refine_target_obs {
	const struct snapshot_region *regions; /* address ordered; NULL/0: no snapshot yet */
	size_t nr_regions;
	uint64_t snapshot_us;      /* when the kernel produced it (CLOCK_MONOTONIC, as now_us) */
};

struct refine_obs {
	uint64_t now_us;
	size_t nr_targets;
	const struct refine_target_obs *targets;
};

enum refine_verdict {
	REFINE_WAIT,               /* interval or backoff not over, or no fresh snapshot */
	REFINE_KERNEL_SPLITS,      /* the kernel splits above max/2 by itself (7.3+): no commits */
	REFINE_NOTHING,            /* no partly accessed region worth splitting, or no room */
	REFINE_SPLIT,              /* splits[] to commit */
	REFINE_BELOW_HALF,         /* nr_regions <= max/2: this kernel splits every region at the next aggregation */
	REFINE_RAISE,              /* commit max_nr_regions = decision.max_nr_regions (the raise law) */
	REFINE_LOWER,              /* commit the user's max_nr_regions again */
	_REFINE_VERDICT_MAX,
	_REFINE_VERDICT_INVALID = -EINVAL,
};

const char *refine_verdict_to_string(enum refine_verdict v) _pure_;

struct refine_decision {
	enum refine_verdict verdict;
	size_t nr_splits;
	struct refine_split splits[REFINE_MAX_SPLITS]; /* ordered by (target, at) */
	uint64_t max_nr_regions;                       /* REFINE_RAISE: the raised max; otherwise 0 (the user's) */
	char reason[192];
};

/* A fresh state: call before the first refine_step() and to start over. */
void refine_init(struct refine_state *s);
void refine_step(const struct refine_params *p, struct refine_state *s, const struct refine_obs *o,
		 struct refine_decision *d);
void refine_committed(const struct refine_params *p, struct refine_state *s,
		      const struct refine_decision *d, uint64_t now_us);
void refine_commit_failed(const struct refine_params *p, struct refine_state *s, uint64_t now_us);
/* The commit met the DAMON sysfs lock held by another user: no back-off, a new round from the next tick's snapshot. */
void refine_commit_busy(struct refine_state *s, uint64_t now_us);

/*
 * The region list to commit for one target: every range of span (the
 * target's planned ranges: the policy's, minus any exclusion gaps; nr_span 0:
 * the snapshot's own regions, for targets whose regions the kernel chose)
 * cut at each snapshot region boundary inside it and at each of splits[]
 * that belongs to `target` (splits ordered by (target, at)). So the span is
 * exactly what the plan monitors and the kernel keeps its current regions'
 * values (kernel-damon.md §5.2). Returns the number of ranges written to
 * ret, or -ENOBUFS when more than max.
 */
int refine_layout(const struct snapshot_region *regions, size_t nr_regions, const struct damon_addr_range *span,
		  size_t nr_span, const struct refine_split *splits, size_t nr_splits, unsigned target,
		  struct damon_addr_range *ret, size_t max);
