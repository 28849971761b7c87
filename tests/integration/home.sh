#!/usr/bin/env bash
# The home network, against real parts: a real unbound serving DoT on loopback (the public
# upstream) and a second real unbound serving a "lan." zone over plain DNS on loopback (the
# router). unbound's own counters prove what reached which:
#   - router.lan goes to the LAN resolver and never to the DoT upstream; cached under its zone
#   - special-use names (localhost, home.arpa, local, resolver.arpa, RFC 1918 and fe80::
#     reverse zones) are answered here, with their SOA, and reach neither unbound
#   - the hosts file: A, AAAA, PTR (also for a 192.168/16 address, which the special-use
#     reverse zone would otherwise answer NXDOMAIN); an edit is picked up without a reload
#   - block lists in three formats: a blocked domain and its subdomain answered with EDE 15,
#     an allow-listed subdomain resolved; block_answer null; a reload swaps the lists
#   - upstreams written the short way (tls://127.0.0.1:PORT#dot.test); a host name upstream is
#     never looked up through a forward zone's plain server
#
# usage: home.sh DOTD PROBE DOTD-CTL
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

SOCK=$TMP/control.sock

# start_lan NAME: unbound serving "lan." over plain DNS on a free loopback port; sets LPORT.
start_lan()
{
	local name=$1 cport='' deadline
	LPORT=''
	new_port LPORT
	new_port cport
	cat > "$TMP/$name.conf" << EOF
server:
  directory: "$TMP"
  chroot: ""
  username: ""
  pidfile: "$TMP/$name.pid"
  do-daemonize: no
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  interface: $HOST@$LPORT
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  statistics-cumulative: yes
  extended-statistics: yes
  msg-cache-size: 0
  rrset-cache-size: 0
  local-zone: "lan." static
  local-data: "lan. 3600 IN SOA router.lan. admin.lan. 1 3600 900 604800 60"
  local-data: "router.lan. 300 IN A 192.168.1.1"
  local-data: "printer.lan. 300 IN A 192.168.1.20"
  local-zone: "." refuse
remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: $HOST
  control-port: $cport
EOF
	unbound -d -c "$TMP/$name.conf" > "$TMP/$name.log" 2>&1 &
	PIDS+=("$!")
	deadline=$((SECONDS + 10))
	until unbound-control -c "$TMP/$name.conf" status > /dev/null 2>&1; do
		((SECONDS < deadline)) || die "$name starts (plain DNS on $HOST@$LPORT)"
		sleep 0.1
	done
	pass "$name starts (plain DNS on $HOST@$LPORT)"
}

# counts: "DOT LAN", unbound's query counters.
counts()
{
	echo "$(ustat unbound total.num.queries) $(ustat lan total.num.queries)"
}

# ans NAME TYPE: the probe's "rcode=... ttl=... ede=..." line for NAME over UDP (ttl is the
# first answer record's, -1 when there is none).
ans()
{
	"$PROBE" ttl "$HOST" "$DPORT" "$1" "$2" 2>&1 || true
}

start_unbound unbound '  local-data: "ok.ads.example. 300 IN A 192.0.2.77"
  local-data: "ads.example. 300 IN A 192.0.2.66"
  local-data: "tracker.example. 300 IN A 192.0.2.67"'
UP=$UPORT
start_lan lan

cat > "$TMP/hosts" << 'EOF'
# a hosts file
192.168.1.50   nas.home nas   # the NAS, also on the LAN
2001:db8::50   nas.home
192.0.2.10     printer.example
EOF
printf '0.0.0.0 ads.example\n127.0.0.1 localhost\n' > "$TMP/hosts-format.txt"
printf '# one domain per line\ntracker.example\n' > "$TMP/domains.txt"
printf '! adblock\n||metrics.example^\n' > "$TMP/adblock.txt"
printf 'ok.ads.example\n' > "$TMP/allow.txt"

DPORT=''
new_port DPORT
write_cfg()
{
	cat > "$TMP/dotd.yml" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
control_socket: "$SOCK"
listen_addresses: [$HOST@$DPORT]
hosts_file: "$TMP/hosts"
blocklists: ["$TMP/hosts-format.txt", "$TMP/domains.txt", "$TMP/adblock.txt"]
allowlists: ["$TMP/allow.txt"]
block_answer: ${1:-nxdomain}
upstream_recursive_servers:
  - "tls://$HOST:$UP#dot.test"
forward_zones:
  - zone: lan
    plain: [$HOST@$LPORT]
EOF
}
write_cfg
start_dotd "$TMP/dotd.yml" "$TMP/dotd.log"
wait_answer "$DPORT" 10 "$DOTD_PID" || die "dotd starts and answers over tls:// (www.example)"
pass "dotd starts and answers over tls:// (www.example)"

# --- the LAN zone goes to the LAN resolver only ---

read -r dot0 lan0 <<< "$(counts)"
check "router.lan from the LAN resolver" "$PROBE" query "$HOST" "$DPORT" router.lan A udp \
	NOERROR 192.168.1.1
check "router.lan again (TCP)" "$PROBE" query "$HOST" "$DPORT" router.lan A tcp NOERROR \
	192.168.1.1
read -r dot1 lan1 <<< "$(counts)"
expect "router.lan" "the LAN resolver asked once (then the cache), the DoT upstream never" \
	"DoT $dot0 -> $dot1, LAN $lan0 -> $lan1" '((dot1 == dot0 && lan1 == lan0 + 1))'

# --- special-use names never leave ---

l=$(ans nas.home.arpa A)
expect "home.arpa" "NXDOMAIN ($l)" "$l" '[[ $l == "rcode=NXDOMAIN ttl=-1 ede=none" ]]'
l=$(ans 1.1.168.192.in-addr.arpa PTR)
expect "PTR of 192.168.1.1" "NXDOMAIN here ($l)" "$l" '[[ $l == "rcode=NXDOMAIN "* ]]'
l=$(ans 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa PTR)
expect "PTR of fe80::1" "NXDOMAIN here ($l)" "$l" '[[ $l == "rcode=NXDOMAIN "* ]]'
check "localhost" "$PROBE" query "$HOST" "$DPORT" localhost A udp NOERROR 127.0.0.1
check "x.localhost AAAA" "$PROBE" query "$HOST" "$DPORT" x.localhost AAAA udp NOERROR ::1
l=$(ans printer.local A)
expect "printer.local" "NXDOMAIN (mDNS names never go to unicast DNS) ($l)" "$l" \
	'[[ $l == "rcode=NXDOMAIN "* ]]'
l=$(ans resolver.arpa SVCB)
expect "resolver.arpa" "NODATA ($l)" "$l" '[[ $l == "rcode=NOERROR ttl=-1 ede=none" ]]'
if out=$(dig +norecurse +tries=1 +time=3 @"$HOST" -p "$DPORT" nas.home.arpa A 2>&1) &&
	[[ $out == *"status: NXDOMAIN"* && $out == *"home.arpa."*"SOA"*"nobody.invalid."* ]]; then
	pass "dig: home.arpa NXDOMAIN carries home.arpa's SOA"
else
	fail "dig: home.arpa NXDOMAIN carries home.arpa's SOA"
	indent <<< "$out"
fi

# --- the hosts file ---

check "hosts: nas.home A" "$PROBE" query "$HOST" "$DPORT" NAS.home A udp NOERROR 192.168.1.50
check "hosts: nas AAAA" "$PROBE" query "$HOST" "$DPORT" nas.home AAAA udp NOERROR 2001:db8::50
check "hosts: PTR of 192.168.1.50 (before the special-use zone)" \
	"$PROBE" query "$HOST" "$DPORT" 50.1.168.192.in-addr.arpa PTR udp NOERROR nas.home
check "hosts: printer.example overrides DNS" \
	"$PROBE" query "$HOST" "$DPORT" printer.example A udp NOERROR 192.0.2.10

read -r dot2 lan2 <<< "$(counts)"
expect "special-use and hosts names" "reached neither unbound" \
	"DoT $dot1 -> $dot2, LAN $lan1 -> $lan2" '((dot2 == dot1 && lan2 == lan1))'

# An edit is picked up without a reload, also when the file is replaced as editors do.
echo "192.0.2.99 newhost.home" >> "$TMP/hosts"
ok=0
for ((i = 0; i < 30; i++)); do
	if "$PROBE" query "$HOST" "$DPORT" newhost.home A udp NOERROR 192.0.2.99 > /dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
expect "hosts: an appended line" "answered within 3 s, no reload" "" '((ok == 1))'
grep -v newhost "$TMP/hosts" > "$TMP/hosts.new"
echo "192.0.2.98 renamed.home" >> "$TMP/hosts.new"
mv "$TMP/hosts.new" "$TMP/hosts"
ok=0
for ((i = 0; i < 30; i++)); do
	if "$PROBE" query "$HOST" "$DPORT" renamed.home A udp NOERROR 192.0.2.98 > /dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
expect "hosts: the file replaced by rename" "the new name answered within 3 s" "" '((ok == 1))'

# --- block lists ---

read -r dot3 _ <<< "$(counts)"
for n in ads.example sub.ads.example tracker.example a.b.metrics.example; do
	l=$(ans "$n" A)
	expect "blocked: $n" "NXDOMAIN with EDE 15 ($l)" "$l" \
		'[[ $l == "rcode=NXDOMAIN ttl=-1 ede=15" ]]'
done
if out=$(dig +tries=1 +time=3 @"$HOST" -p "$DPORT" x.tracker.example A 2>&1) &&
	[[ $out == *"status: NXDOMAIN"* && $out == *"EDE: 15 (Blocked)"* &&
		$out =~ x\.tracker\.example\.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA ]]; then
	pass "dig: a blocked name's NXDOMAIN carries EDE 15 and an SOA with TTL 60"
else
	fail "dig: a blocked name's NXDOMAIN carries EDE 15 and an SOA with TTL 60"
	indent <<< "$out"
fi
read -r dot4 _ <<< "$(counts)"
expect "blocked names" "never reached the DoT upstream" "DoT $dot3 -> $dot4" '((dot4 == dot3))'
check "allow-listed ok.ads.example resolves" "$PROBE" query "$HOST" "$DPORT" ok.ads.example A \
	udp NOERROR 192.0.2.77
check "localhost in a hosts-format block list is not blocked" \
	"$PROBE" query "$HOST" "$DPORT" localhost A udp NOERROR 127.0.0.1
l=$(ans bads.example A)
expect "a name beside a blocked one (bads.example)" "not blocked: unbound's own NXDOMAIN ($l)" \
	"$l" '[[ $l == "rcode=NXDOMAIN "* && $l != *"ede=15" ]]'

out=$("$CTL" -s "$SOCK" stats 2>&1 || true)
b=$(awk '$1 == "blocked" { print $2 }' <<< "$out")
h=$(awk -v k="list_blocked{list=\"$TMP/hosts-format.txt\"}" '$1 == k { print $2 }' <<< "$out")
e=$(awk -v k="list_entries{list=\"$TMP/domains.txt\"}" '$1 == k { print $2 }' <<< "$out")
s=$(awk '$1 == "special_answers" { print $2 }' <<< "$out")
expect "statistics" "blocked 5, 2 by the hosts-format list, 1 entry in domains.txt, special answers counted" \
	"blocked=$b hosts-format=$h domains=$e special=$s" \
	'[[ $b == 5 && $h == 2 && $e == 1 && $s -ge 8 ]]'

# A reload swaps the lists (read off the loop) and block_answer: null.
printf 'www.example\n' > "$TMP/domains.txt"
write_cfg null
out=$("$CTL" -s "$SOCK" reload 2>&1) && st=0 || st=$?
ok=0
# ok is read by expect's eval, which shellcheck cannot see.
# shellcheck disable=SC2034
for ((i = 0; i < 30; i++)); do
	l=$(ans www.example A)
	if [[ $l == "rcode=NOERROR ttl=60 ede=15" ]]; then
		ok=1
		break
	fi
	sleep 0.1
done
expect "reload: the new list in force, block_answer null" "www.example 0.0.0.0 with EDE 15 ($l)" \
	"$out" '((st == 0 && ok == 1))'
check "block_answer null: A is 0.0.0.0" "$PROBE" query "$HOST" "$DPORT" www.example A udp \
	NOERROR 0.0.0.0
check "reload: tracker.example no longer blocked" "$PROBE" query "$HOST" "$DPORT" \
	tracker.example A udp NOERROR 192.0.2.67

stop_dotd "$DOTD_PID" 10
expect "clean stop" "status 0" "status $STOP_STATUS" '((STOP_STATUS == 0))'

# A host name upstream is never looked up through a forward zone's plain server: with the only
# DoT upstream that has an address refusing connections, the name stays unresolved, and the
# LAN resolver is not asked for it (it would see the name in clear text).
DEAD=''
new_port DEAD
DPORT=''
new_port DPORT
cat > "$TMP/host.yml" << EOF
tls_ca_file: "$TMP/pki/ca.pem"
control_socket: "$SOCK"
listen_addresses: [$HOST@$DPORT]
upstream_recursive_servers:
  - "tls://$HOST:$DEAD#dot.test"
  - "tls://dot.test:$UP"
forward_zones:
  - zone: lan
    plain: [$HOST@$LPORT]
EOF
read -r _ lan5 <<< "$(counts)"
start_dotd "$TMP/host.yml" "$TMP/host.log"
wait_log "$TMP/host.log" "serving with" 10 || true
sleep 2
read -r _ lan6 <<< "$(counts)"
out=$("$CTL" -s "$SOCK" upstreams 2>&1 || true)
expect "a host name upstream and a plain forward zone" \
	"the name not asked of the LAN resolver (LAN $lan5 -> $lan6), still resolving" "$out" \
	'((lan6 == lan5)) && [[ $out == *"dot.test@$UP"*"state=resolving"* ]]'
stop_dotd "$DOTD_PID" 10
summary home
