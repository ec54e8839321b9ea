#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Drop-ins and non-regular config files with the real damond on a fake
sysfs root (the Env of tests/integration/test-daemon-fake.py: LD_PRELOAD fake
kernel, --no-bpf, no root). Start and reload read DIR/damond.d/*.yaml; a bad
drop-in makes the reload fail with its file:line:col and changes nothing; a
FIFO as the config or a drop-in is refused at once, and damond keeps
answering."""
import importlib.util
import os
import shutil
import time

spec = importlib.util.spec_from_file_location(
    "daemon_fake", os.path.join(os.environ["SOURCE_ROOT"], "tests/integration/test-daemon-fake.py"))
t = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t)
check = t.check

PATCH = """\
kdamonds:
  - name: reclaim
    schemes:
      - name: cold
        action: pageout
        access_pattern: {nr_accesses: {min: 0, max: 0}, age: {min: 5s}}
        quotas: {bytes: %s, reset_interval: 1s}
      - name: extra
        action: stat
"""


def names(st):
    return [s["name"] for s in st["kdamonds"][0]["schemes"]]


def test_start_and_reload(e):
    d = os.path.join(e.dir, "damond.d")
    os.makedirs(d)
    with open(os.path.join(d, "50-q.yaml"), "w") as f:
        f.write(PATCH % "96M")
    e.start()
    st = e.status()
    check(names(st) == ["cold", "watch", "extra"], "start ignored the drop-in: %s" % names(st))
    check(e.read(t.KD + "/0/contexts/0/schemes/0/quotas/bytes") == str(96 << 20), "start: drop-in quota not written")
    pid = st["kdamonds"][0]["pid"]

    with open(os.path.join(d, "50-q.yaml"), "w") as f:
        f.write(PATCH % "128M")
    e.ctl("reload")
    st = e.status()
    check(st["config"]["generation"] == 2, "reload not applied")
    check(st["kdamonds"][0]["pid"] == pid, "pid changed on reload")
    check(e.read(t.KD + "/0/contexts/0/schemes/0/quotas/bytes") == str(128 << 20), "reload: drop-in quota not written")

    # inputs(), not tree(): a stats tick during the reload (200 ms apart; a loaded machine takes longer
    # than that between the two reads) rewrites the kernel's stats files, which damond cannot write
    tree = e.inputs()
    with open(os.path.join(d, "60-bad.yaml"), "w") as f:
        f.write("kdamonds:\n  - name: reclaim\n    schemes:\n      - name: cold\n        action: nope\n")
    p = e.ctl("reload", ok=False)
    check(p.returncode != 0, "a bad drop-in was accepted")
    check(os.path.join(d, "60-bad.yaml") + ":5:17: kdamonds[0].schemes[0].action: invalid value 'nope'" in p.stderr,
          "the error does not name the drop-in's file:line:col: " + p.stderr)
    check(e.status()["config"]["generation"] == 2, "a rejected reload bumped the generation")
    after = e.inputs()
    changed = sorted(k for k in tree.keys() | after.keys() if tree.get(k) != after.get(k))
    check(not changed, "a rejected reload changed the tree: %s" % changed[:5])
    os.unlink(os.path.join(d, "60-bad.yaml"))


def test_fifo(e):
    e.start()
    d = os.path.join(e.dir, "damond.d")
    os.makedirs(d, exist_ok=True)
    for path in (os.path.join(d, "70-fifo.yaml"), e.conf):
        if path == e.conf:
            os.unlink(e.conf)
        os.mkfifo(path)
        t0 = time.time()
        p = e.ctl("reload", ok=False)
        took = time.time() - t0
        check(p.returncode != 0, "a FIFO was accepted")
        check(path + ": cannot read configuration: a FIFO, not a regular file (refused)" in p.stderr,
              "no clear error for a FIFO: " + p.stderr)
        check(took < 10, "the reload took %.1f s" % took)
        check(e.ctl("status", "--json", ok=False).returncode == 0, "damond stopped answering")
        os.unlink(path)


def main():
    tests = [test_start_and_reload, test_fifo]
    print("1..%d" % len(tests))
    failed = 0
    for i, fn in enumerate(tests, 1):
        e = t.Env()
        try:
            fn(e)
            print("ok %d - %s" % (i, fn.__name__))
        except Exception as x:  # noqa: BLE001 - report any failure as TAP
            failed += 1
            print("not ok %d - %s: %s" % (i, fn.__name__, x))
            for line in e.logtext().splitlines()[-20:]:
                print("# " + line)
        finally:
            try:
                e.stop()
            except Exception:  # noqa: BLE001
                pass
            shutil.rmtree(e.dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
