/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The model <-> /sys/kernel/mm/damon/admin tree.
 *
 * A kdamond is rendered into an ordered list of (file, value) writes: every
 * nr_* file before the children it recreates, all six access-pattern values,
 * only the files this kernel has. That one list is what damond writes, what
 * it reads back to verify, what it compares to decide whether a reload
 * changes anything, and what --dry-run logs. No I/O happens while rendering.
 */
#pragma once

#include <limits.h>

#include "damon.h"
#include "damon-features.h"
#include "sysfs.h"

enum {
	SYSFS_W_NR = 1 << 0,       /* an nr_* file: takes the global lock, may be EBUSY, recreates children */
	SYSFS_W_NOVERIFY = 1 << 1, /* the kernel may change it (tuned intervals) */
	SYSFS_W_BOOL = 1 << 2,     /* compare as a boolean on read-back */
	SYSFS_W_KEYWORD = 1 << 3,  /* compare the first word on read-back */
	SYSFS_W_REGIONS = 1 << 4,  /* a region block: one target's regions/<i>/start and /end files */
	SYSFS_W_LOCKED = 1 << 5,   /* takes the global lock (memcg_path, goal path): EBUSY retried like SYSFS_W_NR */
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
	struct damon_addr_range *regions; /* SYSFS_W_REGIONS: owned copy */
	size_t nr_regions;
};

struct write_list {
	struct sysfs_write *v;
	size_t n, cap;
};

/* One file a write stands for, with the path and value written to it. */
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

void write_list_done(struct write_list *l);
bool write_list_equal(const struct write_list *a, const struct write_list *b);
/* Index of the first differing write, or SIZE_MAX when equal. */
size_t write_list_first_diff(const struct write_list *a, const struct write_list *b);

/* One scheme directory in the kernel. */
struct scheme_slot {
	const struct damos_cfg *cfg; /* NULL: a tombstone that matches nothing */
	bool native_fail_charge;     /* write fail_charge_num/denom from cfg */
	bool quota_override;         /* controller-chosen quota bytes */
	uint64_t quota_bytes;
	const struct damon_addr_range *reject; /* extra core addr filters that exclude memory */
	size_t nr_reject;
};

struct kdamond_plan {
	const struct kdamond_cfg *cfg;
	const struct damon_target_cfg *targets; /* resolved: auto regions filled in */
	size_t nr_targets;
	bool keep_regions; /* commit: write nr_regions 0 so the kernel keeps its regions */
	struct scheme_slot *slots;
	size_t nr_slots;
};

/* Render kdamond k's tree (context, targets, schemes, refresh_ms) into writes. */
int damon_render_kdamond(unsigned k, const struct kdamond_plan *plan, const struct damon_features *f,
			 struct write_list *ret);

/*
 * Lay out the kernel's scheme slots for a new config given the slots the
 * running kdamond has (names; NULL = tombstone). Commit is positional: a
 * kept scheme stays in its slot, a removed one becomes a tombstone (its slot
 * and statistics stay put instead of being handed to the next scheme),
 * new ones are appended; trailing tombstones are dropped when nothing is
 * appended. If kept schemes changed their relative order, a commit cannot
 * keep each scheme's state: *ret_restart is set with the reason.
 * ret_map[i] = index into new_cfg->schemes or -1 for a tombstone.
 */
int damon_layout_slots(const char *const *old_names, size_t n_old, const struct damon_ctx_cfg *new_cfg, int **ret_map,
		       size_t *ret_n, char **ret_restart_reason);

/* Apply writes in order; nr_* writes retry EBUSY with backoff. On failure *ret_failed = index. */
int damon_write_list_apply(struct sysfs_root *root, const struct write_list *l, size_t *ret_failed);
/* The same; on failure also *ret_file = which file of that write failed (see sysfs_write_file()). */
int damon_write_list_apply_ex(struct sysfs_root *root, const struct write_list *l, size_t *ret_failed,
			      size_t *ret_file);
/* Read every write back, every file of a region block too; on mismatch returns -EIO and names the file. */
int damon_write_list_verify(struct sysfs_root *root, const struct write_list *l, char **ret_mismatch);

/* A write that takes the kernel's global DAMON sysfs lock: EBUSY is retried with backoff. */
int damon_write_locked(struct sysfs_root *root, const char *path, const char *value);

/* kdamonds/<k>/state commands; EBUSY from the global lock is retried with backoff. */
int damon_state_cmd(struct sysfs_root *root, unsigned k, const char *cmd);
int damon_read_state(struct sysfs_root *root, unsigned k, bool *ret_on, int *ret_pid);
int damon_read_nr_kdamonds(struct sysfs_root *root, uint64_t *ret);
int damon_write_nr_kdamonds(struct sysfs_root *root, uint64_t n);

struct damos_stats {
	uint64_t nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds;
	uint64_t sz_ops_filter_passed; /* 0 when the kernel lacks it */
	bool has_sz_ops_filter_passed;
	uint64_t effective_bytes;
};

int damon_read_scheme_stats(struct sysfs_root *root, unsigned k, unsigned slot, struct damos_stats *ret);

/*
 * Bounded EBUSY retry policy: attempts per file, the first backoff delay
 * (doubling, at most 500 ms). Defaults 12 and 5 ms: about 2.6 s per file.
 * Tests shorten it.
 */
void damon_set_busy_retry(unsigned attempts, unsigned first_delay_ms);
/*
 * A budget shared by every EBUSY backoff sleep until the next
 * damon_busy_budget_reset(): once total_ms are slept, a still busy file
 * fails with -EBUSY at once. 0 = no budget (the attempts alone bound the
 * wait). The event loop resets it at the start of each callback, so no
 * callback sleeps more than total_ms on the lock; the caller retries the
 * whole operation from a timer (docs/ARCHITECTURE.md, EBUSY).
 */
void damon_set_busy_budget(unsigned total_ms);
void damon_busy_budget_reset(void);
/* ms slept on EBUSY since the last reset, and since the process started. */
unsigned damon_busy_budget_spent(void);
uint64_t damon_busy_slept_ms(void);
