#!/usr/bin/env bash
# shellcheck disable=SC2016 # the conditions are expanded by expect's eval
# udp.sh: UDP in batches (listen.c). dotd reads a socket with recvmmsg and sends the answers of
# a batch with one sendmmsg; answers from upstreams leave the same way before the loop waits.
# With two listen addresses on one port and bursts to both:
#   - every query is answered, by the address it was sent to (a batch never mixes sockets),
#     with its own ID and question: cache hits, and misses answered by a real unbound over DoT;
#   - 200 hits queued while dotd is stopped leave in at most 20 system calls (udp_send_calls),
#     which is the point of the batches.
#
# usage: udp.sh DOTD PROBE
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD PROBE" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

HOST2=127.0.0.2 # the whole of 127/8 is on lo: a second listen address on this host

start_unbound unbound
DPORT=''
new_port DPORT
cat > "$TMP/dotd.yml" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$DPORT, $HOST2@$DPORT]
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
EOF
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers"
"$PROBE" query "$HOST2" "$DPORT" www.example A udp NOERROR 192.0.2.80 > /dev/null ||
	die "dotd answers on $HOST2 too"

# client_stats: the "clients:" line dotd logs on SIGUSR1.
client_stats()
{
	local n
	n=$(grep -c -F -- "clients: queries_udp=" "$TMP/dotd.log" || true)
	kill -USR1 "$DOTD_PID"
	wait_log "$TMP/dotd.log" "clients: queries_udp=" 5 $((n + 1)) || return 1
	grep -F -- "clients: queries_udp=" "$TMP/dotd.log" | tail -n 1
}

# burst PREFIX ROUNDS [PID]: from four sockets, two per listen address, ROUNDS queries each sent
# back to back without waiting (names PREFIX-less: www.example, a hit; else PREFIX-N.bench, a
# miss each); then every answer is read and checked. Prints "answers=N bad=M". With PID, that
# process (dotd) is stopped while the queries are sent, so that they are all queued when it
# reads: otherwise whether they come in batches depends on how the two CPUs are scheduled (a
# CI run once saw dotd keep up with the client, one datagram a read).
burst()
{
	python3 - "$HOST" "$HOST2" "$DPORT" "$1" "$2" "${3:-0}" << 'PY'
import os
import select
import signal
import socket
import struct
import sys
import time

a, b, port, prefix, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
pid = int(sys.argv[6])

def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)

socks = []
for dst in (a, b, a, b):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    socks.append((s, dst, {}))
qid = 1
if pid:
    os.kill(pid, signal.SIGSTOP)
for r in range(rounds):
    for s, dst, sent in socks:
        name = "www.example" if prefix == "-" else "%s-%d.bench" % (prefix, qid)
        sent[qid] = query(qid, name)[12:]
        s.sendto(query(qid, name), (dst, port))
        qid += 1
if pid:
    os.kill(pid, signal.SIGCONT)
answers = bad = 0
deadline = time.time() + 10
waiting = {s: (dst, sent) for s, dst, sent in socks}
while any(sent for _, sent in waiting.values()) and time.time() < deadline:
    ready, _, _ = select.select(list(waiting), [], [], 0.5)
    for s in ready:
        dst, sent = waiting[s]
        msg, src = s.recvfrom(4096)
        rid, flags = struct.unpack(">HH", msg[:4])
        question = sent.pop(rid, None)
        ok = (src == (dst, port) and question is not None and flags & 0x8000
              and flags & 0xF == 0 and msg[12:12 + len(question)] == question)
        if ok:
            answers += 1
        else:
            bad += 1
            print("bad answer: from %s, id %d, flags %04x" % (src, rid, flags), file=sys.stderr)
print("answers=%d bad=%d" % (answers, bad))
PY
}

line0=$(client_stats) || die "dotd logs its counters on SIGUSR1"
out=$(burst - 50 "$DOTD_PID")
line1=$(client_stats) || die "dotd logs its counters on SIGUSR1"
expect "200 cache hits to two addresses" "each answered by its own address, ID and question" \
	"$out" '[[ $out == "answers=200 bad=0" ]]'
calls=$(($(stat_of "$line1" udp_send_calls) - $(stat_of "$line0" udp_send_calls)))
# Queued before dotd read them: 200 datagrams read 20 at a time (UDP_IN_SLOTS), and what one
# wake-up read leaves in one sendmmsg per socket (32 answers at most, UDP_OUT_MAX): 10 measured.
expect "batches" "the 200 answers left in at most 20 system calls ($calls)" \
	"$line1" '((calls > 0 && calls <= 20))'

out=$(burst m 10)
expect "40 misses" "answered by the upstream over DoT, each by its own address, ID and question" \
	"$out" '[[ $out == "answers=40 bad=0" ]]'
alive "$DOTD_PID" || fail "dotd still runs"
stop_dotd "$DOTD_PID" 10
expect "exit" "dotd exits cleanly" "status $STOP_STATUS" '((STOP_STATUS == 0))'
summary udp
