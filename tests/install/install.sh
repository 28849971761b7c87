#!/usr/bin/env bash
# `cmake --install` of a build into a temporary DESTDIR with prefix /usr, as a package would:
# dotd and dotd-ctl where they belong, the unit naming the installed dotd and otherwise the
# source's line for line (so that ExecReload= and the rest carry through), every document its
# Documentation= names installed, the man pages rendering without a warning, and the
# configuration installed once and never overwritten by a second install.
#
# usage: install.sh BUILD_DIR SOURCE_DIR [CMAKE]
set -uo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR [CMAKE]" >&2
	exit 2
fi
build=$1 src=$2 cmake=${3:-cmake}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dotd-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
status=0

pass() {
	echo "PASS: $*"
}

fail() {
	echo "FAIL: $*"
	status=1
}

for tool in man groff; do
	if ! command -v "$tool" > /dev/null; then
		echo "FAIL: no $tool: install the test packages (make test-deps: man-db, groff-base)"
		exit 1
	fi
done

install_into_root() {
	DESTDIR=$root "$cmake" --install "$build" --prefix /usr > "$tmp/log" 2>&1
}

if install_into_root; then
	pass "cmake --install --prefix /usr with DESTDIR"
else
	fail "cmake --install --prefix /usr with DESTDIR"
	sed 's/^/    | /' "$tmp/log"
	exit 1
fi

# install_manifest.txt (paths without DESTDIR) lists exactly what is under DESTDIR: every file
# went through file(INSTALL), so that it is known to whoever uninstalls.
manifest=$build/install_manifest.txt
(cd "$root" && find . -type f -o -type l) | sed 's|^\.||' | sort > "$tmp/found"
sort "$manifest" > "$tmp/listed"
if diff -u "$tmp/listed" "$tmp/found" > "$tmp/diff"; then
	pass "install_manifest.txt lists every installed file, and only those"
else
	fail "install_manifest.txt (-) and the files under DESTDIR (+) differ:"
	sed 's/^/    | /' "$tmp/diff"
fi

for prog in usr/sbin/dotd usr/bin/dotd-ctl; do
	name=${prog##*/}
	if [[ -f $root/$prog && -x $root/$prog ]] && "$root/$prog" -V | grep -q "^$name [0-9]"
	then
		pass "/$prog installed, executable, and it runs"
	else
		fail "/$prog installed and executable"
	fi
done

unit=$root/usr/lib/systemd/system/dotd.service
if [[ -f $unit ]]; then
	pass "the unit is /usr/lib/systemd/system/dotd.service"
else
	fail "the unit is /usr/lib/systemd/system/dotd.service"
	exit 1
fi
if grep -qx 'ExecStart=/usr/sbin/dotd -C /etc/dotd/dotd.yml' "$unit"; then
	pass "the unit's ExecStart= is the installed /usr/sbin/dotd, on /etc/dotd/dotd.yml"
else
	fail "the unit's ExecStart= is the installed /usr/sbin/dotd, on /etc/dotd/dotd.yml"
	grep -n '^ExecStart=' "$unit" | sed 's/^/    | /'
fi
# Every Exec*= names a program this install put there and made executable, or one of the
# system's (ExecReload=/bin/kill).
while read -r exe; do
	if grep -qxF "$exe" "$manifest"; then
		if [[ -x $root$exe ]]; then
			pass "the unit runs $exe, installed and executable"
		else
			fail "the unit runs $exe, installed but not executable"
		fi
	elif [[ -x $exe ]]; then
		pass "the unit runs $exe, the system's"
	else
		fail "the unit runs $exe, which is neither installed nor the system's"
	fi
done < <(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$unit")

# The installed unit is the source's, the packaged paths aside: nothing is lost on the way.
sed -e 's|/usr/sbin/|/usr/local/sbin/|g' -e 's|/usr/share/doc/dotd/|/usr/local/share/doc/dotd/|g' \
	"$unit" > "$tmp/unit.back"
if diff -u "$src/etc/dotd.service" "$tmp/unit.back" > "$tmp/diff"; then
	pass "the installed unit is etc/dotd.service line for line, with the installed paths"
else
	fail "the installed unit differs from etc/dotd.service beyond its paths:"
	sed 's/^/    | /' "$tmp/diff"
fi

# Every Documentation= entry is installed: man:NAME(SECTION) and file:///PATH.
docs=$(sed -n 's/^Documentation=//p' "$unit" | tr ' ' '\n' | sed '/^$/d')
for want in 'man:dotd(8)' 'man:dotd-ctl(8)' 'man:dotd.yml(5)'; do
	if grep -qxF -- "$want" <<< "$docs"; then
		pass "Documentation= lists $want"
	else
		fail "Documentation= lists $want"
	fi
done
while read -r doc; do
	case $doc in
	man:*\(*\))
		page=${doc#man:}
		name=${page%(*} section=${page##*(}
		section=${section%)}
		path=/usr/share/man/man$section/$name.$section
		;;
	file://*)
		path=${doc#file://}
		;;
	*)
		echo "SKIP: Documentation=$doc is neither man: nor file:"
		continue
		;;
	esac
	if [[ -f $root$path ]]; then
		pass "Documentation=$doc is installed ($path)"
	else
		fail "Documentation=$doc is not installed ($path)"
	fi
done <<< "$docs"

# The man pages: installed as written, and rendering without a warning.
for page in dotd.8 dotd-ctl.8 dotd.yml.5; do
	f=$root/usr/share/man/man${page##*.}/$page
	if [[ ! -f $f ]]; then
		fail "$page installed in /usr/share/man/man${page##*.}"
		continue
	fi
	if cmp -s "$src/man/$page" "$f"; then
		pass "$page installed in /usr/share/man/man${page##*.}"
	else
		fail "$page installed, but not as man/$page has it"
	fi
	MANWIDTH=80 man -l "$f" 2> "$tmp/man.err" | cat > "$tmp/man.out"
	st=$?
	title=${page%.*}
	if ((st == 0)) && [[ ! -s $tmp/man.err ]] && grep -q '^NAME' "$tmp/man.out" &&
		grep -q "^ *$title \\(-\\|‐\\|−\\)" "$tmp/man.out"; then
		pass "man -l $page renders, with no message"
	else
		fail "man -l $page renders, with no message (status $st)"
		sed 's/^/    | /' "$tmp/man.err"
	fi
	out=$(groff -man -ww -z "$f" 2>&1)
	if [[ -z $out ]]; then
		pass "groff -man -ww -z $page: no warning"
	else
		fail "groff -man -ww -z $page:"
		printf '%s\n' "$out" | sed 's/^/    | /'
	fi
done

# The configuration: installed the first time, never overwritten after.
config=$root/etc/dotd/dotd.yml
if [[ -f $config ]] && cmp -s "$src/etc/dotd.yml" "$config"; then
	pass "the configuration is installed as /etc/dotd/dotd.yml"
else
	fail "the configuration is installed as /etc/dotd/dotd.yml"
fi
printf '# changed by the administrator\n' >> "$config"
cp "$config" "$tmp/config.changed"
if install_into_root; then
	pass "a second install over the first"
else
	fail "a second install over the first"
	sed 's/^/    | /' "$tmp/log"
fi
if cmp -s "$tmp/config.changed" "$config"; then
	pass "a second install keeps the changed /etc/dotd/dotd.yml"
else
	fail "a second install overwrote the changed /etc/dotd/dotd.yml"
fi
if grep -qF "keeping existing $config" "$tmp/log"; then
	pass "the second install says it keeps the configuration"
else
	fail "the second install does not say it keeps the configuration"
	sed 's/^/    | /' "$tmp/log"
fi

exit "$status"
