/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond takes its new config or its new targets: nothing, a commit
 * online, or a restart where the kernel cannot take the change online; a
 * start or commit refused with EBUSY is deferred to the retry timer. A
 * reload (manager-reload.c) runs it for each kdamond, process following
 * (manager-follow.c) and memory hotplug (manager-memory.c) when the targets
 * change (manager_retarget); below all three, so none calls another.
 */
#include <stdio.h>

#include "log.h"
#include "manager-internal.h"

/* why: the reload's generation and its first changed file, named also inside a region block */
static void first_change_why(const struct kdamond_rt *kd, const struct write_list *l, const char *prefix, char *why,
			     size_t size)
{
	struct sysfs_file f;

	if (write_list_first_change(&kd->written, l, &f))
		snprintf(why, size, "%s: first change '%s' = '%s'", prefix, f.path + strlen(DAMON_KDAMONDS_DIR "/"),
			 f.value);
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

/*
 * Process targets followed (pidfile, comm, cgroup, unit): kd takes the
 * targets t (n of them, owned from here), resolved again because the
 * processes that match changed. Running: committed online like a reload
 * (the kernel swaps a target's pid in place), restarted only where a reload
 * would be. Not running (waiting, or the kernel stopped it when its last
 * process exited): started. No process left: stopped, waiting.
 */
int manager_retarget(struct manager *m, struct kdamond_rt *kd, struct damon_target_cfg *t, size_t n, const char *why)
{
	_cleanup_free_ char *restart = NULL;
	int r;

	if (n == 0 && kd->running) {
		/* stop first: refused (EBUSY or else), everything stays as it is and the next rescan, which
		 * still sees a running kdamond without a matching process, tries again */
		r = kd_stop(m, kd, why);
		if (r < 0) {
			targets_free(t, n);
			if (busy_deferrable(m, r)) {
				log_notice("kdamond '%s': stopping it waits for the DAMON sysfs lock (EBUSY); retried "
					   "at the next rescan",
					   kd->name);
				return 0;
			}
			return r;
		}
	}
	/* a running kdamond whose processes all exited is stopped by the kernel, maybe already: if a commit
	 * finds it so, that is this exit, not a death (kd_mark_dead) */
	kd->expect_stop = kd->running && kd_targets_all_exited(m, kd);
	targets_free(kd->targets, kd->nr_targets);
	kd->targets = t;
	kd->nr_targets = n;
	kd_policy_done(&kd->policy);
	if (n == 0) {
		kd->waiting = true;
		kd_set_last(kd, "waiting", why);
		return kd_init_slots_fresh(m, kd);
	}
	if (!kd->running)
		r = reload_start(m, kd, why);
	else
		r = kd_apply_config(m, kd, why, &restart);
	kd->expect_stop = false;
	return r < 0 ? r : 0;
}

int kd_apply_config(struct manager *m, struct kdamond_rt *kd, const char *why0, char **ret_restart)
{
	_cleanup_free_ char *restart = NULL;
	_cleanup_(write_list_done) struct write_list l = {};
	char why[256];
	int r;

	snprintf(why, sizeof(why), "%s", why0);
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
	first_change_why(kd, &l, why0, why, sizeof(why));
	r = reload_commit(m, kd, write_list_regions_changed(&kd->written, &l), why);
	return r < 0 ? r : 1;
}
