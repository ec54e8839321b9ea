# SPDX-License-Identifier: GPL-2.0-or-later
# boot: the guest came up, DAMON's sysfs interface is there; report which
# optional files this kernel has (damond probes files, not versions: F5).
. /scenarios/lib.sh

mark kernel="$(uname -r)" suite="$(cat /etc/damond-vm/suite 2>/dev/null)" \
	version="$(cat /etc/damond-vm/version 2>/dev/null)" nproc="$(nproc)" \
	memtotal_kib="$(meminfo MemTotal)"
assert has_file "$damon_admin"
assert has_file "$damon_kdamonds/nr_kdamonds"

st=none
if has_file /sys/module/damon_stat/parameters/enabled; then
	st=$(cat /sys/module/damon_stat/parameters/enabled)
fi
mark damon_stat="$st"

damon_setup 1
kd=$damon_kdamonds/0
c=$(damon_ctx)
sysfs_write "$c/schemes/nr_schemes" 1
sysfs_write "$c/targets/nr_targets" 1
s=$c/schemes/0

assert_eq "$(damon_state)" off "kdamond 0 state"
ops=$(sysfs_read "$c/avail_operations" | tr '\n' ' ')
case " $ops " in *" paddr "*) ;; *) fail "no paddr in avail_operations: $ops" ;; esac
case " $ops " in *" vaddr "*) ;; *) fail "no vaddr in avail_operations: $ops" ;; esac
mark avail_operations="$(echo $ops | tr ' ' ',')"

yn() { if has_file "$1"; then echo yes; else echo no; fi; }
mark kdamond_files="$(ls "$kd" | tr '\n' ',' | sed 's/,$//')"
mark scheme_files="$(ls "$s" | tr '\n' ',' | sed 's/,$//')"
mark quota_files="$(ls "$s/quotas" | tr '\n' ',' | sed 's/,$//')"
mark stats_files="$(ls "$s/stats" | tr '\n' ',' | sed 's/,$//')"
mark refresh_ms="$(yn "$kd/refresh_ms")" fail_charge="$(yn "$s/quotas/fail_charge_num")" \
	goal_tuner="$(yn "$s/quotas/goal_tuner")" core_filters="$(yn "$s/core_filters")" \
	ops_filters="$(yn "$s/ops_filters")" dests="$(yn "$s/dests")" \
	addr_unit="$(yn "$c/addr_unit")" filters="$(yn "$s/filters")"
mark tracefs="$(yn /sys/kernel/tracing/events/damon/damon_aggregated)" \
	btf="$(yn /sys/kernel/btf/vmlinux)" \
	damos_before_apply="$(yn /sys/kernel/tracing/events/damon/damos_before_apply)" \
	zram="$(yn /sys/block/zram0)"
assert has_file /sys/kernel/tracing/events/damon/damon_aggregated

sysfs_write "$damon_kdamonds/nr_kdamonds" 0
assert_eq "$(sysfs_read "$damon_kdamonds/nr_kdamonds")" 0 "nr_kdamonds after reset"
exit 0
