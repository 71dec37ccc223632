// gateway_tls.h - HTTPS at the gateway: one OpenSSL context per certificate
// (through Boost.Asio's SSL), the one a client gets chosen by the name it
// sends (SNI): an exact name of the certificate (its subjectAltName DNS
// names, or its CN when it has none), else a wildcard "*.example.com"
// matching one label, else the first certificate. ALPN answers "h2" when
// the client offers it (gateway_h2.h), else "http/1.1"; a client that
// offers neither gets no ALPN answer and speaks HTTP/1.1. TLS 1.2 and 1.3.
//
// Built in the gateway process before it enters its sandbox, from PEM text
// emberd read and sent (the key files are never opened by the gateway, and
// the VM workers never see them).
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange
// clang-format on
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <vector>

#include "platform/http_servers.h"

namespace ember::platform {

class TlsContext {
  public:
    // The context new connections start with (the first certificate's);
    // SNI switches a connection to another.
    boost::asio::ssl::context& context() { return *entries_.front().ctx; }
    // The certificate's names by certificate, for the start-up log.
    std::vector<std::vector<std::string>> names() const;

    struct Entry {
        std::unique_ptr<boost::asio::ssl::context> ctx;
        std::vector<std::string> names;  // lower-case; "*.example.com" for wildcards
    };
    // The entry for an SNI name (lower-cased by the caller), or nullptr.
    const Entry* find(const std::string& name) const;

  private:
    friend Result<std::shared_ptr<TlsContext>> make_tls_context(
        const std::vector<GatewayOptions::TlsCert>& certs);
    std::vector<Entry> entries_;
};

}  // namespace ember::platform
