// A Go net/http service (examples/go/http_hello.go, static, Debian's
// golang-go) deployed on emberd: the snapshot is taken with the Go runtime's
// threads all blocked, the first request restores it (cold start) and a
// second reaches the same warm instance. Skips, loudly, without go.
#include <sys/stat.h>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

// The Go net/http hello needs 66M (the runtime's reservations take address
// space above guest memory, docs/architecture.md "Virtual memory", also in
// snapshotted instances); 96 leaves a margin.
constexpr int kGoMemoryMb = 96;

class GoServiceTest : public E2eTest {
  protected:
    void SetUp() override {
        struct stat st {};
        if (!EMBER_HAVE_GO || ::stat(program().c_str(), &st) != 0)
            GTEST_SKIP() << "SKIPPED: go was not found at configure time (install golang-go, "
                            "scripts/deps.sh does); examples/go was not built";
        E2eTest::SetUp();
    }
    static std::string program() { return std::string(EMBER_EXAMPLES_GO_DIR) + "/http_hello"; }
};

TEST_F(GoServiceTest, NetHttpHelloColdStartThenWarm) {
    auto r = d_->deploy("gohello", program(), {{"memory_mb", kGoMemoryMb}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;

    auto cold = d_->get("gohello", "/", 60000);
    ASSERT_EQ(cold.status, 200) << cold.error << cold.body;
    EXPECT_EQ(cold.body, "hello from go\n");
    EXPECT_TRUE(is_cold(cold)) << cold.header("server-timing");
    const std::string instance = cold.header("x-ember-instance");

    auto warm = d_->get("gohello", "/");
    ASSERT_EQ(warm.status, 200) << warm.error << warm.body;
    EXPECT_EQ(warm.body, "hello from go\n");
    EXPECT_FALSE(is_cold(warm)) << warm.header("server-timing");
    EXPECT_EQ(warm.header("x-ember-instance"), instance);

    // The instance's memory carries over between warm requests: the Go
    // program's request counter (every request so far counts).
    auto count = d_->get("gohello", "/count");
    ASSERT_EQ(count.status, 200) << count.error;
    EXPECT_EQ(count.body, "3\n");
}

// isolation "request": every request gets a fresh instance restored from
// the snapshot (all of the Go runtime's threads with it) and discarded.
TEST_F(GoServiceTest, NetHttpHelloFreshInstancePerRequest) {
    auto r = d_->deploy("goiso", program(), {{"memory_mb", kGoMemoryMb}, {"isolation", "request"}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body << r.error;
    for (int i = 0; i < 3; ++i) {
        auto count = d_->get("goiso", "/count", 60000);
        ASSERT_EQ(count.status, 200) << count.error << count.body;
        EXPECT_EQ(count.body, "1\n") << "request " << i << " saw another request's state";
        EXPECT_TRUE(is_cold(count)) << count.header("server-timing");
    }
}

}  // namespace
}  // namespace ember::e2e
