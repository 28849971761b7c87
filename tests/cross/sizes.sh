#!/usr/bin/env bash
# sizes.sh ARCH...: the flash figures of docs/ROUTER.md, one Markdown table per architecture
# built by tests/cross/cross.sh (build-cross-ARCH). Each row is a file stripped by the cross
# binutils' strip (on a copy), its size in bytes (stat): dotd, then every shared library it
# needs, directly or through another (readelf -d NEEDED; libldns, which dotd loads with dlopen,
# from the build's CMake cache), found in the build's sysroot or the
# multiarch and cross toolchain directories. The C library (libc, the loader, libm and the
# other glibc parts, libgcc_s, libatomic) is left out: the router has its own (musl on OpenWrt).
# OpenSSL's libcrypto and libssl are counted apart: only Debian's libldns needs them (dotd's
# crypto is all wolfSSL's; an ldns built without OpenSSL needs neither).
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 mipsel|armhf|arm64..." >&2
	exit 2
fi
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dotd-sizes.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

triplet_of()
{
	case $1 in
	mipsel) echo mipsel-linux-gnu ;;
	armhf) echo arm-linux-gnueabihf ;;
	arm64) echo aarch64-linux-gnu ;;
	*) return 1 ;;
	esac
}

# find_lib NAME: the file a NEEDED entry names, symbolic links resolved.
find_lib()
{
	local d
	for d in "$SYSROOT/usr/lib/$TRIPLET" "$SYSROOT/lib/$TRIPLET" "/usr/lib/$TRIPLET" \
		"/lib/$TRIPLET" "/usr/$TRIPLET/lib"; do
		if [[ -e $d/$1 ]]; then
			readlink -f "$d/$1"
			return 0
		fi
	done
	return 1
}

# needed FILE: the libraries FILE needs; for dotd also libldns, which it loads itself when it
# first needs it (resolver/ldns_lib.h): the soname the build found, from its CMake cache.
needed()
{
	"$TRIPLET-readelf" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	if [[ $1 == "$DOTD" ]]; then
		sed -n 's/^DOTD_LDNS_SONAME:[A-Z]*=//p' "$BUILD/CMakeCache.txt"
	fi
}

is_libc()
{
	case $1 in
	libc.so.* | ld.so.* | ld-linux* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
		libresolv.so.* | libgcc_s.so.* | libatomic.so.*)
		return 0
		;;
	esac
	return 1
}

# stripped FILE: the size in bytes of a stripped copy.
stripped()
{
	cp "$1" "$TMP/s"
	"$TRIPLET-strip" --strip-unneeded "$TMP/s"
	stat -c %s "$TMP/s"
}

for ARCH in "$@"; do
	TRIPLET=$(triplet_of "$ARCH") || {
		echo "$0: unknown architecture '$ARCH'" >&2
		exit 2
	}
	BUILD=$SRC/build-cross-$ARCH
	SYSROOT=$BUILD/sysroot
	DOTD=$BUILD/resolver/dotd
	[[ -x $DOTD ]] || {
		echo "$0: no $DOTD (make cross ARCH=$ARCH first)" >&2
		exit 1
	}
	echo "### $ARCH ($TRIPLET)"
	echo
	echo "| file | stripped bytes | needed by |"
	echo "|---|---:|---|"
	cp "$DOTD" "$TMP/dotd"
	"$TRIPLET-strip" "$TMP/dotd"
	dotd_size=$(stat -c %s "$TMP/dotd")
	echo "| dotd | $dotd_size | |"
	total=$dotd_size
	crypto=0
	openssl=0
	# Breadth first over NEEDED: each library once, with who first needed it.
	queue=("dotd:$DOTD")
	seen=" "
	while ((${#queue[@]} > 0)); do
		item=${queue[0]}
		queue=("${queue[@]:1}")
		parent=${item%%:*}
		for lib in $(needed "${item#*:}"); do
			if is_libc "$lib" || [[ $seen == *" $lib "* ]]; then
				continue
			fi
			seen+="$lib "
			file=$(find_lib "$lib") || {
				echo "$0: $lib (needed by $parent) not found" >&2
				exit 1
			}
			size=$(stripped "$file")
			echo "| $lib ($(basename "$file")) | $size | $parent |"
			if [[ $lib == libcrypto.so.* ]]; then
				crypto=$((crypto + size))
			fi
			if [[ $lib == libcrypto.so.* || $lib == libssl.so.* ]]; then
				openssl=$((openssl + size))
			fi
			total=$((total + size))
			queue+=("$lib:$file")
		done
	done
	echo "| **total** | **$total** | |"
	echo "| **total without libcrypto** | **$((total - crypto))** | |"
	echo "| **total without OpenSSL (libssl, libcrypto)** | **$((total - openssl))** | |"
	echo
done
