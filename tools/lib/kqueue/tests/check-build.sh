#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
#
# Checks the files `make` built: SONAME and exported symbols of the .so,
# global symbols of the .a, the pkg-config file, and that C programs link
# against both (the .a with -static) and run.
#
# usage: check-build.sh OUT SRCTREE   (CC may be set)
set -u
out=$1
src=$2
cc=${CC:-cc}
work=$out/check
mkdir -p "$work"
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
# expect NAME WANT GOT
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want [$2] got [$3]"; fi
}

exports="kevent kqueue kqueue1 kqueuex libkqueue_drain_pending_close"
so=$out/libkqueue.so.0
a=$out/libkqueue.a

expect "SONAME" "libkqueue.so.0" \
	"$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
expect "NEEDED" "libc.so.6" \
	"$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ' | sed 's/ $//')"
expect ".so exports" "$exports" \
	"$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ' | sed 's/ $//')"
expect "libkqueue.so symlink" "libkqueue.so.0" "$(readlink "$out/libkqueue.so")"
expect ".a global symbols" "$exports" \
	"$(nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' | sort | tr '\n' ' ' | sed 's/ $//')"
# Rust internals stay local; what the .a needs from outside is libc only.
expect ".a needs no Rust runtime" "" \
	"$(nm -u "$a" | awk '{print $2}' | grep -e '^_ZN' -e '^_R' -e 'rust' | tr '\n' ' ')"
expect "header copy" "" "$(cmp "$src/include/kqueue/sys/event.h" "$out/include/kqueue/sys/event.h" 2>&1)"
for line in "Name: libkqueue" "Version: 2.7.0" 'Cflags: -I${includedir}/kqueue' \
	'Libs: -L${libdir} -lkqueue'; do
	if grep -qxF "$line" "$out/libkqueue.pc"; then ok "pc: $line"; else fail "pc: $line"; fi
done

# run NAME BINARY: the smoke test prints its own "N passed, N failed".
run() {
	if "$2" > "$work/$1.log" 2>&1; then ok "$1 runs"; else
		fail "$1 runs"; sed 's/^/    /' "$work/$1.log"; fi
}
inc=-I$out/include/kqueue
if "$cc" -Wall -Werror "$inc" -static -o "$work/smoke-static" \
	"$src/tests/smoke.c" "$a" -lpthread 2> "$work/static.log"; then
	ok "static link"
	run smoke-static "$work/smoke-static"
else
	fail "static link"; cat "$work/static.log"
fi
if "$cc" -Wall -Werror "$inc" -o "$work/smoke-dynamic" "$src/tests/smoke.c" \
	-L"$out" -lkqueue -Wl,-rpath,"$out" 2> "$work/dynamic.log"; then
	ok "dynamic link"
	expect "dynamic NEEDED libkqueue.so.0" "1" \
		"$(readelf -d "$work/smoke-dynamic" | grep -c 'NEEDED.*\[libkqueue.so.0\]')"
	run smoke-dynamic "$work/smoke-dynamic"
else
	fail "dynamic link"; cat "$work/dynamic.log"
fi

# Fork cleanup in a static program: needs a private mount namespace in
# which /dev/kqueue can be a character device (a copy of /dev/null).
if unshare -m true 2> /dev/null; then
	if "$cc" -Wall -Werror "$inc" -static -o "$work/fork-cleanup" \
		"$src/tests/fork_cleanup.c" "$a" -lpthread 2> "$work/fork.log"; then
		if unshare -m sh -c 'mount -t tmpfs kqtest /dev &&
			mknod /dev/kqueue c 1 3 && exec "$1"' sh "$work/fork-cleanup" \
			> "$work/fork-cleanup.log" 2>&1; then
			ok "fork cleanup (static)"
		else
			fail "fork cleanup (static)"; sed 's/^/    /' "$work/fork-cleanup.log"
		fi
	else
		fail "fork cleanup link"; cat "$work/fork.log"
	fi
else
	echo "skip fork cleanup (static): no mount namespace here"
fi

echo "check-build: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
