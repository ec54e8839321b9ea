/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "sysfs.h"
#include "macro.h"

struct sysfs_root {
	int dirfd;
	sysfs_write_hook_t hook;
	void *hook_userdata;
};

int sysfs_root_open(const char *path, struct sysfs_root **ret)
{
	_cleanup_close_ int fd = -1;
	struct sysfs_root *r;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dirfd = TAKE_FD(fd);
	*ret = r;
	return 0;
}

struct sysfs_root *sysfs_root_free(struct sysfs_root *r)
{
	if (!r)
		return NULL;
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r);
	return NULL;
}

void sysfs_root_set_write_hook(struct sysfs_root *r, sysfs_write_hook_t hook, void *userdata)
{
	r->hook = hook;
	r->hook_userdata = userdata;
}

bool sysfs_exists(const struct sysfs_root *r, const char *relpath)
{
	return faccessat(r->dirfd, relpath, F_OK, 0) == 0;
}

bool sysfs_is_dir(const struct sysfs_root *r, const char *relpath)
{
	struct stat st;

	return fstatat(r->dirfd, relpath, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

int sysfs_read_str(const struct sysfs_root *r, const char *relpath, char **ret)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 4096;

	fd = openat(r->dirfd, relpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap >= (1u << 24))
				return -EFBIG;
			nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int sysfs_read_u64(const struct sysfs_root *r, const char *relpath, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	unsigned long long v;
	char *end;
	int k;

	k = sysfs_read_str(r, relpath, &s);
	if (k < 0)
		return k;
	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sysfs_read_i64(const struct sysfs_root *r, const char *relpath, int64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	long long v;
	char *end;
	int k;

	k = sysfs_read_str(r, relpath, &s);
	if (k < 0)
		return k;
	if (!*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sysfs_read_bool(const struct sysfs_root *r, const char *relpath, bool *ret)
{
	_cleanup_free_ char *s = NULL;
	int k;

	k = sysfs_read_str(r, relpath, &s);
	if (k < 0)
		return k;
	if (streq(s, "Y") || streq(s, "y") || streq(s, "1") || streq(s, "on"))
		*ret = true;
	else if (streq(s, "N") || streq(s, "n") || streq(s, "0") || streq(s, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int sysfs_write_str(struct sysfs_root *r, const char *relpath, const char *value)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	if (r->hook) {
		int k = r->hook(r->hook_userdata, relpath, value);
		if (k < 0)
			return k;
		if (k > 0)
			return 0;
	}

	fd = openat(r->dirfd, relpath, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	/* sysfs takes the whole value in one write. */
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

char *sysfs_pathf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return buf;
}
