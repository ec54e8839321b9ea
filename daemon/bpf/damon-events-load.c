/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Skeleton bring-up of damon-events.bpf.c (see damon-events-load.h). */
#include "damon-events-load.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "damon-events.skel.h"

struct damon_ev_bpf {
	struct damon_events *skel;
	enum damon_ev_variant variant[DAMON_EV_TYPE_MAX];
	int *pids;		/* current filter, indexed by kdamond */
	size_t n_pids;
};

static const char *const tp_names[DAMON_EV_TYPE_MAX] = {
	[DAMON_EV_AGGREGATED] = "damon_aggregated",
	[DAMON_EV_BEFORE_APPLY] = "damos_before_apply",
	[DAMON_EV_ESZ] = "damos_esz",
	[DAMON_EV_SCHEME_STAT] = "damos_stat_after_apply_interval",
};

/* TP_PROTO arity each tp_btf program variant is written for. */
static const int btf_arity_want[DAMON_EV_TYPE_MAX] = {
	[DAMON_EV_AGGREGATED] = 3,
	[DAMON_EV_BEFORE_APPLY] = 6,	/* 7 -> DAMON_EV_VARIANT_BTF7 */
	[DAMON_EV_ESZ] = 3,
	[DAMON_EV_SCHEME_STAT] = 3,
};

static const char *const variant_names[_DAMON_EV_VARIANT_MAX] = {
	[DAMON_EV_VARIANT_OFF] = "off",
	[DAMON_EV_VARIANT_TRACEPOINT] = "tracepoint",
	[DAMON_EV_VARIANT_BTF] = "tp_btf",
	[DAMON_EV_VARIANT_BTF7] = "tp_btf7",
};

static const char *const mode_names[_DAMON_EV_MODE_MAX] = {
	[DAMON_EV_MODE_AUTO] = "auto",
	[DAMON_EV_MODE_TRACEPOINT] = "tracepoint",
	[DAMON_EV_MODE_BTF] = "tp_btf",
};

const char *damon_ev_tracepoint_name(unsigned type)
{
	return type < DAMON_EV_TYPE_MAX ? tp_names[type] : NULL;
}

const char *damon_ev_variant_to_string(enum damon_ev_variant v)
{
	return (unsigned)v < _DAMON_EV_VARIANT_MAX ? variant_names[v] : NULL;
}

const char *damon_ev_mode_to_string(enum damon_ev_mode m)
{
	return (unsigned)m < _DAMON_EV_MODE_MAX ? mode_names[m] : NULL;
}

__attribute__((format(printf, 2, 3))) static void set_reason(char **ret_reason, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret_reason)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*ret_reason);
	*ret_reason = s;
}

int damon_ev_btf_tp_arity(const struct btf *btf, const char *tp_name)
{
	const struct btf_type *t;
	char name[128];
	__s32 id;

	if (!btf || !tp_name)
		return -EINVAL;
	if ((size_t)snprintf(name, sizeof(name), "btf_trace_%s", tp_name) >= sizeof(name))
		return -EINVAL;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return 0;
	/* typedef void (*btf_trace_<name>)(void *, TP_PROTO...); */
	t = btf__type_by_id(btf, id);
	for (int depth = 0; t && (btf_is_typedef(t) || btf_is_mod(t)) && depth < 8; depth++)
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -EINVAL;
	return btf_vlen(t) - 1;
}

void damon_ev_probe(const char *tracefs_root, const char *btf_path, struct damon_ev_probe *ret)
{
	struct btf *btf;
	char path[PATH_MAX];

	*ret = (struct damon_ev_probe){};
	if (!tracefs_root)
		tracefs_root = DAMON_EV_TRACEFS_DEFAULT;

	snprintf(path, sizeof(path), "%s/events/damon", tracefs_root);
	ret->have_tracefs = access(path, F_OK) == 0;
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		snprintf(path, sizeof(path), "%s/events/damon/%s/id", tracefs_root, tp_names[i]);
		ret->tracefs[i] = ret->have_tracefs && access(path, F_OK) == 0;
	}

	btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	if (!btf)
		return;
	ret->have_btf = true;
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		int a = damon_ev_btf_tp_arity(btf, tp_names[i]);

		ret->btf_arity[i] = a > 0 ? a : 0;
	}
	btf__free(btf);
}

int damon_ev_choose(const struct damon_ev_probe *p, enum damon_ev_mode mode, unsigned want,
		    enum damon_ev_variant ret[DAMON_EV_TYPE_MAX], char **ret_reason)
{
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX] = {};

	if (want == 0)
		want = DAMON_EV_WANT_ALL;
	if (!p || (unsigned)mode >= _DAMON_EV_MODE_MAX || (want & ~DAMON_EV_WANT_ALL) ||
	    !(want & DAMON_EV_WANT(DAMON_EV_AGGREGATED)))
		return -EINVAL;

	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		if (!(want & DAMON_EV_WANT(i)))
			continue;
		if (mode != DAMON_EV_MODE_BTF && p->tracefs[i])
			v[i] = DAMON_EV_VARIANT_TRACEPOINT;
		else if (mode != DAMON_EV_MODE_TRACEPOINT && p->have_btf) {
			if (p->btf_arity[i] == btf_arity_want[i])
				v[i] = DAMON_EV_VARIANT_BTF;
			else if (i == DAMON_EV_BEFORE_APPLY && p->btf_arity[i] == 7)
				v[i] = DAMON_EV_VARIANT_BTF7;
		}
	}

	if (v[DAMON_EV_AGGREGATED] == DAMON_EV_VARIANT_OFF) {
		if (mode == DAMON_EV_MODE_TRACEPOINT)
			set_reason(ret_reason, "tracefs has no damon/damon_aggregated event%s",
				   p->have_tracefs ? "" : " (tracefs not mounted or no DAMON events)");
		else if (!p->have_btf)
			set_reason(ret_reason, "no damon_aggregated tracefs event and no kernel BTF");
		else if (p->btf_arity[DAMON_EV_AGGREGATED] == 0)
			set_reason(ret_reason, "kernel has no damon_aggregated tracepoint");
		else
			set_reason(ret_reason, "unexpected damon_aggregated prototype (%d arguments)",
				   p->btf_arity[DAMON_EV_AGGREGATED]);
		return -EOPNOTSUPP;
	}

	memcpy(ret, v, sizeof(v));
	return 0;
}

static struct bpf_program *prog_of(struct damon_events *skel, unsigned type, enum damon_ev_variant v)
{
	switch (type) {
	case DAMON_EV_AGGREGATED:
		return v == DAMON_EV_VARIANT_TRACEPOINT ? skel->progs.tp_aggregated
		       : v == DAMON_EV_VARIANT_BTF	 ? skel->progs.btf_aggregated
							 : NULL;
	case DAMON_EV_BEFORE_APPLY:
		return v == DAMON_EV_VARIANT_TRACEPOINT ? skel->progs.tp_before_apply
		       : v == DAMON_EV_VARIANT_BTF	 ? skel->progs.btf_before_apply6
		       : v == DAMON_EV_VARIANT_BTF7	 ? skel->progs.btf_before_apply7
							 : NULL;
	case DAMON_EV_ESZ:
		return v == DAMON_EV_VARIANT_TRACEPOINT ? skel->progs.tp_esz
		       : v == DAMON_EV_VARIANT_BTF	 ? skel->progs.btf_esz
							 : NULL;
	case DAMON_EV_SCHEME_STAT:
		return v == DAMON_EV_VARIANT_TRACEPOINT ? skel->progs.tp_scheme_stat
		       : v == DAMON_EV_VARIANT_BTF	 ? skel->progs.btf_scheme_stat
							 : NULL;
	default:
		return NULL;
	}
}

static size_t ringbuf_size(size_t want)
{
	size_t sz = (size_t)sysconf(_SC_PAGESIZE);

	if (want == 0)
		want = DAMON_EV_RINGBUF_DEFAULT;
	while (sz < want && sz < ((size_t)1 << 30))
		sz <<= 1;
	return sz;
}

/* User space is woken when this much is in the ring, leaving headroom bytes
 * for what the kdamonds emit until it runs: at least an eighth of the ring
 * (many records of small policies, several CPUs at once), at most half. */
static size_t wake_bytes_for(size_t size, size_t headroom)
{
	if (headroom == 0 || headroom > size / 2)
		headroom = size / 2;
	if (headroom < size / 8)
		headroom = size / 8;
	return size - headroom;
}

/* One attempt with a fixed set of variants. */
static int try_load(const struct damon_ev_load_params *p, const enum damon_ev_variant v[DAMON_EV_TYPE_MAX],
		    struct damon_events **ret, char **ret_reason)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = p->btf_path);
	struct damon_events *skel;
	struct bpf_program *prog;
	int r;

	skel = damon_events__open_opts(&opts);
	if (!skel) {
		r = -errno;
		set_reason(ret_reason, "failed to open BPF object: %s", strerror(-r));
		return r;
	}

	skel->rodata->filter_pids = !p->no_pid_filter;
	skel->rodata->wake_bytes = wake_bytes_for(ringbuf_size(p->ringbuf_bytes), p->headroom_bytes);
	skel->rodata->wake_interval_ns = p->wake_interval_ns;
	r = bpf_map__set_max_entries(skel->maps.events, (__u32)ringbuf_size(p->ringbuf_bytes));
	if (r < 0) {
		set_reason(ret_reason, "failed to size the ring buffer: %s", strerror(-r));
		goto fail;
	}

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		prog = prog_of(skel, i, v[i]);
		if (prog)
			bpf_program__set_autoload(prog, true);
	}

	r = damon_events__load(skel);
	if (r < 0) {
		set_reason(ret_reason, "failed to load BPF programs: %s%s", strerror(-r),
			   r == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
		goto fail;
	}

	/* Attach one by one; the links end up in the skeleton, destroy detaches. */
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++) {
		struct bpf_link *link;

		prog = prog_of(skel, i, v[i]);
		if (!prog)
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			r = -errno;
			set_reason(ret_reason, "failed to attach %s (%s): %s", tp_names[i],
				   variant_names[v[i]], strerror(-r));
			goto fail;
		}
		switch (i) {
		case DAMON_EV_AGGREGATED:
			if (v[i] == DAMON_EV_VARIANT_TRACEPOINT)
				skel->links.tp_aggregated = link;
			else
				skel->links.btf_aggregated = link;
			break;
		case DAMON_EV_BEFORE_APPLY:
			if (v[i] == DAMON_EV_VARIANT_TRACEPOINT)
				skel->links.tp_before_apply = link;
			else if (v[i] == DAMON_EV_VARIANT_BTF)
				skel->links.btf_before_apply6 = link;
			else
				skel->links.btf_before_apply7 = link;
			break;
		case DAMON_EV_ESZ:
			if (v[i] == DAMON_EV_VARIANT_TRACEPOINT)
				skel->links.tp_esz = link;
			else
				skel->links.btf_esz = link;
			break;
		default:
			if (v[i] == DAMON_EV_VARIANT_TRACEPOINT)
				skel->links.tp_scheme_stat = link;
			else
				skel->links.btf_scheme_stat = link;
			break;
		}
	}

	*ret = skel;
	return 0;
fail:
	damon_events__destroy(skel);
	return r < 0 ? r : -EIO;
}

int damon_ev_bpf_open(const struct damon_ev_load_params *p, struct damon_ev_bpf **ret,
		      char **ret_reason)
{
	struct damon_ev_load_params defaults = {};
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX];
	struct damon_ev_probe probe;
	struct damon_events *skel = NULL;
	struct damon_ev_bpf *b;
	int r;

	if (!ret)
		return -EINVAL;
	if (!p)
		p = &defaults;

	damon_ev_probe(p->tracefs_root, p->btf_path, &probe);
	r = damon_ev_choose(&probe, p->mode, p->want, v, ret_reason);
	if (r < 0)
		return r;

	r = try_load(p, v, &skel, ret_reason);
	if (r < 0 && p->mode == DAMON_EV_MODE_AUTO && v[DAMON_EV_AGGREGATED] == DAMON_EV_VARIANT_TRACEPOINT &&
	    damon_ev_choose(&probe, DAMON_EV_MODE_BTF, p->want, v, NULL) >= 0) {
		char *first = ret_reason ? *ret_reason : NULL;

		if (ret_reason)
			*ret_reason = NULL;
		r = try_load(p, v, &skel, ret_reason);
		if (r < 0 && first)
			set_reason(ret_reason, "%s; tp_btf fallback: %s", first,
				   ret_reason && *ret_reason ? *ret_reason : "failed");
		free(first);
	}
	if (r < 0)
		return r;

	b = calloc(1, sizeof(*b));
	if (!b) {
		damon_events__destroy(skel);
		set_reason(ret_reason, "out of memory");
		return -ENOMEM;
	}
	b->skel = skel;
	memcpy(b->variant, v, sizeof(v));
	if (ret_reason) {
		free(*ret_reason);
		*ret_reason = NULL;
	}
	*ret = b;
	return 0;
}

struct damon_ev_bpf *damon_ev_bpf_free(struct damon_ev_bpf *b)
{
	if (!b)
		return NULL;
	damon_events__destroy(b->skel);
	free(b->pids);
	free(b);
	return NULL;
}

int damon_ev_bpf_ringbuf_fd(const struct damon_ev_bpf *b)
{
	return b ? bpf_map__fd(b->skel->maps.events) : -EINVAL;
}

size_t damon_ev_bpf_ringbuf_bytes(const struct damon_ev_bpf *b)
{
	return b ? bpf_map__max_entries(b->skel->maps.events) : 0;
}

size_t damon_ev_bpf_wake_bytes(const struct damon_ev_bpf *b)
{
	return b ? (size_t)b->skel->rodata->wake_bytes : 0;
}

int damon_ev_bpf_set_aggr_gate(struct damon_ev_bpf *b, uint64_t gate_ns)
{
	if (!b || !b->skel->bss)
		return -EINVAL;
	/* one aligned 8-byte store: the BPF side reads the old or the new value */
	__atomic_store_n(&b->skel->bss->aggr_gate_ns, gate_ns, __ATOMIC_RELAXED);
	return 0;
}

uint64_t damon_ev_bpf_aggr_gate(const struct damon_ev_bpf *b)
{
	return b && b->skel->bss ? __atomic_load_n(&b->skel->bss->aggr_gate_ns, __ATOMIC_RELAXED) : 0;
}

enum damon_ev_variant damon_ev_bpf_variant(const struct damon_ev_bpf *b, unsigned type)
{
	if (!b || type >= DAMON_EV_TYPE_MAX)
		return DAMON_EV_VARIANT_OFF;
	return b->variant[type];
}

static bool pid_in(const int *pids, size_t n, int pid, size_t *ret_idx)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid) {
			if (ret_idx)
				*ret_idx = i;
			return true;
		}
	return false;
}

int damon_ev_bpf_set_pids(struct damon_ev_bpf *b, const int *pids, size_t n)
{
	int fd, r = 0;
	int *copy = NULL;

	if (!b || (n > 0 && !pids))
		return -EINVAL;
	if (n > DAMON_EV_MAX_PIDS)
		return -E2BIG;
	fd = bpf_map__fd(b->skel->maps.pids);

	if (n > 0) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, pids, n * sizeof(*copy));
	}

	/* Drop pids that are gone. */
	for (size_t i = 0; i < b->n_pids; i++) {
		__u32 key = (__u32)b->pids[i];

		if (b->pids[i] <= 0 || pid_in(pids, n, b->pids[i], NULL))
			continue;
		if (bpf_map_delete_elem(fd, &key) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}

	/* Add new ones; a pid that stays at the same index keeps its state. */
	for (size_t i = 0; i < n; i++) {
		struct damon_ev_pid_state st = { .cookie = (__u32)i };
		__u32 key = (__u32)pids[i];
		size_t old;

		if (pids[i] <= 0)
			continue;
		if (pid_in(b->pids, b->n_pids, pids[i], &old) && old == i)
			continue;
		if (bpf_map_update_elem(fd, &key, &st, BPF_ANY) < 0 && r == 0)
			r = -errno;
	}

	free(b->pids);
	b->pids = copy;
	b->n_pids = n;
	return r;
}

int damon_ev_bpf_read_counters(const struct damon_ev_bpf *b, struct damon_ev_counters *ret)
{
	struct damon_ev_counters *percpu;
	__u32 key = 0;
	int ncpus, fd;

	if (!b || !ret)
		return -EINVAL;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EIO;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	fd = bpf_map__fd(b->skel->maps.counters);
	if (bpf_map_lookup_elem(fd, &key, percpu) < 0) {
		int r = -errno;

		free(percpu);
		return r;
	}
	*ret = (struct damon_ev_counters){};
	for (int c = 0; c < ncpus; c++)
		for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++) {
			ret->events[i] += percpu[c].events[i];
			ret->drops[i] += percpu[c].drops[i];
		}
	for (int c = 0; c < ncpus; c++) {
		ret->aggr_skipped += percpu[c].aggr_skipped;
		ret->aggr_skipped_regions += percpu[c].aggr_skipped_regions;
	}
	free(percpu);
	return 0;
}
