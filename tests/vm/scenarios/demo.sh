# SPDX-License-Identifier: GPL-2.0-or-later
# demo: what `tools/demo` shows. A stock Debian kernel, zram swap, 600 MiB of
# idle anonymous memory, and damond running the shipped conf/damond.yaml
# (proactive reclaim of memory idle for 30 s or more). Prints
# `damondctl status` every few seconds while the idle memory is paged out.
#   dt_demo_secs   how long to watch (default 75)
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs
secs=$(dt_param demo_secs 75)
every=$(dt_param demo_every 15)

setup_zram 1G
# 3/4 of RAM, idle: free memory falls below the policy's 40 % watermark
start_memhog -m "$(dt_param demo_hog_mib $(( $(meminfo MemTotal) * 3 / 4 / 1024 )))" -r 5
cp /etc/damond.yaml.shipped "$DAMOND_CONFIG"
echo
echo "==== /etc/damond.yaml (conf/damond.yaml without comments)"
grep -v '^[[:space:]]*#' "$DAMOND_CONFIG" | grep -v '^[[:space:]]*$'
echo
echo "==== starting damond; memory idle for 30 s becomes eligible for pageout"
damond_start
t=0
while [ $t -le "$secs" ]; do
	echo
	echo "==== t=${t}s  memhog RSS $(( $(proc_status "$MEMHOG_PID" VmRSS) / 1024 )) MiB, swap used $(( ( $(meminfo SwapTotal) - $(meminfo SwapFree) ) / 1024 )) MiB"
	damondctl status | sed -n '1,/^kernel features/p' | grep -v '^kernel features'
	sleep "$every"
	t=$((t + every))
done
rss=$(( $(proc_status "$MEMHOG_PID" VmRSS) / 1024 ))
mark memhog_rss_mib_end="$rss"
damond_stop
exit 0
