/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Failed-region quota charge ratio emulation. The law and its reasoning are
 * in docs/CONTROLLERS.md ("charge-ratio"); the interface in ctrl-charge.h.
 */
#include <stdio.h>
#include <string.h>

#include "ctrl-charge.h"

void charge_params_default(struct charge_params *p, uint64_t quota_bytes, uint64_t reset_interval_us,
			   uint32_t num, uint32_t denom)
{
	*p = (struct charge_params){
		.quota_bytes = quota_bytes,
		.reset_interval_us = reset_interval_us ?: 1000000,
		.num = num,
		.denom = denom,
		.min_commit_interval_us = 5000000,
		.emergency_commit_interval_us = 1000000,
		.min_region_sz = 4096,
		.max_filters = 16,
		.exclude_below_permil = 125,
		.include_above_permil = 250,
		.replan_min_bytes = 0,
		.urgent_gain_factor = 8,
		.margin_permil = 100,
		.fallback_fcap_permil = 91, /* K <= Q / (1 - 0.091) = 1.1 Q */
		.fallback_history = 16,
		.deadband_permil = 50,
		.residual_fcap_permil = 48, /* K <= Q / (1 - 0.048) = 1.05 Q */
		.residual_history = 4,
	};
}

static bool ratio_off(const struct charge_params *p)
{
	return p->denom == 0 || p->num >= p->denom || p->quota_bytes == 0;
}

static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
	return c ? (uint64_t)((unsigned __int128)a * b / c) : 0;
}

static uint64_t clamp_quota(const struct charge_params *p, uint64_t k, uint64_t hi)
{
	uint64_t lo = p->min_region_sz ?: 1;

	/* Never 0: on 6.12 esz = 0 means "no limit". */
	if (k < lo)
		k = lo;
	if (k > hi)
		k = hi;
	/* Page-aligned: on 6.12 the quota only counts as full (and the resume
	 * point is only recorded) when charged >= esz exactly, and the cut is
	 * page-aligned, so an unaligned esz would restart every window at the
	 * same address. */
	return k / lo * lo;
}

void charge_init(struct charge_state *s, const struct charge_params *p, uint64_t now_us)
{
	memset(s, 0, sizeof(*s));
	s->mode = ratio_off(p) ? CHARGE_MODE_OFF : CHARGE_MODE_FALLBACK;
	s->kernel_quota = p->quota_bytes;
	(void)now_us;
}

/* Emit a commit: state is updated optimistically (see charge_commit_failed). */
static void emit(struct charge_state *s, struct charge_decision *d, uint64_t now_us)
{
	if (d->set_quota)
		s->kernel_quota = d->quota_bytes;
	if (d->set_filters) {
		s->nr_reject = d->nr_reject;
		memcpy(s->reject, d->reject, d->nr_reject * sizeof(d->reject[0]));
		s->excluded_bytes = 0;
		for (size_t i = 0; i < d->nr_reject; i++)
			s->excluded_bytes += d->reject[i].end - d->reject[i].start;
	}
	s->last_commit_us = now_us ?: 1;
	s->nr_commits++;
	s->commit_pending = true;
}

void charge_committed(struct charge_state *s, uint64_t now_us)
{
	(void)now_us;
	s->commit_pending = false;
}

void charge_commit_failed(struct charge_state *s, uint64_t now_us)
{
	(void)now_us;
	s->commit_pending = false;
	/* Unknown what the kernel holds: force a full re-emit at the next plan. */
	s->map_generation = 0;
	s->kernel_quota = UINT64_MAX;
	s->nr_reject = 0;
	s->excluded_bytes = 0;
}

static bool may_commit(const struct charge_state *s, uint64_t now_us, uint64_t interval_us)
{
	return s->last_commit_us == 0 || now_us >= s->last_commit_us + interval_us;
}

/* ---- observations ------------------------------------------------------- */

/* Returns true when a period of at least one window was closed. */
static bool observe(const struct charge_params *p, struct charge_state *s, const struct charge_obs *o)
{
	uint64_t win = p->reset_interval_us ?: 1000000;

	if (!s->have_prev || o->now_us < s->prev_us || o->sz_tried < s->prev_tried ||
	    o->sz_applied < s->prev_applied) {
		/* first sample, or counters went back (kdamond restarted) */
		s->have_prev = true;
		s->acc_us = s->acc_tried = s->acc_applied = 0;
		goto out;
	}
	s->acc_us += o->now_us - s->prev_us;
	s->acc_tried += o->sz_tried - s->prev_tried;
	s->acc_applied += o->sz_applied - s->prev_applied;
	if (s->acc_us < win)
		goto out;

	s->applied_per_window = mul_div(s->acc_applied, win, s->acc_us);
	if (s->acc_tried >= (p->min_region_sz ?: 1)) {
		uint32_t f = 0;

		if (s->acc_tried > s->acc_applied)
			f = (uint32_t)mul_div(s->acc_tried - s->acc_applied, 1000, s->acc_tried);
		s->fail_share_permil = f;
		s->fhist[s->fhist_pos] = f;
		s->fhist_pos = (s->fhist_pos + 1) % CHARGE_FHIST;
		if (s->nr_fhist < CHARGE_FHIST)
			s->nr_fhist++;
	}
	s->acc_us = s->acc_tried = s->acc_applied = 0;
	s->prev_us = o->now_us;
	s->prev_tried = o->sz_tried;
	s->prev_applied = o->sz_applied;
	return true;
out:
	s->prev_us = o->now_us;
	s->prev_tried = o->sz_tried;
	s->prev_applied = o->sz_applied;
	return false;
}

/* ---- planning the exclusion --------------------------------------------- */

static void run_remove(struct charge_run *r, size_t *nr, size_t i)
{
	memmove(&r[i], &r[i + 1], (*nr - i - 1) * sizeof(r[0]));
	(*nr)--;
}

/* Make one range fewer, at the least cost in bytes: either bridge the gap
 * between two neighbours (hides the ok bytes of the gap) or give up the run
 * with the fewest failing bytes (they are charged again). */
static void runs_reduce_once(struct charge_run *r, size_t *nr)
{
	uint64_t best = UINT64_MAX;
	size_t bi = 0;
	bool merge = false;

	for (size_t i = 0; i < *nr; i++) {
		if (i + 1 < *nr && r[i + 1].gap_ok < best) {
			best = r[i + 1].gap_ok;
			bi = i;
			merge = true;
		}
		if (r[i].bad < best) {
			best = r[i].bad;
			bi = i;
			merge = false;
		}
	}
	if (merge) {
		r[bi].end = r[bi + 1].end;
		r[bi].ok += r[bi + 1].gap_ok + r[bi + 1].ok;
		r[bi].bad += r[bi + 1].bad;
		run_remove(r, nr, bi + 1);
	} else {
		if (bi + 1 < *nr)
			r[bi + 1].gap_ok += r[bi].gap_ok + r[bi].ok;
		run_remove(r, nr, bi);
	}
}

/* Walks sorted, disjoint ranges alongside ascending addresses. */
struct range_cursor {
	const struct damon_addr_range *r;
	size_t nr, i;
};

static bool cursor_contains(struct range_cursor *c, uint64_t addr)
{
	while (c->i < c->nr && c->r[c->i].end <= addr)
		c->i++;
	return c->i < c->nr && c->r[c->i].start <= addr;
}

size_t charge_plan_reject(const struct charge_params *p, struct charge_state *s,
			  const struct pageflags_map *m, struct damon_addr_range *ret, size_t max,
			  uint64_t *ret_bad_hidden, uint64_t *ret_ok_hidden)
{
	struct charge_run *runs = s->scratch;
	struct range_cursor cur = { s->reject, s->nr_reject, 0 };
	struct range_cursor out = { ret, 0, 0 };
	uint64_t gap_ok = 0, bad_hidden = 0, ok_hidden = 0;
	size_t nr = 0;

	if (max > CHARGE_MAX_FILTERS)
		max = CHARGE_MAX_FILTERS;

	for (size_t i = 0; i < m->nr_chunks; i++) {
		const struct pageflags_chunk *c = &m->chunks[i];
		uint64_t cs, ce, ok, bad;
		uint32_t share, thr;

		pageflags_map_chunk_range(m, i, &cs, &ce);
		ok = (uint64_t)c->ok_pages * m->page_sz;
		bad = (ce - cs) > ok ? (ce - cs) - ok : 0;
		share = c->nr_pages ? (uint32_t)((uint64_t)c->ok_pages * 1000 / c->nr_pages) : 0;
		thr = cursor_contains(&cur, cs + (ce - cs) / 2) ? p->include_above_permil
								  : p->exclude_below_permil;
		if (share >= thr) {
			gap_ok += ok;
			continue;
		}
		if (nr > 0 && runs[nr - 1].end == cs && gap_ok == 0) {
			runs[nr - 1].end = ce;
			runs[nr - 1].ok += ok;
			runs[nr - 1].bad += bad;
			continue;
		}
		if (nr == CHARGE_MAX_RUNS)
			runs_reduce_once(runs, &nr);
		runs[nr++] = (struct charge_run){
			.start = cs, .end = ce, .ok = ok, .bad = bad, .gap_ok = gap_ok,
		};
		gap_ok = 0;
	}
	while (nr > max)
		runs_reduce_once(runs, &nr);

	for (size_t i = 0; i < nr; i++)
		ret[i] = (struct damon_addr_range){ runs[i].start, runs[i].end };

	/* exact hidden bytes, chunk by chunk */
	out.nr = nr;
	for (size_t i = 0; i < m->nr_chunks && nr; i++) {
		uint64_t cs, ce, ok;

		pageflags_map_chunk_range(m, i, &cs, &ce);
		if (!cursor_contains(&out, cs))
			continue;
		ok = (uint64_t)m->chunks[i].ok_pages * m->page_sz;
		ok_hidden += ok;
		bad_hidden += (ce - cs) > ok ? (ce - cs) - ok : 0;
	}
	if (ret_bad_hidden)
		*ret_bad_hidden = bad_hidden;
	if (ret_ok_hidden)
		*ret_ok_hidden = ok_hidden;
	return nr;
}

/* Bytes that change sides between the installed ranges and a new plan:
 * failing bytes that would become excluded + ok bytes that would come back
 * (*ret_back: the second part alone). */
static uint64_t plan_gain(const struct charge_state *s, const struct pageflags_map *m,
			  const struct damon_addr_range *plan, size_t nr_plan, uint64_t *ret_back)
{
	struct range_cursor old = { s->reject, s->nr_reject, 0 };
	struct range_cursor new = { plan, nr_plan, 0 };
	uint64_t gain = 0, back = 0;

	for (size_t i = 0; i < m->nr_chunks; i++) {
		uint64_t cs, ce, ok, mid;
		bool in_old, in_new;

		pageflags_map_chunk_range(m, i, &cs, &ce);
		mid = cs + (ce - cs) / 2;
		in_old = cursor_contains(&old, mid);
		in_new = cursor_contains(&new, mid);
		if (in_old == in_new)
			continue;
		ok = (uint64_t)m->chunks[i].ok_pages * m->page_sz;
		if (in_new) {
			gain += (ce - cs) > ok ? (ce - cs) - ok : 0;
		} else {
			gain += ok;
			back += ok;
		}
	}
	/* installed ranges outside the map (map shrank): returning them is a change */
	*ret_back = back;
	return gain;
}

static bool same_ranges(const struct damon_addr_range *a, size_t na, const struct damon_addr_range *b,
			size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(a[0])) == 0);
}

/* K that makes the emulation charge, on average, what the native ratio
 * would: excluded failing bytes are charged 0 by the kernel, the native
 * feature charges them NUM/DENOM. With ok bytes O still tried and failing
 * bytes F excluded, native applies Q x O / (O + r F) per window of a
 * uniform mix; so K = that. r = 1/4096 gives K ~ Q. */
static uint64_t exclude_quota(const struct charge_params *p, uint64_t ok_incl, uint64_t bad_hidden)
{
	unsigned __int128 denom;

	if (p->num == 0)
		return p->quota_bytes;
	if (ok_incl == 0) /* nothing to apply anyway: keep K where it is */
		return clamp_quota(p, p->quota_bytes, p->quota_bytes);
	denom = (unsigned __int128)ok_incl * p->denom + (unsigned __int128)bad_hidden * p->num;
	return clamp_quota(p, (uint64_t)((unsigned __int128)p->quota_bytes * ok_incl * p->denom / denom),
			   p->quota_bytes);
}

/*
 * The residual failure share the exclusion leaves: failures inside included
 * chunks (a chunk is hidden only below 12.5 % ok, so up to 87.5 % of an
 * included one can fail; single pages a process has not faulted yet, pages
 * locked or under writeback at that moment) are charged in full on a kernel
 * without the native files, where the native ratio charges them almost
 * nothing. The lowest failure share of the last residual_history closed
 * periods (none until that many were seen), at most residual_fcap_permil:
 * K credited with it applies Q in a window that fails that share, and at
 * most Q / (1 - cap) in one that fails nothing.
 */
static uint32_t residual_fmin(const struct charge_params *p, const struct charge_state *s)
{
	unsigned want = MIN(MAX(p->residual_history, 1u), (unsigned)CHARGE_FHIST);
	uint32_t fmin = 1000;

	if (!p->residual_fcap_permil || s->nr_fhist < want)
		return 0;
	for (unsigned i = 0; i < want; i++) {
		uint32_t f = s->fhist[(s->fhist_pos + CHARGE_FHIST - 1 - i) % CHARGE_FHIST];

		fmin = MIN(fmin, f);
	}
	return MIN(fmin, MIN(p->residual_fcap_permil, 500u));
}

static bool outside_deadband(const struct charge_params *p, uint64_t cur, uint64_t target)
{
	uint64_t d = cur > target ? cur - target : target - cur;

	if (cur == UINT64_MAX)
		return true;
	return d * 1000 > (uint64_t)p->deadband_permil * (cur ?: 1);
}

static void step_exclude(const struct charge_params *p, struct charge_state *s, const struct charge_obs *o,
			 struct charge_decision *d)
{
	const struct pageflags_map *m = o->map;
	uint64_t bad_hidden, ok_hidden, gain, back, k, thr, ok_incl, q = p->quota_bytes;
	uint32_t fres;
	size_t nr;

	/* Safety, whatever the map: a window above (1 + margin) Q means the credited residual failures are gone
	 * (K <= Q / (1 - residual cap) keeps that from happening; this is the guard should it anyway): K back
	 * without the credit, the history forgotten. */
	if (s->kernel_quota != UINT64_MAX && s->kernel_quota > q &&
	    s->applied_per_window > q + mul_div(q, p->margin_permil, 1000) &&
	    may_commit(s, o->now_us, p->emergency_commit_interval_us)) {
		s->nr_fhist = 0;
		d->set_quota = true;
		d->quota_bytes = clamp_quota(p, q, q);
		snprintf(d->reason, sizeof(d->reason), "exclude: window applied %llu KiB > Q+margin, K = Q",
			 (unsigned long long)(s->applied_per_window >> 10));
		emit(s, d, o->now_us);
		return;
	}

	/* A map is planned once, unless the pace deferred its commit: then the
	 * same map is planned again at every step until the pace allows it
	 * (the plan depends only on the map and on what is installed, so a new
	 * scan, a whole scan period later, is not needed to act on it). */
	if (m->generation == s->map_generation)
		return;

	nr = charge_plan_reject(p, s, m, d->reject, p->max_filters, &bad_hidden, &ok_hidden);
	ok_incl = m->ok_bytes > ok_hidden ? m->ok_bytes - ok_hidden : 0;
	k = exclude_quota(p, ok_incl, bad_hidden);
	fres = residual_fmin(p, s);
	if (fres)
		k = clamp_quota(p, mul_div(k, 1000, 1000 - fres), mul_div(q, 1000, 1000 - fres));
	gain = plan_gain(s, m, d->reject, nr, &back);
	thr = p->replan_min_bytes ?: p->quota_bytes;

	bool filters_change = !same_ranges(d->reject, nr, s->reject, s->nr_reject) &&
			      (gain >= thr || s->last_commit_us == 0 || s->kernel_quota == UINT64_MAX);
	bool quota_change = outside_deadband(p, s->kernel_quota, k);

	if (!filters_change && !quota_change) {
		s->map_generation = m->generation;
		return;
	}
	/* Urgent (the 1 s pace): a plan that changes sides for many quotas, or one that gives back at least a
	 * quota of memory the scheme can apply to: hidden memory that turned ok (a process took free memory)
	 * is reclaim the user asked for and the kernel's own ratio would not delay; hiding more failing
	 * memory only saves quota, and waits for the 5 s pace. */
	bool urgent = p->urgent_gain_factor && (gain >= thr * p->urgent_gain_factor || back >= thr);

	if (!may_commit(s, o->now_us, urgent ? p->emergency_commit_interval_us : p->min_commit_interval_us)) {
		s->nr_deferred++;
		return;
	}
	s->map_generation = m->generation;

	d->set_filters = filters_change;
	d->nr_reject = nr;
	/* a K change inside the dead band rides along with a commit made anyway, from 1 % (the residual credit;
	 * exclude_quota()'s few pages under Q at 1/4096 are not worth a write) */
	if (quota_change ||
	    (filters_change && s->kernel_quota != UINT64_MAX &&
	     (k > s->kernel_quota ? k - s->kernel_quota : s->kernel_quota - k) * 100 >= s->kernel_quota)) {
		d->set_quota = true;
		d->quota_bytes = k;
	} else if (s->kernel_quota == UINT64_MAX) {
		d->set_quota = true;
		d->quota_bytes = p->quota_bytes;
	}
	snprintf(d->reason, sizeof(d->reason),
		 "exclude %zu ranges: hide %lluM failing %lluM ok, delta %lluK, K %lluK (residual %u permil)", nr,
		 (unsigned long long)(bad_hidden >> 20), (unsigned long long)(ok_hidden >> 20),
		 (unsigned long long)(gain >> 10),
		 (unsigned long long)((d->set_quota ? d->quota_bytes : s->kernel_quota) >> 10), fres);
	emit(s, d, o->now_us);
}

static void step_fallback(const struct charge_params *p, struct charge_state *s, const struct charge_obs *o,
			  bool closed, struct charge_decision *d)
{
	uint64_t q = p->quota_bytes, hi, k;
	uint32_t fmin = 1000, fcap = MIN(p->fallback_fcap_permil, 900);
	unsigned want = MIN(MAX(p->fallback_history, 1u), (unsigned)CHARGE_FHIST);

	/* leaving EXCLUDE (oracle lost): give the memory back */
	if (s->nr_reject > 0 || s->kernel_quota == UINT64_MAX) {
		if (!may_commit(s, o->now_us, p->emergency_commit_interval_us))
			return;
		d->set_filters = true;
		d->nr_reject = 0;
		d->set_quota = true;
		d->quota_bytes = q;
		snprintf(d->reason, sizeof(d->reason), "fallback: no page-state oracle, filters dropped, K = Q");
		emit(s, d, o->now_us);
		return;
	}
	if (!closed)
		return;

	hi = mul_div(q, 1000, 1000 - fcap);
	/* safety: a window above (1 + margin) Q means the failure share fell
	 * below what we credited: back to Q now, forget the history */
	if (s->applied_per_window > q + mul_div(q, p->margin_permil, 1000) && s->kernel_quota > q) {
		if (!may_commit(s, o->now_us, p->emergency_commit_interval_us))
			return;
		s->nr_fhist = 0;
		d->set_quota = true;
		d->quota_bytes = q;
		snprintf(d->reason, sizeof(d->reason), "fallback: window applied %llu KiB > Q+margin, K = Q",
			 (unsigned long long)(s->applied_per_window >> 10));
		emit(s, d, o->now_us);
		return;
	}

	if (s->nr_fhist < (want + 1) / 2)
		fmin = 0;
	else
		for (unsigned i = 0; i < MIN(want, s->nr_fhist); i++) {
			uint32_t f = s->fhist[(s->fhist_pos + CHARGE_FHIST - 1 - i) % CHARGE_FHIST];

			if (f < fmin)
				fmin = f;
		}
	if (fmin > fcap)
		fmin = fcap;
	k = mul_div(q, 1000, 1000 - fmin);
	/* at most x1.5 up per commit */
	if (k > s->kernel_quota + s->kernel_quota / 2)
		k = s->kernel_quota + s->kernel_quota / 2;
	k = clamp_quota(p, k, hi);
	if (!outside_deadband(p, s->kernel_quota, k))
		return;
	if (!may_commit(s, o->now_us,
			k < s->kernel_quota ? p->emergency_commit_interval_us : p->min_commit_interval_us))
		return;
	d->set_quota = true;
	d->quota_bytes = k;
	snprintf(d->reason, sizeof(d->reason), "fallback: min failure share %u permil over %u windows, K %llu KiB",
		 fmin, MIN(want, s->nr_fhist), (unsigned long long)(k >> 10));
	emit(s, d, o->now_us);
}

void charge_step(const struct charge_params *p, struct charge_state *s, const struct charge_obs *o,
		 struct charge_decision *d)
{
	bool closed;

	memset(d, 0, sizeof(*d));
	closed = observe(p, s, o);

	if (ratio_off(p)) {
		s->mode = CHARGE_MODE_OFF;
		if ((s->nr_reject > 0 || s->kernel_quota != p->quota_bytes) &&
		    may_commit(s, o->now_us, p->emergency_commit_interval_us)) {
			d->set_filters = s->nr_reject > 0 || s->kernel_quota == UINT64_MAX;
			d->nr_reject = 0;
			d->set_quota = true;
			d->quota_bytes = p->quota_bytes;
			snprintf(d->reason, sizeof(d->reason), "off: K = Q, no filters");
			emit(s, d, o->now_us);
		}
		return;
	}

	if (o->map && o->map->generation > 0 && o->map->nr_chunks > 0) {
		s->mode = CHARGE_MODE_EXCLUDE;
		step_exclude(p, s, o, d);
	} else {
		s->mode = CHARGE_MODE_FALLBACK;
		step_fallback(p, s, o, closed, d);
	}
}
