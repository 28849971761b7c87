#!/usr/bin/env bash
# dotd and systemd's notify protocol (Type=notify), against a real NOTIFY_SOCKET listener: a
# python3 AF_UNIX datagram socket that records every datagram with the sender's credentials
# (SO_PASSCRED), as systemd reads them. A real unbound serves DoT behind dotd on loopback.
#
#   READY=1 with STATUS= only once dotd answers (queried at once, no retry), from the main
#   PID, after root is dropped (user: nobody, when run as root); RELOADING=1 with
#   MONOTONIC_USEC= and READY=1 again on SIGHUP; STOPPING=1 on SIGTERM; an
#   abstract socket ('@'); a NOTIFY_SOCKET that names nothing: a warning, dotd serves anyway.
#
# usage: notify.sh DOTD PROBE
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

PYTHON=$(command -v python3 || true)
[[ -n $PYTHON ]] || die "python3 for the NOTIFY_SOCKET listener"

# The listener: one line per datagram, "pid=P uid=U MESSAGE" with newlines written as \n.
cat > "$TMP/listen.py" << 'EOF'
import socket, struct, sys

name, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + name[1:] if name.startswith("@") else name)
with open(out, "w", buffering=1) as f:
    f.write("listening\n")
    while True:
        msg, anc, _, _ = s.recvmsg(8192, socket.CMSG_SPACE(12))
        pid = uid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iII", data[:12])
        text = msg.decode("utf-8", "replace").replace("\\", "\\\\").replace("\n", "\\n")
        f.write("pid=%d uid=%d %s\n" % (pid, uid, text))
EOF

# start_listener NAME OUT: a NOTIFY_SOCKET listener on NAME (a path, or @abstract).
start_listener()
{
	"$PYTHON" "$TMP/listen.py" "$1" "$2" 2> "$TMP/listener-$(basename "$2" .out).log" &
	PIDS+=("$!")
	wait_log "$2" "listening" 10 || die "NOTIFY_SOCKET listener on '$1' starts"
}

# write_config FILE PORT [EXTRA-LINE]
write_config()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$2]
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
${3:-}
EOF
}

# datagrams OUT: what the listener received, one per line, without the credentials.
datagrams()
{
	sed -n 's/^pid=[-0-9]* uid=[-0-9]* //p' "$1"
}

start_unbound unbound

# --- a socket path, as systemd gives it (/run/systemd/notify) ---

DPORT=''
new_port DPORT
user_line='' want_uid=$(id -u)
if ((want_uid == 0)) && getent passwd nobody > /dev/null; then
	# The socket sits in a directory nobody cannot enter: only a socket connected before the
	# drop still reaches it.
	user_line='user: nobody'
	want_uid=$(id -u nobody)
fi
write_config "$TMP/dotd.yml" "$DPORT" "$user_line"
start_listener "$TMP/notify.sock" "$TMP/notify.out"
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log" env NOTIFY_SOCKET="$TMP/notify.sock"
MAIN_PID=$DOTD_PID
if wait_log "$TMP/notify.out" "READY=1" 15; then
	# At once, one try: READY=1 must mean serving.
	if out=$("$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80 2>&1); then
		pass "READY=1 arrives, and dotd answers the first query sent after it"
	else
		fail "READY=1 arrives, and dotd answers the first query sent after it"
		indent <<< "$out"
	fi
else
	die "READY=1 arrives within 15 s"
fi
want="READY=1\\nSTATUS=serving on $HOST@$DPORT with 1 upstream"
if [[ $(datagrams "$TMP/notify.out") == "$want" ]]; then
	pass "one datagram so far: $want"
else
	fail "one datagram so far: $want"
	indent < "$TMP/notify.out"
fi
ready=$(grep -F "READY=1" "$TMP/notify.out")
if [[ $ready == "pid=$MAIN_PID uid=$want_uid "* ]]; then
	pass "READY=1 from the main PID ($MAIN_PID), uid $want_uid${user_line:+ (nobody: after the drop)}"
else
	fail "READY=1 from the main PID ($MAIN_PID), uid $want_uid"
	indent <<< "$ready"
fi
# SIGHUP: RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload wants it, and
# the time must be CLOCK_MONOTONIC's now), then READY=1 once the new configuration serves.
read -r up _ < /proc/uptime
now_us=$((${up%%.*} * 1000000))
kill -HUP "$MAIN_PID"
if wait_log "$TMP/notify.out" "RELOADING=1" 5 && wait_log "$TMP/notify.out" "READY=1" 5 2; then
	usec=$(sed -n 's/.*RELOADING=1\\nMONOTONIC_USEC=\([0-9]*\).*/\1/p' "$TMP/notify.out")
	# /proc/uptime counts from boot as CLOCK_MONOTONIC does, give or take suspend time.
	if [[ -n $usec ]] && ((usec >= now_us - 5000000 && usec <= now_us + 5000000)); then
		pass "SIGHUP: RELOADING=1 with MONOTONIC_USEC=$usec (now ~$now_us), then READY=1"
	else
		fail "SIGHUP: RELOADING=1 with MONOTONIC_USEC= near $now_us"
		indent < "$TMP/notify.out"
	fi
else
	fail "SIGHUP: RELOADING=1 then READY=1 within 5 s"
	indent < "$TMP/notify.out"
fi
want+=$'\n'"RELOADING=1\\nMONOTONIC_USEC=$usec"$'\n'"READY=1\\nSTATUS=serving on $HOST@$DPORT with 1 upstream"

stop_dotd "$MAIN_PID" 10
if ((STOP_STATUS == 0)) && wait_log "$TMP/notify.out" "STOPPING=1" 5; then
	pass "SIGTERM: STOPPING=1 arrives, exit status 0"
else
	fail "SIGTERM: STOPPING=1 arrives, exit status 0 (got $STOP_STATUS)"
	indent < "$TMP/notify.out"
fi
want+=$'\n'"STOPPING=1\\nSTATUS=stopping"
if [[ $(datagrams "$TMP/notify.out") == "$want" ]]; then
	pass "every datagram, in order: READY=1 with STATUS=, RELOADING=1, READY=1, STOPPING=1"
else
	fail "every datagram, in order: READY=1 with STATUS=, RELOADING=1, READY=1, STOPPING=1"
	indent < "$TMP/notify.out"
fi
if grep -q "warning" "$TMP/dotd.log"; then
	fail "no warning in dotd's log"
	indent < "$TMP/dotd.log"
else
	pass "no warning in dotd's log"
fi
echo "datagrams seen on $TMP/notify.sock:"
indent < "$TMP/notify.out"

# --- an abstract socket ---

new_port DPORT
write_config "$TMP/abstract.yml" "$DPORT"
abstract="@dotd-it-notify-$$-$RANDOM"
start_listener "$abstract" "$TMP/abstract.out"
start_dotd "$TMP/abstract.yml" "$TMP/abstract.log" env NOTIFY_SOCKET="$abstract"
if wait_log "$TMP/abstract.out" "READY=1" 15 &&
	"$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80 > /dev/null 2>&1; then
	pass "abstract socket '$abstract': READY=1, then an answer"
else
	fail "abstract socket '$abstract': READY=1, then an answer"
	indent < "$TMP/abstract.out"
fi
stop_dotd "$DOTD_PID" 10
want="READY=1\\nSTATUS=serving on $HOST@$DPORT with 1 upstream"$'\n'"STOPPING=1\\nSTATUS=stopping"
if [[ $(datagrams "$TMP/abstract.out") == "$want" ]]; then
	pass "abstract socket: READY=1 with STATUS=, STOPPING=1"
else
	fail "abstract socket: READY=1 with STATUS=, STOPPING=1"
	indent < "$TMP/abstract.out"
fi

# --- a NOTIFY_SOCKET that names nothing: one warning, dotd serves anyway ---

new_port DPORT
write_config "$TMP/missing.yml" "$DPORT"
start_dotd "$TMP/missing.yml" "$TMP/missing.log" env NOTIFY_SOCKET="$TMP/no-such.sock"
if wait_answer "$DPORT" 10 "$DOTD_PID"; then
	pass "NOTIFY_SOCKET naming nothing: dotd answers anyway"
else
	fail "NOTIFY_SOCKET naming nothing: dotd answers anyway"
fi
stop_dotd "$DOTD_PID" 10
n=$(grep -c "warning: NOTIFY_SOCKET '$TMP/no-such.sock'" "$TMP/missing.log" || true)
if ((STOP_STATUS == 0 && n == 1)); then
	pass "NOTIFY_SOCKET naming nothing: one warning, exit status 0 after SIGTERM"
else
	fail "NOTIFY_SOCKET naming nothing: one warning ($n), exit status 0 ($STOP_STATUS)"
	indent < "$TMP/missing.log"
fi

summary notify
