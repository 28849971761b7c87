#!/usr/bin/env bash
# mem64.sh BUILD [TEST-REGEX]: the integration suite (ctest -L integration of BUILD, a host
# build) with every dotd it starts held to 64 MB, as on a small router (docs/ROUTER.md).
# Each test's own command is taken from ctest and run with BUILD's dotd replaced by a wrapper
# that limits it and execs it (same PID, so the scripts' signals and /proc reads still reach
# dotd): a cgroup v2 of its own with memory.max 64 MiB when /sys/fs/cgroup is a writable
# cgroup v2 hierarchy with the memory controller, else `prlimit --as` of 64 MiB, which bounds
# virtual memory (every mapping, touched or not: stricter than a bound on resident memory).
# unbound, the probes and the clients are not limited (plain, netwatch_netns, netwatch_clock and
# dnssec_world start no dotd: they run all the same). Exit status 1 if a test failed.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 BUILD [TEST-REGEX]" >&2
	exit 2
fi
BUILD=$(realpath "$1")
REGEX=${2:-.}
LIMIT=$((64 * 1024 * 1024))
DOTD=$BUILD/resolver/dotd
[[ -x $DOTD ]] || {
	echo "$0: no $DOTD" >&2
	exit 1
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dotd-mem64.XXXXXX")
CG=/sys/fs/cgroup/dotd-mem64.$$
cleanup()
{
	local st=$? d
	if [[ -d $CG ]]; then
		for d in "$CG"/*/; do
			[[ -d $d ]] && rmdir "$d" 2> /dev/null
		done
		rmdir "$CG" 2> /dev/null || true
	fi
	rm -rf "$TMP"
	exit "$st"
}
trap cleanup EXIT

# Readable by all: run.sh also starts dotd as nobody.
chmod 755 "$TMP"
WRAP=$TMP/dotd
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2> /dev/null && mkdir "$CG" 2> /dev/null &&
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control 2> /dev/null; then
	MODE="cgroup v2 memory.max $LIMIT ($CG/PID, one per dotd)"
	cat > "$WRAP" << EOF
#!/bin/sh
# mem64.sh: dotd in a cgroup of its own, memory.max $LIMIT bytes, no swap.
set -eu
cg=$CG/\$\$
mkdir "\$cg"
echo $LIMIT > "\$cg/memory.max"
echo 0 > "\$cg/memory.swap.max" 2> /dev/null || true
echo \$\$ > "\$cg/cgroup.procs"
exec "$DOTD" "\$@"
EOF
else
	rmdir "$CG" 2> /dev/null || true
	MODE="prlimit --as=$LIMIT (no writable cgroup v2 memory controller under /sys/fs/cgroup)"
	cat > "$WRAP" << EOF
#!/bin/sh
# mem64.sh: dotd with its address space limited to $LIMIT bytes.
exec prlimit --as=$LIMIT -- "$DOTD" "\$@"
EOF
fi
chmod 755 "$WRAP"
echo "mem64: dotd limited by $MODE"

# Each integration test: its name, then its command (ctest's quoting, which eval reads back).
ctest --test-dir "$BUILD" -N -V -L integration -R "$REGEX" |
	sed -n 's/^[0-9]*: Test command: //p' > "$TMP/commands"
passed=()
failed=()
skipped=()
while IFS= read -r line <&3; do
	eval "cmd=($line)"
	script=$(basename "${cmd[1]}" .sh)
	for i in "${!cmd[@]}"; do
		[[ ${cmd[$i]} == "$DOTD" ]] && cmd[i]=$WRAP
	done
	echo "=== mem64: $script"
	st=0
	(cd "$BUILD/tests/integration" && "${cmd[@]}") < /dev/null > "$TMP/$script.log" 2>&1 || st=$?
	grep -E '^[a-z_]+: [0-9]+ passed' "$TMP/$script.log" | tail -n 1 || tail -n 1 "$TMP/$script.log"
	case $st in
	0) passed+=("$script") ;;
	77) skipped+=("$script") ;;
	*)
		failed+=("$script")
		grep -E '^(FAIL|  failed)' "$TMP/$script.log" | head -n 20 || true
		;;
	esac
done 3< "$TMP/commands"
echo "mem64 ($MODE): ${#passed[@]} passed (${passed[*]}), ${#skipped[@]} skipped" \
	"(${skipped[*]}), ${#failed[@]} failed (${failed[*]})"
((${#failed[@]} == 0))
