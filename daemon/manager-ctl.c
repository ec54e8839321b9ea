/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: RUNTIME_DIR/control, AF_UNIX stream, NUL-terminated
 * JSON messages (lib/ipc.h). Anyone may read (status, features, regions);
 * only root or members of settings.control_group may reload. Peer
 * credentials come from SO_PEERCRED, never from the message.
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
#include "metrics.h"

#define CTL_SOCKET_NAME "control"
#define CTL_MAX_CLIENTS 16

#define CTL_IDLE_USEC (10 * 1000000ULL)

struct ctl_client {
	struct manager *m;
	int fd;
	sd_event_source *src;
	sd_event_source *idle; /* drops a client that sends nothing for CTL_IDLE_USEC */
	struct ipc_framer *framer;
	struct ucred cred;
	char *out;
	size_t out_len, out_off;
};

static unsigned nr_clients;

static void client_free(struct ctl_client *c)
{
	if (!c)
		return;
	sd_event_source_disable_unref(c->src);
	sd_event_source_disable_unref(c->idle);
	if (c->fd >= 0)
		close(c->fd);
	ipc_framer_free(c->framer);
	free(c->out);
	free(c);
	nr_clients--;
}

static bool may_modify(const struct manager *m, const struct ucred *cred)
{
	const char *g = m->config ? m->config->settings.control_group : NULL;
	struct group *gr;

	if (cred->uid == 0)
		return true;
	if (!g)
		return false;
	gr = getgrnam(g);
	if (!gr)
		return false;
	if (cred->gid == gr->gr_gid)
		return true;
	/* supplementary groups of the peer: from /proc/PID/status */
	{
		char path[64], line[512];
		FILE *f;
		bool ok = false;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
		f = fopen(path, "re");
		if (!f)
			return false;
		while (fgets(line, sizeof(line), f))
			if (strneq(line, "Groups:", 7)) {
				char *save = NULL;

				for (char *t = strtok_r(line + 7, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
					if ((gid_t)strtoul(t, NULL, 10) == gr->gr_gid)
						ok = true;
			}
		fclose(f);
		return ok;
	}
}

static int dispatch(struct ctl_client *c, const char *method, struct json_object *params, char **ret,
		    size_t *ret_len)
{
	struct manager *m = c->m;
	struct json_object *reply = NULL;
	int r;

#ifdef HAVE_BPF
	/* routine wakeups are rare: answer from what the kdamonds emitted until now */
	if (streq(method, "status") || streq(method, "regions") || streq(method, METRICS_IPC_METHOD))
		manager_events_drain(m);
#endif

	if (streq(method, "status")) {
		r = manager_status_json(m, &reply);
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
		if (!may_modify(m, &c->cred))
			return ipc_error_encode("damond.PermissionDenied",
						"regions needs root or membership of damond's control_group", NULL, ret,
						ret_len);
		if (params && json_object_object_get_ex(params, "kdamond", &k))
			name = json_object_get_string(k);
		r = manager_regions_json(m, name, &reply);
		if (r == -ENOENT)
			return ipc_error_encode("damond.NoSuchKdamond", "no kdamond of that name", NULL, ret, ret_len);
	} else if (streq(method, "reload")) {
		struct config_errors errs = {};

		if (!may_modify(m, &c->cred)) {
			log_notice("refused reload from uid %u (pid %d): not root nor in the control group",
				   (unsigned)c->cred.uid, (int)c->cred.pid);
			return ipc_error_encode("damond.PermissionDenied",
						"reload needs root or membership of damond's control_group", NULL, ret,
						ret_len);
		}
		log_info("reload requested over the control socket by uid %u (pid %d)", (unsigned)c->cred.uid,
			 (int)c->cred.pid);
		r = manager_reload(m, &errs);
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
	} else {
		return ipc_error_encode("damond.NoSuchMethod", method, NULL, ret, ret_len);
	}
	if (r < 0)
		return ipc_error_encode("damond.Failed", strerror(-r), NULL, ret, ret_len);
	r = ipc_reply_encode(reply, ret, ret_len);
	json_object_put(reply);
	return r;
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
	/* no reading while a reply is pending: a client that never reads cannot grow our buffers */
	return sd_event_source_set_io_events(c->src, EPOLLOUT);
}

static int client_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	client_free(userdata);
	return 0;
}

static int client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ctl_client *c = userdata;
	char buf[4096];

	(void)sd_event_source_set_time(c->idle, now_usec() + CTL_IDLE_USEC);

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
			(void)sd_event_source_set_io_events(s, EPOLLIN);
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

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	struct ctl_client *c;
	socklen_t len = sizeof(struct ucred);
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	if (nr_clients >= CTL_MAX_CLIENTS) {
		close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	nr_clients++;
	c->m = m;
	c->fd = cfd;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0 || ipc_framer_new(&c->framer) < 0) {
		client_free(c);
		return 0;
	}
	r = sd_event_add_io(m->event, &c->src, cfd, EPOLLIN, client_io, c);
	if (r >= 0)
		r = sd_event_add_time(m->event, &c->idle, CLOCK_MONOTONIC, now_usec() + CTL_IDLE_USEC, 0, client_idle, c);
	if (r < 0)
		client_free(c);
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
	/* Everyone may ask for status; permissions are checked per request. */
	(void)chmod(sa.sun_path, 0666);
	if (listen(fd, 16) < 0)
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

	if (m->ctl_source)
		m->ctl_source = sd_event_source_disable_unref(m->ctl_source);
	if (m->ctl_fd >= 0) {
		close(m->ctl_fd);
		m->ctl_fd = -1;
		snprintf(path, sizeof(path), "%s/" CTL_SOCKET_NAME, m->runtime_dir);
		(void)unlink(path);
	}
}
