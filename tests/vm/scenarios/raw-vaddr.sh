# SPDX-License-Identifier: GPL-2.0-or-later
# raw-vaddr: a vaddr kdamond by hand (no damond) on memhog's 64 MiB with an
# 8 MiB hot range: the regions DAMON sees accessed must cover most of the
# hot range (at least dt_raw_vaddr_hot_pct %, default 50, in the best of up
# to 10 snapshots 1 s apart).  Before memhog flushed its TLB after each pass
# over the hot range, TCG hid most accesses (DAMON clears the accessed bit
# without a TLB flush; QEMU sets it again only on a TLB refill): one snapshot
# saw 0-100 % and a CI run had a best of 35 % over 10.  With the flush, 6
# of 6 snapshots in 2 runs on 7.3 saw the hot range at 20 of 20 samples.
#   dt_raw_vaddr_secs  monitoring time before the snapshot (default 5)
. /scenarios/lib.sh

secs=$(dt_param raw_vaddr_secs 5)
pct=$(dt_param raw_vaddr_hot_pct 50)
need_damon_sysfs
damon_stat_module_disable

start_memhog -m 64 -H 8
damon_setup 1
damon_attrs 5000 100000 1000000 10 1000
damon_target_pid "$MEMHOG_PID"
damon_scheme stat 0 4294967295 0 4294967295
damon_on
sleep "$secs"
hs=$((MEMHOG_HOT_START)) he=$((MEMHOG_HOT_END))
# one snapshot can catch the hot range split or merged with cold memory:
# take up to 10 snapshots, 1 s apart, and keep the best
best=0 nr=0 i=0
while [ $i -lt 10 ]; do
	damon_update update_schemes_tried_regions
	hot=0 n=0
	for r in "$DAMON_SCHEME"/tried_regions/[0-9]*; do
		[ -d "$r" ] || continue
		n=$((n + 1))
		[ "$(cat "$r/nr_accesses")" -gt 0 ] || continue
		s=$(cat "$r/start") e=$(cat "$r/end")
		[ $s -gt $hs ] || s=$hs
		[ $e -lt $he ] || e=$he
		[ $e -le $s ] || hot=$((hot + e - s))
	done
	[ $hot -le $best ] || { best=$hot; nr=$n; }
	i=$((i + 1))
	[ $((best * 100 / (he - hs))) -lt "$pct" ] || break
	sleep 1
done
hot=$best
mark snapshots=$i regions="$nr" hot_found_kib=$((hot >> 10)) hot_real_kib=$(((he - hs) >> 10))
assert_ge "$nr" 1 "tried regions"
assert_ge $((hot * 100 / (he - hs))) "$pct" "% of the hot range seen accessed"
damon_off
exit 0
