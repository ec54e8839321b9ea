# SPDX-License-Identifier: GPL-2.0-or-later
# damond-damon-stat: DAMON_STAT running (Debian 7.x's default) blocks every
# sysfs kdamond: damond says what blocks it and how to fix it; with
# allow_disable_modules it switches DAMON_STAT off and starts.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
p=/sys/module/damon_stat/parameters/enabled
has_file $p || skip "this kernel has no DAMON_STAT module"
[ "$(cat $p)" = Y ] || sysfs_write $p Y
assert_eq "$(cat $p)" Y "DAMON_STAT enabled"

damond_write_config <<EOC
kdamonds:
  - name: reclaim
    ops: paddr
EOC
if damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" --no-bpf > /tmp/ds.log 2>&1; then
	fail "damond started while DAMON_STAT runs"
fi
cat /tmp/ds.log
grep -q "damon_stat is enabled" /tmp/ds.log || fail "the message does not name DAMON_STAT"
grep -q "allow_disable_modules" /tmp/ds.log || fail "the message does not say how to fix it"
assert_eq "$(cat $p)" Y "damond left DAMON_STAT alone"

damond_write_config <<EOC
damond:
  allow_disable_modules: [damon_stat]
kdamonds:
  - name: reclaim
    ops: paddr
EOC
damond_start
assert_eq "$(cat $p)" N "DAMON_STAT switched off"
assert_eq "$(kd_state 0)" on "kdamond state"
mark damon_stat=switched_off
exit 0
