#include "platform/router.h"

#include <gtest/gtest.h>

namespace ember::platform {
namespace {

TEST(Router, HostNamesTheService) {
    auto r = route_request("hello.localhost", "/x?y=1", "localhost");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->service, "hello");
    EXPECT_EQ(r->target, "/x?y=1");
    EXPECT_TRUE(r->by_host);
}

TEST(Router, HostWithPortAndUpperCase) {
    auto r = route_request("Hello.LocalHost:8080", "/", "localhost");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->service, "hello");
}

TEST(Router, OtherDomains) {
    auto r = route_request("api.fn.example.com", "/", "fn.example.com");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->service, "api");
    // Two labels in front of the domain are not a service name: path routing.
    auto r2 = route_request("a.b.localhost", "/svc/x", "localhost");
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->service, "svc");
    EXPECT_FALSE(r2->by_host);
}

TEST(Router, PathPrefixIsStripped) {
    auto r = route_request("127.0.0.1:8080", "/hello/a/b?q", "localhost");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->service, "hello");
    EXPECT_EQ(r->target, "/a/b?q");
    EXPECT_EQ(route_request("localhost", "/hello", "localhost")->target, "/");
    EXPECT_EQ(route_request("localhost", "/hello?x=1", "localhost")->target, "/?x=1");
    EXPECT_EQ(route_request("localhost", "/hello/", "localhost")->target, "/");
}

TEST(Router, NothingToRouteBy) {
    EXPECT_FALSE(route_request("localhost", "/", "localhost"));
    EXPECT_FALSE(route_request("", "", "localhost"));
    EXPECT_FALSE(route_request("localhost", "*", "localhost"));
    EXPECT_FALSE(route_request("localhost", "/Bad_Name/x", "localhost"));
    EXPECT_FALSE(route_request("localhost", "http://x/y", "localhost"));
}

}  // namespace
}  // namespace ember::platform
