// syscall.cpp - the syscall table and dispatcher. The table is filled
// explicitly at start-up by each subsystem's register function.
#include "proc/proc.h"

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

extern "C" char fast_syscall_entry[];

namespace k {
namespace {

uint32_t g_sites;  // trampolines handed out (kernel data: part of a snapshot)

// Which address spaces hold a patched site that jumps through slot i, so
// that the slot can be used again once none does (an exec'd program, a
// process that ended). Sites in MAP_SHARED memory may be seen by address
// spaces that did not patch them: their slots are never reused (kPinned).
constexpr uint32_t kWords = EMBER_SITES_MAX / 64;
constexpr uint16_t kPinned = 0xffff;
uint16_t g_slot_refs[EMBER_SITES_MAX];
struct SiteOwner {
    const Mm* mm;
    SiteOwner* next;
    uint64_t slots[kWords];
};
SiteOwner* g_owners;
uint32_t g_free_slots;  // slots below g_sites with no reference left

SiteOwner* owner_of(const Mm* m, bool create) {
    for (SiteOwner* o = g_owners; o; o = o->next)
        if (o->mm == m) return o;
    if (!create) return nullptr;
    auto* o = static_cast<SiteOwner*>(kcalloc(1, sizeof(SiteOwner)));
    if (!o) return nullptr;
    o->mm = m;
    o->next = g_owners;
    g_owners = o;
    return o;
}

// A slot for a new site of the current address space: a fresh one, else
// one that no address space uses any more; false when there is none (or
// no memory to record the owner: the site keeps trapping).
bool take_slot(bool shared, uint32_t* out) {
    SiteOwner* o = owner_of(mm_current(), true);
    if (!o) return false;
    uint32_t i = g_sites;
    if (i < EMBER_SITES_MAX) {
        g_sites++;
    } else {
        if (!g_free_slots) return false;
        for (i = 0; i < EMBER_SITES_MAX && g_slot_refs[i] != 0; ++i) {
        }
        KCHECK(i < EMBER_SITES_MAX);
        g_free_slots--;
    }
    g_slot_refs[i] = shared ? kPinned : 1;
    o->slots[i / 64] |= 1ull << (i % 64);
    *out = i;
    return true;
}

inline uint32_t load32(uint64_t a) {
    uint32_t v;
    memcpy(&v, reinterpret_cast<const void*>(a), 4);
    return v;
}

// Writes trampoline i: rax = the window's number (as its mov set it),
// rcx = the site's return address, then on to fast_syscall_entry.
void write_trampoline(uint32_t i, const uint8_t* mov, uint32_t mov_len, uint64_t ret) {
    uint8_t t[EMBER_TRAMPOLINE_SIZE];
    memset(t, 0xcc, sizeof t);  // int3 padding
    memcpy(t, mov, mov_len);    // [0, 7): the original mov
    if (mov_len == 5) {         // a 2-byte nop after the 5-byte mov
        t[5] = 0x66;
        t[6] = 0x90;
    }
    const uint8_t load_rcx[7] = {0x48, 0x8b, 0x0d, 10, 0, 0, 0};  // mov rcx, [rip + 10]
    memcpy(t + 7, load_rcx, 7);  // [7, 14): next insn at 14, data at 24
    const uint64_t tramp = ember_trampoline_gpa(i);
    const int32_t rel =
        static_cast<int32_t>(reinterpret_cast<uint64_t>(fast_syscall_entry) - (tramp + 19));
    t[14] = 0xe9;  // [14, 19): jmp fast_syscall_entry
    memcpy(t + 15, &rel, 4);
    memcpy(t + 24, &ret, 8);
    memcpy(reinterpret_cast<void*>(tramp), t, sizeof t);
}

// After a trapped `syscall` returning to `ret`: if it ends one of the two
// windows of the ABI header and the window's immediate is the number the
// call was made with (so the mov really ran just before it), route the
// window through a trampoline. The `syscall` bytes stay as they are.
void maybe_patch(uint64_t nr, uint64_t ret) {
    if ((g_sites >= EMBER_SITES_MAX && !g_free_slots) || ret < EMBER_GPA_APP_MIN + 9 ||
        !user_ok(ret - 9, 9))
        return;
    const auto* p = reinterpret_cast<const uint8_t*>(ret);
    if (p[-2] != 0x0f || p[-1] != 0x05) return;
    const uint32_t imm = load32(ret - 6);
    uint32_t mov_len;
    // A byte before the mov that could be a prefix changing its meaning
    // (REX: `41 b8` is mov to r8d; 66: a 16-bit mov; 0f: another opcode)
    // makes the window ambiguous: such a site keeps trapping.
    const uint8_t before = p[-8];
    const bool prefix = (before >= 0x40 && before <= 0x4f) || before == 0x66 || before == 0x0f;
    if (p[-7] == 0xb8 && !prefix && nr == imm) {
        mov_len = 5;  // mov $imm32, %eax (zero-extends)
    } else if (p[-9] == 0x48 && p[-8] == 0xc7 && p[-7] == 0xc0 &&
               nr == static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(imm)))) {
        mov_len = 7;  // mov $simm32, %rax (sign-extends)
    } else {
        return;
    }
    uint32_t i;
    if (!take_slot(maps::shared_at(ret - 2), &i)) return;
    const uint64_t start = ret - 2 - mov_len;
    write_trampoline(i, reinterpret_cast<const uint8_t*>(start), mov_len, ret);
    // jmp *slot: ff 24 25 + the slot's address. In the 5-byte form its two
    // high bytes (0f 05) overlap the unchanged syscall instruction.
    const uint64_t slot = ember_slot_va(i);
    uint8_t jmp[7] = {0xff, 0x24, 0x25};
    memcpy(jmp + 3, &slot, 4);
    memcpy(reinterpret_cast<void*>(start), jmp, mov_len == 5 ? 5 : 7);
}

}  // namespace

void sites_fork(const Mm* parent, const Mm* child) {
    const SiteOwner* p = owner_of(parent, false);
    if (!p) return;
    SiteOwner* c = owner_of(child, true);
    if (!c) {
        // Out of memory: the child's sites must never be handed out again.
        for (uint32_t i = 0; i < EMBER_SITES_MAX; ++i)
            if (p->slots[i / 64] & (1ull << (i % 64))) g_slot_refs[i] = kPinned;
        return;
    }
    for (uint32_t i = 0; i < EMBER_SITES_MAX; ++i) {
        if (!(p->slots[i / 64] & (1ull << (i % 64)))) continue;
        c->slots[i / 64] |= 1ull << (i % 64);
        if (g_slot_refs[i] != kPinned) g_slot_refs[i]++;
    }
}

void sites_forget(const Mm* m) {
    for (SiteOwner** pp = &g_owners; *pp; pp = &(*pp)->next) {
        SiteOwner* o = *pp;
        if (o->mm != m) continue;
        for (uint32_t i = 0; i < EMBER_SITES_MAX; ++i) {
            if (!(o->slots[i / 64] & (1ull << (i % 64))) || g_slot_refs[i] == kPinned) continue;
            if (--g_slot_refs[i] == 0) g_free_slots++;
        }
        *pp = o->next;
        kfree(o);
        return;
    }
}

}  // namespace k

extern "C" int64_t syscall_dispatch(SyscallFrame* f) {
    using namespace k;
    ember_boot_info* b = boot();
    b->stat_syscalls++;
    const uint64_t n = f->nr;
    if (f->path != 0) {
        b->stat_fast_syscalls++;
    } else if (b->flags & EMBER_FLAG_SYSCALL_PATCH) {
        maybe_patch(n, f->rip);
    }
    // Waiters on host events and pipes re-check after any syscall but the
    // futex and yield calls, which change nothing they wait for (sched.h).
    if (n != nr::futex && n != nr::sched_yield) g_state_gen++;
    if (n < kMaxSyscall && g_table[n].fn) {
        b->cur_syscall = static_cast<int64_t>(n);
        const int64_t r = g_table[n].fn(f->a0, f->a1, f->a2, f->a3, f->a4, f->a5);
        b->cur_syscall = -1;
        if (g_timer_next) timers_fire();
        if (r == -EPIPE) signal_epipe(n, f);
        if (r == -kErestartsys || r == -kErestartnohand || r == -kErestartRestartblock ||
            signal_pending_now())
            return signal_syscall_exit(f, r);
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
