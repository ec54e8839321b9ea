/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stats tick for each kdamond: is it alive, its schemes' stats (BPF or
 * sysfs) and rates, then its controllers (controllers.c), whose decisions
 * land with one commit. State commands (update_schemes_stats, ...) wait
 * for the kdamond (>= 100 ms each on 6.12): they run on the stats worker
 * (stats-worker.c), never in the loop.
 */
#include <limits.h>

#include "log.h"
#include "manager-internal.h"
#include "observe.h"
#include "stats-worker.h"

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

	r = actuator(m)->alive(m, kd->index, &pid);
	if (r == ACTUATOR_NONE)
		return false; /* the dry run: none of damond's kdamonds is looked at */
	if (r < 0 || (r > 0 && pid == kd->pid))
		return true; /* a state that cannot be read (EBUSY: the lock is held) says nothing; look again next tick */
	if (r > 0 && kd->pid <= 0) {
		/* its start could not read the pid (the DAMON sysfs lock was held, kd_start()) */
		record_action(m, kd->name, "on", "kdamonds/%u runs as pid %d", kd->index, pid);
		kd->pid = pid;
		kd->starting = false;
		manager_observe_pids(m);
		record_save(m);
		return true;
	}
	if (!r) {
		snprintf(why, sizeof(why),
			 "the kdamond stopped behind damond's back (was pid %d; a vaddr target may have exited)",
			 kd->pid);
		kd_mark_dead(m, kd, why);
		return false;
	}
	record_action(m, kd->name, "died", "pid changed behind damond's back (%d -> %d)", kd->pid, pid);
	kd->pid = pid;
	manager_observe_pids(m);
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
	bool from_bpf = manager_event_feed(m) && kd->nr_slots > 0;

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

/* The schemes' stats files of kd, as they are now (no command). */
static void read_sysfs(struct manager *m, struct kdamond_rt *kd, bool esz_fresh, usec_t now,
		       struct scheme_observation *obs)
{
	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct damos_stats st;

		if (damon_read_scheme_stats(m->root, kd->index, (unsigned)i, &st) < 0)
			continue;
		observe_scheme_sysfs(&st, esz_fresh, now, &obs[i]);
	}
}

/*
 * Ask the kernel to refresh kd's stats (and effective quotas) off the loop:
 * a job for the stats worker (stats-worker.h); its results come back in
 * stats_round_done().
 */
static void queue_job(struct manager *m, struct kdamond_rt *kd, struct stats_job **jobs, size_t *n)
{
	struct stats_job *j, *t;

	t = reallocarray(*jobs, *n + 1, sizeof(**jobs));
	if (!t)
		return;
	*jobs = t;
	j = &t[*n];
	*j = (struct stats_job){
		.index = kd->index, .pid = kd->pid, .generation = m->generation, .nr_slots = kd->nr_slots
	};
	snprintf(j->name, sizeof(j->name), "%s", kd->name);
	for (size_t i = 0; i < kd->nr_slots; i++)
		j->want_quotas |= slot_has_quota(kd, i);
	j->st = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*j->st));
	j->st_ok = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*j->st_ok));
	if (!j->st || !j->st_ok) {
		free(j->st);
		free(j->st_ok);
		return;
	}
	(*n)++;
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

/* Fold obs into kd's slots, then its controllers. */
static void kd_observed(struct manager *m, struct kdamond_rt *kd, const struct scheme_observation *obs, usec_t now)
{
	for (size_t i = 0; i < kd->nr_slots; i++)
		slot_fold(&kd->slots[i], &obs[i]);
	decide_and_apply(m, kd, now);
}

/*
 * One kdamond's tick: alive?, its schemes' stats and rates, then the
 * controllers. Stats that need a state command (no BPF values, no
 * refresh_ms) become a job for the stats worker: the controllers run when
 * it is back (stats_round_done()).
 */
static void kd_refresh_stats(struct manager *m, struct kdamond_rt *kd, usec_t now, struct stats_job **jobs, size_t *n)
{
	_cleanup_free_ struct scheme_observation *obs = NULL;

	if (!kd->running || !kd_tick_alive(m, kd))
		return;
	if (kd->nr_slots == 0) {
		/* no scheme, no stats: no state command (it took a thread and a wait for the kdamond each tick) */
		kd_observed(m, kd, NULL, now);
		return;
	}
	obs = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*obs));
	if (!obs)
		return;
	if (!observe_bpf(m, kd, now, obs)) {
		if (!kd->cfg->refresh_ms || m->features.f[FEATURE_REFRESH_MS] != FEATURE_PRESENT) {
			/* with refresh_ms (6.17+) the kernel refreshes stats and effective quotas itself */
			if (stats_worker_busy(m->stats_worker))
				m->stats_skipped++; /* its previous command is still in flight */
			else
				queue_job(m, kd, jobs, n);
			return;
		}
		read_sysfs(m, kd, true, now, obs);
	}
	kd_observed(m, kd, obs, now);
}

void manager_refresh_stats(struct manager *m, usec_t now)
{
	struct stats_job *jobs = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < m->nr_kd; i++)
		kd_refresh_stats(m, &m->kd[i], now, &jobs, &n);
	if (!n) {
		free(jobs);
		return;
	}
	r = stats_worker_submit(m->stats_worker, jobs, n);
	if (r < 0)
		log_warning_errno(r, "cannot start the stats round: %m");
}

/* The job still describes kd: same configuration generation, kdamond and slots. */
static struct kdamond_rt *job_kd(struct manager *m, const struct stats_job *j)
{
	if (j->generation != m->generation)
		return NULL;
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		if (kd->index == j->index && kd->name && streq(kd->name, j->name))
			return kd->running && kd->pid == j->pid && kd->nr_slots == j->nr_slots ? kd : NULL;
	}
	return NULL;
}

/* In the loop: a stats round is back; each kdamond it still describes gets its stats and controllers. */
void stats_round_done(void *userdata, struct stats_job *jobs, size_t n)
{
	struct manager *m = userdata;
	usec_t now = now_usec();

	for (size_t k = 0; k < n; k++) {
		const struct stats_job *j = &jobs[k];
		_cleanup_free_ struct scheme_observation *obs = NULL;
		struct kdamond_rt *kd;

		m->stats_commands += j->nr_commands;
		m->stats_busy += j->nr_busy;
		if (j->r < 0) {
			m->stats_failed++;
			log_debug_errno(j->r, "kdamond '%s': update_schemes_stats: %m", j->name);
			continue;
		}
		kd = job_kd(m, j);
		if (!kd) {
			m->stats_dropped++;
			log_debug("kdamond '%s': stats dropped, it changed while they were read", j->name);
			continue;
		}
		obs = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*obs));
		if (!obs)
			continue;
		for (size_t i = 0; i < kd->nr_slots; i++)
			if (j->st_ok[i])
				observe_scheme_sysfs(&j->st[i], j->esz_fresh, j->at_us, &obs[i]);
		kd_observed(m, kd, obs, now);
	}
}

bool manager_any_held(const struct manager *m)
{
	for (size_t i = 0; i < m->nr_kd; i++) {
		/* region refinement's raised max_nr_regions: lowered as soon as one aggregation ran with it */
		if (m->kd[i].overlay.max_nr_regions)
			return true;
		for (size_t j = 0; j < m->kd[i].overlay.nr_slots; j++)
			if (m->kd[i].overlay.slots[j].hold)
				return true;
	}
	return false;
}

/* A raised max_nr_regions was committed: the next tick comes HOLD_TICK_USEC ahead (and so on while it is raised), so
 * that the lower follows the first aggregation that ran with it instead of a whole stats interval later. */
static void manager_stats_hold(struct manager *m)
{
	if (m->stats_hold_tick || !m->stats_timer || m->config->settings.stats_interval_us <= HOLD_TICK_USEC)
		return;
	m->stats_hold_tick = true;
	m->stats_slack_us = STATS_ACCURACY_USEC;
	(void)sd_event_source_set_time_accuracy(m->stats_timer, m->stats_slack_us);
	(void)sd_event_source_set_time(m->stats_timer, now_usec() + HOLD_TICK_USEC);
	(void)sd_event_source_set_enabled(m->stats_timer, SD_EVENT_ONESHOT);
}

/* The last held scheme was released: the timer armed for the next 100 ms tick goes back to the stats interval
 * now, so no extra tick (and no extra state command) follows the release. */
static void manager_stats_unhold(struct manager *m)
{
	if (!m->stats_hold_tick || !m->stats_timer || manager_any_held(m))
		return;
	m->stats_hold_tick = false;
	m->stats_slack_us = STATS_ACCURACY_USEC;
	(void)sd_event_source_set_time_accuracy(m->stats_timer, m->stats_slack_us);
	(void)sd_event_source_set_time(m->stats_timer, now_usec() + m->config->settings.stats_interval_us);
}

/*
 * kd's controllers on this tick's observation (controllers.c), their
 * decisions in one commit, its outcome to those that made them.
 */
static void decide_and_apply(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	const char *scheme = NULL;
	unsigned changed;
	char why[512] = "";
	bool busy;
	int r;

	/* a start, commit or nr_kdamonds that waits for the DAMON sysfs lock (manager-retry.c) carries the whole
	 * plan, overlay included, when it lands: a controller commit now would clear what waits (and race it) */
	if (kd->pending != KD_PENDING_NONE || m->pending_nr_kdamonds)
		return;
	changed = ctrls_step(m, kd, now, why, sizeof(why), &scheme);
	if (!changed)
		return;
	r = kd_commit(m, kd, scheme, why[0] ? why : "controller decision");
	busy = busy_deferrable(m, r);
	if (busy)
		/* not given to the retry timer: it would commit a decision its controller has been told did not
		 * land; the controllers decide again at the next tick, without backing off (CTRL_BUSY). kd_fail()
		 * left the EBUSY for a caller to record: say here what happens to it. */
		record_scheme_action(m, kd->name, scheme, "deferred",
				     "controller decision not committed, the DAMON sysfs lock is held by another "
				     "user (the controllers decide again at the next tick): %s",
				     kd->last_error ? kd->last_error : strerror(EBUSY));
	else if (r < 0)
		log_warning_errno(r, "kdamond '%s': controller commit failed (%s): %m", kd->name, why);
	if (r < 0) {
		/* a layout is laid out over the regions of its tick: one that did not land is not carried later */
		for (size_t t = 0; t < kd->overlay.nr_targets; t++)
			if (kd->overlay.targets[t].layout_new)
				(void)kd_overlay_set_layout(&kd->overlay, t, NULL, 0);
		/* nor a raised max_nr_regions (a failed lower is decided again: the controller still stands by it) */
		kd->overlay.max_nr_regions = 0;
	}
	/* the commit is synchronous: the kernel has the decisions from now on */
	ctrls_outcome(m, kd, changed, r >= 0 ? CTRL_COMMITTED : busy ? CTRL_BUSY : CTRL_FAILED, now_usec());
	/* the record's hash is of what the kernel holds: a damond that adopts the kdamond after a crash then
	 * sees it unchanged (the first-window release, say) instead of recommitting */
	if (r >= 0) {
		record_save(m);
		manager_stats_unhold(m);
		if (kd->overlay.max_nr_regions)
			manager_stats_hold(m);
	}
}
