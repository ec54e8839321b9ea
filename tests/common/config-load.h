/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * For cmocka tests: load a configuration from text, print its errors and
 * fail the test unless it loaded. Include after <cmocka.h> and "config.h".
 */
#pragma once

#include <stdlib.h>
#include <string.h>

static inline struct damond_config *test_config_load(const char *text)
{
	struct damond_config *c = NULL;
	struct config_errors errs = {};
	int r;

	r = config_load_string("test.yaml", text, strlen(text), &c, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		char *s = NULL;

		if (config_error_format(&errs.v[i], &s) >= 0)
			print_error("%s\n", s);
		free(s);
	}
	config_errors_done(&errs);
	assert_int_equal(r, 0);
	return c;
}
