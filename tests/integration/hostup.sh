#!/usr/bin/env bash
# Host name upstreams (tls://HOST, resolver/hostname.c) against real unbounds on loopback. The
# test certificates are for dot.test (tests/certs/gen.sh), so tls://dot.test:PORT authenticates
# against them; the unbounds serve dot.test (and other.test) as local data, with log-queries on
# so that each lookup can be seen where it went:
#   - zone: the only upstream with an address is a forward zone's: both host names are looked
#     up through it over TLS; other.test, whose certificate does not match its name, fails
#     authentication, and dot.test, on the same server, answers
#   - dot: tls://dot.test next to tls://127.0.0.1#dot.test: looked up through the latter over
#     TLS, not through itself; a reload keeps it resolved, without a new lookup; with the first
#     unbound killed, the host name upstream answers; a reload that adds a pin makes it a new
#     upstream, which starts with the old one's addresses and answers at once
#   - boot: tls://dot.test alone, with bootstrap: [127.0.0.1@PORT] where nothing listens yet:
#     resolving, never tried (SERVFAIL, its unbound untouched); once a plain unbound serves
#     there, resolved through it on the 5 s retry, and it answers; the bootstrap server saw the
#     two lookups and no client's name
#   - TTL: dot.test has TTL 5, kept 30 s (the floor); its record then moves to 127.0.0.2, where
#     a third unbound serves on the same port: at the next lookup, 30 s after the first and over
#     TLS through the host name upstream itself (the first unbound is dead; for boot, not through
#     bootstrap: an upstream has an address now), both dotd follow, and queries reach the third
# Each dotd must stop cleanly (which includes libuv's loop closing with no handle left).
#
# usage: hostup.sh DOTD PROBE DOTD-CTL
# shellcheck disable=SC2034 # the counters are read by expect's eval
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE DOTD-CTL" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
CTL=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

# The local data of every unbound here: the upstreams' own names, dot.test's TTL short.
host_data()
{
	cat << EOF
  local-data: "dot.test. 5 IN A $1"
  local-data: "other.test. 300 IN A 127.0.0.1"
  log-queries: yes
EOF
}

# dotd_config FILE PORT TEXT: a configuration listening on PORT, with the test CA, and TEXT.
dotd_config()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$2]
round_robin_upstreams: 0
$3
EOF
}

# run_dotd NAME TEXT: start dotd NAME with that configuration; sets DPORT and DOTD_PID.
run_dotd()
{
	DPORT=''
	new_port DPORT
	dotd_config "$TMP/$1.yml" "$DPORT" "$2"
	start_dotd "$TMP/$1.yml" "$TMP/$1.log"
}

# stop_checked NAME PID: SIGTERM and a clean exit.
stop_checked()
{
	stop_dotd "$2" 10
	if ((STOP_STATUS == 0)) && ! grep -q "handles left open" "$TMP/$1.log"; then
		pass "$1: clean stop"
	else
		fail "$1: clean stop (status $STOP_STATUS)"
		show_log "$1" "$TMP/$1.log"
	fi
}

# lookups NAME QNAME: how many A and AAAA questions for QNAME unbound NAME has logged.
lookups()
{
	grep -c -E "info: [0-9.]+ $2\\. (A|AAAA) IN\$" "$TMP/$1.log" || true
}

# state_of SOCK UPSTREAM: the state dotd-ctl upstreams gives UPSTREAM.
state_of()
{
	"$CTL" -s "$1" upstreams | awk -v n="\"$2\"" '$1 == n { sub("state=", "", $2); print $2 }'
}

# resolved UPSTREAM ADDR TTL-TEXT VIA: the line a lookup logs.
resolved()
{
	echo "upstream '$1' resolved to $2 (TTL $3) through '$4'"
}

make_pki
start_unbound unbound1 "$(host_data 127.0.0.1)"
U1=$UPORT U1_PID=$UNBOUND_PID
start_unbound unbound2 "$(host_data 127.0.0.1)"
U2=$UPORT
# unbound3 on 127.0.0.2, the port of unbound2: where dot.test moves to.
HOST=127.0.0.2 unbound_conf unbound3 "$U2" "  tls-port: $U2
  tls-service-key: \"$TMP/pki/server.key\"
  tls-service-pem: \"$TMP/pki/server.pem\"" "$(host_data 127.0.0.2)"
HOST=127.0.0.2 unbound_run unbound3 "DoT on 127.0.0.2@$U2"

# --- zone: looked up through a forward zone's upstream; the name must match ---

run_dotd zone "upstream_recursive_servers:
  - tls://other.test:$U2
  - tls://dot.test:$U2
forward_zones:
  - zone: lan
    upstream_recursive_servers:
      - tls://$HOST:$U1#dot.test"
check "zone: other.test looked up through the forward zone's upstream, over TLS" \
	wait_log "$TMP/zone.log" "$(resolved "other.test@$U2" 127.0.0.1 "300 s" "$HOST@$U1")" 10
check "zone: dot.test too, its TTL 5 s kept 30 s" \
	wait_log "$TMP/zone.log" "$(resolved "dot.test@$U2" 127.0.0.1 "5 s, kept 30 s" "$HOST@$U1")" 10
check "zone: a query, answered by dot.test after other.test failed" \
	"$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80
line=$(upstream_stats "$DOTD_PID" "$TMP/zone.log" "other.test@$U2")
echo "    zone: $line"
af=$(stat_of "$line" auth_failures) an=$(stat_of "$line" answers)
expect zone "other.test: its certificate is not for its name (auth_failures=$af answers=$an)" \
	"$line" "((af >= 1 && an == 0))"
line=$(upstream_stats "$DOTD_PID" "$TMP/zone.log" "dot.test@$U2")
echo "    zone: $line"
an=$(stat_of "$line" answers) af=$(stat_of "$line" auth_failures)
expect zone "dot.test, same server and address: authenticated (answers=$an auth_failures=$af)" \
	"$line" "((an >= 1 && af == 0))"
stop_checked zone "$DOTD_PID"

# --- dot: looked up through the address upstream; kept by a reload; answers ---

DOT_SOCK=$TMP/dot.sock
u1_before=$(lookups unbound1 dot.test) u2_before=$(lookups unbound2 dot.test)
run_dotd dot "control_socket: \"$DOT_SOCK\"
upstream_recursive_servers:
  - tls://$HOST:$U1#dot.test
  - tls://dot.test:$U2"
DOT_PID=$DOTD_PID DOT_PORT=$DPORT
if wait_log "$TMP/dot.log" "$(resolved "dot.test@$U2" 127.0.0.1 "5 s, kept 30 s" "$HOST@$U1")" 10; then
	pass "dot: looked up through '$HOST@$U1' over TLS, TTL 5 s kept 30 s"
else
	fail "dot: looked up through '$HOST@$U1' over TLS, TTL 5 s kept 30 s"
fi
DOT_T0=$SECONDS
u1_after=$(lookups unbound1 dot.test) u2_after=$(lookups unbound2 dot.test)
expect dot "unbound1 got the A and AAAA lookups, unbound2 none ($u1_before -> $u1_after, $u2_before -> $u2_after)" \
	"" "((u1_after - u1_before == 2 && u2_after == u2_before))"
st=$(state_of "$DOT_SOCK" "dot.test@$U2")
expect dot "dotd-ctl upstreams: no longer resolving (state=$st)" "" "[[ \$st == idle || \$st == up ]]"

n=$(grep -c -F "upstream 'dot.test@$U2' resolved to" "$TMP/dot.log" || true)
out=$("$CTL" -s "$DOT_SOCK" reload 2>&1) && st=0 || st=$?
expect dot "reload: ok ($out)" "" "((st == 0))"
check "dot: reload: both upstreams kept" wait_log "$TMP/dot.log" "2 upstreams (2 kept" 5
sleep 1
m=$(grep -c -F "upstream 'dot.test@$U2' resolved to" "$TMP/dot.log" || true)
st=$(state_of "$DOT_SOCK" "dot.test@$U2")
expect dot "reload: still resolved (state=$st), no new lookup ($n lines, then $m)" "" \
	"[[ \$st == idle || \$st == up ]] && ((m == n))"

kill -KILL "$U1_PID"
q2_before=$(ustat unbound2 total.num.queries)
check "dot: unbound1 killed, a query answered" \
	"$PROBE" query "$HOST" "$DOT_PORT" d1.bench A udp NOERROR 192.0.2.1
q2_after=$(ustat unbound2 total.num.queries)
expect dot "by unbound2, through the host name upstream (queries $q2_before -> $q2_after)" "" \
	"((q2_after > q2_before))"

# A pin makes it another pool entry: it starts with the addresses of the one it replaces, so it
# answers at once, and its lookup goes through itself (unbound1, the only address, is dead).
dotd_config "$TMP/dot.yml" "$DOT_PORT" "control_socket: \"$DOT_SOCK\"
upstream_recursive_servers:
  - tls://$HOST:$U1#dot.test
  - tls://dot.test:$U2^$(cat "$TMP/pki/server.spki")"
out=$("$CTL" -s "$DOT_SOCK" reload 2>&1) && st=0 || st=$?
expect dot "reload with a pin: ok ($out)" "" "((st == 0))"
check "dot: reload with a pin: a new upstream" wait_log "$TMP/dot.log" "2 upstreams (1 kept" 5
st=$(state_of "$DOT_SOCK" "dot.test@$U2")
expect dot "the new upstream has the old one's addresses at once (state=$st)" "" \
	"[[ \$st == idle || \$st == up ]]"
check "dot: and answers at once" \
	"$PROBE" query "$HOST" "$DOT_PORT" d1p.bench A udp NOERROR 192.0.2.1
if wait_log "$TMP/dot.log" "$(resolved "dot.test@$U2" 127.0.0.1 "5 s, kept 30 s" "dot.test@$U2"), unchanged" 10; then
	pass "dot: the new upstream looked up through itself over TLS, unchanged"
else
	fail "dot: the new upstream looked up through itself over TLS, unchanged"
fi
DOT_T0=$SECONDS

# --- boot: bootstrap, nothing there at first ---

BPORT=""
new_port BPORT
BOOT_SOCK=$TMP/boot.sock
run_dotd boot "control_socket: \"$BOOT_SOCK\"
upstream_recursive_servers:
  - tls://dot.test:$U2
bootstrap: [$HOST@$BPORT]"
BOOT_PID=$DOTD_PID BOOT_PORT=$DPORT
check "boot: the lookup fails, nobody serves the bootstrap port" \
	wait_log "$TMP/boot.log" "upstream 'dot.test@$U2': cannot look up 'dot.test' (cannot connect); not used until it is, trying again in 5 s" 5
for ((i = 0; i < 50; i++)); do
	[[ -S $BOOT_SOCK ]] && break
	sleep 0.1
done
st=$(state_of "$BOOT_SOCK" "dot.test@$U2")
expect boot "dotd-ctl upstreams: resolving (state=$st)" "" "[[ \$st == resolving ]]"
q2_before=$(ustat unbound2 total.num.queries)
out=$("$PROBE" ttl "$HOST" "$BOOT_PORT" b0.bench A 2>&1) || true
q2_after=$(ustat unbound2 total.num.queries)
expect boot "a query meanwhile: SERVFAIL ($out), the upstream never tried (unbound2 $q2_before -> $q2_after)" \
	"" "[[ \$out == *rcode=SERVFAIL* ]] && ((q2_after == q2_before))"
# Not even picked: a pick would have been refused by tls/, and query.c says so.
expect boot "not even picked for a try" "" \
	"! grep -q -F \"upstream 'dot.test@$U2' cannot take the query\" '$TMP/boot.log'"
UPORT=''
unbound_conf unbound-boot "$BPORT" "" "$(host_data 127.0.0.1)"
unbound_run unbound-boot "plain DNS on $HOST@$BPORT"
if wait_log "$TMP/boot.log" "$(resolved "dot.test@$U2" 127.0.0.1 "5 s, kept 30 s" "$HOST@$BPORT")" 15; then
	pass "boot: looked up through the bootstrap server on the retry"
else
	fail "boot: looked up through the bootstrap server on the retry"
fi
BOOT_T0=$SECONDS
st=$(state_of "$BOOT_SOCK" "dot.test@$U2")
expect boot "dotd-ctl upstreams: no longer resolving (state=$st)" "" "[[ \$st == idle || \$st == up ]]"
check "boot: a query answered" \
	"$PROBE" query "$HOST" "$BOOT_PORT" b1.bench A udp NOERROR 192.0.2.1
qb=$(ustat unbound-boot total.num.queries) lb=$(lookups unbound-boot dot.test)
expect boot "the bootstrap server saw the two lookups and nothing else (queries=$qb, lookups=$lb)" \
	"" "((qb == 2 && lb == 2)) && ! grep -q bench '$TMP/unbound-boot.log'"

# --- TTL: dot.test moves to 127.0.0.2 ---

ucontrol unbound2 local_data_remove dot.test. > /dev/null
ucontrol unbound2 local_data "dot.test. 5 IN A 127.0.0.2" > /dev/null
moved=$(resolved "dot.test@$U2" 127.0.0.2 "5 s, kept 30 s" "dot.test@$U2")
if wait_log "$TMP/dot.log" "$moved" $((DOT_T0 + 45 - SECONDS)); then
	dt=$((SECONDS - DOT_T0))
	expect dot "looked up again $dt s after the first (30 s, not the record's 5 s), over TLS through itself, moved" \
		"" "((dt >= 28 && dt <= 40))"
else
	fail "dot: looked up again within 45 s, through itself, moved to 127.0.0.2"
fi
q3_before=$(ustat unbound3 total.num.queries)
check "dot: a query after the move answered" \
	"$PROBE" query "$HOST" "$DOT_PORT" d2.bench A udp NOERROR 192.0.2.1
q3_after=$(ustat unbound3 total.num.queries)
expect dot "by unbound3 on 127.0.0.2 (queries $q3_before -> $q3_after)" "" "((q3_after > q3_before))"
line=$(upstream_stats "$DOT_PID" "$TMP/dot.log" "dot.test@$U2")
echo "    dot: $line"
conns=$(stat_of "$line" connections) open=$(stat_of "$line" conns_open)
expect dot "the connection to 127.0.0.1 drained, one to 127.0.0.2 open (connections=$conns conns_open=$open)" \
	"$line" "((conns >= 2 && open == 1))"

if wait_log "$TMP/boot.log" "$moved" $((BOOT_T0 + 45 - SECONDS)); then
	dt=$((SECONDS - BOOT_T0))
	qb=$(ustat unbound-boot total.num.queries)
	expect boot "looked up again after $dt s over TLS, not through bootstrap (its queries: $qb)" \
		"" "((dt >= 28 && dt <= 40 && qb == 2))"
else
	fail "boot: looked up again within 45 s over TLS, moved to 127.0.0.2"
fi
check "boot: a query after the move answered" \
	"$PROBE" query "$HOST" "$BOOT_PORT" b2.bench A udp NOERROR 192.0.2.1

stop_checked dot "$DOT_PID"
stop_checked boot "$BOOT_PID"

summary hostup.sh
