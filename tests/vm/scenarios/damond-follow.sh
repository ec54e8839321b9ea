# SPDX-License-Identifier: GPL-2.0-or-later
# damond-follow: a vaddr target named `comm: memhog` follows the workload as it
# is restarted, without a reload (issue 14). Rolling restarts (the new process
# is monitored beside the old one before the old one exits) are committed
# online: the kdamond keeps its pid. Hard restarts (the old one exits first) leave the kdamond without a
# live target, which the kernel stops by itself; damond starts it again on the
# new process. In both, the kernel's pid_target is the new process.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
t=$damon_kdamonds/0/contexts/0/targets

start_memhog -m 32 -H 4
cur=$MEMHOG_PID
damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: memhog
    schemes:
      - name: watch
        action: stat
EOC
damond_start
following() {	# PID: the kernel monitors exactly this process, and the kdamond runs
	[ "$(cat $t/nr_targets 2>/dev/null)" = 1 ] && [ "$(cat $t/0/pid_target 2>/dev/null)" = "$1" ] &&
		[ "$(kd_state 0)" = on ]
}
wait_for "following $cur" 15 0.5 || fail "the kdamond does not monitor memhog $cur"
kpid=$(kd_pid 0)
damondctl status --details > /tmp/follow.status
grep -q "pid $cur (memhog), followed by comm: memhog" /tmp/follow.status ||
	fail "status does not show the followed target: $(grep -m1 'target' /tmp/follow.status)"

# rolling restarts: online, the same kdamond
i=0
while [ $i -lt 5 ]; do
	old=$cur
	start_memhog -m 32 -H 4
	cur=$MEMHOG_PID
	# the old process serves until the new one is monitored too (a rolling restart)
	wait_for '[ "$(cat $t/nr_targets 2>/dev/null)" = 2 ]' 15 0.5 ||
		fail "rolling restart $i: memhog $cur not added beside $old (nr_targets $(cat $t/nr_targets 2>/dev/null))"
	stop_memhog "$old"
	t0=$(now_ms)
	wait_for "following $cur" 15 0.5 || fail "rolling restart $i: memhog $cur not followed (pid_target $(cat $t/0/pid_target 2>/dev/null), nr_targets $(cat $t/nr_targets 2>/dev/null))"
	mark rolling="$i" followed_ms=$(($(now_ms) - t0))
	assert_eq "$(kd_pid 0)" "$kpid" "kdamond pid after rolling restart $i (committed online)"
	i=$((i + 1))
done

# hard restarts: the kernel stops the kdamond when its last process exits; damond starts it on the new one
i=0
while [ $i -lt 2 ]; do
	stop_memhog "$cur"
	wait_for '[ "$(damondctl status --json | tr -d " \n" | sed -n "s/.*\"state\":\"\([a-z]*\)\".*/\1/p" | head -n1)" != on ]' 15 0.5 ||
		fail "hard restart $i: the kdamond is still 'on' with no process"
	st=$(damondctl status --json | tr -d ' \n' | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' | head -n1)
	start_memhog -m 32 -H 4
	cur=$MEMHOG_PID
	t0=$(now_ms)
	wait_for "following $cur" 20 0.5 || fail "hard restart $i: memhog $cur not followed"
	mark hard="$i" state_between="$st" followed_ms=$(($(now_ms) - t0))
	i=$((i + 1))
done
kill -0 "$DAMOND_PID" 2>/dev/null || fail "damond died"
grep -c "': retargeted:" "$DAMOND_LOG" > /dev/null || fail "damond did not log its retargeting"
mark retargets="$(grep -c "': retargeted:" "$DAMOND_LOG")"
damond_stop
assert_eq "$DAMOND_RC" 0 "damond exit status"
exit 0
