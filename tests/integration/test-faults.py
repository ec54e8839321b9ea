#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
damond under kernel faults, on the fake kernel (tests/fake, fault injection
in fake-damon.h): the real damond binary, its sanitizers on, never the
host's /sys. Prints TAP.

- EBUSY in the event loop: a reload that meets a held DAMON sysfs lock
  returns at once, status keeps answering while the write waits, and the
  write lands from the retry timer once the lock is free.
- The fault walk: the stores damond makes during start, during a start
  that re-adopts running kdamonds and commits a changed config, and during
  a reload (a commit) are recorded with a clean run; then for each store index and
  each fault kind (an EBUSY storm, EINVAL, ENOMEM, a directory vanishing, the
  kdamonds dying) the same step runs again with the fault injected at that
  store, and each run is checked: no sanitizer report, no signal death;
  damond runs, or exited 1 naming the failed write; every kdamond the tree
  runs is one status reports running (same pid) and the other way round; a
  running damond's status shows the fault.

FAULT_WALK=full walks every store; the default walks a sample: every
LOCK_STRIDE-th store that takes the kernel's global lock (nr_*, state,
module) and every STRIDE-th other one (docs/TESTING.md has the counts and
run times). Environment as for
test-daemon-fake.py.
"""
import importlib.util
import json
import os
import re
import sys
import time

_spec = importlib.util.spec_from_file_location(
    "test_daemon_fake", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-daemon-fake.py"))
tdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tdf)
Env, Fail, check, KD = tdf.Env, tdf.Fail, tdf.check, tdf.KD

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
KINDS = ["ebusy", "einval", "enomem", "vanish", "kill"]
FULL = os.environ.get("FAULT_WALK") == "full"
LOCK_STRIDE = int(os.environ.get("FAULT_WALK_LOCK_STRIDE", "4"))
STRIDE = int(os.environ.get("FAULT_WALK_STRIDE", "12"))

HEAD = """\
damond:
  on_exit: stop
  stats_interval: 200ms
kdamonds:
"""
# refresh_ms: the kernel refreshes stats itself, so damond's stats ticks make
# no stores and the N-th store after arming a fault is the step's N-th write
KDAMOND = """\
  - name: k%(i)d
    ops: paddr
    refresh_ms: 1000
    targets:
      - regions: [{start: 0x100000, end: 0x10000000}]
    schemes:
      - name: s%(i)d
        action: pageout
        access_pattern:
          age: {min: 5s, max: max}
        quotas:
          bytes: %(mib)dM
          reset_interval: 1s
"""


def conf(mib, n=2):
    return HEAD + "".join(KDAMOND % {"i": i, "mib": mib} for i in range(n))


def meta(e, name):
    return os.path.join(e.sys, ".fake-damon", name)


def nr_stores(e):
    # the fake's own counter file (fake_damon_nr_stores()), read directly: no process per call
    try:
        with open(meta(e, "nr_stores")) as f:
            return int(f.read())
    except FileNotFoundError:
        return 0


def arm_fault(e, after, kind, n):
    """fake_damon_set_fault() without a process: damond is idle (refresh_ms: its ticks make no stores)."""
    try:
        os.unlink(meta(e, "fault-hit"))
    except FileNotFoundError:
        pass
    with open(meta(e, "fault"), "w") as f:
        f.write("%d %s %d\n" % (nr_stores(e) + after, kind, n))


def committed_quota(e, k):
    with open(meta(e, "kdamond%d/committed/schemes/0/quotas/bytes" % k)) as f:
        return int(f.read())


def stores(e, first, last):
    """The stores first..last (1-based, inclusive) as (index, relpath, value)."""
    out = []
    with open(os.path.join(e.sys, ".fake-damon", "stores")) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            n = int(parts[0])
            if first <= n <= last:
                out.append((n, parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def fault_hit(e):
    try:
        with open(os.path.join(e.sys, ".fake-damon", "fault-hit")) as f:
            n, kind, rel = f.read().split()
            return int(n), kind, rel
    except OSError:
        return None


def locked(rel):
    name = rel.rsplit("/", 1)[-1]
    return name.startswith("nr_") or name in ("state", "memcg_path", "path") or rel.startswith("module/")


def walk_indices(steps, kind_no):
    """
    Every step (FULL), or a sample: every LOCK_STRIDE-th store that takes the
    kernel's global lock and every STRIDE-th other one, the offset rotated per
    fault kind, so the kinds together cover more steps than one kind does.
    """
    if FULL:
        return [i for i, _ in enumerate(steps, 1)]
    lock = [i for i, (_, rel, _) in enumerate(steps, 1) if locked(rel)]
    other = [i for i, (_, rel, _) in enumerate(steps, 1) if not locked(rel)]
    return sorted([i for n, i in enumerate(lock) if (n + kind_no) % LOCK_STRIDE == 0] +
                  [i for n, i in enumerate(other) if (n + 3 * kind_no) % STRIDE == 0])


def tree_kdamonds(e):
    """{index: pid} of the kdamonds the fake kernel runs."""
    out = {}
    base = os.path.join(e.sys, KD)
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for d in names:
        if not d.isdigit():
            continue
        try:
            if e.read("%s/%s/state" % (KD, d)) == "on":
                out[int(d)] = int(e.read("%s/%s/pid" % (KD, d)))
        except OSError:
            pass
    return out


def status_kdamonds(st):
    """{index: pid} status reports running: its kdamonds, and removed ones whose 'off' waits for the lock."""
    out = {k["index"]: k["pid"] for k in st["kdamonds"] if k["state"] == "on"}
    for po in st.get("busy", {}).get("pending_off", []):
        out[po["index"]] = po["pid"]
    return out


def consistent(e, timeout=3.0):
    """Wait until the tree runs exactly the kdamonds status reports running; return the last status."""
    deadline = time.time() + timeout
    while True:
        st = e.status()
        tree, mine = tree_kdamonds(e), status_kdamonds(st)
        if tree == mine:
            return st
        if time.time() > deadline:
            raise Fail("the tree runs %s, status reports %s running" % (tree, mine))
        time.sleep(0.1)


def no_sanitizer(text, what):
    m = SANITIZER.search(text)
    check(not m, "%s: sanitizer report: %s" % (what, text[max(0, m.start() - 200):m.start() + 800] if m else ""))


def status_shows(st, kind, rel):
    """The fault is visible in status: the failed file in an error, or a death / deferral in the action log."""
    blob = str(st)
    if kind in ("einval", "enomem", "vanish"):
        return rel in blob
    if kind == "kill":
        return any(k["state"] == "died" for k in st["kdamonds"]) or \
            any(a["what"] in ("died", "on") and "died" in a["why"] for a in st["actions"]) or \
            any(a["what"] == "died" for a in st["actions"])
    return True


# ---------------------------------------------------------------------------


def t_ebusy_status_answers_while_write_waits():
    """A reload meets a held lock: it returns, status answers in < 0.5 s throughout, the commit lands after."""
    e = Env("7.2")
    try:
        e.write_conf(conf(32, 1))
        e.start()
        pid = e.status()["kdamonds"][0]["pid"]
        # what a status call costs on this machine when nothing waits (a loaded CI machine is slower)
        base = 0.0
        for _ in range(5):
            t = time.time()
            e.status()
            base = max(base, time.time() - t)
        bound = max(0.5, base + 0.4)
        slept0 = e.status()["busy"]["slept_ms"]
        e.fake("busy", e.sys, "on")
        e.write_conf(conf(64, 1))
        t = time.time()
        p = e.ctl("reload", ok=False)
        reload_s = time.time() - t
        check(reload_s < 1.0, "reload took %.2f s while the lock was held" % reload_s)
        worst = 0.0
        end = time.time() + 2.0
        n = 0
        while time.time() < end:
            t = time.time()
            st = e.status()
            worst = max(worst, time.time() - t)
            n += 1
            k = st["kdamonds"][0]
            check(k.get("pending", {}).get("what") == "commit", "no pending commit in status: %s" % k.get("pending"))
            check(k["state"] == "on" and k["pid"] == pid, "the kdamond changed while the commit waited")
            time.sleep(0.05)
        check(worst < bound, "status took %.2f s while a write waited for the lock (bound %.2f s)" % (worst, bound))
        committed = committed_quota(e, 0)
        check(committed == 32 << 20, "the commit landed while the lock was held: %s" % committed)
        e.fake("busy", e.sys, "off")
        deadline = time.time() + 5
        while time.time() < deadline:
            st = e.status()
            if "pending" not in st["kdamonds"][0]:
                break
            time.sleep(0.1)
        k = st["kdamonds"][0]
        check("pending" not in k, "the commit still waits after the lock was freed: %s" % k.get("pending"))
        committed = committed_quota(e, 0)
        check(committed == 64 << 20, "the commit did not land: %s" % committed)
        check(k["pid"] == pid, "the kdamond was restarted instead of committed")
        whats = [a["what"] for a in st["actions"]]
        check("deferred" in whats, "status does not say the commit was deferred: %s" % whats)
        check(any(a["what"] == "commit" and "landed on attempt" in a["why"] for a in st["actions"]),
              "status does not say the commit landed from the retry: %s" % st["actions"][-3:])
        check(st["busy"]["retry_rounds"] >= 1, "no retry round counted")
        # the event loop never sleeps on the lock: the reload and every retry round tried once and deferred
        check(st["busy"]["slept_ms"] == slept0 and st["busy"]["loop_sleeps"] is False,
              "the event loop slept on the lock: %s (%d ms before the reload)" % (st["busy"], slept0))
        check(st["busy"]["answers"] >= st["busy"]["retry_rounds"], "EBUSY answers not counted: %s" % st["busy"])
        check("waits for the DAMON sysfs lock" in e.logtext(), "the journal does not say the commit waits")
        check(p.returncode == 0, "reload failed: %s" % p.stderr)
        print("# reload returned in %.3f s; %d status calls while the lock was held, worst %.3f s "
              "(idle: %.3f s)" % (reload_s, n, worst, base))
        check(e.stop() == 0, "damond did not exit cleanly")
        no_sanitizer(e.logtext(), "damond")
    finally:
        e.close()


def t_ebusy_stats_tick_bounded():
    """6.12 stats ticks issue update_schemes_stats every 200 ms: from the stats worker, so a held lock costs
    the event loop nothing (the worker meets the EBUSY, retries briefly, and its round gives up)."""
    e = Env("6.12")
    try:
        e.start()
        base = 0.0
        for _ in range(5):
            t = time.time()
            e.status()
            base = max(base, time.time() - t)
        bound = max(0.5, base + 0.4)
        slept0 = e.status()["busy"]["slept_ms"]
        e.fake("busy", e.sys, "on")
        worst, end = 0.0, time.time() + 2.0
        while time.time() < end:
            t = time.time()
            st = e.status()
            worst = max(worst, time.time() - t)
            time.sleep(0.05)
        slept = st["busy"]["slept_ms"]
        mon = st["monitor"]
        check(worst < bound, "status took %.2f s while stats ticks met a held lock (bound %.2f s)" % (worst, bound))
        check(slept == 0, "the event loop slept on the lock: %s" % st["busy"])
        check(mon["stats_busy"] > 0 and mon["stats_failed"] > 0,
              "the stats worker did not meet the held lock: %s" % mon)
        check(st["kdamonds"][0]["state"] == "on", "the kdamond is not on")
        e.fake("busy", e.sys, "off")
        n0 = e.status()["monitor"]["stats_commands"]
        deadline = time.time() + 5
        while time.time() < deadline and e.status()["monitor"]["stats_commands"] <= n0:
            time.sleep(0.1)
        check(e.status()["monitor"]["stats_commands"] > n0, "stats commands did not resume after the lock was freed")
        print("# 6.12 stats ticks under a held lock: status worst %.3f s (idle %.3f s); the stats worker met "
              "EBUSY %d times, %d rounds refused" % (worst, base, mon["stats_busy"], mon["stats_failed"]))
    finally:
        e.close()


def t_ebusy_state_reads():
    """Reads of state and pid take the lock too (.fake-damon/lock-reads). Ticks that cannot read a kdamond's state
    say nothing about it and sleep nowhere; a restart from the loop whose pid read meets the lock right after 'on'
    keeps the kdamond as damond's, reads its pid at a tick once the lock is free, and commits to it later (before:
    the start failed with the kdamond running, and damond took its own kdamond for a foreign one)."""
    e = Env("7.2")
    try:
        e.write_conf(conf(32, 1))
        e.start()
        st = e.status()
        pid, slept0 = st["kdamonds"][0]["pid"], st["busy"]["slept_ms"]
        open(meta(e, "lock-reads"), "w").close()
        e.fake("busy", e.sys, "on")
        time.sleep(1.0)  # five stats ticks (200 ms), each reads state and pid
        st = e.status()
        k = st["kdamonds"][0]
        check(k["state"] == "on" and k["pid"] == pid, "a tick that could not read state changed the kdamond: %s" % k)
        check(not any(a["what"] == "died" for a in st["actions"]), "a busy read was taken for a death")
        check(any(l.startswith("fail show kernel/mm/damon/admin/kdamonds/0/") for l in e.fakelog()),
              "no read of state met the lock")
        check(st["busy"]["slept_ms"] == slept0, "the ticks slept on the lock: %s" % st["busy"])
        e.fake("busy", e.sys, "off")
        # a restart from the loop: the kdamond is gone, a reload's commit is refused, damond starts it again; right
        # after its 'on' another user takes the lock, for the pid read too
        e.fake("kill", e.sys, "0")
        with open(meta(e, "fault"), "w") as f:
            f.write("@kernel/mm/damon/admin/kdamonds/0/state=on lock-after 100000\n")
        e.write_conf(conf(48, 1))
        p = e.ctl("reload", ok=False)
        check(e.proc_h.poll() is None, "damond died: %s" % e.logtext()[-2000:])
        check(os.path.exists(meta(e, "fault-hit")), "the fault did not fire")
        st = e.status()
        k = st["kdamonds"][0]
        check(p.returncode == 0, "reload failed: %s %s" % (p.stdout, p.stderr))
        check(k["state"] == "on", "the restarted kdamond is not on for damond: %s" % k)
        check(any(a["what"] == "on" and "pid read at the next tick" in a["why"] for a in st["actions"]),
              "status does not say the pid is read later: %s" % st["actions"][-3:])
        time.sleep(0.6)
        e.fake("busy", e.sys, "off")
        new_pid = int(e.read(KD + "/0/pid"))
        deadline = time.time() + 3
        while time.time() < deadline and e.status()["kdamonds"][0]["pid"] != new_pid:
            time.sleep(0.1)
        st = e.status()
        check(st["kdamonds"][0]["pid"] == new_pid, "the pid was not read once the lock was free: %s vs %d" %
              (st["kdamonds"][0]["pid"], new_pid))
        check(any(a["what"] == "on" and "runs as pid %d" % new_pid in a["why"] for a in st["actions"]),
              "status does not say which pid it runs as")
        # and it is damond's: the next reload commits to it
        e.write_conf(conf(64, 1))
        p = e.ctl("reload", ok=False)
        check(p.returncode == 0 and e.proc_h.poll() is None, "the reload after it failed: %s" % p.stderr)
        check(committed_quota(e, 0) == 64 << 20, "not committed: %s" % committed_quota(e, 0))
        check(e.status()["kdamonds"][0]["pid"] == new_pid, "restarted instead of committed")
        check(e.stop() == 0, "damond did not exit cleanly")
        no_sanitizer(e.logtext(), "damond")
    finally:
        e.close()


def t_ebusy_new_kdamond_waits_for_nr_kdamonds():
    """A reload that adds a kdamond needs nr_kdamonds, refused while the lock is held: both start after it."""
    e = Env("7.2")
    no_spare = lambda text: text.replace("damond:\n", "damond:\n  spare_kdamonds: 0\n", 1)  # noqa: E731
    try:
        # no spare directory: adding a kdamond has to grow nr_kdamonds
        e.write_conf(no_spare(conf(32, 1)))
        e.start()
        e.fake("busy", e.sys, "on")
        e.write_conf(no_spare(conf(32, 2)))
        e.ctl("reload", ok=False)
        st = e.status()
        check(st["busy"]["pending_nr_kdamonds"] == 2, "no pending nr_kdamonds: %s" % st["busy"])
        # a second reload while it waits: still waits for the directory, no start into a missing one
        e.ctl("reload", ok=False)
        st = e.status()
        check(st["busy"]["pending_nr_kdamonds"] == 2, "the second reload dropped nr_kdamonds: %s" % st["busy"])
        check(all(k.get("pending", {}).get("what") == "start" for k in st["kdamonds"]),
              "the kdamonds do not wait to start: %s" % [k.get("pending") for k in st["kdamonds"]])
        e.fake("busy", e.sys, "off")
        deadline = time.time() + 5
        while time.time() < deadline:
            st = e.status()
            if all(k["state"] == "on" for k in st["kdamonds"]) and not st["busy"]["pending_nr_kdamonds"]:
                break
            time.sleep(0.1)
        check([k["state"] for k in st["kdamonds"]] == ["on", "on"], "not both on: %s" % st["kdamonds"])
        check(e.read(KD + "/nr_kdamonds") == "2", "nr_kdamonds not written")
        consistent(e)
    finally:
        e.close()


def t_ebusy_removed_kdamond_stopped_later():
    """A reload removes a kdamond while the lock is held: status keeps reporting it until its 'off' lands."""
    e = Env("7.2")
    try:
        e.write_conf(conf(32, 2))
        e.start()
        pid1 = e.status()["kdamonds"][1]["pid"]
        e.fake("busy", e.sys, "on")
        e.write_conf(conf(32, 1))
        e.ctl("reload", ok=False)
        check(tree_kdamonds(e).get(1) == pid1, "kdamonds/1 stopped while the lock was held?")
        st = e.status()
        check([(p["name"], p["index"], p["pid"]) for p in st["busy"]["pending_off"]] == [("k1", 1, pid1)],
              "status does not report the removed kdamond that still runs: %s" % st["busy"])
        consistent(e)
        e.fake("busy", e.sys, "off")
        deadline = time.time() + 5
        while time.time() < deadline and 1 in tree_kdamonds(e):
            time.sleep(0.1)
        check(1 not in tree_kdamonds(e), "the removed kdamond still runs after the lock was freed")
        st = consistent(e)
        check(not st["busy"]["pending_off"], "pending_off not cleared: %s" % st["busy"])
        check(any(a["what"] == "off" and a["kdamond"] == "k1" for a in st["actions"]), "no 'off' in the action log")
    finally:
        e.close()


def run_start(e, timeout=20):
    """Start damond; returns 'running' or 'exited'."""
    e.start(wait=False)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if e.proc_h.poll() is not None:
            return "exited"
        if e.ctl("status", "--json", ok=False).returncode == 0:
            return "running"
        time.sleep(0.05)
    raise Fail("damond neither answered nor exited within %d s" % timeout)


def probe_keyword_steps(steps):
    """The feature probe's keyword stores: written before kdamond 0's own list starts (its second nr_contexts)."""
    first_list, seen = len(steps) + 1, 0
    for i, (_, rel, _) in enumerate(steps, 1):
        if rel == KD + "/0/contexts/nr_contexts":
            seen += 1
            if seen == 2:
                first_list = i
                break
    return {i for i, (_, rel, _) in enumerate(steps, 1)
            if i < first_list and rel.rsplit("/", 1)[-1] in ("action", "target_metric", "type")}


def check_probe_run(e, kind, what, keyword):
    """EINVAL to a probed keyword is the kernel's "unknown keyword"; ENOMEM leaves it unknown: never used as present."""
    state = run_start(e)
    out = e.logtext()
    if state == "exited":
        rc = e.proc_h.returncode
        e.proc_h = None
        no_sanitizer(out, what)
        check(rc == 1, "%s: exit code %d" % (what, rc))
        check("does not know" in out and keyword in out,
              "%s: exited without saying the config needs '%s': %s" % (what, keyword, out[-1500:]))
        check(not tree_kdamonds(e), "%s: damond exited and left kdamonds running" % what)
        return "exited"
    st = consistent(e)
    f = st["features"]
    present = f["actions"] + f["goal_metrics"] + f.get("filter_types", [])
    check(keyword not in present, "%s: status lists '%s' as present after the probe failed" % (what, keyword))
    rc = e.stop()
    no_sanitizer(e.logtext(), what)
    check(rc == 0, "%s: exit code %d after SIGTERM" % (what, rc))
    return "running"


def check_start_run(e, kind, what):
    state = run_start(e)
    hit = fault_hit(e)
    if state == "exited":
        rc = e.proc_h.returncode
        e.proc_h = None
        out = e.logtext()
        no_sanitizer(out, what)
        check(rc == 1, "%s: exit code %d (a signal?): %s" % (what, rc, out[-1500:]))
        check(hit is not None, "%s: damond exited but the fault never fired: %s" % (what, out[-1500:]))
        if kind != "kill":
            check(hit[2] in out, "%s: the exit message does not name '%s': %s" % (what, hit[2], out[-1500:]))
        else:
            check(re.search(r"kdamond 'k\d+'.*(off|died)", out), "%s: no kdamond named: %s" % (what, out[-1500:]))
        running = tree_kdamonds(e)
        check(not running, "%s: damond exited and left kdamonds running: %s" % (what, running))
        return "exited"
    st = consistent(e)
    if hit is not None and kind != "ebusy":
        check(status_shows(st, kind, hit[2]) or kind == "kill" and not any(
            l.endswith(" died") for l in e.fakelog()),
            "%s: damond runs but status does not show the %s at '%s'" % (what, kind, hit[2]))
    rc = e.stop()
    out = e.logtext()
    no_sanitizer(out, what)
    check(rc == 0, "%s: exit code %d after SIGTERM" % (what, rc))
    check(not tree_kdamonds(e), "%s: kdamonds still run after damond stopped (on_exit: stop)" % what)
    return "running"


def t_fault_walk_start():
    t0 = time.time()
    e = Env("7.2")
    try:
        e.write_conf(conf(32))
        base = nr_stores(e)
        check(run_start(e) == "running", "the clean start failed: " + e.logtext()[-1500:])
        steps = stores(e, base + 1, nr_stores(e))
        e.stop()
    finally:
        e.close()
    check(len(steps) > 20, "the recording run made only %d stores" % len(steps))
    runs = {"running": 0, "exited": 0}
    failures = []
    probe_kw = probe_keyword_steps(steps)
    kinds = [k for k in KINDS if not os.environ.get("FAULT_KINDS") or k in os.environ["FAULT_KINDS"].split(",")]
    for kn, kind in enumerate(kinds):
        for i in walk_indices(steps, KINDS.index(kind)):
            what = "start, %s at store %d (%s)" % (kind, i, steps[i - 1][1])
            e = Env("7.2")
            try:
                e.write_conf(conf(32))
                arm_fault(e, i, kind, 5)
                if i in probe_kw and kind in ("einval", "enomem", "vanish"):
                    runs[check_probe_run(e, kind, what, steps[i - 1][2])] += 1
                else:
                    runs[check_start_run(e, kind, what)] += 1
            except Fail as ex:
                failures.append(str(ex))
            finally:
                e.close()
    print("# start: %d stores, %d faulted runs (%d ran on, %d exited with an error) in %.0f s" %
          (len(steps), sum(runs.values()) + len(failures), runs["running"], runs["exited"], time.time() - t0))
    check(not failures, "%d of the runs failed:\n%s" % (len(failures), "\n".join(f[:600] for f in failures[:20])))


def adopt_setup(e):
    """damond runs both kdamonds, is killed (-9), and the config changes: the next start re-adopts and commits."""
    e.write_conf(conf(32))
    check(run_start(e) == "running", "the clean start failed: " + e.logtext()[-1500:])
    e.proc_h.kill()
    e.proc_h.wait()
    e.proc_h = None
    e.write_conf(conf(33))


def t_fault_walk_adopt():
    """Start re-adopting running kdamonds with a changed config (a commit before the loop), a fault at each step."""
    t0 = time.time()
    e = Env("7.2")
    try:
        adopt_setup(e)
        base = nr_stores(e)
        check(run_start(e) == "running", "the clean re-adoption failed: " + e.logtext()[-1500:])
        st = e.status()
        check([k["pid"] for k in st["kdamonds"]] == [4242, 4243] and all(k["adopted"] for k in st["kdamonds"]),
              "not re-adopted without restart: %s" % [(k["pid"], k["adopted"]) for k in st["kdamonds"]])
        steps = stores(e, base + 1, nr_stores(e))
        e.stop()
    finally:
        e.close()
    check(len(steps) > 20, "the recording run made only %d stores" % len(steps))
    runs = {"running": 0, "exited": 0}
    failures = []
    kinds = [k for k in KINDS if not os.environ.get("FAULT_KINDS") or k in os.environ["FAULT_KINDS"].split(",")]
    for kind in kinds:
        idx = walk_indices(steps, KINDS.index(kind))
        if not FULL:
            idx = idx[::2]  # each run starts damond twice: half the sample
        for i in idx:
            what = "adopt, %s at store %d (%s)" % (kind, i, steps[i - 1][1])
            e = Env("7.2")
            try:
                adopt_setup(e)
                arm_fault(e, i, kind, 5)
                runs[check_start_run(e, kind, what)] += 1
            except Fail as ex:
                failures.append(str(ex))
            finally:
                e.close()
    print("# adopt: %d stores, %d faulted runs (%d ran on, %d exited with an error) in %.0f s" %
          (len(steps), sum(runs.values()) + len(failures), runs["running"], runs["exited"], time.time() - t0))
    check(not failures, "%d of the runs failed:\n%s" % (len(failures), "\n".join(f[:600] for f in failures[:20])))


def t_fault_walk_reload():
    t0 = time.time()
    e = Env("7.2")
    try:
        mib = 32
        e.write_conf(conf(mib))
        check(run_start(e) == "running", "the clean start failed: " + e.logtext()[-1500:])
        mib += 1
        e.write_conf(conf(mib))
        base = nr_stores(e)
        e.ctl("reload")
        steps = stores(e, base + 1, nr_stores(e))
        check(len(steps) > 20, "the recording reload made only %d stores" % len(steps))
        runs = 0
        failures = []
        q = {"mib": mib}
        kinds = [k for k in KINDS if not os.environ.get("FAULT_KINDS") or k in os.environ["FAULT_KINDS"].split(",")]
        for kind in kinds:
            for i in walk_indices(steps, KINDS.index(kind)):
                what = "reload, %s at store %d (%s)" % (kind, i, steps[i - 1][1])
                try:
                    reload_step(e, kind, i, what, q)
                    runs += 1
                except Fail as ex:
                    failures.append(str(ex))
                    if e.proc_h.poll() is not None:
                        break
        rc = e.stop()
        no_sanitizer(e.logtext(), "reload walk")
        check(rc == 0, "exit code %d after SIGTERM" % rc)
        print("# reload: %d stores, %d faulted reloads in %.0f s" % (len(steps), runs + len(failures),
                                                                    time.time() - t0))
        check(not failures, "%d of the reloads failed:\n%s" % (len(failures),
                                                               "\n".join(f[:600] for f in failures[:20])))
    finally:
        e.close()


def reload_step(e, kind, i, what, q):
    """One reload with a fault at its i-th store, checked; q["mib"]: the quota (MiB) last written to the config."""
    # a healthy baseline: both on, nothing pending, the lock free (fake_damon_set_busy(0))
    try:
        os.unlink(meta(e, "busy"))
    except FileNotFoundError:
        pass
    st = e.status()
    if any(k["state"] != "on" or "pending" in k for k in st["kdamonds"]):
        q["mib"] += 1
        e.write_conf(conf(q["mib"]))
        e.ctl("reload", ok=False)
        st = consistent(e, 5)
        check(all(k["state"] == "on" and "pending" not in k for k in st["kdamonds"]),
              "%s: cannot get back to a healthy baseline: %s" % (what, st["kdamonds"]))
    pre = {k: committed_quota(e, k) for k in tree_kdamonds(e)}
    q["mib"] += 1
    new = q["mib"] << 20
    e.write_conf(conf(q["mib"]))
    # ebusy: 10 answers, each one retry round of the timer (the loop never waits on the lock): 20 ms doubling to
    # 1 s, about 4.3 s before it lands
    arm_fault(e, i, kind, 10)
    p = e.ctl("reload", ok=False)
    check(e.proc_h.poll() is None, "%s: damond died: %s" % (what, e.logtext()[-2000:]))
    hit = fault_hit(e)
    check(hit is not None, "%s: the fault did not fire" % what)
    if kind == "ebusy":
        # whatever waited lands from the retry timer once the storm is over
        deadline = time.time() + 10
        while time.time() < deadline:
            st = e.status()
            if not any("pending" in k for k in st["kdamonds"]):
                break
            time.sleep(0.1)
        check(not any("pending" in k for k in st["kdamonds"]), "%s: still pending" % what)
        check(p.returncode == 0, "%s: reload failed: %s" % (what, p.stderr))
    st = consistent(e)
    check(status_shows(st, kind, hit[2]) or kind == "kill" and not any(l.endswith(" died") for l in e.fakelog()),
          "%s: status does not show the %s at '%s'" % (what, kind, hit[2]))
    # what runs holds the new policy, or (a refused commit) what it held before: nothing else
    died = any(k["state"] == "died" for k in st["kdamonds"])
    for k in tree_kdamonds(e):
        held = committed_quota(e, k)
        check(held == new or held == pre.get(k),
              "%s: kdamond %d holds quota %d, neither the new policy nor what it ran (%s)" % (what, k, held,
                                                                                              pre.get(k)))
        if p.returncode == 0 and not died:
            check(held == new, "%s: reload succeeded but kdamond %d holds %d" % (what, k, held))
    if p.returncode != 0:
        check(not st["config"]["last_reload"]["ok"], "%s: reload failed, status says ok" % what)
        check(any(k.get("last_error") for k in st["kdamonds"]) or any(a["what"] == "error" for a in st["actions"]),
              "%s: reload failed, no error in status" % what)


def t_failed_scheme_write_names_its_scheme():
    """A refused write to a scheme's file is an "error" action naming that scheme (status; the journal's DAMOND_SCHEME)."""
    e = Env("7.2")
    try:
        mib = 32
        e.write_conf(conf(mib))
        check(run_start(e) == "running", "the clean start failed: " + e.logtext()[-1500:])
        mib += 1
        e.write_conf(conf(mib))
        base = nr_stores(e)
        e.ctl("reload")
        steps = stores(e, base + 1, nr_stores(e))
        idx = [n - base for n, rel, _ in steps if "/kdamonds/1/contexts/0/schemes/0/quotas/bytes" in rel]
        check(idx, "the recording reload wrote no quota of kdamond 1's scheme: %s" % [r for _, r, _ in steps])
        mib += 1
        e.write_conf(conf(mib))
        arm_fault(e, idx[0], "einval", 1)
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "the reload succeeded although the fake kernel refused a quota write")
        hit = fault_hit(e)
        check(hit is not None and "/schemes/0/quotas/bytes" in hit[2], "the fault hit %s, not the quota" % (hit,))
        errors = [a for a in e.status()["actions"] if a["what"] == "error"]
        check(errors, "no error action in status after the refused write")
        check(errors[-1].get("kdamond") == "k1" and errors[-1].get("scheme") == "s1",
              "the error action names kdamond %r scheme %r, expected k1 / s1: %s" %
              (errors[-1].get("kdamond"), errors[-1].get("scheme"), errors[-1]))
        txt = e.ctl("status", "--details").stdout
        check("k1/s1: error" in txt, "damondctl status's action lines do not name k1/s1:\n" + txt[-1500:])
        rc = e.stop()
        no_sanitizer(e.logtext(), "scheme error")
        check(rc == 0, "exit code %d after SIGTERM" % rc)
    finally:
        e.close()


def ager_kdamonds(st):
    """{index: pid} of the agers status reports running (docs/CONTROLLERS.md, the charge emulation's ager)."""
    return {k["ager"]["index"]: k["ager"]["pid"] for k in st["kdamonds"]
            if k.get("ager") and k["ager"]["state"] == "on" and k["ager"]["index"] is not None}


def t_fault_walk_ager():
    """Faults while damond starts its page-cache ager in a spare directory (6.12, charge emulation): whatever
    store fails or the kdamonds die, damond keeps running, the tree runs exactly the kdamonds status reports (the
    ager included), every kdamond on is in the ownership record, and damond's stop leaves none running."""
    off = tdf.AGER_CONF.replace("fail_charge_ratio: 1/4096", "fail_charge_ratio: 1/4096\n          fail_charge_ager: off")
    check(off != tdf.AGER_CONF, "no ratio in the policy")

    def setup(e):
        tdf.write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
        e.write_conf(off % {"bytes": "32M"})
        check(run_start(e) == "running", "the clean start failed: " + e.logtext()[-1500:])
        time.sleep(1)
        e.write_conf(tdf.AGER_CONF % {"bytes": "32M"})

    e = Env("6.12")
    try:
        setup(e)
        base = nr_stores(e)
        e.ctl("reload")
        tdf.wait_ager(e, "on")
        steps = stores(e, base + 1, nr_stores(e))
        e.stop()
    finally:
        e.close()
    mine = [i for i, (_, rel, _) in enumerate(steps, 1) if rel.startswith(KD + "/1/")]
    check(len(mine) > 10, "the ager's start made %d stores in kdamonds/1: %s" % (len(mine), steps))
    # its state store and every seventh other one, each with every fault kind
    pick = sorted({i for n, i in enumerate(mine) if n % 7 == 0 or steps[i - 1][1].endswith("/state")})
    failures, on_ager, ager_on = [], 0, 0
    for kind in KINDS:
        for i in pick:
            what = "ager start, %s at store %d (%s)" % (kind, i, steps[i - 1][1])
            e = Env("6.12")
            try:
                setup(e)
                arm_fault(e, i, kind, 5)
                e.ctl("reload", ok=False)
                time.sleep(1.5)
                hit = fault_hit(e)
                on_ager += bool(hit and hit[2].startswith(KD + "/1/"))
                check(e.proc_h.poll() is None, "%s: damond exited: %s" % (what, e.logtext()[-1500:]))
                deadline = time.time() + 4
                while True:
                    st = e.status()
                    tree = tree_kdamonds(e)
                    mine_st = {**status_kdamonds(st), **ager_kdamonds(st)}
                    if tree == mine_st:
                        ager_on += bool(ager_kdamonds(st))
                        break
                    check(time.time() < deadline, "%s: the tree runs %s, status reports %s" % (what, tree, mine_st))
                    time.sleep(0.1)
                with open(os.path.join(e.run, "kdamonds.json")) as f:
                    rec = {k["index"] for k in json.load(f)["kdamonds"]}
                check(set(tree) <= rec, "%s: kdamonds %s run, the record has %s" % (what, sorted(tree), sorted(rec)))
                rc = e.stop()
                no_sanitizer(e.logtext(), what)
                check(rc == 0, "%s: exit code %d after SIGTERM" % (what, rc))
                check(not tree_kdamonds(e), "%s: kdamonds still run after damond stopped" % what)
            except Fail as ex:
                failures.append(str(ex))
            finally:
                e.close()
    print("# ager: %d stores in its directory, %d faulted runs, %d faults hit the ager's directory, "
          "the ager ran at the end of %d" % (len(mine), len(pick) * len(KINDS), on_ager, ager_on))
    # a failed start is retried (after 30 s): the ager then runs, in the record, and status and the tree agree
    e = Env("6.12")
    try:
        setup(e)
        arm_fault(e, [i for i in mine if steps[i - 1][1] == KD + "/1/state"][0], "einval", 1)
        e.ctl("reload", ok=False)
        a = tdf.wait_ager(e, "off", timeout=5)
        check("retried" in a["why"], "after the failed start: %s" % a)
        a = tdf.wait_ager(e, "on", timeout=45)
        st = e.status()
        check(tree_kdamonds(e) == {**status_kdamonds(st), **ager_kdamonds(st)} and a["index"] in tree_kdamonds(e),
              "after the retry: the tree runs %s, status %s" % (tree_kdamonds(e), st["kdamonds"]))
        check(e.stop() == 0 and not tree_kdamonds(e), "the stop after the retry")
        no_sanitizer(e.logtext(), "ager retry")
    except Fail as ex:
        failures.append(str(ex))
    finally:
        e.close()
    check(on_ager >= len(pick) * len(KINDS) // 2, "only %d faults hit the ager's directory" % on_ager)
    check(not failures, "%d of the runs failed:\n%s" % (len(failures), "\n".join(f[:600] for f in failures[:20])))


TESTS = [
    t_ebusy_status_answers_while_write_waits,
    t_ebusy_stats_tick_bounded,
    t_ebusy_state_reads,
    t_ebusy_new_kdamond_waits_for_nr_kdamonds,
    t_ebusy_removed_kdamond_stopped_later,
    t_fault_walk_start,
    t_fault_walk_adopt,
    t_fault_walk_reload,
    t_failed_scheme_write_names_its_scheme,
    t_fault_walk_ager,
]


def main():
    return tdf.run_tap(TESTS, sys.argv[1:])

if __name__ == "__main__":
    sys.exit(main())
