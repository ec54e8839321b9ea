/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol between damond and damondctl.
 *
 * Transport: an AF_UNIX SOCK_STREAM socket at RUNTIME_DIR/control. Shape
 * borrowed from varlink: every message is one JSON object terminated by a
 * NUL byte (JSON text never contains a raw NUL, json-c escapes it).
 *
 *   request  {"method": "status", "parameters": {...}}
 *   reply    {"parameters": {...}}
 *   error    {"error": "damond.InvalidConfig",
 *             "parameters": {"message": "...", "errors": ["file:line:col: key: msg"]}}
 *
 * Everything here except ipc_call() is pure (no I/O) and tested without
 * sockets. The JSON objects are json-c's; encoders never take a reference
 * to the objects they are given (the caller keeps ownership), decoders hand
 * out new references the caller must json_object_put().
 *
 * All functions return 0 (or a documented positive value) on success and a
 * negative errno on failure; ret_ out-parameters are written only on
 * success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "macro.h"

struct json_object;

#define IPC_SOCKET_NAME "control"

/* Largest request the daemon accepts (framer limit on the server side). */
#define IPC_REQUEST_MAX (1024u * 1024u)
/* Largest reply damondctl accepts: a regions dump of many targets is big. */
#define IPC_REPLY_MAX (64u * 1024u * 1024u)

/* Method names. */
#define IPC_METHOD_STATUS "status"
#define IPC_METHOD_RELOAD "reload"
#define IPC_METHOD_RESCAN "rescan"
#define IPC_METHOD_FEATURES "features"
#define IPC_METHOD_REGIONS "regions"

/* Error names. */
#define IPC_ERROR_PERMISSION_DENIED "damond.PermissionDenied"
#define IPC_ERROR_INVALID_CONFIG "damond.InvalidConfig"
#define IPC_ERROR_NO_SUCH_METHOD "damond.NoSuchMethod"
#define IPC_ERROR_INVALID_PARAMETER "damond.InvalidParameter"
#define IPC_ERROR_INVALID_REQUEST "damond.InvalidRequest"
#define IPC_ERROR_BUSY "damond.Busy"
#define IPC_ERROR_FAILED "damond.Failed"

/*
 * Encoders. *ret is a malloc'ed, NUL-terminated JSON text; *ret_len counts
 * the trailing NUL (it is the number of bytes to send). -EINVAL for a bad
 * argument (empty method/error name, params not an object), -ENOMEM.
 */
int ipc_request_encode(const char *method, struct json_object *params, char **ret, size_t *ret_len);
int ipc_reply_encode(struct json_object *params, char **ret, size_t *ret_len);
/*
 * Error reply: parameters = {"message": message (if non-NULL)} plus every
 * key of extra (if non-NULL, must be an object; its "message" key, if any,
 * is overridden by the message argument).
 */
int ipc_error_encode(const char *error, const char *message, struct json_object *extra, char **ret,
		     size_t *ret_len);

/*
 * Decoders. buf holds one message of len bytes, with or without its
 * trailing NUL; an embedded NUL, trailing garbage, a non-object, a missing
 * or empty method, or non-object parameters give -EBADMSG.
 *
 * ipc_request_decode: *ret_params is always an object (an empty one when
 * the request had none). Unknown top-level keys are ignored.
 *
 * ipc_reply_decode: on a success reply *ret_error = NULL; on an error reply
 * *ret_error = the error name and *ret_params its parameters. Both are
 * "successful decodes" and return 0: the caller looks at *ret_error.
 * ret_params and ret_error may each be NULL when not wanted.
 */
int ipc_request_decode(const char *buf, size_t len, char **ret_method, struct json_object **ret_params);
int ipc_reply_decode(const char *buf, size_t len, struct json_object **ret_params, char **ret_error);

/*
 * Client: connect to RUNTIME_DIR/control, send one request, read one reply
 * (within timeout_ms in total; < 0 waits forever) and decode it. When the
 * daemon's listen backlog is full, the connect waits for room (within
 * timeout_ms); a damond.Busy reply (the
 * daemon refused the connection unread) is retried with backoff until
 * timeout_ms, and returned as the error after that. Returns 0 when a reply
 * arrived (check *ret_error as for ipc_reply_decode), or -ENOENT/
 * -ECONNREFUSED when no daemon runs, -EAGAIN when the backlog stayed full,
 * -EACCES, -ETIMEDOUT, -ECONNRESET (daemon closed before replying),
 * -EBADMSG, -EMSGSIZE, -ENAMETOOLONG (runtime_dir too long for sun_path).
 */
int ipc_call(const char *runtime_dir, const char *method, struct json_object *params, int timeout_ms,
	     struct json_object **ret_params, char **ret_error);

/* Convenience for the error line: the path ipc_call() connects to. Returns buf or NULL. */
char *ipc_socket_path(const char *runtime_dir, char *buf, size_t size);

/*
 * Incremental framing for a stream socket: feed bytes as they arrive, look
 * at complete NUL-terminated messages one at a time, consume each when done.
 *
 *   r = ipc_framer_new(&f);                 // limit IPC_REQUEST_MAX
 *   r = ipc_framer_feed(f, buf, n);         // or ipc_framer_read(f, fd)
 *   while ((r = ipc_framer_next(f, &msg, &len)) > 0) {
 *           ...decode msg...
 *           ipc_framer_consume(f);
 *   }
 *
 * A message longer than the limit (not counting its NUL) makes feed/read/
 * next return -EMSGSIZE; the framer is then poisoned (the stream cannot be
 * resynchronised reliably) and the connection should be closed.
 */
struct ipc_framer;

int ipc_framer_new(struct ipc_framer **ret);
struct ipc_framer *ipc_framer_free(struct ipc_framer *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ipc_framer *, ipc_framer_free);
/* Per-message limit in bytes, 0 = IPC_REQUEST_MAX. damondctl uses IPC_REPLY_MAX. */
void ipc_framer_set_limit(struct ipc_framer *f, size_t max_message);

/* Append bytes. 0, -EMSGSIZE, -ENOMEM. */
int ipc_framer_feed(struct ipc_framer *f, const void *data, size_t len);
/*
 * One read() from a (non-blocking) fd into the framer: number of bytes
 * read (> 0), 0 at end of file, -EAGAIN, -EMSGSIZE, or the read() errno.
 */
ssize_t ipc_framer_read(struct ipc_framer *f, int fd);
/*
 * The oldest complete message: 1 with *ret pointing at it inside the
 * framer (NUL-terminated; valid until the next feed/read/consume/free) and
 * *ret_len its length without the NUL (ret_len may be NULL); 0 when no
 * complete message is buffered; -EMSGSIZE when poisoned. Calling it again
 * without ipc_framer_consume() returns the same message.
 */
int ipc_framer_next(struct ipc_framer *f, const char **ret, size_t *ret_len);
/* Drop the oldest complete message (the one next() returns); no-op if none. */
void ipc_framer_consume(struct ipc_framer *f);
/* Bytes buffered that do not form a complete message yet (tests, fuzz). */
size_t ipc_framer_pending(const struct ipc_framer *f);
