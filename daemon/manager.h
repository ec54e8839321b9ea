/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "goal-current.h"
#include "pageflags.h"
#include "damon-sysfs.h"
#include "observe.h"
#include "damon.h"
#include "damon-features.h"
#include "damon-stat.h"
#include "plan.h"
#include "sysfs.h"

typedef uint64_t usec_t;

struct json_object;
struct config_errors;
struct events;
struct snapshot_store;
struct replay;
struct replay_writer;

struct scheme_rt {
	int cfg_idx; /* index into the kdamond's cfg schemes, -1 = tombstone */
	bool keepalive; /* a tombstone damond added to keep the kdamond handling commands */
	char *name;  /* identity (NULL for a tombstone) */
	struct damos_stats st, prev;
	usec_t st_at, prev_at;
	bool have_st, have_prev;
	bool st_fresh; /* st was replaced by a newer sample in this refresh */
	double tried_bps, applied_bps;
	enum obs_source stats_source; /* where st came from */

	void **ctrl; /* per ctrl_registry[] index: this slot's CTRL_SCHEME controller states (controllers.c) */
};

/* An operation the DAMON sysfs lock (EBUSY) kept from landing: retried from m->retry_timer. */
enum kd_pending {
	KD_PENDING_NONE,
	KD_PENDING_START,
	KD_PENDING_COMMIT,
};

struct ager;

struct kdamond_rt {
	char *name;
	unsigned index;
	bool running;
	int pid;
	bool adopted;
	bool died; /* stopped behind damond's back */
	bool waiting;     /* process targets (pidfile, comm, cgroup, unit) match no process: not started */
	bool expect_stop; /* during a retarget: its processes all exited, the kernel stops it (not a death) */
	/* followed targets: a pidfd per target process; its exit makes the rescan due at once (manager-follow.c) */
	sd_event_source **exit_watch;
	int *exit_pid; /* the process of exit_watch[i] */
	bool *exited;  /* its pidfd said it exited (before /proc may show it: the rescan trusts this) */
	size_t nr_exit_watch;
	bool starting; /* damond is switching it on (recorded before the first write) */
	char *record_hash; /* the record's hash while written is empty: being started, or adopted */
	struct kdamond_cfg *cfg; /* points into manager->config */
	struct damon_target_cfg *targets; /* resolved */
	size_t nr_targets;
	struct scheme_rt *slots;
	size_t nr_slots;
	struct write_list written; /* what the kernel holds, as damond wrote it (plan_compose()'s canonical list) */
	struct kd_policy policy;   /* config, resolved targets, slot layout: built at start, reload, relayout */
	struct kd_overlay overlay; /* the controllers' decisions: quotas, exclusions, region layouts */
	void **ctrl;               /* per ctrl_registry[] index: the CTRL_KDAMOND controller states (controllers.c) */
	struct pageflags_map pageflags[_PAGEFLAGS_CLASS_MAX]; /* the maps controllers asked for (controllers.c) */
	int pageflags_pid[_PAGEFLAGS_CLASS_MAX]; /* a virtual map's process (another one: the map starts over) */
	uint64_t pageflags_memfree[_PAGEFLAGS_CLASS_MAX]; /* MemFree (bytes) when a physical map was scanned; 0: unknown */
	usec_t epoch_us; /* the last reload commit: older data predates the current targets */
	/* DAMON_STAT's numbers (damon_stat_json): the aggregation interval measured between snapshots,
	 * for kdamonds whose intervals the kernel tunes (intervals_goal) */
	uint64_t dstat_ts_ns, dstat_aggrs, dstat_aggr_us;
	/* the last DAMON_STAT result, reused for DAMON_STAT_REFRESH_USEC as the module does (it refreshes at most
	 * every 5 s): the metrics tick and each status would otherwise walk all regions every time. Keyed by
	 * the kdamond's pid, the aggregation interval and the address unit it was computed with. */
	struct damon_stat_result dstat_last;
	usec_t dstat_last_at; /* 0: none */
	int dstat_last_pid;
	uint64_t dstat_last_addr_unit;
	uint64_t nr_goal_feeds; /* 'commit_schemes_quota_goals' of fed goal values (kd_commit()) */
	char last_what[32];
	char *last_why;
	usec_t last_at;
	/* EBUSY continuation (see manager-retry.c) */
	enum kd_pending pending;
	bool pending_regions; /* commit: the target regions change */
	char *pending_why;
	usec_t pending_since;
	unsigned pending_attempts;
	/* the last kernel write that failed, as logged */
	char *last_error;
	usec_t last_error_at;
	/* the charge emulation's ager for this kdamond (daemon/ager.c); NULL: none considered */
	struct ager *ager;
};

/*
 * The ager (daemon/ager.c, docs/CONTROLLERS.md "Page cache on kernels without
 * fail_charge"): a damond-owned kdamond over the same physical memory as a
 * paddr kdamond whose pageout scheme's charge ratio is emulated, that marks
 * young page cache old before the pageout tries it. It runs in a spare kdamond
 * directory (index != UINT_MAX only while it holds one), only while the
 * scheme's oracle counts at least one quota of such cache.
 */
struct ager {
	struct kdamond_cfg cfg; /* synthesised: "<kdamond>.ager", paddr, one lru_deprio scheme that applies to nothing */
	struct kdamond_rt kd;   /* kd.cfg = &cfg; kd.ager NULL */
	bool eligible;          /* the kdamond has a scheme the ager serves (emulated paddr pageout with an oracle) */
	const char *why;        /* why it runs or does not (static) */
	char scheme[64];        /* the scheme it serves */
	uint64_t young_bytes;   /* the oracle's young_cache_bytes at the last tick */
	uint64_t threshold_bytes; /* start at this much young page cache (one quota) */
	uint64_t stop_bytes;      /* stop after AGER_STOP_AFTER_US under this much (half a quota) */
	uint64_t rate_bytes;      /* its quota per reset interval (AGER_RESET_MS) */
	uint64_t span_bytes;      /* the physical memory it walks */
	usec_t low_since;         /* young_bytes under stop_bytes since (0: not under) */
	usec_t started_at, stopped_at, retry_at;
	unsigned nr_starts, nr_stops;
};

#define ACTION_LOG_SIZE 64

struct manager {
	sd_event *event;
	struct sysfs_root *root;
	char *sysfs_path;
	char *procfs_root;
	char *runtime_dir;
	char *config_path;
	bool dry_run;
	char *bpf_reason;

	struct damond_config *config;
	unsigned generation;
	bool started; /* manager_start() got through: the record may be saved */
	usec_t config_loaded_at; /* start, or the last successful reload */
	struct {
		bool ok;
		usec_t at;
		char **errors;
		size_t nr_errors;
		bool applied; /* the new config replaced the old one (ok or not): the kernel may have changed */
		unsigned refused_generation; /* the kernel refused this generation part way: rolled back from it */
		char *changes;               /* what the reload did to the kernel, in words (NULL: nothing to say) */
		char **restarted, **started, **failed; /* kdamond names; restarted ones lost their history */
		size_t nr_restarted, nr_started, nr_failed;
	} last_reload;

	struct damon_features features;
	bool features_from_record;
	bool features_full; /* a full probe (features_probe_owned, or the record of one): the record keeps it */

	struct kdamond_rt *kd;
	size_t nr_kd;
	uint64_t nr_kdamonds_dirs; /* what nr_kdamonds holds, or is about to hold (recorded first) */
	uint64_t nr_kdamonds_was; /* nr_kdamonds before a write in flight (== nr_kdamonds_dirs when none) */
	uint64_t nr_kdamonds_before_start; /* what it held before this start raised it (UINT64_MAX: not raised) */
	bool record_saved; /* this damond wrote the ownership record */
	int exit_status; /* DAMOND_EXIT_* for a failed start (0: DAMOND_EXIT_FAILURE) */
	bool notified_dead; /* STATUS= says some kdamond died */

	struct goal_psi_set goal_psi; /* PSI samplers for some_mem_psi_us goals' current values (system, cgroups) */
	/* node_eligible_mem_bp goals: each node's physical ranges (controllers.c), read again after 10 s */
	struct node_ranges_cache {
		struct damon_addr_range *r;
		size_t n;
		uint64_t addr_unit;
		int err;   /* numa_node_ranges()'s result */
		usec_t at; /* 0: not read */
	} eligible_nodes[64];
	struct goal_lru_cache eligible_lru; /* LRU pages per block of physical memory, refreshed round robin */
	usec_t eligible_lru_at;             /* its last refresh */

	sd_event_source *stats_timer;
	sd_event_source *retry_timer; /* EBUSY continuations; NULL when nothing waits */
	sd_event_source *follow_timer;  /* process targets re-resolved (damond.follow_interval); NULL: none */
	bool follow_soon;               /* a followed process exited: rescan at once */
	sd_event_source *memory_source; /* kernel uevents: memory hotplug for node/auto targets (manager-memory.c) */
	sd_event_source *memory_timer;  /* the rescan, once a burst of memory uevents settled */
	usec_t retry_delay_us;
	uint64_t pending_nr_kdamonds; /* an nr_kdamonds write waiting for the lock (0: none) */
	struct pending_off {
		char name[64];
		unsigned index;
		int pid;
	} *pending_off; /* kdamonds a reload removed whose 'off' waits for the lock */
	size_t nr_pending_off;
	uint64_t busy_retry_rounds;
	bool retry_busy; /* in the event loop: EBUSY defers to the retry timer instead of failing */
	/* the main thread's EBUSY retry (lib/damon-sysfs.h): start and stop wait for the lock, the event loop
	 * never does (attempts 1: the first EBUSY defers to the retry timer) */
	struct damon_busy busy;
	bool busy_seen;  /* the last kernel write failure was EBUSY (kd_fail()) */
	sd_event_source *sighup;
	sd_event_source *ctl_source;
	int ctl_fd;
	int kpageflags_fd; /* -1 until an emulated scheme or a node_eligible_mem_bp goal needs it */
	int kpageflags_err;

	struct events *events;
	struct replay *replay; /* a recording fed to the snapshot store instead of the BPF monitor (manager-observe.c) */
	struct replay_writer *recorder; /* --record-events: the BPF monitor's records into a recording */
	usec_t next_trim_us;            /* the stats tick's malloc_trim(), at most every MANAGER_TRIM_USEC */
	uint64_t stats_ticks;           /* stats ticks run */
	usec_t stats_slack_us;          /* how late the next tick may run (the stats timer's accuracy) */
	bool stats_hold_tick;           /* the timer is armed HOLD_TICK_USEC ahead: a scheme is held (manager.c) */
	struct snapshot_store *snapshots;
	uint64_t stats_commands;	/* update_schemes_stats/effective_quotas commands issued */
	struct stats_worker *stats_worker; /* state commands off the loop (stats-worker.h) */
	uint64_t stats_skipped;            /* a tick found the kdamond's previous stats round still in flight */
	uint64_t stats_failed;             /* update_schemes_stats refused (the round's kdamond gets no stats) */
	uint64_t stats_dropped;            /* a round's stats for a kdamond that changed meanwhile (reload, restart) */
	uint64_t stats_busy;               /* EBUSY answers the stats worker met (and retried) */

	struct {
		usec_t at;
		char kdamond[64];
		char scheme[64];	/* the scheme the action is about, or "" */
		char what[32];
		char why[640]; /* a commit may carry every controller's reason, joined (ctrls_step: 512) */
	} actions[ACTION_LOG_SIZE];
	unsigned nr_actions;
};

int manager_new(struct manager **ret);
struct manager *manager_free(struct manager *m);
static inline void manager_freep(struct manager **m)
{
	if (*m)
		manager_free(*m);
}

/* Takes ownership of config. */
int manager_start(struct manager *m, struct damond_config *config);
int manager_reload(struct manager *m, struct config_errors *errs);
int manager_stop(struct manager *m);
/* One stats tick: the event sources drained, then every kdamond's stats and controllers (the stats timer's work) */
void manager_tick(struct manager *m);

/* Followed targets resolved now (damondctl rescan): the number of kdamonds retargeted for their processes
 * (manager-follow.c), for hotplugged memory under node and 'auto' targets (manager-memory.c). */
int follow_rescan(struct manager *m);
int memory_rescan(struct manager *m);

/* STATUS= for systemd: the kdamonds on, and the dead ones by name. */
void manager_notify_status(struct manager *m);
const char *kd_pending_to_string(enum kd_pending p);

/* The retry timer's first delay and cap. */
#define MANAGER_RETRY_FIRST_US (20 * 1000ULL)
#define MANAGER_RETRY_MAX_US (1000 * 1000ULL)

/* Log every error of a config check, one line each (file:line:column: key: message). */
void log_config_errors(const struct config_errors *errs);

/* what the last reload did to the kernel (applied, changes, restarted, started, failed, kdamond_dirs, spares) */
void reload_outcome_json(const struct manager *m, struct json_object *o);
int manager_status_json(struct manager *m, struct json_object **ret);
/*
 * What the metrics read (lib/metrics.h), filled straight from damond's state: the numbers the status
 * document has at the same places (lib/metrics.c renders the same text from either), without building,
 * walking and freeing a document every stats tick. The controllers' parts come from their status objects,
 * held in *ret_hold (put it after the view's last use, then metrics_view_done()).
 */
struct metrics_view;
int manager_metrics_view(struct manager *m, struct metrics_view *v, struct json_object **ret_hold);
int manager_features_json(struct manager *m, struct json_object **ret);
int manager_regions_json(struct manager *m, const char *kdamond, struct json_object **ret);

/* The event sources of the snapshot store (manager-observe.c): the BPF monitor or a replay file */
static inline bool manager_event_feed(const struct manager *m)
{
	return m->snapshots && (m->events || m->replay); /* something feeds the snapshot store */
}
void manager_observe_drain(struct manager *m);
void manager_observe_pids(struct manager *m);
/* Feed the store from a recording (lib/replay.h) from now on; 0 or a logged negative errno */
int manager_replay_start(struct manager *m, const char *path);

/* BPF monitor glue (manager-events.c, HAVE_BPF only) */
int manager_events_start(struct manager *m, size_t ringbuf_bytes, size_t headroom_bytes, char **ret_reason);
void manager_events_drain(struct manager *m);
/* --record-events: every record the BPF monitor reads from now on into path (lib/replay.h's
 * format, the kdamond named by damond's index), up to MANAGER_RECORD_MAX_BYTES; 0 or a logged -errno */
int manager_record_start(struct manager *m, const char *path);
#define MANAGER_RECORD_MAX_BYTES (256ULL << 20)
#define MANAGER_TRIM_USEC (10ULL * 1000 * 1000)
/* node_eligible_mem_bp: the pages whose flags a refresh of the LRU counts reads at most (256 MiB of 4 KiB pages,
 * a 512 KiB read of /proc/kpageflags, about 9 ms on a virtualised host; at most one refresh a second; eight
 * times that until the span was read once: the value is unknown until then) */
#define GOAL_ELIGIBLE_PAGE_BUDGET 65536ULL
#define GOAL_ELIGIBLE_REFRESH_USEC (1000ULL * 1000)
/* The stats tick's accuracy without the BPF monitor, and the most it may wait for a ring wakeup with it */
#define STATS_ACCURACY_USEC (10ULL * 1000)
#define STATS_SLACK_MAX_USEC (500ULL * 1000)
/* the stats tick while a scheme is held for its first quota window (manager.c) */
#define HOLD_TICK_USEC (100ULL * 1000)
void manager_events_update_pids(struct manager *m);
void manager_events_stats(struct manager *m, double *ret_rate, uint64_t *ret_drops);
/* The BPF monitor's aggregation gate and the aggregations it skipped; false without the monitor. */
bool manager_events_gate(struct manager *m, uint64_t *ret_gate_ns, uint64_t *ret_skipped);
/* Sets the gate from the policy (manager-events.c); called at start and after each pid update. */
void manager_events_set_gate(struct manager *m);
struct json_object *manager_events_json(struct manager *m);

/* Prometheus metrics (manager-metrics.c): the exposition text; the textfile, if configured, on each stats tick */
int manager_metrics_text(struct manager *m, char **ret, size_t *ret_len);
void manager_metrics_tick(struct manager *m);

/* control socket (manager-ctl.c) */
int manager_ctl_listen(struct manager *m);
void manager_ctl_close(struct manager *m);

/* ownership record (ownership.c) */
struct owned_record {
	char *name;
	unsigned index;
	int pid;
	bool running;
	bool starting; /* damond was switching it on: running means it is damond's, whatever the pid */
	char *list_hash;
	char **slot_names; /* NULL entries are tombstones */
	size_t nr_slots;
};
struct ownership {
	uint64_t nr_kdamonds;
	uint64_t nr_kdamonds_was; /* before a write the record announced (== nr_kdamonds when none) */
	struct owned_record *v;
	size_t n;
	bool have_features;
	struct damon_features features;
};
void ownership_done(struct ownership *o);
int ownership_load(const char *runtime_dir, struct ownership *ret);
int ownership_save(const char *runtime_dir, const struct manager *m);

/* CLOCK_MONOTONIC in microseconds, or what the clock a test set returns (NULL: the real one) */
usec_t now_usec(void);
void manager_set_clock(usec_t (*fn)(void));
