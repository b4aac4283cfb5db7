#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the kqueue test VM, follow it, and judge the result.
#
#   run.sh demo  BZIMAGE INITRAMFS
#   run.sh check BZIMAGE INITRAMFS [-- HOST-TEST-COMMAND...]
#
# demo:  prints the demo's output; exit status is the demo's.
# check: prints the guest's results as kselftest TAP, runs the host test
#        command (e.g. the library's cargo tests), and ends with the line
#        "N passed, N failed"; exit status 0 only if nothing failed.
#
# A check counts as failed, besides failing test cases: a kernel warning,
# BUG, oops, lockdep/KASAN/UBSAN report or hung task anywhere in the guest's
# kernel log, a kmemleak report after rmmod, insmod/rmmod trouble, a program
# killed by its time limit, and a guest that does not finish in time.
#
# Environment:
#   KQUEUE_ACCEL    tcg (default) or kvm
#   KQUEUE_TIMEOUT  seconds before QEMU is killed (default 1200; demo 300)
#   KQUEUE_BOOT_TIMEOUT  seconds for the kernel to start the guest's init
#                   (default 300; a normal boot takes 10-20): a guest that
#                   hangs before it is booted once more, and only once
#   KQUEUE_SMP, KQUEUE_MEM   guest CPUs (2) and MiB (1024)
#   KQUEUE_APPEND   extra kernel command line
#   KQUEUE_QEMU_ARGS  extra QEMU arguments, split at spaces (e.g. a TCG plugin)
#   KQUEUE_VM_DIR   where console.log goes (default build/vm)
#   KQUEUE_VERBOSE  1: stream the whole console instead of progress lines
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

die() { echo "run: $*" >&2; exit 2; }

(($# >= 3)) || die "usage: run.sh demo|check BZIMAGE INITRAMFS [-- HOST-TEST...]"
mode=$1 kernel=$2 initrd=$3
shift 3
[ "${1:-}" = -- ] && shift
host_test=("$@")
case $mode in demo | check) ;; *) die "unknown mode '$mode'" ;; esac
[ -f "$kernel" ] || die "no kernel image at $kernel"
[ -f "$initrd" ] || die "no initramfs at $initrd"

accel=${KQUEUE_ACCEL:-tcg}
limit=${KQUEUE_TIMEOUT:-$([ "$mode" = demo ] && echo 300 || echo 1200)}
vmdir=${KQUEUE_VM_DIR:-$top/build/vm}
log=$vmdir/console.log
mkdir -p "$vmdir"

boot_limit=${KQUEUE_BOOT_TIMEOUT:-300}
pidfile=$vmdir/qemu.pid
hung=$vmdir/boot-hung

qemu=(qemu-system-x86_64 -accel "$accel" -smp "${KQUEUE_SMP:-2}"
      -m "${KQUEUE_MEM:-1024}" -nographic -no-reboot -pidfile "$pidfile"
      -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 panic=-1 loglevel=7 ${KQUEUE_APPEND:-}")
[ "$accel" = kvm ] && qemu+=(-cpu host)
# shellcheck disable=SC2206 # split on purpose
[ -n "${KQUEUE_QEMU_ARGS:-}" ] && qemu+=($KQUEUE_QEMU_ARGS)

# Kernel log lines that fail a run. The first group are headlines (each
# counted once); the second only shows up inside a report, so it is counted
# only when no headline was seen.
splat='WARNING:|BUG:|kernel BUG at|Oops|Kernel panic|UBSAN:|INFO: task .* blocked|blocked for more than|detected stall|DEBUG_LOCKS_WARN_ON|possible recursive locking|circular locking|inconsistent lock state'
splat2='Call Trace:|cut here|ODEBUG:|KASAN|list_(add|del) corruption|refcount_t:|Unable to handle|general protection fault'

# --- boot -------------------------------------------------------------------
# Progress: the guest's "kq:" lines, harness failures and kernel splat
# headlines, until the clean replay starts.
follow() {
	local line quiet=0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >>"$log"
		if [ "${KQUEUE_VERBOSE:-0}" = 1 ]; then
			printf '%s\n' "$line"
			continue
		fi
		[ $quiet = 1 ] && continue
		case $line in
		KQ-SUMMARY-BEGIN) quiet=1 ;;
		"KQ-BEGIN "*) printf '  running %s\n' "${line#KQ-BEGIN }" ;;
		"kq: "* | KQ-FAIL:* | KQ-TIMEOUT*) printf '  %s\n' "$line" ;;
		*) [[ $line =~ \[\ *[0-9]+\.[0-9]+\].*($splat) ]] &&
			printf '  !! %s\n' "$line" ;;
		esac
	done
}

# The debug kernel has hung in early boot under TCG (seen once, right after
# the RCU tasks self-test), before the module is loaded or any test runs. If
# the guest's init has not spoken ("kq: " lines) within $boot_limit seconds,
# stop QEMU; the loop below boots once more.
watch_boot() {
	local waited
	for ((waited = 0; waited < boot_limit; waited += 2)); do
		sleep 2
		grep -q '^kq: ' "$log" && return
	done
	: >"$hung"
	[ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
}

for attempt in 1 2; do
	: >"$log"
	rm -f "$hung" "$pidfile"
	echo "run: booting $(basename "$kernel") under $accel (limit ${limit}s); console log: $log"
	start=$SECONDS
	watch_boot &
	watcher=$!
	timeout --foreground -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | follow
	qemu_rc=${PIPESTATUS[0]}
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	elapsed=$((SECONDS - start))
	echo "run: guest finished in ${elapsed}s (qemu exit status $qemu_rc)"
	[ "$attempt" = 1 ] || break
	if [ -e "$hung" ]; then
		cp "$log" "$vmdir/console-hung.log"
		echo "run: the guest hung in boot: no output from its init within ${boot_limit}s" \
			"(log kept in $vmdir/console-hung.log); booting once more"
		continue
	fi
	# The kernel died before its init spoke: the module is loaded only after
	# init's first "kq: " line, so this is the kernel's own boot (seen once
	# in Debian's stock kernel under TCG: an int3 oops from text patching
	# while the initramfs unpacked). Any other crash is the run's result.
	if ! grep -q '^kq: ' "$log" && grep -Eq 'Kernel panic|Oops' "$log"; then
		cp "$log" "$vmdir/console-boot-crash.log"
		echo "run: the kernel crashed in boot, before its init ran anything" \
			"(log kept in $vmdir/console-boot-crash.log); booting once more"
		continue
	fi
	break
done

# --- parse ------------------------------------------------------------------
# With a clean replay (KQ-SUMMARY-BEGIN), read the programs' output and the
# harness verdicts from it; otherwise the guest died early and the live part
# of the log is all there is.
failures=$vmdir/failures
: >"$failures"
summary_at=$(grep -n -m1 '^KQ-SUMMARY-BEGIN$' "$log" | cut -d: -f1)
if [ -n "$summary_at" ]; then
	live=$(mktemp) results=$(mktemp)
	trap 'rm -f "$live" "$results"' EXIT
	head -n "$((summary_at - 1))" "$log" >"$live"
	tail -n "+$((summary_at + 1))" "$log" >"$results"
else
	live=$log results=$log
fi
guest_rc=$(sed -n 's/^KQ-RESULT: \([0-9]*\)$/\1/p' "$results" | tail -n1)

# Program output -> TAP (check) or plain text (demo); counts and failures.
# Output is "KQ-COUNTS pass fail skip rc" as its last line.
tap=$(awk -v mode="$mode" -v failures="$failures" '
function flush(how,   extra) {
	if (how != "") {
		nfail++; print name ": " how > failures
	} else if (timedout) {
		nfail++; print name ": killed by the time limit" > failures
	} else if (nres == 0) {
		if (rc == 0) npass++; else if (rc == 4) nskip++;
		else { nfail++; print name ": exited with status " rc > failures }
	} else if (nfail == 0 && ((rc != 0 && rc != 4) || (plan > nres))) {
		nfail++
		extra = (plan > nres) ? ", " nres " of " plan " results" : ""
		print name ": exited with status " rc extra > failures
	}
	tpass += npass; tfail += nfail; tskip += nskip
	if (mode == "check") {
		if (nfail) print "not ok " idx " selftests: kqueue: " name
		else if (npass == 0 && nskip) print "ok " idx " selftests: kqueue: " name " # SKIP"
		else print "ok " idx " selftests: kqueue: " name
	}
	inprog = 0
}
/^KQ-BEGIN / {
	if (inprog) flush("no end marker")
	inprog = 1; idx++; name = $2; nres = npass = nfail = nskip = plan = timedout = 0; rc = -1
	if (mode == "check") print "# selftests: kqueue: " name
	next
}
/^KQ-END / {
	if (!inprog) next
	rc = $3; sub(/^rc=/, "", rc); rc += 0
	flush("")
	next
}
!inprog { next }
/^\[ *[0-9]+\.[0-9]+\]/ { next }	# kernel line in the live log
/^KQ-TIMEOUT / { timedout = 1 }
{
	if (mode == "demo") { print; next }
	print "# " $0
	if ($0 ~ /^1\.\.[0-9]+/ && plan == 0) { plan = substr($1, 4) + 0 }
	else if ($0 ~ /^ok [0-9]+/) { nres++; if ($0 ~ /# SKIP/) nskip++; else npass++ }
	else if ($0 ~ /^not ok [0-9]+/) {
		nres++
		if ($0 ~ /# SKIP/) nskip++
		else { nfail++; print name ": " $0 > failures }
	}
}
END {
	if (inprog) flush("did not finish (guest stopped)")
	print "KQ-COUNTS " tpass + 0, tfail + 0, tskip + 0, (idx ? rc : -1)
}' "$results")
counts=$(tail -n1 <<<"$tap")
tap=$(sed '$d' <<<"$tap")
read -r _ pass fail skip last_rc <<<"$counts"

# Harness verdicts from the guest (insmod/rmmod, leaks, time limits).
sed -n 's/^KQ-FAIL: //p' "$results" | sort -u >>"$failures"

# Kernel splats, from the live console and the dmesg dump (a message can
# miss the console), each once, attributed to the program running then.
{ cat "$live"; sed -n '/^KQ-DMESG-BEGIN$/,/^KQ-DMESG-END$/p' "$results"; } |
awk -v splat="$splat" -v splat2="$splat2" '
/KQ-BEGIN / { prog = $NF; next }
/KQ-END /   { prog = ""; next }
!match($0, /\[ *[0-9]+\.[0-9]+\]/) { next }
{ msg = substr($0, RSTART) }
msg in seen { next }
{ seen[msg] = 1; where = prog != "" ? "   [during " prog "]" : "" }
msg ~ splat { n++; print "kernel: " msg where; next }
msg ~ splat2 && first2 == "" { first2 = "kernel: " msg where }
END { if (!n && first2 != "") print first2 }' >>"$failures"

if [ -e "$hung" ]; then
	echo "guest hung in boot twice: no output from its init within ${boot_limit}s" >>"$failures"
elif [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	running=$(grep -E '^KQ-(BEGIN|END) ' "$live" | tail -n1 | grep '^KQ-BEGIN' | cut -d' ' -f2)
	echo "guest did not finish within ${limit}s, QEMU killed${running:+ (while running $running)}" >>"$failures"
elif [ -z "$guest_rc" ]; then
	echo "guest stopped without a result (qemu status $qemu_rc): crash or panic? see the log" >>"$failures"
fi
harness_fail=$(($(wc -l <"$failures") - fail))

# --- report -----------------------------------------------------------------
if [ "$mode" = demo ]; then
	[ -z "$tap" ] || printf '%s\n' "$tap"
	if [ "$harness_fail" -gt 0 ]; then
		echo "run: WARNING: the guest log shows problems:"
		sed 's/^/  - /' "$failures"
	fi
	echo "run: full console log: $log"
	[ "$last_rc" -ge 0 ] 2>/dev/null && exit "$last_rc"
	exit 1
fi

echo "TAP version 13"
echo "1..$(grep -c '^ok \|^not ok ' <<<"$tap")"
[ -z "$tap" ] || printf '%s\n' "$tap"
if grep -q '^KQ-KMEMLEAK-BEGIN$' "$results" &&
   grep -q 'unreferenced object' "$results"; then
	echo "# kmemleak report:"
	sed -n '/^KQ-KMEMLEAK-BEGIN$/,/^KQ-KMEMLEAK-END$/p' "$results" |
		sed '1d;$d' | head -n 40 | sed 's/^/#   /'
fi
# Host-side tests: each cargo test counts, and so does each check of a
# script that ends with "<name>: N passed, N failed".
host_pass=0 host_fail=0 host_skip=0 host_summary=
if ((${#host_test[@]})); then
	echo
	echo "run: host tests: ${host_test[*]}"
	host_log=$vmdir/host-test.log
	"${host_test[@]}" 2>&1 | tee "$host_log"
	host_rc=${PIPESTATUS[0]}
	read -r host_pass host_fail host_skip < <(awk '
	/^test result: / {
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^passed;/) p += $(i - 1)
			if ($i ~ /^failed;/) f += $(i - 1)
			if ($i ~ /^ignored;/) s += $(i - 1)
		}
	}
	/^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
	END { print p + 0, f + 0, s + 0 }' "$host_log")
	grep -E '^test .* FAILED$|^FAIL ' "$host_log" | sed 's/^/host: /' >>"$failures"
	if [ "$host_rc" != 0 ] && [ "$host_fail" = 0 ]; then
		host_fail=1
		echo "host tests: '${host_test[*]}' failed with status $host_rc (see $host_log)" >>"$failures"
	fi
	host_summary="run: host tests:  $host_pass passed, $host_fail failed, $host_skip ignored"
fi

total_pass=$((pass + host_pass))
total_fail=$((fail + harness_fail + host_fail))
echo
if [ -s "$failures" ]; then
	echo "FAILURES:"
	sed 's/^/  - /' "$failures"
fi
echo "run: kselftests: $pass passed, $fail failed, $skip skipped (test cases)"
echo "run: VM harness:  $harness_fail failed (kernel log, module load/unload, leaks, time limit)"
[ -z "$host_summary" ] || echo "$host_summary"
echo "run: full console log: $log"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
