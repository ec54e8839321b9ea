# SPDX-License-Identifier: GPL-2.0-or-later
# A hung damond (SIGSTOP): the watchdog aborts it, systemd restarts it, and
# the new damond adopts the kdamonds that kept running (same kdamond pids).
# A drop-in lowers WatchdogSec (30 s in the unit) to keep the test short.
. /usr/local/lib/damond-vm/lib.sh

wdog=$(dt_param watchdog_sec 5)
mkdir -p /etc/systemd/system/damond.service.d
printf '[Service]\nWatchdogSec=%ss\n' "$wdog" > /etc/systemd/system/damond.service.d/50-test-watchdog.conf
broken && printf '[Service]\nWatchdogSec=0\n' > /etc/systemd/system/damond.service.d/90-break.conf &&
	info "BROKEN on purpose (dt_break): WatchdogSec=0"
trap 'kill -CONT "$(main_pid)" 2>/dev/null; rm -f /etc/systemd/system/damond.service.d/50-test-watchdog.conf /etc/systemd/system/damond.service.d/90-break.conf; systemctl daemon-reload; systemctl restart damond' EXIT
systemctl daemon-reload
systemctl restart damond || fail "systemctl restart damond: rc=$?"
wait_damond_ready 60 || fail "damond not ready after restart (kdamonds: $(kd_states))"
broken || assert_eq "$(systemctl show -P WatchdogUSec damond)" "${wdog}s" "WatchdogUSec"
mpid=$(main_pid) kds=$(kd_states) nr=$(n_restarts)
t0=$SECONDS
kill -STOP "$mpid"
wait_for '[ "$(n_restarts)" -gt '"$nr"' ]' $((wdog * 4 + 30)) || fail "no restart $((wdog * 4 + 30)) s after SIGSTOP (state $(systemctl is-active damond))"
mark restarted_after_s=$((SECONDS - t0))
journalctl -u damond --no-pager -n 30 | grep -qi 'watchdog' || fail "no watchdog message in the journal"
wait_damond_ready 60 || fail "damond not ready after the watchdog restart (kdamonds: $(kd_states))"
[ "$(main_pid)" != "$mpid" ] || fail "same damond pid after the watchdog"
mark kdamonds_before="$kds" kdamonds_after="$(kd_states)"
assert_eq "$(kd_states)" "$kds" "kdamonds (state:pid) after the watchdog restart: adopted"
n=$(status_json | jq '[.kdamonds[] | select(.state == "on" and .adopted == true)] | length')
assert_eq "$n" "$(kd_on)" "kdamonds that damondctl status shows on and adopted"
