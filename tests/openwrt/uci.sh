#!/usr/bin/env bash
# etc/openwrt/dotd-uci.sh and dotd.init under sh (dash here) and busybox ash when installed
# (OpenWrt's /bin/sh), with stand-ins for OpenWrt's config_* functions (functions.sh, reading
# UCI files with uci2sh.py), rc.common and procd (rc.common.sh, procd_* recorded), the uci
# command (uci-cli.sh), logger and dnsmasq's init script:
#   - the shipped etc/openwrt/dotd.config and each of samples/*.uci: the YAML written, what
#     the real dotd makes of it (dotd -C FILE -i: listen addresses, upstreams, pins, options),
#     and each mistake refused with a message naming its option;
#   - values that try to add YAML keys (a newline, a tab, quotes, ': ', '#', backslashes):
#     refused, or kept inside their own value, never a key of their own;
#   - the init script: the procd instance (command, file, reload_signal HUP, respawn) and the
#     reload trigger; a configuration that does not check is not used, and a running one is
#     kept; manual mode copies manual_config; the directory of the control socket is made;
#   - dnsmasq: pointed at dotd's first listen address with noresolv on start and restarted
#     once, not again when nothing changed (reload, restart), and given its servers and
#     noresolv back on stop (not on shutdown), or when dnsmasq_config_update goes to 0.
#
# usage: uci.sh DOTD_BINARY SOURCE_DIR
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 DOTD_BINARY SOURCE_DIR" >&2
	exit 2
fi
dotd=$(realpath "$1")
src=$(realpath "$2")
here=$src/tests/openwrt
samples=$here/samples
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-uci.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

pass() { echo "PASS: $sh_name: $1"; }
fail() {
	echo "FAIL: $sh_name: $1"
	status=1
}
# ok WHAT COMMAND...: PASS when COMMAND succeeds.
ok() {
	local what=$1

	shift
	if [[ $1 == ! ]]; then
		shift
		if ! "$@"; then pass "$what"; else fail "$what"; fi
	elif "$@"; then pass "$what"; else fail "$what"; fi
}
# has FILE LINE: FILE has LINE, whole.
has() { grep -qxF -- "$2" "$1"; }
# block KEY FILE: the lines under top-level KEY: of FILE.
block() { awk -v k="$1:" '$0 == k { on = 1; next } on && /^[^ ]/ { exit } on' "$2"; }
# same WHAT FILE: FILE is stdin, else FAIL with the difference.
same() {
	local what=$1 file=$2

	if diff -u - "$file" > "$tmp/diff"; then pass "$what"; else
		fail "$what"
		cat "$tmp/diff"
	fi
}

mkdir -p "$tmp/config" "$tmp/bin"
# logger: records (the test must not write to the host's log).
cat > "$tmp/bin/logger" << 'EOS'
#!/bin/sh
echo "logger $*" >> "$CALLS"
EOS
# dnsmasq's init script: records.
cat > "$tmp/bin/dnsmasq.init" << 'EOS'
#!/bin/sh
echo "dnsmasq $*" >> "$CALLS"
EOS
chmod +x "$tmp/bin/logger" "$tmp/bin/dnsmasq.init"
ln -s "$here/uci-cli.sh" "$tmp/bin/uci"
export PATH="$tmp/bin:$PATH" UCI_CONFIG_DIR="$tmp/config" STANDIN_DIR="$here" \
	CALLS="$tmp/calls" UCI_STATE="$tmp/uci" PROCD_LOG="$tmp/procd" TEST_DOTD_BIN="$dotd" \
	TEST_UCI_LIB="$src/etc/openwrt/dotd-uci.sh" TEST_RUN_DIR="$tmp/run" \
	TEST_DNSMASQ_INIT="$tmp/bin/dnsmasq.init"

# gen UCI_FILE: dotd-uci.sh on it; sets gen_rc, and writes $tmp/out.yml, $tmp/err, and, when
# the generation succeeded, dotd -i's $tmp/eff.yml and $tmp/eff.err with eff_rc.
gen() {
	cp "$1" "$tmp/config/dotd"
	gen_rc=0
	# shellcheck disable=SC2016 # the inner shell's
	$sh -c '. "$1/functions.sh" && . "$2" && config_load dotd && dotd_uci_yaml' sh "$here" \
		"$src/etc/openwrt/dotd-uci.sh" > "$tmp/out.yml" 2> "$tmp/err" || gen_rc=$?
	eff_rc=
	rm -f "$tmp/eff.yml" "$tmp/eff.err"
	if [[ $gen_rc == 0 ]]; then
		eff_rc=0
		"$dotd" -C "$tmp/out.yml" -i > "$tmp/eff.yml" 2> "$tmp/eff.err" || eff_rc=$?
	fi
}

# loads WHAT: the generation succeeded and dotd loads what it wrote, without a notice.
loads() {
	if [[ $gen_rc == 0 && $eff_rc == 0 && ! -s $tmp/err && ! -s $tmp/eff.err ]]; then
		pass "$1: written, and dotd -i loads it"
	else
		fail "$1: generation $gen_rc, dotd -i ${eff_rc:-not run}"
		cat "$tmp/err" "$tmp/eff.err" 2> /dev/null || true
	fi
}

# refused WHAT LINE...: the generation failed with each LINE on stderr, and nothing else.
refused() {
	local what=$1 line n=0

	shift
	if [[ $gen_rc == 0 ]]; then
		fail "$what: not refused"
		return
	fi
	for line in "$@"; do
		n=$((n + 1))
		if ! has "$tmp/err" "$line"; then
			fail "$what: no '$line' in:"
			cat "$tmp/err"
			return
		fi
	done
	if [[ $(wc -l < "$tmp/err") != "$n" ]]; then
		fail "$what: other errors too:"
		cat "$tmp/err"
		return
	fi
	pass "$what: refused with its $n message(s)"
}

# The top-level keys of a file dotd -i printed, one a line, in order.
keys() { grep -o '^[a-z_]*:' "$1"; }

generation() {
	local e="dotd: /etc/config/dotd:"

	# The shipped default: listen on loopback port 5453, the eight upstreams of dotd's own
	# default (etc/dotd.yml), strict, the cache on tmpfs.
	gen "$src/etc/openwrt/dotd.config"
	loads "dotd.config"
	same "dotd.config: listen addresses" <(block listen_addresses "$tmp/eff.yml") << 'EOS'
  - "127.0.0.1@5453"
  - "::1@5453"
EOS
	"$dotd" -i > "$tmp/builtin.yml"
	ok "dotd.config: the upstreams of dotd's built-in default" \
		cmp -s <(block upstream_recursive_servers "$tmp/builtin.yml") \
		<(block upstream_recursive_servers "$tmp/eff.yml")
	if has "$tmp/eff.yml" "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" &&
		has "$tmp/eff.yml" "tls_unset_clock: fail" &&
		has "$tmp/eff.yml" "cache_size: 2097152" &&
		has "$tmp/eff.yml" 'cache_file: "/var/run/dotd/cache"' &&
		has "$tmp/eff.yml" 'control_socket: "/var/run/dotd/control.sock"' &&
		has "$tmp/eff.yml" 'user: "dotd"'; then
		pass "dotd.config: strict, clock fail, 2 MiB cache on /var/run, user dotd"
	else
		fail "dotd.config: strict, clock fail, 2 MiB cache on /var/run, user dotd"
	fi
	ok "dotd.config: no dnssec key written (unset)" ! grep -q dnssec "$tmp/out.yml"

	# The manual-mode file the package installs, from etc/dotd.yml.
	sh "$src/etc/openwrt/dotd-manual-yml.sh" < "$src/etc/dotd.yml" > "$tmp/manual.yml"
	local want_listen
	want_listen=$(printf '  - "%s"\n' 127.0.0.1@5453 ::1@5453)
	if "$dotd" -C "$tmp/manual.yml" -i > "$tmp/eff.yml" 2> "$tmp/eff.err" &&
		[[ ! -s $tmp/eff.err ]] && has "$tmp/eff.yml" 'user: "dotd"' &&
		has "$tmp/eff.yml" 'control_socket: "/var/run/dotd/control.sock"' &&
		[[ $(block listen_addresses "$tmp/eff.yml") == "$want_listen" ]]; then
		pass "dotd-manual-yml.sh: loads, port 5453, /var/run/dotd, user dotd"
	else
		fail "dotd-manual-yml.sh: not as expected"
		cat "$tmp/eff.err"
	fi

	gen "$samples/minimal.uci"
	loads "minimal.uci"
	same "minimal.uci: listen_addresses defaults to 127.0.0.1@5453" \
		<(block listen_addresses "$tmp/eff.yml") <<< '  - "127.0.0.1@5453"'

	gen "$samples/pins.uci"
	loads "pins.uci"
	local set_keys="tls_unset_clock|tls_min_version|round_robin_upstreams|upstream_selection"
	set_keys+="|idle_timeout|timeout|timeout_per_try|tls_connection_retries|tls_backoff_time"
	set_keys+="|tls_query_padding_blocksize|edns_client_subnet_private|cache_size|cache_max_ttl"
	set_keys+="|serve_stale_max|cache_file|log_level|listen_addresses"
	same "pins.uci: upstreams, ports and pins; the disabled one left out" \
		<(block upstream_recursive_servers "$tmp/eff.yml") << 'EOS'
  - address_data: "9.9.9.9"
    tls_port: 853
    tls_auth_name: "dns.quad9.net"
    tls_pubkey_pinset:
      - digest: "sha256"
        value: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
      - digest: "sha256"
        value: //79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=
  - address_data: "2620:fe::fe"
    tls_port: 8853
    tls_pubkey_pinset:
      - digest: "sha256"
        value: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
EOS
	same "pins.uci: the options, as dotd reads them" \
		<(grep -E "^($set_keys):" "$tmp/eff.yml") << 'EOS'
tls_unset_clock: accept_pinned
tls_query_padding_blocksize: 256
edns_client_subnet_private: 1
round_robin_upstreams: 0
idle_timeout: 9000
timeout: 3000
timeout_per_try: 600
tls_connection_retries: 3
tls_backoff_time: 600
cache_size: 1048576
cache_max_ttl: 3600
serve_stale_max: 0
cache_file: "/tmp/dotd-test/cache"
upstream_selection: fastest
log_level: GETDNS_LOG_INFO
tls_min_version: GETDNS_TLS1_3
listen_addresses:
EOS
	if has "$tmp/out.yml" '  - "192.168.1.1"' &&
		has "$tmp/out.yml" "dnssec: GETDNS_EXTENSION_FALSE"; then
		pass "pins.uci: bootstrap and dnssec '0' written"
	else
		fail "pins.uci: bootstrap and dnssec '0' written"
	fi

	gen "$samples/bad-values.uci"
	refused "bad-values.uci" \
		"$e option idle_timeout: '10s' is not a number (decimal digits only)" \
		"$e option round_robin_upstreams: 'maybe' is not a flag (1 or 0)" \
		"$e option tls_min_version: '1.0' is not 1.2 or 1.3" \
		"$e option log_level: '9' is not 0 (emergencies only) to 7 (debug)" \
		"$e option tls_unset_clock: 'accept' is not one of: fail accept_pinned" \
		"$e upstream cfg1: option address is missing (an IPv4 or IPv6 address)" \
		"$e upstream cfg2: option tls_port: '85x' is not a number" \
		"$e upstream cfg2: list tls_pubkey_pinset: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' is not DIGEST/VALUE (sha256/ and the base64 of the key's SHA-256)"
	gen "$samples/no-upstream.uci"
	refused "no-upstream.uci" "$e no upstream: add a 'config upstream' section with option address"

	# dnssec '1' with its trust anchor and a negative one: dotd loads it and validates.
	gen "$samples/dnssec.uci"
	if [[ $gen_rc == 0 && $eff_rc == 0 ]] && has "$tmp/eff.yml" "dnssec: GETDNS_EXTENSION_TRUE" &&
		grep -q '/usr/share/dns/root.key' "$tmp/eff.yml" &&
		grep -q '"broken.example."' "$tmp/eff.yml"; then
		pass "dnssec.uci: dnssec, trust_anchor and negative_trust_anchor written, dotd loads them"
	else
		fail "dnssec.uci: generation $gen_rc, dotd -i ${eff_rc:-not run}"
		cat "$tmp/err" "$tmp/eff.err" 2> /dev/null || true
	fi

	# Adversarial values.
	gen "$samples/inject-newline.uci"
	refused "inject-newline.uci: a newline in a value" \
		"$e list listen_address: '127.0.0.1@5453\"?tls_authentication: GETDNS_AUTHENTICATION_NONE?user: \"root' holds a control character (a newline, a tab)" \
		"$e upstream cfg1: option tls_auth_name: 'dns.quad9.net\"?    tls_pubkey_pinset: []' holds a control character (a newline, a tab)"
	ok "inject-newline.uci: no key of the value written" \
		! grep -qE '^(tls_authentication|user|    tls_pubkey_pinset):' "$tmp/out.yml"
	gen "$samples/inject-tab.uci"
	refused "inject-tab.uci: a tab in a value" \
		"$e option hosts_file: '/etc/ho?sts' holds a control character (a newline, a tab)"

	gen "$samples/inject-quotes.uci"
	loads "inject-quotes.uci"
	if has "$tmp/eff.yml" \
		'hosts_file: "/tmp/h: \"x\", tls_authentication: GETDNS_AUTHENTICATION_NONE # \\"' &&
		has "$tmp/eff.yml" 'cache_file: "/tmp/c\\\"}: {user: root"'; then
		pass "inject-quotes.uci: each value read back whole by dotd"
	else
		fail "inject-quotes.uci: each value read back whole by dotd"
	fi
	if has "$tmp/eff.yml" "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" &&
		has "$tmp/eff.yml" "# user: not set (dotd keeps the user it was started as)"; then
		pass "inject-quotes.uci: still strict, no user"
	else
		fail "inject-quotes.uci: still strict, no user"
	fi
	keys "$tmp/eff.yml" > "$tmp/keys.injected"
	sed -e "s|^\toption hosts_file .*|\toption hosts_file '/tmp/h'|" \
		-e "s|^\toption cache_file .*|\toption cache_file '/tmp/c'|" \
		"$samples/inject-quotes.uci" > "$tmp/plain.uci"
	gen "$tmp/plain.uci"
	ok "inject-quotes.uci: the keys of the same file with plain values, no other" \
		cmp -s <(keys "$tmp/eff.yml") "$tmp/keys.injected"

	gen "$samples/inject-name.uci"
	if [[ $gen_rc == 0 && $eff_rc == 2 ]] &&
		grep -q "key 'listen_addresses': bad address '127.0.0.1@5453\", \"0.0.0.0@53'" "$tmp/eff.err" &&
		grep -qF "key 'tls_auth_name': 'dns.quad9.net\", tls_pubkey_pinset: [], x: \"' is not" \
			"$tmp/eff.err" &&
		[[ $(wc -l < "$tmp/eff.err") == 2 ]]; then
		pass "inject-name.uci: one address and one name, each refused by dotd as a value"
	else
		fail "inject-name.uci: generation $gen_rc, dotd -i ${eff_rc:-not run}"
		cat "$tmp/eff.err" 2> /dev/null || true
	fi
}

# --- The init script -----------------------------------------------------------------------

# rc ACTION: the init script as rc.common runs it; sets rc_rc. Empties the records first.
rc() {
	rm -f "$CALLS" "$PROCD_LOG"
	touch "$CALLS" "$PROCD_LOG"
	rc_rc=0
	$sh "$here/rc.common.sh" "$src/etc/openwrt/dotd.init" "$1" > "$tmp/rc.out" 2>&1 || rc_rc=$?
}
# dnsmasq_state: dhcp.@dnsmasq[0]'s server, noresolv and dotd_backup_* as uci gets them.
dnsmasq_state() {
	local o

	for o in server noresolv dotd_backup dotd_backup_server dotd_backup_noresolv; do
		echo "$o=$(uci -q get "dhcp.@dnsmasq[0].$o" || echo '(unset)')"
	done
}
# dnsmasq_setup NORESOLV SERVER...: a dnsmasq section with these settings (NORESOLV - unset).
dnsmasq_setup() {
	rm -rf "$UCI_STATE"
	mkdir -p "$UCI_STATE"
	echo dnsmasq > "$UCI_STATE/dhcp.@dnsmasq[0]"
	[[ $1 == - ]] || uci set "dhcp.@dnsmasq[0].noresolv=$1"
	shift
	for s in "$@"; do uci add_list "dhcp.@dnsmasq[0].server=$s"; done
}
# uci_config FILE [SED]: FILE, edited by SED, as /etc/config/dotd.
uci_config() { sed -e "${2:-}" "$1" > "$tmp/config/dotd"; }

init_script() {
	local run=$TEST_RUN_DIR

	rm -rf "$run"
	dnsmasq_setup - 8.8.8.8 /lan/192.168.1.1
	uci_config "$src/etc/openwrt/dotd.config" "s|/var/run/dotd/|$tmp/var/run/dotd/|"
	rm -rf "${tmp:?}/var"
	rc start
	same "start: the procd service, its instance and its trigger" "$PROCD_LOG" << EOS
open_service dotd $src/etc/openwrt/dotd.init
open_instance dotd
set_param command $dotd -C $run/dotd.yml
set_param file $run/dotd.yml
set_param reload_signal HUP
set_param respawn
set_param stdout 1
set_param stderr 1
close_instance
add_reload_trigger dotd
close_service set
EOS
	if [ "$rc_rc" = 0 ] && [ ! -s "$tmp/rc.out" ]; then
		pass "start: status 0, quiet"
	else
		fail "start: status 0, quiet"
	fi
	# shellcheck disable=SC2016 # the inner shell's
	if cmp -s "$run/dotd.yml" <($sh -c '. "$1/functions.sh" && . "$2" && config_load dotd &&
		dotd_uci_yaml' sh "$here" "$TEST_UCI_LIB") &&
		cmp -s <(tail -n +2 "$run/effective.yml") <("$dotd" -C "$run/dotd.yml" -i | tail -n +2); then
		pass "start: dotd.yml is dotd-uci.sh's, effective.yml dotd -i's"
	else
		fail "start: dotd.yml is dotd-uci.sh's, effective.yml dotd -i's"
	fi
	ok "start: the control socket's directory made" [ -d "$tmp/var/run/dotd" ]
	same "start: dnsmasq forwards to dotd (and /lan/ where it did), its settings kept" \
		<(dnsmasq_state) << 'EOS'
server=127.0.0.1#5453 /lan/192.168.1.1
noresolv=1
dotd_backup=1
dotd_backup_server=8.8.8.8 /lan/192.168.1.1
dotd_backup_noresolv=(unset)
EOS
	same "start: dhcp committed, dnsmasq restarted once" "$CALLS" << 'EOS'
commit dhcp
dnsmasq restart
EOS

	rc reload
	ok "reload, nothing changed: dnsmasq left alone" [ ! -s "$CALLS" ]
	ok "reload: the same instance (procd sends nothing)" grep -qxF "set_param file $run/dotd.yml" \
		"$PROCD_LOG"
	rc restart
	ok "restart: dnsmasq left alone (no restore, no restart)" [ ! -s "$CALLS" ]
	rc shutdown
	if [ ! -s "$CALLS" ] &&
		[ "$(uci get 'dhcp.@dnsmasq[0].server')" = "127.0.0.1#5453 /lan/192.168.1.1" ]; then
		pass "shutdown: dnsmasq keeps forwarding to dotd"
	else
		fail "shutdown: dnsmasq keeps forwarding to dotd"
	fi

	# A configuration that does not check: the running one stays.
	cp "$run/dotd.yml" "$tmp/good.yml"
	uci_config "$src/etc/openwrt/dotd.config" "s|'9.9.9.9'|'9.9.9.9.9'|"
	rc reload
	if cmp -s "$run/dotd.yml" "$tmp/good.yml" && grep -qx "open_instance dotd" "$PROCD_LOG"; then
		pass "reload of a bad address: dotd.yml unchanged, the instance kept"
	else
		fail "reload of a bad address: dotd.yml unchanged, the instance kept"
	fi
	if grep -q "^logger -t dotd -p daemon.err .*key 'address_data': bad address '9.9.9.9.9'" \
		"$CALLS" && grep -q "does not check: not used" "$tmp/rc.out"; then
		pass "reload of a bad address: dotd's error logged"
	else
		fail "reload of a bad address: dotd's error logged"
	fi
	uci_config "$src/etc/openwrt/dotd.config" "s|'10000'|'10s'|"
	rc reload
	if grep -qF "logger -t dotd -p daemon.err dotd: /etc/config/dotd: option idle_timeout: '10s'" \
		"$CALLS" && cmp -s "$run/dotd.yml" "$tmp/good.yml"; then
		pass "reload of a bad number: dotd-uci.sh's error logged, dotd.yml unchanged"
	else
		fail "reload of a bad number: dotd-uci.sh's error logged, dotd.yml unchanged"
	fi
	rm -rf "$run"
	rc start
	if [ "$rc_rc" = 1 ] && ! grep -q open_instance "$PROCD_LOG" && [ ! -e "$run/dotd.yml" ]; then
		pass "start of a bad configuration with none before: status 1, no instance"
	else
		fail "start of a bad configuration with none before: status 1, no instance"
	fi

	# dnsmasq_config_update to 0: dnsmasq's settings back.
	uci_config "$src/etc/openwrt/dotd.config" "s|dnsmasq_config_update '1'|dnsmasq_config_update '0'|"
	rc reload
	same "dnsmasq_config_update 0, reload: dnsmasq's servers back" <(dnsmasq_state) << 'EOS'
server=8.8.8.8 /lan/192.168.1.1
noresolv=(unset)
dotd_backup=(unset)
dotd_backup_server=(unset)
dotd_backup_noresolv=(unset)
EOS
	same "dnsmasq_config_update 0, reload: committed, dnsmasq restarted" "$CALLS" << 'EOS'
commit dhcp
dnsmasq restart
EOS
	rc start
	ok "dnsmasq_config_update 0: dnsmasq never touched" [ ! -s "$CALLS" ]

	# Stop gives back noresolv as it was, and the server list in order.
	dnsmasq_setup 0 /lan/192.168.1.1 9.9.9.9
	uci_config "$src/etc/openwrt/dotd.config"
	rc start
	ok "start: dotd first, the domain's server kept, 9.9.9.9 gone" \
		[ "$(uci get 'dhcp.@dnsmasq[0].server')" = "127.0.0.1#5453 /lan/192.168.1.1" ]
	rc stop
	same "stop: dnsmasq's servers and noresolv as they were" <(dnsmasq_state) << 'EOS'
server=/lan/192.168.1.1 9.9.9.9
noresolv=0
dotd_backup=(unset)
dotd_backup_server=(unset)
dotd_backup_noresolv=(unset)
EOS
	if [ "$(cat "$CALLS")" = "$(printf 'commit dhcp\ndnsmasq restart')" ] &&
		grep -qx "kill dotd" "$PROCD_LOG"; then
		pass "stop: committed, dnsmasq restarted, dotd killed"
	else
		fail "stop: committed, dnsmasq restarted, dotd killed"
	fi
	rc stop
	ok "stop again: nothing to give back" [ ! -s "$CALLS" ]
	dnsmasq_setup -
	rc start
	rc stop
	same "no servers before: none after" <(dnsmasq_state) << 'EOS'
server=(unset)
noresolv=(unset)
dotd_backup=(unset)
dotd_backup_server=(unset)
dotd_backup_noresolv=(unset)
EOS

	# Manual mode: the YAML file copied as it is, dnsmasq pointed at its listen address.
	dnsmasq_setup - 8.8.8.8
	cat > "$tmp/manual.yml" << EOS
listen_addresses: ["0.0.0.0@5454"]
control_socket: "$tmp/manual-run/control.sock"
upstream_recursive_servers:
  - tls://9.9.9.9#dns.quad9.net
EOS
	cat > "$tmp/config/dotd" << EOS
config dotd 'main'
	option manual '1'
	option manual_config '$tmp/manual.yml'
	option dnsmasq_config_update '1'
	list listen_address '127.0.0.1@5453'
EOS
	rc start
	if [ "$rc_rc" = 0 ] &&
		cmp -s "$tmp/manual.yml" "$run/dotd.yml" && [ -d "$tmp/manual-run" ]; then
		pass "manual: manual_config copied, as it is"
	else
		fail "manual: manual_config copied, as it is"
	fi
	ok "manual: dnsmasq forwards to its listen address (loopback for 0.0.0.0)" \
		[ "$(uci get 'dhcp.@dnsmasq[0].server')" = "127.0.0.1#5454" ]
	cp "$run/dotd.yml" "$tmp/good.yml"
	echo "tls_unset_clock: sometimes" >> "$tmp/manual.yml"
	rc reload
	if cmp -s "$run/dotd.yml" "$tmp/good.yml" &&
		grep -q "key 'tls_unset_clock'" "$CALLS" && grep -qx "open_instance dotd" "$PROCD_LOG"; then
		pass "manual: a file that does not check is not used"
	else
		fail "manual: a file that does not check is not used"
	fi
	rm "$tmp/manual.yml"
	rc reload
	if grep -qF "option manual is 1, and $tmp/manual.yml cannot be read" "$CALLS" &&
		cmp -s "$run/dotd.yml" "$tmp/good.yml"; then
		pass "manual: a file that is missing is said so"
	else
		fail "manual: a file that is missing is said so"
	fi

	# No dnsmasq installed: nothing done, no error.
	rm -rf "$UCI_STATE"
	mkdir -p "$UCI_STATE"
	uci_config "$src/etc/openwrt/dotd.config"
	rc start
	if [ "$rc_rc" = 0 ] && [ ! -s "$CALLS" ] &&
		[ -z "$(ls "$UCI_STATE")" ]; then
		pass "no dnsmasq: started, dhcp untouched"
	else
		fail "no dnsmasq: started, dhcp untouched"
	fi
}

shells=("sh")
if command -v busybox > /dev/null && busybox sh -c : 2> /dev/null; then
	shells+=("busybox sh")
else
	echo "SKIP: busybox ash (busybox is not installed): dash only"
fi
for sh_name in "${shells[@]}"; do
	sh=$sh_name
	generation
	init_script
done
exit "$status"
