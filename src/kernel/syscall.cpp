// syscall.cpp - the syscall table and dispatcher. The table is filled
// explicitly at start-up by each subsystem's register function.
#include "kernel.h"

namespace k {
namespace {

struct Entry {
    SyscallFn fn;
    const char* name;
};
Entry g_table[kMaxSyscall];
uint64_t g_reported[kMaxSyscall / 64 + 1];  // unknown syscalls already reported

}  // namespace

void syscall_register(uint32_t n, const char* name, SyscallFn fn) {
    KCHECK(n < kMaxSyscall);
    g_table[n] = Entry{fn, name};
}

const char* syscall_name(uint64_t n) {
    for (const auto& e : kSyscallNames)
        if (e.nr == n) return e.name;
    return "unknown";
}

}  // namespace k

// Frame built by syscall_handler in entry.S.
struct SyscallFrame {
    uint64_t nr, a0, a1, a2, a3, a4, a5, pad;
};

extern "C" int64_t syscall_dispatch(SyscallFrame* f) {
    using namespace k;
    ember_boot_info* b = boot();
    b->stat_syscalls++;
    const uint64_t n = f->nr;
    if (n < kMaxSyscall && g_table[n].fn) {
        b->cur_syscall = static_cast<int64_t>(n);
        const int64_t r = g_table[n].fn(f->a0, f->a1, f->a2, f->a3, f->a4, f->a5);
        b->cur_syscall = -1;
        return r;
    }
    if (b->flags & EMBER_FLAG_TRACE_SYSCALLS) {
        const uint64_t slot = n < kMaxSyscall ? n : kMaxSyscall;
        if (!(g_reported[slot / 64] & (1ull << (slot % 64)))) {
            g_reported[slot / 64] |= 1ull << (slot % 64);
            klog("unimplemented syscall %s (%lu) returns ENOSYS", syscall_name(n), n);
        }
    }
    return -ENOSYS;
}
