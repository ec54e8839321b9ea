/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stats tick for one kdamond: is it alive, its schemes' stats (BPF or
 * sysfs) and rates, then the controllers (charge-ratio emulation, region
 * refinement), whose decisions land with one commit.
 */
#include <limits.h>

#include "log.h"
#include "manager-internal.h"
#include "observe.h"
#include "snapshot.h"

/* ---- statistics and controllers ----------------------------------------- */

static void decide_and_apply(struct manager *m, struct kdamond_rt *kd, usec_t now);

/* A quota the kernel turns into an effective size (bytes, time or goals). */
static bool slot_has_quota(const struct kdamond_rt *kd, size_t i)
{
	const struct damos_cfg *c;

	if (kd->slots[i].cfg_idx < 0)
		return false;
	c = &kd->cfg->ctx.schemes[kd->slots[i].cfg_idx];
	return c->quota.bytes || c->quota.ms || c->quota.nr_goals;
}

/*
 * The tick's liveness check: false when kd's kdamond stopped behind damond's
 * back (recorded as died); a new pid behind damond's back is recorded too.
 */
static bool kd_tick_alive(struct manager *m, struct kdamond_rt *kd)
{
	char why[160];
	int pid = -1, r;

	r = kdamond_check_alive(m, kd->index, &pid);
	if (r < 0 || (r > 0 && pid == kd->pid))
		return true; /* a state that cannot be read says nothing */
	if (!r) {
		snprintf(why, sizeof(why),
			 "the kdamond stopped behind damond's back (was pid %d; a vaddr target may have exited)",
			 kd->pid);
		kd_mark_dead(m, kd, why);
		return false;
	}
	record_action(m, kd->name, "died", "pid changed behind damond's back (%d -> %d)", kd->pid, pid);
	kd->pid = pid;
#ifdef HAVE_BPF
	manager_events_update_pids(m);
#endif
	return true;
}

/*
 * Prefer the BPF monitor's per-apply-interval values
 * (damos_stat_after_apply_interval, 7.0+; damos_esz, 6.17+): they cost no
 * command and no global DAMON sysfs lock. Only when every scheme has fresh
 * ones; otherwise ask sysfs for all, so one refresh never mixes sources.
 */
static bool observe_bpf(struct manager *m, struct kdamond_rt *kd, usec_t now, struct scheme_observation *obs)
{
	bool from_bpf = m->snapshots && m->events && kd->nr_slots > 0;

	for (size_t i = 0; from_bpf && i < kd->nr_slots; i++) {
		const struct damos_cfg *c = kd->slots[i].cfg_idx >= 0 ? &kd->cfg->ctx.schemes[kd->slots[i].cfg_idx]
								      : NULL;
		uint64_t ai = c && c->apply_interval_us ? c->apply_interval_us : kd->cfg->ctx.aggr_us;

		from_bpf = observe_scheme_bpf(m->snapshots, kd->index, (unsigned)i, slot_has_quota(kd, i), now,
					      2 * m->config->settings.stats_interval_us + 2 * ai, &obs[i]);
	}
	if (!from_bpf)
		/* what the loop above found for the first schemes is not used: one source per refresh */
		memset(obs, 0, kd->nr_slots * sizeof(*obs));
	return from_bpf;
}

/*
 * The schemes' stats from sysfs. With refresh_ms (6.17+) the kernel
 * refreshes stats, effective quotas and tuned intervals by itself;
 * otherwise ask it, which takes the global DAMON sysfs lock (and >= 100 ms
 * per command on 6.12).
 */
static int observe_sysfs(struct manager *m, struct kdamond_rt *kd, usec_t now, struct scheme_observation *obs)
{
	bool any_quota = false, esz_fresh = false;
	int r;

	if (kd->cfg->refresh_ms && m->features.f[FEATURE_REFRESH_MS] == FEATURE_PRESENT) {
		esz_fresh = true;
	} else {
		r = actuator(m)->state_cmd(m, kd->index, "update_schemes_stats");
		if (r < 0)
			return log_debug_errno(r, "kdamond '%s': update_schemes_stats: %m", kd->name);
		m->stats_commands++;
		for (size_t i = 0; i < kd->nr_slots; i++)
			any_quota |= slot_has_quota(kd, i);
		if (any_quota && actuator(m)->state_cmd(m, kd->index, "update_schemes_effective_quotas") >= 0) {
			m->stats_commands++;
			esz_fresh = true;
		}
	}
	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct damos_stats st;

		if (damon_read_scheme_stats(m->root, kd->index, (unsigned)i, &st) < 0)
			continue;
		observe_scheme_sysfs(&st, esz_fresh, now, &obs[i]);
	}
	return 0;
}

/* Fold a newer observation into the slot's stats and rates. */
static void slot_fold(struct scheme_rt *sl, const struct scheme_observation *ob)
{
	const struct damos_stats *st = &ob->stats;

	sl->st_fresh = false;
	if (ob->stats_source == OBS_SOURCE_NONE)
		return;
	if (sl->have_st && ob->stats_at_us <= sl->st_at)
		return; /* nothing newer since the last refresh */
	sl->st_fresh = true;
	if (sl->have_st) {
		sl->prev = sl->st;
		sl->prev_at = sl->st_at;
		sl->have_prev = true;
	}
	sl->st = *st;
	if (ob->esz_source == OBS_SOURCE_NONE && sl->have_st)
		sl->st.effective_bytes = sl->prev.effective_bytes;
	sl->st_at = ob->stats_at_us;
	sl->stats_source = ob->stats_source;
	sl->have_st = true;
	if (sl->have_prev && sl->st_at > sl->prev_at) {
		double dt = (double)(sl->st_at - sl->prev_at) / 1e6;

		sl->tried_bps = (double)(st->sz_tried - MIN(st->sz_tried, sl->prev.sz_tried)) / dt;
		sl->applied_bps = (double)(st->sz_applied - MIN(st->sz_applied, sl->prev.sz_applied)) / dt;
	}
}

/* One kdamond's tick: alive?, its schemes' stats and rates, then the controllers. */
void kd_refresh_stats(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	_cleanup_free_ struct scheme_observation *obs = NULL;

	if (!kd->running || m->dry_run)
		return;
	if (!kd_tick_alive(m, kd))
		return;
	obs = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*obs));
	if (!obs)
		return;
	if (!observe_bpf(m, kd, now, obs) && observe_sysfs(m, kd, now, obs) < 0)
		return;
	for (size_t i = 0; i < kd->nr_slots; i++)
		slot_fold(&kd->slots[i], &obs[i]);
	decide_and_apply(m, kd, now);
}

/* Why region refinement cannot run for kd, or NULL. */
const char *refine_off_reason(const struct manager *m, const struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;

	if (!c->refine.enabled)
		return "disabled (refine.enabled: false)";
	if (!m->snapshots || !m->events)
		return "needs the BPF monitor's region snapshots (the monitor is not BPF)";
	if (c->addr_unit != 1)
		return "not supported with addr_unit other than 1";
	if (c->intervals_goal.aggrs)
		return "not supported with intervals_goal (nr_accesses changes scale as intervals are tuned)";
	if (kd->nr_targets > REFINE_MAX_TARGETS)
		return "not supported with more than 16 targets";
	return NULL;
}

/*
 * The time between refinement rounds: the configured interval, but at least
 * twice the longest apply interval of kd's schemes. A commit on 6.12
 * restarts every scheme's apply interval (ARCHITECTURE.md item 7), so
 * rounds more frequent than a scheme's apply interval would keep it from
 * ever applying; damond assumes those semantics on every kernel.
 */
uint64_t refine_interval_us(const struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;
	uint64_t longest = 0;

	for (size_t i = 0; i < kd->nr_slots; i++)
		if (kd->slots[i].cfg_idx >= 0) {
			uint64_t ai = c->schemes[kd->slots[i].cfg_idx].apply_interval_us;

			longest = MAX(longest, ai ? ai : c->aggr_us);
		}
	return MAX(c->refine.interval_us, 2 * longest);
}

/* A fresh refinement state for kdamond process pid (0: refinement not running). */
void kd_refine_reset(struct kdamond_rt *kd, int pid)
{
	refine_init(&kd->refine);
	memset(&kd->refine_last, 0, sizeof(kd->refine_last));
	kd->refine_pid = pid;
}

/*
 * The target region lists a refinement commit carries: the planned span
 * (policy minus emulation gaps), cut as the kernel has it (t, the
 * snapshots), plus d's splits. A target without a split gets none (rendered
 * as nr_regions 0, the kernel keeps its regions).
 */
static int refine_override(const struct kdamond_rt *kd, const struct refine_target_obs *t,
			   const struct refine_decision *d, struct gapped *ov)
{
	_cleanup_(targets_freep) struct gapped g = {};
	const struct damon_target_cfg *base;
	int r;

	r = targets_with_gaps(kd, &g);
	if (r < 0)
		return r;
	base = g.t ? g.t : kd->targets;
	ov->t = calloc(kd->nr_targets, sizeof(*ov->t));
	if (!ov->t)
		return -ENOMEM;
	ov->n = kd->nr_targets;
	for (size_t i = 0; i < kd->nr_targets; i++) {
		/* vaddr: the kernel follows the mappings, the snapshot is the span; paddr/fvaddr: the plan's ranges */
		bool own_span = kd->cfg->ctx.ops == DAMON_OPS_VADDR || !base[i].nr_regions;
		/* each snapshot region can add two cuts inside a span range, each span range and split one */
		size_t cap = 2 * t[i].nr_regions + (own_span ? 0 : base[i].nr_regions) + d->nr_splits + 1;
		bool cut = false;

		ov->t[i] = base[i];
		ov->t[i].regions_borrowed = false;
		ov->t[i].regions_auto = false;
		ov->t[i].regions = NULL;
		ov->t[i].nr_regions = 0; /* no new cut: rendered as nr_regions 0, the kernel keeps its regions */
		for (size_t x = 0; x < d->nr_splits; x++)
			cut |= d->splits[x].target == i;
		if (!cut)
			continue;
		ov->t[i].regions = calloc(cap, sizeof(*ov->t[i].regions));
		if (!ov->t[i].regions)
			return -ENOMEM;
		r = refine_layout(t[i].regions, t[i].nr_regions, own_span ? NULL : base[i].regions,
				  own_span ? 0 : base[i].nr_regions, d->splits, d->nr_splits, (unsigned)i,
				  ov->t[i].regions, cap);
		if (r < 0)
			return r;
		ov->t[i].nr_regions = (size_t)r;
	}
	return 0;
}

/*
 * Region refinement for kd (lib/ctrl-refine.h): feed the newest snapshot of
 * each target, and commit the split regions when it says so. Returns true
 * when it committed.
 */
static bool kd_refine(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;
	struct refine_target_obs t[REFINE_MAX_TARGETS] = {};
	struct refine_obs o = { .now_us = now, .nr_targets = kd->nr_targets, .targets = t };
	struct refine_params p = {
		.interval_us = refine_interval_us(kd),
		.max_splits = (unsigned)MIN(c->refine.max_splits, (uint64_t)REFINE_MAX_SPLITS),
		.min_region_sz = 4096, /* DAMON_MIN_REGION: one page */
		.max_nr_accesses = (uint32_t)CLAMP(c->aggr_us / MAX(c->sample_us, 1ULL), 1ULL, (uint64_t)UINT32_MAX),
		.max_nr_regions = c->max_nr_regions,
		.settle_us = c->aggr_us,
		.max_age_us = 2 * c->aggr_us + 2 * m->config->settings.stats_interval_us,
	};
	struct refine_decision *d = &kd->refine_last;
	_cleanup_(targets_freep) struct gapped ov = {};
	_cleanup_free_ char *why = NULL;
	const char *off;
	int r;

	off = refine_off_reason(m, kd);
	if (off || !kd->running) {
		if (kd->refine_pid) /* it ran: whatever was pending is moot */
			kd_refine_reset(kd, 0);
		return false;
	}
	if (kd->pid != kd->refine_pid) /* switched on, or another kdamond process */
		kd_refine_reset(kd, kd->pid);
	for (size_t i = 0; i < kd->nr_targets; i++) {
		const struct damon_snapshot *snap = snapshot_store_get(m->snapshots, kd->index, (unsigned)i);

		/* only what this kdamond process produced since the last reload: a restart begins afresh */
		if (snap && snap->pid == kd->pid && snap->ts_ns / 1000 >= kd->refine_since_us)
			t[i] = (struct refine_target_obs){ .regions = snap->regions,
							   .nr_regions = snap->nr_regions,
							   .snapshot_us = snap->ts_ns / 1000 };
	}
	refine_step(&p, &kd->refine, &o, d);
	if (d->verdict != REFINE_SPLIT)
		return false;

	r = refine_override(kd, t, d, &ov);
	if (r < 0)
		goto fail;
	if (asprintf(&why, "region refinement: %s", d->reason) < 0)
		why = NULL;
	r = kd_commit(m, kd, true, &ov, NULL, why ? why : "region refinement");
	if (r < 0)
		goto fail;
	/* the commit is synchronous: the kernel has the new regions from now on */
	refine_committed(&p, &kd->refine, d, now_usec());
	return true;
fail:
	log_warning_errno(r, "kdamond '%s': region refinement commit failed: %m", kd->name);
	refine_commit_failed(&p, &kd->refine, now);
	return false;
}

/* Run the controllers of kd's schemes and apply all their decisions with one commit. */
static void decide_and_apply(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	_cleanup_free_ char *why = NULL;
	const char *changed_scheme = NULL;
	bool changed = false, gaps_changed = false;
	unsigned nr_changed = 0;
	int r;

	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct scheme_rt *sl = &kd->slots[i];
		struct charge_obs o = {};
		struct charge_decision d = {};

		/* only on a new sample: BPF values repeat until the next apply interval ends */
		if (!sl->ctrl_active || !sl->have_st || !sl->st_fresh)
			continue;
		if (sl->map_enabled && (!sl->map.generation || now - sl->map.scanned_us >= sl->map_period_us)) {
			r = pageflags_map_scan(&sl->map, m->kpageflags_fd, sl->map_class, now);
			if (r < 0)
				log_debug_errno(r, "kdamond '%s': kpageflags scan failed: %m", kd->name);
		}
		o.now_us = sl->st_at; /* when the kernel's counters had these values */
		o.sz_tried = sl->st.sz_tried;
		o.sz_applied = sl->st.sz_applied;
		o.nr_tried = sl->st.nr_tried;
		o.nr_applied = sl->st.nr_applied;
		o.qt_exceeds = sl->st.qt_exceeds;
		o.kernel_quota_bytes = sl->quota_override ? sl->kernel_quota : sl->cp.quota_bytes;
		o.map = sl->map_enabled && sl->map.generation ? &sl->map : NULL;
		charge_step(&sl->cp, &sl->cs, &o, &d);
		if (!d.set_quota && !d.set_filters)
			continue;
		if (d.set_quota) {
			sl->quota_override = true;
			sl->kernel_quota = d.quota_bytes;
		}
		if (d.set_filters) {
			size_t n = MIN(d.nr_reject, (size_t)CHARGE_MAX_FILTERS);

			gaps_changed |= n != sl->nr_reject || memcmp(sl->reject, d.reject, n * sizeof(d.reject[0]));
			sl->nr_reject = n;
			memcpy(sl->reject, d.reject, n * sizeof(sl->reject[0]));
		}
		{
			unsigned a = sl->nr_adj++ % SCHEME_ADJ_HISTORY;

			sl->adj[a].at = now;
			sl->adj[a].quota = sl->quota_override ? sl->kernel_quota : sl->cp.quota_bytes;
			sl->adj[a].nr_reject = sl->nr_reject;
			snprintf(sl->adj[a].reason, sizeof(sl->adj[a].reason), "%s", d.reason);
		}
		free(why);
		if (asprintf(&why, "charge-ratio emulation, scheme '%s': %s", sl->name, d.reason) < 0)
			why = NULL;
		changed = true;
		changed_scheme = sl->name;
		nr_changed++;
	}
	if (!changed) {
		/* at most one commit per kdamond per tick: refinement waits for a tick without charge decisions */
		(void)kd_refine(m, kd, now);
		return;
	}
	r = kd_commit(m, kd, gaps_changed, NULL, nr_changed == 1 ? changed_scheme : NULL,
		      why ? why : "controller decision");
	for (size_t i = 0; i < kd->nr_slots; i++)
		if (kd->slots[i].ctrl_active) {
			if (r >= 0)
				charge_committed(&kd->slots[i].cs, now);
			else
				charge_commit_failed(&kd->slots[i].cs, now);
		}
}
