#!/usr/bin/env bash
# The DNSSEC lab checked against itself: world.sh builds and signs the world, lab.sh serves it
# (NSD) and starts the two recursive unbounds over it, and every query of queries.txt goes
#   - to the reference validator (unbound with validation and the world's trust anchor): its
#     RCODE, AD bit and Extended DNS Error must be those of the list, which are what an
#     RFC-correct validator must say; if they differ, the world is not built as intended;
#   - to the DoT upstream (unbound without validation), over authenticated DoT: the same RCODE
#     except that it answers what the validator refuses (bogus, expired), never an AD bit, and
#     the RRSIGs of the signed zones along (DO), so that a validating dotd has work to do.
#
# usage: reference.sh PROBE (dotd-probe, for free ports)
#
# Exits 77 (skipped) if the Debian tools it needs are missing and cannot be installed.
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 PROBE" >&2
	exit 2
fi
PROBE=$(realpath "$1")
DNSSEC=$(cd "$(dirname "$0")" && pwd)
HERE=$DNSSEC/../integration

# shellcheck source=tests/dnssec/lab.sh
. "$DNSSEC/lab.sh"
lab_require

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

lab_start

# --- the reference validator ---

n=0
while read -r name type rcode ad ede; do
	n=$((n + 1))
	out=$(lab_query "$LAB_VAL_PORT" "$name" "$type") || true
	got="$(lab_rcode "$out") ad=$(lab_ad "$out") ede=$(lab_ede "$out")"
	want="$rcode ad=$ad ede=$ede"
	if [[ $got == "$want" ]]; then
		pass "validator: $name $type: $want"
	else
		fail "validator: $name $type: $want (got $got)"
		printf '%s\n' "$out" | indent
	fi
done < <(lab_queries)
((n > 30)) || fail "queries.txt: only $n queries"

# --- the DoT upstream, which does not validate ---

while read -r name type rcode ad _; do
	out=$(lab_query_dot "$name" "$type") || true
	want=$rcode
	[[ $rcode == SERVFAIL ]] && want=NOERROR
	got=$(lab_rcode "$out")
	what="upstream (DoT, no validation): $name $type: $want, no AD"
	((ad == 1)) && what+=", RRSIGs"
	if [[ $got == "$want" && $(lab_ad "$out") == 0 ]] &&
		{ ((ad == 0)) || grep -q '[[:space:]]RRSIG[[:space:]]' <<< "$out"; }; then
		pass "$what"
	else
		fail "$what (got $got)"
		printf '%s\n' "$out" | indent
	fi
done < <(lab_queries)

# What the validator refuses, the upstream hands out as data: a future dotd test can tell a
# validating dotd from one that passes answers through.
for rec in "www.bogus.test. 192.0.2.40" "www.expired.test. 192.0.2.50" \
	"tobogus.secure.test. 192.0.2.40"; do
	read -r name addr <<< "$rec"
	out=$(lab_query_dot "$name" A) || true
	if [[ $(lab_rcode "$out") == NOERROR ]] &&
		awk -v a="$addr" '$4 == "A" && $5 == a { f = 1 } END { exit !f }' <<< "$out"; then
		pass "upstream: $name A answers $addr"
	else
		fail "upstream: $name A answers $addr"
		printf '%s\n' "$out" | indent
	fi
done

summary dnssec_world
