/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plan (lib/plan.c). The golden comparisons render, with
 * lib/damon-sysfs.c, exactly what daemon/manager.c fed it before the plan
 * existed: plan_render() (policy, emulation gaps by targets_with_gaps(),
 * quota overrides, keep_regions) and kd_refine()'s override targets
 * (refine_layout() over the gapped span). ref_targets_with_gaps() below is
 * that function's cut loop, copied.
 */
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "../common/config-load.h"
#include "ctrl-refine.h"
#include "damon-sysfs.h"
#include "macro.h"
#include "plan.h"

#define CTX "kernel/mm/damon/admin/kdamonds/3/contexts/0"
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static const char *const paddr_policy = "kdamonds:\n"
					"  - name: reclaim\n"
					"    ops: paddr\n"
					"    targets:\n"
					"      - regions:\n"
					"          - {start: 0x100000, end: 0x40000000}\n"
					"          - {start: 0x80000000, end: 0xc0000000}\n"
					"    schemes:\n"
					"      - name: cold\n"
					"        action: pageout\n"
					"        access_pattern:\n"
					"          nr_accesses: {min: 0, max: 0}\n"
					"          age: {min: 30s, max: max}\n"
					"        quotas:\n"
					"          bytes: 32M\n"
					"          reset_interval: 1s\n"
					"          fail_charge_ratio: 1/4096\n"
					"      - name: watch\n"
					"        action: stat\n";

static const char *const vaddr_policy = "kdamonds:\n"
					"  - name: app\n"
					"    ops: vaddr\n"
					"    targets:\n"
					"      - pid: 42\n"
					"        regions:\n"
					"          - {start: 0x7f0000000000, end: 0x7f0000800000}\n"
					"      - pid: 43\n"
					"    schemes:\n"
					"      - name: hot\n"
					"        action: stat\n";

/* the charge emulation's exclusion on vaddr: the user's own filters, in the auto list (core by type, ops) */
static const char *const vaddr_filters_policy =
	"kdamonds:\n"
	"  - name: app\n"
	"    ops: vaddr\n"
	"    targets:\n"
	"      - pid: 42\n"
	"    schemes:\n"
	"      - name: cold\n"
	"        action: pageout\n"
	"        quotas:\n"
	"          bytes: 32M\n"
	"          reset_interval: 1s\n"
	"          fail_charge_ratio: 1/4096\n"
	"        filters:\n"
	"          - {type: addr, matching: true, addr_range: {start: 0x7f0000000000, "
	"end: 0x7f0000100000}}\n"
	"          - {type: anon, matching: false}\n"
	"      - name: watch\n"
	"        action: stat\n";

/*
 * paddr takes one target in a config; the plan and the renderer take any
 * number (and refinement's per-target rules need two): the paddr fixture's
 * policy has the config's target and this one.
 */
static const struct damon_addr_range second_target[] = { { 0x100000000, 0x140000000 } };

struct fx {
	struct damond_config *cfg;
	const struct kdamond_cfg *k;
	struct damon_target_cfg targets[2]; /* the policy's */
	size_t nr_targets;
	struct damon_features f;
	struct kd_policy p;
	struct kd_overlay o;
};

static struct damond_config *load(const char *text)
{
	return test_config_load(text);
}

static int setup_text(void **state, const char *text)
{
	struct fx *x = calloc(1, sizeof(*x));
	int map[8];

	assert_non_null(x);
	x->cfg = load(text);
	x->k = &x->cfg->kdamonds[0];
	for (int i = 0; i < _FEATURE_MAX; i++)
		x->f.f[i] = FEATURE_PRESENT;
	for (size_t i = 0; i < x->k->ctx.nr_schemes; i++)
		map[i] = (int)i;
	/* the policy's targets are the config's (the daemon's are resolved: 'auto' filled in), plus one for paddr */
	assert_true(x->k->ctx.nr_targets <= 2);
	x->nr_targets = x->k->ctx.nr_targets;
	memcpy(x->targets, x->k->ctx.targets, x->nr_targets * sizeof(*x->targets));
	if (x->k->ctx.ops == DAMON_OPS_PADDR)
		x->targets[x->nr_targets++] =
			(struct damon_target_cfg){ .regions = (struct damon_addr_range *)second_target,
						   .nr_regions = 1 };
	assert_int_equal(kd_policy_init_map(&x->p, 3, x->k, x->targets, x->nr_targets, map, x->k->ctx.nr_schemes), 0);
	assert_int_equal(kd_overlay_init(&x->o, x->p.nr_slots, x->p.nr_targets), 0);
	*state = x;
	return 0;
}

static int setup_paddr(void **state)
{
	return setup_text(state, paddr_policy);
}

static int setup_vaddr(void **state)
{
	return setup_text(state, vaddr_policy);
}

static int setup_vaddr_filters(void **state)
{
	return setup_text(state, vaddr_filters_policy);
}

static int teardown(void **state)
{
	struct fx *x = *state;

	kd_overlay_done(&x->o);
	kd_policy_done(&x->p);
	damond_config_free(x->cfg);
	free(x);
	return 0;
}

/* ---- the reference: what the manager rendered ---------------------------- */

struct ref_targets {
	struct damon_target_cfg *t;
	size_t n;
};

static void ref_targets_done(struct ref_targets *g)
{
	for (size_t i = 0; g->t && i < g->n; i++)
		free(g->t[i].regions);
	free(g->t);
	*g = (struct ref_targets){};
}

/* daemon/manager.c targets_with_gaps(), its cut loop verbatim; cut[] is every slot's reject ranges, in slot order */
static void ref_targets_with_gaps(const struct damon_target_cfg *targets, size_t nr_targets,
				  const struct damon_addr_range *cut, size_t nc, struct ref_targets *g)
{
	g->t = calloc(nr_targets ? nr_targets : 1, sizeof(*g->t));
	assert_non_null(g->t);
	g->n = nr_targets;
	for (size_t t = 0; t < nr_targets; t++) {
		const struct damon_target_cfg *src = &targets[t];
		size_t cap = 0;

		g->t[t] = *src;
		g->t[t].regions = NULL;
		g->t[t].nr_regions = 0;
		g->t[t].regions_borrowed = false;
		for (size_t i = 0; i < src->nr_regions; i++) {
			uint64_t pos = src->regions[i].start, end = src->regions[i].end;

			while (pos < end) {
				uint64_t next_cut = end, resume = end;
				struct damon_addr_range *r;

				for (size_t c = 0; c < nc; c++)
					if (cut[c].end > pos && cut[c].start < end &&
					    MAX(cut[c].start, pos) < next_cut) {
						next_cut = MAX(cut[c].start, pos);
						resume = cut[c].end;
					}
				if (next_cut - pos >= 4096) {
					r = APPEND(g->t[t].regions, g->t[t].nr_regions, cap);
					assert_non_null(r);
					r->start = pos;
					r->end = next_cut & ~4095ULL;
				}
				if (next_cut == end)
					break;
				pos = (MIN(resume, end) + 4095) & ~4095ULL;
			}
		}
		if (!g->t[t].nr_regions) {
			free(g->t[t].regions);
			g->t[t].regions = calloc(src->nr_regions ? src->nr_regions : 1, sizeof(*src->regions));
			assert_non_null(g->t[t].regions);
			memcpy(g->t[t].regions, src->regions, src->nr_regions * sizeof(*src->regions));
			g->t[t].nr_regions = src->nr_regions;
		}
	}
}

/* plan_render(): the manager's scheme_slot array from its slots, quota overrides from qo[] (NULL: none) */
static void ref_render(const struct fx *x, const struct damon_target_cfg *targets, size_t nr_targets, bool keep,
		       const struct kd_slot_overlay *qo, struct write_list *ret)
{
	struct scheme_slot slots[8] = {};
	struct kdamond_plan plan = {
		.cfg = x->k,
		.targets = targets,
		.nr_targets = nr_targets,
		.keep_regions = keep,
		.slots = slots,
		.nr_slots = x->p.nr_slots,
	};

	for (size_t i = 0; i < x->p.nr_slots; i++)
		slots[i] = (struct scheme_slot){
			.cfg = x->p.slots[i].cfg,
			.native_fail_charge = x->p.slots[i].native_fail_charge,
			.quota_override = qo && qo[i].quota_set,
			.quota_bytes = qo ? qo[i].quota_bytes : 0,
		};
	assert_int_equal(damon_render_kdamond(x->p.index, &plan, &x->f, ret), 0);
}

static void assert_lists_equal(const struct write_list *a, const struct write_list *b)
{
	size_t d = write_list_first_diff(a, b);

	if (d != SIZE_MAX)
		print_error("first difference at write %zu: '%s' = '%s' vs '%s' = '%s'\n", d,
			    d < a->n ? a->v[d].path : "(none)", d < a->n ? a->v[d].value : "",
			    d < b->n ? b->v[d].path : "(none)", d < b->n ? b->v[d].value : "");
	assert_int_equal(d, SIZE_MAX);
}

static const struct sysfs_write *region_block(const struct write_list *l, size_t t)
{
	size_t i = write_list_find_target_regions(l, t);

	assert_true(i != SIZE_MAX);
	return i + 1 < l->n && (l->v[i + 1].flags & SYSFS_W_REGIONS) ? &l->v[i + 1] : NULL;
}

static const char *nr_regions_value(const struct write_list *l, size_t t)
{
	size_t i = write_list_find_target_regions(l, t);

	assert_true(i != SIZE_MAX);
	return l->v[i].value;
}

/* ---- tests ---------------------------------------------------------------- */

/* kd_start: plan_render(keep_regions false, no override); nothing held, so commit == canonical */
static void test_start_golden(void **state)
{
	struct fx *x = *state;
	struct write_list commit = {}, canon = {}, ref = {};

	x->p.slots[0].native_fail_charge = true;
	assert_int_equal(plan_compose(&x->p, NULL, &x->f, NULL, &commit, &canon), 0);
	ref_render(x, x->targets, x->nr_targets, false, NULL, &ref);
	assert_lists_equal(&canon, &ref);
	assert_lists_equal(&commit, &ref);
	/* the empty overlay is no overlay */
	write_list_done(&commit);
	write_list_done(&canon);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, &commit, &canon), 0);
	assert_lists_equal(&canon, &ref);
	assert_lists_equal(&commit, &ref);
	/* the renderer's flags came along: restart for operations/addr_unit */
	assert_true(canon.v[1].flags & SYSFS_W_RESTART);
	assert_string_equal(canon.v[1].path, CTX "/operations");
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&ref);
}

/* kd_commit(regions_changed false): canonical as at start, commit with nr_regions 0 for every target */
static void test_commit_keep_golden(void **state)
{
	struct fx *x = *state;
	struct write_list held = {}, commit = {}, canon = {}, ref = {}, refk = {};

	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &held), 0);
	x->o.slots[0] = (struct kd_slot_overlay){ .quota_set = true, .quota_bytes = 12345 * 4096 };
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	ref_render(x, x->targets, x->nr_targets, false, x->o.slots, &ref);
	ref_render(x, x->targets, x->nr_targets, true, x->o.slots, &refk);
	assert_lists_equal(&canon, &ref);
	assert_lists_equal(&commit, &refk);
	assert_string_equal(nr_regions_value(&commit, 0), "0");
	assert_string_equal(nr_regions_value(&commit, 1), "0");
	assert_null(region_block(&commit, 0));
	/* the quota went into both */
	{
		size_t d = write_list_first_diff(&held, &canon);

		assert_string_equal(canon.v[d].path, CTX "/schemes/0/quotas/bytes");
		assert_string_equal(canon.v[d].value, "50565120");
	}
	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&ref);
	write_list_done(&refk);
}

static void set_cuts(struct fx *x, const struct damon_addr_range *cut, size_t nc)
{
	for (size_t t = 0; t < x->o.nr_targets; t++)
		assert_true(kd_overlay_set_exclude(&x->o, t, cut, nc) >= 0);
}

/* Emulation gaps, by hand: what targets_with_gaps() leaves of the policy. */
static void test_gaps_by_hand(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut[] = {
		{ 0x200000, 0x300000 },               /* inside target 0's first range */
		{ 0x3ff00000 + 100, 0x90000000 + 5 }, /* across the end of one range and into the next, unaligned */
		{ 0x100000000, 0x140000000 },         /* all of target 1: never cut away */
	};
	const struct damon_addr_range want0[] = {
		{ 0x100000, 0x200000 },
		{ 0x300000, 0x3ff00000 },
		{ 0x90001000, 0xc0000000 },
	};
	struct damon_addr_range *v = NULL;
	size_t n = 0;
	struct write_list commit = {}, canon = {};
	const struct sysfs_write *b;

	assert_int_equal(kd_overlay_set_exclude(&x->o, 0, cut, ARRAY_SIZE(cut)), 1);
	assert_int_equal(kd_overlay_set_exclude(&x->o, 0, cut, ARRAY_SIZE(cut)), 0);
	assert_int_equal(kd_overlay_set_exclude(&x->o, 1, cut, ARRAY_SIZE(cut)), 1);
	assert_int_equal(plan_target_span(&x->p, &x->o, 0, &v, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(want0));
	assert_memory_equal(v, want0, sizeof(want0));
	free(v);
	assert_int_equal(plan_target_span(&x->p, &x->o, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].start, 0x100000000);
	assert_int_equal(v[0].end, 0x140000000);
	free(v);
	assert_int_equal(plan_target_span(&x->p, &x->o, 2, &v, &n), -ERANGE);

	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, &commit, &canon), 0);
	b = region_block(&canon, 0);
	assert_non_null(b);
	assert_int_equal(b->nr_regions, ARRAY_SIZE(want0));
	assert_memory_equal(b->regions, want0, sizeof(want0));
	assert_string_equal(nr_regions_value(&canon, 0), "3");
	assert_lists_equal(&commit, &canon);
	write_list_done(&commit);
	write_list_done(&canon);
}

/*
 * The canonical list borrows the configuration's ranges (a resolved target
 * with regions_borrowed, as daemon/kdamond-plan.c makes them) instead of
 * keeping a second copy for the kdamond's life; a target with its own
 * array, a span with exclusions cut out and the commit list keep copies.
 * The borrowed list still renders and hashes the same.
 */
static void test_canonical_borrows_config_ranges(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut[] = { { 0x200000, 0x300000 } };
	struct write_list commit = {}, canon = {}, owned = {};
	const struct sysfs_write *b0, *b1;
	char *h1, *h2;

	/* without the flag: copies (the renderer's own) */
	assert_int_equal(plan_compose(&x->p, NULL, &x->f, NULL, NULL, &owned), 0);
	assert_false(write_list_borrows(&owned));

	x->targets[0].regions_borrowed = true; /* shares the config's array, as resolve_target_regions() does */
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, &commit, &canon), 0);
	b0 = region_block(&canon, 0);
	b1 = region_block(&canon, 1);
	assert_non_null(b0);
	assert_non_null(b1);
	assert_true(b0->regions_borrowed);
	assert_ptr_equal(b0->regions, x->k->ctx.targets[0].regions);
	assert_false(b1->regions_borrowed); /* second_target: not the config's */
	assert_false(write_list_borrows(&commit));
	assert_lists_equal(&canon, &owned);
	assert_lists_equal(&commit, &canon);
	h1 = write_list_hash_hex(&canon);
	h2 = write_list_hash_hex(&owned);
	assert_string_equal(h1, h2);
	free(h1);
	free(h2);
	write_list_done(&canon); /* must not free the config's array (ASan: double free at teardown) */
	write_list_done(&commit);
	assert_int_equal(x->k->ctx.targets[0].regions[0].start, 0x100000);

	/* exclusions cut the span: a new array, owned */
	assert_int_equal(kd_overlay_set_exclude(&x->o, 0, cut, ARRAY_SIZE(cut)), 1);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &canon), 0);
	assert_false(write_list_borrows(&canon));
	write_list_done(&canon);
	write_list_done(&owned);
	x->targets[0].regions_borrowed = false;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random gaps: plan_compose() against targets_with_gaps() + plan_render(), start and commit, 500 rounds. */
static void test_gaps_golden_random(void **state)
{
	struct fx *x = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (unsigned round = 0; round < 500; round++) {
		struct damon_addr_range cut[12];
		size_t nc = rnd(&seed) % ARRAY_SIZE(cut);
		struct ref_targets g = {};
		struct write_list held = {}, commit = {}, canon = {}, ref = {};

		for (size_t c = 0; c < nc; c++) {
			uint64_t a = rnd(&seed) % (6 * GiB), len = rnd(&seed) % (round % 2 ? 64 * MiB : 2 * GiB);

			/* some page-aligned, some not */
			if (rnd(&seed) % 2)
				a &= ~4095ULL;
			cut[c] = (struct damon_addr_range){ a, a + len + 1 };
		}
		set_cuts(x, cut, nc);
		if (nc)
			ref_targets_with_gaps(x->targets, x->nr_targets, cut, nc, &g);
		/* the manager skipped the copy when there was nothing to cut */
		ref_render(x, g.t ? g.t : x->targets, x->nr_targets, false, NULL, &ref);
		assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, &commit, &canon), 0);
		assert_lists_equal(&canon, &ref);
		assert_lists_equal(&commit, &ref);
		/* a commit over itself keeps the kernel's regions */
		held = canon;
		canon = (struct write_list){};
		write_list_done(&commit);
		assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
		assert_lists_equal(&canon, &held);
		assert_string_equal(nr_regions_value(&commit, 0), "0");
		assert_string_equal(nr_regions_value(&commit, 1), "0");
		write_list_done(&held);
		write_list_done(&commit);
		write_list_done(&canon);
		write_list_done(&ref);
		ref_targets_done(&g);
	}
}

/* kd_commit(gaps_changed true): new gaps go with all the targets' regions, canonical and commit alike */
static void test_gaps_changed_golden(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut[] = { { 0x10000000, 0x20000000 } };
	struct write_list held = {}, commit = {}, canon = {}, ref = {};
	struct ref_targets g = {};

	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &held), 0);
	set_cuts(x, cut, 1);
	x->o.slots[0] = (struct kd_slot_overlay){ .quota_set = true, .quota_bytes = 1 << 20 };
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	ref_targets_with_gaps(x->targets, x->nr_targets, cut, 1, &g);
	ref_render(x, g.t, g.n, false, x->o.slots, &ref);
	assert_lists_equal(&canon, &ref);
	assert_lists_equal(&commit, &ref);
	assert_true(write_list_regions_changed(&held, &canon));
	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&ref);
	ref_targets_done(&g);
}

/* A snapshot of target t's span as the kernel might hold it: each span range in `pieces` regions. */
static size_t snapshot_of(const struct damon_addr_range *span, size_t n, unsigned pieces, struct snapshot_region *ret)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t step = ((span[i].end - span[i].start) / pieces) & ~4095ULL;

		for (unsigned p = 0; p < pieces; p++)
			ret[k++] = (struct snapshot_region){
				.start = span[i].start + p * step,
				.end = p + 1 == pieces ? span[i].end : span[i].start + (p + 1) * step,
				.nr_accesses = p,
			};
	}
	return k;
}

/*
 * kd_refine(): the layout is refine_layout() over the gapped span; the commit
 * carries it for the split target and nr_regions 0 for the other; kd->written
 * (the canonical list) stays the policy minus the gaps.
 */
static void test_refine_golden(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut[] = { { 0x10000000, 0x20000000 } };
	struct snapshot_region snap[32];
	struct refine_split splits[2];
	struct damon_addr_range lay[64];
	struct ref_targets g = {}, ov = {};
	struct write_list held = {}, commit = {}, canon = {}, ref = {};
	size_t ns;
	int n;

	set_cuts(x, cut, 1);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &held), 0);
	ref_targets_with_gaps(x->targets, x->nr_targets, cut, 1, &g);
	ns = snapshot_of(g.t[0].regions, g.t[0].nr_regions, 4, snap);
	splits[0] = (struct refine_split){
		.target = 0, .at = snap[1].start + 0x100000, .start = snap[1].start, .end = snap[1].end
	};
	splits[1] = (struct refine_split){
		.target = 0, .at = snap[5].start + 0x200000, .start = snap[5].start, .end = snap[5].end
	};
	n = refine_layout(snap, ns, g.t[0].regions, g.t[0].nr_regions, splits, 2, 0, lay, ARRAY_SIZE(lay));
	assert_true(n > (int)ns);

	/* the manager's override: target 0 refined, target 1 as nr_regions 0 */
	ov.t = calloc(2, sizeof(*ov.t));
	assert_non_null(ov.t);
	ov.n = 2;
	ov.t[0] = g.t[0];
	ov.t[0].regions = malloc((size_t)n * sizeof(*lay));
	assert_non_null(ov.t[0].regions);
	memcpy(ov.t[0].regions, lay, (size_t)n * sizeof(*lay));
	ov.t[0].nr_regions = (size_t)n;
	ov.t[1] = g.t[1];
	ov.t[1].regions = NULL;
	ov.t[1].nr_regions = 0;
	ref_render(x, ov.t, ov.n, false, NULL, &ref);

	assert_int_equal(kd_overlay_set_layout(&x->o, 0, lay, (size_t)n), 0);
	assert_true(x->o.targets[0].layout_new);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	assert_lists_equal(&commit, &ref);
	assert_lists_equal(&canon, &held);

	/* committed: a quota-only commit leaves every target's regions to the kernel again */
	kd_overlay_committed(&x->o);
	assert_false(x->o.targets[0].layout_new);
	write_list_done(&commit);
	write_list_done(&canon);
	x->o.slots[0] = (struct kd_slot_overlay){ .quota_set = true, .quota_bytes = 1 << 20 };
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	assert_string_equal(nr_regions_value(&commit, 0), "0");
	assert_string_equal(nr_regions_value(&commit, 1), "0");
	assert_false(write_list_regions_changed(&held, &canon));

	/* a deferred (EBUSY) refinement commit redone from the overlay carries the same layout */
	assert_int_equal(kd_overlay_set_layout(&x->o, 0, lay, (size_t)n), 0);
	write_list_done(&commit);
	write_list_done(&canon);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	assert_non_null(region_block(&commit, 0));
	assert_int_equal(region_block(&commit, 0)->nr_regions, (size_t)n);
	assert_memory_equal(region_block(&commit, 0)->regions, lay, (size_t)n * sizeof(*lay));

	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&ref);
	ref_targets_done(&g);
	ref_targets_done(&ov);
}

static bool has_boundary(const struct sysfs_write *b, uint64_t at)
{
	for (size_t i = 0; i + 1 < b->nr_regions; i++)
		if (b->regions[i].end == at && b->regions[i + 1].start == at)
			return true;
	return false;
}

/*
 * The bug the plan fixes: refinement committed its cuts, then the charge
 * emulation adds a gap. The manager rendered the policy minus the gaps and
 * dropped the cuts; the plan re-cuts the layout against the new gaps.
 */
static void test_refine_cuts_survive_new_gaps(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut1[] = { { 0x10000000, 0x20000000 } };
	const struct damon_addr_range cut2[] = { { 0x10000000, 0x20000000 }, { 0x30000000, 0x30800000 } };
	struct snapshot_region snap[32];
	struct refine_split split;
	struct damon_addr_range lay[64], *span = NULL;
	struct write_list held = {}, commit = {}, canon = {}, old = {};
	struct ref_targets g = {};
	const struct sysfs_write *b;
	size_t ns, nspan = 0, covered = 0, want = 0;
	int n;

	set_cuts(x, cut1, 1);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &held), 0);
	assert_int_equal(plan_target_span(&x->p, &x->o, 0, &span, &nspan), 0);
	ns = snapshot_of(span, nspan, 4, snap);
	free(span);
	/* refine splits the region holding 0x8000000 at 0x8000000, and another one far from the new gap */
	split = (struct refine_split){ .target = 0, .at = 0x8000000 };
	for (size_t i = 0; i < ns; i++)
		if (snap[i].start < split.at && split.at < snap[i].end) {
			split.start = snap[i].start;
			split.end = snap[i].end;
		}
	assert_true(split.end > 0);
	ref_targets_with_gaps(x->targets, x->nr_targets, cut1, 1, &g);
	n = refine_layout(snap, ns, g.t[0].regions, g.t[0].nr_regions, &split, 1, 0, lay, ARRAY_SIZE(lay));
	ref_targets_done(&g);
	assert_true(n > 0);
	assert_int_equal(kd_overlay_set_layout(&x->o, 0, lay, (size_t)n), 0);
	kd_overlay_committed(&x->o); /* the refinement commit landed */

	/* the charge emulation adds the gap [0x30000000, 0x30800000) */
	set_cuts(x, cut2, 2);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	assert_true(write_list_regions_changed(&held, &canon));

	/* canonical: the policy minus both gaps, as before */
	ref_targets_with_gaps(x->targets, x->nr_targets, cut2, 2, &g);
	ref_render(x, g.t, g.n, false, NULL, &old);
	assert_lists_equal(&canon, &old);

	/* what the manager committed: the plain span; the plan's commit differs from it in target 0 only */
	assert_false(write_list_equal(&commit, &old));
	b = region_block(&commit, 0);
	assert_non_null(b);
	/* refine's cuts are there: its split, and the snapshot boundaries not in the gap */
	assert_true(has_boundary(b, 0x8000000));
	for (size_t i = 0; i + 1 < ns; i++)
		if (snap[i].end == snap[i + 1].start && !(snap[i].end >= 0x30000000 && snap[i].end <= 0x30800000))
			assert_true(has_boundary(b, snap[i].end));
	/* and it covers exactly the new span: nothing in the new gap, nothing outside the policy */
	for (size_t i = 0; i < b->nr_regions; i++) {
		assert_true(b->regions[i].start < b->regions[i].end);
		assert_false(b->regions[i].start < 0x30800000 && b->regions[i].end > 0x30000000);
		assert_false(b->regions[i].start < 0x20000000 && b->regions[i].end > 0x10000000);
		if (i)
			assert_true(b->regions[i - 1].end <= b->regions[i].start);
		covered += b->regions[i].end - b->regions[i].start;
	}
	for (size_t i = 0; i < g.t[0].nr_regions; i++)
		want += g.t[0].regions[i].end - g.t[0].regions[i].start;
	assert_int_equal(covered, want);
	/* target 1 had no layout: its span, as the manager wrote it */
	assert_true(sysfs_write_equal(region_block(&commit, 1), region_block(&old, 1)));

	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&old);
	ref_targets_done(&g);
}

static void test_recut(void **state)
{
	const uint64_t P = 4096;
	const struct damon_addr_range span[] = { { 0, 40 * P }, { 60 * P, 120 * P } };
	const struct damon_addr_range layout[] = {
		{ 0, 10 * P }, { 10 * P, 50 * P }, { 50 * P, 100 * P }, /* made for no gaps; 100P..120P was not there */
	};
	const struct damon_addr_range want[] = {
		{ 0, 10 * P }, { 10 * P, 40 * P }, { 60 * P, 100 * P }, { 100 * P, 120 * P }
	};
	struct damon_addr_range *v = NULL;
	size_t n = 0;

	assert_int_equal(plan_recut(span, 2, layout, 3, &v, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(want));
	assert_memory_equal(v, want, sizeof(want));
	free(v);
	/* no layout: the span */
	assert_int_equal(plan_recut(span, 2, NULL, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(v, span, sizeof(span));
	free(v);
	/* unsorted layout, repeated boundaries */
	{
		const struct damon_addr_range l2[] = { { 30 * P, 35 * P }, { 5 * P, 30 * P }, { 5 * P, 6 * P } };
		const struct damon_addr_range w2[] = { { 0, 5 * P },       { 5 * P, 6 * P },   { 6 * P, 30 * P },
						       { 30 * P, 35 * P }, { 35 * P, 40 * P }, { 60 * P, 120 * P } };

		assert_int_equal(plan_recut(span, 2, l2, 3, &v, &n), 0);
		assert_int_equal(n, ARRAY_SIZE(w2));
		assert_memory_equal(v, w2, sizeof(w2));
		free(v);
	}
}

/* vaddr: no gaps (the kernel follows the mappings); a layout goes as it is, as kd_refine committed it */
static void test_vaddr(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range cut[] = { { 0x7f0000100000, 0x7f0000200000 } };
	const struct damon_addr_range lay[] = {
		{ 0x7f0000000000, 0x7f0000080000 },
		{ 0x7f0000080000, 0x7f0000900000 },
	};
	struct write_list held = {}, commit = {}, canon = {}, ref = {};
	const struct sysfs_write *b;

	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &held), 0);
	set_cuts(x, cut, 1);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	ref_render(x, x->targets, x->nr_targets, false, NULL, &ref);
	assert_lists_equal(&canon, &ref);
	assert_lists_equal(&canon, &held);
	write_list_done(&ref);
	ref_render(x, x->targets, x->nr_targets, true, NULL, &ref);
	assert_lists_equal(&commit, &ref);

	write_list_done(&commit);
	write_list_done(&canon);
	assert_int_equal(kd_overlay_set_layout(&x->o, 0, lay, 2), 0);
	assert_int_equal(kd_overlay_set_layout(&x->o, 1, lay, 1), 0);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	b = region_block(&commit, 0);
	assert_non_null(b);
	assert_int_equal(b->nr_regions, 2);
	assert_memory_equal(b->regions, lay, sizeof(lay));
	/* target 1 has no ranges of its own: the layout too */
	b = region_block(&commit, 1);
	assert_non_null(b);
	assert_int_equal(b->nr_regions, 1);
	assert_memory_equal(b->regions, lay, sizeof(lay[0]));
	assert_lists_equal(&canon, &held);
	assert_string_equal(canon.v[write_list_find_target_regions(&canon, 0) - 1].path, CTX "/targets/0/pid_target");

	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&ref);
}

/* A reload's slot layout with a tombstone, and an overlay sized for fewer slots/targets than the policy. */
static void test_tombstone_and_short_overlay(void **state)
{
	struct fx *x = *state;
	const int map[] = { -1, 1 };
	struct kd_policy p;
	struct kd_overlay o;
	struct write_list canon = {}, ref = {}, held = {}, commit = {};

	assert_int_equal(kd_policy_init_map(&p, 3, x->k, x->targets, x->nr_targets, map, 2), 0);
	assert_null(p.slots[0].cfg);
	assert_ptr_equal(p.slots[1].cfg, &x->k->ctx.schemes[1]);
	assert_int_equal(kd_overlay_init(&o, 1, 1), 0);
	o.slots[0] = (struct kd_slot_overlay){ .quota_set = true, .quota_bytes = 4096 };
	assert_int_equal(plan_compose(&p, &o, &x->f, NULL, NULL, &canon), 0);
	{
		struct scheme_slot slots[2] = { { .cfg = NULL, .quota_override = true, .quota_bytes = 4096 },
						{ .cfg = &x->k->ctx.schemes[1] } };
		struct kdamond_plan kp = {
			.cfg = x->k, .targets = x->targets, .nr_targets = x->nr_targets, .slots = slots, .nr_slots = 2
		};

		assert_int_equal(damon_render_kdamond(3, &kp, &x->f, &ref), 0);
	}
	assert_lists_equal(&canon, &ref);
	assert_string_equal(canon.v[write_list_find_target_regions(&canon, 0) + 2].path,
			    CTX "/targets/1/regions/nr_regions");
	/* target 1 is beyond the overlay: no layout, no gaps; a layout for target 0 still goes */
	held = canon;
	canon = (struct write_list){};
	assert_int_equal(kd_overlay_set_layout(&o, 0, x->targets[0].regions, 1), 0);
	assert_int_equal(kd_overlay_set_layout(&o, 1, NULL, 0), -ERANGE);
	assert_int_equal(plan_compose(&p, &o, &x->f, &held, &commit, NULL), 0);
	assert_non_null(region_block(&commit, 0));
	assert_string_equal(nr_regions_value(&commit, 1), "0");

	/* a slot naming a scheme the config does not have */
	{
		struct kd_policy bad;

		assert_int_equal(kd_policy_init_map(&bad, 0, x->k, NULL, 0, (const int[]){ 7 }, 1), -EINVAL);
	}
	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&ref);
	kd_overlay_done(&o);
	kd_policy_done(&p);
}

static const char *value_at(const struct write_list *l, const char *path);

/* region refinement's raise law: the overlay's max_nr_regions goes into both lists, the regions stay the kernel's */
static void test_raised_max_nr_regions(void **state)
{
	struct fx *x = *state;
	const int map[] = { 0, 1 };
	struct kd_policy p;
	struct kd_overlay o;
	struct write_list held = {}, canon = {}, commit = {};
	char want[32];

	assert_int_equal(kd_policy_init_map(&p, 3, x->k, x->targets, x->nr_targets, map, 2), 0);
	assert_int_equal(kd_overlay_init(&o, 2, x->nr_targets), 0);
	assert_int_equal(plan_compose(&p, &o, &x->f, NULL, NULL, &held), 0);
	snprintf(want, sizeof(want), "%" PRIu64, x->k->ctx.max_nr_regions);
	assert_string_equal(value_at(&held, CTX "/monitoring_attrs/nr_regions/max"), want);

	o.max_nr_regions = 2 * x->k->ctx.max_nr_regions;
	assert_int_equal(plan_compose(&p, &o, &x->f, &held, &commit, &canon), 0);
	snprintf(want, sizeof(want), "%" PRIu64, 2 * x->k->ctx.max_nr_regions);
	assert_string_equal(value_at(&commit, CTX "/monitoring_attrs/nr_regions/max"), want);
	assert_string_equal(value_at(&canon, CTX "/monitoring_attrs/nr_regions/max"), want);
	/* the config itself is untouched, and the kernel keeps every target's regions */
	snprintf(want, sizeof(want), "%" PRIu64, x->k->ctx.max_nr_regions);
	assert_string_not_equal(value_at(&commit, CTX "/monitoring_attrs/nr_regions/max"), want);
	for (size_t t = 0; t < x->nr_targets; t++)
		assert_string_equal(nr_regions_value(&commit, t), "0");
	write_list_done(&held);
	write_list_done(&canon);
	write_list_done(&commit);
	kd_overlay_done(&o);
	kd_policy_done(&p);
}

/* ---- the exclusion as leading addr reject filters (vaddr/fvaddr) ----------- */

/* the value written to path (NULL: not written) */
static const char *value_at(const struct write_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].path && streq(l->v[i].path, path))
			return l->v[i].value;
	return NULL;
}

/* filter j of dir (of scheme 0) is an addr filter [start, end) with matching m and, where written, allow a */
static void assert_addr_filter(const struct write_list *l, const char *dir, unsigned j, uint64_t start, uint64_t end,
			       const char *m, const char *a)
{
	char p[256], v[32];

	snprintf(p, sizeof(p), CTX "/schemes/0/%s/%u/type", dir, j);
	assert_string_equal(value_at(l, p), "addr");
	snprintf(p, sizeof(p), CTX "/schemes/0/%s/%u/matching", dir, j);
	assert_string_equal(value_at(l, p), m);
	snprintf(p, sizeof(p), CTX "/schemes/0/%s/%u/allow", dir, j);
	if (a)
		assert_string_equal(value_at(l, p), a);
	else
		assert_null(value_at(l, p));
	snprintf(p, sizeof(p), CTX "/schemes/0/%s/%u/addr_start", dir, j);
	snprintf(v, sizeof(v), "%" PRIu64, start);
	assert_string_equal(value_at(l, p), v);
	snprintf(p, sizeof(p), CTX "/schemes/0/%s/%u/addr_end", dir, j);
	snprintf(v, sizeof(v), "%" PRIu64, end);
	assert_string_equal(value_at(l, p), v);
}

/* the kernel's filter directories as 6.12 has them: filters/ only, no allow */
static void features_612(struct damon_features *f)
{
	f->f[FEATURE_CORE_OPS_FILTERS] = FEATURE_ABSENT;
	f->f[FEATURE_FILTER_ALLOW] = FEATURE_ABSENT;
	f->f[FEATURE_LEGACY_FILTERS] = FEATURE_PRESENT;
}

/*
 * Slot 0's reject ranges go in front of the user's filters, in the core
 * layer's directory: core_filters/ where the kernel splits the layers (the
 * user's auto addr filter after them there, the anon one in ops_filters/),
 * filters/ on 6.12 (all of the user's after them, in their order). The
 * other slot and the targets are untouched.
 */
static void test_reject_filters_order(void **state)
{
	struct fx *x = *state;
	const struct damon_addr_range rej[] = {
		{ 0x10000000, 0x50000000 },
		{ 0x7f1000000000, 0x7f1000200000 },
	};
	struct write_list none = {}, canon = {}, held = {}, commit = {};

	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &none), 0);
	assert_int_equal(kd_overlay_set_reject(&x->o, 0, rej, 2), 1);
	assert_int_equal(kd_overlay_set_reject(&x->o, 0, rej, 2), 0); /* the same: no change */
	assert_int_equal(kd_overlay_set_reject(&x->o, 2, rej, 2), -ERANGE);

	/* split layers (6.15+) */
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &canon), 0);
	assert_string_equal(value_at(&canon, CTX "/schemes/0/core_filters/nr_filters"), "3");
	assert_addr_filter(&canon, "core_filters", 0, 0x10000000, 0x50000000, "Y", "N");
	assert_addr_filter(&canon, "core_filters", 1, 0x7f1000000000, 0x7f1000200000, "Y", "N");
	assert_addr_filter(&canon, "core_filters", 2, 0x7f0000000000, 0x7f0000100000, "Y", "N");
	assert_string_equal(value_at(&canon, CTX "/schemes/0/ops_filters/nr_filters"), "1");
	assert_string_equal(value_at(&canon, CTX "/schemes/0/ops_filters/0/type"), "anon");
	assert_string_equal(value_at(&canon, CTX "/schemes/0/ops_filters/0/matching"), "N");
	assert_string_equal(value_at(&canon, CTX "/schemes/0/filters/nr_filters"), "0");
	assert_string_equal(value_at(&canon, CTX "/schemes/1/core_filters/nr_filters"), "0");
	/* nothing else changed: the list without them is the list of before, from the filters on */
	{
		size_t d = write_list_first_diff(&none, &canon);

		assert_string_equal(canon.v[d].path, CTX "/schemes/0/core_filters/nr_filters");
		assert_int_equal(canon.n, none.n + 2 * 5); /* type, matching, allow, addr_start, addr_end */
		for (size_t i = d + 1 + 3 * 5; i < canon.n; i++)
			assert_string_equal(canon.v[i].path, none.v[i - 2 * 5].path);
	}
	/* a commit over the list without them carries them, and the target keeps its regions */
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &none, &commit, NULL), 0);
	assert_string_equal(value_at(&commit, CTX "/schemes/0/core_filters/nr_filters"), "3");
	assert_string_equal(nr_regions_value(&commit, 0), "0");
	write_list_done(&commit);
	write_list_done(&canon);
	write_list_done(&none);

	/* 6.12: filters/ only */
	features_612(&x->f);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, NULL, NULL, &canon), 0);
	assert_null(value_at(&canon, CTX "/schemes/0/core_filters/nr_filters"));
	assert_null(value_at(&canon, CTX "/schemes/0/ops_filters/nr_filters"));
	assert_string_equal(value_at(&canon, CTX "/schemes/0/filters/nr_filters"), "4");
	assert_addr_filter(&canon, "filters", 0, 0x10000000, 0x50000000, "Y", NULL);
	assert_addr_filter(&canon, "filters", 1, 0x7f1000000000, 0x7f1000200000, "Y", NULL);
	assert_addr_filter(&canon, "filters", 2, 0x7f0000000000, 0x7f0000100000, "Y", NULL);
	assert_string_equal(value_at(&canon, CTX "/schemes/0/filters/3/type"), "anon");
	assert_string_equal(value_at(&canon, CTX "/schemes/1/filters/nr_filters"), "0");

	/* held = what the kernel has; the same overlay again is the same list, none is a change of the filters */
	held = canon;
	canon = (struct write_list){};
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, NULL, &canon), 0);
	assert_true(write_list_equal(&held, &canon));
	write_list_done(&canon);
	assert_int_equal(kd_overlay_set_reject(&x->o, 0, NULL, 0), 1);
	assert_null(x->o.slots[0].reject);
	assert_int_equal(plan_compose(&x->p, &x->o, &x->f, &held, &commit, &canon), 0);
	assert_string_equal(value_at(&canon, CTX "/schemes/0/filters/nr_filters"), "2");
	assert_string_equal(value_at(&commit, CTX "/schemes/0/filters/nr_filters"), "2");
	assert_string_equal(value_at(&canon, CTX "/schemes/0/filters/0/addr_start"), "139637976727552");

	write_list_done(&held);
	write_list_done(&commit);
	write_list_done(&canon);
}

/* A tombstone slot gets no filters, whatever the overlay says. */
static void test_reject_filters_tombstone(void **state)
{
	struct fx *x = *state;
	const int map[] = { -1, 1 };
	const struct damon_addr_range rej[] = { { 0x10000000, 0x50000000 } };
	struct kd_policy p;
	struct kd_overlay o;
	struct write_list canon = {};

	assert_int_equal(kd_policy_init_map(&p, 3, x->k, x->targets, x->nr_targets, map, 2), 0);
	assert_int_equal(kd_overlay_init(&o, 2, 1), 0);
	assert_int_equal(kd_overlay_set_reject(&o, 0, rej, 1), 1);
	assert_int_equal(plan_compose(&p, &o, &x->f, NULL, NULL, &canon), 0);
	assert_string_equal(value_at(&canon, CTX "/schemes/0/core_filters/nr_filters"), "0");
	write_list_done(&canon);
	kd_overlay_done(&o);
	kd_policy_done(&p);
}

/*
 * The bound: sorted, overlapping and touching ranges merged, empty ones
 * dropped, then the neighbours with the smallest gap merged until at most
 * PLAN_MAX_REJECT_FILTERS are left; no excluded byte is given up.
 */
static void test_reject_filters_bound(void **state)
{
	struct fx *x = *state;
	struct damon_addr_range v[40], w[4];
	const struct damon_addr_range *r;
	uint64_t covered = 0;
	size_t n = 0;

	/* 4 by hand */
	w[0] = (struct damon_addr_range){ 0x5000, 0x6000 };
	w[1] = (struct damon_addr_range){ 0x1000, 0x3000 };
	w[2] = (struct damon_addr_range){ 0x2000, 0x4000 }; /* overlaps w[1] */
	w[3] = (struct damon_addr_range){ 0x9000, 0x9000 }; /* empty */
	assert_int_equal(plan_bound_ranges(w, 4, 16), 2);
	assert_int_equal(w[0].start, 0x1000);
	assert_int_equal(w[0].end, 0x4000);
	assert_int_equal(w[1].start, 0x5000);
	assert_int_equal(w[1].end, 0x6000);
	/* max 1: everything in one */
	assert_int_equal(plan_bound_ranges(w, 2, 1), 1);
	assert_int_equal(w[0].start, 0x1000);
	assert_int_equal(w[0].end, 0x6000);
	/* touching ranges are one filter */
	w[0] = (struct damon_addr_range){ 0x1000, 0x2000 };
	w[1] = (struct damon_addr_range){ 0x2000, 0x3000 };
	assert_int_equal(plan_bound_ranges(w, 2, 16), 1);
	assert_int_equal(w[0].end, 0x3000);

	/* 24 ranges of 1 MiB, in reverse order, 8 of them 1 page after the previous one, the rest 1 GiB apart */
	for (size_t i = 0; i < 24; i++) {
		uint64_t at = (i / 3) * GiB + (i % 3) * (MiB + 4096);

		v[23 - i] = (struct damon_addr_range){ at, at + MiB };
	}
	n = 24;
	assert_int_equal(kd_overlay_set_reject(&x->o, 0, v, n), 1);
	assert_int_equal(x->o.slots[0].nr_reject, PLAN_MAX_REJECT_FILTERS);
	r = x->o.slots[0].reject;
	for (size_t i = 0; i < PLAN_MAX_REJECT_FILTERS; i++) {
		assert_true(r[i].start < r[i].end);
		if (i)
			assert_true(r[i - 1].end < r[i].start);
		covered += r[i].end - r[i].start;
	}
	/* 8 merges, all across one-page gaps: the low 4 groups of three became two filters each... */
	assert_int_equal(covered, 24 * MiB + 8 * 4096);
	/* ...lowest addresses first on a tie: groups 0..3 hold one range each, groups 4..7 two */
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].end, 3 * MiB + 2 * 4096);
	assert_int_equal(r[3].start, 3 * GiB);
	assert_int_equal(r[3].end, 3 * GiB + 3 * MiB + 2 * 4096);
	assert_int_equal(r[4].start, 4 * GiB);
	assert_int_equal(r[4].end, 4 * GiB + MiB);
	assert_int_equal(r[15].end, 7 * GiB + 3 * MiB + 2 * 4096);
	/* the caller's array is not touched */
	assert_int_equal(v[0].start, 7 * GiB + 2 * (MiB + 4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_golden, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_raised_max_nr_regions, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_commit_keep_golden, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_by_hand, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_golden_random, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_gaps_changed_golden, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_refine_golden, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_refine_cuts_survive_new_gaps, setup_paddr, teardown),
		cmocka_unit_test(test_recut),
		cmocka_unit_test_setup_teardown(test_canonical_borrows_config_ranges, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_vaddr, setup_vaddr, teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_and_short_overlay, setup_paddr, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filters_order, setup_vaddr_filters, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filters_tombstone, setup_vaddr_filters, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filters_bound, setup_vaddr_filters, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
