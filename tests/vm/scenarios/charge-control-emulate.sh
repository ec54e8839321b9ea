# SPDX-License-Identifier: GPL-2.0-or-later
# charge-control-emulate: the charge-ratio scenario, fail charge mode 'emulate', control without mlock (charge-lib.sh).
#   dt_charge_secs  length of the sampling phase (default 60)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
kernel_has_fail_charge && skip "damond refuses fail_charge_mode: emulate where the kernel has quotas/fail_charge_num (charge-bound)"
run_charge emulate 0 "$(dt_param charge_secs 60)"
exit 0
