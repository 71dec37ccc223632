// A pre-forking server as users deploy it: Debian's nginx with its default
// `master_process on` and two worker processes (which drop to nobody with
// setgroups/setgid/setuid), deployed through the ember CLI with its
// configuration as files. The snapshot holds the master and both workers
// blocked; the service scales from zero (cold, then warm) and runs with
// --isolation request (every request a fresh instance of all three
// processes). Skips, loudly, without /usr/sbin/nginx (scripts/deps.sh
// installs nginx-light).
#include <unistd.h>

#include <fstream>
#include <string>

#include "e2e_test.h"

namespace ember::e2e {
namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";

class PreforkTest : public E2eTest {
  protected:
    void SetUp() override {
        if (access(kNginx, X_OK) != 0)
            GTEST_SKIP() << "SKIPPED: " << kNginx
                         << " missing (scripts/deps.sh installs nginx-light)";
        E2eTest::SetUp();
        std::ofstream(tmp_.path() + "/nginx.conf") <<
            R"(master_process on;
worker_processes 2;
daemon off;
error_log stderr notice;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    fastcgi_temp_path /tmp;
    uwsgi_temp_path /tmp;
    scgi_temp_path /tmp;
    server {
        listen 8080;
        location / { root /www; }
    }
}
)";
        std::ofstream(tmp_.path() + "/index.html") << "hello from nginx workers\n";
    }

    void deploy(const std::string& name, const std::string& isolation) {
        auto dep =
            run_cli(*d_, {"deploy", kNginx, "--name", name, "--memory", "128M", "--isolation",
                          isolation, "--file", tmp_.path() + "/nginx.conf:/etc/nginx/nginx.conf",
                          "--file", tmp_.path() + "/index.html:/www/index.html", "--", "-c",
                          "/etc/nginx/nginx.conf"});
        ASSERT_EQ(dep.status, 0) << dep.out << dep.err << d_->output();
    }
};

TEST_F(PreforkTest, NginxMasterAndTwoWorkersScaleFromZero) {
    deploy("ngx", "instance");
    for (int i = 0; i < 6; ++i) {
        auto r = d_->get("ngx", "/");
        ASSERT_EQ(r.status, 200) << r.body << r.error << d_->output();
        EXPECT_EQ(r.body, "hello from nginx workers\n");
    }
    // Both workers were started before the snapshot, and neither failed
    // (nginx logs to stderr: the service's log).
    const auto logs = run_cli(*d_, {"logs", "ngx"});
    ASSERT_EQ(logs.status, 0) << logs.err;
    const std::string& log = logs.out;
    EXPECT_NE(log.find("start worker process 3"), std::string::npos) << log;
    EXPECT_EQ(log.find("[emerg]"), std::string::npos) << log;
    EXPECT_EQ(log.find("[alert]"), std::string::npos) << log;
}

TEST_F(PreforkTest, NginxMasterAndWorkersFreshForEveryRequest) {
    deploy("ngxiso", "request");
    for (int i = 0; i < 6; ++i) {
        auto r = d_->get("ngxiso", "/");
        ASSERT_EQ(r.status, 200) << r.body << r.error << d_->output();
        EXPECT_EQ(r.body, "hello from nginx workers\n");
    }
}

}  // namespace
}  // namespace ember::e2e
