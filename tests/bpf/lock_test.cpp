// SPDX-License-Identifier: BSD-2-Clause
// The bridge lock (a flock on the pin root), on a private bpffs: a command that waited
// for the lock while its holder removed the root must end up holding the root that is
// there, not the removed directory.
#include "bridge.hpp"
#include "datapath.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

class PrivateBpffs : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/xblockXXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        const char *old = std::getenv("XBRIDGE_BPFFS");
        if (old)
            old_ = old;
        ::setenv("XBRIDGE_BPFFS", dir_.c_str(), 1);
        try {
            xb::ensure_bpffs(); // mounts a bpffs of its own on dir_
        } catch (const std::exception &e) {
            GTEST_SKIP() << "no private bpffs: " << e.what();
        }
    }
    void TearDown() override {
        ::rmdir(xb::pin_root().c_str());
        ::umount2(dir_.c_str(), MNT_DETACH);
        ::rmdir(dir_.c_str());
        if (old_.empty())
            ::unsetenv("XBRIDGE_BPFFS");
        else
            ::setenv("XBRIDGE_BPFFS", old_.c_str(), 1);
    }
    std::string dir_, old_;
};

TEST_F(PrivateBpffs, AWaiterWhoseHolderRemovedTheRootLocksTheRootThatIsThere) {
    const std::string root = xb::pin_root();
    int holder = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(holder, 0);
    ASSERT_EQ(::flock(holder, LOCK_EX), 0);

    int acquired[2], release[2];
    ASSERT_EQ(::pipe(acquired), 0);
    ASSERT_EQ(::pipe(release), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(holder);
        ::close(acquired[0]);
        ::close(release[1]);
        {
            xb::BridgeLock lock; // waits for the holder
            char c = 'L';
            if (::write(acquired[1], &c, 1) != 1)
                ::_exit(2);
            (void)::read(release[0], &c, 1); // held until the parent is done looking
        }
        ::_exit(0);
    }
    ::close(acquired[1]);
    ::close(release[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // The holder was the last bridge's `down`: it removes the root, then lets go.
    ASSERT_EQ(::rmdir(root.c_str()), 0);
    ::close(holder);
    char c = 0;
    ASSERT_EQ(::read(acquired[0], &c, 1), 1) << "the waiter never got the lock";

    // Another command now must find the root locked.
    int other = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(other, 0) << "the waiter holds a lock on the removed root";
    if (other >= 0) {
        EXPECT_EQ(::flock(other, LOCK_EX | LOCK_NB), -1) << "two commands hold the lock at once";
        EXPECT_EQ(errno, EWOULDBLOCK);
        ::close(other);
    }
    ::close(release[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ::close(acquired[0]);
}

} // namespace
