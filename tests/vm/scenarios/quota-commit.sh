# SPDX-License-Identifier: GPL-2.0-or-later
# quota-commit: does a `commit` on a running kdamond restart a scheme's quota
# charge window? (issue 17: the forced charge-ratio emulation, which commits
# target gaps every few seconds, read 1.31 x the quota over three windows on
# 7.3 while the kernel's own feature never exceeded it.)
#
# Raw DAMON, no damond: a paddr `stat` scheme that matches every region, with
# a size quota of Q per W-second window. A stat scheme applies nothing, so
# the kernel charges every tried byte and sz_tried grows by exactly Q per
# window. Each phase lasts dt_qc_secs (default 9, three windows):
#   quiet    no commit
#   same     `commit` of the unchanged sysfs tree every second
#   regions  `commit` every second, the target's start moving by 2 MiB
#   bytes    `commit` every second, quotas/bytes toggling Q and Q - 4 KiB
#   hold     one `commit` of quotas/bytes = 4 KiB, then nothing for two
#            windows (then Q back)
# Marks per phase the quota windows' worth the scheme tried
# (sz_tried / Q) against the windows the phase spans (secs / W), and the
# qt_exceeds increments. Where the kernel keeps the charge window, every
# phase tries about secs / W quotas; where a commit restarts it, a
# committing phase tries about one quota per commit.
#
# Measured (2026-12-03): 6.12 keeps the charge across commits; 7.2 and 7.3
# give the scheme a fresh quota at every commit (9 quotas in three windows
# with a commit every second) without counting a qt_exceeds: asserted here,
# and the reason damond refuses fail_charge_mode: emulate on those kernels
# (charge-bound). Whether the fresh quota after a commit already has the
# committed size is only marked (phase hold): early runs started that phase
# right on a window rollover and read 1.00 on 7.3 (twice) and on 7.2 once,
# 0.00 on 7.2 once; each phase now starts W + 1 s after the previous one's
# restoring commit, mid-window, and read 0.00 on 7.2 and 7.3 (15:50 UTC):
# it has (the same phase then read 8.00, its first quota charged before it).
. /scenarios/lib.sh
need_damon_sysfs
damon_stat_module_disable
secs=$(dt_param qc_secs 9)
Q=$((8 << 20)) W=3
damon_setup 1
damon_attrs 5000 100000 1000000 10 1000
damon_target_paddr
damon_scheme stat 0 4294967295 0 4294967295 $Q 0 $((W * 1000))
damon_on
c=$(damon_ctx)
# 6.12 runs its first window without a limit: start after it
sleep $((W + 1))

stats() {	# -> "sz_tried qt_exceeds"
	damon_update update_schemes_stats
	echo "$(damon_stat sz_tried) $(damon_stat qt_exceeds)"
}

phase() {	# NAME: one phase, committing every second unless NAME is quiet
	local name=$1 i=0 t0 t1 a b
	set -- $(stats); a=$1 b=$2
	t0=$(now_ms)
	while [ $((i += 1)) -le "$secs" ]; do
		sleep 1
		case $name in
		quiet) continue ;;
		regions) sysfs_write "$c/targets/0/regions/0/start" $((DAMON_TARGET_START + (i % 2) * (2 << 20))) ;;
		bytes) sysfs_write "$c/schemes/0/quotas/bytes" $((Q - (i % 2) * 4096)) ;;
		hold)
			[ $i = 1 ] || continue
			sysfs_write "$c/schemes/0/quotas/bytes" 4096
			;;
		esac
		damon_update commit
	done
	set -- $(stats)
	t1=$(now_ms)
	eval "tried_$name=$(awk -v x=$(($1 - a)) -v q=$Q 'BEGIN { printf "%d", x * 100 / q }')"
	mark "phase=$name secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')" \
		"windows=$(awk -v a="$t0" -v b="$t1" -v w=$W 'BEGIN { printf "%.1f", (b - a) / 1000 / w }')" \
		"quotas_tried=$(awk -v x=$(($1 - a)) -v q=$Q 'BEGIN { printf "%.2f", x / q }')" \
		"qt_exceeds=$(($2 - b))"
	# leave the tree as it was for the next phase
	sysfs_write "$c/targets/0/regions/0/start" "$DAMON_TARGET_START"
	sysfs_write "$c/schemes/0/quotas/bytes" $Q
	damon_update commit
	# (+1 s: the next phase starts mid-window, not on the rollover W after this commit)
	sleep $((W + 1))
}

mark "kernel=$(uname -r) quota_bytes=$Q reset_interval_s=$W"
for p in quiet same regions bytes hold; do
	phase $p
done
damon_off
# (x100: quotas tried per phase)
if has_file "$c/schemes/0/quotas/fail_charge_num"; then
	assert_ge "$tried_same" $((tried_quiet + 300)) "quotas x100 tried with a commit every second, against none ($tried_quiet): 7.2+ restarts the charge at a commit"
else
	assert_le "$tried_same" $((tried_quiet + 150)) "quotas x100 tried with a commit every second, against none ($tried_quiet): 6.12 keeps the charge across commits"
fi
exit 0
