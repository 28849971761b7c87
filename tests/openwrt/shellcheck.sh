#!/usr/bin/env bash
# Runs shellcheck on the shell scripts of the OpenWrt package and their tests: those that run on
# OpenWrt (etc/openwrt/, and the stand-ins sourced with them) as POSIX sh (-s sh: busybox ash
# has little more), the tests (bash) by their shebang. Run from the source directory, so that
# the `# shellcheck source=` paths resolve (-x follows them). Exit 77 (skipped) without shellcheck.
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
# run ARGS... FILE: one file, PASS or FAIL with shellcheck's output.
run() {
	local file=${*: -1}

	if out=$(shellcheck -x "$@" 2>&1); then
		echo "PASS: $file"
	else
		echo "FAIL: $file"
		echo "$out"
		status=1
	fi
}
for f in etc/openwrt/dotd.init etc/openwrt/dotd-uci.sh etc/openwrt/dotd.hotplug \
	etc/openwrt/dotd-manual-yml.sh \
	tests/openwrt/functions.sh tests/openwrt/rc.common.sh tests/openwrt/uci-cli.sh; do
	run -s sh "$f"
done
for f in tests/openwrt/hotplug.sh tests/openwrt/uci.sh tests/openwrt/shellcheck.sh; do
	run "$f"
done
# Every shell script of these directories is above: a new one must be added.
for f in etc/openwrt/* tests/openwrt/*; do
	[[ -f $f ]] || continue
	case $f in
	*.config | *.py | */Makefile) continue ;;
	esac
	if ! grep -qF -- "$f" "$0"; then
		echo "FAIL: $f is not checked here: add it to tests/openwrt/shellcheck.sh"
		status=1
	fi
done
exit "$status"
