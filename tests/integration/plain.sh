#!/usr/bin/env bash
# tls/'s plain DNS upstream (tls_upstream_new_plain) against a real unbound serving plain DNS on
# loopback, through dotd-plain-client (plain_client.c), since the resolver makes no plain
# upstreams yet:
#   - A, AAAA and a TXT too big for UDP: the TXT comes truncated over UDP and whole over TCP;
#     unbound's own counters show exactly one TCP query and every query received
#   - 300 queries with 16 in flight: all answered, none over TCP
#   - a port nobody serves: ICMP port unreachable gives TLS_ERR_CONNECT
#
# usage: plain.sh PROBE PLAIN-CLIENT
# shellcheck disable=SC2034 # the counters are read by expect's eval
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 PROBE PLAIN-CLIENT" >&2
	exit 2
fi
PROBE=$(realpath "$1")
CLIENT=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

# client NAME ARGS...: run dotd-plain-client; PASS or FAIL as it exits; its counters in STATS.
client()
{
	local name=$1 out
	shift
	STATS=''
	if out=$("$CLIENT" "$@" 2> "$TMP/client.err"); then
		pass "$name"
	else
		fail "$name"
		indent < "$TMP/client.err"
	fi
	STATS=" $out"
	echo "    $name: $out"
}

# unbound_counts NAME: "TOTAL TCP" queries unbound NAME has received.
unbound_counts()
{
	echo "$(ustat "$1" total.num.queries || echo 0) $(ustat "$1" num.query.tcp || echo 0)"
}

start_unbound_plain unbound-plain

# --- answers over UDP, and the truncated one again over TCP ---

read -r total0 tcp0 <<< "$(unbound_counts unbound-plain)"
client "answers: A, AAAA, and a TXT truncated over UDP then whole over TCP" \
	answers "$HOST" "$UPORT"
read -r total1 tcp1 <<< "$(unbound_counts unbound-plain)"
echo "    unbound: total $total0 -> $total1, tcp $tcp0 -> $tcp1"
queries=$(stat_of "$STATS" queries) answers=$(stat_of "$STATS" answers)
truncated=$(stat_of "$STATS" truncated) connections=$(stat_of "$STATS" connections)
dropped=$(stat_of "$STATS" dropped) state=$(stat_of "$STATS" state)
expect answers "the client retried over TCP once (truncated=1, connections=1)" "$STATS" \
	"((truncated == 1 && connections == 1))"
expect answers "4 queries written, 3 answers, nothing dropped" "$STATS" \
	"((queries == 4 && answers == 3 && dropped == 0))"
expect answers "the upstream is up" "$STATS" "[[ \$state == up ]]"
expect answers "unbound got one query over TCP" "tcp: $tcp0 -> $tcp1" "((tcp1 - tcp0 == 1))"
expect answers "unbound got 4 queries (3 over UDP, 1 over TCP)" "total: $total0 -> $total1" \
	"((total1 - total0 == 4))"

# --- a burst beyond max_in_flight ---

client "burst: 300 queries, 16 in flight" burst "$HOST" "$UPORT" 300 16
read -r total2 tcp2 <<< "$(unbound_counts unbound-plain)"
answers=$(stat_of "$STATS" answers) truncated=$(stat_of "$STATS" truncated)
dropped=$(stat_of "$STATS" dropped)
expect burst "300 answers, nothing truncated or dropped" "$STATS" \
	"((answers == 300 && truncated == 0 && dropped == 0))"
expect burst "unbound got the 300 over UDP" "total: $total1 -> $total2, tcp: $tcp1 -> $tcp2" \
	"((total2 - total1 == 300 && tcp2 == tcp1))"

# --- nobody there ---

new_port DEAD
client "refused: ICMP port unreachable gives TLS_ERR_CONNECT" refused "$HOST" "$DEAD"
failures=$(stat_of "$STATS" conn_failures) state=$(stat_of "$STATS" state)
expect refused "one connection failure, the upstream not up" "$STATS" \
	"((failures == 1)) && [[ \$state == idle ]]"

summary plain.sh
