#!/usr/bin/env bash
# Operating dotd, against real unbounds serving DoT on loopback:
#   - the control socket: mode 0660, dotd-ctl status, stats (exact counts for a known burst),
#     upstreams, flush (a flushed name reaches unbound again, unbound's own counter);
#     serving loads no ldns (nor its OpenSSL), nor does a flush by name (ldns_lib.h);
#     a path that is not a socket is refused; a slow client costs only its connection
#   - Prometheus: dotd-ctl stats --prometheus and curl /metrics parse with Debian's
#     prometheus_client; metrics_access_control refuses a client outside it
#   - reload: SIGHUP under dnsperf load loses no query and keeps cached names off the upstream;
#     an unchanged upstream keeps its connection; a broken file changes nothing, and
#     dotd-ctl reload prints its error with file and line and exits 1; new limits keep the
#     connection; a changed upstream and a new listen address take effect; a removed address
#     stops answering; an address that cannot be bound is named, and the rest serves
#   - the cache file: written on a clean stop, read at start; a name cached before the stop is
#     answered with its aged TTL while the upstream is down; dotd-ctl cache dump and load; a
#     corrupted file is refused with a warning and dotd starts empty
#
# usage: ops.sh DOTD PROBE DOTD-CTL
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE DOTD-CTL" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
CTL=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client (not a pyenv shim)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

for tool in dnsperf curl; do
	command -v "$tool" > /dev/null 2>&1 || die "$tool is installed"
done
"$PY" -c 'import prometheus_client' 2> /dev/null || die "python3-prometheus-client is installed"

SOCK=$TMP/control.sock

# write_cfg FILE UPSTREAM-PORT LISTEN... : dotd with the control socket, metrics and a cache
# file, in front of one upstream; EXTRA lines (global) are appended.
EXTRA=''
write_cfg()
{
	local f=$1 up=$2 l
	shift 2
	{
		echo "tls_ca_file: \"$TMP/pki/ca.pem\""
		echo "control_socket: \"$SOCK\""
		echo "cache_file: \"$TMP/dotd.cache\""
		echo "metrics_listen: \"$HOST@$MPORT\""
		echo "idle_timeout: 60000"
		echo "listen_addresses:"
		for l in "$@"; do
			echo "  - \"$HOST@$l\""
		done
		echo "upstream_recursive_servers:"
		echo "  - address_data: $HOST"
		echo "    tls_port: $up"
		echo "    tls_auth_name: \"dot.test\""
		if [[ -n $EXTRA ]]; then
			printf '%s\n' "$EXTRA"
		fi
	} > "$f"
}

# cstat NAME: one counter from dotd-ctl stats ("name value" lines).
cstat()
{
	"$CTL" -s "$SOCK" stats | awk -v k="$1" '$1 == k { print $2; found = 1 }
		END { exit !found }'
}

queries()
{
	ustat "$1" total.num.queries
}

# field LINE NAME: the value of NAME=value in a probe ttl line.
field()
{
	local v=${1##*"$2="}
	echo "${v%% *}"
}

start_unbound unbound
UP=$UPORT
start_unbound unbound2
UP2=$UPORT
DPORT='' DPORT2='' MPORT=''
new_port DPORT
new_port DPORT2
new_port MPORT
write_cfg "$TMP/dotd.yml" "$UP" "$DPORT"
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers"
pass "dotd starts and answers"

# --- the control socket ---

mode=$(stat -c '%a %F' "$SOCK" 2> /dev/null || true)
expect "control socket" "mode 0660, a socket ($mode)" "$mode" '[[ $mode == "660 socket" ]]'
out=$("$CTL" -s "$SOCK" status 2>&1) && st=0 || st=$?
expect "dotd-ctl status" "exit 0, version, config and the upstream" "$out" \
	'((st == 0)) && [[ $out == *"dotd 0."* && $out == *"$TMP/dotd.yml"* && $out == *"$HOST@$UP"* ]]'
out=$("$CTL" -s "$SOCK" upstreams 2>&1) && st=0 || st=$?
expect "dotd-ctl upstreams" "exit 0, the upstream named" "$out" \
	'((st == 0)) && [[ $out == *"$HOST@$UP"* ]]'
out=$("$CTL" -s "$SOCK" frobnicate 2>&1) && st=0 || st=$?
expect "dotd-ctl with an unknown command" "exit 2 (usage)" "$out" '((st == 2))'

# Exact counts for a known burst: 5 A over UDP, 3 AAAA over TCP (www.example is cached from
# wait_answer), then 2 repeats from the cache.
u0=$(cstat queries'{transport="udp"}') t0=$(cstat queries'{transport="tcp"}')
a0=$(cstat queries_by_type'{type="A"}') q0=$(cstat queries_by_type'{type="AAAA"}')
c0=$(cstat answers_by_source'{source="cache"}')
h0=$(cstat answer_duration_seconds_count)
for n in www mail mx ns txt; do
	"$PROBE" query "$HOST" "$DPORT" "$n.example" A udp > /dev/null 2>&1 || true
done
for n in www mail mx; do
	"$PROBE" query "$HOST" "$DPORT" "$n.example" AAAA tcp > /dev/null 2>&1 || true
done
"$PROBE" query "$HOST" "$DPORT" mail.example A udp > /dev/null 2>&1 || true
"$PROBE" query "$HOST" "$DPORT" mx.example A udp > /dev/null 2>&1 || true
u1=$(cstat queries'{transport="udp"}') t1=$(cstat queries'{transport="tcp"}')
a1=$(cstat queries_by_type'{type="A"}') q1=$(cstat queries_by_type'{type="AAAA"}')
c1=$(cstat answers_by_source'{source="cache"}')
h1=$(cstat answer_duration_seconds_count)
expect "stats move with the traffic" "udp +7, tcp +3, A +7, AAAA +3, cache +3, answers +10" \
	"udp $u0->$u1 tcp $t0->$t1 A $a0->$a1 AAAA $q0->$q1 cache $c0->$c1 answers $h0->$h1" \
	'((u1 - u0 == 7 && t1 - t0 == 3 && a1 - a0 == 7 && q1 - q0 == 3 && c1 - c0 == 3 && h1 - h0 == 10))'

# ldns is loaded when first needed (resolver/ldns_lib.h): the queries above (misses over TLS,
# hits, UDP and TCP) needed none of it, nor of the OpenSSL it pulls in; a flush by name reads
# the name and type with dotd's own code (cache/dns_text.c), so it does not load ldns either.
# (tests/integration/ldns.sh has what does.)
maps=$(grep -oE '/[^ ]*lib(ldns|crypto|ssl)\.so[^ ]*' "/proc/$DOTD_PID/maps" | sort -u | tr '\n' ' ' || true)
expect "ldns not loaded by serving" "no libldns, libssl or libcrypto mapped (${maps:-none})" \
	"$maps" '[[ -z $maps ]]'
before=$(queries unbound)
"$PROBE" query "$HOST" "$DPORT" www.example A udp > /dev/null
mid=$(queries unbound)
out=$("$CTL" -s "$SOCK" flush www.example A 2>&1) && st=0 || st=$?
"$PROBE" query "$HOST" "$DPORT" www.example A udp > /dev/null
"$PROBE" query "$HOST" "$DPORT" mail.example A udp > /dev/null
after=$(queries unbound)
expect "dotd-ctl flush www.example A" "cached before, one upstream query after, mail.example still cached" \
	"unbound queries $before, $mid, $after; dotd-ctl: $st $out" \
	'((st == 0 && mid == before && after == mid + 1))'
maps=$(grep -oE '/[^ ]*lib(ldns|crypto|ssl)\.so[^ ]*' "/proc/$DOTD_PID/maps" | sort -u | tr '\n' ' ' || true)
expect "ldns not loaded by a flush by name" "no libldns, libssl or libcrypto mapped (${maps:-none})" \
	"$maps" '[[ -z $maps ]]'
out=$("$CTL" -s "$SOCK" flush 'bad..name' 2>&1) && st=0 || st=$?
expect "dotd-ctl flush of a bad name" "exit 1 with the daemon's message" "$out" \
	'((st == 1)) && [[ $out == *"not a domain name"* ]]'

# A client that connects and sends nothing does not block another.
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"sta"); time.sleep(8)' \
	"$SOCK" &
slow=$!
PIDS+=("$slow")
sleep 0.3
out=$(timeout 5 "$CTL" -s "$SOCK" status 2>&1) && st=0 || st=$?
expect "a stalled control client" "another is answered meanwhile" "$out" '((st == 0))'
kill "$slow" 2> /dev/null || true
out=$("$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"x" * 5000)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.decode(errors="replace").replace("\n", " "))' "$SOCK" 2>&1 || true)
expect "a control request over 4096 bytes" "refused with an error, the connection closed ($out)" \
	"$out" '[[ $out == "error request longer than 4096 bytes"* ]]'

# --- Prometheus ---

"$CTL" -s "$SOCK" stats --prometheus > "$TMP/prom.txt" 2>&1 && st=0 || st=$?
check_prom()
{
	"$PY" - "$1" << 'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
need = {"dotd_queries": "counter", "dotd_answer_duration_seconds": "histogram",
        "dotd_upstream_queries": "counter", "dotd_cache_entries": "gauge"}
for name, typ in need.items():
    if name not in fams or fams[name].type != typ:
        sys.exit("missing or mistyped: %s (%s)" % (name, fams.get(name) and fams[name].type))
h = fams["dotd_answer_duration_seconds"]
buckets = [s for s in h.samples if s.name.endswith("_bucket")]
count = [s.value for s in h.samples if s.name.endswith("_count")][0]
vals = [s.value for s in buckets]
if vals != sorted(vals) or buckets[-1].labels["le"] != "+Inf" or vals[-1] != count:
    sys.exit("histogram not cumulative or +Inf != count")
print("%d families" % len(fams))
EOF
}
out=$(check_prom "$TMP/prom.txt" 2>&1) && ok=0 || ok=$?
expect "dotd-ctl stats --prometheus" "parses with prometheus_client ($out)" "$out" '((st == 0 && ok == 0))'
code=$(curl -s -o "$TMP/metrics.txt" -w '%{http_code}' "http://$HOST:$MPORT/metrics" || true)
out=$(check_prom "$TMP/metrics.txt" 2>&1) && ok=0 || ok=$?
expect "curl /metrics" "200 and parses ($out)" "$code $out" '[[ $code == 200 ]] && ((ok == 0))'
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$MPORT/" || true)
expect "curl /" "404: nothing else is served" "$code" '[[ $code == 404 ]]'
out=$("$CTL" -s "$SOCK" stats --json 2>&1) && st=0 || st=$?
ok=$(printf '%s' "$out" | "$PY" -c 'import json, sys; json.load(sys.stdin); print("ok")' 2>&1 || true)
expect "dotd-ctl stats --json" "valid JSON" "$ok" '((st == 0)) && [[ $ok == ok ]]'

# metrics_access_control without loopback: a loopback client is closed unanswered, then the
# reload that restores the default (loopback only) lets it in again.
EXTRA='metrics_access_control: ["10.0.0.0/8"]'
write_cfg "$TMP/dotd.yml" "$UP" "$DPORT"
EXTRA=''
"$CTL" -s "$SOCK" reload > /dev/null 2>&1 || true
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$MPORT/metrics" || true)
expect "metrics_access_control: [10.0.0.0/8]" "a loopback client gets no answer ($code)" "$code" \
	'[[ $code == 000 ]]'
write_cfg "$TMP/dotd.yml" "$UP" "$DPORT"
"$CTL" -s "$SOCK" reload > /dev/null 2>&1 || true
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$HOST:$MPORT/metrics" || true)
expect "metrics_access_control back to the default" "loopback served again ($code)" "$code" \
	'[[ $code == 200 ]]'

# --- reload ---

# Warm the cache with the names dnsperf will ask, then reload under load.
printf '%s\n' "www.example A" "mail.example MX" "txt.example TXT" "mx.example A" \
	"ns.example A" "www.example AAAA" > "$TMP/queries.txt"
while read -r n t; do
	"$PROBE" query "$HOST" "$DPORT" "$n" "$t" udp > /dev/null 2>&1 || true
done < "$TMP/queries.txt"
conns0=$(cstat upstream_connections"{upstream=\"$HOST@$UP\"}")
before=$(queries unbound)
r0=$(grep -c 'reloaded ' "$TMP/dotd.log" || true)
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/queries.txt" -l 4 -Q 2000 -c 4 -t 3 \
	> "$TMP/dnsperf.out" 2>&1 &
perf=$!
PIDS+=("$perf")
for i in 1 2 3 4 5 6; do
	sleep 0.5
	kill -HUP "$DOTD_PID"
done
wait "$perf" || true
after=$(queries unbound)
sent=$(awk '/Queries sent:/ { print $3 }' "$TMP/dnsperf.out")
lost=$(awk '/Queries lost:/ { print $3 }' "$TMP/dnsperf.out")
conns1=$(cstat upstream_connections"{upstream=\"$HOST@$UP\"}")
reloads=$(($(grep -c 'reloaded ' "$TMP/dotd.log" || true) - r0))
expect "SIGHUP x6 under dnsperf" "no query lost ($sent sent, ${lost:-?} lost), unbound $before -> $after, connections $conns0 -> $conns1, $reloads reloads" \
	"sent $sent lost $lost; unbound $before -> $after; connections $conns0 -> $conns1; reloads logged $reloads" \
	'[[ -n $sent && $sent -gt 1000 && $lost == 0 ]] && ((after == before && conns1 == conns0 && reloads == 6))'

# A broken file changes nothing; dotd-ctl reload says why with file and line, and exits 1.
cp "$TMP/dotd.yml" "$TMP/good.yml"
printf 'timeout: lots\n' >> "$TMP/dotd.yml"
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
expect "dotd-ctl reload of a broken file" "exit 1, file and line in the message" "$out" \
	'((st == 1)) && [[ $out == *"$TMP/dotd.yml:"*"timeout"* ]]'
kill -HUP "$DOTD_PID"
sleep 0.3
check "a broken file on reload: still serving (UDP)" \
	"$PROBE" query "$HOST" "$DPORT" txt.example TXT udp NOERROR
check "a broken file on reload: still serving, a new name (TCP)" \
	"$PROBE" query "$HOST" "$DPORT" ns.example AAAA tcp
expect "SIGHUP with a broken file" "the error is logged with file and line" \
	"$(grep 'dotd.yml:' "$TMP/dotd.log" | tail -n 2)" \
	'grep -q "$TMP/dotd.yml:[0-9]*: key .timeout." "$TMP/dotd.log"'

# New limits for a kept upstream: it keeps its connection (the pool key is unchanged).
EXTRA='timeout_per_try: 400
limit_outstanding_queries: 50'
write_cfg "$TMP/dotd.yml" "$UP" "$DPORT"
EXTRA=''
c0=$(cstat upstream_connections"{upstream=\"$HOST@$UP\"}")
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
"$PROBE" query "$HOST" "$DPORT" mx.example AAAA tcp > /dev/null 2>&1 || true
c1=$(cstat upstream_connections"{upstream=\"$HOST@$UP\"}")
expect "reload with new upstream limits" "exit 0, the connection kept ($c0 -> $c1)" "$out" \
	'((st == 0 && c1 == c0))'

# A changed upstream and a new listen address take effect; the old address stops answering.
write_cfg "$TMP/dotd.yml" "$UP2" "$DPORT2"
u2a=$(queries unbound2)
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
expect "dotd-ctl reload to another upstream and address" "exit 0" "$out" '((st == 0))'
"$CTL" -s "$SOCK" flush > /dev/null
check "the new listen address answers" "$PROBE" query "$HOST" "$DPORT2" www.example A udp NOERROR 192.0.2.80
u2b=$(queries unbound2)
expect "the changed upstream is used" "unbound2 got the query" "unbound2 $u2a -> $u2b" '((u2b > u2a))'
if "$PROBE" query "$HOST" "$DPORT" mail.example A udp > /dev/null 2>&1; then
	fail "the removed listen address no longer answers"
else
	pass "the removed listen address no longer answers"
fi

# Binding what the process may not: a reload that names a port in use says so and keeps the rest.
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$DPORT" &
squat=$!
PIDS+=("$squat")
sleep 0.3
write_cfg "$TMP/dotd.yml" "$UP2" "$DPORT2" "$DPORT"
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
expect "reload with an address that cannot be bound" "exit 1 naming it, the rest serves" "$out" \
	'((st == 1)) && [[ $out == *"$HOST@$DPORT"* ]] && "$PROBE" query "$HOST" "$DPORT2" www.example A udp >/dev/null 2>&1'
kill "$squat" 2> /dev/null || true

# --- the cache file ---

# On a port of its own: the one given up above may have been taken meanwhile by another test
# running beside this one (dotd-probe freeport hands out any free port below the ephemeral range).
DPORT3=''
new_port DPORT3

write_cfg "$TMP/dotd.yml" "$UP" "$DPORT3"
"$CTL" -s "$SOCK" reload > /dev/null 2>&1 || true
"$PROBE" query "$HOST" "$DPORT3" txt.example TXT udp > /dev/null
out=$("$CTL" -s "$SOCK" cache dump "$TMP/manual.cache" 2>&1) && st=0 || st=$?
expect "dotd-ctl cache dump" "exit 0, a file written" "$out" '((st == 0)) && [[ -s $TMP/manual.cache ]]'
"$CTL" -s "$SOCK" flush > /dev/null
out=$("$CTL" -s "$SOCK" cache load "$TMP/manual.cache" 2>&1) && st=0 || st=$?
before=$(queries unbound)
"$PROBE" query "$HOST" "$DPORT3" txt.example TXT udp > /dev/null
after=$(queries unbound)
expect "dotd-ctl cache load" "exit 0, then txt.example from the cache" "$out; unbound $before -> $after" \
	'((st == 0 && after == before))'
printf 'not a cache file' > "$TMP/junk.cache"
out=$("$CTL" -s "$SOCK" cache load "$TMP/junk.cache" 2>&1) && st=0 || st=$?
expect "dotd-ctl cache load of a foreign file" "exit 1, refused" "$out" \
	'((st == 1)) && [[ $out == *"refused"* ]]'

t1=$(field "$("$PROBE" ttl "$HOST" "$DPORT3" txt.example TXT)" ttl)
stop_dotd "$DOTD_PID" 10
expect "clean stop" "status 0, cache file written" "status $STOP_STATUS" \
	'((STOP_STATUS == 0)) && [[ -s $TMP/dotd.cache ]] && ! [[ -e $SOCK ]]'
kill -TERM "$(cat "$TMP/unbound.pid")"
sleep 2.2
start_dotd "$TMP/dotd.yml" "$TMP/dotd2.log"
wait_log "$TMP/dotd2.log" "entries loaded" 10 || true
l2=$("$PROBE" ttl "$HOST" "$DPORT3" txt.example TXT 2>&1 || true)
t2=$(field "$l2" ttl)
expect "restart with the upstream down" "txt.example from the cache file, TTL aged ($t1 -> $t2)" \
	"$l2" '[[ $t2 =~ ^[0-9]+$ ]] && ((t2 <= t1 - 2 && t2 >= t1 - 6))'
stop_dotd "$DOTD_PID" 10

# A corrupted file: refused with a warning, dotd starts empty and serves.
start_unbound unbound3
write_cfg "$TMP/dotd.yml" "$UPORT" "$DPORT3"
size=$(stat -c %s "$TMP/dotd.cache")
printf '\xff' | dd of="$TMP/dotd.cache" bs=1 seek=$((size / 2)) conv=notrunc status=none
start_dotd "$TMP/dotd.yml" "$TMP/dotd3.log"
wait_answer "$DPORT3" 10 "$DOTD_PID" || true
expect "a corrupted cache file" "refused with a warning, dotd serves" "$(grep -i 'cache file' "$TMP/dotd3.log" || true)" \
	'grep -q "cache file:.*refused" "$TMP/dotd3.log" && "$PROBE" query "$HOST" "$DPORT3" www.example A udp >/dev/null 2>&1'

# A path that exists and is not a socket is refused: dotd does not start.
stop_dotd "$DOTD_PID" 10
rm -f "$SOCK"
echo "precious" > "$SOCK"
start_dotd "$TMP/dotd.yml" "$TMP/dotd4.log"
for ((i = 0; i < 50; i++)); do
	alive "$DOTD_PID" || break
	sleep 0.1
done
wait "$DOTD_PID" 2> /dev/null && st=0 || st=$?
expect "control_socket on a regular file" "dotd exits 1 and the file is untouched" \
	"status $st, $(cat "$SOCK")" '((st == 1)) && [[ $(cat "$SOCK") == precious ]]'

summary ops
