# shellcheck shell=sh
# shellcheck disable=SC3043 # local: busybox ash (OpenWrt's /bin/sh) and dash have it
#
# /usr/share/dotd/dotd-uci.sh: the YAML dotd reads, made from /etc/config/dotd (UCI). Sourced by
# /etc/init.d/dotd after OpenWrt's /lib/functions.sh, whose config_load, config_get and
# config_foreach it uses; tests/openwrt/uci.sh sources it with a stand-in for those.
#
#   config_load dotd && dotd_uci_yaml > FILE
#
# writes the configuration to stdout and returns 1, with one line per mistake on stderr, if an
# option cannot be written as it is. Every string goes out as a YAML double-quoted scalar with
# its backslashes and quotes escaped, and a value holding a control character (a newline, a tab)
# is refused: no UCI value can end its line and start a key of its own. Numbers, flags and
# names are checked here so that the message names the UCI option; what they mean (an address,
# a range) is dotd's to check, with `dotd -C FILE -i`, which the init script runs before use.
# Options left unset are not written: dotd's defaults (docs/CONFIG.md) apply, except
# listen_addresses, 127.0.0.1@5453 when none is listed (dnsmasq keeps port 53).

_dotd_uci_err=0

# _dotd_uci_fail MESSAGE...: one mistake, on stderr.
_dotd_uci_fail() {
	echo "dotd: /etc/config/dotd: $*" >&2
	_dotd_uci_err=1
}

# _dotd_uci_shown VALUE: VALUE for a message, control characters as '?'.
_dotd_uci_shown() {
	printf '%s' "$1" | tr '[:cntrl:]' '?'
}

# _dotd_uci_quote VALUE: VALUE as a YAML double-quoted scalar; status 1 for a control character.
_dotd_uci_quote() {
	case $1 in
	*[[:cntrl:]]*) return 1 ;;
	esac
	printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# _dotd_uci_str INDENT KEY VALUE WHAT: "INDENTKEY: "VALUE"", WHAT naming the option in errors.
_dotd_uci_str() {
	local q

	if q=$(_dotd_uci_quote "$3"); then
		printf '%s%s: %s\n' "$1" "$2" "$q"
	else
		_dotd_uci_fail "$4: '$(_dotd_uci_shown "$3")' holds a control character (a newline, a tab)"
	fi
}

# _dotd_uci_item INDENT VALUE WHAT: a list item, "INDENT- "VALUE"".
_dotd_uci_item() {
	local q

	if q=$(_dotd_uci_quote "$2"); then
		printf '%s- %s\n' "$1" "$q"
	else
		_dotd_uci_fail "$3: '$(_dotd_uci_shown "$2")' holds a control character (a newline, a tab)"
	fi
}

# _dotd_uci_int SECTION OPTION [KEY]: a decimal number, as KEY (default OPTION), when set.
_dotd_uci_int() {
	local v

	config_get v "$1" "$2"
	[ -n "$v" ] || return 0
	case $v in
	*[!0-9]*)
		_dotd_uci_fail "option $2: '$(_dotd_uci_shown "$v")' is not a number (decimal digits only)"
		return 0
		;;
	esac
	printf '%s: %s\n' "${3:-$2}" "$v"
}

# _dotd_uci_bool VAR SECTION OPTION: VAR set to 1, 0, or empty when the option is unset. UCI's
# spellings (1/0, yes/no, on/off, true/false, enabled/disabled); anything else is a mistake,
# where config_get_bool would quietly take the default.
_dotd_uci_bool() {
	local _dotd_b

	config_get _dotd_b "$2" "$3"
	case $_dotd_b in
	1 | yes | on | true | enabled) _dotd_b=1 ;;
	0 | no | off | false | disabled) _dotd_b=0 ;;
	'') ;;
	*)
		_dotd_uci_fail "option $3: '$(_dotd_uci_shown "$_dotd_b")' is not a flag (1 or 0)"
		_dotd_b=
		;;
	esac
	eval "$1=\$_dotd_b"
}

# _dotd_uci_flag SECTION OPTION: a 0/1 key of the same name, when set.
_dotd_uci_flag() {
	local f

	_dotd_uci_bool f "$1" "$2"
	[ -z "$f" ] || printf '%s: %s\n' "$2" "$f"
}

# _dotd_uci_word SECTION OPTION WORD...: one of the WORDs, when set.
_dotd_uci_word() {
	local sec="$1" opt="$2" v w

	shift 2
	config_get v "$sec" "$opt"
	[ -n "$v" ] || return 0
	for w in "$@"; do
		if [ "$v" = "$w" ]; then
			printf '%s: %s\n' "$opt" "$v"
			return 0
		fi
	done
	_dotd_uci_fail "option $opt: '$(_dotd_uci_shown "$v")' is not one of: $*"
}

# _dotd_uci_tls_version SECTION OPTION: 1.2 or 1.3, as GETDNS_TLS1_2 or GETDNS_TLS1_3.
_dotd_uci_tls_version() {
	local v

	config_get v "$1" "$2"
	case $v in
	'') ;;
	1.2 | 1.3) echo "$2: GETDNS_TLS$(echo "$v" | tr . _)" ;;
	*) _dotd_uci_fail "option $2: '$(_dotd_uci_shown "$v")' is not 1.2 or 1.3" ;;
	esac
}

_dotd_uci_list_head=
# _dotd_uci_list_item VALUE KEY WHAT: config_list_foreach's callback for a top-level list: the
# key's line before its first item.
_dotd_uci_list_item() {
	if [ -z "$_dotd_uci_list_head" ]; then
		echo "$2:"
		_dotd_uci_list_head=1
	fi
	_dotd_uci_item "  " "$1" "$3"
}

# _dotd_uci_list SECTION OPTION KEY: a list option as a top-level list, when it has items.
_dotd_uci_list() {
	_dotd_uci_list_head=
	config_list_foreach "$1" "$2" _dotd_uci_list_item "$3" "list $2"
}

_dotd_uci_pin_head=
# _dotd_uci_pin DIGEST/VALUE SECTION: one tls_pubkey_pinset entry of an upstream.
_dotd_uci_pin() {
	local digest value

	case $1 in
	*/*) ;;
	*)
		_dotd_uci_fail "upstream $2: list tls_pubkey_pinset: '$(_dotd_uci_shown "$1")' is not" \
			"DIGEST/VALUE (sha256/ and the base64 of the key's SHA-256)"
		return 0
		;;
	esac
	digest=${1%%/*}
	value=${1#*/}
	if [ -z "$_dotd_uci_pin_head" ]; then
		echo "    tls_pubkey_pinset:"
		_dotd_uci_pin_head=1
	fi
	_dotd_uci_str "      - " digest "$digest" "upstream $2: list tls_pubkey_pinset"
	_dotd_uci_str "        " value "$value" "upstream $2: list tls_pubkey_pinset"
}

_dotd_uci_n_upstreams=0
# _dotd_uci_upstream SECTION: one `config upstream` (skipped with option enabled '0').
_dotd_uci_upstream() {
	local sec="$1" on address name port

	_dotd_uci_bool on "$sec" enabled
	[ "$on" != 0 ] || return 0
	config_get address "$sec" address
	config_get name "$sec" tls_auth_name
	config_get port "$sec" tls_port
	if [ -z "$address" ]; then
		_dotd_uci_fail "upstream $sec: option address is missing (an IPv4 or IPv6 address)"
		return 0
	fi
	[ "$_dotd_uci_n_upstreams" -gt 0 ] || echo "upstream_recursive_servers:"
	_dotd_uci_n_upstreams=$((_dotd_uci_n_upstreams + 1))
	_dotd_uci_str "  - " address_data "$address" "upstream $sec: option address"
	if [ -n "$port" ]; then
		case $port in
		*[!0-9]*) _dotd_uci_fail "upstream $sec: option tls_port: '$(_dotd_uci_shown "$port")'" \
			"is not a number" ;;
		*) echo "    tls_port: $port" ;;
		esac
	fi
	[ -z "$name" ] || _dotd_uci_str "    " tls_auth_name "$name" "upstream $sec: option tls_auth_name"
	_dotd_uci_pin_head=
	config_list_foreach "$sec" tls_pubkey_pinset _dotd_uci_pin "$sec"
}

# dotd_uci_yaml: the configuration of the loaded UCI package (config_load dotd), on stdout.
dotd_uci_yaml() {
	local s=main v auth

	_dotd_uci_err=0
	_dotd_uci_n_upstreams=0
	echo "# Written by /etc/init.d/dotd from /etc/config/dotd: edit that file (or set option"
	echo "# manual '1' there and write /etc/dotd/dotd.yml), not this one. docs/CONFIG.md has the keys."

	_dotd_uci_list_head=
	config_list_foreach "$s" listen_address _dotd_uci_list_item listen_addresses \
		"list listen_address"
	[ -n "$_dotd_uci_list_head" ] || printf 'listen_addresses:\n  - "127.0.0.1@5453"\n'

	_dotd_uci_bool auth "$s" tls_authentication
	case $auth in
	1) echo "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" ;;
	0) echo "tls_authentication: GETDNS_AUTHENTICATION_NONE" ;;
	esac
	_dotd_uci_word "$s" tls_unset_clock fail accept_pinned
	_dotd_uci_tls_version "$s" tls_min_version
	_dotd_uci_tls_version "$s" tls_max_version
	config_get v "$s" tls_ca_file
	[ -z "$v" ] || _dotd_uci_str "" tls_ca_file "$v" "option tls_ca_file"

	_dotd_uci_flag "$s" round_robin_upstreams
	_dotd_uci_word "$s" upstream_selection round_robin_upstreams fastest
	_dotd_uci_int "$s" idle_timeout
	_dotd_uci_int "$s" timeout
	_dotd_uci_int "$s" timeout_per_try
	_dotd_uci_int "$s" tls_connection_retries
	_dotd_uci_int "$s" tls_backoff_time
	_dotd_uci_int "$s" tls_query_padding_blocksize
	_dotd_uci_flag "$s" edns_client_subnet_private

	_dotd_uci_int "$s" cache_size
	_dotd_uci_int "$s" cache_min_ttl
	_dotd_uci_int "$s" cache_max_ttl
	_dotd_uci_int "$s" serve_stale_max
	config_get v "$s" cache_file
	[ -z "$v" ] || _dotd_uci_str "" cache_file "$v" "option cache_file"

	# dnssec: written only when set. '1' validates (docs/CONFIG.md) against the trust anchor
	# files of list trust_anchor: OpenWrt has no dns-root-data, so the package's dotd has no
	# built-in anchor file and one must be named (a root.key in DS or DNSKEY form).
	_dotd_uci_bool v "$s" dnssec
	case $v in
	1) echo "dnssec: GETDNS_EXTENSION_TRUE" ;;
	0) echo "dnssec: GETDNS_EXTENSION_FALSE" ;;
	esac
	_dotd_uci_list "$s" trust_anchor dnssec_trust_anchors
	_dotd_uci_list "$s" negative_trust_anchor dnssec_negative_trust_anchors

	config_get v "$s" log_level
	case $v in
	'') ;;
	[0-7]) echo "log_level: $v" ;;
	*) _dotd_uci_fail "option log_level: '$(_dotd_uci_shown "$v")' is not 0 (emergencies" \
		"only) to 7 (debug)" ;;
	esac
	for v in user control_socket hosts_file metrics_listen; do
		_dotd_uci_opt_str "$s" "$v"
	done
	_dotd_uci_list "$s" blocklist blocklists
	_dotd_uci_list "$s" allowlist allowlists
	_dotd_uci_list "$s" bootstrap bootstrap

	config_foreach _dotd_uci_upstream upstream
	[ "$_dotd_uci_n_upstreams" -gt 0 ] ||
		_dotd_uci_fail "no upstream: add a 'config upstream' section with option address"
	return "$_dotd_uci_err"
}

# _dotd_uci_opt_str SECTION OPTION: a string option as the key of the same name, when set.
_dotd_uci_opt_str() {
	local v

	config_get v "$1" "$2"
	[ -z "$v" ] || _dotd_uci_str "" "$2" "$v" "option $2"
}

# dotd_uci_listen FILE: the first listen address of the effective configuration that
# `dotd -C FILE -i` printed to FILE (normalized: always IP@PORT), as dnsmasq writes a server:
# IP#PORT, with loopback for a wildcard address.
dotd_uci_listen() {
	local la addr port

	la=$(sed -n '/^listen_addresses:/,/^[^ ]/s/^  - "\(.*\)"$/\1/p' "$1" | head -n 1)
	[ -n "$la" ] || return 1
	addr=${la%@*}
	port=${la##*@}
	case $addr in
	0.0.0.0) addr=127.0.0.1 ;;
	::) addr=::1 ;;
	esac
	echo "$addr#$port"
}
