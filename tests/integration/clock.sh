#!/usr/bin/env bash
# The router that boots before NTP (tls_unset_clock, docs/CONFIG.md): dotd runs under libfaketime
# (Debian's faketime package) with its wall clock in 2001, before its build date and before
# every certificate here, while the dotd-fakeup servers and this script keep the real time.
# libuv's timers use CLOCK_MONOTONIC, which stays real (FAKETIME_DONT_FAKE_MONOTONIC); the clock
# is read from a file on every call (FAKETIME_NO_CACHE), so that rewriting it sets dotd's clock.
#
# A PKI of its own: a root (the trust store), an intermediate under it, the pinned leaf
# (dot.test) under that; another key for the same name, a leaf under the root alone, a forged
# intermediate (the root's name, another key), and the pinned key certified from 2030 on. Each
# row is a dotd with one upstream, one configuration, one query:
#   (a) a leaf pin, with or without the name, and accept_pinned: answered, logged loudly, and
#       no session ticket kept;
#   (b) a name alone with accept_pinned: SERVFAIL;
#   (c) the same pinned upstreams with fail (the default): SERVFAIL, for the intermediate's
#       dates; a pinned leaf sent alone is answered under both, as a leaf pin never looked at
#       the leaf's own dates, and it is not marked;
#   (d) hostile: another key, a CA pin, a wrong name, an issuer not sent (so not verified
#       to the store, dates or no dates), a forged intermediate: SERVFAIL even with
#       accept_pinned; and with the clock set, the exemption does nothing.
# Then (e): the clock jumps to the real time; dotd notices by itself (resolver/netwatch.h) and
# closes the exempt connection (resolver.c, on NETWATCH_CLOCK), and the next answer comes over
# one verified in full.
#
# usage: clock.sh DOTD PROBE FAKEUP     exit 77 (skipped) without libfaketime
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE FAKEUP" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
FAKEUP=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

LIBFAKETIME=''
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	if [[ -f $f ]]; then
		LIBFAKETIME=$f
		break
	fi
done
if [[ -z $LIBFAKETIME ]]; then
	echo "SKIP: libfaketime not installed (Debian: faketime)"
	exit 77
fi

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

PKI=$TMP/cpki
FAKE_DATE="@2001-01-01 00:00:00" # before any build date, and before every certificate

# --- the PKI ---

# shellcheck source=tests/integration/pki.sh
. "$HERE/pki.sh"

make_clock_pki()
{
	local skid
	pki_init
	root root "/CN=dotd clock root"
	issue int root int_ext "/CN=dotd clock intermediate"
	issue leaf int leaf_ext "/CN=dot.test" "DNS:dot.test"
	issue other int leaf_ext "/CN=dot.test" "DNS:dot.test"
	issue leafr root leaf_ext "/CN=dot.test" "DNS:dot.test"
	# Forged: the root's name and key identifier, another key; its intermediate's signature
	# is not the root's, and under the unset clock its dates fail too.
	skid=$(openssl x509 -in "$PKI/root.pem" -noout -ext subjectKeyIdentifier |
		sed -n '2{s/^ *//;p}')
	root fakeroot "/CN=dotd clock root" "$skid"
	issue forged fakeroot int_ext "/CN=dotd forged intermediate"
	issue fleaf forged leaf_ext "/CN=dot.test" "DNS:dot.test"
	# The pinned key again, certified from 2030 on: with the clock set, still not yet valid.
	# openssl 3.0's x509 cannot date a certificate; ca can.
	ossl req -new -config "$PKI/openssl.cnf" -key "$PKI/leaf.key" -subj "/CN=dot.test" \
		-out "$PKI/future.csr"
	mkdir -p "$PKI/ca.db"
	: > "$PKI/ca.db/index"
	openssl rand -hex 8 > "$PKI/ca.db/serial"
	cat > "$PKI/ca.cnf" << EOF
[ca]
default_ca = int
[int]
database = $PKI/ca.db/index
new_certs_dir = $PKI/ca.db
serial = $PKI/ca.db/serial
certificate = $PKI/int.pem
private_key = $PKI/int.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:dot.test
authorityKeyIdentifier = keyid
EOF
	ossl ca -batch -config "$PKI/ca.cnf" -in "$PKI/future.csr" -out "$PKI/future.pem" \
		-startdate 20300101000000Z -enddate 20310101000000Z -notext
	for f in root int leaf fleaf; do
		spki "$PKI/$f.pem" > "$PKI/$f.spki"
	done
	unset OPENSSL_CONF
}

if out=$(set -e; make_clock_pki 2>&1) && [[ -s $PKI/future.pem ]]; then
	pass "clock PKI (openssl)"
else
	printf '%s\n' "$out" | indent
	die "clock PKI (openssl)"
fi

# --- the servers: one dotd-fakeup per chain, at the real time ---

declare -A CHAIN_CERTS=(
	[good]="leaf int"
	[alone]="leaf"
	[hostile]="other int"
	[hostile-alone]="other"
	[root-leaf]="leafr"
	[forged]="fleaf forged"
	[future]="future int"
)
declare -A CHAIN_KEY=([future]=leaf)
declare -A SPORT=()

# serve CHAIN: a dotd-fakeup presenting CHAIN; sets SPORT[CHAIN].
serve()
{
	local chain=$1 port='' c leaf
	read -r leaf _ <<< "${CHAIN_CERTS[$chain]}"
	: > "$PKI/chain-$chain.pem"
	for c in ${CHAIN_CERTS[$chain]}; do
		cat "$PKI/$c.pem" >> "$PKI/chain-$chain.pem"
	done
	new_port port
	"$FAKEUP" --port "$port" --cert "$PKI/chain-$chain.pem" \
		--key "$PKI/${CHAIN_KEY[$chain]:-$leaf}.key" \
		> "$TMP/fakeup-$chain.out" 2> "$TMP/fakeup-$chain.err" &
	PIDS+=("$!")
	SPORT[$chain]=$port
}

for chain in "${!CHAIN_CERTS[@]}"; do
	serve "$chain"
done
for chain in "${!CHAIN_CERTS[@]}"; do
	wait_log "$TMP/fakeup-$chain.out" listening 10 ||
		die "dotd-fakeup serves the chain '$chain'"
done
pass "${#CHAIN_CERTS[@]} dotd-fakeup servers, one per chain"

# --- dotd ---

# upstream_yaml PORT CONFIG: one upstream entry. CONFIG is words: name=N, pin=CERT (its SPKI).
upstream_yaml()
{
	local port=$1 w
	echo "  - address_data: $HOST"
	echo "    tls_port: $port"
	for w in $2; do
		case $w in
		name=*) echo "    tls_auth_name: \"${w#name=}\"" ;;
		pin=*)
			echo "    tls_pubkey_pinset:"
			echo "      - digest: \"sha256\""
			echo "        value: $(cat "$PKI/${w#pin=}.spki")"
			;;
		esac
	done
}

# dotd_yaml FILE LISTEN-PORT MODE UPSTREAM-PORT CONFIG
dotd_yaml()
{
	cat > "$1" << EOF
tls_ca_file: "$PKI/root.pem"
tls_unset_clock: $3
listen_addresses: [$HOST@$2]
idle_timeout: 60000
upstream_recursive_servers:
$(upstream_yaml "$4" "$5")
EOF
}

# start_clock_dotd CONFIG LOG CLOCK: dotd, its wall clock from the file CLOCK (libfaketime) or,
# for CLOCK "-", the real one; sets DOTD_PID. An ASan build refuses to start with a library
# preloaded before its runtime unless told that this one is fine.
start_clock_dotd()
{
	if [[ $3 == - ]]; then
		start_dotd "$1" "$2"
		return
	fi
	start_dotd "$1" "$2" env LD_PRELOAD="$LIBFAKETIME" FAKETIME_TIMESTAMP_FILE="$3" \
		FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}

EXEMPT="accepted on its pin alone: the system clock is unset"

declare -A CONFIGS=(
	[pin]="pin=leaf"
	[name+pin]="name=dot.test pin=leaf"
	[name]="name=dot.test"
	[pin-int]="pin=int"
	[name+pin-root]="name=dot.test pin=root"
	[other-name+pin]="name=other.test pin=leaf"
	[pin-fleaf]="pin=fleaf"
)

# The rows: CONFIG CHAIN CLOCK MODE accept|refuse WHY. CLOCK: unset (2001) or set (real).
# For accept, WHY is "exempt" (the log has the warning, and no ticket is kept) or "-" (neither);
# for refuse, a text the log must have.
ROWS=(
	# (a) a leaf pin, with or without the name, and accept_pinned
	"pin good unset accept_pinned accept exempt"
	"name+pin good unset accept_pinned accept exempt"
	# (b) a name alone
	"name good unset accept_pinned refuse certificate not yet valid"
	# (c) without the exemption; a pinned leaf sent alone never needed it
	"pin good unset fail refuse certificate not yet valid"
	"name+pin good unset fail refuse certificate not yet valid"
	"pin alone unset fail accept -"
	"pin alone unset accept_pinned accept -"
	# (d) another key, a CA pin, a wrong name, a forged intermediate
	"pin hostile unset accept_pinned refuse certificate not yet valid"
	"name+pin hostile unset accept_pinned refuse certificate not yet valid"
	"pin hostile-alone unset accept_pinned refuse no key in the certificate chain matches"
	"name+pin alone unset accept_pinned refuse unknown issuer"
	"pin-int good unset accept_pinned refuse certificate not yet valid"
	"name+pin-root root-leaf unset accept_pinned refuse certificate not yet valid"
	"other-name+pin good unset accept_pinned refuse name mismatch"
	"pin-fleaf forged unset accept_pinned refuse signature failure"
	# the clock set: the exemption does nothing, either way
	"name+pin future set accept_pinned refuse certificate not yet valid"
	"name+pin good set accept_pinned accept -"
)

TABLE=()
BATCH=8

# check_tickets ROW PID LOG CHAIN EXEMPT: an exempt connection keeps no ticket, another does.
check_tickets()
{
	local row=$1 line tickets
	line=$(upstream_stats "$2" "$3" "$HOST@${SPORT[$4]}") || line=''
	tickets=$(stat_of "$line" tickets) || tickets='?'
	if [[ $5 == exempt && $tickets == 0 ]]; then
		pass "$row: no session ticket kept from the exempt connection"
	elif [[ $5 != exempt && $tickets != '?' && $tickets -ge 1 ]]; then
		pass "$row: its session ticket kept ($tickets)"
	else
		fail "$row: tickets=$tickets (${5/-/not exempt})"
		echo "    | $line"
	fi
}

# run_rows FIRST COUNT: start a dotd per row, then query each and check its verdict.
run_rows()
{
	local first=$1 count=$2 i row cfg chain clock mode expect why port log got out ok
	local -a ports=() pids=()
	for ((i = first; i < first + count; i++)); do
		read -r cfg chain clock mode expect why <<< "${ROWS[$i]}"
		port=''
		new_port port
		dotd_yaml "$TMP/row$i.yml" "$port" "$mode" "${SPORT[$chain]}" "${CONFIGS[$cfg]}"
		if [[ $clock == unset ]]; then
			echo "$FAKE_DATE" > "$TMP/row$i.clock"
			start_clock_dotd "$TMP/row$i.yml" "$TMP/row$i.log" "$TMP/row$i.clock"
		else
			start_clock_dotd "$TMP/row$i.yml" "$TMP/row$i.log" -
		fi
		ports[i]=$port
		pids[i]=$DOTD_PID
	done
	for ((i = first; i < first + count; i++)); do
		read -r cfg chain clock mode expect why <<< "${ROWS[$i]}"
		log=$TMP/row$i.log
		row="$cfg (${CONFIGS[$cfg]}) x $chain, clock $clock, $mode"
		if ! wait_log "$log" "serving with" 10; then
			fail "$row: dotd starts"
			show_log "row $i" "$log"
			continue
		fi
		got=refuse
		if out=$("$PROBE" query "$HOST" "${ports[i]}" "row$i.bench" A udp NOERROR \
			192.0.2.1 2>&1); then
			got=accept
		elif ! "$PROBE" query "$HOST" "${ports[i]}" "row$i.again.bench" A udp SERVFAIL \
			> /dev/null 2>&1; then
			got=neither
		fi
		ok=1
		[[ $got == "$expect" ]] || ok=0
		if ((ok)) && [[ $expect == refuse ]]; then
			grep -qF -- "$why" "$log" || ok=0
		fi
		# The warning comes with the exemption, and only with it.
		if grep -qF -- "$EXEMPT" "$log"; then
			[[ $why == exempt ]] || ok=0
		elif [[ $why == exempt ]]; then
			ok=0
		fi
		TABLE+=("$(printf '| %-26s | %-13s | %-5s | %-15s | %-6s | %-6s | %s |' \
			"${CONFIGS[$cfg]}" "$chain" "$clock" "$mode" "$expect" "$got" "${why#-}")")
		if ((ok)); then
			pass "$row: $got${why:+ ($why)}"
		else
			fail "$row: expected $expect ($why), got $got"
			printf '%s\n' "$out" | indent
			grep -F "upstream '" "$log" | tail -n 5 | indent
		fi
		if [[ $got == accept ]]; then
			check_tickets "$row" "${pids[i]}" "$log" "$chain" "$why"
		fi
	done
	for ((i = first; i < first + count; i++)); do
		stop_dotd "${pids[i]}" 10
	done
}

for ((b = 0; b < ${#ROWS[@]}; b += BATCH)); do
	n=$((${#ROWS[@]} - b < BATCH ? ${#ROWS[@]} - b : BATCH))
	run_rows "$b" "$n"
done

echo
echo "the unset clock (configuration x chain x dotd's clock x tls_unset_clock):"
printf '| %-26s | %-13s | %-5s | %-15s | %-6s | %-6s | %s |\n' configuration chain clock \
	tls_unset_clock expect got why
printf '%s\n' "${TABLE[@]}"
echo

# --- (e) the clock is set: the exempt connection goes, a verified one replaces it ---

# expected NAME CMD...: PASS if CMD succeeds, else FAIL.
expected()
{
	local name=$1
	shift
	if "$@"; then
		pass "$name"
	else
		fail "$name"
	fi
}

# verified_after_jump LINE LOG: two full handshakes, a ticket kept from the second, and the
# exemption logged for the first only.
# shellcheck disable=SC2317 # called through expected()
verified_after_jump()
{
	local full tickets exempted
	full=$(stat_of "$1" handshakes_full) || return 1
	tickets=$(stat_of "$1" tickets) || return 1
	exempted=$(grep -cF -- "$EXEMPT" "$2" || true)
	[[ $full == 2 && $tickets -ge 1 && $exempted == 1 ]]
}

port=''
new_port port
dotd_yaml "$TMP/jump.yml" "$port" accept_pinned "${SPORT[good]}" "${CONFIGS[pin]}"
echo "$FAKE_DATE" > "$TMP/jump.clock"
start_clock_dotd "$TMP/jump.yml" "$TMP/jump.log" "$TMP/jump.clock"
pid=$DOTD_PID
if wait_answer "$port" 10 "$pid" first.jump.bench 192.0.2.1 &&
	grep -qF -- "$EXEMPT" "$TMP/jump.log"; then
	pass "jump: answered over the exempt connection, before the clock is set"
	# NTP's first step: the wall clock jumps from 2001 to now.
	echo "+0" > "$TMP/jump.clock"
	expected "jump: dotd sees the clock set and closes the exempt connection" \
		wait_log "$TMP/jump.log" "closing a connection accepted on its pin alone" 10
	check "jump: answered after the clock is set" \
		"$PROBE" query "$HOST" "$port" second.jump.bench A udp NOERROR 192.0.2.1
	line=$(upstream_stats "$pid" "$TMP/jump.log" "$HOST@${SPORT[good]}") || line=''
	echo "    jump: $line"
	expected "jump: the next answer came over a new connection verified in full" \
		verified_after_jump "$line" "$TMP/jump.log"
else
	fail "jump: answered over the exempt connection, before the clock is set"
	show_log jump "$TMP/jump.log"
fi
stop_dotd "$pid" 10

summary clock
