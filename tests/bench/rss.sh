#!/usr/bin/env bash
# rss.sh DOTD PROBE [OUT]: where dotd's resident memory goes (docs/ARCHITECTURE.md, "Memory").
# A real unbound serves DoT on loopback (tests/integration/lib.sh), in a private network
# namespace when run as root; dotd runs the router configuration (etc/dotd.yml's defaults:
# cache_size 4 MiB, queries_max 2048; two upstreams, both that unbound, strict authentication).
# At each stage it prints VmRSS, RssAnon, RssFile (/proc/PID/status), Pss and its anonymous and
# file parts (/proc/PID/smaps_rollup) and the mappings that hold the most (/proc/PID/smaps,
# summed by file, "[anon]" for anonymous mappings without a name):
#   libraries   lib_floor, linked with dotd's libraries and calling none: what loading costs
#   idle        dotd serving, no query asked yet (no TLS connection)
#   handshake   SETTLE s after the first answer (one full TLS handshake, one miss)
#   load        at the end of SECS s of dnsperf at RATE q/s, 70 % hits (7 lines in 10 from
#               HOT names asked over and over, 3 a name never asked before), while the upstream
#               is killed (SIGKILL, restarted 5 s later) at 1/4 and 3/4 of the run and frozen
#               (SIGSTOP, SIGCONT 10 s later) at 1/2; VmRSS is also read every second
#   after       SETTLE s after the load
# Lines "STAGE vmrss_kb N", "STAGE rss_anon_kb N", ... are for scripts; OUT (default: a
# temporary directory) keeps each stage's smaps and dnsperf's output.
# environment: SECS (240), RATE (3000), HOT (2000), SETTLE (5), TOP (8 mappings), MALLOC_STATS
# (when set and gdb is installed: glibc's malloc_stats() of dotd at each stage, through gdb),
# LIB_FLOOR (default: PROBE's ../bench/lib_floor; the stage is left out without it)
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
	echo "usage: $0 DOTD PROBE [OUT]" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
OUT=${3:-}
if [[ -n $OUT ]]; then
	OUT=$(realpath -m "$OUT")
fi
HERE=$(cd "$(dirname "$0")/../integration" && pwd)

# Our own loopback only: no port of another test or daemon on this host is hit.
if [[ -z ${RSS_NETNS:-} ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v unshare > /dev/null; then
		export RSS_NETNS=1
		exec unshare --net -- bash "$0" "$@"
	fi
	export RSS_NETNS=0
fi
if [[ $RSS_NETNS == 1 ]]; then
	ip link set lo up
fi

SECS=${SECS:-240}
RATE=${RATE:-3000}
HOT=${HOT:-2000}
SETTLE=${SETTLE:-5}
TOP=${TOP:-8}
MALLOC_STATS=${MALLOC_STATS:-}
LIB_FLOOR=${LIB_FLOOR:-$(dirname "$PROBE")/../bench/lib_floor}

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

command -v dnsperf > /dev/null 2>&1 || die "dnsperf is installed"
((SECS >= 40)) || die "SECS is at least 40 (the upstream's schedule)"
OUT=${OUT:-$TMP/out}
mkdir -p "$OUT"

status_kb()
{
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# stage NAME PID: the figures of one stage.
stage()
{
	local name=$1 pid=$2 n
	cp "/proc/$pid/smaps" "$OUT/$name.smaps"
	cp "/proc/$pid/smaps_rollup" "$OUT/$name.rollup"
	echo "== $name"
	echo "$name vmrss_kb $(status_kb "$pid" VmRSS)"
	echo "$name rss_anon_kb $(status_kb "$pid" RssAnon)"
	echo "$name rss_file_kb $(status_kb "$pid" RssFile)"
	awk -v s="$name" '$1 == "Pss:" { p = $2 } $1 == "Pss_Anon:" { a = $2 }
		$1 == "Pss_File:" { f = $2 }
		END { printf "%s pss_kb %d\n%s pss_anon_kb %d\n%s pss_file_kb %d\n", s, p, s, a, s, f }' \
		"$OUT/$name.rollup"
	if [[ -n $MALLOC_STATS ]]; then
		# glibc's malloc_stats() writes to dotd's stderr, its log.
		n=$(wc -l < "$TMP/router.log")
		gdb -p "$pid" -batch -ex 'call (void)malloc_stats()' > /dev/null 2>&1 || true
		sleep 0.5
		tail -n +"$((n + 1))" "$TMP/router.log" |
			sed -n "/^\(Arena\|system bytes\|in use bytes\)/s/^/$name malloc: /p"
	fi
	echo "   Rss kB  Anon kB  mapping"
	awk '/^[0-9a-f]+-[0-9a-f]+ / { m = NF >= 6 ? $6 : "[anon]"; sub(".*/", "", m); next }
		$1 == "Rss:" { rss[m] += $2 }
		$1 == "Anonymous:" { anon[m] += $2 }
		END { for (m in rss) { printf "%9d %8d  %s\n", rss[m], anon[m], m } }' \
		"$OUT/$name.smaps" | sort -rn | head -n "$TOP"
}

# The floor: a process linked with dotd's libraries that calls none of them.
if [[ -x $LIB_FLOOR ]]; then
	"$LIB_FLOOR" &
	floor_pid=$!
	PIDS+=("$floor_pid")
	sleep 0.5
	MALLOC_STATS='' stage libraries "$floor_pid"
	kill "$floor_pid"
	wait "$floor_pid" 2> /dev/null || true
fi

start_unbound unbound
dotd_in_front router "" "$UPORT" "$UPORT"
wait_log "$TMP/router.log" "serving with" 20 || die "dotd starts"
sleep "$SETTLE"
stage idle "$DOTD_PID"

wait_answer "$DPORT" 20 "$DOTD_PID" || die "dotd answers"
sleep "$SETTLE"
stage handshake "$DOTD_PID"

# unbound answers every name under bench. (a redirect zone, TTL 300 s).
awk -v n="$((SECS * RATE))" -v hot="$HOT" 'BEGIN {
	for (i = 0; i < n; i++) {
		if (i % 10 < 7) {
			printf "h%d.mix.bench A\n", (i * 7 + int(i / 10)) % hot
		} else {
			printf "n%d.mix.bench A\n", i
		}
	}
}' > "$TMP/mix.txt"

# VmRSS every second, the largest in $TMP/max (the upstream's schedule runs in this shell, so
# that every unbound it starts is in PIDS).
rss_sampler()
{
	local max=0 rss t=0
	while alive "$DOTD_PID"; do
		rss=$(status_kb "$DOTD_PID" VmRSS) || break
		((rss > max)) && max=$rss && echo "$max" > "$TMP/max"
		if ((t % 30 == 0)); then
			echo "t=${t}s vmrss_kb $rss rss_anon_kb $(status_kb "$DOTD_PID" RssAnon)"
		fi
		sleep 1
		t=$((t + 1))
	done
}

upstream_kill()
{
	echo "$(date +%T) upstream killed"
	kill -KILL "$UNBOUND_PID"
	wait "$UNBOUND_PID" 2> /dev/null || true
	sleep 5
	unbound_run unbound "restarted"
}

dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/mix.txt" -Q "$RATE" -l "$SECS" -c 4 -q 1000 -t 2 \
	> "$OUT/dnsperf.out" 2>&1 &
perf_pid=$!
PIDS+=("$perf_pid")
rss_sampler &
sampler_pid=$!
PIDS+=("$sampler_pid")
q=$((SECS / 4))
sleep "$q"
upstream_kill
sleep $((q - 5))
echo "$(date +%T) upstream frozen"
kill -STOP "$UNBOUND_PID"
sleep 10
kill -CONT "$UNBOUND_PID"
sleep $((q - 10))
upstream_kill
wait "$perf_pid" || true
kill "$sampler_pid" 2> /dev/null || true
wait "$sampler_pid" 2> /dev/null || true
stage load "$DOTD_PID"
echo "load vmrss_max_kb $(cat "$TMP/max")"
grep -E 'Queries (sent|completed|lost)|Response codes|Average Latency' "$OUT/dnsperf.out"
sleep "$SETTLE"
stage after "$DOTD_PID"
upstream_stats "$DOTD_PID" "$TMP/router.log" "$HOST@$UPORT" || true
grep -E 'cache: ' "$TMP/router.log" | tail -n 1 || true
stop_dotd "$DOTD_PID" 20
((STOP_STATUS == 0)) || die "clean stop (status $STOP_STATUS)"
echo "smaps and dnsperf output: $OUT"
