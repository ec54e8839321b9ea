/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stats round off the event loop. On kernels without refresh_ms, each
 * update_schemes_stats / update_schemes_effective_quotas write to
 * kdamonds/N/state returns only once the kdamond handled it (>= 100 ms per
 * command on 6.12). A round runs those writes, and the stats reads that
 * follow, on a thread of its own; the loop learns of its end through an
 * eventfd and applies the results there (manager-stats.c).
 *
 * One round at a time, so at most one command per kdamond is in flight.
 * A job names its kdamond by value (name, index, pid, generation, number of
 * slots), never by pointer: the loop may reload, restart or drop the
 * kdamond meanwhile and then finds that the job no longer matches.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "damon-sysfs.h"
#include "sysfs.h"

struct stats_job {
	/* what the loop asks */
	char name[64];
	unsigned index;
	int pid;
	unsigned generation;
	size_t nr_slots;
	bool want_quotas; /* some scheme has a quota: update_schemes_effective_quotas too */
	/* what the worker found */
	int r;                  /* the update_schemes_stats write (negative errno) */
	bool esz_fresh;         /* update_schemes_effective_quotas went through */
	unsigned nr_commands;   /* state commands that went through */
	unsigned nr_busy;       /* EBUSY answers met (retried after a short sleep, at most 4 times) */
	uint64_t at_us;         /* when the stats were read (CLOCK_MONOTONIC) */
	struct damos_stats *st; /* nr_slots entries */
	bool *st_ok;            /* nr_slots entries: st[i] was read */
};

struct stats_worker;
/* Called in the loop when a round ended: jobs are freed when it returns. */
typedef void (*stats_round_done_fn)(void *userdata, struct stats_job *jobs, size_t n);

int stats_worker_new(sd_event *e, struct sysfs_root *root, stats_round_done_fn done, void *userdata,
		     struct stats_worker **ret);
/* A round is in flight (its thread not yet joined). */
bool stats_worker_busy(const struct stats_worker *w);
/* Start a round over jobs (ownership taken, also on failure); -EBUSY while one is in flight. */
int stats_worker_submit(struct stats_worker *w, struct stats_job *jobs, size_t n);
/* Wait for the round in flight, if any, and drop its results (stop, reload of the root). */
void stats_worker_cancel(struct stats_worker *w);
/* Cancel, then free. */
struct stats_worker *stats_worker_free(struct stats_worker *w);
