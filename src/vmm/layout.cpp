#include "vmm/layout.h"

#include <cstring>

#include "vmm/x86.h"

namespace ember {
namespace {

bool put64(GuestMemory& mem, uint64_t gpa, uint64_t v) { return mem.write_obj(gpa, v); }

}  // namespace

Status build_page_tables(GuestMemory& mem) {
    const uint64_t size = mem.size();
    if (auto s = check_guest_memory_size(size); !s) return s;
    if (!mem.fill(EMBER_GPA_PML4, 0,
                  EMBER_GPA_PD + EMBER_MAX_PD * EMBER_PAGE_SIZE - EMBER_GPA_PML4))
        return Status::internal("page-table area outside guest memory");
    put64(mem, EMBER_GPA_PML4, EMBER_GPA_PDPT | kPteTable);
    const uint64_t gib = (size + (1ull << 30) - 1) >> 30;
    for (uint64_t g = 0; g < gib; ++g) {
        const uint64_t pd = EMBER_GPA_PD + g * EMBER_PAGE_SIZE;
        put64(mem, EMBER_GPA_PDPT + g * 8, pd | kPteTable);
        for (uint64_t i = 0; i < 512; ++i) {
            const uint64_t addr = (g << 30) + (i << 21);
            if (addr >= size) break;
            uint64_t e = addr | kPteLeaf | kPteLarge;
            if (addr == 0) e = EMBER_GPA_PT0 | kPteTable;
            put64(mem, pd + i * 8, e);
        }
    }
    // Below the boot-info page only the GDT and IDT are mapped, read-only:
    // the CPU walks page tables by physical address, so they need no
    // mapping, and a stray pointer near NULL faults as it would on Linux
    // instead of corrupting them.
    for (uint64_t i = 1; i < 512; ++i) {
        const uint64_t addr = i * EMBER_PAGE_SIZE;
        if (addr == EMBER_GPA_STACK_GUARD) continue;
        if (addr < EMBER_GPA_BOOT_INFO) {
            if (addr == EMBER_GPA_GDT || addr == EMBER_GPA_IDT)
                put64(mem, EMBER_GPA_PT0 + i * 8, addr | (kPteLeaf & ~kPteWrite));
            continue;
        }
        put64(mem, EMBER_GPA_PT0 + i * 8, addr | kPteLeaf);
    }
    return Status::ok();
}

bool overlaps_syscall_slots(uint64_t lo, uint64_t hi) {
    return lo < EMBER_SLOT_VA + EMBER_SLOTS_SIZE && hi > EMBER_SLOT_VA;
}

Status map_syscall_slots(GuestMemory& mem) {
    // The 2 MiB around EMBER_SLOT_VA in 4 KiB pages: the slot pages alias
    // EMBER_GPA_SLOTS read-only, the rest stays the identity map of RAM.
    const uint64_t pt = EMBER_GPA_SLOT_PT;
    if (!mem.fill(EMBER_GPA_SITES, 0, EMBER_GPA_TRAMPOLINES - EMBER_GPA_SITES) ||
        !mem.fill(EMBER_GPA_TRAMPOLINES, x86::kInt3,
                  EMBER_SITES_SIZE - (EMBER_GPA_TRAMPOLINES - EMBER_GPA_SITES)))
        return Status::internal("syscall-site area outside guest memory");
    for (uint64_t i = 0; i < 512; ++i) {
        const uint64_t va = EMBER_SLOT_VA_2M + (i << 12);
        uint64_t e = 0;
        if (va >= EMBER_SLOT_VA && va < EMBER_SLOT_VA + EMBER_SLOTS_SIZE)
            e = (EMBER_GPA_SLOTS + (va - EMBER_SLOT_VA)) | (kPteLeaf & ~kPteWrite);
        else if (va < mem.size())
            e = va | kPteLeaf;
        put64(mem, pt + i * 8, e);
    }
    // EMBER_SLOT_VA is in the first GiB: its page directory always exists.
    put64(mem, EMBER_GPA_PD + (EMBER_SLOT_VA_2M >> 21) * 8, pt | kPteTable);
    for (uint32_t i = 0; i < EMBER_SITES_MAX; ++i)
        put64(mem, EMBER_GPA_SLOTS + i * 8ull, ember_trampoline_gpa(i));
    // The identity addresses of the slot pages are read-only too; the page
    // table page is not mapped at all.
    put64(mem, EMBER_GPA_PT0 + (EMBER_GPA_SLOT_PT >> 12) * 8, 0);
    for (uint64_t a = EMBER_GPA_SLOTS; a < EMBER_GPA_TRAMPOLINES; a += EMBER_PAGE_SIZE)
        put64(mem, EMBER_GPA_PT0 + (a >> 12) * 8, a | (kPteLeaf & ~kPteWrite));
    return Status::ok();
}

int64_t translate(const GuestMemory& mem, uint64_t gva) {
    if (gva >> 47) return -1;
    uint64_t table = EMBER_GPA_PML4;
    const int shifts[4] = {39, 30, 21, 12};
    for (int level = 0; level < 4; ++level) {
        const auto e = mem.read_obj<uint64_t>(table + ((gva >> shifts[level]) & 511) * 8);
        if (!e || !(*e & kPtePresent) || !(*e & kPteUser)) return -1;
        const uint64_t frame = *e & 0x000ffffffffff000ull;
        if (level == 3 || (level >= 1 && (*e & kPteLarge))) {
            const uint64_t mask = (1ull << shifts[level]) - 1;
            return static_cast<int64_t>((frame & ~mask) | (gva & mask));
        }
        table = frame;
    }
    return -1;
}

Status build_gdt(GuestMemory& mem) {
    // Flat descriptors: base 0, limit 4 GiB; 64-bit code has L=1.
    using namespace x86;
    const uint64_t gdt[8] = {
        0,
        0,
        flat_segment(kSegCodeExecReadAccessed, 0, kDescGran4k | kDescLong),  // 0x10 kernel code 64
        flat_segment(kSegDataReadWriteAccessed, 0, kDescGran4k | kDescDb),   // 0x18 kernel data
        flat_segment(kSegCodeExecReadAccessed, 3, kDescGran4k | kDescDb),    // 0x23 user code 32
        flat_segment(kSegDataReadWriteAccessed, 3, kDescGran4k | kDescDb),   // 0x2b user data
        flat_segment(kSegCodeExecReadAccessed, 3, kDescGran4k | kDescLong),  // 0x33 user code 64
        0,
    };
    if (!mem.write(EMBER_GPA_GDT, gdt, sizeof gdt)) return Status::internal("GDT outside memory");
    // 64-bit TSS descriptor (busy) spanning two slots at 0x40.
    const uint64_t base = kGpaTss, limit = kTss64Size - 1;
    const uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                        (system_access(kSysTss64Busy) << 40) | (((base >> 24) & 0xff) << 56);
    const uint64_t hi = base >> 32;
    if (!put64(mem, EMBER_GPA_GDT + kSelTss, lo) || !put64(mem, EMBER_GPA_GDT + kSelTss + 8, hi))
        return Status::internal("TSS descriptor outside memory");
    // TSS: no stack switches are used (gates target CPL 3); the I/O bitmap
    // offset points past the limit (no bitmap).
    uint8_t tss[kTss64Size] = {};
    const uint16_t iomap = sizeof tss;
    std::memcpy(tss + kTssIomapOffset, &iomap, 2);
    if (!mem.write(kGpaTss, tss, sizeof tss)) return Status::internal("TSS outside memory");
    return Status::ok();
}

Status build_idt(GuestMemory& mem, const ember_kernel_header& kh) {
    for (uint32_t v = 0; v < x86::kIdtVectors; ++v) {
        const uint64_t off = v < EMBER_NUM_VECTORS ? kh.vector_entry[v] : kh.spurious_entry;
        // 64-bit interrupt gate, present, DPL 0 (int N from the guest is not
        // a way in), selector 0x33.
        const uint64_t lo = (off & 0xffff) | (uint64_t{EMBER_SEL_USER_CS} << 16) |
                            (x86::system_access(x86::kSysInterruptGate64) << 40) |
                            (((off >> 16) & 0xffff) << 48);
        const uint64_t hi = off >> 32;
        const uint64_t gate = EMBER_GPA_IDT + v * x86::kIdtGateSize;
        if (!put64(mem, gate, lo) || !put64(mem, gate + 8, hi))
            return Status::internal("IDT outside memory");
    }
    return Status::ok();
}

}  // namespace ember
