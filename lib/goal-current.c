/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goal-current.h"
#include "macro.h"
#include "pageflags.h"
#include "snapshot.h"

uint64_t goal_bp(uint64_t value, uint64_t total)
{
	if (total == 0)
		return 0;
	/* value * 10000 / total exactly (the kernel's mult_frac wraps past 2^64 / 10000; sizes never get there) */
	return (uint64_t)((unsigned __int128)value * 10000 / total);
}

uint64_t goal_score_bp(uint64_t current, uint64_t target)
{
	return goal_bp(current, target);
}

/* the value after "key" at the start of a line (or after whitespace), as a u64 */
static const char *find_word(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; (p = strstr(p, key)); p += n)
		if (p == text || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t')
			return p + n;
	return NULL;
}

int goal_parse_psi_some_total(const char *text, uint64_t *ret_total_us)
{
	const char *line, *t;
	char *end;
	unsigned long long v;

	/* "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345" */
	line = strncmp(text, "some ", 5) == 0 ? text : strstr(text, "\nsome ");
	if (!line)
		return -EINVAL;
	t = strstr(line, "total=");
	if (!t || (strchr(line + 1, '\n') && t > strchr(line + 1, '\n')))
		return -EINVAL;
	errno = 0;
	v = strtoull(t + 6, &end, 10);
	if (errno || end == t + 6)
		return -EINVAL;
	*ret_total_us = v;
	return 0;
}

/* "KEY:   123 kB" after the key; bytes */
static int kb_after(const char *p, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!p)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p || v > UINT64_MAX / 1024)
		return -EINVAL;
	*ret = (uint64_t)v * 1024;
	return 0;
}

int goal_parse_node_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_free)
{
	/* "Node 0 MemTotal:       16318416 kB" */
	if (kb_after(find_word(text, "MemTotal:"), ret_total) < 0 ||
	    kb_after(find_word(text, "MemFree:"), ret_free) < 0)
		return -EINVAL;
	return 0;
}

int goal_parse_meminfo_lru(const char *text, uint64_t *ret_active, uint64_t *ret_inactive)
{
	if (kb_after(find_word(text, "Active:"), ret_active) < 0 ||
	    kb_after(find_word(text, "Inactive:"), ret_inactive) < 0)
		return -EINVAL;
	return 0;
}

int goal_parse_numa_stat_lru(const char *text, int nid, uint64_t *ret_bytes)
{
	static const char *const keys[] = { "active_anon ", "inactive_anon ", "active_file ", "inactive_file " };
	char node[24];
	uint64_t sum = 0;

	snprintf(node, sizeof(node), "N%d=", nid);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *line = strncmp(text, keys[i], strlen(keys[i])) == 0 ? text : NULL;
		const char *eol, *p;
		char pat[32];
		unsigned long long v;
		char *end;

		if (!line) {
			snprintf(pat, sizeof(pat), "\n%s", keys[i]);
			line = strstr(text, pat);
			if (!line)
				return -EINVAL;
			line++;
		}
		eol = strchr(line, '\n');
		p = strstr(line, node);
		/* " N1=" must not match inside " N11=": find_word-like check */
		while (p && (p == line || p[-1] != ' '))
			p = strstr(p + 1, node);
		if (!p || (eol && p > eol))
			return -ENOENT; /* no such node in this memcg's stats */
		errno = 0;
		v = strtoull(p + strlen(node), &end, 10);
		if (errno || end == p + strlen(node) || sum + v < sum)
			return -EINVAL;
		sum += v;
	}
	*ret_bytes = sum;
	return 0;
}

void goal_psi_feed(struct goal_psi *p, uint64_t total_us, uint64_t now_us, uint64_t min_period_us)
{
	if (p->have && now_us <= p->t_us)
		return;
	if (p->have && now_us - p->t_us < min_period_us)
		return;
	if (p->have && total_us >= p->total_us) {
		p->us_per_s = (double)(total_us - p->total_us) * 1e6 / (double)(now_us - p->t_us);
		p->have_rate = true;
	}
	p->have = true;
	p->total_us = total_us;
	p->t_us = now_us;
}

struct goal_psi *goal_psi_for(struct goal_psi_set *s, const char *path, uint64_t now_us)
{
	size_t i, oldest = 0;

	if (!path)
		return &s->sys;
	for (i = 0; i < GOAL_PSI_CGROUPS; i++)
		if (s->cg[i].path && strcmp(s->cg[i].path, path) == 0) {
			s->cg[i].used_us = now_us;
			return &s->cg[i].p;
		}
	for (i = 0; i < GOAL_PSI_CGROUPS; i++) {
		if (!s->cg[i].path) {
			oldest = i;
			break;
		}
		if (s->cg[i].used_us < s->cg[oldest].used_us)
			oldest = i;
	}
	i = oldest;
	free(s->cg[i].path);
	s->cg[i].path = strdup(path);
	s->cg[i].used_us = now_us;
	s->cg[i].p = (struct goal_psi){};
	return s->cg[i].path ? &s->cg[i].p : NULL;
}

void goal_psi_set_free(struct goal_psi_set *s)
{
	for (size_t i = 0; i < GOAL_PSI_CGROUPS; i++) {
		free(s->cg[i].path);
		s->cg[i].path = NULL;
	}
}

/* a small text file, NUL-terminated; NULL on error */
static char *read_text(const char *path)
{
	char *buf;
	ssize_t n;
	size_t len = 0, cap = 16384;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	while (buf && len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static void node_meminfo(const char *sys_root, int nid, uint64_t *total, uint64_t *free_b, struct goal_current *r)
{
	char path[4096];
	char *t;

	snprintf(path, sizeof(path), "%s/devices/system/node/node%d/meminfo", sys_root, nid);
	t = read_text(path);
	if (!t || goal_parse_node_meminfo(t, total, free_b) < 0 || *total == 0)
		r->why = "node meminfo unreadable (no such node?)";
	free(t);
}

static void read_memcg(const char *sys_root, const struct damos_goal_cfg *g, struct goal_current *r)
{
	char path[4096];
	uint64_t total = 0, free_b = 0, used = 0;
	char *t;
	int k;

	node_meminfo(sys_root, g->nid, &total, &free_b, r);
	if (r->why)
		return;
	snprintf(path, sizeof(path), "%s/fs/cgroup/%s/memory.numa_stat", sys_root,
		 g->path ? g->path + (g->path[0] == '/') : "");
	t = read_text(path);
	k = t ? goal_parse_numa_stat_lru(t, g->nid, &used) : -ENOENT;
	free(t);
	if (k < 0) {
		r->why = "memcg memory.numa_stat unreadable (no such cgroup, or no memory controller)";
		return;
	}
	if (used > total)
		used = total;
	r->value = goal_bp(g->metric == DAMOS_GOAL_NODE_MEMCG_USED_BP ? used : total - used, total);
	r->known = true;
}

bool goal_current_measurable(enum damos_goal_metric m)
{
	return m >= DAMOS_GOAL_USER_INPUT && m < _DAMOS_GOAL_METRIC_MAX;
}

bool goal_region_eligible(const struct damos_cfg *s, uint64_t sz, uint32_t nr_accesses, uint32_t age)
{
	return s->sz.min <= sz && sz <= s->sz.max && s->nr_accesses.min <= nr_accesses &&
	       nr_accesses <= s->nr_accesses.max && s->age.min <= age && age <= s->age.max;
}

void goal_lru_cache_done(struct goal_lru_cache *c)
{
	free(c->lru);
	*c = (struct goal_lru_cache){};
}

/* grow c to blocks [first, first + nr) (a superset of what it has), keeping the counts */
static int lru_cover(struct goal_lru_cache *c, uint64_t first, size_t nr)
{
	uint8_t *n = malloc(nr);
	size_t shift = c->lru ? (size_t)(c->first_pfn / GOAL_LRU_BLOCK - first) : 0;

	if (!n)
		return -ENOMEM;
	memset(n, GOAL_LRU_UNREAD, nr);
	if (c->lru)
		memcpy(n + shift, c->lru, c->nr_blocks);
	free(c->lru);
	c->next += shift;
	c->lru = n;
	c->first_pfn = first * GOAL_LRU_BLOCK;
	c->nr_blocks = nr;
	return 0;
}

int goal_lru_refresh(struct goal_lru_cache *c, int fd, uint64_t lo, uint64_t hi, uint64_t page_sz, uint64_t budget)
{
	uint64_t buf[GOAL_LRU_BLOCK * 8];
	uint64_t first, last, left;
	int r;

	if (!page_sz || hi <= lo)
		return -EINVAL;
	if (c->page_sz != page_sz)
		goal_lru_cache_done(c);
	c->page_sz = page_sz;
	first = lo / page_sz / GOAL_LRU_BLOCK;
	last = ((hi + page_sz - 1) / page_sz + GOAL_LRU_BLOCK - 1) / GOAL_LRU_BLOCK;
	if (c->lru) {
		first = MIN(first, c->first_pfn / GOAL_LRU_BLOCK);
		last = MAX(last, c->first_pfn / GOAL_LRU_BLOCK + c->nr_blocks);
	}
	if (!c->lru || first * GOAL_LRU_BLOCK != c->first_pfn || last - first != c->nr_blocks) {
		if (last - first > SIZE_MAX / 2)
			return -E2BIG;
		r = lru_cover(c, first, (size_t)(last - first));
		if (r < 0)
			return r;
	}
	c->err = 0;
	left = budget ? MAX(budget / GOAL_LRU_BLOCK, 1ULL) : c->nr_blocks;
	left = MIN(left, (uint64_t)c->nr_blocks);
	while (left) {
		size_t k, got = 0;
		ssize_t rd;

		if (c->next >= c->nr_blocks) {
			c->next = 0;
			c->passes++;
		}
		/* up to 8 blocks in one read, not past the span's end */
		k = (size_t)MIN(MIN(left, (uint64_t)8), (uint64_t)(c->nr_blocks - c->next));
		rd = pread(fd, buf, k * GOAL_LRU_BLOCK * sizeof(buf[0]),
			   (off_t)((c->first_pfn + (uint64_t)c->next * GOAL_LRU_BLOCK) * sizeof(buf[0])));
		if (rd < 0) {
			c->err = -errno;
			return c->err;
		}
		got = (size_t)rd / sizeof(buf[0]); /* pages beyond the end of the file: absent */
		for (size_t b = 0; b < k; b++) {
			unsigned n = 0;

			for (size_t i = b * GOAL_LRU_BLOCK; i < (b + 1) * GOAL_LRU_BLOCK && i < got; i++)
				n += !!(buf[i] & PAGEFLAG_BIT(PAGEFLAG_LRU));
			if (c->lru[c->next + b] == GOAL_LRU_UNREAD)
				c->nr_read++;
			else
				c->read_lru -= c->lru[c->next + b];
			c->lru[c->next + b] = (uint8_t)n;
			c->read_lru += n;
		}
		c->read_pages += k * GOAL_LRU_BLOCK;
		c->next += k;
		left -= k;
	}
	return 0;
}

uint64_t goal_lru_bytes(const struct goal_lru_cache *c, uint64_t a, uint64_t b)
{
	uint64_t blk = c->page_sz * GOAL_LRU_BLOCK, base = c->first_pfn * c->page_sz, sum = 0;
	/* an unread block: the read ones' mean (per mille of a block's pages); none read: all LRU */
	uint64_t mean = c->nr_read ? c->read_lru * 1000 / c->nr_read : GOAL_LRU_BLOCK * 1000;

	a = MAX(a, base);
	b = MIN(b, base + (uint64_t)c->nr_blocks * blk);
	for (uint64_t x = a; x < b;) {
		size_t i = (size_t)((x - base) / blk);
		uint64_t end = MIN(b, base + (i + 1) * blk);
		uint64_t n1000 = c->lru[i] == GOAL_LRU_UNREAD ? mean : c->lru[i] * 1000ULL;

		/* the block's LRU pages, pro rata to the part of it in [a, b) */
		sum += (uint64_t)((unsigned __int128)n1000 * c->page_sz * (end - x) / blk / 1000);
		x = end;
	}
	return sum;
}

/* The bytes of [a, b) (core units) that count: all of them, or their LRU pages'. */
static uint64_t piece_bytes(const struct goal_lru_cache *lru, uint64_t addr_unit, uint64_t a, uint64_t b)
{
	if (!lru || !lru->lru)
		return b - a;
	return goal_lru_bytes(lru, a * addr_unit, b * addr_unit) / addr_unit;
}

void goal_eligible_add(const struct damos_cfg *s, const struct snapshot_region *r, size_t n,
		       const struct damon_addr_range *node, size_t nn, const struct goal_lru_cache *lru,
		       uint64_t addr_unit, uint64_t *node_bytes, uint64_t *all_bytes)
{
	size_t j = 0;

	addr_unit = MAX(addr_unit, 1ULL);
	for (size_t i = 0; i < n; i++) {
		uint64_t at;

		if (r[i].end <= r[i].start ||
		    !goal_region_eligible(s, r[i].end - r[i].start, r[i].nr_accesses, r[i].age))
			continue;
		/* both sorted: the node ranges before this region stay behind for the next ones; the region is cut
		 * at the node's range boundaries, each piece counted once */
		while (j < nn && node[j].end <= r[i].start)
			j++;
		at = r[i].start;
		for (size_t k = j; k < nn && node[k].start < r[i].end; k++) {
			uint64_t a = MAX(node[k].start, r[i].start), b = MIN(node[k].end, r[i].end), v;

			if (a > at)
				*all_bytes += piece_bytes(lru, addr_unit, at, a);
			v = piece_bytes(lru, addr_unit, a, b);
			*node_bytes += v;
			*all_bytes += v;
			at = b;
		}
		if (at < r[i].end)
			*all_bytes += piece_bytes(lru, addr_unit, at, r[i].end);
	}
}

/* "SwapTotal:" and "SwapFree:" of /proc/meminfo (bytes). */
int goal_parse_meminfo_swap(const char *text, uint64_t *ret_total, uint64_t *ret_free)
{
	const char *t = strstr(text, "SwapTotal:"), *f = strstr(text, "SwapFree:");
	unsigned long long a, b;

	if (!t || !f || sscanf(t, "SwapTotal: %llu kB", &a) != 1 || sscanf(f, "SwapFree: %llu kB", &b) != 1)
		return -EINVAL;
	*ret_total = (uint64_t)a * 1024;
	*ret_free = (uint64_t)b * 1024;
	return 0;
}

/* The first unsigned integer in text (leading blanks allowed), as a user program writes it. */
int goal_parse_number(const char *text, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	while (*text == ' ' || *text == '\t')
		text++;
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || (*end && *end != '\n' && *end != ' ' && *end != '\t'))
		return -EINVAL;
	*ret = v;
	return 0;
}

static void read_memcg_usage(const char *sys_root, const struct damos_goal_cfg *g, struct goal_current *r)
{
	const char *cg = g->path ? g->path + (g->path[0] == '/') : "";
	char path[4096];
	uint64_t cur = 0, max = 0;
	char *t;

	snprintf(path, sizeof(path), "%s/fs/cgroup/%s/memory.current", sys_root, cg);
	t = read_text(path);
	if (!t || goal_parse_number(t, &cur) < 0) {
		free(t);
		r->why = "memory.current unreadable (no such cgroup, or no memory controller)";
		return;
	}
	free(t);
	snprintf(path, sizeof(path), "%s/fs/cgroup/%s/memory.max", sys_root, cg);
	t = read_text(path);
	if (!t || goal_parse_number(t, &max) < 0 || !max) {
		r->why = t && strncmp(t, "max", 3) == 0 ? "the cgroup has no memory.max (unlimited)"
							: "memory.max unreadable";
		free(t);
		return;
	}
	free(t);
	r->value = goal_bp(MIN(cur, max), max);
	r->known = true;
}

void goal_current_read(const char *procfs_root, const char *sys_root, const struct damos_goal_cfg *g,
		       uint64_t reset_interval_ms, struct goal_psi_set *psis, uint64_t now_us,
		       const struct goal_eligible_obs *eligible, struct goal_current *r)
{
	struct goal_psi *psi;
	char path[4096];
	uint64_t a = 0, b = 0;
	char *t;

	*r = (struct goal_current){ .unit = "bp" };
	switch (g->metric) {
	case DAMOS_GOAL_USER_INPUT:
		/* the kernel uses the committed current_value: the user's own number */
		r->unit = "";
		r->value = g->current_value;
		r->known = true;
		return;
	case DAMOS_GOAL_SOME_MEM_PSI_US:
		r->unit = "us";
		/* one cgroup's (damond's: the kernel's metric is the system's) or the system's */
		if (g->path)
			snprintf(path, sizeof(path), "%s/fs/cgroup/%s/memory.pressure", sys_root,
				 g->path + (g->path[0] == '/'));
		else
			snprintf(path, sizeof(path), "%s/pressure/memory", procfs_root);
		psi = goal_psi_for(psis, g->path, now_us);
		t = psi ? read_text(path) : NULL;
		if (t && goal_parse_psi_some_total(t, &a) == 0)
			goal_psi_feed(psi, a, now_us, 1000000);
		else
			r->why = g->path ? "the cgroup's memory.pressure unreadable (no such cgroup, or PSI off)"
					 : "/proc/pressure/memory unreadable (kernel without PSI, or psi=0)";
		free(t);
		if (r->why)
			return;
		if (!psi->have_rate) {
			r->why = "measuring: needs two samples a second apart";
			return;
		}
		/* the kernel's window is one quota reset interval */
		r->value = (uint64_t)(psi->us_per_s * (double)(reset_interval_ms ?: 1000) / 1000.0);
		r->known = true;
		return;
	case DAMOS_GOAL_NODE_MEM_USED_BP:
	case DAMOS_GOAL_NODE_MEM_FREE_BP:
		node_meminfo(sys_root, g->nid, &a, &b, r);
		if (r->why)
			return;
		if (b > a)
			b = a;
		r->value = goal_bp(g->metric == DAMOS_GOAL_NODE_MEM_FREE_BP ? b : a - b, a);
		r->known = true;
		return;
	case DAMOS_GOAL_NODE_MEMCG_USED_BP:
	case DAMOS_GOAL_NODE_MEMCG_FREE_BP:
		read_memcg(sys_root, g, r);
		return;
	case DAMOS_GOAL_ACTIVE_MEM_BP:
	case DAMOS_GOAL_INACTIVE_MEM_BP:
		snprintf(path, sizeof(path), "%s/meminfo", procfs_root);
		t = read_text(path);
		if (!t || goal_parse_meminfo_lru(t, &a, &b) < 0 || a + b == 0)
			r->why = "/proc/meminfo Active/Inactive unreadable";
		free(t);
		if (r->why)
			return;
		r->value = goal_bp(g->metric == DAMOS_GOAL_ACTIVE_MEM_BP ? a : b, a + b);
		r->known = true;
		return;
	case DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP:
		/* the kernel's value when nothing is eligible is 0 (nothing of it on the node) */
		if (!eligible || !eligible->known) {
			r->why = eligible && eligible->why ? eligible->why : "no region observation";
			return;
		}
		r->value = goal_bp(MIN(eligible->node_bytes, eligible->all_bytes), eligible->all_bytes);
		r->known = true;
		return;
	case DAMOS_GOAL_SWAP_USED_BP:
		snprintf(path, sizeof(path), "%s/meminfo", procfs_root);
		t = read_text(path);
		if (!t || goal_parse_meminfo_swap(t, &a, &b) < 0)
			r->why = "/proc/meminfo SwapTotal/SwapFree unreadable";
		else if (!a)
			r->why = "no swap configured";
		free(t);
		if (r->why)
			return;
		r->value = goal_bp(a - MIN(a, b), a);
		r->known = true;
		return;
	case DAMOS_GOAL_MEMCG_USAGE_BP:
		read_memcg_usage(sys_root, g, r);
		return;
	case DAMOS_GOAL_FILE:
		r->unit = "";
		t = g->path ? read_text(g->path) : NULL;
		if (!t || goal_parse_number(t, &a) < 0)
			r->why = "the file is missing or does not start with a number";
		free(t);
		if (r->why)
			return;
		r->value = a;
		r->known = true;
		return;
	default:
		r->why = "unknown metric";
		return;
	}
}
