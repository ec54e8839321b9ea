/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the running kernel's DAMON can do, learned by probing files (never by
 * version number): the files present in a kdamond directory tree, the
 * keywords a staging file accepts, tracefs events and module parameters.
 */
#pragma once

#include <stdbool.h>

#include "damon.h"
#include "sysfs.h"

enum feature {
	FEATURE_DAMON_SYSFS,
	FEATURE_REFRESH_MS,
	FEATURE_ADDR_UNIT,
	FEATURE_PAUSE,
	FEATURE_INTERVALS_GOAL,
	FEATURE_UPDATE_TUNED_INTERVALS,
	FEATURE_PROBES,
	FEATURE_OBSOLETE_TARGET,
	FEATURE_CORE_OPS_FILTERS,
	FEATURE_LEGACY_FILTERS,
	FEATURE_FILTER_ALLOW,
	FEATURE_DESTS,
	FEATURE_GOAL_TUNER,
	FEATURE_FAIL_CHARGE,
	FEATURE_GOAL_NID,
	FEATURE_GOAL_PATH,
	FEATURE_MAX_NR_SNAPSHOTS,
	FEATURE_SZ_OPS_FILTER_PASSED,
	FEATURE_BTF,
	/* probes/<P>/weight (7.3): the release whose kernel also splits regions above max_nr_regions/2 */
	FEATURE_PROBE_WEIGHT,
	_FEATURE_MAX,
};

enum feature_state {
	FEATURE_UNKNOWN, /* could not be probed (no kdamond dir to look into) */
	FEATURE_ABSENT,
	FEATURE_PRESENT,
};

enum module_state {
	MODULE_ABSENT,
	MODULE_OFF,
	MODULE_ON,
	_MODULE_STATE_MAX,
	_MODULE_STATE_INVALID = -EINVAL,
};

struct damon_features {
	enum feature_state f[_FEATURE_MAX];
	/* keywords, probed by writing to a staging file damond owns */
	enum feature_state ops[_DAMON_OPS_MAX];
	enum feature_state action[_DAMOS_ACTION_MAX];
	enum feature_state goal_metric[_DAMOS_GOAL_METRIC_MAX];
	enum feature_state filter_type[_DAMOS_FILTER_TYPE_MAX];
	enum module_state module[_DAMON_MODULE_MAX];
	bool tp_damon_aggregated, tp_damos_before_apply, tp_damos_esz, tp_damos_stat_after_apply_interval;
	bool tree_probed; /* a kdamond tree was available to look into */
};

const char *feature_to_string(enum feature f) _pure_;
const char *module_state_to_string(enum module_state s) _pure_;
/* Human description of what a feature is, for error messages. */
const char *feature_describe(enum feature f) _pure_;

/* Read-only probe: modules, tracefs, BTF, and kdamonds/<k> if one exists. */
int features_probe_readonly(struct sysfs_root *root, struct damon_features *ret);

/*
 * Full probe on kdamond directory <k>, which damond owns and which is not
 * running: populates one context/target/scheme/goal/filter/dest with nr_*
 * writes, looks at the files, and tries keywords. Leaves the staging tree
 * in an arbitrary state (the caller rewrites it).
 */
int features_probe_owned(struct sysfs_root *root, unsigned k, struct damon_features *ret);
/* The same; when an nr_* write fails, its path (PATH_MAX bytes, may be NULL) says which. */
int features_probe_owned_ex(struct sysfs_root *root, unsigned k, struct damon_features *ret, char *failed);

/*
 * What can be learned about the running kernel without writing anything:
 * features_probe_readonly() over every existing kdamond directory (the most
 * populated one tells the most), then, for what stays unknown, the features
 * a previous damond probed on this boot (RUNTIME_DIR/kdamonds.json; NULL
 * runtime_dir: not used). *ret_source says where the tree features came
 * from: "sysfs", "ownership record" or "none" (no kdamond directory to look
 * into and no record: the per-directory features stay unknown).
 */
int features_probe_kernel(struct sysfs_root *root, const char *runtime_dir, struct damon_features *ret,
			  const char **ret_source);

/*
 * Mark every feature that could not be probed as absent; returns how many.
 * features_check_config() on the result lists what a policy uses that was
 * not probed (never inferred from the kernel release).
 */
int features_mark_unknown_absent(struct damon_features *f);

struct json_object;
/* The "features" document (damondctl features); probed_from as above. */
struct json_object *features_json(const struct damon_features *f, const char *probed_from);
/* The ownership record's copy of a full probe, and back. */
struct json_object *features_record_json(const struct damon_features *f);
void features_from_record_json(struct json_object *o, struct damon_features *f);

struct config_errors;
/*
 * Check a config against the features. Every use of something the kernel
 * lacks adds one error naming the feature. fail_charge_ratio on a kernel
 * without the files is fine (emulated). Returns 0 or -EOPNOTSUPP.
 */
int features_check_config(const struct damon_features *f, const struct damond_config *c, struct config_errors *errs);

/*
 * Goal metric m is one damond feeds on this kernel: the kernel lacks it
 * (probed absent), takes 'user_input', and damond can measure m
 * (goal_current_measurable()). Such a goal is written as user_input and its
 * current value committed by damond (the goal_feed controller).
 */
bool features_goal_fed(const struct damon_features *f, enum damos_goal_metric m);
/* Goal g is fed (features_goal_fed() of its metric), or is some_mem_psi_us of one cgroup
 * (its path: no kernel has that metric) on a kernel with 'user_input'. */
bool features_goal_cfg_fed(const struct damon_features *f, const struct damos_goal_cfg *g);

/*
 * Scheme s asks for the temporal goal tuner on a kernel without
 * quotas/goal_tuner (before 7.1), and damond can measure every one of its
 * goals: damond scores them and caps the quota itself (goal_feed), writing
 * no goals to the kernel.
 */
bool features_temporal_emulated(const struct damon_features *f, const struct damos_cfg *s);
