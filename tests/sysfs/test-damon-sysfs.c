/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The apply engine (render, write, verify, state, layout) against the fake kernel, in process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "damon-sysfs.h"
#include "fake-damon.h"
#include "damon-features.h"
#include "iomem.h"

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
	struct damond_config *c = NULL;
	struct config_errors errs = {};
	int r;

	r = config_load_string("test.yaml", text, strlen(text), &c, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		char *s = NULL;

		if (config_error_format(&errs.v[i], &s) >= 0)
			print_error("%s\n", s);
		free(s);
	}
	config_errors_done(&errs);
	assert_int_equal(r, 0);
	return c;
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
	damon_set_busy_retry(6, 1);
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

/* Emulation's exclusion filters come first in the core layer and are rejecting addr filters. */
static void test_reject_filters(void **state)
{
	struct fx *x = *state;
	struct damon_addr_range rj[2] = { { 0x200000, 0x400000 }, { 0x800000, 0xa00000 } };
	struct scheme_slot slots[2];
	struct kdamond_plan p;
	struct write_list l = {};
	const char *dir = x->f.f[FEATURE_CORE_OPS_FILTERS] == FEATURE_PRESENT ? "core_filters" : "filters";
	char want[64];
	bool saw_nr = false;

	plan_for(x, slots, &p, false);
	slots[0].reject = rj;
	slots[0].nr_reject = 2;
	assert_int_equal(damon_render_kdamond(0, &p, &x->f, &l), 0);
	snprintf(want, sizeof(want), "schemes/0/%s/nr_filters", dir);
	for (size_t i = 0; i < l.n; i++) {
		if (strstr(l.v[i].path, want)) {
			assert_string_equal(l.v[i].value, "2");
			saw_nr = true;
		}
	}
	assert_true(saw_nr);
	assert_int_equal(damon_write_list_apply(x->sr, &l, NULL), 0);
	assert_int_equal(damon_state_cmd(x->sr, 0, "on"), 0);
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

	f = fopen(path, "w");
	fputs("00000000-00000000 : System RAM\n", f); /* what non-root readers see */
	fclose(f);
	assert_int_equal(iomem_system_ram(path, 4096, &v, &n), -EPERM);
	unlink(path);
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
		cmocka_unit_test_setup_teardown(test_nr_kdamonds_busy_while_running, setup_72, teardown),
		cmocka_unit_test(test_layout_slots),
		cmocka_unit_test_setup_teardown(test_tombstone_render, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filters, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filters, setup_72, teardown),
		cmocka_unit_test(test_iomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
