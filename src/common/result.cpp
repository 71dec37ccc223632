#include "common/result.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember {

const char* code_name(Code code) {
    switch (code) {
        case Code::kOk:
            return "ok";
        case Code::kInvalidArgument:
            return "invalid_argument";
        case Code::kNotFound:
            return "not_found";
        case Code::kCorruption:
            return "corruption";
        case Code::kUnsupported:
            return "unsupported";
        case Code::kConflict:
            return "conflict";
        case Code::kResourceExhausted:
            return "resource_exhausted";
        case Code::kUnavailable:
            return "unavailable";
        case Code::kTimeout:
            return "timeout";
        case Code::kAborted:
            return "aborted";
        case Code::kIOError:
            return "io_error";
        case Code::kInternal:
            return "internal";
    }
    return "internal";
}

// Ember validates its callers' input before making a system call, so an
// EINVAL, EFAULT or EBADF from the kernel means Ember's own call was wrong:
// those, and anything not listed, are kInternal.
Code code_of_errno(int err) {
    switch (err) {
        case ENOENT:
        case ENOTDIR:
            return Code::kNotFound;
        case ENAMETOOLONG:
        case EISDIR:
            return Code::kInvalidArgument;
        case EEXIST:
        case ENOTEMPTY:
        case EADDRINUSE:
            return Code::kConflict;
        case ENOMEM:
        case EMFILE:
        case ENFILE:
        case ENOSPC:
        case EDQUOT:
        case EFBIG:
            return Code::kResourceExhausted;
        case EAGAIN:
        case EBUSY:
        case ECONNREFUSED:
        case ECONNRESET:
        case EHOSTUNREACH:
        case ENETUNREACH:
            return Code::kUnavailable;
        case ETIMEDOUT:
            return Code::kTimeout;
        case EACCES:
        case EPERM:
        case EROFS:
        case EIO:
        case EPIPE:
            return Code::kIOError;
        default:
            return Code::kInternal;
    }
}

Status Status::from_errno(const std::string& what, int err) {
    return Status(code_of_errno(err), what + ": " + std::strerror(err));
}

void check_failed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "ember: internal check failed: %s at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace ember
