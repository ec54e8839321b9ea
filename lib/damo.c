/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * damo interop (damo.h). damo's number formats, as damo 3.3 writes them
 * (src/_damo_fmt_str.py, src/_damon.py to_kvpairs()):
 *
 *   human  "4,096"  "100.000 MiB"  "1 m 30 s"  "0 ns"  "12.5 %"  "max"
 *   --raw  "4096"   "104857600"    durations bare, permil/bp as "%f"
 *
 * In --raw output, the fields damo formats with format_time_*_exact() are in
 * nanoseconds whatever their key says: quotas.time_ms, quotas.reset_interval_ms,
 * watermarks.interval_us and the access pattern's age (usec unit). The others
 * (intervals, intervals_goal.*_sample_us, apply_interval_us) are in their
 * key's unit. damo itself reads a bare number in the key's unit, so its own
 * --raw output read back is 1000x (ms: 1,000,000x) too long; import does not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <yaml.h>

#include "damo.h"
#include "iomem.h"
#include "numa.h"
#include "macro.h"
#include "units.h"

#define DAMO_MAX_INPUT (1024 * 1024)
#define DAMO_MAX_DEPTH 64
#define DAMO_MAX_NODES 200000

typedef unsigned __int128 u128;

/* ------------------------------------------------------------------------ */
/* a small YAML tree (JSON is read as YAML)                                 */

enum dn_kind {
	DN_SCALAR,
	DN_SEQ,
	DN_MAP
};

struct dn {
	enum dn_kind kind;
	unsigned line, col;
	char *s;       /* scalar */
	bool plain;    /* plain scalar (null/bool detection) */
	struct dn **v; /* seq: items; map: key, value, key, value, ... */
	size_t n, cap;
};

struct tree {
	struct dn **all;
	size_t n, cap;
	struct dn *root;
};

static void tree_done(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->all[i]->s);
		free(t->all[i]->v);
		free(t->all[i]);
	}
	free(t->all);
	*t = (struct tree){};
}

static bool dn_null(const struct dn *n)
{
	return !n ||
	       (n->kind == DN_SCALAR && n->plain &&
		(!*n->s || streq(n->s, "~") || streq(n->s, "null") || streq(n->s, "Null") || streq(n->s, "NULL")));
}

static size_t dn_len(const struct dn *n)
{
	return !n ? 0 : n->kind == DN_MAP ? n->n / 2 : n->kind == DN_SEQ ? n->n : 0;
}

static struct dn *dn_get(const struct dn *map, const char *key)
{
	if (!map || map->kind != DN_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n; i += 2)
		if (map->v[i]->kind == DN_SCALAR && streq(map->v[i]->s, key))
			return map->v[i + 1];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* errors and notes                                                         */

struct imp {
	const char *file;
	struct config_errors *errs;
	bool raw;
	bool oom;
	size_t nerr;
	char path[512];
	size_t plen;
	/* the context being converted */
	uint64_t sample_us, aggr_us;
};

static void note_at(struct imp *im, bool warning, unsigned line, unsigned col, const char *sub, const char *fmt,
		    va_list ap) _printf_(6, 0);
static void note_at(struct imp *im, bool warning, unsigned line, unsigned col, const char *sub, const char *fmt,
		    va_list ap)
{
	struct config_error *e;
	char key[600];

	if (!warning)
		im->nerr++;
	if (!im->errs)
		return;
	e = APPEND(im->errs->v, im->errs->n, im->errs->cap);
	if (!e) {
		im->oom = true;
		return;
	}
	*e = (struct config_error){ .line = line, .column = col, .warning = warning };
	snprintf(key, sizeof(key), "%s%s%s", im->path, sub && im->plen ? "." : "", sub ?: "");
	e->file = strdup(im->file);
	e->key = *key ? strdup(key) : NULL;
	if (vasprintf(&e->message, fmt, ap) < 0)
		e->message = NULL;
	if (!e->file || (*key && !e->key) || !e->message)
		im->oom = true;
}

static void err(struct imp *im, const struct dn *n, const char *sub, const char *fmt, ...) _printf_(4, 5);
static void err(struct imp *im, const struct dn *n, const char *sub, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_at(im, false, n ? n->line : 0, n ? n->col : 0, sub, fmt, ap);
	va_end(ap);
}

static void note(struct imp *im, const struct dn *n, const char *sub, const char *fmt, ...) _printf_(4, 5);
static void note(struct imp *im, const struct dn *n, const char *sub, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_at(im, true, n ? n->line : 0, n ? n->col : 0, sub, fmt, ap);
	va_end(ap);
}

static size_t push_key(struct imp *im, const char *key)
{
	size_t old = im->plen;
	int r = snprintf(im->path + im->plen, sizeof(im->path) - im->plen, "%s%s", im->plen ? "." : "", key);

	if (r > 0)
		im->plen = MIN(im->plen + (size_t)r, sizeof(im->path) - 1);
	return old;
}

static size_t push_idx(struct imp *im, size_t i)
{
	size_t old = im->plen;
	int r = snprintf(im->path + im->plen, sizeof(im->path) - im->plen, "[%zu]", i);

	if (r > 0)
		im->plen = MIN(im->plen + (size_t)r, sizeof(im->path) - 1);
	return old;
}

static void pop(struct imp *im, size_t old)
{
	im->plen = old;
	im->path[old] = '\0';
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                  */

static int tree_parse(struct imp *im, const char *text, size_t len, struct tree *t)
{
	struct dn *stack[DAMO_MAX_DEPTH + 1];
	size_t depth = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && r == 0) {
		struct dn *n = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			struct dn at = { .line = (unsigned)p.problem_mark.line + 1,
					 .col = (unsigned)p.problem_mark.column + 1 };

			err(im, &at, NULL, "%s%s%s", p.problem ?: "YAML syntax error", p.context ? " " : "",
			    p.context ?: "");
			r = -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (t->root) {
				struct dn at = { .line = (unsigned)ev.start_mark.line + 1,
						 .col = (unsigned)ev.start_mark.column + 1 };

				err(im, &at, NULL, "more than one YAML document");
				r = -EINVAL;
			}
			break;
		case YAML_ALIAS_EVENT: {
			struct dn at = { .line = (unsigned)ev.start_mark.line + 1,
					 .col = (unsigned)ev.start_mark.column + 1 };

			err(im, &at, NULL, "YAML aliases are not supported (damo does not write them)");
			r = -EINVAL;
			break;
		}
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (t->n >= DAMO_MAX_NODES || depth >= DAMO_MAX_DEPTH) {
				struct dn at = { .line = (unsigned)ev.start_mark.line + 1,
						 .col = (unsigned)ev.start_mark.column + 1 };

				err(im, &at, NULL,
				    t->n >= DAMO_MAX_NODES ? "more than %d YAML nodes" : "nested deeper than %d levels",
				    t->n >= DAMO_MAX_NODES ? DAMO_MAX_NODES : DAMO_MAX_DEPTH);
				r = -EINVAL;
				break;
			}
			n = calloc(1, sizeof(*n));
			if (!n || !APPEND(t->all, t->n, t->cap)) {
				free(n);
				r = -ENOMEM;
				break;
			}
			t->all[t->n - 1] = n;
			n->line = (unsigned)ev.start_mark.line + 1;
			n->col = (unsigned)ev.start_mark.column + 1;
			if (ev.type == YAML_SCALAR_EVENT) {
				n->kind = DN_SCALAR;
				n->s = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				if (!n->s) {
					r = -ENOMEM;
					break;
				}
			} else
				n->kind = ev.type == YAML_SEQUENCE_START_EVENT ? DN_SEQ : DN_MAP;
			if (depth == 0)
				t->root = n;
			else {
				struct dn *parent = stack[depth - 1];

				if (!APPEND(parent->v, parent->n, parent->cap)) {
					r = -ENOMEM;
					break;
				}
				parent->v[parent->n - 1] = n;
			}
			if (n->kind != DN_SCALAR)
				stack[depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

/* Report keys of map not in names ("a|b|c"), and duplicates. */
static void check_keys(struct imp *im, const struct dn *map, const char *names)
{
	for (size_t i = 0; i + 1 < map->n; i += 2) {
		const struct dn *k = map->v[i];
		const char *s = k->kind == DN_SCALAR ? k->s : "";
		size_t l = strlen(s);
		bool known = false;

		for (const char *p = names; *p;) {
			size_t m = strcspn(p, "|");

			if (m == l && strneq(p, s, l))
				known = true;
			p += m + (p[m] == '|');
		}
		if (!known || !*s) {
			err(im, k, s, "unknown key '%s' (not part of damo's kdamonds format)", s);
			continue;
		}
		for (size_t j = 0; j < i; j += 2)
			if (map->v[j]->kind == DN_SCALAR && streq(map->v[j]->s, s)) {
				err(im, k, s, "duplicate key '%s'", s);
				break;
			}
	}
}

/* A mapping value of key (NULL when missing or null; an error when not a mapping). */
static struct dn *get_kind(struct imp *im, const struct dn *map, const char *key, enum dn_kind kind)
{
	struct dn *v = dn_get(map, key);

	if (dn_null(v))
		return NULL;
	if (v->kind != kind) {
		err(im, v, key, "expected a %s", kind == DN_MAP ? "mapping" : kind == DN_SEQ ? "sequence" : "scalar");
		return NULL;
	}
	return v;
}

/* A decimal number with damo's thousands commas, a fraction and an exponent: v / 10^dec. */
struct dnum {
	u128 v;
	int dec;
};

static const char *num_parse(const char *s, struct dnum *d)
{
	const char *p = s;
	bool digits = false, point = false;

	*d = (struct dnum){};
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			if (d->v > ((u128)-1 - 9) / 10)
				return NULL; /* more digits than we keep */
			d->v = d->v * 10 + (u128)(*p - '0');
			if (point)
				d->dec++;
			digits = true;
		} else if (*p == ',' && digits && !point && p[1] >= '0' && p[1] <= '9')
			continue;
		else if (*p == '.' && !point) {
			point = true;
		} else
			break;
	}
	if (!digits)
		return NULL;
	if ((*p == 'e' || *p == 'E') && (p[1] == '+' || p[1] == '-' || (p[1] >= '0' && p[1] <= '9'))) {
		int sign = 1, e = 0;

		p++;
		if (*p == '+' || *p == '-')
			sign = *p++ == '-' ? -1 : 1;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9' && e < 100)
			e = e * 10 + (*p++ - '0');
		d->dec -= sign * e;
	}
	return p;
}

static u128 pow10_u128(int e)
{
	u128 x = 1;

	while (e-- > 0)
		x *= 10;
	return x;
}

/* floor(d * mul / div); saturates at UINT64_MAX. *exact tells whether nothing was cut. */
static uint64_t num_scale(const struct dnum *d, uint64_t mul, uint64_t div, bool *exact)
{
	u128 x = d->v, den = div, q;

	*exact = true;
	if (d->dec < 0) {
		if (-d->dec > 38 || __builtin_mul_overflow(x, pow10_u128(-d->dec), &x))
			return x == 0 ? 0 : UINT64_MAX;
	} else if (d->dec > 0) {
		if (d->dec > 38)
			return *exact = d->v == 0, 0;
		if (__builtin_mul_overflow(den, pow10_u128(d->dec), &den))
			return *exact = d->v == 0, 0;
	}
	if (__builtin_mul_overflow(x, (u128)mul, &x))
		return UINT64_MAX;
	q = x / den;
	*exact = x % den == 0;
	return q >= UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A number, optional blanks, a unit of letters, '_' or '%' (may be empty). */
static const char *num_unit(const char *s, struct dnum *d, char *unit, size_t unitlen)
{
	const char *p = num_parse(skip_ws(s), d);
	size_t l = 0;

	if (!p)
		return NULL;
	p = skip_ws(p);
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '%') {
		if (l + 1 >= unitlen)
			return NULL;
		unit[l++] = *p++;
	}
	unit[l] = '\0';
	return skip_ws(p);
}

static const char *scalar_of(struct imp *im, const struct dn *n, const char *sub)
{
	if (dn_null(n)) {
		err(im, n, sub, "missing value");
		return NULL;
	}
	if (n->kind != DN_SCALAR) {
		err(im, n, sub, "expected a scalar value");
		return NULL;
	}
	return n->s;
}

/* A count: "1,000", "3", "1000.0" (damo's floats), "max". */
static int dm_count(struct imp *im, const struct dn *n, const char *sub, uint64_t *ret)
{
	const char *s = scalar_of(im, n, sub), *p;
	struct dnum d;
	bool exact;

	if (!s)
		return -EINVAL;
	if (streq(s, "max")) {
		*ret = UINT64_MAX;
		return 0;
	}
	p = num_parse(s, &d);
	if (!p || *skip_ws(p)) {
		err(im, n, sub, "invalid number '%s'", s);
		return -EINVAL;
	}
	*ret = num_scale(&d, 1, 1, &exact);
	if (!exact) {
		err(im, n, sub, "'%s' is not a whole number", s);
		return -EINVAL;
	}
	return 0;
}

static int dm_size(struct imp *im, const struct dn *n, const char *sub, uint64_t *ret)
{
	static const struct {
		const char *u;
		unsigned shift;
	} units[] = {
		{ "", 0 },     { "B", 0 },   { "K", 10 },   { "KB", 10 },  { "KiB", 10 }, { "M", 20 },   { "MB", 20 },
		{ "MiB", 20 }, { "G", 30 },  { "GB", 30 },  { "GiB", 30 }, { "T", 40 },   { "TB", 40 },  { "TiB", 40 },
		{ "P", 50 },   { "PB", 50 }, { "PiB", 50 }, { "E", 60 },   { "EB", 60 },  { "EiB", 60 },
	};
	const char *s = scalar_of(im, n, sub), *p;
	struct dnum d;
	char unit[8];
	bool exact;

	if (!s)
		return -EINVAL;
	if (streq(s, "max") || streq(s, "min")) {
		*ret = streq(s, "max") ? UINT64_MAX : 0;
		return 0;
	}
	p = num_unit(s, &d, unit, sizeof(unit));
	for (size_t i = 0; p && !*p && i < ARRAY_SIZE(units); i++)
		if (streq(unit, units[i].u)) {
			*ret = num_scale(&d, 1ULL << units[i].shift, 1, &exact);
			if (!exact)
				note(im, n, sub,
				     "'%s' is not a whole number of bytes: %" PRIu64 " (rounded down, as damo does)", s,
				     *ret);
			return 0;
		}
	err(im, n, sub, "invalid size '%s'", s);
	return -EINVAL;
}

enum dur_kind {
	DUR_US,       /* format_time_us(): us in human (bare) and raw */
	DUR_US_EXACT, /* format_time_us_exact(): bare = us, raw = ns */
	DUR_MS_EXACT, /* format_time_ms_exact(): bare = ms, raw = ns */
};

/* A duration into ns (UINT64_MAX: damo's max, or anything from 2^64-1 ns on). */
static int dm_ns(struct imp *im, const struct dn *n, const char *sub, enum dur_kind kind, u128 *ret)
{
	static const struct {
		const char *u;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", 1000000000ULL },
		{ "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
		{ "d", 86400000000000ULL },
	};
	const char *s = scalar_of(im, n, sub), *p;
	u128 total = 0;
	bool first = true;

	if (!s)
		return -EINVAL;
	if (streq(s, "max") || streq(s, "min")) {
		*ret = streq(s, "max") ? UINT64_MAX : 0;
		return 0;
	}
	for (p = s; *skip_ws(p); first = false) {
		uint64_t mul = 0, v;
		struct dnum d;
		char unit[8];
		bool exact;

		p = num_unit(p, &d, unit, sizeof(unit));
		if (!p)
			break;
		if (!*unit) {
			if (!first || *p)
				break;
			mul = kind == DUR_MS_EXACT ? 1000000 : 1000;
			if (im->raw && kind != DUR_US)
				mul = 1;
		}
		for (size_t i = 0; *unit && i < ARRAY_SIZE(units); i++)
			if (streq(unit, units[i].u))
				mul = units[i].ns;
		if (!mul)
			break;
		v = num_scale(&d, mul, 1, &exact);
		if (v == UINT64_MAX || total + v >= UINT64_MAX) {
			*ret = UINT64_MAX;
			return 0;
		}
		if (!exact)
			note(im, n, sub, "'%s' is not a whole number of nanoseconds (rounded down)", s);
		total += v;
	}
	if (!p || *skip_ws(p) || first) {
		err(im, n, sub, "invalid duration '%s'", s);
		return -EINVAL;
	}
	*ret = total;
	return 0;
}

/* A duration in units of unit_ns (1000: us, 1000000: ms); UINT64_MAX for max. */
static int dm_dur(struct imp *im, const struct dn *n, const char *sub, enum dur_kind kind, uint64_t unit_ns,
		  uint64_t *ret)
{
	u128 ns;
	int r;

	r = dm_ns(im, n, sub, kind, &ns);
	if (r < 0)
		return r;
	if (ns >= UINT64_MAX) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (ns % unit_ns)
		note(im, n, sub, "'%s' is not a whole number of %s (rounded down)", n->s,
		     unit_ns == 1000 ? "microseconds" : "milliseconds");
	*ret = (uint64_t)(ns / unit_ns);
	return 0;
}

/* "12.5 %" or a bare number in the unit (per_whole: 1000 permil, 10000 bp). */
static int dm_ratio(struct imp *im, const struct dn *n, const char *sub, uint64_t per_whole, uint64_t *ret)
{
	const char *s = scalar_of(im, n, sub), *p;
	struct dnum d;
	char unit[4];
	bool exact;

	if (!s)
		return -EINVAL;
	p = num_unit(s, &d, unit, sizeof(unit));
	if (!p || *p || (*unit && !streq(unit, "%"))) {
		err(im, n, sub, "invalid ratio '%s' (expected e.g. '50 %%' or a number of %s)", s,
		    per_whole == 1000 ? "permil" : "basis points");
		return -EINVAL;
	}
	*ret = *unit ? num_scale(&d, per_whole, 100, &exact) : num_scale(&d, 1, 1, &exact);
	if (!exact)
		note(im, n, sub, "'%s' is not a whole number of %s: %" PRIu64 " (rounded down)", s,
		     per_whole == 1000 ? "permil" : "basis points", *ret);
	return 0;
}

static int dm_bool(struct imp *im, const struct dn *n, const char *sub, bool *ret)
{
	static const char *const t[] = { "true", "yes", "y" }, *const f[] = { "false", "no", "n" };
	const char *s = scalar_of(im, n, sub);

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (strcasecmp(s, t[i]) == 0 || strcasecmp(s, f[i]) == 0) {
			*ret = strcasecmp(s, t[i]) == 0;
			return 0;
		}
	err(im, n, sub, "invalid boolean '%s'", s);
	return -EINVAL;
}

/* An optional scalar: missing or null leaves *ret alone. */
#define OPT(map, key) (!dn_null(dn_get((map), (key))))

/* ------------------------------------------------------------------------ */
/* damo -> struct damond_config                                             */

/* Is a bare number with exactly six decimals (damo's "%f" for permil and bp in --raw). */
static bool raw_ratio(const struct dn *n)
{
	const char *dot;

	return n && n->kind == DN_SCALAR && (dot = strchr(n->s, '.')) && strlen(dot + 1) == 6 &&
	       strspn(n->s, "0123456789.") == strlen(n->s);
}

static bool has_unit(const struct dn *n)
{
	return n && n->kind == DN_SCALAR && strpbrk(n->s, "abcdefghijklmnopqrstuvwxyz%") && !streq(n->s, "max") &&
	       !streq(n->s, "min");
}

/* Walk the tree for damo's --raw signature: permil and bp written as "%f", durations without units. */
static void detect_raw(const struct dn *n, const char *key, int *raw_sig, int *human_sig)
{
	static const char *const ratios[] = { "access_bp",   "sz_permil",  "nr_accesses_permil", "age_permil",
					      "high_permil", "mid_permil", "low_permil" };
	static const char *const durs[] = { "sample_us", "aggr_us",           "ops_update_us", "apply_interval_us",
					    "time_ms",   "reset_interval_ms", "interval_us" };

	if (!n)
		return;
	if (n->kind == DN_SCALAR && key) {
		for (size_t i = 0; i < ARRAY_SIZE(ratios); i++)
			if (streq(key, ratios[i])) {
				if (raw_ratio(n))
					(*raw_sig)++;
				else if (has_unit(n))
					(*human_sig)++;
			}
		for (size_t i = 0; i < ARRAY_SIZE(durs); i++)
			if (streq(key, durs[i]) && has_unit(n))
				(*human_sig)++;
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		if (n->kind == DN_MAP && i % 2 == 0)
			continue;
		detect_raw(n->v[i], n->kind == DN_MAP && n->v[i - 1]->kind == DN_SCALAR ? n->v[i - 1]->s : NULL,
			   raw_sig, human_sig);
	}
}

static int imp_target(struct imp *im, const struct dn *m, struct damon_ctx_cfg *c, struct damon_target_cfg *t)
{
	const struct dn *regions;
	bool obsolete = false;
	uint64_t pid;

	check_keys(im, m, "pid|obsolete|regions");
	if (OPT(m, "obsolete") && dm_bool(im, dn_get(m, "obsolete"), "obsolete", &obsolete) == 0 && obsolete)
		err(im, dn_get(m, "obsolete"), "obsolete",
		    "obsolete targets (damo --obsolete_targets, kernel 6.19+) are not supported by damond");
	if (c->ops == DAMON_OPS_PADDR) {
		if (OPT(m, "pid"))
			note(im, dn_get(m, "pid"), "pid", "paddr targets have no pid: ignored");
	} else if (!OPT(m, "pid"))
		err(im, m, "pid", "missing pid (%s targets are processes)", damon_ops_to_string(c->ops));
	else if (dm_count(im, dn_get(m, "pid"), "pid", &pid) == 0) {
		if (pid < 1 || pid > INT32_MAX)
			err(im, dn_get(m, "pid"), "pid", "pid %" PRIu64 " out of range", pid);
		t->pid = (int)MIN(pid, (uint64_t)INT32_MAX);
	}

	regions = get_kind(im, m, "regions", DN_SEQ);
	if (!regions || regions->n == 0) {
		if (c->ops == DAMON_OPS_PADDR) {
			note(im, m, "regions",
			     "a paddr target without regions (damo would monitor nothing): "
			     "converted to 'regions: auto' (all System RAM)");
			t->regions_auto = true;
		}
		return 0;
	}
	t->regions = calloc(regions->n, sizeof(*t->regions));
	if (!t->regions)
		return -ENOMEM;
	for (size_t i = 0; i < regions->n; i++) {
		const struct dn *r = regions->v[i];
		size_t old = push_key(im, "regions");

		push_idx(im, i);
		if (r->kind != DN_MAP)
			err(im, r, NULL, "expected a mapping {start, end}");
		else {
			check_keys(im, r, "start|end|nr_accesses|age|sz_filter_passed|probe_hits");
			if (dm_size(im, dn_get(r, "start"), "start", &t->regions[t->nr_regions].start) == 0 &&
			    dm_size(im, dn_get(r, "end"), "end", &t->regions[t->nr_regions].end) == 0)
				t->nr_regions++;
		}
		pop(im, old);
	}
	return 0;
}

static bool metric_is_node(enum damos_goal_metric m)
{
	return m == DAMOS_GOAL_NODE_MEM_USED_BP || m == DAMOS_GOAL_NODE_MEM_FREE_BP ||
	       m == DAMOS_GOAL_NODE_MEMCG_USED_BP || m == DAMOS_GOAL_NODE_MEMCG_FREE_BP;
}

static bool metric_is_memcg(enum damos_goal_metric m)
{
	return m == DAMOS_GOAL_NODE_MEMCG_USED_BP || m == DAMOS_GOAL_NODE_MEMCG_FREE_BP;
}

static int imp_goal(struct imp *im, const struct dn *m, struct damos_goal_cfg *g)
{
	const char *s;
	uint64_t x;

	check_keys(im, m, "metric|nid|memcg_path|target_value|current_value");
	s = scalar_of(im, dn_get(m, "metric"), "metric");
	if (!s)
		return 0;
	g->metric = damos_goal_metric_from_string(s);
	if ((int)g->metric < 0 || !damos_goal_metric_is_kernel(g->metric)) {
		err(im, dn_get(m, "metric"), "metric", "unknown goal metric '%s'", s);
		return 0;
	}
	/* damo keeps every target_value as a number in the metric's unit (us, bp or a plain value) */
	if (dm_count(im, dn_get(m, "target_value"), "target_value", &g->target_value) == 0 && g->target_value == 0)
		err(im, dn_get(m, "target_value"), "target_value",
		    "a goal with target 0 is ignored by the kernel: give a target or remove the goal");
	if (OPT(m, "current_value") && dm_count(im, dn_get(m, "current_value"), "current_value", &x) == 0) {
		if (g->metric == DAMOS_GOAL_USER_INPUT)
			g->current_value = x;
		/* else it is the kernel's reading, not a parameter */
	}
	if (metric_is_node(g->metric) || g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP) {
		if (OPT(m, "nid") && dm_count(im, dn_get(m, "nid"), "nid", &x) == 0) {
			if (x > INT32_MAX)
				err(im, dn_get(m, "nid"), "nid", "nid out of range");
			g->nid = (int)MIN(x, (uint64_t)INT32_MAX);
		}
	}
	if (metric_is_memcg(g->metric)) {
		s = OPT(m, "memcg_path") ? scalar_of(im, dn_get(m, "memcg_path"), "memcg_path") : NULL;
		if (!s)
			err(im, m, "memcg_path", "%s needs a memcg_path", damos_goal_metric_to_string(g->metric));
		else if (!(g->path = strdup(s)))
			return -ENOMEM;
	}
	return 0;
}

static int imp_quotas(struct imp *im, const struct dn *m, struct damos_cfg *sc)
{
	struct damos_quota_cfg *q = &sc->quota;
	const struct dn *goals, *w, *rn;
	uint64_t reset = 0, num = 0, den = 0;
	const char *s;
	int r;

	check_keys(im, m,
		   "time_ms|sz_bytes|reset_interval_ms|fail_charge_num|fail_charge_denom|goals|goal_tuner|"
		   "effective_sz_bytes|weights");
	if (OPT(m, "time_ms"))
		dm_dur(im, dn_get(m, "time_ms"), "time_ms", DUR_MS_EXACT, 1000000, &q->ms);
	if (q->ms == UINT64_MAX) {
		err(im, dn_get(m, "time_ms"), "time_ms", "a time quota of 'max' is no quota: use 0");
		q->ms = 0;
	}
	if (OPT(m, "sz_bytes"))
		dm_size(im, dn_get(m, "sz_bytes"), "sz_bytes", &q->bytes);
	goals = get_kind(im, m, "goals", DN_SEQ);
	if (goals && goals->n > 0) {
		q->goals = calloc(goals->n, sizeof(*q->goals));
		if (!q->goals)
			return -ENOMEM;
		for (size_t i = 0; i < goals->n; i++) {
			size_t old = push_key(im, "goals");

			push_idx(im, i);
			if (goals->v[i]->kind != DN_MAP)
				err(im, goals->v[i], NULL, "expected a mapping");
			else {
				r = imp_goal(im, goals->v[i], &q->goals[q->nr_goals++]);
				if (r < 0)
					return r;
			}
			pop(im, old);
		}
	}

	rn = dn_get(m, "reset_interval_ms");
	if (!dn_null(rn) && dm_dur(im, rn, "reset_interval_ms", DUR_MS_EXACT, 1000000, &reset) == 0) {
		bool active = q->ms || q->bytes || q->nr_goals;

		if (reset == UINT64_MAX || reset == 0) {
			if (active)
				err(im, rn, "reset_interval_ms",
				    "a quota with reset interval '%s' (damo's default when --damos_quotas gives no "
				    "interval: the quota %s) is not supported by damond: give the interval",
				    rn->s, reset ? "is never reset" : "resets on every apply");
			else
				note(im, rn, "reset_interval_ms", "'%s' is unused without a quota: dropped", rn->s);
		} else
			q->reset_interval_ms = reset;
	}

	if (OPT(m, "goal_tuner") && (s = scalar_of(im, dn_get(m, "goal_tuner"), "goal_tuner"))) {
		enum damos_goal_tuner t = damos_goal_tuner_from_string(s);

		if ((int)t < 0)
			err(im, dn_get(m, "goal_tuner"), "goal_tuner", "unknown goal tuner '%s'", s);
		else if (t == DAMOS_TUNER_CONSIST)
			note(im, dn_get(m, "goal_tuner"), "goal_tuner",
			     "'consist' is the kernel's default: dropped (writing it would fail on kernels "
			     "without the goal_tuner file, before 7.1)");
		else {
			q->goal_tuner = t;
			q->goal_tuner_set = true;
		}
	}

	if (OPT(m, "fail_charge_num"))
		dm_count(im, dn_get(m, "fail_charge_num"), "fail_charge_num", &num);
	if (OPT(m, "fail_charge_denom"))
		dm_count(im, dn_get(m, "fail_charge_denom"), "fail_charge_denom", &den);
	if (num || den) {
		if (!num || !den || num > den || den > UINT32_MAX)
			err(im, m, "fail_charge_num",
			    "invalid fail charge ratio %" PRIu64 "/%" PRIu64 " (0 < num <= denom < 2^32)", num, den);
		else {
			q->fail_charge_num = (uint32_t)num;
			q->fail_charge_denom = (uint32_t)den;
			q->fail_charge_mode = DAMOS_FAIL_CHARGE_AUTO;
		}
	}

	w = get_kind(im, m, "weights", DN_MAP);
	if (w) {
		static const char *const keys[] = { "sz_permil", "nr_accesses_permil", "age_permil" };
		uint32_t *dst[] = { &q->weight_sz, &q->weight_nr_accesses, &q->weight_age };
		size_t old = push_key(im, "weights");

		check_keys(im, w, "sz_permil|nr_accesses_permil|age_permil");
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			uint64_t x;

			if (OPT(w, keys[i]) && dm_ratio(im, dn_get(w, keys[i]), keys[i], 1000, &x) == 0) {
				if (x > UINT32_MAX)
					err(im, dn_get(w, keys[i]), keys[i], "weight out of range");
				*dst[i] = (uint32_t)MIN(x, (uint64_t)UINT32_MAX);
			}
		}
		pop(im, old);
	}
	return 0;
}

static void imp_wmarks(struct imp *im, const struct dn *m, struct damos_cfg *sc)
{
	struct damos_wmarks_cfg *w = &sc->wmarks;
	static const char *const keys[] = { "high_permil", "mid_permil", "low_permil" };
	uint64_t *dst[] = { &w->high, &w->mid, &w->low };
	const char *s;

	check_keys(im, m, "metric|interval_us|high_permil|mid_permil|low_permil");
	s = OPT(m, "metric") ? scalar_of(im, dn_get(m, "metric"), "metric") : "none";
	if (!s)
		return;
	w->metric = damos_wmark_metric_from_string(s);
	if ((int)w->metric < 0) {
		err(im, dn_get(m, "metric"), "metric", "unknown watermarks metric '%s'", s);
		w->metric = DAMOS_WMARK_NONE;
		return;
	}
	if (w->metric == DAMOS_WMARK_NONE)
		return; /* damo writes zeros for the rest; the kernel ignores them */
	if (OPT(m, "interval_us"))
		dm_dur(im, dn_get(m, "interval_us"), "interval_us", DUR_US_EXACT, 1000, &w->interval_us);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (OPT(m, keys[i]))
			dm_ratio(im, dn_get(m, keys[i]), keys[i], 1000, dst[i]);
}

static int imp_filter(struct imp *im, const struct dn *m, const struct damon_ctx_cfg *c, struct damos_filter_cfg *f)
{
	const char *s;
	const struct dn *n;
	uint64_t x;

	f->layer = DAMOS_FILTER_LAYER_AUTO;
	f->matching = true;
	check_keys(im, m,
		   "filter_type|matching|allow|filter_pass|memcg_path|address_range|damon_target_idx|"
		   "hugepage_size");
	s = scalar_of(im, dn_get(m, "filter_type"), "filter_type");
	if (!s)
		return 0;
	f->type = damos_filter_type_from_string(s);
	if ((int)f->type < 0) {
		err(im, dn_get(m, "filter_type"), "filter_type", "unknown filter type '%s'", s);
		return 0;
	}
	if (OPT(m, "matching"))
		dm_bool(im, dn_get(m, "matching"), "matching", &f->matching);
	if (OPT(m, "allow"))
		dm_bool(im, dn_get(m, "allow"), "allow", &f->allow);
	else if (OPT(m, "filter_pass")) /* damo's old name */
		dm_bool(im, dn_get(m, "filter_pass"), "filter_pass", &f->allow);
	switch (f->type) {
	case DAMOS_FILTER_MEMCG:
		s = scalar_of(im, dn_get(m, "memcg_path"), "memcg_path");
		if (s && !(f->memcg_path = strdup(s)))
			return -ENOMEM;
		break;
	case DAMOS_FILTER_ADDR:
		n = get_kind(im, m, "address_range", DN_MAP);
		if (!n)
			err(im, m, "address_range", "addr filters need an address_range");
		else {
			size_t old = push_key(im, "address_range");

			check_keys(im, n, "start|end|nr_accesses|age|sz_filter_passed|probe_hits");
			dm_size(im, dn_get(n, "start"), "start", &f->addr.start);
			dm_size(im, dn_get(n, "end"), "end", &f->addr.end);
			pop(im, old);
		}
		break;
	case DAMOS_FILTER_TARGET:
		if (dm_count(im, dn_get(m, "damon_target_idx"), "damon_target_idx", &x) == 0) {
			if (x >= c->nr_targets)
				err(im, dn_get(m, "damon_target_idx"), "damon_target_idx",
				    "target index %" PRIu64 " out of range (%zu targets)", x, c->nr_targets);
			f->target_idx = (int)MIN(x, (uint64_t)INT32_MAX);
		}
		break;
	case DAMOS_FILTER_HUGEPAGE_SIZE:
		n = get_kind(im, m, "hugepage_size", DN_SEQ);
		if (!n || n->n != 2)
			err(im, n ?: m, "hugepage_size", "hugepage_size filters need [min, max]");
		else {
			size_t old = push_key(im, "hugepage_size");

			dm_size(im, n->v[0], "[0]", &f->hugepage.min);
			dm_size(im, n->v[1], "[1]", &f->hugepage.max);
			pop(im, old);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* nr_accesses: "N %" (or bare: percent, as damo reads it), "N samples", min, max. */
static int imp_nr_accesses(struct imp *im, const struct dn *n, const char *sub, uint64_t *ret)
{
	const char *s = scalar_of(im, n, sub), *p;
	struct dnum d;
	char unit[16];
	bool exact;

	if (!s)
		return -EINVAL;
	if (streq(s, "min") || streq(s, "max")) {
		*ret = streq(s, "max") ? DAMON_UINT_MAX : 0;
		return 0;
	}
	p = num_unit(s, &d, unit, sizeof(unit));
	if (!p || *p || (*unit && !streq(unit, "%") && !streq(unit, "samples"))) {
		err(im, n, sub, "invalid access rate '%s' (expected e.g. '5 %%' or '3 samples')", s);
		return -EINVAL;
	}
	if (streq(unit, "samples"))
		*ret = num_scale(&d, 1, 1, &exact);
	else {
		/* damo: int(percent * (aggr / sample) / 100) */
		uint64_t pct_hundredths = num_scale(&d, 100, 1, &exact);

		if (pct_hundredths == UINT64_MAX)
			*ret = DAMON_UINT_MAX;
		else
			*ret = num_scale(&(struct dnum){ .v = (u128)pct_hundredths * im->aggr_us }, 1,
					 im->sample_us * 10000, &exact);
	}
	*ret = MIN(*ret, DAMON_UINT_MAX);
	return 0;
}

/* age: a duration (bare: us; --raw: ns), "N aggr_intervals", min, max. */
static int imp_age(struct imp *im, const struct dn *n, const char *sub, uint64_t *ret)
{
	const char *s = scalar_of(im, n, sub), *p;
	struct dnum d;
	char unit[24];
	bool exact;
	uint64_t us;

	if (!s)
		return -EINVAL;
	p = num_unit(s, &d, unit, sizeof(unit));
	if (p && !*p && streq(unit, "aggr_intervals")) {
		*ret = MIN(num_scale(&d, 1, 1, &exact), DAMON_UINT_MAX);
		return 0;
	}
	if (dm_dur(im, n, sub, DUR_US_EXACT, 1000, &us) < 0)
		return -EINVAL;
	/* damo: int(usec / aggr) */
	*ret = us == UINT64_MAX ? DAMON_UINT_MAX : MIN(us / im->aggr_us, DAMON_UINT_MAX);
	return 0;
}

static int imp_scheme(struct imp *im, const struct dn *m, struct damon_ctx_cfg *c, struct damos_cfg *sc)
{
	const struct dn *n, *ap;
	const char *s;
	int r;

	check_keys(im, m, "action|dests|target_nid|access_pattern|apply_interval_us|quotas|watermarks|filters|stats");
	s = OPT(m, "action") ? scalar_of(im, dn_get(m, "action"), "action") : "stat";
	if (s) {
		sc->action = damos_action_from_string(s);
		if ((int)sc->action < 0) {
			err(im, dn_get(m, "action"), "action", "unknown action '%s'", s);
			sc->action = DAMOS_STAT;
		}
	}
	if (OPT(m, "target_nid")) {
		uint64_t x;

		if (dm_count(im, dn_get(m, "target_nid"), "target_nid", &x) == 0)
			sc->target_nid = (int)MIN(x, (uint64_t)INT32_MAX);
	}
	n = get_kind(im, m, "dests", DN_SEQ);
	if (n && n->n) {
		sc->dests = calloc(n->n, sizeof(*sc->dests));
		if (!sc->dests)
			return -ENOMEM;
		for (size_t i = 0; i < n->n; i++) {
			size_t old = push_key(im, "dests");
			uint64_t id = 0, w = 0;

			push_idx(im, i);
			if (n->v[i]->kind != DN_MAP)
				err(im, n->v[i], NULL, "expected a mapping {id, weight}");
			else {
				check_keys(im, n->v[i], "id|weight");
				dm_count(im, dn_get(n->v[i], "id"), "id", &id);
				if (OPT(n->v[i], "weight"))
					dm_count(im, dn_get(n->v[i], "weight"), "weight", &w);
				sc->dests[sc->nr_dests++] =
					(struct damos_dest_cfg){ .id = (uint32_t)MIN(id, (uint64_t)INT32_MAX),
								 .weight = (uint32_t)MIN(w, (uint64_t)UINT32_MAX) };
			}
			pop(im, old);
		}
	}
	if (OPT(m, "apply_interval_us"))
		dm_dur(im, dn_get(m, "apply_interval_us"), "apply_interval_us", DUR_US, 1000, &sc->apply_interval_us);
	if (sc->apply_interval_us == UINT64_MAX) {
		err(im, dn_get(m, "apply_interval_us"), "apply_interval_us", "'max' is not a usable apply interval");
		sc->apply_interval_us = 0;
	}

	ap = get_kind(im, m, "access_pattern", DN_MAP);
	if (ap) {
		size_t old = push_key(im, "access_pattern");
		const struct dn *sz, *na, *age;

		check_keys(im, ap, "sz_bytes|nr_accesses|age");
		if ((sz = get_kind(im, ap, "sz_bytes", DN_MAP))) {
			size_t o2 = push_key(im, "sz_bytes");

			check_keys(im, sz, "min|max");
			if (OPT(sz, "min"))
				dm_size(im, dn_get(sz, "min"), "min", &sc->sz.min);
			if (OPT(sz, "max"))
				dm_size(im, dn_get(sz, "max"), "max", &sc->sz.max);
			pop(im, o2);
		}
		if ((na = get_kind(im, ap, "nr_accesses", DN_MAP))) {
			size_t o2 = push_key(im, "nr_accesses");

			check_keys(im, na, "min|max");
			if (OPT(na, "min"))
				imp_nr_accesses(im, dn_get(na, "min"), "min", &sc->nr_accesses.min);
			if (OPT(na, "max"))
				imp_nr_accesses(im, dn_get(na, "max"), "max", &sc->nr_accesses.max);
			pop(im, o2);
		}
		if ((age = get_kind(im, ap, "age", DN_MAP))) {
			size_t o2 = push_key(im, "age");

			check_keys(im, age, "min|max");
			if (OPT(age, "min"))
				imp_age(im, dn_get(age, "min"), "min", &sc->age.min);
			if (OPT(age, "max"))
				imp_age(im, dn_get(age, "max"), "max", &sc->age.max);
			pop(im, o2);
		}
		pop(im, old);
	}

	if ((n = get_kind(im, m, "quotas", DN_MAP))) {
		size_t old = push_key(im, "quotas");

		r = imp_quotas(im, n, sc);
		pop(im, old);
		if (r < 0)
			return r;
	}
	if ((n = get_kind(im, m, "watermarks", DN_MAP))) {
		size_t old = push_key(im, "watermarks");

		imp_wmarks(im, n, sc);
		pop(im, old);
	}
	n = get_kind(im, m, "filters", DN_SEQ);
	if (n && n->n) {
		sc->filters = calloc(n->n, sizeof(*sc->filters));
		if (!sc->filters)
			return -ENOMEM;
		for (size_t i = 0; i < n->n; i++) {
			size_t old = push_key(im, "filters");

			push_idx(im, i);
			if (n->v[i]->kind != DN_MAP)
				err(im, n->v[i], NULL, "expected a mapping");
			else {
				r = imp_filter(im, n->v[i], c, &sc->filters[sc->nr_filters++]);
				if (r < 0)
					return r;
			}
			pop(im, old);
		}
	}
	return 0;
}

/* damo's sample_control: only its default (page table sampling, no filters) has a damond meaning. */
static void imp_sample_control(struct imp *im, const struct dn *m)
{
	const struct dn *pe = get_kind(im, m, "primitives_enabled", DN_MAP), *sf;
	bool pt = true, pf = false;

	check_keys(im, m, "primitives_enabled|sample_filters");
	if (pe) {
		size_t old = push_key(im, "primitives_enabled");

		check_keys(im, pe, "page_table|page_fault");
		if (OPT(pe, "page_table"))
			dm_bool(im, dn_get(pe, "page_table"), "page_table", &pt);
		if (OPT(pe, "page_fault"))
			dm_bool(im, dn_get(pe, "page_fault"), "page_fault", &pf);
		pop(im, old);
	}
	if (!pt || pf)
		err(im, pe ?: m, "primitives_enabled",
		    "access sampling primitives other than page_table (damo --sample_primitives) are not supported by "
		    "damond");
	sf = get_kind(im, m, "sample_filters", DN_SEQ);
	if (sf && sf->n)
		err(im, sf, "sample_filters", "access sample filters (damo --exp_ops_*) are not supported by damond");
}

static int imp_ctx(struct imp *im, const struct dn *m, struct damon_ctx_cfg *c)
{
	const struct dn *n, *iv;
	const char *s;
	int r;

	check_keys(im, m, "ops|addr_unit|targets|intervals|nr_regions|probes|sample_control|pause|schemes");
	s = OPT(m, "ops") ? scalar_of(im, dn_get(m, "ops"), "ops") : "paddr";
	if (s) {
		c->ops = damon_ops_from_string(s);
		if ((int)c->ops < 0) {
			err(im, dn_get(m, "ops"), "ops", "unknown operations set '%s'", s);
			c->ops = DAMON_OPS_PADDR;
		}
	}
	if (OPT(m, "addr_unit") && dm_size(im, dn_get(m, "addr_unit"), "addr_unit", &c->addr_unit) == 0 &&
	    (c->addr_unit == 0 || (c->addr_unit & (c->addr_unit - 1)))) {
		err(im, dn_get(m, "addr_unit"), "addr_unit", "addr_unit must be a power of two");
		c->addr_unit = 1;
	}
	if (OPT(m, "pause"))
		dm_bool(im, dn_get(m, "pause"), "pause", &c->pause);

	if ((iv = get_kind(im, m, "intervals", DN_MAP))) {
		size_t old = push_key(im, "intervals");
		const struct dn *g;

		check_keys(im, iv, "sample_us|aggr_us|ops_update_us|intervals_goal");
		if (OPT(iv, "sample_us"))
			dm_dur(im, dn_get(iv, "sample_us"), "sample_us", DUR_US, 1000, &c->sample_us);
		if (OPT(iv, "aggr_us"))
			dm_dur(im, dn_get(iv, "aggr_us"), "aggr_us", DUR_US, 1000, &c->aggr_us);
		if (OPT(iv, "ops_update_us"))
			dm_dur(im, dn_get(iv, "ops_update_us"), "ops_update_us", DUR_US, 1000, &c->update_us);
		if ((g = get_kind(im, iv, "intervals_goal", DN_MAP))) {
			size_t o2 = push_key(im, "intervals_goal");

			check_keys(im, g, "access_bp|aggrs|min_sample_us|max_sample_us");
			if (OPT(g, "access_bp"))
				dm_ratio(im, dn_get(g, "access_bp"), "access_bp", 10000, &c->intervals_goal.access_bp);
			if (OPT(g, "aggrs"))
				dm_count(im, dn_get(g, "aggrs"), "aggrs", &c->intervals_goal.aggrs);
			if (OPT(g, "min_sample_us"))
				dm_dur(im, dn_get(g, "min_sample_us"), "min_sample_us", DUR_US, 1000,
				       &c->intervals_goal.min_sample_us);
			if (OPT(g, "max_sample_us"))
				dm_dur(im, dn_get(g, "max_sample_us"), "max_sample_us", DUR_US, 1000,
				       &c->intervals_goal.max_sample_us);
			pop(im, o2);
		}
		pop(im, old);
	}
	if (c->sample_us == 0 || c->aggr_us == 0 || c->sample_us == UINT64_MAX || c->aggr_us == UINT64_MAX ||
	    c->update_us == 0 || c->update_us == UINT64_MAX) {
		err(im, iv ?: m, "intervals", "intervals must be greater than 0 and not 'max'");
		c->sample_us = DAMOND_DEFAULT_SAMPLE_US;
		c->aggr_us = DAMOND_DEFAULT_AGGR_US;
		c->update_us = DAMOND_DEFAULT_UPDATE_US;
	}
	im->sample_us = c->sample_us;
	im->aggr_us = c->aggr_us;

	if ((n = get_kind(im, m, "nr_regions", DN_MAP))) {
		size_t old = push_key(im, "nr_regions");

		check_keys(im, n, "min|max");
		if (OPT(n, "min"))
			dm_count(im, dn_get(n, "min"), "min", &c->min_nr_regions);
		if (OPT(n, "max"))
			dm_count(im, dn_get(n, "max"), "max", &c->max_nr_regions);
		pop(im, old);
	}
	if ((n = get_kind(im, m, "probes", DN_SEQ)) && n->n)
		err(im, n, "probes", "data attribute probes (damo --probe_filter) are not supported by damond");
	if ((n = get_kind(im, m, "sample_control", DN_MAP))) {
		size_t old = push_key(im, "sample_control");

		imp_sample_control(im, n);
		pop(im, old);
	}

	n = get_kind(im, m, "targets", DN_SEQ);
	if (n && n->n) {
		c->targets = calloc(n->n, sizeof(*c->targets));
		if (!c->targets)
			return -ENOMEM;
		for (size_t i = 0; i < n->n; i++) {
			size_t old = push_key(im, "targets");

			push_idx(im, i);
			if (n->v[i]->kind != DN_MAP)
				err(im, n->v[i], NULL, "expected a mapping");
			else {
				r = imp_target(im, n->v[i], c, &c->targets[c->nr_targets++]);
				if (r < 0)
					return r;
			}
			pop(im, old);
		}
	} else if (c->ops == DAMON_OPS_PADDR) {
		c->targets = calloc(1, sizeof(*c->targets));
		if (!c->targets)
			return -ENOMEM;
		c->targets[c->nr_targets++].regions_auto = true;
		note(im, m, "targets",
		     "no paddr target: converted to one target over all System RAM ('regions: auto')");
	} else
		err(im, m, "targets", "%s needs at least one target", damon_ops_to_string(c->ops));

	n = get_kind(im, m, "schemes", DN_SEQ);
	if (n && n->n) {
		c->schemes = calloc(n->n, sizeof(*c->schemes));
		if (!c->schemes)
			return -ENOMEM;
		for (size_t i = 0; i < n->n; i++) {
			size_t old = push_key(im, "schemes");
			struct damos_cfg *sc = &c->schemes[c->nr_schemes++];

			push_idx(im, i);
			damos_cfg_init(sc);
			if (n->v[i]->kind != DN_MAP)
				err(im, n->v[i], NULL, "expected a mapping");
			else {
				r = imp_scheme(im, n->v[i], c, sc);
				if (r < 0)
					return r;
			}
			pop(im, old);
		}
	}
	return 0;
}

static int imp_kdamond(struct imp *im, const struct dn *m, size_t idx, struct kdamond_cfg *kd)
{
	const struct dn *ctxs;
	char name[32];

	snprintf(name, sizeof(name), "kdamond%zu", idx);
	kd->name = strdup(name);
	if (!kd->name)
		return -ENOMEM;
	damon_ctx_cfg_init(&kd->ctx);
	check_keys(im, m, "state|pid|refresh_ms|contexts");
	if (OPT(m, "refresh_ms")) {
		/* damo writes refresh_ms unformatted: milliseconds in both forms ("1000.0" when given as 1s) */
		if (dm_count(im, dn_get(m, "refresh_ms"), "refresh_ms", &kd->refresh_ms) == 0 &&
		    kd->refresh_ms > UINT32_MAX) {
			err(im, dn_get(m, "refresh_ms"), "refresh_ms", "refresh_ms out of range");
			kd->refresh_ms = 0;
		}
	}
	ctxs = get_kind(im, m, "contexts", DN_SEQ);
	if (!ctxs || ctxs->n != 1) {
		err(im, ctxs ?: m, "contexts",
		    "a kdamond with %zu contexts: damond takes exactly one context per kdamond (the kernel "
		    "accepts at most one); give each context its own kdamond",
		    dn_len(ctxs));
		return 0;
	}
	if (ctxs->v[0]->kind != DN_MAP) {
		err(im, ctxs->v[0], "contexts[0]", "expected a mapping");
		return 0;
	}
	{
		size_t old = push_key(im, "contexts");
		int r;

		push_idx(im, 0);
		r = imp_ctx(im, ctxs->v[0], &kd->ctx);
		pop(im, old);
		return r;
	}
}

static int imp_config(struct imp *im, const struct dn *root, struct damond_config *cfg)
{
	const struct dn *kds;

	if (!root || root->kind != DN_MAP) {
		err(im, root, NULL, "expected a mapping with 'kdamonds' (damo args damon --format json|yaml)");
		return 0;
	}
	check_keys(im, root, "kdamonds");
	kds = get_kind(im, root, "kdamonds", DN_SEQ);
	if (!kds) {
		if (!dn_get(root, "kdamonds"))
			err(im, root, "kdamonds", "missing key 'kdamonds'");
		return 0;
	}
	if (kds->n > 64) {
		err(im, kds, "kdamonds", "too many kdamonds: %zu (at most 64)", kds->n);
		return 0;
	}
	cfg->kdamonds = calloc(MAX(kds->n, 1), sizeof(*cfg->kdamonds));
	if (!cfg->kdamonds)
		return -ENOMEM;
	for (size_t i = 0; i < kds->n; i++) {
		size_t old = push_key(im, "kdamonds");
		int r = 0;

		push_idx(im, i);
		if (kds->v[i]->kind != DN_MAP)
			err(im, kds->v[i], NULL, "expected a mapping");
		else
			r = imp_kdamond(im, kds->v[i], i, &cfg->kdamonds[cfg->nr_kdamonds++]);
		pop(im, old);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* struct damond_config -> damond YAML                                      */

/* Exact: "100M", "4K", "12345", "max". */
static const char *yaml_size(char buf[static 32], uint64_t b)
{
	static const char units[] = "KMGTP";

	if (b == UINT64_MAX)
		return "max";
	for (int i = 4; i >= 0 && b; i--) {
		uint64_t u = 1ULL << (10 * (i + 1));

		if (b % u == 0) {
			snprintf(buf, 32, "%" PRIu64 "%c", b / u, units[i]);
			return buf;
		}
	}
	snprintf(buf, 32, "%" PRIu64, b);
	return buf;
}

static const char *yaml_ms(char buf[static 32], uint64_t ms)
{
	if (ms <= UINT64_MAX / 1000 - 1)
		return format_duration_us(buf, ms * 1000);
	snprintf(buf, 32, "%" PRIu64, ms); /* only in *_ms keys: a bare number is milliseconds */
	return buf;
}

static const char *yaml_bp(char buf[static 32], uint64_t bp)
{
	if (bp % 100 == 0)
		snprintf(buf, 32, "%" PRIu64 "%%", bp / 100);
	else if (bp % 10 == 0)
		snprintf(buf, 32, "%" PRIu64 ".%" PRIu64 "%%", bp / 100, bp % 100 / 10);
	else
		snprintf(buf, 32, "%" PRIu64 ".%02" PRIu64 "%%", bp / 100, bp % 100);
	return buf;
}

static const char *yaml_count(char buf[static 32], uint64_t x)
{
	if (x == DAMON_UINT_MAX)
		return "max";
	snprintf(buf, 32, "%" PRIu64, x);
	return buf;
}

static void yaml_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void yaml_filter(FILE *f, const struct damos_filter_cfg *fl)
{
	char a[32], b[32];

	fprintf(f, "          - type: %s\n", damos_filter_type_to_string(fl->type));
	fprintf(f, "            matching: %s\n", fl->matching ? "true" : "false");
	fprintf(f, "            allow: %s\n", fl->allow ? "true" : "false");
	switch (fl->type) {
	case DAMOS_FILTER_MEMCG:
		fputs("            memcg_path: ", f);
		yaml_str(f, fl->memcg_path ?: "");
		fputc('\n', f);
		break;
	case DAMOS_FILTER_ADDR:
		fprintf(f, "            addr_range: {start: 0x%" PRIx64 ", end: 0x%" PRIx64 "}\n", fl->addr.start,
			fl->addr.end);
		break;
	case DAMOS_FILTER_HUGEPAGE_SIZE:
		fprintf(f, "            hugepage_size: {min: %s, max: %s}\n", yaml_size(a, fl->hugepage.min),
			yaml_size(b, fl->hugepage.max));
		break;
	case DAMOS_FILTER_TARGET:
		fprintf(f, "            target_idx: %d\n", fl->target_idx);
		break;
	default:
		break;
	}
}

static void yaml_scheme(FILE *f, const struct damos_cfg *s)
{
	const struct damos_quota_cfg *q = &s->quota;
	char a[32], b[32];
	static const struct {
		const char *key;
		enum damos_filter_layer layer;
	} lists[] = {
		{ "core_filters", DAMOS_FILTER_LAYER_CORE },
		{ "ops_filters", DAMOS_FILTER_LAYER_OPS },
		{ "filters", DAMOS_FILTER_LAYER_AUTO },
	};

	fprintf(f, "      - ");
	if (s->name_given)
		fprintf(f, "name: %s\n        ", s->name);
	fprintf(f, "action: %s\n", damos_action_to_string(s->action));
	if (s->target_nid != -1)
		fprintf(f, "        target_nid: %d\n", s->target_nid);
	if (s->apply_interval_us)
		fprintf(f, "        apply_interval_us: %s\n", format_duration_us(a, s->apply_interval_us));
	fprintf(f, "        access_pattern:\n");
	fprintf(f, "          sz_bytes: {min: %s, max: %s}\n", yaml_size(a, s->sz.min), yaml_size(b, s->sz.max));
	fprintf(f, "          nr_accesses: {min: %s, max: %s}   # samples per aggregation interval\n",
		yaml_count(a, s->nr_accesses.min), yaml_count(b, s->nr_accesses.max));
	fprintf(f, "          age: {min: %s, max: %s}   # aggregation intervals\n", yaml_count(a, s->age.min),
		yaml_count(b, s->age.max));
	if (q->ms || q->bytes || q->nr_goals || q->reset_interval_ms != DAMOND_DEFAULT_RESET_INTERVAL_MS ||
	    q->weight_sz || q->weight_nr_accesses || q->weight_age || q->goal_tuner_set || q->fail_charge_denom) {
		fprintf(f, "        quotas:\n");
		if (q->ms)
			fprintf(f, "          time_ms: %s\n", yaml_ms(a, q->ms));
		if (q->bytes)
			fprintf(f, "          sz_bytes: %s\n", yaml_size(a, q->bytes));
		fprintf(f, "          reset_interval_ms: %s\n", yaml_ms(a, q->reset_interval_ms));
		fprintf(f,
			"          weights: {sz_permil: %" PRIu32 ", nr_accesses_permil: %" PRIu32
			", age_permil: %" PRIu32 "}\n",
			q->weight_sz, q->weight_nr_accesses, q->weight_age);
		if (q->nr_goals)
			fprintf(f, "          goals:\n");
		for (size_t i = 0; i < q->nr_goals; i++) {
			const struct damos_goal_cfg *g = &q->goals[i];

			fprintf(f, "            - metric: %s\n", damos_goal_metric_to_string(g->metric));
			if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US)
				fprintf(f, "              target_value: %s\n", format_duration_us(a, g->target_value));
			else if (g->metric == DAMOS_GOAL_USER_INPUT) {
				fprintf(f, "              target_value: %" PRIu64 "\n", g->target_value);
				if (g->current_value)
					fprintf(f, "              current_value: %" PRIu64 "\n", g->current_value);
			} else
				fprintf(f, "              target_value: %s\n", yaml_bp(a, g->target_value));
			if (metric_is_node(g->metric) || g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP)
				fprintf(f, "              nid: %d\n", g->nid);
			if (g->path) {
				fputs("              path: ", f);
				yaml_str(f, g->path);
				fputc('\n', f);
			}
		}
		if (q->goal_tuner_set)
			fprintf(f, "          goal_tuner: %s\n", damos_goal_tuner_to_string(q->goal_tuner));
		if (q->fail_charge_denom) {
			fprintf(f, "          fail_charge_ratio: %" PRIu32 "/%" PRIu32 "\n", q->fail_charge_num,
				q->fail_charge_denom);
			if (q->fail_charge_mode != DAMOS_FAIL_CHARGE_AUTO)
				fprintf(f, "          fail_charge_mode: %s\n",
					damos_fail_charge_mode_to_string(q->fail_charge_mode));
			if (q->fail_charge_ager_off)
				fprintf(f, "          fail_charge_ager: off\n");
		}
	}
	if (s->wmarks.metric != DAMOS_WMARK_NONE)
		fprintf(f,
			"        watermarks: {metric: %s, interval_us: %s, high_permil: %" PRIu64
			", mid_permil: %" PRIu64 ", low_permil: %" PRIu64 "}\n",
			damos_wmark_metric_to_string(s->wmarks.metric), format_duration_us(a, s->wmarks.interval_us),
			s->wmarks.high, s->wmarks.mid, s->wmarks.low);
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		bool any = false;

		for (size_t i = 0; i < s->nr_filters; i++)
			if (s->filters[i].layer == lists[l].layer ||
			    (lists[l].layer == DAMOS_FILTER_LAYER_AUTO &&
			     s->filters[i].layer == DAMOS_FILTER_LAYER_LEGACY)) {
				if (!any)
					fprintf(f, "        %s:\n", lists[l].key);
				any = true;
				yaml_filter(f, &s->filters[i]);
			}
	}
	if (s->nr_dests) {
		fprintf(f, "        dests:\n");
		for (size_t i = 0; i < s->nr_dests; i++)
			fprintf(f, "          - {id: %" PRIu32 ", weight: %" PRIu32 "}\n", s->dests[i].id,
				s->dests[i].weight);
	}
	if (s->max_nr_snapshots)
		fprintf(f, "        max_nr_snapshots: %" PRIu64 "\n", s->max_nr_snapshots);
}

static void yaml_kdamond(FILE *f, const struct kdamond_cfg *kd)
{
	const struct damon_ctx_cfg *c = &kd->ctx;
	char a[32];

	fprintf(f, "  - name: %s\n", kd->name);
	if (kd->refresh_ms)
		fprintf(f, "    refresh_ms: %s\n", yaml_ms(a, kd->refresh_ms));
	fprintf(f, "    ops: %s\n", damon_ops_to_string(c->ops));
	if (c->addr_unit != 1)
		fprintf(f, "    addr_unit: %" PRIu64 "\n", c->addr_unit);
	if (c->pause)
		fprintf(f, "    pause: true\n");
	fprintf(f, "    targets:\n");
	for (size_t i = 0; i < c->nr_targets; i++) {
		const struct damon_target_cfg *t = &c->targets[i];
		const char *lead = "      - ";

		if (c->ops != DAMON_OPS_PADDR) {
			if (t->select != PROCSEL_PID) {
				/* YAML single quotes: nothing is an escape but '' (unit names hold backslashes) */
				fprintf(f, "%s%s: '", lead, procsel_kind_to_string(t->select));
				for (const char *ch = t->select_arg; *ch; ch++) {
					if (*ch == '\'')
						fputc('\'', f);
					fputc(*ch, f);
				}
				fputs("'\n", f);
			} else
				fprintf(f, "%spid: %d\n", lead, t->pid);
			lead = "        ";
		}
		if (t->regions_auto)
			fprintf(f, "%sregions: auto\n", lead);
		else if (t->regions_nodes) {
			fprintf(f, "%sregions: {node: [", lead);
			for (unsigned nid = 0, first = 1; nid < NUMA_MAX_NODES; nid++)
				if (t->regions_nodes & (UINT64_C(1) << nid)) {
					fprintf(f, "%s%u", first ? "" : ", ", nid);
					first = 0;
				}
			fputs("]}\n", f);
		} else if (t->nr_regions) {
			fprintf(f, "%sregions:\n", lead);
			for (size_t j = 0; j < t->nr_regions; j++)
				fprintf(f, "          - {start: 0x%" PRIx64 ", end: 0x%" PRIx64 "}\n",
					t->regions[j].start, t->regions[j].end);
		} else if (c->ops == DAMON_OPS_PADDR)
			fprintf(f, "%sregions: []\n", lead);
	}
	fprintf(f, "    intervals:\n");
	fprintf(f, "      sample_us: %s\n", format_duration_us(a, c->sample_us));
	fprintf(f, "      aggr_us: %s\n", format_duration_us(a, c->aggr_us));
	fprintf(f, "      ops_update_us: %s\n", format_duration_us(a, c->update_us));
	if (c->intervals_goal.access_bp || c->intervals_goal.aggrs || c->intervals_goal.min_sample_us ||
	    c->intervals_goal.max_sample_us) {
		char b[32], d[32];

		fprintf(f,
			"      intervals_goal: {access_bp: %s, aggrs: %" PRIu64
			", min_sample_us: %s, max_sample_us: %s}\n",
			yaml_bp(a, c->intervals_goal.access_bp), c->intervals_goal.aggrs,
			format_duration_us(b, c->intervals_goal.min_sample_us),
			format_duration_us(d, c->intervals_goal.max_sample_us));
	}
	fprintf(f, "    nr_regions: {min: %" PRIu64 ", max: %" PRIu64 "}\n", c->min_nr_regions, c->max_nr_regions);
	if (c->refine.enabled)
		fprintf(f, "    refine: {enabled: true, interval: %s, max_splits: %" PRIu64 "%s}\n",
			format_duration_us(a, c->refine.interval_us), c->refine.max_splits,
			c->refine.raise ? ", raise: true" : "");
	if (c->nr_schemes == 0)
		fprintf(f, "    schemes: []\n");
	else
		fprintf(f, "    schemes:\n");
	for (size_t i = 0; i < c->nr_schemes; i++)
		yaml_scheme(f, &c->schemes[i]);
}

int damo_config_to_yaml(const struct damond_config *c, const char *header, char **ret)
{
	const struct damond_settings *st = &c->settings;
	bool settings = false;
	char *buf = NULL, a[32];
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	for (const char *p = header; p && *p;) {
		size_t l = strcspn(p, "\n");

		fprintf(f, "# %.*s\n", (int)l, p);
		p += l + (p[l] == '\n');
	}
	settings = st->on_exit != DAMOND_ON_EXIT_STOP || st->stats_interval_us != DAMOND_DEFAULT_STATS_INTERVAL_US ||
		   st->control_group || st->metrics.textfile || st->spare_kdamonds != DAMOND_DEFAULT_SPARE_KDAMONDS;
	for (int i = 0; i < _DAMON_MODULE_MAX; i++)
		settings = settings || st->allow_disable[i];
	if (settings) {
		bool first = true;

		fprintf(f, "damond:\n");
		if (st->on_exit != DAMOND_ON_EXIT_STOP)
			fprintf(f, "  on_exit: %s\n", damond_on_exit_to_string(st->on_exit));
		if (st->stats_interval_us != DAMOND_DEFAULT_STATS_INTERVAL_US)
			fprintf(f, "  stats_interval: %s\n", format_duration_us(a, st->stats_interval_us));
		if (st->spare_kdamonds != DAMOND_DEFAULT_SPARE_KDAMONDS)
			fprintf(f, "  spare_kdamonds: %" PRIu64 "\n", st->spare_kdamonds);
		for (int i = 0; i < _DAMON_MODULE_MAX; i++)
			if (st->allow_disable[i]) {
				fprintf(f, "%s%s", first ? "  allow_disable_modules: [" : ", ",
					damon_module_to_string(i));
				first = false;
			}
		if (!first)
			fprintf(f, "]\n");
		if (st->control_group) {
			fputs("  control_group: ", f);
			yaml_str(f, st->control_group);
			fputc('\n', f);
		}
		if (st->metrics.textfile) {
			fputs("  metrics:\n    textfile: ", f);
			yaml_str(f, st->metrics.textfile);
			fputc('\n', f);
		}
	}
	fprintf(f, c->nr_kdamonds ? "kdamonds:\n" : "kdamonds: []\n");
	for (size_t i = 0; i < c->nr_kdamonds; i++)
		yaml_kdamond(f, &c->kdamonds[i]);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* equality                                                                 */

#define DIFF(cond, ...)                                     \
	do {                                                \
		if (cond) {                                 \
			snprintf(why, whylen, __VA_ARGS__); \
			return false;                       \
		}                                           \
	} while (0)

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && streq(a, b));
}

static bool scheme_equal(const struct damos_cfg *a, const struct damos_cfg *b, const char *p, char *why, size_t whylen)
{
	const struct damos_quota_cfg *qa = &a->quota, *qb = &b->quota;

	DIFF(a->name_given != b->name_given || (a->name_given && !str_eq(a->name, b->name)), "%s.name", p);
	DIFF(a->action != b->action, "%s.action", p);
	DIFF(a->target_nid != b->target_nid, "%s.target_nid", p);
	DIFF(a->apply_interval_us != b->apply_interval_us, "%s.apply_interval_us", p);
	DIFF(a->sz.min != b->sz.min || a->sz.max != b->sz.max, "%s.access_pattern.sz_bytes", p);
	DIFF(a->nr_accesses.min != b->nr_accesses.min || a->nr_accesses.max != b->nr_accesses.max,
	     "%s.access_pattern.nr_accesses (%" PRIu64 "..%" PRIu64 " vs %" PRIu64 "..%" PRIu64 ")", p,
	     a->nr_accesses.min, a->nr_accesses.max, b->nr_accesses.min, b->nr_accesses.max);
	DIFF(a->age.min != b->age.min || a->age.max != b->age.max,
	     "%s.access_pattern.age (%" PRIu64 "..%" PRIu64 " vs %" PRIu64 "..%" PRIu64 ")", p, a->age.min, a->age.max,
	     b->age.min, b->age.max);
	DIFF(qa->ms != qb->ms, "%s.quotas.time_ms", p);
	DIFF(qa->bytes != qb->bytes, "%s.quotas.sz_bytes", p);
	DIFF(qa->reset_interval_ms != qb->reset_interval_ms, "%s.quotas.reset_interval_ms (%" PRIu64 " vs %" PRIu64 ")",
	     p, qa->reset_interval_ms, qb->reset_interval_ms);
	DIFF(qa->weight_sz != qb->weight_sz || qa->weight_nr_accesses != qb->weight_nr_accesses ||
		     qa->weight_age != qb->weight_age,
	     "%s.quotas.weights", p);
	DIFF((qa->goal_tuner_set ? qa->goal_tuner : DAMOS_TUNER_CONSIST) !=
		     (qb->goal_tuner_set ? qb->goal_tuner : DAMOS_TUNER_CONSIST),
	     "%s.quotas.goal_tuner", p);
	DIFF(qa->fail_charge_num != qb->fail_charge_num || qa->fail_charge_denom != qb->fail_charge_denom ||
		     qa->fail_charge_mode != qb->fail_charge_mode ||
		     qa->fail_charge_ager_off != qb->fail_charge_ager_off,
	     "%s.quotas.fail_charge_ratio", p);
	DIFF(qa->nr_goals != qb->nr_goals, "%s.quotas.goals (%zu vs %zu)", p, qa->nr_goals, qb->nr_goals);
	for (size_t i = 0; i < qa->nr_goals; i++) {
		const struct damos_goal_cfg *ga = &qa->goals[i], *gb = &qb->goals[i];

		DIFF(ga->metric != gb->metric || ga->target_value != gb->target_value ||
			     ga->current_value != gb->current_value || ga->nid != gb->nid ||
			     !str_eq(ga->path, gb->path),
		     "%s.quotas.goals[%zu]", p, i);
	}
	DIFF(a->wmarks.metric != b->wmarks.metric, "%s.watermarks.metric", p);
	DIFF(a->wmarks.metric != DAMOS_WMARK_NONE &&
		     (a->wmarks.interval_us != b->wmarks.interval_us || a->wmarks.high != b->wmarks.high ||
		      a->wmarks.mid != b->wmarks.mid || a->wmarks.low != b->wmarks.low),
	     "%s.watermarks", p);
	DIFF(a->nr_filters != b->nr_filters, "%s.filters (%zu vs %zu)", p, a->nr_filters, b->nr_filters);
	for (size_t i = 0; i < a->nr_filters; i++) {
		const struct damos_filter_cfg *fa = &a->filters[i], *fb = &b->filters[i];

		DIFF(fa->type != fb->type || fa->layer != fb->layer || fa->matching != fb->matching ||
			     fa->allow != fb->allow,
		     "%s.filters[%zu]", p, i);
		DIFF(fa->type == DAMOS_FILTER_MEMCG && !str_eq(fa->memcg_path, fb->memcg_path),
		     "%s.filters[%zu].memcg_path", p, i);
		DIFF(fa->type == DAMOS_FILTER_ADDR &&
			     (fa->addr.start != fb->addr.start || fa->addr.end != fb->addr.end),
		     "%s.filters[%zu].addr_range", p, i);
		DIFF(fa->type == DAMOS_FILTER_HUGEPAGE_SIZE &&
			     (fa->hugepage.min != fb->hugepage.min || fa->hugepage.max != fb->hugepage.max),
		     "%s.filters[%zu].hugepage_size", p, i);
		DIFF(fa->type == DAMOS_FILTER_TARGET && fa->target_idx != fb->target_idx, "%s.filters[%zu].target_idx",
		     p, i);
	}
	DIFF(a->nr_dests != b->nr_dests, "%s.dests", p);
	for (size_t i = 0; i < a->nr_dests; i++)
		DIFF(a->dests[i].id != b->dests[i].id || a->dests[i].weight != b->dests[i].weight, "%s.dests[%zu]", p,
		     i);
	DIFF(a->max_nr_snapshots != b->max_nr_snapshots, "%s.max_nr_snapshots", p);
	return true;
}

bool damo_config_equal(const struct damond_config *a, const struct damond_config *b, char *why, size_t whylen)
{
	const struct damond_settings *sa = &a->settings, *sb = &b->settings;

	DIFF(sa->on_exit != sb->on_exit || sa->stats_interval_us != sb->stats_interval_us ||
		     sa->spare_kdamonds != sb->spare_kdamonds || !str_eq(sa->control_group, sb->control_group) ||
		     !str_eq(sa->metrics.textfile, sb->metrics.textfile) ||
		     memcmp(sa->allow_disable, sb->allow_disable, sizeof(sa->allow_disable)) != 0,
	     "damond");
	DIFF(a->nr_kdamonds != b->nr_kdamonds, "kdamonds (%zu vs %zu)", a->nr_kdamonds, b->nr_kdamonds);
	for (size_t k = 0; k < a->nr_kdamonds; k++) {
		const struct kdamond_cfg *ka = &a->kdamonds[k], *kb = &b->kdamonds[k];
		const struct damon_ctx_cfg *ca = &ka->ctx, *cb = &kb->ctx;
		char p[64];

		DIFF(!str_eq(ka->name, kb->name), "kdamonds[%zu].name", k);
		DIFF(ka->refresh_ms != kb->refresh_ms, "kdamonds[%zu].refresh_ms", k);
		DIFF(ca->ops != cb->ops, "kdamonds[%zu].ops", k);
		DIFF(ca->addr_unit != cb->addr_unit, "kdamonds[%zu].addr_unit", k);
		DIFF(ca->pause != cb->pause, "kdamonds[%zu].pause", k);
		DIFF(ca->sample_us != cb->sample_us || ca->aggr_us != cb->aggr_us || ca->update_us != cb->update_us,
		     "kdamonds[%zu].intervals", k);
		DIFF(memcmp(&ca->intervals_goal, &cb->intervals_goal, sizeof(ca->intervals_goal)) != 0,
		     "kdamonds[%zu].intervals.intervals_goal", k);
		DIFF(ca->min_nr_regions != cb->min_nr_regions || ca->max_nr_regions != cb->max_nr_regions,
		     "kdamonds[%zu].nr_regions", k);
		DIFF(ca->refine.enabled != cb->refine.enabled ||
			     (ca->refine.enabled &&
			      (ca->refine.interval_us != cb->refine.interval_us ||
			       ca->refine.max_splits != cb->refine.max_splits || ca->refine.raise != cb->refine.raise)),
		     "kdamonds[%zu].refine", k);
		DIFF(ca->nr_targets != cb->nr_targets, "kdamonds[%zu].targets", k);
		for (size_t t = 0; t < ca->nr_targets; t++) {
			const struct damon_target_cfg *ta = &ca->targets[t], *tb = &cb->targets[t];

			DIFF(ta->pid != tb->pid, "kdamonds[%zu].targets[%zu].pid", k, t);
			DIFF(ta->regions_auto != tb->regions_auto || ta->regions_nodes != tb->regions_nodes ||
				     ta->select != tb->select || strcmp(ta->select_arg, tb->select_arg) ||
				     ta->nr_regions != tb->nr_regions ||
				     (ta->nr_regions &&
				      memcmp(ta->regions, tb->regions, ta->nr_regions * sizeof(*ta->regions)) != 0),
			     "kdamonds[%zu].targets[%zu].regions", k, t);
		}
		DIFF(ca->nr_schemes != cb->nr_schemes, "kdamonds[%zu].schemes (%zu vs %zu)", k, ca->nr_schemes,
		     cb->nr_schemes);
		for (size_t s = 0; s < ca->nr_schemes; s++) {
			snprintf(p, sizeof(p), "kdamonds[%zu].schemes[%zu]", k, s);
			if (!scheme_equal(&ca->schemes[s], &cb->schemes[s], p, why, whylen))
				return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------------------ */
/* import                                                                   */

static void copy_loader_errors(struct imp *im, const struct config_errors *le)
{
	for (size_t i = 0; i < le->n; i++) {
		const struct config_error *e = &le->v[i];
		struct dn at = {}; /* positions are in the converted YAML, not in the damo file: named in the message */
		size_t old = im->plen;

		im->plen = 0;
		im->path[0] = '\0';
		if (e->warning)
			note(im, &at, e->key, "(converted policy, line %u) %s", e->line, e->message ?: "");
		else
			err(im, &at, e->key, "the converted policy is invalid for damond (line %u of its YAML): %s",
			    e->line, e->message ?: "");
		im->plen = old;
	}
}

int damo_import(const char *name, const char *text, size_t len, enum damo_numbers numbers, struct damond_config **ret,
		char **ret_yaml, bool *ret_raw, struct config_errors *errs)
{
	struct imp im = { .file = name, .errs = errs };
	struct config_errors lerrs = {};
	struct damond_config *cfg = NULL, *loaded = NULL;
	struct tree t = {};
	int raw_sig = 0, human_sig = 0, r;
	char *yaml = NULL, header[512], why[256];

	if (len > DAMO_MAX_INPUT) {
		err(&im, NULL, NULL, "larger than %d KiB", DAMO_MAX_INPUT / 1024);
		return -EINVAL;
	}
	r = tree_parse(&im, text, len, &t);
	if (r == -ENOMEM || im.oom) {
		tree_done(&t);
		return -ENOMEM;
	}
	if (r < 0 || im.nerr) {
		tree_done(&t);
		return -EINVAL;
	}

	detect_raw(t.root, NULL, &raw_sig, &human_sig);
	switch (numbers) {
	case DAMO_NUMBERS_RAW:
		im.raw = true;
		break;
	case DAMO_NUMBERS_HUMAN:
		im.raw = false;
		break;
	default:
		im.raw = raw_sig > 0 && human_sig == 0;
		if (raw_sig && human_sig)
			note(&im, t.root, NULL,
			     "both damo --raw (\"%%f\" permil) and human-readable numbers: bare numbers read in their "
			     "key's unit (use --raw if this is damo --raw output)");
		else if (!raw_sig && !human_sig && t.root)
			note(&im, t.root, NULL,
			     "cannot tell damo --raw output from the human form: bare numbers read in their key's unit "
			     "(use --raw if this is damo --raw output: its time_ms, reset_interval_ms, "
			     "watermarks.interval_us and age are nanoseconds)");
		break;
	}

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		tree_done(&t);
		return -ENOMEM;
	}
	damond_settings_init(&cfg->settings);
	r = imp_config(&im, t.root, cfg);
	tree_done(&t);
	if (r == -ENOMEM || im.oom) {
		damond_config_free(cfg);
		return -ENOMEM;
	}
	if (im.nerr) {
		damond_config_free(cfg);
		return -EINVAL;
	}

	snprintf(header, sizeof(header),
		 "damond policy converted by damondctl import-damo from %s\n(damo kdamonds spec, %s numbers); "
		 "see docs/configuration.md, \"From damo\".",
		 name, im.raw ? "--raw" : "human-readable");
	r = damo_config_to_yaml(cfg, header, &yaml);
	if (r < 0) {
		damond_config_free(cfg);
		return r;
	}
	r = config_load_string(name, yaml, strlen(yaml), &loaded, &lerrs);
	copy_loader_errors(&im, &lerrs);
	config_errors_done(&lerrs);
	if (r == 0 && !damo_config_equal(cfg, loaded, why, sizeof(why))) {
		err(&im, NULL, NULL, "internal error: the converted YAML does not load back as converted (%s)", why);
		r = -EINVAL;
	}
	damond_config_free(cfg);
	if (r < 0 || im.oom) {
		damond_config_free(loaded);
		free(yaml);
		return im.oom ? -ENOMEM : r;
	}
	*ret = loaded;
	if (ret_yaml)
		*ret_yaml = yaml;
	else
		free(yaml);
	if (ret_raw)
		*ret_raw = im.raw;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* export: struct damond_config -> damo's kdamonds (human format, exact)     */

struct exp {
	struct config_errors *errs;
	const struct damond_config *c;
	bool oom;
	size_t nerr;
};

static void exp_note(struct exp *ex, bool warning, const char *key, const char *fmt, ...) _printf_(4, 5);
static void exp_note(struct exp *ex, bool warning, const char *key, const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;

	if (!warning)
		ex->nerr++;
	if (!ex->errs)
		return;
	e = APPEND(ex->errs->v, ex->errs->n, ex->errs->cap);
	if (!e) {
		ex->oom = true;
		return;
	}
	*e = (struct config_error){ .warning = warning };
	e->file = strdup(ex->c->path ?: "policy");
	e->key = key ? strdup(key) : NULL;
	va_start(ap, fmt);
	if (vasprintf(&e->message, fmt, ap) < 0)
		e->message = NULL;
	va_end(ap);
	if (!e->file || (key && !e->key) || !e->message)
		ex->oom = true;
}

static struct json_object *jstr(struct exp *ex, const char *s)
{
	struct json_object *o = json_object_new_string(s);

	if (!o)
		ex->oom = true;
	return o;
}

static struct json_object *jfmt(struct exp *ex, const char *fmt, ...) _printf_(2, 3);
static struct json_object *jfmt(struct exp *ex, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return jstr(ex, buf);
}

static void jadd(struct exp *ex, struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || (!v && ex->oom) || json_object_object_add(o, key, v) < 0)
		ex->oom = true;
}

static void jpush(struct exp *ex, struct json_object *a, struct json_object *v)
{
	if (!a || !v || json_object_array_add(a, v) < 0)
		ex->oom = true;
}

static struct json_object *jobj(struct exp *ex)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		ex->oom = true;
	return o;
}

static struct json_object *jarr(struct exp *ex)
{
	struct json_object *o = json_object_new_array();

	if (!o)
		ex->oom = true;
	return o;
}

/* damo's text_to_bytes(): "100 MiB", "4096 B", "max". */
static struct json_object *jsize(struct exp *ex, uint64_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

	if (b == UINT64_MAX)
		return jstr(ex, "max");
	for (int i = 5; i >= 0 && b; i--) {
		uint64_t u = 1ULL << (10 * (i + 1));

		if (b % u == 0)
			return jfmt(ex, "%" PRIu64 " %s", b / u, units[i]);
	}
	return jfmt(ex, "%" PRIu64 " B", b);
}

/* damo's text_to_us()/text_to_ms(): "5 ms", "2 m", "max"; the largest unit that divides exactly. */
static struct json_object *jdur_us(struct exp *ex, uint64_t us)
{
	static const struct {
		const char *u;
		uint64_t us;
	} units[] = { { "d", 86400000000ULL }, { "h", 3600000000ULL }, { "m", 60000000ULL },
		      { "s", 1000000ULL },     { "ms", 1000ULL },      { "us", 1ULL } };

	if (us == UINT64_MAX)
		return jstr(ex, "max");
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (us % units[i].us == 0 && (us || units[i].us == 1))
			return jfmt(ex, "%" PRIu64 " %s", us / units[i].us, units[i].u);
	return jfmt(ex, "%" PRIu64 " us", us);
}

static struct json_object *jdur_ms(struct exp *ex, uint64_t ms)
{
	if (ms > UINT64_MAX / 1000 - 1)
		return jfmt(ex, "%" PRIu64 " ms", ms);
	return jdur_us(ex, ms * 1000);
}

/* permil or bp as damo's "12.5 %". */
static struct json_object *jratio(struct exp *ex, uint64_t x, uint64_t per_whole)
{
	uint64_t per_pct = per_whole / 100, whole = x / per_pct, frac = x % per_pct;

	if (!frac)
		return jfmt(ex, "%" PRIu64 " %%", whole);
	return per_pct == 10 ? jfmt(ex, "%" PRIu64 ".%" PRIu64 " %%", whole, frac)
			     : jfmt(ex, "%" PRIu64 ".%02" PRIu64 " %%", whole, frac);
}

static struct json_object *exp_scheme(struct exp *ex, const struct damos_cfg *s, const char *key)
{
	const struct damos_quota_cfg *q = &s->quota;
	struct json_object *o = jobj(ex), *ap, *m, *a, *qo, *w, *wm;
	char k[256]; /* key (< 160) + the longest suffix */

	if (s->name_given)
		exp_note(ex, true, key, "scheme name '%s' is not part of damo's format: left out", s->name);
	if (s->max_nr_snapshots) {
		snprintf(k, sizeof(k), "%s.max_nr_snapshots", key);
		exp_note(ex, true, k, "damo's kdamonds spec cannot carry max_nr_snapshots: left out");
	}
	jadd(ex, o, "action", jstr(ex, damos_action_to_string(s->action)));
	a = jarr(ex);
	for (size_t i = 0; i < s->nr_dests; i++) {
		struct json_object *d = jobj(ex);

		jadd(ex, d, "id", json_object_new_int64(s->dests[i].id));
		jadd(ex, d, "weight", json_object_new_int64(s->dests[i].weight));
		jpush(ex, a, d);
	}
	jadd(ex, o, "dests", a);
	if (s->action == DAMOS_MIGRATE_HOT || s->action == DAMOS_MIGRATE_COLD)
		jadd(ex, o, "target_nid", s->target_nid < 0 ? NULL : json_object_new_int64(s->target_nid));
	else if (s->target_nid != -1) {
		snprintf(k, sizeof(k), "%s.target_nid", key);
		exp_note(ex, true, k, "damo writes target_nid only for migrate actions: left out");
	}

	ap = jobj(ex);
	m = jobj(ex);
	jadd(ex, m, "min", jsize(ex, s->sz.min));
	jadd(ex, m, "max", jsize(ex, s->sz.max));
	jadd(ex, ap, "sz_bytes", m);
	m = jobj(ex);
	jadd(ex, m, "min", jfmt(ex, "%" PRIu64 " samples", s->nr_accesses.min));
	jadd(ex, m, "max", jfmt(ex, "%" PRIu64 " samples", s->nr_accesses.max));
	jadd(ex, ap, "nr_accesses", m);
	m = jobj(ex);
	jadd(ex, m, "min", jfmt(ex, "%" PRIu64 " aggr_intervals", s->age.min));
	jadd(ex, m, "max", jfmt(ex, "%" PRIu64 " aggr_intervals", s->age.max));
	jadd(ex, ap, "age", m);
	jadd(ex, o, "access_pattern", ap);
	jadd(ex, o, "apply_interval_us", jdur_us(ex, s->apply_interval_us));

	qo = jobj(ex);
	jadd(ex, qo, "time_ms", jdur_ms(ex, q->ms));
	jadd(ex, qo, "sz_bytes", jsize(ex, q->bytes));
	jadd(ex, qo, "reset_interval_ms", jdur_ms(ex, q->reset_interval_ms));
	jadd(ex, qo, "fail_charge_num", jfmt(ex, "%" PRIu32, q->fail_charge_num));
	jadd(ex, qo, "fail_charge_denom", jfmt(ex, "%" PRIu32, q->fail_charge_denom));
	if (q->fail_charge_denom && q->fail_charge_mode != DAMOS_FAIL_CHARGE_AUTO) {
		snprintf(k, sizeof(k), "%s.quotas.fail_charge_mode", key);
		exp_note(ex, true, k, "'%s' is damond's (damo writes the kernel's files, as 'native'): left out",
			 damos_fail_charge_mode_to_string(q->fail_charge_mode));
	}
	if (q->fail_charge_denom && q->fail_charge_ager_off) {
		snprintf(k, sizeof(k), "%s.quotas.fail_charge_ager", key);
		exp_note(ex, true, k, "'off' is damond's (damo runs no ager): left out");
	}
	a = jarr(ex);
	for (size_t i = 0; i < q->nr_goals; i++) {
		const struct damos_goal_cfg *g = &q->goals[i];
		struct json_object *go = jobj(ex);

		if (!damos_goal_metric_is_kernel(g->metric))
			exp_note(ex, false, "goals.metric",
				 "'%s' is damond's own goal metric: damo and the kernel have no equivalent",
				 damos_goal_metric_to_string(g->metric));
		jadd(ex, go, "metric", jstr(ex, damos_goal_metric_to_string(g->metric)));
		jadd(ex, go, "nid",
		     metric_is_node(g->metric) || g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP ? jfmt(ex, "%d", g->nid)
											       : NULL);
		if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US && g->path)
			exp_note(
				ex, false, "goals.path",
				"some_mem_psi_us of the cgroup '%s' is damond's: damo and the kernel measure the whole "
				"system's stall",
				g->path);
		jadd(ex, go, "memcg_path",
		     g->path && g->metric != DAMOS_GOAL_SOME_MEM_PSI_US ? jstr(ex, g->path) : NULL);
		jadd(ex, go, "target_value", jfmt(ex, "%" PRIu64, g->target_value));
		jadd(ex, go, "current_value", jfmt(ex, "%" PRIu64, g->current_value));
		jpush(ex, a, go);
	}
	jadd(ex, qo, "goals", a);
	jadd(ex, qo, "goal_tuner",
	     jstr(ex, damos_goal_tuner_to_string(q->goal_tuner_set ? q->goal_tuner : DAMOS_TUNER_CONSIST)));
	w = jobj(ex);
	jadd(ex, w, "sz_permil", jratio(ex, q->weight_sz, 1000));
	jadd(ex, w, "nr_accesses_permil", jratio(ex, q->weight_nr_accesses, 1000));
	jadd(ex, w, "age_permil", jratio(ex, q->weight_age, 1000));
	jadd(ex, qo, "weights", w);
	jadd(ex, o, "quotas", qo);

	wm = jobj(ex);
	jadd(ex, wm, "metric", jstr(ex, damos_wmark_metric_to_string(s->wmarks.metric)));
	jadd(ex, wm, "interval_us", jdur_us(ex, s->wmarks.interval_us));
	jadd(ex, wm, "high_permil", jratio(ex, s->wmarks.high, 1000));
	jadd(ex, wm, "mid_permil", jratio(ex, s->wmarks.mid, 1000));
	jadd(ex, wm, "low_permil", jratio(ex, s->wmarks.low, 1000));
	jadd(ex, o, "watermarks", wm);

	a = jarr(ex);
	for (size_t i = 0; i < s->nr_filters; i++) {
		const struct damos_filter_cfg *f = &s->filters[i];
		struct json_object *fo = jobj(ex), *r = NULL, *h = NULL;

		if (f->layer == DAMOS_FILTER_LAYER_CORE || f->layer == DAMOS_FILTER_LAYER_OPS) {
			snprintf(k, sizeof(k), "%s.%s[%zu]", key,
				 f->layer == DAMOS_FILTER_LAYER_CORE ? "core_filters" : "ops_filters", i);
			exp_note(ex, true, k,
				 "damo has one filters list (it picks the directory by type, as damond's "
				 "'filters' does)");
		}
		jadd(ex, fo, "filter_type", jstr(ex, damos_filter_type_to_string(f->type)));
		jadd(ex, fo, "matching", json_object_new_boolean(f->matching));
		jadd(ex, fo, "allow", json_object_new_boolean(f->allow));
		jadd(ex, fo, "memcg_path", f->type == DAMOS_FILTER_MEMCG ? jstr(ex, f->memcg_path ?: "") : NULL);
		if (f->type == DAMOS_FILTER_ADDR) {
			r = jobj(ex);
			jadd(ex, r, "start", jfmt(ex, "%" PRIu64, f->addr.start));
			jadd(ex, r, "end", jfmt(ex, "%" PRIu64, f->addr.end));
		}
		jadd(ex, fo, "address_range", r);
		jadd(ex, fo, "damon_target_idx", f->type == DAMOS_FILTER_TARGET ? jfmt(ex, "%d", f->target_idx) : NULL);
		if (f->type == DAMOS_FILTER_HUGEPAGE_SIZE) {
			h = jarr(ex);
			jpush(ex, h, jsize(ex, f->hugepage.min));
			jpush(ex, h, jsize(ex, f->hugepage.max));
		}
		jadd(ex, fo, "hugepage_size", h);
		jpush(ex, a, fo);
	}
	jadd(ex, o, "filters", a);
	return o;
}

static struct json_object *exp_kdamond(struct exp *ex, const struct kdamond_cfg *kd, size_t idx, const char *iomem_path)
{
	const struct damon_ctx_cfg *c = &kd->ctx;
	struct json_object *o = jobj(ex), *ctxs = jarr(ex), *co = jobj(ex), *a, *m, *g, *sc, *pe;
	char key[96], k[160];

	snprintf(key, sizeof(key), "kdamonds[%zu]", idx);
	jadd(ex, o, "refresh_ms", json_object_new_int64((int64_t)kd->refresh_ms));
	jadd(ex, co, "ops", jstr(ex, damon_ops_to_string(c->ops)));
	jadd(ex, co, "addr_unit", jsize(ex, c->addr_unit));
	a = jarr(ex);
	for (size_t i = 0; i < c->nr_targets; i++) {
		const struct damon_target_cfg *t = &c->targets[i];
		struct damon_addr_range *rv = t->regions;
		size_t rn = t->nr_regions;
		struct json_object *to = jobj(ex), *ra = jarr(ex);

		jadd(ex, to, "pid", c->ops == DAMON_OPS_PADDR ? NULL : json_object_new_int64(t->pid));
		if (c->ops != DAMON_OPS_PADDR && t->select != PROCSEL_PID) {
			snprintf(k, sizeof(k), "%s.targets[%zu].%s", key, i, procsel_kind_to_string(t->select));
			exp_note(ex, false, k,
				 "'%s: %s' names processes damond finds and follows: damo's spec needs a pid "
				 "(`damondctl status` shows the pids it matches now)",
				 procsel_kind_to_string(t->select), t->select_arg);
		}
		jadd(ex, to, "obsolete", json_object_new_boolean(false));
		if (t->regions_auto) {
			long ps = sysconf(_SC_PAGESIZE);
			int r = iomem_system_ram_units(iomem_path, ps > 0 ? (uint64_t)ps : 4096, c->addr_unit, &rv,
						       &rn);

			snprintf(k, sizeof(k), "%s.targets[%zu].regions", key, i);
			if (r < 0 || rn == 0) {
				exp_note(ex, false, k,
					 "'auto' needs the System RAM ranges of %s (%s): damo's spec has explicit "
					 "regions (run as root to read the addresses)",
					 iomem_path, r < 0 ? strerror(-r) : "no System RAM with addresses");
				rv = NULL;
				rn = 0;
			} else
				exp_note(ex, true, k, "'auto' resolved from %s: %zu System RAM range%s", iomem_path, rn,
					 rn == 1 ? "" : "s");
		} else if (t->regions_nodes) {
			snprintf(k, sizeof(k), "%s.targets[%zu].regions", key, i);
			exp_note(ex, false, k,
				 "'{node: ...}' is resolved by damond when it applies the policy: damo's spec has "
				 "explicit regions (`damondctl status --json` lists the node's ranges)");
		}
		for (size_t j = 0; j < rn; j++) {
			struct json_object *r = jobj(ex);

			jadd(ex, r, "start", jfmt(ex, "%" PRIu64, rv[j].start));
			jadd(ex, r, "end", jfmt(ex, "%" PRIu64, rv[j].end));
			jpush(ex, ra, r);
		}
		if (rv != t->regions)
			free(rv);
		jadd(ex, to, "regions", ra);
		jpush(ex, a, to);
	}
	jadd(ex, co, "targets", a);
	m = jobj(ex);
	jadd(ex, m, "sample_us", jdur_us(ex, c->sample_us));
	jadd(ex, m, "aggr_us", jdur_us(ex, c->aggr_us));
	jadd(ex, m, "ops_update_us", jdur_us(ex, c->update_us));
	g = jobj(ex);
	jadd(ex, g, "access_bp", jratio(ex, c->intervals_goal.access_bp, 10000));
	jadd(ex, g, "aggrs", jfmt(ex, "%" PRIu64, c->intervals_goal.aggrs));
	jadd(ex, g, "min_sample_us", jdur_us(ex, c->intervals_goal.min_sample_us));
	jadd(ex, g, "max_sample_us", jdur_us(ex, c->intervals_goal.max_sample_us));
	jadd(ex, m, "intervals_goal", g);
	jadd(ex, co, "intervals", m);
	m = jobj(ex);
	jadd(ex, m, "min", jfmt(ex, "%" PRIu64, c->min_nr_regions));
	jadd(ex, m, "max", jfmt(ex, "%" PRIu64, c->max_nr_regions));
	jadd(ex, co, "nr_regions", m);
	jadd(ex, co, "probes", jarr(ex));
	sc = jobj(ex);
	pe = jobj(ex);
	jadd(ex, pe, "page_table", json_object_new_boolean(true));
	jadd(ex, pe, "page_fault", json_object_new_boolean(false));
	jadd(ex, sc, "primitives_enabled", pe);
	jadd(ex, sc, "sample_filters", jarr(ex));
	jadd(ex, co, "sample_control", sc);
	jadd(ex, co, "pause", json_object_new_boolean(c->pause));
	if (c->refine.enabled) {
		snprintf(k, sizeof(k), "%s.refine", key);
		exp_note(ex, true, k, "region refinement is damond's own: left out");
	}
	a = jarr(ex);
	for (size_t i = 0; i < c->nr_schemes; i++) {
		snprintf(k, sizeof(k), "%s.schemes[%zu]", key, i);
		jpush(ex, a, exp_scheme(ex, &c->schemes[i], k));
	}
	jadd(ex, co, "schemes", a);
	jpush(ex, ctxs, co);
	jadd(ex, o, "contexts", ctxs);
	return o;
}

/* json-c tree -> YAML with libyaml (block style; strings that would read as numbers are quoted). */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~" };

	if (!*s || strspn(s, "0123456789.+-eE_:") == strlen(s))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool quote)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), !quote, 1,
					  quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE))
		return -ENOMEM;
	return yaml_emitter_emit(e, &ev) ? 0 : -EIO;
}

static int emit_json(yaml_emitter_t *e, struct json_object *o)
{
	yaml_event_t ev;
	int r = 0;

	switch (json_object_get_type(o)) {
	case json_type_object:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -EIO;
		json_object_object_foreach(o, k, v) {
			r = emit_scalar(e, k, false);
			if (r == 0)
				r = emit_json(e, v);
			if (r < 0)
				return r;
		}
		if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return -EIO;
		return 0;
	case json_type_array:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  json_object_array_length(o) ? YAML_BLOCK_SEQUENCE_STYLE
										      : YAML_FLOW_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return -EIO;
		for (size_t i = 0; i < json_object_array_length(o) && r == 0; i++)
			r = emit_json(e, json_object_array_get_idx(o, i));
		if (r < 0)
			return r;
		if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev))
			return -EIO;
		return 0;
	case json_type_string:
		return emit_scalar(e, json_object_get_string(o), needs_quotes(json_object_get_string(o)));
	case json_type_null:
		return emit_scalar(e, "null", false);
	default:
		return emit_scalar(e, json_object_get_string(o), false);
	}
}

static int write_yaml(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

static int json_to_yaml(struct json_object *o, char **ret)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r = -EIO;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	if (!yaml_emitter_initialize(&e)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	yaml_emitter_set_output(&e, write_yaml, f);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	if (yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&e, &ev) &&
	    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&e, &ev) &&
	    emit_json(&e, o) == 0 && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
	    yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) && yaml_emitter_flush(&e))
		r = 0;
	yaml_emitter_delete(&e);
	if (fclose(f) != 0 || !buf)
		r = r ?: -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

int damo_export(const struct damond_config *c, enum damo_format fmt, const char *iomem_path, char **ret,
		struct config_errors *errs)
{
	struct exp ex = { .errs = errs, .c = c };
	struct json_object *root, *kds;
	const struct damond_settings *st = &c->settings;
	bool named = false;
	int r = 0;

	root = jobj(&ex);
	kds = jarr(&ex);
	for (size_t i = 0; i < c->nr_kdamonds; i++) {
		jpush(&ex, kds, exp_kdamond(&ex, &c->kdamonds[i], i, iomem_path));
		named = true;
	}
	jadd(&ex, root, "kdamonds", kds);
	if (named)
		exp_note(&ex, true, NULL,
			 "kdamond names are not part of damo's format (damo numbers kdamonds): "
			 "import-damo names them kdamond0, kdamond1, ...");
	bool settings = st->on_exit != DAMOND_ON_EXIT_STOP ||
			st->stats_interval_us != DAMOND_DEFAULT_STATS_INTERVAL_US || st->control_group ||
			st->metrics.textfile || st->spare_kdamonds != DAMOND_DEFAULT_SPARE_KDAMONDS;
	for (int i = 0; i < _DAMON_MODULE_MAX; i++)
		settings = settings || st->allow_disable[i];
	if (settings)
		exp_note(&ex, true, "damond", "damond's own settings have no damo equivalent: left out");

	if (!ex.oom && ex.nerr == 0) {
		if (fmt == DAMO_FORMAT_JSON) {
			const char *s =
				json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
									     JSON_C_TO_STRING_NOSLASHESCAPE);

			if (!s || asprintf(ret, "%s\n", s) < 0)
				r = -ENOMEM;
		} else
			r = json_to_yaml(root, ret);
	}
	json_object_put(root);
	if (ex.oom)
		return -ENOMEM;
	if (ex.nerr)
		return -EINVAL;
	return r;
}
