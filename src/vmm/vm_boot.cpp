// vm_boot.cpp - a new VM: the guest memory contents (kernel, program, root
// filesystem, page tables, GDT, IDT) and then the x86 machine state of its
// vCPU, one named step at a time (see "Machine layout" in ember_abi.h).
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <x86intrin.h>

#include <cstring>
#include <vector>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "vmm/hypercalls.h"
#include "vmm/layout.h"
#include "vmm/loader.h"
#include "vmm/vm_impl.h"
#include "vmm/x86.h"

namespace ember {

using namespace x86;

namespace {

// Flat 64-bit code at CPL 3: the kernel and the application both run here.
kvm_segment user_code_segment() {
    kvm_segment cs{};
    cs.base = 0;
    cs.limit = 0xffffffff;
    cs.selector = EMBER_SEL_USER_CS;
    cs.type = kSegCodeExecReadAccessed;
    cs.present = 1;
    cs.dpl = 3;
    cs.s = 1;
    cs.l = 1;
    cs.g = 1;
    return cs;
}

kvm_segment user_data_segment() {
    kvm_segment ds = user_code_segment();
    ds.selector = EMBER_SEL_USER_DS;
    ds.type = kSegDataReadWriteAccessed;
    ds.l = 0;
    ds.db = 1;
    return ds;
}

// The TSS that build_gdt() describes (no stack switches, no I/O bitmap).
kvm_segment task_segment() {
    kvm_segment tr{};
    tr.base = kGpaTss;
    tr.limit = kTss64Size - 1;
    tr.selector = kSelTss;
    tr.type = kSysTss64Busy;
    tr.present = 1;
    return tr;
}

kvm_segment no_ldt() {
    kvm_segment ldt{};
    ldt.type = kSysLdt;
    ldt.present = 1;
    ldt.unusable = 1;
    return ldt;
}

}  // namespace

Status Vm::Impl::setup_boot() {
    t_start_ = mono_ns();
    if (auto s = open_kvm(); !s) return s;
    if (auto s = check_guest_memory_size(cfg_.mem_size); !s) return s;
    auto archive_size = rootfs_size();
    if (!archive_size) return archive_size.status();
    rootfs_size_ = *archive_size;
    auto slot = plan_rootfs_slot(cfg_.mem_size, rootfs_size_);
    if (!slot) return slot.status();
    rootfs_gpa_ = slot->gpa;
    auto mem = GuestMemory::create_anonymous(slot->end);
    if (!mem) return mem.status();
    mem_ = std::move(*mem);

    // Guest memory contents first: these checks fail on bad input before any
    // KVM object exists.
    auto kh = build_machine_tables();
    if (!kh) return kh.status();
    if (auto s = place_rootfs(); !s) return s;
    const uint64_t ram = cfg_.mem_size;
    auto app = load_elf(mem_, cfg_.program, EMBER_GPA_APP_MIN, ram, EMBER_PIE_BASE, cfg_.guest_path,
                        !cfg_.interpreter.empty());
    if (!app) return app.status();
    if (!cfg_.interpreter.empty()) {
        // Above the program and its first brk growth, at the top of RAM.
        auto interp = load_interpreter(mem_, cfg_.interpreter, app->hi + (1ull << 20), ram);
        if (!interp) return interp.status();
        interp_ = *interp;
    }
    if (auto s = setup_syscall_slots(*app); !s) return s;
    add_default_env(&cfg_.env);
    auto args = write_args(mem_, cfg_.argv, cfg_.env);
    if (!args) return args.status();
    prefault_boot_pages();
    if (auto s = start_net(); !s) return s;

    if (auto s = take_shell(); !s) return s;
    if (auto s = attach_memory(); !s) return s;
    setup_doorbell();
    if (auto s = setup_vcpu(*kh); !s) return s;
    if (auto s = fill_boot_info(*app, *args); !s) return s;
    t_ready_ = mono_ns();
    return Status::ok();
}

Result<uint64_t> Vm::Impl::rootfs_size() const {
    if (cfg_.rootfs_fd < 0) return uint64_t{cfg_.rootfs.size()};
    struct stat st;
    if (fstat(cfg_.rootfs_fd, &st) != 0) return Status::from_errno("fstat the root filesystem");
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return Status::invalid_argument("the root filesystem is not a regular file");
    return static_cast<uint64_t>(st.st_size);
}

// The archive into its slot: mapped from its file (nothing copied; pages
// come from the host page cache as the guest reads them), or copied from
// cfg_.rootfs.
Status Vm::Impl::place_rootfs() {
    if (cfg_.rootfs_fd >= 0) {
        if (!cfg_.rootfs_path.empty()) {
            auto ref = snapshot::rootfs_ref_of(cfg_.rootfs_fd, cfg_.rootfs_path, rootfs_gpa_);
            if (!ref) return ref.status();
            rootfs_ref_ = std::move(*ref);
        }
        return mem_.map_file_at(rootfs_gpa_, cfg_.rootfs_fd, rootfs_size_);
    }
    if (!mem_.write(rootfs_gpa_, cfg_.rootfs.data(), cfg_.rootfs.size()))
        return Status::internal("root filesystem outside guest memory");
    return Status::ok();
}

// Page tables, GDT, the kernel and the IDT (which needs the kernel's entry
// points).
Result<ember_kernel_header> Vm::Impl::build_machine_tables() {
    if (auto s = build_page_tables(mem_); !s) return s;
    if (auto s = build_gdt(mem_); !s) return s;
    auto kh = load_kernel(mem_);
    if (!kh) return kh.status();
    if (auto s = build_idt(mem_, *kh); !s) return s;
    return *kh;
}

// The slots of patched syscall sites take a few addresses from the
// application (ember_abi.h); a program or interpreter placed over them runs
// with patching off. The root filesystem never covers them
// (plan_rootfs_slot).
Status Vm::Impl::setup_syscall_slots(const LoadedImage& app) {
    if (!cfg_.syscall_patch) return Status::ok();
    if (overlaps_syscall_slots(app.lo, app.hi) ||
        (interp_.hi && overlaps_syscall_slots(interp_.lo, interp_.hi))) {
        cfg_.log(
            "the program or its interpreter covers the syscall slots' addresses; "
            "syscall patching is off");
        cfg_.syscall_patch = false;
        return Status::ok();
    }
    return map_syscall_slots(mem_);
}

// Pages every boot touches: populate them on the host now (cheaper than a
// guest first touch). The top of the kernel stack, the hypercall page, and
// the ring headers; the boot-info page is written by fill_boot_info().
uint64_t Vm::Impl::pool_top() const { return interp_.hi ? interp_.lo : cfg_.mem_size; }

void Vm::Impl::prefault_boot_pages() {
    mem_.fill(EMBER_GPA_KSTACK_TOP - 4 * EMBER_PAGE_SIZE, 0, 4 * EMBER_PAGE_SIZE);
    mem_.fill(EMBER_GPA_HC_PAGE, 0, EMBER_PAGE_SIZE);
    for (uint64_t ring : {EMBER_GPA_CONSOLE, EMBER_GPA_STDIN, EMBER_GPA_NET_RX, EMBER_GPA_NET_TX})
        mem_.fill(ring, 0, EMBER_PAGE_SIZE);
    // The kernel puts its page bitmaps and then the application's stack at
    // the top of free memory: the top of RAM (or below the interpreter).
    const uint64_t top = pool_top();
    if (top >= EMBER_GPA_APP_MIN + 16 * EMBER_PAGE_SIZE)
        mem_.fill(top - 16 * EMBER_PAGE_SIZE, 0, 16 * EMBER_PAGE_SIZE);
}

Status Vm::Impl::setup_vcpu(const ember_kernel_header& kh) {
    if (auto s = learn_host(); !s) return s;
    if (auto s = setup_sregs(); !s) return s;
    if (auto s = setup_xcr0(); !s) return s;
    if (auto s = setup_msrs(kh); !s) return s;
    return setup_regs(kh);
}

// Long mode with paging, every segment at CPL 3, the tables of layout.h.
Status Vm::Impl::setup_sregs() {
    kvm_sregs s{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_SREGS, &s) < 0) return Status::from_errno("KVM_GET_SREGS");
    s.cs = user_code_segment();
    s.ss = s.ds = s.es = s.fs = s.gs = user_data_segment();
    s.tr = task_segment();
    s.ldt = no_ldt();
    s.gdt.base = EMBER_GPA_GDT;
    s.gdt.limit = kSelTss + 16 - 1;  // the TSS descriptor is the last, 16 bytes
    s.idt.base = EMBER_GPA_IDT;
    s.idt.limit = kIdtVectors * kIdtGateSize - 1;
    s.cr3 = EMBER_GPA_PML4;
    s.cr0 = kCr0Pg | kCr0Am | kCr0Wp | kCr0Ne | kCr0Et | kCr0Mp | kCr0Pe;
    // No SMEP/SMAP: the kernel's syscall stub runs at CPL 0 on U=1 pages;
    // no PCID: rejected on PVM.
    s.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt | kCr4Fsgsbase | kCr4Osxsave;
    s.efer = kEferSce | kEferLme | kEferLma | kEferNxe;
    if (ioctl(shell_.vcpu.fd(), KVM_SET_SREGS, &s) < 0) return Status::from_errno("KVM_SET_SREGS");
    return Status::ok();
}

// Every XSAVE state component the host supports (see KvmSystem::xcr0_mask).
Status Vm::Impl::setup_xcr0() {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = sys_->xcr0_mask();
    if (ioctl(shell_.vcpu.fd(), KVM_SET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_SET_XCRS");
    return Status::ok();
}

// syscall/sysret into the kernel's entry stub, and the guest TSC.
Status Vm::Impl::setup_msrs(const ember_kernel_header& kh) {
    // The guest TSC is set to the host's, so guest and host clocks agree on
    // both kinds of host.
    tsc_base_ = __rdtsc();
    mono_base_ = mono_ns();
    host_mono_at_tsc_base_ = mono_base_;
    std::vector<std::pair<uint32_t, uint64_t>> msrs = {
        {kMsrStar, (uint64_t{EMBER_SEL_USER_CS32} << 48) | (uint64_t{EMBER_SEL_KERNEL_CS} << 32)},
        {kMsrLstar, kh.syscall_entry},
        {kMsrCstar, 0},
        {kMsrSfmask, kRflagsTf | kRflagsDf | kRflagsIf | kRflagsNt | kRflagsAc},
        {kMsrTsc, tsc_base_},
    };
    if (kind_ == HostKind::kPvm) msrs.push_back({kMsrPvmCtl, 1});
    return shell_.vcpu.set_msrs(msrs);
}

// The kernel's entry, on its stack, with the boot-info page as argument.
Status Vm::Impl::setup_regs(const ember_kernel_header& kh) {
    kvm_regs r{};
    r.rip = kh.entry;
    r.rsp = EMBER_GPA_KSTACK_TOP;
    r.rdi = EMBER_GPA_BOOT_INFO;
    r.rflags = kRflagsIopl3 | kRflagsFixed;
    if (ioctl(shell_.vcpu.fd(), KVM_SET_REGS, &r) < 0) return Status::from_errno("KVM_SET_REGS");
    return Status::ok();
}

Status Vm::Impl::fill_boot_info(const LoadedImage& app, uint64_t args_size) {
    ember_boot_info b{};
    b.magic = EMBER_BOOT_MAGIC;
    b.abi_version = EMBER_ABI_VERSION;
    b.host_kind = kind_ == HostKind::kPvm ? EMBER_HOST_PVM : EMBER_HOST_HARDWARE;
    b.flags = (cfg_.trace_syscalls ? EMBER_FLAG_TRACE_SYSCALLS : 0) |
              (io_id_ >= 0 ? EMBER_FLAG_DOORBELL : 0) |
              (cfg_.syscall_patch ? EMBER_FLAG_SYSCALL_PATCH : 0);
    b.mem_size = mem_.size();
    b.tsc_khz = tsc_khz_;
    b.tsc_base = tsc_base_;
    b.mono_base_ns = mono_base_;
    b.wall_base_ns = wall_ns() - (mono_ns() - mono_base_);
    b.entry = app.entry;
    b.phdr = app.phdr;
    b.phent = app.phent;
    b.phnum = app.phnum;
    b.load_bias = app.bias;
    b.image_lo = app.lo;
    b.image_hi = app.hi;
    b.argc = static_cast<uint32_t>(cfg_.argv.size());
    b.envc = static_cast<uint32_t>(cfg_.env.size());
    b.args_size = args_size;
    if (cfg_.guest_path.size() >= sizeof b.execfn)
        return Status::invalid_argument("guest path of the program is too long");
    std::memcpy(b.execfn, cfg_.guest_path.c_str(), cfg_.guest_path.size() + 1);
    if (cfg_.cwd.size() >= sizeof b.cwd)
        return Status::invalid_argument("the working directory's path is too long");
    std::memcpy(b.cwd, cfg_.cwd.c_str(), cfg_.cwd.size() + 1);
    if (cfg_.volumes.size() > EMBER_VOLUMES_MAX)
        return Status::invalid_argument("at most " + std::to_string(EMBER_VOLUMES_MAX) +
                                        " volumes");
    for (size_t i = 0; i < cfg_.volumes.size(); ++i) {
        const VolumeMount& v = cfg_.volumes[i];
        if (!valid_volume_mount_point(v.guest_path))
            return Status::invalid_argument("volume mount point '" + v.guest_path +
                                            "': an absolute, normalised path outside /proc, "
                                            "/sys, /dev and /tmp is needed");
        std::memcpy(b.volumes[i].mount, v.guest_path.c_str(), v.guest_path.size() + 1);
        b.volumes[i].flags = v.readonly ? EMBER_VOLUME_RO : 0;
    }
    b.volume_count = static_cast<uint32_t>(cfg_.volumes.size());
    b.rootfs_gpa = rootfs_gpa_;
    b.rootfs_size = rootfs_size_;
    b.ram_size = cfg_.mem_size;
    b.interp_base = interp_.bias;
    b.interp_entry = interp_.entry;
    b.interp_lo = interp_.lo;
    b.interp_hi = interp_.hi;
    if (getrandom_bytes(b.random_seed, sizeof b.random_seed) != sizeof b.random_seed)
        return Status::from_errno("getrandom");
    b.seed_generation = 1;
    b.cur_syscall = -1;
    unsigned eax, ebx, ecx, edx;
    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
    b.cpu_hwcap = edx;
    b.cpu_hwcap2 = 2;  // HWCAP2_FSGSBASE: CR4.FSGSBASE is set
    if (!mem_.write_obj(EMBER_GPA_BOOT_INFO, b))
        return Status::internal("boot info outside memory");
    return Status::ok();
}

}  // namespace ember
