/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ownership record: RUNTIME_DIR/kdamonds.json lists the kdamond
 * directories damond set up, with the pid of each running one, so that a
 * restarted damond (crash, kill -9, upgrade) re-adopts them with commit
 * instead of restarting them, and recognises them as its own. The runtime
 * directory is on tmpfs: a reboot (which also resets DAMON) clears it.
 *
 * The record states intent: damond saves it before each change that creates
 * or starts something (nr_kdamonds it is about to write, in
 * "nr_kdamonds" with the value before in "nr_kdamonds_was"; a kdamond it is
 * about to switch on, "starting" with the hash of what it writes), and again
 * after (the pid). Each save is atomic (tmp file, fsync, rename), so a damond
 * killed at any instant leaves a record that covers everything it created.
 *
 * Also what a start checks before it touches anything: kdamond directories
 * damond does not own, and exclusive DAMON modules.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "exit-codes.h"
#include "log.h"
#include "manager-internal.h"
#include "stats-worker.h"

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
	o.nr_kdamonds_was = o.nr_kdamonds;
	if (json_object_object_get_ex(root, "nr_kdamonds_was", &v))
		o.nr_kdamonds_was = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "features", &v)) {
		features_from_record_json(v, &o.features);
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
			if (json_object_object_get_ex(k, "starting", &v))
				rec->starting = json_object_get_boolean(v);
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

bool kdamond_index_taken(const struct manager *m, unsigned index)
{
	for (size_t i = 0; i < m->nr_pending_off; i++)
		if (m->pending_off[i].index == index)
			return true; /* a removed kdamond still waits to be stopped there */
	for (size_t j = 0; j < m->nr_kd; j++)
		if (m->kd[j].index == index || (m->kd[j].ager && m->kd[j].ager->kd.index == index))
			return true; /* a kdamond of the config, or its ager (which holds a spare only while it runs) */
	return false;
}

/* Is kdamonds/<index> a spare: below nr_kdamonds, no kdamond of the config and no removed one waiting there? */
bool kdamond_dir_is_spare(const struct manager *m, unsigned index)
{
	return index < m->nr_kdamonds_dirs && !kdamond_index_taken(m, index);
}

static void record_kdamond_json(const struct kdamond_rt *kd, struct json_object *arr)
{
	struct json_object *k, *slots;
	_cleanup_free_ char *hash = NULL;

	if (kd->index == UINT_MAX)
		return;
	/* a kdamond being started, or adopted and not yet handled: what it holds is known by its hash */
	hash = kd->written.n || !kd->record_hash ? write_list_hash_hex(&kd->written) : strdup_or_null(kd->record_hash);
	k = json_object_new_object();
	slots = json_object_new_array();
	json_object_object_add(k, "name", json_object_new_string(kd->name));
	json_object_object_add(k, "index", json_object_new_int((int)kd->index));
	json_object_object_add(k, "pid", json_object_new_int(kd->pid));
	json_object_object_add(k, "running", json_object_new_boolean(kd->running));
	json_object_object_add(k, "starting", json_object_new_boolean(kd->starting));
	if (hash)
		json_object_object_add(k, "hash", json_object_new_string(hash));
	for (size_t s = 0; s < kd->nr_slots; s++)
		json_object_array_add(slots, kd->slots[s].name ? json_object_new_string(kd->slots[s].name) : NULL);
	json_object_object_add(k, "slots", slots);
	json_object_array_add(arr, k);
}

/* The record, written through the actuator (write_record): 0, negative errno, or ACTUATOR_DRY in a dry run (nothing
 * written) */
int ownership_save(const char *runtime_dir, const struct manager *m)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char path[PATH_MAX];
	const char *text;
	int r;

	json_object_object_add(root, "version", json_object_new_int(RECORD_VERSION));
	json_object_object_add(root, "damond_pid", json_object_new_int((int)getpid()));
	json_object_object_add(root, "nr_kdamonds", json_object_new_int64((int64_t)m->nr_kdamonds_dirs));
	json_object_object_add(root, "nr_kdamonds_was", json_object_new_int64((int64_t)m->nr_kdamonds_was));
	/* only a full probe: a later start would take these for the kernel's and skip its own */
	if (m->features_full)
		json_object_object_add(root, "features", features_record_json(&m->features));
	for (size_t i = 0; i < m->nr_kd; i++) {
		record_kdamond_json(&m->kd[i], arr);
		/* an ager in a spare directory: its name ("<kdamond>.ager") is in no config, so a damond that
		 * starts after this one died stops it (start_stop_dropped()) and never calls it foreign */
		if (m->kd[i].ager)
			record_kdamond_json(&m->kd[i].ager->kd, arr);
	}
	json_object_object_add(root, "kdamonds", arr);
	/* directories damond made ahead (or no longer needs): its own, stopped, free for a reload that adds a kdamond */
	arr = json_object_new_array();
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++)
		if (kdamond_dir_is_spare(m, (unsigned)k))
			json_object_array_add(arr, json_object_new_int((int)k));
	json_object_object_add(root, "spares", arr);

	snprintf(path, sizeof(path), "%s/" RECORD_NAME, runtime_dir);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	r = text ? actuator(m)->write_record(m, path, text) : -ENOMEM;
	json_object_put(root);
	return r;
}

/*
 * Save the ownership record now. Called before each change that creates or
 * starts something (the intent) and after it, so that whatever instant
 * damond dies at, the record covers every kdamond directory and kdamond it
 * created.
 */
void record_save(struct manager *m)
{
	int r;

	r = ownership_save(m->runtime_dir, m);
	if (r < 0)
		log_warning_errno(r, "cannot save the ownership record in '%s': %m", m->runtime_dir);
	else if (r != ACTUATOR_DRY)
		m->record_saved = true;
}

/*
 * nr_kdamonds through the ownership record: the record names the new
 * directories before the kernel creates them, and is put back if the write
 * fails. With may_defer, an EBUSY is returned quietly for the caller to
 * retry from the timer; every other failure is logged and in the action log.
 */
int write_nr_kdamonds_ex(struct manager *m, uint64_t need, bool may_defer, const char *note)
{
	uint64_t was = m->nr_kdamonds_dirs;
	int r;

	m->nr_kdamonds_was = was;
	m->nr_kdamonds_dirs = need;
	record_save(m);
	/*
	 * Never while the stats worker is inside a 'state' write. 6.12's
	 * nr_kdamonds store holds the DAMON sysfs lock while it removes the
	 * kdamond directories, and removing a 'state' file waits for writes in
	 * progress on it; an update_schemes_stats write in progress waits, in a
	 * loop, for that same lock. Both sleep uninterruptibly: a 6.12 guest's
	 * damond hung so (the watchdog's SIGABRT and systemd's SIGKILL could not
	 * end it) when a reload from 8 kdamonds to 2 removed directories during
	 * a stats round. The round in flight ends within a command or two
	 * (commands to kdamonds that are off fail at once); its results are
	 * dropped.
	 */
	stats_worker_cancel(m->stats_worker);
	r = actuator(m)->write_nr_kdamonds(m, need);
	if (r < 0) {
		m->nr_kdamonds_dirs = m->nr_kdamonds_was = was;
		record_save(m);
		if (r == -EBUSY && may_defer)
			return r;
		log_error_errno(r, "writing '" DAMON_KDAMONDS_DIR "/nr_kdamonds' = '%" PRIu64 "' failed: %m", need);
		record_action(m, NULL, "error",
			      "writing '" DAMON_KDAMONDS_DIR "/nr_kdamonds' = '%" PRIu64 "' failed: %s", need,
			      strerror(-r));
		return r;
	}
	record_action(m, NULL, "nr_kdamonds", "nr_kdamonds = %" PRIu64 " (was %" PRIu64 ")%s", need, was,
		      note ? note : "");
	m->nr_kdamonds_dirs = m->nr_kdamonds_was = need;
	return 0;
}

int write_nr_kdamonds(struct manager *m, uint64_t need)
{
	return write_nr_kdamonds_ex(m, need, false, NULL);
}

const struct owned_record *record_find(const struct ownership *o, unsigned index)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].index == index)
			return &o->v[i];
	return NULL;
}

/*
 * Refuse to run where an exclusive DAMON module is active and the config
 * does not allow switching it off. Changes nothing.
 */
static int check_exclusive_modules(struct manager *m)
{
	int ret = 0;

	for (int i = 0; i < _DAMON_MODULE_MAX; i++) {
		const char *name = damon_module_to_string(i);
		char p[PATH_MAX];

		if (m->features.module[i] != MODULE_ON || m->config->settings.allow_disable[i])
			continue;
		snprintf(p, sizeof(p), DAMON_MODULE_ENABLED_FMT, name);
		log_error("%s is enabled ('%s/%s' = Y). It runs its own exclusive kdamond, and the kernel "
			  "refuses every sysfs kdamond while it runs. Switch it off with 'echo N > %s/%s' "
			  "(or boot with %s.enabled=N), or let damond do it: 'damond: { "
			  "allow_disable_modules: [%s] }' in %s.",
			  name, m->sysfs_path, p, m->sysfs_path, p, name, name, m->config_path);
		m->exit_status = DAMOND_EXIT_MODULE;
		ret = -EBUSY;
	}
	return ret;
}

/* Switch off the exclusive modules the config allows damond to switch off (after all validation). */
int disable_allowed_modules(struct manager *m)
{
	for (int i = 0; i < _DAMON_MODULE_MAX; i++) {
		const char *name = damon_module_to_string(i);
		char p[PATH_MAX];
		int r;

		if (m->features.module[i] != MODULE_ON)
			continue;
		snprintf(p, sizeof(p), DAMON_MODULE_ENABLED_FMT, name);
		r = actuator(m)->module_off(m, p);
		if (r == ACTUATOR_DRY)
			continue;
		if (r < 0)
			return log_error_errno(r, "cannot switch %s off ('%s/%s'): %m", name, m->sysfs_path, p);
		m->features.module[i] = MODULE_OFF;
		record_action(m, NULL, "module-off", "switched %s off (allowed by allow_disable_modules)", name);
	}
	return 0;
}

/*
 * Classify every existing kdamond directory. Running ones we did not start
 * (no record, or a record whose pid differs) and stopped ones that are not
 * ours stop damond: writing nr_kdamonds would wipe them.
 */
static int check_foreign(struct manager *m, const struct ownership *own)
{
	int ret = 0;

	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++) {
		const struct owned_record *rec = record_find(own, (unsigned)k);
		bool on = false;
		int pid = -1, r;

		r = damon_read_state(m->root, (unsigned)k, &on, &pid);
		if (r < 0)
			return log_error_errno(r, "cannot read the state of kdamonds/%" PRIu64 ": %m", k);
		/* a kdamond the record says damond was switching on is damond's, whatever its pid */
		if (rec && (!on || (rec->running && rec->pid == pid) || rec->starting))
			continue;
		/*
		 * damond wrote nr_kdamonds itself (the record says how many, or
		 * announced a write it may have died before making): a stopped
		 * dir below that count is a spare of ours, e.g. a kdamond
		 * dropped from the config by a reload.
		 */
		if (!on && k < MAX(own->nr_kdamonds, own->nr_kdamonds_was) &&
		    (own->nr_kdamonds == m->nr_kdamonds_dirs || own->nr_kdamonds_was == m->nr_kdamonds_dirs))
			continue;
		if (on) {
			log_error("kdamonds/%" PRIu64 " is running (pid %d) and was not started by damond%s. damond "
				  "never touches a kdamond it does not own, and the kernel cannot add kdamonds while "
				  "one runs. Stop it ('echo off > %s/" DAMON_KDAMONDS_DIR "/%" PRIu64
				  "/state') and start damond again.",
				  k, pid, rec ? " (its pid differs from damond's record)" : "", m->sysfs_path, k);
		} else {
			log_error("kdamonds/%" PRIu64 " exists (stopped) and does not belong to damond; setting up "
				  "damond's kdamonds would wipe it. Remove it with 'echo 0 > %s/" DAMON_KDAMONDS_DIR
				  "/nr_kdamonds' "
				  "if nobody needs it.",
				  k, m->sysfs_path);
		}
		m->exit_status = DAMOND_EXIT_FOREIGN;
		ret = -EBUSY;
	}
	return ret;
}

int ownership_check(struct manager *m, const struct ownership *own)
{
	int r;

	r = check_foreign(m, own);
	if (r < 0)
		return r;
	return check_exclusive_modules(m);
}
