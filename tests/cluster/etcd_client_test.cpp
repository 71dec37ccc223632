#include <atomic>
#include <thread>
#include <vector>

#include "etcd_test.h"

namespace ember::platform::cluster {
namespace {

TEST(Base64, RoundTripsEveryLengthAndByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (size_t n = 0; n <= all.size(); n += 1) {
        const std::string in = all.substr(0, n);
        std::string out;
        ASSERT_TRUE(base64_decode(base64_encode(in), &out)) << n;
        EXPECT_EQ(out, in);
    }
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
}

TEST(Base64, MalformedInputIsRejected) {
    std::string out;
    EXPECT_FALSE(base64_decode("Zm9", &out));       // length
    EXPECT_FALSE(base64_decode("Zm!v", &out));      // alphabet
    EXPECT_FALSE(base64_decode("Z=9v", &out));      // padding in the middle
    EXPECT_FALSE(base64_decode("Zg==Zm9v", &out));  // data after padding
}

TEST(PrefixEnd, IncrementsTheLastByte) {
    EXPECT_EQ(prefix_end("/ember/"), "/ember0");
    EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
}

TEST(Endpoints, ParsesAListAndRefusesOthers) {
    auto e = parse_endpoints("http://127.0.0.1:2379,http://[::1]:2380/");
    ASSERT_TRUE(e) << e.message();
    ASSERT_EQ(e->size(), 2u);
    EXPECT_EQ((*e)[0].host, "127.0.0.1");
    EXPECT_EQ((*e)[1].host, "::1");
    EXPECT_EQ((*e)[1].port, 2380);
    EXPECT_FALSE(parse_endpoints("https://127.0.0.1:2379"));
    EXPECT_FALSE(parse_endpoints("127.0.0.1:2379"));
    EXPECT_FALSE(parse_endpoints("http://h:99999"));
    EXPECT_FALSE(parse_endpoints(""));
}

using EtcdClientTest = EtcdTest;

TEST_F(EtcdClientTest, PutGetDeleteBinarySafe) {
    const std::string key = std::string("/t/k\0ey", 7), value = std::string("v\0\xff\n", 4);
    auto rev = client_->put(key, value);
    ASSERT_TRUE(rev) << rev.message();
    EXPECT_GT(*rev, 0);
    auto got = client_->get(key);
    ASSERT_TRUE(got) << got.message();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->value, value);
    EXPECT_EQ((*got)->mod_revision, *rev);
    auto n = client_->del(key);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 1);
    got = client_->get(key);
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value());
}

TEST_F(EtcdClientTest, PrefixRangeSeesOnlyThePrefix) {
    ASSERT_TRUE(client_->put("/a/1", "x"));
    ASSERT_TRUE(client_->put("/a/2", "y"));
    ASSERT_TRUE(client_->put("/b/1", "z"));
    int64_t rev = 0;
    auto kvs = client_->get_prefix("/a/", &rev);
    ASSERT_TRUE(kvs) << kvs.message();
    ASSERT_EQ(kvs->size(), 2u);
    EXPECT_EQ((*kvs)[0].key, "/a/1");
    EXPECT_EQ((*kvs)[1].value, "y");
    EXPECT_GT(rev, 0);
    auto n = client_->del_prefix("/a/");
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 2);
}

TEST_F(EtcdClientTest, PutIfIsACompareAndSwap) {
    auto created = client_->put_if("/cas", "1", 0);
    ASSERT_TRUE(created) << created.message();
    EXPECT_GT(*created, 0);
    EXPECT_FALSE(*client_->put_if("/cas", "2", 0));  // exists now
    auto cur = client_->get("/cas");
    ASSERT_TRUE(cur && cur->has_value());
    EXPECT_TRUE(*client_->put_if("/cas", "3", (*cur)->mod_revision));
    EXPECT_FALSE(*client_->put_if("/cas", "4", (*cur)->mod_revision));  // stale
    EXPECT_EQ((*client_->get("/cas"))->value, "3");
}

TEST_F(EtcdClientTest, KeyUnderALeaseGoesWhenTheLeaseIsRevoked) {
    auto lease = client_->lease_grant(5);
    ASSERT_TRUE(lease) << lease.message();
    ASSERT_TRUE(client_->put("/node/a", "up", *lease));
    auto ttl = client_->lease_keepalive(*lease);
    ASSERT_TRUE(ttl) << ttl.message();
    EXPECT_GT(*ttl, 0);
    EXPECT_EQ((*client_->get("/node/a"))->lease, *lease);
    ASSERT_TRUE(client_->lease_revoke(*lease));
    EXPECT_FALSE(client_->get("/node/a")->has_value());
    ttl = client_->lease_keepalive(*lease);
    ASSERT_TRUE(ttl);
    EXPECT_EQ(*ttl, 0);  // expired: the caller registers again
}

TEST_F(EtcdClientTest, WatchStreamsPutsAndDeletesFromARevision) {
    auto rev = client_->put("/w/early", "0");
    ASSERT_TRUE(rev);
    std::atomic<bool> stop{false};
    std::vector<WatchEvent> seen;
    std::mutex mu;
    Status result = Status::ok();
    std::thread t([&] {
        result = client_->watch(
            "/w/", *rev,
            [&](const std::vector<WatchEvent>& evs, int64_t) {
                std::lock_guard g(mu);
                seen.insert(seen.end(), evs.begin(), evs.end());
                return true;
            },
            stop, 50);
    });
    ASSERT_TRUE(client_->put("/w/a", "1"));
    ASSERT_TRUE(client_->put("/other", "x"));
    ASSERT_TRUE(client_->del("/w/a"));
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard g(mu);
            if (seen.size() >= 3) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop = true;
    t.join();
    EXPECT_TRUE(result) << result.message();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].kv.key, "/w/early");
    EXPECT_EQ(seen[1].kv.value, "1");
    EXPECT_FALSE(seen[1].deleted);
    EXPECT_TRUE(seen[2].deleted);
    EXPECT_EQ(seen[2].kv.key, "/w/a");
}

TEST_F(EtcdClientTest, WatchEndsUnavailableWhenEtcdDies) {
    std::atomic<bool> stop{false};
    Status result = Status::ok();
    std::thread t([&] {
        result = client_->watch(
            "/w/", 0, [](const std::vector<WatchEvent>&, int64_t) { return true; }, stop, 50);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    etcd_->kill9();
    t.join();
    EXPECT_EQ(result.code(), Code::kUnavailable) << result.message();
}

TEST_F(EtcdClientTest, CallsToAStoppedEtcdAreUnavailableNotHangs) {
    etcd_->kill9();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = client_->put("/k", "v");
    EXPECT_FALSE(r);
    EXPECT_EQ(r.code(), Code::kUnavailable);
    EXPECT_NE(r.message().find("unreachable"), std::string::npos) << r.message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(EtcdClientTest, SecondEndpointIsUsedWhenTheFirstIsDown) {
    auto eps =
        parse_endpoints("http://127.0.0.1:" + std::to_string(testing_etcd::free_loopback_port()) +
                        "," + etcd_->url());
    ASSERT_TRUE(eps);
    EtcdClient c(*eps, 2000);
    EXPECT_TRUE(c.put("/k", "v"));
    EXPECT_EQ((*c.get("/k"))->value, "v");
}

TEST_F(EtcdClientTest, WithAuthenticationOnlyTheRightUserGetsInAndWatches) {
    ASSERT_EQ(etcd_->enable_auth("ember", "s3cret", "/ember/"), "");
    auto eps = parse_endpoints(etcd_->url());
    ASSERT_TRUE(eps);
    // Without credentials: refused, with a message that says what to give.
    auto r = client_->put("/ember/k", "v");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Code::kInvalidArgument);
    EXPECT_NE(r.message().find("--etcd-user"), std::string::npos) << r.message();
    // A wrong password: refused, naming the user.
    EtcdClient wrong(*eps, 2000, {"ember", "nope"});
    r = wrong.put("/ember/k", "v");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.code(), Code::kInvalidArgument);
    EXPECT_NE(r.message().find("'ember'"), std::string::npos) << r.message();
    // The right one: reads, writes, leases and watches under its prefix,
    // nothing outside it.
    EtcdClient c(*eps, 2000, {"ember", "s3cret"});
    ASSERT_TRUE(c.put("/ember/k", "v"));
    auto got = c.get("/ember/k");
    ASSERT_TRUE(got) << got.message();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->value, "v");
    EXPECT_FALSE(c.put("/other", "v"));
    auto lease = c.lease_grant(5);
    ASSERT_TRUE(lease) << lease.message();
    EXPECT_TRUE(c.put("/ember/leased", "x", *lease));
    auto rev = c.put("/ember/w", "1");
    ASSERT_TRUE(rev) << rev.message();
    std::atomic<bool> stop{false};
    std::vector<std::string> seen;
    std::thread guard([&] {
        for (int i = 0; i < 50 && !stop; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        stop = true;  // the watch gives up after 5 s at most
    });
    const Status ws = c.watch(
        "/ember/", *rev,
        [&](const std::vector<WatchEvent>& evs, int64_t) {
            for (const auto& e : evs) seen.push_back(e.kv.key);
            return false;
        },
        stop);
    stop = true;
    guard.join();
    EXPECT_TRUE(ws) << ws.message();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "/ember/w");
    // etcd restarted: its tokens are gone; the client gets a new one.
    etcd_->kill9();
    ASSERT_EQ(etcd_->start(), "");
    auto again = c.get("/ember/k");
    ASSERT_TRUE(again) << again.message();
    EXPECT_TRUE(again->has_value());
}

}  // namespace
}  // namespace ember::platform::cluster
