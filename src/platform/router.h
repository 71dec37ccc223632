// router.h - which service a gateway request is for:
//   Host: <name>.<domain>[:port]   -> <name>, target unchanged
//   /<name>/rest?query             -> <name>, target "/rest?query"
// Host routing wins when the Host header names a service.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember::platform {

struct Route {
    std::string service;
    std::string target;  // what the instance sees
    bool by_host = false;
};

// domain is lower-case without a leading dot, e.g. "localhost".
std::optional<Route> route_request(std::string_view host, std::string_view target,
                                   std::string_view domain);

}  // namespace ember::platform
