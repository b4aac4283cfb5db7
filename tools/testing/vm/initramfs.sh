#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the gzip'd cpio initramfs of the kqueue test VM.
#
#   initramfs.sh --module kqueue.ko --demo build/samples/kqdemo OUT.cpio.gz
#   initramfs.sh --module build/bench/kqueue.ko --demo build/bench/kqbench OUT.cpio.gz
#   initramfs.sh --module kqueue.ko --selftests build/selftests OUT.cpio.gz
#
# Options:
#   --module FILE     the module; lands at /kqueue/kqueue.ko (required)
#   --demo FILE       demo job: run FILE (as /kqueue/<its name>), e.g. kqdemo
#                     for make run, the kqbench benchmark for make bench;
#                     may be repeated: the programs run in that order
#   --selftests DIR   check job: copy the programs of DIR to /kqueue/selftests
#                     and run those named in tests.list (DIR/tests.list, else
#                     tools/testing/selftests/kqueue/tests.list), in order
#   --timeout S       per-program limit; default: timeout= of the kselftest
#                     "settings" file, else 300
#   --modparams STR   parameters for insmod
#   --file FILE       also copy FILE to /kqueue/<its name>, not run (e.g. a
#                     second module for an A/B benchmark); may be repeated
#
# The guest's /init is guest-init.sh from this directory; busybox-static
# provides the shell and tools. Dynamically linked programs get their shared
# libraries (and libgcc_s.so.1) copied along; static ones need nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
ksft_src=$top/tools/testing/selftests/kqueue

die() { echo "initramfs: $*" >&2; exit 1; }

module= demos=() demo_names= selftests= timeout= modparams= out= files=()
while (($#)); do
	case $1 in
	--module) module=$2; shift 2 ;;
	--demo) demos+=("$2"); shift 2 ;;
	--selftests) selftests=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--modparams) modparams=$2; shift 2 ;;
	--file) files+=("$2"); shift 2 ;;
	-*) die "unknown option $1" ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$out" ] || die "usage: initramfs.sh --module KO (--demo PROG | --selftests DIR) OUT.cpio.gz"
[ -f "$module" ] || die "module '$module' not found"
[ ${#demos[@]} -gt 0 ] || [ -n "$selftests" ] || die "need --demo or --selftests"

is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; }

busybox=/bin/busybox
[ -x $busybox ] && ! is_dynamic $busybox ||
	die "a static $busybox is needed (apt-get install busybox-static)"

root=$(mktemp -d "${TMPDIR:-/tmp}/kq-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
# mktemp makes it 0700: the guest's / must be searchable by unprivileged tests.
chmod 0755 "$root"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,root,kqueue}
ln -s bin "$root/sbin"

# busybox and its applets
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

install -m 0755 "$here/guest-init.sh" "$root/init"
cat >"$root/etc/passwd" <<-'EOF'
	root:x:0:0:root:/root:/bin/sh
	nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<-'EOF'
	root:x:0:
	nogroup:x:65534:
EOF

# Copies $1 to /kqueue/<its name> with mode $2. One file per name: "job" is
# the guest's job description, written below, so no program may be called so.
place() {
	local name
	name=$(basename "$1")
	[ "$name" != job ] && [ ! -e "$root/kqueue/$name" ] ||
		die "'$1': /kqueue/$name is taken (a name may be used once, and not be 'job')"
	install -m "$2" "$1" "$root/kqueue/$name"
}

install -m 0644 "$module" "$root/kqueue/kqueue.ko"
for f in ${files[@]+"${files[@]}"}; do
	[ -f "$f" ] || die "file '$f' not found"
	place "$f" "$( [ -x "$f" ] && echo 0755 || echo 0644)"
done

if [ ${#demos[@]} -gt 0 ]; then
	for demo in "${demos[@]}"; do
		[ -x "$demo" ] || die "demo program '$demo' not found"
		place "$demo" 0755
		demo_names="${demo_names:+$demo_names }$(basename "$demo")"
	done
	mode=demo
else
	[ -d "$selftests" ] || die "selftests dir '$selftests' not found"
	mode=check
	dst=$root/kqueue/selftests
	mkdir -p "$dst"
	# Programs and whatever data files they were built with; no objects.
	find "$selftests" -maxdepth 1 -type f ! -name '*.[oad]' -exec cp -p {} "$dst/" \;
	list=$selftests/tests.list
	[ -f "$list" ] || list=$ksft_src/tests.list
	[ -f "$list" ] || die "no tests.list in $selftests or $ksft_src"
	cp "$list" "$dst/tests.list"
	if [ -z "$timeout" ]; then
		for settings in "$selftests/settings" "$ksft_src/settings"; do
			[ -f "$settings" ] || continue
			timeout=$(sed -n 's/^timeout=\([0-9]\+\).*/\1/p' "$settings")
			break
		done
	fi
	missing=$(grep -Ev '^[[:space:]]*(#|$)' "$list" | awk '{print $1}' |
		while read -r t; do [ -x "$dst/$t" ] || echo "$t"; done)
	[ -z "$missing" ] || echo "initramfs: warning: not built: $missing" >&2
fi

cat >"$root/kqueue/job" <<EOF
MODE=$mode
DEMO="${demo_names:-}"
TEST_TIMEOUT=${timeout:-300}
MODPARAMS="$modparams"
EOF

# Shared libraries of dynamically linked programs (static ones have none).
dynamic=0
while IFS= read -r -d '' prog; do
	is_dynamic "$prog" || continue
	dynamic=1
	ldd "$prog" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -Ln "$lib" "$root$lib"
	done
done < <(find "$root/kqueue" -type f -perm -u+x -print0)
if [ $dynamic = 1 ]; then
	# pthread_cancel and backtraces dlopen libgcc_s at run time.
	gcc_s=$(/sbin/ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ { print $NF; exit }')
	if [ -n "$gcc_s" ]; then
		mkdir -p "$root$(dirname "$gcc_s")"
		cp -Ln "$gcc_s" "$root$gcc_s"
	fi
fi

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -6n >"$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($mode, $(du -k "$out" | cut -f1) KiB)" >&2
