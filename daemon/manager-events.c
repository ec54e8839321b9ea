/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's side of the BPF monitor: start it, keep its pid filter current. */
#include <limits.h>

#include "events.h"
#include "log.h"
#include "manager.h"

int manager_events_start(struct manager *m, char **ret_reason)
{
	struct events_params p = {
		.store = m->snapshots,
	};
	int r;

	r = events_new(m->event, &p, &m->events, ret_reason);
	if (r < 0) {
		m->events = NULL;
		return r;
	}
	return 0;
}

void manager_events_update_pids(struct manager *m)
{
	int pids[64];
	size_t n = 0;

	if (!m->events)
		return;
	for (size_t i = 0; i < MIN(m->nr_kdamonds_dirs, (uint64_t)ARRAY_SIZE(pids)); i++)
		pids[i] = -1;
	n = MIN(m->nr_kdamonds_dirs, (uint64_t)ARRAY_SIZE(pids));
	for (size_t i = 0; i < m->nr_kd; i++)
		if (m->kd[i].index < n)
			pids[m->kd[i].index] = m->kd[i].running ? m->kd[i].pid : -1;
	if (events_set_pids(m->events, pids, n) < 0)
		log_warning("cannot update the BPF kdamond pid filter, ignoring");
}

void manager_events_stats(struct manager *m, double *ret_rate, uint64_t *ret_drops)
{
	struct events_stats st;

	*ret_rate = 0;
	*ret_drops = 0;
	if (!m->events)
		return;
	events_get_stats(m->events, &st);
	for (int i = 0; i < DAMON_EV_TYPE_MAX; i++)
		*ret_rate += st.rate[i];
	*ret_drops = st.drops_total;
}
