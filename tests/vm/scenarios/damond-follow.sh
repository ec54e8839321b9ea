# SPDX-License-Identifier: GPL-2.0-or-later
# damond-follow: a vaddr target named `comm: memhog` follows the workload as it
# is restarted, without a reload (issue 14). Rolling restarts (the new process
# is monitored beside the old one before the old one exits) are committed
# online: the kdamond keeps its pid. Hard restarts (the old one exits first) leave the kdamond without a
# live target, which the kernel stops by itself; damond starts it again on the
# new process. In both, the kernel's pid_target is the new process. Last, an
# exit from the middle of three targets keeps the others in their places.
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
# commits damond logged: the staging files (nr_targets, pid_target) show a change before its commit lands, and a
# process that exits in between makes the commit name a pid that is gone (on 6.12 the kernel then stops the
# kdamond): wait for the commit, not only the files
commits() {
	grep -c "committed online" "$DAMOND_LOG"
}
# add_memhog N: start one more memhog (MEMHOG_PID) and wait until damond committed it as the N-th target
add_memhog() {
	local c0
	c0=$(commits)
	start_memhog -m 32 -H 4
	wait_for "[ \"\$(cat $t/nr_targets 2>/dev/null)\" = $1 ] && [ \"\$(commits)\" -gt $c0 ]" 15 0.5
}
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
	# the old process serves until the new one is monitored too (a rolling restart)
	add_memhog 2 ||
		fail "rolling restart $i: memhog $MEMHOG_PID not added beside $old (nr_targets $(cat $t/nr_targets 2>/dev/null))"
	cur=$MEMHOG_PID
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

# an exit from the middle of three: the others keep their places (and the regions the kernel holds for
# them). 6.19+ drops the exited target online with obsolete_target; 6.12 moves the last one into its place.
a=$cur
add_memhog 2 || fail "memhog $MEMHOG_PID not added"
b=$MEMHOG_PID
add_memhog 3 || fail "memhog $MEMHOG_PID not added"
c=$MEMHOG_PID
assert_eq "$(cat $t/0/pid_target) $(cat $t/1/pid_target) $(cat $t/2/pid_target)" "$a $b $c" "targets in order"
kpid=$(kd_pid 0)
stop_memhog "$b"
wait_for '[ "$(cat $t/nr_targets 2>/dev/null)" = 2 ]' 15 0.5 || fail "the middle exit was not followed"
assert_eq "$(cat $t/0/pid_target) $(cat $t/1/pid_target)" "$a $c" "targets after the middle one exited"
assert_eq "$(kd_pid 0)" "$kpid" "kdamond pid after the middle exit (online)"
assert_eq "$(kd_state 0)" on "kdamond state after the middle exit"
if [ -e $t/0/obsolete_target ]; then
	grep -q "dropped 1 exited target" "$DAMOND_LOG" || fail "7.x: the exit was not dropped with obsolete_target"
	assert_eq "$(cat $t/0/obsolete_target)$(cat $t/1/obsolete_target)" NN "obsolete_target flags after the drop"
	# the kernel's own view: its aggregations name targets 0 and 1 only
	# (earlier scenarios of the same guest leave tracing_on at 0 and filters set)
	tr=/sys/kernel/tracing
	ev=$tr/events/damon/damon_aggregated
	echo 0 > $tr/tracing_on
	echo > $tr/trace
	echo "common_pid == $kpid" > $ev/filter
	echo 1 > $ev/enable
	echo 1 > $tr/tracing_on
	sleep 2
	echo 0 > $tr/tracing_on
	echo 0 > $ev/enable
	echo 0 > $ev/filter
	ids=$(sed -n 's/.*target_id=\([0-9]*\) .*/\1/p' $tr/trace | sort -u | tr '\n' ' ')
	echo > $tr/trace
	assert_eq "$ids" "0 1 " "target ids in the kernel's damon_aggregated events"
	mark middle_exit=obsolete_target kernel_targets="$ids"
else
	grep -q "dropped .* exited target" "$DAMOND_LOG" && fail "6.12 has no obsolete_target, yet damond says it dropped"
	mark middle_exit=last_moved
fi

kill -0 "$DAMOND_PID" 2>/dev/null || fail "damond died"
grep -c "': retargeted:" "$DAMOND_LOG" > /dev/null || fail "damond did not log its retargeting"
mark retargets="$(grep -c "': retargeted:" "$DAMOND_LOG")"
damond_stop
assert_eq "$DAMOND_RC" 0 "damond exit status"
exit 0
