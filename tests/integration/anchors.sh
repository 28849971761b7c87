#!/usr/bin/env bash
# The trust anchors, read when the first upstream connection needs them (tls/tls.h,
# tls_client_load(); docs/CONFIG.md, "tls_ca_file"), against a real unbound serving DoT on
# loopback:
#   - an idle dotd has made no TLS context; the first query makes one, and only one;
#   - a CA file that passes config.c's check (a PEM header) but holds no certificate that
#     loads, or is cut short: with an upstream authenticated by name dotd refuses to start
#     (resolver/upstream.c, ctx_check()); with pinned upstreams only it serves, the error
#     logged once at the first query, not per query;
#   - a reload that names such a file is refused with the reason, and the running trust
#     anchors keep serving; the same file mended, the same configuration reloaded, is read
#     again and authenticates by name.
# A CA file the dropped user cannot read is refused at start: run.sh, "privileges".
#
# usage: anchors.sh DOTD PROBE DOTD-CTL
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

MADE="TLS client context made"
BAD="cannot load trust anchors from"

# anchors_cfg FILE CA PORT PIN|-: dotd on PORT with a control socket, in front of the unbound,
# authenticated by name (dot.test) or, with PIN, by the server's key only.
anchors_cfg()
{
	local file=$1 ca=$2 port=$3 pin=$4
	{
		echo "tls_ca_file: \"$ca\""
		echo "control_socket: \"$TMP/$(basename "$file" .yml).sock\""
		echo "listen_addresses: [$HOST@$port]"
		echo "upstream_recursive_servers:"
		echo "  - address_data: $HOST"
		echo "    tls_port: $UPORT"
		if [[ $pin == - ]]; then
			echo "    tls_auth_name: \"dot.test\""
		else
			echo "    tls_pubkey_pinset:"
			echo "      - digest: \"sha256\""
			echo "        value: $pin"
		fi
	} > "$file"
}

count()
{
	grep -c -F -- "$1" "$2" || true
}

start_unbound unbound
PIN=$(cat "$TMP/pki/server.spki")
# A PEM header over a body that is no certificate: config.c lets it through, wolfSSL loads
# nothing from it.
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' \
	> "$TMP/broken-ca.pem"

# --- an idle dotd has made no TLS context ---

P1=''
new_port P1
anchors_cfg "$TMP/idle.yml" "$TMP/pki/ca.pem" "$P1" -
start_dotd "$TMP/idle.yml" "$TMP/idle.log"
IDLE_PID=$DOTD_PID
wait_log "$TMP/idle.log" "serving with" 10 || die "dotd starts (idle.yml)"
sleep 0.5
expect "idle" "no TLS context made before a query" "$(count "$MADE" "$TMP/idle.log") made" \
	'(($(count "$MADE" "$TMP/idle.log") == 0))'
check "the first query is answered" "$PROBE" query "$HOST" "$P1" www.example A udp NOERROR \
	192.0.2.80
check "a second one, over another connection (TCP)" "$PROBE" query "$HOST" "$P1" mx.example AAAA tcp
# made, from_file, bad and meaning are read by expect's eval, which shellcheck cannot see.
# shellcheck disable=SC2034
made=$(count "$MADE" "$TMP/idle.log")
# shellcheck disable=SC2034
from_file=$(count "$MADE: trust anchors from '$TMP/pki/ca.pem'" "$TMP/idle.log")
expect "after the first queries" "one TLS context made, from the CA file" \
	"$(grep -F "$MADE" "$TMP/idle.log" || true)" '((made == 1 && from_file == 1))'

# --- a CA file with nothing that loads: refused at start when upstreams need it ---

P2=''
new_port P2
anchors_cfg "$TMP/broken.yml" "$TMP/broken-ca.pem" "$P2" -
st=0
timeout 10 "$DOTD" -v 6 -C "$TMP/broken.yml" > "$TMP/broken.log" 2>&1 || st=$?
# shellcheck disable=SC2034
refused=$(count "tls_ca_file '$TMP/broken-ca.pem': no certificate in it can be read" \
	"$TMP/broken.log")
# shellcheck disable=SC2034
listened=$(count "listening on" "$TMP/broken.log")
expect "a CA file with a PEM header and no certificate, an upstream authenticated by name" \
	"dotd refuses to start (exit 1), the file named, before it listens" \
	"exit $st; $(cat "$TMP/broken.log")" '((st == 1 && refused == 1 && listened == 0))'
# The same, the body a real certificate cut short before its END line.
head -n 3 "$TMP/pki/ca.pem" > "$TMP/cut-ca.pem"
anchors_cfg "$TMP/cut.yml" "$TMP/cut-ca.pem" "$P2" -
st=0
timeout 10 "$DOTD" -v 6 -C "$TMP/cut.yml" > "$TMP/cut.log" 2>&1 || st=$?
# shellcheck disable=SC2034
refused=$(count "tls_ca_file '$TMP/cut-ca.pem': no certificate in it can be read" "$TMP/cut.log")
expect "a CA file cut short" "dotd refuses to start (exit 1)" \
	"exit $st; $(cat "$TMP/cut.log")" '((st == 1 && refused == 1))'

# `dotd -i`, which checks a file without starting, says the same; of a pinned one, nothing.
st=0
out=$("$DOTD" -C "$TMP/broken.yml" -i 2>&1 > /dev/null) || st=$?
expect "dotd -i, that file, an upstream authenticated by name" "exit 2, the file named" \
	"exit $st: $out" \
	'((st == 2)) && [[ $out == *"tls_ca_file '\''$TMP/broken-ca.pem'\'': no certificate in it can be read"* ]]'
anchors_cfg "$TMP/pinned-i.yml" "$TMP/broken-ca.pem" "$P2" "$PIN"
st=0
"$DOTD" -C "$TMP/pinned-i.yml" -i > /dev/null 2>&1 || st=$?
expect "dotd -i, that file, the upstream pinned" "exit 0" "exit $st" '((st == 0))'

# --- ... and serves when its upstreams are pinned: the error logged once, at the first query ---

P3=''
new_port P3
anchors_cfg "$TMP/pinned.yml" "$TMP/broken-ca.pem" "$P3" "$PIN"
start_dotd "$TMP/pinned.yml" "$TMP/pinned.log"
PINNED_PID=$DOTD_PID
if wait_answer "$P3" 10 "$DOTD_PID"; then
	pass "that file, an upstream authenticated by its pin: dotd starts and answers"
else
	fail "that file, an upstream authenticated by its pin: dotd starts and answers"
fi
for name in ns.example mail.example alias.example; do
	"$PROBE" query "$HOST" "$P3" "$name" A udp NOERROR > /dev/null 2>&1 || true
done
# shellcheck disable=SC2034
bad=$(count "$BAD '$TMP/broken-ca.pem'" "$TMP/pinned.log")
# shellcheck disable=SC2034
meaning=$(count "only pinned upstreams can be authenticated until a reload" "$TMP/pinned.log")
# shellcheck disable=SC2034
made=$(count "$MADE" "$TMP/pinned.log")
expect "that file, pinned" "the error is logged once for 4 queries, with what it means" \
	"$(grep -F -e "$BAD" -e "only pinned" -e "$MADE" "$TMP/pinned.log" || true)" \
	'((bad == 1 && meaning == 1 && made == 0))'

# --- a reload that names such a file is refused; the running anchors serve on ---

cp "$TMP/idle.yml" "$TMP/idle-good.yml"
sed -i "s|^tls_ca_file: .*|tls_ca_file: \"$TMP/broken-ca.pem\"|" "$TMP/idle.yml"
out=$("$CTL" -s "$TMP/idle.sock" reload 2>&1) && st=0 || st=$?
expect "a reload to that file" "refused (exit 1), the file named with the reason" "$out" \
	'((st == 1)) && [[ $out == *"tls_ca_file '\''$TMP/broken-ca.pem'\'': no certificate in it can be read"* ]]'
check "after that reload: a new name, over a new connection (TCP), still answered" \
	"$PROBE" query "$HOST" "$P1" txt.example TXT tcp NOERROR

# --- read again once mended: the same configuration, reloaded ---

# The pinned dotd read the broken file at its first query. Mended, the file is not read again
# until a reload; then it is, and an upstream authenticated by name is answered through it.
cp "$TMP/pki/ca.pem" "$TMP/broken-ca.pem"
check "the file mended, not reloaded: still answered (TCP)" \
	"$PROBE" query "$HOST" "$P3" mx.example AAAA tcp
# shellcheck disable=SC2034
made=$(count "$MADE" "$TMP/pinned.log")
expect "the file mended, not reloaded" "not read again" "$made made" '((made == 0))'
out=$("$CTL" -s "$TMP/pinned.sock" reload 2>&1) && st=0 || st=$?
expect "the file mended, the same configuration reloaded" "exit 0" "$out" '((st == 0))'
# shellcheck disable=SC2034
made=$(count "$MADE: trust anchors from '$TMP/broken-ca.pem'" "$TMP/pinned.log")
expect "after that reload" "the file read again" "$made made" '((made == 1))'
anchors_cfg "$TMP/pinned.yml" "$TMP/broken-ca.pem" "$P3" -
out=$("$CTL" -s "$TMP/pinned.sock" reload 2>&1) && st=0 || st=$?
expect "the upstream then authenticated by name, reloaded" "exit 0" "$out" '((st == 0))'
check "after it: answered through the mended file" \
	"$PROBE" query "$HOST" "$P3" www.example A udp NOERROR 192.0.2.80
stop_dotd "$PINNED_PID" 10
stop_dotd "$IDLE_PID" 10

summary anchors
