/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond's plan: its targets resolved, its scheme slots laid out and
 * configured (the charge-ratio emulation, its page-state oracle and target
 * gaps), rendered into the write list the kernel is given. No kernel writes.
 */
#include <fcntl.h>
#include <limits.h>

#include "iomem.h"
#include "log.h"
#include "manager-internal.h"

void targets_free(struct damon_target_cfg *t, size_t n)
{
	for (size_t i = 0; i < n && t; i++)
		if (!t[i].regions_borrowed)
			free(t[i].regions);
	free(t);
}

static void slot_done(struct scheme_rt *sl)
{
	free(sl->name);
	sl->name = NULL;
	pageflags_map_done(&sl->map);
	sl->map_enabled = false;
	free(sl->map_off_reason);
	sl->map_off_reason = NULL;
}

void slots_free(struct scheme_rt *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		slot_done(&s[i]);
	free(s);
}

void kd_done(struct kdamond_rt *kd)
{
	free(kd->name);
	free(kd->last_why);
	free(kd->record_hash);
	free(kd->pending_why);
	free(kd->last_error);
	targets_free(kd->targets, kd->nr_targets);
	slots_free(kd->slots, kd->nr_slots);
	write_list_done(&kd->written);
	*kd = (struct kdamond_rt){};
}

int resolve_targets(struct manager *m, const struct kdamond_cfg *k, struct damon_target_cfg **ret, size_t *ret_n)
{
	struct damon_target_cfg *t;
	size_t n = k->ctx.nr_targets;

	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct damon_target_cfg *src = &k->ctx.targets[i];

		t[i] = *src;
		t[i].regions = NULL;
		t[i].nr_regions = 0;
		t[i].regions_borrowed = false;
		if (src->regions_auto) {
			char path[PATH_MAX];
			int r;

			snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
			/* in core address units: iomem is in bytes, the kernel multiplies by addr_unit */
			r = iomem_system_ram_units(path, 4096, MAX(k->ctx.addr_unit, 1ULL), &t[i].regions,
						   &t[i].nr_regions);
			if (r < 0) {
				targets_free(t, n);
				return log_error_errno(
					r, "kdamond '%s': cannot resolve 'regions: auto' from '%s': %s", k->name, path,
					r == -EPERM ? "addresses read as zero (not root?)" : strerror(-r));
			}
		} else if (src->nr_regions) {
			/* The user's ranges as they are: shared with the config, which
			 * outlives these (a reload replaces every kdamond's targets
			 * before it frees the old config). 20,000 ranges are 320 KB. */
			t[i].regions = src->regions;
			t[i].nr_regions = src->nr_regions;
			t[i].regions_borrowed = true;
		}
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

static enum fail_mode wanted_fail_mode(const struct manager *m, const struct damos_cfg *s)
{
	switch (s->quota.fail_charge_mode) {
	case DAMOS_FAIL_CHARGE_OFF:
		return FAIL_MODE_OFF;
	case DAMOS_FAIL_CHARGE_EMULATE:
		return FAIL_MODE_EMULATED;
	case DAMOS_FAIL_CHARGE_NATIVE:
		return FAIL_MODE_NATIVE;
	default:
		return m->features.f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT ? FAIL_MODE_NATIVE : FAIL_MODE_EMULATED;
	}
}

/*
 * The page-state oracle of the charge-ratio emulation: for paddr actions
 * whose success is predictable from page flags, /proc/kpageflags summarised
 * over the target's span in 2 MiB chunks. Without it the controller runs its
 * fallback law, and status says why.
 */
static void slot_setup_oracle(struct manager *m, struct kdamond_rt *kd, struct scheme_rt *sl, const struct damos_cfg *s)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	const char *why = NULL;
	char path[PATH_MAX];
	int r;

	pageflags_map_done(&sl->map);
	sl->map_enabled = false;
	free(sl->map_off_reason);
	sl->map_off_reason = NULL;

	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR)
		why = "no page-state oracle for virtual address spaces";
	else if (kd->cfg->ctx.addr_unit != 1)
		why = "no page-state oracle with addr_unit != 1";
	else if (s->action == DAMOS_PAGEOUT)
		sl->map_class = PAGEFLAGS_CLASS_EVICTABLE;
	else if (s->action == DAMOS_LRU_PRIO || s->action == DAMOS_LRU_DEPRIO)
		sl->map_class = PAGEFLAGS_CLASS_LRU;
	else
		why = "no page-state oracle for this action";
	for (size_t t = 0; !why && t < kd->nr_targets; t++)
		for (size_t i = 0; i < kd->targets[t].nr_regions; i++) {
			lo = MIN(lo, kd->targets[t].regions[i].start);
			hi = MAX(hi, kd->targets[t].regions[i].end);
		}
	if (!why && hi <= lo)
		why = "the target has no regions";
	if (!why && m->kpageflags_fd < 0 && !m->kpageflags_err) {
		snprintf(path, sizeof(path), "%s/kpageflags", m->procfs_root);
		m->kpageflags_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (m->kpageflags_fd < 0)
			m->kpageflags_err = errno ? errno : EIO;
	}
	if (!why && m->kpageflags_fd < 0)
		why = m->kpageflags_err == EACCES || m->kpageflags_err == EPERM ? "cannot read kpageflags (not root?)"
										: "kpageflags is not available";
	if (!why) {
		r = pageflags_map_init(&sl->map, lo, hi, 2ULL << 20, 4096);
		if (r < 0)
			why = "cannot size the page-state map";
	}
	if (why) {
		sl->map_off_reason = strdup_or_null(why);
		log_notice("kdamond '%s' scheme '%s': charge-ratio emulation without page-state oracle (%s): "
			   "fallback law, bounded at %u.%u x quota per window",
			   kd->name, s->name, why, 1 + sl->cp.margin_permil / 1000, sl->cp.margin_permil % 1000 / 100);
		return;
	}
	/* A full scan reads 8 bytes per page: 2 ms per GiB-ish; scan at most every 1 s per GiB monitored. */
	sl->map_period_us = MAX(1000000ULL, (hi - lo) / (1ULL << 30) * 1000000ULL);
	sl->map_enabled = true;
}

/* Initialise a slot's runtime for a (new or changed) config scheme. */
static void slot_configure(struct manager *m, struct kdamond_rt *kd, struct scheme_rt *sl, usec_t now)
{
	const struct damos_cfg *s = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
	enum fail_mode mode = s ? wanted_fail_mode(m, s) : FAIL_MODE_OFF;
	struct charge_params p = {};

	if (!s || mode != FAIL_MODE_EMULATED) {
		sl->fail_mode = mode;
		sl->ctrl_active = false;
		sl->quota_override = false;
		sl->nr_reject = 0;
		return;
	}
	charge_params_default(&p, s->quota.bytes, s->quota.reset_interval_ms * 1000, s->quota.fail_charge_num,
			      s->quota.fail_charge_denom);
	p.min_region_sz = 4096 * MAX(kd->cfg->ctx.addr_unit, 1ULL);
	/* Keep the controller's learned state across reloads that do not change its parameters. */
	if (sl->fail_mode == FAIL_MODE_EMULATED && sl->ctrl_active && !memcmp(&p, &sl->cp, sizeof(p)))
		return;
	sl->fail_mode = FAIL_MODE_EMULATED;
	sl->cp = p;
	charge_init(&sl->cs, &sl->cp, now);
	sl->ctrl_active = true;
	sl->quota_override = false;
	sl->nr_reject = 0;
	slot_setup_oracle(m, kd, sl, s);
}

void targets_freep(struct gapped *g)
{
	if (g->t)
		targets_free(g->t, g->n);
}

/*
 * The charge-ratio emulation excludes memory its action fails on by leaving
 * it out of the paddr target: the user's ranges minus every emulated
 * scheme's reject ranges (docs/CONTROLLERS.md explains why gaps and not
 * addr filters). g->t stays NULL when there is nothing to cut.
 */
int targets_with_gaps(const struct kdamond_rt *kd, struct gapped *g)
{
	struct damon_addr_range cut[CHARGE_MAX_FILTERS * 4];
	size_t nc = 0;

	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR)
		return 0;
	for (size_t i = 0; i < kd->nr_slots; i++)
		for (size_t j = 0; j < kd->slots[i].nr_reject && nc < ARRAY_SIZE(cut); j++)
			cut[nc++] = kd->slots[i].reject[j];
	if (!nc)
		return 0;
	g->t = calloc(kd->nr_targets ? kd->nr_targets : 1, sizeof(*g->t));
	if (!g->t)
		return -ENOMEM;
	g->n = kd->nr_targets;
	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct damon_target_cfg *src = &kd->targets[t];
		size_t cap = 0;

		g->t[t] = *src;
		g->t[t].regions = NULL;
		g->t[t].nr_regions = 0;
		g->t[t].regions_borrowed = false; /* built here, owned */
		for (size_t i = 0; i < src->nr_regions; i++) {
			uint64_t pos = src->regions[i].start, end = src->regions[i].end;

			while (pos < end) {
				uint64_t next_cut = end, resume = end;
				struct damon_addr_range *r;

				/* the earliest cut that overlaps [pos, end) */
				for (size_t c = 0; c < nc; c++)
					if (cut[c].end > pos && cut[c].start < end &&
					    MAX(cut[c].start, pos) < next_cut) {
						next_cut = MAX(cut[c].start, pos);
						resume = cut[c].end;
					}
				/* page-aligned kept piece [pos, next_cut) */
				if (next_cut - pos >= 4096) {
					r = APPEND(g->t[t].regions, g->t[t].nr_regions, cap);
					if (!r)
						return -ENOMEM;
					r->start = pos;
					r->end = next_cut & ~4095ULL;
				}
				if (next_cut == end)
					break;
				pos = (MIN(resume, end) + 4095) & ~4095ULL;
			}
		}
		if (!g->t[t].nr_regions) {
			/* never cut everything away: keep the user's ranges */
			free(g->t[t].regions);
			g->t[t].regions = calloc(src->nr_regions, sizeof(*src->regions));
			if (!g->t[t].regions)
				return -ENOMEM;
			memcpy(g->t[t].regions, src->regions, src->nr_regions * sizeof(*src->regions));
			g->t[t].nr_regions = src->nr_regions;
		}
	}
	return 0;
}

/*
 * The write list for kd: the policy, the charge emulation's quotas and gaps,
 * and (override, a region-refinement commit) other target region lists.
 */
int plan_render(struct manager *m, struct kdamond_rt *kd, bool keep_regions, const struct gapped *override,
		struct write_list *ret)
{
	_cleanup_free_ struct scheme_slot *slots = NULL;
	struct kdamond_plan plan = {
		.cfg = kd->cfg,
		.targets = kd->targets,
		.nr_targets = kd->nr_targets,
		.keep_regions = keep_regions,
	};

	_cleanup_(targets_freep) struct gapped gapped = {};
	int r;

	if (override) {
		plan.targets = override->t;
		plan.nr_targets = override->n;
	} else {
		r = targets_with_gaps(kd, &gapped);
		if (r < 0)
			return r;
		if (gapped.t) {
			plan.targets = gapped.t;
			plan.nr_targets = gapped.n;
		}
	}
	slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct scheme_rt *sl = &kd->slots[i];

		slots[i].cfg = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
		slots[i].native_fail_charge = sl->fail_mode == FAIL_MODE_NATIVE;
		slots[i].quota_override = sl->quota_override;
		slots[i].quota_bytes = sl->kernel_quota;
		/* the emulation's exclusions are target gaps (targets_with_gaps), not filters */
		slots[i].reject = NULL;
		slots[i].nr_reject = 0;
	}
	plan.slots = slots;
	plan.nr_slots = kd->nr_slots;
	return damon_render_kdamond(kd->index, &plan, &m->features, ret);
}

/*
 * When every scheme has watermarks, all of them can be deactivated at once;
 * the kdamond then only waits for activation and handles no sysfs command
 * (6.12 waits forever for a commit then, 7.x for one watermark interval).
 * An always-active slot that matches nothing (a tombstone) keeps commands
 * flowing. Appended, so it never shifts a scheme's slot.
 */
static int ensure_keepalive(struct kdamond_rt *kd)
{
	bool need = kd->nr_slots > 0;
	struct scheme_rt *ns;

	for (size_t i = 0; i < kd->nr_slots; i++) {
		int c = kd->slots[i].cfg_idx;

		if (c < 0 || kd->cfg->ctx.schemes[c].wmarks.metric == DAMOS_WMARK_NONE)
			need = false;
	}
	if (!need)
		return 0;
	ns = realloc(kd->slots, (kd->nr_slots + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	kd->slots = ns;
	kd->slots[kd->nr_slots++] = (struct scheme_rt){ .cfg_idx = -1, .keepalive = true };
	return 0;
}

int kd_init_slots_fresh(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	slots_free(kd->slots, kd->nr_slots);
	kd->nr_slots = kd->cfg->ctx.nr_schemes;
	kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
	if (!kd->slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].cfg_idx = (int)i;
		kd->slots[i].name = strdup_or_null(kd->cfg->ctx.schemes[i].name);
		slot_configure(m, kd, &kd->slots[i], now);
	}
	return ensure_keepalive(kd);
}

/* Re-lay kd's slots for its (new) cfg; *ret_restart when positions cannot be kept. */
int kd_relayout(struct manager *m, struct kdamond_rt *kd, usec_t now, char **ret_restart)
{
	_cleanup_free_ const char **names = NULL;
	_cleanup_free_ int *map = NULL;
	struct scheme_rt *ns;
	size_t n = 0;
	int r;

	names = calloc(kd->nr_slots + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++)
		names[i] = kd->slots[i].name;
	r = damon_layout_slots(names, kd->nr_slots, &kd->cfg->ctx, &map, &n, ret_restart);
	if (r < 0)
		return r;
	ns = calloc(n ? n : 1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* Carry runtime state of a slot that keeps its scheme. */
		if (!*ret_restart && i < kd->nr_slots && map[i] >= 0 && kd->slots[i].name &&
		    streq(kd->slots[i].name, kd->cfg->ctx.schemes[map[i]].name)) {
			ns[i] = kd->slots[i];
			/* the new slot owns every pointer now (name, page map, reasons) */
			kd->slots[i] = (struct scheme_rt){ .cfg_idx = -1 };
		} else if (!*ret_restart && i < kd->nr_slots && map[i] < 0)
			ns[i].keepalive = kd->slots[i].keepalive;
		ns[i].cfg_idx = map[i];
		if (!ns[i].name && map[i] >= 0)
			ns[i].name = strdup_or_null(kd->cfg->ctx.schemes[map[i]].name);
		slot_configure(m, kd, &ns[i], now);
	}
	slots_free(kd->slots, kd->nr_slots);
	kd->slots = ns;
	kd->nr_slots = n;
	return ensure_keepalive(kd);
}
