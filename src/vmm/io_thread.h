// io_thread.h - one process-wide thread that serves ioeventfd doorbells:
// the guest rings a doorbell port (handled in the host kernel, no userspace
// exit) and this thread runs the VMM's handler, e.g. to drain the console
// ring while the guest keeps running.
//
// The guest decides how often its doorbell rings, so the thread serves each
// doorbell at most once per kMinInterval (rings in between are coalesced
// into the next call) and adds the CPU time it spends on it to a counter of
// the doorbell's owner, which counts it against the instance's CPU limit.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace ember {

class IoThread {
  public:
    // A doorbell that rings faster than this is served this often.
    static constexpr int64_t kMinIntervalNs = 1'000'000;

    static IoThread& instance();
    // Calls fn on the I/O thread whenever eventfd `fd` is signalled. The
    // caller keeps ownership of fd. This thread's CPU time for fd (waking
    // up, reading it, fn) is added to *cpu_ns when it is given. Returns an
    // id for remove(), or -1.
    int64_t add(int fd, std::function<void()> fn, std::atomic<uint64_t>* cpu_ns = nullptr);
    // After remove() returns, fn is not running and will not run again.
    void remove(int64_t id);

  private:
    struct Handler {
        int fd = -1;
        std::function<void()> fn;
        std::atomic<uint64_t>* cpu_ns = nullptr;
        int64_t last_run_ns = 0;
        int64_t resume_ns = 0;  // 0: enabled; else when to watch fd again
    };

    IoThread();
    void loop();
    // Watches again the fds whose pause ended; returns the epoll timeout
    // until the next one (-1: none). Under mu_.
    int resume_due(int64_t now);
    void charge(Handler& h, uint64_t* cpu);

    int epfd_ = -1;
    std::mutex mu_;
    std::condition_variable idle_;
    std::map<int64_t, Handler> handlers_;
    size_t paused_ = 0;  // handlers with resume_ns set
    int64_t next_id_ = 1;
    int64_t running_id_ = 0;  // handler being run, 0 if none
};

}  // namespace ember
