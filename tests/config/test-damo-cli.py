#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""damondctl import-damo / export --damo on the damo fixtures (TAP).

Each fixture converts (exit 0, YAML on stdout), the result passes
`damondctl check`, and export --damo (JSON and YAML) imports back to the
same YAML; refused fixtures exit 1; export without --damo is a usage error.
"""
import glob
import os
import subprocess
import sys
import tempfile

DAMONDCTL = os.environ['DAMONDCTL']
FIXTURES = os.path.join(os.environ['SOURCE_ROOT'], 'tests', 'fixtures', 'damo')
n = 0
failed = 0


def ok(cond, what, detail=''):
    global n, failed
    n += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, what))
    if not cond:
        failed += 1
        for line in detail.splitlines():
            print('# ' + line)


def run(*args, stdin=None):
    return subprocess.run([DAMONDCTL, '--no-pager'] + list(args), input=stdin,
                          capture_output=True, text=True)


def body(yaml):
    return '\n'.join(l for l in yaml.splitlines() if not l.startswith('#'))


fixtures = sorted(glob.glob(os.path.join(FIXTURES, '*.yaml')) + glob.glob(os.path.join(FIXTURES, '*.json')))
refused = sorted(glob.glob(os.path.join(FIXTURES, 'refused', '*.yaml')))
print('1..%d' % (len(fixtures) * 4 + len(refused) + 2))
with tempfile.TemporaryDirectory() as tmp:
    for f in fixtures:
        name = os.path.basename(f)
        p = run('import-damo', f)
        ok(p.returncode == 0 and 'kdamonds:' in p.stdout, 'import-damo %s' % name, p.stderr)
        conf = os.path.join(tmp, 'damond.yaml')
        with open(conf, 'w') as out:
            out.write(p.stdout)
        c = run('check', conf)
        ok(c.returncode == 0, 'check of the converted %s' % name, c.stderr)
        for fmt in ('json', 'yaml'):
            e = run('export', '--damo', '--config', conf, '--format', fmt)
            back = run('import-damo', '-', stdin=e.stdout)
            ok(e.returncode == 0 and back.returncode == 0 and body(back.stdout) == body(p.stdout),
               '%s: export --damo --format %s imports back the same' % (name, fmt),
               e.stderr + back.stderr + back.stdout)
    for f in refused:
        p = run('import-damo', f)
        ok(p.returncode == 1 and p.stdout == '' and 'cannot import' in p.stderr,
           'import-damo refuses refused/%s' % os.path.basename(f), p.stderr)
    p = run('export', '--config', os.path.join(tmp, 'damond.yaml'))
    ok(p.returncode == 2 and '--damo' in p.stderr, 'export without --damo is a usage error', p.stderr)
    p = run('import-damo', os.path.join(tmp, 'missing.json'))
    ok(p.returncode == 1 and 'cannot read' in p.stderr, 'import-damo of a missing file fails', p.stderr)
sys.exit(1 if failed else 0)
