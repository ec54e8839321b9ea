# SPDX-License-Identifier: GPL-2.0-or-later
# charge-emulate: the charge-ratio scenario, fail charge mode 'emulate'; shape dt_charge_shape (default mlock, charge-lib.sh).
#   dt_charge_secs  length of the sampling phase (default 60)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
kernel_has_fail_charge && skip "damond refuses fail_charge_mode: emulate where the kernel has quotas/fail_charge_num (charge-bound)"
run_charge emulate "$(dt_param charge_shape mlock)" "$(dt_param charge_secs 60)"
exit 0
