#!/usr/bin/env bash
# The cost of DNSSEC validation (make bench): two dotds in front of the DNSSEC lab's DoT
# upstream (tests/dnssec/lab.sh: NSD serving the signed world, a non-validating unbound over
# it), one with dnssec on and the world's trust anchor, one without. After the DNSKEYs are warm
# (one query each), each dotd gets its own N new names under the wildcard of secure.test.
# (every one a miss for dotd and for unbound, and for the validator an A RRset and the NSEC of
# the wildcard proof to verify, ECDSA P-256), at a fixed rate with dnsperf; then the same names
# again (all cache hits). Measured per dotd: its CPU time per query (utime + stime from
# /proc/PID/stat over the phase), dnsperf's mean and p99-ish latency, and RSS before and after
# (with the validator's zone cache from the statistics). Figures, not assertions: the machine
# is shared.
#
# usage: dnssec.sh DOTD PROBE [N [RATE]]
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 DOTD PROBE [N [RATE]]" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
N=${3:-20000}
RATE=${4:-2000}
BENCH=$(cd "$(dirname "$0")" && pwd)
HERE=$BENCH/../integration

# shellcheck source=tests/dnssec/lab.sh
. "$BENCH/../dnssec/lab.sh"
if ! why=$(lab_need); then
	echo "SKIP: $why" >&2
	exit 77
fi
command -v dnsperf > /dev/null || { echo "SKIP: dnsperf is not installed" >&2; exit 77; }
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

lab_start > /dev/null

# cpu_ticks PID: user + system time of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

# run_phase PORT PID FILE: dnsperf over FILE at RATE; prints "cpu_us_per_query mean_ms done".
run_phase()
{
	local port=$1 pid=$2 file=$3 t0 t1 out answered mean
	t0=$(cpu_ticks "$pid")
	out=$(dnsperf -s "$HOST" -p "$port" -d "$file" -n 1 -Q "$RATE" -c 1 -q 200 -t 5 2>&1)
	t1=$(cpu_ticks "$pid")
	answered=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' <<< "$out")
	mean=$(sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p' <<< "$out")
	awk -v a="$t0" -v b="$t1" -v n="${answered:-0}" -v hz="$TICK" -v m="${mean:-0}" \
		'BEGIN { printf "%.1f %.3f %d\n", n ? (b - a) * 1e6 / hz / n : 0, m * 1000, n }'
}

declare -A RESULT
for mode in off on; do
	extra=''
	if [[ $mode == on ]]; then
		extra="dnssec: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors: \"$LAB_WORLD/root.key\""
	fi
	dotd_in_front "bench-$mode" "cache_size: 67108864
$extra" "$LAB_DOT_PORT"
	lab_wait_soa "$DPORT" 10 "$DOTD_PID" || die "dotd ($mode) answers"
	lab_query "$DPORT" www.secure.test. A > /dev/null || true
	lab_query "$DPORT" x.wild.secure.test. A > /dev/null || true
	for ((i = 0; i < N; i++)); do
		echo "$mode$i.wild.secure.test. A"
	done > "$TMP/names-$mode.txt"
	rss0=$(rss_kb "$DOTD_PID")
	read -r miss_cpu miss_ms miss_n < <(run_phase "$DPORT" "$DOTD_PID" "$TMP/names-$mode.txt")
	read -r hit_cpu hit_ms hit_n < <(run_phase "$DPORT" "$DOTD_PID" "$TMP/names-$mode.txt")
	rss1=$(rss_kb "$DOTD_PID")
	check=$(lab_query "$DPORT" "${mode}1.wild.secure.test." A)
	ad=$(lab_ad "$check")
	kill -USR1 "$DOTD_PID"
	sleep 0.5
	zb=$(grep -o 'zone_bytes=[0-9]*' "$TMP/bench-$mode.log" | tail -n 1 | cut -d= -f2)
	RESULT[$mode]="$miss_cpu $miss_ms $miss_n $hit_cpu $hit_ms $hit_n $rss0 $rss1 ${zb:-0} $ad"
	stop_dotd "$DOTD_PID" 5
done

read -r m0 l0 n0 h0 hl0 hn0 r00 r10 z0 a0 <<< "${RESULT[off]}"
read -r m1 l1 n1 h1 hl1 hn1 r01 r11 z1 a1 <<< "${RESULT[on]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "DNSSEC validation cost: $N new names under *.wild.secure.test. at $RATE q/s, then again"
echo "(hits); dotd's CPU per query from /proc/PID/stat, latency from dnsperf, one run"
echo
echo "| | validation off | validation on | on / off |"
echo "|---|---|---|---|"
echo "| miss: dotd CPU per query | $m0 µs | $m1 µs | $(ratio "$m1" "$m0") |"
echo "| miss: mean latency | $l0 ms | $l1 ms | $(ratio "$l1" "$l0") |"
echo "| miss: answered | $n0 | $n1 | |"
echo "| hit: dotd CPU per query | $h0 µs | $h1 µs | $(ratio "$h1" "$h0") |"
echo "| hit: mean latency | $hl0 ms | $hl1 ms | $(ratio "$hl1" "$hl0") |"
echo "| hit: answered | $hn0 | $hn1 | |"
echo "| RSS after warm-up → after both phases | $r00 → $r10 kB | $r01 → $r11 kB | |"
echo "| validator zone cache | $z0 B | $z1 B | |"
echo "| AD on a validated name | $a0 | $a1 | |"
