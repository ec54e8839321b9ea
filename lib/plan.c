/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "damon-sysfs.h"
#include "macro.h"
#include "plan.h"

#define PAGE_SZ 4096ULL

int kd_policy_init(struct kd_policy *p, unsigned index, const struct kdamond_cfg *cfg,
		   const struct damon_target_cfg *targets, size_t nr_targets, size_t nr_slots)
{
	*p = (struct kd_policy){
		.index = index,
		.cfg = cfg,
		.targets = targets,
		.nr_targets = nr_targets,
	};
	p->slots = calloc(nr_slots ? nr_slots : 1, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	p->nr_slots = nr_slots;
	return 0;
}

int kd_policy_init_map(struct kd_policy *p, unsigned index, const struct kdamond_cfg *cfg,
		       const struct damon_target_cfg *targets, size_t nr_targets, const int *map, size_t nr_slots)
{
	int r = kd_policy_init(p, index, cfg, targets, nr_targets, nr_slots);

	if (r < 0)
		return r;
	for (size_t i = 0; i < nr_slots; i++) {
		if (map[i] >= 0 && (size_t)map[i] >= cfg->ctx.nr_schemes) {
			kd_policy_done(p);
			return -EINVAL;
		}
		p->slots[i].cfg = map[i] >= 0 ? &cfg->ctx.schemes[map[i]] : NULL;
	}
	return 0;
}

void kd_policy_done(struct kd_policy *p)
{
	free(p->slots);
	*p = (struct kd_policy){};
}

int kd_overlay_init(struct kd_overlay *o, size_t nr_slots, size_t nr_targets)
{
	*o = (struct kd_overlay){};
	o->slots = calloc(nr_slots ? nr_slots : 1, sizeof(*o->slots));
	o->targets = calloc(nr_targets ? nr_targets : 1, sizeof(*o->targets));
	if (!o->slots || !o->targets) {
		kd_overlay_done(o);
		return -ENOMEM;
	}
	o->nr_slots = nr_slots;
	o->nr_targets = nr_targets;
	return 0;
}

void kd_overlay_done(struct kd_overlay *o)
{
	for (size_t i = 0; o->slots && i < o->nr_slots; i++)
		free(o->slots[i].reject);
	for (size_t t = 0; o->targets && t < o->nr_targets; t++) {
		free(o->targets[t].exclude);
		free(o->targets[t].layout);
	}
	free(o->targets);
	free(o->slots);
	*o = (struct kd_overlay){};
}

static int ranges_dup(const struct damon_addr_range *v, size_t n, struct damon_addr_range **ret)
{
	struct damon_addr_range *c = NULL;

	if (n) {
		c = malloc(n * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memcpy(c, v, n * sizeof(*c));
	}
	*ret = c;
	return 0;
}

int kd_overlay_set_exclude(struct kd_overlay *o, size_t t, const struct damon_addr_range *v, size_t n)
{
	struct kd_target_overlay *x;
	struct damon_addr_range *c;
	int r;

	if (t >= o->nr_targets)
		return -ERANGE;
	x = &o->targets[t];
	if (n == x->nr_exclude && (!n || memcmp(v, x->exclude, n * sizeof(*v)) == 0))
		return 0;
	r = ranges_dup(v, n, &c);
	if (r < 0)
		return r;
	free(x->exclude);
	x->exclude = c;
	x->nr_exclude = n;
	return 1;
}

static int cmp_range(const void *a, const void *b)
{
	const struct damon_addr_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

size_t plan_bound_ranges(struct damon_addr_range *v, size_t n, size_t max)
{
	size_t k = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (v[i].end <= v[i].start)
			continue;
		if (k && v[i].start <= v[k - 1].end)
			v[k - 1].end = MAX(v[k - 1].end, v[i].end);
		else
			v[k++] = v[i];
	}
	if (max < 1)
		max = 1;
	while (k > max) {
		size_t best = 1;

		/* the smallest gap; on a tie the first (the lower addresses) */
		for (size_t i = 2; i < k; i++)
			if (v[i].start - v[i - 1].end < v[best].start - v[best - 1].end)
				best = i;
		v[best - 1].end = v[best].end;
		memmove(&v[best], &v[best + 1], (k - best - 1) * sizeof(*v));
		k--;
	}
	return k;
}

int kd_overlay_set_reject(struct kd_overlay *o, size_t s, const struct damon_addr_range *v, size_t n)
{
	struct kd_slot_overlay *x;
	struct damon_addr_range *c;
	int r;

	if (s >= o->nr_slots)
		return -ERANGE;
	x = &o->slots[s];
	r = ranges_dup(v, n, &c);
	if (r < 0)
		return r;
	n = plan_bound_ranges(c, n, PLAN_MAX_REJECT_FILTERS);
	if (n == x->nr_reject && (!n || memcmp(c, x->reject, n * sizeof(*c)) == 0)) {
		free(c);
		return 0;
	}
	if (!n) {
		free(c);
		c = NULL;
	}
	free(x->reject);
	x->reject = c;
	x->nr_reject = n;
	return 1;
}

int kd_overlay_set_layout(struct kd_overlay *o, size_t t, const struct damon_addr_range *v, size_t n)
{
	struct kd_target_overlay *x;
	struct damon_addr_range *c;
	int r;

	if (t >= o->nr_targets)
		return -ERANGE;
	x = &o->targets[t];
	r = ranges_dup(v, n, &c);
	if (r < 0)
		return r;
	free(x->layout);
	x->layout = c;
	x->nr_layout = n;
	x->layout_new = n > 0;
	return 0;
}

void kd_overlay_committed(struct kd_overlay *o)
{
	for (size_t t = 0; t < o->nr_targets; t++)
		o->targets[t].layout_new = false;
}

static const struct kd_target_overlay *target_overlay(const struct kd_overlay *o, size_t t)
{
	return o && t < o->nr_targets ? &o->targets[t] : NULL;
}

/*
 * src minus the cuts, in page-aligned pieces (what daemon/manager.c's
 * targets_with_gaps() did: the charge-ratio emulation excludes memory its
 * action fails on by leaving it out of the paddr target, docs/CONTROLLERS.md).
 */
static int cut_ranges(const struct damon_addr_range *src, size_t nr_src, const struct damon_addr_range *cut, size_t nc,
		      struct damon_addr_range **ret, size_t *ret_n)
{
	struct damon_addr_range *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < nr_src; i++) {
		uint64_t pos = src[i].start, end = src[i].end;

		while (pos < end) {
			uint64_t next_cut = end, resume = end;
			struct damon_addr_range *r;

			/* the earliest cut that overlaps [pos, end) */
			for (size_t c = 0; c < nc; c++)
				if (cut[c].end > pos && cut[c].start < end && MAX(cut[c].start, pos) < next_cut) {
					next_cut = MAX(cut[c].start, pos);
					resume = cut[c].end;
				}
			/* page-aligned kept piece [pos, next_cut) */
			if (next_cut - pos >= PAGE_SZ) {
				r = APPEND(v, n, cap);
				if (!r) {
					free(v);
					return -ENOMEM;
				}
				r->start = pos;
				r->end = next_cut & ~(PAGE_SZ - 1);
			}
			if (next_cut == end)
				break;
			pos = (MIN(resume, end) + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * Target t's span; *ret_borrowed: it is the policy's own array (no exclusion
 * applies), not a copy: 320 KB saved per composition at 20,000 ranges.
 */
static int target_span(const struct kd_policy *p, const struct kd_overlay *o, size_t t, bool borrow,
		       struct damon_addr_range **ret, size_t *ret_n, bool *ret_borrowed)
{
	const struct kd_target_overlay *x = target_overlay(o, t);
	const struct damon_target_cfg *src;
	int r;

	*ret_borrowed = false;
	if (t >= p->nr_targets)
		return -ERANGE;
	src = &p->targets[t];
	if (p->cfg->ctx.ops == DAMON_OPS_PADDR && x && x->nr_exclude) {
		r = cut_ranges(src->regions, src->nr_regions, x->exclude, x->nr_exclude, ret, ret_n);
		if (r < 0 || *ret_n)
			return r;
		/* never cut everything away: keep the policy's ranges */
		free(*ret);
	}
	*ret_n = src->nr_regions;
	if (borrow) {
		*ret = src->regions;
		*ret_borrowed = true;
		return 0;
	}
	return ranges_dup(src->regions, src->nr_regions, ret);
}

int plan_target_span(const struct kd_policy *p, const struct kd_overlay *o, size_t t, struct damon_addr_range **ret,
		     size_t *ret_n)
{
	bool borrowed;

	return target_span(p, o, t, false, ret, ret_n, &borrowed);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int plan_recut(const struct damon_addr_range *span, size_t nr_span, const struct damon_addr_range *layout,
	       size_t nr_layout, struct damon_addr_range **ret, size_t *ret_n)
{
	_cleanup_free_ uint64_t *b = NULL;
	struct damon_addr_range *v = NULL;
	size_t nb = 0, n = 0, cap = 0;

	b = malloc((nr_layout ? 2 * nr_layout : 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < nr_layout; i++) {
		b[nb++] = layout[i].start;
		b[nb++] = layout[i].end;
	}
	qsort(b, nb, sizeof(*b), cmp_u64);
	for (size_t i = 0; i < nr_span; i++) {
		uint64_t pos = span[i].start, end = span[i].end;
		size_t lo = 0, hi = nb;

		if (pos >= end)
			continue;

		/* the first boundary above pos */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (b[mid] <= pos)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (;;) {
			uint64_t at = lo < nb && b[lo] < end ? b[lo] : end;
			struct damon_addr_range *r = APPEND(v, n, cap);

			if (!r) {
				free(v);
				return -ENOMEM;
			}
			r->start = pos;
			r->end = at;
			if (at == end)
				break;
			pos = at;
			while (lo < nb && b[lo] <= pos)
				lo++;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

struct spans {
	struct damon_target_cfg *t;
	size_t n;
};

static void spans_done(struct spans *s)
{
	for (size_t i = 0; s->t && i < s->n; i++)
		if (!s->t[i].regions_borrowed)
			free(s->t[i].regions);
	free(s->t);
}

/* The regions a commit carries for a target with layout x over span: the layout re-cut against the span. */
static int layout_regions(const struct kd_policy *p, const struct kd_target_overlay *x,
			  const struct damon_target_cfg *span, struct damon_addr_range **ret, size_t *ret_n)
{
	/* vaddr follows the mappings, and a target without ranges has the kernel's: the layout is the span */
	if (p->cfg->ctx.ops == DAMON_OPS_VADDR || !span->nr_regions) {
		*ret_n = x->nr_layout;
		return ranges_dup(x->layout, x->nr_layout, ret);
	}
	return plan_recut(span->regions, span->nr_regions, x->layout, x->nr_layout, ret, ret_n);
}

int plan_compose(const struct kd_policy *p, const struct kd_overlay *o, const struct damon_features *f,
		 const struct write_list *held, struct write_list *ret_commit, struct write_list *ret_canonical)
{
	_cleanup_free_ struct scheme_slot *slots = NULL;
	_cleanup_(write_list_done) struct write_list canon = {}, commit = {};
	_cleanup_(spans_done) struct spans sp = {};
	struct kdamond_plan plan;
	const struct kdamond_cfg *cfg = p->cfg;
	struct kdamond_cfg raised;
	bool changed;
	int r;

	sp.t = calloc(p->nr_targets ? p->nr_targets : 1, sizeof(*sp.t));
	slots = calloc(p->nr_slots ? p->nr_slots : 1, sizeof(*slots));
	if (!sp.t || !slots)
		return -ENOMEM;
	for (size_t t = 0; t < p->nr_targets; t++) {
		sp.t[t] = p->targets[t];
		sp.t[t].regions = NULL;
		sp.t[t].nr_regions = 0;
		sp.t[t].regions_borrowed = false;
		sp.n = t + 1;
		r = target_span(p, o, t, true, &sp.t[t].regions, &sp.t[t].nr_regions, &sp.t[t].regions_borrowed);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->nr_slots; i++) {
		const struct kd_slot_overlay *q = o && i < o->nr_slots ? &o->slots[i] : NULL;

		slots[i] = (struct scheme_slot){
			.cfg = p->slots[i].cfg,
			.native_fail_charge = p->slots[i].native_fail_charge,
			.quota_override = q && q->quota_set,
			.quota_bytes = q ? q->quota_bytes : 0,
			.fed_goals = p->slots[i].fed_goals,
			.goal_values_set = q ? q->goal_set : 0,
			.goal_values = q ? q->goal_value : NULL,
			.goals_by_damond = p->slots[i].temporal_emulated,
			.quota_cap_set = q && q->quota_cap_set,
			.quota_cap = q ? q->quota_cap : 0,
			.hold = q && q->hold,
			/* the emulation's exclusions: target gaps on paddr (above), these filters on vaddr/fvaddr */
			.reject = q && p->slots[i].cfg ? q->reject : NULL,
			.nr_reject = q && p->slots[i].cfg ? q->nr_reject : 0,
		};
	}
	if (o && o->max_nr_regions && o->max_nr_regions != p->cfg->ctx.max_nr_regions) {
		/* a shallow copy: only the attribute differs, everything it points to stays the config's */
		raised = *p->cfg;
		raised.ctx.max_nr_regions = o->max_nr_regions;
		cfg = &raised;
	}
	plan = (struct kdamond_plan){
		.cfg = cfg,
		.targets = sp.t,
		.nr_targets = p->nr_targets,
		.slots = slots,
		.nr_slots = p->nr_slots,
	};
	r = damon_render_kdamond(p->index, &plan, f, &canon);
	if (r < 0)
		return r;
	/*
	 * The canonical list becomes what the kernel holds (kd->written) and
	 * lives as long as the kdamond: where a target's span is the
	 * configuration's own array, its region block borrows it instead of
	 * keeping a second copy (at 20,000 ranges, 320 KB for the daemon's life).
	 */
	for (size_t t = 0; t < p->nr_targets; t++)
		if (sp.t[t].regions_borrowed && p->targets[t].regions_borrowed)
			(void)write_list_borrow_target_regions(&canon, t, p->targets[t].regions,
							       p->targets[t].nr_regions);

	if (ret_commit) {
		r = write_list_copy(&canon, &commit);
		if (r < 0)
			return r;
		changed = !held || write_list_regions_changed(held, &canon);
		for (size_t t = 0; t < p->nr_targets; t++) {
			const struct kd_target_overlay *x = target_overlay(o, t);
			_cleanup_free_ struct damon_addr_range *v = NULL;
			bool layout = x && x->nr_layout;
			size_t n = 0;

			if (changed && !layout)
				continue; /* the span, as in the canonical list */
			if (!changed && !(layout && x->layout_new)) {
				/* nr_regions 0: the kernel keeps its regions and their history */
				r = write_list_set_target_regions(&commit, t, NULL, 0);
			} else {
				/* a new layout, or a span that changed under a layout: re-cut, not dropped */
				r = layout_regions(p, x, &sp.t[t], &v, &n);
				if (r >= 0)
					r = write_list_set_target_regions(&commit, t, v, n);
			}
			if (r < 0)
				return r;
		}
		*ret_commit = commit;
		commit = (struct write_list){};
	}
	if (ret_canonical) {
		*ret_canonical = canon;
		canon = (struct write_list){};
	}
	return 0;
}
