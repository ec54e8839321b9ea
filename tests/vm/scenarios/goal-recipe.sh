# SPDX-License-Identifier: GPL-2.0-or-later
# goal-recipe (issue 16): seed 000's test recipe, the policy unchanged, on
# every kernel. Half of memory mlocked, the rest filled with reclaimable
# (idle anonymous, swapped to zram) memory, then pageout at 100 MiB per 1 s,
# auto-tuned toward 40 % free memory of node 0 (node_mem_free_bp) with the
# temporal tuner, fail charge 1/4096. The seed fills the page cache with dd;
# these guests have no disk (the root is the initramfs, /tmp is tmpfs), so a
# dd file would be shmem, not page cache a pageout can drop: idle anonymous
# memory swapped to zram is the reclaimable memory here. 7.2 and 7.3 have
# every piece natively; on 6.12 damond runs the temporal tuner and measures
# node_mem_free_bp itself (the kernel has neither) and emulates the fail
# charge.
# Asserts: free memory reaches the goal, reclaim then stops (at most the
# window in progress when the goal was met) without overshooting far, and
# resumes when memory is consumed again.
# Figures (marks, for bench/goal): time_to_goal_ms; the reclaim speed during
# the approach as a share of the 100 MiB/s quota, on average from the first
# byte applied to the goal (approach_rate_pct) and at best over one sampling
# period of about a second (peak_rate_pct); applied_after_goal_mib and
# max_free_bp_after (the 8 s after the goal); after memory is consumed again,
# resume_reclaim_ms (until sz_applied moves in damond's status),
# resume_free_ms (until node 0's free memory rose by 1 point: the kernel's
# side, without damond's status lag) and resume_goal_ms (until the goal is
# met again).
#   dt_goal_secs  how long to wait for the goal (default 90)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
node=/sys/devices/system/node/node0/meminfo
[ -r "$node" ] || skip "no $node (kernel without NUMA)"
free_bp() {	# node 0's MemFree / MemTotal, in 1/10000
	awk '$3 == "MemTotal:" { t = $4 } $3 == "MemFree:" { f = $4 } END { printf "%d\n", f * 10000 / t }' "$node"
}
applied() {	# scheme 0's sz_applied (bytes) per damond's status
	damond_status_json | tr -d ' \n' | sed -n 's/.*"sz_applied":\([0-9]*\).*/\1/p' | head -n1
}

setup_zram 2G
start_memhog -m "$(( $(meminfo MemTotal) / 2048 ))" -l	# half of memory, mlocked
# reclaimable memory until node 0 has about 10 % free
fill=$(( ($(meminfo MemFree) - $(meminfo MemTotal) / 10) / 1024 ))
[ "$fill" -gt 100 ] || skip "only $fill MiB to fill after the mlock"
start_memhog -m "$fill"
# Let free memory settle before damond starts (under 20 bp of change over one
# second, at most 15 s), so every kernel starts the approach from the same
# point. In the runs so far it was settled after the first second. (A rise of
# 2-4 points "with nothing applied" in the first approach samples is damond's
# status lagging the kernel by up to one stats interval: it matches the MiB
# the next sample shows applied.)
f0=$(free_bp) settle_ms=0
while [ $settle_ms -lt 15000 ]; do
	sleep 1
	settle_ms=$((settle_ms + 1000))
	f1=$(free_bp)
	[ $(( f1 - f0 )) -ge 20 ] || [ $(( f0 - f1 )) -ge 20 ] || break
	f0=$f1
done
mark free_bp_before="$(free_bp)" fill_mib="$fill" settle_ms="$settle_ms"

damond_write_config <<'EOC'
damond:
  stats_interval: 500ms
kdamonds:
  - name: reclaim
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: pageout
        action: pageout
        quotas:
          bytes: 100M
          reset_interval: 1s
          fail_charge_ratio: 1/4096
          goal_tuner: temporal
          goals:
            - {metric: node_mem_free_bp, target_value: 40%, nid: 0}
EOC
t_launch=$(now_ms)
# -p damond_log_level=debug: damond's debug log (the oracle's scans, the controllers' deferrals) is shown at the end
damond_start --log-level="$(dt_param damond_log_level info)"
t0=$(now_ms)
st=$(damond_status_json | tr -d ' \n')
mode=$(echo "$st" | sed -n 's/.*"goals":\[{"metric":"node_mem_free_bp","mode":"\([a-z]*\)".*/\1/p')
if has_file "$damon_kdamonds/0/contexts/0/schemes/0/quotas/goal_tuner"; then
	assert_eq "$mode" native "goal mode where the kernel has the temporal tuner"
	assert_eq "$(cat "$damon_kdamonds/0/contexts/0/schemes/0/quotas/goal_tuner")" temporal "the kernel's goal_tuner"
else
	assert_eq "$mode" damond "goal mode on a kernel without goal_tuner (damond runs the temporal tuner)"
	assert_eq "$(cat "$damon_kdamonds/0/contexts/0/schemes/0/quotas/goals/nr_goals")" 0 "goals given to the kernel"
fi

# 1. the goal: 40 % free (within 1 point); sz_applied sampled on the way (damond's stats tick is 500 ms)
secs=$(dt_param goal_secs 90)
pct() {	# BYTES MS -> the rate as a share of 100 MiB/s, in percent
	[ "$2" -gt 0 ] && echo $(( $1 * 1000 / $2 * 100 / (100 << 20) )) || echo 0
}
t_first="" peak=0 pa=0 pt=$t0
while [ "$(free_bp)" -lt 3900 ]; do
	now=$(now_ms)
	[ $(( now - t0 )) -lt $(( secs * 1000 )) ] || {
		damondctl status --details | tail -n 25
		fail "node 0 free $(free_bp) bp after ${secs} s, goal 4000 bp (40 %)"
	}
	st=$(damond_status_json | tr -d ' \n')
	tr=$(echo "$st" | sed -n 's/.*"sz_tried":\([0-9]*\).*/\1/p' | head -n1)
	a=$(echo "$st" | sed -n 's/.*"sz_applied":\([0-9]*\).*/\1/p' | head -n1)
	yo=$(echo "$st" | sed -n 's/.*"young_other_bytes":\([0-9]*\).*/\1/p' | head -n1)
	ag=$(echo "$st" | sed -n 's/.*"ager":{"name":"[^"]*","state":"\([a-z]*\)".*/\1/p' | head -n1)
	tr=${tr:-0} a=${a:-0}
	# the approach, sample by sample (for bench/goal's reading: windows applied in full, or eaten by failures;
	# young_other: anonymous memory the oracle sees not aged yet, which the pageout's young check rejects once)
	info "approach t_ms=$(( now - t0 )) tried_mib=$((tr >> 20)) applied_mib=$((a >> 20))" \
		"young_other_mib=$(( ${yo:-0} >> 20 )) ager=${ag:--} free_bp=$(free_bp)"
	[ -n "$t_first" ] || [ "$a" -eq 0 ] || t_first=$now
	if [ $(( now - pt )) -ge 1000 ]; then
		r=$(pct $(( a - pa )) $(( now - pt )))
		[ "$pa" -eq 0 ] || [ "$r" -le "$peak" ] || peak=$r
		pa=$a pt=$now
	fi
	sleep 0.25
done
t_goal=$(( $(now_ms) - t0 ))
a_goal=$(applied)
approach=$(pct "${a_goal:-0}" $(( t0 + t_goal - ${t_first:-$t0} )))
mark approach_rate_pct="$approach" peak_rate_pct="$peak" first_applied_ms=$(( ${t_first:-$t0} - t0 ))
# 2. reclaim stops: over the next 8 s at most the window in progress (100 MiB) and one more (the loop
# stops at 39 %, the goal is 40 %), plus what a_goal missed: damond's status shows the stats of its
# last tick, up to one stats interval (500 ms, 50 MiB at the full quota) old. 7.3 native once
# read 201 MiB here (CI, 2026-12-03); a scheme that does not stop applies 800. Free memory does
# not run far past the goal.
max_free=0
for i in $(seq 1 16); do
	f=$(free_bp)
	[ "$f" -le "$max_free" ] || max_free=$f
	sleep 0.5
done
a_after=$(applied)
after_mib=$(( (a_after - a_goal) >> 20 ))
mark time_to_goal_ms="$t_goal" launch_to_goal_ms=$(( t0 + t_goal - t_launch )) start_ms=$(( t0 - t_launch )) \
	applied_at_goal_mib=$((a_goal >> 20)) applied_after_goal_mib="$after_mib" \
	max_free_bp_after="$max_free" mode="$mode"
assert_le "$after_mib" 250 "MiB applied in the 8 s after the goal was met (2 windows + 1 stats interval)"
assert_le "$max_free" 5000 "node 0 free (bp) after the goal: overshoot"
# 3. memory consumed again: the loop resumes
start_memhog -m $(( ($(meminfo MemFree) - $(meminfo MemTotal) / 5) / 1024 ))
t_c=$(now_ms)
info "memory consumed again at $(date +%T) (uptime $(now_ms) ms)"
mark free_bp_consumed="$(free_bp)"
a1=$(applied)
# the resume, sample by sample until sz_applied moves (tried bytes not applied would be the pageout's young
# check rejecting the new process's pages once: docs/CONTROLLERS.md, "Anonymous memory"); the free memory the kernel's reclaim gives back
# shows earlier than sz_applied in damond's status (its stats tick, 500 ms, and the kernel's stats round trip):
# resume_free_ms, until node 0's free memory rose by 1 point, is the kernel-side figure
t_restart="" t_free="" fc=$(free_bp)
while [ $(( $(now_ms) - t_c )) -lt 30000 ]; do
	st=$(damond_status_json | tr -d ' \n')
	tr=$(echo "$st" | sed -n 's/.*"sz_tried":\([0-9]*\).*/\1/p' | head -n1)
	a=$(echo "$st" | sed -n 's/.*"sz_applied":\([0-9]*\).*/\1/p' | head -n1)
	yo=$(echo "$st" | sed -n 's/.*"young_other_bytes":\([0-9]*\).*/\1/p' | head -n1)
	ag=$(echo "$st" | sed -n 's/.*"ager":{"name":"[^"]*","state":"\([a-z]*\)".*/\1/p' | head -n1)
	info "resume t_ms=$(( $(now_ms) - t_c )) tried_mib=$(( ${tr:-0} >> 20 )) applied_mib=$(( ${a:-0} >> 20 ))" \
		"young_other_mib=$(( ${yo:-0} >> 20 )) ager=${ag:--} free_bp=$(free_bp)"
	[ -n "$t_free" ] || [ "$(free_bp)" -lt $(( fc + 100 )) ] || t_free=$(( $(now_ms) - t_c ))
	[ "${a:-0}" -le "$a1" ] || { t_restart=$(( $(now_ms) - t_c )); break; }
	sleep 0.25
done
[ -n "$t_restart" ] || fail "reclaim did not restart after memory was consumed again (free $(free_bp) bp)"
[ -n "$t_free" ] || { wait_for '[ "$(free_bp)" -ge $(( fc + 100 )) ]' 30 0.1 && t_free=$(( $(now_ms) - t_c )); }
info "reclaim restarted by $(date +%T) (uptime $(now_ms) ms)"
wait_for '[ $(( $(applied) - a1 )) -ge $((50 << 20)) ]' 30 0.5 ||
	fail "reclaim did not resume after memory was consumed again (free $(free_bp) bp, applied +$((($(applied) - a1) >> 20)) MiB)"
# until the goal is met again, sample by sample (where the rest of the resume goes: windows applied in full or
# not, free memory); the goal is checked before each status read, so resume_goal_ms has a resolution of one
# iteration (about 0.4 s under TCG; 0.25 s before session 17)
t_again=""
while [ $(( $(now_ms) - t_c )) -lt $(( secs * 1000 )) ]; do
	[ "$(free_bp)" -lt 3900 ] || { t_again=$(( $(now_ms) - t_c )); break; }
	st=$(damond_status_json | tr -d ' \n')
	tr=$(echo "$st" | sed -n 's/.*"sz_tried":\([0-9]*\).*/\1/p' | head -n1)
	a=$(echo "$st" | sed -n 's/.*"sz_applied":\([0-9]*\).*/\1/p' | head -n1)
	info "again t_ms=$(( $(now_ms) - t_c )) tried_mib=$(( ${tr:-0} >> 20 )) applied_mib=$(( ${a:-0} >> 20 ))" \
		"free_bp=$(free_bp)"
	sleep 0.25
done
[ -n "$t_again" ] || fail "the goal was not reached again (free $(free_bp) bp)"
mark resumed=yes free_bp_end="$(free_bp)" resume_reclaim_ms="$t_restart" resume_free_ms="${t_free:-0}" \
	resume_goal_ms="$t_again"
# what damond did and when (the emulated tuner's switches, the charge emulation's commits): for bench/goal's reading
damondctl status --details 2>&1 | sed -n '/^recent actions/,$p' | tail -n 16 | while read -r l; do info "$l"; done
if [ "$(dt_param damond_log_level info)" = debug ]; then
	grep -E "kpageflags|charge|tuner|commit" "$DAMOND_LOG" | tail -n 60 | while read -r l; do info "log: $l"; done
fi
damond_stop
stop_memhog
teardown_zram
