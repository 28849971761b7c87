#!/usr/bin/env bash
# resolver/netwatch.c against the kernel's netlink: dotd-netwatch-probe in a network namespace
# of this test's own (unshare -n: nothing outside it is touched, and it vanishes with the
# test), a veth pair (or a dummy link) there, and ip(8) changing it:
#   - a link up, its carrier, down: one "link" each; an MTU set: nothing
#   - an address added: "addr-new"; removed: "addr-gone" with that address, at once (the
#     figure in the PASS line is from `ip addr del` to the callback)
#   - a default route added, replaced, removed: "route"; another route: nothing
#   - an overrun: the probe stopped while 3000 addresses come and go, then continued:
#     "link,route" for the events lost, the addresses the resync no longer finds as gone, and
#     the probe still sees the next change
#   - SIGTERM: the probe closes everything and exits 0
#
# usage: netwatch.sh PROBE
# Exit 77 (skipped) when no network namespace can be made (not root, no CAP_SYS_ADMIN) or
# neither a veth nor a dummy link can be made in it.
set -uo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 PROBE" >&2
	exit 2
fi
probe=$(realpath "$1")

if [[ ${NETWATCH_IN_NETNS:-} != 1 ]]; then
	if ! unshare -n true 2> /dev/null; then
		echo "SKIP: cannot make a network namespace (unshare -n: needs root or" \
			"CAP_SYS_ADMIN); the real netlink socket is not tested"
		exit 77
	fi
	exec env NETWATCH_IN_NETNS=1 unshare -n bash "$0" "$@"
fi

# ---- from here, inside the namespace of our own ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-netwatch.XXXXXX")
pid=""
status=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $pid ]]; then
		kill -CONT "$pid" 2> /dev/null
		kill "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() {
	echo "PASS: $*"
}

fail() {
	echo "FAIL: $*"
	echo "    the probe's events so far:"
	sed 's/^/    | /' "$tmp/out"
	if [[ -s $tmp/err ]]; then
		echo "    its stderr:"
		tail -n 40 "$tmp/err" | sed 's/^/    | /'
	fi
	status=1
}

if ip link add nw0 type veth peer name nw1 2> /dev/null; then
	peer=nw1
elif ip link add nw0 type dummy 2> /dev/null; then
	peer=""
else
	echo "SKIP: neither a veth pair nor a dummy link can be made in the namespace"
	exit 77
fi
ip link set lo up
# IPv6 off on the test links: its link-local address and DAD would add events of their own
# (IPv6 is checked by test_netwatch on handcrafted messages).
for l in nw0 $peer; do
	sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1" 2> /dev/null || true
done

"$probe" -n -v > "$tmp/out" 2> "$tmp/err" &
pid=$!
for ((i = 0; i < 100; i++)); do
	if grep -q '^ready netlink=1$' "$tmp/out"; then
		break
	fi
	sleep 0.05
done
if ! grep -q '^ready netlink=1$' "$tmp/out"; then
	fail "the probe opened netlink and finished its first dumps"
	exit 1
fi

# mark: remember how many events came so far; new_events: those after the mark.
seen=0
mark() {
	seen=$(grep -c '^event ' "$tmp/out")
}
new_events() {
	grep '^event ' "$tmp/out" | tail -n +$((seen + 1))
}

# wait_for REGEX [MS]: the first new event matching REGEX within MS (default 2000) in $line.
line=""
wait_for() {
	local re=$1 ms=${2:-2000} t
	for ((t = 0; t < ms; t += 10)); do
		line=$(new_events | grep -E -m1 -- "$re")
		if [[ -n $line ]]; then
			return 0
		fi
		sleep 0.01
	done
	line=""
	return 1
}

sleep_ms() {
	sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"
}

# quiet MS: still no new event after MS more milliseconds.
quiet() {
	sleep_ms "$1"
	[[ -z $(new_events) ]]
}

# only_one MS: after MS more milliseconds, still one new event only.
only_one() {
	sleep_ms "$1"
	(($(new_events | wc -l) == 1))
}

# field NAME: NAME's value in $line.
field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"
}

# ms_since NS: milliseconds from NS (date +%s%N) to the event in $line.
ms_since() {
	awk -v t="$(field t_us)" -v t0="$1" 'BEGIN { printf "%.1f", (t * 1000 - t0) / 1e6 }'
}

# ---- links ----
mark
t0=$(date +%s%N)
ip link set nw0 up
if [[ -n $peer ]]; then
	# nw0 is up without a carrier until its peer is up too.
	if wait_for 'kinds=link ' && only_one 200; then
		pass "link up without a carrier: one 'link' ($(ms_since "$t0") ms)"
	else
		fail "link up without a carrier: one 'link'"
	fi
	mark
	t0=$(date +%s%N)
	ip link set nw1 up
fi
if wait_for 'kinds=link ' && only_one 200; then
	pass "link up and running: one 'link' ($(ms_since "$t0") ms after ip link set up)"
else
	fail "link up and running: one 'link'"
fi

mark
ip link set nw0 mtu 1400
ip link set nw0 up
if quiet 300; then
	pass "an MTU set, a link set up that was up: no event"
else
	fail "an MTU set, a link set up that was up: no event (got: $(new_events))"
fi

# ---- addresses ----
mark
ip addr add 198.18.0.1/24 dev nw0
if wait_for 'addr-new' && [[ $(field kinds) == addr-new ]]; then
	pass "address added: 'addr-new'"
else
	fail "address added: 'addr-new' alone (got: $(new_events))"
fi
# Adding an address also adds routes, none a default one.
quiet 200 || true

# ---- routes ----
mark
ip route add 198.19.0.0/24 via 198.18.0.2
if quiet 300; then
	pass "a route that is not a default one: no event"
else
	fail "a route that is not a default one: no event (got: $(new_events))"
fi
mark
ip route add default via 198.18.0.2
if wait_for 'kinds=route ' && only_one 200; then
	pass "default route added: one 'route'"
else
	fail "default route added: one 'route' (got: $(new_events))"
fi
mark
ip route replace default via 198.18.0.3
if wait_for 'kinds=route ' && only_one 200; then
	pass "default route replaced: one 'route'"
else
	fail "default route replaced: one 'route' (got: $(new_events))"
fi
mark
ip route del default
if wait_for 'kinds=route '; then
	pass "default route removed: 'route'"
else
	fail "default route removed: 'route' (got: $(new_events))"
fi
quiet 200 || true

# ---- an address removed: at once ----
ip route add default via 198.18.0.2
quiet 200 || true
lat=()
for i in 1 2 3 4 5; do
	ip addr add "198.18.0.$((10 + i))/24" dev nw0
	quiet 150 || true
	mark
	t0=$(date +%s%N)
	ip addr del "198.18.0.$((10 + i))/24" dev nw0
	if ! wait_for 'addr-gone' 1000; then
		fail "address removed: 'addr-gone' (got: $(new_events))"
		break
	fi
	if [[ $(field kinds) != addr-gone || $(field gone) != "198.18.0.$((10 + i))" ]]; then
		fail "address removed: 'addr-gone' alone, with 198.18.0.$((10 + i)) ($line)"
		break
	fi
	lat+=("$(ms_since "$t0")")
done
if ((${#lat[@]} == 5)); then
	pass "address removed: 'addr-gone' with the address, undebounced (${lat[*]} ms after" \
		"ip addr del was started)"
fi

# ---- link down ----
quiet 200 || true
mark
t0=$(date +%s%N)
ip link set nw0 down
if wait_for 'link'; then
	pass "link down: 'link' ($(field kinds), $(ms_since "$t0") ms)"
else
	fail "link down: 'link' (got: $(new_events))"
fi
quiet 300 || true
ip link set nw0 up
quiet 300 || true

# ---- overrun: events lost while the probe is stopped ----
mark
{
	for ((i = 0; i < 3000; i++)); do
		echo "addr add 198.18.$((16 + i / 250)).$((1 + i % 250))/32 dev nw0"
	done
	for ((i = 0; i < 3000; i += 2)); do
		echo "addr del 198.18.$((16 + i / 250)).$((1 + i % 250))/32 dev nw0"
	done
} > "$tmp/batch"
kill -STOP "$pid"
ip -batch "$tmp/batch"
kill -CONT "$pid"
if wait_for 'kinds=[^ ]*link,route .*overruns=[1-9]' 5000; then
	pass "receive buffer overrun: reported as 'link,route' ($(field kinds), $(field n_raw)" \
		"messages read, overruns=$(field overruns), libuv's POLLERR survived" \
		"$(grep -c 'poll error after an overrun' "$tmp/err") times)"
else
	fail "receive buffer overrun: reported as 'link,route' (got: $(new_events | head -5))"
fi
# The resync's dump no longer lists addresses whose removal was lost: gone, and only those
# (the even ones of the batch).
if wait_for 'kinds=addr-gone .*overflow=1' 5000; then
	bad=$(tr ',' '\n' <<< "$(field gone)" |
		awk -F. '{ i = ($3 - 16) * 250 + $4 - 1; if (i % 2) print }')
	if [[ -z $bad ]]; then
		pass "receive buffer overrun: the resync finds $(field n_raw) addresses gone" \
			"whose removal was lost"
	else
		fail "receive buffer overrun: the resync reports only addresses removed (not:" \
			"$bad)"
	fi
else
	fail "receive buffer overrun: the resync reports addresses removed (got:" \
		"$(new_events | head -5))"
fi
quiet 700 || true
# After the resync, the probe's tables are right again: one more removal is seen, alone.
mark
ip addr del 198.18.16.2/32 dev nw0
if wait_for 'addr-gone' && [[ $(field gone) == 198.18.16.2 ]]; then
	pass "after the overrun: the next removal is seen"
else
	fail "after the overrun: the next removal is seen (got: $(new_events))"
fi
mark
ip addr del 198.18.16.4/32 dev nw0
ip addr add 198.18.16.4/32 dev nw0
if wait_for 'addr-new' && sleep_ms 200 && (($(new_events | wc -l) == 2)); then
	pass "after the overrun: an address added again is new"
else
	fail "after the overrun: an address added again is new (got: $(new_events))"
fi

# ---- the end ----
kill "$pid"
wait "$pid"
rc=$?
pid=""
if ((rc == 0)); then
	pass "SIGTERM: the probe closed netwatch and its loop, exit 0"
else
	fail "SIGTERM: the probe closed netwatch and its loop, exit 0 (exit $rc)"
fi
if grep -qiE 'runtime error|AddressSanitizer|LeakSanitizer' "$tmp/err"; then
	fail "no sanitizer report"
fi
exit "$status"
