/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control protocol codec, framer, client call, and the text renderers damondctl prints. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "ipc.h"
#include "macro.h"
#include "status-render.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

/* ---- codec ---- */

static void test_request_roundtrip(void **state)
{
	_cleanup_(json_object_putp) struct json_object *p = parse("{\"kdamond\":\"reclaim\",\"n\":18446744073709551615}");
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *buf = NULL, *method = NULL;
	struct json_object *v;
	size_t len;

	assert_int_equal(ipc_request_encode("regions", p, &buf, &len), 0);
	assert_int_equal(len, strlen(buf) + 1);
	assert_int_equal(buf[len - 1], '\0');
	assert_null(memchr(buf, '\0', len - 1));

	assert_int_equal(ipc_request_decode(buf, len, &method, &out), 0);
	assert_string_equal(method, "regions");
	assert_true(json_object_object_get_ex(out, "kdamond", &v));
	assert_string_equal(json_object_get_string(v), "reclaim");
	assert_true(json_object_object_get_ex(out, "n", &v));
	assert_true(json_object_get_uint64(v) == UINT64_MAX);

	/* The same bytes without the terminator decode too. */
	free(method);
	method = NULL;
	json_object_put(out);
	out = NULL;
	assert_int_equal(ipc_request_decode(buf, len - 1, &method, &out), 0);
	assert_string_equal(method, "regions");
}

static void test_request_null_params(void **state)
{
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *buf = NULL, *method = NULL;
	size_t len;

	assert_int_equal(ipc_request_encode("status", NULL, &buf, &len), 0);
	assert_string_equal(buf, "{\"method\":\"status\",\"parameters\":{}}");
	assert_int_equal(ipc_request_decode(buf, len, &method, &out), 0);
	assert_true(json_object_is_type(out, json_type_object));
	assert_int_equal(json_object_object_length(out), 0);

	/* A request without "parameters" gets an empty object. */
	json_object_put(out);
	out = NULL;
	free(method);
	method = NULL;
	assert_int_equal(ipc_request_decode("{\"method\":\"reload\"}", 19, &method, &out), 0);
	assert_string_equal(method, "reload");
	assert_int_equal(json_object_object_length(out), 0);
}

static void test_request_encode_invalid(void **state)
{
	_cleanup_(json_object_putp) struct json_object *arr = json_object_new_array();
	char *buf = (char *)0x1;
	size_t len = 7;

	assert_int_equal(ipc_request_encode("", NULL, &buf, &len), -EINVAL);
	assert_int_equal(ipc_request_encode(NULL, NULL, &buf, &len), -EINVAL);
	assert_int_equal(ipc_request_encode("status", arr, &buf, &len), -EINVAL);
	/* ret_ untouched on failure */
	assert_ptr_equal(buf, (char *)0x1);
	assert_int_equal(len, 7);
}

static void test_request_decode_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"\"status\"",
		"{}",
		"{\"method\":1}",
		"{\"method\":\"\"}",
		"{\"method\":null}",
		"{\"method\":\"status\",\"parameters\":[]}",
		"{\"method\":\"status\",\"parameters\":\"x\"}",
		"{\"method\":\"status\"}{\"method\":\"status\"}",
		"{\"method\":\"status\"} x",
		"{\"method\":\"status\"",
		"{'method':'status'}",
	};
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	char *method = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(ipc_request_decode(bad[i], strlen(bad[i]), &method, &out), -EBADMSG);
		assert_null(method);
		assert_null(out);
	}
	/* Embedded NUL: two messages in one buffer is a framing bug. */
	assert_int_equal(ipc_request_decode("{\"method\":\"a\"}\0{}", 17, &method, &out), -EBADMSG);
	/* Trailing whitespace is fine. */
	assert_int_equal(ipc_request_decode("{\"method\":\"a\"}\n", 15, &method, &out), 0);
	assert_string_equal(method, "a");
	free(method);
}

static void test_reply_roundtrip(void **state)
{
	_cleanup_(json_object_putp) struct json_object *p = parse("{\"generation\":3}");
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *buf = NULL;
	char *error = (char *)0x1;
	struct json_object *v;
	size_t len;

	assert_int_equal(ipc_reply_encode(p, &buf, &len), 0);
	assert_int_equal(len, strlen(buf) + 1);
	assert_int_equal(ipc_reply_decode(buf, len, &out, &error), 0);
	assert_null(error);
	assert_true(json_object_object_get_ex(out, "generation", &v));
	assert_int_equal(json_object_get_int(v), 3);
	/* the encoder did not steal the caller's reference */
	assert_int_equal(json_object_object_length(p), 1);

	free(buf);
	buf = NULL;
	assert_int_equal(ipc_reply_encode(NULL, &buf, &len), 0);
	assert_string_equal(buf, "{\"parameters\":{}}");
}

static void test_error_roundtrip(void **state)
{
	_cleanup_(json_object_putp) struct json_object *extra =
		parse("{\"errors\":[\"/etc/damond.yaml:3:5: kdamonds[0].name: must not be empty\","
		      "\"/etc/damond.yaml:9:7: x: unknown key\"],\"message\":\"overridden\"}");
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *buf = NULL, *error = NULL;
	struct json_object *v;
	size_t len;

	assert_int_equal(ipc_error_encode(IPC_ERROR_INVALID_CONFIG, "configuration invalid, running one kept", extra,
					  &buf, &len),
			 0);
	assert_int_equal(ipc_reply_decode(buf, len, &out, &error), 0);
	assert_string_equal(error, "damond.InvalidConfig");
	assert_true(json_object_object_get_ex(out, "message", &v));
	assert_string_equal(json_object_get_string(v), "configuration invalid, running one kept");
	assert_true(json_object_object_get_ex(out, "errors", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)),
			    "/etc/damond.yaml:9:7: x: unknown key");
	/* extra is unchanged */
	assert_true(json_object_object_get_ex(extra, "message", &v));
	assert_string_equal(json_object_get_string(v), "overridden");

	free(buf);
	buf = NULL;
	free(error);
	error = NULL;
	json_object_put(out);
	out = NULL;
	assert_int_equal(ipc_error_encode(IPC_ERROR_NO_SUCH_METHOD, NULL, NULL, &buf, &len), 0);
	assert_string_equal(buf, "{\"error\":\"damond.NoSuchMethod\",\"parameters\":{}}");
	assert_int_equal(ipc_reply_decode(buf, len, &out, &error), 0);
	assert_string_equal(error, IPC_ERROR_NO_SUCH_METHOD);

	assert_int_equal(ipc_error_encode("", "x", NULL, &buf, &len), -EINVAL);

	/* null members of extra survive */
	{
		_cleanup_(json_object_putp) struct json_object *x = parse("{\"kdamond\":null}");
		_cleanup_free_ char *b2 = NULL;

		assert_int_equal(ipc_error_encode(IPC_ERROR_BUSY, "busy", x, &b2, &len), 0);
		assert_string_equal(b2, "{\"error\":\"damond.Busy\",\"parameters\":{\"kdamond\":null,\"message\":\"busy\"}}");
	}
}

static void test_reply_decode_invalid(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"error\":5}",
		"{\"error\":\"\"}",
		"{\"parameters\":7}",
		"{\"parameters\":{}",
		"",
	};
	struct json_object *out = NULL;
	char *error = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(ipc_reply_decode(bad[i], strlen(bad[i]), &out, &error), -EBADMSG);
		assert_null(out);
		assert_null(error);
	}
}

static void test_strings_escaped(void **state)
{
	/* A NUL or control character inside a string must never reach the wire raw. */
	_cleanup_(json_object_putp) struct json_object *p = json_object_new_object();
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *buf = NULL, *method = NULL;
	struct json_object *v;
	size_t len;

	json_object_object_add(p, "s", json_object_new_string_len("a\0b\n\"/", 6));
	assert_int_equal(ipc_request_encode("status", p, &buf, &len), 0);
	assert_null(memchr(buf, '\0', len - 1));
	assert_null(strchr(buf, '\n'));
	assert_int_equal(ipc_request_decode(buf, len, &method, &out), 0);
	assert_true(json_object_object_get_ex(out, "s", &v));
	assert_int_equal(json_object_get_string_len(v), 6);
	assert_memory_equal(json_object_get_string(v), "a\0b\n\"/", 6);
}

/* ---- framer ---- */

static struct ipc_framer *framer(size_t limit)
{
	struct ipc_framer *f = NULL;

	assert_int_equal(ipc_framer_new(&f), 0);
	assert_non_null(f);
	ipc_framer_set_limit(f, limit);
	return f;
}

static void test_framer_pieces(void **state)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = framer(0);
	const char stream[] = "{\"method\":\"status\"}\0{\"method\":\"reload\"}\0{\"meth";
	const char *msg = NULL;
	size_t len = 0;

	assert_int_equal(ipc_framer_next(f, &msg, &len), 0);
	ipc_framer_consume(f); /* nothing to consume: no-op */
	/* byte by byte */
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		assert_int_equal(ipc_framer_feed(f, stream + i, 1), 0);

	assert_int_equal(ipc_framer_next(f, &msg, &len), 1);
	assert_string_equal(msg, "{\"method\":\"status\"}");
	assert_int_equal(len, strlen(msg));
	/* not consumed: the same message again */
	assert_int_equal(ipc_framer_next(f, &msg, NULL), 1);
	assert_string_equal(msg, "{\"method\":\"status\"}");
	ipc_framer_consume(f);
	assert_int_equal(ipc_framer_next(f, &msg, &len), 1);
	assert_string_equal(msg, "{\"method\":\"reload\"}");
	ipc_framer_consume(f);
	msg = NULL;
	assert_int_equal(ipc_framer_next(f, &msg, &len), 0);
	assert_null(msg);
	assert_int_equal(ipc_framer_pending(f), 6);

	assert_int_equal(ipc_framer_feed(f, "od\":\"x\"}", 9), 0); /* includes the NUL */
	assert_int_equal(ipc_framer_next(f, &msg, NULL), 1);
	assert_string_equal(msg, "{\"method\":\"x\"}");
	ipc_framer_consume(f);
	assert_int_equal(ipc_framer_pending(f), 0);
	assert_int_equal(ipc_framer_next(f, &msg, NULL), 0);
}

static void test_framer_limit(void **state)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = framer(8);
	const char *msg = NULL;

	/* exactly the limit is fine */
	assert_int_equal(ipc_framer_feed(f, "12345678", 9), 0);
	assert_int_equal(ipc_framer_next(f, &msg, NULL), 1);
	assert_string_equal(msg, "12345678");
	ipc_framer_consume(f);
	msg = NULL;

	/* one more, fed in two parts without a NUL: refused */
	assert_int_equal(ipc_framer_feed(f, "12345", 5), 0);
	assert_int_equal(ipc_framer_feed(f, "6789", 4), -EMSGSIZE);
	/* poisoned from now on */
	assert_int_equal(ipc_framer_feed(f, "\0", 1), -EMSGSIZE);
	assert_int_equal(ipc_framer_next(f, &msg, NULL), -EMSGSIZE);
	assert_null(msg);
}

static void test_framer_limit_complete_message(void **state)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = framer(4);

	/* an oversized complete message arriving in one chunk is caught too */
	assert_int_equal(ipc_framer_feed(f, "ab\0abcdefgh\0", 12), -EMSGSIZE);
}

static void test_framer_default_limit(void **state)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = framer(0);
	_cleanup_free_ char *big = malloc(IPC_REQUEST_MAX + 1);

	assert_non_null(big);
	memset(big, 'x', IPC_REQUEST_MAX + 1);
	assert_int_equal(ipc_framer_feed(f, big, IPC_REQUEST_MAX), 0);
	assert_int_equal(ipc_framer_feed(f, big, 1), -EMSGSIZE);
	assert_int_equal(ipc_framer_new(NULL), -EINVAL);
}

static void test_framer_read(void **state)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = framer(0);
	const char *msg = NULL;
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
	assert_int_equal(ipc_framer_read(f, fds[0]), -EAGAIN);
	assert_int_equal(write(fds[1], "{}\0{", 4), 4);
	assert_int_equal(ipc_framer_read(f, fds[0]), 4);
	assert_int_equal(ipc_framer_next(f, &msg, NULL), 1);
	assert_string_equal(msg, "{}");
	ipc_framer_consume(f);
	close(fds[1]);
	assert_int_equal(ipc_framer_read(f, fds[0]), 0); /* EOF */
	assert_int_equal(ipc_framer_pending(f), 1);
	close(fds[0]);
}

/* ---- client call against a forked one-shot server ---- */

struct tmpdir {
	char path[64];
};

static int setup_tmpdir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->path, sizeof(t->path), "/tmp/test-ipc.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	*state = t;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	struct tmpdir *t = *state;
	char sock[128];

	snprintf(sock, sizeof(sock), "%s/control", t->path);
	unlink(sock);
	rmdir(t->path);
	free(t);
	return 0;
}

static int listen_at(const char *dir, bool do_listen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_non_null(ipc_socket_path(dir, sa.sun_path, sizeof(sa.sun_path)));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Answer one request on fd ("boom" gets an error reply); exits with a code on failure. */
static void answer(int fd)
{
	struct ipc_framer *f = NULL;
	struct json_object *params = NULL, *reply;
	const char *msg = NULL;
	char *method = NULL, *out = NULL;
	size_t len, off = 0;

	if (fd < 0 || ipc_framer_new(&f) < 0)
		_exit(10);
	while (ipc_framer_next(f, &msg, &len) == 0)
		if (ipc_framer_read(f, fd) <= 0)
			_exit(11);
	if (ipc_request_decode(msg, len, &method, &params) < 0)
		_exit(12);
	if (streq(method, "boom")) {
		if (ipc_error_encode(IPC_ERROR_PERMISSION_DENIED, "only root may reload", NULL, &out, &len) < 0)
			_exit(13);
	} else {
		reply = json_object_new_object();
		json_object_object_add(reply, "method", json_object_new_string(method));
		json_object_object_add(reply, "echo", json_object_get(params));
		if (ipc_reply_encode(reply, &out, &len) < 0)
			_exit(14);
		json_object_put(reply);
	}
	/* dribble the reply out in two writes to exercise the client's framing */
	while (off < len) {
		size_t chunk = off == 0 ? len / 2 : len - off;
		ssize_t n = write(fd, out + off, chunk);

		if (n <= 0)
			_exit(15);
		off += (size_t)n;
		usleep(1000);
	}
	free(out);
	free(method);
	json_object_put(params);
	ipc_framer_free(f);
	close(fd);
}

/* Child: accept one connection, answer one request. */
static void serve_one(int lfd)
{
	answer(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
	_exit(0);
}

static void test_call_roundtrip(void **state)
{
	struct tmpdir *t = *state;
	_cleanup_(json_object_putp) struct json_object *p = parse("{\"kdamond\":\"reclaim\"}");
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *error = NULL;
	struct json_object *v, *w;
	int lfd = listen_at(t->path, true), status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		serve_one(lfd);
	close(lfd);

	assert_int_equal(ipc_call(t->path, "regions", p, 5000, &out, &error), 0);
	assert_null(error);
	assert_true(json_object_object_get_ex(out, "method", &v));
	assert_string_equal(json_object_get_string(v), "regions");
	assert_true(json_object_object_get_ex(out, "echo", &v));
	assert_true(json_object_object_get_ex(v, "kdamond", &w));
	assert_string_equal(json_object_get_string(w), "reclaim");

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_call_error_reply(void **state)
{
	struct tmpdir *t = *state;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *error = NULL;
	struct json_object *v;
	int lfd = listen_at(t->path, true), status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		serve_one(lfd);
	close(lfd);

	assert_int_equal(ipc_call(t->path, "boom", NULL, 5000, &out, &error), 0);
	assert_string_equal(error, IPC_ERROR_PERMISSION_DENIED);
	assert_true(json_object_object_get_ex(out, "message", &v));
	assert_string_equal(json_object_get_string(v), "only root may reload");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_call_no_daemon(void **state)
{
	struct tmpdir *t = *state;
	struct json_object *out = NULL;
	char *error = NULL;
	char longdir[200];
	int fd;

	/* nothing there */
	assert_int_equal(ipc_call(t->path, "status", NULL, 1000, &out, &error), -ENOENT);
	/* a stale socket nobody listens on (crashed daemon) */
	fd = listen_at(t->path, false);
	close(fd);
	assert_int_equal(ipc_call(t->path, "status", NULL, 1000, &out, &error), -ECONNREFUSED);
	assert_null(out);
	assert_null(error);

	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(ipc_call(longdir, "status", NULL, 1000, &out, &error), -ENAMETOOLONG);
}

static void test_call_timeout(void **state)
{
	struct tmpdir *t = *state;
	struct json_object *out = NULL;
	char *error = NULL;
	int lfd = listen_at(t->path, true); /* listens, never accepts or answers */
	struct timespec a, b;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(ipc_call(t->path, "status", NULL, 200, &out, &error), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 150 && ms < 3000);
	close(lfd);
}

static void test_call_closed_without_reply(void **state)
{
	struct tmpdir *t = *state;
	struct json_object *out = NULL;
	char *error = NULL;
	int lfd = listen_at(t->path, true), status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char buf[64];

		if (fd < 0)
			_exit(1);
		(void)!read(fd, buf, sizeof(buf));
		_exit(0); /* closes without a reply */
	}
	close(lfd);
	assert_int_equal(ipc_call(t->path, "status", NULL, 5000, &out, &error), -ECONNRESET);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/*
 * A full listen backlog: a non-blocking connect() fails with EAGAIN, and
 * damondctl used to give up after one retry. Clients must wait for room
 * (issue 11 item 2): 12 of them against a backlog of one slot and a server
 * that starts accepting only after 300 ms.
 */
static void test_call_full_backlog(void **state)
{
	enum { N = 12 };
	struct tmpdir *t = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t server, clients[N];
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), status, failed = 0, first_error = 0;

	assert_true(lfd >= 0);
	assert_non_null(ipc_socket_path(t->path, sa.sun_path, sizeof(sa.sun_path)));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0); /* room for one pending connection */

	for (int i = 0; i < N; i++) {
		clients[i] = fork();
		assert_true(clients[i] >= 0);
		if (clients[i] == 0) {
			struct json_object *out = NULL;
			char *error = NULL;
			int r = ipc_call(t->path, "status", NULL, 10000, &out, &error);

			json_object_put(out);
			free(error);
			_exit(r == 0 ? 0 : (-r) & 0x7f);
		}
	}
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		alarm(20); /* clients that gave up never connect: do not wait for them forever */
		usleep(300 * 1000); /* every client finds the backlog full */
		for (int i = 0; i < N; i++)
			answer(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
		_exit(0);
	}
	close(lfd);
	for (int i = 0; i < N; i++) {
		assert_int_equal(waitpid(clients[i], &status, 0), clients[i]);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && !first_error)
			first_error = WEXITSTATUS(status);
	}
	if (failed) {
		kill(server, SIGKILL); /* it waits for clients that gave up */
		waitpid(server, NULL, 0);
		fail_msg("%d of %d clients failed, the first with %s", failed, N, strerror(first_error));
	}
	assert_int_equal(waitpid(server, &status, 0), server);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A backlog that stays full: -EAGAIN when the call's timeout passes. */
static void test_call_backlog_stays_full(void **state)
{
	struct tmpdir *t = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *out = NULL;
	char *error = NULL;
	struct timespec a, b;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), filler;
	long ms;

	assert_true(lfd >= 0);
	assert_non_null(ipc_socket_path(t->path, sa.sun_path, sizeof(sa.sun_path)));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&sa, sizeof(sa)), 0); /* the one slot */

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(ipc_call(t->path, "status", NULL, 300, &out, &error), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 3000);
	assert_null(out);
	close(filler);
	close(lfd);
}

/* ---- renderers ---- */

static const char status_json[] =
	"{\"version\":\"0.1.0\",\"pid\":123,\"sysfs_root\":\"/sys\",\"dry_run\":false,"
	"\"config\":{\"path\":\"/etc/damond.yaml\",\"generation\":2,\"last_reload\":{\"ok\":false,\"at_us\":1000000,"
	"\"errors\":[\"/etc/damond.yaml:4:9: kdamonds[0].schemes[0].quotas.bytes: not a size\"]}},"
	"\"monitor\":{\"source\":\"sysfs-polling\",\"reason\":\"BPF disabled at build time\",\"events_per_s\":0,"
	"\"drops\":0},"
	"\"features\":{\"damon_sysfs\":true,\"fail_charge\":false,\"goal_tuner\":false,\"refresh_ms\":true,"
	"\"tracepoints\":[\"damon_aggregated\",\"damos_before_apply\"],\"btf\":false,"
	"\"modules\":{\"damon_stat\":\"off\",\"damon_reclaim\":\"absent\",\"damon_lru_sort\":\"on\"}},"
	"\"kdamonds\":[{\"name\":\"reclaim\",\"index\":0,\"state\":\"on\",\"pid\":4242,\"adopted\":true,"
	"\"ops\":\"paddr\",\"intervals\":{\"sample_us\":5000,\"aggr_us\":100000,\"update_us\":1000000},"
	"\"nr_regions\":{\"min\":10,\"max\":1000},"
	"\"targets\":[{\"index\":0,\"pid\":0,\"regions\":[{\"start\":4096,\"end\":2147487744}],"
	"\"snapshot\":{\"nr_regions\":12,\"hot_bytes\":1048576,\"cold_bytes\":2097152,\"age_s\":0.3}}],"
	"\"schemes\":[{\"name\":\"cold\",\"slot\":0,\"action\":\"pageout\",\"tombstone\":false,"
	"\"access_pattern\":{\"sz\":{\"min\":0,\"max\":18446744073709551615},\"nr_accesses\":{\"min\":0,\"max\":0},"
	"\"age\":{\"min\":300,\"max\":4294967295}},"
	"\"quota\":{\"bytes\":33554432,\"ms\":0,\"reset_interval_ms\":1000,\"effective_bytes\":33554432,"
	"\"goals\":[{\"metric\":\"some_mem_psi_us\",\"target_value\":1000}],\"goal_tuner\":\"consist\"},"
	"\"stats\":{\"nr_tried\":17,\"sz_tried\":69632,\"nr_applied\":3,\"sz_applied\":12288,\"qt_exceeds\":5,"
	"\"sz_ops_filter_passed\":null},"
	"\"rates\":{\"sz_tried_bps\":13946060.8,\"sz_applied_bps\":2.5},"
	"\"watermarks\":{\"metric\":\"none\",\"state\":\"n/a\"},"
	"\"fail_charge\":{\"mode\":\"emulated\",\"num\":1,\"denom\":4096,\"user_quota_bytes\":33554432,"
	"\"kernel_quota_bytes\":67108864,\"failure_share\":0.56,\"excluded_bytes\":0,"
	"\"adjustments\":[{\"at_us\":2000000,\"quota_bytes\":67108864,\"reason\":\"failures above share\"}]}}],"
	"\"last_action\":{\"what\":\"commit\",\"why\":\"reload generation 2\",\"at_us\":3000000}}],"
	"\"actions\":[{\"at_us\":3000000,\"kdamond\":\"reclaim\",\"what\":\"commit\",\"why\":\"quota changed\"}]}";

static char *render(int (*fn)(struct json_object *, FILE *), struct json_object *o, int expect)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(fn(o, f), expect);
	fclose(f);
	return text;
}

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("missing \"%s\" in:\n%s", (needle), (hay));                       \
	} while (0)

static char *render_summary_plain(struct json_object *o)
{
	const struct status_summary_opts opts = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(status_render_summary(o, f, &opts), 0);
	fclose(f);
	return text;
}

/*
 * Schema 2 named the scheme fields as the config's keys. A damondctl still
 * renders a schema 1 document (a damond from before an upgrade, still
 * running) the same: status_json above is schema 1.
 */
static void test_status_render_schema1(void **state)
{
	_cleanup_(json_object_putp) struct json_object *v1 = parse(status_json);
	_cleanup_(json_object_putp) struct json_object *v2 = parse(status_json);
	_cleanup_free_ char *t1 = NULL, *t2 = NULL, *s1 = NULL, *s2 = NULL;
	struct json_object *sc, *q, *x;

	status_upgrade(v2);
	sc = json_object_array_get_idx(
		json_object_object_get(json_object_array_get_idx(json_object_object_get(v2, "kdamonds"), 0), "schemes"),
		0);
	assert_false(json_object_object_get_ex(sc, "quota", NULL));
	q = json_object_object_get(sc, "quotas");
	assert_non_null(q);
	assert_int_equal(json_object_get_int64(json_object_object_get(q, "sz_bytes")), 33554432);
	assert_true(json_object_object_get_ex(q, "effective_sz_bytes", NULL));
	assert_false(json_object_object_get_ex(q, "bytes", NULL));
	assert_true(json_object_object_get_ex(json_object_object_get(sc, "access_pattern"), "sz_bytes", &x));
	assert_true(json_object_object_get_ex(json_object_object_get(sc, "rates"), "sz_tried_bytes_per_s", &x));
	assert_true(json_object_get_double(x) > 13946060.0);
	/* a schema 2 document is left alone */
	json_object_object_add(v2, "schema_version", json_object_new_int(2));
	json_object_object_add(q, "bytes", json_object_new_int(1));
	status_upgrade(v2);
	assert_int_equal(json_object_get_int64(json_object_object_get(q, "sz_bytes")), 33554432);
	json_object_object_del(q, "bytes");

	t1 = render(status_render_text, v1, 0);
	t2 = render(status_render_text, v2, 0);
	assert_string_equal(t1, t2);
	assert_contains(t2, "quota");
	assert_contains(t2, "32.0MiB per 1s");
	s1 = render_summary_plain(v1);
	s2 = render_summary_plain(v2);
	assert_string_equal(s1, s2);
	assert_contains(s2, "of a 32.0MiB/s quota");
}

/* BPF monitor: the ring's size and the fill level at which damond is woken. */
static void test_status_render_bpf_ring(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(status_json);
	_cleanup_free_ char *text = NULL;

	json_object_object_add(st, "monitor",
			       parse("{\"source\":\"bpf\",\"events_per_s\":200000,\"drops\":0,"
				     "\"bpf\":{\"ring_buffer_kib\":2048,\"wake_kib\":1447,\"drains\":12}}"));
	text = render(status_render_text, st, 0);
	assert_contains(text, "bpf, 200000 events/s, 0 drops, ring 2.0MiB (damond woken at 1.4MiB)\n");
}

/* DAMON_STAT's numbers and a goal's current value, as damond computes them */
static void test_status_render_damon_stat_goals(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(status_json);
	_cleanup_free_ char *text = NULL;
	struct json_object *k = json_object_array_get_idx(json_object_object_get(st, "kdamonds"), 0);
	struct json_object *q =
		json_object_object_get(json_object_array_get_idx(json_object_object_get(k, "schemes"), 0), "quota");
	char ds[1400];
	int n = snprintf(ds, sizeof(ds),
			 "{\"estimated_memory_bandwidth_bytes_per_second\":1073741824,"
			 "\"aggr_interval_us\":100000,\"aggr_interval_source\":\"configured\","
			 "\"memory_idle_ms_percentiles\":[");

	for (int i = 0; i <= 100; i++)
		n += snprintf(ds + n, sizeof(ds) - (size_t)n, "%s%d", i ? "," : "", i <= 30 ? -200 : i * 100);
	snprintf(ds + n, sizeof(ds) - (size_t)n, "]}");
	json_object_object_add(k, "damon_stat", parse(ds));
	json_object_object_add(q, "goals",
			       parse("[{\"metric\":\"node_mem_free_bp\",\"target_value\":2000,\"current_value\":2500,"
				     "\"unit\":\"bp\",\"score_bp\":12500,\"nid\":0},"
				     "{\"metric\":\"some_mem_psi_us\",\"target_value\":1000,\"unit\":\"us\","
				     "\"current_unknown\":\"measuring\"}]"));
	text = render(status_render_text, st, 0);
	assert_contains(text,
			"  damon_stat        bandwidth 1.0GiB/s; idle p0 hot 200ms p25 hot 200ms p50 5s p75 7500ms "
			"p90 9s p100 10s (aggr 100ms, configured)\n");
	assert_contains(text, "node_mem_free_bp current 2500 bp / target 2000 bp (125.00 %, met) nid 0; "
			      "some_mem_psi_us current unknown (measuring) / target 1000 us");
}

/* A controller the renderer has no code for shows generically; the hand-rendered ones do not repeat */
static void test_status_render_generic_controller(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(status_json);
	_cleanup_free_ char *text = NULL;
	struct json_object *k = json_object_array_get_idx(json_object_object_get(st, "kdamonds"), 0);
	struct json_object *sc = json_object_array_get_idx(json_object_object_get(k, "schemes"), 0);

	json_object_object_add(sc, "shadow_quota",
			       parse("{\"mode\":\"tuning\",\"bytes\":4096,\"last\":{\"why\":\"psi high\"},"
				     "\"history\":[1,2,3]}"));
	json_object_object_add(sc, "controllers", parse("[\"fail_charge\",\"shadow_quota\"]"));
	json_object_object_add(k, "follow", parse("{\"cgroup\":\"/a.slice\",\"pids\":null}"));
	json_object_object_add(k, "controllers", parse("[\"refine\",\"follow\"]"));
	text = render(status_render_text, st, 0);
	assert_contains(text,
			"\n    shadow_quota    mode: tuning, bytes: 4096, last.why: psi high, history: 3 entries\n");
	assert_contains(text, "\n  follow            cgroup: /a.slice, pids: -\n");
	/* fail_charge and refine keep their own lines only */
	assert_null(strstr(text, "fail_charge     mode: emulated"));
	assert_contains(text, "    fail_charge     ");
}

/* A newer damond's status: the text says this damondctl may misread it */
static void test_status_render_newer_schema(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(status_json);
	_cleanup_free_ char *text = NULL, *same = NULL;

	json_object_object_add(st, "schema_version", json_object_new_int(STATUS_SCHEMA_VERSION));
	same = render(status_render_text, st, 0);
	assert_null(strstr(same, "newer than this damondctl"));
	json_object_object_add(st, "schema_version", json_object_new_int(STATUS_SCHEMA_VERSION + 1));
	text = render(status_render_text, st, 0);
	assert_contains(text, "is newer than this damondctl's");
}

static void test_status_render_full(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(status_json);
	_cleanup_free_ char *text = NULL;

	setenv("TZ", "UTC", 1);
	tzset();
	text = render(status_render_text, st, 0);

	assert_contains(text, "damond 0.1.0, pid 123, sysfs root /sys\n");
	assert_true(strstr(text, "DRY RUN") == NULL);
	assert_contains(text, "/etc/damond.yaml, generation 2");
	assert_contains(text, "FAILED (running config kept) at 1970-01-01 00:00:01");
	assert_contains(text, "/etc/damond.yaml:4:9: kdamonds[0].schemes[0].quotas.bytes: not a size");
	assert_contains(text, "sysfs-polling (BPF disabled at build time), 0 events/s, 0 drops");
	assert_contains(text, "kdamond \"reclaim\" #0: on, pid 4242, ops paddr, sample 5ms aggr 100ms update 1s, "
			      "regions 10..1000, adopted\n");
	assert_contains(text, "physical, 1 range: 0x1000-0x80001000 (2.0GiB)");
	assert_contains(text, "12 regions, hot 1.0MiB, cold 2.0MiB, 0.3s old");
	assert_contains(text, "scheme 0 \"cold\": pageout\n");
	assert_contains(text, "size 0B..max, nr_accesses 0..0, age 300..max (30s..max)");
	assert_contains(text, "32.0MiB per 1s, effective 32.0MiB (user 32.0MiB, kernel enforces 64.0MiB)");
	assert_contains(text, "some_mem_psi_us target 1000; tuner consist");
	assert_contains(text, "17 regions, 68.0KiB, 13.3MiB/s");
	assert_contains(text, "3 regions, 12.0KiB, 3B/s");
	assert_contains(text, "    qt_exceeds      5\n");
	assert_null(strstr(text, "filter passed")); /* null: the kernel has no such stat */
	assert_contains(text, "    watermarks      none, n/a");
	assert_contains(text, "emulated, ratio 1/4096, failure share 56.0%, excluded 0B");
	assert_contains(text, "1970-01-01 00:00:02 quota 64.0MiB: failures above share");
	assert_contains(text, "commit (reload generation 2) at 1970-01-01 00:00:03");
	assert_contains(text, "  damon_sysfs             yes\n");
	assert_contains(text, "  fail_charge             no\n");
	assert_contains(text, "damon_aggregated, damos_before_apply");
	assert_contains(text, "damon_stat off, damon_reclaim absent, damon_lru_sort on");
	assert_contains(text, "1970-01-01 00:00:03  reclaim: commit (quota changed)");
}

/* damond lists only the first ranges of a big target (the text counts all of them); its own resources. */
static void test_status_render_truncated_ranges(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(
		"{\"version\":\"0.1.0\",\"pid\":1,"
		"\"resources\":{\"cpu_ms\":1250,\"rss_kib\":9216,\"heap_in_use_kib\":2560},"
		"\"kdamonds\":[{\"name\":\"big\",\"index\":0,\"state\":\"on\","
		"\"targets\":[{\"index\":0,\"pid\":0,\"nr_ranges\":20000,\"ranges_bytes\":81920000,"
		"\"regions\":[{\"start\":4096,\"end\":8192},{\"start\":12288,\"end\":16384},"
		"{\"start\":20480,\"end\":24576},{\"start\":28672,\"end\":32768},"
		"{\"start\":36864,\"end\":40960}]}]}]}");
	_cleanup_free_ char *text = NULL;

	text = render(status_render_text, st, 0);
	assert_contains(text, "physical, 20000 ranges: 0x1000-0x2000 0x3000-0x4000 0x5000-0x6000 0x7000-0x8000 "
			      "(+19996 more) (78.1MiB)");
	assert_contains(text, "cpu 1.2s, rss 9.0MiB, heap in use 2.5MiB");
}

static void test_status_render_sparse(void **state)
{
	/* Everything unknown or null: no crash, dashes. */
	_cleanup_(json_object_putp) struct json_object *st =
		parse("{\"pid\":null,\"kdamonds\":[{\"name\":\"x\",\"intervals\":null,\"schemes\":[{\"quota\":{},"
		      "\"stats\":null,\"rates\":{\"sz_tried_bps\":null},\"fail_charge\":{\"mode\":\"off\"},"
		      "\"access_pattern\":{\"sz\":null}}],\"targets\":[{\"pid\":77,\"snapshot\":null}]},{}],"
		      "\"monitor\":{},\"config\":{\"last_reload\":{}}}");
	_cleanup_(json_object_putp) struct json_object *empty = json_object_new_object();
	_cleanup_(json_object_putp) struct json_object *arr = json_object_new_array();
	_cleanup_free_ char *text = NULL, *t2 = NULL, *t3 = NULL;

	text = render(status_render_text, st, 0);
	assert_contains(text, "damond -, sysfs root -");
	assert_contains(text, "kdamond \"x\" #-: -, ops -, sample - aggr - update -, regions -..-\n");
	assert_contains(text, "pid 77, regions chosen by the kernel");
	assert_contains(text, "- regions, -, -\n");
	assert_contains(text, "    fail_charge     off\n");
	assert_contains(text, "size -..-");
	assert_contains(text, "kdamond \"-\" #-");

	t2 = render(status_render_text, empty, 0);
	assert_contains(t2, "no kdamonds");
	t3 = render(status_render_text, arr, -EINVAL);
	assert_string_equal(t3, "");
}

static void test_status_render_dry_run_tombstone(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st =
		parse("{\"dry_run\":true,\"kdamonds\":[{\"name\":\"k\",\"schemes\":[{\"slot\":1,\"action\":\"stat\","
		      "\"tombstone\":true,\"quota\":{\"bytes\":0,\"ms\":20,\"reset_interval_ms\":1500},"
		      "\"stats\":{\"sz_ops_filter_passed\":4096}}]}]}");
	_cleanup_free_ char *text = render(status_render_text, st, 0);

	assert_contains(text, "DRY RUN");
	assert_contains(text, "scheme 1: stat (tombstone");
	assert_contains(text, "unlimited per 1500ms, time 20ms, effective -");
	assert_contains(text, "    filter passed   4.0KiB\n");
}

static void test_features_render(void **state)
{
	_cleanup_(json_object_putp) struct json_object *reply =
		parse("{\"features\":{\"damon_sysfs\":true,\"pause\":false,\"tracepoints\":[],\"btf\":null,"
		      "\"modules\":{}}}");
	_cleanup_(json_object_putp) struct json_object *s = json_object_new_string("x");
	_cleanup_free_ char *text = render(features_render_text, reply, 0);
	_cleanup_free_ char *t2 = NULL;

	assert_contains(text, "kernel features\n");
	assert_contains(text, "  damon_sysfs             yes\n");
	assert_contains(text, "  pause                   no\n");
	assert_contains(text, "  tracepoints             none\n");
	assert_contains(text, "  btf                     -\n");
	assert_contains(text, "  modules                 none\n");
	t2 = render(features_render_text, s, -EINVAL);
}

static const char regions_json[] =
	"{\"kdamonds\":[{\"name\":\"reclaim\",\"targets\":[{\"index\":0,\"nr_regions\":2,\"max_nr_accesses\":10,"
	"\"regions\":[{\"start\":1048576,\"end\":2097152,\"nr_accesses\":10,\"age\":3},"
	"{\"start\":0,\"end\":1048576,\"nr_accesses\":0,\"age\":42}]}]},"
	"{\"name\":\"other\",\"targets\":[]}]}";

static char *render_regions(struct json_object *o, const char *k, unsigned w, bool color, int expect)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(regions_render_text(o, k, w, color, f), expect);
	fclose(f);
	return text;
}

static void test_regions_render(void **state)
{
	_cleanup_(json_object_putp) struct json_object *o = parse(regions_json);
	_cleanup_free_ char *text = render_regions(o, NULL, 10, false, 0);
	_cleanup_free_ char *one = render_regions(o, "other", 10, false, 0);
	_cleanup_free_ char *none = render_regions(o, "nope", 10, false, -ENOENT);
	_cleanup_free_ char *color = render_regions(o, "reclaim", 4, true, 0);

	assert_contains(text, "kdamond \"reclaim\"\n  target 0: 2 regions, max nr_accesses 10\n");
	assert_contains(text, "START");
	assert_contains(text, "0x0000000000100000 0x0000000000200000     1.0MiB          10          3\n");
	assert_contains(text, "0x0000000000000000 0x0000000000100000     1.0MiB           0         42\n");
	/* sorted by address: the cold first half, then the hot second half */
	assert_contains(text, "    heatmap  0000099999\n");
	assert_contains(text, "kdamond \"other\"\n  no targets\n");

	assert_true(strstr(one, "reclaim") == NULL);
	assert_contains(one, "kdamond \"other\"");
	assert_string_equal(none, "");

	assert_contains(color, "    heatmap  \033[48;5;17m  \033[48;5;196m  \033[0m\n");
}

static void test_heatmap_levels(void **state)
{
	_cleanup_(json_object_putp) struct json_object *r =
		parse("[{\"start\":0,\"end\":300,\"nr_accesses\":20},{\"start\":1000,\"end\":1100,\"nr_accesses\":0}]");
	_cleanup_(json_object_putp) struct json_object *empty = json_object_new_array();
	_cleanup_(json_object_putp) struct json_object *obj = json_object_new_object();
	uint8_t lv[4];

	/* gaps left out: 400 monitored bytes, 100 per cell; max from the data */
	assert_int_equal(regions_heatmap(r, 0, 4, lv), 0);
	assert_memory_equal(lv, ((uint8_t[]){ 9, 9, 9, 0 }), 4);
	/* an explicit max of 40 halves the levels (20/40*9 = 4.5 -> 5) */
	assert_int_equal(regions_heatmap(r, 40, 4, lv), 0);
	assert_memory_equal(lv, ((uint8_t[]){ 5, 5, 5, 0 }), 4);
	/* a cell straddling both regions: 2 cells of 200 bytes: (200*20)/200 and (100*20+100*0)/200 */
	assert_int_equal(regions_heatmap(r, 20, 2, lv), 0);
	assert_memory_equal(lv, ((uint8_t[]){ 9, 5 }), 2);

	memset(lv, 7, sizeof(lv));
	assert_int_equal(regions_heatmap(empty, 0, 4, lv), 0);
	assert_memory_equal(lv, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
	assert_int_equal(regions_heatmap(obj, 0, 4, lv), -EINVAL);
	assert_int_equal(regions_heatmap(r, 0, 0, lv), -EINVAL);
}

/*
 * damond.Busy: the daemon closed the connection without reading the
 * request (too many connections from that user, or a request too slow to
 * arrive). The client asks again until its timeout; after that the Busy
 * error is what it returns.
 */
static void test_call_busy_retried(void **state)
{
	struct tmpdir *t = *state;
	_cleanup_(json_object_putp) struct json_object *out = NULL;
	_cleanup_free_ char *error = NULL;
	struct json_object *v;
	int lfd = listen_at(t->path, true), status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char *busy = NULL;
		size_t len;

		alarm(20); /* a client that gave up never comes back */
		if (ipc_error_encode(IPC_ERROR_BUSY, "too many connections", NULL, &busy, &len) < 0)
			_exit(20);
		for (int i = 0; i < 2; i++) { /* told Busy at once, before the client even sent */
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0 || write(fd, busy, len) != (ssize_t)len)
				_exit(21);
			close(fd);
		}
		serve_one(lfd);
	}
	assert_int_equal(ipc_call(t->path, "status", NULL, 5000, &out, &error), 0);
	assert_null(error);
	assert_true(json_object_object_get_ex(out, "method", &v));
	assert_string_equal(json_object_get_string(v), "status");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* always Busy: the error comes back when the timeout passes */
	json_object_put(TAKE_PTR(out));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *busy = NULL;
		size_t len;

		alarm(20);
		if (ipc_error_encode(IPC_ERROR_BUSY, "too many connections", NULL, &busy, &len) < 0)
			_exit(20);
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				_exit(21);
			(void)!write(fd, busy, len);
			close(fd);
		}
	}
	close(lfd);
	assert_int_equal(ipc_call(t->path, "status", NULL, 300, &out, &error), 0);
	assert_non_null(error);
	assert_string_equal(error, IPC_ERROR_BUSY);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* ---- redaction for unprivileged peers ---- */

static void test_status_withhold_addresses(void **state)
{
	_cleanup_(json_object_putp) struct json_object *st = parse(
		"{\"kdamonds\":[{\"name\":\"r\",\"targets\":[{\"index\":0,\"pid\":0,\"nr_ranges\":2,"
		"\"ranges_bytes\":2146951168,\"regions\":[{\"start\":4096,\"end\":651264},"
		"{\"start\":1048576,\"end\":2147352576}],\"snapshot\":{\"nr_regions\":10}}],"
		"\"schemes\":[{\"name\":\"c\",\"fail_charge\":{\"mode\":\"emulated\",\"exclusion\":{\"by\":"
		"\"addr_reject_filters\",\"dir\":\"filters\",\"nr_ranges\":1,\"max_ranges\":16,\"ranges\":"
		"[{\"start\":1048576,\"end\":2147352576}]}}},{\"name\":\"s\"}],"
		"\"refine\":{\"reason\":\"12 regions > max/2: 3 cuts, the largest doubt [0x100000, 0x7ffe0000) at 1/20 "
		"accesses, cut at 0xABCdef0\"},\"last\":{\"why\":\"region refinement: [0x1000, 0x2000)\"}}],"
		"\"actions\":[{\"why\":\"0x\"},{\"why\":\"quota 0x10 of 0xzz\"}],\"pid\":4242}");
	_cleanup_(json_object_putp) struct json_object *notobj = json_object_new_array();
	_cleanup_free_ char *text = NULL;
	struct json_object *k, *t, *v;
	const char *doc;

	assert_int_equal(status_withhold_addresses(st), 0);
	k = json_object_array_get_idx(json_object_object_get(st, "kdamonds"), 0);
	t = json_object_array_get_idx(json_object_object_get(k, "targets"), 0);
	assert_int_equal(json_object_array_length(json_object_object_get(t, "regions")), 0);
	assert_true(json_object_get_boolean(json_object_object_get(t, "addresses_withheld")));
	assert_int_equal(json_object_get_int64(json_object_object_get(t, "nr_ranges")), 2);
	assert_int_equal(json_object_get_int64(json_object_object_get(t, "ranges_bytes")), 2146951168);
	assert_true(json_object_object_get_ex(t, "snapshot", &v) && v);
	v = json_object_array_get_idx(json_object_object_get(k, "schemes"), 0);
	v = json_object_object_get(json_object_object_get(v, "fail_charge"), "exclusion");
	assert_int_equal(json_object_array_length(json_object_object_get(v, "ranges")), 0);
	assert_true(json_object_get_boolean(json_object_object_get(v, "addresses_withheld")));
	assert_int_equal(json_object_get_int64(json_object_object_get(v, "nr_ranges")), 1);
	v = json_object_object_get(json_object_object_get(k, "refine"), "reason");
	assert_string_equal(json_object_get_string(v), "12 regions > max/2: 3 cuts, the largest doubt [0x?, 0x?) at "
						       "1/20 accesses, cut at 0x?");
	v = json_object_object_get(json_object_object_get(k, "last"), "why");
	assert_string_equal(json_object_get_string(v), "region refinement: [0x?, 0x?)");
	v = json_object_array_get_idx(json_object_object_get(st, "actions"), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "why")), "quota 0x? of 0xzz");
	v = json_object_array_get_idx(json_object_object_get(st, "actions"), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(v, "why")), "0x");
	assert_int_equal(json_object_get_int(json_object_object_get(st, "pid")), 4242);

	doc = json_object_to_json_string(st);
	assert_null(strstr(doc, "1048576"));
	assert_null(strstr(doc, "651264"));
	text = render(status_render_text, st, 0);
	assert_contains(text, "physical, 2 ranges (2.0GiB), addresses withheld (root or control_group only)");
	assert_null(strstr(text, "0x1"));

	assert_int_equal(status_withhold_addresses(notobj), -EINVAL);
	assert_int_equal(status_withhold_addresses(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_null_params),
		cmocka_unit_test(test_request_encode_invalid),
		cmocka_unit_test(test_request_decode_invalid),
		cmocka_unit_test(test_reply_roundtrip),
		cmocka_unit_test(test_error_roundtrip),
		cmocka_unit_test(test_reply_decode_invalid),
		cmocka_unit_test(test_strings_escaped),
		cmocka_unit_test(test_framer_pieces),
		cmocka_unit_test(test_framer_limit),
		cmocka_unit_test(test_framer_limit_complete_message),
		cmocka_unit_test(test_framer_default_limit),
		cmocka_unit_test(test_framer_read),
		cmocka_unit_test_setup_teardown(test_call_roundtrip, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_error_reply, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_no_daemon, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_timeout, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_closed_without_reply, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_full_backlog, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_backlog_stays_full, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_call_busy_retried, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test(test_status_withhold_addresses),
		cmocka_unit_test(test_status_render_full),
		cmocka_unit_test(test_status_render_damon_stat_goals),
		cmocka_unit_test(test_status_render_newer_schema),
		cmocka_unit_test(test_status_render_generic_controller),
		cmocka_unit_test(test_status_render_bpf_ring),
		cmocka_unit_test(test_status_render_truncated_ranges),
		cmocka_unit_test(test_status_render_sparse),
		cmocka_unit_test(test_status_render_schema1),
		cmocka_unit_test(test_status_render_dry_run_tombstone),
		cmocka_unit_test(test_features_render),
		cmocka_unit_test(test_regions_render),
		cmocka_unit_test(test_heatmap_levels),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
