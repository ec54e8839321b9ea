/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics: the status document (manager_status_json) rendered
 * in the text exposition format 0.0.4, and the node_exporter textfile
 * written atomically. Pure: no sd-event, no globals. The metric names,
 * types and labels are listed in docs/configuration.md ("Metrics").
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct json_object;

/* The control verb that answers {"text": "<exposition>"} */
#define METRICS_IPC_METHOD "metrics"

/*
 * Write the metrics in status to out: HELP and TYPE before every family,
 * families in a fixed order, label values escaped. Members the status lacks
 * (no snapshot, no stats yet, a watermark without metric) leave their
 * samples out. 0, or a negative errno (-ENOMEM, -EIO on a write error).
 */
int metrics_render(struct json_object *status, FILE *out);

/* The same into a malloc'ed NUL-terminated string. */
int metrics_render_string(struct json_object *status, char **ret, size_t *ret_len);

/* Whether DAMON_STAT's idle-time percentile p (0..100) is among the exported ones: the status document
 * built for the metrics (manager_status_json_metrics()) may leave the others null. */
bool metrics_idle_percentile_exported(int p);

/* Label value escaping of the exposition format: \ " and newline. */
int metrics_escape_label(const char *s, FILE *out);

/*
 * Replace path with text atomically: a hidden temporary file in the same
 * directory (".NAME.XXXXXX", which node_exporter's *.prom glob skips),
 * written, mode 0644, fsync'ed, renamed over path, the directory fsync'ed.
 * On failure nothing is left behind and path keeps its old content.
 */
int metrics_write_textfile(const char *path, const char *text, size_t len);
