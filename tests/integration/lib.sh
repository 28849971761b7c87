# lib.sh: what dotd's integration scripts share, sourced by run.sh and pool.sh.
#
# Before sourcing: DOTD, PROBE, HERE (the directory of the scripts). It sets up a temporary
# directory TMP removed on exit with every process listed in PIDS, PASS/FAIL reporting, free
# ports, starting and stopping dotd, and start_unbound for a real DoT upstream on loopback
# (start_unbound_plain for a plain DNS one).
# shellcheck shell=bash

GEN=$HERE/../certs/gen.sh
HOST=127.0.0.1
T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dotd-it.XXXXXX")
PIDS=()

# Stop whatever we started that still runs (TERM, then KILL), and remove the directory.
# shellcheck disable=SC2317 # called by the trap
cleanup()
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
	rm -rf "$TMP"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# alive PID: the process runs (a zombie does not count: kill -0 would say yes).
alive()
{
	local stat
	stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# --- reporting ---

NPASS=0
FAILED=()

pass()
{
	echo "PASS: $1"
	NPASS=$((NPASS + 1))
}

fail()
{
	echo "FAIL: $1"
	FAILED+=("$1")
}

skip()
{
	echo "SKIP: $1"
}

# indent: show captured output under a FAIL line.
indent()
{
	sed 's/^/    | /'
}

# check NAME CMD...: run CMD, PASS if it exits 0, else FAIL with its output.
check()
{
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name"
		printf '%s\n' "$out" | indent
	fi
}

# show_log TITLE FILE [LINES]: the tail of a log.
show_log()
{
	echo "---- $1 (last ${3:-40} lines of $2) ----"
	if [[ -s $2 ]]; then
		tail -n "${3:-40}" "$2" | indent
	else
		echo "    (empty)"
	fi
}

show_logs()
{
	local f
	for f in "$TMP"/*.log; do
		if [[ -f $f ]]; then
			show_log "$(basename "$f" .log)" "$f"
		fi
	done
	return 0
}

# die NAME: a check that the rest depends on failed: report and stop.
die()
{
	fail "$1"
	show_logs
	echo "FAILED (stopped early): $1"
	exit 1
}

# --- helpers ---

USED_PORTS=" "

# new_port VAR: set VAR to a free TCP+UDP loopback port not handed out before in this run.
new_port()
{
	local p i
	for ((i = 0; i < 20; i++)); do
		p=$("$PROBE" freeport)
		if [[ $USED_PORTS != *" $p "* ]]; then
			USED_PORTS+="$p "
			printf -v "$1" %s "$p"
			return 0
		fi
	done
	echo "no free port" >&2
	return 1
}

# start_dotd CONFIG LOG [WRAPPER...]: start dotd in the background; sets DOTD_PID.
start_dotd()
{
	local cfg=$1 log=$2
	shift 2
	"$@" "$DOTD" -v 6 -C "$cfg" > "$log" 2>&1 &
	DOTD_PID=$!
	PIDS+=("$DOTD_PID")
}

# dotd_in_front NAME EXTRA-KEYS PORT...: dotd in front of DoT upstreams on $HOST at PORTs (name
# dot.test, the CA of make_pki), first to last, EXTRA-KEYS added to its config $TMP/NAME.yml;
# its log is $TMP/NAME.log. Sets DPORT and DOTD_PID.
dotd_in_front()
{
	local name=$1 extra=$2 p
	shift 2
	DPORT=''
	new_port DPORT
	{
		echo "tls_ca_file: \"$TMP/pki/ca.pem\""
		echo "listen_addresses: [$HOST@$DPORT]"
		echo "round_robin_upstreams: 0"
		echo "$extra"
		echo "upstream_recursive_servers:"
		for p in "$@"; do
			echo "  - address_data: $HOST"
			echo "    tls_port: $p"
			echo "    tls_auth_name: \"dot.test\""
		done
	} > "$TMP/$name.yml"
	start_dotd "$TMP/$name.yml" "$TMP/$name.log"
}

# wait_answer PORT SECONDS PID [NAME ADDRESS]: until dotd answers NAME A (www.example,
# 192.0.2.80) over UDP, while PID runs.
wait_answer()
{
	local port=$1 deadline=$((SECONDS + $2)) pid=$3 name=${4:-www.example} addr=${5:-192.0.2.80}
	while ((SECONDS < deadline)); do
		alive "$pid" || return 1
		if "$PROBE" query "$HOST" "$port" "$name" A udp NOERROR "$addr" \
			> /dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# wait_log FILE PATTERN SECONDS [MIN-COUNT]: until FILE has MIN-COUNT lines matching PATTERN.
wait_log()
{
	local deadline=$((SECONDS + $3)) min=${4:-1} n
	while ((SECONDS < deadline)); do
		n=$(grep -c -F -- "$2" "$1" 2> /dev/null || true)
		if ((n >= min)); then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# stop_dotd PID SECONDS: SIGTERM, wait for the exit (KILL after SECONDS); sets STOP_STATUS.
stop_dotd()
{
	local pid=$1 deadline=$((SECONDS + $2))
	STOP_STATUS=0
	kill -TERM "$pid" 2> /dev/null || true
	while alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if alive "$pid"; then
		echo "still running $2 s after SIGTERM: killed"
		kill -KILL "$pid" 2> /dev/null || true
	fi
	# STOP_STATUS is the callers' (cache.sh, home.sh, hostup.sh).
	# shellcheck disable=SC2034
	wait "$pid" 2> /dev/null || STOP_STATUS=$?
}

# start_fakeup NAME SWITCHES...: dotd-fakeup ($FAKEUP) on a free port; sets FPORT and
# FAKE_PID. Its counters go to $TMP/NAME.stats on SIGUSR1 and at exit.
start_fakeup()
{
	local name=$1
	shift
	FPORT=''
	new_port FPORT
	"$FAKEUP" --port "$FPORT" --cert "$TMP/pki/server.pem" --key "$TMP/pki/server.key" \
		--stats "$TMP/$name.stats" "$@" > "$TMP/$name.out" 2> "$TMP/$name-fakeup.log" &
	FAKE_PID=$!
	PIDS+=("$FAKE_PID")
	if ! wait_log "$TMP/$name.out" "listening" 10; then
		fail "$name: dotd-fakeup starts"
		return 1
	fi
}

# expect NAME CONDITION-TEXT STATS-LINE BASH-CONDITION
expect()
{
	if eval "$4"; then
		pass "$1: $2"
	else
		fail "$1: $2"
		echo "    | $3"
	fi
}

# upstream_stats PID LOG UPSTREAM: SIGUSR1 to dotd, then print the statistics line it logs
# for UPSTREAM ("IP@port"); other lines about it (connected, backing off) do not count.
upstream_stats()
{
	local pid=$1 log=$2 pat="upstream '$3': queries=" n
	n=$(grep -c -F -- "$pat" "$log" || true)
	kill -USR1 "$pid"
	if ! wait_log "$log" "$pat" 5 $((n + 1)); then
		echo "no upstream statistics in the log within 5 s of SIGUSR1" >&2
		return 1
	fi
	grep -F -- "$pat" "$log" | tail -n 1
}

# stat_of LINE NAME: the value of NAME=value in a statistics line.
stat_of()
{
	local v=${1##*" $2="}
	[[ $v != "$1" ]] || return 1
	echo "${v%% *}"
}

# make_pki: the test certificates in $TMP/pki (once).
make_pki()
{
	local out
	[[ -f $TMP/pki/server.pem ]] && return 0
	mkdir -p "$TMP/pki"
	if ! out=$(sh "$GEN" "$TMP/pki" 2>&1); then
		printf '%s\n' "$out" | indent
		die "test certificates (gen.sh)"
	fi
	# A dotd that drops root (user: nobody) reads the CA file as that user, at its first
	# upstream connection: let others reach it, as /etc/ssl/certs is.
	chmod 711 "$TMP" "$TMP/pki"
	chmod 644 "$TMP/pki/ca.pem"
	pass "test certificates (gen.sh)"
}

# unbound_conf NAME PORT TRANSPORT-LINES [EXTRA-SERVER-LINES]: $TMP/NAME.conf, an unbound on
# $HOST@PORT (TRANSPORT-LINES right after the interface line) with the test zones and its own
# control port.
unbound_conf()
{
	local name=$1 port=$2 transport=$3 extra=${4:-} cport='' i x248
	new_port cport
	x248=$(printf '%248s' '' | tr ' ' x)
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
  incoming-num-tcp: 100
  tcp-idle-timeout: 60000
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  statistics-interval: 0
  statistics-cumulative: yes
  extended-statistics: yes
  msg-cache-size: 0
  rrset-cache-size: 0
  local-zone: "bench." redirect
  local-data: "bench. 300 IN A 192.0.2.1"
  local-zone: "example." static
  local-data: "example. 3600 IN SOA ns.example. host.example. 1 3600 900 604800 60"
  local-data: "example. 3600 IN NS ns.example."
  local-data: "ns.example. 3600 IN A 192.0.2.53"
  local-data: "www.example. 300 IN A 192.0.2.80"
  local-data: "www.example. 300 IN AAAA 2001:db8::80"
  local-data: "mail.example. 300 IN MX 10 mx.example."
  local-data: "mx.example. 300 IN A 192.0.2.25"
  local-data: 'txt.example. 300 IN TXT "hello from the test"'
  local-data: "short.example. 2 IN A 192.0.2.2"
  local-data: "stale.example. 2 IN A 192.0.2.3"
  local-data: "pre.example. 10 IN A 192.0.2.4"
EOF
		for ((i = 0; i < 12; i++)); do
			printf "  local-data: 'big.example. 300 IN TXT \"%02d%s\"'\n" "$i" "$x248"
		done
		if [[ -n $extra ]]; then
			printf '%s\n' "$extra"
		fi
		cat << EOF
  local-zone: "." refuse
remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: $HOST
  control-port: $cport
EOF
	} > "$TMP/$name.conf"
}

# unbound_run NAME WHAT: start the unbound of $TMP/NAME.conf, logging to $TMP/NAME.log, and
# wait until its control port answers ("NAME starts (WHAT)"). Sets UNBOUND_PID.
unbound_run()
{
	local name=$1 deadline
	unbound -d -c "$TMP/$name.conf" > "$TMP/$name.log" 2>&1 &
	UNBOUND_PID=$!
	PIDS+=("$UNBOUND_PID")
	deadline=$((SECONDS + 10))
	until unbound-control -c "$TMP/$name.conf" status > /dev/null 2>&1; do
		if ! alive "$UNBOUND_PID" || ((SECONDS >= deadline)); then
			die "$name starts ($2)"
		fi
		sleep 0.1
	done
	pass "$name starts ($2)"
}

# start_unbound NAME [EXTRA-SERVER-LINES]: a real unbound serving DoT on a free loopback
# port, with the test zones, its own control port, config $TMP/NAME.conf and log
# $TMP/NAME.log. Sets UPORT (its DoT port) and UNBOUND_PID.
start_unbound()
{
	local name=$1 extra=${2:-}
	make_pki
	UPORT=''
	new_port UPORT
	unbound_conf "$name" "$UPORT" "  tls-port: $UPORT
  tls-service-key: \"$TMP/pki/server.key\"
  tls-service-pem: \"$TMP/pki/server.pem\"" "$extra"
	unbound_run "$name" "DoT on $HOST@$UPORT"
}

# start_unbound_plain NAME [EXTRA-SERVER-LINES]: the same unbound serving plain DNS over UDP
# and TCP on a free loopback port, without TLS. Sets UPORT and UNBOUND_PID.
start_unbound_plain()
{
	local name=$1 extra=${2:-}
	UPORT=''
	new_port UPORT
	unbound_conf "$name" "$UPORT" "" "$extra"
	unbound_run "$name" "plain DNS on $HOST@$UPORT"
}

# ucontrol NAME ARGS...: unbound-control on the unbound started as NAME.
ucontrol()
{
	local name=$1
	shift
	unbound-control -c "$TMP/$name.conf" "$@"
}

# ustat NAME COUNTER: one counter from that unbound's statistics (without resetting them).
ustat()
{
	ucontrol "$1" stats_noreset | awk -F= -v k="$2" '$1 == k { print $2; found = 1 }
		END { exit !found }'
}

# summary NAME: the last lines of a script; exit 1 if anything failed.
summary()
{
	local f
	echo "$1: ${NPASS} passed, ${#FAILED[@]} failed in $((SECONDS - T0)) s"
	if ((${#FAILED[@]} > 0)); then
		for f in "${FAILED[@]}"; do
			echo "  failed: $f"
		done
		show_logs
		exit 1
	fi
	exit 0
}
