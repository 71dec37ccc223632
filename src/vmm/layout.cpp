#include "vmm/layout.h"

#include <cstring>

namespace ember {
namespace {

bool put64(GuestMemory& mem, uint64_t gpa, uint64_t v) { return mem.write_obj(gpa, v); }

}  // namespace

Status write_syscall_sled(GuestMemory& mem, uint64_t fast_entry) {
    uint8_t page[EMBER_PAGE_SIZE];
    std::memset(page, 0x90, EMBER_SLED_JUMP);  // nop
    // jmp qword ptr [rip + 0]; .quad fast_entry
    const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    std::memcpy(page + EMBER_SLED_JUMP, jmp, sizeof jmp);
    std::memcpy(page + EMBER_SLED_JUMP + 6, &fast_entry, 8);
    for (uint64_t i = EMBER_SLED_JUMP + 14; i + 1 < EMBER_PAGE_SIZE; i += 2) {
        page[i] = 0x0f;  // ud2
        page[i + 1] = 0x0b;
    }
    page[EMBER_PAGE_SIZE - 1] = 0xcc;
    if (!mem.write(0, page, sizeof page)) return Status::internal("sled outside guest memory");
    return Status::ok();
}

Status build_page_tables(GuestMemory& mem, bool map_sled) {
    const uint64_t size = mem.size();
    if (size < EMBER_MEM_MIN || size > EMBER_MEM_MAX || size % (2ull << 20) != 0)
        return Status::invalid_argument(
            "guest memory size must be a multiple of 2 MiB between 8 MiB and " +
            std::to_string(EMBER_MEM_MAX >> 30) + " GiB");
    if (!mem.fill(EMBER_GPA_PML4, 0, EMBER_GPA_PD + EMBER_MAX_PD * EMBER_PAGE_SIZE - EMBER_GPA_PML4))
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
    if (map_sled) put64(mem, EMBER_GPA_PT0, 0 | (kPteLeaf & ~kPteWrite));
    for (uint64_t i = 1; i < 512; ++i) {
        const uint64_t addr = i << 12;
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
    const uint64_t gdt[8] = {
        0,
        0,
        0x00af9b000000ffffull,  // 0x10 kernel code 64, DPL 0
        0x00cf93000000ffffull,  // 0x18 kernel data, DPL 0
        0x00cffb000000ffffull,  // 0x23 user code 32, DPL 3
        0x00cff3000000ffffull,  // 0x2b user data, DPL 3
        0x00affb000000ffffull,  // 0x33 user code 64, DPL 3
        0,
    };
    if (!mem.write(EMBER_GPA_GDT, gdt, sizeof gdt)) return Status::internal("GDT outside memory");
    // 64-bit TSS descriptor (type 0xb busy) spanning two slots at 0x40.
    const uint64_t base = kGpaTss, limit = 103;
    const uint64_t lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x8bull << 40) |
                        (((base >> 24) & 0xff) << 56);
    const uint64_t hi = base >> 32;
    if (!put64(mem, EMBER_GPA_GDT + kSelTss, lo) || !put64(mem, EMBER_GPA_GDT + kSelTss + 8, hi))
        return Status::internal("TSS descriptor outside memory");
    // TSS: no stack switches are used (gates target CPL 3); the I/O bitmap
    // offset points past the limit (no bitmap).
    uint8_t tss[104] = {};
    const uint16_t iomap = sizeof tss;
    std::memcpy(tss + 102, &iomap, 2);
    if (!mem.write(kGpaTss, tss, sizeof tss)) return Status::internal("TSS outside memory");
    return Status::ok();
}

Status build_idt(GuestMemory& mem, const ember_kernel_header& kh) {
    for (uint32_t v = 0; v < 256; ++v) {
        const uint64_t off = v < EMBER_NUM_VECTORS ? kh.vector_entry[v] : kh.spurious_entry;
        // 64-bit interrupt gate (type 0xe), present, DPL 0 (int N from the
        // guest is not a way in), selector 0x33.
        const uint64_t lo = (off & 0xffff) | (uint64_t{EMBER_SEL_USER_CS} << 16) |
                            (0x8eull << 40) | (((off >> 16) & 0xffff) << 48);
        const uint64_t hi = off >> 32;
        if (!put64(mem, EMBER_GPA_IDT + v * 16, lo) || !put64(mem, EMBER_GPA_IDT + v * 16 + 8, hi))
            return Status::internal("IDT outside memory");
    }
    return Status::ok();
}

}  // namespace ember
