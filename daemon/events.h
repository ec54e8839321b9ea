/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The BPF monitor as an sd-event source: loads the programs of
 * daemon/bpf/damon-events.bpf.c for the events asked for (want; variants
 * chosen by probing, see bpf/damon-events-load.h), maps the ring buffer
 * once (lib/ringbuf.h) and puts its fd into the daemon's loop
 * (edge-triggered), feeds every record into a snapshot store (lib/snapshot.h)
 * and keeps the in-kernel kdamond pid filter current. The BPF side wakes
 * damond only at a fill level (headroom_bytes left) or once per
 * wake_interval_ns; call events_drain() before reading the store for current
 * data. Built only when meson's bpf_enabled (HAVE_BPF=1).
 *
 * Any failure of events_new() returns a negative errno and a human reason
 * (for `damondctl status`); the daemon then keeps polling sysfs.
 *
 * Observations are consumed through the store: set
 * snapshot_store_params.on_update to be told when a target snapshot, an apply
 * record, an esz or a stat value was published.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "bpf/damon-events-load.h"
#include "snapshot.h"

struct events;

/* Raw record hook, called before the store sees the record. */
typedef void (*events_record_cb)(void *userdata, const void *rec, size_t len);

struct events_params {
	const char *tracefs_root;	/* NULL: /sys/kernel/tracing (probing only) */
	const char *btf_path;		/* NULL: /sys/kernel/btf/vmlinux */
	enum damon_ev_mode mode;	/* AUTO: classic tracepoints, tp_btf as fallback */
	unsigned want;                  /* events to attach, DAMON_EV_WANT bits (0: all) */
	size_t ringbuf_bytes;		/* 0: DAMON_EV_RINGBUF_DEFAULT (256 KiB) */
	size_t headroom_bytes;		/* room left in the ring when damond is woken (0: half) */
	uint64_t wake_interval_ns;	/* routine wakeups at most this often (0: every burst) */
	struct snapshot_store *store;	/* borrowed, may be NULL; fed and kept in pid sync */
	events_record_cb on_record;	/* may be NULL */
	void *userdata;
};

/*
 * What damond consumes: damon_aggregated (snapshots), damos_esz (effective
 * quotas) and damos_stat_after_apply_interval (scheme stats). Not
 * damos_before_apply: no controller reads the regions a scheme tried, and
 * attached it runs per region and scheme in the kdamond.
 */
#define EVENTS_WANT_DAMOND \
	(DAMON_EV_WANT(DAMON_EV_AGGREGATED) | DAMON_EV_WANT(DAMON_EV_ESZ) | DAMON_EV_WANT(DAMON_EV_SCHEME_STAT))

struct events_stats {
	enum damon_ev_variant variant[DAMON_EV_TYPE_MAX];
	uint64_t received[DAMON_EV_TYPE_MAX];	/* records read from the ring buffer, by type */
	double rate[DAMON_EV_TYPE_MAX];		/* records/s over the last >= 1 s window */
	uint64_t bad_records;			/* failed to decode */
	bool have_kernel_counters;		/* the two below are valid */
	uint64_t kernel_events[DAMON_EV_TYPE_MAX];	/* submitted by BPF */
	uint64_t drops[DAMON_EV_TYPE_MAX];		/* ring buffer full */
	uint64_t drops_total;
	uint64_t aggr_skipped;                  /* aggregations the gate kept out of the ring */
	uint64_t aggr_skipped_regions;          /* and their region events */
	uint64_t aggr_gate_ns;                  /* the gate (0: every aggregation forwarded) */
	uint64_t drains;			/* ring-buffer drains (wakeups handled) */
	uint64_t drain_ns;			/* time spent in them (CLOCK_MONOTONIC; a drain never blocks) */
};

/* Loads and attaches everything and adds the ring buffer to e. On failure
 * returns a negative errno and, if ret_reason, a malloc'ed reason. */
int events_new(sd_event *e, const struct events_params *p, struct events **ret, char **ret_reason);
struct events *events_free(struct events *ev);

/* pids[i] = pid of damond's kdamond i (<= 0: not running); call after every
 * `on`, stop and re-adoption. Updates the BPF filter map and, when a store
 * was given, snapshot_store_set_pid() for indices 0..max(n, previous n)-1.
 * Pending records are drained first so they are attributed to the old pids. */
int events_set_pids(struct events *ev, const int *pids, size_t n);

/* The aggregation gate: each kdamond's aggregations reach the ring at most
 * once per gate_ns (0: all of them); see bpf/damon-events-load.h. */
int events_set_aggr_gate(struct events *ev, uint64_t gate_ns);

/* Drains the ring buffer now (also done by the io handler). */
int events_drain(struct events *ev);

void events_get_stats(const struct events *ev, struct events_stats *ret);
/* Data size of the ring buffer. */
size_t events_ringbuf_bytes(const struct events *ev);
size_t events_wake_bytes(const struct events *ev);
/* Bytes of the ring's mappings in damond's address space (all resident). */
size_t events_mapped_bytes(const struct events *ev);

/* "aggregated=tracepoint before_apply=tracepoint esz=off scheme_stat=off" */
int events_describe(const struct events *ev, char **ret);
