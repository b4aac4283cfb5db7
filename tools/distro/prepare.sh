#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare a build directory for kqueue.ko against a distribution kernel.
#
#   tools/distro/prepare.sh [RELEASE]    prints the build directory (KDIR)
#
# RELEASE is an installed kernel release, the running one (uname -r) by
# default; its headers must be installed (/lib/modules/RELEASE/build).
# "make KDIR=auto [KRELEASE=...]" calls this.
#
# Distributions' headers packages ship no Rust artifacts (no rust/*.rmeta,
# no libmacros.so, no scripts/target.json), so a Rust module cannot be built
# against them directly. This script:
#
#  1. reads the headers' .config: the kernel must have CONFIG_RUST=y;
#  2. checks that the rustc, bindgen and C compiler at hand are the ones the
#     kernel was built with (CONFIG_RUSTC_VERSION_TEXT,
#     CONFIG_BINDGEN_VERSION_TEXT, CONFIG_CC_VERSION_TEXT), and otherwise
#     stops with a message naming the packages to install: only the exact
#     rustc that built the kernel can build a module it will load;
#  3. unpacks the matching kernel source (Debian: the linux-source-X.Y
#     package of the headers' version, /usr/src/linux-source-X.Y.tar.xz;
#     elsewhere: KQUEUE_KERNEL_SOURCE=<tarball or directory>);
#  4. makes an O= directory with the headers' .config and .kernelvariables,
#     runs "olddefconfig prepare modules_prepare" (this rebuilds rust/ with
#     the kernel's own symbol names: some minutes), and copies in the
#     headers' Module.symvers and BTF vmlinux;
#  5. caches the result in ~/.cache/kqueue-linux/distro/RELEASE/ (KQUEUE_CACHE
#     moves it), keyed by the headers' files and the tools' versions: a
#     second call takes well under a second.
#
# Everything but the directory goes to stderr, so "KDIR=$(prepare.sh)" works.
set -euo pipefail

release=${1:-$(uname -r)}
cache=${KQUEUE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kqueue-linux}/distro
dir=$cache/$release
out=$dir/build
headers=/lib/modules/$release/build
# Bump when the way the build directory is made changes.
recipe=1

log() { echo "prepare: $*" >&2; }
die() { echo "prepare: $*" >&2; exit 1; }

is_debian() { command -v dpkg-query >/dev/null 2>&1; }
pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }

[ -f "$headers/.config" ] ||
	die "no kernel headers for $release in $headers$(is_debian &&
		printf '\n  apt install linux-headers-%s' "$release")"
config=$headers/.config
cfg() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$config"; }

[ "$(cfg CONFIG_RUST)" = y ] ||
	die "$release was built without CONFIG_RUST=y: no Rust module can be loaded into it"

# --- the tools the kernel was built with ----------------------------------------
want_cc=$(cfg CONFIG_CC_VERSION_TEXT)
want_rustc=$(cfg CONFIG_RUSTC_VERSION_TEXT)
want_bindgen=$(cfg CONFIG_BINDGEN_VERSION_TEXT)

# The C compiler: Debian names it in .kernelvariables (CC = ...gcc-14); a
# clang kernel is built with LLVM=-<major>; else the first word of the
# version text (gcc, x86_64-linux-gnu-gcc-14, ...).
llvm=
if [ "$(cfg CONFIG_CC_IS_CLANG)" = y ]; then
	llvm=-$(($(cfg CONFIG_CLANG_VERSION) / 10000))
	cc=clang$llvm
elif [ -f "$headers/.kernelvariables" ]; then
	# shellcheck disable=SC2016 # $(CC) is make's
	cc=$(printf 'include %s\nall:\n\t@echo $(CC)\n' "$headers/.kernelvariables" |
		make -s --no-print-directory -f - all 2>/dev/null | awk '{ print $NF }')
fi
[ -n "${cc:-}" ] || cc=${want_cc%% *}

# Debian package names for the hints.
cc_pkg=$cc
case $cc in *-linux-gnu-*) cc_pkg=${cc#*-linux-gnu-} ;; esac
case $cc_pkg in clang*) cc_pkg="$cc_pkg lld${llvm} llvm${llvm}" ;; esac
rustc_ver=$(awk '{ print $2 }' <<<"$want_rustc")
bindgen_ver=$(awk '{ print $2 }' <<<"$want_bindgen")
pkg_pin() {	# "name=<archive version>" if apt knows one of upstream version $2
	local v
	v=$(apt-cache madison "$1" 2>/dev/null | awk -v u="$2" '
		{ v = $3; sub(/^[0-9]+:/, "", v) } index(v, u) == 1 { print $3; exit }')
	echo "$1${v:+=$v}"
}
apt_hint() {
	is_debian || return 0
	printf '\n  on Debian: apt install %s' "$*"
}

missing=()
# Each tool: the first of the candidates whose version text is the wanted one.
find_tool() {	# var wanted-text candidates...
	local var=$1 want=$2 c have seen=' '
	shift 2
	for c in "$@"; do
		if [ -z "$c" ] || ! c=$(command -v "$c" 2>/dev/null); then
			continue
		fi
		case $seen in *" $c "*) continue ;; esac
		seen="$seen$c "
		have=$("$c" --version 2>/dev/null | head -n1)
		if [ "$have" = "$want" ]; then
			printf -v "$var" %s "$c"
			return 0
		fi
		log "$c: '$have', but $release was built with '$want'"
	done
	return 1
}

rustc='' bindgen='' cc_path=''
find_tool rustc "$want_rustc" "${RUSTC:-}" rustc /usr/bin/rustc "rustc-$rustc_ver" ||
	missing+=("rustc $rustc_ver")
if [ -n "$rustc" ]; then
	sysroot=$("$rustc" --print sysroot)
	[ -f "$sysroot/lib/rustlib/src/rust/library/core/src/lib.rs" ] ||
		missing+=("the Rust standard library source for rustc $rustc_ver (rust-src)")
	compgen -G "$sysroot/lib/rustlib/$("$rustc" -vV | sed -n 's/^host: //p')/lib/libstd-*" >/dev/null ||
		missing+=("the host's Rust standard library for rustc $rustc_ver (libstd-rust-dev)")
fi
if [ -n "$want_bindgen" ]; then
	find_tool bindgen "$want_bindgen" "${BINDGEN:-}" bindgen /usr/bin/bindgen ||
		missing+=("bindgen $bindgen_ver")
fi
# The C compiler: the same compiler and version; a different build of it
# (e.g. a newer Debian revision of gcc 14.2.0) only earns a warning, as
# kbuild itself gives.
if command -v "$cc" >/dev/null 2>&1; then
	cc_path=$(command -v "$cc")
	have=$("$cc" --version | head -n1)
	if [ "$have" != "$want_cc" ]; then
		if [ "${have##* }" = "${want_cc##* }" ]; then
			log "warning: $cc is '$have', $release was built with '$want_cc'"
		else
			log "$cc is '$have', but $release was built with '$want_cc'"
			missing+=("$want_cc")
		fi
	fi
else
	missing+=("the C compiler $cc ($want_cc)")
fi
if ((${#missing[@]})); then
	log "the kernel $release was built with tools that are not here:"
	for m in "${missing[@]}"; do log "  - $m"; done
	die "install them, then run this again$(apt_hint "$(pkg_pin rustc "$rustc_ver")" \
		rust-src "$(pkg_pin libstd-rust-dev "$rustc_ver")" \
		"$([ -z "$want_bindgen" ] || pkg_pin bindgen "$bindgen_ver")" "$cc_pkg")"
fi
# What building the kernel's scripts and tools needs: command or header,
# and its Debian package.
needs=(make:make flex:flex bison:bison bc:bc python3:python3 openssl:openssl
       /usr/include/gelf.h:libelf-dev /usr/include/openssl/evp.h:libssl-dev)
[ "$(cfg CONFIG_DEBUG_INFO_BTF)" != y ] || needs+=(pahole:dwarves)
for n in "${needs[@]}"; do
	t=${n%%:*}
	case $t in
	/*) [ -e "$t" ] ;;
	*) command -v "$t" >/dev/null 2>&1 ;;
	esac || missing+=("${n#*:}")
done
((${#missing[@]} == 0)) || die "missing: ${missing[*]}$(apt_hint "${missing[@]}")"

# --- the kernel source ------------------------------------------------------------
# Debian: linux-source-X.Y of the same package version as the headers.
src=${KQUEUE_KERNEL_SOURCE:-}
src_id=
if [ -z "$src" ] && is_debian; then
	hver=$(pkg_version "linux-headers-$release") ||
		die "linux-headers-$release is not a Debian package: set KQUEUE_KERNEL_SOURCE"
	mm=$(sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p' <<<"$release")
	sver=$(pkg_version "linux-source-$mm") || sver=
	[ "$sver" = "$hver" ] ||
		die "the kernel source of $release is needed: linux-source-$mm $hver (installed: ${sver:-none})$(apt_hint "linux-source-$mm=$hver")"
	for f in /usr/src/linux-source-"$mm".tar.*; do
		[ -f "$f" ] && src=$f
	done
	[ -n "$src" ] || die "linux-source-$mm is installed but /usr/src/linux-source-$mm.tar.* is missing"
	src_id="linux-source-$mm $sver"
fi
[ -n "$src" ] || die "set KQUEUE_KERNEL_SOURCE to the source tree (or tarball) of $release"
[ -e "$src" ] || die "KQUEUE_KERNEL_SOURCE=$src does not exist"
[ -n "$src_id" ] || src_id="$(realpath "$src") $(stat -c %s.%Y "$src")"

# --- cached? -------------------------------------------------------------------------
key=$( {
	echo "recipe=$recipe"
	echo "$src_id"
	echo "$rustc $want_rustc"
	echo "$bindgen $want_bindgen"
	echo "$cc_path $($cc --version | head -n1)"
	for f in .config .kernelvariables Module.symvers vmlinux; do
		[ ! -f "$headers/$f" ] || cksum <"$headers/$f"
	done
} | sha256sum | cut -c1-16)

mkdir -p "$cache"
exec 9>"$cache/.$release.lock"
flock 9
if [ "$(cat "$dir/.done" 2>/dev/null)" = "$key" ]; then
	echo "$out"
	exit 0
fi

# --- build -----------------------------------------------------------------------------
start=$SECONDS
log "preparing $dir for $release (once: unpack the source, build rust/, some minutes)"
rm -rf "$dir"
mkdir -p "$dir" "$out"
if [ -d "$src" ]; then
	srcdir=$(realpath "$src")
else
	log "unpacking $(basename "$src")"
	tar -C "$dir" -xf "$src"
	srcdir=$(find "$dir" -mindepth 2 -maxdepth 2 -name Makefile -printf '%h\n' | head -n1)
	[ -n "$srcdir" ] || die "no kernel source tree in $src"
fi
kver=$(make -s -C "$srcdir" --no-print-directory kernelversion)
case $release in
"$kver"*) ;;
*) die "the source in $src is Linux $kver, not that of $release" ;;
esac

cp "$config" "$out/.config"
if [ -f "$headers/.kernelvariables" ]; then
	cp "$headers/.kernelvariables" "$out/"
fi
# The rustc and bindgen found above, also for module builds later on, when
# PATH may find another (e.g. rustup's): the top Makefile includes the
# build directory's .kernelvariables after setting its defaults.
# shellcheck disable=SC2016 # make's $(objtree)
if grep -qF -- '-include $(objtree)/.kernelvariables' "$srcdir/Makefile"; then
	{
		echo "# tools/distro/prepare.sh of kqueue: the tools $release was built with"
		echo "RUSTC = $rustc"
		echo "HOSTRUSTC = $rustc"
		[ -z "$bindgen" ] || echo "BINDGEN = $bindgen"
	} >>"$out/.kernelvariables"
	tools=()
else
	tools=(RUSTC="$rustc" HOSTRUSTC="$rustc" ${bindgen:+BINDGEN="$bindgen"})
fi

mk=(make -C "$srcdir" O="$out" LLVM="$llvm" ${tools[@]+"${tools[@]}"} -j"$(($(nproc) + 1))")
"${mk[@]}" olddefconfig >&2
# olddefconfig recomputes what depends on the tools (versions, CC_HAS_...):
# with the right tools nothing changes; say so if something did.
changed=$(diff <(grep '^CONFIG_' "$config" | sort) <(grep '^CONFIG_' "$out/.config" | sort) |
	grep '^[<>]' || true)
if [ -n "$changed" ]; then
	log "warning: olddefconfig changed the configuration of $release:"
	while IFS= read -r line; do log "  $line"; done <<<"$changed"
fi
"${mk[@]}" prepare modules_prepare >&2
[ -f "$out/scripts/target.json" ] || die "make prepare made no scripts/target.json"

cp "$headers/Module.symvers" "$out/"
# The BTF-only vmlinux of the headers: module BTF is generated against it.
[ ! -f "$headers/vmlinux" ] || cp "$headers/vmlinux" "$out/"

echo "$key" >"$dir/.done"
log "$out ready in $((SECONDS - start))s"
echo "$out"
