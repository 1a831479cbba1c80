#!/usr/bin/env bash
# clang-tidy (.clang-tidy at the root, with relaxations for tests/ and bench/) over every
# C++ source of the build: the controller, the tests and their tools, the benchmark tool.
# Every finding is an error. Usage: tidy.sh BUILD_DIR (its compile_commands.json).
# Exit 77 (skipped) without clang-tidy or without the compilation database.
set -uo pipefail
build=${1:?usage: tidy.sh BUILD_DIR}
if ! command -v run-clang-tidy >/dev/null || ! command -v clang-tidy >/dev/null; then
	echo "SKIP: clang-tidy is not installed (scripts/setup.sh installs it)"
	exit 77
fi
[[ -f $build/compile_commands.json ]] || {
	echo "SKIP: no $build/compile_commands.json"
	exit 77
}
out=$(run-clang-tidy -p "$build" -quiet -j "$(nproc)" 2>&1)
rc=$?
# Findings only, without the colours and the compiler's progress lines.
# shellcheck disable=SC2001 # a regex: ${var//} has none
findings=$(sed 's/\x1b\[[0-9;]*m//g' <<<"$out" | grep -E '(warning|error):' | sort -u)
n=$(grep -c '"file":' "$build/compile_commands.json")
if ((rc != 0)) || [[ -n $findings ]]; then
	echo "${findings:-$out}"
	echo "clang-tidy: findings in the sources above (of $n files)"
	exit 1
fi
echo "clang-tidy: $n files, no findings"
