# SPDX-License-Identifier: GPL-2.0-or-later
# refine-bench: seed 004's shape (issue 15) scaled to a 2 GiB guest. One
# paddr kdamond over the biggest System RAM range, sample 5 ms, aggr 100 ms,
# nr_regions 10..dt_refine_max (200). Producers started together so that
# their pages interleave physically: one cold memhog (500 MiB, touched once)
# and nine hot ones (32-48 MiB, re-touched with different sleeps; THP as
# the kernel's default, or none with dt_refine_thp=0);
# W1 and W2 (36 MiB, 20 ms) are stopped (SIGSTOP) as soon as they have
# their memory: idle producers. Then two phases on the same workload, same
# kdamond, the first with P1/W1, the second with P2/W2:
#   off  damond with refinement off (the kernel alone; damond only reads
#        the BPF snapshots)
#   on   `refine: {enabled: true, interval: dt_refine_interval}` by reload
#   raise  the same with `raise: true`: max_nr_regions x 2 for an
#        aggregation once an interval instead of cuts (commits: raises and
#        lowers, 2 a round)
# Each phase: dt_refine_warm s to settle, then dt_refine_window s of
# samples (one a second) of nr_regions and accuracy (hot: share of the
# running hot producers' pages in regions read accessed; cold: share of the
# cold producer's pages in regions read not accessed), then
#   cold  P (P1 or P2: 40 MiB, 20 ms) is stopped: seconds until < 10 % of its pages
#         are in regions read accessed (at most dt_refine_detect s)
#   hot   W is woken (SIGCONT): seconds until >= 50 % of its pages are
#         (at most dt_refine_detect s); hot_w: until the access-weighted
#         share of W's pages (mean region nr_accesses / 20) is at least half
#         of P's just before P stopped (a woken area inside a big cold region
#         makes it read accessed at once, but only lukewarm)
# then P is woken and W stopped again for the next phase. "Read accessed":
# nr_accesses >= 1 in damond's newest BPF snapshot, intersected with the
# producers' physical pages (/proc/PID/pagemap, tests/vm/pfnshare.c).
# kernel_split_share: the share of those samples at or below max/2 (after
# the merge), i.e. of aggregations after which 6.12 and 7.2 split every region.
# Prints one @@DAMOND line per phase with the figures bench/refine tabulates,
# every key prefixed with the phase (off.nr_median=..., on.cold_detect_s=...).
#   dt_refine_max (200)  dt_refine_warm (30)  dt_refine_window (20)
#   dt_refine_detect (30)  dt_refine_interval (2s)  dt_refine_splits (8)
#   dt_refine_phases ("off,on"; "on,off" for the other order)  dt_refine_thp (1; 0: memhog -N, 4 KiB pages:
#   the producers then interleave much more finely)
# Also printed: how finely each producer is interleaved (runs: physically
# contiguous runs of its pages) and, before P stops and W wakes, the share
# of their pages read accessed (p_before should be high, w_before low: a
# high w_before means the idle producer was never seen idle).
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
max=$(dt_param refine_max 200)
warm=$(dt_param refine_warm 30)
window=$(dt_param refine_window 20)
detect=$(dt_param refine_detect 30)
interval=$(dt_param refine_interval 2s)
splits=$(dt_param refine_splits 8)
phases=$(dt_param refine_phases "off,on" | tr ',' ' ')	# comma separated: the kernel command line splits at spaces
thp=$(dt_param refine_thp 1)
nothp=$([ "$thp" = 1 ] || echo -N)
set -- $(system_ram_range)
ram_s=$1 ram_e=$2

# -------------------------------------------------------------- producers
# started together: each memhog faults its pages in while the others do
memhog -m 500 $nothp > /tmp/rb.cold 2>&1 &
MEMHOG_PIDS=$!
i=0
for spec in 32:10000 36:15000 40:20000 44:30000 48:50000 40:80000 36:20000 40:20000 36:20000; do
	memhog -m "${spec%:*}" -H "${spec%:*}" $nothp -i "${spec#*:}" > /tmp/rb.hot$i 2>&1 &
	MEMHOG_PIDS="$MEMHOG_PIDS $!"
	i=$((i + 1))
done
for f in /tmp/rb.cold /tmp/rb.hot0 /tmp/rb.hot1 /tmp/rb.hot2 /tmp/rb.hot3 /tmp/rb.hot4 /tmp/rb.hot5 /tmp/rb.hot6 \
	/tmp/rb.hot7 /tmp/rb.hot8; do
	wait_for "grep -q '^memhog: pid=' $f" 180 0.2 || fail "memhog ($f) did not get ready: $(cat $f)"
done
# spec PRODUCER_FILE: PID:START:END of its buffer
spec() {
	sed -n 's/^memhog: pid=\([0-9]*\) start=\([^ ]*\) end=\([^ ]*\).*/\1:\2:\3/p' "$1"
}
# each phase stops its own P and wakes its own W (the same specs), so that
# the second phase does not find boundaries the first one's stop left
P1=$(spec /tmp/rb.hot2) W1=$(spec /tmp/rb.hot6) P2=$(spec /tmp/rb.hot7) W2=$(spec /tmp/rb.hot8)
kill -STOP "${W1%%:*}" "${W2%%:*}"
COLD=$(spec /tmp/rb.cold)
HOT="$(spec /tmp/rb.hot0) $(spec /tmp/rb.hot1) $P1 $(spec /tmp/rb.hot3) $(spec /tmp/rb.hot4) $(spec /tmp/rb.hot5) $P2"
P=$P1 W=$W1
info "cold $COLD; hot $HOT; idle (W) $W1 $W2; P $P1 $P2"
mark ram_mib=$(((ram_e - ram_s) >> 20)) max_nr_regions="$max" cold_mib=500 hot_mib=280 idle_mib=72 \
	thp="$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)$([ "$thp" = 1 ] || echo ',memhog-N')"
# physically contiguous runs of each producer's pages (the interleaving)
echo "0 1 0" > /tmp/rb.regs
runs() {
	pfnshare /tmp/rb.regs "$@" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } } END { printf "%d", v["runs"] }'
}
mark runs_cold="$(runs "$COLD")" runs_hot="$(runs $HOT)" runs_p="$(runs "$P")" runs_w="$(runs "$W")"

config() {	# ENABLED [RAISE]
	damond_write_config <<EOC
damond:
  stats_interval: 1s
kdamonds:
  - name: refine
    ops: paddr
    intervals: {sample: 5ms, aggr: 100ms, update: 1s}
    nr_regions: {min: 10, max: $max}
    refine: {enabled: $1, interval: $interval, max_splits: $splits, raise: ${2:-false}}
    targets:
      - regions: [{start: $ram_s, end: $ram_e}]
    schemes:
      - name: watch
        action: stat
EOC
}

# regions: the newest snapshot as "start end nr_accesses" lines in /tmp/rb.regs
regions() {
	damondctl regions refine --json | tr -d ' \n' | sed 's/},{/}\n{/g' | awk -F'[:,}]' '
		{ s = e = a = -1
		  for (i = 1; i < NF; i++) {
			if ($i ~ /"start"$/) s = $(i + 1); if ($i ~ /"end"$/) e = $(i + 1); if ($i ~ /"nr_accesses"$/) a = $(i + 1) }
		  if (s >= 0 && e > s && a >= 0) print s, e, a }' > /tmp/rb.regs
}
# share SPEC...: per mille of the specs' present pages in regions read accessed
share() {
	pfnshare /tmp/rb.regs "$@" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
		END { printf "%d", v["pages"] ? 1000 * v["accessed"] / v["pages"] : -1 }'
}
# wshare SPEC...: the access-weighted share, per mille (region nr_accesses / 20 per page)
wshare() {
	pfnshare /tmp/rb.regs "$@" | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
		END { printf "%d", v["pages"] ? 1000 * v["nr_sum"] / v["pages"] / 20 : -1 }'
}
ticks() {	# utime+stime of PID, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
refine_num() {	# KEY of the refine status object
	damondctl status --json | tr -d ' \n' | sed -n "s/.*\"refine\":{[^}]*\"$1\":\([0-9]*\).*/\1/p"
}
refine_verdict() {
	damondctl status --json | tr -d ' \n' | sed -n 's/.*"refine":{[^}]*"verdict":"\([a-z-]*\)".*/\1/p'
}
# detect SPEC CMP LIMIT_PERMILLE: seconds (x10) until share(SPEC) CMP LIMIT, or -1
detect() {
	local t0 now s
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt $((detect * 1000)) ]; do
		regions
		s=$(share "$1")
		now=$(now_ms)
		info "detect $1: ${s} permille (weighted $(wshare "$1")) at $(((now - t0) / 100))ds, n=$(wc -l < /tmp/rb.regs) verdict=$(refine_verdict)" >&2
		if [ "$2" = lt ] && [ "$s" -lt "$3" ]; then echo $(((now - t0) / 100)); return 0; fi
		if [ "$2" = ge ] && [ "$s" -ge "$3" ]; then echo $(((now - t0) / 100)); return 0; fi
		sleep 1
	done
	echo "-1 $s"
}

# detect_w SPEC LIMIT ELAPSED_DS: like detect ge, with the weighted share; the
# clock started ELAPSED_DS (deciseconds, -1: the whole detect time) ago
detect_w() {
	local t0 now s
	[ "$3" -ge 0 ] && t0=$(($(now_ms) - $3 * 100)) || t0=$(($(now_ms) - detect * 1000))
	while :; do
		regions
		s=$(wshare "$1")
		now=$(now_ms)
		info "detect_w $1: weighted ${s} permille (limit $2) at $(((now - t0) / 100))ds" >&2
		if [ "$s" -ge "$2" ]; then echo $(((now - t0) / 100)); return 0; fi
		[ $((now - t0)) -lt $((detect * 1000)) ] || break
		sleep 1
	done
	echo "-1 $s"
}

config false
damond_start_bpf 60 0.5
kpid=$(kd_pid 0)

first=1
for ph in $phases; do
	if [ "$first" = 1 ]; then
		[ "$ph" = off ] || { config true "$([ "$ph" = raise ] && echo true || echo false)"; damondctl reload || fail "reload failed"; }
	else
		config "$([ "$ph" = off ] && echo false || echo true)" "$([ "$ph" = raise ] && echo true || echo false)"
		damondctl reload || fail "damondctl reload failed"
	fi
	first=0
	sleep "$warm"
	r1=$(refine_num rounds); s1=$(refine_num splits); k1=$(refine_num kept); l1=$(refine_num lost); x1=$(refine_num raises)
	d1=$(ticks "$DAMOND_PID"); q1=$(ticks "$kpid"); t1=$(now_ms)
	: > /tmp/rb.samples
	nv=0 nk=0 ns=0 nw=0 nb=0 nr=0
	j=0
	while [ $j -lt "$window" ]; do
		regions
		v=$(refine_verdict)
		case $v in
		kernel-splits) nk=$((nk + 1)) ;; below-half) nb=$((nb + 1)) ;; split) ns=$((ns + 1)) ;;
		raise | lower) nr=$((nr + 1)) ;; wait) nw=$((nw + 1)) ;; *) nv=$((nv + 1)) ;;
		esac
		echo "$(wc -l < /tmp/rb.regs) $(share $HOT) $((1000 - $(share "$COLD")))" >> /tmp/rb.samples
		sleep 1
		j=$((j + 1))
	done
	# nr_regions median/p10/max (per mille of max), mean accuracy (per mille)
	stats=$(sort -n /tmp/rb.samples | awk -v max="$max" '{ n[NR] = $1; h += $2; c += $3 }
		$1 <= max / 2 { ks++ }
		END { m = n[int((NR + 1) / 2)]; p = n[int(NR / 10) + 1]; x = n[NR]
		      printf "nr_median=%d nr_p10=%d nr_max=%d nr_median_frac=%.2f nr_p10_frac=%.2f nr_max_frac=%.2f hot_acc=%.2f cold_acc=%.2f kernel_split_share=%.2f",
			m, p, x, m / max, p / max, x / max, h / NR / 1000, c / NR / 1000, ks / NR }')
	regions
	pb=$(share "$P") pwb=$(wshare "$P")
	kill -STOP "${P%%:*}"
	cold=$(detect "$P" lt 100)
	regions
	wb=$(share "$W") wwb=$(wshare "$W")
	kill -CONT "${W%%:*}"
	hot=$(detect "$W" ge 500)
	# the same wake, judged by the access-weighted share: at least half of
	# what P read while it ran (a woken producer inside a big mostly cold
	# region makes that region read accessed at once, but only lukewarm)
	hotw=$(detect_w "$W" $((pwb / 2)) "$(($(echo "$hot" | cut -d' ' -f1) ))")
	d2=$(ticks "$DAMOND_PID"); q2=$(ticks "$kpid"); t2=$(now_ms)
	r2=$(refine_num rounds); s2=$(refine_num splits); k2=$(refine_num kept); l2=$(refine_num lost); x2=$(refine_num raises)
	ms=$((t2 - t1))
	# seconds with one decimal; -1: not within dt_refine_detect (the share at the end follows)
	fmt() { set -- $1; [ "$1" -ge 0 ] && printf '%d.%d' $(($1 / 10)) $(($1 % 10)) || printf 'none(%d%%)' $(($2 / 10)); }
	# keys prefixed with the phase (bench/vm-run keeps the last value of a key)
	pmark() {
		local a out=""
		for a in "$@"; do out="$out $ph.$a"; done
		mark $out
	}
	pmark $stats cold_detect_s="$(fmt "$cold")" hot_detect_s="$(fmt "$hot")" hot_detect_w_s="$(fmt "$hotw")" \
		commits_per_min="$(awk -v r=$((${r2:-0} - ${r1:-0} + ${x2:-0} - ${x1:-0})) -v ms=$ms 'BEGIN { printf "%.1f", r * 60000 / ms }')" \
		raises=$((${x2:-0} - ${x1:-0})) \
		splits=$((${s2:-0} - ${s1:-0})) kept=$((${k2:-0} - ${k1:-0})) lost=$((${l2:-0} - ${l1:-0})) \
		damond_cpu_pct="$(awk -v d=$((d2 - d1)) -v ms=$ms 'BEGIN { printf "%.2f", d * 1000 / ms }')" \
		kdamond_cpu_pct="$(awk -v d=$((q2 - q1)) -v ms=$ms 'BEGIN { printf "%.2f", d * 1000 / ms }')" \
		verdicts="split:$ns,kernel-splits:$nk,below-half:$nb,raise-lower:$nr,wait:$nw,other:$nv" \
		p_before="$pb" p_before_w="$pwb" w_before="$wb" w_before_w="$wwb"
	damondctl status | grep -E 'refine|snapshot' | head -n 4
	grep 'region refinement' "$DAMOND_LOG" | tail -n 3
	# back to the start: P hot again, W idle again; the next phase uses the other pair
	kill -CONT "${P%%:*}"
	kill -STOP "${W%%:*}"
	if [ "$P" = "$P1" ]; then P=$P2 W=$W2; else P=$P1 W=$W1; fi
done
kill -CONT "${W1%%:*}" "${W2%%:*}"
assert_eq "$(kd_pid 0)" "$kpid" "kdamond pid at the end"
damond_stop
exit 0
