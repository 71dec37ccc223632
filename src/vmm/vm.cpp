// vm.cpp - creating an Ember microVM and running it to completion.
#include "vmm/vm.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <pthread.h>
#include <cstring>
#include <mutex>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "vmm/hypercalls.h"
#include "vmm/io_thread.h"
#include "vmm/kvm.h"
#include "vmm/layout.h"
#include "vmm/loader.h"
#include "vmm/snapshot.h"
#include "vmm/vm_pool.h"

namespace ember {

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::kExited: return "exited";
        case Outcome::kCrashed: return "crashed";
        case Outcome::kKernelPanic: return "kernel panic";
        case Outcome::kTimeout: return "timeout";
        case Outcome::kCpuLimit: return "cpu limit";
        case Outcome::kDeadlock: return "deadlock";
        case Outcome::kVmError: return "vm error";
        case Outcome::kSnapshotted: return "snapshotted";
        case Outcome::kStopped: return "stopped";
    }
    return "?";
}

namespace {

constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSfmask = 0xc0000084;
constexpr uint32_t kMsrFsBase = 0xc0000100;
constexpr uint32_t kMsrGsBase = 0xc0000101;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
constexpr uint64_t kRflagsIopl3 = 0x3002;  // IOPL 3 (port I/O at CPL 3), bit 1 reserved


// The watchdog signal only interrupts KVM_RUN (or a wait) in the vCPU thread;
// its handler does nothing.
constexpr int kWatchdogSignal = SIGUSR1;
void install_watchdog_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
        sigaction(kWatchdogSignal, &sa, nullptr);
    });
}

// A POSIX timer on `clock` that signals the calling thread at `after_ns`
// and then every 2 ms (so a signal that lands just before KVM_RUN is not lost).
class ThreadTimer {
public:
    ~ThreadTimer() {
        if (armed_) timer_delete(id_);
    }
    Status arm(clockid_t clock, uint64_t after_ns) {
        sigevent sev{};
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = kWatchdogSignal;
        sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
        if (timer_create(clock, &sev, &id_) != 0) return Status::from_errno("timer_create");
        armed_ = true;
        itimerspec its{};
        its.it_value.tv_sec = static_cast<time_t>(after_ns / 1000000000ull);
        its.it_value.tv_nsec = static_cast<long>(after_ns % 1000000000ull);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
        its.it_interval.tv_nsec = 2000000;
        if (timer_settime(id_, 0, &its, nullptr) != 0) return Status::from_errno("timer_settime");
        return Status::ok();
    }

private:
    timer_t id_{};
    bool armed_ = false;
};

uint64_t thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void default_console(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the reader went away: output is dropped
        data += n;
        len -= static_cast<size_t>(n);
    }
}

}  // namespace

struct Vm::Impl {
    explicit Impl(VmConfig cfg) : cfg_(std::move(cfg)) {}
    ~Impl();
    Status setup_boot();
    Status setup_restore(std::shared_ptr<const snapshot::Snapshot> snap);
    void learn_working_set();
    void learn_patches();
    void apply_patches();
    VmResult run();

    Status attach_memory(uint32_t flags = 0);
    void setup_doorbell();
    Status load_snapshot_state();
    Status reset(VmConfig cfg);
    Status start_net();
    Status setup_vcpu(const ember_kernel_header& kh);
    Status fill_boot_info(const LoadedImage& app, uint64_t args_size, uint64_t rootfs_gpa);
    Status take_snapshot(uint32_t call, uint64_t arg, bool stdin_eof);
    std::string describe_registers();
    VmResult finish(Outcome o, int status, std::string msg);

    VmConfig cfg_;
    KvmSystem* sys_ = nullptr;
    VmShell shell_;
    GuestMemory mem_;
    HostKind kind_ = HostKind::kUnknown;
    uint64_t tsc_base_ = 0;
    int64_t mono_base_ = 0;
    int64_t host_mono_at_tsc_base_ = 0;  // for timing statistics
    uint32_t tsc_khz_ = 0;
    int64_t t_start_ = 0, t_ready_ = 0;
    std::unique_ptr<NetDevice> net_;
    std::shared_ptr<const snapshot::Snapshot> snap_;  // restored instances
    // Console doorbell: an ioeventfd served by the process's I/O thread.
    std::mutex console_mu_;
    Fd doorbell_;
    int64_t io_id_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};
    pthread_t vcpu_thread_{};
    bool restored_ = false;
    uint32_t ready_call_ = 0;  // restored instances: the call they resume in
    uint64_t ready_arg_ = 0;
    VmStats stats_;
};

namespace {

// The host kind (PVM or hardware) and TSC rate are learnt from the first
// vCPU of the process.
void detect_host(KvmSystem& sys, Vcpu& vcpu) {
    static std::once_flag once;
    std::call_once(once, [&] {
        uint64_t sig = 0;
        sys.set_host_kind(vcpu.get_msr(kMsrPvmSignature, &sig) && sig == kPvmSignature
                              ? HostKind::kPvm
                              : HostKind::kHardware);
        const int khz = ioctl(vcpu.fd(), KVM_GET_TSC_KHZ, 0);
        sys.set_tsc_khz(khz > 0 ? static_cast<uint32_t>(khz) : 0);
    });
}

}  // namespace

Vm::Impl::~Impl() {
    if (io_id_ >= 0) IoThread::instance().remove(io_id_);  // before the memory goes
    net_.reset();  // closes the host sockets before the memory goes
    // Closing a VM costs about as much as creating one: do it off this path.
    if (shell_.vm.valid()) VmPool::instance().retire(std::move(shell_), std::move(mem_));
}

Status Vm::Impl::attach_memory(uint32_t flags) {
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.flags = flags;
    region.guest_phys_addr = 0;
    region.memory_size = mem_.size();
    region.userspace_addr = reinterpret_cast<uint64_t>(mem_.host_base());
    if (ioctl(shell_.vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return Status::from_errno("KVM_SET_USER_MEMORY_REGION");
    return Status::ok();
}

void Vm::Impl::setup_doorbell() {
    const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return;
    kvm_ioeventfd io{};
    io.addr = EMBER_DOORBELL_PORT;
    io.len = 1;
    io.fd = efd;
    io.flags = KVM_IOEVENTFD_FLAG_PIO;
    if (ioctl(shell_.vm.get(), KVM_IOEVENTFD, &io) < 0) {
        ::close(efd);
        return;  // no doorbell: the guest flushes its console at exits only
    }
    doorbell_ = Fd(efd);
    io_id_ = IoThread::instance().add(efd, [this] {
        std::lock_guard lock(console_mu_);
        drain_console_ring(mem_, cfg_);
    });
}

Status Vm::Impl::start_net() {
    net_ = std::make_unique<NetDevice>(mem_, cfg_.net, cfg_.log);
    return net_->start();
}

Status Vm::Impl::setup_boot() {
    t_start_ = mono_ns();
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    sys_ = *sys;
    if (cfg_.mem_size % (2ull << 20) != 0 || cfg_.mem_size < EMBER_MEM_MIN ||
        cfg_.mem_size > EMBER_MEM_MAX)
        return Status::error("guest memory size must be a multiple of 2 MiB between " +
                             std::to_string(EMBER_MEM_MIN >> 20) + " MiB and " +
                             std::to_string(EMBER_MEM_MAX >> 30) + " GiB");
    auto mem = GuestMemory::create_anonymous(cfg_.mem_size);
    if (!mem) return mem.status();
    mem_ = std::move(*mem);

    // Guest memory contents first: these checks fail on bad input before any
    // KVM object exists.
    if (auto s = build_page_tables(mem_, cfg_.syscall_patch); !s) return s;
    if (auto s = build_gdt(mem_); !s) return s;
    auto kh = load_kernel(mem_);
    if (!kh) return kh.status();
    if (cfg_.syscall_patch) {
        if (auto s = write_syscall_sled(mem_, kh->fast_syscall_entry); !s) return s;
    }
    if (auto s = build_idt(mem_, *kh); !s) return s;
    auto rootfs_gpa = place_rootfs(mem_, cfg_.rootfs, EMBER_GPA_APP_MIN);
    if (!rootfs_gpa) return rootfs_gpa.status();
    auto app = load_elf(mem_, cfg_.program, EMBER_GPA_APP_MIN, *rootfs_gpa, EMBER_PIE_BASE,
                        cfg_.guest_path);
    if (!app) return app.status();
    auto args = write_args(mem_, cfg_.argv, cfg_.env);
    if (!args) return args.status();
    // Pages every boot touches: populate them on the host now (cheaper than
    // a guest first touch). The top of the kernel stack, the hypercall page,
    // and the ring headers; the boot-info page is written below.
    mem_.fill(EMBER_GPA_KSTACK_TOP - 4 * EMBER_PAGE_SIZE, 0, 4 * EMBER_PAGE_SIZE);
    mem_.fill(EMBER_GPA_HC_PAGE, 0, EMBER_PAGE_SIZE);
    for (uint64_t ring : {EMBER_GPA_CONSOLE, EMBER_GPA_STDIN, EMBER_GPA_NET_RX, EMBER_GPA_NET_TX})
        mem_.fill(ring, 0, EMBER_PAGE_SIZE);
    // The kernel puts its page bitmaps and then the application's stack at
    // the top of free memory, just below the root filesystem.
    if (*rootfs_gpa >= EMBER_GPA_APP_MIN + 16 * EMBER_PAGE_SIZE)
        mem_.fill((*rootfs_gpa & ~(EMBER_PAGE_SIZE - 1)) - 16 * EMBER_PAGE_SIZE, 0, 16 * EMBER_PAGE_SIZE);
    if (auto s = start_net(); !s) return s;

    auto shell = VmPool::instance().take();
    if (!shell) return shell.status();
    shell_ = std::move(*shell);
    if (auto s = attach_memory(); !s) return s;
    setup_doorbell();
    if (auto s = setup_vcpu(*kh); !s) return s;
    if (auto s = fill_boot_info(*app, *args, *rootfs_gpa); !s) return s;
    t_ready_ = mono_ns();
    return Status::ok();
}

Status Vm::Impl::setup_vcpu(const ember_kernel_header& kh) {
    detect_host(*sys_, shell_.vcpu);
    kind_ = sys_->host_kind();
    tsc_khz_ = sys_->tsc_khz();
    if (tsc_khz_ == 0) return Status::error("cannot determine the TSC frequency (KVM_GET_TSC_KHZ)");

    kvm_sregs s{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_SREGS, &s) < 0) return Status::from_errno("KVM_GET_SREGS");
    kvm_segment cs{};
    cs.base = 0;
    cs.limit = 0xffffffff;
    cs.selector = EMBER_SEL_USER_CS;
    cs.type = 11;
    cs.present = 1;
    cs.dpl = 3;
    cs.s = 1;
    cs.l = 1;
    cs.g = 1;
    kvm_segment ds = cs;
    ds.selector = EMBER_SEL_USER_DS;
    ds.type = 3;
    ds.l = 0;
    ds.db = 1;
    kvm_segment tr{};
    tr.base = kGpaTss;
    tr.limit = 103;
    tr.selector = kSelTss;
    tr.type = 11;
    tr.present = 1;
    kvm_segment ldt{};
    ldt.type = 2;
    ldt.present = 1;
    ldt.unusable = 1;
    s.cs = cs;
    s.ss = s.ds = s.es = s.fs = s.gs = ds;
    s.tr = tr;
    s.ldt = ldt;
    s.gdt.base = EMBER_GPA_GDT;
    s.gdt.limit = 0x4f;
    s.idt.base = EMBER_GPA_IDT;
    s.idt.limit = 256 * 16 - 1;
    s.cr3 = EMBER_GPA_PML4;
    s.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
    // PAE OSFXSR OSXMMEXCPT FSGSBASE OSXSAVE (no SMEP/SMAP: the kernel's
    // syscall stub runs at CPL 0 on U=1 pages; no PCID: rejected on PVM).
    s.cr4 = 0x20 | 0x200 | 0x400 | 0x10000 | 0x40000;
    s.efer = 0xd01;  // SCE LME LMA NXE
    if (ioctl(shell_.vcpu.fd(), KVM_SET_SREGS, &s) < 0) return Status::from_errno("KVM_SET_SREGS");

    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = sys_->xcr0_mask();
    if (ioctl(shell_.vcpu.fd(), KVM_SET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_SET_XCRS");

    // The guest TSC is set to the host's, so guest and host clocks agree on
    // both kinds of host.
    tsc_base_ = __rdtsc();
    mono_base_ = mono_ns();
    host_mono_at_tsc_base_ = mono_base_;
    std::vector<std::pair<uint32_t, uint64_t>> msrs = {
        {kMsrStar, (uint64_t{EMBER_SEL_USER_CS32} << 48) | (uint64_t{EMBER_SEL_KERNEL_CS} << 32)},
        {kMsrLstar, kh.syscall_entry},
        {kMsrCstar, 0},
        {kMsrSfmask, 0x47700},  // TF DF IF NT AC cleared on syscall entry
        {kMsrTsc, tsc_base_},
    };
    if (kind_ == HostKind::kPvm) msrs.push_back({kMsrPvmCtl, 1});
    if (auto st = shell_.vcpu.set_msrs(msrs); !st) return st;

    kvm_regs r{};
    r.rip = kh.entry;
    r.rsp = EMBER_GPA_KSTACK_TOP;
    r.rdi = EMBER_GPA_BOOT_INFO;
    r.rflags = kRflagsIopl3;
    if (ioctl(shell_.vcpu.fd(), KVM_SET_REGS, &r) < 0) return Status::from_errno("KVM_SET_REGS");
    return Status::ok();
}

Status Vm::Impl::fill_boot_info(const LoadedImage& app, uint64_t args_size, uint64_t rootfs_gpa) {
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
        return Status::error("guest path of the program is too long");
    std::memcpy(b.execfn, cfg_.guest_path.c_str(), cfg_.guest_path.size() + 1);
    b.rootfs_gpa = rootfs_gpa;
    b.rootfs_size = cfg_.rootfs.size();
    if (getrandom_bytes(b.random_seed, sizeof b.random_seed) != sizeof b.random_seed)
        return Status::from_errno("getrandom");
    b.seed_generation = 1;
    b.cur_syscall = -1;
    unsigned eax, ebx, ecx, edx;
    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
    b.cpu_hwcap = edx;
    b.cpu_hwcap2 = 2;  // HWCAP2_FSGSBASE: CR4.FSGSBASE is set
    if (!mem_.write_obj(EMBER_GPA_BOOT_INFO, b)) return Status::error("boot info outside memory");
    return Status::ok();
}

std::string Vm::Impl::describe_registers() {
    kvm_regs r{};
    kvm_sregs s{};
    if (ioctl(shell_.vcpu.fd(), KVM_GET_REGS, &r) < 0 || ioctl(shell_.vcpu.fd(), KVM_GET_SREGS, &s) < 0)
        return "(registers unavailable)";
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "rip=%#llx rsp=%#llx rflags=%#llx cr2=%#llx\n"
                  "  rax=%#llx rbx=%#llx rcx=%#llx rdx=%#llx rsi=%#llx rdi=%#llx rbp=%#llx",
                  r.rip, r.rsp, r.rflags, s.cr2, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp);
    return buf;
}

VmResult Vm::Impl::finish(Outcome o, int status, std::string msg) {
    if (restored_ && !snap_->working_set() && o == Outcome::kExited) learn_working_set();
    if (restored_ && o != Outcome::kVmError) learn_patches();
    const int64_t t_end = mono_ns();
    stats_.total_us = static_cast<double>(t_end - t_start_) / 1e3;
    stats_.create_us = static_cast<double>(t_ready_ - t_start_) / 1e3;
    stats_.run_us = static_cast<double>(t_end - t_ready_) / 1e3;
    if (auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO)) {
        stats_.syscalls = b->stat_syscalls;
        if (b->tsc_app_start > tsc_base_ && tsc_khz_) {
            const double since_base_us =
                static_cast<double>(b->tsc_app_start - tsc_base_) * 1e3 / tsc_khz_;
            if (b->tsc_kernel_start > tsc_base_ && b->tsc_app_start > b->tsc_kernel_start)
                stats_.kernel_init_us =
                    static_cast<double>(b->tsc_app_start - b->tsc_kernel_start) * 1e3 / tsc_khz_;
            stats_.first_insn_us =
                static_cast<double>(host_mono_at_tsc_base_ - t_start_) / 1e3 + since_base_us;
        }
    }
    VmResult res;
    res.outcome = o;
    res.exit_status = status;
    res.message = std::move(msg);
    res.stats = stats_;
    return res;
}

VmResult Vm::Impl::run() {
    install_watchdog_handler();
    ThreadTimer wall_timer, cpu_timer;
    const int64_t wall_deadline = cfg_.timeout_ns ? mono_ns() + static_cast<int64_t>(cfg_.timeout_ns) : 0;
    if (cfg_.timeout_ns) {
        if (auto s = wall_timer.arm(CLOCK_MONOTONIC, cfg_.timeout_ns); !s)
            return finish(Outcome::kVmError, 0, s.message());
    }
    const uint64_t cpu_start = thread_cpu_ns();
    if (cfg_.cpu_limit_ns) {
        if (auto s = cpu_timer.arm(CLOCK_THREAD_CPUTIME_ID, cfg_.cpu_limit_ns); !s)
            return finish(Outcome::kVmError, 0, s.message());
    }
    HypercallContext hc(mem_, cfg_, stats_, wall_deadline, shell_.vcpu.fd(), *net_);
    hc.set_stop_flag(&stop_);
    hc.set_console_mutex(&console_mu_);
    vcpu_thread_ = pthread_self();
    running_ = true;
    struct Running {
        std::atomic<bool>& r;
        ~Running() { r = false; }
    } running_guard{running_};
    hc.set_want_ready(!cfg_.snapshot_out.empty() && !restored_);
    if (restored_) {
        // The instance resumes inside the call it was snapshotted in: give
        // that call its result, with whatever input is already available.
        hc.read_stdin_now();
        if (ready_call_ == EMBER_HC_WAIT) {
            if (auto w = mem_.read_obj<ember_hc_wait>(ready_arg_)) {
                auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_STDIN);
                w->ready = ring && (ring->head != ring->tail || (ring->flags & EMBER_RING_EOF))
                               ? EMBER_WAIT_STDIN
                               : 0;
                mem_.write_obj(ready_arg_, *w);
            }
        }
        mem_.write_obj<int64_t>(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, hc_status), EMBER_OK);
    }
    kvm_run* run = shell_.vcpu.run();
    for (;;) {
        if (stop_) {
            hc.drain_console();
            return finish(Outcome::kStopped, 0, "stopped by the host");
        }
        const int rc = ioctl(shell_.vcpu.fd(), KVM_RUN, 0);
        ++stats_.exits;
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                run->immediate_exit = 0;
                if (stop_) continue;
                if (wall_deadline && mono_ns() >= wall_deadline) {
                    hc.drain_console();
                    return finish(Outcome::kTimeout, 0,
                                  "wall-clock limit reached; " + describe_registers());
                }
                if (cfg_.cpu_limit_ns && thread_cpu_ns() - cpu_start >= cfg_.cpu_limit_ns) {
                    hc.drain_console();
                    return finish(Outcome::kCpuLimit, 0,
                                  "CPU-time limit reached; " + describe_registers());
                }
                continue;
            }
            return finish(Outcome::kVmError, 0, std::string("KVM_RUN failed: ") + std::strerror(errno));
        }
        switch (run->exit_reason) {
            case KVM_EXIT_IO: {
                const auto& io = run->io;
                const uint32_t nr = io.port - EMBER_HC_PORT_BASE;
                if (io.direction == KVM_EXIT_IO_OUT && io.port >= EMBER_HC_PORT_BASE &&
                    io.port < EMBER_HC_PORT_BASE + 0x100 && io.size == 4 && io.count == 1) {
                    uint32_t arg;
                    std::memcpy(&arg, reinterpret_cast<const uint8_t*>(run) + io.data_offset, 4);
                    HcOutcome out = hc.dispatch(nr, arg);
                    if (out.ready_point) {
                        hc.set_want_ready(false);
                        const int64_t t0 = mono_ns();
                        if (auto st = take_snapshot(nr, arg, hc.stdin_eof()); !st)
                            return finish(Outcome::kVmError, 0, "snapshot failed: " + st.message());
                        stats_.snapshot_us = static_cast<double>(mono_ns() - t0) / 1e3;
                        if (!cfg_.continue_after_snapshot) return finish(Outcome::kSnapshotted, 0, "");
                        out = hc.complete_ready(nr, arg);
                    }
                    if (out.done) return finish(out.outcome, out.exit_status, std::move(out.message));
                    continue;
                }
                if (io.port == EMBER_DOORBELL_PORT && io.direction == KVM_EXIT_IO_OUT) {
                    hc.drain_console();  // a doorbell that reached userspace
                    continue;
                }
                hc.drain_console();
                char b[160];
                std::snprintf(b, sizeof b, "unexpected port I/O: %s port %#x size %u; ",
                              io.direction == KVM_EXIT_IO_OUT ? "out" : "in", io.port, io.size);
                return finish(Outcome::kVmError, 0, b + describe_registers());
            }
            case KVM_EXIT_MMIO: {
                hc.drain_console();
                char b[160];
                std::snprintf(b, sizeof b, "access to unbacked guest physical address %#llx; ",
                              static_cast<unsigned long long>(run->mmio.phys_addr));
                return finish(Outcome::kVmError, 0, b + describe_registers());
            }
            case KVM_EXIT_SHUTDOWN:
                hc.drain_console();
                return finish(Outcome::kVmError, 0,
                              "guest triple fault (shutdown); " + describe_registers());
            case KVM_EXIT_HLT:
                hc.drain_console();
                return finish(Outcome::kVmError, 0, "guest halted; " + describe_registers());
            case KVM_EXIT_INTERNAL_ERROR:
                hc.drain_console();
                return finish(Outcome::kVmError, 0,
                              "KVM internal error (suberror " +
                                  std::to_string(run->internal.suberror) +
                                  "; an int N, vmcall or unsupported instruction?); " +
                                  describe_registers());
            case KVM_EXIT_FAIL_ENTRY:
                return finish(Outcome::kVmError, 0,
                              "KVM entry failed (hardware reason " +
                                  std::to_string(run->fail_entry.hardware_entry_failure_reason) +
                                  ")");
            case KVM_EXIT_INTR:
                continue;
            default:
                hc.drain_console();
                return finish(Outcome::kVmError, 0,
                              "unexpected KVM exit reason " + std::to_string(run->exit_reason) +
                                  "; " + describe_registers());
        }
    }
}

Status Vm::Impl::take_snapshot(uint32_t call, uint64_t arg, bool stdin_eof) {
    // The vCPU stopped inside an OUT that KVM completes on the next KVM_RUN;
    // complete it (immediate_exit) so the saved RIP is past the instruction.
    kvm_run* run = shell_.vcpu.run();
    run->immediate_exit = 1;
    const int rc = ioctl(shell_.vcpu.fd(), KVM_RUN, 0);
    const int err = errno;
    run->immediate_exit = 0;
    if (rc == 0 || err != EINTR) return Status::error("could not complete the pending I/O");
    snapshot::VcpuState v;
    const int fd = shell_.vcpu.fd();
    if (ioctl(fd, KVM_GET_REGS, &v.regs) < 0) return Status::from_errno("KVM_GET_REGS");
    if (ioctl(fd, KVM_GET_SREGS, &v.sregs) < 0) return Status::from_errno("KVM_GET_SREGS");
    if (ioctl(fd, kIoctlGetXsave, &v.xsave) < 0) return Status::from_errno("KVM_GET_XSAVE");
    kvm_xcrs xcrs{};
    if (ioctl(fd, KVM_GET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_GET_XCRS");
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; ++i)
        if (xcrs.xcrs[i].xcr == 0) v.xcr0 = xcrs.xcrs[i].value;
    v.msrs = {{kMsrStar, 0}, {kMsrLstar, 0}, {kMsrCstar, 0}, {kMsrSfmask, 0},
              {kMsrFsBase, 0}, {kMsrGsBase, 0}, {kMsrKernelGsBase, 0}};
    if (!shell_.vcpu.get_msrs(&v.msrs)) return Status::error("KVM_GET_MSRS failed");
    if (!shell_.vcpu.get_msr(kMsrTsc, &v.tsc)) return Status::error("cannot read the guest TSC");
    if (net_->open_streams() > 0)
        return Status::error("the guest has open connections; only an idle instance can be snapshotted");
    snapshot::VmmState vmm;
    vmm.listeners = net_->guest_listeners();
    vmm.host_kind = kind_ == HostKind::kPvm ? EMBER_HOST_PVM : EMBER_HOST_HARDWARE;
    vmm.stdin_eof = stdin_eof;
    vmm.guest_mono_ns = mono_ns();
    vmm.ready_call = call;
    vmm.ready_arg = arg;
    std::lock_guard lock(console_mu_);  // the doorbell handler writes the ring's tail
    return snapshot::write(cfg_.snapshot_out, mem_, v, vmm, tsc_khz_);
}

namespace {

constexpr int kMadvPopulateRead = 22;   // Linux 5.14
constexpr int kMadvPopulateWrite = 23;

// Populates runs of pages of `mem` with madvise(advice).
void populate(const GuestMemory& mem, const std::vector<uint64_t>& pages, int advice) {
    for (size_t i = 0; i < pages.size();) {
        size_t j = i + 1;
        while (j < pages.size() && pages[j] == pages[j - 1] + 1) ++j;
        const uint64_t first = pages[i], n = j - i;
        if ((first + n) * EMBER_PAGE_SIZE <= mem.size())
            madvise(mem.host_base() + first * EMBER_PAGE_SIZE, n * EMBER_PAGE_SIZE, advice);
        i = j;
    }
}

}  // namespace

void Vm::Impl::learn_working_set() {
    std::vector<GuestMemory::PageState> states;
    if (!mem_.page_states(&states)) return;
    snapshot::WorkingSet ws;
    for (uint64_t i = 0; i < states.size(); ++i) {
        if (states[i] == GuestMemory::PageState::kFile) ws.read.push_back(i);
        if (states[i] == GuestMemory::PageState::kCopied) ws.written.push_back(i);
    }
    snap_->record_working_set(std::move(ws));
}

void Vm::Impl::learn_patches() {
    // The kernel's set of patched sites (guest-written: every entry is
    // checked against the snapshot's bytes before it is believed).
    const uint8_t* pristine = snap_->pristine();
    auto table = mem_.span(EMBER_GPA_SITES, EMBER_SITES_SIZE);
    if (!pristine || !table) return;
    const auto* slots = reinterpret_cast<const uint64_t*>(table->data());
    std::vector<uint64_t> sites;
    for (uint32_t i = 1; i < EMBER_SITES_SLOTS; ++i) {
        const uint64_t site = slots[i];
        if (site < EMBER_GPA_APP_MIN || !mem_.contains(site, 2)) continue;
        if (pristine[site] != 0x0f || pristine[site + 1] != 0x05) continue;
        if (mem_.host_base()[site] != 0xff || mem_.host_base()[site + 1] != 0xd0) continue;
        sites.push_back(site);
    }
    std::sort(sites.begin(), sites.end());
    if (!sites.empty()) snap_->record_patches(sites);
}

void Vm::Impl::apply_patches() {
    auto table = mem_.span(EMBER_GPA_SITES, EMBER_SITES_SIZE);
    if (!table) return;
    auto* slots = reinterpret_cast<volatile uint64_t*>(table->data());
    for (uint64_t site : snap_->patches()) {
        uint8_t* p = mem_.host_base() + site;  // learn_patches checked the range
        const bool original = p[0] == 0x0f && p[1] == 0x05;
        // Already patched (a page a reset kept) still needs its table entry:
        // the table page may have been put back to the snapshot's contents.
        if (!original && !(p[0] == 0xff && p[1] == 0xd0)) continue;
        if (!ember_site_add(slots, site)) break;
        p[0] = 0xff;  // call *%rax
        p[1] = 0xd0;
    }
}

Status Vm::Impl::setup_restore(std::shared_ptr<const snapshot::Snapshot> snap_ptr) {
    t_start_ = mono_ns();
    snap_ = std::move(snap_ptr);
    const snapshot::Snapshot& snap = *snap_;
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    sys_ = *sys;
    restored_ = true;
    ready_call_ = snap.vmm().ready_call;
    ready_arg_ = snap.vmm().ready_arg;
    auto shell = VmPool::instance().take();
    if (!shell) return shell.status();
    shell_ = std::move(*shell);
    auto mem = snap.map_memory();
    if (!mem) return mem.status();
    mem_ = std::move(*mem);
    if (auto ws = snap.working_set()) {
        populate(mem_, ws->written, kMadvPopulateWrite);
        populate(mem_, ws->read, kMadvPopulateRead);
    }
    if (auto s = attach_memory(); !s) return s;
    setup_doorbell();
    detect_host(*sys_, shell_.vcpu);
    kind_ = sys_->host_kind();
    tsc_khz_ = sys_->tsc_khz();
    if (tsc_khz_ == 0) return Status::error("cannot determine the TSC frequency (KVM_GET_TSC_KHZ)");
    return load_snapshot_state();
}

Status Vm::Impl::load_snapshot_state() {
    const snapshot::Snapshot& snap = *snap_;
    apply_patches();
    if (auto s = start_net(); !s) return s;
    net_->set_guest_listeners(snap.vmm().listeners);
    stats_ = VmStats{};
    stop_ = false;
    const snapshot::VcpuState& v = snap.vcpu();
    const int fd = shell_.vcpu.fd();
    if (ioctl(fd, KVM_SET_SREGS, &v.sregs) < 0) return Status::from_errno("KVM_SET_SREGS");
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = v.xcr0;
    if (ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) return Status::from_errno("KVM_SET_XCRS");
    if (ioctl(fd, kIoctlSetXsave, &v.xsave) < 0) return Status::from_errno("KVM_SET_XSAVE");
    if (ioctl(fd, KVM_SET_REGS, &v.regs) < 0) return Status::from_errno("KVM_SET_REGS");
    tsc_base_ = __rdtsc();
    const int64_t now = mono_ns();
    host_mono_at_tsc_base_ = now;
    // Monotonic time continues from at least where the snapshot left it.
    mono_base_ = std::max(now, snap.vmm().guest_mono_ns);
    auto msrs = v.msrs;
    msrs.push_back({kMsrTsc, tsc_base_});
    if (kind_ == HostKind::kPvm) msrs.push_back({kMsrPvmCtl, 1});
    if (auto st = shell_.vcpu.set_msrs(msrs); !st) return st;

    // Clock base, fresh entropy: the boot-info page is rewritten (this is
    // the instance's private copy of the page).
    auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO);
    if (!b || b->magic != EMBER_BOOT_MAGIC) return Status::error("snapshot has no valid boot info");
    b->tsc_khz = tsc_khz_;
    b->tsc_base = tsc_base_;
    b->mono_base_ns = mono_base_;
    b->wall_base_ns = wall_ns();
    if (getrandom_bytes(b->random_seed, sizeof b->random_seed) != sizeof b->random_seed)
        return Status::from_errno("getrandom");
    b->seed_generation += 1;
    b->hc_status = EMBER_OK;
    b->flags = io_id_ >= 0 ? (b->flags | EMBER_FLAG_DOORBELL) : (b->flags & ~uint64_t{EMBER_FLAG_DOORBELL});
    b->tsc_app_start = 0;
    mem_.write_obj(EMBER_GPA_BOOT_INFO, *b);
    t_ready_ = mono_ns();
    return Status::ok();
}

namespace {
VmConfig with_defaults(VmConfig config) {
    if (!config.console) config.console = default_console;
    if (!config.log)
        config.log = [](const std::string& line) {
            std::string s = "ember-vm: guest: " + line + "\n";
            default_console(2, s.data(), s.size());
        };
    return config;
}
}  // namespace

Status Vm::Impl::reset(VmConfig cfg) {
    if (!restored_ || !cfg_.reusable) return Status::error("only a reusable restored VM can be reset");
    if (running_) return Status::error("cannot reset a running VM");
    t_start_ = mono_ns();
    const uint8_t* pristine = snap_->pristine();
    if (!pristine) return Status::error("cannot map the snapshot memory");
    // Pages written since the VM was restored (by the guest or the VMM) go
    // back to the snapshot's contents; so do, to be safe, the pages the VMM
    // itself writes (boot info, hypercall page, rings). Everything else is
    // unchanged and stays mapped, so the next instance starts without page
    // faults.
    // Every page copied on write since the mapping was made, by the guest or
    // by us. (KVM's dirty log would tell the same for the guest's writes,
    // but write-protecting pages makes each first write in an instance a
    // fault: several times slower here than reading pagemap once.)
    std::vector<GuestMemory::PageState> states;
    if (auto st = mem_.page_states(&states); !st) return st;
    // Copies page by page, skipping pages that already match: writing an
    // unchanged page would copy it on write for nothing.
    auto restore_range = [&](uint64_t gpa, uint64_t len) {
        for (uint64_t off = 0; off < len; off += EMBER_PAGE_SIZE) {
            uint8_t* dst = mem_.host_base() + gpa + off;
            const uint8_t* src = pristine + gpa + off;
            if (std::memcmp(dst, src, EMBER_PAGE_SIZE) != 0) std::memcpy(dst, src, EMBER_PAGE_SIZE);
        }
    };
    for (uint64_t page = 0; page < states.size(); ++page)
        if (states[page] == GuestMemory::PageState::kCopied)
            restore_range(page * EMBER_PAGE_SIZE, EMBER_PAGE_SIZE);
    restore_range(EMBER_GPA_BOOT_INFO, 2 * EMBER_PAGE_SIZE);  // boot info, hypercall page
    restore_range(EMBER_GPA_CONSOLE, EMBER_PAGE_SIZE);
    restore_range(EMBER_GPA_STDIN, EMBER_STDIN_SIZE);
    restore_range(EMBER_GPA_NET_RX, EMBER_NET_RX_SIZE);
    restore_range(EMBER_GPA_NET_TX, EMBER_PAGE_SIZE);
    {
        std::lock_guard lock(console_mu_);  // the doorbell handler reads cfg_
        cfg_ = std::move(cfg);
        cfg_.reusable = true;
    }
    net_.reset();
    return load_snapshot_state();
}

Vm::Vm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { install_watchdog_handler(); }
Vm::~Vm() = default;

Result<std::unique_ptr<Vm>> Vm::boot(VmConfig config) {
    auto impl = std::make_unique<Impl>(with_defaults(std::move(config)));
    if (auto s = impl->setup_boot(); !s) return s;
    return std::unique_ptr<Vm>(new Vm(std::move(impl)));
}

Result<std::unique_ptr<Vm>> Vm::restore(std::shared_ptr<const snapshot::Snapshot> snap,
                                        VmConfig config) {
    auto impl = std::make_unique<Impl>(with_defaults(std::move(config)));
    if (auto s = impl->setup_restore(std::move(snap)); !s) return s;
    return std::unique_ptr<Vm>(new Vm(std::move(impl)));
}

VmResult Vm::run() { return impl_->run(); }

Status Vm::reset(VmConfig config) { return impl_->reset(with_defaults(std::move(config))); }

std::pair<const void*, size_t> Vm::guest_memory_range() const {
    return {impl_->mem_.host_base(), impl_->mem_.size()};
}

void Vm::post_connection(int fd, uint16_t guest_port) { impl_->net_->post(fd, guest_port); }

void Vm::stop() {
    impl_->stop_ = true;
    impl_->net_->wake();
    // Kick the vCPU out of KVM_RUN: immediate_exit covers the window before
    // it enters, the signal the time inside.
    impl_->shell_.vcpu.run()->immediate_exit = 1;
    if (impl_->running_) pthread_kill(impl_->vcpu_thread_, kWatchdogSignal);
}

Status Vm::adopt_connection(int fd, uint16_t guest_port) { return impl_->net_->adopt(fd, guest_port); }

Result<VmResult> run_vm(VmConfig config) {
    auto vm = Vm::boot(std::move(config));
    if (!vm) return vm.status();
    return (*vm)->run();
}

Result<HostInfo> probe_host() {
    auto sys = KvmSystem::get();
    if (!sys) return sys.status();
    // Host kind and TSC rate are learnt from a vCPU.
    int vm = ioctl((*sys)->fd(), KVM_CREATE_VM, 0);
    if (vm < 0) return Status::from_errno("KVM_CREATE_VM");
    Fd vmfd(vm);
    auto vcpu = Vcpu::create(**sys, vm);
    if (!vcpu) return vcpu.status();
    uint64_t sig = 0;
    HostInfo info;
    info.kind = vcpu->get_msr(kMsrPvmSignature, &sig) && sig == kPvmSignature ? "pvm" : "hardware";
    info.api_version = (*sys)->api_version();
    const int khz = ioctl(vcpu->fd(), KVM_GET_TSC_KHZ, 0);
    info.tsc_khz = khz > 0 ? static_cast<uint32_t>(khz) : 0;
    info.xcr0 = (*sys)->xcr0_mask();
    return info;
}

}  // namespace ember
