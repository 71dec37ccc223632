// mm_virt.cpp - virtual memory above the identity map (mm_space.h): page
// tables the kernel fills with pool frames at addresses no frame has.
//
// Pages are committed eagerly, when a range becomes accessible, never on a
// fault: an exception pushes its frame on the stack the faulting code runs
// on (no stack switch on PVM), so a demand fault on a not-yet-present stack
// page would double-fault and end the VM. Making a page present needs no
// TLB flush (x86 never caches a not-present translation); taking access
// away or a frame does (mm_tlb_stale, one CR3 reload per syscall at most),
// unless the PTE's accessed bit is clear: the CPU (and the PVM host's
// shadow MMU, which neither caches nor prefetches a guest PTE without
// setting it) sets A before it caches a translation.
//
// A page is committed with A and D clear, onto a zeroed frame: while D is
// clear and no other mapping shares the frame, the page still reads as
// zero, so MADV_DONTNEED (glibc's exiting thread on most of its cached
// 8 MiB stack) and fork skip it. D is never cleared on a present PTE
// (a cached writable translation would let writes skip setting it); a
// PROT_NONE page keeps it in its not-present PTE.
#include "kernel.h"
#include "mm_space.h"

namespace k {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;
constexpr uint64_t kPresent = 1, kWrite = 2, kUser = 4, kAccessed = 0x20, kDirty = 0x40;
constexpr uint64_t kHeld = 1ull << 9;  // software bit: frame kept, not present (PROT_NONE)
constexpr uint64_t kNx = 1ull << 63;   // no instruction fetch (EFER.NXE is set by the VMM)
constexpr uint64_t kTable = kPresent | kWrite | kUser | kAccessed;
constexpr uint64_t kFrame = 0x000ffffffffff000ull;

inline uint64_t* table(uint64_t pa) { return reinterpret_cast<uint64_t*>(pa); }

// A present PTE for frame pa with prot; `ad` carries the accessed and dirty
// bits over from the page's previous PTE (0 for a fresh zero frame).
uint64_t leaf(uint64_t pa, uint64_t prot, uint64_t ad) {
    return (pa & kFrame) | kPresent | kUser | (ad & (kAccessed | kDirty)) |
           ((prot & PROT_WRITE) ? kWrite : 0) | ((prot & PROT_EXEC) ? 0 : kNx);
}

// Still the zero page it was committed as: never written through this PTE
// (D clear) and the frame mapped nowhere else (a MAP_SHARED page's other
// mappings could have written it).
bool still_zero(uint64_t pte) { return !(pte & kDirty) && !frame_shared(pte & kFrame); }

// The next level's table under entry e (created when asked), nullptr when
// absent or out of memory.
uint64_t* next_level(uint64_t* e, bool create) {
    if (!(*e & kPresent)) {
        if (!create) return nullptr;
        const uint64_t t = pages_alloc(1);
        if (!t) return nullptr;
        *e = t | kTable;
    }
    return table(*e & kFrame);
}

uint64_t* pte_of(const Mm* m, uint64_t va, bool create) {
    uint64_t* t = table(m->pml4);
    for (int s = 39; s >= 21; s -= 9) {
        t = next_level(&t[(va >> s) & 511], create);
        if (!t) return nullptr;
    }
    return &t[(va >> 12) & 511];
}

// Calls fn(ctx, va, pte) for every PTE holding a frame in [lo, hi), walking
// only the tables that exist.
template <typename Fn>
void each_page(const Mm* m, uint64_t lo, uint64_t hi, Fn fn) {
    for (uint64_t va = lo; va < hi;) {
        uint64_t* t = table(m->pml4);
        bool skipped = false;
        for (int s = 39; s >= 21; s -= 9) {
            uint64_t* e = &t[(va >> s) & 511];
            if (!(*e & kPresent)) {
                const uint64_t span = 1ull << s;
                const uint64_t nxt = (va & ~(span - 1)) + span;
                va = nxt > va ? nxt : hi;
                skipped = true;
                break;
            }
            t = table(*e & kFrame);
        }
        if (skipped) continue;
        // The rest of this page table (2 MiB) in one go: glibc's exiting
        // thread hands 2,048 PTEs of its stack to madvise.
        for (uint64_t i = (va >> 12) & 511; i < 512 && va < hi; ++i, va += kPage)
            if (t[i] & (kPresent | kHeld)) fn(va, &t[i]);
    }
}

}  // namespace

int64_t virt_commit(uint64_t va, uint64_t len, uint64_t prot) {
    Mm* m = mm_current();
    for (uint64_t a = va; a < va + len; a += kPage) {
        uint64_t* pte = pte_of(m, a, true);
        if (!pte) return -ENOMEM;
        const uint64_t old = *pte;
        if (old & (kPresent | kHeld)) {
            const uint64_t e = leaf(old, prot, old);
            // Taking write or execute away must not outlive a cached
            // translation (none unless A is set).
            if ((old & (kPresent | kAccessed)) == (kPresent | kAccessed) &&
                (((old & kWrite) && !(e & kWrite)) || (!(old & kNx) && (e & kNx))))
                mm_tlb_stale();
            *pte = e;
            continue;
        }
        const uint64_t f = frame_take(false);
        if (!f) return -ENOMEM;
        *pte = leaf(f, prot, 0);
    }
    return 0;
}

void virt_protect_none(uint64_t va, uint64_t len) {
    each_page(mm_current(), va, va + len, [](uint64_t, uint64_t* pte) {
        // A is dropped: the flush at the end of this syscall (when A was
        // set) leaves no cached translation behind.
        if ((*pte & (kPresent | kAccessed)) == (kPresent | kAccessed)) mm_tlb_stale();
        *pte = (*pte & (kFrame | kDirty)) | kHeld;
    });
}

void virt_release(Mm* m, uint64_t va, uint64_t len) {
    const bool live = m == mm_current();
    each_page(m, va, va + len, [live](uint64_t, uint64_t* pte) {
        if (live && (*pte & (kPresent | kAccessed)) == (kPresent | kAccessed)) mm_tlb_stale();
        frame_drop(*pte & kFrame);
        *pte = 0;
    });
}

bool virt_move(uint64_t from, uint64_t to, uint64_t len) {
    Mm* m = mm_current();
    // The tables first, so that a failure leaves every page where it was.
    for (uint64_t off = 0; off < len; off += kPage)
        if (virt_frame(from + off) && !pte_of(m, to + off, true)) return false;
    each_page(m, from, from + len, [m, from, to](uint64_t a, uint64_t* pte) {
        if ((*pte & (kPresent | kAccessed)) == (kPresent | kAccessed)) mm_tlb_stale();
        // The new PTE has no cached translation yet: A starts clear.
        *pte_of(m, to + (a - from), false) = *pte & ~kAccessed;
        *pte = 0;
    });
    return true;
}

void virt_zero(uint64_t va, uint64_t len) {
    each_page(mm_current(), va, va + len, [](uint64_t a, uint64_t* pte) {
        const uint64_t old = *pte;
        if (still_zero(old)) return;
        if ((old & (kPresent | kWrite)) == (kPresent | kWrite)) {
            memset(reinterpret_cast<void*>(a), 0, kPage);
            return;
        }
        // Read-only or PROT_NONE: a fresh zero frame (read-only) or none
        // (PROT_NONE commits one when it becomes accessible again).
        if (old & kPresent) {
            const uint64_t f = frame_take(false);
            if (!f) return;  // out of memory: the bytes stay (madvise is advice)
            *pte = (old & ~(kFrame | kAccessed | kDirty)) | f;
            if (old & kAccessed) mm_tlb_stale();
        } else {
            *pte = 0;
        }
        frame_drop(old & kFrame);
    });
}

bool virt_accessible(uint64_t va, uint64_t len, bool write) {
    const Mm* m = mm_current();
    const uint64_t need = write ? (kPresent | kWrite) : kPresent;
    for (uint64_t a = va & ~(kPage - 1); a < va + len; a += kPage) {
        const uint64_t* pte = pte_of(m, a, false);
        if (!pte || (*pte & need) != need) return false;
    }
    return true;
}

uint64_t virt_frame(uint64_t va) {
    const uint64_t* pte = pte_of(mm_current(), va, false);
    return pte && (*pte & (kPresent | kHeld)) ? *pte & kFrame : 0;
}

uint64_t virt_frame_for_write(uint64_t va) {
    uint64_t* pte = pte_of(mm_current(), va, false);
    if (!pte || !(*pte & (kPresent | kHeld))) return 0;
    *pte |= kDirty;  // setting D needs no flush
    return *pte & kFrame;
}

bool virt_fork(Mm* c) {
    bool ok = true;
    each_page(mm_current(), kVirtLo, kVirtHi, [c, &ok](uint64_t a, uint64_t* pte) {
        if (!ok) return;
        uint64_t* cpte = pte_of(c, a, true);
        if (!cpte) {
            ok = false;
            return;
        }
        const uint64_t pa = *pte & kFrame;
        if (maps::shared_at(a)) {
            // Either side may now write the frame behind the other's PTE:
            // neither may take it for a zero page any more.
            frame_ref(pa);
            *pte |= kDirty;
            *cpte = *pte & ~kAccessed;
            return;
        }
        // A PROT_NONE page's bytes are not reachable through its address,
        // and a page never written is zero: the child's copy starts zeroed
        // (a fresh frame) instead.
        const bool copy = (*pte & kPresent) && !still_zero(*pte);
        const uint64_t f = frame_take(copy);
        if (!f) {
            ok = false;
            return;
        }
        if (copy) memcpy(reinterpret_cast<void*>(f), reinterpret_cast<const void*>(a), kPage);
        *cpte = (*pte & ~(kFrame | kAccessed | kDirty)) | (copy ? kDirty : 0) | f;
    });
    return ok;
}

void virt_free_tables(Mm* m) {
    uint64_t* pml4 = table(m->pml4);
    for (uint64_t i = 0; i < 256; ++i) {
        if (!(pml4[i] & kPresent)) continue;
        uint64_t* pdpt = table(pml4[i] & kFrame);
        // The identity map's GiBs are mm_space.cpp's (pt_free).
        for (uint64_t j = i == 0 ? EMBER_MAX_PD : 0; j < 512; ++j) {
            if (!(pdpt[j] & kPresent)) continue;
            uint64_t* pd = table(pdpt[j] & kFrame);
            for (uint64_t l = 0; l < 512; ++l)
                if (pd[l] & kPresent) pages_free(pd[l] & kFrame, 1);
            pages_free(pdpt[j] & kFrame, 1);
            pdpt[j] = 0;
        }
        if (i != 0) {
            pages_free(pml4[i] & kFrame, 1);
            pml4[i] = 0;
        }
    }
}

}  // namespace k
