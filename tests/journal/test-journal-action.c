/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One structured journal entry per kernel action (lib/journal-action.c): ids, fields, text fallback. */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal-action.h"
#include "log.h"
#include "macro.h"

/* every "what" damond's manager records (daemon/manager.c record_action) */
static const char *const whats[] = { "nr_kdamonds", "on",    "off",      "commit",     "error",   "deferred",
				     "adopt",       "died",  "gave-up",  "module-off", "restart", "cleanup",
				     "keep",        "goals", "retarget", "waiting" };

static void test_ids_valid_and_unique(void **state)
{
	size_t n = 0;

	(void)state;
	for (const struct action_kind *k = action_kinds;; k++) {
		assert_int_equal(strlen(k->message_id), 32);
		for (size_t c = 0; c < 32; c++)
			assert_true(isxdigit((unsigned char)k->message_id[c]) && !isupper((unsigned char)k->message_id[c]));
		for (const struct action_kind *o = action_kinds; o < k; o++) {
			assert_string_not_equal(o->message_id, k->message_id);
			if (k->what)
				assert_string_not_equal(o->what, k->what);
		}
		n++;
		if (!k->what)
			break;
	}
	assert_int_equal(n, ARRAY_SIZE(whats) + 1);
	for (size_t i = 0; i < ARRAY_SIZE(whats); i++)
		assert_string_equal(action_kind_lookup(whats[i])->what, whats[i]);
	/* unknown kinds share the catch-all id rather than none */
	assert_null(action_kind_lookup("no-such-action")->what);
	assert_null(action_kind_lookup(NULL)->what);
	assert_string_equal(action_kind_lookup("on")->message_id, "79c6c37fb77d4311a8e3a474cadc10c1");
	assert_int_equal(action_kind_lookup("error")->priority, LOG_ERR);
}

/*
 * The kind of every record_action(), record_scheme_action() and
 * record_action_why() call in DAEMON_DIR/\*.c: the first string literal
 * between the call's '(' and the ';' that ends it (a definition or a call
 * passing a variable has none before its '{' or ';' and is not a kind).
 * Each must have its own row, not the catch-all MESSAGE_ID, and be in
 * whats[] (so the docs' table, checked by hand against whats[], has it).
 */
static void test_daemon_kinds_have_ids(void **state)
{
	static const char *const calls[] = { "record_action(", "record_scheme_action(", "record_action_why(" };
	const struct action_kind *catch_all = action_kind_lookup(NULL);
	DIR *d = opendir(DAEMON_DIR);
	struct dirent *de;
	size_t found = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[4096], *src = NULL, *p;
		size_t len = 0, nl = strlen(de->d_name);
		FILE *f;

		if (nl < 3 || strcmp(de->d_name + nl - 2, ".c"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", DAEMON_DIR, de->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_int_equal(getdelim(&src, &len, '\0', f) > 0, 1);
		fclose(f);
		for (size_t c = 0; c < ARRAY_SIZE(calls); c++)
			for (p = src; (p = strstr(p, calls[c])); p += strlen(calls[c])) {
				const char *q = p + strlen(calls[c]), *end;
				char what[64];
				bool listed = false;

				if (p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
					continue; /* another name ending the same way */
				q += strcspn(q, "\";{");
				if (*q != '"')
					continue;
				end = strchr(q + 1, '"');
				assert_non_null(end);
				assert_true((size_t)(end - q - 1) < sizeof(what));
				snprintf(what, sizeof(what), "%.*s", (int)(end - q - 1), q + 1);
				print_message("# %s: kind '%s'\n", de->d_name, what);
				assert_ptr_not_equal(action_kind_lookup(what), catch_all);
				assert_string_not_equal(action_kind_lookup(what)->message_id, catch_all->message_id);
				for (size_t i = 0; i < ARRAY_SIZE(whats); i++)
					listed |= streq(whats[i], what);
				assert_true(listed);
				found++;
			}
		free(src);
	}
	closedir(d);
	/* the scan sees the calls at all: 25 of them in today's daemon */
	assert_true(found >= 20);
}

static const char *field(const struct action_fields *f, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < f->n; i++) {
		const char *s = f->iov[i].iov_base;

		assert_int_equal(f->iov[i].iov_len, strlen(s));
		if (!strncmp(s, key, kl) && s[kl] == '=')
			return s + kl + 1;
	}
	return NULL;
}

static void test_fields(void **state)
{
	struct action_fields f;

	(void)state;
	action_fields_build(&f, "hot", "cold-pages", "commit", "committed online, pid 42 kept (reload)");
	assert_int_equal(f.n, 7);
	assert_string_equal(field(&f, "MESSAGE"), "kdamond 'hot': committed online, pid 42 kept (reload)");
	assert_string_equal(field(&f, "PRIORITY"), "6");
	assert_string_equal(field(&f, "MESSAGE_ID"), "f30eeb6d44044f45814eb8f18dc0a9ca");
	assert_string_equal(field(&f, "DAMOND_KDAMOND"), "hot");
	assert_string_equal(field(&f, "DAMOND_SCHEME"), "cold-pages");
	assert_string_equal(field(&f, "DAMOND_ACTION"), "commit");
	assert_string_equal(field(&f, "DAMOND_REASON"), "committed online, pid 42 kept (reload)");

	/* not about one kdamond, no scheme known: those fields are left out, not empty */
	action_fields_build(&f, NULL, NULL, "nr_kdamonds", "nr_kdamonds = 2 (was 0)");
	assert_int_equal(f.n, 5);
	assert_string_equal(field(&f, "MESSAGE"), "nr_kdamonds = 2 (was 0)");
	assert_null(field(&f, "DAMOND_KDAMOND"));
	assert_null(field(&f, "DAMOND_SCHEME"));
	assert_string_equal(field(&f, "MESSAGE_ID"), "238a0e129d144b789a888d51cf3e7cb3");

	action_fields_build(&f, "k", NULL, "error", "writing 'x' failed");
	assert_string_equal(field(&f, "PRIORITY"), "3");

	/* a reason longer than the field: cut, still one valid KEY=VALUE each */
	{
		char longr[1000];

		memset(longr, 'r', sizeof(longr) - 1);
		longr[sizeof(longr) - 1] = '\0';
		action_fields_build(&f, "k", NULL, "commit", longr);
		assert_int_equal(strlen(field(&f, "DAMOND_REASON")), sizeof(f.reason) - strlen("DAMOND_REASON=") - 1);
		assert_int_equal(strlen(field(&f, "MESSAGE")), sizeof(f.message) - strlen("MESSAGE=") - 1);
	}
}

static int sent, sent_n, send_result;
static char sent_msg[700];

static int fake_sendv(const struct iovec *iov, int n)
{
	sent++;
	sent_n = n;
	snprintf(sent_msg, sizeof(sent_msg), "%.*s", (int)iov[0].iov_len, (const char *)iov[0].iov_base);
	return send_result;
}

static int cb_calls;
static void cb(void *u, int level, const char *msg)
{
	(void)u;
	(void)level;
	(void)msg;
	cb_calls++;
}

static void test_log_action(void **state)
{
	struct action_fields f;

	(void)state;
	log_set_callback(cb, NULL);
	action_fields_build(&f, "hot", NULL, "on", "started as kdamonds/0, pid 7 (start)");

	/* not under journald (tests, a terminal): the text line, the sender is not called */
	unsetenv("JOURNAL_STREAM");
	sent = cb_calls = 0;
	assert_int_equal(log_action(&f, fake_sendv), 0);
	assert_int_equal(sent, 0);
	assert_int_equal(cb_calls, 1);

	/* under journald: one structured entry and no text line */
	setenv("JOURNAL_STREAM", "8:1234", 1);
	sent = cb_calls = 0;
	send_result = 0;
	assert_int_equal(log_action(&f, fake_sendv), 1);
	assert_int_equal(sent, 1);
	assert_int_equal(sent_n, 6);
	assert_string_equal(sent_msg, "MESSAGE=kdamond 'hot': started as kdamonds/0, pid 7 (start)");
	assert_int_equal(cb_calls, 1);

	/* the journal socket refuses: the text line still goes out */
	send_result = -ECONNREFUSED;
	sent = 0;
	assert_int_equal(log_action(&f, fake_sendv), 0);
	assert_int_equal(sent, 1);

	/* below the log level: nothing */
	log_set_max_level(LOG_NOTICE);
	sent = cb_calls = 0;
	send_result = 0;
	assert_int_equal(log_action(&f, fake_sendv), -1);
	assert_int_equal(sent + cb_calls, 0);
	log_set_max_level(LOG_INFO);
	unsetenv("JOURNAL_STREAM");
	log_set_callback(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_valid_and_unique),
		cmocka_unit_test(test_daemon_kinds_have_ids),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_log_action),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
