// main.cpp - the guest kernel's start: check the boot info, set up memory,
// files and the syscall table, then start the application.
#include "fs/vfs.h"
#include "kernel.h"

namespace k {
[[noreturn]] void start_process();
}

// Saved general registers, in the order entry.S pushes them.
struct ExceptionRegs {
    uint64_t r[16];  // rax rcx rdx rbx rsp rbp rsi rdi r8..r15
};
// The CPU's frame plus the vector and error code pushed by the stubs.
struct ExceptionFrame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern "C" [[noreturn]] void exception_handler(ExceptionRegs* regs, ExceptionFrame* f) {
    using namespace k;
    static bool in_handler;
    if (in_handler) exit_instance(139);  // a fault while reporting a fault
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
    register_process_syscalls();
    register_thread_syscalls();
    register_mm_syscalls();
    register_time_syscalls();
    register_fs_syscalls();
    register_net_syscalls();
    if (!fs_init(reinterpret_cast<const uint8_t*>(b->rootfs_gpa), b->rootfs_size))
        panic("the root filesystem archive is malformed");
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
