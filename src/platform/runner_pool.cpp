#include "platform/runner_pool.h"

namespace ember::platform {

RunnerPool::~RunnerPool() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    std::unique_lock lock(mu_);
    exited_.wait(lock, [&] { return threads_ == 0; });
}

void RunnerPool::run(std::function<void()> job) {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    if (idle_ >= jobs_.size()) {
        cv_.notify_one();
        return;
    }
    ++threads_;
    std::thread([this] { loop(); }).detach();
}

void RunnerPool::prestart(size_t n) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < n; ++i) {
        ++threads_;
        std::thread([this] { loop(); }).detach();
    }
}

void RunnerPool::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        ++idle_;
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) break;  // stopping
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();
        job = nullptr;
        lock.lock();
        if (idle_ >= max_idle_ && jobs_.empty()) break;  // enough threads wait already
    }
    --threads_;
    exited_.notify_all();
}

}  // namespace ember::platform
