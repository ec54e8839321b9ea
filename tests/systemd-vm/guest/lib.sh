# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers for the systemd guest's scenarios (bash, Debian trixie with
# systemd as PID 1 and the damond .deb installed with apt).  Each scenario
# does what an administrator does: systemctl, an editor (here: cat >), and
# damondctl; it reads the kernel's DAMON sysfs to check what really runs.
#   mark k=v...   info text   fail msg (exit 1)   skip why (exit 77)
#   assert_eq A B what    wait_for "CMD" SECS
#   broken: true when dt_break= (a comma list) names this scenario: the
#   scenario then breaks the behaviour it checks (break_unit installs a
#   drop-in) so that one can see it fail (run-suite -e break=a,b)

T=${DT_NAME:-scenario}
ADMIN=/sys/kernel/mm/damon/admin
KDS=$ADMIN/kdamonds

mark() { echo "@@DAMOND $T: $*"; }
info() { echo "[$T] $*"; }
fail() {
	local k d
	# what CI shows of a failure is this one line: the guest kernel's first
	# oops or hung task, and damond's last journal line, go on it
	k=$(dmesg 2>/dev/null | grep -m1 -E 'Oops|BUG:|double fault|general protection|blocked for more than|Call Trace' |
		cut -c1-160)
	d=$(journalctl -u damond --no-pager -n 1 -o cat 2>/dev/null | tail -n 1 | cut -c1-200)
	echo "@@DAMOND ERROR $T $*${k:+ [guest kernel: $k]}${d:+ [damond last: $d]}"
	info "--- systemctl status damond"
	systemctl status --no-pager -n 0 damond 2>&1 | sed "s/^/[$T] | /"
	info "--- journalctl -u damond (last 25)"
	journalctl -u damond --no-pager -n 25 -o short-monotonic 2>&1 | sed "s/^/[$T] | /"
	exit 1
}
skip() { echo "$*" > "/run/dt-skip-$T"; info "skip: $*"; exit 77; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: '$1', expected '$2'"; }
dt_param() { local v="dt_$1"; echo "${!v:-$2}"; }
broken() { case ,${dt_break:-}, in *,"$T",*) return 0 ;; esac; return 1; }
break_unit() {	# drop-in lines: a deliberately broken unit for this scenario
	mkdir -p /etc/systemd/system/damond.service.d
	printf '[Service]\n%s\n' "$@" > /etc/systemd/system/damond.service.d/90-break.conf
	info "BROKEN on purpose (dt_break): $*"
	systemctl daemon-reload
}
unbreak_unit() {
	[ -e /etc/systemd/system/damond.service.d/90-break.conf ] || return 0
	rm -f /etc/systemd/system/damond.service.d/90-break.conf
	systemctl daemon-reload
	systemctl restart damond
}

# kill9-* when broken: after a kill -9, damond starts without its ownership
# record, as a damond that wrote the record only after its last kdamond was
# on (issue 10 item 2) would find it after a kill -9 during start-up: the
# next start must then refuse the kdamonds as foreign, which the scenario
# must catch.  Only a kill -9 loses the record (ExecStopPost sees
# EXIT_STATUS=KILL): the scenario's clean restarts before its rounds work,
# so it fails in the kill rounds, where a lost record would hurt.
# The cleanup stops what the broken start left running and removes the
# kdamonds the record no longer vouches for.
break_ownership_record() {
	break_unit 'ExecStopPost=-/bin/sh -c '"'"'if [ "$$EXIT_STATUS" = KILL ]; then rm -f /run/damond/kdamonds.json; fi'"'"
	trap unbreak_ownership_record EXIT
}
unbreak_ownership_record() {
	rm -f /etc/systemd/system/damond.service.d/90-break.conf
	systemctl daemon-reload
	systemctl stop damond
	for s in /sys/kernel/mm/damon/admin/kdamonds/*/state; do
		[ -e "$s" ] && echo off > "$s" 2>/dev/null
	done
	echo 0 > /sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds 2>/dev/null
	systemctl reset-failed damond 2>/dev/null
	systemctl start damond
}

wait_for() {	# "CMD" SECS: true once CMD succeeds, polling every 0.2 s
	local end=$((SECONDS + $2))
	while ! eval "$1" >/dev/null 2>&1; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.2
	done
}

# --- the kernel's view (sysfs), never damond's
nr_kdamonds() { cat "$KDS/nr_kdamonds"; }
# DAMON's state/pid reads take the sysfs lock with trylock and fail with
# EBUSY while damond holds it (a watchdog run read state '' beside pid 534):
# retry a failed read (up to about 1 s) before calling it empty.
kd_read() {
	local v i
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		v=$(cat "$1" 2>/dev/null) && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo ""
	return 1
}
kd_states() {	# "state:pid" of every kdamond, space separated
	local d out=""
	for d in "$KDS"/[0-9]*; do
		[ -d "$d" ] || continue
		out="$out $(kd_read "$d/state"):$(kd_read "$d/pid")"
	done
	echo "${out# }"
}
kd_on() {	# how many kdamonds the kernel runs (state on)
	local d n=0
	for d in "$KDS"/[0-9]*; do
		[ -d "$d" ] && [ "$(kd_read "$d/state")" = on ] && n=$((n + 1))
	done
	echo $n
}
kill_damond() {	# PID: kill -9 damond's PID. Never a pid <= 1: MainPID reads 0 between a stop and the
	# next start, and "kill -9 0" kills the scenario's own process group (a rehearsal's kill9-start on 7.2
	# died that way: "Killed" with rc 137 after 38 s)
	[ "${1:-0}" -gt 1 ] || fail "no damond pid to kill ('${1:-}')"
	kill -9 "$1" 2>/dev/null
}
wait_main_pid() {	# SECS: print damond's MainPID once it is > 0 (fails after SECS)
	local end=$((SECONDS + $1)) p
	while [ $SECONDS -lt "$end" ]; do
		p=$(main_pid)
		[ "${p:-0}" -gt 0 ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
kill_when_on() {	# PID K SECS: kill -9 PID as soon as K kdamonds are on (or after SECS)
	local end=$((SECONDS + $3))
	while [ "$(kd_on)" -lt "$2" ] && [ $SECONDS -lt $end ]; do
		:
	done
	kill_damond "$1"
}
kd_all_on() {	# every kdamond of damond's policy is on, per damondctl status and per sysfs
	local st n on
	st=$(status_json 2>/dev/null) || return 1
	n=$(echo "$st" | jq '.kdamonds | length')
	on=$(echo "$st" | jq '[.kdamonds[] | select(.state == "on")] | length')
	[ "$n" -gt 0 ] && [ "$on" = "$n" ] && [ "$(kd_on)" = "$n" ]
}
# state and pid reads fail with EBUSY while damond's stats worker holds the
# sysfs lock (kd_read retries): a 7.3 CI run read one as '' and called a
# rejected reload a change of the kernel's state
kernel_snapshot() {	# everything damond wrote that a failed reload must not change
	find "$KDS" -type f \( -name state -o -name pid -o -name nr_kdamonds -o -name nr_contexts \
		-o -name nr_schemes -o -name action -o -name sample_us -o -name aggr_us -o -name bytes \
		-o -name min -o -name max -o -name nr_targets -o -name pid_target \) 2>/dev/null |
		LC_ALL=C sort | while read -r f; do echo "$f=$(kd_read "$f")"; done
}

# --- systemd's and damond's view
main_pid() { systemctl show -P MainPID damond; }
is_active() { [ "$(systemctl is-active damond)" = active ]; }
status_json() { damondctl --json --no-pager status; }
wait_damond_ready() {	# SECS: active and answering, every kdamond on, no scheme held for its first quota window
	wait_for 'is_active && kd_all_on && ! status_json | tr -d " \n" | grep -q "\"held\":true"' "$1"
}
n_restarts() { systemctl show -P NRestarts damond; }
ensure_started() {	# an earlier scenario may have left the unit failed or stopped
	is_active && return 0
	info "damond was $(systemctl is-active damond): starting it"
	systemctl reset-failed damond 2>/dev/null
	systemctl start damond
}

write_policy() {	# NAME N: /etc/damond.yaml with N paddr kdamonds NAME0.. (a stat scheme each)
	local i n=$2
	{
		echo "kdamonds:"
		for ((i = 0; i < n; i++)); do
			cat <<EOP
  - name: $1$i
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: stat$i
        action: stat
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: 5s, max: max}
EOP
		done
	} > /etc/damond.yaml
}
