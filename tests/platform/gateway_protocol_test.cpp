// The gateway process's messages (gateway_protocol.h) as the control plane
// decodes them, malformed ones included, and the control plane's ticket
// table for one gateway (LocalGatewayBackend).
#include "platform/gateway_protocol.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/gateway_backend.h"

namespace ember::platform {
namespace {

namespace proto = gateway_protocol;

TEST(GatewayProtocol, ConfigRoundTrips) {
    proto::Config c;
    c.options.addr = "::1";
    c.options.port = 8443;
    c.options.domain = "example.test";
    c.options.threads = 3;
    c.options.max_body_bytes = 12345;
    c.options.max_connections = 77;
    c.options.tls_certs = {{"CERT", "KEY"}, {"C2", "K2"}};
    c.options.tls_port = 9443;
    c.options.tls_redirect = true;
    c.sandbox = false;
    size_t certs = 0;
    auto d = proto::decode_config(proto::encode_config(c), &certs);
    ASSERT_TRUE(d.is_ok()) << d.message();
    EXPECT_EQ(certs, 2u);
    EXPECT_TRUE(d->options.tls_certs.empty()) << "certificates travel in tls-cert messages";
    EXPECT_EQ(d->options.tls_port, 9443);
    EXPECT_TRUE(d->options.tls_redirect);
    EXPECT_EQ(d->options.addr, "::1");
    EXPECT_EQ(d->options.port, 8443);
    EXPECT_EQ(d->options.domain, "example.test");
    EXPECT_EQ(d->options.threads, 3);
    EXPECT_EQ(d->options.max_body_bytes, 12345u);
    EXPECT_EQ(d->options.max_connections, 77u);
    EXPECT_FALSE(d->sandbox);
    GatewayOptions::TlsCert tc;
    ASSERT_TRUE(proto::decode_tls_cert(proto::encode_tls_cert({"CERT", "KEY"}), &tc));
    EXPECT_EQ(tc.cert_pem, "CERT");
    EXPECT_EQ(tc.key_pem, "KEY");
    EXPECT_EQ(proto::decode_tls_cert("{\"cert\":1}", &tc).code(), Code::kCorruption);
}

TEST(GatewayProtocol, AcquiredCarriesTheWholeTicketInfo) {
    Acquired a;
    a.ticket = 42;
    a.info.state = TicketState::kRejected;
    a.info.reason = RejectReason::kQueueTimeout;
    a.info.message = "busy \xff";  // not UTF-8: replaced, not a failure
    a.info.instance_id = 7;
    a.info.cold = true;
    a.info.queue_ms = 1.5;
    a.info.restore_ms = 0.25;
    a.info.t_handed = 123456789012;
    a.info.timeout_ms = 30000;
    a.info.reusable = true;
    a.stale = {3, 5};
    uint64_t r = 0;
    Acquired b;
    ASSERT_TRUE(proto::decode_acquired(proto::encode_acquired(9, a), &r, &b).is_ok());
    EXPECT_EQ(r, 9u);
    EXPECT_EQ(b.ticket, 42u);
    EXPECT_EQ(b.info.state, TicketState::kRejected);
    EXPECT_EQ(b.info.reason, RejectReason::kQueueTimeout);
    EXPECT_EQ(b.info.message.rfind("busy ", 0), 0u);
    EXPECT_EQ(b.info.instance_id, 7u);
    EXPECT_TRUE(b.info.cold);
    EXPECT_DOUBLE_EQ(b.info.queue_ms, 1.5);
    EXPECT_DOUBLE_EQ(b.info.restore_ms, 0.25);
    EXPECT_EQ(b.info.t_handed, 123456789012);
    EXPECT_EQ(b.info.timeout_ms, 30000u);
    EXPECT_TRUE(b.info.reusable);
    EXPECT_EQ(b.stale, (std::vector<uint64_t>{3, 5}));
}

TEST(GatewayProtocol, ReuseCarriesTheCandidateInstances) {
    uint64_t r = 0;
    std::string service;
    std::vector<uint64_t> ids;
    ASSERT_TRUE(
        proto::decode_reuse(proto::encode_reuse(4, "svc", {7, 9}), &r, &service, &ids).is_ok());
    EXPECT_EQ(r, 4u);
    EXPECT_EQ(service, "svc");
    EXPECT_EQ(ids, (std::vector<uint64_t>{7, 9}));
    const std::string too_many =  // 17 candidates
        "{\"r\":1,\"service\":\"a\",\"i\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}";
    for (const std::string& body : {std::string("{\"r\":1,\"service\":\"a\"}"),
                                    std::string("{\"r\":1,\"service\":\"a\",\"i\":[-1]}"),
                                    std::string("{\"r\":1,\"service\":\"a\",\"i\":5}"), too_many})
        EXPECT_EQ(proto::decode_reuse(body, &r, &service, &ids).code(), Code::kCorruption) << body;
}

TEST(GatewayProtocol, MalformedMessagesAreCorruptionNotACrash) {
    uint64_t r = 0;
    std::string service;
    TicketId t = 0;
    FinishKind kind{};
    for (const char* body : {"", "nul", "[]", "{}", "{\"r\":-1,\"service\":\"a\"}",
                             "{\"r\":1,\"service\":5}", "{\"r\":\"1\",\"service\":\"a\"}"})
        EXPECT_EQ(proto::decode_acquire(body, &r, &service).code(), Code::kCorruption) << body;
    for (const char* body : {"{\"r\":1,\"t\":1,\"kind\":4}", "{\"r\":1,\"t\":1,\"kind\":-1}",
                             "{\"r\":1,\"t\":1}", "{\"r\":1,\"t\":1.5,\"kind\":0}",
                             "{\"r\":1,\"t\":1,\"kind\":\"0\"}", "{\"t\":1,\"kind\":0}"})
        EXPECT_EQ(proto::decode_finish(body, &r, &t, &kind).code(), Code::kCorruption) << body;
    EXPECT_TRUE(proto::decode_finish("{\"r\":1,\"t\":1,\"kind\":3}", &r, &t, &kind).is_ok());
    EXPECT_EQ(kind, FinishKind::kFailed);
    Acquired a;
    for (const char* body :
         {"{\"r\":1,\"t\":1,\"info\":[]}",
          "{\"r\":1,\"t\":1,\"info\":[9,0,\"\",0,false,0,0,0,0,false],\"stale\":[]}",
          "{\"r\":1,\"t\":1,\"info\":[0,0,\"\",0,false,0,0,0,0,false]}",
          "{\"r\":1,\"t\":1,\"info\":[0,0,\"\",0,false,0,0,0]}"})
        EXPECT_EQ(proto::decode_acquired(body, &r, &a).code(), Code::kCorruption) << body;
    size_t certs = 0;
    EXPECT_EQ(proto::decode_config("{\"addr\":\"x\"}", &certs).status().code(), Code::kCorruption);
}

// A factory that is never asked for anything: these tests use no service.
class NoGuests : public GuestFactory {
  public:
    Result<std::shared_ptr<const Prepared>> prepare(const ServiceSpec&, const std::string&,
                                                    const ConsoleFn&) override {
        return Status::unsupported("no guests here");
    }
    Result<std::shared_ptr<const Prepared>> open(const ServiceSpec&, const std::string&) override {
        return Status::unsupported("no guests here");
    }
    Result<std::unique_ptr<Guest>> restore(const std::shared_ptr<const Prepared>&,
                                           const ConsoleFn&) override {
        return Status::unsupported("no guests here");
    }
};

class LocalBackendTest : public ::testing::Test {
  protected:
    LocalBackendTest() : mgr_(factory_, logs_, metrics_) {}
    ~LocalBackendTest() override { mgr_.shutdown(); }
    // The instance-side end of a fresh pair; the gateway side stays here.
    int stream_end() {
        int sv[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        kept_.push_back(sv[0]);
        return sv[1];
    }
    static bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

    NoGuests factory_;
    LogHub logs_;
    Metrics metrics_;
    InstanceManager mgr_;
    std::vector<int> kept_;
};

TEST_F(LocalBackendTest, UnknownServiceIsRejectedAndItsTicketFinishes) {
    LocalGatewayBackend b(mgr_, 8);
    const Acquired a = b.acquire_now("nope", stream_end());
    EXPECT_EQ(a.info.state, TicketState::kRejected);
    EXPECT_EQ(a.info.reason, RejectReason::kNoService);
    EXPECT_EQ(b.open_tickets(), 1u);
    EXPECT_EQ(b.info_now(a.ticket).reason, RejectReason::kNoService);
    b.finish_now(a.ticket, FinishKind::kCompleted);
    EXPECT_EQ(b.open_tickets(), 0u);
    EXPECT_EQ(b.info_now(a.ticket).state, TicketState::kDone) << "a finished id is unknown";
    b.finish_now(a.ticket, FinishKind::kCompleted);  // twice: ignored
}

TEST_F(LocalBackendTest, TicketsBeyondTheLimitAreRefusedAndTheirStreamClosed) {
    LocalGatewayBackend b(mgr_, 2);
    const Acquired first = b.acquire_now("x", stream_end());
    b.acquire_now("x", stream_end());
    const int fd = stream_end();
    const Acquired over = b.acquire_now("x", fd);
    EXPECT_EQ(over.info.state, TicketState::kRejected);
    EXPECT_EQ(over.info.reason, RejectReason::kQueueFull);
    EXPECT_FALSE(is_open(fd));
    EXPECT_EQ(b.open_tickets(), 2u);
    b.finish_now(first.ticket, FinishKind::kCompleted);
    EXPECT_EQ(b.acquire_now("x", stream_end()).info.reason, RejectReason::kNoService);
}

TEST_F(LocalBackendTest, FinishAllForgetsEveryTicketOfADeadGateway) {
    LocalGatewayBackend b(mgr_, 8);
    for (int i = 0; i < 3; ++i) b.acquire_now("x", stream_end());
    EXPECT_EQ(b.open_tickets(), 3u);
    b.finish_all(FinishKind::kClientGone);
    EXPECT_EQ(b.open_tickets(), 0u);
}

}  // namespace
}  // namespace ember::platform
