// gateway_pool.h - the gateway's idle keep-alive streams to instances.
//
// After a complete response on a stream that both sides keep alive, the
// gateway parks the stream here instead of closing it; the next request to
// the service takes one stream per instance it has here, the instance
// manager picks one of those instances (InstanceManager::acquire_on) and
// the request goes on that stream, without a new stream into the guest. A stream holds one request
// at a time, so no response can be mixed up with another's (pipelining-safe).
//
// Bounds: kPerInstance idle streams per instance, kTotal in all (over it,
// the oldest of the service, else of another service, goes first). A stream whose instance closed
// it, or that has unread bytes, is dropped when taken. An instance whose server seems to serve one
// connection at a time (a fresh stream to it waited while it had idle ones)
// is disabled: its streams are closed and it gets no more.
//
// Thread-safe (one mutex); holds raw fds, closed by the pool unless taken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ember::platform {

class UpstreamPool {
  public:
    static constexpr size_t kPerInstance = 64;
    static constexpr size_t kTotal = 1024;

    struct Stream {
        uint64_t instance_id = 0;
        int fd = -1;
    };

    UpstreamPool() = default;
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // Up to `max` parked streams of the service, each to a different
    // instance, the most recently parked first, each still open and clean;
    // the caller owns their fds (put() back the ones it does not use).
    std::vector<Stream> take(const std::string& service, size_t max);
    // Parks fd (ownership passes to the pool; closed when over a bound or
    // when the instance is disabled).
    void put(const std::string& service, uint64_t instance_id, int fd);
    // Closes the instance's idle streams (it refused one: stopped, replaced).
    void drop_instance(uint64_t instance_id);
    // drop_instance, and no stream to it is parked from now on.
    void disable(uint64_t instance_id);
    bool disabled(uint64_t instance_id);
    // Does the instance have idle streams here?
    bool has_idle(uint64_t instance_id);
    size_t idle();

  private:
    void close_where_locked(uint64_t instance_id);
    void evict_one_locked(const std::string& prefer);

    // Per service, newest last.
    std::unordered_map<std::string, std::deque<Stream>> idle_;
    std::unordered_map<uint64_t, size_t> per_instance_;
    size_t total_ = 0;
    std::set<uint64_t> disabled_;
    std::deque<uint64_t> disabled_order_;  // bounds disabled_
    std::mutex mu_;
};

}  // namespace ember::platform
