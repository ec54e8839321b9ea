# SPDX-License-Identifier: GPL-2.0-or-later
# charge-probe: where the page-cache shapes' pageout fails (issue 17). The
# pagecache-control shape (900 MiB of /dev/vda's page cache, nothing locked;
# bench/vm-run -d 1G) under the charge-ratio scheme, per mode, sampling
# every ~2 s: the scheme's tried / applied / ops-filter-passed bytes and a
# kpageflags census (kpfstat: how much of the cache carries KPF_IDLE, which
# is what the pageout's default young check reads as old). Measures only.
#   dt_probe_modes  comma list of off|auto|emulate (default off,auto)
#   dt_probe_secs   seconds per mode (default 40)
#   dt_probe_age    seconds (default 0: none) of an "ager" before damond: a
#                   raw kdamond (paddr, lru_deprio on everything, no quota)
#                   whose ops filters reject anon pages, then young pages,
#                   then old pages: it applies nothing, and its young check
#                   marks every page it reads young old (PG_idle), as the
#                   pageout's default young filter does when it fails
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
. /scenarios/charge-lib.sh
need_damond
need_damon_sysfs
damon_stat_module_disable
need_disk
secs=$(dt_param probe_secs 40)
s=$damon_kdamonds/0/contexts/0/schemes/0/stats
for mode in $(dt_param probe_modes off,auto | tr ',' ' '); do
	setup_zram 1G
	charge_config "$mode" | damond_write_config
	sync
	echo 3 > /proc/sys/vm/drop_caches
	FILE0=$(file_lru_kib)
	exec 9< /dev/vda
	dd if=/dev/vda of=/dev/null bs=1M count=900 2>/dev/null
	mark "probe mode=$mode phase=read file_kib=$(($(file_lru_kib) - FILE0)) $(kpfstat | sed 's/^kpfstat: //')"
	age=$(dt_param probe_age 0)
	if [ "$age" -gt 0 ]; then
		damon_setup 1
		damon_attrs 100000 1000000 1000000 10 1000
		damon_target_paddr
		damon_scheme lru_deprio 0 4294967295 0 4294967295
		f=$DAMON_SCHEME/filters
		sysfs_write "$f/nr_filters" 3
		i=0
		for tm in anon:Y young:Y young:N; do
			sysfs_write "$f/$i/type" "${tm%:*}"
			sysfs_write "$f/$i/matching" "${tm#*:}"
			i=$((i + 1))
		done
		damon_on
		a0=$(now_ms)
		while [ $(($(now_ms) - a0)) -lt $((age * 1000)) ]; do
			sleep 1
			damon_update update_schemes_stats
			mark "probe mode=$mode phase=age t_ms=$(($(now_ms) - a0)) tried_mib=$(($(damon_stat sz_tried) >> 20))" \
				"applied_mib=$(($(damon_stat sz_applied) >> 20)) $(kpfstat | sed 's/^kpfstat: //')"
		done
		damon_off
		sysfs_write "$damon_kdamonds/nr_kdamonds" 0
	fi
	damond_start
	t0=$(now_ms)
	end=$((t0 + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		sleep 2
		echo update_schemes_stats > $damon_kdamonds/0/state 2>/dev/null || continue
		fp=-
		[ -f $s/sz_ops_filter_passed ] && fp=$(cat $s/sz_ops_filter_passed)
		mark "probe mode=$mode t=$((($(now_ms) - t0) / 1000)) tried_mib=$(($(cat $s/sz_tried) >> 20))" \
			"applied_mib=$(($(cat $s/sz_applied) >> 20)) passed_mib=$([ "$fp" = - ] && echo - || echo $((fp >> 20)))" \
			"qt_exceeds=$(cat $s/qt_exceeds) file_kib=$(($(file_lru_kib) - FILE0)) $(kpfstat | sed 's/^kpfstat: //')"
	done
	damondctl status --json | tr -d ' \n' > /tmp/probe.status
	mark "probe mode=$mode oracle $(sed -n 's/.*"oracle":\({[^}]*}\).*/\1/p' /tmp/probe.status)"
	grep -E "commit|exclude" "$DAMOND_LOG" | tail -n 6 | sed "s/^/[$mode] /"
	damond_stop
	teardown_zram
	exec 9<&-
	echo 3 > /proc/sys/vm/drop_caches
done
exit 0
