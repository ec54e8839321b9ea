# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
# Helpers shared by the damond scenarios (sourced after lib.sh).
# Every scenario starts without an ownership record from an earlier one.
rm -rf /run/damond

# tree_snapshot FILE: every configuration file of the DAMON admin tree with its
# value (stats, effective quotas and tried regions left out: they move by themselves)
tree_snapshot() {
	find "$damon_admin" -type f 2>/dev/null | grep -v -e /stats/ -e /tried_regions/ -e effective_bytes \
		-e '/state$' -e '/pid$' | sort | while read -r f; do
		printf '%s=%s\n' "$f" "$(cat "$f" 2>/dev/null)"
	done > "$1"
}

# locked_read FILE: state and pid are read under the kernel's global DAMON
# sysfs lock (trylock): while damond runs a command they fail with EBUSY, so retry
locked_read() {
	local i=0 v
	while [ $i -lt 50 ]; do
		v=$(cat "$1" 2>/dev/null) && { echo "$v"; return 0; }
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# locked_write FILE VALUE: a state command, retried while the lock is busy
locked_write() {
	local i=0
	while [ $i -lt 50 ]; do
		( echo "$2" > "$1" ) 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# kd_pid [K]
kd_pid() {
	locked_read "$damon_kdamonds/${1:-0}/pid"
}

# kd_state [K]
kd_state() {
	locked_read "$damon_kdamonds/${1:-0}/state"
}

# status_field KDAMOND_INDEX SCHEME_INDEX KEY: a number from `damondctl status --json`
# (the JSON is pretty-printed one key per line by damondctl)
status_num() {
	damondctl status --json | tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n1
}

# wait_stats_move K SCHEME TIMEOUT: nr_tried of the scheme grows (kernel stats file)
wait_tried() {
	local k=$1 s=$2 to=$3
	wait_for "locked_write $damon_kdamonds/$k/state update_schemes_stats; [ \$(cat $damon_kdamonds/$k/contexts/0/schemes/$s/stats/nr_tried) -gt 0 ]" "$to" 1
}

# max_region_age K SCHEME: the largest age among the tried regions of a scheme
max_region_age() {
	local k=$1 s=$2 d a max=0
	locked_write "$damon_kdamonds/$k/state" update_schemes_tried_regions || { echo -1; return; }
	for d in "$damon_kdamonds/$k/contexts/0/schemes/$s/tried_regions"/[0-9]*; do
		[ -e "$d/age" ] || continue
		a=$(cat "$d/age")
		[ "$a" -gt "$max" ] && max=$a
	done
	locked_write "$damon_kdamonds/$k/state" clear_schemes_tried_regions
	echo "$max"
}

# accessed_bytes KDAMOND LO HI: bytes of [LO, HI) inside regions with
# nr_accesses > 0 in `damondctl regions KDAMOND` (damond's BPF snapshot)
accessed_bytes() {
	damondctl regions "$1" --json | tr -d ' \n' | sed 's/},{/}\n{/g' | awk -F'[:,}]' -v lo="$2" -v hi="$3" '
		{ s = e = a = -1
		  for (i = 1; i < NF; i++) {
			if ($i ~ /"start"$/) s = $(i + 1); if ($i ~ /"end"$/) e = $(i + 1); if ($i ~ /"nr_accesses"$/) a = $(i + 1) }
		  if (s >= 0 && a > 0) { l = s > lo ? s : lo; h = e < hi ? e : hi; if (h > l) t += h - l } }
		END { printf "%d", t }'
}

# damond_start_bpf [SECS] [STEP]: damond on $DAMOND_CONFIG with its BPF monitor (damond_start runs
# --no-bpf); fails unless it answers within SECS (30) and the monitor is the BPF one
damond_start_bpf() {
	mkdir -p "$DAMOND_RUNTIME"
	damond --config "$DAMOND_CONFIG" --runtime-dir "$DAMOND_RUNTIME" >> "$DAMOND_LOG" 2>&1 &
	DAMOND_PID=$!
	wait_for "damondctl status" "${1:-30}" "${2:-0.2}" || { tail -n 20 "$DAMOND_LOG"; fail "damond did not answer"; }
	damondctl status --json | tr -d ' \n' | grep -q '"monitor":{"source":"bpf"' ||
		{ tail -n 20 "$DAMOND_LOG"; fail "the BPF monitor is not running"; }
}
