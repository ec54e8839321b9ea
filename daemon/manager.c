/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager: owns damond's kdamonds, applies configs, refreshes stats,
 * runs controllers and applies their decisions in one place.
 */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <time.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "config.h"
#include "exit-codes.h"
#include "iomem.h"
#include "journal-action.h"
#include "log.h"
#include "manager-internal.h"
#include "observe.h"
#include "units.h"
#ifdef HAVE_BPF
#include "events.h"
#endif
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
	if (m->kpageflags_fd >= 0)
		close(m->kpageflags_fd);
#ifdef HAVE_BPF
	events_free(m->events);
#endif
	snapshot_store_free(m->snapshots);
	sd_event_source_unref(m->stats_timer);
	sd_event_source_unref(m->retry_timer);
	free(m->pending_off);
	sd_event_source_unref(m->sighup);
	for (size_t i = 0; i < m->nr_kd; i++)
		kd_done(&m->kd[i]);
	free(m->kd);
	damond_config_free(m->config);
	for (size_t i = 0; i < m->last_reload.nr_errors; i++)
		free(m->last_reload.errors[i]);
	free(m->last_reload.errors);
	sd_event_unref(m->event);
	sysfs_root_free(m->root);
	free(m->sysfs_path);
	free(m->procfs_root);
	free(m->runtime_dir);
	free(m->config_path);
	free(m->bpf_reason);
	free(m);
	return NULL;
}


static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	usec_t now = now_usec();

	damon_busy_budget_reset();	/* this tick sleeps at most MANAGER_BUSY_BUDGET_MS on EBUSY */
#ifdef HAVE_BPF
	/* The ring is watched edge-triggered: drain here too, so a wakeup the
	 * kernel could not send (ring full) never leaves records behind for good. */
	manager_events_drain(m);
#endif
	for (size_t i = 0; i < m->nr_kd; i++)
		kd_refresh_stats(m, &m->kd[i], now);
	/* Whole free heap pages go back to the kernel: a bench run once saw
	 * 1.4 MB of free but resident heap after 20 s without any control
	 * command (heap in use unchanged, source not found), gone at the next
	 * trim. Cheap at this period. */
	manager_metrics_tick(m);
	malloc_trim(0);
	/* from now: on kernels where each command takes >= 100 ms, ticks must not pile up */
	(void)sd_event_source_set_time(s, now_usec() + m->config->settings.stats_interval_us);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

int manager_start(struct manager *m, struct damond_config *config)
{
	_cleanup_(ownership_done) struct ownership own = {};
	struct config_errors errs = {};
	usec_t now = now_usec();
	unsigned next_free;
	bool any_running_ours = false;
	int r;

	m->config = config;
	m->generation = 1;

	r = features_probe_readonly(m->root, &m->features);
	if (r < 0) {
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return log_error_errno(r, "'%s/" DAMON_ADMIN_DIR "' not found: this kernel has no DAMON sysfs "
					  "interface (CONFIG_DAMON_SYSFS)",
				       m->sysfs_path);
	}

	r = ownership_load(m->runtime_dir, &own);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read damond's ownership record in '%s', ignoring: %m", m->runtime_dir);

	r = damon_read_nr_kdamonds(m->root, &m->nr_kdamonds_dirs);
	if (r < 0)
		return log_error_errno(r, "cannot read nr_kdamonds: %m");

	r = ownership_check(m, &own);
	if (r < 0)
		return r;

	/* Runtime objects, adopting what a previous damond left running. */
	m->nr_kd = config->nr_kdamonds;
	m->kd = calloc(m->nr_kd ? m->nr_kd : 1, sizeof(*m->kd));
	if (!m->kd)
		return -ENOMEM;
	next_free = 0;
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		kd->name = strdup_or_null(config->kdamonds[i].name);
		kd->cfg = &config->kdamonds[i];
		kd->pid = -1;
		kd->index = UINT_MAX;
		for (size_t j = 0; j < own.n; j++)
			if (streq(own.v[j].name, kd->name) && own.v[j].index < m->nr_kdamonds_dirs) {
				const struct owned_record *rec = &own.v[j];

				kd->index = rec->index;
				if (rec->running || rec->starting) {
					bool on = false;
					int pid = -1;

					/* starting: the previous damond died between 'on' and recording the pid */
					if (damon_read_state(m->root, kd->index, &on, &pid) >= 0 && on &&
					    (rec->starting || pid == rec->pid)) {
						kd->running = true;
						kd->adopted = true;
						kd->pid = pid;
						any_running_ours = true;
						/* what it holds, as the record knows it, until it is handled below */
						kd->record_hash = strdup_or_null(rec->list_hash);
						kd->nr_slots = rec->nr_slots;
						kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
						if (!kd->slots)
							return -ENOMEM;
						for (size_t s = 0; s < kd->nr_slots; s++) {
							kd->slots[s].name = strdup_or_null(rec->slot_names[s]);
							kd->slots[s].cfg_idx = -1;
						}
					}
				}
			}
	}
	/* Indices for the rest; a kdamond dir a record names but the config dropped is stopped. */
	for (size_t j = 0; j < own.n; j++) {
		bool wanted = false;

		for (size_t i = 0; i < m->nr_kd; i++)
			wanted |= streq(own.v[j].name, m->kd[i].name);
		if (!wanted && (own.v[j].running || own.v[j].starting) && own.v[j].index < m->nr_kdamonds_dirs) {
			bool on = false;
			int pid = -1;

			if (damon_read_state(m->root, own.v[j].index, &on, &pid) >= 0 && on &&
			    (own.v[j].starting || pid == own.v[j].pid)) {
				(void)actuator(m)->state_cmd(m, own.v[j].index, "off");
				record_action(m, own.v[j].name, "off", "no longer in the configuration: stopped");
			}
		}
	}
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		bool taken;

		if (kd->index != UINT_MAX)
			continue;
		do {
			taken = false;
			for (size_t j = 0; j < m->nr_kd; j++)
				taken |= m->kd[j].index == next_free;
			if (taken)
				next_free++;
		} while (taken);
		kd->index = next_free++;
	}

	/* The number of kdamond dirs can only change while none runs. */
	{
		uint64_t need = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			need = MAX(need, (uint64_t)m->kd[i].index + 1);
		if (need > m->nr_kdamonds_dirs) {
			if (any_running_ours) {
				for (size_t i = 0; i < m->nr_kd; i++) {
					(void)kd_stop(m, &m->kd[i], "the kernel can only add kdamond directories "
								    "while none runs");
					/* the directories are about to be recreated: start afresh */
					m->kd[i].adopted = false;
				}
				any_running_ours = false;
			}
			m->nr_kdamonds_before_start = m->nr_kdamonds_dirs;
			r = write_nr_kdamonds(m, need);
			if (r < 0) {
				m->nr_kdamonds_before_start = UINT64_MAX;
				return r;
			}
		}
	}

	/* Features: from the record (same boot, same kernel), else probed on a dir we own and that is stopped. */
	if (own.have_features) {
		m->features = own.features;
		m->features_from_record = true;
		m->features_full = true;
		(void)features_probe_readonly(m->root, &own.features); /* refresh module states */
		memcpy(m->features.module, own.features.module, sizeof(m->features.module));
	} else {
		unsigned probe_k = UINT_MAX;

		for (size_t i = 0; i < m->nr_kd; i++)
			if (!m->kd[i].running && probe_k == UINT_MAX)
				probe_k = m->kd[i].index;
		if (probe_k != UINT_MAX && !m->dry_run) {
			char failed[PATH_MAX];

			r = features_probe_owned_ex(m->root, probe_k, &m->features, failed);
			if (r < 0)
				/* rendering with unknown features could silently drop settings */
				return log_error_errno(r, "probing the kernel's DAMON features on kdamonds/%u "
							  "failed%s%s%s: %m",
						       probe_k, failed[0] ? ": writing '" : "", failed,
						       failed[0] ? "' = '1'" : "");
			m->features_full = true;
		} else if (m->dry_run) {
			/* no probe that writes: what the existing directories tell (read-only) */
			const char *source;

			(void)features_probe_kernel(m->root, NULL, &m->features, &source);
			log_notice("dry run: DAMON features read from %s without writing; those no kdamond "
				   "directory shows are not checked (damond probes them at start)",
				   streq(source, "none") ? "modules and tracefs only" : "the existing kdamond directories");
		}
	}

	r = features_check_config(&m->features, config, &errs);
	if (r < 0) {
		log_config_errors(&errs);
		config_errors_done(&errs);
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return r;
	}
	r = disable_allowed_modules(m);
	if (r < 0)
		return r;

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		const struct owned_record *rec = record_find(&own, kd->index);

		r = resolve_targets(m, kd->cfg, &kd->targets, &kd->nr_targets);
		if (r < 0)
			return r;
		if (kd->adopted && rec) {
			_cleanup_(write_list_done) struct write_list l = {};
			_cleanup_free_ char *hash = NULL, *restart = NULL;

			/* Slots as the running kdamond has them (from the record, above), re-laid for this config. */
			r = kd_relayout(m, kd, now, &restart);
			if (r < 0)
				return r;
			if (restart) {
				(void)kd_stop(m, kd, restart);
				r = kd_start(m, kd, restart);
				if (r < 0)
					return r;
				continue;
			}
			r = plan_render(m, kd, false, NULL, &l);
			if (r < 0)
				return r;
			hash = write_list_hash(&l);
			if (hash && rec->list_hash && streq(hash, rec->list_hash)) {
				kd->written = l;
				l = (struct write_list){};
				kd_set_last(kd, "adopt", "re-adopted after a damond restart, configuration unchanged");
				record_action(m, kd->name, "adopt",
					      "re-adopted kdamonds/%u (pid %d) unchanged: no writes, no restart",
					      kd->index, kd->pid);
				continue;
			}
			record_action(m, kd->name, "adopt", "re-adopted kdamonds/%u (pid %d); configuration changed",
				      kd->index, kd->pid);
			r = kd_commit(m, kd, true, NULL, NULL, "re-adopted with a changed configuration");
			if (r < 0)
				return r;
			continue;
		}
		r = kd_init_slots_fresh(m, kd, now);
		if (r < 0)
			return r;
		r = kd_start(m, kd, "damond start");
		if (r < 0)
			return r;
	}

	m->started = true;
	m->config_loaded_at = now_usec();
	record_save(m);

	r = sd_event_add_time(m->event, &m->stats_timer, CLOCK_MONOTONIC,
			      now_usec() + config->settings.stats_interval_us, 10000, on_stats_timer, m);
	if (r < 0)
		return r;
	/* Start ran before the loop and waited up to ~2.6 s per busy file; from now on the loop may not. */
	damon_set_busy_budget(MANAGER_BUSY_BUDGET_MS);
	m->retry_busy = true;
	return 0;
}

static void set_reload_result(struct manager *m, bool ok, const struct config_errors *errs)
{
	for (size_t i = 0; i < m->last_reload.nr_errors; i++)
		free(m->last_reload.errors[i]);
	free(m->last_reload.errors);
	m->last_reload.errors = NULL;
	m->last_reload.nr_errors = 0;
	m->last_reload.ok = ok;
	m->last_reload.at = now_usec();
	if (ok)
		m->config_loaded_at = m->last_reload.at;
	if (!errs || !errs->n)
		return;
	m->last_reload.errors = calloc(errs->n, sizeof(char *));
	if (!m->last_reload.errors)
		return;
	for (size_t i = 0; i < errs->n; i++)
		if (config_error_format(&errs->v[i], &m->last_reload.errors[m->last_reload.nr_errors]) >= 0)
			m->last_reload.nr_errors++;
}

/*
 * Reload: parse and validate into a new config, check it against the
 * kernel's features, resolve its targets — and only then touch anything.
 */
int manager_reload(struct manager *m, struct config_errors *errs)
{
	_cleanup_(damond_config_freep) struct damond_config *nc = NULL;
	struct damon_target_cfg **nt = NULL;
	size_t *nnt = NULL;
	struct kdamond_rt *nkd = NULL;
	struct damond_config *old;
	usec_t now = now_usec();
	bool need_dirs = false;
	unsigned failed = 0;
	size_t nn;
	int r;

	damon_busy_budget_reset();	/* a reload sleeps at most MANAGER_BUSY_BUDGET_MS on EBUSY */
	(void)sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");
	r = config_load_file(m->config_path, &nc, errs);
	if (r >= 0)
		r = features_check_config(&m->features, nc, errs);
	if (r < 0) {
		log_config_errors(errs);
		log_error("reload of '%s' rejected; the running configuration and kdamonds are unchanged",
			  m->config_path);
		set_reload_result(m, false, errs);
		(void)sd_notify(false, "READY=1\nSTATUS=Reload rejected; running the previous configuration");
		return r;
	}
	log_config_errors(errs); /* warnings only: the file is accepted */

	/* Resolve every target before anything changes. */
	nn = nc->nr_kdamonds;
	nt = calloc(nn ? nn : 1, sizeof(*nt));
	nnt = calloc(nn ? nn : 1, sizeof(*nnt));
	nkd = calloc(nn ? nn : 1, sizeof(*nkd));
	if (!nt || !nnt || !nkd) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nn; i++) {
		r = resolve_targets(m, &nc->kdamonds[i], &nt[i], &nnt[i]);
		if (r < 0)
			goto fail;
	}

	/* Point of no return: move the runtime objects over, matched by name. */
	for (size_t i = 0; i < nn; i++) {
		struct kdamond_rt *k = &nkd[i];

		k->index = UINT_MAX;
		k->pid = -1;
		for (size_t j = 0; j < m->nr_kd; j++)
			if (m->kd[j].name && streq(m->kd[j].name, nc->kdamonds[i].name)) {
				*k = m->kd[j];
				m->kd[j] = (struct kdamond_rt){};
				break;
			}
		k->cfg = &nc->kdamonds[i];
		if (!k->name)
			k->name = strdup_or_null(k->cfg->name);
	}
	for (size_t j = 0; j < m->nr_kd; j++) {
		if (!m->kd[j].name)
			continue;
		r = kd_stop(m, &m->kd[j], "removed from the configuration");
		if (busy_deferrable(m, r))
			defer_off(m, &m->kd[j]);
		kd_done(&m->kd[j]);
	}
	free(m->kd);
	old = m->config;
	m->config = TAKE_PTR(nc);
	m->kd = nkd;
	m->nr_kd = nn;
	m->generation++;
	m->pending_nr_kdamonds = 0;	/* recomputed below from what the kernel has */

	for (size_t i = 0; i < m->nr_kd; i++) {
		unsigned idx = 0;
		bool taken;

		if (m->kd[i].index != UINT_MAX)
			continue;
		do {
			/* nor one whose removed kdamond still waits to be stopped */
			taken = index_pending_off(m, idx);
			for (size_t j = 0; j < m->nr_kd; j++)
				taken |= m->kd[j].index == idx;
			if (taken)
				idx++;
		} while (taken);
		m->kd[i].index = idx;
	}
	/* new kdamonds, and kept ones whose directory a deferred nr_kdamonds write never created */
	for (size_t i = 0; i < m->nr_kd; i++)
		need_dirs |= m->kd[i].index >= m->nr_kdamonds_dirs;
	if (need_dirs) {
		uint64_t need = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			need = MAX(need, (uint64_t)m->kd[i].index + 1);
		for (size_t i = 0; i < m->nr_kd; i++)
			(void)kd_stop(m, &m->kd[i],
				      "adding a kdamond: the kernel only creates kdamond directories while none runs");
		/* the new kdamonds are in the record (with their indices) before their directories exist */
		r = write_nr_kdamonds_ex(m, need, m->retry_busy, NULL);
		if (r == -EBUSY && m->retry_busy) {
			m->pending_nr_kdamonds = need;
			record_action(m, NULL, "deferred", "nr_kdamonds = %" PRIu64 " waits for the DAMON sysfs lock "
				      "(EBUSY), retried from a timer; every kdamond starts after it", need);
			retry_arm(m);
		}
	}

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		_cleanup_free_ char *restart = NULL;
		_cleanup_(write_list_done) struct write_list l = {};
		bool regions_changed;
		char why[160];

		targets_free(kd->targets, kd->nr_targets);
		kd->targets = TAKE_PTR(nt[i]);
		kd->nr_targets = nnt[i];

		snprintf(why, sizeof(why), "reload, generation %u", m->generation);
		kd->pending = KD_PENDING_NONE;	/* the reload redoes whatever waited for the lock */
		if (m->pending_nr_kdamonds) {
			/* the kdamond directories are recreated once the lock is free; every kdamond starts then */
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				kd_defer(m, kd, KD_PENDING_START, false, why);
			else
				failed++;
			continue;
		}
		if (!kd->running) {
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				r = kd_start(m, kd, why);
			if (busy_deferrable(m, r))
				kd_defer(m, kd, KD_PENDING_START, false, why);
			else if (r < 0)
				failed++;
			continue;
		}
		r = kd_relayout(m, kd, now, &restart);
		if (r >= 0)
			r = plan_render(m, kd, false, NULL, &l);
		if (r < 0) {
			failed++;
			continue;
		}
		/* what the kernel holds vs what it will hold, emulation gaps included */
		regions_changed = false;
		{
			size_t a = 0, b = 0;

			while (!regions_changed && (a < kd->written.n || b < l.n)) {
				while (a < kd->written.n && !sysfs_write_is_region(&kd->written.v[a]))
					a++;
				while (b < l.n && !sysfs_write_is_region(&l.v[b]))
					b++;
				if (a < kd->written.n && b < l.n)
					regions_changed = !sysfs_write_equal(&kd->written.v[a], &l.v[b]);
				else
					regions_changed = (a < kd->written.n) != (b < l.n);
				a++;
				b++;
			}
		}
		/* operations and addr_unit cannot change under a running context */
		for (size_t w = 0; !restart && w < l.n; w++) {
			const char *p = l.v[w].path;
			size_t pl = strlen(p);

			if (!(pl >= 10 && streq(p + pl - 10, "operations")) && !(pl >= 9 && streq(p + pl - 9, "addr_unit")))
				continue;
			for (size_t o = 0; o < kd->written.n; o++)
				if (streq(kd->written.v[o].path, p) && !streq(kd->written.v[o].value, l.v[w].value) &&
				    asprintf(&restart, "'%s' changes from '%s' to '%s'", p, kd->written.v[o].value,
					     l.v[w].value) < 0)
					restart = NULL;
		}
		if (restart) {
			record_action(m, kd->name, "restart", "this change cannot be committed online: %s", restart);
			r = kd_stop(m, kd, restart);
			if (busy_deferrable(m, r)) {
				/* the retry timer stops it, then starts it */
				r = kd_init_slots_fresh(m, kd, now);
				if (r >= 0)
					kd_defer(m, kd, KD_PENDING_START, false, restart);
				else
					failed++;
				continue;
			}
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				r = kd_start(m, kd, restart);
			if (busy_deferrable(m, r))
				kd_defer(m, kd, KD_PENDING_START, false, restart);
			else if (r < 0)
				failed++;
			continue;
		}
		if (write_list_equal(&l, &kd->written)) {
			log_debug("kdamond '%s': unchanged by the reload", kd->name);
			continue;
		}
		{
			size_t d = write_list_first_diff(&kd->written, &l);

			if (d < l.n) {
				/* name the file, also inside a region block */
				struct sysfs_file fb;
				const struct sysfs_file *f;
				size_t j = 0;

				if (d < kd->written.n)
					j = sysfs_write_first_diff_file(&l.v[d], &kd->written.v[d]);
				if (j >= sysfs_write_nr_files(&l.v[d]))
					j = 0;
				f = sysfs_write_file(&l.v[d], j, &fb);
				snprintf(why, sizeof(why), "reload, generation %u: first change '%s' = '%s'",
					 m->generation, f->path + strlen(KD "/"), f->value);
			}
		}
		r = kd_commit(m, kd, regions_changed, NULL, NULL, why);
		if (r == -ECANCELED)
			r = kd_start(m, kd, "restart after the kdamond died on commit");
		if (busy_deferrable(m, r))
			kd_defer(m, kd, kd->running ? KD_PENDING_COMMIT : KD_PENDING_START, regions_changed, why);
		else if (r < 0)
			failed++;
		/* targets may be other processes or ranges now: refinement starts afresh from snapshots made after this */
		kd_refine_reset(kd, kd->refine_pid);
		kd->refine_since_us = now_usec();
	}

	damond_config_free(old);
	free(nt);
	free(nnt);
#ifdef HAVE_BPF
	manager_events_update_pids(m);
#endif
	set_reload_result(m, failed == 0, NULL);
	malloc_trim(0);	/* the old and new policies were both in memory */
	{
		unsigned waiting = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			waiting += m->kd[i].pending != KD_PENDING_NONE;
		if (waiting)
			log_notice("reload: %u kdamond(s) wait for the DAMON sysfs lock (EBUSY); retried in the "
				   "background, see 'damondctl status'",
				   waiting);
	}
	if (failed)
		log_error("reload: the kernel refused the change for %u kdamond(s); see the errors above and "
			  "'damondctl status'",
			  failed);
	record_save(m);
	(void)sd_notify(false, "READY=1");
	manager_notify_status(m);
	return failed ? -EIO : 0;

fail:
	for (size_t i = 0; nt && i < nn; i++)
		targets_free(nt[i], nnt[i]);
	free(nt);
	free(nnt);
	free(nkd);
	set_reload_result(m, false, NULL);
	log_error_errno(r, "reload of '%s' failed before any change: %m", m->config_path);
	(void)sd_notify(false, "READY=1\nSTATUS=Reload failed; running the previous configuration");
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

	if (m->dry_run || was == UINT64_MAX || was >= m->nr_kdamonds_dirs)
		return;
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++) {
		bool on = false;
		int pid = -1;

		if (damon_read_state(m->root, (unsigned)k, &on, &pid) < 0 || on) {
			log_notice("the failed start leaves kdamonds/%" PRIu64 "..%" PRIu64 " (kdamonds/%" PRIu64
				   " %s); the ownership record keeps them as damond's",
				   was, m->nr_kdamonds_dirs - 1, k, on ? "runs" : "cannot be read");
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

int manager_stop(struct manager *m)
{
	bool keep = m->config && m->config->settings.on_exit == DAMOND_ON_EXIT_KEEP;

	/* The loop is over: stopping may wait for the lock as start did (~2.6 s per busy file). */
	damon_set_busy_budget(0);
	m->retry_busy = false;
	(void)sd_notify(false, "STOPPING=1");
	for (size_t i = 0; i < m->nr_pending_off; i++) {
		bool on = false;
		int pid = -1;

		/* removed by a reload: stopped whatever on_exit says, as the reload meant to */
		if (!m->dry_run && damon_read_state(m->root, m->pending_off[i].index, &on, &pid) >= 0 && on &&
		    pid == m->pending_off[i].pid && actuator(m)->state_cmd(m, m->pending_off[i].index, "off") < 0)
			log_error("kdamond '%s': cannot stop kdamonds/%u, removed from the configuration",
				  m->pending_off[i].name, m->pending_off[i].index);
	}
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		/*
		 * A start that failed half-way: what the kernel says settles it, so
		 * the record never calls a directory "starting" that someone else
		 * may use later (a running kdamond there would be taken for damond's).
		 */
		if (kd->starting && !m->dry_run) {
			bool on = false;
			int pid = -1;

			if (damon_read_state(m->root, kd->index, &on, &pid) >= 0) {
				kd->starting = false;
				if (on) {
					kd->running = true;
					kd->pid = pid;
				}
			}
		}
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
	if (!m->started)
		cleanup_failed_start(m);
	/*
	 * A start that failed before it changed anything must not overwrite
	 * what a previous damond recorded; once this damond recorded an intent,
	 * the record must say what it left.
	 */
	if (m->started || m->record_saved)
		record_save(m);
	return 0;
}
