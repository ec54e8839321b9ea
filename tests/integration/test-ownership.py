#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Ownership, exit statuses, kernel checks, deaths and regions: the real damond
on a fake sysfs root (tests/fake, LD_PRELOAD), as test-daemon-fake.py. Prints
TAP.

The kill -9 tests preload tests/fake/fake-kill-preload.c in front of the
fake kernel: FAKE_KILL_AT=N kills damond at its Nth kernel write (optionally
only writes whose path contains FAKE_KILL_MATCH, before or after the write),
so every instant of a start or a reload can be hit deterministically.

Environment (set by meson): DAMOND, DAMONDCTL, FAKE_CTL, FAKE_PRELOAD,
FAKE_KILL_PRELOAD, SOURCE_ROOT.
"""
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("damond_fake", os.path.join(HERE, "test-daemon-fake.py"))
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)

Env, Fail, check, KD, POLICY = fake.Env, fake.Fail, fake.check, fake.KD, fake.POLICY
DAMOND, DAMONDCTL, SRC = fake.DAMOND, fake.DAMONDCTL, fake.SRC
KILL_PRELOAD = os.environ["FAKE_KILL_PRELOAD"]

FOREIGN_WORDS = ("does not belong to damond", "not started by damond", "but not as damond's")


def exit_codes():
    """The DAMOND_EXIT_* numbers, read from the header the unit mirrors."""
    codes = {}
    with open(os.path.join(SRC, "lib/exit-codes.h")) as f:
        for m in re.finditer(r"#define DAMOND_EXIT_(\w+) (\d+)\b", f.read()):
            codes[m.group(1)] = int(m.group(2))
    return codes


EXIT = exit_codes()


def kdamonds_policy(n, on_exit="stop"):
    text = "damond:\n  on_exit: %s\n  stats_interval: 3600s\nkdamonds:\n" % on_exit
    for i in range(n):
        text += "  - name: k%d\n    ops: paddr\n    schemes: [{name: s, action: stat}]\n" % i
    return text


def running(e):
    """{index: pid} of every kdamond the fake kernel runs."""
    n = int(e.read(KD + "/nr_kdamonds"))
    out = {}
    for k in range(n):
        if e.read("%s/%d/state" % (KD, k)) == "on":
            out[k] = int(e.read("%s/%d/pid" % (KD, k)))
    return out


def run_killed(e, at, match=None, before=False, *extra):
    """Run damond until the kill hook fires; True when it did (False: it got through and was stopped)."""
    env = e.env()
    env["LD_PRELOAD"] = KILL_PRELOAD + ":" + fake.PRELOAD
    env["FAKE_KILL_AT"] = str(at)
    if match:
        env["FAKE_KILL_MATCH"] = match
    if before:
        env["FAKE_KILL_BEFORE"] = "1"
    logf = open(e.log, "a")
    p = subprocess.Popen(e.damond_args(*extra), env=env, stdout=logf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while p.poll() is None and time.time() < deadline:
        if e.ctl("status", "--json", ok=False).returncode == 0:
            break  # ready: the kill point lies beyond the start
        time.sleep(0.05)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
        logf.close()
        return False
    logf.close()
    return p.returncode == -signal.SIGKILL


def assert_supervised(e, n, what):
    """damond started, runs n kdamonds, every running kdamond is one of them, none called foreign."""
    log = e.logtext()
    for w in FOREIGN_WORDS:
        check(w not in log, "%s: damond called its own kdamond foreign ('%s'):\n%s" % (what, w, log[-3000:]))
    st = e.status()
    ks = st["kdamonds"]
    check(len(ks) == n and all(k["state"] == "on" for k in ks),
          "%s: kdamonds after the restart: %s" % (what, [(k["name"], k["state"]) for k in ks]))
    mine = {k["index"]: k["pid"] for k in ks}
    check(running(e) == mine, "%s: the kernel runs %s, damond supervises %s" % (what, running(e), mine))
    return ks


def fresh_log(e):
    with open(e.log, "w"):
        pass


# ---------------------------------------------------------------------------


def t_failed_start_leaves_nothing():
    """Item 1: a start refused for a missing feature takes back the kdamond directory it added;
    the next start (fixed config, or --dry-run) is not blocked by it."""
    e = Env("6.12")
    try:
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096\n"
                                    "          fail_charge_mode: native") % {"bytes": "32M"})
        p = e.run_to_exit()
        check(p.returncode == EXIT["UNSUPPORTED"], "exit status %d, expected %d: %s"
              % (p.returncode, EXIT["UNSUPPORTED"], p.stderr[-2000:]))
        check("fail_charge" in p.stderr, "the missing feature is not named: " + p.stderr[-2000:])
        check(e.read(KD + "/nr_kdamonds") == "0", "the failed start left nr_kdamonds = %s" % e.read(KD + "/nr_kdamonds"))
        e.write_conf(POLICY % {"bytes": "32M"})
        e.start("--dry-run")
        check(not any(w in e.logtext() for w in FOREIGN_WORDS), "dry run refused a leftover: " + e.logtext()[-2000:])
        e.stop()
        e.start()
        check(e.status()["kdamonds"][0]["state"] == "on", "the fixed config did not start")
    finally:
        e.close()


def t_leftover_dir_recognised():
    """Item 1, when the directory cannot be taken back (killed right after nr_kdamonds): the record
    names it as damond's, and the next start uses it."""
    e = Env("6.12")
    try:
        check(run_killed(e, 1, match="nr_kdamonds"), "the kill hook did not fire")
        # one directory and the spare_kdamonds (2) damond makes ahead
        check(e.read(KD + "/nr_kdamonds") == "3", "nr_kdamonds was not written before the kill")
        fresh_log(e)
        e.start()
        assert_supervised(e, 1, "killed after nr_kdamonds")
    finally:
        e.close()


def t_kill9_during_failed_start_cleanup():
    """Item 1 + 2: killed while a failed start takes its directories back (before or after the
    nr_kdamonds write that shrinks), the next start with a fixed config is not blocked."""
    for before in (True, False):
        e = Env("6.12")
        try:
            e.write_conf(fail_charge_native_policy())
            # nr_kdamonds #1 grows to 3 (one and two spares), #2 shrinks back to 0
            check(run_killed(e, 2, "nr_kdamonds", before), "the kill hook did not fire")
            check(e.read(KD + "/nr_kdamonds") == ("3" if before else "0"), "nr_kdamonds after the kill")
            e.write_conf(POLICY % {"bytes": "32M"})
            fresh_log(e)
            e.start()
            assert_supervised(e, 1, "killed %s the cleanup's nr_kdamonds" % ("before" if before else "after"))
        finally:
            e.close()


def t_kill9_during_adopting_start_that_grows():
    """Item 2: a start that adopts a running kdamond and must grow nr_kdamonds (which stops it first),
    killed at each of its state/nr_kdamonds writes; the start after adopts or starts all 8."""
    n = 8
    points = [(1, "nr_kdamonds", True), (1, "nr_kdamonds", False)]
    points += [(i, "/state", b) for i in range(1, n + 2) for b in (True, False) if b or i % 2]
    tried = 0
    for at, match, before in points:
        e = Env("7.2")
        try:
            e.write_conf(kdamonds_policy(1))
            e.start()
            e.stop(signal.SIGKILL)  # kdamonds/0 keeps running, recorded
            e.write_conf(kdamonds_policy(n))
            if not run_killed(e, at, match, before):
                raise Fail("kill point %s/%s/%s never reached" % (at, match, before))
            tried += 1
            was = running(e)
            # a start that still has to grow nr_kdamonds stops its running kdamonds first (the kernel's rule)
            grown = int(e.read(KD + "/nr_kdamonds")) >= n
            fresh_log(e)
            e.start()
            what = "adopting start killed %s write %d of %s" % ("before" if before else "after", at, match)
            for k in assert_supervised(e, n, what):
                if grown and k["index"] in was:
                    check(k["pid"] == was[k["index"]], "%s: running kdamonds/%d restarted" % (what, k["index"]))
        finally:
            e.close()
    print("# kill -9 during an adopting start growing 1 -> 8: %d kill points" % tried)


def kill_points_start(n):
    """(at, match, before) covering a start of n kdamonds: nr_kdamonds, every 'on', every 16th write."""
    pts = [(1, "nr_kdamonds", True), (1, "nr_kdamonds", False)]
    for i in range(1, n + 1):
        pts.append((i, "/state", True))
        pts.append((i, "/state", False))
    pts += [(a, None, False) for a in range(2, 400, 40)]
    return pts


def t_kill9_during_start():
    """Item 2: kill -9 at many instants of starting 8 kdamonds; the next start adopts the running ones,
    starts the rest, never calls its own foreign and leaves none unsupervised."""
    n = 8
    tried = adopted_total = 0
    for at, match, before in kill_points_start(n):
        e = Env("7.2")
        try:
            e.write_conf(kdamonds_policy(n))
            if not run_killed(e, at, match, before):
                if match is None:
                    break  # beyond the last write of a start
                raise Fail("kill point %s/%s/%s never reached" % (at, match, before))
            tried += 1
            was = running(e)
            fresh_log(e)
            e.start()
            what = "killed %s write %d%s" % ("before" if before else "after", at, " of " + match if match else "")
            ks = assert_supervised(e, n, what)
            for k in ks:
                if k["index"] in was:
                    check(k["pid"] == was[k["index"]] and k["adopted"],
                          "%s: kdamonds/%d was running (pid %d) but restarted: %s" % (what, k["index"],
                                                                                   was[k["index"]], k))
                    adopted_total += 1
        finally:
            e.close()
    check(tried >= 2 * n + 4, "only %d kill points reached" % tried)
    check(adopted_total > 0, "no kill point left a running kdamond to adopt")
    print("# kill -9 during start: %d kill points, %d running kdamonds adopted" % (tried, adopted_total))


def t_kill9_during_reload_growth():
    """Item 2: kill -9 while a reload grows 1 -> 8 kdamonds (stop, nr_kdamonds, 8 starts); the next start
    with the new config adopts or starts every one; with the old config it stops the ones it dropped."""
    n = 8
    tried = 0
    # counted from damond's start: state 'on' of k0 is /state #1; the reload writes 'off' (#2) and 8 'on's
    points = [(2, "nr_kdamonds", True), (2, "nr_kdamonds", False)]
    points += [(i, "/state", False) for i in range(2, n + 3)]
    points += [(i, "/state", True) for i in range(3, n + 3)]
    for idx, (at, match, before) in enumerate(points):
        e = Env("7.2")
        try:
            e.write_conf(kdamonds_policy(1))
            env = e.env()
            env["LD_PRELOAD"] = KILL_PRELOAD + ":" + fake.PRELOAD
            env["FAKE_KILL_AT"] = str(at)
            env["FAKE_KILL_MATCH"] = match
            if before:
                env["FAKE_KILL_BEFORE"] = "1"
            logf = open(e.log, "a")
            p = subprocess.Popen(e.damond_args(), env=env, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            deadline = time.time() + 20
            while e.ctl("status", "--json", ok=False).returncode != 0:
                check(p.poll() is None and time.time() < deadline, "damond did not start: " + e.logtext()[-2000:])
                time.sleep(0.05)
            e.write_conf(kdamonds_policy(n))
            e.ctl("reload", ok=False)
            p.wait(timeout=20)
            logf.close()
            what = "reload 1 -> 8 killed %s write %d of %s" % ("before" if before else "after", at, match)
            check(p.returncode == -signal.SIGKILL, "%s: the kill hook did not fire (%d)" % (what, p.returncode))
            tried += 1
            was = running(e)
            fresh_log(e)
            old = idx % 3 == 0  # every third trial: restart with the old config (1 kdamond)
            if old:
                e.write_conf(kdamonds_policy(1))
            e.start()
            ks = assert_supervised(e, 1 if old else n, what + (" (old config)" if old else ""))
            for k in ks:
                if k["index"] in was:
                    check(k["pid"] == was[k["index"]], "%s: running kdamonds/%d restarted" % (what, k["index"]))
        finally:
            e.close()
    check(tried == len(points), "kill points reached: %d of %d" % (tried, len(points)))
    print("# kill -9 during a reload 1 -> 8: %d kill points" % tried)


def t_foreign_never_adopted():
    """Item 2: a kdamond the record does not name as damond's is refused, also next to a record: the
    owner's kdamond 0 after damond stopped its own there."""
    e = Env("7.2")
    try:
        e.start()
        e.stop()  # on_exit: stop; the record keeps kdamonds/0 as a stopped one of damond's
        check(e.read(KD + "/0/state") == "off", "not stopped")
        e.fake("start-foreign", e.sys, "0")  # the owner reuses the directory by hand
        tree = e.tree()
        p = e.run_to_exit()
        check(p.returncode == EXIT["FOREIGN"], "exit status %d next to a foreign kdamond" % p.returncode)
        check("not started by damond" in p.stderr, "message: " + p.stderr[-2000:])
        check(e.tree() == tree, "damond changed the foreign kdamond's tree")
    finally:
        e.close()


def t_exit_statuses():
    """Item 5: each kind of failure has its own exit status; the unit's RestartPreventExitStatus=
    lists exactly the ones a restart cannot fix."""
    with open(os.path.join(SRC, "lib/exit-codes.h")) as f:
        no_restart = re.search(r'DAMOND_EXIT_NO_RESTART "([0-9 ]+)"', f.read()).group(1).split()
    with open(os.path.join(SRC, "systemd/damond.service.in")) as f:
        unit = re.search(r"^RestartPreventExitStatus=(.*)$", f.read(), re.M)
    check(unit and unit.group(1).split() == no_restart, "the unit's RestartPreventExitStatus= differs from %s"
          % no_restart)
    check(sorted(int(x) for x in no_restart) == sorted([EXIT["USAGE"], EXIT["UNSUPPORTED"], EXIT["CONFIG"],
                                                       EXIT["FOREIGN"], EXIT["MODULE"]]), "NO_RESTART list")
    check(len(set(EXIT.values())) == len(EXIT), "exit statuses not distinct: %s" % EXIT)

    e = Env("7.2")
    try:
        p = e.run_to_exit("--bogus-option")
        check(p.returncode == EXIT["USAGE"], "usage: %d" % p.returncode)
        e.write_conf("kdamonds:\n  - name: x\n    ops: paddr\n    bogus: 1\n")
        p = e.run_to_exit()
        check(p.returncode == EXIT["CONFIG"], "config error: %d" % p.returncode)
        p = subprocess.run([DAMOND, "--check", "--config", e.conf], capture_output=True, text=True)
        check(p.returncode == EXIT["CONFIG"], "--check of a bad config: %d" % p.returncode)
        e.write_conf(POLICY % {"bytes": "32M"})
        e.fake("module", e.sys, "damon_stat", "Y")
        p = e.run_to_exit()
        check(p.returncode == EXIT["MODULE"], "DAMON_STAT on: %d" % p.returncode)
        e.fake("module", e.sys, "damon_stat", "N")
        e6 = Env("6.12")
        try:
            e6.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/8\n"
                                         "          fail_charge_mode: native") % {"bytes": "32M"})
            p = e6.run_to_exit()
            check(p.returncode == EXIT["UNSUPPORTED"], "missing feature: %d %s" % (p.returncode, p.stderr[-1000:]))
        finally:
            e6.close()
        e.write_conf(POLICY % {"bytes": "32M"})
        e.fake("start-foreign", e.sys, "0")
        p = e.run_to_exit()
        check(p.returncode == EXIT["FOREIGN"], "foreign kdamond: %d" % p.returncode)
        empty = os.path.join(e.dir, "nosys")
        os.makedirs(empty)
        p = subprocess.run([DAMOND, "--config", e.conf, "--sysfs-root", empty, "--procfs-root", e.proc,
                            "--runtime-dir", os.path.join(e.dir, "run2"), "--no-bpf"], capture_output=True,
                           text=True, timeout=20)
        check(p.returncode == EXIT["UNSUPPORTED"], "no DAMON sysfs: %d %s" % (p.returncode, p.stderr[-1000:]))
    finally:
        e.close()
    e = Env("7.2")
    try:
        e.start()
        # a second damond on the same runtime directory: a runtime failure (1), restartable
        p = e.run_to_exit()
        check(p.returncode == EXIT["FAILURE"], "second damond: %d" % p.returncode)
        check(e.stop() == EXIT["OK"], "clean stop")
    finally:
        e.close()


def fail_charge_native_policy():
    return POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096\n"
                          "          fail_charge_mode: native") % {"bytes": "32M"}


def write_release(e, release):
    os.makedirs(os.path.join(e.proc, "sys/kernel"), exist_ok=True)
    with open(os.path.join(e.proc, "sys/kernel/osrelease"), "w") as f:
        f.write(release + "\n")


def t_check_kernel():
    """Item 6: damond --check --kernel and damondctl check --kernel validate against the running
    kernel's features, read-only; a 7.2 policy fails on 6.12 and passes on 7.2."""
    for prof, ok in (("6.12", False), ("7.2", True)):
        e = Env(prof)
        try:
            # a kdamond directory to look into, as after an earlier damond or an admin
            e.fake("start-foreign", e.sys, "0")
            e.fake("kill", e.sys, "0")
            e.write_conf(fail_charge_native_policy())
            tree = e.tree()
            plain = subprocess.run([DAMOND, "--check", "--config", e.conf], capture_output=True, text=True)
            check(plain.returncode == 0, "plain --check looks at the kernel")
            p = subprocess.run([DAMOND, "--check", "--kernel", "--config", e.conf, "--sysfs-root", e.sys,
                                "--procfs-root", e.proc, "--runtime-dir", e.run], capture_output=True, text=True,
                               env=e.env())
            c = subprocess.run([DAMONDCTL, "--runtime-dir", e.run, "--sysfs-root", e.sys, "--procfs-root", e.proc,
                                "check", "--kernel", e.conf], capture_output=True, text=True)
            if ok:
                check(p.returncode == 0, "%s: damond --check --kernel failed: %s" % (prof, p.stderr[-1500:]))
                check(c.returncode == 0, "%s: damondctl check --kernel failed: %s" % (prof, c.stderr[-1500:]))
            else:
                check(p.returncode == EXIT["UNSUPPORTED"], "%s: damond --check --kernel: %d %s"
                      % (prof, p.returncode, p.stderr[-1500:]))
                check(re.search(re.escape(e.conf) + r":\d+:\d+: .*fail_charge", p.stderr), "no positioned error: "
                      + p.stderr[-1500:])
                check(c.returncode == 1 and "fail_charge" in c.stderr, "%s: damondctl check --kernel: %d %s"
                      % (prof, c.returncode, c.stderr[-1500:]))
            check(e.tree() == tree, "%s: the check wrote to the admin tree" % prof)
            check(not os.path.exists(os.path.join(e.sys, ".fake-damon/log")) or
                  not [l for l in e.fakelog() if "nr_kdamonds" in l and "start-foreign" not in l][1:],
                  "writes under the admin tree")
        finally:
            e.close()
    # a fresh 6.12 (no kdamond directory): nothing to probe read-only; what the
    # policy needs is listed as not checked (a warning), never guessed from the release
    e = Env("6.12")
    try:
        write_release(e, "6.12.48+deb13-amd64")
        e.write_conf(fail_charge_native_policy())
        tree = e.tree()
        c = subprocess.run([DAMONDCTL, "--runtime-dir", e.run, "--sysfs-root", e.sys, "--procfs-root", e.proc,
                            "check", "--kernel", e.conf], capture_output=True, text=True)
        check(c.returncode == 0 and "warning: not checked" in c.stderr and "fail_charge" in c.stderr
              and "6.12.48" not in c.stderr,
              "fresh 6.12: %d %s" % (c.returncode, c.stderr))
        check(e.tree() == tree, "the check wrote to the admin tree")
    finally:
        e.close()


def t_features_without_daemon():
    """Item 6: damondctl features answers without a damond, read-only, from the sysfs root given."""
    e = Env("7.2")
    try:
        e.fake("start-foreign", e.sys, "0")
        e.fake("kill", e.sys, "0")
        tree = e.tree()
        c = subprocess.run([DAMONDCTL, "--runtime-dir", e.run, "--sysfs-root", e.sys, "--json", "features"],
                           capture_output=True, text=True)
        check(c.returncode == 0, "features without damond failed: " + c.stderr)
        f = json.loads(c.stdout)
        check(f["fail_charge"] is True and f["pause"] is True and f["probed_from"] == "sysfs", "7.2 features: %s" % f)
        check(f["modules"]["damon_stat"] == "off", "modules: %s" % f["modules"])
        check(e.tree() == tree, "features wrote to the admin tree")
        text = subprocess.run([DAMONDCTL, "--runtime-dir", e.run, "--sysfs-root", e.sys, "features"],
                              capture_output=True, text=True)
        check(text.returncode == 0 and "fail_charge" in text.stdout, "text features: " + text.stderr)
    finally:
        e.close()
    e = Env("6.12")
    try:
        e.fake("start-foreign", e.sys, "0")
        e.fake("kill", e.sys, "0")
        c = subprocess.run([DAMONDCTL, "--runtime-dir", e.run, "--sysfs-root", e.sys, "--json", "features"],
                           capture_output=True, text=True)
        check(c.returncode == 0, "features without damond failed: " + c.stderr)
        f = json.loads(c.stdout)
        check(f["fail_charge"] is False and f["pause"] is False, "6.12 features: %s" % f)
    finally:
        e.close()


class NotifySocket:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.2)
        self.lines = []

    def drain(self):
        while True:
            try:
                self.lines += self.s.recv(4096).decode().splitlines()
            except socket.timeout:
                return self.lines

    def status(self):
        st = [l for l in self.drain() if l.startswith("STATUS=")]
        return st[-1] if st else None


def t_death_followed():
    """Item 7: a dead kdamond shows as died, without rates, stats marked stale; STATUS= says so."""
    e = Env("6.12")
    ns = NotifySocket(os.path.join(e.dir, "notify"))
    try:
        os.environ["NOTIFY_SOCKET"] = ns.path
        try:
            e.start()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        deadline = time.time() + 15
        while time.time() < deadline:
            s0 = e.status()["kdamonds"][0]["schemes"][0]
            if s0["rates"]["sz_tried_bytes_per_s"] is not None:
                break
            time.sleep(0.2)
        check(s0["rates"]["sz_tried_bytes_per_s"] is not None, "no rates while running: %s" % s0)
        st = ns.status()
        check(st and "Running 1 kdamond(s)" in st, "STATUS= while running: %s" % st)
        e.fake("kill", e.sys, "0")
        deadline = time.time() + 15
        while time.time() < deadline:
            k = e.status()["kdamonds"][0]
            if k["state"] == "died":
                break
            time.sleep(0.2)
        check(k["state"] == "died", "state: %s" % k["state"])
        for s in k["schemes"]:
            check(s["rates"]["sz_tried_bytes_per_s"] is None and s["rates"]["sz_applied_bytes_per_s"] is None,
                  "a dead kdamond keeps its rates: %s" % s["rates"])
            check(s["stats"] is None or s["stats"]["stale"] is True, "stats not marked stale: %s" % s["stats"])
        st = ns.status()
        check(st and "Running 0 of 1 kdamond(s)" in st and "died: 'reclaim'" in st, "STATUS= after the death: %s" % st)
        text = e.ctl("status").stdout
        check("died" in text, "text status does not say died:\n" + text)
    finally:
        e.close()
        ns.s.close()


def t_regions_without_bpf():
    """Item 8: regions without the BPF monitor says why instead of a heatmap of zeros."""
    e = Env("7.2")
    try:
        e.start()
        p = e.ctl("regions")
        check("no region snapshot" in p.stdout and "--no-bpf" in p.stdout, "regions does not say why:\n" + p.stdout)
        check("heatmap" not in p.stdout and "0 regions" not in p.stdout, "an empty heatmap:\n" + p.stdout)
        j = json.loads(e.ctl("regions", "--json").stdout)
        check(j["monitor"] == "sysfs-polling", "monitor: %s" % j.get("monitor"))
        check("--no-bpf" in j["kdamonds"][0]["targets"][0]["no_snapshot"], "json: %s" % j)
    finally:
        e.close()


TESTS = [
    t_failed_start_leaves_nothing,
    t_leftover_dir_recognised,
    t_kill9_during_start,
    t_kill9_during_reload_growth,
    t_kill9_during_failed_start_cleanup,
    t_kill9_during_adopting_start_that_grows,
    t_foreign_never_adopted,
    t_exit_statuses,
    t_check_kernel,
    t_features_without_daemon,
    t_death_followed,
    t_regions_without_bpf,
]


def main():
    return fake.run_tap(TESTS, sys.argv[1:])

if __name__ == "__main__":
    sys.exit(main())
