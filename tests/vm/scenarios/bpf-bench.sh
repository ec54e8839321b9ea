# SPDX-License-Identifier: GPL-2.0-or-later
# bpf-bench: BPF event throughput and cost. One paddr kdamond with N one-page
# regions separated by one-page gaps (never merged, never split: nr_regions
# stays N), 5 ms sampling, 100 ms aggregation (10 aggregations/s). Over a
# window, damond's CPU time is compared with the kdamond's own, in the same
# run; damond's RSS (the larger of end of window and after status calls); events/s and drops.
# aggr_per_s: the kdamond's aggregations/s (the snapshot's aggregation count,
# by aggr_seq); events_per_s: region events damond received per second, i.e.
# fwd_per_s x N, where fwd_per_s are the aggregations the BPF gate forwarded
# (one per stats interval; before the gate, every aggregation was).
#   dt_bench_regions (20000)  dt_bench_secs (20)  dt_bench_sample (5ms)
#   dt_bench_schemes (0: none; N: N `stat` schemes matching every region, so
#   that the kdamond also runs its per-region, per-scheme apply path)
#   dt_bench_metrics (0; 1: the Prometheus textfile on, the file must carry
#   damond_target_nr_regions N at the end)  dt_bench_stats_interval (5s; 1s,
#   the default of damond, with metrics on)
#   dt_bench_nobpf (1; 0: skip the --no-bpf run of the same policy, for
#   before/after pairs that must fit the qemu lock's budget)
#   dt_bench_clocksource (the guest's default)  dt_bench_trace (off; 1: 2 s of
#   ftrace of damond's system calls and context switches into the log, XXT lines)
# A longer sampling interval makes each aggregation cheaper for the kdamond,
# so that it reaches 10 aggregations/s under QEMU's software emulation.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
n=$(dt_param bench_regions 20000)
secs=$(dt_param bench_secs 20)
sample=$(dt_param bench_sample 5ms)
nschemes=$(dt_param bench_schemes 0)
metrics=$(dt_param bench_metrics 0)	# 1: the Prometheus textfile on, rewritten every stats tick
stats=$(dt_param bench_stats_interval "$([ "$metrics" = 1 ] && echo 1s || echo 5s)")
cs=/sys/devices/system/clocksource/clocksource0
[ -z "$(dt_param bench_clocksource '')" ] || echo "$(dt_param bench_clocksource '')" > $cs/current_clocksource
mark clocksource="$(cat $cs/current_clocksource)" available="$(tr ' ' , < $cs/available_clocksource)"
set -- $(system_ram_range)
base=$(( ($1 + (256 << 20)) & ~4095 ))
{
	cat <<EOC
damond:
  stats_interval: $stats
EOC
	[ "$metrics" != 1 ] || printf '  metrics: {textfile: /run/damond-bench.prom}\n'
	cat <<EOC
kdamonds:
  - name: bench
    ops: paddr
    intervals: {sample: $sample, aggr: 100ms, update: 1s}
    nr_regions: {min: 10, max: $n}
    targets:
      - regions:
EOC
	awk -v n="$n" -v b="$base" 'BEGIN { for (i = 0; i < n; i++) printf "          - {start: %d, end: %d}\n", b + i * 8192, b + i * 8192 + 4096 }'
	[ "$nschemes" -eq 0 ] || echo "    schemes:"
	i=1
	while [ "$i" -le "$nschemes" ]; do
		echo "      - {name: stat$i, action: stat}"
		i=$((i + 1))
	done
} > "$DAMOND_CONFIG"
mark schemes="$nschemes" metrics="$metrics" stats_interval="$stats"
mkdir -p "$DAMOND_RUNTIME"
damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" >> "$DAMOND_LOG" 2>&1 &
DAMOND_PID=$!
wait_for "damondctl status" 120 0.5 || { tail -n 20 "$DAMOND_LOG"; fail "damond did not answer"; }
grep -q '"source": "bpf"' <<EOS || { tail -n 5 "$DAMOND_LOG"; fail "damond is not on BPF"; }
$(damondctl status --json)
EOS
kpid=$(kd_pid 0)
sleep 5
ticks() {	# utime+stime of PID, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
recv() {	# region events received, then the kdamond's aggregations (the snapshot's count)
	damondctl status --json | tr -d ' \n' > /tmp/st-recv.json
	sed -n 's/.*"aggregated":{"per_s":[0-9.e+-]*,"received":\([0-9]*\).*/\1/p' /tmp/st-recv.json
}
aggrs() {
	sed -n 's/.*"snapshot":{"nr_regions":[0-9]*,[^}]*"aggregations":\([0-9]*\).*/\1/p' /tmp/st-recv.json
}
drain_ms() {	# damond's time inside ring-buffer drains (ms, integer)
	damondctl status --json | tr -d ' \n' | sed -n 's/.*"drain_ms":\([0-9]*\).*/\1/p'
}
# damond's CPU is measured over a window without damondctl calls (each one
# costs damond a status reply); the event counters are read around it.
t1=$(now_ms); r1=$(recv); a1=$(aggrs); c1=$(drain_ms)
d1=$(ticks "$DAMOND_PID"); k1=$(ticks "$kpid")
u1=$(awk '{ print $14 }' "/proc/$DAMOND_PID/stat"); w1=$(proc_status "$DAMOND_PID" voluntary_ctxt_switches)
f1=$(awk '{ print $10 }' "/proc/$DAMOND_PID/stat"); v1=$(proc_status "$DAMOND_PID" nonvoluntary_ctxt_switches)
sleep "$secs"
d2=$(ticks "$DAMOND_PID"); k2=$(ticks "$kpid")
rss_window=$(proc_status "$DAMOND_PID" VmRSS)	# at the end of the window, before any damondctl call
u2=$(awk '{ print $14 }' "/proc/$DAMOND_PID/stat"); w2=$(proc_status "$DAMOND_PID" voluntary_ctxt_switches)
f2=$(awk '{ print $10 }' "/proc/$DAMOND_PID/stat"); v2=$(proc_status "$DAMOND_PID" nonvoluntary_ctxt_switches)
r2=$(recv); a2=$(aggrs); c2=$(drain_ms); t2=$(now_ms)
# Calibration: what one timer wakeup of an idle process costs in this guest
# while the kdamond runs (a bash loop sleeping 100 ms in read -t, no fork).
mkfifo /tmp/wakeprobe
sh -c 'exec 3<>/tmp/wakeprobe; i=0; while [ $i -lt 100 ]; do read -t 0.1 -u 3 _; i=$((i + 1)); done; awk "{ print \$14 + \$15 }" /proc/$$/stat > /tmp/wakeprobe.ticks' &
wait $!
mark probe_wakeups=100 probe_cpu_ms=$(( $(cat /tmp/wakeprobe.ticks) * 10 ))
s1=$(ticks "$DAMOND_PID")
for _ in 1 2 3 4 5; do damondctl status --json > /dev/null; done
s2=$(ticks "$DAMOND_PID")
mark status_cpu_ms_per_call=$(((s2 - s1) * 10 / 5))
mark damond_utime_ticks=$((u2 - u1)) damond_wakeups=$((w2 - w1)) damond_preempted=$((v2 - v1)) damond_minflt=$((f2 - f1))
damondctl status --json | tr -d ' \n' > /tmp/st.json
drops=$(sed -n 's/.*"monitor":{[^}]*"drops":\([0-9]*\).*/\1/p' /tmp/st.json)
nr=$(sed -n 's/.*"snapshot":{"nr_regions":\([0-9]*\).*/\1/p' /tmp/st.json)
rss=$(proc_status "$DAMOND_PID" VmRSS)
mark rss_end_of_window_kib="$rss_window" rss_after_status_kib="$rss"
# the reported RSS: the larger of the two (each status reply trims the heap)
[ "${rss_window:-0}" -le "${rss:-0}" ] || rss=$rss_window
awk -v d=$((d2 - d1)) -v k=$((k2 - k1)) -v r=$((r2 - r1)) -v ms=$((t2 - t1)) -v nr="$nr" -v drops="$drops" \
	-v ag=$((${a2:-0} - ${a1:-0})) -v rss="$rss" -v kern="$(uname -r | cut -d. -f1,2)" 'BEGIN {
	s = ms / 1000; e = r / s; f = nr > 0 ? e / nr : 0; a = ag / s
	printf "@@DAMOND bpf-bench: result kernel=%s regions=%d aggr_per_s=%.2f events_per_s=%.0f drops=%d cpu_ratio=%.4f rss_kib=%d fwd_per_s=%.2f damond_ticks=%d kdamond_ticks=%d\n",
		kern, nr, a, e, drops, (k > 0 ? d / k : -1), rss, f, d, k }'
if [ "$metrics" = 1 ]; then
	[ -s /run/damond-bench.prom ] || fail "metrics on, but damond wrote no /run/damond-bench.prom"
	pnr=$(sed -n 's/^damond_target_nr_regions{[^}]*} \([0-9]*\)$/\1/p' /run/damond-bench.prom)
	mark prom_lines="$(wc -l < /run/damond-bench.prom)" prom_nr_regions="$pnr"
	[ "$pnr" = "$nr" ] || fail "the textfile's damond_target_nr_regions is '$pnr', the snapshot has $nr"
fi
# where damond's memory and time go: RSS per mapping, snapshot assembly counters
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); if (name == "[anon]") nanon++ } /^Rss:/ { rss[name] += $2 }
	/^AnonHugePages:/ { thp += $2 }
	END { for (n in rss) if (rss[n] >= 64) printf "rss_kib %d %s\n", rss[n], n; else small += rss[n]
	      printf "rss_kib %d (mappings under 64 KiB)\n", small; printf "rss_kib 0 (%d anonymous mappings)\n", nanon; printf "rss_kib %d (of which in transparent huge pages)\n", thp }' \
	"/proc/$DAMOND_PID/smaps" | sort -k2 -n -r |
	while read -r _ kib name; do info "rss $kib KiB $name"; done
mark heap_in_use_kib="$(sed -n 's/.*"heap_in_use_kib":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	heap_free_kib="$(sed -n 's/.*"heap_free_kib":\([0-9]*\).*/\1/p' /tmp/st.json)"
mark aggregation_gate_ms="$(sed -n 's/.*"aggregation_gate_ms":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	aggregations_skipped="$(sed -n 's/.*"aggregations_skipped":\([0-9]*\).*/\1/p' /tmp/st.json)"
mark snapshots="$(sed -n 's/.*"snapshots":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	incomplete="$(sed -n 's/.*"incomplete_snapshots":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	superseded="$(sed -n 's/.*"superseded_snapshots":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	records="$(sed -n 's/.*"records":\([0-9]*\).*/\1/p' /tmp/st.json)"
mark stats_ticks="$(sed -n 's/.*"stats_ticks":\([0-9]*\).*/\1/p' /tmp/st.json)" \
	stats_slack_ms="$(sed -n 's/.*"stats_slack_ms":\([0-9]*\).*/\1/p' /tmp/st.json)"
mark drains="$(sed -n 's/.*"drains":\([0-9]*\).*/\1/p' /tmp/st.json)" drain_ms=$((${c2:-0} - ${c1:-0})) damond_cpu_ms=$(((d2 - d1) * 10))	# USER_HZ 100
if [ -n "$(dt_param bench_trace '')" ]; then
	tr=/sys/kernel/tracing
	echo 0 > $tr/tracing_on; : > $tr/trace
	echo "$DAMOND_PID" > $tr/set_ftrace_pid
	echo "$DAMOND_PID" > $tr/set_event_pid
	echo do_syscall_64 > $tr/set_graph_function
	echo 1 > $tr/max_graph_depth
	echo function_graph > $tr/current_tracer
	echo 1 > $tr/events/sched/sched_switch/enable
	echo 1 > $tr/events/sched/sched_wakeup/enable
	echo 1 > $tr/events/irq_vectors/enable 2>/dev/null
	echo 1 > $tr/tracing_on; sleep 2; echo 0 > $tr/tracing_on
	grep -v '^#' $tr/trace | head -n 400 | sed 's/^/XXT /'
	echo nop > $tr/current_tracer
fi
damond_stop
[ "$(dt_param bench_nobpf 1)" != 0 ] || exit 0

# The same policy without BPF (sysfs polling): what the monitor itself costs.
damond --no-bpf --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" >> "$DAMOND_LOG" 2>&1 &
DAMOND_PID=$!
wait_for "damondctl status" 120 0.5 || fail "damond --no-bpf did not answer"
sleep 5
kpid=$(kd_pid 0)
n1=$(ticks "$DAMOND_PID"); k1=$(ticks "$kpid")
sleep "$secs"
n2=$(ticks "$DAMOND_PID"); k2=$(ticks "$kpid")
mark nobpf_damond_ticks=$((n2 - n1)) nobpf_kdamond_ticks=$((k2 - k1)) nobpf_kpid="$kpid"
mark nobpf_cpu_ratio="$(awk -v d=$((n2 - n1)) -v k=$((k2 - k1)) 'BEGIN { printf "%.4f", (k > 0 ? d / k : -1) }')" \
	nobpf_rss_kib="$(proc_status "$DAMOND_PID" VmRSS)"
damond_stop
exit 0
