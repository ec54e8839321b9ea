# SPDX-License-Identifier: GPL-2.0-or-later
# DAMON_STAT left on (the 7.x default) and a policy that does not allow switching it off:
# the unit fails once, "systemctl status damond" says why and how to fix
# it, and systemd does not restart it in a loop.
. /usr/local/lib/damond-vm/lib.sh

p=/sys/module/damon_stat/parameters/enabled
[ -f "$p" ] || skip "no DAMON_STAT module in this kernel"
grep -q allow_disable_modules /etc/damond.yaml && sed -i '/allow_disable_modules/d' /etc/damond.yaml
systemctl stop damond
systemctl reset-failed damond 2>/dev/null
echo Y > "$p" || fail "cannot switch DAMON_STAT on"
cleanup() {
	echo N > "$p"
	rm -f /etc/systemd/system/damond.service.d/90-break.conf
	systemctl daemon-reload
	systemctl reset-failed damond
	systemctl start damond
}
trap cleanup EXIT
# broken: the unit no longer lists exit status 81 as one a restart cannot fix,
# so systemd restarts damond every RestartSec= until start-limit-hit
broken && break_unit 'RestartPreventExitStatus='
wait_for '[ "$(cat '"$p"')" = Y ] && [ "$(nr_kdamonds)" -ge 1 ]' 10 || info "DAMON_STAT's kdamond not visible in the admin tree"
systemctl start damond && fail "damond started although DAMON_STAT is on"
sleep "$(dt_param damon_stat_watch 12)"
st=$(systemctl status --no-pager -n 20 damond 2>&1)
mark active="$(systemctl is-active damond)" restarts="$(n_restarts)" result="$(systemctl show -P Result damond)" \
	exit_status="$(systemctl show -P ExecMainStatus damond)"
assert_eq "$(n_restarts)" 0 "restarts with DAMON_STAT on (a restart cannot fix it)"
assert_eq "$(systemctl is-active damond)" failed "unit state"
echo "$st" | grep -qi 'damon_stat' || fail "systemctl status does not name damon_stat"
echo "$st" | grep -q 'allow_disable_modules' || fail "systemctl status does not say how to fix it (allow_disable_modules)"
