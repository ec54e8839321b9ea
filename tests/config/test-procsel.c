/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Process selectors (lib/procsel.c) on a temporary /proc and cgroup tree:
 * comm (15-character names), exe, pidfile, cgroup (recursive), unit, the
 * bound, and what never matches (zombies, kernel threads, gone pids).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "procsel.h"

static char root[64], procfs[128], cgroot[128];

static void mkdirs(const char *path)
{
	char d[PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	for (char *s = d + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(d, 0755);
		*s = '/';
	}
	mkdir(d, 0755);
}

static void put(const char *path, const char *text)
{
	char d[PATH_MAX];
	FILE *f;

	snprintf(d, sizeof(d), "%s", path);
	*strrchr(d, '/') = 0;
	mkdirs(d);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* a process: stat (state, flags), comm, optionally exe */
static void proc(int pid, const char *comm, char state, bool kthread, const char *exe)
{
	char p[PATH_MAX], text[256];

	snprintf(p, sizeof(p), "%s/%d/stat", procfs, pid);
	snprintf(text, sizeof(text), "%d (%s) %c 1 %d %d 0 -1 %u 0 0 0 0\n", pid, comm, state, pid, pid,
		 kthread ? 0x00208040u : 0x00400100u);
	put(p, text);
	snprintf(p, sizeof(p), "%s/%d/comm", procfs, pid);
	snprintf(text, sizeof(text), "%.15s\n", comm);
	put(p, text);
	if (exe) {
		snprintf(p, sizeof(p), "%s/%d/exe", procfs, pid);
		assert_int_equal(symlink(exe, p), 0);
	}
}

static int setup(void **state _unused_)
{
	char p[PATH_MAX];

	snprintf(root, sizeof(root), "/tmp/damond-procsel-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(procfs, sizeof(procfs), "%s/proc", root);
	snprintf(cgroot, sizeof(cgroot), "%s/cgroup", root);
	proc(100, "nginx", 'S', false, "/usr/sbin/nginx");
	proc(101, "nginx", 'R', false, "/usr/sbin/nginx");
	proc(102, "nginx", 'Z', false, NULL); /* a zombie */
	proc(2, "nginx", 'S', true, NULL);    /* a kernel thread of that name */
	proc(200, "a-very-long-process-name", 'S', false, "/opt/app/bin/long");
	proc(300, "python3", 'S', false, "/usr/bin/python3.11");
	proc(400, "upgraded", 'S', false, "/usr/sbin/upgraded (deleted)"); /* its binary was replaced */
	snprintf(p, sizeof(p), "%s/bin/tool-1.2", root);
	put(p, "");
	snprintf(p, sizeof(p), "%s/bin/tool", root);
	assert_int_equal(symlink("tool-1.2", p), 0);
	snprintf(p, sizeof(p), "%s/bin/tool-1.2", root);
	proc(500, "tool-1.2", 'S', false, p);
	snprintf(p, sizeof(p), "%s/system.slice/nginx.service/cgroup.procs", cgroot);
	put(p, "100\n");
	snprintf(p, sizeof(p), "%s/system.slice/nginx.service/workers/cgroup.procs", cgroot);
	put(p, "101\n102\n999\n"); /* 999: gone */
	snprintf(p, sizeof(p), "%s/user.slice/user-1000.slice/app.service/cgroup.procs", cgroot);
	put(p, "300\n");
	snprintf(p, sizeof(p), "%s/run/nginx.pid", root);
	put(p, "101\n");
	snprintf(p, sizeof(p), "%s/run/stale.pid", root);
	put(p, "999\n");
	return 0;
}

static int teardown(void **state _unused_)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t resolve(enum procsel_kind k, const char *arg, int *pids, bool *trunc)
{
	size_t n = 99;
	char why[128];

	assert_int_equal(procsel_resolve(procfs, cgroot, k, arg, pids, &n, trunc, why, sizeof(why)), 0);
	return n;
}

static void test_comm_exe(void **state _unused_)
{
	int p[PROCSEL_MAX_PIDS];
	char path[PATH_MAX];
	bool t;

	/* the zombie and the kernel thread never match */
	assert_int_equal(resolve(PROCSEL_COMM, "nginx", p, &t), 2);
	assert_int_equal(p[0], 100);
	assert_int_equal(p[1], 101);
	assert_false(t);
	/* the kernel keeps 15 characters: the full name matches the truncated comm */
	assert_int_equal(resolve(PROCSEL_COMM, "a-very-long-process-name", p, &t), 1);
	assert_int_equal(p[0], 200);
	assert_int_equal(resolve(PROCSEL_COMM, "a-very-long-pro", p, &t), 1);
	assert_int_equal(resolve(PROCSEL_COMM, "a-very-long", p, &t), 0);
	/* by executable path */
	assert_int_equal(resolve(PROCSEL_COMM, "/usr/sbin/nginx", p, &t), 2);
	assert_int_equal(resolve(PROCSEL_COMM, "/nonexistent/bin/python3", p, &t), 0);
	assert_int_equal(resolve(PROCSEL_COMM, "/usr/bin/python3.11", p, &t), 1);
	assert_int_equal(p[0], 300);
	/* a binary replaced by an upgrade: /proc/PID/exe reads "PATH (deleted)" */
	assert_int_equal(resolve(PROCSEL_COMM, "/usr/sbin/upgraded", p, &t), 1);
	assert_int_equal(p[0], 400);
	/* a symlink names the file it points to */
	snprintf(path, sizeof(path), "%s/bin/tool", root);
	assert_int_equal(resolve(PROCSEL_COMM, path, p, &t), 1);
	assert_int_equal(p[0], 500);
}

static void test_pidfile_cgroup_unit(void **state _unused_)
{
	int p[PROCSEL_MAX_PIDS];
	char path[PATH_MAX];
	bool t;

	snprintf(path, sizeof(path), "%s/run/nginx.pid", root);
	assert_int_equal(resolve(PROCSEL_PIDFILE, path, p, &t), 1);
	assert_int_equal(p[0], 101);
	snprintf(path, sizeof(path), "%s/run/stale.pid", root);
	assert_int_equal(resolve(PROCSEL_PIDFILE, path, p, &t), 0);
	snprintf(path, sizeof(path), "%s/run/missing.pid", root);
	assert_int_equal(resolve(PROCSEL_PIDFILE, path, p, &t), 0);
	/* a cgroup and the ones below it; gone pids and zombies left out */
	assert_int_equal(resolve(PROCSEL_CGROUP, "/system.slice/nginx.service", p, &t), 2);
	assert_int_equal(p[0], 100);
	assert_int_equal(p[1], 101);
	assert_int_equal(resolve(PROCSEL_CGROUP, "system.slice/nginx.service/workers", p, &t), 1);
	assert_int_equal(resolve(PROCSEL_CGROUP, "/system.slice/none.service", p, &t), 0);
	/* a unit is found wherever its cgroup is */
	assert_int_equal(resolve(PROCSEL_UNIT, "nginx.service", p, &t), 2);
	assert_int_equal(resolve(PROCSEL_UNIT, "app.service", p, &t), 1);
	assert_int_equal(p[0], 300);
	assert_int_equal(resolve(PROCSEL_UNIT, "none.service", p, &t), 0);
}

static void test_bound_and_errors(void **state _unused_)
{
	int p[PROCSEL_MAX_PIDS];
	size_t n;
	bool t;
	char why[128];

	for (int i = 0; i < PROCSEL_MAX_PIDS + 4; i++)
		proc(1000 + i * 7 % 23, "worker", 'S', false, NULL);
	n = resolve(PROCSEL_COMM, "worker", p, &t);
	assert_int_equal(n, PROCSEL_MAX_PIDS);
	assert_true(t);
	for (size_t i = 1; i < n; i++)
		assert_true(p[i - 1] < p[i]);
	assert_int_equal(p[0], 1000); /* the lowest pids are kept */
	assert_int_equal(procsel_resolve(procfs, cgroot, PROCSEL_CGROUP, "/a/../b", p, &n, &t, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(procsel_resolve(procfs, cgroot, PROCSEL_UNIT, "a/b", p, &n, &t, why, sizeof(why)), -EINVAL);
	assert_int_equal(procsel_resolve(procfs, cgroot, PROCSEL_COMM, "", p, &n, &t, why, sizeof(why)), -EINVAL);
	assert_int_equal(procsel_pid_check(procfs, 102), -ECHILD);
	assert_int_equal(procsel_pid_check(procfs, 2), -EPERM);
	assert_int_equal(procsel_pid_check(procfs, 999), -ESRCH);
	assert_int_equal(procsel_pid_check(procfs, 100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comm_exe),
		cmocka_unit_test(test_pidfile_cgroup_unit),
		cmocka_unit_test(test_bound_and_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
