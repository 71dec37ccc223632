// volume_test.cpp - ember-vm run --volume: examples/vol_ops does the same
// file operations on a host directory natively and on a volume (either
// libc, patched syscall sites or not), read-only mounts refuse changes,
// the quota stops writes with ENOSPC, the guest's symlinks and ".." never
// lead out of the volume, data outlives the instance and a snapshot taken
// with an open volume file resumes with it. MAP_SHARED mappings of volume
// files are written back (examples/vol_mmap); file locks work between the
// instance's processes (examples/file_locks).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class VolumeTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(VolumeTest, FileOperationsBehaveAsOnTheHost) {
    TempDir native_dir, vol_dir;
    const std::string prog = example_path(GetParam(), "vol_ops");
    RunResult native = run_native({prog, native_dir.path()});
    ASSERT_EQ(native.exit_code, 0) << native.err;
    for (const char* patch : {"", "--no-syscall-patch"}) {
        std::vector<std::string> args = {"run", "--volume", vol_dir.path() + ":/data"};
        if (*patch) args.push_back(patch);
        args.push_back(prog);
        RunResult vm = run_ember(args);
        EXPECT_EQ(vm.exit_code, 0) << vm.err;
        EXPECT_EQ(vm.out, native.out) << patch;
    }
    // The suite removes what it made: the host directory is empty again.
    EXPECT_TRUE(std::filesystem::is_empty(vol_dir.path()));
}

// MAP_SHARED of a volume file: stores reach read(), msync, fsync, munmap
// and a child's exit; write() reaches the mapping; MAP_PRIVATE is a copy.
TEST_P(VolumeTest, SharedMappingsWriteBackAsOnTheHost) {
    TempDir native_dir, vol_dir;
    const std::string prog = example_path(GetParam(), "vol_mmap");
    RunResult native = run_native({prog, native_dir.path()});
    ASSERT_EQ(native.exit_code, 0) << native.err;
    for (const char* patch : {"", "--no-syscall-patch"}) {
        std::vector<std::string> args = {"run", "--volume", vol_dir.path() + ":/data"};
        if (*patch) args.push_back(patch);
        args.push_back(prog);
        RunResult vm = run_ember(args);
        EXPECT_EQ(vm.exit_code, 0) << vm.err;
        EXPECT_EQ(vm.out, native.out) << patch;
    }
    EXPECT_TRUE(std::filesystem::is_empty(vol_dir.path()));
}

// fcntl record locks, OFD locks and flock between the instance's
// processes and open files, on a volume file and on /tmp (the locks live in
// the guest kernel for every file system).
TEST_P(VolumeTest, FileLocksBehaveAsOnTheHost) {
    TempDir native_dir, vol_dir;
    const std::string prog = example_path(GetParam(), "file_locks");
    RunResult native = run_native({prog, native_dir.path()});
    ASSERT_EQ(native.exit_code, 0) << native.err;
    for (const char* dir : {"/data", "/tmp"}) {
        RunResult vm = run_ember({"run", "--volume", vol_dir.path() + ":/data", prog, dir});
        EXPECT_EQ(vm.exit_code, 0) << vm.err;
        EXPECT_EQ(vm.out, native.out) << dir;
    }
    EXPECT_TRUE(std::filesystem::is_empty(vol_dir.path()));
}

// An unlinked or replaced open file stays usable; chmod, utimes and links
// reach the host; a hidden name a killed instance left is removed at boot.
TEST_P(VolumeTest, MetadataAndUnlinkedFilesBehaveAsOnTheHost) {
    TempDir native_dir, vol_dir;
    const std::string prog = example_path(GetParam(), "vol_meta");
    RunResult native = run_native({prog, native_dir.path()});
    ASSERT_EQ(native.exit_code, 0) << native.err;
    write_file(vol_dir / ".ember-unlinked-1-1", "left by a killed instance");
    RunResult vm = run_ember({"run", "--volume", vol_dir.path() + ":/data", prog});
    EXPECT_EQ(vm.exit_code, 0) << vm.err;
    EXPECT_EQ(vm.out, native.out);
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(vol_dir.path()))
        names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"meta", "meta.link"}));
    struct stat st {};
    ASSERT_EQ(::stat((vol_dir / "meta").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);
    EXPECT_EQ(st.st_nlink, 2u);
}

INSTANTIATE_TEST_SUITE_P(Libc, VolumeTest, ::testing::Values("gcc", "musl"));

class VolumeHostTest : public EmberTest {};

TEST_F(VolumeHostTest, DataOutlivesTheInstance) {
    TempDir dir;
    const std::string prog = example_path("gcc", "vol_ops");
    RunResult w = run_ember({"run", "--volume", dir.path() + ":/srv/state", prog, "/srv/state",
                             "write", "note", "kept"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    EXPECT_EQ(read_file(dir / "note"), "kept");
    RunResult r = run_ember(
        {"run", "--volume", dir.path() + ":/srv/state", prog, "/srv/state", "read", "note"});
    EXPECT_EQ(r.out, "cat note: [kept]\n") << r.err;
}

TEST_F(VolumeHostTest, SharedMappingReachesTheHostAtExit) {
    TempDir dir;
    const std::string prog = example_path("gcc", "vol_mmap");
    RunResult r = run_ember(
        {"run", "--volume", dir.path() + ":/data", prog, "/data", "dirty", "f", "through"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(dir / "f").substr(0, 8), std::string("through\0", 8));
}

TEST_F(VolumeHostTest, ReadOnlyMountRefusesChanges) {
    TempDir dir;
    write_file(dir / "f", "old");
    const std::string prog = example_path("gcc", "vol_ops");
    RunResult r = run_ember(
        {"run", "--volume", dir.path() + ":/data:ro", prog, "/data", "write", "f", "new"});
    EXPECT_EQ(r.out, "open: EROFS\n") << r.err;
    EXPECT_EQ(read_file(dir / "f"), "old");
    RunResult rd =
        run_ember({"run", "--volume", dir.path() + ":/data:ro", prog, "/data", "read", "f"});
    EXPECT_EQ(rd.out, "cat f: [old]\n") << rd.err;
}

TEST_F(VolumeHostTest, QuotaStopsWritesWithEnospc) {
    TempDir dir;
    const std::string prog = example_path("gcc", "vol_ops");
    RunResult r = run_ember({"run", "--volume", dir.path() + ":/data", "--volume-quota", "64K",
                             prog, "/data", "fill", "1024"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 64 KiB in all, the file's first 4 KiB counted from its creation.
    EXPECT_EQ(r.out,
              "write: ENOSPC after 65536 bytes\nwrote 65536 bytes\nmkdir after: ENOSPC\n"
              "close: 0\n");
    struct stat st {};
    ASSERT_EQ(::stat((dir / "fill").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 65536);
    EXPECT_LE(st.st_blocks * 512, 65536 + 4096);
}

TEST_F(VolumeHostTest, SymlinksAndDotDotStayInTheGuest) {
    TempDir top;
    std::filesystem::create_directory(top / "vol");
    write_file(top / "secret", "SECRET");
    std::filesystem::create_symlink("../secret", top / "vol/rel");
    std::filesystem::create_symlink(top / "secret", top / "vol/abs");
    std::filesystem::create_symlink(top.path(), top / "vol/up");
    const std::string prog = example_path("gcc", "vol_ops");
    // The guest follows its symlinks as guest paths: "../secret" from
    // /data is /secret, the absolute target names a guest path too; none
    // of them exists in the guest.
    for (const char* path : {"rel", "abs", "up/secret", "../secret", "up/vol/rel"}) {
        RunResult r =
            run_ember({"run", "--volume", top.path() + "/vol:/data", prog, "/data", "read", path});
        EXPECT_EQ(r.out, std::string("cat ") + path + ": ENOENT\n") << r.err;
    }
}

TEST_F(VolumeHostTest, SnapshotResumesWithAnOpenVolumeFile) {
    TempDir dir, vol;
    const std::string snap = dir / "s.snap";
    const std::string prog = example_path("gcc", "vol_ops");
    RunResult made = run_ember({"run", "--snapshot-out", snap, "--volume", vol.path() + ":/data",
                                prog, "/data", "snap", "f"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    EXPECT_EQ(read_file(vol / "f"), "before\n");
    write_file(dir / "in", "after\n");
    RunResult r =
        run_ember({"restore", "--stdin", dir / "in", "--volume", vol.path() + ":/data", snap});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("cat f: [before\nafter\n]"), std::string::npos) << r.out;
    EXPECT_EQ(read_file(vol / "f"), "before\nafter\n");
}

TEST_F(VolumeHostTest, SqliteKeepsItsDatabaseAcrossInstances) {
    const std::string prog = example_path("gcc", "vol_sqlite");
    if (access(prog.c_str(), X_OK) != 0) GTEST_SKIP() << "no static libsqlite3: " << prog;
    TempDir dir;
    for (const char* count : {"1000", "2000"}) {
        RunResult r = run_ember({"run", "--volume", dir.path() + ":/data", prog});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, std::string("wal\n") + count + "\nok\n") << r.err;
    }
    // The host's view of the same file: a native run adds to it.
    RunResult n = run_native({prog, dir / "t.db"});
    EXPECT_EQ(n.out, "wal\n3000\nok\n") << n.err;
}

}  // namespace
}  // namespace ember::test
