#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every suite
# with ctest (unit, BPF packet tests, namespace integration tests). Needs root.
#   scripts/test.sh [--vm] [ctest arguments...]
# Without --vm the VM tests (label vm) are left out. With --vm, vmtest/setup.sh first
# installs QEMU and virtme-ng and fetches the kernels, then everything runs, the VM
# tests included: the `kernel` tests inside a VM on each kernel of $XB_VM_KERNELS
# (default: Debian 12's linux-image-amd64), and two real QEMU guests on xbridge's taps.
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
	# The kernels of the vm.kernel.* tests (packages; paths need no fetching) and
	# the one the real-QEMU guests boot.
	kernels=()
	read -r -a kernels <<<"${XB_VM_KERNELS:-linux-image-amd64} ${XB_VM_GUEST_KERNEL:-linux-image-amd64}"
	setup_args=()
	for k in "${kernels[@]}"; do
		[[ $k == /* || $k == .* ]] || setup_args+=(--kernel "$k")
	done
	"$repo/vmtest/setup.sh" "${setup_args[@]}"
fi
cd "$build"
started=$(date +%s)
rc=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ((vm)); then
	set +e
	ctest --output-on-failure "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	# What ran inside each VM, as the inner ctest summed it up.
	for log in "$build"/tests/vm/kernel-*.log; do
		[[ -f $log && $(stat -c %Y "$log") -ge $started ]] || continue
		name=${log##*/kernel-}
		echo "vm.kernel.${name%.log}, inside the VM: $(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || echo 'no ctest summary')"
	done
	# ctest's own closing line last, where readers of the log look for it.
	grep -E '^[0-9]+% tests passed' "$out" | tail -n 1 || true
else
	ctest --output-on-failure -LE '^vm$' "$@" || rc=$?
fi
exit "$rc"
