#!/usr/bin/env bash
# dotd's authentication matrix through real handshakes (docs/ARCHITECTURE.md, "Authentication").
#
# A PKI of its own, made here with openssl: a root, two intermediates under it, leaves for the
# right name, another name, wildcards, an expired one, names that are no names, one under an
# untrusted root, an unrelated CA, and a forged intermediate. Each chain is served by its own
# dotd-fakeup (it sends the chain file in the order written), and each row of the matrix is a
# dotd with one upstream, one configuration, one query: NOERROR (accept) or SERVFAIL (refuse),
# and the log must say why. Then: a forged intermediate must not plant itself in the trust
# store, and sessions of unauthenticated connections are never resumed.
#
# usage: auth.sh DOTD PROBE FAKEUP
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE FAKEUP" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
FAKEUP=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

PKI=$TMP/apki

# --- the PKI ---

# shellcheck source=tests/integration/pki.sh
. "$HERE/pki.sh"

make_auth_pki()
{
	local skid
	pki_init
	root root "/CN=dotd auth root"
	issue int1 root int_ext "/CN=dotd auth intermediate 1"
	issue int2 root int_ext "/CN=dotd auth intermediate 2"
	issue leaf1 int1 leaf_ext "/CN=dot.test" "DNS:dot.test, IP:127.0.0.1"
	issue leaf2 int2 leaf_ext "/CN=dot.test" "DNS:dot.test"
	issue other int1 leaf_ext "/CN=other.test" "DNS:other.test"
	issue wild int1 leaf_ext "/CN=*.test" "DNS:*.test"
	issue wild3 int1 leaf_ext "/CN=*.dns.test" "DNS:*.dns.test"
	issue cnonly int1 leaf_ext "/CN=dot.test" "DNS:dot.test-other"
	issue nosan int1 leaf_ext "/CN=dot.test"
	issue ipdns int1 leaf_ext "/CN=127.0.0.1" "DNS:127.0.0.1, DNS:*.0.0.1"
	root uroot "/CN=dotd untrusted root"
	issue uleaf uroot leaf_ext "/CN=dot.test" "DNS:dot.test"
	root unrelated "/CN=dotd unrelated CA"
	# Expired: openssl 3.0's x509 cannot date a certificate in the past; ca can.
	key expired
	ossl req -new -config "$PKI/openssl.cnf" -key "$PKI/expired.key" -subj "/CN=dot.test" \
		-out "$PKI/expired.csr"
	mkdir -p "$PKI/ca.db"
	: > "$PKI/ca.db/index"
	openssl rand -hex 8 > "$PKI/ca.db/serial"
	cat > "$PKI/ca.cnf" << EOF
[ca]
default_ca = int1
[int1]
database = $PKI/ca.db/index
new_certs_dir = $PKI/ca.db
serial = $PKI/ca.db/serial
certificate = $PKI/int1.pem
private_key = $PKI/int1.key
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
	ossl ca -batch -config "$PKI/ca.cnf" -in "$PKI/expired.csr" -out "$PKI/expired.pem" \
		-startdate 20200101000000Z -enddate 20200201000000Z -notext
	# Forged: the root's name and key identifier, another key. Its "intermediate" names the
	# root as issuer but carries a signature the root never made.
	skid=$(openssl x509 -in "$PKI/root.pem" -noout -ext subjectKeyIdentifier |
		sed -n '2{s/^ *//;p}')
	root fakeroot "/CN=dotd auth root" "$skid"
	issue forged fakeroot int_ext "/CN=dotd forged intermediate"
	issue fleaf forged leaf_ext "/CN=dot.test" "DNS:dot.test"
	local f
	for f in root int1 int2 leaf1 unrelated uleaf; do
		spki "$PKI/$f.pem" > "$PKI/$f.spki"
	done
	unset OPENSSL_CONF
}

if out=$(set -e; make_auth_pki 2>&1) && [[ -s $PKI/fleaf.pem ]]; then
	pass "authentication PKI (openssl)"
else
	printf '%s\n' "$out" | indent
	die "authentication PKI (openssl)"
fi

# --- the servers: one dotd-fakeup per chain ---

declare -A CHAIN_CERTS=(
	[right]="leaf1 int1"
	[right-dot]="leaf1 int1"
	[right-ip]="leaf1 int1"
	[appended]="leaf2 int2 int1 unrelated"
	[wrong-order]="leaf1 root int1"
	[leaf-alone]="leaf1"
	[other-name]="other int1"
	[wildcard-1]="wild int1"
	[wildcard-3]="wild3 int1"
	[expired]="expired int1"
	[untrusted]="uleaf uroot"
	[cn-only]="cnonly int1"
	[no-san]="nosan int1"
	[ip-as-dns]="ipdns int1"
	[forged]="fleaf forged"
	[forged-leaf]="fleaf"
)
declare -A SPORT=()

# serve CHAIN [SWITCHES...]: a dotd-fakeup presenting CHAIN; sets SPORT[CHAIN].
serve()
{
	local chain=$1 port='' c leaf
	shift
	read -r leaf _ <<< "${CHAIN_CERTS[$chain]}"
	: > "$PKI/chain-$chain.pem"
	for c in ${CHAIN_CERTS[$chain]}; do
		cat "$PKI/$c.pem" >> "$PKI/chain-$chain.pem"
	done
	new_port port
	"$FAKEUP" --port "$port" --cert "$PKI/chain-$chain.pem" --key "$PKI/$leaf.key" "$@" \
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

# --- the matrix ---

# upstream_yaml PORT CONFIG: one upstream entry. CONFIG is words: name=N, pin=CERT (its SPKI).
upstream_yaml()
{
	local port=$1 w
	echo "  - address_data: $HOST"
	echo "    tls_port: $port"
	for w in $2; do
		case $w in
		name=*) echo "    tls_auth_name: \"${w#name=}\"" ;;
		esac
	done
	if [[ $2 == *pin=* ]]; then
		echo "    tls_pubkey_pinset:"
		for w in $2; do
			case $w in
			pin=*)
				echo "      - digest: \"sha256\""
				echo "        value: $(cat "$PKI/${w#pin=}.spki")"
				;;
			esac
		done
	fi
}

# dotd_yaml FILE LISTEN-PORT EXTRA ENTRIES
dotd_yaml()
{
	cat > "$1" << EOF
tls_ca_file: "$PKI/root.pem"
listen_addresses: [$HOST@$2]
idle_timeout: 30000
$3
upstream_recursive_servers:
$4
EOF
}

declare -A CONFIGS=(
	[name]="name=dot.test"
	[pin-leaf]="pin=leaf1"
	[pin-ca]="pin=int1"
	[name+pin-ca]="name=dot.test pin=int1"
	[pin-unrelated]="pin=unrelated"
	[pin-root]="pin=root"
	[pin-uleaf]="pin=uleaf"
	[name-dot]="name=dot.test."
	[name-3]="name=dot.dns.test"
	[name-ip]="name=127.0.0.1"
)

# The rows: CONFIG CHAIN accept|refuse WHY (a text the log must have; for accept, the log of
# the server must have it, "-" for nothing).
ROWS=(
	"name right accept -"
	"name appended accept -"
	"name wrong-order accept -"
	"name leaf-alone refuse unknown issuer"
	"pin-leaf right accept -"
	"pin-leaf appended refuse no key in the certificate chain matches"
	"pin-leaf wrong-order accept -"
	"pin-leaf leaf-alone accept -"
	"pin-ca right accept -"
	"pin-ca appended refuse does not sign the server's certificate"
	"pin-ca wrong-order accept -"
	"pin-ca leaf-alone refuse no key in the certificate chain matches"
	"name+pin-ca right accept -"
	"name+pin-ca appended refuse does not sign the server's certificate"
	"name+pin-ca wrong-order accept -"
	"name+pin-ca leaf-alone refuse unknown issuer"
	"pin-unrelated right refuse no key in the certificate chain matches"
	"pin-unrelated appended refuse does not sign the server's certificate"
	"pin-unrelated wrong-order refuse no key in the certificate chain matches"
	"pin-unrelated leaf-alone refuse no key in the certificate chain matches"
	"pin-root right accept -"
	"pin-root appended accept -"
	"pin-root wrong-order accept -"
	"pin-root leaf-alone refuse no key in the certificate chain matches"
	"name other-name refuse name mismatch"
	"name wildcard-1 refuse name mismatch"
	"name-3 wildcard-3 accept -"
	"name expired refuse certificate expired"
	"name untrusted refuse unknown issuer"
	"pin-uleaf untrusted accept -"
	"name cn-only refuse name mismatch"
	"name no-san refuse has no subjectAltName"
	"name-dot right-dot accept sni 'dot.test'"
	"name-ip right-ip accept sni ''"
	"name-ip ip-as-dns refuse name mismatch"
)

TABLE=()
BATCH=8

# run_rows FIRST COUNT: start a dotd per row, then query each and check its verdict.
run_rows()
{
	local first=$1 count=$2 i row cfg chain expect why port log pid got out ok
	local -a ports=() pids=()
	for ((i = first; i < first + count; i++)); do
		read -r cfg chain expect why <<< "${ROWS[$i]}"
		port=''
		new_port port
		dotd_yaml "$TMP/row$i.yml" "$port" "" \
			"$(upstream_yaml "${SPORT[$chain]}" "${CONFIGS[$cfg]}")"
		start_dotd "$TMP/row$i.yml" "$TMP/row$i.log"
		ports[i]=$port
		pids[i]=$DOTD_PID
	done
	for ((i = first; i < first + count; i++)); do
		read -r cfg chain expect why <<< "${ROWS[$i]}"
		log=$TMP/row$i.log
		row="$cfg (${CONFIGS[$cfg]}) x $chain"
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
			got="neither"
		fi
		ok=1
		[[ $got == "$expect" ]] || ok=0
		if ((ok)) && [[ $why != - ]]; then
			if [[ $expect == refuse ]]; then
				grep -qF -- "$why" "$log" || ok=0
			else
				grep -qF -- "$why" "$TMP/fakeup-$chain.err" || ok=0
			fi
		fi
		TABLE+=("$(printf '| %-30s | %-11s | %-6s | %-6s | %s |' "${CONFIGS[$cfg]}" \
			"$chain" "$expect" "$got" "${why#-}")")
		[[ $why == - ]] && why=''
		if ((ok)); then
			pass "$row: $got${why:+ ($why)}"
		else
			fail "$row: expected $expect${why:+ ($why)}, got $got"
			printf '%s\n' "$out" | indent
			grep -F "upstream '" "$log" | tail -n 5 | indent
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
echo "authentication matrix (configuration x chain the server presents):"
printf '| %-30s | %-11s | %-6s | %-6s | %s |\n' configuration chain expect got why
printf '|%s|%s|%s|%s|%s|\n' "$(printf '%32s' '' | tr ' ' -)" "$(printf '%13s' '' | tr ' ' -)" \
	"$(printf '%8s' '' | tr ' ' -)" "$(printf '%8s' '' | tr ' ' -)" "-----"
printf '%s\n' "${TABLE[@]}"
echo

# --- a refused intermediate must not become a trust anchor ---

# The first upstream presents the forged intermediate; wolfSSL must not keep it (it would if
# the verify callback let it through). The second presents the leaf alone: it must still be
# refused, so the query fails.
port=''
new_port port
dotd_yaml "$TMP/forged.yml" "$port" "round_robin_upstreams: 0" \
	"$(upstream_yaml "${SPORT[forged]}" "name=dot.test")
$(upstream_yaml "${SPORT[forged-leaf]}" "name=dot.test")"
start_dotd "$TMP/forged.yml" "$TMP/forged.log"
pid=$DOTD_PID
if wait_log "$TMP/forged.log" "serving with" 10; then
	check "forged intermediate, then its leaf alone: SERVFAIL" \
		"$PROBE" query "$HOST" "$port" forged.bench A udp SERVFAIL
	if grep -qF "signature failure" "$TMP/forged.log"; then
		pass "forged intermediate: the log says 'signature failure'"
	else
		fail "forged intermediate: the log says 'signature failure'"
		grep -F "upstream '" "$TMP/forged.log" | indent
	fi
else
	fail "forged: dotd starts"
fi
stop_dotd "$pid" 10

# --- sessions of unauthenticated connections are never resumed ---

# Opportunistic profile, a chain that cannot be authenticated, the server closing idle
# connections after 300 ms: the second connection must be a full handshake, under TLS 1.3 (the
# ticket comes after the handshake) and TLS 1.2 (the session is made during it).
CHAIN_CERTS[untrusted-12]=${CHAIN_CERTS[untrusted]}
CHAIN_CERTS[untrusted-13]=${CHAIN_CERTS[untrusted]}
serve untrusted-12 --tls12-only --idle-close 300
serve untrusted-13 --idle-close 300
for v in 12 13; do
	chain=untrusted-$v
	what="opportunistic TLS 1.${v#1}"
	wait_log "$TMP/fakeup-$chain.out" listening 10 || die "dotd-fakeup $chain"
	port=''
	new_port port
	dotd_yaml "$TMP/opp$v.yml" "$port" "tls_authentication: GETDNS_AUTHENTICATION_NONE" \
		"$(upstream_yaml "${SPORT[$chain]}" "name=dot.test")"
	start_dotd "$TMP/opp$v.yml" "$TMP/opp$v.log"
	pid=$DOTD_PID
	if ! wait_answer "$port" 10 "$pid" "first.$v.bench" 192.0.2.1; then
		fail "$what: dotd answers"
		stop_dotd "$pid" 10
		continue
	fi
	sleep 0.6
	check "$what: a query after the server's idle close" \
		"$PROBE" query "$HOST" "$port" "second.$v.bench" A udp NOERROR 192.0.2.1
	line=$(upstream_stats "$pid" "$TMP/opp$v.log" "$HOST@${SPORT[$chain]}")
	echo "    $what: $line"
	tickets=$(stat_of "$line" tickets) || tickets='?'
	resumed=$(stat_of "$line" handshakes_resumed) || resumed='?'
	full=$(stat_of "$line" handshakes_full) || full='?'
	if [[ $tickets == 0 && $resumed == 0 && $full == 2 ]]; then
		pass "$what: no ticket kept from an unauthenticated connection"
	else
		fail "$what: no ticket kept (tickets=$tickets resumed=$resumed full=$full)"
	fi
	stop_dotd "$pid" 10
done

# And the other side: a TLS 1.2 session made during an authenticated handshake is held, stored
# once the connection is READY, and resumed.
CHAIN_CERTS[right-12]=${CHAIN_CERTS[right]}
serve right-12 --tls12-only --idle-close 300
wait_log "$TMP/fakeup-right-12.out" listening 10 || die "dotd-fakeup right-12"
port=''
new_port port
dotd_yaml "$TMP/strict12.yml" "$port" "" "$(upstream_yaml "${SPORT[right-12]}" "name=dot.test")"
start_dotd "$TMP/strict12.yml" "$TMP/strict12.log"
pid=$DOTD_PID
if wait_answer "$port" 10 "$pid" first.strict12.bench 192.0.2.1; then
	sleep 0.6
	check "strict TLS 1.2: a query after the server's idle close" \
		"$PROBE" query "$HOST" "$port" second.strict12.bench A udp NOERROR 192.0.2.1
	line=$(upstream_stats "$pid" "$TMP/strict12.log" "$HOST@${SPORT[right-12]}")
	echo "    strict TLS 1.2: $line"
	resumed=$(stat_of "$line" handshakes_resumed) || resumed=0
	if ((resumed >= 1)); then
		pass "strict TLS 1.2: the session held during the handshake is resumed"
	else
		fail "strict TLS 1.2: the session held during the handshake is resumed"
	fi
else
	fail "strict TLS 1.2: dotd answers"
fi
stop_dotd "$pid" 10

summary auth
