/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DAMON object model: what damond wants the kernel to hold.
 *
 * Every number here is the value damond writes to the sysfs file of the same
 * name (bytes, microseconds, milliseconds, counts), already resolved from the
 * human units of the YAML file. See docs/kernel-damon.md in ../shared for
 * the ABI and docs/configuration.md for the YAML side.
 */
#pragma once

#include "procsel.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define DAMON_U64_MAX UINT64_MAX
/* access_pattern nr_accesses/age are unsigned int in the kernel. */
#define DAMON_UINT_MAX 4294967295ULL

enum damon_ops {
	DAMON_OPS_VADDR,
	DAMON_OPS_FVADDR,
	DAMON_OPS_PADDR,
	_DAMON_OPS_MAX,
	_DAMON_OPS_INVALID = -EINVAL,
};

enum damos_action {
	DAMOS_WILLNEED,
	DAMOS_COLD,
	DAMOS_PAGEOUT,
	DAMOS_HUGEPAGE,
	DAMOS_NOHUGEPAGE,
	DAMOS_COLLAPSE,
	DAMOS_LRU_PRIO,
	DAMOS_LRU_DEPRIO,
	DAMOS_MIGRATE_HOT,
	DAMOS_MIGRATE_COLD,
	DAMOS_STAT,
	_DAMOS_ACTION_MAX,
	_DAMOS_ACTION_INVALID = -EINVAL,
};

enum damos_goal_metric {
	DAMOS_GOAL_USER_INPUT,
	DAMOS_GOAL_SOME_MEM_PSI_US,
	DAMOS_GOAL_NODE_MEM_USED_BP,
	DAMOS_GOAL_NODE_MEM_FREE_BP,
	DAMOS_GOAL_NODE_MEMCG_USED_BP,
	DAMOS_GOAL_NODE_MEMCG_FREE_BP,
	DAMOS_GOAL_ACTIVE_MEM_BP,
	DAMOS_GOAL_INACTIVE_MEM_BP,
	DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP,
	/* damond's own (no kernel has them): always fed as user_input (issue 16) */
	DAMOS_GOAL_SWAP_USED_BP,   /* swap in use over swap total, /proc/meminfo */
	DAMOS_GOAL_MEMCG_USAGE_BP, /* a cgroup's memory.current over its memory.max */
	DAMOS_GOAL_FILE,           /* the first number in a file a user program writes */
	_DAMOS_GOAL_METRIC_MAX,
	_DAMOS_GOAL_METRIC_INVALID = -EINVAL,
};

enum damos_goal_tuner {
	DAMOS_TUNER_CONSIST,
	DAMOS_TUNER_TEMPORAL,
	_DAMOS_TUNER_MAX,
	_DAMOS_TUNER_INVALID = -EINVAL,
};

enum damos_wmark_metric {
	DAMOS_WMARK_NONE,
	DAMOS_WMARK_FREE_MEM_RATE,
	_DAMOS_WMARK_MAX,
	_DAMOS_WMARK_INVALID = -EINVAL,
};

enum damos_filter_type {
	DAMOS_FILTER_ANON,
	DAMOS_FILTER_ACTIVE,
	DAMOS_FILTER_MEMCG,
	DAMOS_FILTER_YOUNG,
	DAMOS_FILTER_HUGEPAGE_SIZE,
	DAMOS_FILTER_UNMAPPED,
	DAMOS_FILTER_ADDR,
	DAMOS_FILTER_TARGET,
	_DAMOS_FILTER_TYPE_MAX,
	_DAMOS_FILTER_TYPE_INVALID = -EINVAL,
};

/* Which sysfs directory a filter lives in. */
enum damos_filter_layer {
	DAMOS_FILTER_LAYER_AUTO,   /* core_filters/ops_filters by type where present, else filters/ */
	DAMOS_FILTER_LAYER_CORE,   /* core_filters/ (addr, target) */
	DAMOS_FILTER_LAYER_OPS,    /* ops_filters/ (everything else) */
	DAMOS_FILTER_LAYER_LEGACY, /* filters/ (6.12; deprecated since 7.2) */
	_DAMOS_FILTER_LAYER_MAX,
	_DAMOS_FILTER_LAYER_INVALID = -EINVAL,
};

/* How damond realises a scheme's fail_charge_ratio. */
enum damos_fail_charge_mode {
	DAMOS_FAIL_CHARGE_OFF,     /* no ratio asked for */
	DAMOS_FAIL_CHARGE_AUTO,    /* native where the files exist, else emulated */
	DAMOS_FAIL_CHARGE_NATIVE,  /* require the kernel files */
	DAMOS_FAIL_CHARGE_EMULATE, /* emulate even where the kernel has it (testing) */
	_DAMOS_FAIL_CHARGE_MAX,
	_DAMOS_FAIL_CHARGE_INVALID = -EINVAL,
};

enum damond_on_exit {
	DAMOND_ON_EXIT_STOP,
	DAMOND_ON_EXIT_KEEP,
	_DAMOND_ON_EXIT_MAX,
	_DAMOND_ON_EXIT_INVALID = -EINVAL,
};

/* Exclusive in-kernel DAMON modules that block sysfs kdamonds. */
#define DAMON_MODULE_ENABLED_FMT "module/%s/parameters/enabled" /* under the sysfs root; %s: damon_module_to_string() */
enum damon_module {
	DAMON_MODULE_STAT,
	DAMON_MODULE_RECLAIM,
	DAMON_MODULE_LRU_SORT,
	_DAMON_MODULE_MAX,
	_DAMON_MODULE_INVALID = -EINVAL,
};

const char *damon_ops_to_string(enum damon_ops x) _pure_;
enum damon_ops damon_ops_from_string(const char *s) _pure_;
const char *damos_action_to_string(enum damos_action x) _pure_;
enum damos_action damos_action_from_string(const char *s) _pure_;
const char *damos_goal_metric_to_string(enum damos_goal_metric x) _pure_;
/* A metric some kernel has (false: one of damond's own, fed as user_input everywhere). */
bool damos_goal_metric_is_kernel(enum damos_goal_metric m) _pure_;
enum damos_goal_metric damos_goal_metric_from_string(const char *s) _pure_;
const char *damos_goal_tuner_to_string(enum damos_goal_tuner x) _pure_;
enum damos_goal_tuner damos_goal_tuner_from_string(const char *s) _pure_;
const char *damos_wmark_metric_to_string(enum damos_wmark_metric x) _pure_;
enum damos_wmark_metric damos_wmark_metric_from_string(const char *s) _pure_;
const char *damos_filter_type_to_string(enum damos_filter_type x) _pure_;
enum damos_filter_type damos_filter_type_from_string(const char *s) _pure_;
const char *damos_filter_layer_to_string(enum damos_filter_layer x) _pure_;
enum damos_filter_layer damos_filter_layer_from_string(const char *s) _pure_;
const char *damos_fail_charge_mode_to_string(enum damos_fail_charge_mode x) _pure_;
enum damos_fail_charge_mode damos_fail_charge_mode_from_string(const char *s) _pure_;
const char *damond_on_exit_to_string(enum damond_on_exit x) _pure_;
enum damond_on_exit damond_on_exit_from_string(const char *s) _pure_;
const char *damon_module_to_string(enum damon_module x) _pure_;
enum damon_module damon_module_from_string(const char *s) _pure_;

/* Does this filter type belong to the core layer (addr, target)? */
bool damos_filter_type_is_core(enum damos_filter_type t) _pure_;

/* Where an object was defined in the YAML file (for error messages). */
struct src_pos {
	uint32_t line;   /* 1-based; 0 = unknown */
	uint32_t column; /* 1-based */
	uint32_t file;   /* 0: damond_config.path; i: damond_config.dropins[i - 1] */
};

struct damon_range {
	uint64_t min;
	uint64_t max;
};

struct damon_addr_range {
	uint64_t start; /* inclusive */
	uint64_t end;   /* exclusive */
};

struct damon_target_cfg {
	struct src_pos pos;
	int pid;           /* vaddr/fvaddr: target process; paddr: 0 */
	/* vaddr/fvaddr: a process selector (procsel.h; PROCSEL_PID: pid above) and its text; a resolved target
	 * keeps the selector it came from */
	uint8_t select;
	char select_arg[PROCSEL_ARG_MAX];
	bool regions_auto; /* paddr: System RAM ranges of /proc/iomem, resolved at apply time */
	uint64_t regions_nodes; /* paddr: bit N = NUMA node N's online memory, resolved at apply time (numa.h) */
	struct damon_addr_range *regions;
	size_t nr_regions;
	bool regions_borrowed; /* a resolved target sharing the config's array (not freed with it) */
};

struct damos_filter_cfg {
	struct src_pos pos;
	enum damos_filter_type type;
	enum damos_filter_layer layer;
	bool matching;
	bool allow;              /* 6.15+; on 6.12 every filter rejects (allow must be false) */
	char *memcg_path;        /* memcg */
	struct damon_addr_range addr; /* addr */
	struct damon_range hugepage; /* hugepage_size: min/max bytes */
	int target_idx;          /* target */
};

struct damos_goal_cfg {
	struct src_pos pos;
	enum damos_goal_metric metric;
	uint64_t target_value;
	uint64_t current_value; /* user_input only */
	int nid;                /* node_* metrics */
	char *path;             /* node_memcg_* metrics */
};

#define DAMOS_MAX_GOALS 16 /* per scheme (the config refuses more) */

struct damos_quota_cfg {
	uint64_t ms;                /* time quota; 0 = none */
	uint64_t bytes;             /* size quota; 0 = none */
	uint64_t reset_interval_ms; /* charge window */
	uint32_t weight_sz;         /* permil */
	uint32_t weight_nr_accesses;
	uint32_t weight_age;
	struct damos_goal_cfg *goals;
	size_t nr_goals;
	bool goal_tuner_set; /* write goal_tuner only when the user chose one */
	enum damos_goal_tuner goal_tuner;
	struct src_pos goal_tuner_pos;
	struct src_pos fail_charge_pos;
	enum damos_fail_charge_mode fail_charge_mode;
	uint32_t fail_charge_num;
	uint32_t fail_charge_denom; /* 0 = off */
	bool fail_charge_ager_off;  /* fail_charge_ager: off (damond's page-cache ager never serves this scheme) */
};

struct damos_wmarks_cfg {
	enum damos_wmark_metric metric;
	uint64_t interval_us;
	uint64_t high, mid, low; /* permil for free_mem_rate */
};

struct damos_dest_cfg {
	uint32_t id; /* node id */
	uint32_t weight;
};

struct damos_cfg {
	struct src_pos pos;
	char *name; /* identity across reloads; "scheme<i>" when not given */
	bool name_given;
	enum damos_action action;
	int target_nid; /* -1 = none */
	uint64_t apply_interval_us; /* 0 = aggregation interval */
	struct damon_range sz;          /* bytes */
	struct damon_range nr_accesses; /* samples per aggregation */
	struct damon_range age;         /* aggregation intervals */
	struct damos_quota_cfg quota;
	struct damos_wmarks_cfg wmarks;
	struct damos_filter_cfg *filters;
	size_t nr_filters;
	struct damos_dest_cfg *dests;
	size_t nr_dests;
	uint64_t max_nr_snapshots; /* 0 = unlimited */
};

struct damon_ctx_cfg {
	struct src_pos pos;
	enum damon_ops ops;
	uint64_t addr_unit; /* 1 = default; written only when != 1 or the file exists */
	uint64_t sample_us, aggr_us, update_us;
	struct {
		uint64_t access_bp, aggrs, min_sample_us, max_sample_us; /* aggrs 0 = off */
	} intervals_goal;
	uint64_t min_nr_regions, max_nr_regions;
	struct {
		bool enabled;          /* damond splits regions where the kernel stopped (ctrl-refine) */
		uint64_t interval_us;  /* between refinement commits */
		uint64_t max_splits;   /* per round */
		bool raise;            /* the raise law: max_nr_regions x 2 for an aggregation instead of cuts */
	} refine;
	bool pause;
	struct damon_target_cfg *targets;
	size_t nr_targets;
	struct damos_cfg *schemes;
	size_t nr_schemes;
};

struct kdamond_cfg {
	struct src_pos pos;
	char *name;
	uint64_t refresh_ms; /* 0 = damond polls with update_schemes_stats */
	struct damon_ctx_cfg ctx;
};

struct damond_settings {
	enum damond_on_exit on_exit;
	uint64_t stats_interval_us;       /* how often stats are refreshed */
	uint64_t follow_interval_us;      /* how often process targets are resolved again */
	bool allow_disable[_DAMON_MODULE_MAX]; /* may switch that exclusive module off */
	char *control_group;              /* group allowed to reload, besides root; NULL = root only */
	uint64_t spare_kdamonds;          /* kdamond dirs made ahead whenever nr_kdamonds is written anyway */
	struct {
		char *textfile;           /* node_exporter textfile written every stats interval; NULL = none */
	} metrics;
};

struct damond_config {
	char *path;
	char **dropins; /* the drop-in files merged in, in order (see src_pos.file) */
	size_t nr_dropins;
	struct damond_settings settings;
	struct kdamond_cfg *kdamonds;
	size_t nr_kdamonds;
};

/* The file a position is in (the main file when pos is NULL or has no file). */
const char *damond_config_file(const struct damond_config *c, const struct src_pos *pos);

/* Defaults (the values docs/configuration.md promises). */
#define DAMOND_DEFAULT_SAMPLE_US 5000ULL
#define DAMOND_DEFAULT_AGGR_US 100000ULL
#define DAMOND_DEFAULT_UPDATE_US 1000000ULL
#define DAMOND_DEFAULT_MIN_NR_REGIONS 10ULL
#define DAMOND_DEFAULT_MAX_NR_REGIONS 1000ULL
#define DAMOND_DEFAULT_RESET_INTERVAL_MS 1000ULL
#define DAMOND_DEFAULT_STATS_INTERVAL_US 1000000ULL
#define DAMOND_DEFAULT_FOLLOW_INTERVAL_US 2000000ULL
/* kdamond directories made ahead of need (nr_kdamonds only changes with every kdamond off): a reload adding
 * up to this many kdamonds fills spares and restarts nothing */
#define DAMOND_DEFAULT_SPARE_KDAMONDS 2
#define DAMOND_MAX_SPARE_KDAMONDS 16
#define DAMOND_DEFAULT_REFINE_INTERVAL_US 5000000ULL
#define DAMOND_DEFAULT_REFINE_MAX_SPLITS 8ULL

void damond_config_free(struct damond_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct damond_config *, damond_config_free);
void kdamond_cfg_done(struct kdamond_cfg *k); /* frees members, not k itself */
void damos_cfg_done(struct damos_cfg *s);

/* Fill a scheme with the documented defaults (matches everything, no quota). */
void damos_cfg_init(struct damos_cfg *s);
void damon_ctx_cfg_init(struct damon_ctx_cfg *c);
void damond_settings_init(struct damond_settings *s);
