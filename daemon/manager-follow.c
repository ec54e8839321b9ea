/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Targets that follow processes: a vaddr/fvaddr target named by pidfile,
 * comm, cgroup or unit (lib/procsel.h) is resolved again every
 * damond.follow_interval (default 2 s); when the set of matching processes changed, the
 * kdamond takes the new targets (manager_retarget): committed online while
 * it runs, started when a process appears, stopped (waiting) when none is
 * left. A rescan costs a readdir of /proc (comm), a cgroup.procs read
 * (cgroup, unit) or one file (pidfile). A pidfd per monitored process
 * makes the rescan due as soon as one exits (only with the real /proc: a
 * fake procfs root's pids are not this machine's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"

static uint64_t follow_interval(const struct manager *m)
{
	return m->config ? m->config->settings.follow_interval_us : DAMOND_DEFAULT_FOLLOW_INTERVAL_US;
}

static void pids_text(const struct damon_target_cfg *t, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	if (n == 0)
		snprintf(buf, len, "none");
	for (size_t i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%d", i ? "," : "", t[i].pid);

		if (w < 0)
			break;
		off += (size_t)w;
		if (i == 7 && n > 8) {
			snprintf(buf + off, len > off ? len - off : 0, ",...");
			break;
		}
	}
}

static void follow_watch(struct manager *m, struct kdamond_rt *kd);

/* 1: retargeted, 0: the same processes */
static int follow_one(struct manager *m, struct kdamond_rt *kd)
{
	struct damon_target_cfg *t = NULL;
	char before[96], after[96], why[256];
	size_t n = 0;
	bool compact;
	int r;

	if (kd->pending != KD_PENDING_NONE || m->pending_nr_kdamonds)
		return 0; /* the EBUSY retry timer owns it for now */
	r = resolve_targets(m, kd->cfg, &t, &n);
	if (r < 0)
		return 0;
	/* a pidfd is readable as soon as its process exits, a moment before /proc shows it as a zombie */
	for (size_t w = 0; w < kd->nr_exit_watch; w++)
		for (size_t i = 0; kd->exited[w] && i < n; i++)
			if (t[i].pid == kd->exit_pid[w]) {
				memmove(&t[i], &t[i + 1], (n - i - 1) * sizeof(t[0]));
				n--;
				break;
			}
	/* where the kernel can drop an exited target from the middle, the others just close up */
	compact = kd->running && kd_can_drop_targets(m, kd);
	targets_keep_positions(kd->targets, kd->nr_targets, t, n, compact);
	if (targets_same_pids(kd->targets, kd->nr_targets, t, n) && !(n == 0 && kd->running)) {
		/* the same processes: nothing to do (a kdamond the kernel stopped while they live is not restarted
		 * in a loop: status shows it died). No process and still running: a stop that waited for the
		 * lock, tried again. */
		targets_free(t, n);
		return 0;
	}
	pids_text(kd->targets, kd->running || kd->died ? kd->nr_targets : 0, before, sizeof(before));
	pids_text(t, n, after, sizeof(after));
	snprintf(why, sizeof(why), "retargeted: the processes its targets match changed: pids %s -> %s", before, after);
	record_action(m, kd->name, "retarget", "%s", why);
	if (compact && n > 0 && kd_drop_exited(m, kd, t, n) < 0)
		/* not dropped: the commit below moves the later targets up instead (logged) */
		targets_keep_positions(kd->targets, kd->nr_targets, t, n, false);
	r = manager_retarget(m, kd, t, n, why);
	if (r < 0)
		log_error_errno(r, "kdamond '%s': following its processes failed: %m", kd->name);
	follow_watch(m, kd);
	record_save(m);
	manager_notify_status(m);
	return 1;
}

/* the rescan is due now (also when asked from inside the rescan: it runs again right after) */
static void follow_soon(struct manager *m)
{
	m->follow_soon = true;
	if (m->follow_timer) {
		(void)sd_event_source_set_time(m->follow_timer, now_usec());
		(void)sd_event_source_set_enabled(m->follow_timer, SD_EVENT_ON);
	}
}

/* a monitored process exited: rescan now (once: an exited pidfd stays readable) */
static int on_process_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;

	(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
	for (size_t i = 0; i < m->nr_kd; i++)
		for (size_t w = 0; w < m->kd[i].nr_exit_watch; w++)
			if (m->kd[i].exit_watch[w] == s) {
				m->kd[i].exited[w] = true;
				log_debug("kdamond '%s': followed process %d exited: rescan now", m->kd[i].name,
					  m->kd[i].exit_pid[w]);
			}
	follow_soon(m);
	return 0;
}

static void follow_watch(struct manager *m, struct kdamond_rt *kd)
{
	follow_unwatch(kd);
	if (!streq(m->procfs_root, "/proc") || !kd->running || !kd->nr_targets)
		return;
	kd->exit_watch = calloc(kd->nr_targets, sizeof(*kd->exit_watch));
	kd->exit_pid = calloc(kd->nr_targets, sizeof(*kd->exit_pid));
	kd->exited = calloc(kd->nr_targets, sizeof(*kd->exited));
	if (!kd->exit_watch || !kd->exit_pid || !kd->exited) {
		follow_unwatch(kd);
		return;
	}
	for (size_t i = 0; i < kd->nr_targets; i++) {
		sd_event_source *src = NULL;
		int fd = (int)syscall(SYS_pidfd_open, kd->targets[i].pid, 0);

		if (fd < 0) {
			/* gone already, between the rescan and now: rescan at once; no pidfd (before 5.3): the
			 * timer alone */
			if (errno == ESRCH)
				follow_soon(m);
			continue;
		}
		if (sd_event_add_io(m->event, &src, fd, EPOLLIN, on_process_exit, m) < 0) {
			close(fd);
			continue;
		}
		(void)sd_event_source_set_io_fd_own(src, true);
		kd->exit_pid[kd->nr_exit_watch] = kd->targets[i].pid;
		kd->exit_watch[kd->nr_exit_watch++] = src;
	}
}

int follow_rescan(struct manager *m)
{
	int nr = 0;

	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].cfg && kd_follows_processes(m->kd[i].cfg))
			nr += follow_one(m, &m->kd[i]);
	return nr;
}

static int on_follow_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	m->follow_soon = false;
	(void)follow_rescan(m);
	/* a process that exited while this rescan ran asked for another one */
	(void)sd_event_source_set_time(s, now_usec() + (m->follow_soon ? 0 : follow_interval(m)));
	m->follow_soon = false;
	return 0;
}

/* The rescan timer runs while a kdamond of the config has process targets. */
void follow_arm(struct manager *m)
{
	bool want = false;
	int r;

	for (size_t i = 0; i < m->nr_kd; i++) {
		bool f = m->kd[i].cfg && kd_follows_processes(m->kd[i].cfg);

		want |= f;
		if (f)
			follow_watch(m, &m->kd[i]);
		else
			follow_unwatch(&m->kd[i]);
	}
	if (!want) {
		if (m->follow_timer)
			(void)sd_event_source_set_enabled(m->follow_timer, SD_EVENT_OFF);
		return;
	}
	if (m->follow_timer) {
		(void)sd_event_source_set_enabled(m->follow_timer, SD_EVENT_ON);
		return;
	}
	r = sd_event_add_time(m->event, &m->follow_timer, CLOCK_MONOTONIC, now_usec() + follow_interval(m), 100000,
			      on_follow_timer, m);
	if (r < 0) {
		log_error_errno(r, "cannot arm the process-following timer: %m");
		return;
	}
	(void)sd_event_source_set_enabled(m->follow_timer, SD_EVENT_ON);
}
