/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stats round's thread (stats-worker.h). The thread touches only its
 * jobs and the sysfs root's directory fd (openat/read/write): no logging,
 * no manager state, no global of lib/damon-sysfs.c. pthread_create() and
 * pthread_join() hand the jobs over and back; the eventfd only wakes the
 * loop.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "damon.h"
#include "macro.h"
#include "stats-worker.h"

/*
 * EBUSY on a command (a commit from the loop holds the lock): the library's
 * one retry (damon_state_cmd()) under this thread's own policy, off the loop:
 * at most 5 attempts, sleeping 5+10+20+40 ms, and quiet (no log line from this
 * thread, which must not run the loop's log callback). Its counters are the
 * thread's: the loop's policy, which never sleeps, is not touched.
 */
#define WORKER_BUSY_ATTEMPTS 5
#define WORKER_BUSY_FIRST_MS 5

struct stats_worker {
	sd_event_source *source;
	int efd;
	struct sysfs_root *root;
	stats_round_done_fn done;
	void *userdata;
	bool running; /* a thread exists that was not joined */
	pthread_t thread;
	struct stats_job *jobs;
	size_t nr_jobs;
};

static void jobs_free(struct stats_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].st);
		free(jobs[i].st_ok);
	}
	free(jobs);
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static int state_cmd(struct stats_worker *w, struct stats_job *j, struct damon_busy *b, const char *cmd)
{
	uint64_t busy = b->nr_busy;
	int r;

	r = damon_state_cmd(w->root, j->index, cmd);
	j->nr_busy += (unsigned)(b->nr_busy - busy);
	if (r >= 0)
		j->nr_commands++;
	return r;
}

static void run_job(struct stats_worker *w, struct stats_job *j, struct damon_busy *b)
{
	j->r = state_cmd(w, j, b, "update_schemes_stats");
	if (j->r < 0)
		return;
	j->esz_fresh = j->want_quotas && state_cmd(w, j, b, "update_schemes_effective_quotas") >= 0;
	j->at_us = mono_us();
	for (size_t i = 0; i < j->nr_slots; i++)
		j->st_ok[i] = damon_read_scheme_stats(w->root, j->index, (unsigned)i, &j->st[i]) >= 0;
}

static void *worker_main(void *arg)
{
	struct stats_worker *w = arg;
	struct damon_busy busy = { .attempts = WORKER_BUSY_ATTEMPTS,
				   .first_delay_ms = WORKER_BUSY_FIRST_MS,
				   .quiet = true };
	uint64_t one = 1;

	(void)damon_busy_use(&busy);
	for (size_t i = 0; i < w->nr_jobs; i++)
		run_job(w, &w->jobs[i], &busy);
	(void)damon_busy_use(NULL);
	/* an eventfd write of 1 cannot block nor fail short of a counter overflow */
	(void)!write(w->efd, &one, sizeof(one));
	return NULL;
}

/* Join the thread and take the round's jobs back. */
static void join(struct stats_worker *w, struct stats_job **ret, size_t *ret_n)
{
	uint64_t v;

	*ret = NULL;
	*ret_n = 0;
	if (!w->running)
		return;
	(void)pthread_join(w->thread, NULL);
	w->running = false;
	(void)!read(w->efd, &v, sizeof(v)); /* non-blocking: clears the wakeup */
	*ret = w->jobs;
	*ret_n = w->nr_jobs;
	w->jobs = NULL;
	w->nr_jobs = 0;
}

static int on_round_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct stats_worker *w = userdata;
	struct stats_job *jobs;
	size_t n;

	join(w, &jobs, &n);
	if (jobs)
		w->done(w->userdata, jobs, n);
	jobs_free(jobs, n);
	return 0;
}

int stats_worker_new(sd_event *e, struct sysfs_root *root, stats_round_done_fn done, void *userdata,
		     struct stats_worker **ret)
{
	struct stats_worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->root = root;
	w->done = done;
	w->userdata = userdata;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = sd_event_add_io(e, &w->source, w->efd, EPOLLIN, on_round_done, w);
	if (r < 0) {
		close(w->efd);
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

bool stats_worker_busy(const struct stats_worker *w)
{
	return w && w->running;
}

int stats_worker_submit(struct stats_worker *w, struct stats_job *jobs, size_t n)
{
	int r;

	if (w->running) {
		jobs_free(jobs, n);
		return -EBUSY;
	}
	w->jobs = jobs;
	w->nr_jobs = n;
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0) {
		w->jobs = NULL;
		w->nr_jobs = 0;
		jobs_free(jobs, n);
		return r;
	}
	w->running = true;
	return 0;
}

void stats_worker_cancel(struct stats_worker *w)
{
	struct stats_job *jobs;
	size_t n;

	if (!w)
		return;
	join(w, &jobs, &n);
	jobs_free(jobs, n);
}

struct stats_worker *stats_worker_free(struct stats_worker *w)
{
	if (!w)
		return NULL;
	stats_worker_cancel(w);
	sd_event_source_disable_unref(w->source);
	close(w->efd);
	free(w);
	return NULL;
}
