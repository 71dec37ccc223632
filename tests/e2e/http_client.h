// http_client.h - a small blocking HTTP/1.1 client for the end-to-end tests
// (Beast inside http_client.cpp only), plus raw-socket helpers for tests that
// misbehave on purpose.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ember::e2e {

struct HttpResponse {
    int status = 0;                              // 0: no response (see error)
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string error;
    double ms = 0;  // connect to complete response

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? "" : it->second;
    }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a new connection to 127.0.0.1:port.
HttpResponse http_request(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = "", const Headers& headers = {},
                          int timeout_ms = 30000);

// A connected TCP socket to 127.0.0.1:port, or -1.
int connect_to(uint16_t port);
// Sends raw bytes; false on error.
bool send_all(int fd, const std::string& data);
// Reads until EOF or timeout; returns what arrived.
std::string read_until_close(int fd, int timeout_ms);
// Reads until `needle` has arrived, the peer closes, or timeout_ms passed.
std::string read_until_contains(int fd, const std::string& needle, int timeout_ms);

}  // namespace ember::e2e
