// cxx_threads.cpp - C++ std::thread, std::async, mutex, condition_variable
// and atomics; the same output natively and in ember-vm.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <numeric>
#include <queue>
#include <thread>
#include <vector>

int main() {
    std::vector<std::thread> workers;
    std::vector<long> partial(4);
    for (int i = 0; i < 4; ++i)
        workers.emplace_back([i, &partial] {
            long s = 0;
            for (long k = i * 250000; k < (i + 1) * 250000; ++k) s += k;
            partial[i] = s;
        });
    for (auto& t : workers) t.join();
    std::printf("sum: %ld\n", std::accumulate(partial.begin(), partial.end(), 0L));

    auto f1 = std::async(std::launch::async, [] { return 6 * 7; });
    auto f2 = std::async(std::launch::async, [] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return std::string("async done");
    });
    std::printf("%d %s\n", f1.get(), f2.get().c_str());

    std::mutex mu;
    std::condition_variable cv;
    std::queue<int> q;
    bool closed = false;
    std::atomic<long> got{0};
    std::thread consumer([&] {
        for (;;) {
            std::unique_lock<std::mutex> lk(mu);
            cv.wait(lk, [&] { return !q.empty() || closed; });
            if (q.empty()) return;
            got += q.front();
            q.pop();
        }
    });
    for (int i = 1; i <= 1000; ++i) {
        std::lock_guard<std::mutex> lk(mu);
        q.push(i);
        cv.notify_one();
    }
    {
        std::lock_guard<std::mutex> lk(mu);
        closed = true;
    }
    cv.notify_all();
    consumer.join();
    std::printf("queue total: %ld\n", got.load());

    std::promise<int> p;
    auto fut = p.get_future();
    std::thread setter([&p] { p.set_value(99); });
    std::printf("promise: %d\n", fut.get());
    setter.join();
    std::printf("hardware_concurrency > 0: %d\n", std::thread::hardware_concurrency() > 0);
    return 0;
}
