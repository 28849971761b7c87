#!/usr/bin/env bash
# Runs shellcheck at warning level over every shell script of the repository outside the OpenWrt
# package (tests/openwrt/shellcheck.sh has those, at every level): the tests, the benchmarks,
# the cross builds and .ci. A variable read only by expect's eval is marked so, with SC2034
# disabled for it and a comment that says why. Run from the source directory, so that the
# source= directives' paths resolve. Exit 77 (skipped) without shellcheck.
#
# usage: shellcheck.sh SOURCE_DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 SOURCE_DIR" >&2
	exit 2
fi
if ! command -v shellcheck > /dev/null; then
	echo "SKIP: shellcheck is not installed (Debian: apt-get install shellcheck)"
	exit 77
fi
cd "$1"
status=0
n=0
while IFS= read -r file; do
	n=$((n + 1))
	if ! out=$(shellcheck -S warning -x "$file" 2>&1); then
		echo "FAIL: $file"
		echo "$out"
		status=1
	fi
done < <(find tests .ci -path tests/openwrt -prune -o -type f \( -name '*.sh' -o -path .ci/run \
	-o -path .ci/install-deps \) -print | sort)
if ((n < 40)); then
	echo "FAIL: only $n scripts found under tests/ and .ci/"
	status=1
fi
echo "$n scripts, status $status"
exit "$status"
