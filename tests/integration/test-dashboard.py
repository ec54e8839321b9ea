#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The Grafana dashboard (contrib/grafana/damond.json):
- it is what contrib/grafana/gen-dashboard writes (no hand edits to drift);
- it is a dashboard Grafana can import: unique panel ids, panels inside the
  24-column grid without overlaps, the datasource a template variable;
- every metric an expression names is a family lib/metrics.c renders and
  docs/METRICS.md lists;
- every expression parses as PromQL (promtool check rules; the dashboard's
  variables replaced by what Grafana would substitute).
Env: SOURCE_ROOT; PROMTOOL (default: promtool on PATH).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("SOURCE_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool")
DASH = os.path.join(SRC, "contrib/grafana/damond.json")
GEN = os.path.join(SRC, "contrib/grafana/gen-dashboard")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def load():
    with open(DASH) as f:
        return json.load(f)


def exprs(d):
    out = []
    for p in d["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in d["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict):
            out.append(("variable " + v["name"], q["query"]))
    return out


def t_generated():
    p = subprocess.run([sys.executable, GEN], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "gen-dashboard failed: %s" % p.stderr)
    with open(DASH) as f:
        check(f.read() == p.stdout, "contrib/grafana/damond.json differs from gen-dashboard's output: "
              "regenerate it with contrib/grafana/gen-dashboard -o contrib/grafana/damond.json")


def t_layout():
    d = load()
    check(d.get("uid") and d.get("title") and d.get("schemaVersion"), "uid, title, schemaVersion")
    names = [v["name"] for v in d["templating"]["list"]]
    check("datasource" in names, "no datasource variable: %s" % names)
    ids = [p["id"] for p in d["panels"]]
    check(len(ids) == len(set(ids)), "duplicate panel ids: %s" % ids)
    cells = {}
    for p in d["panels"]:
        g = p["gridPos"]
        check(g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, "%s: outside the grid: %s" % (p["title"], g))
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                check((x, y) not in cells, "%s overlaps %s" % (p["title"], cells.get((x, y))))
                cells[(x, y)] = p["title"]
        if p["type"] != "row":
            check(p["datasource"]["uid"] == "${datasource}", "%s: datasource not the variable" % p["title"])
            check(p.get("targets"), "%s: no query" % p["title"])
            check(p.get("description"), "%s: no description" % p["title"])


def families():
    with open(os.path.join(SRC, "lib/metrics.c")) as f:
        src = f.read()
    return set(re.findall(r'X\([A-Z_]+,\s*"([a-z_]+)"', src))


def t_metric_names():
    fam = families()
    check(len(fam) > 30, "could not read the families from lib/metrics.c (%d)" % len(fam))
    with open(os.path.join(SRC, "docs/METRICS.md")) as f:
        doc = f.read()
    used = set()
    for title, e in exprs(load()):
        for name in re.findall(r"\b(damond_[a-z_]+)\b", e):
            used.add(name)
            check(name in fam, "%s: %s is not a metric lib/metrics.c renders" % (title, name))
            check("`%s`" % name in doc, "%s: %s is not in docs/METRICS.md" % (title, name))
    # the dashboard covers what the issue asks for
    for must in ("damond_target_nr_regions", "damond_target_nr_regions_max", "damond_scheme_applied_bytes_total",
                 "damond_scheme_quota_bytes", "damond_scheme_quota_goal_target", "damond_scheme_quota_goal_current",
                 "damond_scheme_fail_charge_mode",
                 "damond_kdamond_refine_cuts_lost_total"):
        check(must in used, "no panel shows %s" % must)


def t_promql():
    if not PROMTOOL:
        raise Skip("promtool not installed (Debian package prometheus)")
    rules = []
    for i, (title, e) in enumerate(exprs(load())):
        if title.startswith("variable "):
            # label_values(METRIC_SELECTOR, label) is Grafana's, not PromQL: check its selector
            m = re.match(r"label_values\((.*),\s*[a-z_]+\)$", e)
            check(m, "%s: not label_values(...): %s" % (title, e))
            e = m.group(1)
        e = e.replace("$__rate_interval", "5m")
        e = re.sub(r"\$[a-z_]+", ".*", e)
        rules.append({"record": "dashboard:expr_%d" % i, "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
        f.flush()
        p = subprocess.run([PROMTOOL, "check", "rules", f.name], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "promtool rejects a dashboard expression: %s" % (p.stdout + p.stderr))
        # and the check can fail
        json.dump({"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "rate(x[5m]"}]}]},
                  open(f.name, "w"))
        p = subprocess.run([PROMTOOL, "check", "rules", f.name], capture_output=True, text=True, timeout=60)
        check(p.returncode != 0, "promtool accepts a broken expression")


TESTS = [t_generated, t_layout, t_metric_names, t_promql]


def main():
    only = sys.argv[1:]
    tests = [t for t in TESTS if not only or t.__name__ in only]
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        try:
            t()
            print("ok %d %s" % (i, t.__name__))
        except Skip as e:
            print("ok %d %s # SKIP %s" % (i, t.__name__, e))
        except Fail as e:
            failed += 1
            print("not ok %d %s" % (i, t.__name__))
            for line in str(e).splitlines():
                print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
