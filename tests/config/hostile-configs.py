#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the hostile configurations of issue 11 and the worst cases within
the loader's limits into DIR, to time `damond --check --config FILE` on them
(the figures in docs/configuration.md, "Limits"). Not run by the test suite:
the tests assert the errors on the same inputs (tests/config/test-config-input.c,
fixtures/configs/bad/hostile-*), not their timing.

usage: hostile-configs.py DIR
then:  for f in DIR/*.yaml DIR/dropins/damond.yaml; do
           /usr/bin/time -f "%e s %M KB $f" damond --check --config $f >/dev/null 2>&1; done
"""
import os
import sys

MiB = 1 << 20


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def alias(n, filt="{type: anon, matching: true}"):
    # the generator: aliases of aliases, n wide
    return ("kdamonds: [&K {name: k, ops: paddr, schemes: [&S {name: s, action: stat, filters: [&F "
            + filt + ", *F" * (n - 1) + "]}" + ", *S" * (n - 1) + "]}" + ", *K" * (n - 1) + "]\n")


def pad_keys(head, key, limit):
    parts, n, i = [head], len(head), 0
    while n < limit:
        line = key(i)
        parts.append(line)
        n += len(line)
        i += 1
    return "".join(parts)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    # the inputs of issue 11, as reported
    write(f"{d}/alias150.yaml", alias(150))
    write(f"{d}/alias300.yaml", alias(300))
    write(f"{d}/deep100k.yaml", "kdamonds: " + "[" * 100000 + "]" * 100000 + "\n")
    write(f"{d}/schemes100k.yaml", "kdamonds:\n- name: k\n  schemes:\n"
          + "".join("  - {name: s%d, action: stat}\n" % i for i in range(100000)))
    write(f"{d}/kdamonds50k.yaml", "kdamonds:\n" + "".join("- {name: k%d}\n" % i for i in range(50000)))
    n = 60000
    write(f"{d}/anchors60k.yaml", "kdamonds: [{name: k, x: [" + ", ".join("&a%d 1" % i for i in range(n))
          + ", " + ", ".join("*a%d" % i for i in range(n)) + "]}]\n")
    write(f"{d}/unknown100k.yaml", "kdamonds:\n- name: k\n" + "".join("  u%d: 1\n" % i for i in range(100000)))
    fifo = f"{d}/fifo.yaml"
    if not os.path.exists(fifo):
        os.mkfifo(fifo)

    # worst cases within the limits
    f = "&F {type: anon, matching: true}"
    s = "&S {name: s, action: stat, filters: [" + f + ", *F" * 31 + "]}"
    k = "&K {name: k, ops: paddr, schemes: [" + s + ", *S" * 63 + "]}"
    write(f"{d}/w-alias-walk.yaml", "kdamonds: [" + k + ", *K" * 17 + "]\n")
    write(f"{d}/w-alias-bytes.yaml", alias(64, "{type: memcg, memcg_path: &P " + "/x" * 250 + "}"))
    write(f"{d}/w-unknown-keys.yaml", pad_keys("kdamonds:\n  - name: k\n", lambda i: "    u%d: 1\n" % i, MiB - 64))
    write(f"{d}/w-modules.yaml", "damond: {allow_disable_modules: [" + "x," * 199900 + "x]}\nkdamonds: [{name: k}]\n")
    n = 42000
    write(f"{d}/w-anchors.yaml", "kdamonds: [{name: k, x: [" + ", ".join("&a%d 1" % i for i in range(n))
          + ", " + ", ".join("*a%d" % i for i in range(n)) + "]}]\n")
    write(f"{d}/w-max-legit.yaml", "kdamonds:\n" + "".join(
        "- name: k%d\n  ops: paddr\n  schemes:\n" % i + "".join(
            "  - {name: s%d, action: pageout, quotas: {bytes: 1G}, access_pattern: {age: {min: 2m}}}\n" % j
            for j in range(64)) for i in range(64)))
    text = pad_keys("kdamonds:\n  - name: k\n", lambda i: "    u%d: 1\n" % i, MiB // 2)
    write(f"{d}/w-dup-keys.yaml", text + "    ops: paddr\n" * ((MiB - 64 - len(text)) // 15))
    os.makedirs(f"{d}/dropins/damond.d", exist_ok=True)
    write(f"{d}/dropins/damond.yaml", "kdamonds:\n" + "".join(
        "- {name: k%d, schemes: [{name: s, action: stat}]}\n" % i for i in range(64)))
    for j in range(64):
        write(f"{d}/dropins/damond.d/%02d.yaml" % j, "kdamonds:\n" + "".join(
            "- {name: k%d, schemes: [{name: s, action: stat}, {name: t%d, action: stat}]}\n" % (i, j)
            for i in range(64)))


if __name__ == "__main__":
    main()
