/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The status, features and regions documents, as served to damondctl. */
#include <json-c/json.h>

#include "damond-config.h"
#include "manager-internal.h"
#include "numa.h"
#include "damon-stat.h"
#include "metrics.h"
#include "snapshot.h"
#include "status-render.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define JADD(o, k, v) json_object_object_add((o), (k), (v))
#define JU64(v) json_object_new_uint64((uint64_t)(v))

/* configured ranges listed per target in status (all are counted) */
#define STATUS_MAX_RANGES 16
#define JSTR(v) ((v) ? json_object_new_string(v) : NULL)

/* damond keeps CLOCK_MONOTONIC; damondctl shows wall-clock times. */
static uint64_t when_us(usec_t mono)
{
	struct timespec ts;
	usec_t now_rt, now_mono = now_usec();

	clock_gettime(CLOCK_REALTIME, &ts);
	now_rt = (usec_t)ts.tv_sec * 1000000ULL + (usec_t)ts.tv_nsec / 1000ULL;
	return now_rt - (now_mono - MIN(mono, now_mono));
}

static struct json_object *when_json(usec_t mono)
{
	return mono ? json_object_new_uint64(when_us(mono)) : NULL;
}

static struct json_object *range_json(const struct damon_range *r)
{
	struct json_object *o = json_object_new_object();

	JADD(o, "min", JU64(r->min));
	JADD(o, "max", JU64(r->max));
	return o;
}

int manager_features_json(struct manager *m, struct json_object **ret)
{
	*ret = features_json(&m->features, m->features_from_record ? "ownership record" : "sysfs");
	return *ret ? 0 : -ENOMEM;
}

/* Does free memory (per-mille) sit where the scheme's watermarks keep it active? */
static const char *wmark_state(struct manager *m, const struct damos_cfg *s, uint64_t *ret_rate)
{
	char path[512];
	unsigned long long total = 0, avail = 0, v;
	char key[64];
	FILE *f;
	uint64_t rate;

	if (s->wmarks.metric == DAMOS_WMARK_NONE)
		return "n/a";
	snprintf(path, sizeof(path), "%s/meminfo", m->procfs_root);
	f = fopen(path, "re");
	if (!f)
		return "unknown";
	while (fscanf(f, "%63s %llu kB\n", key, &v) == 2) {
		if (streq(key, "MemTotal:"))
			total = v;
		else if (streq(key, "MemFree:"))
			avail = v;
	}
	fclose(f);
	if (!total)
		return "unknown";
	rate = avail * 1000 / total;
	*ret_rate = rate;
	/* The kernel deactivates above high or below low, activates below mid. */
	if (rate > s->wmarks.high || rate < s->wmarks.low)
		return "inactive";
	if (rate < s->wmarks.mid)
		return "active";
	return "active-or-hysteresis";
}

/* A goal as configured, with what the kernel compares it with, measured by damond (lib/goal-current.c) */
/* what the kernel's goal compares, measured by damond (lib/goal-current.c) */
static void goal_measure(struct manager *m, const struct kdamond_rt *kd, const struct damos_cfg *s,
			 const struct damos_goal_cfg *g, struct goal_eligible_obs *el, struct goal_current *cur)
{
	/* node_eligible_mem_bp from the monitor's regions, shown natively too (the kernel never shows its value) */
	if (g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP)
		ctrls_goal_eligible(m, kd, s, g, now_usec(), el);
	goal_current_read(m->procfs_root, m->sysfs_path, g, s->quota.reset_interval_ms, &m->goal_psi, now_usec(), el,
			  cur);
}

/* native: the kernel measures it; fed: the kernel lacks the metric, damond measures it and hands the
 * value to the kernel as a user_input goal (the goal_feed controller); damond: the kernel has no temporal
 * tuner, damond scores the goals and caps the quota itself, the kernel gets none */
static const char *goal_mode(const struct manager *m, const struct damos_cfg *s, const struct damos_goal_cfg *g)
{
	return features_temporal_emulated(&m->features, s) ? "damond"
	       : g->metric == DAMOS_GOAL_USER_INPUT        ? "user"
	       : features_goal_cfg_fed(&m->features, g)    ? "fed"
							   : "native";
}

/* A goal as configured, with what the kernel compares it with, measured by damond */
static struct json_object *goal_json(struct manager *m, const struct kdamond_rt *kd, const struct damos_cfg *s,
				     const struct damos_goal_cfg *g)
{
	struct json_object *go = json_object_new_object();
	struct goal_eligible_obs el = {};
	struct goal_current cur;

	goal_measure(m, kd, s, g, &el, &cur);
	JADD(go, "metric", json_object_new_string(damos_goal_metric_to_string(g->metric)));
	JADD(go, "mode", json_object_new_string(goal_mode(m, s, g)));
	JADD(go, "target_value", JU64(g->target_value));
	JADD(go, "current_value", cur.known ? JU64(cur.value) : NULL);
	JADD(go, "unit", json_object_new_string(cur.unit));
	/* the kernel's score: current * 10000 / target; >= 10000 means met (the tuner backs off) */
	JADD(go, "score_bp", cur.known && g->target_value ? JU64(goal_score_bp(cur.value, g->target_value)) : NULL);
	JADD(go, "current_unknown", cur.known ? NULL : json_object_new_string(cur.why));
	if ((g->metric >= DAMOS_GOAL_NODE_MEM_USED_BP && g->metric <= DAMOS_GOAL_NODE_MEMCG_FREE_BP) ||
	    g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP)
		JADD(go, "nid", json_object_new_int(g->nid));
	JADD(go, "path", g->path ? json_object_new_string(g->path) : NULL);
	/* what the eligible bytes counted: the LRU pages, as the kernel's folio walk (per block of physical memory,
	 * refreshed round robin: the share of the span read so far, the span's pages), or whole regions (no
	 * /proc/kpageflags) */
	if (g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP && (el.known || el.pages)) {
		JADD(go, "eligible_counted", json_object_new_string(el.pages ? "lru_pages" : "whole_regions"));
		JADD(go, "eligible_read_permil", el.pages ? JU64(el.read_permil) : NULL);
		JADD(go, "eligible_span_pages", el.pages ? JU64(el.pass_pages) : NULL);
	}
	return go;
}

static struct json_object *quota_json(struct manager *m, const struct kdamond_rt *kd, const struct scheme_rt *sl,
				      const struct damos_cfg *s)
{
	struct json_object *q, *goals;

	q = json_object_new_object();
	/* the config's keys (quotas: sz_bytes, time_ms, reset_interval_ms) */
	JADD(q, "sz_bytes", JU64(s->quota.bytes));
	JADD(q, "time_ms", JU64(s->quota.ms));
	JADD(q, "reset_interval_ms", JU64(s->quota.reset_interval_ms));
	JADD(q, "effective_sz_bytes", sl->have_st ? JU64(sl->st.effective_bytes) : NULL);
	goals = json_object_new_array();
	for (size_t g = 0; g < s->quota.nr_goals; g++)
		json_object_array_add(goals, goal_json(m, kd, s, &s->quota.goals[g]));
	JADD(q, "goals", goals);
	JADD(q, "goal_tuner",
	     s->quota.goal_tuner_set ? json_object_new_string(damos_goal_tuner_to_string(s->quota.goal_tuner)) : NULL);
	return q;
}

static struct json_object *stats_json(const struct kdamond_rt *kd, const struct scheme_rt *sl)
{
	struct json_object *st;

	st = json_object_new_object();
	JADD(st, "nr_tried", JU64(sl->st.nr_tried));
	JADD(st, "sz_tried", JU64(sl->st.sz_tried));
	JADD(st, "nr_applied", JU64(sl->st.nr_applied));
	JADD(st, "sz_applied", JU64(sl->st.sz_applied));
	JADD(st, "qt_exceeds", JU64(sl->st.qt_exceeds));
	JADD(st, "sz_ops_filter_passed", sl->st.has_sz_ops_filter_passed ? JU64(sl->st.sz_ops_filter_passed) : NULL);
	/* bpf: damos_stat_after_apply_interval events; sysfs: update_schemes_stats + stats/ files */
	JADD(st, "source", json_object_new_string(obs_source_to_string(sl->stats_source)));
	/* the last values a kdamond that is no longer on reached: totals, not current */
	JADD(st, "stale", json_object_new_boolean(!kd->running));
	/* how old the values are: a stats round that waits for a busy kdamond (its state commands, off the
	 * event loop) can leave them a few ticks behind the kernel's files */
	{
		usec_t now = now_usec();

		JADD(st, "age_ms", JU64(now > sl->st_at ? (now - sl->st_at) / 1000 : 0));
	}
	return st;
}

static struct json_object *watermarks_json(struct manager *m, const struct damos_cfg *s)
{
	uint64_t free_permil = UINT64_MAX;
	struct json_object *wm;

	wm = json_object_new_object();
	JADD(wm, "metric", json_object_new_string(damos_wmark_metric_to_string(s->wmarks.metric)));
	JADD(wm, "state", json_object_new_string(wmark_state(m, s, &free_permil)));
	if (s->wmarks.metric != DAMOS_WMARK_NONE) {
		/* per mille of total memory, as the kernel's free_mem_rate */
		JADD(wm, "free_permil", free_permil != UINT64_MAX ? JU64(free_permil) : NULL);
		JADD(wm, "interval_us", JU64(s->wmarks.interval_us));
		JADD(wm, "high_permil", JU64(s->wmarks.high));
		JADD(wm, "mid_permil", JU64(s->wmarks.mid));
		JADD(wm, "low_permil", JU64(s->wmarks.low));
	}
	return wm;
}

static struct json_object *scheme_json(struct manager *m, const struct kdamond_rt *kd, size_t i)
{
	const struct scheme_rt *sl = &kd->slots[i];
	const struct damos_cfg *s = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
	struct json_object *o = json_object_new_object(), *ap, *rates;

	JADD(o, "name", JSTR(sl->name));
	JADD(o, "slot", JU64(i));
	JADD(o, "tombstone", json_object_new_boolean(!s && !sl->keepalive));
	JADD(o, "keepalive", json_object_new_boolean(sl->keepalive));
	JADD(o, "action", json_object_new_string(s ? damos_action_to_string(s->action) : "stat"));
	if (s) {
		ap = json_object_new_object();
		JADD(ap, "sz_bytes", range_json(&s->sz));
		JADD(ap, "nr_accesses", range_json(&s->nr_accesses));
		JADD(ap, "age", range_json(&s->age));
		JADD(o, "access_pattern", ap);

		JADD(o, "quotas", quota_json(m, kd, sl, s));
	}
	JADD(o, "stats", sl->have_st ? stats_json(kd, sl) : NULL);
	rates = json_object_new_object();
	JADD(rates, "sz_tried_bytes_per_s", sl->have_prev ? json_object_new_double(sl->tried_bps) : NULL);
	JADD(rates, "sz_applied_bytes_per_s", sl->have_prev ? json_object_new_double(sl->applied_bps) : NULL);
	JADD(o, "rates", rates);
	if (s)
		JADD(o, "watermarks", watermarks_json(m, s));
	ctrls_status(m, kd, i, o); /* each CTRL_SCHEME controller under its name ("fail_charge") */
	return o;
}

static struct json_object *snapshot_json(const struct kdamond_rt *kd, const struct damon_snapshot *snap)
{
	const struct damon_ctx_cfg *x = &kd->cfg->ctx;
	struct json_object *so = json_object_new_object();
	uint64_t hot = 0, cold = 0;

	for (size_t r = 0; r < snap->nr_regions; r++) {
		uint64_t sz = snap->regions[r].end - snap->regions[r].start;

		if (snap->regions[r].nr_accesses)
			hot += sz;
		else
			cold += sz;
	}
	JADD(so, "nr_regions", JU64(snap->nr_regions));
	JADD(so, "min", JU64(x->min_nr_regions));
	JADD(so, "max", JU64(x->max_nr_regions));
	JADD(so, "hot_bytes", JU64(hot));
	JADD(so, "cold_bytes", JU64(cold));
	JADD(so, "aggregations", JU64(snap->nr_aggregations));
	return so;
}

/* the process's comm now, or "" */
static void proc_comm(const struct manager *m, int pid, char *comm, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	comm[0] = 0;
	snprintf(path, sizeof(path), "%s/%d/comm", m->procfs_root, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, (int)len, f))
		comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

/* the systemd unit the process runs in: the deepest .service or .scope of its cgroup v2 path, or "" */
static void proc_unit(const struct manager *m, int pid, char *unit, size_t len)
{
	char path[PATH_MAX], line[PATH_MAX];
	FILE *f;

	unit[0] = 0;
	snprintf(path, sizeof(path), "%s/%d/cgroup", m->procfs_root, pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = line, *tok, *save = NULL;

		if (strncmp(line, "0::", 3) != 0)
			continue;
		p += 3;
		p[strcspn(p, "\n")] = 0;
		for (tok = strtok_r(p, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
			size_t l = strlen(tok);

			if ((l > 8 && streq(tok + l - 8, ".service")) || (l > 6 && streq(tok + l - 6, ".scope")))
				snprintf(unit, len, "%s", tok);
		}
	}
	if (f)
		fclose(f);
}

/* what a process target is now, and what named it (a followed target) */
static void target_process_json(struct manager *m, const struct damon_target_cfg *tg, struct json_object *to)
{
	char comm[64], unit[256];

	proc_comm(m, tg->pid, comm, sizeof(comm));
	JADD(to, "comm", comm[0] ? json_object_new_string(comm) : NULL);
	proc_unit(m, tg->pid, unit, sizeof(unit));
	JADD(to, "unit", unit[0] ? json_object_new_string(unit) : NULL);
	if (tg->select != PROCSEL_PID) {
		struct json_object *sel = json_object_new_object();

		JADD(sel, "kind", json_object_new_string(procsel_kind_to_string(tg->select)));
		JADD(sel, "value", json_object_new_string(tg->select_arg));
		JADD(to, "selector", sel);
	}
}

/*
 * The configured ranges: counted and summed, but only the first
 * few listed. A 20,000-range policy would otherwise make every
 * status call build and send a megabyte (`damondctl regions`
 * is the place for the full picture).
 */
static void target_ranges_json(const struct damon_ctx_cfg *x, const struct damon_target_cfg *tg, struct json_object *to)
{
	struct json_object *regs = json_object_new_array();
	uint64_t bytes = 0;

	for (size_t r = 0; r < tg->nr_regions; r++) {
		bytes += tg->regions[r].end - tg->regions[r].start;
		if (r < STATUS_MAX_RANGES) {
			struct json_object *ro = json_object_new_object();

			JADD(ro, "start", JU64(tg->regions[r].start));
			JADD(ro, "end", JU64(tg->regions[r].end));
			json_object_array_add(regs, ro);
		}
	}
	JADD(to, "nr_ranges", JU64(tg->nr_regions));
	/* where the ranges came from: the config's list, System RAM (auto) or NUMA nodes */
	if (tg->regions_nodes) {
		struct json_object *nodes = json_object_new_array();

		for (unsigned nid = 0; nid < NUMA_MAX_NODES; nid++)
			if (tg->regions_nodes & (UINT64_C(1) << nid))
				json_object_array_add(nodes, JU64(nid));
		JADD(to, "ranges_from", json_object_new_string("nodes"));
		JADD(to, "nodes", nodes);
	} else if (tg->regions_auto)
		JADD(to, "ranges_from", json_object_new_string("system_ram"));
	else if (x->ops == DAMON_OPS_PADDR)
		JADD(to, "ranges_from", json_object_new_string("config"));
	/* ranges are in core address units: addr_unit bytes each (paddr, 6.18+) */
	JADD(to, "ranges_bytes", JU64(bytes * MAX(x->addr_unit, 1ULL)));
	JADD(to, "regions", regs);
}

static struct json_object *target_json(struct manager *m, const struct kdamond_rt *kd, size_t t)
{
	const struct damon_ctx_cfg *x = &kd->cfg->ctx;
	struct json_object *to = json_object_new_object();
	const struct damon_snapshot *snap = m->snapshots ? snapshot_store_get(m->snapshots, kd->index, t) : NULL;

	JADD(to, "index", JU64(t));
	JADD(to, "pid", json_object_new_int(kd->targets[t].pid));
	if (x->ops != DAMON_OPS_PADDR)
		target_process_json(m, &kd->targets[t], to);
	target_ranges_json(x, &kd->targets[t], to);
	JADD(to, "snapshot", snap ? snapshot_json(kd, snap) : NULL);
	return to;
}

/* The aggregation interval DAMON_STAT's formulas need: the configured one, or, when the
 * kernel tunes it (intervals_goal), the one measured between target 0's snapshots
 * (manager_dstat_observe(), every stats tick). */
static uint64_t dstat_aggr_us(const struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *x = &kd->cfg->ctx;

	return x->intervals_goal.aggrs ? kd->dstat_aggr_us : x->aggr_us;
}

void manager_dstat_observe(struct manager *m, struct kdamond_rt *kd)
{
	const struct damon_snapshot *snap;

	if (!kd->running || kd->cfg->ctx.ops != DAMON_OPS_PADDR || !kd->cfg->ctx.intervals_goal.aggrs ||
	    !m->snapshots || kd->nr_targets == 0)
		return;
	snap = snapshot_store_get(m->snapshots, kd->index, 0);
	if (!snap)
		return;
	if (kd->dstat_ts_ns && snap->nr_aggregations > kd->dstat_aggrs && snap->ts_ns > kd->dstat_ts_ns)
		kd->dstat_aggr_us = (snap->ts_ns - kd->dstat_ts_ns) / 1000 / (snap->nr_aggregations - kd->dstat_aggrs);
	if (snap->nr_aggregations != kd->dstat_aggrs) {
		kd->dstat_ts_ns = snap->ts_ns;
		kd->dstat_aggrs = snap->nr_aggregations;
	}
}

/* mm/damon/stat.c refreshes its outputs at most every 5 s (damon_stat_damon_call_fn) */
#define DAMON_STAT_REFRESH_USEC (5 * 1000 * 1000ULL)

/* DAMON_STAT's numbers of a kdamond, recomputed at most every DAMON_STAT_REFRESH_USEC */
static bool dstat_result(struct manager *m, struct kdamond_rt *kd, struct damon_stat_result *res, uint64_t *ret_aggr_us)
{
	const struct damon_snapshot *snaps[64];
	size_t n = 0;
	uint64_t aggr_us;

	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR || !m->snapshots || kd->nr_targets == 0)
		return false;
	for (size_t t = 0; t < kd->nr_targets && n < ARRAY_SIZE(snaps); t++) {
		snaps[n] = snapshot_store_get(m->snapshots, kd->index, t);
		if (snaps[n])
			n++;
	}
	if (n == 0)
		return false;
	aggr_us = dstat_aggr_us(kd);
	if (aggr_us == 0)
		return false;
	if (kd->dstat_last_at && now_usec() < kd->dstat_last_at + DAMON_STAT_REFRESH_USEC &&
	    kd->dstat_last_pid == kd->pid && kd->dstat_last.aggr_interval_us == aggr_us &&
	    kd->dstat_last_addr_unit == kd->cfg->ctx.addr_unit) {
		*res = kd->dstat_last;
	} else {
		if (damon_stat_compute(snaps, n, kd->cfg->ctx.addr_unit, aggr_us, res) < 0)
			return false;
		kd->dstat_last = *res;
		kd->dstat_last_at = now_usec();
		kd->dstat_last_pid = kd->pid;
		kd->dstat_last_addr_unit = kd->cfg->ctx.addr_unit;
	}
	*ret_aggr_us = aggr_us;
	return true;
}

/* DAMON_STAT's estimated bandwidth and idle-time percentiles from this kdamond's snapshots
 * (physical-address kdamonds: DAMON_STAT's own view), lib/damon-stat.c. */
static struct json_object *damon_stat_json(struct manager *m, struct kdamond_rt *kd)
{
	struct damon_stat_result res;
	struct json_object *o, *pct;
	uint64_t aggr_us;

	if (!dstat_result(m, kd, &res, &aggr_us))
		return NULL;
	o = json_object_new_object();
	JADD(o, "estimated_memory_bandwidth_bytes_per_second", JU64(res.estimated_memory_bandwidth));
	pct = json_object_new_array();
	for (int i = 0; i < DAMON_STAT_NR_PERCENTILES; i++)
		json_object_array_add(pct, json_object_new_int64(res.idle_ms_percentiles[i]));
	/* 101 values, percentile 0..100; negative: accessed in the last aggregation, for that long */
	JADD(o, "memory_idle_ms_percentiles", pct);
	JADD(o, "aggr_interval_us", JU64(aggr_us));
	JADD(o, "aggr_interval_source",
	     json_object_new_string(kd->cfg->ctx.intervals_goal.aggrs ? "measured" : "configured"));
	JADD(o, "bytes", JU64(res.total_bytes));
	return o;
}

static const char *kd_state(const struct kdamond_rt *kd)
{
	return kd->running ? "on" : kd->waiting ? "waiting" : kd->died ? "died" : "off";
}

static struct json_object *kdamond_json(struct manager *m, struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *x = &kd->cfg->ctx;
	struct json_object *o = json_object_new_object(), *iv, *nr, *targets, *schemes, *last;

	JADD(o, "name", json_object_new_string(kd->name));
	JADD(o, "index", JU64(kd->index));
	JADD(o, "state", json_object_new_string(kd_state(kd)));
	if (kd_follows_processes(kd->cfg)) {
		struct json_object *fol = json_object_new_array();

		/* the selectors this kdamond follows (status: what it waits for when no process matches) */
		for (size_t i = 0; i < kd->cfg->ctx.nr_targets; i++) {
			const struct damon_target_cfg *c = &kd->cfg->ctx.targets[i];
			char buf[PROCSEL_ARG_MAX + 16];

			if (c->select == PROCSEL_PID)
				continue;
			snprintf(buf, sizeof(buf), "%s: %s", procsel_kind_to_string(c->select), c->select_arg);
			json_object_array_add(fol, json_object_new_string(buf));
		}
		JADD(o, "follows", fol);
	}
	JADD(o, "pid", json_object_new_int(kd->pid));
	JADD(o, "adopted", json_object_new_boolean(kd->adopted));
	JADD(o, "ops", json_object_new_string(damon_ops_to_string(x->ops)));
	iv = json_object_new_object();
	JADD(iv, "sample_us", JU64(x->sample_us));
	JADD(iv, "aggr_us", JU64(x->aggr_us));
	JADD(iv, "update_us", JU64(x->update_us));
	JADD(o, "intervals", iv);
	nr = json_object_new_object();
	JADD(nr, "min", JU64(x->min_nr_regions));
	JADD(nr, "max", JU64(x->max_nr_regions));
	JADD(o, "nr_regions", nr);
	ctrls_status(m, kd, SIZE_MAX, o); /* each CTRL_KDAMOND controller under its name ("refine") */
	JADD(o, "damon_stat", damon_stat_json(m, kd));

	targets = json_object_new_array();
	for (size_t t = 0; t < kd->nr_targets; t++)
		json_object_array_add(targets, target_json(m, kd, t));
	JADD(o, "targets", targets);

	schemes = json_object_new_array();
	for (size_t i = 0; i < kd->nr_slots; i++)
		json_object_array_add(schemes, scheme_json(m, kd, i));
	JADD(o, "schemes", schemes);

	if (kd->pending != KD_PENDING_NONE) {
		/* an operation refused with EBUSY, retried from the retry timer */
		struct json_object *po = json_object_new_object();

		JADD(po, "what", json_object_new_string(kd_pending_to_string(kd->pending)));
		JADD(po, "why", JSTR(kd->pending_why));
		JADD(po, "since_us", when_json(kd->pending_since));
		JADD(po, "attempts", JU64(kd->pending_attempts));
		JADD(o, "pending", po);
	}
	if (kd->last_error) {
		struct json_object *eo = json_object_new_object();

		JADD(eo, "message", JSTR(kd->last_error));
		JADD(eo, "at_us", when_json(kd->last_error_at));
		JADD(o, "last_error", eo);
	}
	if (kd->last_what[0]) {
		last = json_object_new_object();
		JADD(last, "what", json_object_new_string(kd->last_what));
		JADD(last, "why", JSTR(kd->last_why));
		JADD(last, "at_us", when_json(kd->last_at));
		JADD(o, "last_action", last);
	}
	/* the charge emulation's ager (ager.c): only where an emulated paddr pageout could use one */
	if (kd->ager)
		JADD(o, "ager", ager_json(kd));
	return o;
}

/*
 * /proc/self/statm, kept open and read with pread(): the metrics read it
 * every stats tick, and an open, a FILE buffer and a close cost about 0.5 ms
 * a tick under QEMU's emulation.
 */
static int statm_read(unsigned long *ret_size, unsigned long *ret_resident)
{
	static int fd = -1;
	char buf[128];
	ssize_t n;

	if (fd < 0)
		fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	return sscanf(buf, "%lu %lu", ret_size, ret_resident) == 2 ? 0 : -EIO;
}

/* damond's CPU time (user and system), µs */
static bool cpu_time_us(uint64_t *ret, struct rusage *ru)
{
	if (getrusage(RUSAGE_SELF, ru) < 0)
		return false;
	*ret = (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
	return true;
}

/* damond's resident memory, KiB */
static bool rss_kib(uint64_t *ret)
{
	unsigned long size, resident;

	if (statm_read(&size, &resident) < 0)
		return false;
	*ret = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
	return true;
}

/* damond's own cost: CPU time, resident and peak memory. */
static struct json_object *resources_json(void)
{
	struct json_object *o = json_object_new_object();
	struct rusage ru;
	struct mallinfo2 mi;
	uint64_t v;

	if (cpu_time_us(&v, &ru)) {
		JADD(o, "cpu_us", JU64(v));
		JADD(o, "cpu_ms", JU64((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
				       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000));
		JADD(o, "max_rss_kib", JU64((uint64_t)ru.ru_maxrss));
	}
	/* heap bytes in use vs. held free by malloc (fragmentation); mallinfo2() walks every free chunk */
	mi = mallinfo2();
	JADD(o, "heap_in_use_kib", JU64(mi.uordblks / 1024 + mi.hblkhd / 1024));
	JADD(o, "heap_free_kib", JU64(mi.fordblks / 1024));
	if (rss_kib(&v))
		JADD(o, "rss_kib", JU64(v));
	return o;
}

static struct json_object *strv_json(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* What the last reload did to the kernel (the reload's reply and status.config.last_reload): into o */
void reload_outcome_json(const struct manager *m, struct json_object *o)
{
	struct json_object *sp = json_object_new_array();

	JADD(o, "applied", json_object_new_boolean(m->last_reload.applied));
	/* the kernel refused this generation part way; the previous one (config.generation) was rolled back */
	if (m->last_reload.refused_generation)
		JADD(o, "rolled_back_from", JU64(m->last_reload.refused_generation));
	JADD(o, "changes", JSTR(m->last_reload.changes));
	JADD(o, "restarted", strv_json(m->last_reload.restarted, m->last_reload.nr_restarted));
	JADD(o, "started", strv_json(m->last_reload.started, m->last_reload.nr_started));
	JADD(o, "failed", strv_json(m->last_reload.failed, m->last_reload.nr_failed));
	JADD(o, "kdamond_dirs", JU64(m->nr_kdamonds_dirs));
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++)
		if (kdamond_dir_is_spare(m, (unsigned)k))
			json_object_array_add(sp, json_object_new_int((int)k));
	JADD(o, "spares", sp);
}

/* The kdamond directories: how many, and the spares (stopped, damond's, filled by a reload that adds a kdamond) */
static struct json_object *dirs_json(const struct manager *m)
{
	struct json_object *o = json_object_new_object(), *sp = json_object_new_array();

	JADD(o, "nr", JU64(m->nr_kdamonds_dirs));
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++)
		if (kdamond_dir_is_spare(m, (unsigned)k))
			json_object_array_add(sp, json_object_new_int((int)k));
	JADD(o, "spares", sp);
	JADD(o, "spare_kdamonds", JU64(m->config ? m->config->settings.spare_kdamonds : 0));
	return o;
}

static struct json_object *config_json(struct manager *m)
{
	struct json_object *cfg, *lr;

	cfg = json_object_new_object();
	JADD(cfg, "path", JSTR(m->config_path));
	JADD(cfg, "generation", JU64(m->generation));
	/* the running configuration: loaded at start or by the last successful reload */
	JADD(cfg, "loaded_at_us", when_json(m->config_loaded_at));
	if (m->last_reload.at) {
		struct json_object *errs = json_object_new_array();

		lr = json_object_new_object();
		JADD(lr, "ok", json_object_new_boolean(m->last_reload.ok));
		JADD(lr, "at_us", when_json(m->last_reload.at));
		for (size_t i = 0; i < m->last_reload.nr_errors; i++)
			json_object_array_add(errs, json_object_new_string(m->last_reload.errors[i]));
		JADD(lr, "errors", errs);
		reload_outcome_json(m, lr);
		JADD(cfg, "last_reload", lr);
	}
	return cfg;
}

/* where region snapshots and scheme stats come from */
static const char *monitor_source(const struct manager *m)
{
	return m->events ? "bpf" : m->replay ? "replay" : "sysfs-polling";
}

/* the monitor's counts, for the status document and the metrics view alike */
static void monitor_counts(struct manager *m, struct snapshot_store_stats *ss, double *rate, uint64_t *drops)
{
	*rate = 0;
	*drops = 0;
	snapshot_store_get_stats(m->snapshots, ss);
#ifdef HAVE_BPF
	manager_events_stats(m, rate, drops);
#endif
}

static struct json_object *monitor_json(struct manager *m)
{
	struct json_object *mon;

	mon = json_object_new_object();
	JADD(mon, "source", json_object_new_string(monitor_source(m)));
	JADD(mon, "reason", JSTR(m->bpf_reason));
	/* stats ticks run so far, and how late one may run to share a ring wakeup (manager_stats_accuracy()) */
	JADD(mon, "stats_ticks", JU64(m->stats_ticks));
	JADD(mon, "stats_slack_ms", JU64(m->stats_slack_us / 1000));
	if (m->snapshots) {
		struct snapshot_store_stats ss;
		double rate;
		uint64_t drops;

		monitor_counts(m, &ss, &rate, &drops);
		JADD(mon, "records", JU64(ss.records));
		JADD(mon, "snapshots", JU64(ss.snapshots_published));
		JADD(mon, "incomplete_snapshots", JU64(ss.snapshots_incomplete));
		JADD(mon, "superseded_snapshots", JU64(ss.snapshots_superseded));
		JADD(mon, "events_per_s", json_object_new_double(rate));
		JADD(mon, "drops", JU64(drops));
#ifdef HAVE_BPF
		{
			uint64_t gate_ns, skipped;

			/* the BPF monitor's aggregation gate and the aggregations it kept out of the ring */
			if (manager_events_gate(m, &gate_ns, &skipped)) {
				JADD(mon, "aggregation_gate_ms", JU64(gate_ns / 1000000));
				JADD(mon, "aggregations_skipped", JU64(skipped));
			}
		}
#endif
		/* commands damond issued to refresh scheme stats (0 growth: events carry them) */
		JADD(mon, "stats_commands", JU64(m->stats_commands));
		/* the stats worker's rounds: ticks that found one in flight, refused commands, stale results, EBUSY met */
		JADD(mon, "stats_skipped", JU64(m->stats_skipped));
		JADD(mon, "stats_failed", JU64(m->stats_failed));
		JADD(mon, "stats_dropped", JU64(m->stats_dropped));
		JADD(mon, "stats_busy", JU64(m->stats_busy));
#ifdef HAVE_BPF
		JADD(mon, "bpf", manager_events_json(m));
#endif
	}
	return mon;
}

static struct json_object *busy_json(struct manager *m)
{
	/* the DAMON sysfs lock: the event loop's bound, time slept on it, deferred work */
	struct json_object *bo = json_object_new_object();

	/* the event loop never sleeps on the lock: slept_ms is start's and stop's wait */
	JADD(bo, "loop_sleeps", json_object_new_boolean(!m->retry_busy));
	JADD(bo, "slept_ms", JU64(m->busy.slept_ms));
	JADD(bo, "answers", JU64(m->busy.nr_busy));
	JADD(bo, "retry_rounds", JU64(m->busy_retry_rounds));
	JADD(bo, "pending_nr_kdamonds", m->pending_nr_kdamonds ? JU64(m->pending_nr_kdamonds) : NULL);
	{
		/* removed by a reload, still running until their 'off' gets the lock */
		struct json_object *po = json_object_new_array();

		for (size_t i = 0; i < m->nr_pending_off; i++) {
			struct json_object *x = json_object_new_object();

			JADD(x, "name", json_object_new_string(m->pending_off[i].name));
			JADD(x, "index", JU64(m->pending_off[i].index));
			JADD(x, "pid", json_object_new_int(m->pending_off[i].pid));
			json_object_array_add(po, x);
		}
		JADD(bo, "pending_off", po);
	}
	return bo;
}

static struct json_object *actions_json(struct manager *m)
{
	struct json_object *acts;

	acts = json_object_new_array();
	for (unsigned a = m->nr_actions > ACTION_LOG_SIZE ? m->nr_actions - ACTION_LOG_SIZE : 0; a < m->nr_actions;
	     a++) {
		struct json_object *ao = json_object_new_object();
		unsigned x = a % ACTION_LOG_SIZE;

		JADD(ao, "at_us", when_json(m->actions[x].at));
		JADD(ao, "kdamond", json_object_new_string(m->actions[x].kdamond));
		if (m->actions[x].scheme[0])
			JADD(ao, "scheme", json_object_new_string(m->actions[x].scheme));
		JADD(ao, "what", json_object_new_string(m->actions[x].what));
		JADD(ao, "why", json_object_new_string(m->actions[x].why));
		json_object_array_add(acts, ao);
	}
	return acts;
}

int manager_status_json(struct manager *m, struct json_object **ret)
{
	struct json_object *o = json_object_new_object(), *kds, *feat;

	JADD(o, "version", json_object_new_string(DAMOND_VERSION));
	JADD(o, "schema_version", json_object_new_int(STATUS_SCHEMA_VERSION));
	JADD(o, "pid", json_object_new_int((int)getpid()));
	JADD(o, "sysfs_root", json_object_new_string(m->sysfs_path));
	JADD(o, "dry_run", json_object_new_boolean(actuator_is_dry_run(m)));
	JADD(o, "resources", resources_json());
	JADD(o, "config", config_json(m));
	JADD(o, "monitor", monitor_json(m));
	manager_features_json(m, &feat);
	JADD(o, "features", feat);
	JADD(o, "busy", busy_json(m));
	JADD(o, "kdamond_dirs", dirs_json(m));
	kds = json_object_new_array();
	for (size_t i = 0; i < m->nr_kd; i++)
		json_object_array_add(kds, kdamond_json(m, &m->kd[i]));
	JADD(o, "kdamonds", kds);
	JADD(o, "actions", actions_json(m));
	*ret = o;
	return 0;
}

/* ---- the metrics' view (lib/metrics.h), from the state the document above is built from ---- */

static int view_scheme(struct manager *m, struct kdamond_rt *kd, size_t i, struct metrics_scheme *v,
		       struct json_object *hold)
{
	const struct scheme_rt *sl = &kd->slots[i];
	const struct damos_cfg *s = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
	struct json_object *ctrl = json_object_new_object();

	v->name = sl->name;
	v->action = s ? damos_action_to_string(s->action) : "stat";
	if (sl->have_st) {
		v->nr_tried = METRICS_NUM(sl->st.nr_tried);
		v->sz_tried = METRICS_NUM(sl->st.sz_tried);
		v->nr_applied = METRICS_NUM(sl->st.nr_applied);
		v->sz_applied = METRICS_NUM(sl->st.sz_applied);
		v->qt_exceeds = METRICS_NUM(sl->st.qt_exceeds);
		if (sl->st.has_sz_ops_filter_passed)
			v->sz_ops_filter_passed = METRICS_NUM(sl->st.sz_ops_filter_passed);
	}
	if (s) {
		uint64_t free_permil = UINT64_MAX;

		v->quota_bytes = METRICS_NUM(s->quota.bytes);
		v->quota_reset_interval_ms = METRICS_NUM(s->quota.reset_interval_ms);
		if (sl->have_st)
			v->quota_effective_bytes = METRICS_NUM(sl->st.effective_bytes);
		v->nr_goals = s->quota.nr_goals;
		if (v->nr_goals && !(v->goals = calloc(v->nr_goals, sizeof(*v->goals)))) {
			json_object_put(ctrl);
			return -ENOMEM;
		}
		for (size_t g = 0; g < v->nr_goals; g++) {
			const struct damos_goal_cfg *gc = &s->quota.goals[g];
			struct goal_eligible_obs el = {};
			struct goal_current cur;

			goal_measure(m, kd, s, gc, &el, &cur);
			v->goals[g] = (struct metrics_goal){
				.metric = damos_goal_metric_to_string(gc->metric),
				.mode = goal_mode(m, s, gc),
				.target = METRICS_NUM(gc->target_value),
				.current = cur.known ? METRICS_NUM(cur.value) : (struct metrics_num){},
			};
		}
		v->wmark_state = wmark_state(m, s, &free_permil);
		if (s->wmarks.metric != DAMOS_WMARK_NONE) {
			if (free_permil != UINT64_MAX)
				v->wmark_free_permil = METRICS_NUM(free_permil);
			v->wmark_high_permil = METRICS_NUM(s->wmarks.high);
			v->wmark_mid_permil = METRICS_NUM(s->wmarks.mid);
			v->wmark_low_permil = METRICS_NUM(s->wmarks.low);
		}
	}
	ctrls_status(m, kd, i, ctrl); /* "fail_charge" */
	metrics_view_scheme_controllers(v, ctrl);
	json_object_array_add(hold, ctrl);
	return 0;
}

static int view_kdamond(struct manager *m, struct kdamond_rt *kd, struct metrics_kdamond *v, struct json_object *hold)
{
	const struct damon_ctx_cfg *x = &kd->cfg->ctx;
	struct json_object *ctrl = json_object_new_object();
	struct damon_stat_result res;
	uint64_t aggr_us;

	v->name = kd->name;
	v->state = kd_state(kd);
	ctrls_status(m, kd, SIZE_MAX, ctrl); /* "refine" */
	if (kd->ager)
		json_object_object_add(ctrl, "ager", ager_json(kd));
	metrics_view_kdamond_controllers(v, ctrl);
	json_object_array_add(hold, ctrl);
	if (dstat_result(m, kd, &res, &aggr_us)) {
		v->bandwidth = METRICS_NUM(res.estimated_memory_bandwidth);
		for (size_t i = 0; i < METRICS_NR_IDLE_PERCENTILES; i++)
			v->idle_ms[i] = METRICS_NUM(res.idle_ms_percentiles[metrics_idle_percentile(i)]);
	}
	v->nr_regions_min = METRICS_NUM(x->min_nr_regions);
	v->nr_regions_max = METRICS_NUM(x->max_nr_regions);
	v->nr_targets = kd->nr_targets;
	if (v->nr_targets && !(v->targets = calloc(v->nr_targets, sizeof(*v->targets))))
		return -ENOMEM;
	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct damon_snapshot *snap = m->snapshots ? snapshot_store_get(m->snapshots, kd->index, t)
								 : NULL;

		v->targets[t].index = METRICS_NUM(t);
		if (snap)
			v->targets[t].nr_regions = METRICS_NUM(snap->nr_regions);
	}
	v->nr_schemes = kd->nr_slots;
	if (v->nr_schemes && !(v->schemes = calloc(v->nr_schemes, sizeof(*v->schemes))))
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++)
		if (view_scheme(m, kd, i, &v->schemes[i], hold) < 0)
			return -ENOMEM;
	return 0;
}

int manager_metrics_view(struct manager *m, struct metrics_view *v, struct json_object **ret_hold)
{
	struct json_object *hold = json_object_new_array();
	struct rusage ru;
	uint64_t x;

	*v = (struct metrics_view){};
	*ret_hold = hold;
	if (!hold)
		return -ENOMEM;
	v->version = DAMOND_VERSION;
	v->generation = METRICS_NUM(m->generation);
	if (m->config_loaded_at)
		v->loaded_at_us = METRICS_NUM(when_us(m->config_loaded_at));
	if (m->last_reload.at) {
		v->last_reload_ok = METRICS_NUM(m->last_reload.ok ? 1 : 0);
		v->last_reload_at_us = METRICS_NUM(when_us(m->last_reload.at));
	}
	v->monitor_source = monitor_source(m);
	if (m->snapshots) {
		struct snapshot_store_stats ss;
		double rate;
		uint64_t drops;

		monitor_counts(m, &ss, &rate, &drops);
		v->records = METRICS_NUM(ss.records);
		v->snapshots = METRICS_NUM(ss.snapshots_published);
		v->incomplete_snapshots = METRICS_NUM(ss.snapshots_incomplete);
		v->superseded_snapshots = METRICS_NUM(ss.snapshots_superseded);
		v->drops = METRICS_NUM(drops);
		v->stats_commands = METRICS_NUM(m->stats_commands);
#ifdef HAVE_BPF
		{
			uint64_t gate_ns, skipped;

			if (manager_events_gate(m, &gate_ns, &skipped)) {
				v->aggr_gate_ms = METRICS_NUM(gate_ns / 1000000);
				v->aggr_skipped = METRICS_NUM(skipped);
			}
		}
#endif
	}
	v->nr_kdamonds = m->nr_kd;
	if (v->nr_kdamonds && !(v->kdamonds = calloc(v->nr_kdamonds, sizeof(*v->kdamonds))))
		return -ENOMEM;
	for (size_t i = 0; i < m->nr_kd; i++)
		if (view_kdamond(m, &m->kd[i], &v->kdamonds[i], hold) < 0)
			return -ENOMEM;
	if (cpu_time_us(&x, &ru))
		v->cpu_us = METRICS_NUM(x);
	if (rss_kib(&x))
		v->rss_kib = METRICS_NUM(x);
	return 0;
}

int manager_regions_json(struct manager *m, const char *kdamond, struct json_object **ret)
{
	struct json_object *o = json_object_new_object(), *kds = json_object_new_array();
	bool found = false;

	for (size_t i = 0; i < m->nr_kd; i++) {
		const struct kdamond_rt *kd = &m->kd[i];
		struct json_object *ko, *targets;

		if (kdamond && !streq(kdamond, kd->name))
			continue;
		found = true;
		ko = json_object_new_object();
		targets = json_object_new_array();
		JADD(ko, "name", json_object_new_string(kd->name));
		for (size_t t = 0; t < kd->nr_targets; t++) {
			const struct damon_snapshot *snap =
				m->snapshots ? snapshot_store_get(m->snapshots, kd->index, t) : NULL;
			struct json_object *to = json_object_new_object(), *regs = json_object_new_array();
			uint64_t maxacc = 0;

			JADD(to, "index", JU64(t));
			if (snap) {
				for (size_t r = 0; r < snap->nr_regions; r++) {
					struct json_object *ro = json_object_new_object();

					JADD(ro, "start", JU64(snap->regions[r].start));
					JADD(ro, "end", JU64(snap->regions[r].end));
					JADD(ro, "nr_accesses", JU64(snap->regions[r].nr_accesses));
					JADD(ro, "age", JU64(snap->regions[r].age));
					json_object_array_add(regs, ro);
					maxacc = MAX(maxacc, snap->regions[r].nr_accesses);
				}
				JADD(to, "nr_regions", JU64(snap->nr_regions));
			} else {
				/* say why there is nothing, rather than an empty heatmap */
				const char *why;

				if (!kd->running)
					why = kd->died ? "the kdamond died" : "the kdamond is not running";
				else if (!manager_event_feed(m))
					why = m->bpf_reason ? m->bpf_reason : "the BPF monitor is not running";
				else
					why = "no aggregation seen yet from this kdamond (one comes every aggregation interval)";
				JADD(to, "no_snapshot", json_object_new_string(why));
			}
			JADD(to, "regions", regs);
			JADD(to, "max_nr_accesses",
			     JU64(maxacc ? maxacc : kd->cfg->ctx.aggr_us / MAX(kd->cfg->ctx.sample_us, 1ULL)));
			json_object_array_add(targets, to);
		}
		JADD(ko, "targets", targets);
		json_object_array_add(kds, ko);
	}
	JADD(o, "kdamonds", kds);
	/* region snapshots come from the BPF monitor only (damon_aggregated) */
	JADD(o, "monitor", json_object_new_string(monitor_source(m)));
	if (kdamond && !found) {
		json_object_put(o);
		return -ENOENT;
	}
	*ret = o;
	return 0;
}
