#include "platform/cluster/cluster_agent.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "etcd_test.h"
#include "platform/image_store.h"

namespace ember::platform::cluster {
namespace {

// A peer node's API that answers every request with the same body (only
// when it carries the cluster token "secret"), and remembers the last request.
class FakePeer {
  public:
    explicit FakePeer(std::string body) : body_(std::move(body)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(fd_, 8);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakePeer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    uint16_t port() const { return port_; }
    std::string last_request() {
        std::lock_guard g(mu_);
        return last_;
    }

  private:
    void serve() {
        for (;;) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<size_t>(n));
            }
            {
                std::lock_guard g(mu_);
                last_ = req;
            }
            const bool ok = req.find("Authorization: Bearer secret\r\n") != std::string::npos;
            const std::string body = ok ? body_ : "no";
            const std::string resp = std::string("HTTP/1.1 ") + (ok ? "200 OK" : "401 No") +
                                     "\r\nContent-Length: " + std::to_string(body.size()) +
                                     "\r\nConnection: close\r\n\r\n" + body;
            (void)!::write(c, resp.data(), resp.size());
            ::close(c);
        }
    }
    std::string body_;
    int fd_ = -1;
    uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::string last_;
};

using ClusterAgentTest = EtcdTest;

TEST_F(ClusterAgentTest, ImageCopiedFromAPeerIsVerifiedAndADamagedCopyRefused) {
    const std::string good = "the image's bytes";
    const std::string sha = sha256_hex(good.data(), good.size());
    FakePeer damaged("the image's bytez"), intact(good);
    ASSERT_TRUE(client_->put("/ember/nodes/a-damaged", R"({"name":"a-damaged","api":"127.0.0.1:)" +
                                                           std::to_string(damaged.port()) + "\"}"));
    ClusterOptions o;
    o.etcd = etcd_->url();
    o.node = "me";
    o.token = "secret";
    auto agent = ClusterAgent::connect(o);
    ASSERT_TRUE(agent) << agent.message();
    const std::string images_dir = dir_ + "/images";
    std::filesystem::create_directories(images_dir);
    ImageStore images(images_dir);

    Status st = (*agent)->fetch_image(sha, images, 1 << 20);
    EXPECT_EQ(st.code(), Code::kCorruption) << st.message();
    EXPECT_FALSE(images.exists(sha));
    EXPECT_NE(damaged.last_request().find("GET /v1/cluster/images/" + sha), std::string::npos);

    // With an intact peer listed after the damaged one, the copy succeeds.
    ASSERT_TRUE(client_->put("/ember/nodes/b-intact", R"({"name":"b-intact","api":"127.0.0.1:)" +
                                                          std::to_string(intact.port()) + "\"}"));
    st = (*agent)->fetch_image(sha, images, 1 << 20);
    EXPECT_TRUE(st) << st.message();
    EXPECT_TRUE(images.exists(sha));
}

TEST_F(ClusterAgentTest, WithoutTheClusterTokenAPeerRefusesAndNothingIsStored) {
    FakePeer peer("x");
    ASSERT_TRUE(client_->put("/ember/nodes/p", R"({"name":"p","api":"127.0.0.1:)" +
                                                   std::to_string(peer.port()) + "\"}"));
    ClusterOptions o;
    o.etcd = etcd_->url();
    o.node = "me";
    o.token = "wrong";
    auto agent = ClusterAgent::connect(o);
    ASSERT_TRUE(agent) << agent.message();
    ImageStore images(dir_);
    const std::string sha = sha256_hex("x", 1);
    EXPECT_FALSE((*agent)->fetch_image(sha, images, 1 << 20));
    EXPECT_FALSE(images.exists(sha));
}

TEST_F(ClusterAgentTest, ConnectFailsClearlyWhenEtcdIsDown) {
    etcd_->kill9();
    ClusterOptions o;
    o.etcd = etcd_->url();
    o.node = "me";
    auto agent = ClusterAgent::connect(o);
    ASSERT_FALSE(agent);
    EXPECT_EQ(agent.code(), Code::kUnavailable);
    EXPECT_NE(agent.message().find("etcd"), std::string::npos) << agent.message();
}

}  // namespace
}  // namespace ember::platform::cluster
