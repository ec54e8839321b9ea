/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Quota goal metrics the kernel lacks, as a controller (lib/controller.h)
 * over the law in lib/ctrl-goal.c. Per scheme slot. policy_slot() marks the
 * goals damond feeds (features_goal_fed(): the kernel lacks the metric and
 * takes user_input); the renderer writes them as user_input goals
 * (lib/damon-sysfs.c); the host measures them each tick (CTRL_SENSOR_GOALS,
 * lib/goal-current.c) and step() puts a new value in the overlay when the
 * law says so. A change of fed values only goes to the kernel with
 * 'commit_schemes_quota_goals' (daemon/kdamond.c, write_list_feed_diff()).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "controller.h"
#include "macro.h"

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

struct ctrl_goal_state {
	uint32_t fed; /* bit g: goal g is fed */
	/* the temporal tuner emulated: every goal scored by damond, the quota capped */
	bool temporal;
	size_t nr_goals;
	uint64_t window_us;
	struct goal_temporal_state t;
	uint64_t targets[DAMOS_MAX_GOALS];
	enum damos_goal_metric metrics[DAMOS_MAX_GOALS];
	struct goal_feed_params p[DAMOS_MAX_GOALS];
	struct goal_feed_state s[DAMOS_MAX_GOALS];
	const char *why_unknown[DAMOS_MAX_GOALS]; /* the last measurement failed: why (static) */
};

static uint32_t fed_mask(const struct damos_cfg *s, const struct damon_features *f)
{
	uint32_t m = 0;

	for (size_t g = 0; s && g < s->quota.nr_goals && g < DAMOS_MAX_GOALS; g++)
		if (features_goal_cfg_fed(f, &s->quota.goals[g]))
			m |= 1u << g;
	return m;
}

static void goal_policy_slot(const struct damos_cfg *scheme, const struct damon_features *f, struct kd_slot *slot)
{
	slot->temporal_emulated = features_temporal_emulated(f, scheme);
	/* with the tuner emulated the kernel gets no goals at all: nothing to feed */
	slot->fed_goals = slot->temporal_emulated ? 0 : fed_mask(scheme, f);
}

static const char *goal_off_reason(const struct ctrl_env *e)
{
	if (!e->scheme)
		return "no scheme in this slot";
	if (!e->scheme->quota.nr_goals)
		return "no quota goals";
	if (!fed_mask(e->scheme, e->features) && !features_temporal_emulated(e->features, e->scheme))
		return "the kernel measures every goal metric of this scheme itself";
	return NULL;
}

static void goal_setup(const struct ctrl_env *e, void *state, bool keep)
{
	struct ctrl_goal_state *st = state, old = *st;
	const struct damos_cfg *s = e->scheme;

	memset(st, 0, sizeof(*st));
	st->temporal = s && features_temporal_emulated(e->features, s);
	if (st->temporal) {
		st->nr_goals = MIN(s->quota.nr_goals, (size_t)DAMOS_MAX_GOALS);
		st->window_us = (s->quota.reset_interval_ms ?: 1000) * 1000;
		for (size_t g = 0; g < st->nr_goals; g++) {
			st->metrics[g] = s->quota.goals[g].metric;
			st->targets[g] = s->quota.goals[g].target_value;
		}
		/* a reload that keeps the goals keeps the decision the kernel holds */
		if (keep && old.temporal && old.nr_goals == st->nr_goals &&
		    !memcmp(old.metrics, st->metrics, sizeof(st->metrics)) &&
		    !memcmp(old.targets, st->targets, sizeof(st->targets)))
			st->t = old.t;
		st->t.pending = false;
		return;
	}
	st->fed = s ? fed_mask(s, e->features) : 0;
	for (size_t g = 0; st->fed && g < s->quota.nr_goals && g < DAMOS_MAX_GOALS; g++) {
		const struct damos_goal_cfg *goal = &s->quota.goals[g];

		if (!(st->fed & (1u << g)))
			continue;
		st->targets[g] = goal->target_value;
		st->metrics[g] = goal->metric;
		goal_feed_params_default(&st->p[g], goal->target_value, s->quota.reset_interval_ms * 1000);
		/* a reload that keeps the goal keeps what the kernel has: no needless commit */
		if (keep && (old.fed & (1u << g)) && old.metrics[g] == goal->metric &&
		    old.targets[g] == goal->target_value)
			st->s[g] = old.s[g];
	}
}

/* What the kernel holds (or is about to): the values fed so far, neutral (the target) before the first. */
static int goal_restore(const struct ctrl_env *e, const void *state, struct kd_overlay *o)
{
	const struct ctrl_goal_state *st = state;
	struct kd_slot_overlay *so;

	if (e->slot >= o->nr_slots)
		return 0;
	so = &o->slots[e->slot];
	so->goal_set = 0;
	so->quota_cap_set = st->temporal && st->t.decided && st->t.met;
	so->quota_cap = so->quota_cap_set ? 1 : 0;
	for (size_t g = 0; g < DAMOS_MAX_GOALS; g++)
		if ((st->fed & (1u << g)) && st->s[g].fed) {
			so->goal_set |= 1u << g;
			so->goal_value[g] = st->s[g].value;
		}
	return 0;
}

/* The emulated temporal tuner: the highest score of the goals damond measured; met caps the quota at 1 byte. */
static bool temporal_step(const struct ctrl_env *e, struct ctrl_goal_state *st, const struct kd_slot_obs *so,
			  uint64_t now_us, struct kd_slot_overlay *ov, char *why, size_t len)
{
	uint64_t score = 0;
	bool known = false, met;

	for (size_t g = 0; g < st->nr_goals; g++) {
		const struct goal_current *c = &so->goal[g];

		st->why_unknown[g] = c->known ? NULL : c->why;
		if (!c->known)
			continue;
		score = MAX(score, goal_score_bp(c->value, st->targets[g]));
		known = true;
	}
	if (!known)
		return false;
	st->t.score_bp = score;
	if (!goal_temporal_decide(&st->t, score, st->window_us, now_us, &met))
		return false;
	if (!st->t.decided && ov->quota_cap_set == met) {
		/* the first decision is what the kernel holds already (missed: the configured quota): no commit */
		st->t.decided = true;
		st->t.met = met;
		st->t.at_us = now_us;
		return false;
	}
	st->t.pending = true;
	st->t.pending_met = met;
	ov->quota_cap_set = met;
	ov->quota_cap = met ? 1 : 0;
	snprintf(why, len,
		 "temporal goal tuner (emulated), scheme '%s': goals %s (score %" PRIu64 ".%02" PRIu64 " %%): %s",
		 e->scheme->name, met ? "met" : "missed", score / 100, score % 100,
		 met ? "quota 1 byte, nothing applied this window" : "the full size quota");
	return true;
}

static bool goal_step(const struct ctrl_env *e, void *state, const struct kd_observation *obs, struct kd_overlay *inout,
		      char *why, size_t len)
{
	struct ctrl_goal_state *st = state;
	const struct kd_slot_obs *so = e->slot < obs->nr_slots ? &obs->slots[e->slot] : NULL;
	struct kd_slot_overlay *ov = e->slot < inout->nr_slots ? &inout->slots[e->slot] : NULL;
	size_t n = 0;
	int w = 0;

	if (!so || !ov || !obs->alive)
		return false;
	if (st->temporal)
		return temporal_step(e, st, so, obs->now_us, ov, why, len);
	if (!st->fed)
		return false;
	for (size_t g = 0; g < DAMOS_MAX_GOALS; g++) {
		const struct goal_current *c = &so->goal[g];

		if (!(st->fed & (1u << g)))
			continue;
		st->why_unknown[g] = c->known ? NULL : c->why;
		if (!c->known || !goal_feed_decide(&st->p[g], &st->s[g], c->value, obs->now_us))
			continue;
		st->s[g].pending = true;
		st->s[g].pending_value = c->value;
		ov->goal_set |= 1u << g;
		ov->goal_value[g] = c->value;
		if (w >= 0 && (size_t)w < len)
			w += snprintf(why + w, len - (size_t)w, "%sgoal %zu %s = %" PRIu64 "%s%s", n ? ", " : "", g,
				      damos_goal_metric_to_string(st->metrics[g]), c->value, *c->unit ? " " : "",
				      c->unit);
		n++;
	}
	if (n && w >= 0 && (size_t)w < len)
		snprintf(why + w, len - (size_t)w, " (scheme '%s', fed as user_input)", e->scheme->name);
	return n > 0;
}

static void goal_outcome(const struct ctrl_env *e, void *state, enum ctrl_outcome o, uint64_t now_us)
{
	struct ctrl_goal_state *st = state;
	bool committed = o == CTRL_COMMITTED;

	(void)e;
	if (st->temporal)
		goal_temporal_outcome(&st->t, committed, now_us);
	for (size_t g = 0; g < DAMOS_MAX_GOALS; g++)
		if (st->fed & (1u << g))
			goal_feed_outcome(&st->s[g], committed, now_us);
}

/* Per fed goal: what damond last handed the kernel, when, how often. Nothing when no goal is fed. */
static void goal_status(const struct ctrl_env *e, const void *state, struct json_object *into)
{
	const struct ctrl_goal_state *st = state;
	struct json_object *arr;

	if (st->temporal) {
		struct json_object *t = json_object_new_object();

		JADD(t, "tuner", json_object_new_string("temporal"));
		JADD(t, "decided", json_object_new_boolean(st->t.decided));
		JADD(t, "met", st->t.decided ? json_object_new_boolean(st->t.met) : NULL);
		JADD(t, "score_bp", JU64(st->t.score_bp));
		/* what damond has the kernel enforce: 1 byte (nothing) while met, the config's quota while missed */
		JADD(t, "quota_cap_bytes", st->t.decided && st->t.met ? JU64(1) : NULL);
		JADD(t, "since_us", st->t.decided ? JU64(e->wall_us ? e->wall_us(st->t.at_us) : st->t.at_us) : NULL);
		JADD(t, "nr_switches", JU64(st->t.nr_switches));
		JADD(into, "emulated_tuner", t);
		return;
	}
	if (!st->fed)
		return;
	arr = json_object_new_array();
	for (size_t g = 0; g < DAMOS_MAX_GOALS; g++) {
		struct json_object *o;

		if (!(st->fed & (1u << g)))
			continue;
		o = json_object_new_object();
		JADD(o, "goal", JU64(g));
		JADD(o, "metric", json_object_new_string(damos_goal_metric_to_string(st->metrics[g])));
		JADD(o, "kernel_metric", json_object_new_string("user_input"));
		JADD(o, "fed_value", st->s[g].fed ? JU64(st->s[g].value) : NULL);
		JADD(o, "fed_at_us",
		     st->s[g].fed ? JU64(e->wall_us ? e->wall_us(st->s[g].at_us) : st->s[g].at_us) : NULL);
		JADD(o, "nr_feeds", JU64(st->s[g].nr_feeds));
		JADD(o, "unknown", st->why_unknown[g] ? json_object_new_string(st->why_unknown[g]) : NULL);
		json_object_array_add(arr, o);
	}
	JADD(into, "fed_goals", arr);
}

const struct ctrl_ops ctrl_goal_ops = {
	.name = "goal_feed",
	.scope = CTRL_SCHEME,
	.state_size = sizeof(struct ctrl_goal_state),
	.sensors = CTRL_SENSOR_GOALS,
	.owns = CTRL_OWNS_GOALS,
	.policy_slot = goal_policy_slot,
	.off_reason = goal_off_reason,
	.setup = goal_setup,
	.restore = goal_restore,
	.step = goal_step,
	.outcome = goal_outcome,
	.status = goal_status,
};
