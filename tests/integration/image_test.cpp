// Container images and tar root filesystems: `ember-vm run --image` with an
// OCI image layout (directory and tar) and a `docker save` archive, built
// here from busybox-static with tar and sha256sum; layers in order with
// whiteouts; Entrypoint, Cmd, Env and WorkingDir honoured; damaged images
// refused with one line; `--rootfs` with a (compressed) tar archive.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "oci_builder.h"
#include "test_env.h"

namespace ember::test {
namespace {

constexpr int kBadInput = 126;

// Builds images from layer directories with the host's tar and sha256sum.
class ImageTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        sh("mkdir -p " + dir_ / "l1/bin " + dir_ / "l1/app2 " + dir_ / "l2/app " +
           dir_ / "l2/bin " + dir_ / "l2/app2 && cp " + busybox_path() + " " +
           dir_ / "l1/bin/busybox && ln -s busybox " + dir_ / "l1/bin/sh && echo old > " +
           dir_ / "l1/bin/gone && echo old > " + dir_ / "l1/app2/old && echo 'hi from layer 2' > " +
           dir_ / "l2/app/hello.txt && touch " + dir_ / "l2/bin/.wh.gone " +
           dir_ / "l2/app2/.wh..wh..opq && echo new > " + dir_ / "l2/app2/new");
        config_ =
            R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/busybox"],)"
            R"("Cmd":["sh","-c","pwd; echo $GREETING; test -e /bin/gone || echo gone-is-gone"],)"
            R"("Env":["PATH=/bin","GREETING=hello-env"],"WorkingDir":"/app",)"
            R"("ExposedPorts":{"8080/tcp":{}}}})";
    }

    static void sh(const std::string& cmd) { oci_sh(cmd); }

    // An OCI image layout of l1 (gzip) and l2 (plain tar) with config_.
    std::string oci_layout() {
        const std::string out = dir_ / "oci";
        sh("tar -C " + dir_ / "l1" + " -czf " + dir_ / "layer1" + " . && tar -C " + dir_ / "l2" +
           " -cf " + dir_ / "layer2" + " .");
        const auto layers = write_oci_layout(out, {dir_ / "layer1", dir_ / "layer2"}, config_);
        layer1_ = out + "/blobs/sha256/" + layers.at(0);
        return out;
    }

    TempDir dir_;
    std::string config_;
    std::string layer1_;
};

TEST_F(ImageTest, OciLayoutRunsEntrypointAndCmdWithEnvWorkingDirAndWhiteouts) {
    RunResult r = run_ember({"run", "--image", oci_layout()});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "/app\nhello-env\ngone-is-gone\n") << r.err;
}

TEST_F(ImageTest, ArgsReplaceCmdAndRelativePathsStartInWorkingDir) {
    const std::string layout = oci_layout();
    RunResult r = run_ember({"run", "--image", layout, "--", "cat", "hello.txt"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "hi from layer 2\n") << r.err;
    // The opaque whiteout hid app2/old from layer 1 but not layer 2's own new.
    RunResult ls = run_ember({"run", "--image", layout, "--", "ls", "/app2"});
    EXPECT_EQ(ls.out, "new\n") << describe(ls);
    // --env overrides the image's Env.
    RunResult env = run_ember(
        {"run", "--env", "GREETING=over", "--image", layout, "--", "sh", "-c", "echo $GREETING"});
    EXPECT_EQ(env.out, "over\n") << describe(env);
}

// The image's tree is built once: a second run maps it from the host cache
// (docs/platform.md) with the same argv, env and working directory.
TEST_F(ImageTest, SecondRunOfAnImageComesFromTheCache) {
    const std::string layout = oci_layout();
    sh("tar -C " + layout + " -cf " + dir_ / "image.tar" + " .");
    for (const std::string& image : {layout, dir_ / "image.tar"}) {
        RunResult a = run_ember({"run", "--stats", "--image", image});
        RunResult b = run_ember({"run", "--stats", "--image", image});
        EXPECT_TRUE(b.exited && b.exit_code == 0) << describe(b);
        EXPECT_EQ(a.out, "/app\nhello-env\ngone-is-gone\n") << a.err;
        EXPECT_EQ(b.out, a.out) << b.err;
        EXPECT_NE(b.err.find("root filesystem: from the cache"), std::string::npos) << b.err;
        RunResult c = run_ember({"run", "--stats", "--image", image, "--", "cat", "hello.txt"});
        EXPECT_EQ(c.out, "hi from layer 2\n") << describe(c);
    }
}

TEST_F(ImageTest, OciLayoutAsTarArchive) {
    const std::string layout = oci_layout();
    sh("tar -C " + layout + " -cf " + dir_ / "image.tar" + " .");
    RunResult r = run_ember({"run", "--image", dir_ / "image.tar"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "/app\nhello-env\ngone-is-gone\n") << r.err;
}

TEST_F(ImageTest, DockerSaveArchive) {
    const std::string save = dir_ / "save";
    sh("mkdir -p " + save + "/a " + save + "/b && tar -C " + dir_ / "l1" + " -cf " + save +
       "/a/layer.tar . && tar -C " + dir_ / "l2" + " -cf " + save + "/b/layer.tar .");
    write_file(save + "/cfg.json", config_);
    write_file(
        save + "/manifest.json",
        R"([{"Config":"cfg.json","RepoTags":["t:1"],"Layers":["a/layer.tar","b/layer.tar"]}])");
    sh("tar -C " + save + " -cf " + dir_ / "saved.tar" + " .");
    RunResult r = run_ember({"run", "--image", dir_ / "saved.tar"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "/app\nhello-env\ngone-is-gone\n") << r.err;
}

TEST_F(ImageTest, TamperedLayerIsRefused) {
    const std::string layout = oci_layout();
    sh("printf x | dd of=" + layer1_ + " bs=1 seek=100 conv=notrunc 2>/dev/null");
    RunResult r = run_ember({"run", "--image", layout});
    EXPECT_TRUE(r.exited && r.exit_code == kBadInput) << describe(r);
    EXPECT_NE(r.err.find("does not match its digest"), std::string::npos) << r.err;
}

TEST_F(ImageTest, MalformedImagesAreRefusedWithOneLine) {
    const std::string layout = oci_layout();
    struct Case {
        const char* what;
        std::string index;
    } cases[] = {
        {"not JSON", "{"},
        {"no manifests", R"({"manifests":[]})"},
        {"bad digest", R"({"manifests":[{"digest":"sha256:abc"}]})"},
        {"missing blob", R"({"manifests":[{"digest":"sha256:)" + std::string(64, 'a') + R"("}]})"},
        {"other arch",
         R"({"manifests":[{"digest":"sha256:x","platform":{"architecture":"arm64"}}]})"},
    };
    for (const auto& c : cases) {
        write_file(layout + "/index.json", c.index);
        RunResult r = run_ember({"run", "--image", layout});
        EXPECT_TRUE(r.exited && r.exit_code == kBadInput) << c.what << ": " << describe(r);
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.what << ": " << r.err;
    }
    RunResult none = run_ember({"run", "--image", dir_ / "l1"});
    EXPECT_TRUE(none.exited && none.exit_code == kBadInput) << describe(none);
    EXPECT_NE(none.err.find("not a container image"), std::string::npos) << none.err;
}

TEST_F(ImageTest, LayerEscapingTheRootIsRefused) {
    // GNU tar keeps a member name with "..", and the image must not place it.
    sh("mkdir -p " + dir_ / "evil/x && echo pwned > " + dir_ / "evil/x/f && tar -C " +
       dir_ / "evil/x" + " -cf " + dir_ / "evil.tar" + " --transform='s,^\\./f,../../f,' ./f");
    RunResult r = run_ember({"run", "--rootfs", dir_ / "evil.tar", busybox_path(), "--", "true"});
    EXPECT_TRUE(r.exited && r.exit_code == kBadInput) << describe(r);
    EXPECT_NE(r.err.find(".."), std::string::npos) << r.err;
}

TEST_F(ImageTest, RootfsFromCompressedTarArchive) {
    sh("tar -C " + dir_ / "l2" + " -czf " + dir_ / "tree.tgz" + " .");
    RunResult r = run_ember(
        {"run", "--rootfs", dir_ / "tree.tgz", busybox_path(), "--", "cat", "/app/hello.txt"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "hi from layer 2\n") << r.err;
}

}  // namespace
}  // namespace ember::test
