# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Shared by tests/vm/run-suite and bench/vm-run (bash, sourced).

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${DAMOND_VM_CACHE:-${HOME:-/tmp}/.cache/damond-vm}

# Host tools, and the Debian packages that provide them.
VM_TOOLS=(
	"${DAMOND_VM_QEMU:-qemu-system-x86_64}:qemu-system-x86"
	"busybox:busybox-static"
	"cpio:cpio"
	"xz:xz-utils"
	"zstd:zstd"
	"modinfo:kmod"
	"gcc:gcc"
	"apt-get:apt"
	"dpkg-deb:dpkg"
	"timeout:coreutils"
)

# vm_missing_tools: prints "tool (package)" for each missing host tool
vm_missing_tools() {
	local tp
	for tp in "${VM_TOOLS[@]}"; do
		command -v "${tp%%:*}" >/dev/null 2>&1 || echo "${tp%%:*} (${tp#*:})"
	done
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		echo "/usr/share/keyrings/debian-archive-keyring.gpg (debian-archive-keyring)"
	if command -v busybox >/dev/null 2>&1 && ldd "$(command -v busybox)" >/dev/null 2>&1; then
		echo "static busybox (busybox-static)"
	fi
}

# vm_build_guest DIR: static guest programs into DIR
vm_build_guest() {
	mkdir -p "$1"
	gcc -O2 -static -Wall -o "$1/memhog" "$VM_DIR/memhog.c" ||
		{ echo "gcc -static memhog.c failed (libc6-dev installed?)" >&2; return 1; }
	gcc -O2 -static -Wall -o "$1/soakprobe" "$VM_DIR/soakprobe.c" ||
		{ echo "gcc -static soakprobe.c failed" >&2; return 1; }
	gcc -O2 -static -Wall -o "$1/pfnshare" "$VM_DIR/pfnshare.c" ||
		{ echo "gcc -static pfnshare.c failed" >&2; return 1; }
	gcc -O2 -static -Wall -o "$1/kpfstat" "$VM_DIR/kpfstat.c" ||
		{ echo "gcc -static kpfstat.c failed" >&2; return 1; }
}

# vm_suite_label SUITE: the short kernel name used for meson tests and tables
vm_suite_label() {
	case $1 in
	trixie) echo 6.12 ;;
	sid|unstable) echo 7.2 ;;
	experimental) echo 7.3 ;;
	*) echo "$1" ;;
	esac
}

# vm_now: seconds since the epoch, with decimals
vm_now() {
	echo "${EPOCHREALTIME}"
}

vm_elapsed() {	# T0 [T1]
	awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'
}
