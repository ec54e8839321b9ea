/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager: struct manager, the stats timer, and start and stop as lists
 * of named steps. What the steps do lives beside it: a kdamond's plan
 * (kdamond-plan.c) and kernel operations (kdamond.c), the ownership record
 * and checks (ownership.c), the actuator (actuator.c), the tick
 * (manager-stats.c), reload (manager-reload.c), EBUSY retries
 * (manager-retry.c) and the journal (manager-action.c).
 */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "exit-codes.h"
#include "log.h"
#include "manager-internal.h"
#include "stats-worker.h"
#ifdef HAVE_BPF
#include "events.h"
#endif
#include "replay.h"
#include "snapshot.h"

int manager_new(struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctl_fd = -1;
	m->kpageflags_fd = -1;
	m->nr_kdamonds_before_start = UINT64_MAX;
	m->busy = (struct damon_busy)DAMON_BUSY_DEFAULT;
	(void)damon_busy_use(&m->busy);
	r = sd_event_default(&m->event);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	manager_ctl_close(m);
	{
		/* the thread's EBUSY policy must not outlive m */
		struct damon_busy *cur = damon_busy_use(NULL);

		if (cur != &m->busy)
			(void)damon_busy_use(cur);
	}
	if (m->kpageflags_fd >= 0)
		close(m->kpageflags_fd);
#ifdef HAVE_BPF
	events_free(m->events);
#endif
	replay_free(m->replay);
	if (m->recorder) {
		uint64_t n = replay_writer_frames(m->recorder);
		int r = replay_writer_close(m->recorder);

		if (r < 0)
			log_warning_errno(r, "--record-events: the recording is incomplete: %m");
		else
			log_info("--record-events: %" PRIu64 " records recorded", n);
	}
	snapshot_store_free(m->snapshots);
	sd_event_source_unref(m->stats_timer);
	m->stats_worker = stats_worker_free(m->stats_worker); /* joined before the root it reads goes */
	sd_event_source_unref(m->retry_timer);
	sd_event_source_unref(m->follow_timer);
	memory_free(m);
	free(m->pending_off);
	sd_event_source_unref(m->sighup);
	for (size_t i = 0; i < m->nr_kd; i++)
		kd_done(&m->kd[i]);
	free(m->kd);
	damond_config_free(m->config);
	reload_result_clear(m);
	sd_event_unref(m->event);
	sysfs_root_free(m->root);
	free(m->sysfs_path);
	goal_psi_set_free(&m->goal_psi);
	for (size_t i = 0; i < ARRAY_SIZE(m->eligible_nodes); i++)
		free(m->eligible_nodes[i].r);
	goal_lru_cache_done(&m->eligible_lru);
	free(m->procfs_root);
	free(m->runtime_dir);
	free(m->config_path);
	free(m->bpf_reason);
	free(m);
	return NULL;
}

void manager_tick(struct manager *m)
{
	usec_t now = now_usec();

	/* The ring is watched edge-triggered: drain here too, so a wakeup the
	 * kernel could not send (ring full) never leaves records behind for good. */
	manager_observe_drain(m);
	/* stats that need a state command come back later, through the stats worker */
	manager_refresh_stats(m, now);
	for (size_t i = 0; i < m->nr_kd; i++)
		manager_dstat_observe(m, &m->kd[i]);
	/* the charge emulation's agers, on the controllers' last oracle (ager.c) */
	ager_tick(m, now);
}

/*
 * How late a stats tick may run (sd-event's accuracy). With the BPF monitor
 * the ring wakes damond several times a second (at 20,000 regions, every 0.3
 * to 0.4 s, half a ring of records), and sd-event dispatches every timer
 * already due in whatever wakeup comes: a tick may wait up to half its
 * interval (at most 500 ms) so that it runs inside a ring wakeup instead of
 * costing one of its own, 1 to 2 ms each under QEMU's emulation. The tick
 * still runs when nothing else comes (at the end of that window), and the
 * next one stays due one interval after this one was due
 * (stats_next_due()), so the textfile is rewritten once per interval. Without
 * the monitor nothing else wakes damond: the timer fires when due, as before.
 */
static usec_t manager_stats_accuracy(const struct manager *m)
{
	usec_t iv = m->config->settings.stats_interval_us;

	if (!m->events)
		return STATS_ACCURACY_USEC;
	return MAX(MIN(iv / 2, STATS_SLACK_MAX_USEC), STATS_ACCURACY_USEC);
}

/*
 * The next tick after one that was due at `due` and ran at `now`: due plus
 * an interval (no drift from running late), but never sooner than half an
 * interval from now: on kernels where each command takes >= 100 ms, ticks
 * must not pile up.
 */
static usec_t manager_stats_next_due(usec_t due, usec_t now, usec_t interval)
{
	return MAX(due + interval, now + interval / 2);
}

static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	manager_tick(m);
	manager_metrics_tick(m);
	/* Whole free heap pages go back to the kernel: a bench run once saw
	 * 1.4 MB of free but resident heap after 20 s without any control
	 * command (heap in use unchanged, source not found), gone at the next
	 * trim. At most every MANAGER_TRIM_USEC: each trim gives back what the
	 * next tick allocates again (the status document behind the metrics),
	 * and under QEMU those page faults made a 1 s tick with metrics cost
	 * 40 faults a second, most of damond's CPU at 20,000 regions. */
	if (now_usec() >= m->next_trim_us) {
		malloc_trim(0);
		m->next_trim_us = now_usec() + MANAGER_TRIM_USEC;
	}
	m->stats_ticks++;
	if (m->config->settings.stats_interval_us > HOLD_TICK_USEC && manager_any_held(m)) {
		/* a release commit re-arms the timer to the stats interval (manager_stats_unhold()) */
		m->stats_slack_us = STATS_ACCURACY_USEC;
		(void)sd_event_source_set_time_accuracy(s, m->stats_slack_us);
		(void)sd_event_source_set_time(s, now_usec() + HOLD_TICK_USEC);
		(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		m->stats_hold_tick = true;
		return 0;
	}
	m->stats_hold_tick = false;
	m->stats_slack_us = manager_stats_accuracy(m);
	(void)sd_event_source_set_time_accuracy(s, m->stats_slack_us);
	(void)sd_event_source_set_time(s,
				       manager_stats_next_due(usec, now_usec(), m->config->settings.stats_interval_us));
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* ---- start: a list of named steps ---------------------------------------- */

struct start_ctx {
	struct ownership own; /* what a previous damond recorded */
};

static int start_probe(struct manager *m, struct start_ctx *c)
{
	int r;

	r = features_probe_readonly(m->root, &m->features);
	if (r < 0) {
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return log_error_errno(r, "'%s/" DAMON_ADMIN_DIR "' not found: this kernel has no DAMON sysfs "
					  "interface (CONFIG_DAMON_SYSFS)",
				       m->sysfs_path);
	}
	return 0;
}

static int start_load_record(struct manager *m, struct start_ctx *c)
{
	int r;

	r = ownership_load(m->runtime_dir, &c->own);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read damond's ownership record in '%s', ignoring: %m", m->runtime_dir);

	r = damon_read_nr_kdamonds(m->root, &m->nr_kdamonds_dirs);
	if (r < 0)
		return log_error_errno(r, "cannot read nr_kdamonds: %m");
	return 0;
}

/* What the kernel would refuse at 'on' and damond can check first (pids, cgroups, nodes): before any write. */
static int start_preflight(struct manager *m, struct start_ctx *c)
{
	struct config_errors errs = {};
	int r;

	r = preflight_config(m, m->config, &errs);
	if (r < 0) {
		log_config_errors(&errs);
		log_error("the configuration names what does not exist on this machine; nothing was written");
		m->exit_status = DAMOND_EXIT_CONFIG;
	}
	config_errors_done(&errs);
	return r;
}

static int start_ownership_check(struct manager *m, struct start_ctx *c)
{
	return ownership_check(m, &c->own);
}

/* Runtime objects, adopting what a previous damond left running. */
static int start_runtime_objects(struct manager *m, struct start_ctx *c)
{
	const struct damond_config *config = m->config;
	int r;

	m->nr_kd = config->nr_kdamonds;
	m->kd = calloc(m->nr_kd ? m->nr_kd : 1, sizeof(*m->kd));
	if (!m->kd)
		return -ENOMEM;
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		kd->name = strdup_or_null(config->kdamonds[i].name);
		kd->cfg = &config->kdamonds[i];
		kd->pid = -1;
		kd->index = UINT_MAX;
		for (size_t j = 0; j < c->own.n; j++)
			if (streq(c->own.v[j].name, kd->name) && c->own.v[j].index < m->nr_kdamonds_dirs) {
				r = kd_take_over(m, kd, &c->own.v[j]);
				if (r < 0)
					return r;
			}
	}
	return 0;
}

/* A kdamond dir a record names but the config dropped is stopped. */
static int start_stop_dropped(struct manager *m, struct start_ctx *c)
{
	for (size_t j = 0; j < c->own.n; j++) {
		const struct owned_record *rec = &c->own.v[j];
		bool wanted = false;
		int pid = -1;

		for (size_t i = 0; i < m->nr_kd; i++)
			wanted |= streq(rec->name, m->kd[i].name);
		if (wanted || (!rec->running && !rec->starting) || rec->index >= m->nr_kdamonds_dirs)
			continue;
		if (kdamond_check_alive(m, rec->index, &pid) > 0 && (rec->starting || pid == rec->pid)) {
			(void)actuator(m)->state_cmd(m, rec->index, "off");
			/* an ager ("<kdamond>.ager", a name no config has) is started afresh by the tick if needed */
			record_action(m, rec->name, "off", "%s",
				      strchr(rec->name, '.')
					      ? "the charge emulation's ager of the damond before: stopped "
						"(started again if the page cache still asks for it)"
					      : "no longer in the configuration: stopped");
		}
	}
	return 0;
}

static int start_assign_indices(struct manager *m, struct start_ctx *c)
{
	assign_indices(m);
	return 0;
}

/* The number of kdamond dirs can only change while none runs; a failed start takes the new ones away again. */
static int start_ensure_dirs(struct manager *m, struct start_ctx *c)
{
	uint64_t was = m->nr_kdamonds_dirs;
	int r;

	r = ensure_kdamond_dirs(m);
	if (r >= 0 && m->nr_kdamonds_dirs != was)
		m->nr_kdamonds_before_start = was;
	return r;
}

/* Features: from the record (same boot, same kernel), else probed on a dir we own and that is stopped. */
static int start_features(struct manager *m, struct start_ctx *c)
{
	unsigned probe_k = UINT_MAX;
	char failed[PATH_MAX];
	int r;

	if (c->own.have_features) {
		m->features = c->own.features;
		m->features_from_record = true;
		m->features_full = true;
		(void)features_probe_readonly(m->root, &c->own.features); /* refresh module states */
		memcpy(m->features.module, c->own.features.module, sizeof(m->features.module));
		return 0;
	}
	for (size_t i = 0; i < m->nr_kd; i++)
		if (!m->kd[i].running && probe_k == UINT_MAX)
			probe_k = m->kd[i].index;
	failed[0] = 0;
	r = actuator(m)->probe_features(m, probe_k, failed);
	if (r < 0)
		/* rendering with unknown features could silently drop settings */
		return log_error_errno(r,
				       "probing the kernel's DAMON features on kdamonds/%u "
				       "failed%s%s%s: %m",
				       probe_k, failed[0] ? ": writing '" : "", failed, failed[0] ? "' = '1'" : "");
	return 0;
}

static int start_check_features(struct manager *m, struct start_ctx *c)
{
	struct config_errors errs = {};
	int r;

	r = features_check_config(&m->features, m->config, &errs);
	if (r < 0) {
		log_config_errors(&errs);
		config_errors_done(&errs);
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return r;
	}
	return disable_allowed_modules(m);
}

static int start_kdamonds(struct manager *m, struct start_ctx *c)
{
	int r;

	for (size_t i = 0; i < m->nr_kd; i++) {
		r = kdamond_bring_up(m, &m->kd[i], record_find(&c->own, m->kd[i].index));
		if (r < 0)
			return r;
	}
	return 0;
}

static int start_save(struct manager *m, struct start_ctx *c)
{
	m->started = true;
	m->config_loaded_at = now_usec();
	record_save(m);
	return 0;
}

static int start_arm_timer(struct manager *m, struct start_ctx *c)
{
	int r;

	m->stats_slack_us = manager_stats_accuracy(m);
	/* new schemes with a quota start held: their release wants an early tick (manager_any_held()) */
	m->stats_hold_tick = manager_any_held(m) && m->config->settings.stats_interval_us > HOLD_TICK_USEC;
	r = sd_event_add_time(m->event, &m->stats_timer, CLOCK_MONOTONIC,
			      now_usec() +
				      (m->stats_hold_tick ? HOLD_TICK_USEC : m->config->settings.stats_interval_us),
			      m->stats_slack_us, on_stats_timer, m);
	if (r < 0)
		return r;
	r = stats_worker_new(m->event, m->root, stats_round_done, m, &m->stats_worker);
	if (r < 0)
		return log_error_errno(r, "cannot set up the stats worker: %m");
	/* Start ran before the loop and waited up to ~2.6 s per busy file; from now on the loop never sleeps on
	 * the lock: the first EBUSY defers the operation to the retry timer (manager-retry.c). */
	m->busy.attempts = 1;
	m->retry_busy = true;
	return 0;
}

static const struct start_step {
	const char *name;
	int (*run)(struct manager *m, struct start_ctx *c);
} start_steps[] = {
	{ "probe", start_probe },
	{ "preflight", start_preflight },
	{ "load the ownership record", start_load_record },
	{ "ownership check", start_ownership_check },
	{ "runtime objects and adoption", start_runtime_objects },
	{ "stop dropped kdamonds", start_stop_dropped },
	{ "assign indices", start_assign_indices },
	{ "ensure kdamond directories", start_ensure_dirs },
	{ "features", start_features },
	{ "check features", start_check_features },
	{ "bring up kdamonds", start_kdamonds },
	{ "save the record", start_save },
	{ "arm the stats timer", start_arm_timer },
};

int manager_start(struct manager *m, struct damond_config *config)
{
	struct start_ctx c = {};
	int r = 0;

	m->config = config;
	m->generation = 1;
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(start_steps); i++) {
		r = start_steps[i].run(m, &c);
		if (r < 0)
			log_debug("start: step '%s' failed: %s", start_steps[i].name, strerror(-r));
	}
	ownership_done(&c.own);
	if (r >= 0) {
		follow_arm(m);
		memory_arm(m);
	}
	return r;
}

/*
 * A start that failed after it added kdamond directories (a policy this
 * kernel cannot run, a kernel write refused) takes them away again, so the
 * next start finds the tree as it was. Only when no kdamond runs at all: the
 * kernel refuses nr_kdamonds then, and a running one is someone's. What
 * cannot be taken away stays in the record, as damond's.
 */
static void cleanup_failed_start(struct manager *m)
{
	uint64_t was = m->nr_kdamonds_before_start;
	int r;

	if (m->started || was == UINT64_MAX || was >= m->nr_kdamonds_dirs)
		return;
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++) {
		r = actuator(m)->alive(m, (unsigned)k, NULL);
		if (r == ACTUATOR_NONE)
			return; /* the dry run: it wrote no nr_kdamonds */
		if (r != 0) {
			log_notice("the failed start leaves kdamonds/%" PRIu64 "..%" PRIu64 " (kdamonds/%" PRIu64
				   " %s); the ownership record keeps them as damond's",
				   was, m->nr_kdamonds_dirs - 1, k, r > 0 ? "runs" : "cannot be read");
			return;
		}
	}
	r = write_nr_kdamonds(m, was);
	if (r < 0)
		log_notice("the ownership record keeps kdamonds/%" PRIu64 "..%" PRIu64 " as damond's", was,
			   m->nr_kdamonds_dirs - 1);
	else
		record_action(m, NULL, "cleanup", "start failed: removed the kdamond directories it had added");
	m->nr_kdamonds_before_start = UINT64_MAX;
}

/* ---- stop: a list of named steps ----------------------------------------- */

static void stop_begin(struct manager *m)
{
	/* The loop is over: stopping may wait for the lock as start did (~2.6 s per busy file). */
	m->busy.attempts = ((struct damon_busy)DAMON_BUSY_DEFAULT).attempts;
	m->retry_busy = false;
	/* a stats round in flight ends (its kdamonds still run): its results are of no use now */
	stats_worker_cancel(m->stats_worker);
	(void)sd_notify(false, "STOPPING=1");
}

/* Kdamonds a reload removed whose 'off' waited for the lock: stopped whatever on_exit says, as the reload meant to. */
static void stop_pending_off(struct manager *m)
{
	for (size_t i = 0; i < m->nr_pending_off; i++) {
		int pid = -1;

		if (kdamond_check_alive(m, m->pending_off[i].index, &pid) > 0 && pid == m->pending_off[i].pid &&
		    actuator(m)->state_cmd(m, m->pending_off[i].index, "off") < 0)
			log_error("kdamond '%s': cannot stop kdamonds/%u, removed from the configuration",
				  m->pending_off[i].name, m->pending_off[i].index);
	}
}

/*
 * A start that failed half-way: what the kernel says settles it, so the
 * record never calls a directory "starting" that someone else may use later
 * (a running kdamond there would be taken for damond's).
 */
static void stop_settle_starting(struct manager *m, struct kdamond_rt *kd)
{
	int pid = -1, r;

	if (!kd->starting)
		return;
	r = actuator(m)->alive(m, kd->index, &pid); /* the dry run: ACTUATOR_NONE */
	if (r < 0)
		return;
	kd->starting = false;
	if (r > 0) {
		kd->running = true;
		kd->pid = pid;
	}
}

static void stop_kdamonds(struct manager *m)
{
	bool keep = m->config && m->config->settings.on_exit == DAMOND_ON_EXIT_KEEP;

	/* an ager is of no use without the damond that watches its oracle: stopped whatever on_exit says */
	ager_stop_all(m, "damond stopping: the ager runs only under damond");
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		stop_settle_starting(m, kd);
		if (!kd->running)
			continue;
		if (keep) {
			record_action(m, kd->name, "keep", "left running (on_exit: keep), pid %d", kd->pid);
			continue;
		}
		/* Final stats must be read before 'off': afterwards the kernel refuses the command. */
		(void)actuator(m)->state_cmd(m, kd->index, "update_schemes_stats");
		(void)kd_stop(m, kd, "damond stopping (on_exit: stop)");
	}
}

/*
 * A start that failed before it changed anything must not overwrite what a
 * previous damond recorded; once this damond recorded an intent, the record
 * must say what it left.
 */
static void stop_save(struct manager *m)
{
	if (m->started || m->record_saved)
		record_save(m);
}

static const struct stop_step {
	const char *name;
	void (*run)(struct manager *m);
} stop_steps[] = {
	{ "begin", stop_begin },
	{ "removed kdamonds", stop_pending_off },
	{ "kdamonds (on_exit)", stop_kdamonds },
	{ "clean up a failed start", cleanup_failed_start },
	{ "save the record", stop_save },
};

int manager_stop(struct manager *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(stop_steps); i++) {
		log_debug("stop: %s", stop_steps[i].name);
		stop_steps[i].run(m);
	}
	return 0;
}
