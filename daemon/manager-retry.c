/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * EBUSY continuations: kdamond starts, commits, 'off's and nr_kdamonds
 * writes the DAMON sysfs lock kept from landing, redone from a timer.
 */
#include <inttypes.h>

#include "log.h"
#include "manager-internal.h"

/* ---- EBUSY retries ------------------------------------------------------- */

/*
 * The kernel's DAMON sysfs lock is a trylock (kernel-damon.md 2.2, 2.5):
 * while another user holds it, nr_* files, state commands, memcg_path and
 * goal path writes fail with EBUSY. Inside the event loop damond never
 * sleeps on it (m->busy: one attempt per file, lib/damon-sysfs.h). An
 * operation refused is deferred: kd->pending says what waits
 * (a start or a commit), and this timer redoes it as a whole with backoff
 * (MANAGER_RETRY_FIRST_US doubling to MANAGER_RETRY_MAX_US) until it lands
 * or fails otherwise, while status and reloads are served in between.
 * Redoing is safe: a start or commit rewrites the kdamond's whole list, and
 * nothing reaches the running kdamond before 'on' / 'commit'. A reload
 * redoes whatever waited, with the new configuration.
 */
static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata);

void retry_arm(struct manager *m)
{
	int enabled = SD_EVENT_OFF, r;

	if (m->retry_timer && sd_event_source_get_enabled(m->retry_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return; /* already due */
	if (!m->retry_delay_us)
		m->retry_delay_us = MANAGER_RETRY_FIRST_US;
	if (m->retry_timer) {
		(void)sd_event_source_set_time(m->retry_timer, now_usec() + m->retry_delay_us);
		(void)sd_event_source_set_enabled(m->retry_timer, SD_EVENT_ONESHOT);
		return;
	}
	r = sd_event_add_time(m->event, &m->retry_timer, CLOCK_MONOTONIC, now_usec() + m->retry_delay_us, 1000,
			      on_retry_timer, m);
	if (r < 0)
		log_error_errno(r, "cannot arm the EBUSY retry timer: %m");
}

const char *kd_pending_to_string(enum kd_pending p)
{
	return p == KD_PENDING_START ? "start" : p == KD_PENDING_COMMIT ? "commit" : "none";
}

/* kd's start or commit was refused with EBUSY (the event loop does not wait): redo it from the retry timer. */
void kd_defer(struct manager *m, struct kdamond_rt *kd, enum kd_pending what, bool regions_changed, const char *why)
{
	if (kd->pending == KD_PENDING_NONE) {
		kd->pending_since = now_usec();
		kd->pending_attempts = 0;
		kd->pending_regions = false;
	}
	if (kd->pending != KD_PENDING_START) /* a start writes everything a commit would */
		kd->pending = what;
	kd->pending_regions |= regions_changed;
	free(kd->pending_why);
	kd->pending_why = strdup_or_null(why);
	kd->pending_attempts++;
	record_action(m, kd->name, "deferred",
		      "%s waits for the DAMON sysfs lock (EBUSY; the event loop does not wait on it), "
		      "retried from a timer (%s)",
		      kd_pending_to_string(kd->pending), why);
	retry_arm(m);
}

/* A reload removed kd, but its 'off' stays busy: keep stopping it from the retry timer (status: busy.pending_off). */
void defer_off(struct manager *m, const struct kdamond_rt *kd)
{
	struct pending_off *n = realloc(m->pending_off, (m->nr_pending_off + 1) * sizeof(*n));

	if (!n) {
		log_oom();
		return;
	}
	m->pending_off = n;
	n = &m->pending_off[m->nr_pending_off++];
	snprintf(n->name, sizeof(n->name), "%s", kd->name);
	n->index = kd->index;
	n->pid = kd->pid;
	record_action(m, kd->name, "deferred",
		      "'off' waits for the DAMON sysfs lock (EBUSY); kdamonds/%u (pid %d) runs until it lands",
		      kd->index, kd->pid);
	retry_arm(m);
}

/* Removed kdamonds whose 'off' waited for the lock. */
static void retry_pending_off(struct manager *m, bool *waiting, bool *landed)
{
	int r;

	for (size_t i = 0; i < m->nr_pending_off;) {
		struct pending_off *po = &m->pending_off[i];
		int pid = -1;

		r = kdamond_check_alive(m, po->index, &pid);
		if (r > 0 && pid == po->pid)
			r = actuator(m)->state_cmd(m, po->index, "off");
		if (r == -EBUSY) {
			*waiting = true;
			i++;
			continue;
		}
		if (r < 0 && r != -EPERM)
			record_action(m, po->name, "error",
				      "writing '" DAMON_KDAMONDS_DIR "/%u/state' = 'off' failed: %s", po->index,
				      strerror(-r));
		else
			record_action(m, po->name, "off",
				      "stopped kdamonds/%u (removed from the configuration), after "
				      "waiting for the DAMON sysfs lock",
				      po->index);
		*landed = true;
		memmove(po, po + 1, (m->nr_pending_off - i - 1) * sizeof(*po));
		m->nr_pending_off--;
	}
}

/* An nr_kdamonds write that waited for the lock (after the removed kdamonds are off). */
static void retry_nr_kdamonds(struct manager *m, bool *waiting, bool *landed)
{
	uint64_t need = m->pending_nr_kdamonds;
	int r;

	if (!need)
		return;
	if (m->nr_pending_off) {
		*waiting = true;
		return;
	}
	/* the kernel only creates kdamond directories while none runs */
	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].running)
			(void)kd_stop(m, &m->kd[i],
				      "adding a kdamond: the kernel only creates kdamond "
				      "directories while none runs");
	r = write_nr_kdamonds_ex(m, need, true, ", after waiting for the DAMON sysfs lock");
	if (r == -EBUSY) {
		*waiting = true;
	} else {
		m->pending_nr_kdamonds = 0;
		if (r >= 0)
			*landed = true;
	}
}

/* kd's start or commit that waited for the lock. */
static void retry_kdamond(struct manager *m, struct kdamond_rt *kd, bool *waiting, bool *landed)
{
	enum kd_pending what = kd->pending;
	char why[256];
	int r;

	if (what == KD_PENDING_NONE)
		return;
	if (m->pending_nr_kdamonds) {
		*waiting = true; /* the directories come first */
		return;
	}
	kd->pending_attempts++;
	snprintf(why, sizeof(why), "%s; landed on attempt %u, %.1f s after the first EBUSY",
		 kd->pending_why ? kd->pending_why : "retry", kd->pending_attempts,
		 (double)(now_usec() - kd->pending_since) / 1e6);
	if (what == KD_PENDING_COMMIT && !kd->running)
		what = KD_PENDING_START; /* it died meanwhile: start it with the plan */
	if (what == KD_PENDING_START) {
		r = kd->running ? kd_stop(m, kd, "restart, after waiting for the DAMON sysfs lock") : 0;
		if (r >= 0)
			r = kd_start(m, kd, why);
	} else {
		r = kd_commit(m, kd, NULL, why);
		if (r == -ECANCELED)
			r = kd_start(m, kd, "restart after the kdamond died on commit");
	}
	if (busy_deferrable(m, r)) {
		kd->pending = what;
		*waiting = true;
		return;
	}
	if (r < 0)
		record_action(m, kd->name, "gave-up", "the %s that waited for the DAMON sysfs lock failed: %s",
			      kd_pending_to_string(what), strerror(-r));
	else
		*landed = true;
	kd->pending = KD_PENDING_NONE;
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	bool waiting = false, landed = false;
	int r;

	m->busy_retry_rounds++;
	retry_pending_off(m, &waiting, &landed);
	retry_nr_kdamonds(m, &waiting, &landed);
	for (size_t i = 0; i < m->nr_kd; i++)
		retry_kdamond(m, &m->kd[i], &waiting, &landed);
	if (landed) { /* the dry run: the record is not written (write_record) */
		manager_observe_pids(m);
		r = ownership_save(m->runtime_dir, m);
		if (r < 0)
			log_warning_errno(r, "cannot save the ownership record in '%s': %m", m->runtime_dir);
	}
	if (waiting) {
		m->retry_delay_us = MIN(m->retry_delay_us * 2, MANAGER_RETRY_MAX_US);
		retry_arm(m);
	} else {
		m->retry_delay_us = 0;
	}
	return 0;
}
