// forwarder.h - request forwarding between the nodes of a cluster.
//
// A request that this node cannot serve at once (no snapshot of the
// service yet, or its share of `max` is busy or 0) goes to a live peer
// whose share of `max` is not 0:
//
//   client ─▶ gateway process (A) ── acquire(service, stream end) ─▶ emberd A
//             emberd A: Forwarder::take() keeps the stream end, reads the
//             request from it, sends it over a keep-alive connection to
//             peer B's API: <METHOD> /v1/cluster/forward/<service><target>
//             with X-Ember-Cluster-Auth: Bearer <cluster token> and
//             X-Ember-Hop: A
//   emberd B: the API server hands it to Forwarder::serve_forwarded(),
//             which serves it here and never forwards again (the hop), as
//             the gateway would: a stream pair, acquire(), the response
//
// Forwarding happens in emberd, not in the gateway process: the gateway's
// sandbox has no socket()/connect() and an empty network namespace
// (docs/security.md), and emberd already holds the cluster token.
//
// A peer that cannot be reached (connect refused, a pooled connection found
// closed before any reply) is skipped for the next; when none answers, the
// request is served here after all (queued if it must). Requests forwarded
// are whole messages: bodies up to the gateway's limit, responses up to
// max_response_bytes; upgrades and server-sent events are never forwarded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "platform/cluster/placement.h"
#include "platform/instance_manager.h"
#include "platform/metrics.h"

namespace ember::platform::cluster {

inline constexpr const char* kForwardPrefix = "/v1/cluster/forward/";
inline constexpr const char* kClusterAuthHeader = "X-Ember-Cluster-Auth";
inline constexpr const char* kHopHeader = "X-Ember-Hop";
inline constexpr const char* kNodeHeader = "X-Ember-Node";  // the node that served

struct ForwarderOptions {
    std::string token;  // the cluster token
    uint64_t max_body_bytes = 10ull << 20;
    uint64_t max_response_bytes = 64ull << 20;
    size_t max_idle_per_peer = 32;  // keep-alive connections kept per peer
};

class Forwarder {
  public:
    Forwarder(ForwarderOptions opts, InstanceManager& manager, Placement& placement,
              Metrics& metrics);
    ~Forwarder();  // stop()
    void stop();

    // The gateway host's hook, for each request: true when the request goes
    // to a peer (the forwarder owns fd from then on; *timeout_ms is the
    // service's timeout), false when it is served here as usual.
    bool take(const std::string& service, int fd, uint64_t* timeout_ms);

    // A request a peer forwarded here, as the instance gets it (an HTTP/1.1
    // request with its target under the service); done gets the response
    // as HTTP/1.1 bytes (keep-alive), on the forwarder's thread.
    void serve_forwarded(const std::string& service, std::string wire,
                         std::function<void(std::string)> done);

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ember::platform::cluster
