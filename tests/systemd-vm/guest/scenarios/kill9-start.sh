# SPDX-License-Identifier: GPL-2.0-or-later
# PENDING (wt-own: ownership recorded before creation): kill -9 of damond
# at a random point of its start-up with 8 kdamonds, repeated.  systemd
# restarts damond, which adopts or cleans up its own kdamonds: in the end
# the 8 kdamonds run, all supervised, and damond never refused its own.
. /usr/local/lib/damond-vm/lib.sh

rounds=$(dt_param kill9_rounds 4) max_ms=$(dt_param kill9_max_ms 1500) n=8
write_policy k $n
systemctl restart damond || fail "restart with $n kdamonds: rc=$?"
wait_damond_ready 90 || fail "damond not ready with $n kdamonds (kdamonds: $(kd_states))"
for ((r = 1; r <= rounds; r++)); do
	systemctl reset-failed damond 2>/dev/null
	nr=$(n_restarts)
	since=$(date '+%F %T')
	systemctl restart --no-block damond
	wait_for '[ "$(main_pid)" -gt 0 ]' 10 || fail "round $r: no main pid"
	ms=$((RANDOM % max_ms))
	sleep "$(printf '0.%03d' "$ms")"
	pid=$(main_pid)
	kill -9 "$pid" 2>/dev/null
	mark round=$r killed_after_ms=$ms pid="$pid" kdamonds_at_kill="$(kd_states)"
	wait_for '[ "$(n_restarts)" -gt '"$nr"' ] || { is_active && [ "$(main_pid)" != '"$pid"' ]; }' 30 ||
		fail "round $r: systemd did not restart damond"
	wait_damond_ready 90 || fail "round $r: damond not ready after the restart (state $(systemctl is-active damond), kdamonds: $(kd_states))"
	journalctl -u damond --since "$since" --no-pager | grep -i 'not belong\|foreign' &&
		fail "round $r: damond refused its own kdamonds"
	assert_eq "$(nr_kdamonds)" $n "round $r: nr_kdamonds"
	on=$(status_json | jq '[.kdamonds[] | select(.state == "on")] | length')
	assert_eq "$on" $n "round $r: kdamonds on in damondctl status"
done
