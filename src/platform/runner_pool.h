// runner_pool.h - threads for instances: for a restore and for an end in
// emberd (an instance whose guest reports its end holds no thread while it
// runs), for each instance's whole life in a VM worker (its vCPU). Finished
// threads wait for the next job instead of exiting, which keeps thread
// creation off the cold-start path; beyond max_idle waiting, they exit.
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
    // on_start runs first on every thread of the pool (the VM worker loads
    // its threads' seccomp filter there). With spawn_from_runners, run()
    // never creates a thread in the caller: a spawner thread of the pool
    // does (started by prestart, which must come first), so that a caller
    // whose seccomp filter forbids clone (the worker's channel thread) can
    // still hand out jobs.
    RunnerPool(size_t max_idle, std::function<void()> on_start, bool spawn_from_runners)
        : max_idle_(max_idle),
          on_start_(std::move(on_start)),
          spawn_from_runners_(spawn_from_runners) {}
    // Waits for every job to end: the caller must make them end (stop the
    // instances) first.
    ~RunnerPool();
    void run(std::function<void()> job);
    // Starts idle threads ahead of need.
    void prestart(size_t n);

  private:
    void loop(bool spawned);
    void spawn_loop();
    bool start_thread(bool spawned);  // under mu_
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::condition_variable exited_;
    size_t threads_ = 0;  // alive (detached) threads
    size_t idle_ = 0, max_idle_;
    bool stopping_ = false;
    std::function<void()> on_start_;
    bool spawn_from_runners_ = false;
    bool spawner_started_ = false;
    size_t starting_ = 0;  // started by the spawner, not yet waiting
    std::condition_variable spawn_cv_;
};

}  // namespace ember::platform
