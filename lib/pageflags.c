/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pageflags.h"

/* PFNs read per pread(): 4 KiB of flags. */
#define PAGEFLAGS_BATCH 512

static int map_scan_phys(struct pageflags_map *m, int fd, enum pageflags_class cls, uint64_t now_us);

bool pageflags_page_ok(uint64_t flags, enum pageflags_class cls)
{
	const uint64_t never = PAGEFLAG_BIT(PAGEFLAG_NOPAGE) | PAGEFLAG_BIT(PAGEFLAG_BUDDY) |
			       PAGEFLAG_BIT(PAGEFLAG_HWPOISON) | PAGEFLAG_BIT(PAGEFLAG_OFFLINE) |
			       PAGEFLAG_BIT(PAGEFLAG_SLAB) | PAGEFLAG_BIT(PAGEFLAG_HUGE) |
			       PAGEFLAG_BIT(PAGEFLAG_RESERVED) | PAGEFLAG_BIT(PAGEFLAG_PGTABLE) |
			       PAGEFLAG_BIT(PAGEFLAG_ZERO_PAGE);

	if (flags & never)
		return false;
	if (!(flags & PAGEFLAG_BIT(PAGEFLAG_LRU)))
		return false;

	switch (cls) {
	case PAGEFLAGS_CLASS_EVICTABLE:
		return !(flags & (PAGEFLAG_BIT(PAGEFLAG_UNEVICTABLE) | PAGEFLAG_BIT(PAGEFLAG_MLOCKED)));
	case PAGEFLAGS_CLASS_LRU:
		return true;
	default:
		return false;
	}
}

bool pageflags_page_young_cache(uint64_t flags)
{
	const uint64_t not_cache = PAGEFLAG_BIT(PAGEFLAG_ANON) | PAGEFLAG_BIT(PAGEFLAG_SWAPBACKED) |
				   PAGEFLAG_BIT(PAGEFLAG_MMAP) | PAGEFLAG_BIT(PAGEFLAG_IDLE);

	return pageflags_page_ok(flags, PAGEFLAGS_CLASS_LRU) && !(flags & not_cache);
}

bool pageflags_page_young_other(uint64_t flags)
{
	return pageflags_page_ok(flags, PAGEFLAGS_CLASS_LRU) && !(flags & PAGEFLAG_BIT(PAGEFLAG_IDLE)) &&
	       !pageflags_page_young_cache(flags);
}

int pageflags_map_init(struct pageflags_map *m, uint64_t start, uint64_t end, uint64_t chunk_sz,
		       uint64_t page_sz)
{
	uint64_t nr;

	if (!m || page_sz == 0 || (page_sz & (page_sz - 1)) || chunk_sz == 0)
		return -EINVAL;
	start &= ~(page_sz - 1);
	if (end > UINT64_MAX - page_sz)
		return -EINVAL;
	end = (end + page_sz - 1) & ~(page_sz - 1);
	if (end <= start)
		return -EINVAL;
	chunk_sz = (chunk_sz + page_sz - 1) / page_sz * page_sz;
	if (chunk_sz / page_sz > UINT32_MAX)
		return -EINVAL;

	nr = (end - start + chunk_sz - 1) / chunk_sz;
	if (nr > SIZE_MAX / sizeof(struct pageflags_chunk))
		return -ENOMEM;

	*m = (struct pageflags_map){
		.start = start,
		.end = end,
		.chunk_sz = chunk_sz,
		.page_sz = page_sz,
		.nr_chunks = (size_t)nr,
	};
	m->chunks = calloc((size_t)nr, sizeof(struct pageflags_chunk));
	if (!m->chunks)
		return -ENOMEM;
	return 0;
}

struct pageflags_vscan {
	struct pageflags_map next; /* the pass being counted: its own layout */
	size_t chunk;              /* the chunk being read */
	uint64_t addr;             /* the next virtual address to read */
	bool have_head, head_ok;
	uint64_t started_us, pages;
	unsigned steps;
};

static void vscan_free(struct pageflags_vscan *vs)
{
	if (!vs)
		return;
	pageflags_map_done(&vs->next);
	free(vs);
}

void pageflags_map_done(struct pageflags_map *m)
{
	if (!m)
		return;
	free(m->chunks);
	free(m->chunk_start);
	free(m->chunk_end);
	vscan_free(m->vs);
	*m = (struct pageflags_map){};
}

int pageflags_map_init_ranges(struct pageflags_map *m, const struct pageflags_range *ranges, size_t nr,
			      uint64_t chunk_sz, uint64_t page_sz)
{
	uint64_t prev_end = 0, n = 0;
	size_t c = 0;

	if (!m || !ranges || page_sz == 0 || (page_sz & (page_sz - 1)) || chunk_sz == 0)
		return -EINVAL;
	chunk_sz = (chunk_sz + page_sz - 1) / page_sz * page_sz;
	if (chunk_sz / page_sz > UINT32_MAX)
		return -EINVAL;
	/* count the chunks; ranges aligned outwards must stay sorted and disjoint */
	for (size_t i = 0; i < nr; i++) {
		uint64_t s = ranges[i].start & ~(page_sz - 1), e;

		if (ranges[i].end > UINT64_MAX - page_sz)
			return -EINVAL;
		e = (ranges[i].end + page_sz - 1) & ~(page_sz - 1);
		if (e <= s)
			continue;
		if (s < prev_end)
			return -EINVAL;
		prev_end = e;
		n += (e - s + chunk_sz - 1) / chunk_sz;
	}
	if (n == 0)
		return -EINVAL;
	if (n > SIZE_MAX / sizeof(struct pageflags_chunk))
		return -ENOMEM;
	*m = (struct pageflags_map){ .chunk_sz = chunk_sz, .page_sz = page_sz, .nr_chunks = (size_t)n };
	m->chunks = calloc((size_t)n, sizeof(*m->chunks));
	m->chunk_start = calloc((size_t)n, sizeof(uint64_t));
	m->chunk_end = calloc((size_t)n, sizeof(uint64_t));
	if (!m->chunks || !m->chunk_start || !m->chunk_end) {
		pageflags_map_done(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		uint64_t s = ranges[i].start & ~(page_sz - 1);
		uint64_t e = (ranges[i].end + page_sz - 1) & ~(page_sz - 1);

		for (; s < e; s += MIN(chunk_sz, e - s), c++) {
			m->chunk_start[c] = s;
			m->chunk_end[c] = s + MIN(chunk_sz, e - s);
		}
	}
	m->start = m->chunk_start[0];
	m->end = m->chunk_end[n - 1];
	return 0;
}

size_t pageflags_map_chunk_of(const struct pageflags_map *m, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!m || addr < m->start || addr >= m->end)
		return SIZE_MAX;
	if (!m->chunk_start)
		return (size_t)((addr - m->start) / m->chunk_sz);
	/* the last chunk starting at or below addr */
	hi = m->nr_chunks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->chunk_start[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return addr < m->chunk_end[lo] ? lo : SIZE_MAX;
}

void pageflags_map_chunk_range(const struct pageflags_map *m, size_t i, uint64_t *ret_start,
			       uint64_t *ret_end)
{
	uint64_t s, e;

	if (m->chunk_start) {
		*ret_start = m->chunk_start[i];
		*ret_end = m->chunk_end[i];
		return;
	}
	s = m->start + (uint64_t)i * m->chunk_sz;
	e = s + m->chunk_sz;

	if (e > m->end)
		e = m->end;
	*ret_start = s;
	*ret_end = e;
}

int pageflags_map_scan(struct pageflags_map *m, int fd, enum pageflags_class cls, uint64_t now_us)
{
	if (m && m->chunk_start)
		return -EINVAL; /* segmented: virtual addresses, pageflags_vmap_step() */
	return map_scan_phys(m, fd, cls, now_us);
}

static int map_scan_phys(struct pageflags_map *m, int fd, enum pageflags_class cls, uint64_t now_us)
{
	uint64_t buf[PAGEFLAGS_BATCH];
	uint64_t pfn, first_pfn, last_pfn, pages_per_chunk;
	uint64_t total = 0, ok = 0, nfree = 0, young = 0, young_other = 0;
	bool head_ok = false, have_head = false, head_young = false, head_young_other = false;
	struct pageflags_chunk *tmp;

	if (!m || !m->chunks || fd < 0 || cls >= _PAGEFLAGS_CLASS_MAX)
		return -EINVAL;

	/* Count into a scratch copy so that a failed read leaves the map as it was. */
	tmp = calloc(m->nr_chunks, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;

	first_pfn = m->start / m->page_sz;
	last_pfn = m->end / m->page_sz; /* exclusive */
	pages_per_chunk = m->chunk_sz / m->page_sz;

	for (pfn = first_pfn; pfn < last_pfn;) {
		uint64_t want = last_pfn - pfn, got, i;
		ssize_t n;

		if (want > PAGEFLAGS_BATCH)
			want = PAGEFLAGS_BATCH;
		if (pfn > (uint64_t)INT64_MAX / sizeof(uint64_t)) {
			free(tmp);
			return -EOVERFLOW;
		}
		n = pread(fd, buf, want * sizeof(uint64_t), (off_t)(pfn * sizeof(uint64_t)));
		if (n < 0) {
			int r = errno > 0 ? -errno : -EIO;

			if (r == -EINTR)
				continue;
			free(tmp);
			return r;
		}
		got = (uint64_t)n / sizeof(uint64_t);
		/* Beyond the end of the file: no page there. */
		for (i = got; i < want; i++)
			buf[i] = PAGEFLAG_BIT(PAGEFLAG_NOPAGE);

		for (i = 0; i < want; i++) {
			uint64_t f = buf[i];
			size_t c = (size_t)((pfn + i - first_pfn) / pages_per_chunk);
			bool page_ok, page_young, page_young_other;

			if ((f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL)) && have_head) {
				page_ok = head_ok;
				page_young = head_young;
				page_young_other = head_young_other;
			} else {
				page_ok = pageflags_page_ok(f, cls);
				page_young = pageflags_page_young_cache(f);
				page_young_other = pageflags_page_young_other(f);
			}
			if (f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_HEAD)) {
				have_head = true;
				head_ok = page_ok;
				head_young = page_young;
				head_young_other = page_young_other;
			} else if (!(f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL))) {
				have_head = false;
			}

			tmp[c].nr_pages++;
			if (page_ok) {
				tmp[c].ok_pages++;
				young += page_young;
				young_other += page_young_other;
			} else if (f & PAGEFLAG_BIT(PAGEFLAG_BUDDY))
				tmp[c].free_pages++;
		}
		pfn += want;
		if (got < want && n >= 0 && got == 0) {
			/* EOF: the rest is absent; account it without more reads. */
			for (; pfn < last_pfn; pfn++)
				tmp[(pfn - first_pfn) / pages_per_chunk].nr_pages++;
		}
	}

	for (size_t c = 0; c < m->nr_chunks; c++) {
		total += tmp[c].nr_pages;
		ok += tmp[c].ok_pages;
		nfree += tmp[c].free_pages;
	}
	memcpy(m->chunks, tmp, m->nr_chunks * sizeof(*tmp));
	free(tmp);
	m->total_bytes = total * m->page_sz;
	m->ok_bytes = ok * m->page_sz;
	m->free_bytes = nfree * m->page_sz;
	m->young_cache_bytes = young * m->page_sz;
	m->young_other_bytes = young_other * m->page_sz;
	m->scanned_us = now_us;
	m->generation++;
	return 0;
}

/* pread the whole of [off, off + len) unless EOF; returns the bytes read or -errno */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - len)
		return -EOVERFLOW;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno > 0 ? -errno : -EIO;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* kpageflags of the present entries of pm[0..n) into fl[], one read per run of consecutive PFNs */
static int read_flags(int kfd, const uint64_t *pm, size_t n, uint64_t *fl)
{
	for (size_t i = 0; i < n;) {
		uint64_t pfn = pm[i] & PAGEMAP_PFN_MASK;
		size_t j = i + 1;
		ssize_t got;

		if (!(pm[i] & PAGEMAP_PRESENT)) {
			i++;
			continue;
		}
		if (pfn == 0)
			return -EPERM; /* PFNs hidden: no CAP_SYS_ADMIN */
		while (j < n && (pm[j] & PAGEMAP_PRESENT) && (pm[j] & PAGEMAP_PFN_MASK) == pfn + (j - i))
			j++;
		got = pread_full(kfd, &fl[i], (j - i) * sizeof(uint64_t), pfn * sizeof(uint64_t));
		if (got < 0)
			return (int)got;
		for (size_t k = i + (size_t)got / sizeof(uint64_t); k < j; k++)
			fl[k] = PAGEFLAG_BIT(PAGEFLAG_NOPAGE);
		i = j;
	}
	return 0;
}

bool pageflags_vmap_in_pass(const struct pageflags_map *m)
{
	return m && m->vs;
}

static void publish(struct pageflags_map *m, struct pageflags_vscan *vs, uint64_t now_us)
{
	struct pageflags_map *n = &vs->next;
	uint64_t total = 0, ok = 0, nfree = 0, gen = m->generation;

	for (size_t c = 0; c < n->nr_chunks; c++) {
		total += n->chunks[c].nr_pages;
		ok += n->chunks[c].ok_pages;
		nfree += n->chunks[c].free_pages;
	}
	m->vs = NULL;
	free(m->chunks);
	free(m->chunk_start);
	free(m->chunk_end);
	*m = *n;
	*n = (struct pageflags_map){};
	m->total_bytes = total * m->page_sz;
	m->ok_bytes = ok * m->page_sz;
	m->free_bytes = nfree * m->page_sz;
	m->scanned_us = now_us;
	m->generation = gen + 1;
	m->pass_pages = vs->pages;
	m->pass_us = now_us - vs->started_us;
	m->pass_steps = vs->steps;
	vscan_free(vs);
}

int pageflags_vmap_step(struct pageflags_map *m, const struct pageflags_range *ranges, size_t nr, uint64_t chunk_sz,
			uint64_t page_sz, int pagemap_fd, int kpageflags_fd, enum pageflags_class cls,
			uint64_t max_pages, uint64_t now_us)
{
	uint64_t pm[PAGEFLAGS_BATCH], fl[PAGEFLAGS_BATCH], budget = max_pages ?: UINT64_MAX;
	struct pageflags_vscan *vs;
	int r;

	if (!m || pagemap_fd < 0 || kpageflags_fd < 0 || cls >= _PAGEFLAGS_CLASS_MAX)
		return -EINVAL;
	vs = m->vs;
	if (!vs) {
		vs = calloc(1, sizeof(*vs));
		if (!vs)
			return -ENOMEM;
		r = pageflags_map_init_ranges(&vs->next, ranges, nr, chunk_sz, page_sz);
		if (r < 0) {
			free(vs);
			m->last_error = r;
			return r;
		}
		vs->addr = vs->next.chunk_start[0];
		vs->started_us = now_us;
		m->vs = vs;
	}
	vs->steps++;

	while (vs->chunk < vs->next.nr_chunks && budget > 0) {
		struct pageflags_map *n = &vs->next;
		struct pageflags_chunk *ch = &n->chunks[vs->chunk];
		uint64_t ce = n->chunk_end[vs->chunk], want = (ce - vs->addr) / n->page_sz;
		ssize_t got;

		if (want > PAGEFLAGS_BATCH)
			want = PAGEFLAGS_BATCH;
		if (want > budget)
			want = budget;
		got = pread_full(pagemap_fd, pm, want * sizeof(uint64_t), vs->addr / n->page_sz * sizeof(uint64_t));
		if (got < 0) {
			r = (int)got;
			goto fail;
		}
		/* beyond the end of the address space: nothing mapped */
		for (size_t i = (size_t)got / sizeof(uint64_t); i < want; i++)
			pm[i] = 0;
		r = read_flags(kpageflags_fd, pm, want, fl);
		if (r < 0)
			goto fail;
		for (size_t i = 0; i < want; i++) {
			bool page_ok;

			ch->nr_pages++;
			if (!(pm[i] & PAGEMAP_PRESENT)) {
				/* none or swapped: a madvise action succeeds over it */
				vs->have_head = false;
				ch->ok_pages++;
				continue;
			}
			if ((fl[i] & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL)) && vs->have_head)
				page_ok = vs->head_ok;
			else
				page_ok = pageflags_page_ok(fl[i], cls);
			if (fl[i] & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_HEAD)) {
				vs->have_head = true;
				vs->head_ok = page_ok;
			} else if (!(fl[i] & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL))) {
				vs->have_head = false;
			}
			if (page_ok)
				ch->ok_pages++;
			else if (fl[i] & PAGEFLAG_BIT(PAGEFLAG_BUDDY))
				ch->free_pages++;
		}
		vs->pages += want;
		budget -= want;
		vs->addr += want * n->page_sz;
		if (vs->addr >= ce) {
			vs->chunk++;
			if (vs->chunk < n->nr_chunks) {
				/* a new range: no head carried over a gap */
				if (n->chunk_start[vs->chunk] != ce)
					vs->have_head = false;
				vs->addr = n->chunk_start[vs->chunk];
			}
		}
	}
	if (vs->chunk < vs->next.nr_chunks)
		return 0;
	publish(m, vs, now_us);
	m->last_error = 0;
	return 1;
fail:
	m->vs = NULL;
	vscan_free(vs);
	m->last_error = r;
	return r;
}
