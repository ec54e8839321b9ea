/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The manager's journal: the action log (status) and the structured journal
 * entry of every kernel action, a kdamond's last failed write, and STATUS=.
 * Calls no other daemon file.
 */
#include <stdarg.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "config.h"
#include "journal-action.h"
#include "log.h"
#include "manager-internal.h"

static usec_t (*clock_source)(void);

void manager_set_clock(usec_t (*fn)(void))
{
	clock_source = fn;
}

usec_t now_usec(void)
{
	struct timespec ts;

	if (clock_source)
		return clock_source();

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * 1000000ULL + (usec_t)ts.tv_nsec / 1000ULL;
}

/*
 * Keeps one action for status (the action log) and logs it as one journal
 * entry with DAMOND_* fields and the kind's MESSAGE_ID (journal-action.h), or
 * as the text line when stderr is not the journal. scheme may be NULL.
 */
void record_action_why(struct manager *m, const char *kdamond, const char *scheme, const char *what, const char *why,
		       usec_t at)
{
	unsigned i = m->nr_actions++ % ACTION_LOG_SIZE;
	struct action_fields f;

	m->actions[i].at = at;
	snprintf(m->actions[i].kdamond, sizeof(m->actions[i].kdamond), "%s", kdamond ? kdamond : "");
	snprintf(m->actions[i].scheme, sizeof(m->actions[i].scheme), "%s", scheme ? scheme : "");
	snprintf(m->actions[i].what, sizeof(m->actions[i].what), "%s", what);
	snprintf(m->actions[i].why, sizeof(m->actions[i].why), "%s", why);
	action_fields_build(&f, kdamond, scheme, what, m->actions[i].why);
	(void)log_action(&f, sd_journal_sendv);
}

void record_scheme_action(struct manager *m, const char *kdamond, const char *scheme, const char *what, const char *fmt,
			  ...)
{
	char why[sizeof(m->actions[0].why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	record_action_why(m, kdamond, scheme, what, why, now_usec());
}

/*
 * The scheme a kernel file of kd belongs to ("kdamonds/N/contexts/0/schemes/S/..."
 * is slot S), or NULL: a failed write names its scheme in the journal.
 */
static const char *kd_scheme_of_path(const struct kdamond_rt *kd, const char *path)
{
	const char *p = path ? strstr(path, "/schemes/") : NULL;
	char *end;
	unsigned long s;

	if (!p)
		return NULL;
	p += strlen("/schemes/");
	if (*p < '0' || *p > '9')
		return NULL;
	s = strtoul(p, &end, 10);
	if (*end != '/' && *end != '\0')
		return NULL;
	return s < kd->nr_slots ? kd->slots[s].name : NULL;
}

/*
 * A kernel write for kd failed: log it at error level and keep it for
 * status (the kdamond's last_error and the action log, as one structured
 * journal entry of kind "error" naming the scheme the file belongs to, if
 * any). Returns r.
 */
int kd_fail_path(struct manager *m, struct kdamond_rt *kd, int r, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(kd->last_error);
	if (asprintf(&kd->last_error, "%s: %s", msg, strerror(-r)) < 0)
		kd->last_error = NULL;
	kd->last_error_at = now_usec();
	if (r == -EBUSY && m->retry_busy) {
		/* the caller defers the operation to the retry timer, which records it once ("deferred"),
		 * or records what else it does (busy_deferrable()) */
		m->busy_seen = true;
		log_notice("kdamond '%s': %s: %s (the DAMON sysfs lock is held)", kd->name, msg, strerror(-r));
		return r;
	}
	record_action_why(m, kd->name, kd_scheme_of_path(kd, path), "error",
			  kd->last_error ? kd->last_error : "(out of memory)", kd->last_error_at);
	return r;
}

#define kd_fail(m, kd, r, ...) kd_fail_path(m, kd, r, NULL, __VA_ARGS__)

/*
 * r is the kernel's EBUSY on a lock-taking write (seen by kd_fail()), not
 * damond's own refusal of a directory a foreign kdamond runs: defer it.
 */
bool busy_deferrable(struct manager *m, int r)
{
	bool seen = m->busy_seen;

	m->busy_seen = false;
	return r == -EBUSY && m->retry_busy && seen;
}

void kd_set_last(struct kdamond_rt *kd, const char *what, const char *why)
{
	snprintf(kd->last_what, sizeof(kd->last_what), "%s", what);
	free(kd->last_why);
	kd->last_why = strdup_or_null(why);
	kd->last_at = now_usec();
}

void log_config_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		_cleanup_free_ char *s = NULL;

		if (config_error_format(&errs->v[i], &s) < 0)
			continue;
		if (errs->v[i].warning)
			log_warning("%s", s);
		else
			log_error("%s", s);
	}
}

void manager_notify_status(struct manager *m)
{
	char dead[256] = "";
	size_t on = 0, nr_dead = 0, len = 0;

	for (size_t i = 0; i < m->nr_kd; i++) {
		if (m->kd[i].running)
			on++;
		else if (m->kd[i].died) {
			nr_dead++;
			if (len < sizeof(dead))
				len += (size_t)snprintf(dead + len, sizeof(dead) - len, "%s'%s'",
							nr_dead > 1 ? ", " : "", m->kd[i].name);
		}
	}
	if (nr_dead)
		(void)sd_notifyf(false, "STATUS=Running %zu of %zu kdamond(s), configuration generation %u; died: %s",
				 on, m->nr_kd, m->generation, dead);
	else
		(void)sd_notifyf(false, "STATUS=Running %zu kdamond(s), configuration generation %u", on,
				 m->generation);
}
