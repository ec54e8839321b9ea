# SPDX-License-Identifier: GPL-2.0-or-later
# record-events: captures a replay recording (lib/replay.h) on this kernel
# with `damond --record-events`: one paddr kdamond over the biggest System
# RAM range (10..40 regions, 5 ms sample, 100 ms aggregation) with one `stat`
# scheme under a 16 MiB/1 s quota, while memhog keeps 8 MiB of 64 hot, for
# dt_record_secs (default 8). Checks that the file is a recording with
# records in it, then prints it base64-encoded between
#   @@DAMOND FILE record-events.rec BEGIN / @@DAMOND FILE END
# lines for tests/fixtures/events/extract-vm-recording.py to cut out of the
# serial log. The committed tests/fixtures/events/vm-*.rec come from this.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
secs=$(dt_param record_secs 8)
command -v base64 > /dev/null || skip "no base64 in this guest"

start_memhog -m 64 -H 8
set -- $(system_ram_range)
damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: rec
    ops: paddr
    intervals: {sample: 5ms, aggr: 100ms}
    nr_regions: {min: 10, max: 40}
    targets:
      - regions:
          - {start: $1, end: $2}
    schemes:
      - name: watch
        action: stat
        quotas: {bytes: 16M, reset_interval: 1s}
EOC
rec=/tmp/record-events.rec
mkdir -p "$DAMOND_RUNTIME"
damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" --record-events "$rec" >> "$DAMOND_LOG" 2>&1 &
DAMOND_PID=$!
wait_for "damondctl status" 30 0.2 || { tail -n 20 "$DAMOND_LOG"; fail "damond did not answer"; }
src=$(damondctl status --json | tr -d ' \n' | sed -n 's/.*"monitor":{"source":"\([a-z-]*\)".*/\1/p')
assert_eq "$src" bpf "monitor source"
sleep "$secs"
# a recording is replayed aggregation by aggregation: the BPF gate is off while it records
damondctl status --json | tr -d ' \n' > /tmp/st.json
gate=$(sed -n 's/.*"aggregation_gate_ms":\([0-9]*\).*/\1/p' /tmp/st.json)
skipped=$(sed -n 's/.*"aggregations_skipped":\([0-9]*\).*/\1/p' /tmp/st.json)
mark aggregation_gate_ms="$gate" aggregations_skipped="$skipped"
assert_eq "$gate" 0 "aggregation gate while recording (ms)"
assert_eq "$skipped" 0 "aggregations skipped while recording"
damond_stop
assert_eq "$DAMOND_RC" 0 "damond's exit status"
grep -q "records recorded" "$DAMOND_LOG" || { tail -n 20 "$DAMOND_LOG"; fail "damond did not report the recording"; }
[ "$(head -c 8 "$rec")" = DAMONDRP ] || fail "$rec is not a recording"
bytes=$(wc -c < "$rec")
assert_ge "$bytes" 1024 "recording size"
mark bytes="$bytes" records="$(sed -n 's/.*--record-events: \([0-9]*\) records recorded.*/\1/p' "$DAMOND_LOG" | tail -n 1)" \
	kernel="$(uname -r)"
echo "@@DAMOND FILE record-events.rec BEGIN"
base64 "$rec"
echo "@@DAMOND FILE END"
exit 0
