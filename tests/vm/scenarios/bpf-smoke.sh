# SPDX-License-Identifier: GPL-2.0-or-later
# bpf-smoke: the standalone BPF loader (tests/snapshot/bpf-smoke) asks for
# every event, damos_before_apply included, which damond leaves out. On a
# vaddr kdamond with a stat scheme matching every region (set up by hand, no
# damond), filtered on that kdamond's pid, it must receive damon_aggregated
# and damos_before_apply records with no drops, and assemble snapshots and
# apply records.
#   dt_bpf_smoke_secs  seconds bpf-smoke listens (default 5)
. /scenarios/lib.sh
secs=$(dt_param bpf_smoke_secs 5)
command -v bpf-smoke > /dev/null 2>&1 || skip "bpf-smoke not in the initramfs (build with BPF)"
need_damon_sysfs
damon_stat_module_disable

start_memhog -m 64 -H 8
damon_setup 1
damon_attrs 5000 100000 1000000 10 1000
damon_target_pid "$MEMHOG_PID"
damon_scheme stat 0 4294967295 0 4294967295
damon_on
rc=0
bpf-smoke "$DAMON_PID" "$secs" > /tmp/bpf-smoke.out 2>&1 || rc=$?
sed 's/^/  /' /tmp/bpf-smoke.out
[ "$rc" -ne 77 ] || skip "BPF unavailable: $(sed -n 's/^bpf-smoke: unavailable: //p' /tmp/bpf-smoke.out)"
assert_eq "$rc" 0 "bpf-smoke exit status"
variant=$(sed -n 's/^bpf-smoke: variants.* before_apply=\([a-z_0-9]*\).*/\1/p' /tmp/bpf-smoke.out)
sum() {	# KEY: sum of KEY=N over the per-second lines
	awk -v k="$1" '/^bpf-smoke: events=/ { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) s += a[2] } } END { print s + 0 }' /tmp/bpf-smoke.out
}
total() {	# KEY of the bpf-smoke-total line
	sed -n "s/^bpf-smoke-total:.* $1=\\([0-9]*\\).*/\\1/p" /tmp/bpf-smoke.out
}
aggr=$(sum aggregated) apply=$(sum before_apply)
mark before_apply_variant="$variant" aggregated="$aggr" before_apply="$apply" drops="$(total drops)" \
	snapshots="$(total snapshots)" apply_records="$(total apply_records)"
[ -n "$variant" ] && [ "$variant" != off ] || fail "damos_before_apply is not attached (variant '$variant')"
assert_ge "$aggr" 1 "damon_aggregated events"
assert_ge "$apply" 1 "damos_before_apply events"
assert_eq "$(total drops)" 0 "ring buffer drops"
assert_ge "$(total snapshots)" 1 "snapshots assembled"
assert_ge "$(total apply_records)" 1 "apply records assembled"
damon_off
exit 0
