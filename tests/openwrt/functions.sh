# shellcheck shell=sh
# shellcheck disable=SC3043 # local: busybox ash (OpenWrt's /bin/sh) and dash have it
#
# A stand-in for the part of OpenWrt's /lib/functions.sh that etc/openwrt/dotd-uci.sh and
# dotd.init use, for the tests under sh (dash, or busybox ash): config_load, config_get,
# config_get_bool, config_foreach and config_list_foreach, on the file UCI_CONFIG_DIR/PACKAGE,
# read by uci2sh.py. Written for these tests, not OpenWrt's: it keeps sections and options in
# variables _standin_*, and has none of the rest (config_set, uci_* helpers, callbacks).

: "${UCI_CONFIG_DIR:?set UCI_CONFIG_DIR to the directory of the UCI files}"
: "${STANDIN_DIR:?set STANDIN_DIR to tests/openwrt}"

_standin_sections=

_standin_section() {
	_standin_sections="$_standin_sections $2"
	eval "_standin_t_$2=\$1"
}

_standin_option() {
	eval "_standin_o_$1__$2=\$3"
}

_standin_list() {
	local n

	eval "n=\${_standin_n_$1__$2:-0}"
	n=$((n + 1))
	eval "_standin_n_$1__$2=\$n; _standin_l_$1__$2_$n=\$3"
}

# config_load PACKAGE: status 1 when the file does not parse.
config_load() {
	local code

	_standin_sections=
	code=$(/usr/bin/python3 "$STANDIN_DIR/uci2sh.py" "$UCI_CONFIG_DIR/$1") || return 1
	eval "$code"
}

# config_get VAR SECTION OPTION [DEFAULT]: a list's items are joined by spaces, as OpenWrt does.
config_get() {
	local _v _n _i _item

	case $3 in
	*[!A-Za-z0-9_]* | '') eval "$1=\$4"; return 0 ;;
	esac
	case $2 in
	*[!A-Za-z0-9_]* | '') eval "$1=\$4"; return 0 ;;
	esac
	if eval "[ -n \"\${_standin_o_$2__$3+set}\" ]"; then
		eval "_v=\$_standin_o_$2__$3"
	else
		eval "_n=\${_standin_n_$2__$3:-0}"
		if [ "$_n" -eq 0 ]; then
			_v=$4
		else
			_v=
			_i=1
			while [ "$_i" -le "$_n" ]; do
				eval "_item=\$_standin_l_$2__$3_$_i"
				_v="${_v:+$_v }$_item"
				_i=$((_i + 1))
			done
		fi
	fi
	eval "$1=\$_v"
}

config_get_bool() {
	local _b

	config_get _b "$2" "$3" "$4"
	case $_b in
	1 | on | true | yes | enabled) _b=1 ;;
	0 | off | false | no | disabled) _b=0 ;;
	*) _b=$4 ;;
	esac
	eval "$1=\$_b"
}

# config_foreach FUNCTION [TYPE] [ARG...]
config_foreach() {
	local fn="$1" type="${2:-}" s t

	if [ $# -ge 2 ]; then shift 2; else shift; fi
	for s in $_standin_sections; do
		eval "t=\$_standin_t_$s"
		[ -z "$type" ] || [ "$t" = "$type" ] || continue
		"$fn" "$s" "$@"
	done
}

# config_list_foreach SECTION OPTION FUNCTION [ARG...]
config_list_foreach() {
	local sec="$1" opt="$2" fn="$3" n i item

	shift 3
	eval "n=\${_standin_n_${sec}__$opt:-0}"
	i=1
	while [ "$i" -le "$n" ]; do
		eval "item=\$_standin_l_${sec}__${opt}_$i"
		"$fn" "$item" "$@"
		i=$((i + 1))
	done
}
