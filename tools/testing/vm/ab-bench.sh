#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A/B benchmark of two builds of kqueue.ko in one boot of the bench kernel:
# the module of git revision BASE and the working tree's are loaded in
# turn, ROUNDS times each, and samples/bench/kqab measures after each load.
# The host's speed drifts between boots by more than most changes are
# worth; within one boot, alternating, it hits both builds alike.
#
# Two identical builds come out up to about 6% apart, and under the
# emulated CPU a change in code size alone (where functions land) moves a
# build by as much: read differences below about 8% as noise.
#
#   ab-bench.sh KDIR LLVM KQAB OUTDIR BASE [ROUNDS]
#
# (make bench-ab BASE=rev runs it.) Prints the median kqueue/epoll ratio
# of each build for kqab's six measurements.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 5 ] || { echo "usage: ab-bench.sh KDIR LLVM KQAB OUTDIR BASE [ROUNDS]" >&2; exit 2; }
kdir=$1 llvm=$2 kqab=$3 out=$4 base=$5 rounds=${6:-8}

# build NAME [REV]: the module (of REV, else the working tree) built against
# the bench kernel in $out/NAME/src, copied to $out/kqueue-NAME.ko.
build() {
	"$here/module-build.sh" "$kdir" "$llvm" "$out/$1/src" "${2:-}" >/dev/null
	cp "$out/$1/src/kqueue.ko" "$out/kqueue-$1.ko"
}

build base "$base"
build new

cat >"$out/ab-guest" <<GUEST
#!/bin/sh
for r in \$(seq $rounds); do
	for m in base new; do
		rmmod kqueue 2>/dev/null
		insmod /kqueue/kqueue-\$m.ko || exit 1
		echo "ab \$m \$(/kqueue/kqab)"
	done
done
rmmod kqueue && insmod /kqueue/kqueue.ko
GUEST
chmod 0755 "$out/ab-guest"

"$here/initramfs.sh" --module "$out/kqueue-new.ko" --timeout 3000 --demo "$out/ab-guest" \
	--file "$out/kqueue-base.ko" --file "$out/kqueue-new.ko" --file "$kqab" "$out/ab.cpio.gz"
KQUEUE_VM_DIR=$out KQUEUE_APPEND="tsc=reliable ${KQUEUE_APPEND:-}" \
	KQUEUE_TIMEOUT=${KQUEUE_TIMEOUT:-3600} \
	"$here/run.sh" demo "$kdir/arch/x86/boot/bzImage" "$out/ab.cpio.gz" | tee "$out/ab.log"

# kqab prints "wait W W W reg R R R": fields 4-6 and 8-10 after "ab NAME".
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
echo
echo "kqueue/epoll, median of $rounds rounds   wait N=10  1000  10000    reg N=10  1000  10000"
for m in base new; do
	label="$m ($([ $m = base ] && echo "$base" || echo "working tree"))"
	row=
	for f in 4 5 6 8 9 10; do
		row="$row $(grep "^ab $m wait " "$out/ab.log" | awk -v f=$f '{ print $f }' | median)"
	done
	# shellcheck disable=SC2086 # the row splits into its six numbers
	printf '%-38s %9s %5s %6s %12s %5s %6s\n' "$label" $row
done
[ "$(grep -c "^ab new wait " "$out/ab.log")" = "$rounds" ] ||
	{ echo "ab-bench: not every round ran (see $out/ab.log)" >&2; exit 1; }
