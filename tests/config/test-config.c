/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Config parser tests: every file in fixtures/configs/bad must fail with
 * exactly the errors named in its leading "# expect: LINE:COL: KEY: MESSAGE"
 * comments (warnings are not compared there); every file in
 * fixtures/configs/warn must load with exactly the warnings named the same
 * way; every file in fixtures/configs/good and conf/damond.yaml must load
 * without errors, and the values below must come out in kernel units.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>

#include "config.h"
#include "ctrl-refine.h"
#include "damon-features.h"
#include "damon.h"
#include "macro.h"
#include "status-enums.h"

#ifndef FIXTURES_DIR
#error "FIXTURES_DIR must be defined"
#endif
#ifndef CONF_DIR
#error "CONF_DIR must be defined"
#endif

#define GOOD_DIR FIXTURES_DIR "/configs/good"
#define BAD_DIR FIXTURES_DIR "/configs/bad"
#define WARN_DIR FIXTURES_DIR "/configs/warn"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.yaml names in dir. */
static size_t list_yaml(const char *dir, char ***ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l < 6 || !streq(de->d_name + l - 5, ".yaml"))
			continue;
		assert_non_null(APPEND(v, n, cap));
		v[n - 1] = strdup(de->d_name);
		assert_non_null(v[n - 1]);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static struct damond_config *load_ok(const char *path)
{
	struct config_errors errs = {};
	struct damond_config *c = NULL;
	int r;

	r = config_load_file(path, &c, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		char *s;

		if (errs.v[i].warning)
			continue;
		assert_int_equal(config_error_format(&errs.v[i], &s), 0);
		print_error("unexpected error: %s\n", s);
		free(s);
	}
	assert_int_equal(r, 0);
	assert_int_equal(config_errors_count(&errs, 0), 0);
	assert_non_null(c);
	assert_string_equal(c->path, path);
	config_errors_done(&errs);
	return c;
}

static struct damond_config *load_good(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", GOOD_DIR, name);
	return load_ok(path);
}

/*
 * Every file of dir against its "# expect:" lines: bad files (want_ok false)
 * must be refused with exactly those errors, warnings left out; warn files
 * must load with exactly those entries, all warnings.
 */
static size_t check_expect_dir(const char *dir, bool want_ok, size_t min_files)
{
	char **names;
	size_t n = list_yaml(dir, &names), failures = 0;

	assert_true(n >= min_files);
	for (size_t i = 0; i < n; i++) {
		struct config_errors errs = {};
		struct damond_config *c = NULL;
		char path[4096], line[1024], *expect[24];
		struct config_error *got[64];
		size_t nexpect = 0, ngot = 0;
		FILE *f;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "re");
		assert_non_null(f);
		while (nexpect < ARRAY_SIZE(expect) && fgets(line, sizeof(line), f) &&
		       strneq(line, "# expect: ", 10)) {
			line[strcspn(line, "\n")] = '\0';
			/* the formatted error is "PATH:" + what the comment says */
			assert_true(asprintf(&expect[nexpect], "%s:%s", path, line + 10) > 0);
			nexpect++;
		}
		fclose(f);
		if (nexpect == 0) {
			print_error("%s: no '# expect: ' line\n", names[i]);
			failures++;
			continue;
		}

		r = config_load_file(path, &c, &errs);
		if (want_ok ? r != 0 || !c : r != -EINVAL || c) {
			print_error("%s: config_load_file() = %d, want %s\n", names[i], r,
				    want_ok ? "0" : "-EINVAL");
			failures++;
		}
		for (size_t j = 0; j < errs.n && ngot < ARRAY_SIZE(got); j++) {
			if (want_ok && !errs.v[j].warning) {
				print_error("%s: entry %zu is an error, want warnings only\n", names[i], j);
				failures++;
			}
			if (want_ok || !errs.v[j].warning)
				got[ngot++] = &errs.v[j];
		}
		if (ngot != nexpect) {
			print_error("%s: %zu entries, want %zu\n", names[i], ngot, nexpect);
			failures++;
		}
		for (size_t j = 0; j < MIN(ngot, nexpect); j++) {
			char *s;

			assert_int_equal(config_error_format(got[j], &s), 0);
			assert_string_equal(got[j]->file, path);
			if (!streq(s, expect[j])) {
				print_error("%s: error %zu\n   got: %s\n  want: %s\n", names[i], j, s,
					    expect[j]);
				failures++;
			}
			free(s);
		}
		for (size_t j = 0; j < nexpect; j++)
			free(expect[j]);
		damond_config_free(c);
		config_errors_done(&errs);
	}
	free_list(names, n);
	return failures;
}

static void test_bad_files(void **state _unused_)
{
	assert_int_equal(check_expect_dir(BAD_DIR, false, 25), 0);
}

/* Item 9 of issue 10: policies that act on everything, migrate without a node. */
static void test_warn_files(void **state _unused_)
{
	assert_int_equal(check_expect_dir(WARN_DIR, true, 2), 0);
}

static void test_good_files_load(void **state _unused_)
{
	char **names;
	size_t n = list_yaml(GOOD_DIR, &names);

	assert_true(n >= 8);
	for (size_t i = 0; i < n; i++)
		damond_config_free(load_good(names[i]));
	free_list(names, n);
}

static void assert_default_scheme_pattern(const struct damos_cfg *s)
{
	assert_true(s->sz.min == 0 && s->sz.max == UINT64_MAX);
	assert_true(s->nr_accesses.min == 0 && s->nr_accesses.max == DAMON_UINT_MAX);
	assert_true(s->age.min == 0 && s->age.max == DAMON_UINT_MAX);
}

static void test_conf_sample(void **state _unused_)
{
	struct damond_config *c = load_ok(CONF_DIR "/damond.yaml");
	const struct kdamond_cfg *k;
	const struct damos_cfg *s;

	assert_int_equal(c->settings.on_exit, DAMOND_ON_EXIT_STOP);
	assert_int_equal(c->settings.stats_interval_us, 1000000);
	assert_null(c->settings.control_group);
	assert_int_equal(c->nr_kdamonds, 1);
	k = &c->kdamonds[0];
	assert_string_equal(k->name, "reclaim");
	assert_int_equal(k->refresh_ms, 0);
	assert_int_equal(k->ctx.ops, DAMON_OPS_PADDR);
	assert_int_equal(k->ctx.addr_unit, 1);
	assert_int_equal(k->ctx.sample_us, 5000);
	assert_int_equal(k->ctx.aggr_us, 100000);
	assert_int_equal(k->ctx.update_us, 1000000);
	assert_int_equal(k->ctx.min_nr_regions, 10);
	assert_int_equal(k->ctx.max_nr_regions, 1000);
	assert_false(k->ctx.refine.enabled);
	assert_int_equal(k->ctx.refine.interval_us, DAMOND_DEFAULT_REFINE_INTERVAL_US);
	assert_int_equal(k->ctx.nr_targets, 1);
	assert_true(k->ctx.targets[0].regions_auto);
	assert_int_equal(k->ctx.targets[0].nr_regions, 0);
	assert_int_equal(k->ctx.nr_schemes, 1);

	s = &k->ctx.schemes[0];
	assert_string_equal(s->name, "pageout_cold");
	assert_true(s->name_given);
	assert_int_equal(s->action, DAMOS_PAGEOUT);
	assert_int_equal(s->target_nid, -1);
	assert_true(s->sz.min == 0 && s->sz.max == UINT64_MAX);
	assert_int_equal(s->nr_accesses.min, 0);
	assert_int_equal(s->nr_accesses.max, 0);
	assert_int_equal(s->age.min, 300); /* 30s / 100ms */
	assert_int_equal(s->age.max, DAMON_UINT_MAX);
	assert_int_equal(s->quota.bytes, 100ULL << 20);
	assert_int_equal(s->quota.ms, 0);
	assert_int_equal(s->quota.reset_interval_ms, 1000);
	assert_int_equal(s->quota.weight_age, 1000);
	assert_int_equal(s->quota.fail_charge_num, 1);
	assert_int_equal(s->quota.fail_charge_denom, 4096);
	assert_int_equal(s->quota.fail_charge_mode, DAMOS_FAIL_CHARGE_AUTO);
	assert_true(s->quota.fail_charge_pos.line > 0);
	assert_false(s->quota.goal_tuner_set);
	assert_int_equal(s->quota.nr_goals, 0);
	assert_int_equal(s->wmarks.metric, DAMOS_WMARK_FREE_MEM_RATE);
	assert_int_equal(s->wmarks.interval_us, 5000000);
	assert_int_equal(s->wmarks.high, 500);
	assert_int_equal(s->wmarks.mid, 400);
	assert_int_equal(s->wmarks.low, 50);
	assert_int_equal(s->nr_filters, 0);
	assert_int_equal(s->nr_dests, 0);
	damond_config_free(c);
}

static void test_minimal_defaults(void **state _unused_)
{
	struct damond_config *c = load_good("minimal.yaml");
	const struct kdamond_cfg *k = &c->kdamonds[0];

	assert_int_equal(c->nr_kdamonds, 1);
	assert_int_equal(k->pos.line, 3);
	assert_int_equal(k->pos.column, 5);
	assert_int_equal(k->ctx.ops, DAMON_OPS_PADDR);
	assert_int_equal(k->ctx.sample_us, DAMOND_DEFAULT_SAMPLE_US);
	assert_int_equal(k->ctx.aggr_us, DAMOND_DEFAULT_AGGR_US);
	assert_int_equal(k->ctx.update_us, DAMOND_DEFAULT_UPDATE_US);
	assert_int_equal(k->ctx.intervals_goal.aggrs, 0);
	assert_false(k->ctx.pause);
	assert_int_equal(k->ctx.nr_targets, 1);
	assert_true(k->ctx.targets[0].regions_auto);
	assert_int_equal(k->ctx.nr_schemes, 0);
	for (size_t i = 0; i < _DAMON_MODULE_MAX; i++)
		assert_false(c->settings.allow_disable[i]);
	damond_config_free(c);
}

static void test_metrics_textfile(void **state _unused_)
{
	struct damond_config *c = load_good("metrics.yaml");

	assert_string_equal(c->settings.metrics.textfile, "/var/lib/prometheus/node-exporter/damond.prom");
	assert_int_equal(c->settings.stats_interval_us, 15000000);
	damond_config_free(c);
	c = load_good("minimal.yaml");
	assert_null(c->settings.metrics.textfile);
	damond_config_free(c);
}

static void test_vaddr(void **state _unused_)
{
	struct damond_config *c = load_good("vaddr.yaml");
	const struct kdamond_cfg *k = &c->kdamonds[0];
	const struct damos_cfg *s;

	assert_int_equal(c->settings.on_exit, DAMOND_ON_EXIT_KEEP);
	assert_int_equal(c->settings.stats_interval_us, 500000);
	assert_true(c->settings.allow_disable[DAMON_MODULE_STAT]);
	assert_false(c->settings.allow_disable[DAMON_MODULE_RECLAIM]);
	assert_true(c->settings.allow_disable[DAMON_MODULE_LRU_SORT]);
	assert_string_equal(c->settings.control_group, "damond-admin");

	assert_string_equal(k->name, "app-hot");
	assert_int_equal(k->refresh_ms, 2000);
	assert_int_equal(k->ctx.ops, DAMON_OPS_VADDR);
	assert_int_equal(k->ctx.sample_us, 10000);
	assert_int_equal(k->ctx.aggr_us, 200000);
	assert_int_equal(k->ctx.update_us, 2000000);
	assert_int_equal(k->ctx.intervals_goal.access_bp, 400);
	assert_int_equal(k->ctx.intervals_goal.aggrs, 3);
	assert_int_equal(k->ctx.intervals_goal.min_sample_us, 1000);
	assert_int_equal(k->ctx.intervals_goal.max_sample_us, 1000000);
	assert_int_equal(k->ctx.min_nr_regions, 20);
	assert_int_equal(k->ctx.max_nr_regions, 2000);

	assert_int_equal(k->ctx.nr_targets, 2);
	assert_int_equal(k->ctx.targets[0].pid, 1234);
	assert_int_equal(k->ctx.targets[0].nr_regions, 0);
	assert_false(k->ctx.targets[0].regions_auto);
	assert_int_equal(k->ctx.targets[1].pid, 42);
	assert_int_equal(k->ctx.targets[1].pos.line, 22);
	assert_int_equal(k->ctx.targets[1].pos.column, 9);
	assert_int_equal(k->ctx.targets[1].nr_regions, 2);
	assert_true(k->ctx.targets[1].regions[0].start == 0x7f0000000000ULL);
	assert_true(k->ctx.targets[1].regions[0].end == 0x7f0000200000ULL);
	assert_true(k->ctx.targets[1].regions[1].start == 0x7f0000400000ULL);
	assert_true(k->ctx.targets[1].regions[1].end == 0x7f0000800000ULL);

	assert_int_equal(k->ctx.nr_schemes, 2);
	s = &k->ctx.schemes[0];
	assert_string_equal(s->name, "hot");
	assert_int_equal(s->pos.line, 27);
	assert_int_equal(s->pos.column, 9);
	assert_int_equal(s->action, DAMOS_HUGEPAGE);
	assert_int_equal(s->apply_interval_us, 1000000);
	assert_int_equal(s->sz.min, 2ULL << 20);
	assert_int_equal(s->sz.max, 1ULL << 30);
	/* percentages of aggr/sample = 20 samples */
	assert_int_equal(s->nr_accesses.min, 10);
	assert_int_equal(s->nr_accesses.max, 20);
	assert_int_equal(s->age.min, 5);
	assert_int_equal(s->age.max, DAMON_UINT_MAX);
	/* no quota by default */
	assert_int_equal(s->quota.ms, 0);
	assert_int_equal(s->quota.bytes, 0);
	assert_int_equal(s->quota.fail_charge_mode, DAMOS_FAIL_CHARGE_OFF);
	assert_int_equal(s->wmarks.metric, DAMOS_WMARK_NONE);

	s = &k->ctx.schemes[1];
	assert_string_equal(s->name, "scheme1");
	assert_false(s->name_given);
	assert_int_equal(s->action, DAMOS_COLD);
	assert_int_equal(s->nr_accesses.min, 0);
	assert_int_equal(s->nr_accesses.max, 0);
	assert_int_equal(s->age.min, 300);   /* 1m / 200ms */
	assert_int_equal(s->age.max, 18000); /* 1h / 200ms */
	damond_config_free(c);
}

static void test_fvaddr(void **state _unused_)
{
	struct damond_config *c = load_good("fvaddr.yaml");
	const struct kdamond_cfg *k = &c->kdamonds[0];

	assert_int_equal(k->refresh_ms, 100);
	assert_int_equal(k->ctx.ops, DAMON_OPS_FVADDR);
	assert_int_equal(k->ctx.pos.line, 6); /* the element of contexts: */
	assert_int_equal(k->ctx.sample_us, 5000);
	assert_int_equal(k->ctx.aggr_us, 100000);
	assert_int_equal(k->ctx.update_us, 1000000);
	assert_true(k->ctx.refine.enabled);
	assert_int_equal(k->ctx.refine.interval_us, 2000000);
	assert_int_equal(k->ctx.refine.max_splits, DAMOND_DEFAULT_REFINE_MAX_SPLITS);
	assert_int_equal(k->ctx.nr_targets, 1);
	assert_int_equal(k->ctx.targets[0].pid, 77);
	assert_int_equal(k->ctx.targets[0].nr_regions, 2);
	assert_int_equal(k->ctx.targets[0].regions[0].start, 4096);
	assert_int_equal(k->ctx.targets[0].regions[0].end, 1 << 20);
	assert_int_equal(k->ctx.targets[0].regions[1].start, 2 << 20);
	assert_int_equal(k->ctx.targets[0].regions[1].end, 4 << 20);
	assert_int_equal(k->ctx.nr_schemes, 1);
	assert_int_equal(k->ctx.schemes[0].action, DAMOS_STAT);
	assert_int_equal(k->ctx.schemes[0].quota.ms, 10);
	assert_int_equal(k->ctx.schemes[0].quota.reset_interval_ms, 1000);
	assert_default_scheme_pattern(&k->ctx.schemes[0]);
	damond_config_free(c);
}

static void test_paddr_regions(void **state _unused_)
{
	struct damond_config *c = load_good("paddr-regions.yaml");

	assert_int_equal(c->nr_kdamonds, 2);
	assert_int_equal(c->kdamonds[0].ctx.min_nr_regions, 3);
	assert_int_equal(c->kdamonds[0].ctx.max_nr_regions, 3);
	assert_false(c->kdamonds[0].ctx.targets[0].regions_auto);
	assert_int_equal(c->kdamonds[0].ctx.targets[0].pid, 0);
	assert_int_equal(c->kdamonds[0].ctx.targets[0].nr_regions, 1);
	assert_true(c->kdamonds[0].ctx.targets[0].regions[0].start == 4ULL << 30);
	assert_true(c->kdamonds[0].ctx.targets[0].regions[0].end == 8ULL << 30);
	assert_int_equal(c->kdamonds[1].ctx.addr_unit, 4096);
	/* in addr_unit units: not page aligned, still fine */
	assert_int_equal(c->kdamonds[1].ctx.targets[0].regions[0].start, 5);
	assert_int_equal(c->kdamonds[1].ctx.targets[0].regions[0].end, 9);
	damond_config_free(c);
}

static void test_regions_node(void **state _unused_)
{
	struct damond_config *c = load_good("regions-node.yaml");

	assert_int_equal(c->nr_kdamonds, 2);
	assert_false(c->kdamonds[0].ctx.targets[0].regions_auto);
	assert_int_equal(c->kdamonds[0].ctx.targets[0].nr_regions, 0);
	assert_true(c->kdamonds[0].ctx.targets[0].regions_nodes == 1u << 1);
	assert_true(c->kdamonds[1].ctx.targets[0].regions_nodes == (1u << 0 | 1u << 2 | 1u << 3));
	damond_config_free(c);
}

static void test_actions(void **state _unused_)
{
	struct damond_config *c = load_good("actions.yaml");
	const struct damon_ctx_cfg *x = &c->kdamonds[0].ctx;

	assert_int_equal(x->nr_schemes, _DAMOS_ACTION_MAX);
	for (size_t i = 0; i < x->nr_schemes; i++) {
		char name[32];

		snprintf(name, sizeof(name), "scheme%zu", i);
		assert_int_equal(x->schemes[i].action, (int)i);
		assert_string_equal(x->schemes[i].name, name);
		assert_false(x->schemes[i].name_given);
		assert_default_scheme_pattern(&x->schemes[i]);
	}
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].target_nid, 1);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].nr_dests, 2);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].dests[0].id, 1);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].dests[0].weight, 3);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].dests[1].id, 2);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_HOT].dests[1].weight, 1);
	assert_int_equal(x->schemes[DAMOS_MIGRATE_COLD].target_nid, 0);
	assert_int_equal(x->schemes[DAMOS_STAT].max_nr_snapshots, 10);
	assert_int_equal(x->schemes[DAMOS_PAGEOUT].target_nid, -1);
	damond_config_free(c);
}

static void test_goals(void **state _unused_)
{
	struct damond_config *c = load_good("goals.yaml");
	const struct damos_quota_cfg *q = &c->kdamonds[0].ctx.schemes[0].quota;
	static const struct {
		enum damos_goal_metric metric;
		uint64_t target, current;
		int nid;
		const char *path;
	} want[] = {
		{ DAMOS_GOAL_USER_INPUT, 10000, 5000, 0, NULL },
		{ DAMOS_GOAL_SOME_MEM_PSI_US, 5000, 0, 0, NULL },
		{ DAMOS_GOAL_NODE_MEM_USED_BP, 7000, 0, 0, NULL },
		{ DAMOS_GOAL_NODE_MEM_FREE_BP, 2500, 0, 1, NULL },
		{ DAMOS_GOAL_NODE_MEMCG_USED_BP, 1250, 0, 0, "/workload" },
		{ DAMOS_GOAL_NODE_MEMCG_FREE_BP, 1000, 0, 0, "/system.slice" },
		{ DAMOS_GOAL_ACTIVE_MEM_BP, 6000, 0, 0, NULL },
		{ DAMOS_GOAL_INACTIVE_MEM_BP, 1, 0, 0, NULL },
		{ DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP, 3000, 0, 0, NULL },
		/* damond's own */
		{ DAMOS_GOAL_SWAP_USED_BP, 5000, 0, 0, NULL },
		{ DAMOS_GOAL_MEMCG_USAGE_BP, 8000, 0, 0, "/workload" },
		{ DAMOS_GOAL_FILE, 7, 0, 0, "/run/steer" },
	};

	assert_int_equal(q->ms, 10);
	assert_int_equal(q->bytes, 1ULL << 30);
	assert_int_equal(q->reset_interval_ms, 1000);
	assert_true(q->goal_tuner_set);
	assert_int_equal(q->goal_tuner, DAMOS_TUNER_TEMPORAL);
	assert_int_equal(q->goal_tuner_pos.line, 10);
	assert_int_equal(q->goal_tuner_pos.column, 11);
	assert_int_equal(q->weight_sz, 100); /* 10% in permil */
	assert_int_equal(q->weight_nr_accesses, 200);
	assert_int_equal(q->weight_age, 500);
	assert_int_equal(q->nr_goals, _DAMOS_GOAL_METRIC_MAX);
	assert_int_equal(q->nr_goals, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(q->goals[i].metric, want[i].metric);
		assert_int_equal(q->goals[i].target_value, want[i].target);
		assert_int_equal(q->goals[i].current_value, want[i].current);
		assert_int_equal(q->goals[i].nid, want[i].nid);
		if (want[i].path)
			assert_string_equal(q->goals[i].path, want[i].path);
		else
			assert_null(q->goals[i].path);
		assert_int_equal(q->goals[i].pos.line, 13 + i);
	}

	q = &c->kdamonds[0].ctx.schemes[1].quota;
	assert_string_equal(c->kdamonds[0].ctx.schemes[1].name, "goal-only");
	assert_int_equal(q->ms, 0);
	assert_int_equal(q->bytes, 0);
	assert_int_equal(q->nr_goals, 1);
	assert_int_equal(q->goals[0].target_value, 1000);
	assert_int_equal(q->fail_charge_num, 1);
	assert_int_equal(q->fail_charge_denom, 2);
	assert_int_equal(q->fail_charge_mode, DAMOS_FAIL_CHARGE_EMULATE);
	assert_true(q->fail_charge_ager_off);
	assert_false(c->kdamonds[0].ctx.schemes[0].quota.fail_charge_ager_off);

	/* some_mem_psi_us of one cgroup: path as given, a unit as its system.slice cgroup */
	q = &c->kdamonds[0].ctx.schemes[2].quota;
	assert_int_equal(q->nr_goals, 2);
	assert_int_equal(q->goals[0].metric, DAMOS_GOAL_SOME_MEM_PSI_US);
	assert_int_equal(q->goals[0].target_value, 2000);
	assert_string_equal(q->goals[0].path, "/workload");
	assert_int_equal(q->goals[1].metric, DAMOS_GOAL_SOME_MEM_PSI_US);
	assert_int_equal(q->goals[1].target_value, 3000);
	assert_string_equal(q->goals[1].path, "/system.slice/db.service");
	damond_config_free(c);
}

static void test_filters(void **state _unused_)
{
	struct damond_config *c = load_good("filters.yaml");
	const struct damos_cfg *s = &c->kdamonds[0].ctx.schemes[0];
	const struct damos_filter_cfg *f = s->filters;

	assert_int_equal(s->nr_filters, 11);
	/* core_filters first, then ops_filters, then filters (the kernel order) */
	assert_int_equal(f[0].type, DAMOS_FILTER_ADDR);
	assert_int_equal(f[0].layer, DAMOS_FILTER_LAYER_CORE);
	assert_true(f[0].matching);
	assert_false(f[0].allow);
	assert_int_equal(f[0].addr.start, 0x1000);
	assert_int_equal(f[0].addr.end, 0x3000);
	assert_int_equal(f[0].pos.line, 8);
	assert_int_equal(f[1].type, DAMOS_FILTER_TARGET);
	assert_int_equal(f[1].target_idx, 1);
	assert_int_equal(f[2].type, DAMOS_FILTER_ANON);
	assert_int_equal(f[2].layer, DAMOS_FILTER_LAYER_OPS);
	assert_false(f[2].matching);
	assert_int_equal(f[3].type, DAMOS_FILTER_ACTIVE);
	assert_true(f[3].matching); /* default */
	assert_int_equal(f[4].type, DAMOS_FILTER_MEMCG);
	assert_string_equal(f[4].memcg_path, "/system.slice/foo.service");
	assert_true(f[4].allow);
	assert_int_equal(f[5].type, DAMOS_FILTER_YOUNG);
	assert_int_equal(f[6].type, DAMOS_FILTER_HUGEPAGE_SIZE);
	assert_int_equal(f[6].hugepage.min, 2 << 20);
	assert_int_equal(f[6].hugepage.max, 2 << 20);
	assert_int_equal(f[7].type, DAMOS_FILTER_UNMAPPED);
	assert_int_equal(f[7].layer, DAMOS_FILTER_LAYER_OPS);
	assert_int_equal(f[8].type, DAMOS_FILTER_ADDR);
	assert_int_equal(f[8].layer, DAMOS_FILTER_LAYER_AUTO);
	assert_int_equal(f[8].addr.start, 16 << 10);
	assert_int_equal(f[8].addr.end, 32 << 10);
	assert_int_equal(f[9].type, DAMOS_FILTER_ANON);
	assert_true(f[9].matching);
	assert_int_equal(f[10].type, DAMOS_FILTER_TARGET);
	assert_int_equal(f[10].target_idx, 0);
	damond_config_free(c);
}

static void test_watermarks(void **state _unused_)
{
	struct damond_config *c = load_good("watermarks.yaml");
	const struct damos_cfg *s = c->kdamonds[0].ctx.schemes;

	assert_int_equal(s[0].wmarks.metric, DAMOS_WMARK_FREE_MEM_RATE);
	assert_int_equal(s[0].wmarks.interval_us, 10000000);
	assert_int_equal(s[0].wmarks.high, 900);
	assert_int_equal(s[0].wmarks.mid, 800);
	assert_int_equal(s[0].wmarks.low, 125);
	assert_int_equal(s[1].wmarks.metric, DAMOS_WMARK_NONE);
	damond_config_free(c);
}

static void test_load_string(void **state _unused_)
{
	static const char text[] = "kdamonds:\n"
				   "  - name: a\n"
				   "    intervals: {sample: 1ms, aggr: 1ms}\n"
				   "    schemes:\n"
				   "      - action: stat\n"
				   "        access_pattern: {nr_accesses: {min: 100%, max: 100%}}\n";
	struct config_errors errs = {};
	struct damond_config *c = NULL;

	assert_int_equal(config_load_string("inline", text, strlen(text), &c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->path, "inline");
	assert_int_equal(c->kdamonds[0].ctx.schemes[0].nr_accesses.min, 1);
	assert_int_equal(c->kdamonds[0].ctx.schemes[0].nr_accesses.max, 1);
	damond_config_free(c);
	c = NULL;

	/* errors accumulate in errs across calls; a bad load hands nothing out */
	assert_int_equal(config_load_string("x", "kdamonds: 5\n", 12, &c, &errs), -EINVAL);
	assert_null(c);
	assert_int_equal(config_load_string("y", "kdamonds: [{}]\n", 15, &c, &errs), -EINVAL);
	assert_null(c);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.v[0].file, "x");
	assert_string_equal(errs.v[0].key, "kdamonds");
	assert_int_equal(errs.v[0].line, 1);
	assert_int_equal(errs.v[0].column, 11);
	assert_string_equal(errs.v[0].message, "expected a sequence, got a scalar");
	assert_string_equal(errs.v[1].file, "y");
	assert_string_equal(errs.v[1].key, "kdamonds[0].name");
	config_errors_done(&errs);
	assert_int_equal(errs.n, 0);
	assert_null(errs.v);
}

static void test_io_error(void **state _unused_)
{
	struct config_errors errs = {};
	struct damond_config *c = NULL;
	char *s;

	assert_int_equal(config_load_file(FIXTURES_DIR "/configs/does-not-exist.yaml", &c, &errs),
			 -ENOENT);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 0);
	assert_null(errs.v[0].key);
	assert_int_equal(config_error_format(&errs.v[0], &s), 0);
	assert_string_equal(s, FIXTURES_DIR "/configs/does-not-exist.yaml: cannot read configuration: "
					    "No such file or directory");
	free(s);
	config_errors_done(&errs);

	assert_int_equal(config_load_file(FIXTURES_DIR "/configs", &c, &errs), -EISDIR);
	assert_int_equal(errs.n, 1);
	config_errors_done(&errs);
}

static void test_string_tables(void **state _unused_)
{
#define ROUNDTRIP(name, max)                                                                       \
	for (int i = 0; i < (max); i++) {                                                          \
		const char *s = name##_to_string(i);                                               \
		assert_non_null(s);                                                                \
		assert_int_equal(name##_from_string(s), i);                                        \
	}                                                                                          \
	assert_null(name##_to_string(max));                                                        \
	assert_null(name##_to_string(-1));                                                         \
	assert_int_equal(name##_from_string("nope"), -EINVAL);                                     \
	assert_int_equal(name##_from_string(NULL), -EINVAL)

	ROUNDTRIP(damon_ops, _DAMON_OPS_MAX);
	ROUNDTRIP(damos_action, _DAMOS_ACTION_MAX);
	ROUNDTRIP(damos_goal_metric, _DAMOS_GOAL_METRIC_MAX);
	ROUNDTRIP(damos_goal_tuner, _DAMOS_TUNER_MAX);
	ROUNDTRIP(damos_wmark_metric, _DAMOS_WMARK_MAX);
	ROUNDTRIP(damos_filter_type, _DAMOS_FILTER_TYPE_MAX);
	ROUNDTRIP(damos_filter_layer, _DAMOS_FILTER_LAYER_MAX);
	ROUNDTRIP(damos_fail_charge_mode, _DAMOS_FAIL_CHARGE_MAX);
	ROUNDTRIP(damond_on_exit, _DAMOND_ON_EXIT_MAX);
	ROUNDTRIP(damon_module, _DAMON_MODULE_MAX);
	ROUNDTRIP(kdamond_status, _KDAMOND_STATUS_MAX);
	ROUNDTRIP(wmark_status, _WMARK_STATUS_MAX);
	ROUNDTRIP(fail_charge_status, _FAIL_CHARGE_STATUS_MAX);
#undef ROUNDTRIP

	/* to_string only: every value named, once; nothing beyond the end */
#define NAMED(name, max)                                                                   \
	for (int i = 0; i < (max); i++) {                                                  \
		assert_non_null(name##_to_string(i));                                      \
		for (int j = 0; j < i; j++)                                                \
			assert_string_not_equal(name##_to_string(j), name##_to_string(i)); \
	}                                                                                  \
	assert_null(name##_to_string(max));                                                \
	assert_null(name##_to_string(-1))

	NAMED(feature, _FEATURE_MAX);
	NAMED(module_state, _MODULE_STATE_MAX);
	NAMED(refine_verdict, _REFINE_VERDICT_MAX);
#undef NAMED

	/* the status document's words, as damondctl, the metrics and their fixtures spell them */
	assert_string_equal(kdamond_status_to_string(KDAMOND_STATUS_DIED), "died");
	assert_string_equal(wmark_status_to_string(WMARK_STATUS_ACTIVE_OR_HYSTERESIS), "active-or-hysteresis");
	assert_string_equal(wmark_status_to_string(WMARK_STATUS_NONE), "n/a");
	assert_string_equal(fail_charge_status_to_string(FAIL_CHARGE_STATUS_EMULATION_PENDING), "emulation-pending");
	assert_string_equal(module_state_to_string(MODULE_ABSENT), "absent");
	assert_string_equal(feature_to_string(FEATURE_SZ_OPS_FILTER_PASSED), "sz_ops_filter_passed");
	assert_string_equal(refine_verdict_to_string(REFINE_NOTHING), "nothing-to-split");

	assert_string_equal(damon_ops_to_string(DAMON_OPS_FVADDR), "fvaddr");
	assert_string_equal(damos_action_to_string(DAMOS_LRU_DEPRIO), "lru_deprio");
	assert_string_equal(damos_action_to_string(DAMOS_COLLAPSE), "collapse");
	assert_string_equal(damos_goal_metric_to_string(DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP),
			    "node_eligible_mem_bp");
	assert_string_equal(damos_filter_type_to_string(DAMOS_FILTER_HUGEPAGE_SIZE),
			    "hugepage_size");
	assert_string_equal(damon_module_to_string(DAMON_MODULE_LRU_SORT), "damon_lru_sort");
	assert_true(damos_filter_type_is_core(DAMOS_FILTER_ADDR));
	assert_true(damos_filter_type_is_core(DAMOS_FILTER_TARGET));
	assert_false(damos_filter_type_is_core(DAMOS_FILTER_ANON));
	assert_false(damos_filter_type_is_core(DAMOS_FILTER_UNMAPPED));
}

static void test_init_defaults(void **state _unused_)
{
	struct damos_cfg s;
	struct damon_ctx_cfg x;
	struct damond_settings st;

	damos_cfg_init(&s);
	assert_int_equal(s.action, DAMOS_STAT);
	assert_int_equal(s.target_nid, -1);
	assert_default_scheme_pattern(&s);
	assert_int_equal(s.quota.reset_interval_ms, 1000);
	assert_int_equal(s.quota.fail_charge_mode, DAMOS_FAIL_CHARGE_OFF);
	assert_int_equal(s.wmarks.metric, DAMOS_WMARK_NONE);
	damos_cfg_done(&s);

	damon_ctx_cfg_init(&x);
	assert_int_equal(x.sample_us, 5000);
	assert_int_equal(x.aggr_us, 100000);
	assert_int_equal(x.update_us, 1000000);
	assert_int_equal(x.min_nr_regions, 10);
	assert_int_equal(x.max_nr_regions, 1000);
	assert_int_equal(x.addr_unit, 1);

	damond_settings_init(&st);
	assert_int_equal(st.on_exit, DAMOND_ON_EXIT_STOP);
	assert_int_equal(st.stats_interval_us, 1000000);
	assert_null(st.control_group);
}

static void test_greedy_append(void **state _unused_)
{
	int *v = NULL;
	size_t n = 0, cap = 0;

	for (int i = 0; i < 1000; i++) {
		int *e = APPEND(v, n, cap);

		assert_non_null(e);
		assert_int_equal(*e, 0);
		*e = i;
	}
	assert_int_equal(n, 1000);
	assert_true(cap >= n);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	free(v);
	assert_null(strdup_or_null(NULL));
	{
		char *s = strdup_or_null("x");

		assert_string_equal(s, "x");
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),        cmocka_unit_test(test_good_files_load),
		cmocka_unit_test(test_warn_files),       cmocka_unit_test(test_conf_sample),
		cmocka_unit_test(test_minimal_defaults), cmocka_unit_test(test_vaddr),
		cmocka_unit_test(test_metrics_textfile), cmocka_unit_test(test_fvaddr),
		cmocka_unit_test(test_paddr_regions),    cmocka_unit_test(test_regions_node),
		cmocka_unit_test(test_actions),          cmocka_unit_test(test_goals),
		cmocka_unit_test(test_filters),          cmocka_unit_test(test_watermarks),
		cmocka_unit_test(test_load_string),      cmocka_unit_test(test_io_error),
		cmocka_unit_test(test_string_tables),    cmocka_unit_test(test_init_defaults),
		cmocka_unit_test(test_greedy_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
