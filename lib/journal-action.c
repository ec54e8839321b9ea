/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "journal-action.h"
#include "log.h"
#include "macro.h"

/* Fixed for good: journalctl MESSAGE_ID= filters and catalogs rely on them (docs/ARCHITECTURE.md). */
/* clang-format off */
const struct action_kind action_kinds[] = {
	{ "nr_kdamonds", "238a0e129d144b789a888d51cf3e7cb3", LOG_INFO },
	{ "on",          "79c6c37fb77d4311a8e3a474cadc10c1", LOG_INFO },
	{ "off",         "db3318a4a5cd41e2b962157f16750d9f", LOG_INFO },
	{ "commit",      "f30eeb6d44044f45814eb8f18dc0a9ca", LOG_INFO },
	{ "error",       "dd9d71e6a5be4aa9817ce06605bb440b", LOG_ERR },
	{ "deferred",    "18d14b0d5ebc4662bb1efe96374eebe5", LOG_NOTICE },
	{ "adopt",       "5fbf05b935bf41dc8de8c63da16da454", LOG_INFO },
	{ "died",        "374517c4de3c4113a7d35c00ca34a153", LOG_WARNING },
	{ "gave-up",     "d8bccf7133b745d283e729918ceb6eef", LOG_ERR },
	{ "module-off",  "fcb7f76ce4a844c88c643cff20b36c1b", LOG_NOTICE },
	{ "restart",     "6f6460f948e142cf986ae2e5c5a9feec", LOG_INFO },
	{ "cleanup",     "63a104c99ba84e1f8356e40956cd8109", LOG_NOTICE },
	{ "keep",        "ebad10edba0c4e028f4455fca2ce02d0", LOG_INFO },
	{ "goals",       "70f2a3eecd174618a63192bdba65a05e", LOG_INFO },
	{ "retarget",    "e7f3c7fdb15b4867a19eaa5c0ef2b2d9", LOG_INFO },
	{ "waiting",     "7ce545f47813415f80060378ec25b657", LOG_INFO },
	{ NULL,          "3178fd5d13934b199098388ad4a31c1f", LOG_INFO },
};
/* clang-format on */

const struct action_kind *action_kind_lookup(const char *what)
{
	const struct action_kind *k = action_kinds;

	for (; k->what; k++)
		if (what && streq(k->what, what))
			return k;
	return k;
}

/* "KEY=VALUE" into buf, the value cut to fit (size > strlen(key) + 1 for every caller) */
static void add(struct action_fields *f, char *buf, size_t size, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);

	if (vl > size - kl - 2)
		vl = size - kl - 2;
	memcpy(buf, key, kl);
	buf[kl] = '=';
	memcpy(buf + kl + 1, val, vl);
	buf[kl + 1 + vl] = '\0';
	f->iov[f->n].iov_base = buf;
	f->iov[f->n].iov_len = kl + 1 + vl;
	f->n++;
}

void action_fields_build(struct action_fields *f, const char *kdamond, const char *scheme, const char *what,
			 const char *reason)
{
	const struct action_kind *k = action_kind_lookup(what);
	char text[sizeof(f->message)];

	memset(f, 0, sizeof(*f));
	f->priority = k->priority;
	if (!reason)
		reason = "";
	if (kdamond && *kdamond)
		snprintf(text, sizeof(text), "kdamond '%s': %s", kdamond, reason);
	else
		snprintf(text, sizeof(text), "%s", reason);
	add(f, f->message, sizeof(f->message), "MESSAGE", text);
	snprintf(text, sizeof(text), "%d", k->priority);
	add(f, f->priority_s, sizeof(f->priority_s), "PRIORITY", text);
	add(f, f->message_id, sizeof(f->message_id), "MESSAGE_ID", k->message_id);
	if (kdamond && *kdamond)
		add(f, f->kdamond, sizeof(f->kdamond), "DAMOND_KDAMOND", kdamond);
	if (scheme && *scheme)
		add(f, f->scheme, sizeof(f->scheme), "DAMOND_SCHEME", scheme);
	add(f, f->action, sizeof(f->action), "DAMOND_ACTION", what ? what : "");
	add(f, f->reason, sizeof(f->reason), "DAMOND_REASON", reason);
}

int log_action(const struct action_fields *f, int (*sendv)(const struct iovec *iov, int n))
{
	const char *msg = f->message + strlen("MESSAGE=");

	if (f->priority > log_get_max_level())
		return -1;
	if (sendv && log_stderr_is_journal() && sendv(f->iov, (int)f->n) >= 0) {
		log_callback_only(f->priority, msg);
		return 1;
	}
	log_full(f->priority, "%s", msg);
	return 0;
}
