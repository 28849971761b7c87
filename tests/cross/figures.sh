#!/usr/bin/env bash
# figures.sh: every figure of docs/ROUTER.md (`make router-figures`), in the order the document
# gives them. Needs the host build HOST_BUILD (default build: dotd, dotd-probe, dotd-fakeup)
# and the cross builds of `make cross ARCH=...` (build-cross-ARCH); an architecture not built
# yet is built first (tests/cross/cross.sh, with its unit tests and end-to-end run).
#   1. sizes per architecture (tests/cross/sizes.sh)
#   2. RSS idle and under 100 qps, the host's dotd and the mipsel one under qemu-user
#      (tests/cross/rss.sh)
#   3. tests/integration/load.sh against the mipsel dotd under qemu-user (its RSS bound is then
#      qemu-user's RSS)
#   4. the integration suite with dotd held to 64 MB (tests/cross/mem64.sh)
# Environment: ARCHS (default "mipsel armhf arm64"), SECONDS_LOAD (default 60).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
HOST_BUILD=$(realpath "${HOST_BUILD:-$SRC/build}")
ARCHS=${ARCHS:-mipsel armhf arm64}
SECONDS_LOAD=${SECONDS_LOAD:-60}
PROBE=$HOST_BUILD/tests/integration/dotd-probe
[[ -x $HOST_BUILD/resolver/dotd && -x $PROBE ]] || {
	echo "$0: no dotd or dotd-probe in $HOST_BUILD (make build)" >&2
	exit 1
}
status=0

echo "## figures.sh: $(git -C "$SRC" describe --always --dirty 2> /dev/null || echo unknown)," \
	"$(date -u +%Y-%m-%d), $(nproc) CPUs, qemu: $(qemu-mipsel --version | head -n 1)"
# shellcheck disable=SC2086 # ARCHS is a list
for arch in $ARCHS; do
	if [[ ! -x $SRC/build-cross-$arch/resolver/dotd ]]; then
		HOST_BUILD=$HOST_BUILD "$SRC/tests/cross/cross.sh" "$arch"
	fi
done

echo "## 1. sizes: tests/cross/sizes.sh $ARCHS"
# shellcheck disable=SC2086
"$SRC/tests/cross/sizes.sh" $ARCHS

echo "## 2. RSS: tests/cross/rss.sh $HOST_BUILD/resolver/dotd $PROBE $SECONDS_LOAD"
"$SRC/tests/cross/rss.sh" "$HOST_BUILD/resolver/dotd" "$PROBE" "$SECONDS_LOAD" |
	grep -v '^PASS' || status=1
emu=$SRC/build-cross-mipsel/tests/emu-dotd
if [[ -x $emu ]]; then
	echo "## 2. RSS (qemu-mipsel's): tests/cross/rss.sh $emu $PROBE $SECONDS_LOAD"
	"$SRC/tests/cross/rss.sh" "$emu" "$PROBE" "$SECONDS_LOAD" | grep -v '^PASS' || status=1

	echo "## 3. tests/integration/load.sh $emu $PROBE"
	bash "$SRC/tests/integration/load.sh" "$emu" "$PROBE" || status=1
fi

echo "## 4. tests/cross/mem64.sh $HOST_BUILD"
"$SRC/tests/cross/mem64.sh" "$HOST_BUILD" || status=1
exit "$status"
