// warm_cap.h - how many reset VMs of one snapshot a VM worker keeps for the
// next instances (vm_guest.cpp), sized from the load.
//
// A fixed number either wastes memory on a quiet service or, under
// per-request isolation, makes most requests of a busy one wait for a new
// VM: with 64 concurrent requests and 4 kept VMs, 60 of every 64 instances
// were restored into new VMs and their VMs destroyed afterwards (334
// requests/s against 2,359 with 64 kept; docs/benchmarks.md). So the cap
// follows the most VMs of the snapshot in use at once over the last two
// windows (a window is 10 s), never below the configured floor
// (--warm-vms) nor above kMaxWarm. When the load falls, the cap falls a
// window or two later, and VMs beyond it are dropped as they come back
// (or at the next take); a service that stops receiving requests keeps
// what it held until its next request or its removal.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ember::platform {

class WarmCap {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr size_t kMaxWarm = 64;
    static constexpr Clock::duration kWindow = std::chrono::seconds(10);

    explicit WarmCap(size_t floor) : floor_(std::min(floor, kMaxWarm)) {}

    // A VM of the snapshot went into use / came back. Not thread-safe: the
    // caller holds its lock.
    void taken(Clock::time_point now) {
        roll(now);
        ++in_use_;
        peak_ = std::max(peak_, in_use_);
    }
    void returned(Clock::time_point now) {
        roll(now);
        if (in_use_ > 0) --in_use_;
    }
    // How many reset VMs to keep now.
    size_t cap(Clock::time_point now) {
        roll(now);
        return std::clamp(std::max(peak_, prev_peak_), floor_, kMaxWarm);
    }
    size_t in_use() const { return in_use_; }

  private:
    // Starts a new window when the current one is over; a window with no
    // event at all leaves only what is in use now as its peak.
    void roll(Clock::time_point now) {
        if (now - window_start_ < kWindow) return;
        prev_peak_ = now - window_start_ < 2 * kWindow ? peak_ : in_use_;
        peak_ = in_use_;
        window_start_ = now;
    }

    size_t floor_;
    size_t in_use_ = 0;
    size_t peak_ = 0, prev_peak_ = 0;
    Clock::time_point window_start_{};
};

}  // namespace ember::platform
