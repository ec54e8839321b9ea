# SPDX-License-Identifier: GPL-2.0-or-later
# soak: bench/soak on a real kernel.  The build's damond (--no-bpf) runs for
# dt_soak_secs (300) with two paddr kdamonds, under:
#   - a `damondctl reload` every second (soak_reload_ms), the config
#     alternating between two valid versions (quota bytes and age min differ:
#     online commits, the kdamonds' pids must stay); every tenth one invalid
#     (a YAML syntax error or a bad size unit, alternately): refused, with the
#     generation and the kdamonds' pids unchanged;
#   - every soak_storm_every s (5), soak_storm (16) concurrent
#     `damondctl status --json`;
#   - every 20-30 s (soak_kill_min, soak_kill_max) a kdamond "death": a real
#     kthread cannot be killed, so the scenario writes 'off' to that kdamond's
#     state file behind damond's back; damond must report it "died" within
#     10 s, and the next valid reload must start it again (a new pid, in
#     status and in sysfs);
#   - a probe (soakprobe, its own process): every soak_probe_ms (200) one
#     status request over the control socket, timed.  Outside storms its
#     round trip is the event loop's stall as seen from outside (reloads,
#     commits and ticks included); one that overlapped a storm is counted
#     apart.
# Every soak_interval s (30) one row: damond's RSS (KiB), open fds (DAMON sysfs files apart), CPU (% of
# one core), run-queue wait (%), probe p50 and worst outside storms
# (stall_ms), worst behind a storm, reloads ok/refused, storm calls/failures,
# kdamond deaths/restarts.  Then the checks and one verdict line as bench/soak's
# (mark secs=... verdict=PASS|FAIL); the scenario fails when a check fails.
# A run longer than about 500 s needs -p scenario_timeout=SECS (default 600).
#   bench/vm-run -k sid -b build-rel -p soak_secs=300 soak
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
command -v soakprobe >/dev/null 2>&1 || skip "soakprobe is not in the initramfs"

SECS=$(dt_param soak_secs 300)
IV=$(dt_param soak_interval 30)
RELOAD_MS=$(dt_param soak_reload_ms 1000)
STORM=$(dt_param soak_storm 16)
STORM_EVERY=$(dt_param soak_storm_every 5)
KILL_MIN=$(dt_param soak_kill_min 20)
KILL_MAX=$(dt_param soak_kill_max 30)
PROBE_MS=$(dt_param soak_probe_ms 200)
STALL_LIMIT=$(dt_param soak_stall_limit_ms 1000)
STORM_LIMIT=$(dt_param soak_storm_limit_ms 10000)
RSS_LIMIT=$(dt_param soak_rss_limit_kib 8192)
WARMUP=$(dt_param soak_warmup $((SECS / 10 > IV ? SECS / 10 : IV)))

W=/tmp/soak
rm -rf "$W"
mkdir -p "$W"

conf_valid() {	# 0|1
	if [ "$1" -eq 0 ]; then
		set -- 5s 32M 10s 16M
	else
		set -- 7s 64M 12s 8M
	fi
	cat <<EOC
damond:
  on_exit: stop
  stats_interval: 200ms
kdamonds:
  - name: reclaim
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: cold
        action: pageout
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: $1, max: max}
        quotas:
          bytes: $2
          reset_interval: 1s
      - name: watch
        action: stat
  - name: second
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: lru
        action: lru_deprio
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: $3, max: max}
        quotas:
          bytes: $4
          reset_interval: 1s
EOC
}

conf_invalid() {	# 0: a YAML syntax error, 1: a bad size unit
	if [ "$1" -eq 0 ]; then
		printf 'kdamonds:\n  - name: reclaim\n    ops: [paddr\n'
	else
		conf_valid 0 | sed 's/bytes: 32M/bytes: 32X/'
	fi
}

put_conf() {	# atomically, as an editor's rename does
	cat > "$DAMOND_CONFIG.tmp" && mv "$DAMOND_CONFIG.tmp" "$DAMOND_CONFIG"
}

# st_read: ST_GEN, ST_STATES (on|off|died, comma list in kdamond order),
# ST_PIDS, and per kdamond ST_S0 ST_P0 ST_S1 ST_P1, from damond's status
# (soakprobe -1: a static program, much quicker to start than damondctl
# under TCG, so that the loop keeps its reload a second); 1 when damond
# does not answer
st_read() {
	local s IFS
	s=$(soakprobe -1 "$DAMOND_RUNTIME/control" 2>/dev/null | tr ',{}[]' '\n\n\n\n\n' | awk '
		/"generation" *:/ { g = $0; sub(/.*"generation" *: */, "", g); sub(/[^0-9].*/, "", g) }
		/"state" *: *"(on|off|died)"/ {
			s = $0; sub(/.*"state" *: *"/, "", s); sub(/".*/, "", s)
			st = st (st == "" ? "" : ",") s; want = 1; next
		}
		want && /"pid" *:/ { p = $0; sub(/.*"pid" *: */, "", p); sub(/[^-0-9].*/, "", p); pids = pids (pids == "" ? "" : ",") p; want = 0 }
		END { if (g == "" || st == "") exit 1; print g, st, pids }') || return 1
	set -- $s
	ST_GEN=$1 ST_STATES=$2 ST_PIDS=$3
	IFS=,
	set -- $ST_STATES
	ST_S0=$1 ST_S1=$2
	set -- $ST_PIDS
	ST_P0=$1 ST_P1=$2
}

# state and pid of kdamond K (0 or 1) of the last st_read: KS, KP
st_kd() {
	eval "KS=\$ST_S$1 KP=\$ST_P$1"
}

# NOW: ms since boot, without a fork
now() {
	local up
	read -r up _ < /proc/uptime
	NOW=$((${up%.*} * 1000 + 1${up#*.} * 10 - 1000))
}

ms_s() {	# MS -> seconds with 3 decimals, for sleep
	printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

BAD=0 BAD_MSG=""
bad() {
	BAD=$((BAD + 1))
	[ $BAD -gt 3 ] || BAD_MSG="$BAD_MSG; $*"
	info "WRONG: $*"
}

# ---- the storm: a background loop; one line per storm in $W/storm.log:
# "start_ms end_ms calls failed worst_call_ms"
storm_loop() {
	local i s e f w d
	while :; do
		sleep "$STORM_EVERY"
		[ ! -e "$W/stop" ] || break
		while [ -e "$W/probe.pause" ]; do	# fds are being counted
			sleep 0.05
		done
		touch "$W/storm.flag"
		now
		s=$NOW
		i=0
		while [ $i -lt "$STORM" ]; do
			(
				now
				a=$NOW
				damondctl status --json > /dev/null 2> "$W/storm.err.$i"
				r=$?
				now
				echo "$r $((NOW - a))" > "$W/storm.rc.$i"
			) &
			i=$((i + 1))
		done
		wait
		now
		e=$NOW
		rm -f "$W/storm.flag"
		f=0 w=0 i=0
		while [ $i -lt "$STORM" ]; do
			read -r rc d < "$W/storm.rc.$i" || rc=255 d=0
			[ "$d" -le "$w" ] || w=$d
			if [ "$rc" -ne 0 ]; then
				f=$((f + 1))
				tail -n 1 "$W/storm.err.$i" >> "$W/storm.errors"
			fi
			i=$((i + 1))
		done
		echo "$s $e $STORM $f $w" >> "$W/storm.log"
	done
}

# ---- reloads
R_OK=0 R_REFUSED=0 R_MAX=0 ST_OK=0
do_reload() {	# N: the status before is the last st_read (ST_OK=1)
	local n=$1 g0 p0 bs0 bs1 bp0 bp1 rc dt
	[ $ST_OK -eq 1 ] || st_read || { bad "reload $n: no status before it"; return; }
	g0=$ST_GEN p0=$ST_PIDS bs0=$ST_S0 bs1=$ST_S1 bp0=$ST_P0 bp1=$ST_P1
	if [ $((n % 10)) -eq 9 ]; then
		conf_invalid $(((n / 10) % 2)) | put_conf
	else
		conf_valid $((n % 2)) | put_conf
	fi
	now
	dt=$NOW
	damondctl reload > /dev/null 2> "$W/reload.err"
	rc=$?
	now
	dt=$((NOW - dt))
	[ $dt -le $R_MAX ] || R_MAX=$dt
	ST_OK=0
	st_read || { bad "reload $n: no status after it (rc $rc)"; return; }
	ST_OK=1
	if [ $((n % 10)) -eq 9 ]; then
		if [ $rc -eq 0 ] || [ "$ST_GEN" != "$g0" ]; then
			bad "reload $n: an invalid config was accepted (rc $rc, generation $g0 -> $ST_GEN)"
		elif [ "$ST_PIDS" != "$p0" ]; then
			bad "reload $n: a refused reload changed the kdamonds' pids $p0 -> $ST_PIDS"
		else
			R_REFUSED=$((R_REFUSED + 1))
		fi
		# back to the version that runs: the next valid reload is a change again
		conf_valid $(((n - 1) % 2)) | put_conf
		return
	fi
	if [ $rc -ne 0 ] || [ "$ST_GEN" != $((g0 + 1)) ]; then
		bad "reload $n: a valid config failed (rc $rc, generation $g0 -> $ST_GEN): $(tail -n 1 "$W/reload.err")"
		return
	fi
	# an online commit: every kdamond that was on keeps its pid
	if { [ "$bs0" = on ] && [ "$ST_P0" != "$bp0" ]; } || { [ "$bs1" = on ] && [ "$ST_P1" != "$bp1" ]; }; then
		bad "reload $n: a kdamond that was on restarted by a commit (pids $p0 -> $ST_PIDS)"
		return
	fi
	R_OK=$((R_OK + 1))
}

# ---- deaths: 'off' behind damond's back
KILLS=0 NOTICED=0 NOTICE_MAX=0 RESTARTS=0 KILLED_K="" KILLED_PID="" KILLED_AT=0
do_kill() {
	local k=$((KILLS % 2)) pid t
	st_read || return 0
	st_kd $k
	[ "$KS" = on ] || return 0
	pid=$(kd_pid $k)
	locked_write "$damon_kdamonds/$k/state" off || { bad "kdamond $k: cannot write 'off' (EBUSY for 2.5 s)"; return; }
	now
	t=$NOW
	KILLS=$((KILLS + 1)) KILLED_K=$k KILLED_PID=$pid KILLED_AT=$t
	info "death $KILLS: kdamond $k (pid $pid) switched off behind damond's back"
	if wait_for 'st_read && st_kd '$k' && [ "$KS" = died ]' 10 0.05; then
		NOTICED=$((NOTICED + 1))
		now
		t=$((NOW - t))
		[ $t -le $NOTICE_MAX ] || NOTICE_MAX=$t
	else
		st_kd $k
		bad "kdamond $k (pid $pid) switched off: damond did not report it died within 10 s (state $KS)"
	fi
	ST_OK=0
}

check_killed() {	# after a reload: the killed kdamond runs again with a new pid
	local k=$KILLED_K sp
	[ -n "$k" ] && [ $ST_OK -eq 1 ] || return 0
	st_kd $k
	now
	if [ "$KS" = on ] && [ "$KP" != "$KILLED_PID" ] && [ "$KP" -gt 0 ]; then
		sp=$(kd_pid $k)
		if [ "$sp" = "$KP" ] && [ "$(kd_state $k)" = on ]; then
			RESTARTS=$((RESTARTS + 1))
			info "kdamond $k restarted: pid $KILLED_PID -> $KP, $((NOW - KILLED_AT)) ms after the death"
		else
			bad "kdamond $k: status says on with pid $KP, sysfs says $(kd_state $k) pid $sp"
		fi
		KILLED_K=""
	elif [ $((NOW - KILLED_AT)) -gt 10000 ]; then
		bad "kdamond $k (pid $KILLED_PID) not restarted within 10 s: $KS pid $KP"
		KILLED_K=""
	fi
}

# ---- one row
PROBE_LINES=0 PROBE_FAILS=0 TICKS0=0 RUNQ0=0 ROW_T=0
fds_now() {	# with the probe paused and no storm: only damond's own fds (min over looks for 1 s)
	local i=0 n d best="" dmax=0
	wait_for "[ ! -e $W/storm.flag ]" 15 0.05
	if [ -n "$PROBE_PID" ]; then
		touch "$W/probe.pause"
		wait_for "[ -e $W/probe.pause.idle ]" 15 0.02
	fi
	wait_for "[ ! -e $W/storm.flag ]" 15 0.05
	# over 1 s: damond closes a finished client's fd only when its loop gets
	# to it; a leaked fd stays in every look. Files under the DAMON sysfs tree
	# are counted apart: on 6.12 a state command holds kdamonds/N/state open
	# for >= 100 ms, and the stats worker thread (same fd table) sends them
	# back to back, so one may be open in every look; more than two at once
	# (the worker's and the loop's) is a leak.
	while [ $i -lt 10 ]; do
		d=0 n=0
		for f in /proc/$DAMOND_PID/fd/*; do
			case "$(readlink "$f" 2>/dev/null)" in
			/sys/kernel/mm/damon/*) d=$((d + 1)) ;;
			"") ;;
			*) n=$((n + 1)) ;;
			esac
		done
		[ -n "$best" ] && [ "$best" -le "$n" ] || best=$n
		[ "$d" -le "$dmax" ] || dmax=$d
		i=$((i + 1))
		sleep 0.1
	done
	rm -f "$W/probe.pause"
	[ "$dmax" -le "$(cat "$W/damonfds.max" 2>/dev/null || echo 0)" ] || echo "$dmax" > "$W/damonfds.max"
	echo "$best"
}

cpu_ticks() {	# utime + stime (1/100 s)
	awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$DAMOND_PID/stat"
}

runq_ns() {
	awk '{ print $2 }' "/proc/$DAMOND_PID/schedstat" 2>/dev/null || echo 0
}

sample() {	# T_MS (since the start)
	local t=$1 tnow rss anon heap fds ticks runq n cpu rq p50 pmax smax pfail calls sfail
	fds=$(fds_now)
	rss=$(proc_status "$DAMOND_PID" VmRSS)
	anon=$(proc_status "$DAMOND_PID" RssAnon)
	heap=$(soakprobe -1 "$DAMOND_RUNTIME/control" 2>/dev/null | tr ',{}' '\n\n\n' |
		sed -n 's/.*"heap_in_use_kib" *: *\([0-9]*\).*/\1/p' | head -n 1)
	heap=${heap:--1}
	ticks=$(cpu_ticks) runq=$(runq_ns)
	now
	tnow=$NOW
	n=$(wc -l < "$W/probe.log")
	awk -v a="$PROBE_LINES" -v b="$n" 'NR > a && NR <= b' "$W/probe.log" > "$W/row.probe"
	PROBE_LINES=$n
	set -- $(awk '$1 == "fail" { f++; next }
		$3 == 0 { if ($2 > q) q = $2; next }
		{ if ($2 > s) s = $2 }
		END { printf "%.1f %.1f %d\n", q, s, f }' "$W/row.probe")
	pmax=$1 smax=$2 pfail=$3
	PROBE_FAILS=$((PROBE_FAILS + pfail))
	p50=$(awk '$1 != "fail" { print $2 }' "$W/row.probe" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", NR ? a[int((NR + 1) / 2)] : 0 }')
	set -- $(awk '{ c += $3; f += $4 } END { printf "%d %d\n", c, f }' "$W/storm.log" 2>/dev/null)
	calls=${1:-0} sfail=${2:-0}
	if [ "$t" -gt 0 ]; then
		cpu=$(awk -v d=$((ticks - TICKS0)) -v ms=$((tnow - ROW_T)) 'BEGIN { printf "%.1f", d * 1000 / ms }')
		rq=$(awk -v d=$((runq - RUNQ0)) -v ms=$((tnow - ROW_T)) 'BEGIN { printf "%.1f", d / 1e4 / ms }')
	else
		cpu=0.0 rq=0.0
	fi
	TICKS0=$ticks RUNQ0=$runq ROW_T=$tnow
	echo "$((t / 1000)) $rss $fds $cpu $rq $p50 $pmax $smax $R_OK $R_REFUSED $calls $((sfail + PROBE_FAILS)) $KILLS $RESTARTS $anon $heap" >> "$W/rows"
	info "$(printf '%6s %8s %8s %8s %4s %6s %6s %7s %9s %9s %7s %7s %6s %5s %5s %8s' \
		$((t / 1000)) "$rss" "$anon" "$heap" "$fds" "$cpu" "$rq" "$p50" "$pmax" "$smax" "$R_OK" "$R_REFUSED" "$calls" \
		$((sfail + PROBE_FAILS)) "$KILLS" "$RESTARTS")"
}

soak_cleanup() {
	local rc=$?
	touch "$W/stop"
	[ -z "$PROBE_PID" ] || kill "$PROBE_PID" 2>/dev/null
	[ -z "$STORM_PID" ] || kill "$STORM_PID" 2>/dev/null
	(exit $rc)
	dt_cleanup
}
trap soak_cleanup EXIT

# ---- start
conf_valid 0 | put_conf
damond_start --log-level "$(dt_param soak_log_level info)"
wait_for 'st_read && [ "$ST_STATES" = on,on ]' 60 0.2 || fail "damond's kdamonds not on: $ST_STATES"
info "damond pid $DAMOND_PID, kdamonds $ST_PIDS; $SECS s, rows every $IV s, storms of $STORM every $STORM_EVERY s"
soakprobe -p "$PROBE_MS" -f "$W/storm.flag" -P "$W/probe.pause" "$DAMOND_RUNTIME/control" > "$W/probe.log" 2>&1 &
PROBE_PID=$!
storm_loop &
STORM_PID=$!
info "$(printf '%6s %8s %8s %8s %4s %6s %6s %7s %9s %9s %7s %7s %6s %5s %5s %8s' \
	t_s rss_kib anon_kib heap_kib fds cpu% runq% p50_ms stall_ms storm_ms rld_ok refused storm fail kills restarts)"
now
T0=$NOW
END=$((T0 + SECS * 1000))
sample 0
NEXT_ROW=$((T0 + IV * 1000))
NEXT_KILL=$((T0 + (KILL_MIN + RANDOM % (KILL_MAX - KILL_MIN + 1)) * 1000))
N=0
while :; do
	now
	it=$NOW
	[ $it -lt $END ] || break
	kill -0 "$DAMOND_PID" 2>/dev/null || { tail -n 20 "$DAMOND_LOG"; fail "damond died after $(((it - T0) / 1000)) s"; }
	do_reload $N
	N=$((N + 1))
	check_killed
	if [ $it -ge $NEXT_KILL ] && [ $((END - it)) -gt 15000 ] && [ -z "$KILLED_K" ]; then
		do_kill
		now
		NEXT_KILL=$((NOW + (KILL_MIN + RANDOM % (KILL_MAX - KILL_MIN + 1)) * 1000))
	fi
	now
	if [ $NOW -ge $NEXT_ROW ]; then
		sample $((NOW - T0))
		NEXT_ROW=$((NEXT_ROW + IV * 1000))
		now
	fi
	left=$((it + RELOAD_MS - NOW))
	[ $left -le 0 ] || sleep "$(ms_s $left)"
done
touch "$W/stop"
wait "$STORM_PID" 2>/dev/null
STORM_PID=""
kill "$PROBE_PID" 2>/dev/null
wait "$PROBE_PID" 2>/dev/null
PROBE_PID=""
now
sample $((NOW - T0))
[ -z "$KILLED_K" ] || { ST_OK=0; st_read && ST_OK=1; check_killed; }
[ -z "$KILLED_K" ] || bad "kdamond $KILLED_K still not restarted at the end"
DAMOND_PID_WAS=$DAMOND_PID
damond_stop TERM 30
info "damond (pid $DAMOND_PID_WAS) exit status on SIGTERM: $DAMOND_RC"

# ---- the verdict (the checks of bench/soak)
set -- $(awk -v w="$WARMUP" '
	{ t[NR] = $1; rss[NR] = $2; fd[NR] = $3 }
	$1 >= w { n++; x = $1; sx += x; sy += $2; sxx += x * x; sxy += x * $2; if (n == 1) r0 = $2; r1 = $2
		  if (fmin == "" || $3 < fmin) fmin = $3; if ($3 > fmax) fmax = $3 }
	{ if (amin == "" || $3 < amin) amin = $3; if ($3 > amax) amax = $3; if (NR > 1) { cs += $4; rs += $5; nc++ } }
	END {
		if (n < 2) { n = 0 }
		slope = (n >= 2 && n * sxx - sx * sx != 0) ? 3600 * (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
		printf "%d %d %d %.0f %d %d %d %d %.1f %.1f\n", rss[1], rss[NR], r1 - r0, slope, fmin, fmax, amin, amax,
			nc ? cs / nc : 0, nc ? rs / nc : 0
	}' "$W/rows")
RSS0=$1 RSS1=$2 RSS_GROWTH=$3 RSS_SLOPE=$4 WFD_MIN=$5 WFD_MAX=$6 FD_MIN=$7 FD_MAX=$8 CPU=$9
shift 9
RUNQ=$1
# damond's own memory apart from file pages (the soak's pageout scheme may unmap
# damond's cold file pages too, which lowers VmRSS): anonymous RSS and heap
set -- $(awk -v w="$WARMUP" '$1 >= w { n++; if (n == 1) { a0 = $15; h0 = $16 } a1 = $15; h1 = $16 }
	END { printf "%d %d %d\n", a1 - a0, h1, h1 - h0 }' "$W/rows")
ANON_GROWTH=$1 HEAP_END=$2 HEAP_GROWTH=$3
ANON0=$(awk 'NR == 1 { print $15 }' "$W/rows")
ANON1=$(awk '{ a = $15 } END { print a }' "$W/rows")
set -- $(awk '$1 == "fail" { f++; next }
	$3 == 0 { q++; if ($2 > w) { w = $2; at = $1 } next }
	{ if ($2 > s) s = $2 }
	END { printf "%d %d %.0f %s %.0f\n", q, f, w, at == "" ? 0 : at, s }' "$W/probe.log")
PROBES=$1 PROBE_FAIL=$2 WORST=$3 WORST_AT=$4 STORM_WORST=$5
P99=$(awk '$1 != "fail" && $3 == 0 { print $2 }' "$W/probe.log" | sort -n |
	awk '{ a[NR] = $1 } END { printf "%.1f", NR ? a[int(0.99 * (NR - 1)) + 1] : 0 }')
WORST_AT_S=$(awk -v a="$WORST_AT" -v t0="$T0" 'BEGIN { printf "%.0f", a - t0 / 1000 }')
set -- $(awk '{ c += $3; f += $4; if ($5 > w) w = $5 } END { printf "%d %d %d\n", c, f, w }' "$W/storm.log" 2>/dev/null)
S_CALLS=${1:-0} S_FAIL=${2:-0} S_WORST=${3:-0}
S_ERRS=$(sort "$W/storm.errors" 2>/dev/null | uniq -c | sort -rn | head -n 3 | tr -s ' \n' ' ')

CHECKS_OK=1
check() {	# CONDITION-STATUS WHAT
	if [ "$1" -eq 0 ]; then
		info "ok   $2"
	else
		info "FAIL $2"
		CHECKS_OK=0
	fi
}
[ "$WFD_MIN" = "$WFD_MAX" ]; check $? "fds flat after warm-up (${WARMUP} s): $WFD_MIN..$WFD_MAX (DAMON sysfs files apart)"
DAMON_FDS=$(cat "$W/damonfds.max" 2>/dev/null || echo 0)
[ "$DAMON_FDS" -le 2 ]; check $? "DAMON sysfs files open at once: at most $DAMON_FDS <= 2 (the stats worker's and the loop's)"
[ "$RSS_GROWTH" -le "$RSS_LIMIT" ]; check $? "RSS growth after warm-up $RSS_GROWTH KiB <= $RSS_LIMIT KiB"
[ "$WORST" -lt "$STALL_LIMIT" ]; check $? "worst stall $WORST ms < $STALL_LIMIT ms"
[ "$S_CALLS" -gt 0 ] && [ "$S_FAIL" -eq 0 ]; check $? "storm: $S_CALLS calls, $S_FAIL failed $S_ERRS"
[ "$PROBES" -gt 0 ] && [ "$PROBE_FAIL" -eq 0 ]; check $? "probe: $PROBES requests outside storms, $PROBE_FAIL failed"
[ "$STORM_WORST" -lt "$STORM_LIMIT" ]; check $? "status behind a storm of $STORM: worst $STORM_WORST ms < $STORM_LIMIT ms"
[ $R_OK -gt 0 ] && [ $R_REFUSED -gt 0 ] && [ $BAD -eq 0 ]
check $? "reloads: $R_OK ok, $R_REFUSED refused as expected, $BAD wrong$BAD_MSG"
[ $KILLS -gt 0 ] && [ $NOTICED -eq $KILLS ] && [ $RESTARTS -eq $KILLS ]
check $? "kdamond deaths: $KILLS, seen dead: $NOTICED (worst after $NOTICE_MAX ms), restarted: $RESTARTS"
[ "$DAMOND_RC" = 0 ]; check $? "damond exits 0 on SIGTERM: $DAMOND_RC"
VERDICT=FAIL
[ $CHECKS_OK -eq 0 ] || VERDICT=PASS
mark secs=$(((ROW_T - T0) / 1000)) reloads=$N rss_start_kib="$RSS0" rss_end_kib="$RSS1" \
	rss_slope_kib_per_h="$RSS_SLOPE" anon_start_kib="$ANON0" anon_end_kib="$ANON1" \
	anon_growth_kib="$ANON_GROWTH" heap_end_kib="$HEAP_END" heap_growth_kib="$HEAP_GROWTH" fds_min="$FD_MIN" fds_max="$FD_MAX" damon_fds_max="$DAMON_FDS" cpu_pct="$CPU" runq_wait_pct="$RUNQ" \
	worst_stall_ms="$WORST" worst_stall_at_s="$WORST_AT_S" stall_p99_ms="$P99" \
	probe_behind_storm_worst_ms="$STORM_WORST" reload_worst_ms="$R_MAX" storm_calls="$S_CALLS" \
	storm_fail="$S_FAIL" storm_worst_ms="$S_WORST" kills="$KILLS" seen_dead="$NOTICED" \
	seen_dead_worst_ms="$NOTICE_MAX" restarts="$RESTARTS" verdict=$VERDICT
[ $VERDICT = PASS ] || fail "soak verdict FAIL (see the checks above)"
exit 0
