#!/usr/bin/env bash
# dotd against the protocol rules of docs' rfc checklist (M1-M9, E1-E8, F1, C7): the ISC EDNS
# compliance dig probes, and raw messages for what dig cannot send. A real unbound serves DoT
# behind dotd on loopback.
#
# usage: rfc.sh DOTD PROBE
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

# dotd_conf FILE PORT AUTH-NAME [EXTRA-KEYS]: a config listening on $HOST@PORT, forwarding to
# the unbound at $UPORT under AUTH-NAME. (lib.sh's dotd_in_front() sets DPORT, which the probes
# below keep using for the first dotd, and its name is always dot.test.)
dotd_conf()
{
	cat > "$1" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$2]
${4:-}
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "$3"
EOF
}

start_unbound unbound
DPORT=''
new_port DPORT
dotd_conf "$TMP/dotd.yml" "$DPORT" dot.test
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
MAIN_PID=$DOTD_PID
wait_answer "$DPORT" 10 "$MAIN_PID" || die "dotd starts and answers"

# The TLS 1.3 suite unbound picks, with its server preference (AES-256-GCM first): ChaCha20 where
# wolfCrypt has no AES instructions, since dotd then does not offer AES-256 (tls/tls_ctx.c: the
# "narrow" list, chosen on the same macros of wolfSSL's build).
narrow=1
if grep -Eq '^#define (WOLFSSL_AESNI|WOLFSSL_ARMASM)' /usr/include/wolfssl/options.h ||
	! grep -q '^#define HAVE_CHACHA' /usr/include/wolfssl/options.h ||
	! grep -q '^#define HAVE_POLY1305' /usr/include/wolfssl/options.h; then
	narrow=0
fi
if ((narrow)); then
	suite=TLS13-CHACHA20-POLY1305-SHA256
else
	suite=TLS13-AES256-GCM-SHA384
fi
if grep -q "connected, TLSv1.3 $suite" "$TMP/dotd.log"; then
	pass "TLS 1.3 suite against unbound: $suite"
else
	fail "TLS 1.3 suite against unbound: $suite"
	grep 'connected, ' "$TMP/dotd.log" | indent
fi

# A server that takes AES-256-GCM alone refuses the narrow list with a handshake_failure alert:
# the first query is still answered, on a second connection that offers every AEAD suite, and
# nothing is counted against the upstream. With the wrong name that server is still refused.
start_unbound aes256 '  tls-ciphersuites: "TLS_AES_256_GCM_SHA384"'
for name in dot.test wrong.test; do
	APORT=''
	new_port APORT
	dotd_conf "$TMP/aes256-$name.yml" "$APORT" "$name"
	log=$TMP/aes256-$name.log
	start_dotd "$TMP/aes256-$name.yml" "$log"
	wait_log "$log" "serving with 1 upstream" 10 || die "dotd in front of aes256 starts"
	out=$(kdig @"$HOST" -p "$APORT" +time=5 +retry=0 www.example A 2>&1) || true
	line=$(upstream_stats "$DOTD_PID" "$log" "$HOST@$UPORT") || line=''
	refusals=$(grep -c "refused the TLS 1.3 suites" "$log" || true)
	if [[ $name == dot.test ]]; then
		what="AES-256-GCM-only server: the first query answered, no failure counted"
		ok=0
		if grep -q "status: NOERROR" <<< "$out" && grep -q "192.0.2.80" <<< "$out" &&
			grep -q "connected, TLSv1.3 TLS13-AES256-GCM-SHA384" "$log" &&
			[[ $(stat_of "$line" conn_failures) == 0 ]] && ((refusals == narrow)); then
			ok=1
		fi
	else
		what="AES-256-GCM-only server, the wrong name: refused after the wider offer"
		ok=0
		if grep -q "status: SERVFAIL" <<< "$out" && ! grep -q "connected, " "$log" &&
			(($(stat_of "$line" auth_failures) >= 1)) && ((refusals == narrow)); then
			ok=1
		fi
	fi
	if ((ok)); then
		pass "$what"
	else
		fail "$what"
		indent <<< "$out"
		indent <<< "$line"
		grep -F "dotd[tls]" "$log" | indent
	fi
	stop_dotd "$DOTD_PID" 10
done

# Two workers share the tickets: the second to connect takes a ticket made on AES-256-GCM by the
# first, and its offer must carry that suite, or wolfSSL fails the handshake on the PSK. kdig
# pinned to each CPU in turn reaches each worker (steered by CPU).
if (($(nproc) >= 2)); then
	new_port APORT
	dotd_conf "$TMP/aes256-workers.yml" "$APORT" dot.test "workers: 2
workers_steering: cpu"
	log=$TMP/aes256-workers.log
	start_dotd "$TMP/aes256-workers.yml" "$log"
	wait_log "$log" "serving with 1 upstream" 10 || die "dotd with 2 workers starts"
	answered=0
	for ((i = 0; i < 8; i++)); do
		if taskset -c $((i % 2)) kdig @"$HOST" -p "$APORT" +time=5 +retry=0 "w$i.bench" A \
			2>&1 | grep -q "status: NOERROR"; then
			answered=$((answered + 1))
		fi
	done
	connected=$(grep -c "connected, TLSv1.3 TLS13-AES256-GCM-SHA384" "$log" || true)
	if ((answered == 8 && connected >= 2)) && ! grep -q "handshake failed" "$log"; then
		pass "AES-256-GCM-only server, 2 workers: 8 of 8 answered, each worker connected"
	else
		fail "AES-256-GCM-only server, 2 workers: $answered of 8 answered, $connected connected"
		grep -F "dotd[tls]" "$log" | indent
	fi
	stop_dotd "$DOTD_PID" 10
else
	skip "AES-256-GCM-only server, 2 workers: one CPU"
fi

# probe NAME MUST MUST-NOT DIG-ARGS...: dig's output matches every extended regex of MUST
# (separated by " && ") and not MUST-NOT ("" for none).
probe()
{
	local name=$1 must=$2 mustnot=$3 out ok=1 re
	shift 3
	out=$(dig @"$HOST" -p "$DPORT" +time=3 +tries=1 "$@" 2>&1) || true
	while [[ -n $must ]]; do
		re=${must%% && *}
		[[ $must == *" && "* ]] && must=${must#* && } || must=''
		grep -Eq -- "$re" <<< "$out" || ok=0
	done
	if ((ok)) && { [[ -z $mustnot ]] || ! grep -Eq -- "$mustnot" <<< "$out"; }; then
		pass "$name"
	else
		fail "$name"
		indent <<< "$out"
	fi
}

probe "+noedns: no OPT in the answer (E6)" "status: NOERROR" "OPT PSEUDOSECTION" +noedns www.example
probe "+edns=0: OPT, udp 1232 (E9)" "EDNS: version: 0, flags:; udp: 1232" "" +edns=0 www.example
probe "+edns=1 +noednsneg: BADVERS, OPT version 0 (E4)" \
	"status: BADVERS && EDNS: version: 0" "EDNS: version: 1" +edns=1 +noednsneg www.example
probe "+ednsopt=100: ignored, not echoed (E3)" "status: NOERROR" "OPT=100" \
	+ednsopt=100:abcd www.example
probe "+ednsflags=0x80: not echoed (E5)" "status: NOERROR" "MBZ" +ednsflags=0x80 www.example
probe "+dnssec: DO echoed (E5)" "EDNS: version: 0, flags: do; && status: NOERROR" "" +dnssec \
	www.example
probe "+zflag: Z clear in the answer (M6)" "flags: qr rd ra;" "MBZ|; z " +zflag www.example
# unbound answers its local zone with AA; a stub is no authority (RFC 1035 §4.1.1).
probe "AA clear on a forwarded answer" "status: NOERROR && flags: qr rd ra;" " aa" mail.example MX
probe "AA clear on a cache hit" "status: NOERROR && flags: qr rd ra;" " aa" mail.example MX
# RA and CD only where recursion is offered: a QUERY (RFC 1035 §4.1.1, RFC 4035 §3.2.2).
probe "+opcode=15 +cdflag: NOTIMP without RA or CD" "status: NOTIMP && flags: qr rd;" "" \
	+opcode=15 +cdflag www.example
probe "+cdflag, CHAOS: REFUSED with RA and CD" "status: REFUSED && flags: qr rd ra cd;" "" \
	+cdflag version.bind TXT CH
probe "+opcode=15: NOTIMP (M5)" "status: NOTIMP" "" +opcode=15 www.example
probe "TYPE666: forwarded, answered (M5)" "status: NOERROR" "" www.example TYPE666
probe "WwW.ExAmPlE: the question echoed as sent (M7)" "^;WwW\\.ExAmPlE\\.[[:space:]]+IN[[:space:]]+A" "" \
	WwW.ExAmPlE A
probe "+bufsize=512: TC, at most 512 octets (E7, E8)" \
	"flags: qr tc rd ra; && MSG SIZE  rcvd: ([0-9]{1,2}|[1-4][0-9]{2}|50[0-9]|51[0-2])$" \
	"ANSWER: [1-9]" +bufsize=512 +ignore big.example TXT
probe "+bufsize=4096: TC, at most 1232 octets (E8)" \
	"flags: qr tc rd ra; && MSG SIZE  rcvd: ([0-9]{1,3}|1[01][0-9]{2}|12[0-2][0-9]|123[0-2])$" \
	"ANSWER: [1-9]" +bufsize=4096 +ignore big.example TXT
probe "+tcp: the whole answer (E8)" "ANSWER: 12, && MSG SIZE  rcvd: 3[0-9]{3}" "flags: qr tc" \
	+tcp big.example TXT
probe "CHAOS version.bind: REFUSED, not forwarded (M9)" "status: REFUSED" "" version.bind TXT CH
probe "+norec for a name not cached: REFUSED (M8)" "status: REFUSED" "" +norec norec.example
check "AXFR over TCP: NOTIMP (M9)" "$PROBE" query "$HOST" "$DPORT" example AXFR tcp NOTIMPL

# Raw messages. The question www.example A IN, and an OPT record, in hex.
Q=03777777076578616d706c650000010001
OPT=0000290400000000000000
raw()
{
	check "$1" "$PROBE" raw "$HOST" "$DPORT" "$2" "$3"
}
raw "shorter than a header: no answer (M8)" 1234010000 none
raw "QR set: no answer (M8)" "123481000001000000000000$Q" none
raw "QDCOUNT 0: FORMERR (M4)" 123401000000000000000000 FORMERR
raw "QDCOUNT 2: FORMERR (M4)" "123401000002000000000000$Q$Q" FORMERR
raw "two OPT records: FORMERR (E1)" "123401000001000000000002$Q$OPT$OPT" FORMERR
label64=40$(printf '61%.0s' $(seq 64))
raw "a 64-octet label: FORMERR (M1)" "123401000001000000000000${label64}0000010001" FORMERR
long=$(for i in 1 2 3 4 5; do printf '3f'; printf '61%.0s' $(seq 63); done)
raw "a name over 255 octets: FORMERR (M1)" "123401000001000000000000${long}0000010001" FORMERR
raw "a compression loop: FORMERR (M2)" "123401000001000000000000c00c00010001" FORMERR
raw "a record past the end: FORMERR (M3)" "123401000001000100000000${Q}c00c000100010000003c0004c000" \
	FORMERR
# Bytes after a whole, well-formed query are ignored, as Unbound, Stubby and dnsdist do.
raw "four bytes after the query: answered, not FORMERR" "123401000001000000000000${Q}deadbeef" \
	NOERROR
raw "bytes after the query's OPT: answered" "123401000001000000000001${Q}${OPT}00" NOERROR
check "and dotd still serves" "$PROBE" query "$HOST" "$DPORT" www.example A udp NOERROR 192.0.2.80

stop_dotd "$MAIN_PID" 10
if ((STOP_STATUS == 0)); then
	pass "clean stop"
else
	fail "clean stop (status $STOP_STATUS)"
fi
summary rfc
