#include "vmm/io_thread.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <thread>

namespace ember {

IoThread& IoThread::instance() {
    static IoThread* t = new IoThread();  // lives until exit
    return *t;
}

IoThread::IoThread() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    std::thread([this] { loop(); }).detach();
}

int64_t IoThread::add(int fd, std::function<void()> fn) {
    if (epfd_ < 0) return -1;
    std::lock_guard lock(mu_);
    const int64_t id = next_id_++;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(id);
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
    handlers_[id] = {fd, std::move(fn)};
    return id;
}

void IoThread::remove(int64_t id) {
    std::unique_lock lock(mu_);
    auto it = handlers_.find(id);
    if (it == handlers_.end()) return;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.first, nullptr);
    handlers_.erase(it);
    idle_.wait(lock, [&] { return running_id_ != id; });
}

void IoThread::loop() {
    epoll_event evs[64];
    for (;;) {
        const int n = epoll_wait(epfd_, evs, 64, -1);
        for (int i = 0; i < n; ++i) {
            const auto id = static_cast<int64_t>(evs[i].data.u64);
            std::function<void()> fn;
            {
                std::lock_guard lock(mu_);
                auto it = handlers_.find(id);
                if (it == handlers_.end()) continue;
                uint64_t v;
                (void)!::read(it->second.first, &v, sizeof v);
                fn = it->second.second;
                running_id_ = id;
            }
            fn();
            {
                std::lock_guard lock(mu_);
                running_id_ = 0;
            }
            idle_.notify_all();
        }
    }
}

}  // namespace ember
