// runner_pool.h - threads for instances. An instance occupies a thread for
// its whole life (restore, then Guest::run()); finished threads wait for the
// next instance instead of exiting, which keeps thread creation off the
// cold-start path.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ember::platform {

class RunnerPool {
  public:
    explicit RunnerPool(size_t max_idle = 16) : max_idle_(max_idle) {}
    // Waits for every job to end: the caller must make them end (stop the
    // instances) first.
    ~RunnerPool();
    void run(std::function<void()> job);
    // Starts idle threads ahead of need.
    void prestart(size_t n);

  private:
    void loop();
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::condition_variable exited_;
    size_t threads_ = 0;  // alive (detached) threads
    size_t idle_ = 0, max_idle_;
    bool stopping_ = false;
};

}  // namespace ember::platform
