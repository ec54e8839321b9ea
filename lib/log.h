/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging: syslog levels, "<N>" prefixes when stderr goes to the journal,
 * plain "damond: " lines otherwise. lib/ code logs at debug only; the daemon
 * logs decisions where it makes them.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
int log_level_from_string(const char *s);
/* Called with every message that passes the level (tests, status ring). */
void log_set_callback(void (*cb)(void *userdata, int level, const char *msg), void *userdata);

/* stderr goes to the journal (JOURNAL_STREAM is set)? */
bool log_stderr_is_journal(void);
/* Feeds the callback only: the message went to the journal another way (journal-action.h). */
void log_callback_only(int level, const char *msg);

/* Returns -abs(error) (or 0 when error is 0), so `return log_error_errno(r, ...)` works. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), __FILE__, __LINE__, __VA_ARGS__)
#define log_full(level, ...) (void)log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, (e), __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
