// gateway_protocol.h - the messages between the control plane and the
// gateway process over their ipc::Channel. Bodies are one-line JSON; the
// control plane does not trust the gateway (it parses untrusted client
// input), so every decode checks types and ranges and fails with corruption.
//
//   control plane -> gateway            gateway -> control plane
//   config    {options, sandbox}        ready     {sandbox: summary}
//   tls-cert  {cert, key} (one per certificate, right after config)
//   acquired  {r, t, info}              failed    {error}  (then exits)
//   info      {r, info}                 acquire   {r, service} + stream fd
//                                       reuse     {r, service, i: [ids]}
//   metrics   n                         info      {r, t}
//   finished  {r}                       finish    {r, t, kind}
//                                       metrics-part  raw text (several)
//                                       metrics-end   n (the scrape)
//
// r is the gateway's request number (its reply carries it back), t a
// ticket id, n a scrape's number (plain text; the parts before an end with
// an older number belong to a scrape that timed out).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "platform/gateway_backend.h"
#include "platform/http_servers.h"

namespace ember::platform::gateway_protocol {

inline constexpr const char* kConfig = "config";
inline constexpr const char* kTlsCert = "tls-cert";
inline constexpr const char* kReady = "ready";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kAcquire = "acquire";
inline constexpr const char* kAcquired = "acquired";  // the reply to acquire and reuse
inline constexpr const char* kReuse = "reuse";
inline constexpr const char* kInfo = "info";
inline constexpr const char* kFinish = "finish";
inline constexpr const char* kFinished = "finished";
inline constexpr const char* kMetrics = "metrics";
inline constexpr const char* kMetricsPart = "metrics-part";
inline constexpr const char* kMetricsEnd = "metrics-end";

struct Config {
    GatewayOptions options;  // its tls_certs go in tls-cert messages
    bool sandbox = true;
};
std::string encode_config(const Config& c);
// The certificates are empty; tls_certs is how many tls-cert messages follow
// (at most kMaxTlsCerts).
Result<Config> decode_config(const std::string& body, size_t* tls_certs);
inline constexpr size_t kMaxTlsCerts = 256;
std::string encode_tls_cert(const GatewayOptions::TlsCert& c);
Status decode_tls_cert(const std::string& body, GatewayOptions::TlsCert* c);

// acquire {r, service}
std::string encode_acquire(uint64_t r, const std::string& service);
Status decode_acquire(const std::string& body, uint64_t* r, std::string* service);
// reuse {r, service, i}: a request on one of the gateway's kept-alive
// streams to the instances i (at most kMaxReuseCandidates)
inline constexpr size_t kMaxReuseCandidates = 16;
std::string encode_reuse(uint64_t r, const std::string& service,
                         const std::vector<uint64_t>& instances);
Status decode_reuse(const std::string& body, uint64_t* r, std::string* service,
                    std::vector<uint64_t>* instances);
// acquired {r, t, info, stale}
std::string encode_acquired(uint64_t r, const Acquired& a);
Status decode_acquired(const std::string& body, uint64_t* r, Acquired* a);
// info (request) {r, t}
std::string encode_info_request(uint64_t r, TicketId t);
Status decode_info_request(const std::string& body, uint64_t* r, TicketId* t);
// info (reply) {r, info}
std::string encode_info_reply(uint64_t r, const TicketInfo& i);
Status decode_info_reply(const std::string& body, uint64_t* r, TicketInfo* i);
// finish {r, t, kind}
std::string encode_finish(uint64_t r, TicketId t, FinishKind kind);
Status decode_finish(const std::string& body, uint64_t* r, TicketId* t, FinishKind* kind);
// finished {r}
std::string encode_finished(uint64_t r);
Status decode_finished(const std::string& body, uint64_t* r);
// ready {sandbox} / failed {error}: one string field
std::string encode_text(const char* key, const std::string& text);
Status decode_text(const std::string& body, const char* key, std::string* text);

}  // namespace ember::platform::gateway_protocol
