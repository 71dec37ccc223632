// Snapshots on disk are authenticated (src/platform/snapshot_seal.h): one
// service's snapshot copied over another's, even with its seal, is not
// served after a restart; the service is prepared again from its image.
#include <sys/stat.h>

#include <cstdlib>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

TEST_F(E2eTest, AnotherServicesSnapshotCopiedInIsPreparedAgainAtRestart) {
    deploy_app("alpha", {{"env", {"WHO=alpha"}}});
    deploy_app("beta", {{"env", {"WHO=beta"}}});
    ASSERT_EQ(d_->terminate(), 0);
    const std::string snaps = d_->data_dir() + "/snapshots/";
    struct stat st;
    ASSERT_EQ(::stat((d_->data_dir() + "/snapshot.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((snaps + "beta.1.snap.seal").c_str(), &st), 0) << "snapshot layout changed?";
    // Both files carry valid CRCs and a valid seal, for beta's name.
    ASSERT_EQ(std::system(("cp " + snaps + "beta.1.snap " + snaps + "alpha.1.snap && cp " + snaps +
                           "beta.1.snap.seal " + snaps + "alpha.1.snap.seal")
                              .c_str()),
              0);
    ASSERT_EQ(d_->start(), "");
    auto r = d_->get("alpha", "/env/WHO");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "alpha\n") << "alpha served beta's snapshot";
    EXPECT_NE(d_->output().find("snapshot seal does not match"), std::string::npos) << d_->output();
    r = d_->get("beta", "/env/WHO");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, "beta\n");
}

}  // namespace
}  // namespace ember::e2e
