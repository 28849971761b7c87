#!/usr/bin/env bash
# dotd under network changes (issue 11), in network namespaces made here, with real unbounds
# serving DoT on the far side. The events, each with one upstream and then with two:
#   renumber      dotd's address replaced, the new one added before the old is removed (as
#                 DHCP does)
#   route         the default route replaced by one through a second link, whose far side drops
#                 packets from the first link's address (ingress filtering, as an ISP does)
#   link          dotd's link set down for 3 s while a client asks, then up (and its default
#                 route put back, as a network manager does)
#   carrier       the far end of the link set down for 3 s while a client asks: dotd's side
#                 loses carrier but keeps its routes, so packets go into the void (a cable
#                 pulled out), then up
#   blackhole     the first upstream silent for 4 s or more (its packets dropped on the far
#                 side: nothing on dotd's host changes), then restored
#   flap-link     dnsperf running through a link flap (as link, carrier): from the moment the
#   flap-carrier  link is back it loses nothing and gets no SERVFAIL
#   kick          the blackhole, then `dotd-ctl network-changed` once it is restored (skipped
#                 where dotd-ctl does not know that command)
# Right after each event (no sleep in between: that is the point) one query for a name never
# asked before is sent; the time to its answer, and to the first answer if it got none, is a
# FIGURE line. The checks are behavioural: that first query gets NOERROR and the right address
# within dotd's own `timeout` (TIMEOUT_MS below: why it is 600 ms), not SERVFAIL. Timing is
# reported, never asserted.
#
#            dotd's namespace (dn-PID)                  the far side (up-PID)
#   127.0.0.1@5301: dotd, kdig, dnsperf
#   up0 198.18.0.2/24 (renumbered to .3) <--veth--> dn0 198.18.0.1/24
#   up1 198.18.2.2/24                    <--veth--> dn1 198.18.2.1/24 (rp_filter strict)
#   default via 198.18.0.1                          lo 198.19.0.1, 198.19.0.2: unbound@853
#
# usage: netns.sh DOTD PROBE DOTD-CTL
# Needs root (ip netns). Exits 77, saying why, where network namespaces cannot be made.
set -euo pipefail

if [[ $# -ne 3 ]]; then
	echo "usage: $0 DOTD PROBE DOTD-CTL" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
CTL=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

if ((EUID != 0)); then
	echo "SKIP: cannot create network namespaces: not root (ip netns needs CAP_SYS_ADMIN)"
	exit 77
fi
if ! command -v ip > /dev/null 2>&1; then
	echo "SKIP: cannot create network namespaces: no ip command (iproute2)"
	exit 77
fi

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

DN=dn-$$ # dotd and its clients
UN=up-$$ # the far side: the gateways and the unbounds
NAMESPACES=()
DPORT=5301 # inside dotd's own namespace: nothing else can hold it there
SOCK=$TMP/control.sock
UP1=198.19.0.1
UP2=198.19.0.2
DOWN_S=3 # how long a link stays down
HOLE_S=4 # how long the blackhole lasts
# dotd's timeout: the first query after an event must be answered within it. It is below
# timeout_per_try (800 ms, the default), after which a silent connection is taken for dead:
# so a dotd that only notices a dead path by its silence answers SERVFAIL, and one that acts
# on the event itself (an address gone, a link or route changed) answers in time. The issue
# asks for "well under 300 ms" after renumbering; a path here answers in a few ms. (A dotd
# that only watches the silence does not see it at all then: a query that timed out no longer
# counts towards it, so a client that keeps asking keeps that dotd on the dead path.
# NETNS_TIMEOUT_MS=2000 shows what it does with time enough for its 800 ms.)
TIMEOUT_MS=${NETNS_TIMEOUT_MS:-600}
HOLE_TIMEOUT_MS=2000 # where no event can tell: long enough for the other upstream to answer
FIGURES=()
SEQ=0

# Our processes first (lib.sh's loop: TERM, then KILL), then the namespaces, which take their
# veths with them; then lib.sh's cleanup removes $TMP and exits with the status we had.
# shellcheck disable=SC2317 # called by the trap
netns_cleanup()
{
	local st=$? p i
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2> /dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			alive "$p" || break
			sleep 0.1
		done
		kill -KILL "$p" 2> /dev/null || true
		wait "$p" 2> /dev/null || true
	done
	for p in "${NAMESPACES[@]}"; do
		ip netns del "$p" 2> /dev/null || true
	done
	set +e
	(exit "$st")
	cleanup
}
trap netns_cleanup EXIT

for tool in unbound unbound-control kdig dnsperf; do
	command -v "$tool" > /dev/null 2>&1 || die "$tool is installed"
done

# nsx NS CMD...: CMD inside namespace NS. Not for the background: `nsx ... &` would make $! a
# subshell's pid; `ip netns exec NS CMD &` makes it CMD's own (ip execs it).
nsx()
{
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# forget PID: PID has been reaped: take it off PIDS, so that the exit trap never signals a
# later process that got its number (other sessions run tests on this machine).
forget()
{
	local i
	for i in "${!PIDS[@]}"; do
		if [[ ${PIDS[i]} == "$1" ]]; then
			unset 'PIDS[i]'
		fi
	done
	PIDS=("${PIDS[@]}")
}

# --- the namespaces ---

# make_namespaces: both namespaces and both links, or exit 77 if the kernel will not.
make_namespaces()
{
	local out
	NAMESPACES+=("$DN" "$UN") # before they exist: a half-made one is removed too
	if ! out=$(ip netns add "$DN" 2>&1); then
		echo "SKIP: cannot create network namespaces: ip netns add: $out"
		exit 77
	fi
	ip netns add "$UN"
	if ! out=$(ip link add up0 netns "$DN" type veth peer name dn0 netns "$UN" 2>&1); then
		echo "SKIP: cannot create network namespaces: no veth: $out"
		exit 77
	fi
	ip link add up1 netns "$DN" type veth peer name dn1 netns "$UN"
	ip -n "$DN" link set lo up
	ip -n "$UN" link set lo up
	# A DHCP client adds the new address before it removes the old: without this, removing
	# the primary address of a subnet takes its secondaries with it (NetworkManager sets it too).
	nsx "$DN" sysctl -qw net.ipv4.conf.all.promote_secondaries=1 \
		net.ipv4.conf.up0.promote_secondaries=1
	# The second uplink filters its ingress: what comes from the first link's addresses
	# through it is dropped, so a connection cannot survive a route change by going around.
	nsx "$UN" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.dn1.rp_filter=1
	# That filter checks ARP requests too: one asking for the new gateway "from" an address of
	# the first link (the kernel takes the source of the first packet queued, a segment of the
	# old connection) is ignored, and the neighbour entry fails for a second, new connections
	# with it (EHOSTUNREACH). A multi-homed host asks from the link's own address.
	nsx "$DN" sysctl -qw net.ipv4.conf.all.arp_announce=2
	# A neighbour asked for while the carrier was gone stays unresolved until the kernel asks
	# again, retrans_time later (1 s): the first SYN after the carrier's return waits that long
	# whatever dotd does. A LAN host's 100 ms keeps that out of what is measured here.
	nsx "$DN" sysctl -qw net.ipv4.neigh.up0.retrans_time_ms=100
	ip -n "$UN" addr add 198.18.0.1/24 dev dn0
	ip -n "$UN" addr add 198.18.2.1/24 dev dn1
	ip -n "$UN" addr add "$UP1/32" dev lo
	ip -n "$UN" addr add "$UP2/32" dev lo
	ip -n "$UN" link set dn0 up
	ip -n "$UN" link set dn1 up
	ip -n "$DN" addr add 198.18.2.2/24 dev up1
	ip -n "$DN" link set up1 up
	# The blackhole: what the first upstream sends goes to table 100 while rule 100 is there
	# (policy routing; a kernel without it skips the blackhole scenarios).
	if out=$(ip -n "$UN" route add blackhole default table 100 2>&1 &&
		ip -n "$UN" rule add from "$UP1" lookup 100 pref 100 2>&1); then
		HOLE=ok
	else
		HOLE="no policy routing: $out"
	fi
	net_reset
	pass "namespaces $DN and $UN, two veth links (198.18.0.0/15)"
}

# net_reset: dotd's side as at the start: 198.18.0.2 on a link that is up, the default route
# through 198.18.0.1, no blackhole. Run while no dotd runs, so that it sees none of this.
net_reset()
{
	ip -n "$UN" link set dn0 up
	ip -n "$DN" link set up0 up
	ip -4 -n "$DN" addr flush dev up0
	ip -n "$DN" addr add 198.18.0.2/24 dev up0
	ip -n "$DN" route replace default via 198.18.0.1 dev up0
	ip -n "$UN" rule del pref 100 2> /dev/null || true
}

# --- the unbounds ---

# start_far_unbound NAME ADDRESS: an unbound serving DoT on ADDRESS@853 in the far namespace,
# with lib.sh's test zones (bench. answers any name with 192.0.2.1, unbound caches nothing).
start_far_unbound()
{
	local name=$1 HOST=$2 deadline pid # HOST: lib.sh's unbound_conf puts it on every line
	unbound_conf "$name" 853 "  tls-port: 853
  tls-service-key: \"$TMP/pki/server.key\"
  tls-service-pem: \"$TMP/pki/server.pem\"" "  access-control: 198.18.0.0/15 allow"
	ip netns exec "$UN" unbound -d -c "$TMP/$name.conf" > "$TMP/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	deadline=$((SECONDS + 10))
	until nsx "$UN" unbound-control -c "$TMP/$name.conf" status > /dev/null 2>&1; do
		if ! alive "$pid" || ((SECONDS >= deadline)); then
			die "$name starts (DoT on $HOST@853 in $UN)"
		fi
		sleep 0.1
	done
	pass "$name starts (DoT on $HOST@853 in $UN)"
}

# uqueries NAME: the queries that unbound has received so far.
uqueries()
{
	nsx "$UN" unbound-control -c "$TMP/$1.conf" stats_noreset |
		awk -F= '$1 == "total.num.queries" { print $2; found = 1 } END { exit !found }'
}

# --- dotd ---

# write_dotd_cfg FILE N TIMEOUT: dotd in front of the first N upstreams. Its connections outlive
# every event (idle_timeout); timeout_per_try is the default, the 800 ms of silence after which
# today's dotd takes a connection with queries outstanding for dead.
write_dotd_cfg()
{
	local f=$1 n=$2 a
	{
		echo "# written by netns.sh"
		echo "tls_ca_file: \"$TMP/pki/ca.pem\""
		echo "listen_addresses: [127.0.0.1@$DPORT]"
		echo "control_socket: \"$SOCK\""
		echo "idle_timeout: 60000"
		echo "timeout: $3"
		echo "timeout_per_try: 800"
		echo "round_robin_upstreams: 1"
		echo "upstream_recursive_servers:"
		for a in "$UP1" "$UP2"; do
			((n-- > 0)) || break
			echo "  - address_data: $a"
			echo "    tls_auth_name: \"dot.test\""
		done
	} > "$f"
}

# ask NAME: one UDP query from dotd's namespace; sets ASK_MS (the time kdig measured, or the
# wall time when no answer came), ASK_RCODE (or "timeout"), ASK_OK (1 if NOERROR with
# 192.0.2.1 for NAME) and ASK_OUT. The client waits longer than dotd's own timeout, so that
# dotd's answer, SERVFAIL included, is what is seen.
ask()
{
	local name=$1 out t0 t1
	t0=${EPOCHREALTIME/[.,]/}
	out=$(nsx "$DN" kdig @127.0.0.1 -p "$DPORT" +time=5 +retry=0 "$name" A 2>&1) || true
	t1=${EPOCHREALTIME/[.,]/}
	ASK_OUT=$out
	ASK_RCODE=timeout
	if [[ $out =~ status:\ ([A-Z]+) ]]; then
		ASK_RCODE=${BASH_REMATCH[1]}
	fi
	ASK_MS=$(((t1 - t0) / 1000))
	if [[ $out =~ \(UDP\)\ in\ ([0-9.]+)\ ms ]]; then
		ASK_MS=${BASH_REMATCH[1]%.*}
	fi
	ASK_OK=0
	if [[ $ASK_RCODE == NOERROR ]] && awk -v n="$name." '$1 == n && $4 == "A" &&
		$5 == "192.0.2.1" { found = 1 } END { exit !found }' <<< "$out"; then
		ASK_OK=1
	fi
}

# ask_fresh: ask a name never asked before (bench. answers every name): no cache has it, so
# the query goes upstream.
ask_fresh()
{
	SEQ=$((SEQ + 1))
	ask "n$SEQ-$$.bench"
}

# figure SCENARIO N WHAT [once]: ask now, at once, and keep FIRST_* (ASK_* of that query) for
# answered. Unless once, ask again every 50 ms until an answer comes (10 s at most): the time
# from the event to the first answer. Prints the FIGURE line; FIG_ASKS is how many were asked.
figure()
{
	local t0 t1 deadline line
	t0=${EPOCHREALTIME/[.,]/}
	ask_fresh
	FIRST_OK=$ASK_OK FIRST_MS=$ASK_MS FIRST_RCODE=$ASK_RCODE FIRST_OUT=$ASK_OUT
	FIG_ASKS=1
	line="FIGURE $1 $2: $3: first query $ASK_MS ms ($ASK_RCODE)"
	if ((!ASK_OK)) && [[ ${4:-} != once ]]; then
		deadline=$((SECONDS + 10))
		while ((!ASK_OK && SECONDS < deadline)); do
			sleep 0.05
			ask_fresh
			FIG_ASKS=$((FIG_ASKS + 1))
		done
		t1=${EPOCHREALTIME/[.,]/}
		if ((ASK_OK)); then
			line+=", first answer $(((t1 - t0) / 1000)) ms after the event (query $FIG_ASKS)"
		else
			line+=", no answer in 10 s ($FIG_ASKS queries)"
		fi
	fi
	FIGURES+=("$line")
	echo "$line"
}

# start_scenario NAME N TIMEOUT: the network reset, then a dotd (`timeout: TIMEOUT`) in front
# of N upstreams in dotd's namespace, connected to each of them before the event. Sets LOG and
# MARK (see mark). NETNS_VERBOSITY=7: dotd logs at debug level.
start_scenario()
{
	local name=$1 n=$2 i before1 before2 deadline
	echo "--- $name, $n upstream(s) ---"
	net_reset
	write_dotd_cfg "$TMP/dotd.yml" "$n" "$3"
	LOG=$TMP/dotd-$name-$n.out
	rm -f "$SOCK"
	ip netns exec "$DN" "$DOTD" -v "${NETNS_VERBOSITY:-6}" -C "$TMP/dotd.yml" > "$LOG" 2>&1 &
	DOTD_PID=$!
	PIDS+=("$DOTD_PID")
	deadline=$((SECONDS + 10))
	until nsx "$DN" "$PROBE" query 127.0.0.1 "$DPORT" www.example A udp NOERROR 192.0.2.80 \
		> /dev/null 2>&1; do
		if ! alive "$DOTD_PID" || ((SECONDS >= deadline)); then
			show_log "dotd ($name $n)" "$LOG"
			die "$name $n: dotd starts and answers"
		fi
		sleep 0.1
	done
	# Round robin: 2N queries open a connection to each upstream, left idle for the event.
	before1=$(uqueries unbound1) before2=$(uqueries unbound2)
	for ((i = 0; i < 2 * n; i++)); do
		ask_fresh
	done
	if (($(uqueries unbound1) == before1)) || ((n == 2 && $(uqueries unbound2) == before2))
	then
		show_log "dotd ($name $n)" "$LOG"
		die "$name $n: dotd is connected to every upstream before the event"
	fi
	sleep 0.2
	mark
}

# mark: remember the length of dotd's log, to show what it did after this point on a failure.
mark()
{
	MARK=$(wc -l < "$LOG")
}

# end_scenario NAME N: dotd still runs, and stops.
end_scenario()
{
	if alive "$DOTD_PID"; then
		stop_dotd "$DOTD_PID" 10
	else
		fail "$1 $2: dotd still runs after the event"
		show_log "dotd ($1 $2)" "$LOG"
		wait "$DOTD_PID" 2> /dev/null || true
	fi
	forget "$DOTD_PID"
}

# after_mark [LINES]: dotd's log after the mark, and its view of the upstreams.
after_mark()
{
	echo "dotd's log after the event:"
	tail -n +$((MARK + 1)) "$LOG" | head -n "${1:-25}"
	if [[ -S $SOCK ]]; then
		echo "dotd-ctl upstreams:"
		timeout 5 "$CTL" -s "$SOCK" upstreams 2>&1 || true
	fi
}

# answered NAME N WHAT: the first query of the last figure got NOERROR with the right address
# (PASS), or FAIL with kdig's output and what dotd did.
answered()
{
	if ((FIRST_OK)); then
		pass "$1 $2: $3: NOERROR, 192.0.2.1 ($FIRST_MS ms)"
	else
		fail "$1 $2: $3: NOERROR, 192.0.2.1 (got $FIRST_RCODE after $FIRST_MS ms)"
		{
			grep -E 'status:|EDE|\(UDP\)|timeout|failed' <<< "$FIRST_OUT" || true
			after_mark
		} | indent
	fi
}

# traffic_start: a client asking a fresh name every 0.3 s until traffic_stop: what an outage
# leaves behind in dotd (failures, backoff, connections half made) comes from queries.
traffic_start()
{
	rm -f "$TMP/traffic.stop"
	(
		i=0
		while [[ ! -e $TMP/traffic.stop ]]; do
			i=$((i + 1))
			nsx "$DN" kdig @127.0.0.1 -p "$DPORT" +time=2 +retry=0 \
				"bg$i-$BASHPID.bench" A > /dev/null 2>&1 || true
			sleep 0.3
		done
	) &
	TRAFFIC_PID=$!
	PIDS+=("$TRAFFIC_PID")
}

# traffic_stop: tell the client to stop, without waiting (its query in flight goes on).
traffic_stop()
{
	touch "$TMP/traffic.stop"
}

traffic_wait()
{
	wait "$TRAFFIC_PID" 2> /dev/null || true
	forget "$TRAFFIC_PID"
}

# link_down KIND / link_up KIND: the first link goes down and comes back.
#   link     dotd's end set down: the kernel drops its routes, and the network manager puts
#            the default route back when the link is up again
#   carrier  the far end set down: dotd's end is up without carrier and keeps its address and
#            routes, so what it sends goes nowhere (a cable pulled out, a lost Wi-Fi station)
link_down()
{
	case $1 in
	link) ip -n "$DN" link set up0 down ;;
	carrier) ip -n "$UN" link set dn0 down ;;
	esac
}

link_up()
{
	case $1 in
	link)
		ip -n "$DN" link set up0 up
		ip -n "$DN" route replace default via 198.18.0.1 dev up0
		;;
	carrier) ip -n "$UN" link set dn0 up ;;
	esac
}

# --- the scenarios ---

# renumber N: dotd's address 198.18.0.2 replaced by 198.18.0.3: the connections bound to the
# old one are dead, and nothing on the wire says so.
renumber()
{
	start_scenario renumber "$1" "$TIMEOUT_MS"
	ip -n "$DN" addr add 198.18.0.3/24 dev up0
	ip -n "$DN" addr del 198.18.0.2/24 dev up0
	figure renumber "$1" "after renumbering"
	answered renumber "$1" "the first query after renumbering"
	end_scenario renumber "$1"
}

# route N: the default route replaced by one through the second link. Packets of the old
# connections (from 198.18.0.2) leave by it and are dropped by its far side's ingress filter.
route()
{
	start_scenario route "$1" "$TIMEOUT_MS"
	ip -n "$DN" route replace default via 198.18.2.1 dev up1
	figure route "$1" "after the default route was replaced"
	answered route "$1" "the first query after the default route was replaced"
	end_scenario route "$1"
}

# outage KIND N: the link down (link_down KIND) for DOWN_S seconds while a client asks, then
# up; the first query after that is answered.
outage()
{
	start_scenario "$1" "$2" "$TIMEOUT_MS"
	traffic_start
	link_down "$1"
	sleep "$DOWN_S"
	traffic_stop
	link_up "$1"
	figure "$1" "$2" "after the $1 came back"
	answered "$1" "$2" "the first query after the $1 came back"
	traffic_wait
	end_scenario "$1" "$2"
}

# blackhole N [kick]: the first upstream's packets dropped on the far side for HOLE_S seconds
# while a client asks: silent, and nothing changes on dotd's host, so no event tells dotd when
# it ends. dotd's timeout is HOLE_TIMEOUT_MS here, longer than timeout_per_try: the other
# upstream can answer during the blackhole, and the silent one is found dead, counted as
# failures and backed off, as it would be with the default timeout. With kick, `dotd-ctl
# network-changed` says that the network changed once the path is back (OpenWrt's hotplug, a
# VPN hook): the first query after it must be answered, and with two upstreams the restored
# one must take its turn at once, no backoff left over. Skipped where dotd-ctl does not know
# the command.
blackhole()
{
	local n=$1 kick=${2:-} name=blackhole out st before deadline t0 t1 asks i backoff=-
	if [[ $HOLE != ok ]]; then
		skip "${kick:-blackhole} $n: $HOLE"
		return 0
	fi
	if [[ -n $kick ]]; then
		name=kick
		start_scenario "$name" "$n" "$HOLE_TIMEOUT_MS"
		if ! out=$(timeout 5 "$CTL" -s "$SOCK" network-changed 2>&1); then
			skip "$name $n: this dotd has no working dotd-ctl network-changed: ${out%%$'\n'*}"
			end_scenario "$name" "$n"
			return 0
		fi
		# The kick may have closed the idle connections: open them again for the event.
		for ((i = 0; i < 2 * n; i++)); do
			ask_fresh
		done
		sleep 0.2
		mark
	else
		start_scenario "$name" "$n" "$HOLE_TIMEOUT_MS"
	fi
	ip -n "$UN" rule add from "$UP1" lookup 100 pref 100
	if [[ -z $kick ]]; then
		figure "$name" "$n" "during the blackhole" once
		if ((n == 2)); then
			# Two in a row: in round robin, one of them tries the silent upstream.
			answered "$name" "$n" "a query during the blackhole of one upstream of two"
			figure "$name" "$n" "during the blackhole, the next" once
			answered "$name" "$n" "the next query during the blackhole"
		fi
	fi
	traffic_start
	sleep "$HOLE_S"
	traffic_stop
	traffic_wait # nothing of the client's in flight: what reaches unbound1 next is ours
	if ((n == 2)); then
		# End it only once dotd has backed the silent upstream off with a second or more
		# to go (asking meanwhile, 10 s at most), so that what comes after shows whether a
		# backoff is left over.
		deadline=$((SECONDS + 10))
		until backoff=$(backoff_left) && [[ $backoff =~ ^([1-9]|[0-9]{2,})\. ]] ||
			((SECONDS >= deadline)); do
			ask_fresh
			sleep 0.2
		done
	fi
	ip -n "$UN" rule del pref 100
	if [[ -n $kick ]]; then
		if ! out=$(timeout 5 "$CTL" -s "$SOCK" network-changed 2>&1); then
			fail "$name $n: dotd-ctl network-changed after the blackhole: $out"
		fi
	fi
	before=$(uqueries unbound1)
	t0=${EPOCHREALTIME/[.,]/}
	figure "$name" "$n" "after the blackhole ended"
	if [[ -n $kick ]]; then
		answered "$name" "$n" "the first query after the blackhole ended and the kick"
	elif ((ASK_OK)); then
		# No event says that the path is back: the first query may fail, but dotd must find
		# the path again by itself.
		pass "$name $n: dotd answers again within 10 s of the path's return"
	else
		fail "$name $n: dotd answers again within 10 s of the path's return"
		after_mark 40 | indent
	fi
	((n == 2)) || {
		end_scenario "$name" "$n"
		return 0
	}
	# When does the restored upstream get queries again? Without an event that says the
	# path is back, a backoff may keep it out a while: a figure, not a check.
	asks=$FIG_ASKS
	deadline=$((SECONDS + 10))
	until (($(uqueries unbound1) > before)) || ((SECONDS >= deadline)); do
		sleep 0.1
		ask_fresh
		asks=$((asks + 1))
	done
	t1=${EPOCHREALTIME/[.,]/}
	if (($(uqueries unbound1) > before)); then
		st="in query $asks after the end, $(((t1 - t0) / 1000)) ms"
	else
		st="not in $asks queries over 10 s"
	fi
	FIGURES+=("FIGURE $name $n: the restored upstream (backoff_s=$backoff when the blackhole ended) used again $st")
	echo "${FIGURES[-1]}"
	if [[ -n $kick ]]; then
		# "No backoff left over": told that the network changed, dotd takes the restored
		# upstream in its turn at once, in the first two queries of the round robin.
		# shellcheck disable=SC2016 # expect evaluates it
		expect "$name $n" "the restored upstream takes its turn in the first two queries" \
			"$st" '((asks <= 2)) && (($(uqueries unbound1) > before))'
		if ((asks > 2)); then
			after_mark 40 | indent
		fi
	fi
	end_scenario "$name" "$n"
}

# backoff_left: the backoff_s of the first upstream in `dotd-ctl upstreams` ("-" when it is
# not backed off), the seconds it has to go.
backoff_left()
{
	timeout 5 "$CTL" -s "$SOCK" upstreams 2> /dev/null | awk -v u="\"$UP1@853\"" '
		$1 == u { for (i = 2; i <= NF; i++) if (sub(/^backoff_s=/, "", $i)) v = $i }
		END { if (v == "") exit 1; print v }'
}

# perf_file FILE N PREFIX: N fresh names for dnsperf.
perf_file()
{
	local i
	for ((i = 0; i < $2; i++)); do
		echo "$3$i-$$.bench A"
	done > "$1"
}

# perf_summary FILE: "sent S completed C lost L noerror E" from dnsperf's output.
perf_summary()
{
	awk '/Queries sent:/ { s = $3 } /Queries completed:/ { c = $3 } /Queries lost:/ { l = $3 }
		/Response codes:/ { for (i = 3; i <= NF; i++) if ($i ~ /^NOERROR/) e = $(i + 1) }
		END { printf "sent %s completed %s lost %s noerror %s\n", s, c, l, e + 0 }' "$1"
}

# flap KIND N: dnsperf at 200 queries/s through a flap (link_down KIND for DOWN_S seconds;
# phase 1, losses allowed); from the moment the link is back (and its route, for link), a
# second dnsperf for 5 s (phase 2): it loses nothing, and every answer is NOERROR. Phase 1's
# tail overlaps phase 2's start, as a client's traffic would. dnsperf waits 3 s, longer than
# dotd's timeout, so a SERVFAIL of dotd's shows as a response code, not as a loss.
flap()
{
	local kind=$1 n=$2 name=flap-$1 p1 p2 s1 s2 sent lost noerr
	start_scenario "$name" "$n" "$TIMEOUT_MS"
	perf_file "$TMP/perf1.txt" 2000 "$name-1-$n-"
	perf_file "$TMP/perf2.txt" 2000 "$name-2-$n-"
	ip netns exec "$DN" dnsperf -s 127.0.0.1 -p "$DPORT" -d "$TMP/perf1.txt" -l $((DOWN_S + 1)) \
		-Q 200 -t 3 > "$TMP/perf1.out" 2>&1 &
	p1=$!
	PIDS+=("$p1")
	sleep 0.5
	link_down "$kind"
	sleep "$DOWN_S"
	link_up "$kind"
	mark
	ip netns exec "$DN" dnsperf -s 127.0.0.1 -p "$DPORT" -d "$TMP/perf2.txt" -l 5 -Q 200 -t 3 \
		> "$TMP/perf2.out" 2>&1 &
	p2=$!
	PIDS+=("$p2")
	wait "$p1" || true
	wait "$p2" || true
	forget "$p1"
	forget "$p2"
	s1=$(perf_summary "$TMP/perf1.out")
	s2=$(perf_summary "$TMP/perf2.out")
	FIGURES+=("FIGURE $name $n: dnsperf through the flap: $s1; from the $kind's return: $s2")
	echo "${FIGURES[-1]}"
	read -r _ sent _ _ _ lost _ noerr <<< "$s2"
	if [[ $sent =~ ^[0-9]+$ ]] && ((sent > 500)) && [[ $lost == 0 && $noerr == "$sent" ]]; then
		pass "$name $n: dnsperf from the $kind's return: nothing lost, all NOERROR ($s2)"
	else
		fail "$name $n: dnsperf from the $kind's return: nothing lost, all NOERROR ($s2)"
		{
			grep -A 3 -E 'Queries sent|Response codes' "$TMP/perf2.out" || true
			after_mark
		} | indent
	fi
	end_scenario "$name" "$n"
}

# --- the run ---

make_namespaces
make_pki
start_far_unbound unbound1 "$UP1"
start_far_unbound unbound2 "$UP2"

# NETNS_SCENARIOS="renumber link" runs only those (all by default); NETNS_UPSTREAMS="1" only
# with one upstream; NETNS_TIMEOUT_MS sets dotd's timeout for the checks with an event (600);
# NETNS_KEEP=DIR copies every log there at the end.
SCENARIOS=${NETNS_SCENARIOS:-renumber route link carrier blackhole flap-link flap-carrier kick}
for n in ${NETNS_UPSTREAMS:-1 2}; do
	for s in $SCENARIOS; do
		case $s in
		renumber) renumber "$n" ;;
		route) route "$n" ;;
		blackhole) blackhole "$n" ;;
		link | carrier) outage "$s" "$n" ;;
		flap-link | flap-carrier) flap "${s#flap-}" "$n" ;;
		kick) blackhole "$n" kick ;;
		*) die "NETNS_SCENARIOS: no scenario $s" ;;
		esac
	done
done
if [[ -n ${NETNS_KEEP:-} ]]; then
	mkdir -p "$NETNS_KEEP"
	cp "$TMP"/*.out "$TMP"/*.log "$TMP"/*.yml "$TMP"/*.conf "$NETNS_KEEP"/ 2> /dev/null || true
fi

echo "--- figures ($(basename "$DOTD") $DOTD) ---"
printf '%s\n' "${FIGURES[@]}"
summary netns
