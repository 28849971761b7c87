#!/usr/bin/env bash
# dotd's integration test: a real unbound serving DNS-over-TLS on loopback (throwaway
# certificates from tests/certs/gen.sh), dotd in front of it, and real clients: kdig, dig and
# dotd-probe (ldns). Then the authentication failures, configuration errors, a clean stop, and
# with DOTD_VALGRIND=1 one more dotd under valgrind.
#
# usage: run.sh DOTD PROBE
#
# Prints PASS/FAIL per check and runs them all; exits 1 if any failed (at once if unbound or
# dotd cannot start). Everything lives in a temporary directory, removed on exit together with
# every process started here.
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

# write_config FILE PORT [KEY=VALUE...]: a dotd configuration for our unbound. The keys ca,
# name and pin replace the good values.
write_config()
{
	local file=$1 port=$2 ca=$TMP/pki/ca.pem name=dot.test pin kv
	pin=$(cat "$TMP/pki/server.spki")
	shift 2
	for kv in "$@"; do
		case $kv in
		ca=*) ca=${kv#ca=} ;;
		name=*) name=${kv#name=} ;;
		pin=*) pin=${kv#pin=} ;;
		*)
			echo "write_config: bad argument $kv" >&2
			return 1
			;;
		esac
	done
	cat > "$file" << EOF
# dotd configuration written by run.sh
tls_ca_file: "$ca"
listen_addresses: [$HOST@$port]
# Long enough that the one upstream connection lasts the whole test (connections=1).
idle_timeout: 30000
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "$name"
    tls_pubkey_pinset:
      - digest: "sha256"
        value: $pin
EOF
}

# --- the DoT upstream: unbound ---

start_unbound unbound
DPORT='' bad_port=''
new_port DPORT

# --- dotd with a good configuration ---

write_config "$TMP/dotd.yml" "$DPORT"
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
MAIN_PID=$DOTD_PID
wait_answer "$DPORT" 10 "$MAIN_PID" || die "dotd starts and answers (on $HOST@$DPORT)"
pass "dotd starts and answers (on $HOST@$DPORT)"

# --- kdig and dig ---

# answer_has OUTPUT NAME TYPE DATA: OUTPUT (dig/kdig) says NOERROR and has the record.
answer_has()
{
	grep -q 'status: NOERROR' <<< "$1" || return 1
	awk -v n="$2." -v t="$3" -v d="$4" '
		$1 == n && $3 == "IN" && $4 == t && index($0, d) > 0 { found = 1 }
		END { exit !found }' <<< "$1"
}

# client_check TOOL udp|tcp NAME TYPE DATA
client_check()
{
	local tool=$1 proto=$2 name=$3 type=$4 data=$5 out opts=()
	if [[ $tool == kdig ]]; then
		opts=(+time=3 +retry=0)
	else
		opts=(+time=3 +tries=1)
	fi
	[[ $proto == tcp ]] && opts+=(+tcp)
	out=$("$tool" @"$HOST" -p "$DPORT" "${opts[@]}" "$name" "$type" 2>&1) || true
	if answer_has "$out" "$name" "$type" "$data"; then
		pass "$tool $name $type over $proto: NOERROR, $data"
	else
		fail "$tool $name $type over $proto: NOERROR, $data"
		printf '%s\n' "$out" | indent
	fi
}

RECORDS=(
	"www.example A 192.0.2.80"
	"www.example AAAA 2001:db8::80"
	"mail.example MX 10 mx.example."
	'txt.example TXT "hello from the test"'
)
for tool in kdig dig; do
	for proto in udp tcp; do
		for rec in "${RECORDS[@]}"; do
			read -r name type data <<< "$rec"
			client_check "$tool" "$proto" "$name" "$type" "$data"
		done
	done
done

# The client's spelling of the name comes back, in the question and in the answer. This uses dig:
# kdig (Knot 3.2) lowers the case of the name before it sends the query.
out=$(dig @"$HOST" -p "$DPORT" +time=3 +tries=1 WwW.ExAmPlE A 2>&1) || true
if answer_has "$out" WwW.ExAmPlE A 192.0.2.80 && grep -q '^;WwW\.ExAmPlE\.[[:space:]]' <<< "$out"
then
	pass "dig WwW.ExAmPlE A: the name's case comes back"
else
	fail "dig WwW.ExAmPlE A: the name's case comes back"
	printf '%s\n' "$out" | indent
fi

# --- dotd-probe ---

for proto in udp tcp; do
	for rec in "${RECORDS[@]}" "WwW.eXaMpLe A 192.0.2.80"; do
		read -r name type data <<< "$rec"
		check "probe query $name $type over $proto" \
			"$PROBE" query "$HOST" "$DPORT" "$name" "$type" "$proto" NOERROR "$data"
	done
	check "probe query nothere.example A over $proto: NXDOMAIN" \
		"$PROBE" query "$HOST" "$DPORT" nothere.example A "$proto" NXDOMAIN
	check "probe sameid over $proto: two clients, one ID, each its own answer" \
		"$PROBE" sameid "$HOST" "$DPORT" "$proto"
done
check "probe truncation: UDP cut to 512 / EDNS 1232 with TC, TCP whole" \
	"$PROBE" truncation "$HOST" "$DPORT"
# Two queries in one TCP write: both answers at once, not the second after the probe's delayed
# ACK of the first (dotd sets TCP_NODELAY on its client connections; dotd-probe pair says why).
# The second a cache miss: its answer is written on its own, after the first's.
check "probe pair: a cached answer and a miss's, pipelined over TCP, within 20 ms" \
	"$PROBE" pair "$HOST" "$DPORT" www.example A pair.bench
# And the answers made in one read leave in one write, not one segment each.
check "probe segs: 32 cached answers to one TCP write in at most 4 segments" \
	"$PROBE" segs "$HOST" "$DPORT" 32 www.example A
# A client that sends its FIN after its queries (shutdown(SHUT_WR)) still gets every answer,
# the miss's too, and then dotd's FIN.
check "probe halfclose: a cached answer and a miss's after the client's FIN, then dotd's FIN" \
	"$PROBE" halfclose "$HOST" "$DPORT" www.example A halfclose.bench

# --- 1000 queries per transport ride the one TLS connection ---

tls_before=$(ustat unbound num.query.tls) || tls_before=
for proto in udp tcp; do
	if out=$("$PROBE" burst "$HOST" "$DPORT" 1000 "$proto" "$proto" 2>&1); then
		pass "probe burst: 1000 queries over $proto, 100 in flight (${out#ok: })"
	else
		fail "probe burst: 1000 queries over $proto, 100 in flight"
		printf '%s\n' "$out" | indent
	fi
done
tls_after=$(ustat unbound num.query.tls) || tls_after=

if line=$(upstream_stats "$MAIN_PID" "$TMP/dotd.log" "$HOST@$UPORT" 2>&1) &&
	[[ $line == *" connections=1 "* && $line == *" handshakes_full=1 "* ]]; then
	pass "dotd: one TLS connection, one full handshake (${line#*notice: })"
else
	fail "dotd: one TLS connection, one full handshake"
	printf '%s\n' "$line" | indent
fi

if [[ -n $tls_before && -n $tls_after ]] && ((tls_after - tls_before >= 2000)); then
	pass "unbound: num.query.tls grew by $((tls_after - tls_before)) (>= 2000)"
else
	fail "unbound: num.query.tls grew by >= 2000 (before '$tls_before', after '$tls_after')"
	ucontrol unbound stats_noreset 2>&1 | grep -E '^(total\.|num\.query\.tls)' | indent
fi

if command -v ss > /dev/null 2>&1; then
	conns=$(ss -Htnp state established "( dport = :$UPORT )" 2>&1) || true
	n=$(grep -c . <<< "$conns" || true)
	if ((n == 1)) && [[ $conns != *users:* || $conns == *"pid=$MAIN_PID,"* ]]; then
		pass "ss: exactly one established connection from dotd to unbound's port $UPORT"
	else
		fail "ss: exactly one established connection from dotd to unbound's port $UPORT"
		printf '%s\n' "$conns" | indent
	fi
else
	skip "ss: not installed (iproute2), connection count from ss not checked"
fi

# --- authentication failures: each on its own dotd ---

# authfail_case NAME KEY=VALUE: a dotd whose configuration differs from the good one by one value.
authfail_case()
{
	local what=$1 port cfg log line out ok=1
	new_port port
	cfg=$TMP/authfail-$port.yml
	log=$TMP/authfail-$port.log
	write_config "$cfg" "$port" "$2"
	start_dotd "$cfg" "$log"
	if ! wait_log "$log" "serving with" 10; then
		fail "$what: dotd starts"
		show_log "dotd ($what)" "$log"
		return 0
	fi
	check "$what: probe authfail: SERVFAIL, no answer, EDE" "$PROBE" authfail "$HOST" "$port"
	if line=$(upstream_stats "$DOTD_PID" "$log" "$HOST@$UPORT" 2>&1) &&
		[[ $line == *" auth_failures=1 "* && $line == *" answers=0 "* ]]; then
		pass "$what: dotd counts auth_failures=1"
	else
		fail "$what: dotd counts auth_failures=1"
		printf '%s\n' "$line" | indent
		ok=0
	fi
	out=$(dig @"$HOST" -p "$port" +time=3 +tries=1 www.example A 2>&1) || true
	if grep -q 'status: SERVFAIL' <<< "$out" && grep -q 'ANSWER: 0,' <<< "$out"; then
		pass "$what: dig gets SERVFAIL with ANSWER: 0"
	else
		fail "$what: dig gets SERVFAIL with ANSWER: 0"
		printf '%s\n' "$out" | indent
		ok=0
	fi
	stop_dotd "$DOTD_PID" 10
	if ((STOP_STATUS == 0)); then
		pass "$what: SIGTERM, exit status 0"
	else
		fail "$what: SIGTERM, exit status 0 (got $STOP_STATUS)"
		ok=0
	fi
	((ok)) || show_log "dotd ($what)" "$log"
}

authfail_case "wrong pin (the RSA key's)" "pin=$(cat "$TMP/pki/rsa.spki")"
authfail_case "wrong name (wrong.test)" "name=wrong.test"
authfail_case "unknown CA (other-ca.pem)" "ca=$TMP/pki/other-ca.pem"

# --- configuration errors: exit status 2, nothing started ---

# config_error NAME FILE EXPECT: dotd -C FILE exits 2 and its stderr contains EXPECT.
config_error()
{
	local what=$1 file=$2 expect=$3 out st=0
	out=$(timeout 10 "$DOTD" -C "$file" 2>&1) || st=$?
	if ((st == 2)) && grep -qF -- "$expect" <<< "$out"; then
		pass "$what: exit status 2, '$expect'"
	else
		fail "$what: exit status 2 (got $st), '$expect'"
		printf '%s\n' "$out" | indent
	fi
}

new_port bad_port
write_config "$TMP/bad-key.yml" "$bad_port"
# Line 2 of the file, between the comment and tls_ca_file.
sed -i '1a no_such_key: 1' "$TMP/bad-key.yml"
config_error "config error: unknown key" "$TMP/bad-key.yml" "$TMP/bad-key.yml:2: key 'no_such_key'"
write_config "$TMP/bad-transport.yml" "$bad_port"
echo "dns_transport_list: [GETDNS_TRANSPORT_UDP]" >> "$TMP/bad-transport.yml"
line=$(wc -l < "$TMP/bad-transport.yml")
config_error "config error: dns_transport_list UDP" "$TMP/bad-transport.yml" \
	"$TMP/bad-transport.yml:$line: key 'dns_transport_list'"

# --- the main dotd stops cleanly ---

stop_dotd "$MAIN_PID" 10
if ((STOP_STATUS == 0)) && ! grep -q "handles left open" "$TMP/dotd.log"; then
	pass "dotd: SIGTERM, exit status 0, no handles left open"
else
	fail "dotd: SIGTERM, exit status 0 (got $STOP_STATUS), no handles left open"
fi

# --- valgrind ---

# vg_run: one more dotd under valgrind's memcheck, a few queries, a clean stop, no errors.
vg_run()
{
	local port log=$TMP/valgrind.log pid
	new_port port
	write_config "$TMP/valgrind.yml" "$port"
	start_dotd "$TMP/valgrind.yml" "$TMP/valgrind-dotd.log" valgrind --leak-check=full \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		--show-leak-kinds=definite,indirect,possible --log-file="$log"
	pid=$DOTD_PID
	if wait_answer "$port" 30 "$pid"; then
		pass "valgrind: dotd starts and answers"
		check "valgrind: query A over udp" \
			"$PROBE" query "$HOST" "$port" www.example A udp NOERROR 192.0.2.80
		check "valgrind: query AAAA over tcp" \
			"$PROBE" query "$HOST" "$port" www.example AAAA tcp NOERROR 2001:db8::80
		check "valgrind: query MX over udp" \
			"$PROBE" query "$HOST" "$port" mail.example MX udp NOERROR "10 mx.example."
		check "valgrind: query TXT over tcp" "$PROBE" query "$HOST" "$port" \
			txt.example TXT tcp NOERROR "hello from the test"
		check "valgrind: truncation" "$PROBE" truncation "$HOST" "$port"
		check "valgrind: burst of 200 over udp" "$PROBE" burst "$HOST" "$port" 200 udp
		check "valgrind: burst of 200 over tcp" "$PROBE" burst "$HOST" "$port" 200 tcp tcp
	else
		fail "valgrind: dotd starts and answers (within 30 s)"
	fi
	stop_dotd "$pid" 30
	if ((STOP_STATUS == 0)) && grep -q "ERROR SUMMARY: 0 errors" "$log"; then
		pass "valgrind: SIGTERM, exit status 0, ERROR SUMMARY: 0 errors"
	else
		fail "valgrind: SIGTERM, exit status 0 (got $STOP_STATUS), ERROR SUMMARY: 0 errors"
		show_log "dotd under valgrind" "$TMP/valgrind-dotd.log" 20
		show_log "valgrind" "$log" 200
	fi
}

if [[ ${DOTD_VALGRIND:-0} == 1 ]]; then
	if command -v valgrind > /dev/null 2>&1; then
		vg_run
	else
		skip "valgrind: not installed"
	fi
fi

# --- privileges: user:, and CAP_NET_BIND_SERVICE without root ---

if (($(id -u) == 0)); then
	uport=''
	new_port uport
	write_config "$TMP/user.yml" "$uport"
	echo "user: nobody" >> "$TMP/user.yml"
	start_dotd "$TMP/user.yml" "$TMP/user.log"
	if wait_answer "$uport" 10 "$DOTD_PID"; then
		uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$DOTD_PID/status")
		if [[ $uid == "65534 65534 65534 65534" ]]; then
			pass "user: nobody: root dropped after binding (Uid $uid), still answering"
		else
			fail "user: nobody: root dropped after binding (Uid $uid)"
		fi
	else
		fail "user: nobody: dotd starts and answers"
		show_log "user" "$TMP/user.log"
	fi
	stop_dotd "$DOTD_PID" 10
	sed -i 's/^user: nobody$/user: no-such-user-here/' "$TMP/user.yml"
	set +e
	timeout 10 "$DOTD" -C "$TMP/user.yml" > "$TMP/nouser.log" 2>&1
	st=$?
	set -e
	if ((st == 1)) && grep -q "no-such-user-here" "$TMP/nouser.log"; then
		pass "user: an unknown user: dotd refuses to go on (exit 1)"
	else
		fail "user: an unknown user: dotd refuses to go on (exit $st)"
		indent < "$TMP/nouser.log"
	fi
	# The trust anchors are read by the first upstream connection, after root is gone: a CA
	# file only root can read is refused at start, not found out by the first query.
	install -m 600 "$TMP/pki/ca.pem" "$TMP/root-ca.pem"
	write_config "$TMP/rootca.yml" "$uport" ca="$TMP/root-ca.pem"
	echo "user: nobody" >> "$TMP/rootca.yml"
	set +e
	timeout 10 "$DOTD" -C "$TMP/rootca.yml" > "$TMP/rootca.log" 2>&1
	st=$?
	set -e
	if ((st == 1)) && grep -q -F "tls_ca_file '$TMP/root-ca.pem' cannot be read by user 'nobody'" \
		"$TMP/rootca.log"; then
		pass "user: nobody, a CA file only root can read: dotd refuses to start (exit 1)"
	else
		fail "user: nobody, a CA file only root can read: dotd refuses to start (exit $st)"
		indent < "$TMP/rootca.log"
	fi
	# As systemd runs it (etc/dotd.service): no root, only CAP_NET_BIND_SERVICE, port < 1024.
	if command -v setpriv > /dev/null 2>&1; then
		lowport=''
		for p in 953 954 955 956 957; do
			if ! ss -Hlnu "( sport = :$p )" | grep -q . &&
				! ss -Hlnt "( sport = :$p )" | grep -q .; then
				lowport=$p
				break
			fi
		done
		write_config "$TMP/cap.yml" "${lowport:-953}"
		chmod -R a+rX "$TMP"
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
			--inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
			--bounding-set=-all,+net_bind_service \
			"$DOTD" -v 6 -C "$TMP/cap.yml" > "$TMP/cap.log" 2>&1 &
		cap_pid=$!
		PIDS+=("$cap_pid")
		if wait_answer "${lowport:-953}" 10 "$cap_pid"; then
			pass "no root, CAP_NET_BIND_SERVICE only: binds port ${lowport:-953} and answers"
		else
			fail "no root, CAP_NET_BIND_SERVICE only: binds port ${lowport:-953} and answers"
			show_log "cap" "$TMP/cap.log"
		fi
		stop_dotd "$cap_pid" 10
	else
		skip "setpriv not installed"
	fi
else
	skip "privileges: not root"
fi

# --- summary ---

summary integration
