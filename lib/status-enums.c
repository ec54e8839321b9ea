/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The status document's enum strings (see status-enums.h). */
#include "status-enums.h"
#include "string-table.h"

static const char *const kdamond_status_table[_KDAMOND_STATUS_MAX] = {
	[KDAMOND_STATUS_ON] = "on",
	[KDAMOND_STATUS_OFF] = "off",
	[KDAMOND_STATUS_DIED] = "died",
	[KDAMOND_STATUS_WAITING] = "waiting",
};
DEFINE_STRING_TABLE_LOOKUP(kdamond_status, enum kdamond_status);

static const char *const wmark_status_table[_WMARK_STATUS_MAX] = {
	[WMARK_STATUS_ACTIVE] = "active",
	[WMARK_STATUS_INACTIVE] = "inactive",
	[WMARK_STATUS_ACTIVE_OR_HYSTERESIS] = "active-or-hysteresis",
	[WMARK_STATUS_UNKNOWN] = "unknown",
	[WMARK_STATUS_NONE] = "n/a",
};
DEFINE_STRING_TABLE_LOOKUP(wmark_status, enum wmark_status);

static const char *const fail_charge_status_table[_FAIL_CHARGE_STATUS_MAX] = {
	[FAIL_CHARGE_STATUS_OFF] = "off",
	[FAIL_CHARGE_STATUS_NATIVE] = "native",
	[FAIL_CHARGE_STATUS_EMULATED] = "emulated",
	[FAIL_CHARGE_STATUS_EMULATION_PENDING] = "emulation-pending",
};
DEFINE_STRING_TABLE_LOOKUP(fail_charge_status, enum fail_charge_status);
