/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * YAML -> struct damond_config.
 *
 * libyaml's document API loads the whole file; the tree is then walked with
 * one table of fields per YAML mapping. Every mapping is first scanned for
 * unknown, duplicate and non-string keys; then its fields are handled in
 * table order (not file order), so that values other fields depend on (ops,
 * intervals, targets) are known when the dependent fields (regions, percent
 * nr_accesses, age durations, target filters) are parsed. Errors are
 * collected, never fatal, and sorted by position at the end.
 *
 * The document is built from libyaml's events here (not yaml_parser_load()),
 * so that hostile input is cut off before work grows with it: nesting deeper
 * than CONFIG_MAX_DEPTH, more than CONFIG_MAX_NODES nodes counted after
 * alias expansion (an alias counts as many nodes as the node it names, since
 * the walk below visits it that many times), and anchors are found by hash
 * (libyaml's loader scans every anchor for every alias). The main file and
 * its drop-ins are loaded into one document, each node remembering its file;
 * the drop-ins are then merged into the main file's tree (merge_dropins()).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config.h"
#include "numa.h"
#include "damon.h"
#include "macro.h"
#include "units.h"

/* Limits: docs/configuration.md, "Limits" (keep in sync). */
#define CONFIG_MAX_FILE_SIZE (1u << 20) /* bytes: the main file and its drop-ins together */
#define CONFIG_MAX_DEPTH 64             /* nesting of sequences and mappings */
#define CONFIG_MAX_NODES 200000u        /* YAML nodes after alias expansion, all files */
#define CONFIG_MAX_VALUE_BYTES (4u << 20) /* bytes of scalars after alias expansion, all files */
#define CONFIG_MAX_MESSAGE 300          /* an error message quoting a long value is cut here */
#define CONFIG_MAX_DROPINS 64
#define MAX_KDAMONDS 64
#define MAX_TARGETS 256    /* per context */
#define MAX_REGIONS 32768  /* per target: bench/bpf lists 20,000 one-page regions; the 1 MiB file limit binds first */
#define MAX_SCHEMES 64     /* per context */
#define MAX_FILTERS 32     /* per scheme: core_filters, ops_filters and filters together */
#define MAX_GOALS DAMOS_MAX_GOALS
#define MAX_DESTS 64       /* per scheme */
#define NAME_MAX_LEN 63
#define PAGE_SZ 4096ULL

/* One configuration load: the files, the document they go into, the error list. */
struct load {
	struct config_errors *errs;
	size_t first_err;
	size_t dropped_errors, dropped_warnings;
	bool oom;

	char **files; /* files[0]: the main file, then the drop-ins */
	size_t nr_files;

	yaml_document_t doc;
	bool have_doc;
	uint16_t *node_src;  /* per node (id - 1): index into files */
	uint64_t *node_size; /* per node: node count after alias expansion */
	uint64_t *node_bytes; /* per node: scalar bytes after alias expansion */
	size_t node_cap;
	uint64_t nodes;      /* expanded node count, all files */
	uint64_t value_bytes; /* expanded scalar bytes, all files */
	size_t nr_errors;    /* errors reported (kept or not), warnings left out */
	size_t bytes;        /* bytes read, all files */
};

struct parser {
	struct load *ld;
	yaml_document_t *doc;
	struct config_errors *errs;
	size_t first_err;
	bool oom;
	char path[512];
	size_t path_len;

	struct damond_config *cfg;
	struct kdamond_cfg *kd;
	struct damon_ctx_cfg *ctx;
	struct damos_cfg *scheme;
	struct damos_goal_cfg *goal;
};

enum node_kind {
	NK_SCALAR,
	NK_SEQ,
	NK_MAP,
	NK_ANY,
};

struct field;
typedef int (*field_fn)(struct parser *p, yaml_node_t *key, yaml_node_t *val,
			const struct field *f, void *obj);

enum {
	F_REQUIRED = 1 << 0,
};

struct field {
	const char *names[4]; /* first is the canonical name, then aliases */
	enum node_kind kind;
	field_fn fn;
	size_t off;
	uint64_t min, max;
	uint64_t unit;    /* handler specific: kernel unit, ratio unit, range kind */
	const void *aux;  /* handler specific: sub-table, enum description */
	unsigned flags;
};

struct table {
	const struct field *fields;
	size_t n;
};
#define TABLE(a) { (a), ARRAY_SIZE(a) }

/* ------------------------------------------------------------------------ */
/* errors                                                                   */

void config_errors_done(struct config_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].key);
		free(e->v[i].message);
	}
	free(e->v);
	*e = (struct config_errors){};
}

void config_errors_add(struct config_errors *errs, const char *file, const struct src_pos *pos, const char *key,
		       const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;

	e = APPEND(errs->v, errs->n, errs->cap);
	if (!e)
		return;
	*e = (struct config_error){};
	e->file = strdup_or_null(file ? file : "<config>");
	e->line = pos ? pos->line : 0;
	e->column = pos ? pos->column : 0;
	e->key = strdup_or_null(key);
	va_start(ap, fmt);
	if (vasprintf(&e->message, fmt, ap) < 0)
		e->message = NULL;
	va_end(ap);
}

int config_error_format(const struct config_error *e, char **ret)
{
	char pos[64] = "";
	char *s;
	int r;

	if (e->line > 0)
		snprintf(pos, sizeof(pos), "%u:%u:", e->line, e->column);
	r = asprintf(&s, "%s:%s %s%s%s%s", e->file ? e->file : "<config>", pos,
		     e->key ? e->key : "", e->key ? ": " : "", e->warning ? "warning: " : "",
		     e->message ? e->message : "");
	if (r < 0)
		return -ENOMEM;
	/* "FILE: MESSAGE" when there is no position */
	*ret = s;
	return 0;
}

size_t config_errors_count(const struct config_errors *e, size_t first)
{
	size_t n = 0;

	for (size_t i = first; e && i < e->n; i++)
		n += !e->v[i].warning;
	return n;
}

/* Errors before warnings, then file order, then position: the order in which entries are kept. */
static int error_rank_cmp(bool w1, unsigned s1, unsigned l1, unsigned c1, const struct config_error *e)
{
	if (w1 != e->warning)
		return w1 ? 1 : -1;
	if (s1 != e->src)
		return s1 < e->src ? -1 : 1;
	if (l1 != e->line)
		return l1 < e->line ? -1 : 1;
	if (c1 != e->column)
		return c1 < e->column ? -1 : 1;
	return 0;
}

/*
 * A slot for a new entry, or NULL when it is not kept: at most
 * CONFIG_MAX_ERROR_LINES entries are kept per load, the first ones by
 * (errors first, file, position); the others are only counted. Bounded work
 * per entry, so a file with a million errors costs a million cheap calls.
 */
static struct config_error *error_slot(struct load *ld, bool warning, unsigned src, unsigned line,
				       unsigned col)
{
	struct config_errors *errs = ld->errs;
	struct config_error *e, *worst = NULL;

	if (errs->n - ld->first_err >= CONFIG_MAX_ERROR_LINES) {
		for (size_t i = ld->first_err; i < errs->n; i++)
			if (!worst || error_rank_cmp(errs->v[i].warning, errs->v[i].src, errs->v[i].line,
						     errs->v[i].column, worst) > 0)
				worst = &errs->v[i];
		if (error_rank_cmp(warning, src, line, col, worst) >= 0) {
			if (warning)
				ld->dropped_warnings++;
			else
				ld->dropped_errors++;
			return NULL;
		}
		if (worst->warning)
			ld->dropped_warnings++;
		else
			ld->dropped_errors++;
		free(worst->file);
		free(worst->key);
		free(worst->message);
		e = worst;
	} else {
		e = APPEND(errs->v, errs->n, errs->cap);
		if (!e) {
			ld->oom = true;
			return NULL;
		}
	}
	*e = (struct config_error){ .warning = warning, .src = src, .line = line, .column = col };
	return e;
}

static const char *src_file(const struct load *ld, unsigned src)
{
	return src < ld->nr_files ? ld->files[src] : "<config>";
}

/* New entry (kept or counted); message is consumed. */
static int load_add(struct load *ld, bool warning, unsigned src, unsigned line, unsigned col,
		    const char *key, char *message)
{
	struct config_error *e;

	if (!message) {
		ld->oom = true;
		return -ENOMEM;
	}
	e = error_slot(ld, warning, src, line, col);
	if (!e) {
		free(message);
		return ld->oom ? -ENOMEM : 0;
	}
	e->message = message;
	e->file = strdup(src_file(ld, src));
	e->key = key && *key ? strdup(key) : NULL;
	if (!e->file || (key && *key && !e->key)) {
		ld->oom = true;
		return -ENOMEM; /* the entry stays, config_errors_done() frees it */
	}
	return 0;
}

static int errors_add(struct config_errors *errs, const char *file, unsigned line, unsigned col,
		      const char *key, char *message /* consumed */)
{
	struct config_error *e;

	if (!message)
		return -ENOMEM;
	e = APPEND(errs->v, errs->n, errs->cap);
	if (!e) {
		free(message);
		return -ENOMEM;
	}
	*e = (struct config_error){};
	e->line = line;
	e->column = col;
	e->message = message;
	e->file = strdup(file ? file : "<config>");
	e->key = key && *key ? strdup(key) : NULL;
	if (!e->file || (key && *key && !e->key))
		return -ENOMEM; /* the entry stays, config_errors_done() frees it */
	return 0;
}

static unsigned node_line(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static unsigned node_col(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.column + 1;
}

static unsigned node_src(const struct parser *p, const yaml_node_t *n)
{
	size_t i = (size_t)(n - p->doc->nodes.start);

	return i < p->ld->node_cap ? p->ld->node_src[i] : 0;
}

static void set_pos(const struct parser *p, struct src_pos *pos, const yaml_node_t *n)
{
	pos->line = node_line(n);
	pos->column = node_col(n);
	pos->file = node_src(p, n);
}

static void perr_at(struct parser *p, bool warning, const yaml_node_t *n, const char *suffix,
		    const char *fmt, ...) _printf_(5, 6);
static void perr_at(struct parser *p, bool warning, const yaml_node_t *n, const char *suffix,
		    const char *fmt, ...)
{
	unsigned src = node_src(p, n), line = (unsigned)n->start_mark.line + 1,
		 col = (unsigned)n->start_mark.column + 1;
	char key[sizeof(p->path) + 128];
	struct config_error probe;
	char *msg;
	va_list ap;

	if (!warning)
		p->ld->nr_errors++;
	/* not kept anyway: count it without formatting anything */
	if (p->errs->n - p->first_err >= CONFIG_MAX_ERROR_LINES) {
		bool better = false;

		probe = (struct config_error){ .warning = warning, .src = src, .line = line, .column = col };
		for (size_t i = p->first_err; i < p->errs->n && !better; i++)
			better = error_rank_cmp(p->errs->v[i].warning, p->errs->v[i].src,
						p->errs->v[i].line, p->errs->v[i].column, &probe) > 0;
		if (!better) {
			if (warning)
				p->ld->dropped_warnings++;
			else
				p->ld->dropped_errors++;
			return;
		}
	}
	snprintf(key, sizeof(key), "%s%s%s", p->path, suffix && *suffix && p->path_len ? "." : "",
		 suffix ? suffix : "");
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && strlen(msg) > CONFIG_MAX_MESSAGE) /* quoting a long value */
		strcpy(msg + CONFIG_MAX_MESSAGE - 3, "...");
	if (load_add(p->ld, warning, src, line, col, key, msg) < 0)
		p->oom = true;
}

/* Error at node n, key = current path (+ "." suffix). */
#define perr(p, n, suffix, ...) perr_at((p), false, (n), (suffix), __VA_ARGS__)
/* Warning at node n: reported, the configuration is still accepted. */
#define pwarn(p, n, suffix, ...) perr_at((p), true, (n), (suffix), __VA_ARGS__)




/* ------------------------------------------------------------------------ */
/* key paths                                                                */

static size_t path_push_key(struct parser *p, const char *key)
{
	size_t old = p->path_len;
	int r;

	r = snprintf(p->path + old, sizeof(p->path) - old, "%s%s", old ? "." : "", key);
	if (r > 0)
		p->path_len = MIN(old + (size_t)r, sizeof(p->path) - 1);
	return old;
}

static size_t path_push_idx(struct parser *p, size_t i)
{
	size_t old = p->path_len;
	int r;

	r = snprintf(p->path + old, sizeof(p->path) - old, "[%zu]", i);
	if (r > 0)
		p->path_len = MIN(old + (size_t)r, sizeof(p->path) - 1);
	return old;
}

static void path_pop(struct parser *p, size_t len)
{
	p->path_len = len;
	p->path[len] = '\0';
}

/* ------------------------------------------------------------------------ */
/* YAML node helpers                                                        */

static yaml_node_t *node_get(struct parser *p, int idx)
{
	return yaml_document_get_node(p->doc, idx);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

static const char *kind_name(const yaml_node_t *n)
{
	if (is_null(n))
		return "an empty value";
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct parser *p, const yaml_node_t *n, size_t i)
{
	return node_get(p, n->data.sequence.items.start[i]);
}

/* "a|b|c" contains name? */
static bool name_in(const char *names, const char *name)
{
	size_t l = strlen(name);

	for (const char *s = names; s && *s;) {
		const char *e = strchrnul(s, '|');

		if ((size_t)(e - s) == l && strneq(s, name, l))
			return true;
		s = *e ? e + 1 : e;
	}
	return false;
}

/* Value node of the first key of map that is one of names ("a|b"); key name in *ret_key. */
static yaml_node_t *map_find(struct parser *p, const yaml_node_t *map, const char *names,
			     const char **ret_key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		const char *k = scalar(node_get(p, pr->key));

		if (k && name_in(names, k)) {
			if (ret_key)
				*ret_key = k;
			return node_get(p, pr->value);
		}
	}
	return NULL;
}

/* Like map_find(), but a key with an empty value counts as absent. */
static yaml_node_t *map_find_set(struct parser *p, const yaml_node_t *map, const char *names,
				 const char **ret_key)
{
	yaml_node_t *n = map_find(p, map, names, ret_key);

	return n && !is_null(n) ? n : NULL;
}

static bool field_has_name(const struct field *f, const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(f->names) && f->names[i]; i++)
		if (streq(f->names[i], k))
			return true;
	return false;
}

static const struct field *tables_lookup(const struct table *tables, size_t nt, const char *k)
{
	for (size_t t = 0; t < nt; t++)
		for (size_t i = 0; i < tables[t].n; i++)
			if (field_has_name(&tables[t].fields[i], k))
				return &tables[t].fields[i];
	return NULL;
}

/*
 * Unknown keys, duplicate keys (also via aliases) and non-string keys. Linear:
 * the first key of each field is looked up among the fields seen so far (a
 * handful), never among all earlier keys.
 */
static int prescan(struct parser *p, yaml_node_t *map, const struct table *tables, size_t nt)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	struct {
		const struct field *f;
		yaml_node_t *key;
	} seen[64];
	size_t nseen = 0;

	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *pr = &map->data.mapping.pairs.start[i];
		yaml_node_t *kn = node_get(p, pr->key);
		const char *k = scalar(kn);
		const struct field *f;
		size_t j;

		if (!k || is_null(kn)) {
			perr(p, kn, NULL, "mapping keys must be strings, got %s", kind_name(kn));
			continue;
		}
		f = tables_lookup(tables, nt, k);
		if (!f) {
			perr(p, kn, k, "unknown key '%s'", k);
			continue;
		}
		for (j = 0; j < nseen && seen[j].f != f; j++)
			;
		if (j < nseen) {
			const char *k0 = scalar(seen[j].key);

			if (streq(k0, k))
				perr(p, kn, k, "duplicate key (first given at %u:%u)",
				     node_line(seen[j].key), node_col(seen[j].key));
			else
				perr(p, kn, k, "duplicate key: same as '%s' given at %u:%u", k0,
				     node_line(seen[j].key), node_col(seen[j].key));
		} else if (nseen < ARRAY_SIZE(seen)) {
			seen[nseen].f = f;
			seen[nseen].key = kn;
			nseen++;
		}
	}
	return p->oom ? -ENOMEM : 0;
}

static bool kind_ok(const yaml_node_t *n, enum node_kind kind)
{
	switch (kind) {
	case NK_SCALAR:
		return n->type == YAML_SCALAR_NODE;
	case NK_SEQ:
		return n->type == YAML_SEQUENCE_NODE;
	case NK_MAP:
		return n->type == YAML_MAPPING_NODE;
	case NK_ANY:
		return true;
	}
	return false;
}

static const char *kind_want(enum node_kind kind)
{
	switch (kind) {
	case NK_SCALAR:
		return "a scalar value";
	case NK_SEQ:
		return "a sequence";
	case NK_MAP:
		return "a mapping";
	default:
		return "a value";
	}
}

/* Run the handlers of table t for the keys present in map, in table order. */
static int parse_fields(struct parser *p, yaml_node_t *map, const struct table *t, void *obj)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->fields[i];
		yaml_node_t *kn = NULL, *vn = NULL;
		size_t old;
		int r;

		for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
		     pr < map->data.mapping.pairs.top; pr++) {
			const char *k = scalar(node_get(p, pr->key));

			if (k && field_has_name(f, k)) {
				kn = node_get(p, pr->key);
				vn = node_get(p, pr->value);
				break;
			}
		}
		if (!kn) {
			if (f->flags & F_REQUIRED)
				perr(p, map, f->names[0], "missing required key '%s'", f->names[0]);
			continue;
		}

		/* "key:" with nothing after it: an empty mapping or sequence keeps the defaults */
		if ((f->kind == NK_MAP || f->kind == NK_SEQ) && is_null(vn))
			continue;

		old = path_push_key(p, scalar(kn));
		if (!kind_ok(vn, f->kind))
			perr(p, vn, NULL, "expected %s, got %s", kind_want(f->kind), kind_name(vn));
		else if (f->kind == NK_SCALAR && is_null(vn))
			perr(p, vn, NULL, "missing value");
		else {
			r = f->fn(p, kn, vn, f, obj);
			if (r < 0) {
				path_pop(p, old);
				return r;
			}
		}
		path_pop(p, old);
		if (p->oom)
			return -ENOMEM;
	}
	return 0;
}

static int parse_mapping(struct parser *p, yaml_node_t *map, const struct table *t, void *obj)
{
	int r;

	r = prescan(p, map, t, 1);
	if (r < 0)
		return r;
	return parse_fields(p, map, t, obj);
}

#define FIELD_PTR(obj, f, type) ((type *)(void *)((char *)(obj) + (f)->off))

static bool str_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && streq(s + ls - lx, suffix);
}

static bool valid_name(const char *s)
{
	size_t l = strlen(s);

	if (l == 0 || l > NAME_MAX_LEN)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == l;
}

/* ------------------------------------------------------------------------ */
/* generic handlers                                                         */

static void range_error(struct parser *p, yaml_node_t *n, const char *s, const struct field *f)
{
	if (f->max == UINT64_MAX)
		perr(p, n, NULL, "value '%s' out of range (minimum %" PRIu64 ")", s, f->min);
	else
		perr(p, n, NULL, "value '%s' out of range [%" PRIu64 ", %" PRIu64 "]", s, f->min,
		     f->max);
}

static int store_u(const struct field *f, void *obj, uint64_t v)
{
	/* f->unit unused here; the storage width is encoded in aux */
	if (f->aux == (const void *)32)
		*FIELD_PTR(obj, f, uint32_t) = (uint32_t)v;
	else
		*FIELD_PTR(obj, f, uint64_t) = v;
	return 0;
}
#define U32 ((const void *)32)

static int h_uint(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		  void *obj)
{
	const char *s = scalar(v);
	uint64_t x;
	int r;

	r = parse_uint(s, 0, UINT64_MAX, &x);
	if (r == -EINVAL) {
		perr(p, v, NULL, "invalid number '%s'", s);
		return 0;
	}
	if (r < 0 || x < f->min || x > f->max) {
		range_error(p, v, s, f);
		return 0;
	}
	return store_u(f, obj, x);
}

static int h_int(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		 void *obj)
{
	const char *s = scalar(v);
	int64_t x;
	int r;

	r = parse_int(s, (int64_t)f->min, (int64_t)f->max, &x);
	if (r == -EINVAL)
		perr(p, v, NULL, "invalid integer '%s'", s);
	else if (r < 0)
		perr(p, v, NULL, "value '%s' out of range [%" PRId64 ", %" PRId64 "]", s,
		     (int64_t)f->min, (int64_t)f->max);
	else
		*FIELD_PTR(obj, f, int) = (int)x;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "y" };
	static const char *const no[] = { "false", "no", "off", "n" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int h_bool(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		  void *obj)
{
	bool b;

	if (parse_bool(scalar(v), &b) < 0)
		perr(p, v, NULL, "invalid boolean '%s' (expected true or false)", scalar(v));
	else
		*FIELD_PTR(obj, f, bool) = b;
	return 0;
}

static int h_str(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		 void *obj)
{
	char **dst = FIELD_PTR(obj, f, char *);
	char *s;

	if (!*scalar(v)) {
		perr(p, v, NULL, "must not be empty");
		return 0;
	}
	s = strdup(scalar(v));
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int h_size(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		  void *obj)
{
	const char *s = scalar(v);
	uint64_t x;
	int r;

	r = parse_size(s, &x);
	if (r == -EINVAL)
		perr(p, v, NULL, "invalid size '%s' (expected e.g. 4096, 64K, 100M, 1.5G or max)", s);
	else if (r < 0 || x < f->min || x > f->max)
		range_error(p, v, s, f);
	else
		store_u(f, obj, x);
	return 0;
}

/*
 * Duration into f->unit (1 = us, 1000 = ms). A bare number is accepted when
 * the key names its unit ("sample_us: 5000", "time_ms: 10").
 */
static int parse_duration_for_key(const char *key, const char *s, uint64_t unit, uint64_t *ret,
				  const char **ret_err)
{
	uint64_t us, x;
	int r;

	*ret_err = NULL;
	r = parse_uint(s, 0, UINT64_MAX, &x);
	if (r == 0 && key && (str_ends_with(key, "_us") || str_ends_with(key, "_ms"))) {
		uint64_t key_unit = str_ends_with(key, "_ms") ? 1000 : 1;

		if (x > UINT64_MAX / key_unit)
			return -ERANGE;
		us = x * key_unit;
	} else {
		r = parse_duration_us(s, &us);
		if (r == -EINVAL) {
			uint64_t dummy;

			*ret_err = parse_uint(s, 0, UINT64_MAX, &dummy) == 0
					   ? "a unit is required (e.g. 100us, 5ms, 2s, 1m)"
					   : NULL;
			return r;
		}
		if (r < 0)
			return r;
	}
	if (us == UINT64_MAX) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (us % unit) {
		*ret_err = "must be a whole number of milliseconds";
		return -EINVAL;
	}
	*ret = us / unit;
	return 0;
}

static int h_duration(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		      void *obj)
{
	const char *s = scalar(v), *why;
	uint64_t x;
	int r;

	r = parse_duration_for_key(scalar(k), s, f->unit, &x, &why);
	if (r == -EINVAL) {
		if (why)
			perr(p, v, NULL, "invalid duration '%s': %s", s, why);
		else
			perr(p, v, NULL, "invalid duration '%s' (expected e.g. 100us, 5ms, 2s, 1m)",
			     s);
	} else if (r < 0 || x < f->min || x > f->max) {
		char a[32], b[32];

		if (r == 0 && x == 0 && f->min == 1)
			perr(p, v, NULL, "duration must be greater than 0");
		else if (f->max >= UINT64_MAX - 1)
			perr(p, v, NULL, "duration '%s' out of range (minimum %s)", s,
			     format_duration_us(a, f->min * f->unit));
		else
			perr(p, v, NULL, "duration '%s' out of range [%s, %s]", s,
			     format_duration_us(a, f->min * f->unit),
			     format_duration_us(b, f->max * f->unit));
	} else
		store_u(f, obj, x);
	return 0;
}

/* "40%" or a bare number in the field's unit; f->unit = basis points per unit (1: bp, 10: permil). */
static int parse_ratio(const char *s, uint64_t unit, uint64_t *ret)
{
	uint64_t bp;
	int r;

	if (strchr(s, '%')) {
		r = parse_percent_bp(s, &bp);
		if (r < 0)
			return r;
		if (bp % unit)
			return -EINVAL;
		*ret = bp / unit;
		return 0;
	}
	return parse_uint(s, 0, UINT64_MAX, ret);
}

static int h_ratio(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		   void *obj)
{
	const char *s = scalar(v);
	uint64_t x;
	int r;

	r = parse_ratio(s, f->unit, &x);
	if (r == -EINVAL)
		perr(p, v, NULL, "invalid value '%s' (expected a percentage like 40%% or a number of %s)",
		     s, f->unit == 10 ? "permil" : "basis points");
	else if (r < 0 || x < f->min || x > f->max)
		range_error(p, v, s, f);
	else
		store_u(f, obj, x);
	return 0;
}

struct enum_desc {
	int (*from)(const char *s);
	const char *(*to)(int i);
	int n;
};

#define ENUM_DESC(name, type, max)                                                                 \
	static int name##_from_adapter(const char *s)                                              \
	{                                                                                          \
		return (int)name##_from_string(s);                                                 \
	}                                                                                          \
	static const char *name##_to_adapter(int i)                                                \
	{                                                                                          \
		return name##_to_string((type)i);                                                  \
	}                                                                                          \
	static const struct enum_desc name##_desc = { name##_from_adapter, name##_to_adapter, max }

ENUM_DESC(damon_ops, enum damon_ops, _DAMON_OPS_MAX);
ENUM_DESC(damos_action, enum damos_action, _DAMOS_ACTION_MAX);
ENUM_DESC(damos_goal_metric, enum damos_goal_metric, _DAMOS_GOAL_METRIC_MAX);
ENUM_DESC(damos_goal_tuner, enum damos_goal_tuner, _DAMOS_TUNER_MAX);
ENUM_DESC(damos_wmark_metric, enum damos_wmark_metric, _DAMOS_WMARK_MAX);
ENUM_DESC(damos_filter_type, enum damos_filter_type, _DAMOS_FILTER_TYPE_MAX);
ENUM_DESC(damos_fail_charge_mode, enum damos_fail_charge_mode, _DAMOS_FAIL_CHARGE_MAX);
ENUM_DESC(damond_on_exit, enum damond_on_exit, _DAMOND_ON_EXIT_MAX);
ENUM_DESC(damon_module, enum damon_module, _DAMON_MODULE_MAX);

/* Returns the value or -EINVAL after reporting the error. */
static int enum_parse(struct parser *p, yaml_node_t *v, const struct enum_desc *d, int skip)
{
	const char *s = scalar(v);
	char list[512] = "";
	size_t l = 0;
	int x;

	x = d->from(s);
	if (x >= 0 && x != skip)
		return x;
	for (int i = 0; i < d->n; i++) {
		if (i == skip)
			continue;
		int r = snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", d->to(i));
		if (r > 0)
			l = MIN(l + (size_t)r, sizeof(list) - 1);
	}
	perr(p, v, NULL, "invalid value '%s' (expected one of: %s)", s, list);
	return -EINVAL;
}

static int h_enum(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		  void *obj)
{
	int x = enum_parse(p, v, f->aux, -1);

	if (x >= 0)
		*FIELD_PTR(obj, f, int) = x;
	return 0;
}

static int h_map(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		 void *obj)
{
	/* the sub-table's offsets are relative to obj + f->off */
	return parse_mapping(p, v, f->aux, (char *)obj + f->off);
}

/* Address or size: "0x7f0000000000", "4096", "4G". */
static int parse_addr(struct parser *p, yaml_node_t *v, uint64_t *ret)
{
	const char *s = scalar(v);
	int r;

	if (!s || is_null(v)) {
		perr(p, v, NULL, "expected an address, got %s", kind_name(v));
		return -EINVAL;
	}
	r = parse_uint(s, 0, UINT64_MAX, ret);
	if (r == -EINVAL && !streq(s, "max") && !streq(s, "min"))
		r = parse_size(s, ret);
	if (r < 0) {
		perr(p, v, NULL, "invalid address '%s' (expected e.g. 0x100000000 or 4G)", s);
		return r;
	}
	return 0;
}

static const struct field addr_range_fields[] = {
	{ { "start" }, NK_SCALAR, NULL, 0, 0, 0, 0, NULL, F_REQUIRED },
	{ { "end" }, NK_SCALAR, NULL, 0, 0, 0, 0, NULL, F_REQUIRED },
};
static const struct table addr_range_table = TABLE(addr_range_fields);

/* {start, end}; returns 0 when both were parsed. */
static int parse_addr_range(struct parser *p, yaml_node_t *map, struct damon_addr_range *ret)
{
	struct damon_addr_range a = {};
	yaml_node_t *sn, *en;
	bool ok = true;
	size_t old;
	int r;

	r = prescan(p, map, &addr_range_table, 1);
	if (r < 0)
		return r;
	sn = map_find(p, map, "start", NULL);
	en = map_find(p, map, "end", NULL);
	if (!sn) {
		perr(p, map, "start", "missing required key 'start'");
		ok = false;
	} else {
		old = path_push_key(p, "start");
		ok = parse_addr(p, sn, &a.start) == 0 && ok;
		path_pop(p, old);
	}
	if (!en) {
		perr(p, map, "end", "missing required key 'end'");
		ok = false;
	} else {
		old = path_push_key(p, "end");
		ok = parse_addr(p, en, &a.end) == 0 && ok;
		path_pop(p, old);
	}
	if (!ok)
		return -EINVAL;
	if (a.start >= a.end) {
		perr(p, map, NULL, "start (0x%" PRIx64 ") must be below end (0x%" PRIx64 ")", a.start,
		     a.end);
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* access pattern ranges                                                    */

enum range_kind {
	RANGE_SIZE,
	RANGE_NR_ACCESSES,
	RANGE_AGE,
	RANGE_COUNT,
};

static const struct field minmax_fields[] = {
	{ { "min" }, NK_SCALAR, NULL, 0, 0, 0, 0, NULL, 0 },
	{ { "max" }, NK_SCALAR, NULL, 0, 0, 0, 0, NULL, 0 },
};
static const struct table minmax_table = TABLE(minmax_fields);

static int range_elem(struct parser *p, yaml_node_t *v, enum range_kind kind, uint64_t *ret)
{
	const char *s = scalar(v);
	uint64_t x, bp;
	int r;

	if (!s || is_null(v)) {
		perr(p, v, NULL, "expected a scalar value, got %s", kind_name(v));
		return -EINVAL;
	}

	switch (kind) {
	case RANGE_SIZE:
		r = parse_size(s, &x);
		if (r < 0) {
			perr(p, v, NULL, "invalid size '%s' (expected e.g. 4096, 64K, 100M, 1.5G or max)",
			     s);
			return r;
		}
		break;

	case RANGE_COUNT:
		if (streq(s, "max"))
			x = UINT64_MAX;
		else if (parse_uint(s, 0, UINT64_MAX, &x) < 0) {
			perr(p, v, NULL, "invalid number '%s'", s);
			return -EINVAL;
		}
		break;

	case RANGE_NR_ACCESSES:
		if (streq(s, "min"))
			x = 0;
		else if (streq(s, "max"))
			x = DAMON_UINT_MAX;
		else if (strchr(s, '%')) {
			const struct damon_ctx_cfg *c = p->ctx;

			if (parse_percent_bp(s, &bp) < 0) {
				perr(p, v, NULL, "invalid percentage '%s'", s);
				return -EINVAL;
			}
			if (bp > 10000) {
				perr(p, v, NULL, "percentage '%s' exceeds 100%%", s);
				return -EINVAL;
			}
			/* percent of the maximum count aggr_us/sample_us; an error on the
			 * intervals themselves is reported there */
			if (!c || c->sample_us == 0 || c->sample_us > c->aggr_us)
				return -EINVAL;
			x = bp * (c->aggr_us / c->sample_us) / 10000;
		} else if (parse_uint(s, 0, UINT64_MAX, &x) < 0) {
			perr(p, v, NULL,
			     "invalid access count '%s' (expected a number of samples, a percentage, min or max)",
			     s);
			return -EINVAL;
		}
		if (x > DAMON_UINT_MAX) {
			perr(p, v, NULL, "access count %" PRIu64 " exceeds %llu", x, DAMON_UINT_MAX);
			return -ERANGE;
		}
		break;

	case RANGE_AGE:
		if (streq(s, "min"))
			x = 0;
		else if (streq(s, "max"))
			x = DAMON_UINT_MAX;
		else if (parse_uint(s, 0, UINT64_MAX, &x) == 0)
			; /* aggregation intervals */
		else {
			uint64_t us;

			r = parse_duration_us(s, &us);
			if (r == -ERANGE) {
				perr(p, v, NULL, "age '%s' is too large", s);
				return r;
			}
			if (r < 0) {
				perr(p, v, NULL,
				     "invalid age '%s' (expected a duration like 30s or a number of aggregation intervals)",
				     s);
				return -EINVAL;
			}
			if (!p->ctx || p->ctx->aggr_us == 0)
				return -EINVAL;
			x = us / p->ctx->aggr_us;
		}
		if (x > DAMON_UINT_MAX) {
			perr(p, v, NULL, "age of %" PRIu64 " aggregation intervals exceeds %llu", x,
			     DAMON_UINT_MAX);
			return -ERANGE;
		}
		break;
	default:
		return -EINVAL;
	}
	*ret = x;
	return 0;
}

static int h_range(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		   void *obj)
{
	struct damon_range *rg = FIELD_PTR(obj, f, struct damon_range);
	struct damon_range nr = *rg;
	yaml_node_t *mn, *mx;
	bool ok = true;
	size_t old;
	int r;

	r = prescan(p, v, &minmax_table, 1);
	if (r < 0)
		return r;
	mn = map_find(p, v, "min", NULL);
	mx = map_find(p, v, "max", NULL);
	if (mn) {
		old = path_push_key(p, "min");
		ok = range_elem(p, mn, (enum range_kind)f->unit, &nr.min) == 0 && ok;
		path_pop(p, old);
	}
	if (mx) {
		old = path_push_key(p, "max");
		ok = range_elem(p, mx, (enum range_kind)f->unit, &nr.max) == 0 && ok;
		path_pop(p, old);
	}
	if (!ok)
		return 0;
	if (nr.min > nr.max) {
		perr(p, v, NULL, "min (%" PRIu64 ") is greater than max (%" PRIu64 ")", nr.min,
		     nr.max);
		return 0;
	}
	*rg = nr;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* settings                                                                 */

static int h_modules(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	struct damond_settings *s = obj;

	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		int x;

		if (it->type != YAML_SCALAR_NODE || is_null(it))
			perr(p, it, NULL, "expected a module name, got %s", kind_name(it));
		else if ((x = enum_parse(p, it, &damon_module_desc, -1)) >= 0)
			s->allow_disable[x] = true;
		path_pop(p, old);
	}
	return 0;
}

static int h_group(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		   void *obj)
{
	const char *s = scalar(v);
	size_t l = strlen(s);

	if (l == 0 || l > 64 || s[0] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != l) {
		perr(p, v, NULL, "invalid group name '%s'", s);
		return 0;
	}
	return h_str(p, k, v, f, obj);
}

/*
 * The node_exporter textfile: an absolute path to a *.prom file (the
 * textfile collector reads nothing else), in a directory damond writes a
 * temporary file into before renaming it over (so not in /proc or /sys).
 */
static int h_textfile(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		      void *obj)
{
	const char *s = scalar(v);
	const char *base = strrchr(s, '/');
	size_t l = strlen(s);

	if (s[0] != '/') {
		perr(p, v, NULL, "'%s' is not an absolute path", s);
		return 0;
	}
	if (l >= PATH_MAX - 16) {
		perr(p, v, NULL, "path too long (%zu bytes)", l);
		return 0;
	}
	if (l < 6 || !streq(s + l - 5, ".prom") || base[1] == '.') {
		perr(p, v, NULL, "'%s': node_exporter's textfile collector reads only NAME.prom files "
			"(not hidden ones)", s);
		return 0;
	}
	if (strneq(s, "/proc/", 6) || strneq(s, "/sys/", 5) || strstr(s, "/../") || strstr(s, "/./") ||
	    strstr(s, "//")) {
		perr(p, v, NULL, "'%s' is not a plain path outside /proc and /sys", s);
		return 0;
	}
	return h_str(p, k, v, f, obj);
}

static const struct field metrics_fields[] = {
	{ { "textfile" }, NK_SCALAR, h_textfile, offsetof(struct damond_settings, metrics.textfile), 0, 0,
	  0, NULL, 0 },
};
static const struct table metrics_table = TABLE(metrics_fields);

/* the table keeps its layout (it predates .clang-format) */
/* clang-format off */
static const struct field settings_fields[] = {
	{ { "on_exit" }, NK_SCALAR, h_enum, offsetof(struct damond_settings, on_exit), 0, 0, 0,
	  &damond_on_exit_desc, 0 },
	{ { "stats_interval", "stats_interval_us" }, NK_SCALAR, h_duration,
	  offsetof(struct damond_settings, stats_interval_us), 1000, UINT64_MAX - 1, 1, NULL, 0 },
	{ { "follow_interval", "follow_interval_us" }, NK_SCALAR, h_duration,
	  offsetof(struct damond_settings, follow_interval_us), 100000, 3600000000ULL, 1, NULL, 0 },
	{ { "allow_disable_modules" }, NK_SEQ, h_modules, 0, 0, 0, 0, NULL, 0 },
	{ { "control_group" }, NK_SCALAR, h_group, offsetof(struct damond_settings, control_group),
	  0, 0, 0, NULL, 0 },
	{ { "metrics" }, NK_MAP, h_map, 0, 0, 0, 0, &metrics_table, 0 },
	{ { "spare_kdamonds" }, NK_SCALAR, h_uint, offsetof(struct damond_settings, spare_kdamonds), 0,
	  DAMOND_MAX_SPARE_KDAMONDS, 0, NULL, 0 },
};
/* clang-format on */
static const struct table settings_table = TABLE(settings_fields);

/* ------------------------------------------------------------------------ */
/* targets                                                                  */

/* `regions: {node: N}` or `{node: [N, M]}`: the nodes' memory, resolved at apply time (numa.h) */
static int regions_nodes(struct parser *p, yaml_node_t *v, struct damon_target_cfg *t, const struct damon_ctx_cfg *c)
{
	yaml_node_t *n = NULL;
	uint64_t mask = 0;
	size_t nr;

	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = node_get(p, pr->key);
		const char *k = scalar(kn);

		if (k && streq(k, "node") && !n)
			n = node_get(p, pr->value);
		else if (k && streq(k, "node"))
			perr(p, kn, k, "duplicate key 'node'");
		else
			perr(p, kn, k, "unknown key '%s' (a region mapping takes only 'node')", k ? k : "");
	}
	if (!n || is_null(n)) {
		perr(p, v, "node", "missing required key 'node' (a NUMA node id or a list of them)");
		return 0;
	}
	if (c->ops != DAMON_OPS_PADDR) {
		perr(p, v, NULL, "'regions: {node: ...}' is only valid for paddr (a node is physical memory)");
		return 0;
	}
	nr = n->type == YAML_SEQUENCE_NODE ? seq_len(n) : 1;
	if (n->type != YAML_SEQUENCE_NODE && n->type != YAML_SCALAR_NODE) {
		perr(p, n, NULL, "expected a NUMA node id or a sequence of them, got %s", kind_name(n));
		return 0;
	}
	if (nr == 0) {
		perr(p, n, NULL, "expected at least one NUMA node id");
		return 0;
	}
	for (size_t i = 0; i < nr; i++) {
		yaml_node_t *it = n->type == YAML_SEQUENCE_NODE ? seq_item(p, n, i) : n;
		const char *s = scalar(it);
		uint64_t x;
		int r;

		if (it->type != YAML_SCALAR_NODE || is_null(it)) {
			perr(p, it, NULL, "expected a NUMA node id, got %s", kind_name(it));
			continue;
		}
		r = parse_uint(s, 0, NUMA_MAX_NODES - 1, &x);
		if (r == -EINVAL)
			perr(p, it, NULL, "invalid NUMA node id '%s'", s);
		else if (r < 0)
			perr(p, it, NULL, "NUMA node id '%s' out of range [0, %d]", s, NUMA_MAX_NODES - 1);
		else if (mask & (UINT64_C(1) << x))
			perr(p, it, NULL, "NUMA node %" PRIu64 " listed twice", x);
		else
			mask |= UINT64_C(1) << x;
	}
	t->regions_auto = false;
	t->regions_nodes = mask;
	return 0;
}

static int h_regions(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	struct damon_target_cfg *t = obj;
	const struct damon_ctx_cfg *c = p->ctx;

	if (v->type == YAML_MAPPING_NODE)
		return regions_nodes(p, v, t, c);
	if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
		if (!streq(scalar(v), "auto")) {
			perr(p, v, NULL, "expected 'auto', {node: N} or a sequence of {start, end}, got '%s'",
			     scalar(v));
			return 0;
		}
		if (c->ops != DAMON_OPS_PADDR) {
			perr(p, v, NULL, "'regions: auto' is only valid for paddr");
			return 0;
		}
		t->regions_auto = true;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		perr(p, v, NULL, "expected 'auto', {node: N} or a sequence of {start, end}, got %s", kind_name(v));
		return 0;
	}
	t->regions_auto = false;
	t->regions_nodes = 0;
	if (seq_len(v) > MAX_REGIONS) {
		perr(p, v, NULL, "too many regions: %zu (at most %d per target)", seq_len(v),
		     MAX_REGIONS);
		return 0;
	}
	if (seq_len(v) == 0 && c->ops != DAMON_OPS_VADDR) {
		perr(p, v, NULL, "%s targets need at least one region",
		     damon_ops_to_string(c->ops));
		return 0;
	}

	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct damon_addr_range a;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping {start, end}, got %s", kind_name(it));
			goto next;
		}
		r = parse_addr_range(p, it, &a);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			goto next;
		if (c->addr_unit == 1 && (a.start % PAGE_SZ || a.end % PAGE_SZ)) {
			perr(p, it, NULL,
			     "region 0x%" PRIx64 "-0x%" PRIx64 " is not aligned to the page size (4096)",
			     a.start, a.end);
			goto next;
		}
		if (t->nr_regions > 0 && a.start < t->regions[t->nr_regions - 1].end) {
			perr(p, it, NULL,
			     "region 0x%" PRIx64 "-0x%" PRIx64
			     " overlaps or precedes the previous region (regions must be sorted and disjoint)",
			     a.start, a.end);
			goto next;
		}
		{
			/* no capacity field in the model: grow one by one (configs are small) */
			struct damon_addr_range *n = reallocarray(t->regions, t->nr_regions + 1,
								  sizeof(*n));
			if (!n)
				return -ENOMEM;
			t->regions = n;
			t->regions[t->nr_regions++] = a;
		}
	next:
		path_pop(p, old);
		if (p->oom)
			return -ENOMEM;
	}
	return 0;
}

/* Append one zeroed element to an array without a capacity field. */
static void *array_push(void *arrayp, size_t *n, size_t size)
{
	void **array = arrayp;
	char *q;

	q = reallocarray(*array, *n + 1, size);
	if (!q)
		return NULL;
	*array = q;
	memset(q + *n * size, 0, size);
	return q + (*n)++ * size;
}

/* pidfile: / comm: / cgroup: / unit: (the field's unit is the procsel kind) */
static int h_select(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f, void *obj)
{
	struct damon_target_cfg *t = obj;
	const char *s = scalar(v);

	if (!*s) {
		perr(p, v, NULL, "must not be empty");
		return 0;
	}
	if (strlen(s) >= PROCSEL_ARG_MAX) {
		perr(p, v, NULL, "too long: %zu characters (at most %d)", strlen(s), PROCSEL_ARG_MAX - 1);
		return 0;
	}
	if (f->unit == PROCSEL_PIDFILE && s[0] != '/') {
		perr(p, v, NULL, "a pidfile path must be absolute, got '%s'", s);
		return 0;
	}
	if (f->unit == PROCSEL_CGROUP && strstr(s, "..")) {
		perr(p, v, NULL, "a cgroup path must not contain '..', got '%s'", s);
		return 0;
	}
	if (f->unit == PROCSEL_UNIT && strchr(s, '/')) {
		perr(p, v, NULL, "a unit name has no '/' (a cgroup path goes in 'cgroup:'), got '%s'", s);
		return 0;
	}
	t->select = (uint8_t)f->unit;
	snprintf(t->select_arg, sizeof(t->select_arg), "%s", s);
	return 0;
}

static const struct field target_fields[] = {
	{ { "pid" }, NK_SCALAR, h_int, offsetof(struct damon_target_cfg, pid), 1, INT32_MAX, 0, NULL, 0 },
	{ { "pidfile" }, NK_SCALAR, h_select, 0, 0, 0, PROCSEL_PIDFILE, NULL, 0 },
	{ { "comm" }, NK_SCALAR, h_select, 0, 0, 0, PROCSEL_COMM, NULL, 0 },
	{ { "cgroup" }, NK_SCALAR, h_select, 0, 0, 0, PROCSEL_CGROUP, NULL, 0 },
	{ { "unit" }, NK_SCALAR, h_select, 0, 0, 0, PROCSEL_UNIT, NULL, 0 },
	{ { "regions" }, NK_ANY, h_regions, 0, 0, 0, 0, NULL, 0 },
};
static const struct table target_table = TABLE(target_fields);

static int parse_target(struct parser *p, yaml_node_t *v, struct damon_target_cfg *t)
{
	const struct damon_ctx_cfg *c = p->ctx;
	yaml_node_t *pid, *regions;
	const char *which = "pid";
	int r;

	set_pos(p, &t->pos, v);
	r = parse_mapping(p, v, &target_table, t);
	if (r < 0)
		return r;

	pid = map_find(p, v, "pid|pidfile|comm|cgroup|unit", &which);
	regions = map_find(p, v, "regions", NULL);
	/* one way to name the process(es) */
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pid && pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = node_get(p, pr->key);
		const char *k = scalar(kn);

		if (k && !streq(k, which) && name_in("pid|pidfile|comm|cgroup|unit", k))
			perr(p, kn, k, "'%s' and '%s' both name the target's processes: give one", which, k);
	}
	switch (c->ops) {
	case DAMON_OPS_PADDR:
		if (pid)
			perr(p, pid, which, "%s is only valid for vaddr and fvaddr targets", which);
		if (!regions)
			t->regions_auto = true;
		break;
	case DAMON_OPS_VADDR:
	case DAMON_OPS_FVADDR:
		if (!pid)
			perr(p, v, "pid",
			     "missing required key 'pid' (or pidfile, comm, cgroup, unit: %s targets are processes)",
			     damon_ops_to_string(c->ops));
		if (c->ops == DAMON_OPS_FVADDR && !regions)
			perr(p, v, "regions", "missing required key 'regions' (fvaddr targets need fixed regions)");
		break;
	default:
		break;
	}
	return p->oom ? -ENOMEM : 0;
}

static int h_targets(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	struct damon_ctx_cfg *c = obj;

	if (seq_len(v) > MAX_TARGETS) {
		perr(p, v, NULL, "too many targets: %zu (at most %d)", seq_len(v), MAX_TARGETS);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct damon_target_cfg *t;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		t = array_push(&c->targets, &c->nr_targets, sizeof(*t));
		if (!t)
			return -ENOMEM;
		r = parse_target(p, it, t);
		path_pop(p, old);
		if (r < 0)
			return r;
	}
	if (c->ops == DAMON_OPS_PADDR && seq_len(v) != 1)
		perr(p, v, NULL, "paddr takes exactly one target, got %zu", seq_len(v));
	else if (seq_len(v) == 0)
		perr(p, v, NULL, "%s needs at least one target", damon_ops_to_string(c->ops));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* quotas                                                                   */

static bool metric_is_bp(enum damos_goal_metric m)
{
	return m != DAMOS_GOAL_USER_INPUT && m != DAMOS_GOAL_SOME_MEM_PSI_US && m != DAMOS_GOAL_FILE;
}

static bool metric_is_node(enum damos_goal_metric m)
{
	return m == DAMOS_GOAL_NODE_MEM_USED_BP || m == DAMOS_GOAL_NODE_MEM_FREE_BP ||
	       m == DAMOS_GOAL_NODE_MEMCG_USED_BP || m == DAMOS_GOAL_NODE_MEMCG_FREE_BP ||
	       m == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP;
}

static bool metric_is_memcg(enum damos_goal_metric m)
{
	return m == DAMOS_GOAL_NODE_MEMCG_USED_BP || m == DAMOS_GOAL_NODE_MEMCG_FREE_BP ||
	       m == DAMOS_GOAL_MEMCG_USAGE_BP;
}

/* target_value/current_value: the unit follows the metric. */
static int h_goal_value(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			void *obj)
{
	struct damos_goal_cfg *g = obj;
	const char *s = scalar(v);
	uint64_t x;
	int r;

	if ((int)g->metric < 0)
		return 0; /* reported as a bad or missing metric */

	if (metric_is_bp(g->metric)) {
		r = parse_ratio(s, 1, &x);
		if (r == -EINVAL) {
			perr(p, v, NULL, "invalid value '%s' for %s (expected a percentage like 40%% or basis points)",
			     s, damos_goal_metric_to_string(g->metric));
			return 0;
		}
		if (r < 0 || x > 10000) {
			perr(p, v, NULL, "value '%s' out of range [0%%, 100%%]", s);
			return 0;
		}
	} else if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US) {
		r = parse_uint(s, 0, UINT64_MAX, &x);
		if (r == -EINVAL)
			r = parse_duration_us(s, &x);
		if (r < 0) {
			perr(p, v, NULL, "invalid value '%s' for some_mem_psi_us (expected a duration like 10ms or microseconds)",
			     s);
			return 0;
		}
	} else {
		r = parse_uint(s, 0, UINT64_MAX, &x);
		if (r < 0) {
			perr(p, v, NULL, "invalid number '%s'", s);
			return 0;
		}
	}
	*FIELD_PTR(obj, f, uint64_t) = x;
	return 0;
}

/* a goal's `unit: NAME`: a system unit's cgroup, /system.slice/NAME (as a scheme's memcg:), kept as the path */
static int h_goal_unit(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f, void *obj)
{
	struct damos_goal_cfg *g = obj;
	const char *val = scalar(v);
	char *path;

	if (!*val || strchr(val, '/') || strstr(val, "..")) {
		perr(p, v, NULL, "expected a unit name (no '/'; give a cgroup with 'path:'), got '%s'", val);
		return 0;
	}
	if (asprintf(&path, "/system.slice/%s", val) < 0)
		return -ENOMEM;
	free(g->path);
	g->path = path;
	return 0;
}

/* the table keeps its layout (it predates .clang-format) */
/* clang-format off */
static const struct field goal_fields[] = {
	{ { "metric", "target_metric" }, NK_SCALAR, h_enum, offsetof(struct damos_goal_cfg, metric),
	  0, 0, 0, &damos_goal_metric_desc, F_REQUIRED },
	{ { "target_value" }, NK_SCALAR, h_goal_value, offsetof(struct damos_goal_cfg, target_value),
	  0, 0, 0, NULL, F_REQUIRED },
	{ { "current_value" }, NK_SCALAR, h_goal_value,
	  offsetof(struct damos_goal_cfg, current_value), 0, 0, 0, NULL, 0 },
	{ { "nid" }, NK_SCALAR, h_int, offsetof(struct damos_goal_cfg, nid), 0, INT32_MAX, 0, NULL,
	  0 },
	{ { "path" }, NK_SCALAR, h_str, offsetof(struct damos_goal_cfg, path), 0, 0, 0, NULL, 0 },
	{ { "unit" }, NK_SCALAR, h_goal_unit, 0, 0, 0, 0, NULL, 0 },
};
/* clang-format on */
static const struct table goal_table = TABLE(goal_fields);

static int parse_goal(struct parser *p, yaml_node_t *v, struct damos_goal_cfg *g)
{
	yaml_node_t *n, *tv, *u;
	const char *key, *ukey;
	int r;

	set_pos(p, &g->pos, v);
	g->metric = _DAMOS_GOAL_METRIC_INVALID;
	r = parse_mapping(p, v, &goal_table, g);
	if (r < 0)
		return r;
	if ((int)g->metric < 0)
		return 0;

	tv = map_find(p, v, "target_value", &key);
	if (tv && !is_null(tv) && g->target_value == 0)
		perr(p, tv, key, "must be greater than 0 (the kernel ignores goals with a zero target)");
	if ((n = map_find(p, v, "current_value", &key)) && g->metric != DAMOS_GOAL_USER_INPUT)
		perr(p, n, key, "current_value is only valid for the user_input metric");
	if ((n = map_find(p, v, "nid", &key)) && !metric_is_node(g->metric))
		perr(p, n, key, "nid is only valid for node_* metrics, not %s",
		     damos_goal_metric_to_string(g->metric));
	n = map_find(p, v, "path", &key);
	if ((u = map_find(p, v, "unit", &ukey))) {
		/* only the cgroup PSI goal takes a unit; its path is then /system.slice/NAME */
		if (g->metric != DAMOS_GOAL_SOME_MEM_PSI_US)
			perr(p, u, ukey, "unit is only valid for some_mem_psi_us (one unit's memory pressure)");
		else if (n)
			perr(p, u, ukey, "give either 'path' or 'unit', not both");
		n = NULL;
	}
	if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US && n && g->path && (g->path[0] != '/' || strstr(g->path, "..")))
		perr(p, n, key,
		     "expected an absolute cgroup path without '..' (e.g. /system.slice/x.service), got '%s'", g->path);
	else if (g->metric == DAMOS_GOAL_SOME_MEM_PSI_US)
		;
	else if (metric_is_memcg(g->metric) && !n)
		perr(p, v, "path", "missing required key 'path' (%s needs a memcg path)",
		     damos_goal_metric_to_string(g->metric));
	else if (g->metric == DAMOS_GOAL_FILE && (!n || !g->path || g->path[0] != '/'))
		perr(p, n ? n : v, n ? key : "path", "the file metric needs 'path', an absolute file name");
	else if (n && !metric_is_memcg(g->metric) && g->metric != DAMOS_GOAL_FILE)
		perr(p, n, key,
		     "path is only valid for node_memcg_*, memcg_usage_bp, some_mem_psi_us and file metrics");
	if (g->metric == DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP && p->ctx->ops != DAMON_OPS_PADDR) {
		n = map_find(p, v, "metric|target_metric", &key);
		perr(p, n, key, "node_eligible_mem_bp is only valid with paddr");
	}
	return p->oom ? -ENOMEM : 0;
}

static int h_goals(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		   void *obj)
{
	struct damos_quota_cfg *q = &p->scheme->quota;

	if (seq_len(v) > MAX_GOALS) {
		perr(p, v, NULL, "too many goals: %zu (at most %d)", seq_len(v), MAX_GOALS);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct damos_goal_cfg *g;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		g = array_push(&q->goals, &q->nr_goals, sizeof(*g));
		if (!g)
			return -ENOMEM;
		r = parse_goal(p, it, g);
		path_pop(p, old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int h_goal_tuner(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			void *obj)
{
	struct damos_quota_cfg *q = &p->scheme->quota;
	int x = enum_parse(p, v, &damos_goal_tuner_desc, -1);

	if (x >= 0) {
		q->goal_tuner = (enum damos_goal_tuner)x;
		q->goal_tuner_set = true;
		set_pos(p, &q->goal_tuner_pos, k);
	}
	return 0;
}

static int h_fail_ratio(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			void *obj)
{
	struct damos_quota_cfg *q = &p->scheme->quota;
	const char *s = scalar(v), *slash;
	_cleanup_free_ char *num = NULL;
	uint64_t n, d;

	set_pos(p, &q->fail_charge_pos, k);
	if (streq(s, "off")) {
		q->fail_charge_mode = DAMOS_FAIL_CHARGE_OFF;
		q->fail_charge_num = q->fail_charge_denom = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if (!slash) {
		perr(p, v, NULL, "invalid ratio '%s' (expected NUM/DENOM like 1/4096, or off)", s);
		return 0;
	}
	num = strndup(s, (size_t)(slash - s));
	if (!num)
		return -ENOMEM;
	if (parse_uint(num, 0, UINT32_MAX, &n) < 0 || parse_uint(slash + 1, 0, UINT32_MAX, &d) < 0) {
		perr(p, v, NULL, "invalid ratio '%s' (expected NUM/DENOM like 1/4096, or off)", s);
		return 0;
	}
	if (n == 0 || d == 0) {
		perr(p, v, NULL, "ratio '%s': numerator and denominator must be greater than 0", s);
		return 0;
	}
	if (n > d) {
		perr(p, v, NULL, "ratio '%s': numerator must not exceed denominator", s);
		return 0;
	}
	q->fail_charge_num = (uint32_t)n;
	q->fail_charge_denom = (uint32_t)d;
	q->fail_charge_mode = DAMOS_FAIL_CHARGE_AUTO;
	return 0;
}

static int h_fail_mode(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		       void *obj)
{
	struct damos_quota_cfg *q = &p->scheme->quota;
	int x = enum_parse(p, v, &damos_fail_charge_mode_desc, DAMOS_FAIL_CHARGE_OFF);

	if (x < 0)
		return 0;
	if (q->fail_charge_denom == 0) {
		/* also when the ratio itself was invalid: that error is reported too */
		perr(p, k, NULL, "fail_charge_mode needs a fail_charge_ratio");
		return 0;
	}
	q->fail_charge_mode = (enum damos_fail_charge_mode)x;
	return 0;
}

/* fail_charge_ager: auto (damond may run its ager for this scheme where it emulates the ratio) or off */
static int fail_ager_from(const char *s)
{
	return streq(s, "auto") ? 0 : streq(s, "off") ? 1 : -1;
}

static const char *fail_ager_to(int i)
{
	return i ? "off" : "auto";
}

static const struct enum_desc fail_ager_desc = { fail_ager_from, fail_ager_to, 2 };

static int h_fail_ager(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f, void *obj)
{
	struct damos_quota_cfg *q = &p->scheme->quota;
	int x = enum_parse(p, v, &fail_ager_desc, -1);

	if (x < 0)
		return 0;
	q->fail_charge_ager_off = x == 1;
	if (q->fail_charge_denom == 0)
		perr(p, k, NULL, "fail_charge_ager needs a fail_charge_ratio");
	return 0;
}

#define QUOTA_OFF(m) (offsetof(struct damos_cfg, quota) + offsetof(struct damos_quota_cfg, m))

static const struct field weights_fields[] = {
	{ { "sz_permil", "sz" }, NK_SCALAR, h_ratio, QUOTA_OFF(weight_sz), 0, UINT32_MAX, 10, U32,
	  0 },
	{ { "nr_accesses_permil", "nr_accesses" }, NK_SCALAR, h_ratio,
	  QUOTA_OFF(weight_nr_accesses), 0, UINT32_MAX, 10, U32, 0 },
	{ { "age_permil", "age" }, NK_SCALAR, h_ratio, QUOTA_OFF(weight_age), 0, UINT32_MAX, 10, U32,
	  0 },
};
static const struct table weights_table = TABLE(weights_fields);

static const struct field quota_fields[] = {
	{ { "time_ms", "time", "ms" }, NK_SCALAR, h_duration, QUOTA_OFF(ms), 0, UINT64_MAX, 1000, NULL, 0 },
	{ { "sz_bytes", "bytes", "sz" }, NK_SCALAR, h_size, QUOTA_OFF(bytes), 0, UINT64_MAX, 0, NULL, 0 },
	{ { "reset_interval_ms", "reset_interval" },
	  NK_SCALAR,
	  h_duration,
	  QUOTA_OFF(reset_interval_ms),
	  1,
	  UINT64_MAX - 1,
	  1000,
	  NULL,
	  0 },
	{ { "weights" }, NK_MAP, h_map, 0, 0, 0, 0, &weights_table, 0 },
	{ { "goals" }, NK_SEQ, h_goals, 0, 0, 0, 0, NULL, 0 },
	{ { "goal_tuner" }, NK_SCALAR, h_goal_tuner, 0, 0, 0, 0, NULL, 0 },
	{ { "fail_charge_ratio" }, NK_SCALAR, h_fail_ratio, 0, 0, 0, 0, NULL, 0 },
	{ { "fail_charge_mode" }, NK_SCALAR, h_fail_mode, 0, 0, 0, 0, NULL, 0 },
	{ { "fail_charge_ager" }, NK_SCALAR, h_fail_ager, 0, 0, 0, 0, NULL, 0 },
};
static const struct table quota_table = TABLE(quota_fields);

/* ------------------------------------------------------------------------ */
/* watermarks                                                               */

#define WMARK_OFF(m) (offsetof(struct damos_cfg, wmarks) + offsetof(struct damos_wmarks_cfg, m))

static const struct field wmark_fields[] = {
	{ { "metric" }, NK_SCALAR, h_enum, WMARK_OFF(metric), 0, 0, 0, &damos_wmark_metric_desc, 0 },
	{ { "interval_us", "interval" }, NK_SCALAR, h_duration, WMARK_OFF(interval_us), 0,
	  UINT64_MAX - 1, 1, NULL, 0 },
	{ { "high_permil", "high" }, NK_SCALAR, h_ratio, WMARK_OFF(high), 0, 1000, 10, NULL, 0 },
	{ { "mid_permil", "mid" }, NK_SCALAR, h_ratio, WMARK_OFF(mid), 0, 1000, 10, NULL, 0 },
	{ { "low_permil", "low" }, NK_SCALAR, h_ratio, WMARK_OFF(low), 0, 1000, 10, NULL, 0 },
};
static const struct table wmark_table = TABLE(wmark_fields);

static int h_wmarks(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		    void *obj)
{
	struct damos_wmarks_cfg *w = &p->scheme->wmarks;
	size_t nerr = p->ld->nr_errors;
	int r;

	r = parse_mapping(p, v, &wmark_table, obj);
	if (r < 0 || p->ld->nr_errors != nerr)
		return r;
	if (w->metric == DAMOS_WMARK_NONE)
		return 0;
	if (w->interval_us == 0)
		perr(p, v, "interval", "missing interval: %s watermarks need a check interval",
		     damos_wmark_metric_to_string(w->metric));
	if (!(w->low <= w->mid && w->mid <= w->high))
		perr(p, v, NULL,
		     "watermarks must satisfy low <= mid <= high (high %" PRIu64 ", mid %" PRIu64
		     ", low %" PRIu64 " permil)",
		     w->high, w->mid, w->low);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* filters                                                                  */

static int h_filter_addr(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			 void *obj)
{
	struct damos_filter_cfg *fl = obj;
	int r = parse_addr_range(p, v, &fl->addr);

	return r == -ENOMEM ? r : 0;
}

static const struct field filter_fields[] = {
	{ { "type", "filter_type" }, NK_SCALAR, h_enum, offsetof(struct damos_filter_cfg, type), 0,
	  0, 0, &damos_filter_type_desc, F_REQUIRED },
	{ { "matching" }, NK_SCALAR, h_bool, offsetof(struct damos_filter_cfg, matching), 0, 0, 0,
	  NULL, 0 },
	{ { "allow" }, NK_SCALAR, h_bool, offsetof(struct damos_filter_cfg, allow), 0, 0, 0, NULL,
	  0 },
	{ { "memcg_path" }, NK_SCALAR, h_str, offsetof(struct damos_filter_cfg, memcg_path), 0, 0, 0,
	  NULL, 0 },
	{ { "addr_range", "address_range" }, NK_MAP, h_filter_addr, 0, 0, 0, 0, NULL, 0 },
	{ { "hugepage_size" }, NK_MAP, h_range, offsetof(struct damos_filter_cfg, hugepage), 0, 0,
	  RANGE_SIZE, NULL, 0 },
	{ { "target_idx", "damon_target_idx" }, NK_SCALAR, h_int,
	  offsetof(struct damos_filter_cfg, target_idx), 0, INT32_MAX, 0, NULL, 0 },
};
static const struct table filter_table = TABLE(filter_fields);

/* Which key a filter type needs (NULL: none). */
static const char *filter_needs(enum damos_filter_type t)
{
	switch (t) {
	case DAMOS_FILTER_MEMCG:
		return "memcg_path";
	case DAMOS_FILTER_ADDR:
		return "addr_range|address_range";
	case DAMOS_FILTER_HUGEPAGE_SIZE:
		return "hugepage_size";
	case DAMOS_FILTER_TARGET:
		return "target_idx|damon_target_idx";
	default:
		return NULL;
	}
}

static int parse_filter(struct parser *p, yaml_node_t *v, struct damos_filter_cfg *fl,
			enum damos_filter_layer layer)
{
	static const char *const specific[] = { "memcg_path", "addr_range|address_range",
						"hugepage_size", "target_idx|damon_target_idx" };
	const char *needs, *key;
	yaml_node_t *n;
	int r;

	set_pos(p, &fl->pos, v);
	fl->layer = layer;
	fl->matching = true;
	fl->type = _DAMOS_FILTER_TYPE_INVALID;
	r = parse_mapping(p, v, &filter_table, fl);
	if (r < 0)
		return r;
	if ((int)fl->type < 0)
		return 0;

	n = map_find(p, v, "type|filter_type", &key);
	if (layer == DAMOS_FILTER_LAYER_CORE && !damos_filter_type_is_core(fl->type))
		perr(p, n, key, "filter type '%s' is not allowed in core_filters (only addr, target)",
		     damos_filter_type_to_string(fl->type));
	else if (layer == DAMOS_FILTER_LAYER_OPS && damos_filter_type_is_core(fl->type))
		perr(p, n, key, "filter type '%s' is not allowed in ops_filters (use core_filters)",
		     damos_filter_type_to_string(fl->type));

	needs = filter_needs(fl->type);
	for (size_t i = 0; i < ARRAY_SIZE(specific); i++) {
		bool is_needed = needs && streq(needs, specific[i]);

		n = map_find(p, v, specific[i], &key);
		/* an empty scalar was reported as "missing value"; an empty mapping was skipped */
		if (n && is_null(n) && (strstr(specific[i], "range") || streq(specific[i], "hugepage_size")))
			n = NULL;
		if (n && !is_needed)
			perr(p, n, key, "'%s' is not valid for %s filters", key,
			     damos_filter_type_to_string(fl->type));
		else if (!n && is_needed) {
			char first[32];

			snprintf(first, sizeof(first), "%.*s", (int)strcspn(specific[i], "|"),
				 specific[i]);
			perr(p, v, first, "missing required key '%s' for %s filters", first,
			     damos_filter_type_to_string(fl->type));
		}
	}

	if (fl->type == DAMOS_FILTER_TARGET &&
	    (n = map_find(p, v, "target_idx|damon_target_idx", &key)) &&
	    (size_t)fl->target_idx >= p->ctx->nr_targets && fl->target_idx >= 0)
		perr(p, n, key, "target index %d out of range (the context has %zu target%s)",
		     fl->target_idx, p->ctx->nr_targets, p->ctx->nr_targets == 1 ? "" : "s");
	if (fl->type == DAMOS_FILTER_TARGET)
		for (size_t i = 0; i < p->ctx->nr_targets; i++)
			if (p->ctx->targets[i].select != PROCSEL_PID) {
				perr(p, v, "type",
				     "a target filter names a kernel target by index, and targets that follow "
				     "processes (%s) change in number: give the processes by pid",
				     procsel_kind_to_string(p->ctx->targets[i].select));
				break;
			}
	return p->oom ? -ENOMEM : 0;
}

static int h_filters(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	struct damos_cfg *s = p->scheme;

	if (s->nr_filters + seq_len(v) > MAX_FILTERS) {
		perr(p, v, NULL,
		     "too many filters: %zu (at most %d per scheme, core_filters, ops_filters and filters together)",
		     s->nr_filters + seq_len(v), MAX_FILTERS);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct damos_filter_cfg *fl;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		fl = array_push(&s->filters, &s->nr_filters, sizeof(*fl));
		if (!fl)
			return -ENOMEM;
		r = parse_filter(p, it, fl, (enum damos_filter_layer)f->unit);
		path_pop(p, old);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* dests                                                                    */

static const struct field dest_fields[] = {
	{ { "id", "nid" }, NK_SCALAR, h_uint, offsetof(struct damos_dest_cfg, id), 0, INT32_MAX, 0,
	  U32, F_REQUIRED },
	{ { "weight" }, NK_SCALAR, h_uint, offsetof(struct damos_dest_cfg, weight), 0, UINT32_MAX, 0,
	  U32, 0 },
};
static const struct table dest_table = TABLE(dest_fields);

static int h_dests(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		   void *obj)
{
	struct damos_cfg *s = p->scheme;

	if (s->action != DAMOS_MIGRATE_HOT && s->action != DAMOS_MIGRATE_COLD) {
		perr(p, k, NULL, "dests are only valid for the migrate_hot and migrate_cold actions");
		return 0;
	}
	if (seq_len(v) > MAX_DESTS) {
		perr(p, v, NULL, "too many dests: %zu (at most %d)", seq_len(v), MAX_DESTS);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct damos_dest_cfg *d;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping {id, weight}, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		d = array_push(&s->dests, &s->nr_dests, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->weight = 1;
		r = parse_mapping(p, it, &dest_table, d);
		for (size_t j = 0; r == 0 && j + 1 < s->nr_dests; j++)
			if (s->dests[j].id == d->id && map_find(p, it, "id|nid", NULL)) {
				perr(p, it, NULL, "duplicate destination node %u", d->id);
				break;
			}
		path_pop(p, old);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* schemes                                                                  */

static int h_scheme_name(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			 void *obj)
{
	struct damos_cfg *s = obj;
	char *n;

	if (!valid_name(scalar(v))) {
		perr(p, v, NULL, "invalid name '%s' (use 1-%d characters of a-z, 0-9, _ and -)",
		     scalar(v), NAME_MAX_LEN);
		return 0;
	}
	n = strdup(scalar(v));
	if (!n)
		return -ENOMEM;
	free(s->name);
	s->name = n;
	s->name_given = true;
	return 0;
}

static const struct field access_pattern_fields[] = {
	{ { "sz_bytes", "sz" }, NK_MAP, h_range, offsetof(struct damos_cfg, sz), 0, 0, RANGE_SIZE,
	  NULL, 0 },
	{ { "nr_accesses" }, NK_MAP, h_range, offsetof(struct damos_cfg, nr_accesses), 0, 0,
	  RANGE_NR_ACCESSES, NULL, 0 },
	{ { "age" }, NK_MAP, h_range, offsetof(struct damos_cfg, age), 0, 0, RANGE_AGE, NULL, 0 },
};
static const struct table access_pattern_table = TABLE(access_pattern_fields);

/*
 * `memcg: UNIT or PATH` on a paddr scheme: only that cgroup's pages, as the
 * filter {type: memcg, matching: false} (reject the pages of every other
 * memcg; reject-only, so 6.12 takes it too), placed first. A name without
 * '/' is a system unit: /system.slice/NAME (preflight checks that it exists).
 */
static int h_memcg(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f, void *obj)
{
	struct damos_cfg *s = p->scheme;
	const char *val = scalar(v);
	struct damos_filter_cfg *fl;
	char *path;

	if (!*val) {
		perr(p, v, NULL, "must not be empty");
		return 0;
	}
	if (p->ctx && p->ctx->ops != DAMON_OPS_PADDR) {
		perr(p, v, NULL, "'memcg:' is for paddr schemes (a process target is already one workload)");
		return 0;
	}
	if (strstr(val, "..") || (strchr(val, '/') && val[0] != '/')) {
		perr(p, v, NULL, "expected a unit name or an absolute cgroup path without '..', got '%s'", val);
		return 0;
	}
	if (s->nr_filters + 1 > MAX_FILTERS) {
		perr(p, v, NULL, "too many filters: the memcg filter would be number %zu (at most %d per scheme)",
		     s->nr_filters + 1, MAX_FILTERS);
		return 0;
	}
	if (val[0] == '/')
		path = strdup(val);
	else if (asprintf(&path, "/system.slice/%s", val) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	fl = array_push(&s->filters, &s->nr_filters, sizeof(*fl));
	if (!fl) {
		free(path);
		return -ENOMEM;
	}
	memmove(&s->filters[1], &s->filters[0], (s->nr_filters - 1) * sizeof(*fl));
	s->filters[0] = (struct damos_filter_cfg){
		.type = DAMOS_FILTER_MEMCG,
		.layer = DAMOS_FILTER_LAYER_AUTO, /* filters/ on 6.12, ops_filters/ on 6.15+ */
		.matching = false,
		.allow = false,
		.memcg_path = path,
		.target_idx = 0,
	};
	set_pos(p, &s->filters[0].pos, v);
	return 0;
}

static const struct field scheme_fields[] = {
	{ { "name" }, NK_SCALAR, h_scheme_name, 0, 0, 0, 0, NULL, 0 },
	{ { "action" }, NK_SCALAR, h_enum, offsetof(struct damos_cfg, action), 0, 0, 0, &damos_action_desc, 0 },
	{ { "target_nid" },
	  NK_SCALAR,
	  h_int,
	  offsetof(struct damos_cfg, target_nid),
	  (uint64_t)-1,
	  INT32_MAX,
	  0,
	  NULL,
	  0 },
	{ { "apply_interval_us", "apply_interval" },
	  NK_SCALAR,
	  h_duration,
	  offsetof(struct damos_cfg, apply_interval_us),
	  0,
	  UINT64_MAX - 1,
	  1,
	  NULL,
	  0 },
	{ { "access_pattern" }, NK_MAP, h_map, 0, 0, 0, 0, &access_pattern_table, 0 },
	{ { "quotas", "quota" }, NK_MAP, h_map, 0, 0, 0, 0, &quota_table, 0 },
	{ { "watermarks" }, NK_MAP, h_wmarks, 0, 0, 0, 0, NULL, 0 },
	{ { "core_filters" }, NK_SEQ, h_filters, 0, 0, 0, DAMOS_FILTER_LAYER_CORE, NULL, 0 },
	{ { "ops_filters" }, NK_SEQ, h_filters, 0, 0, 0, DAMOS_FILTER_LAYER_OPS, NULL, 0 },
	{ { "filters" }, NK_SEQ, h_filters, 0, 0, 0, DAMOS_FILTER_LAYER_AUTO, NULL, 0 },
	{ { "dests" }, NK_SEQ, h_dests, 0, 0, 0, 0, NULL, 0 },
	{ { "max_nr_snapshots" },
	  NK_SCALAR,
	  h_uint,
	  offsetof(struct damos_cfg, max_nr_snapshots),
	  0,
	  UINT64_MAX,
	  0,
	  NULL,
	  0 },
	{ { "memcg" }, NK_SCALAR, h_memcg, 0, 0, 0, 0, NULL, 0 },
};
static const struct table scheme_table = TABLE(scheme_fields);

/*
 * Warnings, not errors: policies that are valid but most likely not what was
 * meant. A scheme that acts on all monitored memory with nothing to limit it
 * (no quota, no watermarks, the whole access pattern, no filter), e.g. a bare
 * "action: pageout", and a migrate action with no node to migrate to.
 */
static void scheme_warnings(struct parser *p, yaml_node_t *map, const struct damos_cfg *s)
{
	const struct damos_quota_cfg *q = &s->quota;
	const char *key = "action";
	yaml_node_t *an = map_find(p, map, "action", NULL);
	uint64_t max_acc;
	bool all;

	if (!an) {
		an = map;
		key = NULL;
	}
	/* nr_accesses up to 100% (aggr / sample samples) is every region too */
	max_acc = p->ctx && p->ctx->sample_us ? p->ctx->aggr_us / p->ctx->sample_us : DAMON_UINT_MAX;
	all = s->sz.min == 0 && s->sz.max == DAMON_U64_MAX && s->nr_accesses.min == 0 &&
	      s->nr_accesses.max >= max_acc && s->age.min == 0 && s->age.max == DAMON_UINT_MAX;
	if (s->action != DAMOS_STAT && q->ms == 0 && q->bytes == 0 && q->nr_goals == 0 &&
	    s->wmarks.metric == DAMOS_WMARK_NONE && all && s->nr_filters == 0)
		pwarn(p, an, key,
		      "'%s' applies to all monitored memory without limit (no quotas, watermarks, "
		      "access_pattern or filters)",
		      damos_action_to_string(s->action));
	if ((s->action == DAMOS_MIGRATE_HOT || s->action == DAMOS_MIGRATE_COLD) &&
	    s->target_nid < 0 && s->nr_dests == 0)
		pwarn(p, an, key, "'%s' without target_nid or dests: there is no node to migrate to",
		      damos_action_to_string(s->action));
}

static int h_schemes(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	struct damon_ctx_cfg *c = obj;

	if (seq_len(v) > MAX_SCHEMES) {
		perr(p, v, NULL, "too many schemes: %zu (at most %d per kdamond)", seq_len(v),
		     MAX_SCHEMES);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i), *nn;
		size_t old = path_push_idx(p, i), nerr;
		struct damos_cfg *s;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		s = array_push(&c->schemes, &c->nr_schemes, sizeof(*s));
		if (!s)
			return -ENOMEM;
		damos_cfg_init(s);
		set_pos(p, &s->pos, it);
		p->scheme = s;
		nerr = p->ld->nr_errors;
		r = parse_mapping(p, it, &scheme_table, s);
		p->scheme = NULL;
		if (r < 0)
			return r;
		if (!s->name) {
			if (asprintf(&s->name, "scheme%zu", i) < 0) {
				s->name = NULL;
				return -ENOMEM;
			}
			s->name_given = false;
		}
		if (p->ld->nr_errors == nerr) /* no warnings on top of a broken scheme */
			scheme_warnings(p, it, s);
		nn = map_find(p, it, "name", NULL);
		/* quadratic, but at most MAX_SCHEMES^2 / 2 comparisons */
		for (size_t j = 0; j + 1 < c->nr_schemes; j++)
			if (c->schemes[j].name && streq(c->schemes[j].name, s->name)) {
				perr(p, nn ? nn : it, "name", "duplicate scheme name '%s' (also scheme %zu)",
				     s->name, j);
				break;
			}
		path_pop(p, old);
		if (p->oom)
			return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* contexts and kdamonds                                                    */

#define CTX_OFF(m) (offsetof(struct damon_ctx_cfg, m))

static const struct field intervals_goal_fields[] = {
	{ { "access_bp" }, NK_SCALAR, h_ratio, CTX_OFF(intervals_goal.access_bp), 0, 10000, 1, NULL,
	  0 },
	{ { "aggrs" }, NK_SCALAR, h_uint, CTX_OFF(intervals_goal.aggrs), 0, UINT64_MAX, 0, NULL, 0 },
	{ { "min_sample_us", "min_sample" }, NK_SCALAR, h_duration,
	  CTX_OFF(intervals_goal.min_sample_us), 0, UINT64_MAX - 1, 1, NULL, 0 },
	{ { "max_sample_us", "max_sample" }, NK_SCALAR, h_duration,
	  CTX_OFF(intervals_goal.max_sample_us), 0, UINT64_MAX - 1, 1, NULL, 0 },
};
static const struct table intervals_goal_table = TABLE(intervals_goal_fields);

static int h_intervals_goal(struct parser *p, yaml_node_t *k, yaml_node_t *v,
			    const struct field *f, void *obj)
{
	struct damon_ctx_cfg *c = obj;
	size_t nerr = p->ld->nr_errors;
	int r;

	r = parse_mapping(p, v, &intervals_goal_table, obj);
	if (r < 0 || p->ld->nr_errors != nerr || c->intervals_goal.aggrs == 0)
		return r;
	if (c->intervals_goal.min_sample_us > c->intervals_goal.max_sample_us)
		perr(p, v, NULL, "min_sample_us (%" PRIu64 ") exceeds max_sample_us (%" PRIu64 ")",
		     c->intervals_goal.min_sample_us, c->intervals_goal.max_sample_us);
	return 0;
}

static const struct field intervals_fields[] = {
	{ { "sample_us", "sample" }, NK_SCALAR, h_duration, CTX_OFF(sample_us), 1, UINT64_MAX - 1, 1,
	  NULL, 0 },
	{ { "aggr_us", "aggr" }, NK_SCALAR, h_duration, CTX_OFF(aggr_us), 1, UINT64_MAX - 1, 1, NULL,
	  0 },
	{ { "ops_update_us", "ops_update", "update_us", "update" }, NK_SCALAR, h_duration,
	  CTX_OFF(update_us), 1, UINT64_MAX - 1, 1, NULL, 0 },
	{ { "intervals_goal" }, NK_MAP, h_intervals_goal, 0, 0, 0, 0, NULL, 0 },
};
static const struct table intervals_table = TABLE(intervals_fields);

static int h_intervals(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		       void *obj)
{
	struct damon_ctx_cfg *c = obj;
	yaml_node_t *sn;
	const char *key;
	int r;

	r = parse_mapping(p, v, &intervals_table, obj);
	if (r < 0)
		return r;
	sn = map_find(p, v, "sample_us|sample", &key);
	if (c->sample_us > c->aggr_us) {
		char a[32], b[32];

		perr(p, sn ? sn : v, sn ? key : NULL,
		     "sampling interval (%s) exceeds the aggregation interval (%s)",
		     format_duration_us(a, c->sample_us), format_duration_us(b, c->aggr_us));
	}
	return 0;
}

static const struct field nr_regions_fields[] = {
	{ { "min" }, NK_SCALAR, h_uint, CTX_OFF(min_nr_regions), 3, UINT32_MAX, 0, NULL, 0 },
	{ { "max" }, NK_SCALAR, h_uint, CTX_OFF(max_nr_regions), 3, UINT32_MAX, 0, NULL, 0 },
};
static const struct table nr_regions_table = TABLE(nr_regions_fields);

static int h_nr_regions(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
			void *obj)
{
	struct damon_ctx_cfg *c = obj;
	size_t nerr = p->ld->nr_errors;
	int r;

	r = parse_mapping(p, v, &nr_regions_table, obj);
	if (r < 0 || p->ld->nr_errors != nerr)
		return r;
	if (c->min_nr_regions > c->max_nr_regions)
		perr(p, v, NULL, "min (%" PRIu64 ") is greater than max (%" PRIu64 ")",
		     c->min_nr_regions, c->max_nr_regions);
	return 0;
}

static int h_addr_unit(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		       void *obj)
{
	struct damon_ctx_cfg *c = obj;
	uint64_t x;

	if (parse_uint(scalar(v), 1, UINT64_MAX, &x) < 0) {
		perr(p, v, NULL, "invalid addr_unit '%s' (expected a power of two >= 1)", scalar(v));
		return 0;
	}
	if (x & (x - 1)) {
		perr(p, v, NULL, "addr_unit %" PRIu64 " is not a power of two", x);
		return 0;
	}
	if (x != 1 && c->ops != DAMON_OPS_PADDR) {
		perr(p, v, NULL, "addr_unit other than 1 is only valid for paddr");
		return 0;
	}
	c->addr_unit = x;
	return 0;
}

/* Fields of a context, parsed in this order (ops and intervals before their users). */
/* bounds shared with ctrl-refine.h: at most REFINE_MAX_SPLITS (32) splits per round */
static const struct field refine_fields[] = {
	{ { "enabled" }, NK_SCALAR, h_bool, CTX_OFF(refine.enabled), 0, 0, 0, NULL, 0 },
	{ { "interval" }, NK_SCALAR, h_duration, CTX_OFF(refine.interval_us), 1000000, 3600ULL * 1000000, 1, NULL, 0 },
	{ { "max_splits" }, NK_SCALAR, h_uint, CTX_OFF(refine.max_splits), 1, 32, 0, NULL, 0 },
	{ { "raise" }, NK_SCALAR, h_bool, CTX_OFF(refine.raise), 0, 0, 0, NULL, 0 },
};
static const struct table refine_table = TABLE(refine_fields);

static int h_refine(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f, void *obj)
{
	return parse_mapping(p, v, &refine_table, obj);
}

static const struct field ctx_fields[] = {
	{ { "ops", "operations" }, NK_SCALAR, h_enum, CTX_OFF(ops), 0, 0, 0, &damon_ops_desc, 0 },
	{ { "addr_unit" }, NK_SCALAR, h_addr_unit, 0, 0, 0, 0, NULL, 0 },
	{ { "pause" }, NK_SCALAR, h_bool, CTX_OFF(pause), 0, 0, 0, NULL, 0 },
	{ { "intervals" }, NK_MAP, h_intervals, 0, 0, 0, 0, NULL, 0 },
	{ { "nr_regions" }, NK_MAP, h_nr_regions, 0, 0, 0, 0, NULL, 0 },
	{ { "refine" }, NK_MAP, h_refine, 0, 0, 0, 0, NULL, 0 },
	{ { "targets" }, NK_SEQ, h_targets, 0, 0, 0, 0, NULL, 0 },
};
static const struct field ctx_scheme_fields[] = {
	{ { "schemes" }, NK_SEQ, h_schemes, 0, 0, 0, 0, NULL, 0 },
};
static const struct table ctx_tables[] = { TABLE(ctx_fields), TABLE(ctx_scheme_fields) };

static int parse_ctx(struct parser *p, yaml_node_t *map, struct damon_ctx_cfg *c, bool scan)
{
	int r;

	set_pos(p, &c->pos, map);
	p->ctx = c;
	if (scan) {
		r = prescan(p, map, ctx_tables, ARRAY_SIZE(ctx_tables));
		if (r < 0)
			return r;
	}
	r = parse_fields(p, map, &ctx_tables[0], c);
	if (r < 0)
		return r;

	if (!map_find_set(p, map, "targets", NULL)) {
		if (c->ops == DAMON_OPS_PADDR) {
			/* paddr without targets: all System RAM */
			struct damon_target_cfg *t =
				array_push(&c->targets, &c->nr_targets, sizeof(*t));
			if (!t)
				return -ENOMEM;
			t->regions_auto = true;
			t->pos = c->pos;
		} else
			perr(p, map, "targets", "missing required key 'targets' (%s monitors processes)",
			     damon_ops_to_string(c->ops));
	}

	r = parse_fields(p, map, &ctx_tables[1], c);
	p->ctx = NULL;
	return r;
}

static int h_refresh(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	return h_duration(p, k, v, f, obj);
}

static int h_contexts(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		      void *obj)
{
	struct kdamond_cfg *kd = obj;
	yaml_node_t *it;
	size_t old;
	int r;

	if (seq_len(v) != 1) {
		perr(p, v, NULL, "exactly one context per kdamond is supported, got %zu", seq_len(v));
		return 0;
	}
	it = seq_item(p, v, 0);
	old = path_push_idx(p, 0);
	if (it->type != YAML_MAPPING_NODE)
		perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
	else {
		r = parse_ctx(p, it, &kd->ctx, true);
		if (r < 0)
			return r;
	}
	path_pop(p, old);
	return 0;
}

static int h_kd_name(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     void *obj)
{
	if (!valid_name(scalar(v))) {
		perr(p, v, NULL, "invalid name '%s' (use 1-%d characters of a-z, 0-9, _ and -)",
		     scalar(v), NAME_MAX_LEN);
		return 0;
	}
	return h_str(p, k, v, f, obj);
}

static const struct field kdamond_fields[] = {
	{ { "name" }, NK_SCALAR, h_kd_name, offsetof(struct kdamond_cfg, name), 0, 0, 0, NULL,
	  F_REQUIRED },
	{ { "refresh_ms", "refresh" }, NK_SCALAR, h_refresh, offsetof(struct kdamond_cfg, refresh_ms),
	  0, UINT32_MAX, 1000, NULL, 0 },
};
static const struct field kdamond_ctx_fields[] = {
	{ { "contexts" }, NK_SEQ, h_contexts, 0, 0, 0, 0, NULL, 0 },
};
static const struct table kdamond_tables[] = {
	TABLE(kdamond_fields),
	TABLE(kdamond_ctx_fields),
	TABLE(ctx_fields),
	TABLE(ctx_scheme_fields),
};

static int parse_kdamond(struct parser *p, yaml_node_t *map, struct kdamond_cfg *kd)
{
	yaml_node_t *contexts;
	int r;

	set_pos(p, &kd->pos, map);
	damon_ctx_cfg_init(&kd->ctx);
	r = prescan(p, map, kdamond_tables, ARRAY_SIZE(kdamond_tables));
	if (r < 0)
		return r;
	r = parse_fields(p, map, &kdamond_tables[0], kd);
	if (r < 0)
		return r;

	contexts = map_find_set(p, map, "contexts", NULL);
	if (contexts) {
		/* the context keys go either inline or under contexts:, not both */
		for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
		     pr < map->data.mapping.pairs.top; pr++) {
			yaml_node_t *kn = node_get(p, pr->key);
			const char *k = scalar(kn);

			if (k && (tables_lookup(&kdamond_tables[2], 2, k)))
				perr(p, kn, k, "'%s' must go inside 'contexts' when 'contexts' is used",
				     k);
		}
		return parse_fields(p, map, &kdamond_tables[1], kd);
	}
	return parse_ctx(p, map, &kd->ctx, false);
}

static int h_kdamonds(struct parser *p, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		      void *obj)
{
	struct damond_config *cfg = obj;

	if (seq_len(v) > MAX_KDAMONDS) {
		perr(p, v, NULL, "too many kdamonds: %zu (at most %d)", seq_len(v), MAX_KDAMONDS);
		return 0;
	}
	for (size_t i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(p, v, i);
		size_t old = path_push_idx(p, i);
		struct kdamond_cfg *kd;
		int r;

		if (it->type != YAML_MAPPING_NODE) {
			perr(p, it, NULL, "expected a mapping, got %s", kind_name(it));
			path_pop(p, old);
			continue;
		}
		kd = array_push(&cfg->kdamonds, &cfg->nr_kdamonds, sizeof(*kd));
		if (!kd)
			return -ENOMEM;
		p->kd = kd;
		r = parse_kdamond(p, it, kd);
		p->kd = NULL;
		if (r < 0)
			return r;
		/* quadratic, but at most MAX_KDAMONDS^2 / 2 comparisons */
		for (size_t j = 0; kd->name && j + 1 < cfg->nr_kdamonds; j++)
			if (cfg->kdamonds[j].name && streq(cfg->kdamonds[j].name, kd->name)) {
				perr(p, map_find(p, it, "name", NULL), "name",
				     "duplicate kdamond name '%s' (also kdamonds[%zu])", kd->name, j);
				break;
			}
		path_pop(p, old);
		if (p->oom)
			return -ENOMEM;
	}
	return 0;
}

static const struct field top_fields[] = {
	{ { "damond" }, NK_MAP, h_map, offsetof(struct damond_config, settings), 0, 0, 0,
	  &settings_table, 0 },
	{ { "kdamonds" }, NK_SEQ, h_kdamonds, 0, 0, 0, 0, NULL, F_REQUIRED },
};
static const struct table top_table = TABLE(top_fields);


/* ------------------------------------------------------------------------ */
/* errors of the load itself                                                */

static char *asprintf_or_null(const char *fmt, ...) _printf_(1, 2);
static char *asprintf_or_null(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int load_errorf(struct load *ld, unsigned src, unsigned line, unsigned col, const char *fmt,
		       ...) _printf_(5, 6);
static int load_errorf(struct load *ld, unsigned src, unsigned line, unsigned col, const char *fmt,
		       ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ld->nr_errors++;
	return load_add(ld, false, src, line, col, NULL, msg);
}

/* An entry about path itself (a drop-in directory or file that is not loaded). */
static int path_notef(struct load *ld, bool warning, const char *path, const char *fmt, ...)
	_printf_(4, 5);
static int path_notef(struct load *ld, bool warning, const char *path, const char *fmt, ...)
{
	struct config_error *e;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!warning)
		ld->nr_errors++;
	if (!msg) {
		ld->oom = true;
		return -ENOMEM;
	}
	e = error_slot(ld, warning, 0, 0, 0);
	if (!e) {
		free(msg);
		return ld->oom ? -ENOMEM : 0;
	}
	e->message = msg;
	e->file = strdup(path);
	if (!e->file) {
		ld->oom = true;
		return -ENOMEM;
	}
	return 0;
}

static int syntax_error(struct load *ld, unsigned src, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "invalid YAML";

	if (yp->error == YAML_MEMORY_ERROR) {
		ld->oom = true;
		return -ENOMEM;
	}
	if (yp->error == YAML_READER_ERROR)
		return load_errorf(ld, src, 1, 1, "%s at byte %zu", problem, yp->problem_offset);
	if (yp->context)
		return load_errorf(ld, src, (unsigned)yp->problem_mark.line + 1,
				   (unsigned)yp->problem_mark.column + 1, "%s %s", problem, yp->context);
	return load_errorf(ld, src, (unsigned)yp->problem_mark.line + 1,
			   (unsigned)yp->problem_mark.column + 1, "%s", problem);
}

static int mark_errorf(struct load *ld, unsigned src, const yaml_mark_t *m, const char *fmt, ...)
	_printf_(4, 5);
static int mark_errorf(struct load *ld, unsigned src, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	ld->nr_errors++;
	return load_add(ld, false, src, (unsigned)m->line + 1, (unsigned)m->column + 1, NULL, msg);
}

/* ------------------------------------------------------------------------ */
/* building the document from events, bounded                               */

struct anchor {
	char *name;
	int id;
	bool open; /* its node has not ended yet: an alias to it would be recursive */
};

struct anchors {
	struct anchor *v; /* open addressing, size a power of two */
	size_t n, cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void anchors_done(struct anchors *a)
{
	for (size_t i = 0; i < a->cap; i++)
		free(a->v[i].name);
	free(a->v);
	*a = (struct anchors){};
}

static struct anchor *anchors_find(struct anchors *a, const char *name)
{
	if (a->cap == 0)
		return NULL;
	for (size_t i = hash_str(name) & (a->cap - 1);; i = (i + 1) & (a->cap - 1)) {
		if (!a->v[i].name)
			return NULL;
		if (streq(a->v[i].name, name))
			return &a->v[i];
	}
}

/* Define (or redefine: YAML allows it, the latest counts) an anchor; takes name. */
static int anchors_set(struct anchors *a, char *name, int id)
{
	struct anchor *x = anchors_find(a, name);

	if (x) {
		free(name);
		x->id = id;
		x->open = true;
		return 0;
	}
	if ((a->n + 1) * 2 > a->cap) {
		struct anchors b = { .cap = a->cap ? a->cap * 2 : 64 };

		b.v = calloc(b.cap, sizeof(*b.v));
		if (!b.v) {
			free(name);
			return -ENOMEM;
		}
		for (size_t i = 0; i < a->cap; i++)
			if (a->v[i].name) {
				size_t j = hash_str(a->v[i].name) & (b.cap - 1);

				while (b.v[j].name)
					j = (j + 1) & (b.cap - 1);
				b.v[j] = a->v[i];
			}
		b.n = a->n;
		free(a->v);
		*a = b;
	}
	for (size_t i = hash_str(name) & (a->cap - 1);; i = (i + 1) & (a->cap - 1))
		if (!a->v[i].name) {
			a->v[i] = (struct anchor){ .name = name, .id = id, .open = true };
			a->n++;
			return 0;
		}
}

static int node_info_reserve(struct load *ld, int id)
{
	size_t want = (size_t)id, cap = MAX(want, ld->node_cap * 2), old = ld->node_cap;
	uint16_t *src;
	uint64_t *size, *bytes;

	if (want <= ld->node_cap)
		return 0;
	src = reallocarray(ld->node_src, cap, sizeof(*src));
	if (!src)
		return -ENOMEM;
	ld->node_src = src;
	size = reallocarray(ld->node_size, cap, sizeof(*size));
	if (!size)
		return -ENOMEM;
	ld->node_size = size;
	bytes = reallocarray(ld->node_bytes, cap, sizeof(*bytes));
	if (!bytes)
		return -ENOMEM;
	ld->node_bytes = bytes;
	memset(src + old, 0, (cap - old) * sizeof(*src));
	memset(size + old, 0, (cap - old) * sizeof(*size));
	memset(bytes + old, 0, (cap - old) * sizeof(*bytes));
	ld->node_cap = cap;
	return 0;
}

/* Record where node id comes from; 0 or -ENOMEM. */
static int node_note(struct load *ld, int id, unsigned src, const yaml_mark_t *start,
		     const yaml_mark_t *end, uint64_t size, uint64_t bytes)
{
	yaml_node_t *n;

	if (id <= 0 || node_info_reserve(ld, id) < 0)
		return -ENOMEM;
	n = yaml_document_get_node(&ld->doc, id);
	n->start_mark = *start;
	n->end_mark = *end;
	ld->node_src[id - 1] = (uint16_t)src;
	ld->node_size[id - 1] = size;
	ld->node_bytes[id - 1] = bytes;
	return 0;
}

struct open_node {
	int id;
	bool map;
	int key;       /* mapping: key waiting for its value (0: none) */
	uint64_t size; /* expanded size so far */
	uint64_t bytes; /* expanded scalar bytes so far */
	char *anchor;
};

/* Attach child to the innermost open node (or make it the root). */
static int attach(struct load *ld, struct open_node *stack, size_t depth, int child, uint64_t size,
		  uint64_t bytes, int *root)
{
	struct open_node *top;

	if (depth == 0) {
		*root = child;
		return 0;
	}
	top = &stack[depth - 1];
	top->size += size;
	top->bytes += bytes;
	if (!top->map)
		return yaml_document_append_sequence_item(&ld->doc, top->id, child) ? 0 : -ENOMEM;
	if (!top->key) {
		top->key = child;
		return 0;
	}
	if (!yaml_document_append_mapping_pair(&ld->doc, top->id, top->key, child))
		return -ENOMEM;
	top->key = 0;
	return 0;
}

/*
 * Count n more nodes against the budget; an error at m when it is exceeded.
 * Returns 0, -EINVAL (reported) or -ENOMEM.
 */
static int budget(struct load *ld, unsigned src, const yaml_mark_t *m, uint64_t n, uint64_t bytes)
{
	ld->nodes += n;
	ld->value_bytes += bytes;
	if (ld->value_bytes > CONFIG_MAX_VALUE_BYTES)
		return mark_errorf(ld, src, m,
				   "the configuration's values add up to more than %u MiB (counting each "
				   "use of an alias as a copy of its anchor); see \"Limits\" in damond.yaml(5)",
				   CONFIG_MAX_VALUE_BYTES >> 20) < 0
			       ? -ENOMEM
			       : -EINVAL;
	if (ld->nodes <= CONFIG_MAX_NODES)
		return 0;
	return mark_errorf(ld, src, m,
			   "the configuration has more than %u YAML nodes (counting each use of an "
			   "alias as a copy of its anchor); see \"Limits\" in damond.yaml(5)",
			   CONFIG_MAX_NODES) < 0
		       ? -ENOMEM
		       : -EINVAL;
}

/*
 * Parse text into ld->doc, bounded. *root: the id of the file's root node, 0
 * when the file holds no document. Returns 0, -EINVAL (errors recorded) or
 * -ENOMEM.
 */
static int load_events(struct load *ld, unsigned src, const char *text, size_t len, int *root)
{
	struct open_node stack[CONFIG_MAX_DEPTH] = {};
	struct anchors anchors = {};
	yaml_parser_t yp;
	size_t depth = 0;
	unsigned docs = 0;
	bool done = false;
	int r = 0;

	*root = 0;
	if (!yaml_parser_initialize(&yp))
		return -ENOMEM;
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);

	while (!done && r == 0) {
		yaml_event_t ev;
		const char *anchor = NULL;
		int id = 0;

		if (!yaml_parser_parse(&yp, &ev)) {
			r = syntax_error(ld, src, &yp);
			r = r < 0 ? r : -EINVAL;
			break;
		}

		if (docs > 1 && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
				 ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT)) {
			r = mark_errorf(ld, src, &ev.start_mark,
					"only one YAML document per file is supported");
			r = r < 0 ? r : -EINVAL;
			yaml_event_delete(&ev);
			break;
		}

		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;

		case YAML_DOCUMENT_START_EVENT:
			docs++;
			break;

		case YAML_ALIAS_EVENT: {
			struct anchor *a = anchors_find(&anchors, (const char *)ev.data.alias.anchor);

			if (!a)
				r = mark_errorf(ld, src, &ev.start_mark, "unknown alias '*%s'",
						(const char *)ev.data.alias.anchor);
			else if (a->open)
				r = mark_errorf(ld, src, &ev.start_mark,
						"alias '*%s' is inside the node it names (a recursive alias)",
						a->name);
			if (r < 0 || !a || a->open) {
				r = r < 0 ? r : -EINVAL;
				break;
			}
			r = budget(ld, src, &ev.start_mark, ld->node_size[a->id - 1],
				   ld->node_bytes[a->id - 1]);
			if (r == 0)
				r = attach(ld, stack, depth, a->id, ld->node_size[a->id - 1],
					   ld->node_bytes[a->id - 1], root);
			break;
		}

		case YAML_SCALAR_EVENT:
			anchor = (const char *)ev.data.scalar.anchor;
			r = budget(ld, src, &ev.start_mark, 1, ev.data.scalar.length);
			if (r < 0)
				break;
			id = yaml_document_add_scalar(&ld->doc, ev.data.scalar.tag, ev.data.scalar.value,
						      (int)ev.data.scalar.length, ev.data.scalar.style);
			r = node_note(ld, id, src, &ev.start_mark, &ev.end_mark, 1, ev.data.scalar.length);
			if (r == 0)
				r = attach(ld, stack, depth, id, 1, ev.data.scalar.length, root);
			if (r == 0 && anchor) {
				char *a = strdup(anchor);

				r = a ? anchors_set(&anchors, a, id) : -ENOMEM;
				if (r == 0)
					anchors_find(&anchors, anchor)->open = false;
			}
			break;

		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			bool map = ev.type == YAML_MAPPING_START_EVENT;

			if (depth >= CONFIG_MAX_DEPTH) {
				r = mark_errorf(ld, src, &ev.start_mark,
						"nested deeper than %d levels", CONFIG_MAX_DEPTH);
				r = r < 0 ? r : -EINVAL;
				break;
			}
			r = budget(ld, src, &ev.start_mark, 1, 0);
			if (r < 0)
				break;
			anchor = map ? (const char *)ev.data.mapping_start.anchor
				     : (const char *)ev.data.sequence_start.anchor;
			id = map ? yaml_document_add_mapping(&ld->doc, ev.data.mapping_start.tag,
							     ev.data.mapping_start.style)
				 : yaml_document_add_sequence(&ld->doc, ev.data.sequence_start.tag,
							      ev.data.sequence_start.style);
			r = node_note(ld, id, src, &ev.start_mark, &ev.end_mark, 0, 0);
			if (r < 0)
				break;
			stack[depth] = (struct open_node){ .id = id, .map = map, .size = 1 };
			if (anchor) {
				char *a = strdup(anchor), *b = strdup(anchor);

				if (!a || !b) {
					free(a);
					free(b);
					r = -ENOMEM;
					break;
				}
				stack[depth].anchor = b;
				r = anchors_set(&anchors, a, id);
			}
			depth++;
			break;
		}

		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct open_node o;

			if (depth == 0)
				break; /* the parser does not emit this */
			o = stack[--depth];
			yaml_document_get_node(&ld->doc, o.id)->end_mark = ev.end_mark;
			ld->node_size[o.id - 1] = o.size;
			ld->node_bytes[o.id - 1] = o.bytes;
			if (o.anchor) {
				struct anchor *a = anchors_find(&anchors, o.anchor);

				/* the anchor may have been redefined inside the node */
				if (a && a->id == o.id)
					a->open = false;
				free(o.anchor);
			}
			r = attach(ld, stack, depth, o.id, o.size, o.bytes, root);
			break;
		}

		default:
			break;
		}
		yaml_event_delete(&ev);
	}

	for (size_t i = 0; i < depth; i++)
		free(stack[i].anchor);
	anchors_done(&anchors);
	yaml_parser_delete(&yp);
	if (r == -ENOMEM)
		ld->oom = true;
	return r;
}

/* ------------------------------------------------------------------------ */
/* reading files                                                            */

static const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISDIR(m))
		return "a directory";
	return "not a regular file";
}

/*
 * Read a regular file (dirfd/name as for openat()) into *ret. Never blocks
 * on a FIFO or device: it is opened with O_NONBLOCK and refused after
 * fstat(). At most CONFIG_MAX_FILE_SIZE bytes for all files of the load.
 * Errors are recorded against src; returns 0 or -errno.
 */
static int read_config(struct load *ld, unsigned src, int dirfd, const char *name, char **ret,
		       size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, room = CONFIG_MAX_FILE_SIZE - MIN(ld->bytes, (size_t)CONFIG_MAX_FILE_SIZE);
	struct stat st;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = negative_errno();
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		if (load_errorf(ld, src, 0, 0,
				"cannot read configuration: %s, not a regular file (refused)",
				file_kind(st.st_mode)) < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > room)
		goto too_big;
	/* one byte more than allowed: a file that grows while being read is caught too */
	buf = malloc(room + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, room + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > room)
			goto too_big;
	}
	ld->bytes += len;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;

too_big:
	if (load_errorf(ld, src, 0, 0,
			"cannot read configuration: larger than %u KiB (the limit for the configuration "
			"file and its drop-ins together)",
			CONFIG_MAX_FILE_SIZE >> 10) < 0)
		return -ENOMEM;
	return -EFBIG;

fail:
	if (load_errorf(ld, src, 0, 0, "cannot read configuration: %s", strerror(-r)) < 0)
		return -ENOMEM;
	return r;
}

static int load_add_file(struct load *ld, const char *path)
{
	char *s;
	char **v;

	if (ld->nr_files > CONFIG_MAX_DROPINS)
		return -E2BIG;
	s = strdup(path);
	if (!s)
		return -ENOMEM;
	v = reallocarray(ld->files, ld->nr_files + 1, sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	ld->files = v;
	ld->files[ld->nr_files++] = s;
	return 0;
}

static void load_done(struct load *ld)
{
	for (size_t i = 0; i < ld->nr_files; i++)
		free(ld->files[i]);
	free(ld->files);
	free(ld->node_src);
	free(ld->node_size);
	free(ld->node_bytes);
	if (ld->have_doc)
		yaml_document_delete(&ld->doc);
}

static int load_init(struct load *ld, struct config_errors *errs)
{
	*ld = (struct load){ .errs = errs, .first_err = errs->n };
	if (!yaml_document_initialize(&ld->doc, NULL, NULL, NULL, 1, 1))
		return -ENOMEM;
	ld->have_doc = true;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* drop-ins                                                                 */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *s)
{
	size_t l = strlen(s);

	return l > 5 && streq(s + l - 5, ".yaml");
}

/*
 * The drop-ins of path: DIR/damond.d/NAME.yaml, DIR being path's directory,
 * sorted by name (strcmp). Hidden files are ignored; other names get a
 * warning. *ret_dir: the directory's path. No directory: 0 with none.
 */
static int list_dropins(struct load *ld, const char *path, char **ret_dir, char ***ret, size_t *ret_n)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = strrchr(path, '/');
	char **v = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd, r = 0;

	*ret = NULL;
	*ret_n = 0;
	*ret_dir = NULL;
	if (slash ? asprintf(&dir, "%.*s/damond.d", (int)(slash - path), path) < 0
		  : asprintf(&dir, "damond.d") < 0) {
		dir = NULL;
		return -ENOMEM;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		r = negative_errno();
		if (path_notef(ld, false, dir, "cannot read the drop-in directory: %s", strerror(-r)) < 0)
			return -ENOMEM;
		return r == -ENOTDIR ? -EINVAL : r;
	}
	d = fdopendir(fd);
	if (!d) {
		r = negative_errno();
		close(fd);
		return r;
	}
	for (struct dirent *de; (de = readdir(d));) {
		char *s;

		if (de->d_name[0] == '.')
			continue;
		if (!is_yaml_name(de->d_name)) {
			_cleanup_free_ char *x = NULL;

			if (asprintf(&x, "%s/%s", dir, de->d_name) < 0) {
				x = NULL;
				r = -ENOMEM;
				break;
			}
			if (path_notef(ld, true, x, "ignored: drop-in files must end in .yaml") < 0) {
				r = -ENOMEM;
				break;
			}
			continue;
		}
		if (n >= CONFIG_MAX_DROPINS) {
			r = path_notef(ld, false, dir, "more than %d drop-in files", CONFIG_MAX_DROPINS);
			r = r < 0 ? r : -EINVAL;
			break;
		}
		s = strdup(de->d_name);
		if (!s || !APPEND(v, n, cap)) {
			free(s);
			r = -ENOMEM;
			break;
		}
		v[n - 1] = s;
	}
	closedir(d);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_strp);
	*ret = v;
	*ret_n = n;
	*ret_dir = TAKE_PTR(dir);
	return 0;
}

/* ---- merging trees ---------------------------------------------------------- */

static yaml_node_t *dnode(struct load *ld, int id)
{
	return yaml_document_get_node(&ld->doc, id);
}

static const char *dscalar(struct load *ld, int id)
{
	return scalar(dnode(ld, id));
}

static size_t dpairs(struct load *ld, int id, yaml_node_pair_t **ret)
{
	yaml_node_t *n = dnode(ld, id);

	*ret = n->data.mapping.pairs.start;
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static bool dis(struct load *ld, int id, yaml_node_type_t t)
{
	return id > 0 && dnode(ld, id)->type == t;
}

/* Value id of key name in mapping id, 0 if absent. */
static int dfind(struct load *ld, int id, const char *name)
{
	yaml_node_pair_t *pr;
	size_t n = dpairs(ld, id, &pr);

	for (size_t i = 0; i < n; i++) {
		const char *k = dscalar(ld, pr[i].key);

		if (k && streq(k, name))
			return pr[i].value;
	}
	return 0;
}

/* The scalar "name" of a mapping, or NULL. */
static const char *dname(struct load *ld, int id)
{
	int v;

	if (!dis(ld, id, YAML_MAPPING_NODE))
		return NULL;
	v = dfind(ld, id, "name");
	return v ? dscalar(ld, v) : NULL;
}

/* A new empty sequence/mapping that reports like node like (position, file). */
static int dnew(struct load *ld, yaml_node_type_t t, int like)
{
	yaml_node_t *l = dnode(ld, like);
	yaml_mark_t s = l->start_mark, e = l->end_mark;
	unsigned src = ld->node_src[like - 1];
	int id;

	id = t == YAML_MAPPING_NODE
		     ? yaml_document_add_mapping(&ld->doc, NULL, YAML_BLOCK_MAPPING_STYLE)
		     : yaml_document_add_sequence(&ld->doc, NULL, YAML_BLOCK_SEQUENCE_STYLE);
	if (node_note(ld, id, src, &s, &e, 0, 0) < 0)
		return -ENOMEM;
	return id;
}

struct idpairs {
	yaml_node_pair_t *v;
	size_t n, cap;
};

static int idpairs_add(struct idpairs *p, int key, int value)
{
	yaml_node_pair_t *x = APPEND(p->v, p->n, p->cap);

	if (!x)
		return -ENOMEM;
	*x = (yaml_node_pair_t){ .key = key, .value = value };
	return 0;
}

static int idpairs_copy(struct load *ld, struct idpairs *p, int map)
{
	yaml_node_pair_t *pr;
	size_t n = dpairs(ld, map, &pr);

	for (size_t i = 0; i < n; i++)
		if (idpairs_add(p, pr[i].key, pr[i].value) < 0)
			return -ENOMEM;
	return 0;
}

static int dmake_map(struct load *ld, int like, const struct idpairs *p)
{
	int id = dnew(ld, YAML_MAPPING_NODE, like);

	for (size_t i = 0; id > 0 && i < p->n; i++)
		if (!yaml_document_append_mapping_pair(&ld->doc, id, p->v[i].key, p->v[i].value))
			return -ENOMEM;
	return id;
}

static int dmake_seq(struct load *ld, int like, const int *items, size_t n)
{
	int id = dnew(ld, YAML_SEQUENCE_NODE, like);

	for (size_t i = 0; id > 0 && i < n; i++)
		if (!yaml_document_append_sequence_item(&ld->doc, id, items[i]))
			return -ENOMEM;
	return id;
}

/* Items of sequence id (copied: adding nodes moves the node array). */
static int dseq_items(struct load *ld, int id, int **ret, size_t *ret_n, size_t extra)
{
	yaml_node_t *n = dnode(ld, id);
	size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	int *v = calloc(k + extra + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	memcpy(v, n->data.sequence.items.start, k * sizeof(*v));
	*ret = v;
	*ret_n = k;
	return 0;
}

/*
 * Merge sequence add into sequence base by the items' names: an item whose
 * name is taken replaces that item whole (patch, when set, decides instead),
 * other items are appended. Past max items, the rest is appended unmatched
 * (the count is an error anyway): merging stays linear-bounded.
 */
static int merge_named(struct load *ld, int base, int add, size_t max,
		       int (*patch)(struct load *ld, int old, int new), int *ret)
{
	_cleanup_free_ int *v = NULL, *a = NULL;
	size_t n, na;
	int r;

	r = dseq_items(ld, add, &a, &na, 0);
	if (r < 0)
		return r;
	r = dseq_items(ld, base, &v, &n, na);
	if (r < 0)
		return r;
	for (size_t i = 0; i < na; i++) {
		const char *name = dname(ld, a[i]);
		size_t j = n;

		if (name && n <= max)
			for (j = 0; j < n; j++) {
				const char *o = dname(ld, v[j]);

				if (o && streq(o, name))
					break;
			}
		if (j < n) {
			if (patch) {
				r = patch(ld, v[j], a[i]);
				if (r < 0)
					return r;
				v[j] = r;
			} else
				v[j] = a[i];
		} else
			v[n++] = a[i];
	}
	r = dmake_seq(ld, base, v, n);
	if (r < 0)
		return r;
	*ret = r;
	return 0;
}

/* Copy of mapping map with the value of key name replaced (or the pair appended). */
static int dreplace(struct load *ld, int map, const char *name, int key, int value)
{
	struct idpairs p = {};
	bool found = false;
	int r;

	r = idpairs_copy(ld, &p, map);
	for (size_t i = 0; r == 0 && i < p.n; i++) {
		const char *k = dscalar(ld, p.v[i].key);

		if (k && streq(k, name)) {
			p.v[i].value = value;
			found = true;
			break;
		}
	}
	if (r == 0 && !found)
		r = idpairs_add(&p, key, value);
	if (r == 0)
		r = dmake_map(ld, map, &p);
	free(p.v);
	return r;
}

/* A kdamond entry of a drop-in that holds only name and schemes. */
static bool is_scheme_patch(struct load *ld, int id)
{
	yaml_node_pair_t *pr;
	size_t n = dpairs(ld, id, &pr);
	bool schemes = false;

	for (size_t i = 0; i < n; i++) {
		const char *k = dscalar(ld, pr[i].key);

		if (!k || !(streq(k, "name") || streq(k, "schemes")))
			return false;
		if (streq(k, "schemes")) {
			if (!dis(ld, pr[i].value, YAML_SEQUENCE_NODE))
				return false;
			schemes = true;
		}
	}
	return schemes;
}

static int schemes_key(struct load *ld, int map)
{
	yaml_node_pair_t *pr;
	size_t n = dpairs(ld, map, &pr);

	for (size_t i = 0; i < n; i++) {
		const char *k = dscalar(ld, pr[i].key);

		if (k && streq(k, "schemes"))
			return pr[i].key;
	}
	return 0;
}

/* Merge a drop-in's kdamond entry new into the kdamond old of the same name. */
static int patch_kdamond(struct load *ld, int old, int new)
{
	int ctxs, ctx, target, schemes, add, merged = 0, r;

	if (!is_scheme_patch(ld, new) || !dis(ld, old, YAML_MAPPING_NODE))
		return new; /* replaced whole */

	/* the schemes live inline, or in the one context of 'contexts:' */
	ctxs = dfind(ld, old, "contexts");
	ctx = 0;
	if (ctxs && dis(ld, ctxs, YAML_SEQUENCE_NODE) &&
	    dnode(ld, ctxs)->data.sequence.items.top - dnode(ld, ctxs)->data.sequence.items.start == 1)
		ctx = dnode(ld, ctxs)->data.sequence.items.start[0];
	if (ctxs && !dis(ld, ctx, YAML_MAPPING_NODE))
		return new;
	target = ctxs ? ctx : old;

	add = dfind(ld, new, "schemes");
	schemes = dfind(ld, target, "schemes");
	if (schemes && dis(ld, schemes, YAML_SEQUENCE_NODE)) {
		r = merge_named(ld, schemes, add, MAX_SCHEMES, NULL, &merged);
		if (r < 0)
			return r;
	} else
		merged = add;
	r = dreplace(ld, target, "schemes", schemes_key(ld, new), merged);
	if (r < 0 || !ctxs)
		return r;
	ctx = r;
	r = dmake_seq(ld, ctxs, &ctx, 1);
	if (r < 0)
		return r;
	return dreplace(ld, old, "contexts", 0, r);
}

/* Merge mapping add into mapping base key by key (a key given again replaces the value). */
static int merge_keys(struct load *ld, int base, int add)
{
	yaml_node_pair_t *pr;
	struct idpairs p = {};
	size_t na;
	int r;

	r = idpairs_copy(ld, &p, base);
	na = dpairs(ld, add, &pr);
	if (p.n > 4096 || na > 4096) /* nonsense sizes: no lookups, the walk reports them */
		r = r < 0 ? r : idpairs_copy(ld, &p, add);
	else
		for (size_t i = 0; r == 0 && i < na; i++) {
			yaml_node_pair_t x = pr[i];
			const char *k = dscalar(ld, x.key);
			size_t j;

			for (j = 0; k && j < p.n; j++) {
				const char *o = dscalar(ld, p.v[j].key);

				if (o && streq(o, k))
					break;
			}
			if (k && j < p.n)
				p.v[j] = x;
			else
				r = idpairs_add(&p, x.key, x.value);
			na = dpairs(ld, add, &pr);
		}
	if (r == 0)
		r = dmake_map(ld, base, &p);
	free(p.v);
	return r;
}

/*
 * The main file's root merged with the drop-ins' roots, in order:
 * - kdamonds: an entry whose name is taken replaces that kdamond whole,
 *   unless it holds only name and schemes: then its schemes are merged into
 *   that kdamond's by name the same way; other entries are appended;
 * - damond: key by key, a key given again replaces the earlier value;
 * - anything else is kept as is, for the walk to report.
 */
static int merge_dropins(struct load *ld, int root, const int *droots, size_t n, int *ret)
{
	struct idpairs p = {};
	int r;

	r = idpairs_copy(ld, &p, root);
	for (size_t d = 0; r == 0 && d < n; d++) {
		yaml_node_pair_t *pr;
		size_t np;

		if (!droots[d])
			continue;
		np = dpairs(ld, droots[d], &pr);
		for (size_t i = 0; r == 0 && i < np; i++) {
			yaml_node_pair_t x = pr[i];
			const char *k = dscalar(ld, x.key);
			size_t j;

			for (j = 0; k && j < p.n; j++) {
				const char *o = dscalar(ld, p.v[j].key);

				if (o && streq(o, k))
					break;
			}
			if (k && (streq(k, "kdamonds") || streq(k, "damond")) && j < p.n &&
			    is_null(dnode(ld, x.value))) {
				/* "kdamonds:" with nothing under it: nothing to merge */
			} else if (!k || !(streq(k, "kdamonds") || streq(k, "damond")) || j == p.n) {
				r = idpairs_add(&p, x.key, x.value);
			} else if (streq(k, "kdamonds") && dis(ld, p.v[j].value, YAML_SEQUENCE_NODE) &&
				   dis(ld, x.value, YAML_SEQUENCE_NODE)) {
				int m;

				r = merge_named(ld, p.v[j].value, x.value, MAX_KDAMONDS, patch_kdamond, &m);
				if (r == 0)
					p.v[j].value = m;
			} else if (streq(k, "damond") && dis(ld, p.v[j].value, YAML_MAPPING_NODE) &&
				   dis(ld, x.value, YAML_MAPPING_NODE)) {
				r = merge_keys(ld, p.v[j].value, x.value);
				if (r > 0) {
					p.v[j].value = r;
					r = 0;
				}
			} else
				p.v[j] = x; /* wrong types: the drop-in's value, for the walk to report */
			np = dpairs(ld, droots[d], &pr);
		}
	}
	if (r == 0) {
		r = dmake_map(ld, root, &p);
		if (r > 0) {
			*ret = r;
			r = 0;
		}
	}
	free(p.v);
	return r;
}

/* ------------------------------------------------------------------------ */
/* entry points                                                             */

static int error_pos_cmp(const struct config_error *a, const struct config_error *b)
{
	if (a->src != b->src)
		return a->src < b->src ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->column != b->column)
		return a->column < b->column ? -1 : 1;
	return 0;
}

static void sort_errors(struct config_errors *errs, size_t first)
{
	/* insertion sort: stable, and at most CONFIG_MAX_ERROR_LINES entries */
	for (size_t i = first + 1; i < errs->n; i++) {
		struct config_error e = errs->v[i];
		size_t j = i;

		while (j > first && error_pos_cmp(&errs->v[j - 1], &e) > 0) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

/* Sort, add the "N more" lines; -EINVAL when there are errors, else 0. */
static int load_finish(struct load *ld)
{
	struct config_errors *errs = ld->errs;
	size_t de = ld->dropped_errors, dw = ld->dropped_warnings;
	int r;

	sort_errors(errs, ld->first_err);
	/* appended past the cap on purpose: these lines are the cap's own report */
	if (de > 0) {
		r = errors_add(errs, ld->files[0], 0, 0, NULL,
			       asprintf_or_null("%zu more error%s not shown", de, de == 1 ? "" : "s"));
		if (r < 0)
			return r;
	}
	if (dw > 0) {
		r = errors_add(errs, ld->files[0], 0, 0, NULL,
			       asprintf_or_null("%zu more warning%s not shown", dw, dw == 1 ? "" : "s"));
		if (r < 0)
			return r;
		errs->v[errs->n - 1].warning = true;
	}
	if (ld->oom)
		return -ENOMEM;
	return config_errors_count(errs, ld->first_err) > 0 ? -EINVAL : 0;
}

/* Walk the tree at root into a new config; 0 or -errno (errors are in ld). */
static int load_walk(struct load *ld, int root_id, struct damond_config **ret)
{
	_cleanup_(damond_config_freep) struct damond_config *cfg = NULL;
	yaml_node_t *root = root_id ? dnode(ld, root_id) : NULL;
	struct parser p = {};
	int r;

	if (!root)
		return load_errorf(ld, 0, 1, 1, "empty configuration (expected a mapping with 'kdamonds')");
	if (root->type != YAML_MAPPING_NODE)
		return load_errorf(ld, ld->node_src[root_id - 1], node_line(root), node_col(root),
				   "expected a mapping at the top level, got %s", kind_name(root));

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	damond_settings_init(&cfg->settings);
	cfg->path = strdup(ld->files[0]);
	if (!cfg->path)
		return -ENOMEM;

	if (ld->nr_files > 1) {
		cfg->dropins = calloc(ld->nr_files - 1, sizeof(char *));
		if (!cfg->dropins)
			return -ENOMEM;
		for (size_t i = 1; i < ld->nr_files; i++) {
			cfg->dropins[i - 1] = strdup(ld->files[i]);
			if (!cfg->dropins[i - 1])
				return -ENOMEM;
			cfg->nr_dropins = i;
		}
	}
	p = (struct parser){ .ld = ld, .doc = &ld->doc, .errs = ld->errs, .first_err = ld->first_err,
			     .cfg = cfg };
	r = parse_mapping(&p, root, &top_table, cfg);
	if (r == 0 && p.oom)
		r = -ENOMEM;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(cfg);
	return 0;
}

static int load_result(struct load *ld, int r, struct damond_config *cfg, struct damond_config **ret)
{
	int f = load_finish(ld);

	if (r == -ENOMEM || f == -ENOMEM) {
		damond_config_free(cfg);
		return -ENOMEM;
	}
	if (r < 0 || f < 0) {
		damond_config_free(cfg);
		return r < 0 && r != -EINVAL ? r : -EINVAL;
	}
	*ret = cfg;
	return 0;
}

int config_load_string(const char *name, const char *text, size_t len, struct damond_config **ret,
		       struct config_errors *errs)
{
	struct damond_config *cfg = NULL;
	struct load ld;
	int root = 0, r;

	r = load_init(&ld, errs);
	if (r == 0)
		r = load_add_file(&ld, name ? name : "<config>");
	if (r < 0) {
		load_done(&ld);
		return r;
	}
	if (len > CONFIG_MAX_FILE_SIZE)
		r = load_errorf(&ld, 0, 0, 0, "larger than %u KiB", CONFIG_MAX_FILE_SIZE >> 10) < 0
			    ? -ENOMEM
			    : -EINVAL;
	else
		r = load_events(&ld, 0, text, len, &root);
	if (r == 0)
		r = load_walk(&ld, root, &cfg);
	r = load_result(&ld, r, cfg, ret);
	load_done(&ld);
	return r;
}

int config_load_file(const char *path, struct damond_config **ret, struct config_errors *errs)
{
	_cleanup_free_ char *buf = NULL, *dir = NULL;
	_cleanup_free_ int *droots = NULL;
	struct damond_config *cfg = NULL;
	char **names = NULL;
	size_t len = 0, nnames = 0;
	struct load ld;
	int root = 0, r, io = 0;

	r = load_init(&ld, errs);
	if (r == 0)
		r = load_add_file(&ld, path);
	if (r < 0) {
		load_done(&ld);
		return r;
	}

	r = read_config(&ld, 0, AT_FDCWD, path, &buf, &len);
	if (r < 0 && r != -ENOMEM && r != -EINVAL)
		io = r; /* an I/O error: returned as such (see config.h) */
	if (r == 0)
		r = load_events(&ld, 0, buf, len, &root);

	/* the drop-ins, also when the main file has errors: report theirs too */
	if (r != -ENOMEM && !io) {
		int q = list_dropins(&ld, path, &dir, &names, &nnames);

		if (q < 0)
			r = q == -ENOMEM ? q : -EINVAL;
	}
	droots = calloc(nnames + 1, sizeof(*droots));
	if (!droots)
		r = -ENOMEM;
	for (size_t i = 0; r != -ENOMEM && i < nnames; i++) {
		_cleanup_free_ char *dpath = NULL, *dbuf = NULL;
		size_t dlen = 0;
		unsigned src = (unsigned)ld.nr_files;
		int q;

		if (asprintf(&dpath, "%s/%s", dir, names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		q = load_add_file(&ld, dpath);
		if (q == 0)
			q = read_config(&ld, src, AT_FDCWD, dpath, &dbuf, &dlen);
		if (q == 0)
			q = load_events(&ld, src, dbuf, dlen, &droots[i]);
		if (q == 0 && droots[i] && !dis(&ld, droots[i], YAML_MAPPING_NODE)) {
			yaml_node_t *n = dnode(&ld, droots[i]);

			q = load_errorf(&ld, src, node_line(n), node_col(n),
					"expected a mapping at the top level, got %s", kind_name(n));
			q = q < 0 ? q : -EINVAL;
		}
		if (q < 0)
			r = q == -ENOMEM ? q : -EINVAL;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);

	if (r == 0 && nnames > 0 && root && dis(&ld, root, YAML_MAPPING_NODE))
		r = merge_dropins(&ld, root, droots, nnames, &root);
	if (r == 0)
		r = load_walk(&ld, root, &cfg);
	r = load_result(&ld, io ? io : r, cfg, ret);
	load_done(&ld);
	return r;
}
