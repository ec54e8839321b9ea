/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Probing and variant choice of the BPF loader (daemon/bpf/damon-events-load.c)
 * against a fake tracefs tree and synthetic BTF files: no kernel involved,
 * nothing is loaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/btf.h>

#include "damon-events-load.h"

/* btf_trace_<name>: typedef void (*)(void *, <nargs scalars/pointers>) */
static void add_tp(struct btf *btf, const char *name, int nargs, int uint_id, int region_ptr_id)
{
	char tname[128];
	int proto, ptr;

	proto = btf__add_func_proto(btf, 0);
	assert_true(proto > 0);
	assert_int_equal(btf__add_func_param(btf, "__data", btf__find_by_name_kind(btf, "voidp", BTF_KIND_TYPEDEF)), 0);
	for (int i = 0; i < nargs; i++)
		assert_int_equal(btf__add_func_param(btf, NULL, i == 1 ? region_ptr_id : uint_id), 0);
	ptr = btf__add_ptr(btf, proto);
	assert_true(ptr > 0);
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	assert_true(btf__add_typedef(btf, tname, ptr) > 0);
}

/* Writes a raw BTF file: 6.12-like (apply_arity 6, no esz/stat) or 7.3-like. */
static void write_btf(const char *path, int apply_arity, bool new_events)
{
	struct btf *btf = btf__new_empty();
	const void *raw;
	__u32 size;
	int uint_id, fwd, rptr, vptr;
	FILE *f;

	assert_non_null(btf);
	uint_id = btf__add_int(btf, "unsigned int", 4, 0);
	fwd = btf__add_fwd(btf, "damon_region", BTF_FWD_STRUCT);
	rptr = btf__add_ptr(btf, fwd);
	vptr = btf__add_ptr(btf, 0);
	assert_true(btf__add_typedef(btf, "voidp", vptr) > 0);

	add_tp(btf, "damon_aggregated", 3, uint_id, rptr);
	add_tp(btf, "damos_before_apply", apply_arity, uint_id, rptr);
	if (new_events) {
		add_tp(btf, "damos_esz", 3, uint_id, rptr);
		add_tp(btf, "damos_stat_after_apply_interval", 3, uint_id, rptr);
	}
	raw = btf__raw_data(btf, &size);
	assert_non_null(raw);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(raw, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	btf__free(btf);
}

static void mk_event(const char *root, const char *name)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/events", root);
	(void)mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/events/damon", root);
	(void)mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/events/damon/%s", root, name);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/events/damon/%s/id", root, name);
	f = fopen(p, "we");
	assert_non_null(f);
	fputs("1234\n", f);
	fclose(f);
}

struct tmp {
	char dir[64];
	char tracefs[128];
	char btf[128];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	strcpy(t->dir, "/tmp/test-events-probe.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->tracefs, sizeof(t->tracefs), "%s/tracing", t->dir);
	snprintf(t->btf, sizeof(t->btf), "%s/vmlinux.btf", t->dir);
	assert_int_equal(mkdir(t->tracefs, 0755), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static void test_arity(void **state)
{
	struct tmp *t = *state;
	struct btf *btf;

	write_btf(t->btf, 7, true);
	btf = btf__parse(t->btf, NULL);
	assert_non_null(btf);
	assert_int_equal(damon_ev_btf_tp_arity(btf, "damon_aggregated"), 3);
	assert_int_equal(damon_ev_btf_tp_arity(btf, "damos_before_apply"), 7);
	assert_int_equal(damon_ev_btf_tp_arity(btf, "damos_esz"), 3);
	assert_int_equal(damon_ev_btf_tp_arity(btf, "no_such_event"), 0);
	assert_int_equal(damon_ev_btf_tp_arity(NULL, "damos_esz"), -EINVAL);
	btf__free(btf);
}

static void test_tracefs_6_12(void **state)
{
	struct tmp *t = *state;
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX];
	struct damon_ev_probe p;

	mk_event(t->tracefs, "damon_aggregated");
	mk_event(t->tracefs, "damos_before_apply");
	write_btf(t->btf, 6, false);
	damon_ev_probe(t->tracefs, t->btf, &p);
	assert_true(p.have_tracefs);
	assert_true(p.tracefs[DAMON_EV_AGGREGATED]);
	assert_true(p.tracefs[DAMON_EV_BEFORE_APPLY]);
	assert_false(p.tracefs[DAMON_EV_ESZ]);
	assert_true(p.have_btf);
	assert_int_equal(p.btf_arity[DAMON_EV_BEFORE_APPLY], 6);
	assert_int_equal(p.btf_arity[DAMON_EV_SCHEME_STAT], 0);

	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, DAMON_EV_WANT_ALL, v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_TRACEPOINT);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_TRACEPOINT);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_OFF);
	assert_int_equal(v[DAMON_EV_SCHEME_STAT], DAMON_EV_VARIANT_OFF);

	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_BTF, DAMON_EV_WANT_ALL, v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_OFF);
}

static void test_btf_only_7_3(void **state)
{
	struct tmp *t = *state;
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX];
	struct damon_ev_probe p;
	char *reason = NULL;

	/* tracefs not mounted: empty directory */
	write_btf(t->btf, 7, true);
	damon_ev_probe(t->tracefs, t->btf, &p);
	assert_false(p.have_tracefs);
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, DAMON_EV_WANT_ALL, v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_BTF7);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_SCHEME_STAT], DAMON_EV_VARIANT_BTF);

	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_TRACEPOINT, DAMON_EV_WANT_ALL, v, &reason), -EOPNOTSUPP);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "damon_aggregated"));
	free(reason);
}

static void test_nothing(void **state)
{
	struct tmp *t = *state;
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX];
	struct damon_ev_probe p;
	char *reason = NULL;

	damon_ev_probe(t->tracefs, t->btf, &p);	/* BTF file does not exist */
	assert_false(p.have_btf);
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, DAMON_EV_WANT_ALL, v, &reason), -EOPNOTSUPP);
	assert_non_null(reason);
	assert_non_null(strstr(reason, "BTF"));
	free(reason);
	assert_string_equal(damon_ev_variant_to_string(DAMON_EV_VARIANT_BTF7), "tp_btf7");
	assert_string_equal(damon_ev_tracepoint_name(DAMON_EV_SCHEME_STAT), "damos_stat_after_apply_interval");
}

/* Only the events asked for get a variant; damon_aggregated must be among them. */
static void test_want(void **state)
{
	struct tmp *t = *state;
	enum damon_ev_variant v[DAMON_EV_TYPE_MAX];
	unsigned want = DAMON_EV_WANT(DAMON_EV_AGGREGATED) | DAMON_EV_WANT(DAMON_EV_ESZ) |
			DAMON_EV_WANT(DAMON_EV_SCHEME_STAT);
	struct damon_ev_probe p;

	assert_int_equal(DAMON_EV_WANT_ALL, 0x1e);
	mk_event(t->tracefs, "damon_aggregated");
	mk_event(t->tracefs, "damos_before_apply");
	write_btf(t->btf, 7, true);
	damon_ev_probe(t->tracefs, t->btf, &p);

	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, want, v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_TRACEPOINT);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_OFF);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_SCHEME_STAT], DAMON_EV_VARIANT_BTF);

	/* 0 is every event */
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_BTF, 0, v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_BTF);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_BTF7);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_BTF);

	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, DAMON_EV_WANT(DAMON_EV_AGGREGATED), v, NULL), 0);
	assert_int_equal(v[DAMON_EV_AGGREGATED], DAMON_EV_VARIANT_TRACEPOINT);
	assert_int_equal(v[DAMON_EV_BEFORE_APPLY], DAMON_EV_VARIANT_OFF);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_OFF);
	assert_int_equal(v[DAMON_EV_SCHEME_STAT], DAMON_EV_VARIANT_OFF);

	/* without damon_aggregated, or with a bit of no event type: refused, v untouched */
	v[DAMON_EV_ESZ] = DAMON_EV_VARIANT_BTF7;
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, DAMON_EV_WANT(DAMON_EV_ESZ), v, NULL), -EINVAL);
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, want | DAMON_EV_WANT(DAMON_EV_TYPE_MAX), v, NULL),
			 -EINVAL);
	assert_int_equal(damon_ev_choose(&p, DAMON_EV_MODE_AUTO, want | 1, v, NULL), -EINVAL);
	assert_int_equal(v[DAMON_EV_ESZ], DAMON_EV_VARIANT_BTF7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracefs_6_12, setup, teardown),
		cmocka_unit_test_setup_teardown(test_btf_only_7_3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_want, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
