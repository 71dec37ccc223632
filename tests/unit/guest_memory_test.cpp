// Tests of the one checked accessor for guest memory.
#include "vmm/guest_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace ember {
namespace {

TEST(GuestMemory, ReadWriteInsideRange) {
    auto m = GuestMemory::create_anonymous(1 << 20);
    ASSERT_TRUE(m.is_ok());
    EXPECT_TRUE(m->write_obj<uint64_t>(0x1000, 0x1122334455667788ull));
    EXPECT_EQ(m->read_obj<uint64_t>(0x1000).value(), 0x1122334455667788ull);
    EXPECT_TRUE(m->write_obj<uint32_t>((1 << 20) - 4, 7));  // last bytes
}

TEST(GuestMemory, AccessCrossingTheEndIsRefused) {
    auto m = GuestMemory::create_anonymous(1 << 20);
    ASSERT_TRUE(m.is_ok());
    EXPECT_FALSE(m->read_obj<uint64_t>((1 << 20) - 4).has_value());
    EXPECT_FALSE(m->write_obj<uint64_t>((1 << 20) - 4, 1));
    EXPECT_FALSE(m->span((1 << 20) - 1, 2).has_value());
}

TEST(GuestMemory, OverflowingAddressPlusLengthIsRefused) {
    auto m = GuestMemory::create_anonymous(1 << 20);
    ASSERT_TRUE(m.is_ok());
    uint8_t b[16];
    EXPECT_FALSE(m->read(~0ull - 4, b, 16));
    EXPECT_FALSE(m->read(8, b, ~0ull));
    EXPECT_FALSE(m->contains(0x10, ~0ull - 8));
    EXPECT_FALSE(m->fill(~0ull, 0, 2));
}

TEST(GuestMemory, ZeroLengthAtTheEndIsAllowed) {
    auto m = GuestMemory::create_anonymous(1 << 20);
    ASSERT_TRUE(m.is_ok());
    EXPECT_TRUE(m->contains(1 << 20, 0));
    EXPECT_FALSE(m->contains((1 << 20) + 1, 0));
}

TEST(GuestMemory, FreshMemoryReadsZero) {
    auto m = GuestMemory::create_anonymous(4 << 20);
    ASSERT_TRUE(m.is_ok());
    EXPECT_EQ(m->read_obj<uint64_t>(3 << 20).value(), 0u);
}

TEST(GuestMemory, MoveTransfersOwnership) {
    auto m = GuestMemory::create_anonymous(1 << 20);
    ASSERT_TRUE(m.is_ok());
    GuestMemory a = std::move(*m);
    EXPECT_EQ(a.size(), 1u << 20);
    EXPECT_EQ(m->size(), 0u);
    EXPECT_FALSE(m->read_obj<uint8_t>(0).has_value());
}

}  // namespace
}  // namespace ember
