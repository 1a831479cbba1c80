#!/usr/bin/env bash
# Builds the Debian package xbridge_VERSION_amd64.deb (CPack's DEB generator; its Depends
# from dpkg-shlibdeps) and checks it with lintian, which must report no errors.
#   scripts/package.sh [OUTDIR]     (default: $XB_BUILD_DIR/package, XB_BUILD_DIR: build)
# The build is configured with the prefix /usr, where the package installs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${XB_BUILD_DIR:-$repo/build}
out=${1:-$build/package}
XB_BUILD_DIR=$build "$repo/scripts/build.sh" -DCMAKE_INSTALL_PREFIX=/usr
mkdir -p "$out"
out=$(cd "$out" && pwd)
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || {
	cat "$out/cpack.log" >&2
	echo "package.sh: cpack failed" >&2
	exit 1
}
deb=$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' "$out/cpack.log")
[[ -f $deb ]] || {
	echo "package.sh: cpack reported no package (log: $out/cpack.log)" >&2
	exit 1
}
if command -v lintian >/dev/null; then
	# Errors fail the build of the package; warnings are printed (there are none today).
	lintian --allow-root --fail-on error "$deb"
else
	echo "package.sh: lintian is not installed: the package is not checked (scripts/setup.sh installs it)" >&2
fi
echo "package.sh: built $deb"
