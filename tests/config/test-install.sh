#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 10 item 4: `meson install` must never overwrite an edited damond.yaml.
# Installs the 'config' tag into a DESTDIR twice, with an edit in between.
# usage: test-install.sh MESON BUILD_ROOT SOURCE_ROOT CONF_INSTALLED CONF_EXAMPLE
set -eu
meson=$1 build=$2 src=$3 etc=$4 example=$5
command -v "$meson" >/dev/null 2>&1 || { echo "1..0 # SKIP meson not found"; exit 77; }
d=$(mktemp -d /tmp/damond-install-XXXXXX)
trap 'rm -rf "$d"' EXIT
echo "1..4"
install() {
	"$meson" install -C "$build" --no-rebuild --quiet --tags config --destdir "$d" >"$d.log" 2>&1 ||
		{ cat "$d.log"; rm -f "$d.log"; echo "Bail out! meson install failed"; exit 1; }
	rm -f "$d.log"
}
check() { # N DESCRIPTION COMMAND...
	n=$1 what=$2
	shift 2
	if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; fail=1; fi
}
fail=0
install
check 1 "first install: $etc is the example" cmp -s "$src/conf/damond.yaml" "$d$etc"
check 2 "first install: $example is the example" cmp -s "$src/conf/damond.yaml" "$d$example"
echo "# edited by the admin" >>"$d$etc"
cp "$d$etc" "$d/edited"
install
check 3 "second install keeps the edited $etc" cmp -s "$d/edited" "$d$etc"
check 4 "second install still installs $example" cmp -s "$src/conf/damond.yaml" "$d$example"
exit $fail
