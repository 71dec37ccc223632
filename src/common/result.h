// result.h - Ember's error type for host code: a Status with a code and a
// message, and Result<T> = a value or a Status. No exceptions cross module
// boundaries. The code says what kind of failure it is, so that callers can
// map it to an exit status or an HTTP status without parsing the message.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace ember {

// A small set, like LevelDB's: each code is a distinct answer to "whose
// fault, and can it work later?". The names (code_name) are also the "code"
// strings of the control API's and the gateway's JSON errors.
enum class Code {
    kOk,
    kInvalidArgument,    // the caller's input is wrong: a flag, a spec, a request
    kNotFound,           // a named file, service or image does not exist
    kCorruption,         // data read is malformed: an ELF, a snapshot, an archive
    kUnsupported,        // well-formed, but not something Ember can do
    kConflict,           // the thing already exists or is in use
    kResourceExhausted,  // out of memory, file descriptors or another limit
    kUnavailable,        // cannot be done now: no KVM, an upstream is down
    kTimeout,            // a deadline passed
    kAborted,            // the work ran and failed: the guest program exited or crashed
    kIOError,            // the host failed to read or write
    kInternal,           // a host failure that is nobody's input: an ioctl, a bug
};

// "invalid_argument", "not_found", ... (stable: clients see them).
const char* code_name(Code code);

class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}
    static Status ok() { return Status(); }
    static Status invalid_argument(std::string msg) {
        return {Code::kInvalidArgument, std::move(msg)};
    }
    static Status not_found(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
    static Status corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
    static Status unsupported(std::string msg) { return {Code::kUnsupported, std::move(msg)}; }
    static Status conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
    static Status resource_exhausted(std::string msg) {
        return {Code::kResourceExhausted, std::move(msg)};
    }
    static Status unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
    static Status timeout(std::string msg) { return {Code::kTimeout, std::move(msg)}; }
    static Status aborted(std::string msg) { return {Code::kAborted, std::move(msg)}; }
    static Status io_error(std::string msg) { return {Code::kIOError, std::move(msg)}; }
    static Status internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
    // "what: strerror(errno)", with the code errno maps to (code_of_errno);
    // errno is read at the call.
    static Status from_errno(const std::string& what) { return from_errno(what, errno); }
    static Status from_errno(const std::string& what, int err);

    bool is_ok() const { return code_ == Code::kOk; }
    explicit operator bool() const { return is_ok(); }
    Code code() const { return code_; }
    const std::string& message() const { return msg_; }

  private:
    Code code_ = Code::kOk;
    std::string msg_;
};

// The one place where errno values become codes.
Code code_of_errno(int err);

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
    Code code() const { return is_ok() ? Code::kOk : status().code(); }
    const std::string& message() const { return status().message(); }

  private:
    std::variant<T, Status> v_;
};

// Aborts the process when an invariant of the host code is broken; never
// compiled out (unlike assert).
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
#define EMBER_CHECK(cond)                                              \
    do {                                                               \
        if (!(cond)) ::ember::check_failed(#cond, __FILE__, __LINE__); \
    } while (0)

}  // namespace ember
