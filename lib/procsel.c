/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "procsel.h"

#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h PF_KTHREAD */
#define CGROUP_MAX_DEPTH 8

static const char *const kind_names[_PROCSEL_MAX] = {
	[PROCSEL_PID] = "pid",       [PROCSEL_PIDFILE] = "pidfile", [PROCSEL_COMM] = "comm",
	[PROCSEL_CGROUP] = "cgroup", [PROCSEL_UNIT] = "unit",
};

const char *procsel_kind_to_string(enum procsel_kind k)
{
	return k < _PROCSEL_MAX ? kind_names[k] : NULL;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int procsel_pid_check(const char *procfs_root, int pid)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[PATH_MAX], buf[1024], *p;
	unsigned long flags;
	char state;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "%s/%d/stat", procfs_root, pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : negative_errno();
	if (!fgets(buf, sizeof(buf), f))
		return -EIO;
	/* "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm ends at the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return -EIO;
	if (flags & PF_KTHREAD_FLAG)
		return -EPERM;
	return state == 'Z' || state == 'X' ? -ECHILD : 0;
}

struct pidset {
	int v[PROCSEL_MAX_PIDS];
	size_t n;
	bool truncated;
};

/* keep the PROCSEL_MAX_PIDS lowest pids, each once */
static void pidset_add(struct pidset *s, int pid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return;
	if (s->n == PROCSEL_MAX_PIDS) {
		size_t hi = 0;

		s->truncated = true;
		for (i = 1; i < s->n; i++)
			if (s->v[i] > s->v[hi])
				hi = i;
		if (pid > s->v[hi])
			return;
		s->v[hi] = pid;
		return;
	}
	s->v[s->n++] = pid;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void add_if_live(const char *procfs_root, struct pidset *s, int pid)
{
	if (procsel_pid_check(procfs_root, pid) == 0)
		pidset_add(s, pid);
}

static void by_pidfile(const char *procfs_root, const char *path, struct pidset *s)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	long pid;

	if (f && fscanf(f, " %ld", &pid) == 1 && pid > 0 && pid <= INT_MAX)
		add_if_live(procfs_root, s, (int)pid);
}

/* /proc/PID/exe of a binary replaced since (a package upgrade) reads "PATH (deleted)": still PATH */
static bool exe_is(char *link, const char *arg, const char *real)
{
	static const char deleted[] = " (deleted)";
	size_t l = strlen(link), dl = sizeof(deleted) - 1;

	if (l > dl && streq(link + l - dl, deleted))
		link[l - dl] = 0;
	return streq(link, arg) || (real && streq(link, real));
}

static void by_comm(const char *procfs_root, const char *arg, struct pidset *s)
{
	_cleanup_(closedirp) DIR *d = opendir(procfs_root);
	_cleanup_free_ char *real = NULL;
	bool exe = arg[0] == '/';
	struct dirent *de;

	if (!d)
		return;
	/* a symlink (/usr/bin/python3): the kernel shows the file it points to */
	if (exe)
		real = realpath(arg, NULL);
	while ((de = readdir(d))) {
		char path[PATH_MAX], buf[PATH_MAX], *end;
		long pid;
		ssize_t l;

		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno || *end || end == de->d_name || pid <= 0 || pid > INT_MAX)
			continue;
		if (exe) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%ld/exe", procfs_root, pid) >= sizeof(path))
				continue;
			l = readlink(path, buf, sizeof(buf) - 1);
			if (l <= 0)
				continue;
			buf[l] = 0;
			if (!exe_is(buf, arg, real))
				continue;
		} else {
			_cleanup_fclose_ FILE *f = NULL;

			if ((size_t)snprintf(path, sizeof(path), "%s/%ld/comm", procfs_root, pid) >= sizeof(path))
				continue;
			f = fopen(path, "re");
			if (!f || !fgets(buf, sizeof(buf), f))
				continue;
			buf[strcspn(buf, "\n")] = 0;
			/* the kernel keeps TASK_COMM_LEN - 1 = 15 characters */
			if (strncmp(buf, arg, 15) != 0 || (strlen(arg) < 15 && !streq(buf, arg)))
				continue;
		}
		add_if_live(procfs_root, s, (int)pid);
	}
}

static void by_cgroup_dir(const char *procfs_root, const char *dir, unsigned depth, struct pidset *s)
{
	_cleanup_(closedirp) DIR *d = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	long pid;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return;
	f = fopen(path, "re");
	while (f && fscanf(f, " %ld", &pid) == 1)
		if (pid > 0 && pid <= INT_MAX)
			add_if_live(procfs_root, s, (int)pid);
	if (depth >= CGROUP_MAX_DEPTH)
		return;
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		by_cgroup_dir(procfs_root, path, depth + 1, s);
	}
}

/* the first cgroup directory named name below dir, breadth by depth: system.slice/NAME before deeper ones */
static bool find_unit(const char *dir, const char *name, unsigned depth, unsigned want, char *ret, size_t len)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (depth == want) {
			if (streq(de->d_name, name)) {
				snprintf(ret, len, "%s", path);
				return true;
			}
		} else if (find_unit(path, name, depth + 1, want, ret, len))
			return true;
	}
	return false;
}

int procsel_resolve(const char *procfs_root, const char *cgroup_root, enum procsel_kind kind, const char *arg,
		    int *pids, size_t *ret_n, bool *ret_truncated, char *why, size_t why_len)
{
	struct pidset s = {};
	char path[PATH_MAX];

	if (why && why_len)
		why[0] = 0;
	if (!arg || !*arg || strlen(arg) >= PROCSEL_ARG_MAX) {
		if (why)
			snprintf(why, why_len, "empty or too long selector");
		return -EINVAL;
	}
	switch (kind) {
	case PROCSEL_PIDFILE:
		by_pidfile(procfs_root, arg, &s);
		break;
	case PROCSEL_COMM:
		by_comm(procfs_root, arg, &s);
		break;
	case PROCSEL_CGROUP:
		if (strstr(arg, "..")) {
			if (why)
				snprintf(why, why_len, "a cgroup path must not contain '..'");
			return -EINVAL;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", cgroup_root, arg[0] == '/' ? arg + 1 : arg) >=
		    sizeof(path))
			break;
		by_cgroup_dir(procfs_root, path, 0, &s);
		break;
	case PROCSEL_UNIT:
		if (strchr(arg, '/')) {
			if (why)
				snprintf(why, why_len, "a unit name has no '/' (use cgroup: for a path)");
			return -EINVAL;
		}
		for (unsigned want = 0; want < CGROUP_MAX_DEPTH; want++)
			if (find_unit(cgroup_root, arg, 0, want, path, sizeof(path))) {
				by_cgroup_dir(procfs_root, path, 0, &s);
				break;
			}
		break;
	default:
		if (why)
			snprintf(why, why_len, "not a process selector");
		return -EINVAL;
	}
	qsort(s.v, s.n, sizeof(s.v[0]), cmp_int);
	memcpy(pids, s.v, s.n * sizeof(s.v[0]));
	*ret_n = s.n;
	if (ret_truncated)
		*ret_truncated = s.truncated;
	return 0;
}
