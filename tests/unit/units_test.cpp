#include "common/units.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

TEST(Units, SizesWithSuffixes) {
    EXPECT_EQ(parse_size("64M"), 64ull << 20);
    EXPECT_EQ(parse_size("512K"), 512ull << 10);
    EXPECT_EQ(parse_size("1G"), 1ull << 30);
    EXPECT_EQ(parse_size("1.5K"), 1536u);
    EXPECT_EQ(parse_size("100"), 100u);
    EXPECT_EQ(parse_size("2MiB"), 2ull << 20);
}

TEST(Units, MalformedSizesAreRejected) {
    for (const char* s : {"", "M", "-1M", "12X", "1e3", "0.3", "99999999999999999999G", " 1M"})
        EXPECT_FALSE(parse_size(s).has_value()) << s;
}

TEST(Units, DurationsInMilliseconds) {
    EXPECT_EQ(parse_duration_ms("1s"), 1000u);
    EXPECT_EQ(parse_duration_ms("1.5s"), 1500u);
    EXPECT_EQ(parse_duration_ms("250ms"), 250u);
    EXPECT_EQ(parse_duration_ms("2m"), 120000u);
    EXPECT_EQ(parse_duration_ms("3"), 3000u);
    EXPECT_EQ(parse_duration_ms("1us"), 1u) << "rounds up: 1 us is not 0";
    EXPECT_EQ(parse_duration_ms("0"), 0u);
}

TEST(Units, MalformedDurationsAreRejected) {
    for (const char* s : {"", "s", "-1s", "1x", "1 s", "100y", "999999999h"})
        EXPECT_FALSE(parse_duration_ms(s).has_value()) << s;
}

TEST(Units, Formatting) {
    EXPECT_EQ(format_duration_ms(250), "250ms");
    EXPECT_EQ(format_duration_ms(1000), "1s");
    EXPECT_EQ(format_duration_ms(1500), "1.5s");
    EXPECT_EQ(format_duration_ms(90000), "1m30s");
    EXPECT_EQ(format_size(64ull << 20), "64M");
    EXPECT_EQ(format_size(1536), "1.5K");
    EXPECT_EQ(format_size(10), "10");
}

TEST(Units, DurationsInNanosecondsForEmberVm) {
    EXPECT_EQ(parse_duration_ns("500ms"), 500000000u);
    EXPECT_EQ(parse_duration_ns("250us"), 250000u);
    EXPECT_EQ(parse_duration_ns("7ns"), 7u);
    EXPECT_EQ(parse_duration_ns("1.5s"), 1500000000u);
    EXPECT_EQ(parse_duration_ns("2"), 2000000000u);
    for (const char* s : {"", "-1s", "1x", "s", "99999999999h"})
        EXPECT_FALSE(parse_duration_ns(s).has_value()) << s;
}

}  // namespace
}  // namespace ember
