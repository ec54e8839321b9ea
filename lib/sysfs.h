/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one seam between damond and the kernel's files.
 *
 * A struct sysfs_root is a directory fd. Every read and write damond does
 * goes through here, relative to that fd, so that tests point damond at a
 * temporary directory and the string "/sys" appears once (SYSFS_DEFAULT_ROOT).
 *
 * Writes: one write(2) per value, as sysfs wants; the kernel's errno comes
 * back negated (-EBUSY, -EINVAL, ...). A write hook, when set, sees every
 * write first (the in-process fake kernel of tests/sysfs; dry run does not
 * use it).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SYSFS_DEFAULT_ROOT "/sys"
#define PROCFS_DEFAULT_ROOT "/proc"
#define DAMON_ADMIN_DIR "kernel/mm/damon/admin"
#define DAMON_KDAMONDS_DIR DAMON_ADMIN_DIR "/kdamonds"
#define DAMON_KDAMONDS_DIR DAMON_ADMIN_DIR "/kdamonds"

struct sysfs_root;

/*
 * Called before each write with the path relative to the root. Return 0 to
 * let the write proceed, 1 to swallow it (dry run: the write is reported as
 * done), or a negative errno to fail it.
 */
typedef int (*sysfs_write_hook_t)(void *userdata, const char *relpath, const char *value);

int sysfs_root_open(const char *path, struct sysfs_root **ret);
struct sysfs_root *sysfs_root_free(struct sysfs_root *r);
static inline void sysfs_root_freep(struct sysfs_root **r)
{
	if (*r)
		sysfs_root_free(*r);
}

void sysfs_root_set_write_hook(struct sysfs_root *r, sysfs_write_hook_t hook, void *userdata);

bool sysfs_exists(const struct sysfs_root *r, const char *relpath);
bool sysfs_is_dir(const struct sysfs_root *r, const char *relpath);

/* Reads strip one trailing newline. */
int sysfs_read_str(const struct sysfs_root *r, const char *relpath, char **ret);
int sysfs_read_u64(const struct sysfs_root *r, const char *relpath, uint64_t *ret);
int sysfs_read_i64(const struct sysfs_root *r, const char *relpath, int64_t *ret);
int sysfs_read_bool(const struct sysfs_root *r, const char *relpath, bool *ret);

int sysfs_write_str(struct sysfs_root *r, const char *relpath, const char *value);

/* printf-style path helpers: format into buf (PATH_MAX); returns buf. */
char *sysfs_pathf(char *buf, const char *fmt, ...) __attribute__((__format__(printf, 2, 3)));
