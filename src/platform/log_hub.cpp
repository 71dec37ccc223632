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
// Length of the valid UTF-8 sequence at s[i], or 0 when there is none; *bad
// is then the length of the maximal invalid prefix to replace (at least 1).
size_t utf8_sequence(const std::string& s, size_t i, size_t* bad) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;  // overlong
        if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;  // overlong
        if (c == 0xF4) hi = 0x8F;  // over U+10FFFF
    } else {
        *bad = 1;
        return 0;
    }
    size_t k = 1;
    for (; k < len && i + k < s.size(); ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
    }
    if (k == len) return len;
    *bad = k;
    return 0;
}

}  // namespace

std::string valid_utf8(std::string s) {
    size_t i = 0;
    while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
    if (i == s.size()) return s;  // ASCII, the common case
    std::string out = s.substr(0, i);
    out.reserve(s.size() + 16);
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            out += s[i++];
            continue;
        }
        size_t bad = 0;
        if (const size_t n = utf8_sequence(s, i, &bad); n > 0) {
            out.append(s, i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD
            i += bad;
        }
    }
    return out;
}

void LogHub::append(const std::string& service, const std::string& instance,
                    const std::string& stream, std::string text) {
    text = valid_utf8(std::move(text));
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
