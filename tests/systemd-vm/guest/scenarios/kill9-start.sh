# SPDX-License-Identifier: GPL-2.0-or-later
# kill -9 of damond during its start-up with 8 kdamonds, repeated: at points spread over the
# measured start-up time, and the moment 1, 3, 5 kdamonds are on.  systemd
# restarts damond, which adopts or cleans up its own kdamonds: in the end
# the 8 kdamonds run, all supervised, and damond never refused its own.
. /usr/local/lib/damond-vm/lib.sh

broken && break_ownership_record

rounds=$(dt_param kill9_rounds 6) n=8
write_policy k $n
systemctl restart damond || fail "restart with $n kdamonds: rc=$?"
wait_damond_ready 90 || fail "damond not ready with $n kdamonds (kdamonds: $(kd_states))"
# how long a start-up takes here (stop + start until every kdamond is on):
# round r kills damond at about r/(rounds+1) of it, plus a random jitter
t0=$(date +%s%N)
systemctl restart damond
wait_for 'kd_all_on' 90 || fail "not ready after the timing restart"
span=$((($(date +%s%N) - t0) / 1000000))
mark startup_ms=$span
for ((r = 1; r <= rounds; r++)); do
	systemctl reset-failed damond 2>/dev/null
	nr=$(n_restarts)
	since=$(date '+%F %T')
	t0=$(date +%s%N)
	systemctl restart --no-block damond
	pid=$(wait_main_pid 10) || fail "round $r: no main pid"
	if [ $((r % 2)) -eq 1 ]; then
		# odd rounds: at a point spread over the measured start-up time
		ms=$((span * r / (rounds + 1) + RANDOM % (span / (rounds + 1) + 1) - span / (2 * (rounds + 1))))
		[ $ms -ge 0 ] || ms=0
		left=$((ms - ($(date +%s%N) - t0) / 1000000))
		[ $left -le 0 ] || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
		kill_damond "$pid"
		how="after_ms=$ms"
	else
		# even rounds: the moment the kernel shows K kdamonds on, while
		# damond is still turning the others on (K = 1, 3, 5, ...)
		k=$((1 + ((r / 2 - 1) * 2) % (n - 1)))
		kill_when_on "$pid" $k 30
		how="when_on=$k"
	fi
	mark round=$r killed="$how" pid="$pid" kdamonds_at_kill="$(kd_states)"
	wait_for '[ "$(n_restarts)" -gt '"$nr"' ] || { is_active && [ "$(main_pid)" != '"$pid"' ]; }' 30 ||
		fail "round $r: systemd did not restart damond"
	wait_damond_ready 90 || fail "round $r: damond not ready after the restart (state $(systemctl is-active damond), kdamonds: $(kd_states))"
	journalctl -u damond --since "$since" --no-pager | grep -i 'not belong\|foreign' &&
		fail "round $r: damond refused its own kdamonds"
	assert_eq "$(kd_on)" $n "round $r: kdamonds on in sysfs"
	on=$(status_json | jq '[.kdamonds[] | select(.state == "on")] | length')
	assert_eq "$on" $n "round $r: kdamonds on in damondctl status"
done
