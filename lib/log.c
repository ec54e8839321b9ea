/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;
static void (*callback)(void *userdata, int level, const char *msg);
static void *callback_userdata;

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

void log_set_callback(void (*cb)(void *userdata, int level, const char *msg), void *userdata)
{
	callback = cb;
	callback_userdata = userdata;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(s, names[i]))
			return (int)i;
	if (streq(s, "error"))
		return LOG_ERR;
	if (streq(s, "warn"))
		return LOG_WARNING;
	return -EINVAL;
}

/* stderr connected to the journal (JOURNAL_STREAM matches stderr's dev:ino)? */
bool log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");

	return e && *e;
}

void log_callback_only(int level, const char *msg)
{
	if (callback && level <= max_level)
		callback(callback_userdata, level, msg);
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int saved = errno;

	if (error < 0)
		error = -error;
	if (level > max_level)
		return -error;

	errno = error; /* for %m */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_stderr_is_journal())
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "damond: %s\n", msg);
	if (callback)
		callback(callback_userdata, level, msg);

	(void)file;
	(void)line;
	errno = saved;
	return -error;
}
