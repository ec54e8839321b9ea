# SPDX-License-Identifier: GPL-2.0-or-later
# damond-foreign: a kdamond started by hand through sysfs is running: damond
# refuses to start with a clear message and changes nothing.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs

damon_setup 1
damon_attrs 5000 100000 1000000 10 1000
damon_target_paddr
damon_scheme stat
damon_on
fpid=$DAMON_PID
tree_snapshot /tmp/tree1
damond_write_config <<EOC
kdamonds:
  - name: reclaim
    ops: paddr
EOC
if damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" --no-bpf > /tmp/foreign.log 2>&1; then
	fail "damond started next to a foreign kdamond"
fi
cat /tmp/foreign.log
grep -q "not started by damond" /tmp/foreign.log || fail "the message does not say why"
grep -q "pid $fpid" /tmp/foreign.log || fail "the message does not name the foreign kdamond's pid"
tree_snapshot /tmp/tree2
cmp -s /tmp/tree1 /tmp/tree2 || { diff /tmp/tree1 /tmp/tree2 | head; fail "damond changed the foreign kdamond's tree"; }
assert_eq "$(kd_state 0)" on "foreign kdamond state"
assert_eq "$(kd_pid 0)" "$fpid" "foreign kdamond pid"
mark foreign=refused
exit 0
