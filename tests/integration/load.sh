#!/usr/bin/env bash
# dotd under hostile clients, against a real unbound serving DoT on loopback:
#   - the TCP limit held full by silent connections, drip-feeding clients, and dnsperf sending
#     UDP meanwhile: every UDP query is answered, RSS stays under the bound, a new TCP client
#     is still served (the oldest idle connection makes room), the drip-feeders are closed
#   - a client that sends and never reads is closed (tcp_buffer_max), also one that sends a
#     batch and stops: the kernel's send buffer is bounded too; closed idle with answers
#     unsent, it gets a reset
#   - access_control: outside it, UDP gets nothing and TCP gets REFUSED
#   - then 100 identical questions at once reach the upstream once
#
# usage: load.sh DOTD PROBE
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD PROBE" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
RSS_BOUND_KB=$((32 * 1024)) # the defaults are sized for a 64 MB router

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

if ! command -v dnsperf > /dev/null 2>&1; then
	die "dnsperf is installed"
fi

start_unbound unbound
UP=$UPORT
DPORT=''
new_port DPORT
cat > "$TMP/dotd.yml" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$DPORT]
idle_timeout: 30000
tcp_clients_max: 32
tcp_idle_timeout: 1500
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UP
    tls_auth_name: "dot.test"
EOF
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
MAIN_PID=$DOTD_PID
wait_answer "$DPORT" 10 "$MAIN_PID" || die "dotd starts and answers"
pass "dotd starts and answers (tcp_clients_max 32, tcp_idle_timeout 1.5 s)"

# clients_line: dotd's client counters after SIGUSR1.
clients_line()
{
	local n
	n=$(grep -c -F "clients:" "$TMP/dotd.log" || true)
	kill -USR1 "$MAIN_PID"
	wait_log "$TMP/dotd.log" "clients:" 5 $((n + 1)) || return 1
	grep -F "clients:" "$TMP/dotd.log" | tail -n 1
}

# --- the TCP limit full, drip-feeders, and dnsperf over UDP ---

for ((i = 0; i < 2000; i++)); do
	echo "l$((i % 500)).load.bench A"
done > "$TMP/queries.txt"

"$PROBE" hold "$HOST" "$DPORT" 32 10 > "$TMP/hold.out" 2>&1 &
hold_pid=$!
PIDS+=("$hold_pid")
wait_log "$TMP/hold.out" "holding" 10 || true
drips=()
for ((i = 0; i < 8; i++)); do
	"$PROBE" drip "$HOST" "$DPORT" 8 > "$TMP/drip$i.out" 2>&1 &
	drips+=($!)
	PIDS+=("$!")
done
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/queries.txt" -l 6 -Q 3000 -c 4 -t 3 \
	> "$TMP/dnsperf.out" 2>&1 &
perf_pid=$!
PIDS+=("$perf_pid")
rss_max=0
while alive "$perf_pid"; do
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MAIN_PID/status" 2> /dev/null || echo 0)
	((rss > rss_max)) && rss_max=$rss
	sleep 0.2
done
wait "$perf_pid" || true
sent=$(awk '/Queries sent:/ { print $3 }' "$TMP/dnsperf.out")
lost=$(awk '/Queries lost:/ { print $3 }' "$TMP/dnsperf.out")
if [[ -n $sent && $sent -gt 0 && $lost == 0 ]]; then
	pass "dnsperf over UDP with the TCP limit full and 8 drip-feeders: $sent sent, 0 lost"
else
	fail "dnsperf over UDP with the TCP limit full and 8 drip-feeders: sent '$sent', lost '$lost'"
	indent < "$TMP/dnsperf.out"
fi
if ((rss_max > 0 && rss_max < RSS_BOUND_KB)); then
	pass "RSS under load at most ${rss_max} kB (bound ${RSS_BOUND_KB} kB)"
else
	fail "RSS under load at most ${rss_max} kB (bound ${RSS_BOUND_KB} kB)"
fi
ndrip=0
for p in "${drips[@]}"; do
	wait "$p" && ndrip=$((ndrip + 1))
done
if ((ndrip == 8)); then
	pass "the 8 drip-feeding clients were closed ($(head -n 1 "$TMP/drip0.out"))"
else
	fail "the 8 drip-feeding clients were closed (only $ndrip)"
	cat "$TMP"/drip*.out | indent
fi
check "a new TCP client is served while the limit is full" \
	"$PROBE" query "$HOST" "$DPORT" www.example A tcp NOERROR 192.0.2.80
wait "$hold_pid" || true
line=$(clients_line)
evicted=$(stat_of "$line" tcp_evicted)
idle=$(stat_of "$line" tcp_idle_closed)
if ((evicted >= 1 && idle >= 8)); then
	pass "oldest connections made room ($evicted) and idle ones were closed ($idle)"
else
	fail "oldest connections made room (tcp_evicted=$evicted) and idle ones were closed" \
		"(tcp_idle_closed=$idle)"
fi
echo "    $(tail -n 1 "$TMP/hold.out")"

# --- a client that never reads ---

check "a TCP client that never reads its answers is closed" \
	"$PROBE" noread "$HOST" "$DPORT" 20 www.example
line=$(clients_line)
overflow=$(stat_of "$line" tcp_overflow_closed)
if ((overflow >= 1)); then
	pass "closed for tcp_buffer_max (tcp_overflow_closed=$overflow)"
else
	fail "closed for tcp_buffer_max (tcp_overflow_closed=$overflow)"
fi
check "dotd still serves" "$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80
# 400 queries in one write and nothing more: 1.3 MB of answers. The kernel's send buffer is held
# to tcp_buffer_max too, so they overflow it and the client is closed (reset: its queries were
# still unread), not left with the kernel holding megabytes for it.
check "a client that sends 400 queries at once and then neither reads nor sends is closed" \
	"$PROBE" fill "$HOST" "$DPORT" 400 big.example TXT 10
line=$(clients_line)
if (($(stat_of "$line" tcp_overflow_closed) > overflow)); then
	pass "closed for tcp_buffer_max (tcp_overflow_closed=$(stat_of "$line" tcp_overflow_closed))"
else
	fail "closed for tcp_buffer_max (tcp_overflow_closed=$(stat_of "$line" tcp_overflow_closed))"
fi

# 25 queries in one write: 80 KB of answers, more than the kernel's send buffer takes, less than
# overflows our queue. Idle after 1.5 s, dotd closes it with a reset: with a FIN behind the
# unsent answers, Linux would keep them in an orphaned socket for minutes, probing the window.
idle=$(stat_of "$line" tcp_idle_closed)
overflow=$(stat_of "$line" tcp_overflow_closed)
check "a client that stops reading and is closed idle gets a reset, not a FIN behind its answers" \
	"$PROBE" fill "$HOST" "$DPORT" 25 big.example TXT 5
line=$(clients_line)
if (($(stat_of "$line" tcp_idle_closed) > idle &&
	$(stat_of "$line" tcp_overflow_closed) == overflow)); then
	pass "closed as idle (tcp_idle_closed=$(stat_of "$line" tcp_idle_closed))"
else
	fail "closed as idle (tcp_idle_closed $idle -> $(stat_of "$line" tcp_idle_closed)," \
		"tcp_overflow_closed $overflow -> $(stat_of "$line" tcp_overflow_closed))"
fi
# The same, the client's FIN after its queries: dotd answers a half-closed client, but answers
# still unsent when it would close are reset as well, not left behind a FIN.
check "a client that half-closes and does not read gets a reset, not a FIN behind its answers" \
	"$PROBE" fill "$HOST" "$DPORT" 25 big.example TXT 5 halfclose

# --- 100 identical questions at once reach the upstream once ---

before=$(ustat unbound total.num.queries)
check "100 identical questions at once: all answered" \
	"$PROBE" flood "$HOST" "$DPORT" 100 once.load.bench A
after=$(ustat unbound total.num.queries)
if ((after - before == 1)); then
	pass "they reached unbound once (total.num.queries $before -> $after)"
else
	fail "they reached unbound once (total.num.queries $before -> $after)"
fi
stop_dotd "$MAIN_PID" 10
if ((STOP_STATUS == 0)); then
	pass "clean stop after the load"
else
	fail "clean stop after the load (status $STOP_STATUS)"
fi

# --- access_control ---

APORT=''
new_port APORT
sed -e "s/$HOST@$DPORT/$HOST@$APORT/" -e '/^tcp_/d' "$TMP/dotd.yml" > "$TMP/acl.yml"
echo 'access_control: ["10.0.0.0/8", "fd00::/8"]' >> "$TMP/acl.yml"
start_dotd "$TMP/acl.yml" "$TMP/acl.log"
ACL_PID=$DOTD_PID
deadline=$((SECONDS + 10))
until "$PROBE" query "$HOST" "$APORT" www.example A tcp REFUSED > /dev/null 2>&1; do
	((SECONDS < deadline)) || break
	sleep 0.2
done
check "outside access_control: TCP gets REFUSED" \
	"$PROBE" query "$HOST" "$APORT" www.example A tcp REFUSED
if "$PROBE" query "$HOST" "$APORT" www.example A udp > "$TMP/acl-udp.out" 2>&1; then
	fail "outside access_control: UDP gets nothing"
	indent < "$TMP/acl-udp.out"
else
	pass "outside access_control: UDP gets nothing ($(tail -n 1 "$TMP/acl-udp.out"))"
fi
stop_dotd "$ACL_PID" 10

summary load
