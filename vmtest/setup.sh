#!/usr/bin/env bash
# Installs the kernel-in-VM test harness (QEMU, busybox, udev, kmod, virtme-ng) on
# Debian 12 and fetches the kernels to test into vmtest/.cache/kernels.
#
# Usage: vmtest/setup.sh [--kernel PKG]...
#   --kernel PKG   kernel package to fetch and unpack (repeatable); default:
#                  linux-image-amd64, i.e. Debian 12's current 6.1 kernel.
#                  PKG/trixie takes it from the next Debian release instead,
#                  e.g. linux-image-amd64/trixie.
#
# Idempotent: when everything is there it touches no network and prints one line.
# Kernels are only unpacked (dpkg -x) into the cache: never installed, never in /boot.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly cache="${XB_VMTEST_CACHE:-$here/.cache}"
# virtme-ng is not in Debian 12; the next release's package (architecture all)
# installs cleanly on it, so it is fetched from that suite through a private apt
# configuration that never touches the machine's own sources or lists.
readonly aux_suite=trixie
readonly default_kernel=linux-image-amd64
readonly host_packages=(qemu-system-x86 busybox-static udev kmod file iproute2)
export DEBIAN_FRONTEND=noninteractive # never ask questions

log() { echo "vmtest/setup.sh: $*"; }
die() {
	echo "vmtest/setup.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# --- the machine's apt ------------------------------------------------------

changed=0 # set to 1 by any step that had something to do
unpack_tmp="" # half-unpacked kernel, removed on exit
cleanup() { [[ -z $unpack_tmp ]] || rm -rf "$unpack_tmp"; }
trap cleanup EXIT

# Runs a noisy command (apt, dpkg) with its output kept aside: shown only when
# it fails, so that a successful setup stays a few lines long.
quiet() {
	local out rc=0
	out=$(mktemp)
	"$@" >"$out" 2>&1 || rc=$?
	if ((rc)); then
		cat "$out" >&2
		rm -f "$out"
		die "failed ($rc): $*"
	fi
	rm -f "$out"
}

# Directory for downloaded .deb files. apt downloads as the unprivileged _apt
# user, which must be able to write there (otherwise apt warns and falls back
# to downloading as root).
debs_dir() {
	local d="$cache/debs"
	if [[ ! -d $d ]]; then
		mkdir -p "$d"
		if id _apt >/dev/null 2>&1; then chown _apt:root "$d"; fi
	fi
	echo "$d"
}

machine_lists_fresh=0
# Runs `apt-get update` on the machine's own sources at most once per run, and
# only when something actually has to be looked up or installed.
machine_apt_update() {
	((machine_lists_fresh)) && return 0
	quiet apt-get update -qq
	machine_lists_fresh=1
}

is_installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

ensure_host_packages() {
	local missing=() p
	for p in "${host_packages[@]}"; do
		is_installed "$p" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	changed=1
	log "installing ${missing[*]}"
	machine_apt_update
	quiet apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# --- the auxiliary apt (next Debian release, same mirror) -------------------

# Prints "URI SIGNED-BY" of the machine's Debian mirror: the first enabled `deb`
# source whose suites include this release's codename and whose components
# include main, read from the one-line *.list files and the deb822 *.sources
# files. The mirror is read here at run time so that no host name is ever
# written into the repository.
machine_debian_mirror() {
	local codename files=()
	# shellcheck source=/dev/null
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[[ -n $codename ]] || die "cannot tell this release's codename from /etc/os-release"
	[[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
	shopt -s nullglob
	files+=(/etc/apt/sources.list.d/*.list)
	local deb822=(/etc/apt/sources.list.d/*.sources)
	shopt -u nullglob

	local found=""
	if ((${#files[@]})); then
		# deb [opt=val ...] URI SUITE COMPONENT...
		found=$(awk -v want="$codename" '
			{ sub(/#.*/, "") }
			$1 != "deb" { next }
			{
				i = 2; sb = ""
				if ($2 ~ /^\[/) {
					for (; i <= NF; i++) {
						if ($i ~ /^\[?signed-by=/) { sb = $i; sub(/^\[?signed-by=/, "", sb); sub(/\]$/, "", sb) }
						if ($i ~ /\]$/) { i++; break }
					}
				}
				uri = $i; suite = $(i + 1); main = 0
				for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
				if (suite == want && main && uri !~ /^cdrom:/) { print uri, sb; exit }
			}' "${files[@]}")
	fi
	if [[ -z $found ]] && ((${#deb822[@]})); then
		# Paragraph mode: one stanza per record; an embedded (multi-line) Signed-By
		# key is not a path and is ignored in favour of the default keyring.
		found=$(awk -v want="$codename" '
			BEGIN { RS = ""; FS = "\n" }
			{
				types = uris = suites = comps = sb = ""; enabled = "yes"
				for (i = 1; i <= NF; i++) {
					line = $i
					if (line ~ /^[ \t]*#/) continue
					split(line, kv, ":"); key = tolower(kv[1])
					val = substr(line, index(line, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
					if (key == "types") types = " " val " "
					else if (key == "uris") uris = val
					else if (key == "suites") suites = " " val " "
					else if (key == "components") comps = " " val " "
					else if (key == "signed-by" && val ~ /^\//) sb = val
					else if (key == "enabled") enabled = tolower(val)
				}
				split(uris, u, /[ \t]+/)
				if (enabled != "no" && types ~ / deb / && suites ~ (" " want " ") && comps ~ / main / && u[1] !~ /^cdrom:/) {
					print u[1], sb; exit
				}
			}' "${deb822[@]}")
	fi
	[[ -n $found ]] || die "no Debian mirror for '$codename' (main) in the machine's apt sources"
	echo "$found"
}

aux_opts=()
aux_lists_fresh=0
# Builds the private apt configuration for the auxiliary suite under
# $cache/apt: its own sources list, lists and archive cache, no pinning from the
# machine. Only the suite differs from the machine's configuration; proxies and
# other apt.conf.d settings still apply.
aux_apt_init() {
	((${#aux_opts[@]})) && return 0
	local mirror uri signed_by dir="$cache/apt"
	mirror=$(machine_debian_mirror)
	read -r uri signed_by <<<"$mirror"
	[[ -n ${signed_by:-} ]] || signed_by=/usr/share/keyrings/debian-archive-keyring.gpg
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb [signed-by=$signed_by] $uri $aux_suite main" >"$dir/sources.list"
	aux_opts=(
		-o "Dir::Etc::SourceList=$dir/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::Etc::Preferences=/dev/null
		-o Dir::Etc::PreferencesParts=/dev/null
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache"
	)
}

aux_apt_update() {
	aux_apt_init
	((aux_lists_fresh)) && return 0
	quiet apt-get "${aux_opts[@]}" update -qq
	aux_lists_fresh=1
}

# --- virtme-ng --------------------------------------------------------------

ensure_virtme_ng() {
	if is_installed virtme-ng && vng --version >/dev/null 2>&1; then
		return 0
	fi
	changed=1
	log "fetching virtme-ng from $aux_suite"
	aux_apt_update
	local debs
	debs=$(debs_dir)
	rm -f "$debs"/virtme-ng_*.deb
	(cd "$debs" && quiet apt-get "${aux_opts[@]}" download -qq virtme-ng)
	local deb
	deb=$(echo "$debs"/virtme-ng_*.deb)
	[[ -f $deb ]] || die "apt-get download virtme-ng left no .deb in $debs"
	log "installing $(basename "$deb") (its dependencies come from this release)"
	machine_apt_update
	quiet apt-get install -y -qq --no-install-recommends "$deb"
	vng --version >/dev/null || die "virtme-ng installed but 'vng --version' fails"
	rm -f "$deb"
}

# --- kernels ----------------------------------------------------------------

# Prints the real kernel image package behind a (possibly meta) package name,
# e.g. linux-image-amd64 -> linux-image-6.1.0-57-amd64, following Depends.
resolve_kernel_pkg() {
	local pkg=$1 apt_opts=("${@:2}") next i
	for ((i = 0; i < 4; i++)); do
		if [[ $pkg =~ ^linux-image-[0-9] ]]; then
			echo "$pkg"
			return 0
		fi
		next=$(apt-cache "${apt_opts[@]}" depends "$pkg" 2>/dev/null |
			awk '$1 ~ /^\|?Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
		[[ -n $next ]] || break
		pkg=$next
	done
	# Not a linux-image-* chain: take the name as it is (e.g. a custom package).
	echo "$pkg"
}

# Fetches and unpacks one kernel request into $cache/kernels/NAME, where NAME is
# the request with '/' turned into '@' (a symlink to the unpacked package when
# the request was a meta package).
ensure_kernel() {
	local request=$1 pkg suite="" apt_opts=()
	local name=${request//\//@}
	local kdir="$cache/kernels"
	[[ -f $kdir/$name/.complete ]] && return 0
	changed=1

	pkg=${request%%/*}
	[[ $request == */* ]] && suite=${request#*/}
	if [[ -n $suite ]]; then
		[[ $suite == "$aux_suite" ]] || die "--kernel $request: only PKG or PKG/$aux_suite is supported"
		aux_apt_update
		apt_opts=("${aux_opts[@]}")
	elif ! apt-cache show "$pkg" >/dev/null 2>&1; then
		machine_apt_update
	fi
	apt-cache "${apt_opts[@]}" show "$pkg" >/dev/null 2>&1 ||
		die "no package '$pkg' in the apt sources${suite:+ of $suite}"

	local real
	real=$(resolve_kernel_pkg "$pkg" "${apt_opts[@]}")
	mkdir -p "$kdir"
	if [[ ! -f $kdir/$real/.complete ]]; then
		log "fetching $real${suite:+ ($suite)}"
		local debs deb tmp
		debs=$(debs_dir)
		rm -f "$debs/${real}_"*.deb
		(cd "$debs" && quiet apt-get "${apt_opts[@]}" download -qq "$real")
		deb=$(echo "$debs/${real}_"*.deb)
		[[ -f $deb ]] || die "apt-get download $real left no .deb"
		tmp=$(mktemp -d "$kdir/.unpack.XXXXXX")
		unpack_tmp=$tmp
		dpkg -x "$deb" "$tmp"
		chmod 755 "$tmp"
		# Merged-/usr packages keep modules in usr/lib/modules; vng looks for
		# <root>/lib/modules next to <root>/boot/vmlinuz-*.
		if [[ -d $tmp/usr/lib/modules && ! -e $tmp/lib ]]; then
			ln -s usr/lib "$tmp/lib"
		fi
		local images=("$tmp"/boot/vmlinuz-*)
		[[ -f ${images[0]} && ${#images[@]} -eq 1 ]] || die "$real does not hold exactly one boot/vmlinuz-*"
		local kver=${images[0]##*/vmlinuz-}
		# Packages ship no modules.dep (postinst makes it); the guest's modprobe needs it.
		if [[ -d $tmp/lib/modules/$kver ]]; then
			depmod -a -b "$tmp" "$kver"
		fi
		touch "$tmp/.complete"
		rm -rf "${kdir:?}/$real"
		mv "$tmp" "$kdir/$real"
		unpack_tmp=""
		rm -f "$deb"
	fi
	if [[ $name != "$real" ]]; then
		ln -sfn "$real" "$kdir/$name"
	fi
	log "kernel $request: $(echo "$kdir/$real"/boot/vmlinuz-*)"
}

main() {
	local kernels=()
	while (($#)); do
		case $1 in
		--kernel) (($# >= 2)) || die "--kernel needs a package name"; kernels+=("$2"); shift 2 ;;
		--kernel=*) kernels+=("${1#*=}"); shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument '$1' (see --help)" ;;
		esac
	done
	((${#kernels[@]})) || kernels=("$default_kernel")
	[[ $(id -u) -eq 0 ]] || die "must run as root (it installs Debian packages)"

	mkdir -p "$cache"
	# One setup at a time: run.sh may call this from parallel test runs.
	exec 9>"$cache/.setup.lock"
	flock 9

	local k
	ensure_host_packages
	ensure_virtme_ng
	for k in "${kernels[@]}"; do
		ensure_kernel "$k"
	done
	if ((changed)); then
		log "done"
	else
		log "all present ($(vng --version 2>/dev/null), kernels: ${kernels[*]})"
	fi
}

main "$@"
