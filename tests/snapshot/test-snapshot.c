/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of damon-events record decoding and snapshot assembly (lib/snapshot.c),
 * fed with synthetic records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "macro.h"
#include "observe.h"
#include "snapshot.h"

#define MS (1000ULL * 1000ULL)

/* ---- record builders ---- */

static struct damon_ev_header hdr(uint16_t type, uint32_t pid, uint64_t ts)
{
	return (struct damon_ev_header){ .version = DAMON_EV_VERSION, .type = type, .pid = pid, .ts_ns = ts };
}

static struct damon_ev_aggregated aggr(uint32_t pid, uint64_t ts, uint32_t target, uint32_t seq,
				       uint32_t idx, uint32_t nr, uint64_t start, uint64_t end,
				       uint32_t acc, uint32_t age)
{
	/* a batch of one region */
	return (struct damon_ev_aggregated){
		.hdr = hdr(DAMON_EV_AGGREGATED, pid, ts),
		.target_idx = target,
		.nr_regions = nr,
		.region_idx = idx,
		.aggr_seq = seq,
		.count = 1,
		.regions[0] = { .start = start, .end = end, .nr_accesses = acc, .age = age },
	};
}

static struct damon_ev_before_apply apply(uint32_t pid, uint64_t ts, uint32_t scheme, uint32_t target,
					  uint64_t start, uint64_t end)
{
	return (struct damon_ev_before_apply){
		.hdr = hdr(DAMON_EV_BEFORE_APPLY, pid, ts),
		.scheme_idx = scheme,
		.target_idx = target,
		.nr_regions = 10,
		.start = start,
		.end = end,
		.nr_accesses = 3,
		.age = 7,
	};
}

/* ---- update callback recorder ---- */

struct recorder {
	unsigned n[_SNAPSHOT_UPDATE_MAX];
	struct snapshot_update last;
};

static void record_update(void *userdata, const struct snapshot_update *u)
{
	struct recorder *rec = userdata;

	rec->n[u->type]++;
	rec->last = *u;
}

struct fixture {
	struct snapshot_store *s;
	struct recorder rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct snapshot_store_params p = { .on_update = record_update, .apply_gap_ns = 1 * MS };

	assert_non_null(f);
	p.userdata = &f->rec;
	assert_int_equal(snapshot_store_new(&p, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_null(snapshot_store_free(f->s));
	free(f);
	return 0;
}

#define FEED(s, rec, now) assert_int_equal(snapshot_store_feed((s), &(rec), sizeof(rec), (now)), 0)

static void feed_aggr(struct snapshot_store *s, uint32_t pid, uint64_t ts, uint32_t target, uint32_t seq,
		      uint32_t idx, uint32_t nr, uint64_t start, uint64_t end, uint32_t acc)
{
	struct damon_ev_aggregated e = aggr(pid, ts, target, seq, idx, nr, start, end, acc, 1);

	FEED(s, e, ts);
}

/* Feeds a complete burst of nr regions of 4 KiB starting at base. */
static void feed_burst(struct snapshot_store *s, uint32_t pid, uint64_t ts, uint32_t target, uint32_t seq,
		       uint32_t nr, uint64_t base)
{
	for (uint32_t i = 0; i < nr; i++)
		feed_aggr(s, pid, ts + i, target, seq, i, nr, base + i * 4096ULL, base + (i + 1) * 4096ULL, i);
}

/*
 * Feeds a burst of nr 4 KiB regions from base as the BPF side does: batches
 * of up to `batch` regions (the last one shorter), each fed with exactly its
 * length. Batch number `skip` (-1: none) is not fed (lost in the ring).
 */
static void feed_batches(struct snapshot_store *s, uint32_t pid, uint64_t ts, uint32_t target, uint32_t seq,
			 uint32_t nr, uint64_t base, uint32_t batch, int skip)
{
	struct damon_ev_aggregated e;

	for (uint32_t first = 0, k = 0; first < nr; first += batch, k++) {
		uint32_t n = MIN(batch, nr - first);

		e = (struct damon_ev_aggregated){
			.hdr = hdr(DAMON_EV_AGGREGATED, pid, ts + first),
			.target_idx = target,
			.nr_regions = nr,
			.region_idx = first,
			.aggr_seq = seq,
			.count = n,
		};
		for (uint32_t i = 0; i < n; i++)
			e.regions[i] = (struct damon_ev_region){
				.start = base + (first + i) * 4096ULL,
				.end = base + (first + i + 1) * 4096ULL,
				.nr_accesses = first + i,
				.age = k,
			};
		if ((int)k == skip)
			continue;
		assert_int_equal(snapshot_store_feed(s, &e, DAMON_EV_AGGR_HDR_SIZE + n * sizeof(e.regions[0]),
						     ts + first),
				 0);
	}
}

/* ---- decoding ---- */

static void test_decode_ok(void **state)
{
	struct damon_ev_aggregated a = aggr(42, 1000, 1, 5, 2, 3, 0x1000, 0x3000, 9, 4);
	struct damon_ev_scheme_stat st = { .hdr = hdr(DAMON_EV_SCHEME_STAT, 42, 5), .scheme_idx = 2,
					   .nr_tried = 11, .sz_applied = 4096, .nr_snapshots = 3 };
	struct damon_ev_esz esz = { .hdr = hdr(DAMON_EV_ESZ, 42, 6), .scheme_idx = 1, .esz = 1 << 20 };
	struct damon_ev_before_apply ba = apply(42, 7, 3, 0, 0x2000, 0x4000);
	unsigned char buf[sizeof(a) + 1];
	struct damon_event ev;

	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), 0);
	assert_int_equal(ev.hdr.type, DAMON_EV_AGGREGATED);
	assert_int_equal(ev.hdr.pid, 42);
	assert_int_equal(ev.aggr.target_idx, 1);
	assert_int_equal(ev.aggr.aggr_seq, 5);
	assert_int_equal(ev.aggr.region_idx, 2);
	assert_int_equal(ev.aggr.nr_regions, 3);
	assert_int_equal(ev.aggr.count, 1);
	assert_int_equal(ev.aggr.regions[0].start, 0x1000);
	assert_int_equal(ev.aggr.regions[0].end, 0x3000);
	assert_int_equal(ev.aggr.regions[0].nr_accesses, 9);
	assert_int_equal(ev.aggr.regions[0].age, 4);

	/* unaligned source, trailing byte tolerated */
	memcpy(buf + 1, &a, sizeof(a));
	assert_int_equal(damon_event_decode(buf + 1, sizeof(a), &ev), 0);
	assert_int_equal(ev.aggr.regions[0].end, 0x3000);
	/* a record is only as long as its count of regions */
	assert_int_equal(damon_event_decode(&a, DAMON_EV_AGGR_HDR_SIZE + sizeof(struct damon_ev_region), &ev), 0);
	assert_int_equal(damon_event_record_events(&a, sizeof(a), NULL), 1);

	assert_int_equal(damon_event_decode(&st, sizeof(st), &ev), 0);
	assert_int_equal(ev.stat.scheme_idx, 2);
	assert_int_equal(ev.stat.nr_tried, 11);
	assert_int_equal(ev.stat.sz_applied, 4096);
	assert_int_equal(ev.stat.nr_snapshots, 3);

	assert_int_equal(damon_event_decode(&esz, sizeof(esz), &ev), 0);
	assert_int_equal(ev.esz.esz, 1 << 20);

	assert_int_equal(damon_event_decode(&ba, sizeof(ba), &ev), 0);
	assert_int_equal(ev.apply.scheme_idx, 3);
	assert_int_equal(ev.apply.end, 0x4000);

	assert_string_equal(damon_event_type_to_string(DAMON_EV_BEFORE_APPLY), "before_apply");
	assert_null(damon_event_type_to_string(0));
	assert_null(damon_event_type_to_string(DAMON_EV_TYPE_MAX));
}

static void test_decode_errors(void **state)
{
	struct damon_ev_aggregated a = aggr(1, 1, 0, 1, 0, 1, 0, 4096, 0, 0);
	struct damon_ev_esz esz = { .hdr = hdr(DAMON_EV_ESZ, 1, 1) };
	struct damon_event ev;

	assert_int_equal(damon_event_decode(&a, 3, &ev), -EBADMSG);
	assert_int_equal(damon_event_decode(&a, sizeof(struct damon_ev_header), &ev), -EBADMSG);
	assert_int_equal(damon_event_decode(&a, DAMON_EV_AGGR_HDR_SIZE + sizeof(struct damon_ev_region) - 1, &ev),
			 -EBADMSG);
	/* count: 0, above the batch size, or more regions than the record holds */
	a.count = 0;
	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), -EBADMSG);
	a.count = DAMON_EV_AGGR_BATCH + 1;
	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), -EBADMSG);
	a.count = 3;
	assert_int_equal(damon_event_decode(&a, DAMON_EV_AGGR_HDR_SIZE + 2 * sizeof(struct damon_ev_region), &ev),
			 -EBADMSG);
	assert_int_equal(damon_event_decode(&a, DAMON_EV_AGGR_HDR_SIZE + 3 * sizeof(struct damon_ev_region), &ev), 0);
	assert_int_equal(damon_event_record_events(&a, sizeof(a), NULL), 3);
	a.count = 1;
	/* an esz-sized record claiming to be an aggregated one */
	esz.hdr.type = DAMON_EV_AGGREGATED;
	assert_int_equal(damon_event_decode(&esz, sizeof(esz), &ev), -EBADMSG);

	a.hdr.version = DAMON_EV_VERSION + 1;
	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), -EPROTONOSUPPORT);
	a.hdr.version = DAMON_EV_VERSION;
	a.hdr.type = 0;
	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), -EOPNOTSUPP);
	a.hdr.type = DAMON_EV_TYPE_MAX;
	assert_int_equal(damon_event_decode(&a, sizeof(a), &ev), -EOPNOTSUPP);
	assert_int_equal(damon_event_decode(NULL, sizeof(a), &ev), -EINVAL);
}

static void test_feed_counts_bad_records(void **state)
{
	struct fixture *f = *state;
	struct damon_ev_aggregated a = aggr(100, 1, 0, 1, 0, 1, 0, 4096, 0, 0);
	struct snapshot_store_stats st;

	a.hdr.version = 99;
	assert_int_equal(snapshot_store_feed(f->s, &a, sizeof(a), 1), -EPROTONOSUPPORT);
	assert_int_equal(snapshot_store_feed(f->s, &a, 4, 1), -EBADMSG);
	a.hdr.version = DAMON_EV_VERSION;
	/* no pid registered yet */
	assert_int_equal(snapshot_store_feed(f->s, &a, sizeof(a), 1), 0);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.bad_records, 2);
	assert_int_equal(st.unknown_pid, 1);
	assert_int_equal(st.events[DAMON_EV_AGGREGATED], 1);
	assert_null(snapshot_store_get(f->s, 0, 0));
}

/* ---- aggregation snapshots ---- */

static void test_complete_burst(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	const struct snapshot_kdamond *kd;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	assert_int_equal(snapshot_store_kdamond_of_pid(f->s, 100), 0);
	assert_int_equal(snapshot_store_kdamond_of_pid(f->s, 101), -ENOENT);

	feed_aggr(f->s, 100, 10, 0, 1, 0, 3, 0x1000, 0x2000, 5);
	feed_aggr(f->s, 100, 11, 0, 1, 1, 3, 0x2000, 0x5000, 0);
	assert_null(snapshot_store_get(f->s, 0, 0));
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_REGIONS], 0);
	feed_aggr(f->s, 100, 12, 0, 1, 2, 3, 0x8000, 0x9000, 20);

	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_REGIONS], 1);
	assert_int_equal(f->rec.last.kdamond_idx, 0);
	assert_int_equal(f->rec.last.index, 0);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->nr_regions, 3);
	assert_int_equal(snap->pid, 100);
	assert_int_equal(snap->aggr_seq, 1);
	assert_int_equal(snap->ts_ns, 12);
	assert_int_equal(snap->nr_published, 1);
	assert_int_equal(snap->regions[0].start, 0x1000);
	assert_int_equal(snap->regions[0].nr_accesses, 5);
	assert_int_equal(snap->regions[1].end, 0x5000);
	assert_int_equal(snap->regions[2].start, 0x8000);
	assert_int_equal(snap->regions[2].nr_accesses, 20);

	kd = snapshot_store_get_kdamond(f->s, 0);
	assert_non_null(kd);
	assert_int_equal(kd->nr_aggregations, 1);
	assert_int_equal(kd->nr_targets, 1);
	assert_int_equal(kd->last_aggr_seq, 1);

	/* next aggregation replaces it */
	feed_burst(f->s, 100, 1000, 0, 2, 2, 0x10000);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->nr_regions, 2);
	assert_int_equal(snap->aggr_seq, 2);
	assert_int_equal(snap->nr_published, 2);
	assert_int_equal(snap->regions[0].start, 0x10000);
	assert_int_equal(kd->nr_aggregations, 2);
}

static void test_two_targets(void **state)
{
	struct fixture *f = *state;
	const struct snapshot_kdamond *kd;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_burst(f->s, 100, 10, 0, 1, 4, 0x100000);
	feed_burst(f->s, 100, 20, 1, 1, 2, 0x1000);	/* lower addresses: other target */

	assert_int_equal(snapshot_store_get(f->s, 0, 0)->nr_regions, 4);
	assert_int_equal(snapshot_store_get(f->s, 0, 1)->nr_regions, 2);
	assert_int_equal(snapshot_store_get(f->s, 0, 1)->regions[0].start, 0x1000);
	assert_null(snapshot_store_get(f->s, 0, 2));
	kd = snapshot_store_get_kdamond(f->s, 0);
	assert_int_equal(kd->nr_targets, 2);
	assert_int_equal(kd->nr_aggregations, 1);	/* one aggregation, two targets */
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_published, 2);
	assert_int_equal(st.snapshots_incomplete, 0);
}

static void test_partial_burst_then_new(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_burst(f->s, 100, 10, 0, 1, 3, 0x1000);	/* complete */
	/* aggregation 2 stops after 2 of 3 regions, aggregation 3 starts */
	feed_aggr(f->s, 100, 100, 0, 2, 0, 3, 0x1000, 0x2000, 1);
	feed_aggr(f->s, 100, 101, 0, 2, 1, 3, 0x2000, 0x3000, 1);
	feed_aggr(f->s, 100, 200, 0, 3, 0, 3, 0x1000, 0x2000, 7);

	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 1);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 1);	/* still the last complete one */
	assert_int_equal(snap->regions[0].nr_accesses, 0);

	feed_aggr(f->s, 100, 201, 0, 3, 1, 3, 0x2000, 0x3000, 8);
	feed_aggr(f->s, 100, 202, 0, 3, 2, 3, 0x3000, 0x4000, 9);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 3);
	assert_int_equal(snap->regions[0].nr_accesses, 7);
	assert_int_equal(snap->regions[2].nr_accesses, 9);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 1);
	assert_int_equal(st.snapshots_published, 2);
}

static void test_gap_and_reorder(void **state)
{
	struct fixture *f = *state;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);

	/* a dropped region (index 1 missing) */
	feed_aggr(f->s, 100, 10, 0, 1, 0, 3, 0x1000, 0x2000, 1);
	feed_aggr(f->s, 100, 12, 0, 1, 2, 3, 0x3000, 0x4000, 1);
	assert_null(snapshot_store_get(f->s, 0, 0));

	/* out of order: 0, 2, 1 */
	feed_aggr(f->s, 100, 20, 0, 2, 0, 3, 0x1000, 0x2000, 1);
	feed_aggr(f->s, 100, 22, 0, 2, 2, 3, 0x3000, 0x4000, 1);
	feed_aggr(f->s, 100, 21, 0, 2, 1, 3, 0x2000, 0x3000, 1);
	assert_null(snapshot_store_get(f->s, 0, 0));

	/* indices fine, addresses going back */
	feed_aggr(f->s, 100, 30, 0, 3, 0, 2, 0x5000, 0x6000, 1);
	feed_aggr(f->s, 100, 31, 0, 3, 1, 2, 0x1000, 0x2000, 1);
	assert_null(snapshot_store_get(f->s, 0, 0));

	/* missing head: burst seen from region 1 on (attached mid-burst) */
	feed_aggr(f->s, 100, 40, 0, 4, 1, 2, 0x5000, 0x6000, 1);
	assert_null(snapshot_store_get(f->s, 0, 0));

	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 4);	/* each lost burst counted once */
	assert_int_equal(st.snapshots_published, 0);

	feed_burst(f->s, 100, 50, 0, 5, 2, 0x1000);
	assert_non_null(snapshot_store_get(f->s, 0, 0));
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 4);
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_REGIONS], 1);
}

static void test_nr_regions_change(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_burst(f->s, 100, 10, 0, 1, 3, 0x1000);
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->nr_regions, 3);
	feed_burst(f->s, 100, 20, 0, 2, 40, 0x1000);	/* split: more regions */
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->nr_regions, 40);
	assert_int_equal(snap->regions[39].end, 0x1000 + 40 * 4096);
	feed_burst(f->s, 100, 30, 0, 3, 1, 0x1000);	/* merge: fewer */
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->nr_regions, 1);
	assert_int_equal(snap->regions[0].end, 0x2000);

	/* nr_regions changing inside one aggr_seq: that burst is lost */
	feed_aggr(f->s, 100, 40, 0, 4, 0, 3, 0x1000, 0x2000, 1);
	feed_aggr(f->s, 100, 41, 0, 4, 1, 2, 0x2000, 0x3000, 1);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 2);	/* the 3-burst and the broken 2-burst */
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->aggr_seq, 3);
}

static void test_restart_new_pid(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_burst(f->s, 100, 10, 0, 7, 2, 0x1000);
	feed_burst(f->s, 100, 10, 1, 7, 2, 0x1000);
	assert_non_null(snapshot_store_get(f->s, 0, 1));
	/* half a burst in flight when the kdamond restarts */
	feed_aggr(f->s, 100, 20, 0, 8, 0, 2, 0x1000, 0x2000, 1);

	/* same pid again (re-adoption): nothing lost */
	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	assert_non_null(snapshot_store_get(f->s, 0, 1));

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 200), 0);
	assert_null(snapshot_store_get(f->s, 0, 0));
	assert_null(snapshot_store_get(f->s, 0, 1));
	assert_int_equal(snapshot_store_get_kdamond(f->s, 0)->pid, 200);
	assert_int_equal(snapshot_store_get_kdamond(f->s, 0)->nr_aggregations, 0);

	/* stale record of the old pid is ignored */
	feed_aggr(f->s, 100, 21, 0, 8, 1, 2, 0x2000, 0x3000, 1);
	assert_null(snapshot_store_get(f->s, 0, 0));
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.unknown_pid, 1);

	/* the new kdamond numbers from 1 again, with one target */
	feed_burst(f->s, 200, 30, 0, 1, 3, 0x7000);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->pid, 200);
	assert_int_equal(snap->aggr_seq, 1);
	assert_int_equal(snap->nr_regions, 3);
	assert_int_equal(snap->nr_published, 1);
	assert_int_equal(snapshot_store_get_kdamond(f->s, 0)->nr_targets, 1);

	/* stop */
	assert_int_equal(snapshot_store_set_pid(f->s, 0, 0), 0);
	assert_null(snapshot_store_get(f->s, 0, 0));
	assert_null(snapshot_store_get_kdamond(f->s, 0));
	assert_int_equal(snapshot_store_kdamond_of_pid(f->s, 200), -ENOENT);
}

static void test_two_kdamonds_interleaved(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	assert_int_equal(snapshot_store_set_pid(f->s, 3, 300), 0);
	assert_null(snapshot_store_get_kdamond(f->s, 1));

	for (uint32_t i = 0; i < 4; i++) {
		feed_aggr(f->s, 100, 10 + i, 0, 1, i, 4, 0x1000 + i * 0x1000, 0x2000 + i * 0x1000, 1);
		feed_aggr(f->s, 300, 10 + i, 0, 9, i, 4, 0x1000 + i * 0x1000, 0x2000 + i * 0x1000, 2);
	}
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->nr_regions, 4);
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->regions[0].nr_accesses, 1);
	assert_int_equal(snapshot_store_get(f->s, 3, 0)->nr_regions, 4);
	assert_int_equal(snapshot_store_get(f->s, 3, 0)->regions[3].nr_accesses, 2);
	assert_int_equal(snapshot_store_get(f->s, 3, 0)->kdamond_idx, 3);

	/* a pid moving to another index leaves the old one */
	assert_int_equal(snapshot_store_set_pid(f->s, 1, 300), 0);
	assert_int_equal(snapshot_store_kdamond_of_pid(f->s, 300), 1);
	assert_null(snapshot_store_get_kdamond(f->s, 3));
	assert_int_equal(snapshot_store_set_pid(f->s, SNAPSHOT_MAX_KDAMONDS, 5), -EINVAL);
}

/* ---- apply records ---- */

static void test_apply_closed_by_aggregation(void **state)
{
	struct fixture *f = *state;
	const struct damos_apply_record *a0, *a1;
	struct damon_ev_before_apply b;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	/* kdamond order: region -> scheme, so schemes interleave */
	b = apply(100, 10, 0, 0, 0x1000, 0x2000);
	FEED(f->s, b, 10);
	b = apply(100, 11, 1, 0, 0x1000, 0x2000);
	FEED(f->s, b, 11);
	b = apply(100, 12, 0, 0, 0x4000, 0x6000);
	FEED(f->s, b, 12);
	b = apply(100, 13, 0, 1, 0x1000, 0x2000);	/* next target */
	FEED(f->s, b, 13);
	assert_null(snapshot_store_get_apply(f->s, 0, 0));

	feed_aggr(f->s, 100, 14, 0, 1, 0, 1, 0x1000, 0x9000, 0);
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_APPLY], 2);
	a0 = snapshot_store_get_apply(f->s, 0, 0);
	a1 = snapshot_store_get_apply(f->s, 0, 1);
	assert_non_null(a0);
	assert_non_null(a1);
	assert_int_equal(a0->nr_regions, 3);
	assert_int_equal(a0->sz_tried, 0x1000 + 0x2000 + 0x1000);
	assert_int_equal(a0->regions[1].start, 0x4000);
	assert_int_equal(a0->regions[2].target_idx, 1);
	assert_int_equal(a0->regions[0].nr_accesses, 3);
	assert_int_equal(a0->regions[0].age, 7);
	assert_int_equal(a0->first_ts_ns, 10);
	assert_int_equal(a0->last_ts_ns, 13);
	assert_int_equal(a1->nr_regions, 1);
	assert_int_equal(a1->scheme_idx, 1);
	assert_null(snapshot_store_get_apply(f->s, 0, 2));
}

static void test_apply_address_back_and_gap(void **state)
{
	struct fixture *f = *state;
	const struct damos_apply_record *a;
	struct damon_ev_before_apply b;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	b = apply(100, 10, 0, 0, 0x1000, 0x2000);
	FEED(f->s, b, 10);
	b = apply(100, 11, 0, 0, 0x3000, 0x4000);
	FEED(f->s, b, 11);
	/* next interval starts at a lower address: previous one closes */
	b = apply(100, 5 * MS, 0, 0, 0x1000, 0x2000);
	FEED(f->s, b, 5 * MS);
	a = snapshot_store_get_apply(f->s, 0, 0);
	assert_non_null(a);
	assert_int_equal(a->nr_regions, 2);
	assert_int_equal(a->nr_published, 1);

	/* next interval starts higher but 10 ms later: the time gap closes it */
	b = apply(100, 15 * MS, 0, 0, 0x8000, 0x9000);
	FEED(f->s, b, 15 * MS);
	a = snapshot_store_get_apply(f->s, 0, 0);
	assert_int_equal(a->nr_published, 2);
	assert_int_equal(a->nr_regions, 1);
	assert_int_equal(a->regions[0].start, 0x1000);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.apply_split, 1);

	/* flush: not yet idle long enough, then idle */
	snapshot_store_flush(f->s, 15 * MS + MS / 2);
	assert_int_equal(snapshot_store_get_apply(f->s, 0, 0)->nr_published, 2);
	snapshot_store_flush(f->s, 20 * MS);
	a = snapshot_store_get_apply(f->s, 0, 0);
	assert_int_equal(a->nr_published, 3);
	assert_int_equal(a->regions[0].start, 0x8000);
	assert_int_equal(a->recv_ns, 20 * MS);
}

static void test_esz_and_stat(void **state)
{
	struct fixture *f = *state;
	struct damon_ev_esz esz = { .hdr = hdr(DAMON_EV_ESZ, 100, 5), .scheme_idx = 2, .esz = 32 << 20 };
	struct damon_ev_scheme_stat st = { .hdr = hdr(DAMON_EV_SCHEME_STAT, 100, 20), .scheme_idx = 2,
					   .nr_tried = 4, .sz_tried = 8192, .nr_applied = 1,
					   .sz_applied = 4096, .qt_exceeds = 1 };
	const struct damos_scheme_obs *o;
	const struct damos_apply_record *a;
	struct damon_ev_before_apply b;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	assert_null(snapshot_store_get_scheme(f->s, 0, 2));

	FEED(f->s, esz, 5);
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_ESZ], 1);
	o = snapshot_store_get_scheme(f->s, 0, 2);
	assert_non_null(o);
	assert_true(o->has_esz);
	assert_false(o->has_stat);
	assert_int_equal(o->esz, 32 << 20);

	b = apply(100, 10, 2, 0, 0x1000, 0x3000);
	FEED(f->s, b, 10);
	FEED(f->s, st, 20);	/* closes the apply burst exactly */
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_STAT], 1);
	a = snapshot_store_get_apply(f->s, 0, 2);
	assert_non_null(a);
	assert_int_equal(a->nr_regions, 1);
	assert_int_equal(a->sz_tried, 0x2000);
	o = snapshot_store_get_scheme(f->s, 0, 2);
	assert_true(o->has_stat);
	assert_false(o->has_prev_stat);
	assert_int_equal(o->stat.nr_tried, 4);
	assert_int_equal(o->stat.sz_applied, 4096);
	assert_int_equal(o->stat.qt_exceeds, 1);

	/* an interval in which the scheme tried nothing */
	st.hdr.ts_ns = 40;
	st.nr_tried = 4;
	FEED(f->s, st, 40);
	a = snapshot_store_get_apply(f->s, 0, 2);
	assert_int_equal(a->nr_published, 2);
	assert_int_equal(a->nr_regions, 0);
	assert_int_equal(a->sz_tried, 0);
	o = snapshot_store_get_scheme(f->s, 0, 2);
	assert_true(o->has_prev_stat);
	assert_int_equal(o->prev_stat.nr_tried, 4);
	assert_int_equal(o->stat_ts_ns, 40);

	/* esz closes an open burst: quota adjustment starts the next interval */
	b = apply(100, 50, 2, 0, 0x1000, 0x2000);
	FEED(f->s, b, 50);
	esz.hdr.ts_ns = 60;
	esz.esz = 16 << 20;
	FEED(f->s, esz, 60);
	a = snapshot_store_get_apply(f->s, 0, 2);
	assert_int_equal(a->nr_published, 3);
	assert_int_equal(a->nr_regions, 1);
	assert_int_equal(snapshot_store_get_scheme(f->s, 0, 2)->esz, 16 << 20);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct snapshot_store_stats st;
	struct damon_ev_before_apply b;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_aggr(f->s, 100, 1, SNAPSHOT_MAX_TARGETS, 1, 0, 1, 0x1000, 0x2000, 0);
	feed_aggr(f->s, 100, 1, 0, 1, 0, SNAPSHOT_MAX_REGIONS + 1, 0x1000, 0x2000, 0);
	feed_aggr(f->s, 100, 1, 0, 1, 5, 3, 0x1000, 0x2000, 0);	/* idx >= nr */
	b = apply(100, 1, SNAPSHOT_MAX_SCHEMES, 0, 0x1000, 0x2000);
	FEED(f->s, b, 1);
	b = apply(100, 1, 0, 0, 0x2000, 0x1000);	/* empty range */
	FEED(f->s, b, 1);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.ignored, 5);
	assert_null(snapshot_store_get(f->s, 0, 0));
	assert_int_equal(snapshot_store_get_kdamond(f->s, 0)->nr_schemes, 0);
}

/* One batch of a burst: regions first..first+n-1 of nr, nr_accesses = tag. */
static size_t make_batch(struct damon_ev_aggregated *e, uint32_t seq, uint32_t nr, uint32_t first, uint32_t n,
			 uint32_t tag)
{
	*e = (struct damon_ev_aggregated){
		.hdr = hdr(DAMON_EV_AGGREGATED, 100, 1000 + seq),
		.nr_regions = nr,
		.region_idx = first,
		.aggr_seq = seq,
		.count = n,
	};
	for (uint32_t i = 0; i < n; i++)
		e->regions[i] = (struct damon_ev_region){ .start = 0x10000 + (first + i) * 4096ULL,
							  .end = 0x10000 + (first + i + 1) * 4096ULL,
							  .nr_accesses = tag };
	return DAMON_EV_AGGR_HDR_SIZE + n * sizeof(e->regions[0]);
}

/* A drain shown in advance: lookahead over every record, then feed them all, then flush. */
static void drain(struct snapshot_store *s, const struct damon_ev_aggregated *recs, const size_t *lens, size_t n,
		  bool lookahead)
{
	for (size_t i = 0; lookahead && i < n; i++)
		assert_int_equal(snapshot_store_lookahead(s, &recs[i], lens[i]), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(snapshot_store_feed(s, &recs[i], lens[i], 5000), 0);
	snapshot_store_flush(s, 5000);
}

/* Several aggregations in one drain: only the newest complete one is assembled. */
static void test_lookahead_supersedes(void **state)
{
	struct fixture *f = *state;
	static struct damon_ev_aggregated r[8];
	size_t len[8];
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	/* first drain, nothing to look ahead at yet: seq 1 complete, first half of seq 2 */
	len[0] = make_batch(&r[0], 1, 6, 0, 3, 11);
	len[1] = make_batch(&r[1], 1, 6, 3, 3, 11);
	len[2] = make_batch(&r[2], 2, 6, 0, 3, 22);
	drain(f->s, r, len, 3, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->aggr_seq, 1);

	/* second drain: the rest of seq 2, all of seq 3 and 4, the start of seq 5 */
	len[0] = make_batch(&r[0], 2, 6, 3, 3, 22);
	len[1] = make_batch(&r[1], 3, 6, 0, 3, 33);
	len[2] = make_batch(&r[2], 3, 6, 3, 3, 33);
	len[3] = make_batch(&r[3], 4, 6, 0, 6, 44);
	len[4] = make_batch(&r[4], 5, 6, 0, 2, 55);
	drain(f->s, r, len, 5, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 4);
	assert_int_equal(snap->nr_regions, 6);
	assert_int_equal(snap->regions[0].nr_accesses, 44);
	assert_int_equal(snap->regions[5].nr_accesses, 44);
	snapshot_store_get_stats(f->s, &st);
	/* 2 and 3 were superseded: counted once each, neither lost nor published */
	assert_int_equal(st.snapshots_superseded, 2);
	assert_int_equal(st.snapshots_incomplete, 0);
	assert_int_equal(st.snapshots_published, 2);
	assert_int_equal(st.events[DAMON_EV_AGGREGATED], 6 + 3 + 3 + 6 + 6 + 2);
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_REGIONS], 2);

	/* third drain without a newer complete burst: seq 5 completes and is published */
	len[0] = make_batch(&r[0], 5, 6, 2, 4, 55);
	drain(f->s, r, len, 1, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 5);
	assert_int_equal(snap->regions[5].nr_accesses, 55);

	/* the lookahead ended with the flush: without one, every burst is assembled */
	len[0] = make_batch(&r[0], 6, 6, 0, 6, 66);
	len[1] = make_batch(&r[1], 7, 6, 0, 6, 77);
	drain(f->s, r, len, 2, false);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_published, 5);
	assert_int_equal(st.snapshots_superseded, 2);

	/* a newer burst that lost a record (ring full) supersedes nothing */
	len[0] = make_batch(&r[0], 8, 6, 0, 6, 88);
	len[1] = make_batch(&r[1], 9, 6, 0, 2, 99);
	len[2] = make_batch(&r[2], 9, 6, 4, 2, 99);	/* regions 2..3 were dropped */
	drain(f->s, r, len, 3, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 8);
	assert_int_equal(snap->regions[0].nr_accesses, 88);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_superseded, 2);
	assert_int_equal(st.snapshots_incomplete, 1);
	/* every aggregation counted, published or superseded: 1..8 */
	assert_int_equal(snap->nr_aggregations, 8);
	assert_int_equal(snap->nr_published, 6);
}

/* The BPF gate forwards one aggregation in eleven: aggr_seq jumps, nothing is lost, and
 * nr_aggregations counts the aggregations the kdamond ran (DAMON_STAT's interval needs them). */
static void test_gated_seq_gaps(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;
	struct damon_ev_aggregated r[3];
	size_t len[3];

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	len[0] = make_batch(&r[0], 1, 6, 0, 6, 11);
	drain(f->s, r, len, 1, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->nr_aggregations, 1);

	len[0] = make_batch(&r[0], 12, 6, 0, 6, 22);
	drain(f->s, r, len, 1, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 12);
	assert_int_equal(snap->nr_aggregations, 12);
	assert_int_equal(snap->nr_published, 2);

	/* two forwarded ones in one drain: the older is superseded, both counted by their numbers */
	len[0] = make_batch(&r[0], 23, 6, 0, 6, 33);
	len[1] = make_batch(&r[1], 34, 6, 0, 6, 44);
	drain(f->s, r, len, 2, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 34);
	assert_int_equal(snap->regions[0].nr_accesses, 44);
	assert_int_equal(snap->nr_aggregations, 34);
	assert_int_equal(snap->nr_published, 3);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 0);
	assert_int_equal(st.snapshots_superseded, 1);
	assert_int_equal(st.snapshots_published, 3);
	assert_int_equal(snapshot_store_get_kdamond(f->s, 0)->nr_aggregations, 3);

	/* a restart (new pid) numbers from 1 again, and so does the count */
	assert_int_equal(snapshot_store_set_pid(f->s, 0, 200), 0);
	len[0] = make_batch(&r[0], 1, 6, 0, 6, 55);
	r[0].hdr.pid = 200;
	drain(f->s, r, len, 1, true);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->pid, 200);
	assert_int_equal(snap->nr_aggregations, 1);
}

/* Batched records: a burst arrives as 64 + 64 + 22 regions. */
static void test_batched_burst(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_batches(f->s, 100, 1000, 0, 1, 150, 0x10000, 64, -1);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->nr_regions, 150);
	assert_int_equal(f->rec.n[SNAPSHOT_UPDATE_REGIONS], 1);
	/* batch boundaries: the last of the first batch, the first of the second, the very last */
	assert_int_equal(snap->regions[63].start, 0x10000 + 63 * 4096);
	assert_int_equal(snap->regions[63].age, 0);
	assert_int_equal(snap->regions[64].start, 0x10000 + 64 * 4096);
	assert_int_equal(snap->regions[64].nr_accesses, 64);
	assert_int_equal(snap->regions[64].age, 1);
	assert_int_equal(snap->regions[149].end, 0x10000 + 150 * 4096);
	assert_int_equal(snap->regions[149].age, 2);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.records, 3);
	assert_int_equal(st.events[DAMON_EV_AGGREGATED], 150);

	/* the same burst with a different batch size gives the same snapshot */
	feed_batches(f->s, 100, 2000, 0, 2, 150, 0x10000, 7, -1);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->nr_published, 2);
	assert_int_equal(snap->nr_regions, 150);
	assert_int_equal(snap->regions[64].nr_accesses, 64);
}

/* A lost batch, a batch overrunning nr_regions and a bad region inside a batch. */
static void test_batch_loss(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;
	struct snapshot_store_stats st;
	struct damon_ev_aggregated e;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	feed_batches(f->s, 100, 1000, 0, 1, 100, 0x10000, 16, -1);
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->nr_regions, 100);

	/* the second batch of aggregation 2 was dropped: incomplete, 1 stays */
	feed_batches(f->s, 100, 2000, 0, 2, 100, 0x10000, 16, 1);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 1);
	assert_int_equal(snapshot_store_get(f->s, 0, 0)->aggr_seq, 1);

	/* more regions than nr_regions leaves: ignored as a whole */
	e = (struct damon_ev_aggregated){ .hdr = hdr(DAMON_EV_AGGREGATED, 100, 3000), .nr_regions = 4,
					  .region_idx = 2, .aggr_seq = 3, .count = 3 };
	for (uint32_t i = 0; i < 3; i++)
		e.regions[i] = (struct damon_ev_region){ .start = 0x1000 * (i + 1), .end = 0x1000 * (i + 2) };
	FEED(f->s, e, 3000);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.ignored, 1);

	/* addresses going back inside one batch break the burst */
	e = (struct damon_ev_aggregated){ .hdr = hdr(DAMON_EV_AGGREGATED, 100, 4000), .nr_regions = 3,
					  .region_idx = 0, .aggr_seq = 4, .count = 3 };
	e.regions[0] = (struct damon_ev_region){ .start = 0x1000, .end = 0x2000 };
	e.regions[1] = (struct damon_ev_region){ .start = 0x5000, .end = 0x6000 };
	e.regions[2] = (struct damon_ev_region){ .start = 0x3000, .end = 0x4000 };
	FEED(f->s, e, 4000);
	snapshot_store_get_stats(f->s, &st);
	assert_int_equal(st.snapshots_incomplete, 2);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_int_equal(snap->aggr_seq, 1);
	assert_int_equal(snap->nr_regions, 100);
	assert_int_equal(snap->regions[99].end, 0x10000 + 100 * 4096);
}

/* ---- observations (lib/observe.c) ---- */

static void feed_stat(struct snapshot_store *s, uint32_t pid, uint64_t ts, uint32_t scheme, uint64_t tried,
		      uint64_t applied)
{
	struct damon_ev_scheme_stat e = { .hdr = hdr(DAMON_EV_SCHEME_STAT, pid, ts), .scheme_idx = scheme,
					  .nr_tried = tried / 4096, .sz_tried = tried, .nr_applied = applied / 4096,
					  .sz_applied = applied, .qt_exceeds = 2, .sz_ops_filter_passed = 77 };

	FEED(s, e, ts);
}

static void test_observe_bpf(void **state)
{
	struct fixture *f = *state;
	struct scheme_observation o = { .stats_source = OBS_SOURCE_NONE };
	struct damon_ev_esz esz = { .hdr = hdr(DAMON_EV_ESZ, 100, 3000 * MS), .scheme_idx = 1, .esz = 8 << 20 };
	struct damon_ev_before_apply b;
	const uint64_t sec = 1000 * 1000;	/* us */

	/* no monitor, no pid, no stat yet: ask sysfs */
	assert_false(observe_scheme_bpf(NULL, 0, 0, false, 5 * sec, sec, &o));
	assert_false(observe_scheme_bpf(f->s, 0, 0, false, 5 * sec, sec, &o));
	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	assert_false(observe_scheme_bpf(f->s, 0, 0, false, 5 * sec, sec, &o));

	feed_stat(f->s, 100, 4000 * MS, 0, 1 << 20, 1 << 19);	/* at 4 s */
	assert_true(observe_scheme_bpf(f->s, 0, 0, false, 5 * sec, 2 * sec, &o));
	assert_int_equal(o.stats_source, OBS_SOURCE_BPF);
	assert_int_equal(o.stats.sz_tried, 1 << 20);
	assert_int_equal(o.stats.sz_applied, 1 << 19);
	assert_int_equal(o.stats.nr_tried, 256);
	assert_int_equal(o.stats.qt_exceeds, 2);
	assert_true(o.stats.has_sz_ops_filter_passed);
	assert_int_equal(o.stats.sz_ops_filter_passed, 77);
	assert_int_equal(o.stats_at_us, 4 * sec);
	assert_int_equal(o.esz_source, OBS_SOURCE_NONE);
	/* the stat event closed an apply interval in which the scheme tried nothing */
	assert_non_null(snapshot_store_get_apply(f->s, 0, 0));
	assert_int_equal(snapshot_store_get_apply(f->s, 0, 0)->nr_regions, 0);

	/* too old for the caller: sysfs; another scheme: nothing */
	assert_false(observe_scheme_bpf(f->s, 0, 0, false, 7 * sec, 2 * sec, &o));
	assert_false(observe_scheme_bpf(f->s, 0, 1, false, 5 * sec, 2 * sec, &o));

	/* a quota'd scheme needs its effective size too */
	feed_stat(f->s, 100, 4500 * MS, 1, 4096, 0);
	assert_false(observe_scheme_bpf(f->s, 0, 1, true, 5 * sec, 2 * sec, &o));
	FEED(f->s, esz, 3000 * MS);
	b = apply(100, 4600 * MS, 1, 0, 0x1000, 0x3000);
	FEED(f->s, b, 4600 * MS);
	snapshot_store_flush(f->s, 4700 * MS);	/* closes the apply burst */
	assert_true(observe_scheme_bpf(f->s, 0, 1, true, 5 * sec, 2 * sec, &o));
	assert_int_equal(o.esz_source, OBS_SOURCE_BPF);
	assert_int_equal(o.stats.effective_bytes, 8 << 20);
	assert_non_null(snapshot_store_get_apply(f->s, 0, 1));
	assert_int_equal(snapshot_store_get_apply(f->s, 0, 1)->sz_tried, 0x2000);

	/* the kdamond restarted: what the old one reported is gone */
	assert_int_equal(snapshot_store_set_pid(f->s, 0, 101), 0);
	assert_false(observe_scheme_bpf(f->s, 0, 0, false, 5 * sec, 2 * sec, &o));

	/* values read from sysfs */
	{
		struct damos_stats st = { .sz_tried = 5, .effective_bytes = 9 };

		observe_scheme_sysfs(&st, true, 6 * sec, &o);
		assert_int_equal(o.stats_source, OBS_SOURCE_SYSFS);
		assert_int_equal(o.esz_source, OBS_SOURCE_SYSFS);
		assert_int_equal(o.stats.sz_tried, 5);
		assert_int_equal(o.stats_at_us, 6 * sec);
	}
	assert_string_equal(obs_source_to_string(OBS_SOURCE_BPF), "bpf");
	assert_string_equal(obs_source_to_string(OBS_SOURCE_SYSFS), "sysfs");
}

static void test_large_burst(void **state)
{
	struct fixture *f = *state;
	const struct damon_snapshot *snap;

	assert_int_equal(snapshot_store_set_pid(f->s, 0, 100), 0);
	for (uint32_t a = 1; a <= 3; a++)
		feed_batches(f->s, 100, a * 100000, 0, a, 20000, 0x100000000ULL, DAMON_EV_AGGR_BATCH, -1);
	snap = snapshot_store_get(f->s, 0, 0);
	assert_non_null(snap);
	assert_int_equal(snap->nr_regions, 20000);
	assert_int_equal(snap->nr_published, 3);
	for (size_t i = 1; i < snap->nr_regions; i++)
		assert_true(snap->regions[i].start >= snap->regions[i - 1].end);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_ok),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test_setup_teardown(test_feed_counts_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_burst_then_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nr_regions_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_new_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_kdamonds_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_closed_by_aggregation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_address_back_and_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esz_and_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batched_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookahead_supersedes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gated_seq_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observe_bpf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_burst, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
