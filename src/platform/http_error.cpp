#include "platform/http_error.h"

namespace ember::platform {

int http_status_of(Code code) {
    switch (code) {
        case Code::kOk:
            return 200;
        case Code::kInvalidArgument:
        case Code::kCorruption:
        case Code::kUnsupported:
            return 400;
        case Code::kNotFound:
            return 404;
        case Code::kConflict:
            return 409;
        // The request was understood and tried: the guest program failed.
        case Code::kAborted:
            return 422;
        case Code::kResourceExhausted:
        case Code::kUnavailable:
            return 503;
        case Code::kTimeout:
            return 504;
        case Code::kIOError:
        case Code::kInternal:
            return 500;
    }
    return 500;
}

nlohmann::json error_json(std::string_view code, std::string_view message) {
    return {{"error", {{"code", code}, {"message", message}}}};
}

std::string json_text(const nlohmann::json& j, int indent) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ember::platform
