#!/usr/bin/env bash
# Runs inside the vng guest that vmtest/run.sh boots (not meant to be run by hand).
#
# Usage: guest.sh RUNDIR
#   RUNDIR/cmd.sh   the command to run (a bash script written by run.sh)
#   RUNDIR/env.sh   optional: variables to export first (the caller's XB_*)
#   RUNDIR/status   written here: the command's exit status
#
# RUNDIR is a read-write 9p share, so the status reaches the host even though
# everything else the guest writes outside --rwdir directories is thrown away.
# The status file, not vng's exit code, is what run.sh trusts.
set -uo pipefail

rundir=$1

# Debian kernels build tun and veth as modules; the project's tests need both.
# A kernel with them built in (or without a modules tree) makes modprobe fail
# harmlessly, so only say something when tun is really missing.
modprobe -q -a tun veth 2>/dev/null ||
	[[ -c /dev/net/tun ]] ||
	echo "vmtest/guest.sh: note: 'modprobe tun veth' failed and /dev/net/tun is missing" >&2

# libbpf pins maps under /sys/fs/bpf; virtme's init does not mount bpffs.
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf ||
		echo "vmtest/guest.sh: note: could not mount bpffs on /sys/fs/bpf" >&2
fi

if [[ -f $rundir/env.sh ]]; then
	# shellcheck source=/dev/null
	. "$rundir/env.sh"
fi

bash "$rundir/cmd.sh"
rc=$?

echo "$rc" >"$rundir/status.tmp" && mv "$rundir/status.tmp" "$rundir/status"
sync
exit "$rc"
