#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Instructions per kevent() against epoll, counted by the emulated CPU
# (insn-plugin.c) in one boot of the bench kernel: samples/bench/kqinsn's
# wait (1 of N ready) and registration (per descriptor), N = 10, 1000,
# 10000, then the other waits of one thread (EV_CLEAR, EV_DISPATCH, 64
# ready, from a second process, a fd table with holes). With BASE, the module of git revision BASE is measured too, in the
# same boot.
#
# Time under TCG drifts with the host; counts do not, so a change of a few
# instructions per call shows in one run. They are not time: an atomic or
# an out-of-line call costs more than its count says (under TCG and on
# hardware alike), so decide with make bench-ab as well.
#
#   insn-bench.sh KDIR LLVM KQINSN OUTDIR [BASE]
#
# (make bench-insns [BASE=rev] runs it.) INSN_TOP=n also prints the n
# functions that execute most per call in each kevent() measurement of the
# working tree (needs python3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 4 ] || { echo "usage: insn-bench.sh KDIR LLVM KQINSN OUTDIR [BASE]" >&2; exit 2; }
kdir=$1 llvm=$2 kqinsn=$3 out=$4 base=${5:-}

builds=new
[ -n "$base" ] && builds="base new"
rm -rf "$out/base" "$out/new" "$out/phases"
mkdir -p "$out/phases"
for b in $builds; do
	rev=
	[ "$b" = base ] && rev=$base
	"$here/module-build.sh" "$kdir" "$llvm" "$out/$b/src" "$rev" >/dev/null
	cp "$out/$b/src/kqueue.ko" "$out/kqueue-$b.ko"
done
gcc -O2 -Wall -shared -fPIC -o "$out/insn-plugin.so" "$here/insn-plugin.c" -lpthread

marker=$(nm "$kqinsn" | awk '$3 == "kqinsn_mark" { print "0x" $1 }')
[ -n "$marker" ] || { echo "insn-bench: no kqinsn_mark in $kqinsn" >&2; exit 1; }

cat >"$out/insn-guest" <<GUEST
#!/bin/sh
for m in $builds; do
	rmmod kqueue 2>/dev/null
	insmod /kqueue/kqueue-\$m.ko || exit 1
	echo "insn-build \$m \$(cat /sys/module/kqueue/sections/.text)"
	/kqueue/kqinsn || exit 1
done
GUEST
chmod 0755 "$out/insn-guest"

files=(--file "$out/kqueue-new.ko" --file "$kqinsn")
[ -n "$base" ] && files+=(--file "$out/kqueue-base.ko")
"$here/initramfs.sh" --module "$out/kqueue-new.ko" --demo "$out/insn-guest" "${files[@]}" \
	"$out/insn.cpio.gz"
KQUEUE_VM_DIR=$out KQUEUE_SMP=1 KQUEUE_TIMEOUT=${KQUEUE_TIMEOUT:-1800} \
	KQUEUE_QEMU_ARGS="-plugin $out/insn-plugin.so,marker=$marker,out=$out/phases" \
	"$here/run.sh" demo "$kdir/arch/x86/boot/bzImage" "$out/insn.cpio.gz" >"$out/insn.log"

# Phase i is the i-th "kqinsn-phase LABEL OPS" line of the log; its total is
# the sum of instructions x runs over its blocks.
awk '/^insn-build / { build = $2; next }
/^kqinsn-phase / { print i++, build, $2, $3 }' "$out/insn.log" >"$out/phases.txt"
[ -s "$out/phases.txt" ] || { echo "insn-bench: no phases (see $out/insn.log)" >&2; exit 1; }
while read -r i build label ops; do
	[ "$label" = - ] && continue
	total=$(awk '{ s += $2 * $3 } END { printf "%d", s }' "$out/phases/phase-$i.txt")
	echo "$build $label $((total / ops))"
done <"$out/phases.txt" >"$out/counts.txt"

# count BUILD LABEL: instructions per operation of phase LABEL.
count() {
	awk -v l="$2" -v b="$1" '$1 == b && $2 == l { print $3 }' "$out/counts.txt"
}

# row BUILD NAME N KQ EP: one line of the table.
row() {
	printf '  %-15s N=%-6s %6s / %6s = %s\n' "$2" "$3" "$4" "$5" \
		"$(awk -v k="$4" -v e="$5" 'BEGIN { printf "%.2f", k / e }')"
}

echo "instructions per operation: kqueue / epoll = ratio"
for b in $builds; do
	echo "${b/new/working tree}${base:+$([ "$b" = base ] && echo " ($base)")}"
	for what in wait reg; do
		for n in 10 1000 10000; do
			row "$b" "$what" "$n" "$(count "$b" "$what-kq-$n")" "$(count "$b" "$what-ep-$n")"
		done
	done
	# The other waits (kqinsn's more_phases): EV_CLEAR less the write and
	# read that re-arm it, on both sides; EV_DISPATCH re-enabled in the
	# waiting kevent() or in one of its own (dispatch2), against
	# EPOLL_CTL_MOD + epoll_wait; 64 ready; the wait from a forked child;
	# the table dense and with every other descriptor closed.
	re=$(count "$b" rearm-1000)
	kq=$(count "$b" wait-clear-kq-1000) ep=$(count "$b" wait-clear-ep-1000)
	[ -n "$kq" ] || continue
	row "$b" clear 1000 "$kq" "$ep"
	row "$b" "clear - re-arm" 1000 "$((kq - re))" "$((ep - re))"
	printf '  %-15s N=%-6s %6s (the write and read alone)\n' re-arm 1000 "$re"
	ep=$(count "$b" wait-dispatch-ep-1000)
	row "$b" dispatch 1000 "$(count "$b" wait-dispatch-kq-1000)" "$ep"
	row "$b" dispatch2 1000 "$(count "$b" wait-dispatch2-kq-1000)" "$ep"
	for w in 64-1000 child-1000 dense-5000 holes-5000; do
		row "$b" "${w%-*}" "${w##*-}" "$(count "$b" "wait-${w%-*}-kq-${w##*-}")" \
			"$(count "$b" "wait-${w%-*}-ep-${w##*-}")"
	done
done

[ "${INSN_TOP:-0}" -gt 0 ] || exit 0
text=$(awk '$1 == "insn-build" && $2 == "new" { print $3 }' "$out/insn.log")
while read -r i build label ops; do
	[[ $build = new && $label = *-kq-* ]] || continue
	echo
	echo "$label: top $INSN_TOP functions, instructions per operation"
	python3 - "$kdir/System.map" "$out/kqueue-new.ko" "$text" "$kqinsn" \
		"$out/phases/phase-$i.txt" "$ops" "$INSN_TOP" <<'PY'
import bisect, collections, subprocess, sys
smap, ko, text, prog, phase, ops, top = sys.argv[1:]
syms = []
def nm(path, base, prefix):
    for line in subprocess.run(["nm", path], capture_output=True, text=True).stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((base + int(f[0], 16), prefix + f[2]))
for line in open(smap):
    f = line.split()
    if f[1] in "tTwW":
        syms.append((int(f[0], 16), f[2]))
nm(ko, int(text, 16), "kqueue.ko:")
nm(prog, 0, "user:")
syms.sort()
addrs = [a for a, _ in syms]
per = collections.Counter()
for line in open(phase):
    va, insns, runs = line.split()
    i = bisect.bisect_right(addrs, int(va, 16)) - 1
    per[syms[i][1] if i >= 0 else "?"] += int(insns) * int(runs)
for name, n in per.most_common(int(top)):
    print(f"{n / int(ops):9.1f}  {name}")
PY
done <"$out/phases.txt"
