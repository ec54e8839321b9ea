/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpf-smoke: loads damon-events.bpf.c the way damond does (same probing and
 * variant choice), filters on one kdamond pid and prints once per second
 *
 *   bpf-smoke: events=N drops=D aggregated=A before_apply=B esz=E scheme_stat=S snapshots=P incomplete=I nr_regions=R
 *
 * (N, D, A, B, E, S, P: per second; I: total; R: regions in the last snapshot
 * of target 0), then `bpf-smoke-total: ...` at the end. Run it inside a QEMU
 * guest only, never on a development host: it attaches to the kernel's DAMON
 * tracepoints.
 *
 * usage: bpf-smoke PID [SECONDS [auto|tracepoint|tp_btf]]
 *   PID 0: no pid filter (every kdamond; snapshots are not assembled)
 * exit: 0 ok, 1 error, 2 usage, 77 BPF unavailable (load/attach refused)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "damon-events-load.h"
#include "lib/snapshot.h"

static volatile sig_atomic_t stop;

struct smoke {
	struct snapshot_store *store;
	unsigned long long received[DAMON_EV_TYPE_MAX];
	unsigned long long total;
};

static void on_signal(int sig)
{
	stop = 1;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct smoke *sm = ctx;
	unsigned n, type = 0;

	n = damon_event_record_events(data, size, &type);
	if (n > 0 && type < DAMON_EV_TYPE_MAX)
		sm->received[type] += n;
	sm->total += n;
	if (sm->store)
		(void)snapshot_store_feed(sm->store, data, size, now_ns());
	return 0;
}

static unsigned long long sum_drops(const struct damon_ev_counters *c)
{
	unsigned long long d = 0;

	for (unsigned i = 0; i < DAMON_EV_TYPE_MAX; i++)
		d += c->drops[i];
	return d;
}

int main(int argc, char **argv)
{
	struct damon_ev_load_params lp = {};
	struct damon_ev_bpf *b = NULL;
	struct ring_buffer *rb = NULL;
	struct smoke sm = {};
	struct damon_ev_counters c = {};
	unsigned long long last[DAMON_EV_TYPE_MAX] = {}, last_total = 0, last_drops = 0, last_pub = 0;
	unsigned long long start, tick;
	struct snapshot_store_stats st;
	char *reason = NULL;
	int pid, seconds = 10, r, ret = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s PID [SECONDS [auto|tracepoint|tp_btf]]\n", argv[0]);
		return 2;
	}
	pid = atoi(argv[1]);
	if (argc >= 3)
		seconds = atoi(argv[2]);
	if (argc >= 4) {
		if (strcmp(argv[3], "tracepoint") == 0)
			lp.mode = DAMON_EV_MODE_TRACEPOINT;
		else if (strcmp(argv[3], "tp_btf") == 0)
			lp.mode = DAMON_EV_MODE_BTF;
		else if (strcmp(argv[3], "auto") != 0) {
			fprintf(stderr, "bpf-smoke: unknown mode '%s'\n", argv[3]);
			return 2;
		}
	}
	lp.no_pid_filter = pid <= 0;
	lp.want = DAMON_EV_WANT_ALL; /* damos_before_apply too, which damond leaves out */

	r = damon_ev_bpf_open(&lp, &b, &reason);
	if (r < 0) {
		printf("bpf-smoke: unavailable: %s (%s)\n", reason ? reason : "unknown", strerror(-r));
		free(reason);
		return 77;
	}
	printf("bpf-smoke: variants");
	for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++)
		printf(" %s=%s", damon_event_type_to_string(i),
		       damon_ev_variant_to_string(damon_ev_bpf_variant(b, i)));
	printf(" pid=%d mode=%s\n", pid, damon_ev_mode_to_string(lp.mode));

	if (pid > 0) {
		r = damon_ev_bpf_set_pids(b, &pid, 1);
		if (r < 0) {
			fprintf(stderr, "bpf-smoke: failed to set the pid filter: %s\n", strerror(-r));
			goto out;
		}
		if (snapshot_store_new(NULL, &sm.store) < 0 || snapshot_store_set_pid(sm.store, 0, pid) < 0) {
			fprintf(stderr, "bpf-smoke: out of memory\n");
			goto out;
		}
	}

	rb = ring_buffer__new(damon_ev_bpf_ringbuf_fd(b), on_record, &sm, NULL);
	if (!rb) {
		fprintf(stderr, "bpf-smoke: ring_buffer__new: %s\n", strerror(errno));
		goto out;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	start = tick = now_ns();
	for (int s = 0; s < seconds && !stop;) {
		const struct damon_snapshot *snap;
		unsigned long long drops;

		r = ring_buffer__poll(rb, 100);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "bpf-smoke: ring_buffer__poll: %s\n", strerror(-r));
			goto out;
		}
		if (now_ns() - tick < 1000000000ULL)
			continue;
		tick += 1000000000ULL;
		s++;

		if (sm.store)
			snapshot_store_flush(sm.store, now_ns());
		(void)damon_ev_bpf_read_counters(b, &c);
		drops = sum_drops(&c);
		snapshot_store_get_stats(sm.store, &st);
		snap = snapshot_store_get(sm.store, 0, 0);
		printf("bpf-smoke: events=%llu drops=%llu", sm.total - last_total, drops - last_drops);
		for (unsigned i = 1; i < DAMON_EV_TYPE_MAX; i++)
			printf(" %s=%llu", damon_event_type_to_string(i), sm.received[i] - last[i]);
		printf(" snapshots=%llu incomplete=%llu nr_regions=%zu\n",
		       (unsigned long long)st.snapshots_published - last_pub,
		       (unsigned long long)st.snapshots_incomplete, snap ? snap->nr_regions : (size_t)0);
		fflush(stdout);
		memcpy(last, sm.received, sizeof(last));
		last_total = sm.total;
		last_drops = drops;
		last_pub = st.snapshots_published;
	}

	(void)damon_ev_bpf_read_counters(b, &c);
	snapshot_store_get_stats(sm.store, &st);
	printf("bpf-smoke-total: seconds=%.1f events=%llu drops=%llu kernel_events=%llu snapshots=%llu "
	       "incomplete=%llu apply_records=%llu unknown_pid=%llu bad=%llu\n",
	       (double)(now_ns() - start) / 1e9, sm.total, sum_drops(&c),
	       (unsigned long long)(c.events[1] + c.events[2] + c.events[3] + c.events[4]),
	       (unsigned long long)st.snapshots_published, (unsigned long long)st.snapshots_incomplete,
	       (unsigned long long)st.apply_published, (unsigned long long)st.unknown_pid,
	       (unsigned long long)st.bad_records);
	ret = 0;
out:
	ring_buffer__free(rb);
	snapshot_store_free(sm.store);
	damon_ev_bpf_free(b);
	return ret;
}
