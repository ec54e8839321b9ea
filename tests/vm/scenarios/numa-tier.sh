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
damond_stop
exit 0
