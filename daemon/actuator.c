/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The actuator: the manager's kernel writes go through one ops table, with
 * a real implementation (lib/damon-sysfs.h) and a dry-run one that only
 * logs what it would write. This is the only place that tells them apart.
 */
#include "log.h"
#include "manager-internal.h"

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

const struct actuator_ops actuator_real = {
	.name = "sysfs",
	.apply_list = real_apply_list,
	.verify_list = real_verify_list,
	.state_cmd = real_state_cmd,
	.write_nr_kdamonds = real_write_nr_kdamonds,
	.module_off = real_module_off,
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

const struct actuator_ops actuator_dry_run = {
	.name = "dry-run",
	.apply_list = dry_apply_list,
	.verify_list = dry_verify_list,
	.state_cmd = dry_state_cmd,
	.write_nr_kdamonds = dry_write_nr_kdamonds,
	.module_off = dry_module_off,
};

const struct actuator_ops *actuator(const struct manager *m)
{
	return m->dry_run ? &actuator_dry_run : &actuator_real;
}
