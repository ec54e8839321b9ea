#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Prometheus metrics: `damondctl metrics` and the node_exporter textfile
(damond: {metrics: {textfile: PATH}}), from the real damond on a fake sysfs
root (tests/fake, LD_PRELOAD), as test-daemon-fake.py. Prints TAP.

The promtool checks are skipped (TAP "# SKIP", with the reason) when
promtool (Debian package prometheus) is not installed; CI installs it
(tools/install-deps).

Environment (set by meson): DAMOND, DAMONDCTL, FAKE_CTL, FAKE_PRELOAD,
SOURCE_ROOT; PROMTOOL optionally (default: promtool on PATH).
"""
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("damond_fake", os.path.join(HERE, "test-daemon-fake.py"))
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)

Env, Fail, check, POLICY = fake.Env, fake.Fail, fake.check, fake.POLICY
PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool")


class Skip(Exception):
    pass


# POLICY with watermarks on the stat scheme and a textfile (%(textfile)s)
METRICS_POLICY = (POLICY % {"bytes": "32M"}).replace(
    "  stats_interval: 200ms\n",
    "  stats_interval: 200ms\n  metrics:\n    textfile: %(textfile)s\n").replace(
    "      - name: watch\n        action: stat\n",
    "      - name: watch\n        action: stat\n"
    "        watermarks: {metric: free_mem_rate, interval: 1s, high: 500, mid: 400, low: 100}\n")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, labels-string): value}; checks every line is a comment or a sample."""
    out = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            check(name not in types, "family %s declared twice" % name)
            types[name] = typ
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        check(m.group(1) in types, "sample before its TYPE: %r" % line)
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out, types


# outputs the other tests saw, checked by t_promtool at the end
SEEN = []
LABEL_KEYS = {"kdamond", "target", "scheme", "action", "goal", "metric", "state", "threshold", "mode",
              "version", "source"}


def promtool_check(text, what):
    SEEN.append((text, what))


def bounded_labels(text):
    keys = set(re.findall(r'[{,]([a-zA-Z_]+)="', text))
    check(keys <= LABEL_KEYS, "unexpected label keys: %s" % (keys - LABEL_KEYS))


def start(e, textfile):
    e.write_conf(METRICS_POLICY % {"textfile": textfile})
    e.start()


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise Fail("timed out waiting for " + what)


def t_ctl_metrics():
    e = Env("6.12")
    try:
        os.makedirs(os.path.join(e.dir, "tf"))
        start(e, os.path.join(e.dir, "tf", "damond.prom"))
        # stats counters come from the fake's update_schemes_stats: wait for a few ticks
        wait_for(lambda: e.status()["kdamonds"][0]["schemes"][0]["stats"], "scheme stats")
        text = e.ctl("metrics").stdout
        st = e.status()
        m, types = parse(text)
        kd = 'kdamond="reclaim"'
        check(m.get(("damond_kdamond_up", "{%s}" % kd)) == 1, "kdamond up: %s" % text)
        check(m.get(("damond_kdamond_state", '{%s,state="on"}' % kd)) == 1, "state on")
        check(m.get(("damond_kdamond_state", '{%s,state="died"}' % kd)) == 0, "state died 0")
        check(m.get(("damond_build_info", '{version="%s"}' % st["version"])) == 1, "build info")
        check(m.get(("damond_config_generation", "")) == 1, "generation 1")
        check(("damond_config_last_reload_successful", "") not in m, "no reload yet, no reload result")
        check(m.get(("damond_config_last_reload_success_timestamp_seconds", ""), 0) > time.time() - 120,
              "config load time is recent")
        check(m.get(("damond_monitor_source", '{source="sysfs-polling"}')) == 1, "monitor source")
        # sysfs polling: no snapshot, so no nr_regions gauge, but its bounds
        t = '{%s,target="0"}' % kd
        check(("damond_target_nr_regions", t) not in m, "nr_regions without a snapshot")
        check(m.get(("damond_target_nr_regions_min", t)) == st["kdamonds"][0]["nr_regions"]["min"], "min")
        check(m.get(("damond_target_nr_regions_max", t)) == st["kdamonds"][0]["nr_regions"]["max"], "max")
        cold = '{%s,scheme="cold",action="pageout"}' % kd
        watch = '{%s,scheme="watch",action="stat"}' % kd
        for name in ("damond_scheme_tried_regions_total", "damond_scheme_tried_bytes_total",
                     "damond_scheme_applied_regions_total", "damond_scheme_applied_bytes_total",
                     "damond_scheme_quota_exceeds_total"):
            check(types.get(name) == "counter", "%s is a counter" % name)
        check(m[("damond_scheme_tried_bytes_total", cold)] >= 10 << 20, "tried bytes: %s" % text)
        check(m[("damond_scheme_applied_bytes_total", cold)] >= 4 << 20, "applied bytes")
        check(m[("damond_scheme_applied_bytes_total", watch)] == 0, "stat applies nothing")
        check(m[("damond_scheme_quota_exceeds_total", cold)] >= 1, "qt_exceeds")
        check(m[("damond_scheme_quota_bytes", cold)] == 32 << 20, "quota bytes")
        rst = [s for s in st["kdamonds"][0]["schemes"] if s["name"] == "cold"][0]["quotas"]["reset_interval_ms"]
        check(rst > 0 and m[("damond_scheme_quota_reset_interval_seconds", cold)] == rst / 1000,
              "quota reset interval: %s, status %s ms" % (m.get(("damond_scheme_quota_reset_interval_seconds", cold)), rst))
        # watermarks judged on the fake meminfo: 500000 / 2000000 kB free
        check(m[("damond_scheme_watermark_free_memory_ratio", watch)] == 0.25, "free ratio")
        check(m[("damond_scheme_watermark_threshold_ratio", watch[:-1] + ',threshold="high"}')] == 0.5, "high")
        check(m[("damond_scheme_watermark_state", watch[:-1] + ',state="active"}')] == 1, "wmark active")
        check(m[("damond_scheme_watermark_state", watch[:-1] + ',state="inactive"}')] == 0, "wmark inactive")
        check(("damond_scheme_watermark_state", cold[:-1] + ',state="active"}') not in m, "cold has none")
        check(m[("damond_scheme_fail_charge_mode", cold[:-1] + ',mode="off"}')] == 1, "fail charge off")
        check(m[("damond_scheme_fail_charge_adjustments_total", cold)] == 0, "no adjustments")
        check(m[("damond_kdamond_refine_rounds_total", "{%s}" % kd)] == 0, "refine rounds")
        check(m[("damond_process_resident_memory_bytes", "")] > 1 << 20, "rss")
        check(("damond_process_cpu_seconds_total", "") in m, "cpu seconds")
        # counters only grow
        # (a few 200 ms stats ticks; polled: a loaded machine may run fewer of them in a fixed pause)
        def grown():
            m2, _ = parse(e.ctl("metrics").stdout)
            return all(m2[k] > m[k] for k in (("damond_scheme_tried_bytes_total", cold),
                                               ("damond_monitor_stats_commands_total", ""))) and m2
        time.sleep(0.6)
        m2 = wait_for(grown, "tried bytes and stats commands to grow")
        check(m2[("damond_scheme_tried_bytes_total", cold)] > m[("damond_scheme_tried_bytes_total", cold)],
              "tried bytes grows")
        check(m2[("damond_monitor_stats_commands_total", "")] > m[("damond_monitor_stats_commands_total", "")],
              "stats commands grow")
        # no per-pid or per-region labels
        bounded_labels(text)
        # --json: the control reply as is, the same exposition in "text"
        j = json.loads(e.ctl("metrics", "--json").stdout)
        check(parse(j["text"])[1] == types, "--json text has the same families")
        promtool_check(text, "damondctl metrics")
    finally:
        e.close()


def t_textfile_atomic():
    e = Env("6.12")
    try:
        d = os.path.join(e.dir, "textfile")
        os.makedirs(d)
        path = os.path.join(d, "damond.prom")
        start(e, path)
        wait_for(lambda: os.path.exists(path), "the textfile")
        st1 = os.stat(path)
        check(stat.S_IMODE(st1.st_mode) == 0o644, "mode %o" % stat.S_IMODE(st1.st_mode))
        # replaced by rename (a new inode) every stats interval, never rewritten in place
        wait_for(lambda: os.stat(path).st_ino != st1.st_ino, "a second textfile")
        with open(path) as f:
            text = f.read()
        m, _ = parse(text)
        check(m.get(("damond_kdamond_up", '{kdamond="reclaim"}')) == 1, "textfile: kdamond up")
        check(text.endswith("\n"), "ends with a newline")
        # nothing but the textfile in the directory (temporaries are renamed or removed)
        time.sleep(0.5)
        check(os.listdir(d) == ["damond.prom"], "directory: %s" % os.listdir(d))
        promtool_check(text, "the textfile")
        # stopping (on_exit: stop) writes a last textfile with the kdamonds off
        check(e.stop() == 0, "damond stops cleanly")
        with open(path) as f:
            m, _ = parse(f.read())
        check(m.get(("damond_kdamond_up", '{kdamond="reclaim"}')) == 0, "after stop: kdamond down")
        check(m.get(("damond_kdamond_state", '{kdamond="reclaim",state="off"}')) == 1, "after stop: off")
    finally:
        e.close()


def t_textfile_unwritable_then_fixed():
    e = Env("6.12")
    try:
        d = os.path.join(e.dir, "later")
        path = os.path.join(d, "damond.prom")
        start(e, path)  # the directory does not exist yet
        wait_for(lambda: "cannot write the textfile" in e.logtext(), "a warning")
        time.sleep(0.5)
        check(e.logtext().count("cannot write the textfile") == 1, "warned once, not every tick")
        check(e.status()["kdamonds"][0]["state"] == "on", "damond runs on")
        os.makedirs(d)
        wait_for(lambda: os.path.exists(path), "the textfile once the directory exists")
        wait_for(lambda: "is written again" in e.logtext(), "the recovery logged")
    finally:
        e.close()


def t_bad_textfile_config():
    e = Env("6.12")
    try:
        for bad, why in (("relative.prom", "not an absolute path"), ("/var/lib/x/damond.txt", "NAME.prom"),
                         ("/proc/damond.prom", "outside /proc"), ("[a, b]", "expected")):
            e.write_conf(METRICS_POLICY % {"textfile": bad})
            p = e.ctl("check", e.conf, ok=False)
            check(p.returncode != 0, "check accepts textfile %s" % bad)
            check(re.search(r"damond\.yaml:5:\d+: damond\.metrics\.textfile: .*%s" % re.escape(why), p.stderr),
                  "file:line:col error for %s: %s" % (bad, p.stderr))
        # a bad reload keeps the running configuration, and says so in the metrics
        good = os.path.join(e.dir, "damond.prom")
        start(e, good)
        e.write_conf(METRICS_POLICY % {"textfile": "relative.prom"})
        check(e.ctl("reload", ok=False).returncode != 0, "bad reload refused")
        m, _ = parse(e.ctl("metrics").stdout)
        check(m[("damond_config_last_reload_successful", "")] == 0, "last reload failed")
        check(m[("damond_config_generation", "")] == 1, "generation kept")
        check(m[("damond_config_last_reload_timestamp_seconds", "")] >
              m[("damond_config_last_reload_success_timestamp_seconds", "")] + 0.001, "attempt after load")
        wait_for(lambda: os.path.exists(good), "the running config's textfile still written")
        e.write_conf(METRICS_POLICY % {"textfile": good})
        e.ctl("reload")
        m, _ = parse(e.ctl("metrics").stdout)
        check(m[("damond_config_last_reload_successful", "")] == 1, "last reload ok")
        # a reload that moves the textfile removes the old one
        moved = os.path.join(e.dir, "moved.prom")
        e.write_conf(METRICS_POLICY % {"textfile": moved})
        e.ctl("reload")
        wait_for(lambda: os.path.exists(moved), "the moved textfile")
        wait_for(lambda: not os.path.exists(good), "the old textfile removed")
        check("removed the previous textfile" in e.logtext(), "the removal is logged")
        check(m[("damond_config_generation", "")] == 2, "generation 2")
        # both are converted from the monotonic clock separately: equal within a few microseconds
        check(abs(m[("damond_config_last_reload_success_timestamp_seconds", "")] -
                  m[("damond_config_last_reload_timestamp_seconds", "")]) < 0.001, "success time is the reload time")
    finally:
        e.close()


def t_promtool():
    if not PROMTOOL:
        raise Skip("promtool not installed (Debian package prometheus)")
    check(len(SEEN) == 2, "expected the damondctl and textfile outputs, got %d" % len(SEEN))
    # the renderer's unit-test fixture: every family, escaped label values, a snapshot's nr_regions
    with open(os.path.join(fake.SRC, "tests/fixtures/metrics/status.prom")) as f:
        SEEN.append((f.read(), "the renderer fixture"))
    for text, what in SEEN:
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0, "promtool check metrics rejects %s (%d): %s" % (what, p.returncode,
                                                                                  p.stdout + p.stderr))
        # lint findings are printed but do not fail promtool: none wanted either
        check(not (p.stdout + p.stderr).strip(), "promtool about %s: %s" % (what, p.stdout + p.stderr))
    # and it does reject what breaks the format (the check can fail)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input="# TYPE x counter\nx{a=\"b} 1\n",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0, "promtool accepts a broken exposition")


NODE_EXPORTER = os.environ.get("NODE_EXPORTER") or shutil.which("prometheus-node-exporter") or \
    shutil.which("node_exporter")


def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def t_node_exporter():
    """Debian's node_exporter serves damond's textfile: every damond sample, none lost to a collision."""
    if not NODE_EXPORTER:
        raise Skip("node_exporter not installed (Debian package prometheus-node-exporter)")
    import urllib.request
    e = Env("7.2")
    nx = None
    try:
        d = os.path.join(e.dir, "textfile")
        os.makedirs(d)
        path = os.path.join(d, "damond.prom")
        start(e, path)
        wait_for(lambda: os.path.exists(path), "the textfile")
        port = free_port()
        log = open(os.path.join(e.dir, "node-exporter.log"), "w+")
        # only the textfile collector: nothing of this machine's /proc or /sys is read for the test
        nx = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % port,
                               "--collector.disable-defaults", "--collector.textfile",
                               "--collector.textfile.directory=" + d], stdout=log, stderr=subprocess.STDOUT)
        body = None
        deadline = time.time() + 20
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                    check(r.status == 200, "node_exporter answered %d" % r.status)
                    body = r.read().decode()
            except OSError:
                time.sleep(0.2)
        check(body is not None, "node_exporter did not answer on 127.0.0.1:%d" % port)
        with open(path) as f:
            mine, mytypes = parse(f.read())
        served = {}
        for line in body.splitlines():
            m = SAMPLE.match(line)
            if m and m.group(1).startswith("damond_"):
                served[(m.group(1), m.group(2) or "")] = m.group(3)
        check(("damond_kdamond_up", '{kdamond="reclaim"}') in served, "damond_kdamond_up not served:\n" + body[:3000])
        missing = sorted({n for n, _ in mine} - {n for n, _ in served})
        check(not missing, "families in the textfile that node_exporter does not serve: %s" % missing)
        check(re.search(r'^node_textfile_scrape_error 0$', body, re.M), "node_textfile_scrape_error is not 0")
        log.seek(0)
        errors = [l for l in log.read().splitlines() if "level=error" in l]
        check(not errors, "node_exporter logged errors: %s" % errors[:5])
    finally:
        if nx:
            nx.terminate()
            nx.wait(timeout=10)
        e.close()


TESTS = [
    t_ctl_metrics,
    t_textfile_atomic,
    t_textfile_unwritable_then_fixed,
    t_bad_textfile_config,
    t_node_exporter,
    t_promtool,
]


def main():
    return fake.run_tap(TESTS, sys.argv[1:])

if __name__ == "__main__":
    sys.exit(main())
