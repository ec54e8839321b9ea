/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <time.h>

#include "damon-sysfs.h"
#include "log.h"

/*
 * The EBUSY retry policy and its counters are the caller's (struct
 * damon_busy), one per thread: the event loop's never sleeps, start and stop
 * wait, the stats worker's sleeps briefly and never logs (its thread must not
 * run the loop's log callback). A thread that chose none gets its own default.
 */
static _Thread_local struct damon_busy busy_default = DAMON_BUSY_DEFAULT;
static _Thread_local struct damon_busy *busy_cur;

static struct damon_busy *busy_policy(void)
{
	return busy_cur ? busy_cur : &busy_default;
}

struct damon_busy *damon_busy_use(struct damon_busy *b)
{
	struct damon_busy *prev = busy_cur;

	busy_cur = b;
	return prev;
}

/* ---- rendering ---------------------------------------------------------- */

struct render {
	struct write_list *l;
	const struct damon_features *f;
	int error;
};

/* Appends an entry with its path (fmt, relative to the sysfs root) and flags; NULL once rendering failed. */
static struct sysfs_write *put_path(struct render *r, unsigned flags, const char *fmt, va_list ap)
	_printf_(3, 0);
static struct sysfs_write *put_path(struct render *r, unsigned flags, const char *fmt, va_list ap)
{
	struct sysfs_write *w;

	if (r->error)
		return NULL;
	w = APPEND(r->l->v, r->l->n, r->l->cap);
	if (!w) {
		r->error = -ENOMEM;
		return NULL;
	}
	w->flags = flags;
	if (vasprintf(&w->path, fmt, ap) < 0) {
		w->path = NULL;
		r->error = -ENOMEM;
	}
	return w;
}

static void put(struct render *r, unsigned flags, const char *value, const char *fmt, ...) _printf_(4, 5);
static void put(struct render *r, unsigned flags, const char *value, const char *fmt, ...)
{
	struct sysfs_write *w;
	va_list ap;

	va_start(ap, fmt);
	w = put_path(r, flags, fmt, ap);
	va_end(ap);
	if (!w)
		return;
	w->value = strdup(value);
	if (!w->value)
		r->error = -ENOMEM;
}

#define put_u64(r, flags, v, ...)                                                                          \
	do {                                                                                               \
		char _b[32];                                                                               \
		snprintf(_b, sizeof(_b), "%" PRIu64, (uint64_t)(v));                                        \
		put((r), (flags), _b, __VA_ARGS__);                                                        \
	} while (0)
#define put_i64(r, flags, v, ...)                                                                          \
	do {                                                                                               \
		char _b[32];                                                                               \
		snprintf(_b, sizeof(_b), "%" PRId64, (int64_t)(v));                                         \
		put((r), (flags), _b, __VA_ARGS__);                                                        \
	} while (0)
#define put_bool(r, v, ...) put((r), SYSFS_W_BOOL, (v) ? "Y" : "N", __VA_ARGS__)

/* One region block for a target's regions directory: nr regions in 16 bytes each, not 2 x 2 strings. */
static void put_regions(struct render *r, const struct damon_addr_range *v, size_t nr, const char *fmt, ...)
	_printf_(4, 5);
static void put_regions(struct render *r, const struct damon_addr_range *v, size_t nr, const char *fmt, ...)
{
	struct sysfs_write *w;
	va_list ap;

	va_start(ap, fmt);
	w = put_path(r, SYSFS_W_REGIONS, fmt, ap);
	va_end(ap);
	if (w && sysfs_write_set_region_block(w, v, nr) < 0)
		r->error = -ENOMEM;
}

static bool has(const struct render *r, enum feature x)
{
	/* Unknown is treated as present: the write then fails loudly rather than silently skipping. */
	return r->f->f[x] != FEATURE_ABSENT;
}

static void render_filter(struct render *r, const char *dir, unsigned j, const struct damos_filter_cfg *fl)
{
	put(r, SYSFS_W_KEYWORD, damos_filter_type_to_string(fl->type), "%s/%u/type", dir, j);
	put_bool(r, fl->matching, "%s/%u/matching", dir, j);
	if (has(r, FEATURE_FILTER_ALLOW))
		put_bool(r, fl->allow, "%s/%u/allow", dir, j);
	switch (fl->type) {
	case DAMOS_FILTER_MEMCG:
		put(r, SYSFS_W_LOCKED, fl->memcg_path ? fl->memcg_path : "", "%s/%u/memcg_path", dir, j);
		break;
	case DAMOS_FILTER_ADDR:
		put_u64(r, 0, fl->addr.start, "%s/%u/addr_start", dir, j);
		put_u64(r, 0, fl->addr.end, "%s/%u/addr_end", dir, j);
		break;
	case DAMOS_FILTER_HUGEPAGE_SIZE:
		put_u64(r, 0, fl->hugepage.min, "%s/%u/min", dir, j);
		put_u64(r, 0, fl->hugepage.max, "%s/%u/max", dir, j);
		break;
	case DAMOS_FILTER_TARGET:
		put_i64(r, 0, fl->target_idx, "%s/%u/damon_target_idx", dir, j);
		break;
	default:
		break;
	}
}

/* Which directory a filter goes to on this kernel. */
static const char *filter_dir(const struct render *r, const struct damos_filter_cfg *fl)
{
	bool split = r->f->f[FEATURE_CORE_OPS_FILTERS] == FEATURE_PRESENT;

	switch (fl->layer) {
	case DAMOS_FILTER_LAYER_CORE:
		return "core_filters";
	case DAMOS_FILTER_LAYER_OPS:
		return "ops_filters";
	case DAMOS_FILTER_LAYER_LEGACY:
		return "filters";
	default:
		if (!split)
			return "filters";
		return damos_filter_type_is_core(fl->type) ? "core_filters" : "ops_filters";
	}
}

static void render_filters(struct render *r, const char *s, const struct scheme_slot *slot)
{
	static const char *const dirs[] = { "core_filters", "ops_filters", "filters" };
	_Static_assert(PATH_MAX > 256, "paths");
	const struct damos_cfg *c = slot->cfg;
	bool split = r->f->f[FEATURE_CORE_OPS_FILTERS] == FEATURE_PRESENT;
	/* damond's reject filters go first in the core layer's directory */
	const char *own = split ? "core_filters" : "filters";

	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		char dir[PATH_MAX];
		unsigned n = 0, j = 0;
		size_t nr_own = streq(dirs[d], own) ? slot->nr_reject : 0;

		if (streq(dirs[d], "filters") ? !has(r, FEATURE_LEGACY_FILTERS) : !split)
			continue;
		for (size_t i = 0; c && i < c->nr_filters; i++)
			if (streq(filter_dir(r, &c->filters[i]), dirs[d]))
				n++;
		snprintf(dir, sizeof(dir), "%s/%s", s, dirs[d]);
		put_u64(r, SYSFS_W_NR, n + nr_own, "%s/nr_filters", dir);
		for (size_t i = 0; i < nr_own; i++) {
			const struct damos_filter_cfg fl = {
				.type = DAMOS_FILTER_ADDR,
				.layer = split ? DAMOS_FILTER_LAYER_CORE : DAMOS_FILTER_LAYER_LEGACY,
				.matching = true,
				.allow = false,
				.addr = slot->reject[i],
			};

			render_filter(r, dir, j++, &fl);
		}
		for (size_t i = 0; c && i < c->nr_filters; i++)
			if (streq(filter_dir(r, &c->filters[i]), dirs[d]))
				render_filter(r, dir, j++, &c->filters[i]);
	}
}

static void render_scheme(struct render *r, const char *s, const struct scheme_slot *slot)
{
	const struct damos_cfg *c = slot->cfg;
	uint64_t bytes;

	if (!c) {
		/* Tombstone: keeps a removed scheme's slot so later slots keep their state. */
		put(r, SYSFS_W_KEYWORD, "stat", "%s/action", s);
		put_u64(r, 0, 0, "%s/access_pattern/sz/min", s);
		put_u64(r, 0, 0, "%s/access_pattern/sz/max", s);
		put_u64(r, 0, 0, "%s/access_pattern/nr_accesses/min", s);
		put_u64(r, 0, 0, "%s/access_pattern/nr_accesses/max", s);
		put_u64(r, 0, 0, "%s/access_pattern/age/min", s);
		put_u64(r, 0, 0, "%s/access_pattern/age/max", s);
		put_u64(r, 0, 0, "%s/quotas/ms", s);
		put_u64(r, 0, 0, "%s/quotas/bytes", s);
		put_u64(r, SYSFS_W_NR, 0, "%s/quotas/goals/nr_goals", s);
		render_filters(r, s, slot);
		if (has(r, FEATURE_DESTS))
			put_u64(r, SYSFS_W_NR, 0, "%s/dests/nr_dests", s);
		return;
	}

	put(r, SYSFS_W_KEYWORD, damos_action_to_string(c->action), "%s/action", s);
	put_i64(r, 0, c->target_nid, "%s/target_nid", s);
	put_u64(r, 0, c->apply_interval_us, "%s/apply_interval_us", s);
	put_u64(r, 0, slot->hold ? 0 : c->sz.min, "%s/access_pattern/sz/min", s);
	put_u64(r, 0, slot->hold ? 0 : c->sz.max, "%s/access_pattern/sz/max", s);
	put_u64(r, 0, c->nr_accesses.min, "%s/access_pattern/nr_accesses/min", s);
	put_u64(r, 0, c->nr_accesses.max, "%s/access_pattern/nr_accesses/max", s);
	put_u64(r, 0, c->age.min, "%s/access_pattern/age/min", s);
	put_u64(r, 0, c->age.max, "%s/access_pattern/age/max", s);

	put_u64(r, 0, c->quota.ms, "%s/quotas/ms", s);
	bytes = slot->quota_override ? slot->quota_bytes : c->quota.bytes;
	if (slot->quota_cap_set && (bytes == 0 || bytes > slot->quota_cap))
		bytes = slot->quota_cap;
	put_u64(r, 0, bytes, "%s/quotas/bytes", s);
	/*
	 * held (first_window): a 1 ms quota window rolls over at the next apply, so 6.12 computes the
	 * effective quota after one apply interval instead of one reset interval; nothing matches meanwhile.
	 * Not with goals the kernel tunes: its tuner would run once per apply interval while held.
	 */
	put_u64(r, 0,
		slot->hold && (slot->goals_by_damond || !c->quota.nr_goals) ? MIN(c->quota.reset_interval_ms, 1)
									    : c->quota.reset_interval_ms,
		"%s/quotas/reset_interval_ms", s);
	put_u64(r, 0, c->quota.weight_sz, "%s/quotas/weights/sz_permil", s);
	put_u64(r, 0, c->quota.weight_nr_accesses, "%s/quotas/weights/nr_accesses_permil", s);
	put_u64(r, 0, c->quota.weight_age, "%s/quotas/weights/age_permil", s);
	put_u64(r, SYSFS_W_NR, slot->goals_by_damond ? 0 : c->quota.nr_goals, "%s/quotas/goals/nr_goals", s);
	for (size_t g = 0; !slot->goals_by_damond && g < c->quota.nr_goals; g++) {
		const struct damos_goal_cfg *goal = &c->quota.goals[g];

		if (g < 32 && (slot->fed_goals & (1u << g))) {
			/* damond measures the metric this kernel lacks and feeds it */
			bool set = slot->goal_values && (slot->goal_values_set & (1u << g));

			put(r, SYSFS_W_KEYWORD, damos_goal_metric_to_string(DAMOS_GOAL_USER_INPUT),
			    "%s/quotas/goals/%zu/target_metric", s, g);
			put_u64(r, 0, goal->target_value, "%s/quotas/goals/%zu/target_value", s, g);
			put_u64(r, SYSFS_W_FEED, set ? slot->goal_values[g] : goal->target_value,
				"%s/quotas/goals/%zu/current_value", s, g);
			if (has(r, FEATURE_GOAL_NID))
				put_i64(r, 0, 0, "%s/quotas/goals/%zu/nid", s, g);
			continue;
		}
		put(r, SYSFS_W_KEYWORD, damos_goal_metric_to_string(goal->metric), "%s/quotas/goals/%zu/target_metric",
		    s, g);
		put_u64(r, 0, goal->target_value, "%s/quotas/goals/%zu/target_value", s, g);
		if (goal->metric == DAMOS_GOAL_USER_INPUT)
			put_u64(r, 0, goal->current_value, "%s/quotas/goals/%zu/current_value", s, g);
		if (has(r, FEATURE_GOAL_NID))
			put_i64(r, 0, goal->nid, "%s/quotas/goals/%zu/nid", s, g);
		if (goal->path && has(r, FEATURE_GOAL_PATH))
			put(r, SYSFS_W_LOCKED, goal->path, "%s/quotas/goals/%zu/path", s, g);
	}
	if (c->quota.goal_tuner_set && !slot->goals_by_damond &&
	    (has(r, FEATURE_GOAL_TUNER) || c->quota.goal_tuner != DAMOS_TUNER_CONSIST))
		put(r, SYSFS_W_KEYWORD, damos_goal_tuner_to_string(c->quota.goal_tuner), "%s/quotas/goal_tuner", s);
	if (r->f->f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT) {
		bool on = slot->native_fail_charge;

		put_u64(r, 0, on ? c->quota.fail_charge_num : 0, "%s/quotas/fail_charge_num", s);
		put_u64(r, 0, on ? c->quota.fail_charge_denom : 0, "%s/quotas/fail_charge_denom", s);
	}

	put(r, SYSFS_W_KEYWORD, damos_wmark_metric_to_string(c->wmarks.metric), "%s/watermarks/metric", s);
	put_u64(r, 0, c->wmarks.interval_us, "%s/watermarks/interval_us", s);
	put_u64(r, 0, c->wmarks.high, "%s/watermarks/high", s);
	put_u64(r, 0, c->wmarks.mid, "%s/watermarks/mid", s);
	put_u64(r, 0, c->wmarks.low, "%s/watermarks/low", s);

	render_filters(r, s, slot);

	if (has(r, FEATURE_DESTS)) {
		put_u64(r, SYSFS_W_NR, c->nr_dests, "%s/dests/nr_dests", s);
		for (size_t d = 0; d < c->nr_dests; d++) {
			put_u64(r, 0, c->dests[d].id, "%s/dests/%zu/id", s, d);
			put_u64(r, 0, c->dests[d].weight, "%s/dests/%zu/weight", s, d);
		}
	}
	if (has(r, FEATURE_MAX_NR_SNAPSHOTS))
		put_u64(r, 0, c->max_nr_snapshots, "%s/stats/max_nr_snapshots", s);
}

int damon_render_obsolete(unsigned k, const size_t *idx, size_t n, bool obsolete, int stand_in_pid,
			  struct write_list *ret)
{
	struct write_list l = {};
	struct render r = { .l = &l };

	for (size_t i = 0; i < n; i++) {
		if (obsolete)
			put_i64(&r, 0, stand_in_pid, DAMON_KDAMONDS_DIR "/%u/contexts/0/targets/%zu/pid_target", k,
				idx[i]);
		put_bool(&r, obsolete, DAMON_KDAMONDS_DIR "/%u/contexts/0/targets/%zu/obsolete_target", k, idx[i]);
	}
	if (r.error) {
		write_list_done(&l);
		return r.error;
	}
	*ret = l;
	return 0;
}

int damon_render_kdamond(unsigned k, const struct kdamond_plan *plan, const struct damon_features *f,
			 struct write_list *ret)
{
	const struct damon_ctx_cfg *x = &plan->cfg->ctx;
	struct write_list l = {};
	struct render r = { .l = &l, .f = f };
	char c[128]; /* "kernel/mm/damon/admin/kdamonds/<k>/contexts/0" */
	bool tuned = x->intervals_goal.aggrs > 0;

	snprintf(c, sizeof(c), DAMON_KDAMONDS_DIR "/%u/contexts/0", k);

	put_u64(&r, SYSFS_W_NR, 1, DAMON_KDAMONDS_DIR "/%u/contexts/nr_contexts", k);
	/* a running context cannot change them: a reload restarts the kdamond instead */
	put(&r, SYSFS_W_KEYWORD | SYSFS_W_RESTART, damon_ops_to_string(x->ops), "%s/operations", c);
	if (f->f[FEATURE_ADDR_UNIT] == FEATURE_PRESENT || x->addr_unit != 1)
		put_u64(&r, SYSFS_W_RESTART, x->addr_unit, "%s/addr_unit", c);
	if (f->f[FEATURE_PAUSE] == FEATURE_PRESENT || x->pause)
		put_bool(&r, x->pause, "%s/pause", c);

	/* intervals_goal tunes sample/aggr in the kernel's copy: don't verify them then */
	put_u64(&r, tuned ? SYSFS_W_NOVERIFY : 0, x->sample_us, "%s/monitoring_attrs/intervals/sample_us", c);
	put_u64(&r, tuned ? SYSFS_W_NOVERIFY : 0, x->aggr_us, "%s/monitoring_attrs/intervals/aggr_us", c);
	put_u64(&r, 0, x->update_us, "%s/monitoring_attrs/intervals/update_us", c);
	if (f->f[FEATURE_INTERVALS_GOAL] == FEATURE_PRESENT || tuned) {
		const char *g = "monitoring_attrs/intervals/intervals_goal";

		put_u64(&r, 0, x->intervals_goal.access_bp, "%s/%s/access_bp", c, g);
		put_u64(&r, 0, x->intervals_goal.aggrs, "%s/%s/aggrs", c, g);
		put_u64(&r, 0, x->intervals_goal.min_sample_us, "%s/%s/min_sample_us", c, g);
		put_u64(&r, 0, x->intervals_goal.max_sample_us, "%s/%s/max_sample_us", c, g);
	}
	put_u64(&r, 0, x->min_nr_regions, "%s/monitoring_attrs/nr_regions/min", c);
	put_u64(&r, 0, x->max_nr_regions, "%s/monitoring_attrs/nr_regions/max", c);

	put_u64(&r, SYSFS_W_NR, plan->nr_targets, "%s/targets/nr_targets", c);
	for (size_t t = 0; t < plan->nr_targets; t++) {
		const struct damon_target_cfg *tg = &plan->targets[t];
		size_t nr = plan->keep_regions ? 0 : tg->nr_regions;

		/* kd_drop_exited() sets it for one commit only; every other commit says N */
		if (x->ops != DAMON_OPS_PADDR && has(&r, FEATURE_OBSOLETE_TARGET))
			put_bool(&r, false, "%s/targets/%zu/obsolete_target", c, t);
		if (x->ops != DAMON_OPS_PADDR)
			put_i64(&r, 0, tg->pid, "%s/targets/%zu/pid_target", c, t);
		put_u64(&r, SYSFS_W_NR | SYSFS_W_TARGET_NR, nr, "%s/targets/%zu/regions/nr_regions", c, t);
		if (nr)
			put_regions(&r, tg->regions, nr, "%s/targets/%zu/regions", c, t);
	}

	put_u64(&r, SYSFS_W_NR, plan->nr_slots, "%s/schemes/nr_schemes", c);
	for (size_t i = 0; i < plan->nr_slots; i++) {
		char s[PATH_MAX];

		snprintf(s, sizeof(s), "%s/schemes/%zu", c, i);
		render_scheme(&r, s, &plan->slots[i]);
	}

	if (f->f[FEATURE_REFRESH_MS] == FEATURE_PRESENT || plan->cfg->refresh_ms)
		put_u64(&r, 0, plan->cfg->refresh_ms, DAMON_KDAMONDS_DIR "/%u/refresh_ms", k);

	if (r.error) {
		write_list_done(&l);
		return r.error;
	}
	*ret = l;
	return 0;
}

/* ---- slot layout -------------------------------------------------------- */

int damon_layout_slots(const char *const *old_names, size_t n_old, const struct damon_ctx_cfg *new_cfg, int **ret_map,
		       size_t *ret_n, char **ret_restart_reason)
{
	_cleanup_free_ int *map = NULL;
	size_t n = 0, appended = 0;
	int last_new_idx = -1;

	*ret_restart_reason = NULL;
	map = calloc(n_old + new_cfg->nr_schemes + 1, sizeof(int));
	if (!map)
		return -ENOMEM;

	/* Kept and removed schemes stay where they are. */
	for (size_t i = 0; i < n_old; i++) {
		int found = -1;

		for (size_t j = 0; old_names[i] && j < new_cfg->nr_schemes; j++)
			if (streq(old_names[i], new_cfg->schemes[j].name)) {
				found = (int)j;
				break;
			}
		if (found >= 0) {
			if (found < last_new_idx) {
				if (asprintf(ret_restart_reason,
					     "scheme '%s' moved before '%s': commit matches schemes by position",
					     new_cfg->schemes[found].name, new_cfg->schemes[last_new_idx].name) < 0)
					return -ENOMEM;
			}
			last_new_idx = MAX(last_new_idx, found);
		}
		map[n++] = found;
	}
	/* New schemes are appended in config order. */
	for (size_t j = 0; j < new_cfg->nr_schemes; j++) {
		bool present = false;

		for (size_t i = 0; i < n_old && !present; i++)
			present = map[i] == (int)j;
		if (!present) {
			if ((int)j < last_new_idx && !*ret_restart_reason &&
			    asprintf(ret_restart_reason, "new scheme '%s' sits before existing ones",
				     new_cfg->schemes[j].name) < 0)
				return -ENOMEM;
			map[n++] = (int)j;
			appended++;
		}
	}
	/* Trailing tombstones can go when nothing new takes their index. */
	if (!appended)
		while (n > 0 && map[n - 1] < 0)
			n--;

	if (*ret_restart_reason) {
		/* A restart starts from a clean, config-ordered layout. */
		n = new_cfg->nr_schemes;
		for (size_t j = 0; j < n; j++)
			map[j] = (int)j;
	}
	*ret_map = TAKE_PTR(map);
	*ret_n = n;
	return 0;
}

/* ---- I/O ---------------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Before retry attempt i + 1 of a busy file: sleep the backoff delay and
 * return true, or return false when b's attempts are used up.
 */
static bool busy_backoff(struct damon_busy *b, unsigned i, unsigned *delay)
{
	if (i + 1 >= MAX(b->attempts, 1u))
		return false;
	sleep_ms(*delay);
	b->slept_ms += *delay;
	*delay = MIN(*delay * 2, 500u);
	return true;
}

/*
 * op on path until it returns something other than EBUSY, or the calling
 * thread's policy gives up (busy_backoff()): the one retry of everything that
 * takes the global DAMON sysfs lock (writes, and reads of state and pid).
 */
static int busy_retry(int (*op)(struct sysfs_root *root, const char *path, void *arg), struct sysfs_root *root,
		      const char *path, void *arg)
{
	struct damon_busy *b = busy_policy();
	unsigned delay = b->first_delay_ms;
	int r;

	for (unsigned i = 0;; i++) {
		r = op(root, path, arg);
		if (r != -EBUSY)
			return r;
		b->nr_busy++;
		if (!b->quiet)
			log_debug("'%s': busy (attempt %u)", path, i + 1);
		if (!busy_backoff(b, i, &delay))
			return r;
	}
}

static int op_write_str(struct sysfs_root *root, const char *path, void *value)
{
	return sysfs_write_str(root, path, value);
}

static int op_read_str(struct sysfs_root *root, const char *path, void *ret)
{
	char **s = ret;

	free(*s);
	*s = NULL;
	return sysfs_read_str(root, path, s);
}

static int op_read_i64(struct sysfs_root *root, const char *path, void *ret)
{
	return sysfs_read_i64(root, path, ret);
}

/* A write that takes the global DAMON sysfs lock (trylock in the kernel). */
int damon_write_locked(struct sysfs_root *root, const char *path, const char *value)
{
	return busy_retry(op_write_str, root, path, (void *)value);
}

int damon_write_list_apply_ex(struct sysfs_root *root, const struct write_list *l, size_t *ret_failed,
			      size_t *ret_file)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct sysfs_write *w = &l->v[i];
		size_t nf = sysfs_write_nr_files(w);

		for (size_t j = 0; j < nf; j++) {
			struct sysfs_file fb;
			const struct sysfs_file *f = sysfs_write_file(w, j, &fb);
			int r;

			r = w->flags & (SYSFS_W_NR | SYSFS_W_LOCKED) ? damon_write_locked(root, f->path, f->value)
						  : sysfs_write_str(root, f->path, f->value);
			if (r < 0) {
				if (ret_failed)
					*ret_failed = i;
				if (ret_file)
					*ret_file = j;
				return r;
			}
		}
	}
	return 0;
}

int damon_read_u64_value(const char *path, char **ret_value, void *userdata)
{
	uint64_t v;
	int r;

	r = sysfs_read_u64(userdata, path, &v);
	if (r < 0)
		return r;
	if (asprintf(ret_value, "%" PRIu64, v) < 0)
		return -ENOMEM;
	return 0;
}

int damon_write_list_apply(struct sysfs_root *root, const struct write_list *l, size_t *ret_failed)
{
	return damon_write_list_apply_ex(root, l, ret_failed, NULL);
}

static bool parse_bool_str(const char *s, bool *ret)
{
	if (streq(s, "Y") || streq(s, "y") || streq(s, "1") || streq(s, "on")) {
		*ret = true;
		return true;
	}
	if (streq(s, "N") || streq(s, "n") || streq(s, "0") || streq(s, "off")) {
		*ret = false;
		return true;
	}
	return false;
}

static int verify_file(struct sysfs_root *root, unsigned flags, const struct sysfs_file *f, char **ret_mismatch)
{
	_cleanup_free_ char *got = NULL;
	bool ok;
	int r;

	r = sysfs_read_str(root, f->path, &got);
	if (r < 0) {
		if (asprintf(ret_mismatch, "'%s': cannot read back: %s", f->path, strerror(-r)) < 0)
			*ret_mismatch = NULL;
		return r;
	}
	if (flags & SYSFS_W_BOOL) {
		bool a, b;

		ok = parse_bool_str(got, &a) && parse_bool_str(f->value, &b) && a == b;
	} else if (flags & SYSFS_W_KEYWORD) {
		size_t n = strcspn(got, " \n");

		ok = n == strlen(f->value) && strneq(got, f->value, n);
	} else {
		ok = streq(got, f->value);
	}
	if (!ok) {
		if (asprintf(ret_mismatch, "'%s' reads '%s', damond wrote '%s'", f->path, got, f->value) < 0)
			*ret_mismatch = NULL;
		return -EIO;
	}
	return 0;
}

int damon_write_list_verify(struct sysfs_root *root, const struct write_list *l, char **ret_mismatch)
{
	*ret_mismatch = NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct sysfs_write *w = &l->v[i];
		size_t nf = sysfs_write_nr_files(w);

		if (w->flags & SYSFS_W_NOVERIFY)
			continue;
		for (size_t j = 0; j < nf; j++) {
			struct sysfs_file fb;
			int r;

			r = verify_file(root, w->flags, sysfs_write_file(w, j, &fb), ret_mismatch);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int damon_state_cmd(struct sysfs_root *root, unsigned k, const char *cmd)
{
	char p[PATH_MAX];

	return damon_write_locked(root, sysfs_pathf(p, DAMON_KDAMONDS_DIR "/%u/state", k), cmd);
}

int damon_read_state(struct sysfs_root *root, unsigned k, bool *ret_on, int *ret_pid)
{
	_cleanup_free_ char *s = NULL;
	char p[PATH_MAX];
	int64_t pid = -1;
	int r;

	/* Reading state/pid takes the global lock too: retry EBUSY with the same policy as writes. */
	r = busy_retry(op_read_str, root, sysfs_pathf(p, DAMON_KDAMONDS_DIR "/%u/state", k), &s);
	if (r < 0)
		return r;
	if (ret_pid) {
		r = busy_retry(op_read_i64, root, sysfs_pathf(p, DAMON_KDAMONDS_DIR "/%u/pid", k), &pid);
		if (r < 0)
			return r;
		*ret_pid = (int)pid;
	}
	if (ret_on)
		*ret_on = streq(s, "on");
	return 0;
}

int damon_read_nr_kdamonds(struct sysfs_root *root, uint64_t *ret)
{
	return sysfs_read_u64(root, DAMON_KDAMONDS_DIR "/nr_kdamonds", ret);
}

int damon_write_nr_kdamonds(struct sysfs_root *root, uint64_t n)
{
	char b[32];

	snprintf(b, sizeof(b), "%" PRIu64, n);
	return damon_write_locked(root, DAMON_KDAMONDS_DIR "/nr_kdamonds", b);
}

int damon_read_scheme_stats(struct sysfs_root *root, unsigned k, unsigned slot, struct damos_stats *ret)
{
	struct damos_stats st = {};
	char s[PATH_MAX], p[PATH_MAX];
	int r;

	snprintf(s, sizeof(s), DAMON_KDAMONDS_DIR "/%u/contexts/0/schemes/%u", k, slot);
	if ((r = sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/nr_tried", s), &st.nr_tried)) < 0 ||
	    (r = sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/sz_tried", s), &st.sz_tried)) < 0 ||
	    (r = sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/nr_applied", s), &st.nr_applied)) < 0 ||
	    (r = sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/sz_applied", s), &st.sz_applied)) < 0 ||
	    (r = sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/qt_exceeds", s), &st.qt_exceeds)) < 0)
		return r;
	if (sysfs_read_u64(root, sysfs_pathf(p, "%s/stats/sz_ops_filter_passed", s), &st.sz_ops_filter_passed) >= 0)
		st.has_sz_ops_filter_passed = true;
	(void)sysfs_read_u64(root, sysfs_pathf(p, "%s/quotas/effective_bytes", s), &st.effective_bytes);
	*ret = st;
	return 0;
}
