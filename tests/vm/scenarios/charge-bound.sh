# SPDX-License-Identifier: GPL-2.0-or-later
# charge-bound: damond's charge-ratio emulation, forced (fail_charge_mode:
# emulate) on every kernel, on the hugetlb shape (1 GiB of mapped hugetlb
# pages, then 700 MiB idle anon; charge-lib.sh), never lets more than the
# user's quota through: no quota above 1.1 x Q given to the kernel, and the
# mean of any three consecutive kernel windows at or below 1.1 x Q (issue
# 17: 1.31 x on 7.3 before the emulation knew that a commit restarts the
# quota window there). charge-check covers the default mode.
#   dt_charge_secs   length of the sampling phase (default 60)
#   dt_charge_shape  the shape (default hugetlb)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
run_charge emulate "$(dt_param charge_shape hugetlb)" "$(dt_param charge_secs 60)"
mark emulate_pct="$R_PCT" emulate_per_full_window_pct="$R_FULLWIN" emulate_full_speed_s="$R_TFS" \
	emulate_max_window_x100="$R_MAXX100" emulate_max_3win_x100="$R_TRIX100" emulate_kernel_quota_max="$R_KMAX"
assert_eq "$R_MODE" emulated "fail charge mode with fail_charge_mode: emulate"
assert_eq "$R_ADJ" yes "the emulation adjusted the kernel"
# not a bound kept by applying nothing: the kernel's full windows are full of applied bytes
assert_ge "$R_FULLWIN" 85 "% of the quota applied per window the kernel charged full"
assert_le "$R_KMAX" $((CHARGE_Q * 11 / 10)) "largest quota damond gave the kernel"
assert_le "$R_TRIX100" 110 "largest mean of three consecutive windows, % of quota"
exit 0
