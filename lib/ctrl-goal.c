/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctrl-goal.h"
#include "macro.h"

void goal_feed_params_default(struct goal_feed_params *p, uint64_t target, uint64_t reset_interval_us)
{
	*p = (struct goal_feed_params){
		.target = target,
		.min_interval_us = reset_interval_us ? reset_interval_us : 1000000,
		.max_quiet_us = 10 * (reset_interval_us ? reset_interval_us : 1000000),
	};
}

bool goal_feed_decide(const struct goal_feed_params *p, const struct goal_feed_state *s, uint64_t cur, uint64_t now_us)
{
	uint64_t band = MAX(p->target / 100, 1), diff;

	if (!s->fed)
		return true;
	if (cur == s->value || now_us < s->at_us + p->min_interval_us)
		return false;
	diff = cur > s->value ? cur - s->value : s->value - cur;
	return diff >= band || now_us >= s->at_us + p->max_quiet_us;
}

void goal_feed_outcome(struct goal_feed_state *s, bool committed, uint64_t now_us)
{
	if (!s->pending)
		return;
	s->pending = false;
	if (!committed)
		return; /* decided again from the next measurement */
	s->fed = true;
	s->value = s->pending_value;
	s->at_us = now_us;
	s->nr_feeds++;
}

bool goal_temporal_decide(const struct goal_temporal_state *s, uint64_t score_bp, uint64_t min_interval_us,
			  uint64_t now_us, bool *ret_met)
{
	bool met = score_bp >= 10000;

	*ret_met = met;
	if (!s->decided)
		return true;
	/* a switch at most once per window: the kernel reads the quota at the window's rollover anyway */
	return met != s->met && now_us >= s->at_us + min_interval_us;
}

void goal_temporal_outcome(struct goal_temporal_state *s, bool committed, uint64_t now_us)
{
	if (!s->pending)
		return;
	s->pending = false;
	if (!committed)
		return;
	s->nr_switches += s->decided && s->met != s->pending_met;
	s->decided = true;
	s->met = s->pending_met;
	s->at_us = now_us;
}
