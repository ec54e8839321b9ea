/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bring-up of damon-events.bpf.c without any event loop: probe what the kernel
 * offers, pick one program variant per event, open/load/attach the skeleton,
 * keep the kdamond pid filter current, read the drop counters. Used by
 * daemon/events.c (sd-event integration) and tests/snapshot/bpf-smoke.c.
 * Errors: negative errno plus, where given, a malloc'ed human reason string.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon-events.h"
#include "sysfs.h"

struct btf;

enum damon_ev_variant {
	DAMON_EV_VARIANT_OFF,		/* not loaded */
	DAMON_EV_VARIANT_TRACEPOINT,	/* SEC("tracepoint/damon/...") */
	DAMON_EV_VARIANT_BTF,		/* SEC("tp_btf/...") */
	DAMON_EV_VARIANT_BTF7,		/* tp_btf damos_before_apply, 7.3+ prototype */
	_DAMON_EV_VARIANT_MAX,
};

enum damon_ev_mode {
	DAMON_EV_MODE_AUTO,		/* classic tracepoints where tracefs has them, else tp_btf */
	DAMON_EV_MODE_TRACEPOINT,	/* classic tracepoints only */
	DAMON_EV_MODE_BTF,		/* tp_btf only (no tracefs needed) */
	_DAMON_EV_MODE_MAX,
};

/* What the running kernel offers, per enum damon_ev_type. */
struct damon_ev_probe {
	bool have_tracefs;			/* <root>/events/damon exists */
	bool tracefs[DAMON_EV_TYPE_MAX];	/* <root>/events/damon/<name>/id exists */
	bool have_btf;				/* vmlinux BTF could be loaded */
	int btf_arity[DAMON_EV_TYPE_MAX];	/* TP_PROTO arguments of btf_trace_<name>; 0: absent */
};

#define DAMON_EV_TRACEFS_DEFAULT SYSFS_DEFAULT_ROOT "/kernel/tracing"

/* Kernel tracepoint name of an event type ("damon_aggregated", ...) or NULL. */
const char *damon_ev_tracepoint_name(unsigned type);
const char *damon_ev_variant_to_string(enum damon_ev_variant v);
const char *damon_ev_mode_to_string(enum damon_ev_mode m);

/* Number of TP_PROTO arguments (without the leading void *) of the typedef
 * btf_trace_<tp_name> in btf; 0 when absent, -EINVAL when malformed. */
int damon_ev_btf_tp_arity(const struct btf *btf, const char *tp_name);

/* tracefs_root NULL: DAMON_EV_TRACEFS_DEFAULT; btf_path NULL: vmlinux BTF
 * (btf__load_vmlinux_btf). Never fails: missing things are reported as such. */
void damon_ev_probe(const char *tracefs_root, const char *btf_path, struct damon_ev_probe *ret);

/* Bit of an event type in a want mask. Attaching an event enables its
 * tracepoint in the kernel, which then runs on every hit (damos_before_apply:
 * per region and scheme), so a consumer asks only for what it reads. */
#define DAMON_EV_WANT(type) (1U << (type))
#define DAMON_EV_WANT_ALL (DAMON_EV_WANT(DAMON_EV_TYPE_MAX) - DAMON_EV_WANT(DAMON_EV_AGGREGATED))

/* Picks a variant per event of want (DAMON_EV_WANT bits; 0: all). want must
 * include damon_aggregated (-EINVAL), which is required (-EOPNOTSUPP and a
 * reason without it); the others are OFF when not wanted or unavailable. */
int damon_ev_choose(const struct damon_ev_probe *p, enum damon_ev_mode mode, unsigned want,
		    enum damon_ev_variant ret[DAMON_EV_TYPE_MAX], char **ret_reason);

struct damon_ev_load_params {
	const char *tracefs_root;	/* for probing only (libbpf attaches via its own tracefs lookup) */
	const char *btf_path;		/* NULL: /sys/kernel/btf/vmlinux */
	enum damon_ev_mode mode;
	unsigned want;                  /* events to attach, DAMON_EV_WANT bits (0: all) */
	size_t ringbuf_bytes;		/* 0: DAMON_EV_RINGBUF_DEFAULT; rounded up to a power of 2 */
	size_t headroom_bytes;		/* room left when user space is woken (0: half the ring; at most half) */
	uint64_t wake_interval_ns;	/* a burst's end wakes user space at most this often (0: always) */
	bool no_pid_filter;		/* accept events of every kdamond (debugging) */
};

#define DAMON_EV_RINGBUF_DEFAULT (256U * 1024U)

struct damon_ev_bpf;

/* Probe, open, set rodata, choose variants, load, attach. In AUTO mode a
 * failure of the classic-tracepoint attempt is retried once with tp_btf. */
int damon_ev_bpf_open(const struct damon_ev_load_params *p, struct damon_ev_bpf **ret,
		      char **ret_reason);
struct damon_ev_bpf *damon_ev_bpf_free(struct damon_ev_bpf *b);

int damon_ev_bpf_ringbuf_fd(const struct damon_ev_bpf *b);
/* Data size of the ring buffer as loaded. */
size_t damon_ev_bpf_ringbuf_bytes(const struct damon_ev_bpf *b);
/* Fill level (bytes) at which the BPF side wakes user space whatever the interval. */
size_t damon_ev_bpf_wake_bytes(const struct damon_ev_bpf *b);
enum damon_ev_variant damon_ev_bpf_variant(const struct damon_ev_bpf *b, unsigned type);

/* pids[i]: pid of damond's kdamond i (<= 0: not running). Replaces the
 * in-kernel filter set; entries of unchanged pids keep their BPF state. */
int damon_ev_bpf_set_pids(struct damon_ev_bpf *b, const int *pids, size_t n);

/* The aggregation gate (damon-events.h, struct damon_ev_pid_state): a
 * kdamond's aggregation starting less than gate_ns after its last forwarded
 * one is kept out of the ring (0: forward all, the value after load). Takes
 * effect at the next aggregation, without a reload of the programs. */
int damon_ev_bpf_set_aggr_gate(struct damon_ev_bpf *b, uint64_t gate_ns);
uint64_t damon_ev_bpf_aggr_gate(const struct damon_ev_bpf *b);

/* Kernel-side counters summed over CPUs. */
int damon_ev_bpf_read_counters(const struct damon_ev_bpf *b, struct damon_ev_counters *ret);
