/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One journal entry per action damond takes on the kernel (the manager's
 * record_action()): MESSAGE, PRIORITY, a MESSAGE_ID per kind of action and
 * DAMOND_KDAMOND / DAMOND_SCHEME / DAMOND_ACTION / DAMOND_REASON. Pure: the
 * caller passes the sender (sd_journal_sendv in the daemon), so lib/ does not
 * link libsystemd and the fields are unit-tested (tests/journal).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* MESSAGE_IDs (sd-id128, 32 lowercase hex digits), one per kind of action. */
struct action_kind {
	const char *what;       /* the action log's "what" (damondctl status) */
	const char *message_id;
	int priority;           /* syslog level */
};

/* The table, ending with the entry used for an unknown "what" (what == NULL). */
extern const struct action_kind action_kinds[];

/* The kind of action "what"; never NULL (unknown ones get the catch-all id). */
const struct action_kind *action_kind_lookup(const char *what);

#define ACTION_FIELDS_MAX 7

struct action_fields {
	struct iovec iov[ACTION_FIELDS_MAX];
	size_t n;
	int priority;
	char message[600];      /* also the plain log line */
	char priority_s[16];
	char message_id[48];
	char kdamond[128];
	char scheme[128];
	char action[64];
	char reason[440];
};

/*
 * Builds the fields of one action. kdamond and scheme may be NULL (their
 * fields are left out); reason is the action's text (damondctl status's "why").
 * MESSAGE is "kdamond 'NAME': REASON" (or REASON), the text log line of before.
 */
void action_fields_build(struct action_fields *f, const char *kdamond, const char *scheme, const char *what,
			 const char *reason);

/*
 * Logs the action: with stderr on the journal (JOURNAL_STREAM) and a sender,
 * as one structured entry (no text line); otherwise, or when the sender fails,
 * as the plain log line. Respects the log level and feeds the log callback.
 * Returns 1 when sent as a structured entry, 0 as text, -1 filtered out.
 */
int log_action(const struct action_fields *f, int (*sendv)(const struct iovec *iov, int n));
