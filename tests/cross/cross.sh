#!/usr/bin/env bash
# cross.sh ARCH: `make cross ARCH=...`. Build dotd, dotd-ctl and the unit tests for a router's
# architecture (mipsel, armhf or arm64) with Debian's cross gcc, run the unit tests under
# qemu-user (ctest -L unit, through CMAKE_CROSSCOMPILING_EMULATOR), then the end-to-end run
# (tests/cross/e2e.sh: the target's dotd under qemu-user in front of a real unbound serving
# DoT on loopback, asked by kdig). Installs what is missing first (root on Debian 12).
#
# The target's libraries are not installed as multiarch packages (pkg:ARCH) but unpacked into
# BUILD/sysroot: libwolfssl-dev and libhttp-parser-dev are not Multi-Arch: same, so the
# target's would remove the host's, and a Multi-Arch: same library must have the same version
# for every architecture, which Debian does not promise (bookworm-security carries no mipsel:
# an up-to-date host's libssl3 is newer than any mipsel one). The toolchain files take either
# (cmake/cross.cmake).
#
# Environment: CROSS_BUILD (default build-cross-ARCH), HOST_BUILD (default build: the host's
# dotd-probe, which e2e.sh uses for ports and queries), JOBS.
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 mipsel|armhf|arm64" >&2
	exit 2
fi
ARCH=$1
case $ARCH in
mipsel) TRIPLET=mipsel-linux-gnu ;;
armhf) TRIPLET=arm-linux-gnueabihf ;;
arm64) TRIPLET=aarch64-linux-gnu ;;
*)
	echo "$0: unknown architecture '$ARCH' (mipsel, armhf or arm64)" >&2
	exit 2
	;;
esac
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${CROSS_BUILD:-$SRC/build-cross-$ARCH}
HOST_BUILD=${HOST_BUILD:-$SRC/build}
JOBS=${JOBS:-$(nproc 2> /dev/null || echo 2)}
SYSROOT=$BUILD/sysroot

# The target's Debian packages unpacked into the sysroot: what the build links and what
# those libraries need in turn (libldns3 needs libssl3; libc and libatomic come with the
# cross toolchain).
TARGET_PKGS=(libwolfssl35 libwolfssl-dev libuv1 libuv1-dev libldns3 libldns-dev libssl3
	libssl-dev libyaml-0-2 libyaml-dev libmnl0 libmnl-dev libhttp-parser2.9
	libhttp-parser-dev libcunit1 libcunit1-dev)
# Architecture-independent: the root trust anchor the build makes dotd's default
# (resolver/CMakeLists.txt looks for it in the sysroot when cross-compiling).
TARGET_ALL_PKGS=(dns-root-data)

step()
{
	echo "=== cross $ARCH: $*"
}

# --- the host: the foreign architecture's package lists, the cross gcc, qemu-user ---

if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
	step "dpkg --add-architecture $ARCH"
	dpkg --add-architecture "$ARCH"
	apt-get update -qq
elif ! apt-cache show "libwolfssl35:$ARCH" > /dev/null 2>&1; then
	apt-get update -qq
fi
# The cross gcc and its C library (a Recommends, which install-deps leaves out); python3 and
# its Prometheus parser for two unit tests that are scripts (stats_parsers, ctl_client); gcc,
# cmake, the host libraries and libcunit1-dev for the host build of dotd-probe; unbound,
# openssl (tests/certs/gen.sh) and kdig for e2e.sh.
"$SRC/.ci/install-deps" "gcc-$TRIPLET" "binutils-$TRIPLET" "libc6-dev-$ARCH-cross" qemu-user \
	python3 python3-prometheus-client gcc make cmake pkg-config \
	libwolfssl-dev libuv1-dev libldns-dev libyaml-dev libhttp-parser-dev libmnl-dev \
	libcunit1-dev unbound openssl knot-dnsutils

# --- the target's libraries, once per set of versions ---

versions=$(apt-cache policy "${TARGET_PKGS[@]/%/:$ARCH}" "${TARGET_ALL_PKGS[@]}" |
	awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p $2 }')
if [[ ! -f $SYSROOT/.versions || $(cat "$SYSROOT/.versions") != "$versions" ]]; then
	step "unpacking the $ARCH packages into $SYSROOT"
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT/.debs"
	(cd "$SYSROOT/.debs" && apt-get -qq -o APT::Sandbox::User=root download \
		"${TARGET_PKGS[@]/%/:$ARCH}" "${TARGET_ALL_PKGS[@]}")
	for deb in "$SYSROOT"/.debs/*.deb; do
		dpkg-deb -x "$deb" "$SYSROOT"
	done
	rm -rf "$SYSROOT/.debs"
	printf '%s\n' "$versions" > "$SYSROOT/.versions"
fi

# --- build, unit tests under qemu-user ---

step "build in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$SRC/cmake/toolchain-$ARCH.cmake" \
	-DDOTD_CROSS_SYSROOT="$SYSROOT" -DDEVELOPER=ON -DBUILD_TESTS=ON
cmake --build "$BUILD" -j"$JOBS"
"$TRIPLET-readelf" -h "$BUILD/resolver/dotd" | grep -E '^ *(Class|Machine|Flags):'

step "unit tests under qemu-user"
(cd "$BUILD" && ctest -L unit --output-on-failure -j"$JOBS")

# --- end to end ---

step "host dotd-probe in $HOST_BUILD"
cmake -S "$SRC" -B "$HOST_BUILD"
cmake --build "$HOST_BUILD" -j"$JOBS" --target dotd-probe
step "end to end: the $ARCH dotd under qemu-user, unbound, kdig"
bash "$SRC/tests/cross/e2e.sh" "$BUILD/tests/emu-dotd" "$HOST_BUILD/tests/integration/dotd-probe"
step "all passed"
