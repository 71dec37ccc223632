// Deploying what users bring besides static programs, through the ember CLI
// and a real emberd: a container image (an OCI image layout, as a directory
// and as a tar, built here with tar and sha256sum: oci_builder.h) whose Entrypoint is a
// dynamically linked server with its libraries in the image, its Cmd, Env,
// WorkingDir and first exposed port honoured; a dynamically linked program
// uploaded with its interpreter and libraries from this machine; and a blob
// declared a container image that is not one, refused with a clear error.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "e2e_test.h"
#include "oci_builder.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

std::string dynamic_app_path() { return E2E_APP_DYN_PATH; }

class DeployImageTest : public E2eTest {
  protected:
    static void sh(const std::string& cmd) { test::oci_sh(cmd); }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream(path) << text;
    }

    // Layer 1: the dynamically linked e2e_app at /srv/app with the files
    // ldd names; layer 2: a data file and the removal (whiteout) of one of
    // layer 1's. Entrypoint /srv/app, Cmd ["8081"] (its port), port 8081
    // exposed, an Env and WorkingDir /srv/data.
    std::string oci_layout() {
        const std::string d = tmp_.path(), out = d + "/oci";
        sh("mkdir -p " + d + "/l1/srv " + d + "/l2/srv/data && cp " + dynamic_app_path() + " " + d +
           "/l1/srv/app && for f in $(ldd " + dynamic_app_path() +
           " | grep -o '/[^ ]*'); do mkdir -p " + d + "/l1$(dirname $f) && cp -L $f " + d +
           "/l1$f; done && echo old > " + d + "/l1/srv/gone && echo 'from layer 2' > " + d +
           "/l2/srv/data/msg.txt && touch " + d + "/l2/srv/.wh.gone && tar -C " + d + "/l1 -czf " +
           d + "/layer1 . && tar -C " + d + "/l2 -cf " + d + "/layer2 .");
        test::write_oci_layout(
            out, {d + "/layer1", d + "/layer2"},
            R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/srv/app"],)"
            R"("Cmd":["8081"],"Env":["GREETING=from-image","MODE=image"],)"
            R"("WorkingDir":"/srv/data","ExposedPorts":{"8081/tcp":{}}}})");
        return out;
    }

    std::string body(const std::string& service, const std::string& path) {
        auto r = d_->get(service, path);
        EXPECT_EQ(r.status, 200) << service << path << " " << r.body << r.error;
        return r.body;
    }
};

TEST_F(DeployImageTest, ContainerImageRunsItsEntrypointWithCmdEnvLayersAndExposedPort) {
    const std::string layout = oci_layout();
    auto dep = run_cli(*d_, {"deploy", "--image", layout, "--name", "img"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();
    EXPECT_NE(dep.out.find("deployed img (generation 1)"), std::string::npos) << dep.out;
    auto svc = json::parse(d_->api("GET", "/v1/services/img").body);
    EXPECT_EQ(svc["image_type"], "container");
    EXPECT_EQ(svc["port"], 8081) << "the image's exposed port";
    EXPECT_NE(body("img", "/env/GREETING").find("from-image"), std::string::npos);
    EXPECT_NE(body("img", "/file/srv/data/msg.txt").find("from layer 2"), std::string::npos);
    auto gone = d_->get("img", "/file/srv/gone");
    EXPECT_NE(gone.status, 200) << "a whiteout removes layer 1's file: " << gone.body;

    // The layout as a tar archive; --env overrides the image's Env, ARGS
    // after "--" replace its Cmd, and --port the exposed port.
    sh("tar -C " + layout + " -cf " + tmp_.path() + "/oci.tar .");
    dep = run_cli(*d_, {"deploy", "--image", tmp_.path() + "/oci.tar", "--name", "img2", "--env",
                        "GREETING=from-cli", "--port", "9000", "--", "9000"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();
    EXPECT_NE(body("img2", "/env/GREETING").find("from-cli"), std::string::npos);
    EXPECT_NE(body("img2", "/env/MODE").find("image"), std::string::npos);
}

TEST_F(DeployImageTest, DynamicallyLinkedProgramIsDeployedWithItsLibraries) {
    auto dep =
        run_cli(*d_, {"deploy", dynamic_app_path(), "--name", "dyn", "--env", "MODE=dynamic"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();
    EXPECT_NE(body("dyn", "/env/MODE").find("dynamic"), std::string::npos);
    auto svc = json::parse(d_->api("GET", "/v1/services/dyn").body);
    bool has_libc = false;
    for (const auto& f : svc["files"])
        has_libc |= f["path"].get<std::string>().find("libc.so") != std::string::npos;
    EXPECT_TRUE(has_libc) << svc.dump();
}

TEST_F(DeployImageTest, NotAnImageIsRefusedClearly) {
    // A program declared a container image.
    auto r = d_->deploy("notimg", e2e_app_path(), {{"image_type", "container"}});
    EXPECT_GE(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("container image"), std::string::npos) << r.body;
    auto bad = d_->deploy("badtype", e2e_app_path(), {{"image_type", "vm"}});
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_NE(bad.body.find("image_type"), std::string::npos) << bad.body;
    // The CLI checks the image before uploading anything.
    write(tmp_.path() + "/junk.tar", "not a tar archive at all");
    auto cli = run_cli(*d_, {"deploy", "--image", tmp_.path() + "/junk.tar"});
    EXPECT_EQ(cli.status, 2) << cli.out << cli.err;
    EXPECT_NE(cli.err.find("--image"), std::string::npos) << cli.err;
    auto none = run_cli(*d_, {"deploy"});
    EXPECT_EQ(none.status, 2) << none.err;
}

}  // namespace
}  // namespace ember::e2e
