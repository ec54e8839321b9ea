/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsing and formatting of human units. All parsers are strict: no leading
 * or trailing garbage, no sign, no silent overflow. They return 0 or a
 * negative errno (-EINVAL: not understood, -ERANGE: out of range) and write
 * *ret only on success.
 */
#pragma once

#include <stdint.h>

/* Decimal or 0x-hex unsigned integer within [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* Decimal signed integer within [min, max] ("-1" allowed when min permits). */
int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);

/*
 * Size in bytes: "4096", "0x1000", "4K", "4KiB", "4kb", "1.5G", "100 M",
 * "max" (UINT64_MAX), "min" (0). All multiples are binary (1K = 1024).
 * Fractions must give a whole number of bytes.
 */
int parse_size(const char *s, uint64_t *ret);

/*
 * Duration in microseconds: "100us", "5ms", "2s", "1.5s", "1m"/"1min", "1h",
 * "1d", "1000ns", "max" (UINT64_MAX). A unit is required; only the bare
 * number "0" is accepted without one. Must be a whole number of us.
 */
int parse_duration_us(const char *s, uint64_t *ret);

/* Percentage in basis points: "40%" -> 4000, "12.5%" -> 1250, "0.01%" -> 1. */
int parse_percent_bp(const char *s, uint64_t *ret);

/* "32.0MiB", "512B", "max". Returns buf. */
char *format_size(char buf[static 32], uint64_t bytes);
/* Exact: "100ms", "2s", "1500ms", "5m", "1h", "7us", "0", "max". Returns buf. */
char *format_duration_us(char buf[static 32], uint64_t usec);
