/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the controllers share (lib/controller.h): the per-slot observation
 * update, sensor needs, and the overlay comparison the arbitration checks
 * with. The registry and the arbitration rules are in lib/ctrl-registry.c.
 */
#include <string.h>

#include "controller.h"
#include "macro.h"

static uint64_t since(uint64_t now, uint64_t before)
{
	return now - MIN(now, before);
}

void kd_slot_obs_update(struct kd_slot_obs *s, const struct scheme_observation *o)
{
	const struct damos_stats *st;
	struct damos_stats prev;

	s->fresh = false;
	if (!o || o->stats_source == OBS_SOURCE_NONE)
		return;
	if (s->have && o->stats_at_us <= s->at_us)
		return; /* nothing newer since the last refresh */
	st = &o->stats;
	s->fresh = true;
	prev = s->stats;
	if (s->have) {
		s->prev_at_us = s->at_us;
		s->have_prev = true;
	}
	s->stats = *st;
	if (o->esz_source == OBS_SOURCE_NONE && s->have)
		s->stats.effective_bytes = prev.effective_bytes;
	s->at_us = o->stats_at_us;
	s->stats_source = o->stats_source;
	s->esz_source = o->esz_source;
	s->have = true;
	if (s->have_prev && s->at_us > s->prev_at_us) {
		double dt = (double)(s->at_us - s->prev_at_us) / 1e6;

		s->delta = (struct damos_stats){
			.nr_tried = since(st->nr_tried, prev.nr_tried),
			.sz_tried = since(st->sz_tried, prev.sz_tried),
			.nr_applied = since(st->nr_applied, prev.nr_applied),
			.sz_applied = since(st->sz_applied, prev.sz_applied),
			.qt_exceeds = since(st->qt_exceeds, prev.qt_exceeds),
			.sz_ops_filter_passed = since(st->sz_ops_filter_passed, prev.sz_ops_filter_passed),
			.has_sz_ops_filter_passed = st->has_sz_ops_filter_passed,
			.effective_bytes = s->stats.effective_bytes,
		};
		s->tried_bps = (double)s->delta.sz_tried / dt;
		s->applied_bps = (double)s->delta.sz_applied / dt;
	}
}

void kd_slot_obs_forget_rates(struct kd_slot_obs *s)
{
	s->have_prev = false;
	s->tried_bps = s->applied_bps = 0;
	s->delta = (struct damos_stats){};
}

void ctrl_sensor_needs_merge(struct ctrl_sensor_needs *a, const struct ctrl_sensor_needs *b)
{
	if (!b->pageflags_classes)
		return;
	if (!a->pageflags_classes) {
		*a = *b;
		return;
	}
	a->pageflags_classes |= b->pageflags_classes;
	a->pageflags_start = MIN(a->pageflags_start, b->pageflags_start);
	a->pageflags_end = MAX(a->pageflags_end, b->pageflags_end);
	a->pageflags_period_us = MIN(a->pageflags_period_us, b->pageflags_period_us);
	if (b->pageflags_free_drop_bytes &&
	    (!a->pageflags_free_drop_bytes || b->pageflags_free_drop_bytes < a->pageflags_free_drop_bytes))
		a->pageflags_free_drop_bytes = b->pageflags_free_drop_bytes;
	if (!a->pageflags_pid)
		a->pageflags_pid = b->pageflags_pid;
}

static bool ranges_differ(const struct damon_addr_range *a, size_t na, const struct damon_addr_range *b, size_t nb)
{
	return na != nb || (na && memcmp(a, b, na * sizeof(*a)) != 0);
}

unsigned ctrl_overlay_diff(const struct kd_overlay *a, const struct kd_overlay *b)
{
	unsigned d = 0;

	for (size_t i = 0; i < MAX(a->nr_slots, b->nr_slots); i++) {
		const struct kd_slot_overlay *x = i < a->nr_slots ? &a->slots[i] : NULL;
		const struct kd_slot_overlay *y = i < b->nr_slots ? &b->slots[i] : NULL;

		if (!x || !y || x->quota_set != y->quota_set || x->quota_bytes != y->quota_bytes)
			d |= CTRL_OWNS_QUOTA;
		if (!x || !y || x->goal_set != y->goal_set ||
		    memcmp(x->goal_value, y->goal_value, sizeof(x->goal_value)) ||
		    x->quota_cap_set != y->quota_cap_set || x->quota_cap != y->quota_cap)
			d |= CTRL_OWNS_GOALS;
		if (!x || !y || x->hold != y->hold)
			d |= CTRL_OWNS_HOLD;
		if (!x || !y || ranges_differ(x->reject, x->nr_reject, y->reject, y->nr_reject))
			d |= CTRL_OWNS_EXCLUDE;
	}
	for (size_t t = 0; t < MAX(a->nr_targets, b->nr_targets); t++) {
		const struct kd_target_overlay *x = t < a->nr_targets ? &a->targets[t] : NULL;
		const struct kd_target_overlay *y = t < b->nr_targets ? &b->targets[t] : NULL;

		if (!x || !y) {
			d |= CTRL_OWNS_EXCLUDE | CTRL_OWNS_LAYOUT;
			continue;
		}
		if (ranges_differ(x->exclude, x->nr_exclude, y->exclude, y->nr_exclude))
			d |= CTRL_OWNS_EXCLUDE;
		if (x->layout_new != y->layout_new || ranges_differ(x->layout, x->nr_layout, y->layout, y->nr_layout))
			d |= CTRL_OWNS_LAYOUT;
	}
	return d;
}
