#!/usr/bin/env bash
# dotd's cache against a real unbound serving DoT on loopback:
#   - a repeated question does not reach unbound (unbound's own counters), in any case
#   - TTLs age; an entry with TTL 2 is fetched again after it expires
#   - with unbound stopped, a known name gets a stale answer: TTL 30, Extended DNS Error 3
#   - identical questions in flight share one upstream query (with a slow dotd-fakeup)
#
# usage: cache.sh DOTD PROBE FAKEUP
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

# write_cfg FILE PORT UPSTREAM-PORT: dotd in front of one upstream, with the cache.
write_cfg()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$2]
idle_timeout: 30000
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $3
    tls_auth_name: "dot.test"
EOF
}

# queries: unbound's count of queries received so far.
queries()
{
	ustat unbound total.num.queries
}

# field LINE NAME: the value of NAME=value in a probe ttl line.
field()
{
	local v=${1##*"$2="}
	echo "${v%% *}"
}

start_unbound unbound
UP=$UPORT UP_PID=$UNBOUND_PID
DPORT=''
new_port DPORT
write_cfg "$TMP/dotd.yml" "$DPORT" "$UP"
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
MAIN_PID=$DOTD_PID
wait_answer "$DPORT" 10 "$MAIN_PID" || die "dotd starts and answers"
pass "dotd starts and answers"

# --- a repeated question is answered from the cache ---

before=$(queries)
check "first mail.example MX (udp)" \
	"$PROBE" query "$HOST" "$DPORT" mail.example MX udp NOERROR "10 mx.example."
check "again over tcp" "$PROBE" query "$HOST" "$DPORT" mail.example MX tcp NOERROR "10 mx.example."
check "again as MaIl.ExAmPlE (case restored)" \
	"$PROBE" query "$HOST" "$DPORT" MaIl.ExAmPlE MX udp NOERROR "10 mx.example."
out=$(dig +noall +answer +nocookie @"$HOST" -p "$DPORT" mail.example MX)
after=$(queries)
if ((after - before == 1)); then
	pass "4 asks, 1 query reached unbound (total.num.queries $before -> $after)"
else
	fail "4 asks, 1 query reached unbound (total.num.queries $before -> $after)"
fi
if [[ $out == *"10 mx.example."* ]]; then
	pass "dig gets the cached answer"
else
	fail "dig gets the cached answer"
	echo "$out" | indent
fi

# --- TTLs age, and a short one is fetched again ---

l1=$("$PROBE" ttl "$HOST" "$DPORT" txt.example TXT)
sleep 2.2
l2=$("$PROBE" ttl "$HOST" "$DPORT" txt.example TXT)
t1=$(field "$l1" ttl) t2=$(field "$l2" ttl)
if ((t1 <= 300 && t2 <= t1 - 2 && t2 >= t1 - 3)); then
	pass "TTLs age: $t1 then $t2 after 2.2 s"
else
	fail "TTLs age: $t1 then $t2 after 2.2 s"
fi

before=$(queries)
l1=$("$PROBE" ttl "$HOST" "$DPORT" short.example A)
l2=$("$PROBE" ttl "$HOST" "$DPORT" short.example A)
mid=$(queries)
sleep 2.5
l3=$("$PROBE" ttl "$HOST" "$DPORT" short.example A)
after=$(queries)
if ((mid - before == 1 && after - mid == 1)) && [[ $(field "$l3" ttl) == 2 ]]; then
	pass "TTL 2: cached, then fetched again after it expired ($l1 / $l2 / $l3)"
else
	fail "TTL 2: cached, then fetched again after it expired (queries $before $mid $after; $l1 / $l2 / $l3)"
fi

# --- prefetch: a hit in the last tenth of a TTL refreshes the entry in the background ---

before=$(queries)
"$PROBE" ttl "$HOST" "$DPORT" pre.example A > /dev/null
sleep 9.3 # TTL 10: the last tenth starts at 9 s
l1=$("$PROBE" ttl "$HOST" "$DPORT" pre.example A)
sleep 0.3
mid=$(queries)
sleep 1.2 # past the first answer's TTL
l2=$("$PROBE" ttl "$HOST" "$DPORT" pre.example A)
after=$(queries)
if ((mid - before == 2 && after == mid)) && [[ $(field "$l1" ttl) == 1 ]] &&
	(($(field "$l2" ttl) >= 8)); then
	pass "prefetch: the hit at 9.3 s answered from the cache ($l1) and refreshed it in the background; after the old TTL, still a hit ($l2)"
else
	fail "prefetch: hit at 9.3 s refreshes in the background (queries $before $mid $after; $l1 / $l2)"
fi

# --- serve-stale with the upstream gone ---

"$PROBE" ttl "$HOST" "$DPORT" stale.example A > /dev/null
sleep 2.5 # past its TTL of 2
kill -TERM "$UP_PID"
wait "$UP_PID" 2> /dev/null || true
line=$("$PROBE" ttl "$HOST" "$DPORT" stale.example A) || line="no answer"
if [[ $(field "$line" rcode) == NOERROR && $(field "$line" ttl) == 30 &&
	$(field "$line" ede) == 3 ]]; then
	pass "unbound stopped: stale answer, TTL 30, EDE 3 ($line)"
else
	fail "unbound stopped: stale answer, TTL 30, EDE 3 ($line)"
fi
line=$("$PROBE" ttl "$HOST" "$DPORT" never.example A) || line="no answer"
if [[ $(field "$line" rcode) == SERVFAIL && $(field "$line" ede) =~ ^2[23]$ ]]; then
	pass "unbound stopped: an unknown name gets SERVFAIL with EDE 22 or 23 ($line)"
else
	fail "unbound stopped: an unknown name gets SERVFAIL with EDE 22 or 23 ($line)"
fi
stop_dotd "$MAIN_PID" 10
if ((STOP_STATUS == 0)); then
	pass "clean stop"
else
	fail "clean stop (status $STOP_STATUS)"
fi

# --- coalescing: 100 identical questions, one upstream query ---

FPORT=''
new_port FPORT
"$FAKEUP" --port "$FPORT" --cert "$TMP/pki/server.pem" --key "$TMP/pki/server.key" \
	--delay 300 --stats "$TMP/fakeup.stats" > "$TMP/fakeup.out" 2> "$TMP/fakeup.log" &
FAKE_PID=$!
PIDS+=("$FAKE_PID")
wait_log "$TMP/fakeup.out" "listening" 10 || die "dotd-fakeup starts"
new_port DPORT
write_cfg "$TMP/coalesce.yml" "$DPORT" "$FPORT"
start_dotd "$TMP/coalesce.yml" "$TMP/coalesce.log"
deadline=$((SECONDS + 10))
until "$PROBE" query "$HOST" "$DPORT" warm.example A udp NOERROR > /dev/null 2>&1; do
	((SECONDS < deadline)) || die "dotd in front of dotd-fakeup answers"
	sleep 0.2
done

# fakeup_queries: the queries dotd-fakeup has received (it writes its counters on SIGUSR1).
fakeup_queries()
{
	local line
	rm -f "$TMP/fakeup.stats"
	kill -USR1 "$FAKE_PID"
	wait_log "$TMP/fakeup.stats" "queries=" 5 || return 1
	line=$(cat "$TMP/fakeup.stats")
	stat_of " $line" queries
}

before=$(fakeup_queries)
check "100 identical questions at once: all answered" \
	"$PROBE" flood "$HOST" "$DPORT" 100 same.example A
after=$(fakeup_queries)
if ((after - before == 1)); then
	pass "they reached the upstream once (queries $before -> $after)"
else
	fail "they reached the upstream once (queries $before -> $after)"
fi
stop_dotd "$DOTD_PID" 10

summary cache
