// fs_test_util.cpp - the test side of the shim: console/stdin capture and helpers.
#include "fs_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

namespace fstest {

std::string g_console[3];
std::string g_stdin;
bool g_stdin_eof = true;
std::vector<std::string> g_log;

std::string big_pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(i * 7 + i / 251);
    return s;
}

std::string FsTest::DefaultArchive() {
    return Cpio()
        .dir(".")
        .dir("bin")
        .file("bin/app",
              "\x7f"
              "ELF fake",
              0755)
        .dir("etc")
        .file("etc/hostname", "ember\n")
        .file("etc/big", big_pattern(10000))
        .link("etc/motd", "hostname")
        .file("usr/lib/libx.so", "libx")  // usr and usr/lib are implicit
        .link("lib", "usr/lib")
        .link("abs", "/etc/hostname")
        .link("loop1", "loop2")
        .link("loop2", "loop1")
        .dir("tmp")
        .file("tmp/hidden", "the archive's /tmp is covered by the tmpfs")
        .finish();
}

std::string FsTest::slurp(const char* path) {
    int64_t fd = open(path, O_RDONLY);
    if (fd < 0) return "<open: " + std::to_string(fd) + ">";
    std::string out;
    char buf[777];
    for (;;) {
        int64_t n = read(fd, buf, sizeof buf);
        if (n < 0) return "<read: " + std::to_string(n) + ">";
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

std::vector<std::string> FsTest::list(const char* path) {
    std::vector<std::string> names;
    int64_t fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return {"<open: " + std::to_string(fd) + ">"};
    alignas(8) char buf[256];
    for (;;) {
        int64_t n = sys(SYS_getdents64, static_cast<uint64_t>(fd), P(buf), sizeof buf);
        if (n < 0) return {"<getdents64: " + std::to_string(n) + ">"};
        if (n == 0) break;
        for (int64_t off = 0; off < n;) {
            uint16_t reclen;
            memcpy(&reclen, buf + off + 16, 2);
            names.emplace_back(buf + off + 19);
            off += reclen;
        }
    }
    close(fd);
    return names;
}

}  // namespace fstest

namespace shim {

void console_write(int fd, const void* buf, size_t len) {
    fstest::g_console[fd].append(static_cast<const char*>(buf), len);
}

int64_t stdin_read(void* buf, size_t len, bool nonblock) {
    if (fstest::g_stdin.empty()) return fstest::g_stdin_eof ? 0 : nonblock ? -EAGAIN : -EINTR;
    size_t n = std::min(len, fstest::g_stdin.size());
    memcpy(buf, fstest::g_stdin.data(), n);
    fstest::g_stdin.erase(0, n);
    return static_cast<int64_t>(n);
}

bool stdin_readable() { return !fstest::g_stdin.empty() || fstest::g_stdin_eof; }

void log_line(const char* msg) { fstest::g_log.emplace_back(msg); }

}  // namespace shim
