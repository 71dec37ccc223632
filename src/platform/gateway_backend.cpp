// gateway_backend.cpp - LocalGatewayBackend (see gateway_backend.h).
#include "platform/gateway_backend.h"

#include <unistd.h>

namespace ember::platform {

LocalGatewayBackend::~LocalGatewayBackend() { finish_all(FinishKind::kClientGone); }

Acquired LocalGatewayBackend::acquire_now(const std::string& service, int fd) {
    {
        std::lock_guard lock(mu_);
        if (tickets_.size() >= max_tickets_) {
            if (fd >= 0) ::close(fd);
            Acquired a;
            a.info.state = TicketState::kRejected;
            a.info.reason = RejectReason::kQueueFull;
            a.info.message = "the gateway has " + std::to_string(max_tickets_) +
                             " requests in flight, its limit";
            return a;
        }
    }
    TicketPtr t = manager_.acquire(service, fd);
    Acquired a{t->id, manager_.ticket_info(t)};
    std::lock_guard lock(mu_);
    tickets_.emplace(t->id, std::move(t));
    return a;
}

Acquired LocalGatewayBackend::reuse_now(const std::string& service,
                                        const std::vector<uint64_t>& instances) {
    Acquired a;
    a.info.state = TicketState::kRejected;
    a.info.message = "the instance takes no request on this stream";
    {
        std::lock_guard lock(mu_);
        if (tickets_.size() >= max_tickets_) return a;
    }
    TicketPtr t = manager_.acquire_on(service, instances, &a.stale);
    if (!t) return a;
    a.ticket = t->id;
    a.info = manager_.ticket_info(t);
    std::lock_guard lock(mu_);
    tickets_.emplace(t->id, std::move(t));
    return a;
}

TicketInfo LocalGatewayBackend::info_now(TicketId ticket) {
    TicketPtr t;
    {
        std::lock_guard lock(mu_);
        auto it = tickets_.find(ticket);
        if (it != tickets_.end()) t = it->second;
    }
    if (!t) {
        TicketInfo i;
        i.state = TicketState::kDone;
        i.message = "no such ticket";
        return i;
    }
    return manager_.ticket_info(t);
}

void LocalGatewayBackend::acquire(const std::string& service, int fd,
                                  std::function<void(Acquired)> done) {
    done(acquire_now(service, fd));
}

void LocalGatewayBackend::reuse(const std::string& service, const std::vector<uint64_t>& instances,
                                std::function<void(Acquired)> done) {
    done(reuse_now(service, instances));
}

void LocalGatewayBackend::ticket_info(TicketId ticket, std::function<void(TicketInfo)> done) {
    done(info_now(ticket));
}

void LocalGatewayBackend::finish(TicketId ticket, FinishKind kind, std::function<void()> done) {
    finish_now(ticket, kind);
    if (done) done();
}

void LocalGatewayBackend::finish_now(TicketId ticket, FinishKind kind) {
    TicketPtr t;
    {
        std::lock_guard lock(mu_);
        auto it = tickets_.find(ticket);
        if (it == tickets_.end()) return;
        t = std::move(it->second);
        tickets_.erase(it);
    }
    manager_.finish(t, kind);
}

void LocalGatewayBackend::finish_all(FinishKind kind) {
    std::map<TicketId, TicketPtr> all;
    {
        std::lock_guard lock(mu_);
        all.swap(tickets_);
    }
    for (auto& [id, t] : all) manager_.finish(t, kind);
}

size_t LocalGatewayBackend::open_tickets() {
    std::lock_guard lock(mu_);
    return tickets_.size();
}

}  // namespace ember::platform
