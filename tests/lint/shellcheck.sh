#!/usr/bin/env bash
# Runs shellcheck over every tracked shell script (*.sh, .ci/run, the bash completion),
# each from its own directory so that its `source=` directives resolve; every finding,
# style included, is an error. Exit 77 (skipped) without shellcheck or outside a git checkout.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
if ! command -v shellcheck >/dev/null; then
	echo "SKIP: shellcheck is not installed (scripts/setup.sh installs it)"
	exit 77
fi
files=$(git ls-files '*.sh' .ci/run dist/xbridge.bash-completion 2>/dev/null) || {
	echo "SKIP: not a git checkout"
	exit 77
}
bad=0
for f in $files; do
	if ! (cd "$(dirname "$f")" && shellcheck -x "$(basename "$f")"); then
		echo "shellcheck findings in $f"
		bad=1
	fi
done
((bad == 0)) && echo "all $(wc -w <<<"$files") shell scripts pass shellcheck"
exit $bad
