#!/usr/bin/env bash
# shellcheck disable=SC2016 # the conditions are expanded by expect's eval
# ldns.sh: ldns is loaded when first needed (resolver/ldns_lib.h), against dotd-fakeup, whose
# --extra-label answers carry a record for a name not asked (extra.invalid), which dotd's
# scrub must take out by rebuilding the answer with ldns:
#   - serving misses and hits and a flush by name (dotd's own parser, cache/dns_text.c) map no
#     libldns, libssl or libcrypto; the first answer to scrub maps libldns, and the client gets
#     the answer without the extra record;
#   - with the libldns dotd loads replaced by a file that is no library (LD_LIBRARY_PATH), dotd
#     starts and serves, logs why ldns cannot be loaded, answers SERVFAIL to the query whose
#     answer it cannot scrub (never the answer unscrubbed), and goes on serving the rest;
#     a flush by name still works; a configuration that needs ldns at start (DNSSEC, its trust
#     anchors) is refused with words that say so.
#
# usage: ldns.sh DOTD PROBE FAKEUP DOTD-CTL SONAME
set -euo pipefail

if [[ $# -ne 5 ]]; then
	echo "usage: $0 DOTD PROBE FAKEUP DOTD-CTL SONAME" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
FAKEUP=$(realpath "$3")
CTL=$(realpath "$4")
SONAME=$5
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

make_pki
start_fakeup fake --extra-label extra || die "dotd-fakeup starts"

# ldns_maps PID: the libldns, libssl and libcrypto files PID has mapped, space separated.
ldns_maps()
{
	grep -oE '/[^ ]*lib(ldns|crypto|ssl)\.so[^ ]*' "/proc/$1/maps" | sort -u | tr '\n' ' ' || true
}

# run NAME [ENV...]: dotd in front of the fakeup with a control socket; sets DPORT, DOTD_PID,
# SOCK.
run()
{
	local name=$1
	shift
	SOCK=$TMP/$name.sock
	DPORT=''
	new_port DPORT
	cat > "$TMP/$name.yml" << EOT
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$DPORT]
control_socket: $SOCK
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $FPORT
    tls_auth_name: "dot.test"
EOT
	env "$@" "$DOTD" -v 7 -C "$TMP/$name.yml" > "$TMP/$name.log" 2>&1 &
	DOTD_PID=$!
	PIDS+=("$DOTD_PID")
	wait_answer "$DPORT" 10 "$DOTD_PID" www.bench 192.0.2.1 || die "$name: dotd answers"
}

# --- ldns as installed ---

run lazy
"$PROBE" query "$HOST" "$DPORT" www.bench A udp NOERROR 192.0.2.1 > /dev/null
"$PROBE" query "$HOST" "$DPORT" www.bench AAAA tcp NOERROR > /dev/null
out=$("$CTL" -s "$SOCK" flush 'www.bench.' A 2>&1) && st=0 || st=$?
maps=$(ldns_maps "$DOTD_PID")
expect "lazy: misses, hits, a flush by name" \
	"no libldns, libssl or libcrypto mapped (${maps:-none})" \
	"flush: $st $out; maps: $maps" '((st == 0)) && [[ -z $maps ]]'
out=$("$PROBE" query "$HOST" "$DPORT" extra.bench A udp NOERROR 192.0.2.1 2>&1) && st=0 || st=$?
expect "lazy: an answer with a record not asked" "answered, that record taken out" "$st $out" \
	'((st == 0)) && [[ $out == *" 1 answer records"* ]]'
maps=$(ldns_maps "$DOTD_PID")
expect "lazy: the scrub's rebuild" "libldns mapped ($maps)" "$maps" '[[ $maps == *libldns* ]]'
out=$("$PROBE" query "$HOST" "$DPORT" extra.again.bench A tcp NOERROR 192.0.2.1 2>&1) &&
	st=0 || st=$?
expect "lazy: the next one" "answered, taken out too" "$st $out" \
	'((st == 0)) && [[ $out == *" 1 answer records"* ]]'
stop_dotd "$DOTD_PID" 10
expect "lazy: stops" "exit 0" "status $STOP_STATUS" '((STOP_STATUS == 0))'

# --- no ldns to load ---

mkdir -p "$TMP/noldns"
echo "not a shared library" > "$TMP/noldns/$SONAME"
run none LD_LIBRARY_PATH="$TMP/noldns"
out=$("$PROBE" query "$HOST" "$DPORT" extra.bench A udp SERVFAIL 2>&1) && st=0 || st=$?
expect "none: an answer to scrub, ldns not loadable" "SERVFAIL, not the answer unscrubbed" \
	"$st $out" '((st == 0))'
expect "none: the log" "says why ldns cannot be loaded" \
	"$(grep -F 'ldns' "$TMP/none.log" | head -3)" \
	'grep -q "cannot load ldns: .*$SONAME" "$TMP/none.log"'
out=$("$PROBE" query "$HOST" "$DPORT" other.bench A udp NOERROR 192.0.2.1 2>&1) && st=0 || st=$?
expect "none: the next miss" "answered" "$st $out" '((st == 0))'
"$PROBE" query "$HOST" "$DPORT" www.bench A udp NOERROR 192.0.2.1 > /dev/null
out=$("$CTL" -s "$SOCK" flush www.bench 2>&1) && st=0 || st=$?
expect "none: dotd-ctl flush www.bench" "exit 0, one entry dropped" "$st $out" \
	'((st == 0)) && [[ $out == "1 entry dropped" ]]'
alive "$DOTD_PID" && pass "none: dotd still runs" || fail "none: dotd still runs"
stop_dotd "$DOTD_PID" 10

# A configuration that reads trust anchors at start needs ldns then: refused, saying why.
sed -e '/^control_socket/d' "$TMP/none.yml" > "$TMP/dnssec.yml"
cat >> "$TMP/dnssec.yml" << EOT
dnssec: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors: ["$HERE/../unit/anchors/root.key"]
EOT
out=$(LD_LIBRARY_PATH="$TMP/noldns" timeout 10 "$DOTD" -C "$TMP/dnssec.yml" 2>&1) && st=0 || st=$?
expect "none: DNSSEC configured" "exit 2, the anchors cannot be read for want of ldns" \
	"$st $(printf '%s' "$out" | tail -n 3)" \
	'((st == 2)) && [[ $out == *"root.key"*"ldns cannot be loaded"* ]]'
expect "none: DNSSEC configured, the message" "no 'No such file' about a file that is there" \
	"$out" '[[ $out != *"No such file"* ]]'

summary ldns
