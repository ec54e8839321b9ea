# SPDX-License-Identifier: GPL-2.0-or-later
# damond-restart: kill -9 damond and start it again: it re-adopts its
# kdamonds (same pid, no off/on) and commits a changed config online.
. /scenarios/lib.sh
. /scenarios/damond-lib.sh
need_damond
need_damon_sysfs

damond_write_config <<EOC
damond:
  on_exit: stop
kdamonds:
  - name: watch
    ops: paddr
    schemes:
      - name: all
        action: stat
EOC
damond_start
pid=$(kd_pid 0)
damond_stop KILL
assert_eq "$(kd_state 0)" on "kdamond state after kill -9 of damond"
damond_start
assert_eq "$(kd_pid 0)" "$pid" "kdamond pid after re-adoption"
damondctl status --json | grep -q '"adopted": true' || fail "status does not say adopted"
grep -q "re-adopted kdamonds/0" "$DAMOND_LOG" || fail "no re-adoption in the log"
assert_eq "$(grep -c 'started as kdamonds/0' "$DAMOND_LOG")" 1 "number of starts"
mark readopt=ok pid="$pid"
exit 0
