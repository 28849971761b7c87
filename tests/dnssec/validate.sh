#!/usr/bin/env bash
# dotd validating DNSSEC over the lab world (lab.sh, world.sh): dotd with dnssec on and the
# world's root.key as its trust anchor, in front of the lab's non-validating DoT upstream, and
# the lab's validating unbound beside it. Every query of queries.txt goes to both:
#   - dotd's RCODE, AD bit and Extended DNS Error must be the list's, and the reference
#     validator's: the agreement table (printed at the end, AGREE or DIFFER per query);
#   - then, against the same world:
#       CD set: the bogus and expired data come through unvalidated (RFC 4035 §3.2.2);
#       no DO: no RRSIG, NSEC or NSEC3 in the answer, AD only if the client set AD (RFC 6840
#       §5.7); DO: the RRSIGs come along;
#       a cache hit gives the same verdict without asking anything (dnssec_fetches unchanged)
#       and the DS/DNSKEY RRsets are asked once per zone;
#       a negative trust anchor for bogus.test: its data without AD instead of SERVFAIL, and
#       the same for a forward zone to a plain server;
#       dnssec_return_only_secure: insecure data gets SERVFAIL;
#       a Stubby configuration (dnssec: GETDNS_EXTENSION_TRUE, dnssec_trust_anchors) starts and
#       validates; with a wrong trust anchor (a key the world is not signed with) nothing is
#       secure and the signed zones are bogus.
#
# usage: validate.sh DOTD PROBE
#
# Exits 77 (skipped) if the Debian tools it needs are missing and cannot be installed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD PROBE" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
DNSSEC=$(cd "$(dirname "$0")" && pwd)
HERE=$DNSSEC/../integration

# shellcheck source=tests/dnssec/lab.sh
. "$DNSSEC/lab.sh"
lab_require

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

lab_start

# dotd_val NAME EXTRA-KEYS: a validating dotd in front of the lab's DoT upstream (DPORT).
dotd_val()
{
	dotd_in_front "$1" "dnssec: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors: \"$LAB_WORLD/root.key\"
$2" "$LAB_DOT_PORT"
	lab_wait_soa "$DPORT" 10 "$DOTD_PID" || die "$1: dotd answers"
}

# val_counter LOG KEY: a counter of the validating dotd's "dnssec:" statistics line (SIGUSR1
# writes it to its log).
val_counter()
{
	local log=$1 key=$2 n c
	c=$(grep -c '^.*dnssec: secure=' "$log" || true)
	kill -USR1 "$VAL_PID"
	wait_log "$log" 'dnssec: secure=' 5 $((c + 1)) || true
	n=$(grep 'dnssec: secure=' "$log" | tail -n 1 | grep -o " $key=[0-9]*" | cut -d= -f2)
	echo "${n:-0}"
}

dotd_val val ''
VAL_LOG=$TMP/val.log
VAL_PORT=$DPORT
VAL_PID=$DOTD_PID

# --- the agreement table ---

table=()
n=0
agree=0
while read -r name type rcode ad ede; do
	n=$((n + 1))
	ours=$(lab_query "$VAL_PORT" "$name" "$type") || true
	ref=$(lab_query "$LAB_VAL_PORT" "$name" "$type") || true
	got="$(lab_rcode "$ours") ad=$(lab_ad "$ours") ede=$(lab_ede "$ours")"
	refs="$(lab_rcode "$ref") ad=$(lab_ad "$ref") ede=$(lab_ede "$ref")"
	want="$rcode ad=$ad ede=$ede"
	verdict=DIFFER
	if [[ $got == "$refs" ]]; then
		verdict=AGREE
		agree=$((agree + 1))
	fi
	table+=("$(printf '| %-30s | %-6s | %-26s | %-26s | %-6s |' "$name" "$type" "$got" \
		"$refs" "$verdict")")
	if [[ $got == "$want" && $got == "$refs" ]]; then
		pass "dotd: $name $type: $want, as unbound"
	else
		fail "dotd: $name $type: $want (dotd: $got, unbound: $refs)"
		printf '%s\n' "$ours" | indent
	fi
done < <(lab_queries)
((n > 30)) || fail "queries.txt: only $n queries"

# --- CD, DO and AD (RFC 4035 §3.2.1, §3.2.2; RFC 6840 §5.7) ---

for rec in "www.bogus.test. 192.0.2.40" "www.expired.test. 192.0.2.50" \
	"tobogus.secure.test. 192.0.2.40"; do
	read -r name addr <<< "$rec"
	out=$(lab_query "$VAL_PORT" +cdflag "$name" A) || true
	if [[ $(lab_rcode "$out") == NOERROR && $(lab_ad "$out") == 0 ]] &&
		awk -v a="$addr" '$4 == "A" && $5 == a { f = 1 } END { exit !f }' <<< "$out"; then
		pass "CD: $name A gets its bogus data $addr, no AD"
	else
		fail "CD: $name A gets its bogus data $addr, no AD"
		printf '%s\n' "$out" | indent
	fi
done

# kdig sets AD in its queries unless told not to.
plain() { kdig @"$HOST" -p "$VAL_PORT" +time=5 +retry=1 +noadflag "$@" 2>&1; }
for q in "www.secure.test. A" "nothere.secure.test. A" "a.wild.secure.test. A" \
	"www.nsec3.test. TXT"; do
	read -r name type <<< "$q"
	out=$(plain "$name" "$type") || true
	if [[ $(lab_rcode "$out") =~ ^(NOERROR|NXDOMAIN)$ ]] && ! grep -Eq '[[:space:]](RRSIG|NSEC|NSEC3)[[:space:]]' <<< "$out" &&
		[[ $(lab_ad "$out") == 0 ]]; then
		pass "no DO: $name $type without RRSIG, NSEC, NSEC3 or AD"
	else
		fail "no DO: $name $type without RRSIG, NSEC, NSEC3 or AD"
		printf '%s\n' "$out" | indent
	fi
	out=$(kdig @"$HOST" -p "$VAL_PORT" +time=5 +retry=1 +adflag "$name" "$type" 2>&1) || true
	if [[ $(lab_ad "$out") == 1 ]] && ! grep -q '[[:space:]]RRSIG[[:space:]]' <<< "$out"; then
		pass "AD without DO: $name $type gets AD, no RRSIG"
	else
		fail "AD without DO: $name $type gets AD, no RRSIG"
		printf '%s\n' "$out" | indent
	fi
	out=$(lab_query "$VAL_PORT" "$name" "$type") || true
	if [[ $(lab_ad "$out") == 1 ]] && grep -q '[[:space:]]RRSIG[[:space:]]' <<< "$out"; then
		pass "DO: $name $type gets AD and its RRSIGs"
	else
		fail "DO: $name $type gets AD and its RRSIGs"
		printf '%s\n' "$out" | indent
	fi
done
out=$(plain www.insecure.test. A) || true
if [[ $(lab_rcode "$out") == NOERROR && $(lab_ad "$out") == 0 ]]; then
	pass "no DO: insecure data, no AD"
else
	fail "no DO: insecure data, no AD"
fi

# --- cost: a hit is never validated again; each zone's keys are asked once ---

before=$(val_counter "$VAL_LOG" fetches)
for _ in 1 2 3; do
	lab_query "$VAL_PORT" www.secure.test. A > /dev/null || true
	lab_query "$VAL_PORT" www.bogus.test. A > /dev/null || true
done
after=$(val_counter "$VAL_LOG" fetches)
if [[ $before == "$after" && $before -gt 0 ]]; then
	pass "hits and known zones ask nothing more ($before DS/DNSKEY questions in all)"
else
	fail "hits and known zones ask nothing more ($before, then $after)"
fi
zones=$(wc -l < "$LAB_WORLD/zones.list")
if ((before <= 2 * zones + 40)); then
	pass "DS and DNSKEY asked about once per zone: $before questions for $zones zones and the names between"
else
	fail "DS and DNSKEY asked about once per zone: $before questions for $zones zones"
fi
# A new name in a known zone: validated with the keys already there.
before=$(val_counter "$VAL_LOG" fetches)
out=$(lab_query "$VAL_PORT" ok.bogus.test. A) || true
after=$(val_counter "$VAL_LOG" fetches)
if [[ $(lab_ad "$out") == 1 && $before == "$after" ]]; then
	pass "a new name in a known zone: secure with no DS or DNSKEY question"
else
	fail "a new name in a known zone: secure with no DS or DNSKEY question ($before, $after)"
fi
stop_dotd "$VAL_PID" 5

# --- negative trust anchor, only-secure ---

dotd_val nta 'dnssec_negative_trust_anchors: [bogus.test]'
out=$(lab_query "$DPORT" www.bogus.test. A) || true
out2=$(lab_query "$DPORT" www.secure.test. A) || true
if [[ $(lab_rcode "$out") == NOERROR && $(lab_ad "$out") == 0 && $(lab_ad "$out2") == 1 ]]; then
	pass "negative trust anchor: bogus.test's data without AD; secure.test still secure"
else
	fail "negative trust anchor: bogus.test's data without AD; secure.test still secure"
	printf '%s\n' "$out" | indent
fi
stop_dotd "$DOTD_PID" 5

# A forward zone to a plain (LAN) server is not validated: no chain of trust reaches a LAN's
# private names. Here bogus.test. goes to the authoritative NSD itself, whose data for it
# the chain from the root would find bogus.
dotd_val fwd "forward_zones:
  - zone: bogus.test
    plain: [$HOST@$LAB_AUTH_PORT]"
out=$(lab_query "$DPORT" www.bogus.test. A) || true
out2=$(lab_query "$DPORT" www.expired.test. A) || true
if [[ $(lab_rcode "$out") == NOERROR && $(lab_ad "$out") == 0 &&
	$(lab_rcode "$out2") == SERVFAIL ]]; then
	pass "a plain forward zone is not validated (its data, no AD); the rest still is"
else
	fail "a plain forward zone is not validated (its data, no AD); the rest still is"
	printf '%s\n%s\n' "$out" "$out2" | indent
fi
stop_dotd "$DOTD_PID" 5

dotd_val only 'dnssec_return_only_secure: GETDNS_EXTENSION_TRUE'
out=$(lab_query "$DPORT" www.insecure.test. A) || true
out2=$(lab_query "$DPORT" www.secure.test. A) || true
if [[ $(lab_rcode "$out") == SERVFAIL && $(lab_ad "$out2") == 1 ]]; then
	pass "dnssec_return_only_secure: insecure data SERVFAIL, secure data with AD"
else
	fail "dnssec_return_only_secure: insecure data SERVFAIL, secure data with AD"
	printf '%s\n' "$out" | indent
fi
stop_dotd "$DOTD_PID" 5

# --- a hostile trust anchor: a key of our own that the world is not signed with ---

( cd "$TMP" && ldns-keygen -a ECDSAP256SHA256 -k . > other.name 2> /dev/null )
ldns-key2ds -n -2 "$TMP/$(cat "$TMP/other.name").key" > "$TMP/other.ds"
dotd_in_front wrong "dnssec: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors: \"$TMP/other.ds\"" "$LAB_DOT_PORT"
sleep 1
out=$(lab_query "$DPORT" www.secure.test. A) || true
if [[ $(lab_rcode "$out") == SERVFAIL && $(lab_ede "$out") == 9 ]]; then
	pass "a trust anchor the world does not match: signed data SERVFAIL, EDE 9 (DNSKEY Missing)"
else
	fail "a trust anchor the world does not match: signed data SERVFAIL, EDE 9"
	printf '%s\n' "$out" | indent
fi
stop_dotd "$DOTD_PID" 5

# --- a router before NTP: tls_unset_clock: accept_pinned, the clock in 2001 (libfaketime) ---
#
# Before the world's signatures were made: with dates checked, www.secure.test. would be
# "not yet valid". With the clock unset (before dotd's build date) and the opt-in, dates wait
# for the clock: secure data gets AD, and nothing so validated is cached (each query is
# validated again); once the clock is set (netwatch sees the jump), dates count again and the
# expired zone is bogus (EDE 7).

LIBFAKETIME=''
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	if [[ -e $f ]]; then
		LIBFAKETIME=$f
		break
	fi
done
if [[ -n $LIBFAKETIME ]]; then
	CPORT=''
	new_port CPORT
	pin=$(openssl x509 -in "$TMP/pki/server.pem" -noout -pubkey | openssl pkey -pubin \
		-outform DER | openssl dgst -sha256 -binary | openssl base64 -A)
	{
		echo "tls_ca_file: \"$TMP/pki/ca.pem\""
		echo "tls_unset_clock: accept_pinned"
		echo "listen_addresses: [$HOST@$CPORT]"
		echo "dnssec: GETDNS_EXTENSION_TRUE"
		echo "dnssec_trust_anchors: \"$LAB_WORLD/root.key\""
		echo "upstream_recursive_servers:"
		echo "  - address_data: $HOST"
		echo "    tls_port: $LAB_DOT_PORT"
		echo "    tls_auth_name: \"dot.test\""
		echo "    tls_pubkey_pinset:"
		echo "      - digest: \"sha256\""
		echo "        value: $pin"
	} > "$TMP/clock.yml"
	echo "@2001-01-01 00:00:00" > "$TMP/clock.clock"
	start_dotd "$TMP/clock.yml" "$TMP/clock.log" env LD_PRELOAD="$LIBFAKETIME" \
		FAKETIME_TIMESTAMP_FILE="$TMP/clock.clock" FAKETIME_NO_CACHE=1 \
		FAKETIME_DONT_FAKE_MONOTONIC=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	VAL_PID=$DOTD_PID
	lab_wait_soa "$CPORT" 10 "$DOTD_PID" || die "clock: dotd answers"
	n0=$(val_counter "$TMP/clock.log" secure)
	out=$(lab_query "$CPORT" www.secure.test. A) || true
	out2=$(lab_query "$CPORT" www.secure.test. A) || true
	nv=$(($(val_counter "$TMP/clock.log" secure) - n0))
	if [[ $(lab_ad "$out") == 1 && $(lab_ad "$out2") == 1 && $nv == 2 ]]; then
		pass "clock unset, accept_pinned: secure data gets AD without date checks, uncached (2 queries, $nv validations)"
	else
		fail "clock unset, accept_pinned: secure data gets AD without date checks, uncached (2 queries, $nv validations)"
		printf '%s\n' "$out" | indent
	fi
	# The expired zone's keys validate too while dates cannot be checked (the price of the
	# opt-in, CONFIG.md); they must not outlive the unset clock.
	out=$(lab_query "$CPORT" www.expired.test. A) || true
	if [[ $(lab_rcode "$out") == NOERROR ]]; then
		pass "clock unset: the expired zone's dates are not checked either"
	else
		fail "clock unset: the expired zone's dates are not checked either"
		printf '%s\n' "$out" | indent
	fi
	echo "+0" > "$TMP/clock.clock"
	sleep 2
	# The verdicts on zones made without dates are forgotten: the keys are validated again.
	f0=$(val_counter "$TMP/clock.log" fetches)
	out=$(lab_query "$CPORT" www.secure.test. A) || true
	f=$(($(val_counter "$TMP/clock.log" fetches) - f0))
	if [[ $(lab_ad "$out") == 1 && $f -ge 2 ]]; then
		pass "clock set: the zones validated without dates are validated again ($f DS/DNSKEY questions)"
	else
		fail "clock set: the zones validated without dates are validated again ($f DS/DNSKEY questions)"
		printf '%s\n' "$out" | indent
	fi
	out=$(lab_query "$CPORT" www.expired.test. A) || true
	if [[ $(lab_rcode "$out") == SERVFAIL && $(lab_ede "$out") == 7 ]]; then
		pass "clock set: dates count again, the expired zone is bogus (EDE 7)"
	else
		fail "clock set: dates count again, the expired zone is bogus (EDE 7)"
		printf '%s\n' "$out" | indent
		show_log clock "$TMP/clock.log"
	fi
	stop_dotd "$DOTD_PID" 5
else
	skip "clock unset: libfaketime is not installed (Debian: faketime)"
fi

# --- a Stubby file: dnssec_return_status and the list form of dnssec_trust_anchors ---

SPORT=''
new_port SPORT
cat > "$TMP/stubby.yml" << EOF
resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
edns_client_subnet_private: 1
idle_timeout: 10000
listen_addresses:
  - $HOST@$SPORT
dnssec_return_status: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors:
  - "$LAB_WORLD/root.key"
tls_ca_file: "$TMP/pki/ca.pem"
round_robin_upstreams: 1
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $LAB_DOT_PORT
    tls_auth_name: "dot.test"
EOF
start_dotd "$TMP/stubby.yml" "$TMP/stubby.log"
lab_wait_soa "$SPORT" 10 "$DOTD_PID" || die "the Stubby file starts"
out=$(lab_query "$SPORT" www.secure.test. A) || true
out2=$(lab_query "$SPORT" www.bogus.test. A) || true
if [[ $(lab_ad "$out") == 1 && $(lab_rcode "$out2") == SERVFAIL && $(lab_ede "$out2") == 6 ]]; then
	pass "a Stubby file with dnssec_return_status starts and validates"
else
	fail "a Stubby file with dnssec_return_status starts and validates"
	printf '%s\n%s\n' "$out" "$out2" | indent
fi
stop_dotd "$DOTD_PID" 5

echo "agreement with unbound: $agree of $n queries"
printf '| %-30s | %-6s | %-26s | %-26s | %-6s |\n' name type dotd unbound ""
printf '%s\n' "${table[@]}"
summary dnssec_validate
