# SPDX-License-Identifier: GPL-2.0-or-later
# A broken edit: "systemctl reload damond" fails, "systemctl status damond"
# shows file:line:column, damond and the kernel keep the running policy.
. /usr/local/lib/damond-vm/lib.sh

ensure_started
if broken; then	# the old unit: kill -HUP reports success whatever damond thinks
	break_unit 'ExecReload=' 'ExecReload=/bin/kill -HUP $MAINPID'
fi

wait_damond_ready 60 || fail "damond not ready (kdamonds: $(kd_states))"
cp /etc/damond.yaml /root/damond.yaml.good
# whatever happens, the next scenario gets the good file back
trap 'cp /root/damond.yaml.good /etc/damond.yaml; unbreak_unit' EXIT
mpid=$(main_pid)
snap_before=$(kernel_snapshot)
gen=$(status_json | jq '.config.generation')
line=$(grep -n 'action: pageout' /etc/damond.yaml | head -n1 | cut -d: -f1)
[ -n "$line" ] || fail "no 'action: pageout' in /etc/damond.yaml"
sed -i "${line}s/action: pageout/action: pagout/" /etc/damond.yaml
if systemctl reload damond; then
	fail "systemctl reload damond succeeded with an invalid action on line $line"
fi
sleep 1
st=$(systemctl status --no-pager -n 20 damond 2>&1)
echo "$st" | grep -E "/etc/damond.yaml:$line:[0-9]+" ||
	fail "systemctl status damond does not show /etc/damond.yaml:$line:<col>"
mark error="$(echo "$st" | grep -m1 -oE "/etc/damond.yaml:$line:[0-9]+.*" | head -c 160)"
snap_after=$(kernel_snapshot)
[ "$snap_after" = "$snap_before" ] ||
	fail "the kernel's DAMON state changed after a rejected reload: $(diff <(echo "$snap_before") \
		<(echo "$snap_after") | grep '^[<>]' | head -n 6 | sed "s|$KDS/||" | tr '\n' ' ')"
assert_eq "$(main_pid)" "$mpid" "damond's pid"
is_active || fail "damond not active after a rejected reload"
assert_eq "$(status_json | jq '.config.generation')" "$gen" "configuration generation after a rejected reload"
# the admin fixes the file: the reload goes through
cp /root/damond.yaml.good /etc/damond.yaml
systemctl reload damond || fail "reload of the fixed file failed"
kd_all_on || fail "kdamonds not on after the fixed reload: $(kd_states)"
