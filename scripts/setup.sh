#!/usr/bin/env bash
# Installs every build and test dependency of xbridge from Debian 12 packages.
# Idempotent: when everything is already there it installs nothing and prints one line.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "setup.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

packages=(
	# build
	build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
	libnl-3-dev libnl-route-3-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev
	nlohmann-json3-dev libcpp-httplib-dev libsystemd-dev clang-format clang-tidy shellcheck
	# the configuration files (TOML) and the libvirt hook (the domain's XML)
	libtomlplusplus-dev libpugixml-dev
	# the man page, the Debian package and its check (scripts/package.sh, ctest -L package)
	scdoc lintian
	# run and test
	iproute2 iputils-ping ethtool iperf3 tcpdump netcat-openbsd kmod procps psmisc jq util-linux curl
	prometheus gnuplot-nox
	# the team uplink test (teamnl sets a team's mode without teamd)
	libteam-utils
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "setup.sh: all ${#packages[@]} packages present"
	exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: done"
