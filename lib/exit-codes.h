/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * damond's exit statuses (documented in damond(8)). 1 is a failure a
 * restart may cure (a kernel write failed, a kdamond died on start, the
 * runtime directory is busy); the others are things a restart cannot fix
 * until someone changes the configuration or the machine, so the unit's
 * RestartPreventExitStatus= lists them: keep systemd/damond.service.in in
 * step with DAMOND_EXIT_NO_RESTART.
 *
 * The numbers follow sysexits(3) where one fits (64 usage, 69 unavailable,
 * 78 configuration); 80 and 81 are damond's own (sysexits ends at 78,
 * systemd's own statuses start at 200).
 */
#pragma once

#define DAMOND_EXIT_OK 0
#define DAMOND_EXIT_FAILURE 1     /* runtime failure: a restart may help */
#define DAMOND_EXIT_USAGE 64      /* bad command line (EX_USAGE) */
#define DAMOND_EXIT_UNSUPPORTED 69 /* no DAMON sysfs, or the kernel lacks a feature the policy needs (EX_UNAVAILABLE) */
#define DAMOND_EXIT_CONFIG 78     /* the configuration file is invalid (EX_CONFIG) */
#define DAMOND_EXIT_FOREIGN 80    /* a kdamond damond does not own runs or exists where damond would write */
#define DAMOND_EXIT_MODULE 81     /* an exclusive DAMON module (DAMON_STAT, ...) is on and not allowed off */

/* For RestartPreventExitStatus= (space-separated). */
#define DAMOND_EXIT_NO_RESTART "64 69 78 80 81"
