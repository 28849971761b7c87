#!/usr/bin/env bash
# dotd gives back the memory of queries that waited for a frozen upstream, against a real
# unbound serving DoT on loopback: with unbound stopped (SIGSTOP), 2,000 questions never asked
# before wait in dotd until its timeout (1 s here) answers them SERVFAIL, which is not cached.
# RssAnon rises by some 1.4 MB meanwhile; 3 s after the last answer it must be back within
# 640 kB of where it was. Without the trim of resolver/query.c (query_trim) glibc kept 1.6 MB
# of the freed queries resident, below what was allocated after them, until the next handshake.
#
# Not for the ASan build: its allocator keeps freed memory in quarantine and has no trim.
#
# usage: trim.sh DOTD PROBE
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD PROBE" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
N=2000
ROSE_MIN_KB=1024 # what the waiting queries must add, or the test shows nothing
BACK_MAX_KB=640  # what may stay after the trim

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

if ! command -v dnsperf > /dev/null 2>&1; then
	die "dnsperf is installed"
fi

start_unbound unbound
# udp_queries_per_source: the N questions come from one address.
dotd_in_front dotd "$(printf 'timeout: 1000\nudp_queries_per_source: 4096')" "$UPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers"
pass "dotd starts and answers (timeout 1 s)"

anon_kb()
{
	awk '$1 == "RssAnon:" { print $2 }' "/proc/$DOTD_PID/status"
}

for ((i = 0; i < N; i++)); do
	echo "t$i-$RANDOM$RANDOM.bench A"
done > "$TMP/names"
sleep 1 # the first handshake's own trim is done
before=$(anon_kb)
kill -STOP "$UNBOUND_PID"
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/names" -n 1 -q $N -Q 10000 -t 5 > "$TMP/perf" 2>&1 &
perf=$!
sleep 0.6 # all sent (0.2 s), none answered yet (1 s)
waiting=$(anon_kb)
wait "$perf" || true
kill -CONT "$UNBOUND_PID"
at_end=$(anon_kb)
sleep 3
after=$(anon_kb)
servfail=$(awk '/Response codes:/ { for (i = 1; i < NF; i++) if ($i == "SERVFAIL") print $(i + 1) }' \
	"$TMP/perf")
figures="RssAnon ${before} kB before, ${waiting} with them waiting, ${at_end} at the last answer,"
figures+=" ${after} 3 s later"
if [[ ${servfail:-0} == "$N" ]]; then
	pass "the $N questions waited for the frozen upstream and got SERVFAIL"
else
	fail "the $N questions waited for the frozen upstream and got SERVFAIL (${servfail:-0})"
	indent < "$TMP/perf"
fi
if ((waiting - before >= ROSE_MIN_KB)); then
	pass "the waiting queries took memory ($figures)"
else
	fail "the waiting queries took memory: at least $ROSE_MIN_KB kB ($figures)"
fi
if ((after - before <= BACK_MAX_KB)); then
	pass "their memory went back, all but at most $BACK_MAX_KB kB ($figures)"
else
	fail "their memory went back, all but at most $BACK_MAX_KB kB ($figures)"
fi
check "dotd still serves" "$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80
stop_dotd "$DOTD_PID" 10
if ((STOP_STATUS == 0)); then
	pass "clean stop"
else
	fail "clean stop (status $STOP_STATUS)"
fi

summary trim
