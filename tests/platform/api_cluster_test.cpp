#include <gtest/gtest.h>

#include "platform/api.h"

namespace ember::platform {
namespace {

TEST(NodeLabel, EverySampleGetsItCommentsDoNot) {
    const std::string in =
        "# HELP ember_requests_total Requests.\n"
        "# TYPE ember_requests_total counter\n"
        "ember_requests_total{service=\"a\",code=\"200\"} 3\n"
        "ember_up 1\n"
        "ember_empty{} 0\n";
    EXPECT_EQ(add_node_label(in, "n1"),
              "# HELP ember_requests_total Requests.\n"
              "# TYPE ember_requests_total counter\n"
              "ember_requests_total{node=\"n1\",service=\"a\",code=\"200\"} 3\n"
              "ember_up{node=\"n1\"} 1\n"
              "ember_empty{node=\"n1\"} 0\n");
}

TEST(NodeLabel, TextWithoutTrailingNewlineOrSamplesIsKept) {
    EXPECT_EQ(add_node_label("", "n1"), "");
    EXPECT_EQ(add_node_label("x 1", "n1"), "x{node=\"n1\"} 1");
    EXPECT_EQ(add_node_label("# only\n", "n1"), "# only\n");
}

}  // namespace
}  // namespace ember::platform
