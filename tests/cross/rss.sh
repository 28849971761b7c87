#!/usr/bin/env bash
# rss.sh DOTD PROBE [SECONDS]: the memory figures of docs/ROUTER.md for one dotd (the host's
# build, or a cross build's tests/emu-dotd, whose RSS is then qemu-user's: the emulator's own
# code and translation cache with the guest's memory). A real unbound serves DoT on loopback
# (tests/integration/lib.sh); dotd runs the router configuration: etc/dotd.yml's defaults
# (cache_size 4 MiB, tcp_clients_max 128, queries_max 2048) with two upstreams on it.
#   idle:   VmRSS 10 s after a first answer (the TLS connection up, the cache nearly empty)
#   loaded: dnsperf -Q 100 for SECONDS (default 60) s, one query in two a name asked before
#           (100 names, cache hits after the first time) and one in two a new name (each a
#           miss that goes upstream), VmRSS read every second: the largest and the last
# Prints "idle_kb N", "load_max_kb N", "load_end_kb N" and dnsperf's summary.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
	echo "usage: $0 DOTD PROBE [SECONDS]" >&2
	exit 2
fi
DOTD=$(realpath "$1")
PROBE=$(realpath "$2")
SECS=${3:-60}
HERE=$(cd "$(dirname "$0")/../integration" && pwd)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

command -v dnsperf > /dev/null 2>&1 || die "dnsperf is installed"

rss_of()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

start_unbound unbound
dotd_in_front router "" "$UPORT" "$UPORT"
wait_answer "$DPORT" 60 "$DOTD_PID" || die "dotd starts and answers"
sleep 10
echo "idle_kb $(rss_of "$DOTD_PID")"

# unbound answers every name under bench. (a redirect zone): r1..r100 come back from dotd's
# cache after their first time, the n names are each new.
for ((i = 0; i < SECS * 100; i++)); do
	if ((i % 2 == 0)); then
		echo "r$((i / 2 % 100)).mix.bench A"
	else
		echo "n$i.mix.bench A"
	fi
done > "$TMP/mix.txt"
dnsperf -s "$HOST" -p "$DPORT" -d "$TMP/mix.txt" -Q 100 -l "$SECS" -c 1 -t 5 \
	> "$TMP/dnsperf.out" 2>&1 &
perf_pid=$!
PIDS+=("$perf_pid")
max=0
rss=0
while alive "$perf_pid"; do
	rss=$(rss_of "$DOTD_PID")
	((rss > max)) && max=$rss
	sleep 1
done
wait "$perf_pid" || true
echo "load_max_kb $max"
echo "load_end_kb $(rss_of "$DOTD_PID")"
grep -E 'Queries (sent|completed|lost)|Response codes|Average Latency' "$TMP/dnsperf.out"
stop_dotd "$DOTD_PID" 20
((STOP_STATUS == 0)) || die "clean stop (status $STOP_STATUS)"
