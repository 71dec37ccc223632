// layout.h - the machine state the VMM writes into guest memory before the
// first instruction: identity-mapped page tables, GDT (+TSS) and IDT.
// Pure functions of guest memory, unit-tested on the host.
#pragma once

#include <cstdint>

#include "abi/ember_abi.h"
#include "common/result.h"
#include "vmm/guest_memory.h"

namespace ember {

// Page-table entry bits. A and D are preset so the CPU never writes the
// tables (on shadow-paging hosts such writes are expensive).
constexpr uint64_t kPtePresent = 1ull << 0, kPteWrite = 1ull << 1, kPteUser = 1ull << 2,
                   kPteAccessed = 1ull << 5, kPteDirty = 1ull << 6, kPteLarge = 1ull << 7;
constexpr uint64_t kPteTable = kPtePresent | kPteWrite | kPteUser | kPteAccessed;
constexpr uint64_t kPteLeaf = kPteTable | kPteDirty;

// Identity map of [0, mem_size) with U=1 at every level: 4 KiB pages for the
// first 2 MiB, 2 MiB pages above. Unmapped: everything below the boot-info
// page except the GDT and IDT (mapped read-only), and the kernel stack's
// guard page. mem_size must be a multiple of 2 MiB within
// [EMBER_MEM_MIN, EMBER_MEM_MAX].
Status build_page_tables(GuestMemory& mem);

// For syscall patching (see "patched syscall sites" in ember_abi.h): maps
// the slot pages read-only at EMBER_SLOT_VA through EMBER_GPA_SLOT_PT, points
// every slot at its trampoline and fills the trampolines with int3. Call
// after build_page_tables. The application must not use the slots'
// addresses: check its image and data with overlaps_syscall_slots first.
Status map_syscall_slots(GuestMemory& mem);
bool overlaps_syscall_slots(uint64_t lo, uint64_t hi);

// Walks the tables the way the CPU would. Returns the GPA that `gva` maps to,
// or -1 when unmapped or the entry lacks U=1 at some level (for tests).
int64_t translate(const GuestMemory& mem, uint64_t gva);

// GDT with Linux's selectors (0x10/0x18 kernel, 0x23/0x2b/0x33 user) and a
// 64-bit TSS at selector 0x40; returns its selector.
constexpr uint16_t kSelTss = 0x40;
constexpr uint64_t kGpaTss = EMBER_GPA_GDT + 0x800;
Status build_gdt(GuestMemory& mem);

// IDT: vectors 0-31 to the kernel's handlers, 32-255 to its spurious entry;
// every gate targets selector 0x33 (CPL 3, no stack switch).
Status build_idt(GuestMemory& mem, const ember_kernel_header& kh);

}  // namespace ember
