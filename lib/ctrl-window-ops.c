/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The first quota window, as a controller (lib/controller.h). Per scheme
 * slot.
 *
 * 6.12's damos_adjust_quota() does not compute the effective quota at a
 * scheme's first call: esz stays 0, and 6.12 reads esz 0 as "no limit", so
 * the first reset_interval after a scheme is created applies without any
 * quota (shared/docs/kernel-damon.md 3.4). Seed 000's recipe on 6.12 paged
 * out 730 MiB of a 100 MiB/s quota in that first second. 7.x computes esz
 * at once. No sysfs file tells the two apart, so damond holds every new
 * scheme with a quota on every kernel: its access pattern matches no region
 * (sz 0..0) until the kernel shows an effective quota (effective_bytes > 0:
 * the window rolled over, which it does with nothing matched) or, at the
 * latest, two quota windows, two apply intervals and a second after the
 * kdamond's start or the reload that made the slot; then one commit gives
 * it its real pattern.
 * While held, a scheme without kernel-tuned goals has a 1 ms quota window
 * (lib/damon-sysfs.c), so the first rollover comes at its next apply
 * (about one aggregation interval) rather than after a whole reset
 * interval. The
 * kernel keeps a scheme's quota window across commits (3.3), so the limit
 * is in force from the first region the scheme applies to. On 7.x the
 * first tick sees the effective quota and releases it: one extra commit.
 * While a scheme is held the host ticks every 100 ms instead of every stats
 * interval (daemon/manager.c, manager_any_held()), so the hold costs about
 * one aggregation interval, not a stats interval.
 * A kdamond adopted from a previous damond is never held (its windows ran
 * long ago).
 */
#include <json-c/json.h>
#include <stdio.h>

#include "controller.h"
#include "macro.h"

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

struct ctrl_window_state {
	bool active;       /* the scheme has a quota: it is held until its first window */
	bool held;         /* the overlay holds it */
	bool pending;      /* released, the commit not confirmed */
	uint64_t reset_us; /* the quota window */
	uint64_t apply_us; /* how often the scheme applies (its apply interval, or the aggregation interval) */
	uint64_t released_at_us;
	const char *released_by; /* static: "effective quota", "time bound" */
};

static bool has_quota(const struct damos_cfg *s)
{
	return s && s->action != DAMOS_STAT && (s->quota.bytes || s->quota.ms || s->quota.nr_goals);
}

static const char *window_off_reason(const struct ctrl_env *e)
{
	if (!has_quota(e->scheme))
		return "no quota (or a stat scheme): nothing to hold";
	if (e->adopted)
		return "adopted: the kernel's quota windows ran before this damond";
	return NULL;
}

/*
 * Release the hold? esz_bytes: the kernel's effective quota as last read (0:
 * not computed yet, or not read); epoch_us: the start or reload that made the
 * slot.
 */
static bool window_release(const struct ctrl_window_state *st, uint64_t esz_bytes, uint64_t epoch_us, uint64_t now_us,
			   const char **ret_by)
{
	if (esz_bytes) {
		*ret_by = "the kernel computed its effective quota";
		return true;
	}
	/* the first window starts at the scheme's first apply and rolls over at the first apply after it */
	if (now_us >= epoch_us + 2 * st->reset_us + 2 * st->apply_us + 1000000) {
		*ret_by = "two quota windows passed (no effective quota read)";
		return true;
	}
	return false;
}

static void window_setup(const struct ctrl_env *e, void *state, bool keep)
{
	struct ctrl_window_state *st = state;
	bool was = keep && st->active;

	if (!has_quota(e->scheme) || e->adopted) {
		*st = (struct ctrl_window_state){};
		return;
	}
	/* a slot that kept its scheme over a reload keeps its kernel quota state: stays released */
	if (was && !st->held)
		return;
	*st = (struct ctrl_window_state){
		.active = true,
		.held = true,
		.reset_us = (e->scheme->quota.reset_interval_ms ?: 1000) * 1000,
		.apply_us = e->scheme->apply_interval_us ?: e->policy->cfg->ctx.aggr_us,
	};
}

static int window_restore(const struct ctrl_env *e, const void *state, struct kd_overlay *o)
{
	const struct ctrl_window_state *st = state;

	if (e->slot < o->nr_slots)
		o->slots[e->slot].hold = st->active && st->held;
	return 0;
}

static bool window_step(const struct ctrl_env *e, void *state, const struct kd_observation *obs,
			struct kd_overlay *inout, char *why, size_t len)
{
	struct ctrl_window_state *st = state;
	const struct kd_slot_obs *so = e->slot < obs->nr_slots ? &obs->slots[e->slot] : NULL;
	const char *by = NULL;

	if (!st->active || !st->held || st->pending || !obs->alive || e->slot >= inout->nr_slots)
		return false;
	if (!window_release(st, so && so->have ? so->stats.effective_bytes : 0, obs->epoch_us, obs->now_us, &by))
		return false;
	inout->slots[e->slot].hold = false;
	st->pending = true;
	st->released_by = by;
	snprintf(why, len, "scheme '%s': its first quota window is over (%s): it applies from now", e->scheme->name,
		 by);
	return true;
}

static void window_outcome(const struct ctrl_env *e, void *state, enum ctrl_outcome o, uint64_t now_us)
{
	struct ctrl_window_state *st = state;
	bool committed = o == CTRL_COMMITTED;

	(void)e;
	if (!st->pending)
		return;
	st->pending = false;
	if (committed) {
		st->held = false;
		st->released_at_us = now_us;
	}
	/* else the overlay says released already: the next commit carries it */
}

static void window_status(const struct ctrl_env *e, const void *state, struct json_object *into)
{
	const struct ctrl_window_state *st = state;

	if (!st->active)
		return;
	JADD(into, "held", json_object_new_boolean(st->held));
	JADD(into, "released_at_us",
	     st->released_at_us ? JU64(e->wall_us ? e->wall_us(st->released_at_us) : st->released_at_us) : NULL);
	JADD(into, "released_by", st->released_by ? json_object_new_string(st->released_by) : NULL);
}

const struct ctrl_ops ctrl_window_ops = {
	.name = "first_window",
	.scope = CTRL_SCHEME,
	.state_size = sizeof(struct ctrl_window_state),
	.sensors = CTRL_SENSOR_STATS,
	.owns = CTRL_OWNS_HOLD,
	.off_reason = window_off_reason,
	.setup = window_setup,
	.restore = window_restore,
	.step = window_step,
	.outcome = window_outcome,
	.status = window_status,
};
