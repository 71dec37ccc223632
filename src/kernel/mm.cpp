// mm.cpp - guest memory management: a page allocator over the application
// region, the kernel heap, and brk/mmap/munmap/mremap/mprotect/madvise.
//
// Guest memory is identity mapped and fully mapped in the page tables (the
// VMM never changes them), so "mapping" memory means reserving pages in a
// bitmap. Pages the guest never touched are zero and cost the host nothing;
// a page that was freed is marked dirty and zeroed when it is handed out
// again. Allocation is top-down; brk grows up from the end of the image.
// mm_maps.cpp remembers what the application mapped, and how, for
// /proc/self/maps. Reservations and mappings asked for above guest memory
// go to mm_virt.cpp's address space there instead.
#include "kernel.h"
#include "mm_maps.h"
#include "mm_space.h"
#include "vol_mmap.h"

namespace k {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

uint64_t g_pool_lo;  // first byte of the page pool (EMBER_GPA_APP_MIN)
uint64_t g_npages;   // pages in the pool
uint64_t* g_used;    // bit set: page reserved (not free for a fresh allocation)
uint64_t* g_dirty;   // bit set: page may hold old data
uint64_t* g_none;    // bit set: reserved PROT_NONE, never made accessible since
uint64_t* g_own;     // the current process's user pages (Mm::own)
uint64_t* g_kern;    // bit set: held by the kernel (pages_alloc), identity everywhere
uint64_t g_free_pages;
uint64_t g_brk_start, g_brk;

// Several address spaces (mm_space.h): from the first fork or exec on. Then
// a page index i is used while some process maps address i (g_vref) or
// something holds frame i (g_pref: the kernel, or a process's mapping).
bool g_multi;
uint16_t* g_vref;
uint16_t* g_pref;
Mm g_mm1;              // the first process's
Mm* g_cur = &g_mm1;    // the current process's
bool g_tlb_stale;      // a live override changed: reload CR3 before user access
uint64_t g_cursor[2];  // find_free: where the last scan for clean (0) / dirty (1) pages ended
bool g_none_free[2];   // a full scan found none; cleared when pages are freed

inline uint64_t page_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }
inline bool test(const uint64_t* bm, uint64_t i) { return (bm[i / 64] >> (i % 64)) & 1; }
inline void set(uint64_t* bm, uint64_t i) { bm[i / 64] |= 1ull << (i % 64); }
inline void clear(uint64_t* bm, uint64_t i) { bm[i / 64] &= ~(1ull << (i % 64)); }
inline uint64_t page_index(uint64_t addr) { return (addr - g_pool_lo) / kPage; }
inline uint64_t page_addr(uint64_t i) { return g_pool_lo + i * kPage; }

// True when [addr, addr+len) is page-aligned and inside the pool.
bool in_pool(uint64_t addr, uint64_t len) {
    return addr % kPage == 0 && len % kPage == 0 && addr >= g_pool_lo && len <= g_npages * kPage &&
           addr - g_pool_lo <= g_npages * kPage - len;
}

void zero_if_dirty(uint64_t i) {
    if (test(g_dirty, i)) {
        memset(reinterpret_cast<void*>(page_addr(i)), 0, kPage);
        clear(g_dirty, i);
    }
}

// Multi mode: g_used follows the two counts.
void recount(uint64_t i) {
    const bool u = g_vref[i] || g_pref[i];
    if (u && !test(g_used, i)) {
        set(g_used, i);
        --g_free_pages;
    } else if (!u && test(g_used, i)) {
        clear(g_used, i);
        ++g_free_pages;
    }
}

void flush_tlb() {
    if (g_tlb_stale) pt_load(g_cur);
    g_tlb_stale = false;
}

// Highest run of n free pages, as a page index; g_npages when none.
uint64_t find_free_top_down(uint64_t n) {
    if (n == 0 || n > g_npages) return g_npages;
    uint64_t run = 0;
    uint64_t i = g_npages;
    while (i > 0) {
        // Skip fully used words quickly.
        if (i % 64 == 0 && g_used[i / 64 - 1] == ~0ull) {
            run = 0;
            i -= 64;
            continue;
        }
        --i;
        if (test(g_used, i)) {
            run = 0;
        } else if (++run == n) {
            return i;
        }
    }
    return g_npages;
}

// Kernel pages (free, zeroed when dirty): identity in every address space.
// kern=false: a frame behind another address of some process.
void take_kernel(uint64_t first, uint64_t n, bool kern = true) {
    for (uint64_t i = first; i < first + n; ++i) {
        if (kern) set(g_kern, i);
        if (g_multi) {
            g_pref[i]++;
            recount(i);
        } else if (!test(g_used, i)) {
            set(g_used, i);
            --g_free_pages;
        }
        clear(g_none, i);
        zero_if_dirty(i);
    }
}

void release_kernel(uint64_t first, uint64_t n) {
    g_none_free[0] = g_none_free[1] = false;
    for (uint64_t i = first; i < first + n; ++i) {
        if (!test(g_used, i)) continue;
        if (g_multi) {
            if (g_pref[i]) g_pref[i]--;
            recount(i);
        } else {
            clear(g_used, i);
            ++g_free_pages;
        }
        set(g_dirty, i);
        clear(g_none, i);
        clear(g_kern, i);
    }
}

// Free pages by what the host has behind them. A page the guest never
// touched costs nothing until its first touch, which costs a host fault
// (~85 us on this week's PVM hosts: fork copied 2,000 never-used pages of
// an 8 MiB stack in 400 ms); a page used before is backed already.
// kind: the first free page whose dirty bit is `dirty`, scanning words from
// a cursor; g_npages when none.
uint64_t find_free(bool dirty) {
    if (g_none_free[dirty]) return g_npages;
    const uint64_t words = (g_npages + 63) / 64;
    for (uint64_t k = 0; k < words; ++k) {
        const uint64_t w = (g_cursor[dirty] + words - k) % words;
        const uint64_t bits = ~g_used[w] & (dirty ? g_dirty[w] : ~g_dirty[w]);
        if (!bits) continue;
        g_cursor[dirty] = w;
        return w * 64 + 63 - __builtin_clzll(bits);
    }
    g_none_free[dirty] = true;
    return g_npages;
}

// A frame for a page of the current process mapped elsewhere (fork copies,
// fixed addresses another process holds). Zeroed unless `overwrite` (the
// caller fills all of it); backed by the host already when possible, or
// (fresh) never touched; g_npages when none.
uint64_t take_frame(bool overwrite = false, bool fresh = false) {
    uint64_t f = fresh ? find_free(false) : find_free(true);
    if (f == g_npages) f = find_free(!fresh);
    if (f == g_npages) f = find_free_top_down(1);
    if (f == g_npages) return f;
    if (overwrite) clear(g_dirty, f);
    take_kernel(f, 1, false);
    return f;
}

// The pages become the current process's user memory. zero=false
// (PROT_NONE mappings) neither zeroes freed pages, which sys_mprotect does
// when it makes them accessible, nor lets their release mark them dirty:
// Go reserves and unmaps a 64 MiB arena at each of up to 128 address
// hints; zeroing each retry took seconds, and zeroing the never-touched
// pages on their next use makes the host back them (~40 us per page here).
// A PROT_NONE mapping of anonymous memory is enforced (pool_apply_prot),
// one of a file is not, so a program that writes to the latter (a fault on
// Linux) may see its own bytes again in a later mapping; nothing crosses
// the VM. A page another process (or the kernel)
// holds gets a frame of its own behind this address: multi mode.
// false: out of memory (pages taken so far stay taken).
bool take(uint64_t first, uint64_t n, bool zero = true) {
    bool ok = true;
    for (uint64_t i = first; i < first + n && ok; ++i) {
        if (test(g_own, i)) {
            if (zero) {
                clear(g_none, i);
                if (!g_multi || pt_lookup(g_cur, page_addr(i)) == page_addr(i)) zero_if_dirty(i);
            }
            continue;
        }
        // Kernel memory is the same in every address space.
        if (test(g_kern, i)) return false;
        if (test(g_used, i) && !g_multi && !mm_go_multi()) return false;
        if (!test(g_used, i)) {
            if (g_multi) {
                g_vref[i]++;
                g_pref[i]++;
                recount(i);
            } else {
                set(g_used, i);
                --g_free_pages;
            }
            if (!zero) set(g_none, i);
            if (zero) clear(g_none, i);
            if (zero) zero_if_dirty(i);
        } else {
            const uint64_t f = take_frame();
            if (f == g_npages || !pt_map(g_cur, page_addr(i), page_addr(f))) {
                if (f != g_npages) release_kernel(f, 1);
                ok = false;
                break;
            }
            g_vref[i]++;
            recount(i);
            g_tlb_stale = true;
        }
        set(g_own, i);
    }
    flush_tlb();
    return ok;
}

// Drops the current process's pages in the range (others are not its own).
void release_user(Mm* m, uint64_t first, uint64_t n, bool restore_identity) {
    g_none_free[0] = g_none_free[1] = false;
    for (uint64_t i = first; i < first + n; ++i) {
        if (!test(m->own, i)) continue;
        clear(m->own, i);
        if (!g_multi) {
            clear(g_used, i);
            if (!test(g_none, i)) set(g_dirty, i);
            clear(g_none, i);
            ++g_free_pages;
            continue;
        }
        const uint64_t va = page_addr(i), pa = pt_lookup(m, va);
        g_vref[i]--;
        const uint64_t f = page_index(pa);
        if (pa != va) {
            if (restore_identity) {
                pt_map(m, va, va);
                g_tlb_stale = true;
            }
            if (pa >= g_pool_lo && f < g_npages) {
                g_pref[f]--;
                set(g_dirty, f);
                recount(f);
            }
        } else {
            // The address goes back to a plain identity page.
            if (restore_identity && m->nprot && pt_prot(m, va) != (PROT_READ | PROT_WRITE))
                pt_protect(m, va, PROT_READ | PROT_WRITE);
            g_pref[i]--;
            if (!test(g_none, i)) set(g_dirty, i);
        }
        recount(i);
    }
}

void release(uint64_t first, uint64_t n) {
    release_user(g_cur, first, n, true);
    flush_tlb();
    maps::clear(page_addr(first), n * kPage);
}

constexpr uint64_t kRw = PROT_READ | PROT_WRITE;

// mprotect is enforced in the pool on anonymous memory (mmap'd, heap,
// stack), through the process's own page tables. Program segments and file
// mappings keep full access there: every glibc program makes its RELRO
// read-only at start, and enforcing that would give every instance its own
// page tables (a CR3 load, ~200 us here).
bool enforced_at(uint64_t va) {
    const MapKind k = maps::kind_at(va);
    return k == MapKind::kAnon || k == MapKind::kHeap || k == MapKind::kStack;
}

// The current process's pool pages in the range get back full access
// (before the kernel copies or zeroes them, or they change hands). Widening
// needs no TLB flush.
void pool_widen(uint64_t first, uint64_t n) {
    if (!g_multi || !g_cur->nprot) return;
    for (uint64_t i = first; i < first + n; ++i)
        if (test(g_own, i) && pt_prot(g_cur, page_addr(i)) != kRw)
            pt_protect(g_cur, page_addr(i), kRw);
}

// Page i of the current process gets protection prot in its page table
// (where enforced). false: out of memory.
bool pool_protect(uint64_t i, uint64_t prot) {
    const uint64_t va = page_addr(i);
    if ((prot & PROT_WRITE) || !enforced_at(va)) {
        if (g_multi && pt_prot(g_cur, va) != kRw) pt_protect(g_cur, va, kRw);
        return true;
    }
    if (!mm_go_multi() || !pt_protect(g_cur, va, prot)) return false;
    g_tlb_stale = true;
    return true;
}

// The current process's pool pages in the range get the protection the
// mapping list gives them (after mmap and mremap). false: out of memory.
bool pool_apply_prot(uint64_t first, uint64_t n) {
    bool ok = true;
    for (uint64_t i = first; i < first + n && ok; ++i)
        if (test(g_own, i)) ok = pool_protect(i, maps::prot_at(page_addr(i)));
    flush_tlb();
    return ok;
}

// No page of the range is the current process's.
bool range_free(uint64_t first, uint64_t n) {
    for (uint64_t i = first; i < first + n; ++i)
        if (test(g_own, i)) return false;
    return true;
}

// No page of the range is used at all (a fresh identity mapping).
bool range_unused(uint64_t first, uint64_t n) {
    for (uint64_t i = first; i < first + n; ++i)
        if (test(g_used, i)) return false;
    return true;
}

// ---- kernel heap ----------------------------------------------------------
// Small blocks: power-of-two classes from 32 to 2048 bytes carved from pages.
// Large blocks: whole pages. Every block has a 16-byte header.
struct BlockHeader {
    uint64_t cls;     // class index, or kLarge
    uint64_t npages;  // for large blocks
};
constexpr uint64_t kLarge = ~0ull;
constexpr int kClasses = 7;  // 32 << 0 .. 32 << 6 = 2048
struct FreeBlock {
    FreeBlock* next;
};
FreeBlock* g_free_lists[kClasses];

}  // namespace

void mm_init() {
    ember_boot_info* b = boot();
    g_pool_lo = EMBER_GPA_APP_MIN;
    // The pool is RAM (the root filesystem has its own slot above it), less
    // the interpreter at its top.
    uint64_t top = ram_size();
    if (b->rootfs_size && b->rootfs_gpa < top) top = b->rootfs_gpa & ~(kPage - 1);
    if (b->interp_hi && b->interp_lo < top) top = b->interp_lo;
    KCHECK(top > g_pool_lo);
    g_npages = (top - g_pool_lo) / kPage;
    // The five bitmaps live at the top of the pool.
    const uint64_t words = (g_npages + 63) / 64;
    const uint64_t bm_pages = page_up(5 * words * 8) / kPage;
    KCHECK(bm_pages < g_npages);
    g_used = reinterpret_cast<uint64_t*>(page_addr(g_npages - bm_pages));
    g_dirty = g_used + words;
    g_none = g_dirty + words;
    g_own = g_none + words;
    g_kern = g_own + words;
    g_mm1.own = g_own;
    g_mm1.refs = 1;
    g_mm1.boot_interp = true;
    // The memory is fresh (zero); mark the tail bits past g_npages used so
    // the word-skipping scan stays correct.
    for (uint64_t i = g_npages; i < words * 64; ++i) set(g_used, i);
    g_free_pages = g_npages;
    take_kernel(g_npages - bm_pages, bm_pages);
    // Addresses behind the syscall slots' alias are never handed out.
    if (slots_mapped() && in_pool(EMBER_SLOT_VA, EMBER_SLOTS_SIZE))
        take_kernel(page_index(EMBER_SLOT_VA), EMBER_SLOTS_SIZE / kPage);
    KCHECK(b->image_lo >= g_pool_lo && b->image_hi <= top && b->image_lo <= b->image_hi);
    take(page_index(b->image_lo), (b->image_hi - b->image_lo) / kPage);
    g_brk_start = g_brk = b->image_hi;
    maps::init_image();
}

uint64_t pages_alloc(uint64_t npages) {
    const uint64_t first = find_free_top_down(npages);
    if (first == g_npages) return 0;
    take_kernel(first, npages);
    return page_addr(first);
}

void pages_free(uint64_t addr, uint64_t npages) {
    if (!in_pool(addr, npages * kPage)) return;
    release_kernel(page_index(addr), npages);
}

// ---- address spaces (mm_space.h) -------------------------------------------

Mm* mm_current() { return g_cur; }

bool mm_go_multi() {
    if (g_multi) return true;
    const uint64_t bytes = page_up(2 * g_npages * sizeof(uint16_t));
    const uint64_t counts = pages_alloc(bytes / kPage);
    if (!counts) return false;
    g_vref = reinterpret_cast<uint16_t*>(counts);
    g_pref = g_vref + g_npages;
    for (uint64_t i = 0; i < g_npages; ++i) {
        if (!test(g_used, i)) continue;
        g_pref[i] = 1;
        if (test(g_own, i)) g_vref[i] = 1;
    }
    g_multi = true;
    if (!pt_build(&g_mm1)) panic("no memory for the first address space");
    pt_load(&g_mm1);
    return true;
}

namespace {

Mm* mm_alloc() {
    auto* m = static_cast<Mm*>(kmalloc(sizeof(Mm)));
    if (!m) return nullptr;
    memset(m, 0, sizeof *m);
    m->refs = 1;
    m->own = static_cast<uint64_t*>(kcalloc((g_npages + 63) / 64, 8));
    if (!m->own || !pt_build(m)) {
        kfree(m->own);
        kfree(m);
        return nullptr;
    }
    return m;
}

}  // namespace

Mm* mm_new_empty() {
    if (!mm_go_multi()) return nullptr;
    return mm_alloc();
}

namespace {

// The first program's dynamic loader lies above the pool (the VMM put it
// there, boot info interp_lo/hi): its writable data (the link maps, the
// load lock, the TLS generation) must not be shared across fork, so the
// child gets a copy of each of its pages, as of the pool's private pages.
bool interp_fork(Mm* c) {
    const ember_boot_info* b = boot();
    if (!g_cur->boot_interp || !b->interp_hi) return true;
    const uint64_t n = (b->interp_hi - b->interp_lo) / kPage;
    c->interp_frames = static_cast<uint64_t*>(kcalloc(n, 8));
    if (!c->interp_frames) return false;
    c->boot_interp = true;
    for (uint64_t k = 0; k < n; ++k) {
        const uint64_t va = b->interp_lo + k * kPage;
        const uint64_t f = take_frame(true);
        if (f == g_npages) return false;
        const uint64_t frame = page_addr(f);
        memcpy(reinterpret_cast<void*>(frame), reinterpret_cast<const void*>(va), kPage);
        if (!pt_map(c, va, frame)) {
            release_kernel(f, 1);
            return false;
        }
        c->interp_frames[k] = frame;  // the kernel's reference is the mapping's
    }
    return true;
}

void interp_release(Mm* m) {
    const ember_boot_info* b = boot();
    if (!m->interp_frames) return;
    const uint64_t n = (b->interp_hi - b->interp_lo) / kPage;
    for (uint64_t k = 0; k < n; ++k)
        if (m->interp_frames[k]) release_kernel(page_index(m->interp_frames[k]), 1);
    kfree(m->interp_frames);
    m->interp_frames = nullptr;
}

}  // namespace

// Eager copy: every private page of the parent gets a new frame now (a
// copy on write would make fork cost what the child touches; not yet).
// MAP_SHARED pages stay shared: the child maps the same frame.
Mm* mm_fork(uint64_t sp) {
    if (!mm_go_multi()) return nullptr;
    Mm* c = mm_alloc();
    if (!c) return nullptr;
    Mm* p = g_cur;
    if (!maps::copy(&c->maps)) {
        mm_release(c);
        return nullptr;
    }
    c->brk_start = g_brk_start;
    c->brk = g_brk;
    const uint64_t words = (g_npages + 63) / 64;
    for (uint64_t w = 0; w < words; ++w) {
        for (uint64_t bits = p->own[w]; bits; bits &= bits - 1) {
            const uint64_t i = w * 64 + __builtin_ctzll(bits);
            const uint64_t va = page_addr(i), pa = pt_lookup(p, va);
            uint64_t frame;
            // The part of the stack below the red zone holds nothing the
            // child may read: it gets untouched zero pages, not copies. Nor
            // is a PROT_NONE page readable here (as above the identity map,
            // the child's copy starts zeroed).
            const uint64_t prot = pt_prot(p, va);
            const bool dead =
                prot == 0 || (va + kPage <= sp - 128 && maps::kind_at(va) == MapKind::kStack);
            if (maps::shared_at(va)) {
                frame = pa;
            } else if (dead) {
                const uint64_t f = take_frame(false, true);
                if (f == g_npages) {
                    mm_release(c);
                    return nullptr;
                }
                frame = page_addr(f);
                g_pref[f]--;
            } else {
                const uint64_t f = take_frame(true);
                if (f == g_npages) {
                    mm_release(c);
                    return nullptr;
                }
                frame = page_addr(f);
                memcpy(reinterpret_cast<void*>(frame), reinterpret_cast<const void*>(va), kPage);
                g_pref[f]--;  // take_frame counted a kernel reference; below counts the mapping
            }
            if (frame != va && !pt_map(c, va, frame)) {
                if (frame != pa) release_kernel(page_index(frame), 1);
                mm_release(c);
                return nullptr;
            }
            if (prot != kRw && !pt_protect(c, va, prot)) {
                mm_release(c);
                return nullptr;
            }
            set(c->own, i);
            g_vref[i]++;
            const uint64_t fi = page_index(frame);
            g_pref[fi]++;
            recount(i);
            recount(fi);
        }
    }
    if (!interp_fork(c) || !virt_fork(c) || !volmap_fork(c)) {
        mm_release(c);
        return nullptr;
    }
    return c;
}

void mm_share(Mm* m) { m->refs++; }

void mm_set_current(Mm* m) {
    if (m == g_cur) return;
    g_cur->brk_start = g_brk_start;
    g_cur->brk = g_brk;
    maps::save(&g_cur->maps);
    g_cur = m;
    g_own = m->own;
    g_brk_start = m->brk_start;
    g_brk = m->brk;
    maps::load(&m->maps);
    pt_load(m);
    g_tlb_stale = false;
}

void mm_release(Mm* m) {
    if (--m->refs) return;
    volmap_forget(m);
    KCHECK(m != g_cur);
    const uint64_t words = (g_npages + 63) / 64;
    for (uint64_t w = 0; w < words; ++w)
        if (m->own[w]) release_user(m, w * 64, 64, false);
    if (g_multi && m->pml4) {
        virt_release(m, kVirtLo, kVirtHi - kVirtLo);
        virt_free_tables(m);
    }
    maps::free_state(&m->maps);
    interp_release(m);
    pt_free(m);
    if (m != &g_mm1) {
        kfree(m->own);
        kfree(m);
    }
}

int64_t mm_map_fixed(uint64_t va, uint64_t len) {
    len = page_up(len + (va & (kPage - 1)));
    va &= ~(kPage - 1);
    if (!in_pool(va, len)) return -ENOMEM;
    return take(page_index(va), len / kPage) ? 0 : -ENOMEM;
}

uint64_t mm_map_anywhere(uint64_t len) {
    const uint64_t n = page_up(len) / kPage;
    const uint64_t first = find_free_top_down(n);
    if (first == g_npages || !take(first, n)) return 0;
    return page_addr(first);
}

void mm_set_brk(uint64_t start) { g_brk_start = g_brk = start; }

uint64_t mm_futex_key(uint64_t va) {
    if (!g_multi) return va;
    if (va >= kVirtLo) {
        // Private words of different processes at one address never meet.
        const uint64_t f = virt_frame(va & ~(kPage - 1));
        return f ? f | (va & (kPage - 1)) : va;
    }
    return pt_lookup(g_cur, va & ~(kPage - 1)) | (va & (kPage - 1));
}

bool mm_is_mapped(uint64_t va) { return maps::kind_at(va & ~(kPage - 1)) != MapKind::kNone; }

// Copies go to frames the host backs already; fresh commits to never
// touched ones (a thread stack or an arena is mostly never touched).
uint64_t frame_take(bool overwrite) {
    const uint64_t f = take_frame(overwrite, !overwrite);
    return f == g_npages ? 0 : page_addr(f);
}

void frame_ref(uint64_t pa) {
    const uint64_t f = page_index(pa);
    g_pref[f]++;
    recount(f);
}

void frame_drop(uint64_t pa) {
    g_none_free[0] = g_none_free[1] = false;
    const uint64_t f = page_index(pa);
    if (g_pref[f]) g_pref[f]--;
    set(g_dirty, f);
    recount(f);
}

bool frame_shared(uint64_t pa) { return g_pref[page_index(pa)] > 1; }

void mm_tlb_stale() { g_tlb_stale = true; }
void mm_flush_tlb() { flush_tlb(); }

uint64_t mem_free_bytes() { return g_free_pages * kPage; }

void* kmalloc(size_t n) {
    if (n > (1ull << 40)) return nullptr;
    const size_t need = n + sizeof(BlockHeader);
    if (need <= (32u << (kClasses - 1))) {
        int cls = 0;
        while ((32u << cls) < need) ++cls;
        if (!g_free_lists[cls]) {
            const uint64_t page = pages_alloc(1);
            if (!page) return nullptr;
            const uint64_t size = 32u << cls;
            for (uint64_t off = 0; off + size <= kPage; off += size) {
                auto* fb = reinterpret_cast<FreeBlock*>(page + off);
                fb->next = g_free_lists[cls];
                g_free_lists[cls] = fb;
            }
        }
        FreeBlock* fb = g_free_lists[cls];
        g_free_lists[cls] = fb->next;
        memset(fb, 0, 32u << cls);
        auto* h = reinterpret_cast<BlockHeader*>(fb);
        h->cls = static_cast<uint64_t>(cls);
        return h + 1;
    }
    const uint64_t np = page_up(need) / kPage;
    const uint64_t addr = pages_alloc(np);
    if (!addr) return nullptr;
    auto* h = reinterpret_cast<BlockHeader*>(addr);
    h->cls = kLarge;
    h->npages = np;
    return h + 1;
}

void* kcalloc(size_t count, size_t size) {
    if (size && count > ~size_t{0} / size) return nullptr;
    return kmalloc(count * size);
}

void kfree(void* p) {
    if (!p) return;
    auto* h = static_cast<BlockHeader*>(p) - 1;
    if (h->cls == kLarge) {
        pages_free(reinterpret_cast<uint64_t>(h), h->npages);
        return;
    }
    const uint64_t cls = h->cls;  // the free-list link overwrites the header
    KCHECK(cls < kClasses);
    auto* fb = reinterpret_cast<FreeBlock*>(h);
    fb->next = g_free_lists[cls];
    g_free_lists[cls] = fb;
}

bool user_ok(uint64_t addr, uint64_t len) {
    if (addr >= kVirtLo)
        return g_multi && virt_range(addr, len) && virt_accessible(addr, len, false);
    const uint64_t size = boot()->mem_size;
    if (!(addr >= EMBER_GPA_APP_MIN && len <= size && addr <= size - len)) return false;
    // The read-only alias of the syscall slots is not the application's.
    if (slots_mapped() && addr + len > EMBER_SLOT_VA && addr < EMBER_SLOT_VA + EMBER_SLOTS_SIZE)
        return false;
    return !g_multi || pt_access(g_cur, addr, len, false);
}

bool user_ok_write(uint64_t addr, uint64_t len) {
    if (addr >= kVirtLo)
        return g_multi && virt_range(addr, len) && virt_accessible(addr, len, true);
    return user_ok(addr, len) && (!g_multi || pt_access(g_cur, addr, len, true));
}

int64_t user_strncpy(char* out, uint64_t user_src, size_t cap) {
    const uint64_t size = boot()->mem_size;
    if (user_src < EMBER_GPA_APP_MIN) return -EFAULT;
    // Page by page where a page may be inaccessible.
    const bool paged = user_src >= kVirtLo || (g_multi && g_cur->nprot);
    for (size_t i = 0; i < cap; ++i) {
        const uint64_t a = user_src + i;
        if (paged ? (i == 0 || a % kPage == 0) && !user_ok(a, 1) : a >= size) return -EFAULT;
        out[i] = *reinterpret_cast<const char*>(user_src + i);
        if (!out[i]) return static_cast<int64_t>(i);
    }
    return -ENAMETOOLONG;
}

// ---- syscalls ---------------------------------------------------------------
namespace {

int64_t sys_brk(uint64_t addr, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (addr < g_brk_start) return static_cast<int64_t>(g_brk);
    const uint64_t cur_end = page_up(g_brk), new_end = page_up(addr);
    if (new_end > g_pool_lo + g_npages * kPage) return static_cast<int64_t>(g_brk);
    if (new_end > cur_end) {
        const uint64_t first = page_index(cur_end), n = (new_end - cur_end) / kPage;
        if (!(g_multi ? range_free(first, n) : range_unused(first, n)))
            return static_cast<int64_t>(g_brk);
        if (!take(first, n)) {
            release(first, n);
            return static_cast<int64_t>(g_brk);
        }
        maps::set(cur_end, new_end - cur_end, MapKind::kHeap, PROT_READ | PROT_WRITE, false);
    } else if (new_end < cur_end) {
        release(page_index(new_end), (cur_end - new_end) / kPage);
    }
    g_brk = addr;
    return static_cast<int64_t>(g_brk);
}

// A mapping above the identity map (mm_space.h, "virtual memory"): at addr
// when MAP_FIXED or when the hint is free, else top-down below kVirtTop.
// Accessible mappings are committed now; file contents are read in through
// the mapping, which is writable until they are.
int64_t mmap_virt(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int fd,
                  uint64_t off) {
    if (!mm_go_multi()) return -ENOMEM;
    maps::prepare();
    uint64_t where = addr;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) && maps::any_in(addr, len))
            return -EEXIST;
        virt_release(g_cur, addr, len);
        maps::clear(addr, len);
    } else if (!addr || addr % kPage || !virt_range(addr, len) || maps::any_in(addr, len)) {
        where = maps::find_gap(kVirtLo, kVirtTop, len);
        if (!where) return -ENOMEM;
    }
    const bool anon = flags & MAP_ANONYMOUS;
    int64_t r = 0;
    if (prot != 0 || !anon) r = virt_commit(where, len, anon ? prot : prot | PROT_WRITE);
    if (r == 0 && !anon) {
        r = fs_pread_for_mmap(fd, reinterpret_cast<void*>(where), len, off);
        if (r >= 0 && !(prot & PROT_WRITE)) {
            r = 0;
            if (prot)
                r = virt_commit(where, len, prot);
            else
                virt_protect_none(where, len);
        }
    }
    if (r < 0) {
        virt_release(g_cur, where, len);
        flush_tlb();
        return r;
    }
    flush_tlb();
    maps::set(where, len, anon ? MapKind::kAnon : MapKind::kFile, prot, (flags & 0xf) == MAP_SHARED,
              fd, off);
    return static_cast<int64_t>(where);
}

int64_t mmap_impl(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
                  uint64_t off) {
    if (len == 0 || len > (1ull << 46) || off % kPage) return -EINVAL;
    const uint64_t type = flags & 0xf;
    if (type != MAP_PRIVATE && type != MAP_SHARED && type != 3) return -EINVAL;
    const bool anon = flags & MAP_ANONYMOUS;
    len = page_up(len);
    const uint64_t n = len / kPage;
    const bool zero = !anon || prot != 0 /* PROT_NONE */;
    const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    if (fixed && addr % kPage) return -EINVAL;
    // Reservations (anonymous PROT_NONE) and mappings asked for above the
    // identity map take address space there; the rest stays identity.
    if (fixed ? virt_range(addr, len)
              : !(addr && addr % kPage == 0 && in_pool(addr, len) &&
                  range_unused(page_index(addr), n)) &&
                    ((anon && prot == 0) || (addr && virt_range(addr, len))))
        return mmap_virt(addr, len, prot, flags, static_cast<int>(fd), off);
    uint64_t where = 0;
    if (fixed) {
        if (!in_pool(addr, len)) return -ENOMEM;
        if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) &&
            !range_free(page_index(addr), n))
            return -EEXIST;
        maps::prepare();
        release(page_index(addr), n);  // replaced mappings read as zero
        if (!take(page_index(addr), n, zero)) {
            release(page_index(addr), n);
            return -ENOMEM;
        }
        where = addr;
    } else {
        if (addr && addr % kPage == 0 && in_pool(addr, len) && range_unused(page_index(addr), n)) {
            take(page_index(addr), n, zero);
            where = addr;
        } else {
            const uint64_t first = find_free_top_down(n);
            if (first == g_npages) return -ENOMEM;
            take(first, n, zero);
            where = page_addr(first);
        }
    }
    if (!anon) {
        const int64_t r =
            fs_pread_for_mmap(static_cast<int>(fd), reinterpret_cast<void*>(where), len, off);
        if (r < 0) {
            release(page_index(where), n);
            return r;
        }
    }
    maps::set(where, len, anon ? MapKind::kAnon : MapKind::kFile, prot, type == MAP_SHARED,
              static_cast<int>(fd), off);
    if (anon && !(prot & PROT_WRITE) && !pool_apply_prot(page_index(where), n)) {
        release(page_index(where), n);
        return -ENOMEM;
    }
    return static_cast<int64_t>(where);
}

int64_t sys_munmap(uint64_t addr, uint64_t len, uint64_t, uint64_t, uint64_t, uint64_t) {
    if (addr % kPage || len == 0 || len > (1ull << 46)) return -EINVAL;
    len = page_up(len);
    volmap_sync_range(addr, len, true, false);  // a shared volume mapping goes back first
    maps::prepare();                            // unmapping the middle of a mapping splits it
    // Only the page pool can be unmapped; other ranges are silently ignored
    // (Linux allows unmapping what is not mapped).
    uint64_t lo = addr < g_pool_lo ? g_pool_lo : addr;
    uint64_t hi = addr + len;
    const uint64_t top = g_pool_lo + g_npages * kPage;
    if (hi > top) hi = top;
    if (lo < hi) release(page_index(lo), (hi - lo) / kPage);
    const uint64_t vlo = addr < kVirtLo ? kVirtLo : addr;
    const uint64_t vhi = addr + len > kVirtHi ? kVirtHi : addr + len;
    if (addr < kVirtHi && vlo < vhi) {
        if (g_multi) virt_release(g_cur, vlo, vhi - vlo);
        flush_tlb();
        maps::clear(vlo, vhi - vlo);
    }
    return 0;
}

int64_t sys_mprotect(uint64_t addr, uint64_t len, uint64_t prot, uint64_t, uint64_t, uint64_t) {
    // In the identity pool protection is enforced on anonymous memory
    // only (enforced_at), through the process's own page tables.
    if (addr % kPage) return -EINVAL;
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x01000000 | 0x02000000)) return -EINVAL;
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
    if (int64_t r = volmap_protect(addr, page_up(len), prot); r < 0) return r;
    if (addr >= kVirtLo) {
        // Above the identity map protections are enforced: PROT_NONE pages
        // fault, read-only ones fault on write; a page becoming accessible
        // for the first time is committed now.
        len = page_up(len);
        if (!virt_range(addr, len) || !maps::covers(addr, len) || !g_multi) return -ENOMEM;
        int64_t r = 0;
        if (prot == 0)
            virt_protect_none(addr, len);
        else
            r = virt_commit(addr, len, prot);
        flush_tlb();
        if (r < 0) return r;
        maps::prepare();
        maps::protect(addr, len, prot);
        return 0;
    }
    const uint64_t plen = page_up(len);
    const uint64_t size = boot()->mem_size;
    if (!(addr >= EMBER_GPA_APP_MIN && plen <= size && addr <= size - plen)) return -ENOMEM;
    if (in_pool(addr, plen)) {
        const uint64_t first = page_index(addr), n = plen / kPage;
        pool_widen(first, n);
        for (uint64_t i = first; prot != 0 /* PROT_NONE */ && i < first + n; ++i)
            if (test(g_own, i) && (!g_multi || pt_lookup(g_cur, page_addr(i)) == page_addr(i))) {
                clear(g_none, i);
                if (test(g_dirty, i)) {
                    memset(reinterpret_cast<void*>(page_addr(i)), 0, kPage);
                    clear(g_dirty, i);
                }
            }
        bool ok = true;
        for (uint64_t i = first; ok && i < first + n; ++i)
            if (test(g_own, i)) ok = pool_protect(i, prot);
        flush_tlb();
        if (!ok) return -ENOMEM;
    }
    maps::protect(addr, plen, prot);  // remembered for /proc/self/maps
    return 0;
}

// mremap above the identity map: shrinks in place; grows in place when the
// addresses after the mapping are free, else (MREMAP_MAYMOVE) moves the
// pages' PTEs to a gap big enough, no bytes copied. The grown tail is
// mapped as the last page was (committed unless PROT_NONE).
int64_t mremap_virt(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags) {
    if (!g_multi || !virt_range(old, old_len) || !maps::covers(old, old_len)) return -EFAULT;
    maps::prepare();
    if (new_len <= old_len) {
        virt_release(g_cur, old + new_len, old_len - new_len);
        flush_tlb();
        maps::clear(old + new_len, old_len - new_len);
        return static_cast<int64_t>(old);
    }
    // Linux grows one VMA only.
    if (!maps::within_one(old, old_len)) return -EFAULT;
    const uint64_t grow = new_len - old_len, prot = maps::prot_at(old + old_len - kPage);
    uint64_t at = old;
    if (!virt_range(old, new_len) || maps::any_in(old + old_len, grow)) {
        if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
        at = maps::find_gap(kVirtLo, kVirtTop, new_len);
        if (!at) return -ENOMEM;
    }
    if (prot && virt_commit(at + old_len, grow, prot) < 0) {
        virt_release(g_cur, at + old_len, grow);
        flush_tlb();
        return -ENOMEM;
    }
    if (at != old && !virt_move(old, at, old_len)) {
        virt_release(g_cur, at + old_len, grow);
        flush_tlb();
        return -ENOMEM;
    }
    flush_tlb();
    maps::move(at, old, old_len, new_len);
    if (at != old) maps::clear(old, old_len);
    return static_cast<int64_t>(at);
}

int64_t mremap_impl(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags) {
    if (old % kPage || new_len == 0 || (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED))) return -EINVAL;
    if (flags & MREMAP_FIXED) return -EINVAL;
    old_len = page_up(old_len);
    new_len = page_up(new_len);
    if (old >= kVirtLo) return mremap_virt(old, old_len, new_len, flags);
    if (!in_pool(old, old_len) || new_len > g_npages * kPage) return -EFAULT;
    if (new_len <= old_len) {
        release(page_index(old + new_len), (old_len - new_len) / kPage);
        return static_cast<int64_t>(old);
    }
    if (!maps::within_one(old, old_len)) return -EFAULT;  // Linux grows one VMA only
    const uint64_t grow = (new_len - old_len) / kPage;
    if (in_pool(old, new_len) && range_unused(page_index(old + old_len), grow)) {
        take(page_index(old + old_len), grow);
        maps::move(old, old, old_len, new_len);
        (void)pool_apply_prot(page_index(old + old_len), grow);  // mapped as the last page
        return static_cast<int64_t>(old);
    }
    if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
    const uint64_t dst = mm_map_anywhere(new_len);
    if (!dst) return -ENOMEM;
    pool_widen(page_index(old), old_len / kPage);  // the kernel reads them all
    memcpy(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(old), old_len);
    maps::move(dst, old, old_len, new_len);
    release(page_index(old), old_len / kPage);
    (void)pool_apply_prot(page_index(dst), new_len / kPage);
    return static_cast<int64_t>(dst);
}

// Shared volume mappings (vol_mmap.h) are written back before a mapping
// replaces them and follow mremap.
int64_t sys_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
                 uint64_t off) {
    const bool anon = flags & MAP_ANONYMOUS, shared = (flags & 0xf) == MAP_SHARED;
    if (!anon) {
        if (int64_t r = volmap_check(static_cast<int>(fd), prot, shared); r < 0) return r;
    }
    if ((flags & MAP_FIXED) && len && len <= (1ull << 46) && addr % kPage == 0)
        volmap_sync_range(addr, page_up(len), true, false);
    const int64_t where = mmap_impl(addr, len, prot, flags, fd, off);
    if (where < 0 || anon || !shared) return where;
    const auto at = static_cast<uint64_t>(where);
    if (volmap_add(static_cast<int>(fd), at, page_up(len), off, prot) < 0) {
        sys_munmap(at, len, 0, 0, 0, 0);
        return -ENOMEM;
    }
    return where;
}

int64_t sys_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t,
                   uint64_t) {
    if (old % kPage == 0 && old_len && old_len <= (1ull << 46))
        volmap_sync_range(old, page_up(old_len), false, false);
    const int64_t r = mremap_impl(old, old_len, new_len, flags);
    if (r >= 0) volmap_move(old, page_up(old_len), static_cast<uint64_t>(r), page_up(new_len));
    return r;
}

int64_t sys_madvise(uint64_t addr, uint64_t len, uint64_t advice, uint64_t, uint64_t, uint64_t) {
    if (addr % kPage) return -EINVAL;
    constexpr uint64_t kDontNeed = 4;
    if (advice == kDontNeed && addr >= kVirtLo) {
        len = page_up(len);
        if (!virt_range(addr, len)) return -EINVAL;
        if (g_multi) virt_zero(addr, len);
        flush_tlb();
        return 0;
    }
    if (advice == kDontNeed) {
        len = page_up(len);
        if (!in_pool(addr, len)) return -EINVAL;
        for (uint64_t i = page_index(addr); i < page_index(addr) + len / kPage; ++i) {
            if (!test(g_own, i)) continue;
            // A restricted page is zeroed through full access, then
            // restricted again (the zeroing left a writable translation).
            const uint64_t prot = g_multi ? pt_prot(g_cur, page_addr(i)) : kRw;
            if (prot != kRw) pt_protect(g_cur, page_addr(i), kRw);
            memset(reinterpret_cast<void*>(page_addr(i)), 0, kPage);
            if (prot != kRw) {
                pt_protect(g_cur, page_addr(i), prot);
                g_tlb_stale = true;
            }
        }
        flush_tlb();
    }
    return 0;
}

}  // namespace

void register_mm_syscalls() {
    syscall_register(nr::brk, "brk", sys_brk);
    syscall_register(nr::mmap, "mmap", sys_mmap);
    syscall_register(nr::munmap, "munmap", sys_munmap);
    syscall_register(nr::mprotect, "mprotect", sys_mprotect);
    syscall_register(nr::mremap, "mremap", sys_mremap);
    syscall_register(nr::madvise, "madvise", sys_madvise);
    register_mm_lock_syscalls();
}

}  // namespace k
