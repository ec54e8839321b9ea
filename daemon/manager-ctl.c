/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: RUNTIME_DIR/control, AF_UNIX stream, NUL-terminated
 * JSON messages (lib/ipc.h). Anyone may read status and features; regions,
 * reload and the addresses in status are for privileged peers: root and
 * members of settings.control_group.
 *
 * Who a peer is comes from the socket, once, at accept: SO_PEERCRED (uid,
 * gid) and SO_PEERGROUPS (supplementary groups), as the kernel recorded
 * them at connect(). Never from the message, never from /proc/PID (the PID
 * may be gone or reused by the time a request arrives).
 *
 * No local user can lock root out (docs/ARCHITECTURE.md, "Control socket"):
 *  - privileged and unprivileged peers have separate connection pools;
 *    unprivileged peers can never take a privileged slot;
 *  - one unprivileged uid holds at most CTL_MAX_PER_UID connections, all
 *    unprivileged uids together CTL_MAX_UNPRIVILEGED: beyond, a new
 *    connection holds no slot: what it already sent is answered at once,
 *    else it is told damond.Busy; then it is closed (client_serve_now());
 *  - a request must be complete within CTL_REQUEST_USEC of the accept (or of
 *    the previous reply): a fixed deadline, bytes do not extend it;
 *  - a reply must be taken within CTL_REPLY_USEC;
 *  - the listener accepts in batches and drains the backlog continuously, so
 *    refused connections leave it at once. Only when CTL_MAX_PRIVILEGED
 *    privileged connections are open (or fds ran out) does accepting pause;
 *    later clients wait in the backlog (damondctl waits for room in it).
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "config.h"
#include "ipc.h"
#include "log.h"
#include "manager.h"
#include "status-render.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#include "metrics.h"

#define CTL_SOCKET_NAME "control"
/* listen() backlog; the kernel caps it at net.core.somaxconn (4096 since Linux 5.4) */
#define CTL_BACKLOG 1024
#define CTL_MAX_PER_UID 4
#define CTL_MAX_UNPRIVILEGED 64
#define CTL_MAX_PRIVILEGED 64
/* connections accepted per wakeup of the listener */
#define CTL_ACCEPT_BATCH 64
/* of which answered at once beyond the caps: a flood of requests delays the others by this many at most */
#define CTL_SERVE_NOW_BATCH 8
#define CTL_REQUEST_USEC (2 * 1000000ULL)
#define CTL_REPLY_USEC (30 * 1000000ULL)
/* requests are a few dozen bytes; an unprivileged peer may not make damond buffer more */
#define CTL_UNPRIVILEGED_REQUEST_MAX (64u * 1024u)
/* after accept() ran out of fds or memory */
#define CTL_ACCEPT_RETRY_USEC (100 * 1000ULL)
#define CTL_REFUSAL_LOG_USEC (10 * 1000000ULL)

struct ctl_client {
	struct manager *m;
	struct ctl_client *prev, *next;
	int fd;
	sd_event_source *src;
	sd_event_source *deadline; /* drops the client: request not complete or reply not taken in time */
	struct ipc_framer *framer;
	struct ucred cred;
	bool privileged; /* root or control_group, from the socket at accept */
	bool one_shot;   /* beyond the caps: closed once its reply is out */
	char *out;
	size_t out_len, out_off;
};

static struct {
	struct ctl_client *clients;
	unsigned nr_privileged, nr_unprivileged;
	bool fd_shortage; /* accept() failed with EMFILE & co: paused until resume */
	sd_event_source *resume;
	/* refusals since the last log line (one line per CTL_REFUSAL_LOG_USEC at most) */
	unsigned refused;
	uid_t refused_uid;
	usec_t refusal_logged_at;
	/* control_group resolved to a gid once per configuration generation */
	unsigned group_generation;
	char group_name[65];
	bool group_valid, group_found;
	gid_t group_gid;
} ctl;

static void ctl_update_listener(struct manager *m)
{
	bool on = !ctl.fd_shortage && ctl.nr_privileged < CTL_MAX_PRIVILEGED;

	if (m->ctl_source)
		(void)sd_event_source_set_enabled(m->ctl_source, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

static void client_free(struct ctl_client *c)
{
	if (!c)
		return;
	sd_event_source_disable_unref(c->src);
	sd_event_source_disable_unref(c->deadline);
	if (c->fd >= 0)
		close(c->fd);
	ipc_framer_free(c->framer);
	free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else if (ctl.clients == c)
		ctl.clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->privileged)
		ctl.nr_privileged--;
	else
		ctl.nr_unprivileged--;
	ctl_update_listener(c->m);
	free(c);
}

/* settings.control_group as a gid; false when none is configured or it does not exist. */
static bool control_gid(struct manager *m, gid_t *ret)
{
	const char *g = m->config ? m->config->settings.control_group : NULL;

	if (!g)
		return false;
	/* getgrnam() may ask NSS (files, or a directory service): once per generation, not per peer */
	if (!ctl.group_valid || ctl.group_generation != m->generation || !streq(ctl.group_name, g)) {
		struct group *gr = getgrnam(g);

		snprintf(ctl.group_name, sizeof(ctl.group_name), "%s", g);
		ctl.group_generation = m->generation;
		ctl.group_valid = true;
		ctl.group_found = gr != NULL;
		if (gr)
			ctl.group_gid = gr->gr_gid;
		else
			log_warning("control_group '%s' does not exist: only root may reload", g);
	}
	*ret = ctl.group_gid;
	return ctl.group_found;
}

/* Is gid among the peer's supplementary groups (SO_PEERGROUPS, Linux 4.13+)? */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t small[64];
	_cleanup_free_ gid_t *big = NULL;
	gid_t *v = small;
	socklen_t len = sizeof(small);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0) {
		if (errno != ERANGE || len == 0 || len > NGROUPS_MAX * sizeof(gid_t))
			return false;
		big = malloc(len);
		if (!big)
			return false;
		v = big;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len) < 0)
			return false;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (v[i] == gid)
			return true;
	return false;
}

static bool peer_privileged(struct manager *m, int fd, const struct ucred *cred)
{
	gid_t g;

	if (cred->uid == 0)
		return true;
	if (!control_gid(m, &g))
		return false;
	return cred->gid == g || peer_in_group(fd, g);
}

static unsigned connections_of(uid_t uid)
{
	unsigned n = 0;

	for (struct ctl_client *c = ctl.clients; c; c = c->next)
		n += !c->privileged && c->cred.uid == uid;
	return n;
}

static void note_refusal(const struct ucred *cred)
{
	usec_t now = now_usec();

	ctl.refused++;
	ctl.refused_uid = cred->uid;
	if (ctl.refusal_logged_at && now - ctl.refusal_logged_at < CTL_REFUSAL_LOG_USEC)
		return;
	log_notice("control socket: refused %u connection(s) from unprivileged peers, the last from uid %u (pid %d): "
		   "at most %u per uid and %u in all",
		   ctl.refused, (unsigned)ctl.refused_uid, (int)cred->pid, CTL_MAX_PER_UID, CTL_MAX_UNPRIVILEGED);
	ctl.refused = 0;
	ctl.refusal_logged_at = now;
}

static int client_set_deadline(struct ctl_client *c, usec_t usec)
{
	return sd_event_source_set_time(c->deadline, now_usec() + usec);
}

/* reload: root or the control group only; a rejected config comes back with its errors */
static int dispatch_reload(struct ctl_client *c, char **ret, size_t *ret_len)
{
	struct manager *m = c->m;
	struct json_object *reply;
	struct config_errors errs = {};
	int r;

	if (!c->privileged) {
		log_notice("refused reload from uid %u (pid %d): not root nor in the control group",
			   (unsigned)c->cred.uid, (int)c->cred.pid);
		return ipc_error_encode("damond.PermissionDenied",
					"reload needs root or membership of damond's control_group", NULL, ret,
					ret_len);
	}
	log_info("reload requested over the control socket by uid %u (pid %d)", (unsigned)c->cred.uid,
		 (int)c->cred.pid);
	r = manager_reload(m, &errs);
	if (r < 0 && m->last_reload.applied) {
		/* past the point of no return: say what the kernel holds now, never "unchanged" */
		_cleanup_free_ char *msg = NULL;
		struct json_object *extra = json_object_new_object();

		config_errors_done(&errs);
		reload_outcome_json(m, extra);
		if (m->last_reload.refused_generation
			    ? asprintf(&msg,
				       "the kernel refused the new configuration (generation %u) part way, for %zu "
				       "kdamond(s): %s",
				       m->last_reload.refused_generation, m->last_reload.nr_failed,
				       m->last_reload.changes ? m->last_reload.changes : "see 'damondctl status'") < 0
			    : asprintf(&msg,
				       "the new configuration (generation %u) is in force, but the kernel refused it for "
				       "%zu kdamond(s): %s",
				       m->generation, m->last_reload.nr_failed,
				       m->last_reload.changes ? m->last_reload.changes : "see 'damondctl status'") < 0)
			msg = NULL;
		r = ipc_error_encode("damond.ReloadIncomplete", msg ? msg : "reload incomplete", extra, ret, ret_len);
		json_object_put(extra);
		return r;
	}
	if (r < 0) {
		struct json_object *extra = json_object_new_object(), *arr = json_object_new_array();

		for (size_t i = 0; i < errs.n; i++) {
			_cleanup_free_ char *s = NULL;

			if (config_error_format(&errs.v[i], &s) >= 0)
				json_object_array_add(arr, json_object_new_string(s));
		}
		config_errors_done(&errs);
		json_object_object_add(extra, "errors", arr);
		r = ipc_error_encode("damond.InvalidConfig",
				     "the new configuration was rejected; the running one is unchanged", extra, ret,
				     ret_len);
		json_object_put(extra);
		return r;
	}
	config_errors_done(&errs);
	reply = json_object_new_object();
	json_object_object_add(reply, "generation", json_object_new_uint64(m->generation));
	reload_outcome_json(m, reply);
	r = ipc_reply_encode(reply, ret, ret_len);
	json_object_put(reply);
	return r;
}

static int dispatch(struct ctl_client *c, const char *method, struct json_object *params, char **ret,
		    size_t *ret_len)
{
	struct manager *m = c->m;
	struct json_object *reply = NULL;
	int r;

	/* routine wakeups are rare: answer from what the kdamonds emitted until now */
	if (streq(method, "status") || streq(method, "regions") || streq(method, METRICS_IPC_METHOD))
		manager_observe_drain(m);

	if (streq(method, "status")) {
		r = manager_status_json(m, &reply);
		/* physical and virtual addresses: /proc/iomem and `regions` withhold them from users too */
		if (r >= 0 && !c->privileged)
			r = status_withhold_addresses(reply);
	} else if (streq(method, METRICS_IPC_METHOD)) {
		_cleanup_free_ char *text = NULL;

		r = manager_metrics_text(m, &text, NULL);
		if (r >= 0) {
			reply = json_object_new_object();
			json_object_object_add(reply, "text", json_object_new_string(text));
		}
	} else if (streq(method, "features")) {
		r = manager_features_json(m, &reply);
	} else if (streq(method, "regions")) {
		struct json_object *k = NULL;
		const char *name = NULL;

		/* addresses of root's processes and physical memory: not for everyone */
		if (!c->privileged)
			return ipc_error_encode("damond.PermissionDenied",
						"regions needs root or membership of damond's control_group", NULL, ret,
						ret_len);
		if (params && json_object_object_get_ex(params, "kdamond", &k))
			name = json_object_get_string(k);
		r = manager_regions_json(m, name, &reply);
		if (r == -ENOENT)
			return ipc_error_encode("damond.NoSuchKdamond", "no kdamond of that name", NULL, ret, ret_len);
	} else if (streq(method, "reload")) {
		return dispatch_reload(c, ret, ret_len);
	} else if (streq(method, IPC_METHOD_RESCAN)) {
		/* followed processes and hotplugged memory resolved now (what the timer and uevents do) */
		if (!c->privileged)
			return ipc_error_encode("damond.PermissionDenied",
						"rescan needs root or membership of damond's control_group", NULL, ret,
						ret_len);
		log_info("rescan requested over the control socket by uid %u (pid %d)", (unsigned)c->cred.uid,
			 (int)c->cred.pid);
		reply = json_object_new_object();
		json_object_object_add(reply, "processes", json_object_new_int(follow_rescan(m)));
		json_object_object_add(reply, "memory", json_object_new_int(memory_rescan(m)));
		r = 0;
	} else {
		return ipc_error_encode("damond.NoSuchMethod", method, NULL, ret, ret_len);
	}
	if (r < 0)
		return ipc_error_encode("damond.Failed", strerror(-r), NULL, ret, ret_len);
	r = ipc_reply_encode(reply, ret, ret_len);
	json_object_put(reply);
	return r;
}

/* Best effort, on a connection about to be closed with its request unanswered. */
static void send_busy(struct ctl_client *c, const char *why)
{
	_cleanup_free_ char *msg = NULL;
	size_t len;

	if (ipc_error_encode(IPC_ERROR_BUSY, why, NULL, &msg, &len) >= 0)
		(void)send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Answer the next complete request, if any; the reply is sent as the socket allows. */
static int client_process(struct ctl_client *c)
{
	_cleanup_free_ char *method = NULL;
	struct json_object *params = NULL;
	const char *msg;
	size_t len;
	int r;

	if (c->out)
		return 0; /* one request at a time, in order */
	r = ipc_framer_next(c->framer, &msg, &len);
	if (r <= 0)
		return r;
	r = ipc_request_decode(msg, len, &method, &params);
	if (r < 0)
		r = ipc_error_encode("damond.InvalidRequest", "cannot decode the request", NULL, &c->out, &c->out_len);
	else
		r = dispatch(c, method, params, &c->out, &c->out_len);
	json_object_put(params);
	ipc_framer_consume(c->framer);
	if (r < 0)
		return r;
	c->out_off = 0;
	r = client_set_deadline(c, CTL_REPLY_USEC);
	if (r < 0)
		return r;
	/* no reading while a reply is pending: a client that never reads cannot grow our buffers */
	return sd_event_source_set_io_events(c->src, EPOLLOUT);
}

static int client_expired(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ctl_client *c = userdata;

	log_debug("control socket: dropped uid %u (pid %d): %s", (unsigned)c->cred.uid, (int)c->cred.pid,
		  c->out ? "reply not taken in time" : "no complete request in time");
	/* nothing was answered on it: a client that was only slow (a loaded machine) asks again */
	if (!c->out)
		send_busy(c, "no complete request within 2 s; it was not read");
	client_free(c);
	return 0;
}

static int client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ctl_client *c = userdata;
	char buf[4096];

	if (revents & EPOLLOUT && c->out) {
		ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto drop;
		if (n > 0)
			c->out_off += (size_t)n;
		if (c->out_off == c->out_len) {
			free(c->out);
			c->out = NULL;
			/* building the reply freed many small pieces: whole free pages go back */
			malloc_trim(0);
			if (c->one_shot)
				goto drop;
			(void)sd_event_source_set_io_events(s, EPOLLIN);
			/* the next request has its own deadline, counted from here */
			if (client_set_deadline(c, CTL_REQUEST_USEC) < 0)
				goto drop;
			/* a request that arrived while we were answering */
			if (client_process(c) < 0)
				goto drop;
		}
		return 0;
	}
	if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLIN))
		goto drop;
	if (revents & EPOLLIN) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			goto drop;
		if (ipc_framer_feed(c->framer, buf, (size_t)n) < 0)
			goto drop;
		if (client_process(c) < 0)
			goto drop;
	}
	return 0;
drop:
	client_free(c);
	return 0;
}

/*
 * A connection beyond the caps: answer at once what it has already sent,
 * then close it. A well-behaved client (damondctl) sends its request right
 * after connect(), so a burst from one user is still served. One whose
 * request is not there yet is told damond.Busy (its request was not read:
 * ipc_call() asks again) and closed: a client that trickles bytes gets
 * nothing and holds no slot. Only CTL_SERVE_NOW_BATCH are answered per
 * wakeup of the listener (may_answer); the rest are told damond.Busy.
 * true: keep it, a reply bigger than the socket buffer is draining (it is
 * closed when done, within CTL_REPLY_USEC); false: close it now.
 */
static bool client_serve_now(struct ctl_client *c, bool may_answer)
{
	char buf[4096];
	bool sent = false;

	if (!may_answer) {
		note_refusal(&c->cred);
		send_busy(c, "too many connections from unprivileged users just now; the request was not read");
		return false;
	}

	/* at most the unprivileged request limit */
	for (size_t got = 0; got < CTL_UNPRIVILEGED_REQUEST_MAX;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			break;
		if (ipc_framer_feed(c->framer, buf, (size_t)n) < 0)
			return false;
		got += (size_t)n;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (client_process(c) < 0 || !c->out)
			break;
		while (c->out_off < c->out_len) {
			ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n <= 0) {
				/* the socket takes no more: the rest goes out as it can, if all users' pool has room */
				c->one_shot = true;
				return ctl.nr_unprivileged <= CTL_MAX_UNPRIVILEGED;
			}
			c->out_off += (size_t)n;
			sent = true;
		}
		free(c->out);
		c->out = NULL;
		malloc_trim(0);
	}
	if (sent)
		return false;
	note_refusal(&c->cred);
	send_busy(c, "too many connections from this user; the request was not read");
	return false;
}

static int on_resume(sd_event_source *s, uint64_t usec, void *userdata)
{
	ctl.fd_shortage = false;
	ctl_update_listener(userdata);
	return 0;
}

/* accept() failed for want of fds or memory: stop listening for a moment instead of spinning */
static void accept_pause(struct manager *m, int err)
{
	usec_t at = now_usec() + CTL_ACCEPT_RETRY_USEC;

	log_warning_errno(err, "control socket: cannot accept (%m): pausing for %llu ms",
			  (unsigned long long)(CTL_ACCEPT_RETRY_USEC / 1000));
	ctl.fd_shortage = true;
	ctl_update_listener(m);
	if (ctl.resume) {
		(void)sd_event_source_set_time(ctl.resume, at);
		(void)sd_event_source_set_enabled(ctl.resume, SD_EVENT_ONESHOT);
	} else if (sd_event_add_time(m->event, &ctl.resume, CLOCK_MONOTONIC, at, 0, on_resume, m) < 0) {
		ctl.fd_shortage = false; /* no timer: better to spin than to go deaf */
		ctl_update_listener(m);
	}
}

/* One connection from the backlog: 1 accepted or refused, 0 backlog empty, < 0 paused. */
static int accept_one(struct manager *m, int lfd, unsigned *served_now)
{
	struct ctl_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool privileged, over_cap;
	int cfd, r;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0) {
		r = negative_errno();
		if (r == -EAGAIN || r == -EINTR)
			return 0;
		if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
			accept_pause(m, r);
			return r;
		}
		return 1; /* that connection failed (ECONNABORTED...): next */
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(cfd);
		return 1;
	}
	privileged = peer_privileged(m, cfd, &cred);
	over_cap = !privileged &&
		   (ctl.nr_unprivileged >= CTL_MAX_UNPRIVILEGED || connections_of(cred.uid) >= CTL_MAX_PER_UID);
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		accept_pause(m, -ENOMEM);
		return -ENOMEM;
	}
	c->m = m;
	c->fd = cfd;
	c->cred = cred;
	c->privileged = privileged;
	if (privileged)
		ctl.nr_privileged++;
	else
		ctl.nr_unprivileged++;
	c->next = ctl.clients;
	if (ctl.clients)
		ctl.clients->prev = c;
	ctl.clients = c;

	r = ipc_framer_new(&c->framer);
	if (r >= 0) {
		if (!privileged)
			ipc_framer_set_limit(c->framer, CTL_UNPRIVILEGED_REQUEST_MAX);
		r = sd_event_add_io(m->event, &c->src, cfd, EPOLLIN, client_io, c);
	}
	if (r >= 0)
		r = sd_event_add_time(m->event, &c->deadline, CLOCK_MONOTONIC, now_usec() + CTL_REQUEST_USEC, 0,
				      client_expired, c);
	if (r < 0) {
		client_free(c);
		return 1;
	}
	/* beyond the caps: answered at once and closed (kept only while a long reply drains) */
	if (over_cap && !client_serve_now(c, (*served_now)++ < CTL_SERVE_NOW_BATCH)) {
		client_free(c);
		return 1;
	}
	ctl_update_listener(m);
	return 1;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	unsigned served_now = 0;

	/* drain the backlog in batches: refused peers leave it at once, others get a turn between batches */
	for (unsigned i = 0; i < CTL_ACCEPT_BATCH && ctl.nr_privileged < CTL_MAX_PRIVILEGED; i++)
		if (accept_one(m, fd, &served_now) <= 0)
			break;
	return 0;
}

int manager_ctl_listen(struct manager *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int r;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" CTL_SOCKET_NAME, m->runtime_dir) >=
	    (int)sizeof(sa.sun_path))
		return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG), "runtime directory path '%s' is too long",
				       m->runtime_dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "cannot create the control socket: %m");
	/* Is another damond listening there? */
	{
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return log_error_errno(SYNTHETIC_ERRNO(EADDRINUSE),
					       "another damond is running (its control socket '%s' answers)",
					       sa.sun_path);
	}
	(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(negative_errno(), "cannot bind '%s': %m", sa.sun_path);
	/* Everyone may ask for status; who may do what is decided per connection at accept. */
	(void)chmod(sa.sun_path, 0666);
	if (listen(fd, CTL_BACKLOG) < 0)
		return log_error_errno(negative_errno(), "cannot listen on '%s': %m", sa.sun_path);
	r = sd_event_add_io(m->event, &m->ctl_source, fd, EPOLLIN, on_accept, m);
	if (r < 0)
		return log_error_errno(r, "cannot watch the control socket: %m");
	m->ctl_fd = TAKE_FD(fd);
	return 0;
}

void manager_ctl_close(struct manager *m)
{
	char path[PATH_MAX];

	while (ctl.clients)
		client_free(ctl.clients);
	ctl.resume = sd_event_source_disable_unref(ctl.resume);
	ctl.fd_shortage = false;
	if (m->ctl_source)
		m->ctl_source = sd_event_source_disable_unref(m->ctl_source);
	if (m->ctl_fd >= 0) {
		close(m->ctl_fd);
		m->ctl_fd = -1;
		snprintf(path, sizeof(path), "%s/" CTL_SOCKET_NAME, m->runtime_dir);
		(void)unlink(path);
	}
}
