/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write-list algebra (lib/write-list.c) on lists lib/damon-sysfs.c renders. No I/O. */
#include <setjmp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "../common/config-load.h"
#include "damon-sysfs.h"
#include "macro.h"
#include "write-list.h"

#define CTX "kernel/mm/damon/admin/kdamonds/0/contexts/0"

static const char *const base = "kdamonds:\n"
				"  - name: reclaim\n"
				"    ops: paddr\n"
				"%s"
				"    targets:\n"
				"      - regions:\n"
				"          - {start: 0x100000, end: 0x40000000}\n"
				"          - {start: 0x80000000, end: 0xc0000000}\n"
				"%s"
				"    schemes:\n"
				"      - name: cold\n"
				"        action: pageout\n"
				"        access_pattern:\n"
				"          nr_accesses: {min: 0, max: 0}\n"
				"          age: {min: 30s, max: max}\n"
				"        quotas:\n"
				"          bytes: %s\n"
				"          reset_interval: 1s\n";

static struct damond_config *load(const char *ctx_extra, const char *targets_extra, const char *quota)
{
	struct damond_config *c;
	char *text;

	assert_true(asprintf(&text, base, ctx_extra, targets_extra, quota) > 0);
	c = test_config_load(text);
	free(text);
	return c;
}

static void features_all(struct damon_features *f, enum feature_state s)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < _FEATURE_MAX; i++)
		f->f[i] = s;
}

/* What daemon/manager.c's plan_render() renders for kdamond 0 of c with its config targets. */
static void render(const struct damond_config *c, const struct damon_features *f, bool keep_regions,
		   struct write_list *ret)
{
	const struct kdamond_cfg *k = &c->kdamonds[0];
	struct scheme_slot slots[8] = {};
	struct kdamond_plan p = {
		.cfg = k,
		.targets = k->ctx.targets,
		.nr_targets = k->ctx.nr_targets,
		.keep_regions = keep_regions,
		.slots = slots,
		.nr_slots = k->ctx.nr_schemes,
	};

	assert_true(k->ctx.nr_schemes <= ARRAY_SIZE(slots));
	for (size_t i = 0; i < k->ctx.nr_schemes; i++)
		slots[i].cfg = &k->ctx.schemes[i];
	assert_int_equal(damon_render_kdamond(0, &p, f, ret), 0);
}

static size_t find(const struct write_list *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->v[i].path, path))
			return i;
	return SIZE_MAX;
}

static void test_equal_first_diff(void **state)
{
	struct damond_config *a = load("", "", "32M"), *b = load("", "", "64M");
	struct write_list la = {}, la2 = {}, lb = {}, cp = {};
	struct damon_features f;
	struct sysfs_file fb;
	size_t d;

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(a, &f, false, &la2);
	render(b, &f, false, &lb);
	assert_true(write_list_equal(&la, &la2));
	assert_int_equal(write_list_first_diff(&la, &la2), SIZE_MAX);
	assert_false(write_list_first_change(&la, &la2, &fb));

	/* a deep copy is equal, and stays so when the original goes */
	assert_int_equal(write_list_copy(&la, &cp), 0);
	write_list_done(&la2);
	assert_true(write_list_equal(&la, &cp));

	assert_false(write_list_equal(&la, &lb));
	d = write_list_first_diff(&la, &lb);
	assert_int_equal(d, find(&la, CTX "/schemes/0/quotas/bytes"));
	assert_true(write_list_first_change(&la, &lb, &fb));
	assert_string_equal(fb.path, CTX "/schemes/0/quotas/bytes");
	assert_string_equal(fb.value, "67108864");

	/* the old list cut short: nothing new is written, so no file to name */
	cp.n = d;
	assert_false(write_list_first_change(&la, &cp, &fb));
	/* the new list longer: its first extra write */
	assert_true(write_list_first_change(&cp, &la, &fb));
	assert_string_equal(fb.path, la.v[d].path);
	cp.n = la.n;

	write_list_done(&cp);
	write_list_done(&la);
	write_list_done(&lb);
	damond_config_free(a);
	damond_config_free(b);
}

/* The first change inside a region block names the start/end file, as the reload logs it. */
static void test_first_change_in_block(void **state)
{
	struct damond_config *a = load("", "", "32M"),
			     *b = load("", "          - {start: 0xd0000000, end: 0xe0000000}\n", "32M");
	struct write_list la = {}, lb = {};
	struct damon_features f;
	struct sysfs_file fb;

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(b, &f, false, &lb);
	/* nr_regions 2 -> 3 is the first differing write */
	assert_true(write_list_first_change(&la, &lb, &fb));
	assert_string_equal(fb.path, CTX "/targets/0/regions/nr_regions");
	assert_string_equal(fb.value, "3");

	/* same count, the second region's end moved: the block's file 2/end... of region 1 */
	write_list_done(&lb);
	damond_config_free(b);
	b = load("", "", "32M");
	((struct damon_addr_range *)b->kdamonds[0].ctx.targets[0].regions)[1].end = 0xb0000000;
	render(b, &f, false, &lb);
	assert_true(write_list_first_change(&la, &lb, &fb));
	assert_string_equal(fb.path, CTX "/targets/0/regions/1/end");
	assert_string_equal(fb.value, "2952790016");
	assert_int_equal(sysfs_write_first_diff_file(&lb.v[write_list_first_diff(&la, &lb)],
						     &la.v[write_list_first_diff(&la, &lb)]),
			 3);

	write_list_done(&la);
	write_list_done(&lb);
	damond_config_free(a);
	damond_config_free(b);
}

/* FNV-1a 64 over the files, computed here from the expanded files, independently of the lib. */
static uint64_t fnv_files(const struct write_list *l)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < l->n; i++)
		for (size_t j = 0; j < sysfs_write_nr_files(&l->v[i]); j++) {
			struct sysfs_file fb;
			const struct sysfs_file *fl = sysfs_write_file(&l->v[i], j, &fb);
			char line[PATH_MAX + 64];
			int n = snprintf(line, sizeof(line), "%s=%s\n", fl->path, fl->value);

			for (int c = 0; c < n; c++) {
				h ^= (unsigned char)line[c];
				h *= 1099511628211ULL;
			}
		}
	return h;
}

static void test_hash(void **state)
{
	struct damond_config *a = load("", "", "32M"), *b = load("", "", "64M");
	struct write_list la = {}, la2 = {}, lb = {}, flat = {};
	struct damon_features f;
	char *ha, *ha2, *hb, want[32];

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(a, &f, false, &la2);
	render(b, &f, false, &lb);
	ha = write_list_hash_hex(&la);
	ha2 = write_list_hash_hex(&la2);
	hb = write_list_hash_hex(&lb);
	assert_non_null(ha);
	assert_int_equal(strlen(ha), 16);
	assert_string_equal(ha, ha2);
	assert_string_not_equal(ha, hb);
	snprintf(want, sizeof(want), "%016" PRIx64, fnv_files(&la));
	assert_string_equal(ha, want);
	assert_int_equal(write_list_hash64(&la), fnv_files(&la));

	/* the same files as plain writes (a region block expanded by hand): the same hash */
	for (size_t i = 0; i < la.n; i++)
		for (size_t j = 0; j < sysfs_write_nr_files(&la.v[i]); j++) {
			struct sysfs_file fb;
			const struct sysfs_file *fl = sysfs_write_file(&la.v[i], j, &fb);
			struct sysfs_write *w = APPEND(flat.v, flat.n, flat.cap);

			assert_non_null(w);
			w->path = strdup(fl->path);
			w->value = strdup(fl->value);
			w->flags = la.v[i].flags & ~SYSFS_W_REGIONS;
		}
	assert_true(flat.n > la.n);
	assert_int_equal(write_list_hash64(&flat), write_list_hash64(&la));
	/* flags are not part of it */
	for (size_t i = 0; i < flat.n; i++)
		flat.v[i].flags ^= SYSFS_W_NOVERIFY;
	assert_int_equal(write_list_hash64(&flat), write_list_hash64(&la));

	free(ha);
	free(ha2);
	free(hb);
	write_list_done(&flat);
	write_list_done(&la);
	write_list_done(&la2);
	write_list_done(&lb);
	damond_config_free(a);
	damond_config_free(b);
}

static void test_regions_changed(void **state)
{
	struct damond_config *a = load("", "", "32M"), *q = load("", "", "64M"),
			     *r = load("", "          - {start: 0xd0000000, end: 0xe0000000}\n", "32M");
	struct write_list la = {}, lq = {}, lr = {}, keep = {};
	struct damon_features f;

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(q, &f, false, &lq);
	render(r, &f, false, &lr);
	render(a, &f, true, &keep);
	assert_false(write_list_regions_changed(&la, &la));
	/* a quota is no region */
	assert_false(write_list_regions_changed(&la, &lq));
	assert_true(write_list_regions_changed(&la, &lr));
	assert_true(write_list_regions_changed(&lr, &la));
	/* nr_regions 0 (keep the kernel's) vs the regions */
	assert_true(write_list_regions_changed(&la, &keep));
	/* the walk sees every region write: the target nr_regions and the block */
	{
		size_t nr = find(&la, CTX "/targets/0/regions/nr_regions");

		assert_true(nr != SIZE_MAX);
		assert_true(la.v[nr].flags & SYSFS_W_TARGET_NR);
		assert_true(sysfs_write_is_region(&la.v[nr]));
		assert_true(la.v[nr + 1].flags & SYSFS_W_REGIONS);
		assert_true(sysfs_write_is_region(&la.v[nr + 1]));
		assert_false(sysfs_write_is_region(&la.v[find(&la, CTX "/targets/nr_targets")]));
	}
	/* fewer region writes on one side */
	{
		size_t n = lr.n;

		lr.n = find(&lr, CTX "/targets/0/regions/nr_regions");
		assert_true(write_list_regions_changed(&la, &lr));
		assert_true(write_list_regions_changed(&lr, &la));
		lr.n = n;
	}
	write_list_done(&lr);
	write_list_done(&la);
	write_list_done(&lq);
	write_list_done(&keep);
	damond_config_free(a);
	damond_config_free(q);
	damond_config_free(r);
}

/* The renderer, not the manager, says which writes need a restart: operations and addr_unit, nothing else. */
static void test_restart_flag(void **state)
{
	struct damond_config *a = load("", "", "32M"), *u = load("    addr_unit: 4096\n", "", "32M"),
			     *q = load("", "", "64M");
	struct write_list la = {}, lu = {}, lq = {}, l612 = {};
	struct damon_features f, f612;
	char *why = NULL;

	features_all(&f, FEATURE_PRESENT);
	features_all(&f612, FEATURE_PRESENT);
	f612.f[FEATURE_ADDR_UNIT] = FEATURE_ABSENT;
	render(a, &f, false, &la);
	render(u, &f, false, &lu);
	render(q, &f, false, &lq);
	render(a, &f612, false, &l612);
	for (size_t i = 0; i < la.n; i++) {
		bool want = streq(la.v[i].path, CTX "/operations") || streq(la.v[i].path, CTX "/addr_unit");

		assert_int_equal(!!(la.v[i].flags & SYSFS_W_RESTART), want);
	}
	assert_true(la.v[find(&la, CTX "/operations")].flags & SYSFS_W_RESTART);
	assert_true(la.v[find(&la, CTX "/addr_unit")].flags & SYSFS_W_RESTART);
	/* a kernel without addr_unit and addr_unit 1: not written at all */
	assert_int_equal(find(&l612, CTX "/addr_unit"), SIZE_MAX);
	assert_true(l612.v[find(&l612, CTX "/operations")].flags & SYSFS_W_RESTART);

	assert_int_equal(write_list_restart_reason(&la, &lq, &why), 0);
	assert_null(why);
	assert_int_equal(write_list_restart_reason(&la, &la, &why), 0);
	assert_null(why);
	assert_int_equal(write_list_restart_reason(&la, &lu, &why), 0);
	assert_non_null(why);
	assert_string_equal(why, "'" CTX "/addr_unit' changes from '1' to '4096'");
	free(why);
	/* a file the old list does not write is no change under the running context (as the reload had it) */
	assert_int_equal(write_list_restart_reason(&l612, &lu, &why), 0);
	assert_null(why);

	/* operations: paddr -> fvaddr */
	{
		struct write_list lo = {};
		size_t i;

		assert_int_equal(write_list_copy(&la, &lo), 0);
		i = find(&lo, CTX "/operations");
		free(lo.v[i].value);
		lo.v[i].value = strdup("fvaddr");
		assert_int_equal(write_list_restart_reason(&la, &lo, &why), 0);
		assert_string_equal(why, "'" CTX "/operations' changes from 'paddr' to 'fvaddr'");
		free(why);
		/* without the flag (a list not from the renderer) it is just a value */
		lo.v[i].flags &= ~SYSFS_W_RESTART;
		assert_int_equal(write_list_restart_reason(&la, &lo, &why), 0);
		assert_null(why);
		write_list_done(&lo);
	}
	write_list_done(&la);
	write_list_done(&lu);
	write_list_done(&lq);
	write_list_done(&l612);
	damond_config_free(a);
	damond_config_free(u);
	damond_config_free(q);
}

struct fake_reader {
	unsigned calls;
	bool fail;
};

static int reader(const char *path, char **ret, void *userdata)
{
	struct fake_reader *fr = userdata;
	const char *name = strrchr(path, '/');

	fr->calls++;
	if (fr->fail)
		return -EIO;
	*ret = strdup(streq(name, "/sample_us") ? "7777" : "88888");
	return *ret ? 0 : -ENOMEM;
}

/* Tuned intervals: the renderer marks them SYSFS_W_NOVERIFY; carry_values takes the kernel's values for those only. */
static void test_carry_values(void **state)
{
	static const char *const goal = "    intervals:\n"
					"      sample: 5ms\n"
					"      aggr: 100ms\n"
					"      intervals_goal:\n"
					"        {access_bp: 4%, aggrs: 3, min_sample: 1ms, max_sample: 1s}\n";
	struct damond_config *t = load(goal, "", "32M"), *u = load("", "", "32M");
	struct write_list lt = {}, lt0 = {}, lu = {}, lu0 = {};
	struct fake_reader fr = {};
	struct damon_features f;
	size_t s, a;

	features_all(&f, FEATURE_PRESENT);
	render(t, &f, false, &lt);
	render(t, &f, false, &lt0);
	render(u, &f, false, &lu);
	render(u, &f, false, &lu0);
	s = find(&lt, CTX "/monitoring_attrs/intervals/sample_us");
	a = find(&lt, CTX "/monitoring_attrs/intervals/aggr_us");
	/* exactly the writes the manager matched by path suffix (carry_tuned_intervals) */
	for (size_t i = 0; i < lt.n; i++)
		assert_int_equal(!!(lt.v[i].flags & SYSFS_W_NOVERIFY), i == s || i == a);
	assert_string_equal(lt.v[s].value, "5000");

	assert_int_equal(write_list_carry_values(&lt, SYSFS_W_NOVERIFY, reader, &fr), 2);
	assert_int_equal(fr.calls, 2);
	assert_string_equal(lt.v[s].value, "7777");
	assert_string_equal(lt.v[a].value, "88888");
	assert_true(lt.v[s].flags & SYSFS_W_NOVERIFY);
	/* everything else as rendered */
	for (size_t i = 0; i < lt.n; i++)
		if (i != s && i != a)
			assert_true(sysfs_write_equal(&lt.v[i], &lt0.v[i]));

	/* a read that fails keeps the rendered value */
	write_list_done(&lt);
	render(t, &f, false, &lt);
	fr = (struct fake_reader){ .fail = true };
	assert_int_equal(write_list_carry_values(&lt, SYSFS_W_NOVERIFY, reader, &fr), 0);
	assert_int_equal(fr.calls, 2);
	assert_true(write_list_equal(&lt, &lt0));

	/* no intervals_goal: nothing the kernel owns, nothing read */
	fr = (struct fake_reader){};
	assert_int_equal(write_list_carry_values(&lu, SYSFS_W_NOVERIFY, reader, &fr), 0);
	assert_int_equal(fr.calls, 0);
	assert_true(write_list_equal(&lu, &lu0));

	write_list_done(&lt);
	write_list_done(&lt0);
	write_list_done(&lu);
	write_list_done(&lu0);
	damond_config_free(t);
	damond_config_free(u);
}

/* Setting a target's regions in a rendered list gives what rendering those regions gives. */
static void test_set_target_regions(void **state)
{
	struct damond_config *a = load("", "", "32M"),
			     *b = load("", "          - {start: 0xd0000000, end: 0xe0000000}\n", "32M");
	struct write_list la = {}, lb = {}, keep = {}, x = {};
	const struct damon_target_cfg *tb = &b->kdamonds[0].ctx.targets[0];
	struct damon_features f;

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(b, &f, false, &lb);
	render(a, &f, true, &keep);
	assert_int_equal(write_list_find_target_regions(&la, 0), find(&la, CTX "/targets/0/regions/nr_regions"));
	assert_int_equal(write_list_find_target_regions(&la, 1), SIZE_MAX);

	/* replace the block */
	assert_int_equal(write_list_copy(&la, &x), 0);
	assert_int_equal(write_list_set_target_regions(&x, 0, tb->regions, tb->nr_regions), 0);
	assert_true(write_list_equal(&x, &lb));
	/* remove it: nr_regions 0, as keep_regions renders */
	assert_int_equal(write_list_set_target_regions(&x, 0, NULL, 0), 0);
	assert_true(write_list_equal(&x, &keep));
	assert_int_equal(x.n, la.n - 1);
	/* insert it again */
	assert_int_equal(write_list_set_target_regions(&x, 0, tb->regions, tb->nr_regions), 0);
	assert_true(write_list_equal(&x, &lb));
	assert_int_equal(write_list_set_target_regions(&x, 1, NULL, 0), -ENOENT);

	write_list_done(&x);
	write_list_done(&la);
	write_list_done(&lb);
	write_list_done(&keep);
	damond_config_free(a);
	damond_config_free(b);
}

/* The staging restore's list: the region writes of a canonical list, deep-copied, in order. */
static void test_select(void **state)
{
	struct damond_config *a = load("", "", "32M");
	struct write_list la = {}, sel = {};
	struct damon_features f;
	size_t k = 0;

	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	assert_int_equal(write_list_select(&la, SYSFS_W_TARGET_NR | SYSFS_W_REGIONS, &sel), 0);
	assert_int_equal(sel.n, 2);
	for (size_t i = 0; i < la.n; i++)
		if (sysfs_write_is_region(&la.v[i])) {
			assert_true(k < sel.n);
			assert_true(sysfs_write_equal(&la.v[i], &sel.v[k]));
			assert_ptr_not_equal(la.v[i].path, sel.v[k].path);
			k++;
		}
	assert_int_equal(k, sel.n);
	assert_ptr_not_equal(sel.v[1].regions, la.v[write_list_find_target_regions(&la, 0) + 1].regions);
	write_list_done(&la);
	/* still whole after the source is gone (ASan would see a use after free) */
	assert_int_equal(sel.v[1].nr_regions, 2);
	assert_int_equal(sel.v[1].regions[1].end, 0xc0000000);
	write_list_done(&sel);
	damond_config_free(a);
}

/*
 * A region block may borrow an equal array instead of keeping its own copy
 * (plan_compose() lends the config's ranges to the canonical list, 320 KB at
 * 20,000 ranges): freed with the lender, not with the list; copies and
 * write_list_unshare() own theirs (ASan sees a double free or a use after
 * free if not).
 */
static void test_borrow_unshare(void **state)
{
	struct damond_config *a = load("", "", "32M"),
			     *b = load("", "          - {start: 0xd0000000, end: 0xe0000000}\n", "32M");
	const struct damon_target_cfg *ta = &a->kdamonds[0].ctx.targets[0], *tb = &b->kdamonds[0].ctx.targets[0];
	struct damon_addr_range *lent = malloc(ta->nr_regions * sizeof(*lent));
	struct write_list la = {}, ref = {}, copy = {};
	struct damon_features f;
	size_t blk;
	char *hash;

	assert_non_null(lent);
	memcpy(lent, ta->regions, ta->nr_regions * sizeof(*lent));
	features_all(&f, FEATURE_PRESENT);
	render(a, &f, false, &la);
	render(a, &f, false, &ref);
	hash = write_list_hash_hex(&ref);
	blk = write_list_find_target_regions(&la, 0) + 1;
	assert_false(write_list_borrows(&la));

	/* other ranges, another target, nothing: not borrowed */
	assert_int_equal(write_list_borrow_target_regions(&la, 0, tb->regions, tb->nr_regions), 0);
	assert_int_equal(write_list_borrow_target_regions(&la, 0, lent, ta->nr_regions - 1), 0);
	assert_int_equal(write_list_borrow_target_regions(&la, 1, lent, ta->nr_regions), 0);
	assert_int_equal(write_list_borrow_target_regions(&la, 0, lent, 0), 0);
	assert_false(write_list_borrows(&la));
	/* the same ranges: borrowed, once; the list reads as before */
	assert_int_equal(write_list_borrow_target_regions(&la, 0, lent, ta->nr_regions), 1);
	assert_int_equal(write_list_borrow_target_regions(&la, 0, lent, ta->nr_regions), 0);
	assert_ptr_equal(la.v[blk].regions, lent);
	assert_true(la.v[blk].regions_borrowed);
	assert_true(write_list_borrows(&la));
	assert_true(write_list_equal(&la, &ref));
	assert_false(write_list_regions_changed(&ref, &la));
	{
		char *h = write_list_hash_hex(&la);

		assert_string_equal(h, hash);
		free(h);
	}
	/* a copy owns its array */
	assert_int_equal(write_list_copy(&la, &copy), 0);
	assert_false(write_list_borrows(&copy));
	assert_ptr_not_equal(copy.v[blk].regions, lent);
	assert_true(write_list_equal(&copy, &ref));
	/* replacing a borrowed block does not free the lender's array */
	assert_int_equal(write_list_set_target_regions(&la, 0, tb->regions, tb->nr_regions), 0);
	assert_false(write_list_borrows(&la));
	assert_int_equal(write_list_set_target_regions(&la, 0, lent, ta->nr_regions), 0);
	assert_int_equal(write_list_borrow_target_regions(&la, 0, lent, ta->nr_regions), 1);
	/* unshared: the list survives its lender */
	assert_int_equal(write_list_unshare(&la), 0);
	assert_false(write_list_borrows(&la));
	assert_ptr_not_equal(la.v[blk].regions, lent);
	free(lent);
	assert_true(write_list_equal(&la, &ref));
	assert_true(write_list_equal(&copy, &ref));
	/* removing a borrowed block (nr_regions 0) leaves the lender alone too */
	assert_int_equal(write_list_borrow_target_regions(&copy, 0, ta->regions, ta->nr_regions), 1);
	assert_int_equal(write_list_set_target_regions(&copy, 0, NULL, 0), 0);
	assert_int_equal(ta->regions[1].end, 0xc0000000);

	free(hash);
	write_list_done(&copy);
	write_list_done(&la);
	write_list_done(&ref);
	damond_config_free(a);
	damond_config_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_first_diff),
		cmocka_unit_test(test_first_change_in_block),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_regions_changed),
		cmocka_unit_test(test_restart_flag),
		cmocka_unit_test(test_carry_values),
		cmocka_unit_test(test_set_target_regions),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_borrow_unshare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
