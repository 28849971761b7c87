#!/bin/sh
# A stand-in for OpenWrt's uci command, for the dnsmasq settings the init script changes
# (tests/openwrt/uci.sh): `uci [-q] get|set|add_list|delete|commit`, on a directory UCI_STATE
# that holds one file per option, named by its key (dhcp.@dnsmasq[0].server), with one value a
# line (a list has several); a section is a file named by its key holding its type. get prints
# a list's values separated by spaces, as uci does; a missing key is status 1 (with "uci: Entry
# not found" unless -q). commit appends "commit PACKAGE" to CALLS.
set -u
: "${UCI_STATE:?}" "${CALLS:?}"

quiet=
if [ "${1:-}" = -q ]; then
	quiet=1
	shift
fi
missing() {
	[ -n "$quiet" ] || echo "uci: Entry not found" >&2
	exit 1
}
cmd=${1:-}
arg=${2:-}
case $cmd in
get)
	[ -f "$UCI_STATE/$arg" ] || missing
	paste -s -d ' ' "$UCI_STATE/$arg"
	;;
set)
	printf '%s\n' "${arg#*=}" > "$UCI_STATE/${arg%%=*}"
	;;
add_list)
	printf '%s\n' "${arg#*=}" >> "$UCI_STATE/${arg%%=*}"
	;;
delete)
	[ -f "$UCI_STATE/$arg" ] || missing
	rm "$UCI_STATE/$arg"
	;;
commit)
	echo "commit $arg" >> "$CALLS"
	;;
*)
	echo "uci stand-in: no command '$cmd'" >&2
	exit 2
	;;
esac
