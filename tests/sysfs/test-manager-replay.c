/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager in process, fed by a replay event source (lib/replay.h) in
 * place of the BPF monitor, over the fake kernel (tests/fake) with an
 * injected clock: refinement commits driven by region snapshots, stats from
 * damos_stat events, charge + refine arbitration on one kdamond, commit
 * failure fed back to the controller, a kdamond that dies on a commit, and
 * the reload diff rules. The recording is tests/fixtures/events/two-targets.rec
 * (generated: tests/fixtures/events/README.md).
 */
#include <dirent.h>
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

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "../common/config-load.h"
#include "fake-damon.h"
#include "log.h"
#include "manager-internal.h"
#include "metrics.h"
#include "replay.h"
#include "stats-worker.h"

#ifndef FIXTURES_DIR
#error FIXTURES_DIR
#endif
#define RECORDING FIXTURES_DIR "/events/two-targets.rec"
#define SEC 1000000ULL

static usec_t clock_now;
static usec_t fake_clock(void)
{
	return clock_now;
}

#define CFG_HEAD                                                     \
	"damond:\n"                                                  \
	"  stats_interval: 1s\n"                                     \
	"kdamonds:\n"                                                \
	"  - name: k\n"                                              \
	"    ops: paddr\n"                                           \
	"    intervals: {sample: 5ms, aggr: 100ms}\n"                \
	"    nr_regions: {min: 10, max: 20}\n"                       \
	"    refine: {enabled: true, interval: 2s, max_splits: 4}\n" \
	"    targets:\n"                                             \
	"      - regions:\n"                                         \
	"          - {start: 0x100000, end: 0x20000000}\n"           \
	"          - {start: 0x40000000, end: 0x60000000}\n"         \
	"    schemes:\n"                                             \
	"      - name: cold\n"                                       \
	"        action: pageout\n"                                  \
	"        access_pattern:\n"                                  \
	"          nr_accesses: {min: 0, max: 0}\n"                  \
	"        quotas:\n"                                          \
	"          bytes: %s\n"                                      \
	"          reset_interval: 1s\n"                             \
	"%s"                                                         \
	"      - name: watch\n"                                      \
	"        action: stat\n"                                     \
	"        quotas: {bytes: 16M, reset_interval: 1s}\n"

struct fx {
	char root[64];
	char run[80];
	char cfg[96];
	struct manager *m;
};

static char logged[262144];
static bool walk_kpageflags_pending; /* start_text(): write a fake /proc/kpageflags (the fault walk) */
static bool numa_pending;            /* start_text(): two NUMA nodes of 1 GiB each in the fake sysfs */
static bool lru_kpageflags_pending;  /* start_text(): a fake /proc/kpageflags of 2 GiB of LRU pages */
static void write_lru_kpageflags(const char *root, uint64_t free_from);
static void write_walk_kpageflags(const char *root);

/* node 0: [0, 1 GiB), node 1: [1 GiB, 2 GiB), 128 MiB memory blocks, all online (no iomem: no holes) */
static void write_two_nodes(const char *root)
{
	char path[256];
	FILE *f;

	static const char *const dirs[] = { "devices",
					    "devices/system",
					    "devices/system/node",
					    "devices/system/node/node0",
					    "devices/system/node/node1",
					    "devices/system/memory" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
	}
	for (unsigned b = 0; b < 16; b++) {
		snprintf(path, sizeof(path), "%s/devices/system/node/node%u/memory%u", root, b / 8, b);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/devices/system/memory/memory%u", root, b);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/devices/system/memory/memory%u/state", root, b);
		f = fopen(path, "we");
		assert_non_null(f);
		fputs("online\n", f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/devices/system/memory/block_size_bytes", root);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("8000000\n", f);
	fclose(f);
}

static void log_cb(void *userdata, int level, const char *msg)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void write_config(struct fx *x, const char *quota, const char *extra)
{
	FILE *f = fopen(x->cfg, "we");

	assert_non_null(f);
	fprintf(f, CFG_HEAD, quota, extra);
	fclose(f);
}

/* a started manager on the fake kernel of profile, configured by text, its store fed by recording from now */
static struct fx *start_text(const char *profile, const char *text, const char *recording)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct manager *m;
	FILE *f;

	assert_non_null(x);
	strcpy(x->root, "/tmp/damond-replay-XXXXXX");
	assert_non_null(mkdtemp(x->root));
	assert_int_equal(fake_damon_init(x->root, profile), 0);
	fake_damon_set_module(x->root, "damon_stat", false);
	snprintf(x->run, sizeof(x->run), "%s/.run", x->root);
	assert_int_equal(mkdir(x->run, 0755), 0);
	snprintf(x->cfg, sizeof(x->cfg), "%s/.damond.yaml", x->root);
	f = fopen(x->cfg, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	clock_now = 1000 * SEC;
	manager_set_clock(fake_clock);
	logged[0] = '\0';
	log_set_callback(log_cb, NULL);

	assert_int_equal(manager_new(&x->m), 0);
	m = x->m;
	assert_int_equal(sd_event_new(&m->event), 0);
	assert_int_equal(sysfs_root_open(x->root, &m->root), 0);
	sysfs_root_set_write_hook(m->root, fake_damon_hook, x->root);
	m->sysfs_path = strdup(x->root);
	m->runtime_dir = strdup(x->run);
	m->procfs_root = strdup(x->root); /* no kpageflags: the charge emulation runs its fallback law */
	if (walk_kpageflags_pending)
		write_walk_kpageflags(x->root);
	if (numa_pending)
		write_two_nodes(x->root);
	if (lru_kpageflags_pending)
		write_lru_kpageflags(x->root, UINT64_MAX);
	m->config_path = strdup(x->cfg);
	assert_int_equal(snapshot_store_new(NULL, &m->snapshots), 0);
	assert_int_equal(manager_start(m, test_config_load(text)), 0);
	assert_int_equal(m->nr_kd, 1);
	assert_true(m->kd[0].running);
	assert_int_equal(manager_replay_start(m, recording), 0);
	assert_true(manager_event_feed(m));
	return x;
}

/* a started manager on the fake kernel of profile, its store fed by the generated recording from now */
static struct fx *start_on(const char *profile, const char *quota, const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text), CFG_HEAD, quota, extra);
	return start_text(profile, text, RECORDING);
}

static struct fx *start(const char *quota, const char *extra)
{
	return start_on("7.2", quota, extra);
}

static void stop(struct fx *x)
{
	sd_event *e = x->m->event;

	manager_free(x->m);
	sd_event_unref(e);
	log_set_callback(NULL, NULL);
	manager_set_clock(NULL);
	fake_damon_destroy(x->root);
	free(x);
}

static void tick_to(struct manager *m, usec_t at)
{
	clock_now = at;
	manager_tick(m);
}

static unsigned committed_regions(struct fx *x, unsigned target)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), "targets/%u/regions/nr_regions", target);
	assert_int_equal(fake_damon_read_committed(x->root, 0, path, buf, sizeof(buf)), 0);
	return (unsigned)strtoul(buf, NULL, 10);
}

static const struct ctrl_refine_state *refine_state(const struct kdamond_rt *kd)
{
	for (size_t i = 0; i < ctrl_registry_len; i++)
		if (ctrl_registry[i] == &ctrl_refine_ops)
			return kd->ctrl[i];
	fail();
	return NULL;
}

/* the writer (damond --record-events) writes what the reader reads: the fixture re-written frame
 * by frame is byte-identical; a size limit stops it with -EFBIG and leaves a valid recording */
static void test_replay_writer(void **state)
{
	char out[] = "/tmp/damond-replay-writer-XXXXXX";
	unsigned char *in = NULL, *got = NULL;
	size_t in_len = 0, got_len = 0, off = 16, n = 0;
	struct replay_writer *w = NULL;
	struct replay *r = NULL;
	FILE *f;
	int fd = mkstemp(out);

	assert_true(fd >= 0);
	close(fd);
	f = fopen(RECORDING, "re");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	in_len = (size_t)ftell(f);
	rewind(f);
	in = malloc(in_len);
	assert_int_equal(fread(in, 1, in_len, f), in_len);
	fclose(f);

	assert_int_equal(replay_writer_open(out, 0, &w), 0);
	while (off < in_len) {
		uint32_t len = in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (uint32_t)in[off + 3] << 24;
		uint32_t kd = in[off + 4] | in[off + 5] << 8 | in[off + 6] << 16 | (uint32_t)in[off + 7] << 24;

		assert_int_equal(replay_writer_add(w, kd, in + off + 8, len), 0);
		off += 8 + ((len + 7) & ~7u);
		n++;
	}
	assert_int_equal(replay_writer_frames(w), n);
	assert_int_equal(replay_writer_bytes(w), in_len - 16);
	assert_int_equal(replay_writer_close(w), 0);
	f = fopen(out, "re");
	assert_non_null(f);
	got = malloc(in_len + 1);
	got_len = fread(got, 1, in_len + 1, f);
	fclose(f);
	assert_int_equal(got_len, in_len);
	assert_memory_equal(got, in, in_len);

	/* a limit of three frames' worth: the fourth is refused, the file holds three */
	assert_int_equal(replay_writer_open(out, 3 * 8 + 3 * 4096, &w), 0);
	off = 16;
	for (int i = 0; i < 64 && off < in_len; i++) {
		uint32_t len = in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (uint32_t)in[off + 3] << 24;
		int k = replay_writer_add(w, 0, in + off + 8, len);

		if (k == -EFBIG)
			break;
		assert_int_equal(k, 0);
		off += 8 + ((len + 7) & ~7u);
	}
	assert_true(replay_writer_frames(w) >= 1 && replay_writer_frames(w) < n);
	n = replay_writer_frames(w);
	assert_int_equal(replay_writer_add(w, 0, in + 16, 0), -EINVAL);
	assert_int_equal(replay_writer_close(w), 0);
	assert_int_equal(replay_load(out, &r), 0);
	assert_int_equal(replay_nr_records(r), n);
	replay_free(r);
	unlink(out);
	free(in);
	free(got);
}

/* the file format: a bad magic, a short frame, another event ABI are refused */
static void test_replay_file(void **state)
{
	char path[] = "/tmp/damond-replay-file-XXXXXX";
	struct replay *r = NULL;
	unsigned char hdr[16 + 8 + 4] = "DAMONDRP";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(replay_load(RECORDING, &r), 0);
	/* 120 aggregations, 12 x 2 schemes x (esz + stat) */
	assert_int_equal(replay_nr_records(r), 120 + 48);
	assert_int_equal(replay_span_ns(r), 11900ULL * 1000 * 1000 + 3001);
	replay_free(r);

	hdr[8] = REPLAY_FORMAT;
	hdr[12] = DAMON_EV_VERSION + 1;
	assert_int_equal(write(fd, hdr, 16), 16);
	assert_int_equal(replay_load(path, &r), -EPROTONOSUPPORT);
	hdr[12] = DAMON_EV_VERSION;
	hdr[16] = 200; /* a 200-byte record with 4 bytes behind it */
	assert_int_equal(pwrite(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	assert_int_equal(replay_load(path, &r), -EBADMSG);
	hdr[0] = 'X';
	assert_int_equal(pwrite(fd, hdr, 16, 0), 16);
	assert_int_equal(replay_load(path, &r), -EBADMSG);
	close(fd);
	unlink(path);
}

/* scheme stats and effective quotas come from the replayed damos_stat/damos_esz events: no stats command */
static void test_stats_from_events(void **state)
{
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	struct kdamond_rt *kd = &m->kd[0];

	assert_int_equal(fake_damon_log_clear(x->root), 0);
	tick_to(m, 1000 * SEC + 950000); /* the stats of seq 10 are at +0.9 s */
	assert_int_equal(kd->slots[0].stats_source, OBS_SOURCE_BPF);
	assert_int_equal(kd->slots[0].st.sz_tried, 64ULL << 20);
	assert_int_equal(kd->slots[0].st.sz_applied, 32ULL << 20);
	assert_int_equal(kd->slots[0].st.effective_bytes, 32ULL << 20);
	assert_int_equal(kd->slots[1].st.sz_tried, 16ULL << 20);
	tick_to(m, 1000 * SEC + 1950000);
	assert_int_equal(kd->slots[0].st.sz_tried, 128ULL << 20);
	/* 64 MiB more tried in the second between the two stat events */
	assert_true(kd->slots[0].tried_bps > 63.9 * (1 << 20) && kd->slots[0].tried_bps < 64.1 * (1 << 20));
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 update_schemes_stats"), 0);
	assert_int_equal(m->stats_commands, 0);
	stop(x);
}

/* the status document (*st, the caller's) and its first kdamond's first scheme's first goal */
static struct json_object *goal0_json(struct manager *m, struct json_object **st)
{
	struct json_object *v;

	assert_int_equal(manager_status_json(m, st), 0);
	assert_true(json_object_object_get_ex(*st, "kdamonds", &v));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 0), "schemes", &v));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 0), "quotas", &v));
	assert_true(json_object_object_get_ex(v, "goals", &v));
	return json_object_array_get_idx(v, 0);
}

/* the first goal of the first scheme in status: its mode and current value (-1: unknown, why in *why) */
static long long goal0_status(struct manager *m, char *mode, size_t mode_len, char *why, size_t why_len)
{
	struct json_object *st = NULL, *v, *g;
	long long cur = -1;

	g = goal0_json(m, &st);
	assert_non_null(g);
	assert_true(json_object_object_get_ex(g, "mode", &v));
	snprintf(mode, mode_len, "%s", json_object_get_string(v));
	why[0] = '\0';
	if (json_object_object_get_ex(g, "current_value", &v) && v)
		cur = json_object_get_int64(v);
	else if (json_object_object_get_ex(g, "current_unknown", &v) && v)
		snprintf(why, why_len, "%s", json_object_get_string(v));
	json_object_put(st);
	return cur;
}

/* root's kpageflags: 2 GiB of LRU pages, free (buddy) from byte free_from on */
static void write_lru_kpageflags(const char *root, uint64_t free_from)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kpageflags", root);
	f = fopen(path, "r+e") ?: fopen(path, "we");
	assert_non_null(f);
	for (uint64_t pfn = 0; pfn < 0x80000000ULL / 4096; pfn++) {
		uint64_t v = pfn * 4096 >= free_from ? 1ULL << 10 : 1ULL << 5;

		assert_int_equal(fwrite(&v, sizeof(v), 1, f), 1);
	}
	fclose(f);
}

/* the first goal of the first scheme: its eligible_counted in buf, and its eligible_read_permil */
static long long eligible_counted(struct manager *m, char *buf, size_t len)
{
	struct json_object *st = NULL, *v, *g;
	long long permil = -1;

	g = goal0_json(m, &st);
	buf[0] = '\0';
	if (json_object_object_get_ex(g, "eligible_counted", &v) && v)
		snprintf(buf, len, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(g, "eligible_read_permil", &v) && v)
		permil = json_object_get_int64(v);
	json_object_put(st);
	return permil;
}

/*
 * node_eligible_mem_bp (7.2) from the monitor's regions (issue 16): the recording's idle regions (0 accesses,
 * the scheme's pattern) are 0xff82000 bytes on node 0 and 0x15556000 on node 1, so node 1 holds 5719 bp of
 * them. 6.12 lacks the metric: damond writes the goal as user_input and feeds 5719 with
 * commit_schemes_quota_goals; 7.2 has it: native, nothing fed, status shows the same value.
 */
static void assert_metrics_from_view(struct manager *m);
static char *last_metrics; /* the text assert_metrics_from_view() compared last */

static void test_goal_eligible(void **state)
{
	static const char goal[] = "          goals:\n"
				   "            - {metric: node_eligible_mem_bp, target_value: 5000, nid: 1}\n";

	for (int k = 0; k < 2; k++) {
		const char *profile = k ? "7.2" : "6.12";
		struct fx *x;
		struct manager *m;
		char mode[32], why[256], buf[64];
		long long cur;

		numa_pending = true;
		x = start_on(profile, "32M", goal);
		numa_pending = false;
		m = x->m;
		/* no aggregation replayed yet: unknown, and why */
		cur = goal0_status(m, mode, sizeof(mode), why, sizeof(why));
		assert_int_equal(cur, -1);
		assert_non_null(strstr(why, "aggregation"));
		assert_string_equal(mode, k ? "native" : "fed");
		assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/goals/0/target_metric", buf,
							   sizeof(buf)),
				 0);
		assert_string_equal(buf, k ? "node_eligible_mem_bp" : "user_input");

		/* a few stats ticks (the first commits are the scheme's first window and region refinement) */
		for (usec_t t = 950000; t < 4 * SEC; t += SEC)
			tick_to(m, 1000 * SEC + t);
		cur = goal0_status(m, mode, sizeof(mode), why, sizeof(why));
		assert_int_equal(cur, 5719);
		assert_metrics_from_view(m); /* the goal's mode and current value */
		if (k) {
			assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit_schemes_quota_goals"), 0);
		} else {
			assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/goals/0/current_value",
								   buf, sizeof(buf)),
					 0);
			assert_string_equal(buf, "5719");
			assert_true(fake_damon_log_count(x->root, "kdamond 0 commit_schemes_quota_goals") >= 1);
		}
		stop(x);

		/* the same with a kpageflags: every page on an LRU list, the same share, counted by pages */
		numa_pending = lru_kpageflags_pending = true;
		x = start_on(profile, "32M", goal);
		numa_pending = lru_kpageflags_pending = false;
		m = x->m;
		for (usec_t t = 950000; t < 4 * SEC; t += SEC)
			tick_to(m, 1000 * SEC + t);
		assert_int_equal(goal0_status(m, mode, sizeof(mode), why, sizeof(why)), 5719);
		/* the regions' span (under 2 GiB) read in the first refresh (eight times 65,536 pages) */
		assert_int_equal(eligible_counted(m, buf, sizeof(buf)), 1000);
		assert_string_equal(buf, "lru_pages");
		/* a span read in part: unknown, "measuring", until every block was read once */
		{
			uint64_t lo = m->eligible_lru.first_pfn * 4096,
				 hi = lo + (uint64_t)m->eligible_lru.nr_blocks * GOAL_LRU_BLOCK * 4096;

			goal_lru_cache_done(&m->eligible_lru);
			assert_int_equal(goal_lru_refresh(&m->eligible_lru, m->kpageflags_fd, lo, hi, 4096, 128), 0);
			m->eligible_lru_at = now_usec();
			assert_int_equal(goal0_status(m, mode, sizeof(mode), why, sizeof(why)), -1);
			assert_non_null(strstr(why, "not all read"));
			assert_true(eligible_counted(m, buf, sizeof(buf)) < 1000);
		}
		assert_string_equal(buf, "lru_pages");
		/* node 1's memory freed (the kernel's folio walk finds no folio there), a whole pass of refreshes
		 * later: 0 on node 1, fed as 0 on 6.12 at the next tick */
		write_lru_kpageflags(x->root, 0x40000000);
		assert_int_equal(goal_lru_refresh(&m->eligible_lru, m->kpageflags_fd, 0, 0x80000000, 4096, 0), 0);
		assert_int_equal(goal0_status(m, mode, sizeof(mode), why, sizeof(why)), 0);
		if (!k) {
			for (usec_t t = 4 * SEC + 950000; t < 11 * SEC; t += SEC)
				tick_to(m, 1000 * SEC + t);
			assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/goals/0/current_value",
								   buf, sizeof(buf)),
					 0);
			assert_string_equal(buf, "0");
		}
		stop(x);
	}
}

static struct metrics_num json_num(struct json_object *o, const char *path0, const char *path1)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, path0, &v) || (path1 && !json_object_object_get_ex(v, path1, &v)) || !v ||
	    json_object_is_type(v, json_type_null))
		return (struct metrics_num){};
	return METRICS_NUM(json_object_get_uint64(v));
}

/*
 * The metrics come from damond's state (manager_metrics_view()), not from the status document: rendered,
 * they are the text the full status document gives. The values that move between the two builds
 * (damond's CPU time and RSS, the configuration's times, converted to the wall clock at each build) are
 * taken from the document for both.
 */
static void assert_metrics_from_view(struct manager *m)
{
	struct json_object *full = NULL, *hold = NULL, *res, *cfg;
	struct metrics_view v;
	char *a = NULL, *b = NULL;
	size_t la, lb;

	assert_int_equal(manager_status_json(m, &full), 0);
	assert_int_equal(manager_metrics_view(m, &v, &hold), 0);
	assert_true(json_object_object_get_ex(full, "resources", &res));
	v.cpu_us = json_num(res, "cpu_us", NULL);
	v.rss_kib = json_num(res, "rss_kib", NULL);
	assert_true(json_object_object_get_ex(full, "config", &cfg));
	v.loaded_at_us = json_num(cfg, "loaded_at_us", NULL);
	v.last_reload_at_us = json_num(cfg, "last_reload", "at_us");
	assert_int_equal(metrics_render_string(full, &a, &la), 0);
	assert_int_equal(metrics_render_view_string(&v, &b, &lb), 0);
	assert_non_null(strstr(a, "damond_target_nr_regions{"));
	assert_string_equal(a, b);
	assert_int_equal(la, lb);
	free(a);
	free(last_metrics);
	last_metrics = b;
	metrics_view_done(&v);
	json_object_put(hold);
	json_object_put(full);
}

/* region snapshots from the replayed damon_aggregated events drive refinement commits */
static void test_refinement_commit(void **state)
{
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	const struct ctrl_refine_state *rs = refine_state(&m->kd[0]);
	int pid = m->kd[0].pid;

	assert_int_equal(committed_regions(x, 0), 2); /* the plan's two ranges */
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	for (unsigned s = 1; s <= 5; s++)
		tick_to(m, 1000 * SEC + s * SEC);
	assert_true(fake_damon_log_count(x->root, "kdamond 0 commit") >= 1);
	assert_true(rs->rs.rounds >= 1);
	assert_true(rs->rs.splits >= 1);
	/* the kernel holds the snapshot's regions plus the cuts, not the plan's one range */
	assert_true(committed_regions(x, 0) > 12);
	assert_int_equal(m->kd[0].pid, pid);
	assert_non_null(strstr(logged, "region refinement"));
	assert_metrics_from_view(m);
	stop(x);
}

/* a refinement commit the kernel refuses: the controller hears it, its layout is not carried */
static void test_commit_failure_feedback(void **state)
{
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	struct kdamond_rt *kd = &m->kd[0];
	const struct ctrl_refine_state *rs = refine_state(kd);
	unsigned s;

	assert_int_equal(fake_damon_set_fault(x->root, 1, "einval", 0), 0);
	for (s = 1; s <= 5 && !rs->rs.rounds && !strstr(logged, "controller commit failed"); s++)
		tick_to(m, 1000 * SEC + s * SEC);
	assert_non_null(strstr(logged, "controller commit failed"));
	assert_int_equal(rs->rs.rounds, 0); /* refine_commit_failed(): not counted as a round */
	assert_false(rs->rs.pending);
	for (size_t t = 0; t < kd->overlay.nr_targets; t++)
		assert_int_equal(kd->overlay.targets[t].nr_layout, 0);
	assert_int_equal(committed_regions(x, 0), 2);
	assert_true(kd->running);
	/* the next round waits at least the refinement interval, then lands */
	for (; s <= 12 && !rs->rs.rounds; s++)
		tick_to(m, 1000 * SEC + s * SEC);
	assert_int_equal(rs->rs.rounds, 1);
	stop(x);
}

/* how many stores after the start the first refinement commit's 'commit' state write is */
static unsigned long long refinement_commit_store(void)
{
	struct fx *x = start("32M", "");
	unsigned long long n0, at = 0, n;
	char path[128], line[512];
	unsigned s;
	FILE *f;

	assert_int_equal(fake_damon_nr_stores(x->root, &n0), 0);
	for (s = 1; s <= 5 && !refine_state(&x->m->kd[0])->rs.rounds; s++)
		tick_to(x->m, 1000 * SEC + s * SEC);
	snprintf(path, sizeof(path), "%s/.fake-damon/stores", x->root);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "kdamonds/0/state commit") && sscanf(line, "%llu", &n) == 1 && n > n0)
			at = n;
	fclose(f);
	stop(x);
	assert_true(at > n0);
	return at - n0;
}

/*
 * The kdamond dies on the commit (as 6.12's does on a commit its callback
 * rejects, the writer seeing success): found by the check after the commit,
 * marked dead, the controller told the commit failed, no further commits.
 */
static void test_death_on_commit(void **state)
{
	unsigned long long n = refinement_commit_store();
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	struct kdamond_rt *kd = &m->kd[0];
	const struct ctrl_refine_state *rs = refine_state(kd);
	unsigned s;

	/* the 'commit' write goes through, then the kdamond is gone */
	assert_int_equal(fake_damon_set_fault(x->root, (unsigned)n, "kill", 0), 0);
	for (s = 1; s <= 5 && kd->running; s++)
		tick_to(m, 1000 * SEC + s * SEC);
	assert_false(kd->running);
	assert_true(kd->died);
	/* the refinement commit: the last, the first-window release's before it or in it (rule 0) */
	assert_in_range(fake_damon_log_count(x->root, "kdamond 0 commit"), 1, 2);
	assert_non_null(strstr(logged, "stopped on 'commit'"));
	assert_non_null(strstr(logged, "controller commit failed"));
	assert_non_null(strstr(strstr(logged, "controller commit failed"), "region refinement"));
	assert_int_equal(rs->rs.rounds, 0); /* told: the round did not land */
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	tick_to(m, 1000 * SEC + 9 * SEC);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit"), 0);
	stop(x);
}

/*
 * charge + refine on one kdamond (lib/ctrl-registry.c): both decide from the
 * replayed events, each tick commits once, and no tick commits a charge
 * decision together with a refinement round (rule 3). That a due round then
 * waits is the registry's ctrl_may_step(), unit-tested in tests/ctrl.
 */
static void test_arbitration(void **state)
{
	/* 6.12: no native fail_charge, the ratio is emulated */
	struct fx *x = start_on("6.12", "32M", "          fail_charge_ratio: 1/4096\n");
	struct manager *m = x->m;
	struct kdamond_rt *kd = &m->kd[0];
	const struct ctrl_refine_state *rs = refine_state(kd);
	unsigned charge_ticks = 0, refine_ticks = 0, commit_ticks = 0, both = 0;

	assert_int_equal(fake_damon_log_clear(x->root), 0);

	for (unsigned s = 1; s <= 12; s++) {
		uint64_t rounds = rs->rs.rounds;
		size_t before = strlen(logged);
		bool charge, refine;

		tick_to(m, 1000 * SEC + s * SEC);
		charge = strstr(logged + before, "charge-ratio emulation") != NULL;
		refine = rs->rs.rounds > rounds;
		charge_ticks += charge;
		refine_ticks += refine;
		/* a release rides with whatever else the tick decided (rule 0) */
		commit_ticks += charge || refine || strstr(logged + before, "first quota window is over") != NULL;
		both += charge && refine;
	}
	print_message("# charge ticks %u, refinement rounds %u\n", charge_ticks, refine_ticks);
	assert_true(charge_ticks >= 1);
	assert_true(refine_ticks >= 1);
	assert_int_equal(both, 0);
	/* one commit per deciding tick */
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit"), commit_ticks);
	assert_metrics_from_view(m); /* the fail_charge controller's emulation */
	stop(x);
}

/* reload: an unchanged config writes nothing, a quota is committed online, a bad config changes nothing */
static void test_reload_rules(void **state)
{
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	struct config_errors errs = {};
	int pid = m->kd[0].pid;
	unsigned long long n0, n1;
	char buf[32];

	assert_int_equal(fake_damon_log_clear(x->root), 0);
	assert_int_equal(fake_damon_nr_stores(x->root, &n0), 0);
	assert_int_equal(manager_reload(m, &errs), 0);
	config_errors_done(&errs);
	assert_int_equal(fake_damon_nr_stores(x->root, &n1), 0);
	assert_int_equal(n1, n0);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit"), 0);

	write_config(x, "64M", "");
	assert_int_equal(manager_reload(m, &errs), 0);
	config_errors_done(&errs);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit"), 1);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 off"), 0);
	assert_int_equal(m->kd[0].pid, pid);
	assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/bytes", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "67108864");

	assert_int_equal(fake_damon_nr_stores(x->root, &n0), 0);
	write_config(x, "lots", "");
	assert_true(manager_reload(m, &errs) < 0);
	assert_true(errs.n >= 1);
	config_errors_done(&errs);
	assert_int_equal(fake_damon_nr_stores(x->root, &n1), 0);
	assert_int_equal(n1, n0);
	assert_false(m->last_reload.ok);
	assert_int_equal(m->config->kdamonds[0].ctx.schemes[0].quota.bytes, 64ULL << 20);
	stop(x);
}

/* DAMON_STAT's numbers when the kernel tunes the intervals: the aggregation interval is measured
 * between snapshots on every tick, so the very first status has them (the recording: 100 ms) */
static void test_damon_stat_measured_aggr(void **state)
{
	struct fx *x = start("32M", "");
	struct manager *m = x->m;
	struct json_object *st = NULL, *kds, *ds, *v;

	m->kd[0].cfg->ctx.intervals_goal.aggrs = 3; /* as if the policy had intervals_goal */
	assert_int_equal(m->kd[0].dstat_aggr_us, 0);
	tick_to(m, 1000 * SEC + 500000);
	tick_to(m, 1000 * SEC + 1500000);
	assert_int_equal(m->kd[0].dstat_aggr_us, 100000);
	assert_int_equal(manager_status_json(m, &st), 0);
	assert_true(json_object_object_get_ex(st, "kdamonds", &kds));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(kds, 0), "damon_stat", &ds));
	assert_true(json_object_object_get_ex(ds, "aggr_interval_us", &v));
	assert_int_equal(json_object_get_int64(v), 100000);
	assert_true(json_object_object_get_ex(ds, "aggr_interval_source", &v));
	assert_string_equal(json_object_get_string(v), "measured");
	assert_true(json_object_object_get_ex(ds, "estimated_memory_bandwidth_bytes_per_second", &v));
	assert_true(json_object_get_int64(v) > 0);
	json_object_put(st);
	m->kd[0].cfg->ctx.intervals_goal.aggrs = 0;
	stop(x);
}

/* As above, through the BPF monitor's aggregation gate: the recording keeps one aggregation in
 * ten (aggr_seq 1, 11, 21, ...), as a 1 s gate forwards them, and the interval is still the
 * kdamond's (100 ms), counted by aggr_seq, not the forwarded ones' (1 s). */
static void test_damon_stat_measured_aggr_gated(void **state)
{
	char out[] = "/tmp/damond-replay-gated-XXXXXX";
	unsigned char *in = NULL;
	size_t in_len, off = 16, kept = 0, dropped = 0;
	struct replay_writer *w = NULL;
	const struct damon_snapshot *snap;
	struct fx *x;
	struct manager *m;
	FILE *f;
	int fd = mkstemp(out);

	assert_true(fd >= 0);
	close(fd);
	f = fopen(RECORDING, "re");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	in_len = (size_t)ftell(f);
	rewind(f);
	in = malloc(in_len);
	assert_int_equal(fread(in, 1, in_len, f), in_len);
	fclose(f);
	assert_int_equal(replay_writer_open(out, 0, &w), 0);
	while (off < in_len) {
		uint32_t len = in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (uint32_t)in[off + 3] << 24;
		uint32_t kd = in[off + 4] | in[off + 5] << 8 | in[off + 6] << 16 | (uint32_t)in[off + 7] << 24;
		const unsigned char *rec = in + off + 8;
		struct damon_ev_aggregated a;

		if (len >= DAMON_EV_AGGR_HDR_SIZE && (rec[2] | rec[3] << 8) == DAMON_EV_AGGREGATED) {
			memcpy(&a, rec, DAMON_EV_AGGR_HDR_SIZE);
			if (a.aggr_seq % 10 != 1) {
				dropped++;
				off += 8 + ((len + 7) & ~7u);
				continue;
			}
		}
		assert_int_equal(replay_writer_add(w, kd, rec, len), 0);
		kept++;
		off += 8 + ((len + 7) & ~7u);
	}
	assert_int_equal(replay_writer_close(w), 0);
	assert_true(dropped > 0 && kept > 0);

	x = start_text(
		"7.2",
		"damond:\n  stats_interval: 1s\nkdamonds:\n  - name: k\n    ops: paddr\n"
		"    intervals: {sample: 5ms, aggr: 100ms}\n    targets:\n      - regions:\n"
		"          - {start: 0x100000, end: 0x20000000}\n          - {start: 0x40000000, end: 0x60000000}\n",
		out);
	m = x->m;
	m->kd[0].cfg->ctx.intervals_goal.aggrs = 3; /* as if the policy had intervals_goal */
	for (int s = 1; s <= 3; s++)
		tick_to(m, 1000 * SEC + s * SEC + 500000);
	snap = snapshot_store_get(m->snapshots, m->kd[0].index, 0);
	assert_non_null(snap);
	assert_int_equal(snap->aggr_seq % 10, 1);
	assert_int_equal(snap->nr_aggregations, snap->aggr_seq);
	assert_true(snap->nr_published < snap->nr_aggregations);
	assert_int_equal(m->kd[0].dstat_aggr_us, 100000);
	m->kd[0].cfg->ctx.intervals_goal.aggrs = 0;
	stop(x);
	unlink(out);
	free(in);
}

/*
 * Recordings captured on the real kernels (tests/vm/scenarios/record-events.sh,
 * tests/fixtures/events/README.md) replayed into the manager on the fake kernel
 * of the same version: every record decodes, the snapshots are assembled with
 * the kdamond's region bounds, and scheme stats come from the events where the
 * kernel has damos_stat_after_apply_interval (7.x), so no stats command is sent.
 */
static void replay_vm(const char *profile, const char *file, bool stat_events)
{
	static const char cfg[] = "damond:\n"
				  "  stats_interval: 1s\n"
				  "kdamonds:\n"
				  "  - name: rec\n"
				  "    ops: paddr\n"
				  "    intervals: {sample: 5ms, aggr: 100ms}\n"
				  "    nr_regions: {min: 10, max: 40}\n"
				  "    targets:\n"
				  "      - regions:\n"
				  "          - {start: 0x100000, end: 0x80000000}\n"
				  "    schemes:\n"
				  "      - name: watch\n"
				  "        action: stat\n"
				  "        quotas: {bytes: 16M, reset_interval: 1s}\n";
	char path[256];
	struct fx *x;
	struct manager *m;
	struct snapshot_store_stats st;
	const struct damon_snapshot *snap;
	unsigned long long published0;

	snprintf(path, sizeof(path), "%s/events/%s", FIXTURES_DIR, file);
	x = start_text(profile, cfg, path);
	m = x->m;
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	snapshot_store_get_stats(m->snapshots, &st);
	published0 = st.snapshots_published;
	for (unsigned s = 1; s <= 30 && !replay_done(m->replay); s++)
		tick_to(m, 1000 * SEC + s * SEC);
	assert_true(replay_done(m->replay));
	assert_int_equal(replay_skipped(m->replay), 0);
	snapshot_store_get_stats(m->snapshots, &st);
	assert_int_equal(st.bad_records, 0);
	assert_int_equal(st.unknown_pid, 0);
	assert_true(st.snapshots_published - published0 >= 20); /* 100 ms aggregations over seconds */
	snap = snapshot_store_get(m->snapshots, 0, 0);
	assert_non_null(snap);
	assert_true(snap->nr_regions >= 10 && snap->nr_regions <= 40);
	for (size_t i = 1; i < snap->nr_regions; i++)
		assert_true(snap->regions[i - 1].end <= snap->regions[i].start);
	if (stat_events) {
		assert_int_equal(m->kd[0].slots[0].stats_source, OBS_SOURCE_BPF);
		assert_true(m->kd[0].slots[0].st.nr_tried > 0);
		assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 update_schemes_stats"), 0);
	}
	assert_metrics_from_view(m);
	stop(x);
}

/* A kdamond without schemes has no stats to refresh: no state command, no stats round, on a kernel
 * without refresh_ms either (each tick used to start a thread that wrote update_schemes_stats) */
static void test_no_schemes_no_stats_command(void **state)
{
	static const char cfg[] = "damond:\n"
				  "  stats_interval: 1s\n"
				  "kdamonds:\n"
				  "  - name: rec\n"
				  "    ops: paddr\n"
				  "    intervals: {sample: 5ms, aggr: 100ms}\n"
				  "    nr_regions: {min: 10, max: 40}\n"
				  "    targets:\n"
				  "      - regions:\n"
				  "          - {start: 0x100000, end: 0x80000000}\n";
	char path[256];
	struct fx *x;
	struct manager *m;

	snprintf(path, sizeof(path), "%s/events/vm-6.12.rec", FIXTURES_DIR);
	x = start_text("6.12", cfg, path);
	m = x->m;
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	for (unsigned s = 1; s <= 5; s++) {
		tick_to(m, 1000 * SEC + s * SEC);
		stats_worker_cancel(m->stats_worker); /* a round started by the tick is over */
	}
	assert_non_null(snapshot_store_get(m->snapshots, 0, 0));
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 update_schemes_stats"), 0);
	assert_int_equal(m->stats_commands, 0);
	stop(x);
}

/* the metrics' view against the full status document: watermarks judged on a meminfo, goals of every mode the
 * 6.12 and 7.2 profiles give, a tombstone left by a reload, a rejected reload (its time and outcome) */
static void test_metrics_view(void **state)
{
	static const char cfg[] =
		"damond:\n"
		"  stats_interval: 1s\n"
		"kdamonds:\n"
		"  - name: k\n"
		"    ops: paddr\n"
		"    intervals: {sample: 5ms, aggr: 100ms}\n"
		"    nr_regions: {min: 10, max: 20}\n"
		"    targets:\n"
		"      - regions:\n"
		"          - {start: 0x100000, end: 0x20000000}\n"
		"          - {start: 0x40000000, end: 0x60000000}\n"
		"    schemes:\n"
		"      - name: cold\n"
		"        action: pageout\n"
		"        access_pattern:\n"
		"          nr_accesses: {min: 0, max: 0}\n"
		"        quotas:\n"
		"          bytes: 32M\n"
		"          reset_interval: 1s\n"
		"          goals:\n"
		"            - {metric: some_mem_psi_us, target_value: 1000}\n"
		"            - {metric: user_input, target_value: 7, current_value: 3}\n"
		"        watermarks: {metric: free_mem_rate, interval: 1s, high: 500, mid: 400, low: 100}\n"
		"%s";
	static const char watch[] = "      - name: watch\n"
				    "        action: stat\n";

	for (int k = 0; k < 2; k++) {
		char text[4096], meminfo[256];
		struct config_errors errs = {};
		struct fx *x;
		struct manager *m;
		FILE *f;

		snprintf(text, sizeof(text), cfg, watch);
		x = start_text(k ? "7.2" : "6.12", text, RECORDING);
		m = x->m;
		/* free 30 % of memory: below mid (40 %), the watermarks activate the scheme */
		snprintf(meminfo, sizeof(meminfo), "%s/meminfo", x->root);
		f = fopen(meminfo, "we");
		assert_non_null(f);
		fputs("MemTotal:       1000000 kB\nMemFree:         300000 kB\n", f);
		fclose(f);
		for (unsigned t = 1; t <= 3; t++)
			tick_to(m, 1000 * SEC + t * SEC);
		assert_metrics_from_view(m);
		/* a reload without the second scheme: its slot stays as a tombstone */
		snprintf(text, sizeof(text), cfg, "");
		f = fopen(x->cfg, "we");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		assert_int_equal(manager_reload(m, &errs), 0);
		config_errors_done(&errs);
		tick_to(m, 1000 * SEC + 4 * SEC);
		assert_metrics_from_view(m);
		assert_non_null(strstr(last_metrics, "damond_scheme_watermark_state{kdamond=\"k\",scheme=\"cold\","
						     "action=\"pageout\",state=\"active\"} 1\n"));
		assert_non_null(strstr(last_metrics, "damond_scheme_watermark_free_memory_ratio{kdamond=\"k\","
						     "scheme=\"cold\",action=\"pageout\"} 0.3\n"));
		assert_non_null(strstr(last_metrics, "goal=\"0\",metric=\"some_mem_psi_us\",mode=\"native\"} "));
		assert_non_null(strstr(last_metrics, "mode=\"user\"} 1\n"));
		assert_non_null(strstr(last_metrics, "damond_scheme_quota_goal_current{kdamond=\"k\",scheme=\"cold\","
						     "action=\"pageout\",goal=\"1\",metric=\"user_input\"} 3\n"));
		assert_null(strstr(last_metrics, "scheme=\"watch\""));
		assert_non_null(strstr(last_metrics, "damond_config_last_reload_successful 1\n"));
		/* a rejected one */
		f = fopen(x->cfg, "we");
		assert_non_null(f);
		fputs("kdamonds: [\n", f);
		fclose(f);
		assert_true(manager_reload(m, &errs) < 0);
		config_errors_done(&errs);
		assert_false(m->last_reload.ok);
		assert_metrics_from_view(m);
		assert_non_null(strstr(last_metrics, "damond_config_last_reload_successful 0\n"));
		stop(x);
	}
}

static void test_vm_recording_612(void **state)
{
	replay_vm("6.12", "vm-6.12.rec", false);
}

static void test_vm_recording_72(void **state)
{
	replay_vm("7.2", "vm-7.2.rec", true);
}

static void test_vm_recording_73(void **state)
{
	replay_vm("7.3", "vm-7.3.rec", true);
}

/* ---- the fault walk over controller commits ------------------------------- */

/*
 * What tests/integration/test-faults.py does for start, adoption and reload,
 * for the commits the controllers make from the event loop: region
 * refinement's (7.2) and the charge-ratio emulation's (6.12, its fallback
 * law without /proc/kpageflags, and its exclusion of unevictable memory
 * with a fake /proc/kpageflags). A clean run records the stores of the tick
 * whose commit the controller made; then for each store of that commit and
 * each fault kind, a fresh manager on a fresh fake runs the same ticks (the
 * clock and the replayed events make them the same) with the fault armed at
 * that store, and is checked:
 *  - the fault fired (the run took the recorded path);
 *  - the tree runs the kdamond exactly when status reports it running, same pid;
 *  - status shows the fault: the failed file (einval, enomem, vanish), a death
 *    (kill), for an EBUSY storm (the lock held through the faulted tick; the
 *    loop never waits on it) that kept the commit from landing, the
 *    decision not committed;
 *  - a running kdamond holds what it held before the tick or what the clean
 *    run committed in that tick, nothing in between;
 *  - then ten more seconds of ticks with the retry timer dispatched: nothing
 *    pending, the tree still matches status, and unless the kdamond died
 *    the controllers commit again (they are not stuck on the failure).
 * Sanitizer reports abort the binary (tap_env: halt_on_error).
 * FAULT_WALK=full walks every store with every kind; the default samples
 * the 'commit' write and every FAULT_WALK_STRIDE-th store (default: one
 * per commit), the offset rotated per kind, so that CI stays short
 * (docs/TESTING.md has the counts). FAULT_KINDS=kill,vanish limits
 * the kinds.
 */
/* lock users an EBUSY storm refuses (the event loop tries each once and defers); the lock is freed after the
 * faulted tick (the storm lasts that tick) */
#define WALK_STORM 30
static const char *const walk_kinds[] = { "ebusy", "einval", "enomem", "vanish", "kill" };

struct walk_scn {
	const char *name;
	const char *profile;
	const char *extra; /* scheme lines (fail_charge_ratio) */
	bool kpageflags;   /* a fake /proc/kpageflags: the charge emulation's exclusion mode */
	bool charge;       /* the walked commit is the charge emulation's (else refinement's) */
};

struct walk_counts {
	unsigned runs, running, died, kept, steps, failed;
	char failures[8192];
};

/* a run's check failed: keep the message (the first ones), finish the run, go on with the next */
#define WALK_FAIL(c, ...)                                                                      \
	do {                                                                                   \
		size_t _n = strlen((c)->failures);                                             \
		if (_n + 2 < sizeof((c)->failures)) {                                          \
			snprintf((c)->failures + _n, sizeof((c)->failures) - _n, __VA_ARGS__); \
			_n = strlen((c)->failures);                                            \
			snprintf((c)->failures + _n, sizeof((c)->failures) - _n, "\n");        \
		}                                                                              \
		(c)->failed++;                                                                 \
		goto out;                                                                      \
	} while (0)

/* /proc/kpageflags for the CFG_HEAD targets: LRU pages, [0x100000, 0x10000000) mlocked and unevictable */
static void write_walk_kpageflags(const char *root)
{
	const uint64_t LRU = 1ULL << 5, UNEVICTABLE = 1ULL << 18, MLOCKED = 1ULL << 33;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kpageflags", root);
	f = fopen(path, "we");
	assert_non_null(f);
	for (uint64_t pfn = 0; pfn < 0x60000000 / 4096; pfn++) {
		uint64_t v = pfn * 4096 >= 0x100000 && pfn * 4096 < 0x10000000 ? LRU | UNEVICTABLE | MLOCKED : LRU;

		assert_int_equal(fwrite(&v, sizeof(v), 1, f), 1);
	}
	fclose(f);
}

static struct fx *walk_start(const struct walk_scn *sc)
{
	char text[4096];
	struct fx *x;

	snprintf(text, sizeof(text), CFG_HEAD, "32M", sc->extra);
	/* start_text() with the kpageflags file in place before the manager reads it */
	walk_kpageflags_pending = sc->kpageflags;
	x = start_text(sc->profile, text, RECORDING);
	walk_kpageflags_pending = false;
	/* walk_tick() is the stats tick: the loop's own stats timer stays off, so every run ticks alike */
	assert_true(sd_event_source_set_enabled(x->m->stats_timer, SD_EVENT_OFF) >= 0);
	return x;
}

/* every file under dir as "relpath=content\n", sorted: what a running kdamond holds */
static void tree_text(const char *dir, const char *rel, char **buf, size_t *len, size_t *cap)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		char path[512], sub[512], val[256];
		struct stat stt;
		int w;

		if (names[i]->d_name[0] == '.') {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]->d_name);
		free(names[i]);
		if (lstat(path, &stt) < 0)
			continue;
		if (S_ISDIR(stt.st_mode)) {
			tree_text(path, sub, buf, len, cap);
			continue;
		}
		val[0] = '\0';
		FILE *f = fopen(path, "re");
		if (f) {
			size_t r = fread(val, 1, sizeof(val) - 1, f);

			val[r] = '\0';
			fclose(f);
		}
		while (*len + strlen(sub) + strlen(val) + 3 > *cap) {
			*cap = *cap ? *cap * 2 : 65536;
			*buf = realloc(*buf, *cap);
			assert_non_null(*buf);
		}
		w = snprintf(*buf + *len, *cap - *len, "%s=%s\n", sub, val);
		*len += (size_t)w;
	}
	free(names);
}

static char *committed_text(struct fx *x)
{
	char dir[160];
	char *buf = NULL;
	size_t len = 0, cap = 0;

	snprintf(dir, sizeof(dir), "%s/.fake-damon/kdamond0/committed", x->root);
	tree_text(dir, "", &buf, &len, &cap);
	return buf ? buf : strdup("");
}

static bool walk_target_tick(const struct walk_scn *sc, struct fx *x, uint64_t rounds_before, size_t log_before)
{
	if (sc->charge)
		return strstr(logged + log_before, "charge-ratio emulation") != NULL;
	return refine_state(&x->m->kd[0])->rs.rounds > rounds_before;
}

/* one tick of the walked scenario: the manager's stats tick, then what the event loop has due (the retry timer) */
static void walk_tick(struct fx *x, unsigned s)
{
	tick_to(x->m, 1000 * SEC + s * SEC);
	for (int i = 0; i < 8 && sd_event_run(x->m->event, 0) > 0; i++)
		;
}

static char *status_text(struct manager *m)
{
	struct json_object *st = NULL;
	char *s;

	assert_int_equal(manager_status_json(m, &st), 0);
	s = strdup(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(st);
	assert_non_null(s);
	return s;
}

/* the tree runs kdamond 0 exactly when status says it runs, with the pid status reports; else why not in msg */
static bool walk_consistent(struct fx *x, char *msg, size_t len)
{
	struct json_object *st = NULL, *kds, *k0, *v;
	char state[16] = "", pid[16] = "";
	bool status_on;
	long status_pid;

	assert_int_equal(manager_status_json(x->m, &st), 0);
	assert_true(json_object_object_get_ex(st, "kdamonds", &kds));
	k0 = json_object_array_get_idx(kds, 0);
	assert_true(json_object_object_get_ex(k0, "state", &v));
	status_on = streq(json_object_get_string(v), "on");
	status_pid = json_object_object_get_ex(k0, "pid", &v) ? (long)json_object_get_int64(v) : -1;
	json_object_put(st);
	(void)fake_damon_read(x->root, DAMON_KDAMONDS_DIR "/0/state", state, sizeof(state));
	(void)fake_damon_read(x->root, DAMON_KDAMONDS_DIR "/0/pid", pid, sizeof(pid));
	if (status_on != streq(state, "on") || (status_on && status_pid != strtol(pid, NULL, 10)) ||
	    status_on != x->m->kd[0].running) {
		snprintf(msg, len, "the tree's kdamond 0 is %s (pid %s), status reports %s (pid %ld)", state, pid,
			 status_on ? "on" : "not on", status_pid);
		return false;
	}
	return true;
}

static bool walk_kind_on(const char *kind)
{
	const char *only = getenv("FAULT_KINDS");
	size_t n = strlen(kind);

	if (!only || !*only)
		return true;
	for (const char *p = only; (p = strstr(p, kind)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static void walk_one(const struct walk_scn *sc, unsigned tstar, unsigned i, const char *kind, const char *before,
		     const char *after, struct walk_counts *c)
{
	struct fx *x = walk_start(sc);
	struct kdamond_rt *kd = &x->m->kd[0];
	char what[256], hit[512] = "", hpath[160], msg[256], *cur, *st;
	unsigned long long n0, n1;
	unsigned commits0, s;
	bool shown, held, landed;
	FILE *f;

	snprintf(what, sizeof(what), "%s: %s at store %u of the commit", sc->name, kind, i);
	for (s = 1; s < tstar; s++)
		walk_tick(x, s);
	cur = committed_text(x);
	if (!streq(cur, before)) {
		free(cur);
		WALK_FAIL(c, "%s: the run diverged before the faulted tick", what);
	}
	free(cur);
	assert_int_equal(fake_damon_nr_stores(x->root, &n0), 0);
	assert_int_equal(fake_damon_set_fault(x->root, i, kind, WALK_STORM), 0);
	walk_tick(x, tstar);
	if (streq(kind, "ebusy"))
		assert_int_equal(fake_damon_set_busy(x->root, 0), 0); /* the other lock holder is done */
	assert_int_equal(fake_damon_nr_stores(x->root, &n1), 0);
	snprintf(hpath, sizeof(hpath), "%s/.fake-damon/fault-hit", x->root);
	f = fopen(hpath, "re");
	if (!f)
		WALK_FAIL(c, "%s: the fault did not fire (%llu stores in the tick)", what, n1 - n0);
	if (!fgets(hit, sizeof(hit), f))
		hit[0] = '\0';
	fclose(f);
	{
		/* "N KIND relpath" */
		char *rel = strchr(hit, ' ');

		rel = rel ? strchr(rel + 1, ' ') : NULL;
		if (!rel)
			WALK_FAIL(c, "%s: cannot read the fault hit: %s", what, hit);
		memmove(hit, rel + 1, strlen(rel + 1) + 1);
		hit[strcspn(hit, "\n")] = '\0';
	}
	s = tstar + 1;
	if (!walk_consistent(x, msg, sizeof(msg))) {
		/* a kill after the commit's own check (at its last stores): a death between two ticks, which the
		 * next tick notices */
		if (!streq(kind, "kill"))
			WALK_FAIL(c, "%s: %s", what, msg);
		walk_tick(x, s++);
		if (!walk_consistent(x, msg, sizeof(msg)))
			WALK_FAIL(c, "%s, one tick later: %s", what, msg);
	}
	landed = false;
	if (kd->running) {
		cur = committed_text(x);
		landed = streq(cur, after);
		held = landed || streq(cur, before);
		free(cur);
		if (!held)
			WALK_FAIL(c, "%s: the kdamond holds neither what it held before the commit nor the commit",
				  what);
	}
	st = status_text(x->m);
	shown = streq(kind, "kill") ? !kd->running && kd->died && strstr(st, "\"died\"")
		: streq(kind, "ebusy")
			/* landed (the storm began after the last locked write), deferred to the retry timer, or
			 * not committed and said so */
			? landed || strstr(st, "\"what\":\"deferred\"") || strstr(st, "lock is held")
			: strstr(st, hit) != NULL;
	if (!shown && getenv("WALK_DEBUG"))
		fprintf(stderr, "STATUS %s\n", st);
	free(st);
	if (!shown)
		WALK_FAIL(c, "%s: status does not show the %s at %s", what, kind, hit);
	c->kept += kd->running && !landed;
	/* ten more seconds: the retry lands, the controllers go on */
	commits0 = (unsigned)fake_damon_log_count(x->root, "kdamond 0 commit");
	for (; s <= tstar + 10; s++)
		walk_tick(x, s);
	if (kd->pending != KD_PENDING_NONE)
		WALK_FAIL(c, "%s: still %s pending 10 s later", what, kd_pending_to_string(kd->pending));
	if (!walk_consistent(x, msg, sizeof(msg)))
		WALK_FAIL(c, "%s, 10 s later: %s", what, msg);
	if (kd->running) {
		c->running++;
		/* a commit the fault kept from landing is decided again (not stuck on the failure) */
		if (!landed && (unsigned)fake_damon_log_count(x->root, "kdamond 0 commit") <= commits0)
			WALK_FAIL(c, "%s: the commit did not land, and no controller commit in the 10 s after", what);
	} else {
		c->died++;
		if (!streq(kind, "kill"))
			WALK_FAIL(c, "%s: the kdamond stopped on a %s", what, kind);
	}
out:
	c->runs++;
	stop(x);
}

/* which of the stores (n0, n1] of the recording (kept in root.stores) is the 'commit' state write, counted from n0 */
static unsigned walk_commit_store(const char *root, unsigned long long n0, unsigned long long n1)
{
	char path[160], line[512];
	unsigned long long n;
	unsigned at = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.stores", root);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "kdamonds/0/state commit") && sscanf(line, "%llu", &n) == 1 && n > n0 && n <= n1)
			at = (unsigned)(n - n0);
	fclose(f);
	unlink(path);
	assert_true(at > 0);
	return at;
}

static void walk_scenario(const struct walk_scn *sc)
{
	bool full = getenv("FAULT_WALK") && streq(getenv("FAULT_WALK"), "full");
	struct walk_counts c = {};
	struct fx *x = walk_start(sc);
	unsigned long long n0 = 0, n1 = 0;
	unsigned tstar = 0, nsteps, commit_at, stride;
	char *before = NULL, *after, *x_root_copy, stores_src[160], stores_copy[160];
	time_t t0 = time(NULL);

	for (unsigned s = 1; s <= 30 && !tstar; s++) {
		uint64_t rounds = refine_state(&x->m->kd[0])->rs.rounds;
		size_t lb = strlen(logged);

		free(before);
		before = committed_text(x);
		assert_int_equal(fake_damon_nr_stores(x->root, &n0), 0);
		walk_tick(x, s);
		assert_int_equal(fake_damon_nr_stores(x->root, &n1), 0);
		if (walk_target_tick(sc, x, rounds, lb))
			tstar = s;
	}
	if (!tstar)
		fail_msg("%s: the controller made no commit in 30 s", sc->name);
	after = committed_text(x);
	assert_true(!streq(before, after));
	x_root_copy = strdup(x->root);
	/* keep the recording's stores file: walk_commit_store() reads it after stop() */
	snprintf(stores_src, sizeof(stores_src), "%s/.fake-damon/stores", x->root);
	snprintf(stores_copy, sizeof(stores_copy), "%s.stores", x->root);
	assert_int_equal(rename(stores_src, stores_copy), 0);
	stop(x);
	nsteps = (unsigned)(n1 - n0);
	assert_true(nsteps >= 2);
	c.steps = nsteps;
	commit_at = walk_commit_store(x_root_copy, n0, n1);
	free(x_root_copy);
	stride = getenv("FAULT_WALK_STRIDE") ? (unsigned)atoi(getenv("FAULT_WALK_STRIDE")) : 0;
	if (!stride)
		stride = nsteps;
	for (size_t k = 0; k < ARRAY_SIZE(walk_kinds); k++) {
		if (!walk_kind_on(walk_kinds[k]))
			continue;
		/* the sample: the 'commit' itself and every stride-th store, the offset rotated per kind */
		for (unsigned i = 1; i <= nsteps; i++)
			if (full || i == commit_at || (i + 7 * k) % stride == 0)
				walk_one(sc, tstar, i, walk_kinds[k], before, after, &c);
	}
	print_message("# %s: the commit at %u s made %u stores; %u faulted runs (%u ran on, %u of them without the "
		      "commit landing in the tick; %u died; %u failed) in %.0f s\n",
		      sc->name, tstar, c.steps, c.runs, c.running, c.kept, c.died, c.failed, difftime(time(NULL), t0));
	free(before);
	free(after);
	if (c.failed)
		fail_msg("%u of %u runs failed:\n%s", c.failed, c.runs, c.failures);
}

static void test_walk_refine(void **state)
{
	static const struct walk_scn sc = { "refinement (7.2)", "7.2", "", false, false };

	walk_scenario(&sc);
}

static void test_walk_charge_fallback(void **state)
{
	static const struct walk_scn sc = { "charge emulation, fallback law (6.12)", "6.12",
					    "          fail_charge_ratio: 1/4096\n", false, true };

	walk_scenario(&sc);
}

static void test_walk_charge_exclude(void **state)
{
	static const struct walk_scn sc = { "charge emulation, exclusion (6.12, /proc/kpageflags)", "6.12",
					    "          fail_charge_ratio: 1/4096\n", true, true };

	walk_scenario(&sc);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest walk[] = {
		cmocka_unit_test(test_walk_refine),
		cmocka_unit_test(test_walk_charge_fallback),
		cmocka_unit_test(test_walk_charge_exclude),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_file),
		cmocka_unit_test(test_replay_writer),
		cmocka_unit_test(test_stats_from_events),
		cmocka_unit_test(test_goal_eligible),
		cmocka_unit_test(test_refinement_commit),
		cmocka_unit_test(test_commit_failure_feedback),
		cmocka_unit_test(test_death_on_commit),
		cmocka_unit_test(test_arbitration),
		cmocka_unit_test(test_reload_rules),
		cmocka_unit_test(test_damon_stat_measured_aggr),
		cmocka_unit_test(test_damon_stat_measured_aggr_gated),
		cmocka_unit_test(test_no_schemes_no_stats_command),
		cmocka_unit_test(test_metrics_view),
		cmocka_unit_test(test_vm_recording_612),
		cmocka_unit_test(test_vm_recording_72),
		cmocka_unit_test(test_vm_recording_73),
	};

	if (argc > 1 && streq(argv[1], "walk"))
		return cmocka_run_group_tests(walk, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
