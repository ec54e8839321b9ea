/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the units parser (lib/units.c). The input, NUL-terminated,
 * goes to every parser; a size or duration that parses must also survive the
 * formatter, and an exact formatter's output must parse back to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[32], *s;
	uint64_t u, v, lo = 0, hi = UINT64_MAX;
	int64_t i;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* bounds for parse_uint/parse_int from the first bytes, the whole string still parsed */
	if (size >= 2) {
		lo = (uint64_t)data[0] << (data[1] & 31);
		hi = lo + ((uint64_t)data[1] << 24);
	}
	if (parse_uint(s, lo, hi, &u) == 0 && (u < lo || u > hi))
		abort();
	if (parse_uint(s, 0, UINT64_MAX, &u) == 0) {
		/* decimal renders back exactly */
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)u);
		if (parse_uint(buf, 0, UINT64_MAX, &v) != 0 || v != u)
			abort();
	}
	if (parse_int(s, -(int64_t)lo, (int64_t)(hi >> 1), &i) == 0 && (i < -(int64_t)lo || i > (int64_t)(hi >> 1)))
		abort();
	(void)parse_int(s, INT64_MIN, INT64_MAX, &i);

	if (parse_size(s, &u) == 0) {
		format_size(buf, u);
		if (strnlen(buf, sizeof(buf)) >= sizeof(buf))
			abort();
	}
	if (parse_duration_us(s, &u) == 0) {
		/* format_duration_us is exact: it must parse back to the same value */
		format_duration_us(buf, u);
		if (parse_duration_us(buf, &v) != 0 || v != u)
			abort();
	}
	if (parse_percent_bp(s, &u) == 0)
		(void)u;

	/* the formatters on raw 8-byte values */
	if (size >= 8) {
		memcpy(&u, data, 8);
		format_size(buf, u);
		format_duration_us(buf, u);
		if (parse_duration_us(buf, &v) != 0 || v != u)
			abort();
	}
	free(s);
	return 0;
}
