#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build kqueue.ko against KDIR from a copy of the module's sources (Kbuild
# and rust/) in DIR, emptied first: those of git revision REV if given,
# else the working tree's. A copy, so that the debug build in the tree is
# left alone. The module ends up in DIR/kqueue.ko.
#
#   module-build.sh KDIR LLVM DIR [REV]
#
# (make bench, ab-bench.sh and insn-bench.sh use it.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
[ $# -ge 3 ] || { echo "usage: module-build.sh KDIR LLVM DIR [REV]" >&2; exit 2; }
kdir=$1 llvm=$2 dir=$3 rev=${4:-}

rm -rf "$dir"
mkdir -p "$dir"
if [ -n "$rev" ]; then
	git -C "$top" archive "$rev" Kbuild rust | tar -x -C "$dir"
else
	(cd "$top" && cp Kbuild "$dir/" &&
		find rust -type f \( -name '*.rs' -o -name '*.[ch]' \) -exec cp --parents {} "$dir/" \;)
fi
make -s -C "$kdir" M="$dir" LLVM="$llvm" modules
