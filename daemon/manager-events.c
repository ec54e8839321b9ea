/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's side of the BPF monitor: start it, keep its pid filter current. */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>

#include <json-c/json.h>

#include "events.h"
#include "log.h"
#include "manager.h"
#include "replay.h"

/* Routine wakeups (end of an aggregation burst) at most once a second: whoever
 * needs current data (the stats timer, control commands) drains first. */
#define WAKE_INTERVAL_NS (1000ULL * 1000ULL * 1000ULL)

/* The longest aggregation gate: on-demand readers (damondctl status, DAMON_STAT's
 * 5 s refresh) see an aggregation at most about this old. */
#define AGGR_GATE_MAX_NS (5ULL * 1000ULL * 1000ULL * 1000ULL)

/*
 * The aggregation gate (bpf/damon-events-load.h): every reader of region
 * snapshots reads the last complete aggregation at the stats tick (metrics
 * and status, the controllers: refinement and the node_eligible goal; DAMON_STAT
 * every 5 s at a tick) or on demand after a drain (damondctl status), and
 * none needs the ones in between. So each kdamond forwards at most one
 * aggregation per stats interval (at most AGGR_GATE_MAX_NS), the kernel
 * skips the rest without a ring record. While --record-events records,
 * everything is forwarded: a recording is replayed aggregation by
 * aggregation.
 */
static uint64_t aggr_gate_ns(const struct manager *m)
{
	if (m->recorder || !m->config)
		return 0;
	return MIN((uint64_t)m->config->settings.stats_interval_us * 1000ULL, AGGR_GATE_MAX_NS);
}

void manager_events_set_gate(struct manager *m)
{
	if (m->events && events_set_aggr_gate(m->events, aggr_gate_ns(m)) < 0)
		log_warning("cannot set the BPF monitor's aggregation gate, ignoring");
}

bool manager_events_gate(struct manager *m, uint64_t *ret_gate_ns, uint64_t *ret_skipped)
{
	struct events_stats st;

	if (!m->events)
		return false;
	events_get_stats(m->events, &st);
	*ret_gate_ns = st.aggr_gate_ns;
	*ret_skipped = st.aggr_skipped;
	return true;
}

/* --record-events: one frame per record, named by the index of the kdamond whose pid emitted it */
static void record_cb(void *userdata, const void *rec, size_t len)
{
	struct manager *m = userdata;
	struct damon_ev_header h;
	int r;

	if (!m->recorder || len < sizeof(h))
		return;
	memcpy(&h, rec, sizeof(h));
	for (size_t i = 0; i < m->nr_kd; i++) {
		if (!m->kd[i].running || (uint32_t)m->kd[i].pid != h.pid)
			continue;
		r = replay_writer_add(m->recorder, m->kd[i].index, rec, len);
		if (r < 0) {
			if (r == -EFBIG)
				log_notice("--record-events: %" PRIu64
					   " records, the %llu MiB limit reached; recording stopped",
					   replay_writer_frames(m->recorder), MANAGER_RECORD_MAX_BYTES >> 20);
			else
				log_warning_errno(r, "--record-events: cannot write (%m); recording stopped");
			(void)replay_writer_close(m->recorder);
			m->recorder = NULL;
			manager_events_set_gate(m); /* nothing records every aggregation any more */
		}
		return;
	}
}

int manager_record_start(struct manager *m, const char *path)
{
	int r = replay_writer_open(path, MANAGER_RECORD_MAX_BYTES, &m->recorder);

	if (r < 0)
		return log_error_errno(r, "--record-events: cannot create '%s': %m", path);
	log_info("--record-events: recording the BPF monitor's records into '%s'", path);
	return 0;
}

int manager_events_start(struct manager *m, size_t ringbuf_bytes, size_t headroom_bytes, char **ret_reason)
{
	struct events_params p = {
		.want = EVENTS_WANT_DAMOND,
		.store = m->snapshots,
		.ringbuf_bytes = ringbuf_bytes,
		.headroom_bytes = headroom_bytes,
		.wake_interval_ns = WAKE_INTERVAL_NS,
		.on_record = record_cb,
		.userdata = m,
	};
	int r;

	r = events_new(m->event, &p, &m->events, ret_reason);
	/* loading parsed the kernel's BTF (megabytes); give that memory back */
	malloc_trim(0);
	if (r < 0) {
		m->events = NULL;
		return r;
	}
	log_debug("BPF ring buffer: %zu KiB, damond woken at %zu KiB or once a second",
		  events_ringbuf_bytes(m->events) / 1024, events_wake_bytes(m->events) / 1024);
	return 0;
}

/* Everything the kdamonds emitted so far into the snapshot store. */
void manager_events_drain(struct manager *m)
{
	if (m->events)
		(void)events_drain(m->events);
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
	manager_events_set_gate(m); /* after a start or a reload: the stats interval may be new */
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

/* Per event type: records/s, records received, in-kernel drops; and how each event is attached. */
struct json_object *manager_events_json(struct manager *m)
{
	struct json_object *o, *types;
	struct events_stats st;
	_cleanup_free_ char *desc = NULL;

	if (!m->events)
		return NULL;
	events_get_stats(m->events, &st);
	o = json_object_new_object();
	types = json_object_new_object();
	for (int i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		struct json_object *t = json_object_new_object();
		const char *name = damon_event_type_to_string((unsigned)i);

		if (!name)
			continue;
		json_object_object_add(t, "per_s", json_object_new_double(st.rate[i]));
		json_object_object_add(t, "received", json_object_new_uint64(st.received[i]));
		json_object_object_add(t, "drops", st.have_kernel_counters ? json_object_new_uint64(st.drops[i]) : NULL);
		if (i == DAMON_EV_AGGREGATED) /* region events of the aggregations the gate skipped */
			json_object_object_add(t, "skipped",
					       st.have_kernel_counters ? json_object_new_uint64(st.aggr_skipped_regions)
								       : NULL);
		json_object_object_add(types, name, t);
	}
	json_object_object_add(o, "types", types);
	json_object_object_add(o, "ring_buffer_kib", json_object_new_uint64(events_ringbuf_bytes(m->events) / 1024));
	json_object_object_add(o, "wake_kib", json_object_new_uint64(events_wake_bytes(m->events) / 1024));
	json_object_object_add(o, "mapped_kib", json_object_new_uint64(events_mapped_bytes(m->events) / 1024));
	json_object_object_add(o, "drains", json_object_new_uint64(st.drains));
	json_object_object_add(o, "drain_ms", json_object_new_double((double)st.drain_ns / 1e6));
	if (events_describe(m->events, &desc) >= 0)
		json_object_object_add(o, "programs", json_object_new_string(desc));
	return o;
}
