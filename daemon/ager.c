/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The charge emulation's ager (issue 17; docs/CONTROLLERS.md, "Page cache on
 * kernels without fail_charge"). Where a paddr pageout scheme's charge ratio
 * is emulated (no quotas/fail_charge_num), pageout's own young check rejects
 * each page of page cache DAMON has not aged (no PG_idle) once, and the
 * kernel charges that try in full. A second kdamond that walks the same
 * physical memory with a young check and applies nothing marks that cache
 * old first, so the pageout's first try succeeds.
 *
 * The ager is damond's, not the user's: a kdamond "<kdamond>.ager" in a
 * spare kdamond directory (the kernel adds directories only while no
 * kdamond runs, so damond never grows nr_kdamonds for it), in the ownership
 * record while it holds the directory, started only while the scheme's
 * oracle counts at least one quota of young page cache and stopped after
 * AGER_STOP_AFTER_US under half a quota, at reload (the tick starts it
 * again when still needed), at damond's stop whatever on_exit says, and
 * whenever the emulation no longer runs. Never on a kernel with the native
 * files. It is a plan of its own (struct ager: a synthesised kdamond_cfg and
 * a kdamond_rt), rendered, applied, verified and switched on by the same
 * kd_start()/kd_stop() as the user's kdamonds; no controller steps on it.
 */
#include <inttypes.h>
#include <limits.h>

#include <json-c/json.h>

#include "log.h"
#include "manager-internal.h"

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

static size_t charge_ctrl_index(void)
{
	for (size_t c = 0; c < ctrl_registry_len; c++)
		if (ctrl_registry[c] == &ctrl_charge_ops)
			return c;
	return SIZE_MAX;
}

/*
 * The slot of kd the ager would serve: an active emulated charge ratio on a
 * pageout scheme with a physical oracle. *ret_why: why none (NULL with a
 * slot, or when kd is not a paddr kdamond at all).
 */
static const struct ctrl_charge_state *served_slot(const struct manager *m, const struct kdamond_rt *kd,
						   size_t *ret_slot, const char **ret_why)
{
	size_t c = charge_ctrl_index();
	bool emulated = false;

	*ret_why = NULL;
	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR || c == SIZE_MAX)
		return NULL;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		const struct scheme_rt *sl = &kd->slots[i];
		const struct ctrl_charge_state *st;

		if (sl->cfg_idx < 0 || !sl->ctrl || kd->cfg->ctx.schemes[sl->cfg_idx].action != DAMOS_PAGEOUT)
			continue;
		st = sl->ctrl[c];
		if (!st || st->mode != CTRL_FAIL_EMULATED)
			continue;
		emulated = true;
		if (!st->active || !st->oracle || st->oracle_pid > 0)
			continue;
		*ret_slot = i;
		return st;
	}
	if (emulated)
		*ret_why = "the emulated pageout has no page-state oracle (its fallback law runs)";
	return NULL;
}

/* Why this kernel cannot run the ager (static), or NULL. */
static const char *kernel_off_reason(const struct manager *m)
{
	if (m->features.f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT)
		return "the kernel has quotas/fail_charge_num: pageout failures are charged natively";
	if (m->features.action[DAMOS_LRU_DEPRIO] == FEATURE_ABSENT)
		return "the kernel has no lru_deprio action";
	if (m->features.filter_type[DAMOS_FILTER_YOUNG] == FEATURE_ABSENT ||
	    m->features.filter_type[DAMOS_FILTER_ANON] == FEATURE_ABSENT)
		return "the kernel has no anon or young filter";
	return NULL;
}

static uint64_t targets_span(const struct damon_target_cfg *t, size_t n)
{
	uint64_t b = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < t[i].nr_regions; r++)
			b += t[i].regions[r].end - t[i].regions[r].start;
	return b;
}

static int targets_dup(const struct damon_target_cfg *t, size_t n, struct damon_target_cfg **ret)
{
	struct damon_target_cfg *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = t[i];
		v[i].regions_borrowed = false;
		v[i].regions = NULL;
		if (t[i].nr_regions) {
			v[i].regions = malloc(t[i].nr_regions * sizeof(*v[i].regions));
			if (!v[i].regions) {
				targets_free(v, i);
				return -ENOMEM;
			}
			memcpy(v[i].regions, t[i].regions, t[i].nr_regions * sizeof(*v[i].regions));
		}
	}
	*ret = v;
	return 0;
}

/* The ager's quota per AGER_RESET_MS for user quota q per reset_ms over span bytes. */
static uint64_t ager_rate(uint64_t span, uint64_t q, uint64_t reset_ms)
{
	uint64_t by_span = span / AGER_PASS_S, by_quota = reset_ms ? q * AGER_QUOTA_MULT * 1000 / reset_ms : 0;
	uint64_t r = MAX(by_span, by_quota);

	r = MIN(r, span); /* at most a pass per second */
	r = (r + 4095) & ~4095ULL;
	return MAX(r, 4096ULL);
}

/*
 * The ager's kdamond config: paddr over span, coarse monitoring (100 ms
 * samples, 10-20 regions: its own sampling steals few accessed bits from
 * the reclaim context), one lru_deprio scheme over every region whose ops
 * filters reject anon pages (their pte accessed bits stay the reclaim
 * context's), then young pages (a young one is marked old first: that is
 * the ageing), then old ones: it applies to no page.
 */
static int ager_cfg(struct ager *a, const struct kdamond_rt *kd)
{
	static const struct {
		enum damos_filter_type type;
		bool matching;
	} filters[] = {
		{ DAMOS_FILTER_ANON, true },
		{ DAMOS_FILTER_YOUNG, true },
		{ DAMOS_FILTER_YOUNG, false },
	};
	struct kdamond_cfg *k = &a->cfg;
	struct damos_cfg *s;
	char name[128];
	int r;

	kdamond_cfg_done(k);
	snprintf(name, sizeof(name), "%s.ager", kd->name);
	k->name = strdup(name);
	damon_ctx_cfg_init(&k->ctx);
	k->ctx.ops = DAMON_OPS_PADDR;
	k->ctx.sample_us = AGER_SAMPLE_US;
	k->ctx.aggr_us = AGER_AGGR_US;
	k->ctx.update_us = AGER_AGGR_US;
	k->ctx.min_nr_regions = 10;
	k->ctx.max_nr_regions = 20;
	k->ctx.refine.enabled = false;
	r = targets_dup(kd->targets, kd->nr_targets, &k->ctx.targets);
	if (r < 0 || !k->name)
		return -ENOMEM;
	k->ctx.nr_targets = kd->nr_targets;
	k->ctx.schemes = s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	k->ctx.nr_schemes = 1;
	damos_cfg_init(s);
	s->name = strdup("age");
	s->name_given = true;
	s->action = DAMOS_LRU_DEPRIO;
	s->quota.bytes = a->rate_bytes;
	s->quota.reset_interval_ms = AGER_RESET_MS;
	s->filters = calloc(ARRAY_SIZE(filters), sizeof(*s->filters));
	if (!s->name || !s->filters)
		return -ENOMEM;
	s->nr_filters = ARRAY_SIZE(filters);
	for (size_t i = 0; i < ARRAY_SIZE(filters); i++)
		s->filters[i] = (struct damos_filter_cfg){
			.type = filters[i].type,
			.layer = DAMOS_FILTER_LAYER_AUTO,
			.matching = filters[i].matching,
			.allow = false,
			.target_idx = -1,
		};
	return 0;
}

/* The lowest spare kdamond directory (UINT_MAX: none). */
static unsigned spare_index(const struct manager *m)
{
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs && k < UINT_MAX; k++)
		if (kdamond_dir_is_spare(m, (unsigned)k))
			return (unsigned)k;
	return UINT_MAX;
}

static void ager_start(struct manager *m, struct kdamond_rt *kd, struct ager *a, usec_t now, const char *why)
{
	int exit_status = m->exit_status, r;
	unsigned idx = spare_index(m);

	if (idx == UINT_MAX) {
		a->why = "needed, but no spare kdamond directory is left (settings.spare_kdamonds): damond does not "
			 "stop its kdamonds to add one";
		a->retry_at = now + AGER_RETRY_US;
		return;
	}
	kd_done(&a->kd);
	r = ager_cfg(a, kd);
	if (r < 0)
		goto fail;
	a->kd.name = strdup(a->cfg.name);
	a->kd.cfg = &a->cfg;
	a->kd.pid = -1;
	a->kd.index = idx;
	r = targets_dup(kd->targets, kd->nr_targets, &a->kd.targets);
	if (r < 0 || !a->kd.name) {
		r = -ENOMEM;
		goto fail;
	}
	a->kd.nr_targets = kd->nr_targets;
	r = kd_init_slots_fresh(m, &a->kd);
	if (r < 0)
		goto fail;
	/* no controller steps on the ager: its scheme is never held for a first window (it applies nothing, and
	 * 6.12's unlimited first window only makes its first pass a full one) */
	for (size_t i = 0; i < a->kd.overlay.nr_slots; i++)
		a->kd.overlay.slots[i].hold = false;
	r = kd_start(m, &a->kd, why);
	m->exit_status = exit_status; /* a refused spare directory is no reason for damond's exit status */
	if (r < 0 || !a->kd.running)
		goto fail;
	a->started_at = now;
	a->low_since = 0;
	a->nr_starts++;
	a->why = "the scheme's oracle counts at least one quota of page cache DAMON has not aged";
	return;
fail:
	log_warning_errno(r < 0 ? r : -EIO, "kdamond '%s': the charge emulation's ager did not start: %m", kd->name);
	a->kd.index = UINT_MAX;
	a->kd.running = false;
	a->kd.starting = false;
	a->why = "its start failed (see the action log); retried in 30 s";
	a->retry_at = now + AGER_RETRY_US;
	record_save(m);
}

static int ager_stop(struct manager *m, struct ager *a, usec_t now, const char *why)
{
	int r;

	if (a->kd.index == UINT_MAX)
		return 0;
	r = kd_stop(m, &a->kd, why);
	if (r < 0)
		return r;
	a->kd.index = UINT_MAX;
	a->kd.starting = false;
	a->stopped_at = now;
	a->nr_stops++;
	record_save(m);
	return 0;
}

static void ager_free(struct kdamond_rt *kd)
{
	kd_done(&kd->ager->kd);
	kdamond_cfg_done(&kd->ager->cfg);
	free(kd->ager);
	kd->ager = NULL;
}

/* Its kdamond still runs as started? A death is recorded, and the directory given back. */
static void ager_check_alive(struct manager *m, struct ager *a, usec_t now)
{
	int pid = -1, r;

	if (!a->kd.running)
		return;
	r = actuator(m)->alive(m, a->kd.index, &pid);
	if (r < 0)
		return; /* unknown (busy): the next tick reads it */
	if (r > 0 && (a->kd.pid <= 0 || pid == a->kd.pid)) {
		if (a->kd.pid <= 0) {
			a->kd.pid = pid;
			a->kd.starting = false;
			record_save(m);
		}
		return;
	}
	record_action(m, a->kd.name, "died", "the charge emulation's ager stopped behind damond's back (%s)",
		      r > 0 ? "another pid runs in its directory" : "state reads 'off'");
	a->kd.running = false;
	a->kd.pid = -1;
	a->kd.starting = false;
	a->kd.index = UINT_MAX;
	a->stopped_at = now;
	a->nr_stops++;
	a->why = "its kdamond stopped behind damond's back; started again after 30 s if still needed";
	a->retry_at = now + AGER_RETRY_US;
	record_save(m);
}

static void ager_kd_tick(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	const struct ctrl_charge_state *st;
	const struct damos_cfg *s;
	const char *why = NULL;
	struct ager *a;
	uint64_t q;
	size_t slot = 0;
	char how[192];

	st = served_slot(m, kd, &slot, &why);
	if (!st && !why) {
		/* no emulated pageout here (or the kernel has the native files: the mode is native then) */
		if (kd->ager && ager_stop(m, kd->ager, now, "the charge emulation no longer runs a paddr pageout") >= 0)
			ager_free(kd);
		return;
	}
	if (!kd->ager && !(kd->ager = calloc(1, sizeof(*kd->ager))))
		return;
	a = kd->ager;
	a->kd.index = a->kd.running || a->kd.starting ? a->kd.index : UINT_MAX;
	ager_check_alive(m, a, now);
	a->eligible = st != NULL;
	if (!st) {
		a->why = why;
		(void)ager_stop(m, a, now, why);
		return;
	}
	s = &kd->cfg->ctx.schemes[kd->slots[slot].cfg_idx];
	snprintf(a->scheme, sizeof(a->scheme), "%s", s->name);
	q = s->quota.bytes ? s->quota.bytes : st->cp.quota_bytes;
	a->young_bytes = st->map_young_cache_bytes;
	a->threshold_bytes = q;
	a->stop_bytes = q / 2;
	a->span_bytes = targets_span(kd->targets, kd->nr_targets);
	a->rate_bytes = ager_rate(a->span_bytes, q, s->quota.reset_interval_ms ?: 1000);
	why = kernel_off_reason(m);
	if (!why && actuator_is_dry_run(m))
		why = "dry run: damond starts no ager";
	if (!why && (!kd->running || kd->pending != KD_PENDING_NONE))
		why = "its kdamond does not run";
	if (!why && !st->map_bytes)
		why = "the oracle has not mapped the memory yet";
	if (why) {
		a->why = why;
		(void)ager_stop(m, a, now, why);
		return;
	}
	if (a->kd.running) {
		if (a->young_bytes >= a->stop_bytes) {
			a->low_since = 0;
			return;
		}
		if (!a->low_since)
			a->low_since = now;
		if (now - a->low_since < AGER_STOP_AFTER_US)
			return;
		snprintf(how, sizeof(how),
			 "no longer needed: the young page cache stayed under half a quota (%" PRIu64
			 " bytes) for %" PRIu64 " s",
			 a->stop_bytes, (uint64_t)(AGER_STOP_AFTER_US / 1000000));
		if (ager_stop(m, a, now, how) >= 0)
			a->why =
				"off: the young page cache stayed under half a quota for 30 s; it starts again at one quota";
		return;
	}
	if (a->young_bytes < a->threshold_bytes) {
		a->why = "off: the young page cache is under one quota (it starts at one quota)";
		return;
	}
	if (now < a->retry_at || (a->stopped_at && now < a->stopped_at + AGER_RESTART_GAP_US)) {
		a->why = "needed; waits before it starts again";
		return;
	}
	snprintf(how, sizeof(how),
		 "the charge emulation's ager for scheme '%s': %" PRIu64 " bytes of page cache DAMON has not aged "
		 "(one quota: %" PRIu64 ")",
		 a->scheme, a->young_bytes, q);
	ager_start(m, kd, a, now, how);
}

void ager_tick(struct manager *m, usec_t now)
{
	for (size_t i = 0; i < m->nr_kd; i++)
		ager_kd_tick(m, &m->kd[i], now);
}

void ager_stop_all(struct manager *m, const char *why)
{
	usec_t now = now_usec();

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		if (!kd->ager)
			continue;
		/* still running (the lock was held): the directory stays recorded as the ager's */
		if (ager_stop(m, kd->ager, now, why) < 0)
			continue;
		ager_free(kd);
	}
}

struct json_object *ager_json(const struct kdamond_rt *kd)
{
	const struct ager *a = kd->ager;
	struct json_object *o, *t;
	char name[128];

	if (!a)
		return NULL;
	o = json_object_new_object();
	snprintf(name, sizeof(name), "%s.ager", kd->name); /* as ager_cfg() names it, started or not */
	JADD(o, "name", json_object_new_string(name));
	JADD(o, "state", json_object_new_string(a->kd.running ? "on" : "off"));
	JADD(o, "running", json_object_new_int(a->kd.running));
	JADD(o, "why", json_object_new_string(a->why ? a->why : ""));
	JADD(o, "scheme", json_object_new_string(a->scheme));
	JADD(o, "index", a->kd.index != UINT_MAX ? json_object_new_int((int)a->kd.index) : NULL);
	JADD(o, "pid", a->kd.running && a->kd.pid > 0 ? json_object_new_int(a->kd.pid) : NULL);
	JADD(o, "young_cache_bytes", JU64(a->young_bytes));
	JADD(o, "start_at_bytes", JU64(a->threshold_bytes));
	JADD(o, "stop_under_bytes", JU64(a->stop_bytes));
	JADD(o, "stop_after_ms", JU64(AGER_STOP_AFTER_US / 1000));
	JADD(o, "window_quota_bytes", JU64(a->rate_bytes));
	JADD(o, "reset_interval_ms", JU64(AGER_RESET_MS));
	JADD(o, "span_bytes", JU64(a->span_bytes));
	JADD(o, "pass_ms", JU64(a->rate_bytes ? a->span_bytes * AGER_RESET_MS / a->rate_bytes : 0));
	if (a->kd.last_error)
		JADD(o, "last_error", json_object_new_string(a->kd.last_error));
	JADD(o, "starts", JU64(a->nr_starts));
	JADD(o, "stops", JU64(a->nr_stops));
	t = json_object_new_object();
	JADD(t, "ops", json_object_new_string("paddr"));
	JADD(t, "action", json_object_new_string("lru_deprio"));
	JADD(t, "filters", json_object_new_string("reject anon, reject young, reject not young: applies to no page"));
	JADD(t, "effect",
	     json_object_new_string("its young check marks the page cache (and mapped file pages) it reads "
				    "old, as the pageout's own young check would"));
	JADD(t, "sample_ms", JU64(AGER_SAMPLE_US / 1000));
	JADD(t, "aggr_ms", JU64(AGER_AGGR_US / 1000));
	JADD(t, "nr_regions", json_object_new_string("10..20"));
	JADD(o, "touches", t);
	return o;
}
