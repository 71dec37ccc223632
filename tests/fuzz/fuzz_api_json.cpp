// libFuzzer entry point for the control API's JSON: a service spec in a
// request body, parsed as the API does (src/platform/api.cpp) and checked
// by src/platform/service_spec.cpp. Input: u8 method (POST, PUT or PATCH),
// u8 n, n bytes of service name from the URL (PUT, PATCH), then the body.
//
// Besides crashes, sanitizer reports and exceptions, it fails when an
// accepted spec breaks validate_spec, does not survive its own JSON
// (spec_to_json, as GET returns it and PUT takes it back), or when a PATCH
// changes a field that needs a new snapshot; and when an error has no
// message or its body (json_text) is not JSON.
#include <stddef.h>
#include <stdint.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "platform/http_error.h"
#include "platform/service_spec.h"

using namespace ember;
using namespace ember::platform;
using nlohmann::json;

namespace {

// An error body as the API writes it (Api::error): it must be JSON whatever
// bytes of the request the message quotes.
void render_error(std::string_view code, const std::string& message) {
    FUZZ_CHECK(!message.empty());
    FUZZ_CHECK(json::accept(json_text(error_json(code, message), 2)));
}
void render_error(const Status& st) {
    FUZZ_CHECK(!st.is_ok());
    render_error(code_name(st.code()), st.message());
}

// The deployed spec a PATCH applies to.
ServiceSpec base_spec() {
    ServiceSpec s;
    s.name = "svc";
    s.image = std::string(64, 'a');
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ember::fuzz::Input in(data, size);
    const uint8_t method = in.u8() % 3;
    size_t n;
    const uint8_t* name_bytes = in.bytes(in.u8(), &n);
    const std::string url_name =
        method == 0 ? "" : std::string(reinterpret_cast<const char*>(name_bytes), n);
    const std::string body = in.rest();

    if (!url_name.empty()) {
        if (Status st = validate_name(url_name); !st) {
            render_error(st);
            return 0;
        }
    }
    json j;
    try {
        j = json::parse(body);
    } catch (const json::exception& e) {
        render_error(kInvalidJson.code, std::string("malformed JSON: ") + e.what());
        return 0;
    }

    if (method == 2) {
        ServiceSpec spec = base_spec();
        const ServiceSpec before = spec;
        if (Status st = apply_patch(&spec, j); !st) {
            render_error(st);
            return 0;
        }
        FUZZ_CHECK(validate_spec(spec).is_ok() && !needs_new_snapshot(before, spec));
        return 0;
    }

    auto spec = spec_from_json(j, url_name);
    if (!spec) {
        render_error(spec.status());
        return 0;
    }
    FUZZ_CHECK(validate_spec(*spec).is_ok());
    FUZZ_CHECK(url_name.empty() || spec->name == url_name);
    const json out = spec_to_json(*spec);
    const std::string text = out.dump(2, ' ', false, json::error_handler_t::strict);
    auto again = spec_from_json(json::parse(text), spec->name);
    FUZZ_CHECK(again && spec_to_json(*again) == out && !needs_new_snapshot(*spec, *again));
    return 0;
}
