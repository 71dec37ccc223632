#include "platform/console.h"

#include <strings.h>

#include <cstring>

#include "platform/console_assets.h"

namespace ember::platform {

namespace {

// The page loads only its own files and talks only to its own origin; no
// inline script or style, no framing.
constexpr const char* kPageCsp =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

const char* content_type(const std::string& name) {
    const auto ends = [&](const char* ext) {
        const size_t n = std::strlen(ext);
        return name.size() >= n && name.compare(name.size() - n, n, ext) == 0;
    };
    if (ends(".html")) return "text/html; charset=utf-8";
    if (ends(".css")) return "text/css; charset=utf-8";
    if (ends(".js")) return "text/javascript; charset=utf-8";
    if (ends(".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

void set_default(ApiResponse* r, const std::string& key, const std::string& value) {
    for (const auto& [k, v] : r->headers)
        if (strcasecmp(k.c_str(), key.c_str()) == 0) return;
    r->headers.emplace_back(key, value);
}

}  // namespace

bool is_console_path(const std::string& path) {
    return path == "/" || path.rfind("/console/", 0) == 0;
}

std::optional<ApiResponse> console_response(const std::string& method, const std::string& path) {
    if (!is_console_path(path)) return std::nullopt;
    ApiResponse r;
    r.headers = {{"Content-Security-Policy", kPageCsp},
                 {"X-Content-Type-Options", "nosniff"},
                 {"X-Frame-Options", "DENY"},
                 {"Referrer-Policy", "no-referrer"},
                 // Revalidated at every load: a new emberd serves its own files.
                 {"Cache-Control", "no-cache"}};
    if (method != "GET") {
        r = Api::error(kMethodNotAllowed, "the console's files: use GET");
        add_api_headers(&r);
        return r;
    }
    const std::string name = path == "/" ? "index.html" : path.substr(std::strlen("/console/"));
    for (size_t i = 0; i < kConsoleAssetCount; ++i) {
        const ConsoleAsset& a = kConsoleAssets[i];
        if (name != a.name) continue;
        r.content_type = content_type(name);
        r.body.assign(reinterpret_cast<const char*>(a.data), a.size);
        return r;
    }
    r = Api::error(Status::not_found("the console has no file '" + name.substr(0, 80) + "'"));
    add_api_headers(&r);
    return r;
}

void add_api_headers(ApiResponse* r) {
    set_default(r, "Cache-Control", "no-store");
    set_default(r, "X-Content-Type-Options", "nosniff");
    set_default(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    set_default(r, "Referrer-Policy", "no-referrer");
}

}  // namespace ember::platform
