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

// The slot take_slot() would give now; false when there is none.
bool next_slot(uint32_t* out) {
    if (g_sites < EMBER_SITES_MAX) {
        *out = g_sites;
        return true;
    }
    if (!g_free_slots) return false;
    uint32_t i = 0;
    while (i < EMBER_SITES_MAX && g_slot_refs[i] != 0) ++i;
    KCHECK(i < EMBER_SITES_MAX);
    *out = i;
    return true;
}

// A slot for a new site of the current address space: a fresh one, else
// one that no address space uses any more; false when there is none (or
// no memory to record the owner: the site keeps trapping).
bool take_slot(bool shared, uint32_t* out) {
    SiteOwner* o = owner_of(mm_current(), true);
    if (!o) return false;
    uint32_t i;
    if (!next_slot(&i)) return false;
    if (i == g_sites)
        g_sites++;
    else
        g_free_slots--;
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

// Writes trampoline i: the window's instruction (insn_len bytes, as it runs
// at the trampoline), rcx = the site's return address, then on to
// fast_syscall_entry.
void write_trampoline(uint32_t i, const uint8_t* insn, uint32_t insn_len, uint64_t ret) {
    uint8_t t[EMBER_TRAMPOLINE_SIZE];
    memset(t, 0xcc, sizeof t);  // int3 padding
    memcpy(t, insn, insn_len);  // [0, 7): the instruction
    if (insn_len == 5) {        // a 2-byte nop after a 5-byte one
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

// One instruction of the few kinds allowed between the anchoring mov and
// the syscall (see below): none touches memory, can fault or jumps.
struct Insn {
    uint32_t len;
    int dest;      // register written (0 = rax), -1 when not decoded
    bool rip_rel;  // lea with a rip-relative displacement at offset len - 4
};

Insn decode(const uint8_t* p) {
    uint32_t n = 0;
    uint8_t rex = 0;
    if (p[0] >= 0x40 && p[0] <= 0x4f) rex = p[n++];
    const int r = (rex & 4) ? 8 : 0, b = (rex & 1) ? 8 : 0;
    const uint8_t op = p[n++];
    if (op >= 0xb8 && op <= 0xbf && !(rex & 8)) return {n + 4, (op - 0xb8) + b, false};
    const uint8_t modrm = p[n++];
    const int mod = modrm >> 6, reg = ((modrm >> 3) & 7) + r, rm = (modrm & 7) + b;
    switch (op) {
        case 0x31:  // xor r/m, reg
        case 0x89:  // mov r/m, reg
            return mod == 3 ? Insn{n, rm, false} : Insn{0, -1, false};
        case 0x33:  // xor reg, r/m
        case 0x8b:  // mov reg, r/m
            return mod == 3 ? Insn{n, reg, false} : Insn{0, -1, false};
        case 0xc7:  // mov $simm32, r/m64 (register form only)
            return mod == 3 && ((modrm >> 3) & 7) == 0 && (rex & 8) ? Insn{n + 4, rm, false}
                                                                    : Insn{0, -1, false};
        case 0x8d: {  // lea: computes an address, touches no memory
            if (!(rex & 8) || mod == 3) return {0, -1, false};
            if (mod == 0 && (modrm & 7) == 5) return {n + 4, reg, true};
            if (mod == 0) return {0, -1, false};
            if ((modrm & 7) == 4) ++n;  // SIB (its base is a register for mod 1 and 2)
            return {n + (mod == 1 ? 1u : 4u), reg, false};
        }
        default:
            return {0, -1, false};
    }
}

// After a trapped `syscall` returning to `ret`, the instruction the patch
// replaces and its bytes as they run at the trampoline (`insn`; a
// rip-relative lea gets its displacement adjusted, tramp is where it
// runs). Two kinds of window, both anchored by a `mov $imm32,%eax` whose
// immediate is the number the call was made with (so it really ran) and
// which no prefix byte changes the meaning of:
//   b8 imm32 0f 05, or 48 c7 c0 simm32 0f 05: the mov itself is replaced
//       (rax is set at the trampoline);
//   b8 imm32, then instructions that only move registers (xor/mov between
//       registers, mov of an immediate, lea) and leave rax alone, the last
//       one 5 or 7 bytes long, then 0f 05: that last instruction is
//       replaced; the trampoline runs it and the call takes rax as it is,
//       exactly as the `syscall` would have.
// Decoding forward from the anchor fixes every instruction boundary; only
// one whole instruction is replaced, so a jump to any boundary of the
// window (or a thread resumed at one) still finds what it would have.
// Returns its length (5 or 7), 0 when the site is not such a window.
uint32_t window(uint64_t nr, uint64_t ret, uint64_t tramp, uint8_t* insn) {
    const auto* p = reinterpret_cast<const uint8_t*>(ret);
    auto prefix = [](uint8_t c) { return (c >= 0x40 && c <= 0x4f) || c == 0x66 || c == 0x0f; };
    auto anchor = [&](const uint8_t* a) {
        return a[0] == 0xb8 && !prefix(a[-1]) && load32(reinterpret_cast<uint64_t>(a) + 1) == nr;
    };
    if (anchor(p - 7)) {
        memcpy(insn, p - 7, 5);
        return 5;
    }
    if (p[-9] == 0x48 && p[-8] == 0xc7 && p[-7] == 0xc0 &&
        nr == static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(load32(ret - 6))))) {
        memcpy(insn, p - 9, 7);
        return 7;
    }
    constexpr int kReach = 24;  // bytes between the anchor's end and the syscall
    if (!user_ok(ret - 2 - kReach - 6, kReach + 6)) return 0;
    for (int gap = 5; gap <= kReach; ++gap) {
        const uint8_t* a = p - 2 - gap - 5;
        if (!anchor(a)) continue;
        const uint8_t* q = a + 5;
        Insn last{0, -1, false};
        while (q < p - 2) {
            last = decode(q);
            if (!last.len || last.dest == 0) break;
            q += last.len;
        }
        if (q != p - 2 || !last.len || last.dest == 0 || (last.len != 5 && last.len != 7)) continue;
        memcpy(insn, p - 2 - last.len, last.len);
        if (last.rip_rel) {
            const int64_t target =
                static_cast<int64_t>(ret - 2) + static_cast<int32_t>(load32(ret - 6));
            const int64_t disp = target - static_cast<int64_t>(tramp + 7);
            if (disp != static_cast<int32_t>(disp)) return 0;
            const auto d = static_cast<int32_t>(disp);
            memcpy(insn + 3, &d, 4);
        }
        return last.len;
    }
    return 0;
}

// After a trapped `syscall` returning to `ret`: if it ends a window
// (above), route the window's instruction through a trampoline. The
// `syscall` bytes stay as they are.
void maybe_patch(uint64_t nr, uint64_t ret) {
    if ((g_sites >= EMBER_SITES_MAX && !g_free_slots) || ret < EMBER_GPA_APP_MIN + 9 ||
        !user_ok(ret - 9, 9))
        return;
    const auto* p = reinterpret_cast<const uint8_t*>(ret);
    if (p[-2] != 0x0f || p[-1] != 0x05) return;
    // The window is decoded for the trampoline it will run at (a
    // rip-relative lea is relocated there): the slot is taken after.
    uint32_t i;
    if (!next_slot(&i)) return;
    uint8_t insn[7];
    const uint32_t len = window(nr, ret, ember_trampoline_gpa(i), insn);
    if (!len) return;
    const uint64_t start = ret - 2 - len;
    if (!user_ok_write(start, len == 5 ? 5 : 7)) return;  // code mprotect'ed read-only
    uint32_t taken;
    if (!take_slot(maps::shared_at(ret - 2), &taken)) return;
    KCHECK(taken == i);
    write_trampoline(i, insn, len, ret);
    // jmp *slot: ff 24 25 + the slot's address. In the 5-byte form its two
    // high bytes (0f 05) overlap the unchanged syscall instruction.
    const uint64_t slot = ember_slot_va(i);
    uint8_t jmp[7] = {0xff, 0x24, 0x25};
    memcpy(jmp + 3, &slot, 4);
    memcpy(reinterpret_cast<void*>(start), jmp, len == 5 ? 5 : 7);
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
