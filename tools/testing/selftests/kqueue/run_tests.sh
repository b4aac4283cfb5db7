#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the kqueue selftests in the order of tests.list (module last), each
# line a program and its arguments, and sum
# the kselftest "# Totals:" lines.  A program that ends without a Totals line
# (crash, killed) counts as one failure.  Last line: "N passed, N failed".
#
#   run_tests.sh [DIR]   DIR holds the test binaries (default: this script's dir)
here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:-$here}
pass=0 fail=0 skip=0
# One program a line, maybe with arguments ("stress --duration 60").
list=$(grep -Ev '^[[:space:]]*(#|$)' "$here/tests.list")
while read -r t args; do
	echo "# selftests: kqueue: $t${args:+ $args}"
	# shellcheck disable=SC2086 # args split on purpose
	out=$( cd "$bindir" && "./$t" $args 2>&1 </dev/null ); rc=$?
	printf '%s\n' "$out"
	tot=$(printf '%s\n' "$out" | grep '^# Totals:' | tail -n1)
	if [ -z "$tot" ]; then
		echo "# $t: no Totals line (exit $rc): counted as 1 failure"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$tot" | sed -n 's/.* pass:\([0-9]*\).*/\1/p')
	f=$(echo "$tot" | sed -n 's/.* fail:\([0-9]*\).*/\1/p')
	x=$(echo "$tot" | sed -n 's/.* xpass:\([0-9]*\).*/\1/p')
	e=$(echo "$tot" | sed -n 's/.* error:\([0-9]*\).*/\1/p')
	s=$(echo "$tot" | sed -n 's/.* skip:\([0-9]*\).*/\1/p')
	pass=$((pass + p)) fail=$((fail + f + x + e)) skip=$((skip + s))
	if [ "$rc" -ne 0 ] && [ $((f + x + e)) -eq 0 ]; then
		echo "# $t: exit $rc without a failed test: counted as 1 failure"
		fail=$((fail + 1))
	fi
done <<EOF
$list
EOF
echo "# kqueue selftests: $skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
