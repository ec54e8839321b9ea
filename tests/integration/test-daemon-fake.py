#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
damond end to end on a fake kernel: the real damond binary, pointed at a
temporary sysfs root with --sysfs-root, the fake kernel's reactions supplied
by LD_PRELOAD=libfake-damon-preload.so (tests/fake). No root, no BPF, never
the host's /sys. Prints TAP.

Environment (set by meson): DAMOND, DAMONDCTL, FAKE_CTL, FAKE_PRELOAD,
SOURCE_ROOT.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

DAMOND = os.environ["DAMOND"]
DAMONDCTL = os.environ["DAMONDCTL"]
FAKE_CTL = os.environ["FAKE_CTL"]
PRELOAD = os.environ["FAKE_PRELOAD"]
SRC = os.environ["SOURCE_ROOT"]
KD = "kernel/mm/damon/admin/kdamonds"

IOMEM = """00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000a0000-000fffff : Reserved
00100000-7ffdffff : System RAM
  01000000-01ffffff : Kernel code
7ffe0000-7fffffff : Reserved
"""
MEMINFO = "MemTotal:        2000000 kB\nMemFree:          500000 kB\n"

POLICY = """\
damond:
  on_exit: stop
  stats_interval: 200ms
kdamonds:
  - name: reclaim
    ops: paddr
    targets:
      - regions: auto
    schemes:
      - name: cold
        action: pageout
        access_pattern:
          nr_accesses: {min: 0, max: 0}
          age: {min: 5s, max: max}
        quotas:
          bytes: %(bytes)s
          reset_interval: 1s
      - name: watch
        action: stat
"""


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Env:
    """One fake machine: a sysfs root, a procfs root, a runtime dir, a config."""

    def __init__(self, profile="6.12", damon_stat=False):
        self.dir = tempfile.mkdtemp(prefix="damond-it-")
        os.chmod(self.dir, 0o755)  # the permission test connects as another user
        self.sys = os.path.join(self.dir, "sys")
        self.proc = os.path.join(self.dir, "proc")
        self.run = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "damond.yaml")
        os.makedirs(self.sys)
        os.makedirs(self.proc)
        with open(os.path.join(self.proc, "iomem"), "w") as f:
            f.write(IOMEM)
        with open(os.path.join(self.proc, "meminfo"), "w") as f:
            f.write(MEMINFO)
        self.fake("init", self.sys, profile)
        if profile != "6.12" and not damon_stat:
            self.fake("store", self.sys, "module/damon_stat/parameters/enabled", "N")
        self.write_conf(POLICY % {"bytes": "32M"})
        self.proc_h = None
        self.log = os.path.join(self.dir, "damond.log")

    def fake(self, *args, ok=True):
        p = subprocess.run([FAKE_CTL] + list(args), capture_output=True, text=True)
        if ok and p.returncode != 0:
            raise Fail("fake-damon-ctl %s: %s" % (" ".join(args), p.stdout + p.stderr))
        return p

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def read(self, rel):
        with open(os.path.join(self.sys, rel)) as f:
            return f.read().strip()

    def env(self):
        e = dict(os.environ)
        e["LD_PRELOAD"] = PRELOAD
        e["FAKE_DAMON_ROOT"] = self.sys
        # the fake kernel's find_get_pid(): a vaddr target pid needs a directory here (fake_process())
        e["FAKE_DAMON_PROCFS"] = self.proc
        e["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=1"
        return e

    def damond_args(self, *extra):
        return [DAMOND, "--config", self.conf, "--sysfs-root", self.sys, "--procfs-root", self.proc,
                "--runtime-dir", self.run, "--no-bpf", "--log-level", "debug"] + list(extra)

    def start(self, *extra, wait=True):
        self.logf = open(self.log, "a")
        self.proc_h = subprocess.Popen(self.damond_args(*extra), env=self.env(), stdout=self.logf,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait:
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc_h.poll() is not None:
                    raise Fail("damond exited early (%d): %s" % (self.proc_h.returncode, self.logtext()[-2000:]))
                p = self.ctl("status", "--json", ok=False)
                if p.returncode == 0:
                    self.wait_released()
                    return
                time.sleep(0.1)
            raise Fail("damond did not answer within 20 s: " + self.logtext()[-2000:])

    def wait_released(self, timeout=8):
        """Until no scheme is held for its first quota window (lib/ctrl-window-ops.c): the release is a commit a
        tick or two after the start, which a test comparing trees or counting commits must not straddle. A
        kdamond that is not running stays held: give up quietly after timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = self.ctl("status", "--json", ok=False)
            if p.returncode == 0 and '"held":true' not in p.stdout.replace(" ", ""):
                return
            time.sleep(0.1)

    def run_to_exit(self, *extra, timeout=20):
        p = subprocess.run(self.damond_args(*extra), env=self.env(), capture_output=True, text=True,
                           timeout=timeout)
        return p

    def ctl(self, *args, ok=True):
        p = subprocess.run([DAMONDCTL, "--runtime-dir", self.run] + list(args), capture_output=True,
                           text=True, timeout=30)
        if ok and p.returncode != 0:
            raise Fail("damondctl %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def status(self):
        return json.loads(self.ctl("status", "--json").stdout)

    def stop(self, sig=signal.SIGTERM):
        if self.proc_h and self.proc_h.poll() is None:
            self.proc_h.send_signal(sig)
            try:
                self.proc_h.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc_h.kill()
                self.proc_h.wait()
                raise Fail("damond did not stop within 20 s")
        rc = self.proc_h.returncode if self.proc_h else 0
        self.proc_h = None
        return rc

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def fakelog(self):
        with open(os.path.join(self.sys, ".fake-damon", "log")) as f:
            return f.read().splitlines()

    def tree(self):
        """Every file of the DAMON admin tree and its content."""
        out = {}
        base = os.path.join(self.sys, "kernel/mm/damon/admin")
        for d, _, files in os.walk(base):
            for fn in files:
                p = os.path.join(d, fn)
                with open(p) as f:
                    out[os.path.relpath(p, base)] = f.read()
        return out

    # Read-only files the kernel itself rewrites while a kdamond runs: every stats tick
    # (stats_interval, 200 ms in POLICY) refreshes them, with or without a reload in between.
    KERNEL_OUTPUTS = ("/stats/", "/quotas/effective_bytes")

    def inputs(self):
        """The admin tree without KERNEL_OUTPUTS: what damond writes, and nothing the clock changes.
        Compare this, not tree(), around anything that takes a stats tick with a kdamond on."""
        return {k: v for k, v in self.tree().items() if not any(o in "/" + k for o in self.KERNEL_OUTPUTS)}

    def close(self):
        try:
            self.stop(signal.SIGKILL)
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------


def t_check_shipped_config():
    p = subprocess.run([DAMOND, "--check", "--config", os.path.join(SRC, "conf/damond.yaml")],
                       capture_output=True, text=True)
    check(p.returncode == 0, "damond --check conf/damond.yaml failed: " + p.stderr)
    check("OK" in p.stdout, "no OK line: " + p.stdout)


def t_check_bad_config():
    e = Env()
    try:
        e.write_conf("kdamonds:\n  - name: x\n    ops: paddr\n    bogus: 1\n")
        p = subprocess.run([DAMOND, "--check", "--config", e.conf], capture_output=True, text=True)
        check(p.returncode != 0, "a bad config passed --check")
        check(re.search(re.escape(e.conf) + r":4:5: .*bogus", p.stderr),
              "no file:line:column error naming the key: " + p.stderr)
    finally:
        e.close()


def applied_ok(e, st, quota="33554432"):
    check(len(st["kdamonds"]) == 1, "one kdamond expected")
    k = st["kdamonds"][0]
    check(k["state"] == "on", "kdamond not on: %s" % k["state"])
    check(k["pid"] >= 4242, "no kdamond pid")
    check([s["name"] for s in k["schemes"]] == ["cold", "watch"], "schemes: %s" % k["schemes"])
    c = KD + "/0/contexts/0"
    # the tree read back equals the policy
    check(e.read(KD + "/0/state") == "on", "sysfs state is not on")
    check(e.read(c + "/operations") == "paddr", "operations")
    check(e.read(c + "/targets/nr_targets") == "1", "nr_targets")
    check(e.read(c + "/targets/0/regions/nr_regions") == "2", "auto regions from iomem")
    check(e.read(c + "/targets/0/regions/1/start") == str(0x100000), "region start")
    check(e.read(c + "/targets/0/regions/1/end") == str(0x7ffe0000), "region end (page aligned)")
    check(e.read(c + "/schemes/nr_schemes") == "2", "nr_schemes")
    check(e.read(c + "/schemes/0/action") == "pageout", "action")
    check(e.read(c + "/schemes/0/quotas/bytes") == quota, "quota bytes")
    check(e.read(c + "/schemes/0/access_pattern/age/min") == "50", "age min 5s/100ms")
    check(e.read(c + "/schemes/0/access_pattern/nr_accesses/max") == "0", "nr_accesses max")
    check(e.read(c + "/schemes/1/action") == "stat", "second action")
    check(e.read(c + "/schemes/1/access_pattern/sz/max") == str(2**64 - 1), "stat matches every size")
    check(e.read(c + "/schemes/1/access_pattern/age/max") == "4294967295", "stat age max")


def t_apply_status_reload_commit():
    e = Env("6.12")
    try:
        e.start()
        st = e.status()
        applied_ok(e, st)
        pid = st["kdamonds"][0]["pid"]
        # stats move and status reports them (poll: the machine may be busy)
        deadline = time.time() + 15
        k_tried = os.path.join(e.sys, KD, "0/contexts/0/schemes/0/stats/sz_tried")
        while True:
            with open(k_tried) as f:
                k_before = int(f.read())
            st = e.status()
            with open(k_tried) as f:
                k_after = int(f.read())
            s0 = st["kdamonds"][0]["schemes"][0]
            # (the kernel's file reads 0 after a commit until the next refresh: the first-window release
            # commits a tick after the start)
            if s0["stats"] and s0["stats"]["sz_tried"] > 0 and k_before > 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        check(s0["stats"] and s0["stats"]["sz_tried"] > 0, "stats did not move: %s" % s0["stats"])
        # status is at most a refresh (10 MiB tried each, a stats_interval apart) behind the kernel's
        # own stats file as it was when the request went out, and not ahead of it after the reply.
        # Bracketed by two reads, not compared with one read after the reply: on a loaded machine
        # more than one stats tick can pass between damond's reply and the test's read.
        check(k_before - (10 << 20) <= s0["stats"]["sz_tried"] <= k_after,
              "status sz_tried %d disagrees with the kernel's stats file (%d before the request, %d after)"
              % (s0["stats"]["sz_tried"], k_before, k_after))
        check(st["features"]["fail_charge"] is False, "6.12 has no fail_charge")
        # how old the stats are: a few stats intervals (200 ms) at most on the fake kernel
        check(isinstance(s0["stats"].get("age_ms"), int) and 0 <= s0["stats"]["age_ms"] < 5000,
              "stats.age_ms: %r" % s0["stats"].get("age_ms"))
        # human status works too
        txt = e.ctl("status").stdout
        check("reclaim" in txt and "pageout" in txt, "human status lacks the kdamond/scheme: " + txt)

        before = [l for l in e.fakelog() if l.startswith("kdamond 0 on") or l.startswith("kdamond 0 off")]
        # the first-window release a tick after the start was a commit of its own
        commits0 = e.fakelog().count("kdamond 0 commit")
        e.write_conf(POLICY % {"bytes": "64M"})
        p = e.ctl("reload")
        st = e.status()
        applied_ok(e, st, quota=str(64 << 20))
        check(st["kdamonds"][0]["pid"] == pid, "pid changed on reload")
        log = e.fakelog()
        check(any(l == "kdamond 0 commit" for l in log), "no commit in the fake kernel's log")
        after = [l for l in log if l.startswith("kdamond 0 on") or l.startswith("kdamond 0 off")]
        check(before == after, "reload did off/on: %s" % after[len(before):])
        check(e.fakelog().count("kdamond 0 commit") == commits0 + 1, "more than one commit")
        with open(os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/bytes")) as f:
            check(f.read().strip() == str(64 << 20), "the running kdamond did not get the new quota")
        check(st["config"]["generation"] == 2, "generation not bumped")

        # an unchanged reload commits nothing
        n = e.fakelog().count("kdamond 0 commit")
        os.kill(e.proc_h.pid, signal.SIGHUP)
        deadline = time.time() + 15
        while e.status()["config"]["generation"] < 3 and time.time() < deadline:
            time.sleep(0.1)
        check(e.status()["config"]["generation"] == 3, "SIGHUP did not reload")
        check(e.fakelog().count("kdamond 0 commit") == n, "an unchanged SIGHUP reload committed")

        # a bad reload changes nothing
        tree = e.inputs()
        e.write_conf(POLICY % {"bytes": "lots"})
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "a bad reload succeeded")
        check(re.search(r"damond\.yaml:\d+:\d+: .*bytes", p.stderr), "no positioned error: " + p.stderr)
        after = e.inputs()
        changed = sorted(k for k in tree.keys() | after.keys() if tree.get(k) != after.get(k))
        check(not changed, "a bad reload changed the tree: %s" % changed[:5])
        st = e.status()
        check(st["config"]["generation"] == 3, "a bad reload changed the generation")
        check(st["config"]["last_reload"]["ok"] is False, "last_reload not marked failed")
        check(st["kdamonds"][0]["pid"] == pid, "pid changed after a bad reload")

        rc = e.stop()
        check(rc == 0, "damond exit code %d" % rc)
        check(e.read(KD + "/0/state") == "off", "on_exit: stop did not stop the kdamond")
    finally:
        e.close()


def t_remove_middle_scheme_tombstone():
    e = Env("7.2")
    try:
        e.write_conf(POLICY % {"bytes": "32M"} + "      - name: third\n        action: stat\n")
        e.start()
        n = e.fakelog().count("kdamond 0 commit")  # the first-window release
        e.write_conf((POLICY % {"bytes": "32M"}).replace("      - name: watch\n        action: stat\n", "")
                     + "      - name: third\n        action: stat\n")
        e.ctl("reload")
        st = e.status()
        names = [s["name"] for s in st["kdamonds"][0]["schemes"]]
        check(names == ["cold", None, "third"], "slots after removing the middle scheme: %s" % names)
        c = KD + "/0/contexts/0/schemes"
        check(e.read(c + "/nr_schemes") == "3", "slot count")
        check(e.read(c + "/1/access_pattern/sz/max") == "0", "the tombstone matches something")
        check(e.fakelog().count("kdamond 0 commit") == n + 1, "not committed")
    finally:
        e.close()


def t_hold_released_before_stats_interval():
    """A scheme held for its first quota window is released as soon as the kernel shows its effective quota:
    damond ticks every 100 ms while a scheme is held, not every stats interval (5 s here)."""
    e = Env("7.2")
    try:
        e.write_conf((POLICY % {"bytes": "32M"}).replace("stats_interval: 200ms", "stats_interval: 5s"))
        t = time.time()
        e.start()
        held = True
        while time.time() < t + 8:
            held = e.status()["kdamonds"][0]["schemes"][0].get("first_window", {}).get("held")
            if not held:
                break
            time.sleep(0.05)
        took = time.time() - t
        check(not held, "still held 8 s after the start")
        check(took < 3, "the release took %.1f s with a 5 s stats interval" % took)
        # back to the stats interval once released: no tick storm
        n = e.status()["monitor"]["stats_ticks"]
        time.sleep(2)
        n2 = e.status()["monitor"]["stats_ticks"]
        check(n2 - n <= 1, "ticks kept coming every 100 ms after the release: %d in 2 s" % (n2 - n))
    finally:
        e.close()


def t_restart_readopt():
    e = Env("7.2")
    try:
        e.start()
        pid = e.status()["kdamonds"][0]["pid"]
        # the first-window release (a commit a tick after the start) is part of the first run
        deadline = time.time() + 10
        while e.status()["kdamonds"][0]["schemes"][0].get("first_window", {}).get("held") and \
                time.time() < deadline:
            time.sleep(0.1)
        e.stop(signal.SIGKILL)
        n_on = sum(1 for l in e.fakelog() if l.startswith("kdamond 0 on"))
        n_commit = sum(1 for l in e.fakelog() if l.startswith("kdamond 0 commit"))
        e.start()
        st = e.status()
        k = st["kdamonds"][0]
        check(k["adopted"] is True, "not re-adopted")
        check(k["pid"] == pid and k["state"] == "on", "pid/state after re-adoption: %s" % k)
        log = e.fakelog()
        check(sum(1 for l in log if l.startswith("kdamond 0 on")) == n_on, "re-adoption restarted the kdamond")
        check(not any(l.startswith("kdamond 0 off") for l in log), "re-adoption stopped the kdamond")
        check(sum(1 for l in log if l.startswith("kdamond 0 commit")) == n_commit, "unchanged re-adoption committed")
        check(st["kdamonds"][0]["schemes"][0].get("first_window") is None, "an adopted scheme is held")
        # kill again, change the config, start: re-adopted with commit
        e.stop(signal.SIGKILL)
        e.write_conf(POLICY % {"bytes": "48M"})
        e.start()
        st = e.status()
        check(st["kdamonds"][0]["pid"] == pid, "pid changed")
        check(any(l.startswith("kdamond 0 commit") for l in e.fakelog()), "changed re-adoption did not commit")
        check(e.read(KD + "/0/contexts/0/schemes/0/quotas/bytes") == str(48 << 20), "new quota not written")
    finally:
        e.close()


def t_foreign_refused():
    e = Env("7.2")
    try:
        e.fake("start-foreign", e.sys)
        tree = e.tree()
        p = e.run_to_exit()
        check(p.returncode != 0, "damond started next to a foreign kdamond")
        check("not started by damond" in p.stderr and "pid 4242" in p.stderr, "message: " + p.stderr)
        after = e.tree()
        check(tree == after, "damond changed a foreign kdamond's tree")
    finally:
        e.close()


def t_damon_stat_blocks():
    e = Env("7.2", damon_stat=True)
    try:
        p = e.run_to_exit()
        check(p.returncode != 0, "damond started while DAMON_STAT runs")
        check("damon_stat" in p.stderr and "allow_disable_modules" in p.stderr, "message: " + p.stderr)
        check(e.read("module/damon_stat/parameters/enabled") == "Y", "damond switched DAMON_STAT off uninvited")
        e.write_conf(POLICY.replace("  on_exit: stop\n", "  on_exit: stop\n  allow_disable_modules: [damon_stat]\n")
                     % {"bytes": "32M"})
        e.start()
        check(e.read("module/damon_stat/parameters/enabled") == "N", "DAMON_STAT not switched off")
        check(e.status()["kdamonds"][0]["state"] == "on", "kdamond not on")
        acts = [a["what"] for a in e.status()["actions"]]
        check("module-off" in acts, "switching DAMON_STAT off is not explained in status: %s" % acts)
    finally:
        e.close()


def t_busy_retry():
    e = Env("7.2")
    try:
        e.fake("busy", e.sys, "3")
        e.start()
        check(e.status()["kdamonds"][0]["state"] == "on", "kdamond not on")
        check(sum(1 for l in e.fakelog() if l.startswith("fail ")) == 3, "the EBUSYs did not happen")
    finally:
        e.close()


def t_native_fail_charge_72():
    e = Env("7.2")
    try:
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096")
                     % {"bytes": "32M"})
        e.start()
        s = KD + "/0/contexts/0/schemes/0/quotas/"
        check(e.read(s + "fail_charge_num") == "1" and e.read(s + "fail_charge_denom") == "4096",
              "native fail charge files not written")
        st = e.status()
        check(st["kdamonds"][0]["schemes"][0]["fail_charge"]["mode"] == "native", "mode not native")
    finally:
        e.close()


def write_kpageflags(path, bad_start, bad_end, end):
    """A /proc/kpageflags: LRU pages everywhere, [bad_start, bad_end) mlocked and unevictable."""
    import struct
    LRU, UNEVICTABLE, MLOCKED = 1 << 5, 1 << 18, 1 << 33
    n = end // 4096
    good = struct.pack("<Q", LRU)
    bad = struct.pack("<Q", LRU | UNEVICTABLE | MLOCKED)
    with open(path, "wb") as f:
        for pfn in range(n):
            f.write(bad if bad_start <= pfn * 4096 < bad_end else good)


def t_charge_emulation_612():
    e = Env("6.12")
    try:
        write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096")
                     % {"bytes": "32M"})
        e.start()
        st = e.status()
        fc = st["kdamonds"][0]["schemes"][0]["fail_charge"]
        check(fc["mode"] == "emulated", "6.12 without the files must emulate: %s" % fc)
        check(not os.path.exists(os.path.join(e.sys, KD, "0/contexts/0/schemes/0/quotas/fail_charge_num")),
              "fail_charge files on 6.12?")
        # the controller excludes the mlocked GiB by leaving it out of the target (within ~10 s)
        deadline = time.time() + 20
        regions = []
        while time.time() < deadline:
            c = KD + "/0/contexts/0/targets/0/regions"
            try:
                n = int(e.read(c + "/nr_regions"))
                if n == 0:  # a commit that keeps the kernel's regions writes 0 first
                    raise ValueError("nr_regions 0")
                regions = [(int(e.read("%s/%d/start" % (c, i))), int(e.read("%s/%d/end" % (c, i))))
                           for i in range(n)]
            except (OSError, ValueError):
                # damond's commit is rewriting the tree (nr_regions recreates the dirs): read again
                time.sleep(0.1)
                continue
            if not any(s < 0x40000000 and t > 0x100000 + (64 << 20) for s, t in regions):
                break
            time.sleep(0.5)
        covered_bad = sum(max(0, min(t, 0x40000000) - max(s, 0x100000)) for s, t in regions)
        check(covered_bad < (64 << 20), "the mlocked range is still monitored: %s" % regions)
        covered_good = sum(max(0, min(t, 0x7ffe0000) - max(s, 0x40000000)) for s, t in regions)
        check(covered_good > (900 << 20), "the reclaimable range was cut too: %s" % regions)
        st = e.status()
        fc = st["kdamonds"][0]["schemes"][0]["fail_charge"]
        check(fc["excluded_bytes"] > (900 << 20), "status does not show the exclusion: %s" % fc)
        check(fc["adjustments"] and fc["adjustments"][-1]["reason"], "no adjustment reason in status")
        check(fc["kernel_quota_bytes"] <= 32 << 20, "the kernel quota exceeds the user's: %s" % fc)
        # the evictable pages are bare LRU pages (no anon, mmap or idle bit): page cache DAMON never aged
        check(fc["oracle"]["young_cache_bytes"] > (900 << 20), "young page cache not counted: %s" % fc["oracle"])
        check(any(l == "kdamond 0 commit" for l in e.fakelog()), "no commit")
        check(st["kdamonds"][0]["pid"] == 4242, "the kdamond was restarted")
    finally:
        e.close()



AGER_CONF = POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096")


def wait_ager(e, state, timeout=15):
    """The first kdamond's ager in status once its state is state (None: until status shows none)."""
    deadline = time.time() + timeout
    a = None
    while time.time() < deadline:
        a = e.status()["kdamonds"][0].get("ager")
        if (a and a["state"] == state) or (state is None and a is None):
            return a
        time.sleep(0.2)
    raise Fail("the ager is not %s within %d s: %s" % (state, timeout, a))


def start_with_ager(e):
    """damond on a 6.12 fake whose page map holds 1 GiB mlocked and young page cache everywhere else, with an
    emulated ratio: returns its ager's status once it runs."""
    write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
    e.write_conf(AGER_CONF % {"bytes": "32M"})
    e.start()
    return wait_ager(e, "on")


def ager_dir(e, index):
    """What kdamonds/<index> holds: state, ops, action and the ops filters (6.12: filters/)."""
    d = "%s/%d" % (KD, index)
    c = d + "/contexts/0/schemes/0"
    fl = []
    for i in range(int(e.read(c + "/filters/nr_filters"))):
        fl.append((e.read("%s/filters/%d/type" % (c, i)), e.read("%s/filters/%d/matching" % (c, i))))
    return e.read(d + "/state"), e.read(d + "/contexts/0/operations"), e.read(c + "/action"), fl


def record_names(e):
    with open(os.path.join(e.run, "kdamonds.json")) as f:
        return {k["name"]: k for k in json.load(f)["kdamonds"]}


def t_charge_ager_612():
    """Issue 17: on 6.12 (no fail_charge files) the emulated paddr pageout's oracle counts more than a quota of
    page cache DAMON has not aged: damond starts its ager in a spare kdamond directory (lru_deprio, filters anon,
    young, not young), records it as its own, shows it in status, and stops it at reload (then starts it again),
    when the emulation goes away, and at its own stop."""
    e = Env("6.12")
    try:
        a = start_with_ager(e)
        check(a["name"] == "reclaim.ager" and a["scheme"] == "cold", "status: %s" % a)
        check(a["index"] == 1 and a["pid"], "not in the spare kdamonds/1: %s" % a)
        check(a["young_cache_bytes"] >= a["start_at_bytes"] == 32 << 20, "status: %s" % a)
        check(a["window_quota_bytes"] >= 512 << 20 and a["span_bytes"] > 2000 << 20 and a["pass_ms"] <= 4000,
              "its quota/pass: %s" % a)
        check(a["touches"]["action"] == "lru_deprio" and a["why"], "status: %s" % a)
        st, ops, act, fl = ager_dir(e, 1)
        check((st, ops, act) == ("on", "paddr", "lru_deprio"), "kdamonds/1: %s %s %s" % (st, ops, act))
        check(fl == [("anon", "Y"), ("young", "Y"), ("young", "N")], "its filters: %s" % fl)
        check(e.read(KD + "/1/contexts/0/schemes/0/quotas/bytes") == str(a["window_quota_bytes"]), "its quota")
        rec = record_names(e)
        check("reclaim.ager" in rec and rec["reclaim.ager"]["index"] == 1 and rec["reclaim.ager"]["running"],
              "not in the ownership record: %s" % rec)
        text = e.ctl("status").stdout
        check("ager" in text and "reclaim.ager" in text, "damondctl status does not show it:\n" + text)
        met = e.ctl("metrics").stdout
        check('damond_kdamond_ager_running{kdamond="reclaim"} 1' in met and "damond_kdamond_ager_starts_total" in met,
              "no ager metrics:\n" + "\n".join(l for l in met.splitlines() if "ager" in l))
        check(e.status()["kdamonds"][0]["pid"] == 4242, "the user's kdamond was restarted")
        # a reload stops it, and the tick starts it again (the young cache is still there)
        e.ctl("reload")
        acts = [(x["kdamond"], x["what"]) for x in e.status()["actions"]]
        check(("reclaim.ager", "off") in acts, "the reload did not stop the ager: %s" % acts)
        a = wait_ager(e, "on")
        check(a["starts"] >= 1, "status: %s" % a)
        # the emulation goes (no ratio): the ager stops and status shows none
        e.write_conf(POLICY % {"bytes": "32M"})
        e.ctl("reload")
        wait_ager(e, None)
        check(e.read(KD + "/1/state") == "off", "the ager still runs without the emulation")
        check("reclaim.ager" not in record_names(e), "still recorded: %s" % record_names(e))
        # back, then damond's stop (on_exit: stop, and keep too) takes it down
        e.write_conf(AGER_CONF.replace("on_exit: stop", "on_exit: keep") % {"bytes": "32M"})
        e.ctl("reload")
        wait_ager(e, "on")
        e.stop()
        check(e.read(KD + "/1/state") == "off", "the ager survived damond's stop (on_exit: keep)")
        check(e.read(KD + "/0/state") == "on", "on_exit: keep stopped the user's kdamond")
        check("reclaim.ager" not in record_names(e), "the stopped ager is still recorded")
    finally:
        e.close()


def t_charge_ager_below_quota():
    """The ager starts only at one quota of young page cache: the same page cache marked idle (KPF_IDLE) by DAMON
    needs none, and status says why."""
    import struct
    e = Env("6.12")
    try:
        LRU, IDLE, UNEVICTABLE, MLOCKED = 1 << 5, 1 << 25, 1 << 18, 1 << 33
        with open(os.path.join(e.proc, "kpageflags"), "wb") as f:
            for pfn in range(0x80000000 // 4096):
                bad = 0x100000 <= pfn * 4096 < 0x40000000
                f.write(struct.pack("<Q", LRU | UNEVICTABLE | MLOCKED if bad else LRU | IDLE))
        e.write_conf(AGER_CONF % {"bytes": "32M"})
        e.start()
        time.sleep(4)
        a = e.status()["kdamonds"][0].get("ager")
        check(a and a["state"] == "off" and a["young_cache_bytes"] < (32 << 20) and a["name"] == "reclaim.ager",
              "status: %s" % a)
        check("under one quota" in a["why"], "why: %s" % a)
        check(e.read(KD + "/1/state") == "off", "kdamonds/1 runs")
        check(not any(l.startswith("kdamond 1 on") for l in e.fakelog()), "kdamonds/1 was started")
    finally:
        e.close()


def t_charge_ager_stops_when_aged():
    """Hysteresis: once the page cache reads idle (KPF_IDLE) the ager keeps running for 30 s under half a quota,
    then stops and gives its directory back; status says why."""
    import struct
    e = Env("6.12")
    try:
        start_with_ager(e)
        LRU, IDLE, UNEVICTABLE, MLOCKED = 1 << 5, 1 << 25, 1 << 18, 1 << 33
        # in place: damond keeps /proc/kpageflags open
        with open(os.path.join(e.proc, "kpageflags"), "r+b") as f:
            for pfn in range(0x80000000 // 4096):
                bad = 0x100000 <= pfn * 4096 < 0x40000000
                f.write(struct.pack("<Q", LRU | UNEVICTABLE | MLOCKED if bad else LRU | IDLE))
        aged = time.time()
        deadline = aged + 20
        while time.time() < deadline:
            a = e.status()["kdamonds"][0]["ager"]
            if a["young_cache_bytes"] < (16 << 20):
                break
            time.sleep(0.5)
        check(a["young_cache_bytes"] < (16 << 20), "the oracle still counts young cache: %s" % a)
        time.sleep(10)
        check(e.status()["kdamonds"][0]["ager"]["state"] == "on", "stopped before 30 s under half a quota")
        a = wait_ager(e, "off", timeout=40)
        check(time.time() - aged >= 29, "stopped after %.1f s" % (time.time() - aged))
        check("at one quota" in a["why"] and a["stops"] == 1 and a["index"] is None, "status: %s" % a)
        offs = [x["why"] for x in e.status()["actions"] if x["kdamond"] == "reclaim.ager" and x["what"] == "off"]
        check(offs and "half a quota" in offs[-1], "the action log does not say why it stopped: %s" % offs)
        check(e.read(KD + "/1/state") == "off", "kdamonds/1 still runs")
        check("reclaim.ager" not in record_names(e), "still recorded")
        check(1 in json.load(open(os.path.join(e.run, "kdamonds.json")))["spares"], "its directory is no spare")
    finally:
        e.close()


def t_charge_ager_never_native():
    """Never on a kernel with the fail_charge files (7.2; forced emulation is refused there), with the same young
    page cache as on 6.12: no ager in status, kdamonds/1 never switched on."""
    for conf in (AGER_CONF,):
        e = Env("7.2")
        try:
            write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
            e.write_conf(conf % {"bytes": "32M"})
            e.start()
            time.sleep(4)
            k = e.status()["kdamonds"][0]
            check("ager" not in k, "an ager on 7.2: %s" % k.get("ager"))
            check("ager" not in e.ctl("metrics").stdout, "ager metrics on 7.2")
            check(not any(l.startswith("kdamond 1 on") for l in e.fakelog()), "kdamonds/1 was started on 7.2")
        finally:
            e.close()


def t_charge_ager_off_by_config():
    """quotas.fail_charge_ager: off keeps the ager from serving the scheme though the oracle asks for it (status
    says why, no spare directory is touched); a reload back to auto starts it."""
    e = Env("6.12")
    try:
        write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
        off = AGER_CONF.replace("fail_charge_ratio: 1/4096", "fail_charge_ratio: 1/4096\n          fail_charge_ager: off")
        check(off != AGER_CONF, "the policy has no ratio to put the key under")
        e.write_conf(off % {"bytes": "32M"})
        e.start()
        time.sleep(4)
        a = e.status()["kdamonds"][0].get("ager")
        check(a and a["state"] == "off" and "fail_charge_ager: off" in a["why"], "status: %s" % a)
        check(e.read(KD + "/1/state") == "off", "kdamonds/1 runs")
        check(not any(l.startswith("kdamond 1 on") for l in e.fakelog()), "kdamonds/1 was started")
        e.write_conf(AGER_CONF % {"bytes": "32M"})
        e.ctl("reload")
        a = wait_ager(e, "on")
        check(a["index"] == 1, "status: %s" % a)
    finally:
        e.close()


def t_charge_ager_crash():
    """damond killed (SIGKILL) while its ager runs: the next damond does not call the ager's kdamond foreign, stops
    it (its name is in no config) and starts its own again."""
    e = Env("6.12")
    try:
        a = start_with_ager(e)
        e.stop(signal.SIGKILL)
        check(e.read(KD + "/%d/state" % a["index"]) == "on", "the ager died with damond")
        e.start()
        k = e.status()["kdamonds"][0]
        check(k["adopted"], "the user's kdamond was not adopted: %s" % k)
        a2 = wait_ager(e, "on")
        check(a2["index"] == a["index"], "status: %s" % a2)
        acts = [(x["kdamond"], x["what"]) for x in e.status()["actions"]]
        check(("reclaim.ager", "off") in acts and ("reclaim.ager", "on") in acts, "actions: %s" % acts)
    finally:
        e.close()


def t_charge_rescan_when_free_falls():
    """Free memory the charge emulation hid (buddy pages fail a pageout) is taken by a process: MemFree falls, and
    damond rescans kpageflags at once instead of at the end of its period (16 s on this 16 GiB span), so the
    memory comes back into the target within seconds (at most every quarter period: 4 s here)."""
    import struct
    LRU, BUDDY = 1 << 5, 1 << 10
    top = 16 << 30
    e = Env("6.12")
    try:
        with open(os.path.join(e.proc, "iomem"), "w") as f:
            f.write("00001000-0009fbff : System RAM\n00100000-%x : System RAM\n" % (top - 1))

        def world(free_from, memfree_kb):
            n = top // 4096
            k = free_from // 4096
            with open(os.path.join(e.proc, "kpageflags"), "wb") as f:
                f.write(struct.pack("<Q", LRU) * k + struct.pack("<Q", BUDDY) * (n - k))
            with open(os.path.join(e.proc, "meminfo"), "w") as f:
                f.write("MemTotal:       %d kB\nMemFree:        %d kB\n" % (top >> 10, memfree_kb))

        def regions():
            c = KD + "/0/contexts/0/targets/0/regions"
            for _ in range(50):
                try:
                    n = int(e.read(c + "/nr_regions"))
                    if n:
                        return [(int(e.read("%s/%d/start" % (c, i))), int(e.read("%s/%d/end" % (c, i))))
                                for i in range(n)]
                except (OSError, ValueError):
                    pass
                time.sleep(0.1)
            return []

        def upper_covered():
            return sum(max(0, min(t, top) - max(s, 8 << 30)) for s, t in regions())

        world(8 << 30, 8 << 20)
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096")
                     % {"bytes": "32M"})
        e.start()
        deadline = time.time() + 20
        while time.time() < deadline and not (regions() and upper_covered() <= (64 << 20)):
            time.sleep(0.3)
        check(regions() and upper_covered() <= (64 << 20), "the free 8 GiB was not hidden: %s" % regions())
        # a process takes the free memory: every page on an LRU list, MemFree down by 7 GiB
        world(top, 1 << 20)
        t = time.time()
        deadline = t + 11
        while time.time() < deadline and upper_covered() < (7 << 30):
            time.sleep(0.2)
        took = time.time() - t
        check(upper_covered() >= (7 << 30),
              "the memory taken was still hidden %.1f s after MemFree fell (the period is 16 s): %s"
              % (took, regions()))
    finally:
        e.close()


VADDR_CHARGE = """\
damond:
  on_exit: stop
  stats_interval: 200ms
kdamonds:
  - name: hog
    ops: vaddr
    targets:
      - pid: %(pid)d
    schemes:
      - name: cold
        action: pageout
        access_pattern:
          nr_accesses: {min: 0, max: 0}
        quotas:
          bytes: 32M
          reset_interval: 1s
          fail_charge_ratio: 1/4096
"""


def fake_vaddr_process(e, pid, locked_mib, idle_mib, base=0x10000000, pfn0=0x1000, hide_pfns=False):
    """A process for the pagemap oracle: /proc/PID/maps with a guard page, locked_mib of mlocked then idle_mib
    of evictable anon at base (one mapping each, contiguous), /proc/PID/pagemap mapping them to PFNs from pfn0
    (0 with hide_pfns: what a reader without CAP_SYS_ADMIN sees), and /proc/kpageflags for those PFNs."""
    import struct
    LRU, ANON, UNEVICTABLE, MLOCKED = 1 << 5, 1 << 12, 1 << 18, 1 << 33
    fake_process(e, pid, comm="hog")
    lk, idle = locked_mib << 20, idle_mib << 20
    with open(os.path.join(e.proc, str(pid), "maps"), "w") as f:
        f.write("%x-%x ---p 00000000 00:00 0\n" % (base - 4096, base))
        f.write("%x-%x rw-p 00000000 00:00 0\n" % (base, base + lk))
        f.write("%x-%x rw-p 00000000 00:00 0\n" % (base + lk, base + lk + idle))
        f.write("7ffd0000-7ffd1000 r--p 00000000 00:00 0                          [vvar]\n")
    n = (lk + idle) // 4096
    with open(os.path.join(e.proc, str(pid), "pagemap"), "wb") as f:
        f.seek(base // 4096 * 8)
        f.write(b"".join(struct.pack("<Q", (1 << 63) | (0 if hide_pfns else pfn0 + i)) for i in range(n)))
    with open(os.path.join(e.proc, "kpageflags"), "wb") as f:
        f.write(struct.pack("<Q", 0) * pfn0)
        f.write(b"".join(struct.pack("<Q", LRU | ANON | (UNEVICTABLE | MLOCKED if i * 4096 < lk else 0))
                         for i in range(n)))


def vaddr_filters(e, scheme=0):
    """The addr/target filters in a 6.12 scheme's filters/: [(type, matching, start, end)]; None while a commit
    rewrites the directory."""
    d = KD + "/0/contexts/0/schemes/%d/filters" % scheme
    try:
        out = []
        for i in range(int(e.read(d + "/nr_filters"))):
            t = e.read("%s/%d/type" % (d, i))
            out.append((t, e.read("%s/%d/matching" % (d, i)),
                        int(e.read("%s/%d/addr_start" % (d, i))) if t == "addr" else None,
                        int(e.read("%s/%d/addr_end" % (d, i))) if t == "addr" else None))
        return out
    except (OSError, ValueError):
        return None


USER_FILTER = """        filters:
          - {type: addr, matching: true, addr_range: {start: 0x7f0000000000, end: 0x7f0000100000}}
          - {type: anon, matching: false}
"""


def t_charge_emulation_vaddr_612():
    """Issue 17: a vaddr target's process translated through /proc/PID/pagemap to the kpageflags oracle. The
    oracle sees the mlocked 64 MiB as failing and the idle 96 MiB as ok (the guard mapping left out); damond
    realises the exclusion as an addr reject filter of the scheme, written in filters/ (6.12) ahead of the
    user's own filters, which keep their order; K stays at the user's quota; the vaddr target gets no regions;
    status says what was written and why."""
    e = Env("6.12")
    try:
        fake_vaddr_process(e, 3001, 64, 96)
        e.write_conf(VADDR_CHARGE % {"pid": 3001} + USER_FILTER)
        e.start()
        fc = {}

        def excluded():
            nonlocal fc
            fc = e.status()["kdamonds"][0]["schemes"][0]["fail_charge"]
            f = vaddr_filters(e)
            return fc.get("exclusion", {}).get("nr_ranges") == 1 and f is not None and len(f) == 3

        check(wait_until(excluded, secs=15), "no exclusion in status or the tree: %s %s\n%s"
              % (fc, vaddr_filters(e), e.logtext()[-2000:]))
        o, x = fc["oracle"], fc["exclusion"]
        check(fc["mode"] == "emulated", "6.12 must emulate: %s" % fc)
        check(o["kind"] == "pagemap+kpageflags" and o["pid"] == 3001, "not the pagemap oracle: %s" % o)
        check(o["mapped_bytes"] == 160 << 20 and o["ok_bytes"] == 96 << 20, "the map is not the mappings: %s" % o)
        check(o["exclusions_realised"] is True, "the exclusion is not realised on vaddr: %s" % o)
        base = 0x10000000
        check(x["by"] == "addr_reject_filters" and x["dir"] == "filters" and x["max_ranges"] == 16
              and x["ranges"] == [{"start": base, "end": base + (64 << 20)}],
              "status does not explain the filter: %s" % x)
        check(fc["excluded_bytes"] == 64 << 20, "excluded bytes: %s" % fc)
        check(fc["kernel_quota_bytes"] == 32 << 20, "K is not the user's quota: %s" % fc)
        # damond's reject filter first, then the user's two in their order
        f = vaddr_filters(e)
        check(f == [("addr", "Y", base, base + (64 << 20)), ("addr", "Y", 0x7f0000000000, 0x7f0000100000),
                    ("anon", "N", None, None)], "filters in the kernel: %s" % f)
        check(int(e.read(KD + "/0/contexts/0/targets/0/regions/nr_regions")) == 0,
              "regions written into the vaddr target")
        log = e.logtext()
        check(any("pagemap pass of pid 3001" in l for l in log.splitlines()), "no pass logged")
        check("as 1 addr reject filters ahead of the scheme's own in filters/" in log,
              "the commit's log line does not say what was written: %s" % log[-2000:])
        txt = e.ctl("status").stdout
        check("1 addr reject filter" in txt and "filters/" in txt, "damondctl status does not show the filter:\n"
              + txt)
    finally:
        e.close()


def t_charge_vaddr_filters_survive_reloads():
    """The vaddr exclusion's filters across reloads: a bad config changes nothing (the filter stays in the
    kernel and in status), the same config again writes nothing, and a config that adds a user filter keeps
    damond's ahead of it without a new plan."""
    e = Env("6.12")
    try:
        fake_vaddr_process(e, 3003, 64, 96)
        e.write_conf(VADDR_CHARGE % {"pid": 3003})
        e.start()
        base = 0x10000000
        ours = ("addr", "Y", base, base + (64 << 20))
        check(wait_until(lambda: vaddr_filters(e) == [ours], secs=15),
              "no filter: %s\n%s" % (vaddr_filters(e), e.logtext()[-2000:]))
        # let the emulation settle: no further commit for a while
        time.sleep(2)
        tree0 = stable_tree(e)
        n0 = e.fakelog().count("kdamond 0 commit")

        e.write_conf((VADDR_CHARGE % {"pid": 3003}).replace("bytes: 32M", "bytes: lots"))
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "a bad config reloaded")
        time.sleep(1)
        check(vaddr_filters(e) == [ours], "the bad reload touched the filters: %s" % vaddr_filters(e))
        fc = e.status()["kdamonds"][0]["schemes"][0]["fail_charge"]
        check(fc.get("exclusion", {}).get("ranges") == [{"start": base, "end": base + (64 << 20)}],
              "status lost the exclusion after a bad reload: %s" % fc)

        e.write_conf(VADDR_CHARGE % {"pid": 3003})
        e.ctl("reload")
        time.sleep(1)
        check(stable_tree(e) == tree0, "reloading the same config changed the tree")
        check(e.fakelog().count("kdamond 0 commit") == n0, "reloading the same config committed")

        e.write_conf(VADDR_CHARGE % {"pid": 3003} + USER_FILTER)
        e.ctl("reload")
        check(wait_until(lambda: vaddr_filters(e) is not None and len(vaddr_filters(e)) == 3, secs=5),
              "the user's filters did not arrive: %s" % vaddr_filters(e))
        check(vaddr_filters(e) == [ours, ("addr", "Y", 0x7f0000000000, 0x7f0000100000), ("anon", "N", None, None)],
              "damond's filter is not ahead of the user's after the reload: %s" % vaddr_filters(e))
        fc = e.status()["kdamonds"][0]["schemes"][0]["fail_charge"]
        check(fc["exclusion"]["nr_ranges"] == 1, "status after the reload: %s" % fc)
    finally:
        e.close()


def t_charge_emulation_vaddr_pfns_hidden():
    """pagemap hides the PFNs (no CAP_SYS_ADMIN): no oracle, said once in the log, the fallback law runs."""
    e = Env("6.12")
    try:
        fake_vaddr_process(e, 3002, 64, 96, hide_pfns=True)
        e.write_conf(VADDR_CHARGE % {"pid": 3002})
        e.start()
        check(wait_until(lambda: "hides the page frames" in e.logtext(), secs=15),
              "no log line for hidden PFNs: %s" % e.logtext()[-2000:])
        time.sleep(2.5)
        fc = e.status()["kdamonds"][0]["schemes"][0]["fail_charge"]
        check(fc["mode"] == "emulated" and "would_exclude_failing_bytes" not in fc["oracle"],
              "a preview without PFNs: %s" % fc)
        check(e.logtext().count("hides the page frames") == 1, "the hidden PFNs logged more than once")
    finally:
        e.close()


TWO = """\
damond:
  on_exit: keep
kdamonds:
  - name: a
    ops: paddr
    schemes: [{name: s, action: stat}]
  - name: b
    ops: paddr
    schemes: [{name: s, action: stat}]
"""


def t_dropped_kdamond_does_not_block_restart():
    e = Env("7.2")
    try:
        e.write_conf(TWO)
        e.start()
        check(e.read(KD + "/nr_kdamonds") == "4", "two kdamond dirs and two spares")
        e.write_conf(TWO.split("  - name: b")[0])
        e.ctl("reload")
        check(e.read(KD + "/1/state") == "off", "the dropped kdamond still runs")
        check(e.read(KD + "/0/state") == "on", "the kept kdamond stopped")
        e.stop()
        e.start()  # must not call its own spare dir foreign
        st = e.status()
        check([k["name"] for k in st["kdamonds"]] == ["a"], "kdamonds after restart")
        check(st["kdamonds"][0]["adopted"] is True, "on_exit: keep + restart must re-adopt")
    finally:
        e.close()


# issue 18: a reload that adds a kdamond
MAIN = """\
damond:
  on_exit: stop
%(extra)skdamonds:
  - name: main
    ops: paddr
    refresh_ms: 1000
    targets:
      - regions: [{start: 0x100000, end: 0x10000000}]
    schemes: [{name: s, action: stat}]
"""
APP = """\
  - name: app
    ops: vaddr
    targets:
      - pid: %(pid)d
    schemes: [{name: s, action: stat}]
"""


def fake_process(e, pid, kthread=False, state="S", comm=None):
    """/proc/PID/stat of the fake procfs root: a user process, or a kernel thread (PF_KTHREAD in flags);
    with comm, /proc/PID/comm too."""
    os.makedirs(os.path.join(e.proc, str(pid)), exist_ok=True)
    flags = 0x00208040 if kthread else 0x00400100
    with open(os.path.join(e.proc, str(pid), "stat"), "w") as f:
        f.write("%d (a (weird) name) %s 1 %d %d 0 -1 %d 0 0 0 0\n" % (pid, state, pid, pid, flags))
    if comm is not None:
        with open(os.path.join(e.proc, str(pid), "comm"), "w") as f:
            f.write(comm + "\n")


def wait_until(cond, secs=10, step=0.1):
    """Poll cond until it is true or secs pass; its last value."""
    deadline = time.time() + secs
    while time.time() < deadline and not cond():
        time.sleep(step)
    return cond()


def stable_tree(e):
    return {k: v for k, v in e.tree().items() if "/stats/" not in k and "effective_bytes" not in k}


def t_reload_adds_kdamond_missing_pid():
    """The issue's sequence: main runs; a reload adds app with a pid no process has. Rejected before any
    write: main keeps its pid, the tree stays as it was, and the reply and status say so truthfully."""
    e = Env("7.2")
    try:
        e.write_conf(MAIN % {"extra": ""})
        e.start()
        pid = e.status()["kdamonds"][0]["pid"]
        tree = stable_tree(e)
        e.write_conf(MAIN % {"extra": ""} + APP % {"pid": 30000})
        p = e.ctl("reload", ok=False)
        st = e.status()
        check(st["kdamonds"][0]["pid"] == pid, "main was restarted by the reload (pid %d -> %d)" %
              (pid, st["kdamonds"][0]["pid"]))
        check(p.returncode != 0, "a reload naming a missing pid succeeded")
        check("no process has pid 30000" in p.stderr and re.search(r"damond\.yaml:\d+:\d+: ", p.stderr),
              "no positioned error naming the pid: " + p.stderr)
        check("unchanged" in p.stderr, "the rejection does not say the running config is unchanged: " + p.stderr)
        check([k["name"] for k in st["kdamonds"]] == ["main"], "the rejected kdamond is in status")
        after = stable_tree(e)
        changed = sorted(k for k in set(tree) | set(after) if tree.get(k) != after.get(k))
        check(not changed, "a rejected reload changed the tree: %s" % changed[:8])
        lr = st["config"]["last_reload"]
        check(lr["ok"] is False and lr["applied"] is False, "last_reload: %s" % lr)
        # a kernel thread is refused the same way
        fake_process(e, 2, kthread=True)
        e.write_conf(MAIN % {"extra": ""} + APP % {"pid": 2})
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0 and "kernel thread" in p.stderr, "a kernel thread target was accepted: " + p.stderr)
        check(stable_tree(e) == tree, "a reload naming a kernel thread changed the tree")
        # and a process that has exited
        fake_process(e, 31000, state="Z")
        e.write_conf(MAIN % {"extra": ""} + APP % {"pid": 31000})
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0 and "zombie" in p.stderr, "a zombie target was accepted: " + p.stderr)
        check(stable_tree(e) == tree, "a reload naming a zombie changed the tree")
        check(e.status()["kdamonds"][0]["pid"] == pid, "main was restarted")
    finally:
        e.close()


def t_reload_adds_kdamond_in_spare():
    """A valid reload adding a kdamond fills a spare directory made at start: main keeps its pid."""
    e = Env("7.2")
    try:
        fake_process(e, 4242)
        e.write_conf(MAIN % {"extra": ""})
        e.start()
        check(e.read(KD + "/nr_kdamonds") == "3", "start did not make 2 spares: nr_kdamonds %s" %
              e.read(KD + "/nr_kdamonds"))
        st = e.status()
        pid = st["kdamonds"][0]["pid"]
        check(st["kdamond_dirs"]["spares"] == [1, 2], "spares in status: %s" % st["kdamond_dirs"])
        check("spares: 1, 2" in e.ctl("status").stdout, "damondctl status does not show the spares")
        with open(os.path.join(e.run, "kdamonds.json")) as f:
            check(json.load(f)["spares"] == [1, 2], "the ownership record does not list the spares")
        e.write_conf(MAIN % {"extra": ""} + APP % {"pid": 4242})
        reply = json.loads(e.ctl("reload", "--json").stdout)
        st = e.status()
        check(st["kdamonds"][0]["pid"] == pid, "adding a kdamond restarted main (pid %d -> %d)" %
              (pid, st["kdamonds"][0]["pid"]))
        check(e.read(KD + "/nr_kdamonds") == "3", "nr_kdamonds was rewritten")
        check(e.read(KD + "/1/state") == "on" and st["kdamonds"][1]["state"] == "on", "app does not run in kdamonds/1")
        check(reply["started"] == ["app"] and reply["restarted"] == [] and reply["spares"] == [2],
              "reply: %s" % reply)
        check("a spare directory" in reply["changes"], "reply changes: %s" % reply["changes"])
        # dropping it again: its directory is a spare again, nothing stops but app
        e.write_conf(MAIN % {"extra": ""})
        reply = json.loads(e.ctl("reload", "--json").stdout)
        check(e.status()["kdamonds"][0]["pid"] == pid, "dropping app restarted main")
        check(e.read(KD + "/1/state") == "off", "app still runs")
        check(reply["spares"] == [1, 2], "the dropped kdamond's directory is not a spare: %s" % reply)
    finally:
        e.close()


THREE = """\
damond:
  on_exit: stop
  stats_interval: 200ms
kdamonds:
  - name: a
    ops: paddr
    schemes: [{name: s, action: stat}]
  - name: b
    ops: paddr
    schemes: [{name: s, action: stat}]
  - name: c
    ops: paddr
    schemes: [{name: s, action: stat}]
"""


def t_reload_shrinks_dirs_when_none_runs():
    """Three kdamonds, two spares (nr_kdamonds 5). Dropping c while a and b run keeps every directory (a
    shrink would stop them). Once no kdamond runs (the kernel killed a and b), a reload to one kdamond and
    one spare removes the directories no longer needed (5 -> 2: no running kdamond loses its history), and
    the reply, status, the recent actions and the ownership record all say 2 directories, kdamonds/1 a
    spare (manager-reload.c reload_dirs)."""
    e = Env("7.2")
    try:
        e.write_conf(THREE)
        e.start()
        check(e.read(KD + "/nr_kdamonds") == "5", "three kdamonds and two spares: nr_kdamonds %s" %
              e.read(KD + "/nr_kdamonds"))
        # while kdamonds run, fewer kdamonds leave every directory (a shrink would stop them): c's is a spare
        pids = [k["pid"] for k in e.status()["kdamonds"]]
        e.write_conf(THREE.split("  - name: c")[0].replace("damond:\n", "damond:\n  spare_kdamonds: 1\n", 1))
        reply = json.loads(e.ctl("reload", "--json").stdout)
        check(e.read(KD + "/nr_kdamonds") == "5" and reply["spares"] == [2, 3, 4],
              "a reload with kdamonds running changed the directories: nr_kdamonds %s, reply %s" %
              (e.read(KD + "/nr_kdamonds"), reply))
        check([k["pid"] for k in e.status()["kdamonds"]] == pids[:2], "a or b was restarted")
        check(not [l for l in e.fakelog() if "nr_kdamonds" in l and not l.startswith("nr %s/nr_kdamonds 5" % KD)],
              "nr_kdamonds was written (the kernel refuses that while a kdamond runs): %s" %
              [l for l in e.fakelog() if "nr_kdamonds" in l])
        for k in range(2):
            e.fake("kill", e.sys, str(k))
        check(wait_until(lambda: [k["state"] for k in e.status()["kdamonds"]] == ["died"] * 2, secs=15),
              "the killed kdamonds are not seen as died: %s" % [k["state"] for k in e.status()["kdamonds"]])
        e.write_conf(THREE.split("  - name: b")[0].replace("damond:\n", "damond:\n  spare_kdamonds: 1\n", 1))
        reply = json.loads(e.ctl("reload", "--json").stdout)
        check(e.read(KD + "/nr_kdamonds") == "2",
              "nr_kdamonds %s after a reload to one kdamond and one spare with none running (expected 2)" %
              e.read(KD + "/nr_kdamonds"))
        check(not os.path.exists(os.path.join(e.sys, KD, "2")), "kdamonds/2 still exists")
        check(reply["kdamond_dirs"] == 2 and reply["spares"] == [1], "reply: %s" % reply)
        check("kdamond directories: 2 (was 5), 1 spare" in (reply["changes"] or ""),
              "the reply's changes do not say the directories went: %s" % reply["changes"])
        check(reply["restarted"] == [], "a kdamond is reported restarted (none ran): %s" % reply)
        st = e.status()
        check(st["kdamond_dirs"]["nr"] == 2 and st["kdamond_dirs"]["spares"] == [1],
              "status kdamond_dirs: %s" % st["kdamond_dirs"])
        check([k["name"] for k in st["kdamonds"]] == ["a"] and st["kdamonds"][0]["state"] == "on" and
              e.read(KD + "/0/state") == "on", "a does not run again in kdamonds/0: %s" % st["kdamonds"])
        check("nr_kdamonds = 2 (was 5), directories no longer needed removed" in e.ctl("status").stdout,
              "the recent actions do not show the nr_kdamonds write:\n" + e.ctl("status").stdout)
        check("nr %s/nr_kdamonds 2" % KD in e.fakelog(), "the fake kernel never saw nr_kdamonds = 2")
        check("kdamond directories: 2 (was 5), 1 spare" in e.logtext(), "the journal does not say the directories went")
        with open(os.path.join(e.run, "kdamonds.json")) as f:
            rec = json.load(f)
        check(rec["spares"] == [1], "the ownership record's spares: %s" % rec.get("spares"))
        # a restart of damond takes the record at its word: kdamonds/1 is its spare, not foreign
        e.stop()
        e.start()
        st = e.status()
        check(st["kdamond_dirs"]["nr"] == 2 and st["kdamond_dirs"]["spares"] == [1],
              "after a restart: %s" % st["kdamond_dirs"])
    finally:
        e.close()


def reload_stores(e):
    with open(os.path.join(e.sys, ".fake-damon", "nr_stores")) as f:
        return int(f.read())


def store_index_of_app_on(conf_a, conf_b):
    """A rehearsal: how many stores after a start with conf_a does the reload to conf_b switch app on."""
    e = Env("7.2")
    try:
        fake_process(e, 4242)
        e.write_conf(conf_a)
        e.start()
        before = reload_stores(e)
        e.write_conf(conf_b)
        e.ctl("reload")
        with open(os.path.join(e.sys, ".fake-damon", "stores")) as f:
            on = [int(l.split()[0]) for l in f if l.split()[1:3] == [KD + "/1/state", "on"]]
        check(on, "the rehearsal never switched app on")
        return on[-1] - before
    finally:
        e.close()


def t_reload_fails_midway_rolls_back():
    """No spare (spare_kdamonds: 0): adding app must restart main to grow nr_kdamonds; the kernel then
    refuses app's 'on'. damond rolls back to the previous generation (app stops, its directory is a spare)
    and the reply, status and journal say main was restarted, app failed, which generation runs and which
    directories exist: never "unchanged"."""
    conf_a = MAIN % {"extra": "  spare_kdamonds: 0\n"}
    conf_b = conf_a + APP % {"pid": 4242}
    at = store_index_of_app_on(conf_a, conf_b)
    e = Env("7.2")
    try:
        fake_process(e, 4242)
        e.write_conf(conf_a)
        e.start()
        check(e.read(KD + "/nr_kdamonds") == "1", "spare_kdamonds: 0 made spares")
        st = e.status()
        pid, gen = st["kdamonds"][0]["pid"], st["config"]["generation"]
        with open(os.path.join(e.sys, ".fake-damon", "fault"), "w") as f:
            f.write("%d einval 0\n" % (reload_stores(e) + at))
        e.write_conf(conf_b)
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "the reload succeeded although app's 'on' failed")
        check("unchanged" not in p.stderr, "the reply says unchanged: " + p.stderr)
        check("restarted 'main'" in p.stderr and "FAILED 'app'" in p.stderr and "history lost" in p.stderr,
              "the reply does not say what changed: " + p.stderr)
        check("refused the new configuration (generation %d) part way" % (gen + 1) in p.stderr and
              "rolled back to generation %d" % gen in p.stderr,
              "the reply does not say generation %d was rolled back: %s" % (gen, p.stderr))
        st = e.status()
        lr = st["config"]["last_reload"]
        check(lr["applied"] is True and lr["ok"] is False and lr["restarted"] == ["main"] and
              lr["failed"] == ["app"] and lr.get("rolled_back_from") == gen + 1, "last_reload: %s" % lr)
        check(st["config"]["generation"] == gen, "generation %s after the rollback, expected %d" %
              (st["config"]["generation"], gen))
        check([k["name"] for k in st["kdamonds"]] == ["main"], "app is still configured after the rollback")
        check(st["kdamonds"][0]["state"] == "on" and st["kdamonds"][0]["pid"] != pid, "main is not running again")
        check(e.read(KD + "/nr_kdamonds") == "2" and e.read(KD + "/1/state") == "off",
              "kdamonds/1 after the rollback: nr_kdamonds %s, state %s" %
              (e.read(KD + "/nr_kdamonds"), e.read(KD + "/1/state")))
        check(st["kdamond_dirs"]["spares"] == [1], "app's directory is not a recorded spare: %s" %
              st["kdamond_dirs"])
        text = e.ctl("status").stdout
        check("FAILED PART WAY" in text and "rolled back" in text and "running config kept" not in text,
              "status text: " + text)
        check("refused generation %d part way" % (gen + 1) in e.logtext() and
              "rolled back to generation %d" % gen in e.logtext(), "the journal does not say what changed")
        # the record vouches for the spare: a restart keeps it
        with open(os.path.join(e.run, "kdamonds.json")) as f:
            check(json.load(f)["spares"] == [1], "the ownership record does not list app's directory")
    finally:
        e.close()


def t_reload_pid_exits_before_on():
    """Issue 18's step 2 through the (fake) kernel, not preflight: app's process exists when the reload
    checks it and exits right before app's 'on' (the fault 'exit'), so the kernel's find_get_pid() fails
    and 'on' returns EINVAL. Without a spare, main was restarted to grow nr_kdamonds: the reply, status
    and journal say so (history lost, app failed, rolled back), never "unchanged". With a spare, main
    keeps its pid and app's directory is a spare again."""
    for spares in (0, 2):
        # no stats round (a store of its own) moves the rehearsed store index
        conf_a = MAIN % {"extra": "  spare_kdamonds: %d\n  stats_interval: 60s\n" % spares}
        conf_b = conf_a + APP % {"pid": 4242}
        at = store_index_of_app_on(conf_a, conf_b)
        e = Env("7.2")
        try:
            fake_process(e, 4242)
            e.write_conf(conf_a)
            e.start()
            st = e.status()
            pid, gen = st["kdamonds"][0]["pid"], st["config"]["generation"]
            e.fake("fault", e.sys, str(at), "exit", "4242")
            e.write_conf(conf_b)
            p = e.ctl("reload", ok=False)
            what = "spare_kdamonds %d: " % spares
            check(not os.path.exists(os.path.join(e.proc, "4242")), what + "the process did not exit")
            check("fail kdamond 1 on EINVAL" in e.fakelog(), what + "the kernel did not refuse app's 'on': %s" %
                  [l for l in e.fakelog() if "kdamond 1" in l])
            check(p.returncode != 0 and "running one is unchanged" not in p.stderr, what + "the reply: " + p.stderr)
            check("FAILED 'app'" in p.stderr and "Invalid argument" in p.stderr and
                  "rolled back to generation %d" % gen in p.stderr, what + "the reply: " + p.stderr)
            st = e.status()
            lr = st["config"]["last_reload"]
            check(lr["applied"] is True and lr["ok"] is False and lr["failed"] == ["app"] and
                  lr.get("rolled_back_from") == gen + 1, what + "last_reload: %s" % lr)
            check([k["name"] for k in st["kdamonds"]] == ["main"] and st["kdamonds"][0]["state"] == "on",
                  what + "kdamonds after the rollback: %s" % st["kdamonds"])
            check(e.read(KD + "/1/state") == "off" and st["kdamond_dirs"]["spares"][:1] == [1],
                  what + "app's directory: state %s, %s" % (e.read(KD + "/1/state"), st["kdamond_dirs"]))
            if spares == 0:
                check(lr["restarted"] == ["main"] and st["kdamonds"][0]["pid"] != pid and
                      "restarted 'main'" in p.stderr and "history lost" in p.stderr,
                      what + "the restart of main is not reported: %s / %s" % (lr, p.stderr))
            else:
                check(lr["restarted"] == [] and st["kdamonds"][0]["pid"] == pid and "restarted" not in p.stderr,
                      what + "main was restarted: %s / %s" % (lr, p.stderr))
            check("refused generation %d part way" % (gen + 1) in e.logtext(), what + "the journal does not say")
        finally:
            e.close()


def t_reload_rollback_commits_previous_parameters():
    """A spare is there (no restart): the reload commits main's new scheme and adds app, whose 'on' the
    kernel refuses. The rollback commits main's previous scheme online: same pid, the old value in sysfs,
    app's directory a spare again."""
    conf_a = MAIN % {"extra": ""}
    conf_b = conf_a.replace("schemes: [{name: s, action: stat}]",
                            "schemes: [{name: s, action: stat, access_pattern: {age: {min: 7, max: max}}}]", 1) \
        + APP % {"pid": 4242}
    at = store_index_of_app_on(conf_a, conf_b)
    age = KD + "/0/contexts/0/schemes/0/access_pattern/age/min"
    e = Env("7.2")
    try:
        fake_process(e, 4242)
        e.write_conf(conf_a)
        e.start()
        st = e.status()
        pid, gen = st["kdamonds"][0]["pid"], st["config"]["generation"]
        old_age = e.read(age)
        before = reload_stores(e)
        with open(os.path.join(e.sys, ".fake-damon", "fault"), "w") as f:
            f.write("%d einval 0\n" % (before + at))
        e.write_conf(conf_b)
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "the reload succeeded although app's 'on' failed")
        check("'main' got its previous parameters back online" in p.stderr, "the reply: " + p.stderr)
        with open(os.path.join(e.sys, ".fake-damon", "stores")) as f:
            ages = [l.split()[2] for l in f if int(l.split()[0]) > before and l.split()[1] == age]
        check(len(ages) >= 2 and ages[-1] == old_age and old_age != ages[0],
              "main's age.min was not committed and then committed back: stores %s, before %s" % (ages, old_age))
        check(e.read(age) == old_age, "age.min after the rollback: %s, expected %s" % (e.read(age), old_age))
        st = e.status()
        check(st["kdamonds"][0]["pid"] == pid, "the rollback restarted main")
        check(st["config"]["generation"] == gen and [k["name"] for k in st["kdamonds"]] == ["main"],
              "generation %s, kdamonds %s after the rollback" % (st["config"]["generation"],
                                                                [k["name"] for k in st["kdamonds"]]))
        lr = st["config"]["last_reload"]
        check(lr["restarted"] == [] and lr["failed"] == ["app"] and lr.get("rolled_back_from") == gen + 1,
              "last_reload: %s" % lr)
        check(e.read(KD + "/1/state") == "off" and 1 in st["kdamond_dirs"]["spares"],
              "app's directory: state %s, spares %s" % (e.read(KD + "/1/state"), st["kdamond_dirs"]))
        # and the next valid reload goes through from there
        e.write_conf(conf_a + APP % {"pid": 4242})
        e.ctl("reload")
        st = e.status()
        check(st["config"]["generation"] == gen + 1 and st["kdamonds"][0]["pid"] == pid and
              e.read(KD + "/1/state") == "on", "the next reload: %s" % st["config"])
    finally:
        e.close()


def t_reload_keeps_committed_ranges():
    """The committed list borrows the config's ranges (lib/plan.c, one copy instead of two at 20,000 ranges):
    a reload frees the previous config, so the list must copy them first and borrow the new config's. Reloads
    that change nothing, a setting, a scheme and the ranges each compare against what was committed before:
    under ASan a list left borrowing the freed config is a heap-use-after-free that kills damond."""
    ranges = "      - regions: [{start: 0x100000, end: 0x200000}, {start: 0x300000, end: 0x10000000}]\n"
    conf = MAIN % {"extra": ""}
    conf = conf.replace("      - regions: [{start: 0x100000, end: 0x10000000}]\n", ranges)
    e = Env("7.2")
    try:
        e.write_conf(conf)
        e.start()
        st = e.status()
        pid, gen = st["kdamonds"][0]["pid"], st["config"]["generation"]
        reg = KD + "/0/contexts/0/targets/0/regions"
        steps = [conf,                                                   # nothing changes
                 conf.replace("  on_exit: stop\n", "  on_exit: stop\n  stats_interval: 300ms\n"),
                 conf,
                 conf.replace("{name: s, action: stat}",
                              "{name: s, action: stat, access_pattern: {age: {min: 7, max: max}}}"),
                 conf.replace("end: 0x10000000}", "end: 0x20000000}"),   # the ranges: committed online
                 conf]
        for i, c in enumerate(steps):
            e.write_conf(c)
            p = e.ctl("reload", ok=False)
            check(p.returncode == 0, "reload %d: %s" % (i, p.stderr))
            check(e.proc_h.poll() is None, "damond died at reload %d: %s" % (i, e.logtext()[-3000:]))
            st = e.status()
            check(st["kdamonds"][0]["pid"] == pid, "reload %d restarted the kdamond" % i)
            end = "536870912" if "0x20000000" in c else "268435456"
            check(e.read(reg + "/nr_regions") == "2" and e.read(reg + "/1/end") == end,
                  "reload %d: regions %s, end %s (want %s)" % (i, e.read(reg + "/nr_regions"),
                                                              e.read(reg + "/1/end"), end))
        check(st["config"]["generation"] == gen + len(steps), "generation %s" % st["config"]["generation"])
        check("AddressSanitizer" not in e.logtext(), e.logtext()[-3000:])
        check(e.stop() == 0, "damond's exit status: " + e.logtext()[-3000:])
    finally:
        e.close()


def t_stats_tick_every_interval_without_bpf():
    """Without the BPF monitor nothing else wakes damond: the stats tick keeps its 10 ms accuracy (no slack to
    wait for a ring wakeup, manager_stats_accuracy()), runs once per stats_interval without drifting (the next
    tick is due one interval after this one was due), and rewrites the metrics textfile each time; a kdamond
    killed in between is seen at the next tick."""
    prom = None
    e = Env("7.2")
    try:
        prom = os.path.join(e.dir, "damond.prom")
        e.write_conf((MAIN % {"extra": "  stats_interval: 200ms\n  metrics: {textfile: %s}\n" % prom})
                     .replace("    refresh_ms: 1000\n", ""))
        e.start()
        st = e.status()
        mon = st["monitor"]
        check(mon["source"] == "sysfs-polling" and mon["stats_slack_ms"] == 10, "monitor: %s" % mon)
        t0, n0 = time.monotonic(), mon["stats_ticks"]
        inodes = set()  # the mtimes seen: one per rewrite
        while time.monotonic() - t0 < 4.0:
            try:
                inodes.add(os.stat(prom).st_mtime_ns)  # written atomically, a new file each tick
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        n1, t1 = e.status()["monitor"]["stats_ticks"], time.monotonic()
        want = (t1 - t0) / 0.2
        check(n1 - n0 >= 0.9 * want - 1 and n1 - n0 <= want + 2,
              "%d ticks in %.2f s at 200 ms (%.1f expected)" % (n1 - n0, t1 - t0, want))
        check(len(inodes) >= 0.7 * want, "the textfile was rewritten %d times in %.2f s" % (len(inodes), t1 - t0))
        pid = st["kdamonds"][0]["pid"]
        e.fake("kill", e.sys, "0")
        deadline = time.time() + 1.0
        while time.time() < deadline and e.status()["kdamonds"][0].get("pid") == pid \
                and e.status()["kdamonds"][0].get("state") == "on":
            time.sleep(0.05)
        k = e.status()["kdamonds"][0]
        check(k.get("state") != "on" or k.get("pid") != pid, "the killed kdamond still reads as running: %s" % k)
    finally:
        e.close()


def t_keepalive_with_watermarks():
    e = Env("6.12")
    try:
        e.write_conf("""\
kdamonds:
  - name: r
    ops: paddr
    schemes:
      - name: cold
        action: pageout
        watermarks: {metric: free_mem_rate, interval: 1s, high_permil: 500, mid_permil: 400, low_permil: 50}
""")
        e.start()
        c = KD + "/0/contexts/0/schemes"
        check(e.read(c + "/nr_schemes") == "2", "no keepalive slot next to a watermarked scheme")
        check(e.read(c + "/1/action") == "stat" and e.read(c + "/1/access_pattern/sz/max") == "0",
              "the keepalive slot must be a stat scheme that matches nothing")
        check(e.read(c + "/1/watermarks/metric") == "none", "the keepalive slot must be always active")
        sch = e.status()["kdamonds"][0]["schemes"]
        check(sch[1]["keepalive"] is True and sch[1]["tombstone"] is False, "status does not explain the keepalive slot")
    finally:
        e.close()


def t_emulation_keeps_quota_goals():
    """The emulation changes only bytes and target gaps: the kernel's goal tuner keeps its goals."""
    e = Env("6.12")
    try:
        write_kpageflags(os.path.join(e.proc, "kpageflags"), 0x100000, 0x40000000, 0x80000000)
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n          fail_charge_ratio: 1/4096\n"
                                    "          goals:\n            - {metric: some_mem_psi_us, target_value: 1000}")
                     % {"bytes": "32M"})
        e.start()
        deadline = time.time() + 20
        while time.time() < deadline and not any(l == "kdamond 0 commit" for l in e.fakelog()):
            time.sleep(0.5)
        check(any(l == "kdamond 0 commit" for l in e.fakelog()), "the controller never committed")
        committed = os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas")
        with open(os.path.join(committed, "goals/nr_goals")) as f:
            check(f.read().strip() == "1", "the commit dropped the quota goal")
        with open(os.path.join(committed, "goals/0/target_metric")) as f:
            check(f.read().strip() == "some_mem_psi_us", "the goal metric changed")
        with open(os.path.join(committed, "bytes")) as f:
            check(int(f.read()) <= 32 << 20, "the kernel quota exceeds the user's")
    finally:
        e.close()


def t_goal_current_values():
    """Quota goals show the value the kernel compares (which it never exposes): status, text, metrics."""
    e = Env("7.2")
    try:
        node = os.path.join(e.sys, "devices/system/node/node0")
        os.makedirs(node)
        with open(os.path.join(node, "meminfo"), "w") as f:
            f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  500000 kB\n")
        os.makedirs(os.path.join(e.proc, "pressure"))
        psi = os.path.join(e.proc, "pressure/memory")
        with open(psi, "w") as f:
            f.write("some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n")
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n"
                                    "          goals:\n"
                                    "            - {metric: node_mem_free_bp, target_value: 2000, nid: 0}\n"
                                    "            - {metric: some_mem_psi_us, target_value: 1000}")
                     % {"bytes": "32M"})
        e.start()
        st = e.status()
        check(st.get("schema_version") == 2, "status has no schema_version 2")
        # schema 2: the config's keys
        sc = st["kdamonds"][0]["schemes"][0]
        check(sc["quotas"]["sz_bytes"] == 32 << 20 and "bytes" not in sc["quotas"] and "quota" not in sc and
              "sz_bytes" in sc["access_pattern"] and "sz_applied_bytes_per_s" in sc["rates"],
              "scheme fields are not the config's keys: %s" % sc)
        goals = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"]
        check(goals[0]["current_value"] == 2500 and goals[0]["unit"] == "bp", "node_mem_free_bp: %r" % goals[0])
        check(goals[0]["score_bp"] == 12500 and goals[0]["nid"] == 0, "score/nid: %r" % goals[0])
        # PSI needs two samples a second apart: 30 ms of stall more, over about 1.5 s
        with open(psi, "w") as f:
            f.write("some avg10=0.00 avg60=0.00 avg300=0.00 total=31000\n")
        time.sleep(1.5)
        g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][1]
        check(g["unit"] == "us", "psi unit: %r" % g)
        # the stall per 1 s reset interval: 30 ms over the time between the two reads (1-3 s)
        check(g.get("current_value") is not None and 9000 <= g["current_value"] <= 31000, "psi: %r" % g)
        text = e.ctl("status", "--details").stdout
        check("node_mem_free_bp current 2500 bp / target 2000 bp (125.00 %, met)" in text,
              "the text status does not show the goal's current value: " + text)
        m = e.ctl("metrics").stdout
        check(re.search(r'^damond_scheme_quota_goal_current\{[^}]*goal="0"[^}]*\} 2500$', m, re.M),
              "no goal current metric: " + "\n".join(l for l in m.splitlines() if "goal" in l))
        # a node that does not exist: unknown, and why
        os.unlink(os.path.join(node, "meminfo"))
        g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
        check(g.get("current_value") is None and "node" in g.get("current_unknown", ""), "gone node: %r" % g)
    finally:
        e.close()


def t_goal_fed_as_user_input():
    """6.12 has no node_mem_free_bp goal metric: damond writes the goal as user_input, measures free memory
    of node 0 itself and feeds the value with commit_schemes_quota_goals (no full commit, the kdamond keeps
    its pid); on 7.2, which has the metric, the goal stays native and nothing is fed (issue 16)."""
    for kernel in ("6.12", "7.2"):
        e = Env(kernel)
        try:
            node = os.path.join(e.sys, "devices/system/node/node0")
            os.makedirs(node)
            meminfo = os.path.join(node, "meminfo")
            with open(meminfo, "w") as f:
                f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  500000 kB\n")
            e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n"
                                        "          goals:\n"
                                        "            - {metric: node_mem_free_bp, target_value: 4000, nid: 0}")
                         % {"bytes": "32M"})
            e.start()
            goals = os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/goals/0")
            metric = e.read(KD + "/0/contexts/0/schemes/0/quotas/goals/0/target_metric")
            g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
            if kernel == "7.2":
                check(metric == "node_mem_free_bp" and g["mode"] == "native",
                      "7.2: the goal is not native: %s, %s" % (metric, g))
                time.sleep(1.5)
                check("commit_schemes_quota_goals" not in e.logtext() and
                      "goal_feed" not in e.status()["kdamonds"][0]["schemes"][0],
                      "7.2: damond fed a goal the kernel measures itself")
                continue
            check(metric == "user_input" and g["mode"] == "fed", "6.12: the goal is not fed: %s, %s" % (metric, g))
            pid = e.status()["kdamonds"][0]["pid"]

            def committed_value():
                try:
                    with open(os.path.join(goals, "current_value")) as f:
                        return int(f.read())
                except (OSError, ValueError):
                    return None

            deadline = time.time() + 5
            while committed_value() != 2500 and time.time() < deadline:
                time.sleep(0.1)
            check(committed_value() == 2500, "the kernel never got node 0's 25 %% free: %s" % committed_value())
            commits = e.logtext().count("state' = 'commit'") + e.logtext().count("committed online")
            # free memory rises to 50 %: fed within a quota window or two
            with open(meminfo, "w") as f:
                f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  1000000 kB\n")
            deadline = time.time() + 5
            while committed_value() != 5000 and time.time() < deadline:
                time.sleep(0.1)
            check(committed_value() == 5000, "the kernel never got 50 %% free: %s" % committed_value())
            st = e.status()
            k = st["kdamonds"][0]
            check(k["pid"] == pid and k["state"] == "on", "feeding restarted the kdamond")
            fed = k["schemes"][0]["goal_feed"]["fed_goals"][0]
            check(fed["metric"] == "node_mem_free_bp" and fed["fed_value"] == 5000 and fed["nr_feeds"] >= 2,
                  "goal_feed status: %s" % fed)
            check(e.logtext().count("state' = 'commit'") + e.logtext().count("committed online") == commits,
                  "a fed value went in with a full commit")
            check("goal values committed (commit_schemes_quota_goals" in e.logtext(),
                  "the journal does not say how the first value went in")
            text = e.ctl("status", "--details").stdout
            check("goal_feed" in text and "node_mem_free_bp current 5000 bp / target 4000 bp" in text and
                  "fed as user_input" in text, "status text: " + text)
        finally:
            e.close()


def t_goal_psi_cgroup_fed():
    """some_mem_psi_us of one unit (issue 16; no kernel has it, 7.2 neither): damond reads the unit's
    cgroup's memory.pressure and feeds the stall per quota window as user_input on every kernel; the
    system's /proc/pressure/memory, which moves ten times as fast, is not what goes in."""
    import threading
    for kernel in ("6.12", "7.2"):
        e = Env(kernel)
        stop = threading.Event()
        try:
            cg = os.path.join(e.sys, "fs/cgroup")
            os.makedirs(os.path.join(cg, "system.slice/db.service"))
            with open(os.path.join(cg, "cgroup.controllers"), "w") as f:
                f.write("cpu memory pids\n")
            pressure = os.path.join(cg, "system.slice/db.service/memory.pressure")
            os.makedirs(os.path.join(e.proc, "pressure"))
            system = os.path.join(e.proc, "pressure/memory")
            t0 = time.time()

            def stall():  # the unit stalls 20 ms per second, the system 200 ms
                while not stop.is_set():
                    us = int((time.time() - t0) * 20000)
                    for path, total in ((pressure, us), (system, 10 * us)):
                        with open(path + ".tmp", "w") as f:
                            f.write("some avg10=2.00 avg60=2.00 avg300=2.00 total=%d\n"
                                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n" % total)
                        os.rename(path + ".tmp", path)
                    time.sleep(0.02)
            th = threading.Thread(target=stall)
            th.start()
            e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n"
                                        "          goals:\n"
                                        "            - {metric: some_mem_psi_us, target_value: 10ms, "
                                        "unit: db.service}")
                         % {"bytes": "32M"})
            e.start()
            metric = e.read(KD + "/0/contexts/0/schemes/0/quotas/goals/0/target_metric")
            g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
            check(metric == "user_input" and g["mode"] == "fed" and g["path"] == "/system.slice/db.service",
                  "%s: the unit's PSI goal is not fed: %s, %s" % (kernel, metric, g))
            goals = os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/goals/0")

            def committed_value():
                try:
                    with open(os.path.join(goals, "current_value")) as f:
                        return int(f.read())
                except (OSError, ValueError):
                    return None

            # 20 ms per 1 s window (the first value is the target, 10 ms, until two samples a second apart)
            ok = lambda: committed_value() is not None and 18000 <= committed_value() <= 22000
            deadline = time.time() + 6
            while not ok() and time.time() < deadline:
                time.sleep(0.1)
            check(ok(), "%s: the kernel never got the unit's 20 ms per window: %s" % (kernel, committed_value()))
            g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
            check(g["unit"] == "us" and 18000 <= g["current_value"] <= 22000, "%s: status: %s" % (kernel, g))
        finally:
            stop.set()
            if "th" in locals():
                th.join()
            e.close()


def t_goal_eligible_no_monitor():
    """node_eligible_mem_bp (7.2) needs the access pattern of each region, which damond has from its BPF
    monitor only: the sysfs fallback these tests run reads the schemes' stats, no regions (issue 16). Then
    the goal is still accepted (paddr), 6.12 gets it as user_input holding the target (a neutral score, the
    quota neither pushed nor held back by it) and 7.2 natively; status says the value is unknown and why."""
    for kernel in ("6.12", "7.2"):
        e = Env(kernel)
        try:
            e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n"
                                        "          goals:\n"
                                        "            - {metric: node_eligible_mem_bp, target_value: 30%%, nid: 0}")
                         % {"bytes": "32M"})
            e.start()
            metric = e.read(KD + "/0/contexts/0/schemes/0/quotas/goals/0/target_metric")
            time.sleep(1.0)  # a few stats ticks: nothing to feed
            g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
            want = ("node_eligible_mem_bp", "native") if kernel == "7.2" else ("user_input", "fed")
            check((metric, g["mode"]) == want, "%s: goal written as %s, mode %s" % (kernel, metric, g["mode"]))
            check(g.get("current_value") is None and "BPF monitor" in g.get("current_unknown", ""),
                  "%s: status does not say why the value is unknown: %s" % (kernel, g))
            if kernel == "6.12":
                check(e.read(KD + "/0/contexts/0/schemes/0/quotas/goals/0/current_value") == "3000",
                      "6.12: the kernel does not hold the neutral value (the target)")
                check("commit_schemes_quota_goals" not in e.logtext(), "6.12: damond fed a value it cannot measure")
            text = e.ctl("status", "--details").stdout
            check("node_eligible_mem_bp" in text and "BPF monitor" in text, "status text: " + text)
        finally:
            e.close()


def t_goal_temporal_emulated():
    """Seed 000's recipe asks for the temporal goal tuner (7.1+). On 6.12 damond runs it: no goals go to the
    kernel, damond scores node 0's free memory against 40 %, and caps the quota at 1 byte (nothing applied)
    while the goal is met, the full 100 MiB while it is missed. 7.2 gets the native tuner (issue 16)."""
    conf = POLICY.replace("bytes: %(bytes)s\n          reset_interval: 1s",
                          "bytes: 100M\n          reset_interval: 1s\n          goal_tuner: temporal\n"
                          "          goals:\n            - {metric: node_mem_free_bp, target_value: 40%, nid: 0}")
    for kernel in ("6.12", "7.2"):
        e = Env(kernel)
        try:
            node = os.path.join(e.sys, "devices/system/node/node0")
            os.makedirs(node)
            meminfo = os.path.join(node, "meminfo")

            def free(kb):
                with open(meminfo, "w") as f:
                    f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  %d kB\n" % kb)

            free(500000)
            e.write_conf(conf)
            e.start()
            q = KD + "/0/contexts/0/schemes/0/quotas"
            if kernel == "7.2":
                check(e.read(q + "/goal_tuner") == "temporal" and e.read(q + "/goals/nr_goals") == "1" and
                      e.read(q + "/goals/0/target_metric") == "node_mem_free_bp",
                      "7.2: the native tuner and goal are not written")
                check("goal_feed" not in e.status()["kdamonds"][0]["schemes"][0], "7.2: damond runs the tuner")
                continue
            committed = os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/bytes")

            def kernel_bytes():
                try:
                    with open(committed) as f:
                        return int(f.read())
                except (OSError, ValueError):
                    return None

            def wait_bytes(v):
                deadline = time.time() + 6
                while kernel_bytes() != v and time.time() < deadline:
                    time.sleep(0.1)
                return kernel_bytes()

            check(e.read(q + "/goals/nr_goals") == "0", "6.12: goals written to a kernel without the tuner")
            pid = e.status()["kdamonds"][0]["pid"]
            time.sleep(1.5)
            check(kernel_bytes() == 100 << 20, "25 %% free (goal missed): quota %s, expected 100 MiB" % kernel_bytes())
            free(1000000)  # 50 % free: met
            check(wait_bytes(1) == 1, "50 %% free (goal met): quota %s, expected 1 byte" % kernel_bytes())
            sc = e.status()["kdamonds"][0]["schemes"][0]
            t = sc["goal_feed"]["emulated_tuner"]
            check(t["met"] is True and t["score_bp"] == 12500 and t["quota_cap_bytes"] == 1, "status: %s" % t)
            check(sc["quotas"]["goals"][0]["mode"] == "damond", "goal mode: %s" % sc["quotas"]["goals"][0])
            free(300000)  # 15 % free: the loop resumes
            check(wait_bytes(100 << 20) == 100 << 20, "15 %% free: quota %s, expected 100 MiB" % kernel_bytes())
            st = e.status()
            check(st["kdamonds"][0]["pid"] == pid, "the tuner's commits restarted the kdamond")
            check(st["kdamonds"][0]["schemes"][0]["goal_feed"]["emulated_tuner"]["nr_switches"] == 2,
                  "switches: %s" % st["kdamonds"][0]["schemes"][0]["goal_feed"])
            check("temporal goal tuner (emulated)" in e.logtext(), "the journal does not say why the quota changed")
        finally:
            e.close()


def t_goal_file_metric():
    """A 'file' goal (damond's own metric): any program steers the scheme by writing a number into the file;
    damond feeds it as user_input on every kernel, 7.2 included (issue 16 item 3)."""
    e = Env("7.2")
    try:
        steer = os.path.join(e.dir, "steer")
        e.write_conf(POLICY.replace("reset_interval: 1s", "reset_interval: 1s\n"
                                    "          goals:\n"
                                    "            - {metric: file, target_value: 100, path: %s}" % steer)
                     % {"bytes": "32M"})
        e.start()
        q = KD + "/0/contexts/0/schemes/0/quotas/goals/0"
        check(e.read(q + "/target_metric") == "user_input", "the file goal is not written as user_input")
        g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
        check(g["mode"] == "fed" and g["current_value"] is None and "file" in g.get("current_unknown", ""),
              "before the file exists: %s" % g)
        with open(steer, "w") as f:
            f.write("40\n")
        committed = os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/goals/0/current_value")
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                with open(committed) as f:
                    if f.read().strip() == "40":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        with open(committed) as f:
            check(f.read().strip() == "40", "the kernel never got the file's 40")
        g = e.status()["kdamonds"][0]["schemes"][0]["quotas"]["goals"][0]
        check(g["current_value"] == 40 and g["score_bp"] == 4000, "status: %s" % g)
    finally:
        e.close()


def t_reload_commit_to_killed_kdamond_restarts_it():
    """The kdamond dies (killed, or switched off behind damond's back) between damond's last look and a
    reload's 'commit', which 6.12 then refuses with EINVAL (7.x's ECANCELED was handled already). damond must
    start it again with the new policy and say so, not report it still running its previous parameters
    (the 1-hour soak met this once in 3,596 reloads). The fake kills every kdamond right after the
    store before the commit (found in a rehearsal)."""
    conf = POLICY.replace("stats_interval: 200ms", "stats_interval: 60s")
    e = Env("6.12")
    try:
        e.write_conf(conf % {"bytes": "32M"})
        e.start()
        before = reload_stores(e)
        e.write_conf(conf % {"bytes": "64M"})
        e.ctl("reload")
        with open(os.path.join(e.sys, ".fake-damon", "stores")) as f:
            commit = [int(l.split()[0]) for l in f if l.split()[1:3] == [KD + "/0/state", "commit"]]
        check(commit and commit[-1] > before + 1, "the rehearsal never committed")
        at = commit[-1] - 1 - before
    finally:
        e.close()
    e = Env("6.12")
    try:
        e.write_conf(conf % {"bytes": "32M"})
        e.start()
        pid = e.status()["kdamonds"][0]["pid"]
        with open(os.path.join(e.sys, ".fake-damon", "fault"), "w") as f:
            f.write("%d kill 0\n" % (reload_stores(e) + at))
        e.write_conf(conf % {"bytes": "64M"})
        p = e.ctl("reload", ok=False)
        check(p.returncode == 0, "the reload failed: " + p.stderr)
        k = e.status()["kdamonds"][0]
        check(k["state"] == "on" and k["pid"] not in (pid, None), "kdamond 0 after the reload: %s pid %s (was %d)"
              % (k["state"], k.get("pid"), pid))
        check(e.read(KD + "/0/state") == "on", "kdamond 0 is off in the kernel")
        with open(os.path.join(e.sys, ".fake-damon/kdamond0/committed/schemes/0/quotas/bytes")) as f:
            check(f.read().strip() == str(64 << 20), "the restarted kdamond does not run the new quota")
        check("was off when its 'commit' was refused" in e.logtext(), "the journal does not say why it restarted")
    finally:
        e.close()


def t_died_detected():
    e = Env("6.12")
    try:
        e.start()
        e.fake("kill", e.sys, "0")
        deadline = time.time() + 15
        while True:
            st = e.status()
            if st["kdamonds"][0]["state"] == "died" or time.time() > deadline:
                break
            time.sleep(0.2)
        check(st["kdamonds"][0]["state"] == "died", "a dead kdamond is reported as %s" % st["kdamonds"][0]["state"])
    finally:
        e.close()


def t_dry_run_writes_nothing():
    e = Env("6.12")
    try:
        tree = e.tree()
        e.start("--dry-run")
        check(e.tree() == tree, "dry run wrote to the tree")
        check("dry-run: would write" in e.logtext(), "dry run did not log its writes")
    finally:
        e.close()


def t_idle_client_dropped():
    import socket
    e = Env("6.12")
    try:
        e.start()
        socks = []
        for _ in range(20):  # more than the server's client limit
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(os.path.join(e.run, "control"))
            socks.append(c)
        socks[0].settimeout(20)
        t = time.time()
        data = b""
        while True:  # at most a damond.Busy error (its request was never read), then the end
            d = socks[0].recv(4096)
            if not d:
                break
            data += d
        check(data == b"" or json.loads(data.rstrip(b"\0")).get("error") == "damond.Busy",
              "an idle client was sent %r" % data[:200])
        check(time.time() - t < 15, "an idle client was not dropped")
        for c in socks:
            c.close()
        e.status()  # others are served again
    finally:
        e.close()


def t_reload_permission():
    # damondctl as root is allowed; as another user it must be refused. Only testable as root.
    if os.geteuid() != 0:
        return "skip not root"
    e = Env("6.12")
    try:
        e.start()
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DAMONDCTL,
                            "--runtime-dir", e.run, "reload"], capture_output=True, text=True)
        check(p.returncode != 0 and ("PermissionDenied" in (p.stderr + p.stdout) or "permission" in p.stderr.lower()),
              "an unprivileged reload was not refused: %s %s" % (p.stdout, p.stderr))
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DAMONDCTL,
                            "--runtime-dir", e.run, "status", "--json"], capture_output=True, text=True)
        check(p.returncode == 0, "an unprivileged status was refused: " + p.stderr)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DAMONDCTL,
                            "--runtime-dir", e.run, "regions"], capture_output=True, text=True)
        check(p.returncode != 0, "an unprivileged user may read region addresses")
    finally:
        e.close()


def t_refine_without_bpf():
    """refine on: without BPF snapshots it does not run, says why, and writes nothing
    beyond the policy (no commit after the start)."""
    e = Env("7.2")
    try:
        e.write_conf(POLICY.replace("    ops: paddr\n", "    ops: paddr\n    refine: {enabled: true, interval: 1s}\n")
                     % {"bytes": "32M"})
        e.start()
        time.sleep(1.5)  # several stats ticks
        rf = e.status()["kdamonds"][0]["refine"]
        check(rf["enabled"] is True, "refine not enabled in status: %r" % rf)
        check("BPF monitor" in rf.get("off", ""), "status does not say refinement needs BPF: %r" % rf)
        check(rf["rounds"] == 0, "refinement rounds without snapshots: %r" % rf)
        check(rf["effective_interval_us"] == 1000000, "effective interval not the configured 1 s: %r" % rf)
        text = e.ctl("status").stdout
        check("refine" in text and "needs the BPF monitor" in text, "text status lacks the refine line:\n" + text)
        # the one commit: the first-window release of the quota'd scheme (first_window), logged as such
        commits = [ln for ln in e.fakelog() if ln == "kdamond 0 commit"]
        released = e.logtext().count("its first quota window is over")
        check(len(commits) == released == 1, "commits without any decision: %r (first-window releases: %d)" %
              (commits[:3], released))
        # a scheme applying every 3 s: rounds at least 6 s apart (a commit restarts apply intervals on 6.12)
        e.write_conf(POLICY.replace("    ops: paddr\n", "    ops: paddr\n    refine: {enabled: true, interval: 1s}\n")
                     .replace("        action: stat\n", "        action: stat\n        apply_interval: 3s\n")
                     % {"bytes": "32M"})
        e.ctl("reload")
        rf = e.status()["kdamonds"][0]["refine"]
        check(rf["effective_interval_us"] == 6000000, "effective interval with a 3 s apply interval: %r" % rf)
    finally:
        e.close()


def t_status_summary():
    """damondctl status: the summary for humans (goals met or missed); --details; on a terminal: cut to its width,
    colours, NO_COLOR, --watch redraws."""
    e = Env("6.12")
    try:
        # free memory is 25 % on the fake meminfo: watermarks with high 20 % make "watch" idle
        # node 0 is 25 % free too: a goal of 20 % free is met, one of 50 % missed
        node = os.path.join(e.sys, "devices/system/node/node0")
        os.makedirs(node)
        with open(os.path.join(node, "meminfo"), "w") as f:
            f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  500000 kB\n")
        e.write_conf(POLICY.replace("        action: stat\n", "        action: stat\n"
                                    "        watermarks: {metric: free_mem_rate, interval: 1s, high: 200, "
                                    "mid: 150, low: 50}\n")
                     .replace("reset_interval: 1s", "reset_interval: 1s\n"
                              "          goals:\n"
                              "            - {metric: node_mem_free_bp, target_value: 2000, nid: 0}\n"
                              "            - {metric: node_mem_free_bp, target_value: 5000, nid: 0}")
                     % {"bytes": "32M"})
        e.start()
        time.sleep(1.5)
        txt = e.ctl("status").stdout
        lines = txt.splitlines()
        check(lines[0].startswith("damond ") and "generation 1" in lines[0], "header: %r" % lines[:2])
        kd = [l for l in lines if l.strip().startswith("reclaim")]
        check(kd and " on (pid " in kd[0] and "paddr" in kd[0], "no kdamond line with its state:\n" + txt)
        cold = [l for l in lines if l.strip().startswith("cold ")]
        check(cold and "pageout" in cold[0] and "of a 32.0MiB/s quota" in cold[0],
              "the pageout scheme's line lacks its rate against the quota:\n" + txt)
        # each goal: current/target and whether it is on target, from the kernel's score
        check("; goal node_mem_free_bp 2500/2000 bp met" in cold[0] and
              "; goal node_mem_free_bp 2500/5000 bp missed" in cold[0],
              "the pageout scheme's line does not say whether its goals are met:\n" + txt)
        watch = [l for l in lines if l.strip().startswith("watch ")]
        check(watch and "idle: free 25.0 % > high 20.0 %" in watch[0],
              "the idle scheme's line does not say why:\n" + txt)
        check("access pattern" not in txt and "sysfs root" not in txt, "details in the summary:\n" + txt)
        check("recent actions" in txt and "damond: nr_kdamonds" in txt, "no recent actions:\n" + txt)
        det = e.ctl("status", "--details").stdout
        check(det.startswith(lines[0]) and "access pattern" in det and "sysfs root" in det,
              "--details lacks the summary or the details:\n" + det[:2000])
        # on a terminal (script(1) gives a pty): cut to its width, coloured states, NO_COLOR honoured
        if shutil.which("script"):
            cmd = "stty cols 60; %s --runtime-dir %s --no-pager status" % (DAMONDCTL, e.run)
            env = dict(os.environ, TERM="xterm")
            env.pop("NO_COLOR", None)
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=30,
                               env=env)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout.replace("\r", ""))
            long_lines = [l for l in plain.splitlines() if len(l) > 60]
            check(p.returncode == 0 and "reclaim" in plain, "status on a pty: %d %r" % (p.returncode, p.stdout[-500:]))
            check(not long_lines, "lines wider than the 60-column terminal: %r" % long_lines)
            check("\x1b[32mon" in p.stdout, "no colour for the state on a terminal: %r" % p.stdout[:400])
            env["NO_COLOR"] = "1"
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=30,
                               env=env)
            check("\x1b[" not in p.stdout, "colours despite NO_COLOR: %r" % p.stdout[:400])
            # --watch on a terminal: the screen cleared and the summary drawn again every 0.2 s
            wcmd = "timeout -s INT 1.1 %s --runtime-dir %s --no-pager status --watch=0.2" % (DAMONDCTL, e.run)
            p = subprocess.run(["script", "-qc", wcmd, "/dev/null"], capture_output=True, text=True, timeout=30,
                               env=env)
            frames = p.stdout.split("\x1b[H\x1b[2J")[1:]
            check(len(frames) >= 2 and all(f.replace("\r", "").startswith("damond ") and "reclaim" in f
                                           for f in frames),
                  "--watch=0.2 for 1.1 s on a pty: %d frames, not at least 2 whole ones: %r"
                  % (len(frames), p.stdout[-600:]))
            check("(more: damondctl status --details)" not in p.stdout, "--watch frames end with the hint")
        p = e.ctl("status", "--watch=0.1", ok=False)
        check(p.returncode != 0 and "--watch takes seconds" in p.stderr, "--watch=0.1 accepted: %r" % p.stderr)
    finally:
        e.close()


def t_regions_numa_node():
    """regions: {node: N} writes the node's online memory blocks (cut to System RAM); a node that is gone is a
    positioned error that leaves the running kdamond alone."""
    e = Env("6.12")
    try:
        mem = os.path.join(e.sys, "devices/system/memory")
        os.makedirs(mem)
        with open(os.path.join(mem, "block_size_bytes"), "w") as f:
            f.write("8000000\n")  # 128 MiB
        # node 0: blocks 0-7 (0-1 GiB), node 1: blocks 8-15 but 12 is offline
        for nid, ids in ((0, range(0, 8)), (1, range(8, 16))):
            for i in ids:
                os.makedirs(os.path.join(e.sys, "devices/system/node/node%d/memory%d" % (nid, i)))
                os.makedirs(os.path.join(mem, "memory%d" % i))
                with open(os.path.join(mem, "memory%d/state" % i), "w") as f:
                    f.write("offline\n" if i == 12 else "online\n")
        e.write_conf(POLICY.replace("regions: auto", "regions: {node: 1}") % {"bytes": "32M"})
        e.start()
        c = KD + "/0/contexts/0"
        # System RAM ends at 0x7ffe0000: node 1 is 1-1.5 GiB and 1.625-2 GiB, cut at RAM's end
        check(e.read(c + "/targets/0/regions/nr_regions") == "2", "node 1: two ranges around the offline block")
        got = [(int(e.read(c + "/targets/0/regions/%d/start" % i)), int(e.read(c + "/targets/0/regions/%d/end" % i)))
               for i in range(2)]
        check(got == [(8 << 27, 12 << 27), (13 << 27, 0x7ffe0000)], "node 1 ranges: %s" % got)
        t = e.status()["kdamonds"][0]["targets"][0]
        check(t.get("ranges_from") == "nodes" and t.get("nodes") == [1] and t["nr_ranges"] == 2,
              "status target: %r" % t)
        text = e.ctl("status", "--details").stdout
        check("physical, NUMA node 1, 2 ranges" in text, "text status does not name the node: " + text)
        pid = e.status()["kdamonds"][0]["pid"]

        # a node that does not exist: the reload is refused where the node is written, nothing changes
        tree = e.inputs()
        e.write_conf(POLICY.replace("regions: auto", "regions: {node: [1, 3]}") % {"bytes": "32M"})
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0, "a reload naming a missing node succeeded")
        check(re.search(r"damond\.yaml:\d+:\d+: .*NUMA node 3 does not exist", p.stderr),
              "no positioned error for the missing node: " + p.stderr)
        after = e.inputs()
        changed = sorted(k for k in tree.keys() | after.keys() if tree.get(k) != after.get(k))
        check(not changed, "a refused reload changed the tree: %s" % changed[:5])
        check(e.status()["kdamonds"][0]["pid"] == pid, "pid changed after a refused reload")

        # both nodes: one merged range 0-1.5 GiB (the low hole of System RAM cut out) and the rest of node 1
        e.write_conf(POLICY.replace("regions: auto", "regions: {node: [0, 1]}") % {"bytes": "32M"})
        e.ctl("reload")
        check(e.read(c + "/targets/0/regions/nr_regions") == "3", "nodes 0 and 1: three ranges")
        check(e.read(c + "/targets/0/regions/1/start") == str(0x100000) and
              e.read(c + "/targets/0/regions/1/end") == str(12 << 27), "nodes 0-1 merged up to the offline block")
        # memory hotplug: block 12 comes online; a reload of the same policy re-resolves the nodes and
        # commits the new ranges online (the kdamond keeps running)
        pid = e.status()["kdamonds"][0]["pid"]
        with open(os.path.join(mem, "memory12/state"), "w") as f:
            f.write("online\n")
        e.ctl("reload")
        check(e.read(c + "/targets/0/regions/nr_regions") == "2", "block 12 online: nodes 0-1 in two ranges")
        check(e.read(c + "/targets/0/regions/1/end") == str(0x7ffe0000), "block 12 online: up to RAM's end")
        check(e.status()["kdamonds"][0]["pid"] == pid, "the kdamond was restarted for a range change")
        # hotplug without a reload: block 14 goes offline; `damondctl rescan` (what a uevent does on the real
        # /sys) commits the new ranges online, once
        with open(os.path.join(mem, "memory14/state"), "w") as f:
            f.write("offline\n")
        p = e.ctl("rescan")
        check("1 for memory hotplug" in p.stdout, "rescan did not retarget the node kdamond: %r" % p.stdout)
        check(e.read(c + "/targets/0/regions/nr_regions") == "3", "block 14 offline: nodes 0-1 in three ranges")
        got = [(int(e.read(c + "/targets/0/regions/%d/start" % i)), int(e.read(c + "/targets/0/regions/%d/end" % i)))
               for i in (1, 2)]
        check(got == [(0x100000, 14 << 27), (15 << 27, 0x7ffe0000)], "ranges around block 14: %s" % got)
        st = e.status()
        check(st["kdamonds"][0]["pid"] == pid, "the kdamond was restarted for a hotplug")
        acts = [a for a in st.get("actions", []) if a.get("what") == "retarget"]
        check(acts and "memory hotplug" in acts[-1].get("why", "") and "-> 3 range(s)" in acts[-1].get("why", ""),
              "no retarget action that says why: %r" % acts)
        p = e.ctl("rescan")
        check("0 for memory hotplug" in p.stdout, "a second rescan retargeted again: %r" % p.stdout)
    finally:
        e.close()


NODES_BASE = """\
damond:
  on_exit: stop
kdamonds:
  - name: tier
    ops: paddr
    targets:
      - regions: [{start: 0x100000, end: 0x10000000}]
    schemes:
      - name: watch
        action: stat
"""


def t_preflight_missing_numa_node():
    """A policy naming a NUMA node the machine does not have (node0 and node1 exist) in a migrate action's
    target_nid, in dests (7.x) or in a node_* goal's nid is refused before anything is written: at start
    (nr_kdamonds never written) and on reload (the tree, the generation and the kdamond's pid unchanged),
    with file:line:column at the scheme (target_nid, dests) or the goal (nid), naming the node."""
    e = Env("7.2")
    try:
        for nid in (0, 1):
            os.makedirs(os.path.join(e.sys, "devices/system/node/node%d" % nid))
        scheme = "      - name: mig\n        action: migrate_cold\n"
        cases = [
            ("target_nid", scheme + "        target_nid: 3\n", "- name: mig", 3),
            ("dests", scheme + "        dests: [{id: 1, weight: 2}, {id: 5}]\n", "- name: mig", 5),
            ("goal nid", scheme + "        target_nid: 1\n        quotas:\n          bytes: 1M\n"
             "          goals:\n            - {metric: node_mem_used_bp, target_value: 9970, nid: 0}\n"
             "            - {metric: node_mem_free_bp, target_value: 50, nid: 7}\n",
             "- {metric: node_mem_free_bp", 7),
        ]

        def where(text, marker):
            """line:column of the first character after "- " of the marker's line (1-based)"""
            for i, line in enumerate(text.splitlines(), 1):
                if marker in line:
                    return "%d:%d" % (i, line.index(marker) + 3)
            raise Fail("no %r in the policy" % marker)

        # at start: refused before nr_kdamonds is written
        for what, extra, marker, nid in cases:
            text = NODES_BASE + extra
            e.write_conf(text)
            stores = reload_stores(e)
            try:
                p = e.run_to_exit(timeout=30)
            except subprocess.TimeoutExpired:
                raise Fail("%s: a start naming node %d was not refused (damond ran on)" % (what, nid))
            check(p.returncode != 0, "%s: a start naming node %d succeeded" % (what, nid))
            pos = re.escape(e.conf) + ":" + where(text, marker)
            check(re.search(pos + r": .*NUMA node %d does not exist" % nid, p.stderr),
                  "%s: no error at %s naming node %d: %s" % (what, pos, nid, p.stderr[-1500:]))
            check(e.read(KD + "/nr_kdamonds") == "0" and reload_stores(e) == stores,
                  "%s: the refused start wrote to the kernel: %s" % (what, e.fakelog()))
        # the same policy with existing nodes starts (the check is not refusing everything)
        e.write_conf(NODES_BASE + scheme + "        target_nid: 1\n        dests: [{id: 0}, {id: 1}]\n")
        e.start()
        check(e.read(KD + "/0/contexts/0/schemes/1/dests/nr_dests") == "2", "the valid policy was not applied")
        pid, gen = e.status()["kdamonds"][0]["pid"], e.status()["config"]["generation"]
        tree = e.inputs()
        for what, extra, marker, nid in cases:
            text = NODES_BASE + extra
            e.write_conf(text)
            p = e.ctl("reload", ok=False)
            check(p.returncode != 0, "%s: a reload naming node %d succeeded" % (what, nid))
            check(re.search(r"damond\.yaml:%s: .*NUMA node %d does not exist" % (where(text, marker), nid), p.stderr),
                  "%s: no positioned error naming node %d: %s" % (what, nid, p.stderr))
            after = e.inputs()
            changed = sorted(k for k in tree.keys() | after.keys() if tree.get(k) != after.get(k))
            check(not changed, "%s: the refused reload changed the tree: %s" % (what, changed[:5]))
            st = e.status()
            check(st["config"]["generation"] == gen and st["kdamonds"][0]["pid"] == pid,
                  "%s: generation %s, pid %s after a refused reload" % (what, st["config"]["generation"],
                                                                      st["kdamonds"][0]["pid"]))
    finally:
        e.close()


def t_targets_follow_processes():
    """Targets named by comm / pidfile / cgroup are resolved to the live processes and followed: a restarted
    process (new pid) is committed online, a kdamond without a matching process waits, then starts."""
    e = Env("7.2")
    try:
        def proc(pid, comm):
            fake_process(e, pid, comm=comm)

        def gone(pid):
            shutil.rmtree(os.path.join(e.proc, str(pid)))

        c = KD + "/0/contexts/0/targets"
        proc(1001, "memhog")
        proc(1002, "memhog")
        proc(1003, "other")
        fake_process(e, 1004, state="Z", comm="memhog")  # a zombie never matches
        e.write_conf("""\
damond:
  on_exit: stop
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: memhog
    schemes: [{name: s, action: stat}]
""")
        e.start()
        check(e.read(c + "/nr_targets") == "2", "comm: two live memhog processes")
        check([e.read(c + "/%d/pid_target" % i) for i in range(2)] == ["1001", "1002"], "pids of comm: memhog")
        st = e.status()
        k = st["kdamonds"][0]
        pid = k["pid"]
        t = k["targets"][0]
        check(t.get("comm") == "memhog" and t.get("selector") == {"kind": "comm", "value": "memhog"},
              "status target: %r" % t)
        check(k.get("follows") == ["comm: memhog"], "status follows: %r" % k.get("follows"))
        text = e.ctl("status", "--details").stdout
        check("pid 1001 (memhog), followed by comm: memhog" in text, "text status: " + text)

        def pids():
            try:
                return [e.read(c + "/%d/pid_target" % i) for i in range(int(e.read(c + "/nr_targets")))]
            except OSError:
                return None

        # 1002 exits, 1005 starts ("systemctl restart"): the targets follow, online
        commits = e.fakelog().count("kdamond 0 commit")
        proc(1005, "memhog")
        gone(1002)
        check(wait_until(lambda: pids() == ["1001", "1005"]), "the restarted process was not followed: %s" % pids())
        k = e.status()["kdamonds"][0]
        check(k["state"] == "on" and k["pid"] == pid, "the kdamond was restarted to follow a pid: %r" % k)
        check(e.fakelog().count("kdamond 0 commit") > commits, "following did not commit online")
        # a new process with a lower pid goes to the end: the others keep their positions (and history)
        proc(1003, "memhog")
        check(wait_until(lambda: pids() == ["1001", "1005", "1003"]), "positions not kept: %s" % pids())
        gone(1003)

        # every memhog gone (and the kernel stops a vaddr kdamond without a live target): waiting, not died;
        # one comes back: started
        gone(1001)
        gone(1005)
        e.fake("kill", e.sys, "0")
        wait_until(lambda: e.status()["kdamonds"][0]["state"] == "waiting")
        k = e.status()["kdamonds"][0]
        check(k["state"] == "waiting", "no memhog left: state %s" % k["state"])
        acts = e.status().get("actions", [])
        check(not [a for a in acts if a.get("kdamond") == "app" and a.get("what") == "died"],
              "a followed kdamond whose processes all exited was called dead: %r" % acts[-3:])
        check(e.read(KD + "/0/state") == "off", "the kdamond still runs without a process")
        check("no process matches comm: memhog" in e.ctl("status").stdout, "text status does not say why it waits")
        proc(1006, "memhog")
        check(wait_until(lambda: e.status()["kdamonds"][0]["state"] == "on"), "a new memhog did not start the kdamond")
        check(e.read(c + "/nr_targets") == "1" and e.read(c + "/0/pid_target") == "1006", "the new process")
        rc = e.stop()
        check(rc == 0, "damond exit code %d" % rc)
    finally:
        e.close()


def t_targets_keep_places():
    """A followed process that exits from the middle of the list: the others keep their places (the kernel
    matches targets by position, and a moved target takes over another's regions). 7.x drops it online with
    obsolete_target; 6.12 moves the last target into its place, or a new process."""
    for kernel in ("6.12", "7.2"):
        e = Env(kernel)
        try:
            c = KD + "/0/contexts/0/targets"
            for pid in (2001, 2002, 2003, 2004):
                fake_process(e, pid, comm="memhog")
            e.write_conf("""\
damond:
  on_exit: stop
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: memhog
    schemes: [{name: s, action: stat}]
""")
            e.start()

            def pids():
                try:
                    return [e.read(c + "/%d/pid_target" % i) for i in range(int(e.read(c + "/nr_targets")))]
                except OSError:
                    return None

            check(pids() == ["2001", "2002", "2003", "2004"], "%s: start order %s" % (kernel, pids()))
            kpid = e.status()["kdamonds"][0]["pid"]
            shutil.rmtree(os.path.join(e.proc, "2002"))
            if kernel == "6.12":
                want = ["2001", "2004", "2003"]  # the last one moves into the gap; 2003 stays
            else:
                want = ["2001", "2003", "2004"]  # dropped online: the others close up, their regions with them
            check(wait_until(lambda: pids() == want), "%s: after 2002 exited %s, want %s" % (kernel, pids(), want))
            drops = [l for l in e.fakelog() if "drops target" in l]
            acts = [a.get("why", "") for a in e.status().get("actions", []) if a.get("what") == "retarget"]
            if kernel == "6.12":
                check(not drops, "6.12 has no obsolete_target: %r" % drops)
            else:
                check(drops == ["kdamond 0 commit drops target 1"], "7.2: not dropped with obsolete_target: %r"
                      % drops)
                check([a for a in acts if "dropped 1 exited target" in a], "7.2: status does not say: %r" % acts)
                check(all(e.read(c + "/%d/obsolete_target" % i) == "N" for i in range(3)),
                      "7.2: obsolete_target left Y")
            # a restart: one exits, a new one starts; on 6.12 the new process takes the free place
            fake_process(e, 2010, comm="memhog")
            shutil.rmtree(os.path.join(e.proc, "2001"))
            if kernel == "6.12":
                want = [["2010", "2004", "2003"]]
            else:
                want = [["2003", "2004", "2010"]]
            # (a rescan that sees the new process before the exit appends it, and the next one moves it into
            # the gap on 6.12 or drops 2001 on 7.x: the same end)
            check(wait_until(lambda: pids() == want[0]), "%s: after a restart %s, want %s" % (kernel, pids(), want[0]))
            k = e.status()["kdamonds"][0]
            check(k["state"] == "on" and k["pid"] == kpid, "%s: the kdamond was restarted: %r" % (kernel, k))
        finally:
            e.close()


def t_targets_pidfile_cgroup():
    """pidfile: and cgroup:/unit: targets; a kdamond whose pidfile is missing at start waits instead of
    failing; two ways to name one target are refused with the position."""
    e = Env("7.2")
    try:
        pidfile = os.path.join(e.dir, "app.pid")
        cg = os.path.join(e.sys, "fs/cgroup/system.slice/app.service")
        os.makedirs(cg)
        fake_process(e, 2001)
        fake_process(e, 2002)
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write("2001\n2002\n")
        for pid in (2001, 2002):
            with open(os.path.join(e.proc, str(pid), "cgroup"), "w") as f:
                f.write("0::/system.slice/app.service\n")
        e.write_conf("""\
damond:
  on_exit: stop
kdamonds:
  - name: byfile
    ops: vaddr
    targets:
      - pidfile: %s
    schemes: [{name: s, action: stat}]
  - name: byunit
    ops: vaddr
    targets:
      - unit: app.service
      - pid: 2001
    schemes: [{name: s, action: stat}]
""" % pidfile)
        e.start()
        st = {k["name"]: k for k in e.status()["kdamonds"]}
        check(st["byfile"]["state"] == "waiting", "missing pidfile: %s" % st["byfile"]["state"])
        check(st["byunit"]["state"] == "on" and [t["pid"] for t in st["byunit"]["targets"]] == [2001, 2002],
              "unit: app.service: %r" % st["byunit"]["targets"])
        check(st["byunit"]["targets"][0].get("unit") == "app.service", "status: the target's unit: %r" %
              st["byunit"]["targets"][0])
        with open(pidfile, "w") as f:
            f.write("2002\n")
        wait_until(lambda: {k["name"]: k for k in e.status()["kdamonds"]}["byfile"]["state"] == "on")
        st = {k["name"]: k for k in e.status()["kdamonds"]}
        check(st["byfile"]["state"] == "on" and st["byfile"]["targets"][0]["pid"] == 2002, "pidfile: %r" % st["byfile"])
        e.write_conf("kdamonds:\n  - name: x\n    ops: vaddr\n    targets:\n      - {pid: 2001, comm: app}\n")
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0 and re.search(r"damond\.yaml:5:\d+: .*'pid' and 'comm' both name", p.stderr),
              "two selectors not refused with a position: " + p.stderr)
    finally:
        e.close()


def t_targets_follow_real_processes():
    """comm: on this machine's real /proc (read only; the DAMON tree stays the fake one): real processes are
    matched by their comm, followed across a rolling restart, and an exit is seen through its pidfd."""
    e = Env("7.2")
    procs = []
    try:
        name = "dfol-%d" % (os.getpid() % 100000)
        exe = os.path.join(e.dir, name)
        shutil.copy("/bin/sleep", exe)
        e.proc = "/proc"  # read-only use: comm and stat of this machine's processes
        e.write_conf("""\
damond:
  on_exit: stop
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: %s
    schemes: [{name: s, action: stat}]
""" % name)
        c = KD + "/0/contexts/0/targets"

        def pids():
            try:
                return [int(e.read(c + "/%d/pid_target" % i)) for i in range(int(e.read(c + "/nr_targets")))]
            except (OSError, ValueError):
                return None

        p1 = subprocess.Popen([exe, "600"])
        procs.append(p1)
        e.start()
        check(wait_until(lambda: pids() == [p1.pid]), "the real process %d was not matched: %s" % (p1.pid, pids()))
        kpid = e.status()["kdamonds"][0]["pid"]
        p2 = subprocess.Popen([exe, "600"])
        procs.append(p2)
        check(wait_until(lambda: pids() == [p1.pid, p2.pid]), "the second process was not added: %s" % pids())
        t0 = time.time()
        p1.kill()
        p1.wait()
        check(wait_until(lambda: pids() == [p2.pid]), "the exited process was not dropped: %s" % pids())
        print("# exit of %d followed in %.2f s (pidfd; the rescan alone: up to 2 s)" % (p1.pid, time.time() - t0))
        check(e.status()["kdamonds"][0]["pid"] == kpid, "the kdamond was restarted")
        p2.kill()
        p2.wait()
        check(wait_until(lambda: e.status()["kdamonds"][0]["state"] == "waiting"), "no process left: not waiting")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        e.close()


def t_targets_follow_kernel_stop():
    """The kernel stops a vaddr kdamond whose processes all exited: for a followed target that is 'waiting',
    logged as such, not a death (follow_interval 1h: the stats tick sees it first); a reload starts it again."""
    e = Env("7.2")
    try:
        fake_process(e, 3001, comm="worker")
        conf = """\
damond:
  on_exit: stop
  stats_interval: 200ms
  follow_interval: 1h
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: worker
    schemes: [{name: s, action: stat}]
"""
        e.write_conf(conf)
        e.start()
        check(e.status()["kdamonds"][0]["state"] == "on", "not started on worker 3001")
        shutil.rmtree(os.path.join(e.proc, "3001"))
        e.fake("kill", e.sys, "0")
        wait_until(lambda: e.status()["kdamonds"][0]["state"] != "on")
        k = e.status()["kdamonds"][0]
        acts = [a for a in e.status().get("actions", []) if a.get("kdamond") == "app"]
        check(k["state"] == "waiting", "state after the kernel stopped it: %s" % k["state"])
        check(acts and acts[-1]["what"] == "off" and "every process it monitored exited" in acts[-1]["why"],
              "not logged as its processes' exit: %r" % acts[-1:])
        check(not [a for a in acts if a["what"] == "died"], "called dead: %r" % acts)
        fake_process(e, 3002, comm="worker")
        e.ctl("reload")
        k = e.status()["kdamonds"][0]
        check(k["state"] == "on" and [t["pid"] for t in k["targets"]] == [3002], "reload did not start it: %r" % k)
    finally:
        e.close()


def t_scheme_memcg_shorthand():
    """memcg: UNIT on a paddr scheme is the filter that keeps only that cgroup's pages (reject the others),
    first in the scheme's list; a unit whose cgroup does not exist is refused where it is written."""
    for profile, d in (("6.12", "filters"), ("7.2", "ops_filters")):
        memcg_shorthand(profile, d)


def memcg_shorthand(profile, d):
    e = Env(profile)
    try:
        cg = os.path.join(e.sys, "fs/cgroup")
        os.makedirs(os.path.join(cg, "system.slice/app.service"))
        with open(os.path.join(cg, "cgroup.controllers"), "w") as f:
            f.write("cpu memory\n")
        e.write_conf(POLICY.replace("          reset_interval: 1s\n",
                                    "          reset_interval: 1s\n        memcg: app.service\n"
                                    "        filters: [{type: anon, matching: false}]\n", 1) % {"bytes": "32M"})
        e.start()
        f0 = KD + "/0/contexts/0/schemes/0/" + d
        check(e.read(f0 + "/nr_filters") == "2", "memcg shorthand + the anon filter")
        check(e.read(f0 + "/0/type") == "memcg" and e.read(f0 + "/0/memcg_path") == "/system.slice/app.service"
              and e.read(f0 + "/0/matching") == "N", "filter 0 is not the memcg filter that rejects other memcgs")
        check(e.read(f0 + "/1/type") == "anon", "the user's filter comes after it")
        e.write_conf(POLICY.replace("          reset_interval: 1s\n",
                                    "          reset_interval: 1s\n        memcg: gone.service\n", 1) % {"bytes": "32M"})
        p = e.ctl("reload", ok=False)
        check(p.returncode != 0 and re.search(r"damond\.yaml:\d+:\d+: .*/system\.slice/gone\.service", p.stderr),
              "a missing unit's cgroup is not a positioned error: " + p.stderr)
    finally:
        e.close()


def t_examples_start():
    """Every policy of conf/examples starts on the fake 6.12 and 7.2 kernels (what it needs given: two NUMA
    nodes with memory, a process for a pid), except where the kernel lacks a feature it names, which must be
    refused at start with the reason."""
    needs_72 = {"thp-collapse.yaml": "collapse"}
    for profile in ("6.12", "7.2"):
        for ex in sorted(os.listdir(os.path.join(SRC, "conf/examples"))):
            e = Env(profile)
            try:
                mem = os.path.join(e.sys, "devices/system/memory")
                os.makedirs(mem)
                with open(os.path.join(mem, "block_size_bytes"), "w") as f:
                    f.write("8000000\n")
                for nid, ids in ((0, range(0, 4)), (1, range(8, 12))):
                    for i in ids:
                        os.makedirs(os.path.join(e.sys, "devices/system/node/node%d/memory%d" % (nid, i)))
                node0 = os.path.join(e.sys, "devices/system/node/node0")
                with open(os.path.join(node0, "meminfo"), "w") as f:
                    f.write("Node 0 MemTotal:  2000000 kB\nNode 0 MemFree:  500000 kB\nNode 0 MemUsed: 1500000 kB\n")
                fake_process(e, 1234)
                with open(os.path.join(SRC, "conf/examples", ex)) as f:
                    e.write_conf("damond: {on_exit: stop}\n" + f.read())
                if profile == "6.12" and ex in needs_72:
                    p = e.run_to_exit()
                    check(p.returncode != 0 and needs_72[ex] in p.stderr,
                          "%s on %s: not refused for '%s': %s" % (ex, profile, needs_72[ex], p.stderr[-500:]))
                    continue
                e.start()
                ks = e.status()["kdamonds"]
                check(ks and all(k["state"] == "on" for k in ks),
                      "%s on %s: %r" % (ex, profile, [(k["name"], k["state"]) for k in ks]))
            finally:
                e.close()


def t_targets_follow_stop_busy():
    """No process left while the DAMON sysfs lock is busy: the kdamond keeps running (nothing half done), and
    a later rescan stops it (waiting)."""
    e = Env("7.2")
    try:
        fake_process(e, 4001, comm="svc")
        e.write_conf("""\
damond:
  on_exit: stop
  stats_interval: 1h
  follow_interval: 300ms
kdamonds:
  - name: app
    ops: vaddr
    targets:
      - comm: svc
    schemes: [{name: s, action: stat}]
""")
        e.start()
        check(e.status()["kdamonds"][0]["state"] == "on", "not started")
        e.fake("busy", e.sys, "on")
        shutil.rmtree(os.path.join(e.proc, "4001"))
        time.sleep(2)
        k = e.status()["kdamonds"][0]
        check(k["state"] == "on" and e.read(KD + "/0/state") == "on",
              "a stop refused with EBUSY changed the state: %s / %s" % (k["state"], e.read(KD + "/0/state")))
        e.fake("busy", e.sys, "off")
        wait_until(lambda: e.status()["kdamonds"][0]["state"] == "waiting")
        check(e.status()["kdamonds"][0]["state"] == "waiting" and e.read(KD + "/0/state") == "off",
              "not stopped once the lock was free: %s" % e.status()["kdamonds"][0]["state"])
    finally:
        e.close()


TESTS = [
    t_status_summary,
    t_check_shipped_config,
    t_check_bad_config,
    t_regions_numa_node,
    t_preflight_missing_numa_node,
    t_targets_follow_processes,
    t_targets_pidfile_cgroup,
    t_targets_follow_real_processes,
    t_targets_follow_kernel_stop,
    t_targets_keep_places,
    t_targets_follow_stop_busy,
    t_scheme_memcg_shorthand,
    t_examples_start,
    t_apply_status_reload_commit,
    t_remove_middle_scheme_tombstone,
    t_hold_released_before_stats_interval,
    t_restart_readopt,
    t_foreign_refused,
    t_damon_stat_blocks,
    t_busy_retry,
    t_native_fail_charge_72,
    t_charge_emulation_612,
    t_charge_ager_612,
    t_charge_ager_below_quota,
    t_charge_ager_stops_when_aged,
    t_charge_ager_never_native,
    t_charge_ager_crash,
    t_charge_ager_off_by_config,
    t_charge_rescan_when_free_falls,
    t_charge_emulation_vaddr_612,
    t_charge_emulation_vaddr_pfns_hidden,
    t_charge_vaddr_filters_survive_reloads,
    t_emulation_keeps_quota_goals,
    t_goal_current_values,
    t_goal_fed_as_user_input,
    t_goal_psi_cgroup_fed,
    t_goal_eligible_no_monitor,
    t_goal_temporal_emulated,
    t_goal_file_metric,
    t_dropped_kdamond_does_not_block_restart,
    t_keepalive_with_watermarks,
    t_reload_commit_to_killed_kdamond_restarts_it,
    t_died_detected,
    t_dry_run_writes_nothing,
    t_idle_client_dropped,
    t_reload_permission,
    t_reload_adds_kdamond_missing_pid,
    t_reload_adds_kdamond_in_spare,
    t_reload_fails_midway_rolls_back,
    t_reload_rollback_commits_previous_parameters,
    t_reload_shrinks_dirs_when_none_runs,
    t_reload_pid_exits_before_on,
    t_refine_without_bpf,
    t_reload_keeps_committed_ranges,
    t_stats_tick_every_interval_without_bpf,
]


def run_tap(tests, only=()):
    """Run test functions as TAP; a test returning "skip REASON" is a skip. Exit status."""
    tests = [t for t in tests if not only or t.__name__ in only]
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        try:
            r = t()
            if isinstance(r, str) and r.startswith("skip"):
                print("ok %d %s # SKIP %s" % (i, t.__name__, r[5:]))
            else:
                print("ok %d %s" % (i, t.__name__))
        except Exception as ex:  # noqa
            failed += 1
            print("not ok %d %s" % (i, t.__name__))
            for line in ("%s" % ex).splitlines() or [""]:
                print("# " + line)
            if not isinstance(ex, Fail):
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0



def main():
    return run_tap(TESTS, sys.argv[1:])

if __name__ == "__main__":
    sys.exit(main())
