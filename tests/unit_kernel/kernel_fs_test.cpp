// kernel_fs_test.cpp - the guest kernel's files and fds, driven through its
// syscall table on the host: rootfs reads, tmpfs writes, fds, pipes, devices.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include "fs_test_util.h"

namespace fstest {
namespace {

TEST_F(FsTest, RootfsFileOpenReadSeekClose) {
    int64_t fd = open("/etc/hostname", O_RDONLY);
    ASSERT_GE(fd, 3);
    char buf[64] = {};
    EXPECT_EQ(read(fd, buf, 3), 3);
    EXPECT_EQ(std::string(buf, 3), "emb");
    EXPECT_EQ(read(fd, buf, sizeof buf), 3);
    EXPECT_EQ(std::string(buf, 3), "er\n");
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);
    EXPECT_EQ(lseek(fd, 1, SEEK_SET), 1);
    EXPECT_EQ(lseek(fd, 2, SEEK_CUR), 3);
    EXPECT_EQ(read(fd, buf, 1), 1);
    EXPECT_EQ(buf[0], 'e');
    EXPECT_EQ(lseek(fd, -2, SEEK_END), 4);
    EXPECT_EQ(lseek(fd, -10, SEEK_SET), -EINVAL);
    EXPECT_EQ(lseek(fd, 0, 99), -EINVAL);
    EXPECT_EQ(lseek(fd, 100, SEEK_SET), 100);  // past EOF is allowed, reads return 0
    EXPECT_EQ(read(fd, buf, 4), 0);
    EXPECT_EQ(sys(SYS_pread64, fd, P(buf), 5, 1), 5);
    EXPECT_EQ(std::string(buf, 5), "mber\n");
    EXPECT_EQ(close(fd), 0);
    EXPECT_EQ(close(fd), -EBADF);
    EXPECT_EQ(read(fd, buf, 1), -EBADF);
    EXPECT_EQ(slurp("/etc/big"), big_pattern(10000));
}

TEST_F(FsTest, RootfsRefusesEveryChange) {
    EXPECT_EQ(open("/etc/hostname", O_WRONLY), -EROFS);
    EXPECT_EQ(open("/etc/hostname", O_RDWR), -EROFS);
    EXPECT_EQ(open("/etc/hostname", O_RDONLY | O_TRUNC), -EROFS);
    EXPECT_EQ(open("/etc/new", O_CREAT | O_WRONLY), -EROFS);
    EXPECT_EQ(open("/etc/hostname", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
    EXPECT_EQ(sys(SYS_mkdir, P("/etc/d"), 0755), -EROFS);
    EXPECT_EQ(sys(SYS_mkdir, P("/etc"), 0755), -EEXIST);
    EXPECT_EQ(sys(SYS_unlink, P("/etc/hostname")), -EROFS);
    EXPECT_EQ(sys(SYS_rmdir, P("/bin")), -EROFS);
    EXPECT_EQ(sys(SYS_rename, P("/etc/hostname"), P("/etc/h2")), -EROFS);
    EXPECT_EQ(sys(SYS_truncate, P("/etc/hostname"), 0), -EROFS);
    EXPECT_EQ(sys(SYS_chmod, P("/etc/hostname"), 0600), -EROFS);
    EXPECT_EQ(sys(SYS_symlink, P("x"), P("/etc/l")), -EROFS);
    EXPECT_EQ(sys(SYS_access, P("/etc/hostname"), W_OK), -EROFS);
    EXPECT_EQ(sys(SYS_access, P("/etc/hostname"), R_OK), 0);
    EXPECT_EQ(sys(SYS_access, P("/etc/hostname"), X_OK), -EACCES);
    EXPECT_EQ(sys(SYS_access, P("/bin/app"), X_OK), 0);
    EXPECT_EQ(sys(SYS_rename, P("/tmp"), P("/tmp2")), -EROFS);
    EXPECT_EQ(slurp("/etc/hostname"), "ember\n");
}

TEST_F(FsTest, TmpfsCreateWriteRereadTruncate) {
    const std::string data = big_pattern(100000);
    int64_t fd = open("/tmp/x", O_CREAT | O_TRUNC | O_WRONLY, 0640);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(write(fd, data.data(), 50000), 50000);
    EXPECT_EQ(write(fd, data.data() + 50000, 50000), 50000);
    struct stat st;
    ASSERT_EQ(sys(SYS_fstat, fd, P(&st)), 0);
    EXPECT_EQ(st.st_size, 100000);
    EXPECT_EQ(st.st_mode, S_IFREG | 0640u);  // umask 022 keeps 0640
    EXPECT_EQ(st.st_blksize, 4096);
    EXPECT_GE(st.st_blocks * 512, 100000);
    char b[4];
    EXPECT_EQ(read(fd, b, 1), -EBADF);  // write-only
    EXPECT_EQ(close(fd), 0);
    EXPECT_EQ(slurp("/tmp/x"), data);

    fd = open("/tmp/x", O_RDWR);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(sys(SYS_ftruncate, fd, 10), 0);
    EXPECT_EQ(slurp("/tmp/x"), data.substr(0, 10));
    EXPECT_EQ(sys(SYS_ftruncate, fd, 20), 0);  // growing reads back zeros
    EXPECT_EQ(slurp("/tmp/x"), data.substr(0, 10) + std::string(10, '\0'));
    EXPECT_EQ(sys(SYS_pwrite64, fd, P("ab"), 2, 30), 2);  // writing past EOF leaves a zero gap
    EXPECT_EQ(slurp("/tmp/x"), data.substr(0, 10) + std::string(20, '\0') + "ab");
    EXPECT_EQ(sys(SYS_ftruncate, fd, static_cast<uint64_t>(-1)), -EINVAL);
    close(fd);

    fd = open("/tmp/x", O_WRONLY | O_APPEND);
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_EQ(write(fd, "Z"), 1);  // O_APPEND writes at the end regardless
    close(fd);
    EXPECT_EQ(slurp("/tmp/x").substr(30), "abZ");

    EXPECT_EQ(open("/tmp/x", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
    fd = open("/tmp/x", O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    close(fd);
    EXPECT_EQ(slurp("/tmp/x"), "");
    EXPECT_EQ(sys(SYS_truncate, P("/tmp/x"), 5), 0);
    EXPECT_EQ(slurp("/tmp/x"), std::string(5, '\0'));
    EXPECT_EQ(sys(SYS_creat, P("/tmp/newdir/"), 0644), -EISDIR);
    EXPECT_EQ(open("/tmp/missing/x", O_CREAT | O_WRONLY), -ENOENT);
}

TEST_F(FsTest, UnlinkedOpenFileStaysReadable) {
    int64_t fd = open("/tmp/gone", O_CREAT | O_RDWR);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(write(fd, "still here"), 10);
    EXPECT_EQ(sys(SYS_unlink, P("/tmp/gone")), 0);
    EXPECT_EQ(open("/tmp/gone", O_RDONLY), -ENOENT);
    struct stat st;
    ASSERT_EQ(sys(SYS_fstat, fd, P(&st)), 0);
    EXPECT_EQ(st.st_nlink, 0u);
    char buf[16];
    EXPECT_EQ(sys(SYS_pread64, fd, P(buf), sizeof buf, 0), 10);
    EXPECT_EQ(std::string(buf, 10), "still here");
    EXPECT_EQ(close(fd), 0);
}

TEST_F(FsTest, VectoredAndPositionalIo) {
    int64_t fd = open("/tmp/v", O_CREAT | O_RDWR);
    ASSERT_GE(fd, 0);
    char a[] = "hello ", b[] = "vectored ", c[] = "world";
    struct iovec out[3] = {{a, 6}, {b, 9}, {c, 5}};
    EXPECT_EQ(sys(SYS_writev, fd, P(out), 3), 20);
    char x[5] = {}, y[100] = {};
    struct iovec in[2] = {{x, 5}, {y, sizeof y}};
    EXPECT_EQ(sys(SYS_preadv, fd, P(in), 2, 6), 14);
    EXPECT_EQ(std::string(x, 5), "vecto");
    EXPECT_EQ(std::string(y, 9), "red world");
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);
    EXPECT_EQ(sys(SYS_readv, fd, P(in), 2), 20);
    EXPECT_EQ(sys(SYS_readv, fd, P(in), 0), 0);
    EXPECT_EQ(sys(SYS_readv, fd, P(in), 1025), -EINVAL);
    struct iovec bad[2] = {{x, 5}, {reinterpret_cast<void*>(kBadPtr), 5}};
    EXPECT_EQ(sys(SYS_readv, fd, P(bad), 2), -EFAULT);
    EXPECT_EQ(sys(SYS_pwritev, fd, P(out), 1, 100), 6);
    EXPECT_EQ(sys(SYS_pread64, fd, P(x), 1, static_cast<uint64_t>(-1)), -EINVAL);
    close(fd);
}

TEST_F(FsTest, Dup2KeepsTheOriginalObject) {
    EXPECT_EQ(write(1, "out "), 4);
    EXPECT_EQ(sys(SYS_dup2, 2, 7), 7);
    EXPECT_EQ(write(7, "to stderr"), 9);
    EXPECT_EQ(sys(SYS_dup2, 1, 2), 2);  // now fd 2 is stdout
    EXPECT_EQ(write(2, "moved"), 5);
    EXPECT_EQ(g_console[1], "out moved");
    EXPECT_EQ(g_console[2], "to stderr");
    EXPECT_EQ(sys(SYS_dup2, 7, 7), 7);
    EXPECT_EQ(sys(SYS_dup2, 40, 41), -EBADF);
    EXPECT_EQ(sys(SYS_dup2, 1, 5000), -EBADF);
    EXPECT_EQ(sys(SYS_dup3, 1, 1, 0), -EINVAL);
    EXPECT_EQ(sys(SYS_dup3, 1, 9, O_CLOEXEC), 9);
    EXPECT_EQ(sys(SYS_fcntl, 9, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(sys(SYS_fcntl, 1, F_GETFD), 0);
    EXPECT_EQ(sys(SYS_fcntl, 1, F_DUPFD, 20), 20);
    EXPECT_EQ(sys(SYS_fcntl, 1, F_DUPFD_CLOEXEC, 20), 21);
    EXPECT_EQ(sys(SYS_fcntl, 21, F_GETFD), FD_CLOEXEC);

    // dups share the file position; a fresh open does not.
    int64_t a = open("/etc/hostname", O_RDONLY);
    int64_t b = sys(SYS_dup, a);
    int64_t c = open("/etc/hostname", O_RDONLY);
    char buf[2];
    EXPECT_EQ(read(a, buf, 2), 2);
    EXPECT_EQ(lseek(b, 0, SEEK_CUR), 2);
    EXPECT_EQ(lseek(c, 0, SEEK_CUR), 0);
    EXPECT_EQ(close(a), 0);
    EXPECT_EQ(read(b, buf, 2), 2);  // the description lives while any fd refers to it
    EXPECT_EQ(std::string(buf, 2), "be");
}

TEST_F(FsTest, FcntlFlagsAndLocks) {
    int64_t fd = open("/tmp/f", O_CREAT | O_RDWR);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND), O_RDWR);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_SETFL, O_NONBLOCK | O_APPEND | O_RDONLY), 0);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND),
              O_RDWR | O_NONBLOCK | O_APPEND);  // the access mode cannot change
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    EXPECT_EQ(sys(SYS_fcntl, fd, F_SETLK, P(&fl)), 0);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_GETLK, P(&fl)), 0);
    EXPECT_EQ(fl.l_type, F_UNLCK);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_SETLK, kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_fcntl, fd, 12345), -EINVAL);
    EXPECT_EQ(sys(SYS_fcntl, 999, F_GETFD), -EBADF);
    EXPECT_EQ(sys(SYS_flock, fd, 2), 0);
}

TEST_F(FsTest, IoctlNothingIsATerminal) {
    char termios[64];
    struct winsize ws;
    EXPECT_EQ(sys(SYS_ioctl, 0, TCGETS, P(termios)), -ENOTTY);
    EXPECT_EQ(sys(SYS_ioctl, 1, TCGETS, P(termios)), -ENOTTY);
    EXPECT_EQ(sys(SYS_ioctl, 1, TIOCGWINSZ, P(&ws)), -ENOTTY);
    int64_t fd = open("/etc/big", O_RDONLY);
    EXPECT_EQ(sys(SYS_ioctl, fd, TCGETS, P(termios)), -ENOTTY);
    int n = -1;
    lseek(fd, 9000, SEEK_SET);
    EXPECT_EQ(sys(SYS_ioctl, fd, FIONREAD, P(&n)), 0);
    EXPECT_EQ(n, 1000);
    int on = 1;
    EXPECT_EQ(sys(SYS_ioctl, fd, FIONBIO, P(&on)), 0);
    EXPECT_TRUE(sys(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK);
    EXPECT_EQ(sys(SYS_ioctl, fd, FIOCLEX), 0);
    EXPECT_EQ(sys(SYS_fcntl, fd, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(sys(SYS_ioctl, fd, FIONBIO, kBadPtr), -EFAULT);
}

TEST_F(FsTest, PipeMovesBytesAndReportsEndStates) {
    int fds[2];
    ASSERT_EQ(sys(SYS_pipe2, P(fds), O_NONBLOCK), 0);
    char buf[8];
    EXPECT_EQ(read(fds[0], buf, sizeof buf), -EAGAIN);
    EXPECT_EQ(write(fds[1], "abc"), 3);
    int n = 0;
    EXPECT_EQ(sys(SYS_ioctl, fds[0], FIONREAD, P(&n)), 0);
    EXPECT_EQ(n, 3);
    EXPECT_EQ(read(fds[0], buf, sizeof buf), 3);
    EXPECT_EQ(lseek(fds[0], 0, SEEK_SET), -ESPIPE);
    EXPECT_EQ(sys(SYS_pread64, fds[0], P(buf), 1, 0), -ESPIPE);
    EXPECT_EQ(write(fds[0], "x"), -EBADF);
    EXPECT_EQ(read(fds[1], buf, 1), -EBADF);
    struct stat st;
    ASSERT_EQ(sys(SYS_fstat, fds[0], P(&st)), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
    EXPECT_EQ(sys(SYS_fcntl, fds[1], F_GETPIPE_SZ), 65536);

    // Fill it: 64 KiB fit, then -EAGAIN; small writes are all-or-nothing.
    std::string chunk(4096, 'p');
    for (int i = 0; i < 16; i++) ASSERT_EQ(write(fds[1], chunk), 4096) << i;
    EXPECT_EQ(write(fds[1], "x"), -EAGAIN);
    EXPECT_EQ(read(fds[0], buf, 2), 2);
    EXPECT_EQ(write(fds[1], "abc"), -EAGAIN);
    EXPECT_EQ(write(fds[1], "ab"), 2);  // wraps around the ring
    std::string drained;
    for (int64_t r; (r = read(fds[0], buf, sizeof buf)) > 0;) drained.append(buf, r);
    EXPECT_EQ(drained.size(), 65536u);
    EXPECT_EQ(drained.substr(drained.size() - 3), "pab");

    EXPECT_EQ(close(fds[1]), 0);
    EXPECT_EQ(read(fds[0], buf, sizeof buf), 0);  // no writer left: EOF
    EXPECT_EQ(close(fds[0]), 0);

    ASSERT_EQ(sys(SYS_pipe, P(fds)), 0);
    EXPECT_EQ(read(fds[0], buf, 1), -EDEADLK);  // blocking, and nobody else can write
    EXPECT_EQ(close(fds[0]), 0);
    EXPECT_EQ(write(fds[1], "x"), -EPIPE);
    EXPECT_EQ(sys(SYS_pipe2, P(fds), 0x1), -EINVAL);
    EXPECT_EQ(sys(SYS_pipe, kBadPtr), -EFAULT);
}

TEST_F(FsTest, DevicesAndStdio) {
    int64_t fd = open("/dev/null", O_RDWR);
    char buf[16];
    memset(buf, 1, sizeof buf);
    EXPECT_EQ(write(fd, "gone"), 4);
    EXPECT_EQ(read(fd, buf, sizeof buf), 0);
    EXPECT_EQ(lseek(fd, 10, SEEK_SET), 0);
    fd = open("/dev/zero", O_RDONLY);
    EXPECT_EQ(read(fd, buf, sizeof buf), 16);
    EXPECT_EQ(std::string(buf, 16), std::string(16, '\0'));
    fd = open("/dev/urandom", O_RDONLY);
    EXPECT_EQ(read(fd, buf, sizeof buf), 16);
    EXPECT_NE(std::string(buf, 16), std::string(16, '\0'));
    fd = open("/dev/full", O_WRONLY);
    EXPECT_EQ(write(fd, "x"), -ENOSPC);
    fd = open("/dev/stderr", O_WRONLY);
    EXPECT_EQ(write(fd, "via /dev/stderr"), 15);
    EXPECT_EQ(g_console[2], "via /dev/stderr");
    struct stat st;
    ASSERT_EQ(sys(SYS_stat, P("/dev/null"), P(&st)), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
    EXPECT_EQ(open("/dev/newfile", O_CREAT | O_WRONLY), -EROFS);

    g_stdin = "line one\n";
    g_stdin_eof = true;
    EXPECT_EQ(read(0, buf, 5), 5);
    EXPECT_EQ(read(0, buf, sizeof buf), 4);
    EXPECT_EQ(read(0, buf, sizeof buf), 0);
    EXPECT_EQ(write(0, "x"), -EBADF);
    EXPECT_EQ(lseek(1, 0, SEEK_CUR), -ESPIPE);
    EXPECT_EQ(read(1, buf, 1), -EBADF);
}

TEST_F(FsTest, SendfileCopiesFromFiles) {
    int64_t in = open("/etc/big", O_RDONLY);
    int64_t out = open("/tmp/copy", O_CREAT | O_WRONLY);
    EXPECT_EQ(sys(SYS_sendfile, out, in, 0, 1u << 20), 10000);
    EXPECT_EQ(lseek(in, 0, SEEK_CUR), 10000);
    EXPECT_EQ(slurp("/tmp/copy"), big_pattern(10000));
    int64_t off = 9990;
    EXPECT_EQ(sys(SYS_sendfile, 1, in, P(&off), 100), 10);
    EXPECT_EQ(off, 10000);
    EXPECT_EQ(g_console[1], big_pattern(10000).substr(9990));
    int64_t tmp_in = open("/tmp/copy", O_RDONLY);
    EXPECT_EQ(sys(SYS_sendfile, 1, tmp_in, 0, 5000), 5000);  // through the bounce buffer
    EXPECT_EQ(g_console[1].size(), 5010u);
    EXPECT_EQ(sys(SYS_sendfile, in, out, 0, 1), -EBADF);
}

TEST_F(FsTest, BadUserPointersAreEfault) {
    int64_t fd = open("/etc/hostname", O_RDONLY);
    EXPECT_EQ(read(fd, reinterpret_cast<void*>(kBadPtr), 4), -EFAULT);
    EXPECT_EQ(write(1, reinterpret_cast<void*>(kBadPtr), 4), -EFAULT);
    EXPECT_EQ(read(fd, reinterpret_cast<void*>(kBadPtr), 0), 0);  // nothing to touch
    EXPECT_EQ(sys(SYS_open, kBadPtr, O_RDONLY), -EFAULT);
    EXPECT_EQ(sys(SYS_stat, P("/etc"), kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_fstat, fd, kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_statx, AT_FDCWD, P("/etc"), 0, STATX_BASIC_STATS, kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_getcwd, kBadPtr, 100), -EFAULT);
    EXPECT_EQ(sys(SYS_readlink, P("/lib"), kBadPtr, 100), -EFAULT);
    int64_t dir = open("/etc", O_RDONLY);
    EXPECT_EQ(sys(SYS_getdents64, dir, kBadPtr, 100), -EFAULT);
    EXPECT_EQ(sys(SYS_writev, 1, kBadPtr, 1), -EFAULT);
    EXPECT_EQ(sys(SYS_mkdir, kBadPtr, 0755), -EFAULT);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/a"), kBadPtr), -EFAULT);
    EXPECT_EQ(sys(SYS_utimensat, AT_FDCWD, P("/tmp"), kBadPtr, 0), -EFAULT);
    EXPECT_EQ(sys(SYS_statfs, P("/"), kBadPtr), -EFAULT);
    int64_t off = 0;
    EXPECT_EQ(sys(SYS_sendfile, 1, fd, kBadPtr, 1), -EFAULT);
    EXPECT_EQ(sys(SYS_sendfile, 1, fd, P(&off), 6), 6);
}

TEST_F(FsTest, FdLimitIsEmfile) {
    std::vector<int64_t> fds;
    for (;;) {
        int64_t fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            EXPECT_EQ(fd, -EMFILE);
            break;
        }
        fds.push_back(fd);
        ASSERT_LT(fds.size(), 2000u);
    }
    EXPECT_EQ(fds.size(), 1024u - 3);
    EXPECT_EQ(fds.back(), 1023);
    EXPECT_EQ(sys(SYS_dup, 1), -EMFILE);
    int p[2];
    EXPECT_EQ(sys(SYS_pipe, P(p)), -EMFILE);
    EXPECT_EQ(open("/tmp/not-created", O_CREAT | O_WRONLY), -EMFILE);
    EXPECT_EQ(close(500), 0);
    EXPECT_EQ(open("/tmp/created", O_CREAT | O_WRONLY), 500);
    EXPECT_EQ(sys(SYS_access, P("/tmp/not-created"), F_OK), -ENOENT);
    EXPECT_EQ(sys(SYS_close_range, 3, ~0u, 0), 0);
    EXPECT_EQ(open("/dev/null", O_RDONLY), 3);
}

TEST_F(FsTest, OutOfMemoryIsAnErrorNotACrash) {
    int64_t fd = open("/tmp/grow", O_CREAT | O_RDWR);
    ASSERT_GE(fd, 0);
    shim::fail_allocs_after(0);
    EXPECT_EQ(open("/tmp/new", O_CREAT | O_WRONLY), -ENOMEM);
    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/d"), 0755), -ENOMEM);
    EXPECT_EQ(write(fd, "data"), -ENOSPC);
    int p[2];
    EXPECT_EQ(sys(SYS_pipe, P(p)), -ENOMEM);
    EXPECT_EQ(open("/etc/hostname", O_RDONLY), -ENOMEM);
    shim::fail_allocs_after(1);  // the inode, but not its directory entry
    EXPECT_EQ(open("/tmp/new", O_CREAT | O_WRONLY), -ENOMEM);
    shim::fail_allocs_after(-1);
    EXPECT_EQ(sys(SYS_access, P("/tmp/new"), F_OK), -ENOENT);
    EXPECT_EQ(write(fd, "data"), 4);
    EXPECT_EQ(list("/tmp"), (std::vector<std::string>{".", "..", "grow"}));
}

TEST_F(FsTest, MmapReadsFileBytes) {
    int64_t fd = open("/etc/big", O_RDONLY);
    std::string buf(8192, 'x');
    EXPECT_EQ(shim::pread_for_mmap(static_cast<int>(fd), buf.data(), 8192, 4096), 10000 - 4096);
    EXPECT_EQ(buf.substr(0, 10000 - 4096), big_pattern(10000).substr(4096));
    EXPECT_EQ(shim::pread_for_mmap(static_cast<int>(fd), buf.data(), 10, 20000), 0);
    EXPECT_EQ(shim::pread_for_mmap(77, buf.data(), 10, 0), -EBADF);
    EXPECT_EQ(shim::pread_for_mmap(1, buf.data(), 10, 0), -EACCES);
    int64_t d = open("/etc", O_RDONLY);
    EXPECT_EQ(shim::pread_for_mmap(static_cast<int>(d), buf.data(), 10, 0), -ENODEV);
}

}  // namespace
}  // namespace fstest
