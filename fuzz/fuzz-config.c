/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the configuration loader (lib/config.c) from a buffer,
 * config_load_string(), which config_load_file() feeds after reading the file.
 * Every error must format; a loaded config is freed (ASan checks the rest).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct damond_config *cfg = NULL;
	struct config_errors errs = {};
	int r;

	r = config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &errs);
	if (r == 0 && !cfg)
		abort();
	if (r == 0 && config_errors_count(&errs, 0))
		abort();	/* success with errors collected (warnings are fine) */
	if (r == -EINVAL && config_errors_count(&errs, 0) == 0)
		abort();	/* an invalid config must say why */
	for (size_t i = 0; i < errs.n; i++) {
		char *line = NULL;

		if (config_error_format(&errs.v[i], &line) < 0 && r != -ENOMEM)
			abort();
		free(line);
	}
	config_errors_done(&errs);
	damond_config_free(cfg);
	return 0;
}
