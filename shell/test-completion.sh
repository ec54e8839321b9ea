#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shell completions parse (bash -n; zsh -n where zsh is installed) and
# offer every verb damondctl has (its verbs[] table) and its status options.
set -uo pipefail
SRC=${SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
rc=0
verbs=$(sed -n '/^static const struct verb verbs\[\] = {/,/^};/p' "$SRC/daemon/damondctl.c" |
	grep -o '^	{ "[a-z-]*"' | cut -d'"' -f2)
[ -n "$verbs" ] || { echo "could not read damondctl's verbs"; exit 1; }
bash -n "$SRC/shell/damondctl.bash" || { echo "damondctl.bash does not parse"; rc=1; }
if command -v zsh > /dev/null; then
	zsh -n "$SRC/shell/_damondctl" || { echo "_damondctl does not parse"; rc=1; }
else
	echo "zsh not installed: _damondctl's syntax not checked (its verbs are)"
fi
for v in $verbs; do
	grep -q "verbs=\"[^\"]*\b$v\b" "$SRC/shell/damondctl.bash" || { echo "bash completion lacks the verb $v"; rc=1; }
	grep -q "^		'$v:" "$SRC/shell/_damondctl" || { echo "zsh completion lacks the verb $v"; rc=1; }
done
for o in --details --watch --timeout; do
	grep -q -- "$o" "$SRC/shell/damondctl.bash" || { echo "bash completion lacks $o"; rc=1; }
	grep -q -- "$o" "$SRC/shell/_damondctl" || { echo "zsh completion lacks $o"; rc=1; }
done
[ $rc = 0 ] && echo "completions: $(echo $verbs | wc -w) verbs in bash and zsh"
exit $rc
