// SPDX-License-Identifier: BSD-2-Clause
// Where the bridges' pins live: a bpffs of the host's mount namespace, the same one for
// every command, whichever mount namespace it runs in (`ip netns exec` gives each command
// a private one, with a /sys of its own in which no bpffs is mounted).
#pragma once

#include <string>
#include <vector>

namespace xb {

// Where bridges live: the host mount namespace's /sys/fs/bpf/xbridge, or
// $XBRIDGE_BPFFS/xbridge (taken as it is, in this mount namespace). From another mount
// namespace the path leads through a descriptor of the host's root (pin_base_fd), so
// it is the same directory.
std::string pin_root();
std::string pin_dir(const std::string &bridge);
// Mounts bpffs on the host's /sys/fs/bpf when nothing is mounted there (as `bpftool`
// does). Returns whether it created the pin root.
bool ensure_bpffs();
std::vector<std::string> list_bridges();
// The descriptor through which pin_root() reaches the host's mount namespace, or -1
// when this process is in it. A daemon forked from a command keeps it open.
int pin_base_fd();

} // namespace xb
