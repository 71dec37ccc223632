// gateway_tls.cpp - the gateway's TLS contexts (see gateway_tls.h).
#include "platform/gateway_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

namespace ember::platform {

namespace ssl = boost::asio::ssl;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// The DNS names a certificate is for: subjectAltName, else the CN.
std::vector<std::string> cert_names(SSL_CTX* ctx) {
    std::vector<std::string> out;
    X509* cert = SSL_CTX_get0_certificate(ctx);
    if (!cert) return out;
    auto* sans =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type != GEN_DNS) continue;
            const auto* s = n->d.dNSName;
            out.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                            static_cast<size_t>(ASN1_STRING_length(s)))));
        }
        GENERAL_NAMES_free(sans);
    }
    if (out.empty()) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) >
            0)
            out.push_back(lower(cn));
    }
    return out;
}

std::string openssl_error() {
    char buf[256];
    const unsigned long e = ERR_get_error();
    if (!e) return "unknown error";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

// ALPN: HTTP/2 when the client offers it, else HTTP/1.1 when it offers
// that; otherwise no ALPN at all.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    static const unsigned char kProtos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* sel = nullptr;
    if (SSL_select_next_proto(&sel, outlen, kProtos, sizeof kProtos, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int select_cert(SSL* s, int*, void* arg) {
    const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;
    const auto* tls = static_cast<const TlsContext*>(arg);
    if (const TlsContext::Entry* e = tls->find(lower(name)))
        SSL_set_SSL_CTX(s, e->ctx->native_handle());
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

const TlsContext::Entry* TlsContext::find(const std::string& name) const {
    for (const Entry& e : entries_)
        for (const std::string& n : e.names)
            if (n == name) return &e;
    const auto dot = name.find('.');
    if (dot == std::string::npos) return nullptr;
    const std::string wild = "*" + name.substr(dot);
    for (const Entry& e : entries_)
        for (const std::string& n : e.names)
            if (n == wild) return &e;
    return nullptr;
}

std::vector<std::vector<std::string>> TlsContext::names() const {
    std::vector<std::vector<std::string>> out;
    for (const Entry& e : entries_) out.push_back(e.names);
    return out;
}

Result<std::shared_ptr<TlsContext>> make_tls_context(
    const std::vector<GatewayOptions::TlsCert>& certs) {
    if (certs.empty()) return Status::invalid_argument("tls: no certificate");
    auto tls = std::make_shared<TlsContext>();
    for (size_t i = 0; i < certs.size(); ++i) {
        const std::string which = "tls: certificate " + std::to_string(i + 1) + ": ";
        auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
        ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
        boost::system::error_code ec;
        ctx->use_certificate_chain(boost::asio::buffer(certs[i].cert_pem), ec);
        if (ec)
            return Status::invalid_argument(which + "not a PEM certificate chain: " + ec.message());
        ctx->use_private_key(boost::asio::buffer(certs[i].key_pem), ssl::context::pem, ec);
        if (ec) return Status::invalid_argument(which + "not a PEM private key: " + ec.message());
        if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
            return Status::invalid_argument(which + "the key does not match the certificate (" +
                                            openssl_error() + ")");
        SSL_CTX_set_alpn_select_cb(ctx->native_handle(), select_alpn, nullptr);
        TlsContext::Entry e;
        e.names = cert_names(ctx->native_handle());
        e.ctx = std::move(ctx);
        tls->entries_.push_back(std::move(e));
    }
    SSL_CTX* first = tls->entries_.front().ctx->native_handle();
    SSL_CTX_set_tlsext_servername_callback(first, select_cert);
    SSL_CTX_set_tlsext_servername_arg(first, tls.get());
    return tls;
}

}  // namespace ember::platform
