/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pageflags.h"

/* PFNs read per pread(): 4 KiB of flags. */
#define PAGEFLAGS_BATCH 512

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

void pageflags_map_done(struct pageflags_map *m)
{
	if (!m)
		return;
	free(m->chunks);
	*m = (struct pageflags_map){};
}

size_t pageflags_map_chunk_of(const struct pageflags_map *m, uint64_t addr)
{
	if (!m || addr < m->start || addr >= m->end)
		return SIZE_MAX;
	return (size_t)((addr - m->start) / m->chunk_sz);
}

void pageflags_map_chunk_range(const struct pageflags_map *m, size_t i, uint64_t *ret_start,
			       uint64_t *ret_end)
{
	uint64_t s = m->start + (uint64_t)i * m->chunk_sz;
	uint64_t e = s + m->chunk_sz;

	if (e > m->end)
		e = m->end;
	*ret_start = s;
	*ret_end = e;
}

int pageflags_map_scan(struct pageflags_map *m, int fd, enum pageflags_class cls, uint64_t now_us)
{
	uint64_t buf[PAGEFLAGS_BATCH];
	uint64_t pfn, first_pfn, last_pfn, pages_per_chunk;
	uint64_t total = 0, ok = 0, nfree = 0;
	bool head_ok = false, have_head = false;
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
			bool page_ok;

			if ((f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL)) && have_head)
				page_ok = head_ok;
			else
				page_ok = pageflags_page_ok(f, cls);
			if (f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_HEAD)) {
				have_head = true;
				head_ok = page_ok;
			} else if (!(f & PAGEFLAG_BIT(PAGEFLAG_COMPOUND_TAIL))) {
				have_head = false;
			}

			tmp[c].nr_pages++;
			if (page_ok)
				tmp[c].ok_pages++;
			else if (f & PAGEFLAG_BIT(PAGEFLAG_BUDDY))
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
	m->scanned_us = now_us;
	m->generation++;
	return 0;
}
