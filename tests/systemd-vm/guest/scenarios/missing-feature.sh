# SPDX-License-Identifier: GPL-2.0-or-later
# a policy that needs a feature the kernel lacks ("pause", DAMON 7.2): the unit fails
# once, "systemctl status damond" says which feature, no restart loop, no
# kdamond runs, and once the policy is fixed damond starts (the failed start
# left nothing it would refuse as foreign).
. /usr/local/lib/damond-vm/lib.sh

ensure_started
has=$(find "$KDS" -maxdepth 4 -name pause 2>/dev/null | head -n1)
[ -z "$has" ] || skip "this kernel has 'pause' ($has): no missing feature to ask for"
[ -d "$KDS/0/contexts/0" ] || skip "no kdamond directory to probe for 'pause'"
cp /etc/damond.yaml /root/damond.yaml.keep
cleanup() {
	cp /root/damond.yaml.keep /etc/damond.yaml
	broken || return 0
	rm -f /etc/systemd/system/damond.service.d/90-break.conf
	systemctl daemon-reload
	systemctl reset-failed damond
	systemctl start damond
}
trap cleanup EXIT
# broken: exit status 69 (a feature the kernel lacks) no longer prevents a
# restart, so systemd restarts damond every RestartSec= until start-limit-hit
broken && break_unit 'RestartPreventExitStatus='
write_policy mf 1
sed -i 's/^    ops: paddr$/    ops: paddr\n    pause: true/' /etc/damond.yaml
grep -q 'pause: true' /etc/damond.yaml || fail "could not write the policy"
systemctl stop damond
systemctl reset-failed damond 2>/dev/null
systemctl start damond && fail "damond started with a policy that needs 'pause'"
sleep "$(dt_param missing_feature_watch 12)"
st=$(systemctl status --no-pager -n 20 damond 2>&1)
mark active="$(systemctl is-active damond)" restarts="$(n_restarts)" exit_status="$(systemctl show -P ExecMainStatus damond)" \
	kdamonds="$(kd_states)"
assert_eq "$(n_restarts)" 0 "restarts (a restart cannot add a kernel feature)"
assert_eq "$(systemctl is-active damond)" failed "unit state"
echo "$st" | grep -qi 'pause' || fail "systemctl status does not name the missing feature"
assert_eq "$(kd_on)" 0 "kdamonds on after the failed start"
cp /root/damond.yaml.keep /etc/damond.yaml
systemctl reset-failed damond
systemctl start damond || fail "damond does not start with the fixed policy after the failed start"
wait_damond_ready 60 || fail "not ready with the fixed policy (kdamonds: $(kd_states))"
