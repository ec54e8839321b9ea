/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The closed vocabularies of the status document: the daemon writes them
 * (daemon/manager-status.c), damondctl's text (status-render.c) and the
 * Prometheus renderer (metrics.c, one 0/1 sample per value, in table order)
 * read them. Adding a value here adds it to all three.
 */
#include "macro.h"

/* kdamonds[].state */
enum kdamond_status {
	KDAMOND_STATUS_ON,
	KDAMOND_STATUS_OFF,
	KDAMOND_STATUS_DIED,    /* stopped behind damond's back */
	KDAMOND_STATUS_WAITING, /* its process targets match no process: not started */
	_KDAMOND_STATUS_MAX,
	_KDAMOND_STATUS_INVALID = -EINVAL,
};

/* schemes[].watermarks.state: where free memory sits against the scheme's watermarks */
enum wmark_status {
	WMARK_STATUS_ACTIVE,
	WMARK_STATUS_INACTIVE,
	WMARK_STATUS_ACTIVE_OR_HYSTERESIS, /* between mid and high: depends on the previous state */
	WMARK_STATUS_UNKNOWN,              /* meminfo unreadable */
	WMARK_STATUS_NONE,                 /* "n/a": metric none, no watermarks */
	_WMARK_STATUS_MAX,
	_WMARK_STATUS_INVALID = -EINVAL,
};

/* schemes[].fail_charge.mode: how fail_charge_ratio is realised */
enum fail_charge_status {
	FAIL_CHARGE_STATUS_OFF,
	FAIL_CHARGE_STATUS_NATIVE,
	FAIL_CHARGE_STATUS_EMULATED,
	FAIL_CHARGE_STATUS_EMULATION_PENDING, /* emulated, the controller not acting yet */
	_FAIL_CHARGE_STATUS_MAX,
	_FAIL_CHARGE_STATUS_INVALID = -EINVAL,
};

const char *kdamond_status_to_string(enum kdamond_status x) _pure_;
enum kdamond_status kdamond_status_from_string(const char *s) _pure_;
const char *wmark_status_to_string(enum wmark_status x) _pure_;
enum wmark_status wmark_status_from_string(const char *s) _pure_;
const char *fail_charge_status_to_string(enum fail_charge_status x) _pure_;
enum fail_charge_status fail_charge_status_from_string(const char *s) _pure_;
