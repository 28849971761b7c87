#!/usr/bin/env bash
# dotd's counters against known traffic, read from the lines SIGUSR1 logs (until the control
# socket serves dotd-ctl stats, those lines are how a test reads them):
#   - a burst in front of a real unbound: 7 A over UDP and 3 AAAA over TCP answered by the
#     upstream (NOERROR and NXDOMAIN), 2 repeats from the cache, a TXT, answers made here
#     (FORMERR, BADVERS, NOTIMP, REFUSED for RD=0 and for CHAOS), dotd's own SERVFAIL (unbound
#     refuses the name), a message too short to answer, and access_control refusing ::1 (when
#     the host has IPv6 loopback): exact counts by transport, type, RCODE and source, and of
#     the duration histogram
#   - the upstream's gauges: after the burst a connection open and nothing in flight; a query
#     in flight on a slow dotd-fakeup, then answered; a connection hanging on a blackholed
#     port (connecting, the query queued), then backed off
#
# usage: stats.sh DOTD PROBE FAKEUP
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE FAKEUP" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
FAKEUP=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

# write_cfg FILE LISTEN UPSTREAM-PORT [EXTRA]: dotd in front of one upstream on loopback.
write_cfg()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$2]
idle_timeout: 30000
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $3
    tls_auth_name: "dot.test"
${4:-}
EOF
}

# start_checked NAME CONFIG: dotd started, without a query, until it says it serves.
start_checked()
{
	start_dotd "$2" "$TMP/$1.log"
	wait_log "$TMP/$1.log" "serving with" 10 || die "$1: dotd starts"
	pass "$1: dotd starts"
}

# stop_checked NAME PID: SIGTERM and a clean exit.
stop_checked()
{
	stop_dotd "$2" 10
	if ((STOP_STATUS == 0)); then
		pass "$1: clean stop"
	else
		fail "$1: clean stop (status $STOP_STATUS)"
	fi
}

# stats_line LOG PREFIX: the last line of LOG with PREFIX ("answers by rcode:").
stats_line()
{
	grep -F -- "$2" "$1" | tail -n 1
}

# expect_counts WHAT LINE KEY=VALUE...: every KEY of LINE has exactly its VALUE.
expect_counts()
{
	local what=$1 line=$2 kv k v got bad=''
	shift 2
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		got=$(stat_of "$line" "$k") || got='(none)'
		if [[ $got != "$v" ]]; then
			bad+=" $k=$got (want $v)"
		fi
	done
	if [[ -z $bad ]]; then
		pass "$what: $*"
	else
		fail "$what:$bad"
		echo "    | $line"
	fi
}

# until_stat PID LOG UPSTREAM KEY VALUE SECONDS: SIGUSR1 until the upstream's KEY is VALUE;
# prints the last line.
until_stat()
{
	local deadline=$((SECONDS + $6)) line
	while :; do
		line=$(upstream_stats "$1" "$2" "$3") || return 1
		if [[ $(stat_of "$line" "$4") == "$5" ]] || ((SECONDS >= deadline)); then
			echo "$line"
			return 0
		fi
		sleep 0.1
	done
}

start_unbound unbound
UP=$UPORT
DPORT='' D6PORT=''
new_port DPORT
new_port D6PORT
HAVE_V6=0
if ip -6 addr show dev lo 2> /dev/null | grep -q 'inet6 ::1/128'; then
	HAVE_V6=1
fi
listen="$HOST@$DPORT"
((HAVE_V6)) && listen+=", 0::1@$D6PORT"
write_cfg "$TMP/burst.yml" "$listen" "$UP" 'access_control: [127.0.0.0/8]'
start_checked burst "$TMP/burst.yml"
BURST_PID=$DOTD_PID

# --- the burst ---

q()
{
	check "$1 $2 over $3: $4" "$PROBE" query "$HOST" "$DPORT" "$1" "$2" "$3" "$4"
}
raw()
{
	check "$1" "$PROBE" raw "$HOST" "$DPORT" "$2" "$3"
}
Q=03777777076578616d706c650000010001 # www.example A IN

for n in www ns mx short stale pre mail; do # mail has no A: NOERROR, no data
	q "$n.example" A udp NOERROR
done
q www.example AAAA tcp NOERROR
q mx.example AAAA tcp NOERROR
q nx1.example AAAA tcp NXDOMAIN
q www.example A udp NOERROR    # cache
q www.example AAAA tcp NOERROR # cache
q txt.example TXT udp NOERROR
# unbound refuses names outside example.: the only upstream refused, dotd's own SERVFAIL.
q nosuch.net MX udp SERVFAIL
raw "QDCOUNT 0: FORMERR" 123401000000000000000000 FORMERR
raw "EDNS version 1: BADVERS (0 in the header)" "123401000001000000000001${Q}0000290400000100000000" \
	NOERROR
raw "opcode 15: NOTIMP" "123479000001000000000000${Q}" NOTIMPL
raw "RD=0, not cached: REFUSED" "123400000001000000000000026e72076578616d706c650000010001" REFUSED
raw "CHAOS TXT version.bind: REFUSED" \
	"1234010000010000000000000776657273696f6e0462696e640000100003" REFUSED
raw "shorter than a header: no answer" 1234010000 none
if ((HAVE_V6)); then
	check "::1 outside access_control, TCP: REFUSED" \
		"$PROBE" query ::1 "$D6PORT" www.example A tcp REFUSED
	if "$PROBE" query ::1 "$D6PORT" www.example A udp > "$TMP/acl-udp.out" 2>&1; then
		fail "::1 outside access_control, UDP: no answer"
	else
		pass "::1 outside access_control, UDP: no answer"
	fi
	v6=1
else
	skip "access_control over ::1: no IPv6 loopback here"
	v6=0
fi

# The tally of the burst; v6 adds the two ::1 queries, both A, the TCP one answered REFUSED.
#   UDP 16   7 A and 1 A cached, TXT, MX (SERVFAIL), and 6 raw: FORMERR and the short one
#            (no question: type none), BADVERS, NOTIMP, REFUSED for RD=0 (A), CHAOS (TXT)
#   TCP 4    3 AAAA and 1 AAAA cached
#   answers  19 (the short one gets none): upstream 11 (7 A, 3 AAAA, TXT: 12 NOERROR with the 2
#            cached, 1 NXDOMAIN), cache 2, local 5 (FORMERR, BADVERS, NOTIMP, 2 REFUSED),
#            servfail 1; 12 queries reached unbound (the SERVFAIL one too)
up_line=$(upstream_stats "$BURST_PID" "$TMP/burst.log" "$HOST@$UP") || die "burst: SIGUSR1"
log=$TMP/burst.log
expect_counts "burst: transports" "$(stats_line "$log" "clients:")" \
	queries_udp=$((16 + v6)) queries_tcp=$((4 + v6)) tcp_connections=$((4 + v6)) \
	dropped=1 answered_here=5 refused=$((2 * v6)) cache_answers=2 servfail=1 answers=11 \
	forwarded=12
expect_counts "burst: by type" "$(stats_line "$log" "queries by type:")" \
	A=$((11 + 2 * v6)) AAAA=4 TXT=2 MX=1 none=2 NS=0 other=0 ANY=0
expect_counts "burst: by rcode" "$(stats_line "$log" "answers by rcode:")" \
	NOERROR=12 NXDOMAIN=1 SERVFAIL=1 FORMERR=1 BADVERS=1 NOTIMP=1 REFUSED=$((2 + v6)) other=0
expect_counts "burst: by source" "$(stats_line "$log" "answers by source:")" \
	cache=2 stale=0 upstream=11 local=$((5 + v6)) servfail=1
line=$(stats_line "$log" "answer duration:")
expect_counts "burst: duration histogram" "$line" count=$((19 + v6)) le_+Inf=$((19 + v6)) \
	le_5=$((19 + v6))
prev=0 ok=1
for le in 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 +Inf; do
	v=$(stat_of "$line" "le_$le") || v=-1
	((v >= prev)) || ok=0
	prev=$v
done
sum=$(stat_of "$line" sum_us) || sum=0
if ((ok && sum > 0)); then
	pass "burst: buckets cumulative, sum $sum us"
else
	fail "burst: buckets cumulative, sum > 0"
	echo "    | $line"
fi
expect_counts "burst: upstream" "$up_line" queries=12 answers=12 handshakes_full=1 \
	in_flight=0 queued=0 conns_open=1 state=up backoff_ms=0
stop_checked burst "$BURST_PID"

# --- a query in flight on a slow upstream ---

start_fakeup slow --delay 1500 || die "dotd-fakeup starts"
new_port DPORT
write_cfg "$TMP/slow.yml" "$HOST@$DPORT" "$FPORT" 'timeout_per_try: 3000'
start_checked slow "$TMP/slow.yml"
SLOW_PID=$DOTD_PID
"$PROBE" query "$HOST" "$DPORT" q1.bench A udp NOERROR 192.0.2.1 > "$TMP/slow-q.out" 2>&1 &
QPID=$!
line=$(until_stat "$SLOW_PID" "$TMP/slow.log" "$HOST@$FPORT" in_flight 1 5)
expect_counts "slow upstream, query written" "$line" in_flight=1 queued=0 conns_open=1 \
	state=up queries=1 answers=0
if wait "$QPID"; then
	pass "slow upstream: answered after 1.5 s"
else
	fail "slow upstream: answered after 1.5 s"
	indent < "$TMP/slow-q.out"
fi
line=$(upstream_stats "$SLOW_PID" "$TMP/slow.log" "$HOST@$FPORT") || line=''
expect_counts "slow upstream, answered" "$line" in_flight=0 queued=0 conns_open=1 state=up \
	queries=1 answers=1
stop_checked slow "$SLOW_PID"

# --- a connection that hangs, then a backoff ---

BPORT=''
new_port BPORT
"$PROBE" blackhole "$BPORT" 30 > "$TMP/blackhole.out" 2>&1 &
PIDS+=("$!")
wait_log "$TMP/blackhole.out" "blackhole" 5 || die "blackhole port"
new_port DPORT
write_cfg "$TMP/hang.yml" "$HOST@$DPORT" "$BPORT" 'timeout: 1500
tls_connection_retries: 1'
start_checked hang "$TMP/hang.yml"
HANG_PID=$DOTD_PID
"$PROBE" query "$HOST" "$DPORT" q2.bench A udp SERVFAIL > "$TMP/hang-q.out" 2>&1 &
QPID=$!
line=$(until_stat "$HANG_PID" "$TMP/hang.log" "$HOST@$BPORT" state connecting 3)
expect_counts "blackholed upstream, connecting" "$line" state=connecting conns_open=1 queued=1 \
	in_flight=0 queries=0
wait "$QPID" || true
wait_log "$TMP/hang.log" "backing off" 5 || true
line=$(upstream_stats "$HANG_PID" "$TMP/hang.log" "$HOST@$BPORT") || line=''
expect_counts "blackholed upstream, handshake timed out" "$line" state=backed-off conns_open=0 \
	queued=0 in_flight=0 conn_failures=1 backoffs=1
ms=$(stat_of "$line" backoff_ms) || ms=0
if ((ms > 0 && ms <= 1000)); then
	pass "blackholed upstream: backed off for 1 s at most (${ms} ms left)"
else
	fail "blackholed upstream: backed off for 1 s at most (${ms} ms left)"
fi
stop_checked hang "$HANG_PID"

summary stats
