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

// Frame built by syscall_common in entry.S.
struct SyscallFrame {
    uint64_t nr, a0, a1, a2, a3, a4, a5;
    uint64_t path;  // 0: trapped `syscall`; 1: a patched site (fast path)
};

extern "C" uint64_t sys_user_rip;  // entry.S: the application's return address

namespace k {
namespace {

volatile uint64_t* sites() { return reinterpret_cast<volatile uint64_t*>(EMBER_GPA_SITES); }
bool site_known(uint64_t a) { return ember_site_find(sites(), a); }
bool site_add(uint64_t a) { return ember_site_add(sites(), a); }

// After a trapped `syscall` at sys_user_rip - 2: replace it with
// `call *%rax` so the next execution takes the fast path (see the ABI).
void maybe_patch(uint64_t nr) {
    const uint64_t site = sys_user_rip - 2;
    if (nr >= EMBER_SLED_JUMP || !user_ok(site, 2)) return;
    auto* p = reinterpret_cast<volatile uint8_t*>(site);
    if (p[0] != 0x0f || p[1] != 0x05) return;
    if (!site_add(site)) return;
    // One 16-bit store: the instruction is never seen half-written.
    *reinterpret_cast<volatile uint16_t*>(site) = 0xd0ff;  // ff d0: call *%rax
}

[[noreturn]] void bad_sled_entry(uint64_t from) {
    klog("call into the syscall sled from %p, which is not a patched syscall site "
         "(a call through a null function pointer?)", reinterpret_cast<void*>(from));
    panic("call to a null function pointer (or into the syscall sled)");
}

}  // namespace
}  // namespace k

extern "C" int64_t syscall_dispatch(SyscallFrame* f) {
    using namespace k;
    ember_boot_info* b = boot();
    b->stat_syscalls++;
    const uint64_t n = f->nr;
    if (b->flags & EMBER_FLAG_SYSCALL_PATCH) {
        if (f->path == 0) {
            maybe_patch(n);
        } else if (!site_known(sys_user_rip - 2)) {
            bad_sled_entry(sys_user_rip);
        }
    }
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
