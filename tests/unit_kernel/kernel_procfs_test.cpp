// kernel_procfs_test.cpp - /proc and /sys of the guest kernel: the trees,
// the generated files in Linux's formats, /proc/self/fd following the fd
// table, and the read-only rules. The shim (kernel_shim.cpp) stands for the
// rest of the kernel: one thread, a text and a heap mapping, 1 GiB of memory.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "fs_test_util.h"

namespace fstest {
namespace {

using Names = std::vector<std::string>;
class ProcTest : public FsTest {
  protected:
    // The /proc/self/maps lines at or above 0x10000000, as "start-end perms
    // offset [name]" (the test mappings; fs_init's text and heap are lower).
    static Names maps_above() {
        Names out;
        std::string text = slurp("/proc/self/maps");
        for (size_t at = 0; at < text.size();) {
            size_t nl = text.find('\n', at);
            std::string line = text.substr(at, nl - at);
            at = nl + 1;
            if (line.compare(0, 8, "10000000") < 0) continue;
            std::string head = line.substr(0, 31);
            size_t name = line.size() > 73 ? 73 : std::string::npos;
            out.push_back(name == std::string::npos ? head : head + " " + line.substr(name));
        }
        return out;
    }
};

bool has(const Names& v, const std::string& s) {
    for (const auto& x : v)
        if (x == s) return true;
    return false;
}

TEST_F(ProcTest, ProcAndSysListTheirEntriesOnFirstUse) {
    Names proc = list("/proc");
    for (const char* n : {"1", "self", "thread-self", "cpuinfo", "meminfo", "stat", "uptime",
                          "loadavg", "version", "mounts", "sys"})
        EXPECT_TRUE(has(proc, n)) << n;
    Names self = list("/proc/self");
    for (const char* n : {"auxv", "cmdline", "comm", "cwd", "environ", "exe", "fd", "maps",
                          "mountinfo", "mounts", "root", "stat", "statm", "status", "task"})
        EXPECT_TRUE(has(self, n)) << n;
    EXPECT_EQ(list("/sys/devices/system/cpu"),
              (Names{".", "..", "cpu0", "kernel_max", "online", "possible", "present"}));
    EXPECT_EQ(list("/proc/self/task"), (Names{".", "..", "1"}));
    EXPECT_EQ(list("/proc/1/task/1"), (Names{".", "..", "comm", "stat", "status"}));
    EXPECT_EQ(stat_err("/proc/2"), -ENOENT);
    EXPECT_EQ(stat_err("/proc/self/task/2"), -ENOENT);
}

TEST_F(ProcTest, SelfAndThreadSelfAreLinksToThePidDirectory) {
    EXPECT_EQ(readlink("/proc/self"), "1");
    EXPECT_EQ(readlink("/proc/thread-self"), "1/task/1");
    EXPECT_TRUE(S_ISDIR(st("/proc/self").st_mode));
    EXPECT_EQ(st("/proc/self").st_ino, st("/proc/1").st_ino);
    EXPECT_EQ(readlink("/proc/self/exe"), "/bin/app");
    EXPECT_EQ(readlink("/proc/self/cwd"), "/");
    EXPECT_EQ(readlink("/proc/self/root"), "/");
    EXPECT_EQ(st("/proc/self/cwd/etc/hostname").st_ino, st("/etc/hostname").st_ino);
}

std::string padded(std::string head, const std::string& name) {
    head.resize(72, ' ');
    return head + " " + name + "\n";
}

TEST_F(ProcTest, MapsListsTheMappingsInLinuxFormat) {
    struct stat app = st("/bin/app");
    char text[128];
    snprintf(text, sizeof text, "00400000-00401000 r-xp 00000000 00:%02x %llu ",
             static_cast<unsigned>(app.st_dev), static_cast<unsigned long long>(app.st_ino));
    EXPECT_EQ(
        slurp("/proc/self/maps"),
        padded(text, "/bin/app") + padded("00402000-00404000 rw-p 00000000 00:00 0 ", "[heap]"));
    EXPECT_EQ(slurp("/proc/self/statm"), "3 3 1 1 0 2 0\n");
}

constexpr uint64_t kA = 0x10000000, kPage = 4096;
constexpr int kImage = 1, kAnon = 2, kHeap = 3;

TEST_F(ProcTest, MappingsMergeAndSplitLikeLinuxVmas) {
    shim::map(kA, 2 * kPage, kAnon, PROT_READ | PROT_WRITE);
    shim::map(kA + 2 * kPage, kPage, kAnon, PROT_READ | PROT_WRITE);
    EXPECT_EQ(maps_above(), (Names{"10000000-10003000 rw-p 00000000"}));
    shim::map_protect(kA + kPage, kPage, PROT_NONE);
    EXPECT_EQ(maps_above(),
              (Names{"10000000-10001000 rw-p 00000000", "10001000-10002000 ---p 00000000",
                     "10002000-10003000 rw-p 00000000"}));
    shim::map_protect(kA, 3 * kPage, PROT_READ | PROT_WRITE);
    EXPECT_EQ(maps_above(), (Names{"10000000-10003000 rw-p 00000000"}));
    // Another kind does not merge; a heap next to anonymous memory stays apart.
    shim::map(kA + 3 * kPage, kPage, kHeap, PROT_READ | PROT_WRITE);
    EXPECT_EQ(maps_above(),
              (Names{"10000000-10003000 rw-p 00000000", "10003000-10004000 rw-p 00000000 [heap]"}));
    // Program pages merge only where their file offsets continue.
    shim::map(kA + 8 * kPage, kPage, kImage, PROT_READ, false, -1, 0);
    shim::map(kA + 9 * kPage, kPage, kImage, PROT_READ, false, -1, 0);
    EXPECT_EQ(maps_above().size(), 4u);
    shim::map_clear(kA + kPage, kPage);
    EXPECT_EQ(maps_above()[0], "10000000-10001000 rw-p 00000000");
    EXPECT_EQ(maps_above()[1], "10002000-10003000 rw-p 00000000");
}

TEST_F(ProcTest, FileMappingsNameTheFileAndTheirOffset) {
    int64_t fd = open("/etc/hostname", O_RDONLY);
    shim::map(kA, 2 * kPage, 5, PROT_READ, false, static_cast<int>(fd), 3 * kPage);
    struct stat s = st("/etc/hostname");
    char want[128];
    snprintf(want, sizeof want, "10000000-10002000 r--p 00003000 00:%02x %llu",
             static_cast<unsigned>(s.st_dev), static_cast<unsigned long long>(s.st_ino));
    std::string maps = slurp("/proc/self/maps");
    size_t at = maps.find("10000000-");
    ASSERT_NE(at, std::string::npos) << maps;
    std::string line = maps.substr(at, maps.find('\n', at) - at);
    EXPECT_EQ(line, padded(std::string(want) + " ", "/etc/hostname").substr(0, line.size()));
    EXPECT_EQ(line.substr(73), "/etc/hostname");
    // Unmapping the middle keeps the tail's offset.
    shim::map_clear(kA, kPage);
    EXPECT_NE(slurp("/proc/self/maps").find("10001000-10002000 r--p 00004000"), std::string::npos);
}

TEST_F(ProcTest, MremapCarriesTheAttributesToTheNewPlace) {
    shim::map(kA, 2 * kPage, kAnon, PROT_READ);
    shim::map_move(kA + 16 * kPage, kA, 2 * kPage, 4 * kPage);
    shim::map_clear(kA, 2 * kPage);  // mm.cpp releases the old pages
    EXPECT_EQ(maps_above(), (Names{"10010000-10014000 r--p 00000000"}));
    shim::map_move(kA + 16 * kPage, kA + 16 * kPage, 4 * kPage, 6 * kPage);  // grown in place
    EXPECT_EQ(maps_above(), (Names{"10010000-10016000 r--p 00000000"}));
}

// Above the identity map the list decides what is mapped (mm_virt.cpp):
// mmap without a usable hint takes the highest gap that fits, mprotect
// needs the whole range mapped, MAP_FIXED_NOREPLACE any overlap.
TEST_F(ProcTest, GapsCoverageAndOverlapOfTheMappingList) {
    const uint64_t lo = kA + 0x100000, hi = kA + 0x200000;
    EXPECT_EQ(shim::map_find_gap(lo, hi, 16 * kPage), hi - 16 * kPage);
    shim::map(hi - 4 * kPage, 8 * kPage, kAnon, PROT_NONE);  // straddles hi
    EXPECT_EQ(shim::map_find_gap(lo, hi, 16 * kPage), hi - 20 * kPage);
    shim::map(hi - 30 * kPage, 10 * kPage, kAnon, PROT_NONE);
    // The 16 pages between the two, then below the lower one.
    EXPECT_EQ(shim::map_find_gap(lo, hi, 16 * kPage), hi - 20 * kPage);
    EXPECT_EQ(shim::map_find_gap(lo, hi, 17 * kPage), hi - 47 * kPage);
    EXPECT_EQ(shim::map_find_gap(lo, hi, 0x100000), 0u);  // bigger than any gap
    EXPECT_EQ(shim::map_find_gap(lo, lo + 4 * kPage, 4 * kPage), lo);
    EXPECT_EQ(shim::map_find_gap(hi - 25 * kPage, hi - 21 * kPage, 4 * kPage), 0u);

    EXPECT_TRUE(shim::map_any_in(hi - 31 * kPage, 2 * kPage));
    EXPECT_FALSE(shim::map_any_in(hi - 20 * kPage, 16 * kPage));
    EXPECT_TRUE(shim::map_covers(hi - 30 * kPage, 10 * kPage));
    EXPECT_FALSE(shim::map_covers(hi - 30 * kPage, 11 * kPage));
    shim::map(hi - 20 * kPage, 16 * kPage, kAnon, PROT_READ);  // fills the hole
    EXPECT_TRUE(shim::map_covers(hi - 30 * kPage, 34 * kPage));
    EXPECT_TRUE(shim::map_covers(hi, 0));
}

// Freeing pages must not allocate (mm.cpp's release() would hand out the
// pages it frees): splits use spare entries, and without them the list
// loses the remnant rather than showing freed memory.
TEST_F(ProcTest, UnmappingNeverAllocatesAndNeverShowsFreedMemory) {
    shim::map(kA, 64 * kPage, kAnon, PROT_READ | PROT_WRITE);
    const uint64_t allocs = shim::alloc_calls();
    for (uint64_t i = 1; i < 64; i += 2) shim::map_clear(kA + i * kPage, kPage);
    EXPECT_EQ(shim::alloc_calls(), allocs);
    Names left = maps_above();
    EXPECT_GE(left.size(), 8u);  // the spare entries' splits
    for (const std::string& l : left) {
        uint64_t lo = std::stoull(l.substr(0, 8), nullptr, 16);
        uint64_t hi = std::stoull(l.substr(9, 8), nullptr, 16);
        for (uint64_t p = lo; p < hi; p += kPage) EXPECT_EQ((p - kA) / kPage % 2, 0u) << l;
    }
    // With memory again, the next change makes room and the list is exact.
    shim::map_prepare();
    shim::map(kA, 64 * kPage, kAnon, PROT_READ);
    EXPECT_EQ(maps_above(), (Names{"10000000-10040000 r--p 00000000"}));
}

TEST_F(ProcTest, StatusAndStatCarryTheIdsTheStateAndTheThreads) {
    std::string status = slurp("/proc/self/status");
    for (const char* line :
         {"Name:\tapp\n", "State:\tR (running)\n", "Tgid:\t1\n", "Pid:\t1\n", "PPid:\t0\n",
          "Uid:\t0\t0\t0\t0\n", "Threads:\t1\n", "VmSize:\t      12 kB\n", "VmRSS:\t      12 kB\n",
          "VmExe:\t       4 kB\n", "Cpus_allowed_list:\t0\n"})
        EXPECT_NE(status.find(line), std::string::npos) << line << status;
    std::string stat = slurp("/proc/self/stat");
    EXPECT_EQ(stat.substr(0, 19), "1 (app) R 0 1 1 0 -");
    int fields = 0;
    for (size_t i = 0; i < stat.size(); i++) fields += stat[i] == ' ';
    EXPECT_EQ(fields + 1, 52) << stat;
    EXPECT_EQ(stat.back(), '\n');
    EXPECT_EQ(slurp("/proc/self/task/1/stat").substr(0, 19), stat.substr(0, 19));
    EXPECT_EQ(slurp("/proc/self/comm"), "app\n");
    // mountinfo's major:minor is each mount's st_dev.
    std::string mi = slurp("/proc/self/mountinfo");
    char sys[64];
    snprintf(sys, sizeof sys, "6 1 0:%u / /sys ", static_cast<unsigned>(st("/sys").st_dev));
    EXPECT_NE(mi.find(sys), std::string::npos) << mi;
}

TEST_F(ProcTest, FdDirectoryFollowsTheFdTable) {
    int fds[2];
    ASSERT_EQ(sys(SYS_pipe2, P(fds), 0), 0);
    struct stat ps;
    ASSERT_EQ(sys(SYS_fstat, static_cast<uint64_t>(fds[0]), P(&ps)), 0);
    const std::string pipe = "pipe:[" + std::to_string(ps.st_ino) + "]";
    std::string r = "/proc/self/fd/" + std::to_string(fds[0]);
    std::string w = "/proc/self/fd/" + std::to_string(fds[1]);
    EXPECT_EQ(readlink(r.c_str()), pipe);
    EXPECT_EQ(readlink(w.c_str()), pipe);
    EXPECT_EQ(st(r.c_str(), false).st_mode, static_cast<mode_t>(S_IFLNK | 0500));
    EXPECT_EQ(st(w.c_str(), false).st_mode, static_cast<mode_t>(S_IFLNK | 0300));
    // The listing is in fd order and includes the directory's own fd.
    Names fd = list("/proc/self/fd");
    EXPECT_EQ(fd, (Names{".", "..", "0", "1", "2", "3", "4", "5"}));

    int64_t file = open("/etc/hostname", O_RDONLY);
    std::string f = "/proc/self/fd/" + std::to_string(file);
    EXPECT_EQ(readlink(f.c_str()), "/etc/hostname");
    EXPECT_EQ(st(f.c_str()).st_ino, st("/etc/hostname").st_ino);
    int64_t memfd = sys(SYS_memfd_create, P("x"), 0);
    EXPECT_EQ(readlink(("/proc/self/fd/" + std::to_string(memfd)).c_str()), "/memfd: (deleted)");
    EXPECT_EQ(readlink("/proc/self/fd/0"), "/dev/console");
    EXPECT_EQ(readlink("/dev/fd"), "/proc/self/fd");
    EXPECT_EQ(readlink(("/dev/fd/" + std::to_string(fds[0])).c_str()), pipe);

    // Opening /proc/self/fd/N of a pipe reaches the same pipe.
    int64_t w2 = open(w.c_str(), O_WRONLY);
    ASSERT_GE(w2, 0);
    EXPECT_EQ(write(w2, "hi"), 2);
    char buf[4] = {};
    EXPECT_EQ(read(fds[0], buf, sizeof buf), 2);
    EXPECT_STREQ(buf, "hi");
    // A file opened anew through its link has its own offset.
    int64_t again = open(f.c_str(), O_RDONLY);
    EXPECT_EQ(read(again, buf, 3), 3);
    EXPECT_EQ(lseek(file, 0, SEEK_CUR), 0);

    close(fds[0]);
    EXPECT_EQ(readlink(r.c_str()), errno_text(-ENOENT));
    EXPECT_EQ(stat_err(r.c_str()), -ENOENT);
    close(memfd);  // (the listing's own fd takes the lowest free number, fds[0]'s)
    EXPECT_FALSE(has(list("/proc/self/fd"), std::to_string(memfd)));
}

TEST_F(ProcTest, ProcAndSysFilesAreReadOnly) {
    EXPECT_EQ(open("/proc/meminfo", O_WRONLY), -EACCES);
    EXPECT_EQ(open("/proc/self/status", O_RDWR), -EACCES);
    EXPECT_EQ(open("/sys/devices/system/cpu/online", O_RDONLY | O_TRUNC), -EACCES);
    EXPECT_EQ(sys(SYS_access, P("/proc/self/status"), W_OK), -EACCES);
    EXPECT_EQ(sys(SYS_access, P("/proc/self/status"), R_OK), 0);
    EXPECT_EQ(open("/proc/new", O_CREAT | O_WRONLY), -EROFS);
    EXPECT_EQ(sys(SYS_unlink, P("/proc/meminfo")), -EROFS);
    EXPECT_EQ(sys(SYS_mkdir, P("/sys/x"), 0755), -EROFS);
    EXPECT_EQ(sys(SYS_chmod, P("/proc/meminfo"), 0777), -EROFS);
    struct statfs sf;
    EXPECT_EQ(sys(SYS_statfs, P("/sys"), P(&sf)), 0);
    EXPECT_EQ(sf.f_type, 0x62656572);
    EXPECT_EQ(sys(SYS_statfs, P("/proc/self"), P(&sf)), 0);
    EXPECT_EQ(sf.f_type, 0x9fa0);
}

TEST_F(ProcTest, FilesReadLikeSeqFiles) {
    int64_t fd = open("/proc/self/status", O_RDONLY);
    struct stat s;
    ASSERT_EQ(sys(SYS_fstat, static_cast<uint64_t>(fd), P(&s)), 0);
    EXPECT_TRUE(S_ISREG(s.st_mode));
    EXPECT_EQ(s.st_size, 0);
    char a[16] = {}, b[16] = {};
    EXPECT_EQ(read(fd, a, 5), 5);
    EXPECT_STREQ(a, "Name:");
    EXPECT_EQ(read(fd, a, 4), 4);
    EXPECT_STREQ(a, "\tapp:");
    EXPECT_EQ(sys(SYS_pread64, static_cast<uint64_t>(fd), P(b), 5, 0), 5);
    EXPECT_STREQ(b, "Name:");
    EXPECT_EQ(lseek(fd, 0, SEEK_END), -EINVAL);
    EXPECT_EQ(lseek(fd, 1, SEEK_SET), 1);
    EXPECT_EQ(read(fd, b, 4), 4);
    EXPECT_EQ(std::string(b, 4), "ame:");
    uint8_t page[16];
    EXPECT_EQ(shim::pread_for_mmap(static_cast<int>(fd), page, sizeof page, 0), -ENODEV);
    close(fd);
}

TEST_F(ProcTest, SystemFilesDescribeOneCpuAndTheVmMemory) {
    EXPECT_EQ(slurp("/sys/devices/system/cpu/online"), "0\n");
    EXPECT_EQ(slurp("/sys/devices/system/cpu/possible"), "0\n");
    EXPECT_EQ(slurp("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"), "2097152\n");
    std::string meminfo = slurp("/proc/meminfo");
    EXPECT_EQ(meminfo.substr(0, 28), "MemTotal:        1048576 kB\n");  // the shim's 1 GiB
    EXPECT_NE(meminfo.find("\nMemFree:          262144 kB\n"), std::string::npos) << meminfo;
    std::string cpuinfo = slurp("/proc/cpuinfo");
    EXPECT_EQ(cpuinfo.substr(0, 14), "processor\t: 0\n");
    EXPECT_EQ(cpuinfo.find("processor", 1), std::string::npos);
    EXPECT_NE(cpuinfo.find("\nflags\t\t: fpu "), std::string::npos);
    std::string stat = slurp("/proc/stat");
    EXPECT_EQ(stat.substr(0, 5), "cpu  ");
    EXPECT_NE(stat.find("\ncpu0 "), std::string::npos);
    EXPECT_EQ(stat.find("\ncpu1 "), std::string::npos);
    EXPECT_EQ(slurp("/proc/sys/kernel/osrelease"), "6.1.0-ember\n");
    EXPECT_EQ(slurp("/proc/loadavg"), "0.00 0.00 0.00 1/1 1\n");
    std::string boot_id = slurp("/proc/sys/kernel/random/boot_id");
    EXPECT_EQ(boot_id.size(), 37u);
    EXPECT_EQ(slurp("/proc/sys/kernel/random/boot_id"), boot_id);
    EXPECT_NE(slurp("/proc/sys/kernel/random/uuid"), slurp("/proc/sys/kernel/random/uuid"));
}

TEST_F(ProcTest, OutOfMemoryFailsCleanlyAndRecovers) {
    for (int64_t n = 0; n < 40; n++) {
        Boot(DefaultArchive());
        shim::fail_allocs_after(n);
        std::string s = slurp("/proc/self/status");
        list("/proc/self/fd");
        readlink("/proc/self/fd/0");
        shim::fail_allocs_after(-1);
        EXPECT_TRUE(s.rfind("<", 0) == 0 || s.rfind("Name:\tapp\n", 0) == 0) << n << s;
        EXPECT_EQ(slurp("/proc/self/status").substr(0, 10), "Name:\tapp\n") << n;
        EXPECT_TRUE(has(list("/proc/self/fd"), "2")) << n;
    }
}

}  // namespace
}  // namespace fstest
