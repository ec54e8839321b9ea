/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond's kernel operations: start, stop, commit (and what follows a
 * commit the kernel refused), each through the actuator and recorded in the
 * ownership record and the action log.
 */
#include <inttypes.h>
#include <limits.h>

#include "exit-codes.h"
#include "log.h"
#include "manager-internal.h"

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
		return kd_fail(m, kd, r, "writing '" KD "/%u/state' = '%s' failed", kd->index, cmd);
	return 0;
}

int kd_start(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	_cleanup_(write_list_done) struct write_list l = {};
	bool on = false;
	int pid = -1, r;

	m->busy_seen = false;
	r = plan_render(m, kd, false, NULL, &l);
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': cannot render: %m", kd->name);
	/* Never rewrite a directory whose kdamond runs: damond does not run it, or it would know. */
	if (!m->dry_run && damon_read_state(m->root, kd->index, &on, &pid) >= 0 && on) {
		m->exit_status = DAMOND_EXIT_FOREIGN;
		return log_error_errno(SYNTHETIC_ERRNO(EBUSY),
				       "kdamond '%s': kdamonds/%u is running (pid %d) but not as damond's; leaving it alone",
				       kd->name, kd->index, pid);
	}
	/* intent: from here on, a kdamond running in this directory is damond's */
	free(kd->record_hash);
	kd->record_hash = write_list_hash(&l);
	kd->starting = true;
	record_save(m);
	r = apply_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = verify_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = state_cmd(m, kd, "on");
	if (r < 0) {
		if (r == -EBUSY)
			log_error("kdamond '%s': the kernel refused 'on' with EBUSY: another DAMON user "
				  "(DAMON_STAT, DAMON_RECLAIM, DAMON_LRU_SORT or a sysfs command) holds DAMON",
				  kd->name);
		goto fail;
	}
	if (!m->dry_run) {
		r = damon_read_state(m->root, kd->index, &on, &pid);
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot read state: %m", kd->name);
		if (!on) {
			r = log_error_errno(SYNTHETIC_ERRNO(EIO), "kdamond '%s': state reads 'off' after 'on'",
					    kd->name);
			goto fail;
		}
	}
	kd->running = !m->dry_run;
	kd->pid = pid;
	kd->died = false;
	kd->adopted = false;
	kd->starting = false;
	write_list_done(&kd->written);
	kd->written = l;
	l = (struct write_list){};
	kd->pending = KD_PENDING_NONE;
	kd_set_last(kd, "on", why);
	record_action(m, kd->name, "on", "started as kdamonds/%u, pid %d (%s)", kd->index, pid, why);
	record_save(m);
	return 0;

fail:
	/* the kdamond is not on: the record must not keep calling the directory "starting" */
	if (!m->dry_run && damon_read_state(m->root, kd->index, &on, &pid) >= 0 && !on) {
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
 * aggregation window. Ask the kernel for the tuned values and commit those.
 */
static int carry_tuned_intervals(struct manager *m, struct kdamond_rt *kd, struct write_list *l)
{
	char p[PATH_MAX];
	uint64_t v;
	int r;

	if (m->dry_run || !kd->cfg->ctx.intervals_goal.aggrs ||
	    m->features.f[FEATURE_UPDATE_TUNED_INTERVALS] != FEATURE_PRESENT)
		return 0;
	r = actuator(m)->state_cmd(m, kd->index, "update_tuned_intervals");
	if (r < 0) {
		log_debug_errno(r, "kdamond '%s': update_tuned_intervals: %m", kd->name);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		const char *name = strrchr(l->v[i].path, '/');
		char *nv;

		if (!name || !strstr(l->v[i].path, "/monitoring_attrs/intervals/") ||
		    (!streq(name, "/sample_us") && !streq(name, "/aggr_us")))
			continue;
		snprintf(p, sizeof(p), "%s", l->v[i].path);
		if (sysfs_read_u64(m->root, p, &v) < 0)
			continue;
		if (asprintf(&nv, "%" PRIu64, v) < 0)
			return -ENOMEM;
		free(l->v[i].value);
		l->v[i].value = nv;
	}
	return 0;
}

/*
 * Commit kd's current plan to its running kdamond. The canonical list (with
 * regions) is what we remember; the committed one keeps the kernel's regions
 * when they did not change, so their monitoring history survives.
 */
/*
 * Commit kd's policy online. regions_changed: the target region lists differ
 * from what the kernel holds (else they go as nr_regions 0, which keeps the
 * kernel's regions). override: commit these target region lists instead of
 * the policy's (region refinement); kd->written and the staging files stay
 * the policy's.
 */
int kd_commit(struct manager *m, struct kdamond_rt *kd, bool regions_changed, const struct gapped *override,
		     const char *scheme, const char *why)
{
	_cleanup_(write_list_done) struct write_list canon = {}, l = {};
	size_t failed = 0, file = 0;
	struct sysfs_file fb;
	const struct sysfs_file *f;
	bool on = true;
	int pid = kd->pid, r;

	m->busy_seen = false;
	r = plan_render(m, kd, false, NULL, &canon);
	if (r < 0)
		return r;
	r = plan_render(m, kd, !regions_changed && !override, override, &l);
	if (r < 0)
		return r;
	r = carry_tuned_intervals(m, kd, &l);
	if (r < 0)
		return r;
	r = apply_list(m, kd, &l);
	if (r < 0)
		goto restore;
	r = state_cmd(m, kd, "commit");
	if (r < 0)
		goto restore;
	if (!m->dry_run) {
		r = damon_read_state(m->root, kd->index, &on, &pid);
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot read state after commit: %m", kd->name);
		if (!on) {
			kd->running = false;
			kd->died = true;
			kd->pid = -1;
			record_action(m, kd->name, "died",
				      "the kdamond stopped on 'commit' (kernels before 7.x report no commit errors "
				      "and stop the kdamond instead)");
			kd_forget_rates(kd);
			manager_notify_status(m);
			return -ECANCELED;
		}
		if (pid != kd->pid)
			log_warning("kdamond '%s': pid changed from %d to %d across a commit", kd->name, kd->pid,
				    pid);
		kd->pid = pid;
		r = verify_list(m, kd, &l);
		if (r < 0)
			return r;
		if (!regions_changed || override) {
			/*
			 * The commit carried nr_regions 0 so the kernel kept its
			 * regions, or refined ones; put the policy's regions back
			 * into the staging files so the tree reads back as the
			 * policy again.
			 */
			struct write_list t = {};

			for (size_t i = 0; i < canon.n; i++)
				if (sysfs_write_is_region(&canon.v[i])) {
					struct sysfs_write *w = APPEND(t.v, t.n, t.cap);

					if (!w)
						break;
					*w = canon.v[i];
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
		}
	}
	write_list_done(&kd->written);
	kd->written = canon;
	canon = (struct write_list){};
	kd->pending = KD_PENDING_NONE;	/* whatever waited for the lock: the current plan landed */
	kd_set_last(kd, "commit", why);
	record_scheme_action(m, kd->name, scheme, "commit", "committed online, pid %d kept (%s)", kd->pid, why);
	return 0;

restore:
	/*
	 * The kernel rejected the commit (7.x validates on a copy, so the
	 * running kdamond is unchanged): put the staging files back to what runs.
	 */
	if (!m->dry_run && kd->written.n) {
		int q = actuator(m)->apply_list(m, &kd->written, &failed, &file);

		if (q == -EBUSY && busy_deferrable(m, r)) {
			/* the retry rewrites the whole list anyway; keep the first error in status */
			m->busy_seen = true;
			log_debug("kdamond '%s': restoring the staging files: busy too", kd->name);
		} else if (q < 0) {
			/* nothing reached the running kdamond; its staging files hold part of the refused plan */
			f = sysfs_write_file(&kd->written.v[failed], file, &fb);
			(void)kd_fail_path(m, kd, q, f->path,
					   "restoring the staging files to what runs failed: writing '%s' = '%s'",
				      f->path, f->value);
		}
	}
	return r;
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
