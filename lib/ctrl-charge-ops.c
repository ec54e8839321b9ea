/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The charge-ratio emulation as a controller (lib/controller.h) over the pure
 * core in lib/ctrl-charge.c. Per scheme slot. What daemon/manager.c did by
 * hand: wanted_fail_mode(), slot_configure(), the config part of
 * slot_setup_oracle(), the charge half of decide_and_apply() (charge_obs
 * from the slot's stats, the decision into the slot's quota and reject
 * ranges), the union of the slots' rejects as target gaps
 * (targets_with_gaps(); the cutting itself is plan_target_span()), and the
 * fail_charge status section (manager-status.c's scheme_json()).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "controller.h"
#include "macro.h"

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

static bool virtual_ops(enum damon_ops ops)
{
	return ops == DAMON_OPS_VADDR || ops == DAMON_OPS_FVADDR;
}

enum ctrl_fail_mode ctrl_charge_fail_mode(const struct damos_cfg *s, const struct damon_features *f)
{
	switch (s->quota.fail_charge_mode) {
	case DAMOS_FAIL_CHARGE_OFF:
		return CTRL_FAIL_OFF;
	case DAMOS_FAIL_CHARGE_EMULATE:
		return CTRL_FAIL_EMULATED;
	case DAMOS_FAIL_CHARGE_NATIVE:
		return CTRL_FAIL_NATIVE;
	default:
		return f->f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT ? CTRL_FAIL_NATIVE : CTRL_FAIL_EMULATED;
	}
}

static const char *charge_off_reason(const struct ctrl_env *e)
{
	if (!e->scheme)
		return "no scheme in this slot";
	switch (ctrl_charge_fail_mode(e->scheme, e->features)) {
	case CTRL_FAIL_OFF:
		return "no fail_charge_ratio asked for";
	case CTRL_FAIL_NATIVE:
		return "the kernel charges failed regions itself (quotas/fail_charge_num/denom)";
	default:
		return NULL;
	}
}

static void charge_params_of(const struct ctrl_env *e, struct charge_params *p)
{
	const struct damos_cfg *s = e->scheme;

	charge_params_default(p, s->quota.bytes, s->quota.reset_interval_ms * 1000, s->quota.fail_charge_num,
			      s->quota.fail_charge_denom);
	p->min_region_sz = 4096 * MAX(e->policy->cfg->ctx.addr_unit, 1ULL);
	/* on vaddr/fvaddr every excluded range is a filter the scheme tries on every region */
	if (virtual_ops(e->policy->cfg->ctx.ops))
		p->max_filters = MIN(p->max_filters, (unsigned)PLAN_MAX_REJECT_FILTERS);
}

/* The directory damond's addr reject filters go to on this kernel (lib/damon-sysfs.c's render_filters()). */
static const char *reject_filters_dir(const struct damon_features *f)
{
	if (f->f[FEATURE_CORE_OPS_FILTERS] == FEATURE_PRESENT)
		return "core_filters";
	return f->f[FEATURE_LEGACY_FILTERS] != FEATURE_ABSENT ? "filters" : NULL;
}

/*
 * Where the exclusions the core plans reach the kernel: lib/plan.c cuts them
 * out of paddr targets (target gaps); on vaddr/fvaddr they are the scheme's
 * leading addr reject filters (a vaddr target's regions follow its mappings:
 * every update interval damon_va_update() resets them to the three mapped
 * areas, so a cut would not hold), where the kernel has a filter directory.
 */
static bool exclusions_realised(enum damon_ops ops, const struct damon_features *f)
{
	return ops == DAMON_OPS_PADDR || (virtual_ops(ops) && reject_filters_dir(f));
}

/* The process a virtual context's only target follows (0: none, or not a virtual context with one target). */
static int virtual_target_pid(const struct kd_policy *p)
{
	return virtual_ops(p->cfg->ctx.ops) && p->nr_targets == 1 ? p->targets[0].pid : 0;
}

/*
 * The page-state oracle: for actions whose success is predictable from page
 * flags, /proc/kpageflags summarised over the targets' span: the physical
 * span of a paddr target, or (issue 17) the mappings of a vaddr/fvaddr
 * target's process translated through /proc/PID/pagemap. Whether the host
 * can read them is its business: without a map in the observation the core
 * runs its fallback law.
 */
static void charge_setup_oracle(const struct ctrl_env *e, struct ctrl_charge_state *st)
{
	const struct damon_ctx_cfg *c = &e->policy->cfg->ctx;
	const struct kd_policy *p = e->policy;
	uint64_t lo = UINT64_MAX, hi = 0;
	bool virt = virtual_ops(c->ops);
	const char *why = NULL;

	st->oracle = false;
	st->oracle_pid = 0;
	st->exclude_unrealised = false;
	st->map_start = st->map_end = st->map_period_us = 0;
	if (virt && p->nr_targets != 1)
		why = "no page-state oracle for several virtual address spaces in one context";
	else if (virt && p->targets[0].pid <= 0)
		why = "no page-state oracle: the target has no process";
	else if (virt && e->scheme->action != DAMOS_PAGEOUT)
		why = "no page-state oracle for this action on a virtual address space";
	else if (!virt && c->ops != DAMON_OPS_PADDR)
		why = "no page-state oracle for this address space";
	else if (!virt && c->addr_unit != 1)
		why = "no page-state oracle with addr_unit != 1";
	else if (e->scheme->action == DAMOS_PAGEOUT)
		st->oracle_class = PAGEFLAGS_CLASS_EVICTABLE;
	else if (e->scheme->action == DAMOS_LRU_PRIO || e->scheme->action == DAMOS_LRU_DEPRIO)
		st->oracle_class = PAGEFLAGS_CLASS_LRU;
	else
		why = "no page-state oracle for this action";
	for (size_t t = 0; !why && t < p->nr_targets; t++)
		for (size_t i = 0; i < p->targets[t].nr_regions; i++) {
			lo = MIN(lo, p->targets[t].regions[i].start);
			hi = MAX(hi, p->targets[t].regions[i].end);
		}
	if (!why && c->ops == DAMON_OPS_VADDR) {
		/* the process's mappings, whatever the regions say (they are the kernel's) */
		lo = 0;
		hi = UINT64_MAX;
	}
	if (!why && hi <= lo)
		why = "the target has no regions";
	st->oracle_off = why;
	if (why)
		return;
	st->oracle = true;
	st->map_start = lo;
	st->map_end = hi;
	st->oracle_pid = virt ? p->targets[0].pid : 0;
	st->exclude_unrealised = !exclusions_realised(c->ops, e->features);
	/* A full scan reads 8 bytes per page: 2 ms per GiB-ish; scan at most every 1 s per GiB monitored.
	 * A virtual span is the process's mappings: the host bounds each step (CTRL_VMAP_STEP_PAGES). */
	st->map_period_us = virt ? 1000000ULL : MAX(1000000ULL, (hi - lo) / (1ULL << 30) * 1000000ULL);
}

static void charge_setup(const struct ctrl_env *e, void *state, bool keep)
{
	struct ctrl_charge_state *st = state;
	enum ctrl_fail_mode mode;
	struct charge_params p = {}; /* compared whole below, padding included */

	if (!keep)
		memset(st, 0, sizeof(*st));
	mode = e->scheme ? ctrl_charge_fail_mode(e->scheme, e->features) : CTRL_FAIL_OFF;
	if (mode != CTRL_FAIL_EMULATED) {
		st->mode = mode;
		st->active = false;
		st->quota_override = false;
		st->nr_reject = 0;
		st->oracle = false;
		st->oracle_off = NULL;
		return;
	}
	charge_params_of(e, &p);
	/* Keep the learned state across reloads that change neither the parameters nor the process (a vaddr
	 * exclusion is in that process's addresses). */
	if (keep && st->mode == CTRL_FAIL_EMULATED && st->active && !memcmp(&p, &st->cp, sizeof(p)) &&
	    st->target_pid == virtual_target_pid(e->policy))
		return;
	st->mode = CTRL_FAIL_EMULATED;
	st->target_pid = virtual_target_pid(e->policy);
	st->cp = p;
	charge_init(&st->cs, &st->cp, 0);
	st->active = true;
	st->quota_override = false;
	st->nr_reject = 0;
	charge_setup_oracle(e, st);
}

static const struct ctrl_charge_state *peer(const struct ctrl_env *e, const struct ctrl_charge_state *own, size_t i)
{
	return i == e->slot ? own : e->peers[i];
}

/*
 * The slot's quota, and its exclusions: on vaddr/fvaddr the slot's own
 * reject ranges as its scheme's leading addr reject filters; on paddr every
 * target's gaps, the union of every slot's reject ranges in slot order (what
 * targets_with_gaps() cut).
 */
static int charge_write(const struct ctrl_env *e, const struct ctrl_charge_state *st, struct kd_overlay *o)
{
	struct damon_addr_range cut[CTRL_CHARGE_MAX_CUTS];
	size_t nc = 0, n = e->peers ? e->nr_peers : 1;
	int r;

	if (e->slot < o->nr_slots) {
		o->slots[e->slot].quota_set = st->quota_override;
		o->slots[e->slot].quota_bytes = st->kernel_quota;
	}
	if (virtual_ops(e->policy->cfg->ctx.ops)) {
		if (e->slot >= o->nr_slots)
			return 0;
		r = kd_overlay_set_reject(o, e->slot, st->reject, st->exclude_unrealised ? 0 : st->nr_reject);
		return r < 0 ? r : 0;
	}
	if (e->policy->cfg->ctx.ops != DAMON_OPS_PADDR)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct ctrl_charge_state *x = e->peers ? peer(e, st, i) : st;

		for (size_t j = 0; x && j < x->nr_reject && nc < ARRAY_SIZE(cut); j++)
			cut[nc++] = x->reject[j];
	}
	for (size_t t = 0; t < o->nr_targets; t++) {
		r = kd_overlay_set_exclude(o, t, cut, nc);
		if (r < 0)
			return r;
	}
	return 0;
}

static int charge_restore(const struct ctrl_env *e, const void *state, struct kd_overlay *o)
{
	return charge_write(e, state, o);
}

static void charge_sensor_needs(const struct ctrl_env *e, const void *state, struct ctrl_sensor_needs *ret)
{
	const struct ctrl_charge_state *st = state;

	(void)e;
	*ret = (struct ctrl_sensor_needs){};
	if (!st->active || !st->oracle)
		return;
	*ret = (struct ctrl_sensor_needs){
		.pageflags_classes = 1u << st->oracle_class,
		.pageflags_start = st->map_start,
		.pageflags_end = st->map_end,
		.pageflags_period_us = st->map_period_us,
		/* one quota: what makes a new plan worth a commit (charge_params.replan_min_bytes) */
		.pageflags_free_drop_bytes = st->oracle_pid ? 0 : st->cp.replan_min_bytes ?: st->cp.quota_bytes,
		.pageflags_pid = st->oracle_pid,
	};
}

static bool charge_ctrl_step(const struct ctrl_env *e, void *state, const struct kd_observation *obs,
			     struct kd_overlay *inout, char *why, size_t len)
{
	struct ctrl_charge_state *st = state;
	const struct kd_slot_obs *so = e->slot < obs->nr_slots ? &obs->slots[e->slot] : NULL;
	const struct pageflags_map *map = st->oracle ? obs->pageflags[st->oracle_class] : NULL;
	struct charge_decision d = {};
	struct charge_obs o;
	struct ctrl_charge_adj *a;
	int r;

	/* only on a new sample: BPF values repeat until the next apply interval ends */
	if (!st->active || !so || !so->have || !so->fresh)
		return false;
	if (map && map->generation) {
		if (!st->first_map_us)
			st->first_map_us = map->scanned_us;
		st->pass_pages = map->pass_pages;
		st->pass_us = map->pass_us;
		st->pass_steps = map->pass_steps;
		st->map_bytes = map->total_bytes;
		st->map_ok_bytes = map->ok_bytes;
		st->map_young_cache_bytes = map->young_cache_bytes;
		st->map_young_other_bytes = map->young_other_bytes;
	}
	if (map && map->generation && st->exclude_unrealised) {
		/* the kernel would not see the exclusions: the fallback law decides; report what the oracle sees */
		if (map->generation != st->preview_generation) {
			struct damon_addr_range rej[CHARGE_MAX_FILTERS];

			st->preview_nr = charge_plan_reject(&st->cp, &st->cs, map, rej, st->cp.max_filters,
							    &st->preview_bad_bytes, &st->preview_ok_bytes);
			st->preview_generation = map->generation;
		}
		map = NULL;
	}
	o = (struct charge_obs){
		.now_us = so->at_us, /* when the kernel's counters had these values */
		.sz_tried = so->stats.sz_tried,
		.sz_applied = so->stats.sz_applied,
		.nr_tried = so->stats.nr_tried,
		.nr_applied = so->stats.nr_applied,
		.qt_exceeds = so->stats.qt_exceeds,
		.kernel_quota_bytes = st->quota_override ? st->kernel_quota : st->cp.quota_bytes,
		.map = map && map->generation ? map : NULL,
	};
	charge_step(&st->cp, &st->cs, &o, &d);
	if (!d.set_quota && !d.set_filters)
		return false;
	if (d.set_quota) {
		st->quota_override = true;
		st->kernel_quota = d.quota_bytes;
	}
	if (d.set_filters) {
		st->nr_reject = MIN(d.nr_reject, (size_t)CHARGE_MAX_FILTERS);
		memcpy(st->reject, d.reject, st->nr_reject * sizeof(st->reject[0]));
		/* as the plan will write them (the core's plan already is: sorted, disjoint, max_filters) */
		if (virtual_ops(e->policy->cfg->ctx.ops))
			st->nr_reject = plan_bound_ranges(st->reject, st->nr_reject, PLAN_MAX_REJECT_FILTERS);
	}
	a = &st->adj[st->nr_adj++ % CTRL_CHARGE_ADJ_HISTORY];
	*a = (struct ctrl_charge_adj){
		.at_us = obs->now_us,
		.quota = st->quota_override ? st->kernel_quota : st->cp.quota_bytes,
		.nr_reject = st->nr_reject,
	};
	snprintf(a->reason, sizeof(a->reason), "%s", d.reason);
	r = charge_write(e, st, inout);
	if (r < 0) {
		/* the overlay does not carry the decision: as after a failed commit, re-emit at the next plan */
		charge_commit_failed(&st->cs, obs->now_us);
		snprintf(why, len, "charge-ratio emulation, scheme '%s': cannot record the decision: %s",
			 e->scheme->name, strerror(-r));
		return false;
	}
	if (d.set_filters && virtual_ops(e->policy->cfg->ctx.ops) && !st->exclude_unrealised)
		snprintf(why, len,
			 "charge-ratio emulation, scheme '%s': %s; as %zu addr reject filters ahead of the "
			 "scheme's own in %s/",
			 e->scheme->name, d.reason, st->nr_reject, reject_filters_dir(e->features));
	else
		snprintf(why, len, "charge-ratio emulation, scheme '%s': %s", e->scheme->name, d.reason);
	return true;
}

static void charge_outcome(const struct ctrl_env *e, void *state, enum ctrl_outcome o, uint64_t now_us)
{
	struct ctrl_charge_state *st = state;
	bool committed = o == CTRL_COMMITTED;

	(void)e;
	if (!st->active)
		return;
	if (committed)
		charge_committed(&st->cs, now_us);
	else
		charge_commit_failed(&st->cs, now_us);
}

static const char *fail_mode_str(const struct ctrl_charge_state *st, const struct damos_cfg *s)
{
	if (s->quota.fail_charge_mode == DAMOS_FAIL_CHARGE_OFF)
		return "off";
	switch (st->mode) {
	case CTRL_FAIL_NATIVE:
		return "native";
	case CTRL_FAIL_EMULATED:
		return st->active ? "emulated" : "emulation-pending";
	default:
		return "off";
	}
}

/*
 * How the exclusion reaches the kernel, and what of it damond wrote: on
 * vaddr/fvaddr the scheme's leading addr reject filters (dir, ranges, the
 * bound), on paddr the targets' gaps (the union of the slots' ranges).
 */
static struct json_object *exclusion_json(const struct ctrl_env *e, const struct ctrl_charge_state *st)
{
	struct json_object *x = json_object_new_object(), *v = json_object_new_array();
	bool virt = virtual_ops(e->policy->cfg->ctx.ops);

	JADD(x, "by", json_object_new_string(virt ? "addr_reject_filters" : "target_gaps"));
	if (virt) {
		JADD(x, "dir", json_object_new_string(reject_filters_dir(e->features)));
		JADD(x, "placed", json_object_new_string("ahead of the scheme's own filters"));
	}
	JADD(x, "nr_ranges", JU64(st->nr_reject));
	JADD(x, "max_ranges", JU64(st->cp.max_filters));
	for (size_t r = 0; r < st->nr_reject; r++) {
		struct json_object *o = json_object_new_object();

		JADD(o, "start", JU64(st->reject[r].start));
		JADD(o, "end", JU64(st->reject[r].end));
		json_object_array_add(v, o);
	}
	JADD(x, "ranges", v);
	return x;
}

/* The scheme's "fail_charge" object as manager-status.c's scheme_json() wrote it; nothing for a tombstone. */
static void charge_status(const struct ctrl_env *e, const void *state, struct json_object *fc)
{
	const struct ctrl_charge_state *st = state;
	const struct damos_cfg *s = e->scheme;
	struct json_object *adj;

	if (!s)
		return;
	JADD(fc, "mode", json_object_new_string(fail_mode_str(st, s)));
	if (s->quota.fail_charge_mode != DAMOS_FAIL_CHARGE_OFF) {
		JADD(fc, "num", JU64(s->quota.fail_charge_num));
		JADD(fc, "denom", JU64(s->quota.fail_charge_denom));
	}
	JADD(fc, "user_quota_bytes", JU64(s->quota.bytes));
	JADD(fc, "kernel_quota_bytes", JU64(st->quota_override ? st->kernel_quota : s->quota.bytes));
	if (st->active) {
		uint64_t excl = 0;

		JADD(fc, "failure_share", json_object_new_double(st->cs.fail_share_permil / 1000.0));
		for (size_t r = 0; r < st->nr_reject; r++)
			excl += st->reject[r].end - st->reject[r].start;
		JADD(fc, "excluded_bytes", JU64(excl));
	}
	if (st->active) {
		struct json_object * or = json_object_new_object();

		JADD(or, "kind",
		     json_object_new_string(!st->oracle      ? "none"
					    : st->oracle_pid ? "pagemap+kpageflags"
							     : "kpageflags"));
		if (st->oracle_off)
			JADD(or, "why_none", json_object_new_string(st->oracle_off));
		if (st->oracle_pid) {
			JADD(or, "pid", json_object_new_int(st->oracle_pid));
			JADD(or, "pass_pages", JU64(st->pass_pages));
			JADD(or, "pass_ms", JU64(st->pass_us / 1000));
			JADD(or, "pass_steps", JU64(st->pass_steps));
		}
		if (st->first_map_us)
			JADD(or, "first_map_at_us", JU64(e->wall_us ? e->wall_us(st->first_map_us) : st->first_map_us));
		if (st->oracle_pid && st->first_map_us) {
			JADD(or, "mapped_bytes", JU64(st->map_bytes));
			JADD(or, "ok_bytes", JU64(st->map_ok_bytes));
		}
		/* page cache the pageout's young check rejects once before it can go: on a
		 * kernel charging failures in full, a quota's worth of it costs a window */
		if (!st->oracle_pid && st->first_map_us) {
			JADD(or, "young_cache_bytes", JU64(st->map_young_cache_bytes));
			/* the same for anonymous and mapped pages (a process that just touched its memory) */
			JADD(or, "young_other_bytes", JU64(st->map_young_other_bytes));
		}
		if (st->oracle)
			JADD(or, "exclusions_realised", json_object_new_boolean(!st->exclude_unrealised));
		if (st->exclude_unrealised) {
			JADD(or, "why_unrealised",
			     json_object_new_string(
				     "the kernel has no scheme filter directory for damond's addr reject "
				     "filters: the fallback law runs"));
			if (st->preview_generation) {
				JADD(or, "would_exclude_ranges", JU64(st->preview_nr));
				JADD(or, "would_exclude_failing_bytes", JU64(st->preview_bad_bytes));
				JADD(or, "would_exclude_ok_bytes", JU64(st->preview_ok_bytes));
			}
		}
		JADD(fc, "oracle", or);
	}
	if (st->active && st->oracle && !st->exclude_unrealised)
		JADD(fc, "exclusion", exclusion_json(e, st));
	adj = json_object_new_array();
	for (unsigned a = st->nr_adj > CTRL_CHARGE_ADJ_HISTORY ? st->nr_adj - CTRL_CHARGE_ADJ_HISTORY : 0;
	     a < st->nr_adj; a++) {
		const struct ctrl_charge_adj *x = &st->adj[a % CTRL_CHARGE_ADJ_HISTORY];
		struct json_object *ao = json_object_new_object();

		JADD(ao, "at_us", x->at_us ? JU64(e->wall_us ? e->wall_us(x->at_us) : x->at_us) : NULL);
		JADD(ao, "quota_bytes", JU64(x->quota));
		JADD(ao, "excluded_ranges", JU64(x->nr_reject));
		JADD(ao, "reason", json_object_new_string(x->reason));
		json_object_array_add(adj, ao);
	}
	JADD(fc, "adjustments", adj);
	JADD(fc, "nr_adjustments", JU64(st->nr_adj));
}

/* where the kernel charges failures itself, the plan writes fail_charge_num/denom */
static void charge_policy_slot(const struct damos_cfg *scheme, const struct damon_features *f, struct kd_slot *slot)
{
	slot->native_fail_charge = scheme && ctrl_charge_fail_mode(scheme, f) == CTRL_FAIL_NATIVE;
}

const struct ctrl_ops ctrl_charge_ops = {
	.name = "fail_charge",
	.scope = CTRL_SCHEME,
	.state_size = sizeof(struct ctrl_charge_state),
	.sensors = CTRL_SENSOR_STATS | CTRL_SENSOR_PAGEFLAGS,
	.owns = CTRL_OWNS_QUOTA | CTRL_OWNS_EXCLUDE,
	.policy_slot = charge_policy_slot,
	.off_reason = charge_off_reason,
	.setup = charge_setup,
	.restore = charge_restore,
	.sensor_needs = charge_sensor_needs,
	.step = charge_ctrl_step,
	.outcome = charge_outcome,
	.status = charge_status,
};
