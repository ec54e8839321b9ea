/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The actuator: the manager's kernel writes go through one ops table, with
 * a real implementation (lib/damon-sysfs.h) and a dry-run one that only
 * logs what it would write. This is the only place that tells them apart:
 * the reads that only make sense after damond's own writes (the liveness
 * of a kdamond it starts, the tuned intervals of one it commits), the
 * feature probe that writes, and the ownership record go through it too.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "manager-internal.h"

/*
 * The one liveness check (the stats tick, a commit, an adoption, a start):
 * does a kdamond run in kdamonds/<index>? 1: yes, as *ret_pid; 0: it is
 * off; a negative errno: its state cannot be read. A read, but here so the
 * real actuator's alive() is it and every daemon file can call it.
 */
int kdamond_check_alive(struct manager *m, unsigned index, int *ret_pid)
{
	bool on = false;
	int pid = -1, r;

	r = damon_read_state(m->root, index, &on, &pid);
	if (ret_pid)
		*ret_pid = pid;
	if (r < 0)
		return r;
	return on ? 1 : 0;
}

static int real_apply_list(struct manager *m, const struct write_list *l, size_t *ret_failed, size_t *ret_file)
{
	return damon_write_list_apply_ex(m->root, l, ret_failed, ret_file);
}

static int real_verify_list(struct manager *m, const struct write_list *l, char **ret_mismatch)
{
	return damon_write_list_verify(m->root, l, ret_mismatch);
}

static int real_state_cmd(struct manager *m, unsigned index, const char *cmd)
{
	return damon_state_cmd(m->root, index, cmd);
}

static int real_write_nr_kdamonds(struct manager *m, uint64_t n)
{
	return damon_write_nr_kdamonds(m->root, n);
}

static int real_module_off(struct manager *m, const char *param)
{
	return sysfs_write_str(m->root, param, "N");
}

static int read_tuned(const char *path, char **ret_value, void *userdata)
{
	struct manager *m = userdata;
	uint64_t v;
	int r;

	r = sysfs_read_u64(m->root, path, &v);
	if (r < 0)
		return r;
	return asprintf(ret_value, "%" PRIu64, v) < 0 ? -ENOMEM : 0;
}

static int real_carry_tuned(struct manager *m, unsigned index, const char *kdamond, struct write_list *l)
{
	int r;

	r = damon_state_cmd(m->root, index, "update_tuned_intervals");
	if (r < 0) {
		log_debug_errno(r, "kdamond '%s': update_tuned_intervals: %m", kdamond);
		return 0;
	}
	r = write_list_carry_values(l, SYSFS_W_NOVERIFY, read_tuned, m);
	return r < 0 ? r : 0;
}

static int real_probe_features(struct manager *m, unsigned index, char *failed)
{
	int r;

	if (index == UINT_MAX)
		return 0;
	r = features_probe_owned_ex(m->root, index, &m->features, failed);
	if (r < 0)
		return r;
	m->features_full = true;
	return 0;
}

/* Write text to path atomically: a reader sees the old file or the new one, never a part. */
static int real_write_record(const struct manager *m, const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text), off = 0;
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return negative_errno();
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			break;
		}
		off += (size_t)n;
	}
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (close(fd) < 0 && r >= 0)
		r = negative_errno();
	if (r >= 0 && rename(tmp, path) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

const struct actuator_ops actuator_real = {
	.name = "sysfs",
	.apply_list = real_apply_list,
	.verify_list = real_verify_list,
	.state_cmd = real_state_cmd,
	.write_nr_kdamonds = real_write_nr_kdamonds,
	.module_off = real_module_off,
	.alive = kdamond_check_alive,
	.carry_tuned = real_carry_tuned,
	.probe_features = real_probe_features,
	.write_record = real_write_record,
};

static int dry_apply_list(struct manager *m, const struct write_list *l, size_t *ret_failed, size_t *ret_file)
{
	struct sysfs_file fb;
	const struct sysfs_file *f;

	/* one line per file: a region block is logged as the files it writes */
	for (size_t i = 0; i < l->n; i++)
		for (size_t j = 0, nf = sysfs_write_nr_files(&l->v[i]); j < nf; j++) {
			f = sysfs_write_file(&l->v[i], j, &fb);
			log_info("dry-run: would write '%s/%s' = '%s'", m->sysfs_path, f->path, f->value);
		}
	return ACTUATOR_DRY;
}

static int dry_verify_list(struct manager *m, const struct write_list *l, char **ret_mismatch)
{
	return ACTUATOR_DRY;
}

static int dry_state_cmd(struct manager *m, unsigned index, const char *cmd)
{
	log_info("dry-run: would write '%s/" DAMON_KDAMONDS_DIR "/%u/state' = '%s'", m->sysfs_path, index, cmd);
	return ACTUATOR_DRY;
}

static int dry_write_nr_kdamonds(struct manager *m, uint64_t n)
{
	/* the action log says "nr_kdamonds = n" as for a real write */
	return ACTUATOR_DRY;
}

static int dry_module_off(struct manager *m, const char *param)
{
	log_info("dry-run: would write '%s/%s' = 'N'", m->sysfs_path, param);
	return ACTUATOR_DRY;
}

/* damond started no kdamond: none of its own runs, and nothing was read */
static int dry_alive(struct manager *m, unsigned index, int *ret_pid)
{
	if (ret_pid)
		*ret_pid = -1;
	return ACTUATOR_NONE;
}

/* no update_tuned_intervals written: the commit carries the configured intervals */
static int dry_carry_tuned(struct manager *m, unsigned index, const char *kdamond, struct write_list *l)
{
	return 0;
}

/* no probe that writes: what the existing directories tell (read-only) */
static int dry_probe_features(struct manager *m, unsigned index, char *failed)
{
	const char *source;

	(void)features_probe_kernel(m->root, NULL, &m->features, &source);
	log_notice("dry run: DAMON features read from %s without writing; those no kdamond "
		   "directory shows are not checked (damond probes them at start)",
		   streq(source, "none") ? "modules and tracefs only" : "the existing kdamond directories");
	return ACTUATOR_DRY;
}

static int dry_write_record(const struct manager *m, const char *path, const char *text)
{
	return ACTUATOR_DRY;
}

const struct actuator_ops actuator_dry_run = {
	.name = "dry-run",
	.apply_list = dry_apply_list,
	.verify_list = dry_verify_list,
	.state_cmd = dry_state_cmd,
	.write_nr_kdamonds = dry_write_nr_kdamonds,
	.module_off = dry_module_off,
	.alive = dry_alive,
	.carry_tuned = dry_carry_tuned,
	.probe_features = dry_probe_features,
	.write_record = dry_write_record,
};

bool actuator_is_dry_run(const struct manager *m)
{
	return actuator(m) == &actuator_dry_run;
}

const struct actuator_ops *actuator(const struct manager *m)
{
	return m->dry_run ? &actuator_dry_run : &actuator_real;
}
