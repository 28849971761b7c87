#!/usr/bin/env bash
# What dotd does when told the network changed (dotd-ctl network-changed: the way OpenWrt's
# hotplug script, VPN hooks and platforms without netlink tell it; netlink gives the same
# event), against tests/fakeup (dotd-fakeup). No network namespace is needed, so this runs
# wherever the suite does; netns.sh does the real events in namespaces.
#   - a busy connection is probed, not dropped: when the path survived, the probe's answer
#     keeps it, and the query outstanding on it is answered there (no reconnect, nothing resent)
#   - a busy connection whose peer went silent is dropped within the probe time, and the query
#     on it goes out again on a fresh connection and is answered
#   - backoff earned before the change is cleared: the first upstream, backed off while it was
#     down, answers the first query after the change, not the second one
#   - hostile: network-changed with an argument is refused, and changes nothing
#
# usage: netchange.sh DOTD PROBE FAKEUP DOTD-CTL
set -euo pipefail

if [[ $# -ne 4 ]]; then
	echo "usage: $0 DOTD PROBE FAKEUP DOTD-CTL" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
FAKEUP=$(realpath "$3")
CTL=$(realpath "$4")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

make_pki

# run_dotd NAME EXTRA-KEYS PORT...: dotd_in_front (lib.sh) with a control socket
# $TMP/NAME.sock, in SOCK.
run_dotd()
{
	local name=$1 extra=$2
	shift 2
	SOCK=$TMP/$name.sock
	dotd_in_front "$name" "control_socket: \"$SOCK\"
$extra" "$@"
}

# changed: tell dotd the network changed; fails if dotd-ctl does.
changed()
{
	"$CTL" -s "$SOCK" network-changed > "$TMP/ctl.out" 2>&1
}

# --- a busy connection whose path survived: probed, kept ---

# lost.*.bench is answered after 1.5 s, other names at once: a query for it is outstanding
# when the change comes, and the probe is answered while it waits.
start_fakeup kept --delay 1500 --slow-label lost
run_dotd kept "timeout: 4000
timeout_per_try: 3000
idle_timeout: 30000" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "kept: dotd starts"
"$PROBE" query "$HOST" "$DPORT" lost.a.bench A udp NOERROR 192.0.2.1 > "$TMP/kept.q" 2>&1 &
Q=$!
sleep 0.3
check "kept: dotd-ctl network-changed answers ok" changed
sleep 0.6 # past the probe's 250 ms and twice the RTT
check "kept: a query after the change is answered" \
	"$PROBE" query "$HOST" "$DPORT" after.bench A udp NOERROR 192.0.2.1
wait "$Q" && st=0 || st=$?
expect kept "the query outstanding during the change is answered" "$(cat "$TMP/kept.q")" \
	'((st == 0))'
line=$(upstream_stats "$DOTD_PID" "$TMP/kept.log" "$HOST@$FPORT") || true
d=$(stat_of "$line" dead) c=$(stat_of "$line" connections) r=$(stat_of "$line" resent)
expect kept "the probe kept the connection: dead=$d connections=$c resent=$r" "$line" \
	'((d == 0 && c == 1 && r == 0))'
expect kept "the change is counted and logged" "$(grep -F 'network changed' "$TMP/kept.log")" \
	'grep -q -F "network changed (manual)" "$TMP/kept.log"'

# Hostile: an argument where none is taken is refused, and is no change.
n=$(grep -c -F 'network changed' "$TMP/kept.log" || true)
out=$("$CTL" -s "$SOCK" network-changed now 2>&1) && st=0 || st=$?
sleep 0.2
# m is read by expect's eval, which shellcheck cannot see.
# shellcheck disable=SC2034
m=$(grep -c -F 'network changed' "$TMP/kept.log" || true)
expect kept "network-changed with an argument is refused (status $st) and changes nothing" \
	"$out" '((st != 0 && m == n))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- a busy connection whose peer went silent: dropped at once, its query sent again ---

# The fakeup is stopped (SIGSTOP: the kernel still holds the TCP connection, nothing answers,
# as on a path that died without a word) while lost.b.bench is outstanding; the change comes,
# the probe gets nothing, and the connection is dropped long before timeout_per_try (3 s)
# would notice. The fakeup is let go 0.6 s later: the query, sent again on a fresh connection,
# is answered after its 1.5 s delay.
start_fakeup silent --delay 1500 --slow-label lost
run_dotd silent "timeout: 6000
timeout_per_try: 3000
idle_timeout: 30000" "$FPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.1 || fail "silent: dotd starts"
"$PROBE" query "$HOST" "$DPORT" lost.b.bench A udp NOERROR 192.0.2.1 > "$TMP/silent.q" 2>&1 &
Q=$!
sleep 0.2
kill -STOP "$FAKE_PID"
check "silent: dotd-ctl network-changed answers ok" changed
wait_log "$TMP/silent.log" "after the network changed" 3 || true
kill -CONT "$FAKE_PID"
line=$(upstream_stats "$DOTD_PID" "$TMP/silent.log" "$HOST@$FPORT") || true
d=$(stat_of "$line" dead) r=$(stat_of "$line" resent)
expect silent "the probe found the connection dead and its query was sent again: dead=$d" \
	"$line" '((d == 1 && r >= 1))'
wait "$Q" && st=0 || st=$?
expect silent "the query outstanding during the change is answered" "$(cat "$TMP/silent.q")" \
	'((st == 0))'
line=$(upstream_stats "$DOTD_PID" "$TMP/silent.log" "$HOST@$FPORT") || true
c=$(stat_of "$line" connections) b=$(stat_of "$line" backoffs)
expect silent "on a fresh connection, and not held against the upstream: connections=$c \
backoffs=$b" "$line" '((c == 2 && b == 0))'
stop_dotd "$DOTD_PID" 10
kill -TERM "$FAKE_PID" 2> /dev/null || true

# --- backoff earned before the change is cleared ---

# The first upstream's port has nothing on it: every connect is refused, and with
# tls_connection_retries 1 each refusal backs it off, 1 s, then 2 s, then 4 s. The second
# upstream (tag 2: it answers 192.0.2.2) answers meanwhile. Then the first comes up (tag 1,
# 192.0.2.1) while backed off for 4 s: the query after network-changed must go to it.
APORT=''
new_port APORT
start_fakeup backoff-b --tag 2
BPORT=$FPORT BPID=$FAKE_PID
run_dotd backoff "timeout: 3000
tls_connection_retries: 1
tls_backoff_time: 600" "$APORT" "$BPORT"
wait_answer "$DPORT" 10 "$DOTD_PID" ready.bench 192.0.2.2 || fail "backoff: dotd starts"
for i in 1 2 3; do
	wait_log "$TMP/backoff.log" "backing off" 5 "$i" || true
	if ((i < 3)); then
		sleep $((i == 1 ? 1 : 2)).1
		"$PROBE" query "$HOST" "$DPORT" "try$i.bench" A udp > /dev/null 2>&1 || true
	fi
done
expect backoff "the first upstream is backed off for 4 s" \
	"$(grep -F 'backing off' "$TMP/backoff.log" | tail -n 1)" \
	'grep -q -F "backing off for 4000 ms" "$TMP/backoff.log"'
"$FAKEUP" --port "$APORT" --cert "$TMP/pki/server.pem" --key "$TMP/pki/server.key" --tag 1 \
	> "$TMP/backoff-a.out" 2> "$TMP/backoff-a.log" &
PIDS+=("$!")
wait_log "$TMP/backoff-a.out" "listening" 10 || fail "backoff: the first upstream comes up"
check "backoff: while backed off, the second upstream answers" \
	"$PROBE" query "$HOST" "$DPORT" before.bench A udp NOERROR 192.0.2.2
check "backoff: dotd-ctl network-changed answers ok" changed
check "backoff: the first query after the change goes to the first upstream" \
	"$PROBE" query "$HOST" "$DPORT" after.bench A udp NOERROR 192.0.2.1
expect backoff "its backoff was cleared" "$(grep -F 'backoff cleared' "$TMP/backoff.log")" \
	'grep -q -F "backoff cleared" "$TMP/backoff.log"'
stop_dotd "$DOTD_PID" 10
kill -TERM "$BPID" 2> /dev/null || true

summary netchange
