// Snapshots through the VMM's library API: capture an initialised instance
// once, restore it many times, and refuse damaged snapshot files.
#include "vmm/snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vmm/cpio_writer.h"
#include "vmm/vm.h"

namespace ember {
namespace {

bool have_kvm() { return access("/dev/kvm", R_OK | W_OK) == 0; }
#define REQUIRE_KVM()                                                                          \
    do {                                                                                       \
        if (!have_kvm()) GTEST_SKIP() << "*** /dev/kvm is not available: VM test skipped ***"; \
    } while (0)

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

std::string temp_path(const std::string& name) {
    return testing::TempDir() + "/ember_" + std::to_string(getpid()) + "_" + name;
}

// Boots `program` until READY and writes its snapshot to `path`.
// Returns the console output of the boot.
std::string make_snapshot(const std::string& program, const std::string& path,
                          uint64_t mem_size = VmConfig{}.mem_size) {
    VmConfig cfg;
    cfg.mem_size = mem_size;
    cfg.program = read_all(program);
    EXPECT_FALSE(cfg.program.empty()) << program;
    cfg.guest_path = "/bin/app";
    cfg.argv = {"app"};
    cpio::Writer w;
    EXPECT_TRUE(w.add_dir("tmp", 01777));
    EXPECT_TRUE(w.add_file("bin/app", cfg.program, 0755));
    cfg.rootfs = w.finish();
    cfg.snapshot_out = path;
    std::string out;
    cfg.console = [&out](int, const char* d, size_t n) { out.append(d, n); };
    auto r = run_vm(std::move(cfg));
    EXPECT_TRUE(r.is_ok()) << (r.is_ok() ? "" : r.message());
    if (r.is_ok()) {
        EXPECT_EQ(r->outcome, Outcome::kSnapshotted) << r->message;
    }
    return out;
}

// A pipe whose read end is the instance's stdin, already holding `input`
// and closed for writing (so the instance sees EOF after it).
int input_fd(const std::string& input) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    EXPECT_EQ(write(p[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    close(p[1]);
    return p[0];
}

struct RunOutput {
    RunReport result;
    std::string out;
};

RunOutput restore_and_run(std::shared_ptr<const snapshot::Snapshot> snap,
                          const std::string& input) {
    RunOutput ro;
    VmConfig cfg;
    cfg.stdin_fd = input_fd(input);
    cfg.timeout_ns = 30ull * 1000000000;
    cfg.console = [&ro](int fd, const char* d, size_t n) {
        if (fd == 1) ro.out.append(d, n);
    };
    auto vm = Vm::restore(std::move(snap), std::move(cfg));
    EXPECT_TRUE(vm.is_ok()) << (vm.is_ok() ? "" : vm.message());
    if (vm.is_ok()) ro.result = (*vm)->run();
    return ro;
}

std::map<std::string, std::string> fields(const std::string& line) {
    std::map<std::string, std::string> m;
    std::istringstream in(line);
    std::string kv;
    while (in >> kv) {
        auto eq = kv.find('=');
        if (eq != std::string::npos) m[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return m;
}

class SnapshotTest : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        REQUIRE_KVM();
        program_ = std::string(GetParam()) + "/kvstore";
        path_ = temp_path(std::string(strstr(GetParam(), "musl") ? "musl" : "gcc") + ".snap");
        boot_output_ = make_snapshot(program_, path_);
        auto s = snapshot::Snapshot::open(path_);
        ASSERT_TRUE(s.is_ok()) << s.message();
        snap_ = *s;
    }
    void TearDown() override {
        if (!path_.empty()) unlink(path_.c_str());
    }
    std::string program_, path_, boot_output_;
    std::shared_ptr<const snapshot::Snapshot> snap_;
};

TEST_P(SnapshotTest, RestoredInstancesAnswerWithoutInitialisingAgain) {
    for (unsigned k : {1u, 7u, 123456u, 1048575u}) {
        RunOutput r = restore_and_run(snap_, "get " + std::to_string(k) + "\ninfo\n");
        EXPECT_EQ(r.result.outcome, Outcome::kExited) << r.result.message;
        EXPECT_EQ(r.result.exit_status, 0);
        const unsigned expect = k * 2654435761u;
        // served counts requests since start: 2 means nothing ran twice, and
        // inits=1 means the table was built once, before the snapshot.
        EXPECT_EQ(r.out, std::to_string(k) + "=" + std::to_string(expect) + "\nserved=2 inits=1\n");
    }
}

// The VM worker's path: a snapshot written into a file it was handed (which
// may hold an earlier attempt's bytes) and opened from the fd.
TEST_P(SnapshotTest, WrittenIntoAnOpenFileThatHeldOtherDataAndOpenedFromTheFd) {
    const std::string path = path_ + ".fd";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::vector<uint8_t> junk(16 << 20, 0xAB);
    ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    VmConfig cfg;
    cfg.program = read_all(program_);
    cfg.guest_path = "/bin/app";
    cfg.argv = {"app"};
    cpio::Writer w;
    ASSERT_TRUE(w.add_dir("tmp", 01777));
    ASSERT_TRUE(w.add_file("bin/app", cfg.program, 0755));
    cfg.rootfs = w.finish();
    cfg.snapshot_out_fd = fd;
    cfg.console = [](int, const char*, size_t) {};
    auto r = run_vm(std::move(cfg));
    ASSERT_TRUE(r.is_ok()) << r.message();
    EXPECT_EQ(r->outcome, Outcome::kSnapshotted) << r->message;
    // Nothing of the old content is left in what became holes.
    std::vector<uint8_t> page(4096);
    for (off_t off = 0; off < static_cast<off_t>(junk.size()); off += 4096) {
        ASSERT_EQ(::pread(fd, page.data(), page.size(), off), 4096);
        ASSERT_FALSE(std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0xAB; }))
            << "stale page at " << off;
    }
    auto s = snapshot::Snapshot::open_fd(::dup(fd), "fd");
    ::close(fd);
    ::unlink(path.c_str());
    ASSERT_TRUE(s.is_ok()) << s.message();
    RunOutput out = restore_and_run(*s, "get 7\ninfo\n");
    EXPECT_EQ(out.result.outcome, Outcome::kExited) << out.result.message;
    EXPECT_EQ(out.out, "7=" + std::to_string(7u * 2654435761u) + "\nserved=2 inits=1\n");
}

TEST_P(SnapshotTest, SnapshotIsSparse) {
    struct stat st;
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    // 64 MiB of guest memory; the 4 MiB table and the rest of the working
    // set are stored, untouched pages are holes.
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 16ull << 20);
    EXPECT_GT(snap_->pages_present(), 1024u);  // the table alone is 1024 pages
}

TEST_P(SnapshotTest, HundredInstancesDoNotSeeEachOthersWrites) {
    const std::vector<uint8_t> before = read_all(path_);
    constexpr int kInstances = 100;
    std::vector<std::unique_ptr<Vm>> vms;
    std::vector<std::string> outs(kInstances);
    // All instances exist at once; each writes its own value at key 42
    // (and 5000 other keys, dirtying many pages), then reads key 42 back.
    for (int i = 0; i < kInstances; ++i) {
        std::string input;
        for (int k = 0; k < 5000; k += 50)
            input += "set " + std::to_string(k * 200) + " " + std::to_string(i) + "\n";
        input += "set 42 " + std::to_string(1000 + i) + "\nget 42\n";
        VmConfig cfg;
        cfg.stdin_fd = input_fd(input);
        cfg.timeout_ns = 60ull * 1000000000;
        cfg.console = [&outs, i](int fd, const char* d, size_t n) {
            if (fd == 1) outs[i].append(d, n);
        };
        auto vm = Vm::restore(snap_, std::move(cfg));
        ASSERT_TRUE(vm.is_ok()) << vm.message();
        vms.push_back(std::move(*vm));
    }
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    std::vector<RunReport> results(kInstances);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i; (i = next++) < kInstances;) results[i] = vms[i]->run();
        });
    for (auto& t : threads) t.join();
    for (int i = 0; i < kInstances; ++i) {
        EXPECT_EQ(results[i].outcome, Outcome::kExited) << i << ": " << results[i].message;
        const std::string want = "42=" + std::to_string(1000 + i) + "\n";
        ASSERT_GE(outs[i].size(), want.size()) << i;
        EXPECT_EQ(outs[i].substr(outs[i].size() - want.size()), want) << i;
    }
    vms.clear();
    EXPECT_TRUE(read_all(path_) == before) << "the snapshot file changed";
    // And a fresh restore still sees the original table.
    RunOutput r = restore_and_run(snap_, "get 42\n");
    EXPECT_EQ(r.out, "42=" + std::to_string(42u * 2654435761u) + "\n");
}

TEST_P(SnapshotTest, ResetVmStartsFromTheSnapshotAgain) {
    VmConfig cfg;
    cfg.reusable = true;
    cfg.stdin_fd = input_fd("set 42 4242\nget 42\nentropy\n");
    std::string out;
    cfg.console = [&out](int fd, const char* d, size_t n) {
        if (fd == 1) out.append(d, n);
    };
    auto vm = Vm::restore(snap_, std::move(cfg));
    ASSERT_TRUE(vm.is_ok()) << vm.message();
    ASSERT_EQ((*vm)->run().outcome, Outcome::kExited);
    ASSERT_NE(out.find("42=4242\n"), std::string::npos) << out;
    std::set<std::string> randoms;
    randoms.insert(fields(out.substr(out.find("random="))).at("random"));
    for (int round = 0; round < 5; ++round) {
        VmConfig again;
        again.reusable = true;
        // The previous instance's write must be gone, its request count too.
        again.stdin_fd = input_fd("get 42\ninfo\nentropy\nset 42 7\n");
        std::string o;
        again.console = [&o](int fd, const char* d, size_t n) {
            if (fd == 1) o.append(d, n);
        };
        ASSERT_TRUE((*vm)->reset(std::move(again)).is_ok());
        RunReport r = (*vm)->run();
        EXPECT_EQ(r.outcome, Outcome::kExited) << r.message;
        EXPECT_EQ(o.substr(0, o.find("random=")),
                  "42=" + std::to_string(42u * 2654435761u) + "\nserved=2 inits=1\n")
            << o;
        randoms.insert(fields(o.substr(o.find("random="))).at("random"));
    }
    EXPECT_EQ(randoms.size(), 6u) << "every instance needs its own entropy";
}

TEST_P(SnapshotTest, ResetOfAVmThatWasNotMadeReusableIsRefused) {
    VmConfig cfg;
    cfg.stdin_fd = input_fd("");
    cfg.console = [](int, const char*, size_t) {};
    auto vm = Vm::restore(snap_, std::move(cfg));
    ASSERT_TRUE(vm.is_ok());
    (*vm)->run();
    EXPECT_FALSE((*vm)->reset(VmConfig{}).is_ok());
}

TEST_P(SnapshotTest, InstancesGetFreshEntropy) {
    RunOutput a = restore_and_run(snap_, "entropy\n");
    RunOutput b = restore_and_run(snap_, "entropy\n");
    auto fa = fields(a.out), fb = fields(b.out);
    ASSERT_EQ(fa.count("random"), 1u) << a.out;
    ASSERT_EQ(fb.count("random"), 1u) << b.out;
    EXPECT_EQ(fa["random"].size(), 32u);
    EXPECT_NE(fa["random"], fb["random"]);
    EXPECT_NE(fa["at_random"], fb["at_random"]);
}

TEST_P(SnapshotTest, ClocksAreCorrectAfterRestore) {
    // The boot printed the guest's monotonic clock at initialisation.
    const auto pos = boot_output_.find("monotonic=");
    ASSERT_NE(pos, std::string::npos) << boot_output_;
    (void)pos;
    sleep(1);
    timespec host_wall;
    clock_gettime(CLOCK_REALTIME, &host_wall);
    RunOutput r = restore_and_run(snap_, "entropy\n");
    auto f = fields(r.out);
    ASSERT_EQ(f.count("realtime"), 1u) << r.out;
    const long long guest_wall = std::stoll(f["realtime"]);
    const long long host_ns = host_wall.tv_sec * 1000000000LL + host_wall.tv_nsec;
    // The instance knows the time now, not the time of the snapshot.
    EXPECT_GE(guest_wall, host_ns - 50000000LL);
    EXPECT_LE(guest_wall, host_ns + 5000000000LL);
    // Monotonic time did not go back: it is past the snapshot time + 1 s.
    EXPECT_GT(std::stoll(f["monotonic"]), snap_->vmm().guest_mono_ns + 900000000LL);
}

// A program with page tables of its own (memory above guest RAM), at guest
// memory sizes that move the kernel's tables between odd and even pages:
// every snapshot keeps its page-table root at an odd page (this PVM host
// runs a VMM-loaded CR3 with bit 12 clear as guest supervisor code,
// emulated, until the first SSE instruction ends the VM), and every restore
// runs the program's SSE code over the region it filled before READY.
TEST_P(SnapshotTest, OwnPageTablesSurviveRestoreAtEveryMemorySize) {
    const std::string program = std::string(GetParam()) + "/vmem_ready";
    for (uint64_t mb = 64; mb <= 78; mb += 2) {
        SCOPED_TRACE(std::to_string(mb) + "M");
        const std::string path = temp_path("vmem" + std::to_string(mb) + ".snap");
        make_snapshot(program, path, mb << 20);
        auto s = snapshot::Snapshot::open(path);
        unlink(path.c_str());
        ASSERT_TRUE(s.is_ok()) << s.message();
        EXPECT_NE((*s)->vcpu().sregs.cr3 & 0x1000, 0u) << std::hex << (*s)->vcpu().sregs.cr3;
        const RunOutput ro = restore_and_run(*s, "a\nb\n");
        EXPECT_EQ(ro.result.outcome, Outcome::kExited) << ro.result.message;
        // 262144 words of i % 1000, summed.
        EXPECT_EQ(ro.out, "sum=130879296 line=a\nsum=130879296 line=b\n");
    }
}

INSTANTIATE_TEST_SUITE_P(Libc, SnapshotTest,
                         ::testing::Values(EMBER_EXAMPLES_GCC_DIR, EMBER_EXAMPLES_MUSL_DIR),
                         [](const auto& info) {
                             return std::string(strstr(info.param, "musl") ? "musl" : "glibc");
                         });

// ---- damaged snapshot files ------------------------------------------------

class DamagedSnapshotTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!have_kvm()) return;
        good_path_ = new std::string(temp_path("good.snap"));
        make_snapshot(std::string(EMBER_EXAMPLES_GCC_DIR) + "/kvstore", *good_path_);
        good_ = new std::vector<uint8_t>(read_all(*good_path_));
    }
    static void TearDownTestSuite() {
        if (good_path_) unlink(good_path_->c_str());
        delete good_path_;
        delete good_;
        good_path_ = nullptr;
        good_ = nullptr;
    }
    void SetUp() override {
        REQUIRE_KVM();
        ASSERT_TRUE(good_ && good_->size() > 8192);
        path_ = temp_path("bad.snap");
    }
    void TearDown() override { unlink(path_.c_str()); }

    // Writes a copy of the good snapshot changed by `edit`, opens it, and
    // returns the error message ("" if it opened).
    std::string open_edited(const std::function<void(std::vector<uint8_t>&)>& edit) {
        std::vector<uint8_t> bytes = *good_;
        edit(bytes);
        std::ofstream(path_, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        auto s = snapshot::Snapshot::open(path_);
        return s.is_ok() ? "" : s.message();
    }
    // Header fields are at fixed offsets (see snapshot.h): magic 0, version 8.
    static void rewrite_header_crc(std::vector<uint8_t>& b) {
        // Header: magic(8) version abi arch (12) features (8+20) 6*u64 (48) 2*u32 (8) = 104.
        const size_t n = 104;
        const uint32_t crc = snapshot::crc32c(0, b.data(), n);
        std::memcpy(b.data() + n, &crc, 4);
    }
    // The state section (snapshot.cpp): regs (18 u64), sregs (8 segments of
    // 23 bytes, GDTR and IDTR of 10, 7 u64), XSAVE (4096), XCR0, 6 debug
    // registers, then the MSR count and {u32 index, u64 value} entries.
    static size_t first_msr_offset() { return 4096 + 144 + 260 + 4096 + 8 + 48 + 4; }
    static void rewrite_state_crc(std::vector<uint8_t>& b) {
        uint64_t state_size;
        std::memcpy(&state_size, b.data() + 72, 8);
        const uint32_t crc = snapshot::crc32c(0, b.data() + 4096, state_size);
        std::memcpy(b.data() + 96, &crc, 4);
        rewrite_header_crc(b);
    }
    static uint64_t mem_offset() {
        uint64_t v;
        std::memcpy(&v, good_->data() + 8 + 12 + 28 + 32, 8);
        return v;
    }

    static std::string* good_path_;
    static std::vector<uint8_t>* good_;
    std::string path_;
};
std::string* DamagedSnapshotTest::good_path_ = nullptr;
std::vector<uint8_t>* DamagedSnapshotTest::good_ = nullptr;

TEST_F(DamagedSnapshotTest, IntactCopyOpens) {
    EXPECT_EQ(open_edited([](auto&) {}), "");
}

TEST_F(DamagedSnapshotTest, EmptyFileIsTruncated) {
    EXPECT_NE(open_edited([](auto& b) { b.clear(); }).find("truncated"), std::string::npos);
}

TEST_F(DamagedSnapshotTest, TruncatedMemoryIsTruncated) {
    const std::string e = open_edited([](auto& b) { b.resize(b.size() - 4096 * 3); });
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, WrongMagicIsNotASnapshot) {
    EXPECT_NE(open_edited([](auto& b) { b[0] = 'X'; }).find("bad magic"), std::string::npos);
}

TEST_F(DamagedSnapshotTest, FutureFormatVersionIsUnsupported) {
    const std::string e = open_edited([](auto& b) {
        const uint32_t v = 99;
        std::memcpy(b.data() + 8, &v, 4);
        rewrite_header_crc(b);
    });
    EXPECT_NE(e.find("unsupported format version 99"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, FormatVersionOneIsRefusedWithAClearMessage) {
    const std::string e = open_edited([](auto& b) {
        const uint32_t v = 1;
        std::memcpy(b.data() + 8, &v, 4);
        rewrite_header_crc(b);
    });
    EXPECT_NE(e.find("format version 1 is no longer read"), std::string::npos) << e;
    EXPECT_NE(e.find("make the snapshot again"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, MsrOutsideTheAllowlistIsCorrupt) {
    // The PVM control MSR: the VMM sets it itself; a snapshot that carried
    // it could turn native mode off for every instance.
    for (uint32_t idx : {0x4b564d10u, 0x10u /* TSC */, 0xc0000080u /* EFER */, 0x12345678u}) {
        const std::string e = open_edited([idx](auto& b) {
            std::memcpy(b.data() + first_msr_offset(), &idx, 4);
            rewrite_state_crc(b);
        });
        EXPECT_NE(e.find("is not a guest-writable MSR"), std::string::npos) << std::hex << idx << e;
    }
}

TEST_F(DamagedSnapshotTest, MsrSavedTwiceIsCorrupt) {
    const std::string e = open_edited([](auto& b) {
        std::memcpy(b.data() + first_msr_offset() + 12, b.data() + first_msr_offset(), 4);
        rewrite_state_crc(b);
    });
    EXPECT_NE(e.find("saved twice"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, FlippedHeaderByteFailsTheHeaderChecksum) {
    const std::string e = open_edited([](auto& b) { b[40] ^= 1; });
    EXPECT_NE(e.find("header checksum"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, UnknownCpuFeatureIsRefused) {
    const std::string e = open_edited([](auto& b) {
        uint64_t xcr0;
        std::memcpy(&xcr0, b.data() + 20, 8);
        xcr0 |= 1ull << 62;  // a state component no CPU has
        std::memcpy(b.data() + 20, &xcr0, 8);
        rewrite_header_crc(b);
    });
    EXPECT_NE(e.find("needs CPU features"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, FlippedStateByteFailsTheStateChecksum) {
    const std::string e = open_edited([](auto& b) { b[4096 + 10] ^= 0x40; });
    EXPECT_NE(e.find("state checksum"), std::string::npos) << e;
}

TEST_F(DamagedSnapshotTest, FlippedMemoryByteFailsTheMemoryChecksum) {
    const uint64_t off = mem_offset() + 0x100000 + 64;  // inside the kernel image
    const std::string e = open_edited([off](auto& b) { b[off] ^= 0x01; });
    EXPECT_NE(e.find("memory checksum"), std::string::npos) << e;
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {

// The first process exec's the program that is snapshotted (as a container
// entry point `/bin/sh -c "exec app"` does): its AT_RANDOM bytes, on the
// exec'd program's own stack, get new values in every restored instance,
// and the first program's old stack address is not written.
TEST(SnapshotExecTest, ExecdProgramGetsFreshAtRandomBytes) {
    REQUIRE_KVM();
    const std::string busybox = "/bin/busybox";
    if (access(busybox.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << busybox;
    const std::string path = temp_path("exec.snap");
    VmConfig cfg;
    cfg.program = read_all(busybox);
    cfg.guest_path = "/bin/sh";
    cfg.argv = {"sh", "-c", "exec /bin/kvstore"};
    cpio::Writer w;
    EXPECT_TRUE(w.add_dir("tmp", 01777));
    EXPECT_TRUE(w.add_file("bin/sh", cfg.program, 0755));
    EXPECT_TRUE(w.add_file("bin/kvstore",
                           read_all(std::string(EMBER_EXAMPLES_GCC_DIR) + "/kvstore"), 0755));
    cfg.rootfs = w.finish();
    cfg.snapshot_out = path;
    cfg.console = [](int, const char*, size_t) {};
    auto r = run_vm(std::move(cfg));
    ASSERT_TRUE(r.is_ok()) << r.message();
    ASSERT_EQ(r->outcome, Outcome::kSnapshotted) << r->message;
    auto snap = snapshot::Snapshot::open(path);
    ASSERT_TRUE(snap.is_ok()) << snap.message();
    RunOutput a = restore_and_run(*snap, "entropy\nget 1\n");
    RunOutput b = restore_and_run(*snap, "entropy\nget 1\n");
    unlink(path.c_str());
    auto fa = fields(a.out), fb = fields(b.out);
    ASSERT_EQ(fa.count("at_random"), 1u) << a.out;
    ASSERT_EQ(fb.count("at_random"), 1u) << b.out;
    EXPECT_NE(fa["at_random"], fb["at_random"]);
    EXPECT_EQ(a.result.outcome, Outcome::kExited) << a.result.message;
    EXPECT_NE(a.out.find("1=" + std::to_string(1u * 2654435761u) + "\n"), std::string::npos)
        << a.out;
}

}  // namespace
}  // namespace ember
