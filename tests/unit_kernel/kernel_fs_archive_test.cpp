// kernel_fs_archive_test.cpp - building the guest kernel's root file system
// from cpio archives: hard links, duplicates, special files, large
// directories, and malformed archives that fs_init must refuse.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "fs_test_util.h"

namespace fstest {
namespace {

using Names = std::vector<std::string>;
using FsArchiveTest = FsTest;

Names sorted(Names v) {
    std::sort(v.begin(), v.end());
    return v;
}

TEST_F(FsArchiveTest, ArchiveEdgeCases) {
    // Hard links share one inode; the data rides on the last link (GNU cpio).
    Cpio c;
    c.add("a", 0100644, "", 2, 7).add("b", 0100644, "shared", 2, 7);
    c.add("dev/console", 0020600).add("fifo", 0010644);
    c.file("x", "first").file("x", "second");  // the later entry wins
    c.add("/./abs//path/", 0040711);
    Boot(c.finish());
    EXPECT_EQ(slurp("/a"), "shared");
    EXPECT_EQ(st("/a").st_ino, st("/b").st_ino);
    EXPECT_EQ(st("/a").st_nlink, 2u);
    EXPECT_EQ(slurp("/x"), "second");
    EXPECT_EQ(open("/fifo", O_RDONLY), -ENXIO);
    EXPECT_EQ(stat_err("/dev/console"), -ENOENT);  // /dev is the kernel's own
    EXPECT_EQ(st("/abs/path").st_mode, S_IFDIR | 0711u);
    EXPECT_EQ(list("/tmp"), (Names{".", ".."}));  // created without an archive /tmp

    Boot("");  // no archive at all: an empty root plus the synthetic trees
    EXPECT_EQ(sorted(list("/")), sorted(Names{".", "..", "tmp", "dev", "proc", "sys"}));
    EXPECT_GE(open("/tmp/f", O_CREAT | O_WRONLY), 3);
}

TEST_F(FsArchiveTest, LargeDirectoriesStayConsistent) {
    Cpio c;
    for (int i = 0; i < 3000; i++) c.file("big/f" + std::to_string(i), std::to_string(i * 3));
    Boot(c.finish());
    EXPECT_EQ(list("/big").size(), 3002u);
    EXPECT_EQ(slurp("/big/f0"), "0");
    EXPECT_EQ(slurp("/big/f2999"), "8997");
    EXPECT_EQ(stat_err("/big/f3000"), -ENOENT);
    for (int i = 0; i < 2000; i++)
        ASSERT_EQ(close(open(("/tmp/n" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY)), 0);
    for (int i = 0; i < 2000; i += 2)
        ASSERT_EQ(sys(SYS_unlink, P(("/tmp/n" + std::to_string(i)).c_str())), 0);
    for (int i = 0; i < 2000; i++) {
        std::string n = "/tmp/n" + std::to_string(i);
        ASSERT_EQ(sys(SYS_access, P(n.c_str()), F_OK), i % 2 ? 0 : -ENOENT) << n;
    }
    EXPECT_EQ(sys(SYS_rename, P("/tmp/n1"), P("/tmp/n0")), 0);
    EXPECT_EQ(sys(SYS_access, P("/tmp/n1"), F_OK), -ENOENT);
    EXPECT_EQ(list("/tmp").size(), 1002u);
}

TEST_F(FsArchiveTest, MalformedArchivesAreRejected) {
    std::string good = Cpio().file("f", "data").finish();
    auto rejects = [&](const std::string& bad, const char* why) {
        g_log.clear();
        EXPECT_FALSE(shim::fs_init(bad.data(), bad.size())) << why;
        EXPECT_FALSE(g_log.empty()) << why;
    };
    std::string bad_magic = good;
    bad_magic[0] = 'x';
    rejects(bad_magic, "bad magic");
    rejects(good.substr(0, 100), "truncated header");
    rejects(Cpio().file("f", "data").raw(), "no trailer");
    rejects(Cpio().file("../etc/passwd", "x").finish(), "dot-dot name");
    rejects(Cpio().file("a", "x").file("a/b", "y").finish(), "file used as a directory");
    rejects(Cpio().dir("a").file("a", "x").finish(), "directory replaced by a file");
    rejects(Cpio().link("l", "").finish(), "empty symlink target");
    rejects(Cpio().add("weird", 0170644).finish(), "unknown file type");
    rejects(Cpio().file(std::string(300, 'n'), "x").finish(), "component over 255 bytes");
    rejects(Cpio().file("f", "x").file(".", "x").finish(), "root as a file");
    std::string deep;
    for (int i = 0; i < 1000; i++) deep += "d/";
    Boot(Cpio().file(deep + "f", "deep").finish());  // deep trees load and tear down
    EXPECT_EQ(slurp(("/" + deep + "f").c_str()), "deep");
    Boot(good);
    EXPECT_EQ(slurp("/f"), "data");
}

}  // namespace
}  // namespace fstest
