# SPDX-License-Identifier: GPL-2.0-or-later
# zram: swap on zram0 works.  memhog touches dt_zram_mib MiB and pushes it
# out with MADV_PAGEOUT; the pages must land in zram swap, and come back.
#   dt_zram_size  zram disksize (default 256M)
#   dt_zram_mib   memory to swap out (default 64)
. /scenarios/lib.sh

size=$(dt_param zram_size 256M)
mib=$(dt_param zram_mib 64)

setup_zram "$size"
assert grep -q '^/dev/zram0' /proc/swaps
free0=$(meminfo SwapFree)
mark swap_total_kib="$(meminfo SwapTotal)" disksize="$(sysfs_read /sys/block/zram0/disksize)" \
	comp_algorithm="$(sysfs_read /sys/block/zram0/comp_algorithm | sed 's/.*\[\(.*\)\].*/\1/')"

start_memhog -m "$mib" -P
wait_for '[ "$(proc_status $MEMHOG_PID VmSwap)" -ge $((mib * 1024 * 8 / 10)) ]' 10
swap=$(proc_status "$MEMHOG_PID" VmSwap)
rss=$(proc_status "$MEMHOG_PID" VmRSS)
used=$(( free0 - $(meminfo SwapFree) ))
set -- $(sysfs_read /sys/block/zram0/mm_stat)
mark memhog_vmswap_kib="$swap" memhog_rss_kib="$rss" swap_used_kib="$used" \
	zram_orig_bytes="$1" zram_compr_bytes="$2"
assert_ge "$swap" $((mib * 1024 * 8 / 10)) "memhog VmSwap kiB"
assert_ge "$1" $((mib * 1024 * 1024 * 8 / 10)) "zram orig_data_size"

# and back: swapoff pulls everything into RAM
swapoff /dev/zram0 || fail "swapoff /dev/zram0"
swap=$(proc_status "$MEMHOG_PID" VmSwap)
assert_eq "$swap" 0 "memhog VmSwap after swapoff"
assert kill -0 "$MEMHOG_PID"
stop_memhog
teardown_zram
exit 0
