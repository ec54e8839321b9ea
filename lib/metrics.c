/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus text exposition of damond's numbers: a view, or the status document (see metrics.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "macro.h"
#include "metrics.h"
#include "status-enums.h"

/*
 * Every family, in output order. The exposition format wants all samples
 * of a family together after its HELP and TYPE lines; the view
 * is walked once, each sample going to its family's buffer.
 */
#define FAMILIES(X)                                                                                                    \
	X(BUILD_INFO, "damond_build_info", "gauge", "Always 1; the damond version in a label.")                        \
	X(CONFIG_GENERATION, "damond_config_generation", "gauge",                                                      \
	  "Configuration generation: 1 at start, +1 per successful reload.")                                           \
	X(CONFIG_LAST_RELOAD_OK, "damond_config_last_reload_successful", "gauge",                                      \
	  "Whether the last reload request succeeded (1) or was rejected (0); absent before the first.")               \
	X(CONFIG_LAST_RELOAD_TS, "damond_config_last_reload_timestamp_seconds", "gauge",                               \
	  "Unix time of the last reload request, successful or not.")                                                  \
	X(CONFIG_LAST_OK_TS, "damond_config_last_reload_success_timestamp_seconds", "gauge",                           \
	  "Unix time the running configuration was loaded (start or last successful reload).")                         \
	X(MONITOR_SOURCE, "damond_monitor_source", "gauge",                                                            \
	  "Always 1; where region snapshots and scheme stats come from (bpf or sysfs-polling).")                       \
	X(MONITOR_RECORDS, "damond_monitor_records_total", "counter",                                                  \
	  "Records the BPF monitor delivered (regions, aggregations, scheme stats).")                                  \
	X(MONITOR_DROPS, "damond_monitor_drops_total", "counter", "Records the BPF monitor lost (ring buffer full).")  \
	X(MONITOR_AGGR_GATE, "damond_monitor_aggregation_gate_seconds", "gauge",                                       \
	  "Each kdamond's aggregations reach damond at most once per this interval (0: every aggregation).")           \
	X(MONITOR_AGGR_SKIPPED, "damond_monitor_aggregations_skipped_total", "counter",                                \
	  "Aggregations the BPF monitor's gate kept from damond (the kdamonds ran them; not an error).")               \
	X(MONITOR_SNAPSHOTS, "damond_monitor_snapshots_total", "counter",                                              \
	  "Region snapshots published, one per target per aggregation.")                                               \
	X(MONITOR_INCOMPLETE, "damond_monitor_incomplete_snapshots_total", "counter",                                  \
	  "Region snapshots dropped as incomplete (records lost in between).")                                         \
	X(MONITOR_SUPERSEDED, "damond_monitor_superseded_snapshots_total", "counter",                                  \
	  "Region snapshots replaced before completion by a newer aggregation.")                                       \
	X(MONITOR_STATS_COMMANDS, "damond_monitor_stats_commands_total", "counter",                                    \
	  "update_schemes_stats and update_schemes_effective_quotas commands damond wrote.")                           \
	X(KDAMOND_UP, "damond_kdamond_up", "gauge", "1 when the kdamond is on, else 0.")                               \
	X(KDAMOND_STATE, "damond_kdamond_state", "gauge",                                                              \
	  "1 for the kdamond's current state (on, off, died, waiting), 0 for the others.")                             \
	X(KDAMOND_BANDWIDTH, "damond_kdamond_estimated_memory_bandwidth_bytes_per_second", "gauge",                    \
	  "DAMON_STAT's estimated memory bandwidth, from the kdamond's last snapshot (paddr, BPF monitor).")           \
	X(KDAMOND_IDLE, "damond_kdamond_memory_idle_seconds", "gauge",                                                 \
	  "DAMON_STAT's memory idle time percentiles (negative: accessed, for that long), paddr kdamonds.")            \
	X(REFINE_ENABLED, "damond_kdamond_refine_enabled", "gauge", "Whether region refinement is configured.")        \
	X(REFINE_ROUNDS, "damond_kdamond_refine_rounds_total", "counter", "Region refinement rounds committed.")       \
	X(REFINE_SPLITS, "damond_kdamond_refine_splits_total", "counter", "Region cuts refinement made.")              \
	X(REFINE_KEPT, "damond_kdamond_refine_cuts_kept_total", "counter",                                             \
	  "Refinement cuts the kernel still had at the next round.")                                                   \
	X(REFINE_LOST, "damond_kdamond_refine_cuts_lost_total", "counter",                                             \
	  "Refinement cuts the kernel had merged away by the next round.")                                             \
	X(REFINE_BACKOFF, "damond_kdamond_refine_backoff", "gauge", "Refinement back-off factor (1: every interval).") \
	X(AGER_RUNNING, "damond_kdamond_ager_running", "gauge",                                                        \
	  "Whether the charge emulation's ager kdamond runs for this kdamond.")                                        \
	X(AGER_STARTS, "damond_kdamond_ager_starts_total", "counter", "Starts of the charge emulation's ager.")        \
	X(AGER_YOUNG_CACHE, "damond_kdamond_ager_young_cache_bytes", "gauge",                                          \
	  "Page cache DAMON has not aged, as the emulated pageout's oracle counts it.")                                \
	X(TARGET_NR_REGIONS, "damond_target_nr_regions", "gauge",                                                      \
	  "Regions of the target in the last complete snapshot (BPF monitor only).")                                   \
	X(TARGET_NR_REGIONS_MIN, "damond_target_nr_regions_min", "gauge", "The kdamond's configured min_nr_regions.")  \
	X(TARGET_NR_REGIONS_MAX, "damond_target_nr_regions_max", "gauge", "The kdamond's configured max_nr_regions.")  \
	X(SCHEME_TRIED_REGIONS, "damond_scheme_tried_regions_total", "counter",                                        \
	  "Regions the scheme was tried on (kernel nr_tried).")                                                        \
	X(SCHEME_TRIED_BYTES, "damond_scheme_tried_bytes_total", "counter",                                            \
	  "Bytes the scheme was tried on (kernel sz_tried).")                                                          \
	X(SCHEME_APPLIED_REGIONS, "damond_scheme_applied_regions_total", "counter",                                    \
	  "Regions the action was applied to (kernel nr_applied).")                                                    \
	X(SCHEME_APPLIED_BYTES, "damond_scheme_applied_bytes_total", "counter",                                        \
	  "Bytes the action was applied to (kernel sz_applied).")                                                      \
	X(SCHEME_QT_EXCEEDS, "damond_scheme_quota_exceeds_total", "counter",                                           \
	  "Times the quota was exceeded (kernel qt_exceeds).")                                                         \
	X(SCHEME_FILTER_PASSED, "damond_scheme_ops_filter_passed_bytes_total", "counter",                              \
	  "Bytes that passed the ops-layer filters (kernel sz_ops_filter_passed).")                                    \
	X(SCHEME_QUOTA, "damond_scheme_quota_bytes", "gauge", "Configured size quota per reset interval (0: none).")   \
	X(SCHEME_QUOTA_RESET, "damond_scheme_quota_reset_interval_seconds", "gauge",                                   \
	  "The quota's reset interval: quota_bytes / this is the quota as a rate.")                                    \
	X(SCHEME_QUOTA_KERNEL, "damond_scheme_quota_kernel_bytes", "gauge",                                            \
	  "Size quota damond wrote to the kernel (differs from the configured one under fail-charge emulation).")      \
	X(SCHEME_QUOTA_EFFECTIVE, "damond_scheme_quota_effective_bytes", "gauge",                                      \
	  "The kernel's effective size quota (after time quota and goals).")                                           \
	X(SCHEME_GOAL_TARGET, "damond_scheme_quota_goal_target", "gauge",                                              \
	  "Target value of a quota goal, in the goal metric's own unit.")                                              \
	X(SCHEME_GOAL_CURRENT, "damond_scheme_quota_goal_current", "gauge",                                            \
	  "Current value of a quota goal as damond measures what the kernel compares, in the goal metric's unit.")     \
	X(SCHEME_GOAL_MODE, "damond_scheme_quota_goal_mode", "gauge",                                                  \
	  "1 for who evaluates a quota goal (native: the kernel; fed: damond measures, the kernel tunes; damond: "     \
	  "damond runs the temporal tuner; user: user_input), 0 for the others.")                                      \
	X(SCHEME_WMARK_STATE, "damond_scheme_watermark_state", "gauge",                                                \
	  "1 for the watermark state damond judges (active, inactive, active-or-hysteresis, unknown).")                \
	X(SCHEME_WMARK_FREE, "damond_scheme_watermark_free_memory_ratio", "gauge",                                     \
	  "Free memory over total memory the watermark state was judged on.")                                          \
	X(SCHEME_WMARK_THRESHOLD, "damond_scheme_watermark_threshold_ratio", "gauge",                                  \
	  "Configured watermark (high, mid, low) as a ratio of total memory.")                                         \
	X(SCHEME_FC_MODE, "damond_scheme_fail_charge_mode", "gauge",                                                   \
	  "1 for how fail_charge_ratio is realised (off, native, emulated, emulation-pending), 0 for the others.")     \
	X(SCHEME_FC_FAILURE, "damond_scheme_fail_charge_failure_ratio", "gauge",                                       \
	  "Share of tried bytes the action failed on, as the fail-charge controller measures it.")                     \
	X(SCHEME_FC_EXCLUDED, "damond_scheme_fail_charge_excluded_bytes", "gauge",                                     \
	  "Bytes the fail-charge controller currently excludes with address filters.")                                 \
	X(SCHEME_FC_ADJUSTMENTS, "damond_scheme_fail_charge_adjustments_total", "counter",                             \
	  "Quota or filter changes the fail-charge controller made.")                                                  \
	X(PROCESS_CPU, "damond_process_cpu_seconds_total", "counter", "damond's user and system CPU time in seconds.") \
	X(PROCESS_RSS, "damond_process_resident_memory_bytes", "gauge", "damond's resident memory size in bytes.")

enum family {
#define X(id, name, type, help) F_##id,
	FAMILIES(X)
#undef X
		_F_MAX
};

static const struct {
	const char *name, *type, *help;
} families[_F_MAX] = {
#define X(id, n, t, h) [F_##id] = { n, t, h },
	FAMILIES(X)
#undef X
};

/* A growing byte buffer: the families' samples and the text, without stdio (no open_memstream's zeroed 8 KiB per family). */
struct buf {
	char *p;
	size_t len, cap;
};

struct render {
	struct buf fam[_F_MAX];
	bool oom;
};

static char *buf_room(struct buf *b, size_t n, bool *oom)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = MAX(b->cap ? b->cap * 2 : 256, b->len + n + 1);
		char *p = realloc(b->p, cap);

		if (!p) {
			*oom = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

static void buf_add(struct buf *b, const char *s, size_t n, bool *oom)
{
	char *p = buf_room(b, n, oom);

	if (!p)
		return;
	memcpy(p, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_puts(struct buf *b, const char *s, bool *oom)
{
	buf_add(b, s, strlen(s), oom);
}

/* Labels: up to 6 pairs; a NULL value leaves the pair out. */
struct label {
	const char *key, *value;
};
#define MAX_LABELS 6

/* ---- tolerant accessors: absent, null or mistyped members are missing ---- */

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static struct json_object *member_type(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, t) ? v : NULL;
}

static bool get_num(struct json_object *o, const char *key, double *ret)
{
	struct json_object *v = member(o, key);

	if (!v)
		return false;
	if (json_object_is_type(v, json_type_int)) {
		/* json-c keeps uint64 beyond INT64_MAX as unsigned (get_int64 clamps those) */
		*ret = json_object_get_int64(v) < 0 ? (double)json_object_get_int64(v)
						    : (double)json_object_get_uint64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		*ret = json_object_get_double(v);
		return true;
	}
	if (json_object_is_type(v, json_type_boolean)) {
		*ret = json_object_get_boolean(v) ? 1 : 0;
		return true;
	}
	return false;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = member_type(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* ---- output ---- */

int metrics_escape_label(const char *s, FILE *out)
{
	for (; *s; s++) {
		int r;

		if (*s == '\\')
			r = fputs("\\\\", out);
		else if (*s == '"')
			r = fputs("\\\"", out);
		else if (*s == '\n')
			r = fputs("\\n", out);
		else
			r = fputc(*s, out);
		if (r == EOF)
			return -EIO;
	}
	return 0;
}

/* The same into b: runs without a character to escape copied whole. */
static void escape_label(struct buf *b, const char *s, bool *oom)
{
	while (*s) {
		size_t n = strcspn(s, "\\\"\n");

		buf_add(b, s, n, oom);
		s += n;
		if (!*s)
			break;
		buf_add(b, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2, oom);
		s++;
	}
}

/*
 * A non-integer v with at most 6 decimals and 15 significant digits (seconds from milliseconds or
 * microseconds, ratios from per-mille), as "%.15g" prints it, without printf's floating-point path: the
 * first k for which v * 10^k is an integer, printed with a decimal point k digits from its end, if that
 * reads back as v. Such a decimal is the one "%.15g" rounds v to: it is within half a unit in the last
 * place of v (2^-53 relative), and the next decimal of 15 digits is at least 10^-15 relative away. %g
 * prints in fixed notation from 1e-4 up to 1e15. false: v is none of those (the caller uses printf).
 */
static bool short_decimal(double v, char *out, size_t size)
{
	double a = fabs(v), p = 1;

	if (!(a >= 1e-4 && a < 1e15) || size < 32)
		return false;
	for (int k = 1; k <= 6; k++) {
		double w;

		p *= 10;
		w = a * p;
		if (w >= 1e15)
			return false;
		if (w == (double)(uint64_t)w) {
			uint64_t u = (uint64_t)w;
			char digits[24], *e = digits + sizeof(digits), *d = e, *o = out;
			size_t n;

			do
				*--d = (char)('0' + u % 10);
			while (u /= 10);
			n = (size_t)(e - d);
			if (v < 0)
				*o++ = '-';
			if (n <= (size_t)k) {
				*o++ = '0';
				*o++ = '.';
				for (size_t z = n; z < (size_t)k; z++)
					*o++ = '0';
				memcpy(o, d, n);
				o += n;
			} else {
				memcpy(o, d, n - (size_t)k);
				o += n - (size_t)k;
				*o++ = '.';
				memcpy(o, d + n - (size_t)k, (size_t)k);
				o += k;
			}
			/* the first such k leaves no trailing zero: w / 10 would have been an integer */
			while (o[-1] == '0')
				o--;
			*o = 0;
			return strtod(out, NULL) == v;
		}
	}
	return false;
}

/* Integers as integers (exact up to 2^53), the rest in the fewest digits that read back the same. */
static void print_value(struct buf *b, double v, bool *oom)
{
	char buf[32];

	if (isnan(v))
		buf_add(b, "NaN", 3, oom);
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf", oom);
	else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
		/* what "%.0f" prints, without printf's floating-point path */
		int64_t i = (int64_t)v;
		uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
		char *e = buf + sizeof(buf), *p = e;

		do
			*--p = (char)('0' + u % 10);
		while (u /= 10);
		if (i < 0 || (i == 0 && signbit(v)))
			*--p = '-';
		buf_add(b, p, (size_t)(e - p), oom);
	} else if (short_decimal(v, buf, sizeof(buf)))
		buf_puts(b, buf, oom);
	else {
		/* DBL_DIG: when the shortest round-trip form has 15 digits or fewer, "%.15g" prints it (the
		 * trailing zeros stripped), so the search can start there */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		buf_puts(b, buf, oom);
	}
}

static void sample(struct render *r, enum family fam, const struct label *labels, size_t n, double v)
{
	struct buf *b = &r->fam[fam];
	bool first = true;

	buf_puts(b, families[fam].name, &r->oom);
	for (size_t i = 0; i < n; i++) {
		if (!labels[i].value)
			continue;
		buf_add(b, first ? "{" : ",", 1, &r->oom);
		buf_puts(b, labels[i].key, &r->oom);
		buf_add(b, "=\"", 2, &r->oom);
		escape_label(b, labels[i].value, &r->oom);
		buf_add(b, "\"", 1, &r->oom);
		first = false;
	}
	buf_add(b, first ? " " : "} ", first ? 1 : 2, &r->oom);
	print_value(b, v, &r->oom);
	buf_add(b, "\n", 1, &r->oom);
}

/* An enum as one sample per possible value (status-enums.h): this one's, 1 when it is the current one. */
static void sample_enum(struct render *r, enum family fam, const struct label *labels, size_t n, const char *key,
			const char *value, const char *current)
{
	struct label l[MAX_LABELS + 1];

	if (n > MAX_LABELS || !value)
		return;
	memcpy(l, labels, n * sizeof(*l));
	l[n] = (struct label){ key, value };
	sample(r, fam, l, n + 1, current && streq(current, value) ? 1 : 0);
}

/* ---- the status document into the view ---- */

static struct metrics_num num(struct json_object *o, const char *key)
{
	struct metrics_num n = {};

	n.set = get_num(o, key, &n.v);
	return n;
}

static size_t array_len(struct json_object *a)
{
	return a ? json_object_array_length(a) : 0;
}

void metrics_view_scheme_controllers(struct metrics_scheme *s, struct json_object *o)
{
	struct json_object *fc = member_type(o, "fail_charge", json_type_object), *adj;

	s->fc = fc != NULL;
	if (!fc)
		return;
	s->fc_mode = get_str(fc, "mode");
	s->fc_kernel_quota_bytes = num(fc, "kernel_quota_bytes");
	s->fc_failure_share = num(fc, "failure_share");
	s->fc_excluded_bytes = num(fc, "excluded_bytes");
	s->fc_adjustments = num(fc, "nr_adjustments");
	if (!s->fc_adjustments.set && (adj = member_type(fc, "adjustments", json_type_array)))
		s->fc_adjustments = METRICS_NUM(json_object_array_length(adj));
}

void metrics_view_kdamond_controllers(struct metrics_kdamond *kd, struct json_object *o)
{
	struct json_object *ref = member_type(o, "refine", json_type_object), *ag;

	kd->refine_enabled = num(ref, "enabled");
	kd->refine_rounds = num(ref, "rounds");
	kd->refine_splits = num(ref, "splits");
	kd->refine_kept = num(ref, "kept");
	kd->refine_lost = num(ref, "lost");
	kd->refine_backoff = num(ref, "backoff");
	ag = member_type(o, "ager", json_type_object);
	kd->ager_running = num(ag, "running");
	kd->ager_starts = num(ag, "starts");
	kd->ager_young_cache_bytes = num(ag, "young_cache_bytes");
}

static int view_scheme(struct metrics_scheme *v, struct json_object *s)
{
	struct json_object *st, *q, *goals, *wm;

	v->name = get_str(s, "name");
	v->action = get_str(s, "action");
	st = member_type(s, "stats", json_type_object);
	v->nr_tried = num(st, "nr_tried");
	v->sz_tried = num(st, "sz_tried");
	v->nr_applied = num(st, "nr_applied");
	v->sz_applied = num(st, "sz_applied");
	v->qt_exceeds = num(st, "qt_exceeds");
	v->sz_ops_filter_passed = num(st, "sz_ops_filter_passed");
	q = member_type(s, "quotas", json_type_object);
	v->quota_bytes = num(q, "sz_bytes");
	v->quota_reset_interval_ms = num(q, "reset_interval_ms");
	v->quota_effective_bytes = num(q, "effective_sz_bytes");
	goals = member_type(q, "goals", json_type_array);
	v->nr_goals = array_len(goals);
	if (v->nr_goals && !(v->goals = calloc(v->nr_goals, sizeof(*v->goals))))
		return -ENOMEM;
	for (size_t g = 0; g < v->nr_goals; g++) {
		struct json_object *go = json_object_array_get_idx(goals, g);

		v->goals[g] = (struct metrics_goal){
			.metric = get_str(go, "metric"),
			.mode = get_str(go, "mode"),
			.target = num(go, "target_value"),
			.current = num(go, "current_value"),
		};
	}
	wm = member_type(s, "watermarks", json_type_object);
	v->wmark_state = get_str(wm, "state");
	v->wmark_free_permil = num(wm, "free_permil");
	v->wmark_high_permil = num(wm, "high_permil");
	v->wmark_mid_permil = num(wm, "mid_permil");
	v->wmark_low_permil = num(wm, "low_permil");
	metrics_view_scheme_controllers(v, s);
	return 0;
}

static int view_kdamond(struct metrics_kdamond *v, struct json_object *kd)
{
	struct json_object *nr, *targets, *schemes, *ds, *pct;

	v->name = get_str(kd, "name");
	v->state = get_str(kd, "state");
	metrics_view_kdamond_controllers(v, kd);
	ds = member_type(kd, "damon_stat", json_type_object);
	v->bandwidth = num(ds, "estimated_memory_bandwidth_bytes_per_second");
	pct = member_type(ds, "memory_idle_ms_percentiles", json_type_array);
	for (size_t i = 0; pct && i < METRICS_NR_IDLE_PERCENTILES; i++) {
		struct json_object *pv = json_object_array_get_idx(pct, (size_t)metrics_idle_percentile(i));

		if (pv && (json_object_is_type(pv, json_type_int) || json_object_is_type(pv, json_type_double)))
			v->idle_ms[i] = METRICS_NUM(json_object_get_double(pv));
	}
	nr = member_type(kd, "nr_regions", json_type_object);
	v->nr_regions_min = num(nr, "min");
	v->nr_regions_max = num(nr, "max");
	targets = member_type(kd, "targets", json_type_array);
	v->nr_targets = array_len(targets);
	if (v->nr_targets && !(v->targets = calloc(v->nr_targets, sizeof(*v->targets))))
		return -ENOMEM;
	for (size_t t = 0; t < v->nr_targets; t++) {
		struct json_object *to = json_object_array_get_idx(targets, t);

		v->targets[t].index = num(to, "index");
		v->targets[t].nr_regions = num(member_type(to, "snapshot", json_type_object), "nr_regions");
	}
	schemes = member_type(kd, "schemes", json_type_array);
	v->nr_schemes = array_len(schemes);
	if (v->nr_schemes && !(v->schemes = calloc(v->nr_schemes, sizeof(*v->schemes))))
		return -ENOMEM;
	for (size_t i = 0; i < v->nr_schemes; i++)
		if (view_scheme(&v->schemes[i], json_object_array_get_idx(schemes, i)) < 0)
			return -ENOMEM;
	return 0;
}

static int view_from_json(struct metrics_view *v, struct json_object *st)
{
	struct json_object *cfg, *lr, *mon, *res, *kds;

	v->version = get_str(st, "version");
	cfg = member_type(st, "config", json_type_object);
	v->generation = num(cfg, "generation");
	lr = member_type(cfg, "last_reload", json_type_object);
	v->last_reload_ok = num(lr, "ok");
	v->last_reload_at_us = num(lr, "at_us");
	v->loaded_at_us = num(cfg, "loaded_at_us");
	mon = member_type(st, "monitor", json_type_object);
	v->monitor_source = get_str(mon, "source");
	v->records = num(mon, "records");
	v->drops = num(mon, "drops");
	v->aggr_gate_ms = num(mon, "aggregation_gate_ms");
	v->aggr_skipped = num(mon, "aggregations_skipped");
	v->snapshots = num(mon, "snapshots");
	v->incomplete_snapshots = num(mon, "incomplete_snapshots");
	v->superseded_snapshots = num(mon, "superseded_snapshots");
	v->stats_commands = num(mon, "stats_commands");
	res = member_type(st, "resources", json_type_object);
	v->cpu_us = num(res, "cpu_us");
	v->cpu_ms = num(res, "cpu_ms");
	v->rss_kib = num(res, "rss_kib");
	kds = member_type(st, "kdamonds", json_type_array);
	v->nr_kdamonds = array_len(kds);
	if (v->nr_kdamonds && !(v->kdamonds = calloc(v->nr_kdamonds, sizeof(*v->kdamonds))))
		return -ENOMEM;
	for (size_t i = 0; i < v->nr_kdamonds; i++)
		if (view_kdamond(&v->kdamonds[i], json_object_array_get_idx(kds, i)) < 0)
			return -ENOMEM;
	return 0;
}

void metrics_view_done(struct metrics_view *v)
{
	for (size_t i = 0; v->kdamonds && i < v->nr_kdamonds; i++) {
		struct metrics_kdamond *kd = &v->kdamonds[i];

		for (size_t s = 0; kd->schemes && s < kd->nr_schemes; s++)
			free(kd->schemes[s].goals);
		free(kd->schemes);
		free(kd->targets);
	}
	free(v->kdamonds);
	*v = (struct metrics_view){};
}

/* ---- the view into samples ---- */

/* A sample of n, scaled, if it is set. */
static void sample_num(struct render *r, enum family fam, const struct label *labels, size_t n, struct metrics_num x,
		       double scale)
{
	if (x.set)
		sample(r, fam, labels, n, x.v * scale);
}

static void render_scheme(struct render *r, const char *kdamond, const struct metrics_scheme *s)
{
	const struct label l[] = {
		{ "kdamond", kdamond },
		{ "scheme", s->name },
		{ "action", s->action },
	};

	/* tombstones (slots damond keeps to hold indices) have no name: nothing to tell */
	if (!s->name)
		return;
	sample_num(r, F_SCHEME_TRIED_REGIONS, l, 3, s->nr_tried, 1);
	sample_num(r, F_SCHEME_TRIED_BYTES, l, 3, s->sz_tried, 1);
	sample_num(r, F_SCHEME_APPLIED_REGIONS, l, 3, s->nr_applied, 1);
	sample_num(r, F_SCHEME_APPLIED_BYTES, l, 3, s->sz_applied, 1);
	sample_num(r, F_SCHEME_QT_EXCEEDS, l, 3, s->qt_exceeds, 1);
	sample_num(r, F_SCHEME_FILTER_PASSED, l, 3, s->sz_ops_filter_passed, 1);

	sample_num(r, F_SCHEME_QUOTA, l, 3, s->quota_bytes, 1);
	sample_num(r, F_SCHEME_QUOTA_RESET, l, 3, s->quota_reset_interval_ms, 1e-3);
	if (s->fc)
		sample_num(r, F_SCHEME_QUOTA_KERNEL, l, 3, s->fc_kernel_quota_bytes, 1);
	sample_num(r, F_SCHEME_QUOTA_EFFECTIVE, l, 3, s->quota_effective_bytes, 1);
	for (size_t g = 0; g < s->nr_goals; g++) {
		const struct metrics_goal *go = &s->goals[g];
		char idx[24];
		const struct label gl[] = {
			l[0], l[1], l[2], { "goal", idx }, { "metric", go->metric },
		};

		snprintf(idx, sizeof(idx), "%zu", g);
		sample_num(r, F_SCHEME_GOAL_TARGET, gl, ARRAY_SIZE(gl), go->target, 1);
		sample_num(r, F_SCHEME_GOAL_CURRENT, gl, ARRAY_SIZE(gl), go->current, 1);
		if (go->mode) {
			static const char *const modes[] = { "native", "fed", "damond", "user" };

			for (size_t k = 0; k < ARRAY_SIZE(modes); k++)
				sample_enum(r, F_SCHEME_GOAL_MODE, gl, ARRAY_SIZE(gl), "mode", modes[k], go->mode);
		}
	}

	/* "n/a": the scheme has no watermarks (metric none) */
	if (s->wmark_state && wmark_status_from_string(s->wmark_state) != WMARK_STATUS_NONE) {
		const struct metrics_num th_v[] = { s->wmark_high_permil, s->wmark_mid_permil, s->wmark_low_permil };

		for (int i = 0; i < _WMARK_STATUS_MAX; i++)
			if (i != WMARK_STATUS_NONE)
				sample_enum(r, F_SCHEME_WMARK_STATE, l, 3, "state", wmark_status_to_string(i),
					    s->wmark_state);
		sample_num(r, F_SCHEME_WMARK_FREE, l, 3, s->wmark_free_permil, 1e-3);
		for (size_t i = 0; i < 3; i++) {
			static const char *const th[] = { "high", "mid", "low" };
			const struct label tl[] = { l[0], l[1], l[2], { "threshold", th[i] } };

			sample_num(r, F_SCHEME_WMARK_THRESHOLD, tl, ARRAY_SIZE(tl), th_v[i], 1e-3);
		}
	}

	if (s->fc) {
		for (int i = 0; i < _FAIL_CHARGE_STATUS_MAX; i++)
			sample_enum(r, F_SCHEME_FC_MODE, l, 3, "mode", fail_charge_status_to_string(i), s->fc_mode);
		sample_num(r, F_SCHEME_FC_FAILURE, l, 3, s->fc_failure_share, 1);
		sample_num(r, F_SCHEME_FC_EXCLUDED, l, 3, s->fc_excluded_bytes, 1);
		sample_num(r, F_SCHEME_FC_ADJUSTMENTS, l, 3, s->fc_adjustments, 1);
	}
}

/* the DAMON_STAT idle-time percentiles exported as metrics: a few, not 101 series per kdamond */
static const int idle_percentiles[METRICS_NR_IDLE_PERCENTILES] = { 0, 10, 25, 50, 75, 90, 99, 100 };

int metrics_idle_percentile(size_t i)
{
	return i < ARRAY_SIZE(idle_percentiles) ? idle_percentiles[i] : -1;
}

static void render_kdamond(struct render *r, const struct metrics_kdamond *kd)
{
	const struct label l[] = { { "kdamond", kd->name } };

	if (!kd->name)
		return;
	sample(r, F_KDAMOND_UP, l, 1, kdamond_status_from_string(kd->state) == KDAMOND_STATUS_ON ? 1 : 0);
	for (int i = 0; i < _KDAMOND_STATUS_MAX; i++)
		sample_enum(r, F_KDAMOND_STATE, l, 1, "state", kdamond_status_to_string(i), kd->state);

	sample_num(r, F_REFINE_ENABLED, l, 1, kd->refine_enabled, 1);
	sample_num(r, F_REFINE_ROUNDS, l, 1, kd->refine_rounds, 1);
	sample_num(r, F_REFINE_SPLITS, l, 1, kd->refine_splits, 1);
	sample_num(r, F_REFINE_KEPT, l, 1, kd->refine_kept, 1);
	sample_num(r, F_REFINE_LOST, l, 1, kd->refine_lost, 1);
	sample_num(r, F_REFINE_BACKOFF, l, 1, kd->refine_backoff, 1);
	sample_num(r, F_AGER_RUNNING, l, 1, kd->ager_running, 1);
	sample_num(r, F_AGER_STARTS, l, 1, kd->ager_starts, 1);
	sample_num(r, F_AGER_YOUNG_CACHE, l, 1, kd->ager_young_cache_bytes, 1);

	sample_num(r, F_KDAMOND_BANDWIDTH, l, 1, kd->bandwidth, 1);
	for (size_t i = 0; i < ARRAY_SIZE(idle_percentiles); i++) {
		char p[8];
		const struct label pl[] = { l[0], { "percentile", p } };

		snprintf(p, sizeof(p), "%d", idle_percentiles[i]);
		if (kd->idle_ms[i].set)
			sample(r, F_KDAMOND_IDLE, pl, 2, kd->idle_ms[i].v / 1000.0);
	}

	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct metrics_target *to = &kd->targets[t];
		char idx[24];
		const struct label tl[] = { l[0], { "target", idx } };

		if (to->index.set)
			snprintf(idx, sizeof(idx), "%.0f", to->index.v);
		else
			snprintf(idx, sizeof(idx), "%zu", t);
		sample_num(r, F_TARGET_NR_REGIONS, tl, 2, to->nr_regions, 1);
		sample_num(r, F_TARGET_NR_REGIONS_MIN, tl, 2, kd->nr_regions_min, 1);
		sample_num(r, F_TARGET_NR_REGIONS_MAX, tl, 2, kd->nr_regions_max, 1);
	}

	for (size_t i = 0; i < kd->nr_schemes; i++)
		render_scheme(r, kd->name, &kd->schemes[i]);
}

static void render_view(struct render *r, const struct metrics_view *v)
{
	sample(r, F_BUILD_INFO, (const struct label[]){ { "version", v->version ?: "unknown" } }, 1, 1);

	sample_num(r, F_CONFIG_GENERATION, NULL, 0, v->generation, 1);
	sample_num(r, F_CONFIG_LAST_RELOAD_OK, NULL, 0, v->last_reload_ok, 1);
	sample_num(r, F_CONFIG_LAST_RELOAD_TS, NULL, 0, v->last_reload_at_us, 1e-6);
	sample_num(r, F_CONFIG_LAST_OK_TS, NULL, 0, v->loaded_at_us, 1e-6);

	if (v->monitor_source)
		sample(r, F_MONITOR_SOURCE, (const struct label[]){ { "source", v->monitor_source } }, 1, 1);
	sample_num(r, F_MONITOR_RECORDS, NULL, 0, v->records, 1);
	sample_num(r, F_MONITOR_DROPS, NULL, 0, v->drops, 1);
	sample_num(r, F_MONITOR_AGGR_GATE, NULL, 0, v->aggr_gate_ms, 1e-3);
	sample_num(r, F_MONITOR_AGGR_SKIPPED, NULL, 0, v->aggr_skipped, 1);
	sample_num(r, F_MONITOR_SNAPSHOTS, NULL, 0, v->snapshots, 1);
	sample_num(r, F_MONITOR_INCOMPLETE, NULL, 0, v->incomplete_snapshots, 1);
	sample_num(r, F_MONITOR_SUPERSEDED, NULL, 0, v->superseded_snapshots, 1);
	sample_num(r, F_MONITOR_STATS_COMMANDS, NULL, 0, v->stats_commands, 1);

	for (size_t i = 0; i < v->nr_kdamonds; i++)
		render_kdamond(r, &v->kdamonds[i]);

	if (v->cpu_us.set)
		sample(r, F_PROCESS_CPU, NULL, 0, v->cpu_us.v / 1e6);
	else
		sample_num(r, F_PROCESS_CPU, NULL, 0, v->cpu_ms, 1e-3);
	sample_num(r, F_PROCESS_RSS, NULL, 0, v->rss_kib, 1024);
}

/* The exposition text of v into out (empty on entry). */
static int render_text(const struct metrics_view *v, struct buf *out)
{
	struct render r = {};

	size_t need = 0;

	render_view(&r, v);
	/* the text's size, so that it is allocated once */
	for (size_t i = 0; i < _F_MAX; i++)
		if (r.fam[i].len)
			need += r.fam[i].len + 2 * strlen(families[i].name) + strlen(families[i].help) +
				strlen(families[i].type) + 18;
	(void)buf_room(out, need, &r.oom);
	for (size_t i = 0; i < _F_MAX; i++) {
		/* families without a sample are left out entirely */
		if (r.fam[i].len && !r.oom) {
			buf_add(out, "# HELP ", 7, &r.oom);
			buf_puts(out, families[i].name, &r.oom);
			buf_add(out, " ", 1, &r.oom);
			buf_puts(out, families[i].help, &r.oom);
			buf_add(out, "\n# TYPE ", 8, &r.oom);
			buf_puts(out, families[i].name, &r.oom);
			buf_add(out, " ", 1, &r.oom);
			buf_puts(out, families[i].type, &r.oom);
			buf_add(out, "\n", 1, &r.oom);
			buf_add(out, r.fam[i].p, r.fam[i].len, &r.oom);
		}
		free(r.fam[i].p);
	}
	return r.oom ? -ENOMEM : 0;
}

static int render_json(struct json_object *status, struct buf *out)
{
	struct metrics_view v = {};
	int r;

	if (!status || !json_object_is_type(status, json_type_object))
		return -EINVAL;
	r = view_from_json(&v, status);
	if (r >= 0)
		r = render_text(&v, out);
	metrics_view_done(&v);
	return r;
}

/* b's text handed over as a string (an empty text too) */
static int buf_steal(struct buf *b, int r, char **ret, size_t *ret_len)
{
	if (r >= 0 && !b->p && !buf_room(b, 0, &(bool){ false }))
		r = -ENOMEM;
	if (r < 0) {
		free(b->p);
		return r;
	}
	b->p[b->len] = 0;
	*ret = b->p;
	if (ret_len)
		*ret_len = b->len;
	return 0;
}

int metrics_render_view_string(const struct metrics_view *v, char **ret, size_t *ret_len)
{
	struct buf b = {};

	return buf_steal(&b, render_text(v, &b), ret, ret_len);
}

int metrics_render(struct json_object *status, FILE *out)
{
	struct buf b = {};
	int r = render_json(status, &b);

	if (r >= 0 && b.len && fwrite(b.p, 1, b.len, out) != b.len)
		r = -EIO;
	free(b.p);
	if (r < 0)
		return r;
	return ferror(out) ? -EIO : 0;
}

int metrics_render_string(struct json_object *status, char **ret, size_t *ret_len)
{
	struct buf b = {};

	return buf_steal(&b, render_json(status, &b), ret, ret_len);
}

/* ---- the node_exporter textfile ---- */

int metrics_write_textfile(const char *path, const char *text, size_t len)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t off = 0;
	int r;

	if (!*base)
		return -EISDIR;
	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir || asprintf(&tmp, "%s/.%s.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = negative_errno();
			goto fail;
		}
		off += (size_t)n;
	}
	/* mkostemp makes 0600: the exporter runs as its own user */
	if (fchmod(fd, 0644) < 0) {
		r = negative_errno();
		goto fail;
	}
	/* The rename makes the new text appear whole to the exporter. No fsync: the file is rewritten every
	 * stats interval, and what a power cut could leave (the previous text, or an empty file: no samples)
	 * lasts until damond's first tick after boot; a sync of the file and its directory every second is a
	 * disk flush every second on a real disk. */
	if (rename(tmp, path) < 0) {
		r = negative_errno();
		goto fail;
	}
	return 0;
fail:
	(void)unlink(tmp);
	return r;
}
