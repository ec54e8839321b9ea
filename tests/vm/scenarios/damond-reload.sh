# SPDX-License-Identifier: GPL-2.0-or-later
# damond-reload: a changed quota and access pattern are committed online (the
# kdamond pid is unchanged, monitoring continues with its regions); a bad
# config is rejected and nothing in the kernel changes.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs

policy() {	# QUOTA AGE_MIN
	cat <<EOC
damond:
  stats_interval: 500ms
kdamonds:
  - name: reclaim
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: cold
        action: pageout
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: $2, max: max}
        quotas:
          bytes: $1
          reset_interval: 1s
      - name: watch
        action: stat
EOC
}
policy 16M 20s | damond_write_config
damond_start
c=$damon_kdamonds/0/contexts/0
pid=$(kd_pid 0)
sleep "$(dt_param reload_age_secs 4)"
age1=$(max_region_age 0 1)
mark pid_before="$pid" max_age_before="$age1"
assert_ge "$age1" 10 "regions aged before the reload"

policy 48M 10s | damond_write_config
damondctl reload || fail "damondctl reload failed"
assert_eq "$(kd_pid 0)" "$pid" "kdamond pid after reload"
assert_eq "$(kd_state 0)" on "state after reload"
assert_eq "$(cat $c/schemes/0/quotas/bytes)" $((48 << 20)) "quota after reload"
assert_eq "$(cat $c/schemes/0/access_pattern/age/min)" 100 "age min after reload"
grep -q "commit" "$DAMOND_LOG" || fail "no commit in damond's log"
grep -q "started as kdamonds/0" "$DAMOND_LOG" && [ "$(grep -c 'started as kdamonds/0' "$DAMOND_LOG")" -eq 1 ] ||
	fail "the kdamond was restarted"
# monitoring continues with its regions: ages keep growing instead of restarting at 0
sleep 1
age2=$(max_region_age 0 1)
mark max_age_after="$age2"
assert_ge "$age2" "$age1" "max region age after the commit"

# a bad reload: rejected, kernel untouched
tree_snapshot /tmp/tree1
printf 'kdamonds:\n  - name: reclaim\n    schemes:\n      - action: pageout\n        quotas: {bytes: lots}\n' | damond_write_config
if damondctl reload 2> /tmp/reload.err; then
	fail "a bad config was accepted"
fi
cat /tmp/reload.err
grep -q 'damond.yaml:[0-9]*:[0-9]*:' /tmp/reload.err || fail "no file:line:column in the error"
tree_snapshot /tmp/tree2
cmp -s /tmp/tree1 /tmp/tree2 || { diff /tmp/tree1 /tmp/tree2 | head; fail "a bad reload changed the kernel's tree"; }
assert_eq "$(kd_pid 0)" "$pid" "kdamond pid after a bad reload"
mark bad_reload=rejected
exit 0
