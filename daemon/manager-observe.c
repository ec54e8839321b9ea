/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event sources that feed the snapshot store (m->snapshots): the BPF
 * monitor (manager-events.c, HAVE_BPF only) or a replay file (lib/replay.h).
 * The stats tick and the controllers read the store the same way whichever
 * fed it.
 */
#include <errno.h>

#include "log.h"
#include "manager-internal.h"
#include "replay.h"

/* The store's pid for each of damond's kdamonds (the replay rewrites its records' pids with them). */
static void replay_pids(struct manager *m)
{
	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].index < SNAPSHOT_MAX_KDAMONDS &&
		    snapshot_store_set_pid(m->snapshots, m->kd[i].index, m->kd[i].running ? m->kd[i].pid : 0) < 0)
			log_warning("kdamond '%s': cannot set the replay's pid, ignoring", m->kd[i].name);
}

void manager_observe_pids(struct manager *m)
{
#ifdef HAVE_BPF
	manager_events_update_pids(m);
#endif
	if (m->replay && m->snapshots)
		replay_pids(m);
}

void manager_observe_drain(struct manager *m)
{
#ifdef HAVE_BPF
	manager_events_drain(m);
#endif
	if (m->replay && m->snapshots) {
		long r = replay_feed(m->replay, m->snapshots, now_usec() * 1000ULL);

		if (r < 0)
			log_warning_errno((int)r, "replay: a record the snapshot store refused: %m");
	}
}

int manager_replay_start(struct manager *m, const char *path)
{
	struct replay *r;
	int k;

	if (!m->snapshots)
		return log_error_errno(SYNTHETIC_ERRNO(ENODATA), "replay: no snapshot store");
	k = replay_load(path, &r);
	if (k < 0)
		return log_error_errno(k, "replay: cannot load %s: %m", path);
	replay_free(m->replay);
	m->replay = r;
	replay_pids(m);
	replay_start(r, now_usec() * 1000ULL);
	log_info("replaying %zu BPF monitor records (%.1f s) from %s", replay_nr_records(r),
		 (double)replay_span_ns(r) / 1e9, path);
	return 0;
}
