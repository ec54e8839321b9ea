/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Feeding a quota goal's current value (issue 16): the pure law.
 *
 * A goal whose metric the running kernel lacks (node_mem_free_bp on 6.12,
 * say) is written as a 'user_input' goal with the same target; damond
 * measures the metric the way the kernel would (lib/goal-current.c) and
 * hands the value to the kernel, whose own tuner then does the rest. The
 * kernel reads a goal once per quota window (reset_interval), at the
 * window's rollover (shared/docs/kernel-damon.md 3.5), so a value fed more
 * often than that is never seen; one fed much less often steers the tuner
 * with a stale number.
 *
 * The law: feed the first measurement at once; then at most once per
 * min_interval_us, and only when the value moved by the deadband (1 % of
 * the target, at least 1) or max_quiet_us passed with any change. No I/O,
 * no clock: time is passed in.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct goal_feed_params {
	uint64_t target;          /* the goal's target_value: the deadband is 1 % of it */
	uint64_t min_interval_us; /* the quota window: the kernel reads the value once per window */
	uint64_t max_quiet_us;    /* a smaller change still goes in after this long */
};

struct goal_feed_state {
	bool fed;          /* the kernel has value (a commit carried it) */
	uint64_t value;    /* the last value handed to the kernel */
	uint64_t at_us;    /* when */
	uint64_t nr_feeds; /* commits that carried a new value */
	bool pending;      /* decided, not committed yet */
	uint64_t pending_value;
};

/*
 * The temporal tuner (7.1's, shared/docs/kernel-damon.md 3.5) for kernels
 * without it: the goals' score is the highest of current * 10000 / target;
 * met (>= 10000): nothing is applied in the window, missed: the full size
 * quota. Returns true when the kernel quota should change to *ret_cap_set
 * (a cap of 1 byte: nothing applied) / no cap, at most once per window.
 */
struct goal_temporal_state {
	bool decided; /* the kernel holds `met` (a commit carried it) */
	bool met;
	uint64_t at_us; /* when it last changed */
	uint64_t score_bp;
	uint64_t nr_switches;
	bool pending, pending_met;
};

bool goal_temporal_decide(const struct goal_temporal_state *s, uint64_t score_bp, uint64_t min_interval_us,
			  uint64_t now_us, bool *ret_met);
void goal_temporal_outcome(struct goal_temporal_state *s, bool committed, uint64_t now_us);

void goal_feed_params_default(struct goal_feed_params *p, uint64_t target, uint64_t reset_interval_us);
/* Should the kernel get cur (measured now)? */
bool goal_feed_decide(const struct goal_feed_params *p, const struct goal_feed_state *s, uint64_t cur, uint64_t now_us);
/* The commit carrying the pending value went through (committed) or not. */
void goal_feed_outcome(struct goal_feed_state *s, bool committed, uint64_t now_us);
