// io_thread.h - one process-wide thread that serves ioeventfd doorbells:
// the guest rings a doorbell port (handled in the host kernel, no userspace
// exit) and this thread runs the VMM's handler, e.g. to drain the console
// ring while the guest keeps running.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace ember {

class IoThread {
public:
    static IoThread& instance();
    // Calls fn on the I/O thread whenever eventfd `fd` is signalled. The
    // caller keeps ownership of fd. Returns an id for remove(), or -1.
    int64_t add(int fd, std::function<void()> fn);
    // After remove() returns, fn is not running and will not run again.
    void remove(int64_t id);

private:
    IoThread();
    void loop();

    int epfd_ = -1;
    std::mutex mu_;
    std::condition_variable idle_;
    std::map<int64_t, std::pair<int, std::function<void()>>> handlers_;
    int64_t next_id_ = 1;
    int64_t running_id_ = 0;  // handler being run, 0 if none
};

}  // namespace ember
