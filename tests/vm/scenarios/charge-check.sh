# SPDX-License-Identifier: GPL-2.0-or-later
# charge-check: on a kernel without quotas/fail_charge_num (6.12), damond's
# emulation of fail_charge_ratio 1/4096 beats the baseline and never applies
# more than 1.1 x the quota in any window (the issue's VM test).
#   dt_charge_secs  length of each sampling phase (default 40)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
secs=$(dt_param charge_secs 40)
run_charge off 1 "$secs"
base=$R_PCT
run_charge auto 1 "$secs"
emu=$R_PCT
mark baseline_pct="$base" emulated_pct="$emu" emulated_max_window_x100="$R_MAXX100"
[ "$(awk -v a="$emu" -v b="$base" 'BEGIN { print (a > b + 10) ? 1 : 0 }')" = 1 ] ||
	fail "the emulation ($emu % of quota) does not beat the baseline ($base %) by 10 points"
assert_le "$R_MAXX100" 110 "largest window, % of quota"
exit 0
