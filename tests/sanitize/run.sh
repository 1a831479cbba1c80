#!/usr/bin/env bash
# The sanitizer build: configures xbridge with AddressSanitizer and
# UndefinedBehaviorSanitizer (XB_SANITIZE=ON) in its own build directory, builds the
# unit and BPF test programs there, and runs them.
#   run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
out=$2
mkdir -p "$out"
cmake -S "$src" -B "$out" -DXB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >"$out/configure.log" 2>&1 || {
	tail -n 30 "$out/configure.log"
	exit 1
}
cmake --build "$out" -j"$(nproc)" --target xbridge_unit_tests xbridge_bpf_tests \
	>"$out/build.log" 2>&1 || {
	tail -n 50 "$out/build.log"
	echo "sanitize: build failed (log: $out/build.log)"
	exit 1
}
# halt_on_error: a report is a failure, not a warning in a log nobody reads.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --test-dir "$out" -L 'unit|bpf' --output-on-failure
