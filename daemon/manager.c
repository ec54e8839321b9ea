/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager: owns damond's kdamonds, applies configs, refreshes stats,
 * runs controllers and applies their decisions in one place.
 */
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <time.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "config.h"
#include "exit-codes.h"
#include "iomem.h"
#include "journal-action.h"
#include "log.h"
#include "manager.h"
#include "observe.h"
#include "units.h"
#ifdef HAVE_BPF
#include "events.h"
#endif
#include "snapshot.h"

#define KD DAMON_ADMIN_DIR "/kdamonds"

usec_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * 1000000ULL + (usec_t)ts.tv_nsec / 1000ULL;
}

/*
 * Keeps one action for status (the action log) and logs it as one journal
 * entry with DAMOND_* fields and the kind's MESSAGE_ID (journal-action.h), or
 * as the text line when stderr is not the journal. scheme may be NULL.
 */
static void record_action_why(struct manager *m, const char *kdamond, const char *scheme, const char *what,
			      const char *why, usec_t at)
{
	unsigned i = m->nr_actions++ % ACTION_LOG_SIZE;
	struct action_fields f;

	m->actions[i].at = at;
	snprintf(m->actions[i].kdamond, sizeof(m->actions[i].kdamond), "%s", kdamond ? kdamond : "");
	snprintf(m->actions[i].scheme, sizeof(m->actions[i].scheme), "%s", scheme ? scheme : "");
	snprintf(m->actions[i].what, sizeof(m->actions[i].what), "%s", what);
	snprintf(m->actions[i].why, sizeof(m->actions[i].why), "%s", why);
	action_fields_build(&f, kdamond, scheme, what, m->actions[i].why);
	(void)log_action(&f, sd_journal_sendv);
}

static void record_scheme_action(struct manager *m, const char *kdamond, const char *scheme, const char *what,
				 const char *fmt, ...) _printf_(5, 6);
static void record_scheme_action(struct manager *m, const char *kdamond, const char *scheme, const char *what,
				 const char *fmt, ...)
{
	char why[sizeof(m->actions[0].why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	record_action_why(m, kdamond, scheme, what, why, now_usec());
}

#define record_action(m, kdamond, what, ...) record_scheme_action(m, kdamond, NULL, what, __VA_ARGS__)

/*
 * The scheme a kernel file of kd belongs to ("kdamonds/N/contexts/0/schemes/S/..."
 * is slot S), or NULL: a failed write names its scheme in the journal.
 */
static const char *kd_scheme_of_path(const struct kdamond_rt *kd, const char *path)
{
	const char *p = path ? strstr(path, "/schemes/") : NULL;
	char *end;
	unsigned long s;

	if (!p)
		return NULL;
	p += strlen("/schemes/");
	if (*p < '0' || *p > '9')
		return NULL;
	s = strtoul(p, &end, 10);
	if (*end != '/' && *end != '\0')
		return NULL;
	return s < kd->nr_slots ? kd->slots[s].name : NULL;
}

/*
 * A kernel write for kd failed: log it at error level and keep it for
 * status (the kdamond's last_error and the action log, as one structured
 * journal entry of kind "error" naming the scheme the file belongs to, if
 * any). Returns r.
 */
static int kd_fail_path(struct manager *m, struct kdamond_rt *kd, int r, const char *path, const char *fmt, ...)
	_printf_(5, 6);
static int kd_fail_path(struct manager *m, struct kdamond_rt *kd, int r, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(kd->last_error);
	if (asprintf(&kd->last_error, "%s: %s", msg, strerror(-r)) < 0)
		kd->last_error = NULL;
	kd->last_error_at = now_usec();
	if (r == -EBUSY && m->retry_busy) {
		/* the caller defers the operation to the retry timer, which records it once ("deferred") */
		m->busy_seen = true;
		log_notice("kdamond '%s': %s: %s (retried in the background)", kd->name, msg, strerror(-r));
		return r;
	}
	record_action_why(m, kd->name, kd_scheme_of_path(kd, path), "error",
			  kd->last_error ? kd->last_error : "(out of memory)", kd->last_error_at);
	return r;
}

#define kd_fail(m, kd, r, ...) kd_fail_path(m, kd, r, NULL, __VA_ARGS__)

/*
 * r is the kernel's EBUSY on a lock-taking write (seen by kd_fail()), not
 * damond's own refusal of a directory a foreign kdamond runs: defer it.
 */
static bool busy_deferrable(struct manager *m, int r)
{
	bool seen = m->busy_seen;

	m->busy_seen = false;
	return r == -EBUSY && m->retry_busy && seen;
}

static void kd_set_last(struct kdamond_rt *kd, const char *what, const char *why)
{
	snprintf(kd->last_what, sizeof(kd->last_what), "%s", what);
	free(kd->last_why);
	kd->last_why = strdup_or_null(why);
	kd->last_at = now_usec();
}

void log_config_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		_cleanup_free_ char *s = NULL;

		if (config_error_format(&errs->v[i], &s) < 0)
			continue;
		if (errs->v[i].warning)
			log_warning("%s", s);
		else
			log_error("%s", s);
	}
}

/* ---- lifecycle of the runtime objects ------------------------------------ */

static void targets_free(struct damon_target_cfg *t, size_t n)
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
	pageflags_map_done(&sl->map);
	sl->map_enabled = false;
	free(sl->map_off_reason);
	sl->map_off_reason = NULL;
}

static void slots_free(struct scheme_rt *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		slot_done(&s[i]);
	free(s);
}

static void kd_done(struct kdamond_rt *kd)
{
	free(kd->name);
	free(kd->last_why);
	free(kd->record_hash);
	free(kd->pending_why);
	free(kd->last_error);
	targets_free(kd->targets, kd->nr_targets);
	slots_free(kd->slots, kd->nr_slots);
	write_list_done(&kd->written);
	*kd = (struct kdamond_rt){};
}

int manager_new(struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctl_fd = -1;
	m->kpageflags_fd = -1;
	m->nr_kdamonds_before_start = UINT64_MAX;
	r = sd_event_default(&m->event);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	manager_ctl_close(m);
	if (m->kpageflags_fd >= 0)
		close(m->kpageflags_fd);
#ifdef HAVE_BPF
	events_free(m->events);
#endif
	snapshot_store_free(m->snapshots);
	sd_event_source_unref(m->stats_timer);
	sd_event_source_unref(m->retry_timer);
	free(m->pending_off);
	sd_event_source_unref(m->sighup);
	for (size_t i = 0; i < m->nr_kd; i++)
		kd_done(&m->kd[i]);
	free(m->kd);
	damond_config_free(m->config);
	for (size_t i = 0; i < m->last_reload.nr_errors; i++)
		free(m->last_reload.errors[i]);
	free(m->last_reload.errors);
	sd_event_unref(m->event);
	sysfs_root_free(m->root);
	free(m->sysfs_path);
	free(m->procfs_root);
	free(m->runtime_dir);
	free(m->config_path);
	free(m->bpf_reason);
	free(m);
	return NULL;
}

/* ---- planning ------------------------------------------------------------ */

static int resolve_targets(struct manager *m, const struct kdamond_cfg *k, struct damon_target_cfg **ret,
			   size_t *ret_n)
{
	struct damon_target_cfg *t;
	size_t n = k->ctx.nr_targets;

	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct damon_target_cfg *src = &k->ctx.targets[i];

		t[i] = *src;
		t[i].regions = NULL;
		t[i].nr_regions = 0;
		t[i].regions_borrowed = false;
		if (src->regions_auto) {
			char path[PATH_MAX];
			int r;

			snprintf(path, sizeof(path), "%s/iomem", m->procfs_root);
			/* in core address units: iomem is in bytes, the kernel multiplies by addr_unit */
			r = iomem_system_ram_units(path, 4096, MAX(k->ctx.addr_unit, 1ULL), &t[i].regions,
						   &t[i].nr_regions);
			if (r < 0) {
				targets_free(t, n);
				return log_error_errno(r, "kdamond '%s': cannot resolve 'regions: auto' from '%s': %s",
						       k->name, path,
						       r == -EPERM ? "addresses read as zero (not root?)" : strerror(-r));
			}
		} else if (src->nr_regions) {
			/* The user's ranges as they are: shared with the config, which
			 * outlives these (a reload replaces every kdamond's targets
			 * before it frees the old config). 20,000 ranges are 320 KB. */
			t[i].regions = src->regions;
			t[i].nr_regions = src->nr_regions;
			t[i].regions_borrowed = true;
		}
	}
	*ret = t;
	*ret_n = n;
	return 0;
}

static enum fail_mode wanted_fail_mode(const struct manager *m, const struct damos_cfg *s)
{
	switch (s->quota.fail_charge_mode) {
	case DAMOS_FAIL_CHARGE_OFF:
		return FAIL_MODE_OFF;
	case DAMOS_FAIL_CHARGE_EMULATE:
		return FAIL_MODE_EMULATED;
	case DAMOS_FAIL_CHARGE_NATIVE:
		return FAIL_MODE_NATIVE;
	default:
		return m->features.f[FEATURE_FAIL_CHARGE] == FEATURE_PRESENT ? FAIL_MODE_NATIVE : FAIL_MODE_EMULATED;
	}
}

/*
 * The page-state oracle of the charge-ratio emulation: for paddr actions
 * whose success is predictable from page flags, /proc/kpageflags summarised
 * over the target's span in 2 MiB chunks. Without it the controller runs its
 * fallback law, and status says why.
 */
static void slot_setup_oracle(struct manager *m, struct kdamond_rt *kd, struct scheme_rt *sl, const struct damos_cfg *s)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	const char *why = NULL;
	char path[PATH_MAX];
	int r;

	pageflags_map_done(&sl->map);
	sl->map_enabled = false;
	free(sl->map_off_reason);
	sl->map_off_reason = NULL;

	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR)
		why = "no page-state oracle for virtual address spaces";
	else if (kd->cfg->ctx.addr_unit != 1)
		why = "no page-state oracle with addr_unit != 1";
	else if (s->action == DAMOS_PAGEOUT)
		sl->map_class = PAGEFLAGS_CLASS_EVICTABLE;
	else if (s->action == DAMOS_LRU_PRIO || s->action == DAMOS_LRU_DEPRIO)
		sl->map_class = PAGEFLAGS_CLASS_LRU;
	else
		why = "no page-state oracle for this action";
	for (size_t t = 0; !why && t < kd->nr_targets; t++)
		for (size_t i = 0; i < kd->targets[t].nr_regions; i++) {
			lo = MIN(lo, kd->targets[t].regions[i].start);
			hi = MAX(hi, kd->targets[t].regions[i].end);
		}
	if (!why && hi <= lo)
		why = "the target has no regions";
	if (!why && m->kpageflags_fd < 0 && !m->kpageflags_err) {
		snprintf(path, sizeof(path), "%s/kpageflags", m->procfs_root);
		m->kpageflags_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (m->kpageflags_fd < 0)
			m->kpageflags_err = errno ? errno : EIO;
	}
	if (!why && m->kpageflags_fd < 0)
		why = m->kpageflags_err == EACCES || m->kpageflags_err == EPERM ? "cannot read kpageflags (not root?)"
										 : "kpageflags is not available";
	if (!why) {
		r = pageflags_map_init(&sl->map, lo, hi, 2ULL << 20, 4096);
		if (r < 0)
			why = "cannot size the page-state map";
	}
	if (why) {
		sl->map_off_reason = strdup_or_null(why);
		log_notice("kdamond '%s' scheme '%s': charge-ratio emulation without page-state oracle (%s): "
			   "fallback law, bounded at %u.%u x quota per window",
			   kd->name, s->name, why, 1 + sl->cp.margin_permil / 1000, sl->cp.margin_permil % 1000 / 100);
		return;
	}
	/* A full scan reads 8 bytes per page: 2 ms per GiB-ish; scan at most every 1 s per GiB monitored. */
	sl->map_period_us = MAX(1000000ULL, (hi - lo) / (1ULL << 30) * 1000000ULL);
	sl->map_enabled = true;
}

/* Initialise a slot's runtime for a (new or changed) config scheme. */
static void slot_configure(struct manager *m, struct kdamond_rt *kd, struct scheme_rt *sl, usec_t now)
{
	const struct damos_cfg *s = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
	enum fail_mode mode = s ? wanted_fail_mode(m, s) : FAIL_MODE_OFF;
	struct charge_params p = {};

	if (!s || mode != FAIL_MODE_EMULATED) {
		sl->fail_mode = mode;
		sl->ctrl_active = false;
		sl->quota_override = false;
		sl->nr_reject = 0;
		return;
	}
	charge_params_default(&p, s->quota.bytes, s->quota.reset_interval_ms * 1000, s->quota.fail_charge_num,
			      s->quota.fail_charge_denom);
	p.min_region_sz = 4096 * MAX(kd->cfg->ctx.addr_unit, 1ULL);
	/* Keep the controller's learned state across reloads that do not change its parameters. */
	if (sl->fail_mode == FAIL_MODE_EMULATED && sl->ctrl_active && !memcmp(&p, &sl->cp, sizeof(p)))
		return;
	sl->fail_mode = FAIL_MODE_EMULATED;
	sl->cp = p;
	charge_init(&sl->cs, &sl->cp, now);
	sl->ctrl_active = true;
	sl->quota_override = false;
	sl->nr_reject = 0;
	slot_setup_oracle(m, kd, sl, s);
}

struct gapped {
	struct damon_target_cfg *t;
	size_t n;
};

static void targets_freep(struct gapped *g)
{
	if (g->t)
		targets_free(g->t, g->n);
}

/*
 * The charge-ratio emulation excludes memory its action fails on by leaving
 * it out of the paddr target: the user's ranges minus every emulated
 * scheme's reject ranges (docs/CONTROLLERS.md explains why gaps and not
 * addr filters). g->t stays NULL when there is nothing to cut.
 */
static int targets_with_gaps(const struct kdamond_rt *kd, struct gapped *g)
{
	struct damon_addr_range cut[CHARGE_MAX_FILTERS * 4];
	size_t nc = 0;

	if (kd->cfg->ctx.ops != DAMON_OPS_PADDR)
		return 0;
	for (size_t i = 0; i < kd->nr_slots; i++)
		for (size_t j = 0; j < kd->slots[i].nr_reject && nc < ARRAY_SIZE(cut); j++)
			cut[nc++] = kd->slots[i].reject[j];
	if (!nc)
		return 0;
	g->t = calloc(kd->nr_targets ? kd->nr_targets : 1, sizeof(*g->t));
	if (!g->t)
		return -ENOMEM;
	g->n = kd->nr_targets;
	for (size_t t = 0; t < kd->nr_targets; t++) {
		const struct damon_target_cfg *src = &kd->targets[t];
		size_t cap = 0;

		g->t[t] = *src;
		g->t[t].regions = NULL;
		g->t[t].nr_regions = 0;
		g->t[t].regions_borrowed = false;	/* built here, owned */
		for (size_t i = 0; i < src->nr_regions; i++) {
			uint64_t pos = src->regions[i].start, end = src->regions[i].end;

			while (pos < end) {
				uint64_t next_cut = end, resume = end;
				struct damon_addr_range *r;

				/* the earliest cut that overlaps [pos, end) */
				for (size_t c = 0; c < nc; c++)
					if (cut[c].end > pos && cut[c].start < end && MAX(cut[c].start, pos) < next_cut) {
						next_cut = MAX(cut[c].start, pos);
						resume = cut[c].end;
					}
				/* page-aligned kept piece [pos, next_cut) */
				if (next_cut - pos >= 4096) {
					r = APPEND(g->t[t].regions, g->t[t].nr_regions, cap);
					if (!r)
						return -ENOMEM;
					r->start = pos;
					r->end = next_cut & ~4095ULL;
				}
				if (next_cut == end)
					break;
				pos = (MIN(resume, end) + 4095) & ~4095ULL;
			}
		}
		if (!g->t[t].nr_regions) {
			/* never cut everything away: keep the user's ranges */
			free(g->t[t].regions);
			g->t[t].regions = calloc(src->nr_regions, sizeof(*src->regions));
			if (!g->t[t].regions)
				return -ENOMEM;
			memcpy(g->t[t].regions, src->regions, src->nr_regions * sizeof(*src->regions));
			g->t[t].nr_regions = src->nr_regions;
		}
	}
	return 0;
}

/*
 * The write list for kd: the policy, the charge emulation's quotas and gaps,
 * and (override, a region-refinement commit) other target region lists.
 */
static int plan_render(struct manager *m, struct kdamond_rt *kd, bool keep_regions, const struct gapped *override,
		       struct write_list *ret)
{
	_cleanup_free_ struct scheme_slot *slots = NULL;
	struct kdamond_plan plan = {
		.cfg = kd->cfg,
		.targets = kd->targets,
		.nr_targets = kd->nr_targets,
		.keep_regions = keep_regions,
	};

	_cleanup_(targets_freep) struct gapped gapped = {};
	int r;

	if (override) {
		plan.targets = override->t;
		plan.nr_targets = override->n;
	} else {
		r = targets_with_gaps(kd, &gapped);
		if (r < 0)
			return r;
		if (gapped.t) {
			plan.targets = gapped.t;
			plan.nr_targets = gapped.n;
		}
	}
	slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct scheme_rt *sl = &kd->slots[i];

		slots[i].cfg = sl->cfg_idx >= 0 ? &kd->cfg->ctx.schemes[sl->cfg_idx] : NULL;
		slots[i].native_fail_charge = sl->fail_mode == FAIL_MODE_NATIVE;
		slots[i].quota_override = sl->quota_override;
		slots[i].quota_bytes = sl->kernel_quota;
		/* the emulation's exclusions are target gaps (targets_with_gaps), not filters */
		slots[i].reject = NULL;
		slots[i].nr_reject = 0;
	}
	plan.slots = slots;
	plan.nr_slots = kd->nr_slots;
	return damon_render_kdamond(kd->index, &plan, &m->features, ret);
}

/* ---- kernel operations --------------------------------------------------- */

/*
 * Save the ownership record now. Called before each change that creates or
 * starts something (the intent) and after it, so that whatever instant
 * damond dies at, the record covers every kdamond directory and kdamond it
 * created (record.c).
 */
static void record_save(struct manager *m)
{
	int r;

	if (m->dry_run)
		return;
	r = ownership_save(m->runtime_dir, m);
	if (r < 0)
		log_warning_errno(r, "cannot save the ownership record in '%s': %m", m->runtime_dir);
	else
		m->record_saved = true;
}

static void kd_forget_rates(struct kdamond_rt *kd);

/* Write nr_kdamonds = need, announced in the record first. */
/*
 * nr_kdamonds through the ownership record: the record names the new
 * directories before the kernel creates them, and is put back if the write
 * fails. With may_defer, an EBUSY is returned quietly for the caller to
 * retry from the timer; every other failure is logged and in the action log.
 */
static int write_nr_kdamonds_ex(struct manager *m, uint64_t need, bool may_defer, const char *note)
{
	uint64_t was = m->nr_kdamonds_dirs;
	int r = 0;

	if (!m->dry_run) {
		m->nr_kdamonds_was = was;
		m->nr_kdamonds_dirs = need;
		record_save(m);
		r = damon_write_nr_kdamonds(m->root, need);
		if (r < 0) {
			m->nr_kdamonds_dirs = m->nr_kdamonds_was = was;
			record_save(m);
			if (r == -EBUSY && may_defer)
				return r;
			log_error_errno(r, "writing '" KD "/nr_kdamonds' = '%" PRIu64 "' failed: %m", need);
			record_action(m, NULL, "error", "writing '" KD "/nr_kdamonds' = '%" PRIu64 "' failed: %s", need,
				      strerror(-r));
			return r;
		}
	}
	record_action(m, NULL, "nr_kdamonds", "nr_kdamonds = %" PRIu64 " (was %" PRIu64 ")%s", need, was,
		      note ? note : "");
	m->nr_kdamonds_dirs = m->nr_kdamonds_was = need;
	return 0;
}

static int write_nr_kdamonds(struct manager *m, uint64_t need)
{
	return write_nr_kdamonds_ex(m, need, false, NULL);
}

static int apply_list(struct manager *m, struct kdamond_rt *kd, const struct write_list *l)
{
	struct sysfs_file fb;
	const struct sysfs_file *f;
	size_t failed = 0, file = 0;
	int r;

	if (m->dry_run) {
		/* one line per file: a region block is logged as the files it writes */
		for (size_t i = 0; i < l->n; i++)
			for (size_t j = 0, nf = sysfs_write_nr_files(&l->v[i]); j < nf; j++) {
				f = sysfs_write_file(&l->v[i], j, &fb);
				log_info("dry-run: would write '%s/%s' = '%s'", m->sysfs_path, f->path, f->value);
			}
		return 0;
	}
	r = damon_write_list_apply_ex(m->root, l, &failed, &file);
	if (r < 0) {
		f = sysfs_write_file(&l->v[failed], file, &fb);
		return kd_fail_path(m, kd, r, f->path, "writing '%s' = '%s' failed", f->path, f->value);
	}
	return 0;
}

static int verify_list(struct manager *m, struct kdamond_rt *kd, const struct write_list *l)
{
	_cleanup_free_ char *mismatch = NULL;
	int r;

	if (m->dry_run)
		return 0;
	r = damon_write_list_verify(m->root, l, &mismatch);
	if (r < 0)
		return kd_fail(m, kd, r, "read-back differs: %s", mismatch ? mismatch : "(unknown)");
	return 0;
}

static int state_cmd(struct manager *m, struct kdamond_rt *kd, const char *cmd)
{
	int r;

	if (m->dry_run) {
		log_info("dry-run: would write '%s/" KD "/%u/state' = '%s'", m->sysfs_path, kd->index, cmd);
		return 0;
	}
	r = damon_state_cmd(m->root, kd->index, cmd);
	if (r < 0)
		return kd_fail(m, kd, r, "writing '" KD "/%u/state' = '%s' failed", kd->index, cmd);
	return 0;
}

static int kd_start(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	_cleanup_(write_list_done) struct write_list l = {};
	bool on = false;
	int pid = -1, r;

	m->busy_seen = false;
	r = plan_render(m, kd, false, NULL, &l);
	if (r < 0)
		return log_error_errno(r, "kdamond '%s': cannot render: %m", kd->name);
	/* Never rewrite a directory whose kdamond runs: damond does not run it, or it would know. */
	if (!m->dry_run && damon_read_state(m->root, kd->index, &on, &pid) >= 0 && on) {
		m->exit_status = DAMOND_EXIT_FOREIGN;
		return log_error_errno(SYNTHETIC_ERRNO(EBUSY),
				       "kdamond '%s': kdamonds/%u is running (pid %d) but not as damond's; leaving it alone",
				       kd->name, kd->index, pid);
	}
	/* intent: from here on, a kdamond running in this directory is damond's */
	free(kd->record_hash);
	kd->record_hash = write_list_hash(&l);
	kd->starting = true;
	record_save(m);
	r = apply_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = verify_list(m, kd, &l);
	if (r < 0)
		goto fail;
	r = state_cmd(m, kd, "on");
	if (r < 0) {
		if (r == -EBUSY)
			log_error("kdamond '%s': the kernel refused 'on' with EBUSY: another DAMON user "
				  "(DAMON_STAT, DAMON_RECLAIM, DAMON_LRU_SORT or a sysfs command) holds DAMON",
				  kd->name);
		goto fail;
	}
	if (!m->dry_run) {
		r = damon_read_state(m->root, kd->index, &on, &pid);
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot read state: %m", kd->name);
		if (!on) {
			r = log_error_errno(SYNTHETIC_ERRNO(EIO), "kdamond '%s': state reads 'off' after 'on'",
					    kd->name);
			goto fail;
		}
	}
	kd->running = !m->dry_run;
	kd->pid = pid;
	kd->died = false;
	kd->adopted = false;
	kd->starting = false;
	write_list_done(&kd->written);
	kd->written = l;
	l = (struct write_list){};
	kd->pending = KD_PENDING_NONE;
	kd_set_last(kd, "on", why);
	record_action(m, kd->name, "on", "started as kdamonds/%u, pid %d (%s)", kd->index, pid, why);
	record_save(m);
	return 0;

fail:
	/* the kdamond is not on: the record must not keep calling the directory "starting" */
	if (!m->dry_run && damon_read_state(m->root, kd->index, &on, &pid) >= 0 && !on) {
		kd->starting = false;
		record_save(m);
	}
	return r;
}

static int kd_stop(struct manager *m, struct kdamond_rt *kd, const char *why)
{
	int r;

	if (!kd->running)
		return 0;
	r = state_cmd(m, kd, "off");
	if (r < 0 && r != -EPERM) /* 7.2: EPERM when already off */
		return r;
	kd->running = false;
	kd->pid = -1;
	kd_set_last(kd, "off", why);
	record_action(m, kd->name, "off", "stopped (%s)", why);
	return 0;
}

/*
 * With intervals_goal active the kernel tunes sample/aggr intervals; a
 * commit carrying the user's values would reset the tuning and restart the
 * aggregation window. Ask the kernel for the tuned values and commit those.
 */
static int carry_tuned_intervals(struct manager *m, struct kdamond_rt *kd, struct write_list *l)
{
	char p[PATH_MAX];
	uint64_t v;
	int r;

	if (m->dry_run || !kd->cfg->ctx.intervals_goal.aggrs ||
	    m->features.f[FEATURE_UPDATE_TUNED_INTERVALS] != FEATURE_PRESENT)
		return 0;
	r = damon_state_cmd(m->root, kd->index, "update_tuned_intervals");
	if (r < 0) {
		log_debug_errno(r, "kdamond '%s': update_tuned_intervals: %m", kd->name);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		const char *name = strrchr(l->v[i].path, '/');
		char *nv;

		if (!name || !strstr(l->v[i].path, "/monitoring_attrs/intervals/") ||
		    (!streq(name, "/sample_us") && !streq(name, "/aggr_us")))
			continue;
		snprintf(p, sizeof(p), "%s", l->v[i].path);
		if (sysfs_read_u64(m->root, p, &v) < 0)
			continue;
		if (asprintf(&nv, "%" PRIu64, v) < 0)
			return -ENOMEM;
		free(l->v[i].value);
		l->v[i].value = nv;
	}
	return 0;
}

/*
 * Commit kd's current plan to its running kdamond. The canonical list (with
 * regions) is what we remember; the committed one keeps the kernel's regions
 * when they did not change, so their monitoring history survives.
 */
/*
 * Commit kd's policy online. regions_changed: the target region lists differ
 * from what the kernel holds (else they go as nr_regions 0, which keeps the
 * kernel's regions). override: commit these target region lists instead of
 * the policy's (region refinement); kd->written and the staging files stay
 * the policy's.
 */
static int kd_commit(struct manager *m, struct kdamond_rt *kd, bool regions_changed, const struct gapped *override,
		     const char *scheme, const char *why)
{
	_cleanup_(write_list_done) struct write_list canon = {}, l = {};
	size_t failed = 0, file = 0;
	struct sysfs_file fb;
	const struct sysfs_file *f;
	bool on = true;
	int pid = kd->pid, r;

	m->busy_seen = false;
	r = plan_render(m, kd, false, NULL, &canon);
	if (r < 0)
		return r;
	r = plan_render(m, kd, !regions_changed && !override, override, &l);
	if (r < 0)
		return r;
	r = carry_tuned_intervals(m, kd, &l);
	if (r < 0)
		return r;
	r = apply_list(m, kd, &l);
	if (r < 0)
		goto restore;
	r = state_cmd(m, kd, "commit");
	if (r < 0)
		goto restore;
	if (!m->dry_run) {
		r = damon_read_state(m->root, kd->index, &on, &pid);
		if (r < 0)
			return log_error_errno(r, "kdamond '%s': cannot read state after commit: %m", kd->name);
		if (!on) {
			kd->running = false;
			kd->died = true;
			kd->pid = -1;
			record_action(m, kd->name, "died",
				      "the kdamond stopped on 'commit' (kernels before 7.x report no commit errors "
				      "and stop the kdamond instead)");
			kd_forget_rates(kd);
			manager_notify_status(m);
			return -ECANCELED;
		}
		if (pid != kd->pid)
			log_warning("kdamond '%s': pid changed from %d to %d across a commit", kd->name, kd->pid,
				    pid);
		kd->pid = pid;
		r = verify_list(m, kd, &l);
		if (r < 0)
			return r;
		if (!regions_changed || override) {
			/*
			 * The commit carried nr_regions 0 so the kernel kept its
			 * regions, or refined ones; put the policy's regions back
			 * into the staging files so the tree reads back as the
			 * policy again.
			 */
			struct write_list t = {};

			for (size_t i = 0; i < canon.n; i++)
				if (sysfs_write_is_region(&canon.v[i])) {
					struct sysfs_write *w = APPEND(t.v, t.n, t.cap);

					if (!w)
						break;
					*w = canon.v[i];
				}
			r = damon_write_list_apply_ex(m->root, &t, &failed, &file);
			if (r < 0) {
				/* the commit stands; the staging files differ from the policy until the next write */
				f = sysfs_write_file(&t.v[failed], file, &fb);
				(void)kd_fail_path(m, kd, r, f->path,
					      "committed, but restoring the staging region files failed: "
					      "writing '%s' = '%s'",
					      f->path, f->value);
			}
			/* entries, region blocks' arrays too, are borrowed from canon: only t.v is t's */
			free(t.v);
		}
	}
	write_list_done(&kd->written);
	kd->written = canon;
	canon = (struct write_list){};
	kd->pending = KD_PENDING_NONE;	/* whatever waited for the lock: the current plan landed */
	kd_set_last(kd, "commit", why);
	record_scheme_action(m, kd->name, scheme, "commit", "committed online, pid %d kept (%s)", kd->pid, why);
	return 0;

restore:
	/*
	 * The kernel rejected the commit (7.x validates on a copy, so the
	 * running kdamond is unchanged): put the staging files back to what runs.
	 */
	if (!m->dry_run && kd->written.n) {
		int q = damon_write_list_apply_ex(m->root, &kd->written, &failed, &file);

		if (q == -EBUSY && busy_deferrable(m, r)) {
			/* the retry rewrites the whole list anyway; keep the first error in status */
			m->busy_seen = true;
			log_debug("kdamond '%s': restoring the staging files: busy too", kd->name);
		} else if (q < 0) {
			/* nothing reached the running kdamond; its staging files hold part of the refused plan */
			f = sysfs_write_file(&kd->written.v[failed], file, &fb);
			(void)kd_fail_path(m, kd, q, f->path,
					   "restoring the staging files to what runs failed: writing '%s' = '%s'",
				      f->path, f->value);
		}
	}
	return r;
}

/* ---- EBUSY retries ------------------------------------------------------- */

/*
 * The kernel's DAMON sysfs lock is a trylock (kernel-damon.md 2.2, 2.5):
 * while another user holds it, nr_* files, state commands, memcg_path and
 * goal path writes fail with EBUSY. Inside the event loop damond sleeps at
 * most MANAGER_BUSY_BUDGET_MS per callback on it (damon_set_busy_budget()).
 * An operation still refused then is deferred: kd->pending says what waits
 * (a start or a commit), and this timer redoes it as a whole with backoff
 * (MANAGER_RETRY_FIRST_US doubling to MANAGER_RETRY_MAX_US) until it lands
 * or fails otherwise, while status and reloads are served in between.
 * Redoing is safe: a start or commit rewrites the kdamond's whole list, and
 * nothing reaches the running kdamond before 'on' / 'commit'. A reload
 * redoes whatever waited, with the new configuration.
 */
static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void retry_arm(struct manager *m)
{
	int enabled = SD_EVENT_OFF, r;

	if (m->retry_timer && sd_event_source_get_enabled(m->retry_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return;	/* already due */
	if (!m->retry_delay_us)
		m->retry_delay_us = MANAGER_RETRY_FIRST_US;
	if (m->retry_timer) {
		(void)sd_event_source_set_time(m->retry_timer, now_usec() + m->retry_delay_us);
		(void)sd_event_source_set_enabled(m->retry_timer, SD_EVENT_ONESHOT);
		return;
	}
	r = sd_event_add_time(m->event, &m->retry_timer, CLOCK_MONOTONIC, now_usec() + m->retry_delay_us, 1000,
			      on_retry_timer, m);
	if (r < 0)
		log_error_errno(r, "cannot arm the EBUSY retry timer: %m");
}

const char *kd_pending_to_string(enum kd_pending p)
{
	return p == KD_PENDING_START ? "start" : p == KD_PENDING_COMMIT ? "commit" : "none";
}

/* kd's start or commit was refused with EBUSY after the in-loop budget: redo it from the retry timer. */
static void kd_defer(struct manager *m, struct kdamond_rt *kd, enum kd_pending what, bool regions_changed,
		     const char *why)
{
	if (kd->pending == KD_PENDING_NONE) {
		kd->pending_since = now_usec();
		kd->pending_attempts = 0;
		kd->pending_regions = false;
	}
	if (kd->pending != KD_PENDING_START)	/* a start writes everything a commit would */
		kd->pending = what;
	kd->pending_regions |= regions_changed;
	free(kd->pending_why);
	kd->pending_why = strdup_or_null(why);
	kd->pending_attempts++;
	record_action(m, kd->name, "deferred",
		      "%s waits for the DAMON sysfs lock (EBUSY beyond the event loop's %u ms budget), "
		      "retried from a timer (%s)",
		      kd_pending_to_string(kd->pending), MANAGER_BUSY_BUDGET_MS, why);
	retry_arm(m);
}

/* A reload removed kd, but its 'off' stays busy: keep stopping it from the retry timer (status: busy.pending_off). */
static void defer_off(struct manager *m, const struct kdamond_rt *kd)
{
	struct pending_off *n = realloc(m->pending_off, (m->nr_pending_off + 1) * sizeof(*n));

	if (!n) {
		log_oom();
		return;
	}
	m->pending_off = n;
	n = &m->pending_off[m->nr_pending_off++];
	snprintf(n->name, sizeof(n->name), "%s", kd->name);
	n->index = kd->index;
	n->pid = kd->pid;
	record_action(m, kd->name, "deferred",
		      "'off' waits for the DAMON sysfs lock (EBUSY); kdamonds/%u (pid %d) runs until it lands", kd->index,
		      kd->pid);
	retry_arm(m);
}

static bool index_pending_off(const struct manager *m, unsigned index)
{
	for (size_t i = 0; i < m->nr_pending_off; i++)
		if (m->pending_off[i].index == index)
			return true;
	return false;
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	bool waiting = false, landed = false;
	int r;

	damon_busy_budget_reset();
	m->busy_retry_rounds++;
	for (size_t i = 0; i < m->nr_pending_off;) {
		struct pending_off *po = &m->pending_off[i];
		bool on = false;
		int pid = -1;

		r = damon_read_state(m->root, po->index, &on, &pid);
		if (r >= 0 && on && pid == po->pid)
			r = damon_state_cmd(m->root, po->index, "off");
		if (r == -EBUSY) {
			waiting = true;
			i++;
			continue;
		}
		if (r < 0 && r != -EPERM)
			record_action(m, po->name, "error", "writing '" KD "/%u/state' = 'off' failed: %s", po->index,
				      strerror(-r));
		else
			record_action(m, po->name, "off", "stopped kdamonds/%u (removed from the configuration), after "
				      "waiting for the DAMON sysfs lock", po->index);
		landed = true;
		memmove(po, po + 1, (m->nr_pending_off - i - 1) * sizeof(*po));
		m->nr_pending_off--;
	}
	if (m->pending_nr_kdamonds && m->nr_pending_off) {
		waiting = true;
	} else if (m->pending_nr_kdamonds) {
		uint64_t need = m->pending_nr_kdamonds;

		/* the kernel only creates kdamond directories while none runs */
		for (size_t i = 0; i < m->nr_kd; i++)
			if (m->kd[i].running)
				(void)kd_stop(m, &m->kd[i], "adding a kdamond: the kernel only creates kdamond "
							    "directories while none runs");
		r = write_nr_kdamonds_ex(m, need, true, ", after waiting for the DAMON sysfs lock");
		if (r == -EBUSY) {
			waiting = true;
		} else {
			m->pending_nr_kdamonds = 0;
			if (r >= 0)
				landed = true;
		}
	}
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		enum kd_pending what = kd->pending;
		char why[256];

		if (what == KD_PENDING_NONE)
			continue;
		if (m->pending_nr_kdamonds) {
			waiting = true;	/* the directories come first */
			continue;
		}
		kd->pending_attempts++;
		snprintf(why, sizeof(why), "%s; landed on attempt %u, %.1f s after the first EBUSY",
			 kd->pending_why ? kd->pending_why : "retry", kd->pending_attempts,
			 (double)(now_usec() - kd->pending_since) / 1e6);
		if (what == KD_PENDING_COMMIT && !kd->running)
			what = KD_PENDING_START;	/* it died meanwhile: start it with the plan */
		if (what == KD_PENDING_START) {
			r = kd->running ? kd_stop(m, kd, "restart, after waiting for the DAMON sysfs lock") : 0;
			if (r >= 0)
				r = kd_start(m, kd, why);
		} else {
			r = kd_commit(m, kd, kd->pending_regions, NULL, NULL, why);
			if (r == -ECANCELED)
				r = kd_start(m, kd, "restart after the kdamond died on commit");
		}
		if (busy_deferrable(m, r)) {
			kd->pending = what;
			waiting = true;
			continue;
		}
		if (r < 0)
			record_action(m, kd->name, "gave-up", "the %s that waited for the DAMON sysfs lock failed: %s",
				      kd_pending_to_string(what), strerror(-r));
		else
			landed = true;
		kd->pending = KD_PENDING_NONE;
	}
	if (landed && !m->dry_run) {
#ifdef HAVE_BPF
		manager_events_update_pids(m);
#endif
		r = ownership_save(m->runtime_dir, m);
		if (r < 0)
			log_warning_errno(r, "cannot save the ownership record in '%s': %m", m->runtime_dir);
	}
	if (waiting) {
		m->retry_delay_us = MIN(m->retry_delay_us * 2, MANAGER_RETRY_MAX_US);
		retry_arm(m);
	} else {
		m->retry_delay_us = 0;
	}
	return 0;
}

/* ---- statistics and controllers ----------------------------------------- */

static void decide_and_apply(struct manager *m, struct kdamond_rt *kd, usec_t now);

/* A quota the kernel turns into an effective size (bytes, time or goals). */
static bool slot_has_quota(const struct kdamond_rt *kd, size_t i)
{
	const struct damos_cfg *c;

	if (kd->slots[i].cfg_idx < 0)
		return false;
	c = &kd->cfg->ctx.schemes[kd->slots[i].cfg_idx];
	return c->quota.bytes || c->quota.ms || c->quota.nr_goals;
}

/*
 * A kdamond that stopped has no rates: its last ones would read as current.
 * The last stats stay (the totals it reached), status marks them stale.
 */
static void kd_forget_rates(struct kdamond_rt *kd)
{
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].have_prev = false;
		kd->slots[i].tried_bps = kd->slots[i].applied_bps = 0;
	}
}

void manager_notify_status(struct manager *m)
{
	char dead[256] = "";
	size_t on = 0, nr_dead = 0, len = 0;

	for (size_t i = 0; i < m->nr_kd; i++) {
		if (m->kd[i].running)
			on++;
		else if (m->kd[i].died) {
			nr_dead++;
			if (len < sizeof(dead))
				len += (size_t)snprintf(dead + len, sizeof(dead) - len, "%s'%s'", nr_dead > 1 ? ", " : "",
							m->kd[i].name);
		}
	}
	if (nr_dead)
		(void)sd_notifyf(false, "STATUS=Running %zu of %zu kdamond(s), configuration generation %u; died: %s",
				 on, m->nr_kd, m->generation, dead);
	else
		(void)sd_notifyf(false, "STATUS=Running %zu kdamond(s), configuration generation %u", on,
				 m->generation);
}

static void kd_refresh_stats(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	_cleanup_free_ struct scheme_observation *obs = NULL;
	bool on = false, any_quota = false, esz_fresh = false, from_bpf;
	int pid = -1, r;

	if (!kd->running || m->dry_run)
		return;
	r = damon_read_state(m->root, kd->index, &on, &pid);
	if (r >= 0 && (!on || pid != kd->pid)) {
		kd->running = on;
		kd->died = !on;
		record_action(m, kd->name, "died",
			      on ? "pid changed behind damond's back (%d -> %d)"
				 : "the kdamond stopped behind damond's back (was pid %d; a vaddr target may have exited)",
			      kd->pid, pid);
		kd->pid = on ? pid : -1;
#ifdef HAVE_BPF
		manager_events_update_pids(m);
#endif
		if (!on) {
			kd_forget_rates(kd);
			kd_set_last(kd, "died", "the kdamond stopped behind damond's back");
			record_save(m);
			manager_notify_status(m);
			return;
		}
	}
	obs = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*obs));
	if (!obs)
		return;

	/*
	 * Prefer the BPF monitor's per-apply-interval values
	 * (damos_stat_after_apply_interval, 7.0+; damos_esz, 6.17+): they cost
	 * no command and no global DAMON sysfs lock. Only when every scheme has
	 * fresh ones; otherwise ask sysfs for all, so one refresh never mixes
	 * sources.
	 */
	from_bpf = m->snapshots && m->events && kd->nr_slots > 0;
	for (size_t i = 0; from_bpf && i < kd->nr_slots; i++) {
		const struct damos_cfg *c = kd->slots[i].cfg_idx >= 0 ? &kd->cfg->ctx.schemes[kd->slots[i].cfg_idx] : NULL;
		uint64_t ai = c && c->apply_interval_us ? c->apply_interval_us : kd->cfg->ctx.aggr_us;

		from_bpf = observe_scheme_bpf(m->snapshots, kd->index, (unsigned)i, slot_has_quota(kd, i), now,
					      2 * m->config->settings.stats_interval_us + 2 * ai, &obs[i]);
	}
	if (!from_bpf) {
		/* what the loop above found for the first schemes is not used: one source per refresh */
		memset(obs, 0, kd->nr_slots * sizeof(*obs));
		/*
		 * With refresh_ms (6.17+) the kernel refreshes stats, effective quotas and
		 * tuned intervals by itself; otherwise ask it, which takes the global
		 * DAMON sysfs lock (and >= 100 ms per command on 6.12).
		 */
		if (kd->cfg->refresh_ms && m->features.f[FEATURE_REFRESH_MS] == FEATURE_PRESENT) {
			esz_fresh = true;
		} else {
			r = damon_state_cmd(m->root, kd->index, "update_schemes_stats");
			if (r < 0) {
				log_debug_errno(r, "kdamond '%s': update_schemes_stats: %m", kd->name);
				return;
			}
			m->stats_commands++;
			for (size_t i = 0; i < kd->nr_slots; i++)
				any_quota |= slot_has_quota(kd, i);
			if (any_quota && damon_state_cmd(m->root, kd->index, "update_schemes_effective_quotas") >= 0) {
				m->stats_commands++;
				esz_fresh = true;
			}
		}
		for (size_t i = 0; i < kd->nr_slots; i++) {
			struct damos_stats st;

			if (damon_read_scheme_stats(m->root, kd->index, (unsigned)i, &st) < 0)
				continue;
			observe_scheme_sysfs(&st, esz_fresh, now, &obs[i]);
		}
	}

	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct scheme_rt *sl = &kd->slots[i];
		const struct damos_stats *st = &obs[i].stats;

		sl->st_fresh = false;
		if (obs[i].stats_source == OBS_SOURCE_NONE)
			continue;
		if (sl->have_st && obs[i].stats_at_us <= sl->st_at)
			continue;	/* nothing newer since the last refresh */
		sl->st_fresh = true;
		if (sl->have_st) {
			sl->prev = sl->st;
			sl->prev_at = sl->st_at;
			sl->have_prev = true;
		}
		sl->st = *st;
		if (obs[i].esz_source == OBS_SOURCE_NONE && sl->have_st)
			sl->st.effective_bytes = sl->prev.effective_bytes;
		sl->st_at = obs[i].stats_at_us;
		sl->stats_source = obs[i].stats_source;
		sl->have_st = true;
		if (sl->have_prev && sl->st_at > sl->prev_at) {
			double dt = (double)(sl->st_at - sl->prev_at) / 1e6;

			sl->tried_bps = (double)(st->sz_tried - MIN(st->sz_tried, sl->prev.sz_tried)) / dt;
			sl->applied_bps = (double)(st->sz_applied - MIN(st->sz_applied, sl->prev.sz_applied)) / dt;
		}
	}
	decide_and_apply(m, kd, now);
}

/* Why region refinement cannot run for kd, or NULL. */
const char *refine_off_reason(const struct manager *m, const struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;

	if (!c->refine.enabled)
		return "disabled (refine.enabled: false)";
	if (!m->snapshots || !m->events)
		return "needs the BPF monitor's region snapshots (the monitor is not BPF)";
	if (c->addr_unit != 1)
		return "not supported with addr_unit other than 1";
	if (c->intervals_goal.aggrs)
		return "not supported with intervals_goal (nr_accesses changes scale as intervals are tuned)";
	if (kd->nr_targets > REFINE_MAX_TARGETS)
		return "not supported with more than 16 targets";
	return NULL;
}

/*
 * The time between refinement rounds: the configured interval, but at least
 * twice the longest apply interval of kd's schemes. A commit on 6.12
 * restarts every scheme's apply interval (ARCHITECTURE.md item 7), so
 * rounds more frequent than a scheme's apply interval would keep it from
 * ever applying; damond assumes those semantics on every kernel.
 */
uint64_t refine_interval_us(const struct kdamond_rt *kd)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;
	uint64_t longest = 0;

	for (size_t i = 0; i < kd->nr_slots; i++)
		if (kd->slots[i].cfg_idx >= 0) {
			uint64_t ai = c->schemes[kd->slots[i].cfg_idx].apply_interval_us;

			longest = MAX(longest, ai ? ai : c->aggr_us);
		}
	return MAX(c->refine.interval_us, 2 * longest);
}

/* A fresh refinement state for kdamond process pid (0: refinement not running). */
static void kd_refine_reset(struct kdamond_rt *kd, int pid)
{
	refine_init(&kd->refine);
	memset(&kd->refine_last, 0, sizeof(kd->refine_last));
	kd->refine_pid = pid;
}

/*
 * Region refinement for kd (lib/ctrl-refine.h): feed the newest snapshot of
 * each target, and commit the split regions when it says so. Returns true
 * when it committed.
 */
static bool kd_refine(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	const struct damon_ctx_cfg *c = &kd->cfg->ctx;
	struct refine_target_obs t[REFINE_MAX_TARGETS] = {};
	struct refine_obs o = { .now_us = now, .nr_targets = kd->nr_targets, .targets = t };
	struct refine_params p = {
		.interval_us = refine_interval_us(kd),
		.max_splits = (unsigned)MIN(c->refine.max_splits, (uint64_t)REFINE_MAX_SPLITS),
		.min_region_sz = 4096,	/* DAMON_MIN_REGION: one page */
		.max_nr_accesses = (uint32_t)CLAMP(c->aggr_us / MAX(c->sample_us, 1ULL), 1ULL, (uint64_t)UINT32_MAX),
		.max_nr_regions = c->max_nr_regions,
		.settle_us = c->aggr_us,
		.max_age_us = 2 * c->aggr_us + 2 * m->config->settings.stats_interval_us,
	};
	struct refine_decision *d = &kd->refine_last;
	_cleanup_(targets_freep) struct gapped g = {}, ov = {};
	const struct damon_target_cfg *base;
	_cleanup_free_ char *why = NULL;
	const char *off;
	int r;

	off = refine_off_reason(m, kd);
	if (off || !kd->running) {
		if (kd->refine_pid)	/* it ran: whatever was pending is moot */
			kd_refine_reset(kd, 0);
		return false;
	}
	if (kd->pid != kd->refine_pid)	/* switched on, or another kdamond process */
		kd_refine_reset(kd, kd->pid);
	for (size_t i = 0; i < kd->nr_targets; i++) {
		const struct damon_snapshot *snap = snapshot_store_get(m->snapshots, kd->index, (unsigned)i);

		/* only what this kdamond process produced since the last reload: a restart begins afresh */
		if (snap && snap->pid == kd->pid && snap->ts_ns / 1000 >= kd->refine_since_us)
			t[i] = (struct refine_target_obs){ .regions = snap->regions, .nr_regions = snap->nr_regions,
							   .snapshot_us = snap->ts_ns / 1000 };
	}
	refine_step(&p, &kd->refine, &o, d);
	if (d->verdict != REFINE_SPLIT)
		return false;

	/* the committed lists: the planned span (policy minus emulation gaps), cut as the kernel has it, plus the splits */
	r = targets_with_gaps(kd, &g);
	if (r < 0)
		goto fail;
	base = g.t ? g.t : kd->targets;
	ov.t = calloc(kd->nr_targets, sizeof(*ov.t));
	if (!ov.t) {
		r = -ENOMEM;
		goto fail;
	}
	ov.n = kd->nr_targets;
	for (size_t i = 0; i < kd->nr_targets; i++) {
		/* vaddr: the kernel follows the mappings, the snapshot is the span; paddr/fvaddr: the plan's ranges */
		bool own_span = c->ops == DAMON_OPS_VADDR || !base[i].nr_regions;
		/* each snapshot region can add two cuts inside a span range, each span range and split one */
		size_t cap = 2 * t[i].nr_regions + (own_span ? 0 : base[i].nr_regions) + d->nr_splits + 1;
		bool cut = false;

		ov.t[i] = base[i];
		ov.t[i].regions_borrowed = false;
		ov.t[i].regions_auto = false;
		ov.t[i].regions = NULL;
		ov.t[i].nr_regions = 0;	/* no new cut: rendered as nr_regions 0, the kernel keeps its regions */
		for (size_t x = 0; x < d->nr_splits; x++)
			cut |= d->splits[x].target == i;
		if (!cut)
			continue;
		ov.t[i].regions = calloc(cap, sizeof(*ov.t[i].regions));
		if (!ov.t[i].regions) {
			r = -ENOMEM;
			goto fail;
		}
		r = refine_layout(t[i].regions, t[i].nr_regions, own_span ? NULL : base[i].regions,
				  own_span ? 0 : base[i].nr_regions, d->splits, d->nr_splits, (unsigned)i,
				  ov.t[i].regions, cap);
		if (r < 0)
			goto fail;
		ov.t[i].nr_regions = (size_t)r;
	}
	if (asprintf(&why, "region refinement: %s", d->reason) < 0)
		why = NULL;
	r = kd_commit(m, kd, true, &ov, NULL, why ? why : "region refinement");
	if (r < 0)
		goto fail;
	/* the commit is synchronous: the kernel has the new regions from now on */
	refine_committed(&p, &kd->refine, d, now_usec());
	return true;
fail:
	log_warning_errno(r, "kdamond '%s': region refinement commit failed: %m", kd->name);
	refine_commit_failed(&p, &kd->refine, now);
	return false;
}

/* Run the controllers of kd's schemes and apply all their decisions with one commit. */
static void decide_and_apply(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	_cleanup_free_ char *why = NULL;
	const char *changed_scheme = NULL;
	bool changed = false, gaps_changed = false;
	unsigned nr_changed = 0;
	int r;

	for (size_t i = 0; i < kd->nr_slots; i++) {
		struct scheme_rt *sl = &kd->slots[i];
		struct charge_obs o = {};
		struct charge_decision d = {};

		/* only on a new sample: BPF values repeat until the next apply interval ends */
		if (!sl->ctrl_active || !sl->have_st || !sl->st_fresh)
			continue;
		if (sl->map_enabled && (!sl->map.generation || now - sl->map.scanned_us >= sl->map_period_us)) {
			r = pageflags_map_scan(&sl->map, m->kpageflags_fd, sl->map_class, now);
			if (r < 0)
				log_debug_errno(r, "kdamond '%s': kpageflags scan failed: %m", kd->name);
		}
		o.now_us = sl->st_at;	/* when the kernel's counters had these values */
		o.sz_tried = sl->st.sz_tried;
		o.sz_applied = sl->st.sz_applied;
		o.nr_tried = sl->st.nr_tried;
		o.nr_applied = sl->st.nr_applied;
		o.qt_exceeds = sl->st.qt_exceeds;
		o.kernel_quota_bytes = sl->quota_override ? sl->kernel_quota : sl->cp.quota_bytes;
		o.map = sl->map_enabled && sl->map.generation ? &sl->map : NULL;
		charge_step(&sl->cp, &sl->cs, &o, &d);
		if (!d.set_quota && !d.set_filters)
			continue;
		if (d.set_quota) {
			sl->quota_override = true;
			sl->kernel_quota = d.quota_bytes;
		}
		if (d.set_filters) {
			size_t n = MIN(d.nr_reject, (size_t)CHARGE_MAX_FILTERS);

			gaps_changed |= n != sl->nr_reject || memcmp(sl->reject, d.reject, n * sizeof(d.reject[0]));
			sl->nr_reject = n;
			memcpy(sl->reject, d.reject, n * sizeof(sl->reject[0]));
		}
		{
			unsigned a = sl->nr_adj++ % SCHEME_ADJ_HISTORY;

			sl->adj[a].at = now;
			sl->adj[a].quota = sl->quota_override ? sl->kernel_quota : sl->cp.quota_bytes;
			sl->adj[a].nr_reject = sl->nr_reject;
			snprintf(sl->adj[a].reason, sizeof(sl->adj[a].reason), "%s", d.reason);
		}
		free(why);
		if (asprintf(&why, "charge-ratio emulation, scheme '%s': %s", sl->name, d.reason) < 0)
			why = NULL;
		changed = true;
		changed_scheme = sl->name;
		nr_changed++;
	}
	if (!changed) {
		/* at most one commit per kdamond per tick: refinement waits for a tick without charge decisions */
		(void)kd_refine(m, kd, now);
		return;
	}
	r = kd_commit(m, kd, gaps_changed, NULL, nr_changed == 1 ? changed_scheme : NULL,
		      why ? why : "controller decision");
	for (size_t i = 0; i < kd->nr_slots; i++)
		if (kd->slots[i].ctrl_active) {
			if (r >= 0)
				charge_committed(&kd->slots[i].cs, now);
			else
				charge_commit_failed(&kd->slots[i].cs, now);
		}
}

static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	usec_t now = now_usec();

	damon_busy_budget_reset();	/* this tick sleeps at most MANAGER_BUSY_BUDGET_MS on EBUSY */
#ifdef HAVE_BPF
	/* The ring is watched edge-triggered: drain here too, so a wakeup the
	 * kernel could not send (ring full) never leaves records behind for good. */
	manager_events_drain(m);
#endif
	for (size_t i = 0; i < m->nr_kd; i++)
		kd_refresh_stats(m, &m->kd[i], now);
	/* Whole free heap pages go back to the kernel: a bench run once saw
	 * 1.4 MB of free but resident heap after 20 s without any control
	 * command (heap in use unchanged, source not found), gone at the next
	 * trim. Cheap at this period. */
	manager_metrics_tick(m);
	malloc_trim(0);
	/* from now: on kernels where each command takes >= 100 ms, ticks must not pile up */
	(void)sd_event_source_set_time(s, now_usec() + m->config->settings.stats_interval_us);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* ---- ownership ----------------------------------------------------------- */

static const struct owned_record *record_find(const struct ownership *o, unsigned index)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].index == index)
			return &o->v[i];
	return NULL;
}

static const char *const module_names[_DAMON_MODULE_MAX] = {
	[DAMON_MODULE_STAT] = "damon_stat",
	[DAMON_MODULE_RECLAIM] = "damon_reclaim",
	[DAMON_MODULE_LRU_SORT] = "damon_lru_sort",
};

/*
 * Refuse to run where an exclusive DAMON module is active and the config
 * does not allow switching it off. Changes nothing.
 */
static int check_exclusive_modules(struct manager *m)
{
	int ret = 0;

	for (int i = 0; i < _DAMON_MODULE_MAX; i++) {
		char p[PATH_MAX];

		if (m->features.module[i] != MODULE_ON || m->config->settings.allow_disable[i])
			continue;
		snprintf(p, sizeof(p), "module/%s/parameters/enabled", module_names[i]);
		log_error("%s is enabled ('%s/%s' = Y). It runs its own exclusive kdamond, and the kernel "
			  "refuses every sysfs kdamond while it runs. Switch it off with 'echo N > %s/%s' "
			  "(or boot with %s.enabled=N), or let damond do it: 'damond: { "
			  "allow_disable_modules: [%s] }' in %s.",
			  module_names[i], m->sysfs_path, p, m->sysfs_path, p, module_names[i], module_names[i],
			  m->config_path);
		m->exit_status = DAMOND_EXIT_MODULE;
		ret = -EBUSY;
	}
	return ret;
}

/* Switch off the exclusive modules the config allows damond to switch off (after all validation). */
static int disable_allowed_modules(struct manager *m)
{
	for (int i = 0; i < _DAMON_MODULE_MAX; i++) {
		char p[PATH_MAX];
		int r;

		if (m->features.module[i] != MODULE_ON)
			continue;
		snprintf(p, sizeof(p), "module/%s/parameters/enabled", module_names[i]);
		if (m->dry_run) {
			log_info("dry-run: would write '%s/%s' = 'N'", m->sysfs_path, p);
			continue;
		}
		r = sysfs_write_str(m->root, p, "N");
		if (r < 0)
			return log_error_errno(r, "cannot switch %s off ('%s/%s'): %m", module_names[i], m->sysfs_path,
					       p);
		m->features.module[i] = MODULE_OFF;
		record_action(m, NULL, "module-off", "switched %s off (allowed by allow_disable_modules)",
			      module_names[i]);
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
				  "one runs. Stop it ('echo off > %s/" KD "/%" PRIu64 "/state') and start damond again.",
				  k, pid, rec ? " (its pid differs from damond's record)" : "", m->sysfs_path, k);
		} else {
			log_error("kdamonds/%" PRIu64 " exists (stopped) and does not belong to damond; setting up "
				  "damond's kdamonds would wipe it. Remove it with 'echo 0 > %s/" KD "/nr_kdamonds' "
				  "if nobody needs it.",
				  k, m->sysfs_path);
		}
		m->exit_status = DAMOND_EXIT_FOREIGN;
		ret = -EBUSY;
	}
	return ret;
}

/* ---- start / reload ------------------------------------------------------ */

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

static int kd_init_slots_fresh(struct manager *m, struct kdamond_rt *kd, usec_t now)
{
	slots_free(kd->slots, kd->nr_slots);
	kd->nr_slots = kd->cfg->ctx.nr_schemes;
	kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
	if (!kd->slots)
		return -ENOMEM;
	for (size_t i = 0; i < kd->nr_slots; i++) {
		kd->slots[i].cfg_idx = (int)i;
		kd->slots[i].name = strdup_or_null(kd->cfg->ctx.schemes[i].name);
		slot_configure(m, kd, &kd->slots[i], now);
	}
	return ensure_keepalive(kd);
}

/* Re-lay kd's slots for its (new) cfg; *ret_restart when positions cannot be kept. */
static int kd_relayout(struct manager *m, struct kdamond_rt *kd, usec_t now, char **ret_restart)
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
			/* the new slot owns every pointer now (name, page map, reasons) */
			kd->slots[i] = (struct scheme_rt){ .cfg_idx = -1 };
		}
		else if (!*ret_restart && i < kd->nr_slots && map[i] < 0)
			ns[i].keepalive = kd->slots[i].keepalive;
		ns[i].cfg_idx = map[i];
		if (!ns[i].name && map[i] >= 0)
			ns[i].name = strdup_or_null(kd->cfg->ctx.schemes[map[i]].name);
		slot_configure(m, kd, &ns[i], now);
	}
	slots_free(kd->slots, kd->nr_slots);
	kd->slots = ns;
	kd->nr_slots = n;
	return ensure_keepalive(kd);
}

int manager_start(struct manager *m, struct damond_config *config)
{
	_cleanup_(ownership_done) struct ownership own = {};
	struct config_errors errs = {};
	usec_t now = now_usec();
	unsigned next_free;
	bool any_running_ours = false;
	int r;

	m->config = config;
	m->generation = 1;

	r = features_probe_readonly(m->root, &m->features);
	if (r < 0) {
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return log_error_errno(r, "'%s/" DAMON_ADMIN_DIR "' not found: this kernel has no DAMON sysfs "
					  "interface (CONFIG_DAMON_SYSFS)",
				       m->sysfs_path);
	}

	r = ownership_load(m->runtime_dir, &own);
	if (r < 0 && r != -ENOENT)
		log_warning_errno(r, "cannot read damond's ownership record in '%s', ignoring: %m", m->runtime_dir);

	r = damon_read_nr_kdamonds(m->root, &m->nr_kdamonds_dirs);
	if (r < 0)
		return log_error_errno(r, "cannot read nr_kdamonds: %m");

	r = check_foreign(m, &own);
	if (r < 0)
		return r;
	r = check_exclusive_modules(m);
	if (r < 0)
		return r;

	/* Runtime objects, adopting what a previous damond left running. */
	m->nr_kd = config->nr_kdamonds;
	m->kd = calloc(m->nr_kd ? m->nr_kd : 1, sizeof(*m->kd));
	if (!m->kd)
		return -ENOMEM;
	next_free = 0;
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		kd->name = strdup_or_null(config->kdamonds[i].name);
		kd->cfg = &config->kdamonds[i];
		kd->pid = -1;
		kd->index = UINT_MAX;
		for (size_t j = 0; j < own.n; j++)
			if (streq(own.v[j].name, kd->name) && own.v[j].index < m->nr_kdamonds_dirs) {
				const struct owned_record *rec = &own.v[j];

				kd->index = rec->index;
				if (rec->running || rec->starting) {
					bool on = false;
					int pid = -1;

					/* starting: the previous damond died between 'on' and recording the pid */
					if (damon_read_state(m->root, kd->index, &on, &pid) >= 0 && on &&
					    (rec->starting || pid == rec->pid)) {
						kd->running = true;
						kd->adopted = true;
						kd->pid = pid;
						any_running_ours = true;
						/* what it holds, as the record knows it, until it is handled below */
						kd->record_hash = strdup_or_null(rec->list_hash);
						kd->nr_slots = rec->nr_slots;
						kd->slots = calloc(kd->nr_slots ? kd->nr_slots : 1, sizeof(*kd->slots));
						if (!kd->slots)
							return -ENOMEM;
						for (size_t s = 0; s < kd->nr_slots; s++) {
							kd->slots[s].name = strdup_or_null(rec->slot_names[s]);
							kd->slots[s].cfg_idx = -1;
						}
					}
				}
			}
	}
	/* Indices for the rest; a kdamond dir a record names but the config dropped is stopped. */
	for (size_t j = 0; j < own.n; j++) {
		bool wanted = false;

		for (size_t i = 0; i < m->nr_kd; i++)
			wanted |= streq(own.v[j].name, m->kd[i].name);
		if (!wanted && (own.v[j].running || own.v[j].starting) && own.v[j].index < m->nr_kdamonds_dirs) {
			bool on = false;
			int pid = -1;

			if (damon_read_state(m->root, own.v[j].index, &on, &pid) >= 0 && on &&
			    (own.v[j].starting || pid == own.v[j].pid)) {
				if (!m->dry_run)
					(void)damon_state_cmd(m->root, own.v[j].index, "off");
				record_action(m, own.v[j].name, "off", "no longer in the configuration: stopped");
			}
		}
	}
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		bool taken;

		if (kd->index != UINT_MAX)
			continue;
		do {
			taken = false;
			for (size_t j = 0; j < m->nr_kd; j++)
				taken |= m->kd[j].index == next_free;
			if (taken)
				next_free++;
		} while (taken);
		kd->index = next_free++;
	}

	/* The number of kdamond dirs can only change while none runs. */
	{
		uint64_t need = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			need = MAX(need, (uint64_t)m->kd[i].index + 1);
		if (need > m->nr_kdamonds_dirs) {
			if (any_running_ours) {
				for (size_t i = 0; i < m->nr_kd; i++) {
					(void)kd_stop(m, &m->kd[i], "the kernel can only add kdamond directories "
								    "while none runs");
					/* the directories are about to be recreated: start afresh */
					m->kd[i].adopted = false;
				}
				any_running_ours = false;
			}
			m->nr_kdamonds_before_start = m->nr_kdamonds_dirs;
			r = write_nr_kdamonds(m, need);
			if (r < 0) {
				m->nr_kdamonds_before_start = UINT64_MAX;
				return r;
			}
		}
	}

	/* Features: from the record (same boot, same kernel), else probed on a dir we own and that is stopped. */
	if (own.have_features) {
		m->features = own.features;
		m->features_from_record = true;
		m->features_full = true;
		(void)features_probe_readonly(m->root, &own.features); /* refresh module states */
		memcpy(m->features.module, own.features.module, sizeof(m->features.module));
	} else {
		unsigned probe_k = UINT_MAX;

		for (size_t i = 0; i < m->nr_kd; i++)
			if (!m->kd[i].running && probe_k == UINT_MAX)
				probe_k = m->kd[i].index;
		if (probe_k != UINT_MAX && !m->dry_run) {
			char failed[PATH_MAX];

			r = features_probe_owned_ex(m->root, probe_k, &m->features, failed);
			if (r < 0)
				/* rendering with unknown features could silently drop settings */
				return log_error_errno(r, "probing the kernel's DAMON features on kdamonds/%u "
							  "failed%s%s%s: %m",
						       probe_k, failed[0] ? ": writing '" : "", failed,
						       failed[0] ? "' = '1'" : "");
			m->features_full = true;
		} else if (m->dry_run) {
			/* no probe that writes: what the existing directories tell (read-only) */
			const char *source;

			(void)features_probe_kernel(m->root, NULL, &m->features, &source);
			log_notice("dry run: DAMON features read from %s without writing; those no kdamond "
				   "directory shows are not checked (damond probes them at start)",
				   streq(source, "none") ? "modules and tracefs only" : "the existing kdamond directories");
		}
	}

	r = features_check_config(&m->features, config, &errs);
	if (r < 0) {
		log_config_errors(&errs);
		config_errors_done(&errs);
		m->exit_status = DAMOND_EXIT_UNSUPPORTED;
		return r;
	}
	r = disable_allowed_modules(m);
	if (r < 0)
		return r;

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		const struct owned_record *rec = record_find(&own, kd->index);

		r = resolve_targets(m, kd->cfg, &kd->targets, &kd->nr_targets);
		if (r < 0)
			return r;
		if (kd->adopted && rec) {
			_cleanup_(write_list_done) struct write_list l = {};
			_cleanup_free_ char *hash = NULL, *restart = NULL;

			/* Slots as the running kdamond has them (from the record, above), re-laid for this config. */
			r = kd_relayout(m, kd, now, &restart);
			if (r < 0)
				return r;
			if (restart) {
				(void)kd_stop(m, kd, restart);
				r = kd_start(m, kd, restart);
				if (r < 0)
					return r;
				continue;
			}
			r = plan_render(m, kd, false, NULL, &l);
			if (r < 0)
				return r;
			hash = write_list_hash(&l);
			if (hash && rec->list_hash && streq(hash, rec->list_hash)) {
				kd->written = l;
				l = (struct write_list){};
				kd_set_last(kd, "adopt", "re-adopted after a damond restart, configuration unchanged");
				record_action(m, kd->name, "adopt",
					      "re-adopted kdamonds/%u (pid %d) unchanged: no writes, no restart",
					      kd->index, kd->pid);
				continue;
			}
			record_action(m, kd->name, "adopt", "re-adopted kdamonds/%u (pid %d); configuration changed",
				      kd->index, kd->pid);
			r = kd_commit(m, kd, true, NULL, NULL, "re-adopted with a changed configuration");
			if (r < 0)
				return r;
			continue;
		}
		r = kd_init_slots_fresh(m, kd, now);
		if (r < 0)
			return r;
		r = kd_start(m, kd, "damond start");
		if (r < 0)
			return r;
	}

	m->started = true;
	m->config_loaded_at = now_usec();
	record_save(m);

	r = sd_event_add_time(m->event, &m->stats_timer, CLOCK_MONOTONIC,
			      now_usec() + config->settings.stats_interval_us, 10000, on_stats_timer, m);
	if (r < 0)
		return r;
	/* Start ran before the loop and waited up to ~2.6 s per busy file; from now on the loop may not. */
	damon_set_busy_budget(MANAGER_BUSY_BUDGET_MS);
	m->retry_busy = true;
	return 0;
}

static void set_reload_result(struct manager *m, bool ok, const struct config_errors *errs)
{
	for (size_t i = 0; i < m->last_reload.nr_errors; i++)
		free(m->last_reload.errors[i]);
	free(m->last_reload.errors);
	m->last_reload.errors = NULL;
	m->last_reload.nr_errors = 0;
	m->last_reload.ok = ok;
	m->last_reload.at = now_usec();
	if (ok)
		m->config_loaded_at = m->last_reload.at;
	if (!errs || !errs->n)
		return;
	m->last_reload.errors = calloc(errs->n, sizeof(char *));
	if (!m->last_reload.errors)
		return;
	for (size_t i = 0; i < errs->n; i++)
		if (config_error_format(&errs->v[i], &m->last_reload.errors[m->last_reload.nr_errors]) >= 0)
			m->last_reload.nr_errors++;
}

/*
 * Reload: parse and validate into a new config, check it against the
 * kernel's features, resolve its targets — and only then touch anything.
 */
int manager_reload(struct manager *m, struct config_errors *errs)
{
	_cleanup_(damond_config_freep) struct damond_config *nc = NULL;
	struct damon_target_cfg **nt = NULL;
	size_t *nnt = NULL;
	struct kdamond_rt *nkd = NULL;
	struct damond_config *old;
	usec_t now = now_usec();
	bool need_dirs = false;
	unsigned failed = 0;
	size_t nn;
	int r;

	damon_busy_budget_reset();	/* a reload sleeps at most MANAGER_BUSY_BUDGET_MS on EBUSY */
	(void)sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");
	r = config_load_file(m->config_path, &nc, errs);
	if (r >= 0)
		r = features_check_config(&m->features, nc, errs);
	if (r < 0) {
		log_config_errors(errs);
		log_error("reload of '%s' rejected; the running configuration and kdamonds are unchanged",
			  m->config_path);
		set_reload_result(m, false, errs);
		(void)sd_notify(false, "READY=1\nSTATUS=Reload rejected; running the previous configuration");
		return r;
	}
	log_config_errors(errs); /* warnings only: the file is accepted */

	/* Resolve every target before anything changes. */
	nn = nc->nr_kdamonds;
	nt = calloc(nn ? nn : 1, sizeof(*nt));
	nnt = calloc(nn ? nn : 1, sizeof(*nnt));
	nkd = calloc(nn ? nn : 1, sizeof(*nkd));
	if (!nt || !nnt || !nkd) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < nn; i++) {
		r = resolve_targets(m, &nc->kdamonds[i], &nt[i], &nnt[i]);
		if (r < 0)
			goto fail;
	}

	/* Point of no return: move the runtime objects over, matched by name. */
	for (size_t i = 0; i < nn; i++) {
		struct kdamond_rt *k = &nkd[i];

		k->index = UINT_MAX;
		k->pid = -1;
		for (size_t j = 0; j < m->nr_kd; j++)
			if (m->kd[j].name && streq(m->kd[j].name, nc->kdamonds[i].name)) {
				*k = m->kd[j];
				m->kd[j] = (struct kdamond_rt){};
				break;
			}
		k->cfg = &nc->kdamonds[i];
		if (!k->name)
			k->name = strdup_or_null(k->cfg->name);
	}
	for (size_t j = 0; j < m->nr_kd; j++) {
		if (!m->kd[j].name)
			continue;
		r = kd_stop(m, &m->kd[j], "removed from the configuration");
		if (busy_deferrable(m, r))
			defer_off(m, &m->kd[j]);
		kd_done(&m->kd[j]);
	}
	free(m->kd);
	old = m->config;
	m->config = TAKE_PTR(nc);
	m->kd = nkd;
	m->nr_kd = nn;
	m->generation++;
	m->pending_nr_kdamonds = 0;	/* recomputed below from what the kernel has */

	for (size_t i = 0; i < m->nr_kd; i++) {
		unsigned idx = 0;
		bool taken;

		if (m->kd[i].index != UINT_MAX)
			continue;
		do {
			/* nor one whose removed kdamond still waits to be stopped */
			taken = index_pending_off(m, idx);
			for (size_t j = 0; j < m->nr_kd; j++)
				taken |= m->kd[j].index == idx;
			if (taken)
				idx++;
		} while (taken);
		m->kd[i].index = idx;
	}
	/* new kdamonds, and kept ones whose directory a deferred nr_kdamonds write never created */
	for (size_t i = 0; i < m->nr_kd; i++)
		need_dirs |= m->kd[i].index >= m->nr_kdamonds_dirs;
	if (need_dirs) {
		uint64_t need = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			need = MAX(need, (uint64_t)m->kd[i].index + 1);
		for (size_t i = 0; i < m->nr_kd; i++)
			(void)kd_stop(m, &m->kd[i],
				      "adding a kdamond: the kernel only creates kdamond directories while none runs");
		/* the new kdamonds are in the record (with their indices) before their directories exist */
		r = write_nr_kdamonds_ex(m, need, m->retry_busy, NULL);
		if (r == -EBUSY && m->retry_busy) {
			m->pending_nr_kdamonds = need;
			record_action(m, NULL, "deferred", "nr_kdamonds = %" PRIu64 " waits for the DAMON sysfs lock "
				      "(EBUSY), retried from a timer; every kdamond starts after it", need);
			retry_arm(m);
		}
	}

	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];
		_cleanup_free_ char *restart = NULL;
		_cleanup_(write_list_done) struct write_list l = {};
		bool regions_changed;
		char why[160];

		targets_free(kd->targets, kd->nr_targets);
		kd->targets = TAKE_PTR(nt[i]);
		kd->nr_targets = nnt[i];

		snprintf(why, sizeof(why), "reload, generation %u", m->generation);
		kd->pending = KD_PENDING_NONE;	/* the reload redoes whatever waited for the lock */
		if (m->pending_nr_kdamonds) {
			/* the kdamond directories are recreated once the lock is free; every kdamond starts then */
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				kd_defer(m, kd, KD_PENDING_START, false, why);
			else
				failed++;
			continue;
		}
		if (!kd->running) {
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				r = kd_start(m, kd, why);
			if (busy_deferrable(m, r))
				kd_defer(m, kd, KD_PENDING_START, false, why);
			else if (r < 0)
				failed++;
			continue;
		}
		r = kd_relayout(m, kd, now, &restart);
		if (r >= 0)
			r = plan_render(m, kd, false, NULL, &l);
		if (r < 0) {
			failed++;
			continue;
		}
		/* what the kernel holds vs what it will hold, emulation gaps included */
		regions_changed = false;
		{
			size_t a = 0, b = 0;

			while (!regions_changed && (a < kd->written.n || b < l.n)) {
				while (a < kd->written.n && !sysfs_write_is_region(&kd->written.v[a]))
					a++;
				while (b < l.n && !sysfs_write_is_region(&l.v[b]))
					b++;
				if (a < kd->written.n && b < l.n)
					regions_changed = !sysfs_write_equal(&kd->written.v[a], &l.v[b]);
				else
					regions_changed = (a < kd->written.n) != (b < l.n);
				a++;
				b++;
			}
		}
		/* operations and addr_unit cannot change under a running context */
		for (size_t w = 0; !restart && w < l.n; w++) {
			const char *p = l.v[w].path;
			size_t pl = strlen(p);

			if (!(pl >= 10 && streq(p + pl - 10, "operations")) && !(pl >= 9 && streq(p + pl - 9, "addr_unit")))
				continue;
			for (size_t o = 0; o < kd->written.n; o++)
				if (streq(kd->written.v[o].path, p) && !streq(kd->written.v[o].value, l.v[w].value) &&
				    asprintf(&restart, "'%s' changes from '%s' to '%s'", p, kd->written.v[o].value,
					     l.v[w].value) < 0)
					restart = NULL;
		}
		if (restart) {
			record_action(m, kd->name, "restart", "this change cannot be committed online: %s", restart);
			r = kd_stop(m, kd, restart);
			if (busy_deferrable(m, r)) {
				/* the retry timer stops it, then starts it */
				r = kd_init_slots_fresh(m, kd, now);
				if (r >= 0)
					kd_defer(m, kd, KD_PENDING_START, false, restart);
				else
					failed++;
				continue;
			}
			r = kd_init_slots_fresh(m, kd, now);
			if (r >= 0)
				r = kd_start(m, kd, restart);
			if (busy_deferrable(m, r))
				kd_defer(m, kd, KD_PENDING_START, false, restart);
			else if (r < 0)
				failed++;
			continue;
		}
		if (write_list_equal(&l, &kd->written)) {
			log_debug("kdamond '%s': unchanged by the reload", kd->name);
			continue;
		}
		{
			size_t d = write_list_first_diff(&kd->written, &l);

			if (d < l.n) {
				/* name the file, also inside a region block */
				struct sysfs_file fb;
				const struct sysfs_file *f;
				size_t j = 0;

				if (d < kd->written.n)
					j = sysfs_write_first_diff_file(&l.v[d], &kd->written.v[d]);
				if (j >= sysfs_write_nr_files(&l.v[d]))
					j = 0;
				f = sysfs_write_file(&l.v[d], j, &fb);
				snprintf(why, sizeof(why), "reload, generation %u: first change '%s' = '%s'",
					 m->generation, f->path + strlen(KD "/"), f->value);
			}
		}
		r = kd_commit(m, kd, regions_changed, NULL, NULL, why);
		if (r == -ECANCELED)
			r = kd_start(m, kd, "restart after the kdamond died on commit");
		if (busy_deferrable(m, r))
			kd_defer(m, kd, kd->running ? KD_PENDING_COMMIT : KD_PENDING_START, regions_changed, why);
		else if (r < 0)
			failed++;
		/* targets may be other processes or ranges now: refinement starts afresh from snapshots made after this */
		kd_refine_reset(kd, kd->refine_pid);
		kd->refine_since_us = now_usec();
	}

	damond_config_free(old);
	free(nt);
	free(nnt);
#ifdef HAVE_BPF
	manager_events_update_pids(m);
#endif
	set_reload_result(m, failed == 0, NULL);
	malloc_trim(0);	/* the old and new policies were both in memory */
	{
		unsigned waiting = 0;

		for (size_t i = 0; i < m->nr_kd; i++)
			waiting += m->kd[i].pending != KD_PENDING_NONE;
		if (waiting)
			log_notice("reload: %u kdamond(s) wait for the DAMON sysfs lock (EBUSY); retried in the "
				   "background, see 'damondctl status'",
				   waiting);
	}
	if (failed)
		log_error("reload: the kernel refused the change for %u kdamond(s); see the errors above and "
			  "'damondctl status'",
			  failed);
	record_save(m);
	(void)sd_notify(false, "READY=1");
	manager_notify_status(m);
	return failed ? -EIO : 0;

fail:
	for (size_t i = 0; nt && i < nn; i++)
		targets_free(nt[i], nnt[i]);
	free(nt);
	free(nnt);
	free(nkd);
	set_reload_result(m, false, NULL);
	log_error_errno(r, "reload of '%s' failed before any change: %m", m->config_path);
	(void)sd_notify(false, "READY=1\nSTATUS=Reload failed; running the previous configuration");
	return r;
}

/*
 * A start that failed after it added kdamond directories (a policy this
 * kernel cannot run, a kernel write refused) takes them away again, so the
 * next start finds the tree as it was. Only when no kdamond runs at all: the
 * kernel refuses nr_kdamonds then, and a running one is someone's. What
 * cannot be taken away stays in the record, as damond's.
 */
static void cleanup_failed_start(struct manager *m)
{
	uint64_t was = m->nr_kdamonds_before_start;
	int r;

	if (m->dry_run || was == UINT64_MAX || was >= m->nr_kdamonds_dirs)
		return;
	for (uint64_t k = 0; k < m->nr_kdamonds_dirs; k++) {
		bool on = false;
		int pid = -1;

		if (damon_read_state(m->root, (unsigned)k, &on, &pid) < 0 || on) {
			log_notice("the failed start leaves kdamonds/%" PRIu64 "..%" PRIu64 " (kdamonds/%" PRIu64
				   " %s); the ownership record keeps them as damond's",
				   was, m->nr_kdamonds_dirs - 1, k, on ? "runs" : "cannot be read");
			return;
		}
	}
	r = write_nr_kdamonds(m, was);
	if (r < 0)
		log_notice("the ownership record keeps kdamonds/%" PRIu64 "..%" PRIu64 " as damond's", was,
			   m->nr_kdamonds_dirs - 1);
	else
		record_action(m, NULL, "cleanup", "start failed: removed the kdamond directories it had added");
	m->nr_kdamonds_before_start = UINT64_MAX;
}

int manager_stop(struct manager *m)
{
	bool keep = m->config && m->config->settings.on_exit == DAMOND_ON_EXIT_KEEP;

	/* The loop is over: stopping may wait for the lock as start did (~2.6 s per busy file). */
	damon_set_busy_budget(0);
	m->retry_busy = false;
	(void)sd_notify(false, "STOPPING=1");
	for (size_t i = 0; i < m->nr_pending_off; i++) {
		bool on = false;
		int pid = -1;

		/* removed by a reload: stopped whatever on_exit says, as the reload meant to */
		if (!m->dry_run && damon_read_state(m->root, m->pending_off[i].index, &on, &pid) >= 0 && on &&
		    pid == m->pending_off[i].pid && damon_state_cmd(m->root, m->pending_off[i].index, "off") < 0)
			log_error("kdamond '%s': cannot stop kdamonds/%u, removed from the configuration",
				  m->pending_off[i].name, m->pending_off[i].index);
	}
	for (size_t i = 0; i < m->nr_kd; i++) {
		struct kdamond_rt *kd = &m->kd[i];

		/*
		 * A start that failed half-way: what the kernel says settles it, so
		 * the record never calls a directory "starting" that someone else
		 * may use later (a running kdamond there would be taken for damond's).
		 */
		if (kd->starting && !m->dry_run) {
			bool on = false;
			int pid = -1;

			if (damon_read_state(m->root, kd->index, &on, &pid) >= 0) {
				kd->starting = false;
				if (on) {
					kd->running = true;
					kd->pid = pid;
				}
			}
		}
		if (!kd->running)
			continue;
		if (keep) {
			record_action(m, kd->name, "keep", "left running (on_exit: keep), pid %d", kd->pid);
			continue;
		}
		/* Final stats must be read before 'off': afterwards the kernel refuses the command. */
		if (!m->dry_run)
			(void)damon_state_cmd(m->root, kd->index, "update_schemes_stats");
		(void)kd_stop(m, kd, "damond stopping (on_exit: stop)");
	}
	if (!m->started)
		cleanup_failed_start(m);
	/*
	 * A start that failed before it changed anything must not overwrite
	 * what a previous damond recorded; once this damond recorded an intent,
	 * the record must say what it left.
	 */
	if (m->started || m->record_saved)
		record_save(m);
	return 0;
}
