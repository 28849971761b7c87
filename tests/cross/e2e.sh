#!/usr/bin/env bash
# e2e.sh DOTD PROBE: a cross-built dotd end to end (tests/cross/cross.sh, `make cross`). DOTD
# runs the target's dotd (the build's tests/emu-dotd: qemu-user with the target's libraries);
# PROBE is the host's dotd-probe (free ports, readiness). A real unbound serves DoT on
# loopback with throwaway certificates (tests/integration/lib.sh); dotd authenticates it
# (dot.test, the test CA) and kdig asks dotd over UDP and TCP, for a name, an AAAA, an NXDOMAIN
# and a cached answer; then dotd stops cleanly on SIGTERM.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD PROBE" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")/../integration" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

command -v kdig > /dev/null 2>&1 || die "kdig is installed (knot-dnsutils)"

start_unbound unbound
dotd_in_front e2e "" "$UPORT"
# qemu-user starts dotd and its TLS handshakes several times slower than a native run.
wait_answer "$DPORT" 60 "$DOTD_PID" || die "dotd under emulation starts and answers"
pass "dotd under emulation starts and answers"

# kdig_expect WHAT WANT KDIG-ARGS...: kdig asks dotd; its short output is exactly WANT.
kdig_expect()
{
	local what=$1 want=$2 got
	shift 2
	got=$(kdig @"$HOST" -p "$DPORT" +short +time=10 +retry=0 "$@" 2>&1) || true
	if [[ $got == "$want" ]]; then
		pass "kdig $what: $want"
	else
		fail "kdig $what: '$got', want '$want'"
	fi
}

kdig_expect "UDP www.example A" 192.0.2.80 www.example A
kdig_expect "TCP www.example AAAA" 2001:db8::80 +tcp www.example AAAA
kdig_expect "TCP mail.example MX" "10 mx.example." +tcp mail.example MX
kdig_expect "UDP txt.example TXT" '"hello from the test"' txt.example TXT
got=$(kdig @"$HOST" -p "$DPORT" +time=10 +retry=0 nx.example A 2>&1) || true
if [[ $got == *"status: NXDOMAIN"* ]]; then
	pass "kdig nx.example: NXDOMAIN"
else
	fail "kdig nx.example: NXDOMAIN"
	printf '%s\n' "$got" | indent
fi
before=$(ustat unbound total.num.queries)
kdig_expect "UDP www.example A again (cache)" 192.0.2.80 www.example A
after=$(ustat unbound total.num.queries)
if ((after == before)); then
	pass "the repeated question came from dotd's cache (unbound total.num.queries $after)"
else
	fail "the repeated question came from dotd's cache (total.num.queries $before -> $after)"
fi
stop_dotd "$DOTD_PID" 20
if ((STOP_STATUS == 0)); then
	pass "clean stop on SIGTERM"
else
	fail "clean stop on SIGTERM (status $STOP_STATUS)"
fi

summary e2e
