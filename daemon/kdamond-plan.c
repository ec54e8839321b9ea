/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A kdamond's plan: its targets resolved, its scheme slots laid out and
 * configured (the charge-ratio emulation, its page-state oracle), held as
 * kd->policy, with kd->overlay for the controllers' decisions; both rendered
 * by plan_compose() (lib/plan.h). No kernel writes.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "iomem.h"
#include "numa.h"
#include "procsel.h"
#include "log.h"
#include "manager-internal.h"

void targets_free(struct damon_target_cfg *t, size_t n)
{
	for (size_t i = 0; i < n && t; i++)
		if (!t[i].regions_borrowed)
			free(t[i].regions);
	free(t);
}

static void slot_done(struct scheme_rt *sl)
{
	free(sl->name);
	sl->name = NULL;
	ctrls_free(sl->ctrl);
	sl->ctrl = NULL;
}

void slots_free(struct scheme_rt *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		slot_done(&s[i]);
	free(s);
}

/* kd's process exit watches (manager-follow.c arms them) gone */
void follow_unwatch(struct kdamond_rt *kd)
{
	for (size_t i = 0; i < kd->nr_exit_watch; i++)
		sd_event_source_disable_unref(kd->exit_watch[i]);
	free(kd->exit_watch);
	free(kd->exit_pid);
	free(kd->exited);
	kd->exit_watch = NULL;
	kd->exit_pid = NULL;
	kd->exited = NULL;
	kd->nr_exit_watch = 0;
}

void kd_done(struct kdamond_rt *kd)
{
	if (kd->ager) {
		kd_done(&kd->ager->kd);
		kdamond_cfg_done(&kd->ager->cfg);
		free(kd->ager);
	}
	free(kd->name);
	free(kd->last_why);
	free(kd->record_hash);
	free(kd->pending_why);
	free(kd->last_error);
	follow_unwatch(kd);
	targets_free(kd->targets, kd->nr_targets);
	slots_free(kd->slots, kd->nr_slots);
	write_list_done(&kd->written);
	kd_policy_done(&kd->policy);
	kd_overlay_done(&kd->overlay);
	ctrls_free(kd->ctrl);
	for (size_t k = 0; k < _PAGEFLAGS_CLASS_MAX; k++)
		pageflags_map_done(&kd->pageflags[k]);
	*kd = (struct kdamond_rt){};
}

/* The live processes a selector target matches now: one target each (regions borrowed), appended to *t. */
static int resolve_selector(struct manager *m, const struct kdamond_cfg *k, const struct damon_target_cfg *src,
			    struct damon_target_cfg **t, size_t *n, size_t *cap)
{
	char cg[PATH_MAX], why[256];
	int pids[PROCSEL_MAX_PIDS];
	size_t np = 0;
	bool truncated = false;
	int r;

	snprintf(cg, sizeof(cg), "%s/fs/cgroup", m->sysfs_path);
	r = procsel_resolve(m->procfs_root, cg, src->select, src->select_arg, pids, &np, &truncated, why, sizeof(why));
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': cannot resolve '%s: %s': %s", k->name,
				       procsel_kind_to_string(src->select), src->select_arg, why);
	if (truncated)
		log_warning("kdamond '%s': more than %d processes match '%s: %s': the %d lowest pids are monitored",
			    k->name, PROCSEL_MAX_PIDS, procsel_kind_to_string(src->select), src->select_arg,
			    PROCSEL_MAX_PIDS);
	for (size_t i = 0; i < np; i++) {
		struct damon_target_cfg *x;
		bool dup = false;

		/* a process two selectors match is one target */
		for (size_t j = 0; j < *n && !dup; j++)
			dup = (*t)[j].pid == pids[i];
		if (dup)
			continue;
		x = APPEND(*t, *n, *cap);
		if (!x)
			return -ENOMEM;
		*x = *src;
		x->pid = pids[i];
		x->regions_borrowed = src->nr_regions > 0;
	}
	return 0;
}

/* x's ranges for src: System RAM ('auto'), its NUMA nodes, or the config's own ranges (borrowed) */
static int resolve_target_regions(struct manager *m, const struct kdamond_cfg *k, const struct damon_target_cfg *src,
				  struct damon_target_cfg *x)
{
	int r;

	if (src->regions_auto) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
		/* in core address units: iomem is in bytes, the kernel multiplies by addr_unit */
		r = iomem_system_ram_units(path, 4096, MAX(k->ctx.addr_unit, 1ULL), &x->regions, &x->nr_regions);
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot resolve 'regions: auto' from '%s': %s", k->name,
					       path, r == -EPERM ? "addresses read as zero (not root?)" : strerror(-r));
	} else if (src->regions_nodes) {
		char path[PATH_MAX], why[256], nodes[64];
		long ps = sysconf(_SC_PAGESIZE);

		snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
		r = numa_node_ranges(m->sysfs_path, path, src->regions_nodes, ps > 0 ? (uint64_t)ps : 4096,
				     MAX(k->ctx.addr_unit, 1ULL), &x->regions, &x->nr_regions, why, sizeof(why));
		if (r < 0) {
			numa_nodes_format(src->regions_nodes, nodes, sizeof(nodes));
			return log_error_errno(r, "kdamond '%s': cannot resolve 'regions: {node: %s}': %s", k->name,
					       nodes, why[0] ? why : strerror(-r));
		}
	} else if (src->nr_regions) {
		/* The user's ranges as they are: shared with the config, which
		 * outlives these (a reload replaces every kdamond's targets
		 * before it frees the old config). 20,000 ranges are 320 KB. */
		x->regions = src->regions;
		x->nr_regions = src->nr_regions;
		x->regions_borrowed = true;
	}
	return 0;
}

int resolve_targets(struct manager *m, const struct kdamond_cfg *k, struct damon_target_cfg **ret, size_t *ret_n)
{
	struct damon_target_cfg *t = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < k->ctx.nr_targets; i++) {
		const struct damon_target_cfg *src = &k->ctx.targets[i];
		struct damon_target_cfg *x;
		int r;

		if (k->ctx.ops != DAMON_OPS_PADDR && src->select != PROCSEL_PID) {
			r = resolve_selector(m, k, src, &t, &n, &cap);
			if (r < 0) {
				targets_free(t, n);
				return r;
			}
			continue;
		}
		if (k->ctx.ops != DAMON_OPS_PADDR && src->select == PROCSEL_PID) {
			bool dup = false;

			/* a pid a selector before it already matched: one target */
			for (size_t j = 0; j < n && !dup; j++)
				dup = t[j].select != PROCSEL_PID && t[j].pid == src->pid;
			if (dup)
				continue;
		}
		x = APPEND(t, n, cap);
		if (!x) {
			targets_free(t, n);
			return -ENOMEM;
		}
		*x = *src;
		x->regions = NULL;
		x->nr_regions = 0;
		x->regions_borrowed = false;
		r = resolve_target_regions(m, k, src, x);
		if (r < 0) {
			targets_free(t, n);
			return r;
		}
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

/* Selector targets (pidfile, comm, cgroup, unit) followed as processes come and go. */
bool kd_follows_processes(const struct kdamond_cfg *k)
{
	for (size_t i = 0; k->ctx.ops != DAMON_OPS_PADDR && i < k->ctx.nr_targets; i++)
		if (k->ctx.targets[i].select != PROCSEL_PID)
			return true;
	return false;
}

/* the kernel can drop a running target from the middle of kd's list (obsolete_target, 6.19+) */
bool kd_can_drop_targets(const struct manager *m, const struct kdamond_rt *kd)
{
	return kd->cfg && kd->cfg->ctx.ops != DAMON_OPS_PADDR &&
	       m->features.f[FEATURE_OBSOLETE_TARGET] == FEATURE_PRESENT;
}

static ssize_t pid_index(const struct damon_target_cfg *t, size_t n, int pid)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].pid == pid)
			return (ssize_t)i;
	return -1;
}

/*
 * The kernel matches targets by position, and a target that changes its
 * position takes over the regions (and history) of the one that was there.
 * So processes that stay keep their places. compact (the kernel drops
 * exited targets from the middle itself, kd_drop_exited()): the kept ones
 * close up in their order, new ones go to the end. Otherwise: a new process
 * takes the place of one that exited (only it starts from another's
 * regions), further new ones go to the end, and places still empty are
 * filled by the last targets (one moves, instead of every later one).
 */
void targets_keep_positions(const struct damon_target_cfg *old, size_t nold, struct damon_target_cfg *t, size_t n,
			    bool compact)
{
	struct damon_target_cfg *res;
	bool *used, *filled;
	size_t cap = MAX(nold, n), k = 0, out = 0;

	if (compact || n == 0) {
		for (size_t i = 0; i < nold && k < n; i++) {
			ssize_t j = pid_index(t + k, n - k, old[i].pid);

			if (j >= 0) {
				struct damon_target_cfg x = t[k + (size_t)j];

				memmove(&t[k + 1], &t[k], (size_t)j * sizeof(t[0]));
				t[k++] = x;
			}
		}
		return;
	}
	res = calloc(cap, sizeof(*res));
	used = calloc(n, sizeof(*used));
	filled = calloc(cap, sizeof(*filled));
	if (!res || !used || !filled) {
		free(res);
		free(used);
		free(filled);
		targets_keep_positions(old, nold, t, n, true); /* no memory: the simple order */
		return;
	}
	for (size_t i = 0; i < nold; i++) {
		ssize_t j = pid_index(t, n, old[i].pid);

		if (j >= 0 && !used[j]) {
			res[i] = t[j];
			used[j] = filled[i] = true;
		}
	}
	/* new processes: into the empty places first, then after the old list */
	for (size_t j = 0, p = 0; j < n; j++) {
		if (used[j])
			continue;
		while (p < cap && filled[p])
			p++;
		if (p < cap) {
			res[p] = t[j];
			filled[p] = used[j] = true;
		}
	}
	/* places still empty: the last target moves into the first of them */
	for (size_t lo = 0, hi = cap; lo < hi;) {
		if (filled[lo]) {
			lo++;
			continue;
		}
		while (hi > lo && !filled[hi - 1])
			hi--;
		if (hi <= lo + 1)
			break;
		res[lo] = res[hi - 1];
		filled[lo] = true;
		filled[--hi] = false;
	}
	for (size_t i = 0; i < cap && out < n; i++)
		if (filled[i])
			t[out++] = res[i];
	free(res);
	free(used);
	free(filled);
}

/* the same processes, in the same order */
bool targets_same_pids(const struct damon_target_cfg *a, size_t na, const struct damon_target_cfg *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].pid != b[i].pid)
			return false;
	return true;
}

/* ---- preflight: what the kernel would refuse, checked before any write ---- */

/* an error at pos of the file (main config or drop-in) that holds it */
#define preflight_error(errs, c, pos, ...) config_errors_add((errs), damond_config_file((c), (pos)), (pos), __VA_ARGS__)

/* 0: pid is a user process; -ESRCH: no such process; -EPERM: a kernel thread; -ECHILD: it exited (a zombie, no
 * memory left to monitor); other: unreadable. */
static int pid_check(const char *procfs_root, int pid)
{
	return procsel_pid_check(procfs_root, pid);
}

/* the directory exists under the sysfs root */
static bool sysfs_dir_exists(const struct manager *m, const char *fmt, ...) _printf_(2, 3);
static bool sysfs_dir_exists(const struct manager *m, const char *fmt, ...)
{
	char rel[PATH_MAX], path[PATH_MAX * 2];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", m->sysfs_path, rel);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* cgroup v2 at <sysfs>/fs/cgroup: memcg paths are checked there; elsewhere they cannot be */
static void preflight_memcg(const struct manager *m, const struct damond_config *c, const struct src_pos *pos,
			    const char *key, const char *path, struct config_errors *errs)
{
	char rel[PATH_MAX], top[PATH_MAX];

	snprintf(top, sizeof(top), "%s/fs/cgroup/cgroup.controllers", m->sysfs_path);
	if (!path || access(top, F_OK) < 0)
		return;
	snprintf(rel, sizeof(rel), "fs/cgroup/%s", path[0] == '/' ? path + 1 : path);
	if (sysfs_dir_exists(m, "%s", rel))
		return;
	preflight_error(errs, c, pos, key, "the cgroup '%s' does not exist (no '%s/%s')", path, m->sysfs_path, rel);
}

static void preflight_node(const struct manager *m, const struct damond_config *c, const struct src_pos *pos,
			   const char *key, long nid, struct config_errors *errs)
{
	if (nid < 0 || !sysfs_dir_exists(m, "devices/system/node") ||
	    sysfs_dir_exists(m, "devices/system/node/node%ld", nid))
		return;
	preflight_error(errs, c, pos, key, "NUMA node %ld does not exist (no '%s/devices/system/node/node%ld')", nid,
			m->sysfs_path, nid);
}

/* node targets resolve now, as they will at apply time: a node that is gone or has no memory
 * is this config's error, reported where it is written, before anything is applied */
static void preflight_node_targets(const struct manager *m, const struct damond_config *c, const struct kdamond_cfg *kd,
				   struct config_errors *errs)
{
	const struct damon_ctx_cfg *x = &kd->ctx;
	char key[256];

	for (size_t t = 0; x->ops == DAMON_OPS_PADDR && t < x->nr_targets; t++) {
		_cleanup_free_ struct damon_addr_range *rv = NULL;
		char path[PATH_MAX], why[256];
		size_t rn = 0;
		int r;

		if (!x->targets[t].regions_nodes)
			continue;
		snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
		r = numa_node_ranges(m->sysfs_path, path, x->targets[t].regions_nodes, 4096, MAX(x->addr_unit, 1ULL),
				     &rv, &rn, why, sizeof(why));
		if (r < 0) {
			snprintf(key, sizeof(key), "kdamonds.%s.targets[%zu].regions.node", kd->name, t);
			preflight_error(errs, c, &x->targets[t].pos, key, "kdamond '%s': %s", kd->name,
					why[0] ? why : strerror(-r));
		}
	}
}

static void preflight_pid_targets(const struct manager *m, const struct damond_config *c, const struct kdamond_cfg *kd,
				  struct config_errors *errs)
{
	const struct damon_ctx_cfg *x = &kd->ctx;
	char key[256];

	for (size_t t = 0; x->ops != DAMON_OPS_PADDR && t < x->nr_targets; t++) {
		int r;

		if (x->targets[t].select != PROCSEL_PID)
			continue; /* followed: no process matching now is waiting, not an error */
		r = pid_check(m->procfs_root, x->targets[t].pid);

		snprintf(key, sizeof(key), "kdamonds.%s.targets[%zu].pid", kd->name, t);
		if (r == -ESRCH)
			preflight_error(errs, c, &x->targets[t].pos, key,
					"kdamond '%s': no process has pid %d (no '%s/%d')", kd->name, x->targets[t].pid,
					m->procfs_root, x->targets[t].pid);
		else if (r == -ECHILD)
			preflight_error(errs, c, &x->targets[t].pos, key,
					"kdamond '%s': pid %d has exited (a zombie): it has no memory to monitor",
					kd->name, x->targets[t].pid);
		else if (r == -EPERM)
			preflight_error(errs, c, &x->targets[t].pos, key,
					"kdamond '%s': pid %d is a kernel thread: it has no address space to "
					"monitor",
					kd->name, x->targets[t].pid);
		else if (r < 0)
			preflight_error(errs, c, &x->targets[t].pos, key,
					"kdamond '%s': cannot check pid %d in '%s': %s", kd->name, x->targets[t].pid,
					m->procfs_root, strerror(-r));
	}
}

/* a scheme's NUMA nodes (target_nid, dests, node_ goals) and memcg paths (goals, filters) */
static void preflight_scheme(const struct manager *m, const struct damond_config *c, const struct kdamond_cfg *kd,
			     const struct damos_cfg *s, struct config_errors *errs)
{
	char key[256];

	snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.target_nid", kd->name, s->name);
	if (s->action == DAMOS_MIGRATE_HOT || s->action == DAMOS_MIGRATE_COLD)
		preflight_node(m, c, &s->pos, key, s->target_nid, errs);
	for (size_t d = 0; d < s->nr_dests; d++) {
		snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.dests[%zu].id", kd->name, s->name, d);
		preflight_node(m, c, &s->pos, key, (long)s->dests[d].id, errs);
	}
	for (size_t g = 0; g < s->quota.nr_goals; g++) {
		const struct damos_goal_cfg *goal = &s->quota.goals[g];
		const char *metric = damos_goal_metric_to_string(goal->metric);

		snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.quotas.goals[%zu]", kd->name, s->name, g);
		if (metric && strneq(metric, "node_", 5))
			preflight_node(m, c, &goal->pos, key, goal->nid, errs);
		/* a 'file' goal's path is a file a user program writes, perhaps later: not a memcg */
		if (goal->path && goal->metric != DAMOS_GOAL_FILE)
			preflight_memcg(m, c, &goal->pos, key, goal->path, errs);
	}
	for (size_t j = 0; j < s->nr_filters; j++) {
		const struct damos_filter_cfg *fl = &s->filters[j];

		snprintf(key, sizeof(key), "kdamonds.%s.schemes.%s.filters[%zu]", kd->name, s->name, j);
		if (fl->type == DAMOS_FILTER_MEMCG)
			preflight_memcg(m, c, &fl->pos, key, fl->memcg_path, errs);
	}
}

int preflight_config(struct manager *m, const struct damond_config *c, struct config_errors *errs)
{
	size_t before = errs->n;

	for (size_t k = 0; k < c->nr_kdamonds; k++) {
		const struct kdamond_cfg *kd = &c->kdamonds[k];

		preflight_node_targets(m, c, kd, errs);
		preflight_pid_targets(m, c, kd, errs);
		for (size_t i = 0; i < kd->ctx.nr_schemes; i++)
			preflight_scheme(m, c, kd, &kd->ctx.schemes[i], errs);
	}
	return errs->n > before ? -ESRCH : 0;
}

/*
 * kd's policy for its cfg, targets and slots, and a fresh overlay with the
 * decisions its controllers stand by (kept over a reload where the slot kept
 * its scheme; reset_kdamond: the per-kdamond ones start afresh).
 */
int kd_plan_build(struct manager *m, struct kdamond_rt *kd, bool reset_kdamond)
{
	int r;

	kd_policy_done(&kd->policy);
	kd_overlay_done(&kd->overlay);
	r = kd_policy_init(&kd->policy, kd->index, kd->cfg, kd->targets, kd->nr_targets, kd->nr_slots);
	if (r < 0)
		return r;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		int c = kd->slots[i].cfg_idx;

		kd->policy.slots[i].cfg = c >= 0 ? &kd->cfg->ctx.schemes[c] : NULL;
	}
	ctrls_policy(m, kd);
	r = kd_overlay_init(&kd->overlay, kd->nr_slots, kd->nr_targets);
	if (r < 0)
		return r;
	return ctrls_setup(m, kd, reset_kdamond);
}

/* plan_compose() of kd's policy and overlay: the commit list over held (NULL: a start) and the canonical list. */
int kd_compose(struct manager *m, struct kdamond_rt *kd, const struct write_list *held, struct write_list *ret_commit,
	       struct write_list *ret_canonical)
{
	kd->policy.index = kd->index; /* assigned after the slots were laid out, at start */
	return plan_compose(&kd->policy, &kd->overlay, &m->features, held, ret_commit, ret_canonical);
}

/*
 * When every scheme has watermarks, all of them can be deactivated at once;
 * the kdamond then only waits for activation and handles no sysfs command
 * (6.12 waits forever for a commit then, 7.x for one watermark interval).
 * An always-active slot that matches nothing (a tombstone) keeps commands
 * flowing. Appended, so it never shifts a scheme's slot.
 */
static int ensure_keepalive(struct kdamond_rt *kd)
{
	bool need = kd->nr_slots > 0;
	struct scheme_rt *ns;

	for (size_t i = 0; i < kd->nr_slots; i++) {
		int c = kd->slots[i].cfg_idx;

		if (c < 0 || kd->cfg->ctx.schemes[c].wmarks.metric == DAMOS_WMARK_NONE)
			need = false;
	}
	if (!need)
		return 0;
	ns = realloc(kd->slots, (kd->nr_slots + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	kd->slots = ns;
	kd->slots[kd->nr_slots++] = (struct scheme_rt){ .cfg_idx = -1, .keepalive = true };
	return 0;
}

int kd_init_slots_fresh(struct manager *m, struct kdamond_rt *kd)
{
	int r;

	slots_free(kd->slots, kd->nr_slots);
	kd->nr_slots = kd->cfg->ctx.nr_schemes;
	kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
	if (!kd->slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].cfg_idx = (int)i;
		kd->slots[i].name = strdup_or_null(kd->cfg->ctx.schemes[i].name);
	}
	r = ensure_keepalive(kd);
	return r < 0 ? r : kd_plan_build(m, kd, false);
}

/* Re-lay kd's slots for its (new) cfg; *ret_restart when positions cannot be kept. */
int kd_relayout(struct manager *m, struct kdamond_rt *kd, char **ret_restart)
{
	_cleanup_free_ const char **names = NULL;
	_cleanup_free_ int *map = NULL;
	struct scheme_rt *ns;
	size_t n = 0;
	int r;

	names = calloc(kd->nr_slots + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++)
		names[i] = kd->slots[i].name;
	r = damon_layout_slots(names, kd->nr_slots, &kd->cfg->ctx, &map, &n, ret_restart);
	if (r < 0)
		return r;
	ns = calloc(n ? n : 1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* Carry runtime state of a slot that keeps its scheme. */
		if (!*ret_restart && i < kd->nr_slots && map[i] >= 0 && kd->slots[i].name &&
		    streq(kd->slots[i].name, kd->cfg->ctx.schemes[map[i]].name)) {
			ns[i] = kd->slots[i];
			/* the new slot owns every pointer now (name, controller states) */
			kd->slots[i] = (struct scheme_rt){ .cfg_idx = -1 };
		} else if (!*ret_restart && i < kd->nr_slots && map[i] < 0)
			ns[i].keepalive = kd->slots[i].keepalive;
		ns[i].cfg_idx = map[i];
		if (!ns[i].name && map[i] >= 0)
			ns[i].name = strdup_or_null(kd->cfg->ctx.schemes[map[i]].name);
	}
	slots_free(kd->slots, kd->nr_slots);
	kd->slots = ns;
	kd->nr_slots = n;
	r = ensure_keepalive(kd);
	return r < 0 ? r : kd_plan_build(m, kd, false);
}
