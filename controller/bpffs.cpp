// SPDX-License-Identifier: BSD-2-Clause
#include "bpffs.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

namespace xb {

namespace fs = std::filesystem;

namespace {

constexpr const char *kBpffs = "/sys/fs/bpf";

// The mount namespace of a process (the inode of /proc/PID/ns/mnt), 0 when it cannot be
// inspected.
uint64_t mnt_ns_of(pid_t pid) {
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/ns/mnt", pid).c_str(), &st) < 0)
        return 0;
    return st.st_ino;
}

pid_t parent_of(pid_t pid) {
    std::ifstream f(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(f, line))
        return 0;
    const auto close = line.rfind(')'); // the command name may hold spaces and parentheses
    if (close == std::string::npos)
        return 0;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2)
        return 0;
    return ppid;
}

// A process of the host's mount namespace: pid 1, whose namespace is the init mount
// namespace that every other one was made from. Where pid 1 is out of reach (a sandbox
// that hides it), the outermost ancestor this process can inspect: `ip netns exec`
// runs its command in a mount namespace of its own, made from its caller's.
pid_t host_mnt_pid() {
    if (mnt_ns_of(1))
        return 1;
    pid_t best = ::getpid();
    for (pid_t p = ::getppid(); p > 1; p = parent_of(p))
        if (mnt_ns_of(p))
            best = p;
    return best;
}

// How this process reaches the host's /sys/fs/bpf, found once: from the host's mount
// namespace, the path itself; from another one, the path under a descriptor of the
// host's root directory (a path through /proc/self/fd/N walks the mounts of the
// namespace N belongs to). The descriptor, not /proc/PID/root: the process it came
// from (the shell that ran `ip netns exec`) may be gone long before a controller is.
struct HostBase {
    std::string dir = kBpffs;
    int fd = -1;
    pid_t pid = 0; // the process whose namespace it is, for mounting a bpffs there
};

const HostBase &host_base() {
    static const HostBase base = [] {
        HostBase b;
        const pid_t pid = host_mnt_pid();
        const uint64_t host = mnt_ns_of(pid);
        if (!host || host == mnt_ns_of(::getpid()))
            return b;
        // Open for the process's life; a controller daemon keeps it (close_inherited_fds).
        const int fd =
            ::open(fmt::format("/proc/{}/root", pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return b;
        b.fd = fd;
        b.pid = pid;
        b.dir = fmt::format("/proc/self/fd/{}{}", fd, kBpffs);
        return b;
    }();
    return base;
}

std::string base_dir() {
    const char *env = std::getenv("XBRIDGE_BPFFS");
    return env && *env ? std::string(env) : host_base().dir;
}

// Mounts a bpffs on /sys/fs/bpf of the host's mount namespace from another one: a mount
// is made in the caller's own namespace, so a child process enters the host's first
// (a process with threads cannot change its mount namespace).
void mount_in_host_namespace(const HostBase &b) {
    const std::string ns = fmt::format("/proc/{}/ns/mnt", b.pid);
    const pid_t child = ::fork();
    if (child < 0)
        throw_last_errno("fork");
    if (child == 0) {
        const int fd = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNS) < 0 ||
            ::mount("bpf", kBpffs, "bpf", 0, "mode=0700") < 0)
            ::_exit(errno & 0xff);
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw_errno(
            fmt::format("no bpffs: cannot mount bpffs on {} of the host's mount namespace", kBpffs),
            WIFEXITED(status) ? WEXITSTATUS(status) : EIO);
}

} // namespace

std::string pin_root() {
    return base_dir() + "/xbridge";
}

std::string pin_dir(const std::string &bridge) {
    return pin_root() + "/" + bridge;
}

int pin_base_fd() {
    return host_base().fd;
}

bool ensure_bpffs() {
    const std::string mnt = base_dir();
    struct statfs st {};
    if (::statfs(mnt.c_str(), &st) < 0)
        throw_last_errno(fmt::format("no bpffs: cannot access {}", mnt));
    if (st.f_type != BPF_FS_MAGIC) {
        const char *env = std::getenv("XBRIDGE_BPFFS");
        if (host_base().fd >= 0 && !(env && *env))
            mount_in_host_namespace(host_base());
        else if (::mount("bpf", mnt.c_str(), "bpf", 0, "mode=0700") < 0)
            throw_last_errno(fmt::format("no bpffs: cannot mount bpffs on {}", mnt));
    }
    if (::mkdir(pin_root().c_str(), 0700) == 0)
        return true;
    if (errno != EEXIST)
        throw_last_errno(fmt::format("cannot create {}", pin_root()));
    return false;
}

std::vector<std::string> list_bridges() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(pin_root(), ec))
        if (e.is_directory())
            out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace xb
