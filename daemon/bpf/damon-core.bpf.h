/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few kernel types damon-events.bpf.c needs, written by hand instead of a
 * multi-megabyte vmlinux.h. Every struct carries preserve_access_index, so the
 * offsets below are only clang's first guess: libbpf relocates each field
 * access against the running kernel's BTF at load time (CO-RE). Only the field
 * *names* (and struct names, minus a ___flavour suffix) must match the kernel.
 *
 * Classic tracepoint records (struct trace_event_raw_<event>): layout from
 * include/trace/events/damon.h, identical in 6.12 .. 7.3 (kernel-damon.md 6.1).
 * tp_btf argument types: struct damon_region / struct damos_stat, which did
 * change between versions (nr_accesses_bp gone in 7.3, sz_ops_filter_passed
 * new in 6.14, nr_snapshots new in 7.0): probe with bpf_core_field_exists().
 */
#pragma once

#ifndef __bpf__
#error "damon-core.bpf.h is for BPF programs only"
#endif

/* Scalar types (normally from vmlinux.h / <linux/types.h>; the uapi headers
 * need the multiarch <asm/types.h>, which clang -target bpf does not find). */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* uapi/linux/bpf.h values (stable ABI numbers). */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* ---- classic tracepoint records ("tracepoint/damon/<event>") ---- */

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_damon_aggregated {
	struct trace_entry ent;
	unsigned long target_id;
	unsigned int nr_regions;
	unsigned long start;
	unsigned long end;
	unsigned int nr_accesses;
	unsigned int age;
};

struct trace_event_raw_damos_before_apply {
	struct trace_entry ent;
	unsigned int context_idx;
	unsigned int scheme_idx;
	unsigned long target_idx;
	unsigned long start;
	unsigned long end;
	unsigned int nr_accesses;
	unsigned int age;
	unsigned int nr_regions;
};

/* 6.17+ */
struct trace_event_raw_damos_esz {
	struct trace_entry ent;
	unsigned int context_idx;
	unsigned int scheme_idx;
	unsigned long esz;
};

/* 7.0+ */
struct trace_event_raw_damos_stat_after_apply_interval {
	struct trace_entry ent;
	unsigned int context_idx;
	unsigned int scheme_idx;
	unsigned long nr_tried;
	unsigned long sz_tried;
	unsigned long nr_applied;
	unsigned long sz_applied;
	unsigned long sz_ops_filter_passed;
	unsigned long qt_exceeds;
	unsigned long nr_snapshots;
};

/* ---- tp_btf argument types ---- */

struct damon_addr_range {
	unsigned long start;
	unsigned long end;
};

struct damon_region {
	struct damon_addr_range ar;
	unsigned long sampling_addr;
	unsigned int nr_accesses;
	unsigned int nr_accesses_bp;	/* <= 7.2; gone in 7.3 */
	unsigned int age;
};

struct damos_stat {
	unsigned long nr_tried;
	unsigned long sz_tried;
	unsigned long nr_applied;
	unsigned long sz_applied;
	unsigned long sz_ops_filter_passed;	/* 6.14+ */
	unsigned long qt_exceeds;
	unsigned long nr_snapshots;	/* 7.0+ */
};

#pragma clang attribute pop
