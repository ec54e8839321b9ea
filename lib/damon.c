/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The DAMON object model: keyword tables, defaults, copy and free. */
#include "damon.h"
#include "string-table.h"

/* One table per enum (string-table.h); the strings are the kernel's sysfs keywords. */
static const char *const damon_ops_table[_DAMON_OPS_MAX] = {
	[DAMON_OPS_VADDR] = "vaddr",
	[DAMON_OPS_FVADDR] = "fvaddr",
	[DAMON_OPS_PADDR] = "paddr",
};
DEFINE_STRING_TABLE_LOOKUP(damon_ops, enum damon_ops);

static const char *const damos_action_table[_DAMOS_ACTION_MAX] = {
	[DAMOS_WILLNEED] = "willneed",
	[DAMOS_COLD] = "cold",
	[DAMOS_PAGEOUT] = "pageout",
	[DAMOS_HUGEPAGE] = "hugepage",
	[DAMOS_NOHUGEPAGE] = "nohugepage",
	[DAMOS_COLLAPSE] = "collapse",
	[DAMOS_LRU_PRIO] = "lru_prio",
	[DAMOS_LRU_DEPRIO] = "lru_deprio",
	[DAMOS_MIGRATE_HOT] = "migrate_hot",
	[DAMOS_MIGRATE_COLD] = "migrate_cold",
	[DAMOS_STAT] = "stat",
};
DEFINE_STRING_TABLE_LOOKUP(damos_action, enum damos_action);

static const char *const damos_goal_metric_table[_DAMOS_GOAL_METRIC_MAX] = {
	[DAMOS_GOAL_USER_INPUT] = "user_input",
	[DAMOS_GOAL_SOME_MEM_PSI_US] = "some_mem_psi_us",
	[DAMOS_GOAL_NODE_MEM_USED_BP] = "node_mem_used_bp",
	[DAMOS_GOAL_NODE_MEM_FREE_BP] = "node_mem_free_bp",
	[DAMOS_GOAL_NODE_MEMCG_USED_BP] = "node_memcg_used_bp",
	[DAMOS_GOAL_NODE_MEMCG_FREE_BP] = "node_memcg_free_bp",
	[DAMOS_GOAL_ACTIVE_MEM_BP] = "active_mem_bp",
	[DAMOS_GOAL_INACTIVE_MEM_BP] = "inactive_mem_bp",
	[DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP] = "node_eligible_mem_bp",
	[DAMOS_GOAL_SWAP_USED_BP] = "swap_used_bp",
	[DAMOS_GOAL_MEMCG_USAGE_BP] = "memcg_usage_bp",
	[DAMOS_GOAL_FILE] = "file",
};
DEFINE_STRING_TABLE_LOOKUP(damos_goal_metric, enum damos_goal_metric);

bool damos_goal_metric_is_kernel(enum damos_goal_metric m)
{
	return m >= DAMOS_GOAL_USER_INPUT && m <= DAMOS_GOAL_NODE_ELIGIBLE_MEM_BP;
}

static const char *const damos_goal_tuner_table[_DAMOS_TUNER_MAX] = {
	[DAMOS_TUNER_CONSIST] = "consist",
	[DAMOS_TUNER_TEMPORAL] = "temporal",
};
DEFINE_STRING_TABLE_LOOKUP(damos_goal_tuner, enum damos_goal_tuner);

static const char *const damos_wmark_metric_table[_DAMOS_WMARK_MAX] = {
	[DAMOS_WMARK_NONE] = "none",
	[DAMOS_WMARK_FREE_MEM_RATE] = "free_mem_rate",
};
DEFINE_STRING_TABLE_LOOKUP(damos_wmark_metric, enum damos_wmark_metric);

static const char *const damos_filter_type_table[_DAMOS_FILTER_TYPE_MAX] = {
	[DAMOS_FILTER_ANON] = "anon",
	[DAMOS_FILTER_ACTIVE] = "active",
	[DAMOS_FILTER_MEMCG] = "memcg",
	[DAMOS_FILTER_YOUNG] = "young",
	[DAMOS_FILTER_HUGEPAGE_SIZE] = "hugepage_size",
	[DAMOS_FILTER_UNMAPPED] = "unmapped",
	[DAMOS_FILTER_ADDR] = "addr",
	[DAMOS_FILTER_TARGET] = "target",
};
DEFINE_STRING_TABLE_LOOKUP(damos_filter_type, enum damos_filter_type);

static const char *const damos_filter_layer_table[_DAMOS_FILTER_LAYER_MAX] = {
	[DAMOS_FILTER_LAYER_AUTO] = "auto",
	[DAMOS_FILTER_LAYER_CORE] = "core",
	[DAMOS_FILTER_LAYER_OPS] = "ops",
	[DAMOS_FILTER_LAYER_LEGACY] = "legacy",
};
DEFINE_STRING_TABLE_LOOKUP(damos_filter_layer, enum damos_filter_layer);

static const char *const damos_fail_charge_mode_table[_DAMOS_FAIL_CHARGE_MAX] = {
	[DAMOS_FAIL_CHARGE_OFF] = "off",
	[DAMOS_FAIL_CHARGE_AUTO] = "auto",
	[DAMOS_FAIL_CHARGE_NATIVE] = "native",
	[DAMOS_FAIL_CHARGE_EMULATE] = "emulate",
};
DEFINE_STRING_TABLE_LOOKUP(damos_fail_charge_mode, enum damos_fail_charge_mode);

static const char *const damond_on_exit_table[_DAMOND_ON_EXIT_MAX] = {
	[DAMOND_ON_EXIT_STOP] = "stop",
	[DAMOND_ON_EXIT_KEEP] = "keep",
};
DEFINE_STRING_TABLE_LOOKUP(damond_on_exit, enum damond_on_exit);

static const char *const damon_module_table[_DAMON_MODULE_MAX] = {
	[DAMON_MODULE_STAT] = "damon_stat",
	[DAMON_MODULE_RECLAIM] = "damon_reclaim",
	[DAMON_MODULE_LRU_SORT] = "damon_lru_sort",
};
DEFINE_STRING_TABLE_LOOKUP(damon_module, enum damon_module);

bool damos_filter_type_is_core(enum damos_filter_type t)
{
	return t == DAMOS_FILTER_ADDR || t == DAMOS_FILTER_TARGET;
}

void damos_cfg_init(struct damos_cfg *s)
{
	*s = (struct damos_cfg){
		.action = DAMOS_STAT,
		.target_nid = -1,
		.apply_interval_us = 0,
		/* match everything: the kernel's own default 0..0 matches nothing */
		.sz = { .min = 0, .max = DAMON_U64_MAX },
		.nr_accesses = { .min = 0, .max = DAMON_UINT_MAX },
		.age = { .min = 0, .max = DAMON_UINT_MAX },
		.quota = {
			.reset_interval_ms = DAMOND_DEFAULT_RESET_INTERVAL_MS,
			.goal_tuner = DAMOS_TUNER_CONSIST,
			.fail_charge_mode = DAMOS_FAIL_CHARGE_OFF,
		},
		.wmarks = { .metric = DAMOS_WMARK_NONE },
	};
}

void damon_ctx_cfg_init(struct damon_ctx_cfg *c)
{
	*c = (struct damon_ctx_cfg){
		.ops = DAMON_OPS_PADDR,
		.addr_unit = 1,
		.sample_us = DAMOND_DEFAULT_SAMPLE_US,
		.aggr_us = DAMOND_DEFAULT_AGGR_US,
		.update_us = DAMOND_DEFAULT_UPDATE_US,
		.min_nr_regions = DAMOND_DEFAULT_MIN_NR_REGIONS,
		.max_nr_regions = DAMOND_DEFAULT_MAX_NR_REGIONS,
		.refine = {
			.interval_us = DAMOND_DEFAULT_REFINE_INTERVAL_US,
			.max_splits = DAMOND_DEFAULT_REFINE_MAX_SPLITS,
		},
	};
}

void damond_settings_init(struct damond_settings *s)
{
	*s = (struct damond_settings){
		.on_exit = DAMOND_ON_EXIT_STOP,
		.stats_interval_us = DAMOND_DEFAULT_STATS_INTERVAL_US,
		.follow_interval_us = DAMOND_DEFAULT_FOLLOW_INTERVAL_US,
		.spare_kdamonds = DAMOND_DEFAULT_SPARE_KDAMONDS,
	};
}

void damos_cfg_done(struct damos_cfg *s)
{
	if (!s)
		return;
	free(s->name);
	for (size_t i = 0; i < s->quota.nr_goals; i++)
		free(s->quota.goals[i].path);
	free(s->quota.goals);
	for (size_t i = 0; i < s->nr_filters; i++)
		free(s->filters[i].memcg_path);
	free(s->filters);
	free(s->dests);
	*s = (struct damos_cfg){};
}

static void damon_target_cfg_done(struct damon_target_cfg *t)
{
	free(t->regions);
	*t = (struct damon_target_cfg){};
}

static void damon_ctx_cfg_done(struct damon_ctx_cfg *c)
{
	for (size_t i = 0; i < c->nr_targets; i++)
		damon_target_cfg_done(&c->targets[i]);
	free(c->targets);
	for (size_t i = 0; i < c->nr_schemes; i++)
		damos_cfg_done(&c->schemes[i]);
	free(c->schemes);
	c->targets = NULL;
	c->nr_targets = 0;
	c->schemes = NULL;
	c->nr_schemes = 0;
}

void kdamond_cfg_done(struct kdamond_cfg *k)
{
	if (!k)
		return;
	free(k->name);
	damon_ctx_cfg_done(&k->ctx);
	*k = (struct kdamond_cfg){};
}

const char *damond_config_file(const struct damond_config *c, const struct src_pos *pos)
{
	if (pos && pos->file > 0 && pos->file <= c->nr_dropins)
		return c->dropins[pos->file - 1];
	return c->path;
}

void damond_config_free(struct damond_config *c)
{
	if (!c)
		return;
	free(c->path);
	for (size_t i = 0; i < c->nr_dropins; i++)
		free(c->dropins[i]);
	free(c->dropins);
	free(c->settings.control_group);
	free(c->settings.metrics.textfile);
	for (size_t i = 0; i < c->nr_kdamonds; i++)
		kdamond_cfg_done(&c->kdamonds[i]);
	free(c->kdamonds);
	free(c);
}
