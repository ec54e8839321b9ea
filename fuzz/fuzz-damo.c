/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: damo interop (lib/damo.c). damo_import() of any buffer
 * either fails saying why or gives a configuration; that configuration must
 * export to damo's JSON and YAML (or fail saying why: auto regions without
 * an iomem file) and import back equal (the round trip of import-damo and
 * export --damo). Every error must format.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "damo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_errors(struct config_errors *errs, int r)
{
	if (r == -EINVAL && config_errors_count(errs, 0) == 0)
		abort(); /* a failure must say why */
	if (r == 0 && config_errors_count(errs, 0))
		abort(); /* success with errors collected (warnings are fine) */
	for (size_t i = 0; i < errs->n; i++) {
		char *line = NULL;

		if (config_error_format(&errs->v[i], &line) < 0 && r != -ENOMEM)
			abort();
		free(line);
	}
	config_errors_done(errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct damond_config *cfg = NULL;
	struct config_errors errs = {};
	char *yaml = NULL;
	int r;

	r = damo_import("fuzz.yaml", (const char *)data, size, DAMO_NUMBERS_AUTO, &cfg, &yaml, NULL, &errs);
	check_errors(&errs, r);
	if (r == 0 && (!cfg || !yaml))
		abort();
	for (int fmt = DAMO_FORMAT_JSON; r == 0 && fmt <= DAMO_FORMAT_YAML; fmt++) {
		struct damond_config *back = NULL;
		char *out = NULL, why[256];
		int e;

		e = damo_export(cfg, fmt, "/nonexistent/iomem", &out, &errs);
		check_errors(&errs, e);
		if (e < 0)
			continue;
		e = damo_import("export", out, strlen(out), DAMO_NUMBERS_AUTO, &back, NULL, NULL, &errs);
		check_errors(&errs, e);
		if (e == 0 && !damo_config_equal(cfg, back, why, sizeof(why))) {
			fprintf(stderr, "round trip differs at %s\n", why);
			abort();
		}
		if (e == -EINVAL)
			abort(); /* export wrote something import refuses */
		damond_config_free(back);
		free(out);
	}
	damond_config_free(cfg);
	free(yaml);
	return 0;
}
