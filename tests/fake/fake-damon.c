/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fake-damon: the kernel's DAMON sysfs store handlers, emulated on a
 * directory tree. See fake-damon.h for the model and
 * shared/docs/kernel-damon.md (sections 1, 2, 8) for the behaviour copied.
 *
 * This file must not depend on lib/: it is also linked into the LD_PRELOAD
 * shim, which is built without sanitizers and must stay self-contained.
 */
#include "fake-damon.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META ".fake-damon"
#define SYSFS_PAGE 4096 /* kernfs refuses longer writes (atomic_write_len) */
#define MAX_CHILDREN 65536

#define streq(a, b) (strcmp((a), (b)) == 0)
#define startswith(s, p) (strncmp((s), (p), strlen(p)) == 0)
#define fake_printf(a, b) __attribute__((__format__(printf, a, b)))

/* ---------------------------------------------------------------------- */
/* Profiles, keywords and the per-directory file tables (doc section 1)   */

enum {
	P612 = 1 << 0,
	P72 = 1 << 1,
	P73 = 1 << 2,
};
#define PALL (P612 | P72 | P73)
#define P7X (P72 | P73)

enum vtype {
	T_INT,   /* kstrtoint */
	T_UINT,  /* kstrtouint */
	T_ULONG, /* kstrtoul */
	T_BOOL,  /* kstrtobool, shown as Y/N */
	T_KW,    /* sysfs_streq against a keyword set */
	T_STR,   /* memcg_path/path: first token, takes the global lock */
	T_RO,    /* mode 0400 */
	T_STATE, /* kdamond command file */
	T_NR,    /* nr_* file: recreates numbered children */
};

enum kind {
	K_ROOT,
	K_KDAMOND,
	K_CONTEXT,
	K_PROBE,
	K_PROBE_FILTER,
	K_TARGET,
	K_REGION,
	K_SCHEME,
	K_GOAL,
	K_FILTER,
	K_CORE_FILTER,
	K_OPS_FILTER,
	K_DEST,
	_K_MAX,
};

enum kwset {
	KW_NONE,
	KW_OPS,
	KW_ACTION,
	KW_METRIC,
	KW_TUNER,
	KW_WMARK,
	KW_FTYPE,
	KW_FTYPE_CORE,
	KW_FTYPE_OPS,
	KW_PROBE_FTYPE,
	_KW_MAX,
};

struct keyword {
	const char *word;
	unsigned profiles;
};

static const struct keyword kw_ops[] = {
	{ "vaddr", PALL }, { "fvaddr", PALL }, { "paddr", PALL }, { NULL, 0 },
};

static const struct keyword kw_action[] = {
	{ "willneed", PALL },	 { "cold", PALL },	  { "pageout", PALL },
	{ "hugepage", PALL },	 { "nohugepage", PALL },  { "collapse", P7X },
	{ "lru_prio", PALL },	 { "lru_deprio", PALL },  { "migrate_hot", PALL },
	{ "migrate_cold", PALL }, { "stat", PALL },	  { NULL, 0 },
};

static const struct keyword kw_metric[] = {
	{ "user_input", PALL },
	{ "some_mem_psi_us", PALL },
	{ "node_mem_used_bp", P7X },
	{ "node_mem_free_bp", P7X },
	{ "node_memcg_used_bp", P7X },
	{ "node_memcg_free_bp", P7X },
	{ "active_mem_bp", P7X },
	{ "inactive_mem_bp", P7X },
	{ "node_eligible_mem_bp", P7X },
	{ NULL, 0 },
};

static const struct keyword kw_tuner[] = {
	{ "consist", P7X }, { "temporal", P7X }, { NULL, 0 },
};

static const struct keyword kw_wmark[] = {
	{ "none", PALL }, { "free_mem_rate", PALL }, { NULL, 0 },
};

static const struct keyword kw_ftype[] = {
	{ "anon", PALL },	    { "active", P7X },	 { "memcg", PALL }, { "young", PALL },
	{ "hugepage_size", P7X }, { "unmapped", P7X }, { "addr", PALL },  { "target", PALL },
	{ NULL, 0 },
};

static const struct keyword kw_ftype_core[] = {
	{ "addr", P7X }, { "target", P7X }, { NULL, 0 },
};

static const struct keyword kw_ftype_ops[] = {
	{ "anon", P7X },	  { "active", P7X },   { "memcg", P7X }, { "young", P7X },
	{ "hugepage_size", P7X }, { "unmapped", P7X }, { NULL, 0 },
};

static const struct keyword kw_probe_ftype[] = {
	{ "anon", P7X }, { "memcg", P7X }, { NULL, 0 },
};

static const struct keyword *const kwsets[_KW_MAX] = {
	[KW_OPS] = kw_ops,
	[KW_ACTION] = kw_action,
	[KW_METRIC] = kw_metric,
	[KW_TUNER] = kw_tuner,
	[KW_WMARK] = kw_wmark,
	[KW_FTYPE] = kw_ftype,
	[KW_FTYPE_CORE] = kw_ftype_core,
	[KW_FTYPE_OPS] = kw_ftype_ops,
	[KW_PROBE_FTYPE] = kw_probe_ftype,
};

struct fdesc {
	const char *name; /* relative to the directory of its kind; may contain '/' */
	enum vtype type;
	unsigned profiles;
	int arg;	  /* T_KW: enum kwset; T_NR: enum kind of the children */
	bool ranged;	  /* numbers: check [min, max] (max < 0: no upper bound) */
	long long min, max;
	const char *def; /* shown value (a newline is appended) */
};

#define E(n, t, p, d) { .name = (n), .type = (t), .profiles = (p), .def = (d) }
#define KW(n, p, set, d) { .name = (n), .type = T_KW, .profiles = (p), .arg = (set), .def = (d) }
#define NR(n, p, child, mx)                                                                        \
	{ .name = (n), .type = T_NR, .profiles = (p), .arg = (child), .ranged = true, .min = 0,    \
	  .max = (mx), .def = "0" }
#define END { .name = NULL }

static const struct fdesc d_root[] = {
	NR("kdamonds/nr_kdamonds", PALL, K_KDAMOND, -1),
	END,
};

static const struct fdesc d_kdamond[] = {
	E("state", T_STATE, PALL, "off"),
	E("pid", T_RO, PALL, "-1"),
	E("refresh_ms", T_UINT, P7X, "0"),
	NR("contexts/nr_contexts", PALL, K_CONTEXT, 1),
	END,
};

static const struct fdesc d_context[] = {
	E("avail_operations", T_RO, PALL, "vaddr\nfvaddr\npaddr"),
	KW("operations", PALL, KW_OPS, "vaddr"),
	{ .name = "addr_unit", .type = T_ULONG, .profiles = P7X, .ranged = true, .min = 1,
	  .max = -1, .def = "1" },
	E("pause", T_BOOL, P7X, "N"),
	E("monitoring_attrs/intervals/sample_us", T_ULONG, PALL, "5000"),
	E("monitoring_attrs/intervals/aggr_us", T_ULONG, PALL, "100000"),
	E("monitoring_attrs/intervals/update_us", T_ULONG, PALL, "60000000"),
	E("monitoring_attrs/intervals/intervals_goal/access_bp", T_ULONG, P7X, "0"),
	E("monitoring_attrs/intervals/intervals_goal/aggrs", T_ULONG, P7X, "0"),
	E("monitoring_attrs/intervals/intervals_goal/min_sample_us", T_ULONG, P7X, "0"),
	E("monitoring_attrs/intervals/intervals_goal/max_sample_us", T_ULONG, P7X, "0"),
	E("monitoring_attrs/nr_regions/min", T_ULONG, PALL, "10"),
	E("monitoring_attrs/nr_regions/max", T_ULONG, PALL, "1000"),
	NR("monitoring_attrs/probes/nr_probes", P7X, K_PROBE, 4),
	NR("targets/nr_targets", PALL, K_TARGET, -1),
	NR("schemes/nr_schemes", PALL, K_SCHEME, -1),
	END,
};

static const struct fdesc d_probe[] = {
	E("weight", T_UINT, P73, "0"),
	NR("filters/nr_filters", P7X, K_PROBE_FILTER, -1),
	END,
};

static const struct fdesc d_probe_filter[] = {
	KW("type", P7X, KW_PROBE_FTYPE, "anon"),
	E("matching", T_BOOL, P7X, "N"),
	E("allow", T_BOOL, P7X, "N"),
	E("path", T_STR, P7X, ""),
	END,
};

static const struct fdesc d_target[] = {
	E("pid_target", T_INT, PALL, "0"),
	E("obsolete_target", T_BOOL, P7X, "N"),
	NR("regions/nr_regions", PALL, K_REGION, -1),
	END,
};

static const struct fdesc d_region[] = {
	E("start", T_ULONG, PALL, "0"),
	E("end", T_ULONG, PALL, "0"),
	END,
};

static const struct fdesc d_scheme[] = {
	KW("action", PALL, KW_ACTION, "stat"),
	E("target_nid", T_INT, PALL, "-1"),
	E("apply_interval_us", T_ULONG, PALL, "0"),
	E("access_pattern/sz/min", T_ULONG, PALL, "0"),
	E("access_pattern/sz/max", T_ULONG, PALL, "0"),
	E("access_pattern/nr_accesses/min", T_ULONG, PALL, "0"),
	E("access_pattern/nr_accesses/max", T_ULONG, PALL, "0"),
	E("access_pattern/age/min", T_ULONG, PALL, "0"),
	E("access_pattern/age/max", T_ULONG, PALL, "0"),
	E("quotas/ms", T_ULONG, PALL, "0"),
	E("quotas/bytes", T_ULONG, PALL, "0"),
	E("quotas/reset_interval_ms", T_ULONG, PALL, "0"),
	E("quotas/effective_bytes", T_RO, PALL, "0"),
	KW("quotas/goal_tuner", P7X, KW_TUNER, "consist"),
	E("quotas/fail_charge_num", T_UINT, P7X, "0"),
	E("quotas/fail_charge_denom", T_UINT, P7X, "0"),
	E("quotas/weights/sz_permil", T_UINT, PALL, "0"),
	E("quotas/weights/nr_accesses_permil", T_UINT, PALL, "0"),
	E("quotas/weights/age_permil", T_UINT, PALL, "0"),
	NR("quotas/goals/nr_goals", PALL, K_GOAL, -1),
	KW("watermarks/metric", PALL, KW_WMARK, "none"),
	E("watermarks/interval_us", T_ULONG, PALL, "0"),
	E("watermarks/high", T_ULONG, PALL, "0"),
	E("watermarks/mid", T_ULONG, PALL, "0"),
	E("watermarks/low", T_ULONG, PALL, "0"),
	NR("core_filters/nr_filters", P7X, K_CORE_FILTER, -1),
	NR("ops_filters/nr_filters", P7X, K_OPS_FILTER, -1),
	NR("filters/nr_filters", PALL, K_FILTER, -1),
	NR("dests/nr_dests", P7X, K_DEST, -1),
	E("stats/nr_tried", T_RO, PALL, "0"),
	E("stats/sz_tried", T_RO, PALL, "0"),
	E("stats/nr_applied", T_RO, PALL, "0"),
	E("stats/sz_applied", T_RO, PALL, "0"),
	E("stats/qt_exceeds", T_RO, PALL, "0"),
	E("stats/sz_ops_filter_passed", T_RO, P7X, "0"),
	E("stats/nr_snapshots", T_RO, P7X, "0"),
	E("stats/max_nr_snapshots", T_ULONG, P7X, "0"),
	E("tried_regions/total_bytes", T_RO, PALL, "0"),
	END,
};

static const struct fdesc d_goal[] = {
	KW("target_metric", PALL, KW_METRIC, "user_input"),
	E("target_value", T_ULONG, PALL, "0"),
	E("current_value", T_ULONG, PALL, "0"),
	E("nid", T_INT, P7X, "0"),
	E("path", T_STR, P7X, ""),
	END,
};

#define FILTER_TABLE(var, set)                                                                     \
	static const struct fdesc var[] = {                                                        \
		KW("type", PALL, set, "anon"),                                                     \
		E("matching", T_BOOL, PALL, "N"),                                                  \
		E("allow", T_BOOL, P7X, "N"),                                                      \
		E("memcg_path", T_STR, PALL, ""),                                                  \
		E("addr_start", T_ULONG, PALL, "0"),                                               \
		E("addr_end", T_ULONG, PALL, "0"),                                                 \
		E("min", T_ULONG, P7X, "0"),                                                       \
		E("max", T_ULONG, P7X, "0"),                                                       \
		E("damon_target_idx", T_INT, PALL, "0"),                                           \
		END,                                                                               \
	}

FILTER_TABLE(d_filter, KW_FTYPE);
FILTER_TABLE(d_core_filter, KW_FTYPE_CORE);
FILTER_TABLE(d_ops_filter, KW_FTYPE_OPS);

static const struct fdesc d_dest[] = {
	E("id", T_UINT, P7X, "0"),
	E("weight", T_UINT, P7X, "0"),
	END,
};

static const struct fdesc *const kinds[_K_MAX] = {
	[K_ROOT] = d_root,
	[K_KDAMOND] = d_kdamond,
	[K_CONTEXT] = d_context,
	[K_PROBE] = d_probe,
	[K_PROBE_FILTER] = d_probe_filter,
	[K_TARGET] = d_target,
	[K_REGION] = d_region,
	[K_SCHEME] = d_scheme,
	[K_GOAL] = d_goal,
	[K_FILTER] = d_filter,
	[K_CORE_FILTER] = d_core_filter,
	[K_OPS_FILTER] = d_ops_filter,
	[K_DEST] = d_dest,
};

/* Anything under a scheme's tried_regions/ is read-only. */
static const struct fdesc ro_desc = { .name = "", .type = T_RO, .profiles = PALL };

static const char *const exclusive_modules[] = { "damon_stat", "damon_reclaim", "damon_lru_sort" };

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

struct fake {
	char root[PATH_MAX];
	unsigned prof;
	int lockfd;
};

const char *fake_damon_errno_name(int err)
{
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{ EPERM, "EPERM" },   { ENOENT, "ENOENT" },   { ESRCH, "ESRCH" },
		{ EIO, "EIO" },	      { E2BIG, "E2BIG" },     { EBADF, "EBADF" },
		{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },   { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" },   { ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" },	      { ENODEV, "ENODEV" },
		{ ECANCELED, "ECANCELED" },		      { ENOSYS, "ENOSYS" },
	};

	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == err)
			return names[i].n;
	return "E?";
}

static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static fake_printf(2, 0) int vpathf(char *buf, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);

	if (n < 0)
		return -EINVAL;
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static fake_printf(2, 3) int pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(buf, fmt, ap);
	va_end(ap);
	return r;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return neg_errno();
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Replace the content of path (creating it with mode). Read-only (0400)
 * files are updated in place through a temporary chmod, so that an fd the
 * reader keeps open sees the new content and non-root tests work.
 */
static int write_file_len(const char *path, const char *content, size_t len, mode_t mode)
{
	struct stat st;
	bool restore = false;
	int fd, r;

	/*
	 * No O_TRUNC: ext4's replace-via-truncate heuristic (auto_da_alloc)
	 * would flush every small update on close. Write, then cut to size.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0 && errno == EACCES && stat(path, &st) == 0) {
		if (chmod(path, (st.st_mode & 07777) | S_IWUSR) < 0)
			return neg_errno();
		restore = true;
		fd = open(path, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		r = neg_errno();
		if (restore)
			(void)chmod(path, st.st_mode & 07777);
		return r;
	}
	r = write_all(fd, content, len);
	if (r == 0 && ftruncate(fd, (off_t)len) < 0)
		r = neg_errno();
	if (restore)
		(void)fchmod(fd, st.st_mode & 07777);
	close(fd);
	return r;
}

static int write_file(const char *path, const char *content)
{
	return write_file_len(path, content, strlen(content), 0600);
}

static fake_printf(2, 3) int writef(const char *content, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	return write_file(path, content);
}

/* Read a small file; one trailing newline stripped. */
static int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	size_t got = 0;
	int fd;

	if (size == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	while (got < size - 1) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = neg_errno();
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (got > 0 && buf[got - 1] == '\n')
		buf[got - 1] = '\0';
	return 0;
}

static fake_printf(3, 4) int readf(char *buf, size_t size, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	return read_file(path, buf, size);
}

/* Numbers as the kernel parses them (lib/kstrtox.c): base 0, one trailing newline. */
static int parse_ull_noplus(const char *s, unsigned long long *ret)
{
	unsigned long long v = 0;
	unsigned base = 10;
	bool any = false;

	if (s[0] == '0') {
		if (tolower((unsigned char)s[1]) == 'x' && isxdigit((unsigned char)s[2])) {
			base = 16;
			s += 2;
		} else {
			base = 8;
		}
	}
	for (;; s++) {
		int c = tolower((unsigned char)*s);
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			break;
		if (d >= base)
			break;
		if (v > (ULLONG_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
		any = true;
	}
	if (!any)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int kstrtoull(const char *s, unsigned long long *ret)
{
	if (s[0] == '+')
		s++;
	return parse_ull_noplus(s, ret);
}

static int kstrtoll(const char *s, long long *ret)
{
	unsigned long long t;
	int r;

	if (s[0] == '-') {
		r = parse_ull_noplus(s + 1, &t);
		if (r < 0)
			return r;
		if (t > (unsigned long long)LLONG_MAX + 1)
			return -ERANGE;
		*ret = t == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)t;
		return 0;
	}
	r = kstrtoull(s, &t);
	if (r < 0)
		return r;
	if (t > (unsigned long long)LLONG_MAX)
		return -ERANGE;
	*ret = (long long)t;
	return 0;
}

static int kstrtobool(const char *s, bool *ret)
{
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*ret = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*ret = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*ret = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*ret = false;
			return 0;
		}
		break;
	default:
		break;
	}
	return -EINVAL;
}

/* sysfs_streq(): equal up to one trailing newline on either side. */
static bool sysfs_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	if (*a == *b)
		return true;
	if (!*a && *b == '\n' && !b[1])
		return true;
	if (*a == '\n' && !a[1] && !*b)
		return true;
	return false;
}

static fake_printf(2, 3) int readf_ull(unsigned long long *ret, const char *fmt, ...)
{
	char path[PATH_MAX], buf[64];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return kstrtoull(buf, ret);
}

static fake_printf(2, 3) int readf_ll(long long *ret, const char *fmt, ...)
{
	char path[PATH_MAX], buf[64];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return kstrtoll(buf, ret);
}

/* A number from a file, 0 when missing or garbled (the fake's own files are sane). */
#define ULL(...)                                                                                   \
	({                                                                                         \
		unsigned long long _v = 0;                                                         \
		if (readf_ull(&_v, __VA_ARGS__) < 0)                                         \
			_v = 0;                                                                    \
		_v;                                                                                \
	})

static fake_printf(1, 2) bool existsf(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	return r == 0 && access(path, F_OK) == 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return neg_errno();
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return neg_errno();
	return 0;
}

static int mkdir_parent(const char *path)
{
	char buf[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = '\0';
	if (mkdir(buf, 0755) == 0 || errno == EEXIST)
		return 0;
	return mkdir_p(buf);
}

static int rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : neg_errno();
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? neg_errno() : 0;
	d = opendir(path);
	if (!d)
		return neg_errno();
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		int q;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (pathf(sub, "%s/%s", path, de->d_name) < 0) {
			r = -ENAMETOOLONG;
			continue;
		}
		q = rm_rf(sub);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (rmdir(path) < 0 && r == 0)
		r = neg_errno();
	return r;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Remove the numbered entries of dir (the children an nr_* file owns). */
static int rm_numbered(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : neg_errno();
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		int q;

		if (!all_digits(de->d_name))
			continue;
		if (pathf(sub, "%s/%s", dir, de->d_name) < 0) {
			closedir(d);
			return -ENAMETOOLONG;
		}
		q = rm_rf(sub);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	return r;
}

/* Copy a tree of small files, skipping entries named skip. */
static int copy_tree(const char *src, const char *dst, const char *skip)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		return neg_errno();
	d = opendir(src);
	if (!d)
		return neg_errno();
	while ((de = readdir(d)) && r == 0) {
		char s[PATH_MAX], t[PATH_MAX], buf[SYSFS_PAGE + 1];
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (skip && streq(de->d_name, skip))
			continue;
		if (pathf(s, "%s/%s", src, de->d_name) < 0 || pathf(t, "%s/%s", dst, de->d_name) < 0) {
			r = -ENAMETOOLONG;
			break;
		}
		if (lstat(s, &st) < 0) {
			r = neg_errno();
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = copy_tree(s, t, skip);
		} else if (S_ISREG(st.st_mode)) {
			int fd = open(s, O_RDONLY | O_CLOEXEC);
			ssize_t n;

			if (fd < 0) {
				r = neg_errno();
				break;
			}
			n = read(fd, buf, sizeof(buf));
			close(fd);
			if (n < 0) {
				r = neg_errno();
				break;
			}
			r = write_file_len(t, buf, (size_t)n, st.st_mode & 0777);
		}
	}
	closedir(d);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Bookkeeping: profile, lock, log, busy, pids                            */

static int parse_profile(const char *s)
{
	if (sysfs_streq("6.12", s))
		return P612;
	if (sysfs_streq("7.2", s))
		return P72;
	if (sysfs_streq("7.3", s))
		return P73;
	return -EINVAL;
}

static void fake_close(struct fake *f)
{
	if (f->lockfd >= 0) {
		(void)flock(f->lockfd, LOCK_UN);
		close(f->lockfd);
		f->lockfd = -1;
	}
}

static int fake_open(struct fake *f, const char *root)
{
	char buf[32], path[PATH_MAX];
	int r;

	f->lockfd = -1;
	if (!root || !*root)
		return -EINVAL;
	if (strlen(root) >= sizeof(f->root))
		return -ENAMETOOLONG;
	strcpy(f->root, root);
	/* Strip trailing slashes (but keep "/"). */
	for (size_t n = strlen(f->root); n > 1 && f->root[n - 1] == '/'; n--)
		f->root[n - 1] = '\0';

	r = readf(buf, sizeof(buf), "%s/" META "/profile", f->root);
	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	r = parse_profile(buf);
	if (r < 0)
		return r;
	f->prof = (unsigned)r;

	r = pathf(path, "%s/" META "/lock", f->root);
	if (r < 0)
		return r;
	f->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->lockfd < 0)
		return neg_errno();
	while (flock(f->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = neg_errno();
			fake_close(f);
			return r;
		}
	}
	return 0;
}

static fake_printf(2, 3) void logf_(struct fake *f, const char *fmt, ...)
{
	char path[PATH_MAX], line[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';
	if (pathf(path, "%s/" META "/log", f->root) < 0)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)write_all(fd, line, (size_t)n);
	close(fd);
}

/* Try to take the kernel's global damon_sysfs_lock: -EBUSY if "someone else" holds it. */
static int take_sysfs_lock(struct fake *f)
{
	char buf[64];
	long long n;
	int r;

	r = readf(buf, sizeof(buf), "%s/" META "/busy", f->root);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (kstrtoll(buf, &n) < 0)
		return -EBUSY; /* "on", empty, anything else: held for good */
	if (n <= 0)
		return 0;
	snprintf(buf, sizeof(buf), "%lld\n", n - 1);
	(void)writef(buf, "%s/" META "/busy", f->root);
	return -EBUSY;
}

static int next_pid(struct fake *f)
{
	unsigned long long pid = FAKE_DAMON_FIRST_PID;
	char buf[32];

	if (readf_ull(&pid, "%s/" META "/next_pid", f->root) < 0 || pid == 0 ||
	    pid > INT_MAX - 1)
		pid = FAKE_DAMON_FIRST_PID;
	snprintf(buf, sizeof(buf), "%llu\n", pid + 1);
	(void)writef(buf, "%s/" META "/next_pid", f->root);
	return (int)pid;
}

/* ---------------------------------------------------------------------- */
/* The tree                                                                */

static int create_kind(struct fake *f, enum kind kind, const char *dir)
{
	for (const struct fdesc *e = kinds[kind]; e->name; e++) {
		char path[PATH_MAX], content[256];
		int r;

		if (!(e->profiles & f->prof))
			continue;
		r = pathf(path, "%s/%s", dir, e->name);
		if (r < 0)
			return r;
		r = mkdir_parent(path);
		if (r < 0)
			return r;
		snprintf(content, sizeof(content), "%s\n", e->def);
		r = write_file_len(path, content, strlen(content), e->type == T_RO ? 0400 : 0600);
		if (r < 0)
			return r;
	}
	return 0;
}

static int recreate_children(struct fake *f, const char *dir, enum kind child, long long n)
{
	int r;

	r = rm_numbered(dir);
	if (r < 0)
		return r;
	for (long long i = 0; i < n; i++) {
		char sub[PATH_MAX];

		r = pathf(sub, "%s/%lld", dir, i);
		if (r < 0)
			return r;
		if (mkdir(sub, 0755) < 0 && errno != EEXIST)
			return neg_errno();
		r = create_kind(f, child, sub);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Which file is rest (relative to a directory of this kind)? */
static const struct fdesc *resolve(unsigned prof, enum kind kind, const char *rest)
{
	for (const struct fdesc *e = kinds[kind]; e->name; e++) {
		if (!(e->profiles & prof))
			continue;
		if (streq(e->name, rest))
			return e;
		if (e->type == T_NR) {
			size_t dl = (size_t)(strrchr(e->name, '/') - e->name);
			const char *p;

			if (strncmp(rest, e->name, dl) != 0 || rest[dl] != '/' ||
			    !isdigit((unsigned char)rest[dl + 1]))
				continue;
			p = rest + dl + 1;
			while (isdigit((unsigned char)*p))
				p++;
			if (*p == '/')
				return resolve(prof, (enum kind)e->arg, p + 1);
		}
	}
	if (kind == K_SCHEME && startswith(rest, "tried_regions/"))
		return &ro_desc;
	return NULL;
}

static bool kdamond_running(struct fake *f, unsigned k)
{
	char buf[16];

	return readf(buf, sizeof(buf), "%s/" FAKE_DAMON_KDAMONDS "/%u/state", f->root, k) == 0 &&
	       streq(buf, "on");
}

static bool any_kdamond_running(struct fake *f)
{
	char dir[PATH_MAX];
	struct dirent *de;
	bool running = false;
	DIR *d;

	if (pathf(dir, "%s/" FAKE_DAMON_KDAMONDS, f->root) < 0)
		return false;
	d = opendir(dir);
	if (!d)
		return false;
	while (!running && (de = readdir(d)))
		if (all_digits(de->d_name))
			running = kdamond_running(f, (unsigned)strtoul(de->d_name, NULL, 10));
	closedir(d);
	return running;
}

static bool exclusive_module_running(struct fake *f)
{
	for (size_t i = 0; i < sizeof(exclusive_modules) / sizeof(exclusive_modules[0]); i++) {
		char buf[8];

		if (readf(buf, sizeof(buf), "%s/module/%s/parameters/enabled", f->root,
			  exclusive_modules[i]) == 0 &&
		    streq(buf, "Y"))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* Validation of the staged context (what damon_sysfs_build_ctx refuses)  */

enum vmode { V_ON, V_COMMIT };

static bool str_empty_file(const char *dir, const char *name)
{
	char buf[SYSFS_PAGE];

	return readf(buf, sizeof(buf), "%s/%s", dir, name) < 0 || buf[0] == '\0';
}

static int validate_filters(struct fake *f, const char *sdir, const char *sub)
{
	unsigned long long n = ULL("%s/%s/nr_filters", sdir, sub);

	for (unsigned long long i = 0; i < n; i++) {
		char fdir[PATH_MAX], type[32];

		if (pathf(fdir, "%s/%s/%llu", sdir, sub, i) < 0)
			return -ENAMETOOLONG;
		if (readf(type, sizeof(type), "%s/type", fdir) < 0)
			continue;
		/* damon_sysfs_add_schemes() reports every construction failure as ENOMEM. */
		if (streq(type, "addr") &&
		    ULL("%s/addr_end", fdir) < ULL("%s/addr_start", fdir))
			return -ENOMEM;
		if (streq(type, "hugepage_size") && ULL("%s/min", fdir) > ULL("%s/max", fdir))
			return -ENOMEM;
		if (streq(type, "memcg") && str_empty_file(fdir, "memcg_path"))
			return -ENOMEM;
	}
	(void)f;
	return 0;
}

/* 6.19+: a commit destroys the running targets whose obsolete_target is Y (logged for the tests) */
static void log_obsolete(struct fake *f, unsigned k)
{
	char cdir[PATH_MAX], v[8];
	unsigned long long nt;

	if (!(f->prof & P7X) || pathf(cdir, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0", f->root, k) < 0)
		return;
	nt = ULL("%s/targets/nr_targets", cdir);
	for (unsigned long long t = 0; t < nt; t++)
		if (readf(v, sizeof(v), "%s/targets/%llu/obsolete_target", cdir, t) >= 0 && v[0] == 'Y')
			logf_(f, "kdamond %u commit drops target %llu", k, t);
}

/*
 * find_get_pid(): does a process have pid? The fake machine's processes are
 * the directories of $FAKE_DAMON_PROCFS (the procfs root the test hands
 * damond), and the writer itself (damond, which names its own pid as the
 * stand-in of a target it drops with obsolete_target); without it every
 * pid > 0 is taken to exist. A zombie still has its pid (its directory
 * stays), as in the kernel.
 */
static bool pid_exists(long long pid)
{
	const char *procfs = getenv("FAKE_DAMON_PROCFS");
	char path[PATH_MAX];
	struct stat st;

	if (!procfs || !*procfs || pid == (long long)getpid())
		return true;
	if (pathf(path, "%s/%lld", procfs, pid) < 0)
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int validate_ctx(struct fake *f, unsigned k, enum vmode mode)
{
	char cdir[PATH_MAX], ops[32];
	unsigned long long sample, aggr, minr, maxr, nt, ns;
	bool paddr;
	int r;

	r = pathf(cdir, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0", f->root, k);
	if (r < 0)
		return r;
	if (readf(ops, sizeof(ops), "%s/operations", cdir) < 0)
		return -EINVAL;
	paddr = streq(ops, "paddr");

	/* damon_set_attrs() */
	sample = ULL("%s/monitoring_attrs/intervals/sample_us", cdir);
	aggr = ULL("%s/monitoring_attrs/intervals/aggr_us", cdir);
	minr = ULL("%s/monitoring_attrs/nr_regions/min", cdir);
	maxr = ULL("%s/monitoring_attrs/nr_regions/max", cdir);
	if (minr < 3 || minr > maxr || sample > aggr)
		return -EINVAL;
	if (f->prof & P7X) {
		unsigned long long aggrs, mins, maxs, unit, mrs;

		aggrs = ULL("%s/monitoring_attrs/intervals/intervals_goal/aggrs", cdir);
		mins = ULL("%s/monitoring_attrs/intervals/intervals_goal/min_sample_us", cdir);
		maxs = ULL("%s/monitoring_attrs/intervals/intervals_goal/max_sample_us", cdir);
		if (aggrs && (mins > maxs || sample < mins || sample > maxs))
			return -EINVAL;

		unit = ULL("%s/addr_unit", cdir);
		if (paddr && unit) {
			mrs = 4096 / unit;
			if (mrs == 0)
				mrs = 1;
			if (mrs & (mrs - 1))
				return -EINVAL;
		}
	}
	if (f->prof & P73) {
		unsigned long long np = ULL("%s/monitoring_attrs/probes/nr_probes", cdir);
		bool weighted = false;

		for (unsigned long long p = 0; p < np; p++)
			if (ULL("%s/monitoring_attrs/probes/%llu/weight", cdir, p))
				weighted = true;
		if (weighted && sample && aggr / sample > 255)
			return -EINVAL;
	}

	/* targets and their regions */
	nt = ULL("%s/targets/nr_targets", cdir);
	if (paddr && nt > 1)
		return -EINVAL;
	for (unsigned long long t = 0; t < nt; t++) {
		unsigned long long nrg, prev_end = 0;

		if (!paddr) {
			long long pid = 0;

			if (readf_ll(&pid, "%s/targets/%llu/pid_target", cdir, t) < 0 || pid <= 0 || !pid_exists(pid))
				return -EINVAL; /* find_get_pid() fails */
		}
		nrg = ULL("%s/targets/%llu/regions/nr_regions", cdir, t);
		for (unsigned long long g = 0; g < nrg; g++) {
			unsigned long long s = ULL("%s/targets/%llu/regions/%llu/start", cdir, t, g);
			unsigned long long e = ULL("%s/targets/%llu/regions/%llu/end", cdir, t, g);

			if (s > e || (g > 0 && prev_end > s))
				return -EINVAL;
			prev_end = e;
		}
	}

	/* schemes */
	ns = ULL("%s/schemes/nr_schemes", cdir);
	for (unsigned long long s = 0; s < ns; s++) {
		char sdir[PATH_MAX];
		unsigned long long ng;

		if (pathf(sdir, "%s/schemes/%llu", cdir, s) < 0)
			return -ENAMETOOLONG;
		ng = ULL("%s/quotas/goals/nr_goals", sdir);
		for (unsigned long long g = 0; g < ng; g++) {
			char metric[64], gdir[PATH_MAX];

			if (pathf(gdir, "%s/quotas/goals/%llu", sdir, g) < 0)
				return -ENAMETOOLONG;
			if (readf(metric, sizeof(metric), "%s/target_metric", gdir) < 0)
				continue;
			if (streq(metric, "node_eligible_mem_bp") && !paddr &&
			    ((f->prof & P73) || ((f->prof & P72) && mode == V_COMMIT)))
				return -EINVAL;
			if (startswith(metric, "node_memcg_") && str_empty_file(gdir, "path"))
				return -ENOMEM;
		}
		r = validate_filters(f, sdir, "filters");
		if (r == 0 && (f->prof & P7X))
			r = validate_filters(f, sdir, "core_filters");
		if (r == 0 && (f->prof & P7X))
			r = validate_filters(f, sdir, "ops_filters");
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The "kernel side" of a kdamond                                          */

struct kstat {
	unsigned long long nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds;
	unsigned long long sz_ops_filter_passed, nr_snapshots;
};

static int kstat_load(struct fake *f, unsigned k, unsigned long long s, struct kstat *st)
{
	char buf[512];

	memset(st, 0, sizeof(*st));
	if (readf(buf, sizeof(buf), "%s/" META "/kdamond%u/kstats/%llu", f->root, k, s) < 0)
		return 0;
	if (sscanf(buf, "%llu %llu %llu %llu %llu %llu %llu", &st->nr_tried, &st->sz_tried,
		   &st->nr_applied, &st->sz_applied, &st->qt_exceeds, &st->sz_ops_filter_passed,
		   &st->nr_snapshots) != 7)
		memset(st, 0, sizeof(*st));
	return 0;
}

static int kstat_save(struct fake *f, unsigned k, unsigned long long s, const struct kstat *st)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%llu %llu %llu %llu %llu %llu %llu\n", st->nr_tried,
		 st->sz_tried, st->nr_applied, st->sz_applied, st->qt_exceeds,
		 st->sz_ops_filter_passed, st->nr_snapshots);
	return writef(buf, "%s/" META "/kdamond%u/kstats/%llu", f->root, k, s);
}

static unsigned long long committed_nr(struct fake *f, unsigned k, const char *nrfile)
{
	return ULL("%s/" META "/kdamond%u/committed/%s", f->root, k, nrfile);
}

/*
 * Copy the staged context into committed/ (what the kdamond now runs with).
 * On a commit (fresh == false): targets whose staged nr_regions is 0 keep
 * their running regions, and scheme counters stay by position (extra running
 * schemes are dropped, new ones start at zero).
 */
static int snapshot_ctx(struct fake *f, unsigned k, bool fresh)
{
	char kst[PATH_MAX], cur[PATH_MAX], old[PATH_MAX], staged[PATH_MAX], ks[PATH_MAX];
	bool have_old = false;
	unsigned long long nt, ns;
	int r;

	if (pathf(kst, "%s/" META "/kdamond%u", f->root, k) < 0 ||
	    pathf(cur, "%s/committed", kst) < 0 || pathf(old, "%s/committed.old", kst) < 0 ||
	    pathf(ks, "%s/kstats", kst) < 0 ||
	    pathf(staged, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0", f->root, k) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(kst);
	if (r < 0)
		return r;
	(void)rm_rf(old);
	if (!fresh && access(cur, F_OK) == 0) {
		if (rename(cur, old) < 0)
			return neg_errno();
		have_old = true;
	} else {
		(void)rm_rf(cur);
	}
	r = copy_tree(staged, cur, "tried_regions");
	if (r < 0)
		return r;

	if (have_old) {
		nt = committed_nr(f, k, "targets/nr_targets");
		for (unsigned long long t = 0; t < nt; t++) {
			char a[PATH_MAX], b[PATH_MAX];

			if (ULL("%s/targets/%llu/regions/nr_regions", cur, t) != 0)
				continue;
			if (pathf(a, "%s/targets/%llu/regions", old, t) < 0 ||
			    pathf(b, "%s/targets/%llu/regions", cur, t) < 0)
				return -ENAMETOOLONG;
			if (access(a, F_OK) < 0)
				continue;
			(void)rm_rf(b);
			if (rename(a, b) < 0)
				return neg_errno();
		}
		(void)rm_rf(old);
	}

	if (fresh)
		(void)rm_rf(ks);
	r = mkdir_p(ks);
	if (r < 0)
		return r;
	ns = committed_nr(f, k, "schemes/nr_schemes");
	{
		DIR *d = opendir(ks);
		struct dirent *de;

		if (d) {
			while ((de = readdir(d))) {
				char p[PATH_MAX];

				if (!all_digits(de->d_name) ||
				    strtoull(de->d_name, NULL, 10) < ns)
					continue;
				if (pathf(p, "%s/%s", ks, de->d_name) == 0)
					(void)unlink(p);
			}
			closedir(d);
		}
	}
	return 0;
}

static int stop_kdamond(struct fake *f, unsigned k)
{
	int r;

	r = writef("off\n", "%s/" FAKE_DAMON_KDAMONDS "/%u/state", f->root, k);
	if (r < 0)
		return r;
	return writef("-1\n", "%s/" FAKE_DAMON_KDAMONDS "/%u/pid", f->root, k);
}

static bool staged_scheme_exists(struct fake *f, unsigned k, unsigned long long s)
{
	return existsf("%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/stats", f->root, k,
		       s);
}

static fake_printf(2, 3) int write_num(unsigned long long v, const char *fmt, ...)
{
	char path[PATH_MAX], buf[32];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpathf(path, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	snprintf(buf, sizeof(buf), "%llu\n", v);
	return write_file(path, buf);
}

static int cmd_update_stats(struct fake *f, unsigned k)
{
	unsigned long long ns = committed_nr(f, k, "schemes/nr_schemes");
	bool paused = false;
	char buf[16];

	if ((f->prof & P7X) &&
	    readf(buf, sizeof(buf), "%s/" META "/kdamond%u/committed/pause", f->root, k) == 0)
		paused = buf[0] == 'Y';

	for (unsigned long long s = 0; s < ns; s++) {
		char cs[PATH_MAX], sd[PATH_MAX], action[32] = "";
		unsigned long long maxsnap = 0;
		struct kstat st;
		int r;

		if (pathf(cs, "%s/" META "/kdamond%u/committed/schemes/%llu", f->root, k, s) < 0)
			return -ENAMETOOLONG;
		kstat_load(f, k, s, &st);
		(void)readf(action, sizeof(action), "%s/action", cs);
		if (f->prof & P7X)
			maxsnap = ULL("%s/stats/max_nr_snapshots", cs);
		if (!paused && !(maxsnap && st.nr_snapshots >= maxsnap)) {
			st.nr_tried += FAKE_DAMON_STEP_NR_TRIED;
			st.sz_tried += FAKE_DAMON_STEP_SZ_TRIED;
			if (!streq(action, "stat")) {
				st.nr_applied += FAKE_DAMON_STEP_NR_APPLIED;
				st.sz_applied += FAKE_DAMON_STEP_SZ_APPLIED;
			}
			if (ULL("%s/quotas/bytes", cs) || ULL("%s/quotas/ms", cs))
				st.qt_exceeds += 1;
			if (f->prof & P7X) {
				if (ULL("%s/ops_filters/nr_filters", cs))
					st.sz_ops_filter_passed +=
						FAKE_DAMON_STEP_SZ_OPS_FILTER_PASSED;
				st.nr_snapshots += 1;
			}
		}
		r = kstat_save(f, k, s, &st);
		if (r < 0)
			return r;
		if (!staged_scheme_exists(f, k, s))
			continue;
		if (pathf(sd, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/stats", f->root,
			  k, s) < 0)
			return -ENAMETOOLONG;
		write_num(st.nr_tried, "%s/nr_tried", sd);
		write_num(st.sz_tried, "%s/sz_tried", sd);
		write_num(st.nr_applied, "%s/nr_applied", sd);
		write_num(st.sz_applied, "%s/sz_applied", sd);
		write_num(st.qt_exceeds, "%s/qt_exceeds", sd);
		if (f->prof & P7X) {
			write_num(st.sz_ops_filter_passed, "%s/sz_ops_filter_passed", sd);
			write_num(st.nr_snapshots, "%s/nr_snapshots", sd);
		}
	}
	return 0;
}

static int cmd_update_effective_quotas(struct fake *f, unsigned k, bool from_staged)
{
	unsigned long long ns;

	ns = from_staged ? ULL("%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/nr_schemes",
			       f->root, k)
			 : committed_nr(f, k, "schemes/nr_schemes");
	for (unsigned long long s = 0; s < ns; s++) {
		unsigned long long bytes;

		if (!staged_scheme_exists(f, k, s))
			continue;
		bytes = from_staged ? ULL("%s/" FAKE_DAMON_KDAMONDS
					  "/%u/contexts/0/schemes/%llu/quotas/bytes",
					  f->root, k, s)
				    : ULL("%s/" META "/kdamond%u/committed/schemes/%llu/quotas/bytes",
					  f->root, k, s);
		write_num(bytes,
			  "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/quotas/effective_bytes",
			  f->root, k, s);
	}
	return 0;
}

static int cmd_update_tuned_intervals(struct fake *f, unsigned k)
{
	unsigned long long sample, aggr, aggrs, mins, maxs;
	char cd[PATH_MAX];
	int r;

	if (pathf(cd, "%s/" META "/kdamond%u/committed/monitoring_attrs/intervals", f->root, k) < 0)
		return -ENAMETOOLONG;
	sample = ULL("%s/sample_us", cd);
	aggr = ULL("%s/aggr_us", cd);
	aggrs = ULL("%s/intervals_goal/aggrs", cd);
	mins = ULL("%s/intervals_goal/min_sample_us", cd);
	maxs = ULL("%s/intervals_goal/max_sample_us", cd);
	if (aggrs && sample) {
		/* The "tuner": twice the committed sample interval, clamped, same ratio. */
		unsigned long long ts = sample * 2;

		if (ts < mins)
			ts = mins;
		if (ts > maxs)
			ts = maxs;
		aggr = aggr / sample * ts;
		sample = ts;
	}
	r = write_num(sample,
		      "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/monitoring_attrs/intervals/sample_us",
		      f->root, k);
	if (r < 0)
		return r;
	return write_num(aggr,
			 "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/monitoring_attrs/intervals/aggr_us",
			 f->root, k);
}

static int clear_tried(struct fake *f, unsigned k)
{
	unsigned long long ns = ULL("%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/nr_schemes",
				    f->root, k);

	for (unsigned long long s = 0; s < ns; s++) {
		char td[PATH_MAX];
		int r;

		if (pathf(td, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/tried_regions",
			  f->root, k, s) < 0)
			return -ENAMETOOLONG;
		if (access(td, F_OK) < 0)
			continue;
		r = rm_numbered(td);
		if (r < 0)
			return r;
		r = write_num(0, "%s/total_bytes", td);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmd_update_tried(struct fake *f, unsigned k, bool regions)
{
	unsigned long long ns = committed_nr(f, k, "schemes/nr_schemes");
	unsigned long long np = 0;
	int r;

	r = clear_tried(f, k);
	if (r < 0)
		return r;
	if (f->prof & P7X)
		np = committed_nr(f, k, "monitoring_attrs/probes/nr_probes");
	for (unsigned long long s = 0; s < ns; s++) {
		char td[PATH_MAX];

		if (!staged_scheme_exists(f, k, s))
			continue;
		if (pathf(td, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/tried_regions",
			  f->root, k, s) < 0)
			return -ENAMETOOLONG;
		for (unsigned i = 0; regions && i < FAKE_DAMON_TRIED_NR; i++) {
			char rd[PATH_MAX], buf[64];
			unsigned long long start = FAKE_DAMON_TRIED_START + i * FAKE_DAMON_TRIED_SZ;
			struct {
				const char *name;
				unsigned long long v;
				unsigned profiles;
			} files[] = {
				{ "start", start, PALL },
				{ "end", start + FAKE_DAMON_TRIED_SZ, PALL },
				{ "nr_accesses", i, PALL },
				{ "age", 10ULL * i, PALL },
				{ "sz_filter_passed", 0, P7X },
			};

			if (pathf(rd, "%s/%u", td, i) < 0)
				return -ENAMETOOLONG;
			if (mkdir(rd, 0755) < 0 && errno != EEXIST)
				return neg_errno();
			for (size_t j = 0; j < sizeof(files) / sizeof(files[0]); j++) {
				char p[PATH_MAX];

				if (!(files[j].profiles & f->prof))
					continue;
				if (pathf(p, "%s/%s", rd, files[j].name) < 0)
					return -ENAMETOOLONG;
				snprintf(buf, sizeof(buf), "%llu\n", files[j].v);
				r = write_file_len(p, buf, strlen(buf), 0400);
				if (r < 0)
					return r;
			}
			for (unsigned long long p = 0; p < np; p++) {
				char pd[PATH_MAX];

				if (pathf(pd, "%s/probes/%llu/hits", rd, p) < 0)
					return -ENAMETOOLONG;
				r = mkdir_parent(pd);
				if (r < 0)
					return r;
				r = write_file_len(pd, "0\n", 2, 0400);
				if (r < 0)
					return r;
			}
		}
		r = write_num(FAKE_DAMON_TRIED_TOTAL, "%s/total_bytes", td);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmd_commit_goals(struct fake *f, unsigned k)
{
	unsigned long long ns = committed_nr(f, k, "schemes/nr_schemes");

	for (unsigned long long s = 0; s < ns; s++) {
		char src[PATH_MAX], dst[PATH_MAX];
		int r;

		if (pathf(src, "%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/0/schemes/%llu/quotas/goals",
			  f->root, k, s) < 0 ||
		    pathf(dst, "%s/" META "/kdamond%u/committed/schemes/%llu/quotas/goals", f->root,
			  k, s) < 0)
			return -ENAMETOOLONG;
		if (access(src, F_OK) < 0)
			continue;
		(void)rm_rf(dst);
		r = copy_tree(src, dst, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Store handlers                                                          */

enum cmd {
	CMD_ON,
	CMD_OFF,
	CMD_COMMIT,
	CMD_COMMIT_GOALS,
	CMD_UPDATE_STATS,
	CMD_UPDATE_TRIED_BYTES,
	CMD_UPDATE_TRIED_REGIONS,
	CMD_CLEAR_TRIED,
	CMD_UPDATE_QUOTAS,
	CMD_UPDATE_INTERVALS,
	_CMD_MAX,
};

static const struct keyword cmds[_CMD_MAX] = {
	[CMD_ON] = { "on", PALL },
	[CMD_OFF] = { "off", PALL },
	[CMD_COMMIT] = { "commit", PALL },
	[CMD_COMMIT_GOALS] = { "commit_schemes_quota_goals", PALL },
	[CMD_UPDATE_STATS] = { "update_schemes_stats", PALL },
	[CMD_UPDATE_TRIED_BYTES] = { "update_schemes_tried_bytes", PALL },
	[CMD_UPDATE_TRIED_REGIONS] = { "update_schemes_tried_regions", PALL },
	[CMD_CLEAR_TRIED] = { "clear_schemes_tried_regions", PALL },
	[CMD_UPDATE_QUOTAS] = { "update_schemes_effective_quotas", PALL },
	[CMD_UPDATE_INTERVALS] = { "update_tuned_intervals", P7X },
};

/* The commands that go through damon_call() (7.x) / the request callback (6.12). */
static int gate_running(struct fake *f, unsigned k)
{
	bool running = kdamond_running(f, k);

	if (f->prof & P612)
		return running ? 0 : -EINVAL;
	if (!existsf("%s/" META "/kdamond%u/ctx", f->root, k))
		return -EINVAL;
	return running ? 0 : -ECANCELED;
}

static int do_cmd(struct fake *f, unsigned k, enum cmd cmd)
{
	bool running = kdamond_running(f, k);
	int r;

	if (cmd == CMD_OFF) {
		if (!existsf("%s/" META "/kdamond%u/ctx", f->root, k))
			return -EINVAL;
		if (!running)
			return (f->prof & P73) ? 0 : -EPERM; /* __damon_stop() before 7.3 */
		r = stop_kdamond(f, k);
		if (r < 0)
			return r;
		logf_(f, "kdamond %u off", k);
		return 0;
	}

	if (cmd == CMD_ON && running)
		return -EBUSY;
	if (ULL("%s/" FAKE_DAMON_KDAMONDS "/%u/contexts/nr_contexts", f->root, k) != 1)
		return -EINVAL;

	switch (cmd) {
	case CMD_ON: {
		char kst[PATH_MAX], buf[32];
		int pid;

		r = validate_ctx(f, k, V_ON);
		if (r < 0)
			return r;
		if (exclusive_module_running(f))
			return -EBUSY;
		if (pathf(kst, "%s/" META "/kdamond%u", f->root, k) < 0)
			return -ENAMETOOLONG;
		(void)rm_rf(kst);
		r = mkdir_p(kst);
		if (r < 0)
			return r;
		r = writef("", "%s/ctx", kst);
		if (r < 0)
			return r;
		r = snapshot_ctx(f, k, true);
		if (r < 0)
			return r;
		pid = next_pid(f);
		snprintf(buf, sizeof(buf), "%d\n", pid);
		r = writef(buf, "%s/" FAKE_DAMON_KDAMONDS "/%u/pid", f->root, k);
		if (r < 0)
			return r;
		r = writef("on\n", "%s/" FAKE_DAMON_KDAMONDS "/%u/state", f->root, k);
		if (r < 0)
			return r;
		(void)cmd_update_effective_quotas(f, k, true);
		logf_(f, "kdamond %u on pid=%d", k, pid);
		return 0;
	}
	case CMD_COMMIT:
		r = gate_running(f, k);
		if (r < 0)
			return r;
		r = validate_ctx(f, k, V_COMMIT);
		if (r < 0 && (f->prof & P612)) {
			/* 6.12: the callback fails, the kdamond exits, the writer sees success. */
			logf_(f, "kdamond %u commit", k);
			(void)stop_kdamond(f, k);
			logf_(f, "kdamond %u died (commit %s)", k, fake_damon_errno_name(r));
			return 0;
		}
		if (r < 0)
			return r; /* 7.x: validated on a copy, the kdamond keeps running */
		r = snapshot_ctx(f, k, false);
		if (r < 0)
			return r;
		log_obsolete(f, k);
		logf_(f, "kdamond %u commit", k);
		return 0;
	case CMD_CLEAR_TRIED:
		r = clear_tried(f, k);
		break;
	default:
		r = gate_running(f, k);
		if (r < 0)
			return r;
		switch (cmd) {
		case CMD_COMMIT_GOALS:
			r = cmd_commit_goals(f, k);
			break;
		case CMD_UPDATE_STATS:
			r = cmd_update_stats(f, k);
			break;
		case CMD_UPDATE_QUOTAS:
			r = cmd_update_effective_quotas(f, k, false);
			break;
		case CMD_UPDATE_INTERVALS:
			r = cmd_update_tuned_intervals(f, k);
			break;
		case CMD_UPDATE_TRIED_BYTES:
		case CMD_UPDATE_TRIED_REGIONS: {
			char pause[8] = "N";

			if (f->prof & P7X) {
				(void)readf(pause, sizeof(pause), "%s/" META "/kdamond%u/committed/pause",
					    f->root, k);
				if (committed_nr(f, k, "schemes/nr_schemes") == 0 || pause[0] == 'Y')
					return -ECANCELED; /* damos_walk() cancelled */
			}
			r = cmd_update_tried(f, k, cmd == CMD_UPDATE_TRIED_REGIONS);
			break;
		}
		default:
			r = -EINVAL;
			break;
		}
		break;
	}
	if (r == 0)
		logf_(f, "kdamond %u %s", k, cmds[cmd].word);
	return r;
}

static ssize_t store_state(struct fake *f, const char *rel, const char *val, size_t len)
{
	char word[40];
	unsigned k;
	int cmd, r;

	if (sscanf(rel, FAKE_DAMON_KDAMONDS "/%u/state", &k) != 1)
		return -EINVAL;
	/* Log the command word as written, without the newline, bounded. */
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(val, "\n"), val);

	r = take_sysfs_lock(f);
	if (r < 0) {
		logf_(f, "fail kdamond %u %s %s", k, word, fake_damon_errno_name(r));
		return r;
	}
	for (cmd = 0; cmd < _CMD_MAX; cmd++)
		if ((cmds[cmd].profiles & f->prof) && sysfs_streq(cmds[cmd].word, val))
			break;
	if (cmd == _CMD_MAX)
		r = -EINVAL;
	else
		r = do_cmd(f, k, (enum cmd)cmd);
	if (r < 0) {
		logf_(f, "fail kdamond %u %s %s", k, word, fake_damon_errno_name(r));
		return r;
	}
	return (ssize_t)len;
}

static ssize_t store_nr(struct fake *f, const char *rel, const char *full,
			const struct fdesc *d, const char *val, size_t len)
{
	char dir[PATH_MAX], buf[32];
	long long n;
	int r;

	r = kstrtoll(val, &n);
	if (r == 0 && (n < INT_MIN || n > INT_MAX))
		r = -ERANGE;
	if (r == 0 && (n < d->min || (d->max >= 0 && n > d->max)))
		r = -EINVAL;
	if (r == 0 && n > MAX_CHILDREN)
		r = -ENOMEM;
	if (r == 0)
		r = take_sysfs_lock(f);
	if (r == 0 && d->arg == K_KDAMOND && any_kdamond_running(f))
		r = -EBUSY; /* damon_sysfs_kdamonds_busy() */
	if (r < 0) {
		logf_(f, "fail nr %s %.*s %s", rel, (int)strcspn(val, "\n"), val,
		      fake_damon_errno_name(r));
		return r;
	}

	if (strlen(full) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, full);
	*strrchr(dir, '/') = '\0';
	if (d->arg == K_KDAMOND) {
		/* Every kdamond dir goes, with its stopped ctx. */
		char meta[PATH_MAX];
		DIR *dd;
		struct dirent *de;

		if (pathf(meta, "%s/" META, f->root) < 0)
			return -ENAMETOOLONG;
		dd = opendir(meta);
		if (dd) {
			while ((de = readdir(dd))) {
				char p[PATH_MAX];

				if (!startswith(de->d_name, "kdamond"))
					continue;
				if (pathf(p, "%s/%s", meta, de->d_name) == 0)
					(void)rm_rf(p);
			}
			closedir(dd);
		}
	}
	r = recreate_children(f, dir, (enum kind)d->arg, n);
	if (r < 0)
		return r;
	snprintf(buf, sizeof(buf), "%lld\n", n);
	r = write_file(full, buf);
	if (r < 0)
		return r;
	logf_(f, "nr %s %lld", rel, n);
	return (ssize_t)len;
}

static ssize_t store_value(struct fake *f, const char *rel, const char *full,
			   const struct fdesc *d, const char *val, size_t len)
{
	char out[SYSFS_PAGE + 2];
	int r = 0;

	switch (d->type) {
	case T_RO:
		return -EACCES;
	case T_INT: {
		long long v;

		r = kstrtoll(val, &v);
		if (r == 0 && (v < INT_MIN || v > INT_MAX))
			r = -ERANGE;
		if (r == 0 && d->ranged && (v < d->min || (d->max >= 0 && v > d->max)))
			r = -EINVAL;
		if (r == 0)
			snprintf(out, sizeof(out), "%lld\n", v);
		break;
	}
	case T_UINT:
	case T_ULONG: {
		unsigned long long v;

		r = kstrtoull(val, &v);
		if (r == 0 && d->type == T_UINT && v > UINT_MAX)
			r = -ERANGE;
		if (r == 0 && d->ranged &&
		    (v < (unsigned long long)d->min ||
		     (d->max >= 0 && v > (unsigned long long)d->max)))
			r = -EINVAL;
		if (r == 0)
			snprintf(out, sizeof(out), "%llu\n", v);
		break;
	}
	case T_BOOL: {
		bool b;

		r = kstrtobool(val, &b);
		if (r == 0)
			snprintf(out, sizeof(out), "%c\n", b ? 'Y' : 'N');
		break;
	}
	case T_KW: {
		const struct keyword *w;

		for (w = kwsets[d->arg]; w->word; w++)
			if ((w->profiles & f->prof) && sysfs_streq(w->word, val))
				break;
		if (!w->word)
			r = -EINVAL;
		else
			snprintf(out, sizeof(out), "%s\n", w->word);
		break;
	}
	case T_STR: {
		/* sscanf(buf, "%s", path): the first whitespace-separated token. */
		const char *s = val;
		size_t n;

		while (isspace((unsigned char)*s))
			s++;
		n = strcspn(s, " \t\n\r\v\f");
		r = take_sysfs_lock(f);
		if (r == 0)
			snprintf(out, sizeof(out), "%.*s\n", (int)n, s);
		break;
	}
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	r = write_file(full, out);
	if (r < 0)
		return r;
	out[strcspn(out, "\n")] = '\0';
	logf_(f, "set %s %s", rel, out);
	return (ssize_t)len;
}

static ssize_t store_module(struct fake *f, const char *name, const char *full, const char *val,
			    size_t len)
{
	bool b;
	int r;

	r = kstrtobool(val, &b);
	if (r < 0)
		return r;
	/* An exclusive damon_start() fails while any sysfs kdamond runs; enabled stays N. */
	if (b && any_kdamond_running(f)) {
		logf_(f, "fail module %s enabled Y EBUSY", name);
		return -EBUSY;
	}
	r = write_file(full, b ? "Y\n" : "N\n");
	if (r < 0)
		return r;
	logf_(f, "module %s enabled %c", name, b ? 'Y' : 'N');
	return (ssize_t)len;
}

/* Normalise "a//b/./c" and a leading "/" into "a/b/c". */
static int normalise_rel(const char *in, char *out, size_t size)
{
	size_t o = 0;

	while (*in) {
		size_t n;

		while (*in == '/')
			in++;
		n = strcspn(in, "/");
		if (n == 0)
			break;
		if (!(n == 1 && in[0] == '.')) {
			if (o + n + 2 > size)
				return -ENAMETOOLONG;
			if (o)
				out[o++] = '/';
			memcpy(out + o, in, n);
			o += n;
		}
		in += n;
	}
	out[o] = '\0';
	return o ? 0 : -EINVAL;
}

static ssize_t store_one(struct fake *f, const char *relpath, const char *buf, size_t len)
{
	char rel[PATH_MAX], full[PATH_MAX], val[SYSFS_PAGE + 1], mod[64];
	const struct fdesc *d;
	struct stat st;
	int r;

	r = normalise_rel(relpath, rel, sizeof(rel));
	if (r < 0)
		return r;
	if (startswith(rel, META "/") || streq(rel, META))
		return -EACCES;
	r = pathf(full, "%s/%s", f->root, rel);
	if (r < 0)
		return r;
	if (stat(full, &st) < 0)
		return neg_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;

	if (len > SYSFS_PAGE)
		return -E2BIG;
	if (len == 0)
		return 0;
	memcpy(val, buf, len);
	val[len] = '\0'; /* an embedded NUL ends the string, as in the kernel */

	if (startswith(rel, FAKE_DAMON_ADMIN "/")) {
		d = resolve(f->prof, K_ROOT, rel + strlen(FAKE_DAMON_ADMIN "/"));
		if (d) {
			switch (d->type) {
			case T_STATE:
				return store_state(f, rel, val, len);
			case T_NR:
				return store_nr(f, rel, full, d, val, len);
			default:
				return store_value(f, rel, full, d, val, len);
			}
		}
	}
	if (sscanf(rel, "module/%63[^/]/parameters/enabled", mod) == 1 &&
	    streq(rel + strlen("module/") + strlen(mod), "/parameters/enabled"))
		for (size_t i = 0; i < sizeof(exclusive_modules) / sizeof(exclusive_modules[0]); i++)
			if (streq(mod, exclusive_modules[i]))
				return store_module(f, mod, full, val, len);

	/* Not a file the fake models: behave like a plain file. */
	r = write_file_len(full, buf, len, 0600);
	return r < 0 ? r : (ssize_t)len;
}

/* ---------------------------------------------------------------------- */
/* Fault injection (see fake-damon.h)                                      */

enum fault_kind {
	FAULT_NONE,
	FAULT_EBUSY,
	FAULT_EINVAL,
	FAULT_ENOMEM,
	FAULT_VANISH,
	FAULT_KILL,
	FAULT_EXIT,
	FAULT_LOCK_AFTER,
};

static const char *const fault_names[] = {
	[FAULT_NONE] = "none",     [FAULT_EBUSY] = "ebusy",           [FAULT_EINVAL] = "einval",
	[FAULT_ENOMEM] = "enomem", [FAULT_VANISH] = "vanish",         [FAULT_KILL] = "kill",
	[FAULT_EXIT] = "exit",     [FAULT_LOCK_AFTER] = "lock-after",
};

static int parse_fault_kind(const char *s)
{
	for (int i = FAULT_EBUSY; i <= FAULT_LOCK_AFTER; i++)
		if (streq(s, fault_names[i]))
			return i;
	return -EINVAL;
}

/* Every running kdamond dies (as fake_damon_kill()); returns how many. */
static int kill_all(struct fake *f)
{
	unsigned long long nr = 0;
	int n = 0;

	if (readf_ull(&nr, "%s/" FAKE_DAMON_KDAMONDS "/nr_kdamonds", f->root) < 0)
		return 0;
	for (unsigned k = 0; k < nr; k++)
		if (kdamond_running(f, k) && stop_kdamond(f, k) == 0) {
			logf_(f, "kdamond %u died", k);
			n++;
		}
	return n;
}

/*
 * Count the store, append it to META/stores, and say which fault (if any)
 * META/fault asks for at this store; a fault fires once, is removed and
 * recorded in META/fault-hit and the log.
 */
static enum fault_kind fault_check(struct fake *f, const char *rel, const char *buf, size_t len, int *ret_n)
{
	unsigned long long count = 0, at;
	char spec[512], kind[16], line[PATH_MAX + 160], path[PATH_MAX];
	enum fault_kind k = FAULT_NONE;
	int n = 0, fields, fd;

	(void)readf_ull(&count, "%s/" META "/nr_stores", f->root);
	count++;
	(void)write_num(count, "%s/" META "/nr_stores", f->root);
	if (pathf(path, "%s/" META "/stores", f->root) == 0) {
		int m = snprintf(line, sizeof(line), "%llu %s %.*s\n", count, rel,
				 (int)strcspn(buf, "\n") < (int)len ? (int)strcspn(buf, "\n") : (int)len, buf);

		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			(void)write_all(fd, line, m > 0 && (size_t)m < sizeof(line) ? (size_t)m : strlen(line));
			close(fd);
		}
	}
	if (readf(spec, sizeof(spec), "%s/" META "/fault", f->root) < 0)
		return FAULT_NONE;
	if (spec[0] == '@') {
		/* "@relpath=value KIND [N]": at the first store of value to relpath */
		char want[PATH_MAX + 64];
		size_t vl = (size_t)strcspn(buf, "\n") < len ? strcspn(buf, "\n") : len;

		fields = sscanf(spec + 1, "%4159s %15s %d", want, kind, &n);
		snprintf(line, sizeof(line), "%s=%.*s", rel, (int)vl, buf);
		if (fields < 2 || !streq(want, line))
			return FAULT_NONE;
	} else {
		fields = sscanf(spec, "%llu %15s %d", &at, kind, &n);
		if (fields < 2 || at != count)
			return FAULT_NONE;
	}
	k = (enum fault_kind)parse_fault_kind(kind);
	if ((int)k < 0)
		return FAULT_NONE;
	if (pathf(path, "%s/" META "/fault", f->root) == 0)
		(void)unlink(path);
	snprintf(line, sizeof(line), "%llu %s %s\n", count, fault_names[k], rel);
	(void)writef(line, "%s/" META "/fault-hit", f->root);
	logf_(f, "fault %llu %s %s", count, fault_names[k], rel);
	*ret_n = fields >= 3 ? n : 0;
	return k;
}

/*
 * The directory holding rel disappears, as when someone else's nr_* write
 * recreates the children it belongs to: only a directory at or below a
 * numbered child of a kdamond (contexts/0, schemes/3/..., never
 * kdamonds/<K> or kdamonds/<K>/contexts themselves), so that an nr_* write
 * above it brings it back as the kernel would.
 */
static void vanish_parent(struct fake *f, const char *rel)
{
	char dir[PATH_MAX], full[PATH_MAX], *rest, *save = NULL, *tok;
	bool numbered = false;
	unsigned k;
	int used = 0;

	snprintf(dir, sizeof(dir), "%s", rel);
	if (!strrchr(dir, '/'))
		return;
	*strrchr(dir, '/') = '\0';
	if (sscanf(dir, FAKE_DAMON_KDAMONDS "/%u%n", &k, &used) != 1 || dir[used] != '/')
		return;
	snprintf(full, sizeof(full), "%s", dir + used + 1);
	for (rest = full; (tok = strtok_r(rest, "/", &save)); rest = NULL)
		numbered |= all_digits(tok);
	if (!numbered)
		return;
	if (pathf(full, "%s/%s", f->root, dir) == 0)
		(void)rm_rf(full);
}

static ssize_t do_store(struct fake *f, const char *relpath, const char *buf, size_t len)
{
	char rel[PATH_MAX];
	enum fault_kind k;
	ssize_t r;
	int n = 0;

	if (normalise_rel(relpath, rel, sizeof(rel)) < 0 || startswith(rel, META "/") || streq(rel, META))
		return store_one(f, relpath, buf, len);
	k = fault_check(f, rel, buf, len, &n);
	switch (k) {
	case FAULT_EINVAL:
		return -EINVAL;
	case FAULT_ENOMEM:
		return -ENOMEM;
	case FAULT_VANISH:
		vanish_parent(f, rel);
		return -ENOENT;
	case FAULT_EXIT: {
		/* process n of the fake machine exits: its FAKE_DAMON_PROCFS directory goes */
		const char *procfs = getenv("FAKE_DAMON_PROCFS");
		char dir[PATH_MAX];

		if (procfs && *procfs && n > 0 && pathf(dir, "%s/%d", procfs, n) == 0)
			(void)rm_rf(dir);
		break;
	}
	case FAULT_EBUSY: {
		/* a storm: from this store on, the next n users of the global lock fail */
		char b[32];

		snprintf(b, sizeof(b), "%d\n", n > 0 ? n : 1);
		(void)writef(b, "%s/" META "/busy", f->root);
		break;
	}
	default:
		break;
	}
	r = store_one(f, relpath, buf, len);
	if (k == FAULT_KILL)
		(void)kill_all(f);
	if (k == FAULT_LOCK_AFTER) {
		/* the store went through, and another user takes the lock right after it for the next n users */
		char b[32];

		snprintf(b, sizeof(b), "%d\n", n > 0 ? n : 1);
		(void)writef(b, "%s/" META "/busy", f->root);
	}
	return r;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                              */

/*
 * A state command the kdamond handles itself (not on/off): with
 * .fake-damon/slow_cmd_ms, the write returns that many ms later, as 6.12's
 * do after the kdamond's next callback. The fake's lock is not held
 * meanwhile (6.12 drops damon_sysfs_lock while it waits).
 */
static void slow_cmd_wait(const char *root, const char *relpath, const char *buf, size_t len)
{
	char rel[PATH_MAX], cmd[64];
	unsigned long long ms = 0;
	unsigned k;
	int used = 0;

	if (normalise_rel(relpath, rel, sizeof(rel)) < 0 ||
	    sscanf(rel, FAKE_DAMON_KDAMONDS "/%u/state%n", &k, &used) != 1 || rel[used])
		return;
	snprintf(cmd, sizeof(cmd), "%.*s", (int)(len < sizeof(cmd) - 1 ? len : sizeof(cmd) - 1), buf);
	cmd[strcspn(cmd, "\n")] = '\0';
	if (streq(cmd, "on") || streq(cmd, "off"))
		return;
	if (readf_ull(&ms, "%s/" META "/slow_cmd_ms", root) < 0 || !ms)
		return;
	(void)nanosleep(&(struct timespec){ .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L },
			NULL);
}

ssize_t fake_damon_store(const char *root, const char *relpath, const char *buf, size_t len)
{
	struct fake f;
	ssize_t r;

	if (!relpath || (!buf && len))
		return -EINVAL;
	r = fake_open(&f, root);
	if (r < 0)
		return r;
	r = do_store(&f, relpath, buf, len);
	fake_close(&f);
	if (r >= 0)
		slow_cmd_wait(f.root, relpath, buf, len);
	return r;
}

int fake_damon_show(const char *root, const char *relpath)
{
	char path[PATH_MAX];
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	r = 0;
	if (pathf(path, "%s/" META "/lock-reads", f.root) == 0 && access(path, F_OK) == 0) {
		r = take_sysfs_lock(&f);
		if (r < 0)
			logf_(&f, "fail show %s", relpath);
	}
	fake_close(&f);
	return r;
}

int fake_damon_hook(void *userdata, const char *relpath, const char *value)
{
	ssize_t r;

	r = fake_damon_store((const char *)userdata, relpath, value, value ? strlen(value) : 0);
	return r < 0 ? (int)r : 1;
}

int fake_damon_init(const char *root, const char *profile)
{
	char path[PATH_MAX], admin[PATH_MAX];
	struct fake f = { .lockfd = -1 };
	int prof, r;

	if (!root || !*root || !profile)
		return -EINVAL;
	prof = parse_profile(profile);
	if (prof < 0)
		return prof;
	if (strlen(root) >= sizeof(f.root))
		return -ENAMETOOLONG;
	strcpy(f.root, root);
	f.prof = (unsigned)prof;

	r = mkdir_p(root);
	if (r < 0)
		return r;
	if (existsf("%s/" META "/profile", root)) {
		const char *wipe[] = { "kernel", "module", META };

		for (size_t i = 0; i < sizeof(wipe) / sizeof(wipe[0]); i++) {
			if (pathf(path, "%s/%s", root, wipe[i]) < 0)
				return -ENAMETOOLONG;
			r = rm_rf(path);
			if (r < 0)
				return r;
		}
	}
	if (pathf(path, "%s/" META, root) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(path);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s\n",
		 prof == P612 ? "6.12" : prof == P72 ? "7.2" : "7.3");
	r = writef(path, "%s/" META "/profile", root);
	if (r == 0)
		r = write_num(FAKE_DAMON_FIRST_PID, "%s/" META "/next_pid", root);
	if (r == 0)
		r = writef("", "%s/" META "/log", root);
	if (r < 0)
		return r;

	if (pathf(admin, "%s/" FAKE_DAMON_ADMIN, root) < 0)
		return -ENAMETOOLONG;
	r = mkdir_p(admin);
	if (r == 0)
		r = create_kind(&f, K_ROOT, admin);
	for (size_t i = 0; r == 0 && i < sizeof(exclusive_modules) / sizeof(exclusive_modules[0]);
	     i++) {
		bool is_stat = streq(exclusive_modules[i], "damon_stat");

		if (is_stat && prof == P612)
			continue; /* DAMON_STAT is 6.17+ */
		if (pathf(path, "%s/module/%s/parameters/enabled", root, exclusive_modules[i]) < 0)
			return -ENAMETOOLONG;
		r = mkdir_parent(path);
		if (r == 0)
			r = write_file(path, is_stat ? "Y\n" : "N\n");
	}
	return r;
}

int fake_damon_destroy(const char *root)
{
	char path[PATH_MAX];

	if (!root || !*root || streq(root, "/"))
		return -EINVAL;
	if (!existsf("%s/" META "/profile", root))
		return -ENODEV; /* not ours: never rm -rf a random directory */
	if (pathf(path, "%s", root) < 0)
		return -ENAMETOOLONG;
	return rm_rf(path);
}

static ssize_t store_str(struct fake *f, const char *relpath, const char *value)
{
	return do_store(f, relpath, value, strlen(value));
}

/* What fake_damon_start_foreign() writes below kdamonds/<K>/, in order. */
static const struct {
	const char *rel, *val;
} foreign_steps[] = {
	{ "contexts/nr_contexts", "1" },
	{ "contexts/0/operations", "paddr" },
	{ "contexts/0/targets/nr_targets", "1" },
	{ "contexts/0/schemes/nr_schemes", "1" },
	{ "contexts/0/schemes/0/action", "stat" },
	{ "contexts/0/schemes/0/access_pattern/sz/max", "18446744073709551615" },
	{ "contexts/0/schemes/0/access_pattern/nr_accesses/max", "4294967295" },
	{ "contexts/0/schemes/0/access_pattern/age/max", "4294967295" },
	{ "state", "on" },
};

int fake_damon_start_foreign(const char *root, unsigned k)
{
	char kd[PATH_MAX], buf[32];
	struct fake f;
	unsigned long long nk;
	ssize_t r;

	r = fake_open(&f, root);
	if (r < 0)
		return (int)r;
	nk = ULL("%s/" FAKE_DAMON_KDAMONDS "/nr_kdamonds", f.root);
	if (k >= nk) {
		snprintf(buf, sizeof(buf), "%u", k + 1);
		r = store_str(&f, FAKE_DAMON_KDAMONDS "/nr_kdamonds", buf);
	}
	if (r >= 0 && pathf(kd, FAKE_DAMON_KDAMONDS "/%u", k) < 0)
		r = -ENAMETOOLONG;

	for (size_t i = 0; r >= 0 && i < sizeof(foreign_steps) / sizeof(foreign_steps[0]); i++) {
		char rel[PATH_MAX];

		if (pathf(rel, "%s/%s", kd, foreign_steps[i].rel) < 0) {
			r = -ENAMETOOLONG;
			break;
		}
		r = store_str(&f, rel, foreign_steps[i].val);
	}
	fake_close(&f);
	return r < 0 ? (int)r : 0;
}

int fake_damon_kill(const char *root, unsigned k)
{
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	if (!existsf("%s/" FAKE_DAMON_KDAMONDS "/%u/state", f.root, k))
		r = -ENOENT;
	else if (!kdamond_running(&f, k))
		r = -ESRCH;
	else
		r = stop_kdamond(&f, k);
	if (r == 0)
		logf_(&f, "kdamond %u died", k);
	fake_close(&f);
	return r;
}

int fake_damon_set_fault(const char *root, unsigned after, const char *kind, int n)
{
	unsigned long long count = 0;
	char path[PATH_MAX], buf[96];
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	if (!kind) {
		r = pathf(path, "%s/" META "/fault", f.root);
		if (r == 0 && unlink(path) < 0 && errno != ENOENT)
			r = neg_errno();
	} else if (parse_fault_kind(kind) < 0 || after == 0) {
		r = -EINVAL;
	} else {
		(void)readf_ull(&count, "%s/" META "/nr_stores", f.root);
		snprintf(buf, sizeof(buf), "%llu %s %d\n", count + after, kind, n);
		r = writef(buf, "%s/" META "/fault", f.root);
		if (r == 0 && pathf(path, "%s/" META "/fault-hit", f.root) == 0)
			(void)unlink(path);
	}
	fake_close(&f);
	return r;
}

int fake_damon_nr_stores(const char *root, unsigned long long *ret)
{
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	*ret = 0;
	r = readf_ull(ret, "%s/" META "/nr_stores", f.root);
	if (r == -ENOENT)
		r = 0;
	fake_close(&f);
	return r;
}

int fake_damon_set_slow_cmd(const char *root, unsigned ms)
{
	char path[PATH_MAX], buf[32];
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	r = pathf(path, "%s/" META "/slow_cmd_ms", f.root);
	if (r == 0) {
		snprintf(buf, sizeof(buf), "%u\n", ms);
		r = write_file(path, buf);
	}
	fake_close(&f);
	return r;
}

int fake_damon_set_busy(const char *root, int n)
{
	char path[PATH_MAX], buf[32];
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	r = pathf(path, "%s/" META "/busy", f.root);
	if (r == 0) {
		if (n == 0) {
			if (unlink(path) < 0 && errno != ENOENT)
				r = neg_errno();
		} else {
			if (n < 0)
				snprintf(buf, sizeof(buf), "on\n");
			else
				snprintf(buf, sizeof(buf), "%d\n", n);
			r = write_file(path, buf);
		}
	}
	fake_close(&f);
	return r;
}

int fake_damon_set_module(const char *root, const char *name, bool enabled)
{
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	if (!existsf("%s/module/%s/parameters/enabled", f.root, name))
		r = -ENOENT;
	else
		r = writef(enabled ? "Y\n" : "N\n", "%s/module/%s/parameters/enabled", f.root,
			   name);
	fake_close(&f);
	return r;
}

int fake_damon_read(const char *root, const char *relpath, char *buf, size_t size)
{
	return readf(buf, size, "%s/%s", root, relpath);
}

int fake_damon_read_committed(const char *root, unsigned k, const char *relpath, char *buf,
			      size_t size)
{
	return readf(buf, size, "%s/" META "/kdamond%u/committed/%s", root, k, relpath);
}

int fake_damon_log_count(const char *root, const char *prefix)
{
	char path[PATH_MAX], line[1024];
	size_t pl = strlen(prefix);
	FILE *fp;
	int n = 0;

	if (pathf(path, "%s/" META "/log", root) < 0)
		return -ENAMETOOLONG;
	fp = fopen(path, "re");
	if (!fp)
		return neg_errno();
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, prefix, pl) == 0 && (line[pl] == '\0' || line[pl] == ' '))
			n++;
	}
	fclose(fp);
	return n;
}

int fake_damon_log_clear(const char *root)
{
	struct fake f;
	int r;

	r = fake_open(&f, root);
	if (r < 0)
		return r;
	r = writef("", "%s/" META "/log", f.root);
	fake_close(&f);
	return r;
}
