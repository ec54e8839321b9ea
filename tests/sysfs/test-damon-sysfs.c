/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The apply engine (render, write, verify, state, layout) against the fake kernel, in process. */
#include <setjmp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "../common/config-load.h"
#include "damon-sysfs.h"
#include "fake-damon.h"
#include "damon-features.h"
#include "iomem.h"

/* the tests' EBUSY policy: short, so a lock held for good fails fast */
static struct damon_busy fx_busy = { .attempts = 6, .first_delay_ms = 1 };

struct fx {
	char root[64];
	struct sysfs_root *sr;
	struct damond_config *cfg;
	struct damon_features f;
};

static const char *const policy = "kdamonds:\n"
				  "  - name: reclaim\n"
				  "    ops: paddr\n"
				  "    targets:\n"
				  "      - regions:\n"
				  "          - {start: 0x100000, end: 0x40000000}\n"
				  "    schemes:\n"
				  "      - name: cold\n"
				  "        action: pageout\n"
				  "        access_pattern:\n"
				  "          nr_accesses: {min: 0, max: 0}\n"
				  "          age: {min: 30s, max: max}\n"
				  "        quotas:\n"
				  "          bytes: 32M\n"
				  "          reset_interval: 1s\n"
				  "          fail_charge_ratio: 1/4096\n"
				  "      - name: watch\n"
				  "        action: stat\n";

static struct damond_config *load(const char *text)
{
	return test_config_load(text);
}

static int setup(void **state, const char *profile)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	strcpy(x->root, "/tmp/damond-sysfs-XXXXXX");
	assert_non_null(mkdtemp(x->root));
	assert_int_equal(fake_damon_init(x->root, profile), 0);
	fake_damon_set_module(x->root, "damon_stat", false);
	assert_int_equal(sysfs_root_open(x->root, &x->sr), 0);
	sysfs_root_set_write_hook(x->sr, fake_damon_hook, x->root);
	(void)damon_busy_use(&fx_busy);
	/* damond writes nr_kdamonds, then probes on its own dir */
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 1), 0);
	assert_int_equal(features_probe_owned(x->sr, 0, &x->f), 0);
	x->cfg = load(policy);
	*state = x;
	return 0;
}

static int setup_612(void **state)
{
	return setup(state, "6.12");
}

static int setup_72(void **state)
{
	return setup(state, "7.2");
}

static int teardown(void **state)
{
	struct fx *x = *state;

	damond_config_free(x->cfg);
	sysfs_root_free(x->sr);
	fake_damon_destroy(x->root);
	free(x);
	return 0;
}

static void plan_for(struct fx *x, struct scheme_slot *slots, struct kdamond_plan *p, bool native)
{
	const struct kdamond_cfg *k = &x->cfg->kdamonds[0];

	for (size_t i = 0; i < k->ctx.nr_schemes; i++)
		slots[i] = (struct scheme_slot){ .cfg = &k->ctx.schemes[i], .native_fail_charge = native };
	*p = (struct kdamond_plan){
		.cfg = k,
		.targets = k->ctx.targets,
		.nr_targets = k->ctx.nr_targets,
		.slots = slots,
		.nr_slots = k->ctx.nr_schemes,
	};
}

static bool list_has(const struct write_list *l, const char *suffix)
{
	size_t n = strlen(suffix);

	for (size_t i = 0; i < l->n; i++) {
		size_t pl = strlen(l->v[i].path);

		if (pl >= n && strcmp(l->v[i].path + pl - n, suffix) == 0)
			return true;
	}
	return false;
}

static void test_features_by_profile(void **state)
{
	struct fx *x = *state;
	char profile[16];

	assert_int_equal(fake_damon_read(x->root, ".fake-damon/profile", profile, sizeof(profile)), 0);
	if (strcmp(profile, "6.12") == 0) {
		assert_int_equal(x->f.f[FEATURE_FAIL_CHARGE], FEATURE_ABSENT);
		assert_int_equal(x->f.f[FEATURE_CORE_OPS_FILTERS], FEATURE_ABSENT);
		assert_int_equal(x->f.f[FEATURE_LEGACY_FILTERS], FEATURE_PRESENT);
		assert_int_equal(x->f.f[FEATURE_FILTER_ALLOW], FEATURE_ABSENT);
		assert_int_equal(x->f.action[DAMOS_COLLAPSE], FEATURE_ABSENT);
		assert_int_equal(x->f.f[FEATURE_REFRESH_MS], FEATURE_ABSENT);
	} else {
		assert_int_equal(x->f.f[FEATURE_FAIL_CHARGE], FEATURE_PRESENT);
		assert_int_equal(x->f.f[FEATURE_CORE_OPS_FILTERS], FEATURE_PRESENT);
		assert_int_equal(x->f.f[FEATURE_GOAL_TUNER], FEATURE_PRESENT);
		assert_int_equal(x->f.action[DAMOS_COLLAPSE], FEATURE_PRESENT);
		assert_int_equal(x->f.f[FEATURE_REFRESH_MS], FEATURE_PRESENT);
	}
	assert_int_equal(x->f.action[DAMOS_PAGEOUT], FEATURE_PRESENT);
	assert_int_equal(x->f.ops[DAMON_OPS_PADDR], FEATURE_PRESENT);
	assert_int_equal(x->f.module[DAMON_MODULE_RECLAIM], MODULE_OFF);
}

/* The whole tree is written, reads back equal, starts, and the kernel side holds the policy. */
static void test_apply_verify_start(void **state)
{
	struct fx *x = *state;
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {};
	char *mismatch = NULL, buf[64];
	bool on = false;
	int pid = 0;
	size_t failed = 99;

	plan_for(x, slots, &p, x->f.f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	/* every access-pattern value is written, never the kernel's 0..0 defaults */
	assert_true(list_has(&l, "schemes/1/access_pattern/sz/max"));
	assert_true(list_has(&l, "schemes/1/access_pattern/age/max"));
	assert_int_equal(list_has(&l, "quotas/fail_charge_num"), x->f.f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT);
	assert_false(list_has(&l, "/allow") && x->f.f[FEATURE_FILTER_ALLOW] == FEATURE_ABSENT);

	assert_int_equal(damon_write_list_apply(x->sr, &l, &failed), 0);
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), 0);
	assert_null(mismatch);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), 0);
	assert_int_equal(damon_read_state(x->sr, 0, &on, &pid), 0);
	assert_true(on);
	assert_int_equal(pid, FAKE_DAMON_FIRST_PID);

	assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/action", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "pageout");
	assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/bytes", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "33554432");
	assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/access_pattern/age/min", buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "300"); /* 30 s at 100 ms aggregation */

	/* a file changed behind damond's back is caught by read-back */
	assert_int_equal(fake_damon_store(x->root, FAKE_DAMON_KDAMONDS "/0/contexts/0/schemes/0/quotas/bytes", "1", 1),
			 1);
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), -EIO);
	assert_non_null(mismatch);
	assert_non_null(strstr(mismatch, "quotas/bytes"));
	free(mismatch);
	write_list_done(&l);
}

/* A commit with a changed quota keeps the pid (no off/on). */
static void test_commit_changes_quota(void **state)
{
	struct fx *x = *state;
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {}, l2 = {};
	struct damos_stats st;
	bool on;
	int pid, pid2;
	char buf[64];

	plan_for(x, slots, &p, false);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), 0);
	assert_int_equal(damon_read_state(x->sr, 0, &on, &pid), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "update_schemes_stats"), 0);
	assert_int_equal(damon_read_scheme_stats(x->sr, 0, 0, &st), 0);
	assert_int_equal(st.sz_tried, FAKE_DAMON_STEP_SZ_TRIED);

	x->cfg->kdamonds[0].ctx.schemes[0].quota.bytes = 64 << 20;
	p.keep_regions = true;
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l2), 0);
	assert_false(write_list_equal(&l, &l2));
	fake_damon_log_clear(x->root);
	assert_int_equal(damon_write_list_apply(x->sr, &l2, NULL), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "commit"), 0);
	assert_int_equal(damon_read_state(x->sr, 0, &on, &pid2), 0);
	assert_true(on);
	assert_int_equal(pid, pid2);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 commit"), 1);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 on"), 0);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 off"), 0);
	assert_int_equal(fake_damon_read_committed(x->root, 0, "schemes/0/quotas/bytes", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "67108864");
	/* stats follow the slot across the commit */
	assert_int_equal(damon_state_cmd(x->sr, 0, "update_schemes_stats"), 0);
	assert_int_equal(damon_read_scheme_stats(x->sr, 0, 0, &st), 0);
	assert_int_equal(st.sz_tried, 2 * FAKE_DAMON_STEP_SZ_TRIED);
	write_list_done(&l);
	write_list_done(&l2);
}

/* The global sysfs lock: bounded retry succeeds after a few EBUSY, gives up when held for good. */
static void test_busy_retry(void **state)
{
	struct fx *x = *state;

	assert_int_equal(fake_damon_set_busy(x->root, 3), 0);
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 1), 0);
	assert_int_equal(fake_damon_log_count(x->root, "fail nr"), 3);
	assert_int_equal(fake_damon_set_busy(x->root, -1), 0);
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 1), -EBUSY);
	assert_int_equal(fake_damon_set_busy(x->root, 0), 0);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The backoff: a lock held for good costs the attempts, with delays doubling
 * from the first (5 attempts from 5 ms: 5 + 10 + 20 + 40 ms); a lock freed in
 * time is taken.
 */
static void test_busy_backoff(void **state)
{
	struct fx *x = *state;
	struct damon_busy b = { .attempts = 5, .first_delay_ms = 5 };
	uint64_t t0, dt;

	assert_ptr_equal(damon_busy_use(&b), &fx_busy);
	assert_int_equal(fake_damon_set_busy(x->root, -1), 0);
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	t0 = mono_ms();
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 1), -EBUSY);
	dt = mono_ms() - t0;
	assert_true(dt >= 75);
	assert_int_equal(b.slept_ms, 75);
	assert_int_equal(b.nr_busy, 5);
	assert_int_equal(fake_damon_log_count(x->root, "fail nr"), 5);
	assert_int_equal(fake_damon_set_busy(x->root, 2), 0);
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 1), 0);
	assert_int_equal(b.slept_ms, 90);
	assert_int_equal(b.nr_busy, 7);
	assert_ptr_equal(damon_busy_use(&fx_busy), &b);
	assert_int_equal(fake_damon_set_busy(x->root, 0), 0);
}

/* The event loop's policy: one attempt, no sleep; the first EBUSY comes back for the caller to defer. */
static void test_busy_never_sleeps(void **state)
{
	struct fx *x = *state;
	struct damon_busy b = { .attempts = 1, .first_delay_ms = 5 };

	(void)damon_busy_use(&b);
	assert_int_equal(fake_damon_set_busy(x->root, 1), 0);
	assert_int_equal(fake_damon_log_clear(x->root), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), -EBUSY);
	assert_int_equal(fake_damon_log_count(x->root, "fail kdamond 0 on"), 1);
	assert_int_equal(b.nr_busy, 1);
	assert_int_equal(b.slept_ms, 0);
	(void)damon_busy_use(&fx_busy);
	assert_int_equal(fake_damon_set_busy(x->root, 0), 0);
}

struct busy_thread {
	struct fx *x;
	int r;
	uint64_t nr_busy, slept_ms;
	struct damon_busy *before;
};

static void *busy_thread_main(void *arg)
{
	struct busy_thread *t = arg;
	struct damon_busy b = { .attempts = 3, .first_delay_ms = 1, .quiet = true };

	t->before = damon_busy_use(&b); /* a new thread starts with no policy of the caller's */
	t->r = damon_write_nr_kdamonds(t->x->sr, 1);
	t->nr_busy = b.nr_busy;
	t->slept_ms = b.slept_ms;
	(void)damon_busy_use(NULL);
	return NULL;
}

/*
 * The policy and its counters are the calling thread's: a worker thread's
 * retries neither count in nor use up the main thread's, whose policy never
 * sleeps (a process-wide state would have made the worker fail at once here,
 * or counted its EBUSYs in the loop's).
 */
static void test_busy_per_thread(void **state)
{
	struct fx *x = *state;
	struct damon_busy loop = { .attempts = 1 };
	struct busy_thread t = { .x = x };
	pthread_t th;

	(void)damon_busy_use(&loop);
	assert_int_equal(fake_damon_set_busy(x->root, 2), 0);
	assert_int_equal(pthread_create(&th, NULL, busy_thread_main, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_null(t.before);
	assert_int_equal(t.r, 0); /* 2 EBUSY, then taken on the third attempt */
	assert_int_equal(t.nr_busy, 2);
	assert_int_equal(t.slept_ms, 3);
	assert_int_equal(loop.nr_busy, 0);
	assert_int_equal(loop.slept_ms, 0);
	(void)damon_busy_use(&fx_busy);
	assert_int_equal(fake_damon_set_busy(x->root, 0), 0);
}

/* memcg_path takes the global lock too: its write is retried on EBUSY like nr_* files. */
static void test_memcg_path_busy_retry(void **state)
{
	struct fx *x = *state;
	struct damond_config *c = load("kdamonds:\n"
				       "  - name: reclaim\n"
				       "    ops: paddr\n"
				       "    targets:\n"
				       "      - regions:\n"
				       "          - {start: 0x100000, end: 0x40000000}\n"
				       "    schemes:\n"
				       "      - name: cold\n"
				       "        action: pageout\n"
				       "        filters:\n"
				       "          - {type: memcg, memcg_path: /system.slice}\n");
	struct scheme_slot slots[2] = {};
	struct kdamond_plan p;
	struct write_list l = {}, one = {};
	char *got = NULL;

	slots[0].cfg = &c->kdamonds[0].ctx.schemes[0];
	p = (struct kdamond_plan){ .cfg = &c->kdamonds[0], .targets = c->kdamonds[0].ctx.targets,
				   .nr_targets = c->kdamonds[0].ctx.nr_targets, .slots = slots, .nr_slots = 1 };
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	for (size_t i = 0; i < l.n; i++)
		if (strstr(l.v[i].path, "memcg_path")) {
			assert_true(l.v[i].flags & SYSFS_W_LOCKED);
			one.v = &l.v[i];
			one.n = 1;
		}
	assert_int_equal(one.n, 1);
	fake_damon_log_clear(x->root);
	assert_int_equal(fake_damon_set_busy(x->root, 3), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &one, NULL), 0);
	assert_int_equal(fake_damon_set_busy(x->root, 0), 0);
	assert_int_equal(sysfs_read_str(x->sr, one.v[0].path, &got), 0);
	assert_string_equal(got, "/system.slice");
	free(got);
	write_list_done(&l);
	damond_config_free(c);
}

/* nr_kdamonds cannot be written while a kdamond runs (someone else's included). */
static void test_nr_kdamonds_busy_while_running(void **state)
{
	struct fx *x = *state;

	assert_int_equal(fake_damon_start_foreign(x->root, 0), 0);
	assert_int_equal(damon_write_nr_kdamonds(x->sr, 2), -EBUSY);
}

static struct damon_ctx_cfg ctx_with(const char *const *names, size_t n, struct damos_cfg *buf)
{
	struct damon_ctx_cfg c = {};

	for (size_t i = 0; i < n; i++) {
		buf[i] = (struct damos_cfg){};
		buf[i].name = (char *)names[i];
	}
	c.schemes = buf;
	c.nr_schemes = n;
	return c;
}

static void test_layout_slots(void **state)
{
	struct damos_cfg buf[8];
	const char *old[] = { "a", "b", "c" };
	const char *old_t[] = { "a", NULL, "c", NULL };
	int *map = NULL;
	size_t n = 0;
	char *why = NULL;
	struct damon_ctx_cfg c;

	(void)state;
	/* removing the middle scheme leaves a tombstone: c keeps slot 2 and its stats */
	c = ctx_with((const char *const[]){ "a", "c" }, 2, buf);
	assert_int_equal(damon_layout_slots(old, 3, &c, &map, &n, &why), 0);
	assert_null(why);
	assert_int_equal(n, 3);
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], -1);
	assert_int_equal(map[2], 1);
	free(map);

	/* appending goes after the tombstones; trailing tombstones stay while something is appended */
	c = ctx_with((const char *const[]){ "a", "c", "d" }, 3, buf);
	assert_int_equal(damon_layout_slots(old_t, 4, &c, &map, &n, &why), 0);
	assert_null(why);
	assert_int_equal(n, 5);
	assert_int_equal(map[3], -1);
	assert_int_equal(map[4], 2);
	free(map);

	/* trailing tombstones are dropped when nothing is appended */
	c = ctx_with((const char *const[]){ "a", "c" }, 2, buf);
	assert_int_equal(damon_layout_slots(old_t, 4, &c, &map, &n, &why), 0);
	assert_int_equal(n, 3);
	free(map);

	/* reordering kept schemes cannot be committed positionally */
	c = ctx_with((const char *const[]){ "c", "a", "b" }, 3, buf);
	assert_int_equal(damon_layout_slots(old, 3, &c, &map, &n, &why), 0);
	assert_non_null(why);
	assert_int_equal(n, 3);
	assert_int_equal(map[0], 0);
	free(why);
	free(map);
}

/* A tombstone matches nothing: sz 0..0. */
static void test_tombstone_render(void **state)
{
	struct fx *x = *state;
	struct scheme_slot slots[2] = { { .cfg = NULL }, { .cfg = &x->cfg->kdamonds[0].ctx.schemes[1] } };
	struct kdamond_plan p = {
		.cfg = &x->cfg->kdamonds[0],
		.targets = x->cfg->kdamonds[0].ctx.targets,
		.nr_targets = 1,
		.slots = slots,
		.nr_slots = 2,
	};
	struct write_list l = {};
	bool saw = false;

	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	for (size_t i = 0; i < l.n; i++)
		if (strstr(l.v[i].path, "schemes/0/access_pattern/sz/max")) {
			assert_string_equal(l.v[i].value, "0");
			saw = true;
		}
	assert_true(saw);
	write_list_done(&l);
}

static void test_iomem(void **state)
{
	struct damon_addr_range *v = NULL;
	size_t n = 0;
	char path[256];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/damond-iomem-%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("00000000-00000fff : Reserved\n"
	      "00001000-0009fbff : System RAM\n"
	      "00100000-7ffdffff : System RAM\n"
	      "  01000000-01ffffff : Kernel code\n"
	      "100000000-17fffffff : System RAM\n",
	      f);
	fclose(f);
	assert_int_equal(iomem_system_ram(path, 4096, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].start, 0x1000);
	assert_int_equal(v[0].end, 0x9f000); /* end aligned down */
	assert_int_equal(v[1].end, 0x7ffe0000);
	assert_int_equal(v[2].start, 0x100000000ULL);
	free(v);

	/* addr_unit 4096: page numbers; 1 MiB units: aligned to 1 MiB first, the first range vanishes */
	assert_int_equal(iomem_system_ram_units(path, 4096, 4096, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].start, 0x1);
	assert_int_equal(v[0].end, 0x9f);
	assert_int_equal(v[2].start, 0x100000);
	assert_int_equal(v[2].end, 0x180000);
	free(v);
	assert_int_equal(iomem_system_ram_units(path, 4096, 1 << 20, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].start, 0x1);	/* 0x100000 */
	assert_int_equal(v[0].end, 0x7ff);	/* 0x7ffdffff aligned down to 0x7ff00000 */
	assert_int_equal(v[1].start, 0x1000);
	free(v);
	assert_int_equal(iomem_system_ram_units(path, 4096, 3, &v, &n), -EINVAL);

	f = fopen(path, "w");
	fputs("00000000-00000000 : System RAM\n", f); /* what non-root readers see */
	fclose(f);
	assert_int_equal(iomem_system_ram(path, 4096, &v, &n), -EPERM);
	unlink(path);
}

/* ---- region blocks ------------------------------------------------------ */

#define C0 FAKE_DAMON_KDAMONDS "/0/contexts/0"
#define NR_BLOCK_REGIONS 300

/* n increasing, non-overlapping regions; salt makes each target's set its own. */
static struct damon_addr_range *make_regions(size_t n, uint64_t salt)
{
	struct damon_addr_range *v = calloc(n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i].start = 0x100000000ULL + salt * 0x10000000000ULL + i * 0x200000ULL;
		v[i].end = v[i].start + 0x100000ULL + (i % 64) * 4096;
	}
	return v;
}

/* The fixture's policy with nt targets of n regions each. */
static void plan_regions(struct fx *x, struct scheme_slot *slots, struct kdamond_plan *p, struct damon_target_cfg *tg,
			 size_t nt, size_t n)
{
	plan_for(x, slots, p, false);
	for (size_t t = 0; t < nt; t++)
		tg[t] = (struct damon_target_cfg){ .regions = make_regions(n, t), .nr_regions = n };
	p->targets = tg;
	p->nr_targets = nt;
}

static void free_targets(struct damon_target_cfg *tg, size_t nt)
{
	for (size_t t = 0; t < nt; t++)
		free(tg[t].regions);
}

static void assert_file(struct fx *x, const char *want, const char *fmt, ...) _printf_(3, 4);
static void assert_file(struct fx *x, const char *want, const char *fmt, ...)
{
	char path[PATH_MAX], buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	assert_int_equal(fake_damon_read(x->root, path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void assert_region_files(struct fx *x, size_t t, const struct damon_addr_range *v, size_t i)
{
	char b[32];

	snprintf(b, sizeof(b), "%" PRIu64, v[i].start);
	assert_file(x, b, C0 "/targets/%zu/regions/%zu/start", t, i);
	snprintf(b, sizeof(b), "%" PRIu64, v[i].end);
	assert_file(x, b, C0 "/targets/%zu/regions/%zu/end", t, i);
}

/* One block per target (after its nr_regions), an owned copy; applying it writes every start/end file. */
static void test_region_blocks_apply(void **state)
{
	struct fx *x = *state;
	struct damon_target_cfg tg[2];
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {}, k = {};
	size_t blocks = 0, n = NR_BLOCK_REGIONS;
	char *mismatch = NULL, want[PATH_MAX], buf[64];

	plan_regions(x, slots, &p, tg, 2, n);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	for (size_t i = 0; i < l.n; i++) {
		const struct sysfs_write *w = &l.v[i];
		size_t t = blocks;
		char *q = strstr(w->path, "/regions/");

		/* no per-file region entries are left */
		assert_true(!q || streq(q, "/regions/nr_regions"));
		if (!(w->flags & SYSFS_W_REGIONS))
			continue;
		assert_true(t < 2);
		snprintf(want, sizeof(want), C0 "/targets/%zu/regions", t);
		assert_string_equal(w->path, want);
		assert_int_equal(w->nr_regions, n);
		assert_ptr_not_equal(w->regions, tg[t].regions);
		assert_memory_equal(w->regions, tg[t].regions, n * sizeof(*w->regions));
		assert_int_equal(sysfs_write_nr_files(w), 2 * n);
		assert_non_null(strstr(w->value, "300 regions fnv64:"));
		/* nr_regions comes right before its block */
		assert_true(i > 0);
		assert_true(l.v[i - 1].flags & SYSFS_W_NR);
		snprintf(want, sizeof(want), C0 "/targets/%zu/regions/nr_regions", t);
		assert_string_equal(l.v[i - 1].path, want);
		assert_string_equal(l.v[i - 1].value, "300");
		assert_true(sysfs_write_is_region(w));
		assert_true(sysfs_write_is_region(&l.v[i - 1]));
		blocks++;
	}
	assert_int_equal(blocks, 2);
	for (size_t i = 0; i < l.n; i++)
		if (strstr(l.v[i].path, "monitoring_attrs/nr_regions/"))
			assert_false(sysfs_write_is_region(&l.v[i]));

	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	for (size_t t = 0; t < 2; t++) {
		assert_file(x, "300", C0 "/targets/%zu/regions/nr_regions", t);
		assert_region_files(x, t, tg[t].regions, 0);
		assert_region_files(x, t, tg[t].regions, n / 2);
		assert_region_files(x, t, tg[t].regions, n - 1);
	}
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), 0);
	assert_null(mismatch);

	/* keep_regions: nr_regions 0 and no block */
	p.keep_regions = true;
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &k), 0);
	for (size_t i = 0; i < k.n; i++) {
		assert_false(k.v[i].flags & SYSFS_W_REGIONS);
		if (sysfs_write_is_region(&k.v[i]))
			assert_string_equal(k.v[i].value, "0");
	}
	write_list_done(&k);
	write_list_done(&l);

	/* one paddr target: the running kdamond gets exactly these regions */
	free_targets(tg, 2);
	plan_regions(x, slots, &p, tg, 1, n);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), 0);
	assert_int_equal(fake_damon_read_committed(x->root, 0, "targets/0/regions/nr_regions", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "300");
	assert_int_equal(fake_damon_read_committed(x->root, 0, "targets/0/regions/299/end", buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%" PRIu64, tg[0].regions[299].end);
	assert_string_equal(buf, want);
	write_list_done(&l);
	free_targets(tg, 1);
}

/* A failing file inside a block: the index is the block's, the file is the one that failed. */
static void test_region_block_apply_failure(void **state)
{
	struct fx *x = *state;
	struct damon_target_cfg tg[1];
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {};
	size_t failed = 0, file = 0, nr = SIZE_MAX, blk = SIZE_MAX;

	plan_regions(x, slots, &p, tg, 1, 20);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].flags & SYSFS_W_REGIONS)
			blk = i;
		else if (sysfs_write_is_region(&l.v[i]))
			nr = i;
	assert_int_equal(nr + 1, blk);
	/* the kernel gets only 7 region directories: regions/7/start does not exist */
	free(l.v[nr].value);
	l.v[nr].value = strdup("7");
	assert_int_not_equal(damon_write_list_apply_ex(x->sr, &l, &failed, &file), 0);
	assert_int_equal(failed, blk);
	assert_int_equal(file, 14);
	failed = 0;
	assert_int_not_equal(damon_write_list_apply(x->sr, &l, &failed), 0);
	assert_int_equal(failed, blk);
	write_list_done(&l);
	free_targets(tg, 1);
}

/* Read-back checks every file of a block and names the one that differs. */
static void test_region_block_verify(void **state)
{
	struct fx *x = *state;
	struct damon_target_cfg tg[1];
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {};
	char *mismatch = NULL, want[256];
	size_t n = NR_BLOCK_REGIONS;

	plan_regions(x, slots, &p, tg, 1, n);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), 0);

	/* deep in the block, the end of region 217 */
	assert_int_equal(fake_damon_store(x->root, C0 "/targets/0/regions/217/end", "4096", 4), 4);
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), -EIO);
	assert_non_null(mismatch);
	snprintf(want, sizeof(want), "'" C0 "/targets/0/regions/217/end' reads '4096', damond wrote '%" PRIu64 "'",
		 tg[0].regions[217].end);
	assert_string_equal(mismatch, want);
	free(mismatch);
	mismatch = NULL;

	/* put it back, then break the last start */
	snprintf(want, sizeof(want), "%" PRIu64, tg[0].regions[217].end);
	assert_int_equal(fake_damon_store(x->root, C0 "/targets/0/regions/217/end", want, strlen(want)),
			 (ssize_t)strlen(want));
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), 0);
	assert_int_equal(fake_damon_store(x->root, C0 "/targets/0/regions/299/start", "1", 1), 1);
	assert_int_equal(damon_write_list_verify(x->sr, &l, &mismatch), -EIO);
	assert_non_null(strstr(mismatch, "/targets/0/regions/299/start' reads '1'"));
	free(mismatch);
	write_list_done(&l);
	free_targets(tg, 1);
}

/* One end address moved: the lists differ, at the block. */
static void test_region_block_diff(void **state)
{
	struct fx *x = *state;
	struct damon_target_cfg tg[1];
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list a = {}, b = {};
	size_t d, n = NR_BLOCK_REGIONS;

	plan_regions(x, slots, &p, tg, 1, n);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &a), 0);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &b), 0);
	assert_true(write_list_equal(&a, &b));
	write_list_done(&b);

	tg[0].regions[n / 2].end += 4096;
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &b), 0);
	assert_false(write_list_equal(&a, &b));
	d = write_list_first_diff(&a, &b);
	assert_true(d < a.n);
	assert_true(a.v[d].flags & SYSFS_W_REGIONS);
	assert_true(b.v[d].flags & SYSFS_W_REGIONS);
	assert_string_equal(a.v[d].path, C0 "/targets/0/regions");
	assert_string_not_equal(a.v[d].value, b.v[d].value);
	assert_string_equal(a.v[d - 1].value, b.v[d - 1].value); /* same nr_regions */
	assert_false(sysfs_write_equal(&a.v[d], &b.v[d]));
	/* the file that differs: the end of region n / 2 */
	assert_int_equal(sysfs_write_first_diff_file(&b.v[d], &a.v[d]), n + 1);
	assert_int_equal(sysfs_write_first_diff_file(&a.v[d], &a.v[d]), SIZE_MAX);
	/* the arrays decide even if the summaries were to collide */
	free(b.v[d].value);
	b.v[d].value = strdup(a.v[d].value);
	assert_false(sysfs_write_equal(&a.v[d], &b.v[d]));
	assert_int_equal(write_list_first_diff(&a, &b), d);
	write_list_done(&b);

	/* one region fewer: the nr_regions write differs first */
	tg[0].nr_regions = n - 1;
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &b), 0);
	d = write_list_first_diff(&a, &b);
	assert_string_equal(a.v[d].path, C0 "/targets/0/regions/nr_regions");
	write_list_done(&b);
	write_list_done(&a);
	free_targets(tg, 1);
}

/* FNV-1a 64 as the record's hash took it before region blocks existed. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t fnv_write(uint64_t h, const char *path, const char *value)
{
	h = fnv_str(h, path);
	h = fnv_str(h, "=");
	h = fnv_str(h, value);
	return fnv_str(h, "\n");
}

/*
 * The record's hash survives damond upgrades: with blocks it must equal the
 * hash of the old per-file list (start, then end, of each region).
 */
/*
 * Tuned intervals (intervals_goal): the renderer marks sample/aggr
 * SYSFS_W_NOVERIFY; after 'update_tuned_intervals' write_list_carry_values()
 * with damon_read_u64_value() commits the kernel's tuned values instead of
 * resetting them (what daemon/manager.c's carry_tuned_intervals() did by path).
 */
static void test_carry_tuned_intervals(void **state)
{
	static const char *const tuned = "kdamonds:\n"
					 "  - name: reclaim\n"
					 "    ops: paddr\n"
					 "    intervals:\n"
					 "      sample: 5ms\n"
					 "      aggr: 100ms\n"
					 "      intervals_goal:\n"
					 "        {access_bp: 4%, aggrs: 3, min_sample: 1ms, max_sample: 1s}\n"
					 "    targets:\n"
					 "      - regions:\n"
					 "          - {start: 0x100000, end: 0x40000000}\n";
	struct fx *x = *state;
	struct damond_config *c = load(tuned);
	const struct kdamond_cfg *k = &c->kdamonds[0];
	struct kdamond_plan p = { .cfg = k, .targets = k->ctx.targets, .nr_targets = k->ctx.nr_targets };
	struct write_list l = {}, want = {};
	char *mismatch = NULL, buf[64];
	size_t failed = 0;

	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &want), 0);
	assert_int_equal(damon_write_list_apply(x->sr, &l, &failed), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "update_tuned_intervals"), 0);
	/* the fake tuner doubles the sample interval, same ratio */
	assert_int_equal(write_list_carry_values(&l, SYSFS_W_NOVERIFY, damon_read_u64_value, x->sr), 2);
	for (size_t i = 0; i < l.n; i++) {
		const char *v = l.v[i].value;

		if (list_has(&(struct write_list){ .v = &l.v[i], .n = 1 }, "intervals/sample_us"))
			assert_string_equal(v, "10000");
		else if (list_has(&(struct write_list){ .v = &l.v[i], .n = 1 }, "intervals/aggr_us"))
			assert_string_equal(v, "200000");
		else
			assert_true(sysfs_write_equal(&l.v[i], &want.v[i]));
	}
	/* committed, the kernel keeps the tuned values; read-back skips them */
	assert_int_equal(damon_write_list_apply(x->sr, &l, &failed), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "commit"), 0);
	assert_int_equal(
		fake_damon_read_committed(x->root, 0, "monitoring_attrs/intervals/sample_us", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10000");
	assert_int_equal(damon_write_list_verify(x->sr, &want, &mismatch), 0);
	assert_null(mismatch);
	/* a file that cannot be read keeps the rendered value */
	{
		char *v = NULL;

		assert_true(damon_read_u64_value("kernel/mm/damon/admin/kdamonds/0/no_such_file", &v, x->sr) < 0);
		assert_null(v);
	}
	write_list_done(&l);
	write_list_done(&want);
	damond_config_free(c);
}

static void test_region_block_hash(void **state)
{
	struct fx *x = *state;
	struct damon_target_cfg tg[2];
	struct scheme_slot slots[4];
	struct kdamond_plan p;
	struct write_list l = {};
	uint64_t h = 1469598103934665603ULL;
	size_t t = 0, n = NR_BLOCK_REGIONS;
	char *got, want[32];

	plan_regions(x, slots, &p, tg, 2, n);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	for (size_t i = 0; i < l.n; i++) {
		if (!(l.v[i].flags & SYSFS_W_REGIONS)) {
			h = fnv_write(h, l.v[i].path, l.v[i].value);
			continue;
		}
		/* by hand, from the targets, as put_u64() rendered each file */
		for (size_t r = 0; r < n; r++) {
			char path[256], v[32];

			snprintf(path, sizeof(path), C0 "/targets/%zu/regions/%zu/start", t, r);
			snprintf(v, sizeof(v), "%" PRIu64, tg[t].regions[r].start);
			h = fnv_write(h, path, v);
			snprintf(path, sizeof(path), C0 "/targets/%zu/regions/%zu/end", t, r);
			snprintf(v, sizeof(v), "%" PRIu64, tg[t].regions[r].end);
			h = fnv_write(h, path, v);
		}
		t++;
	}
	assert_int_equal(t, 2);
	snprintf(want, sizeof(want), "%016" PRIx64, h);
	/* the record's hash (lib/write-list.c) */
	got = write_list_hash_hex(&l);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);

	/* and it follows the regions */
	tg[1].regions[n - 1].end += 4096;
	write_list_done(&l);
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	got = write_list_hash_hex(&l);
	assert_string_not_equal(got, want);
	free(got);
	write_list_done(&l);
	free_targets(tg, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_by_profile, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_features_by_profile, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_apply_verify_start, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_apply_verify_start, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_commit_changes_quota, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_commit_changes_quota, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_busy_retry, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_busy_backoff, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_busy_never_sleeps, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_busy_per_thread, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_memcg_path_busy_retry, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_nr_kdamonds_busy_while_running, setup_72, teardown),
		cmocka_unit_test(test_layout_slots),
		cmocka_unit_test_setup_teardown(test_tombstone_render, setup_612, teardown),
		cmocka_unit_test(test_iomem),
		cmocka_unit_test_setup_teardown(test_region_blocks_apply, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_region_blocks_apply, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_region_block_apply_failure, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_region_block_verify, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_region_block_diff, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_region_block_hash, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_carry_tuned_intervals, setup_72, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
