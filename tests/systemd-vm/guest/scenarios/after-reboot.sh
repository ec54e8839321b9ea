# SPDX-License-Identifier: GPL-2.0-or-later
# After the reboot: damond came back by itself (nobody started it) and
# applied the policy of before the reboot.
. /usr/local/lib/damond-vm/lib.sh

[ -f /var/lib/damond-vm/expect ] || fail "no /var/lib/damond-vm/expect: the first boot did not run 'reboot'"
wait_damond_ready 60 || fail "damond not active with its kdamonds on after the reboot (kdamonds: $(kd_states))"
names=$(status_json | jq -r '[.kdamonds[] | select(.state == "on") | .name] | join(",")')
mark kdamonds="$names" sysfs="$(kd_states)"
assert_eq "$names" "$(cat /var/lib/damond-vm/expect)" "kdamonds on after the reboot"
assert_eq "$(kd_on)" 2 "kdamonds on in sysfs"
assert_eq "$(n_restarts)" 0 "restarts"
