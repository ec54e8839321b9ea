/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Human-readable text for the control protocol's replies. The daemon's JSON
 * is the single source of truth: damondctl prints it with --json and these
 * functions turn it into tables. Missing or null members render as "-", so
 * an older or newer daemon never makes the client fail.
 *
 * All return 0, -EINVAL when the top-level value is not an object, -EIO
 * when writing to out failed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

/*
 * The status object's schema: bumped when a field is renamed, removed or changes
 * meaning (added fields do not bump it). The object carries it as "schema_version";
 * the renderers note a newer one than they know.
 */
/* 2: scheme fields named as the config's keys (quotas.sz_bytes, watermarks.high_permil, ...) and rates with
 * their unit (sz_tried_bytes_per_s); schema 1 documents are read through status_upgrade() */
#define STATUS_SCHEMA_VERSION 2

/* a schema 1 document renamed in place to schema 2's names (a damond older than this damondctl) */
void status_upgrade(struct json_object *status);
/* The "status" reply's parameters: everything (damondctl status --details). */
int status_render_text(struct json_object *status, FILE *out);

struct status_summary_opts {
	unsigned width;      /* truncate lines to this many columns (0: never) */
	bool color;          /* ANSI colours for states */
	unsigned nr_actions; /* the last N actions after the summary (0: none) */
};

/*
 * The summary for humans (damondctl status): one header line (damond,
 * policy and last reload, monitor, damond's own cost), one line per kdamond
 * (state, ops, regions) and one per scheme saying what it does and whether
 * it is on target, and why not: the applied rate against the quota as a
 * rate, an idle scheme's watermark ("idle: free 62.0 % > high 50.0 %"),
 * the fail-charge mode, a pending write, the last error. Then the last
 * nr_actions actions.
 */
int status_render_summary(struct json_object *status, FILE *out, const struct status_summary_opts *opts);

/*
 * Redaction for unprivileged peers, in place: every target's configured
 * "regions" list is emptied and marked "addresses_withheld": true (counts
 * and sizes stay), and every "0x<hex>" in any string (reasons, actions)
 * becomes "0x?". Physical ranges are what /proc/iomem hides from users;
 * virtual ones are root's processes' layout. -EINVAL if status is not an
 * object, -ENOMEM.
 */
int status_withhold_addresses(struct json_object *status);

/* The "features" object, or any object with a "features" member (status, features reply). */
int features_render_text(struct json_object *features, FILE *out);

/*
 * The "regions" reply's parameters: a table of regions per target and a
 * one-line heatmap of access frequency over the monitored bytes (gaps
 * between regions left out), heatmap_width cells wide (0 = 64), each cell
 * a digit 0-9 or, with color, an ANSI 256-colour block. kdamond = NULL
 * shows all; a name that matches nothing gives -ENOENT (and no output).
 */
int regions_render_text(struct json_object *regions, const char *kdamond, unsigned heatmap_width,
			bool color, FILE *out);

/*
 * The heatmap itself: levels[0..width) = 0..9, the size-weighted mean
 * nr_accesses of the bytes in each cell scaled to max_nr_accesses (the
 * largest value seen when max_nr_accesses is 0). regions is a JSON array
 * of {"start","end","nr_accesses"} in any order. -EINVAL, -ENOMEM;
 * 0 with all levels 0 when there are no regions.
 */
int regions_heatmap(struct json_object *regions, uint64_t max_nr_accesses, unsigned width,
		    uint8_t *levels);
