# SPDX-License-Identifier: GPL-2.0-or-later
# A target named `unit: memhog.service` follows `systemctl restart memhog`
# (issue 14): a drop-in adds a vaddr kdamond for the unit, `systemctl reload
# damond`; the kernel's pid_target is the service's MainPID, and after each
# restart the new MainPID, without a reload. The restart stops the service
# first, so the kernel stops the kdamond when its only process exits; damond
# starts it on the new one. Under the packaged unit's sandbox
# (ProtectControlGroups, no CAP_SYS_PTRACE) damond reads the unit's cgroup
# and the processes' /proc files.
. /usr/local/lib/damond-vm/lib.sh

ensure_started
cat > /run/systemd/system/memhog.service <<'EOU'
[Unit]
Description=damond test workload
[Service]
ExecStart=/bin/sleep infinity
EOU
cleanup() {
	rm -f /etc/damond.d/60-follow.yaml
	systemctl reload damond || true
	systemctl stop memhog.service 2>/dev/null
	rm -f /run/systemd/system/memhog.service
	systemctl daemon-reload
}
trap cleanup EXIT
systemctl daemon-reload
systemctl start memhog.service || fail "cannot start memhog.service"
mkdir -p /etc/damond.d
target="unit: memhog.service"
# broken: the policy names the service's first MainPID literally, as an
# administrator would without unit targets: the first pid is monitored, and
# nothing follows a restart (the selector check below is left out: it would
# fail first, and the point is that the restart checks catch it)
if broken; then
	target="pid: $(systemctl show -P MainPID memhog.service)"
	info "BROKEN on purpose (dt_break): target '$target' instead of 'unit: memhog.service'"
fi
cat > /etc/damond.d/60-follow.yaml <<EOP
kdamonds:
  - name: follow
    ops: vaddr
    targets:
      - $target
    schemes:
      - name: watch
        action: stat
EOP
systemctl reload damond || fail "systemctl reload damond: rc=$?"
idx=$(status_json | jq -r '.kdamonds[] | select(.name == "follow") | .index')
[ -n "$idx" ] && [ "$idx" != null ] || fail "no kdamond 'follow' in status"
T0=$KDS/$idx/contexts/0/targets
follows() {	# PID: the kernel monitors exactly this process, and the kdamond runs
	[ "$(kd_read "$T0/nr_targets")" = 1 ] && [ "$(kd_read "$T0/0/pid_target")" = "$1" ] &&
		[ "$(kd_read "$KDS/$idx/state")" = on ]
}
pid=$(systemctl show -P MainPID memhog.service)
wait_for "follows $pid" 15 || fail "kdamond $idx does not monitor memhog.service's MainPID $pid (pid_target $(kd_read "$T0/0/pid_target"))"
broken || status_json | jq -e '.kdamonds[] | select(.name == "follow") | .targets[0].selector.kind == "unit"' > /dev/null ||
	fail "status does not show the unit selector"
mpid=$(main_pid)
i=0
while [ $i -lt 3 ]; do
	old=$pid
	systemctl restart memhog.service || fail "systemctl restart memhog: rc=$?"
	pid=$(systemctl show -P MainPID memhog.service)
	[ "$pid" != "$old" ] || fail "the restart kept MainPID $pid"
	SECONDS_0=$SECONDS
	wait_for "follows $pid" 20 || fail "restart $i: MainPID $pid not followed (pid_target $(kd_read "$T0/0/pid_target"), state $(kd_read "$KDS/$idx/state"))"
	mark restart="$i" old_pid="$old" new_pid="$pid" followed_s=$((SECONDS - SECONDS_0))
	i=$((i + 1))
done
assert_eq "$(main_pid)" "$mpid" "damond's pid (followed without a restart of damond)"
is_active || fail "damond not active"
journalctl -u damond --no-pager -o cat | grep -q "follow': retargeted:" || fail "the journal has no retargeting line"
