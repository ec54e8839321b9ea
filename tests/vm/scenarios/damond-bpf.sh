# SPDX-License-Identifier: GPL-2.0-or-later
# damond-bpf: damond watches its kdamonds through the BPF ring buffer. The
# damon_aggregated events the BPF side saw (received by damond, plus those of
# the aggregations its gate skipped) equal nr_regions x aggregations/s
# (counted independently through tracefs) within 10 %, with 0 drops; the gate
# (1 s, the stats interval) forwards at most one aggregation a second; and a
# workload's hot range shows up hot in `damondctl regions`. Scheme stats
# come from damos_stat_after_apply_interval events with no
# update_schemes_stats commands where BPF has that event (7.0+), from sysfs
# otherwise. damos_before_apply is not attached. Then the same with
# --no-bpf: status says sysfs polling and why.
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
damondctl status --json | grep '"programs"' | sed 's/.*: "\(.*\)".*/\1/' | sed 's/^/programs: /' 
# damond attaches only what it reads: never damos_before_apply (per region and scheme in the kdamond)
before_apply=$(damondctl status --json | grep '"programs"' | sed -n 's/.*before_apply=\([a-z_0-9]*\).*/\1/p')
mark before_apply_program="$before_apply"
assert_eq "$before_apply" off "damos_before_apply program"
kpid=$(kd_pid 0)
sleep 3
received() {	# damon_aggregated events damond received so far, and those the gate skipped
	damondctl status --json | tr -d ' \n' |
		sed -n 's/.*"aggregated":{"per_s":[0-9.e+-]*,"received":\([0-9]*\),"drops":[0-9]*,"skipped":\([0-9]*\).*/\1 \2/p'
}
# Independent count: the same event of the same kdamond through tracefs, same window.
tr=/sys/kernel/tracing
ev=$tr/events/damon/damon_aggregated
echo 0 > $tr/tracing_on
echo > $tr/trace
echo 8192 > $tr/buffer_size_kb 2>/dev/null
echo "common_pid == $kpid" > $ev/filter
echo 1 > $ev/enable
set -- $(received); r1=$1 s1=$2
echo 1 > $tr/tracing_on
sleep "$secs"
echo 0 > $tr/tracing_on
set -- $(received); r2=$1 s2=$2
echo 0 > $ev/enable
echo 0 > $ev/filter
n_trace=$(grep -c 'damon_aggregated:' $tr/trace)
aggr_trace=$(awk '/damon_aggregated:/ { for (i = 1; i <= NF; i++) if ($i ~ /^nr_regions=/) { split($i, a, "="); if (a[2] > 0) s += 1 / a[2] } } END { printf "%.2f", s }' $tr/trace)
echo > $tr/trace
damondctl status --json | tr -d ' \n' > /tmp/st.json
drops=$(sed -n 's/.*"monitor":{[^}]*"drops":\([0-9]*\).*/\1/p' /tmp/st.json)
nr=$(sed -n 's/.*"snapshot":{"nr_regions":\([0-9]*\).*/\1/p' /tmp/st.json)
n_recv=$((r2 - r1)) n_skip=$((s2 - s1))
n_bpf=$((n_recv + n_skip))
gate=$(sed -n 's/.*"aggregation_gate_ms":\([0-9]*\).*/\1/p' /tmp/st.json)
skipped=$(sed -n 's/.*"aggregations_skipped":\([0-9]*\).*/\1/p' /tmp/st.json)
# aggregations forwarded in the window: received events over the regions per aggregation
fwd=$(awk -v r="$n_recv" -v t="$n_trace" -v a="$aggr_trace" 'BEGIN { printf "%.2f", (t > 0 ? r * a / t : 0) }')
mark bpf_events="$n_bpf" received_events="$n_recv" skipped_events="$n_skip" tracefs_events="$n_trace" secs="$secs" \
	aggregations="$aggr_trace" forwarded_aggregations="$fwd" aggregation_gate_ms="$gate" \
	aggregations_skipped="$skipped" nr_regions_now="$nr" drops="$drops"
assert_ge "$nr" 1 "snapshot nr_regions"
assert_eq "$drops" 0 "ring buffer drops"
assert_ge "$n_trace" 1 "tracefs events"
# events = nr_regions x aggregations: what BPF saw (forwarded + skipped) within 10 % of tracefs's, same window
ok=$(awk -v b="$n_bpf" -v t="$n_trace" 'BEGIN { d = b - t; if (d < 0) d = -d; print (d <= 0.1 * t) ? 1 : 0 }')
[ "$ok" = 1 ] || fail "BPF saw $n_bpf damon_aggregated events in ${secs}s ($n_recv received, $n_skip skipped), tracefs saw $n_trace: more than 10 % apart"
# the gate: 1 s (the stats interval), at most one aggregation forwarded a second, the others skipped
assert_eq "$gate" 1000 "aggregation gate (ms)"
assert_ge "$skipped" 1 "aggregations skipped by the gate"
ok=$(awk -v f="$fwd" -v s="$secs" 'BEGIN { print (f <= s + 1.5 && f >= s / 2) ? 1 : 0 }')
[ "$ok" = 1 ] || fail "$fwd aggregations forwarded in ${secs}s with a 1 s gate (tracefs: $aggr_trace aggregations)"

# the hot range is hot in damondctl regions
hs=$((MEMHOG_HOT_START)) he=$((MEMHOG_HOT_END))
hot=$(accessed_bytes workload "$hs" "$he")
mark hot_range_bytes=$((he - hs)) hot_seen_bytes="$hot"
assert_ge "$hot" $(( (he - hs) * 3 / 4 )) "hot bytes seen in the hot range"
damondctl regions workload | head -n 12

# Scheme stats: from damos_stat_after_apply_interval events where BPF has
# them (7.0+), with no update_schemes_stats commands; else from sysfs.
scheme_stat=$(damondctl status --json | tr -d ' \n' | sed -n 's/.*"programs":"[^"]*scheme_stat=\([a-z_]*\).*/\1/p')
stats_src() {
	damondctl status --json | tr -d ' \n' | sed -n 's/.*"sz_ops_filter_passed":[^,]*,"source":"\([a-z]*\)".*/\1/p'
}
stats_cmds() {
	damondctl status --json | tr -d ' \n' | sed -n 's/.*"stats_commands":\([0-9]*\).*/\1/p'
}
tried() {
	damondctl status --json | tr -d ' \n' | sed -n 's/.*"stats":{"nr_tried":\([0-9]*\).*/\1/p'
}
c1=$(stats_cmds); t1=$(tried)
sleep 4
c2=$(stats_cmds); t2=$(tried); src=$(stats_src)
mark scheme_stat_program="$scheme_stat" stats_source="$src" stats_commands_in_4s=$((c2 - c1)) nr_tried_in_4s=$((t2 - t1))
assert_ge "$((t2 - t1))" 1 "the stat scheme's nr_tried grows"
if [ -n "$scheme_stat" ] && [ "$scheme_stat" != off ]; then
	assert_eq "$src" bpf "scheme stats source with damos_stat_after_apply_interval attached"
	assert_eq "$((c2 - c1))" 0 "update_schemes_stats commands while events carry the stats"
else
	assert_eq "$src" sysfs "scheme stats source without damos_stat_after_apply_interval"
	assert_ge "$((c2 - c1))" 2 "update_schemes_stats commands (stats_interval 1s)"
fi
damond_stop

# fallback
damond_start
damondctl status --json | tr -d ' \n' > /tmp/st.json
src=$(sed -n 's/.*"monitor":{"source":"\([a-z-]*\)".*/\1/p' /tmp/st.json)
assert_eq "$src" sysfs-polling "monitor source with --no-bpf"
grep -q '"reason":"disabledwith--no-bpf"' /tmp/st.json || fail "status does not say why BPF is off"
mark fallback=ok
exit 0
