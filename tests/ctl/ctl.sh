#!/usr/bin/env bash
# dotd-ctl on its own, without dotd: usage errors (exit 2, nothing sent), each way of not
# reaching dotd (exit 1 with a message that says what to check), and, against fakectl.py, the
# exact request bytes, "ok" bodies byte for byte, "error" bodies on standard error, and answers
# that never come or are cut short (exit 1, nothing on standard output).
#
# usage: ctl.sh DOTD_CTL FAKECTL_PY
# The permission check runs dotd-ctl as user nobody (setpriv), so only as root; it is skipped
# otherwise.
set -uo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD_CTL FAKECTL_PY" >&2
	exit 2
fi
ctl=$(realpath "$1") fake=$(realpath "$2")
# Not `python3`, which may be a pyenv shim that needs a HOME and a shell of its own.
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-ctl.XXXXXX")
server_pid=""
status=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	server_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() {
	echo "PASS: $*"
}

fail() {
	echo "FAIL: $*"
	for f in out err; do
		if [[ -s $tmp/$f ]]; then
			echo "    std$f:"
			head -c 2000 "$tmp/$f" | sed 's/^/    | /'
		fi
	done
	status=1
}

# run ARGS...: dotd-ctl from $tmp/work; sets rc and elapsed (ms), output in $tmp/out, $tmp/err.
run() {
	local t0 t1
	t0=$(date +%s%N)
	(cd "$tmp/work" && "$ctl" "$@") > "$tmp/out" 2> "$tmp/err"
	rc=$?
	t1=$(date +%s%N)
	elapsed=$(((t1 - t0) / 1000000))
}

err_has() {
	grep -qF -- "$1" "$tmp/err"
}

# server_start MODE [REPLY_FILE]: fakectl.py on a fresh $sock, its request saved to $tmp/req.
n_servers=0
server_start() {
	local i
	n_servers=$((n_servers + 1))
	sock=$tmp/s$n_servers.sock
	rm -f "$tmp/req"
	"$py" "$fake" "$sock" "$1" "${2:-/dev/null}" "$tmp/req" &
	server_pid=$!
	for ((i = 0; i < 100; i++)); do
		if [[ -e $sock.ready ]]; then
			return 0
		fi
		sleep 0.05
	done
	echo "FAIL: fakectl.py $1 did not start"
	exit 1
}

server_stop() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2> /dev/null
		wait "$server_pid" 2> /dev/null
		server_pid=""
	fi
}

mkdir -p "$tmp/work/sub dir"
work=$(cd "$tmp/work" && pwd -P)
missing=$tmp/missing.sock

# ---- usage errors: exit 2, the usage on standard error, no connection tried (the socket
# does not exist: trying would give exit 1) ----
check_usage() {
	local what=$1
	shift
	run -s "$missing" "$@"
	if ((rc == 2)) && grep -q '^usage: dotd-ctl' "$tmp/err" && [[ ! -s $tmp/out ]]; then
		pass "usage error exits 2: $what"
	else
		fail "usage error should exit 2 with the usage on stderr: $what (exit $rc)"
	fi
}
check_usage "no command"
check_usage "unknown command" frobnicate
check_usage "status with an argument" status now
check_usage "network-changed with an argument" network-changed wan
check_usage "stats --xml" stats --xml
check_usage "stats json (the word, not the option)" stats json
check_usage "flush a b c" flush a b c
check_usage "flush with an empty NAME" flush ""
check_usage "cache without a subcommand" cache
check_usage "cache frob FILE" cache frob x
check_usage "cache dump without FILE" cache dump
check_usage "cache load without FILE" cache load
check_usage "cache dump FILE FILE" cache dump a b
check_usage "a TAB in a word" flush $'example.com\tA'
check_usage "a newline in a word" cache dump $'a\nb'
check_usage "-t 0" -t 0 status
check_usage "-t abc" -t abc status
check_usage "-s without a path" -s
check_usage "an unknown option" -x status
check_usage "a socket path too long for sun_path" -s "/$(printf 'x%.0s' {1..120})" status
check_usage "a request longer than CONTROL_REQUEST_MAX" flush "$(printf 'a%.0s' {1..4100})"

run -h
if ((rc == 0)) && grep -q '^usage: dotd-ctl' "$tmp/out" && [[ ! -s $tmp/err ]]; then
	pass "-h: the usage on stdout, exit 0"
else
	fail "-h: the usage on stdout, exit 0 (exit $rc)"
fi
run --help
if ((rc == 0)) && grep -q '^usage: dotd-ctl' "$tmp/out"; then
	pass "--help: the usage on stdout, exit 0"
else
	fail "--help: the usage on stdout, exit 0 (exit $rc)"
fi
run -V
if ((rc == 0)) && grep -qx 'dotd-ctl [0-9][0-9.]*' "$tmp/out"; then
	pass "-V: the version"
else
	fail "-V: 'dotd-ctl VERSION' (exit $rc)"
fi

# ---- dotd out of reach: exit 1 and a message that says why ----
run -s "$missing" status
if ((rc == 1)) && err_has "$missing: no such socket: is dotd running with control_socket set?"; then
	pass "no socket: exit 1, 'no such socket'"
else
	fail "no socket: exit 1, 'no such socket' (exit $rc)"
fi

if [[ ! -e /run/dotd/control.sock ]]; then
	run status
	if ((rc == 1)) && err_has "/run/dotd/control.sock: no such socket"; then
		pass "the default socket is /run/dotd/control.sock"
	else
		fail "the default socket is /run/dotd/control.sock (exit $rc)"
	fi
else
	echo "SKIP: /run/dotd/control.sock exists (a dotd is running): default path not checked"
fi

: > "$tmp/plain"
run -s "$tmp/plain" status
if ((rc == 1)) && err_has "$tmp/plain: not a socket (a regular file)" && ! err_has "not running"
then
	pass "a regular file: exit 1, 'not a socket'"
else
	fail "a regular file: exit 1, 'not a socket' (exit $rc)"
fi

server_start stale
server_stop
run -s "$sock" status
if ((rc == 1)) && err_has "$sock: connection refused: dotd is not running"; then
	pass "a socket nobody listens on: exit 1, 'dotd is not running'"
else
	fail "a socket nobody listens on: exit 1, 'dotd is not running' (exit $rc)"
fi

server_start busy
run -s "$sock" -t 1 status
server_stop
if ((rc == 1)) && err_has "timed out after 1 s waiting to connect" && ((elapsed < 4000)); then
	pass "a full backlog: exit 1 after -t 1 (${elapsed} ms)"
else
	fail "a full backlog: exit 1 after -t 1, 'timed out' (exit $rc, ${elapsed} ms)"
fi

as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
if (($(id -u) != 0)); then
	echo "SKIP: permission denied: needs root to run dotd-ctl as nobody"
elif ! command -v setpriv > /dev/null || ! id nobody > /dev/null 2>&1 ||
	! getent group nogroup > /dev/null; then
	echo "SKIP: permission denied: no setpriv, or no user nobody or group nogroup"
elif ! "${as_nobody[@]}" "$ctl" -V > /dev/null 2>&1; then
	echo "SKIP: permission denied: nobody cannot execute $ctl"
else
	chmod 755 "$tmp"
	server_start reply
	chmod 600 "$sock"
	"${as_nobody[@]}" "$ctl" -s "$sock" status > "$tmp/out" 2> "$tmp/err"
	rc=$?
	server_stop
	if ((rc == 1)) && err_has "permission denied: the socket belongs to user 'root'" &&
		err_has "run dotd-ctl as root, as user 'root' or as a member of group"; then
		pass "permission denied: exit 1, says who may use the socket"
	else
		fail "permission denied: exit 1, saying who may use the socket (exit $rc)"
	fi
	chmod 700 "$tmp"
fi

# ---- the request: the words TAB-joined, a relative FILE made absolute ----
printf 'ok\n' > "$tmp/ok-empty"
check_request() {
	local want=$1
	shift
	server_start reply "$tmp/ok-empty"
	run -s "$sock" "$@"
	server_stop
	printf '%s' "$want" > "$tmp/want"
	if ((rc == 0)) && cmp -s "$tmp/want" "$tmp/req" && [[ ! -s $tmp/out ]]; then
		pass "request for '$*'"
	else
		fail "request for '$*': want $(od -An -c "$tmp/want" | tr -s ' '), got" \
			"$(od -An -c "$tmp/req" 2> /dev/null | tr -s ' ') (exit $rc)"
	fi
}
check_request $'status\n' status
check_request $'stats\n' stats
check_request $'stats\tjson\n' stats --json
check_request $'stats\tprometheus\n' stats --prometheus
check_request $'upstreams\n' upstreams
check_request $'reload\n' reload
check_request $'network-changed\n' network-changed
check_request $'flush\n' flush
check_request $'flush\texample.com\n' flush example.com
check_request $'flush\texample.com\tAAAA\n' flush example.com AAAA
check_request $'cache\tdump\t/var/tmp/with space.cache\n' cache dump "/var/tmp/with space.cache"
check_request $'cache\tdump\t'"$work"$'/sub dir/c.cache\n' cache dump "sub dir/c.cache"
check_request $'cache\tload\t'"$work"$'/c.cache\n' cache load c.cache

# ---- the answer ----
# "ok": the body exactly, whatever it holds (NULs, "error" lines, no final newline, 300 kB).
{
	printf 'ok\n'
	printf 'line one\n\0binary\377\r\nerror\n'
	head -c 300000 /dev/urandom
	printf 'no final newline'
} > "$tmp/reply"
tail -c +4 "$tmp/reply" > "$tmp/body"
server_start reply "$tmp/reply"
run -s "$sock" stats
server_stop
if ((rc == 0)) && cmp -s "$tmp/body" "$tmp/out" && [[ ! -s $tmp/err ]]; then
	pass "ok: the body on stdout byte for byte, exit 0"
else
	fail "ok: the body on stdout byte for byte, exit 0 (exit $rc)"
fi

server_start reply "$tmp/ok-empty"
run -s "$sock" flush
server_stop
if ((rc == 0)) && [[ ! -s $tmp/out && ! -s $tmp/err ]]; then
	pass "ok with no body: nothing printed, exit 0"
else
	fail "ok with no body: nothing printed, exit 0 (exit $rc)"
fi

# "error": each line on stderr as "dotd: LINE", nothing on stdout.
printf 'error\n/etc/dotd/dotd.yml:4: key '\''x'\'': unknown key\nsecond line\n' > "$tmp/reply"
printf 'dotd: /etc/dotd/dotd.yml:4: key '\''x'\'': unknown key\ndotd: second line\n' \
	> "$tmp/want"
server_start reply "$tmp/reply"
run -s "$sock" reload
server_stop
if ((rc == 1)) && cmp -s "$tmp/want" "$tmp/err" && [[ ! -s $tmp/out ]]; then
	pass "error: the message on stderr as 'dotd: ' lines, exit 1"
else
	fail "error: the message on stderr as 'dotd: ' lines, exit 1 (exit $rc)"
fi

# dotd answering at once and closing without reading the request (a request it refuses):
# Linux then reports ECONNRESET after the data, which must read as the end of the answer.
printf 'error\nrequest refused\n' > "$tmp/reply"
server_start refuse "$tmp/reply"
sleep 0.2
run -s "$sock" status
server_stop
if ((rc == 1)) && err_has "dotd: request refused" && [[ ! -s $tmp/out ]]; then
	pass "an answer before the request is read: reported, exit 1"
else
	fail "an answer before the request is read: 'dotd: request refused', exit 1 (exit $rc)"
fi

server_start close
run -s "$sock" status
server_stop
if ((rc == 1)) && err_has "dotd closed the connection without answering" &&
	[[ ! -s $tmp/out ]]; then
	pass "closed without a status line: exit 1"
else
	fail "closed without a status line: exit 1 (exit $rc)"
fi

printf 'ok' > "$tmp/reply"
server_start reply "$tmp/reply"
run -s "$sock" status
server_stop
if ((rc == 1)) && err_has "cut short: no complete status line" && [[ ! -s $tmp/out ]]; then
	pass "a status line without its newline: exit 1"
else
	fail "a status line without its newline: exit 1 (exit $rc)"
fi

for bad in 'OK' 'ok ' 'okay' 'error:' 'HTTP/1.1 200 OK'; do
	printf '%s\nbody\n' "$bad" > "$tmp/reply"
	server_start reply "$tmp/reply"
	run -s "$sock" status
	server_stop
	if ((rc == 1)) && err_has "malformed answer from dotd: status line '$bad'" &&
		[[ ! -s $tmp/out ]]; then
		pass "malformed status line '$bad': exit 1, no body printed"
	else
		fail "malformed status line '$bad': exit 1, no body printed (exit $rc)"
	fi
done

server_start silent
run -s "$sock" -t 1 status
server_stop
if ((rc == 1)) && err_has "timed out after 1 s waiting for dotd's answer" &&
	((elapsed >= 900 && elapsed < 4000)) && [[ ! -s $tmp/out ]]; then
	pass "no answer: exit 1 after -t 1 (${elapsed} ms)"
else
	fail "no answer: exit 1 after -t 1, 'timed out' (exit $rc, ${elapsed} ms)"
fi

printf 'ok\nthe first half of a body' > "$tmp/reply"
server_start stall "$tmp/reply"
run -s "$sock" -t 1 stats
server_stop
if ((rc == 1)) && err_has "which was not complete" && [[ ! -s $tmp/out ]]; then
	pass "ok, then a body that never ends: exit 1, nothing on stdout (${elapsed} ms)"
else
	fail "ok, then a body that never ends: exit 1, nothing on stdout (exit $rc)"
fi

exit "$status"
