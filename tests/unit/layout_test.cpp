// Tests of the machine layout the VMM writes before the first instruction.
#include "vmm/layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ember {
namespace {

struct Mem {
    explicit Mem(uint64_t size) : buf(size, 0), mem(GuestMemory::wrap(buf.data(), size)) {}
    std::vector<uint8_t> buf;
    GuestMemory mem;
};

TEST(PageTables, IdentityMapsAllMemoryWithUserBit) {
    Mem m(64ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    for (uint64_t gva : {EMBER_GPA_BOOT_INFO, 0x41000ull, 0x100000ull, 0x1fffffull, 0x200000ull,
                         0x3456789ull, (64ull << 20) - 1})
        EXPECT_EQ(translate(m.mem, gva), static_cast<int64_t>(gva)) << std::hex << gva;
}

TEST(PageTables, NullPageIsUnmapped) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, 0), -1);
    EXPECT_EQ(translate(m.mem, 0xfff), -1);
}

TEST(PageTables, LowPagesAreUnmappedLikeLinuxNullRegion) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    for (uint64_t gva : {0x1000ull, 0x1234ull, EMBER_GPA_PML4, EMBER_GPA_PD, 0xbfffull})
        EXPECT_EQ(translate(m.mem, gva), -1) << std::hex << gva;
}

TEST(PageTables, GdtAndIdtAreMappedReadOnly) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, EMBER_GPA_GDT), static_cast<int64_t>(EMBER_GPA_GDT));
    EXPECT_EQ(translate(m.mem, EMBER_GPA_IDT), static_cast<int64_t>(EMBER_GPA_IDT));
    const auto pte = m.mem.read_obj<uint64_t>(EMBER_GPA_PT0 + (EMBER_GPA_GDT >> 12) * 8);
    ASSERT_TRUE(pte);
    EXPECT_EQ(*pte & kPteWrite, 0u);
}

TEST(PageTables, PageZeroIsNeverMapped) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    ASSERT_TRUE(map_syscall_slots(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, 0), -1);
    EXPECT_EQ(translate(m.mem, 0xfff), -1);
}

TEST(SyscallSlots, SlotAddressesAliasTheSlotPagesReadOnly) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    ASSERT_TRUE(map_syscall_slots(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, ember_slot_va(0)), static_cast<int64_t>(EMBER_GPA_SLOTS));
    EXPECT_EQ(translate(m.mem, ember_slot_va(EMBER_SITES_MAX - 1)),
              static_cast<int64_t>(EMBER_GPA_SLOTS + 8ull * (EMBER_SITES_MAX - 1)));
    const auto pte =
        m.mem.read_obj<uint64_t>(EMBER_GPA_SLOT_PT + ((EMBER_SLOT_VA >> 12) & 511) * 8);
    ASSERT_TRUE(pte);
    EXPECT_EQ(*pte & kPteWrite, 0u);
    // Beyond the 16 MiB of RAM, nothing else of that 2 MiB is mapped, and
    // the page table itself is not reachable.
    EXPECT_EQ(translate(m.mem, EMBER_SLOT_VA + EMBER_SLOTS_SIZE), -1);
    EXPECT_EQ(translate(m.mem, EMBER_GPA_SLOT_PT), -1);
}

TEST(SyscallSlots, EverySlotPointsAtItsTrampolineAndTrampolinesStartAsInt3) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    ASSERT_TRUE(map_syscall_slots(m.mem).is_ok());
    for (uint32_t i : {0u, 1u, EMBER_SITES_MAX - 1}) {
        uint64_t target;
        std::memcpy(&target, &m.buf[EMBER_GPA_SLOTS + 8ull * i], 8);
        EXPECT_EQ(target, ember_trampoline_gpa(i));
        EXPECT_EQ(m.buf[ember_trampoline_gpa(i)], 0xcc);
    }
    // Every slot address, little-endian, ends in the `syscall` bytes.
    const uint64_t last = ember_slot_va(EMBER_SITES_MAX - 1);
    EXPECT_EQ((last >> 16) & 0xff, 0x0fu);
    EXPECT_EQ((last >> 24) & 0xff, 0x05u);
}

TEST(SyscallSlots, RamAroundTheSlotsStaysIdentityMapped) {
    Mem m(128ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    ASSERT_TRUE(map_syscall_slots(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, EMBER_SLOT_VA - 1), static_cast<int64_t>(EMBER_SLOT_VA - 1));
    EXPECT_EQ(translate(m.mem, EMBER_SLOT_VA + EMBER_SLOTS_SIZE),
              static_cast<int64_t>(EMBER_SLOT_VA + EMBER_SLOTS_SIZE));
    EXPECT_EQ(translate(m.mem, EMBER_SLOT_VA_2M), static_cast<int64_t>(EMBER_SLOT_VA_2M));
    EXPECT_TRUE(overlaps_syscall_slots(EMBER_SLOT_VA - 1, EMBER_SLOT_VA + 1));
    EXPECT_FALSE(overlaps_syscall_slots(0x400000, EMBER_SLOT_VA));
}

TEST(PageTables, KernelStackGuardPageIsUnmapped) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, EMBER_GPA_STACK_GUARD), -1);
    EXPECT_EQ(translate(m.mem, EMBER_GPA_STACK_GUARD + 0xfff), -1);
    EXPECT_EQ(translate(m.mem, EMBER_GPA_KSTACK_LO), static_cast<int64_t>(EMBER_GPA_KSTACK_LO));
}

TEST(PageTables, NothingBeyondGuestMemoryIsMapped) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, 16ull << 20), -1);
    EXPECT_EQ(translate(m.mem, 1ull << 30), -1);
    EXPECT_EQ(translate(m.mem, 1ull << 47), -1);  // non-canonical
}

TEST(PageTables, MoreThanOneGigabyteUsesSeveralDirectories) {
    Mem m((1ull << 30) + (4ull << 20));
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    EXPECT_EQ(translate(m.mem, (1ull << 30) + 0x123456),
              static_cast<int64_t>((1ull << 30) + 0x123456));
    EXPECT_EQ(translate(m.mem, (1ull << 30) + (4ull << 20)), -1);
}

TEST(PageTables, SizeNotMultipleOfTwoMegabytesIsRejected) {
    Mem m((16ull << 20) + 4096);
    EXPECT_FALSE(build_page_tables(m.mem).is_ok());
}

TEST(PageTables, TooSmallMemoryIsRejected) {
    Mem m(4ull << 20);
    EXPECT_FALSE(build_page_tables(m.mem).is_ok());
}

TEST(PageTables, EntriesHaveAccessedAndDirtyPreset) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_page_tables(m.mem).is_ok());
    const auto pde = m.mem.read_obj<uint64_t>(EMBER_GPA_PD + 8);  // 2-4 MiB
    ASSERT_TRUE(pde);
    EXPECT_EQ(*pde & 0xfff, kPteLeaf | kPteLarge);
}

TEST(Gdt, HasLinuxSelectorsAndTss) {
    Mem m(16ull << 20);
    ASSERT_TRUE(build_gdt(m.mem).is_ok());
    // A selector's low 3 bits are the RPL and table bit, not part of the index.
    auto desc = [&](uint16_t sel) {
        return *m.mem.read_obj<uint64_t>(EMBER_GPA_GDT + (sel & ~7u));
    };
    EXPECT_EQ((desc(EMBER_SEL_USER_CS) >> 45) & 3, 3u);    // DPL 3
    EXPECT_TRUE((desc(EMBER_SEL_USER_CS) >> 53) & 1);      // L: 64-bit
    EXPECT_EQ((desc(EMBER_SEL_KERNEL_CS) >> 45) & 3, 0u);  // DPL 0
    EXPECT_EQ((desc(EMBER_SEL_USER_DS) >> 45) & 3, 3u);
    EXPECT_EQ((desc(kSelTss) >> 40) & 0xf, 0xbu);  // busy 64-bit TSS
}

TEST(Idt, EveryGateTargetsUserCodeSelector) {
    Mem m(16ull << 20);
    ember_kernel_header kh{};
    for (uint32_t v = 0; v < EMBER_NUM_VECTORS; ++v) kh.vector_entry[v] = 0x100100 + v * 16;
    kh.spurious_entry = 0x100800;
    ASSERT_TRUE(build_idt(m.mem, kh).is_ok());
    for (uint32_t v = 0; v < 256; ++v) {
        const uint64_t lo = *m.mem.read_obj<uint64_t>(EMBER_GPA_IDT + v * 16);
        const uint64_t hi = *m.mem.read_obj<uint64_t>(EMBER_GPA_IDT + v * 16 + 8);
        EXPECT_EQ((lo >> 16) & 0xffff, EMBER_SEL_USER_CS) << v;
        const uint64_t off = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | (hi << 32);
        EXPECT_EQ(off, v < 32 ? 0x100100 + v * 16 : 0x100800) << v;
    }
}

}  // namespace
}  // namespace ember
