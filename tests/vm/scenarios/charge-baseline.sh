# SPDX-License-Identifier: GPL-2.0-or-later
# charge-baseline: the charge-ratio scenario, fail charge mode 'off'; shape dt_charge_shape (default mlock, charge-lib.sh).
#   dt_charge_secs  length of the sampling phase (default 60)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
run_charge off "$(dt_param charge_shape mlock)" "$(dt_param charge_secs 60)"
exit 0
