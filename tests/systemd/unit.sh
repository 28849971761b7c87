#!/usr/bin/env bash
# etc/dotd.service against systemd's own checks, without running it: the unit and dotd are
# installed into a temporary root (with the system's units, and /bin/kill for ExecReload=),
# then `systemd-analyze verify` must pass with no message at all (it checks that
# ExecStart= and ExecReload= can be executed, and that man: pages exist: it asks the host's man,
# so MANPATH names the pages of man/ copied into the root) and `systemd-analyze security` must
# rate its exposure at most MAX (tenths, 0..100; 14 is "1.4 OK").
#
# usage: unit.sh DOTD UNIT [MAX]    exit 77 (skipped) without systemd-analyze
set -euo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 DOTD UNIT [MAX]" >&2
	exit 2
fi
dotd=$1 unit=$2 max=${3:-14}
if ! command -v systemd-analyze > /dev/null 2>&1; then
	echo "SKIP: systemd-analyze not installed"
	exit 77
fi
units=$(dirname "$(realpath /usr/lib/systemd/system/sysinit.target)")
root=$(mktemp -d "${TMPDIR:-/tmp}/dotd-unit.XXXXXX")
trap 'rm -rf "$root"' EXIT
status=0

mkdir -p "$root/usr/local/sbin" "$root/etc/systemd/system" "$root/usr/lib/systemd" \
	"$root/usr/bin"
install -m 755 "$dotd" "$root/usr/local/sbin/dotd"
install -m 644 "$unit" "$root/etc/systemd/system/dotd.service"
cp -a "$units" "$root/usr/lib/systemd/system"
cp "$(realpath /bin/kill)" "$root/usr/bin/kill"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
man_src=$(dirname "$(realpath "$0")")/../../man
for page in "$man_src"/*.[58]; do
	install -D -m 644 "$page" "$root/usr/share/man/man${page##*.}/$(basename "$page")"
done
export MANPATH=$root/usr/share/man

# shellcheck disable=SC2016 # $MAINPID is for systemd, literally
for want in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID'; do
	if grep -qxF -- "$want" "$unit"; then
		echo "PASS: $want"
	else
		echo "FAIL: $want"
		status=1
	fi
done

if out=$(systemd-analyze verify --root="$root" dotd.service 2>&1) && [[ -z $out ]]; then
	echo "PASS: systemd-analyze verify: no message"
else
	echo "FAIL: systemd-analyze verify"
	printf '%s\n' "$out" | sed 's/^/    | /'
	status=1
fi

set +e
out=$(systemd-analyze security --offline=true --root="$root" --threshold="$max" \
	dotd.service 2>&1)
st=$?
set -e
printf '%s\n' "$out" | grep -v '✓' | sed 's/^/    | /'
if ((st == 0)); then
	echo "PASS: systemd-analyze security: exposure at most $max/100"
else
	echo "FAIL: systemd-analyze security: exposure above $max/100"
	status=1
fi
exit "$status"
