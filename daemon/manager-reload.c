/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reload as a transaction: prepare (parse, check against the kernel's
 * features, resolve every target; no side effects), then swap the runtime
 * objects over by name, give new kdamonds indices and directories (the same
 * helpers as start), and for each kdamond diff what the kernel holds with
 * what it will hold: nothing, a commit, or a restart.
 */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "manager-internal.h"

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void reload_result_clear(struct manager *m)
{
	strv_free(m->last_reload.errors, m->last_reload.nr_errors);
	strv_free(m->last_reload.restarted, m->last_reload.nr_restarted);
	strv_free(m->last_reload.started, m->last_reload.nr_started);
	strv_free(m->last_reload.failed, m->last_reload.nr_failed);
	free(m->last_reload.changes);
	m->last_reload.errors = m->last_reload.restarted = m->last_reload.started = m->last_reload.failed = NULL;
	m->last_reload.nr_errors = m->last_reload.nr_restarted = m->last_reload.nr_started = m->last_reload.nr_failed =
		0;
	m->last_reload.changes = NULL;
	m->last_reload.applied = false;
}

static void set_reload_result(struct manager *m, bool ok, const struct config_errors *errs)
{
	reload_result_clear(m);
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
	/* what the kernel would refuse at 'on' (a missing pid, a kernel thread, a cgroup, a node): refused here,
	 * before a kdamond is stopped or a file written */
	if (r >= 0)
		r = preflight_config(m, p->nc, errs);
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

/*
 * New kdamonds, and kept ones whose directory a deferred nr_kdamonds write
 * never created: a spare directory each when there is one (nothing stops),
 * else nr_kdamonds grows, which stops every kdamond (*ret_restarted). With
 * no kdamond running, directories beyond the needed ones and the spares go:
 * that costs no kdamond its history.
 */
static void reload_dirs(struct manager *m, bool *ret_restarted)
{
	uint64_t need, want;
	bool running = false;
	int r;

	assign_indices(m);
	need = kdamond_dirs_needed(m);
	want = kdamond_dirs_wanted(m);
	for (size_t i = 0; i < m->nr_kd; i++)
		running |= m->kd[i].running;
	if (!running && !m->nr_pending_off && need <= m->nr_kdamonds_dirs && want < m->nr_kdamonds_dirs) {
		r = write_nr_kdamonds_ex(m, want, m->retry_busy,
					 ", directories no longer needed removed (no kdamond runs: no history lost)");
		if (r < 0)
			log_notice("reload: kdamond directories above %" PRIu64 " stay, as spares", want);
		return;
	}
	r = ensure_kdamond_dirs_ex(m, ret_restarted);
	if (r == -EBUSY && m->retry_busy) {
		m->pending_nr_kdamonds = want;
		record_action(m, NULL, "deferred",
			      "nr_kdamonds = %" PRIu64 " waits for the DAMON sysfs lock "
			      "(EBUSY), retried from a timer; every kdamond starts after it",
			      want);
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

/* One kdamond of the new config: nothing, a commit, or a restart (*ret_restart: why). Negative: the kernel refused. */
static int reload_kdamond(struct manager *m, struct kdamond_rt *kd, char **ret_restart)
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
	if (restart) {
		*ret_restart = strdup_or_null(restart);
		return reload_restart(m, kd, restart);
	}
	if (write_list_equal(&l, &kd->written)) {
		log_debug("kdamond '%s': unchanged by the reload", kd->name);
		return 0;
	}
	first_change_why(m, kd, &l, why, sizeof(why));
	return reload_commit(m, kd, write_list_regions_changed(&kd->written, &l), why);
}

/* What a reload did to each kdamond of the new config, noted before the kernel is touched and after. */
struct reload_report {
	size_t n;
	bool *was_running, *is_new, *failed;
	int *pid_before;
	unsigned *index_before;
	char **restart_why;
	uint64_t dirs_before;
};

static void reload_report_done(struct reload_report *rep)
{
	free(rep->was_running);
	free(rep->is_new);
	free(rep->failed);
	free(rep->pid_before);
	free(rep->index_before);
	strv_free(rep->restart_why, rep->n);
	*rep = (struct reload_report){};
}

/* After the swap, before any kernel write: who runs where. */
static int reload_report_init(struct manager *m, struct reload_report *rep)
{
	size_t n = m->nr_kd ? m->nr_kd : 1;

	rep->n = m->nr_kd;
	rep->was_running = calloc(n, sizeof(bool));
	rep->is_new = calloc(n, sizeof(bool));
	rep->failed = calloc(n, sizeof(bool));
	rep->pid_before = calloc(n, sizeof(int));
	rep->index_before = calloc(n, sizeof(unsigned));
	rep->restart_why = calloc(n, sizeof(char *));
	if (!rep->was_running || !rep->is_new || !rep->failed || !rep->pid_before || !rep->index_before ||
	    !rep->restart_why)
		return -ENOMEM;
	rep->dirs_before = m->nr_kdamonds_dirs;
	for (size_t i = 0; i < m->nr_kd; i++) {
		rep->was_running[i] = m->kd[i].running;
		rep->is_new[i] = m->kd[i].index == UINT_MAX;
		rep->pid_before[i] = m->kd[i].pid;
		rep->index_before[i] = m->kd[i].index;
	}
	return 0;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(char *));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup_or_null(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/*
 * m->last_reload's lists and its one sentence: which kdamonds were restarted
 * (their monitoring history is gone), which started (in a spare directory or
 * a new one), which the kernel refused (and what their directory holds
 * now), and the kdamond directories there are. Returns the sentence.
 */
static const char *reload_report_finish(struct manager *m, const struct reload_report *rep)
{
	char *buf = NULL;
	size_t len = 0, spares = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < rep->n; i++) {
		const struct kdamond_rt *kd = &m->kd[i];

		if (rep->was_running[i] && (rep->restart_why[i] || !kd->running || kd->pid != rep->pid_before[i])) {
			(void)strv_push(&m->last_reload.restarted, &m->last_reload.nr_restarted, kd->name);
			fprintf(f, "%srestarted '%s' (monitoring history lost; pid %d -> %d): %s", ftell(f) ? "; " : "",
				kd->name, rep->pid_before[i], kd->pid,
				rep->restart_why[i] ? rep->restart_why[i]
				: kd->last_why      ? kd->last_why
						    : "stopped");
		}
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct kdamond_rt *kd = &m->kd[i];

		if (rep->failed[i]) {
			(void)strv_push(&m->last_reload.failed, &m->last_reload.nr_failed, kd->name);
			fprintf(f, "%sFAILED '%s': %s; ", ftell(f) ? "; " : "", kd->name,
				kd->last_error ? kd->last_error : "the kernel refused it");
			if (kd->running)
				/* a refused commit: 7.x validates on a copy, the kdamond keeps what it ran */
				fprintf(f, "kdamonds/%u still runs (pid %d) with its previous parameters", kd->index,
					kd->pid);
			else
				fprintf(f, "kdamonds/%u is off", kd->index);
		} else if (rep->is_new[i] && kd->index != UINT_MAX) {
			(void)strv_push(&m->last_reload.started, &m->last_reload.nr_started, kd->name);
			fprintf(f, "%sstarted '%s' in kdamonds/%u%s%s", ftell(f) ? "; " : "", kd->name, kd->index,
				kd->index < rep->dirs_before ? " (a spare directory)" : "",
				kd->pending != KD_PENDING_NONE ? " (waiting for the DAMON sysfs lock)" : "");
		}
	}
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++)
		spares += kdamond_dir_is_spare(m, (unsigned)k);
	if (m->nr_kdamonds_dirs != rep->dirs_before)
		fprintf(f, "%skdamond directories: %" PRIu64 " (was %" PRIu64 "), %zu spare", ftell(f) ? "; " : "",
			m->nr_kdamonds_dirs, rep->dirs_before, spares);
	else if (ftell(f))
		fprintf(f, "; kdamond directories: %" PRIu64 " (unchanged), %zu spare", m->nr_kdamonds_dirs, spares);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (!len) {
		free(buf);
		return NULL;
	}
	m->last_reload.changes = buf;
	return buf;
}

static int reload_finish(struct manager *m, const struct reload_report *rep, unsigned failed)
{
	const char *changes;
	unsigned waiting = 0;

	manager_observe_pids(m);
	set_reload_result(m, failed == 0, NULL);
	m->last_reload.applied = true;
	changes = reload_report_finish(m, rep);
	malloc_trim(0); /* the old and new policies were both in memory */
	for (size_t i = 0; i < m->nr_kd; i++)
		waiting += m->kd[i].pending != KD_PENDING_NONE;
	if (waiting)
		log_notice("reload: %u kdamond(s) wait for the DAMON sysfs lock (EBUSY); retried in the "
			   "background, see 'damondctl status'",
			   waiting);
	if (failed)
		log_error("reload: generation %u is in force, but the kernel refused it for %u kdamond(s): %s",
			  m->generation, failed, changes ? changes : "-");
	else if (m->last_reload.nr_restarted)
		log_warning("reload: generation %u applied: %s", m->generation, changes ? changes : "-");
	else if (changes)
		log_info("reload: generation %u applied: %s", m->generation, changes);
	record_save(m);
	(void)sd_notify(false, "READY=1");
	manager_notify_status(m);
	return failed ? -EIO : 0;
}

/*
 * Reload: parse and validate into a new config, check it against the
 * kernel's features and the machine (pids, cgroups, nodes), resolve its
 * targets — and only then touch anything.
 */
int manager_reload(struct manager *m, struct config_errors *errs)
{
	_cleanup_(reload_plan_done) struct reload_plan p = {};
	_cleanup_(reload_report_done) struct reload_report rep = {};
	struct damond_config *old;
	bool dirs_restarted = false;
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
	if (reload_report_init(m, &rep) < 0)
		log_warning("reload: out of memory for its report; 'damondctl status' shows what runs");
	reload_dirs(m, &dirs_restarted);
	for (size_t i = 0; i < m->nr_kd; i++) {
		char *why = NULL;

		r = reload_kdamond(m, &m->kd[i], &why);
		failed += r < 0;
		if (i < rep.n) {
			rep.failed[i] = r < 0;
			if (!why && dirs_restarted && rep.was_running[i])
				why = strdup_or_null("nr_kdamonds had to grow and the kernel only does that with every "
						     "kdamond off (no spare kdamond directory left)");
			free(rep.restart_why[i]);
			rep.restart_why[i] = why;
		} else {
			free(why);
		}
	}
	damond_config_free(old);
	reload_plan_done(&p);
	return reload_finish(m, &rep, failed);
}
