#!/usr/bin/env bash
# dotd's upstream pool, against real unbound instances serving DoT on loopback and, for the
# misbehaviour no real server does on demand, tests/fakeup (dotd-fakeup):
#   - 10,000 queries with 100 in flight use at most 2 connections
#   - after unbound closes an idle connection, the reconnect is resumed, and the close is not
#     held against the upstream; with edns-tcp-keepalive dotd closes first
#   - two upstreams on one address with different authentication never share a connection
#   - round robin, ordered and fastest selection
#   - each misbehaving upstream in front of a healthy one: every query answered, and dotd
#     keeps serving afterwards
#   - two upstreams under load, the first killed: nothing unanswered, answers flow again
#
# usage: pool.sh DOTD PROBE FAKEUP
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

# upstream_entry PORT [name|pin|both]: one upstream_recursive_servers item for 127.0.0.1@PORT.
upstream_entry()
{
	local port=$1 auth=${2:-both} pin
	pin=$(cat "$TMP/pki/server.spki")
	echo "  - address_data: $HOST"
	echo "    tls_port: $port"
	if [[ $auth != pin ]]; then
		echo "    tls_auth_name: \"dot.test\""
	fi
	if [[ $auth != name ]]; then
		echo "    tls_pubkey_pinset:"
		echo "      - digest: \"sha256\""
		echo "        value: $pin"
	fi
}

# dotd_config FILE PORT EXTRA-KEYS UPSTREAM-ENTRIES: a whole configuration.
dotd_config()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$2]
$3
upstream_recursive_servers:
$4
EOF
}

# run_dotd NAME CONFIG-EXTRA ENTRIES: start a dotd named NAME; sets DPORT and DOTD_PID.
run_dotd()
{
	local name=$1
	DPORT=''
	new_port DPORT
	dotd_config "$TMP/$name.yml" "$DPORT" "$2" "$3"
	start_dotd "$TMP/$name.yml" "$TMP/$name.log"
	# Any upstream here (unbound or dotd-fakeup) answers a name under bench. with 192.0.2.1.
	if ! wait_answer "$DPORT" 10 "$DOTD_PID" "ready.$name.bench" 192.0.2.1; then
		fail "$name: dotd starts and answers"
		return 1
	fi
}

# stop_checked NAME PID: SIGTERM and a clean exit.
stop_checked()
{
	stop_dotd "$2" 10
	if ((STOP_STATUS == 0)); then
		pass "$1: clean stop"
	else
		fail "$1: clean stop (status $STOP_STATUS)"
		show_log "$1" "$TMP/$1.log"
	fi
}


make_pki

# --- 10,000 queries, 100 in flight: at most 2 connections ---

start_unbound unbound1
U1=$UPORT U1_PID=$UNBOUND_PID
run_dotd pipeline "idle_timeout: 30000" "$(upstream_entry "$U1")"
check "pipeline: 10,000 queries over UDP, 100 in flight" \
	"$PROBE" burst "$HOST" "$DPORT" 10000 udp udp
check "pipeline: 10,000 queries over TCP, 100 in flight" \
	"$PROBE" burst "$HOST" "$DPORT" 10000 tcp tcp
line=$(upstream_stats "$DOTD_PID" "$TMP/pipeline.log" "$HOST@$U1")
echo "    pipeline: $line"
# conns is read by expect's eval, which shellcheck cannot see.
# shellcheck disable=SC2034
conns=$(stat_of "$line" connections)
expect pipeline "at most 2 connections for 20,000 queries" "$line" "((conns >= 1 && conns <= 2))"
stop_checked pipeline "$DOTD_PID"

# --- resumption after the server closes an idle connection ---

start_unbound unbound-idle "  tcp-idle-timeout: 1000"
UI=$UPORT
resume_before=$(ustat unbound-idle num.query.tls.resume || echo 0)
run_dotd resume "idle_timeout: 30000" "$(upstream_entry "$UI")"
sleep 2.5 # unbound closes the idle connection after 1 s
# New names each time: the cache would answer a repeated one without the upstream.
check "resume: a query after the server's idle close" \
	"$PROBE" query "$HOST" "$DPORT" r1.bench A udp NOERROR 192.0.2.1
sleep 2.5
check "resume: and another" "$PROBE" query "$HOST" "$DPORT" r2.bench A tcp NOERROR 192.0.2.1
line=$(upstream_stats "$DOTD_PID" "$TMP/resume.log" "$HOST@$UI")
echo "    resume: $line"
resumed=$(stat_of "$line" handshakes_resumed)
full=$(stat_of "$line" handshakes_full)
closes=$(stat_of "$line" server_closes)
backoffs=$(stat_of "$line" backoffs)
resume_after=$(ustat unbound-idle num.query.tls.resume || echo 0)
expect resume "reconnects resumed (dotd: full=$full resumed=$resumed)" "$line" \
	"((full == 1 && resumed >= 2))"
expect resume "unbound counts resumed queries (num.query.tls.resume $resume_before -> $resume_after)" \
	"$line" "((resume_after - resume_before >= 2))"
expect resume "the server's idle closes ($closes) are not failures (backoffs=$backoffs)" "$line" \
	"((closes >= 2 && backoffs == 0))"
stop_checked resume "$DOTD_PID"

# --- edns-tcp-keepalive: dotd closes before the server's timeout ---

start_unbound unbound-ka "  edns-tcp-keepalive: yes
  edns-tcp-keepalive-timeout: 1500
  tcp-idle-timeout: 1500"
UK=$UPORT
run_dotd keepalive "idle_timeout: 30000" "$(upstream_entry "$UK")"
sleep 2.5
check "keepalive: a query after the keepalive" \
	"$PROBE" query "$HOST" "$DPORT" k1.bench A udp NOERROR 192.0.2.1
line=$(upstream_stats "$DOTD_PID" "$TMP/keepalive.log" "$HOST@$UK")
echo "    keepalive: $line"
idle=$(stat_of "$line" idle_closes)
closes=$(stat_of "$line" server_closes)
expect keepalive "dotd closed first (idle_closes=$idle server_closes=$closes)" "$line" \
	"((idle >= 1 && closes == 0))"
stop_checked keepalive "$DOTD_PID"

# --- pool key: one address, two authentications, two pools ---

run_dotd poolkey "round_robin_upstreams: 1
idle_timeout: 30000" "$(upstream_entry "$U1" both)
$(upstream_entry "$U1" pin)"
check "pool key: 20 queries spread over both entries" \
	"$PROBE" burst "$HOST" "$DPORT" 20 udp
kill -USR1 "$DOTD_PID"
wait_log "$TMP/poolkey.log" "srtt_ms=" 5 2 || true
lines=$(grep -F "upstream '$HOST@$U1':" "$TMP/poolkey.log" | tail -n 2)
echo "$lines" | sed 's/^/    poolkey: /'
c1=$(stat_of "$(echo "$lines" | head -n 1)" connections)
c2=$(stat_of "$(echo "$lines" | tail -n 1)" connections)
expect poolkey "each entry opened its own connection ($c1 and $c2)" "$lines" \
	"((c1 == 1 && c2 == 1))"
stop_checked poolkey "$DOTD_PID"

# --- selection: ordered, round robin, fastest ---

start_unbound unbound2
U2=$UPORT

# answers_of LOG PORT: the answers counter of upstream 127.0.0.1@PORT after SIGUSR1.
answers_of()
{
	local line
	line=$(upstream_stats "$DOTD_PID" "$TMP/$1.log" "$HOST@$2") || return 1
	stat_of "$line" answers
}

run_dotd ordered "round_robin_upstreams: 0" "$(upstream_entry "$U1")
$(upstream_entry "$U2")"
check "ordered: 200 queries" "$PROBE" burst "$HOST" "$DPORT" 200 udp
a1=$(answers_of ordered "$U1") a2=$(answers_of ordered "$U2")
expect ordered "all to the first ($a1, $a2)" "" "((a1 >= 200 && a2 == 0))"
stop_checked ordered "$DOTD_PID"

run_dotd roundrobin "round_robin_upstreams: 1" "$(upstream_entry "$U1")
$(upstream_entry "$U2")"
check "round robin: 200 queries" "$PROBE" burst "$HOST" "$DPORT" 200 udp
a1=$(answers_of roundrobin "$U1") a2=$(answers_of roundrobin "$U2")
expect roundrobin "spread over both ($a1, $a2)" "" "((a1 >= 90 && a2 >= 90))"
stop_checked roundrobin "$DOTD_PID"

# --- misbehaving upstreams (dotd-fakeup) in front of a healthy one ---

# misbehaviour NAME CHECKS SWITCHES...: the misbehaving server first, the second unbound
# behind it; 300 queries over UDP and 300 over TCP all answered, dotd serves afterwards, and
# each of CHECKS ("stat>=N stat==N ...") holds for the misbehaving upstream's counters.
misbehaviour()
{
	local name=$1 checks=$2 line c stat cmp v
	shift 2
	start_fakeup "$name" "$@" || return 0
	run_dotd "$name" "round_robin_upstreams: 0
idle_timeout: 30000" "$(upstream_entry "$FPORT")
$(upstream_entry "$U2")" || return 0
	check "$name: 300 queries, every one answered" \
		"$PROBE" burst "$HOST" "$DPORT" 300 udp "$name"
	check "$name: 300 more over TCP" "$PROBE" burst "$HOST" "$DPORT" 300 tcp "$name-t"
	check "$name: dotd keeps serving" \
		"$PROBE" query "$HOST" "$DPORT" "after.$name.bench" A udp NOERROR 192.0.2.1
	line=$(upstream_stats "$DOTD_PID" "$TMP/$name.log" "$HOST@$FPORT")
	echo "    $name: $line"
	for c in $checks; do
		stat=${c%%[<>=]*}
		cmp=${c#"$stat"}
		v=$(stat_of "$line" "$stat")
		expect "$name" "$stat $cmp (is $v)" "$line" "((v $cmp))"
	done
	stop_checked "$name" "$DOTD_PID"
	kill -TERM "$FAKE_PID" 2> /dev/null || true
}

misbehaviour reverse "answers>=600 proto_errors==0" --reverse 10
misbehaviour stall "dead>=1 answers==0" --stall
misbehaviour close-after "server_closes>=1 answers>=5" --close-after 5
misbehaviour garbage "proto_errors>=1 backoffs>=1" --garbage
misbehaviour bad-length "proto_errors>=1 backoffs>=1" --bad-length
misbehaviour wrong-id "proto_errors>=1 backoffs>=1" --wrong-id
misbehaviour wrong-question "proto_errors>=1 backoffs>=1" --wrong-question
misbehaviour slow-300 "answers>=600 dead==0" --delay 300
misbehaviour slow "dead>=1" --delay 1500
misbehaviour tls12 "answers>=600 handshakes_full==1" --tls12-only
# A server that takes queries and closes without answering any: held against it (RFC 7858
# §3.1), so it is backed off rather than connected to twice for every query.
misbehaviour close-unanswered "answers==0 backoffs>=1 queries<=50" --close-unanswered

# The slow one: the hedge after timeout_per_try answered the clients from the second upstream.
line=$(grep -F "clients:" "$TMP/slow.log" | tail -n 1)
hedged=$(stat_of "$line" hedged)
expect slow "queries hedged to the second upstream (hedged=$hedged)" "$line" "((hedged >= 1))"

# TLS 1.2 only: the reconnect after the server's idle close resumes with a TLS 1.2 ticket.
start_fakeup tls12-resume --tls12-only --idle-close 300
run_dotd tls12-resume "idle_timeout: 30000" "$(upstream_entry "$FPORT")"
sleep 0.6
check "tls12-resume: a query after the server's idle close" \
	"$PROBE" query "$HOST" "$DPORT" t12.bench A udp NOERROR 192.0.2.1
line=$(upstream_stats "$DOTD_PID" "$TMP/tls12-resume.log" "$HOST@$FPORT")
echo "    tls12-resume: $line"
resumed=$(stat_of "$line" handshakes_resumed)
expect tls12-resume "TLS 1.2 session ticket resumed (handshakes_resumed=$resumed)" "$line" \
	"((resumed >= 1))"
stop_checked tls12-resume "$DOTD_PID"
kill -TERM "$FAKE_PID" 2> /dev/null || true

# A server that takes a ticket back and then fails the handshake (with TLS 1.2: in TLS 1.3
# wolfSSL goes on with a full handshake instead). Offered again, the kept ticket failed every
# connection, and the upstream was backed off for good. Now its tickets are dropped and the
# queries go to a connection without one, not counted against it; after two such failures in a
# row it is offered no ticket again.
start_fakeup fail-resume --fail-resumption --tls12-only --idle-close 300
run_dotd fail-resume "idle_timeout: 30000" "$(upstream_entry "$FPORT")"
for i in 1 2 3; do
	sleep 0.6
	check "fail-resume: query $i after the server's idle close" \
		"$PROBE" query "$HOST" "$DPORT" "fr$i.bench" A udp NOERROR 192.0.2.1
done
line=$(upstream_stats "$DOTD_PID" "$TMP/fail-resume.log" "$HOST@$FPORT")
echo "    fail-resume: $line"
cf=$(stat_of "$line" conn_failures) bo=$(stat_of "$line" backoffs)
expect fail-resume "not counted against it (conn_failures=$cf backoffs=$bo)" "$line" \
	"((cf == 0 && bo == 0))"
dropped=$(grep -c "resuming a session failed" "$TMP/fail-resume.log" || true)
stopped=$(grep -c "no more tickets offered" "$TMP/fail-resume.log" || true)
refused=$(grep -c "closed: handshake failed" "$TMP/fail-resume-fakeup.log" || true)
expect fail-resume "two failed resumptions, then no ticket offered (dotd $dropped and $stopped, \
the server $refused)" "" "((dropped == 2 && stopped == 1 && refused == 2))"
# A reload keeps the upstream object and forgets that: a ticket is stored and offered again.
kill -HUP "$DOTD_PID"
wait_log "$TMP/fail-resume.log" "reloaded " 5 || true
for i in 4 5; do
	sleep 0.6
	check "fail-resume: query $i after a reload" \
		"$PROBE" query "$HOST" "$DPORT" "fr$i.bench" A udp NOERROR 192.0.2.1
done
dropped=$(grep -c "resuming a session failed" "$TMP/fail-resume.log" || true)
expect fail-resume "after the reload, a ticket offered once more (failed resumptions: $dropped)" \
	"" "((dropped == 3))"
stop_checked fail-resume "$DOTD_PID"
kill -TERM "$FAKE_PID" 2> /dev/null || true

# The same with two workers, each query sent from the CPU of the next worker in turn (steered by
# CPU, resolver/steer.c): they learn it together through the shared ticket store
# (tls_tickets.c), so the server sees two failed resumptions in all, not two per worker.
if (($(nproc) >= 2)); then
	start_fakeup fail-resume2 --fail-resumption --tls12-only --idle-close 300
	run_dotd fail-resume2 "idle_timeout: 30000
workers: 2
workers_steering: cpu" "$(upstream_entry "$FPORT")"
	answered=0
	for i in 1 2 3 4 5 6; do
		sleep 0.6
		if taskset -c $((i % 2)) "$PROBE" query "$HOST" "$DPORT" "fw$i.bench" A udp NOERROR \
			192.0.2.1 > /dev/null 2>&1; then
			answered=$((answered + 1))
		fi
	done
	kill -USR1 "$DOTD_PID"
	wait_log "$TMP/fail-resume2.log" "worker 2: its upstreams" 5 || true
	sleep 0.3
	read -r c1 c2 < <(grep -F "upstream '$HOST@$FPORT': queries=" "$TMP/fail-resume2.log" |
		tail -n 2 | sed -n 's/.* connections=\([0-9]*\) .*/\1/p' | tr '\n' ' ') || true
	refused=$(grep -c "closed: handshake failed" "$TMP/fail-resume2-fakeup.log" || true)
	stopped=$(grep -c "no more tickets offered" "$TMP/fail-resume2.log" || true)
	expect fail-resume2 "6 queries answered by 2 workers, 2 failed resumptions in all, one says \
so (answered $answered; connections ${c1:-?} and ${c2:-?}; the server $refused; $stopped)" "" \
		"((answered == 6 && ${c1:-0} >= 3 && ${c2:-0} >= 3 && refused == 2 && stopped == 1))"
	stop_checked fail-resume2 "$DOTD_PID"
	kill -TERM "$FAKE_PID" 2> /dev/null || true
else
	skip "fail-resume2: two CPUs needed to steer queries to two workers"
fi

# Fastest: a slow first upstream (50 ms) and a fast second: most go to the fast one, and the
# slow one is still probed now and then.
start_fakeup fastest --delay 50
run_dotd fastest "upstream_selection: fastest" "$(upstream_entry "$FPORT")
$(upstream_entry "$U2")"
check "fastest: 400 queries" "$PROBE" burst "$HOST" "$DPORT" 400 udp fast
af=$(answers_of fastest "$FPORT") au=$(answers_of fastest "$U2")
expect fastest "most to the fastest, the other still probed (slow $af, fast $au)" "" \
	"((au > 3 * af && af >= 1))"
stop_checked fastest "$DOTD_PID"
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- nothing reachable: SERVFAIL well before the client's own timeout ---

BPORT=''
new_port BPORT
"$PROBE" blackhole "$BPORT" 30 > "$TMP/blackhole.out" 2>&1 &
PIDS+=("$!")
wait_log "$TMP/blackhole.out" "blackhole" 5 || true
DPORT=''
new_port DPORT
dotd_config "$TMP/blackhole.yml" "$DPORT" "" "$(upstream_entry "$BPORT")"
start_dotd "$TMP/blackhole.yml" "$TMP/blackhole.log"
sleep 0.5
t0=$(date +%s%N)
line=$("$PROBE" ttl "$HOST" "$DPORT" bh.example A 2>&1) || line="no answer within 3 s: $line"
ms=$((($(date +%s%N) - t0) / 1000000))
if [[ $line == *"rcode=SERVFAIL"* && $line == *"ede=22"* ]]; then
	pass "blackholed upstream: SERVFAIL with EDE 22 in ${ms} ms, not at the 5 s deadline ($line)"
else
	fail "blackholed upstream: SERVFAIL with EDE 22 before the client's timeout ($line)"
	show_log blackhole "$TMP/blackhole.log"
fi
stop_checked blackhole "$DOTD_PID"

# --- two upstreams under load, the first killed ---

run_dotd failover "round_robin_upstreams: 0" "$(upstream_entry "$U1")
$(upstream_entry "$U2")"
"$PROBE" burst "$HOST" "$DPORT" 65000 udp > "$TMP/failover-burst.out" 2>&1 &
burst_pid=$!
PIDS+=("$burst_pid")
sleep 0.5
kill -KILL "$U1_PID"
if wait "$burst_pid"; then
	pass "failover: 65,000 queries under load, the first upstream killed: all answered"
	cat "$TMP/failover-burst.out" | indent
	gap=$(sed -n 's/.*max_gap_ms=\([0-9]*\).*/\1/p' "$TMP/failover-burst.out")
	expect failover "answers flowed again within 1 s (longest silence ${gap} ms)" "" \
		"((gap < 1000))"
else
	fail "failover: 65,000 queries under load, the first upstream killed: all answered"
	indent < "$TMP/failover-burst.out"
fi
line=$(upstream_stats "$DOTD_PID" "$TMP/failover.log" "$HOST@$U2")
echo "    failover: $line"
a2=$(stat_of "$line" answers)
expect failover "the second upstream took over ($a2 answers)" "$line" "((a2 > 0))"
check "failover: dotd keeps serving" \
	"$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80
stop_checked failover "$DOTD_PID"

summary pool
