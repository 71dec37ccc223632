// Debian's python3 and node served through emberd, deployed as users would:
// python3 `-m http.server` as an OCI image built from this machine's files
// (examples/lang/oci_image.sh: python3, its standard library and libraries),
// node's http.createServer hello (examples/lang/hello.js) as a dynamically
// linked program uploaded with its libraries and the script as a --file.
// Each answers through the gateway what the same server run natively answers:
// on the cold start after deploy, on a warm request, after scaling to zero
// (the next request restores a new instance), and with --isolation request (a
// fresh instance per request). Skips, loudly, without /usr/bin/python3 or
// /usr/bin/node (scripts/deps.sh installs both).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test.h"
#include "oci_builder.h"

namespace ember::e2e {
namespace {

using nlohmann::json;

const std::string kLangDir = EMBER_EXAMPLES_LANG_DIR;

// The same server run natively in `cwd` (output discarded), killed by the
// destructor; ready() waits until it answers GET / (at most 20 s).
class NativeServer {
  public:
    NativeServer(std::vector<std::string> argv, const std::string& cwd) {
        pid_ = ::fork();
        if (pid_ == 0) {
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            if (::chdir(cwd.c_str()) != 0) ::_exit(127);
            if (!::freopen("/dev/null", "w", stdout) || !::freopen("/dev/null", "w", stderr))
                ::_exit(127);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
    }
    ~NativeServer() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    bool ready(uint16_t port) const {
        return eventually(
            [&] { return http_request(port, "GET", "/", "", {}, 2000).status == 200; }, 20000);
    }

  private:
    pid_t pid_ = -1;
};

class LangServiceTest : public E2eTest {
  protected:
    static bool installed(const char* path) { return ::access(path, X_OK) == 0; }

    // Every path answers through the gateway what `native_port` answers.
    void expect_as_native(const std::string& service, uint16_t native_port,
                          const std::vector<std::string>& paths, bool cold) {
        for (const std::string& path : paths) {
            auto native = http_request(native_port, "GET", path);
            ASSERT_EQ(native.status, 200) << path << native.error;
            auto r = d_->get(service, path, 60000);
            ASSERT_EQ(r.status, 200) << service << path << " " << r.error << r.body;
            EXPECT_EQ(r.body, native.body) << service << path;
            EXPECT_EQ(is_cold(r), cold) << service << path << " " << r.header("server-timing");
            cold = false;
        }
    }

    // The whole life of a service: its first request restores an instance,
    // the next reach it warm; once idle it is stopped and the next request
    // restores a new one; with isolation request (PATCHed: the snapshot is
    // kept) every request gets a new instance.
    void expect_life_as_native(const std::string& service, uint16_t native_port,
                               const std::vector<std::string>& paths) {
        expect_as_native(service, native_port, paths, true);
        ASSERT_TRUE(eventually([&] { return d_->instances(service).empty(); }, 10000))
            << "the idle instance was not stopped: " << d_->instances(service).dump();
        expect_as_native(service, native_port, paths, true);

        auto patch = d_->api("PATCH", "/v1/services/" + service, R"({"isolation":"request"})");
        ASSERT_EQ(patch.status, 200) << patch.body;
        std::string last;
        for (int i = 0; i < 2; ++i) {
            auto native = http_request(native_port, "GET", paths[0]);
            auto r = d_->get(service, paths[0], 60000);
            ASSERT_EQ(r.status, 200) << r.error << r.body;
            EXPECT_EQ(r.body, native.body);
            EXPECT_TRUE(is_cold(r)) << r.header("server-timing");
            EXPECT_NE(r.header("x-ember-instance"), last) << "a fresh instance per request";
            last = r.header("x-ember-instance");
        }
    }
};

TEST_F(LangServiceTest, Python3HttpServerImageServesAsNative) {
    if (!installed("/usr/bin/python3")) GTEST_SKIP() << "SKIPPED: no /usr/bin/python3";
    const std::string dir = tmp_.path(), image = dir + "/py-oci";
    test::oci_sh("mkdir -p " + dir + "/extra/srv/sub && echo 'hello from a file' > " + dir +
                 "/extra/srv/hello.txt && echo nested > " + dir + "/extra/srv/sub/n.txt && " +
                 kLangDir + "/oci_image.sh python3 " + image + " " + dir + "/extra");
    // The default guest memory (64M): the root filesystem is not in it.
    auto dep =
        run_cli(*d_, {"deploy", "--image", image, "--name", "py", "--idle-timeout", "200ms"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();
    EXPECT_EQ(json::parse(d_->api("GET", "/v1/services/py").body)["port"], 8000)
        << "the image's exposed port";

    const uint16_t port = free_port();
    NativeServer native(
        {"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1"},
        dir + "/extra/srv");
    ASSERT_TRUE(native.ready(port));
    // A directory listing, a file, a listing of a subdirectory.
    expect_life_as_native("py", port, {"/", "/hello.txt", "/sub/"});
}

TEST_F(LangServiceTest, NodeHttpHelloServesAsNative) {
    if (!installed("/usr/bin/node")) GTEST_SKIP() << "SKIPPED: no /usr/bin/node";
    auto dep = run_cli(*d_, {"deploy", "/usr/bin/node", "--name", "node", "--file",
                             kLangDir + "/hello.js:/app/hello.js", "--memory", "128M",
                             "--idle-timeout", "200ms", "--", "/app/hello.js", "8080"});
    ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();

    const uint16_t port = free_port();
    NativeServer native({"/usr/bin/node", kLangDir + "/hello.js", std::to_string(port)},
                        tmp_.path());
    ASSERT_TRUE(native.ready(port));
    expect_life_as_native("node", port, {"/", "/a/path?q=1"});
}

}  // namespace
}  // namespace ember::e2e
