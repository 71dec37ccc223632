// mm_space.cpp - the page tables of one address space (mm_space.h).
//
// Built like the VMM's boot tables (identity, 2 MiB pages, the first 2 MiB
// through the VMM's PT0 and the syscall slots' region through its slot
// table, both shared by reference), then 4 KiB overrides where a process
// maps a page elsewhere. The kernel writes page tables only here and never
// while they are live except for such an override, after which the caller
// reloads CR3 (pt_load) before touching the page: that is the TLB flush
// (invlpg, like every privileged instruction, would trap as well).
#include "mm_space.h"

extern "C" void ember_load_cr3(uint64_t pml4);

namespace k {
namespace {

constexpr uint64_t kPresent = 1, kWrite = 2, kUser = 4, kAccessed = 0x20, kDirty = 0x40,
                   kLarge = 0x80;
constexpr uint64_t kTable = kPresent | kWrite | kUser | kAccessed;
constexpr uint64_t kLeaf = kTable | kDirty;
constexpr uint64_t kFrame = 0x000ffffffffff000ull;
constexpr uint64_t kProt = 1ull << 10;  // software bit: restricted by pt_protect
constexpr uint64_t kRw = PROT_READ | PROT_WRITE;

inline uint64_t* table(uint64_t pa) { return reinterpret_cast<uint64_t*>(pa); }

// The PD entry VMM-made tables use for the 2 MiB region at base.
uint64_t boot_pd_entry(uint64_t base) {
    if (base == 0) return EMBER_GPA_PT0 | kTable;
    if (slots_mapped() && base == EMBER_SLOT_VA_2M) return EMBER_GPA_SLOT_PT | kTable;
    return base | kLeaf | kLarge;
}

bool shared_table(uint64_t pt) { return pt == EMBER_GPA_PT0 || pt == EMBER_GPA_SLOT_PT; }

// The slot region's entries as the VMM writes them (layout.cpp,
// map_syscall_slots): the slot pages alias EMBER_GPA_SLOTS read-only.
uint64_t slot_region_pte(uint64_t va) {
    if (va >= EMBER_SLOT_VA && va < EMBER_SLOT_VA + EMBER_SLOTS_SIZE)
        return (EMBER_GPA_SLOTS + (va - EMBER_SLOT_VA)) | (kLeaf & ~kWrite);
    return va < boot()->mem_size ? (va | kLeaf) : 0;
}

uint64_t* pd_slot(const Mm* m, uint64_t va) {
    const uint64_t g = va >> 30;
    if (g >= m->ngib) return nullptr;
    return table(m->pd[g]) + ((va >> 21) & 511);
}

// A top-level table at an odd page number (bit 12 of its address set). The
// PVM hypervisor here takes a CR3 with bit 12 clear, loaded by the VMM
// (KVM_SET_SREGS, i.e. every snapshot restore), for a guest in supervisor
// mode and emulates it instruction by instruction until the first SSE
// instruction ends the VM (KVM internal error, suberror 1); the same CR3
// loaded by the guest itself runs natively. Of two adjacent pages one is
// odd: keep it, free the other.
uint64_t pml4_alloc() {
    const uint64_t two = pages_alloc(2);
    if (!two) return 0;
    const uint64_t odd = (two & EMBER_PAGE_SIZE) ? two : two + EMBER_PAGE_SIZE;
    pages_free(odd == two ? two + EMBER_PAGE_SIZE : two, 1);
    return odd;
}

}  // namespace

bool pt_build(Mm* m) {
    const uint64_t size = boot()->mem_size;
    m->ngib = static_cast<uint32_t>((size + (1ull << 30) - 1) >> 30);
    m->pml4 = pml4_alloc();
    m->pdpt = pages_alloc(1);
    bool ok = m->pml4 && m->pdpt;
    for (uint32_t g = 0; g < m->ngib; ++g) {
        m->pd[g] = pages_alloc(1);
        ok = ok && m->pd[g];
    }
    if (!ok) {
        pt_free(m);
        return false;
    }
    table(m->pml4)[0] = m->pdpt | kTable;
    for (uint32_t g = 0; g < m->ngib; ++g) {
        table(m->pdpt)[g] = m->pd[g] | kTable;
        for (uint64_t j = 0; j < 512; ++j) {
            const uint64_t base = (uint64_t{g} << 30) + (j << 21);
            if (base >= size) break;
            table(m->pd[g])[j] = boot_pd_entry(base);
        }
    }
    // The slots' alias may lie above the end of memory (it is in the first
    // GiB, whose page directory always exists).
    if (slots_mapped()) table(m->pd[0])[EMBER_SLOT_VA_2M >> 21] = boot_pd_entry(EMBER_SLOT_VA_2M);
    return true;
}

void pt_free(Mm* m) {
    for (uint32_t g = 0; g < m->ngib; ++g) {
        if (!m->pd[g]) continue;
        for (uint64_t j = 0; j < 512; ++j) {
            const uint64_t e = table(m->pd[g])[j];
            if ((e & kPresent) && !(e & kLarge) && !shared_table(e & kFrame))
                pages_free(e & kFrame, 1);
        }
        pages_free(m->pd[g], 1);
        m->pd[g] = 0;
    }
    if (m->pdpt) pages_free(m->pdpt, 1);
    if (m->pml4) pages_free(m->pml4, 1);
    m->pdpt = m->pml4 = 0;
}

uint64_t pt_lookup(const Mm* m, uint64_t va) {
    const uint64_t* pde = pd_slot(m, va);
    if (!pde) return va & kFrame;
    const uint64_t e = *pde;
    if ((e & kLarge) || shared_table(e & kFrame)) return va & kFrame;
    return table(e & kFrame)[(va >> 12) & 511] & kFrame;
}

bool pt_map(Mm* m, uint64_t va, uint64_t pa) {
    uint64_t* pde = pd_slot(m, va);
    if (!pde) return false;
    uint64_t e = *pde;
    if ((e & kLarge) || shared_table(e & kFrame)) {
        if ((e & kFrame) == EMBER_GPA_PT0) return false;  // the kernel's first 2 MiB
        const uint64_t pt = pages_alloc(1);
        if (!pt) return false;
        const uint64_t base = va & ~((2ull << 20) - 1);
        const bool slots = !(e & kLarge);
        for (uint64_t i = 0; i < 512; ++i) {
            const uint64_t v = base + (i << 12);
            table(pt)[i] = slots ? slot_region_pte(v) : (v | kLeaf);
        }
        e = pt | kTable;
        *pde = e;
    }
    uint64_t* pte = &table(e & kFrame)[(va >> 12) & 511];
    if (*pte & kProt) m->nprot--;
    *pte = (pa & kFrame) | kLeaf;
    return true;
}

namespace {

// The 4 KiB PTE of va in m, nullptr while va lies in a shared or 2 MiB entry.
uint64_t* own_pte(const Mm* m, uint64_t va) {
    const uint64_t* pde = pd_slot(m, va);
    if (!pde || (*pde & kLarge) || shared_table(*pde & kFrame)) return nullptr;
    return &table(*pde & kFrame)[(va >> 12) & 511];
}

}  // namespace

bool pt_protect(Mm* m, uint64_t va, uint64_t prot) {
    uint64_t* pte = own_pte(m, va);
    if (!pte) {
        if (prot & PROT_WRITE) return true;  // an identity page: full access already
        if (!pt_map(m, va, va) || !(pte = own_pte(m, va))) return false;
    }
    const uint64_t frame = *pte & kFrame;
    if (*pte & kProt) m->nprot--;
    if (prot & PROT_WRITE) {
        *pte = frame | kLeaf;
        return true;
    }
    // Not present keeps the frame in the entry (pt_lookup reads it).
    *pte = prot ? (frame | kLeaf | kProt) & ~kWrite : frame | kUser | kProt;
    m->nprot++;
    return true;
}

uint64_t pt_prot(const Mm* m, uint64_t va) {
    const uint64_t* pte = own_pte(m, va);
    if (!pte || !(*pte & kProt)) return kRw;
    return !(*pte & kPresent) ? 0 : (*pte & kWrite) ? kRw : PROT_READ;
}

bool pt_access(const Mm* m, uint64_t va, uint64_t len, bool write) {
    if (!m->nprot || !len) return true;
    const uint64_t need = write ? kPresent | kWrite : kPresent;
    const uint64_t end = va + len;
    for (uint64_t a = va & ~(EMBER_PAGE_SIZE - 1); a < end;) {
        const uint64_t* pte = own_pte(m, a);
        if (!pte) {
            a = (a | ((2ull << 20) - 1)) + 1;  // the rest of a 2 MiB identity page
            continue;
        }
        if ((*pte & kProt) && (*pte & need) != need) return false;
        a += EMBER_PAGE_SIZE;
    }
    return true;
}

void pt_load(const Mm* m) {
    ember_boot_info* b = boot();
    const uint64_t t0 = __builtin_ia32_rdtsc();
    ember_load_cr3(m->pml4);
    b->stat_cr3_tsc += __builtin_ia32_rdtsc() - t0;
    b->stat_cr3_loads++;
}

}  // namespace k
