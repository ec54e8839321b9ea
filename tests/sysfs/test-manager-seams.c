/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager's seams against the fake kernel, in process: the actuator
 * (the dry-run one writes nothing and says what it would write; the real
 * one writes), the index allocation and kdamond-directory growth start and
 * reload share, and the one liveness check.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "fake-damon.h"
#include "log.h"
#include "manager-internal.h"

struct fx {
	char root[64];
	char run[80];
	struct manager *m;
};

static char logged[8192];

static void log_cb(void *userdata, int level, const char *msg)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	strcpy(x->root, "/tmp/damond-seams-XXXXXX");
	assert_non_null(mkdtemp(x->root));
	assert_int_equal(fake_damon_init(x->root, "7.2"), 0);
	fake_damon_set_module(x->root, "damon_stat", false);
	snprintf(x->run, sizeof(x->run), "%s/.run", x->root);
	assert_int_equal(mkdir(x->run, 0755), 0);
	assert_int_equal(manager_new(&x->m), 0);
	assert_int_equal(sysfs_root_open(x->root, &x->m->root), 0);
	sysfs_root_set_write_hook(x->m->root, fake_damon_hook, x->root);
	x->m->sysfs_path = strdup(x->root);
	x->m->runtime_dir = strdup(x->run);
	x->m->procfs_root = strdup("/proc");
	assert_int_equal(damon_write_nr_kdamonds(x->m->root, 1), 0);
	x->m->nr_kdamonds_dirs = x->m->nr_kdamonds_was = 1;
	logged[0] = '\0';
	log_set_callback(log_cb, NULL);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	log_set_callback(NULL, NULL);
	manager_free(x->m);
	fake_damon_destroy(x->root);
	free(x);
	return 0;
}

/* n kdamonds named k0.., with these indices (UINT_MAX: none yet) */
static void add_kdamonds(struct manager *m, const unsigned *index, size_t n)
{
	m->kd = calloc(n, sizeof(*m->kd));
	assert_non_null(m->kd);
	m->nr_kd = n;
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "k%zu", i);
		m->kd[i].name = strdup(name);
		m->kd[i].index = index[i];
		m->kd[i].pid = -1;
	}
}

static void test_dry_run_writes_nothing(void **state)
{
	struct fx *x = *state;
	struct manager *m = x->m;
	struct sysfs_write w = { .path = (char *)DAMON_ADMIN_DIR "/kdamonds/0/contexts/nr_contexts",
				 .value = (char *)"1" };
	struct write_list l = { .v = &w, .n = 1, .cap = 1 };
	unsigned long long before, after;
	char expect[512], buf[32];
	size_t failed = 0, file = 0;

	m->dry_run = true;
	assert_ptr_equal(actuator(m), &actuator_dry_run);
	assert_int_equal(fake_damon_nr_stores(x->root, &before), 0);
	assert_int_equal(actuator(m)->apply_list(m, &l, &failed, &file), ACTUATOR_DRY);
	assert_int_equal(actuator(m)->state_cmd(m, 0, "on"), ACTUATOR_DRY);
	assert_int_equal(actuator(m)->write_nr_kdamonds(m, 3), ACTUATOR_DRY);
	assert_int_equal(actuator(m)->module_off(m, "module/damon_stat/parameters/enabled"), ACTUATOR_DRY);
	assert_int_equal(fake_damon_nr_stores(x->root, &after), 0);
	assert_int_equal(after, before);
	assert_int_equal(fake_damon_log_count(x->root, "kdamond 0 on"), 0);
	assert_int_equal(fake_damon_read(x->root, DAMON_ADMIN_DIR "/kdamonds/nr_kdamonds", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");
	/* the lines the integration tests look for */
	snprintf(expect, sizeof(expect), "dry-run: would write '%s/%s' = '1'", x->root, w.path);
	assert_non_null(strstr(logged, expect));
	snprintf(expect, sizeof(expect), "dry-run: would write '%s/" DAMON_KDAMONDS_DIR "/0/state' = 'on'", x->root);
	assert_non_null(strstr(logged, expect));
	snprintf(expect, sizeof(expect), "dry-run: would write '%s/module/damon_stat/parameters/enabled' = 'N'",
		 x->root);
	assert_non_null(strstr(logged, expect));

	/* nr_kdamonds through the record: announced, "written", recorded as an action, no file touched */
	assert_int_equal(write_nr_kdamonds(m, 2), 0);
	assert_int_equal(m->nr_kdamonds_dirs, 2);
	assert_int_equal(fake_damon_nr_stores(x->root, &after), 0);
	assert_int_equal(after, before);
	assert_int_equal(access(x->run, F_OK), 0);
	snprintf(expect, sizeof(expect), "%s/kdamonds.json", x->run);
	assert_int_equal(access(expect, F_OK), -1); /* a dry run saves no record */
}

static void test_real_writes(void **state)
{
	struct fx *x = *state;
	struct manager *m = x->m;
	char buf[32];

	assert_ptr_equal(actuator(m), &actuator_real);
	assert_int_equal(actuator(m)->write_nr_kdamonds(m, 2), 0);
	assert_int_equal(fake_damon_read(x->root, DAMON_ADMIN_DIR "/kdamonds/nr_kdamonds", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2");
	assert_null(strstr(logged, "would write"));
}

static void test_assign_indices(void **state)
{
	struct fx *x = *state;
	struct manager *m = x->m;
	const unsigned idx[] = { 1, UINT_MAX, UINT_MAX };

	add_kdamonds(m, idx, 3);
	/* index 0 still belongs to a removed kdamond whose 'off' waits for the lock */
	m->pending_off = calloc(1, sizeof(*m->pending_off));
	assert_non_null(m->pending_off);
	m->nr_pending_off = 1;
	m->pending_off[0].index = 0;
	assign_indices(m);
	assert_int_equal(m->kd[0].index, 1);
	assert_int_equal(m->kd[1].index, 2);
	assert_int_equal(m->kd[2].index, 3);
	assert_int_equal(kdamond_dirs_needed(m), 4);

	/* without the pending one, the lowest free index */
	m->nr_pending_off = 0;
	m->kd[2].index = UINT_MAX;
	m->kd[1].index = UINT_MAX;
	assign_indices(m);
	assert_int_equal(m->kd[1].index, 0);
	assert_int_equal(m->kd[2].index, 2);
}

static void test_ensure_kdamond_dirs(void **state)
{
	struct fx *x = *state;
	struct manager *m = x->m;
	const unsigned idx[] = { 0, 2 };
	unsigned long long before, after;
	char buf[32], path[128];

	add_kdamonds(m, idx, 2);
	assert_int_equal(ensure_kdamond_dirs(m), 0);
	/* what indices 0 and 2 need, and the spares made ahead (no config here: the default) */
	assert_int_equal(m->nr_kdamonds_dirs, 3 + DAMOND_DEFAULT_SPARE_KDAMONDS);
	assert_int_equal(m->nr_kdamonds_was, 3 + DAMOND_DEFAULT_SPARE_KDAMONDS);
	assert_int_equal(fake_damon_read(x->root, DAMON_ADMIN_DIR "/kdamonds/nr_kdamonds", buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "%d", 3 + DAMOND_DEFAULT_SPARE_KDAMONDS);
	assert_string_equal(buf, path);
	/* the spares: every directory no kdamond has */
	assert_false(kdamond_dir_is_spare(m, 0));
	assert_true(kdamond_dir_is_spare(m, 1));
	assert_false(kdamond_dir_is_spare(m, 2));
	assert_true(kdamond_dir_is_spare(m, 3));
	assert_true(kdamond_dir_is_spare(m, 4));
	assert_false(kdamond_dir_is_spare(m, 5));
	snprintf(path, sizeof(path), "%s/kdamonds.json", x->run);
	assert_int_equal(access(path, F_OK), 0); /* announced in the record */
	/* enough directories: nothing written */
	assert_int_equal(fake_damon_nr_stores(x->root, &before), 0);
	assert_int_equal(ensure_kdamond_dirs(m), 0);
	assert_int_equal(fake_damon_nr_stores(x->root, &after), 0);
	assert_int_equal(after, before);
}

static void test_check_alive(void **state)
{
	struct fx *x = *state;
	int pid = 0;

	assert_int_equal(kdamond_check_alive(x->m, 0, &pid), 0); /* kdamonds/0 exists, off */
	assert_true(kdamond_check_alive(x->m, 5, &pid) < 0);     /* no such directory */
}

static unsigned long long committed_u64(struct fx *x, const char *rel)
{
	char buf[64];

	assert_int_equal(fake_damon_read_committed(x->root, 0, rel, buf, sizeof(buf)), 0);
	return strtoull(buf, NULL, 0);
}

/*
 * The plan through kd_commit() (issue 12, P1): a refinement layout goes
 * with one commit while the staging files read back as the span; a later
 * commit that only changes the exclusions (a charge decision) re-cuts the
 * standing layout against the new span instead of dropping it; a commit
 * that changes nothing in the regions leaves the kernel's regions alone.
 */
static void test_commit_recuts_layout(void **state)
{
	static const char yaml[] = "kdamonds:\n"
				   "  - name: k0\n"
				   "    ops: paddr\n"
				   "    targets:\n"
				   "      - regions: [{start: 0x100000, end: 0x4100000}]\n";
	const struct damon_addr_range layout[] = {
		{ 0x100000, 0x1100000 }, { 0x1100000, 0x2100000 }, { 0x2100000, 0x3100000 }, { 0x3100000, 0x4100000 }
	};
	const struct damon_addr_range gap = { 0x1800000, 0x1a00000 };
	struct fx *x = *state;
	struct manager *m = x->m;
	struct config_errors errs = {};
	struct damond_config *c = NULL;
	struct kdamond_rt *kd;
	const unsigned idx[] = { 0 };
	char buf[64];

	assert_int_equal(config_load_string("seams", yaml, strlen(yaml), &c, &errs), 0);
	config_errors_done(&errs);
	m->config = c;
	assert_int_equal(features_probe_readonly(m->root, &m->features), 0);
	add_kdamonds(m, idx, 1);
	kd = &m->kd[0];
	kd->cfg = &c->kdamonds[0];
	assert_int_equal(resolve_targets(m, kd->cfg, &kd->targets, &kd->nr_targets), 0);
	assert_int_equal(kd_init_slots_fresh(m, kd), 0);
	assert_int_equal(kd_start(m, kd, "test"), 0);
	assert_true(kd->running);
	assert_int_equal(committed_u64(x, "targets/0/regions/nr_regions"), 1);

	/* refinement's layout: committed as it is, the staging files back to the span */
	assert_int_equal(kd_overlay_set_layout(&kd->overlay, 0, layout, 4), 0);
	assert_int_equal(kd_commit(m, kd, NULL, "layout"), 0);
	assert_int_equal(committed_u64(x, "targets/0/regions/nr_regions"), 4);
	assert_int_equal(fake_damon_read(x->root, DAMON_KDAMONDS_DIR "/0/contexts/0/targets/0/regions/nr_regions", buf,
					 sizeof(buf)),
			 0);
	assert_string_equal(buf, "1");

	/* a charge decision: new gaps; the layout is re-cut, not dropped (was: the span, 2 regions) */
	assert_int_equal(kd_overlay_set_exclude(&kd->overlay, 0, &gap, 1), 1);
	assert_int_equal(kd_commit(m, kd, NULL, "gaps"), 0);
	assert_int_equal(committed_u64(x, "targets/0/regions/nr_regions"), 5);
	assert_int_equal(committed_u64(x, "targets/0/regions/1/end"), gap.start);
	assert_int_equal(committed_u64(x, "targets/0/regions/2/start"), gap.end);
	assert_int_equal(fake_damon_read(x->root, DAMON_KDAMONDS_DIR "/0/contexts/0/targets/0/regions/nr_regions", buf,
					 sizeof(buf)),
			 0);
	assert_string_equal(buf, "2"); /* the canonical list: the span minus the gap */

	/* nothing changed in the regions: the commit carries nr_regions 0, the kernel keeps its own */
	assert_int_equal(kd_commit(m, kd, NULL, "nothing in the regions"), 0);
	assert_int_equal(committed_u64(x, "targets/0/regions/nr_regions"), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assign_indices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ensure_kdamond_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_recuts_layout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
