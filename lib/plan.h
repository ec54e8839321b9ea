/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plan: what damond wants one kdamond to hold, as two layers.
 *
 * struct kd_policy is the configuration's part: the kdamond's config, its
 * resolved targets and the slot layout (which config scheme sits in which
 * kernel scheme directory). It is built once per start or reload.
 *
 * struct kd_overlay is the only place a controller's decision lives: per
 * slot a quota (the charge-ratio emulation), per target the ranges to leave
 * out (its exclusion gaps) and a region layout (region refinement; NULL:
 * keep the kernel's regions), per slot the current values of the goals
 * damond feeds (a metric the kernel lacks, measured by damond).
 *
 * plan_compose() renders the two once and derives both lists a kdamond needs:
 * the canonical list (the policy's regions minus the gaps: what the tree must
 * read back as, what a reload compares, what the record hashes) and the commit
 * list (the same, with each target's regions as the commit must carry them).
 * Exclusions apply before layouts, so a layout is re-cut against new gaps
 * instead of being dropped. No I/O.
 *
 * A kdamond's life with it: kd_policy_init_map() and kd_overlay_init() at
 * start and reload; a controller's decision goes into the overlay only
 * (kd_overlay_set_exclude(), _set_layout(), slots[i].quota_*); every start or
 * commit is plan_compose(policy, overlay, features, held = what the kernel
 * holds or NULL, &commit, &canonical), then write_list_carry_values() on the
 * commit list for tuned intervals, apply, 'commit', verify, and on success
 * held = canonical and kd_overlay_committed().
 */
#pragma once

#include "damon-features.h"
#include "damon.h"
#include "write-list.h"

struct kd_slot {
	const struct damos_cfg *cfg; /* NULL: a tombstone */
	bool native_fail_charge;     /* the kernel charges failures itself (fail_charge_num/denom) */
	uint32_t fed_goals;          /* bit g: damond measures goal g's metric (the kernel lacks it) and feeds it */
	bool temporal_emulated; /* goal_tuner temporal without the kernel's: damond scores the goals, caps the quota */
};

struct kd_policy {
	unsigned index; /* kdamonds/<index> */
	const struct kdamond_cfg *cfg;
	const struct damon_target_cfg *targets; /* resolved (auto regions filled in); borrowed */
	size_t nr_targets;
	struct kd_slot *slots; /* owned */
	size_t nr_slots;
};

/*
 * A policy for kdamond cfg in kdamonds/<index> with nr_slots slots, all
 * tombstones until the caller sets p->slots[i]; targets stay the caller's.
 */
int kd_policy_init(struct kd_policy *p, unsigned index, const struct kdamond_cfg *cfg,
		   const struct damon_target_cfg *targets, size_t nr_targets, size_t nr_slots);
/* Slot i holds config scheme map[i] (-1: a tombstone), as damon_layout_slots() lays them out. */
int kd_policy_init_map(struct kd_policy *p, unsigned index, const struct kdamond_cfg *cfg,
		       const struct damon_target_cfg *targets, size_t nr_targets, const int *map, size_t nr_slots);
void kd_policy_done(struct kd_policy *p);

struct kd_slot_overlay {
	bool quota_set; /* quotas/bytes is quota_bytes instead of the config's */
	uint64_t quota_bytes;
	uint32_t goal_set; /* bit g: a fed goal's current_value is goal_value[g] (else its target: neutral) */
	uint64_t goal_value[DAMOS_MAX_GOALS];
	bool quota_cap_set; /* the emulated temporal tuner: quotas/bytes at most quota_cap (1: apply nothing) */
	uint64_t quota_cap;
	bool hold; /* the scheme matches no region (access_pattern sz 0..0) until the kernel computed its quota */
	/*
	 * Owned; address ranges this slot's scheme must leave alone, written as
	 * its leading core `addr` reject filters (kd_overlay_set_reject():
	 * sorted, disjoint, at most PLAN_MAX_REJECT_FILTERS). The charge-ratio
	 * emulation's exclusions on vaddr/fvaddr, where target gaps do not hold.
	 */
	struct damon_addr_range *reject;
	size_t nr_reject;
};

struct kd_target_overlay {
	struct damon_addr_range *exclude; /* owned; left out of the target (paddr only), any order */
	size_t nr_exclude;
	struct damon_addr_range *layout; /* owned; NULL: keep the kernel's regions */
	size_t nr_layout;
	bool layout_new; /* set, not committed yet: the next commit carries it (kd_overlay_committed()) */
};

struct kd_overlay {
	struct kd_slot_overlay *slots; /* owned */
	size_t nr_slots;
	struct kd_target_overlay *targets; /* owned */
	size_t nr_targets;
	/* the context's max_nr_regions for now (0: the config's); region refinement's raise law */
	uint64_t max_nr_regions;
};

/* An empty overlay (nothing decided) for nr_slots slots and nr_targets targets. */
int kd_overlay_init(struct kd_overlay *o, size_t nr_slots, size_t nr_targets);
void kd_overlay_done(struct kd_overlay *o);
/* Target t leaves out v[0..n) from now on. Returns 1 when that changes the exclusions, 0 when not, or -errno. */
int kd_overlay_set_exclude(struct kd_overlay *o, size_t t, const struct damon_addr_range *v, size_t n);
/* Target t's region layout (n == 0: none, keep the kernel's); marks it new. Returns 0 or -errno. */
int kd_overlay_set_layout(struct kd_overlay *o, size_t t, const struct damon_addr_range *v, size_t n);
/*
 * The most addr reject filters damond puts in front of a scheme's own
 * (kd_overlay_set_reject()): every filter is tried on every region the
 * scheme visits, and each may split one.
 */
#define PLAN_MAX_REJECT_FILTERS 16

/*
 * v[0..n) sorted, overlapping or touching ranges merged, empty ones dropped,
 * then the two neighbours with the smallest gap between them merged until at
 * most max remain (the gap becomes excluded too: no excluded byte is given
 * up). In place; returns the new count.
 */
size_t plan_bound_ranges(struct damon_addr_range *v, size_t n, size_t max);

/*
 * Slot s's scheme leaves v[0..n) alone from now on, as leading addr reject
 * filters: plan_bound_ranges(..., PLAN_MAX_REJECT_FILTERS) of a copy of v.
 * Returns 1 when that changes the slot's filters, 0 when not, or -errno.
 */
int kd_overlay_set_reject(struct kd_overlay *o, size_t s, const struct damon_addr_range *v, size_t n);

/* A commit carried the overlay: its layouts are no longer new. */
void kd_overlay_committed(struct kd_overlay *o);

/*
 * Target t's span: the policy's ranges minus every exclusion of the
 * overlay's target t, in page-aligned pieces; never empty when the policy's
 * ranges are not (when the exclusions would leave nothing, the policy's
 * ranges). Exclusions only apply to paddr contexts. *ret is malloc'd.
 */
int plan_target_span(const struct kd_policy *p, const struct kd_overlay *o, size_t t, struct damon_addr_range **ret,
		     size_t *ret_n);

/*
 * The span v[0..n) cut at every boundary of layout that lies inside one of
 * its ranges: exactly the span, with the layout's cuts (a layout made for
 * other gaps loses the pieces now excluded and leaves new pieces whole).
 * *ret is malloc'd.
 */
int plan_recut(const struct damon_addr_range *span, size_t nr_span, const struct damon_addr_range *layout,
	       size_t nr_layout, struct damon_addr_range **ret, size_t *ret_n);

/*
 * Render policy p with overlay o (NULL: none) for features f, once, into:
 *
 * ret_canonical: every target with its span (plan_target_span()), every slot
 * with its overlay quota and, ahead of the scheme's own filters, its overlay
 * reject ranges as addr reject filters (damon-sysfs.h's scheme_slot.reject). Where a target's span is its policy ranges and
 * those are the configuration's own array (regions_borrowed), the region
 * block borrows that array instead of copying it
 * (write_list_borrow_target_regions()): the list must not outlive the
 * configuration, or write_list_unshare() must run before it goes.
 *
 * ret_commit: the same, but each target's regions as a commit over held (the
 * canonical list the kernel holds now; NULL: nothing, a start) must carry
 * them. When the span of any target differs from held's
 * (write_list_regions_changed()), every target carries its regions: its span,
 * or its layout re-cut against its span (plan_recut()). Else a target with a
 * new layout carries it re-cut, and every other one nr_regions 0 (the kernel
 * keeps its regions). On vaddr, and on a target without ranges, the kernel
 * chose the span: a layout goes as it is.
 *
 * Either ret may be NULL. Returns 0 or -errno.
 */
int plan_compose(const struct kd_policy *p, const struct kd_overlay *o, const struct damon_features *f,
		 const struct write_list *held, struct write_list *ret_commit, struct write_list *ret_canonical);
