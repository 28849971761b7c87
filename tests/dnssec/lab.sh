# lab.sh: the DNSSEC lab that DNSSEC tests share: the signed world of world.sh served by a real
# authoritative server, a real recursive unbound over it with validation off serving DoT (the
# upstream dotd uses), and a second recursive unbound with validation on and the world's trust
# anchor serving plain DNS (the reference validator).
#
# The functions need tests/integration/lib.sh (TMP, PIDS and the cleanup trap, new_port with
# PROBE, make_pki, unbound_run, pass/fail/die), sourced before or after this file; only
# lab_need works without it. LAB_DIR is this file's directory (world.sh, queries.txt). Then:
#   lab_need                   are the Debian tools there (else it says what is missing)
#   lab_require                lab_need, installing what is missing, else exit 77 (skipped)
#   lab_start                  all of it, in order: lab_world, lab_auth, lab_upstream,
#                              lab_validator; sets LAB_WORLD (the world's directory),
#                              LAB_AUTH_PORT (NSD), LAB_DOT_PORT (the DoT upstream, name
#                              dot.test, CA $TMP/pki/ca.pem), LAB_VAL_PORT (the validator)
#   lab_query PORT ARGS...     kdig +dnssec at 127.0.0.1@PORT (plain DNS), ARGS as kdig takes
#   lab_query_dot ARGS...      the same over DoT to the upstream, authenticated as dot.test
#   lab_rcode, lab_ad, lab_ede OUTPUT    what a kdig output says
#   lab_queries                queries.txt without comments: NAME TYPE RCODE AD EDE per line
#
# How the world is served and delegated: one NSD ($LAB_AUTH_PORT) is authoritative for every
# zone of the world, so each answer comes from the deepest zone it holds: data from the child,
# a DS from the parent (NSD answers DS at a zone cut from the parent zone when it holds both),
# denial with the NSEC or NSEC3 records of the zone it is in. The delegations in the zones are
# real (NS and DS in the parent, the child signed with the key its DS names) but all point to
# ns.test. (127.0.53.1, which nobody serves): a recursor only follows glue to port 53, and a
# test cannot count on port 53 of loopback addresses being free. So both unbounds have a stub
# zone for every zone of the world, each at the server's address and port. One stub for "."
# is not enough: NSD puts the zone's NS RRset (with the glue of ns.test.) in the authority
# section of its answers, unbound caches that as the zone's delegation, and a cached
# delegation deeper than the deepest stub wins (queries then go to 127.0.53.1 port 53 and are
# refused). With a stub at every zone cut the deepest stub is never above a cached delegation.
# Since the server holds every zone it never answers with a referral; the validator still
# walks the chain from the anchor of "." the usual way, asking DNSKEY and DS of each zone
# (unbound's iterator sends a DS query to the parent's stub).
# shellcheck shell=bash

LAB_DIR=${LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
LAB_WORLD=''
LAB_AUTH_PORT=''
LAB_DOT_PORT=''
LAB_VAL_PORT=''

# lab_need: the Debian tools of the lab (ldnsutils, nsd, unbound, knot-dnsutils). Prints what
# is missing and returns 1 if anything is.
lab_need()
{
	local t missing=()
	for t in ldns-keygen ldns-signzone ldns-key2ds ldns-verify-zone nsd unbound \
		unbound-control kdig; do
		command -v "$t" > /dev/null 2>&1 || missing+=("$t")
	done
	if ((${#missing[@]} > 0)); then
		echo "missing: ${missing[*]} (Debian: ldnsutils nsd unbound knot-dnsutils)"
		return 1
	fi
}

# lab_require: the lab's tools, installed as `make test-deps` would (root or sudo) when missing;
# if they still are, say why and exit 77 (the test is skipped).
lab_require()
{
	local pkgs=(ldnsutils nsd unbound knot-dnsutils) why
	if ! lab_need > /dev/null; then
		"$LAB_DIR/../../.ci/install-deps" "${pkgs[@]}" > /dev/null 2>&1 || true
		if ! why=$(lab_need); then
			echo "SKIP: the DNSSEC lab needs Debian's ${pkgs[*]}: $why"
			exit 77
		fi
	fi
}

# lab_world: build the world into LAB_WORLD ($TMP/world unless set).
lab_world()
{
	local out
	LAB_WORLD=${LAB_WORLD:-$TMP/world}
	if ! out=$(bash "$LAB_DIR/world.sh" "$LAB_WORLD" 2>&1); then
		printf '%s\n' "$out" | indent
		die "world.sh builds and signs the world"
	fi
	pass "world.sh builds and signs the world ($(wc -l < "$LAB_WORLD/zones.list") zones)"
}

# lab_wait_soa PORT SECONDS PID [KDIG-OPTIONS...]: until the server at PORT answers ". SOA"
# with NOERROR, while PID runs.
lab_wait_soa()
{
	local port=$1 deadline=$((SECONDS + $2)) pid=$3
	shift 3
	while ((SECONDS < deadline)); do
		alive "$pid" || return 1
		if kdig @"$HOST" -p "$port" +time=1 +retry=0 "$@" . SOA 2> /dev/null |
			grep -q 'status: NOERROR'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# lab_auth: NSD serving every zone of the world on $HOST@LAB_AUTH_PORT (UDP and TCP).
lab_auth()
{
	local conf=$TMP/nsd.conf name file pid child
	new_port LAB_AUTH_PORT
	{
		cat << EOF
server:
  ip-address: $HOST
  port: $LAB_AUTH_PORT
  do-ip6: no
  reuseport: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$LAB_WORLD"
  database: ""
  zonelistfile: "$TMP/nsd.zonelist"
  xfrdfile: "$TMP/nsd.xfrd"
  xfrdir: "$TMP"
  pidfile: "$TMP/nsd.pid"
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
EOF
		while read -r name file; do
			printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$name" "$file"
		done < "$LAB_WORLD/zones.list"
	} > "$conf"
	nsd -d -c "$conf" > "$TMP/nsd.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! lab_wait_soa "$LAB_AUTH_PORT" 10 "$pid" +norec; then
		die "nsd starts (authoritative for the world on $HOST@$LAB_AUTH_PORT)"
	fi
	# NSD's own children (xfrd, the server) too, so that the cleanup waits for each of them.
	while read -r child; do
		PIDS+=("$child")
	done < <(pgrep -P "$pid")
	pass "nsd starts (authoritative for the world on $HOST@$LAB_AUTH_PORT)"
}

# lab_unbound_conf NAME PORT MODULES TRANSPORT-LINES [EXTRA-SERVER-LINES]: $TMP/NAME.conf, a
# recursive unbound on $HOST@PORT over the lab's NSD, with its own control port.
lab_unbound_conf()
{
	local name=$1 port=$2 modules=$3 transport=$4 extra=${5:-} cport='' zone
	new_port cport
	{
		cat << EOF
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
  interface: $HOST@$port
EOF
		if [[ -n $transport ]]; then
			printf '%s\n' "$transport"
		fi
		cat << EOF
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "$modules"
  # The world's servers are on loopback, and test. is one of unbound's default local zones
  # (RFC 6761): let both through.
  do-not-query-localhost: no
  local-zone: "test." nodefault
  # No EDNS Client Subnet, no prefetch, no serve-expired: each answer is what the world says now.
  prefetch: no
  serve-expired: no
  ede: yes
  statistics-interval: 0
  statistics-cumulative: yes
EOF
		if [[ -n $extra ]]; then
			printf '%s\n' "$extra"
		fi
		# Every zone of the world is a stub zone at the lab's NSD, an address and port no glue
		# can name (see the top of lab.sh).
		while read -r zone _; do
			printf 'stub-zone:\n  name: "%s"\n  stub-addr: %s@%s\n' "$zone" "$HOST" \
				"$LAB_AUTH_PORT"
		done < "$LAB_WORLD/zones.list"
		cat << EOF
remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: $HOST
  control-port: $cport
EOF
	} > "$TMP/$name.conf"
}

# lab_upstream: unbound "lab-dot", recursion with validation off (module-config "iterator"),
# serving DoT on $HOST@LAB_DOT_PORT with the test certificates (name dot.test). With DO set it
# hands out the RRSIGs, NSEC and NSEC3 records it got; bogus and expired data are answers too.
lab_upstream()
{
	make_pki
	new_port LAB_DOT_PORT
	lab_unbound_conf lab-dot "$LAB_DOT_PORT" iterator "  tls-port: $LAB_DOT_PORT
  tls-service-key: \"$TMP/pki/server.key\"
  tls-service-pem: \"$TMP/pki/server.pem\"
  incoming-num-tcp: 100
  tcp-idle-timeout: 60000"
	unbound_run lab-dot "recursion without validation, DoT on $HOST@$LAB_DOT_PORT"
}

# lab_validator: unbound "lab-val", recursion with validation ("validator iterator") and the
# world's root DS as its only trust anchor, serving plain DNS on $HOST@LAB_VAL_PORT.
lab_validator()
{
	new_port LAB_VAL_PORT
	lab_unbound_conf lab-val "$LAB_VAL_PORT" "validator iterator" "" "  trust-anchor-file: \"$LAB_WORLD/root.key\"
  # A fake root: no RFC 8145 key tag queries, no RFC 8509 sentinel, the real clock.
  trust-anchor-signaling: no
  root-key-sentinel: no
  val-override-date: 0
  val-permissive-mode: no
  harden-dnssec-stripped: yes
  harden-algo-downgrade: no
  # Why a validation failed, in the log and in the EDE text.
  val-log-level: 2"
	unbound_run lab-val "recursion with validation, plain DNS on $HOST@$LAB_VAL_PORT"
}

# lab_start: the world, its server, the DoT upstream and the reference validator.
lab_start()
{
	lab_world
	lab_auth
	lab_upstream
	lab_validator
}

# lab_query PORT ARGS...: kdig +dnssec to $HOST@PORT over UDP (TCP if truncated).
lab_query()
{
	local port=$1
	shift
	kdig @"$HOST" -p "$port" +dnssec +time=5 +retry=1 "$@" 2>&1
}

# lab_query_dot ARGS...: kdig +dnssec to the DoT upstream, authenticated (CA, name dot.test).
lab_query_dot()
{
	kdig @"$HOST" -p "$LAB_DOT_PORT" +dnssec +time=5 +retry=1 +tls-ca="$TMP/pki/ca.pem" \
		+tls-hostname=dot.test "$@" 2>&1
}

# lab_rcode OUTPUT: the RCODE of a kdig output (NOERROR, NXDOMAIN, SERVFAIL, ...), or NONE.
lab_rcode()
{
	local s
	s=$(sed -n 's/^;; ->>HEADER<<- .* status: \([A-Z]*\);.*/\1/p' <<< "$1" | head -n 1)
	echo "${s:-NONE}"
}

# lab_ad OUTPUT: 1 if the answer has the AD bit, else 0.
lab_ad()
{
	if grep -q '^;; Flags:.* ad[ ;]' <<< "$1"; then echo 1; else echo 0; fi
}

# lab_ede OUTPUT: the Extended DNS Error code of a kdig output, or - without one.
lab_ede()
{
	local e
	e=$(sed -n 's/^;; EDE: \([0-9]*\).*/\1/p' <<< "$1" | head -n 1)
	echo "${e:--}"
}

# lab_queries: the query list, one "NAME TYPE RCODE AD EDE" per line.
lab_queries()
{
	awk '!/^[[:space:]]*(#|$)/ { print $1, $2, $3, $4, $5 }' "$LAB_DIR/queries.txt"
}
