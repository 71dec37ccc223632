// console.h - the web console's static files, served by the control API's
// server at / and /console/<file> without a token (they hold no data: every
// call the page makes to /v1/... carries the token the operator typed), and
// the security headers of every API answer.
#pragma once

#include <optional>
#include <string>

#include "platform/api.h"

namespace ember::platform {

// Whether the path (no query) is one of the console's: "/", "/console/...".
bool is_console_path(const std::string& path);

// The answer for a console path: the file with its type and headers, 404
// for a file the console does not have, 405 for a method other than GET; nullopt when path is not
// the console's.
std::optional<ApiResponse> console_response(const std::string& method, const std::string& path);

// Adds the headers every API answer carries (no caching of data, no
// sniffing, no framing, a CSP that lets an answer load nothing), each
// unless the response already sets it.
void add_api_headers(ApiResponse* r);

}  // namespace ember::platform
