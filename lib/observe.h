/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Observations: what damond knows about one scheme of one kdamond when its
 * controllers run, from whichever source has it. Controllers are pure
 * functions of these; the manager gathers them (observe_*) and applies the
 * controllers' decisions in one place.
 *
 * Sources, preferred first:
 *  - the BPF monitor's snapshot store (lib/snapshot.h):
 *    damos_stat_after_apply_interval (7.0+) gives the cumulative stats at the
 *    end of each apply interval, damos_esz (6.17+) the effective quota.
 *    (damos_before_apply, the regions a scheme tried, is not part of an
 *    observation while no controller reads it; damond does not attach it.)
 *    Reading them costs the kernel nothing: no update_schemes_stats command,
 *    no global DAMON sysfs lock.
 *  - sysfs: update_schemes_stats (+ update_schemes_effective_quotas), then
 *    the stats/ files, as on kernels or schemes the events do not cover.
 *
 * Pure: no I/O, no clock (time is passed in).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "damon-sysfs.h"
#include "snapshot.h"

enum obs_source {
	OBS_SOURCE_NONE,
	OBS_SOURCE_SYSFS,	/* stats/ files after update_schemes_stats */
	OBS_SOURCE_BPF,		/* damos_stat_after_apply_interval / damos_esz events */
};

const char *obs_source_to_string(enum obs_source s);

struct scheme_observation {
	enum obs_source stats_source;
	struct damos_stats stats;	/* cumulative, as the kernel counts them */
	uint64_t stats_at_us;		/* CLOCK_MONOTONIC of the values */
	enum obs_source esz_source;     /* NONE: stats.effective_bytes unknown */
};

/*
 * Fills ret from the snapshot store for scheme slot `slot` of damond's
 * kdamond `kd` when the store has a damos_stat_after_apply_interval value of
 * it no older than max_age_us at now_us (and, when need_esz, a damos_esz
 * value too). Returns true then; false (ret untouched) when the caller must
 * ask sysfs. s may be NULL (no BPF monitor).
 */
bool observe_scheme_bpf(const struct snapshot_store *s, unsigned kd, unsigned slot, bool need_esz,
			uint64_t now_us, uint64_t max_age_us, struct scheme_observation *ret);

/* ret from values read from sysfs at at_us. */
void observe_scheme_sysfs(const struct damos_stats *st, bool have_esz, uint64_t at_us, struct scheme_observation *ret);
