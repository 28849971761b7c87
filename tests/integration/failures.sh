#!/usr/bin/env bash
# What dotd keeps when upstreams fail, against tests/fakeup (dotd-fakeup), which fails on
# demand in ways no real server does when asked:
#   - a prefetch that gets SERVFAIL keeps the fresh answer, then serves it stale at once, and
#     holds the next refresh back (RFC 8767 §4)
#   - a connection the server closes with queries on it: they are sent again on a fresh
#     connection, even to the only upstream (RFC 7766 §6.2.3)
#   - an upstream's own SERVFAIL and Extended DNS Error reach the client when the next try fails
#     at connection level; an upstream's REFUSED becomes SERVFAIL with EDE 22
#   - after an edns-tcp-keepalive of 0 nothing more is written on that connection (RFC 7828)
#   - a cancelled query whose answer never comes does not make its connection look dead
#   - an upstream that refuses every connection costs a few warnings, not two per query, and a
#     connection a second, not one per query
#
# usage: failures.sh DOTD PROBE FAKEUP
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

make_pki

# fake_stat NAME STAT: a counter of the dotd-fakeup NAME (after SIGUSR1).
fake_stat()
{
	local pid=$FAKE_PID line
	rm -f "$TMP/$1.stats"
	kill -USR1 "$pid"
	wait_log "$TMP/$1.stats" "queries=" 5 || return 1
	line=" $(cat "$TMP/$1.stats")"
	stat_of "$line" "$2"
}

# cache_stats PID LOG: SIGUSR1, then the cache statistics line dotd logs.
cache_stats()
{
	local n
	n=$(grep -c -F -- "cache: entries=" "$2" || true)
	kill -USR1 "$1"
	wait_log "$2" "cache: entries=" 5 $((n + 1)) || return 1
	grep -F -- "cache: entries=" "$2" | tail -n 1
}

# --- a failed prefetch keeps what we have (RFC 8767 §4) ---

# TTLs are clamped to 10 s: the last tenth of the life, when a hit prefetches, starts at 9 s;
# the checks then have 0.8 s to spare on a loaded machine (2 s TTLs left 0.1 s, too little).
# The fakeup answers the first two queries (ready.bench, keep.bench) and SERVFAIL after them.
start_fakeup refresh --servfail-after 2
dotd_in_front refresh "cache_max_ttl: 10" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "refresh: dotd starts"
l1=$("$PROBE" ttl "$HOST" "$DPORT" keep.bench A) || true
sleep 9.1
l2=$("$PROBE" ttl "$HOST" "$DPORT" keep.bench A) || true # a hit, and a prefetch: SERVFAIL
sleep 0.1
l3=$("$PROBE" ttl "$HOST" "$DPORT" keep.bench A) || true
expect refresh "the first answer ($l1), then a hit that prefetches ($l2)" "" \
	'[[ $l1 == "rcode=NOERROR "* && $l2 == "rcode=NOERROR ttl="[01]" "* ]]'
expect refresh "after the prefetch got SERVFAIL, the fresh answer is still served ($l3)" "" \
	'[[ $l3 == "rcode=NOERROR ttl="[01]" ede=none" ]]'
sleep 1.1 # past the TTL
# In milliseconds: $SECONDS counts whole seconds, and a query at x.99 s ending at x+1.01 s
# would look a second long.
t0=${EPOCHREALTIME/./}
l4=$("$PROBE" ttl "$HOST" "$DPORT" keep.bench A) || true
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
expect refresh "past its TTL: stale at once ($ms ms), without asking again ($l4)" "" \
	'[[ $l4 == "rcode=NOERROR ttl=30 ede=3" ]] && ((ms < 1000))'
q=$(fake_stat refresh queries) || true
expect refresh "3 queries reached the upstream: ready.bench, keep.bench and its prefetch ($q)" "" \
	'((q == 3))'
line=$(cache_stats "$DOTD_PID" "$TMP/refresh.log") || true
v=$(stat_of "$line" refresh_failures) || true
expect refresh "the failed refresh is counted (refresh_failures=$v)" "$line" '((v == 1))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- a lost connection is not a lost query (RFC 7766 §6.2.3) ---

# The only upstream closes each connection after 3 answers; 4 queries are on it by then.
start_fakeup lost --close-after 3 --delay 100
dotd_in_front lost "" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "lost: dotd starts"
sleep 0.3 # the connection that answered the first query is gone
check "lost: 4 queries at once on a connection closed after 3 answers: all answered" \
	"$PROBE" burst "$HOST" "$DPORT" 4 udp lost
line=$(upstream_stats "$DOTD_PID" "$TMP/lost.log" "$HOST@$FPORT") || true
v=$(stat_of "$line" resent) || true
expect lost "sent again on a fresh connection (resent=$v)" "$line" '((v >= 1))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- the upstream's own word ---

# The first upstream answers SERVFAIL with an Extended DNS Error; nothing listens on the second.
start_fakeup servfail --servfail-after 0
DEAD=''
new_port DEAD
dotd_in_front servfail "" "$FPORT" "$DEAD"
sleep 0.5
out=$(dig @"$HOST" -p "$DPORT" +time=3 +tries=1 word.bench A 2>&1) || true
expect servfail "SERVFAIL with the upstream's EDE, not ours, when the next try cannot connect" \
	"$(tr '\n' ' ' <<< "$out")" \
	'[[ $out == *"status: SERVFAIL"* && $out == *"fakeup servfail"* ]]'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

start_fakeup refuse --refuse
dotd_in_front refuse "" "$FPORT"
sleep 0.5
out=$(dig @"$HOST" -p "$DPORT" +time=3 +tries=1 refused.bench A 2>&1) || true
expect refuse "an upstream's REFUSED: SERVFAIL with EDE 22, not REFUSED" \
	"$(tr '\n' ' ' <<< "$out")" \
	'[[ $out == *"status: SERVFAIL"* && $out == *"EDE: 22"*"upstreams refused"* ]]'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- after an edns-tcp-keepalive of 0, nothing more on that connection (RFC 7828 §3.2.2) ---

# The query for lost.ka.bench is never answered, so the connection it is on still has it in
# flight when the answer with keepalive 0 comes for the second one; the others wait for a slot.
# Answers wait 150 ms, so that what dotd wrote before it could read a keepalive of 0 (a query
# of the burst a loaded machine hands over late) reaches the fakeup before that answer leaves,
# and only a write after dotd read it counts.
start_fakeup keepalive0 --keepalive 0 --ignore-label lost --delay 150
dotd_in_front keepalive0 "limit_outstanding_queries: 2
timeout: 1000" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "keepalive0: dotd starts"
sleep 0.3 # the connection that answered it has closed
"$PROBE" ttl "$HOST" "$DPORT" lost.ka.bench A > /dev/null 2>&1 &
sleep 0.1
check "keepalive0: 6 queries, two in flight per connection: all answered" \
	"$PROBE" burst "$HOST" "$DPORT" 6 udp ka
v=$(fake_stat keepalive0 after_keepalive0) || true
expect keepalive0 "no query written after the server's keepalive of 0 (after_keepalive0=$v)" "" \
	'((v == 0))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- an answer that never comes does not kill the connection ---

# Queries for lost.*.bench are never answered; dotd gives up on them after 400 ms, and their
# slots expire 800 ms (timeout_per_try) after they were sent.
start_fakeup ignore --ignore-label lost
dotd_in_front ignore "timeout: 400
timeout_per_try: 800
idle_timeout: 30000" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "ignore: dotd starts"
l1=$("$PROBE" ttl "$HOST" "$DPORT" lost.a.bench A) || true
l2=$("$PROBE" ttl "$HOST" "$DPORT" lost.b.bench A) || true
sleep 1.2
check "ignore: then a query is answered" \
	"$PROBE" query "$HOST" "$DPORT" after.bench A udp NOERROR 192.0.2.1
line=$(upstream_stats "$DOTD_PID" "$TMP/ignore.log" "$HOST@$FPORT") || true
d=$(stat_of "$line" dead) c=$(stat_of "$line" connections)
expect ignore "unanswered ($l1 / $l2), yet not dead: dead=$d connections=$c" "$line" \
	'[[ $l1 == rcode=SERVFAIL* ]] && ((d == 0 && c == 1))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- the first try answers after a hedge was written elsewhere ---

# slow.bench is answered by the first upstream after 1.2 s, other names at once, and a stream
# of those keeps its connection alive; at 800 ms (timeout_per_try) slow.bench is hedged to the
# second upstream, which answers after 5 s. The tries share one frame, and the hedge wrote its
# own ID into it: the first upstream's answer must still be matched by its own try's ID, not
# taken for a broken answer (which closed the connection and counted a protocol error).
start_fakeup hedge-slow --delay 1200 --slow-label slow
SLOW_PORT=$FPORT SLOW_PID=$FAKE_PID
start_fakeup hedge-late --delay 5000
LATE_PID=$FAKE_PID
dotd_in_front hedge "timeout: 4000
timeout_per_try: 800
idle_timeout: 30000" "$SLOW_PORT" "$FPORT"
wait_answer "$DPORT" 15 "$DOTD_PID" ready.bench 192.0.2.1 || fail "hedge: dotd starts"
(for i in 1 2 3 4 5 6 7 8; do
	"$PROBE" query "$HOST" "$DPORT" "fast$i.bench" A udp > /dev/null 2>&1 || true
	sleep 0.15
done) &
STREAM=$!
t0=$(date +%s%N)
l1=$("$PROBE" ttl "$HOST" "$DPORT" slow.bench A) || true
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$STREAM" || true
line=$(upstream_stats "$DOTD_PID" "$TMP/hedge.log" "$HOST@$SLOW_PORT") || true
p=$(stat_of "$line" proto_errors) h=$(grep -F "clients:" "$TMP/hedge.log" | tail -n 1)
hedged=$(stat_of "$h" hedged)
expect hedge "the first upstream's answer taken after the hedge ($l1 in $ms ms, hedged=$hedged, proto_errors=$p)" \
	"$line" '[[ $l1 == "rcode=NOERROR "* ]] && ((ms >= 1000 && ms < 3000 && hedged >= 1 && p == 0))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$SLOW_PID" "$LATE_PID" 2> /dev/null || true

# --- an upstream that refuses every connection: a few warnings, a connect a second ---

# Nothing listens on RPORT, so every connect is refused at once. With the one upstream backed
# off a miss may still try it (the last resort), but one a second at most: before, each miss
# made a connection (and logged two warnings). Each failure is still counted; a server there is
# found within a second.
RPORT=''
new_port RPORT
dotd_in_front refused "" "$RPORT"
wait_log "$TMP/refused.log" "serving with" 10 || fail "refused: dotd starts"
n=0
t0=$(date +%s%N)
for ((i = 0; i < 150; i++)); do
	if "$PROBE" query "$HOST" "$DPORT" "refused$i.bench" A udp SERVFAIL > /dev/null 2>&1; then
		n=$((n + 1))
	fi
done
secs=$((($(date +%s%N) - t0) / 1000000000 + 1))
line=$(upstream_stats "$DOTD_PID" "$TMP/refused.log" "$HOST@$RPORT") || true
f=$(stat_of "$line" conn_failures) || f=0
w=$(grep -c -F "warning: upstream '$HOST@$RPORT'" "$TMP/refused.log" || true)
expect refused "150 misses in ${secs} s answered SERVFAIL ($n), $f connections tried and refused \
(at most 2 before the backoff and one a second after), $w warnings logged" \
	"$line" '((n == 150 && f >= 3 && f <= secs + 3 && w <= 20))'
"$FAKEUP" --port "$RPORT" --cert "$TMP/pki/server.pem" --key "$TMP/pki/server.key" \
	--stats "$TMP/refused-up.stats" > "$TMP/refused-up.out" 2> "$TMP/refused-up.log" &
FAKE_PID=$!
PIDS+=("$FAKE_PID")
wait_log "$TMP/refused-up.out" "listening" 10 || fail "refused: dotd-fakeup starts"
t0=$(date +%s%N)
if wait_answer "$DPORT" 5 "$DOTD_PID" ready.bench 192.0.2.1; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect refused "a server on that port answers within a second and a half ($ms ms)" "" \
		'((ms <= 1500))'
else
	fail "refused: a server on that port answers"
fi
check "refused: dotd says so" wait_log "$TMP/refused.log" "answering again after" 5
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

summary failures
