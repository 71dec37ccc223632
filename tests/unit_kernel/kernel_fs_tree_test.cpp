// kernel_fs_tree_test.cpp - the guest kernel's name space: path lookup,
// directories, symlinks, rename, stat, mounts and metadata.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <set>

#include "fs_test_util.h"

namespace fstest {
namespace {

using Names = std::vector<std::string>;

Names sorted(Names v) {
    std::sort(v.begin(), v.end());
    return v;
}

using FsTreeTest = FsTest;

TEST_F(FsTreeTest, Getdents64ListsDotEntriesNamesAndTypes) {
    EXPECT_EQ(list("/etc"), (Names{".", "..", "hostname", "big", "motd"}));
    EXPECT_EQ(sorted(list("/")), sorted(Names{".", "..", "bin", "etc", "usr", "lib", "abs", "loop1",
                                              "loop2", "tmp", "dev", "proc", "sys"}));
    EXPECT_EQ(list("/tmp"), (Names{".", ".."}));  // the archive's /tmp/hidden is covered

    int64_t fd = open("/etc", O_RDONLY | O_DIRECTORY);
    alignas(8) char buf[4096];
    int64_t n = sys(SYS_getdents64, fd, P(buf), sizeof buf);
    ASSERT_GT(n, 0);
    std::set<uint64_t> inos;
    for (int64_t off = 0; off < n;) {
        uint64_t ino;
        uint16_t reclen;
        memcpy(&ino, buf + off, 8);
        memcpy(&reclen, buf + off + 16, 2);
        uint8_t type = static_cast<uint8_t>(buf[off + 18]);
        std::string name = buf + off + 19;
        EXPECT_EQ(reclen % 8, 0);
        if (name == "." || name == "..") {
            EXPECT_EQ(type, DT_DIR);
        } else if (name == "hostname") {
            EXPECT_EQ(type, DT_REG);
        } else if (name == "motd") {
            EXPECT_EQ(type, DT_LNK);
        }
        if (name != "..") inos.insert(ino);
        off += reclen;
    }
    EXPECT_EQ(inos.size(), 4u);  // ".", hostname, big, motd: all distinct
    EXPECT_EQ(sys(SYS_getdents64, fd, P(buf), sizeof buf), 0);
    EXPECT_EQ(lseek(fd, 0, SEEK_SET), 0);                     // rewinddir
    EXPECT_EQ(sys(SYS_getdents64, fd, P(buf), 10), -EINVAL);  // too small for one entry
    EXPECT_EQ(sys(SYS_getdents64, fd, P(buf), sizeof buf), n);
    EXPECT_EQ(read(fd, buf, 10), -EISDIR);
    int64_t file = open("/etc/hostname", O_RDONLY);
    EXPECT_EQ(sys(SYS_getdents64, file, P(buf), sizeof buf), -ENOTDIR);
    EXPECT_EQ(open("/etc/hostname", O_RDONLY | O_DIRECTORY), -ENOTDIR);
    EXPECT_EQ(open("/etc", O_WRONLY), -EISDIR);
}

TEST_F(FsTreeTest, GetdentsSurvivesChangesWhileListing) {
    for (const char* n : {"/tmp/a", "/tmp/b", "/tmp/c"}) close(open(n, O_CREAT | O_WRONLY));
    int64_t fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    alignas(8) char buf[56];  // room for two short records per call
    ASSERT_EQ(sys(SYS_getdents64, fd, P(buf), sizeof buf), 48);  // "." and ".."
    ASSERT_GT(sys(SYS_getdents64, fd, P(buf), sizeof buf), 0);   // "a" and "b"
    EXPECT_EQ(sys(SYS_unlink, P("/tmp/b")), 0);
    EXPECT_EQ(close(open("/tmp/d", O_CREAT | O_WRONLY)), 0);
    Names rest;
    for (int64_t n; (n = sys(SYS_getdents64, fd, P(buf), sizeof buf)) > 0;)
        for (int64_t off = 0; off < n; off += static_cast<uint8_t>(buf[off + 16]))
            rest.emplace_back(buf + off + 19);
    EXPECT_EQ(rest, (Names{"c", "d"}));
}

TEST_F(FsTreeTest, StatOfDirsFilesAndSymlinks) {
    struct stat s = st("/etc/hostname");
    EXPECT_EQ(s.st_mode, S_IFREG | 0644u);
    EXPECT_EQ(s.st_size, 6);
    EXPECT_EQ(s.st_nlink, 1u);
    EXPECT_EQ(s.st_uid, 0u);
    EXPECT_EQ(s.st_mtim.tv_sec, Cpio::kMtime);
    EXPECT_EQ(s.st_blksize, 4096);
    struct stat d = st("/etc");
    EXPECT_TRUE(S_ISDIR(d.st_mode));
    EXPECT_EQ(d.st_nlink, 2u);
    EXPECT_EQ(st("/usr").st_nlink, 3u);                  // "usr/lib" is a subdirectory
    EXPECT_EQ(st("/usr").st_mode, S_IFDIR | 0755u);      // implicit parents are 0755
    EXPECT_EQ(st("/usr").st_mtim.tv_sec, Cpio::kMtime);  // ... with their child's time
    EXPECT_EQ(d.st_mtim.tv_sec, Cpio::kMtime);  // adding entries at boot keeps archive times
    struct stat l = st("/etc/motd", false);
    EXPECT_TRUE(S_ISLNK(l.st_mode));
    EXPECT_EQ(l.st_size, 8);  // strlen("hostname")
    EXPECT_EQ(st("/etc/motd").st_ino, s.st_ino);
    EXPECT_NE(l.st_ino, s.st_ino);
    EXPECT_NE(d.st_ino, s.st_ino);
    EXPECT_EQ(st("/abs").st_ino, s.st_ino);
    EXPECT_EQ(readlink("/etc/motd"), "hostname");
    EXPECT_EQ(readlink("/etc/hostname"), "<-22>");
    char small[3];
    EXPECT_EQ(sys(SYS_readlink, P("/etc/motd"), P(small), 3), 3);  // truncated, no NUL

    struct stat f = {};
    EXPECT_EQ(sys(SYS_newfstatat, AT_FDCWD, P("/etc/motd"), P(&f), AT_SYMLINK_NOFOLLOW), 0);
    EXPECT_TRUE(S_ISLNK(f.st_mode));
    int64_t fd = open("/etc", O_RDONLY);
    EXPECT_EQ(sys(SYS_newfstatat, fd, P("hostname"), P(&f), 0), 0);
    EXPECT_EQ(f.st_ino, s.st_ino);
    EXPECT_EQ(sys(SYS_newfstatat, fd, P(""), P(&f), AT_EMPTY_PATH), 0);
    EXPECT_EQ(f.st_ino, d.st_ino);
    EXPECT_EQ(sys(SYS_newfstatat, fd, P(""), P(&f), 0), -ENOENT);
    EXPECT_EQ(sys(SYS_newfstatat, fd, P("x"), P(&f), 0x4), -EINVAL);

    struct statx sx = {};
    EXPECT_EQ(sys(SYS_statx, AT_FDCWD, P("/etc/big"), 0, STATX_BASIC_STATS, P(&sx)), 0);
    EXPECT_EQ(sx.stx_mask & STATX_BASIC_STATS, static_cast<uint32_t>(STATX_BASIC_STATS));
    EXPECT_EQ(sx.stx_size, 10000u);
    EXPECT_EQ(sx.stx_mode, S_IFREG | 0644);
    EXPECT_EQ(sx.stx_mtime.tv_sec, Cpio::kMtime);

    // Each mounted tree has its own device, as df and rename(-EXDEV) expect.
    std::set<dev_t> devs;
    for (const char* m : {"/", "/tmp", "/dev", "/dev/shm", "/proc", "/sys"})
        devs.insert(st(m).st_dev);
    EXPECT_EQ(devs.size(), 6u);
    EXPECT_EQ(st("/etc/hostname").st_dev, st("/").st_dev);
    EXPECT_EQ(st("/dev/null").st_dev, st("/dev").st_dev);
    EXPECT_EQ(slurp("/proc/mounts").substr(0, 23), "rootfs / rootfs ro 0 0\n");
    EXPECT_EQ(open("/proc/self/mounts", O_WRONLY), -EACCES);

    struct statfs sf;
    EXPECT_EQ(sys(SYS_statfs, P("/tmp"), P(&sf)), 0);
    EXPECT_EQ(sf.f_type, 0x01021994);
    EXPECT_EQ(sys(SYS_statfs, P("/etc"), P(&sf)), 0);
    EXPECT_TRUE(sf.f_flags & ST_RDONLY);
}

TEST_F(FsTreeTest, RelativePathsChdirAndDirfds) {
    EXPECT_EQ(getcwd(), "/");
    EXPECT_EQ(sys(SYS_chdir, P("/usr")), 0);
    EXPECT_EQ(getcwd(), "/usr");
    EXPECT_EQ(slurp("lib/libx.so"), "libx");
    EXPECT_EQ(slurp("./lib/../lib//libx.so"), "libx");
    EXPECT_EQ(sys(SYS_chdir, P("lib")), 0);
    EXPECT_EQ(getcwd(), "/usr/lib");
    EXPECT_EQ(sys(SYS_chdir, P("../..")), 0);
    EXPECT_EQ(getcwd(), "/");
    EXPECT_EQ(sys(SYS_chdir, P("/lib")), 0);  // through the symlink to usr/lib
    EXPECT_EQ(getcwd(), "/usr/lib");
    EXPECT_EQ(sys(SYS_chdir, P("/etc/hostname")), -ENOTDIR);
    EXPECT_EQ(sys(SYS_chdir, P("/nope")), -ENOENT);
    char tiny[4];
    EXPECT_EQ(sys(SYS_getcwd, P(tiny), sizeof tiny), -ERANGE);

    int64_t etc = open("/etc", O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(sys(SYS_openat, etc, P("hostname"), O_RDONLY) >= 0, true);
    EXPECT_EQ(sys(SYS_openat, 999, P("hostname"), O_RDONLY), -EBADF);
    EXPECT_EQ(sys(SYS_openat, 999, P("/etc/hostname"), O_RDONLY) >= 0,
              true);  // absolute: dirfd unused
    int64_t file = open("/etc/hostname", O_RDONLY);
    EXPECT_EQ(sys(SYS_openat, file, P("x"), O_RDONLY), -ENOTDIR);
    EXPECT_EQ(sys(SYS_fchdir, etc), 0);
    EXPECT_EQ(getcwd(), "/etc");
    EXPECT_EQ(sys(SYS_fchdir, file), -ENOTDIR);
    int64_t path_fd = open("/usr", O_PATH);
    EXPECT_EQ(read(path_fd, tiny, 1), -EBADF);
    EXPECT_EQ(sys(SYS_fchdir, path_fd), 0);
    EXPECT_EQ(getcwd(), "/usr");

    // A removed cwd has no path any more; lookups inside it fail.
    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/d"), 0755), 0);
    EXPECT_EQ(sys(SYS_chdir, P("/tmp/d")), 0);
    EXPECT_EQ(sys(SYS_rmdir, P("/tmp/d")), 0);
    EXPECT_EQ(getcwd(), "<-2>");
    EXPECT_EQ(open("f", O_CREAT | O_WRONLY), -ENOENT);
    EXPECT_EQ(stat_err(".."), -ENOENT);
}

TEST_F(FsTreeTest, DotDotAtTheRootStaysAtTheRoot) {
    EXPECT_EQ(st("/..").st_ino, st("/").st_ino);
    EXPECT_EQ(st("/../../..").st_ino, st("/").st_ino);
    EXPECT_EQ(slurp("/../etc/../../etc/hostname"), "ember\n");
    EXPECT_EQ(sys(SYS_chdir, P("..")), 0);
    EXPECT_EQ(getcwd(), "/");
    EXPECT_EQ(st("/tmp/..").st_ino, st("/").st_ino);  // out of the tmpfs mount
    EXPECT_EQ(sys(SYS_rmdir, P("/")), -EBUSY);
    EXPECT_EQ(sys(SYS_rmdir, P("/tmp/.")), -EINVAL);
    EXPECT_EQ(sys(SYS_unlink, P("/")), -EISDIR);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/.."), P("/tmp/x")), -EBUSY);
}

TEST_F(FsTreeTest, SymlinkLoopsAndTrailingSlashes) {
    EXPECT_EQ(open("/loop1", O_RDONLY), -ELOOP);
    EXPECT_EQ(stat_err("/loop1/x"), -ELOOP);
    EXPECT_EQ(open("/etc/motd", O_RDONLY | O_NOFOLLOW), -ELOOP);
    EXPECT_GE(open("/etc/motd", O_PATH | O_NOFOLLOW), 0);
    EXPECT_EQ(stat_err("/etc/hostname/"), -ENOTDIR);
    EXPECT_EQ(stat_err("/etc/hostname/."), -ENOTDIR);
    EXPECT_EQ(open("/etc/hostname/", O_RDONLY), -ENOTDIR);
    EXPECT_EQ(list("/lib/"), (Names{".", "..", "libx.so"}));
    EXPECT_EQ(st("/lib/", false).st_mode & S_IFMT,
              static_cast<unsigned>(S_IFDIR));  // slash follows
    EXPECT_EQ(st("/lib", false).st_mode & S_IFMT, static_cast<unsigned>(S_IFLNK));

    // A chain of 40 links resolves, 41 do not.
    EXPECT_EQ(sys(SYS_symlink, P("/etc/hostname"), P("/tmp/l0")), 0);
    for (int i = 1; i <= 40; i++) {
        char from[16], to[16];  // not "l" + std::to_string(): see errno_text
        snprintf(from, sizeof from, "/tmp/l%d", i);
        snprintf(to, sizeof to, "l%d", i - 1);
        ASSERT_EQ(sys(SYS_symlink, P(to), P(from)), 0);
    }
    EXPECT_EQ(slurp("/tmp/l39"), "ember\n");
    EXPECT_EQ(open("/tmp/l40", O_RDONLY), -ELOOP);

    // O_CREAT through a dangling symlink creates its target.
    EXPECT_EQ(sys(SYS_symlink, P("target"), P("/tmp/dangling")), 0);
    int64_t fd = open("/tmp/dangling", O_CREAT | O_WRONLY);
    EXPECT_EQ(write(fd, "t"), 1);
    EXPECT_EQ(slurp("/tmp/target"), "t");
    EXPECT_EQ(open("/tmp/dangling", O_CREAT | O_EXCL | O_WRONLY), -EEXIST);
    EXPECT_EQ(readlink("/proc/self/exe"), "/bin/app");
    EXPECT_EQ(slurp("/proc/self/exe"),
              "\x7f"
              "ELF fake");
}

TEST_F(FsTreeTest, NamesLongerThanLinuxLimitsAreEnametoolong) {
    std::string long_path(5001, 'a');  // not "/" + ...: see fstest::errno_text
    long_path[0] = '/';
    EXPECT_EQ(open(long_path.c_str(), O_RDONLY), -ENAMETOOLONG);
    std::string at_limit = "/tmp/" + std::string(4090, 'b');     // 4095 bytes + NUL
    EXPECT_EQ(open(at_limit.c_str(), O_RDONLY), -ENAMETOOLONG);  // a 4090-byte component
    std::string long_name = "/tmp/" + std::string(256, 'c');
    EXPECT_EQ(open(long_name.c_str(), O_CREAT | O_WRONLY), -ENAMETOOLONG);
    std::string ok_name = "/tmp/" + std::string(255, 'c');
    EXPECT_GE(open(ok_name.c_str(), O_CREAT | O_WRONLY), 0);
    std::string deep;
    while (deep.size() < 4090) deep += "./";
    EXPECT_EQ(slurp(("/etc/" + deep + "hostname").c_str()), "<open: -36>");
    EXPECT_EQ(slurp(("/etc/" + deep.substr(0, 4000) + "hostname").c_str()), "ember\n");
    // A symlink whose expansion exceeds PATH_MAX.
    std::string target(4001, '/');
    target += "etc";
    EXPECT_EQ(sys(SYS_symlink, P(target.c_str()), P("/tmp/wide")), 0);
    std::string via = "/tmp/wide/" + std::string(200, '/') + "hostname";
    EXPECT_EQ(open(via.c_str(), O_RDONLY), -ENAMETOOLONG);
}

TEST_F(FsTreeTest, TmpfsDirectoriesRenameAndUnlink) {
    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/d"), 0700), 0);
    EXPECT_EQ(st("/tmp/d").st_mode, S_IFDIR | 0700u);
    EXPECT_EQ(st("/tmp").st_nlink, 3u);
    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/d/"), 0700), -EEXIST);
    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/e/"), 0700), 0);  // a trailing slash is fine for mkdir
    EXPECT_EQ(close(open("/tmp/d/f", O_CREAT | O_WRONLY)), 0);
    EXPECT_EQ(sys(SYS_rmdir, P("/tmp/d")), -ENOTEMPTY);
    EXPECT_EQ(sys(SYS_unlink, P("/tmp/d")), -EISDIR);
    EXPECT_EQ(sys(SYS_rmdir, P("/tmp/d/f")), -ENOTDIR);
    EXPECT_EQ(sys(SYS_unlinkat, AT_FDCWD, P("/tmp/d/f"), 0x1), -EINVAL);

    EXPECT_EQ(sys(SYS_rename, P("/tmp/d/f"), P("/tmp/g")), 0);
    EXPECT_EQ(stat_err("/tmp/d/f"), -ENOENT);
    EXPECT_EQ(st("/tmp/g").st_size, 0);
    EXPECT_EQ(close(open("/tmp/h", O_CREAT | O_WRONLY)), 0);
    int64_t fd = open("/tmp/h", O_WRONLY);
    EXPECT_EQ(write(fd, "hhh"), 3);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/h"), P("/tmp/g")), 0);  // replaces g
    EXPECT_EQ(slurp("/tmp/g"), "hhh");
    EXPECT_EQ(sys(SYS_renameat2, AT_FDCWD, P("/tmp/g"), AT_FDCWD, P("/tmp/e"), 0), -EISDIR);
    EXPECT_EQ(sys(SYS_renameat2, AT_FDCWD, P("/tmp/d"), AT_FDCWD, P("/tmp/g"), 0), -ENOTDIR);
    EXPECT_EQ(sys(SYS_renameat2, AT_FDCWD, P("/tmp/g"), AT_FDCWD, P("/tmp/e/x"), 1), 0);
    EXPECT_EQ(close(open("/tmp/g", O_CREAT | O_WRONLY)), 0);
    EXPECT_EQ(sys(SYS_renameat2, AT_FDCWD, P("/tmp/g"), AT_FDCWD, P("/tmp/e/x"), 1), -EEXIST);
    EXPECT_EQ(sys(SYS_renameat2, AT_FDCWD, P("/tmp/g"), AT_FDCWD, P("/tmp/e/x"), 2), -EINVAL);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/e"), P("/tmp/e/sub")), -EINVAL);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/e"), P("/tmp/d")), 0);  // onto an empty directory
    EXPECT_EQ(slurp("/tmp/d/x"), "hhh");
    EXPECT_EQ(sys(SYS_rename, P("/tmp/g"), P("/etc/g")), -EXDEV);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/g"), P("/dev/shm/g")), -EXDEV);  // another tmpfs
    EXPECT_EQ(sys(SYS_rename, P("/tmp/g/"), P("/tmp/g2")), -ENOTDIR);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/missing"), P("/tmp/x")), -ENOENT);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/g"), P("/tmp/g")), 0);

    EXPECT_EQ(sys(SYS_mkdir, P("/tmp/d/sub"), 0755), 0);
    EXPECT_EQ(sys(SYS_rename, P("/tmp/d/sub"), P("/tmp/sub2")), 0);
    EXPECT_EQ(st("/tmp/sub2/..").st_ino, st("/tmp").st_ino);  // ".." follows the move
    EXPECT_EQ(sys(SYS_unlinkat, AT_FDCWD, P("/tmp/sub2"), AT_REMOVEDIR), 0);
    EXPECT_EQ(sys(SYS_unlink, P("/tmp/d/x")), 0);
    EXPECT_EQ(sys(SYS_rmdir, P("/tmp/d")), 0);
    EXPECT_EQ(sys(SYS_unlink, P("/tmp/g")), 0);
    EXPECT_EQ(list("/tmp"), (Names{".", ".."}));
    EXPECT_EQ(st("/tmp").st_nlink, 2u);

    EXPECT_EQ(sys(SYS_link, P("/etc/hostname"), P("/tmp/hl")), -EXDEV);
    EXPECT_EQ(close(open("/tmp/a", O_CREAT | O_WRONLY)), 0);
    EXPECT_EQ(sys(SYS_link, P("/tmp/a"), P("/tmp/b")), 0);
    EXPECT_EQ(st("/tmp/b").st_nlink, 2u);
    EXPECT_EQ(sys(SYS_link, P("/tmp"), P("/tmp/c")), -EPERM);
}

TEST_F(FsTreeTest, ModesTimesAndTmpfiles) {
    EXPECT_EQ(sys(SYS_umask, 077), 022);
    int64_t fd = open("/tmp/m", O_CREAT | O_WRONLY, 0666);
    EXPECT_EQ(st("/tmp/m").st_mode, S_IFREG | 0600u);
    EXPECT_EQ(sys(SYS_fchmod, fd, 0755), 0);
    EXPECT_EQ(st("/tmp/m").st_mode, S_IFREG | 0755u);
    EXPECT_EQ(sys(SYS_chmod, P("/tmp/m"), 04711), 0);
    EXPECT_EQ(st("/tmp/m").st_mode, S_IFREG | 04711u);
    struct timespec ts[2] = {{100, 5}, {200, UTIME_OMIT}};
    time_t before = st("/tmp/m").st_mtim.tv_sec;
    EXPECT_EQ(sys(SYS_utimensat, AT_FDCWD, P("/tmp/m"), P(ts), 0), 0);
    EXPECT_EQ(st("/tmp/m").st_atim.tv_sec, 100);
    EXPECT_EQ(st("/tmp/m").st_mtim.tv_sec, before);
    ts[1] = {300, 7};
    EXPECT_EQ(sys(SYS_utimensat, fd, 0, P(ts), 0), 0);
    EXPECT_EQ(st("/tmp/m").st_mtim.tv_sec, 300);
    ts[0].tv_nsec = 1000000000;
    EXPECT_EQ(sys(SYS_utimensat, AT_FDCWD, P("/tmp/m"), P(ts), 0), -EINVAL);
    EXPECT_EQ(sys(SYS_utimensat, AT_FDCWD, P("/etc/hostname"), 0, 0), -EROFS);
    EXPECT_EQ(sys(SYS_chown, P("/tmp/m"), 1000, 1000), 0);
    EXPECT_EQ(st("/tmp/m").st_uid, 0u);
    char v[8];
    EXPECT_EQ(sys(SYS_getxattr, P("/tmp/m"), P("user.x"), P(v), sizeof v), -ENODATA);
    EXPECT_EQ(sys(SYS_getxattr, P("/tmp/none"), P("user.x"), P(v), sizeof v), -ENOENT);
    EXPECT_EQ(sys(SYS_setxattr, P("/tmp/m"), P("user.x"), P(v), 1, 0), -EOPNOTSUPP);
    EXPECT_EQ(sys(SYS_listxattr, P("/tmp/m"), P(v), sizeof v), 0);

    int64_t t = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    ASSERT_GE(t, 0);
    EXPECT_EQ(write(t, "anon"), 4);
    EXPECT_EQ(list("/tmp"), (Names{".", "..", "m"}));
    EXPECT_EQ(sys(SYS_linkat, t, P(""), AT_FDCWD, P("/tmp/named"), AT_EMPTY_PATH), 0);
    EXPECT_EQ(slurp("/tmp/named"), "anon");
    EXPECT_EQ(sys(SYS_linkat, t, P(""), AT_FDCWD, P("/dev/shm/named"), AT_EMPTY_PATH), -EXDEV);
    EXPECT_EQ(open("/etc", O_TMPFILE | O_RDWR, 0600), -EOPNOTSUPP);
    int64_t m = sys(SYS_memfd_create, P("buf"), MFD_CLOEXEC);
    ASSERT_GE(m, 0);
    EXPECT_EQ(sys(SYS_fcntl, m, F_GETFD), FD_CLOEXEC);
    EXPECT_EQ(sys(SYS_ftruncate, m, 8192), 0);
    EXPECT_EQ(sys(SYS_pwrite64, m, P("z"), 1, 8191), 1);
    struct stat s;
    EXPECT_EQ(sys(SYS_fstat, m, P(&s)), 0);
    EXPECT_EQ(s.st_size, 8192);
}

}  // namespace
}  // namespace fstest
