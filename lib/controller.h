/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The controller seam (issue 12, P2): what a controller is to the daemon.
 *
 * A controller is a table of functions (struct ctrl_ops) over a state the
 * host allocates (state_size bytes, zeroed) per instance: one per scheme slot
 * (CTRL_SCHEME) or one per kdamond (CTRL_KDAMOND). Per tick the host builds
 * one struct kd_observation per kdamond, calls step() of each controller in
 * registry order (lib/ctrl-registry.c, which also holds the arbitration
 * rules) on the kdamond's one struct kd_overlay (lib/plan.h), commits once
 * when any step changed it, and reports outcome(). A controller's decision
 * lives only in the overlay; everything else it keeps is in its state.
 *
 * Controllers are pure: no I/O, no clock, no globals, no logging. What they
 * need to know comes from struct ctrl_env (config view, features, plan
 * geometry: changes at start and reload only) and struct kd_observation
 * (changes every tick). Time is passed in.
 *
 * The controllers: lib/ctrl-charge-ops.c (the charge-ratio emulation, per
 * scheme, over lib/ctrl-charge.h), lib/ctrl-refine-ops.c (region
 * refinement, per kdamond, over lib/ctrl-refine.h) and lib/ctrl-goal-ops.c
 * (quota goal metrics the kernel lacks, measured by damond and fed as
 * user_input, per scheme, over lib/ctrl-goal.h).
 *
 * A host's life with them, per kdamond: at start and reload build the envs,
 * setup() every instance (keep: it carries its state over a reload), then
 * restore() every instance into the fresh overlay; per tick refresh the
 * sensors the instances need (.sensors, sensor_needs()) into one
 * kd_observation, step() in registry order under ctrl_may_step(), one
 * plan_compose() commit when any step changed the overlay, outcome() to the
 * instances of the controllers that changed it; status() into the status
 * JSON under .name.
 *
 * Adding a controller: its pure core (lib/ctrl-x.{h,c}: params, state,
 * observation in, decision out), its adapter (lib/ctrl-x-ops.c: a struct
 * ctrl_ops; params from ctrl_env, the core's observation from
 * kd_observation, the decision into the overlay fields it declares in
 * .owns, status fields), one line in ctrl_registry[] (where it steps
 * decides who waits for whom), its config keys (lib/config.c), and tests
 * next to tests/ctrl/test-ctrl-ops.c. A new overlay field (say a per-slot
 * time quota) is a CTRL_OWNS_* bit and a field in lib/plan.h that
 * plan_compose() renders; a new sensor a CTRL_SENSOR_* bit and a member of
 * kd_observation the host fills.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl-charge.h"
#include "ctrl-goal.h"
#include "ctrl-refine.h"
#include "damon-features.h"
#include "damon-sysfs.h"
#include "goal-current.h"
#include "observe.h"
#include "pageflags.h"
#include "plan.h"
#include "snapshot.h"

struct json_object;

/* ---- what a controller sees: the environment ------------------------------ */

enum ctrl_scope {
	CTRL_SCHEME,  /* one instance per scheme slot of a kdamond */
	CTRL_KDAMOND, /* one instance per kdamond */
};

/* Sensors (ctrl_ops.sensors): what the host must refresh into kd_observation for the controller. */
enum {
	CTRL_SENSOR_STATS = 1u << 0,     /* kd_observation.slots: scheme stats, deltas, rates */
	CTRL_SENSOR_SNAPSHOTS = 1u << 1, /* kd_observation.targets: region snapshots (BPF monitor) */
	CTRL_SENSOR_PAGEFLAGS = 1u << 2, /* kd_observation.pageflags: /proc/kpageflags maps (ctrl_ops.sensor_needs) */
	CTRL_SENSOR_MEMINFO = 1u << 3,   /* kd_observation.meminfo */
	CTRL_SENSOR_GOALS = 1u << 4,     /* kd_slot_obs.goal[]: the current values of the slot's fed goals */
};

/* The overlay fields (lib/plan.h) a controller writes (ctrl_ops.owns); no two controllers share one. */
enum {
	CTRL_OWNS_QUOTA = 1u << 0,   /* kd_overlay.slots[].quota_set/quota_bytes */
	CTRL_OWNS_EXCLUDE = 1u << 1, /* kd_overlay.targets[].exclude and .slots[].reject */
	CTRL_OWNS_LAYOUT = 1u << 2,  /* kd_overlay.targets[].layout */
	CTRL_OWNS_GOALS = 1u << 3,   /* kd_overlay.slots[].goal_set/goal_value/quota_cap_set/quota_cap */
	CTRL_OWNS_HOLD = 1u << 4,    /* kd_overlay.slots[].hold */
};

/*
 * A controller's view of its kdamond. Built by the host at start and reload
 * (and whenever the features or the slot layout change); it does not change
 * between ticks.
 */
struct ctrl_env {
	const struct kd_policy *policy; /* config (policy->cfg), resolved targets, slot layout */
	const struct damon_features *features;
	uint64_t stats_interval_us; /* settings.stats_interval_us: how often ticks come */
	bool bpf_monitor;           /* the BPF monitor feeds region snapshots */
	bool adopted; /* the kdamond ran before this damond started (its schemes' state is the kernel's) */
	/* CTRL_SCHEME: the slot this instance is about, and its scheme (NULL: a tombstone) */
	size_t slot;
	const struct damos_cfg *scheme;
	/*
	 * CTRL_SCHEME: the states of this controller's instances for every slot
	 * of the kdamond, [slot] being this one's, read only: a decision that
	 * lives per target (exclusions) is the union over the slots. NULL: none.
	 */
	const void *const *peers;
	size_t nr_peers;
	/* status only: CLOCK_MONOTONIC microseconds to wall-clock ones (NULL: reported as they are) */
	uint64_t (*wall_us)(uint64_t mono_us);
};

/* ---- what a controller sees: the observation, per tick per kdamond -------- */

struct kd_slot_obs {
	bool have;                /* stats, at_us and the sources are known */
	bool fresh;               /* stats were replaced by a newer sample this tick (BPF values repeat) */
	struct damos_stats stats; /* cumulative, as the kernel counts them */
	uint64_t at_us;           /* CLOCK_MONOTONIC of the values */
	enum obs_source stats_source;
	enum obs_source esz_source; /* NONE: stats.effective_bytes is the previous sample's */
	/* since the previous sample (have_prev): counters that went back count 0 */
	bool have_prev;
	uint64_t prev_at_us;
	struct damos_stats delta; /* effective_bytes: the current value */
	double tried_bps, applied_bps;
	/* CTRL_SENSOR_GOALS: goal g's current value, measured by damond, for each bit of the slot's fed_goals */
	struct goal_current goal[DAMOS_MAX_GOALS];
};

struct kd_target_obs {
	/* the newest snapshot of the target, whichever process and age (the controller filters); NULL: none */
	const struct damon_snapshot *snapshot;
};

struct kd_meminfo {
	bool have;
	uint64_t total_kb, free_kb; /* MemTotal, MemFree */
};

struct kd_observation {
	uint64_t now_us; /* CLOCK_MONOTONIC of the tick */
	bool alive;      /* the kdamond runs */
	int pid;
	uint64_t epoch_us; /* the last start or reload commit: data older than this predates the current targets */
	size_t nr_slots;
	const struct kd_slot_obs *slots;
	size_t nr_targets;
	const struct kd_target_obs *targets;
	/* maps over the kdamond's paddr span, one per class asked for (ctrl_sensor_needs); NULL: not scanned */
	const struct pageflags_map *pageflags[_PAGEFLAGS_CLASS_MAX];
	struct kd_meminfo meminfo;
};

/*
 * The slot's next observation from a fresh scheme_observation o (NULL: none
 * this tick): what daemon/manager.c's kd_refresh_stats() kept per slot
 * (stats, the previous sample, deltas, rates, fresh). s is the slot's
 * observation of the previous tick (zeroed before the first).
 */
void kd_slot_obs_update(struct kd_slot_obs *s, const struct scheme_observation *o);
/* A kdamond that stopped has no rates: its last ones would read as current (the totals stay). */
void kd_slot_obs_forget_rates(struct kd_slot_obs *s);

/* ---- sensors a controller asks for per instance ---------------------------- */

struct ctrl_sensor_needs {
	unsigned pageflags_classes; /* bit (1u << enum pageflags_class) per map wanted */
	uint64_t pageflags_start;   /* the physical range to map (the host takes the union) */
	uint64_t pageflags_end;
	uint64_t pageflags_period_us; /* rescan at most this often (the host takes the shortest) */
	/* > 0: rescan a physical map before its period is up when MemFree fell by this many bytes since the
	 * map's scan (memory the map saw free, hidden as failing, is in use now; the host takes the smallest) */
	uint64_t pageflags_free_drop_bytes;
	/* > 0: the range is virtual, in this process (a vaddr/fvaddr target): the host maps the process's
	 * mappings inside [start, end) through /proc/PID/pagemap (pageflags_vmap_step()) */
	int pageflags_pid;
};

/* Merge b into a (union of classes and ranges, shortest period). */
void ctrl_sensor_needs_merge(struct ctrl_sensor_needs *a, const struct ctrl_sensor_needs *b);

/* ---- the controller ------------------------------------------------------- */

/* What became of the commit carrying a tick's decisions (ctrl_ops.outcome). */
enum ctrl_outcome {
	CTRL_FAILED,    /* the kernel refused it, or a write failed */
	CTRL_COMMITTED, /* the kernel holds the decisions from now on */
	/* not written: another DAMON user held the sysfs lock (the event loop does not wait for it). Brief
	 * contention, not the decision's fault: decide again at the next tick, without backing off */
	CTRL_BUSY,
};

struct ctrl_ops {
	const char *name; /* "fail_charge", "refine": the status key and the log/journal name */
	enum ctrl_scope scope;
	size_t state_size; /* the host allocates it zeroed, per instance */
	unsigned sensors;  /* CTRL_SENSOR_* */
	unsigned owns;     /* CTRL_OWNS_*: the overlay fields step()/restore() may write */

	/*
	 * CTRL_SCHEME: the settings of a slot's policy that follow from how the
	 * controller is realised on this kernel, set when the policy is built
	 * (start, reload), before setup(); the charge emulation sets
	 * native_fail_charge. NULL: none.
	 */
	void (*policy_slot)(const struct damos_cfg *scheme, const struct damon_features *f, struct kd_slot *slot);
	/* Why the controller does not run for this env (status), or NULL when it runs. */
	const char *(*off_reason)(const struct ctrl_env *e);
	/*
	 * (Re)configure for env e. keep false: state is fresh (zeroed) memory,
	 * at start or for a new slot/kdamond. keep true: state is this
	 * instance's from before a reload (the slot kept its scheme, the
	 * kdamond its name); the controller keeps what is still valid for e
	 * (learned state when its parameters are unchanged).
	 */
	void (*setup)(const struct ctrl_env *e, void *state, bool keep);
	/*
	 * Write the decisions state stands by into o, a fresh overlay (start,
	 * reload: kd_overlay_init()), after every instance's setup(). Returns
	 * 0 or -errno. NULL: nothing to restore.
	 */
	int (*restore)(const struct ctrl_env *e, const void *state, struct kd_overlay *o);
	/* The sensors this instance needs refreshed (CTRL_SENSOR_PAGEFLAGS). NULL: none beyond .sensors. */
	void (*sensor_needs)(const struct ctrl_env *e, const void *state, struct ctrl_sensor_needs *ret);
	/*
	 * One tick: decide from obs, write the decision into inout (only the
	 * .owns fields). Returns true when it changed the overlay (a commit is
	 * wanted); why[0..len) says why then. Pure: no I/O, no clock, no globals.
	 */
	bool (*step)(const struct ctrl_env *e, void *state, const struct kd_observation *obs, struct kd_overlay *inout,
		     char *why, size_t len);
	/* What became of the commit carrying this tick's overlay, at now_us. */
	void (*outcome)(const struct ctrl_env *e, void *state, enum ctrl_outcome o, uint64_t now_us);
	/* Status as data: the controller's fields into `into` (the host files it under .name). */
	void (*status)(const struct ctrl_env *e, const void *state, struct json_object *into);
};

extern const struct ctrl_ops ctrl_window_ops, ctrl_charge_ops, ctrl_refine_ops, ctrl_goal_ops;

/* The controllers in the order they step (lib/ctrl-registry.c). */
extern const struct ctrl_ops *const ctrl_registry[];
extern const size_t ctrl_registry_len;
/* The registry entry named name, or NULL. */
const struct ctrl_ops *ctrl_lookup(const char *name);

/*
 * Arbitration (lib/ctrl-registry.c): may controller registry[i] step this
 * tick, when changed_mask has bit j set for each registry[j] that changed
 * the overlay earlier in the tick?
 */
bool ctrl_may_step(size_t i, unsigned changed_mask);
/*
 * The CTRL_OWNS_* fields that differ between overlays a and b (same
 * shape). A host (or a test) checks with it that a step wrote only its own.
 */
unsigned ctrl_overlay_diff(const struct kd_overlay *a, const struct kd_overlay *b);

/* ---- the charge-ratio emulation (lib/ctrl-charge-ops.c) -------------------- */

/* How a scheme's fail_charge_ratio is realised. */
enum ctrl_fail_mode {
	CTRL_FAIL_OFF,
	CTRL_FAIL_NATIVE,
	CTRL_FAIL_EMULATED,
};

/* The mode the scheme asks for on a kernel with features f (was manager.c's wanted_fail_mode()). */
enum ctrl_fail_mode ctrl_charge_fail_mode(const struct damos_cfg *s, const struct damon_features *f);

#define CTRL_CHARGE_ADJ_HISTORY 8

struct ctrl_charge_adj {
	uint64_t at_us; /* the tick */
	uint64_t quota;
	size_t nr_reject;
	char reason[192];
};

struct ctrl_charge_state {
	enum ctrl_fail_mode mode;
	bool active; /* emulated, params set: the controller runs */
	struct charge_params cp;
	struct charge_state cs;
	/* the decision in force (what the overlay carries for this slot) */
	bool quota_override;
	uint64_t kernel_quota;
	struct damon_addr_range reject[CHARGE_MAX_FILTERS];
	size_t nr_reject;
	/* the page-state oracle: a pageflags map of this class over [map_start, map_end) */
	bool oracle;
	enum pageflags_class oracle_class;
	uint64_t map_start, map_end, map_period_us;
	const char *oracle_off; /* why there is none (the fallback law runs): static string, for the host's log */
	int oracle_pid;         /* > 0: a vaddr/fvaddr target's process, the map is virtual (pagemap) */
	int target_pid;         /* the process of a virtual context's only target at setup (0: none) */
	/* The exclusions cannot reach the kernel (vaddr/fvaddr on a kernel without a filter directory): the
	 * core runs its fallback law, and what the oracle would exclude is only reported (preview_*). */
	bool exclude_unrealised;
	uint64_t map_bytes, map_ok_bytes; /* the last map the controller saw (a virtual one: the mappings) */
	uint64_t map_young_cache_bytes;   /* of map_ok_bytes: page cache not aged yet (paddr maps) */
	uint64_t map_young_other_bytes;   /* of map_ok_bytes: anon and mapped pages not aged yet (paddr maps) */
	uint64_t preview_generation;      /* the map the preview was planned on (0: none yet) */
	size_t preview_nr;
	uint64_t preview_bad_bytes, preview_ok_bytes;
	uint64_t pass_pages, pass_us, first_map_us; /* the last pass of the map; when the first arrived */
	unsigned pass_steps;
	struct ctrl_charge_adj adj[CTRL_CHARGE_ADJ_HISTORY];
	unsigned nr_adj;
};

/* At most this many exclusions per target: the union of the slots' reject ranges (as manager.c cut them). */
#define CTRL_CHARGE_MAX_CUTS (CHARGE_MAX_FILTERS * 4)
/* The oracle's map geometry (the host's pageflags_map_init()). */
#define CTRL_PAGEFLAGS_CHUNK_SZ (2ULL << 20)
/* a physical map rescanned early (ctrl_sensor_needs.pageflags_free_drop_bytes) is at least this old, and at
 * least a quarter of its period */
#define CTRL_PAGEFLAGS_EARLY_GAP_US 250000ULL
#define CTRL_PAGEFLAGS_PAGE_SZ 4096ULL
/* A virtual map's pass reads at most this many pages per tick (1 GiB of mappings: 2 MiB of pagemap,
 * and a kpageflags read per run of contiguous PFNs). */
#define CTRL_VMAP_STEP_PAGES (256ULL * 1024)
/* A virtual map holds at most this many mapping ranges (the rest of a process's mappings is left out). */
#define CTRL_VMAP_MAX_RANGES 4096

/* ---- region refinement (lib/ctrl-refine-ops.c) ----------------------------- */

struct ctrl_refine_state {
	struct refine_state rs;
	struct refine_decision last;
	int pid;      /* the kdamond process the state is about (0: refinement not running) */
	uint64_t key; /* hash of the parameters and targets setup() saw */
};

/* The refinement parameters for env e (was manager.c's kd_refine() initialiser and refine_interval_us()). */
void ctrl_refine_params(const struct ctrl_env *e, struct refine_params *ret);
