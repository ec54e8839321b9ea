/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>

#include "macro.h"
#include "units.h"

static void test_parse_uint(void **state _unused_)
{
	uint64_t v = 7;

	assert_int_equal(parse_uint("0", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_uint("0x1000", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_uint("0XfF", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(parse_uint("010", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 10); /* decimal, not octal */

	v = 7;
	assert_int_equal(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("0x10000000000000000", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint("-1", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("+1", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint(" 1", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("1 ", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("12abc", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("0x", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint(NULL, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint("5", 10, 20, &v), -ERANGE);
	assert_int_equal(parse_uint("21", 10, 20, &v), -ERANGE);
	assert_int_equal(v, 7); /* untouched on failure */
	assert_int_equal(parse_uint("20", 10, 20, &v), 0);
	assert_int_equal(v, 20);
}

static void test_parse_int(void **state _unused_)
{
	int64_t v = 0;

	assert_int_equal(parse_int("-1", -1, 100, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(parse_int("42", -1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_int("-2", -1, 100, &v), -ERANGE);
	assert_int_equal(parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_int("--1", -10, 10, &v), -EINVAL);
	assert_int_equal(parse_int("-", -10, 10, &v), -EINVAL);
	assert_int_equal(parse_int("1x", -10, 10, &v), -EINVAL);
}

static void test_parse_size(void **state _unused_)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "4096", 4096 },
		{ "0", 0 },
		{ "0x1000", 4096 },
		{ "4K", 4096 },
		{ "4k", 4096 },
		{ "4KB", 4096 },
		{ "4KiB", 4096 },
		{ "4kib", 4096 },
		{ "100M", 100ULL << 20 },
		{ "100 M", 100ULL << 20 },
		{ "100MiB", 100ULL << 20 },
		{ "1g", 1ULL << 30 },
		{ "1G", 1ULL << 30 },
		{ "1.5G", 3ULL << 29 },
		{ "0.5K", 512 },
		{ "2T", 2ULL << 40 },
		{ "3TiB", 3ULL << 40 },
		{ "1P", 1ULL << 50 },
		{ "10B", 10 },
		{ "max", UINT64_MAX },
		{ "min", 0 },
		{ "16383P", 16383ULL << 50 },
	};
	static const struct {
		const char *s;
		int r;
	} bad[] = {
		{ "", -EINVAL },     { "M", -EINVAL },         { "100X", -EINVAL },
		{ "-1M", -EINVAL },  { "1.M", -EINVAL },       { "0.1K", -EINVAL }, /* 102.4 bytes */
		{ "1.5", -EINVAL },  { "1.5B", -EINVAL },      { "10 MM", -EINVAL },
		{ "M10", -EINVAL },  { "16384P", -ERANGE },    { "18446744073709551616", -ERANGE },
		{ "Max", -EINVAL },  { "1e3", -EINVAL },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		v = 1234;
		if (parse_size(ok[i].s, &v) != 0 || v != ok[i].v)
			fail_msg("parse_size(\"%s\") = %" PRIu64 ", want %" PRIu64, ok[i].s, v, ok[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r;

		v = 1234;
		r = parse_size(bad[i].s, &v);
		if (r != bad[i].r || v != 1234)
			fail_msg("parse_size(\"%s\") = %d, want %d", bad[i].s, r, bad[i].r);
	}
}

static void test_parse_duration(void **state _unused_)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "100us", 100 },
		{ "5ms", 5000 },
		{ "5 ms", 5000 },
		{ "2s", 2000000 },
		{ "1.5s", 1500000 },
		{ "0.5ms", 500 },
		{ "1m", 60000000 },
		{ "1min", 60000000 },
		{ "1h", 3600000000ULL },
		{ "1d", 86400000000ULL },
		{ "2000ns", 2 },
		{ "0", 0 },
		{ "0s", 0 },
		{ "max", UINT64_MAX },
	};
	static const struct {
		const char *s;
		int r;
	} bad[] = {
		{ "5000", -EINVAL },  /* bare numbers need a unit */
		{ "", -EINVAL },
		{ "5 parsecs", -EINVAL },
		{ "1500ns", -EINVAL }, /* not a whole microsecond */
		{ "0.5us", -EINVAL },
		{ "-1s", -EINVAL },
		{ "1S", -EINVAL },
		{ "s", -EINVAL },
		{ "99999999999999999999s", -ERANGE },
		{ "300000000d", -ERANGE },
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		v = 1234;
		if (parse_duration_us(ok[i].s, &v) != 0 || v != ok[i].v)
			fail_msg("parse_duration_us(\"%s\") = %" PRIu64 ", want %" PRIu64, ok[i].s, v,
				 ok[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r;

		v = 1234;
		r = parse_duration_us(bad[i].s, &v);
		if (r != bad[i].r || v != 1234)
			fail_msg("parse_duration_us(\"%s\") = %d, want %d", bad[i].s, r, bad[i].r);
	}
}

static void test_parse_percent(void **state _unused_)
{
	uint64_t v = 0;

	assert_int_equal(parse_percent_bp("40%", &v), 0);
	assert_int_equal(v, 4000);
	assert_int_equal(parse_percent_bp("12.5%", &v), 0);
	assert_int_equal(v, 1250);
	assert_int_equal(parse_percent_bp("0.01%", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_percent_bp("100 %", &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(parse_percent_bp("0%", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_percent_bp("250%", &v), 0); /* callers check their range */
	assert_int_equal(v, 25000);

	v = 99;
	assert_int_equal(parse_percent_bp("40", &v), -EINVAL);
	assert_int_equal(parse_percent_bp("0.001%", &v), -EINVAL);
	assert_int_equal(parse_percent_bp("-5%", &v), -EINVAL);
	assert_int_equal(parse_percent_bp("%", &v), -EINVAL);
	assert_int_equal(parse_percent_bp("5%%", &v), -EINVAL);
	assert_int_equal(parse_percent_bp("99999999999%", &v), -ERANGE);
	assert_int_equal(v, 99);
}

static void test_format(void **state _unused_)
{
	char buf[32];

	assert_string_equal(format_size(buf, 32ULL << 20), "32.0MiB");
	assert_string_equal(format_size(buf, 0), "0B");
	assert_string_equal(format_size(buf, 1023), "1023B");
	assert_string_equal(format_size(buf, 1024), "1.0KiB");
	assert_string_equal(format_size(buf, 1536), "1.5KiB");
	assert_string_equal(format_size(buf, 3ULL << 29), "1.5GiB");
	assert_string_equal(format_size(buf, 1ULL << 40), "1.0TiB");
	assert_string_equal(format_size(buf, UINT64_MAX - 1), "16.0EiB");
	assert_string_equal(format_size(buf, UINT64_MAX), "max");

	assert_string_equal(format_duration_us(buf, 100000), "100ms");
	assert_string_equal(format_duration_us(buf, 2000000), "2s");
	assert_string_equal(format_duration_us(buf, 1500000), "1500ms");
	assert_string_equal(format_duration_us(buf, 60000000), "1m");
	assert_string_equal(format_duration_us(buf, 90000000), "90s");
	assert_string_equal(format_duration_us(buf, 7200000000ULL), "2h");
	assert_string_equal(format_duration_us(buf, 7), "7us");
	assert_string_equal(format_duration_us(buf, 0), "0");
	assert_string_equal(format_duration_us(buf, UINT64_MAX), "max");
}

static void test_roundtrip(void **state _unused_)
{
	static const uint64_t durations[] = { 1, 999, 1000, 5000, 100000, 1000000, 1500000, 60000000,
					      3600000000ULL, 86400000000ULL, 123456789 };
	char buf[32];
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
		format_duration_us(buf, durations[i]);
		assert_int_equal(parse_duration_us(buf, &v), 0);
		assert_true(v == durations[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_uint),     cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_size),     cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_percent),  cmocka_unit_test(test_format),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
