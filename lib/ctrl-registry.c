/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The controllers, in the order they step, and the rules by which they share
 * one kdamond (lib/controller.h).
 *
 * Arbitration. These are all the rules; a host implements them, nothing else
 * decides between controllers:
 *
 *  1. Order. Per tick and kdamond, the controllers step in the order of
 *     ctrl_registry[]; the instances of a CTRL_SCHEME controller in slot
 *     order. All of them step on the kdamond's one kd_overlay.
 *  2. One commit per kdamond per tick. Whatever the steps changed goes to
 *     the kernel in one commit of plan_compose(policy, overlay, ...).
 *  3. A later controller waits for a tick in which no earlier one changed
 *     the overlay: once any instance of registry[j] changed it, no
 *     registry[i > j] steps this tick (ctrl_may_step()). So region
 *     refinement waits for a tick without charge decisions, and a
 *     refinement round is never committed together with (or judged
 *     against) a change of the span it was laid out over. Every instance of
 *     one controller still steps: the charge decisions of all schemes
 *     share the commit.
 *  4. Ownership. A controller writes only the overlay fields it declares in
 *     .owns (CTRL_OWNS_*); no two controllers own the same field
 *     (ctrl_overlay_diff() checks a step against it). Quota and exclusions
 *     are the charge-ratio emulation's, layouts region refinement's. A
 *     controller may read the others' fields (refinement lays out over the
 *     span the exclusions leave).
 *  5. Outcome. After the commit (or its failure) outcome() goes to every
 *     instance of each controller that changed the overlay this tick:
 *     the commit carried every slot's standing decision, so a failure
 *     leaves each slot's share of it unknown. Controllers that did not
 *     change it hear nothing.
 *  6. Pacing is each controller's own (charge: min_commit_interval_us and
 *     its emergency interval; refinement: its interval and backoff; goal
 *     feeding: once per quota window at most, on a 1 % move); the host adds
 *     only rule 2.
 *  0. The first-window hold steps first, and its release does not make the
 *     others wait (it changes no span, quota or layout): the commit that
 *     releases a held scheme also carries whatever the others decide in
 *     that tick. So the charge-ratio emulation's first exclusions reach the
 *     kernel no later than the release; before this rule let the release
 *     commit alone, 6.12's first real quota window went to the mlocked
 *     memory the exclusions were about to hide (seed 000's recipe: tried
 *     100 MiB, applied 0 in that window, bench/goal 2026-12-04).
 *  7. Goal feeding steps last: a tick in which charge or refinement changed
 *     the overlay carries the fed values it already holds, and the new
 *     measurement goes in at the next tick. A commit whose only change is
 *     fed goal values goes to the kernel as 'commit_schemes_quota_goals'
 *     (daemon/kdamond.c), which leaves everything else alone.
 */
#include <string.h>

#include "controller.h"
#include "macro.h"

const struct ctrl_ops *const ctrl_registry[] = {
	&ctrl_window_ops,
	&ctrl_charge_ops,
	&ctrl_refine_ops,
	&ctrl_goal_ops,
};

const size_t ctrl_registry_len = ARRAY_SIZE(ctrl_registry);

const struct ctrl_ops *ctrl_lookup(const char *name)
{
	for (size_t i = 0; i < ctrl_registry_len; i++)
		if (strcmp(ctrl_registry[i]->name, name) == 0)
			return ctrl_registry[i];
	return NULL;
}

bool ctrl_may_step(size_t i, unsigned changed_mask)
{
	unsigned hold_only = 0;

	/* rule 0: a release changes no span or quota, so it does not make the others wait */
	for (size_t c = 0; c < ctrl_registry_len && c < i; c++)
		if (ctrl_registry[c]->owns == CTRL_OWNS_HOLD)
			hold_only |= 1u << c;
	/* rule 3: no earlier controller changed the overlay this tick */
	return (changed_mask & ~hold_only & ((1u << i) - 1)) == 0;
}
