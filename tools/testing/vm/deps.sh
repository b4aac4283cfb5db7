#!/usr/bin/env bash
# Install what building and testing /dev/kqueue needs on a Debian 12 host.
# Idempotent and quick when everything is already there.
set -euo pipefail

need_pkgs=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev
	   libssl-dev cpio kmod qemu-system-x86 busybox-static make gcc
	   libc6-dev gcc-multilib pkg-config xz-utils rsync)

missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	echo "deps: adding rust-src"
	rustup component add rust-src
fi

if ! command -v bindgen >/dev/null 2>&1; then
	echo "deps: installing bindgen-cli 0.72.1"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install bindgen-cli --locked --version 0.72.1
fi
