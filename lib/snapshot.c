/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Decoding of damon-events records and snapshot assembly (see snapshot.h). */
#include "snapshot.h"

#include "macro.h"

/* feed_aggregated() copies a record's regions into a snapshot as they are */
_Static_assert(sizeof(struct snapshot_region) == sizeof(struct damon_ev_region), "region layout");
_Static_assert(offsetof(struct snapshot_region, end) == offsetof(struct damon_ev_region, end), "region layout");
_Static_assert(offsetof(struct snapshot_region, nr_accesses) == offsetof(struct damon_ev_region, nr_accesses),
	       "region layout");
_Static_assert(offsetof(struct snapshot_region, age) == offsetof(struct damon_ev_region, age), "region layout");

struct target_state {
	/* published */
	struct damon_snapshot pub;
	struct snapshot_region *pub_regions;
	size_t pub_cap;
	/* being assembled */
	struct snapshot_region *bld;
	size_t bld_n, bld_cap;
	uint32_t bld_seq;
	uint32_t bld_nr;
	bool bld_active;	/* events of bld_seq are being collected */
	bool bld_broken;	/* bld_seq is lost: ignore its remaining events */
	/* lookahead: the newest complete burst in the current drain */
	bool ahead_valid;
	uint32_t ahead_seq;
	/* lookahead: the run of records being followed (contiguous from region 0
	 * or from where the build in progress stands) */
	bool peek_on;
	uint32_t peek_seq, peek_nr, peek_next;
	/* the last superseded burst counted (once per burst) */
	bool skip_valid;
	uint32_t skip_seq;
	/* the newest aggregation counted in pub.nr_aggregations */
	bool seen_valid;
	uint32_t seen_seq;
};

struct scheme_state {
	/* published */
	struct damos_apply_record pub;
	struct damos_apply_region *pub_regions;
	size_t pub_cap;
	bool has_pub;
	/* open burst */
	struct damos_apply_region *bld;
	size_t bld_n, bld_cap;
	bool bld_open;
	uint64_t bld_first_ts, bld_last_ts, bld_sz;
	/* esz / stat */
	struct damos_scheme_obs obs;
	bool has_obs;
};

struct kd_state {
	struct snapshot_kdamond info;
	struct target_state *targets;
	size_t n_targets;
	struct scheme_state *schemes;
	size_t n_schemes;
	uint32_t last_published_seq;
	bool any_published;
	size_t n_open_apply;
};

struct snapshot_store {
	bool lookahead;		/* some target has ahead_valid */
	snapshot_update_cb on_update;
	void *userdata;
	uint64_t apply_gap_ns;
	struct kd_state *kds;
	size_t n_kds;
	struct snapshot_store_stats stats;
};

static const size_t ev_size[DAMON_EV_TYPE_MAX] = {
	[DAMON_EV_AGGREGATED] = DAMON_EV_AGGR_HDR_SIZE,	/* + count regions, checked below */
	[DAMON_EV_BEFORE_APPLY] = sizeof(struct damon_ev_before_apply),
	[DAMON_EV_ESZ] = sizeof(struct damon_ev_esz),
	[DAMON_EV_SCHEME_STAT] = sizeof(struct damon_ev_scheme_stat),
};

static const char *const ev_name[DAMON_EV_TYPE_MAX] = {
	[DAMON_EV_AGGREGATED] = "aggregated",
	[DAMON_EV_BEFORE_APPLY] = "before_apply",
	[DAMON_EV_ESZ] = "esz",
	[DAMON_EV_SCHEME_STAT] = "scheme_stat",
};

const char *damon_event_type_to_string(unsigned type)
{
	return type < DAMON_EV_TYPE_MAX ? ev_name[type] : NULL;
}

unsigned damon_event_record_events(const void *rec, size_t len, unsigned *ret_type)
{
	struct damon_ev_header h;
	uint32_t count;

	if (!rec || len < sizeof(h))
		return 0;
	memcpy(&h, rec, sizeof(h));
	if (ret_type)
		*ret_type = h.type;
	if (h.type != DAMON_EV_AGGREGATED)
		return 1;
	if (len < DAMON_EV_AGGR_HDR_SIZE)
		return 0;
	memcpy(&count, (const char *)rec + offsetof(struct damon_ev_aggregated, count), sizeof(count));
	return count <= DAMON_EV_AGGR_BATCH ? count : 0;	/* damon_event_decode() rejects it */
}

int damon_event_decode(const void *rec, size_t len, struct damon_event *ret)
{
	struct damon_ev_header h;

	if (!rec || !ret)
		return -EINVAL;
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, rec, sizeof(h));
	if (h.version != DAMON_EV_VERSION)
		return -EPROTONOSUPPORT;
	if (h.type >= DAMON_EV_TYPE_MAX || ev_size[h.type] == 0)
		return -EOPNOTSUPP;
	if (len < ev_size[h.type])
		return -EBADMSG;
	if (h.type == DAMON_EV_AGGREGATED) {
		struct damon_ev_aggregated a;
		size_t want;

		memcpy(&a, rec, DAMON_EV_AGGR_HDR_SIZE);
		if (a.count == 0 || a.count > DAMON_EV_AGGR_BATCH)
			return -EBADMSG;
		want = DAMON_EV_AGGR_HDR_SIZE + (size_t)a.count * sizeof(struct damon_ev_region);
		if (len < want)
			return -EBADMSG;
		memcpy(ret, rec, want);
		return 0;
	}

	memset(ret, 0, sizeof(*ret));
	memcpy(ret, rec, ev_size[h.type]);
	return 0;
}

/* Makes room for want elements; keeps contents. */
static int reserve(void **array, size_t *cap, size_t want, size_t elem)
{
	size_t n;
	void *p;

	if (want <= *cap)
		return 0;
	n = MAX(*cap * 2, (size_t)16);
	if (n < want)
		n = want;
	if (n > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*array, n * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

static void notify(struct snapshot_store *s, enum snapshot_update_type type, unsigned kd, unsigned idx)
{
	struct snapshot_update u = { .type = type, .kdamond_idx = kd, .index = idx };

	if (s->on_update)
		s->on_update(s->userdata, &u);
}

static void kd_clear(struct kd_state *kd)
{
	for (size_t i = 0; i < kd->n_targets; i++) {
		free(kd->targets[i].pub_regions);
		free(kd->targets[i].bld);
	}
	free(kd->targets);
	for (size_t i = 0; i < kd->n_schemes; i++) {
		free(kd->schemes[i].pub_regions);
		free(kd->schemes[i].bld);
	}
	free(kd->schemes);
	*kd = (struct kd_state){};
}

int snapshot_store_new(const struct snapshot_store_params *p, struct snapshot_store **ret)
{
	struct snapshot_store *s;

	if (!ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (p) {
		s->on_update = p->on_update;
		s->userdata = p->userdata;
		s->apply_gap_ns = p->apply_gap_ns;
	}
	if (s->apply_gap_ns == 0)
		s->apply_gap_ns = SNAPSHOT_APPLY_GAP_NS_DEFAULT;
	*ret = s;
	return 0;
}

struct snapshot_store *snapshot_store_free(struct snapshot_store *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_kds; i++)
		kd_clear(&s->kds[i]);
	free(s->kds);
	free(s);
	return NULL;
}

int snapshot_store_set_pid(struct snapshot_store *s, unsigned kdamond_idx, int pid)
{
	struct kd_state *kd;

	if (!s || kdamond_idx >= SNAPSHOT_MAX_KDAMONDS)
		return -EINVAL;
	if (pid < 0)
		pid = 0;
	if (kdamond_idx >= s->n_kds) {
		size_t cap = s->n_kds;
		int r;

		if (pid == 0)
			return 0;
		r = reserve((void **)&s->kds, &cap, kdamond_idx + 1, sizeof(*s->kds));
		if (r < 0)
			return r;
		memset(s->kds + s->n_kds, 0, (kdamond_idx + 1 - s->n_kds) * sizeof(*s->kds));
		s->n_kds = kdamond_idx + 1;
	}
	kd = &s->kds[kdamond_idx];
	if (kd->info.pid == pid)
		return 0;

	/* A restart (or a stop): everything known belongs to the old kdamond. */
	kd_clear(kd);
	kd->info.pid = pid;

	/* A pid belongs to one kdamond only: a stale mapping of another index
	 * (the daemon renumbered its kdamonds) is dropped. */
	if (pid > 0)
		for (size_t i = 0; i < s->n_kds; i++)
			if (i != kdamond_idx && s->kds[i].info.pid == pid)
				kd_clear(&s->kds[i]);
	return 0;
}

int snapshot_store_kdamond_of_pid(const struct snapshot_store *s, int pid)
{
	if (!s || pid <= 0)
		return -ENOENT;
	for (size_t i = 0; i < s->n_kds; i++)
		if (s->kds[i].info.pid == pid)
			return (int)i;
	return -ENOENT;
}

static struct target_state *get_target(struct kd_state *kd, unsigned idx)
{
	if (idx >= SNAPSHOT_MAX_TARGETS)
		return NULL;
	if (idx >= kd->n_targets) {
		size_t cap = kd->n_targets;

		if (reserve((void **)&kd->targets, &cap, idx + 1, sizeof(*kd->targets)) < 0)
			return NULL;
		memset(kd->targets + kd->n_targets, 0, (idx + 1 - kd->n_targets) * sizeof(*kd->targets));
		kd->n_targets = idx + 1;
		kd->info.nr_targets = kd->n_targets;
	}
	return &kd->targets[idx];
}

static struct scheme_state *get_scheme(struct kd_state *kd, unsigned idx)
{
	if (idx >= SNAPSHOT_MAX_SCHEMES)
		return NULL;
	if (idx >= kd->n_schemes) {
		size_t cap = kd->n_schemes;

		if (reserve((void **)&kd->schemes, &cap, idx + 1, sizeof(*kd->schemes)) < 0)
			return NULL;
		memset(kd->schemes + kd->n_schemes, 0, (idx + 1 - kd->n_schemes) * sizeof(*kd->schemes));
		kd->n_schemes = idx + 1;
		kd->info.nr_schemes = kd->n_schemes;
	}
	return &kd->schemes[idx];
}

/* ---- aggregation snapshots ---- */

static bool seq_before(uint32_t a, uint32_t b);

/*
 * pub.nr_aggregations: the aggregations the kdamond ran since the first one
 * of this target seen here, by aggr_seq, which the BPF side advances for
 * every aggregation: also for those its gate did not forward and those whose
 * records the ring lost. Counted when a burst is published or superseded.
 */
static void target_count_seq(struct target_state *t, uint32_t seq)
{
	if (!t->seen_valid)
		t->pub.nr_aggregations++;
	else if (seq_before(t->seen_seq, seq))
		t->pub.nr_aggregations += seq - t->seen_seq;
	else
		return;
	t->seen_valid = true;
	t->seen_seq = seq;
}

static void target_publish(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			   unsigned t_idx, struct target_state *t, uint64_t ts_ns, uint64_t now_ns)
{
	struct snapshot_region *tmp = t->pub_regions;
	size_t tmp_cap = t->pub_cap;

	t->pub_regions = t->bld;
	t->pub_cap = t->bld_cap;
	t->bld = tmp;
	t->bld_cap = tmp_cap;

	t->pub.kdamond_idx = kd_idx;
	t->pub.target_idx = t_idx;
	t->pub.pid = kd->info.pid;
	t->pub.aggr_seq = t->bld_seq;
	t->pub.nr_published++;
	target_count_seq(t, t->bld_seq);
	t->pub.ts_ns = ts_ns;
	t->pub.recv_ns = now_ns;
	t->pub.nr_regions = t->bld_n;
	t->pub.regions = t->pub_regions;
	t->bld_n = 0;
	t->bld_active = false;

	if (!kd->any_published || kd->last_published_seq != t->bld_seq) {
		kd->info.nr_aggregations++;
		kd->last_published_seq = t->bld_seq;
		kd->any_published = true;
	}
	kd->info.last_aggr_seq = t->bld_seq;
	kd->info.last_aggr_ts_ns = ts_ns;
	kd->info.last_aggr_recv_ns = now_ns;

	s->stats.snapshots_published++;
	notify(s, SNAPSHOT_UPDATE_REGIONS, kd_idx, t_idx);
}

static void target_break(struct snapshot_store *s, struct target_state *t)
{
	t->bld_broken = true;
	t->bld_n = 0;
	s->stats.snapshots_incomplete++;
}

static void apply_close_all(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			    uint64_t now_ns);

/* a is older than b (aggr_seq counts up and may wrap) */
static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* The store's limits for an aggregated record's header (records outside are ignored). */
static bool aggr_in_limits(const struct damon_ev_aggregated *e)
{
	return e->nr_regions > 0 && e->nr_regions <= SNAPSHOT_MAX_REGIONS && e->count > 0 &&
	       e->count <= DAMON_EV_AGGR_BATCH && e->region_idx < e->nr_regions &&
	       e->count <= e->nr_regions - e->region_idx;
}

/* e: the record's header; regions: e->count struct damon_ev_region, any alignment. */
static int feed_aggregated(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			   const struct damon_ev_aggregated *e, const void *regions, uint64_t now_ns)
{
	struct snapshot_region *dst;
	struct target_state *t;
	uint64_t prev_end;
	int r;

	/* The schemes ran before this aggregation's events: their bursts are over. */
	if (kd->n_open_apply > 0)
		apply_close_all(s, kd_idx, kd, now_ns);

	if (!aggr_in_limits(e)) {
		s->stats.ignored++;
		return 0;
	}
	t = get_target(kd, e->target_idx);
	if (!t) {
		s->stats.ignored++;
		return 0;
	}

	/* A newer complete burst of this target follows in this drain. */
	if (t->ahead_valid && seq_before(e->aggr_seq, t->ahead_seq)) {
		if (t->bld_active && t->bld_seq == e->aggr_seq) {
			/* superseded, not lost: no incomplete count */
			t->bld_active = false;
			t->bld_n = 0;
		}
		if (!t->skip_valid || t->skip_seq != e->aggr_seq) {
			t->skip_valid = true;
			t->skip_seq = e->aggr_seq;
			target_count_seq(t, e->aggr_seq);
			s->stats.snapshots_superseded++;
		}
		return 0;
	}

	if (!t->bld_active || t->bld_seq != e->aggr_seq || t->bld_nr != e->nr_regions) {
		/* A new burst: an unfinished previous one is lost. */
		if (t->bld_active && !t->bld_broken && t->bld_n < t->bld_nr)
			s->stats.snapshots_incomplete++;
		t->bld_active = true;
		t->bld_broken = false;
		t->bld_seq = e->aggr_seq;
		t->bld_nr = e->nr_regions;
		t->bld_n = 0;
		/* the burst's size is known: one allocation, not a doubling series */
		if (reserve((void **)&t->bld, &t->bld_cap, e->nr_regions, sizeof(*t->bld)) < 0) {
			target_break(s, t);
			return -ENOMEM;
		}
	}
	if (t->bld_broken)
		return 0;

	if (e->region_idx != t->bld_n) {
		target_break(s, t);
		return 0;
	}
	r = reserve((void **)&t->bld, &t->bld_cap, t->bld_n + e->count, sizeof(*t->bld));
	if (r < 0) {
		target_break(s, t);
		return r;
	}
	/* The record's regions have the snapshot's layout: one copy, then checks
	 * in place (address ordered, non-empty, not overlapping). */
	dst = t->bld + t->bld_n;
	memcpy(dst, regions, (size_t)e->count * sizeof(*dst));
	prev_end = t->bld_n > 0 ? t->bld[t->bld_n - 1].end : 0;
	for (uint32_t i = 0; i < e->count; i++) {
		if (dst[i].start >= dst[i].end || dst[i].start < prev_end) {
			target_break(s, t);
			return 0;
		}
		prev_end = dst[i].end;
	}
	t->bld_n += e->count;
	if (t->bld_n == t->bld_nr)
		target_publish(s, kd_idx, kd, e->target_idx, t, e->hdr.ts_ns, now_ns);
	return 0;
}

/* ---- apply records ---- */

static void apply_close(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			unsigned sc_idx, struct scheme_state *sc, uint64_t now_ns)
{
	struct damos_apply_region *tmp = sc->pub_regions;
	size_t tmp_cap = sc->pub_cap;

	if (sc->bld_open) {
		sc->pub_regions = sc->bld;
		sc->pub_cap = sc->bld_cap;
		sc->bld = tmp;
		sc->bld_cap = tmp_cap;
		sc->pub.nr_regions = sc->bld_n;
		sc->pub.first_ts_ns = sc->bld_first_ts;
		sc->pub.last_ts_ns = sc->bld_last_ts;
		sc->pub.sz_tried = sc->bld_sz;
		kd->n_open_apply--;
	} else {
		/* the scheme tried nothing in this interval */
		sc->pub.nr_regions = 0;
		sc->pub.first_ts_ns = sc->pub.last_ts_ns = 0;
		sc->pub.sz_tried = 0;
	}
	sc->pub.kdamond_idx = kd_idx;
	sc->pub.scheme_idx = sc_idx;
	sc->pub.nr_published++;
	sc->pub.recv_ns = now_ns;
	sc->pub.regions = sc->pub_regions;
	sc->has_pub = true;
	sc->bld_open = false;
	sc->bld_n = 0;
	sc->bld_sz = 0;

	s->stats.apply_published++;
	notify(s, SNAPSHOT_UPDATE_APPLY, kd_idx, sc_idx);
}

static void apply_close_all(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			    uint64_t now_ns)
{
	for (size_t i = 0; i < kd->n_schemes && kd->n_open_apply > 0; i++)
		if (kd->schemes[i].bld_open)
			apply_close(s, kd_idx, kd, (unsigned)i, &kd->schemes[i], now_ns);
}

static int feed_before_apply(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			     const struct damon_ev_before_apply *e, uint64_t now_ns)
{
	struct scheme_state *sc;
	int r;

	if (e->start >= e->end) {
		s->stats.ignored++;
		return 0;
	}
	sc = get_scheme(kd, e->scheme_idx);
	if (!sc) {
		s->stats.ignored++;
		return 0;
	}

	if (sc->bld_open) {
		const struct damos_apply_region *last = &sc->bld[sc->bld_n - 1];

		if (e->target_idx < last->target_idx ||
		    (e->target_idx == last->target_idx && e->start < last->end))
			apply_close(s, kd_idx, kd, e->scheme_idx, sc, now_ns);
		else if (e->hdr.ts_ns > sc->bld_last_ts + s->apply_gap_ns) {
			s->stats.apply_split++;
			apply_close(s, kd_idx, kd, e->scheme_idx, sc, now_ns);
		}
	}

	r = reserve((void **)&sc->bld, &sc->bld_cap, sc->bld_n + 1, sizeof(*sc->bld));
	if (r < 0)
		return r;
	if (!sc->bld_open) {
		sc->bld_open = true;
		sc->bld_first_ts = e->hdr.ts_ns;
		sc->bld_n = 0;
		sc->bld_sz = 0;
		kd->n_open_apply++;
	}
	sc->bld[sc->bld_n++] = (struct damos_apply_region){
		.target_idx = e->target_idx,
		.nr_accesses = e->nr_accesses,
		.age = e->age,
		.start = e->start,
		.end = e->end,
	};
	sc->bld_sz += e->end - e->start;
	sc->bld_last_ts = e->hdr.ts_ns;
	return 0;
}

static int feed_esz(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
		    const struct damon_ev_esz *e, uint64_t now_ns)
{
	struct scheme_state *sc = get_scheme(kd, e->scheme_idx);

	if (!sc) {
		s->stats.ignored++;
		return 0;
	}
	/* Quota adjustment starts the scheme's next apply interval. */
	if (sc->bld_open)
		apply_close(s, kd_idx, kd, e->scheme_idx, sc, now_ns);
	sc->has_obs = true;
	sc->obs.has_esz = true;
	sc->obs.esz = e->esz;
	sc->obs.esz_ts_ns = e->hdr.ts_ns;
	notify(s, SNAPSHOT_UPDATE_ESZ, kd_idx, e->scheme_idx);
	return 0;
}

static int feed_scheme_stat(struct snapshot_store *s, unsigned kd_idx, struct kd_state *kd,
			    const struct damon_ev_scheme_stat *e, uint64_t now_ns)
{
	struct scheme_state *sc = get_scheme(kd, e->scheme_idx);

	if (!sc) {
		s->stats.ignored++;
		return 0;
	}
	/* End of this scheme's apply interval: exact close (also when empty). */
	apply_close(s, kd_idx, kd, e->scheme_idx, sc, now_ns);

	sc->has_obs = true;
	if (sc->obs.has_stat) {
		sc->obs.prev_stat = sc->obs.stat;
		sc->obs.has_prev_stat = true;
	}
	sc->obs.has_stat = true;
	sc->obs.stat = (struct damos_stat_values){
		.nr_tried = e->nr_tried,
		.sz_tried = e->sz_tried,
		.nr_applied = e->nr_applied,
		.sz_applied = e->sz_applied,
		.sz_ops_filter_passed = e->sz_ops_filter_passed,
		.qt_exceeds = e->qt_exceeds,
		.nr_snapshots = e->nr_snapshots,
	};
	sc->obs.stat_ts_ns = e->hdr.ts_ns;
	notify(s, SNAPSHOT_UPDATE_STAT, kd_idx, e->scheme_idx);
	return 0;
}

int snapshot_store_feed_event(struct snapshot_store *s, const struct damon_event *ev, uint64_t now_ns)
{
	struct kd_state *kd;
	int kd_idx;

	if (!s || !ev)
		return -EINVAL;
	/* tracepoint events: an aggregated record carries count of them */
	if (ev->hdr.type == DAMON_EV_AGGREGATED)
		s->stats.events[ev->hdr.type] += ev->aggr.count;
	else if (ev->hdr.type < DAMON_EV_TYPE_MAX)
		s->stats.events[ev->hdr.type]++;

	kd_idx = snapshot_store_kdamond_of_pid(s, (int)ev->hdr.pid);
	if (kd_idx < 0) {
		s->stats.unknown_pid++;
		return 0;
	}
	kd = &s->kds[kd_idx];

	switch (ev->hdr.type) {
	case DAMON_EV_AGGREGATED:
		return feed_aggregated(s, (unsigned)kd_idx, kd, &ev->aggr, ev->aggr.regions, now_ns);
	case DAMON_EV_BEFORE_APPLY:
		return feed_before_apply(s, (unsigned)kd_idx, kd, &ev->apply, now_ns);
	case DAMON_EV_ESZ:
		return feed_esz(s, (unsigned)kd_idx, kd, &ev->esz, now_ns);
	case DAMON_EV_SCHEME_STAT:
		return feed_scheme_stat(s, (unsigned)kd_idx, kd, &ev->stat, now_ns);
	default:
		s->stats.ignored++;
		return 0;
	}
}

int snapshot_store_feed(struct snapshot_store *s, const void *rec, size_t len, uint64_t now_ns)
{
	struct damon_event ev;
	int kd_idx, r;

	if (!s)
		return -EINVAL;
	s->stats.records++;

	/* The bulk of the traffic: decode the header only, copy the regions once. */
	if (rec && len >= DAMON_EV_AGGR_HDR_SIZE) {
		struct damon_ev_aggregated a;

		memcpy(&a, rec, DAMON_EV_AGGR_HDR_SIZE);
		if (a.hdr.version == DAMON_EV_VERSION && a.hdr.type == DAMON_EV_AGGREGATED) {
			if (a.count == 0 || a.count > DAMON_EV_AGGR_BATCH ||
			    len < DAMON_EV_AGGR_HDR_SIZE + (size_t)a.count * sizeof(struct damon_ev_region)) {
				s->stats.bad_records++;
				return -EBADMSG;
			}
			s->stats.events[DAMON_EV_AGGREGATED] += a.count;
			kd_idx = snapshot_store_kdamond_of_pid(s, (int)a.hdr.pid);
			if (kd_idx < 0) {
				s->stats.unknown_pid++;
				return 0;
			}
			return feed_aggregated(s, (unsigned)kd_idx, &s->kds[kd_idx], &a,
					       (const uint8_t *)rec + DAMON_EV_AGGR_HDR_SIZE, now_ns);
		}
	}

	r = damon_event_decode(rec, len, &ev);
	if (r < 0) {
		s->stats.bad_records++;
		return r;
	}
	return snapshot_store_feed_event(s, &ev, now_ns);
}

int snapshot_store_lookahead(struct snapshot_store *s, const void *rec, size_t len)
{
	struct damon_ev_aggregated a;
	struct target_state *t;
	int kd_idx;

	if (!s || !rec)
		return -EINVAL;
	if (len < sizeof(a.hdr))
		return -EBADMSG;
	memcpy(&a.hdr, rec, sizeof(a.hdr));
	if (a.hdr.version != DAMON_EV_VERSION || a.hdr.type != DAMON_EV_AGGREGATED)
		return 0;
	if (len < DAMON_EV_AGGR_HDR_SIZE)
		return -EBADMSG;
	memcpy(&a, rec, DAMON_EV_AGGR_HDR_SIZE);
	kd_idx = snapshot_store_kdamond_of_pid(s, (int)a.hdr.pid);
	if (kd_idx < 0 || a.target_idx >= s->kds[kd_idx].n_targets)
		return 0;	/* an unknown target has nothing to skip */
	t = &s->kds[kd_idx].targets[a.target_idx];
	/* the limits feed_aggregated() applies: a record it ignores completes nothing */
	if (!aggr_in_limits(&a) || len < DAMON_EV_AGGR_HDR_SIZE + (size_t)a.count * sizeof(struct damon_ev_region)) {
		t->peek_on = false;
		return 0;
	}

	/*
	 * A burst is complete only if every one of its records is here, in
	 * order: from region 0, or continuing the build in progress. A burst
	 * that lost records to a full ring must not supersede anything.
	 */
	s->lookahead = true;	/* state to forget at the flush */
	if (a.region_idx == 0) {
		t->peek_on = true;
		t->peek_seq = a.aggr_seq;
		t->peek_nr = a.nr_regions;
		t->peek_next = 0;
	} else if (!(t->peek_on && t->peek_seq == a.aggr_seq && t->peek_nr == a.nr_regions &&
		     t->peek_next == a.region_idx)) {
		t->peek_on = t->bld_active && !t->bld_broken && t->bld_seq == a.aggr_seq &&
			     t->bld_nr == a.nr_regions && t->bld_n == a.region_idx;
		if (!t->peek_on)
			return 0;
		t->peek_seq = a.aggr_seq;
		t->peek_nr = a.nr_regions;
		t->peek_next = a.region_idx;
	}
	t->peek_next += a.count;
	if (t->peek_next < t->peek_nr)
		return 0;
	t->peek_on = false;
	if (!t->ahead_valid || seq_before(t->ahead_seq, a.aggr_seq)) {
		t->ahead_valid = true;
		t->ahead_seq = a.aggr_seq;
	}
	return 0;
}

void snapshot_store_flush(struct snapshot_store *s, uint64_t now_ns)
{
	if (!s)
		return;
	for (size_t k = 0; k < s->n_kds; k++) {
		struct kd_state *kd = &s->kds[k];

		for (size_t i = 0; s->lookahead && i < kd->n_targets; i++) {
			kd->targets[i].ahead_valid = false;
			kd->targets[i].peek_on = false;
		}

		for (size_t i = 0; i < kd->n_schemes && kd->n_open_apply > 0; i++) {
			struct scheme_state *sc = &kd->schemes[i];

			if (sc->bld_open && now_ns > sc->bld_last_ts + s->apply_gap_ns)
				apply_close(s, (unsigned)k, kd, (unsigned)i, sc, now_ns);
		}
	}
	s->lookahead = false;
}

static const struct kd_state *kd_get(const struct snapshot_store *s, unsigned kdamond_idx)
{
	if (!s || kdamond_idx >= s->n_kds || s->kds[kdamond_idx].info.pid <= 0)
		return NULL;
	return &s->kds[kdamond_idx];
}

const struct snapshot_kdamond *snapshot_store_get_kdamond(const struct snapshot_store *s,
							  unsigned kdamond_idx)
{
	const struct kd_state *kd = kd_get(s, kdamond_idx);

	return kd ? &kd->info : NULL;
}

const struct damon_snapshot *snapshot_store_get(const struct snapshot_store *s, unsigned kdamond_idx,
						unsigned target_idx)
{
	const struct kd_state *kd = kd_get(s, kdamond_idx);

	if (!kd || target_idx >= kd->n_targets || kd->targets[target_idx].pub.nr_published == 0)
		return NULL;
	return &kd->targets[target_idx].pub;
}

const struct damos_apply_record *snapshot_store_get_apply(const struct snapshot_store *s,
							  unsigned kdamond_idx, unsigned scheme_idx)
{
	const struct kd_state *kd = kd_get(s, kdamond_idx);

	if (!kd || scheme_idx >= kd->n_schemes || !kd->schemes[scheme_idx].has_pub)
		return NULL;
	return &kd->schemes[scheme_idx].pub;
}

const struct damos_scheme_obs *snapshot_store_get_scheme(const struct snapshot_store *s,
							 unsigned kdamond_idx, unsigned scheme_idx)
{
	const struct kd_state *kd = kd_get(s, kdamond_idx);

	if (!kd || scheme_idx >= kd->n_schemes || !kd->schemes[scheme_idx].has_obs)
		return NULL;
	return &kd->schemes[scheme_idx].obs;
}

void snapshot_store_get_stats(const struct snapshot_store *s, struct snapshot_store_stats *ret)
{
	if (!ret)
		return;
	if (!s) {
		*ret = (struct snapshot_store_stats){};
		return;
	}
	*ret = s->stats;
}
