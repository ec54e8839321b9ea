# SPDX-License-Identifier: GPL-2.0-or-later
# damond-bpf: damond watches its kdamonds through the BPF ring buffer. The
# damon_aggregated event rate equals nr_regions x aggregations/s (counted
# independently through tracefs) within 10 %, with 0 drops, and a
# workload's hot range shows up hot in `damondctl regions`. Then the same
# with --no-bpf: status says sysfs polling and why.
#   dt_bpf_secs  measuring window (default 10)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
secs=$(dt_param bpf_secs 10)

start_memhog -m 64 -H 8
damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: workload
    ops: vaddr
    nr_regions: {min: 10, max: 1000}
    targets:
      - pid: $MEMHOG_PID
    schemes:
      - name: watch
        action: stat
EOC
mkdir -p "$DAMOND_RUNTIME"
damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" >> "$DAMOND_LOG" 2>&1 &
DAMOND_PID=$!
wait_for "damondctl status" 30 0.2 || { tail -n 20 "$DAMOND_LOG"; fail "damond did not answer"; }
damondctl status --json | tr -d ' \n' > /tmp/st.json
src=$(sed -n 's/.*"monitor":{"source":"\([a-z-]*\)".*/\1/p' /tmp/st.json)
if [ "$src" != bpf ]; then
	tail -n 20 "$DAMOND_LOG"
	fail "monitor source is '$src', not bpf: $(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' /tmp/st.json)"
fi
mark programs="$(sed -n 's/.*"programs":"\([^"]*\)".*/\1/p' /tmp/st.json | tr ' ' ',')"
kpid=$(kd_pid 0)
sleep 3
# independent count: tracefs, same kdamond, same window
aggr=$(trace_count_aggregations "$kpid" "$secs")
damondctl status --json | tr -d ' \n' > /tmp/st.json
rate=$(sed -n 's/.*"aggregated":{"per_s":\([0-9.e+]*\).*/\1/p' /tmp/st.json)
drops=$(sed -n 's/.*"monitor":{[^}]*"drops":\([0-9]*\).*/\1/p' /tmp/st.json)
nr=$(sed -n 's/.*"snapshot":{"nr_regions":\([0-9]*\).*/\1/p' /tmp/st.json)
mark bpf_aggregated_per_s="$rate" tracefs_aggr_per_s="$aggr" nr_regions="$nr" drops="$drops"
assert_ge "$nr" 1 "snapshot nr_regions"
assert_eq "$drops" 0 "ring buffer drops"
# events/s / nr_regions vs aggregations/s: within 10 %
ok=$(awk -v r="$rate" -v n="$nr" -v a="$aggr" 'BEGIN { e = r / n; d = e - a; if (d < 0) d = -d; print (a > 0 && d <= 0.1 * a) ? 1 : 0 }')
[ "$ok" = 1 ] || fail "BPF aggregation rate $rate/$nr per s vs tracefs $aggr per s: more than 10 % apart"

# the hot range is hot in damondctl regions
damondctl regions workload --json | tr -d ' \n' | sed 's/},{/}\n{/g' > /tmp/regions.txt
hs=$((MEMHOG_HOT_START)) he=$((MEMHOG_HOT_END))
hot=$(awk -F'[:,}]' -v hs="$hs" -v he="$he" '
	{ s = e = a = -1
	  for (i = 1; i < NF; i++) {
		if ($i ~ /"start"$/) s = $(i + 1); if ($i ~ /"end"$/) e = $(i + 1); if ($i ~ /"nr_accesses"$/) a = $(i + 1) }
	  if (s >= 0 && a > 0) { lo = s > hs ? s : hs; hi = e < he ? e : he; if (hi > lo) t += hi - lo } }
	END { printf "%d", t }' /tmp/regions.txt)
mark hot_range_bytes=$((he - hs)) hot_seen_bytes="$hot"
assert_ge "$hot" $(( (he - hs) * 3 / 4 )) "hot bytes seen in the hot range"
damondctl regions workload | head -n 12
damond_stop

# fallback
damond_start
damondctl status --json | tr -d ' \n' > /tmp/st.json
src=$(sed -n 's/.*"monitor":{"source":"\([a-z-]*\)".*/\1/p' /tmp/st.json)
assert_eq "$src" sysfs-polling "monitor source with --no-bpf"
grep -q '"reason":"disabledwith--no-bpf"' /tmp/st.json || fail "status does not say why BPF is off"
mark fallback=ok
exit 0
