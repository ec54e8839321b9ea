/* SPDX-License-Identifier: GPL-2.0-or-later */
/* damond: drives the kernel's DAMON from YAML policies. See damond(8). */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config-load.h"
#include "config.h"
#include "damond-config.h"
#include "exit-codes.h"
#include "log.h"
#include "manager.h"
#ifdef HAVE_BPF
#include "events.h"
#endif
#include "snapshot.h"

static const char *arg_config = DAMOND_SYSCONFDIR "/damond.yaml";
static const char *arg_sysfs_root = SYSFS_DEFAULT_ROOT;
static const char *arg_procfs_root = PROCFS_DEFAULT_ROOT;
static const char *arg_runtime_dir = DAMOND_RUNTIME_DIR;
static bool arg_check;
static bool arg_kernel;
static bool arg_dry_run;
static bool arg_no_bpf;
static const char *arg_record_events;
/* the signal mask damond was started with (main() blocks the signals it handles) */
static sigset_t orig_sigmask;

static void help(void)
{
	printf("Usage: damond [OPTIONS]\n\n"
	       "Drive the kernel's DAMON from the policies in a YAML file.\n\n"
	       "  -c --config=FILE       configuration (default %s/damond.yaml)\n"
	       "     --check             validate the configuration and exit\n"
	       "     --kernel            with --check: also against the running kernel's DAMON\n"
	       "                         features, probed read-only (under --sysfs-root)\n"
	       "     --dry-run           compute and log every write, write nothing\n"
	       "     --sysfs-root=DIR    where sysfs is (default %s; tests use a fake tree)\n"
	       "     --procfs-root=DIR   where procfs is (default %s)\n"
	       "     --runtime-dir=DIR   control socket and ownership record (default %s)\n"
	       "     --no-bpf            watch DAMON by polling sysfs, without BPF\n"
	       "     --record-events=FILE  write the BPF monitor's records to FILE (a replay recording)\n"
	       "     --log-level=LEVEL   err, warning, notice, info, debug (default info)\n"
	       "  -h --help              this text\n"
	       "     --version           the version\n\n"
	       "See damond(8), damond.yaml(5) and damondctl(8).\n",
	       DAMOND_SYSCONFDIR, SYSFS_DEFAULT_ROOT, PROCFS_DEFAULT_ROOT, DAMOND_RUNTIME_DIR);
}

/* long options without a short letter */
enum {
	ARG_CHECK = 0x100,
	ARG_KERNEL,
	ARG_DRY_RUN,
	ARG_SYSFS,
	ARG_PROCFS,
	ARG_RUNTIME,
	ARG_NO_BPF,
	ARG_RECORD,
	ARG_LOG,
	ARG_VERSION
};

static int parse_argv(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, ARG_CHECK },
		{ "kernel", no_argument, NULL, ARG_KERNEL },
		{ "dry-run", no_argument, NULL, ARG_DRY_RUN },
		{ "sysfs-root", required_argument, NULL, ARG_SYSFS },
		{ "procfs-root", required_argument, NULL, ARG_PROCFS },
		{ "runtime-dir", required_argument, NULL, ARG_RUNTIME },
		{ "no-bpf", no_argument, NULL, ARG_NO_BPF },
		{ "record-events", required_argument, NULL, ARG_RECORD },
		{ "log-level", required_argument, NULL, ARG_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case ARG_CHECK:
			arg_check = true;
			break;
		case ARG_KERNEL:
			arg_kernel = true;
			break;
		case ARG_DRY_RUN:
			arg_dry_run = true;
			break;
		case ARG_SYSFS:
			arg_sysfs_root = optarg;
			break;
		case ARG_PROCFS:
			arg_procfs_root = optarg;
			break;
		case ARG_RUNTIME:
			arg_runtime_dir = optarg;
			break;
		case ARG_NO_BPF:
			arg_no_bpf = true;
			break;
		case ARG_RECORD:
			arg_record_events = optarg;
			break;
		case ARG_LOG: {
			int l = log_level_from_string(optarg);

			if (l < 0)
				return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unknown log level '%s'", optarg);
			log_set_max_level(l);
			break;
		}
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("damond %s\n", DAMOND_VERSION);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unexpected argument '%s'", argv[optind]);
	if (arg_kernel && !arg_check)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--kernel only goes with --check");
	return 1;
}

static int load_config(struct damond_config **ret)
{
	struct config_errors errs = {};
	int r;

	r = config_load_apart(arg_config, ret, &errs);
	log_config_errors(&errs);
	config_errors_done(&errs);
	return r;
}

/*
 * --check --kernel: the configuration against what the running kernel
 * offers, learned without writing anything (features_probe_kernel). Where a
 * feature cannot be probed (no kdamond directory to look into, no record of
 * an earlier damond), what the policy needs of it is listed as not checked
 * (a warning): damond probes the files themselves at start, and never
 * guesses a feature from the kernel release.
 */
static int check_kernel(const struct damond_config *config)
{
	_cleanup_(sysfs_root_freep) struct sysfs_root *root = NULL;
	struct config_errors errs = {}, hints = {};
	struct damon_features f;
	const char *source;
	int r;

	r = sysfs_root_open(arg_sysfs_root, &root);
	if (r < 0) {
		log_error_errno(r, "cannot open the sysfs root '%s': %m", arg_sysfs_root);
		return DAMOND_EXIT_UNSUPPORTED;
	}
	r = features_probe_kernel(root, arg_runtime_dir, &f, &source);
	if (r < 0) {
		log_error("'%s/" DAMON_ADMIN_DIR "' not found: this kernel has no DAMON sysfs interface "
			  "(CONFIG_DAMON_SYSFS)", arg_sysfs_root);
		return DAMOND_EXIT_UNSUPPORTED;
	}
	r = features_check_config(&f, config, &errs);
	log_config_errors(&errs);
	config_errors_done(&errs);
	if (r < 0) {
		log_error("'%s' needs DAMON features this kernel lacks (probed from %s)", arg_config, source);
		return DAMOND_EXIT_UNSUPPORTED;
	}
	if (features_mark_unknown_absent(&f) > 0 && features_check_config(&f, config, &hints) < 0) {
		for (size_t i = 0; i < hints.n; i++) {
			_cleanup_free_ char *line = NULL;

			if (config_error_format(&hints.v[i], &line) >= 0)
				log_warning("not checked: %s (no kdamond directory to probe without writing; damond "
					    "probes the files at start)", line);
		}
	}
	config_errors_done(&hints);
	for (int i = 0; i < _DAMON_MODULE_MAX; i++)
		if (f.module[i] == MODULE_ON && !config->settings.allow_disable[i])
			log_warning("%s is enabled: damond will refuse to start unless "
				    "'allow_disable_modules' names it (or it is switched off)",
				    damon_module_to_string(i));
	printf("kernel: DAMON features probed from %s\n", source);
	return DAMOND_EXIT_OK;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct config_errors errs = {};

	log_info("SIGHUP: reloading '%s'", arg_config);
	(void)manager_reload(userdata, &errs);
	config_errors_done(&errs);
	return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;

	log_info("%s received", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
	return sd_event_exit(m->event, 0);
}

/*
 * BPF is for the real machine only: a damond pointed at another sysfs root
 * (tests, a fake kernel) must never attach to this host's tracepoints.
 */
#ifdef HAVE_BPF
/*
 * Ring-buffer sizing for a policy. A round is what the kdamonds emit in one
 * go: one aggregation of every kdamond (the larger of max_nr_regions and the
 * configured ranges, 24 bytes each in 256-region records) and, were
 * damos_before_apply attached (EVENTS_WANT_DAMOND leaves it out), one apply
 * interval of its records (64 bytes per region and scheme at most); plus an
 * esz and a stat record per scheme. When damond is woken, it may not run
 * before the kdamond has emitted another round (the wakeup can place it on
 * the kdamond's CPU), so 1.25 rounds stay free: that is the headroom. The
 * ring holds 3.25 rounds, so a wakeup comes at most every second round
 * (each wakeup costs a context switch; see docs/BENCHMARKS.md). At least
 * DAMON_EV_RINGBUF_DEFAULT; the loader rounds up to a power of two, and
 * the extra goes to the wake level. A reload does not resize it: a bigger
 * policy may drop events (counted in status) until damond restarts.
 */
static uint64_t round_bytes_for(const struct damond_config *c)
{
	uint64_t round = 0;

	for (size_t k = 0; k < c->nr_kdamonds; k++) {
		const struct damon_ctx_cfg *x = &c->kdamonds[k].ctx;
		uint64_t ranges = 0, regions;

		for (size_t t = 0; t < x->nr_targets; t++)
			ranges += x->targets[t].nr_regions;
		regions = MAX(x->max_nr_regions, ranges);
		/* a record per 256 regions and per target: at most regions/256 + targets + 1 */
		round += regions * sizeof(struct damon_ev_region) +
			 (regions / DAMON_EV_AGGR_BATCH + x->nr_targets + 1) * (DAMON_EV_AGGR_HDR_SIZE + 8) +
			 x->nr_schemes * (sizeof(struct damon_ev_esz) + sizeof(struct damon_ev_scheme_stat) + 16);
		if (EVENTS_WANT_DAMOND & DAMON_EV_WANT(DAMON_EV_BEFORE_APPLY))
			round += x->nr_schemes * regions * (sizeof(struct damon_ev_before_apply) + 8);
	}
	return round;
}

static size_t ringbuf_bytes_for(uint64_t round)
{
	return (size_t)MIN(MAX(round * 13 / 4, (uint64_t)DAMON_EV_RINGBUF_DEFAULT), (uint64_t)64 << 20);
}
#endif

static void setup_monitor(struct manager *m, const struct damond_config *config)
{
	const char *why = NULL;

	if (arg_no_bpf)
		why = "disabled with --no-bpf";
	else if (!streq(arg_sysfs_root, SYSFS_DEFAULT_ROOT))
		why = "the sysfs root is not " SYSFS_DEFAULT_ROOT " (a test or fake kernel): BPF stays off";
	else if (arg_dry_run)
		why = "dry run";
#ifndef HAVE_BPF
	else
		why = "damond was built without BPF support";
#endif
	if (snapshot_store_new(NULL, &m->snapshots) < 0)
		m->snapshots = NULL;
	if (why) {
		if (arg_record_events)
			log_warning("--record-events: nothing to record without the BPF monitor (%s)", why);
		m->bpf_reason = strdup_or_null(why);
		log_info("monitoring by sysfs polling: %s", why);
		return;
	}
#ifdef HAVE_BPF
	{
		_cleanup_free_ char *reason = NULL;
		uint64_t round = round_bytes_for(config);
		int r = manager_events_start(m, ringbuf_bytes_for(round), (size_t)MIN(round * 5 / 4, (uint64_t)SIZE_MAX),
					     &reason);

		if (r < 0) {
			m->bpf_reason = strdup_or_null(reason ? reason : strerror(-r));
			log_notice("BPF monitoring unavailable (%s): falling back to sysfs polling", m->bpf_reason);
		} else {
			log_info("monitoring DAMON through the BPF ring buffer");
			if (arg_record_events)
				(void)manager_record_start(m, arg_record_events);
		}
	}
#endif
}

/* --check: the config is valid (and, with --kernel, this kernel can run it). */
static int run_check(const struct damond_config *config)
{
	size_t ns = 0;
	int r;

	if (arg_kernel) {
		r = check_kernel(config);
		if (r != DAMOND_EXIT_OK)
			return r;
	}
	for (size_t i = 0; i < config->nr_kdamonds; i++)
		ns += config->kdamonds[i].ctx.nr_schemes;
	printf("%s: OK (%zu kdamonds, %zu schemes)\n", arg_config, config->nr_kdamonds, ns);
	return DAMOND_EXIT_OK;
}

/* The manager's paths from the command line, the sysfs root, the runtime directory, the control socket, signals. */
static int setup_manager(struct manager *m)
{
	int r;

	m->dry_run = arg_dry_run;
	m->sysfs_path = strdup(arg_sysfs_root);
	m->procfs_root = strdup(arg_procfs_root);
	m->runtime_dir = strdup(arg_runtime_dir);
	m->config_path = strdup(arg_config);
	if (!m->sysfs_path || !m->procfs_root || !m->runtime_dir || !m->config_path)
		return log_oom();

	r = sysfs_root_open(arg_sysfs_root, &m->root);
	if (r < 0)
		return log_error_errno(r, "cannot open the sysfs root '%s': %m", arg_sysfs_root);
	if (mkdir(arg_runtime_dir, 0755) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "cannot create the runtime directory '%s': %m",
				       arg_runtime_dir);

	/* Refuse early when another damond owns this runtime directory. */
	r = manager_ctl_listen(m);
	if (r < 0)
		return r;

	/* SIGHUP, SIGTERM and SIGINT are blocked since main(): pending ones are delivered here */
	if ((r = sd_event_add_signal(m->event, &m->sighup, SIGHUP, on_sighup, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m)) < 0)
		return log_error_errno(r, "cannot watch signals: %m");
	(void)sd_event_set_watchdog(m->event, true);
	return 0;
}

static int run(int argc, char *argv[])
{
	/*
	 * Keep glibc's mmap threshold fixed: with the default dynamic one, the
	 * first large buffer freed (a snapshot or region array) raises it, and
	 * later large buffers land in the heap, where freeing them leaves
	 * resident holes. Large arrays stay mmapped and go back on free.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/*
	 * No transparent huge pages for damond: its memory is a few MB, used
	 * sparsely (malloc arenas, thread stacks), and with THP "always" (the
	 * Debian kernels' default) khugepaged backs a 2 MB range that has a
	 * single resident page with a huge page: 2 MB more RSS for nothing
	 * (bench/bpf at 20,000 regions: anonymous memory 3,632 KiB with THP,
	 * 1,784 KiB without; docs/BENCHMARKS.md). damond execs nothing that
	 * would inherit the setting.
	 */
	(void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);

	_cleanup_(manager_freep) struct manager *m = NULL;
	_cleanup_(damond_config_freep) struct damond_config *config = NULL;
	int r;

	r = parse_argv(argc, argv);
	if (r < 0)
		return DAMOND_EXIT_USAGE;
	if (r == 0)
		return DAMOND_EXIT_OK;

	/* a check is interactive: ^C and SIGTERM work as usual, also on a config that takes long */
	if (arg_check && sigprocmask(SIG_SETMASK, &orig_sigmask, NULL) < 0)
		return log_error_errno(negative_errno(), "cannot unblock signals: %m");
	r = load_config(&config);
	if (r < 0) {
		log_error_errno(r, "'%s' is not a valid configuration", arg_config);
		return DAMOND_EXIT_CONFIG;
	}
	if (arg_check)
		return run_check(config);

	r = manager_new(&m);
	if (r < 0)
		return log_error_errno(r, "cannot set up the event loop: %m");
	r = setup_manager(m);
	if (r < 0)
		return r;

	setup_monitor(m, config);

	r = manager_start(m, TAKE_PTR(config));
	if (r < 0) {
		int status = m->exit_status ? m->exit_status : DAMOND_EXIT_FAILURE;

		(void)sd_notifyf(false, "STATUS=Failed to start: %s (exit status %d%s)\nERRNO=%d", strerror(-r),
				 status, status == DAMOND_EXIT_FAILURE ? "" : ", not restarted", -r);
		manager_stop(m);
		return status;
	}
	manager_observe_pids(m);
	/* parsing and rendering a big policy leaves free heap behind: return it */
	malloc_trim(0);

	(void)sd_notify(false, "READY=1");
	manager_notify_status(m);
	log_info("ready: %zu kdamond(s) from '%s'%s", m->nr_kd, arg_config, m->dry_run ? " (dry run)" : "");

	r = sd_event_loop(m->event);
	if (r < 0)
		log_error_errno(r, "event loop failed: %m");
	log_info("stopping");
	manager_stop(m);
	/* the last textfile says what damond left behind: kdamonds off (on_exit: stop) or on (keep) */
	manager_metrics_tick(m);
	return r < 0 ? DAMOND_EXIT_FAILURE : DAMOND_EXIT_OK;
}

int main(int argc, char *argv[])
{
	sigset_t mask;
	int r;

	/*
	 * First thing: a SIGHUP (reload) or SIGTERM that arrives while damond
	 * starts must wait for the event loop's signal sources, not kill it
	 * with the default action. Blocked signals stay pending until then.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, &orig_sigmask) < 0) {
		log_error_errno(negative_errno(), "cannot block signals: %m");
		return DAMOND_EXIT_FAILURE;
	}
	/* run() returns a DAMOND_EXIT_* status, or a negative errno for a failure a restart may cure */
	r = run(argc, argv);

	return r < 0 ? DAMOND_EXIT_FAILURE : r;
}
