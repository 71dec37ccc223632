// The split of a service's cluster-wide min/max between the live nodes.
#include "platform/cluster/placement.h"

#include <gtest/gtest.h>

namespace ember::platform::cluster {
namespace {

TEST(PlacementTest, SharesAddUpAndGoToTheFirstNodesByName) {
    const std::vector<std::string> nodes = {"a", "b", "c"};
    for (uint32_t v = 0; v < 20; ++v) {
        uint32_t sum = 0;
        for (const auto& n : nodes) sum += share_of(v, nodes, n);
        EXPECT_EQ(sum, v);
    }
    EXPECT_EQ(share_of(1, nodes, "a"), 1u);
    EXPECT_EQ(share_of(1, nodes, "b"), 0u);
    EXPECT_EQ(share_of(16, nodes, "a"), 6u);
    EXPECT_EQ(share_of(16, nodes, "c"), 5u);
    EXPECT_EQ(share_of(3, nodes, "z"), 0u);  // not a live node
}

TEST(PlacementTest, ADeadNodesShareGoesToTheOthers) {
    Placement p("b");
    EXPECT_EQ(p.my_share(3), 3u);  // alone until it knows the others
    EXPECT_TRUE(p.set_live({{"c", "127.0.0.1:3"}, {"a", "127.0.0.1:1"}, {"b", "127.0.0.1:2"}}));
    EXPECT_FALSE(p.set_live({{"a", "127.0.0.1:1"}, {"b", "127.0.0.1:2"}, {"c", "127.0.0.1:3"}}));
    EXPECT_EQ(p.my_share(3), 1u);
    // Peers whose share of max is not 0: max 1 lives on "a" only.
    auto t = p.targets(1);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].name, "a");
    EXPECT_EQ(p.targets(3).size(), 2u);
    EXPECT_TRUE(p.set_live({{"b", "127.0.0.1:2"}, {"c", "127.0.0.1:3"}}));  // "a" died
    EXPECT_EQ(p.my_share(3), 2u);
    EXPECT_EQ(p.share(3, "c"), 1u);
    EXPECT_EQ(p.targets(1).size(), 0u);  // max 1 is this node's now
}

}  // namespace
}  // namespace ember::platform::cluster
