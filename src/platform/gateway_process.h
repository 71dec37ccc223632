// gateway_process.h - the gateway in a process of its own. The gateway parses
// untrusted client input, so it runs apart from the control plane (API
// token, SQLite state, images): sandboxed (vmm/sandbox.h: unprivileged, no
// capabilities, its own namespaces, an empty read-only root, a seccomp
// allowlist with no socket()/connect()/bind()/open), holding no secret but
// the TLS keys it serves HTTPS with (sent on the channel before it
// sandboxes), with what its parent gives it: the listening socket (and the
// HTTPS one) and a channel. Each
// request's instance-side stream end goes to the control plane by SCM_RIGHTS.
//
//   control plane (emberd)                      gateway process
//   GatewayHost: binds the port,     channel    run_gateway_process():
//   spawns the gateway, answers  <===========>  Gateway on the passed socket,
//   acquire/info/finish against                 RemoteBackend = messages
//   the InstanceManager, restarts               (gateway_protocol.h)
//   it when it dies
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "platform/child_process.h"
#include "platform/http_servers.h"
#include "platform/instance_manager.h"
#include "platform/metrics.h"

namespace ember::platform {

inline constexpr const char* kGatewayRole = "gateway";

// The gateway process's main (emberd --ember-role=gateway); its exit status.
int run_gateway_process(const ChildRole& role);

// The control plane's side: owns the listening socket and the gateway
// process, and keeps one running.
class GatewayHost {
  public:
    // Binds opts.addr:opts.port (as the caller: a privileged port works for
    // root), starts the gateway process and waits until it serves. sandbox:
    // false runs it without the sandbox (debugging; --no-sandbox).
    static Result<std::unique_ptr<GatewayHost>> start(const GatewayOptions& opts, bool sandbox,
                                                      InstanceManager& manager, Metrics& metrics);
    ~GatewayHost();  // stop()
    // Stops the gateway process; its open requests finish as kClientGone.
    void stop();
    uint16_t port() const;      // the bound port (useful with port 0)
    uint16_t tls_port() const;  // the bound HTTPS port, 0 without TLS
    pid_t pid() const;          // the running gateway process (-1 between restarts)
    // Cluster mode: offered each request before the instance manager; true
    // when it took the stream end (the request goes to a peer node:
    // cluster/forwarder.h), *timeout_ms then the service's timeout.
    using ForwardHook =
        std::function<bool(const std::string& service, int fd, uint64_t* timeout_ms)>;
    void set_forward_hook(ForwardHook hook);
    struct Impl;

  private:
    explicit GatewayHost(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace ember::platform
