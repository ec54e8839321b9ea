/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ctrl-refine.h"
#include "macro.h"
#include "string-table.h"

static const char *const refine_verdict_table[_REFINE_VERDICT_MAX] = {
	[REFINE_WAIT] = "wait",   [REFINE_KERNEL_SPLITS] = "kernel-splits", [REFINE_NOTHING] = "nothing-to-split",
	[REFINE_SPLIT] = "split", [REFINE_BELOW_HALF] = "below-half",       [REFINE_RAISE] = "raise",
	[REFINE_LOWER] = "lower",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(refine_verdict, enum refine_verdict);

void refine_init(struct refine_state *s)
{
	memset(s, 0, sizeof(*s));
	s->backoff = 1;
}

static bool is_boundary(const struct refine_target_obs *t, uint64_t at)
{
	size_t lo = 0, hi = t->nr_regions;

	/* regions are address ordered: binary search for the one starting at `at` */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->regions[mid].start < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nr_regions && t->regions[lo].start == at && lo > 0 && t->regions[lo - 1].end == at;
}

/* the recent try of this very region (same target and bounds), or NULL */
static struct refine_try *recent_try(struct refine_state *s, unsigned target, uint64_t start, uint64_t end,
				     uint64_t now)
{
	for (size_t i = 0; i < REFINE_TRIED; i++)
		if (s->tried[i].until_us > now && s->tried[i].target == target && s->tried[i].start == start &&
		    s->tried[i].end == end)
			return &s->tried[i];
	return NULL;
}

static bool cooling(struct refine_state *s, unsigned target, const struct snapshot_region *r, uint64_t now)
{
	const struct refine_try *t = recent_try(s, target, r->start, r->end, now);

	return t && t->tries >= 2;
}

/*
 * Where to cut region i of t (at most 2 cuts, into at[]; returns how many):
 * next to a more accessed neighbour, at the estimated hot share; otherwise
 * in thirds when max_cuts allows (a hot range in the middle of a region cut
 * in halves gives two equal pieces, which merge again), else in half.
 */
static size_t split_points(const struct refine_params *p, const struct refine_target_obs *t, size_t i,
			   size_t max_cuts, uint64_t at[2])
{
	const struct snapshot_region *r = &t->regions[i];
	uint64_t sz = r->end - r->start, msz = p->min_region_sz, hot;
	bool has_l = i > 0 && t->regions[i - 1].end == r->start;
	bool has_r = i + 1 < t->nr_regions && t->regions[i + 1].start == r->end;
	uint32_t la = has_l ? t->regions[i - 1].nr_accesses : 0, ra = has_r ? t->regions[i + 1].nr_accesses : 0;
	size_t n = 1;

	hot = (uint64_t)((double)sz * r->nr_accesses / p->max_nr_accesses);
	if (has_r && ra > r->nr_accesses && (!has_l || ra >= la))
		at[0] = r->end - hot;
	else if (has_l && la > r->nr_accesses)
		at[0] = r->start + hot;
	else if (max_cuts >= 2 && sz >= 3 * msz) {
		at[0] = r->start + sz / 3;
		at[1] = r->start + sz / 3 * 2;
		n = 2;
	} else
		at[0] = r->start + sz / 2;
	for (size_t c = 0; c < n; c++) {
		at[c] -= at[c] % msz;
		at[c] = CLAMP(at[c], r->start + msz, r->end - msz);
	}
	if (n == 2 && at[1] <= at[0])
		n = 1;
	return n;
}

/* uncertain bytes: the region's size times how far its count is from both 0 and the maximum */
static double score(const struct refine_params *p, const struct snapshot_region *r)
{
	return (double)(r->end - r->start) * MIN(r->nr_accesses, p->max_nr_accesses - r->nr_accesses);
}

static int cmp_split(const void *a, const void *b)
{
	const struct refine_split *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* The previous round's boundaries: how many are still there. */
static void evaluate(const struct refine_params *p, struct refine_state *s, const struct refine_obs *o)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nr_last; i++)
		kept += s->last[i].target < o->nr_targets && is_boundary(&o->targets[s->last[i].target], s->last[i].at);
	s->last_kept = kept;
	s->kept += kept;
	s->lost += s->nr_last - kept;
	s->pending = false;
	s->backoff = kept ? 1 : MIN(s->backoff * 2, (unsigned)REFINE_MAX_BACKOFF);
	s->next_round_us = s->committed_us + s->backoff * p->interval_us;
}

void refine_step(const struct refine_params *p, struct refine_state *s, const struct refine_obs *o,
		 struct refine_decision *d)
{
	struct {
		unsigned target;
		size_t idx;
		double score;
	} cand[REFINE_MAX_SPLITS];
	size_t n = 0, room, k, nc = 0, nr_cut = 0;

	memset(d, 0, sizeof(*d));
	d->verdict = REFINE_WAIT;
	if (s->raised) {
		bool seen = o->nr_targets > 0;

		/* lower once the kernel ran an aggregation end (merge, then the split) with the raised max */
		for (size_t t = 0; t < o->nr_targets; t++)
			seen &= o->targets[t].nr_regions && o->targets[t].snapshot_us > s->raised_us;
		if (!seen && o->now_us < s->raised_us + p->max_age_us) {
			snprintf(d->reason, sizeof(d->reason),
				 "max_nr_regions raised to %" PRIu64 ": waiting for the aggregation that splits",
				 2 * p->max_nr_regions);
			return;
		}
		d->verdict = REFINE_LOWER;
		snprintf(d->reason, sizeof(d->reason), "max_nr_regions back to %" PRIu64 " after %s", p->max_nr_regions,
			 seen ? "an aggregation with the raised max" : "no snapshot within max_age");
		return;
	}
	if (p->kernel_splits_above_half) {
		d->verdict = REFINE_KERNEL_SPLITS;
		snprintf(d->reason, sizeof(d->reason),
			 "the kernel splits regions above max_nr_regions/2 itself (7.3+): no refinement commits");
		return;
	}
	for (size_t t = 0; t < o->nr_targets; t++) {
		if (!o->targets[t].nr_regions) {
			snprintf(d->reason, sizeof(d->reason), "no region snapshot of target %zu yet", t);
			return;
		}
		n += o->targets[t].nr_regions;
	}
	if (!n) {
		snprintf(d->reason, sizeof(d->reason), "no region snapshot yet");
		return;
	}
	if (s->pending) {
		/* judge the last round on an aggregation that ran entirely after it, merge included */
		for (size_t t = 0; t < o->nr_targets; t++)
			if (o->targets[t].snapshot_us < s->committed_us + p->settle_us) {
				snprintf(d->reason, sizeof(d->reason),
					 "waiting for a snapshot one aggregation after the last refinement commit");
				return;
			}
		evaluate(p, s, o);
	}
	if (o->now_us < s->next_round_us) {
		snprintf(d->reason, sizeof(d->reason), "next round in %.1f s (wait %u x interval: %zu of %zu boundaries kept last round)",
			 (double)(s->next_round_us - o->now_us) / 1e6, s->backoff, s->last_kept, s->nr_last);
		return;
	}
	for (size_t t = 0; t < o->nr_targets; t++)
		if (o->targets[t].snapshot_us + p->max_age_us < o->now_us) {
			/* committing an old layout would recreate merged boundaries and, for vaddr, old mappings */
			snprintf(d->reason, sizeof(d->reason), "the snapshot of target %zu is %.1f s old", t,
				 (double)(o->now_us - o->targets[t].snapshot_us) / 1e6);
			return;
		}
	if (n <= p->max_nr_regions / 2) {
		d->verdict = REFINE_BELOW_HALF;
		snprintf(d->reason, sizeof(d->reason),
			 "%zu regions <= max/2 (%" PRIu64 "): the kernel splits every region at the next aggregation",
			 n, p->max_nr_regions / 2);
		return;
	}
	if (p->raise) {
		/* the kernel splits when the count is at most its max/2; after a merge the count is at most max */
		d->verdict = REFINE_RAISE;
		d->max_nr_regions = 2 * p->max_nr_regions;
		snprintf(d->reason, sizeof(d->reason),
			 "%zu regions > max/2: max_nr_regions %" PRIu64 " for an aggregation, the kernel splits every "
			 "region (at most %zu), the merge under %" PRIu64 " keeps the boundaries that differ",
			 n, d->max_nr_regions, 2 * n, p->max_nr_regions);
		return;
	}
	room = n < p->max_nr_regions ? p->max_nr_regions - n : 0;
	k = MIN(MIN((size_t)p->max_splits, room), (size_t)REFINE_MAX_SPLITS);

	/* the k best candidates, best first (insertion into a short sorted array) */
	for (size_t t = 0; t < o->nr_targets && k; t++)
		for (size_t i = 0; i < o->targets[t].nr_regions; i++) {
			const struct snapshot_region *r = &o->targets[t].regions[i];
			double sc;
			size_t j;

			if (!r->nr_accesses || r->nr_accesses >= p->max_nr_accesses ||
			    r->end - r->start < 2 * p->min_region_sz || cooling(s, (unsigned)t, r, o->now_us))
				continue;
			sc = score(p, r);
			if (nc == k && sc <= cand[k - 1].score)
				continue;
			j = nc < k ? nc++ : k - 1;
			for (; j > 0 && cand[j - 1].score < sc; j--)
				cand[j] = cand[j - 1];
			cand[j].target = (unsigned)t;
			cand[j].idx = i;
			cand[j].score = sc;
		}
	/* the cuts, best candidate first, within k boundaries in all */
	for (size_t c = 0; c < nc && d->nr_splits < k; c++) {
		const struct refine_target_obs *t = &o->targets[cand[c].target];
		const struct snapshot_region *r = &t->regions[cand[c].idx];
		uint64_t at[2];
		size_t m = split_points(p, t, cand[c].idx, k - d->nr_splits, at);

		nr_cut++;
		for (size_t x = 0; x < m; x++)
			d->splits[d->nr_splits++] = (struct refine_split){
				.target = cand[c].target,
				.at = at[x],
				.start = r->start,
				.end = r->end,
				.nr_accesses = r->nr_accesses,
			};
	}
	if (!d->nr_splits) {
		d->verdict = REFINE_NOTHING;
		snprintf(d->reason, sizeof(d->reason), room ? "%zu regions, none partly accessed and worth a split"
							    : "%zu regions, no room below max_nr_regions", n);
		return;
	}
	d->verdict = REFINE_SPLIT;
	snprintf(d->reason, sizeof(d->reason),
		 "%zu regions > max/2: %zu cuts in %zu partly accessed regions, the largest doubt [0x%" PRIx64
		 ", 0x%" PRIx64 ") at %" PRIu32 "/%" PRIu32 " accesses, cut at 0x%" PRIx64,
		 n, d->nr_splits, nr_cut, d->splits[0].start, d->splits[0].end, d->splits[0].nr_accesses,
		 p->max_nr_accesses, d->splits[0].at);
	qsort(d->splits, d->nr_splits, sizeof(d->splits[0]), cmp_split);
}

void refine_committed(const struct refine_params *p, struct refine_state *s, const struct refine_decision *d,
		      uint64_t now_us)
{
	if (d->verdict == REFINE_RAISE) {
		s->raised = true;
		s->raised_us = now_us;
		s->raises++;
		s->rounds++;
		s->committed_us = now_us;
		s->next_round_us = now_us + s->backoff * p->interval_us;
		return;
	}
	if (d->verdict == REFINE_LOWER) {
		/* the commit path works again (a failed lower backed off): one raise per interval */
		s->raised = false;
		s->backoff = 1;
		s->next_round_us = s->committed_us + p->interval_us;
		return;
	}
	s->pending = d->nr_splits > 0;
	s->committed_us = now_us;
	s->next_round_us = now_us + s->backoff * p->interval_us;
	s->nr_last = MIN(d->nr_splits, (size_t)REFINE_MAX_SPLITS);
	memcpy(s->last, d->splits, s->nr_last * sizeof(s->last[0]));
	s->rounds++;
	s->splits += s->nr_last;
	for (size_t i = 0; i < s->nr_last; i++) {
		const struct refine_split *sp = &d->splits[i];
		struct refine_try *t;

		/* splits are ordered by (target, at): a region cut twice comes twice in a row */
		if (i > 0 && sp->target == d->splits[i - 1].target && sp->start == d->splits[i - 1].start)
			continue;
		t = recent_try(s, sp->target, sp->start, sp->end, now_us);
		if (!t) {
			/* a free (expired) slot, else a region tried once (losing it costs one more try,
			 * losing a cooling one a wasted commit), the one that expires first */
			t = &s->tried[0];
			for (size_t j = 1; j < REFINE_TRIED && t->until_us > now_us; j++) {
				const struct refine_try *x = &s->tried[j];

				if (x->until_us <= now_us || (x->tries < 2 && t->tries >= 2) ||
				    ((x->tries < 2) == (t->tries < 2) && x->until_us < t->until_us))
					t = &s->tried[j];
			}
			*t = (struct refine_try){ .target = sp->target, .start = sp->start, .end = sp->end };
		}
		t->tries++;
		t->until_us = now_us + REFINE_COOLDOWN_ROUNDS * p->interval_us;
	}
}

void refine_commit_failed(const struct refine_params *p, struct refine_state *s, uint64_t now_us)
{
	s->pending = false;
	s->backoff = MIN(s->backoff * 2, (unsigned)REFINE_MAX_BACKOFF);
	s->next_round_us = now_us + s->backoff * p->interval_us;
}

void refine_commit_busy(struct refine_state *s, uint64_t now_us)
{
	/* brief contention says nothing about the cuts: the same interval, the next tick decides again */
	s->pending = false;
	s->next_round_us = now_us;
}

struct layout {
	const struct snapshot_region *regions;
	size_t nr_regions, ri;
	const struct refine_split *splits;
	size_t nr_splits, si;
	unsigned target;
	struct damon_addr_range *ret;
	size_t n, max;
};

/* [pos, end) cut at every region boundary and split of the layout's target inside it */
static int emit(struct layout *l, uint64_t pos, uint64_t end)
{
	while (pos < end) {
		uint64_t next = end;

		while (l->ri < l->nr_regions && l->regions[l->ri].end <= pos)
			l->ri++;
		if (l->ri < l->nr_regions)
			next = MIN(next, l->regions[l->ri].start > pos ? l->regions[l->ri].start : l->regions[l->ri].end);
		while (l->si < l->nr_splits && (l->splits[l->si].target < l->target ||
						(l->splits[l->si].target == l->target && l->splits[l->si].at <= pos)))
			l->si++;
		if (l->si < l->nr_splits && l->splits[l->si].target == l->target)
			next = MIN(next, l->splits[l->si].at);
		if (l->n == l->max)
			return -ENOBUFS;
		l->ret[l->n++] = (struct damon_addr_range){ .start = pos, .end = next };
		pos = next;
	}
	return 0;
}

int refine_layout(const struct snapshot_region *regions, size_t nr_regions, const struct damon_addr_range *span,
		  size_t nr_span, const struct refine_split *splits, size_t nr_splits, unsigned target,
		  struct damon_addr_range *ret, size_t max)
{
	struct layout l = {
		.regions = regions, .nr_regions = nr_regions,
		.splits = splits, .nr_splits = nr_splits,
		.target = target, .ret = ret, .max = max,
	};
	int r = 0;

	for (size_t i = 0; r == 0 && i < (nr_span ? nr_span : nr_regions); i++)
		r = nr_span ? emit(&l, span[i].start, span[i].end) : emit(&l, regions[i].start, regions[i].end);
	return r < 0 ? r : (int)l.n;
}
