# SPDX-License-Identifier: GPL-2.0-or-later
# damond-reload-add (issue 18): damond runs one paddr kdamond 'main'.
# 1. A reload adding a vaddr kdamond 'app' whose pid no process has is
#    rejected before anything is written: main's kdamond pid is unchanged, the
#    DAMON tree is as it was, and the reply says the running config is kept.
# 2. A valid reload adding 'app' (a live process) fills a spare kdamond
#    directory made at start: main's pid is unchanged, nr_kdamonds is not
#    rewritten, and the reply says app started in a spare.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs

main_policy() {
	cat <<EOC
damond:
  stats_interval: 500ms
kdamonds:
  - name: main
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: watch
        action: stat
EOC
}
app_policy() {	# PID
	cat <<EOC
  - name: app
    ops: vaddr
    targets:
      - pid: $1
    schemes:
      - name: watch
        action: stat
EOC
}

main_policy | damond_write_config
damond_start
pid=$(kd_pid 0)
nr=$(cat "$damon_kdamonds/nr_kdamonds")
mark main_pid="$pid" nr_kdamonds="$nr"
assert_eq "$nr" 3 "nr_kdamonds after start (main and two spares)"
damondctl status | grep -q 'spares: 1, 2' || { damondctl status; fail "status does not show the spares"; }

# 1: a pid no process has
missing=30000
while [ -e "/proc/$missing" ]; do missing=$((missing + 1)); done
tree_snapshot /tmp/tree1
{ main_policy; app_policy "$missing"; } | damond_write_config
if damondctl reload 2> /tmp/reload.err; then
	fail "a reload naming the missing pid $missing was accepted"
fi
cat /tmp/reload.err
grep -q "no process has pid $missing" /tmp/reload.err || fail "the error does not name the missing pid"
grep -q 'damond.yaml:[0-9]*:[0-9]*:' /tmp/reload.err || fail "no file:line:column in the error"
grep -q 'unchanged' /tmp/reload.err || fail "the reply does not say the running config is unchanged"
tree_snapshot /tmp/tree2
cmp -s /tmp/tree1 /tmp/tree2 || { diff /tmp/tree1 /tmp/tree2 | head; fail "a rejected reload changed the kernel's tree"; }
assert_eq "$(kd_pid 0)" "$pid" "main's pid after the rejected reload"
assert_eq "$(kd_state 0)" on "main's state after the rejected reload"
assert_eq "$(kd_state 1)" off "kdamonds/1 after the rejected reload"
assert_eq "$(cat "$damon_kdamonds/nr_kdamonds")" "$nr" "nr_kdamonds after the rejected reload"
mark missing_pid=rejected

# 2: a live process
start_memhog -m 32
{ main_policy; app_policy "$MEMHOG_PID"; } | damond_write_config
damondctl reload > /tmp/reload.out || fail "the valid reload failed"
cat /tmp/reload.out
grep -q "started 'app' in kdamonds/1 (a spare directory)" /tmp/reload.out || fail "the reply does not say app filled a spare"
grep -q "restarted" /tmp/reload.out && fail "the reply reports a restart"
assert_eq "$(kd_pid 0)" "$pid" "main's pid after adding app"
assert_eq "$(kd_state 0)" on "main's state after adding app"
assert_eq "$(kd_state 1)" on "app's kdamond"
assert_eq "$(cat "$damon_kdamonds/1/contexts/0/targets/0/pid_target")" "$MEMHOG_PID" "app's pid_target"
assert_eq "$(cat "$damon_kdamonds/nr_kdamonds")" "$nr" "nr_kdamonds after adding app"
[ "$(grep -c 'started as kdamonds/0' "$DAMOND_LOG")" -eq 1 ] || fail "main was restarted"
wait_tried 1 0 20 || fail "app's stat scheme tried nothing"
mark valid_add=spare app_pid="$(kd_pid 1)"
exit 0
