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

#include "config-load.h"
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
	m->last_reload.refused_generation = 0;
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

	r = config_load_apart(m->config_path, &p->nc, errs);
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
		/* followed processes keep their positions across a reload too (the kernel matches by position) */
		if (kd_follows_processes(k->cfg))
			targets_keep_positions(k->targets, k->nr_targets, p->nt[i], p->nnt[i], false);
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

static int reload_kdamond(struct manager *m, struct kdamond_rt *kd, char **ret_restart)
{
	char why[160];

	snprintf(why, sizeof(why), "reload, generation %u", m->generation);
	return kd_apply_config(m, kd, why, ret_restart);
}

/*
 * What a reload did, by kdamond name: the kdamonds of the running config
 * (noted before the kernel is touched) and those the new one adds; what the
 * kernel refused, and why, noted when it refused (a rollback may drop the
 * kdamond again).
 */
struct reload_entry {
	char *name;
	bool in_old, was_running, is_new, failed, failed_running;
	bool committed_back; /* the rollback committed its previous parameters online */
	int pid_before;
	unsigned index_before, failed_index;
	char *restart_why, *error;
};

struct reload_report {
	size_t n;
	struct reload_entry *e;
	uint64_t dirs_before;
	unsigned refused_generation; /* rolled back from this generation; 0: no rollback */
	unsigned rollback_failed;    /* kdamonds the rollback itself could not bring back */
};

static void reload_report_done(struct reload_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		free(rep->e[i].name);
		free(rep->e[i].restart_why);
		free(rep->e[i].error);
	}
	free(rep->e);
	*rep = (struct reload_report){};
}

static struct reload_entry *report_entry(struct reload_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->n; i++)
		if (streq(rep->e[i].name, name))
			return &rep->e[i];
	return NULL;
}

static struct reload_entry *report_add(struct reload_report *rep, const char *name)
{
	struct reload_entry *e = report_entry(rep, name), *ne;

	if (e)
		return e;
	ne = realloc(rep->e, (rep->n + 1) * sizeof(*ne));
	if (!ne)
		return NULL;
	rep->e = ne;
	e = &ne[rep->n];
	*e = (struct reload_entry){ .name = strdup_or_null(name), .index_before = UINT_MAX, .pid_before = -1 };
	if (!e->name)
		return NULL;
	rep->n++;
	return e;
}

/* Before the swap: who runs where. */
static int reload_report_init(struct manager *m, struct reload_report *rep)
{
	rep->dirs_before = m->nr_kdamonds_dirs;
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct reload_entry *e;

		if (!m->kd[i].name)
			continue;
		e = report_add(rep, m->kd[i].name);
		if (!e)
			return -ENOMEM;
		e->in_old = true;
		e->was_running = m->kd[i].running;
		e->pid_before = m->kd[i].pid;
		e->index_before = m->kd[i].index;
	}
	return 0;
}

/* After the swap: the kdamonds the new config adds. */
static int reload_report_new(struct manager *m, struct reload_report *rep)
{
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct reload_entry *e = report_add(rep, m->kd[i].name);

		if (!e)
			return -ENOMEM;
		if (!e->in_old)
			e->is_new = true;
	}
	return 0;
}

/* kd was just reloaded: r < 0, the kernel refused it; restart, why it restarted (taken) */
static void report_kdamond(struct reload_report *rep, const struct kdamond_rt *kd, int r, char *restart)
{
	struct reload_entry *e = report_entry(rep, kd->name);

	if (!e) {
		free(restart);
		return;
	}
	if (restart) {
		free(e->restart_why);
		e->restart_why = restart;
	}
	if (r > 0 && rep->refused_generation)
		e->committed_back = true;
	if (r < 0 && !rep->refused_generation) {
		e->failed = true;
		e->failed_running = kd->running;
		e->failed_index = kd->index;
		free(e->error);
		e->error = strdup_or_null(kd->last_error ? kd->last_error : "the kernel refused it");
	}
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

static const struct kdamond_rt *kd_named(const struct manager *m, const char *name)
{
	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].name && streq(m->kd[i].name, name))
			return &m->kd[i];
	return NULL;
}

/*
 * m->last_reload's lists and its one sentence, from what runs now compared
 * with before: a rollback and to which generation, which kdamonds were
 * restarted (their monitoring history is gone), which the kernel refused
 * (and what their directory holds now), which started (in a spare
 * directory or a new one), and the kdamond directories there are. Returns
 * the sentence.
 */
static const char *reload_report_finish(struct manager *m, const struct reload_report *rep)
{
	char *buf = NULL;
	size_t len = 0, spares = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	if (rep->refused_generation)
		fprintf(f, "rolled back to generation %u%s", m->generation,
			rep->rollback_failed ? " (INCOMPLETE: see the kdamonds below)" : "");
	for (size_t i = 0; i < rep->n; i++)
		if (rep->e[i].committed_back)
			fprintf(f, "; '%s' got its previous parameters back online (pid kept)", rep->e[i].name);
	for (size_t i = 0; i < rep->n; i++) {
		const struct reload_entry *e = &rep->e[i];
		const struct kdamond_rt *kd = kd_named(m, e->name);

		/* a kdamond the config still has that no longer runs as it did: its history is gone */
		if (e->was_running && kd && (!kd->running || kd->pid != e->pid_before)) {
			(void)strv_push(&m->last_reload.restarted, &m->last_reload.nr_restarted, e->name);
			fprintf(f, "%srestarted '%s' (monitoring history lost; pid %d -> %d): %s", ftell(f) ? "; " : "",
				e->name, e->pid_before, kd->pid,
				e->restart_why ? e->restart_why
				: kd->last_why ? kd->last_why
					       : "stopped");
		}
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct reload_entry *e = &rep->e[i];
		const struct kdamond_rt *kd = kd_named(m, e->name);

		if (e->failed) {
			(void)strv_push(&m->last_reload.failed, &m->last_reload.nr_failed, e->name);
			fprintf(f, "%sFAILED '%s': %s; ", ftell(f) ? "; " : "", e->name, e->error);
			if (kd && kd->running)
				/* a refused commit: 7.x validates on a copy, the kdamond keeps what it ran */
				fprintf(f, "kdamonds/%u runs (pid %d) with generation %u's parameters", kd->index,
					kd->pid, m->generation);
			else if (kd || e->failed_index == UINT_MAX)
				fprintf(f, "kdamonds/%u is off", kd ? kd->index : e->failed_index);
			else if (kdamond_dir_is_spare(m, e->failed_index))
				fprintf(f, "kdamonds/%u is off (a spare directory now)", e->failed_index);
			else
				fprintf(f, "kdamonds/%u is off", e->failed_index);
		} else if (e->is_new && kd && kd->index != UINT_MAX) {
			(void)strv_push(&m->last_reload.started, &m->last_reload.nr_started, e->name);
			fprintf(f, "%sstarted '%s' in kdamonds/%u%s%s", ftell(f) ? "; " : "", e->name, kd->index,
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
	follow_arm(m);
	memory_arm(m);
	set_reload_result(m, failed == 0, NULL);
	m->last_reload.applied = true;
	m->last_reload.refused_generation = rep->refused_generation;
	changes = reload_report_finish(m, rep);
	malloc_trim(0); /* the old and new policies were both in memory */
	for (size_t i = 0; i < m->nr_kd; i++)
		waiting += m->kd[i].pending != KD_PENDING_NONE;
	if (waiting)
		log_notice("reload: %u kdamond(s) wait for the DAMON sysfs lock (EBUSY); retried in the "
			   "background, see 'damondctl status'",
			   waiting);
	if (failed && rep->refused_generation)
		log_error("reload: the kernel refused generation %u part way, for %u kdamond(s): %s",
			  rep->refused_generation, failed, changes ? changes : "-");
	else if (failed)
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
 * The kernel side of a swap: directories, then each kdamond of m->config.
 * Returns how many kdamonds the kernel refused.
 */
static unsigned reload_apply(struct manager *m, struct reload_report *rep)
{
	bool dirs_restarted = false;
	unsigned failed = 0;

	reload_dirs(m, &dirs_restarted);
	for (size_t i = 0; i < m->nr_kd; i++) {
		const struct reload_entry *e = report_entry(rep, m->kd[i].name);
		char *why = NULL;
		int r;

		r = reload_kdamond(m, &m->kd[i], &why);
		failed += r < 0;
		if (!why && dirs_restarted && e && e->was_running)
			why = strdup_or_null("nr_kdamonds had to grow and the kernel only does that with every "
					     "kdamond off (no spare kdamond directory left)");
		report_kdamond(rep, &m->kd[i], r, why);
	}
	return failed;
}

/*
 * The kernel refused part of the new config: put the previous one back
 * through the same steps (kdamonds the new config added stop, their
 * directories become spares; changed parameters are committed back;
 * dropped kdamonds start again). Restarts it made stay made: the report
 * names them. *cfg: in, the previous config; out, the refused one, to free.
 * Negative: no rollback (the previous targets no longer resolve).
 */
static int reload_rollback(struct manager *m, struct damond_config **cfg, unsigned generation,
			   struct reload_report *rep)
{
	_cleanup_(reload_plan_done) struct reload_plan p = { .nc = *cfg };
	int r;

	*cfg = NULL;
	r = reload_resolve(m, &p);
	if (r < 0) {
		log_warning_errno(r,
				  "reload: cannot roll back to generation %u (its targets no longer resolve: "
				  "%m); generation %u stays in force",
				  generation, m->generation);
		*cfg = TAKE_PTR(p.nc);
		return r;
	}
	rep->refused_generation = m->generation;
	log_warning("reload: the kernel refused part of generation %u; rolling back to generation %u", m->generation,
		    generation);
	*cfg = reload_swap(m, &p);
	m->generation = generation;
	if (reload_report_new(m, rep) < 0)
		log_warning("reload: out of memory for its report; 'damondctl status' shows what runs");
	rep->rollback_failed = reload_apply(m, rep);
	return 0;
}

/*
 * A kdamond's written list borrows the configuration's ranges
 * (plan_compose()). Before a configuration is freed, every list takes its own
 * copy; then it borrows again what equals the ranges of the configuration in
 * force (its kdamond's resolved targets share that one's arrays), so a reload
 * that changed nothing keeps one copy of them, not two. -ENOMEM: some list
 * may still borrow from the old configuration.
 */
static int written_rebind(struct manager *m)
{
	int ret = 0;

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		if (write_list_unshare(&kd->written) < 0) {
			ret = -ENOMEM;
			continue;
		}
		for (size_t t = 0; t < kd->nr_targets; t++)
			if (kd->targets[t].regions_borrowed)
				(void)write_list_borrow_target_regions(&kd->written, t, kd->targets[t].regions,
								       kd->targets[t].nr_regions);
	}
	return ret;
}

/*
 * Reload: parse and validate into a new config, check it against the
 * kernel's features and the machine (pids, cgroups, nodes), resolve its
 * targets — and only then touch anything. When the kernel still refuses a
 * kdamond part way, the previous config is rolled back.
 */
int manager_reload(struct manager *m, struct config_errors *errs)
{
	_cleanup_(reload_plan_done) struct reload_plan p = {};
	_cleanup_(reload_report_done) struct reload_report rep = {};
	struct damond_config *old;
	unsigned failed, generation = m->generation;
	int r;

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
	/* the agers go first: their spare directories may be what the new config needs, and their targets the
	 * old ones; the tick starts them again where the oracle still asks for one (ager.c) */
	ager_stop_all(m, "reload: the tick starts it again if still needed");
	if (reload_report_init(m, &rep) < 0)
		log_warning("reload: out of memory for its report; 'damondctl status' shows what runs");
	old = reload_swap(m, &p);
	if (reload_report_new(m, &rep) < 0)
		log_warning("reload: out of memory for its report; 'damondctl status' shows what runs");
	failed = reload_apply(m, &rep);
	reload_plan_done(&p);
	if (failed && old)
		(void)reload_rollback(m, &old, generation, &rep);
	if (old && written_rebind(m) < 0) {
		/* a list may still borrow from it: better a leak than a dangling pointer */
		log_warning("reload: out of memory copying the committed ranges; the old configuration stays");
		old = NULL;
	}
	damond_config_free(old);
	return reload_finish(m, &rep, failed);
}
