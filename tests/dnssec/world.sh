#!/usr/bin/env bash
# world.sh DIR: a small signed DNS hierarchy for DNSSEC tests, made fresh (new keys) each run
# from the templates in tests/dnssec/zones/, with Debian's ldnsutils (ldns-keygen,
# ldns-signzone, ldns-key2ds, ldns-verify-zone).
#
# DIR receives, for every zone Z of the list below, Z.zone (what the authoritative server
# loads: signed, or the template as it is for an unsigned zone), the keys K<Z>+<alg>+<id>.*,
# and:
#   root.key    the trust anchor: the DS of the fake root's key (give it to a validator as
#               trust-anchor-file)
#   zones.list  one line per zone: its name and its file name (for the server's configuration)
#
# The hierarchy (one key per zone, a KSK that signs everything, as a CSK):
#   .                         NSEC, 13     the fake root
#   test.                     NSEC, 13     delegates the rest
#   secure.test.              NSEC, 13     data, NXDOMAIN, NODATA, *.wild.secure.test., CNAMEs, a DNAME
#   nsec3.test.               NSEC3 opt-out, 8; delegates insecure-child.nsec3.test. unsigned
#   insecure-child.nsec3.test. unsigned
#   nsec3plain.test.          NSEC3 without opt-out, 8
#   insecure.test.            unsigned, no DS in test.
#   bogus.test.               NSEC, 13, the RRSIG of www.bogus.test. A corrupted
#   expired.test.             NSEC, 13, signed for January 2020
#   unsupported.test.         NSEC, 13, but its DS in test. has algorithm 200
#   ed.test.                  NSEC, 15 (Ed25519)
#
# Every name server is ns.test. (127.0.53.1 in the zones): the lab serves all zones from one
# authoritative server, whose real address the recursors get from their configuration.
set -euo pipefail

DIR=${1:?usage: world.sh DIR}
ZONES=$(cd "$(dirname "$0")" && pwd)/zones
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
cd "$DIR"
rm -f ./K*.key ./K*.private ./K*.ds ./*.zone ./*.signed root.key zones.list

for tool in ldns-keygen ldns-signzone ldns-key2ds ldns-verify-zone; do
	if ! command -v "$tool" > /dev/null 2>&1; then
		echo "world.sh: $tool not found (Debian package ldnsutils)" >&2
		exit 127
	fi
done

# Signatures valid from a day ago for 30 days, so that clocks a little apart agree.
NOW=$(date -u +%s)
INCEPTION=$((NOW - 86400))
EXPIRATION=$((NOW + 30 * 86400))

# run CMD...: quietly, with the output shown only if it fails.
run()
{
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "world.sh: failed: $*" >&2
		exit 1
	fi
}

# keygen ZONE ALGORITHM: a new KSK (flags 257) for ZONE; prints its base name.
keygen()
{
	local bits=()
	[[ $2 == RSASHA256 ]] && bits=(-b 2048)
	ldns-keygen -a "$2" "${bits[@]}" -k "$1" 2> keygen.log || {
		cat keygen.log >&2
		exit 1
	}
	rm -f keygen.log
}

# ds KEY: the SHA-256 DS of a key, one line.
ds()
{
	ldns-key2ds -n -2 "$1.key"
}

# template ZONE OUT: the template of ZONE without the lines marked "optout".
template()
{
	grep -v '; optout$' "$ZONES/$1.zone" > "$2"
}

# zone_file NAME: the file of a zone ("." is root).
zone_file()
{
	if [[ $1 == . ]]; then echo root; else echo "${1%.}"; fi
}

# sign ZONE KEY [ldns-signzone options...]: sign F.in into F.zone, F the zone's file name.
sign()
{
	local zone=$1 key=$2 f
	f=$(zone_file "$1")
	shift 2
	run ldns-signzone -i "$INCEPTION" -e "$EXPIRATION" "$@" -o "$zone" -f "$f.zone" \
		"$f.in" "$key"
	rm -f "$f.in"
}

# verify ZONE: ldns-verify-zone agrees the signed zone is good.
verify()
{
	run ldns-verify-zone "$1.zone"
}

# --- the leaves ---

# Unsigned zones: the template as it is.
cp "$ZONES/insecure.test.zone" insecure.test.zone
cp "$ZONES/insecure-child.nsec3.test.zone" insecure-child.nsec3.test.zone

declare -A KEY
for z in secure bogus expired unsupported; do
	KEY[$z]=$(keygen "$z.test." ECDSAP256SHA256)
done
KEY[ed]=$(keygen ed.test. ED25519)
KEY[nsec3]=$(keygen nsec3.test. RSASHA256)
KEY[nsec3plain]=$(keygen nsec3plain.test. RSASHA256)

for z in secure unsupported ed; do
	template "$z.test" "$z.test.in"
	sign "$z.test" "${KEY[$z]}"
	verify "$z.test"
done

# NSEC3 (hash 1 = SHA-1, no salt, 0 iterations: RFC 9276). nsec3.test. with the opt-out flag
# on every NSEC3, and its unsigned delegation added after signing, so that it sits in an
# opt-out span without an NSEC3 of its own (as a real opt-out signer leaves it).
template nsec3.test nsec3.test.in
sign nsec3.test "${KEY[nsec3]}" -n -a 1 -t 0 -p
grep '; optout$' "$ZONES/nsec3.test.zone" | sed 's/[[:space:]]*; optout$//' >> nsec3.test.zone
verify nsec3.test
template nsec3plain.test nsec3plain.test.in
sign nsec3plain.test "${KEY[nsec3plain]}" -n -a 1 -t 0
verify nsec3plain.test

# bogus.test.: a good signing, then one character of the signature of www.bogus.test. A
# changed (same length, still base64): that RRSIG no longer verifies.
template bogus.test bogus.test.in
sign bogus.test "${KEY[bogus]}"
awk '
	$1 == "www.bogus.test." && $4 == "RRSIG" && $5 == "A" && !done {
		c = substr($NF, 20, 1)
		$NF = substr($NF, 1, 19) (c == "A" ? "B" : "A") substr($NF, 21)
		done = 1
	}
	{ print }
	END { if (!done) exit 1 }' bogus.test.zone > bogus.test.tmp || {
	echo "world.sh: no RRSIG of www.bogus.test. A to corrupt" >&2
	exit 1
}
mv bogus.test.tmp bogus.test.zone
if ldns-verify-zone bogus.test.zone > /dev/null 2>&1; then
	echo "world.sh: bogus.test. still verifies after the corruption" >&2
	exit 1
fi

# expired.test.: signatures from 2020-01-01 to 2020-02-01.
template expired.test expired.test.in
run ldns-signzone -i 20200101000000 -e 20200201000000 -o expired.test -f expired.test.zone \
	expired.test.in "${KEY[expired]}"
rm -f expired.test.in
if ldns-verify-zone expired.test.zone > /dev/null 2>&1; then
	echo "world.sh: expired.test. verifies although its signatures expired" >&2
	exit 1
fi

# --- test. with the DS of its children ---

KEY[test]=$(keygen test. ECDSAP256SHA256)
template test test.in
for z in secure nsec3 nsec3plain bogus expired ed; do
	ds "${KEY[$z]}" >> test.in
done
# unsupported.test.: the real key's tag and digest, with algorithm 200 (unassigned): no
# validator implements it, so the DS set has no usable entry and the zone is insecure.
ds "${KEY[unsupported]}" | awk '{ $6 = 200; print }' >> test.in
sign test "${KEY[test]}"
verify test

# --- the root ---

KEY[root]=$(keygen . ECDSAP256SHA256)
template root root.in
ds "${KEY[test]}" >> root.in
sign . "${KEY[root]}"
verify root
ds "${KEY[root]}" > root.key

rm -f ./K*.ds
for z in . test. secure.test. nsec3.test. insecure-child.nsec3.test. nsec3plain.test. \
	insecure.test. bogus.test. expired.test. unsupported.test. ed.test.; do
	echo "$z $(zone_file "$z").zone"
done > zones.list
