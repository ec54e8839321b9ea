# SPDX-License-Identifier: GPL-2.0-or-later
# charge-shapes: the charge-ratio scenario (charge-lib.sh) over several
# shapes of failing memory and fail charge modes, one after the other in one
# guest (bench/charge-ratio's rows, issue 17). Measures; asserts nothing
# beyond what run_charge itself needs.
#   dt_charge_shapes  comma list of run_charge shapes (default mlock; pagecache
#                     and mix need a disk: bench/vm-run -d 1G)
#   dt_charge_modes   comma list of off|auto|emulate (default off,auto,emulate;
#                     emulate is skipped where the kernel has no
#                     quotas/fail_charge_num, there auto already emulates,
#                     and where it has them, damond refuses it: charge-bound)
#   dt_charge_secs    length of each sampling phase (default 60)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
secs=$(dt_param charge_secs 60)
auto_mode=""
for shape in $(dt_param charge_shapes mlock | tr ',' ' '); do
	for mode in $(dt_param charge_modes off,auto,emulate | tr ',' ' '); do
		if [ "$mode" = emulate ] && [ "$auto_mode" = emulated ]; then
			info "skipping $shape/emulate: auto emulates on this kernel"
			continue
		fi
		if [ "$mode" = emulate ] && { [ "$auto_mode" = native ] || kernel_has_fail_charge; }; then
			info "skipping $shape/emulate: damond refuses it where the kernel charges failures itself"
			continue
		fi
		run_charge "$mode" "$shape" "$secs"
		[ "$mode" = auto ] && auto_mode=$R_MODE
	done
done
exit 0
