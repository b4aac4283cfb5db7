#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian trixie system in a directory, for building kqueue.ko the way a
# trixie user would, on a host of another release (make check-distro).
#
#   distro-root.sh ROOT RELEASE           create ROOT once (debootstrap) and
#                                         install what building a module for
#                                         the backports kernel RELEASE needs
#   distro-root.sh ROOT RELEASE -- CMD... run CMD in ROOT as root, HOME=/root
#
# Only debootstrap is installed on the host (with apt, if missing); the rest
# lives in ROOT: the exact linux-headers-RELEASE and linux-source from
# trixie-backports, and trixie's own rustc, rust-src, libstd-rust-dev,
# bindgen and gcc-14 (the ones Debian builds that kernel with; trixie-
# backports has a newer rustc). CMD runs under "unshare -m" with /proc, /sys
# and /dev mounted, so nothing stays mounted afterwards.
#
# Environment: KQUEUE_DISTRO_MIRROR (default http://deb.debian.org/debian),
# e.g. http://snapshot.debian.org/archive/debian/20261201T000000Z once
# RELEASE has left the archive (untried).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: distro-root.sh ROOT RELEASE [-- CMD...]" >&2; exit 2; }
root=$1 release=$2
shift 2
mirror=${KQUEUE_DISTRO_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "distro-root: $*" >&2; }

# Runs "$@" inside $root in a private mount namespace.
in_root() {
	# shellcheck disable=SC2016 # expanded by that shell
	unshare -m --propagation private /bin/sh -ec '
		root=$1; shift
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

# Packages for building a module for $release, the way the README says.
# libelf-dev and libdw1t64 (pahole's) come from backports too: the backports
# headers pull in the backports libelf1t64, which trixie's libelf-dev and
# libdw1t64 do not accept.
pkgs=("linux-headers-$release" linux-source-7.2
      rustc rust-src libstd-rust-dev bindgen gcc-14 make flex bison bc
      libssl-dev openssl python3 dwarves xz-utils kmod cpio rsync dkms shellcheck
      libelf-dev/trixie-backports libdw1t64/trixie-backports)

setup() {
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap on the host"
		local sudo=
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
			--no-install-recommends debootstrap
	fi
	if [ ! -f "$root/.debootstrap-done" ]; then
		log "debootstrap trixie into $root (a few minutes, once)"
		rm -rf "$root"
		mkdir -p "$root"
		debootstrap --variant=minbase --keyring="$keyring" trixie "$root" "$mirror" >&2
		touch "$root/.debootstrap-done"
	fi
	local want
	want="$release ${pkgs[*]} $mirror"
	[ "$(cat "$root/.packages-done" 2>/dev/null)" = "$want" ] && return
	log "installing the build packages for $release in $root"
	# A snapshot's Release files are past their Valid-Until.
	local opts=
	case $mirror in *snapshot.debian.org*) opts='[check-valid-until=no] ' ;; esac
	cat >"$root/etc/apt/sources.list" <<-EOS
		deb $opts$mirror trixie main
		deb $opts$mirror trixie-updates main
		deb $opts$mirror trixie-backports main
	EOS
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	in_root apt-get update -qq >&2
	in_root apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
	in_root apt-get clean
	echo "$want" >"$root/.packages-done"
}

if [ "${1:-}" = -- ]; then
	shift
	[ -f "$root/.packages-done" ] || setup
	in_root "$@"
else
	setup
fi
