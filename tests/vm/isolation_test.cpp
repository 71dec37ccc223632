// Per-request isolation: an instance that plants state of every kind a guest
// can write (memory, segment bases, vector registers, debug and control
// registers, MSRs; examples/plant_state.c, which reaches CPL 0 as any
// application can) leaves none of it to the next instance, whether that
// instance runs in the reset VM or in a new VM restored from the snapshot.
// Checked twice: by what the next instance reports, and by the vCPU state
// the VMM reads back, which must equal the snapshot's register for register.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "vmm/cpio_writer.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

namespace ember {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

int input_fd(const std::string& input) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    EXPECT_EQ(write(p[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    close(p[1]);
    return p[0];
}

std::string hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
    return b;
}

// Every register of `got` that differs from `want`, by name ("" if none).
// The TSC is not compared: every instance gets the host's.
std::string differences(const snapshot::VcpuState& want, const snapshot::VcpuState& got) {
    std::string out;
    auto cmp = [&out](const std::string& name, uint64_t w, uint64_t g) {
        if (w != g) out += name + ": " + hex(g) + " (want " + hex(w) + ")\n";
    };
    const char* gpr[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8",
                         "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
    const auto* wr = reinterpret_cast<const uint64_t*>(&want.regs);
    const auto* gr = reinterpret_cast<const uint64_t*>(&got.regs);
    for (int i = 0; i < 18; ++i) cmp(gpr[i], wr[i], gr[i]);
    const std::pair<const char*, const kvm_segment kvm_sregs::*> segs[] = {
        {"cs", &kvm_sregs::cs}, {"ds", &kvm_sregs::ds},  {"es", &kvm_sregs::es},
        {"fs", &kvm_sregs::fs}, {"gs", &kvm_sregs::gs},  {"ss", &kvm_sregs::ss},
        {"tr", &kvm_sregs::tr}, {"ldt", &kvm_sregs::ldt}};
    for (const auto& [name, m] : segs) {
        const kvm_segment &w = want.sregs.*m, &g = got.sregs.*m;
        const std::string n = name;
        cmp(n + ".base", w.base, g.base);
        cmp(n + ".limit", w.limit, g.limit);
        cmp(n + ".selector", w.selector, g.selector);
        cmp(n + ".attributes",
            uint64_t{w.type} | uint64_t{w.present} << 8 | uint64_t{w.dpl} << 16 |
                uint64_t{w.db} << 24 | uint64_t{w.s} << 32 | uint64_t{w.l} << 40 |
                uint64_t{w.g} << 48 | uint64_t{w.avl} << 56,
            uint64_t{g.type} | uint64_t{g.present} << 8 | uint64_t{g.dpl} << 16 |
                uint64_t{g.db} << 24 | uint64_t{g.s} << 32 | uint64_t{g.l} << 40 |
                uint64_t{g.g} << 48 | uint64_t{g.avl} << 56);
        cmp(n + ".unusable", w.unusable, g.unusable);
    }
    cmp("gdtr.base", want.sregs.gdt.base, got.sregs.gdt.base);
    cmp("gdtr.limit", want.sregs.gdt.limit, got.sregs.gdt.limit);
    cmp("idtr.base", want.sregs.idt.base, got.sregs.idt.base);
    cmp("idtr.limit", want.sregs.idt.limit, got.sregs.idt.limit);
    cmp("cr0", want.sregs.cr0, got.sregs.cr0);
    cmp("cr2", want.sregs.cr2, got.sregs.cr2);
    cmp("cr3", want.sregs.cr3, got.sregs.cr3);
    cmp("cr4", want.sregs.cr4, got.sregs.cr4);
    cmp("cr8", want.sregs.cr8, got.sregs.cr8);
    cmp("efer", want.sregs.efer, got.sregs.efer);
    cmp("apic_base", want.sregs.apic_base, got.sregs.apic_base);
    cmp("xcr0", want.xcr0, got.xcr0);
    for (size_t i = 0; i < sizeof want.xsave; i += 8) {
        uint64_t w, g;
        std::memcpy(&w, reinterpret_cast<const uint8_t*>(&want.xsave) + i, 8);
        std::memcpy(&g, reinterpret_cast<const uint8_t*>(&got.xsave) + i, 8);
        cmp("xsave[" + std::to_string(i) + "]", w, g);
    }
    for (int i = 0; i < 4; ++i)
        cmp("dr" + std::to_string(i), want.debugregs.db[i], got.debugregs.db[i]);
    cmp("dr6", want.debugregs.dr6, got.debugregs.dr6);
    cmp("dr7", want.debugregs.dr7, got.debugregs.dr7);
    std::map<uint32_t, uint64_t> gm(got.msrs.begin(), got.msrs.end());
    for (const auto& [idx, w] : want.msrs) {
        if (!gm.count(idx))
            out += "msr " + hex(idx) + " not read back\n";
        else
            cmp("msr " + hex(idx), w, gm[idx]);
    }
    return out;
}

uint64_t msr(const snapshot::VcpuState& v, uint32_t idx) {
    for (const auto& [i, val] : v.msrs)
        if (i == idx) return val;
    ADD_FAILURE() << "MSR " << hex(idx) << " is not in the state";
    return 0;
}

class IsolationTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (access("/dev/kvm", R_OK | W_OK) != 0) return;
        path_ = new std::string(testing::TempDir() + "/ember_" + std::to_string(getpid()) +
                                "_plant.snap");
        VmConfig cfg;
        cfg.program = read_all(std::string(EMBER_EXAMPLES_GCC_DIR) + "/plant_state");
        cfg.guest_path = "/bin/app";
        cfg.argv = {"app", "--in-ember"};
        cpio::Writer w;
        EXPECT_TRUE(w.add_file("bin/app", cfg.program, 0755));
        cfg.rootfs = w.finish();
        cfg.snapshot_out = *path_;
        cfg.console = [](int, const char*, size_t) {};
        auto r = run_vm(std::move(cfg));
        ASSERT_TRUE(r.is_ok()) << r.message();
        ASSERT_EQ(r->outcome, Outcome::kSnapshotted) << r->message;
        auto s = snapshot::Snapshot::open(*path_);
        ASSERT_TRUE(s.is_ok()) << s.message();
        snap_ = new std::shared_ptr<const snapshot::Snapshot>(*s);
    }
    static void TearDownTestSuite() {
        if (path_) unlink(path_->c_str());
        delete path_;
        delete snap_;
        path_ = nullptr;
        snap_ = nullptr;
    }
    void SetUp() override {
        if (access("/dev/kvm", R_OK | W_OK) != 0)
            GTEST_SKIP() << "*** /dev/kvm is not available: VM test skipped ***";
        ASSERT_TRUE(snap_);
    }

    // A runtime config with `input` on stdin whose stdout goes to out_.
    VmConfig config(const std::string& input, uint64_t timeout_ns = 30'000'000'000ull) {
        VmConfig cfg;
        cfg.reusable = true;
        cfg.stdin_fd = input_fd(input);
        cfg.timeout_ns = timeout_ns;
        out_.clear();
        cfg.console = [this](int fd, const char* d, size_t n) {
            if (fd == 1) out_.append(d, n);
        };
        return cfg;
    }
    std::unique_ptr<Vm> restore(const std::string& input, uint64_t timeout_ns = 30'000'000'000ull) {
        auto vm = Vm::restore(snap(), config(input, timeout_ns));
        EXPECT_TRUE(vm.is_ok()) << vm.message();
        return vm.is_ok() ? std::move(*vm) : nullptr;
    }
    // The vCPU of `vm` equals the snapshot's, register for register.
    void expect_snapshot_state(Vm& vm, const char* when) {
        auto st = vm.vcpu_state();
        ASSERT_TRUE(st.is_ok()) << st.message();
        EXPECT_EQ(differences(snap()->vcpu(), *st), "") << when;
    }
    // Runs `vm` on "report" and returns what it reports.
    std::string report(Vm& vm) {
        RunReport r = vm.run();
        EXPECT_EQ(r.outcome, Outcome::kExited) << r.message;
        EXPECT_NE(out_.find("msr174="), std::string::npos) << out_;
        return out_;
    }
    // What an instance restored from the snapshot reports.
    std::string baseline() {
        auto vm = restore("report\n");
        return vm ? report(*vm) : "";
    }
    // Resets `vm` and runs "plant" in it; checks that the planted state
    // reached the vCPU (else the test would prove nothing).
    void plant(Vm& vm) {
        ASSERT_TRUE(vm.reset(config("plant\n")).is_ok());
        RunReport r = vm.run();
        ASSERT_EQ(r.outcome, Outcome::kExited) << r.message << out_;
        ASSERT_NE(out_.find("planted"), std::string::npos) << out_;
        auto st = vm.vcpu_state();
        ASSERT_TRUE(st.is_ok()) << st.message();
        EXPECT_EQ(st->debugregs.db[0], 0x7777000u);
        EXPECT_EQ(st->debugregs.db[3], 0x7777300u);
        EXPECT_EQ(st->debugregs.dr7 & 0x401, 0x401u);
        EXPECT_EQ(msr(*st, 0x174), 0x10u);                     // SYSENTER_CS
        EXPECT_EQ(msr(*st, 0xc0000102), 0x7777600u);           // KERNEL_GS_BASE
        EXPECT_NE(msr(*st, 0x3b), msr(snap()->vcpu(), 0x3b));  // TSC_ADJUST
        EXPECT_EQ(st->sregs.gs.base, 0x616e74656421ull);       // wrgsbase
        uint32_t mxcsr;
        std::memcpy(&mxcsr, reinterpret_cast<const uint8_t*>(&st->xsave) + 24, 4);
        EXPECT_EQ(mxcsr, 0x9fc0u);
    }
    static std::shared_ptr<const snapshot::Snapshot> snap() { return *snap_; }

    std::string out_;
    static std::string* path_;
    static std::shared_ptr<const snapshot::Snapshot>* snap_;
};
std::string* IsolationTest::path_ = nullptr;
std::shared_ptr<const snapshot::Snapshot>* IsolationTest::snap_ = nullptr;

TEST_F(IsolationTest, RestoredVmStartsWithTheSnapshotsRegisters) {
    auto vm = restore("report\n");
    ASSERT_TRUE(vm);
    expect_snapshot_state(*vm, "after restore");
    const std::string r = report(*vm);
    // Sanity of the report itself: the snapshot's own values.
    EXPECT_NE(r.find("heap=2e2e2e686561702e data=2e646174612e2e2e bss=0 stack=2e2e2e737461636b "
                     "kernel=0 gsbase=0"),
              std::string::npos)
        << r;
    EXPECT_NE(r.find("dr0=0 dr1=0 dr2=0 dr3=0"), std::string::npos) << r;
}

TEST_F(IsolationTest, ResetVmSeesNothingAPlantingInstanceLeft) {
    const std::string want = baseline();
    auto vm = restore("report\n");
    ASSERT_TRUE(vm);
    EXPECT_EQ(report(*vm), want);
    plant(*vm);
    ASSERT_TRUE(vm->reset(config("report\n")).is_ok());
    expect_snapshot_state(*vm, "after reset");
    EXPECT_EQ(report(*vm), want);
}

TEST_F(IsolationTest, NewVmSeesNothingAPlantingInstanceLeft) {
    const std::string want = baseline();
    auto planter = restore("");
    ASSERT_TRUE(planter);
    planter->run();
    plant(*planter);
    planter.reset();  // its VM shell goes back to the pool's retirement
    auto vm = restore("report\n");
    ASSERT_TRUE(vm);
    expect_snapshot_state(*vm, "after restore");
    EXPECT_EQ(report(*vm), want);
}

// What the guest cannot plant on every host (this PVM host emulates CPL 0,
// and some writes fault there): set through KVM as a guest could, then reset.
TEST_F(IsolationTest, ResetRestoresRegistersSetBehindTheGuestsBack) {
    const std::string want = baseline();
    auto vm = restore("");
    ASSERT_TRUE(vm);
    vm->run();
    snapshot::VcpuState hostile = snap()->vcpu();
    for (auto* r : {&hostile.regs.rax, &hostile.regs.rbx, &hostile.regs.r15, &hostile.regs.rbp})
        *r = 0x686f7374696c6521ull;
    hostile.sregs.cr0 |= 1u << 3;  // TS: the next SSE instruction would fault
    hostile.sregs.cr8 = 15;
    hostile.sregs.gdt.limit -= 8;
    hostile.sregs.idt.limit = 0xff;
    hostile.sregs.fs.base = 0x7777800;
    hostile.sregs.ds.selector = 0;
    hostile.xcr0 = 3;  // x87 and SSE only
    auto* xs = reinterpret_cast<uint8_t*>(&hostile.xsave);
    std::memset(xs + 160, 0x5a, 256);  // XMM0-15
    for (int i = 0; i < 4; ++i) hostile.debugregs.db[i] = 0x7777000 + 0x100 * i;
    hostile.debugregs.dr6 = 0xffff0ff1;
    hostile.debugregs.dr7 = 0x455;  // L0-L3, local breakpoints enabled
    // MSRs with a guest-writable value this host accepts.
    const std::map<uint32_t, uint64_t> planted = {
        {0x174, 0x10},
        {0x175, 0x7777900},
        {0x176, 0x7777a00},             // SYSENTER
        {0xc0000081, 0x1234ull << 32},  // STAR
        {0xc0000082, 0x7777b00},
        {0xc0000083, 0x7777c00},  // LSTAR, CSTAR
        {0xc0000084, 0x700},
        {0xc0000102, 0x7777d00},  // SFMASK, KGS
        {0xc0000103, 77},
        {0x3b, 123456789},  // TSC_AUX, TSC_ADJUST
        {0x277, 0x0007040600070401ull},
        {0x2ff, 0xc06},           // PAT, MTRR default
        {0x4b564d05, 0},          // KVM poll control
        {0xc0000100, 0x7777800},  // FS_BASE, as in the segment register above
    };
    size_t used = 0;
    for (auto& [idx, val] : hostile.msrs)
        if (auto it = planted.find(idx); it != planted.end()) {
            val = it->second;
            ++used;
        }
    EXPECT_GE(used, 8u) << "too few of the MSRs to plant are in the snapshot";
    ASSERT_TRUE(vm->set_vcpu_state(hostile).is_ok());
    auto st = vm->vcpu_state();
    ASSERT_TRUE(st.is_ok()) << st.message();
    // Everything took (or the test proves nothing).
    EXPECT_EQ(differences(hostile, *st), "");
    EXPECT_NE(differences(snap()->vcpu(), *st), "");

    ASSERT_TRUE(vm->reset(config("report\n")).is_ok());
    expect_snapshot_state(*vm, "after reset");
    EXPECT_EQ(report(*vm), want);
}

// An instance stopped while it runs at CPL 0 (its own code, through the
// rewritten syscall stub) is reset as exactly as one that exited.
TEST_F(IsolationTest, InstanceStoppedAtCpl0IsResetExactly) {
    const std::string want = baseline();
    auto vm = restore("spin0\n", 1'000'000'000ull);
    ASSERT_TRUE(vm);
    RunReport r = vm->run();
    EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
    ASSERT_TRUE(vm->reset(config("report\n")).is_ok());
    expect_snapshot_state(*vm, "after reset");
    EXPECT_EQ(report(*vm), want);
}

}  // namespace
}  // namespace ember
