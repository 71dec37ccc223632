// http_servers.h - emberd's two HTTP/1.1 servers, Boost.Beast kept out of
// this header: the gateway (ingress to the services; gateway.cpp, run in a
// process of its own) and the control API (api_server.cpp). Each runs its
// own io_context threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/api.h"
#include "platform/instance_manager.h"
#include "platform/metrics.h"

namespace ember::platform {

struct GatewayOptions {
    std::string addr = "127.0.0.1";
    uint16_t port = 8080;
    std::string domain = "localhost";
    int threads = 1;
    uint64_t max_header_bytes = 16 << 10;
    uint64_t max_body_bytes = 10ull << 20;
    uint64_t max_response_bytes = 64ull << 20;
    uint64_t client_timeout_ms = 10000;     // to read one request (headers and body)
    uint64_t keepalive_timeout_ms = 30000;  // idle client connection between requests
    size_t max_connections = 10000;
    // HTTPS (gateway_tls.h): a second listener at tls_addr:tls_port when
    // there is a certificate. The first certificate is the default; the
    // others are chosen by SNI. tls_redirect: the plain listener answers
    // every request with a 308 to https://. The PEM text travels from
    // emberd to the gateway process only.
    struct TlsCert {
        std::string cert_pem;  // the certificate chain
        std::string key_pem;
    };
    std::vector<TlsCert> tls_certs;
    std::string tls_addr = "127.0.0.1";
    uint16_t tls_port = 8443;
    bool tls_redirect = false;
};

// The gateway's TLS contexts (gateway_tls.cpp), made before the gateway
// process enters its sandbox.
class TlsContext;
Result<std::shared_ptr<TlsContext>> make_tls_context(
    const std::vector<GatewayOptions::TlsCert>& certs);

// Serves the clients of listen_fd (a bound, listening TCP socket, owned from
// then on) with instances reached through backend, and HTTPS clients of
// tls_fd with tls when both are given. In emberd it runs in the gateway
// process (gateway_process.cpp).
class GatewayBackend;
class Gateway {
  public:
    static Result<std::unique_ptr<Gateway>> start(const GatewayOptions& opts,
                                                  GatewayBackend& backend, Metrics& metrics,
                                                  int listen_fd, int tls_fd = -1,
                                                  std::shared_ptr<TlsContext> tls = nullptr);
    ~Gateway();
    uint16_t port() const;  // the bound port (useful with port 0)
    // Runs on_readable on one of the gateway's I/O threads each time fd has
    // data to read, until it returns false or stop(). fd stays the
    // caller's (never closed here).
    void watch_readable(int fd, std::function<bool()> on_readable);
    void stop();
    struct Impl;

  private:
    explicit Gateway(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct ApiServerOptions {
    std::string addr = "127.0.0.1";
    uint16_t port = 8081;
    uint64_t client_timeout_ms = 60000;  // uploads can be large
    int handler_threads = 4;             // deploys block one each
};

// Cluster mode: a request a peer forwarded (/v1/cluster/forward/<service>...,
// cluster token; api_forward.cpp), as the instance gets it; done takes the
// response's bytes, from any thread.
using ForwardHandler = std::function<void(const std::string& service, std::string wire,
                                          std::function<void(std::string)> done)>;

class ApiServer {
  public:
    static Result<std::unique_ptr<ApiServer>> start(const ApiServerOptions& opts, Api& api,
                                                    LogHub& logs, InstanceManager& manager);
    ~ApiServer();
    uint16_t port() const;
    void set_forward_handler(ForwardHandler h);
    void stop();
    struct Impl;

  private:
    explicit ApiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ember::platform
