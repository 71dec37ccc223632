// http_call.h - one blocking HTTP/1.1 request on a fresh connection with a
// deadline: what the etcd client and the node-to-node calls (image pulls)
// need. Beast stays in http_call.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ember::platform::cluster {

struct HttpReply {
    int status = 0;
    std::string body;
};

// Status::unavailable when host:port cannot be reached or does not answer
// within timeout_ms; resource_exhausted when the body exceeds max_body.
// authorization, when not empty, is the Authorization header's value
// ("Bearer <token>" for a peer node, etcd's bare auth token for etcd).
Result<HttpReply> http_call(const std::string& method, const std::string& host, uint16_t port,
                            const std::string& target, const std::string& body,
                            const std::string& authorization, int timeout_ms,
                            uint64_t max_body = 64ull << 20);

}  // namespace ember::platform::cluster
