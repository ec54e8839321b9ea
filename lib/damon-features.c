/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "config.h"
#include "damon-features.h"
#include "damon-sysfs.h"
#include "goal-current.h"
#include "log.h"
#include "string-table.h"

bool features_temporal_emulated(const struct damon_features *f, const struct damos_cfg *s)
{
	if (!s || !s->quota.goal_tuner_set || s->quota.goal_tuner != DAMOS_TUNER_TEMPORAL ||
	    f->f[FEATURE_GOAL_TUNER] != FEATURE_ABSENT || !s->quota.nr_goals)
		return false;
	for (size_t g = 0; g < s->quota.nr_goals; g++)
		if (!goal_current_measurable(s->quota.goals[g].metric))
			return false;
	return true;
}

bool features_goal_fed(const struct damon_features *f, enum damos_goal_metric m)
{
	return m != DAMOS_GOAL_USER_INPUT && (unsigned)m < _DAMOS_GOAL_METRIC_MAX &&
	       (f->goal_metric[m] == FEATURE_ABSENT || !damos_goal_metric_is_kernel(m)) &&
	       f->goal_metric[DAMOS_GOAL_USER_INPUT] != FEATURE_ABSENT && goal_current_measurable(m);
}

bool features_goal_cfg_fed(const struct damon_features *f, const struct damos_goal_cfg *g)
{
	/* some_mem_psi_us of one cgroup: no kernel has it, damond reads the cgroup's memory.pressure */
	if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US && g->path)
		return f->goal_metric[DAMOS_GOAL_USER_INPUT] != FEATURE_ABSENT;
	return features_goal_fed(f, g->metric);
}

static const char *const feature_table[_FEATURE_MAX] = {
	[FEATURE_DAMON_SYSFS] = "damon_sysfs",
	[FEATURE_REFRESH_MS] = "refresh_ms",
	[FEATURE_ADDR_UNIT] = "addr_unit",
	[FEATURE_PAUSE] = "pause",
	[FEATURE_INTERVALS_GOAL] = "intervals_goal",
	[FEATURE_UPDATE_TUNED_INTERVALS] = "update_tuned_intervals",
	[FEATURE_PROBES] = "probes",
	[FEATURE_OBSOLETE_TARGET] = "obsolete_target",
	[FEATURE_CORE_OPS_FILTERS] = "core_ops_filters",
	[FEATURE_LEGACY_FILTERS] = "legacy_filters",
	[FEATURE_FILTER_ALLOW] = "filter_allow",
	[FEATURE_DESTS] = "dests",
	[FEATURE_GOAL_TUNER] = "goal_tuner",
	[FEATURE_FAIL_CHARGE] = "fail_charge",
	[FEATURE_GOAL_NID] = "goal_nid",
	[FEATURE_GOAL_PATH] = "goal_path",
	[FEATURE_MAX_NR_SNAPSHOTS] = "max_nr_snapshots",
	[FEATURE_SZ_OPS_FILTER_PASSED] = "sz_ops_filter_passed",
	[FEATURE_BTF] = "btf",
	[FEATURE_PROBE_WEIGHT] = "probe_weight",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(feature, enum feature);

static const char *const feature_descriptions[_FEATURE_MAX] = {
	[FEATURE_DAMON_SYSFS] = "the DAMON sysfs interface (CONFIG_DAMON_SYSFS)",
	[FEATURE_REFRESH_MS] = "kdamonds/<K>/refresh_ms (Linux 6.17+)",
	[FEATURE_ADDR_UNIT] = "contexts/<C>/addr_unit (Linux 6.18+)",
	[FEATURE_PAUSE] = "contexts/<C>/pause (Linux 7.2+)",
	[FEATURE_INTERVALS_GOAL] = "monitoring_attrs/intervals/intervals_goal/ (Linux 6.15+)",
	[FEATURE_UPDATE_TUNED_INTERVALS] = "the update_tuned_intervals command (Linux 6.15+)",
	[FEATURE_PROBES] = "monitoring_attrs/probes/ (Linux 7.2+)",
	[FEATURE_OBSOLETE_TARGET] = "targets/<T>/obsolete_target (Linux 6.19+)",
	[FEATURE_CORE_OPS_FILTERS] = "schemes/<S>/core_filters and ops_filters (Linux 6.15+)",
	[FEATURE_LEGACY_FILTERS] = "schemes/<S>/filters",
	[FEATURE_FILTER_ALLOW] = "the filter 'allow' file (Linux 6.14+)",
	[FEATURE_DESTS] = "schemes/<S>/dests/ (Linux 6.17+)",
	[FEATURE_GOAL_TUNER] = "quotas/goal_tuner (Linux 7.1+)",
	[FEATURE_FAIL_CHARGE] = "quotas/fail_charge_num and fail_charge_denom (Linux 7.2+)",
	[FEATURE_GOAL_NID] = "quota goal 'nid' (Linux 6.16+)",
	[FEATURE_GOAL_PATH] = "quota goal 'path' (Linux 6.19+)",
	[FEATURE_MAX_NR_SNAPSHOTS] = "stats/max_nr_snapshots (Linux 7.0+)",
	[FEATURE_SZ_OPS_FILTER_PASSED] = "stats/sz_ops_filter_passed (Linux 6.14+)",
	[FEATURE_BTF] = "kernel BTF (/sys/kernel/btf/vmlinux)",
	[FEATURE_PROBE_WEIGHT] =
		"monitoring_attrs/probes/<P>/weight (Linux 7.3+, the release that splits regions above max_nr_regions/2)",
};

const char *feature_describe(enum feature f)
{
	return f >= 0 && f < _FEATURE_MAX ? feature_descriptions[f] : NULL;
}

static const char *const module_state_table[_MODULE_STATE_MAX] = {
	[MODULE_ABSENT] = "absent",
	[MODULE_OFF] = "off",
	[MODULE_ON] = "on",
};
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(module_state, enum module_state);

static enum feature_state presence(const struct sysfs_root *root, const char *fmt, ...) _printf_(2, 3);
static enum feature_state presence(const struct sysfs_root *root, const char *fmt, ...)
{
	char p[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return sysfs_exists(root, p) ? FEATURE_PRESENT : FEATURE_ABSENT;
}

static void probe_modules_tracefs(struct sysfs_root *root, struct damon_features *f)
{
	for (int m = 0; m < _DAMON_MODULE_MAX; m++) {
		char p[128];
		bool on;

		snprintf(p, sizeof(p), DAMON_MODULE_ENABLED_FMT, damon_module_to_string(m));
		if (sysfs_read_bool(root, p, &on) < 0)
			f->module[m] = MODULE_ABSENT;
		else
			f->module[m] = on ? MODULE_ON : MODULE_OFF;
	}

	f->f[FEATURE_BTF] = presence(root, "kernel/btf/vmlinux");
	f->tp_damon_aggregated = sysfs_exists(root, "kernel/tracing/events/damon/damon_aggregated");
	f->tp_damos_before_apply = sysfs_exists(root, "kernel/tracing/events/damon/damos_before_apply");
	f->tp_damos_esz = sysfs_exists(root, "kernel/tracing/events/damon/damos_esz");
	f->tp_damos_stat_after_apply_interval =
		sysfs_exists(root, "kernel/tracing/events/damon/damos_stat_after_apply_interval");
}

/* Is word one of the whitespace-separated words of list? */
static bool word_in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == '\n' || p[-1] == ' ') && (p[n] == '\0' || p[n] == '\n' || p[n] == ' '))
			return true;
	return false;
}

/* Look at the files of kdamonds/<k> as far as its tree is populated. */
static void probe_tree(struct sysfs_root *root, unsigned k, struct damon_features *f)
{
	char c[PATH_MAX], s[PATH_MAX];

	if (!sysfs_is_dir(root, sysfs_pathf(c, DAMON_KDAMONDS_DIR "/%u", k)))
		return;
	f->tree_probed = true;
	f->f[FEATURE_REFRESH_MS] = presence(root, DAMON_KDAMONDS_DIR "/%u/refresh_ms", k);

	sysfs_pathf(c, DAMON_KDAMONDS_DIR "/%u/contexts/0", k);
	if (sysfs_is_dir(root, c)) {
		_cleanup_free_ char *avail = NULL;

		f->f[FEATURE_ADDR_UNIT] = presence(root, "%s/addr_unit", c);
		f->f[FEATURE_PAUSE] = presence(root, "%s/pause", c);
		f->f[FEATURE_INTERVALS_GOAL] = presence(root, "%s/monitoring_attrs/intervals/intervals_goal", c);
		/* the command arrived with intervals_goal (6.15) */
		f->f[FEATURE_UPDATE_TUNED_INTERVALS] = f->f[FEATURE_INTERVALS_GOAL];
		f->f[FEATURE_PROBES] = presence(root, "%s/monitoring_attrs/probes", c);
		if (sysfs_is_dir(root, sysfs_pathf(s, "%s/monitoring_attrs/probes/0", c)))
			f->f[FEATURE_PROBE_WEIGHT] = presence(root, "%s/monitoring_attrs/probes/0/weight", c);
		if (sysfs_read_str(root, sysfs_pathf(s, "%s/avail_operations", c), &avail) >= 0)
			for (int o = 0; o < _DAMON_OPS_MAX; o++)
				f->ops[o] = word_in_list(avail, damon_ops_to_string(o)) ? FEATURE_PRESENT
											 : FEATURE_ABSENT;
		if (sysfs_is_dir(root, sysfs_pathf(s, "%s/targets/0", c)))
			f->f[FEATURE_OBSOLETE_TARGET] = presence(root, "%s/targets/0/obsolete_target", c);
	}

	sysfs_pathf(s, DAMON_KDAMONDS_DIR "/%u/contexts/0/schemes/0", k);
	if (sysfs_is_dir(root, s)) {
		f->f[FEATURE_CORE_OPS_FILTERS] = presence(root, "%s/core_filters", s);
		f->f[FEATURE_LEGACY_FILTERS] = presence(root, "%s/filters", s);
		f->f[FEATURE_DESTS] = presence(root, "%s/dests", s);
		f->f[FEATURE_GOAL_TUNER] = presence(root, "%s/quotas/goal_tuner", s);
		f->f[FEATURE_FAIL_CHARGE] = presence(root, "%s/quotas/fail_charge_num", s);
		f->f[FEATURE_MAX_NR_SNAPSHOTS] = presence(root, "%s/stats/max_nr_snapshots", s);
		f->f[FEATURE_SZ_OPS_FILTER_PASSED] = presence(root, "%s/stats/sz_ops_filter_passed", s);
		if (sysfs_is_dir(root, sysfs_pathf(c, "%s/quotas/goals/0", s))) {
			f->f[FEATURE_GOAL_NID] = presence(root, "%s/nid", c);
			f->f[FEATURE_GOAL_PATH] = presence(root, "%s/path", c);
		}
		if (sysfs_is_dir(root, sysfs_pathf(c, "%s/ops_filters/0", s)) ||
		    sysfs_is_dir(root, sysfs_pathf(c, "%s/filters/0", s)))
			f->f[FEATURE_FILTER_ALLOW] = presence(root, "%s/allow", c);
	}
}

int features_probe_readonly(struct sysfs_root *root, struct damon_features *ret)
{
	struct damon_features f = {};
	uint64_t nr = 0;

	f.f[FEATURE_DAMON_SYSFS] = presence(root, DAMON_KDAMONDS_DIR "/nr_kdamonds");
	probe_modules_tracefs(root, &f);
	if (f.f[FEATURE_DAMON_SYSFS] == FEATURE_PRESENT &&
	    sysfs_read_u64(root, DAMON_KDAMONDS_DIR "/nr_kdamonds", &nr) >= 0 && nr > 0)
		probe_tree(root, 0, &f);
	*ret = f;
	return f.f[FEATURE_DAMON_SYSFS] == FEATURE_PRESENT ? 0 : -ENOENT;
}

static unsigned nr_known(const struct damon_features *f)
{
	unsigned n = 0;

	for (int i = 0; i < _FEATURE_MAX; i++)
		n += f->f[i] != FEATURE_UNKNOWN;
	return n;
}

int features_probe_kernel(struct sysfs_root *root, const char *runtime_dir, struct damon_features *ret,
			  const char **ret_source)
{
	struct damon_features f;
	const char *source = "none";
	uint64_t nr = 0;
	int r;

	r = features_probe_readonly(root, &f);
	if (r < 0) {
		*ret = f;
		*ret_source = source;
		return r;
	}
	if (f.tree_probed)
		source = "sysfs";
	/* any directory may be the populated one: keep what tells the most */
	if (sysfs_read_u64(root, DAMON_KDAMONDS_DIR "/nr_kdamonds", &nr) >= 0)
		for (uint64_t k = 1; k < MIN(nr, 64ULL); k++) {
			struct damon_features g = f;

			probe_tree(root, (unsigned)k, &g);
			if (nr_known(&g) > nr_known(&f)) {
				memcpy(g.module, f.module, sizeof(g.module));
				f = g;
				source = "sysfs";
			}
		}
	if (runtime_dir) {
		char path[PATH_MAX];
		struct json_object *o, *v;

		snprintf(path, sizeof(path), "%s/kdamonds.json", runtime_dir);
		o = access(path, R_OK) == 0 ? json_object_from_file(path) : NULL;
		if (o && json_object_object_get_ex(o, "features", &v)) {
			struct damon_features rec = {};

			features_from_record_json(v, &rec);
			if (nr_known(&rec) > nr_known(&f)) {
				/* same boot (the record is on tmpfs): a full probe; modules and tracefs as they are now */
				memcpy(rec.module, f.module, sizeof(rec.module));
				rec.f[FEATURE_BTF] = f.f[FEATURE_BTF];
				f = rec;
				source = "ownership record";
			}
		}
		json_object_put(o);
	}
	*ret = f;
	*ret_source = source;
	return 0;
}

int features_mark_unknown_absent(struct damon_features *f)
{
	int n = 0;

	for (int i = 0; i < _FEATURE_MAX; i++)
		if (f->f[i] == FEATURE_UNKNOWN) {
			f->f[i] = FEATURE_ABSENT;
			n++;
		}
	return n;
}

struct json_object *features_json(const struct damon_features *f, const char *probed_from)
{
	struct json_object *o = json_object_new_object(), *tp = json_object_new_array(), *mods, *kw;

	for (int i = 0; i < _FEATURE_MAX; i++)
		json_object_object_add(o, feature_to_string(i),
				       f->f[i] == FEATURE_UNKNOWN ? NULL
								  : json_object_new_boolean(f->f[i] == FEATURE_PRESENT));
	if (f->tp_damon_aggregated)
		json_object_array_add(tp, json_object_new_string("damon_aggregated"));
	if (f->tp_damos_before_apply)
		json_object_array_add(tp, json_object_new_string("damos_before_apply"));
	if (f->tp_damos_esz)
		json_object_array_add(tp, json_object_new_string("damos_esz"));
	if (f->tp_damos_stat_after_apply_interval)
		json_object_array_add(tp, json_object_new_string("damos_stat_after_apply_interval"));
	json_object_object_add(o, "tracepoints", tp);
	mods = json_object_new_object();
	for (int i = 0; i < _DAMON_MODULE_MAX; i++)
		json_object_object_add(mods, damon_module_to_string(i),
				       json_object_new_string(module_state_to_string(f->module[i])));
	json_object_object_add(o, "modules", mods);

	kw = json_object_new_array();
	for (int i = 0; i < _DAMOS_ACTION_MAX; i++)
		if (f->action[i] == FEATURE_PRESENT)
			json_object_array_add(kw, json_object_new_string(damos_action_to_string(i)));
	json_object_object_add(o, "actions", kw);
	kw = json_object_new_array();
	for (int i = 0; i < _DAMOS_GOAL_METRIC_MAX; i++)
		if (f->goal_metric[i] == FEATURE_PRESENT)
			json_object_array_add(kw, json_object_new_string(damos_goal_metric_to_string(i)));
	json_object_object_add(o, "goal_metrics", kw);
	kw = json_object_new_array();
	for (int i = 0; i < _DAMOS_FILTER_TYPE_MAX; i++)
		if (f->filter_type[i] == FEATURE_PRESENT)
			json_object_array_add(kw, json_object_new_string(damos_filter_type_to_string(i)));
	json_object_object_add(o, "filter_types", kw);
	kw = json_object_new_array();
	for (int i = 0; i < _DAMON_OPS_MAX; i++)
		if (f->ops[i] == FEATURE_PRESENT)
			json_object_array_add(kw, json_object_new_string(damon_ops_to_string(i)));
	json_object_object_add(o, "operations", kw);
	json_object_object_add(o, "probed_from", json_object_new_string(probed_from));
	return o;
}

struct json_object *features_record_json(const struct damon_features *f)
{
	struct json_object *o = json_object_new_object(), *a;

	for (int i = 0; i < _FEATURE_MAX; i++)
		json_object_object_add(o, feature_to_string(i), json_object_new_int(f->f[i]));
#define ARR(name, field, n)                                                                                \
	a = json_object_new_array();                                                                       \
	for (int i = 0; i < (n); i++)                                                                      \
		json_object_array_add(a, json_object_new_int(f->field[i]));                                \
	json_object_object_add(o, name, a)
	ARR("ops", ops, _DAMON_OPS_MAX);
	ARR("action", action, _DAMOS_ACTION_MAX);
	ARR("goal_metric", goal_metric, _DAMOS_GOAL_METRIC_MAX);
	ARR("filter_type", filter_type, _DAMOS_FILTER_TYPE_MAX);
#undef ARR
	json_object_object_add(o, "tree_probed", json_object_new_boolean(f->tree_probed));
	return o;
}

void features_from_record_json(struct json_object *o, struct damon_features *f)
{
	struct json_object *v;

	for (int i = 0; i < _FEATURE_MAX; i++)
		if (json_object_object_get_ex(o, feature_to_string(i), &v))
			f->f[i] = json_object_get_int(v);
#define ARR(name, field, n)                                                                                \
	if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_array))            \
		for (int i = 0; i < (n) && i < (int)json_object_array_length(v); i++)                      \
			f->field[i] = json_object_get_int(json_object_array_get_idx(v, i));
	ARR("ops", ops, _DAMON_OPS_MAX)
	ARR("action", action, _DAMOS_ACTION_MAX)
	ARR("goal_metric", goal_metric, _DAMOS_GOAL_METRIC_MAX)
	ARR("filter_type", filter_type, _DAMOS_FILTER_TYPE_MAX)
#undef ARR
	if (json_object_object_get_ex(o, "tree_probed", &v))
		f->tree_probed = json_object_get_boolean(v);
}

/* Write a keyword to a staging file we own; EINVAL means "unknown keyword". */
static enum feature_state probe_keyword(struct sysfs_root *root, const char *path, const char *kw)
{
	int r = sysfs_write_str(root, path, kw);

	if (r >= 0)
		return FEATURE_PRESENT;
	return r == -EINVAL ? FEATURE_ABSENT : FEATURE_UNKNOWN;
}

/* An nr_* write of the probe; on failure the path goes to failed (PATH_MAX, may be NULL). */
static int probe_nr(struct sysfs_root *root, const char *path, char *failed)
{
	int r = damon_write_locked(root, path, "1");

	if (r < 0 && failed)
		snprintf(failed, PATH_MAX, "%s", path);
	return r;
}

int features_probe_owned(struct sysfs_root *root, unsigned k, struct damon_features *ret)
{
	return features_probe_owned_ex(root, k, ret, NULL);
}

int features_probe_owned_ex(struct sysfs_root *root, unsigned k, struct damon_features *ret, char *failed)
{
	char c[PATH_MAX], s[PATH_MAX], p[PATH_MAX];
	struct damon_features f;
	int r;

	if (failed)
		failed[0] = '\0';
	r = features_probe_readonly(root, &f);
	if (r < 0)
		return r;

	/* Populate one of everything so that every file shows. */
	sysfs_pathf(c, DAMON_KDAMONDS_DIR "/%u/contexts", k);
	r = probe_nr(root, sysfs_pathf(p, "%s/nr_contexts", c), failed);
	if (r < 0)
		return r;
	sysfs_pathf(c, DAMON_KDAMONDS_DIR "/%u/contexts/0", k);
	sysfs_pathf(s, "%s/schemes/0", c);
	if ((r = probe_nr(root, sysfs_pathf(p, "%s/targets/nr_targets", c), failed)) < 0 ||
	    (r = probe_nr(root, sysfs_pathf(p, "%s/schemes/nr_schemes", c), failed)) < 0 ||
	    (r = probe_nr(root, sysfs_pathf(p, "%s/quotas/goals/nr_goals", s), failed)) < 0)
		return r;
	if (sysfs_exists(root, sysfs_pathf(p, "%s/ops_filters/nr_filters", s)) && (r = probe_nr(root, p, failed)) < 0)
		return r;
	if (sysfs_exists(root, sysfs_pathf(p, "%s/core_filters/nr_filters", s)) && (r = probe_nr(root, p, failed)) < 0)
		return r;
	if (sysfs_exists(root, sysfs_pathf(p, "%s/filters/nr_filters", s)) && (r = probe_nr(root, p, failed)) < 0)
		return r;
	/* one probe, only for as long as its files are looked at: damond never writes nr_probes, so a probe left
	 * behind would reach the kernel with the next commit */
	if (sysfs_exists(root, sysfs_pathf(p, "%s/monitoring_attrs/probes/nr_probes", c)) &&
	    (r = probe_nr(root, p, failed)) < 0)
		return r;
	probe_tree(root, k, &f);
	if (sysfs_exists(root, sysfs_pathf(p, "%s/monitoring_attrs/probes/nr_probes", c))) {
		r = damon_write_locked(root, p, "0");
		if (r < 0) {
			if (failed)
				snprintf(failed, PATH_MAX, "%s", p);
			return r;
		}
	}

	for (int a = 0; a < _DAMOS_ACTION_MAX; a++)
		f.action[a] = probe_keyword(root, sysfs_pathf(p, "%s/action", s), damos_action_to_string(a));
	for (int m = 0; m < _DAMOS_GOAL_METRIC_MAX; m++)
		f.goal_metric[m] = !damos_goal_metric_is_kernel(m)
					   ? FEATURE_ABSENT /* damond's own: never written to a kernel */
					   : probe_keyword(root, sysfs_pathf(p, "%s/quotas/goals/0/target_metric", s),
							   damos_goal_metric_to_string(m));
	for (int t = 0; t < _DAMOS_FILTER_TYPE_MAX; t++) {
		const char *dir = f.f[FEATURE_CORE_OPS_FILTERS] == FEATURE_PRESENT
					  ? (damos_filter_type_is_core(t) ? "core_filters" : "ops_filters")
					  : "filters";
		f.filter_type[t] = probe_keyword(root, sysfs_pathf(p, "%s/%s/0/type", s, dir),
						 damos_filter_type_to_string(t));
	}
	*ret = f;
	return 0;
}

static bool lacks(const struct damon_features *f, enum feature x)
{
	return f->f[x] == FEATURE_ABSENT;
}

int features_check_config(const struct damon_features *f, const struct damond_config *c, struct config_errors *errs)
{
	size_t before = errs->n;
	char key[256];

#define NEED(feat, pos, ...)                                                                                  \
	do {                                                                                                  \
		if (lacks(f, feat)) {                                                                         \
			snprintf(key, sizeof(key), __VA_ARGS__);                                              \
			config_errors_add(errs, damond_config_file(c, pos), pos, key, "this kernel lacks %s", \
					  feature_describe(feat));                                            \
		}                                                                                             \
	} while (0)

	for (size_t k = 0; k < c->nr_kdamonds; k++) {
		const struct kdamond_cfg *kd = &c->kdamonds[k];
		const struct damon_ctx_cfg *x = &kd->ctx;

		if (kd->refresh_ms)
			NEED(FEATURE_REFRESH_MS, &kd->pos, "kdamonds.%s.refresh", kd->name);
		if (x->addr_unit != 1)
			NEED(FEATURE_ADDR_UNIT, &x->pos, "kdamonds.%s.addr_unit", kd->name);
		if (x->pause)
			NEED(FEATURE_PAUSE, &x->pos, "kdamonds.%s.pause", kd->name);
		if (x->intervals_goal.aggrs)
			NEED(FEATURE_INTERVALS_GOAL, &x->pos, "kdamonds.%s.intervals.intervals_goal", kd->name);
		if (f->ops[x->ops] == FEATURE_ABSENT)
			config_errors_add(errs, damond_config_file(c, &x->pos), &x->pos, kd->name,
					  "this kernel does not offer the '%s' operations set (see avail_operations)",
					  damon_ops_to_string(x->ops));

		for (size_t i = 0; i < x->nr_schemes; i++) {
			const struct damos_cfg *s = &x->schemes[i];
			const struct damos_quota_cfg *q = &s->quota;

			if (f->action[s->action] == FEATURE_ABSENT) {
				snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.action", kd->name, s->name);
				config_errors_add(errs, damond_config_file(c, &s->pos), &s->pos, key,
						  "this kernel does not know the action '%s'",
						  damos_action_to_string(s->action));
			}
			/* consist is what a kernel without the file does anyway: accepted there, not written;
			 * temporal damond runs itself when it can measure every goal */
			if (q->goal_tuner_set && q->goal_tuner != DAMOS_TUNER_CONSIST &&
			    !features_temporal_emulated(f, s))
				NEED(FEATURE_GOAL_TUNER, &q->goal_tuner_pos, "kdamonds.%s.schemes.%s.quotas.goal_tuner",
				     kd->name, s->name);
			if (q->fail_charge_mode == DAMOS_FAIL_CHARGE_NATIVE)
				NEED(FEATURE_FAIL_CHARGE, &q->fail_charge_pos,
				     "kdamonds.%s.schemes.%s.quotas.fail_charge_mode", kd->name, s->name);
			/*
			 * The emulation acts by committing, and the kernels with the native files (7.2, 7.3) give a
			 * scheme a fresh quota at every commit (VM scenario quota-commit): each commit can let up
			 * to one more quota through (1.31 x the quota over three windows, forced, on 7.3). Where
			 * the kernel has the feature, forcing the emulation gains nothing.
			 */
			if (q->fail_charge_mode == DAMOS_FAIL_CHARGE_EMULATE &&
			    f->f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT) {
				snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.quotas.fail_charge_mode", kd->name,
					 s->name);
				config_errors_add(errs, damond_config_file(c, &q->fail_charge_pos), &q->fail_charge_pos,
						  key,
						  "'emulate' refused: this kernel charges failed regions itself "
						  "(quotas/fail_charge_num/denom) and gives a scheme a fresh quota at "
						  "every commit, so the emulation, which acts by committing, could let "
						  "more than the quota through; use 'auto' (native here)");
			}
			if (s->nr_dests)
				NEED(FEATURE_DESTS, &s->pos, "kdamonds.%s.schemes.%s.dests", kd->name, s->name);
			if (s->max_nr_snapshots)
				NEED(FEATURE_MAX_NR_SNAPSHOTS, &s->pos, "kdamonds.%s.schemes.%s.max_nr_snapshots",
				     kd->name, s->name);
			for (size_t g = 0; g < q->nr_goals; g++) {
				const struct damos_goal_cfg *goal = &q->goals[g];

				bool fed = features_goal_cfg_fed(f, goal) || features_temporal_emulated(f, s);

				/* a metric the kernel lacks: damond measures it and feeds it as user_input */
				if ((f->goal_metric[goal->metric] == FEATURE_ABSENT ||
				     (goal->metric == DAMOS_GOAL_SOME_MEM_PSI_US && goal->path)) &&
				    !fed) {
					snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.quotas.goals[%zu].metric",
						 kd->name, s->name, g);
					config_errors_add(
						errs, damond_config_file(c, &goal->pos), &goal->pos, key,
						"this kernel does not know the goal metric '%s'%s",
						damos_goal_metric_to_string(goal->metric),
						goal_current_measurable(goal->metric)
							? " and has no 'user_input' metric for damond to feed"
							: ", and damond cannot measure it in the kernel's place");
				}
				if (fed)
					continue; /* nid and path are damond's to read, not the kernel's */
				if (goal->nid)
					NEED(FEATURE_GOAL_NID, &goal->pos, "kdamonds.%s.schemes.%s.quotas.goals[%zu].nid",
					     kd->name, s->name, g);
				if (goal->path)
					NEED(FEATURE_GOAL_PATH, &goal->pos,
					     "kdamonds.%s.schemes.%s.quotas.goals[%zu].path", kd->name, s->name, g);
			}
			for (size_t j = 0; j < s->nr_filters; j++) {
				const struct damos_filter_cfg *fl = &s->filters[j];

				snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.filters[%zu]", kd->name, s->name, j);
				if (f->filter_type[fl->type] == FEATURE_ABSENT)
					config_errors_add(errs, damond_config_file(c, &fl->pos), &fl->pos, key,
							  "this kernel does not know the filter type '%s'",
							  damos_filter_type_to_string(fl->type));
				if (fl->allow && lacks(f, FEATURE_FILTER_ALLOW))
					config_errors_add(errs, damond_config_file(c, &fl->pos), &fl->pos, key,
							  "this kernel lacks %s: every filter rejects what it matches",
							  feature_describe(FEATURE_FILTER_ALLOW));
				if ((fl->layer == DAMOS_FILTER_LAYER_CORE || fl->layer == DAMOS_FILTER_LAYER_OPS) &&
				    lacks(f, FEATURE_CORE_OPS_FILTERS))
					config_errors_add(errs, damond_config_file(c, &fl->pos), &fl->pos, key,
							  "this kernel lacks %s; use 'filters:'",
							  feature_describe(FEATURE_CORE_OPS_FILTERS));
				if (fl->layer == DAMOS_FILTER_LAYER_LEGACY && lacks(f, FEATURE_LEGACY_FILTERS))
					config_errors_add(errs, damond_config_file(c, &fl->pos), &fl->pos, key,
							  "this kernel lacks %s",
							  feature_describe(FEATURE_LEGACY_FILTERS));
			}
		}
	}
#undef NEED
	return errs->n > before ? -EOPNOTSUPP : 0;
}
