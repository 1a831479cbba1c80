# shellcheck shell=bash
# Shared by the VM tests: the reasons a VM test is skipped (exit 77, ctest's
# SKIP_RETURN_CODE), never passed, when it cannot run here.

vm_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm_cache=${XB_VMTEST_CACHE:-$vm_repo/vmtest/.cache}

skip() {
	echo "SKIP: $*"
	exit 77
}

vm_require_root() {
	[[ $(id -u) -eq 0 ]] || skip "needs root (vmtest/run.sh boots QEMU on network namespaces and taps)"
}

vm_require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
}

# virtme-ng and QEMU: installed by vmtest/setup.sh (scripts/test.sh --vm runs it).
vm_require_vng() {
	command -v vng >/dev/null || skip "virtme-ng (vng) is not installed: run vmtest/setup.sh"
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed: run vmtest/setup.sh"
}

# A kernel as vmtest/run.sh --kernel takes it: a vmlinuz path, a directory with
# boot/vmlinuz-*, or a package that vmtest/setup.sh has fetched into the cache.
# A test never fetches one itself (no network in tests).
vm_require_kernel() {
	local k=$1
	if [[ $k == /* || $k == .* ]]; then
		[[ -e $k ]] || skip "kernel $k: no such file or directory"
		return 0
	fi
	[[ -f $vm_cache/kernels/${k//\//@}/.complete ]] ||
		skip "kernel $k is not in $vm_cache/kernels: run vmtest/setup.sh --kernel $k"
}
