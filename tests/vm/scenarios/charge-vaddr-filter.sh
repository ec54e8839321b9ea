# SPDX-License-Identifier: GPL-2.0-or-later
# charge-vaddr-filter: how could damond leave memory out of a vaddr target?
# (issue 17: the pagemap oracle knows which virtual ranges a pageout fails
# on, but damond cuts exclusions out of paddr targets only.) Raw DAMON, no
# damond: one process, 1 GiB mlocked then 800 MiB idle anon (memhog -L), a
# vaddr pageout scheme on it, nr_accesses 0..0, 32 MiB per 1 s, update 1 s.
# Variants, each on a fresh process for dt_cvf_secs (default 40):
#   none     no exclusion (what the fallback law gets)
#   filter   one addr filter (filters/, matching: reject) over the mlocked GiB
#   regions  the target's regions committed as the idle part only (the
#            kernel's damon_va_update() resets them every update interval
#            and fills holes: expected to gain nothing)
# The idle part is touched 6 s after the process starts (DAMON is on by
# then): 6.12's first quota window has no limit and would page it all out.
# Marks per variant the MiB applied at 10 s steps, the failure share, and the
# seconds until 95 % of the idle part left RSS (-1: not within the phase).
# Measures only.
. /scenarios/lib.sh
need_damon_sysfs
damon_stat_module_disable
secs=$(dt_param cvf_secs 40)
Q=$((32 << 20))
setup_zram 1G

rss_unlocked() {	# PID: VmRSS - VmLck, KiB
	echo $(($(proc_status "$1" VmRSS) - $(proc_status "$1" VmLck)))
}

variant() {	# NAME
	local name=$1 c t0 rss0 gone=-1 ser="" next=10 a0 now r lo hi
	# the idle part appears 6 s after the process, past the first quota window
	# (6.12 runs its first window without a limit)
	start_memhog -m 1824 -L 1024 -D 6
	lo=$((MEMHOG_START)) hi=$((MEMHOG_START + (1024 << 20)))
	damon_setup 1
	damon_attrs 5000 100000 1000000 10 1000
	damon_target_pid "$MEMHOG_PID"
	damon_scheme pageout 0 0 0 4294967295 $Q 0 1000
	c=$(damon_ctx)
	case $name in
	filter)
		sysfs_write "$c/schemes/0/filters/nr_filters" 1
		sysfs_write "$c/schemes/0/filters/0/type" addr
		sysfs_write "$c/schemes/0/filters/0/matching" Y
		sysfs_write "$c/schemes/0/filters/0/addr_start" "$lo"
		sysfs_write "$c/schemes/0/filters/0/addr_end" "$hi"
		;;
	regions)
		sysfs_write "$c/targets/0/regions/nr_regions" 1
		sysfs_write "$c/targets/0/regions/0/start" "$hi"
		sysfs_write "$c/targets/0/regions/0/end" $((MEMHOG_END))
		;;
	esac
	damon_on
	wait_for "grep -q '^memhog: rest touched' $MEMHOG_OUT" 60 || fail "memhog did not touch its idle part"
	rss0=$(rss_unlocked "$MEMHOG_PID")
	t0=$(now_ms)
	damon_update update_schemes_stats
	a0=$(damon_stat sz_applied)
	while :; do
		sleep 0.5
		now=$(now_ms)
		r=$(rss_unlocked "$MEMHOG_PID")
		if [ "$gone" = -1 ] && [ "$r" -le $((rss0 / 20)) ]; then
			gone=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
		fi
		if [ $((now - t0)) -ge $((next * 1000)) ]; then
			damon_update update_schemes_stats
			ser="$ser${ser:+,}$next:$((($(damon_stat sz_applied) - a0) >> 20))"
			next=$((next + 10))
		fi
		[ $((now - t0)) -lt $((secs * 1000)) ] || break
	done
	damon_update update_schemes_stats
	mark "variant=$name applied_mib_at_s=$ser tried_mib=$(($(damon_stat sz_tried) >> 20))" \
		"applied_mib=$((($(damon_stat sz_applied) - a0) >> 20)) qt_exceeds=$(damon_stat qt_exceeds)" \
		"rss_unlocked_kib=$rss0->$(rss_unlocked "$MEMHOG_PID") reclaim_s=$gone"
	damon_off
	stop_memhog
}

for v in $(dt_param cvf_variants none,filter,regions | tr ',' ' '); do
	variant "$v"
done
teardown_zram
exit 0
