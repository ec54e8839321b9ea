# SPDX-License-Identifier: GPL-2.0-or-later
# The package enabled damond the Debian way; "systemctl enable --now damond"
# as the README says: active, the kdamonds of the shipped policy on, and the
# BPF monitor running under the hardened unit (not the sysfs fallback).
. /usr/local/lib/damond-vm/lib.sh

assert_eq "$(systemctl is-enabled damond)" enabled "is-enabled after apt install"
if broken; then	# damond without its BPF monitor
	trap unbreak_unit EXIT
	break_unit 'ExecStart=' 'ExecStart=/usr/sbin/damond --config /etc/damond.yaml --no-bpf'
	systemctl restart damond
fi
systemctl enable --now damond || fail "systemctl enable --now damond: rc=$?"
wait_damond_ready 60 || fail "damond not active with every kdamond on after 60 s (kdamonds: $(kd_states))"
mark main_pid="$(main_pid)" kdamonds="$(kd_states)"
st=$(status_json) || fail "damondctl status --json failed"
n_on=$(echo "$st" | jq '[.kdamonds[] | select(.state == "on")] | length')
n=$(echo "$st" | jq '.kdamonds | length')
[ "$n" -ge 1 ] && [ "$n_on" = "$n" ] || fail "damondctl status: $n_on of $n kdamonds on"
assert_eq "$(kd_on)" "$n" "kdamonds on in sysfs vs damondctl status"
src=$(echo "$st" | jq -r '.monitor.source')
[ "$src" = bpf ] || fail "monitor source is '$src', not bpf: $(echo "$st" | jq -r '.monitor.reason')"
mark monitor="$src" programs="$(echo "$st" | jq -c '.monitor.bpf.programs // empty' | tr -d ' ')"
# under the hardened unit, not a bare damond
caps=$(systemctl show -P CapabilityBoundingSet damond)
mark caps="$caps"
case $caps in *cap_sys_module*|*cap_net_admin*) fail "unit not hardened: CapabilityBoundingSet=$caps" ;; esac
assert_eq "$(systemctl show -P NoNewPrivileges damond)" yes "NoNewPrivileges"
damondctl --no-pager status | head -n 20
