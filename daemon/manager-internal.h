/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the manager's files share and nobody else sees. A file calls only
 * files on lines below its own, never one on its own line or above (no
 * circle); tools/check-layers checks it from the symbols each object file
 * defines and uses (style suite):
 *
 *   damond.c
 *   manager.c          struct manager, the stats timer, start and stop as named steps
 *   manager-ctl.c      the control socket
 *   manager-metrics.c
 *   manager-reload.c   manager-status.c     reload as a transaction; status
 *   manager-follow.c   manager-memory.c     targets that follow processes; memory hotplug
 *   kdamond-apply.c    a kdamond takes a new config or new targets (reload, follow, memory)
 *   manager-stats.c    manager-retry.c      the stats tick; EBUSY continuations
 *   ager.c             the charge emulation's ager kdamond in a spare directory
 *   kdamond.c          start, stop, commit, adopt; the liveness check; nr_kdamonds growth
 *   ownership.c        the record, foreign kdamonds, exclusive modules; indices and spare directories
 *   manager-observe.c
 *   manager-events.c
 *   kdamond-plan.c  actuator.c  manager-action.c  stats-worker.c  events.c  config-load.c
 *   controllers.c      the controller host (lib/controller.h): calls no daemon file
 */
#pragma once

#include <stdarg.h>

#include "controller.h"
#include "manager.h"

struct config_errors;

/* ---- manager-action.c: the action log and the journal -------------------- */

/*
 * Keeps one action for status (the action log) and logs it as one journal
 * entry (journal-action.h). scheme may be NULL.
 */
void record_action_why(struct manager *m, const char *kdamond, const char *scheme, const char *what, const char *why,
		       usec_t at);
void record_scheme_action(struct manager *m, const char *kdamond, const char *scheme, const char *what, const char *fmt,
			  ...) _printf_(5, 6);
#define record_action(m, kdamond, what, ...) record_scheme_action(m, kdamond, NULL, what, __VA_ARGS__)

/* A kernel write for kd failed: logged, kept as kd's last_error and in the action log. Returns r. */
int kd_fail_path(struct manager *m, struct kdamond_rt *kd, int r, const char *path, const char *fmt, ...)
	_printf_(5, 6);
#define kd_fail(m, kd, r, ...) kd_fail_path(m, kd, r, NULL, __VA_ARGS__)

/* r is the kernel's EBUSY on a lock-taking write (seen by kd_fail()): defer it. */
bool busy_deferrable(struct manager *m, int r);
void kd_set_last(struct kdamond_rt *kd, const char *what, const char *why);

/* ---- actuator.c: every kernel write, real or dry-run --------------------- */

/*
 * The one seam between the manager and the kernel's DAMON files: the real
 * implementation writes, the dry-run one logs "dry-run: would write ..."
 * and returns ACTUATOR_DRY (> 0, nothing written). Errors are negative
 * errno, unlogged: the callers name the kdamond.
 */
#define ACTUATOR_DRY 1
struct actuator_ops {
	const char *name;
	/* on failure, *ret_failed / *ret_file name the entry and file (sysfs_write_file()) */
	int (*apply_list)(struct manager *m, const struct write_list *l, size_t *ret_failed, size_t *ret_file);
	int (*verify_list)(struct manager *m, const struct write_list *l, char **ret_mismatch);
	int (*state_cmd)(struct manager *m, unsigned index, const char *cmd);
	int (*write_nr_kdamonds)(struct manager *m, uint64_t n);
	/* param: "module/<name>/parameters/enabled" */
	int (*module_off)(struct manager *m, const char *param);
	/*
	 * The liveness of a kdamond damond starts, commits or stops: 1 runs
	 * (*ret_pid), 0 off, negative errno unknown (kdamond_check_alive());
	 * the dry run's: ACTUATOR_NONE (none of damond's runs, nothing read).
	 */
	int (*alive)(struct manager *m, unsigned index, int *ret_pid);
	/* update_tuned_intervals, then the tuned intervals into l's SYSFS_W_NOVERIFY writes; dry run: nothing */
	int (*carry_tuned)(struct manager *m, unsigned index, const char *kdamond, struct write_list *l);
	/* the feature probe on kdamonds/<index> (UINT_MAX: none to probe on) into m->features, *failed the file;
	 * the dry run's reads what exists, writes nothing and says so (ACTUATOR_DRY) */
	int (*probe_features)(struct manager *m, unsigned index, char *failed);
	/* the ownership record written atomically to path */
	int (*write_record)(const struct manager *m, const char *path, const char *text);
};
#define ACTUATOR_NONE (-ENODATA)
extern const struct actuator_ops actuator_real, actuator_dry_run;
const struct actuator_ops *actuator(const struct manager *m);
/* for status: whether the dry-run actuator is in place */
bool actuator_is_dry_run(const struct manager *m);
/* the one liveness check: 1 a kdamond runs in kdamonds/<index> (as *ret_pid), 0 off, negative errno: unknown */
int kdamond_check_alive(struct manager *m, unsigned index, int *ret_pid);

/* ---- manager-reload.c ---------------------------------------------------- */

/* free what m->last_reload holds */
void reload_result_clear(struct manager *m);

/* ---- ownership.c: the record, foreign kdamonds, exclusive modules -------- */

/* Save the ownership record now (not in a dry run); a failure is logged. */
void record_save(struct manager *m);
const struct owned_record *record_find(const struct ownership *o, unsigned index);
/* Refuse foreign kdamond directories and exclusive modules the config does not allow switching off. */
int ownership_check(struct manager *m, const struct ownership *own);
/* Switch off the exclusive modules the config allows damond to switch off. */
int disable_allowed_modules(struct manager *m);
/* nr_kdamonds = need, announced in the record first; may_defer: an EBUSY is returned quietly. */
int write_nr_kdamonds_ex(struct manager *m, uint64_t need, bool may_defer, const char *note);
int write_nr_kdamonds(struct manager *m, uint64_t need);
/* a kdamond of the config, or a removed one waiting for 'off', has kdamonds/<index> */
bool kdamond_index_taken(const struct manager *m, unsigned index);
/* kdamonds/<index> exists and no kdamond (nor a removed one waiting for 'off') uses it */
bool kdamond_dir_is_spare(const struct manager *m, unsigned index);

/* ---- kdamond-plan.c: targets, slots and the write list (no kernel writes) - */

void targets_free(struct damon_target_cfg *t, size_t n);
void slots_free(struct scheme_rt *s, size_t n);
void kd_done(struct kdamond_rt *kd);
int resolve_targets(struct manager *m, const struct kdamond_cfg *k, struct damon_target_cfg **ret, size_t *ret_n);
bool kd_follows_processes(const struct kdamond_cfg *k);
bool kd_targets_all_exited(const struct manager *m, const struct kdamond_rt *kd);
void targets_keep_positions(const struct damon_target_cfg *old, size_t nold, struct damon_target_cfg *t, size_t n,
			    bool compact);
bool kd_can_drop_targets(const struct manager *m, const struct kdamond_rt *kd);
/* exited targets in the middle dropped online with obsolete_target: how many (kdamond.c) */
int kd_drop_exited(struct manager *m, struct kdamond_rt *kd, const struct damon_target_cfg *keep, size_t nkeep);
bool targets_same_pids(const struct damon_target_cfg *a, size_t na, const struct damon_target_cfg *b, size_t nb);
void follow_arm(struct manager *m);
void follow_unwatch(struct kdamond_rt *kd);
/* manager-memory.c: node and 'auto' paddr targets resolved again on memory hotplug */
bool kd_follows_memory(const struct kdamond_cfg *k);
void memory_arm(struct manager *m);
void memory_free(struct manager *m);
/* what the kernel would refuse at 'on' and damond can see first: missing pids, kernel threads, memcg paths, nodes; -ESRCH with errs */
int preflight_config(struct manager *m, const struct damond_config *c, struct config_errors *errs);

/* kd's policy and a fresh overlay with its controllers' standing decisions (reset_kdamond: per-kdamond ones afresh) */
int kd_plan_build(struct manager *m, struct kdamond_rt *kd, bool reset_kdamond);
/* plan_compose() of kd's policy and overlay: the commit list over held (NULL: a start), the canonical list */
int kd_compose(struct manager *m, struct kdamond_rt *kd, const struct write_list *held, struct write_list *ret_commit,
	       struct write_list *ret_canonical);
/* a slot per config scheme, configured afresh */
int kd_init_slots_fresh(struct manager *m, struct kdamond_rt *kd);
/* re-lay kd's slots for its (new) cfg; *ret_restart when positions cannot be kept */
int kd_relayout(struct manager *m, struct kdamond_rt *kd, char **ret_restart);

/* ---- kdamond-apply.c: a kdamond takes a new config or new targets --------- */

/* One kdamond of the new config: nothing (0), a commit (1), or a restart (*ret_restart: why). Negative: the kernel
 * refused. */
int kd_apply_config(struct manager *m, struct kdamond_rt *kd, const char *why, char **ret_restart);
/* kd takes the targets t (n of them, owned from here): committed online, started, or stopped to wait */
int manager_retarget(struct manager *m, struct kdamond_rt *kd, struct damon_target_cfg *t, size_t n, const char *why);

/* ---- kdamond.c: a kdamond's kernel operations ---------------------------- */

int kd_start(struct manager *m, struct kdamond_rt *kd, const char *why);
int kd_stop(struct manager *m, struct kdamond_rt *kd, const char *why);
/* kd's policy and overlay committed online, over what it holds; -ECANCELED: the kdamond stopped on the commit */
int kd_commit(struct manager *m, struct kdamond_rt *kd, const char *scheme, const char *why);
void kd_forget_rates(struct kdamond_rt *kd);
/* kd's kdamond stopped behind damond's back (why: how damond found out) */
void kd_mark_dead(struct manager *m, struct kdamond_rt *kd, const char *why);
/* an index for every kdamond without one: the lowest that no kdamond, nor a removed one waiting for 'off', has */
void assign_indices(struct manager *m);
uint64_t kdamond_dirs_needed(const struct manager *m);
/* needed plus settings.spare_kdamonds: what damond writes when it has to write nr_kdamonds */
uint64_t kdamond_dirs_wanted(const struct manager *m);
/* as ensure_kdamond_dirs(); *ret_restarted: running kdamonds were stopped for the write */
int ensure_kdamond_dirs_ex(struct manager *m, bool *ret_restarted);
/* nr_kdamonds raised for every index (kdamonds stopped first); with m->retry_busy, EBUSY comes back quietly */
int ensure_kdamond_dirs(struct manager *m);
/* kd's record names its directory: take it, and the kdamond in it if that still runs as recorded */
int kd_take_over(struct manager *m, struct kdamond_rt *kd, const struct owned_record *rec);
/* targets resolved, then adopted (rec: its record, if any) or started afresh */
int kdamond_bring_up(struct manager *m, struct kdamond_rt *kd, const struct owned_record *rec);

/* ---- manager-retry.c: EBUSY continuations -------------------------------- */

void retry_arm(struct manager *m);
/* kd's start or commit was refused with EBUSY (the event loop does not wait): redo it from the retry timer */
void kd_defer(struct manager *m, struct kdamond_rt *kd, enum kd_pending what, bool regions_changed, const char *why);
/* a reload removed kd, but its 'off' stays busy */
void defer_off(struct manager *m, const struct kdamond_rt *kd);

/* ---- ager.c: the charge emulation's ager (docs/CONTROLLERS.md) ----------- */

/* its monitoring: coarse, so that its own sampling steals few accessed bits */
#define AGER_SAMPLE_US (100 * 1000ULL)
#define AGER_AGGR_US (1000 * 1000ULL)
/* its quota window; its quota is the larger of a pass over the span in AGER_PASS_S and AGER_QUOTA_MULT user
 * quotas per second, at most a pass per second */
#define AGER_RESET_MS 1000ULL
#define AGER_PASS_S 4
#define AGER_QUOTA_MULT 16
/* hysteresis: started at one quota of young page cache, stopped after this long under half a quota */
#define AGER_STOP_AFTER_US (30 * 1000 * 1000ULL)
/* after a stop, not started again before this; after a failed start or a death, not before AGER_RETRY_US */
#define AGER_RESTART_GAP_US (5 * 1000 * 1000ULL)
#define AGER_RETRY_US (30 * 1000 * 1000ULL)

/* each kdamond's ager started, kept or stopped for its charge emulation's oracle (the stats tick) */
void ager_tick(struct manager *m, usec_t now);
/* every ager stopped and forgotten (reload, damond's stop): the tick starts them again where still needed */
void ager_stop_all(struct manager *m, const char *why);
/* kd's ager for status (NULL: none considered) */
struct json_object *ager_json(const struct kdamond_rt *kd);

/* ---- manager-stats.c: the stats tick ------------------------------------- */

/*
 * The stats tick: each kdamond alive?, its schemes' stats and rates, then its
 * controllers, whose decisions land with one commit. Stats that need state
 * commands come from the stats worker (stats-worker.h), in stats_round_done().
 */
void manager_refresh_stats(struct manager *m, usec_t now);
/* Is a scheme held for its first quota window (lib/ctrl-window-ops.c)? Its release needs a tick that reads the
 * kernel's effective quota, which the kernel computes at the scheme's first apply (about one aggregation interval
 * after the start): until then the stats timer fires every HOLD_TICK_USEC (manager.c). */
bool manager_any_held(const struct manager *m);
struct stats_job;
void stats_round_done(void *userdata, struct stats_job *jobs, size_t n);

/* manager-status.c: DAMON_STAT's aggregation interval measured between the
 * snapshots of a paddr kdamond whose kernel tunes its intervals; every tick,
 * so the first status already has it */
void manager_dstat_observe(struct manager *m, struct kdamond_rt *kd);

/* ---- controllers.c: the controller host ---------------------------------- */

/* each CTRL_SCHEME controller's policy_slot() on kd's policy slots */
void ctrls_policy(struct manager *m, struct kdamond_rt *kd);
/* setup() kd's controller instances for its policy (kept where the slot kept its scheme), restore() the overlay */
int ctrls_setup(struct manager *m, struct kdamond_rt *kd, bool reset_kdamond);
/* free an array of controller states (scheme_rt.ctrl, kdamond_rt.ctrl) */
void ctrls_free(void **states);
/* one tick of kd's controllers on kd->overlay: the mask of those that changed it, why, the scheme if one */
unsigned ctrls_step(struct manager *m, struct kdamond_rt *kd, usec_t now, char *why, size_t len,
		    const char **ret_scheme);
/* what became of the commit of the tick's overlay: outcome() to the controllers in changed */
void ctrls_outcome(struct manager *m, struct kdamond_rt *kd, unsigned changed, enum ctrl_outcome o, usec_t now);
/* node_eligible_mem_bp's inputs for goal g of scheme s of kd: the eligible bytes of the monitor's last
 * aggregation of each target, on node g->nid and in all (unknown, with why, without one); now: the node
 * ranges' cache clock */
struct goal_eligible_obs;
void ctrls_goal_eligible(struct manager *m, const struct kdamond_rt *kd, const struct damos_cfg *s,
			 const struct damos_goal_cfg *g, usec_t now, struct goal_eligible_obs *ret);
/* each controller's status under its name: CTRL_SCHEME ones for slot, CTRL_KDAMOND ones (slot SIZE_MAX) */
void ctrls_status(struct manager *m, const struct kdamond_rt *kd, size_t slot, struct json_object *into);
