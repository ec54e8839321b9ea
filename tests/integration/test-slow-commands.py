#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Slow state commands on the fake kernel (issue 11): on 6.12 a write of
update_schemes_stats or update_schemes_effective_quotas to kdamonds/N/state
returns only once the kdamond handled it (>= 100 ms, far more on a busy
guest). The fake makes each take SLOW_MS (fake-damon-ctl slow); damond's
stats tick must not wait for them in its event loop: `damondctl status`
answers fast throughout, the stats still update, and reloads and a stop
while a round is in flight stay clean (sanitizer build). Prints TAP.
Environment as for test-daemon-fake.py.
"""
import importlib.util
import json
import os
import re
import socket
import sys
import time

_spec = importlib.util.spec_from_file_location(
    "test_daemon_fake", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-daemon-fake.py"))
tdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tdf)
Env, Fail, check = tdf.Env, tdf.Fail, tdf.check

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
SLOW_MS = 400
CALLS = 60


def timed_status(e):
    """One status request over the control socket, timed from connect to the reply's last byte (no process
    started per call: damondctl's own start-up under ASan on a loaded machine is not what is measured)."""
    t = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(os.path.join(e.run, "control"))
        s.sendall(json.dumps({"method": "status"}).encode() + b"\0")
        buf = b""
        while not buf.endswith(b"\0"):
            d = s.recv(65536)
            check(d, "damond closed the connection before its status reply")
            buf += d
    finally:
        s.close()
    msg = json.loads(buf[:-1])
    check("error" not in msg and "parameters" in msg, "status refused: %s" % msg)
    return msg["parameters"], time.monotonic() - t


def sysfs_stats(st):
    """(nr_tried of the first scheme, its source) as status shows them."""
    s = st["kdamonds"][0]["schemes"][0].get("stats") or {}
    return s.get("nr_tried"), s.get("source")


def t_status_fast_while_state_commands_are_slow():
    """6.12, a quota scheme, 200 ms ticks, each state command 400 ms: status stays fast, stats move."""
    e = Env("6.12")
    try:
        e.start()
        # what a status call costs on this machine when nothing is slow (damondctl under ASan included)
        base = 0.0
        for _ in range(8):
            base = max(base, timed_status(e)[1])
            time.sleep(0.05)
        bound = max(0.15, base + 0.1)
        e.fake("slow", e.sys, str(SLOW_MS))
        time.sleep(0.5)  # a round of slow commands is in flight from here on
        st0 = timed_status(e)[0]
        mon0 = st0["monitor"]
        worst, times = 0.0, []
        for _ in range(CALLS):
            st, dt = timed_status(e)
            times.append(dt)
            worst = max(worst, dt)
            check(st["kdamonds"][0]["state"] == "on", "the kdamond is not on")
            time.sleep(0.05)
        times.sort()
        mon = st["monitor"]
        print("# %d status calls while each state command took %d ms: p50 %.3f s, worst %.3f s "
              "(bound %.3f s, idle worst %.3f s); stats commands %d -> %d, ticks skipped %d" %
              (CALLS, SLOW_MS, times[len(times) // 2], worst, bound, base, mon0["stats_commands"],
               mon["stats_commands"], mon.get("stats_skipped", -1)))
        check(worst < bound, "status took %.3f s while state commands were slow (bound %.3f s)" % (worst, bound))
        # about 2 commands per 800 ms round over the 4 s of calls: the rounds went on
        check(mon["stats_commands"] >= mon0["stats_commands"] + 4,
              "stats commands stalled: %d -> %d" % (mon0["stats_commands"], mon["stats_commands"]))
        check(mon["stats_skipped"] > 0, "no tick found a round in flight: %s" % mon)
        tried0, _ = sysfs_stats(st0)
        tried, source = sysfs_stats(st)
        check(source == "sysfs", "the stats do not come from sysfs: %s" % source)
        check(tried is not None and tried0 is not None and tried > tried0,
              "the scheme's stats did not update: nr_tried %s -> %s" % (tried0, tried))
        # reloads (a commit, slow too, from the loop) and a stop while rounds are in flight
        for i in range(3):
            e.write_conf(tdf.POLICY % {"bytes": "%dM" % (40 + i)})
            e.ctl("reload")
            time.sleep(0.3)
        check(e.status()["kdamonds"][0]["state"] == "on", "the kdamond is not on after the reloads")
        e.fake("slow", e.sys, "0")
        n = e.status()["monitor"]["stats_commands"]
        deadline = time.time() + 5
        while time.time() < deadline and e.status()["monitor"]["stats_commands"] <= n:
            time.sleep(0.1)
        check(e.status()["monitor"]["stats_commands"] > n, "stats commands did not go on once fast again")
        e.fake("slow", e.sys, str(SLOW_MS))
        time.sleep(0.3)
        t = time.monotonic()
        rc = e.stop()
        stop_s = time.monotonic() - t
        print("# stop with a round in flight: %.3f s, exit %d" % (stop_s, rc))
        check(rc == 0, "damond exited %d" % rc)
        check(not SANITIZER.search(e.logtext()), "sanitizer report:\n" + e.logtext()[-3000:])
    finally:
        e.close()


TESTS = [t_status_fast_while_state_commands_are_slow]


def main():
    return tdf.run_tap(TESTS, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
