/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "replay.h"

struct replay_frame {
	unsigned kdamond;
	size_t len;
	uint64_t ts_ns; /* as recorded */
	unsigned char *rec;
};

struct replay {
	struct replay_frame *v;
	size_t n;
	size_t next; /* first frame not fed yet */
	uint64_t first_ts_ns;
	int64_t shift_ns; /* added to recorded timestamps */
	bool started;
	uint64_t skipped;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int read_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	_cleanup_free_ unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	for (;;) {
		size_t k;

		if (len == cap) {
			unsigned char *nb = realloc(buf, cap ? cap * 2 : 65536);

			if (!nb) {
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		k = fread(buf + len, 1, cap - len, f);
		len += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int parse_frames(struct replay *r, const unsigned char *buf, size_t len)
{
	size_t off = 16;

	while (off < len) {
		struct replay_frame *fr;
		struct damon_event ev;
		uint32_t rlen;
		int k;

		if (len - off < 8)
			return -EBADMSG;
		rlen = le32(buf + off);
		if (rlen == 0 || rlen > len - off - 8)
			return -EBADMSG;
		k = damon_event_decode(buf + off + 8, rlen, &ev);
		if (k < 0)
			return k == -EPROTONOSUPPORT ? k : -EBADMSG;
		if (r->n % 64 == 0) {
			struct replay_frame *nv = reallocarray(r->v, r->n + 64, sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			r->v = nv;
		}
		fr = &r->v[r->n];
		*fr = (struct replay_frame){ .kdamond = le32(buf + off + 4), .len = rlen, .ts_ns = ev.hdr.ts_ns };
		fr->rec = malloc(rlen);
		if (!fr->rec)
			return -ENOMEM;
		memcpy(fr->rec, buf + off + 8, rlen);
		r->n++;
		off += 8 + ((rlen + 7) & ~(size_t)7);
	}
	return 0;
}

int replay_load(const char *path, struct replay **ret)
{
	_cleanup_free_ unsigned char *buf = NULL;
	struct replay *r;
	size_t len = 0;
	int k;

	k = read_file(path, &buf, &len);
	if (k < 0)
		return k;
	if (len < 16 || memcmp(buf, REPLAY_MAGIC, 8) != 0)
		return -EBADMSG;
	if (le32(buf + 8) != REPLAY_FORMAT || le32(buf + 12) != DAMON_EV_VERSION)
		return -EPROTONOSUPPORT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	k = parse_frames(r, buf, len);
	if (k < 0) {
		replay_free(r);
		return k;
	}
	r->first_ts_ns = r->n ? r->v[0].ts_ns : 0;
	*ret = r;
	return 0;
}

struct replay *replay_free(struct replay *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].rec);
	free(r->v);
	free(r);
	return NULL;
}

size_t replay_nr_records(const struct replay *r)
{
	return r->n;
}

uint64_t replay_span_ns(const struct replay *r)
{
	return r->n ? r->v[r->n - 1].ts_ns - r->first_ts_ns : 0;
}

void replay_start(struct replay *r, uint64_t now_ns)
{
	r->shift_ns = (int64_t)(now_ns - r->first_ts_ns);
	r->next = 0;
	r->skipped = 0;
	r->started = true;
}

long replay_feed(struct replay *r, struct snapshot_store *s, uint64_t now_ns)
{
	long fed = 0;

	if (!r->started)
		return 0;
	for (; r->next < r->n; r->next++) {
		struct replay_frame *fr = &r->v[r->next];
		const struct snapshot_kdamond *k;
		struct damon_ev_header h;
		uint64_t at = fr->ts_ns + (uint64_t)r->shift_ns;
		int e;

		if (at > now_ns)
			break;
		k = snapshot_store_get_kdamond(s, fr->kdamond);
		if (!k || k->pid <= 0) {
			r->skipped++;
			continue;
		}
		memcpy(&h, fr->rec, sizeof(h));
		h.pid = (uint32_t)k->pid;
		h.ts_ns = at;
		memcpy(fr->rec, &h, sizeof(h));
		e = snapshot_store_feed(s, fr->rec, fr->len, now_ns);
		/* the record keeps its recorded time: a second replay_start() shifts from it again */
		h.ts_ns = fr->ts_ns;
		memcpy(fr->rec, &h, sizeof(h));
		if (e < 0)
			return e;
		fed++;
	}
	snapshot_store_flush(s, now_ns);
	return fed;
}

bool replay_done(const struct replay *r)
{
	return r->started && r->next >= r->n;
}

uint64_t replay_skipped(const struct replay *r)
{
	return r->skipped;
}

struct replay_writer {
	FILE *f;
	uint64_t max_bytes, bytes, frames;
	int error;
};

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int replay_writer_open(const char *path, uint64_t max_bytes, struct replay_writer **ret)
{
	unsigned char hdr[16];
	struct replay_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->f = fopen(path, "we");
	if (!w->f) {
		int r = -errno;

		free(w);
		return r;
	}
	memcpy(hdr, REPLAY_MAGIC, 8);
	put_le32(hdr + 8, REPLAY_FORMAT);
	put_le32(hdr + 12, DAMON_EV_VERSION);
	if (fwrite(hdr, sizeof(hdr), 1, w->f) != 1) {
		int r = -errno ?: -EIO;

		fclose(w->f);
		free(w);
		return r;
	}
	w->max_bytes = max_bytes;
	*ret = w;
	return 0;
}

int replay_writer_add(struct replay_writer *w, unsigned kdamond, const void *rec, size_t len)
{
	static const unsigned char zeros[8];
	unsigned char fr[8];
	size_t pad = ((len + 7) & ~(size_t)7) - len;

	if (w->error)
		return w->error;
	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	if (w->max_bytes && w->bytes + 8 + len + pad > w->max_bytes)
		return -EFBIG;
	put_le32(fr, (uint32_t)len);
	put_le32(fr + 4, kdamond);
	if (fwrite(fr, sizeof(fr), 1, w->f) != 1 || fwrite(rec, len, 1, w->f) != 1 ||
	    (pad && fwrite(zeros, pad, 1, w->f) != 1)) {
		w->error = -errno ?: -EIO;
		return w->error;
	}
	w->bytes += 8 + len + pad;
	w->frames++;
	return 0;
}

uint64_t replay_writer_frames(const struct replay_writer *w)
{
	return w ? w->frames : 0;
}

uint64_t replay_writer_bytes(const struct replay_writer *w)
{
	return w ? w->bytes : 0;
}

int replay_writer_close(struct replay_writer *w)
{
	int r;

	if (!w)
		return 0;
	r = w->error;
	if (fclose(w->f) != 0 && r == 0)
		r = -errno;
	free(w);
	return r;
}
