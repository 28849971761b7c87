#!/usr/bin/env bash
# instr.sh: the instructions of one cache hit in dotd's user space, counted by callgrind. Unlike
# CPU time these counts repeat to the instruction for the same binary and load, whatever else
# the machine does, so a change of the hit path shows even where the kernel's 90 % of a hit
# (docs/BENCHMARKS.md, the profile) hides it in the timings. The kernel's share is not counted.
#
# A real unbound serving DoT on loopback (tests/integration/lib.sh) in a private network
# namespace, dotd in front of it under `valgrind --tool=callgrind` with instrumentation off; a
# warm-up puts NAMES names in the cache, then instrumentation goes on for HITS hits sent by
# dnsperf at RATE q/s (one datagram per wake-up at this rate: the per-batch costs are all in).
# Prints the instructions per hit and writes OUT/callgrind.out and OUT/top.txt (the functions
# by their own instructions).
#
# usage: instr.sh DOTD PROBE [OUT]
# environment: NAMES (1000), ROUNDS of the names (20), RATE (2000)
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 DOTD PROBE [OUT]" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
OUT=$(realpath -m "${3:-build/bench-instr}")

if [[ -z ${INSTR_NETNS:-} ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v unshare > /dev/null; then
		export INSTR_NETNS=1
		exec unshare --net -- bash "$0" "$DOTD" "$PROBE" "$OUT"
	fi
	export INSTR_NETNS=0
fi
if [[ $INSTR_NETNS == 1 ]]; then
	ip link set lo up
fi

NAMES=${NAMES:-1000}
ROUNDS=${ROUNDS:-20}
RATE=${RATE:-2000}

for tool in dnsperf unbound unbound-control valgrind callgrind_control callgrind_annotate; do
	if ! command -v "$tool" > /dev/null; then
		echo "SKIP: $tool is not installed" >&2
		exit 77
	fi
done

HERE=$(cd "$(dirname "$0")" && pwd)/../integration
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
mkdir -p "$OUT"

start_unbound upstream "  verbosity: 0"
awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) { print "h" i ".bench. A" } }' \
	> "$TMP/names.txt"

new_port DPORT
cat > "$TMP/dotd.yml" << EOF
listen_addresses: [$HOST@$DPORT]
tls_ca_file: "$TMP/pki/ca.pem"
round_robin_upstreams: 0
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
EOF
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
	"$DOTD" -C "$TMP/dotd.yml" > "$TMP/dotd.log" 2>&1 &
VG_PID=$!
PIDS+=("$VG_PID")
if ! wait_answer "$DPORT" 30 "$VG_PID"; then
	show_log "$TMP/dotd.log"
	die "dotd answers under callgrind"
fi

# Every name once: misses, then in the cache.
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/names.txt" -n 2 -c 1 -q 10 -t 5 > "$TMP/warm.perf"
callgrind_control -i on "$VG_PID" > /dev/null 2>&1
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/names.txt" -n "$ROUNDS" -c 1 -Q "$RATE" -q 10 -t 5 \
	> "$TMP/hits.perf"
callgrind_control -i off "$VG_PID" > /dev/null 2>&1
kill -TERM "$VG_PID"
wait "$VG_PID" || true

hits=$(awk '/Queries completed/ { print $3 }' "$TMP/hits.perf")
noerror=$(awk '/Response codes/ { for (i = 1; i <= NF; i++) if ($i == "NOERROR") print $(i + 1) }' \
	"$TMP/hits.perf")
if [[ -z $hits || $hits -eq 0 || ${noerror:-0} -lt $((hits * 9 / 10)) ]]; then
	cat "$TMP/hits.perf" >&2
	die "the hits were answered (NOERROR)"
fi
callgrind_annotate "$OUT/callgrind.out" 2> /dev/null > "$OUT/top.txt"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$OUT/top.txt")
echo "hits: $hits; instructions: $total; per hit: $((total / hits))" | tee "$OUT/summary.txt"
