/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reload as a transaction: prepare (parse, check against the kernel's
 * features, resolve every target; no side effects), then swap the runtime
 * objects over by name, give new kdamonds indices and directories (the same
 * helpers as start), and for each kdamond diff what the kernel holds with
 * what it will hold: nothing, a commit, or a restart.
 */
#include <malloc.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "manager-internal.h"

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

/* What a reload prepares before it touches anything. */
struct reload_plan {
	struct damond_config *nc;
	size_t nn;
	struct damon_target_cfg **nt; /* per new kdamond, resolved */
	size_t *nnt;
	struct kdamond_rt *nkd; /* the new runtime objects */
};

static void reload_plan_done(struct reload_plan *p)
{
	for (size_t i = 0; p->nt && i < p->nn; i++)
		targets_free(p->nt[i], p->nnt[i]);
	free(p->nt);
	free(p->nnt);
	free(p->nkd);
	damond_config_free(p->nc);
	*p = (struct reload_plan){};
}

/* Parse and validate into a new config, check it against the kernel's features. */
static int reload_parse(struct manager *m, struct config_errors *errs, struct reload_plan *p)
{
	int r;

	r = config_load_file(m->config_path, &p->nc, errs);
	if (r >= 0)
		r = features_check_config(&m->features, p->nc, errs);
	if (r < 0) {
		log_config_errors(errs);
		log_error("reload of '%s' rejected; the running configuration and kdamonds are unchanged",
			  m->config_path);
		set_reload_result(m, false, errs);
		(void)sd_notify(false, "READY=1\nSTATUS=Reload rejected; running the previous configuration");
		return r;
	}
	log_config_errors(errs); /* warnings only: the file is accepted */
	return 0;
}

/* Resolve every target before anything changes. */
static int reload_resolve(struct manager *m, struct reload_plan *p)
{
	int r;

	p->nn = p->nc->nr_kdamonds;
	p->nt = calloc(p->nn ? p->nn : 1, sizeof(*p->nt));
	p->nnt = calloc(p->nn ? p->nn : 1, sizeof(*p->nnt));
	p->nkd = calloc(p->nn ? p->nn : 1, sizeof(*p->nkd));
	if (!p->nt || !p->nnt || !p->nkd)
		return -ENOMEM;
	for (size_t i = 0; i < p->nn; i++) {
		r = resolve_targets(m, &p->nc->kdamonds[i], &p->nt[i], &p->nnt[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Point of no return: move the runtime objects over, matched by name, with
 * their new targets; stop the kdamonds the new config dropped. Returns the
 * old config, which the new targets may still borrow from until now.
 */
static struct damond_config *reload_swap(struct manager *m, struct reload_plan *p)
{
	struct damond_config *old;
	int r;

	for (size_t i = 0; i < p->nn; i++) {
		struct kdamond_rt *k = &p->nkd[i];

		k->index = UINT_MAX;
		k->pid = -1;
		for (size_t j = 0; j < m->nr_kd; j++)
			if (m->kd[j].name && streq(m->kd[j].name, p->nc->kdamonds[i].name)) {
				*k = m->kd[j];
				m->kd[j] = (struct kdamond_rt){};
				break;
			}
		k->cfg = &p->nc->kdamonds[i];
		if (!k->name)
			k->name = strdup_or_null(k->cfg->name);
		targets_free(k->targets, k->nr_targets);
		k->targets = TAKE_PTR(p->nt[i]);
		k->nr_targets = p->nnt[i];
		/* it borrowed the old config and targets: rebuilt by the relayout or fresh slots that follow */
		kd_policy_done(&k->policy);
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
	m->config = TAKE_PTR(p->nc);
	m->kd = TAKE_PTR(p->nkd);
	m->nr_kd = p->nn;
	m->generation++;
	m->pending_nr_kdamonds = 0; /* recomputed below from what the kernel has */
	return old;
}

/* New kdamonds, and kept ones whose directory a deferred nr_kdamonds write never created. */
static void reload_dirs(struct manager *m)
{
	uint64_t need;
	int r;

	assign_indices(m);
	need = kdamond_dirs_needed(m);
	r = ensure_kdamond_dirs(m);
	if (r == -EBUSY && m->retry_busy) {
		m->pending_nr_kdamonds = need;
		record_action(m, NULL, "deferred",
			      "nr_kdamonds = %" PRIu64 " waits for the DAMON sysfs lock "
			      "(EBUSY), retried from a timer; every kdamond starts after it",
			      need);
		retry_arm(m);
	}
}

/* why: the reload's generation and its first changed file, named also inside a region block */
static void first_change_why(const struct manager *m, const struct kdamond_rt *kd, const struct write_list *l,
			     char *why, size_t size)
{
	struct sysfs_file f;

	if (write_list_first_change(&kd->written, l, &f))
		snprintf(why, size, "reload, generation %u: first change '%s' = '%s'", m->generation,
			 f.path + strlen(DAMON_KDAMONDS_DIR "/"), f.value);
}

/* kd with fresh slots, started, or deferred to the retry timer when the lock is busy. */
static int reload_start(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	int r;

	r = kd_init_slots_fresh(m, kd);
	if (r >= 0)
		r = kd_start(m, kd, why);
	if (busy_deferrable(m, r)) {
		kd_defer(m, kd, KD_PENDING_START, false, why);
		return 0;
	}
	return r;
}

static int reload_restart(struct manager *m, struct kdamond_rt *kd, const char *restart)
{
	int r;

	record_action(m, kd->name, "restart", "this change cannot be committed online: %s", restart);
	r = kd_stop(m, kd, restart);
	if (busy_deferrable(m, r)) {
		/* the retry timer stops it, then starts it */
		r = kd_init_slots_fresh(m, kd);
		if (r >= 0)
			kd_defer(m, kd, KD_PENDING_START, false, restart);
		return r;
	}
	return reload_start(m, kd, restart);
}

static int reload_commit(struct manager *m, struct kdamond_rt *kd, bool regions_changed, const char *why)
{
	int r;

	r = kd_commit(m, kd, NULL, why);
	if (r == -ECANCELED)
		r = kd_start(m, kd, "restart after the kdamond died on commit");
	if (busy_deferrable(m, r)) {
		kd_defer(m, kd, kd->running ? KD_PENDING_COMMIT : KD_PENDING_START, regions_changed, why);
		r = 0;
	}
	/* targets may be other processes or ranges now: the per-kdamond controllers (refinement) start afresh,
	 * from data made after this */
	kd->epoch_us = now_usec();
	if (kd_plan_build(m, kd, true) < 0)
		log_warning("kdamond '%s': cannot reset its controllers after the reload", kd->name);
	return r;
}

/* One kdamond of the new config: nothing, a commit, or a restart. Negative: the kernel refused. */
static int reload_kdamond(struct manager *m, struct kdamond_rt *kd)
{
	_cleanup_free_ char *restart = NULL;
	_cleanup_(write_list_done) struct write_list l = {};
	char why[160];
	int r;

	snprintf(why, sizeof(why), "reload, generation %u", m->generation);
	kd->pending = KD_PENDING_NONE; /* the reload redoes whatever waited for the lock */
	if (m->pending_nr_kdamonds) {
		/* the kdamond directories are recreated once the lock is free; every kdamond starts then */
		r = kd_init_slots_fresh(m, kd);
		if (r >= 0)
			kd_defer(m, kd, KD_PENDING_START, false, why);
		return r;
	}
	if (!kd->running)
		return reload_start(m, kd, why);
	r = kd_relayout(m, kd, &restart);
	if (r >= 0)
		r = kd_compose(m, kd, NULL, NULL, &l);
	if (r >= 0 && !restart)
		r = write_list_restart_reason(&kd->written, &l, &restart);
	if (r < 0)
		return r;
	if (restart)
		return reload_restart(m, kd, restart);
	if (write_list_equal(&l, &kd->written)) {
		log_debug("kdamond '%s': unchanged by the reload", kd->name);
		return 0;
	}
	first_change_why(m, kd, &l, why, sizeof(why));
	return reload_commit(m, kd, write_list_regions_changed(&kd->written, &l), why);
}

static int reload_finish(struct manager *m, unsigned failed)
{
	unsigned waiting = 0;

	manager_observe_pids(m);
	set_reload_result(m, failed == 0, NULL);
	malloc_trim(0); /* the old and new policies were both in memory */
	for (size_t i = 0; i < m->nr_kd; i++)
		waiting += m->kd[i].pending != KD_PENDING_NONE;
	if (waiting)
		log_notice("reload: %u kdamond(s) wait for the DAMON sysfs lock (EBUSY); retried in the "
			   "background, see 'damondctl status'",
			   waiting);
	if (failed)
		log_error("reload: the kernel refused the change for %u kdamond(s); see the errors above and "
			  "'damondctl status'",
			  failed);
	record_save(m);
	(void)sd_notify(false, "READY=1");
	manager_notify_status(m);
	return failed ? -EIO : 0;
}

/*
 * Reload: parse and validate into a new config, check it against the
 * kernel's features, resolve its targets — and only then touch anything.
 */
int manager_reload(struct manager *m, struct config_errors *errs)
{
	_cleanup_(reload_plan_done) struct reload_plan p = {};
	struct damond_config *old;
	unsigned failed = 0;
	int r;

	damon_busy_budget_reset(); /* a reload sleeps at most MANAGER_BUSY_BUDGET_MS on EBUSY */
	(void)sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");
	r = reload_parse(m, errs, &p);
	if (r < 0)
		return r;
	r = reload_resolve(m, &p);
	if (r < 0) {
		set_reload_result(m, false, NULL);
		log_error_errno(r, "reload of '%s' failed before any change: %m", m->config_path);
		(void)sd_notify(false, "READY=1\nSTATUS=Reload failed; running the previous configuration");
		return r;
	}
	old = reload_swap(m, &p);
	reload_dirs(m);
	for (size_t i = 0; i < m->nr_kd; i++)
		failed += reload_kdamond(m, &m->kd[i]) < 0;
	damond_config_free(old);
	reload_plan_done(&p);
	return reload_finish(m, failed);
}
