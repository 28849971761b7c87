#!/usr/bin/env bash
# dotd gives back the memory of queries that waited for a frozen upstream, against a real
# unbound serving DoT on loopback: with unbound stopped (SIGSTOP), 2,000 questions never asked
# before wait in dotd until its timeout (2 s here) answers them SERVFAIL, which is not cached.
# RssAnon rises by some 2.9 MB meanwhile; 3 s after the last answer it must be back within
# 640 kB of where it was. Without the trim of resolver/query.c (query_trim) glibc kept 1.66 MB
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
# udp_queries_per_source: the N questions come from one address. timeout_per_try past the
# timeout: the silent connection is not given up and others opened meanwhile (their handshakes
# and the queries sent again on them allocate among the waiting queries, and what stays of them
# pins freed pages: that would measure the allocator, not the trim).
dotd_in_front dotd "$(printf 'timeout: 2000\ntimeout_per_try: 3000\nudp_queries_per_source: 4096')" \
	"$UPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers"
pass "dotd starts and answers (timeout 2 s)"

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
# 2,500 q/s: the socket's receive buffer holds some 270 datagrams, so a busy machine that keeps
# dotd from reading for a while loses some; the check below allows a tenth.
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/names" -n 1 -q $N -Q 2500 -t 6 > "$TMP/perf" 2>&1 &
perf=$!
sleep 1.3 # all sent (0.8 s), none answered yet (2 s)
waiting=$(anon_kb)
wait "$perf" || true
kill -CONT "$UNBOUND_PID"
at_end=$(anon_kb)
sleep 3
after=$(anon_kb)
# What dotd answered, from its own counters (SIGUSR1): dnsperf may lose some of the answers
# that leave at once at the timeout, when a busy machine keeps it from reading.
n=$(grep -c -F "answers by rcode:" "$TMP/dotd.log" || true)
kill -USR1 "$DOTD_PID"
wait_log "$TMP/dotd.log" "answers by rcode:" 5 $((n + 1)) || true
rcodes=$(grep -F "answers by rcode:" "$TMP/dotd.log" | tail -n 1)
servfail=$(stat_of "$rcodes" SERVFAIL) || servfail=0
noerror=$(stat_of "$rcodes" NOERROR) || noerror=-1
figures="RssAnon ${before} kB before, ${waiting} with them waiting, ${at_end} at the last answer,"
figures+=" ${after} 3 s later"
# NOERROR: the answers of wait_answer and of the check below only.
if ((servfail >= N * 9 / 10 && noerror >= 0 && noerror <= 1)); then
	pass "the questions waited for the frozen upstream and got SERVFAIL ($servfail of $N)"
else
	fail "the questions waited for the frozen upstream and got SERVFAIL ($servfail of $N," \
		"NOERROR $noerror)"
	echo "    $rcodes"
	grep -v '^\[Timeout\]' "$TMP/perf" | indent
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
