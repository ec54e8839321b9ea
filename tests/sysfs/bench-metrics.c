/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-metrics [ITERATIONS] [DIR]: where a metrics tick's time goes, on the
 * host. The manager in process over the fake kernel (tests/fake), with
 * bench/bpf's policy (one paddr kdamond, 20,000 one-page ranges, no scheme,
 * the textfile on) and a 20,000-region snapshot fed to its store as the BPF
 * monitor would. Times, per call (best, median and p90 of ITERATIONS, default
 * 2000): the metrics' view from damond's state, its rendering, the textfile's
 * write and rename, DAMON_STAT's computation (50 distinct ages in turn, and all
 * regions of one age), the whole manager_metrics_tick(),
 * and the full status document with its metrics for comparison.
 * DIR (default /dev/shm, a tmpfs like the guests' /run) holds the fake sysfs
 * root and the textfile. Not a test: build-vm (release) builds it, run it
 * by hand: build-vm/tests/sysfs/bench-metrics.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <syslog.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "../common/config-load.h"
#include "damon-stat.h"
#include "fake-damon.h"
#include "log.h"
#include "manager-internal.h"
#include "metrics.h"

#define NR_REGIONS 20000U
#define BASE 0x100000000ULL

static uint64_t ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%-44s best %8.1f us  median %8.1f us  p90 %8.1f us\n", what, v[0] / 1e3, v[n / 2] / 1e3,
	       v[n * 9 / 10] / 1e3);
}

/* one aggregation of the target: NR_REGIONS one-page regions, one page apart, as bench/bpf's */
static void feed_aggregation(struct manager *m, int pid, uint32_t seq)
{
	static struct damon_ev_aggregated rec;

	for (uint32_t idx = 0; idx < NR_REGIONS; idx += DAMON_EV_AGGR_BATCH) {
		uint32_t count = MIN(DAMON_EV_AGGR_BATCH, NR_REGIONS - idx);

		memset(&rec, 0, sizeof(rec));
		rec.hdr.version = DAMON_EV_VERSION;
		rec.hdr.type = DAMON_EV_AGGREGATED;
		rec.hdr.pid = (uint32_t)pid;
		rec.hdr.ts_ns = ns();
		rec.target_idx = 0;
		rec.nr_regions = NR_REGIONS;
		rec.region_idx = idx;
		rec.aggr_seq = seq;
		rec.count = count;
		for (uint32_t i = 0; i < count; i++) {
			uint64_t r = idx + i;

			rec.regions[i].start = BASE + r * 8192;
			rec.regions[i].end = BASE + r * 8192 + 4096;
			rec.regions[i].nr_accesses = r % 7 == 0 ? 1 : 0;
			rec.regions[i].age = (uint32_t)(r % 50);
		}
		if (snapshot_store_feed(m->snapshots, &rec, DAMON_EV_AGGR_HDR_SIZE + count * sizeof(rec.regions[0]),
					ns()) < 0)
			abort();
	}
	snapshot_store_flush(m->snapshots, ns());
}

int main(int argc, char **argv)
{
	size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	const char *dir = argc > 2 ? argv[2] : "/dev/shm";
	char root[256], run[300], prom[300];
	struct manager *m = NULL;
	FILE *f;
	char *text = NULL;
	size_t len = 0, tlen;
	uint64_t *t[10];
	const struct damon_snapshot *snap;
	struct damon_stat_result res;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		t[i] = calloc(iters, sizeof(uint64_t));
	snprintf(root, sizeof(root), "%s/damond-bench-metrics-XXXXXX", dir);
	if (!mkdtemp(root))
		return 1;
	if (fake_damon_init(root, "7.2") < 0)
		return 1;
	fake_damon_set_module(root, "damon_stat", false);
	snprintf(run, sizeof(run), "%s/.run", root);
	mkdir(run, 0755);
	snprintf(prom, sizeof(prom), "%s/damond.prom", root);
	f = open_memstream(&text, &len);
	fprintf(f,
		"damond:\n  stats_interval: 1s\n  metrics: {textfile: %s}\n"
		"kdamonds:\n  - name: bench\n    ops: paddr\n"
		"    intervals: {sample: 70ms, aggr: 100ms, update: 1s}\n"
		"    nr_regions: {min: 10, max: %u}\n    targets:\n      - regions:\n",
		prom, NR_REGIONS);
	for (uint64_t i = 0; i < NR_REGIONS; i++)
		fprintf(f, "          - {start: %llu, end: %llu}\n", (unsigned long long)(BASE + i * 8192),
			(unsigned long long)(BASE + i * 8192 + 4096));
	fclose(f);

	log_set_max_level(LOG_WARNING);
	if (manager_new(&m) < 0 || sd_event_new(&m->event) < 0 || sysfs_root_open(root, &m->root) < 0)
		return 1;
	sysfs_root_set_write_hook(m->root, fake_damon_hook, root);
	m->sysfs_path = strdup(root);
	m->runtime_dir = strdup(run);
	m->procfs_root = strdup("/proc");
	if (snapshot_store_new(NULL, &m->snapshots) < 0)
		return 1;
	if (manager_start(m, test_config_load(text)) < 0 || m->nr_kd != 1 || !m->kd[0].running)
		return 1;
	free(text);
	if (snapshot_store_set_pid(m->snapshots, m->kd[0].index, m->kd[0].pid) < 0)
		return 1;
	feed_aggregation(m, m->kd[0].pid, 1);
	snap = snapshot_store_get(m->snapshots, m->kd[0].index, 0);
	if (!snap || snap->nr_regions != NR_REGIONS) {
		fprintf(stderr, "no snapshot of %u regions\n", NR_REGIONS);
		return 1;
	}

	/* warm up, and the text the rest renders */
	manager_metrics_tick(m);
	if (manager_metrics_text(m, &text, &tlen) < 0)
		return 1;
	printf("%u regions, %zu bytes of exposition text, %zu iterations\n", NR_REGIONS, tlen, iters);

	for (size_t i = 0; i < iters; i++) {
		struct json_object *hold = NULL;
		struct metrics_view v;
		char *s = NULL;
		size_t l;
		uint64_t a, b, c, d, e;

		a = ns();
		if (manager_metrics_view(m, &v, &hold) < 0)
			return 1;
		b = ns();
		if (metrics_render_view_string(&v, &s, &l) < 0)
			return 1;
		c = ns();
		if (metrics_write_textfile(prom, s, l) < 0)
			return 1;
		d = ns();
		metrics_view_done(&v);
		json_object_put(hold);
		free(s);
		e = ns();
		t[0][i] = b - a;
		t[1][i] = c - b;
		t[2][i] = d - c;
		t[3][i] = e - d;
		t[4][i] = e - a;
	}
	/* what the status document costs (damondctl status, or the metrics before the view) */
	for (size_t i = 0; i < iters; i++) {
		struct json_object *st = NULL;
		char *s = NULL;
		uint64_t a = ns();

		if (manager_status_json(m, &st) < 0 || metrics_render_string(st, &s, NULL) < 0)
			return 1;
		json_object_put(st);
		free(s);
		t[8][i] = ns() - a;
	}
	for (size_t i = 0; i < iters; i++) {
		uint64_t a = ns();

		if (damon_stat_compute(&snap, 1, 1, 100000, &res) < 0)
			return 1;
		t[5][i] = ns() - a;
	}
	/* the same regions all of one age, as untouched memory (runs of equal idle time) */
	{
		struct snapshot_region *regs = calloc(NR_REGIONS, sizeof(*regs));
		struct damon_snapshot flat = *snap;
		const struct damon_snapshot *fp = &flat;

		for (size_t i = 0; i < NR_REGIONS; i++)
			regs[i] = (struct snapshot_region){ snap->regions[i].start, snap->regions[i].end, 0, 42 };
		flat.regions = regs;
		for (size_t i = 0; i < iters; i++) {
			uint64_t a = ns();

			if (damon_stat_compute(&fp, 1, 1, 100000, &res) < 0)
				return 1;
			t[9][i] = ns() - a;
		}
		free(regs);
	}
	for (size_t i = 0; i < iters; i++) {
		uint64_t a = ns();

		manager_metrics_tick(m);
		t[6][i] = ns() - a;
	}
	for (size_t i = 0; i < iters; i++) {
		uint64_t a = ns();
		char *s = NULL;

		if (manager_metrics_text(m, &s, NULL) < 0)
			return 1;
		free(s);
		t[7][i] = ns() - a;
	}
	report("the view from damond's state", t[0], iters);
	report("rendering (metrics_render_view_string)", t[1], iters);
	report("textfile write + rename", t[2], iters);
	report("freeing the view and the text", t[3], iters);
	report("sum of the four", t[4], iters);
	report("DAMON_STAT computation (every 5 s)", t[5], iters);
	report("DAMON_STAT, all regions of one age", t[9], iters);
	report("manager_metrics_tick() (text + file)", t[6], iters);
	report("manager_metrics_text() (text only)", t[7], iters);
	report("full status document + its metrics", t[8], iters);

	manager_free(m);
	fake_damon_destroy(root);
	free(text);
	return 0;
}
