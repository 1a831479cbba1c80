#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every suite
# with ctest (unit, BPF packet tests, namespace integration tests; with --vm also the
# same suites inside a VM on Debian 12's kernel). Needs root.
#   scripts/test.sh [--vm] [ctest arguments...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${XB_BUILD_DIR:-$repo/build}
vm=0
if [[ ${1:-} == --vm ]]; then
	vm=1
	shift
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "test.sh: must run as root (the tests load BPF programs and create namespaces)" >&2
	exit 1
fi
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
if ((vm)); then
	"$repo/vmtest/setup.sh"
fi
cd "$build"
ctest --output-on-failure "$@"
