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
mark baseline_pct="$base" ratio_pct="$emu" ratio_mode="$R_MODE" ratio_max_window_x100="$R_MAXX100" \
	ratio_max_pair_x100="$R_PAIRX100" ratio_max_3win_x100="$R_TRIX100" ratio_kernel_quota_max="$R_KMAX" \
	ratio_reclaim_s="$R_RECLAIM_S"
# The mode follows the kernel: native where quotas/fail_charge_num exists, else damond's emulation.
if has_file "$damon_kdamonds/0/contexts/0/schemes/0/quotas/fail_charge_num"; then
	assert_eq "$R_MODE" native "fail charge mode on a kernel with the files"
else
	assert_eq "$R_MODE" emulated "fail charge mode on a kernel without the files"
	# a controller that never acts cannot pass: it must have changed what the kernel enforces
	assert_eq "$R_ADJ" yes "the emulation adjusted the kernel"
fi
# Absolute bounds (a second phase can do better than the first by itself, so
# "beats the baseline" alone is not enough): >= 80 % of the quota, the
# reclaimable memory gone within the phase, no window above 1.1 x the quota.
assert_ge "$(echo "$emu" | cut -d. -f1)" 80 "% of quota with the fail charge ratio"
[ "$(awk -v a="$emu" -v b="$base" 'BEGIN { print (a > b + 10) ? 1 : 0 }')" = 1 ] ||
	fail "the fail charge ratio ($emu % of quota) does not beat the baseline ($base %) by 10 points"
[ "$(awk -v r="$R_RECLAIM_S" 'BEGIN { print (r >= 0) ? 1 : 0 }')" = 1 ] || fail "the reclaimable memory was not gone within the phase"
# No window above 1.1 x the quota. Structurally: the kernel enforces the
# quota damond gives it, per window, so damond must never ask for more than
# the user's quota (status: current value and every adjustment). Measured:
# stats are sampled every 0.2-0.5 s, so a sample straddling a rollover moves
# bytes between neighbouring windows; the mean over three consecutive
# windows cancels that and still shows a real overshoot.
assert_le "$R_KMAX" $((CHARGE_Q * 11 / 10)) "largest quota damond gave the kernel"
assert_le "$R_TRIX100" 110 "largest mean of three consecutive windows, % of quota"
exit 0
