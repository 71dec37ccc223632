#include "platform/runner_pool.h"

#include <chrono>
#include <system_error>

namespace ember::platform {

RunnerPool::~RunnerPool() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    spawn_cv_.notify_all();
    std::unique_lock lock(mu_);
    exited_.wait(lock, [&] { return threads_ == 0; });
}

bool RunnerPool::start_thread(bool spawned) {
    ++threads_;
    try {
        std::thread([this, spawned] { loop(spawned); }).detach();
        return true;
    } catch (const std::system_error&) {
        --threads_;  // out of threads: the job waits for a running one
        return false;
    }
}

void RunnerPool::run(std::function<void()> job) {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    if (idle_ >= jobs_.size()) {
        cv_.notify_one();
        return;
    }
    if (spawn_from_runners_)
        spawn_cv_.notify_one();
    else
        start_thread(false);
}

void RunnerPool::prestart(size_t n) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < n; ++i) start_thread(false);
    if (spawn_from_runners_ && !spawner_started_) {
        spawner_started_ = true;
        ++threads_;
        std::thread([this] { spawn_loop(); }).detach();
    }
}

// Starts a thread for every job no idle thread will take.
void RunnerPool::spawn_loop() {
    if (on_start_) on_start_();
    std::unique_lock lock(mu_);
    for (;;) {
        spawn_cv_.wait(lock, [&] { return stopping_ || jobs_.size() > idle_ + starting_; });
        if (stopping_) break;
        ++starting_;
        if (!start_thread(true)) {
            --starting_;
            spawn_cv_.wait_for(lock, std::chrono::milliseconds(10));
        }
    }
    --threads_;
    exited_.notify_all();
}

void RunnerPool::loop(bool spawned) {
    if (on_start_) on_start_();
    std::unique_lock lock(mu_);
    if (spawned) --starting_;
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
