// ember_client.h - the ember CLI's HTTP side (Beast stays in
// ember_client.cpp): requests to emberd's API and gateway, the token lookup,
// and errors as exceptions that main() turns into one line and an exit
// status.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace ember::cli {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// Thrown by the commands; main() prints "ember: <message>" (when not empty).
struct Failure {
    int code;
    std::string message;
};
[[noreturn]] void throw_failure(const std::string& msg, int code = kExitError);

struct Global {
    std::string api = "http://127.0.0.1:8081";
    std::string token;
    std::string data_dir;
    std::string output = "table";
};

struct Endpoint {
    std::string host, port;
};
Endpoint parse_url(const std::string& url);  // "http://host:port[/...]"

struct HttpResult {
    unsigned status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection; connection errors throw_failure().
HttpResult request(const Endpoint& ep, const std::string& method, const std::string& target,
                   const std::string& token, const std::string& body,
                   const std::string& content_type, const std::string& host_header = "",
                   const Headers& extra = {});
// GET that hands the body to sink as it arrives (chunked log streams).
void stream_get(const Endpoint& ep, const std::string& target, const std::string& token,
                const std::function<void(const char*, size_t)>& sink);
// The API's error message in r, or "HTTP <status>".
std::string api_error(const HttpResult& r);

// The API with the token found by --token, $EMBER_TOKEN or DATA_DIR/token.
class Client {
  public:
    explicit Client(const Global& g);
    // A JSON call; a 4xx/5xx fails with the API's message (a deploy's program
    // output, after the first line, is printed indented on stderr).
    nlohmann::json call(const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::string& content_type = "application/json");
    const Endpoint& endpoint() const { return ep_; }
    const std::string& token() const { return token_; }

  private:
    Endpoint ep_;
    std::string token_;
};

}  // namespace ember::cli
