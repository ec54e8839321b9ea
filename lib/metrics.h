/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics: a view of damond's numbers (struct metrics_view,
 * filled by the daemon from its state, or from a status document as
 * manager_status_json builds it) rendered in the text exposition format
 * 0.0.4, and the node_exporter textfile written atomically. Pure: no
 * sd-event, no globals. The metric names, types and labels are listed in
 * docs/METRICS.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_object;

/* The control verb that answers {"text": "<exposition>"} */
#define METRICS_IPC_METHOD "metrics"

/* ---- the view: what the metrics read, filled from the status document or from damond's state ---- */

/* An optional number: absent leaves its sample out (a member the status document lacks) */
struct metrics_num {
	bool set;
	double v;
};

#define METRICS_NUM(x) ((struct metrics_num){ .set = true, .v = (double)(x) })

struct metrics_goal {
	const char *metric, *mode; /* mode NULL: no goal_mode samples */
	struct metrics_num target, current;
};

struct metrics_scheme {
	const char *name, *action; /* name NULL: a tombstone (a slot holding indices), no samples */
	struct metrics_num nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds, sz_ops_filter_passed;
	struct metrics_num quota_bytes, quota_reset_interval_ms, quota_effective_bytes;
	size_t nr_goals;
	struct metrics_goal *goals;
	const char *wmark_state; /* NULL or "n/a": no watermarks */
	struct metrics_num wmark_free_permil, wmark_high_permil, wmark_mid_permil, wmark_low_permil;
	/* the fail_charge controller's status object, when there is one */
	bool fc;
	const char *fc_mode;
	struct metrics_num fc_kernel_quota_bytes, fc_failure_share, fc_excluded_bytes, fc_adjustments;
};

struct metrics_target {
	struct metrics_num index; /* absent: its position */
	struct metrics_num nr_regions;
};

#define METRICS_NR_IDLE_PERCENTILES 8

struct metrics_kdamond {
	const char *name, *state; /* name NULL: no samples */
	struct metrics_num refine_enabled, refine_rounds, refine_splits, refine_kept, refine_lost, refine_backoff;
	/* the charge emulation's ager (status "ager": where one is considered) */
	struct metrics_num ager_running, ager_starts, ager_young_cache_bytes;
	struct metrics_num bandwidth;
	struct metrics_num idle_ms[METRICS_NR_IDLE_PERCENTILES]; /* metrics_idle_percentile(i) */
	struct metrics_num nr_regions_min, nr_regions_max;
	size_t nr_targets;
	struct metrics_target *targets;
	size_t nr_schemes;
	struct metrics_scheme *schemes;
};

struct metrics_view {
	const char *version;
	struct metrics_num generation, last_reload_ok, last_reload_at_us, loaded_at_us;
	const char *monitor_source;
	struct metrics_num records, drops, snapshots, incomplete_snapshots, superseded_snapshots, stats_commands;
	struct metrics_num aggr_gate_ms, aggr_skipped; /* the BPF monitor's aggregation gate (BPF only) */
	size_t nr_kdamonds;
	struct metrics_kdamond *kdamonds;
	struct metrics_num cpu_us, cpu_ms, rss_kib; /* cpu_ms: when cpu_us is absent */
};

/* Frees the view's arrays (kdamonds, their targets and schemes, the schemes' goals), not the strings. */
void metrics_view_done(struct metrics_view *v);

/* The exported idle-time percentile number i (0 .. METRICS_NR_IDLE_PERCENTILES - 1), in 0..100. */
int metrics_idle_percentile(size_t i);

/* The controllers' parts of the view from their status objects (ctrls_status(): "refine" in a kdamond's
 * object, "fail_charge" in a scheme's), as the status document has them. o may be NULL. */
void metrics_view_kdamond_controllers(struct metrics_kdamond *kd, struct json_object *o);
void metrics_view_scheme_controllers(struct metrics_scheme *s, struct json_object *o);

/* The view into a malloc'ed NUL-terminated string: the same text as metrics_render_string() of the status
 * document the view was filled from. 0, or -ENOMEM. */
int metrics_render_view_string(const struct metrics_view *v, char **ret, size_t *ret_len);

/*
 * Write the metrics in status to out: HELP and TYPE before every family,
 * families in a fixed order, label values escaped. Members the status lacks
 * (no snapshot, no stats yet, a watermark without metric) leave their
 * samples out. 0, or a negative errno (-ENOMEM, -EIO on a write error).
 */
int metrics_render(struct json_object *status, FILE *out);

/* The same into a malloc'ed NUL-terminated string. */
int metrics_render_string(struct json_object *status, char **ret, size_t *ret_len);

/* Label value escaping of the exposition format: \ " and newline. */
int metrics_escape_label(const char *s, FILE *out);

/*
 * Replace path with text atomically: a hidden temporary file in the same
 * directory (".NAME.XXXXXX", which node_exporter's *.prom glob skips),
 * written, mode 0644, fsync'ed, renamed over path, the directory fsync'ed.
 * On failure nothing is left behind and path keeps its old content.
 */
int metrics_write_textfile(const char *path, const char *text, size_t len);
