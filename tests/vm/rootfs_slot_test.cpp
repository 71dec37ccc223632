// The root filesystem's own memory slot: an archive larger than guest RAM
// is mapped from its file above RAM, never copied and never written by the
// kernel; where the slot goes (vmm/loader.h plan_rootfs_slot).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/cpio_writer.h"
#include "vmm/guest_memory.h"
#include "vmm/layout.h"
#include "vmm/loader.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

namespace ember {
namespace {

#define REQUIRE_KVM()                                                             \
    do {                                                                          \
        if (access("/dev/kvm", R_OK | W_OK) != 0)                                 \
            GTEST_SKIP() << "*** /dev/kvm is not available: VM test skipped ***"; \
    } while (0)

constexpr uint64_t kMiB = 1ull << 20;

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

uint64_t fnv1a(const std::vector<uint8_t>& d) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t c : d) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

TEST(RootfsSlot, SmallArchiveGoesRightAboveRam) {
    auto s = plan_rootfs_slot(64 * kMiB, 1 * kMiB);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(s->gpa, 64 * kMiB);
    EXPECT_EQ(s->end, 66 * kMiB);
}

TEST(RootfsSlot, ArchiveThatWouldCoverTheSyscallSlotsGoesAboveThem) {
    auto s = plan_rootfs_slot(64 * kMiB, 100 * kMiB + 5);
    ASSERT_TRUE(s.is_ok()) << s.message();
    EXPECT_EQ(s->gpa, EMBER_ROOTFS_ABOVE_SLOTS);
    EXPECT_FALSE(overlaps_syscall_slots(s->gpa, s->end));
    EXPECT_EQ(s->end, EMBER_ROOTFS_ABOVE_SLOTS + 102 * kMiB);
    // RAM that already holds the slots' addresses: right above it.
    auto big = plan_rootfs_slot(256 * kMiB, 100 * kMiB);
    ASSERT_TRUE(big.is_ok());
    EXPECT_EQ(big->gpa, 256 * kMiB);
}

TEST(RootfsSlot, EmptyArchiveTakesNoSlot) {
    auto s = plan_rootfs_slot(64 * kMiB, 0);
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(s->gpa, 64 * kMiB);
    EXPECT_EQ(s->end, 64 * kMiB);
}

TEST(RootfsSlot, RamPlusArchiveBeyondTheIdentityMapIsAClearError) {
    auto s = plan_rootfs_slot(EMBER_MEM_MAX - 2 * kMiB, 2 * kMiB + 1);
    ASSERT_FALSE(s.is_ok());
    EXPECT_NE(s.message().find("exceed"), std::string::npos) << s.message();
    EXPECT_TRUE(plan_rootfs_slot(EMBER_MEM_MAX - 2 * kMiB, 2 * kMiB).is_ok());
    EXPECT_FALSE(plan_rootfs_slot(EMBER_MEM_MAX, 1).is_ok());
}

// A 96 MiB file in a 16 MiB guest: the archive is mapped from its host file
// above RAM; the guest reads all of it, and afterwards no page of the slot
// was written (the kernel reads the archive in place, never into it).
TEST(RootfsSlot, ArchiveLargerThanRamIsMappedFromItsFileAndNeverWritten) {
    REQUIRE_KVM();
    std::vector<uint8_t> big(96 * kMiB);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < big.size(); i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::memcpy(&big[i], &x, 8);
    }
    VmConfig cfg;
    cfg.mem_size = 16 * kMiB;
    cfg.program = read_all(std::string(EMBER_EXAMPLES_GCC_DIR) + "/files");
    ASSERT_FALSE(cfg.program.empty());
    cfg.guest_path = "/bin/app";
    cfg.argv = {"app", "/big.bin"};
    cpio::Writer w;
    ASSERT_TRUE(w.add_dir("tmp", 01777));
    ASSERT_TRUE(w.add_file("bin/app", cfg.program, 0755));
    ASSERT_TRUE(w.add_file("big.bin", big, 0644));
    const std::vector<uint8_t> archive = w.finish();
    const std::string path =
        testing::TempDir() + "/ember_rootfs_slot_" + std::to_string(getpid()) + ".cpio";
    {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(archive.data()),
                static_cast<std::streamsize>(archive.size()));
    }
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    unlink(path.c_str());
    cfg.rootfs_fd = fd;
    std::string out;
    cfg.console = [&out](int, const char* d, size_t n) { out.append(d, n); };
    auto vm = Vm::boot(std::move(cfg));
    close(fd);
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    const RunReport r = (*vm)->run();
    ASSERT_EQ(r.outcome, Outcome::kExited) << r.message << out;
    EXPECT_EQ(r.exit_status, 0) << out;
    char want[128];
    std::snprintf(want, sizeof want, "file /big.bin: size=%zu fnv1a=%016llx\n", big.size(),
                  static_cast<unsigned long long>(fnv1a(big)));
    EXPECT_NE(out.find(want), std::string::npos) << out;

    const auto [base, len] = (*vm)->guest_memory_range();
    ember_boot_info b;
    std::memcpy(&b, static_cast<const uint8_t*>(base) + EMBER_GPA_BOOT_INFO, sizeof b);
    EXPECT_EQ(b.ram_size, 16 * kMiB);
    EXPECT_EQ(b.rootfs_size, archive.size());
    EXPECT_GE(b.rootfs_gpa, b.ram_size);
    EXPECT_EQ(b.mem_size, len);
    EXPECT_GE(len, b.rootfs_gpa + b.rootfs_size);
    GuestMemory view =
        GuestMemory::wrap(const_cast<uint8_t*>(static_cast<const uint8_t*>(base)), len);
    std::vector<GuestMemory::PageState> states;
    ASSERT_TRUE(view.page_states(&states).ok());
    uint64_t copied = 0, file = 0;
    for (uint64_t p = b.rootfs_gpa / EMBER_PAGE_SIZE;
         p < (b.rootfs_gpa + b.rootfs_size) / EMBER_PAGE_SIZE; ++p) {
        copied += states[p] == GuestMemory::PageState::kCopied;
        file += states[p] == GuestMemory::PageState::kFile;
    }
    EXPECT_EQ(copied, 0u) << "pages of the root filesystem's slot were written";
    EXPECT_GT(file, 0u);
}

// A snapshot of a VM whose archive is a named file refers to it: the
// archive's pages are not in the snapshot, restored instances read them
// from the file, and a reused VM reset to the snapshot reads them again.
TEST(RootfsSlot, SnapshotReferringToTheArchiveRestoresAndResets) {
    REQUIRE_KVM();
    std::vector<uint8_t> big(8 * kMiB);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
    const std::string dir = testing::TempDir() + "/ember_rootfs_ref_" + std::to_string(getpid());
    ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
    {
        std::ofstream f(dir + "/big.bin", std::ios::binary);
        f.write(reinterpret_cast<const char*>(big.data()),
                static_cast<std::streamsize>(big.size()));
    }
    std::string want;
    if (FILE* p = popen(("md5sum " + dir + "/big.bin").c_str(), "r")) {
        char line[128] = {};
        if (fgets(line, sizeof line, p)) want = std::string(line, 32) + "  /big.bin\n";
        pclose(p);
    }
    ASSERT_EQ(want.size(), 43u);

    VmConfig cfg;
    cfg.program = read_all("/bin/busybox");
    ASSERT_FALSE(cfg.program.empty());
    cfg.guest_path = "/bin/busybox";
    cfg.argv = {"busybox", "sh", "-c", "while read x; do md5sum /big.bin; done"};
    cpio::Writer w;
    ASSERT_TRUE(w.add_file("bin/busybox", cfg.program, 0755));
    ASSERT_TRUE(w.add_file("big.bin", big, 0644));
    const std::vector<uint8_t> archive = w.finish();
    const std::string apath = dir + "/rootfs.cpio", spath = dir + "/s.snap";
    {
        std::ofstream f(apath, std::ios::binary);
        f.write(reinterpret_cast<const char*>(archive.data()),
                static_cast<std::streamsize>(archive.size()));
    }
    const int fd = open(apath.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    cfg.rootfs_fd = fd;
    cfg.rootfs_path = apath;
    cfg.snapshot_out = spath;
    cfg.console = [](int, const char*, size_t) {};
    auto made = run_vm(std::move(cfg));
    close(fd);
    ASSERT_TRUE(made.is_ok()) << made.message();
    ASSERT_EQ(made->outcome, Outcome::kSnapshotted) << made->message;

    auto snap = snapshot::Snapshot::open(spath);
    ASSERT_TRUE(snap.is_ok()) << snap.message();
    EXPECT_EQ((*snap)->rootfs().path, apath);
    EXPECT_EQ((*snap)->rootfs().size, archive.size());
    EXPECT_LT((*snap)->pages_present() * EMBER_PAGE_SIZE, 4 * kMiB);

    std::string out;
    auto runtime = [&out](const std::string& input) {
        VmConfig c;
        c.reusable = true;
        int p[2];
        EXPECT_EQ(pipe(p), 0);
        EXPECT_EQ(write(p[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
        close(p[1]);
        c.stdin_fd = p[0];
        c.timeout_ns = 30'000'000'000ull;
        out.clear();
        c.console = [&out](int f, const char* d, size_t n) {
            if (f == 1) out.append(d, n);
        };
        return c;
    };
    auto vm = Vm::restore(*snap, runtime("a\n"));
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    RunReport r = (*vm)->run();
    EXPECT_EQ(r.outcome, Outcome::kExited) << r.message;
    EXPECT_EQ(out, want);
    ASSERT_TRUE((*vm)->reset(runtime("b\nc\n")).is_ok());
    r = (*vm)->run();
    EXPECT_EQ(r.outcome, Outcome::kExited) << r.message;
    EXPECT_EQ(out, want + want);
    ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

}  // namespace
}  // namespace ember
