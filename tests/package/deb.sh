#!/usr/bin/env bash
# The Debian package, as scripts/package.sh builds it, installed into a scratch root
# (dpkg-deb -x): xbridge runs from there, every file is where Debian expects it, its
# Depends name the package of every library the binary links, and lintian reports no
# errors. Usage: deb.sh BUILD_DIR VERSION. Exit 77 (skipped) with the reason when it
# cannot run.
set -uo pipefail
build=${1:?usage: deb.sh BUILD_DIR VERSION}
version=${2:?usage: deb.sh BUILD_DIR VERSION}
skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	exit 1
}
for t in cpack dpkg-deb dpkg-query readelf lintian man; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh installs it)"
done
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[[ $prefix == /usr ]] ||
	skip "this build installs under $prefix, not /usr: scripts/package.sh configures /usr"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
	fail "cpack failed: $(tail -n 5 "$tmp/cpack.log")"
deb=$tmp/out/xbridge_${version}_amd64.deb
[[ -f $deb ]] || fail "no $deb: $(ls "$tmp/out")"
echo "ok: built $(basename "$deb")"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == xbridge && $(field Version) == "$version" && $(field Architecture) == amd64 ]] ||
	fail "control: $(dpkg-deb -f "$deb" Package Version Architecture)"
depends=$(field Depends)
echo "Depends: $depends"

root=$tmp/root
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x failed"
xb=$root/usr/sbin/xbridge
[[ -x $xb ]] || fail "no usr/sbin/xbridge in the package"

# Every library the binary needs comes from a package its Depends names (libc6,
# libstdc++6 and libgcc-s1 included: dpkg-shlibdeps lists them too).
for lib in $(readelf -d "$xb" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
	[[ -n $path ]] || fail "$lib, which xbridge needs, is not installed here"
	pkg=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
	[[ -n $pkg ]] || pkg=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
	[[ -n $pkg ]] || fail "no package owns $path"
	[[ ", $depends," == *", $pkg "* || ", $depends," == *", $pkg,"* ]] ||
		fail "xbridge needs $lib (package $pkg), which Depends does not name"
done
echo "ok: Depends names the package of every library xbridge links"

out=$("$xb" version) || fail "xbridge version failed"
[[ $out == "xbridge $version "* ]] || fail "xbridge version printed '$out'"
echo "ok: $out"
help=$("$xb" --help) || fail "xbridge --help failed"
commands=$(awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' <<<"$help")
[[ $(wc -w <<<"$commands") -ge 10 ]] || fail "xbridge --help lists no commands: $help"
echo "ok: xbridge --help lists $(tr '\n' ' ' <<<"$commands")"

for f in usr/share/man/man8/xbridge.8.gz lib/systemd/system/xbridge@.service \
	usr/share/bash-completion/completions/xbridge usr/share/doc/xbridge/copyright \
	usr/share/doc/xbridge/changelog.gz usr/share/doc/xbridge/examples/xbridge.toml.example \
	etc/libvirt/hooks/qemu.d/xbridge; do
	[[ -f $root/$f ]] || fail "no $f in the package"
done
exec_start='ExecStart=/usr/sbin/xbridge apply --foreground --name %i'
grep -qxF "$exec_start" "$root/lib/systemd/system/xbridge@.service" ||
	fail "the unit does not run /usr/sbin/xbridge"
hook=$root/etc/libvirt/hooks/qemu.d/xbridge
# shellcheck disable=SC2016 # the hook's line, "$@" for the shell that runs it
if [[ ! -x $hook ]] || ! grep -qxF 'exec /usr/sbin/xbridge libvirt-hook "$@"' "$hook"; then
	fail "the libvirt hook is not an executable that runs /usr/sbin/xbridge libvirt-hook"
fi
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles 2>/dev/null | grep -qx /etc/libvirt/hooks/qemu.d/xbridge ||
	fail "the libvirt hook is not a conffile"
# The example configuration is one that xbridge accepts (checked in the unit tests too).
page=$(MANWIDTH=100 man -l "$root/usr/share/man/man8/xbridge.8.gz" 2>&1) || fail "man cannot read the page"
[[ $page == *"xbridge - an XDP learning bridge"* ]] || fail "the man page has no NAME: ${page:0:300}"
# The man page and the completion know every command the binary has.
completion=" $(sed -n 's/^\tlocal commands="\(.*\)"$/\1/p' "$root/usr/share/bash-completion/completions/xbridge") "
for c in $commands; do
	grep -Eq "^ {7}$c( |$)" <<<"$page" || fail "the man page does not document '$c'"
	[[ $completion == *" $c "* ]] || fail "the bash completion does not know '$c'"
done
echo "ok: man page, unit, completion, copyright and changelog in place; every command documented"

lint=$(lintian --allow-root "$deb" 2>&1)
echo "${lint:-lintian: nothing to report}"
grep -q '^E: ' <<<"$lint" && fail "lintian reports errors"
echo "PASS: the package installs and runs"
