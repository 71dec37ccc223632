#include "platform/log_hub.h"

#include <algorithm>
#include <chrono>

namespace ember::platform {

namespace {
int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
}  // namespace

void LogHub::append(const std::string& service, const std::string& instance,
                    const std::string& stream, std::string text) {
    std::lock_guard lock(mu_);
    Ring& r = rings_[service];
    LogRecord rec{next_seq_++, unix_ms(), instance, stream, std::move(text)};
    r.bytes += rec.text.size() + rec.instance.size() + 32;
    r.lines.push_back(std::move(rec));
    while (r.bytes > max_bytes_ && r.lines.size() > 1) {
        const auto& f = r.lines.front();
        r.bytes -= f.text.size() + f.instance.size() + 32;
        r.lines.pop_front();
    }
}

std::vector<LogRecord> LogHub::read(const std::string& service, uint64_t after, size_t max,
                                    const std::string& instance) const {
    std::lock_guard lock(mu_);
    std::vector<LogRecord> out;
    auto it = rings_.find(service);
    if (it == rings_.end()) return out;
    const auto& lines = it->second.lines;
    // Sequence numbers increase along the deque: skip to the first > after.
    auto pos = std::upper_bound(lines.begin(), lines.end(), after,
                                [](uint64_t a, const LogRecord& r) { return a < r.seq; });
    for (; pos != lines.end() && out.size() < max; ++pos)
        if (instance.empty() || pos->instance == instance) out.push_back(*pos);
    return out;
}

void LogHub::drop(const std::string& service) {
    std::lock_guard lock(mu_);
    rings_.erase(service);
}

void LineAssembler::feed(int fd, const char* data, size_t len) {
    const int k = fd == 2 ? 1 : 0;
    for (size_t i = 0; i < len; ++i) {
        if (data[i] == '\n') {
            emit(k);
        } else {
            partial_[k] += data[i];
            if (partial_[k].size() >= kMaxLine) emit(k);
        }
    }
}

void LineAssembler::flush() {
    for (int k = 0; k < 2; ++k)
        if (!partial_[k].empty()) emit(k);
}

void LineAssembler::emit(int k) {
    hub_.append(service_, instance_, k ? "stderr" : "stdout", std::move(partial_[k]));
    partial_[k].clear();
}

}  // namespace ember::platform
