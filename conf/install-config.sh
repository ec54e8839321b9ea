#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# meson install script: copy the example configuration ($1, already
# installed) to $2 unless $2 exists. Both paths are absolute and get
# $DESTDIR in front, as meson's own installs do.
set -eu
src="${DESTDIR:-}$1"
dst="${DESTDIR:-}$2"
if [ -e "$dst" ] || [ -L "$dst" ]; then
	echo "Keeping the existing $dst (the example is $1)"
	exit 0
fi
mkdir -p "$(dirname "$dst")"
cp "$src" "$dst.tmp"
chmod 0644 "$dst.tmp"
mv "$dst.tmp" "$dst"
echo "Installing $dst"
