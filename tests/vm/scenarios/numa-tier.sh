# SPDX-License-Identifier: GPL-2.0-or-later
# numa-tier: on a two-node guest (run-suite -N 2), a paddr kdamond watching
# node 0 (`regions: {node: 0}`) demotes a workload's cold pages to node 1
# (migrate_cold), the shape of conf/examples/tiering.yaml, while its hot
# range stays on node 0. Where the pages are is read from the kernel
# (memhog -q: move_pages without a destination).
#   dt_tier_wait  seconds to wait for the cold pages to move (default 150)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
[ -d /sys/devices/system/node/node1 ] || skip "the guest has one NUMA node (run-suite -N 2 boots two)"

# the workload on node 0: 240 MiB cold, 16 MiB hot (re-touched every millisecond)
start_memhog -m 256 -H 16 -N -n 0
hog=$MEMHOG_PID
where() {	# START END -> "node0 node1 pages"
	memhog -q "$hog:$1:$2" | sed -n 's/.*pages=\([0-9]*\) node0=\([0-9]*\) node1=\([0-9]*\).*/\2 \3 \1/p'
}
set -- $(where "$MEMHOG_START" "$MEMHOG_END")
mark before_node0="$1" before_node1="$2" pages="$3"
[ -n "$3" ] || fail "memhog -q gave no page count"
assert_ge $(($1 * 100 / $3)) 95 "% of the workload allocated on node 0"

damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: demote
    ops: paddr
    targets:
      - regions: {node: 0}
    schemes:
      - name: cold_to_node1
        action: migrate_cold
        target_nid: 1
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: 2s, max: max}
        filters:
          - {type: young, matching: true}
        quotas:
          bytes: 128M
          reset_interval: 1s
  - name: watch1
    ops: paddr
    targets:
      - regions: {node: 1}
EOC
damond_start
c=$damon_kdamonds/0/contexts/0
# the kernel monitors node 0 only: every range below node 1's first memory block
n1_first=$(ls /sys/devices/system/node/node1 | sed -n 's/^memory\([0-9][0-9]*\)$/\1/p' | sort -n | head -n1)
bs=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
nr=$(cat $c/targets/0/regions/nr_regions)
assert_ge "$nr" 1 "ranges of node 0"
last_end=$(cat $c/targets/0/regions/$((nr - 1))/end)
mark node0_ranges="$nr" node0_end="$last_end" node1_start=$((n1_first * bs))
assert_le "$last_end" $((n1_first * bs)) "end of the monitored ranges against node 1's first block"
damondctl status --details > /tmp/tier.status
grep -q "NUMA node 0" /tmp/tier.status || fail "status does not name NUMA node 0: $(grep -m1 target /tmp/tier.status)"

cold_share() {	# % of the cold pages on node 1 (the part below the hot range and the part above)
	set -- $(where "$MEMHOG_START" "$MEMHOG_HOT_START") $(where "$MEMHOG_HOT_END" "$MEMHOG_END")
	echo $(( ($2 + $5) * 100 / ($3 + $6) ))
}
t0=$(now_ms)
wait_for '[ "$(cold_share)" -ge 90 ]' "$(dt_param tier_wait 150)" 2
moved=$(cold_share)
secs=$(( ($(now_ms) - t0) / 1000 ))
set -- $(where "$MEMHOG_HOT_START" "$MEMHOG_HOT_END")
hot_n1=$(($2 * 100 / $3))
mark cold_on_node1_pct="$moved" hot_on_node1_pct="$hot_n1" secs="$secs" \
	sz_applied="$(status_num sz_applied 2>/dev/null)"
assert_ge "$moved" 90 "% of the cold pages demoted to node 1"
assert_le "$hot_n1" 50 "% of the hot pages demoted to node 1"
assert_eq "$(kd_state 0)" on "kdamond state"
kill -0 "$DAMOND_PID" 2>/dev/null || fail "damond died"

# ---- memory hotplug on node 1, followed without a reload
c1=$damon_kdamonds/1/contexts/0
ranges1() {	# the ranges damond committed for watch1: "START-END ..."
	local n i out=""
	n=$(cat $c1/targets/0/regions/nr_regions)
	for i in $(seq 0 $((n - 1))); do
		out="$out $(cat $c1/targets/0/regions/$i/start)-$(cat $c1/targets/0/regions/$i/end)"
	done
	echo $out
}
before=$(ranges1)
pid1=$(kd_pid 1)
[ "${before%%-*}" -ge $((n1_first * bs)) ] || fail "kdamond 1 does not watch node 1: $before"
off=""
for b in $(ls /sys/devices/system/node/node1 | sed -n 's/^memory\([0-9][0-9]*\)$/\1/p' | sort -rn); do
	[ "$(cat /sys/devices/system/memory/memory$b/state)" = online ] || continue
	if echo offline > /sys/devices/system/memory/memory$b/state 2>/dev/null; then
		off=$b
		break
	fi
done
[ -n "$off" ] || fail "no memory block of node 1 could be offlined (the guest kernel refused every one)"
t0=$(now_ms)
wait_for '[ "$(ranges1)" != "$before" ]' 10 0.1 || fail "node 1's ranges unchanged 10 s after memory$off went offline: $before"
off_ms=$(( $(now_ms) - t0 ))
during=$(ranges1)
off_start=$((off * bs))
for r in $during; do
	s=${r%-*} e=${r#*-}
	[ "$e" -le "$off_start" ] || [ "$s" -ge $((off_start + bs)) ] ||
		fail "a committed range $r still covers the offline block memory$off"
done
echo online > /sys/devices/system/memory/memory$off/state || fail "memory$off did not come back online"
t0=$(now_ms)
wait_for '[ "$(ranges1)" = "$before" ]' 10 0.1 || fail "node 1's ranges not restored 10 s after memory$off came back: $(ranges1) vs $before"
on_ms=$(( $(now_ms) - t0 ))
mark hotplug_block="$off" hotplug_offline_ms="$off_ms" hotplug_online_ms="$on_ms" \
	ranges_before="$(echo $before | wc -w)" ranges_offline="$(echo $during | wc -w)"
assert_eq "$(kd_pid 1)" "$pid1" "kdamond 1's pid across the hotplug (committed online)"
damondctl status --json | grep -q "memory hotplug changed" || fail "status has no retarget action for the hotplug"
damond_stop
exit 0
