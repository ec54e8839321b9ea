/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text rendering of status / features / regions replies (see status-render.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "macro.h"
#include "status-enums.h"
#include "status-render.h"
#include "units.h"

/* Labels line up the values at column 20 whatever the nesting. */
#define LABEL0 "%-20s"
#define LABEL1 "  %-18s"
#define LABEL2 "    %-16s"

/* ---- tolerant accessors: absent, null or mistyped members are "unknown" ---- */

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v; /* NULL for JSON null */
}

static struct json_object *member_type(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, t) ? v : NULL;
}

static bool get_u64(struct json_object *o, const char *key, uint64_t *ret)
{
	struct json_object *v = member(o, key);

	if (!v)
		return false;
	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			return false;
		*ret = json_object_get_uint64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		if (!isfinite(d) || d < 0 || d >= 18446744073709551616.0)
			return false;
		*ret = (uint64_t)(d + 0.5); /* d < 2^64: at that size doubles are 4096 apart, + 0.5 stays below */
		return true;
	}
	return false;
}

static bool get_i64(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v = member(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

static bool get_double(struct json_object *o, const char *key, double *ret)
{
	struct json_object *v = member(o, key);

	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return false;
	*ret = json_object_get_double(v);
	return isfinite(*ret);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = member_type(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* 1 true, 0 false, -1 unknown */
static int get_bool(struct json_object *o, const char *key)
{
	struct json_object *v = member_type(o, key, json_type_boolean);

	return v ? json_object_get_boolean(v) : -1;
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ?: dflt;
}

static const char *yes_no(int b)
{
	return b < 0 ? "-" : b ? "yes" : "no";
}

/* ---- formatters into caller buffers ---- */

static char *fmt_u64(char buf[static 32], struct json_object *o, const char *key)
{
	uint64_t v;

	if (!get_u64(o, key, &v))
		snprintf(buf, 32, "-");
	else
		snprintf(buf, 32, "%" PRIu64, v);
	return buf;
}

/* For kernel "unsigned int" knobs where UINT32_MAX means "no limit". */
static char *fmt_u32max(char buf[static 32], struct json_object *o, const char *key)
{
	uint64_t v;

	if (!get_u64(o, key, &v))
		snprintf(buf, 32, "-");
	else if (v >= UINT32_MAX)
		snprintf(buf, 32, "max");
	else
		snprintf(buf, 32, "%" PRIu64, v);
	return buf;
}

static char *fmt_size(char buf[static 32], struct json_object *o, const char *key)
{
	uint64_t v;

	if (!get_u64(o, key, &v)) {
		snprintf(buf, 32, "-");
		return buf;
	}
	return format_size(buf, v);
}

static char *fmt_rate(char buf[static 48], struct json_object *o, const char *key)
{
	char tmp[32];
	double d;

	if (!get_double(o, key, &d) || d < 0 || d >= 1.8e19) {
		snprintf(buf, 48, "-");
		return buf;
	}
	format_size(tmp, (uint64_t)(d + 0.5));
	snprintf(buf, 48, "%s/s", tmp);
	return buf;
}

static char *fmt_duration(char buf[static 32], struct json_object *o, const char *key)
{
	uint64_t v;

	if (!get_u64(o, key, &v)) {
		snprintf(buf, 32, "-");
		return buf;
	}
	return format_duration_us(buf, v);
}

/* at_us is CLOCK_REALTIME in microseconds; rendered in local time. */
static char *fmt_time(char buf[static 32], struct json_object *o, const char *key)
{
	uint64_t us;
	struct tm tm;
	time_t t;

	if (!get_u64(o, key, &us) || us == 0) {
		snprintf(buf, 32, "-");
		return buf;
	}
	t = (time_t)(us / 1000000);
	if (!localtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, 32, "@%" PRIu64, us / 1000000);
	return buf;
}

/* "300..max (30s..max)": age in aggregation intervals, converted to time when aggr_us is known. */
static void print_age_range(FILE *out, struct json_object *age, uint64_t aggr_us)
{
	char a[32], b[32];
	uint64_t lo, hi;

	fprintf(out, "age %s..%s", fmt_u32max(a, age, "min"), fmt_u32max(b, age, "max"));
	if (aggr_us == 0 || !get_u64(age, "min", &lo) || !get_u64(age, "max", &hi))
		return;
	fprintf(out, " (%s..%s)", format_duration_us(a, lo > UINT64_MAX / aggr_us ? UINT64_MAX : lo * aggr_us),
		hi >= UINT32_MAX ? "max" : format_duration_us(b, hi * aggr_us));
}

static void print_string_array(FILE *out, struct json_object *arr, const char *sep)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (n == 0) {
		fputs("none", out);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);

		fprintf(out, "%s%s", i ? sep : "", v ? json_object_get_string(v) : "null");
	}
}

/* ---- redaction ---- */

/* s with every "0x" followed by hex digits replaced by "0x?"; NULL when there is none (or no memory). */
static char *scrub_hex(const char *s, bool *ret_changed)
{
	size_t n = strlen(s);
	char *out, *o;

	*ret_changed = false;
	for (const char *p = s; (p = strstr(p, "0x")); p += 2)
		if (isxdigit((unsigned char)p[2]))
			*ret_changed = true;
	if (!*ret_changed)
		return NULL;
	out = malloc(n + 1); /* "0x?" is never longer than "0x" and a digit */
	if (!out)
		return NULL;
	o = out;
	for (const char *p = s; *p;) {
		if (p[0] == '0' && p[1] == 'x' && isxdigit((unsigned char)p[2])) {
			memcpy(o, "0x?", 3);
			o += 3;
			p += 2;
			while (isxdigit((unsigned char)*p))
				p++;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

static int withhold_strings(struct json_object *o, unsigned depth)
{
	int r;

	if (!o || depth > 64)
		return 0;
	if (json_object_is_type(o, json_type_string)) {
		bool changed;
		_cleanup_free_ char *s = scrub_hex(json_object_get_string(o), &changed);

		if (!changed)
			return 0;
		if (!s || json_object_set_string(o, s) == 0)
			return -ENOMEM;
		return 0;
	}
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if ((r = withhold_strings(json_object_array_get_idx(o, i), depth + 1)) < 0)
				return r;
		return 0;
	}
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val)
		{
			(void)key;
			if ((r = withhold_strings(val, depth + 1)) < 0)
				return r;
		}
	}
	return 0;
}

int status_withhold_addresses(struct json_object *status)
{
	struct json_object *kds;

	if (!status || !json_object_is_type(status, json_type_object))
		return -EINVAL;
	kds = member_type(status, "kdamonds", json_type_array);
	for (size_t k = 0; kds && k < json_object_array_length(kds); k++) {
		struct json_object *kd = json_object_array_get_idx(kds, k);
		struct json_object *targets = member_type(kd, "targets", json_type_array), *schemes;

		for (size_t t = 0; targets && t < json_object_array_length(targets); t++) {
			struct json_object *to = json_object_array_get_idx(targets, t), *empty;

			if (!to || !json_object_is_type(to, json_type_object))
				continue;
			empty = json_object_new_array();
			if (!empty)
				return -ENOMEM;
			if (json_object_object_add(to, "regions", empty) < 0) {
				json_object_put(empty);
				return -ENOMEM;
			}
			if (json_object_object_add(to, "addresses_withheld", json_object_new_boolean(1)) < 0)
				return -ENOMEM;
		}
		/* the charge emulation's excluded ranges (target gaps, or a process's addresses as filters) */
		schemes = member_type(kd, "schemes", json_type_array);
		for (size_t s = 0; schemes && s < json_object_array_length(schemes); s++) {
			struct json_object *fc =
				member_type(json_object_array_get_idx(schemes, s), "fail_charge", json_type_object);
			struct json_object *ex = member_type(fc, "exclusion", json_type_object), *empty;

			if (!ex || !member(ex, "ranges"))
				continue;
			empty = json_object_new_array();
			if (!empty)
				return -ENOMEM;
			if (json_object_object_add(ex, "ranges", empty) < 0) {
				json_object_put(empty);
				return -ENOMEM;
			}
			if (json_object_object_add(ex, "addresses_withheld", json_object_new_boolean(1)) < 0)
				return -ENOMEM;
		}
	}
	return withhold_strings(status, 0);
}

/* ---- status ---- */

static void render_target(FILE *out, struct json_object *t)
{
	struct json_object *regions = member_type(t, "regions", json_type_array);
	struct json_object *snap = member_type(t, "snapshot", json_type_object);
	char a[32], b[32], c[48];
	int64_t pid;
	size_t n = regions ? json_object_array_length(regions) : 0, n_all;
	uint64_t total = 0, total_all, nr_ranges;

	snprintf(c, sizeof(c), "target %s", fmt_u64(a, t, "index"));
	fprintf(out, LABEL1, c);
	if (get_i64(t, "pid", &pid) && pid > 0) {
		struct json_object *sel = member_type(t, "selector", json_type_object);
		const char *comm = get_str(t, "comm");

		const char *unit = get_str(t, "unit");

		fprintf(out, "pid %" PRId64, pid);
		if (comm && unit)
			fprintf(out, " (%s, %s)", comm, unit);
		else if (comm)
			fprintf(out, " (%s)", comm);
		if (sel && get_str(sel, "kind") && get_str(sel, "value"))
			fprintf(out, ", followed by %s: %s", get_str(sel, "kind"), get_str(sel, "value"));
	} else
		fputs("physical", out);
	{
		struct json_object *nodes = member_type(t, "nodes", json_type_array);
		const char *from = get_str(t, "ranges_from");

		if (nodes && json_object_array_length(nodes) > 0) {
			size_t nn = json_object_array_length(nodes);

			fprintf(out, ", NUMA node%s", nn == 1 ? "" : "s");
			for (size_t i = 0; i < nn; i++)
				fprintf(out, "%s%" PRId64, i ? "," : " ",
					json_object_get_int64(json_object_array_get_idx(nodes, i)));
		} else if (from && streq(from, "system_ram"))
			fputs(", all System RAM", out);
	}

	/* damond lists only the first ranges; nr_ranges and ranges_bytes cover all */
	if (get_u64(t, "nr_ranges", &nr_ranges))
		n_all = (size_t)nr_ranges;
	else
		n_all = n;
	if (n_all > 0 && n == 0 && get_bool(t, "addresses_withheld") == 1) {
		fprintf(out, ", %zu range%s", n_all, n_all == 1 ? "" : "s");
		if (get_u64(t, "ranges_bytes", &total_all))
			fprintf(out, " (%s)", format_size(a, total_all));
		fputs(", addresses withheld (root or control_group only)", out);
	} else if (n_all > 0) {
		fprintf(out, ", %zu range%s:", n_all, n_all == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++) {
			struct json_object *r = json_object_array_get_idx(regions, i);
			uint64_t s, e;

			if (!get_u64(r, "start", &s) || !get_u64(r, "end", &e))
				continue;
			if (e > s)
				total += e - s;
			if (i < 4)
				fprintf(out, " 0x%" PRIx64 "-0x%" PRIx64, s, e);
		}
		if (n_all > 4)
			fprintf(out, " (+%zu more)", n_all - 4);
		if (!get_u64(t, "ranges_bytes", &total_all))
			total_all = total;
		fprintf(out, " (%s)", format_size(a, total_all));
	} else {
		fputs(", regions chosen by the kernel", out);
	}
	fputc('\n', out);

	if (snap) {
		double age;

		fprintf(out, LABEL1 "%s regions, hot %s, cold %s", "  snapshot", fmt_u64(a, snap, "nr_regions"),
			fmt_size(b, snap, "hot_bytes"), fmt_size(c, snap, "cold_bytes"));
		if (get_double(snap, "age_s", &age))
			fprintf(out, ", %.1fs old", age);
		fputc('\n', out);
	}
}

static uint64_t ms_to_us(uint64_t ms)
{
	return ms > UINT64_MAX / 1000 ? UINT64_MAX : ms * 1000;
}

static void render_quota(FILE *out, struct json_object *q, struct json_object *fc)
{
	char a[32], b[32], c[32];
	uint64_t bytes, ms, reset, user, kernel;
	struct json_object *goals = member_type(q, "goals", json_type_array);
	size_t ngoals = goals ? json_object_array_length(goals) : 0;
	const char *tuner = get_str(q, "goal_tuner");

	fprintf(out, LABEL2, "quota");
	if (!get_u64(q, "sz_bytes", &bytes))
		fputs("-", out);
	else if (bytes == 0)
		fputs("unlimited", out);
	else
		fprintf(out, "%s", format_size(a, bytes));
	if (get_u64(q, "reset_interval_ms", &reset))
		fprintf(out, " per %s", format_duration_us(a, ms_to_us(reset)));
	if (get_u64(q, "time_ms", &ms) && ms > 0)
		fprintf(out, ", time %s", format_duration_us(b, ms_to_us(ms)));
	fprintf(out, ", effective %s", fmt_size(c, q, "effective_sz_bytes"));
	if (get_u64(fc, "user_quota_bytes", &user) && get_u64(fc, "kernel_quota_bytes", &kernel) && user != kernel)
		fprintf(out, " (user %s, kernel enforces %s)", format_size(a, user), format_size(b, kernel));
	fputc('\n', out);

	if (ngoals > 0 || tuner) {
		fprintf(out, LABEL2, "quota goals");
		for (size_t i = 0; i < ngoals; i++) {
			struct json_object *g = json_object_array_get_idx(goals, i);
			const char *path = get_str(g, "path");
			int64_t nid;

			const char *unit = str_or(get_str(g, "unit"), ""), *why = get_str(g, "current_unknown");
			uint64_t score;

			fprintf(out, "%s%s ", i ? "; " : "", str_or(get_str(g, "metric"), "-"));
			if (member(g, "current_value"))
				fprintf(out, "current %s%s%s / ", fmt_u64(b, g, "current_value"), *unit ? " " : "",
					unit);
			else if (why)
				fprintf(out, "current unknown (%s) / ", why);
			fprintf(out, "target %s%s%s", fmt_u64(a, g, "target_value"), *unit ? " " : "", unit);
			/* the kernel's score: 100 % or more = met, its tuner backs off */
			if (get_u64(g, "score_bp", &score))
				fprintf(out, " (%" PRIu64 ".%02" PRIu64 " %%%s)", score / 100, score % 100,
					score >= 10000 ? ", met" : "");
			if (get_i64(g, "nid", &nid))
				fprintf(out, " nid %" PRId64, nid);
			if (path)
				fprintf(out, " path %s", path);
			/* the kernel lacks the metric: damond measures it and hands it over as user_input */
			if (get_str(g, "mode") && streq(get_str(g, "mode"), "fed"))
				fputs(" (measured by damond, fed as user_input)", out);
		}
		if (tuner)
			fprintf(out, "%stuner %s", ngoals ? "; " : "", tuner);
		fputc('\n', out);
	}
}

/* How the charge emulation's exclusion reaches the kernel: damond's addr reject filters, or target gaps. */
static void render_exclusion(FILE *out, struct json_object *ex)
{
	struct json_object *ranges = member_type(ex, "ranges", json_type_array);
	const char *by = get_str(ex, "by"), *dir = get_str(ex, "dir");
	uint64_t n = 0, max = 0;
	size_t nr = ranges ? json_object_array_length(ranges) : 0;

	if (!ex || !by)
		return;
	(void)get_u64(ex, "nr_ranges", &n);
	if (streq(by, "addr_reject_filters"))
		fprintf(out, LABEL2 "%" PRIu64 " addr reject filter%s in %s/, ahead of the scheme's own", "exclusion",
			n, n == 1 ? "" : "s", str_or(dir, "-"));
	else
		fprintf(out, LABEL2 "%" PRIu64 " gap%s in the targets", "exclusion", n, n == 1 ? "" : "s");
	if (get_u64(ex, "max_ranges", &max))
		fprintf(out, " (at most %" PRIu64 ")", max);
	if (get_bool(ex, "addresses_withheld") == 1)
		fputs(", addresses withheld (root or control_group only)", out);
	for (size_t i = 0; i < nr; i++) {
		struct json_object *r = json_object_array_get_idx(ranges, i);
		uint64_t s, e;
		char a[32];

		if (!get_u64(r, "start", &s) || !get_u64(r, "end", &e) || e < s)
			continue;
		if (i < 4)
			fprintf(out, "%s0x%" PRIx64 "-0x%" PRIx64 " (%s)", i ? ", " : ": ", s, e,
				format_size(a, e - s));
	}
	if (nr > 4)
		fprintf(out, " (+%zu more)", nr - 4);
	fputc('\n', out);
}

static void render_fail_charge(FILE *out, struct json_object *fc)
{
	struct json_object *adj = member_type(fc, "adjustments", json_type_array);
	const char *mode = get_str(fc, "mode");
	char a[32], b[32];
	double share;
	size_t n;

	if (!fc)
		return;
	fprintf(out, LABEL2 "%s", "fail_charge", str_or(mode, "-"));
	if (fail_charge_status_from_string(mode) == FAIL_CHARGE_STATUS_OFF) {
		fputc('\n', out);
		return;
	}
	fprintf(out, ", ratio %s/%s", fmt_u64(a, fc, "num"), fmt_u64(b, fc, "denom"));
	if (get_double(fc, "failure_share", &share))
		fprintf(out, ", failure share %.1f%%", share * 100.0);
	else
		fputs(", failure share -", out);
	fprintf(out, ", excluded %s\n", fmt_size(a, fc, "excluded_bytes"));
	render_exclusion(out, member_type(fc, "exclusion", json_type_object));

	n = adj ? json_object_array_length(adj) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(adj, i);

		fprintf(out, LABEL2 "%s quota %s: %s\n", i == 0 ? "  adjustments" : "",
			fmt_time(a, x, "at_us"), fmt_size(b, x, "quota_bytes"),
			str_or(get_str(x, "reason"), "-"));
	}
}

static void render_controllers(FILE *out, struct json_object *obj, int indent, const char *known);

static void render_scheme(FILE *out, struct json_object *s, uint64_t aggr_us)
{
	struct json_object *ap = member_type(s, "access_pattern", json_type_object);
	struct json_object *q = member_type(s, "quotas", json_type_object);
	struct json_object *st = member_type(s, "stats", json_type_object);
	struct json_object *rt = member_type(s, "rates", json_type_object);
	struct json_object *wm = member_type(s, "watermarks", json_type_object);
	struct json_object *fc = member_type(s, "fail_charge", json_type_object);
	const char *name = get_str(s, "name");
	char a[32], b[32], c[32], d[32], rate[48];

	fprintf(out, "  scheme %s", fmt_u64(a, s, "slot"));
	if (name)
		fprintf(out, " \"%s\"", name);
	fprintf(out, ": %s", str_or(get_str(s, "action"), "-"));
	if (get_bool(s, "tombstone") == 1)
		fputs(" (tombstone: removed from the config, kept inert so later slots keep their state)", out);
	else if (get_bool(s, "keepalive") == 1)
		fputs(" (keepalive: matches nothing and is always active, so the kdamond keeps handling "
		      "commands while every scheme is watermark-deactivated)",
		      out);
	fputc('\n', out);

	if (ap) {
		struct json_object *sz = member(ap, "sz_bytes"), *nr = member(ap, "nr_accesses");

		fprintf(out, LABEL2 "size %s..%s, nr_accesses %s..%s, ", "access pattern",
			fmt_size(a, sz, "min"), fmt_size(b, sz, "max"), fmt_u32max(c, nr, "min"),
			fmt_u32max(d, nr, "max"));
		print_age_range(out, member(ap, "age"), aggr_us);
		fputc('\n', out);
	}
	if (q)
		render_quota(out, q, fc);

	fprintf(out, LABEL2 "%s regions, %s, %s\n", "tried", fmt_u64(a, st, "nr_tried"), fmt_size(b, st, "sz_tried"),
		fmt_rate(rate, rt, "sz_tried_bytes_per_s"));
	fprintf(out, LABEL2 "%s regions, %s, %s\n", "applied", fmt_u64(a, st, "nr_applied"),
		fmt_size(b, st, "sz_applied"), fmt_rate(rate, rt, "sz_applied_bytes_per_s"));
	fprintf(out, LABEL2 "%s\n", "qt_exceeds", fmt_u64(a, st, "qt_exceeds"));
	if (member(st, "sz_ops_filter_passed"))
		fprintf(out, LABEL2 "%s\n", "filter passed", fmt_size(a, st, "sz_ops_filter_passed"));
	if (get_str(st, "source"))
		fprintf(out, LABEL2 "%s\n", "stats from",
			streq(get_str(st, "source"), "bpf") ? "BPF (damos_stat_after_apply_interval events)"
							     : "sysfs (stats/ files)");
	if (wm)
		fprintf(out, LABEL2 "%s, %s\n", "watermarks", str_or(get_str(wm, "metric"), "-"),
			str_or(get_str(wm, "state"), "-"));
	render_fail_charge(out, fc);
	render_controllers(out, s, 4, "fail_charge");
}

/* "k=v" pairs of a controller's status object, nested objects as "k.sub=v", arrays by length */
static void render_ctrl_members(FILE *out, struct json_object *o, const char *prefix, bool *first)
{
	json_object_object_foreach(o, key, v) {
		const char *sep = *first ? "" : ", ";

		switch (json_object_get_type(v)) {
		case json_type_object: {
			char sub[128];

			snprintf(sub, sizeof(sub), "%s%s.", prefix, key);
			render_ctrl_members(out, v, sub, first);
			continue;
		}
		case json_type_array:
			fprintf(out, "%s%s%s: %zu entries", sep, prefix, key, json_object_array_length(v));
			break;
		case json_type_null:
			fprintf(out, "%s%s%s: -", sep, prefix, key);
			break;
		default:
			fprintf(out, "%s%s%s: %s", sep, prefix, key, json_object_get_string(v));
			break;
		}
		*first = false;
	}
}

/*
 * The controllers of a scheme or kdamond object ("controllers": the names of
 * the members that are a controller's status) that have no rendering of
 * their own (known: the ones rendered by hand), generically: a controller
 * added to the registry shows up in the text without a line here.
 */
static void render_controllers(FILE *out, struct json_object *obj, int indent, const char *known)
{
	struct json_object *names = member_type(obj, "controllers", json_type_array);
	size_t n = names ? json_object_array_length(names) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(names, i));
		struct json_object *o = name ? member_type(obj, name, json_type_object) : NULL;
		bool first = true;

		if (!o || (known && streq(name, known)))
			continue;
		fprintf(out, "%*s%-*s", indent, "", 20 - indent, name);
		render_ctrl_members(out, o, "", &first);
		fputc('\n', out);
	}
}

/* "refine: split: <reason>; 3 rounds, 5 of 7 boundaries kept" (only when enabled) */
static void render_refine(FILE *out, struct json_object *rf)
{
	char a[32], b[32], c[32];

	if (!rf || get_bool(rf, "enabled") != 1)
		return;
	if (get_str(rf, "off")) {
		fprintf(out, LABEL1 "off: %s\n", "refine", get_str(rf, "off"));
		return;
	}
	fprintf(out, LABEL1 "%s: %s; %s rounds, %s of %s boundaries kept\n", "refine", str_or(get_str(rf, "verdict"), "-"),
		str_or(get_str(rf, "reason"), "-"), fmt_u64(a, rf, "rounds"), fmt_u64(b, rf, "kept"),
		fmt_u64(c, rf, "splits"));
}

/* signed milliseconds: "3.2s", "hot 200ms" (negative: accessed, for that long) */
static char *fmt_idle_ms(char buf[static 40], int64_t ms)
{
	char d[32];

	snprintf(buf, 40, "%s%s", ms < 0 ? "hot " : "", format_duration_us(d, (uint64_t)(ms < 0 ? -ms : ms) * 1000));
	return buf;
}

/* DAMON_STAT's outputs, computed by damond from the kdamond's snapshots */
static void render_damon_stat(FILE *out, struct json_object *ds)
{
	static const int shown[] = { 0, 25, 50, 75, 90, 100 };
	struct json_object *pct = member_type(ds, "memory_idle_ms_percentiles", json_type_array);
	uint64_t bw;
	char a[32], p[40];

	if (!ds)
		return;
	fprintf(out, LABEL1, "damon_stat");
	if (get_u64(ds, "estimated_memory_bandwidth_bytes_per_second", &bw))
		fprintf(out, "bandwidth %s/s", format_size(a, bw));
	for (size_t i = 0; pct && i < ARRAY_SIZE(shown); i++) {
		struct json_object *v = json_object_array_get_idx(pct, shown[i]);

		if (v && json_object_is_type(v, json_type_int))
			fprintf(out, "%sp%d %s", i ? " " : "; idle ", shown[i],
				fmt_idle_ms(p, json_object_get_int64(v)));
	}
	fprintf(out, " (aggr %s, %s)\n", fmt_duration(a, ds, "aggr_interval_us"),
		str_or(get_str(ds, "aggr_interval_source"), "-"));
}

/* "kdamond dirs  3 (spares: 1, 2)": the directories damond owns; a spare is filled by a reload adding a kdamond */
static void render_kdamond_dirs(FILE *out, struct json_object *dirs)
{
	struct json_object *sp = member_type(dirs, "spares", json_type_array);
	size_t n = sp ? json_object_array_length(sp) : 0;
	char a[32];

	if (!dirs)
		return;
	fprintf(out, LABEL0 "%s", "kdamond dirs", fmt_u64(a, dirs, "nr"));
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%d", i ? ", " : " (spares: ", json_object_get_int(json_object_array_get_idx(sp, i)));
	fputs(n ? ")\n" : " (no spare: adding a kdamond restarts the running ones)\n", out);
}

/* "ager  on, 'reclaim.ager' #1 pid 77: quota 512 MiB per 1 s, a pass in 4 s over 2 GiB; young page cache 900 MiB
 * (starts at 32 MiB); why" (the charge emulation's ager, where one is considered) */
static void render_ager(FILE *out, struct json_object *ag)
{
	char a[32], b[32], c[32], d[32], e[32], f[32];
	int64_t pid, idx;

	if (!ag)
		return;
	fprintf(out, LABEL1 "%s, '%s'", "ager", str_or(get_str(ag, "state"), "-"), str_or(get_str(ag, "name"), "-"));
	if (get_i64(ag, "index", &idx))
		fprintf(out, " #%" PRId64, idx);
	if (get_i64(ag, "pid", &pid) && pid > 0)
		fprintf(out, " pid %" PRId64, pid);
	fprintf(out, ": quota %s per %s ms, a pass in %s ms over %s; young page cache %s (starts at %s); %s\n",
		fmt_size(a, ag, "window_quota_bytes"), fmt_u64(b, ag, "reset_interval_ms"), fmt_u64(c, ag, "pass_ms"),
		fmt_size(d, ag, "span_bytes"), fmt_size(e, ag, "young_cache_bytes"), fmt_size(f, ag, "start_at_bytes"),
		str_or(get_str(ag, "why"), "-"));
}

static void render_kdamond(FILE *out, struct json_object *k)
{
	struct json_object *iv = member_type(k, "intervals", json_type_object);
	struct json_object *nr = member_type(k, "nr_regions", json_type_object);
	struct json_object *targets = member_type(k, "targets", json_type_array);
	struct json_object *schemes = member_type(k, "schemes", json_type_array);
	struct json_object *last = member_type(k, "last_action", json_type_object);
	char a[32], b[32], c[32];
	uint64_t aggr_us = 0;
	int64_t pid;
	size_t n;

	fprintf(out, "kdamond \"%s\" #%s: %s", str_or(get_str(k, "name"), "-"), fmt_u64(a, k, "index"),
		str_or(get_str(k, "state"), "-"));
	if (get_i64(k, "pid", &pid) && pid > 0)
		fprintf(out, ", pid %" PRId64, pid);
	fprintf(out, ", ops %s", str_or(get_str(k, "ops"), "-"));
	fprintf(out, ", sample %s aggr %s update %s", fmt_duration(a, iv, "sample_us"),
		fmt_duration(b, iv, "aggr_us"), fmt_duration(c, iv, "update_us"));
	fprintf(out, ", regions %s..%s", fmt_u64(a, nr, "min"), fmt_u64(b, nr, "max"));
	if (get_bool(k, "adopted") == 1)
		fputs(", adopted", out);
	fputc('\n', out);

	get_u64(iv, "aggr_us", &aggr_us);

	n = targets ? json_object_array_length(targets) : 0;
	for (size_t i = 0; i < n; i++)
		render_target(out, json_object_array_get_idx(targets, i));
	render_refine(out, member_type(k, "refine", json_type_object));
	render_ager(out, member_type(k, "ager", json_type_object));
	render_controllers(out, k, 2, "refine");
	render_damon_stat(out, member_type(k, "damon_stat", json_type_object));
	n = schemes ? json_object_array_length(schemes) : 0;
	if (n == 0)
		fprintf(out, LABEL1 "none\n", "schemes");
	for (size_t i = 0; i < n; i++)
		render_scheme(out, json_object_array_get_idx(schemes, i), aggr_us);
	if (last)
		fprintf(out, LABEL1 "%s (%s) at %s\n", "last action", str_or(get_str(last, "what"), "-"),
			str_or(get_str(last, "why"), "-"), fmt_time(a, last, "at_us"));
	last = member_type(k, "pending", json_type_object);
	if (last)
		fprintf(out, LABEL1 "%s waits for the DAMON sysfs lock since %s, %s attempts (%s)\n", "pending",
			str_or(get_str(last, "what"), "-"), fmt_time(a, last, "since_us"), fmt_u64(b, last, "attempts"),
			str_or(get_str(last, "why"), "-"));
	last = member_type(k, "last_error", json_type_object);
	if (last)
		fprintf(out, LABEL1 "%s at %s\n", "last error", str_or(get_str(last, "message"), "-"),
			fmt_time(a, last, "at_us"));
}

static void rename_member(struct json_object *o, const char *from, const char *to)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, from, &v) ||
	    json_object_object_get_ex(o, to, NULL))
		return;
	json_object_object_add(o, to, json_object_get(v));
	json_object_object_del(o, from);
}

/*
 * A schema 1 document (a damond older than this damondctl, still running
 * after an upgrade): its scheme fields under the names schema 2 gave them,
 * the config's keys.
 */
void status_upgrade(struct json_object *status)
{
	struct json_object *kds = member_type(status, "kdamonds", json_type_array);
	int64_t v = 1;

	(void)get_i64(status, "schema_version", &v);
	if (v >= 2)
		return;
	for (size_t k = 0; kds && k < json_object_array_length(kds); k++) {
		struct json_object *ss = member_type(json_object_array_get_idx(kds, k), "schemes", json_type_array);

		for (size_t i = 0; ss && i < json_object_array_length(ss); i++) {
			struct json_object *s = json_object_array_get_idx(ss, i), *q, *wm;

			rename_member(s, "quota", "quotas");
			q = member_type(s, "quotas", json_type_object);
			rename_member(q, "bytes", "sz_bytes");
			rename_member(q, "ms", "time_ms");
			rename_member(q, "effective_bytes", "effective_sz_bytes");
			rename_member(member_type(s, "access_pattern", json_type_object), "sz", "sz_bytes");
			rename_member(member_type(s, "rates", json_type_object), "sz_tried_bps",
				      "sz_tried_bytes_per_s");
			rename_member(member_type(s, "rates", json_type_object), "sz_applied_bps",
				      "sz_applied_bytes_per_s");
			wm = member_type(s, "watermarks", json_type_object);
			rename_member(wm, "high", "high_permil");
			rename_member(wm, "mid", "mid_permil");
			rename_member(wm, "low", "low_permil");
		}
	}
}

int status_render_text(struct json_object *status, FILE *out)
{
	struct json_object *cfg, *reload, *mon, *res, *kds, *actions, *features;
	char a[32], b[32];
	int64_t pid;
	size_t n;

	if (!status || !json_object_is_type(status, json_type_object) || !out)
		return -EINVAL;

	status_upgrade(status);
	if (get_i64(status, "schema_version", &pid) && pid > STATUS_SCHEMA_VERSION)
		fprintf(out,
			"note: damond's status schema %" PRId64 " is newer than this damondctl's (%d): "
			"some fields may be missing or misread\n",
			pid, STATUS_SCHEMA_VERSION);
	fprintf(out, "damond %s", str_or(get_str(status, "version"), "-"));
	if (get_i64(status, "pid", &pid))
		fprintf(out, ", pid %" PRId64, pid);
	fprintf(out, ", sysfs root %s", str_or(get_str(status, "sysfs_root"), "-"));
	if (get_bool(status, "dry_run") == 1)
		fputs(", DRY RUN (nothing is written)", out);
	fputc('\n', out);

	cfg = member_type(status, "config", json_type_object);
	if (cfg) {
		reload = member_type(cfg, "last_reload", json_type_object);
		fprintf(out, LABEL0 "%s, generation %s\n", "config", str_or(get_str(cfg, "path"), "-"),
			fmt_u64(a, cfg, "generation"));
		if (reload) {
			struct json_object *errs = member_type(reload, "errors", json_type_array);
			int ok = get_bool(reload, "ok");

			int applied = get_bool(reload, "applied");
			const char *changes = get_str(reload, "changes");
			uint64_t from = 0;

			if (ok != 1 && applied == 1 && get_u64(reload, "rolled_back_from", &from))
				fprintf(out,
					LABEL0 "FAILED PART WAY at %s: the kernel refused generation %" PRIu64
					       ", the previous one was rolled back (see below)\n",
					"last reload", fmt_time(a, reload, "at_us"), from);
			else
				fprintf(out, LABEL0 "%s at %s\n", "last reload",
					ok == 1        ? "succeeded"
					: applied == 1 ? "FAILED PART WAY (the new config is in force; see below)"
					: ok == 0      ? "FAILED (running config kept)"
						       : "-",
					fmt_time(a, reload, "at_us"));
			if (changes && *changes)
				fprintf(out, LABEL0 "%s\n", "", changes);
			n = errs ? json_object_array_length(errs) : 0;
			for (size_t i = 0; i < n; i++) {
				struct json_object *e = json_object_array_get_idx(errs, i);

				fprintf(out, LABEL0 "%s\n", "", e ? json_object_get_string(e) : "-");
			}
		}
	}
	render_kdamond_dirs(out, member_type(status, "kdamond_dirs", json_type_object));

	mon = member_type(status, "monitor", json_type_object);
	if (mon) {
		const char *reason = get_str(mon, "reason");
		struct json_object *bpf;
		uint64_t ring = 0, wake = 0;

		fprintf(out, LABEL0 "%s", "monitor", str_or(get_str(mon, "source"), "-"));
		if (reason && *reason)
			fprintf(out, " (%s)", reason);
		fprintf(out, ", %s events/s, %s drops", fmt_u64(a, mon, "events_per_s"), fmt_u64(b, mon, "drops"));
		bpf = member_type(mon, "bpf", json_type_object);
		if (bpf && get_u64(bpf, "ring_buffer_kib", &ring) && get_u64(bpf, "wake_kib", &wake))
			fprintf(out, ", ring %s (damond woken at %s)", format_size(a, ring * 1024),
				format_size(b, wake * 1024));
		fputc('\n', out);
	}

	res = member_type(status, "resources", json_type_object);
	if (res) {
		uint64_t cpu_ms = 0, rss = 0, heap = 0;

		(void)get_u64(res, "cpu_ms", &cpu_ms);
		(void)get_u64(res, "rss_kib", &rss);
		(void)get_u64(res, "heap_in_use_kib", &heap);
		fprintf(out, LABEL0 "cpu %.1fs, rss %s, heap in use %s\n", "damond", (double)cpu_ms / 1000.0,
			format_size(a, rss * 1024), format_size(b, heap * 1024));
	}

	kds = member_type(status, "kdamonds", json_type_array);
	n = kds ? json_object_array_length(kds) : 0;
	if (n == 0)
		fputs("\nno kdamonds\n", out);
	for (size_t i = 0; i < n; i++) {
		fputc('\n', out);
		render_kdamond(out, json_object_array_get_idx(kds, i));
	}

	features = member_type(status, "features", json_type_object);
	if (features) {
		fputc('\n', out);
		features_render_text(features, out);
	}

	actions = member_type(status, "actions", json_type_array);
	n = actions ? json_object_array_length(actions) : 0;
	if (n > 0)
		fputs("\nrecent actions\n", out);
	for (size_t i = 0; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(actions, i);

		const char *scheme = get_str(x, "scheme");

		const char *kd = get_str(x, "kdamond");

		fprintf(out, "  %s  %s%s%s: %s (%s)\n", fmt_time(a, x, "at_us"), kd && *kd ? kd : "damond",
			scheme ? "/" : "", scheme ? scheme : "", str_or(get_str(x, "what"), "-"),
			str_or(get_str(x, "why"), "-"));
	}

	fflush(out);
	return ferror(out) ? -EIO : 0;
}

/* ---- the summary ------------------------------------------------------- */

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BOLD "\033[1m"
#define C_OFF "\033[0m"

/* One output line, built in buf, then cut to the width (colour codes do not count) and written. */
struct line {
	char buf[1024];
	size_t len;
	const struct status_summary_opts *o;
};

static void line_add(struct line *l, const char *fmt, ...) _printf_(2, 3);
static void line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = MIN(l->len + (size_t)n, sizeof(l->buf) - 1);
}

static void line_color(struct line *l, const char *color, const char *text)
{
	if (l->o->color)
		line_add(l, "%s%s" C_OFF, color, text);
	else
		line_add(l, "%s", text);
}

static void line_emit(FILE *out, struct line *l)
{
	unsigned cols = 0;
	size_t i;

	for (i = 0; i < l->len; i++) {
		if (l->buf[i] == '\033') { /* an escape sequence: up to its final letter */
			while (i < l->len && !isalpha((unsigned char)l->buf[i]))
				i++;
			continue;
		}
		if (((unsigned char)l->buf[i] & 0xc0) == 0x80) /* UTF-8 continuation byte */
			continue;
		if (l->o->width && cols + 1 >= l->o->width && i + 1 < l->len) {
			fwrite(l->buf, 1, i, out);
			fputs(l->o->color ? "~" C_OFF "\n" : "~\n", out);
			l->len = 0;
			return;
		}
		cols++;
	}
	fwrite(l->buf, 1, l->len, out);
	fputc('\n', out);
	l->len = 0;
}

static double permil_pct(struct json_object *o, const char *key)
{
	uint64_t v;

	return get_u64(o, key, &v) ? (double)v / 10.0 : -1;
}

/* Why a scheme with watermarks is (in)active: "free 62.0 % > high 50.0 %". */
static void summary_watermarks(struct line *l, struct json_object *wm)
{
	const char *state = get_str(wm, "state");
	double free_pct = permil_pct(wm, "free_permil"), high = permil_pct(wm, "high_permil"),
	       low = permil_pct(wm, "low_permil"), mid = permil_pct(wm, "mid_permil");

	if (!state || streq(state, "n/a"))
		return;
	if (streq(state, "inactive")) {
		line_color(l, C_YELLOW, "idle");
		if (free_pct >= 0 && high >= 0 && free_pct > high)
			line_add(l, ": free %.1f %% > high %.1f %%", free_pct, high);
		else if (free_pct >= 0 && low >= 0 && free_pct < low)
			line_add(l, ": free %.1f %% < low %.1f %%", free_pct, low);
		else
			line_add(l, " (watermarks)");
		line_add(l, "; ");
	} else if (free_pct >= 0 && streq(state, "active")) {
		line_add(l, "active: free %.1f %% <= mid %.1f %%; ", free_pct, mid);
	} else if (free_pct >= 0) {
		line_add(l, "%s: free %.1f %%; ", state, free_pct);
	}
}

/* Each quota goal: "goal METRIC current/target UNIT met|missed", from the kernel's score (>= 100 %: met). */
static void summary_goals(struct line *l, struct json_object *goals)
{
	size_t n = goals ? json_object_array_length(goals) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(goals, i);
		const char *unit = str_or(get_str(g, "unit"), "");
		char a[32], b[32];
		uint64_t score;

		line_add(l, "; goal %s %s/%s%s%s ", str_or(get_str(g, "metric"), "-"),
			 member(g, "current_value") ? fmt_u64(a, g, "current_value") : "?",
			 fmt_u64(b, g, "target_value"), *unit ? " " : "", unit);
		if (!get_u64(g, "score_bp", &score))
			line_color(l, C_YELLOW, "unknown");
		else if (score >= 10000)
			line_color(l, C_GREEN, "met");
		else
			line_color(l, C_YELLOW, "missed");
	}
}

static void summary_scheme(FILE *out, struct line *l, struct json_object *s)
{
	struct json_object *q = member_type(s, "quotas", json_type_object);
	struct json_object *rt = member_type(s, "rates", json_type_object);
	struct json_object *wm = member_type(s, "watermarks", json_type_object);
	struct json_object *fc = member_type(s, "fail_charge", json_type_object);
	const char *action = str_or(get_str(s, "action"), "-"), *mode = get_str(fc, "mode");
	uint64_t quota = 0, reset_ms = 0;
	char a[48], b[32];
	double applied;

	if (!get_str(s, "name") || get_bool(s, "tombstone") == 1 || get_bool(s, "keepalive") == 1)
		return;
	line_add(l, "    %-14s %-12s ", get_str(s, "name"), action);
	summary_watermarks(l, wm);
	if (streq(action, "stat")) {
		line_add(l, "watching %s", fmt_rate(a, rt, "sz_tried_bytes_per_s"));
	} else {
		line_add(l, "applied %s", fmt_rate(a, rt, "sz_applied_bytes_per_s"));
		if (get_u64(q, "sz_bytes", &quota) && quota > 0 && get_u64(q, "reset_interval_ms", &reset_ms) &&
		    reset_ms) {
			format_size(b, (uint64_t)((double)quota * 1000.0 / (double)reset_ms + 0.5));
			line_add(l, " of a %s/s quota", b);
			if (get_double(rt, "sz_applied_bytes_per_s", &applied))
				line_add(l, " (%.0f %%)", applied * 100.0 * (double)reset_ms / 1000.0 / (double)quota);
		} else {
			line_add(l, ", ");
			line_color(l, C_YELLOW, "no quota");
		}
	}
	summary_goals(l, member_type(q, "goals", json_type_array));
	if (mode && !streq(mode, "off"))
		line_add(l, "; fail-charge %s", mode);
	line_emit(out, l);
}

static void summary_kdamond(FILE *out, struct line *l, struct json_object *k)
{
	struct json_object *nr = member_type(k, "nr_regions", json_type_object);
	struct json_object *targets = member_type(k, "targets", json_type_array);
	struct json_object *schemes = member_type(k, "schemes", json_type_array);
	struct json_object *rf = member_type(k, "refine", json_type_object);
	struct json_object *x;
	const char *state = str_or(get_str(k, "state"), "-");
	uint64_t snap_regions = 0, v;
	bool have_snap = false, withheld = false;
	char a[32], b[32];
	int64_t pid;
	size_t n;

	n = targets ? json_object_array_length(targets) : 0;
	for (size_t i = 0; i < n; i++) {
		withheld |= get_bool(json_object_array_get_idx(targets, i), "addresses_withheld") == 1;
		x = member_type(json_object_array_get_idx(targets, i), "snapshot", json_type_object);
		if (x && get_u64(x, "nr_regions", &v)) {
			snap_regions += v;
			have_snap = true;
		}
	}
	line_add(l, "  %-16s ", str_or(get_str(k, "name"), "-"));
	line_color(l, streq(state, "on") ? C_GREEN : streq(state, "died") ? C_RED C_BOLD : C_YELLOW, state);
	if (get_i64(k, "pid", &pid) && pid > 0)
		line_add(l, " (pid %" PRId64 ")", pid);
	line_add(l, ", %s, %zu target%s, ", str_or(get_str(k, "ops"), "-"), n, n == 1 ? "" : "s");
	if (have_snap)
		line_add(l, "%" PRIu64 " regions (min %s, max %s)", snap_regions, fmt_u64(a, nr, "min"),
			 fmt_u64(b, nr, "max"));
	else
		line_add(l, "regions %s..%s", fmt_u64(a, nr, "min"), fmt_u64(b, nr, "max"));
	if (get_bool(k, "adopted") == 1)
		line_add(l, ", adopted");
	if (streq(state, "waiting")) {
		struct json_object *fol = member_type(k, "follows", json_type_array);

		line_add(l, ", no process matches");
		for (size_t i = 0; fol && i < json_object_array_length(fol); i++)
			line_add(l, "%s%s", i ? ", " : " ", json_object_get_string(json_object_array_get_idx(fol, i)));
	}
	if (withheld)
		line_add(l, ", addresses withheld (root or control_group only)");
	line_emit(out, l);

	if (rf && get_bool(rf, "enabled") == 1) {
		if (get_str(rf, "off"))
			line_add(l, "    %-14s off: %s", "refine", get_str(rf, "off"));
		else
			line_add(l, "    %-14s %s: %s", "refine", str_or(get_str(rf, "verdict"), "-"),
				 str_or(get_str(rf, "reason"), "-"));
		line_emit(out, l);
	}
	x = member_type(k, "ager", json_type_object);
	if (x) {
		line_add(l, "    %-14s %s, '%s': quota %s/s; %s", "ager", str_or(get_str(x, "state"), "-"),
			 str_or(get_str(x, "name"), "-"), fmt_size(a, x, "window_quota_bytes"),
			 str_or(get_str(x, "why"), "-"));
		line_emit(out, l);
	}
	n = schemes ? json_object_array_length(schemes) : 0;
	for (size_t i = 0; i < n; i++)
		summary_scheme(out, l, json_object_array_get_idx(schemes, i));
	x = member_type(k, "pending", json_type_object);
	if (x) {
		line_add(l, "    ");
		line_color(l, C_YELLOW, "pending");
		line_add(l, ": %s waits for the DAMON sysfs lock (%s attempts)", str_or(get_str(x, "what"), "-"),
			 fmt_u64(a, x, "attempts"));
		line_emit(out, l);
	}
	x = member_type(k, "last_error", json_type_object);
	if (x) {
		line_add(l, "    ");
		line_color(l, C_RED, "last error");
		line_add(l, " at %s: %s", fmt_time(a, x, "at_us"), str_or(get_str(x, "message"), "-"));
		line_emit(out, l);
	}
}

static void summary_header(FILE *out, struct line *l, struct json_object *status)
{
	struct json_object *cfg = member_type(status, "config", json_type_object);
	struct json_object *reload = member_type(cfg, "last_reload", json_type_object);
	struct json_object *mon = member_type(status, "monitor", json_type_object);
	struct json_object *res = member_type(status, "resources", json_type_object);
	struct json_object *dirs = member_type(status, "kdamond_dirs", json_type_object);
	uint64_t cpu_ms = 0, rss = 0, from = 0;
	char a[32];
	int64_t pid;
	int ok;

	line_color(l, C_BOLD, "damond");
	line_add(l, " %s", str_or(get_str(status, "version"), "-"));
	if (get_i64(status, "pid", &pid))
		line_add(l, " (pid %" PRId64 ")", pid);
	if (get_bool(status, "dry_run") == 1)
		line_color(l, C_YELLOW, " DRY RUN");
	line_add(l, ", policy %s generation %s", str_or(get_str(cfg, "path"), "-"), fmt_u64(a, cfg, "generation"));
	if (reload) {
		ok = get_bool(reload, "ok");
		line_add(l, ", last reload ");
		line_color(l, ok == 1 ? C_GREEN : C_RED,
			   ok == 1 ? "applied"
			   : get_bool(reload, "applied") == 1
				   ? (get_u64(reload, "rolled_back_from", &from) ? "FAILED PART WAY, ROLLED BACK"
										 : "FAILED PART WAY")
				   : "REFUSED");
		line_add(l, " %s", fmt_time(a, reload, "at_us"));
	}
	line_emit(out, l);
	line_add(l, "  monitor %s", str_or(get_str(mon, "source"), "-"));
	if (get_str(mon, "reason") && *get_str(mon, "reason"))
		line_add(l, " (%s)", get_str(mon, "reason"));
	if (res && get_u64(res, "cpu_ms", &cpu_ms) && get_u64(res, "rss_kib", &rss))
		line_add(l, "; damond cpu %.1f s, rss %s", (double)cpu_ms / 1000.0, format_size(a, rss * 1024));
	if (dirs) {
		struct json_object *sp = member_type(dirs, "spares", json_type_array);
		size_t n = sp ? json_object_array_length(sp) : 0;

		line_add(l, "; kdamond dirs %s", fmt_u64(a, dirs, "nr"));
		for (size_t i = 0; i < n; i++)
			line_add(l, "%s%d",
				 i ? ", " : " (spares: ", json_object_get_int(json_object_array_get_idx(sp, i)));
		line_add(l, n ? ")" : " (no spare)");
	}
	line_emit(out, l);
	if (reload && get_bool(reload, "ok") == 0 && get_str(reload, "changes")) {
		line_add(l, "  ");
		line_color(l, C_RED, get_str(reload, "changes"));
		line_emit(out, l);
	}
	if (reload && get_bool(reload, "ok") == 0) {
		struct json_object *errs = member_type(reload, "errors", json_type_array);

		for (size_t i = 0; errs && i < json_object_array_length(errs) && i < 5; i++) {
			line_add(l, "  ");
			line_color(l, C_RED, json_object_get_string(json_object_array_get_idx(errs, i)));
			line_emit(out, l);
		}
	}
}

int status_render_summary(struct json_object *status, FILE *out, const struct status_summary_opts *opts)
{
	static const struct status_summary_opts dflt = { 0 };
	struct json_object *kds, *actions;
	struct line l = { .o = opts ? opts : &dflt };
	char a[32];
	size_t n, first;

	if (!status || !json_object_is_type(status, json_type_object) || !out)
		return -EINVAL;
	status_upgrade(status);
	summary_header(out, &l, status);
	kds = member_type(status, "kdamonds", json_type_array);
	n = kds ? json_object_array_length(kds) : 0;
	if (n == 0)
		fputs("  no kdamonds\n", out);
	for (size_t i = 0; i < n; i++)
		summary_kdamond(out, &l, json_object_array_get_idx(kds, i));

	actions = member_type(status, "actions", json_type_array);
	n = actions ? json_object_array_length(actions) : 0;
	first = n > l.o->nr_actions ? n - l.o->nr_actions : 0;
	if (n > first)
		fputs("recent actions\n", out);
	for (size_t i = first; i < n; i++) {
		struct json_object *x = json_object_array_get_idx(actions, i);
		const char *scheme = get_str(x, "scheme");

		const char *kd = get_str(x, "kdamond");

		line_add(&l, "  %s  %s%s%s: %s (%s)", fmt_time(a, x, "at_us"), kd && *kd ? kd : "damond",
			 scheme ? "/" : "", scheme ? scheme : "", str_or(get_str(x, "what"), "-"),
			 str_or(get_str(x, "why"), "-"));
		line_emit(out, &l);
	}
	fflush(out);
	return ferror(out) ? -EIO : 0;
}

/* ---- features ---- */

int features_render_text(struct json_object *features, FILE *out)
{
	struct json_object *inner;

	if (!features || !json_object_is_type(features, json_type_object) || !out)
		return -EINVAL;
	inner = member_type(features, "features", json_type_object);
	if (inner)
		features = inner;

	fputs("kernel features\n", out);
	json_object_object_foreach(features, key, val)
	{
		/* some feature names are longer than the status labels */
		fprintf(out, "  %-24s", key);
		switch (val ? json_object_get_type(val) : json_type_null) {
		case json_type_null:
			fputs("-", out);
			break;
		case json_type_boolean:
			fputs(yes_no(json_object_get_boolean(val)), out);
			break;
		case json_type_array:
			print_string_array(out, val, ", ");
			break;
		case json_type_object: {
			bool first = true;

			json_object_object_foreach(val, k2, v2)
			{
				fprintf(out, "%s%s %s", first ? "" : ", ", k2,
					!v2 ? "-"
					: json_object_is_type(v2, json_type_boolean)
						? yes_no(json_object_get_boolean(v2))
						: json_object_get_string(v2));
				first = false;
			}
			if (first)
				fputs("none", out);
			break;
		}
		default:
			fputs(json_object_get_string(val), out);
			break;
		}
		fputc('\n', out);
	}

	fflush(out);
	return ferror(out) ? -EIO : 0;
}

/* ---- regions ---- */

struct region {
	uint64_t start, end, nr_accesses;
};

static int region_cmp(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int regions_heatmap(struct json_object *regions, uint64_t max_nr_accesses, unsigned width, uint8_t *levels)
{
	_cleanup_free_ struct region *v = NULL;
	size_t n, nv = 0, j = 0;
	uint64_t total = 0, done = 0;

	if (!levels || width == 0 || (regions && !json_object_is_type(regions, json_type_array)))
		return -EINVAL;
	memset(levels, 0, width);
	n = regions ? json_object_array_length(regions) : 0;
	if (n == 0)
		return 0;

	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);
		struct region x = { 0 };

		if (!get_u64(r, "start", &x.start) || !get_u64(r, "end", &x.end) || x.end <= x.start)
			continue;
		get_u64(r, "nr_accesses", &x.nr_accesses);
		if (total > UINT64_MAX - (x.end - x.start))
			return -EINVAL;
		total += x.end - x.start;
		v[nv++] = x;
	}
	if (nv == 0 || total == 0)
		return 0;
	qsort(v, nv, sizeof(*v), region_cmp);
	if (max_nr_accesses == 0)
		for (size_t i = 0; i < nv; i++)
			max_nr_accesses = MAX(max_nr_accesses, v[i].nr_accesses);
	if (max_nr_accesses == 0)
		return 0;

	/*
	 * Cell c covers monitored bytes [c*total/width, (c+1)*total/width) of the
	 * regions laid end to end; its level is the byte-weighted mean
	 * nr_accesses. long double keeps the arithmetic exact enough for 2^64.
	 */
	for (unsigned c = 0; c < width; c++) {
		uint64_t cend = (uint64_t)((long double)total * (c + 1) / width);
		long double sum = 0, bytes = 0;

		if (c + 1 == width)
			cend = total;
		while (done < cend && j < nv) {
			uint64_t left = v[j].end - v[j].start;
			uint64_t take = MIN(left, cend - done);

			sum += (long double)take * MIN(v[j].nr_accesses, max_nr_accesses);
			bytes += take;
			done += take;
			v[j].start += take;
			if (v[j].start == v[j].end)
				j++;
		}
		if (bytes > 0) {
			long double mean = sum / bytes;
			long lvl = (long)(mean * 9 / max_nr_accesses + 0.5L); /* mean >= 0 */

			levels[c] = (uint8_t)CLAMP(lvl, 0L, 9L);
		}
	}
	return 0;
}

/* A blue → red ramp of the xterm 256-colour palette. */
static const int heat_colors[10] = { 17, 19, 25, 31, 37, 71, 143, 178, 208, 196 };

static void print_heatmap(FILE *out, const uint8_t *levels, unsigned width, bool color)
{
	int last = -1;

	for (unsigned c = 0; c < width; c++) {
		if (!color) {
			fputc('0' + levels[c], out);
			continue;
		}
		if (levels[c] != last) /* a new escape only where the colour changes */
			fprintf(out, "\033[48;5;%dm", heat_colors[levels[c]]);
		fputc(' ', out);
		last = levels[c];
	}
	if (color)
		fputs("\033[0m", out);
}

int regions_render_text(struct json_object *regions, const char *kdamond, unsigned heatmap_width, bool color,
			FILE *out)
{
	_cleanup_free_ uint8_t *levels = NULL;
	struct json_object *kds;
	size_t nk, shown = 0;
	int r;

	if (!regions || !json_object_is_type(regions, json_type_object) || !out)
		return -EINVAL;
	if (heatmap_width == 0)
		heatmap_width = 64;
	levels = malloc(heatmap_width);
	if (!levels)
		return -ENOMEM;

	kds = member_type(regions, "kdamonds", json_type_array);
	nk = kds ? json_object_array_length(kds) : 0;

	/* Check the filter first so that -ENOENT comes with no output at all. */
	if (kdamond) {
		bool found = false;

		for (size_t i = 0; i < nk && !found; i++) {
			const char *name = get_str(json_object_array_get_idx(kds, i), "name");

			found = name && streq(name, kdamond);
		}
		if (!found)
			return -ENOENT;
	}

	for (size_t i = 0; i < nk; i++) {
		struct json_object *k = json_object_array_get_idx(kds, i);
		struct json_object *targets = member_type(k, "targets", json_type_array);
		const char *name = get_str(k, "name");
		size_t nt = targets ? json_object_array_length(targets) : 0;

		if (kdamond && (!name || !streq(name, kdamond)))
			continue;
		if (shown++)
			fputc('\n', out);
		fprintf(out, "kdamond \"%s\"\n", str_or(name, "-"));
		if (nt == 0)
			fputs("  no targets\n", out);

		for (size_t t = 0; t < nt; t++) {
			struct json_object *tg = json_object_array_get_idx(targets, t);
			struct json_object *rs = member_type(tg, "regions", json_type_array);
			size_t nr = rs ? json_object_array_length(rs) : 0;
			uint64_t max = 0;
			char a[32], b[32], c[32];

			get_u64(tg, "max_nr_accesses", &max);
			if (get_str(tg, "no_snapshot") && nr == 0) {
				/* no heatmap of zeros: say why there are no regions */
				fprintf(out, "  target %s: no region snapshot: %s\n", fmt_u64(a, tg, "index"),
					get_str(tg, "no_snapshot"));
				continue;
			}
			fprintf(out, "  target %s: %s regions, max nr_accesses %s\n", fmt_u64(a, tg, "index"),
				member(tg, "nr_regions") ? fmt_u64(b, tg, "nr_regions") : (snprintf(b, 32, "%zu", nr), b),
				max ? fmt_u64(c, tg, "max_nr_accesses") : "-");
			if (nr > 0) {
				fprintf(out, "    %-18s %-18s %10s %11s %10s\n", "START", "END", "SIZE", "NR_ACCESSES",
					"AGE");
				for (size_t x = 0; x < nr; x++) {
					struct json_object *rg = json_object_array_get_idx(rs, x);
					uint64_t s = 0, e = 0;
					bool have = get_u64(rg, "start", &s) && get_u64(rg, "end", &e) && e >= s;

					fprintf(out, "    0x%016" PRIx64 " 0x%016" PRIx64 " %10s %11s %10s\n", s, e,
						have ? format_size(a, e - s) : "-", fmt_u64(b, rg, "nr_accesses"),
						fmt_u64(c, rg, "age"));
				}
			}
			r = regions_heatmap(rs, max, heatmap_width, levels);
			if (r < 0)
				return r;
			fputs("    heatmap  ", out);
			print_heatmap(out, levels, heatmap_width, color);
			fputc('\n', out);
		}
	}

	fflush(out);
	return ferror(out) ? -EIO : 0;
}
