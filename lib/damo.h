/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * damo interop: damo's kdamonds spec (`damo args damon --format json|yaml`,
 * with or without --raw) <-> damond's configuration (struct damond_config).
 *
 * Import reads damo's text (JSON is read as YAML), converts every value to
 * the kernel units damond keeps (samples, aggregation intervals, us, ms,
 * bytes, permil, bp) the way damo itself converts them when it writes sysfs,
 * and returns a configuration built by damond's own loader from the YAML
 * damo_config_to_yaml() writes for it (so what is printed is what damond
 * loads). Explicit kernel defaults that damond would have to write to a file
 * older kernels lack (goal_tuner: consist) and damo's placeholders for unused
 * values (reset_interval 'max' without a quota) are dropped with a note; what
 * damond cannot express is an error. docs/configuration.md, "From damo".
 *
 * Export writes a configuration in damo's human format, exactly (sizes and
 * durations in the largest unit that divides them, access counts in samples
 * and aggregation intervals), so that import(export(x)) equals x.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "damon.h"

/* How bare numbers of damo's duration fields are read. */
enum damo_numbers {
	DAMO_NUMBERS_AUTO,  /* raw when the file carries damo's --raw signature (permil as "%f") */
	DAMO_NUMBERS_HUMAN, /* a bare number is in the key's unit, as damo reads it */
	DAMO_NUMBERS_RAW,   /* damo --raw: *_exact fields (time_ms, reset_interval_ms,
			       watermarks.interval_us, age) are nanoseconds */
};

/*
 * Import damo's text. On success *ret is the configuration (validated by
 * config_load_string()) and *ret_yaml the damond YAML it was loaded from;
 * notes (warning = true) may be appended to errs. On failure, -EINVAL with
 * the errors in errs (file damo's file, key the dotted damo key path), or
 * -ENOMEM. *ret_raw (may be NULL) tells whether the numbers were read as
 * damo --raw output.
 */
int damo_import(const char *name, const char *text, size_t len, enum damo_numbers numbers, struct damond_config **ret,
		char **ret_yaml, bool *ret_raw, struct config_errors *errs);

/*
 * damond's YAML for c (kdamonds and the damond: settings that differ from
 * the defaults). header (may be NULL) is written first as comment lines.
 */
int damo_config_to_yaml(const struct damond_config *c, const char *header, char **ret);

enum damo_format {
	DAMO_FORMAT_JSON,
	DAMO_FORMAT_YAML,
};

/*
 * c in damo's kdamonds format. A paddr target with `regions: auto` is
 * resolved from iomem_path (System RAM ranges, as damond resolves it).
 * What damo cannot express (names, refine, filter directories,
 * fail_charge_mode, max_nr_snapshots, damond: settings) is left out with a
 * warning in errs. -EINVAL (errors in errs) when a value cannot be exported.
 */
int damo_export(const struct damond_config *c, enum damo_format fmt, const char *iomem_path, char **ret,
		struct config_errors *errs);

/*
 * Compare the policies (kdamonds and settings; source positions and file
 * names are ignored, goal_tuner compares by effect). Returns true when
 * equal; else writes the first difference as a dotted path into why.
 */
bool damo_config_equal(const struct damond_config *a, const struct damond_config *b, char *why, size_t whylen);
