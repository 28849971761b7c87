#!/usr/bin/env bash
# shellcheck disable=SC2016 # the conditions are expanded by expect's eval
# workers.sh: `workers: 2` (resolver/worker.c) in front of a real unbound over DoT, first with
# `workers_steering: hash`:
#   - two threads, each with its own loop and SO_REUSEPORT sockets, and both serve: queries
#     from many source ports spread over them (worker_queries in dotd-ctl stats), over UDP and
#     TCP, every one answered, and the counters are the sums over both;
#   - the ticket store is shared: of the two workers' first connections, one is a full
#     handshake and the other is resumed with its ticket;
#   - the hosts file, borrowed by the second worker from the first, is answered by both, and
#     again by both once it is rewritten and read again;
#   - a reload reaches both: a listen address added by SIGHUP is served by both workers;
#   - a reload that the second worker cannot take (its thread alone cannot read the new trust
#     anchors: FAILOPEN, an LD_PRELOAD shim, tests/integration/failopen.c) is answered as such,
#     names the worker and why, is counted in reload_failures, and both workers serve on; the
#     next reload that it can take reaches it again;
#   - flush empties both caches; dotd exits cleanly.
# Then with the default, `workers_steering: cpu` (resolver/steer.c), on a host where dotd may
# run on two CPUs or more:
#   - each worker's thread is pinned to its own CPUs, the first's and the second's apart;
#   - queries from many source ports sent from a client pinned to the first worker's CPU are all
#     answered by the first worker, from the second's by the second (the hash would spread them);
#   - the same on a listen address added by a reload, which the workers bind in turn;
#   - a block list that a reload reads off the loop: libuv's pool of threads, made then by the
#     pinned main thread, may run on every CPU, and the main thread stays pinned;
#   - a reload to `workers_steering: hash` warns that it takes effect at the next start, and
#     the steering goes on.
#
# usage: workers.sh DOTD PROBE DOTD-CTL FAILOPEN
set -euo pipefail

if [[ $# -ne 4 ]]; then
	echo "usage: $0 DOTD PROBE DOTD-CTL FAILOPEN" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
CTL=$(realpath "$3")
FAILOPEN=$(realpath "$4")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

HOST2=127.0.0.2 # the whole of 127/8 is on lo: a second listen address on this host
SOCK=$TMP/ctl.sock

start_unbound unbound
DPORT=''
new_port DPORT
printf '192.0.2.77 h.test\n' > "$TMP/hosts"
# write_cfg LISTEN...: the configuration, listening on LISTEN addresses.
write_cfg()
{
	local list
	list=$(printf '%s, ' "$@")
	cat > "$TMP/dotd.yml" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [${list%, }]
workers: 2
${STEERING:+workers_steering: $STEERING}
${BLOCKLIST:+blocklists: [\"$BLOCKLIST\"]}
control_socket: "$SOCK"
hosts_file: "$TMP/hosts"
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
EOF
}
STEERING='hash'
write_cfg "$HOST@$DPORT"
# ca2.pem, once a reload names it, is unreadable to the second worker's thread alone.
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log" env LD_PRELOAD="$FAILOPEN" \
	FAILOPEN_PATH="$TMP/pki/ca2.pem" FAILOPEN_THREAD=dotd-w2 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers"
expect "start" "the log says two workers serve" "$(grep -m1 workers "$TMP/dotd.log" || true)" \
	'grep -q "2 workers serving" "$TMP/dotd.log"'

# cstat NAME: one counter from dotd-ctl stats ("name value" lines), 0 when absent.
cstat()
{
	"$CTL" -s "$SOCK" stats | awk -v k="$1" '$1 == k { print $2; found = 1 }
		END { if (!found) print 0 }'
}

# spread DEST NAME N [ADDR]: N queries for NAME A, each from a socket of its own (so a port of
# its own, which SO_REUSEPORT hashes), all sent before any answer is read; prints how many were
# answered NOERROR (with ADDR, if given). With $PIN_CPU, the client runs on that CPU only.
spread()
{
	python3 - "$1" "$DPORT" "$2" "$3" "${4:-}" "${PIN_CPU:-}" << 'PY'
import os
import select
import socket
import struct
import sys
import time

dst, port, name, n, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
if sys.argv[6]:
    os.sched_setaffinity(0, {int(sys.argv[6])})
q = b""
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
socks = {}
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + q, (dst, port))
    socks[s] = i
ok = 0
deadline = time.time() + 10
while socks and time.time() < deadline:
    ready, _, _ = select.select(list(socks), [], [], 0.5)
    for s in ready:
        msg = s.recv(4096)
        rid, flags = struct.unpack(">HH", msg[:4])
        if rid == socks.pop(s) and flags & 0x800F == 0x8000 and \
                (not want or socket.inet_aton(want) in msg[12 + len(q):]):
            ok += 1
        s.close()
print(ok)
PY
}

# counted_spread DEST NAME N [ADDR]: spread, its count in out, and the queries each worker took
# meanwhile in d1 and d2 (the caller's, if it made them local).
counted_spread()
{
	local w1 w2
	w1=$(cstat 'worker_queries{worker="1"}')
	w2=$(cstat 'worker_queries{worker="2"}')
	out=$(spread "$@")
	d1=$(($(cstat 'worker_queries{worker="1"}') - w1))
	d2=$(($(cstat 'worker_queries{worker="2"}') - w2))
}

w1=$(cstat 'worker_queries{worker="1"}')
w2=$(cstat 'worker_queries{worker="2"}')
n0=$(cstat 'queries{transport="udp"}')

# The first miss makes one worker's first connection; its ticket is then in the shared store.
out=$(spread "$HOST" m1.bench 1)
expect "first miss" "answered" "$out" '((out == 1))'
sleep 1
out=$(spread "$HOST" www.example 200 192.0.2.80)
expect "200 queries from 200 ports" "all answered" "answered $out" '((out == 200))'
out=$(spread "$HOST" m2.bench 100)
expect "100 misses from 100 ports" "all answered" "answered $out" '((out == 100))'
d1=$(($(cstat 'worker_queries{worker="1"}') - w1))
d2=$(($(cstat 'worker_queries{worker="2"}') - w2))
n=$(($(cstat 'queries{transport="udp"}') - n0))
expect "both serve" "each worker took some of the 301 ($d1 and $d2)" "" '((d1 > 0 && d2 > 0))'
expect "summed counters" "queries_udp counts all 301 over both ($n)" "" \
	'((n == 301 && d1 + d2 == 301))'
full=$(cstat 'upstream_handshakes_full{upstream="'"$HOST@$UPORT"'"}')
resumed=$(cstat 'upstream_handshakes_resumed{upstream="'"$HOST@$UPORT"'"}')
if [[ $full == 0 ]]; then
	"$CTL" -s "$SOCK" stats | grep handshakes | indent
fi
expect "shared tickets" \
	"one full handshake, the other worker's first connection resumed ($full full, $resumed resumed)" \
	"" '((full == 1 && resumed >= 1))'

# TCP: each worker accepts on its own SO_REUSEPORT listening socket.
w1=$(cstat 'worker_queries{worker="1"}')
w2=$(cstat 'worker_queries{worker="2"}')
t0=$(cstat 'queries{transport="tcp"}')
ok=0
for ((i = 0; i < 40; i++)); do
	if dig +tcp +time=3 +tries=1 @"$HOST" -p "$DPORT" www.example A | grep -q '192.0.2.80'; then
		ok=$((ok + 1))
	fi
done
d1=$(($(cstat 'worker_queries{worker="1"}') - w1))
d2=$(($(cstat 'worker_queries{worker="2"}') - w2))
t=$(($(cstat 'queries{transport="tcp"}') - t0))
expect "TCP" "40 connections answered, accepted by both workers ($d1 and $d2), counted ($t)" \
	"answered $ok" '((ok == 40 && t == 40 && d1 > 0 && d2 > 0))'

# The hosts file, read by the first worker and borrowed by the second, is answered by both.
counted_spread "$HOST" h.test 100 192.0.2.77
expect "hosts file" "100 answered from it, by both workers ($d1 and $d2)" "answered $out" \
	'((out == 100 && d1 > 0 && d2 > 0))'
printf '192.0.2.78 h.test\n' > "$TMP/hosts.new"
mv "$TMP/hosts.new" "$TMP/hosts"
wait_log "$TMP/dotd.log" "read again" 10 || true
out=$(spread "$HOST" h.test 100 192.0.2.78)
expect "hosts file rewritten" "100 answered with the new address" "answered $out" '((out == 100))'

# A reload: the second address is served by both workers.
write_cfg "$HOST@$DPORT" "$HOST2@$DPORT"
kill -HUP "$DOTD_PID"
wait_log "$TMP/dotd.log" "reloaded" 10 || fail "dotd reloads"
counted_spread "$HOST2" www.example 100 192.0.2.80
expect "reload" "$HOST2 added by SIGHUP, served by both workers ($d1 and $d2)" "answered $out" \
	'((out == 100 && d1 > 0 && d2 > 0))'

# A reload the second worker cannot take: the new trust anchors (the same certificates under
# another name) are unreadable to its thread, as when the file changes between the main
# worker's reading and its own. It keeps the configuration it has, whole, and serves on: still
# on $HOST2, which the reload drops, so that what answers there is the second worker alone.
cp "$TMP/pki/ca.pem" "$TMP/pki/ca2.pem"
write_cfg "$HOST@$DPORT"
sed -i "s|$TMP/pki/ca.pem|$TMP/pki/ca2.pem|" "$TMP/dotd.yml"
f0=$(cstat reload_failures)
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
printf '%s\n' "$out" | indent
expect "reload a worker cannot take" \
	"refused (status $st), naming worker 2, why, and that it serves on the configuration before" \
	"$out" '((st != 0)) && [[ $out == *"worker 2: "*"ca2.pem"*"it serves on with the configuration before"* &&
		$out == *"1 worker could not take it"* ]]'
f1=$(cstat reload_failures)
expect "reload a worker cannot take" "counted in reload_failures ($f0, then $f1)" "" \
	'((f1 == f0 + 1))'
counted_spread "$HOST" m3.bench 100
expect "reload a worker cannot take" "100 misses answered after it, by both workers ($d1 and $d2)" \
	"answered $out" '((out == 100 && d1 > 0 && d2 > 0))'
counted_spread "$HOST2" www.example 50 192.0.2.80
expect "reload a worker cannot take" \
	"$HOST2, dropped by the reload, still served by the second worker alone ($d1 and $d2)" \
	"answered $out" '((out == 50 && d1 == 0 && d2 == 50))'
# The next reload, which it can take, reaches it: $HOST2 goes from it too.
sed -i "s|$TMP/pki/ca2.pem|$TMP/pki/ca.pem|" "$TMP/dotd.yml"
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
out2=$(spread "$HOST2" www.example 10)
expect "reload a worker cannot take" \
	"the next reload is taken by both (status $st), $HOST2 no longer served ($out2 of 10)" "$out" \
	'((st == 0 && out2 == 0)) && [[ $out == "reloaded "* && $out != *"worker 2"* ]]'

# flush: every worker's cache (both hold www.example by now).
out=$("$CTL" -s "$SOCK" flush www.example A 2>&1 || true)
expect "flush" "www.example dropped from both caches ($out)" "$out" \
	'[[ $out == *"2 entries dropped"* ]]'

alive "$DOTD_PID" || fail "dotd still runs"
stop_dotd "$DOTD_PID" 10
expect "exit" "dotd exits cleanly" "status $STOP_STATUS" \
	'((STOP_STATUS == 0)) && ! grep -q "handles left open" "$TMP/dotd.log"'

# --- workers_steering: cpu, the default ---
mapfile -t CPUS < <(python3 -c 'import os; print("\n".join(map(str, sorted(os.sched_getaffinity(0)))))')
if ((${#CPUS[@]} < 2)); then
	skip "workers_steering: cpu needs two CPUs, this test may use ${#CPUS[@]}"
	summary workers
fi
# Worker 1 has the CPUs at even places in the list, worker 2 those at odd ones (steer.h).
C1=${CPUS[0]}
C2=${CPUS[1]}
STEERING=''
new_port DPORT
write_cfg "$HOST@$DPORT"
start_dotd "$TMP/dotd.yml" "$TMP/dotd-cpu.log"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd (workers_steering: cpu) starts and answers"

# allowed COMM: the CPUs the thread named COMM may run on, as the kernel lists them.
allowed()
{
	local t
	for t in /proc/"$DOTD_PID"/task/*; do
		if [[ $(cat "$t/comm") == "$1" ]]; then
			awk '$1 == "Cpus_allowed_list:" { print $2 }' "$t/status"
		fi
	done
}
a1=$(allowed dotd)
a2=$(allowed dotd-w2)
want1=$(python3 -c 'import sys; print(",".join(sys.argv[1::2]))' "${CPUS[@]}")
want2=$(python3 -c 'import sys; print(",".join(sys.argv[2::2]))' "${CPUS[@]}")
# The kernel writes ranges (0-1, 0,2-3): compare as sets.
set_of() { python3 -c '
import sys
s = set()
for part in sys.argv[1].split(","):
    lo, _, hi = part.partition("-")
    s.update(range(int(lo), int(hi or lo) + 1))
print(sorted(s))' "$1"; }
s1=$(set_of "${a1:-none}" 2>&1 || true)
s2=$(set_of "${a2:-none}" 2>&1 || true)
expect "pinned" "worker 1 on CPUs $s1 (want $want1), worker 2 on $s2 (want $want2)" "" \
	'[[ $s1 == "$(set_of "$want1")" && $s2 == "$(set_of "$want2")" ]]'

# steered DEST CPU LABEL: 100 queries from 100 ports, sent from CPU; they all reach the worker
# pinned there (1 for C1, 2 for C2).
steered()
{
	local dest=$1 cpu=$2 label=$3 want d1 d2 out
	want=$([[ $cpu == "$C1" ]] && echo 1 || echo 2)
	PIN_CPU=$cpu counted_spread "$dest" www.example 100 192.0.2.80
	expect "$label" "100 queries from 100 ports on CPU $cpu, all answered by worker $want ($d1 and $d2)" \
		"answered $out" \
		'((out == 100 && (want == 1 ? d1 == 100 && d2 == 0 : d2 == 100 && d1 == 0)))'
}
out=$(spread "$HOST" www.example 1 192.0.2.80) # the first miss, so that the rest are hits
steered "$HOST" "$C1" "steered to worker 1"
steered "$HOST" "$C2" "steered to worker 2"
write_cfg "$HOST@$DPORT" "$HOST2@$DPORT"
kill -HUP "$DOTD_PID"
wait_log "$TMP/dotd-cpu.log" "reloaded" 10 || fail "dotd (workers_steering: cpu) reloads"
steered "$HOST2" "$C2" "steered after a reload"
steered "$HOST2" "$C1" "steered after a reload, worker 1"
# A block list that a reload reads, off the loop in libuv's pool of threads: made then, by the
# main thread, they may run on every CPU, while the main thread stays on worker 1's
# (resolver/local.c; a thread inherits the CPUs of the one that made it).
printf '0.0.0.0 blocked.test\n' > "$TMP/blocks.txt"
BLOCKLIST="$TMP/blocks.txt"
write_cfg "$HOST@$DPORT" "$HOST2@$DPORT"
kill -HUP "$DOTD_PID"
wait_log "$TMP/dotd-cpu.log" "block lists in force" 10 || fail "the block list is read by a reload"
pool=()
for t in /proc/"$DOTD_PID"/task/*; do
	if [[ ${t##*/} != "$DOTD_PID" && $(cat "$t/comm") == dotd ]]; then
		pool+=("$(set_of "$(awk '$1 == "Cpus_allowed_list:" { print $2 }' "$t/status")")")
	fi
done
m1=$(set_of "$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/"$DOTD_PID"/status)")
all=$(set_of "$(IFS=,; echo "${CPUS[*]}")")
bad=0
for p in "${pool[@]}"; do
	[[ $p == "$all" ]] || bad=$((bad + 1))
done
expect "the pool of threads" \
	"${#pool[@]} threads of libuv's, $bad of them not on every CPU $all; the main thread on $m1" "" \
	'((${#pool[@]} > 0 && bad == 0)) && [[ $m1 == "$(set_of "$want1")" ]]'
# workers_steering changed by a reload: a warning, and the steering of the start goes on.
STEERING='hash'
write_cfg "$HOST@$DPORT" "$HOST2@$DPORT"
kill -HUP "$DOTD_PID"
wait_log "$TMP/dotd-cpu.log" "workers_steering: takes effect at the next start" 10 ||
	fail "a reload that changes workers_steering says it takes effect at the next start"
steered "$HOST" "$C2" "steered after a reload to hash (takes effect at the next start)"

alive "$DOTD_PID" || fail "dotd (workers_steering: cpu) still runs"
stop_dotd "$DOTD_PID" 10
expect "exit (cpu)" "dotd exits cleanly" "status $STOP_STATUS" \
	'((STOP_STATUS == 0)) && ! grep -q "handles left open" "$TMP/dotd-cpu.log"'
summary workers
