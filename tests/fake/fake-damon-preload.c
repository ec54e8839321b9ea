/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libfake-damon-preload.so: run the real, unmodified damond against a fake
 * DAMON root.
 *
 *   FAKE_DAMON_ROOT=$ROOT LD_PRELOAD=.../libfake-damon-preload.so \
 *   ASAN_OPTIONS=verify_asan_link_order=0 damond --sysfs-root=$ROOT ...
 *
 * write(2), pwrite(2) and writev(2) on a regular file below
 * $ROOT/kernel/mm/damon/ or $ROOT/module/ do not reach the file: they go to
 * fake_damon_store(), which answers like the kernel's store handler (its
 * result is the write's result, errno on failure) and updates the tree
 * itself. Everything else goes to the next definition (libc, or ASan's
 * interceptor). Writes made by the fake itself are recognised by a
 * thread-local flag and passed through.
 *
 * Limits: only write/pwrite/writev are caught (stdio's internal writes are
 * not). Reads are plain file reads, but opening kdamonds/<K>/state or pid
 * for reading (openat, as damond reads them) fails with EBUSY while the
 * lock is held and .fake-damon/lock-reads exists (fake_damon_show()).
 *
 * This module is built without sanitizers (ASan must not instrument an
 * interposer that runs before ASan is initialised), and only the
 * interposed functions are exported. When damond is built with ASan, ASan
 * complains that its runtime is not first in the library list; tests must
 * set ASAN_OPTIONS=verify_asan_link_order=0.
 */

/* pwrite and pwrite64 are both defined here: keep them distinct symbols. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* off64_t, RTLD_NEXT */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fake-damon.h"

#define EXPORT __attribute__((__visibility__("default")))

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off64_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);

static __thread int in_fake;

static char fake_root[PATH_MAX];
static size_t fake_root_len;
static int root_state; /* 0: not looked at yet, 1: routing, -1: disabled */

static bool route_enabled(void)
{
	const char *env;
	char buf[PATH_MAX];

	if (root_state != 0)
		return root_state > 0;
	env = getenv("FAKE_DAMON_ROOT");
	if (!env || !*env || !realpath(env, buf) || strlen(buf) <= 1) {
		root_state = -1;
		return false;
	}
	strcpy(fake_root, buf);
	fake_root_len = strlen(fake_root);
	root_state = 1;
	return true;
}

/*
 * If fd is a regular file below the routed part of the fake root, store its
 * path relative to the root in rel and return true. Sets *err to EBADF for an
 * fd not open for writing.
 */
static bool routed(int fd, char *rel, size_t size, int *err)
{
	char link[64], target[PATH_MAX];
	const char *r;
	struct stat st;
	ssize_t n;
	int fl;

	*err = 0;
	if (fd < 0 || !route_enabled())
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	if (strncmp(target, fake_root, fake_root_len) != 0 || target[fake_root_len] != '/')
		return false;
	r = target + fake_root_len + 1;
	if (strncmp(r, "kernel/mm/damon/", 16) != 0 && strncmp(r, "module/", 7) != 0)
		return false;
	if (strlen(r) >= size)
		return false;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_ACCMODE) == O_RDONLY) {
		*err = EBADF;
		return true;
	}
	strcpy(rel, r);
	return true;
}

static ssize_t route(const char *rel, const void *buf, size_t len)
{
	ssize_t r;

	in_fake = 1;
	r = fake_damon_store(fake_root, rel, buf, len);
	in_fake = 0;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static bool streq_tail(const char *s, size_t l, const char *tail)
{
	size_t t = strlen(tail);

	return l >= t && strcmp(s + l - t, tail) == 0;
}

static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	static write_fn real;
	char rel[PATH_MAX];
	int err;

	if (!in_fake && routed(fd, rel, sizeof(rel), &err)) {
		if (err) {
			errno = err;
			return -1;
		}
		return route(rel, buf, len);
	}
	if (!real)
		real = (write_fn)next_sym("write");
	if (!real)
		return syscall(SYS_write, fd, buf, len);
	return real(fd, buf, len);
}

static ssize_t do_pwrite(const char *name, int fd, const void *buf, size_t len, off64_t off)
{
	char rel[PATH_MAX];
	pwrite_fn real;
	int err;

	if (!in_fake && routed(fd, rel, sizeof(rel), &err)) {
		if (err) {
			errno = err;
			return -1;
		}
		return route(rel, buf, len); /* sysfs store handlers ignore the offset */
	}
	real = (pwrite_fn)next_sym(name);
	if (!real)
		return syscall(SYS_pwrite64, fd, buf, len, off);
	return real(fd, buf, len, off);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return do_pwrite("pwrite", fd, buf, len, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	return do_pwrite("pwrite64", fd, buf, len, off);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	static writev_fn real;
	char rel[PATH_MAX];
	int err;

	if (!in_fake && iovcnt >= 0 && routed(fd, rel, sizeof(rel), &err)) {
		size_t total = 0, off = 0;
		char *buf;
		ssize_t r;

		if (err) {
			errno = err;
			return -1;
		}
		for (int i = 0; i < iovcnt; i++)
			total += iov[i].iov_len;
		buf = malloc(total ? total : 1);
		if (!buf) {
			errno = ENOMEM;
			return -1;
		}
		for (int i = 0; i < iovcnt; i++) {
			memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		r = route(rel, buf, total);
		free(buf);
		return r;
	}
	if (!real)
		real = (writev_fn)next_sym("writev");
	if (!real)
		return syscall(SYS_writev, fd, iov, iovcnt);
	return real(fd, iov, iovcnt);
}

/*
 * Reads of kdamonds/<K>/state and pid take the kernel's global lock: an
 * open for reading of such a file asks fake_damon_show(), which answers
 * EBUSY while .fake-damon/lock-reads exists and the lock is held (the kernel
 * fails the read, not the open; damond's reads fail the same way either way).
 */
static bool lock_read(int dirfd, const char *path, int flags, char *rel, size_t size)
{
	char dir[PATH_MAX], full[2 * PATH_MAX];
	size_t l = strlen(path);
	const char *r;
	ssize_t n;

	if (in_fake || (flags & O_ACCMODE) != O_RDONLY || !route_enabled())
		return false;
	if (!(l >= 6 && streq_tail(path, l, "/state")) && !(l >= 4 && streq_tail(path, l, "/pid")))
		return false;
	if (path[0] == '/') {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		if (dirfd == AT_FDCWD) {
			if (!getcwd(dir, sizeof(dir)))
				return false;
		} else {
			char link[64];

			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = readlink(link, dir, sizeof(dir) - 1);
			if (n <= 0)
				return false;
			dir[n] = '\0';
		}
		snprintf(full, sizeof(full), "%s/%s", dir, path);
	}
	if (strncmp(full, fake_root, fake_root_len) != 0 || full[fake_root_len] != '/')
		return false;
	r = full + fake_root_len + 1;
	if (strncmp(r, "kernel/mm/damon/admin/kdamonds/", 31) != 0 || strlen(r) >= size)
		return false;
	strcpy(rel, r);
	return true;
}

typedef int (*openat_fn)(int, const char *, int, ...);

static int do_openat(const char *name, int dirfd, const char *path, int flags, mode_t mode)
{
	char rel[PATH_MAX];
	openat_fn real;
	int r;

	if (path && lock_read(dirfd, path, flags, rel, sizeof(rel))) {
		in_fake = 1;
		r = fake_damon_show(fake_root, rel);
		in_fake = 0;
		if (r < 0) {
			errno = -r;
			return -1;
		}
	}
	real = (openat_fn)next_sym(name);
	if (!real)
		return (int)syscall(SYS_openat, dirfd, path, flags, mode);
	return real(dirfd, path, flags, mode);
}

/* openat's optional mode argument: present only with O_CREAT or O_TMPFILE */
#define OPENAT_MODE(flags, mode)                       \
	do {                                           \
		if ((flags) & (O_CREAT | O_TMPFILE)) { \
			va_list ap;                    \
			va_start(ap, flags);           \
			(mode) = va_arg(ap, mode_t);   \
			va_end(ap);                    \
		}                                      \
	} while (0)

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPENAT_MODE(flags, mode);
	return do_openat("openat", dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	OPENAT_MODE(flags, mode);
	return do_openat("openat64", dirfd, path, flags, mode);
}
