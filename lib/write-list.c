/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "write-list.h"

size_t sysfs_write_nr_files(const struct sysfs_write *w)
{
	return w->flags & SYSFS_W_REGIONS ? 2 * w->nr_regions : 1;
}

const struct sysfs_file *sysfs_write_file(const struct sysfs_write *w, size_t j, struct sysfs_file *buf)
{
	const struct damon_addr_range *a;

	if (!(w->flags & SYSFS_W_REGIONS)) {
		buf->path = w->path;
		buf->value = w->value;
		return buf;
	}
	a = &w->regions[j / 2];
	/* exactly what one put_u64() per file rendered before region blocks existed */
	snprintf(buf->pbuf, sizeof(buf->pbuf), "%s/%zu/%s", w->path, j / 2, j % 2 ? "end" : "start");
	snprintf(buf->vbuf, sizeof(buf->vbuf), "%" PRIu64, j % 2 ? a->end : a->start);
	buf->path = buf->pbuf;
	buf->value = buf->vbuf;
	return buf;
}

bool sysfs_write_is_region(const struct sysfs_write *w)
{
	return w->flags & (SYSFS_W_REGIONS | SYSFS_W_TARGET_NR);
}

bool sysfs_write_equal(const struct sysfs_write *a, const struct sysfs_write *b)
{
	if (!streq(a->path, b->path) || !streq(a->value, b->value))
		return false;
	if ((a->flags & SYSFS_W_REGIONS) != (b->flags & SYSFS_W_REGIONS))
		return false;
	/* the summary hashes the regions; compare them too rather than trust 64 bits */
	return !(a->flags & SYSFS_W_REGIONS) ||
	       (a->nr_regions == b->nr_regions &&
		(!a->nr_regions || memcmp(a->regions, b->regions, a->nr_regions * sizeof(*a->regions)) == 0));
}

size_t sysfs_write_first_diff_file(const struct sysfs_write *a, const struct sysfs_write *b)
{
	size_t n;

	if (sysfs_write_equal(a, b))
		return SIZE_MAX;
	if (!(a->flags & b->flags & SYSFS_W_REGIONS) || !streq(a->path, b->path))
		return 0;
	n = MIN(a->nr_regions, b->nr_regions);
	for (size_t i = 0; i < n; i++) {
		if (a->regions[i].start != b->regions[i].start)
			return 2 * i;
		if (a->regions[i].end != b->regions[i].end)
			return 2 * i + 1;
	}
	return 2 * n;
}

int sysfs_write_set_region_block(struct sysfs_write *w, const struct damon_addr_range *v, size_t nr)
{
	struct damon_addr_range *copy = NULL;
	char *value = NULL;

	if (asprintf(&value, "%zu regions fnv64:%016" PRIx64, nr, fnv1a64(FNV1A64_INIT, v, nr * sizeof(*v))) < 0)
		return -ENOMEM;
	copy = malloc(nr ? nr * sizeof(*v) : 1);
	if (!copy) {
		free(value);
		return -ENOMEM;
	}
	if (nr)
		memcpy(copy, v, nr * sizeof(*v));
	free(w->value);
	if (!w->regions_borrowed)
		free(w->regions);
	w->value = value;
	w->regions = copy;
	w->nr_regions = nr;
	w->regions_borrowed = false;
	w->flags = SYSFS_W_REGIONS;
	return 0;
}

static void write_done(struct sysfs_write *w)
{
	free(w->path);
	free(w->value);
	if (!w->regions_borrowed)
		free(w->regions);
}

void write_list_done(struct write_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		write_done(&l->v[i]);
	free(l->v);
	*l = (struct write_list){};
}

/* all: every write; else those with any of flags */
static int select_writes(const struct write_list *src, bool all, unsigned flags, struct write_list *ret)
{
	struct write_list l = {};

	l.v = calloc(src->n ? src->n : 1, sizeof(*l.v));
	if (!l.v)
		return -ENOMEM;
	l.cap = src->n ? src->n : 1;
	for (size_t i = 0; i < src->n; i++) {
		const struct sysfs_write *s = &src->v[i];
		struct sysfs_write *w;

		if (!all && !(s->flags & flags))
			continue;
		w = &l.v[l.n++];

		w->flags = s->flags;
		w->path = strdup(s->path);
		w->value = strdup(s->value);
		if (s->flags & SYSFS_W_REGIONS) {
			w->regions = malloc(s->nr_regions ? s->nr_regions * sizeof(*s->regions) : 1);
			if (w->regions && s->nr_regions)
				memcpy(w->regions, s->regions, s->nr_regions * sizeof(*s->regions));
			w->nr_regions = s->nr_regions;
		}
		if (!w->path || !w->value || ((s->flags & SYSFS_W_REGIONS) && !w->regions)) {
			write_list_done(&l);
			return -ENOMEM;
		}
	}
	*ret = l;
	return 0;
}

int write_list_feed_diff(const struct write_list *old, const struct write_list *new, struct write_list *ret)
{
	struct write_list l = {};
	size_t n = 0;

	*ret = (struct write_list){};
	if (old->n != new->n)
		return 0;
	for (size_t i = 0; i < new->n; i++) {
		if (sysfs_write_equal(&old->v[i], &new->v[i]))
			continue;
		if (!(new->v[i].flags & old->v[i].flags &SYSFS_W_FEED) || !streq(old->v[i].path, new->v[i].path))
			return 0;
		n++;
	}
	if (!n)
		return 0;
	l.v = calloc(n, sizeof(*l.v));
	if (!l.v)
		return -ENOMEM;
	l.cap = n;
	for (size_t i = 0; i < new->n; i++) {
		struct sysfs_write *w;

		if (sysfs_write_equal(&old->v[i], &new->v[i]))
			continue;
		w = &l.v[l.n++];
		w->flags = new->v[i].flags;
		w->path = strdup(new->v[i].path);
		w->value = strdup(new->v[i].value);
		if (!w->path || !w->value) {
			write_list_done(&l);
			return -ENOMEM;
		}
	}
	*ret = l;
	return 1;
}

int write_list_select(const struct write_list *src, unsigned flags, struct write_list *ret)
{
	return select_writes(src, false, flags, ret);
}

int write_list_copy(const struct write_list *src, struct write_list *ret)
{
	return select_writes(src, true, 0, ret);
}

size_t write_list_first_diff(const struct write_list *a, const struct write_list *b)
{
	size_t n = MIN(a->n, b->n);

	for (size_t i = 0; i < n; i++)
		if (!sysfs_write_equal(&a->v[i], &b->v[i]))
			return i;
	return a->n == b->n ? SIZE_MAX : n;
}

bool write_list_equal(const struct write_list *a, const struct write_list *b)
{
	return write_list_first_diff(a, b) == SIZE_MAX;
}

bool write_list_first_change(const struct write_list *old, const struct write_list *new, struct sysfs_file *ret)
{
	size_t d = write_list_first_diff(old, new), j = 0;

	if (d >= new->n)
		return false;
	/* name the file, also inside a region block */
	if (d < old->n)
		j = sysfs_write_first_diff_file(&new->v[d], &old->v[d]);
	if (j >= sysfs_write_nr_files(&new->v[d]))
		j = 0;
	sysfs_write_file(&new->v[d], j, ret);
	return true;
}

uint64_t write_list_hash64(const struct write_list *l)
{
	uint64_t h = FNV1A64_INIT;

	for (size_t i = 0; i < l->n; i++) {
		size_t nf = sysfs_write_nr_files(&l->v[i]);

		for (size_t j = 0; j < nf; j++) {
			struct sysfs_file fb;
			const struct sysfs_file *f = sysfs_write_file(&l->v[i], j, &fb);

			h = fnv1a64(h, f->path, strlen(f->path));
			h = fnv1a64(h, "=", 1);
			h = fnv1a64(h, f->value, strlen(f->value));
			h = fnv1a64(h, "\n", 1);
		}
	}
	return h;
}

char *write_list_hash_hex(const struct write_list *l)
{
	char *ret;

	if (asprintf(&ret, "%016" PRIx64, write_list_hash64(l)) < 0)
		return NULL;
	return ret;
}

bool write_list_regions_changed(const struct write_list *old, const struct write_list *new)
{
	size_t a = 0, b = 0;

	for (;;) {
		while (a < old->n && !sysfs_write_is_region(&old->v[a]))
			a++;
		while (b < new->n && !sysfs_write_is_region(&new->v[b]))
			b++;
		if (a >= old->n || b >= new->n)
			return (a < old->n) != (b < new->n);
		if (!sysfs_write_equal(&old->v[a], &new->v[b]))
			return true;
		a++;
		b++;
	}
}

int write_list_restart_reason(const struct write_list *old, const struct write_list *new, char **ret_reason)
{
	*ret_reason = NULL;
	for (size_t w = 0; w < new->n; w++) {
		if (!(new->v[w].flags &SYSFS_W_RESTART))
			continue;
		for (size_t o = 0; o < old->n; o++)
			if (streq(old->v[o].path, new->v[w].path) && !streq(old->v[o].value, new->v[w].value)) {
				const char *path = new->v[w].path;

				if (asprintf(ret_reason, "'%s' changes from '%s' to '%s'", path, old->v[o].value,
					     new->v[w].value) < 0) {
					*ret_reason = NULL;
					return -ENOMEM;
				}
				return 0;
			}
	}
	return 0;
}

int write_list_carry_values(struct write_list *l, unsigned flag, write_list_reader_t read, void *userdata)
{
	int n = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct sysfs_write *w = &l->v[i];
		char *v = NULL;
		int r;

		if (!(w->flags & flag) || (w->flags & SYSFS_W_REGIONS))
			continue;
		r = read(w->path, &v, userdata);
		if (r == -ENOMEM)
			return r;
		if (r < 0 || !v) {
			free(v);
			continue;
		}
		free(w->value);
		w->value = v;
		n++;
	}
	return n;
}

size_t write_list_find_target_regions(const struct write_list *l, size_t t)
{
	for (size_t i = 0, seen = 0; i < l->n; i++)
		if (l->v[i].flags & SYSFS_W_TARGET_NR) {
			if (seen == t)
				return i;
			seen++;
		}
	return SIZE_MAX;
}

int write_list_set_target_regions(struct write_list *l, size_t t, const struct damon_addr_range *v, size_t nr)
{
	size_t i = write_list_find_target_regions(l, t);
	struct sysfs_write *nrw, *blk;
	bool has_block;
	char b[32], *nv;
	int r;

	if (i == SIZE_MAX)
		return -ENOENT;
	nrw = &l->v[i];
	has_block = i + 1 < l->n && (l->v[i + 1].flags & SYSFS_W_REGIONS);
	snprintf(b, sizeof(b), "%zu", nr);
	nv = strdup(b);
	if (!nv)
		return -ENOMEM;

	if (!nr) {
		free(nrw->value);
		nrw->value = nv;
		if (has_block) {
			write_done(&l->v[i + 1]);
			memmove(&l->v[i + 1], &l->v[i + 2], (l->n - i - 2) * sizeof(*l->v));
			l->n--;
		}
		return 0;
	}
	if (!has_block) {
		/* the block's path is the directory of the nr_regions file: ".../regions" */
		const char *slash = strrchr(nrw->path, '/');
		struct sysfs_write nw = {};

		if (!slash) {
			free(nv);
			return -EINVAL;
		}
		nw.path = strndup(nrw->path, (size_t)(slash - nrw->path));
		if (!nw.path || !APPEND(l->v, l->n, l->cap)) {
			free(nw.path);
			free(nv);
			return -ENOMEM;
		}
		/* APPEND grew l->n by one at the end: shift the tail to make room after i */
		memmove(&l->v[i + 2], &l->v[i + 1], (l->n - i - 2) * sizeof(*l->v));
		l->v[i + 1] = nw;
		nrw = &l->v[i];
	}
	blk = &l->v[i + 1];
	r = sysfs_write_set_region_block(blk, v, nr);
	if (r < 0) {
		free(nv);
		return r;
	}
	free(nrw->value);
	nrw->value = nv;
	return 0;
}

int write_list_borrow_target_regions(struct write_list *l, size_t t, const struct damon_addr_range *v, size_t nr)
{
	size_t i = write_list_find_target_regions(l, t);
	struct sysfs_write *w;

	if (i == SIZE_MAX || i + 1 >= l->n || !v || !nr)
		return 0;
	w = &l->v[i + 1];
	if (!(w->flags & SYSFS_W_REGIONS) || w->nr_regions != nr || w->regions == v ||
	    memcmp(w->regions, v, nr * sizeof(*v)) != 0)
		return 0;
	if (!w->regions_borrowed)
		free(w->regions);
	/* never written through: the block is read only (set_region_block replaces it with a copy) */
	w->regions = (struct damon_addr_range *)v;
	w->regions_borrowed = true;
	return 1;
}

bool write_list_borrows(const struct write_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].regions_borrowed)
			return true;
	return false;
}

int write_list_unshare(struct write_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct sysfs_write *w = &l->v[i];
		struct damon_addr_range *c;

		if (!w->regions_borrowed)
			continue;
		c = malloc(w->nr_regions ? w->nr_regions * sizeof(*c) : 1);
		if (!c)
			return -ENOMEM;
		if (w->nr_regions)
			memcpy(c, w->regions, w->nr_regions * sizeof(*c));
		w->regions = c;
		w->regions_borrowed = false;
	}
	return 0;
}
