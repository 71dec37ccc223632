// HTTPS at the gateway: certificates made with the openssl tool at test
// time (no key is checked in), one per domain chosen by SNI, ALPN
// http/1.1, the HTTP->HTTPS redirect, and a request body and a streamed
// response over TLS. Clients are curl and `openssl s_client`.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e_test.h"
#include "subprocess.h"

namespace ember::e2e {
namespace {

using ember::test::run_process;
using ember::test::RunResult;

// The path of a program on $PATH ("" when absent): run_process needs one.
std::string which(const std::string& tool) {
    ember::test::RunOptions o;
    o.argv = {"/bin/sh", "-c", "command -v " + tool};
    o.inherit_env = true;
    auto r = run_process(o);
    std::string p = r.out;
    while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
    return r.exit_code == 0 ? p : "";
}

RunResult run(std::vector<std::string> argv, const std::string& stdin_path = "") {
    if (!argv.empty() && argv[0].find('/') == std::string::npos) argv[0] = which(argv[0]);
    ember::test::RunOptions o;
    o.argv = std::move(argv);
    o.inherit_env = true;
    o.stdin_path = stdin_path;
    o.timeout = std::chrono::seconds(60);
    return run_process(o);
}

bool have(const std::string& tool) { return !which(tool).empty(); }

// A self-signed certificate (P-256) for `names`, as <dir>/<stem>.crt/.key.
std::string make_cert(const std::string& dir, const std::string& stem, const std::string& cn,
                      const std::string& sans) {
    auto r =
        run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + sans,
             "-keyout", dir + "/" + stem + ".key", "-out", dir + "/" + stem + ".crt"});
    return r.exit_code == 0 ? "" : ember::test::describe(r);
}

class GatewayTlsTest : public E2eTest {
  protected:
    void SetUp() override {
        if (!have("openssl") || !have("curl")) GTEST_SKIP() << "SKIPPED: needs openssl and curl";
        certs_ = tmp_.path() + "/certs";
        ::mkdir(certs_.c_str(), 0700);
        ASSERT_EQ(make_cert(certs_, "local", "localhost", "DNS:localhost,DNS:app.localhost"), "");
        ASSERT_EQ(make_cert(certs_, "example", "example.test", "DNS:*.example.test"), "");
        https_port_ = free_port();
        E2eTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        deploy_app("app");
    }
    std::vector<std::string> daemon_args() override {
        std::vector<std::string> a = {"--tls-cert", certs_ + "/local.crt",
                                      "--tls-key",  certs_ + "/local.key",
                                      "--tls-cert", certs_ + "/example.crt",
                                      "--tls-key",  certs_ + "/example.key",
                                      "--https",    "127.0.0.1:" + std::to_string(https_port_)};
        if (redirect_) a.push_back("--https-redirect");
        return a;
    }
    // curl to https://<host>:<https port><path>, trusting only `ca`.
    RunResult curl(const std::string& host, const std::string& path, const std::string& ca,
                   std::vector<std::string> extra = {}) {
        const std::string port = std::to_string(https_port_);
        std::vector<std::string> argv = {"curl",       "-sS",
                                         "--max-time", "30",
                                         "--cacert",   certs_ + "/" + ca + ".crt",
                                         "--resolve",  host + ":" + port + ":127.0.0.1"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("https://" + host + ":" + port + path);
        return run(argv);
    }

    std::string certs_;
    uint16_t https_port_ = 0;
    bool redirect_ = false;
};

TEST_F(GatewayTlsTest, ServesHttpsWithTheCertificateOfTheNameAsked) {
    // The default certificate's names, routed by Host.
    auto r = curl("app.localhost", "/", "local");
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_EQ(r.out, "hello from e2e_app\n");
    // Another domain: only its own certificate verifies (SNI chose it).
    r = curl("app.example.test", "/app/", "example");
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_EQ(r.out, "hello from e2e_app\n");
    r = curl("app.example.test", "/app/", "local");
    EXPECT_EQ(r.exit_code, 60) << "the default certificate was served for example.test: "
                               << ember::test::describe(r);
    // The plain gateway still serves HTTP.
    EXPECT_EQ(d_->get("app", "/").status, 200);
}

TEST_F(GatewayTlsTest, NegotiatesHttp11WithAlpnAndRelaysBodiesOverTls) {
    auto r = curl("app.localhost", "/", "local", {"-v", "--http1.1"});
    EXPECT_NE(r.err.find("ALPN: server accepted http/1.1"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "hello from e2e_app\n");
    // A POST body (echoed), and the forwarded protocol.
    const std::string body(60 << 10, 'p');  // e2e_app echoes up to 64 KiB
    const std::string file = tmp_.path() + "/body";
    FILE* f = std::fopen(file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    r = curl("app.localhost", "/", "local", {"--data-binary", "@" + file});
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_EQ(r.out.size(), body.size());
    EXPECT_TRUE(r.out == body);
}

TEST_F(GatewayTlsTest, ServesHttp2ToClientsThatOfferIt) {
    auto r = curl("app.localhost", "/", "local", {"-v", "--http2"});
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_NE(r.err.find("ALPN: server accepted h2"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("< HTTP/2 200"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("< x-ember-instance: i-"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "hello from e2e_app\n");
    // Several requests on one connection, a 404 among them, run at once.
    const std::string port = std::to_string(https_port_);
    const std::string base = "https://app.localhost:" + port;
    r = curl("app.localhost", "/", "local",
             {"--http2", "-w", "%{http_code}\n", "--parallel", base + "/", base + "/nothing",
              base + "/count"});
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_NE(r.out.find("hello from e2e_app\n200\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("404\n"), std::string::npos) << r.out;
    // A POST body, echoed; and a service that does not exist.
    const std::string body(60 << 10, 'q');
    const std::string file = tmp_.path() + "/body2";
    FILE* f = std::fopen(file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    r = curl("app.localhost", "/", "local", {"--http2", "--data-binary", "@" + file});
    EXPECT_EQ(r.exit_code, 0) << ember::test::describe(r);
    EXPECT_TRUE(r.out == body) << r.out.size();
    r = curl("app.localhost", "/nobody/", "local", {"--http2", "-w", "%{http_code}"});
    EXPECT_NE(r.out.find("404"), std::string::npos) << r.out;
}

class GatewayTlsRedirectTest : public GatewayTlsTest {
  protected:
    void SetUp() override {
        redirect_ = true;
        GatewayTlsTest::SetUp();
    }
};

TEST_F(GatewayTlsRedirectTest, PlainHttpIsRedirectedToHttps) {
    auto r = http_request(d_->gateway_port(), "GET", "/some/path?q=1", "",
                          {{"Host", "app.localhost:" + std::to_string(d_->gateway_port())}});
    EXPECT_EQ(r.status, 308) << r.error << r.body;
    EXPECT_EQ(r.header("location"),
              "https://app.localhost:" + std::to_string(https_port_) + "/some/path?q=1");
    // Followed by curl, it ends at the service over HTTPS.
    const std::string port = std::to_string(d_->gateway_port());
    auto c = run({"curl", "-sS", "-L", "--max-time", "30", "--cacert", certs_ + "/local.crt",
                  "--resolve", "app.localhost:" + port + ":127.0.0.1", "--resolve",
                  "app.localhost:" + std::to_string(https_port_) + ":127.0.0.1",
                  "http://app.localhost:" + port + "/"});
    EXPECT_EQ(c.exit_code, 0) << ember::test::describe(c);
    EXPECT_EQ(c.out, "hello from e2e_app\n");
}

}  // namespace
}  // namespace ember::e2e
