// http_error.h - failures as the control API and the gateway report them:
// an HTTP status and the JSON body {"error": {"code": "...", "message":
// "..."}}. An operation's failure is a Status: its code names the error
// (code_name) and gives the HTTP status through the one mapping below. A
// failure of the HTTP exchange itself (no token, wrong method, malformed or
// oversize request, an upstream that broke) has no Status; it uses one of
// the fixed errors below, so both servers use the same strings.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"

namespace ember::platform {

// kOk -> 200; kInvalidArgument/kCorruption/kUnsupported -> 400; ...
int http_status_of(Code code);

struct HttpError {
    int status;
    const char* code;
};

inline constexpr HttpError kBadRequest{400, "bad_request"};  // not parseable as HTTP
inline constexpr HttpError kInvalidJson{400, "invalid_json"};
inline constexpr HttpError kUnauthorized{401, "unauthorized"};
inline constexpr HttpError kMethodNotAllowed{405, "method_not_allowed"};
inline constexpr HttpError kPayloadTooLarge{413, "payload_too_large"};
inline constexpr HttpError kHeadersTooLarge{431, "bad_request"};
inline constexpr HttpError kBadGateway{502, "bad_gateway"};  // the instance failed mid-request

// A failed operation as an HttpError: {http_status_of(code), code_name(code)}.
inline HttpError http_error(Code code) { return {http_status_of(code), code_name(code)}; }

// {"error": {"code": code, "message": message}}.
nlohmann::json error_json(std::string_view code, std::string_view message);

// j as JSON text (indent < 0: one line). Strings that are not valid UTF-8
// (a guest's console output in a message, user input cut mid-character)
// have each bad sequence replaced by U+FFFD instead of making dump() throw:
// every body the API and the gateway write is valid JSON, whatever the bytes.
std::string json_text(const nlohmann::json& j, int indent = -1);

}  // namespace ember::platform
