// result.h - Ember's error type for host code: a Status with a message, and
// Result<T> = a value or a Status. No exceptions cross module boundaries.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace ember {

class [[nodiscard]] Status {
public:
    Status() = default;
    static Status ok() { return Status(); }
    static Status error(std::string msg) { return Status(std::move(msg)); }
    // "what: strerror(errno)"; errno is read at the call.
    static Status from_errno(const std::string& what) {
        return Status(what + ": " + std::strerror(errno));
    }
    bool is_ok() const { return !failed_; }
    explicit operator bool() const { return !failed_; }
    const std::string& message() const { return msg_; }

private:
    explicit Status(std::string msg) : failed_(true), msg_(std::move(msg)) {}
    bool failed_ = false;
    std::string msg_;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Status s) : v_(std::move(s)) {}
    bool is_ok() const { return v_.index() == 0; }
    explicit operator bool() const { return is_ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const Status& status() const { return std::get<1>(v_); }
    const std::string& message() const { return status().message(); }

private:
    std::variant<T, Status> v_;
};

// Aborts the process when an invariant of the host code is broken; never
// compiled out (unlike assert).
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
#define EMBER_CHECK(cond) \
    do { \
        if (!(cond)) ::ember::check_failed(#cond, __FILE__, __LINE__); \
    } while (0)

}  // namespace ember
