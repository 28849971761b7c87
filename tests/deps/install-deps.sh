#!/bin/sh
# Runs .ci/install-deps (or the script given as $1) against a fake system: stub dpkg-query,
# apt-get, id and sudo first in PATH, and POLICY_RC_D pointing into a temporary directory, so
# that nothing is installed and the real /usr/sbin/policy-rc.d is never touched. Checks:
#   - everything installed: exit 0, apt-get never called;
#   - a package missing, no policy-rc.d: the deny file exists during the install (the stub
#     apt-get runs it and records its exit status, 101), is removed afterwards, exit 0;
#   - a package missing, a policy-rc.d of the system's own: left as it was, exit 0;
#   - apt-get failing: exit non-zero, and the deny file is still removed;
#   - as root: sudo is not used.
set -u

script=${1:-$(dirname "$0")/../../.ci/install-deps}
# A script that ignores POLICY_RC_D would write the real /usr/sbin/policy-rc.d: never run it.
if ! grep -q POLICY_RC_D "$script"; then
	echo "FAIL: $script does not take POLICY_RC_D; not running it" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
failures=0

# dpkg-query -W -f='${Status}' PKG: installed if PKG is in $STUB_INSTALLED.
cat >"$tmp/bin/dpkg-query" <<'EOF'
#!/bin/sh
for last in "$@"; do :; done
case " $STUB_INSTALLED " in
*" $last "*) printf 'install ok installed' ;;
*) echo "dpkg-query: no packages found matching $last" >&2; exit 1 ;;
esac
EOF
# apt-get: logs its arguments; "install" also logs what policy-rc.d says, and fails if
# $STUB_APT_FAIL is set.
cat >"$tmp/bin/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $*" >>"$STUB_LOG"
case " $* " in
*" install "*)
	if [ -x "$POLICY_RC_D" ]; then
		"$POLICY_RC_D" unbound start
		echo "policy-rc.d exit $?" >>"$STUB_LOG"
	else
		echo "policy-rc.d absent" >>"$STUB_LOG"
	fi
	if [ -n "${STUB_APT_FAIL:-}" ]; then
		echo "E: Unable to locate package" >&2
		exit 100
	fi
	;;
esac
exit 0
EOF
cat >"$tmp/bin/id" <<'EOF'
#!/bin/sh
[ "$1" = -u ] && echo "$STUB_UID"
EOF
cat >"$tmp/bin/sudo" <<'EOF'
#!/bin/sh
echo "sudo $1" >>"$STUB_LOG"
exec "$@"
EOF
chmod 755 "$tmp/bin/"*

PATH="$tmp/bin:$PATH"
POLICY_RC_D="$tmp/policy-rc.d"
STUB_LOG="$tmp/log"
export PATH POLICY_RC_D STUB_LOG

fail() {
	echo "FAIL: $case: $1" >&2
	sed 's/^/  output: /' "$tmp/out" >&2
	if [ -e "$STUB_LOG" ]; then
		sed 's/^/  log: /' "$STUB_LOG" >&2
	fi
	failures=$((failures + 1))
}

# run NAME INSTALLED UID APT_FAIL PKG...: run the script, its status in $rc.
run() {
	case=$1
	rm -f "$STUB_LOG"
	STUB_INSTALLED=$2 STUB_UID=$3 STUB_APT_FAIL=$4
	export STUB_INSTALLED STUB_UID STUB_APT_FAIL
	shift 4
	"$script" "$@" >"$tmp/out" 2>&1
	rc=$?
}

logged() {
	[ -e "$STUB_LOG" ] && grep -qxF "$1" "$STUB_LOG"
}

run "all installed" "libyaml-dev unbound" 1000 "" libyaml-dev unbound
[ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
[ ! -e "$STUB_LOG" ] || fail "apt-get or sudo was called"
[ ! -e "$POLICY_RC_D" ] || fail "policy-rc.d was created"

run "missing, no policy-rc.d" "libyaml-dev" 1000 "" libyaml-dev unbound
[ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
logged "apt-get update -qq" || fail "no apt-get update"
logged "apt-get install -y -qq --no-install-recommends unbound" || fail "not installed"
logged "policy-rc.d exit 101" || fail "policy-rc.d did not deny starting services"
logged "sudo env" || fail "apt-get not run through sudo"
[ ! -e "$POLICY_RC_D" ] || fail "policy-rc.d left behind"

printf '#!/bin/sh\n# the system'"'"'s own\nexit 0\n' >"$POLICY_RC_D"
chmod 755 "$POLICY_RC_D"
cp "$POLICY_RC_D" "$tmp/policy-rc.d.orig"
run "missing, policy-rc.d present" "" 1000 "" unbound
[ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
logged "apt-get install -y -qq --no-install-recommends unbound" || fail "not installed"
logged "policy-rc.d exit 0" || fail "the system's policy-rc.d was not the one in place"
cmp -s "$POLICY_RC_D" "$tmp/policy-rc.d.orig" || fail "policy-rc.d was changed or removed"

run "apt-get fails, policy-rc.d present" "" 1000 1 unbound
[ "$rc" -ne 0 ] || fail "exit status 0 after a failed install"
cmp -s "$POLICY_RC_D" "$tmp/policy-rc.d.orig" || fail "policy-rc.d was changed or removed"
rm -f "$POLICY_RC_D"

run "apt-get fails, no policy-rc.d" "" 1000 1 unbound
[ "$rc" -ne 0 ] || fail "exit status 0 after a failed install"
logged "policy-rc.d exit 101" || fail "policy-rc.d did not deny starting services"
[ ! -e "$POLICY_RC_D" ] || fail "policy-rc.d left behind after a failed install"

run "missing, as root" "" 0 "" unbound
[ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
logged "apt-get install -y -qq --no-install-recommends unbound" || fail "not installed"
! grep -q '^sudo ' "$STUB_LOG" || fail "sudo used as root"
[ ! -e "$POLICY_RC_D" ] || fail "policy-rc.d left behind"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "install-deps: all checks passed"
