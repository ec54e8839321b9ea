/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the BPF event decoder and snapshot assembly
 * (lib/snapshot.c), driven the way daemon/events.c drives it.
 *
 * Input: a sequence of chunks  [ctl u8][len u16 LE][len bytes of record].
 *   ctl & 0x01  force hdr.version = DAMON_EV_VERSION (else the fuzzer's)
 *   ctl & 0x02  force hdr.pid to one of the 3 known kdamond pids or an unknown one
 *   ctl & 0x04  the record ends a drain: lookahead over the drain's records,
 *               feed them, flush (as events.c does per ring-buffer wakeup)
 *   ctl & 0x08  before the drain: kdamond (ctl >> 4) % 3 restarts (new pid)
 *   ctl >> 4    clock advance in 0.25 ms steps
 * Every publication is read back through the getters and checked against the
 * documented invariants (address order, sizes).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NR_KD 3
#define MAX_DRAIN 64

struct fuzz_state {
	struct snapshot_store *store;
	int pids[NR_KD];
};

static void on_update(void *userdata, const struct snapshot_update *u)
{
	struct fuzz_state *st = userdata;
	const struct damon_snapshot *snap;
	const struct damos_apply_record *ap;
	const struct damos_scheme_obs *obs;
	uint64_t sz = 0;

	switch (u->type) {
	case SNAPSHOT_UPDATE_REGIONS:
		snap = snapshot_store_get(st->store, u->kdamond_idx, u->index);
		if (!snap || snap->kdamond_idx != u->kdamond_idx || snap->target_idx != u->index)
			abort();
		if (snap->nr_regions > SNAPSHOT_MAX_REGIONS || (snap->nr_regions && !snap->regions))
			abort();
		for (size_t i = 0; i < snap->nr_regions; i++) {
			if (snap->regions[i].start >= snap->regions[i].end)
				abort();
			if (i > 0 && snap->regions[i].start < snap->regions[i - 1].end)
				abort();
		}
		break;
	case SNAPSHOT_UPDATE_APPLY:
		ap = snapshot_store_get_apply(st->store, u->kdamond_idx, u->index);
		if (!ap || ap->scheme_idx != u->index || (ap->nr_regions && !ap->regions))
			abort();
		for (size_t i = 0; i < ap->nr_regions; i++) {
			const struct damos_apply_region *r = &ap->regions[i];

			if (r->start >= r->end)
				abort();
			if (i > 0 && (r->target_idx < r[-1].target_idx ||
				      (r->target_idx == r[-1].target_idx && r->start < r[-1].end)))
				abort();
			sz += r->end - r->start;
		}
		if (sz != ap->sz_tried)
			abort();
		break;
	case SNAPSHOT_UPDATE_ESZ:
	case SNAPSHOT_UPDATE_STAT:
		obs = snapshot_store_get_scheme(st->store, u->kdamond_idx, u->index);
		if (!obs)
			abort();
		if (u->type == SNAPSHOT_UPDATE_ESZ && !obs->has_esz)
			abort();
		if (u->type == SNAPSHOT_UPDATE_STAT && !obs->has_stat)
			abort();
		break;
	default:
		abort();
	}
	if (!snapshot_store_get_kdamond(st->store, u->kdamond_idx))
		abort();
}

struct rec {
	const uint8_t *p;
	size_t len;
	uint8_t ctl;
};

/* Aligned copy with the control byte's overrides applied. */
static size_t prepare(const struct fuzz_state *st, const struct rec *r, void *buf, size_t cap)
{
	size_t n = r->len < cap ? r->len : cap;
	struct damon_ev_header h;

	memcpy(buf, r->p, n);
	if (n >= sizeof(h)) {
		memcpy(&h, buf, sizeof(h));
		if (r->ctl & 0x01)
			h.version = DAMON_EV_VERSION;
		if (r->ctl & 0x02)
			h.pid = (h.pid & 3) < NR_KD ? (uint32_t)st->pids[h.pid & 3] : 99999;
		memcpy(buf, &h, sizeof(h));
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Alignas(8) uint8_t buf[sizeof(struct damon_ev_aggregated) + 64];
	struct fuzz_state st = { .pids = { 1000, 2000, 3000 } };
	struct snapshot_store_params p = { .on_update = on_update, .userdata = &st };
	struct rec drain[MAX_DRAIN];
	struct snapshot_store_stats stats;
	size_t nd = 0, off = 0;
	uint64_t now = 1000000000ULL;
	unsigned restarts = 0;

	if (size < 1)
		return 0;
	p.apply_gap_ns = (uint64_t)(data[0] & 15) * 250000ULL;	/* 0 = default */
	if (snapshot_store_new(&p, &st.store) < 0)
		return 0;
	for (unsigned k = 0; k < NR_KD; k++)
		if (snapshot_store_set_pid(st.store, k, st.pids[k]) < 0)
			abort();
	off = 1;

	while (off < size) {
		struct rec r = { .ctl = data[off] };
		size_t len;
		unsigned type;

		if (size - off < 3)
			break;
		len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		off += 3;
		if (len > size - off)
			len = size - off;
		r.p = data + off;
		r.len = len;
		off += len;

		if ((r.ctl & 0x08) && nd == 0) {
			unsigned k = (r.ctl >> 4) % NR_KD;

			/* a restart: new pid (a stop, pid 0, every fourth time) */
			st.pids[k] = ++restarts % 4 == 0 ? 0 : st.pids[k] + 1;
			if (snapshot_store_set_pid(st.store, k, st.pids[k]) < 0)
				abort();
			if (st.pids[k] > 0 && snapshot_store_kdamond_of_pid(st.store, st.pids[k]) != (int)k)
				abort();
		}
		drain[nd++] = r;
		if (!(r.ctl & 0x04) && nd < MAX_DRAIN && off < size)
			continue;

		/* one drain: lookahead over all, then feed all, then flush */
		for (size_t i = 0; i < nd; i++) {
			size_t n = prepare(&st, &drain[i], buf, sizeof(buf));

			(void)damon_event_record_events(buf, n, &type);
			(void)snapshot_store_lookahead(st.store, buf, n);
		}
		for (size_t i = 0; i < nd; i++) {
			size_t n = prepare(&st, &drain[i], buf, sizeof(buf));
			struct damon_event ev;
			int a = damon_event_decode(buf, n, &ev), b;

			now += (uint64_t)(drain[i].ctl >> 4) * 250000ULL;
			b = snapshot_store_feed(st.store, buf, n, now);
			if (a < 0 && b != a)
				abort();	/* feed must reject what decode rejects */
			if (a == 0 && b < 0 && b != -ENOMEM)
				abort();
			if (a == 0 && !damon_event_type_to_string(ev.hdr.type))
				abort();
		}
		snapshot_store_flush(st.store, now);
		nd = 0;
	}

	snapshot_store_get_stats(st.store, &stats);
	if (stats.bad_records > stats.records)
		abort();
	snapshot_store_free(st.store);
	return 0;
}
