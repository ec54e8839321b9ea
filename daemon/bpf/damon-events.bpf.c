// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * damond's DAMON monitor: turns DAMON tracepoints of the kdamonds damond owns
 * into compact records (damon-events.h) in one ring buffer.
 *
 * Each event has two program variants; user space picks one per event with
 * bpf_program__set_autoload() before load:
 *   tp_*   SEC("tracepoint/damon/<event>"): reads the classic trace record,
 *          whose layout is the same on 6.12 .. 7.3 (preferred);
 *   btf_*  SEC("tp_btf/<event>"): reads TP_PROTO arguments; needs no tracefs.
 *          damos_before_apply gained an argument in 7.3, hence two variants
 *          (btf_before_apply6 for <= 7.2, btf_before_apply7 for 7.3+).
 * Events are filtered on the current pid (kdamonds are kernel threads, so
 * pid == tgid) against the `pids` map that user space keeps current.
 */
#include "damon-events.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* bpf_ringbuf_submit() flags and bpf_ringbuf_query() keys (UAPI enums, not included here) */
#define DAMOND_RB_NO_WAKEUP 1ULL
#define DAMOND_RB_FORCE_WAKEUP 2ULL
#define DAMOND_RB_AVAIL_DATA 0ULL
#define DAMOND_RB_RING_SIZE 1ULL

char LICENSE[] SEC("license") = "GPL";

/* rodata, set between open and load */
const volatile bool filter_pids = true;	/* false: accept every kdamond (debugging) */
const volatile __u64 wake_bytes = 0;		/* wake user space at this fill level (0: half the ring) */
const volatile __u64 wake_interval_ns = 0;	/* a burst's end wakes user space at most this often */

/* When user space was last woken (any CPU; a lost update only moves a wakeup) */
__u64 last_wake_ns = 0;

/* The aggregation gate (damon-events.h): a kdamond's aggregation that starts
 * less than this after the start of its last forwarded one is not forwarded.
 * 0: every aggregation is. User space writes it at any time (.bss mapping). */
__u64 aggr_gate_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);	/* user space may resize before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DAMON_EV_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct damon_ev_pid_state);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct damon_ev_counters);
} counters SEC(".maps");

/* Used when filter_pids is false: a scratch state shared by all kdamonds. Debugging only:
 * two kdamonds emitting at once garble each other's batches and numbering. */
static struct damon_ev_pid_state unfiltered_state;

static __always_inline struct damon_ev_pid_state *current_state(__u32 *ret_pid)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	*ret_pid = pid;
	if (!filter_pids)
		return &unfiltered_state;
	return bpf_map_lookup_elem(&pids, &pid);
}

/* An aggregation the gate kept out of the ring, and its regions so far. */
static __always_inline void count_skipped(__u32 aggregations, __u32 regions)
{
	__u32 zero = 0;
	struct damon_ev_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c)
		return;
	c->aggr_skipped += aggregations;
	c->aggr_skipped_regions += regions;
}

static __always_inline void count(__u16 type, bool dropped, __u32 n)
{
	__u32 zero = 0;
	struct damon_ev_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c || type >= DAMON_EV_TYPE_MAX)
		return;
	if (dropped)
		c->drops[type] += n;
	else
		c->events[type] += n;
}

/*
 * Wakeup policy. User space watches the ring edge-triggered and drains
 * everything when woken, and its stats timer and control commands drain
 * first, so a wakeup is only needed (1) before the ring can fill up: at
 * wake_bytes, which leaves room for what the kdamonds emit until user space
 * runs (a full ring fails every reservation and sends no wakeup at all), and
 * (2) to keep snapshots from getting old: at the end of a target burst, at
 * most once per wake_interval_ns. Each wakeup costs a context switch, so at
 * 20,000 regions and 10 aggregations/s this is a few per second, not one per
 * aggregation.
 */
static __always_inline __u64 wakeup_flags(bool burst_end, __u64 size)
{
	__u64 limit = wake_bytes;

	if (limit == 0)
		limit = bpf_ringbuf_query(&events, DAMOND_RB_RING_SIZE) / 2;
	/* size: a record about to be output is not in the ring yet, and the
	 * one that crosses the level must be the one that wakes */
	if (bpf_ringbuf_query(&events, DAMOND_RB_AVAIL_DATA) + size >= limit)
		return DAMOND_RB_FORCE_WAKEUP;
	if (burst_end && bpf_ktime_get_ns() - last_wake_ns >= wake_interval_ns)
		return DAMOND_RB_FORCE_WAKEUP;
	return DAMOND_RB_NO_WAKEUP;
}

/* After a record went in: the interval counts from wakeups actually sent. */
static __always_inline void woke(__u64 flags)
{
	if (flags == DAMOND_RB_FORCE_WAKEUP)
		last_wake_ns = bpf_ktime_get_ns();
}

static __always_inline void fill_header(struct damon_ev_header *h, __u16 type, __u32 pid)
{
	h->version = DAMON_EV_VERSION;
	h->type = type;
	h->pid = pid;
	h->ts_ns = bpf_ktime_get_ns();
}

/* Emits the batch collected in st (if any); a burst's end wakes user space. */
static __always_inline void flush_batch(struct damon_ev_pid_state *st, bool burst_end)
{
	struct damon_ev_aggregated *b = &st->batch;
	__u32 n = b->count;
	__u64 size, flags;

	if (n == 0)
		return;
	if (n > DAMON_EV_AGGR_BATCH)
		n = DAMON_EV_AGGR_BATCH;
	b->hdr.version = DAMON_EV_VERSION;
	b->hdr.type = DAMON_EV_AGGREGATED;
	b->hdr.ts_ns = bpf_ktime_get_ns();
	size = DAMON_EV_AGGR_HDR_SIZE + n * sizeof(struct damon_ev_region);
	flags = wakeup_flags(burst_end, size);
	if (bpf_ringbuf_output(&events, b, size, flags)) {
		count(DAMON_EV_AGGREGATED, true, n);
	} else {
		count(DAMON_EV_AGGREGATED, false, n);
		woke(flags);
	}
	b->count = 0;
}

static __always_inline int emit_aggregated(__u32 target, __u32 nr_regions, __u64 start, __u64 end,
					   __u32 nr_accesses, __u32 age)
{
	struct damon_ev_pid_state *st;
	struct damon_ev_aggregated *b;
	__u32 pid, i;

	st = current_state(&pid);
	if (!st)
		return 0;
	b = &st->batch;

	/* A new target burst starts when the target changes, the previous one is
	 * complete, the address goes back or nr_regions changes. It belongs to a
	 * new aggregation unless the target index went up. What was collected of
	 * the previous burst goes out first. */
	if (target != st->last_target || st->region_idx >= st->nr_regions || start < st->last_end ||
	    nr_regions != st->nr_regions) {
		flush_batch(st, true);
		if (st->skipping && st->region_idx > 0) /* the skipped burst's regions */
			count_skipped(0, st->region_idx);
		if (target <= st->last_target || st->aggr_seq == 0) {
			/* A new aggregation: forward it or not, for all its targets. */
			__u64 now = bpf_ktime_get_ns(), gate = aggr_gate_ns;

			st->aggr_seq++;
			if (gate && st->fwd_ns && now - st->fwd_ns < gate) {
				st->skipping = 1;
				count_skipped(1, 0);
			} else {
				st->skipping = 0;
				st->fwd_ns = now;
			}
		}
		st->last_target = target;
		st->nr_regions = nr_regions;
		st->region_idx = 0;
	}
	if (st->skipping) {
		/* only the bookkeeping that numbers the next forwarded aggregation */
		st->region_idx++;
		st->last_end = end;
		return 0;
	}

	i = b->count;
	if (i >= DAMON_EV_AGGR_BATCH) {	/* cannot happen: full batches are flushed below */
		flush_batch(st, false);
		i = 0;
	}
	if (i == 0) {
		b->hdr.pid = pid;
		b->target_idx = target;
		b->nr_regions = nr_regions;
		b->region_idx = st->region_idx;
		b->aggr_seq = st->aggr_seq;
	}
	b->regions[i].start = start;
	b->regions[i].end = end;
	b->regions[i].nr_accesses = nr_accesses;
	b->regions[i].age = age;
	b->count = i + 1;
	st->region_idx++;
	st->last_end = end;
	if (st->region_idx >= nr_regions)
		flush_batch(st, true);
	else if (b->count >= DAMON_EV_AGGR_BATCH)
		flush_batch(st, false);
	return 0;
}

static __always_inline int emit_before_apply(__u32 context_idx, __u32 scheme_idx, __u32 target_idx,
					     __u32 nr_regions, __u64 start, __u64 end,
					     __u32 nr_accesses, __u32 age)
{
	struct damon_ev_before_apply *e;
	__u32 pid;
	__u64 flags;

	if (!current_state(&pid))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(DAMON_EV_BEFORE_APPLY, true, 1);
		return 0;
	}
	fill_header(&e->hdr, DAMON_EV_BEFORE_APPLY, pid);
	e->context_idx = context_idx;
	e->scheme_idx = scheme_idx;
	e->target_idx = target_idx;
	e->nr_regions = nr_regions;
	e->start = start;
	e->end = end;
	e->nr_accesses = nr_accesses;
	e->age = age;
	flags = wakeup_flags(false, 0);	/* reserved: already counted in the ring */
	bpf_ringbuf_submit(e, flags);
	woke(flags);
	count(DAMON_EV_BEFORE_APPLY, false, 1);
	return 0;
}

static __always_inline int emit_esz(__u32 context_idx, __u32 scheme_idx, __u64 esz)
{
	struct damon_ev_esz *e;
	__u32 pid;
	__u64 flags;

	if (!current_state(&pid))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(DAMON_EV_ESZ, true, 1);
		return 0;
	}
	fill_header(&e->hdr, DAMON_EV_ESZ, pid);
	e->context_idx = context_idx;
	e->scheme_idx = scheme_idx;
	e->esz = esz;
	flags = wakeup_flags(false, 0);	/* reserved: already counted in the ring */
	bpf_ringbuf_submit(e, flags);
	woke(flags);
	count(DAMON_EV_ESZ, false, 1);
	return 0;
}

static __always_inline struct damon_ev_scheme_stat *reserve_scheme_stat(__u32 *ret_pid)
{
	struct damon_ev_scheme_stat *e;

	if (!current_state(ret_pid))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(DAMON_EV_SCHEME_STAT, true, 1);
		return NULL;
	}
	return e;
}

/* ---- damon_aggregated ---- */

SEC("tracepoint/damon/damon_aggregated")
int tp_aggregated(struct trace_event_raw_damon_aggregated *ctx)
{
	return emit_aggregated(ctx->target_id, ctx->nr_regions, ctx->start, ctx->end,
			       ctx->nr_accesses, ctx->age);
}

SEC("tp_btf/damon_aggregated")
int BPF_PROG(btf_aggregated, unsigned int target_id, struct damon_region *r, unsigned int nr_regions)
{
	return emit_aggregated(target_id, nr_regions, r->ar.start, r->ar.end, r->nr_accesses, r->age);
}

/* ---- damos_before_apply ---- */

SEC("tracepoint/damon/damos_before_apply")
int tp_before_apply(struct trace_event_raw_damos_before_apply *ctx)
{
	return emit_before_apply(ctx->context_idx, ctx->scheme_idx, ctx->target_idx, ctx->nr_regions,
				 ctx->start, ctx->end, ctx->nr_accesses, ctx->age);
}

/* <= 7.2: (context_idx, scheme_idx, target_idx, r, nr_regions, do_trace); the
 * trace record reports nr_accesses_bp / 10000, do the same. */
SEC("tp_btf/damos_before_apply")
int BPF_PROG(btf_before_apply6, unsigned int context_idx, unsigned int scheme_idx,
	     unsigned int target_idx, struct damon_region *r, unsigned int nr_regions, bool do_trace)
{
	__u32 nr_accesses;

	if (bpf_core_field_exists(r->nr_accesses_bp))
		nr_accesses = r->nr_accesses_bp / 10000;
	else
		nr_accesses = r->nr_accesses;
	return emit_before_apply(context_idx, scheme_idx, target_idx, nr_regions, r->ar.start,
				 r->ar.end, nr_accesses, r->age);
}

/* 7.3+: (context_idx, scheme_idx, target_idx, r, nr_accesses, nr_regions, do_trace) */
SEC("tp_btf/damos_before_apply")
int BPF_PROG(btf_before_apply7, unsigned int context_idx, unsigned int scheme_idx,
	     unsigned int target_idx, struct damon_region *r, unsigned int nr_accesses,
	     unsigned int nr_regions, bool do_trace)
{
	return emit_before_apply(context_idx, scheme_idx, target_idx, nr_regions, r->ar.start,
				 r->ar.end, nr_accesses, r->age);
}

/* ---- damos_esz (6.17+) ---- */

SEC("tracepoint/damon/damos_esz")
int tp_esz(struct trace_event_raw_damos_esz *ctx)
{
	return emit_esz(ctx->context_idx, ctx->scheme_idx, ctx->esz);
}

SEC("tp_btf/damos_esz")
int BPF_PROG(btf_esz, unsigned int context_idx, unsigned int scheme_idx, unsigned long esz)
{
	return emit_esz(context_idx, scheme_idx, esz);
}

/* ---- damos_stat_after_apply_interval (7.0+) ---- */

SEC("tracepoint/damon/damos_stat_after_apply_interval")
int tp_scheme_stat(struct trace_event_raw_damos_stat_after_apply_interval *ctx)
{
	struct damon_ev_scheme_stat *e;
	__u32 pid;
	__u64 flags;

	e = reserve_scheme_stat(&pid);
	if (!e)
		return 0;
	fill_header(&e->hdr, DAMON_EV_SCHEME_STAT, pid);
	e->context_idx = ctx->context_idx;
	e->scheme_idx = ctx->scheme_idx;
	e->nr_tried = ctx->nr_tried;
	e->sz_tried = ctx->sz_tried;
	e->nr_applied = ctx->nr_applied;
	e->sz_applied = ctx->sz_applied;
	e->sz_ops_filter_passed = ctx->sz_ops_filter_passed;
	e->qt_exceeds = ctx->qt_exceeds;
	e->nr_snapshots = ctx->nr_snapshots;
	flags = wakeup_flags(false, 0);	/* reserved: already counted in the ring */
	bpf_ringbuf_submit(e, flags);
	woke(flags);
	count(DAMON_EV_SCHEME_STAT, false, 1);
	return 0;
}

SEC("tp_btf/damos_stat_after_apply_interval")
int BPF_PROG(btf_scheme_stat, unsigned int context_idx, unsigned int scheme_idx,
	     struct damos_stat *stat)
{
	struct damon_ev_scheme_stat *e;
	__u32 pid;
	__u64 flags;

	e = reserve_scheme_stat(&pid);
	if (!e)
		return 0;
	fill_header(&e->hdr, DAMON_EV_SCHEME_STAT, pid);
	e->context_idx = context_idx;
	e->scheme_idx = scheme_idx;
	e->nr_tried = stat->nr_tried;
	e->sz_tried = stat->sz_tried;
	e->nr_applied = stat->nr_applied;
	e->sz_applied = stat->sz_applied;
	e->sz_ops_filter_passed =
		bpf_core_field_exists(stat->sz_ops_filter_passed) ? stat->sz_ops_filter_passed : 0;
	e->qt_exceeds = stat->qt_exceeds;
	e->nr_snapshots = bpf_core_field_exists(stat->nr_snapshots) ? stat->nr_snapshots : 0;
	flags = wakeup_flags(false, 0);	/* reserved: already counted in the ring */
	bpf_ringbuf_submit(e, flags);
	woke(flags);
	count(DAMON_EV_SCHEME_STAT, false, 1);
	return 0;
}
