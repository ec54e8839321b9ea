/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Gathering controller observations from the BPF store or sysfs (see observe.h). */
#include "observe.h"

#include "macro.h"

const char *obs_source_to_string(enum obs_source s)
{
	switch (s) {
	case OBS_SOURCE_SYSFS:
		return "sysfs";
	case OBS_SOURCE_BPF:
		return "bpf";
	default:
		return "none";
	}
}

bool observe_scheme_bpf(const struct snapshot_store *s, unsigned kd, unsigned slot, bool need_esz,
			uint64_t now_us, uint64_t max_age_us, struct scheme_observation *ret)
{
	const struct damos_scheme_obs *o;
	uint64_t at_us;

	if (!s || !ret)
		return false;
	o = snapshot_store_get_scheme(s, kd, slot);
	if (!o || !o->has_stat || (need_esz && !o->has_esz))
		return false;
	at_us = o->stat_ts_ns / 1000;
	if (at_us > now_us + max_age_us || now_us > at_us + max_age_us)
		return false;

	*ret = (struct scheme_observation){
		.stats_source = OBS_SOURCE_BPF,
		.stats = {
			.nr_tried = o->stat.nr_tried,
			.sz_tried = o->stat.sz_tried,
			.nr_applied = o->stat.nr_applied,
			.sz_applied = o->stat.sz_applied,
			.qt_exceeds = o->stat.qt_exceeds,
			.sz_ops_filter_passed = o->stat.sz_ops_filter_passed,
			/* the event carries it on every kernel that has the event (7.0+) */
			.has_sz_ops_filter_passed = true,
			.effective_bytes = o->has_esz ? o->esz : 0,
		},
		.stats_at_us = at_us,
		.esz_source = o->has_esz ? OBS_SOURCE_BPF : OBS_SOURCE_NONE,
	};
	return true;
}

void observe_scheme_sysfs(const struct damos_stats *st, bool have_esz, uint64_t at_us, struct scheme_observation *ret)
{
	*ret = (struct scheme_observation){
		.stats_source = OBS_SOURCE_SYSFS,
		.stats = *st,
		.stats_at_us = at_us,
		.esz_source = have_esz ? OBS_SOURCE_SYSFS : OBS_SOURCE_NONE,
	};
}
