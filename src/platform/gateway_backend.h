// gateway_backend.h - what the gateway needs from the instance manager, as
// an interface: in emberd the gateway runs in a process of its own and
// reaches the manager through messages to the control plane
// (gateway_process.cpp); LocalGatewayBackend is the same calls on an
// InstanceManager in this process (the control plane's side of those
// messages, and tests).
//
// Tickets are named by id. Calls complete through a callback, which may run
// on any thread, before the call returns or later: the gateway posts it back
// to the connection's strand.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "platform/instance_manager.h"

namespace ember::platform {

using TicketId = uint64_t;

struct Acquired {
    TicketId ticket = 0;
    TicketInfo info;  // ticket_info() right after acquire()
    // reuse(): the instances whose kept-alive streams will never be taken
    // again (InstanceManager::acquire_on).
    std::vector<uint64_t> stale;
};

class GatewayBackend {
  public:
    virtual ~GatewayBackend() = default;
    // Takes the instance-side end of the request's stream pair (closed here
    // whatever happens) and claims an instance for it.
    virtual void acquire(const std::string& service, int fd,
                         std::function<void(Acquired)> done) = 0;
    // Claims a slot on one of the instances the gateway has kept-alive
    // streams to (InstanceManager::acquire_on); info.instance_id says which.
    // Rejected (ticket 0, nothing to finish) when none can take it: the
    // gateway then acquires with a new stream.
    virtual void reuse(const std::string& service, const std::vector<uint64_t>& instances,
                       std::function<void(Acquired)> done) = 0;
    virtual void ticket_info(TicketId ticket, std::function<void(TicketInfo)> done) = 0;
    // Frees the ticket's slot; the id is unknown from then on. done runs
    // once the instance manager has it (the instance is idle again).
    virtual void finish(TicketId ticket, FinishKind kind, std::function<void()> done) = 0;
};

// The calls on an InstanceManager, keeping the tickets by id. Thread-safe.
class LocalGatewayBackend : public GatewayBackend {
  public:
    // max_tickets bounds the unfinished tickets (the gateway's connections
    // each hold at most one): acquire() beyond it is rejected as kQueueFull
    // and its fd closed, so a gateway that never finishes cannot pile up
    // tickets and descriptors in the manager.
    LocalGatewayBackend(InstanceManager& manager, size_t max_tickets)
        : manager_(manager), max_tickets_(max_tickets) {}
    ~LocalGatewayBackend() override;  // finish_all(kClientGone)

    void acquire(const std::string& service, int fd, std::function<void(Acquired)> done) override;
    void reuse(const std::string& service, const std::vector<uint64_t>& instances,
               std::function<void(Acquired)> done) override;
    void ticket_info(TicketId ticket, std::function<void(TicketInfo)> done) override;
    void finish(TicketId ticket, FinishKind kind, std::function<void()> done) override;

    // Finishes every ticket still open (its gateway went away).
    void finish_all(FinishKind kind);
    size_t open_tickets();

    // The synchronous forms of the calls above (the control plane answers
    // messages with them). An unknown id gives a kDone info with a message.
    Acquired acquire_now(const std::string& service, int fd);
    Acquired reuse_now(const std::string& service, const std::vector<uint64_t>& instances);
    TicketInfo info_now(TicketId ticket);
    void finish_now(TicketId ticket, FinishKind kind);  // an unknown id is ignored

  private:
    InstanceManager& manager_;
    const size_t max_tickets_;
    std::mutex mu_;
    std::map<TicketId, TicketPtr> tickets_;
};

}  // namespace ember::platform
