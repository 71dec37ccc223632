// log_hub.h - the console output of every instance (and of the boot that
// prepared its snapshot), kept in memory per service as numbered lines,
// bounded in bytes; readers follow by asking for lines after a sequence
// number. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ember::platform {

struct LogRecord {
    uint64_t seq = 0;      // increasing across all services
    int64_t time_ms = 0;   // unix milliseconds
    std::string instance;  // "i-12", or "prepare" for the deploy boot
    std::string stream;    // "stdout", "stderr" or "ember" (the platform's own notes)
    std::string text;      // one line, without the newline; valid UTF-8
};

class LogHub {
  public:
    // Lines are stored as valid_utf8(text).
    explicit LogHub(size_t max_bytes_per_service = 1 << 20) : max_bytes_(max_bytes_per_service) {}

    void append(const std::string& service, const std::string& instance, const std::string& stream,
                std::string text);
    // Lines of service with seq > after, oldest first, at most max; instance
    // "" means all instances.
    std::vector<LogRecord> read(const std::string& service, uint64_t after, size_t max,
                                const std::string& instance = "") const;
    void drop(const std::string& service);

  private:
    struct Ring {
        std::deque<LogRecord> lines;
        size_t bytes = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, Ring> rings_;
    uint64_t next_seq_ = 1;
    size_t max_bytes_;
};

// s with every sequence that is not valid UTF-8 (stray bytes, truncated,
// overlong or surrogate encodings, code points over U+10FFFF) replaced by
// U+FFFD, as a browser decodes it. Console output is arbitrary bytes; logs
// are served as UTF-8 text and JSON.
std::string valid_utf8(std::string s);

// Cuts console output (arbitrary chunks from fd 1 and 2) into lines. Not
// thread-safe: one per instance, fed from its vCPU thread.
class LineAssembler {
  public:
    LineAssembler(LogHub& hub, std::string service, std::string instance)
        : hub_(hub), service_(std::move(service)), instance_(std::move(instance)) {}
    void feed(int fd, const char* data, size_t len);
    void flush();  // emits unterminated lines

    static constexpr size_t kMaxLine = 4096;

  private:
    void emit(int fd);
    LogHub& hub_;
    std::string service_, instance_;
    std::string partial_[2];  // stdout, stderr
};

}  // namespace ember::platform
