// gateway_pool.cpp - UpstreamPool (see gateway_pool.h).
#include "platform/gateway_pool.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ember::platform {

namespace {

constexpr size_t kDisabledMemory = 4096;  // instance ids remembered as disabled

// Open, and nothing to read: the instance has neither closed it nor sent
// anything unasked (which would be taken for the next response).
bool clean(int fd) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamPool::~UpstreamPool() {
    for (auto& [svc, q] : idle_)
        for (const Stream& s : q) ::close(s.fd);
}

std::vector<UpstreamPool::Stream> UpstreamPool::take(const std::string& service, size_t max) {
    std::vector<Stream> got;
    std::lock_guard lock(mu_);
    auto it = idle_.find(service);
    if (it == idle_.end()) return got;
    auto& q = it->second;
    for (size_t i = q.size(); i-- > 0 && got.size() < max;) {
        const Stream s = q[i];
        bool seen = false;
        for (const Stream& g : got) seen = seen || g.instance_id == s.instance_id;
        if (seen) continue;
        q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
        --total_;
        if (--per_instance_[s.instance_id] == 0) per_instance_.erase(s.instance_id);
        if (clean(s.fd))
            got.push_back(s);
        else
            ::close(s.fd);
    }
    if (q.empty()) idle_.erase(it);
    return got;
}

void UpstreamPool::put(const std::string& service, uint64_t instance_id, int fd) {
    std::lock_guard lock(mu_);
    if (disabled_.count(instance_id) || per_instance_[instance_id] >= kPerInstance) {
        if (per_instance_[instance_id] == 0) per_instance_.erase(instance_id);
        ::close(fd);
        return;
    }
    if (total_ >= kTotal) evict_one_locked(service);
    idle_[service].push_back({instance_id, fd});
    ++per_instance_[instance_id];
    ++total_;
}

void UpstreamPool::evict_one_locked(const std::string& prefer) {
    auto it = idle_.find(prefer);
    if (it == idle_.end()) it = idle_.begin();
    if (it == idle_.end()) return;
    const Stream s = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) idle_.erase(it);
    --total_;
    if (--per_instance_[s.instance_id] == 0) per_instance_.erase(s.instance_id);
    ::close(s.fd);
}

void UpstreamPool::close_where_locked(uint64_t instance_id) {
    if (!per_instance_.count(instance_id)) return;
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& q = it->second;
        for (auto s = q.begin(); s != q.end();) {
            if (s->instance_id == instance_id) {
                ::close(s->fd);
                --total_;
                s = q.erase(s);
            } else {
                ++s;
            }
        }
        it = q.empty() ? idle_.erase(it) : std::next(it);
    }
    per_instance_.erase(instance_id);
}

void UpstreamPool::drop_instance(uint64_t instance_id) {
    std::lock_guard lock(mu_);
    close_where_locked(instance_id);
}

void UpstreamPool::disable(uint64_t instance_id) {
    std::lock_guard lock(mu_);
    close_where_locked(instance_id);
    if (!disabled_.insert(instance_id).second) return;
    disabled_order_.push_back(instance_id);
    if (disabled_order_.size() > kDisabledMemory) {
        disabled_.erase(disabled_order_.front());
        disabled_order_.pop_front();
    }
}

bool UpstreamPool::disabled(uint64_t instance_id) {
    std::lock_guard lock(mu_);
    return disabled_.count(instance_id) > 0;
}

bool UpstreamPool::has_idle(uint64_t instance_id) {
    std::lock_guard lock(mu_);
    return per_instance_.count(instance_id) > 0;
}

size_t UpstreamPool::idle() {
    std::lock_guard lock(mu_);
    return total_;
}

}  // namespace ember::platform
