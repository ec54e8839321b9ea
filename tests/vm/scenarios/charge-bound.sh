# SPDX-License-Identifier: GPL-2.0-or-later
# charge-bound: the quota bound of the charge-ratio emulation in the mode
# charge-check does not cover, forced (fail_charge_mode: emulate), on every
# kernel (issue 17).
#  - Where the kernel has quotas/fail_charge_num (7.2, 7.3), every commit
#    gives a scheme a fresh quota (scenario quota-commit), and the emulation
#    acts by committing: forced there it read 1.31 x the quota over three
#    windows on 7.3. damond refuses it: it must exit with the config error
#    at the key's position, with no kdamond turned on.
#  - Elsewhere (6.12) forced is what auto does: on the hugetlb shape (1 GiB
#    of mapped hugetlb pages, then 700 MiB idle anon; charge-lib.sh) no quota
#    above 1.1 x Q given to the kernel, the mean of any three consecutive
#    kernel windows at or below 1.1 x Q, and full windows full of applied
#    bytes (a bound not kept by applying nothing).
#   dt_charge_secs   length of the sampling phase (default 60)
#   dt_charge_shape  the shape (default hugetlb)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
if kernel_has_fail_charge; then
	charge_config emulate | damond_write_config
	timeout -s KILL 60 damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" --no-bpf > /tmp/charge-bound.log 2>&1
	rc=$?
	sed 's/^/[damond] /' /tmp/charge-bound.log | tail -n 5
	mark emulate_refused_rc="$rc"
	[ "$rc" != 0 ] && [ "$rc" != 137 ] || fail "damond did not refuse fail_charge_mode: emulate (exit $rc)"
	grep -q "damond.yaml:[0-9]*:[0-9]*: kdamonds.reclaim.schemes.pageout.quotas.fail_charge_mode: 'emulate' refused" \
		/tmp/charge-bound.log || fail "no config error naming fail_charge_mode at its position"
	n=$(cat "$damon_kdamonds/nr_kdamonds")
	mark nr_kdamonds_after="$n"
	i=0
	while [ $i -lt "$n" ]; do
		assert_eq "$(damon_state $i)" off "state of kdamond $i after the refusal"
		i=$((i + 1))
	done
	exit 0
fi
run_charge emulate "$(dt_param charge_shape hugetlb)" "$(dt_param charge_secs 60)"
mark emulate_pct="$R_PCT" emulate_per_full_window_pct="$R_FULLWIN" emulate_full_speed_s="$R_TFS" \
	emulate_max_window_x100="$R_MAXX100" emulate_max_3win_x100="$R_TRIX100" emulate_kernel_quota_max="$R_KMAX"
assert_eq "$R_MODE" emulated "fail charge mode with fail_charge_mode: emulate"
assert_eq "$R_ADJ" yes "the emulation adjusted the kernel"
assert_ge "$R_FULLWIN" 85 "% of the quota applied per window the kernel charged full"
assert_le "$R_KMAX" $((CHARGE_Q * 11 / 10)) "largest quota damond gave the kernel"
assert_le "$R_TRIX100" 110 "largest mean of three consecutive windows, % of quota"
exit 0
