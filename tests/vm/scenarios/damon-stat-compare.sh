# SPDX-License-Identifier: GPL-2.0-or-later
# damon-stat-compare: damond's DAMON_STAT numbers (lib/damon-stat.c, from its
# own BPF snapshots) against the kernel module's, on the same workload:
# first DAMON_STAT itself (enabled), then DAMON_STAT off and damond running a
# monitoring-only paddr kdamond with the module's parameters. Marks both
# sides' bandwidth, hot share (the percentiles below 0: memory accessed in
# the last aggregation) and idle p50/p90; fails when one side has no data or
# they disagree beyond what two independent samplings of the same memory
# can: hot share more than 25 points apart, bandwidth more than 8x apart.
#   dt_stat_secs  settling time per side (default 30)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
secs=$(dt_param stat_secs 30)
p=/sys/module/damon_stat/parameters
has_file $p/enabled || skip "this kernel has no DAMON_STAT module"
has_file $p/memory_idle_ms_percentiles || skip "this DAMON_STAT has no idle percentiles"

# 256 MiB touched once, 32 MiB of it kept hot
start_memhog -m 256 -H 32

# hot share (percent of memory with a negative idle time) and p50, p90 of a
# comma-separated list of 101 values
summary() {
	echo "$1" | tr ',' '\n' | awk '{ v[NR - 1] = $1; if ($1 < 0) h++ } END { printf "%d %d %d", h, v[50], v[90] }'
}

# ---- the module
[ "$(cat $p/enabled)" = Y ] || sysfs_write $p/enabled Y
sleep "$secs"
mbw=0
for i in 1 2 3; do	# the module refreshes at most every 5 s
	mbw=$((mbw + $(cat $p/estimated_memory_bandwidth) / 3))
	mpct=$(cat $p/memory_idle_ms_percentiles)
	sleep 5
done
set -- $(summary "$mpct")
mhot=$1 mp50=$2 mp90=$3
maggr=$(cat $p/aggr_interval_us 2>/dev/null || echo "?")
sysfs_write $p/enabled N
info "module: bandwidth $mbw B/s, hot $mhot %, p50 $mp50 ms, p90 $mp90 ms, aggr $maggr us"

# ---- damond, DAMON_STAT's parameters, BPF monitor
damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: stat
    ops: paddr
    intervals:
      sample: 5ms
      aggr: 100ms
      ops_update: 60s
      intervals_goal: {access_bp: 400, aggrs: 3, min_sample: 5ms, max_sample: 10s}
    nr_regions: {min: 10, max: 1000}
EOC
mkdir -p "$DAMOND_RUNTIME"
damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" >> "$DAMOND_LOG" 2>&1 &
DAMOND_PID=$!
wait_for "damondctl status" 30 0.2 || { tail -n 20 "$DAMOND_LOG"; fail "damond did not answer"; }
sleep "$secs"
dbw=0
for i in 1 2 3; do
	damondctl status --json | tr -d ' \n' > /tmp/dstat.json
	bw=$(sed -n 's/.*"estimated_memory_bandwidth_bytes_per_second":\([0-9]*\).*/\1/p' /tmp/dstat.json)
	[ -n "$bw" ] || { damondctl status | head -n 30; fail "damond's status has no damon_stat (BPF monitor?)"; }
	dbw=$((dbw + bw / 3))
	dpct=$(sed -n 's/.*"memory_idle_ms_percentiles":\[\([-0-9,]*\)\].*/\1/p' /tmp/dstat.json)
	daggr=$(sed -n 's/.*"damon_stat":{[^}]*"aggr_interval_us":\([0-9]*\).*/\1/p' /tmp/dstat.json)
	sleep 5
done
damondctl status | grep damon_stat
set -- $(summary "$dpct")
dhot=$1 dp50=$2 dp90=$3
info "damond: bandwidth $dbw B/s, hot $dhot %, p50 $dp50 ms, p90 $dp90 ms, aggr $daggr us"
mark module_bw="$mbw" damond_bw="$dbw" module_hot_pct="$mhot" damond_hot_pct="$dhot" \
	module_p50_ms="$mp50" damond_p50_ms="$dp50" module_p90_ms="$mp90" damond_p90_ms="$dp90" \
	module_aggr_us="$maggr" damond_aggr_us="$daggr"

n=$(echo "$dpct" | tr ',' '\n' | grep -c .)
assert_eq "$n" 101 "damond's percentile count"
d=$((mhot - dhot)); [ $d -ge 0 ] || d=$((-d))
[ $d -le 25 ] || fail "hot share: module $mhot %, damond $dhot %: more than 25 points apart"
# bandwidth: both positive (a hot workload runs), within 8x of each other
assert_ge "$mbw" 1 "module bandwidth"
assert_ge "$dbw" 1 "damond bandwidth"
[ $((dbw * 8)) -ge "$mbw" ] && [ $((mbw * 8)) -ge "$dbw" ] ||
	fail "bandwidth: module $mbw B/s, damond $dbw B/s: more than 8x apart"
exit 0
