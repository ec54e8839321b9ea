# SPDX-License-Identifier: GPL-2.0-or-later
# Each action damond takes on the kernel is one journal entry with
# structured fields: after an edit and "systemctl reload damond",
# `journalctl -u damond` has exactly one entry for the online commit, with
# MESSAGE_ID = the commit id (lib/journal-action.c, docs/ARCHITECTURE.md),
# DAMOND_ACTION=commit, DAMOND_KDAMOND=reclaim, a DAMOND_REASON, and no
# second (text) entry with the same message.
. /usr/local/lib/damond-vm/lib.sh

COMMIT_ID=f30eeb6d44044f45814eb8f18dc0a9ca

ensure_started
cp /etc/damond.yaml /run/journal-scenario.yaml
cleanup() {	# the policy as found, for the scenarios after this one
	cp /run/journal-scenario.yaml /etc/damond.yaml
	if broken; then unbreak_unit; else systemctl reload damond || true; fi
}
trap cleanup EXIT
if broken; then	# damond believes stderr is not the journal: text lines only
	break_unit 'Environment=JOURNAL_STREAM='
	systemctl restart damond
fi

wait_damond_ready 60 || fail "damond not ready"
since=$(date '+%F %T')
sleep 1
# a change the kernel takes online (the scheme's minimum age), whatever an earlier scenario left
if grep -q 'age: {min: 45s, max: max}' /etc/damond.yaml; then new=46s; else new=45s; fi
sed -E -i "s/age: \{min: [0-9]+s, max: max\}/age: {min: $new, max: max}/" /etc/damond.yaml
grep -q "age: {min: $new, max: max}" /etc/damond.yaml || fail "could not edit the scheme's age in /etc/damond.yaml"
systemctl reload damond || fail "reload: rc=$?"
sleep 1
j=$(journalctl -u damond --since "$since" -o json --no-pager)
n_all=$(echo "$j" | jq -s length)
# the reload's commit: on 6.12 the charge-ratio emulation makes its own
# first commit about 1.5 s after a start, which may fall in this window
# (an earlier scenario restarted damond); those name the emulation as reason
all_commits=$(echo "$j" | jq -c -s '[.[] | select(.DAMOND_ACTION == "commit")]')
commits=$(echo "$all_commits" | jq -c '[.[] | select((.DAMOND_REASON // "") | test("[(]reload, generation"))]')
n_commit=$(echo "$commits" | jq length)
mark entries="$n_all" commit_entries="$n_commit" all_commit_entries="$(echo "$all_commits" | jq length)"
info "commit entries: $commits"
[ "$n_commit" = 1 ] || fail "$n_commit journal entries with DAMOND_ACTION=commit after the reload, expected 1 (of $n_all: $(echo "$j" | jq -r .MESSAGE | tr '\n' '|'))"
c() { echo "$commits" | jq -r ".[0].$1 // empty"; }
[ "$(c MESSAGE_ID)" = "$COMMIT_ID" ] || fail "commit entry MESSAGE_ID '$(c MESSAGE_ID)', expected $COMMIT_ID"
[ "$(c DAMOND_KDAMOND)" = reclaim ] || fail "commit entry DAMOND_KDAMOND '$(c DAMOND_KDAMOND)', expected reclaim"
[ -n "$(c DAMOND_REASON)" ] || fail "commit entry has no DAMOND_REASON"
[ "$(c PRIORITY)" = 6 ] || fail "commit entry PRIORITY '$(c PRIORITY)', expected 6"
msg=$(c MESSAGE)
n_same=$(echo "$j" | jq -s --arg m "$msg" '[.[] | select(.MESSAGE == $m)] | length')
[ "$n_same" = 1 ] || fail "the commit's message is in $n_same journal entries (a duplicate text line?): $msg"
info "commit entry: $msg"
