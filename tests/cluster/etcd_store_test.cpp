#include "platform/cluster/etcd_store.h"

#include "etcd_test.h"

namespace ember::platform::cluster {
namespace {

using EtcdStoreTest = EtcdTest;

ServiceRecord record(const std::string& name, uint64_t gen) {
    ServiceRecord r;
    r.spec.name = name;
    r.spec.image = std::string(64, 'a');
    r.spec.port = 8080;
    r.generation = gen;
    r.created_at = 100;
    r.updated_at = 100 + static_cast<int64_t>(gen);
    return r;
}

TEST_F(EtcdStoreTest, WritesAreSeenByASecondStoreAfterLoad) {
    EtcdStore a(*client_, "/ember/"), b(*client_, "/ember/");
    int64_t rev = 0;
    ASSERT_TRUE(a.load(&rev));
    ASSERT_TRUE(a.put_service(record("web", 1)));
    ASSERT_TRUE(a.put_image({std::string(64, 'a'), 42, 7}));
    auto changes = b.load(&rev);
    ASSERT_TRUE(changes) << changes.message();
    ASSERT_EQ(changes->size(), 2u);
    auto got = b.get_service("web");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->generation, 1u);
    EXPECT_EQ((*got)->spec.port, 8080);
    EXPECT_EQ((*b.get_image(std::string(64, 'a')))->size, 42u);
    // Nothing new: no change the second time.
    EXPECT_TRUE(b.load(&rev)->empty());
}

TEST_F(EtcdStoreTest, WatchedEventsBecomeChangesOnce) {
    EtcdStore a(*client_, "/ember/"), b(*client_, "/ember/");
    int64_t rev = 0;
    ASSERT_TRUE(b.load(&rev));
    ASSERT_TRUE(a.put_service(record("web", 1)));
    ASSERT_TRUE(a.delete_service("web"));
    std::vector<WatchEvent> evs;
    std::atomic<bool> stop{false};
    ASSERT_TRUE(client_->watch(
        "/ember/", rev + 1,
        [&](const std::vector<WatchEvent>& e, int64_t) {
            evs.insert(evs.end(), e.begin(), e.end());
            return evs.size() < 2;
        },
        stop, 50));
    auto changes = b.apply(evs);
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].kind, StateChange::kServicePut);
    EXPECT_EQ(changes[1].kind, StateChange::kServiceDeleted);
    EXPECT_FALSE(b.get_service("web")->has_value());
    // A put the store made itself is no news to it.
    ASSERT_TRUE(b.put_service(record("api", 1)));
    WatchEvent own;
    own.kv.key = "/ember/services/api";
    own.kv.value = EtcdStore::encode_service(record("api", 1));
    EXPECT_TRUE(b.apply({own}).empty());
}

TEST_F(EtcdStoreTest, AMalformedRecordIsSkippedNotFatal) {
    ASSERT_TRUE(client_->put("/ember/services/bad", "{not json"));
    ASSERT_TRUE(client_->put("/ember/services/worse", R"({"spec":{"port":"x"},"generation":1})"));
    EtcdStore s(*client_, "/ember/");
    int64_t rev = 0;
    auto changes = s.load(&rev);
    ASSERT_TRUE(changes);
    EXPECT_TRUE(changes->empty());
    EXPECT_TRUE(s.list_services()->empty());
}

TEST_F(EtcdStoreTest, WritesAreRefusedWithAClearErrorWhileEtcdIsDownReadsGoOn) {
    EtcdStore s(*client_, "/ember/");
    int64_t rev = 0;
    ASSERT_TRUE(s.load(&rev));
    ASSERT_TRUE(s.put_service(record("web", 1)));
    EXPECT_TRUE(s.check_writable());
    etcd_->kill9();
    const Status st = s.put_service(record("web", 2));
    EXPECT_EQ(st.code(), Code::kUnavailable);
    EXPECT_NE(st.message().find("changes are refused"), std::string::npos) << st.message();
    EXPECT_EQ(s.check_writable().code(), Code::kUnavailable);
    auto got = s.get_service("web");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->generation, 1u);
}

}  // namespace
}  // namespace ember::platform::cluster

namespace ember::platform::cluster {
namespace {

TEST_F(EtcdStoreTest, AWriteOverAStaleReadIsAConflictNotAnOverwrite) {
    EtcdStore a(*client_, "/ember/"), b(*client_, "/ember/");
    int64_t rev = 0;
    ASSERT_TRUE(a.load(&rev));
    ASSERT_TRUE(b.load(&rev));
    ASSERT_TRUE(a.put_service(record("web", 1)));
    // b has not seen a's write: its record is "new", and etcd says no.
    const Status st = b.put_service(record("web", 1));
    EXPECT_EQ(st.code(), Code::kConflict) << st.message();
    // Read again, b may write over it; then a's copy is the stale one.
    ASSERT_TRUE(b.load(&rev));
    auto cur = b.get_service("web");
    ASSERT_TRUE(cur && cur->has_value());
    ServiceRecord next = **cur;
    next.generation = 2;
    EXPECT_TRUE(b.put_service(next));
    ServiceRecord stale = **a.get_service("web");
    stale.generation = 3;
    EXPECT_EQ(a.put_service(stale).code(), Code::kConflict);
}

}  // namespace
}  // namespace ember::platform::cluster
