# SPDX-License-Identifier: GPL-2.0-or-later
# Before the reboot: a policy with two kdamonds, committed with a reload;
# the guest then powers off and run-suite boots the same disk again
# (after-reboot).
. /usr/local/lib/damond-vm/lib.sh

ensure_started

write_policy boot 2
timeout 150 systemctl reload damond || fail "systemctl reload damond: rc=$? (124: no answer within 150 s)"
wait_for 'kd_all_on && [ "$(kd_on)" = 2 ]' 30 || fail "not 2 kdamonds on: $(kd_states)"
assert_eq "$(systemctl is-enabled damond)" enabled "is-enabled"
mkdir -p /var/lib/damond-vm
status_json | jq -r '[.kdamonds[].name] | join(",")' > /var/lib/damond-vm/expect
mark expect="$(cat /var/lib/damond-vm/expect)"
if broken; then	# a unit that is not enabled does not come back
	info "BROKEN on purpose (dt_break): systemctl disable damond"
	systemctl disable damond
fi
