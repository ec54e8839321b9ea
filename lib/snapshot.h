/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Snapshot assembly: turns the raw ring-buffer records of damon-events.bpf.c
 * (ABI in daemon/bpf/damon-events.h) into per-kdamond observations:
 *
 *  - per target: the regions of the last *complete* aggregation, address
 *    ordered ({start, end, nr_accesses, age}), from damon_aggregated;
 *  - per scheme: the regions the scheme tried in its last apply interval, from
 *    damos_before_apply;
 *  - per scheme: the last effective quota (damos_esz, 6.17+) and the last
 *    cumulative stats (damos_stat_after_apply_interval, 7.0+).
 *
 * Pure user space: no libbpf, no I/O, no clock (time is passed in), no logging.
 * The daemon tells the store which pid runs which of its kdamonds
 * (snapshot_store_set_pid); records of other pids are counted and ignored.
 *
 * Aggregation bursts: the BPF side numbers aggregations (aggr_seq) and regions
 * inside a target (region_idx). A target snapshot is published when regions
 * 0..nr_regions-1 of one aggr_seq arrived in order with increasing addresses;
 * a gap, a reordering or a new aggr_seq before the end makes it incomplete
 * (counted, the previously published snapshot stays).
 *
 * Apply bursts: kdamond walks target -> region -> scheme, so per scheme the
 * events of one apply interval are ordered by (target, address). The open
 * burst of a scheme is closed (published) when
 *   - its damos_stat_after_apply_interval arrives (exact, 7.0+; with no open
 *     burst an empty record is published: the scheme tried nothing),
 *   - its damos_esz arrives (quota adjustment starts the next interval),
 *   - a damon_aggregated event of the same kdamond arrives (aggregation runs
 *     after the schemes in the kdamond loop),
 *   - a new event of the scheme goes back in (target, address) order,
 *   - a new event comes more than apply_gap_ns after the previous one, or
 *     snapshot_store_flush() finds it idle for that long.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/bpf/damon-events.h"

/* ---- decoding ---- */

/* One validated record; read the member matching hdr.type. */
struct damon_event {
	union {
		struct damon_ev_header hdr;
		struct damon_ev_aggregated aggr;
		struct damon_ev_before_apply apply;
		struct damon_ev_esz esz;
		struct damon_ev_scheme_stat stat;
	};
};

/* Checks version, type and length and copies the record (any alignment).
 * An aggregated record is copied up to its last region (count of them).
 * -EBADMSG: shorter than its type's struct (or than a header), or an
 * aggregated record whose count is 0, above DAMON_EV_AGGR_BATCH or longer
 * than the record;
 * -EPROTONOSUPPORT: other DAMON_EV_VERSION; -EOPNOTSUPP: unknown type. */
int damon_event_decode(const void *rec, size_t len, struct damon_event *ret);

/* Tracepoint events one raw record stands for (an aggregated record: its
 * count of regions, others: 1) and its type; 0 when it has no readable
 * header or an impossible count. Does not validate the record otherwise
 * (damon_event_decode does). */
unsigned damon_event_record_events(const void *rec, size_t len, unsigned *ret_type);

/* "aggregated", "before_apply", "esz", "scheme_stat", or NULL. */
const char *damon_event_type_to_string(unsigned type);

/* ---- observations ---- */

struct snapshot_region {
	uint64_t start;
	uint64_t end;
	uint32_t nr_accesses;
	uint32_t age;
};

/* The last complete aggregation of one target. */
struct damon_snapshot {
	unsigned kdamond_idx;
	unsigned target_idx;
	int pid;			/* kdamond pid that produced it */
	uint32_t aggr_seq;		/* BPF aggregation number (per pid) */
	uint64_t nr_published;		/* complete snapshots of this target so far */
	uint64_t nr_aggregations;       /* aggregations the kdamond ran, by aggr_seq, from the first
					 * one seen (published or superseded) to the newest: including
					 * those the BPF gate skipped and those whose records were lost */
	uint64_t ts_ns;			/* kernel CLOCK_MONOTONIC of its last region */
	uint64_t recv_ns;		/* now_ns passed with the completing record */
	size_t nr_regions;
	const struct snapshot_region *regions;	/* address ordered, nr_regions long */
};

struct damos_apply_region {
	uint32_t target_idx;
	uint32_t nr_accesses;
	uint32_t age;
	uint32_t pad;
	uint64_t start;
	uint64_t end;
};

/* The regions one scheme tried in its last closed apply interval. */
struct damos_apply_record {
	unsigned kdamond_idx;
	unsigned scheme_idx;
	uint64_t nr_published;		/* closed apply intervals so far */
	uint64_t first_ts_ns;		/* kernel ts of its first/last event (0 when empty) */
	uint64_t last_ts_ns;
	uint64_t recv_ns;
	uint64_t sz_tried;		/* sum of end - start */
	size_t nr_regions;
	const struct damos_apply_region *regions;	/* ordered by (target_idx, start) */
};

struct damos_stat_values {
	uint64_t nr_tried;
	uint64_t sz_tried;
	uint64_t nr_applied;
	uint64_t sz_applied;
	uint64_t sz_ops_filter_passed;
	uint64_t qt_exceeds;
	uint64_t nr_snapshots;
};

/* damos_esz / damos_stat_after_apply_interval values of one scheme. */
struct damos_scheme_obs {
	bool has_esz;
	uint64_t esz;			/* bytes */
	uint64_t esz_ts_ns;
	bool has_stat;
	struct damos_stat_values stat;	/* cumulative, as the kernel reports them */
	struct damos_stat_values prev_stat;	/* the one before (valid when has_prev_stat) */
	bool has_prev_stat;
	uint64_t stat_ts_ns;
};

/* Per-kdamond summary. */
struct snapshot_kdamond {
	int pid;			/* 0: not running / unknown */
	size_t nr_targets;		/* targets seen since the pid was set */
	size_t nr_schemes;		/* highest scheme index seen + 1 */
	uint64_t nr_aggregations;	/* aggregations with >= 1 published target */
	uint32_t last_aggr_seq;
	uint64_t last_aggr_ts_ns;	/* kernel ts of the last published target snapshot */
	uint64_t last_aggr_recv_ns;
};

struct snapshot_store_stats {
	uint64_t records;		/* fed */
	uint64_t bad_records;		/* failed to decode */
	uint64_t unknown_pid;		/* pid not set for any kdamond */
	uint64_t ignored;		/* out of the store's limits (index too large, ...) */
	uint64_t events[DAMON_EV_TYPE_MAX];	/* decoded tracepoint events by type (regions for aggregated) */
	uint64_t snapshots_published;
	uint64_t snapshots_incomplete;	/* target bursts abandoned (gap, reorder, new burst) */
	uint64_t snapshots_superseded;	/* complete bursts not assembled: a newer one was in the same drain */
	uint64_t apply_published;
	uint64_t apply_split;		/* apply bursts closed by the time gap rule */
};

enum snapshot_update_type {
	SNAPSHOT_UPDATE_REGIONS,	/* index = target: a new damon_snapshot */
	SNAPSHOT_UPDATE_APPLY,		/* index = scheme: a new damos_apply_record */
	SNAPSHOT_UPDATE_ESZ,		/* index = scheme */
	SNAPSHOT_UPDATE_STAT,		/* index = scheme */
	_SNAPSHOT_UPDATE_MAX,
};

struct snapshot_update {
	enum snapshot_update_type type;
	unsigned kdamond_idx;
	unsigned index;
};

/* Called synchronously from feed/flush after a publication; the pointers the
 * getters return stay valid until the next feed/flush/set_pid/free. */
typedef void (*snapshot_update_cb)(void *userdata, const struct snapshot_update *u);

struct snapshot_store_params {
	snapshot_update_cb on_update;	/* may be NULL */
	void *userdata;
	uint64_t apply_gap_ns;		/* 0: SNAPSHOT_APPLY_GAP_NS_DEFAULT */
};

#define SNAPSHOT_APPLY_GAP_NS_DEFAULT (1000ULL * 1000ULL)	/* 1 ms */
#define SNAPSHOT_MAX_KDAMONDS 1024U
#define SNAPSHOT_MAX_TARGETS 4096U
#define SNAPSHOT_MAX_SCHEMES 4096U
#define SNAPSHOT_MAX_REGIONS (1U << 22)

struct snapshot_store;

/* p may be NULL (defaults). */
int snapshot_store_new(const struct snapshot_store_params *p, struct snapshot_store **ret);
struct snapshot_store *snapshot_store_free(struct snapshot_store *s);

/* Tells the store that damond's kdamond kdamond_idx runs as pid (pid <= 0: not
 * running). A different pid than before drops everything known about that
 * kdamond (a restart: new targets, new numbering); the same pid is a no-op
 * (re-adoption). Returns 0, or -EINVAL / -ENOMEM. */
int snapshot_store_set_pid(struct snapshot_store *s, unsigned kdamond_idx, int pid);

/* Feeds one raw ring-buffer record. now_ns: caller's CLOCK_MONOTONIC.
 * Returns 0 when the record was decoded (even if it was ignored), a negative
 * errno from damon_event_decode() otherwise, -ENOMEM on allocation failure. */
int snapshot_store_feed(struct snapshot_store *s, const void *rec, size_t len, uint64_t now_ns);
int snapshot_store_feed_event(struct snapshot_store *s, const struct damon_event *ev, uint64_t now_ns);

/*
 * Lookahead: before a drain, the caller may show the store every record it
 * is about to feed (without consuming them). A target burst that is followed,
 * in the same drain, by a complete newer burst of the same target is then
 * not assembled at all: its events are counted, its copy is skipped. After a
 * wakeup every few aggregations this skips most of the copying, since only
 * the newest aggregation can be read. Returns 0, or -EBADMSG for a record
 * snapshot_store_feed() will reject too. snapshot_store_flush() forgets it.
 */
int snapshot_store_lookahead(struct snapshot_store *s, const void *rec, size_t len);

/* Closes apply bursts idle for more than apply_gap_ns at now_ns (kernel
 * timestamps and now_ns must be CLOCK_MONOTONIC) and ends the lookahead.
 * Call after draining. */
void snapshot_store_flush(struct snapshot_store *s, uint64_t now_ns);

/* Lookups: NULL when nothing was published (yet) or indices are unknown. */
const struct snapshot_kdamond *snapshot_store_get_kdamond(const struct snapshot_store *s,
							  unsigned kdamond_idx);
const struct damon_snapshot *snapshot_store_get(const struct snapshot_store *s, unsigned kdamond_idx,
						unsigned target_idx);
const struct damos_apply_record *snapshot_store_get_apply(const struct snapshot_store *s,
							  unsigned kdamond_idx, unsigned scheme_idx);
const struct damos_scheme_obs *snapshot_store_get_scheme(const struct snapshot_store *s,
							 unsigned kdamond_idx, unsigned scheme_idx);
/* kdamond index of a pid, or -ENOENT. */
int snapshot_store_kdamond_of_pid(const struct snapshot_store *s, int pid);

void snapshot_store_get_stats(const struct snapshot_store *s, struct snapshot_store_stats *ret);
