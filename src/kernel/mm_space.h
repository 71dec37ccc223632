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
};

// Page-table level (mm_space.cpp). Table pages come from pages_alloc.
bool pt_build(Mm* m);                          // identity tables; false: no memory
void pt_free(Mm* m);                           // its table pages (m is not live)
uint64_t pt_lookup(const Mm* m, uint64_t va);  // the page's frame (identity if not overridden)
bool pt_map(Mm* m, uint64_t va, uint64_t pa);  // a 4 KiB override (pa == va: identity again)
// Loads m's tables into CR3 (the CPL-0 path of entry.S; a TLB flush too).
void pt_load(const Mm* m);

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

}  // namespace k
