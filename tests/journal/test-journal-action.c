/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One structured journal entry per kernel action (lib/journal-action.c): ids, fields, text fallback. */
#include <ctype.h>
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
static const char *const whats[] = { "nr_kdamonds", "on", "off", "commit", "error", "deferred", "adopt",
				     "died", "gave-up", "module-off", "restart", "cleanup", "keep" };

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
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_log_action),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
