/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

#include "damos-model.h"
#include "pageflags.h"

static uint64_t rnd(struct model *m)
{
	/* xorshift64* */
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * UINT64_C(2685821657736338717);
}

static int regions_reserve(struct model *m, size_t n)
{
	struct model_region *r;
	size_t cap;

	if (n <= m->cap_regions)
		return 0;
	cap = MAX(n, m->cap_regions * 2);
	r = realloc(m->regions, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->regions = r;
	m->cap_regions = cap;
	return 0;
}

/* split region i at start + sz; the new piece is i + 1 */
static void split_at(struct model *m, size_t i, uint64_t sz)
{
	struct model_region *r;

	if (regions_reserve(m, m->nr_regions + 1) < 0)
		abort();
	r = &m->regions[i];
	memmove(&m->regions[i + 2], &m->regions[i + 1], (m->nr_regions - i - 1) * sizeof(*r));
	m->regions[i + 1] = (struct model_region){ r->start + sz, r->end, r->age };
	r->end = r->start + sz;
	m->nr_regions++;
}

int model_init(struct model *m, const struct model_cfg *cfg)
{
	unsigned n;
	uint64_t piece;

	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->nr_pages = cfg->mem_bytes / cfg->page_sz;
	m->pages = calloc(m->nr_pages, 1);
	if (!m->pages)
		return -ENOMEM;
	m->rng = cfg->seed ?: 88172645463325252ULL;
	n = cfg->min_nr_regions ?: 10;
	piece = cfg->mem_bytes / n / cfg->page_sz * cfg->page_sz;
	if (regions_reserve(m, n) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		m->regions[i] = (struct model_region){ i * piece, i + 1 == n ? cfg->mem_bytes : (i + 1) * piece, 0 };
	m->nr_regions = n;
	m->sz = cfg->quota_bytes;
	return 0;
}

void model_free(struct model *m)
{
	free(m->pages);
	free(m->regions);
	free(m->win_applied);
	free(m->win_start_us);
	memset(m, 0, sizeof(*m));
}

void model_set_pages(struct model *m, uint64_t start, uint64_t end, enum model_page t)
{
	for (uint64_t p = start / m->cfg.page_sz; p < end / m->cfg.page_sz && p < m->nr_pages; p++)
		m->pages[p] = (uint8_t)t;
}

void model_set_pages_every(struct model *m, uint64_t start, uint64_t end, unsigned n, enum model_page t)
{
	for (uint64_t p = start / m->cfg.page_sz; p < end / m->cfg.page_sz && p < m->nr_pages; p += n)
		m->pages[p] = (uint8_t)t;
}

uint64_t model_count(const struct model *m, enum model_page t)
{
	uint64_t n = 0;

	for (size_t p = 0; p < m->nr_pages; p++)
		n += m->pages[p] == t;
	return n * m->cfg.page_sz;
}

void model_commit(struct model *m, bool set_quota, uint64_t sz, bool set_filters,
		  const struct damon_addr_range *f, size_t nr)
{
	if (!set_quota && !set_filters)
		return;
	if (!m->commit_pending) {
		m->c_set_quota = m->c_set_filters = false;
		m->commit_at_us = m->now_us + m->cfg.commit_latency_us;
	}
	m->commit_pending = true;
	if (set_quota) {
		m->c_set_quota = true;
		m->c_sz = sz;
	}
	if (set_filters) {
		m->c_set_filters = true;
		m->c_nr_filters = MIN(nr, (size_t)MODEL_MAX_FILTERS);
		memcpy(m->c_filters, f, m->c_nr_filters * sizeof(*f));
	}
	m->nr_commits++;
}

static void push_window(struct model *m)
{
	if (m->nr_win == m->cap_win) {
		size_t cap = m->cap_win ? m->cap_win * 2 : 256;
		uint64_t *a = realloc(m->win_applied, cap * sizeof(*a));
		uint64_t *b;

		if (!a)
			abort();
		m->win_applied = a;
		b = realloc(m->win_start_us, cap * sizeof(*b));
		if (!b)
			abort();
		m->win_start_us = b;
		m->cap_win = cap;
	}
	m->win_applied[m->nr_win] = m->cur_win_applied;
	m->win_start_us[m->nr_win] = m->charged_from;
	m->nr_win++;
	m->cur_win_applied = 0;
}

static uint64_t monitored_bytes(const struct model *m)
{
	uint64_t n = 0;

	for (size_t i = 0; i < m->nr_regions; i++)
		n += m->regions[i].end - m->regions[i].start;
	return n;
}

/* damon_set_regions() on the ranges [0, mem) minus the sorted reject ranges */
static void set_target_gaps(struct model *m, const struct damon_addr_range *rej, size_t nr_rej)
{
	struct damon_addr_range ranges[MODEL_MAX_FILTERS + 1];
	struct model_region *old = m->regions, *nw;
	size_t nr_old = m->nr_regions, nr_new = 0, cap, nr_ranges = 0;
	uint64_t pos = 0;

	for (size_t i = 0; i < nr_rej; i++) {
		if (rej[i].start > pos)
			ranges[nr_ranges++] = (struct damon_addr_range){ pos, rej[i].start };
		pos = MAX(pos, rej[i].end);
	}
	if (pos < m->cfg.mem_bytes)
		ranges[nr_ranges++] = (struct damon_addr_range){ pos, m->cfg.mem_bytes };
	cap = nr_old * 2 + nr_ranges * 2 + 4;
	nw = calloc(cap, sizeof(*nw));
	if (!nw)
		abort();
	for (size_t k = 0; k < nr_ranges; k++) {
		uint64_t cur = ranges[k].start;

		for (size_t i = 0; i < nr_old; i++) {
			uint64_t s = MAX(old[i].start, ranges[k].start), e = MIN(old[i].end, ranges[k].end);

			if (s >= e)
				continue;
			if (s > cur) /* hole: fresh region */
				nw[nr_new++] = (struct model_region){ cur, s, 0 };
			/* kept region: keeps its age (first one stretched to the range start) */
			nw[nr_new++] = (struct model_region){ s, e, old[i].age };
			cur = e;
		}
		if (cur < ranges[k].end)
			nw[nr_new++] = (struct model_region){ cur, ranges[k].end, 0 };
	}
	free(old);
	m->regions = nw;
	m->nr_regions = nr_new;
	m->cap_regions = cap;
}

static void merge_regions(struct model *m)
{
	uint64_t limit = MAX(monitored_bytes(m) / (m->cfg.min_nr_regions ?: 10), m->cfg.page_sz);
	size_t w = 0;

	for (size_t i = 0; i < m->nr_regions; i++)
		m->regions[i].age++; /* idle: nr_accesses stays 0 */
	for (size_t i = 0; i < m->nr_regions; i++) {
		struct model_region *r = &m->regions[i];

		if (w > 0) {
			struct model_region *p = &m->regions[w - 1];
			uint64_t sp = p->end - p->start, sr = r->end - r->start;

			if (p->end == r->start && sp + sr <= limit) {
				p->age = (uint32_t)((p->age * sp + r->age * sr) / (sp + sr));
				p->end = r->end;
				continue;
			}
		}
		m->regions[w++] = *r;
	}
	m->nr_regions = w;
}

static void split_regions(struct model *m)
{
	uint64_t pg = m->cfg.page_sz;

	if (m->nr_regions > m->cfg.max_nr_regions / 2)
		return;
	for (size_t i = 0; i < m->nr_regions; i++) {
		struct model_region *r = &m->regions[i];
		uint64_t sz = r->end - r->start, sub;

		if (sz <= 2 * pg)
			continue;
		sub = (1 + rnd(m) % 9) * sz / 10 / pg * pg;
		if (sub == 0 || sub >= sz)
			continue;
		split_at(m, i, sub);
		i++;
	}
}

static unsigned cold_score(const struct model *m, const struct model_region *r)
{
	uint64_t sec;
	unsigned lg = 0;

	if (!m->cfg.age_weighted)
		return 99; /* all weights 0: every region scores the same */
	sec = (uint64_t)r->age * m->cfg.aggr_us / 1000000;
	while (sec && lg < 23) {
		sec >>= 1;
		lg++;
	}
	return lg; /* idle: colder with age (monotonic in the log bucket) */
}

static bool fully_filtered(const struct model *m, const struct model_region *r)
{
	for (size_t f = 0; f < m->nr_filters; f++)
		if (m->filters[f].start <= r->start && r->end <= m->filters[f].end)
			return true;
	return false;
}

static unsigned min_score(const struct model *m)
{
	uint64_t hist[24] = { 0 }, cum = 0;
	int s;

	if (!m->cfg.age_weighted)
		return 0;
	for (size_t i = 0; i < m->nr_regions; i++) {
		if (m->cfg.hist_respects_filters && fully_filtered(m, &m->regions[i]))
			continue;
		hist[cold_score(m, &m->regions[i])] += m->regions[i].end - m->regions[i].start;
	}
	for (s = 23; s > 0; s--) {
		cum += hist[s];
		if (cum >= m->esz)
			break;
	}
	return (unsigned)s;
}

static uint64_t pageout(struct model *m, uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	for (uint64_t p = start / m->cfg.page_sz; p < end / m->cfg.page_sz; p++)
		if (m->pages[p] == MPG_ANON) {
			m->pages[p] = MPG_FREE;
			n++;
		}
	return n * m->cfg.page_sz;
}

static void apply_scheme(struct model *m)
{
	uint64_t pg = m->cfg.page_sz;
	unsigned ms;

	if (!m->started) {
		m->started = true;
		m->charged_from = m->now_us;
		m->esz = m->sz;
	} else if (m->now_us >= m->charged_from + m->cfg.reset_interval_us) {
		if (m->esz && m->charged >= m->esz)
			m->qt_exceeds++;
		push_window(m);
		m->charged = 0;
		m->charged_from = m->now_us;
		m->esz = m->sz;
	}
	ms = min_score(m);

	for (size_t i = 0; i < m->nr_regions;) {
		struct model_region *r = &m->regions[i];
		size_t next = i + 1;
		uint64_t sz, applied;
		bool rejected = false;

		if (m->esz && m->charged >= m->esz)
			break;
		if (m->resume_set) {
			if (i == m->nr_regions - 1) {
				m->resume_set = false;
				break;
			}
			if (r->end <= m->resume_addr) {
				i = next;
				continue;
			}
			if (r->start < m->resume_addr) {
				uint64_t skip = (m->resume_addr - r->start) / pg * pg;

				if (!skip)
					skip = pg;
				split_at(m, i, skip);
				i++;
				r = &m->regions[i];
				next = i + 1;
			}
			m->resume_set = false;
		}
		if (cold_score(m, r) < ms) {
			i = next;
			continue;
		}
		sz = r->end - r->start;
		if (m->esz && m->charged + sz > m->esz) {
			sz = (m->esz - m->charged) / pg * pg;
			if (!sz)
				break;
			split_at(m, i, sz);
			r = &m->regions[i];
			next++;
		}
		for (size_t f = 0; f < m->nr_filters; f++) {
			const struct damon_addr_range *a = &m->filters[f];

			if (a->start <= r->start && r->start < a->end) {
				if (r->end > a->end) {
					split_at(m, i, a->end - r->start);
					r = &m->regions[i];
					next++;
				}
				rejected = true;
				break;
			}
			if (r->start < a->start && a->start < r->end) {
				split_at(m, i, a->start - r->start);
				r = &m->regions[i];
				next++;
			}
		}
		if (rejected) {
			i = next;
			continue;
		}
		sz = r->end - r->start;
		applied = pageout(m, r->start, r->end);
		if (getenv("MODEL_DEBUG"))
			printf("# %.1f try %llu-%llu MiB age %u applied %llu K\n", m->now_us / 1e6,
			       (unsigned long long)(r->start >> 20), (unsigned long long)(r->end >> 20), r->age,
			       (unsigned long long)(applied >> 10));
		m->charged += sz;
		if (m->esz && m->charged >= m->esz) {
			m->resume_set = true;
			m->resume_addr = r->end;
		}
		r->age = 0;
		m->sz_tried += sz;
		m->nr_tried++;
		m->sz_applied += applied;
		m->nr_applied += applied > 0;
		m->cur_win_applied += applied;
		i = next;
	}
}

void model_run_until(struct model *m, uint64_t t_us)
{
	while (m->now_us + m->cfg.aggr_us <= t_us) {
		m->now_us += m->cfg.aggr_us;
		merge_regions(m);
		if (m->commit_pending && m->now_us >= m->commit_at_us) {
			m->commit_pending = false;
			if (m->c_set_quota)
				m->sz = m->c_sz;
			if (m->c_set_filters && m->cfg.exclude_by_target) {
				set_target_gaps(m, m->c_filters, m->c_nr_filters);
			} else if (m->c_set_filters) {
				m->nr_filters = m->c_nr_filters;
				memcpy(m->filters, m->c_filters, m->nr_filters * sizeof(m->filters[0]));
			}
			if (m->cfg.commit_skips_apply)
				m->next_apply_us = m->now_us + m->cfg.aggr_us;
		}
		if (m->now_us >= m->next_apply_us) {
			apply_scheme(m);
			m->next_apply_us = m->now_us + m->cfg.aggr_us;
		}
		split_regions(m);
	}
}

int model_write_kpageflags(const struct model *m, int fd)
{
	uint64_t buf[1024];
	size_t n = 0;
	off_t off = 0;

	for (size_t p = 0; p < m->nr_pages; p++) {
		uint64_t f;

		switch (m->pages[p]) {
		case MPG_FREE:
			f = PAGEFLAG_BIT(PAGEFLAG_BUDDY);
			break;
		case MPG_KERNEL:
			f = PAGEFLAG_BIT(PAGEFLAG_SLAB) | PAGEFLAG_BIT(PAGEFLAG_RESERVED);
			break;
		case MPG_MLOCKED:
			f = PAGEFLAG_BIT(PAGEFLAG_LRU) | PAGEFLAG_BIT(PAGEFLAG_UNEVICTABLE) |
			    PAGEFLAG_BIT(PAGEFLAG_MLOCKED) | PAGEFLAG_BIT(PAGEFLAG_ANON) |
			    PAGEFLAG_BIT(PAGEFLAG_MMAP) | PAGEFLAG_BIT(PAGEFLAG_SWAPBACKED);
			break;
		default:
			f = PAGEFLAG_BIT(PAGEFLAG_LRU) | PAGEFLAG_BIT(PAGEFLAG_ANON) |
			    PAGEFLAG_BIT(PAGEFLAG_MMAP) | PAGEFLAG_BIT(PAGEFLAG_SWAPBACKED);
			break;
		}
		buf[n++] = f;
		if (n == 1024 || p + 1 == m->nr_pages) {
			ssize_t w = pwrite(fd, buf, n * sizeof(buf[0]), off);

			if (w < 0 || (size_t)w != n * sizeof(buf[0]))
				return -EIO;
			off += w;
			n = 0;
		}
	}
	return 0;
}
