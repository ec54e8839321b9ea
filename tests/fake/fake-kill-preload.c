/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libfake-kill-preload.so: kill the process at a chosen kernel write, to
 * test what survives a damond killed at any instant.
 *
 *   LD_PRELOAD=libfake-kill-preload.so:libfake-damon-preload.so
 *   FAKE_KILL_AT=N            count writes to files below $FAKE_DAMON_ROOT/kernel/mm/damon/
 *                             and $FAKE_DAMON_ROOT/module/ (1 is the first)
 *   FAKE_KILL_MATCH=STRING    count only those whose path contains STRING
 *   FAKE_KILL_BEFORE=1        SIGKILL before write N reaches the (fake) kernel;
 *                             default: right after it succeeded or failed
 *
 * It must come first in LD_PRELOAD: its write() passes each write on to the
 * next definition (the fake kernel's, then libc's). Built without sanitizers,
 * like the fake kernel's shim. damond only uses write(2) for sysfs files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((__visibility__("default")))

typedef ssize_t (*write_fn)(int, const void *, size_t);

static unsigned long count;
static __thread int depth; /* the fake kernel writes its files with write() too: those are not damond's */

static bool counted(int fd)
{
	const char *root = getenv("FAKE_DAMON_ROOT"), *match = getenv("FAKE_KILL_MATCH"), *rel;
	char link[64], target[PATH_MAX], rroot[PATH_MAX];
	size_t n;
	ssize_t l;

	if (!root || !realpath(root, rroot))
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, target, sizeof(target) - 1);
	if (l <= 0)
		return false;
	target[l] = '\0';
	n = strlen(rroot);
	if (strncmp(target, rroot, n) != 0 || target[n] != '/')
		return false;
	rel = target + n + 1;
	if (strncmp(rel, "kernel/mm/damon/", 16) != 0 && strncmp(rel, "module/", 7) != 0)
		return false;
	return !match || strstr(rel, match);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	static write_fn real;
	const char *at = getenv("FAKE_KILL_AT"), *before = getenv("FAKE_KILL_BEFORE");
	bool kill_now = false;
	ssize_t r;

	if (!real)
		real = (write_fn)dlsym(RTLD_NEXT, "write");
	if (!depth && at && counted(fd) && ++count == strtoul(at, NULL, 10)) {
		if (before && strcmp(before, "1") == 0)
			raise(SIGKILL);
		kill_now = true;
	}
	depth++;
	r = real ? real(fd, buf, len) : syscall(SYS_write, fd, buf, len);
	depth--;
	if (kill_now)
		raise(SIGKILL);
	return r;
}
