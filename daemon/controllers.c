/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The controller host (lib/controller.h): one state per controller and
 * scope instance (a scheme slot's live in the slot, so a slot that keeps its
 * scheme over a reload keeps them), their ctrl_env, one kd_observation per
 * tick per kdamond with the sensors the instances declare, the steps in
 * registry order on kd->overlay under the arbitration rules of
 * lib/ctrl-registry.c, the outcome to those that changed it, and status.
 * Nothing here names a controller: adding one touches no daemon file. It
 * calls no other daemon file (the bottom of manager-internal.h's layers).
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "controller.h"
#include "goal-current.h"
#include "log.h"
#include "manager-internal.h"
#include "numa.h"
#include "snapshot.h"

static bool per_slot(size_t c)
{
	return ctrl_registry[c]->scope == CTRL_SCHEME;
}

/* Where instance (c, slot) keeps its state pointer; NULL when its array is missing. */
static void **inst(const struct kdamond_rt *kd, size_t c, size_t slot)
{
	void **v = per_slot(c) ? kd->slots[slot].ctrl : kd->ctrl;

	return v ? &v[c] : NULL;
}

static size_t nr_inst(const struct kdamond_rt *kd, size_t c)
{
	return per_slot(c) ? kd->nr_slots : 1;
}

/* CLOCK_MONOTONIC in microseconds (the host calls no daemon file, so not manager-action.c's now_usec()) */
static usec_t mono_us(void)
{
	struct timespec mt;

	clock_gettime(CLOCK_MONOTONIC, &mt);
	return (usec_t)mt.tv_sec * 1000000ULL + (usec_t)mt.tv_nsec / 1000ULL;
}

/* CLOCK_MONOTONIC microseconds as wall-clock ones (status) */
static uint64_t wall_us(uint64_t mono)
{
	struct timespec rt;
	usec_t now_mono = mono_us();

	clock_gettime(CLOCK_REALTIME, &rt);
	return (usec_t)rt.tv_sec * 1000000ULL + (usec_t)rt.tv_nsec / 1000ULL - (now_mono - MIN(mono, now_mono));
}

/* The env of instance (c, slot); peers: an array of nr_slots pointers for the CTRL_SCHEME states. */
static void env_of(const struct manager *m, const struct kdamond_rt *kd, size_t c, size_t slot, const void **peers,
		   struct ctrl_env *e)
{
	*e = (struct ctrl_env){
		.policy = &kd->policy,
		.features = &m->features,
		.stats_interval_us = m->config->settings.stats_interval_us,
		.bpf_monitor = manager_event_feed(m),
		.adopted = kd->adopted,
		.wall_us = wall_us,
	};
	if (!per_slot(c))
		return;
	for (size_t i = 0; i < kd->nr_slots; i++)
		peers[i] = kd->slots[i].ctrl ? kd->slots[i].ctrl[c] : NULL;
	e->slot = slot;
	e->scheme = slot < kd->nr_slots && kd->slots[slot].cfg_idx >= 0 ? &kd->cfg->ctx.schemes[kd->slots[slot].cfg_idx]
									: NULL;
	e->peers = peers;
	e->nr_peers = kd->nr_slots;
}

static int alloc_arrays(struct kdamond_rt *kd)
{
	if (!kd->ctrl && !(kd->ctrl = calloc(ctrl_registry_len, sizeof(void *))))
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++)
		if (!kd->slots[i].ctrl && !(kd->slots[i].ctrl = calloc(ctrl_registry_len, sizeof(void *))))
			return -ENOMEM;
	return 0;
}

void ctrls_policy(struct manager *m, struct kdamond_rt *kd)
{
	for (size_t c = 0; c < ctrl_registry_len; c++) {
		const struct ctrl_ops *ops = ctrl_registry[c];

		if (ops->scope != CTRL_SCHEME || !ops->policy_slot)
			continue;
		for (size_t i = 0; i < kd->policy.nr_slots; i++)
			ops->policy_slot(kd->policy.slots[i].cfg, &m->features, &kd->policy.slots[i]);
	}
}

/*
 * setup() every instance for kd's (new) policy: kept (a slot that kept its
 * scheme, the kdamond) or fresh (reset_kdamond: the per-kdamond ones too),
 * then restore() every one into kd's fresh overlay.
 */
int ctrls_setup(struct manager *m, struct kdamond_rt *kd, bool reset_kdamond)
{
	_cleanup_free_ const void **peers = calloc(kd->nr_slots + 1, sizeof(*peers));
	struct ctrl_env e;
	int r;

	if (!peers || alloc_arrays(kd) < 0)
		return -ENOMEM;
	for (size_t c = 0; c < ctrl_registry_len; c++)
		for (size_t i = 0; i < nr_inst(kd, c); i++) {
			void **s = inst(kd, c, i);
			bool keep = *s && !(reset_kdamond && !per_slot(c));

			if (!*s && !(*s = calloc(1, ctrl_registry[c]->state_size)))
				return -ENOMEM;
			env_of(m, kd, c, i, peers, &e);
			ctrl_registry[c]->setup(&e, *s, keep);
		}
	for (size_t c = 0; c < ctrl_registry_len; c++)
		for (size_t i = 0; ctrl_registry[c]->restore && i < nr_inst(kd, c); i++) {
			env_of(m, kd, c, i, peers, &e);
			r = ctrl_registry[c]->restore(&e, *inst(kd, c, i), &kd->overlay);
			if (r < 0)
				return r;
		}
	return 0;
}

void ctrls_free(void **states)
{
	for (size_t c = 0; states && c < ctrl_registry_len; c++)
		free(states[c]);
	free(states);
}

/* /proc/kpageflags, opened once (read only; root's): the fd, or -1 with m->kpageflags_err set. */
static int manager_kpageflags(struct manager *m)
{
	char path[PATH_MAX];

	if (m->kpageflags_fd >= 0 || m->kpageflags_err)
		return m->kpageflags_fd;
	snprintf(path, sizeof(path), "%s/kpageflags", m->procfs_root);
	m->kpageflags_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->kpageflags_fd < 0) {
		m->kpageflags_err = errno ? errno : EIO;
		log_info("%s unreadable (%s): node_eligible_mem_bp counts whole regions, the charge emulation has no "
			 "page oracle",
			 path, strerror(m->kpageflags_err));
	}
	return m->kpageflags_fd;
}

/*
 * The mappings of process pid inside [lo, hi), merged where contiguous, from
 * /proc/PID/maps (no inaccessible ones: guard pages never hold a page; no
 * special ones).
 * Returns the number of ranges (0: none, or the process is gone).
 */
static size_t vmap_ranges(const struct manager *m, int pid, uint64_t lo, uint64_t hi, struct pageflags_range *v,
			  size_t max)
{
	char path[PATH_MAX], line[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/maps", m->procfs_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char perms[8];

		if (!strchr(line, '\n') && !feof(f)) {
			/* a long path: skip the rest of the line */
			int ch;

			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		}
		if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) != 3 || e <= s)
			continue;
		if (strncmp(perms, "---", 3) == 0)
			continue;
		/* the kernel's special mappings ([vvar], [vdso], [vsyscall]) hold no page of the process */
		if (strstr(line, "[vvar") || strstr(line, "[vdso]") || strstr(line, "[vsyscall]"))
			continue;
		s = MAX(s, lo);
		e = MIN(e, hi);
		if (e <= s)
			continue;
		if (n && v[n - 1].end == s)
			v[n - 1].end = e;
		else if (!n || v[n - 1].end < s)
			v[n++] = (struct pageflags_range){ s, e };
	}
	fclose(f);
	return n;
}

/* One step of the virtual map of process pid (a vaddr/fvaddr target): a pass at most every period, bounded per tick. */
static void sense_vmap(struct manager *m, struct kdamond_rt *kd, const struct ctrl_sensor_needs *need, unsigned k,
		       usec_t now)
{
	struct pageflags_map *map = &kd->pageflags[k];
	_cleanup_free_ struct pageflags_range *v = NULL;
	char path[PATH_MAX];
	size_t n = 0;
	int fd, r, before = map->last_error;

	if (map->chunks && !map->chunk_start)
		pageflags_map_done(map); /* a physical map before (the context changed): start over */
	if (kd->pageflags_pid[k] != need->pageflags_pid) {
		/* another process (a followed target moved on): its addresses mean nothing here */
		pageflags_map_done(map);
		kd->pageflags_pid[k] = need->pageflags_pid;
	}
	if (!pageflags_vmap_in_pass(map)) {
		/* a pass at most every period, and every 1 s per GiB the last one read (about 30 ms of CPU per GiB
		 * of 4 KiB pages on a host); after a failed pass too: scanned_us is when it failed */
		usec_t period =
			MAX(need->pageflags_period_us, map->pass_pages * CTRL_PAGEFLAGS_PAGE_SZ * 1000000ULL >> 30);

		if ((map->generation || map->last_error) && now - map->scanned_us < period)
			return;
		v = calloc(CTRL_VMAP_MAX_RANGES, sizeof(*v));
		if (!v)
			return;
		n = vmap_ranges(m, need->pageflags_pid, need->pageflags_start, need->pageflags_end, v,
				CTRL_VMAP_MAX_RANGES);
		if (!n)
			return;
	}
	snprintf(path, sizeof(path), "%s/%d/pagemap", m->procfs_root, need->pageflags_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r != before)
			log_info("kdamond '%s': no page-state oracle for pid %d: %s: %s", kd->name, need->pageflags_pid,
				 path, strerror(-r));
		map->last_error = r;
		map->scanned_us = now;
		return;
	}
	r = pageflags_vmap_step(map, v, n, CTRL_PAGEFLAGS_CHUNK_SZ, CTRL_PAGEFLAGS_PAGE_SZ, fd, m->kpageflags_fd,
				(enum pageflags_class)k, CTRL_VMAP_STEP_PAGES, now);
	close(fd);
	if (r < 0)
		map->scanned_us = now;
	if (r < 0 && r != before)
		log_info("kdamond '%s': page-state oracle for pid %d: %s", kd->name, need->pageflags_pid,
			 r == -EPERM ? "pagemap hides the page frames (no CAP_SYS_ADMIN)" : strerror(-r));
	else if (r == 1)
		log_debug("kdamond '%s': pagemap pass of pid %d: %llu pages in %u steps, %llu ms", kd->name,
			  need->pageflags_pid, (unsigned long long)map->pass_pages, map->pass_steps,
			  (unsigned long long)(map->pass_us / 1000));
}

/* MemFree in bytes from the host's meminfo; 0 when unknown. */
static uint64_t meminfo_free_bytes(struct manager *m)
{
	char path[PATH_MAX], buf[2048];
	uint64_t total, free_bytes;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/meminfo", m->procfs_root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1); /* MemTotal and MemFree are the first two lines */
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (goal_parse_node_meminfo(buf, &total, &free_bytes) < 0)
		return 0;
	return free_bytes;
}

/* The pageflags maps the instances ask for, rescanned when their period is up, or early when MemFree fell by
 * what the instances asked for since the scan. */
static void sense_pageflags(struct manager *m, struct kdamond_rt *kd, usec_t now, struct kd_observation *o)
{
	struct ctrl_sensor_needs need = {}, x;
	const void **peers = calloc(kd->nr_slots + 1, sizeof(*peers));
	struct ctrl_env e;

	for (size_t c = 0; peers && c < ctrl_registry_len; c++)
		for (size_t i = 0; ctrl_registry[c]->sensor_needs && i < nr_inst(kd, c); i++) {
			env_of(m, kd, c, i, peers, &e);
			ctrl_registry[c]->sensor_needs(&e, *inst(kd, c, i), &x);
			if (x.pageflags_classes)
				ctrl_sensor_needs_merge(&need, &x);
		}
	free(peers);
	if (need.pageflags_classes)
		manager_kpageflags(m);
	for (unsigned k = 0; k < _PAGEFLAGS_CLASS_MAX && m->kpageflags_fd >= 0; k++) {
		struct pageflags_map *map = &kd->pageflags[k];

		if (!(need.pageflags_classes & (1u << k)))
			continue;
		if (need.pageflags_pid > 0) {
			sense_vmap(m, kd, &need, k, now);
			if (map->generation)
				o->pageflags[k] = map;
			continue;
		}
		if (!map->chunks || map->chunk_start || map->start > need.pageflags_start ||
		    map->end < need.pageflags_end) {
			pageflags_map_done(map);
			if (pageflags_map_init(map, need.pageflags_start, need.pageflags_end, CTRL_PAGEFLAGS_CHUNK_SZ,
					       CTRL_PAGEFLAGS_PAGE_SZ) < 0)
				continue;
		}
		bool due = !map->generation || now - map->scanned_us >= need.pageflags_period_us;
		/* an early rescan at most every quarter period (the period is 1 s per GiB, about 30 ms of CPU per
		 * GiB on a host: at most 4x the scans' CPU while memory keeps being taken) */
		usec_t early_gap = MAX(CTRL_PAGEFLAGS_EARLY_GAP_US, need.pageflags_period_us / 4);
		uint64_t memfree = 0;

		if (need.pageflags_free_drop_bytes && (due || now - map->scanned_us >= early_gap))
			memfree = meminfo_free_bytes(m);
		if (!due && memfree && kd->pageflags_memfree[k] >= memfree + need.pageflags_free_drop_bytes) {
			log_debug("kdamond '%s': kpageflags rescan early: MemFree fell by %llu MiB since the last scan",
				  kd->name, (unsigned long long)((kd->pageflags_memfree[k] - memfree) >> 20));
			due = true;
		}
		if (due) {
			usec_t t0 = mono_us();

			if (pageflags_map_scan(map, m->kpageflags_fd, (enum pageflags_class)k, now) < 0) {
				log_debug("kdamond '%s': kpageflags scan failed", kd->name);
			} else {
				kd->pageflags_memfree[k] = memfree;
				log_debug("kdamond '%s': kpageflags scan %llu: %llu MiB ok, %llu MiB free of %llu MiB, "
					  "%llu ms",
					  kd->name, (unsigned long long)map->generation,
					  (unsigned long long)(map->ok_bytes >> 20),
					  (unsigned long long)(map->free_bytes >> 20),
					  (unsigned long long)(map->total_bytes >> 20),
					  (unsigned long long)((mono_us() - t0) / 1000));
			}
		}
		o->pageflags[k] = map;
	}
}

void ctrls_goal_eligible(struct manager *m, const struct kdamond_rt *kd, const struct damos_cfg *s,
			 const struct damos_goal_cfg *g, usec_t now, struct goal_eligible_obs *ret)
{
	char path[PATH_MAX], why[256];
	uint64_t addr_unit = kd->cfg ? MAX(kd->cfg->ctx.addr_unit, 1ULL) : 1;
	long ps = sysconf(_SC_PAGESIZE);
	struct node_ranges_cache *c;
	uint64_t page_sz = ps > 0 ? (uint64_t)ps : 4096, lo = UINT64_MAX, hi = 0;
	int fd = manager_kpageflags(m);
	const struct goal_lru_cache *lru = NULL;

	*ret = (struct goal_eligible_obs){};
	/* the regions' access patterns come from the monitor's aggregations (BPF, or a replay); the sysfs
	 * fallback reads the schemes' stats only, no regions: the value stays unknown there */
	if (!manager_event_feed(m)) {
		ret->why = "no region observation: damond's BPF monitor is off or unavailable";
		return;
	}
	if (!kd->running || !kd->nr_targets) {
		ret->why = "the kdamond is not running";
		return;
	}
	if (g->nid < 0 || g->nid >= (int)ARRAY_SIZE(m->eligible_nodes)) {
		ret->why = "nid out of range";
		return;
	}
	/* the node's ranges: thousands of memory block directories on a big machine, read again after 10 s
	 * (memory hotplug moves them) */
	c = &m->eligible_nodes[g->nid];
	if (!c->at || c->addr_unit != addr_unit || now - c->at >= 10 * 1000000ULL) {
		free(c->r);
		c->r = NULL;
		c->n = 0;
		snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
		c->err = numa_node_ranges(m->sysfs_path, path, 1ULL << g->nid, page_sz, addr_unit, &c->r, &c->n, why,
					  sizeof(why));
		c->addr_unit = addr_unit;
		c->at = now ?: 1;
	}
	if (c->err < 0 && c->err != -ENODATA) { /* a memoryless node has nothing on it: 0 */
		ret->why = "the node's memory ranges are unreadable (no such node?)";
		return;
	}
	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct damon_snapshot *snap =
			m->snapshots ? snapshot_store_get(m->snapshots, kd->index, (unsigned)t) : NULL;

		/* as region refinement: this kdamond's, since the last reload commit (older ones predate the targets) */
		if (!snap || snap->pid != kd->pid || snap->ts_ns / 1000 < kd->epoch_us) {
			ret->why = "measuring: no complete aggregation of the current targets yet";
			return;
		}
		if (snap->nr_regions) {
			lo = MIN(lo, snap->regions[0].start);
			hi = MAX(hi, snap->regions[snap->nr_regions - 1].end);
		}
	}
	/* the LRU pages of the regions' span: a refresh at most every second (the span grown: at once) */
	if (fd >= 0 && hi > lo) {
		struct goal_lru_cache *lc = &m->eligible_lru;
		bool grown = !lc->lru || lc->page_sz != page_sz || lo * addr_unit < lc->first_pfn * page_sz ||
			     hi * addr_unit > (lc->first_pfn + (uint64_t)lc->nr_blocks * GOAL_LRU_BLOCK) * page_sz;

		/* until every block was read once: eight times the budget a second */
		uint64_t budget =
			GOAL_ELIGIBLE_PAGE_BUDGET * (!lc->lru || lc->nr_read < lc->nr_blocks || grown ? 8 : 1);

		if (grown || now - m->eligible_lru_at >= GOAL_ELIGIBLE_REFRESH_USEC) {
			if (goal_lru_refresh(lc, fd, lo * addr_unit, hi * addr_unit, page_sz, budget) < 0)
				log_debug("kdamond '%s': kpageflags read failed (%s): node_eligible_mem_bp counts "
					  "whole regions",
					  kd->name, strerror(lc->err ? -lc->err : ENOMEM));
			else
				m->eligible_lru_at = now;
		}
		if (lc->lru && !lc->err)
			lru = lc;
	}
	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct damon_snapshot *snap = snapshot_store_get(m->snapshots, kd->index, (unsigned)t);

		goal_eligible_add(s, snap->regions, snap->nr_regions, c->err < 0 ? NULL : c->r, c->err < 0 ? 0 : c->n,
				  lru, addr_unit, &ret->node_bytes, &ret->all_bytes);
	}
	ret->pages = lru != NULL;
	if (lru) {
		ret->read_permil = lru->nr_blocks ? (uint32_t)(lru->nr_read * 1000 / lru->nr_blocks) : 0;
		ret->pass_pages = (uint64_t)lru->nr_blocks * GOAL_LRU_BLOCK;
		/* a share from part of the span would be off by the layout of the rest (3 to 24 % in the 7.2 guest) */
		if (lru->nr_read < lru->nr_blocks) {
			ret->why = "measuring: the LRU pages of the regions' physical span are not all read yet "
				   "(eligible_read_permil)";
			return;
		}
	}
	ret->known = true;
}

/*
 * The current values of the goals damond feeds (the kernel lacks their
 * metric), or of every goal of a scheme whose temporal tuner damond runs,
 * measured the kernel's way.
 */
static void sense_goals(struct manager *m, struct kdamond_rt *kd, usec_t now, struct kd_slot_obs *so)
{
	for (size_t i = 0; i < kd->nr_slots && i < kd->policy.nr_slots; i++) {
		const struct damos_cfg *s = kd->policy.slots[i].cfg;
		uint32_t fed = kd->policy.slots[i].temporal_emulated ? UINT32_MAX : kd->policy.slots[i].fed_goals;

		for (size_t g = 0; s && fed && g < s->quota.nr_goals && g < DAMOS_MAX_GOALS; g++) {
			struct goal_eligible_obs el = {};

			if (!(fed & (1u << g)))
				continue;
			if (s->quota.goals[g].metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP)
				ctrls_goal_eligible(m, kd, s, &s->quota.goals[g], now, &el);
			goal_current_read(m->procfs_root, m->sysfs_path, &s->quota.goals[g], s->quota.reset_interval_ms,
					  &m->goal_psi, now, &el, &so[i].goal[g]);
		}
	}
}

/* The tick's observation: the stats just read, the snapshots the BPF store has, the maps asked for. */
static void observe(struct manager *m, struct kdamond_rt *kd, usec_t now, struct kd_slot_obs *so,
		    struct kd_target_obs *to, struct kd_observation *o)
{
	*o = (struct kd_observation){ .now_us = now, .alive = kd->running, .pid = kd->pid, .epoch_us = kd->epoch_us };
	for (size_t i = 0; i < kd->nr_slots; i++) {
		const struct scheme_rt *sl = &kd->slots[i];

		so[i] = (struct kd_slot_obs){ .have = sl->have_st,
					      .fresh = sl->st_fresh,
					      .stats = sl->st,
					      .at_us = sl->st_at,
					      .stats_source = sl->stats_source,
					      .have_prev = sl->have_prev,
					      .prev_at_us = sl->prev_at,
					      .tried_bps = sl->tried_bps,
					      .applied_bps = sl->applied_bps };
	}
	for (size_t t = 0; m->snapshots && t < kd->nr_targets; t++)
		to[t].snapshot = snapshot_store_get(m->snapshots, kd->index, (unsigned)t);
	o->nr_slots = kd->nr_slots;
	o->slots = so;
	o->nr_targets = kd->nr_targets;
	o->targets = to;
	sense_pageflags(m, kd, now, o);
	sense_goals(m, kd, now, so);
}

/*
 * One tick of kd's controllers on kd->overlay. Returns the mask of the
 * controllers (bit per registry index) that changed it; why says why (the
 * last one), *ret_scheme names the slot's scheme when exactly one instance
 * did.
 */
unsigned ctrls_step(struct manager *m, struct kdamond_rt *kd, usec_t now, char *why, size_t len,
		    const char **ret_scheme)
{
	_cleanup_free_ struct kd_slot_obs *so = calloc(kd->nr_slots + 1, sizeof(*so));
	_cleanup_free_ struct kd_target_obs *to = calloc(kd->nr_targets + 1, sizeof(*to));
	_cleanup_free_ const void **peers = calloc(kd->nr_slots + 1, sizeof(*peers));
	char one[512]; /* one step's reason; why gathers them */
	struct kd_observation o;
	unsigned changed = 0, n = 0;
	struct ctrl_env e;
	size_t at = 0;

	*ret_scheme = NULL;
	if (!so || !to || !peers || !kd->ctrl || !kd->policy.cfg)
		return 0;
	if (len)
		why[0] = '\0';
	observe(m, kd, now, so, to, &o);
	for (size_t c = 0; c < ctrl_registry_len; c++) {
		if (!ctrl_may_step(c, changed))
			continue;
		for (size_t i = 0; i < nr_inst(kd, c); i++) {
			void **s = inst(kd, c, i);

			if (!s || !*s)
				continue;
			env_of(m, kd, c, i, peers, &e);
			one[0] = '\0';
			if (!ctrl_registry[c]->step(&e, *s, &o, &kd->overlay, one, sizeof(one)))
				continue;
			changed |= 1u << c;
			/* one commit carries every decision of the tick: its reason names each of them */
			if (at < len) {
				int w = snprintf(why + at, len - at, "%s%s", n ? "; " : "", one);

				at = w < 0 ? len : MIN(len, at + (size_t)w);
			}
			if (++n == 1)
				*ret_scheme = per_slot(c) ? kd->slots[i].name : NULL;
			else if (*ret_scheme && (!per_slot(c) || strcmp(*ret_scheme, kd->slots[i].name) != 0))
				*ret_scheme = NULL;
		}
	}
	return changed;
}

/* What became of the commit of this tick's overlay: tell the controllers in changed. */
void ctrls_outcome(struct manager *m, struct kdamond_rt *kd, unsigned changed, enum ctrl_outcome o, usec_t now)
{
	const void **peers = calloc(kd->nr_slots + 1, sizeof(*peers));
	struct ctrl_env e;

	for (size_t c = 0; peers && c < ctrl_registry_len; c++)
		for (size_t i = 0; (changed & (1u << c)) && i < nr_inst(kd, c); i++) {
			void **s = inst(kd, c, i);

			env_of(m, kd, c, i, peers, &e);
			if (s && *s && ctrl_registry[c]->outcome)
				ctrl_registry[c]->outcome(&e, *s, o, now);
		}
	free(peers);
}

/*
 * Each controller's status, under its name: the CTRL_SCHEME ones into slot
 * `slot`'s object, the CTRL_KDAMOND ones (slot SIZE_MAX) into the kdamond's.
 * An instance with nothing to say adds no key.
 */
void ctrls_status(struct manager *m, const struct kdamond_rt *kd, size_t slot, struct json_object *into)
{
	const void **peers = calloc(kd->nr_slots + 1, sizeof(*peers));
	_cleanup_(kd_policy_done) struct kd_policy bare = {};
	struct ctrl_env e;

	/* not laid out yet (its targets did not resolve, say): the config alone */
	if (!kd->policy.cfg && kd_policy_init(&bare, kd->index, kd->cfg, kd->targets, kd->nr_targets, 0) < 0) {
		free(peers);
		return;
	}

	for (size_t c = 0; peers && c < ctrl_registry_len; c++) {
		void **s = per_slot(c) == (slot != SIZE_MAX) ? inst(kd, c, slot == SIZE_MAX ? 0 : slot) : NULL;
		void *blank = NULL;
		struct json_object *o;

		if (per_slot(c) != (slot != SIZE_MAX) || !ctrl_registry[c]->status)
			continue;
		if ((!s || !*s) && !(blank = calloc(1, ctrl_registry[c]->state_size)))
			break;
		o = json_object_new_object();
		env_of(m, kd, c, slot == SIZE_MAX ? 0 : slot, peers, &e);
		if (bare.cfg)
			e.policy = &bare;
		ctrl_registry[c]->status(&e, blank ? blank : *s, o);
		if (json_object_object_length(o)) {
			struct json_object *names;

			json_object_object_add(into, ctrl_registry[c]->name, o);
			/* which members are controllers: status-render shows the ones it has no rendering of generically */
			if (!json_object_object_get_ex(into, "controllers", &names)) {
				names = json_object_new_array();
				json_object_object_add(into, "controllers", names);
			}
			json_object_array_add(names, json_object_new_string(ctrl_registry[c]->name));
		} else
			json_object_put(o);
		free(blank);
	}
	free(peers);
}
