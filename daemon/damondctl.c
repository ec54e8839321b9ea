/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * damondctl: talk to damond over its control socket, or check a config file.
 *
 * Links only lib/ (ipc codec, renderers, config parser), never the daemon.
 * Exit status: 0 success, 1 failure (one specific line on stderr, nothing on
 * stdout), 2 usage error. See damondctl(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "damond-config.h"

#include "config.h"
#include "damon.h"
#include "damon-features.h"
#include "damo.h"
#include "metrics.h"
#include "ipc.h"
#include "macro.h"
#include "status-render.h"

#define EXIT_USAGE 2

#define TIMEOUT_QUERY_MS (10 * 1000)
/* A reload may retry EBUSY with backoff and commit several kdamonds. */
#define TIMEOUT_RELOAD_MS (120 * 1000)
/* A regions dump may wait for an apply interval of every scheme. */
#define TIMEOUT_REGIONS_MS (60 * 1000)

static const char *arg_runtime_dir = DAMOND_RUNTIME_DIR;
static bool arg_json;
static bool arg_details;
static unsigned arg_watch_ms;
/* --timeout: every call to damond gets this long (ms) instead of its verb's default; 0: the defaults */
static int arg_timeout_ms;
static bool arg_no_pager;
static bool arg_kernel;
static const char *arg_sysfs_root = SYSFS_DEFAULT_ROOT;
static const char *arg_procfs_root = PROCFS_DEFAULT_ROOT;
static bool arg_damo;
static const char *arg_config;
static enum damo_format arg_format = DAMO_FORMAT_JSON;
static enum damo_numbers arg_numbers = DAMO_NUMBERS_AUTO;

static bool stdout_tty;
static pid_t pager_pid;

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

/* ---- pager (only when stdout is a terminal) ---- */

static void pager_open(void)
{
	const char *pager;
	int fds[2];
	pid_t pid;

	if (arg_no_pager || !stdout_tty)
		return;
	pager = getenv("DAMONDCTL_PAGER") ?: getenv("PAGER");
	if (pager && (!*pager || streq(pager, "cat")))
		return;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return; /* no pager is not worth failing for */
	fflush(stdout);

	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		char buf[4096];
		ssize_t n;

		if (dup2(fds[0], STDIN_FILENO) < 0)
			_exit(EXIT_FAILURE);
		/* F: quit if one screen, R: colours, S: chop long lines, X: no init, K: ^C quits */
		setenv("LESS", "FRSXK", 0);
		if (pager)
			execl("/bin/sh", "sh", "-c", pager, (char *)NULL);
		execlp("less", "less", (char *)NULL);
		execlp("more", "more", (char *)NULL);
		/* No pager at all: copy through. */
		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
			if (write(STDOUT_FILENO, buf, (size_t)n) != n)
				break;
		_exit(EXIT_SUCCESS);
	}

	if (dup2(fds[1], STDOUT_FILENO) < 0) {
		close(fds[0]);
		close(fds[1]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return;
	}
	close(fds[0]);
	close(fds[1]);
	pager_pid = pid;
}

static void pager_close(void)
{
	if (pager_pid <= 0)
		return;
	fflush(stdout);
	close(STDOUT_FILENO); /* EOF for the pager */
	while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
		;
	pager_pid = 0;
}

static unsigned heatmap_width(void)
{
	struct winsize ws;

	if (!stdout_tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
		return 64;
	/* "    heatmap  " prefix is 13 columns */
	return ws.ws_col > 13 + 16 ? MIN((unsigned)ws.ws_col - 13, 160u) : 16;
}

static bool use_color(void)
{
	const char *term = getenv("TERM");

	return stdout_tty && !getenv("NO_COLOR") && term && !streq(term, "dumb");
}

/* The terminal's width for the status summary (0: not a terminal, no truncation). */
static unsigned term_width(void)
{
	struct winsize ws;

	if (!stdout_tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}

/* ---- talking to damond ---- */

static int print_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		return -ENOMEM;
	pager_open();
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	return ferror(stdout) ? -EIO : 0;
}

/*
 * Text is rendered into memory first and shown (through the pager) only
 * when rendering worked, so that a failure leaves stdout untouched.
 */
struct text {
	char *data;
	size_t len;
	FILE *f;
};

static void text_done(struct text *t)
{
	if (t->f)
		fclose(t->f);
	free(t->data);
	*t = (struct text){ 0 };
}

static FILE *text_open(struct text *t)
{
	*t = (struct text){ 0 };
	t->f = open_memstream(&t->data, &t->len);
	return t->f;
}

/* Render result r into t: on success show it; returns an exit status. */
static int text_emit(struct text *t, int r)
{
	if (t->f && fclose(t->f) != 0 && r >= 0)
		r = -ENOMEM;
	t->f = NULL;
	if (r < 0) {
		text_done(t);
		fprintf(stderr, "damondctl: cannot format the reply: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	pager_open();
	fwrite(t->data, 1, t->len, stdout);
	fflush(stdout);
	text_done(t);
	if (ferror(stdout)) {
		fprintf(stderr, "damondctl: cannot write output: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/*
 * One request; on any failure prints the one error line (plus the daemon's
 * "errors" list, if it sent one) and returns a negative errno.
 */
static int call(const char *method, struct json_object *params, int timeout_ms, struct json_object **ret)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	_cleanup_free_ char *error = NULL;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 64];
	struct json_object *errs, *msg;
	int r;

	if (!ipc_socket_path(arg_runtime_dir, path, sizeof(path)))
		snprintf(path, sizeof(path), "%s", arg_runtime_dir);
	if (arg_timeout_ms)
		timeout_ms = arg_timeout_ms;

	r = ipc_call(arg_runtime_dir, method, params, timeout_ms, &reply, &error);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
	case -ECONNREFUSED:
		fprintf(stderr, "damondctl: cannot connect to %s: no damond running (%s)\n", path, strerror(-r));
		return r;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "damondctl: cannot connect to %s: permission denied (%s)\n", path, strerror(-r));
		return r;
	case -EAGAIN:
		fprintf(stderr, "damondctl: damond's control socket %s stayed busy for %gs (listen backlog full)\n",
			path, timeout_ms / 1000.0);
		return r;
	case -ETIMEDOUT:
		fprintf(stderr, "damondctl: no reply from damond on %s within %gs (%s)\n", path, timeout_ms / 1000.0,
			strerror(-r));
		return r;
	case -ECONNRESET:
	case -EPIPE:
		fprintf(stderr, "damondctl: damond closed %s without replying to '%s' (%s)\n", path, method,
			strerror(-r));
		return r;
	case -EBADMSG:
	case -EMSGSIZE:
		fprintf(stderr, "damondctl: invalid reply from damond on %s to '%s' (%s)\n", path, method,
			strerror(-r));
		return r;
	case -ENAMETOOLONG:
		fprintf(stderr, "damondctl: runtime directory path too long for a socket: %s\n", arg_runtime_dir);
		return r;
	default:
		fprintf(stderr, "damondctl: '%s' request to %s failed: %s\n", method, path, strerror(-r));
		return r;
	}

	if (error) {
		if (json_object_object_get_ex(reply, "errors", &errs) && json_object_is_type(errs, json_type_array))
			for (size_t i = 0; i < json_object_array_length(errs); i++) {
				struct json_object *e = json_object_array_get_idx(errs, i);

				fprintf(stderr, "%s\n", e ? json_object_get_string(e) : "null");
			}
		if (json_object_object_get_ex(reply, "message", &msg) && json_object_is_type(msg, json_type_string))
			fprintf(stderr, "damondctl: %s: %s (%s)\n", method, json_object_get_string(msg), error);
		else if (streq(error, IPC_ERROR_PERMISSION_DENIED))
			fprintf(stderr, "damondctl: %s: permission denied by damond (%s)\n", method, error);
		else if (streq(error, IPC_ERROR_NO_SUCH_METHOD))
			fprintf(stderr, "damondctl: %s: this damond does not know the method (%s)\n", method, error);
		else
			fprintf(stderr, "damondctl: %s: refused by damond (%s)\n", method, error);
		return streq(error, IPC_ERROR_PERMISSION_DENIED) ? -EPERM : -EREMOTEIO;
	}

	*ret = TAKE_PTR(reply);
	return 0;
}

static int output_failed(int r)
{
	fprintf(stderr, "damondctl: cannot write output: %s\n", strerror(-r));
	return EXIT_FAILURE;
}

/* ---- verbs: return an exit status ---- */

/* The summary, then (--details) everything, or the last few actions. */
static int render_status(struct json_object *reply, FILE *f)
{
	struct status_summary_opts o = {
		.width = term_width(),
		.color = use_color(),
		.nr_actions = arg_details ? 0 : 5,
	};
	int r;

	r = status_render_summary(reply, f, &o);
	if (r >= 0 && arg_details) {
		fputc('\n', f);
		r = status_render_text(reply, f);
	} else if (r >= 0 && !arg_watch_ms) {
		fputs("(more: damondctl status --details)\n", f);
	}
	return r;
}

/* --watch: the summary redrawn every arg_watch_ms until interrupted (or damond goes away). */
static int watch_status(void)
{
	for (;;) {
		_cleanup_(json_object_putp) struct json_object *reply = NULL;
		struct timespec ts = { arg_watch_ms / 1000, (long)(arg_watch_ms % 1000) * 1000000L };
		struct text t;

		if (call(IPC_METHOD_STATUS, NULL, TIMEOUT_QUERY_MS, &reply) < 0)
			return EXIT_FAILURE;
		if (!text_open(&t))
			return EXIT_FAILURE;
		if (render_status(reply, t.f) < 0 || fclose(t.f) != 0) {
			t.f = NULL;
			text_done(&t);
			return EXIT_FAILURE;
		}
		t.f = NULL;
		if (stdout_tty)
			fputs("\033[H\033[2J", stdout);
		fwrite(t.data, 1, t.len, stdout);
		fflush(stdout);
		text_done(&t);
		if (ferror(stdout))
			return EXIT_FAILURE;
		nanosleep(&ts, NULL);
	}
}

static int verb_status(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct text t;
	int r;

	if (arg_watch_ms && !arg_json)
		return watch_status();
	if (call(IPC_METHOD_STATUS, NULL, TIMEOUT_QUERY_MS, &reply) < 0)
		return EXIT_FAILURE;
	if (arg_json)
		return (r = print_json(reply)) < 0 ? output_failed(r) : EXIT_SUCCESS;
	if (!text_open(&t))
		return text_emit(&t, -ENOMEM);
	return text_emit(&t, render_status(reply, t.f));
}

/*
 * The running kernel's DAMON features, probed here without writing anything
 * (features_probe_kernel): the kdamond directories that exist, else what a
 * damond recorded on this boot. *ret_source: where they came from.
 */
static int probe_kernel(struct damon_features *f, const char **ret_source)
{
	_cleanup_(sysfs_root_freep) struct sysfs_root *root = NULL;
	int r;

	r = sysfs_root_open(arg_sysfs_root, &root);
	if (r < 0) {
		fprintf(stderr, "damondctl: cannot open the sysfs root '%s': %s\n", arg_sysfs_root, strerror(-r));
		return r;
	}
	r = features_probe_kernel(root, arg_runtime_dir, f, ret_source);
	if (r < 0) {
		fprintf(stderr, "damondctl: '%s/%s' not found: this kernel has no DAMON sysfs interface\n",
			arg_sysfs_root, DAMON_ADMIN_DIR);
		return r;
	}
	return 0;
}

static int verb_features(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 64];
	int r;

	struct text t;

	/* no damond (or --kernel): ask the kernel directly, read-only */
	if (arg_kernel || !ipc_socket_path(arg_runtime_dir, path, sizeof(path)) || access(path, F_OK) < 0) {
		struct damon_features f;
		const char *source;

		if (probe_kernel(&f, &source) < 0)
			return EXIT_FAILURE;
		reply = features_json(&f, source);
		if (!reply) {
			fprintf(stderr, "damondctl: out of memory\n");
			return EXIT_FAILURE;
		}
	} else if (call(IPC_METHOD_FEATURES, NULL, TIMEOUT_QUERY_MS, &reply) < 0) {
		return EXIT_FAILURE;
	}
	if (arg_json)
		return (r = print_json(reply)) < 0 ? output_failed(r) : EXIT_SUCCESS;
	if (!text_open(&t))
		return text_emit(&t, -ENOMEM);
	return text_emit(&t, features_render_text(reply, t.f));
}

/* The Prometheus text exposition, as damond renders it (--json: the reply as is). */
static int verb_metrics(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *v;
	int r;

	if (call(METRICS_IPC_METHOD, NULL, TIMEOUT_QUERY_MS, &reply) < 0)
		return EXIT_FAILURE;
	if (arg_json)
		return (r = print_json(reply)) < 0 ? output_failed(r) : EXIT_SUCCESS;
	if (!json_object_object_get_ex(reply, "text", &v) || !json_object_is_type(v, json_type_string)) {
		fprintf(stderr, "damondctl: metrics: invalid reply from damond (no text)\n");
		return EXIT_FAILURE;
	}
	if (fputs(json_object_get_string(v), stdout) == EOF || fflush(stdout) != 0)
		return output_failed(-errno);
	return EXIT_SUCCESS;
}

static int verb_reload(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *v;
	int r = 0;

	if (call(IPC_METHOD_RELOAD, NULL, TIMEOUT_RELOAD_MS, &reply) < 0)
		return EXIT_FAILURE;
	if (arg_json)
		r = print_json(reply);
	else if (json_object_object_get_ex(reply, "message", &v) && json_object_is_type(v, json_type_string))
		printf("%s\n", json_object_get_string(v));
	else if (json_object_object_get_ex(reply, "generation", &v) && json_object_is_type(v, json_type_int)) {
		printf("configuration reloaded, generation %" PRId64 "\n", json_object_get_int64(v));
		/* what it did to the kernel: restarts (history lost), kdamonds started, directories */
		if (json_object_object_get_ex(reply, "changes", &v) && json_object_is_type(v, json_type_string))
			printf("%s\n", json_object_get_string(v));
	}
	return r < 0 ? output_failed(r) : EXIT_SUCCESS;
}

static int verb_rescan(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *p = NULL, *mem = NULL;
	int r = 0;

	if (call(IPC_METHOD_RESCAN, NULL, TIMEOUT_RELOAD_MS, &reply) < 0)
		return EXIT_FAILURE;
	if (arg_json)
		r = print_json(reply);
	else if (json_object_object_get_ex(reply, "processes", &p) && json_object_object_get_ex(reply, "memory", &mem))
		printf("kdamonds retargeted: %d for their processes, %d for memory hotplug\n", json_object_get_int(p),
		       json_object_get_int(mem));
	return r < 0 ? output_failed(r) : EXIT_SUCCESS;
}

static int verb_regions(int argc, char **argv)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL, *params = NULL;
	const char *kdamond = argc > 1 ? argv[1] : NULL;
	struct text t;
	int r;

	params = json_object_new_object();
	if (!params || (kdamond && json_object_object_add(params, "kdamond", json_object_new_string(kdamond)) < 0)) {
		fprintf(stderr, "damondctl: out of memory\n");
		return EXIT_FAILURE;
	}
	if (call(IPC_METHOD_REGIONS, params, TIMEOUT_REGIONS_MS, &reply) < 0)
		return EXIT_FAILURE;
	if (arg_json)
		return (r = print_json(reply)) < 0 ? output_failed(r) : EXIT_SUCCESS;

	if (!text_open(&t))
		return text_emit(&t, -ENOMEM);
	r = regions_render_text(reply, kdamond, heatmap_width(), use_color(), t.f);
	if (r == -ENOENT) {
		text_done(&t);
		fprintf(stderr, "damondctl: no kdamond named '%s'\n", kdamond);
		return EXIT_FAILURE;
	}
	return text_emit(&t, r);
}

/* What the policy needs that could not be probed read-only (never guessed from the release); the exclusive modules. Warnings only. */
static void kernel_hints(const struct damond_config *cfg, struct damon_features *f, const char *source)
{
	struct config_errors hints = { 0 };

	if (features_mark_unknown_absent(f) > 0 && features_check_config(f, cfg, &hints) < 0)
		for (size_t i = 0; i < hints.n; i++) {
			_cleanup_free_ char *line = NULL;

			if (config_error_format(&hints.v[i], &line) >= 0)
				fprintf(stderr, "warning: not checked: %s (no kdamond directory to probe without "
					"writing; damond probes the files at start)\n", line);
		}
	config_errors_done(&hints);
	for (int i = 0; i < _DAMON_MODULE_MAX; i++)
		if (f->module[i] == MODULE_ON && !cfg->settings.allow_disable[i])
			fprintf(stderr, "warning: %s is enabled: damond will refuse to start unless "
				"'allow_disable_modules' names it (or it is switched off)\n",
				damon_module_to_string(i));
	fprintf(stderr, "kernel: DAMON features probed from %s\n", source);
}

static int verb_check(int argc, char **argv)
{
	_cleanup_(damond_config_freep) struct damond_config *cfg = NULL;
	struct config_errors errs = { 0 };
	const char *path = argc > 1 ? argv[1] : DAMOND_SYSCONFDIR "/damond.yaml";
	size_t nschemes = 0;
	int r, ret = EXIT_SUCCESS;

	r = config_load_file(path, &cfg, &errs);
	if (r < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			_cleanup_free_ char *line = NULL;

			if (config_error_format(&errs.v[i], &line) < 0)
				fprintf(stderr, "%s: %s\n", path, errs.v[i].message ?: "error");
			else
				fprintf(stderr, "%s\n", line);
		}
		if (errs.n == 0)
			fprintf(stderr, "damondctl: cannot load '%s': %s\n", path, strerror(-r));
		config_errors_done(&errs);
		return EXIT_FAILURE;
	}
	for (size_t i = 0; i < errs.n; i++) { /* warnings: the file is accepted */
		_cleanup_free_ char *line = NULL;

		if (config_error_format(&errs.v[i], &line) >= 0)
			fprintf(stderr, "%s\n", line);
	}
	config_errors_done(&errs);

	if (arg_kernel) {
		struct damon_features f;
		const char *source;

		if (probe_kernel(&f, &source) < 0)
			return EXIT_FAILURE;
		r = features_check_config(&f, cfg, &errs);
		for (size_t i = 0; i < errs.n; i++) {
			_cleanup_free_ char *line = NULL;

			if (config_error_format(&errs.v[i], &line) >= 0)
				fprintf(stderr, "%s\n", line);
		}
		config_errors_done(&errs);
		if (r < 0) {
			fprintf(stderr, "damondctl: '%s' needs DAMON features this kernel lacks (probed from %s)\n",
				path, source);
			return EXIT_FAILURE;
		}
		kernel_hints(cfg, &f, source);
	}

	for (size_t i = 0; i < cfg->nr_kdamonds; i++)
		nschemes += cfg->kdamonds[i].ctx.nr_schemes;

	if (arg_json) {
		_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();

		if (!o || json_object_object_add(o, "path", json_object_new_string(path)) < 0 ||
		    json_object_object_add(o, "ok", json_object_new_boolean(1)) < 0 ||
		    json_object_object_add(o, "kdamonds", json_object_new_uint64(cfg->nr_kdamonds)) < 0 ||
		    json_object_object_add(o, "schemes", json_object_new_uint64(nschemes)) < 0) {
			fprintf(stderr, "damondctl: out of memory\n");
			return EXIT_FAILURE;
		}
		r = print_json(o);
		return r < 0 ? output_failed(r) : EXIT_SUCCESS;
	}

	/* Same line as "damond --check". */
	printf("%s: OK (%zu kdamonds, %zu schemes)\n", path, cfg->nr_kdamonds, nschemes);
	fflush(stdout);
	if (ferror(stdout))
		ret = output_failed(-EIO);
	return ret;
}

static void print_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		_cleanup_free_ char *line = NULL;

		if (config_error_format(&errs->v[i], &line) < 0)
			fprintf(stderr, "%s\n", errs->v[i].message ?: "error");
		else
			fprintf(stderr, "%s\n", line);
	}
}

/* A whole file (or stdin for "-") of at most max bytes; NULL with errno set. */
static char *read_all(const char *path, size_t max, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = streq(path, "-") ? NULL : fopen(path, "re");
	FILE *in = streq(path, "-") ? stdin : f;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, n;

	if (!in)
		return NULL;
	buf = malloc(max + 2);
	if (!buf)
		return NULL;
	while ((n = fread(buf + len, 1, max + 1 - len, in)) > 0)
		len += n;
	if (ferror(in)) {
		errno = EIO;
		return NULL;
	}
	if (len > max) {
		errno = EFBIG;
		return NULL;
	}
	buf[len] = '\0';
	*ret_len = len;
	return TAKE_PTR(buf);
}

/* damo's kdamonds spec (damo args damon --format json|yaml [--raw]) -> damond YAML on stdout. */
static int verb_import_damo(int argc, char **argv)
{
	_cleanup_(damond_config_freep) struct damond_config *cfg = NULL;
	struct config_errors errs = { 0 };
	_cleanup_free_ char *text = NULL, *yaml = NULL;
	const char *path = argv[1];
	size_t len = 0;
	bool raw = false;
	int r;

	text = read_all(path, 1024 * 1024, &len);
	if (!text) {
		fprintf(stderr, "damondctl: cannot read '%s': %s\n", path,
			errno == EFBIG ? "larger than 1024 KiB" : strerror(errno));
		return EXIT_FAILURE;
	}
	r = damo_import(streq(path, "-") ? "<stdin>" : path, text, len, arg_numbers, &cfg, &yaml, &raw, &errs);
	print_errors(&errs);
	config_errors_done(&errs);
	if (r < 0) {
		fprintf(stderr, "damondctl: cannot import '%s'%s%s\n", path, r == -EINVAL ? "" : ": ",
			r == -EINVAL ? "" : strerror(-r));
		return EXIT_FAILURE;
	}
	if (fputs(yaml, stdout) == EOF || fflush(stdout) != 0)
		return output_failed(-EIO);
	return EXIT_SUCCESS;
}

/* A policy (the config file and its drop-ins) in damo's kdamonds format. */
static int verb_export(int argc, char **argv)
{
	_cleanup_(damond_config_freep) struct damond_config *cfg = NULL;
	struct config_errors errs = { 0 };
	const char *path = arg_config ?: DAMOND_SYSCONFDIR "/damond.yaml";
	_cleanup_free_ char *out = NULL, *iomem = NULL;
	int r;

	if (!arg_damo) {
		fprintf(stderr, "damondctl: export needs --damo (the only export format)\n");
		return EXIT_USAGE;
	}
	r = config_load_file(path, &cfg, &errs);
	print_errors(&errs);
	config_errors_done(&errs);
	if (r < 0) {
		fprintf(stderr, "damondctl: cannot load '%s'%s%s\n", path, r == -EINVAL ? "" : ": ",
			r == -EINVAL ? "" : strerror(-r));
		return EXIT_FAILURE;
	}
	if (asprintf(&iomem, "%s/iomem", arg_procfs_root) < 0) {
		fprintf(stderr, "damondctl: out of memory\n");
		return EXIT_FAILURE;
	}
	r = damo_export(cfg, arg_format, iomem, &out, &errs);
	print_errors(&errs);
	config_errors_done(&errs);
	if (r < 0) {
		fprintf(stderr, "damondctl: cannot export '%s'%s%s\n", path, r == -EINVAL ? "" : ": ",
			r == -EINVAL ? "" : strerror(-r));
		return EXIT_FAILURE;
	}
	if (fputs(out, stdout) == EOF || fflush(stdout) != 0)
		return output_failed(-EIO);
	return EXIT_SUCCESS;
}

struct verb {
	const char *name;
	const char *args;
	int min_args, max_args; /* excluding the verb itself */
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
	{ "status", "", 0, 0, verb_status, "Show kdamonds, schemes, stats and rates (default verb)" },
	{ "reload", "", 0, 0, verb_reload, "Ask damond to reload its configuration" },
	{ "rescan", "", 0, 0, verb_rescan,
	  "Resolve followed processes and NUMA node/auto memory now (after memory hotplug)" },
	{ "check", "[FILE]", 0, 1, verb_check,
	  "Validate a configuration file, no daemon needed (--kernel: also against the running kernel)" },
	{ "features", "", 0, 0, verb_features,
	  "Show the kernel's DAMON features (from damond, or probed read-only without one)" },
	{ "regions", "[KDAMOND]", 0, 1, verb_regions, "Show monitored regions and an access heatmap" },
	{ "metrics", "", 0, 0, verb_metrics, "Print damond's metrics in the Prometheus text format" },
	{ "import-damo", "FILE", 1, 1, verb_import_damo,
	  "Convert a damo kdamonds spec (damo args damon --format json|yaml) to damond YAML" },
	{ "export", "--damo", 0, 0, verb_export,
	  "Print a policy (--config FILE, default the installed one) in damo's kdamonds format" },
};

static void help(void)
{
	printf("Usage: damondctl [OPTIONS] [VERB [ARGS]]\n\n"
	       "Control and inspect damond, the DAMON policy daemon.\n\nVerbs:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		char left[40];

		snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].args);
		printf("  %-20s %s\n", left, verbs[i].help);
	}
	printf("\nOptions:\n"
	       "  --runtime-dir DIR    damond's runtime directory (default %s)\n"
	       "  --json               print the daemon's JSON instead of text\n"
	       "  --no-pager           do not pipe output into a pager\n"
	       "  -d, --details        status: everything after the summary\n"
	       "  --watch[=SECS]       status: redraw the summary every SECS (2)\n"
	       "  --timeout SECS       wait this long for damond on every call (default 10, reload 120,\n"
	       "                       regions 60)\n"
	       "  --kernel             check: validate against the running kernel's DAMON features;\n"
	       "                       features: probe the kernel (read-only) even with damond running\n"
	       "  --sysfs-root DIR     where sysfs is, for --kernel and features (default /sys)\n"
	       "  --procfs-root DIR    where procfs is (default /proc; export reads iomem there)\n"
	       "  --raw, --human       import-damo: read bare numbers as damo --raw output (durations\n"
	       "                       in ns) or in their key's unit (default: detect)\n"
	       "  --damo               export: in damo's kdamonds format\n"
	       "  --config FILE        export: the configuration (default %s/damond.yaml)\n"
	       "  --format json|yaml   export: damo's JSON (default) or YAML\n"
	       "  -h --help            show this help\n"
	       "     --version         show the version\n"
	       "\nSee damondctl(8) for details and exit codes.\n",
	       DAMOND_RUNTIME_DIR, DAMOND_SYSCONFDIR);
}

/* The options, anywhere on the line. -1: go on with the verb; else the exit status. */
/* --watch[=SECS]: 2 s by default, 0.2 s to an hour */
static int parse_watch(const char *s)
{
	char *end;
	double v = s ? strtod(s, &end) : 2.0;

	if (s && (end == s || *end || !(v >= 0.2 && v <= 3600))) {
		fprintf(stderr, "damondctl: --watch takes seconds between 0.2 and 3600, not '%s'\n", s);
		return -EINVAL;
	}
	arg_watch_ms = (unsigned)(v * 1000.0);
	return 0;
}

/* --timeout=SECS: 0.1 s to a day */
static int parse_timeout(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0.1 && v <= 86400)) {
		fprintf(stderr, "damondctl: --timeout takes seconds between 0.1 and 86400, not '%s'\n", s);
		return -EINVAL;
	}
	arg_timeout_ms = (int)(v * 1000.0);
	return 0;
}

/* long options without a short letter */
enum {
	ARG_VERSION = 0x100,
	ARG_RUNTIME_DIR,
	ARG_JSON,
	ARG_NO_PAGER,
	ARG_KERNEL,
	ARG_SYSFS,
	ARG_PROCFS,
	ARG_DAMO,
	ARG_CONFIG,
	ARG_FORMAT,
	ARG_RAW,
	ARG_HUMAN,
	ARG_WATCH,
	ARG_TIMEOUT
};

/* One option of parse_argv(): -1 to go on, or the exit status. */
static int handle_option(int c, char **argv)
{
	switch (c) {
	case 'h':
		help();
		return EXIT_SUCCESS;
	case ARG_VERSION:
		printf("damondctl %s\n", DAMOND_VERSION);
		return EXIT_SUCCESS;
	case ARG_RUNTIME_DIR:
		if (!*optarg) {
			fprintf(stderr, "damondctl: --runtime-dir needs a directory\n");
			return EXIT_USAGE;
		}
		arg_runtime_dir = optarg;
		return -1;
	case ARG_JSON:
		arg_json = true;
		return -1;
	case ARG_NO_PAGER:
		arg_no_pager = true;
		return -1;
	case ARG_KERNEL:
		arg_kernel = true;
		return -1;
	case ARG_SYSFS:
		arg_sysfs_root = optarg;
		return -1;
	case ARG_PROCFS:
		arg_procfs_root = optarg;
		return -1;
	case ARG_DAMO:
		arg_damo = true;
		return -1;
	case ARG_CONFIG:
		arg_config = optarg;
		return -1;
	case ARG_FORMAT:
		if (streq(optarg, "json"))
			arg_format = DAMO_FORMAT_JSON;
		else if (streq(optarg, "yaml"))
			arg_format = DAMO_FORMAT_YAML;
		else {
			fprintf(stderr, "damondctl: --format takes json or yaml, not '%s'\n", optarg);
			return EXIT_USAGE;
		}
		return -1;
	case ARG_RAW:
		arg_numbers = DAMO_NUMBERS_RAW;
		return -1;
	case ARG_HUMAN:
		arg_numbers = DAMO_NUMBERS_HUMAN;
		return -1;
	case 'd':
		arg_details = true;
		return -1;
	case ARG_WATCH:
		if (parse_watch(optarg) < 0)
			return EXIT_USAGE;
		return -1;
	case ARG_TIMEOUT:
		if (parse_timeout(optarg) < 0)
			return EXIT_USAGE;
		return -1;
	case '?':
		if (optopt == 0 || optopt >= 0x100)
			fprintf(stderr, "damondctl: unknown option '%s' (see 'damondctl --help')\n", argv[optind - 1]);
		else
			fprintf(stderr, "damondctl: unknown option '-%c' (see 'damondctl --help')\n", optopt);
		return EXIT_USAGE;
	case ':':
	default:
		fprintf(stderr, "damondctl: option '%s' needs an argument\n", argv[optind - 1]);
		return EXIT_USAGE;
	}
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "no-pager", no_argument, NULL, ARG_NO_PAGER },
		{ "kernel", no_argument, NULL, ARG_KERNEL },
		{ "sysfs-root", required_argument, NULL, ARG_SYSFS },
		{ "procfs-root", required_argument, NULL, ARG_PROCFS },
		{ "damo", no_argument, NULL, ARG_DAMO },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "format", required_argument, NULL, ARG_FORMAT },
		{ "raw", no_argument, NULL, ARG_RAW },
		{ "human", no_argument, NULL, ARG_HUMAN },
		{ "details", no_argument, NULL, 'd' },
		{ "watch", optional_argument, NULL, ARG_WATCH },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{},
	};
	int c, r;

	/* Options may appear anywhere ("damondctl status --json"). */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hd", options, NULL)) >= 0) {
		r = handle_option(c, argv);
		if (r >= 0)
			return r;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const struct verb *verb = NULL;
	const char *name;
	int nargs, ret;

	ret = parse_argv(argc, argv);
	if (ret >= 0)
		return ret;

	name = optind < argc ? argv[optind] : "status";
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		if (streq(verbs[i].name, name))
			verb = &verbs[i];
	if (!verb) {
		fprintf(stderr, "damondctl: unknown verb '%s' (see 'damondctl --help')\n", name);
		return EXIT_USAGE;
	}
	nargs = optind < argc ? argc - optind - 1 : 0;
	if (nargs < verb->min_args || nargs > verb->max_args) {
		fprintf(stderr, "damondctl: '%s' takes %s%s\n", verb->name,
			verb->max_args == 0 ? "no arguments"
			: verb->min_args    ? "one argument: "
					    : "at most one argument: ",
			verb->max_args == 0 ? "" : verb->args);
		return EXIT_USAGE;
	}

	stdout_tty = isatty(STDOUT_FILENO);
	if (optind < argc)
		ret = verb->run(argc - optind, argv + optind);
	else {
		char *fake[] = { (char *)name, NULL };

		ret = verb->run(1, fake);
	}
	pager_close();
	return ret;
}
