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
};

/* Does a page with these flags let an action of class cls succeed? */
bool pageflags_page_ok(uint64_t flags, enum pageflags_class cls) _pure_;

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

/* Chunk index of a byte address inside the map, or SIZE_MAX (tests). */
size_t pageflags_map_chunk_of(const struct pageflags_map *m, uint64_t addr) _pure_;
/* Byte range [ret_start, ret_end) of chunk i. */
void pageflags_map_chunk_range(const struct pageflags_map *m, size_t i, uint64_t *ret_start,
			       uint64_t *ret_end);
