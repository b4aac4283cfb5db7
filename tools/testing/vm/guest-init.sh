#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the kqueue test VM. tools/testing/vm/initramfs.sh copies it into
# the initramfs together with busybox, kqueue.ko and the job; run.sh parses
# what it prints on the console.
#
# Job (from /kqueue/job):
#   MODE=check   run every program of /kqueue/selftests/tests.list
#   MODE=demo    run /kqueue/$DEMO (kqdemo, kqbench, ...); DEMO may name
#                several programs, run in order (status: the first failure)
#   TEST_TIMEOUT=<s>   per-program limit (check mode)
#   MODPARAMS=...      extra insmod parameters
#
# Console protocol (lines run.sh looks for):
#   KQ-BEGIN <name> / KQ-END <name> rc=<n>   around each program's output
#   KQ-TIMEOUT <name> ...                     (before KQ-END) time limit hit
#   KQ-FAIL: <reason>                         harness-level failure
#   KQ-SUMMARY-BEGIN                          start of the clean replay: with
#       the kernel console silenced, each program's output again between
#       KQ-BEGIN/KQ-END, the KQ-FAIL lines, then KQ-KMEMLEAK-BEGIN/END and
#       KQ-DMESG-BEGIN/END
#   KQ-RESULT: <rc>                           last line before reboot
# The same KQ-BEGIN/KQ-END markers also go to /dev/kmsg, so a kernel splat
# in the dmesg dump can be attributed to the program that caused it.

export PATH=/bin:/sbin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
ip link set lo up
hostname kqvm

MODE=check
DEMO=kqdemo
TEST_TIMEOUT=300
MODPARAMS=
. /kqueue/job

KO=/kqueue/kqueue.ko
export KQUEUE_KO=$KO
state=/tmp/kq-harness
mkdir -p "$state/out"
: >"$state/fails"

say() { echo "kq: $*"; }
kmsg() { echo "$*" >/dev/kmsg; }
fail() {
	echo "KQ-FAIL: $*"
	echo "$*" >>"$state/fails"
}

kmemleak=/sys/kernel/debug/kmemleak
kmemleak_reset() {
	# Forget what boot left behind; scan only when asked.
	[ -w $kmemleak ] || return 0
	echo scan=off >$kmemleak
	echo scan >$kmemleak
	echo clear >$kmemleak
}

module_loaded() { [ -d /sys/module/kqueue ]; }

load_module() {
	if ! insmod $KO $MODPARAMS; then
		fail "insmod $KO $MODPARAMS failed"
		return 1
	fi
	i=0
	while [ ! -c /dev/kqueue ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -c /dev/kqueue ]; then
		fail "/dev/kqueue did not appear after insmod"
		return 1
	fi
	mode=$(stat -c %a /dev/kqueue)
	[ "$mode" = 666 ] || fail "/dev/kqueue has mode $mode, want 666"
	return 0
}

unload_module() {
	module_loaded || load_module || return 1
	if ! rmmod kqueue; then
		fail "rmmod kqueue failed after all programs ended"
		return 1
	fi
	[ -e /dev/kqueue ] && fail "/dev/kqueue still exists after rmmod"
	module_loaded && fail "kqueue still in /sys/module after rmmod"
	return 0
}

# Run "$2" in the background after $1 seconds, in a session of its own;
# prints its pid, and "kill -KILL -<pid>" cancels it.
after() {
	setsid sh -c "sleep $1; $2" </dev/null >/dev/null 2>&1 &
	echo $!
}

# Run one program in its own session with a time limit; its stdout and
# stderr go to the console and to $state/out/<seq>.  Sets $rc.
run_one() {
	name=$2
	out=$state/out/$(printf %03d "$1")
	shift 2
	start=$(date +%s)
	kmsg "KQ-BEGIN $name"
	echo "KQ-BEGIN $name"
	# Through a FIFO rather than a pipeline, so that a process the program
	# leaves behind, holding the write end, cannot hold up the harness.
	mkfifo "$out.fifo"
	tee "$out" <"$out.fifo" &
	tee=$!
	setsid "$@" </dev/null >"$out.fifo" 2>&1 &
	pid=$!
	watchdog=$(after "$TEST_TIMEOUT" "touch $out.timeout; kill -KILL -$pid")
	wait $pid
	rc=$?
	kill -KILL -"$watchdog" 2>/dev/null
	kill -KILL -"$pid" 2>/dev/null	# whatever it left in its session
	watchdog=$(after 3 "kill $tee")
	wait $tee
	kill -KILL -"$watchdog" 2>/dev/null
	rm -f "$out.fifo"
	[ -e "$out.timeout" ] &&
		echo "KQ-TIMEOUT $name killed after ${TEST_TIMEOUT}s" | tee -a "$out"
	echo "$rc" >"$out.rc"
	echo "$name" >"$out.name"
	say "$name: rc=$rc in $(($(date +%s) - start))s"
	echo "KQ-END $name rc=$rc"
	kmsg "KQ-END $name rc=$rc"
}

result=0
kmemleak_reset
say "kernel $(uname -r), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), $(nproc) cpus"

if load_module; then
	say "kqueue.ko loaded: $(ls -l /dev/kqueue)"
	# For addr2line on backtraces printed after rmmod (kmemleak).
	say "kqueue.ko .text at $(cat /sys/module/kqueue/sections/.text 2>/dev/null)"
	case $MODE in
	demo)
		seq=0
		for demo in $DEMO; do
			seq=$((seq + 1))
			module_loaded || load_module || break
			run_one $seq "$demo" "/kqueue/$demo"
			[ "$result" != 0 ] || result=$rc
		done
		;;
	check)
		cd /kqueue/selftests || exit 1
		seq=0
		while read -r name args; do
			case $name in '' | '#'*) continue ;; esac
			seq=$((seq + 1))
			if ! module_loaded; then
				say "kqueue.ko not loaded before $name (a test unloaded it): reloading"
				load_module || break
			fi
			if [ ! -x "./$name" ]; then
				fail "$name: listed in tests.list but not built"
				continue
			fi
			# shellcheck disable=SC2086 # args split on purpose
			run_one $seq "$name" "./$name" $args
			case $rc in 0 | 4) ;; *) result=1 ;; esac
		done <tests.list
		cd /
		;;
	*)
		fail "unknown MODE=$MODE"
		;;
	esac
	unload_module || result=1
else
	result=1
fi

# Leak check: the module is gone, so everything it allocated must be too.
# kmemleak reports objects older than 5 s that two scans found unreferenced.
if [ -w $kmemleak ]; then
	sleep 5
	echo scan >$kmemleak
	sleep 2
	echo scan >$kmemleak
	cat $kmemleak >"$state/kmemleak"
	if grep -q "unreferenced object" "$state/kmemleak"; then
		fail "kmemleak: $(grep -c 'unreferenced object' "$state/kmemleak") unreferenced object(s)"
	fi
else
	: >"$state/kmemleak"
fi
[ -s "$state/fails" ] && result=1

# Clean replay with the kernel console silenced, so no printk splits a line.
dmesg -n 1
echo "KQ-SUMMARY-BEGIN"
for rcfile in "$state"/out/*.rc; do
	[ -e "$rcfile" ] || continue
	out=${rcfile%.rc}
	name=$(cat "$out.name")
	echo "KQ-BEGIN $name"
	cat "$out"
	echo "KQ-END $name rc=$(cat "$rcfile")"
done
while read -r line; do echo "KQ-FAIL: $line"; done <"$state/fails"
echo "KQ-KMEMLEAK-BEGIN"
cat "$state/kmemleak"
echo "KQ-KMEMLEAK-END"
echo "KQ-DMESG-BEGIN"
dmesg
echo "KQ-DMESG-END"
echo "KQ-RESULT: $result"
sync
reboot -f
