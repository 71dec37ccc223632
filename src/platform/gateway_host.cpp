// gateway_host.cpp - the control plane's side of the gateway process (see
// gateway_process.h): the listening socket, the process, its messages
// answered against the InstanceManager, restarts, and its metrics fetched
// at every scrape.
//
// One supervisor thread per host: it starts the process, then reads its
// messages until the channel ends (the process died, or stop()), finishes
// the tickets it left open, and starts the next one. The listening socket
// stays open here throughout, so clients that arrive between two gateway
// processes wait in its backlog instead of being refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "platform/gateway_backend.h"
#include "platform/gateway_process.h"
#include "platform/gateway_protocol.h"

namespace ember::platform {

namespace proto = gateway_protocol;
using std::chrono::milliseconds;

namespace {

constexpr int kReadyTimeoutMs = 10000;
constexpr auto kScrapeTimeout = milliseconds(2000);
constexpr size_t kMaxMetricsText = 16 << 20;

Result<int> listen_tcp(const std::string& addr, uint16_t port) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
    } else {
        return Status::invalid_argument("gateway: not an IP address: '" + addr + "'");
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::from_errno("gateway: socket");
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 4096) != 0) {
        const int err = errno;
        ::close(fd);
        return Status::unavailable("gateway: cannot listen on " + addr + ":" +
                                   std::to_string(port) + ": " + std::strerror(err));
    }
    return fd;
}

// The stream end a gateway hands over must be what it claims: a connected
// Unix stream socket (not its listening socket, not a client's TCP socket).
bool is_stream_end(int fd) {
    int type = 0, domain = 0, listening = 0;
    socklen_t l = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM) return false;
    l = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0 || domain != AF_UNIX)
        return false;
    l = sizeof listening;
    return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 && !listening;
}

uint16_t bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

struct GatewayHost::Impl {
    Impl(const GatewayOptions& o, bool sb, InstanceManager& m, Metrics& met)
        : opts(o), sandbox(sb), manager(m), metrics(met) {}
    ~Impl() {
        if (listen_fd >= 0) ::close(listen_fd);
        if (tls_fd >= 0) ::close(tls_fd);
    }

    Result<std::shared_ptr<ChildProcess>> launch();
    void supervise(std::shared_ptr<ChildProcess> first);
    // Answers c's messages until its channel ends; why it ended.
    std::string serve(ChildProcess& c, LocalGatewayBackend& backend);
    std::string metrics_text();
    // The forward hook's answer for a request it took (set_forward_hook).
    bool forwarded(const std::string& service, int fd, Acquired* a);

    GatewayOptions opts;  // tls_port: the bound one
    const bool sandbox;
    InstanceManager& manager;
    Metrics& metrics;
    int listen_fd = -1;
    int tls_fd = -1;  // the HTTPS socket, when there are certificates
    uint16_t port = 0;

    std::mutex mu;
    std::condition_variable cv;
    std::shared_ptr<ChildProcess> child;  // the running gateway, if any
    bool stopping = false;
    std::thread supervisor;

    // The scrape in progress (metrics_text): its number, the text so far.
    std::mutex scrape_mu;  // one scrape at a time
    uint64_t scrape_no = 0;
    bool scrape_done = false;
    std::string scrape_text;

    std::mutex hook_mu;
    std::shared_ptr<const ForwardHook> forward;
};

bool GatewayHost::Impl::forwarded(const std::string& service, int fd, Acquired* a) {
    std::shared_ptr<const ForwardHook> hook;
    {
        std::lock_guard lock(hook_mu);
        hook = forward;
    }
    uint64_t timeout_ms = 0;
    if (!hook || !(*hook)(service, fd, &timeout_ms)) return false;
    // No ticket here: the peer's instance has the request. Ticket 0 is
    // unknown to finish(), and a handed ticket needs no info round trip.
    a->ticket = 0;
    a->info.state = TicketState::kHanded;
    a->info.t_handed = mono_now_ns();
    a->info.timeout_ms = timeout_ms;
    return true;
}

// Spawns a gateway process and waits for it to say it serves.
Result<std::shared_ptr<ChildProcess>> GatewayHost::Impl::launch() {
    std::vector<int> fds = {listen_fd};
    if (tls_fd >= 0) fds.push_back(tls_fd);  // the child's listen fd + 1
    auto c = ChildProcess::spawn({kGatewayRole, {}, fds});
    if (!c) return Status(c.code(), "gateway process: " + c.message());
    std::shared_ptr<ChildProcess> child_p = std::move(*c);
    ipc::Channel& ch = child_p->channel();
    Status st = ch.send(proto::kConfig, proto::encode_config({opts, sandbox}));
    for (size_t i = 0; st && i < opts.tls_certs.size(); ++i)
        st = ch.send(proto::kTlsCert, proto::encode_tls_cert(opts.tls_certs[i]));
    if (!st) return Status(st.code(), "gateway process: " + st.message());
    pollfd pfd{ch.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, kReadyTimeoutMs) != 1)
        return Status::timeout("gateway process: not ready within " +
                               std::to_string(kReadyTimeoutMs) + " ms");
    auto m = ch.recv();
    if (!m)
        return Status(m.code(),
                      "gateway process: " + m.message() + " (" + child_p->wait(1000) + ")");
    std::string text;
    if (m->type == proto::kFailed && proto::decode_text(m->body, "error", &text))
        return Status::unavailable(text);
    if (m->type != proto::kReady || !proto::decode_text(m->body, "sandbox", &text))
        return Status::corruption("gateway process: unexpected first message '" + m->type + "'");
    spdlog::info("gateway process {}: sandbox {}", child_p->pid(), text);
    return child_p;
}

std::string GatewayHost::Impl::serve(ChildProcess& c, LocalGatewayBackend& backend) {
    ipc::Channel& ch = c.channel();
    for (;;) {
        auto m = ch.recv();
        if (!m) return m.code() == Code::kUnavailable ? "" : m.message();
        Status st;
        if (m->type == proto::kAcquire) {
            uint64_t r = 0;
            std::string service;
            st = proto::decode_acquire(m->body, &r, &service);
            const int fd = m->take_fd(0);
            if (st && (fd < 0 || !is_stream_end(fd)))
                st = Status::corruption("acquire without a stream");
            if (!st) {
                if (fd >= 0) ::close(fd);
                return st.message();
            }
            Acquired a;
            if (!forwarded(service, fd, &a)) a = backend.acquire_now(service, fd);
            st = ch.send(proto::kAcquired, proto::encode_acquired(r, a));
        } else if (m->type == proto::kReuse) {
            uint64_t r = 0;
            std::string service;
            std::vector<uint64_t> instances;
            st = proto::decode_reuse(m->body, &r, &service, &instances);
            if (!st) return st.message();
            st = ch.send(proto::kAcquired,
                         proto::encode_acquired(r, backend.reuse_now(service, instances)));
        } else if (m->type == proto::kInfo) {
            uint64_t r = 0;
            TicketId t = 0;
            st = proto::decode_info_request(m->body, &r, &t);
            if (st) st = ch.send(proto::kInfo, proto::encode_info_reply(r, backend.info_now(t)));
        } else if (m->type == proto::kFinish) {
            uint64_t r = 0;
            TicketId t = 0;
            FinishKind kind{};
            st = proto::decode_finish(m->body, &r, &t, &kind);
            if (st) backend.finish_now(t, kind);
            if (st) st = ch.send(proto::kFinished, proto::encode_finished(r));
        } else if (m->type == proto::kFailed) {
            std::string error;
            st = proto::decode_text(m->body, "error", &error);
            if (st) return error;
        } else if (m->type == proto::kMetricsPart || m->type == proto::kMetricsEnd) {
            std::lock_guard lock(mu);
            if (m->type == proto::kMetricsEnd) {
                // The end of an earlier scrape that timed out: drop its text.
                if (m->body == std::to_string(scrape_no))
                    scrape_done = true;
                else
                    scrape_text.clear();
                cv.notify_all();
            } else if (scrape_text.size() + m->body.size() <= kMaxMetricsText) {
                scrape_text += m->body;
            }
        } else {
            st = Status::corruption("unknown message '" + m->type.substr(0, 32) + "'");
        }
        if (!st && st.code() != Code::kUnavailable) return st.message();
    }
}

void GatewayHost::Impl::supervise(std::shared_ptr<ChildProcess> c) {
    auto delay = milliseconds(100);
    for (;;) {
        const auto started = std::chrono::steady_clock::now();
        std::string why;
        {
            // Tickets by id for this process only: what it leaves open when
            // it dies finishes as kClientGone (its clients lost their
            // connections with it).
            LocalGatewayBackend backend(manager, opts.max_connections + 64);
            why = serve(*c, backend);
            if (!why.empty()) spdlog::error("gateway process {}: {}; killing it", c->pid(), why);
            c->channel().shutdown();
        }
        const std::string status = c->wait(why.empty() ? 2000 : 0);
        std::unique_lock lock(mu);
        child.reset();
        if (stopping) return;
        metrics.counter("ember_gateway_restarts_total").inc();
        spdlog::warn("gateway process {} {}; starting a new one", c->pid(), status);
        c.reset();
        // A gateway that dies at once is restarted ever more slowly (5 s at
        // most), so that a crash loop does not burn the host.
        if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1))
            delay = std::min(delay * 2, milliseconds(5000));
        else
            delay = milliseconds(100);
        while (!c) {
            if (cv.wait_for(lock, delay, [&] { return stopping; })) return;
            lock.unlock();
            auto next = launch();
            lock.lock();
            if (next) {
                c = std::move(*next);
            } else {
                spdlog::error("{}", next.message());
                delay = std::min(delay * 2, milliseconds(5000));
            }
        }
        if (stopping) return;  // ~ChildProcess kills it
        child = c;
    }
}

std::string GatewayHost::Impl::metrics_text() {
    std::lock_guard one(scrape_mu);
    std::unique_lock lock(mu);
    if (!child) return "";
    auto c = child;
    const uint64_t no = ++scrape_no;
    scrape_done = false;
    scrape_text.clear();
    lock.unlock();
    if (!c->channel().send(proto::kMetrics, std::to_string(no))) return "";
    lock.lock();
    if (!cv.wait_for(lock, kScrapeTimeout, [&] { return scrape_done || stopping; }) || !scrape_done)
        return "";
    return std::move(scrape_text);
}

GatewayHost::GatewayHost(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
GatewayHost::~GatewayHost() { stop(); }

Result<std::unique_ptr<GatewayHost>> GatewayHost::start(const GatewayOptions& opts, bool sandbox,
                                                        InstanceManager& manager,
                                                        Metrics& metrics) {
    auto impl = std::make_shared<Impl>(opts, sandbox, manager, metrics);
    auto fd = listen_tcp(opts.addr, opts.port);
    if (!fd) return fd.status();
    impl->listen_fd = *fd;
    impl->port = bound_port(impl->listen_fd);
    if (!opts.tls_certs.empty()) {
        if (opts.tls_certs.size() > proto::kMaxTlsCerts)
            return Status::invalid_argument("gateway: more than " +
                                            std::to_string(proto::kMaxTlsCerts) + " certificates");
        auto t = listen_tcp(opts.tls_addr, opts.tls_port);
        if (!t) return t.status();
        impl->tls_fd = *t;
        impl->opts.tls_port = bound_port(impl->tls_fd);
    }
    auto first = impl->launch();
    if (!first) return first.status();
    impl->child = *first;
    metrics.describe("ember_gateway_restarts_total", "counter",
                     "Gateway processes that died and were replaced");
    // The gateway's own families (requests, latencies, client errors,
    // connections) live in its process: fetched at every scrape.
    metrics.add_text_source([w = std::weak_ptr<Impl>(impl)]() -> std::string {
        auto p = w.lock();
        return p ? p->metrics_text() : "";
    });
    impl->supervisor = std::thread([p = impl.get(), c = *first] { p->supervise(c); });
    return std::unique_ptr<GatewayHost>(new GatewayHost(std::move(impl)));
}

void GatewayHost::stop() {
    if (!impl_) return;
    std::shared_ptr<ChildProcess> c;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopping) return;
        impl_->stopping = true;
        c = impl_->child;
        impl_->cv.notify_all();
    }
    if (c) c->channel().shutdown();
    if (impl_->supervisor.joinable()) impl_->supervisor.join();
}

uint16_t GatewayHost::port() const { return impl_->port; }
uint16_t GatewayHost::tls_port() const { return impl_->tls_fd >= 0 ? impl_->opts.tls_port : 0; }

void GatewayHost::set_forward_hook(ForwardHook hook) {
    std::lock_guard lock(impl_->hook_mu);
    impl_->forward = std::make_shared<const ForwardHook>(std::move(hook));
}

pid_t GatewayHost::pid() const {
    std::lock_guard lock(impl_->mu);
    return impl_->child ? impl_->child->pid() : -1;
}

}  // namespace ember::platform
