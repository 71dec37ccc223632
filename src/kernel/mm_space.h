// mm_space.h - address spaces: one set of page tables per process once the
// instance has more than one (see docs/architecture.md, "Processes").
//
// Every address space maps all of guest memory at its identity address
// (GVA = GPA, 2 MiB pages, as the VMM's boot tables do), except the pages
// of the pool that the process maps somewhere else: a page it got by fork,
// or a fixed address another process already uses. Those 2 MiB regions get
// a private 4 KiB page table. Kernel memory (heap, stacks, page tables) is
// always allocated where no process has an override, so it reads the same
// in every address space.
#pragma once

#include "mm_maps.h"

namespace k {

struct Mm {
    uint64_t pml4, pdpt;
    uint64_t pd[EMBER_MAX_PD];
    uint32_t ngib;
    uint32_t refs;  // processes using it (a vfork child borrows its parent's)
    uint64_t* own;  // bit per pool page: the process maps this address
    uint64_t brk_start, brk;
    MapsState maps;  // saved while another process runs
    // The first program's dynamic loader, which the VMM placed above the
    // page pool: true in the first process and the copies fork made of it
    // (not after exec). A fork gives the child its own copy of the
    // loader's pages, one frame per page in interp_frames (kcalloc'd).
    bool boot_interp;
    uint64_t* interp_frames;
    uint64_t nprot;  // pool pages whose PTE mprotect restricted (pt_protect)
};

// Page-table level (mm_space.cpp). Table pages come from pages_alloc.
bool pt_build(Mm* m);                          // identity tables; false: no memory
void pt_free(Mm* m);                           // its table pages (m is not live)
uint64_t pt_lookup(const Mm* m, uint64_t va);  // the page's frame (identity if not overridden)
bool pt_map(Mm* m, uint64_t va, uint64_t pa);  // a 4 KiB override (pa == va: identity again)
// Loads m's tables into CR3 (the CPL-0 path of entry.S; a TLB flush too).
void pt_load(const Mm* m);
// mprotect in the pool: the page's PTE in m (a 4 KiB one, made when the
// page sits in a 2 MiB identity page) becomes not present (prot 0),
// read-only (no PROT_WRITE) or back to full access; its frame stays.
// Restricting a live page needs a TLB flush (the caller's). false: no
// memory for the page table.
bool pt_protect(Mm* m, uint64_t va, uint64_t prot);
// The PROT_* the page's PTE allows (READ|WRITE unless pt_protect restricted it).
uint64_t pt_prot(const Mm* m, uint64_t va);
// No page of [va, va+len) is restricted beyond what the access needs.
bool pt_access(const Mm* m, uint64_t va, uint64_t len, bool write);

// Process level (mm.cpp).
Mm* mm_current();
// The instance gets a second address space (fork, exec): the first process
// moves from the VMM's boot tables to its own. Idempotent.
bool mm_go_multi();
// A copy of the current process's user memory; sp is the forking thread's
// stack pointer (its stack below the red zone is not copied).
Mm* mm_fork(uint64_t sp);
void mm_share(Mm* m);        // vfork: m is used by one more process
void mm_set_current(Mm* m);  // at a process switch: CR3 and the mm globals
void mm_release(Mm* m);      // drops a reference; the last frees memory and tables
Mm* mm_new_empty();          // exec: a fresh space with no user pages
// exec: maps [va, va+len) for the current process (fresh zero pages, at
// their identity address when free); 0 or -ENOMEM.
int64_t mm_map_fixed(uint64_t va, uint64_t len);
// exec: a fresh user range anywhere (top-down), 0 when out of memory.
uint64_t mm_map_anywhere(uint64_t len);
void mm_set_brk(uint64_t start);
// The address of the frame byte behind va in the current address space
// (va itself for the identity map): futexes are keyed by it.
uint64_t mm_futex_key(uint64_t va);
// Some mapping of the current process covers va (a fault there is
// SEGV_ACCERR, as on Linux).
bool mm_is_mapped(uint64_t va);

// ---- virtual memory above the identity map (mm_virt.cpp) ----------------
// Addresses from kVirtLo (above the largest guest memory, so never an
// identity address) to kVirtHi (Linux's top of user space) have no frame
// of their own: the kernel maps pool frames there with 4 KiB pages in the
// process's own tables (page-table levels it creates as needed), so a
// reservation (an anonymous PROT_NONE mapping) costs address space only.
// Pages are committed (a zeroed frame) when the range becomes accessible:
// mmap with a protection, mprotect to one. A page's PTE is then present, or
// kept with the present bit clear and kHeld set while PROT_NONE (the frame
// and its bytes stay, as on Linux). Valid on PVM and VT-x/AMD-V alike: plain
// 4-level paging, canonical lower-half addresses.
constexpr uint64_t kVirtLo = (uint64_t)EMBER_MAX_PD << 30;
constexpr uint64_t kVirtHi = 0x7ffffffff000ull;
constexpr uint64_t kVirtTop = 0x7f0000000000ull;  // top-down reservations start below
inline bool virt_range(uint64_t va, uint64_t len) {
    return va >= kVirtLo && len <= kVirtHi - kVirtLo && va <= kVirtHi - len;
}
// Commits [va, va+len) of the current process with prot (!= PROT_NONE):
// fresh zero frames where none, the protection on all. 0 or -ENOMEM.
int64_t virt_commit(uint64_t va, uint64_t len, uint64_t prot);
// PROT_NONE: pages keep their frames but fault.
void virt_protect_none(uint64_t va, uint64_t len);
// Frees the frames of the range (munmap, MAP_FIXED over it).
void virt_release(Mm* m, uint64_t va, uint64_t len);
// mremap: the pages of [from, from+len) (frames, protections) move to
// [to, to+len), which holds none. false: out of memory for page tables
// (nothing moved).
bool virt_move(uint64_t from, uint64_t to, uint64_t len);
// MADV_DONTNEED: the range reads as zero afterwards.
void virt_zero(uint64_t va, uint64_t len);
// Every page of the range is present (write: and writable).
bool virt_accessible(uint64_t va, uint64_t len, bool write);
// fork: c gets a copy of the current process's virtual pages (MAP_SHARED
// ones share the frame). false: out of memory.
bool virt_fork(Mm* c);
void virt_free_tables(Mm* m);  // after virt_release of everything
// The frame behind a virtual page of the current process (0: none).
uint64_t virt_frame(uint64_t va);
// The same, for a kernel write through the frame: the page is marked
// dirty (it may no longer read as zero).
uint64_t virt_frame_for_write(uint64_t va);

// Frames for virtual pages (mm.cpp; multi mode): take one (zeroed unless
// the caller overwrites it; its one reference is the mapping's), add a
// reference (a shared mapping), drop one. 0: out of memory.
uint64_t frame_take(bool overwrite);
void frame_ref(uint64_t pa);
void frame_drop(uint64_t pa);
bool frame_shared(uint64_t pa);  // more than one reference
// A live PTE lost access or its frame: reload CR3 before the application
// runs again (mm_flush_tlb, called at the end of each mm syscall).
void mm_tlb_stale();
void mm_flush_tlb();

// mincore, msync, mlock* (mm_lock.cpp), registered by register_mm_syscalls.
void register_mm_lock_syscalls();

}  // namespace k
