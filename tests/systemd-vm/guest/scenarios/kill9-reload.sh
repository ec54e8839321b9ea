# SPDX-License-Identifier: GPL-2.0-or-later
# kill -9 of damond during a reload that grows the policy from 1 to 8 kdamonds, repeated.
# systemd restarts damond, which adopts its own kdamonds: 8 run, all
# supervised, none refused as foreign.
. /usr/local/lib/damond-vm/lib.sh

broken && break_ownership_record

rounds=$(dt_param kill9_rounds 4) n=8
# how long the reload 1 -> 8 takes here: round r kills damond at about
# r/(rounds+1) of it, plus a random jitter
write_policy k 1
systemctl restart damond || fail "restart with 1 kdamond: rc=$?"
wait_damond_ready 60 || fail "not ready with 1 kdamond (kdamonds: $(kd_states))"
write_policy k $n
t0=$(date +%s%N)
systemctl reload damond || fail "reload 1 -> $n: rc=$?"
span=$((($(date +%s%N) - t0) / 1000000))
mark reload_ms=$span
for ((r = 1; r <= rounds; r++)); do
	systemctl reset-failed damond 2>/dev/null
	write_policy k 1
	systemctl restart damond || fail "round $r: restart with 1 kdamond: rc=$?"
	wait_damond_ready 60 || fail "round $r: not ready with 1 kdamond (kdamonds: $(kd_states))"
	nr=$(n_restarts)
	pid=$(wait_main_pid 10) || fail "round $r: no main pid"
	since=$(date '+%F %T')
	write_policy k $n
	t0=$(date +%s%N)
	systemctl reload --no-block damond
	if [ $((r % 2)) -eq 1 ]; then
		# odd rounds: at a point spread over the measured reload time
		ms=$((span * r / (rounds + 1) + RANDOM % (span / (rounds + 1) + 1) - span / (2 * (rounds + 1))))
		[ $ms -ge 0 ] || ms=0
		left=$((ms - ($(date +%s%N) - t0) / 1000000))
		[ $left -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
		kill_damond "$pid"
		how="after_ms=$ms"
	else
		# even rounds: the moment the kernel shows K of the 8 on (K = 2, 4, ...)
		k=$((2 + ((r / 2 - 1) * 2) % (n - 2)))
		kill_when_on "$pid" $k 30
		how="when_on=$k"
	fi
	mark round=$r killed="$how" kdamonds_at_kill="$(kd_states)"
	wait_for '[ "$(n_restarts)" -gt '"$nr"' ]' 30 || fail "round $r: systemd did not restart damond"
	wait_damond_ready 90 || fail "round $r: damond not ready after the restart (state $(systemctl is-active damond), kdamonds: $(kd_states))"
	journalctl -u damond --since "$since" --no-pager | grep -i 'not belong\|foreign' &&
		fail "round $r: damond refused its own kdamonds"
	assert_eq "$(kd_on)" $n "round $r: kdamonds on in sysfs"
	on=$(status_json | jq '[.kdamonds[] | select(.state == "on")] | length')
	assert_eq "$on" $n "round $r: kdamonds on in damondctl status"
done
