# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
# The failed-region charge-ratio scenario (docs/vm-testing.md section 4, the
# issue's table): 2 GiB guest, zram swap, 1 GiB mlocked, then 800 MiB of idle
# anonymous memory; damond runs a paddr pageout scheme with a 32 MiB per 1 s
# quota and nr_accesses max 0. Stats are sampled about every 200 ms.
#
# run_charge MODE SHAPE SECS: MODE off|auto|emulate|age (age: auto plus the
# ager kdamond, charge_config); SHAPE what fails besides
# free and kernel memory (issue 17):
#   mlock (or 1)      1 GiB mlocked anon, then 800 MiB idle anon (the scenario)
#   control (or 0)    no failing memory of its own: 1600 MiB idle anon
#   hugetlb           1 GiB of mapped and touched hugetlb pages (2 MiB), then
#                     700 MiB idle anon
#   hugetlb-reserved  the same 1 GiB of hugetlb pages mapped but never touched
#                     (reserved for the mapping, free in the pool), then 700 MiB
#   vaddr             one process: 1 GiB mlocked, and 800 MiB of idle anon it
#                     touches 4 s later; a vaddr pageout scheme on its pid
#                     (the same quota and pattern). Its RSS is read less VmLck.
#   pagecache         1 GiB mlocked anon, then 700 MiB of page cache read
#                     from a real block device (/dev/vda, virtio: bench/vm-run
#                     -d SIZE; the guest's root is an initramfs, whose files
#                     are shmem). The reclaimable memory is the page cache
#                     (the file LRU, meminfo Active(file) + Inactive(file),
#                     above what it held before the read).
#   pagecache-file    the pagecache shape with the cache of a file: an ext2
#                     filesystem (busybox mke2fs, mounted by the ext4 driver)
#                     on /dev/vda holding a 700 MiB file, written, synced and
#                     dropped before the phase, then read back
#   pagecache-control the pagecache shape without the mlock: 900 MiB of the
#                     disk's page cache, nothing locked (does the cache
#                     itself page out on every try?)
#   mix               512 MiB mlocked, 512 MiB of mapped hugetlb pages, then
#                     400 MiB idle anon and 400 MiB of block-device page cache
#                     (the reclaimable memory: the anon's RSS + the cache)
# Prints a result and a series mark and sets R_PCT R_LOW R_MAXX100 R_RECLAIM_S R_PAIRX100 R_TRIX100 R_FULLWIN
# (% of the quota applied per window the kernel charged full) R_TFS (s to
# full speed) R_SERIES (MiB applied every 5 s).

CHARGE_Q=$((32 << 20))

charge_config() {	# MODE [PID]: PID given, a vaddr scheme on that process
	local ratio="" mode="" ops=paddr target="regions: auto"
	if [ -n "${2:-}" ]; then
		ops=vaddr
		target="pid: $2"
	fi
	case $1 in
	auto | age) ratio="          fail_charge_ratio: 1/4096" ;;
	emulate) ratio="          fail_charge_ratio: 1/4096"; mode="          fail_charge_mode: emulate" ;;
	esac
	# mode age: no spare kdamond directory, so damond's own ager (daemon/ager.c) cannot start beside the raw one
	local spares=""
	[ "$1" != age ] || spares="  spare_kdamonds: 0"
	cat <<EOC
damond:
  stats_interval: 500ms
$spares
kdamonds:
  - name: reclaim
    ops: $ops
    intervals: {sample: 5ms, aggr: 100ms, update: 1s}
    nr_regions: {min: 10, max: 1000}
    targets:
      - $target
    schemes:
      - name: pageout
        action: pageout
        access_pattern:
          nr_accesses: {min: 0, max: 0}
        quotas:
          bytes: 32M
          reset_interval: 1s
$ratio
$mode
EOC
	[ "$1" = age ] || return 0
	# mode age: auto plus an "ager", a second kdamond whose lru_deprio
	# scheme applies to no page (its ops filters reject anon pages, then
	# young pages, then old ones) but whose young check marks every young
	# page it reads old (PG_idle), as the pageout's default young filter
	# does when it rejects one: unmapped page cache DAMON never sampled then
	# reads old before the pageout reaches it (issue 17, docs/BENCHMARKS.md
	# "page cache"). Coarse intervals, few regions: its own sampling steals
	# few accessed bits from the reclaim context. dt_charge_ager_bytes: its
	# quota per 1 s (default 512M).
	cat <<EOC
  - name: ager
    ops: paddr
    intervals: {sample: 100ms, aggr: 1s, update: 1s}
    nr_regions: {min: 10, max: 20}
    targets:
      - regions: auto
    schemes:
      - name: age
        action: lru_deprio
        access_pattern:
          nr_accesses: {min: 0, max: 100%}
        filters:
          - {type: anon, matching: true}
          - {type: young, matching: true}
          - {type: young, matching: false}
        quotas:
          bytes: $(dt_param charge_ager_bytes 512M)
          reset_interval: 1s
EOC
}

# kd_cpu_ms PID: the CPU a kdamond used so far (utime + stime, ms), or "-"
kd_cpu_ms() {
	local f
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo -; return; }
	f=$(sed 's/.*) //' "/proc/$1/stat")
	set -- $f
	echo $(( (${12} + ${13}) * 1000 / $(getconf CLK_TCK 2>/dev/null || echo 100) ))
}

# hog_rss PID: its resident KiB less what it has mlocked (the vaddr shape's one process)
hog_rss() {
	local r l
	r=$(proc_status "$1" VmRSS)
	l=$(proc_status "$1" VmLck)
	[ -n "$r" ] && echo $((r - ${l:-0}))
}

# The page cache shapes read the raw block device (dd of /dev/vda, buffered):
# its pages are the block device inode's page cache, clean, unmapped, on the
# file LRU like a file's, and a DAMOS pageout drops them the same way
# (reclaim_pages: no writeback, no swap). The scenario's shell holds the
# device open (fd 9) while they should stay: the kernel truncates a block
# device's page cache on its last close (the first run of these shapes read
# 700 MiB and kept 0 KiB); a mounted filesystem holds its device the same
# way. The pagecache-file shape reads a file of a filesystem on the disk
# instead, to compare (its pages belong to the file's inode; ext2 maps them
# with buffer heads as the raw device does).
# need_disk: /dev/vda, loading virtio_blk (and ext4) first, or fail
need_disk() {
	local m
	if [ ! -b /dev/vda ] && [ -f /lib/modules/disk/modules.load ]; then
		# virtio_blk, ext4 and its dependencies, in fetch-kernel's order
		while read -r m; do
			[ -z "$m" ] || insmod "/lib/modules/disk/$m.ko" 2>/dev/null
		done < /lib/modules/disk/modules.load
		wait_for "[ -b /dev/vda ]" 10
	fi
	[ -b /dev/vda ] || fail "no /dev/vda: the page cache shapes need a disk (bench/vm-run -d 1G)"
}

# disk_file MIB: an ext2 filesystem on /dev/vda mounted on /mnt/disk with a
# file of MIB MiB, written and synced, its cache dropped; sets CACHE_SRC
disk_file() {
	if ! grep -q ' /mnt/disk ' /proc/mounts; then
		mke2fs -F /dev/vda > /dev/null 2>&1 || fail "mke2fs /dev/vda failed"
		mkdir -p /mnt/disk
		mount -t ext4 /dev/vda /mnt/disk || fail "mount /dev/vda (ext2 by the ext4 driver) failed"
	fi
	if [ "$(($(stat -c %s /mnt/disk/f 2>/dev/null || echo 0) >> 20))" -lt "$1" ]; then
		dd if=/dev/zero of=/mnt/disk/f bs=1M count="$1" 2>/dev/null || fail "writing /mnt/disk/f failed"
		sync
	fi
	CACHE_SRC=/mnt/disk/f
}

# file_lru_kib: meminfo Active(file) + Inactive(file), what reclaim can drop
# of the page cache (the initramfs' files are shmem or ramfs, on no file
# LRU). With the device held open it equals meminfo Buffers (a raw block
# device's cache: 702 864 KiB both after a 700 MiB read on 6.12).
file_lru_kib() {
	awk '$1 == "Active(file):" || $1 == "Inactive(file):" { s += $2 } END { print s + 0 }' /proc/meminfo
}

# fill_cache MIB: MIB of /dev/vda's page cache, from a cold cache; sets FILE0
# (file_lru_kib before the read)
fill_cache() {
	local sz src=${CACHE_SRC:-/dev/vda}
	sz=$(($(cat /sys/block/vda/size) / 2048))
	[ "$sz" -ge "$1" ] || fail "/dev/vda holds $sz MiB, the shape reads $1"
	sync
	echo 3 > /proc/sys/vm/drop_caches
	FILE0=$(file_lru_kib)
	exec 9< /dev/vda
	dd if="$src" of=/dev/null bs=1M count="$1" 2>/dev/null || fail "dd of $src failed"
	info "page cache: file LRU $FILE0 -> $(file_lru_kib) KiB (Cached $(meminfo Cached), Buffers $(meminfo Buffers)) after reading $1 MiB of $src"
	# (a warning, not a failure: the scenario's other shapes still run)
	[ $(($(file_lru_kib) - FILE0)) -ge $(($1 * 1024 / 2)) ] ||
		mark "warning reading $1 MiB of /dev/vda left only $(($(file_lru_kib) - FILE0)) KiB of page cache"
}

# left_kib: the reclaimable memory still resident (KiB): the idle hog's RSS
# (less what it mlocked), plus the block device's page cache for the
# pagecache and mix shapes
left_kib() {
	local r=0 b
	if [ -n "$HOG2" ]; then
		r=$(hog_rss "$HOG2")
		[ -n "$r" ] || return 0
	fi
	if [ -n "$FILE0" ]; then
		b=$(($(file_lru_kib) - FILE0))
		[ $b -gt 0 ] || b=0
		r=$((r + b))
	fi
	echo "$r"
}

sample_stats() {	# -> "t_ms sz_applied sz_tried rss_kib qt_exceeds", nothing if the stats could not be refreshed
	local st=$damon_kdamonds/0/state s=$damon_kdamonds/0/contexts/0/schemes/0/stats i
	# The command fails (EBUSY) while damond holds the DAMON sysfs lock, e.g.
	# during a commit. The stats files then still hold an older refresh: with
	# this moment's timestamp, that sample moved bytes into the wrong window
	# (a CI run on 6.12 read one window at 2.16 x the quota while damond's
	# kernel quota never exceeded it). No sample is better than a stale one.
	for i in 1 2 3; do
		echo update_schemes_stats > "$st" 2>/dev/null && break
		[ $i -lt 3 ] || return 1
		sleep 0.05
	done
	echo "$(now_ms) $(cat $s/sz_applied) $(cat $s/sz_tried) $(left_kib) $(cat $s/qt_exceeds)"
}

# vmstat_reclaim: "pgsteal_kswapd pgsteal_direct pswpout" from /proc/vmstat
vmstat_reclaim() {
	awk '$1 == "pgsteal_kswapd" { k = $2 } $1 == "pgsteal_direct" { d = $2 } $1 == "pswpout" { p = $2 }
		END { printf "%d %d %d\n", k, d, p }' /proc/vmstat
}

# kernel_has_fail_charge: true when the kernel has quotas/fail_charge_num
# (7.2+), looked up in a scratch kdamond dir (nr_kdamonds back to 0 after)
kernel_has_fail_charge() {
	local r=1
	sysfs_write "$damon_kdamonds/nr_kdamonds" 1
	sysfs_write "$damon_kdamonds/0/contexts/nr_contexts" 1
	sysfs_write "$damon_kdamonds/0/contexts/0/schemes/nr_schemes" 1
	has_file "$damon_kdamonds/0/contexts/0/schemes/0/quotas/fail_charge_num" && r=0
	sysfs_write "$damon_kdamonds/nr_kdamonds" 0
	return $r
}

# hugetlb_pool N: N default-size (2 MiB) pages in the hugetlb pool, or fail
hugetlb_pool() {
	local i
	# (after an earlier run in the same guest, free memory may need compacting first)
	for i in 1 2 3; do
		echo "$1" > /proc/sys/vm/nr_hugepages 2>/dev/null
		[ "$(meminfo HugePages_Total)" = "$1" ] && break
		sync
		echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
		echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
	done
	[ "$(meminfo HugePages_Total)" = "$1" ] ||
		fail "the hugetlb pool holds $(meminfo HugePages_Total) pages, not $1 (Hugepagesize $(meminfo Hugepagesize) kB)"
}

run_charge() {
	local mode=$1 shape=$2 secs=$3 out t0 hog_mib rss0 end mlock=0 vpid= cache_mib=0
	FILE0="" HOG2="" CACHE_SRC=""
	case $shape in
	1) shape=mlock ;;
	0) shape=control ;;
	esac
	out=/tmp/charge.$mode.$shape
	# wall clock = now_ms + wall_off (the guest's date prints whole seconds only: wait for one to begin)
	s0=$(date +%s)
	while [ "$(date +%s)" = "$s0" ]; do :; done
	wall_off=$(($(date +%s) * 1000 - $(now_ms)))
	# (the ownership record stays: the kdamond dir of a previous run is damond's)
	case $shape in
	mlock)
		mlock=1
		setup_zram 1G
		start_memhog -m 1024 -l
		hog_mib=800
		;;
	control)
		setup_zram 2G
		hog_mib=1600
		;;
	hugetlb | hugetlb-reserved)
		hugetlb_pool 512
		setup_zram 1G
		if [ $shape = hugetlb ]; then
			start_memhog -m 1024 -T
		else
			start_memhog -m 1024 -T -R
		fi
		mark "hugetlb shape=$shape total=$(meminfo HugePages_Total) free=$(meminfo HugePages_Free) rsvd=$(meminfo HugePages_Rsvd)"
		hog_mib=700
		;;
	vaddr)
		mlock=1
		setup_zram 1G
		start_memhog -m 1824 -L 1024 -D 4
		vpid=$MEMHOG_PID
		hog_mib=800
		;;
	pagecache)
		mlock=1
		need_disk
		setup_zram 1G
		start_memhog -m 1024 -l
		hog_mib=0 cache_mib=700
		;;
	pagecache-file)
		mlock=1
		need_disk
		disk_file 700
		setup_zram 1G
		start_memhog -m 1024 -l
		hog_mib=0 cache_mib=700
		;;
	pagecache-control)
		need_disk
		setup_zram 1G
		hog_mib=0 cache_mib=900
		;;
	mix)
		mlock=1
		need_disk
		hugetlb_pool 256
		setup_zram 1G
		start_memhog -m 512 -l
		start_memhog -m 512 -T
		mark "hugetlb shape=$shape total=$(meminfo HugePages_Total) free=$(meminfo HugePages_Free) rsvd=$(meminfo HugePages_Rsvd)"
		hog_mib=400 cache_mib=400
		;;
	*) fail "run_charge: unknown shape $shape" ;;
	esac
	charge_config "$mode" $vpid | damond_write_config
	damond_start
	sleep 2
	if [ -n "$vpid" ]; then
		wait_for "grep -q '^memhog: rest touched' $MEMHOG_OUT" 60 || fail "memhog did not touch its idle part"
		HOG2=$vpid
	else
		[ "$cache_mib" -eq 0 ] || fill_cache "$cache_mib"
		if [ "$hog_mib" -gt 0 ]; then
			start_memhog -m "$hog_mib"
			HOG2=$MEMHOG_PID
		fi
	fi
	rss0=$(left_kib)
	vm0=$(vmstat_reclaim)
	t0=$(now_ms)
	t0_wall=$((t0 + wall_off))
	end=$((t0 + secs * 1000))
	: > "$out"
	prev=0
	while [ "$(now_ms)" -lt "$end" ]; do
		# damond rewrites the scheme dirs on a commit (stats files read 0 until
		# the next update): keep only complete samples that do not go back
		line=$(sample_stats 2>/dev/null)
		set -- $line
		if [ $# -eq 5 ] && [ "$2" -ge "$prev" ]; then
			echo "$line" >> "$out"
			prev=$2
		fi
		# stop once the reclaimable memory is gone (RSS <= 5 %), plus 2 s
		r=$(left_kib)
		if [ -n "$r" ] && [ "$r" -le $((rss0 / 20)) ]; then
			[ -n "$gone" ] || gone=$(now_ms)
			[ "$(now_ms)" -lt $((gone + 2000)) ] || break
		fi
		sleep 0.2
	done
	gone=""
	# reclaim the kernel did besides DAMOS during the phase (pages): a run that
	# lost pages to kswapd reads low against the quota (7.2, session 4)
	set -- $vm0 $(vmstat_reclaim)
	mark "vmstat mode=$mode shape=$shape pgsteal_kswapd=$(($4 - $1)) pgsteal_direct=$(($5 - $2)) pswpout=$(($6 - $3))"
	damondctl status --json | tr -d ' \n' > /tmp/charge.status
	# damond's own ager (6.12 auto/emulate: daemon/ager.c): its state, starts, and the CPU its kdamond and the
	# reclaim kdamond used (ms, utime + stime of /proc/PID/stat); "none" where damond considers none (7.x)
	agj=$(grep -o '"ager":{[^}]*}' /tmp/charge.status | head -n1)
	R_AGER=$(echo "$agj" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
	R_AGER=${R_AGER:-none}
	ag_pid=$(echo "$agj" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
	rc_pid=$(sed -n 's/^{.*"kdamonds":\[{"name":"reclaim","index":[0-9]*,"state":"[a-z]*","pid":\([0-9]*\).*/\1/p' /tmp/charge.status)
	# mode age: the raw ager of the config (kdamond "ager") instead
	raw_pid=$(sed -n 's/.*{"name":"ager","index":[0-9]*,"state":"[a-z]*","pid":\([0-9]*\).*/\1/p' /tmp/charge.status)
	mark "ager mode=$mode shape=$shape state=$R_AGER cpu_ms=$(kd_cpu_ms "$ag_pid") raw_ager_cpu_ms=$(kd_cpu_ms "$raw_pid")" \
		"reclaim_cpu_ms=$(kd_cpu_ms "$rc_pid") phase_ms=$(($(now_ms) - t0))" \
		"$(echo "$agj" | sed 's/"touches":.*//')"
	# (mode age: the reclaim kdamond's part only, not the ager's)
	[ "$mode" != age ] || sed -i 's/"name":"ager".*//' /tmp/charge.status
	kq=$(sed -n 's/.*"kernel_quota_bytes":\([0-9]*\).*/\1/p' /tmp/charge.status)
	fm=$(sed -n 's/.*"fail_charge":{"mode":"\([a-z-]*\)".*/\1/p' /tmp/charge.status)
	grep -q '"adjustments":\[{' /tmp/charge.status && adj=yes || adj=no
	# where the seconds to full speed go: damond's decisions (wall-clock at_us) against the phase start
	mark "timeline mode=$mode shape=$shape t0_wall_ms=$t0_wall $(grep -o '"adjustments":\[[^]]*\]' /tmp/charge.status)"
	mark "oracle mode=$mode shape=$shape $(sed -n 's/.*"oracle":\({[^}]*}\).*/\1/p' /tmp/charge.status)"
	# how the exclusion reached the kernel (vaddr: damond's addr reject filters, and the scheme's filter dir)
	mark "exclusion mode=$mode shape=$shape $(grep -o '"exclusion":{[^]]*]' /tmp/charge.status | head -n1)"
	if [ -n "$vpid" ]; then
		fd=$damon_kdamonds/0/contexts/0/schemes/0/filters
		[ -d "$fd" ] || fd=$damon_kdamonds/0/contexts/0/schemes/0/core_filters
		[ -d "$fd" ] && mark "filters mode=$mode shape=$shape dir=${fd##*/} nr=$(cat $fd/nr_filters)" \
			"first=$(cat $fd/0/type 2>/dev/null):$(cat $fd/0/addr_start 2>/dev/null)-$(cat $fd/0/addr_end 2>/dev/null)"
	fi
	grep -E "pagemap pass|page-state oracle" "$DAMOND_LOG" | tail -n 3 | sed "s/^/[$mode] /"
	damond_stop
	stop_memhog
	teardown_zram
	case $shape in hugetlb* | mix) hugetlb_pool 0 ;; esac
	# (the next run reads the disk from a cold cache: fill_cache drops it too)
	if [ -n "$FILE0" ]; then
		exec 9<&-
		echo 3 > /proc/sys/vm/drop_caches
	fi
	grep -E "commit|died|emulation|stopped|started" "$DAMOND_LOG" | tail -n 12 | sed "s/^/[$mode] /"
	if [ "$(dt_param charge_dump 0)" = 1 ]; then
		awk -v t0="$t0" '{ printf "%s%d:%d:%d:%d", (NR % 8 == 1 ? "\n[samples] " : " "), $1 - t0, $2 / 1048576, $4 / 1024, $5 }
			END { print "" }' "$out"
	fi
	# Windows: the kernel's own. qt_exceeds grows exactly when a full window
	# rolls over, so each increment starts a new window; a stretch between two
	# increments longer than one window (windows that did not fill up) is
	# spread over the windows it spans.
	set -- $(awk -v t0="$t0" -v q="$CHARGE_Q" -v rss0="$rss0" '
		{ t[NR] = $1; a[NR] = $2; r[NR] = $4; x[NR] = $5 }
		END {
			base = a[1]; gone = -1
			for (i = 2; i <= NR; i++)
				if (gone < 0 && r[i] != "" && r[i] <= rss0 / 20) gone = t[i]
			stop = (gone > 0 ? gone : t[NR])
			last = base
			for (i = 1; i <= NR; i++) if (t[i] <= stop) last = a[i]
			# from the first sample: samples fail while the DAMON sysfs lock is
			# held (the kdamond of a loaded guest can keep a stats request waiting
			# for seconds), and bytes applied before the first sample are in
			# the base, so the time before it must not count either
			phase_s = (stop - t[1]) / 1000
			pct = (phase_s > 0 ? (last - base) / phase_s / q * 100 : 0)
			nb = 0; low = 0; maxw = 0; s = -1; maxp = 0; max3 = 0; w1 = -1; w2 = -1; extra = 0
			for (i = 2; i <= NR && t[i] <= stop; i++) {
				if (x[i] == x[i - 1]) continue
				# a window boundary between samples i-1 and i
				if (s > 0) {
					n = int((t[i - 1] - t[s - 1]) / 1000 + 0.5); if (n < 1) n = 1
					# rollovers that happened inside one sample gap: whole
					# windows whose bytes are in this segment
					n += extra
					w = (a[i - 1] - a[s - 1]) / n
					nb += n; if (w < q / 2) low += n; if (w > maxw) maxw = w
					# a sample straddling a rollover moves bytes between
					# neighbours: means over 2 and 3 windows cancel that
					if (w1 >= 0 && (w1 + w) / 2 > maxp) maxp = (w1 + w) / 2
					if (w2 >= 0 && (w2 + w1 + w) / 3 > max3) max3 = (w2 + w1 + w) / 3
					w2 = w1; w1 = w
				}
				s = i
				extra = x[i] - x[i - 1] - 1
			}
			if (maxp == 0) maxp = maxw
			if (max3 == 0) max3 = maxp
			# Applied per full window: the kernel counts a window in
			# qt_exceeds when it charged the whole quota, however long the
			# window took in wall time. Bytes applied between the first and
			# the last increment over the increments in between is what the
			# charge let through per charged quota: the charge ratio at work,
			# independent of how fast a loaded guest pages out.
			fi = 0; li = 0
			for (i = 2; i <= NR && t[i] <= stop; i++)
				if (x[i] != x[i - 1]) { if (!fi) fi = i; li = i }
			fw = (li > fi && x[li] > x[fi] ? (a[li] - a[fi]) / (x[li] - x[fi]) * 100 / q : -1)
			# time to full speed: the first sample from which the next 2 s
			# apply at least 0.9 x the quota per second
			tfs = -1
			for (i = 1; i <= NR && t[i] <= stop && tfs < 0; i++)
				for (j = i + 1; j <= NR; j++)
					if (t[j] - t[i] >= 2000) {
						if ((a[j] - a[i]) / ((t[j] - t[i]) / 1000) >= 0.9 * q) tfs = (t[i] - t0) / 1000
						break
					}
			# MiB applied since the phase began, every 5 s (where the seconds went)
			ser = ""; nx = 0
			for (i = 1; i <= NR && t[i] <= stop + 5000; i++)
				if (t[i] - t0 >= nx * 1000) { ser = ser (ser == "" ? "" : ",") sprintf("%d:%d", nx, (a[i] - base) / 1048576); nx += 5 }
			printf "%.1f %d %d %.1f %d %d %d %d %.1f %s\n", pct, (nb ? low * 100 / nb : 100), maxw * 100 / q, (gone > 0 ? (gone - t0) / 1000 : -1), nb, maxp * 100 / q, max3 * 100 / q, fw, tfs, (ser == "" ? "-" : ser)
		}' "$out")
	R_PCT=$1 R_LOW=$2 R_MAXX100=$3 R_RECLAIM_S=$4 R_MODE=$fm R_ADJ=$adj R_PAIRX100=$6 R_TRIX100=$7
	R_FULLWIN=$8 R_TFS=$9 R_SERIES=${10}
	# the largest quota damond ever asked the kernel to enforce (status: current and adjustments)
	R_KMAX=$(grep -o '"quota_bytes":[0-9]*\|"kernel_quota_bytes":[0-9]*' /tmp/charge.status | sed 's/.*://' | sort -n | tail -n1)
	mark "result mode=$mode mlock=$mlock shape=$shape fail_mode=$fm pct_of_quota=$1 low_windows_pct=$2" \
		"max_window_x=$(awk -v x="$3" 'BEGIN { printf "%.2f", x / 100 }') reclaim_s=$4 windows=$5" \
		"max_pair_x=$(awk -v x="$6" 'BEGIN { printf "%.2f", x / 100 }') max_3win_x=$(awk -v x="$7" 'BEGIN { printf "%.2f", x / 100 }')" \
		"kernel_quota_end=$kq adjusted=$adj applied_per_full_window_pct=$R_FULLWIN full_speed_s=$R_TFS ager=$R_AGER"
	mark "series mode=$mode shape=$shape mib_applied_at_s=$R_SERIES"
}
