# SPDX-License-Identifier: GPL-2.0-or-later
# damond-smoke: the damond of the build runs in the guest (its shared
# libraries made it into the initramfs), applies a minimal paddr policy to
# the real kernel, answers damondctl status, and stops its kdamond on exit.
#   dt_smoke_secs  seconds to let it run (default 2)
. /scenarios/lib.sh

need_damond
need_damon_sysfs
secs=$(dt_param smoke_secs 2)
mark damond_version="$(damond --version 2>&1 | head -n1)"

damond_write_config <<'YAML'
damond:
  on_exit: stop
  allow_disable_modules: [damon_stat]
kdamonds:
  - name: smoke
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: stat_all
        action: stat
        access_pattern:
          nr_accesses: {min: 0, max: max}
          age: {min: 0, max: max}
YAML
damond --config "$DAMOND_CONFIG" --check || fail "damond --check rejects the smoke config"

damond_start
wait_for '[ "$(damon_state)" = on ]' 10 || fail "kdamond 0 not on after damond start: $(tail -n 5 $DAMOND_LOG)"
mark kdamond_state="$(damon_state)" operations="$(sysfs_read "$(damon_ctx)/operations")"
sleep "$secs"
json=$(damond_status_json) || fail "damondctl status --json failed"
mark status_json_bytes="${#json}"
info "status: $(echo "$json" | head -c 600)"
damond_stop TERM 20
mark damond_rc="$DAMOND_RC"
assert_eq "$DAMOND_RC" 0 "damond exit status"
assert_eq "$(damon_state)" off "kdamond 0 state after damond stopped"
exit 0
