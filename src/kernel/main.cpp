// main.cpp - the guest kernel's start: check the boot info, set up memory,
// files and the syscall table, then start the application.
#include "fs/vfs.h"
#include "mm_space.h"
#include "proc/proc.h"

namespace k {
[[noreturn]] void start_process();
void register_proc_syscalls();
}  // namespace k

// Saved general registers, in the order entry.S pushes them.
struct ExceptionRegs {
    uint64_t r[16];  // rax rcx rdx rbx rsp rbp rsi rdi r8..r15
};
// The CPU's frame plus the vector and error code pushed by the stubs.
struct ExceptionFrame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

namespace {

// si_code of a floating-point exception, as Linux's fpu__exception_code:
// the first unmasked exception raised (SSE: MXCSR; x87: status & ~control).
// The kernel never touches vector state, so it is the application's.
int fpu_exception_code(bool simd) {
    uint32_t err;
    if (simd) {
        uint32_t mxcsr;
        asm volatile("stmxcsr %0" : "=m"(mxcsr));
        err = ~(mxcsr >> 7) & mxcsr;
    } else {
        uint16_t cwd, swd;
        asm volatile("fnstcw %0; fnstsw %1" : "=m"(cwd), "=m"(swd));
        err = swd & ~cwd;
    }
    if (err & 0x001) return 7;  // FPE_FLTINV
    if (err & 0x004) return 3;  // FPE_FLTDIV
    if (err & 0x008) return 4;  // FPE_FLTOVF
    if (err & 0x012) return 5;  // FPE_FLTUND
    if (err & 0x020) return 6;  // FPE_FLTRES
    return 0;
}

// The signal Linux sends for an exception in application code, with its
// si_code and si_addr; 0 when it has none.
int fault_signal(const ExceptionFrame* f, int* code, uint64_t* addr) {
    *addr = 0;
    switch (f->vector) {
        case 0:         // #DE
            *code = 1;  // FPE_INTDIV
            *addr = f->rip;
            return 8;
        case 3:                                 // #BP (int3): si_code SI_KERNEL, as Linux's do_int3
        case 1:                                 // #DB
            *code = f->vector == 3 ? 0x80 : 2;  // TRAP_TRACE
            return 5;
        case 6:         // #UD
            *code = 2;  // ILL_ILLOPN
            *addr = f->rip;
            return 4;
        case 13:  // #GP: SIGSEGV with SI_KERNEL and no address, as Linux
            *code = 0x80;
            return 11;
        case 12:  // #SS
            *code = 0x80;
            return 7;   // SIGBUS
        case 17:        // #AC
            *code = 1;  // BUS_ADRALN
            return 7;
        case 14: {  // #PF
            // CR2 is readable only at CPL 0: the VMM reports it.
            auto* c = reinterpret_cast<ember_hc_cr2*>(EMBER_HC_SLOT_CR2);
            c->cr2 = 0;
            if (k::hypercall(EMBER_HC_CR2, EMBER_HC_SLOT_CR2) == EMBER_OK) *addr = c->cr2;
            // A protection fault (present bit set) or a PROT_NONE page of a
            // mapping (not present, but mapped): SEGV_ACCERR, else MAPERR.
            *code = (f->error & 1) || k::mm_is_mapped(*addr) ? 2 : 1;
            return 11;
        }
        case 16:  // #MF
        case 19:  // #XM
            *code = fpu_exception_code(f->vector == 19);
            *addr = f->rip;
            return 8;
        default:
            return 0;
    }
}

// A fault in application code (the kernel and the syscall trampolines lie
// below EMBER_GPA_APP_MIN) whose signal has a handler: deliver it as Linux
// does; returns if there is none.
void maybe_signal(ExceptionRegs* regs, ExceptionFrame* f) {
    using namespace k;
    if (f->rip < EMBER_GPA_APP_MIN) return;
    int code;
    uint64_t addr;
    const int sig = fault_signal(f, &code, &addr);
    if (!sig) return;
    UserRegs r;
    memcpy(&r, regs->r, sizeof regs->r);
    r.rsp = f->rsp;
    r.rip = f->rip;
    r.rflags = f->rflags | 0x3200;  // IF and IOPL 3, as the application runs
    const uint64_t trapno = f->vector;
    signal_fault(sig, code, addr, trapno, f->error, &r);
}

}  // namespace

extern "C" [[noreturn]] void exception_handler(ExceptionRegs* regs, ExceptionFrame* f) {
    using namespace k;
    static bool in_handler;
    if (in_handler) exit_instance(139);  // a fault while reporting a fault
    maybe_signal(regs, f);
    if (proc_running()->pid != 1 && f->rip >= EMBER_GPA_APP_MIN) {
        // A crash of another process than the first ends only that one,
        // killed by the signal as on Linux.
        int code;
        uint64_t addr;
        const int sig = fault_signal(f, &code, &addr);
        proc_exit_current(sig ? sig : 11);
    }
    in_handler = true;
    console_flush();
    auto* c = reinterpret_cast<ember_hc_crash*>(EMBER_HC_SLOT_CRASH);
    memset(c, 0, sizeof *c);
    c->kind = EMBER_CRASH_EXCEPTION;
    c->vector = static_cast<uint32_t>(f->vector);
    c->error_code = f->error;
    c->rip = f->rip;
    c->rsp = f->rsp;
    c->rflags = f->rflags;
    if (f->vector == 14) {
        // CR2 is readable only at CPL 0 (the kernel runs at CPL 3); the VMM
        // fills it in from the vCPU state.
        c->cr2 = ~0ull;
    }
    for (int i = 0; i < 16; ++i) c->regs[i] = regs->r[i];
    c->regs[4] = f->rsp;
    c->syscall_nr = boot()->cur_syscall;
    hypercall(EMBER_HC_CRASH, EMBER_HC_SLOT_CRASH);
    exit_instance(139);
}

extern "C" [[noreturn]] void kernel_main(ember_boot_info* b, uint64_t tsc_start) {
    using namespace k;
    if (b->magic != EMBER_BOOT_MAGIC || b->abi_version != EMBER_ABI_VERSION)
        panic("boot info has a bad magic or ABI version");
    b->tsc_kernel_start = tsc_start;
    b->cur_syscall = -1;
    mm_init();
    proc_init();
    register_process_syscalls();
    register_proc_syscalls();
    register_thread_syscalls();
    register_mm_syscalls();
    register_time_syscalls();
    register_fs_syscalls();
    register_net_syscalls();
    if (!fs_init(reinterpret_cast<const uint8_t*>(b->rootfs_gpa), b->rootfs_size))
        panic("the root filesystem archive is malformed");
    add_default_resolv_conf();
    if (b->cwd[0]) {
        // The VMM makes sure the directory exists in the root filesystem.
        char path[EMBER_BOOT_EXECFN_MAX];
        memcpy(path, b->cwd, sizeof path);
        path[sizeof path - 1] = 0;
        fs::Lookup lk;
        if (fs::lookup(fs::root(), path, fs::kFollow, &lk) == 0 && fs::is_dir(lk.node))
            fs::set_cwd(lk.node);
    }
    start_process();
}
