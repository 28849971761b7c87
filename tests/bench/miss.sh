#!/usr/bin/env bash
# miss.sh: the DoT miss path alone (issue 13, part 3), and where its time goes. The upstream of
# side.sh (a real unbound serving DoT on loopback, no cache of its own, tests/integration/lib.sh)
# in a private network namespace; then, ROUNDS times, dnsperf straight to it over DoT ("direct",
# the ceiling dnsperf's own TLS client reaches) and dotd in front of it, each in two phases:
# misses at saturation (dnsperf -c 4 -q 100) and misses at a fixed rate (-Q MISS_RATE, latency
# p50/p90/p99 from dnsperf -v). In the saturation phase the CPU time of every process (dnsperf,
# dotd, the upstream; /proc/PID/stat and getrusage) says which one is the cap on this machine,
# and the TCP connections dotd holds to the upstream (ss) with dotd's own counters say how the
# queries travel. With PERF=1 a third dotd phase runs under `perf record -g` (report in
# OUT/perf-ROUND.txt), with STRACE=1 a fourth under `strace -c` (OUT/strace-ROUND.txt), each
# with the queries it answered, so that calls per query can be read.
#
# usage: miss.sh DOTD PROBE [OUT]
# environment: ROUNDS (2), SECS per phase (4), MISS_RATE (5000), PERF (0), STRACE (0),
# SYSTEMS (direct dotd), DOTD_EXTRA (YAML lines added to dotd's configuration)
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 DOTD PROBE [OUT]" >&2
	exit 2
fi
BENCH=$(cd "$(dirname "$0")" && pwd)
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
OUT=$(realpath -m "${3:-build/bench-miss}")

# A private network namespace, as side.sh: nobody else's ports, our own TCP counters.
if [[ -z ${MISS_NETNS:-} ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v unshare > /dev/null; then
		export MISS_NETNS=1
		exec unshare --net -- bash "$0" "$DOTD" "$PROBE" "$OUT"
	fi
	export MISS_NETNS=0
fi
if [[ $MISS_NETNS == 1 ]]; then
	ip link set lo up
fi

ROUNDS=${ROUNDS:-2}
SECS=${SECS:-4}
MISS_RATE=${MISS_RATE:-5000}
PERF=${PERF:-0}
STRACE=${STRACE:-0}
SYSTEMS=${SYSTEMS:-direct dotd}
DOTD_EXTRA=${DOTD_EXTRA:-}

for tool in dnsperf dig unbound unbound-control ss; do
	if ! command -v "$tool" > /dev/null; then
		echo "SKIP: $tool is not installed" >&2
		exit 77
	fi
done

HERE=$BENCH/../integration
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

mkdir -p "$OUT"
rm -f "$OUT/miss.tsv"
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# dp FILE LABEL: the first number after "LABEL:" in a dnsperf report.
dp()
{
	awk -v k="$2:" '{ i = index($0, k); if (i) { split(substr($0, i + length(k)), a, " ");
		print a[1] + 0; exit } }' "$1"
}

# record ROUND SYSTEM METRIC VALUE: one figure, to miss.tsv and the terminal.
record()
{
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" | tee -a "$OUT/miss.tsv"
}

# names FILE PREFIX N: N names under bench. (the upstream's redirect zone), new to every cache.
names()
{
	awk -v p="$2" -v n="$3" 'BEGIN { for (i = 0; i < n; i++) { print p i ".bench. A" } }' > "$1"
}

# load NAME ARGS...: dnsperf ARGS, report in $TMP/NAME.perf, its own CPU seconds (user + system,
# from getrusage of the subshell's child) in $TMP/NAME.cpu.
load()
{
	local name=$1
	shift
	(
		dnsperf "$@" > "$TMP/$name.perf" 2>&1 || true
		# Straight to a file: in a pipe, times would run in a child that has no children.
		times > "$TMP/$name.times"
	)
	awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$TMP/$name.times" \
		> "$TMP/$name.cpu"
}

# latency ROUND SYSTEM NAME: p50/p90/p99 in ms of a dnsperf -v report, a lost query slowest.
latency()
{
	local p50 p90 p99
	awk '$1 == ">" { if (NF >= 5 && $NF ~ /^[0-9.]+$/) { print $NF * 1000 }
		else { print "inf" } }' "$TMP/$3.perf" | sort -g > "$TMP/$3.lat"
	read -r p50 p90 p99 < <(awk '{ v[NR] = $1 } END {
		split("0.50 0.90 0.99", p, " ");
		for (j = 1; j <= 3; j++) { i = int(p[j] * NR); if (i < p[j] * NR) { i++ } if (i < 1) { i = 1 }
			printf "%s%s", (j > 1 ? " " : ""), (NR ? v[i] : "nan") }
		print "" }' "$TMP/$3.lat")
	record "$1" "$2" lat_qps "$(dp "$TMP/$3.perf" "Queries per second")"
	record "$1" "$2" lat_p50_ms "$p50"
	record "$1" "$2" lat_p90_ms "$p90"
	record "$1" "$2" lat_p99_ms "$p99"
}

# share TICKS0 TICKS1: CPU used over SECS as a share of one core.
share()
{
	awk -v a="$1" -v b="$2" -v hz="$TICK" -v s="$SECS" 'BEGIN { printf "%.2f", (b - a) / hz / s }'
}

# per_query TICKS0 TICKS1 QPS: CPU microseconds per query.
per_query()
{
	awk -v a="$1" -v b="$2" -v hz="$TICK" -v s="$SECS" -v q="$3" \
		'BEGIN { printf "%.1f", (q > 0 ? (b - a) / hz * 1e6 / (q * s) : 0) }'
}

# machine_ticks: CPU ticks the whole machine has been busy (other engineers' work included).
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
# steal_ticks: CPU ticks the hypervisor gave to other guests while this one wanted them.
steal_ticks() { awk '$1 == "cpu" { print $9; exit }' /proc/stat; }

# conns PORT: established TCP connections to the upstream's PORT, and the largest send and
# receive queues among them (ss; with a state filter its columns start at Recv-Q), as
# "N SENDQ RECVQ".
conns()
{
	ss -tnH state established "( dport = :$1 )" |
		awk '{ n++; if ($1 > r) { r = $1 } if ($2 > s) { s = $2 } }
			END { printf "%d %d %d\n", n, s, r }'
}

# saturate ROUND SYSTEM NAME PID PORT ARGS...: misses at saturation against PORT (PID is the
# system in front, or the upstream itself), with the CPU of the system, the upstream and dnsperf.
saturate()
{
	local round=$1 sys=$2 name=$3 pid=$4 port=$5 d0 d1 u0 u1 m0 m1 s0 s1 c qps dn ours
	shift 5
	d0=$(cpu_ticks "$pid")
	u0=$(cpu_ticks "$UPSTREAM_PID")
	m0=$(machine_ticks)
	s0=$(steal_ticks)
	load "$name" "$@" -s "$HOST" -p "$port" -n 1 -l "$SECS" -c 4 -q 100 -t 2 &
	sleep $((SECS / 2))
	c=$(conns "$UPORT")
	wait $!
	d1=$(cpu_ticks "$pid")
	u1=$(cpu_ticks "$UPSTREAM_PID")
	m1=$(machine_ticks)
	s1=$(steal_ticks)
	qps=$(dp "$TMP/$name.perf" "Queries per second")
	dn=$(awk -v c="$(cat "$TMP/$name.cpu")" -v hz="$TICK" 'BEGIN { printf "%d", c * hz }')
	ours=$((dn + u1 - u0))
	record "$round" "$sys" thr_qps "$qps"
	record "$round" "$sys" thr_lost "$(dp "$TMP/$name.perf" "Queries lost")"
	if [[ $sys != direct ]]; then
		record "$round" "$sys" thr_cpu_self "$(share "$d0" "$d1")"
		record "$round" "$sys" thr_us_per_query_self "$(per_query "$d0" "$d1" "$qps")"
		ours=$((ours + d1 - d0))
	fi
	record "$round" "$sys" thr_cpu_upstream "$(share "$u0" "$u1")"
	record "$round" "$sys" thr_us_per_query_upstream "$(per_query "$u0" "$u1" "$qps")"
	record "$round" "$sys" thr_cpu_dnsperf "$(share 0 "$dn")"
	record "$round" "$sys" thr_us_per_query_dnsperf "$(per_query 0 "$dn" "$qps")"
	# What the machine did besides: other engineers' builds and benchmarks share its cores.
	record "$round" "$sys" thr_cpu_others "$(share "$ours" "$((m1 - m0))")"
	record "$round" "$sys" thr_cpu_steal "$(share "$s0" "$s1")"
	record "$round" "$sys" thr_upstream_conns_sendq_recvq "$c"
}

# dotd_stats PID: dotd's counters of the upstream (SIGUSR1, its log).
dotd_stats()
{
	upstream_stats "$1" "$TMP/dotd.log" "$HOST@$UPORT" || true
}

# --- the upstream, as side.sh has it ---

head -c 80 /dev/urandom > "$TMP/ticket.key"
start_unbound upstream "  tls-session-ticket-keys: \"$TMP/ticket.key\"
  incoming-num-tcp: 1000
  tcp-idle-timeout: ${UPSTREAM_IDLE_MS:-500}
  verbosity: 0"
UPSTREAM_PID=$UNBOUND_PID
if ! dig +short +tries=1 +time=2 @"$HOST" -p "$UPORT" +tls www.example A | grep -q 192.0.2.80; then
	die "the upstream answers over DoT"
fi

run_dotd()
{
	{
		echo "listen_addresses: [$HOST@$1]"
		echo "tls_ca_file: \"$TMP/pki/ca.pem\""
		echo "round_robin_upstreams: 0"
		echo "cache_size: $((64 * 1024 * 1024))"
		if [[ -n $DOTD_EXTRA ]]; then
			printf '%s\n' "$DOTD_EXTRA"
		fi
		echo "upstream_recursive_servers:"
		echo "  - address_data: $HOST"
		echo "    tls_port: $UPORT"
		echo "    tls_auth_name: \"dot.test\""
	} > "$TMP/dotd.yml"
	"$DOTD" -C "$TMP/dotd.yml" > "$TMP/dotd.log" 2>&1 &
	SYS_PID=$!
	PIDS+=("$SYS_PID")
}

measure_direct()
{
	local r=$1
	names "$TMP/d-thr.txt" "dt$r-" $((SECS * 150000))
	names "$TMP/d-lat.txt" "dl$r-" $((SECS * MISS_RATE * 2))
	saturate "$r" direct "direct-thr-$r" "$UPSTREAM_PID" "$UPORT" -m dot -d "$TMP/d-thr.txt"
	load "direct-lat-$r" -v -m dot -s "$HOST" -p "$UPORT" -d "$TMP/d-lat.txt" -n 1 -l "$SECS" \
		-Q "$MISS_RATE" -c 1 -q 100 -t 2
	latency "$r" direct "direct-lat-$r"
}

measure_dotd()
{
	local r=$1 port='' pid line n0 n1 t0 t1
	new_port port
	run_dotd "$port"
	pid=$SYS_PID
	if ! wait_answer "$port" 15 "$pid"; then
		show_log dotd "$TMP/dotd.log"
		die "dotd answers on $HOST@$port"
	fi
	sleep 0.5
	names "$TMP/t-thr.txt" "tt$r-" $((SECS * 150000))
	names "$TMP/t-lat.txt" "tl$r-" $((SECS * MISS_RATE * 2))
	saturate "$r" dotd "dotd-thr-$r" "$pid" "$port" -d "$TMP/t-thr.txt"
	line=$(dotd_stats "$pid")
	record "$r" dotd stats_after_thr "$line"
	load "dotd-lat-$r" -v -s "$HOST" -p "$port" -d "$TMP/t-lat.txt" -n 1 -l "$SECS" \
		-Q "$MISS_RATE" -c 1 -q 100 -t 2
	latency "$r" dotd "dotd-lat-$r"
	if [[ $PERF == 1 ]]; then
		names "$TMP/t-perf.txt" "tp$r-" $((SECS * 150000))
		load "dotd-perf-$r" -s "$HOST" -p "$port" -d "$TMP/t-perf.txt" -n 1 -l "$SECS" \
			-c 4 -q 100 -t 2 &
		sleep 1
		perf record -q -g -o "$TMP/perf.data" -p "$pid" -- sleep $((SECS - 2)) \
			> /dev/null 2>&1 || true
		wait $!
		perf report -i "$TMP/perf.data" --no-children --percent-limit 0.7 --stdio \
			-g none 2> /dev/null > "$OUT/perf-$r.txt" || true
		perf report -i "$TMP/perf.data" --children --percent-limit 3 --stdio -g none \
			2> /dev/null > "$OUT/perf-children-$r.txt" || true
		perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none \
			2> /dev/null > "$OUT/perf-dso-$r.txt" || true
		record "$r" dotd perf_qps "$(dp "$TMP/dotd-perf-$r.perf" "Queries per second")"
	fi
	if [[ $STRACE == 1 ]] && command -v strace > /dev/null; then
		names "$TMP/t-strace.txt" "ts$r-" $((SECS * 150000))
		load "dotd-strace-$r" -s "$HOST" -p "$port" -d "$TMP/t-strace.txt" -n 1 -l "$SECS" \
			-c 4 -q 100 -t 2 &
		sleep 1
		line=$(dotd_stats "$pid")
		n0=$(stat_of "$line" queries || echo 0)
		t0=$SECONDS
		timeout -s INT 2 strace -c -f -p "$pid" -o "$OUT/strace-$r.txt" || true
		t1=$SECONDS
		line=$(dotd_stats "$pid")
		n1=$(stat_of "$line" queries || echo 0)
		wait $!
		record "$r" dotd strace_upstream_queries "$((n1 - n0)) in $((t1 - t0)) s"
	fi
	kill -TERM "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
}

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for sys in $SYSTEMS; do
		"measure_$sys" "$ROUND"
	done
done
echo "figures in $OUT/miss.tsv"
