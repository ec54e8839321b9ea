/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Region refinement as a controller (lib/controller.h) over the pure core in
 * lib/ctrl-refine.c. Per kdamond. What daemon/manager.c did by hand:
 * refine_off_reason(), refine_interval_us(), kd_refine_reset(), kd_refine()
 * (refine_obs from the targets' snapshots, the parameters, the split regions
 * laid out over the planned span: now a kd_overlay layout) and the refine
 * status section (manager-status.c's kdamond_json()).
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "macro.h"

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

static const char *refine_off(const struct ctrl_env *e)
{
	const struct damon_ctx_cfg *c = &e->policy->cfg->ctx;

	if (!c->refine.enabled)
		return "disabled (refine.enabled: false)";
	if (!e->bpf_monitor)
		return "needs the BPF monitor's region snapshots (the monitor is not BPF)";
	if (c->addr_unit != 1)
		return "not supported with addr_unit other than 1";
	if (c->intervals_goal.aggrs)
		return "not supported with intervals_goal (nr_accesses changes scale as intervals are tuned)";
	if (e->policy->nr_targets > REFINE_MAX_TARGETS)
		return "not supported with more than 16 targets";
	return NULL;
}

/*
 * The time between rounds: the configured interval, but at least twice the
 * longest apply interval of the kdamond's schemes. A commit on 6.12
 * restarts every scheme's apply interval (ARCHITECTURE.md item 7), so rounds
 * more frequent than a scheme's apply interval would keep it from ever
 * applying; damond assumes those semantics on every kernel.
 */
static uint64_t refine_interval(const struct ctrl_env *e)
{
	const struct damon_ctx_cfg *c = &e->policy->cfg->ctx;
	uint64_t longest = 0;

	for (size_t i = 0; i < e->policy->nr_slots; i++)
		if (e->policy->slots[i].cfg) {
			uint64_t ai = e->policy->slots[i].cfg->apply_interval_us;

			longest = MAX(longest, ai ? ai : c->aggr_us);
		}
	return MAX(c->refine.interval_us, 2 * longest);
}

void ctrl_refine_params(const struct ctrl_env *e, struct refine_params *ret)
{
	const struct damon_ctx_cfg *c = &e->policy->cfg->ctx;

	*ret = (struct refine_params){
		.interval_us = refine_interval(e),
		.max_splits = (unsigned)MIN(c->refine.max_splits, (uint64_t)REFINE_MAX_SPLITS),
		.min_region_sz = 4096, /* DAMON_MIN_REGION: one page */
		.max_nr_accesses = (uint32_t)CLAMP(c->aggr_us / MAX(c->sample_us, 1ULL), 1ULL, (uint64_t)UINT32_MAX),
		.max_nr_regions = c->max_nr_regions,
		.settle_us = c->aggr_us,
		.max_age_us = 2 * c->aggr_us + 2 * e->stats_interval_us,
		.raise = c->refine.raise,
		/* the probe weight file came with 7.3's split above max/2 (kernel-damon.md §4.4) */
		.kernel_splits_above_half = e->features && e->features->f[FEATURE_PROBE_WEIGHT] == FEATURE_PRESENT,
	};
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* What the learned state is about: the parameters and the targets. */
static uint64_t refine_key(const struct ctrl_env *e)
{
	const struct kd_policy *p = e->policy;
	struct refine_params rp;
	uint64_t h = 0xcbf29ce484222325ULL;

	ctrl_refine_params(e, &rp);
	h = fnv(h, rp.interval_us);
	h = fnv(h, rp.max_splits);
	h = fnv(h, rp.min_region_sz);
	h = fnv(h, rp.max_nr_accesses);
	h = fnv(h, rp.max_nr_regions);
	h = fnv(h, rp.settle_us);
	h = fnv(h, rp.max_age_us);
	h = fnv(h, rp.raise);
	h = fnv(h, rp.kernel_splits_above_half);
	h = fnv(h, (uint64_t)p->cfg->ctx.ops);
	h = fnv(h, p->nr_targets);
	for (size_t t = 0; t < p->nr_targets; t++) {
		h = fnv(h, (uint64_t)(int64_t)p->targets[t].pid);
		h = fnv(h, p->targets[t].nr_regions);
		for (size_t i = 0; i < p->targets[t].nr_regions; i++) {
			h = fnv(h, p->targets[t].regions[i].start);
			h = fnv(h, p->targets[t].regions[i].end);
		}
	}
	return h;
}

/* A fresh refinement state for kdamond process pid (0: refinement not running). */
static void refine_reset(struct ctrl_refine_state *st, int pid)
{
	refine_init(&st->rs);
	memset(&st->last, 0, sizeof(st->last));
	st->pid = pid;
}

/*
 * keep, and neither the parameters nor the targets changed: the state stays.
 * Otherwise refinement starts afresh (targets may be other processes or
 * ranges now); the host's kd_observation.epoch_us keeps older snapshots out.
 */
static void refine_setup(const struct ctrl_env *e, void *state, bool keep)
{
	struct ctrl_refine_state *st = state;
	uint64_t key = refine_key(e);

	if (!keep) {
		memset(st, 0, sizeof(*st));
		refine_reset(st, 0);
	} else if (st->key != key)
		refine_reset(st, st->pid);
	st->key = key;
}

static bool refine_ctrl_step(const struct ctrl_env *e, void *state, const struct kd_observation *obs,
			     struct kd_overlay *inout, char *why, size_t len)
{
	const struct damon_ctx_cfg *c = &e->policy->cfg->ctx;
	const struct kd_policy *p = e->policy;
	struct ctrl_refine_state *st = state;
	struct refine_target_obs t[REFINE_MAX_TARGETS] = {};
	struct refine_obs o = { .now_us = obs->now_us, .nr_targets = p->nr_targets, .targets = t };
	struct refine_decision *d = &st->last;
	struct refine_params rp;
	int r = 0;

	if (refine_off(e) || !obs->alive) {
		if (st->pid) /* it ran: whatever was pending is moot */
			refine_reset(st, 0);
		return false;
	}
	if (obs->pid != st->pid) /* switched on, or another kdamond process */
		refine_reset(st, obs->pid);
	for (size_t i = 0; i < p->nr_targets && i < obs->nr_targets; i++) {
		const struct damon_snapshot *snap = obs->targets[i].snapshot;

		/* only what this kdamond process produced since the last start or reload: a restart begins afresh */
		if (snap && snap->pid == obs->pid && snap->ts_ns / 1000 >= obs->epoch_us)
			t[i] = (struct refine_target_obs){ .regions = snap->regions,
							   .nr_regions = snap->nr_regions,
							   .snapshot_us = snap->ts_ns / 1000 };
	}
	ctrl_refine_params(e, &rp);
	refine_step(&rp, &st->rs, &o, d);
	if (d->verdict == REFINE_RAISE || d->verdict == REFINE_LOWER) {
		inout->max_nr_regions = d->max_nr_regions;
		snprintf(why, len, "region refinement: %s", d->reason);
		return true;
	}
	if (inout->max_nr_regions && !st->rs.raised) {
		/* a raise the controller no longer stands by (it started afresh): the user's max again */
		inout->max_nr_regions = 0;
		snprintf(why, len, "region refinement: max_nr_regions back to the configured %" PRIu64,
			 c->max_nr_regions);
		return true;
	}
	if (d->verdict != REFINE_SPLIT)
		return false;

	/* each cut target's layout: the planned span (policy minus exclusions), cut as the kernel has it, + splits */
	for (size_t i = 0; i < p->nr_targets && r >= 0; i++) {
		_cleanup_free_ struct damon_addr_range *span = NULL, *v = NULL;
		size_t nr_span = 0, cap;
		bool cut = false, own_span;

		for (size_t x = 0; x < d->nr_splits; x++)
			cut |= d->splits[x].target == i;
		if (!cut)
			continue; /* the kernel keeps its regions */
		r = plan_target_span(p, inout, i, &span, &nr_span);
		if (r < 0)
			break;
		/* vaddr: the kernel follows the mappings, the snapshot is the span; paddr/fvaddr: the plan's ranges */
		own_span = c->ops == DAMON_OPS_VADDR || !nr_span;
		/* each snapshot region can add two cuts inside a span range, each span range and split one */
		cap = 2 * t[i].nr_regions + (own_span ? 0 : nr_span) + d->nr_splits + 1;
		v = calloc(cap, sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			break;
		}
		r = refine_layout(t[i].regions, t[i].nr_regions, own_span ? NULL : span, own_span ? 0 : nr_span,
				  d->splits, d->nr_splits, (unsigned)i, v, cap);
		if (r >= 0)
			r = kd_overlay_set_layout(inout, i, v, (size_t)r);
	}
	if (r < 0) {
		refine_commit_failed(&rp, &st->rs, obs->now_us);
		snprintf(why, len, "region refinement: cannot lay out the split regions: %s", strerror(-r));
		return false;
	}
	snprintf(why, len, "region refinement: %s", d->reason);
	return true;
}

static void refine_outcome(const struct ctrl_env *e, void *state, enum ctrl_outcome o, uint64_t now_us)
{
	struct ctrl_refine_state *st = state;
	struct refine_params rp;

	ctrl_refine_params(e, &rp);
	if (o == CTRL_COMMITTED)
		refine_committed(&rp, &st->rs, &st->last, now_us);
	else if (o == CTRL_BUSY)
		refine_commit_busy(&st->rs, now_us);
	else
		refine_commit_failed(&rp, &st->rs, now_us);
}

/* The kdamond's "refine" object as manager-status.c's kdamond_json() wrote it. */
static void refine_status(const struct ctrl_env *e, const void *state, struct json_object *ro)
{
	const struct damon_ctx_cfg *x = &e->policy->cfg->ctx;
	const struct ctrl_refine_state *st = state;
	const struct refine_state *rs = &st->rs;
	const char *off = refine_off(e);

	JADD(ro, "enabled", json_object_new_boolean(x->refine.enabled));
	if (off)
		JADD(ro, "off", json_object_new_string(off));
	else {
		JADD(ro, "verdict", json_object_new_string(refine_verdict_to_string(st->last.verdict)));
		JADD(ro, "reason",
		     json_object_new_string(st->last.reason[0] ? st->last.reason : "waiting for the first stats tick"));
	}
	JADD(ro, "interval_us", JU64(x->refine.interval_us));
	/* at least twice the longest scheme apply interval (a commit restarts them on 6.12) */
	JADD(ro, "effective_interval_us", JU64(refine_interval(e)));
	JADD(ro, "max_splits", JU64(x->refine.max_splits));
	JADD(ro, "raise", json_object_new_boolean(x->refine.raise));
	JADD(ro, "raises", JU64(rs->raises));
	JADD(ro, "raised", json_object_new_boolean(rs->raised));
	JADD(ro, "rounds", JU64(rs->rounds));
	JADD(ro, "splits", JU64(rs->splits));
	JADD(ro, "kept", JU64(rs->kept));
	JADD(ro, "lost", JU64(rs->lost));
	JADD(ro, "backoff", JU64(MAX(rs->backoff, 1U)));
}

const struct ctrl_ops ctrl_refine_ops = {
	.name = "refine",
	.scope = CTRL_KDAMOND,
	.state_size = sizeof(struct ctrl_refine_state),
	.sensors = CTRL_SENSOR_SNAPSHOTS,
	.owns = CTRL_OWNS_LAYOUT | CTRL_OWNS_ATTRS,
	.off_reason = refine_off,
	.setup = refine_setup,
	.step = refine_ctrl_step,
	.outcome = refine_outcome,
	.status = refine_status,
};
