/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A page-state oracle for paddr DAMOS actions: reads a file in the
 * /proc/kpageflags format (one little-endian u64 of flags per PFN, indexed
 * by PFN) and summarises a physical range in fixed-size chunks: how many
 * pages of each chunk the action can succeed on, how many are free.
 *
 * Pure reader: the caller opens the file (root only on a real system; a
 * synthetic file in tests) and passes the fd; no logging, no globals.
 * Bit numbers: Documentation/admin-guide/mm/pagemap.rst and
 * include/uapi/linux/kernel-page-flags.h (32 and up are the "kernel hacking"
 * bits: exported, but not a stable ABI; they are only used as extra hints).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct pageflags_vscan;

/* Bit numbers of /proc/kpageflags (named PAGEFLAG_* so that
 * <linux/kernel-page-flags.h> can be included next to this header). */
enum {
	PAGEFLAG_LOCKED = 0,
	PAGEFLAG_REFERENCED = 2,
	PAGEFLAG_DIRTY = 4,
	PAGEFLAG_LRU = 5,
	PAGEFLAG_ACTIVE = 6,
	PAGEFLAG_SLAB = 7,
	PAGEFLAG_WRITEBACK = 8,
	PAGEFLAG_BUDDY = 10,
	PAGEFLAG_MMAP = 11,
	PAGEFLAG_ANON = 12,
	PAGEFLAG_SWAPBACKED = 14,
	PAGEFLAG_COMPOUND_HEAD = 15,
	PAGEFLAG_COMPOUND_TAIL = 16,
	PAGEFLAG_HUGE = 17, /* hugetlbfs page */
	PAGEFLAG_UNEVICTABLE = 18,
	PAGEFLAG_HWPOISON = 19,
	PAGEFLAG_NOPAGE = 20,
	PAGEFLAG_KSM = 21,
	PAGEFLAG_THP = 22,
	PAGEFLAG_OFFLINE = 23,
	PAGEFLAG_ZERO_PAGE = 24,
	PAGEFLAG_IDLE = 25,
	PAGEFLAG_PGTABLE = 26,
	PAGEFLAG_RESERVED = 32,
	PAGEFLAG_MLOCKED = 33,
};

#define PAGEFLAG_BIT(b) (UINT64_C(1) << (b))

/* Which pages count as "the action can succeed here". */
enum pageflags_class {
	/* pageout (and paddr cold/lru_deprio reclaim paths): an evictable LRU
	 * page, not mlocked, not hugetlb, not poisoned/offline/reserved. */
	PAGEFLAGS_CLASS_EVICTABLE,
	/* lru_prio / lru_deprio: any page on an LRU list (unevictable included). */
	PAGEFLAGS_CLASS_LRU,
	_PAGEFLAGS_CLASS_MAX,
};

struct pageflags_chunk {
	uint32_t nr_pages;   /* pages of the chunk inside the mapped range */
	uint32_t ok_pages;   /* pages the action can succeed on */
	uint32_t free_pages; /* buddy (free) pages, a subset of the failing ones */
};

/*
 * Summary of [start, end) (physical byte addresses) in chunks of chunk_sz
 * bytes (the last chunk may be shorter). chunks[] is owned by the map.
 */
struct pageflags_map {
	uint64_t start, end;
	uint64_t chunk_sz;
	uint64_t page_sz;
	size_t nr_chunks;
	struct pageflags_chunk *chunks;
	uint64_t generation; /* bumped by every successful scan; 0 = never scanned */
	uint64_t scanned_us; /* time of the last scan, as given by the caller */
	uint64_t total_bytes, ok_bytes, free_bytes; /* sums of the last scan */
	uint64_t young_cache_bytes; /* of ok_bytes: page cache not aged yet (pageflags_page_young_cache()) */
	uint64_t young_other_bytes; /* of ok_bytes: anon and mapped pages not aged yet (pageflags_page_young_other()) */
	/* A segmented map (a virtual address space, pageflags_map_init_ranges()): chunk i is
	 * [chunk_start[i], chunk_end[i]), ascending, never across two ranges. NULL: contiguous. */
	uint64_t *chunk_start, *chunk_end;
	/* An incremental virtual-address pass in progress (pageflags_vmap_step()); owned, NULL: none. */
	struct pageflags_vscan *vs;
	int last_error;      /* pageflags_vmap_step(): the error that ended the last pass, 0 if none */
	uint64_t pass_pages; /* pages read by the last completed pass */
	uint64_t pass_us;    /* its length: first step to publication (caller's clock) */
	unsigned pass_steps; /* the steps it took */
};

/* Does a page with these flags let an action of class cls succeed? */
bool pageflags_page_ok(uint64_t flags, enum pageflags_class cls) _pure_;

/*
 * Is it page cache DAMON has not aged: on an LRU, not anon, not swap-backed,
 * not mapped, without KPF_IDLE? paddr's young check reads such a folio young
 * (!folio_test_idle), so the pageout's default "reject young" filter rejects
 * it once and marks it old; only the next try pages it out. Only DAMON sets
 * PG_idle on these kernels (no CONFIG_IDLE_PAGE_TRACKING): a sampled page,
 * or a page a young filter rejected. A kernel without fail_charge_num
 * charges that first try in full (issue 17; docs/BENCHMARKS.md "page cache").
 */
bool pageflags_page_young_cache(uint64_t flags) _pure_;

/*
 * Is it any other page on an LRU (anonymous, shmem, mapped file) without
 * KPF_IDLE? paddr's young check reads a mapped folio young when a pte maps
 * it young or when it is not PG_idle, so such a page is rejected once too.
 * A lower bound: a page aged since and touched again through a pte keeps
 * KPF_IDLE and is young all the same (kpageflags has no pte bits). Fresh
 * anonymous memory (a process that just touched its pages) is the case it
 * sees in full: a freed page's flags are cleared, so no new page is idle.
 */
bool pageflags_page_young_other(uint64_t flags) _pure_;

/*
 * Prepare a map for [start, end): start/end are aligned outwards to page_sz,
 * chunk_sz is rounded up to a multiple of page_sz. Allocates chunks[].
 * Returns 0 or -EINVAL / -ENOMEM.
 */
int pageflags_map_init(struct pageflags_map *m, uint64_t start, uint64_t end, uint64_t chunk_sz,
		       uint64_t page_sz);
void pageflags_map_done(struct pageflags_map *m);

/*
 * Re-read the flags of every PFN of the map from fd (pread, so the file
 * offset is untouched) and recount the chunks. PFNs beyond the end of the
 * file count as absent (never ok). Tail pages of a compound page inherit the
 * verdict of their head when the head was read in the same scan. Returns 0
 * (generation bumped, scanned_us = now_us) or a negative errno (map
 * unchanged).
 */
int pageflags_map_scan(struct pageflags_map *m, int fd, enum pageflags_class cls, uint64_t now_us);

/* A range of a segmented map (virtual addresses, [start, end)). */
struct pageflags_range {
	uint64_t start, end;
};

/*
 * Prepare a segmented map over ranges[0..nr) (sorted, disjoint; aligned
 * outwards to page_sz, chunks never span two ranges). Returns 0, -EINVAL
 * (no pages, unsorted) or -ENOMEM.
 */
int pageflags_map_init_ranges(struct pageflags_map *m, const struct pageflags_range *ranges, size_t nr,
			      uint64_t chunk_sz, uint64_t page_sz);

/* /proc/PID/pagemap entries (Documentation/admin-guide/mm/pagemap.rst). */
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_SWAPPED (UINT64_C(1) << 62)
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << 55) - 1)

/*
 * The oracle for a virtual address space (vaddr/fvaddr targets): each page
 * of the map is looked up in pagemap_fd (a /proc/PID/pagemap: one u64 per
 * virtual page) and, when present, its PFN in kpageflags_fd; the page is
 * then judged as pageflags_map_scan() judges a physical one (compound tails
 * inherit their head's verdict when the head came first in the same pass,
 * which is the case for a THP mapped whole). A page that is not present
 * (never touched, or swapped out) counts as ok: a madvise action over it
 * succeeds and the kernel counts it applied. A present page whose PFN reads
 * 0 means the reader lacks CAP_SYS_ADMIN (pagemap hides PFNs then): the pass
 * ends with -EPERM. PFNs beyond the end of kpageflags count as absent
 * (never ok), as in pageflags_map_scan().
 *
 * Incremental: a pass reads at most max_pages pages per call (0: no bound).
 * When no pass is in progress, one starts over ranges[0..nr) (the caller's
 * current mappings; ignored while a pass runs). When the pass reaches the
 * end, its counts replace the map's (layout included), generation is bumped
 * and scanned_us = now_us. Until then the map keeps the last complete pass.
 * Returns 1 (a pass was published), 0 (in progress) or a negative errno (the
 * pass is dropped, the map unchanged, last_error set).
 */
int pageflags_vmap_step(struct pageflags_map *m, const struct pageflags_range *ranges, size_t nr, uint64_t chunk_sz,
			uint64_t page_sz, int pagemap_fd, int kpageflags_fd, enum pageflags_class cls,
			uint64_t max_pages, uint64_t now_us);
/* Is a pass in progress (the next step continues it, ranges are not looked at)? */
bool pageflags_vmap_in_pass(const struct pageflags_map *m) _pure_;

/* Chunk index of a byte address inside the map, or SIZE_MAX (tests). */
size_t pageflags_map_chunk_of(const struct pageflags_map *m, uint64_t addr) _pure_;
/* Byte range [ret_start, ret_end) of chunk i. */
void pageflags_map_chunk_range(const struct pageflags_map *m, size_t i, uint64_t *ret_start,
			       uint64_t *ret_end);
