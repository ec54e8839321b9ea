/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond's plan: its targets resolved, its scheme slots laid out and
 * configured (the charge-ratio emulation, its page-state oracle), held as
 * kd->policy, with kd->overlay for the controllers' decisions; both rendered
 * by plan_compose() (lib/plan.h). No kernel writes.
 */
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
	ctrls_free(sl->ctrl);
	sl->ctrl = NULL;
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
	kd_policy_done(&kd->policy);
	kd_overlay_done(&kd->overlay);
	ctrls_free(kd->ctrl);
	for (size_t k = 0; k < _PAGEFLAGS_CLASS_MAX; k++)
		pageflags_map_done(&kd->pageflags[k]);
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

/*
 * kd's policy for its cfg, targets and slots, and a fresh overlay with the
 * decisions its controllers stand by (kept over a reload where the slot kept
 * its scheme; reset_kdamond: the per-kdamond ones start afresh).
 */
int kd_plan_build(struct manager *m, struct kdamond_rt *kd, bool reset_kdamond)
{
	int r;

	kd_policy_done(&kd->policy);
	kd_overlay_done(&kd->overlay);
	r = kd_policy_init(&kd->policy, kd->index, kd->cfg, kd->targets, kd->nr_targets, kd->nr_slots);
	if (r < 0)
		return r;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		int c = kd->slots[i].cfg_idx;

		kd->policy.slots[i].cfg = c >= 0 ? &kd->cfg->ctx.schemes[c] : NULL;
	}
	ctrls_policy(m, kd);
	r = kd_overlay_init(&kd->overlay, kd->nr_slots, kd->nr_targets);
	if (r < 0)
		return r;
	return ctrls_setup(m, kd, reset_kdamond);
}

/* plan_compose() of kd's policy and overlay: the commit list over held (NULL: a start) and the canonical list. */
int kd_compose(struct manager *m, struct kdamond_rt *kd, const struct write_list *held, struct write_list *ret_commit,
	       struct write_list *ret_canonical)
{
	kd->policy.index = kd->index; /* assigned after the slots were laid out, at start */
	return plan_compose(&kd->policy, &kd->overlay, &m->features, held, ret_commit, ret_canonical);
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

int kd_init_slots_fresh(struct manager *m, struct kdamond_rt *kd)
{
	int r;

	slots_free(kd->slots, kd->nr_slots);
	kd->nr_slots = kd->cfg->ctx.nr_schemes;
	kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
	if (!kd->slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].cfg_idx = (int)i;
		kd->slots[i].name = strdup_or_null(kd->cfg->ctx.schemes[i].name);
	}
	r = ensure_keepalive(kd);
	return r < 0 ? r : kd_plan_build(m, kd, false);
}

/* Re-lay kd's slots for its (new) cfg; *ret_restart when positions cannot be kept. */
int kd_relayout(struct manager *m, struct kdamond_rt *kd, char **ret_restart)
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
			/* the new slot owns every pointer now (name, controller states) */
			kd->slots[i] = (struct scheme_rt){ .cfg_idx = -1 };
		} else if (!*ret_restart && i < kd->nr_slots && map[i] < 0)
			ns[i].keepalive = kd->slots[i].keepalive;
		ns[i].cfg_idx = map[i];
		if (!ns[i].name && map[i] >= 0)
			ns[i].name = strdup_or_null(kd->cfg->ctx.schemes[map[i]].name);
	}
	slots_free(kd->slots, kd->nr_slots);
	kd->slots = ns;
	kd->nr_slots = n;
	r = ensure_keepalive(kd);
	return r < 0 ? r : kd_plan_build(m, kd, false);
}
