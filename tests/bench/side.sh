#!/usr/bin/env bash
# side.sh: the side-by-side benchmark of `make bench` (docs/BENCHMARKS.md). One real unbound
# serves DoT on loopback (tests/integration/lib.sh: the test PKI, local-data and a redirect
# zone, no cache of its own, so a miss in front costs it little); dotd and each peer Debian has
# (Unbound, Knot Resolver, dnsdist, Stubby) run in front of it in turn, one thread or worker
# each, forwarding everything over DoT with the test CA and a cache on (Stubby has none). A
# batched echo responder (echo_floor) is the floor for hits, dnsperf straight to the upstream
# over DoT the floor for misses. Per system, fresh each round: RSS at start (listening, asked
# nothing yet) and idle (after one query), CPU per hit at a fixed
# rate (/proc/PID/stat), hit qps at saturation, the Zipf mix (tests/bench/zipf.py), miss qps,
# miss latency p50/p90/p99 at a fixed rate (dnsperf -v), TLS connections to the upstream per
# 10,000 queries (the private network namespace's TcpPassiveOpens), dotd's full and resumed
# handshakes, then RECONNECTS queries a second apart (the upstream closes idle connections after
# 500 ms) and how many of those new connections the upstream saw resumed (num.query.tls.resume),
# and RSS after the run. floor2 and dotd2 (2 threads, 2 workers) steer datagrams by CPU (dotd's
# default, workers_steering: cpu), floor2h and dotd2h by the kernel's hash; with 2 workers only
# the hit phases run, with the smaller worker's share of the queries (worker_queries). floor,
# floor2, dotd and dotd2 get the CPU phase again from two dnsperf threads (both CPUs).
# floore and floor2e are floor and floor2 waiting in epoll_wait, as an event loop does (the
# floor of dotd's libuv loop); they run the two CPU phases only.
# ROUNDS rounds (default 2, the systems interleaved) give the spread. tests/bench/side_report.py
# writes results.md, results.json, latency-cdf.png and throughput.png into OUT.
#
# usage: side.sh DOTD PROBE FLOOR [OUT]
# environment: ROUNDS (2), SECS per phase (4), RATE of the CPU phase (40000 q/s), MISS_RATE of
# the latency phase (5000 q/s; at 1000 the VM's vCPU wake-ups, ~1 ms, decide), ZIPF_MAX_SECS
# (12), RECONNECTS (4), UPSTREAM_IDLE_MS (500), SYSTEMS (all of them: floor floor2 floor2h
# floore floor2e direct dotd dotd2 dotd2h unbound kresd dnsdist stubby), PROFILE (0; 1: profile
# dotd's hits and misses with perf, OUT/profile-*.txt)
set -euo pipefail

if [[ $# -lt 3 ]]; then
	echo "usage: $0 DOTD PROBE FLOOR [OUT]" >&2
	exit 2
fi
BENCH=$(cd "$(dirname "$0")" && pwd)
DOTD=$(realpath "$1")
CTL=$(dirname "$DOTD")/dotd-ctl
PROBE=$(realpath "$2")
FLOOR=$(realpath "$3")
OUT=$(realpath -m "${4:-build/bench}")

# A private network namespace: only our loopback, so that the TCP counters count only the
# connections made to our upstream, and no port of another test or daemon on this host is hit.
if [[ -z ${SIDE_NETNS:-} ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v unshare > /dev/null; then
		export SIDE_NETNS=1
		exec unshare --net -- bash "$0" "$DOTD" "$PROBE" "$FLOOR" "$OUT"
	fi
	export SIDE_NETNS=0
fi
if [[ $SIDE_NETNS == 1 ]]; then
	ip link set lo up
fi

ROUNDS=${ROUNDS:-2}
SECS=${SECS:-4}
RATE=${RATE:-40000}
MISS_RATE=${MISS_RATE:-5000}
ZIPF_MAX_SECS=${ZIPF_MAX_SECS:-12}
RECONNECTS=${RECONNECTS:-4}
SYSTEMS=${SYSTEMS:-floor floor2 floor2h floore floor2e direct dotd dotd2 dotd2h unbound kresd
	dnsdist stubby}
PROFILE=${PROFILE:-0}
if [[ $PROFILE == 1 ]] && ! command -v perf > /dev/null; then
	echo "PROFILE=1 needs perf (Debian's linux-perf, which make bench installs): not profiling" >&2
	PROFILE=0
fi

for tool in dnsperf dig unbound unbound-control gnuplot; do
	if ! command -v "$tool" > /dev/null; then
		echo "SKIP: $tool is not installed (make bench installs it)" >&2
		exit 77
	fi
done

HERE=$BENCH/../integration
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

mkdir -p "$OUT"
rm -f "$OUT"/raw.tsv "$OUT"/cdf-*.txt
TICK=$(getconf CLK_TCK)

# --- measuring ---

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# passive_opens: TCP connections accepted in this namespace so far.
passive_opens()
{
	awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) { c[$i] = i }; n = 1 }
		else { print $c["PassiveOpens"] } }' /proc/net/snmp
}

# record SYSTEM METRIC VALUE: one figure of this round into raw.tsv.
record() { printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >> "$OUT/raw.tsv"; }

# dp FILE LABEL: the first number after "LABEL:" in a dnsperf report.
dp()
{
	awk -v k="$2:" '{ i = index($0, k); if (i) { split(substr($0, i + length(k)), a, " ");
		print a[1] + 0; exit } }' "$1"
}

SENT=0
# perf NAME FILE ARGS...: dnsperf with ARGS, its report in $TMP/NAME.perf; counts what it sent.
perf()
{
	local name=$1
	shift
	"${CLIENT_PIN[@]}" dnsperf "$@" > "$TMP/$name.perf" 2>&1 || true
	SENT=$((SENT + $(dp "$TMP/$name.perf" "Queries sent")))
}
CLIENT_PIN=()

# The CPUs this script may use: the first for dnsperf and the last for a system in the pinned
# phase (PIN_CLIENT, PIN_SYSTEM), or none of that on a single CPU.
PIN_ALL=$(taskset -pc $$ | awk -F': ' '{ print $2 }')
read -r PIN_CLIENT PIN_SYSTEM < <(awk -v l="$PIN_ALL" 'BEGIN { n = split(l, w, /[,-]/);
	print w[1], w[n] }')
if [[ $PIN_CLIENT == "$PIN_SYSTEM" ]]; then
	PIN_CLIENT=''
fi

# profile PID NAME ARGS...: dnsperf with ARGS while perf samples PID (PROFILE=1, a phase of its
# own, so that the sampling does not weigh on the figures); the top entries by shared object and
# symbol go to OUT/profile-NAME.txt.
profile()
{
	local pid=$1 name=$2 rec
	shift 2
	command perf record -q -F 2000 -g -o "$TMP/$name.data" -p "$pid" > /dev/null 2>&1 &
	rec=$!
	sleep 0.2
	dnsperf "$@" > "$TMP/prof-$name.perf" 2>&1 || true
	kill -INT "$rec" 2> /dev/null || true
	wait "$rec" 2> /dev/null || true
	{
		echo "# perf record -F 2000 -g -p DOTD during: dnsperf $*"
		grep -E 'Queries (completed|per second)' "$TMP/prof-$name.perf" || true
		command perf report -i "$TMP/$name.data" --no-children --sort dso,symbol --stdio \
			> "$TMP/$name.report" 2> /dev/null || true
		echo "# by shared object"
		command perf report -i "$TMP/$name.data" --no-children --sort dso --stdio \
			2> /dev/null | awk '/^ +[0-9.]+%/ && n++ < 10' || true
		echo "# by shared object and symbol"
		awk '/^ +[0-9.]+%/ && n++ < 40' "$TMP/$name.report"
	} > "$OUT/profile-$name.txt"
	echo "profile of dotd ($name) in $OUT/profile-$name.txt"
}

# record_perf SYSTEM PREFIX NAME: its qps, completed and lost queries.
record_perf()
{
	record "$1" "$2_qps" "$(dp "$TMP/$3.perf" "Queries per second")"
	record "$1" "$2_lost" "$(dp "$TMP/$3.perf" "Queries lost")"
}

# record_latency SYSTEM PREFIX NAME: p50/p90/p99 in ms of a dnsperf -v run, a query lost
# counting as slower than any answered, and the share of NOERROR answers; the CDF of the last
# round goes to $OUT/cdf-PREFIX-SYSTEM.txt.
record_latency()
{
	local sys=$1 pre=$2 name=$3 p50 p90 p99
	awk '$1 == ">" { if (NF >= 5 && $NF ~ /^[0-9.]+$/) { print $NF * 1000 }
		else { print "inf" } }' "$TMP/$name.perf" | sort -g > "$TMP/$name.lat"
	read -r p50 p90 p99 < <(awk '{ v[NR] = $1 } END {
		split("0.50 0.90 0.99", p, " ");
		for (j = 1; j <= 3; j++) { i = int(p[j] * NR); if (i < p[j] * NR) { i++ } if (i < 1) { i = 1 }
			printf "%s%s", (j > 1 ? " " : ""), (NR ? v[i] : "nan") }
		print "" }' "$TMP/$name.lat")
	record "$sys" "${pre}_noerror_share" "$(awk '$1 == ">" { n++; if ($2 == "NOERROR") { ok++ } }
		END { printf "%.4f", n ? ok / n : 0 }' "$TMP/$name.perf")"
	record "$sys" "${pre}_p50_ms" "$p50"
	record "$sys" "${pre}_p90_ms" "$p90"
	record "$sys" "${pre}_p99_ms" "$p99"
	awk '$1 != "inf" { v[++n] = $1 } END { step = n > 1000 ? n / 1000 : 1;
		for (x = 1; x <= n; x += step) { printf "%s %.5f\n", v[int(x)], int(x) / n }
		if (n) { printf "%s 1\n", v[n] } }' "$TMP/$name.lat" > "$OUT/cdf-$pre-$sys.txt"
}

# --- the query files (the same for every system: each starts with an empty cache) ---

{
	for ((i = 0; i < 1000; i++)); do
		echo "h$i.bench. A"
	done
	printf '%s\n' 'www.example. A' 'www.example. AAAA' 'mail.example. MX' 'txt.example. TXT' \
		'nope.example. A'
} > "$TMP/hit.txt"
awk -v n=$((SECS * 60000)) 'BEGIN { for (i = 0; i < n; i++) { print "t" i ".bench. A" } }' \
	> "$TMP/miss-thr.txt"
awk -v n=$((SECS * MISS_RATE * 2)) 'BEGIN { for (i = 0; i < n; i++) { print "l" i ".bench. A" } }' \
	> "$TMP/miss-lat.txt"
/usr/bin/python3 "$BENCH/zipf.py" "$TMP/zipf.txt" 100000 100000 1.0 13 2> "$TMP/zipf.info"
ZIPF_REPEATS=$(awk '{ print $NF }' "$TMP/zipf.info")

# --- the upstream ---

head -c 80 /dev/urandom > "$TMP/ticket.key"
start_unbound upstream "  tls-session-ticket-keys: \"$TMP/ticket.key\"
  incoming-num-tcp: 1000
  tcp-idle-timeout: ${UPSTREAM_IDLE_MS:-500}
  verbosity: 0"
UPSTREAM_PID=$UNBOUND_PID
if ! dig +short +tries=1 +time=2 @"$HOST" -p "$UPORT" +tls www.example A | grep -q 192.0.2.80; then
	die "the upstream answers over DoT"
fi

# --- the systems ---

CACHE_BYTES=$((64 * 1024 * 1024))

# run_SYSTEM PORT: start it in the background; sets SYS_PID.
# run_floor PORT [THREADS STEERING WAIT]
run_floor()
{
	"$FLOOR" "$HOST" "$1" "${2:-1}" "${3:-hash}" "${4:-block}" > "$TMP/floor.log" 2>&1 &
	SYS_PID=$!
}

# run_dotd PORT [WORKERS STEERING]
run_dotd()
{
	cat > "$TMP/dotd.yml" << EOF
listen_addresses: [$HOST@$1]
workers: ${2:-1}
workers_steering: ${3:-cpu}
control_socket: "$TMP/dotd.sock"
tls_ca_file: "$TMP/pki/ca.pem"
round_robin_upstreams: 0
cache_size: $CACHE_BYTES
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
EOF
	"$DOTD" -C "$TMP/dotd.yml" > "$TMP/dotd.log" 2>&1 &
	SYS_PID=$!
}

run_unbound()
{
	cat > "$TMP/fwd.conf" << EOF
server:
  directory: "$TMP"
  chroot: ""
  username: ""
  pidfile: "$TMP/fwd.pid"
  do-daemonize: no
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  interface: $HOST@$1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  tls-cert-bundle: "$TMP/pki/ca.pem"
  module-config: "iterator"
  msg-cache-size: 32m
  rrset-cache-size: 32m
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-tls-upstream: yes
  forward-addr: $HOST@$UPORT#dot.test
EOF
	unbound -d -c "$TMP/fwd.conf" > "$TMP/unbound.log" 2>&1 &
	SYS_PID=$!
}

run_kresd()
{
	rm -rf "$TMP/kres"
	mkdir -p "$TMP/kres"
	cat > "$TMP/kres/config" << EOF
net.listen('$HOST', $1, { kind = 'dns' })
modules.unload('ta_update')
modules.unload('priming')
modules.unload('detect_time_skew')
trust_anchors.remove('.')
cache.size = 64 * MB
policy.add(policy.all(policy.TLS_FORWARD({
  {'$HOST@$UPORT', hostname='dot.test', ca_file='$TMP/pki/ca.pem'}
})))
EOF
	kresd -n -c "$TMP/kres/config" "$TMP/kres" > "$TMP/kresd.log" 2>&1 &
	SYS_PID=$!
}

run_dnsdist()
{
	cat > "$TMP/dnsdist.conf" << EOF
setLocal("$HOST:$1")
setSecurityPollSuffix("")
newServer({address="$HOST:$UPORT", tls="openssl", subjectName="dot.test",
  caStore="$TMP/pki/ca.pem", validateCertificates=true, checkName="www.example.",
  checkInterval=3600})
getServer(0):setUp()
pc = newPacketCache(500000, {maxTTL=86400, minTTL=0, temporaryFailureTTL=60, staleTTL=60})
getPool(""):setCache(pc)
EOF
	dnsdist --supervised --disable-syslog -C "$TMP/dnsdist.conf" > "$TMP/dnsdist.log" 2>&1 &
	SYS_PID=$!
}

run_stubby()
{
	cat > "$TMP/stubby.yml" << EOF
resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list: [GETDNS_TRANSPORT_TLS]
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
edns_client_subnet_private: 1
idle_timeout: 10000
round_robin_upstreams: 0
tls_ca_file: "$TMP/pki/ca.pem"
listen_addresses: [$HOST@$1]
upstream_recursive_servers:
  - address_data: $HOST
    tls_port: $UPORT
    tls_auth_name: "dot.test"
EOF
	stubby -C "$TMP/stubby.yml" > "$TMP/stubby.log" 2>&1 &
	SYS_PID=$!
}

# ready PORT PID EXPECT: until dig gets EXPECT for www.example A (15 s at most).
ready()
{
	local deadline=$((SECONDS + 15)) got
	while ((SECONDS < deadline)); do
		alive "$2" || return 1
		got=$(dig +tries=1 +time=1 @"$HOST" -p "$1" www.example A 2> /dev/null || true)
		if [[ $got == *"$3"* ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# listening PORT PID: until something listens on UDP PORT (of this network namespace), without
# sending it anything, while PID runs.
listening()
{
	local deadline=$((SECONDS + 15))
	while ((SECONDS < deadline)); do
		alive "$2" || return 1
		if [[ -n $(ss -Hlnu "sport = :$1" 2> /dev/null) ]]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# version SYSTEM: one line naming what ran.
version()
{
	case $1 in
	floor) echo "echo_floor (recvmmsg/sendmmsg, batch 64)" ;;
	floor2) echo "echo_floor (recvmmsg/sendmmsg, batch 64), 2 threads (SO_REUSEPORT), steered by CPU" ;;
	floor2h) echo "echo_floor (recvmmsg/sendmmsg, batch 64), 2 threads (SO_REUSEPORT), by hash" ;;
	floore) echo "echo_floor (epoll_wait, recvmmsg/sendmmsg, batch 64)" ;;
	floor2e) echo "echo_floor (epoll_wait, recvmmsg/sendmmsg, batch 64), 2 threads, steered by CPU" ;;
	direct) dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2 " -m dot" }' ;;
	dotd) "$DOTD" -V 2>&1 | head -n 1 || echo dotd ;;
	dotd2) echo "$("$DOTD" -V 2>&1 | head -n 1), workers: 2 (workers_steering: cpu)" ;;
	dotd2h) echo "$("$DOTD" -V 2>&1 | head -n 1), workers: 2, workers_steering: hash" ;;
	unbound) unbound -V | head -n 1 ;;
	kresd) kresd -V | head -n 1 ;;
	dnsdist) dnsdist --version | head -n 1 ;;
	stubby) echo "stubby $(dpkg-query -W -f='${Version}' stubby 2> /dev/null || true)" ;;
	esac
}

# measure_direct: the miss floor, dnsperf over DoT straight to the upstream.
measure_direct()
{
	perf direct-thr -m dot -s "$HOST" -p "$UPORT" -d "$TMP/miss-thr.txt" -n 1 -l "$SECS" \
		-c 4 -q 100 -t 2
	record_perf direct miss direct-thr
	perf direct-lat -v -m dot -s "$HOST" -p "$UPORT" -d "$TMP/miss-lat.txt" -n 1 -l "$SECS" \
		-Q "$MISS_RATE" -c 1 -q 100 -t 2
	record_latency direct miss direct-lat
}

# hits_only SYSTEM: the floors and dotd with 2 workers, which only the hit phases measure (what
# workers change; and make bench stays under 10 minutes).
hits_only() { [[ $1 == floor* || $1 == dotd2* ]]; }

# worker_share SYSTEM PID METRIC: with two workers (dotd) or threads (the floor, at its end: not
# here), the smaller one's share of the queries since the last call (worker_queries); without
# METRIC, only the mark for the next call.
SHARE_1=0
SHARE_2=0
worker_share()
{
	local w1 w2
	[[ $1 == dotd2* && -x $CTL ]] || return 0
	w1=$("$CTL" -s "$TMP/dotd.sock" stats 2> /dev/null |
		awk '$1 == "worker_queries{worker=\"1\"}" { print $2 }') || return 0
	w2=$("$CTL" -s "$TMP/dotd.sock" stats 2> /dev/null |
		awk '$1 == "worker_queries{worker=\"2\"}" { print $2 }') || return 0
	[[ -n $w1 && -n $w2 ]] || return 0
	[[ -z ${3:-} ]] || record "$1" "$3" "$(awk -v a=$((w1 - SHARE_1)) -v b=$((w2 - SHARE_2)) \
		'BEGIN { m = a < b ? a : b; printf "%.3f", a + b ? m / (a + b) : 0 }')"
	SHARE_1=$w1
	SHARE_2=$w2
}

# measure SYSTEM: start it on a new port, run every phase, stop it.
measure()
{
	local sys=$1 port='' pid expect='192.0.2.80' t0 t1 n c0 c1 tls0 res0 tls1 res1 line i
	new_port port
	c0=$(passive_opens)
	case $sys in
	floor) run_floor "$port" 1 ;;
	floor2) run_floor "$port" 2 cpu ;;
	floor2h) run_floor "$port" 2 hash ;;
	floore) run_floor "$port" 1 hash epoll ;;
	floor2e) run_floor "$port" 2 cpu epoll ;;
	dotd) run_dotd "$port" ;;
	dotd2) run_dotd "$port" 2 cpu ;;
	dotd2h) run_dotd "$port" 2 hash ;;
	unbound) run_unbound "$port" ;;
	kresd) run_kresd "$port" ;;
	dnsdist) run_dnsdist "$port" ;;
	stubby) run_stubby "$port" ;;
	esac
	if [[ $sys == floor* ]]; then
		expect='status: NOERROR'
	fi
	pid=$SYS_PID
	PIDS+=("$pid")
	# At start: listening, not asked anything yet (dotd makes its TLS context at the first
	# query; docs/ARCHITECTURE.md, "Memory").
	if listening "$port" "$pid"; then
		sleep 0.5
		record "$sys" rss_start_kb "$(status_kb "$pid" VmRSS)"
	fi
	if ! ready "$port" "$pid" "$expect"; then
		fail "$sys answers on $HOST@$port"
		show_log "$sys" "$TMP/$sys.log"
		kill -TERM "$pid" 2> /dev/null || true
		return 0
	fi
	pass "$sys answers on $HOST@$port (round $ROUND)"
	SENT=0
	SHARE_1=0
	SHARE_2=0
	sleep 0.5
	record "$sys" rss_idle_kb "$(status_kb "$pid" VmRSS)"
	record "$sys" rss_anon_idle_kb "$(status_kb "$pid" RssAnon)"

	# Hits: warm the cache, then a fixed rate (CPU per hit), then saturation.
	perf "$sys-warm" -s "$HOST" -p "$port" -d "$TMP/hit.txt" -n 1 -c 1 -q 10 -t 2
	if [[ $sys == floor* || $sys == dotd* ]]; then
		# Left to the scheduler: what the workers are compared on.
		worker_share "$sys" "$pid"
		t0=$(cpu_ticks "$pid")
		perf "$sys-cpu" -s "$HOST" -p "$port" -d "$TMP/hit.txt" -l "$SECS" -Q "$RATE" -c 4 \
			-q 200 -t 2
		t1=$(cpu_ticks "$pid")
		n=$(dp "$TMP/$sys-cpu.perf" "Queries completed")
		record "$sys" cpu_us_per_hit "$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$TICK" \
			'BEGIN { if (n > 0) { printf "%.2f", (b - a) * 1e6 / hz / n } else { print "nan" } }')"
		record_perf "$sys" fixed "$sys-cpu"
		worker_share "$sys" "$pid" share_1c
	fi
	if [[ -n $PIN_CLIENT && $sys =~ ^(floor|floore|dotd|unbound|kresd|dnsdist|stubby)$ ]]; then
		# The same rate with dnsperf and the system each on a CPU of its own: left to the
		# scheduler, whether they share one decides the figure more than the system does.
		taskset -a -p -c "$PIN_SYSTEM" "$pid" > /dev/null
		CLIENT_PIN=(taskset -c "$PIN_CLIENT")
		t0=$(cpu_ticks "$pid")
		perf "$sys-cpupin" -s "$HOST" -p "$port" -d "$TMP/hit.txt" -l "$SECS" -Q "$RATE" \
			-c 4 -q 200 -t 2
		t1=$(cpu_ticks "$pid")
		CLIENT_PIN=()
		taskset -a -p -c "$PIN_ALL" "$pid" > /dev/null
		n=$(dp "$TMP/$sys-cpupin.perf" "Queries completed")
		record "$sys" cpu_us_per_hit_pin "$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$TICK" \
			'BEGIN { if (n > 0) { printf "%.2f", (b - a) * 1e6 / hz / n } else { print "nan" } }')"
		record_perf "$sys" fixedpin "$sys-cpupin"
	fi
	if [[ $sys =~ ^(floor|floor2|floore|floor2e|dotd|dotd2)$ ]]; then
		# The same rate from two dnsperf threads, so from both CPUs.
		t0=$(cpu_ticks "$pid")
		perf "$sys-cpu2" -s "$HOST" -p "$port" -d "$TMP/hit.txt" -l "$SECS" -Q "$RATE" -c 4 \
			-q 200 -t 2 -T 2
		t1=$(cpu_ticks "$pid")
		n=$(dp "$TMP/$sys-cpu2.perf" "Queries completed")
		record "$sys" cpu_us_per_hit_2c "$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$TICK" \
			'BEGIN { if (n > 0) { printf "%.2f", (b - a) * 1e6 / hz / n } else { print "nan" } }')"
		worker_share "$sys" "$pid" share_2c
	fi
	if [[ $sys != floor*e ]]; then
		perf "$sys-hit" -s "$HOST" -p "$port" -d "$TMP/hit.txt" -l "$SECS" -c 4 -q 200 -t 2
		record_perf "$sys" hit "$sys-hit"
	fi
	if [[ $PROFILE == 1 && $sys == dotd ]]; then
		profile "$pid" hit -s "$HOST" -p "$port" -d "$TMP/hit.txt" -l "$SECS" -Q "$RATE" \
			-c 4 -q 200 -t 2
	fi

	if ! hits_only "$sys"; then
		# The Zipf mix from a cold cache, then misses: throughput, then latency at a fixed rate.
		perf "$sys-zipf" -v -s "$HOST" -p "$port" -d "$TMP/zipf.txt" -n 1 -l "$ZIPF_MAX_SECS" \
			-c 4 -q 100 -t 2
		record_perf "$sys" zipf "$sys-zipf"
		record_latency "$sys" zipf "$sys-zipf"
		perf "$sys-thr" -s "$HOST" -p "$port" -d "$TMP/miss-thr.txt" -n 1 -l "$SECS" -c 4 \
			-q 100 -t 2
		record_perf "$sys" miss "$sys-thr"
		if [[ $PROFILE == 1 && $sys == dotd ]]; then
			profile "$pid" miss -s "$HOST" -p "$port" -d "$TMP/miss-thr.txt" -n 1 \
				-l "$SECS" -c 4 -q 100 -t 2
		fi
		perf "$sys-lat" -v -s "$HOST" -p "$port" -d "$TMP/miss-lat.txt" -n 1 -l "$SECS" \
			-Q "$MISS_RATE" -c 1 -q 100 -t 2
		record_latency "$sys" miss "$sys-lat"
	fi

	# Connections to the upstream while it ran, per 10,000 queries sent to it.
	c1=$(passive_opens)
	record "$sys" queries_sent "$SENT"
	if [[ $SIDE_NETNS == 1 ]] && ! hits_only "$sys"; then
		record "$sys" conns_per_10k "$(awk -v c=$((c1 - c0)) -v n="$SENT" \
			'BEGIN { printf "%.2f", n ? c * 10000 / n : 0 }')"
	fi
	if ! hits_only "$sys"; then
		# Reconnections: the upstream closes a connection idle for 500 ms; each query, a
		# second apart, needs a new one. Its counters say how many of those were resumed.
		read -r tls0 res0 < <(upstream_tls)
		c0=$(passive_opens)
		for ((i = 0; i < RECONNECTS; i++)); do
			sleep 1
			dig +tries=1 +time=2 @"$HOST" -p "$port" "r$i.bench" A > /dev/null || true
		done
		c1=$(passive_opens)
		read -r tls1 res1 < <(upstream_tls)
		SENT=$((SENT + RECONNECTS))
		record "$sys" reconnects $((c1 - c0))
		record "$sys" reconnect_queries $((tls1 - tls0))
		record "$sys" reconnect_resumed $((res1 - res0))
	fi
	if [[ $sys == dotd ]]; then
		line=$(upstream_stats "$pid" "$TMP/dotd.log" "$HOST@$UPORT") || line=''
		record dotd handshakes_full "$(stat_of "$line" handshakes_full || echo 0)"
		record dotd handshakes_resumed "$(stat_of "$line" handshakes_resumed || echo 0)"
		record dotd full_per_10k "$(awk -v c="$(stat_of "$line" handshakes_full || echo 0)" \
			-v n="$SENT" 'BEGIN { printf "%.2f", n ? c * 10000 / n : 0 }')"
		record dotd resumed_per_10k "$(awk -v c="$(stat_of "$line" handshakes_resumed || echo 0)" \
			-v n="$SENT" 'BEGIN { printf "%.2f", n ? c * 10000 / n : 0 }')"
	fi
	record "$sys" rss_after_kb "$(status_kb "$pid" VmRSS)"
	record "$sys" rss_anon_after_kb "$(status_kb "$pid" RssAnon)"
	kill -TERM "$pid" 2> /dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
}

# upstream_tls NAME: the upstream's counters of TLS queries and of those on resumed sessions.
upstream_tls()
{
	local t r
	t=$(ustat upstream num.query.tls 2> /dev/null || echo 0)
	r=$(ustat upstream num.query.tls.resume 2> /dev/null || echo 0)
	echo "$t $r"
}

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host=$(uname -srm)"
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "nproc=$(nproc)"
	echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "rounds=$ROUNDS"
	echo "secs=$SECS"
	echo "rate=$RATE"
	echo "miss_rate=$MISS_RATE"
	echo "reconnects=$RECONNECTS"
	echo "zipf=100000 queries over 100000 names, s=1.0, seed 13, repeats $ZIPF_REPEATS"
	echo "netns=$SIDE_NETNS"
	echo "upstream=$(unbound -V | head -n 1) on $HOST@$UPORT, DoT, tls-session-ticket-keys"
} > "$OUT/meta.txt"

run_systems=()
for sys in $SYSTEMS; do
	case $sys in
	floor | floor2 | floor2h | floore | floor2e | direct | dotd | dotd2 | dotd2h)
		run_systems+=("$sys")
		;;
	*)
		if command -v "$sys" > /dev/null; then
			run_systems+=("$sys")
		else
			skip "$sys: not installed"
			echo "missing=$sys" >> "$OUT/meta.txt"
		fi
		;;
	esac
done
for sys in "${run_systems[@]}"; do
	echo "version.$sys=$(version "$sys")" >> "$OUT/meta.txt"
done

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for sys in "${run_systems[@]}"; do
		if [[ $sys == direct ]]; then
			measure_direct
			continue
		fi
		measure "$sys"
	done
	echo "load_after_round_$ROUND=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/meta.txt"
done
alive "$UPSTREAM_PID" || fail "the upstream still runs"

/usr/bin/python3 "$BENCH/side_report.py" "$OUT"
summary side
