#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS end to end for one installed kernel: "make dkms-install" (dkms add,
# build, install), checks what landed in /lib/modules, "make dkms-remove".
# Needs root and dkms; changes the system's DKMS state (make check-distro
# runs it in its trixie chroot).
#
#   tools/distro/dkms-check.sh RELEASE
#
# The last line is "dkms: N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/../.." || exit
release=${1:?usage: dkms-check.sh RELEASE}
pass=0 fail=0

check() {	# description command...
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok - $what"
	else
		fail=$((fail + 1))
		echo "not ok - $what"
	fi
}

vermagic_is() { [ "$(modinfo -F vermagic "$1" | cut -d' ' -f1)" = "$2" ]; }
mok_signed() { [ -n "$(modinfo -F signer "$1")" ] && [ -f /var/lib/dkms/mok.pub ]; }
no_module() { ! compgen -G "/lib/modules/$1/updates/dkms/kqueue.ko*" >/dev/null; }

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
make -s dkms-remove >/dev/null 2>&1	# leftovers of an interrupted run

start=$SECONDS
check "make dkms-install KRELEASE=$release" make dkms-install KRELEASE="$release"
echo "# dkms add/build/install: $((SECONDS - start))s"
status=$(dkms status -m kqueue -v "$version" -k "$release" 2>&1)
echo "# dkms status: $status"
check "dkms status says installed" grep -q "kqueue/$version, $release, .*: installed" <<<"$status"

ko=
for f in /lib/modules/"$release"/updates/dkms/kqueue.ko*; do
	[ -e "$f" ] && ko=$f
done
check "kqueue.ko in /lib/modules/$release/updates/dkms" test -n "$ko"
if [ -n "$ko" ]; then
	echo "# $ko: vermagic '$(modinfo -F vermagic "$ko")', signer '$(modinfo -F signer "$ko")'"
	check "its vermagic is $release's" vermagic_is "$ko" "$release"
	check "it is signed with DKMS's MOK key" mok_signed "$ko"
fi

check "make dkms-remove" make -s dkms-remove
check "nothing left in /lib/modules/$release/updates/dkms" no_module "$release"
check "/usr/src/kqueue-$version removed" test ! -e "/usr/src/kqueue-$version"

echo "dkms: $pass passed, $fail failed"
[ "$fail" = 0 ]
