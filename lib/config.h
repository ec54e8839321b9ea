/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * YAML configuration -> struct damond_config.
 *
 * The file is parsed into a fresh struct filled with the documented defaults,
 * every value is validated, and the struct is handed out only when no error
 * was found. Errors are collected (all of them, sorted by position) with the
 * file, 1-based line:column of the offending node and the dotted key path,
 * e.g. "kdamonds[0].schemes[1].quotas.bytes". See docs/configuration.md.
 *
 * config_load_file() also reads the drop-ins: DIR/damond.d/NAME.yaml next to the
 * file (DIR is the file's directory), merged in lexical order. Input is
 * bounded (file size, nesting depth, node count after alias expansion,
 * object counts, number of error lines kept); docs/configuration.md, "Limits".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "damon.h"

struct config_error {
	char *file;
	unsigned line, column; /* 1-based; 0 = no position (I/O errors) */
	char *key;             /* dotted key path; NULL when not tied to a key */
	char *message;
	bool warning; /* a warning: the configuration is still accepted */
	unsigned src; /* loader internal: which file (0 = main, then drop-ins in order) */
};

struct config_errors {
	struct config_error *v;
	size_t n, cap;
};

void config_errors_done(struct config_errors *e);
/* Appends an error at pos (NULL: no position) in file (NULL: "<config>"); dropped on ENOMEM. */
void config_errors_add(struct config_errors *errs, const char *file, const struct src_pos *pos, const char *key,
		       const char *fmt, ...) _printf_(5, 6);

/* "FILE:LINE:COL: KEY: MESSAGE" ("KEY: warning: MESSAGE" for warnings); position and key are left
 * out when unknown. */
int config_error_format(const struct config_error *e, char **ret);

/*
 * 0 on success (*ret set, owned by the caller), -EINVAL when the file is
 * invalid (errs holds the errors found: the first CONFIG_MAX_ERROR_LINES by
 * position, then one "N more errors not shown" line), -errno on I/O errors
 * (errs gets one entry naming the file), -ENOMEM. errs must be
 * zero-initialised or hold earlier errors; new entries are appended. Warnings
 * (entry.warning) may be appended on success too.
 */
#define CONFIG_MAX_ERROR_LINES 20

/* Number of entries of e from index first on that are errors, not warnings. */
size_t config_errors_count(const struct config_errors *e, size_t first);

int config_load_file(const char *path, struct damond_config **ret, struct config_errors *errs);
int config_load_string(const char *name, const char *text, size_t len, struct damond_config **ret,
		       struct config_errors *errs);
