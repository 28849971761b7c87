#!/usr/bin/env bash
# etc/openwrt/dotd.hotplug, sourced in a subshell as OpenWrt's hotplug-call does, under sh
# (dash here; busybox ash on a router), with a fake dotd-ctl that records its arguments and a
# fake pidof that says whether dotd runs:
#   - ifup, ifdown, and an ifupdate that changed addresses or routes: dotd-ctl network-changed,
#     with -t 2, and -s when DOTD_CTL_SOCKET is set
#   - an ifupdate of data only, ifup-failed, iflink, free, no ACTION: nothing
#   - the socket: DOTD_CTL_SOCKET, else the control_socket of /etc/init.d/dotd's effective.yml
#   - dotd not running, or dotd-ctl failing: nothing printed, status 0
#
# usage: hotplug.sh HOTPLUG_SCRIPT
set -uo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 HOTPLUG_SCRIPT" >&2
	exit 2
fi
script=$(realpath "$1")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-hotplug.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

mkdir "$tmp/bin"
cat > "$tmp/bin/dotd-ctl" << 'EOS'
#!/bin/sh
echo "$*" >> "$CALLS"
echo "dotd-ctl: some message" >&2
exit "${CTL_EXIT:-0}"
EOS
cat > "$tmp/bin/pidof" << 'EOS'
#!/bin/sh
[ "$1" = dotd ] && [ -n "$DOTD_RUNS" ] && echo 1234
EOS
chmod +x "$tmp/bin/dotd-ctl" "$tmp/bin/pidof"

# run VAR=VALUE...: the script as hotplug-call runs it; sets rc, out (stdout and stderr), calls.
run() {
	rm -f "$tmp/calls"
	# shellcheck disable=SC2016 # $1 and $? are the inner shell's
	out=$(env -i PATH="$tmp/bin:/usr/bin:/bin" CALLS="$tmp/calls" "$@" \
		sh -c '( . "$1" ); echo "subshell:$?"' sh "$script" 2>&1)
	rc=${out##*subshell:}
	out=${out%subshell:*}
	calls=$(cat "$tmp/calls" 2> /dev/null)
}

check() {
	local what=$1 want=$2
	shift 2
	run "$@"
	if [[ $rc == 0 && -z $out && $calls == "$want" ]]; then
		echo "PASS: $what"
	else
		echo "FAIL: $what: want calls '$want', got '$calls' (status $rc, output '$out')"
		status=1
	fi
}

nc="-t 2 network-changed"
check "ifup: network-changed" "$nc" DOTD_RUNS=1 ACTION=ifup INTERFACE=wan DEVICE=eth0
check "ifdown: network-changed" "$nc" DOTD_RUNS=1 ACTION=ifdown INTERFACE=wan
check "ifupdate of addresses: network-changed" "$nc" DOTD_RUNS=1 ACTION=ifupdate \
	INTERFACE=wan IFUPDATE_ADDRESSES=1
check "ifupdate of routes: network-changed" "$nc" DOTD_RUNS=1 ACTION=ifupdate INTERFACE=wan \
	IFUPDATE_ROUTES=1
check "DOTD_CTL_SOCKET: passed as -s" "-s /var/run/dotd/control.sock $nc" DOTD_RUNS=1 \
	ACTION=ifup INTERFACE=lan DOTD_CTL_SOCKET=/var/run/dotd/control.sock
cat > "$tmp/effective.yml" << 'EOS'
tcp_messages_per_read: 32
# user: not set (dotd keeps the user it was started as)
control_socket: "/var/run/dotd/control.sock"
cache_file: "/var/run/dotd/cache"
EOS
check "socket read from /etc/init.d/dotd's effective.yml" "-s /var/run/dotd/control.sock $nc" \
	DOTD_RUNS=1 ACTION=ifup INTERFACE=wan DOTD_EFFECTIVE="$tmp/effective.yml"
check "DOTD_CTL_SOCKET wins over effective.yml" "-s /tmp/other.sock $nc" DOTD_RUNS=1 \
	ACTION=ifup INTERFACE=wan DOTD_EFFECTIVE="$tmp/effective.yml" DOTD_CTL_SOCKET=/tmp/other.sock
grep -v control_socket "$tmp/effective.yml" > "$tmp/nosock.yml"
check "effective.yml without control_socket: dotd-ctl's default" "$nc" DOTD_RUNS=1 ACTION=ifup \
	INTERFACE=wan DOTD_EFFECTIVE="$tmp/nosock.yml"
check "ifupdate of data only: nothing" "" DOTD_RUNS=1 ACTION=ifupdate INTERFACE=wan \
	IFUPDATE_DATA=1
check "ifupdate of prefixes only: nothing" "" DOTD_RUNS=1 ACTION=ifupdate INTERFACE=wan \
	IFUPDATE_PREFIXES=1
for a in ifup-failed iflink free create reload; do
	check "$a: nothing" "" DOTD_RUNS=1 ACTION=$a INTERFACE=wan
done
check "no ACTION: nothing" "" DOTD_RUNS=1
check "dotd not running: nothing" "" ACTION=ifup INTERFACE=wan
check "dotd-ctl failing: quiet, status 0" "$nc" DOTD_RUNS=1 CTL_EXIT=1 ACTION=ifup \
	INTERFACE=wan
rm "$tmp/bin/dotd-ctl"
check "no dotd-ctl installed: nothing, status 0" "" DOTD_RUNS=1 ACTION=ifup INTERFACE=wan

exit "$status"
