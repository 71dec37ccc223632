// gateway_process.cpp - the gateway process's side (see gateway_process.h):
// a GatewayBackend made of messages to the control plane, the sandbox, and
// the reading of the control plane's replies (on the gateway's I/O threads).
#include "platform/gateway_process.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "platform/gateway_backend.h"
#include "platform/gateway_pool.h"
#include "platform/gateway_protocol.h"
#include "platform/gateway_tls.h"
#include "vmm/sandbox.h"

namespace ember::platform {

namespace proto = gateway_protocol;

namespace {

// The instance manager, one message away. Calls send a request and keep
// its callback by request number; the reader (serve_replies) completes it.
class RemoteBackend : public GatewayBackend {
  public:
    explicit RemoteBackend(ipc::Channel& ch) : ch_(ch) {}

    void acquire(const std::string& service, int fd, std::function<void(Acquired)> done) override {
        const uint64_t r = add(&acquires_, std::move(done));
        const Status st = ch_.send(proto::kAcquire, proto::encode_acquire(r, service), {fd});
        ::close(fd);  // the control plane has its own copy now
        if (!st) fail(r);
    }
    void reuse(const std::string& service, const std::vector<uint64_t>& instances,
               std::function<void(Acquired)> done) override {
        const uint64_t r = add(&acquires_, std::move(done));
        if (!ch_.send(proto::kReuse, proto::encode_reuse(r, service, instances))) fail(r);
    }
    void ticket_info(TicketId t, std::function<void(TicketInfo)> done) override {
        const uint64_t r = add(&infos_, std::move(done));
        if (!ch_.send(proto::kInfo, proto::encode_info_request(r, t))) fail(r);
    }
    void finish(TicketId t, FinishKind kind, std::function<void()> done) override {
        const uint64_t r = add(&finishes_, std::move(done));
        if (!ch_.send(proto::kFinish, proto::encode_finish(r, t, kind))) fail(r);
    }

    void on_acquired(const std::string& body) {
        uint64_t r = 0;
        Acquired a;
        if (!proto::decode_acquired(body, &r, &a)) return;
        if (auto done = take(&acquires_, r)) done(std::move(a));
    }
    void on_finished(const std::string& body) {
        uint64_t r = 0;
        if (!proto::decode_finished(body, &r)) return;
        if (auto done = take(&finishes_, r)) done();
    }
    void on_info(const std::string& body) {
        uint64_t r = 0;
        TicketInfo i;
        if (!proto::decode_info_reply(body, &r, &i)) return;
        if (auto done = take(&infos_, r)) done(std::move(i));
    }
    // The control plane is gone: every waiting call completes as rejected,
    // so that no connection waits for ever.
    void fail_all() {
        std::map<uint64_t, std::function<void(Acquired)>> a;
        std::map<uint64_t, std::function<void(TicketInfo)>> i;
        std::map<uint64_t, std::function<void()>> f;
        {
            std::lock_guard lock(mu_);
            a.swap(acquires_);
            i.swap(infos_);
            f.swap(finishes_);
        }
        for (auto& [r, done] : a) done(Acquired{0, gone()});
        for (auto& [r, done] : i) done(gone());
        for (auto& [r, done] : f) done();
    }

  private:
    static TicketInfo gone() {
        TicketInfo i;
        i.state = TicketState::kRejected;
        i.reason = RejectReason::kShuttingDown;
        i.message = "the gateway lost the control plane";
        return i;
    }
    template <class F>
    uint64_t add(std::map<uint64_t, F>* pending, F done) {
        std::lock_guard lock(mu_);
        const uint64_t r = next_++;
        pending->emplace(r, std::move(done));
        return r;
    }
    template <class F>
    F take(std::map<uint64_t, F>* pending, uint64_t r) {
        std::lock_guard lock(mu_);
        auto it = pending->find(r);
        if (it == pending->end()) return nullptr;
        F f = std::move(it->second);
        pending->erase(it);
        return f;
    }
    void fail(uint64_t r) {
        if (auto done = take(&acquires_, r)) done(Acquired{0, gone()});
        if (auto done = take(&infos_, r)) done(gone());
        if (auto done = take(&finishes_, r)) done();
    }

    ipc::Channel& ch_;
    std::mutex mu_;
    uint64_t next_ = 1;
    std::map<uint64_t, std::function<void(Acquired)>> acquires_;
    std::map<uint64_t, std::function<void(TicketInfo)>> infos_;
    std::map<uint64_t, std::function<void()>> finishes_;
};

// What the gateway may still do once it serves: accept on the sockets it
// was given, socketpair() for each request's stream, I/O on what it has,
// threads and timers. No file, no new socket of any other kind, no network
// of its own (a private network namespace), no privilege.
Result<std::string> sandbox_gateway(const GatewayOptions& o) {
    SandboxPolicy p;
    p.private_network = true;
    // A client connection and its request's stream end at most, the idle
    // kept-alive streams, and room for Asio's own descriptors; never above the hard limit we have.
    rlimit rl{};
    uint64_t files = 2 * static_cast<uint64_t>(o.max_connections) + UpstreamPool::kTotal + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
        files = std::min<uint64_t>(files, rl.rlim_max);
    p.max_open_files = files;
    p.allow_socketpair = true;
    auto r = enter_sandbox(p);
    if (!r) return r.status();
    return r->summary();
}

// Sends the gateway's metrics in parts that fit a message, then the end
// marker with the scrape's number.
void send_metrics(ipc::Channel& ch, const Metrics& metrics, const std::string& request) {
    const std::string text = metrics.render();
    constexpr size_t kPart = ipc::kMaxBody / 2;
    for (size_t off = 0; off < text.size(); off += kPart)
        if (!ch.send(proto::kMetricsPart, std::string_view(text).substr(off, kPart))) return;
    (void)ch.send(proto::kMetricsEnd, request);
}

// One message of the control plane's.
void dispatch(const ipc::Message& m, RemoteBackend& backend, ipc::Channel& ch,
              const Metrics& metrics) {
    if (m.type == proto::kAcquired)
        backend.on_acquired(m.body);
    else if (m.type == proto::kInfo)
        backend.on_info(m.body);
    else if (m.type == proto::kFinished)
        backend.on_finished(m.body);
    else if (m.type == proto::kMetrics)
        send_metrics(ch, metrics, m.body);
}

}  // namespace

int run_gateway_process(const ChildRole& role) {
    ipc::Channel ch(role.channel_fd);
    const int listen_fd = role.first_passed_fd;
    signal(SIGPIPE, SIG_IGN);
    auto first = ch.recv();
    if (!first || first->type != proto::kConfig) return 2;
    size_t n_certs = 0;
    auto cfg = proto::decode_config(first->body, &n_certs);
    if (!cfg) {
        (void)ch.send(proto::kFailed, proto::encode_text("error", cfg.message()));
        return 2;
    }
    // TLS keys arrive next and go into OpenSSL before the sandbox closes
    // (OpenSSL may read its configuration file while it starts).
    std::shared_ptr<TlsContext> tls;
    if (n_certs > 0) {
        std::vector<GatewayOptions::TlsCert> certs(n_certs);
        for (auto& c : certs) {
            auto m = ch.recv();
            if (!m || m->type != proto::kTlsCert || !proto::decode_tls_cert(m->body, &c)) return 2;
        }
        auto t = make_tls_context(certs);
        for (auto& c : certs) OPENSSL_cleanse(c.key_pem.data(), c.key_pem.size());
        if (!t) {
            (void)ch.send(proto::kFailed, proto::encode_text("error", t.message()));
            return 1;
        }
        tls = *t;
    }
    std::string summary = "off (--no-sandbox)";
    if (cfg->sandbox) {
        auto s = sandbox_gateway(cfg->options);
        if (!s) {
            (void)ch.send(proto::kFailed, proto::encode_text("error", s.message()));
            return 1;
        }
        summary = *s;
    }
    // Ready before serving: clients already waiting in the backlog are
    // accepted at once, and their acquire messages must come after it.
    if (!ch.send(proto::kReady, proto::encode_text("sandbox", summary))) return 1;
    Metrics metrics;
    RemoteBackend backend(ch);
    auto gw =
        Gateway::start(cfg->options, backend, metrics, listen_fd, tls ? listen_fd + 1 : -1, tls);
    if (!gw) {
        (void)ch.send(proto::kFailed, proto::encode_text("error", gw.message()));
        return 1;
    }
    // The control plane's replies are read on the gateway's I/O threads
    // when the channel has data: the thread that completes a call is the
    // one that resumes its connection, without a hop through a reader
    // thread. This thread only waits for the channel's end.
    std::mutex end_mu;
    std::condition_variable end_cv;
    bool ended = false;
    (*gw)->watch_readable(ch.fd(), [&]() {
        for (;;) {
            auto m = ch.recv();
            if (!m && m.code() != Code::kCorruption) {
                std::lock_guard lock(end_mu);
                ended = true;  // the control plane closed the channel or died
                end_cv.notify_all();
                return false;
            }
            if (m) dispatch(*m, backend, ch, metrics);
            int queued = 0;
            if (::ioctl(ch.fd(), FIONREAD, &queued) != 0 || queued <= 0) return true;
        }
    });
    if (auto st = sandbox_thread(ThreadKind::kChannel); !st) {
        (void)ch.send(proto::kFailed, proto::encode_text("error", st.message()));
        return 1;
    }
    {
        std::unique_lock lock(end_mu);
        end_cv.wait(lock, [&] { return ended; });
    }
    backend.fail_all();
    (*gw)->stop();
    return 0;
}

}  // namespace ember::platform
