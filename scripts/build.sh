#!/usr/bin/env bash
# Configures and builds xbridge into ${XB_BUILD_DIR:-build}. Quiet unless something fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${XB_BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
	tail -n 50 "$build/build.log" >&2
	echo "build.sh: build failed (full log: $build/build.log)" >&2
	exit 1
}
echo "build.sh: built $build/controller/xbridge"
