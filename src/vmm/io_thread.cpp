#include "vmm/io_thread.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <thread>

#include "common/clock.h"
#include "vmm/sandbox.h"

namespace ember {
namespace {

uint64_t this_thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

IoThread& IoThread::instance() {
    static IoThread* t = new IoThread();  // lives until exit
    return *t;
}

IoThread::IoThread() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    std::thread([this] { loop(); }).detach();
}

int64_t IoThread::add(int fd, std::function<void()> fn, std::atomic<uint64_t>* cpu_ns) {
    if (epfd_ < 0) return -1;
    std::lock_guard lock(mu_);
    const int64_t id = next_id_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(id);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
    Handler& h = handlers_[id];
    h.fd = fd;
    h.fn = std::move(fn);
    h.cpu_ns = cpu_ns;
    return id;
}

void IoThread::remove(int64_t id) {
    std::unique_lock lock(mu_);
    auto it = handlers_.find(id);
    if (it == handlers_.end()) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
    if (it->second.resume_ns) --paused_;
    handlers_.erase(it);
    idle_.wait(lock, [&] { return running_id_ != id; });
}

// Adds this thread's CPU time since *cpu (the previous event, or waking up)
// to h's counter.
void IoThread::charge(Handler& h, uint64_t* cpu) {
    const uint64_t c = this_thread_cpu_ns();
    if (h.cpu_ns) h.cpu_ns->fetch_add(c - *cpu, std::memory_order_relaxed);
    *cpu = c;
}

int IoThread::resume_due(int64_t now) {
    // Called after every wake-up: with thousands of VMs a walk of every
    // handler each time would cost more than the events themselves.
    if (paused_ == 0) return -1;
    int64_t next = 0;
    for (auto& [id, h] : handlers_) {
        if (!h.resume_ns) continue;
        if (h.resume_ns <= now) {
            // Level-triggered: a doorbell rung during the pause fires now.
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = static_cast<uint64_t>(id);
            epoll_ctl(epfd_, EPOLL_CTL_MOD, h.fd, &ev);
            h.resume_ns = 0;
            --paused_;
        } else if (!next || h.resume_ns < next) {
            next = h.resume_ns;
        }
    }
    return next ? static_cast<int>((next - now + 999999) / 1000000) : -1;
}

void IoThread::loop() {
    epoll_event evs[64];
    int timeout_ms = -1;
    uint64_t cpu = this_thread_cpu_ns();
    for (;;) {
        const int n = epoll_wait(epfd_, evs, 64, timeout_ms);
        // This thread may have started before the process was sandboxed:
        // its own filter goes on at the first wake-up after that, before
        // any guest's doorbell is served.
        (void)sandbox_thread(ThreadKind::kIo);
        const int64_t now = mono_ns();
        for (int i = 0; i < n; ++i) {
            const auto id = static_cast<int64_t>(evs[i].data.u64);
            std::function<void()> fn;
            {
                std::lock_guard lock(mu_);
                auto it = handlers_.find(id);
                if (it == handlers_.end()) continue;
                Handler& h = it->second;
                if (h.last_run_ns && now - h.last_run_ns < kMinIntervalNs) {
                    // Too soon after the last call: stop watching fd until
                    // the interval is over (the signal stays pending).
                    epoll_event ev{};
                    ev.data.u64 = static_cast<uint64_t>(id);
                    epoll_ctl(epfd_, EPOLL_CTL_MOD, h.fd, &ev);
                    h.resume_ns = h.last_run_ns + kMinIntervalNs;
                    ++paused_;
                    charge(h, &cpu);
                    continue;
                }
                uint64_t v;
                (void)!::read(h.fd, &v, sizeof v);
                h.last_run_ns = now;
                fn = h.fn;
                running_id_ = id;
            }
            fn();
            {
                std::lock_guard lock(mu_);
                running_id_ = 0;
                // Under mu_: once remove() returns, the counter may be gone.
                if (auto it = handlers_.find(id); it != handlers_.end()) charge(it->second, &cpu);
            }
            idle_.notify_all();
        }
        std::lock_guard lock(mu_);
        timeout_ms = resume_due(mono_ns());
        cpu = this_thread_cpu_ns();  // re-enabling and idle polls are nobody's
    }
}

}  // namespace ember
