#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-distro: kqueue.ko on Debian's own, unmodified kernel.
#
#   check-distro.sh
#
# 1. A Debian trixie system in the cache (distro-root.sh: debootstrap once),
#    with the headers of the trixie-backports kernel RELEASE, its
#    linux-source package and trixie's rustc, bindgen and gcc-14.
# 2. In it, as a trixie user would, on a copy of this tree:
#    "tools/distro/prepare.sh RELEASE", then "make KDIR=auto KRELEASE=...".
# 3. Debian's kernel image package of RELEASE, fetched with that system's
#    apt; its vmlinuz (signed, unmodified) boots the test VM, which loads
#    the module built in 2 and runs the whole selftest suite (tests.list,
#    as make check does).
# 4. DKMS in the trixie system (make dkms-install / dkms-remove), counted
#    as host tests: "dkms: N passed, N failed".
#
# The last line is "N passed, N failed"; exit status 0 only if nothing failed.
#
# Environment:
#   KQUEUE_DISTRO_RELEASE  kernel release (default 7.2.12+deb13-amd64)
#   KQUEUE_DISTRO_MIRROR   Debian mirror (see distro-root.sh)
#   KQUEUE_DISTRO_DKMS=0   leave out the DKMS part
#   and run.sh's KQUEUE_* knobs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
release=${KQUEUE_DISTRO_RELEASE:-7.2.12+deb13-amd64}
cache=${KQUEUE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kqueue-linux}/distro
root=$cache/trixie-root
vmdir=$top/build/distro
# Where the tree is copied to inside the trixie system.
guest_tree=/root/kqueue

log() { echo "check-distro: $*" >&2; }
die() { echo "check-distro: $*" >&2; exit 1; }
in_root() { "$here/distro-root.sh" "$root" "$release" -- "$@"; }

# As a host test of run.sh: DKMS add, build, install and remove in the trixie
# system; prints "dkms: N passed, N failed".
if [ "${1:-}" = --dkms ]; then
	in_root /bin/sh -c "cd $guest_tree && tools/distro/dkms-check.sh $release"
	exit
fi

mkdir -p "$vmdir"
t0=$SECONDS

# --- 1. the trixie system ---------------------------------------------------------
"$here/distro-root.sh" "$root" "$release"
log "trixie system ready in $((SECONDS - t0))s"

# --- 2. build kqueue.ko in it as a user would ----------------------------------------
rm -rf "${root:?}$guest_tree"
mkdir -p "$root$guest_tree"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	rsync -a --from0 --files-from=- . "$root$guest_tree/")
t=$SECONDS
kdir=$(in_root "$guest_tree/tools/distro/prepare.sh" "$release")
log "prepare.sh $release: $kdir in $((SECONDS - t))s"
t=$SECONDS
in_root make -C "$guest_tree" KDIR=auto KRELEASE="$release" modules >&2
log "make KDIR=auto KRELEASE=$release modules: $((SECONDS - t))s"
module=$root$guest_tree/kqueue.ko
[ -f "$module" ] || die "no kqueue.ko was built"

# --- 3. the stock kernel image -----------------------------------------------------------
# Debian 13's backports split the signed image into linux-image-RELEASE (a
# metapackage) and linux-binary-RELEASE (/usr/lib/modules/RELEASE/vmlinuz);
# older kernels have /boot/vmlinuz-RELEASE in linux-image-RELEASE itself.
image=$cache/image-$release
if [ ! -f "$image/.done" ] || [ ! -f "$image/md5sums" ]; then
	rm -rf "$image" "$root/tmp/kq-image"
	mkdir -p "$image" "$root/tmp/kq-image"
	for pkg in "linux-binary-$release" "linux-image-$release"; do
		in_root /bin/sh -c "cd /tmp/kq-image &&
			apt-get -o APT::Sandbox::User=root download '$pkg'" >&2 || continue
		deb=$(find "$root/tmp/kq-image" -name '*.deb')
		dpkg-deb -x "$deb" "$image"
		dpkg-deb -I "$deb" md5sums >"$image/md5sums"
		rm -f "$deb"
		for f in "$image/usr/lib/modules/$release/vmlinuz" "$image/boot/vmlinuz-$release"; do
			[ -f "$f" ] || continue
			ln -sf "${f#"$image"/}" "$image/vmlinuz"
			basename "$deb" >"$image/.done"
			break 2
		done
	done
	rm -rf "$root/tmp/kq-image"
	[ -f "$image/.done" ] ||
		die "no vmlinuz in Debian's packages of $release (gone from the archive? try KQUEUE_DISTRO_MIRROR=http://snapshot.debian.org/archive/debian/<yyyymmddThhmmssZ>)"
fi
vmlinuz=$image/vmlinuz
# Unmodified: as the package's checksums say.
(cd "$image" && md5sum -c --quiet md5sums) ||
	die "$image differs from its package; remove it to fetch it again"
log "stock kernel: $(cat "$image/.done"), vmlinuz sha256 $(sha256sum <"$vmlinuz" | cut -c1-16)"

# --- 4. the selftests in the VM on it ------------------------------------------------------
# The same programs and tests.list as make check (host-built, static).
ksrc=
for d in "$root$(dirname "$kdir")"/linux-source-*; do
	[ -f "$d/Makefile" ] && ksrc=$d
done
[ -n "$ksrc" ] || die "no kernel source next to $kdir"
make -s -C "$top" selftests KSRC="$ksrc" BUILD="$vmdir" >&2
"$here/initramfs.sh" --module "$module" --selftests "$vmdir/selftests" "$vmdir/check.cpio.gz"
host=()
[ "${KQUEUE_DISTRO_DKMS:-1}" = 0 ] || host=(-- "$0" --dkms)
log "setup took $((SECONDS - t0))s; booting the stock kernel"
KQUEUE_VM_DIR=$vmdir exec "$here/run.sh" check "$vmlinuz" "$vmdir/check.cpio.gz" "${host[@]}"
