// placement.h - how the live nodes split a service's cluster-wide min/max,
// deterministically, so that every node computes the same split from the
// same list without talking to the others: the live nodes sorted by name,
// node i of n gets value / n, plus one when i < value % n. When a node dies
// (its lease expires), the others see a shorter list at their next
// heartbeat (every second) and take over its share of min.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ember::platform::cluster {

// node's part of value among nodes (sorted, unique); 0 for a node not in it.
inline uint32_t share_of(uint32_t value, const std::vector<std::string>& nodes,
                         const std::string& node) {
    auto it = std::lower_bound(nodes.begin(), nodes.end(), node);
    if (it == nodes.end() || *it != node) return 0;
    const auto n = static_cast<uint32_t>(nodes.size());
    const auto i = static_cast<uint32_t>(it - nodes.begin());
    return value / n + (i < value % n ? 1 : 0);
}

// A live node as the forwarder reaches it.
struct Peer {
    std::string name;
    std::string api;  // ADDR:PORT of its control API (forwarded requests go there)
};

// The live nodes as this node last saw them (thread-safe).
class Placement {
  public:
    explicit Placement(std::string self) : self_(std::move(self)) { names_ = {self_}; }

    // Sets the live nodes (this one included or not); true when the set of
    // names changed.
    bool set_live(std::vector<Peer> live) {
        std::sort(live.begin(), live.end(),
                  [](const Peer& a, const Peer& b) { return a.name < b.name; });
        std::vector<std::string> names;
        for (const Peer& p : live) names.push_back(p.name);
        if (!std::binary_search(names.begin(), names.end(), self_))
            names.insert(std::lower_bound(names.begin(), names.end(), self_), self_);
        std::lock_guard g(mu_);
        const bool changed = names != names_;
        names_ = std::move(names);
        peers_.clear();
        for (Peer& p : live)
            if (p.name != self_) peers_.push_back(std::move(p));
        return changed;
    }

    uint32_t share(uint32_t value, const std::string& node) const {
        std::lock_guard g(mu_);
        return share_of(value, names_, node);
    }
    uint32_t my_share(uint32_t value) const { return share(value, self_); }

    // The live peers whose share of max is not 0, starting at a rotating
    // point so that forwarded requests spread over them.
    std::vector<Peer> targets(uint32_t max) {
        std::lock_guard g(mu_);
        std::vector<Peer> out;
        const size_t n = peers_.size();
        const size_t start = n ? next_++ % n : 0;
        for (size_t k = 0; k < n; ++k) {
            const Peer& p = peers_[(start + k) % n];
            if (share_of(max, names_, p.name) > 0) out.push_back(p);
        }
        return out;
    }

    const std::string& self() const { return self_; }

  private:
    const std::string self_;
    mutable std::mutex mu_;
    std::vector<std::string> names_;  // sorted, self included
    std::vector<Peer> peers_;         // live, self excluded, sorted by name
    size_t next_ = 0;
};

}  // namespace ember::platform::cluster
