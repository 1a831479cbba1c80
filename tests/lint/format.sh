#!/usr/bin/env bash
# The tree is clang-formatted (.clang-format at the root): lists every tracked C/C++
# file clang-format would change, and fails if there is one. Exit 77 (skipped) without
# clang-format or outside a git checkout.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
command -v clang-format >/dev/null || {
	echo "SKIP: clang-format is not installed"
	exit 77
}
files=$(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' 2>/dev/null) || {
	echo "SKIP: not a git checkout"
	exit 77
}
bad=0
for f in $files; do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f (clang-format -i $f)"
		bad=1
	fi
done
((bad == 0)) && echo "all $(wc -w <<<"$files") C/C++ files are clang-formatted"
exit $bad
