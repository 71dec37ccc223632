// fs_test_util.h - archive builder and fixture for the guest fs tests.
//
// Tests speak to the kernel the way an application does: syscall numbers
// from <sys/syscall.h>, host struct layouts (x86-64 Linux, the same ABI the
// kernel implements) and errno values from <errno.h>.
#pragma once

#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernel_shim.h"

namespace fstest {

// Writes cpio "newc" archives entry by entry.
class Cpio {
  public:
    Cpio& add(const std::string& name, uint32_t mode, const std::string& data = "",
              uint32_t nlink = 1, uint32_t ino = 0) {
        char hdr[111];
        snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                 ino ? ino : next_ino_++, mode, 0u, 0u, nlink, kMtime,
                 static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                 static_cast<unsigned>(name.size() + 1), 0u);
        buf_ += hdr;
        buf_ += name;
        buf_.push_back('\0');
        pad();
        buf_ += data;
        pad();
        return *this;
    }
    Cpio& dir(const std::string& name, uint32_t perm = 0755) { return add(name, 0040000 | perm); }
    Cpio& file(const std::string& name, const std::string& data, uint32_t perm = 0644) {
        return add(name, 0100000 | perm, data);
    }
    Cpio& link(const std::string& name, const std::string& target) {
        return add(name, 0120777, target);
    }
    std::string finish() {
        add("TRAILER!!!", 0);
        return buf_;
    }
    const std::string& raw() const { return buf_; }
    static constexpr uint32_t kMtime = 1600000000;

  private:
    void pad() {
        while (buf_.size() % 4) buf_.push_back('\0');
    }
    std::string buf_;
    uint32_t next_ino_ = 100;
};

// Console output and stdin seen by the kernel.
extern std::string g_console[3];
extern std::string g_stdin;
extern bool g_stdin_eof;
extern std::vector<std::string> g_log;

std::string big_pattern(size_t n);  // the bytes of /etc/big (n = 10000)

// A pointer as a syscall argument (a template, so that output buffers are
// not taken for const inputs by -Wmaybe-uninitialized).
template <class T>
uint64_t P(T* p) {
    return reinterpret_cast<uint64_t>(p);
}
constexpr uint64_t kBadPtr = 0x10;  // below shim::kUserMin: not user memory

// "<-22>": a failed syscall's result as text. Formatted with snprintf: at
// -O3, GCC 12 reports a bogus -Wrestrict for "<" + std::to_string(r) (see GCC
// bug 105329), which would fail a Release build with -Werror.
inline std::string errno_text(int64_t r) {
    char buf[32];
    snprintf(buf, sizeof buf, "<%lld>", static_cast<long long>(r));
    return buf;
}

class FsTest : public ::testing::Test {
  protected:
    void SetUp() override { Boot(DefaultArchive()); }
    void TearDown() override { shim::fail_allocs_after(-1); }

    static std::string DefaultArchive();
    void Boot(const std::string& archive) {
        archive_ = archive;
        for (auto& c : g_console) c.clear();
        g_stdin.clear();
        g_stdin_eof = true;
        shim::set_execfn("/bin/app");
        ASSERT_TRUE(shim::fs_init(archive_.data(), archive_.size()));
    }

    static int64_t sys(unsigned nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                       uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
        return shim::call(nr, a0, a1, a2, a3, a4, a5);
    }
    static int64_t open(const char* path, uint64_t flags, uint64_t mode = 0644) {
        return sys(SYS_open, P(path), flags, mode);
    }
    static int64_t close(int64_t fd) { return sys(SYS_close, static_cast<uint64_t>(fd)); }
    static int64_t read(int64_t fd, void* buf, uint64_t n) {
        return sys(SYS_read, static_cast<uint64_t>(fd), P(buf), n);
    }
    static int64_t write(int64_t fd, const void* buf, uint64_t n) {
        return sys(SYS_write, static_cast<uint64_t>(fd), P(buf), n);
    }
    static int64_t write(int64_t fd, const std::string& s) { return write(fd, s.data(), s.size()); }
    static int64_t lseek(int64_t fd, int64_t off, int whence) {
        return sys(SYS_lseek, static_cast<uint64_t>(fd), static_cast<uint64_t>(off),
                   static_cast<uint64_t>(whence));
    }
    static struct stat st(const char* path, bool follow = true) {
        struct stat s = {};
        int64_t r = sys(follow ? SYS_stat : SYS_lstat, P(path), P(&s));
        EXPECT_EQ(r, 0) << path;
        return s;
    }
    static int64_t stat_err(const char* path) {
        struct stat s;
        return sys(SYS_stat, P(path), P(&s));
    }
    static std::string getcwd() {
        char buf[4096];
        int64_t n = sys(SYS_getcwd, P(buf), sizeof buf);
        if (n < 0) return errno_text(n);
        EXPECT_EQ(static_cast<size_t>(n), strlen(buf) + 1);
        return buf;
    }
    static std::string readlink(const char* path) {
        char buf[256];
        int64_t n = sys(SYS_readlink, P(path), P(buf), sizeof buf);
        return n < 0 ? errno_text(n) : std::string(buf, n);
    }
    // Reads the whole file at path ("" and a failure flag if it cannot).
    static std::string slurp(const char* path);
    // Names from getdents64 on path, in the kernel's order.
    static std::vector<std::string> list(const char* path);

    std::string archive_;
};

}  // namespace fstest
