#!/usr/bin/env bash
# resolver/netwatch.c's clocks under libfaketime: dotd-netwatch-probe -c with CLOCK_REALTIME
# faked (FAKETIME_DONT_FAKE_MONOTONIC=1: MONOTONIC and BOOTTIME stay real) and an offset read
# from a file this test rewrites:
#   - the wall clock as it is: no event for 2.5 s (no false jump, no false suspend)
#   - set forward an hour: "clock" with clock_jump_ms about +3600000, within about 2 s
#   - set back two hours: "clock" with about -7200000; never "suspend"
# This is also what shows that the REALTIME reading goes through clock_gettime(), where
# libfaketime sees it.
#
# usage: netwatch_clock.sh PROBE
# Exit 77 (skipped) without libfaketime (Debian: faketime, libfaketime).
set -uo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 PROBE" >&2
	exit 2
fi
probe=$(realpath "$1")
lib=""
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	if [[ -e $f ]]; then
		lib=$f
		break
	fi
done
if [[ -z $lib ]]; then
	echo "SKIP: no libfaketime.so.1 (Debian package faketime)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-netwatch-clock.XXXXXX")
pid=""
status=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() {
	echo "PASS: $*"
}

fail() {
	echo "FAIL: $*"
	echo "    the probe's output:"
	sed 's/^/    | /' "$tmp/out"
	if [[ -s $tmp/err ]]; then
		echo "    its stderr:"
		tail -n 20 "$tmp/err" | sed 's/^/    | /'
	fi
	status=1
}

# FAKETIME_NO_CACHE: the file is read at every call, not every 10 s (libfaketime's default).
# A sanitizer runtime wants to be first among the libraries: libfaketime comes before it here.
echo "+0" > "$tmp/offset"
LD_PRELOAD=$lib FAKETIME_TIMESTAMP_FILE=$tmp/offset FAKETIME_DONT_FAKE_MONOTONIC=1 \
	FAKETIME_NO_CACHE=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	"$probe" -c -v > "$tmp/out" 2> "$tmp/err" &
pid=$!
for ((i = 0; i < 100; i++)); do
	if grep -q '^ready ' "$tmp/out"; then
		break
	fi
	sleep 0.05
done
if ! grep -q '^ready ' "$tmp/out"; then
	fail "the probe started"
	exit 1
fi

# wait_for REGEX MS: an event matching REGEX among those after the first $seen, in $line.
seen=0
line=""
wait_for() {
	local t
	for ((t = 0; t < $2; t += 50)); do
		line=$(grep '^event ' "$tmp/out" | tail -n +$((seen + 1)) | grep -E -m1 -- "$1")
		if [[ -n $line ]]; then
			seen=$(grep -c '^event ' "$tmp/out")
			return 0
		fi
		sleep 0.05
	done
	return 1
}

field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"
}

sleep 2.5
if ! grep -q '^event ' "$tmp/out"; then
	pass "the clocks as they are: no event in 2.5 s"
else
	fail "the clocks as they are: no event in 2.5 s"
fi

# near WANT: clock_jump_ms of $line within 1.5 s of WANT (the probe reads the clocks once a
# second; the file is rewritten between two readings).
near() {
	local j
	j=$(field clock_jump_ms)
	[[ -n $j ]] && ((j > $1 - 1500 && j < $1 + 1500))
}

t0=$(date +%s%N)
echo "+1h" > "$tmp/offset"
if wait_for 'kinds=clock ' 3000 && near 3600000; then
	pass "wall clock set an hour forward: 'clock', $(field clock_jump_ms) ms," \
		"$((($(date +%s%N) - t0) / 1000000)) ms after the change at most"
else
	fail "wall clock set an hour forward: 'clock' with clock_jump_ms about 3600000"
fi

echo "-1h" > "$tmp/offset"
if wait_for 'kinds=clock ' 3000 && near -7200000; then
	pass "wall clock set two hours back: 'clock', $(field clock_jump_ms) ms"
else
	fail "wall clock set two hours back: 'clock' with clock_jump_ms about -7200000"
fi

if grep -q 'suspend' "$tmp/out"; then
	fail "no 'suspend' (BOOTTIME is not faked)"
fi

kill "$pid"
wait "$pid"
rc=$?
pid=""
if ((rc != 0)); then
	fail "SIGTERM: the probe exits 0 (exit $rc)"
fi
if grep -qiE 'runtime error|AddressSanitizer|LeakSanitizer' "$tmp/err"; then
	fail "no sanitizer report"
fi
exit "$status"
