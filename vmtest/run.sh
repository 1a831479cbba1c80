#!/usr/bin/env bash
# Boots a kernel in QEMU with this host's root filesystem (virtme-ng) and runs a
# command inside, passing on its output and its exit status.
#
# Usage: vmtest/run.sh [OPTIONS] [--] [COMMAND...]
#   --kernel PKG|IMAGE  kernel to boot: a package fetched by vmtest/setup.sh
#                       (fetched now if missing; PKG/trixie for the next Debian
#                       release), a vmlinuz path, or a directory holding
#                       boot/vmlinuz-*. Default: $XB_VM_KERNEL or linux-image-amd64.
#   --memory SIZE       guest memory (default: $XB_VM_MEMORY or 2G)
#   --cpus N            guest CPUs (default: $XB_VM_CPUS or all of the host's)
#   --qemu-opts OPTS    extra QEMU arguments, repeatable, e.g.
#                       --qemu-opts="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no
#                                    -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"
#   --rwdir DIR         extra host directory the guest may write (repeatable); the
#                       repository and the build directory always are
#   --timeout SECS      stop the VM after SECS seconds, exit 124 (default:
#                       $XB_VM_TIMEOUT or 3600; 0 = never)
#   --kvm               use KVM (default: TCG, as KVM does not work on every host;
#                       also XB_VM_KVM=1)
#   --user USER         run QEMU (vng) as this unprivileged host user instead of
#                       root, e.g. the owner of a tap given with --qemu-opts
#                       (also XB_VM_USER). The guest still runs COMMAND as its
#                       root, but its writes reach the host as USER: a --rwdir
#                       must be writable by USER.
#   --verbose           show the guest's boot console
#
# COMMAND: one argument is a shell snippet ('uname -r; exit 3'); several are a
# command and its arguments. It runs as root in the current directory, after
# 'modprobe tun veth' and mounting bpffs on /sys/fs/bpf; exported XB_* variables
# are passed in, and XB_VM (tcg or kvm) and XB_TIME_SCALE (unless set: 5 with TCG,
# 1 with KVM), a factor for tests that wait on wall-clock time. Writes outside the
# writable directories are thrown away.
# Default: the project's kernel test suites (the bpf and integration tests),
# ctest --test-dir BUILD -L kernel --output-on-failure, with BUILD = $XB_BUILD_DIR
# or <repo>/build; ctest's own records (BUILD/Testing) stay inside the guest.
#
# Exit status: COMMAND's; 124 on timeout; 125 when the VM ended without
# reporting one (boot failure, kernel panic); 2 on bad usage.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
readonly here repo
readonly cache="${XB_VMTEST_CACHE:-$here/.cache}"

log() { echo "vmtest/run.sh: $*" >&2; }
die() {
	log "$*"
	exit 125
}
usage_error() {
	log "$* (see --help)"
	exit 2
}
usage() {
	sed -n '2,39s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# Settings (defaults overridable from the environment, then by options).
kernel=${XB_VM_KERNEL:-linux-image-amd64}
memory=${XB_VM_MEMORY:-2G}
cpus=${XB_VM_CPUS:-$(nproc)}
timeout_secs=${XB_VM_TIMEOUT:-3600}
use_kvm=${XB_VM_KVM:-0}
run_user=${XB_VM_USER:-}
verbose=0
as_user=() # set by unprivileged() for --user
qemu_opts=()
rwdirs=()
command=()

rundir=""
vm_pid=""
vm_rc=0

# timeout(1), which runs vng, leads its own process group (vng, virtme-run,
# QEMU). Killed vng does not wait for QEMU, so wait here until the whole group
# is gone (up to 10 s, then SIGKILL): no QEMU may outlive run.sh.
reap_vm_group() {
	local pgid=$1 i
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$pgid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "VM processes still there after 10s: killing them"
	kill -KILL -- "-$pgid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # invoked from a trap
cleanup() {
	if [[ -n $vm_pid ]]; then
		# timeout(1) passes the signal on to its whole process group.
		kill -TERM "$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
		reap_vm_group "$vm_pid"
	fi
	[[ -z $rundir ]] || rm -rf "$rundir"
}
# shellcheck disable=SC2317 # invoked from a trap
on_signal() {
	log "interrupted, stopping the VM"
	exit 130 # the EXIT trap cleans up
}

parse_args() {
	while (($#)); do
		case $1 in
		--kernel | --memory | --cpus | --qemu-opts | --rwdir | --timeout | --user)
			(($# >= 2)) || usage_error "$1 needs a value"
			set_option "$1" "$2"
			shift 2
			;;
		--kernel=* | --memory=* | --cpus=* | --qemu-opts=* | --rwdir=* | --timeout=* | --user=*)
			set_option "${1%%=*}" "${1#*=}"
			shift
			;;
		--kvm) use_kvm=1; shift ;;
		--verbose | -v) verbose=1; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; command=("$@"); return ;;
		-*) usage_error "unknown option '$1'" ;;
		*) command=("$@"); return ;;
		esac
	done
}

set_option() {
	case $1 in
	--kernel) kernel=$2 ;;
	--memory) memory=$2 ;;
	--cpus) cpus=$2 ;;
	--qemu-opts) qemu_opts+=("$2") ;;
	--rwdir) rwdirs+=("$(realpath -m -- "$2")") ;;
	--user) run_user=$2 ;;
	--timeout)
		[[ $2 =~ ^[0-9]+$ ]] || usage_error "--timeout needs whole seconds"
		timeout_secs=$2
		;;
	esac
}

# Prints the vmlinuz to boot for --kernel: an image path, a directory with
# boot/vmlinuz-*, or a package name unpacked by setup.sh (run now if missing).
resolve_kernel_image() {
	local k=$1 dir images
	if [[ -f $k ]]; then
		realpath -- "$k"
		return
	fi
	if [[ -d $k ]]; then
		dir=$(realpath -- "$k")
	elif [[ $k == /* || $k == .* ]]; then
		usage_error "--kernel $k: no such kernel image"
	else
		dir="$cache/kernels/${k//\//@}"
		if [[ ! -f $dir/.complete ]] || ! command -v vng >/dev/null; then
			log "kernel $k not in the cache: running vmtest/setup.sh --kernel $k"
			"$here/setup.sh" --kernel "$k" >&2 || die "vmtest/setup.sh failed"
		fi
	fi
	shopt -s nullglob
	images=("$dir"/boot/vmlinuz-*)
	shopt -u nullglob
	((${#images[@]} == 1)) || die "expected exactly one boot/vmlinuz-* in $dir"
	echo "${images[0]}"
}

# Is path $1 equal to or inside one of the directories that follow?
is_under() {
	local p=$1 d
	shift
	for d in "$@"; do
		[[ $p == "$d" || $p == "$d"/* ]] && return 0
	done
	return 1
}

# The default command: the project's kernel test suites (label `kernel`: the BPF
# packet tests and the namespace integration tests). Checked on the host first so
# that a missing build or an empty suite costs no boot. In the guest, BUILD/Testing
# (ctest's logs and cost data) is a private tmpfs: a VM test run by an outer ctest
# in the same build tree must not overwrite that ctest's own records.
# $XB_VM_CTEST_ARGS (split on spaces) is added to the guest's ctest, e.g. "-j2".
default_command() {
	local build
	build=$(realpath -m -- "${XB_BUILD_DIR:-$repo/build}")
	if [[ ! -f $build/CTestTestfile.cmake ]]; then
		log "no CMake build in $build: configure and build first" \
			"(cmake -B build && cmake --build build) or set XB_BUILD_DIR"
		exit 2
	fi
	command -v ctest >/dev/null || die "ctest not found (run scripts/setup.sh)"
	local count
	count=$(ctest --test-dir "$build" -L kernel -N 2>/dev/null | awk '/^Total Tests:/ { print $3 }')
	if [[ ${count:-0} -eq 0 ]]; then
		log "no tests labelled 'kernel' in $build: nothing to run in a VM"
		exit 1
	fi
	is_under "$build" "$repo" || rwdirs+=("$build")
	mkdir -p "$build/Testing"
	local extra=()
	read -r -a extra <<<"${XB_VM_CTEST_ARGS:-}"
	command=("mount -t tmpfs xb-ctest $(printf '%q' "$build/Testing") &&
exec ctest --test-dir $(printf '%q' "$build") -L kernel --output-on-failure --no-tests=error${extra[*]:+ $(printf '%q ' "${extra[@]}")}")
}

# Writes the guest's command script and environment into the run directory.
write_guest_files() {
	{
		echo "# written by vmtest/run.sh"
		if ((${#command[@]} == 1)); then
			printf '%s\n' "${command[0]}"
		else
			printf '%q ' "${command[@]}"
			echo
		fi
	} >"$rundir/cmd.sh"
	local name
	{
		while IFS= read -r name; do
			printf 'export %s=%q\n' "$name" "${!name}"
		done < <(compgen -e | grep '^XB_' || true)
		# For tests that wait on wall-clock time: they run in a VM, and how much
		# slower than the host it is (a factor for their timeouts and ageing
		# times; TCG runs the suites about 5 times slower). The caller's own
		# XB_TIME_SCALE, exported above, wins.
		if ((use_kvm)); then
			echo "export XB_VM=kvm"
			[[ -n ${XB_TIME_SCALE:-} ]] || echo "export XB_TIME_SCALE=1"
		else
			echo "export XB_VM=tcg"
			[[ -n ${XB_TIME_SCALE:-} ]] || echo "export XB_TIME_SCALE=5"
		fi
	} >"$rundir/env.sh"
}

# For --user: hands the run directory (status file, FIFOs, a HOME for vng) to
# the user and sets as_user to the command prefix that drops root for vng and QEMU.
# vng refuses to start when it cannot reopen its stdout and stderr through
# /proc/self/fd (hence the FIFOs' owner), and wants a writable HOME.
unprivileged() {
	local image=$1 uid gid
	uid=$(id -u -- "$run_user" 2>/dev/null) || die "--user $run_user: no such user"
	gid=$(id -g -- "$run_user")
	((uid != 0)) || die "--user $run_user: is root"
	command -v setpriv >/dev/null || die "--user needs setpriv (util-linux)"
	mkdir "$rundir/home"
	chown -R "$uid:$gid" "$rundir"
	as_user=(setpriv --reuid="$uid" --regid="$gid" --init-groups
		env -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME -u XDG_CACHE_HOME
		HOME="$rundir/home" USER="$run_user" LOGNAME="$run_user")
	"${as_user[@]}" test -r "$image" || die "--user $run_user: cannot read $image"
}

# Boots the VM; vng's exit status goes to vm_rc. QEMU writes the guest's output to
# /proc/self/fd/1 and /2, truncating them if they are files, so they go through
# FIFOs read by cat. vng runs under timeout(1), in its own process group, so
# that cleanup() can stop vng and QEMU together.
boot() {
	local image=$1
	local vng_args=(--run "$image" --memory="$memory" --cpus="$cpus")
	((use_kvm)) || vng_args+=(--disable-kvm)
	((verbose)) && vng_args+=(--verbose)
	local d o
	# GUESTPATH=HOSTPATH form: vng 1.35 checks a plain --rwdir=PATH outside its
	# overlays (/etc, /home, /tmp, ...) relative to the current directory and
	# refuses it unless run from /.
	for d in "${rwdirs[@]}"; do vng_args+=(--rwdir="$d=$d"); done
	for o in "${qemu_opts[@]}"; do vng_args+=(--qemu-opts="$o"); done
	vng_args+=(--exec "bash $(printf '%q' "$here/guest.sh") $(printf '%q' "$rundir")")

	mkfifo "$rundir/out" "$rundir/err"
	[[ -z $run_user ]] || unprivileged "$image"
	cat "$rundir/out" &
	local cat_out=$!
	cat "$rundir/err" >&2 &
	local cat_err=$!
	timeout --kill-after=15 "$timeout_secs" "${as_user[@]}" vng "${vng_args[@]}" \
		</dev/null >"$rundir/out" 2>"$rundir/err" &
	vm_pid=$!
	vm_rc=0
	wait "$vm_pid" || vm_rc=$?
	reap_vm_group "$vm_pid"
	vm_pid=""
	wait "$cat_out" "$cat_err" || true
}

main() {
	parse_args "$@"
	# (A kernel package request runs setup.sh, which also installs virtme-ng.)
	if [[ -e $kernel ]] && ! command -v vng >/dev/null; then
		die "virtme-ng is not installed: run vmtest/setup.sh (as root)"
	fi
	if ((${#command[@]} == 0)); then
		default_command
	fi
	local image
	image=$(resolve_kernel_image "$kernel")

	trap cleanup EXIT
	trap on_signal INT TERM HUP
	mkdir -p "$cache/run"
	# Real path: the guest sees only the writable directories, not symlinks to elsewhere.
	rundir=$(realpath -- "$(mktemp -d "$cache/run/XXXXXX")")
	write_guest_files
	# The guest must be able to write the status file, and tests the build tree.
	is_under "$rundir" "$repo" "${rwdirs[@]}" || rwdirs+=("$rundir")
	rwdirs=("$repo" "${rwdirs[@]}")

	local started=$SECONDS
	boot "$image"
	local secs=$((SECONDS - started))

	if [[ -f $rundir/status ]]; then
		local status
		status=$(<"$rundir/status")
		[[ $status =~ ^[0-9]+$ ]] || die "bad status '$status' from the guest"
		((status == 0)) || log "command exited $status (VM ran ${secs}s on ${image##*/})"
		exit "$status"
	fi
	if ((vm_rc == 124)); then
		log "timed out after ${timeout_secs}s: VM stopped"
		exit 124
	fi
	die "the VM ended without reporting the command's exit status (vng exit $vm_rc," \
		"${secs}s): boot failure or kernel panic? try --verbose"
}

main "$@"
