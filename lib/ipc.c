/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control protocol codec, framer and client call (see ipc.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ipc.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* Serialise obj into a malloc'ed NUL-terminated text; len includes the NUL. */
static int serialize(struct json_object *obj, size_t max, char **ret, size_t *ret_len)
{
	const char *s;
	size_t n;
	char *copy;

	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	if (max > 0 && n > max)
		return -EMSGSIZE;
	copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, n + 1);
	*ret = copy;
	*ret_len = n + 1;
	return 0;
}

/* Add key to obj, taking ownership of val (also on failure). */
static int add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* A new reference to params, or a new empty object when params is NULL. */
static int params_ref(struct json_object *params, struct json_object **ret)
{
	struct json_object *o;

	if (params && !json_object_is_type(params, json_type_object))
		return -EINVAL;
	o = params ? json_object_get(params) : json_object_new_object();
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

int ipc_request_encode(const char *method, struct json_object *params, char **ret, size_t *ret_len)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL;
	struct json_object *p;
	int r;

	if (!method || !*method || !ret || !ret_len)
		return -EINVAL;
	r = params_ref(params, &p);
	if (r < 0)
		return r;
	msg = json_object_new_object();
	if (!msg) {
		json_object_put(p);
		return -ENOMEM;
	}
	r = add(msg, "method", json_object_new_string(method));
	if (r < 0) {
		json_object_put(p);
		return r;
	}
	r = add(msg, "parameters", p);
	if (r < 0)
		return r;
	return serialize(msg, IPC_REQUEST_MAX, ret, ret_len);
}

int ipc_reply_encode(struct json_object *params, char **ret, size_t *ret_len)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL;
	struct json_object *p;
	int r;

	if (!ret || !ret_len)
		return -EINVAL;
	r = params_ref(params, &p);
	if (r < 0)
		return r;
	msg = json_object_new_object();
	if (!msg) {
		json_object_put(p);
		return -ENOMEM;
	}
	r = add(msg, "parameters", p);
	if (r < 0)
		return r;
	return serialize(msg, 0, ret, ret_len);
}

int ipc_error_encode(const char *error, const char *message, struct json_object *extra, char **ret,
		     size_t *ret_len)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL, *p = NULL;
	int r;

	if (!error || !*error || !ret || !ret_len)
		return -EINVAL;
	if (extra && !json_object_is_type(extra, json_type_object))
		return -EINVAL;

	p = json_object_new_object();
	msg = json_object_new_object();
	if (!p || !msg)
		return -ENOMEM;
	if (extra) {
		json_object_object_foreach(extra, key, val)
		{
			if (!val) { /* JSON null is a NULL member in json-c */
				if (json_object_object_add(p, key, NULL) < 0)
					return -ENOMEM;
				continue;
			}
			r = add(p, key, json_object_get(val));
			if (r < 0)
				return r;
		}
	}
	if (message) {
		r = add(p, "message", json_object_new_string(message));
		if (r < 0)
			return r;
	}
	r = add(msg, "error", json_object_new_string(error));
	if (r < 0)
		return r;
	r = add(msg, "parameters", TAKE_PTR(p));
	if (r < 0)
		return r;
	return serialize(msg, 0, ret, ret_len);
}

/* Parse exactly one JSON object from buf[0..len), an optional final NUL allowed. */
static int parse_object(const char *buf, size_t len, struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error err;
	size_t end;

	if (!buf || !ret)
		return -EINVAL;
	if (len > 0 && buf[len - 1] == '\0')
		len--;
	if (len == 0 || memchr(buf, '\0', len))
		return -EBADMSG;
	if (len > INT32_MAX)
		return -EMSGSIZE;

	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (!o || err != json_tokener_success) {
		json_object_put(o);
		return -EBADMSG;
	}
	/* Trailing whitespace is harmless; anything else is a second value or garbage. */
	for (; end < len; end++)
		if (!strchr(" \t\r\n", buf[end])) {
			json_object_put(o);
			return -EBADMSG;
		}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	*ret = o;
	return 0;
}

/* The "parameters" member: a new reference, an empty object if absent/null, -EBADMSG otherwise. */
static int get_params(struct json_object *msg, struct json_object **ret)
{
	struct json_object *p = NULL;

	if (!json_object_object_get_ex(msg, "parameters", &p) || !p) {
		p = json_object_new_object();
		if (!p)
			return -ENOMEM;
		*ret = p;
		return 0;
	}
	if (!json_object_is_type(p, json_type_object))
		return -EBADMSG;
	*ret = json_object_get(p);
	return 0;
}

int ipc_request_decode(const char *buf, size_t len, char **ret_method, struct json_object **ret_params)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL, *params = NULL;
	struct json_object *m;
	const char *method;
	char *copy;
	int r;

	r = parse_object(buf, len, &msg);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(msg, "method", &m) || !json_object_is_type(m, json_type_string))
		return -EBADMSG;
	method = json_object_get_string(m);
	if (!method || !*method)
		return -EBADMSG;
	r = get_params(msg, &params);
	if (r < 0)
		return r;

	copy = strdup(method);
	if (!copy)
		return -ENOMEM;
	if (ret_method)
		*ret_method = copy;
	else
		free(copy);
	if (ret_params)
		*ret_params = TAKE_PTR(params);
	return 0;
}

int ipc_reply_decode(const char *buf, size_t len, struct json_object **ret_params, char **ret_error)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL, *params = NULL;
	_cleanup_free_ char *error = NULL;
	struct json_object *e;
	int r;

	r = parse_object(buf, len, &msg);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(msg, "error", &e) && e) {
		const char *s;

		if (!json_object_is_type(e, json_type_string))
			return -EBADMSG;
		s = json_object_get_string(e);
		if (!s || !*s)
			return -EBADMSG;
		error = strdup(s);
		if (!error)
			return -ENOMEM;
	}
	r = get_params(msg, &params);
	if (r < 0)
		return r;

	if (ret_params)
		*ret_params = TAKE_PTR(params);
	if (ret_error)
		*ret_error = TAKE_PTR(error);
	return 0;
}

/* ---- framer ---- */

struct ipc_framer {
	char *buf;
	size_t len, cap;
	size_t scanned; /* buf[0..scanned) has been checked by framer_scan() */
	size_t tail;    /* start of the message not terminated yet (after the last NUL) */
	size_t max;
	bool poisoned;
};

int ipc_framer_new(struct ipc_framer **ret)
{
	struct ipc_framer *f;

	if (!ret)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->max = IPC_REQUEST_MAX;
	*ret = f;
	return 0;
}

void ipc_framer_set_limit(struct ipc_framer *f, size_t max_message)
{
	if (f)
		f->max = max_message ?: IPC_REQUEST_MAX;
}

struct ipc_framer *ipc_framer_free(struct ipc_framer *f)
{
	if (f) {
		free(f->buf);
		free(f);
	}
	return NULL;
}

size_t ipc_framer_pending(const struct ipc_framer *f)
{
	return f ? f->len - f->tail : 0;
}

/* Look at the bytes appended since the last call; every message must fit the limit. */
static int framer_scan(struct ipc_framer *f)
{
	for (size_t i = f->scanned; i < f->len; i++) {
		if (f->buf[i] != '\0')
			continue;
		if (i - f->tail > f->max)
			goto poison;
		f->tail = i + 1;
	}
	f->scanned = f->len;
	if (f->len - f->tail > f->max)
		goto poison;
	return 0;
poison:
	f->poisoned = true;
	return -EMSGSIZE;
}

static int framer_reserve(struct ipc_framer *f, size_t extra)
{
	size_t want;
	char *p;

	if (extra <= f->cap - f->len)
		return 0;
	if (extra > SIZE_MAX / 4 - f->len)
		return -ENOMEM;
	want = MAX(f->cap * 2, (size_t)4096);
	while (want < f->len + extra)
		want *= 2;
	p = realloc(f->buf, want);
	if (!p)
		return -ENOMEM;
	f->buf = p;
	f->cap = want;
	return 0;
}

int ipc_framer_feed(struct ipc_framer *f, const void *data, size_t len)
{
	int r;

	if (!f || (!data && len > 0))
		return -EINVAL;
	if (f->poisoned)
		return -EMSGSIZE;
	if (len == 0)
		return 0;
	r = framer_reserve(f, len);
	if (r < 0)
		return r;
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	return framer_scan(f);
}

ssize_t ipc_framer_read(struct ipc_framer *f, int fd)
{
	ssize_t n;
	int r;

	if (!f || fd < 0)
		return -EINVAL;
	if (f->poisoned)
		return -EMSGSIZE;
	r = framer_reserve(f, 65536);
	if (r < 0)
		return r;
	n = read(fd, f->buf + f->len, f->cap - f->len);
	if (n < 0)
		return negative_errno();
	f->len += (size_t)n;
	r = framer_scan(f);
	if (r < 0)
		return r;
	return n;
}

int ipc_framer_next(struct ipc_framer *f, const char **ret, size_t *ret_len)
{
	const char *nul;

	if (!f || !ret)
		return -EINVAL;
	if (f->poisoned)
		return -EMSGSIZE;
	if (f->tail == 0) /* no NUL buffered */
		return 0;
	nul = memchr(f->buf, '\0', f->tail);
	*ret = f->buf;
	if (ret_len)
		*ret_len = (size_t)(nul - f->buf);
	return 1;
}

void ipc_framer_consume(struct ipc_framer *f)
{
	const char *nul;
	size_t n;

	if (!f || f->poisoned || f->tail == 0)
		return;
	nul = memchr(f->buf, '\0', f->tail);
	n = (size_t)(nul - f->buf) + 1;
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
	f->scanned -= n;
	f->tail -= n;
}

/* ---- client ---- */

char *ipc_socket_path(const char *runtime_dir, char *buf, size_t size)
{
	int n;

	if (!runtime_dir || !*runtime_dir || !buf)
		return NULL;
	n = snprintf(buf, size, "%s/%s", runtime_dir, IPC_SOCKET_NAME);
	if (n < 0 || (size_t)n >= size)
		return NULL;
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline (< 0: forever). 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int timeout = -1, n;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			timeout = (int)MIN(left, (int64_t)INT32_MAX);
		}
		n = poll(&p, 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Connect to sa. When the daemon's listen backlog is full, the kernel makes
 * a blocking AF_UNIX connect() sleep until an accept() makes room (or
 * SO_SNDTIMEO passes); a non-blocking one fails at once with EAGAIN. So
 * connect blocking, the wait bounded by SO_SNDTIMEO = the time left, and
 * retry EAGAIN (a timeout, or a race with other waiters for the freed
 * slot) with a short randomised backoff until the deadline (< 0: none).
 * The socket is returned non-blocking. -EAGAIN when the backlog stayed
 * full until the deadline.
 */
static int connect_until(const struct sockaddr_un *sa, int64_t deadline, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int64_t backoff = 1;
	struct timespec now;
	unsigned seed;

	clock_gettime(CLOCK_MONOTONIC, &now);
	seed = (unsigned)getpid() * 2654435761u ^ (unsigned)now.tv_nsec;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	for (;;) {
		int64_t left = deadline < 0 ? 0 : deadline - now_ms(); /* SO_SNDTIMEO 0: no limit */
		struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };

		if (deadline >= 0 && left <= 0)
			return -EAGAIN;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
			return negative_errno();
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EINPROGRESS)
			return negative_errno();
		left = deadline < 0 ? INT64_MAX : deadline - now_ms();
		if (left <= 0)
			return -EAGAIN;
		/* 1, 2, 4 ... 64 ms, each +-50 %: waiters that lost a race do not retry in lockstep */
		sleep_ms(MIN(left, backoff / 2 + (int64_t)rand_r(&seed) % (backoff + 1)));
		backoff = MIN(backoff * 2, (int64_t)64);
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* One exchange on a new connection (see ipc_call()). */
static int call_once(const struct sockaddr_un *sa, const char *req, size_t req_len, int64_t deadline,
		     struct json_object **ret_params, char **ret_error)
{
	_cleanup_(ipc_framer_freep) struct ipc_framer *f = NULL;
	_cleanup_close_ int fd = -1;
	const char *reply = NULL;
	size_t reply_len, off = 0;
	int r, send_error = 0;

	r = ipc_framer_new(&f);
	if (r < 0)
		return r;
	ipc_framer_set_limit(f, IPC_REPLY_MAX);

	r = connect_until(sa, deadline, &fd);
	if (r < 0)
		return r;

	while (off < req_len) {
		ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET) {
				/* closed on us: it may have said why first (damond.Busy) */
				send_error = negative_errno();
				break;
			}
			if (errno != EAGAIN)
				return negative_errno();
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		off += (size_t)n;
	}

	for (;;) {
		ssize_t n;

		r = ipc_framer_next(f, &reply, &reply_len);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		n = ipc_framer_read(f, fd);
		if (n == -EAGAIN || n == -EINTR) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return send_error ?: (int)n;
		if (n == 0)
			return send_error ?: -ECONNRESET;
	}

	return ipc_reply_decode(reply, reply_len, ret_params, ret_error);
}

int ipc_call(const char *runtime_dir, const char *method, struct json_object *params, int timeout_ms,
	     struct json_object **ret_params, char **ret_error)
{
	_cleanup_free_ char *req = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t req_len;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms, backoff = 5;
	int r;

	if (!runtime_dir || !method)
		return -EINVAL;
	if (!ipc_socket_path(runtime_dir, sa.sun_path, sizeof(sa.sun_path)))
		return -ENAMETOOLONG;

	r = ipc_request_encode(method, params, &req, &req_len);
	if (r < 0)
		return r;

	for (;;) {
		_cleanup_(json_object_putp) struct json_object *p = NULL;
		_cleanup_free_ char *error = NULL;
		int64_t left, pause = backoff / 2 + (int64_t)(now_ms() ^ getpid()) % (backoff + 1);

		r = call_once(&sa, req, req_len, deadline, &p, &error);
		if (r < 0)
			return r;
		/* damond.Busy: the daemon did not read the request (too many connections); ask again */
		left = deadline < 0 ? INT64_MAX : deadline - now_ms();
		if (!error || !streq(error, IPC_ERROR_BUSY) || left <= 2 * pause) {
			if (ret_params)
				*ret_params = TAKE_PTR(p);
			if (ret_error)
				*ret_error = TAKE_PTR(error);
			return 0;
		}
		sleep_ms(pause);
		backoff = MIN(backoff * 2, (int64_t)100);
	}
}
