/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the fake kernel itself against shared/docs/kernel-damon.md:
 * nr_* recreating defaults per profile, value parsing, state commands and
 * their errors, the global lock, 6.12's silent death on a bad commit, the
 * log, and the LD_PRELOAD routing (when FAKE_DAMON_PRELOAD names the shim).
 *
 * Run with "--write ROOT RELPATH VALUE" the binary is the preload test's
 * child: it does one openat(O_WRONLY) + write(2) and exits with 0 or the errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-damon.h"

#define KD "kernel/mm/damon/admin/kdamonds"
#define K0 KD "/0"
#define C0 K0 "/contexts/0"
#define S0 C0 "/schemes/0"
#define S1 C0 "/schemes/1"

struct t {
	char root[PATH_MAX];
};

static ssize_t st(const char *root, const char *rel, const char *val)
{
	return fake_damon_store(root, rel, val, strlen(val));
}

#define OK(rel, val) assert_int_equal(st(T->root, (rel), (val)), (ssize_t)strlen(val))
#define ERR(rel, val, e) assert_int_equal(st(T->root, (rel), (val)), -(e))
#define FILE_IS(rel, expected)                                                                     \
	do {                                                                                       \
		char _b[4096];                                                                     \
		assert_int_equal(fake_damon_read(T->root, (rel), _b, sizeof(_b)), 0);              \
		assert_string_equal(_b, (expected));                                               \
	} while (0)
#define COMMITTED_IS(rel, expected)                                                                \
	do {                                                                                       \
		char _b[4096];                                                                     \
		assert_int_equal(fake_damon_read_committed(T->root, 0, (rel), _b, sizeof(_b)), 0); \
		assert_string_equal(_b, (expected));                                               \
	} while (0)
#define EXISTS(rel) assert_true(exists(T->root, (rel)))
#define ABSENT(rel) assert_false(exists(T->root, (rel)))
#define LOG(prefix) fake_damon_log_count(T->root, (prefix))

static bool exists(const char *root, const char *rel)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/%s", root, rel) >= (int)sizeof(p))
		return false;
	return access(p, F_OK) == 0;
}

static int setup_profile(void **state, const char *profile)
{
	const char *tmp = getenv("TMPDIR");
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	if (snprintf(t->root, sizeof(t->root), "%s/test-fake-damon-XXXXXX",
		     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(t->root) ||
	    !mkdtemp(t->root) || fake_damon_init(t->root, profile) < 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int setup_612(void **state)
{
	return setup_profile(state, "6.12");
}

static int setup_72(void **state)
{
	return setup_profile(state, "7.2");
}

static int setup_73(void **state)
{
	return setup_profile(state, "7.3");
}

static int teardown(void **state)
{
	struct t *t = *state;

	(void)unsetenv("FAKE_DAMON_PROCFS"); /* test_pid_exists*: the next test has no procfs root */
	assert_int_equal(fake_damon_destroy(t->root), 0);
	free(t);
	return 0;
}

/* One kdamond, one paddr context, one target, nr_schemes stat schemes; modules off. */
static void setup_paddr(struct t *T, const char *nr_schemes)
{
	(void)fake_damon_set_module(T->root, "damon_stat", false);
	OK(KD "/nr_kdamonds", "1");
	OK(K0 "/contexts/nr_contexts", "1");
	OK(C0 "/operations", "paddr");
	OK(C0 "/targets/nr_targets", "1");
	OK(C0 "/schemes/nr_schemes", nr_schemes);
}

/* ------------------------------------------------------------------ */

static void test_init_612(void **state)
{
	struct t *T = *state;

	FILE_IS(".fake-damon/profile", "6.12");
	FILE_IS(KD "/nr_kdamonds", "0");
	FILE_IS("module/damon_reclaim/parameters/enabled", "N");
	FILE_IS("module/damon_lru_sort/parameters/enabled", "N");
	ABSENT("module/damon_stat");
	ABSENT("kernel/btf");

	OK(KD "/nr_kdamonds", "1");
	FILE_IS(K0 "/state", "off");
	FILE_IS(K0 "/pid", "-1");
	FILE_IS(K0 "/contexts/nr_contexts", "0");
	ABSENT(K0 "/refresh_ms");

	OK(K0 "/contexts/nr_contexts", "1");
	FILE_IS(C0 "/operations", "vaddr");
	FILE_IS(C0 "/avail_operations", "vaddr\nfvaddr\npaddr");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "5000");
	FILE_IS(C0 "/monitoring_attrs/intervals/aggr_us", "100000");
	FILE_IS(C0 "/monitoring_attrs/intervals/update_us", "60000000");
	FILE_IS(C0 "/monitoring_attrs/nr_regions/min", "10");
	FILE_IS(C0 "/monitoring_attrs/nr_regions/max", "1000");
	ABSENT(C0 "/addr_unit");
	ABSENT(C0 "/pause");
	ABSENT(C0 "/monitoring_attrs/probes");
	ABSENT(C0 "/monitoring_attrs/intervals/intervals_goal");

	OK(C0 "/targets/nr_targets", "1");
	FILE_IS(C0 "/targets/0/pid_target", "0");
	FILE_IS(C0 "/targets/0/regions/nr_regions", "0");
	ABSENT(C0 "/targets/0/obsolete_target");

	OK(C0 "/schemes/nr_schemes", "1");
	FILE_IS(S0 "/action", "stat");
	FILE_IS(S0 "/target_nid", "-1");
	FILE_IS(S0 "/access_pattern/sz/max", "0");
	FILE_IS(S0 "/quotas/reset_interval_ms", "0");
	FILE_IS(S0 "/watermarks/metric", "none");
	FILE_IS(S0 "/stats/nr_tried", "0");
	FILE_IS(S0 "/tried_regions/total_bytes", "0");
	FILE_IS(S0 "/filters/nr_filters", "0");
	ABSENT(S0 "/core_filters");
	ABSENT(S0 "/ops_filters");
	ABSENT(S0 "/dests");
	ABSENT(S0 "/quotas/goal_tuner");
	ABSENT(S0 "/quotas/fail_charge_num");
	ABSENT(S0 "/stats/nr_snapshots");
	ABSENT(S0 "/stats/max_nr_snapshots");
	ABSENT(S0 "/stats/sz_ops_filter_passed");

	OK(S0 "/filters/nr_filters", "1");
	FILE_IS(S0 "/filters/0/type", "anon");
	FILE_IS(S0 "/filters/0/matching", "N");
	FILE_IS(S0 "/filters/0/memcg_path", "");
	FILE_IS(S0 "/filters/0/damon_target_idx", "0");
	ABSENT(S0 "/filters/0/allow");
	ABSENT(S0 "/filters/0/min");

	OK(S0 "/quotas/goals/nr_goals", "1");
	FILE_IS(S0 "/quotas/goals/0/target_metric", "user_input");
	ABSENT(S0 "/quotas/goals/0/nid");
	ABSENT(S0 "/quotas/goals/0/path");
}

static void test_init_72(void **state)
{
	struct t *T = *state;

	FILE_IS("module/damon_stat/parameters/enabled", "Y");
	OK(KD "/nr_kdamonds", "2");
	EXISTS(KD "/1/state");
	FILE_IS(K0 "/refresh_ms", "0");
	OK(K0 "/contexts/nr_contexts", "1");
	FILE_IS(C0 "/addr_unit", "1");
	FILE_IS(C0 "/pause", "N");
	FILE_IS(C0 "/monitoring_attrs/intervals/intervals_goal/aggrs", "0");
	FILE_IS(C0 "/monitoring_attrs/probes/nr_probes", "0");
	OK(C0 "/monitoring_attrs/probes/nr_probes", "1");
	FILE_IS(C0 "/monitoring_attrs/probes/0/filters/nr_filters", "0");
	ABSENT(C0 "/monitoring_attrs/probes/0/weight");
	OK(C0 "/targets/nr_targets", "1");
	FILE_IS(C0 "/targets/0/obsolete_target", "N");
	OK(C0 "/schemes/nr_schemes", "1");
	FILE_IS(S0 "/quotas/goal_tuner", "consist");
	FILE_IS(S0 "/quotas/fail_charge_num", "0");
	FILE_IS(S0 "/quotas/fail_charge_denom", "0");
	FILE_IS(S0 "/core_filters/nr_filters", "0");
	FILE_IS(S0 "/ops_filters/nr_filters", "0");
	FILE_IS(S0 "/filters/nr_filters", "0");
	FILE_IS(S0 "/dests/nr_dests", "0");
	FILE_IS(S0 "/stats/max_nr_snapshots", "0");
	FILE_IS(S0 "/stats/nr_snapshots", "0");
	FILE_IS(S0 "/stats/sz_ops_filter_passed", "0");
	OK(S0 "/ops_filters/nr_filters", "1");
	FILE_IS(S0 "/ops_filters/0/allow", "N");
	FILE_IS(S0 "/ops_filters/0/min", "0");
	OK(S0 "/quotas/goals/nr_goals", "1");
	FILE_IS(S0 "/quotas/goals/0/nid", "0");
	FILE_IS(S0 "/quotas/goals/0/path", "");
	OK(S0 "/dests/nr_dests", "1");
	FILE_IS(S0 "/dests/0/id", "0");
	FILE_IS(S0 "/dests/0/weight", "0");
}

static void test_init_73(void **state)
{
	struct t *T = *state;

	FILE_IS("module/damon_stat/parameters/enabled", "Y");
	setup_paddr(T, "1");
	OK(C0 "/monitoring_attrs/probes/nr_probes", "2");
	FILE_IS(C0 "/monitoring_attrs/probes/1/weight", "0");
}

static void test_nr_rules(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(S0 "/action", "pageout");
	OK(S0 "/access_pattern/sz/max", "4096");
	/* Same number: still fresh children with defaults. */
	OK(C0 "/schemes/nr_schemes", "1");
	FILE_IS(S0 "/action", "stat");
	FILE_IS(S0 "/access_pattern/sz/max", "0");
	OK(C0 "/schemes/nr_schemes", "0x2");
	FILE_IS(C0 "/schemes/nr_schemes", "2");
	EXISTS(S1 "/action");
	OK(C0 "/schemes/nr_schemes", "1\n");
	ABSENT(S1);
	assert_int_equal(LOG("nr " C0 "/schemes/nr_schemes 2"), 1);
	assert_int_equal(LOG("nr " C0 "/schemes/nr_schemes 1"), 3);

	ERR(K0 "/contexts/nr_contexts", "2", EINVAL);
	ERR(C0 "/monitoring_attrs/probes/nr_probes", "5", EINVAL);
	OK(C0 "/monitoring_attrs/probes/nr_probes", "4");
	ERR(C0 "/targets/nr_targets", "-1", EINVAL);
	ERR(C0 "/targets/nr_targets", "abc", EINVAL);
	ERR(C0 "/targets/nr_targets", "1 ", EINVAL);
	ERR(C0 "/targets/nr_targets", "99999999999", ERANGE);
	assert_int_equal(LOG("fail nr " C0 "/targets/nr_targets -1 EINVAL"), 1);
	FILE_IS(C0 "/targets/nr_targets", "1");
	assert_int_equal(st(T->root, C0 "/targets/nr_targets", ""), 0);
	/* nr_contexts 0 removes the context. */
	OK(K0 "/contexts/nr_contexts", "0");
	ABSENT(C0);
}

static void test_values(void **state)
{
	struct t *T = *state;
	char big[5000];

	setup_paddr(T, "1");
	OK(C0 "/monitoring_attrs/intervals/sample_us", "0x10");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "16");
	OK(C0 "/monitoring_attrs/intervals/sample_us", "010");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "8");
	OK(C0 "/monitoring_attrs/intervals/sample_us", "+7\n");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "7");
	ERR(C0 "/monitoring_attrs/intervals/sample_us", "08", EINVAL);
	ERR(C0 "/monitoring_attrs/intervals/sample_us", "-1", EINVAL);
	ERR(C0 "/monitoring_attrs/intervals/sample_us", " 5", EINVAL);
	ERR(C0 "/monitoring_attrs/intervals/sample_us", "5ms", EINVAL);
	ERR(C0 "/monitoring_attrs/intervals/sample_us", "0x", EINVAL);
	ERR(C0 "/monitoring_attrs/intervals/sample_us", "18446744073709551616", ERANGE);
	OK(C0 "/monitoring_attrs/intervals/sample_us", "18446744073709551615");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "18446744073709551615");
	ERR(C0 "/addr_unit", "0", EINVAL);
	OK(C0 "/addr_unit", "4");
	ERR(S0 "/quotas/weights/sz_permil", "4294967296", ERANGE);
	OK(S0 "/quotas/weights/sz_permil", "4294967295");
	OK(S0 "/target_nid", "-5");
	FILE_IS(S0 "/target_nid", "-5");
	ERR(S0 "/target_nid", "2147483648", ERANGE);

	OK(S0 "/action", "collapse\n");
	FILE_IS(S0 "/action", "collapse");
	ERR(S0 "/action", "collapse\n\n", EINVAL);
	ERR(S0 "/action", "Pageout", EINVAL);
	OK(S0 "/quotas/goal_tuner", "temporal");
	ERR(S0 "/quotas/goal_tuner", "fast", EINVAL);
	OK(S0 "/watermarks/metric", "free_mem_rate");
	ERR(S0 "/watermarks/metric", "free_mem", EINVAL);

	OK(S0 "/core_filters/nr_filters", "1");
	OK(S0 "/ops_filters/nr_filters", "1");
	OK(S0 "/filters/nr_filters", "1");
	ERR(S0 "/core_filters/0/type", "anon", EINVAL);
	OK(S0 "/core_filters/0/type", "addr");
	ERR(S0 "/ops_filters/0/type", "addr", EINVAL);
	OK(S0 "/ops_filters/0/type", "hugepage_size");
	OK(S0 "/filters/0/type", "target");
	OK(S0 "/filters/0/type", "young");

	OK(S0 "/filters/0/matching", "on");
	FILE_IS(S0 "/filters/0/matching", "Y");
	OK(S0 "/filters/0/matching", "off");
	FILE_IS(S0 "/filters/0/matching", "N");
	OK(S0 "/filters/0/matching", "yes");
	FILE_IS(S0 "/filters/0/matching", "Y");
	OK(S0 "/filters/0/matching", "0");
	FILE_IS(S0 "/filters/0/matching", "N");
	ERR(S0 "/filters/0/matching", "x", EINVAL);
	OK(S0 "/filters/0/memcg_path", "  /system.slice/foo.service extra\n");
	FILE_IS(S0 "/filters/0/memcg_path", "/system.slice/foo.service");

	ERR(K0 "/pid", "5", EACCES);
	ERR(C0 "/avail_operations", "paddr", EACCES);
	ERR(S0 "/quotas/effective_bytes", "5", EACCES);
	ERR(S0 "/stats/nr_tried", "5", EACCES);
	ERR(S0 "/stats/nr_snapshots", "5", EACCES);
	ERR(S0 "/tried_regions/total_bytes", "5", EACCES);
	OK(S0 "/stats/max_nr_snapshots", "3");
	FILE_IS(S0 "/stats/max_nr_snapshots", "3");

	ERR(C0 "/no_such_file", "1", ENOENT);
	ERR(C0 "/schemes", "1", EISDIR);
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ERR(C0 "/monitoring_attrs/intervals/aggr_us", big, E2BIG);
	assert_int_equal(LOG("set " S0 "/filters/0/memcg_path /system.slice/foo.service"), 1);
}

static void test_values_612(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	ERR(S0 "/action", "collapse", EINVAL);
	OK(S0 "/action", "migrate_cold");
	OK(S0 "/filters/nr_filters", "1");
	ERR(S0 "/filters/0/type", "hugepage_size", EINVAL);
	ERR(S0 "/filters/0/type", "active", EINVAL);
	OK(S0 "/filters/0/type", "addr");
	OK(S0 "/quotas/goals/nr_goals", "1");
	ERR(S0 "/quotas/goals/0/target_metric", "node_mem_used_bp", EINVAL);
	OK(S0 "/quotas/goals/0/target_metric", "some_mem_psi_us");
	OK(K0 "/state", "on");
	ERR(K0 "/state", "update_tuned_intervals", EINVAL);
}

static void test_on_off_72(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(S0 "/quotas/bytes", "1048576");
	ERR(K0 "/state", "off", EINVAL); /* never started */
	assert_int_equal(fake_damon_set_module(T->root, "damon_stat", true), 0);
	ERR(K0 "/state", "on", EBUSY);
	assert_int_equal(LOG("fail kdamond 0 on EBUSY"), 1);
	OK("module/damon_stat/parameters/enabled", "N");
	assert_int_equal(LOG("module damon_stat enabled N"), 1);
	OK(K0 "/state", "on\n");
	FILE_IS(K0 "/state", "on");
	FILE_IS(K0 "/pid", "4242");
	FILE_IS(S0 "/quotas/effective_bytes", "1048576");
	assert_int_equal(LOG("kdamond 0 on pid=4242"), 1);
	ERR(K0 "/state", "on", EBUSY);
	ERR(KD "/nr_kdamonds", "1", EBUSY);
	ERR("module/damon_stat/parameters/enabled", "Y", EBUSY);
	FILE_IS("module/damon_stat/parameters/enabled", "N");
	ERR("module/damon_reclaim/parameters/enabled", "Y", EBUSY);
	/* Other nr_* files stay writable while running. */
	OK(C0 "/schemes/nr_schemes", "1");
	OK(K0 "/state", "off");
	FILE_IS(K0 "/state", "off");
	FILE_IS(K0 "/pid", "-1");
	ERR(K0 "/state", "off", EPERM); /* 7.2: __damon_stop() on a stopped ctx */
	OK(K0 "/state", "on");
	FILE_IS(K0 "/pid", "4243");
	ERR(K0 "/state", "bogus", EINVAL);
	OK(K0 "/state", "off");
	assert_int_equal(LOG("kdamond 0 off"), 2);
	OK(KD "/nr_kdamonds", "1");
	ERR(K0 "/state", "off", EINVAL); /* fresh dir: no ctx */
	ERR(K0 "/state", "on", EINVAL);	 /* nr_contexts 0 */
}

static void test_off_73(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(K0 "/state", "on");
	OK(K0 "/state", "off");
	OK(K0 "/state", "off"); /* 7.3: stopping a stopped kdamond is fine */
	FILE_IS(K0 "/state", "off");
}

static void test_on_validation(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(C0 "/monitoring_attrs/nr_regions/min", "2");
	ERR(K0 "/state", "on", EINVAL);
	OK(C0 "/monitoring_attrs/nr_regions/min", "2000");
	ERR(K0 "/state", "on", EINVAL);
	OK(C0 "/monitoring_attrs/nr_regions/min", "10");
	OK(C0 "/monitoring_attrs/intervals/sample_us", "200000");
	ERR(K0 "/state", "on", EINVAL);
	OK(C0 "/monitoring_attrs/intervals/sample_us", "5000");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/aggrs", "3");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/min_sample_us", "6000");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/max_sample_us", "10000");
	ERR(K0 "/state", "on", EINVAL); /* sample_us outside [min, max] */
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/aggrs", "0");
	OK(C0 "/addr_unit", "3");
	ERR(K0 "/state", "on", EINVAL); /* 4096 / 3 is not a power of two */
	OK(C0 "/addr_unit", "1");

	OK(C0 "/targets/nr_targets", "2");
	ERR(K0 "/state", "on", EINVAL); /* paddr with two targets */
	OK(C0 "/targets/nr_targets", "1");
	OK(C0 "/targets/0/regions/nr_regions", "2");
	OK(C0 "/targets/0/regions/0/start", "0x100000");
	OK(C0 "/targets/0/regions/0/end", "0x300000");
	OK(C0 "/targets/0/regions/1/start", "0x200000");
	OK(C0 "/targets/0/regions/1/end", "0x400000");
	ERR(K0 "/state", "on", EINVAL); /* overlap */
	OK(C0 "/targets/0/regions/1/start", "0x300000");

	OK(S0 "/core_filters/nr_filters", "1");
	OK(S0 "/core_filters/0/type", "addr");
	OK(S0 "/core_filters/0/addr_start", "100");
	ERR(K0 "/state", "on", ENOMEM); /* addr_end < addr_start */
	OK(S0 "/core_filters/0/addr_end", "200");
	OK(S0 "/ops_filters/nr_filters", "1");
	OK(S0 "/ops_filters/0/type", "memcg");
	ERR(K0 "/state", "on", ENOMEM); /* memcg path that does not resolve */
	OK(S0 "/ops_filters/0/memcg_path", "/a");

	OK(S0 "/quotas/goals/nr_goals", "1");
	OK(S0 "/quotas/goals/0/target_metric", "node_eligible_mem_bp");
	OK(C0 "/operations", "vaddr");
	OK(C0 "/targets/0/regions/nr_regions", "0");
	ERR(K0 "/state", "on", EINVAL); /* vaddr target with pid 0 */
	OK(C0 "/targets/0/pid_target", "1");
	OK(K0 "/state", "on"); /* 7.2 checks node_eligible_mem_bp only at commit */
	ERR(K0 "/state", "commit", EINVAL);
	FILE_IS(K0 "/state", "on");
	OK(S0 "/quotas/goals/0/target_metric", "user_input");
	OK(K0 "/state", "commit");
	assert_int_equal(LOG("kdamond 0 commit"), 1);
}

static void test_commit_72(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	ERR(K0 "/state", "commit", EINVAL); /* no ctx */
	ERR(K0 "/state", "update_schemes_stats", EINVAL);
	OK(S0 "/quotas/bytes", "100");
	OK(K0 "/state", "on");
	COMMITTED_IS("schemes/0/quotas/bytes", "100");
	assert_int_equal(fake_damon_log_clear(T->root), 0);

	OK(S0 "/quotas/bytes", "200");
	OK(C0 "/monitoring_attrs/nr_regions/min", "1");
	ERR(K0 "/state", "commit", EINVAL);
	FILE_IS(K0 "/state", "on");
	FILE_IS(K0 "/pid", "4242");
	COMMITTED_IS("schemes/0/quotas/bytes", "100");
	assert_int_equal(LOG("kdamond 0 commit"), 0);
	assert_int_equal(LOG("fail kdamond 0 commit EINVAL"), 1);

	OK(C0 "/monitoring_attrs/nr_regions/min", "10");
	OK(K0 "/state", "commit");
	COMMITTED_IS("schemes/0/quotas/bytes", "200");
	FILE_IS(K0 "/pid", "4242");
	assert_int_equal(LOG("kdamond 0 commit"), 1);
	assert_int_equal(LOG("kdamond 0 on"), 0);
	assert_int_equal(LOG("kdamond 0 off"), 0);

	OK(K0 "/state", "commit_schemes_quota_goals");
	assert_int_equal(LOG("kdamond 0 commit_schemes_quota_goals"), 1);
	assert_int_equal(LOG("kdamond 0 commit"), 1);

	OK(K0 "/state", "off");
	ERR(K0 "/state", "commit", ECANCELED);
	ERR(K0 "/state", "update_schemes_stats", ECANCELED);
	ERR(K0 "/state", "update_tuned_intervals", ECANCELED);
	OK(K0 "/state", "clear_schemes_tried_regions");
}

static void test_commit_612_kills(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	ERR(K0 "/state", "commit", EINVAL);
	OK(K0 "/state", "on");
	OK(K0 "/state", "commit");
	FILE_IS(K0 "/state", "on");
	OK(C0 "/monitoring_attrs/intervals/sample_us", "1000000"); /* > aggr_us */
	OK(K0 "/state", "commit"); /* the writer sees success ... */
	FILE_IS(K0 "/state", "off"); /* ... and the kdamond is gone */
	FILE_IS(K0 "/pid", "-1");
	assert_int_equal(LOG("kdamond 0 died"), 1);
	ERR(K0 "/state", "update_schemes_stats", EINVAL);
	ERR(K0 "/state", "commit", EINVAL);
	ERR(K0 "/state", "off", EPERM);
	OK(C0 "/monitoring_attrs/intervals/sample_us", "5000");
	OK(K0 "/state", "on");
	FILE_IS(K0 "/pid", "4243");
}

static void test_busy(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	assert_int_equal(fake_damon_set_busy(T->root, -1), 0);
	ERR(K0 "/state", "on", EBUSY);
	ERR(C0 "/targets/nr_targets", "1", EBUSY);
	ERR(S0 "/filters/nr_filters", "1", EBUSY);
	OK(S0 "/quotas/bytes", "5"); /* plain values take no lock */
	OK(S0 "/action", "cold");
	ERR(S0 "/filters/0/memcg_path", "/x", ENOENT);
	assert_int_equal(LOG("fail kdamond 0 on EBUSY"), 1);
	assert_int_equal(fake_damon_set_busy(T->root, 0), 0);
	OK(S0 "/filters/nr_filters", "1");
	assert_int_equal(fake_damon_set_busy(T->root, -1), 0);
	ERR(S0 "/filters/0/memcg_path", "/x", EBUSY);

	assert_int_equal(fake_damon_set_busy(T->root, 2), 0);
	ERR(K0 "/state", "on", EBUSY);
	ERR(K0 "/state", "on", EBUSY);
	OK(S0 "/filters/0/memcg_path", "/x");
	OK(K0 "/state", "on");
	FILE_IS(".fake-damon/busy", "0");
}

static void test_stats(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "2");
	OK(S0 "/action", "pageout");
	OK(S0 "/quotas/bytes", "4096");
	OK(S0 "/stats/max_nr_snapshots", "0");
	OK(S1 "/stats/max_nr_snapshots", "3");
	OK(K0 "/state", "on");
	OK(K0 "/state", "update_schemes_stats");
	OK(K0 "/state", "update_schemes_stats");
	FILE_IS(S0 "/stats/nr_tried", "20");
	FILE_IS(S0 "/stats/sz_tried", "20971520");
	FILE_IS(S0 "/stats/nr_applied", "10");
	FILE_IS(S0 "/stats/sz_applied", "8388608");
	FILE_IS(S0 "/stats/qt_exceeds", "2");
	FILE_IS(S0 "/stats/nr_snapshots", "2");
	FILE_IS(S1 "/stats/nr_tried", "20");
	FILE_IS(S1 "/stats/nr_applied", "0");
	FILE_IS(S1 "/stats/sz_applied", "0");
	FILE_IS(S1 "/stats/qt_exceeds", "0");
	/* max_nr_snapshots: scheme 1 stops after 3 snapshots. */
	OK(K0 "/state", "update_schemes_stats");
	OK(K0 "/state", "update_schemes_stats");
	FILE_IS(S1 "/stats/nr_snapshots", "3");
	FILE_IS(S1 "/stats/nr_tried", "30");
	FILE_IS(S0 "/stats/nr_tried", "40");

	/* Stats follow the slot across a commit; a new slot starts at zero. */
	OK(C0 "/schemes/nr_schemes", "1");
	FILE_IS(S0 "/stats/nr_tried", "0");
	OK(K0 "/state", "commit");
	OK(C0 "/schemes/nr_schemes", "2");
	OK(K0 "/state", "commit");
	OK(K0 "/state", "update_schemes_stats");
	FILE_IS(S0 "/stats/nr_tried", "50");
	FILE_IS(S0 "/stats/nr_applied", "20"); /* kept; the commit pushed action "stat" */
	FILE_IS(S1 "/stats/nr_tried", "10");

	/* Paused (7.2): nothing moves. */
	OK(C0 "/pause", "Y");
	OK(K0 "/state", "commit");
	OK(K0 "/state", "update_schemes_stats");
	FILE_IS(S0 "/stats/nr_tried", "50");
	ERR(K0 "/state", "update_schemes_tried_regions", ECANCELED);

	OK(S0 "/quotas/bytes", "12345");
	OK(K0 "/state", "update_schemes_effective_quotas");
	FILE_IS(S0 "/quotas/effective_bytes", "0"); /* staged, not committed yet */
	OK(K0 "/state", "commit");
	OK(K0 "/state", "update_schemes_effective_quotas");
	FILE_IS(S0 "/quotas/effective_bytes", "12345");
}

static void test_stats_612(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(K0 "/state", "on");
	OK(K0 "/state", "update_schemes_stats");
	FILE_IS(S0 "/stats/nr_tried", "10");
	ABSENT(S0 "/stats/nr_snapshots");
}

static void test_tried_regions(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(C0 "/monitoring_attrs/probes/nr_probes", "1");
	ERR(K0 "/state", "update_schemes_tried_regions", EINVAL);
	OK(K0 "/state", "on");
	OK(K0 "/state", "update_schemes_tried_regions");
	FILE_IS(S0 "/tried_regions/total_bytes", "2097152");
	FILE_IS(S0 "/tried_regions/0/start", "1048576");
	FILE_IS(S0 "/tried_regions/1/end", "3145728");
	FILE_IS(S0 "/tried_regions/0/sz_filter_passed", "0");
	FILE_IS(S0 "/tried_regions/0/probes/0/hits", "0");
	ERR(S0 "/tried_regions/0/start", "5", EACCES);
	OK(K0 "/state", "clear_schemes_tried_regions");
	ABSENT(S0 "/tried_regions/0");
	FILE_IS(S0 "/tried_regions/total_bytes", "0");
	OK(K0 "/state", "update_schemes_tried_bytes");
	ABSENT(S0 "/tried_regions/0");
	FILE_IS(S0 "/tried_regions/total_bytes", "2097152");
	OK(C0 "/schemes/nr_schemes", "0");
	OK(K0 "/state", "commit");
	ERR(K0 "/state", "update_schemes_tried_bytes", ECANCELED);
}

static void test_tuned_intervals(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/aggrs", "3");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/access_bp", "400");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/min_sample_us", "5000");
	OK(C0 "/monitoring_attrs/intervals/intervals_goal/max_sample_us", "8000");
	OK(K0 "/state", "on");
	OK(K0 "/state", "update_tuned_intervals");
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "8000");
	FILE_IS(C0 "/monitoring_attrs/intervals/aggr_us", "160000");
	assert_int_equal(LOG("kdamond 0 update_tuned_intervals"), 1);
}

static void test_commit_keeps_regions(void **state)
{
	struct t *T = *state;

	setup_paddr(T, "1");
	OK(C0 "/targets/0/regions/nr_regions", "1");
	OK(C0 "/targets/0/regions/0/start", "4096");
	OK(C0 "/targets/0/regions/0/end", "8192");
	OK(K0 "/state", "on");
	COMMITTED_IS("targets/0/regions/0/end", "8192");
	OK(C0 "/targets/nr_targets", "1"); /* nr_regions back to 0 */
	OK(K0 "/state", "commit");
	COMMITTED_IS("targets/0/regions/0/end", "8192");
	COMMITTED_IS("targets/0/regions/nr_regions", "1");
	OK(C0 "/targets/0/regions/nr_regions", "1");
	OK(C0 "/targets/0/regions/0/end", "12288");
	OK(K0 "/state", "commit");
	COMMITTED_IS("targets/0/regions/0/end", "12288");
}

/* Fault injection: each kind fires once, at the armed store, and is recorded. */
/* With FAKE_DAMON_PROCFS (the test's procfs root), a vaddr target's pid must be one of the fake
 * machine's processes, as the kernel's find_get_pid() wants: else 'on' and 'commit' fail with EINVAL. */
static void make_procfs(struct t *T, char *procfs, size_t size, const char *pid)
{
	char dir[PATH_MAX];

	assert_true(snprintf(procfs, size, "%s/proc", T->root) < (int)size);
	assert_int_equal(mkdir(procfs, 0755), 0);
	assert_true(snprintf(dir, sizeof(dir), "%s/%s", procfs, pid) < (int)sizeof(dir));
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(setenv("FAKE_DAMON_PROCFS", procfs, 1), 0);
}

static void test_pid_exists(void **state)
{
	struct t *T = *state;
	char procfs[PATH_MAX];

	make_procfs(T, procfs, sizeof(procfs), "1000");
	setup_paddr(T, "1");
	OK(C0 "/operations", "vaddr");
	OK(C0 "/targets/0/pid_target", "30000");
	ERR(K0 "/state", "on", EINVAL); /* no process has pid 30000 */
	FILE_IS(K0 "/state", "off");
	FILE_IS(K0 "/pid", "-1");
	assert_int_equal(LOG("fail kdamond 0 on EINVAL"), 1);
	OK(C0 "/targets/0/pid_target", "1000");
	OK(K0 "/state", "on");
	COMMITTED_IS("targets/0/pid_target", "1000");

	/* 7.x validates a commit on a copy: refused, the kdamond keeps its target */
	OK(C0 "/targets/0/pid_target", "30000");
	ERR(K0 "/state", "commit", EINVAL);
	FILE_IS(K0 "/state", "on");
	COMMITTED_IS("targets/0/pid_target", "1000");
	assert_int_equal(LOG("fail kdamond 0 commit EINVAL"), 1);

	/* the fault 'exit': process 1000 exits right before the store (the commit) */
	OK(C0 "/targets/0/pid_target", "1000");
	assert_int_equal(fake_damon_set_fault(T->root, 1, "exit", 1000), 0);
	ERR(K0 "/state", "commit", EINVAL);
	assert_int_equal(LOG("fault"), 1);
	assert_false(exists(T->root, "proc/1000"));
	COMMITTED_IS("targets/0/pid_target", "1000");

	/* without a procfs root every pid > 0 is taken to exist */
	OK(C0 "/targets/0/pid_target", "30000");
	assert_int_equal(unsetenv("FAKE_DAMON_PROCFS"), 0);
	OK(K0 "/state", "commit");
	COMMITTED_IS("targets/0/pid_target", "30000");
}

/* 6.12: a commit naming a missing pid returns success and the kdamond dies */
static void test_pid_exists_612(void **state)
{
	struct t *T = *state;
	char procfs[PATH_MAX];

	make_procfs(T, procfs, sizeof(procfs), "1000");
	setup_paddr(T, "1");
	OK(C0 "/operations", "vaddr");
	OK(C0 "/targets/0/pid_target", "30000");
	ERR(K0 "/state", "on", EINVAL);
	OK(C0 "/targets/0/pid_target", "1000");
	OK(K0 "/state", "on");
	OK(C0 "/targets/0/pid_target", "30000");
	OK(K0 "/state", "commit");
	FILE_IS(K0 "/state", "off");
	assert_int_equal(LOG("kdamond 0 died (commit EINVAL)"), 1);
}

static void test_faults(void **state)
{
	struct t *T = *state;
	unsigned long long n0, n;

	setup_paddr(T, "1");
	assert_int_equal(fake_damon_nr_stores(T->root, &n0), 0);
	assert_true(n0 >= 5);
	assert_int_equal(fake_damon_set_fault(T->root, 1, "bogus", 0), -EINVAL);
	assert_int_equal(fake_damon_set_fault(T->root, 0, "einval", 0), -EINVAL);

	/* einval at the 2nd store from now: the 1st and 3rd go through, the file keeps its value */
	assert_int_equal(fake_damon_set_fault(T->root, 2, "einval", 0), 0);
	OK(S0 "/quotas/bytes", "5");
	ERR(S0 "/quotas/bytes", "6", EINVAL);
	FILE_IS(S0 "/quotas/bytes", "5");
	OK(S0 "/quotas/ms", "7");
	assert_int_equal(LOG("fault"), 1);
	assert_int_equal(fake_damon_nr_stores(T->root, &n), 0);
	assert_int_equal(n, n0 + 3);
	{
		char b[512], e[512];

		snprintf(e, sizeof(e), "%llu einval " S0 "/quotas/bytes", n0 + 2);
		assert_int_equal(fake_damon_read(T->root, ".fake-damon/fault-hit", b, sizeof(b)), 0);
		assert_string_equal(b, e);
	}

	/* enomem on an nr_* write: no children recreated */
	OK(S0 "/quotas/goals/nr_goals", "1");
	EXISTS(S0 "/quotas/goals/0/target_value");
	assert_int_equal(fake_damon_set_fault(T->root, 1, "enomem", 0), 0);
	ERR(S0 "/quotas/goals/nr_goals", "2", ENOMEM);
	ABSENT(S0 "/quotas/goals/1");

	/* vanish: a numbered child's directory goes, an nr_* write above brings it back */
	assert_int_equal(fake_damon_set_fault(T->root, 1, "vanish", 0), 0);
	ERR(S0 "/quotas/bytes", "8", ENOENT);
	ABSENT(S0 "/quotas");
	OK(C0 "/schemes/nr_schemes", "1");
	EXISTS(S0 "/quotas/bytes");
	/* but never kdamonds/<K>/contexts itself */
	assert_int_equal(fake_damon_set_fault(T->root, 1, "vanish", 0), 0);
	ERR(K0 "/contexts/nr_contexts", "1", ENOENT);
	EXISTS(K0 "/contexts/nr_contexts");

	/* ebusy: a storm of 2 lock users, starting at the armed store */
	OK(C0 "/operations", "paddr");
	OK(C0 "/targets/nr_targets", "1");
	assert_int_equal(fake_damon_set_fault(T->root, 1, "ebusy", 2), 0);
	ERR(K0 "/state", "on", EBUSY);
	OK(S0 "/quotas/bytes", "9"); /* takes no lock */
	ERR(K0 "/state", "on", EBUSY);
	OK(K0 "/state", "on");

	/* kill: the store goes through, then every running kdamond dies */
	assert_int_equal(fake_damon_set_fault(T->root, 1, "kill", 0), 0);
	OK(S0 "/quotas/bytes", "10");
	FILE_IS(S0 "/quotas/bytes", "10");
	FILE_IS(K0 "/state", "off");
	assert_int_equal(LOG("kdamond 0 died"), 1);
	ERR(K0 "/state", "commit", ECANCELED);

	/* disarmed: nothing fires */
	assert_int_equal(fake_damon_set_fault(T->root, 2, "einval", 0), 0);
	assert_int_equal(fake_damon_set_fault(T->root, 0, NULL, 0), 0);
	OK(S0 "/quotas/bytes", "11");
	OK(S0 "/quotas/bytes", "12");
	assert_int_equal(LOG("fault"), 6);
}

static void test_foreign_kill(void **state)
{
	struct t *T = *state;

	assert_int_equal(fake_damon_start_foreign(T->root, 0), -EBUSY); /* damon_stat on */
	assert_int_equal(fake_damon_set_module(T->root, "damon_stat", false), 0);
	assert_int_equal(fake_damon_start_foreign(T->root, 1), 0);
	FILE_IS(KD "/nr_kdamonds", "2");
	FILE_IS(KD "/1/state", "on");
	FILE_IS(KD "/1/contexts/0/operations", "paddr");
	FILE_IS(KD "/0/state", "off");
	ERR(KD "/nr_kdamonds", "3", EBUSY);
	assert_int_equal(fake_damon_kill(T->root, 0), -ESRCH);
	assert_int_equal(fake_damon_kill(T->root, 1), 0);
	FILE_IS(KD "/1/state", "off");
	FILE_IS(KD "/1/pid", "-1");
	assert_int_equal(LOG("kdamond 1 died"), 1);
	assert_int_equal(fake_damon_kill(T->root, 1), -ESRCH);
	assert_int_equal(fake_damon_kill(T->root, 7), -ENOENT);
	OK(KD "/nr_kdamonds", "3");
}

static void test_hook(void **state)
{
	struct t *T = *state;

	assert_int_equal(fake_damon_hook(T->root, KD "/nr_kdamonds", "1"), 1);
	EXISTS(K0 "/state");
	assert_int_equal(fake_damon_hook(T->root, KD "/nr_kdamonds", "x"), -EINVAL);
	assert_int_equal(fake_damon_hook(T->root, "/" K0 "//state", "off"), -EINVAL);
	assert_int_equal(fake_damon_hook(T->root, K0 "/pid", "1"), -EACCES);
	assert_string_equal(fake_damon_errno_name(-ECANCELED), "ECANCELED");
}

/* ------------------------------------------------------------------ */
/* LD_PRELOAD                                                          */

/* What damond's sysfs seam does: openat() relative to the root fd, one write(2). */
static int child_write(const char *root, const char *rel, const char *value)
{
	ssize_t n;
	int dfd, fd;

	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno;
	fd = openat(dfd, rel, O_WRONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)-n;
	return n == (ssize_t)strlen(value) ? 0 : 255;
}

static int run_child(const char *root, const char *preload, const char *rel, const char *value)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char asan[1024];
		const char *old = getenv("ASAN_OPTIONS");

		if (snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", old ? old : "",
			     old && *old ? ":" : "") >= (int)sizeof(asan))
			_exit(126);
		setenv("ASAN_OPTIONS", asan, 1);
		setenv("LD_PRELOAD", preload, 1);
		setenv("FAKE_DAMON_ROOT", root, 1);
		execl("/proc/self/exe", "test-fake-damon", "--write", root, rel, value, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_preload(void **state)
{
	struct t *T = *state;
	const char *preload = getenv("FAKE_DAMON_PRELOAD");
	char other[PATH_MAX + 16], buf[64];

	if (!preload || !*preload || access(preload, R_OK) < 0)
		skip();
	(void)fake_damon_set_module(T->root, "damon_stat", false);
	assert_int_equal(run_child(T->root, preload, KD "/nr_kdamonds", "1"), 0);
	EXISTS(K0 "/contexts/nr_contexts");
	assert_int_equal(LOG("nr " KD "/nr_kdamonds 1"), 1);
	assert_int_equal(run_child(T->root, preload, K0 "/contexts/nr_contexts", "1"), 0);
	assert_int_equal(run_child(T->root, preload, C0 "/operations", "paddr"), 0);
	assert_int_equal(run_child(T->root, preload, C0 "/monitoring_attrs/intervals/sample_us",
				   "0x10"),
			 0);
	FILE_IS(C0 "/monitoring_attrs/intervals/sample_us", "16");
	assert_int_equal(run_child(T->root, preload, C0 "/operations", "bogus"), EINVAL);
	FILE_IS(C0 "/operations", "paddr");
	assert_int_equal(run_child(T->root, preload, K0 "/state", "on"), 0);
	FILE_IS(K0 "/state", "on");
	FILE_IS(K0 "/pid", "4242");
	assert_int_equal(run_child(T->root, preload, K0 "/state", "on"), EBUSY);
	assert_int_equal(run_child(T->root, preload, K0 "/pid", "1"), EACCES);
	FILE_IS(K0 "/pid", "4242");

	/* A file outside the routed part of the root is written for real. */
	assert_true(snprintf(other, sizeof(other), "%s/plain-file", T->root) < (int)sizeof(other));
	assert_int_equal(run_child(T->root, preload, "plain-file", "x"), ENOENT);
	{
		int fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(run_child(T->root, preload, "plain-file", "hello"), 0);
	assert_int_equal(fake_damon_read(T->root, "plain-file", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hello");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_612, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_init_72, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_init_73, setup_73, teardown),
		cmocka_unit_test_setup_teardown(test_nr_rules, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_values, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_values_612, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_on_off_72, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_off_73, setup_73, teardown),
		cmocka_unit_test_setup_teardown(test_on_validation, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_commit_72, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_commit_612_kills, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_stats_612, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_tried_regions, setup_73, teardown),
		cmocka_unit_test_setup_teardown(test_tuned_intervals, setup_73, teardown),
		cmocka_unit_test_setup_teardown(test_commit_keeps_regions, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_pid_exists, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_pid_exists_612, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_kill, setup_72, teardown),
		cmocka_unit_test_setup_teardown(test_hook, setup_612, teardown),
		cmocka_unit_test_setup_teardown(test_preload, setup_72, teardown),
	};

	if (argc == 5 && strcmp(argv[1], "--write") == 0)
		return child_write(argv[2], argv[3], argv[4]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
