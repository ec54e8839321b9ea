/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Prometheus renderer (lib/metrics.c): exact output for a fixture, escaping, gaps, the textfile. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "macro.h"
#include "metrics.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	char chunk[4096];
	size_t n;

	assert_non_null(f);
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

static char *render(const char *json)
{
	_cleanup_(json_object_putp) struct json_object *o = json_tokener_parse(json);
	char *text = NULL;

	assert_non_null(o);
	assert_int_equal(metrics_render_string(o, &text, NULL), 0);
	return text;
}

/* The fixture covers every family: compared byte for byte with the reviewed expectation. */
static void test_fixture_exact(void **state)
{
	_cleanup_free_ char *json = slurp(FIXTURE_DIR "/status.json");
	_cleanup_free_ char *expected = slurp(FIXTURE_DIR "/status.prom");
	_cleanup_free_ char *text = render(json);

	if (!streq(text, expected))
		fprintf(stderr, "# got:\n%s", text);
	assert_string_equal(text, expected);
}

static void test_escape(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_escape_label("a\\b\"c\nd\te", f), 0);
	fclose(f);
	assert_string_equal(buf, "a\\\\b\\\"c\\nd\te");
	free(buf);
}

/* A kdamond without targets, schemes or refine: up and state only, nothing invented. */
static void test_gaps(void **state)
{
	_cleanup_free_ char *text = render("{\"kdamonds\":[{\"name\":\"k\",\"state\":\"off\","
					   "\"targets\":[{\"index\":3,\"snapshot\":null}],"
					   "\"schemes\":[{\"name\":null,\"stats\":{\"nr_tried\":1}}]}]}");

	assert_non_null(strstr(text, "damond_kdamond_up{kdamond=\"k\"} 0\n"));
	assert_non_null(strstr(text, "damond_kdamond_state{kdamond=\"k\",state=\"off\"} 1\n"));
	assert_null(strstr(text, "nr_regions"));
	assert_null(strstr(text, "scheme"));
	assert_null(strstr(text, "process_"));
	assert_null(strstr(text, "damond_config_"));
	/* build_info even without a version */
	assert_non_null(strstr(text, "damond_build_info{version=\"unknown\"} 1\n"));
}

static void test_values(void **state)
{
	_cleanup_free_ char *text = render("{\"monitor\":{\"drops\":18446744073709551615,\"records\":9007199254740993},"
					   "\"resources\":{\"cpu_us\":100000}}");

	assert_non_null(strstr(text, "damond_monitor_drops_total 1.8446744073709552e+19\n"));
	assert_non_null(strstr(text, "damond_monitor_records_total 9007199254740992\n"));
	assert_non_null(strstr(text, "damond_process_cpu_seconds_total 0.1\n"));
}

/* The value formatting before the fast paths: "%.0f" for integers below 2^53, else the fewest digits of
 * "%.*g" that read back the same */
static void ref_value(double v, char *buf, size_t size)
{
	if (v != v)
		snprintf(buf, size, "NaN");
	else if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
		snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
	else if ((v < 0 ? -v : v) < 9007199254740992.0 && v == (double)(int64_t)v)
		snprintf(buf, size, "%.0f", v);
	else
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, size, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
}

/* Values of every shape (decimals of 1 to 8 places, halves, tiny, huge, random bits) print as before */
static void test_values_like_printf(void **state)
{
	static const double scales[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };

	srand(13);
	for (int i = 0; i < 20000; i++) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
		struct json_object *mon = json_object_new_object();
		char *text = NULL, expect[128], ref[40];
		double v;
		uint64_t bits;

		switch (i % 5) {
		case 0: /* a decimal: an integer over a power of ten */
			v = (double)((int64_t)rand() * rand() % 100000000000000LL) / scales[rand() % 10];
			break;
		case 1: /* seconds from microseconds, as the timestamps and CPU time */
			v = (double)((uint64_t)rand() * (uint64_t)rand() * 3) / 1e6;
			break;
		case 2: /* a ratio from per-mille */
			v = (double)(rand() % 100000) * 1e-3;
			break;
		case 3: /* any finite double */
			do {
				bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
				memcpy(&v, &bits, sizeof(v));
			} while (v != v || v - v != 0);
			break;
		default: /* near the fixed/scientific bounds of %g */
			v = (rand() % 2 ? 1e-4 : 1e15) * (1 + (rand() % 2001 - 1000) * 1e-12);
			break;
		}
		if (rand() % 3 == 0)
			v = -v;
		json_object_object_add(mon, "records", json_object_new_double(v));
		json_object_object_add(o, "monitor", mon);
		assert_int_equal(metrics_render_string(o, &text, NULL), 0);
		ref_value(v, ref, sizeof(ref));
		snprintf(expect, sizeof(expect), "\ndamond_monitor_records_total %s\n", ref);
		if (!strstr(text, expect))
			fprintf(stderr, "# %.17g: want %s in\n%s", v, ref, text);
		assert_non_null(strstr(text, expect));
		free(text);
	}
}

static void test_invalid(void **state)
{
	_cleanup_(json_object_putp) struct json_object *a = json_object_new_array();
	char *text = NULL;

	assert_int_equal(metrics_render_string(a, &text, NULL), -EINVAL);
	assert_int_equal(metrics_render_string(NULL, &text, NULL), -EINVAL);
	assert_null(text);
}

static char tmpdir[] = "/tmp/test-metrics-XXXXXX";

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_textfile(void **state)
{
	char path[256], sub[256];
	struct stat st, st2;
	_cleanup_free_ char *a = NULL, *b = NULL;
	mode_t old;

	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/damond.prom", tmpdir);
	old = umask(077);
	assert_int_equal(metrics_write_textfile(path, "x 1\n", 4), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	/* readable by node_exporter's user whatever damond's umask */
	assert_int_equal(st.st_mode & 07777, 0644);
	a = slurp(path);
	assert_string_equal(a, "x 1\n");
	/* replaced, not rewritten: a reader holding the old file sees it whole */
	assert_int_equal(metrics_write_textfile(path, "x 2\ny 3\n", 8), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_not_equal(st.st_ino, st2.st_ino);
	b = slurp(path);
	assert_string_equal(b, "x 2\ny 3\n");
	assert_int_equal(count_entries(tmpdir), 1);

	/* a missing directory: an error, nothing created */
	snprintf(sub, sizeof(sub), "%s/missing/damond.prom", tmpdir);
	assert_int_equal(metrics_write_textfile(sub, "x 1\n", 4), -ENOENT);
	/* a directory where the file should be: rename fails, the temporary is removed */
	snprintf(sub, sizeof(sub), "%s/dir.prom", tmpdir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(metrics_write_textfile(sub, "x 1\n", 4), -EISDIR);
	assert_int_equal(count_entries(tmpdir), 2);
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/", tmpdir);
	assert_int_equal(metrics_write_textfile(sub, "x 1\n", 4), -EISDIR);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(tmpdir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_exact),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_values_like_printf),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_textfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
