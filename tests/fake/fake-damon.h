/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fake-damon: a fake of the kernel's DAMON sysfs interface, for tests.
 *
 * "Fake the kernel, not the file": a temporary directory ROOT stands in for
 * /sys (damond's --sysfs-root). fake_damon_init() lays out the admin tree of
 * one kernel profile ("6.12", "7.2", "7.3"); fake_damon_store() does what the
 * kernel's store handler for a file does when user space writes to it
 * (validation, nr_* recreating children with defaults, state commands, the
 * global sysfs lock, 6.12's silent kdamond death on a bad commit, ...), as
 * described in shared/docs/kernel-damon.md sections 1, 2 and 8.
 *
 * Three ways to drive it:
 *  - in-process: sysfs_root_set_write_hook(root, fake_damon_hook, (void *)ROOT)
 *  - the real damond binary: LD_PRELOAD=libfake-damon-preload.so with
 *    FAKE_DAMON_ROOT=ROOT (and ASAN_OPTIONS=verify_asan_link_order=0 when
 *    damond is built with ASan), see fake-damon-preload.c
 *  - shell tests: the fake-damon-ctl tool
 *
 * FAKE_DAMON_PROCFS=DIR (in the environment of whoever stores): the fake
 * machine's procfs root (damond's --procfs-root). When set, a vaddr/fvaddr
 * target whose pid has no DIR/<pid> directory (and is not the writer's own
 * pid) fails "on" and "commit" with EINVAL, like the kernel's
 * find_get_pid(); unset, any pid > 0 is accepted.
 *
 * Bookkeeping lives in ROOT/.fake-damon/ (never a sysfs path):
 *   profile        "6.12" / "7.2" / "7.3"
 *   next_pid       pid the next "on" hands out (starts at FAKE_DAMON_FIRST_PID)
 *   busy           if present: the global sysfs lock is held by someone else.
 *                  Empty or "on": every nr_* / state / memcg_path / path write
 *                  fails with EBUSY; a number N > 0: the next N such writes
 *                  fail and the counter is decremented; 0: not busy.
 *   log            one line per state command, nr_* write and value write:
 *                    "kdamond K on pid=P", "kdamond K off", "kdamond K commit",
 *                    "kdamond K <other command>", "kdamond K died",
 *                    "nr <relpath> N", "set <relpath> <value>",
 *                    "module <name> enabled Y|N",
 *                  and for a failed state/nr write "fail <same line> <ERRNAME>"
 *                  (e.g. "fail kdamond 0 on EBUSY", "fail nr <relpath> 3 EBUSY").
 *   kdamond<K>/    the "kernel side" of kdamond K: ctx (exists once started),
 *                  committed/ (copy of contexts/0 as of the last successful
 *                  on/commit: what the running kdamond holds), kstats/<S>
 *                  (the running scheme S's counters, kept by position across
 *                  commits like the kernel does).
 *
 * Kernel reactions emulated (per profile): nr_* validation and recreation
 * of children with the documented defaults (EBUSY for nr_kdamonds while any
 * kdamond runs); value parsing like kstrto*() (base 0, ERANGE, one trailing
 * newline) and keyword sets per version and filter directory, values shown
 * back normalised ("0x10" reads "16", bools "Y"/"N"); EACCES for read-only
 * files; E2BIG above 4096 bytes; state commands with the 6.12/7.2/7.3 error
 * rules of kernel-damon.md 2.2/2.3 ("off" on a stopped kdamond: EPERM on
 * 6.12 and 7.2, 0 on 7.3; a bad "commit" on 6.12 returns success and kills
 * the kdamond); exclusive modules (EBUSY both ways). Not emulated: time
 * (no refresh_ms, no 100 ms 6.12 latency), EBUSY on reads of state/pid,
 * access-pattern matching (stats advance per update_schemes_stats call).
 *
 * All functions return a negative errno on failure. Every public function
 * takes an flock on ROOT/.fake-damon/lock, so a test and a preloaded damond
 * may use one root at the same time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FAKE_DAMON_FIRST_PID 4242
#define FAKE_DAMON_ADMIN "kernel/mm/damon/admin"
#define FAKE_DAMON_KDAMONDS "kernel/mm/damon/admin/kdamonds"

/* Per "update_schemes_stats" on a running, unpaused kdamond, each scheme gains: */
#define FAKE_DAMON_STEP_NR_TRIED 10ULL
#define FAKE_DAMON_STEP_SZ_TRIED (10ULL << 20)
#define FAKE_DAMON_STEP_NR_APPLIED 5ULL         /* 0 for action "stat" */
#define FAKE_DAMON_STEP_SZ_APPLIED (4ULL << 20) /* 0 for action "stat" */
#define FAKE_DAMON_STEP_SZ_OPS_FILTER_PASSED (8ULL << 20) /* 7.x, with ops filters */
/* qt_exceeds += 1 when quotas/bytes or quotas/ms is non-zero; nr_snapshots += 1 (7.x). */

/* What "update_schemes_tried_regions" creates per scheme. */
#define FAKE_DAMON_TRIED_NR 2
#define FAKE_DAMON_TRIED_START 0x100000ULL
#define FAKE_DAMON_TRIED_SZ 0x100000ULL
#define FAKE_DAMON_TRIED_TOTAL (FAKE_DAMON_TRIED_NR * FAKE_DAMON_TRIED_SZ)

/*
 * Create (or re-create) a pristine fake /sys under root for profile "6.12",
 * "7.2" or "7.3": kernel/mm/damon/admin/kdamonds/nr_kdamonds = 0,
 * module/damon_{reclaim,lru_sort}/parameters/enabled = N and, on 7.x,
 * module/damon_stat/parameters/enabled = Y (Debian's default). No kernel/btf.
 * An existing fake under root is wiped first; other files are left alone.
 */
int fake_damon_init(const char *root, const char *profile);

/* Remove a fake root created by fake_damon_init() (refuses other dirs). */
int fake_damon_destroy(const char *root);

/*
 * The kernel's reaction to write(2) of buf/len to the file root/relpath.
 * Returns len (or 0 for len 0) on success, a negative errno otherwise; updates
 * the files under root itself. Paths outside the DAMON admin tree and the
 * DAMON module parameters are written as plain files.
 */
ssize_t fake_damon_store(const char *root, const char *relpath, const char *buf, size_t len);

/*
 * Adapter for sysfs_write_hook_t (lib/sysfs.h); userdata is the root path
 * (const char *). Returns 1 (handled: the seam must not write itself) or the
 * negative errno of the store.
 */
int fake_damon_hook(void *userdata, const char *relpath, const char *value);

/*
 * What an administrator (or damo) would do by hand: make sure kdamond k
 * exists (writing nr_kdamonds = k + 1 when it does not, which fails with
 * EBUSY while any kdamond runs), configure one paddr context with one target
 * and a stat scheme, then write "on". The exclusive modules must be off.
 */
int fake_damon_start_foreign(const char *root, unsigned k);

/* The kthread of kdamond k dies (state off, pid -1). -ESRCH if not running. */
int fake_damon_kill(const char *root, unsigned k);

/*
 * Slow state commands: from now on, a state command other than on/off
 * returns ms milliseconds after it was handled (0: at once), like 6.12's,
 * which wait for the kdamond's next callback; kept in .fake-damon/slow_cmd_ms.
 */
int fake_damon_set_slow_cmd(const char *root, unsigned ms);

/* Global sysfs lock: n < 0 held for good, 0 free, n > 0 the next n lock users fail. */
int fake_damon_set_busy(const char *root, int n);
/*
 * A read of kdamonds/<K>/state or pid (relpath): 0, or -EBUSY when the global
 * lock is held, as the kernel's show handlers answer. Only while
 * .fake-damon/lock-reads exists (older tests count the lock users among
 * writes only); logged as "fail show relpath". The preload calls it when
 * damond opens such a file for reading.
 */
int fake_damon_show(const char *root, const char *relpath);

/*
 * Fault injection. Every store (write to a DAMON admin or module file) is
 * counted in ROOT/.fake-damon/nr_stores and listed in .fake-damon/stores
 * ("N relpath value", N from 1). A fault armed with fake_damon_set_fault()
 * fires once, at the after-th store from now (after >= 1), is logged
 * ("fault N KIND relpath") and recorded in .fake-damon/fault-hit
 * ("N KIND relpath"). Kinds:
 *   ebusy   a storm: the global sysfs lock is held for the next n lock users
 *           (n >= 1), starting with this store if it takes the lock
 *   einval, enomem   this store fails with that errno, nothing changes
 *   vanish  the directory holding the file disappears if it lies at or
 *           below a numbered child of a kdamond (contexts/0/..., as another
 *           writer's nr_* write would drop it; an nr_* write above brings
 *           it back), and the store fails with ENOENT
 *   kill    the store goes through, then every running kdamond dies
 *   exit    before the store, process n exits: $FAKE_DAMON_PROCFS/<n> goes
 *           (a pid checked before a reload is gone when the kernel looks)
 *   lock-after  the store goes through, then another user holds the global
 *           lock for the next n lock users (n >= 1)
 * .fake-damon/fault may also name the store instead of counting: a line
 * "@relpath=value KIND [N]" fires at the first store of value to relpath.
 * kind NULL disarms. -EINVAL for an unknown kind or after 0.
 */
int fake_damon_set_fault(const char *root, unsigned after, const char *kind, int n);
/* How many stores the fake has seen since fake_damon_init(). */
int fake_damon_nr_stores(const char *root, unsigned long long *ret);

/* Set module/<name>/parameters/enabled directly (name: damon_stat, ...). */
int fake_damon_set_module(const char *root, const char *name, bool enabled);

/* Read root/relpath into buf (one trailing newline stripped). */
int fake_damon_read(const char *root, const char *relpath, char *buf, size_t size);

/* Read what running kdamond k holds: relpath is relative to contexts/0. */
int fake_damon_read_committed(const char *root, unsigned k, const char *relpath, char *buf,
			      size_t size);

/*
 * Number of log lines equal to prefix or starting with prefix followed by a
 * space: "kdamond 0 commit" counts commits but not
 * "kdamond 0 commit_schemes_quota_goals" nor "fail kdamond 0 commit EINVAL".
 */
int fake_damon_log_count(const char *root, const char *prefix);

/* Empty the log. */
int fake_damon_log_clear(const char *root);

/* Short errno name ("EBUSY") for messages and the log; "E?" when unknown. */
const char *fake_damon_errno_name(int err);
