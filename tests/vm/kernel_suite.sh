#!/usr/bin/env bash
# A VM test: boots KERNEL with vmtest/run.sh and runs the build's `kernel` tests
# (the BPF packet tests and the namespace integration tests) inside it:
#   ctest --test-dir BUILD -L kernel --output-on-failure --no-tests=error
# The inner run's whole output is printed (and kept in LOG); this test passes
# only if the inner ctest does, and is skipped (77) when the VM cannot be run.
#
# Usage: kernel_suite.sh KERNEL BUILD LOG
#   KERNEL  as vmtest/run.sh --kernel: a package fetched by vmtest/setup.sh
#           (linux-image-amd64, linux-image-amd64/trixie), a vmlinuz, or a directory
# Environment: XB_VM_TIMEOUT (s, default 3300) stops the VM; XB_VM_CTEST_ARGS adds
# arguments to the inner ctest (after -jN, N the VM's CPUs); XB_VM_MEMORY, XB_VM_CPUS as
# run.sh.
# XB_VM_SUITE=full runs every `kernel` test inside; by default (core) what needs the
# VM's kernel: the BPF packet tests (its verifier and helpers) and the integration
# suites of the datapath's paths and of the port kinds whose modules only the VM has
# (offload, ports: VLAN, bond, team uplinks; vxlan; VLAN filtering with 802.1Q
# devices on the outside PC and the host), of core only the tests that move frames
# (its command-line and rollback tests do not depend on the kernel), not every
# namespace test again.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

kernel=$1
build=$2
log=$3

vm_require_root
vm_require_vng
vm_require_kernel "$kernel"

if [[ ${XB_VM_SUITE:-core} != full ]]; then
	# and of the datapath's newer parts, one representative each (older kernel, other
	# helpers): VLAN filtering, capture, snooping, anti-spoofing and BPDU guard.
	core='^(bpf|integration\.(offload|ports|vxlan|vlan))\.'
	core+='|^integration\.core\.(ping_matrix|arp_broadcast_reaches_everyone|unknown_unicast_is_flooded|tcp_transfer|down_leaves_nothing|vlans_across_host_guests_and_wire|multi_queue_taps)$'
	core+='|^integration\.(capture\.capture_is_read_back_byte_for_byte|mcast\.mcast_guests_get_only_their_group)$'
	core+='|^integration\.policy\.(spoofing_guest_reaches_nobody|bpdu_guard_blocks_a_guest_port)$'
	export XB_VM_CTEST_ARGS="-R $core ${XB_VM_CTEST_ARGS:-}"
fi
# As many tests at once as the VM has CPUs (vmtest/run.sh gives it the host's): the BPF
# packet tests, most of them `xbridge up` under TCG, take half the time with two; the
# integration tests are RUN_SERIAL and still run one at a time.
export XB_VM_CTEST_ARGS="-j${XB_VM_CPUS:-$(nproc)} ${XB_VM_CTEST_ARGS:-}"

started=$SECONDS
XB_BUILD_DIR=$build "$vm_repo/vmtest/run.sh" --kernel "$kernel" --timeout "${XB_VM_TIMEOUT:-3300}" \
	2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
secs=$((SECONDS - started))

summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1)
echo "== kernel $kernel: the VM ran ${secs}s; inside: ${summary:-no ctest summary} (exit $rc)"
if ((rc == 0)) && [[ -z $summary ]]; then
	echo "FAIL: vmtest/run.sh exited 0 but the inner ctest printed no summary" >&2
	exit 1
fi
# 77 would read as "skipped": whatever went wrong inside, it is a failure here.
((rc == 77)) && rc=1
exit "$rc"
