/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The write-list algebra: what damond can say about a rendered kdamond tree
 * (lib/damon-sysfs.h renders it) without touching the kernel. Equality, the
 * first difference (named down to the file inside a region block), the hash
 * the ownership record keeps, whether the target regions changed, whether a
 * change needs a restart, and the values carried from the kernel into a
 * commit. What a write means to these functions is declared by the renderer
 * in its flags, never guessed from its path.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon.h"

enum {
	SYSFS_W_NR = 1 << 0,        /* an nr_* file: takes the global lock, may be EBUSY, recreates children */
	SYSFS_W_NOVERIFY = 1 << 1,  /* the kernel may change it (tuned intervals) */
	SYSFS_W_BOOL = 1 << 2,      /* compare as a boolean on read-back */
	SYSFS_W_KEYWORD = 1 << 3,   /* compare the first word on read-back */
	SYSFS_W_REGIONS = 1 << 4,   /* a region block: one target's regions/<i>/start and /end files */
	SYSFS_W_LOCKED = 1 << 5,    /* takes the global lock (memcg_path, goal path): EBUSY retried like SYSFS_W_NR */
	SYSFS_W_RESTART = 1 << 6,   /* cannot change under a running context (operations, addr_unit): restart */
	SYSFS_W_TARGET_NR = 1 << 7, /* a target's regions/nr_regions: its region block, if any, follows it */
	SYSFS_W_FEED = 1 << 8, /* a value damond feeds (an emulated goal's current_value): see write_list_feed_diff() */
};

/*
 * One write, or, with SYSFS_W_REGIONS, a region block: the regions of one
 * target kept as an array instead of two strings per file. Its path is the
 * target's regions directory, its value a summary ("N regions fnv64:HASH")
 * that changes whenever the array does, so comparing paths and values still
 * tells lists apart. Apply, verify, dry run and the record hash expand it
 * (sysfs_write_file()) into the files it stands for: <path>/<i>/start, then
 * <path>/<i>/end, for each region in order.
 */
struct sysfs_write {
	char *path; /* relative to the sysfs root */
	char *value;
	unsigned flags;
	struct damon_addr_range *regions; /* SYSFS_W_REGIONS: owned copy, or borrowed (regions_borrowed) */
	size_t nr_regions;
	/*
	 * The regions are someone else's array (write_list_borrow_target_regions()),
	 * not freed with the write. A list that borrows must not outlive the
	 * lender: write_list_unshare() before the lender frees it.
	 */
	bool regions_borrowed;
};

struct write_list {
	struct sysfs_write *v;
	size_t n, cap;
};

/* One file a write stands for, with the path and value written to it. path may point into the struct: don't copy it. */
struct sysfs_file {
	const char *path, *value;
	char pbuf[PATH_MAX];
	char vbuf[24];
};

/* How many files w writes: 1, or 2 per region of a region block. */
size_t sysfs_write_nr_files(const struct sysfs_write *w);
/* File j (< sysfs_write_nr_files(w)) of w, formatted into buf; returns buf. */
const struct sysfs_file *sysfs_write_file(const struct sysfs_write *w, size_t j, struct sysfs_file *buf);
/* A target's regions: its regions/nr_regions write or its region block. */
bool sysfs_write_is_region(const struct sysfs_write *w);
/* Same path and value; region blocks also hold the same regions. */
bool sysfs_write_equal(const struct sysfs_write *a, const struct sysfs_write *b);
/* The first file of a (see sysfs_write_file()) that b does not write alike, or SIZE_MAX when equal. */
size_t sysfs_write_first_diff_file(const struct sysfs_write *a, const struct sysfs_write *b);
/*
 * Make w (its path set, anything else owned by it freed) the region block of
 * nr regions v: SYSFS_W_REGIONS, an owned copy of v, the summary value.
 */
int sysfs_write_set_region_block(struct sysfs_write *w, const struct damon_addr_range *v, size_t nr);

void write_list_done(struct write_list *l);
/* A deep copy of src (region arrays too: the copy owns them all, borrowed or not in src). */
int write_list_copy(const struct write_list *src, struct write_list *ret);
/* A deep copy of the writes of src that have any of flags, in order (e.g. a target's region writes). */
int write_list_select(const struct write_list *src, unsigned flags, struct write_list *ret);
bool write_list_equal(const struct write_list *a, const struct write_list *b);
/* Index of the first differing write, or SIZE_MAX when equal. */
size_t write_list_first_diff(const struct write_list *a, const struct write_list *b);
/*
 * The first file that new writes unlike old: the file of the first
 * differing write of new, inside a region block the first differing start or
 * end file. Returns false (and leaves *ret alone) when there is none: the
 * lists are equal, or new is old cut short. ret->path may point into *ret.
 */
bool write_list_first_change(const struct write_list *old, const struct write_list *new, struct sysfs_file *ret);

/*
 * FNV-1a 64 over "path=value\n" of every file written (a region block
 * expanded into its start/end files, flags ignored): identifies what a
 * kdamond was given, independent of how the list stores it. The ownership
 * record keeps it as 16 lower-case hex digits (write_list_hash_hex(), NULL
 * on ENOMEM), the same as daemon/record.c's write_list_hash().
 */
uint64_t write_list_hash64(const struct write_list *l);
char *write_list_hash_hex(const struct write_list *l);

/*
 * Whether the target regions of new differ from old's: the region writes
 * (nr_regions and region blocks, sysfs_write_is_region()) compared in order,
 * every other write ignored. A commit must then carry the regions; else it
 * may write nr_regions 0 so the kernel keeps its own.
 */
bool write_list_regions_changed(const struct write_list *old, const struct write_list *new);

/*
 * Why new cannot be committed over old under a running context: the first
 * write of new flagged SYSFS_W_RESTART whose path old writes with another
 * value ("'PATH' changes from 'A' to 'B'"). *ret_reason = NULL when none.
 * Returns 0, or -ENOMEM.
 */
int write_list_restart_reason(const struct write_list *old, const struct write_list *new, char **ret_reason);

/*
 * Read the value of every write of l flagged `flag` (a plain write, never a
 * region block) with read() and put it in the write's place: values the
 * kernel owns (tuned intervals: SYSFS_W_NOVERIFY) are carried into a commit
 * instead of resetting them. read() returns 0 and a malloc'd value, or a
 * negative errno: that write keeps its value. Returns how many values were
 * carried, or -ENOMEM.
 */
typedef int (*write_list_reader_t)(const char *path, char **ret_value, void *userdata);
int write_list_carry_values(struct write_list *l, unsigned flag, write_list_reader_t read, void *userdata);

/*
 * When new differs from old only in writes flagged SYSFS_W_FEED (same
 * paths in the same order, every other value equal): 1, and *ret the new
 * values of those that changed (a goal's current_value goes to the kernel
 * with 'commit_schemes_quota_goals', no full commit). 0 when anything else
 * differs, or nothing does (*ret empty). -ENOMEM.
 */
int write_list_feed_diff(const struct write_list *old, const struct write_list *new, struct write_list *ret);

/* Index of target t's regions/nr_regions write (SYSFS_W_TARGET_NR) in l, or SIZE_MAX. */
size_t write_list_find_target_regions(const struct write_list *l, size_t t);
/*
 * Set target t's regions in l: its nr_regions write to nr, and the region
 * block after it to v (inserted, replaced, or removed when nr is 0: the
 * kernel then keeps its regions on commit). -ENOENT when l has no target t.
 */
int write_list_set_target_regions(struct write_list *l, size_t t, const struct damon_addr_range *v, size_t nr);

/*
 * When target t's region block in l holds exactly v[0..nr) (nr > 0): free
 * the block's own copy and borrow v instead; returns 1. 0 when the block
 * differs, is missing or already borrows v. The caller guarantees that v
 * outlives the list or that write_list_unshare() runs before v goes (at
 * 20,000 ranges a copy is 320 KB for the daemon's life: plan_compose()'s
 * canonical list borrows the configuration's ranges this way).
 */
int write_list_borrow_target_regions(struct write_list *l, size_t t, const struct damon_addr_range *v, size_t nr);
/* Whether any region block of l borrows its array. */
bool write_list_borrows(const struct write_list *l);
/* Every borrowed region block of l gets its own copy. 0, or -ENOMEM (l unchanged for the blocks not copied). */
int write_list_unshare(struct write_list *l);
