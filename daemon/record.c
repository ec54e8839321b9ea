/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ownership record: RUNTIME_DIR/kdamonds.json lists the kdamond
 * directories damond set up, with the pid of each running one, so that a
 * restarted damond (crash, kill -9, upgrade) re-adopts them with commit
 * instead of restarting them, and recognises them as its own. The runtime
 * directory is on tmpfs: a reboot (which also resets DAMON) clears it.
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "log.h"
#include "manager.h"

#define RECORD_NAME "kdamonds.json"
#define RECORD_VERSION 1

void ownership_done(struct ownership *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free(o->v[i].list_hash);
		for (size_t s = 0; s < o->v[i].nr_slots; s++)
			free(o->v[i].slot_names[s]);
		free(o->v[i].slot_names);
	}
	free(o->v);
	*o = (struct ownership){};
}

/*
 * FNV-1a 64 over "path=value\n" of every file written: identifies what a
 * kdamond was given. The hash outlives damond in the record, so it is taken
 * over the files (a region block expanded into its start/end files), never
 * over how the list stores them: an upgraded damond re-adopts unchanged.
 */
char *write_list_hash(const struct write_list *l)
{
	uint64_t h = FNV1A64_INIT;
	char *ret;

	for (size_t i = 0; i < l->n; i++) {
		size_t nf = sysfs_write_nr_files(&l->v[i]);

		for (size_t j = 0; j < nf; j++) {
			struct sysfs_file fb;
			const struct sysfs_file *f = sysfs_write_file(&l->v[i], j, &fb);

			h = fnv1a64(h, f->path, strlen(f->path));
			h = fnv1a64(h, "=", 1);
			h = fnv1a64(h, f->value, strlen(f->value));
			h = fnv1a64(h, "\n", 1);
		}
	}
	if (asprintf(&ret, "%016llx", (unsigned long long)h) < 0)
		return NULL;
	return ret;
}

static struct json_object *features_to_json(const struct damon_features *f)
{
	struct json_object *o = json_object_new_object(), *a;

	for (int i = 0; i < _FEATURE_MAX; i++)
		json_object_object_add(o, feature_to_string(i), json_object_new_int(f->f[i]));
#define ARR(name, field, n)                                                                                \
	a = json_object_new_array();                                                                       \
	for (int i = 0; i < (n); i++)                                                                      \
		json_object_array_add(a, json_object_new_int(f->field[i]));                                \
	json_object_object_add(o, name, a)
	ARR("ops", ops, _DAMON_OPS_MAX);
	ARR("action", action, _DAMOS_ACTION_MAX);
	ARR("goal_metric", goal_metric, _DAMOS_GOAL_METRIC_MAX);
	ARR("filter_type", filter_type, _DAMOS_FILTER_TYPE_MAX);
#undef ARR
	json_object_object_add(o, "tree_probed", json_object_new_boolean(f->tree_probed));
	return o;
}

static void features_from_json(struct json_object *o, struct damon_features *f)
{
	struct json_object *v;

	for (int i = 0; i < _FEATURE_MAX; i++)
		if (json_object_object_get_ex(o, feature_to_string(i), &v))
			f->f[i] = json_object_get_int(v);
#define ARR(name, field, n)                                                                                \
	if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_array))            \
		for (int i = 0; i < (n) && i < (int)json_object_array_length(v); i++)                      \
			f->field[i] = json_object_get_int(json_object_array_get_idx(v, i));
	ARR("ops", ops, _DAMON_OPS_MAX)
	ARR("action", action, _DAMOS_ACTION_MAX)
	ARR("goal_metric", goal_metric, _DAMOS_GOAL_METRIC_MAX)
	ARR("filter_type", filter_type, _DAMOS_FILTER_TYPE_MAX)
#undef ARR
	if (json_object_object_get_ex(o, "tree_probed", &v))
		f->tree_probed = json_object_get_boolean(v);
}

int ownership_load(const char *runtime_dir, struct ownership *ret)
{
	struct ownership o = {};
	struct json_object *root, *v, *arr;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/" RECORD_NAME, runtime_dir);
	if (access(path, F_OK) < 0)
		return -ENOENT;
	root = json_object_from_file(path);
	if (!root)
		return -EBADMSG;
	if (!json_object_object_get_ex(root, "version", &v) || json_object_get_int(v) != RECORD_VERSION) {
		json_object_put(root);
		return -EPROTO;
	}
	if (json_object_object_get_ex(root, "nr_kdamonds", &v))
		o.nr_kdamonds = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "features", &v)) {
		features_from_json(v, &o.features);
		o.have_features = true;
	}
	if (json_object_object_get_ex(root, "kdamonds", &arr) && json_object_is_type(arr, json_type_array)) {
		size_t n = json_object_array_length(arr);

		o.v = calloc(n ? n : 1, sizeof(*o.v));
		if (!o.v) {
			json_object_put(root);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			struct json_object *k = json_object_array_get_idx(arr, i), *slots;
			struct owned_record *rec = &o.v[o.n];

			if (!json_object_object_get_ex(k, "name", &v))
				continue;
			rec->name = strdup_or_null(json_object_get_string(v));
			if (json_object_object_get_ex(k, "index", &v))
				rec->index = (unsigned)json_object_get_int(v);
			if (json_object_object_get_ex(k, "pid", &v))
				rec->pid = json_object_get_int(v);
			if (json_object_object_get_ex(k, "running", &v))
				rec->running = json_object_get_boolean(v);
			if (json_object_object_get_ex(k, "hash", &v))
				rec->list_hash = strdup_or_null(json_object_get_string(v));
			if (json_object_object_get_ex(k, "slots", &slots) &&
			    json_object_is_type(slots, json_type_array)) {
				size_t ns = json_object_array_length(slots);

				rec->slot_names = calloc(ns ? ns : 1, sizeof(char *));
				if (rec->slot_names) {
					rec->nr_slots = ns;
					for (size_t s = 0; s < ns; s++) {
						struct json_object *e = json_object_array_get_idx(slots, s);

						rec->slot_names[s] = json_object_is_type(e, json_type_string)
									     ? strdup_or_null(json_object_get_string(e))
									     : NULL;
					}
				}
			}
			o.n++;
		}
	}
	json_object_put(root);
	*ret = o;
	return 0;
}

int ownership_save(const char *runtime_dir, const struct manager *m)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int r = 0;

	json_object_object_add(root, "version", json_object_new_int(RECORD_VERSION));
	json_object_object_add(root, "damond_pid", json_object_new_int((int)getpid()));
	json_object_object_add(root, "nr_kdamonds", json_object_new_int64((int64_t)m->nr_kdamonds_dirs));
	json_object_object_add(root, "features", features_to_json(&m->features));
	for (size_t i = 0; i < m->nr_kd; i++) {
		const struct kdamond_rt *kd = &m->kd[i];
		struct json_object *k = json_object_new_object(), *slots = json_object_new_array();
		_cleanup_free_ char *hash = write_list_hash(&kd->written);

		json_object_object_add(k, "name", json_object_new_string(kd->name));
		json_object_object_add(k, "index", json_object_new_int((int)kd->index));
		json_object_object_add(k, "pid", json_object_new_int(kd->pid));
		json_object_object_add(k, "running", json_object_new_boolean(kd->running));
		if (hash)
			json_object_object_add(k, "hash", json_object_new_string(hash));
		for (size_t s = 0; s < kd->nr_slots; s++)
			json_object_array_add(slots, kd->slots[s].name ? json_object_new_string(kd->slots[s].name)
								       : NULL);
		json_object_object_add(k, "slots", slots);
		json_object_array_add(arr, k);
	}
	json_object_object_add(root, "kdamonds", arr);

	snprintf(path, sizeof(path), "%s/" RECORD_NAME, runtime_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PRETTY) < 0)
		r = -EIO;
	else if (rename(tmp, path) < 0)
		r = negative_errno();
	json_object_put(root);
	return r;
}
