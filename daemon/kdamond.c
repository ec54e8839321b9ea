/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond's runtime operations: start, stop, commit (and what follows a
 * commit the kernel refused), adoption, the one liveness check, and the
 * indices and kdamond directories start and reload share. Every kernel
 * write goes through the actuator and is recorded in the ownership record
 * and the action log.
 */
#include <inttypes.h>
#include <limits.h>

#include "exit-codes.h"
#include "log.h"
#include "manager-internal.h"
#include "procsel.h"

/*
 * kd's kdamond stopped behind damond's back (why: how damond found out): no
 * longer running, without rates; the action log, status, the BPF monitor's
 * pids, the record and STATUS= say so.
 */
/* every process the kdamond monitored is gone: the kernel stops a vaddr kdamond without a live target */
bool kd_targets_all_exited(const struct manager *m, const struct kdamond_rt *kd)
{
	if (kd->cfg->ctx.ops == DAMON_OPS_PADDR || kd->nr_targets == 0)
		return false;
	for (size_t i = 0; i < kd->nr_targets; i++)
		if (procsel_pid_check(m->procfs_root, kd->targets[i].pid) == 0)
			return false;
	return true;
}

void kd_mark_dead(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	kd->running = false;
	if (kd_follows_processes(kd->cfg) && (kd->expect_stop || kd_targets_all_exited(m, kd))) {
		/* expected of a followed workload that stopped: not a death; the rescan starts it on the next one */
		kd->waiting = true;
		record_action(m, kd->name, "off",
			      "stopped by the kernel: every process it monitored exited (%s); it follows its "
			      "processes and starts again when one matches",
			      why);
		kd->pid = -1;
		manager_observe_pids(m);
		kd_forget_rates(kd);
		kd_set_last(kd, "waiting", "every process it monitored exited");
		record_save(m);
		manager_notify_status(m);
		return;
	}
	kd->died = true;
	record_action(m, kd->name, "died", "%s", why);
	kd->pid = -1;
	manager_observe_pids(m);
	kd_forget_rates(kd);
	kd_set_last(kd, "died", why);
	record_save(m);
	manager_notify_status(m);
}

static int apply_list(struct manager *m, struct kdamond_rt *kd, const struct write_list *l)
{
	struct sysfs_file fb;
	const struct sysfs_file *f;
	size_t failed = 0, file = 0;
	int r;

	r = actuator(m)->apply_list(m, l, &failed, &file);
	if (r < 0) {
		f = sysfs_write_file(&l->v[failed], file, &fb);
		return kd_fail_path(m, kd, r, f->path, "writing '%s' = '%s' failed", f->path, f->value);
	}
	return 0;
}

static int verify_list(struct manager *m, struct kdamond_rt *kd, const struct write_list *l)
{
	_cleanup_free_ char *mismatch = NULL;
	int r;

	r = actuator(m)->verify_list(m, l, &mismatch);
	if (r < 0)
		return kd_fail(m, kd, r, "read-back differs: %s", mismatch ? mismatch : "(unknown)");
	return 0;
}

static int state_cmd(struct manager *m, struct kdamond_rt *kd, const char *cmd)
{
	int r;

	r = actuator(m)->state_cmd(m, kd->index, cmd);
	if (r < 0)
		return kd_fail(m, kd, r, "writing '" DAMON_KDAMONDS_DIR "/%u/state' = '%s' failed", kd->index, cmd);
	return r; /* ACTUATOR_DRY: nothing written */
}

/* kd follows processes and none matches now: it waits, off, until one does */
static void kd_wait_for_process(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	kd->died = false;
	if (!kd->waiting)
		record_action(m, kd->name, "waiting",
			      "waiting: no process matches its targets; started when one does (%s)", why);
	kd->waiting = true;
	kd_set_last(kd, "waiting", "no process matches its targets");
}

/* kd's 'on' went through (running: written, not a dry run; pid: its kdamond's): it holds *l now (taken), logged
 * and recorded */
static void kd_now_on(struct manager *m, struct kdamond_rt *kd, bool running, int pid, struct write_list *l,
		      const char *why)
{
	kd->running = running;
	kd->pid = pid;
	kd->died = false;
	kd->adopted = false;
	/* pid 0: 'on' went through but the lock was held again when damond read the pid; the record keeps
	 * "starting" (any pid in the directory is damond's) until the tick reads it (kd_tick_alive()) */
	kd->starting = running && pid <= 0;
	write_list_done(&kd->written);
	kd->written = *l;
	*l = (struct write_list){};
	kd->pending = KD_PENDING_NONE;
	kd_set_last(kd, "on", why);
	if (running && pid <= 0)
		record_action(m, kd->name, "on",
			      "started as kdamonds/%u, pid read at the next tick (the DAMON sysfs lock was held) (%s)",
			      kd->index, why);
	else
		record_action(m, kd->name, "on", "started as kdamonds/%u, pid %d (%s)", kd->index, pid, why);
	record_save(m);
}

int kd_start(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	_cleanup_(write_list_done) struct write_list l = {};
	int pid = -1, on, r;

	m->busy_seen = false;
	/* process targets that match nothing now: the kernel would stop a kdamond without a live target at once */
	if (kd->nr_targets == 0 && kd_follows_processes(kd->cfg)) {
		kd_wait_for_process(m, kd, why);
		return 0;
	}
	kd->waiting = false;
	/* a start begins afresh: the kernel lays out its own regions over the span */
	for (size_t t = 0; t < kd->overlay.nr_targets; t++)
		(void)kd_overlay_set_layout(&kd->overlay, t, NULL, 0);
	r = kd_compose(m, kd, NULL, NULL, &l);
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': cannot render: %m", kd->name);
	/* Never rewrite a directory whose kdamond runs: damond does not run it, or it would know. */
	if (actuator(m)->alive(m, kd->index, &pid) > 0) {
		m->exit_status = DAMOND_EXIT_FOREIGN;
		return log_error_errno(
			SYNTHETIC_ERRNO(EBUSY),
			"kdamond '%s': kdamonds/%u is running (pid %d) but not as damond's; leaving it alone", kd->name,
			kd->index, pid);
	}
	/* intent: from here on, a kdamond running in this directory is damond's */
	free(kd->record_hash);
	kd->record_hash = write_list_hash_hex(&l);
	kd->starting = true;
	record_save(m);
	r = apply_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = verify_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = on = state_cmd(m, kd, "on");
	if (r < 0) {
		if (r == -EBUSY)
			log_error("kdamond '%s': the kernel refused 'on' with EBUSY: another DAMON user "
				  "(DAMON_STAT, DAMON_RECLAIM, DAMON_LRU_SORT or a sysfs command) holds DAMON",
				  kd->name);
		goto fail;
	}
	if (on != ACTUATOR_DRY) {
		r = kdamond_check_alive(m, kd->index, &pid);
		if (r == -EBUSY && m->retry_busy) {
			/* 'on' went through, and another user took the lock before the read: the loop does not wait
			 * for it; the tick reads the pid (kd_tick_alive()), and a kdamond that stopped at once shows
			 * there as died */
			pid = 0;
			r = 1;
		}
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot read state: %m", kd->name);
		if (!r) {
			r = log_error_errno(SYNTHETIC_ERRNO(EIO), "kdamond '%s': state reads 'off' after 'on'",
					    kd->name);
			goto fail;
		}
	}
	kd_now_on(m, kd, on != ACTUATOR_DRY, pid, &l, why);
	return 0;

fail:
	/* the kdamond is not on: the record must not keep calling the directory "starting" */
	if (actuator(m)->alive(m, kd->index, &pid) == 0) {
		kd->starting = false;
		record_save(m);
	}
	return r;
}

int kd_stop(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	int r;

	if (!kd->running)
		return 0;
	r = state_cmd(m, kd, "off");
	if (r < 0 && r != -EPERM) /* 7.2: EPERM when already off */
		return r;
	kd->running = false;
	kd->pid = -1;
	kd_set_last(kd, "off", why);
	record_action(m, kd->name, "off", "stopped (%s)", why);
	return 0;
}

/*
 * With intervals_goal active the kernel tunes sample/aggr intervals; a
 * commit carrying the user's values would reset the tuning and restart the
 * aggregation window. Ask the kernel for the tuned values (the writes the
 * renderer flags SYSFS_W_NOVERIFY) and commit those.
 */
static int carry_tuned_intervals(struct manager *m, struct kdamond_rt *kd, struct write_list *l)
{
	if (!kd->cfg->ctx.intervals_goal.aggrs || m->features.f[FEATURE_UPDATE_TUNED_INTERVALS] != FEATURE_PRESENT)
		return 0;
	return actuator(m)->carry_tuned(m, kd->index, kd->name, l);
}

/*
 * After a 'commit': is the kdamond still on (kernels before 7.x stop it
 * instead of reporting an error), does it hold l, and are the staging
 * region files the policy's (canon) again? -ECANCELED: it died.
 */
static int commit_settle(struct manager *m, struct kdamond_rt *kd, const struct write_list *l,
			 const struct write_list *canon, bool restore_regions)
{
	size_t failed = 0, file = 0;
	struct write_list t = {};
	struct sysfs_file fb;
	const struct sysfs_file *f;
	int pid = kd->pid, r;

	r = kdamond_check_alive(m, kd->index, &pid);
	if (r == -EBUSY && m->retry_busy) {
		/* the commit went through and another user took the lock before the read: the loop does not wait
		 * for it; a kdamond that stopped on the commit shows at the next tick as died */
		log_debug("kdamond '%s': state unread after commit (the DAMON sysfs lock is held)", kd->name);
		pid = kd->pid;
		r = 1;
	}
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': cannot read state after commit: %m", kd->name);
	if (!r) {
		kd_mark_dead(m, kd,
			     "the kdamond stopped on 'commit' (kernels before 7.x report no commit errors "
			     "and stop the kdamond instead)");
		return -ECANCELED;
	}
	if (pid != kd->pid)
		log_warning("kdamond '%s': pid changed from %d to %d across a commit", kd->name, kd->pid, pid);
	kd->pid = pid;
	r = verify_list(m, kd, l);
	if (r < 0 || !restore_regions)
		return r;
	/*
	 * The commit carried nr_regions 0 so the kernel kept its regions, or
	 * refined ones; put the policy's regions back into the staging files so
	 * the tree reads back as the policy again.
	 */
	for (size_t i = 0; i < canon->n; i++)
		if (sysfs_write_is_region(&canon->v[i])) {
			struct sysfs_write *w = APPEND(t.v, t.n, t.cap);

			if (!w)
				break;
			*w = canon->v[i];
		}
	r = actuator(m)->apply_list(m, &t, &failed, &file);
	if (r < 0) {
		/* the commit stands; the staging files differ from the policy until the next write */
		f = sysfs_write_file(&t.v[failed], file, &fb);
		(void)kd_fail_path(m, kd, r, f->path,
				   "committed, but restoring the staging region files failed: "
				   "writing '%s' = '%s'",
				   f->path, f->value);
	}
	/* entries, region blocks' arrays too, are borrowed from canon: only t.v is t's */
	free(t.v);
	return 0;
}

/*
 * The kernel rejected the commit with r (7.x validates on a copy, so the
 * running kdamond is unchanged): put the staging files back to what runs.
 */
static int commit_restore(struct manager *m, struct kdamond_rt *kd, int r)
{
	size_t failed = 0, file = 0;
	struct sysfs_file fb;
	const struct sysfs_file *f;
	int q;

	if (!kd->written.n)
		return r;
	q = actuator(m)->apply_list(m, &kd->written, &failed, &file);
	if (q == -EBUSY && busy_deferrable(m, r)) {
		/* the retry rewrites the whole list anyway; keep the first error in status */
		m->busy_seen = true;
		log_debug("kdamond '%s': restoring the staging files: busy too", kd->name);
	} else if (q < 0) {
		/* nothing reached the running kdamond; its staging files hold part of the refused plan */
		f = sysfs_write_file(&kd->written.v[failed], file, &fb);
		(void)kd_fail_path(m, kd, q, f->path,
				   "restoring the staging files to what runs failed: writing '%s' = '%s'", f->path,
				   f->value);
	}
	return r;
}

/*
 * A refused commit: was the kdamond already off (stopped behind damond's back
 * or killed since the last tick; the kernel refuses 'commit' to a kdamond
 * that is off)? Then -ECANCELED, as when it dies on the commit, and the
 * caller starts it again; else the kdamond still runs what it ran (r).
 */
static int commit_refused(struct manager *m, struct kdamond_rt *kd, int r)
{
	int pid = kd->pid;

	if (r == -EBUSY || actuator(m)->alive(m, kd->index, &pid) != 0)
		return r;
	kd_mark_dead(m, kd, "it was off when its 'commit' was refused (stopped or killed since damond last looked)");
	return -ECANCELED;
}

/*
 * Only fed goal values changed (write_list_feed_diff()): the current_value
 * files and 'commit_schemes_quota_goals', which hands the kernel's scheme
 * goals their new values and touches nothing else (no aggregation restart,
 * no scheme state reset, 6.8+). The kernel reads them at its next quota
 * window.
 */
static int kd_feed(struct manager *m, struct kdamond_rt *kd, const struct write_list *feed, struct write_list *canon,
		   const char *scheme, const char *why)
{
	int r;

	r = apply_list(m, kd, feed);
	if (r >= 0)
		r = state_cmd(m, kd, "commit_schemes_quota_goals");
	if (r < 0)
		return commit_refused(m, kd, commit_restore(m, kd, r));
	write_list_done(&kd->written);
	kd->written = *canon;
	*canon = (struct write_list){};
	kd->nr_goal_feeds++;
	/* every few seconds: the journal gets the first, status the count and the values (goal_feed) */
	if (kd->nr_goal_feeds == 1)
		record_scheme_action(m, kd->name, scheme, "goals",
				     "goal values committed (commit_schemes_quota_goals; later ones only counted in "
				     "status): %s",
				     why);
	else
		log_debug("kdamond '%s': goal values committed: %s", kd->name, why);
	return 0;
}

/*
 * Commit kd's policy and overlay online: one plan_compose() over what the
 * kernel holds gives the commit list (target regions only where the span
 * changed or a controller laid out new ones; nr_regions 0 keeps the
 * kernel's regions and their monitoring history) and the canonical list,
 * which is what we remember and what the staging files read back as.
 */
int kd_commit(struct manager *m, struct kdamond_rt *kd, const char *scheme, const char *why)
{
	_cleanup_(write_list_done) struct write_list canon = {}, l = {};
	int r;

	m->busy_seen = false;
	r = kd_compose(m, kd, kd->written.n ? &kd->written : NULL, &l, &canon);
	if (r < 0)
		return r;
	r = carry_tuned_intervals(m, kd, &l);
	if (r < 0)
		return r;
	if (kd->written.n) {
		_cleanup_(write_list_done) struct write_list feed = {};

		r = write_list_feed_diff(&kd->written, &canon, &feed);
		if (r < 0)
			return r;
		if (r > 0)
			return kd_feed(m, kd, &feed, &canon, scheme, why);
	}
	r = apply_list(m, kd, &l);
	if (r >= 0)
		r = state_cmd(m, kd, "commit");
	if (r < 0)
		return commit_refused(m, kd, commit_restore(m, kd, r));
	if (r != ACTUATOR_DRY) {
		r = commit_settle(m, kd, &l, &canon, write_list_regions_changed(&canon, &l));
		if (r < 0)
			return r;
	}
	write_list_done(&kd->written);
	kd->written = canon;
	canon = (struct write_list){};
	kd_overlay_committed(&kd->overlay);
	kd->pending = KD_PENDING_NONE; /* whatever waited for the lock: the current plan landed */
	kd_set_last(kd, "commit", why);
	record_scheme_action(m, kd->name, scheme, "commit", "committed online, pid %d kept (%s)", kd->pid, why);
	return 0;
}

/*
 * Drop kd's running targets whose processes exited from the middle of its
 * list, with obsolete_target (6.19+): the targets after them keep their
 * places, and with them their regions and monitoring history (without it,
 * each later target moves up a place and takes over the regions of the one
 * before). keep: the new targets, the kept ones first in their old order
 * (targets_keep_positions(compact)). The flags are set back to N whatever
 * happens: the commit that follows mirrors the kernel's new order. Returns
 * how many were dropped (0: none in the middle, or not running), or a
 * negative errno: nothing was dropped, and the caller's commit moves the
 * targets as before.
 */
int kd_drop_exited(struct manager *m, struct kdamond_rt *kd, const struct damon_target_cfg *keep, size_t nkeep)
{
	_cleanup_(write_list_done) struct write_list on = {}, off = {};
	_cleanup_free_ size_t *idx = NULL;
	size_t n = 0, failed = 0, file = 0, last_kept = SIZE_MAX;
	int r, q;

	if (!kd->running || !kd_can_drop_targets(m, kd) || !kd->nr_targets)
		return 0;
	for (size_t i = 0; i < kd->nr_targets; i++)
		for (size_t j = 0; j < nkeep; j++)
			if (keep[j].pid == kd->targets[i].pid)
				last_kept = i;
	if (last_kept == SIZE_MAX)
		return 0; /* none left: the kdamond stops instead */
	idx = calloc(kd->nr_targets, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < last_kept; i++) {
		bool kept = false;

		for (size_t j = 0; j < nkeep && !kept; j++)
			kept = keep[j].pid == kd->targets[i].pid;
		if (!kept)
			idx[n++] = i;
	}
	if (n == 0)
		return 0; /* exits at the end only: the commit shortens the list */
	r = damon_render_obsolete(kd->index, idx, n, true, (int)getpid(), &on);
	if (r >= 0)
		r = damon_render_obsolete(kd->index, idx, n, false, 0, &off);
	if (r < 0)
		return r;
	r = actuator(m)->apply_list(m, &on, &failed, &file);
	if (r >= 0)
		r = actuator(m)->state_cmd(m, kd->index, "commit");
	q = actuator(m)->apply_list(m, &off, &failed, &file);
	if (r < 0) {
		log_notice("kdamond '%s': dropping %zu exited target(s) with obsolete_target failed (%s): the "
			   "targets after them move up a place instead",
			   kd->name, n, strerror(-r));
		return r;
	}
	if (q < 0)
		log_warning("kdamond '%s': setting obsolete_target back to N failed (%s): the commit that follows "
			    "writes N first",
			    kd->name, strerror(-q));
	record_action(m, kd->name, "retarget",
		      "dropped %zu exited target(s) from the middle of its list online (obsolete_target): the "
		      "targets after them keep their places and monitoring history",
		      n);
	return (int)n;
}

/*
 * A kdamond that stopped has no rates: its last ones would read as current.
 * The last stats stay (the totals it reached), status marks them stale.
 */
void kd_forget_rates(struct kdamond_rt *kd)
{
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].have_prev = false;
		kd->slots[i].tried_bps = kd->slots[i].applied_bps = 0;
	}
}

/* ---- indices and kdamond directories (start and reload) ------------------ */

/* An index for every kdamond without one: the lowest no other kdamond has. */
void assign_indices(struct manager *m)
{
	for (size_t i = 0; i < m->nr_kd; i++) {
		unsigned idx = 0;

		if (m->kd[i].index != UINT_MAX)
			continue;
		while (kdamond_index_taken(m, idx))
			idx++;
		m->kd[i].index = idx;
	}
}

/* The nr_kdamonds every kdamond's index needs. */
uint64_t kdamond_dirs_needed(const struct manager *m)
{
	uint64_t need = 0;

	for (size_t i = 0; i < m->nr_kd; i++)
		need = MAX(need, (uint64_t)m->kd[i].index + 1);
	return need;
}

/* The nr_kdamonds damond writes when it writes it anyway: what the indices need, and the configured spares. */
uint64_t kdamond_dirs_wanted(const struct manager *m)
{
	uint64_t spares = m->config ? m->config->settings.spare_kdamonds : DAMOND_DEFAULT_SPARE_KDAMONDS;

	return kdamond_dirs_needed(m) + spares;
}

/*
 * Raise nr_kdamonds to kdamond_dirs_wanted() when an index has no directory.
 * The kernel only creates kdamond directories while none runs: every
 * kdamond is stopped first (and started afresh afterwards), which is why
 * damond makes spares ahead. *ret_restarted (may be NULL): whether running
 * kdamonds were stopped for it. With m->retry_busy, an EBUSY is returned
 * quietly for the caller to defer.
 */
int ensure_kdamond_dirs_ex(struct manager *m, bool *ret_restarted)
{
	uint64_t need = kdamond_dirs_needed(m), want = kdamond_dirs_wanted(m);
	char why[160];
	bool any = false;

	if (ret_restarted)
		*ret_restarted = false;
	if (need <= m->nr_kdamonds_dirs)
		return 0;
	snprintf(why, sizeof(why),
		 "nr_kdamonds grows from %" PRIu64 " to %" PRIu64
		 " (no spare directory left): the kernel only creates kdamond directories while none runs",
		 m->nr_kdamonds_dirs, want);
	for (size_t i = 0; i < m->nr_kd; i++) {
		any |= m->kd[i].running;
		/* an ager runs in a spare directory: off first, and its directory back (the tick starts it again) */
		if (m->kd[i].ager && m->kd[i].ager->kd.running && kd_stop(m, &m->kd[i].ager->kd, why) >= 0) {
			m->kd[i].ager->kd.index = UINT_MAX;
			m->kd[i].ager->stopped_at = now_usec();
			m->kd[i].ager->nr_stops++;
		}
		(void)kd_stop(m, &m->kd[i], why);
		/* the directories are about to be recreated: start afresh */
		m->kd[i].adopted = false;
	}
	if (ret_restarted)
		*ret_restarted = any;
	/* the new kdamonds are in the record (with their indices) before their directories exist */
	return write_nr_kdamonds_ex(m, want, m->retry_busy,
				    want > need ? ", with spares made ahead for kdamonds a reload adds" : NULL);
}

int ensure_kdamond_dirs(struct manager *m)
{
	return ensure_kdamond_dirs_ex(m, NULL);
}

/* ---- adoption ------------------------------------------------------------ */

/*
 * kd's record names kdamonds/<index>: kd takes the directory, and the
 * kdamond in it if that still runs as recorded (starting: the previous
 * damond died between 'on' and recording the pid), with the slots the
 * record lists, until kd_adopt() settles it.
 */
int kd_take_over(struct manager *m, struct kdamond_rt *kd, const struct owned_record *rec)
{
	int pid = -1;

	kd->index = rec->index;
	if (!rec->running && !rec->starting)
		return 0;
	if (kdamond_check_alive(m, kd->index, &pid) <= 0 || (!rec->starting && pid != rec->pid))
		return 0;
	kd->running = true;
	kd->adopted = true;
	kd->pid = pid;
	/* what it holds, as the record knows it, until kd_adopt() */
	kd->record_hash = strdup_or_null(rec->list_hash);
	kd->nr_slots = rec->nr_slots;
	kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
	if (!kd->slots)
		return -ENOMEM;
	for (size_t s = 0; s < kd->nr_slots; s++) {
		kd->slots[s].name = strdup_or_null(rec->slot_names[s]);
		kd->slots[s].cfg_idx = -1;
	}
	return 0;
}

/*
 * Settle an adopted kdamond: its slots as it has them (from the record),
 * re-laid for this config; unchanged (the record's hash): no write at all;
 * changed: a commit; a change no commit can make: a restart.
 */
static int kd_adopt(struct manager *m, struct kdamond_rt *kd, const struct owned_record *rec)
{
	_cleanup_(write_list_done) struct write_list l = {};
	_cleanup_free_ char *hash = NULL, *restart = NULL;
	int r;

	r = kd_relayout(m, kd, &restart);
	if (r < 0)
		return r;
	if (restart) {
		(void)kd_stop(m, kd, restart);
		return kd_start(m, kd, restart);
	}
	r = kd_compose(m, kd, NULL, NULL, &l);
	if (r < 0)
		return r;
	hash = write_list_hash_hex(&l);
	if (hash && rec->list_hash && streq(hash, rec->list_hash)) {
		kd->written = l;
		l = (struct write_list){};
		kd_set_last(kd, "adopt", "re-adopted after a damond restart, configuration unchanged");
		record_action(m, kd->name, "adopt", "re-adopted kdamonds/%u (pid %d) unchanged: no writes, no restart",
			      kd->index, kd->pid);
		return 0;
	}
	record_action(m, kd->name, "adopt", "re-adopted kdamonds/%u (pid %d); configuration changed", kd->index,
		      kd->pid);
	return kd_commit(m, kd, NULL, "re-adopted with a changed configuration");
}

/* Start's last step for kd: its targets, then adopted (rec: its record) or started afresh. */
int kdamond_bring_up(struct manager *m, struct kdamond_rt *kd, const struct owned_record *rec)
{
	int r;

	r = resolve_targets(m, kd->cfg, &kd->targets, &kd->nr_targets);
	if (r < 0)
		return r;
	if (kd->adopted && rec)
		return kd_adopt(m, kd, rec);
	r = kd_init_slots_fresh(m, kd);
	if (r < 0)
		return r;
	return kd_start(m, kd, "damond start");
}
