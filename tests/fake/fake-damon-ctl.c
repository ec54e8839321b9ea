/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fake-damon-ctl: drive a fake DAMON root from shell tests.
 *
 *   fake-damon-ctl init ROOT 6.12|7.2|7.3
 *   fake-damon-ctl store ROOT RELPATH VALUE   exit 0, or print the errno name, exit 1
 *   fake-damon-ctl start-foreign ROOT [K]
 *   fake-damon-ctl kill ROOT K
 *   fake-damon-ctl busy ROOT N|on|off
 *   fake-damon-ctl slow ROOT MS                state commands (not on/off) return MS ms late
 *   fake-damon-ctl fault ROOT AFTER KIND [N]  arm a fault at the AFTER-th store from now
 *   fake-damon-ctl fault ROOT off              disarm
 *   fake-damon-ctl stores ROOT                 print how many stores the fake has seen
 *   fake-damon-ctl module ROOT NAME Y|N        set module/NAME/parameters/enabled
 *   fake-damon-ctl log ROOT                    print the log
 *   fake-damon-ctl log-count ROOT PREFIX       print how many log lines start with PREFIX
 *   fake-damon-ctl log-clear ROOT
 *   fake-damon-ctl committed ROOT K RELPATH    print what running kdamond K holds
 *   fake-damon-ctl destroy ROOT
 *
 * Exit status: 0 success, 1 the operation failed (errno name on stdout for
 * "store", a message on stderr otherwise), 2 usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-damon.h"

static int usage(void)
{
	fprintf(stderr, "usage: fake-damon-ctl init ROOT PROFILE | store ROOT RELPATH VALUE |\n"
			"       start-foreign ROOT [K] | kill ROOT K | busy ROOT N|on|off | slow ROOT MS |\n"
			"       fault ROOT AFTER ebusy|einval|enomem|vanish|kill|exit [N] | fault ROOT off |\n"
			"       stores ROOT |\n"
			"       module ROOT NAME Y|N | log ROOT | log-count ROOT PREFIX |\n"
			"       log-clear ROOT | committed ROOT K RELPATH | destroy ROOT\n");
	return 2;
}

static int parse_uint(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 1000000)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "fake-damon-ctl: %s: %s (%s)\n", what, strerror(-r),
		fake_damon_errno_name(r));
	return 1;
}

int main(int argc, char **argv)
{
	const char *verb, *root;
	unsigned k = 0;
	int r;

	if (argc < 3)
		return usage();
	verb = argv[1];
	root = argv[2];

	if (strcmp(verb, "init") == 0) {
		if (argc != 4)
			return usage();
		r = fake_damon_init(root, argv[3]);
		return r < 0 ? fail("init", r) : 0;
	}
	if (strcmp(verb, "store") == 0) {
		ssize_t n;

		if (argc != 5)
			return usage();
		n = fake_damon_store(root, argv[3], argv[4], strlen(argv[4]));
		if (n < 0) {
			printf("%s\n", fake_damon_errno_name((int)n));
			return 1;
		}
		return 0;
	}
	if (strcmp(verb, "start-foreign") == 0) {
		if (argc > 4 || (argc == 4 && parse_uint(argv[3], &k) < 0))
			return usage();
		r = fake_damon_start_foreign(root, k);
		return r < 0 ? fail("start-foreign", r) : 0;
	}
	if (strcmp(verb, "kill") == 0) {
		if (argc != 4 || parse_uint(argv[3], &k) < 0)
			return usage();
		r = fake_damon_kill(root, k);
		return r < 0 ? fail("kill", r) : 0;
	}
	if (strcmp(verb, "slow") == 0) {
		if (argc != 4 || parse_uint(argv[3], &k) < 0)
			return usage();
		r = fake_damon_set_slow_cmd(root, k);
		return r < 0 ? fail("slow", r) : 0;
	}
	if (strcmp(verb, "busy") == 0) {
		int n;

		if (argc != 4)
			return usage();
		if (strcmp(argv[3], "on") == 0)
			n = -1;
		else if (strcmp(argv[3], "off") == 0)
			n = 0;
		else if (parse_uint(argv[3], &k) == 0)
			n = (int)k;
		else
			return usage();
		r = fake_damon_set_busy(root, n);
		return r < 0 ? fail("busy", r) : 0;
	}
	if (strcmp(verb, "fault") == 0) {
		unsigned n = 0;

		if (argc == 4 && strcmp(argv[3], "off") == 0) {
			r = fake_damon_set_fault(root, 0, NULL, 0);
			return r < 0 ? fail("fault", r) : 0;
		}
		if ((argc != 5 && argc != 6) || parse_uint(argv[3], &k) < 0 ||
		    (argc == 6 && parse_uint(argv[5], &n) < 0))
			return usage();
		r = fake_damon_set_fault(root, k, argv[4], (int)n);
		return r < 0 ? fail("fault", r) : 0;
	}
	if (strcmp(verb, "stores") == 0) {
		unsigned long long n = 0;

		if (argc != 3)
			return usage();
		r = fake_damon_nr_stores(root, &n);
		if (r < 0)
			return fail("stores", r);
		printf("%llu\n", n);
		return 0;
	}
	if (strcmp(verb, "module") == 0) {
		if (argc != 5 || (strcmp(argv[4], "Y") != 0 && strcmp(argv[4], "N") != 0))
			return usage();
		r = fake_damon_set_module(root, argv[3], argv[4][0] == 'Y');
		return r < 0 ? fail("module", r) : 0;
	}
	if (strcmp(verb, "log") == 0) {
		char path[4096];
		FILE *f;
		int c;

		if (argc != 3)
			return usage();
		snprintf(path, sizeof(path), "%s/.fake-damon/log", root);
		f = fopen(path, "re");
		if (!f)
			return fail("log", -errno);
		while ((c = fgetc(f)) != EOF)
			putchar(c);
		fclose(f);
		return 0;
	}
	if (strcmp(verb, "log-count") == 0) {
		if (argc != 4)
			return usage();
		r = fake_damon_log_count(root, argv[3]);
		if (r < 0)
			return fail("log-count", r);
		printf("%d\n", r);
		return 0;
	}
	if (strcmp(verb, "log-clear") == 0) {
		r = fake_damon_log_clear(root);
		return r < 0 ? fail("log-clear", r) : 0;
	}
	if (strcmp(verb, "committed") == 0) {
		char buf[4096];

		if (argc != 5 || parse_uint(argv[3], &k) < 0)
			return usage();
		r = fake_damon_read_committed(root, k, argv[4], buf, sizeof(buf));
		if (r < 0)
			return fail("committed", r);
		printf("%s\n", buf);
		return 0;
	}
	if (strcmp(verb, "destroy") == 0) {
		r = fake_damon_destroy(root);
		return r < 0 ? fail("destroy", r) : 0;
	}
	return usage();
}
