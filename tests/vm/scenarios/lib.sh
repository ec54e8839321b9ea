# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# Helpers for the guest scenarios (busybox sh).  A scenario is
# /scenarios/<name>.sh, run by /init as `sh /scenarios/<name>.sh` with
# DT_TEST=<name>; it starts with
#
#	. /scenarios/lib.sh
#
# and ends with exit 0 (PASS), fail "why" (FAIL), skip "why" (SKIP).
# Everything a scenario started with start_memhog / damond_start is killed
# when it exits (and /init kills everything else, turns DAMON off and
# resets swap and zram before the next scenario).
#
# Output:   mark key=value ...     -> "@@DAMOND <t>: key=value ..."
#           info text              -> "[<t>] text" (plain log line)
# Control:  fail "msg" (exit 1)   skip "why" (exit 77)
#           assert CMD ARGS...    assert_eq A B what   assert_ge A B what
#           assert_le A B what
# Params:   dt_param NAME DEFAULT  (dt_NAME=value from the kernel command line)
# Files:    sysfs_read PATH   sysfs_write PATH VALUE   sysfs_try_write PATH VALUE
#           has_file PATH
# Time:     now_ms   wait_for "CMD" TIMEOUT_SECS [INTERVAL]
# DAMON:    damon_admin  damon_kdamonds  damon_setup  damon_attrs  damon_target_paddr
#           damon_target_pid  damon_scheme  damon_on  damon_off  damon_state
#           damon_update  damon_stat  damon_tried_total  system_ram_range
#           damon_stat_module_disable  trace_count_aggregations
# Memory:   start_memhog ARGS  stop_memhog  meminfo KEY  proc_status PID KEY
#           setup_zram SIZE  teardown_zram
# damond:   need_damond  damond_write_config  damond_start ARGS  damond_stop
#           damondctl ARGS  damond_status_json  json_get KEY

T=${DT_TEST:-$(basename "$0" .sh)}
damon_admin=/sys/kernel/mm/damon/admin
damon_kdamonds=$damon_admin/kdamonds
DT_RUN=/run/dt
mkdir -p "$DT_RUN"

# ---------------------------------------------------------------- output

mark() {
	echo "@@DAMOND $T: $*"
}

info() {
	echo "[$T] $*"
}

fail() {
	echo "@@DAMOND ERROR $T $*"
	exit 1
}

skip() {
	echo "$*" > "$DT_RUN/skip"
	info "skip: $*"
	exit 77
}

assert() {
	"$@" || fail "assertion failed: $*"
}

assert_eq() {	# A B what
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_ge() {	# A B what: integer A >= B
	[ -n "$1" ] && [ "$1" -ge "$2" ] 2>/dev/null || fail "${3:-value}: expected >= $2, got '$1'"
}

assert_le() {	# A B what: integer A <= B
	[ -n "$1" ] && [ "$1" -le "$2" ] 2>/dev/null || fail "${3:-value}: expected <= $2, got '$1'"
}

# ---------------------------------------------------------------- params

# dt_param NAME DEFAULT: value of dt_NAME from the kernel command line
dt_param() {
	eval "echo \"\${dt_$1:-$2}\""
}

# ---------------------------------------------------------------- files

has_file() {
	[ -e "$1" ]
}

sysfs_read() {
	local v
	v=$(cat "$1" 2>/dev/null) || fail "cannot read $1"
	echo "$v"
}

# sysfs_try_write PATH VALUE: returns the write's status, the error text in
# $DT_WRITE_ERR
sysfs_try_write() {
	DT_WRITE_ERR=$( (echo "$2" > "$1") 2>&1 )
}

sysfs_write() {
	sysfs_try_write "$1" "$2" || fail "write '$2' > $1: $DT_WRITE_ERR"
}

# ---------------------------------------------------------------- time

now_ms() {
	local up
	read -r up _ < /proc/uptime
	echo $(( ${up%.*} * 1000 + $(echo "${up#*.}" | sed 's/^0//') * 10 ))
}

# wait_for "CMD" TIMEOUT [INTERVAL]: eval CMD until it succeeds; 1 on timeout
wait_for() {
	local cmd=$1 deadline=$(( $(now_ms) + ${2:-10} * 1000 )) iv=${3:-0.1}
	while :; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep "$iv"
	done
}

# ---------------------------------------------------------------- memory

meminfo() {	# KEY -> value in kB
	awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo
}

proc_status() {	# PID KEY -> value (kB for Vm*)
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null
}

# start_memhog ARGS...: runs memhog in the background and waits until its
# memory is touched.  Sets MEMHOG_PID, MEMHOG_OUT (its output file),
# MEMHOG_START, MEMHOG_END, MEMHOG_HOT_START, MEMHOG_HOT_END (hex strings)
# and MEMHOG_PIDS (all started so far).
start_memhog() {
	local line n=${MEMHOG_N:-0}
	MEMHOG_N=$((n + 1))
	MEMHOG_OUT=/tmp/dt.memhog.$n
	memhog "$@" > "$MEMHOG_OUT" 2>&1 &
	MEMHOG_PID=$!
	MEMHOG_PIDS="$MEMHOG_PIDS $MEMHOG_PID"
	wait_for "grep -q '^memhog: pid=' $MEMHOG_OUT || ! kill -0 $MEMHOG_PID" "$(dt_param memhog_timeout 120)" ||
		fail "memhog $* did not get ready"
	line=$(grep '^memhog: pid=' "$MEMHOG_OUT") || fail "memhog $* died: $(cat "$MEMHOG_OUT")"
	MEMHOG_START=$(echo "$line" | sed -n 's/.* start=\([^ ]*\).*/\1/p')
	MEMHOG_END=$(echo "$line" | sed -n 's/.* end=\([^ ]*\).*/\1/p')
	MEMHOG_HOT_START=$(echo "$line" | sed -n 's/.* hot_start=\([^ ]*\).*/\1/p')
	MEMHOG_HOT_END=$(echo "$line" | sed -n 's/.* hot_end=\([^ ]*\).*/\1/p')
	info "$line"
}

stop_memhog() {	# [PID]: default all
	local p
	for p in ${1:-$MEMHOG_PIDS}; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "$1" ] || MEMHOG_PIDS=""
	return 0
}

# setup_zram SIZE: zram0 of SIZE (bytes or 512M, 1G ...) as swap
setup_zram() {
	[ -d /sys/block/zram0 ] || skip "no zram0 (zram module not loaded)"
	sysfs_write /sys/block/zram0/disksize "$1"
	mkswap /dev/zram0 >/dev/null 2>&1 || fail "mkswap /dev/zram0 failed"
	swapon /dev/zram0 || fail "swapon /dev/zram0 failed"
	DT_ZRAM=1
}

teardown_zram() {
	if [ -n "$DT_ZRAM" ]; then
		swapoff /dev/zram0 2>/dev/null
		echo 1 > /sys/block/zram0/reset 2>/dev/null
		DT_ZRAM=""
	fi
	return 0
}

# ---------------------------------------------------------------- DAMON sysfs

need_damon_sysfs() {
	[ -d "$damon_kdamonds" ] || skip "no DAMON sysfs ($damon_admin)"
}

# F1: Debian 7.x starts DAMON_STAT at boot, exclusively; run-vm boots with
# damon_stat.enabled=N unless --keep-damon-stat.  This switches it off at run time.
damon_stat_module_disable() {
	local p=/sys/module/damon_stat/parameters/enabled
	[ -e "$p" ] || return 0
	[ "$(cat $p)" = "N" ] || sysfs_write "$p" N
}

# damon_setup [NR_KDAMONDS]: N kdamonds with one context each
damon_setup() {
	local n=${1:-1} i=0
	need_damon_sysfs
	sysfs_write "$damon_kdamonds/nr_kdamonds" "$n"
	while [ $i -lt "$n" ]; do
		sysfs_write "$damon_kdamonds/$i/contexts/nr_contexts" 1
		i=$((i + 1))
	done
}

# damon_ctx [KD]: the path of context 0 of kdamond KD (default 0)
damon_ctx() {
	echo "$damon_kdamonds/${1:-0}/contexts/0"
}

# damon_attrs SAMPLE_US AGGR_US UPDATE_US MIN_NR MAX_NR [KD]
damon_attrs() {
	local c
	c=$(damon_ctx "$6")/monitoring_attrs
	sysfs_write "$c/intervals/sample_us" "$1"
	sysfs_write "$c/intervals/aggr_us" "$2"
	sysfs_write "$c/intervals/update_us" "$3"
	sysfs_write "$c/nr_regions/max" "$5"
	sysfs_write "$c/nr_regions/min" "$4"
}

# system_ram_range: "START END" (decimal) of the biggest System RAM of /proc/iomem
system_ram_range() {
	local best=0 bs=0 be=0 r s e
	for r in $(awk -F' : ' '$2 == "System RAM" && $1 !~ /^ / { print $1 }' /proc/iomem); do
		s=$((0x${r%-*}))
		e=$((0x${r#*-} + 1))
		if [ $((e - s)) -gt $best ]; then
			best=$((e - s)) bs=$s be=$e
		fi
	done
	[ $best -gt 0 ] || fail "no System RAM in /proc/iomem"
	echo "$bs $be"
}

# damon_target_paddr [START END] [KD]: default the biggest System RAM
damon_target_paddr() {
	local c s=$1 e=$2
	c=$(damon_ctx "$3")
	if [ -z "$s" ]; then
		set -- $(system_ram_range)
		s=$1 e=$2
	fi
	sysfs_write "$c/operations" paddr
	sysfs_write "$c/targets/nr_targets" 1
	sysfs_write "$c/targets/0/regions/nr_regions" 1
	sysfs_write "$c/targets/0/regions/0/start" "$s"
	sysfs_write "$c/targets/0/regions/0/end" "$e"
	DAMON_TARGET_START=$s DAMON_TARGET_END=$e
}

# damon_target_pid PID [OPS] [KD]: vaddr (default) target
damon_target_pid() {
	local c
	c=$(damon_ctx "$3")
	sysfs_write "$c/operations" "${2:-vaddr}"
	sysfs_write "$c/targets/nr_targets" 1
	sysfs_write "$c/targets/0/pid_target" "$1"
}

# damon_scheme ACTION [NR_ACC_MIN NR_ACC_MAX [AGE_MIN AGE_MAX [QUOTA_BYTES QUOTA_MS RESET_MS]]] [KD]
# One scheme (index 0).  All six access-pattern values are written: a new
# scheme's are 0..0 and match nothing (F2).  Quota defaults: none (0 0 1000).
damon_scheme() {
	local s
	s=$(damon_ctx "$9")
	sysfs_write "$s/schemes/nr_schemes" 1
	s=$s/schemes/0
	sysfs_write "$s/action" "$1"
	sysfs_write "$s/access_pattern/sz/min" 0
	sysfs_write "$s/access_pattern/sz/max" 18446744073709551615
	sysfs_write "$s/access_pattern/nr_accesses/min" "${2:-0}"
	sysfs_write "$s/access_pattern/nr_accesses/max" "${3:-4294967295}"
	sysfs_write "$s/access_pattern/age/min" "${4:-0}"
	sysfs_write "$s/access_pattern/age/max" "${5:-4294967295}"
	sysfs_write "$s/quotas/bytes" "${6:-0}"
	sysfs_write "$s/quotas/ms" "${7:-0}"
	sysfs_write "$s/quotas/reset_interval_ms" "${8:-1000}"
	DAMON_SCHEME=$s
}

damon_state() {	# [KD]
	cat "$damon_kdamonds/${1:-0}/state" 2>/dev/null
}

damon_on() {	# [KD]
	sysfs_write "$damon_kdamonds/${1:-0}/state" on
	wait_for '[ "$(damon_state '"${1:-0}"')" = on ]' 5 || fail "kdamond ${1:-0} not on"
	DAMON_PID=$(cat "$damon_kdamonds/${1:-0}/pid")
	DT_DAMON_ON="$DT_DAMON_ON ${1:-0}"
}

damon_off() {	# [KD]
	local k=${1:-0}
	[ "$(damon_state "$k")" = off ] || sysfs_write "$damon_kdamonds/$k/state" off
	wait_for '[ "$(damon_state '"$k"')" = off ]' 5 || fail "kdamond $k not off"
}

# damon_update CMD [KD]: update_schemes_stats, update_schemes_tried_regions, commit ...
damon_update() {
	sysfs_write "$damon_kdamonds/${2:-0}/state" "$1"
}

# damon_stat NAME [SCHEME] [KD]: a scheme stat (call damon_update update_schemes_stats first)
damon_stat() {
	sysfs_read "$(damon_ctx "$3")/schemes/${2:-0}/stats/$1"
}

# damon_tried_total [SCHEME] [KD]: total_bytes of the tried regions (updates them)
damon_tried_total() {
	damon_update update_schemes_tried_regions "$2"
	sysfs_read "$(damon_ctx "$2")/schemes/${1:-0}/tried_regions/total_bytes"
}

# trace_count_aggregations PID SECS: aggregations per second of kdamond PID,
# from the damon:damon_aggregated trace event (sum of 1/nr_regions), printed
# with two decimals.  Uses the top-level tracefs instance.
trace_count_aggregations() {
	local tr=/sys/kernel/tracing ev
	ev=$tr/events/damon/damon_aggregated
	[ -d "$ev" ] || { echo 0; return 1; }
	echo 0 > $tr/tracing_on
	echo > $tr/trace
	echo 4096 > $tr/buffer_size_kb 2>/dev/null
	echo "common_pid == $1" > "$ev/filter"
	echo 1 > "$ev/enable"
	echo 1 > $tr/tracing_on
	sleep "$2"
	echo 0 > $tr/tracing_on
	echo 0 > "$ev/enable"
	echo 0 > "$ev/filter"
	awk -v secs="$2" '/damon_aggregated:/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^nr_regions=/) { split($i, a, "="); if (a[2] > 0) s += 1 / a[2] }
	} END { printf "%.2f\n", s / secs }' $tr/trace
	echo > $tr/trace
}

# ---------------------------------------------------------------- damond

DAMOND_RUNTIME=/run/damond
DAMOND_CONFIG=/etc/damond.yaml
DAMOND_LOG=/tmp/dt.damond.log

need_damond() {
	command -v damond >/dev/null 2>&1 || skip "damond is not in the initramfs (not built)"
	command -v damondctl >/dev/null 2>&1 || skip "damondctl is not in the initramfs (not built)"
}

# damond_write_config: the YAML on stdin -> /etc/damond.yaml
damond_write_config() {
	cat > "$DAMOND_CONFIG"
}

damondctl() {
	command damondctl --runtime-dir "$DAMOND_RUNTIME" "$@"
}

# damond_start [ARGS...]: background damond and wait until it answers status
damond_start() {
	mkdir -p "$DAMOND_RUNTIME"
	damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" --no-bpf "$@" >> "$DAMOND_LOG" 2>&1 &
	DAMOND_PID=$!
	if ! wait_for "! kill -0 $DAMOND_PID || damondctl status" "$(dt_param damond_start_timeout 30)" 0.2; then
		tail -n 20 "$DAMOND_LOG"
		fail "damond did not answer 'damondctl status'"
	fi
	if ! kill -0 "$DAMOND_PID" 2>/dev/null; then
		wait "$DAMOND_PID"
		DAMOND_RC=$?
		tail -n 20 "$DAMOND_LOG"
		DAMOND_PID=""
		fail "damond exited at start, rc=$DAMOND_RC"
	fi
	# a scheme with a quota is held for its first quota window (lib/ctrl-window-ops.c) and released
	# by a commit a tick or two later: wait for it, so that what a scenario reads or compares next
	# is the running policy (a kdamond that does not run stays held: go on after 10 s)
	wait_for "! damondctl status --json | tr -d ' \n' | grep -q '\"held\":true'" 10 0.2 || true
}

# damond_stop [SIGNAL] [TIMEOUT]: sets DAMOND_RC (its exit status)
damond_stop() {
	[ -n "$DAMOND_PID" ] || return 0
	kill "-${1:-TERM}" "$DAMOND_PID" 2>/dev/null
	if ! wait_for "! kill -0 $DAMOND_PID" "${2:-20}"; then
		kill -KILL "$DAMOND_PID" 2>/dev/null
		info "damond did not stop in ${2:-20} s, killed"
	fi
	wait "$DAMOND_PID" 2>/dev/null
	DAMOND_RC=$?
	DAMOND_PID=""
	return 0
}

damond_status_json() {
	damondctl status --json
}

# json_get KEY < JSON: the first "KEY": scalar (no nesting awareness; strings
# without quotes).  Good enough for flat status fields.
json_get() {
	tr -d '\n' | sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*\("\([^"]*\)"\|\([^,}[:space:]]*\)\).*/\2\3/p' | head -n1
}

# ---------------------------------------------------------------- cleanup

dt_cleanup() {
	local rc=$? k
	trap - EXIT
	# a failed scenario: damond's last words go to the serial log with it
	[ "$rc" = 0 ] || [ ! -s "$DAMOND_LOG" ] || tail -n 25 "$DAMOND_LOG" | sed 's/^/[damond.log] /'
	[ -z "$DAMOND_PID" ] || damond_stop TERM 5
	stop_memhog
	for k in $DT_DAMON_ON; do
		[ "$(damon_state "$k")" = off ] || echo off > "$damon_kdamonds/$k/state" 2>/dev/null
	done
	teardown_zram
	exit $rc
}
trap dt_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
