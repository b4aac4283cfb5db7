#!/usr/bin/env bash
# Fetch the Debian linux-source-7.2 tarball and build the test kernel into a
# cache outside the repository, keyed by kernel version and config.
#
#   kernel.sh [debug|bench]   prints the build directory (KDIR) on stdout
#
# Everything else goes to stderr, so "KDIR=$(kernel.sh)" works.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
flavour=${1:-debug}
cache=${KQUEUE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kqueue-linux}
pkg=linux-source-7.2
suite=trixie-backports
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "kernel: $*" >&2; }

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# --- source -----------------------------------------------------------------
apt_dir="$cache/apt"
src_root="$cache/src"
if [ ! -f "$src_root/.done" ]; then
	log "fetching $pkg from $suite (private sources list)"
	mkdir -p "$apt_dir/lists/partial" "$src_root"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
		>"$apt_dir/sources.list"
	aptopts=(-o Dir::Etc::SourceList="$apt_dir/sources.list"
		 -o Dir::Etc::SourceParts=/dev/null
		 -o Dir::State::Lists="$apt_dir/lists")
	apt-get "${aptopts[@]}" update -qq >&2
	(cd "$apt_dir" && rm -f ./*.deb && apt-get "${aptopts[@]}" download "$pkg" >&2)
	deb=$(ls "$apt_dir"/*.deb)
	rm -rf "$src_root/tmp" && mkdir -p "$src_root/tmp"
	dpkg-deb -x "$deb" "$src_root/tmp"
	tarball=$(ls "$src_root"/tmp/usr/src/linux-source-*.tar.*)
	log "unpacking $(basename "$tarball")"
	tar -C "$src_root" -xf "$tarball"
	rm -rf "$src_root/tmp" "$deb"
	touch "$src_root/.done"
fi
srcdir=$(ls -d "$src_root"/linux-source-* | head -n1)
version=$(MAKEFLAGS= MFLAGS= MAKELEVEL= make -s -C "$srcdir" kernelversion 2>/dev/null)

# --- config and build ---------------------------------------------------------
frags=("$here/config/base.config")
[ "$flavour" = debug ] && frags+=("$here/config/debug.config")
[ "$flavour" = bench ] && frags+=("$here/config/bench.config")
# Bump when the way the kernel is built changes (not for edits elsewhere here).
recipe=1
key=$( (echo "recipe=$recipe"; cat "${frags[@]}") | sha256sum | cut -c1-12)
build="$cache/build-$version-$flavour-$key"
if [ ! -f "$build/.done" ]; then
	log "building $version ($flavour) in $build; this takes 10-20 minutes once"
	mkdir -p "$build"
	mk=(make -C "$srcdir" O="$build" LLVM=-19 -j"$(($(nproc) + 1))")
	"${mk[@]}" tinyconfig >&2
	KCONFIG_CONFIG="$build/.config" "$srcdir/scripts/kconfig/merge_config.sh" \
		-m -O "$build" "$build/.config" "${frags[@]}" >&2
	"${mk[@]}" olddefconfig >&2
	# Every requested option must have survived olddefconfig.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qx "$line" "$build/.config" ||
				{ log "config: $line did not stick"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			grep -q "^$opt=" "$build/.config" &&
				{ log "config: $opt should be off"; bad=1; } ;;
		esac
	done < <(cat "${frags[@]}")
	[ $bad = 0 ] || exit 1
	"${mk[@]}" all >&2
	touch "$build/.done"
fi
echo "$build"
