/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Process targets named by what they are rather than by pid (`pidfile:`,
 * `comm:`, `cgroup:`, `unit:` in a vaddr/fvaddr target): the live user
 * processes that match, sorted by pid, at most PROCSEL_MAX_PIDS of them
 * (the lowest pids; *ret_truncated says more matched). Kernel threads and
 * zombies never match.
 */
#define PROCSEL_MAX_PIDS 16
#define PROCSEL_ARG_MAX 256 /* the selector's text, NUL included */

enum procsel_kind {
	PROCSEL_PID = 0, /* a literal pid: not a selector */
	PROCSEL_PIDFILE,
	PROCSEL_COMM,
	PROCSEL_CGROUP,
	PROCSEL_UNIT,
	_PROCSEL_MAX,
};

const char *procsel_kind_to_string(enum procsel_kind k);

/*
 * procfs_root: /proc; cgroup_root: the cgroup v2 mount (/sys/fs/cgroup).
 * PIDFILE: the first number in the file at arg. COMM: processes whose
 * /proc/PID/comm is arg (the kernel keeps 15 characters: a longer arg
 * matches on its first 15), or, when arg starts with '/', whose
 * /proc/PID/exe is arg. CGROUP: the processes of cgroup_root/arg and of
 * the cgroups below it. UNIT: the cgroup named arg anywhere below
 * cgroup_root (system.slice/arg for a system service), as CGROUP.
 *
 * 0 with *ret_n = 0 is "nothing matches now" (a missing pidfile or cgroup
 * included); negative only for errors that will not go away by waiting
 * (-ENOMEM, -EINVAL), with why set.
 */
int procsel_resolve(const char *procfs_root, const char *cgroup_root, enum procsel_kind kind, const char *arg,
		    int *pids, size_t *ret_n, bool *ret_truncated, char *why, size_t why_len);

/* 0: a live user process; -ESRCH gone; -EPERM a kernel thread; -ECHILD a zombie; other: unreadable */
int procsel_pid_check(const char *procfs_root, int pid);
