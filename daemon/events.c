/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BPF ring buffer in the sd-event loop (see events.h). */
#include "events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "macro.h"
#include "ringbuf.h"

#define RATE_WINDOW_NS (1000ULL * 1000ULL * 1000ULL)

struct events {
	struct damon_ev_bpf *bpf;
	struct ringbuf *rb;
	sd_event_source *io;
	struct snapshot_store *store;
	events_record_cb on_record;
	void *userdata;
	size_t n_pids;		/* kdamond indices last given to the store */
	uint64_t drain_start_ns;	/* CLOCK_MONOTONIC when the current drain started */
	uint64_t drains;
	uint64_t drain_ns;	/* time spent draining */

	uint64_t received[DAMON_EV_TYPE_MAX];
	uint64_t bad_records;
	uint64_t window_start_ns;
	uint64_t window_base[DAMON_EV_TYPE_MAX];
	double rate[DAMON_EV_TYPE_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t l;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	l = strlen(buf);
	if (l > 0 && buf[l - 1] == '\n')
		buf[l - 1] = 0;
	log_debug("libbpf: %s", buf);
	return 0;
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct events *ev = ctx;
	unsigned n, type = 0;
	int r;

	n = damon_event_record_events(data, size, &type);
	if (n > 0 && type < DAMON_EV_TYPE_MAX)
		ev->received[type] += n;
	if (ev->on_record)
		ev->on_record(ev->userdata, data, size);
	if (ev->store) {
		/* one clock read per drain, not per record */
		r = snapshot_store_feed(ev->store, data, size, ev->drain_start_ns);
		if (r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP)
			ev->bad_records++;
	}
	return 0;
}

static int on_peek(void *ctx, const void *data, size_t size)
{
	struct events *ev = ctx;

	(void)snapshot_store_lookahead(ev->store, data, size);
	return 0;
}

static void roll_window(struct events *ev, uint64_t now)
{
	uint64_t dt;

	if (ev->window_start_ns == 0) {
		ev->window_start_ns = now;
		memcpy(ev->window_base, ev->received, sizeof(ev->received));
		return;
	}
	dt = now - ev->window_start_ns;
	if (dt < RATE_WINDOW_NS)
		return;
	for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++)
		ev->rate[i] = (double)(ev->received[i] - ev->window_base[i]) * 1e9 / (double)dt;
	ev->window_start_ns = now;
	memcpy(ev->window_base, ev->received, sizeof(ev->received));
}

int events_drain(struct events *ev)
{
	uint64_t now;
	long n;

	if (!ev)
		return -EINVAL;
	/* Wall time, not thread CPU time: CLOCK_MONOTONIC is read in the vDSO,
	 * CLOCK_THREAD_CPUTIME_ID is a system call, two per drain, and under
	 * emulation those were a visible part of each wakeup's cost. A drain
	 * never blocks, so the two differ only by preemption. */
	ev->drain_start_ns = now_ns();
	/* show the store what is coming, so that it assembles only the newest
	 * complete aggregation of each target (lib/snapshot.h, lookahead) */
	if (ev->store)
		(void)ringbuf_peek(ev->rb, on_peek, ev);
	n = ringbuf_consume(ev->rb, on_record, ev);
	now = now_ns();
	if (ev->store)
		snapshot_store_flush(ev->store, now);
	roll_window(ev, now);
	ev->drains++;
	ev->drain_ns += now_ns() - ev->drain_start_ns;
	return n < 0 ? (int)n : 0;
}

static int on_ringbuf_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct events *ev = userdata;
	int r;

	r = events_drain(ev);
	if (r < 0)
		log_debug_errno(r, "Failed to consume the BPF ring buffer: %m, ignoring");
	return 0;
}

int events_new(sd_event *e, const struct events_params *p, struct events **ret, char **ret_reason)
{
	struct damon_ev_load_params lp = {};
	struct events *ev;
	int r;

	if (!e || !p || !ret)
		return -EINVAL;

	libbpf_set_print(libbpf_log);

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->store = p->store;
	ev->on_record = p->on_record;
	ev->userdata = p->userdata;

	lp.tracefs_root = p->tracefs_root;
	lp.btf_path = p->btf_path;
	lp.mode = p->mode;
	lp.want = p->want;
	lp.ringbuf_bytes = p->ringbuf_bytes;
	lp.headroom_bytes = p->headroom_bytes;
	lp.wake_interval_ns = p->wake_interval_ns;
	r = damon_ev_bpf_open(&lp, &ev->bpf, ret_reason);
	if (r < 0)
		goto fail;

	/* one mapping of the data area (libbpf's ring_buffer maps it twice) */
	r = ringbuf_open(damon_ev_bpf_ringbuf_fd(ev->bpf), damon_ev_bpf_ringbuf_bytes(ev->bpf), &ev->rb);
	if (r < 0) {
		if (ret_reason && asprintf(ret_reason, "failed to map the ring buffer: %s", strerror(-r)) < 0)
			*ret_reason = NULL;
		goto fail;
	}

	/*
	 * Edge-triggered: the ring is readable as long as one record is in it,
	 * and while a kdamond emits a burst records arrive continuously, so a
	 * level-triggered consumer wakes and drains one record at a time for the
	 * whole burst (measured: 2,000-3,500 drains per 20 s, each wakeup the
	 * expensive part). With EPOLLET damond runs only when the BPF side wakes
	 * it (end of a burst, half a ring) and then drains everything.
	 */
	r = sd_event_add_io(e, &ev->io, damon_ev_bpf_ringbuf_fd(ev->bpf), EPOLLIN | EPOLLET, on_ringbuf_io, ev);
	if (r < 0) {
		if (ret_reason && asprintf(ret_reason, "failed to add the ring buffer to the event loop: %s",
					   strerror(-r)) < 0)
			*ret_reason = NULL;
		goto fail;
	}
	(void)sd_event_source_set_description(ev->io, "bpf-ringbuf");

	*ret = ev;
	return 0;
fail:
	events_free(ev);
	return r < 0 ? r : -EIO;
}

struct events *events_free(struct events *ev)
{
	if (!ev)
		return NULL;
	sd_event_source_disable_unref(ev->io);
	ringbuf_free(ev->rb);
	damon_ev_bpf_free(ev->bpf);
	free(ev);
	return NULL;
}

int events_set_pids(struct events *ev, const int *pids, size_t n)
{
	int r, k;

	if (!ev || (n > 0 && !pids))
		return -EINVAL;

	/* Attribute what is already queued to the old mapping. */
	(void)events_drain(ev);

	r = damon_ev_bpf_set_pids(ev->bpf, pids, n);
	if (ev->store) {
		for (size_t i = 0; i < MAX(n, ev->n_pids); i++) {
			k = snapshot_store_set_pid(ev->store, (unsigned)i, i < n ? pids[i] : 0);
			if (k < 0 && r >= 0)
				r = k;
		}
		ev->n_pids = n;
	}
	return r;
}

int events_set_aggr_gate(struct events *ev, uint64_t gate_ns)
{
	return ev ? damon_ev_bpf_set_aggr_gate(ev->bpf, gate_ns) : -EINVAL;
}

size_t events_ringbuf_bytes(const struct events *ev)
{
	return ev ? damon_ev_bpf_ringbuf_bytes(ev->bpf) : 0;
}

size_t events_wake_bytes(const struct events *ev)
{
	return ev ? damon_ev_bpf_wake_bytes(ev->bpf) : 0;
}

size_t events_mapped_bytes(const struct events *ev)
{
	return ev ? ringbuf_mapped_bytes(ev->rb) : 0;
}

void events_get_stats(const struct events *ev, struct events_stats *ret)
{
	struct damon_ev_counters c;
	uint64_t now, dt;

	*ret = (struct events_stats){};
	if (!ev)
		return;
	for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++)
		ret->variant[i] = damon_ev_bpf_variant(ev->bpf, i);
	memcpy(ret->received, ev->received, sizeof(ret->received));
	memcpy(ret->rate, ev->rate, sizeof(ret->rate));
	ret->bad_records = ev->bad_records;
	ret->drains = ev->drains;
	ret->drain_ns = ev->drain_ns;

	/* No records for a while: the open window says more than the last one. */
	now = now_ns();
	dt = ev->window_start_ns ? now - ev->window_start_ns : 0;
	if (dt >= 2 * RATE_WINDOW_NS)
		for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++)
			ret->rate[i] = (double)(ev->received[i] - ev->window_base[i]) * 1e9 / (double)dt;

	if (damon_ev_bpf_read_counters(ev->bpf, &c) >= 0) {
		ret->have_kernel_counters = true;
		memcpy(ret->kernel_events, c.events, sizeof(c.events));
		memcpy(ret->drops, c.drops, sizeof(c.drops));
		for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++)
			ret->drops_total += c.drops[i];
		ret->aggr_skipped = c.aggr_skipped;
		ret->aggr_skipped_regions = c.aggr_skipped_regions;
	}
	ret->aggr_gate_ns = damon_ev_bpf_aggr_gate(ev->bpf);
}

int events_describe(const struct events *ev, char **ret)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f;

	if (!ev || !ret)
		return -EINVAL;
	f = open_memstream(&s, &n);
	if (!f)
		return -ENOMEM;
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++)
		fprintf(f, "%s%s=%s", i > 1 ? " " : "", damon_event_type_to_string(i),
			damon_ev_variant_to_string(damon_ev_bpf_variant(ev->bpf, i)));
	if (fclose(f) != 0) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}
