// Debian's python3 and node as servers under `ember-vm run -p`, each compared
// with the same server run natively: python3 -m http.server from an OCI image
// built from this machine's files (examples/lang/oci_image.sh), serving a
// directory listing, a file and a subdirectory; node's http.createServer
// hello (examples/lang/hello.js) as a dynamically linked program with the
// script as a --file. Clients are curl. Skips, loudly, without
// /usr/bin/python3, /usr/bin/node or curl (scripts/deps.sh installs them).
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "test_env.h"

namespace ember::test {
namespace {

const std::string kLangDir = EMBER_EXAMPLES_LANG_DIR;

// Starts `server` (a shell command line) in the background, waits until
// 127.0.0.1:port answers GET / (at most 20 s), then prints each path's
// response body followed by a "--- PATH" line, and kills the server.
RunResult fetch(const std::string& server, uint16_t port, const std::vector<std::string>& paths) {
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    std::string script = server + " >/dev/null 2>&1 & pid=$!; i=0; until curl -sf -o /dev/null " +
                         url + "/; do i=$((i + 1)); if [ $i -gt 400 ]; then kill $pid; " +
                         "echo 'never answered'; exit 1; fi; sleep 0.05; done; ";
    for (const std::string& p : paths)
        script += "curl -sS -m 10 '" + url + p + "'; echo '--- " + p + "'; ";
    script += "kill $pid; wait $pid 2>/dev/null; exit 0";
    RunOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.inherit_env = true;
    o.timeout = std::chrono::milliseconds(60000);
    return run_process(o);
}

class LangTest : public EmberTest {
  protected:
    void SetUp() override {
        EmberTest::SetUp();
        if (IsSkipped()) return;
        if (std::system("command -v curl >/dev/null") != 0) GTEST_SKIP() << "SKIPPED: no curl";
    }
    static bool installed(const char* path) { return ::access(path, X_OK) == 0; }
    // ember-vm run with args; python3 runs in the default 64M, node's 86 MB
    // of segments need 128M.
    static std::string vm_cmd(const std::vector<std::string>& args) {
        std::string s = "exec '" + ember_vm_path() + "' run --timeout 60s";
        for (const std::string& a : args) s += " '" + a + "'";
        return s;
    }
};

TEST_F(LangTest, Python3HttpServerFromAnImageAnswersAsNative) {
    if (!installed("/usr/bin/python3")) GTEST_SKIP() << "SKIPPED: no /usr/bin/python3";
    TempDir dir;
    const std::string srv = dir / "extra/srv", image = dir / "oci";
    ASSERT_EQ(std::system(("set -e; mkdir -p " + srv + "/sub; echo 'hello from a file' > " + srv +
                           "/hello.txt; echo nested > " + srv + "/sub/n.txt; " + kLangDir +
                           "/oci_image.sh python3 " + image + " " + dir / "extra")
                              .c_str()),
              0);
    const std::vector<std::string> paths = {"/", "/hello.txt", "/sub/", "/sub/n.txt"};
    const uint16_t np = free_port();
    auto native = fetch("cd " + srv + " && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 " +
                            std::to_string(np),
                        np, paths);
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    ASSERT_NE(native.out.find("hello.txt</a>"), std::string::npos) << native.out;
    const uint16_t vp = free_port();
    // The image's WorkingDir (/srv) is what it serves; ARGS replace its Cmd.
    auto vm = fetch(vm_cmd({"--image", image, "-p", std::to_string(vp) + ":8001", "--", "8001"}),
                    vp, paths);
    ASSERT_TRUE(vm.exited && vm.exit_code == 0) << describe(vm);
    EXPECT_EQ(vm.out, native.out);
}

TEST_F(LangTest, NodeHttpHelloAnswersAsNative) {
    if (!installed("/usr/bin/node")) GTEST_SKIP() << "SKIPPED: no /usr/bin/node";
    const std::vector<std::string> paths = {"/", "/a/path?q=1"};
    const uint16_t np = free_port();
    auto native =
        fetch("exec /usr/bin/node " + kLangDir + "/hello.js " + std::to_string(np), np, paths);
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    const uint16_t vp = free_port();
    auto vm = fetch(vm_cmd({"--mem", "128M", "--file", kLangDir + "/hello.js:/app/hello.js", "-p",
                            std::to_string(vp) + ":8080", "/usr/bin/node", "--", "/app/hello.js"}),
                    vp, paths);
    ASSERT_TRUE(vm.exited && vm.exit_code == 0) << describe(vm);
    EXPECT_EQ(vm.out, native.out);
}

}  // namespace
}  // namespace ember::test
