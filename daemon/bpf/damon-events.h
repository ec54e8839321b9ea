/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event ABI between damon-events.bpf.c and user space (lib/snapshot.c,
 * daemon/events.c). Included by both sides: the BPF side gets its scalar types
 * from damon-core.bpf.h, user space from <linux/types.h>.
 *
 * Every ring-buffer record starts with struct damon_ev_header. A decoder must
 * check header.version == DAMON_EV_VERSION and that the record is at least as
 * long as the struct of header.type. Change a layout => bump the version.
 * All structs are naturally aligned with explicit padding, so BPF (clang) and
 * user space (gcc) agree; the _Static_asserts at the end pin the sizes.
 */
#pragma once

#ifdef __bpf__
#include "damon-core.bpf.h"
#else
#include <linux/types.h>
#endif

#define DAMON_EV_VERSION 3

enum damon_ev_type {
	DAMON_EV_AGGREGATED = 1,	/* damon:damon_aggregated */
	DAMON_EV_BEFORE_APPLY = 2,	/* damon:damos_before_apply */
	DAMON_EV_ESZ = 3,		/* damon:damos_esz (6.17+) */
	DAMON_EV_SCHEME_STAT = 4,	/* damon:damos_stat_after_apply_interval (7.0+) */
	DAMON_EV_TYPE_MAX,
};

struct damon_ev_header {
	__u16 version;	/* DAMON_EV_VERSION */
	__u16 type;	/* enum damon_ev_type */
	__u32 pid;	/* kdamond pid (tgid of the emitting kernel thread) */
	__u64 ts_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/* One region of one target at the end of an aggregation interval. */
struct damon_ev_region {
	__u64 start;
	__u64 end;
	__u32 nr_accesses;
	__u32 age;
};

/* Regions per DAMON_EV_AGGREGATED record. */
#define DAMON_EV_AGGR_BATCH 256

/*
 * DAMON_EV_AGGREGATED: `count` consecutive regions of one target at the end
 * of an aggregation interval, regions[0] being region number region_idx of
 * that target's burst. The BPF side collects up to DAMON_EV_AGGR_BATCH
 * damon_aggregated events of a kdamond in its pid-map entry and emits them as
 * one record (a burst's last region flushes the batch): one ring-buffer
 * record and one user-space callback per 256 regions instead of per region.
 * The record is variable length: DAMON_EV_AGGR_HDR_SIZE + count * 24 bytes.
 *
 * aggr_seq and region_idx are computed in BPF from the per-pid state in the
 * pid map (struct damon_ev_pid_state): aggr_seq increases by one per
 * aggregation of that kdamond (starting at 1 after the pid was added to the
 * filter), region_idx counts 0..nr_regions-1 inside one target's burst. They
 * advance even when the ring buffer is full, so a gap tells user space that
 * events were dropped.
 */
struct damon_ev_aggregated {
	struct damon_ev_header hdr;
	__u32 target_idx;
	__u32 nr_regions;
	__u32 region_idx;
	__u32 aggr_seq;
	__u32 count;		/* 1..DAMON_EV_AGGR_BATCH regions follow */
	__u32 pad;
	struct damon_ev_region regions[DAMON_EV_AGGR_BATCH];
};

#define DAMON_EV_AGGR_HDR_SIZE 40	/* offsetof(struct damon_ev_aggregated, regions) */

/* One region a scheme is about to be applied to (it passed pattern, quota and
 * core filters). nr_accesses: nr_accesses_bp / 10000 (<= 7.2) or the moving
 * sum estimate (7.3). */
struct damon_ev_before_apply {
	struct damon_ev_header hdr;
	__u32 context_idx;
	__u32 scheme_idx;
	__u32 target_idx;
	__u32 nr_regions;
	__u64 start;
	__u64 end;
	__u32 nr_accesses;
	__u32 age;
};

/* Effective quota size of a scheme (bytes), emitted when it changes. */
struct damon_ev_esz {
	struct damon_ev_header hdr;
	__u32 context_idx;
	__u32 scheme_idx;
	__u64 esz;
};

/* Cumulative scheme stats at the end of an apply interval of that scheme. */
struct damon_ev_scheme_stat {
	struct damon_ev_header hdr;
	__u32 context_idx;
	__u32 scheme_idx;
	__u64 nr_tried;
	__u64 sz_tried;
	__u64 nr_applied;
	__u64 sz_applied;
	__u64 sz_ops_filter_passed;
	__u64 qt_exceeds;
	__u64 nr_snapshots;
};

/*
 * Value of the pid filter map (BPF_MAP_TYPE_HASH, key: __u32 pid). User space
 * inserts a zeroed value with cookie = damond's kdamond index; the BPF side
 * mutates the rest in place to number aggregation bursts and to collect the
 * batch of regions it emits next (only the kdamond thread itself touches its
 * entry, so no locking is needed).
 *
 * The aggregation gate: the BPF global aggr_gate_ns (.bss, written by user
 * space at any time through the skeleton's mapping; 0: forward everything).
 * When an aggregation starts less than aggr_gate_ns after the start of the
 * last forwarded one of that pid, none of its regions go into the ring: it
 * only advances aggr_seq and the burst bookkeeping (so the next forwarded
 * aggregation is numbered right and an aggr_seq gap counts the aggregations
 * not seen) and bumps damon_ev_counters.aggr_skipped.
 */
struct damon_ev_pid_state {
	__u32 cookie;
	__u32 aggr_seq;
	__u32 last_target;
	__u32 region_idx;	/* index the next region of the current target burst gets */
	__u32 nr_regions;	/* nr_regions of the current target burst */
	__u32 skipping;         /* the current aggregation is not forwarded (the gate, see aggr_gate_ns) */
	__u64 last_end;
	__u64 fwd_ns;                           /* bpf_ktime_get_ns() at the start of the last forwarded aggregation */
	struct damon_ev_aggregated batch;	/* being collected; batch.count regions so far */
};

/* Value of the single-entry per-CPU counter array (sum over CPUs). */
struct damon_ev_counters {
	__u64 events[DAMON_EV_TYPE_MAX];	/* tracepoint events submitted (regions, for aggregated) */
	__u64 drops[DAMON_EV_TYPE_MAX];		/* tracepoint events lost: ring buffer full */
	__u64 aggr_skipped;                     /* aggregations the gate kept out of the ring */
	__u64 aggr_skipped_regions;             /* their damon_aggregated events (not in events[]) */
};

#define DAMON_EV_MAX_PIDS 64

_Static_assert(sizeof(struct damon_ev_header) == 16, "damon_ev_header size");
_Static_assert(sizeof(struct damon_ev_region) == 24, "damon_ev_region size");
_Static_assert(sizeof(struct damon_ev_aggregated) == DAMON_EV_AGGR_HDR_SIZE + 24 * DAMON_EV_AGGR_BATCH,
	       "damon_ev_aggregated size");
_Static_assert(__builtin_offsetof(struct damon_ev_aggregated, regions) == DAMON_EV_AGGR_HDR_SIZE,
	       "damon_ev_aggregated header size");
_Static_assert(sizeof(struct damon_ev_before_apply) == 56, "damon_ev_before_apply size");
_Static_assert(sizeof(struct damon_ev_esz) == 32, "damon_ev_esz size");
_Static_assert(sizeof(struct damon_ev_scheme_stat) == 80, "damon_ev_scheme_stat size");
_Static_assert(sizeof(struct damon_ev_pid_state) == 40 + sizeof(struct damon_ev_aggregated), "damon_ev_pid_state size");
_Static_assert(sizeof(struct damon_ev_counters) == 16 * DAMON_EV_TYPE_MAX + 16, "damon_ev_counters size");
