# SPDX-License-Identifier: GPL-2.0-or-later
# PENDING (structured journal fields: not implemented yet): each action
# damond takes on the kernel is one journal entry with structured fields
# (kdamond, scheme, action, reason) and a MESSAGE_ID per kind of action.
. /usr/local/lib/damond-vm/lib.sh

ensure_started

wait_damond_ready 60 || fail "damond not ready"
since=$(date '+%F %T')
sleep 1
sed -i 's/age: {min: 5s, max: max}/age: {min: 6s, max: max}/' /etc/damond.yaml
systemctl reload damond || fail "reload: rc=$?"
j=$(journalctl -u damond --since "$since" -o json --no-pager)
n_id=$(echo "$j" | jq -s '[.[] | select(.MESSAGE_ID != null)] | length')
n_kd=$(echo "$j" | jq -s '[.[] | select(has("DAMOND_KDAMOND") or has("KDAMOND"))] | length')
mark entries="$(echo "$j" | jq -s length)" with_message_id="$n_id" with_kdamond="$n_kd"
[ "$n_id" -gt 0 ] || fail "no journal entry of the reload has a MESSAGE_ID"
[ "$n_kd" -gt 0 ] || fail "no journal entry of the reload names its kdamond (DAMOND_KDAMOND= or KDAMOND=)"
