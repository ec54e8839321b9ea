# SPDX-License-Identifier: GPL-2.0-or-later
# "systemd-analyze security damond" on the running system: 2.0 or lower.
. /usr/local/lib/damond-vm/lib.sh

ensure_started
if broken; then	# a unit without most of its sandbox
	trap unbreak_unit EXIT
	break_unit 'CapabilityBoundingSet=~' 'SystemCallFilter=' 'RestrictAddressFamilies=' 'PrivateDevices=no' \
		'ProtectKernelModules=no' 'PrivateNetwork=no' 'ProtectSystem=no' 'ProtectHome=no' 'NoNewPrivileges=no'
	systemctl restart damond
fi

out=$(systemd-analyze security --no-pager damond 2>&1) || fail "systemd-analyze security failed: $(echo "$out" | tail -n 3)"
level=$(echo "$out" | sed -n 's/.*Overall exposure level for damond.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "no exposure level in: $(echo "$out" | tail -n 3)"
mark exposure="$level"
awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || fail "exposure $level > 2.0"
