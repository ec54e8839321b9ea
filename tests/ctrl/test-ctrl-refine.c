/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctrl-refine: the decision rules one by one, the committed layout, and the
 * closed loop against a small model of a 6.12/7.2 context above max/2
 * (merges, no splits, commits with the §5.2 semantics) with a hot range that
 * appeared inside a big region: the shape measured in the VM (refine-probe).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl-refine.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define SEC UINT64_C(1000000)
#define PAGE 4096

static const struct refine_params P = {
	.interval_us = 5 * SEC,
	.max_splits = 4,
	.min_region_sz = PAGE,
	.max_nr_accesses = 20,
	.max_nr_regions = 20,
	.settle_us = SEC / 10,
	.max_age_us = 3 * SEC,
};

/* n equal regions over [0, n * sz), all cold except acc[] */
static void layout(struct snapshot_region *r, size_t n, uint64_t sz, const uint32_t *acc)
{
	for (size_t i = 0; i < n; i++)
		r[i] = (struct snapshot_region){ .start = i * sz, .end = (i + 1) * sz, .nr_accesses = acc ? acc[i] : 0 };
}

static void step(struct refine_state *s, struct snapshot_region *r, size_t n, uint64_t now, uint64_t snap_at,
		 struct refine_decision *d)
{
	struct refine_target_obs t = { .regions = r, .nr_regions = n, .snapshot_us = snap_at };
	struct refine_obs o = { .now_us = now, .nr_targets = 1, .targets = &t };

	refine_step(&P, s, &o, d);
}

static void test_kernel_still_splits(void **unused)
{
	struct snapshot_region r[10];
	uint32_t acc[11] = { 0, 0, 5, 0 };
	struct refine_state s;
	struct refine_decision d;

	refine_init(&s);
	layout(r, 10, 16 * MiB, acc);
	step(&s, r, 10, 100 * SEC, 100 * SEC, &d);
	/* at or below max/2 the kernel splits every region, but that is no verdict on the kernel: below-half */
	assert_int_equal(d.verdict, REFINE_BELOW_HALF);
	assert_string_equal(refine_verdict_to_string(d.verdict), "below-half");
	assert_int_equal(d.nr_splits, 0);
	/* one more region than max/2: now it is damond's job */
	{
		struct snapshot_region r11[11];

		layout(r11, 11, 16 * MiB, acc);
		step(&s, r11, 11, 100 * SEC, 100 * SEC, &d);
	}
	assert_int_equal(d.verdict, REFINE_SPLIT);
	/* no hotter neighbour: in thirds, page aligned (halves of a centred hot range merge again) */
	assert_int_equal(d.nr_splits, 2);
	assert_int_equal(d.splits[0].start, 32 * MiB);
	assert_int_equal(d.splits[1].start, 32 * MiB);
	assert_int_equal(d.splits[0].at, 32 * MiB + 1365 * PAGE);
	assert_int_equal(d.splits[1].at, 32 * MiB + 2730 * PAGE);
}

static void test_cut_next_to_hot_neighbour(void **unused)
{
	struct snapshot_region r[12];
	uint32_t acc[12] = { [4] = 2, [5] = 20, [7] = 20, [8] = 5 };
	struct refine_state s;
	struct refine_decision d;

	refine_init(&s);
	layout(r, 12, 16 * MiB, acc);
	step(&s, r, 12, 10 * SEC, 10 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);
	assert_int_equal(d.nr_splits, 2);
	/* ordered by address: region 4 (2/20, hot neighbour right) then region 8 (5/20, hot left) */
	assert_int_equal(d.splits[0].start, 4 * 16 * MiB);
	assert_int_equal(d.splits[0].at, 5 * 16 * MiB - 410 * PAGE);	/* 1.6 MiB (2/20) of hot share, rounded to pages */
	assert_int_equal(d.splits[1].start, 8 * 16 * MiB);
	assert_int_equal(d.splits[1].at, 8 * 16 * MiB + 16 * MiB / 4);
	for (size_t i = 0; i < d.nr_splits; i++)
		assert_int_equal(d.splits[i].at % PAGE, 0);
	assert_non_null(strstr(d.reason, "2 cuts in 2"));
}

static void test_ranking_and_room(void **unused)
{
	struct snapshot_region r[19];
	uint32_t acc[19];
	struct refine_state s;
	struct refine_decision d;

	/* every region partly accessed; the most uncertain (10/20) win */
	for (size_t i = 0; i < 19; i++)
		acc[i] = (uint32_t)(1 + i % 10);
	refine_init(&s);
	layout(r, 19, 8 * MiB, acc);
	step(&s, r, 19, 10 * SEC, 10 * SEC, &d);
	/* room below max is 1 */
	assert_int_equal(d.verdict, REFINE_SPLIT);
	assert_int_equal(d.nr_splits, 1);
	assert_int_equal(d.splits[0].nr_accesses, 10);

	/* at max: nothing */
	{
		struct snapshot_region r20[20];
		uint32_t a20[20];

		for (size_t i = 0; i < 20; i++)
			a20[i] = 10;
		layout(r20, 20, 8 * MiB, a20);
		step(&s, r20, 20, 10 * SEC, 10 * SEC, &d);
		assert_int_equal(d.verdict, REFINE_NOTHING);
		assert_non_null(strstr(d.reason, "no room"));
	}
	/* fully hot, cold and one-page regions are never split */
	for (size_t i = 0; i < 19; i++)
		acc[i] = i % 2 ? 20 : 0;
	layout(r, 19, 8 * MiB, acc);
	r[18].end = r[18].start + PAGE;
	r[18].nr_accesses = 3;
	step(&s, r, 19, 10 * SEC, 10 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_NOTHING);
}

static void test_backoff_and_cooldown(void **unused)
{
	struct snapshot_region r[12], r2[13];
	uint32_t acc[12] = { [3] = 6 };
	struct refine_state s;
	struct refine_decision d, first;
	uint64_t t = 100 * SEC;

	refine_init(&s);
	layout(r, 12, 16 * MiB, acc);
	step(&s, r, 12, t, t, &first);
	assert_int_equal(first.verdict, REFINE_SPLIT);
	assert_int_equal(first.nr_splits, 2);
	refine_committed(&P, &s, &first, t);

	/* judged only on an aggregation that ran entirely after the commit */
	step(&s, r, 12, t + SEC / 20, t + SEC / 20, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);
	assert_non_null(strstr(d.reason, "after the last refinement commit"));

	/* no boundary survived (the pieces merged back): the wait doubles; one loss can
	 * be the window phase, so the region is tried once more */
	step(&s, r, 12, t + 1 * SEC, t + 1 * SEC, &d);
	assert_int_equal(s.backoff, 2);
	assert_int_equal(s.lost, 2);
	assert_int_equal(d.verdict, REFINE_WAIT);
	step(&s, r, 12, t + 10 * SEC, t + 10 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);
	assert_int_equal(d.splits[0].start, first.splits[0].start);
	refine_committed(&P, &s, &d, t + 10 * SEC);

	/* lost twice: the wait doubles again and the region cools down */
	step(&s, r, 12, t + 11 * SEC, t + 11 * SEC, &d);
	assert_int_equal(s.backoff, 4);
	assert_int_equal(s.lost, 4);
	step(&s, r, 12, t + 30 * SEC, t + 30 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_NOTHING);

	/* after the cooldown it is tried again */
	step(&s, r, 12, t + 75 * SEC, t + 75 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);
	refine_committed(&P, &s, &d, t + 80 * SEC);

	/* this time one boundary is there: the wait is back to one interval */
	memcpy(r2, r, 3 * sizeof(r[0]));
	r2[3] = (struct snapshot_region){ .start = r[3].start, .end = d.splits[0].at, .nr_accesses = 0 };
	r2[4] = (struct snapshot_region){ .start = d.splits[0].at, .end = r[3].end, .nr_accesses = 9 };
	memcpy(r2 + 5, r + 4, 8 * sizeof(r[0]));
	step(&s, r2, 13, t + 81 * SEC, t + 81 * SEC, &d);
	assert_int_equal(s.backoff, 1);
	assert_int_equal(s.kept, 1);
	assert_int_equal(s.last_kept, 1);
	assert_int_equal(d.verdict, REFINE_WAIT);
	step(&s, r2, 13, t + 85 * SEC, t + 85 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);

	/* a commit that met the DAMON sysfs lock held by someone else: no back-off, the next tick splits again */
	refine_commit_busy(&s, t + 85 * SEC);
	assert_int_equal(s.backoff, 1);
	step(&s, r2, 13, t + 86 * SEC, t + 86 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);

	/* a failed commit backs off too */
	refine_commit_failed(&P, &s, t + 86 * SEC);
	assert_int_equal(s.backoff, 2);
	step(&s, r2, 13, t + 90 * SEC, t + 90 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);

	/* a snapshot older than max_age is not used: its layout may be gone */
	step(&s, r2, 13, t + 100 * SEC, t + 96 * SEC, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);
	assert_non_null(strstr(d.reason, "old"));
}

static void test_every_target_needs_a_snapshot(void **unused)
{
	struct snapshot_region r[12];
	uint32_t acc[12] = { [3] = 6 };
	struct refine_target_obs t[2] = {
		{ .regions = r, .nr_regions = 12, .snapshot_us = 10 * SEC },
		{ .regions = NULL, .nr_regions = 0 },
	};
	struct refine_obs o = { .now_us = 10 * SEC, .nr_targets = 2, .targets = t };
	struct refine_state s;
	struct refine_decision d;

	refine_init(&s);
	layout(r, 12, 16 * MiB, acc);
	refine_step(&P, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);
	assert_non_null(strstr(d.reason, "target 1"));
	/* with both: the count is over both (24 > 20/2) and there is no room */
	t[1] = t[0];
	refine_step(&P, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_NOTHING);
	assert_non_null(strstr(d.reason, "no room"));
}

static void test_layout(void **unused)
{
	struct snapshot_region r[] = {
		{ .start = 0, .end = 8 * MiB },
		{ .start = 8 * MiB, .end = 16 * MiB },
		{ .start = 20 * MiB, .end = 32 * MiB },
	};
	struct damon_addr_range span[] = { { 0, 16 * MiB }, { 20 * MiB, 32 * MiB } }, out[8];
	struct refine_split sp[] = {
		{ .target = 0, .at = 4 * MiB },
		{ .target = 0, .at = 24 * MiB },
		{ .target = 1, .at = 12 * MiB },
	};
	int n;

	n = refine_layout(r, 3, span, 2, sp, 3, 0, out, 8);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].start, 0);
	assert_int_equal(out[0].end, 4 * MiB);
	assert_int_equal(out[1].start, 4 * MiB);
	assert_int_equal(out[1].end, 8 * MiB);
	assert_int_equal(out[2].end, 16 * MiB);	/* target 1's split at 12 MiB is not ours */
	assert_int_equal(out[3].start, 20 * MiB);
	assert_int_equal(out[3].end, 24 * MiB);
	assert_int_equal(out[4].end, 32 * MiB);

	/* no span: the snapshot's regions are the span (the gap stays a gap) */
	n = refine_layout(r, 3, NULL, 0, sp, 3, 0, out, 8);
	assert_int_equal(n, 5);
	assert_int_equal(out[2].start, 8 * MiB);
	assert_int_equal(out[2].end, 16 * MiB);
	assert_int_equal(out[3].start, 20 * MiB);

	/* a span wider than the snapshot (the plan changed): covered exactly, cut where known */
	span[1].end = 40 * MiB;
	n = refine_layout(r, 3, span, 2, sp, 3, 0, out, 8);
	assert_int_equal(n, 6);
	assert_int_equal(out[5].start, 32 * MiB);
	assert_int_equal(out[5].end, 40 * MiB);

	assert_int_equal(refine_layout(r, 3, span, 2, sp, 3, 0, out, 4), -ENOBUFS);
}

/* ---- closed loop against a model context ------------------------------------ */

struct model {
	struct snapshot_region r[64];
	size_t n;
	uint64_t hot_s, hot_e, sz_limit;
};

static uint32_t expected_acc(const struct model *m, const struct snapshot_region *r)
{
	uint64_t s = r->start > m->hot_s ? r->start : m->hot_s, e = r->end < m->hot_e ? r->end : m->hot_e;

	return e > s ? (uint32_t)((e - s) * 20 / (r->end - r->start)) : 0;
}

/* one aggregation of a context above max/2 on 6.12/7.2: count, merge, no split */
static void aggregate(struct model *m)
{
	uint32_t max = 0;
	size_t w = 0;

	for (size_t i = 0; i < m->n; i++) {
		m->r[i].nr_accesses = expected_acc(m, &m->r[i]);
		max = m->r[i].nr_accesses > max ? m->r[i].nr_accesses : max;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct snapshot_region *p = w ? &m->r[w - 1] : NULL, *c = &m->r[i];
		uint32_t diff = p ? (p->nr_accesses > c->nr_accesses ? p->nr_accesses - c->nr_accesses
								     : c->nr_accesses - p->nr_accesses) : 0;

		if (p && p->end == c->start && diff <= max / 10 && c->end - p->start <= m->sz_limit) {
			uint64_t ps = p->end - p->start, cs = c->end - c->start;

			p->nr_accesses = (uint32_t)((p->nr_accesses * ps + c->nr_accesses * cs) / (ps + cs));
			p->end = c->end;
		} else
			m->r[w++] = *c;
	}
	m->n = w;
}

static uint64_t cover(const struct model *m)
{
	uint64_t c = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].nr_accesses)
			c += m->r[i].end - m->r[i].start;
	return c;
}

static uint64_t run_loop(bool refine, unsigned rounds, uint64_t hot_s)
{
	struct model m = { .n = 13, .hot_s = hot_s, .hot_e = hot_s + 4 * MiB, .sz_limit = 256 * MiB / 12 + 1 };
	struct refine_state s;
	uint64_t now = 0;

	/* 13 regions over 256 MiB, as DAMON left them before the hot range appeared */
	for (size_t i = 0; i < m.n; i++)
		m.r[i] = (struct snapshot_region){ .start = i * 256 * MiB / 13 / PAGE * PAGE,
						   .end = (i + 1) * 256 * MiB / 13 / PAGE * PAGE };
	m.r[m.n - 1].end = 256 * MiB;
	refine_init(&s);
	for (unsigned i = 0; i < rounds; i++) {
		struct refine_target_obs t;
		struct refine_obs o = { .nr_targets = 1, .targets = &t };
		struct refine_decision d;
		struct damon_addr_range out[64];
		int n;

		aggregate(&m);
		now += P.interval_us;
		t = (struct refine_target_obs){ .regions = m.r, .nr_regions = m.n, .snapshot_us = now };
		o.now_us = now;
		if (!refine)
			continue;
		refine_step(&P, &s, &o, &d);
		if (d.verdict != REFINE_SPLIT)
			continue;
		n = refine_layout(m.r, m.n, NULL, 0, d.splits, d.nr_splits, 0, out, 64);
		assert_true(n > 0);
		assert_true((size_t)n <= P.max_nr_regions);
		/* §5.2: the truncated piece keeps its values, the fresh one starts at 0 */
		for (int j = 0; j < n; j++) {
			m.r[j].start = out[j].start;
			m.r[j].end = out[j].end;
		}
		m.n = (size_t)n;
		refine_committed(&P, &s, &d, now);
	}
	aggregate(&m);
	return cover(&m);
}

static void test_closed_loop_finds_new_hot_range(void **unused)
{
	uint64_t without = run_loop(false, 20, 100 * MiB), with = run_loop(true, 20, 100 * MiB);
	/* centred on the middle of its region (the case a cut in halves never separates: CI, 6.12) */
	uint64_t mid = (5 * 256 * MiB / 13 / PAGE * PAGE + 6 * 256 * MiB / 13 / PAGE * PAGE) / 2;
	uint64_t centred = run_loop(true, 20, mid - 2 * MiB);

	print_message("# cover of the 4 MiB hot range after 20 rounds: without %" PRIu64 " KiB, with %" PRIu64 " KiB\n",
		      without / KiB, with / KiB);
	/* without: the hot range is seen only as part of a ~20 MiB region */
	assert_true(without >= 16 * MiB);
	/* with: at least 90 % of it (a sliver of hot in a big region counts 0 of 20),
	 * and at most 25 % more than it */
	assert_true(with >= 4 * MiB * 9 / 10);
	assert_true(with <= 5 * MiB);
	print_message("# centred in its region: %" PRIu64 " KiB\n", centred / KiB);
	assert_true(centred >= 4 * MiB * 9 / 10);
	assert_true(centred <= 5 * MiB);
}

/* ---- the kernel's own splitter: 7.3's verdict, the raise law ----------------- */

static void test_kernel_splits_above_half(void **unused)
{
	struct refine_params p = P;
	struct snapshot_region r[16];
	uint32_t acc[16] = { 0, 0, 5, 0, 20, 3 };
	struct refine_target_obs t = { .regions = r, .nr_regions = 16, .snapshot_us = 100 * SEC };
	struct refine_obs o = { .now_us = 100 * SEC, .nr_targets = 1, .targets = &t };
	struct refine_state s;
	struct refine_decision d;

	layout(r, 16, 16 * MiB, acc);
	/* 16 regions > max/2 with partly accessed ones: cuts on a kernel that stops splitting */
	refine_init(&s);
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_SPLIT);
	/* 7.3 splits above max/2 itself (and coalesces committed boundaries): neither law commits */
	p.kernel_splits_above_half = true;
	for (int raise = 0; raise < 2; raise++) {
		p.raise = raise;
		refine_init(&s);
		refine_step(&p, &s, &o, &d);
		assert_int_equal(d.verdict, REFINE_KERNEL_SPLITS);
		assert_string_equal(refine_verdict_to_string(d.verdict), "kernel-splits");
		assert_int_equal(d.nr_splits, 0);
		assert_int_equal(d.max_nr_regions, 0);
		/* not even below max/2 */
		t.nr_regions = 4;
		refine_step(&p, &s, &o, &d);
		assert_int_equal(d.verdict, REFINE_KERNEL_SPLITS);
		t.nr_regions = 16;
	}
}

static void test_raise_cycle(void **unused)
{
	struct refine_params p = P;
	struct snapshot_region r[16];
	uint32_t acc[16] = { 0, 0, 5, 0, 20, 3 };
	struct refine_target_obs t = { .regions = r, .nr_regions = 16, .snapshot_us = 100 * SEC };
	struct refine_obs o = { .now_us = 100 * SEC, .nr_targets = 1, .targets = &t };
	struct refine_state s;
	struct refine_decision d;

	p.raise = true;
	layout(r, 16, 16 * MiB, acc);
	refine_init(&s);
	/* below max/2: the kernel splits by itself */
	t.nr_regions = 10;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_BELOW_HALF);
	/* above: max x 2 for an aggregation, no cuts of damond's */
	t.nr_regions = 16;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_RAISE);
	assert_string_equal(refine_verdict_to_string(d.verdict), "raise");
	assert_int_equal(d.max_nr_regions, 40);
	assert_int_equal(d.nr_splits, 0);
	refine_committed(&p, &s, &d, 100 * SEC + 50000);
	assert_true(s.raised);
	assert_int_equal(s.raises, 1);
	/* the snapshot predates the raise: keep it */
	o.now_us = 100 * SEC + 100000;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);
	/* an aggregation ended with the raised max: lower */
	t.snapshot_us = 100 * SEC + 150000;
	o.now_us = 100 * SEC + 200000;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_LOWER);
	assert_int_equal(d.max_nr_regions, 0);
	/* a failed lower is decided again */
	refine_commit_failed(&p, &s, o.now_us);
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_LOWER);
	refine_committed(&p, &s, &d, o.now_us);
	assert_false(s.raised);
	/* the next raise one interval after the last */
	t.snapshot_us = o.now_us = 100 * SEC + P.interval_us / 2;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_WAIT);
	t.snapshot_us = o.now_us = 100 * SEC + P.interval_us + 50000;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_RAISE);
	refine_committed(&p, &s, &d, o.now_us);
	/* no snapshot after the raise within max_age: lowered all the same */
	o.now_us += P.max_age_us + 1;
	refine_step(&p, &s, &o, &d);
	assert_int_equal(d.verdict, REFINE_LOWER);
}

/*
 * A 6.12 context (max 20, 13 regions over 256 MiB, a 4 MiB hot range that
 * appeared inside one of them), aggregation by aggregation: merge (forced
 * under the max by doubling the threshold), the snapshot, damond's decision
 * applied before the split (6.12 handles a commit in the after_aggregation
 * callback), then the split of every region when the count is at most
 * max/2, at a pseudo-random 10-90 % point. Returns the bytes read accessed
 * after n aggregations; *ret_peak the most regions any window sampled.
 */
static uint64_t run_kernel_loop(bool raise, unsigned n, size_t *ret_peak)
{
	static struct snapshot_region r[256], tmp[256];
	struct refine_params p = P;
	uint64_t hot_s = 100 * MiB, hot_e = hot_s + 4 * MiB, sz_limit = 256 * MiB / 10, now = 0, seed = 42, cov = 0;
	uint64_t eff_max = P.max_nr_regions;
	size_t nr = 13, peak = 0;
	struct refine_state s;

	p.raise = true;
	for (size_t i = 0; i < nr; i++)
		r[i] = (struct snapshot_region){ .start = i * 256 * MiB / 13 / PAGE * PAGE,
						 .end = (i + 1) * 256 * MiB / 13 / PAGE * PAGE };
	r[nr - 1].end = 256 * MiB;
	refine_init(&s);
	for (unsigned a = 0; a < n; a++) {
		uint32_t mx = 0, thr;
		size_t w;

		peak = nr > peak ? nr : peak;
		for (size_t i = 0; i < nr; i++) {
			uint64_t x = r[i].start > hot_s ? r[i].start : hot_s, e = r[i].end < hot_e ? r[i].end : hot_e;

			r[i].nr_accesses = e > x ? (uint32_t)((e - x) * 20 / (r[i].end - r[i].start)) : 0;
			mx = r[i].nr_accesses > mx ? r[i].nr_accesses : mx;
		}
		thr = mx / 10;
		do {
			w = 0;
			for (size_t i = 0; i < nr; i++) {
				struct snapshot_region *q = w ? &r[w - 1] : NULL, *c = &r[i];
				uint32_t diff = q ? (q->nr_accesses > c->nr_accesses ? q->nr_accesses - c->nr_accesses
										     : c->nr_accesses - q->nr_accesses)
						  : 0;

				if (q && q->end == c->start && diff <= thr && c->end - q->start <= sz_limit) {
					uint64_t qs = q->end - q->start, cs = c->end - c->start;

					q->nr_accesses =
						(uint32_t)((q->nr_accesses * qs + c->nr_accesses * cs) / (qs + cs));
					q->end = c->end;
				} else
					r[w++] = *c;
			}
			nr = w;
			thr = thr ? thr * 2 : 1;
		} while (nr > eff_max && thr <= 20);
		now += P.settle_us;
		if (raise) {
			struct refine_target_obs t = { .regions = r, .nr_regions = nr, .snapshot_us = now };
			struct refine_obs o = { .now_us = now, .nr_targets = 1, .targets = &t };
			struct refine_decision d;

			refine_step(&p, &s, &o, &d);
			if (d.verdict == REFINE_RAISE || d.verdict == REFINE_LOWER) {
				eff_max = d.max_nr_regions ? d.max_nr_regions : P.max_nr_regions;
				refine_committed(&p, &s, &d, now);
			}
			assert_int_not_equal(d.verdict, REFINE_SPLIT);
		}
		if (a == n - 1)
			break;
		if (nr <= eff_max / 2) {
			w = 0;
			for (size_t i = 0; i < nr; i++) {
				uint64_t sz = r[i].end - r[i].start, at;

				tmp[w++] = r[i];
				if (sz < 2 * PAGE)
					continue;
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				at = r[i].start + (sz / PAGE * (10 + (seed >> 33) % 81) / 100) * PAGE;
				if (at <= r[i].start || at >= r[i].end)
					continue;
				tmp[w - 1].end = at;
				tmp[w++] = (struct snapshot_region){ .start = at,
								     .end = r[i].end,
								     .nr_accesses = r[i].nr_accesses };
			}
			memcpy(r, tmp, w * sizeof(r[0]));
			nr = w;
		}
	}
	for (size_t i = 0; i < nr; i++)
		if (r[i].nr_accesses)
			cov += r[i].end - r[i].start;
	*ret_peak = peak;
	return cov;
}

static void test_raise_closed_loop(void **unused)
{
	size_t peak_off, peak_on;
	uint64_t off = run_kernel_loop(false, 400, &peak_off), on = run_kernel_loop(true, 400, &peak_on);

	print_message("# read accessed after 40 s (4 MiB hot): kernel alone %" PRIu64 " KiB (peak %zu regions), "
		      "raise law %" PRIu64 " KiB (peak %zu)\n",
		      off / KiB, peak_off, on / KiB, peak_on);
	/* alone: 13 regions > max/2, no split ever, the hot range reads as its ~20 MiB region */
	assert_true(off >= 16 * MiB);
	assert_true(peak_off <= P.max_nr_regions);
	/* the raise law: the kernel's own splits find it */
	assert_true(on <= 8 * MiB);
	assert_true(on >= 4 * MiB * 9 / 10);
	/* the cost bound: never more than 2 x max regions in a window */
	assert_true(peak_on <= 2 * P.max_nr_regions);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_still_splits),
		cmocka_unit_test(test_cut_next_to_hot_neighbour),
		cmocka_unit_test(test_ranking_and_room),
		cmocka_unit_test(test_backoff_and_cooldown),
		cmocka_unit_test(test_every_target_needs_a_snapshot),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_closed_loop_finds_new_hot_range),
		cmocka_unit_test(test_kernel_splits_above_half),
		cmocka_unit_test(test_raise_cycle),
		cmocka_unit_test(test_raise_closed_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
