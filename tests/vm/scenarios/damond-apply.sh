# SPDX-License-Identifier: GPL-2.0-or-later
# damond-apply: damond applies the shipped conf/damond.yaml (paddr proactive
# reclaim) and a vaddr policy on a workload process. The kdamonds are on, the
# sysfs tree reads back as the policy, `damondctl status --json` agrees with
# the kernel's own stats files, and scheme stats move.
#   dt_apply_wait  seconds to wait for the reclaim scheme to try memory (60)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs

# Free memory below the policy's mid watermark (40 %) so its scheme is active:
# a hog of 3/4 of RAM (the guest has 1 or 2 GiB).
start_memhog -m "$(dt_param apply_hog_mib $(( $(meminfo MemTotal) * 3 / 4 / 1024 )))"
mark free_permil_before=$(( $(meminfo MemFree) * 1000 / $(meminfo MemTotal) ))
cp /etc/damond.yaml.shipped "$DAMOND_CONFIG"
damond_start
kd=$damon_kdamonds/0
c=$kd/contexts/0
assert_eq "$(kd_state 0)" on "kdamond state"
pid=$(kd_pid 0)
mark kdamond_pid="$pid"
# the tree reads back as conf/damond.yaml
assert_eq "$(cat $c/operations)" paddr operations
# the policy's scheme has watermarks: damond adds an always-active keepalive slot
assert_eq "$(cat $c/schemes/nr_schemes)" 2 nr_schemes
assert_eq "$(cat $c/schemes/1/access_pattern/sz/max)" 0 "keepalive slot matches nothing"
assert_eq "$(cat $c/schemes/0/action)" pageout action
assert_eq "$(cat $c/schemes/0/access_pattern/nr_accesses/max)" 0 "nr_accesses max"
assert_eq "$(cat $c/schemes/0/access_pattern/age/min)" 300 "age min (30s / 100ms)"
assert_eq "$(cat $c/schemes/0/access_pattern/sz/max)" 18446744073709551615 "sz max"
assert_eq "$(cat $c/schemes/0/quotas/bytes)" 104857600 "quota bytes"
assert_eq "$(cat $c/schemes/0/quotas/reset_interval_ms)" 1000 "reset interval"
assert_eq "$(cat $c/schemes/0/quotas/weights/age_permil)" 1000 "age weight"
assert_eq "$(cat $c/schemes/0/watermarks/metric)" free_mem_rate "watermark metric"
assert_eq "$(cat $c/schemes/0/watermarks/mid)" 400 "watermark mid"
if has_file $c/schemes/0/quotas/fail_charge_num; then
	assert_eq "$(cat $c/schemes/0/quotas/fail_charge_denom)" 4096 "native fail_charge_denom"
	mode=native
else
	mode=emulated
fi
# The target is System RAM (every range of /proc/iomem). With the native
# ratio the kernel gets the ranges as written, so one region spans the
# biggest; the emulation (6.12) may already have cut the memory its page
# oracle hides out of them (its first plan goes with the first commit), so
# there every region only has to lie inside System RAM, and some inside the
# biggest range.
set -- $(system_ram_range)
lo=$1 hi=$(( $2 & ~4095 ))
damondctl status --json | tr -d ' \n' > /tmp/st.json
assert grep -q '"ranges_from":"system_ram"' /tmp/st.json
ram=$(awk -F' : ' '$2 == "System RAM" && $1 !~ /^ / { print $1 }' /proc/iomem)
in_ram() {	# START END: inside one System RAM range
	local r
	for r in $ram; do
		[ "$1" -ge $((0x${r%-*})) ] && [ "$2" -le $((0x${r#*-} + 1)) ] && return 0
	done
	return 1
}
nr=$(cat $c/targets/0/regions/nr_regions)
assert_ge "$nr" 1 "regions from /proc/iomem"
found=0 inside=1 in_big=0 covered=0
i=0
while [ $i -lt "$nr" ]; do
	s=$(cat $c/targets/0/regions/$i/start) e=$(cat $c/targets/0/regions/$i/end)
	[ "$s" -le "$lo" ] && [ "$e" -ge "$hi" ] && found=1
	[ "$s" -ge "$lo" ] && [ "$e" -le "$2" ] && in_big=1
	in_ram "$s" "$e" || inside=0
	covered=$(( covered + e - s ))
	i=$((i + 1))
done
mark regions_written="$nr" covered_mib=$(( covered >> 20 )) biggest_mib=$(( ($2 - $1) >> 20 ))
assert_eq "$inside" 1 "every region lies inside System RAM"
assert_eq "$in_big" 1 "the biggest System RAM range is monitored"
if [ $mode = native ]; then
	assert_eq "$found" 1 "the biggest System RAM range is monitored whole"
elif [ "$found" = 0 ]; then
	# cut: damond's log must say which commit cut it and why (it logs the
	# commit right after the kernel took it: give it a moment)
	i=0
	until grep -q 'charge-ratio emulation.*exclude [0-9]* ranges' "$DAMOND_LOG"; do
		i=$((i + 1))
		[ $i -le 50 ] || fail "regions cut with no charge-ratio exclusion in damond's log"
		sleep 0.1
	done
fi
# (the status read above, before the regions)
assert grep -q "\"mode\":\"$mode\"" /tmp/st.json
mark fail_charge_mode=$mode

# the reclaim scheme tries memory once regions are 30 s old
if ! wait_tried 0 0 "$(dt_param apply_wait 75)"; then
	tail -n 20 "$DAMOND_LOG"
	fail "the pageout scheme tried nothing"
fi
# Status agrees with the kernel's stats files, bracketed: read the kernel's
# counters (k0), then ask damond until its numbers are younger than that read
# (stats.age_ms: the stats round runs off damond's loop and waits for the
# kdamond, seconds when it is busy paging out under TCG), then read the
# kernel's again (k1). The counters only grow, so k0 <= status <= k1. (A bound
# from the quota does not hold: with the fail charge ratio sz_tried grows far
# faster than the quota, by the failing bytes; a CI run read 420 MB in 1.1 s.)
locked_write $kd/state update_schemes_stats || fail "update_schemes_stats stayed busy"
k0_tried=$(cat $c/schemes/0/stats/sz_tried)
t_k0=$(now_ms)
i=0
while :; do
	sleep 1
	t_ask=$(now_ms)
	damondctl status --json | tr -d ' \n' > /tmp/st.json
	# the first scheme's stats (the keepalive slot comes after it)
	st_tried=$(grep -o '"stats":{"nr_tried":[0-9]*,"sz_tried":[0-9]*' /tmp/st.json | head -n1 | sed 's/.*"sz_tried"://')
	st_age=$(grep -o '"age_ms":[0-9]*' /tmp/st.json | head -n1 | sed 's/.*://')
	[ -n "$st_age" ] || fail "status has no stats.age_ms"
	assert_le "$st_age" 15000 "status stats age (ms)"
	# values as of (reply time - age) >= t_ask - age; 20 ms for uptime's 10 ms steps
	[ $((t_ask - st_age)) -gt $((t_k0 + 20)) ] && break
	i=$((i + 1))
	[ $i -lt 20 ] || fail "status never showed stats younger than the kernel read 20 s before (age $st_age ms)"
done
locked_write $kd/state update_schemes_stats || fail "update_schemes_stats stayed busy"
k1_tried=$(cat $c/schemes/0/stats/sz_tried)
mark kernel_sz_tried_before="$k0_tried" status_sz_tried="$st_tried" kernel_sz_tried_after="$k1_tried" \
	status_age_ms="$st_age" asked_after_ms=$((t_ask - t_k0))
assert_ge "$st_tried" 1 "status sz_tried"
assert_ge "$st_tried" "$k0_tried" "status sz_tried >= the kernel's, read before status's values were taken"
assert_le "$st_tried" "$k1_tried" "status sz_tried <= the kernel's, read after"
damond_stop
assert_eq "$DAMOND_RC" 0 "damond exit status"
assert_eq "$(kd_state 0)" off "on_exit: stop"

# --- vaddr: a workload process with a hot sub-range
start_memhog -m 64 -H 8
damond_write_config <<EOC
damond:
  stats_interval: 500ms
kdamonds:
  - name: workload
    ops: vaddr
    targets:
      - pid: $MEMHOG_PID
    schemes:
      - name: watch
        action: stat
EOC
damond_start
assert_eq "$(cat $damon_kdamonds/0/contexts/0/operations)" vaddr "vaddr operations"
assert_eq "$(cat $damon_kdamonds/0/contexts/0/targets/0/pid_target)" "$MEMHOG_PID" "pid_target"
wait_tried 0 0 20 || fail "the vaddr stat scheme tried nothing"
mark vaddr=ok
exit 0
