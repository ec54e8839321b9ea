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
#include "write-list.h" /* the list type and its algebra */

/* One scheme directory in the kernel. */
struct scheme_slot {
	const struct damos_cfg *cfg; /* NULL: a tombstone that matches nothing */
	bool native_fail_charge;     /* write fail_charge_num/denom from cfg */
	bool quota_override;         /* controller-chosen quota bytes */
	uint64_t quota_bytes;
	/*
	 * Goals damond feeds (bit g: goal g), the kernel lacking their metric:
	 * written as user_input with current_value goal_values[g] (its
	 * target_value while goal_values is NULL or the bit is clear in
	 * goal_values_set: a neutral score until damond measured it), without
	 * nid or path.
	 */
	uint32_t fed_goals;
	uint32_t goal_values_set;
	const uint64_t *goal_values;
	/* the goals are damond's (an emulated temporal tuner): none written, nor goal_tuner */
	bool goals_by_damond;
	bool quota_cap_set; /* quotas/bytes at most quota_cap (0 bytes, no size quota, counts as above it) */
	uint64_t quota_cap;
	bool hold; /* access_pattern sz 0..0: matches no region (the first quota window, first_window) */
	/*
	 * damond's own addr reject filters, written first in the core layer's
	 * directory (core_filters/ where the kernel splits the layers, filters/
	 * before): the first matching filter decides, and a region none of them
	 * matches meets the scheme's own filters as if they were alone (the
	 * default for unmatched memory follows a layer's last filter, still the
	 * user's, or with none of the user's, the no-filter default: pass).
	 */
	const struct damon_addr_range *reject;
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

/*
 * The writes that make the next commit of kdamond k drop its running targets
 * idx[] without moving the others (obsolete_target, 6.19+): each gets
 * obsolete_target Y and stand_in_pid as pid_target (the kernel builds the
 * commit's targets from their pids before it sees they are obsolete, and an
 * exited process has none). With obsolete false: the flags back to N.
 */
int damon_render_obsolete(unsigned k, const size_t *idx, size_t n, bool obsolete, int stand_in_pid,
			  struct write_list *ret);

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

/*
 * A write_list_reader_t (lib/write-list.h) for write_list_carry_values():
 * userdata is the struct sysfs_root; the file is read as a u64 and given back
 * in the renderer's format. Carries tuned intervals (SYSFS_W_NOVERIFY) after
 * 'update_tuned_intervals'.
 */
int damon_read_u64_value(const char *path, char **ret_value, void *userdata);

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
 * The EBUSY retry of every write that takes the global DAMON sysfs lock (and
 * of state/pid reads): a policy and its counters, owned by the caller and
 * used by the calling thread (damon_busy_use()). Delays double from
 * first_delay_ms up to 500 ms; the default, 12 attempts from 5 ms, waits
 * about 2.6 s per file. attempts 1 never sleeps: EBUSY comes back at once
 * (the event loop defers the operation to a timer, docs/ARCHITECTURE.md).
 */
struct damon_busy {
	unsigned attempts;       /* tries per file (at least 1) */
	unsigned first_delay_ms; /* the first backoff sleep */
	bool quiet;              /* no debug line per busy attempt (a thread that must not run the log callback) */
	uint64_t slept_ms;       /* slept in all */
	uint64_t nr_busy;        /* EBUSY answers met */
};
#define DAMON_BUSY_DEFAULT                          \
	{                                           \
		.attempts = 12, .first_delay_ms = 5 \
	}

/* The calling thread's policy from now on (NULL: a default of its own); returns the previous one. */
struct damon_busy *damon_busy_use(struct damon_busy *b);
