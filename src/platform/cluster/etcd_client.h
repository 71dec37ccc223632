// etcd_client.h - a small etcd v3 client over etcd's JSON gRPC gateway
// (HTTP/1.1 POSTs to /v3/kv/*, /v3/lease/*, /v3/watch; keys and values are
// base64 in the JSON). etcd 3.4 (Debian 12) serves both /v3/ and the
// deprecated /v3beta/; this client uses /v3/. Beast stays in the .cpp.
//
// Every call opens its own connection with a deadline (control-plane calls
// are rare), trying the endpoints in order from the last one that answered.
// An endpoint that cannot be reached is Status::unavailable, so that
// callers can tell "etcd is down" from "etcd said no".
//
// With credentials (etcd's own user/password authentication, enabled with
// `etcdctl auth enable`), the client gets a token from /v3/auth/authenticate
// and sends it as the Authorization header of every call and watch; a token
// etcd no longer knows (its TTL ran out, etcd restarted) is renewed once and
// the call repeated. Wrong credentials are invalid_argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace ember::platform::cluster {

struct KeyValue {
    std::string key, value;
    int64_t create_revision = 0, mod_revision = 0;
    int64_t lease = 0;
};

struct WatchEvent {
    bool deleted = false;  // else a put
    KeyValue kv;           // for a delete only kv.key and kv.mod_revision
};

std::string base64_encode(const std::string& in);
// false on a character outside the alphabet or a bad length.
bool base64_decode(const std::string& in, std::string* out);

struct Endpoint {
    std::string host;
    uint16_t port = 0;
};
// "http://H:P[,http://H:P...]" (https is refused: not implemented).
Result<std::vector<Endpoint>> parse_endpoints(const std::string& urls);

// etcd user and password; an empty user: no authentication.
struct EtcdAuth {
    std::string user, password;
};

class EtcdClient {
  public:
    EtcdClient(std::vector<Endpoint> endpoints, int timeout_ms, EtcdAuth auth = {})
        : endpoints_(std::move(endpoints)), timeout_ms_(timeout_ms), auth_(std::move(auth)) {}

    // The store's revision after the write.
    Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);
    Result<std::optional<KeyValue>> get(const std::string& key);
    // Every key that starts with prefix, and the store's revision they are from.
    Result<std::vector<KeyValue>> get_prefix(const std::string& prefix, int64_t* revision);
    Result<int64_t> del(const std::string& key);  // how many keys went
    Result<int64_t> del_prefix(const std::string& prefix);
    // Compare-and-swap (a txn): puts value only when key's mod_revision is
    // expected_mod_revision (0: the key must not exist). The store's revision
    // after the write (the key's new mod_revision), or 0 when the key was
    // not at expected_mod_revision and nothing was written.
    Result<int64_t> put_if(const std::string& key, const std::string& value,
                           int64_t expected_mod_revision, int64_t lease = 0);

    Result<int64_t> lease_grant(int64_t ttl_s);  // the lease id
    // The lease's remaining TTL in seconds; 0 when it has expired (or never existed).
    Result<int64_t> lease_keepalive(int64_t id);
    Status lease_revoke(int64_t id);

    // Streams the events on keys under prefix from start_revision (0: from
    // now) to fn, until stop becomes true (checked at least every
    // poll_ms) or the connection fails. fn returning false also stops it.
    // Returns ok when stopped, unavailable when etcd went away, and
    // out-of-range (kNotFound) when start_revision was compacted.
    Status watch(const std::string& prefix, int64_t start_revision,
                 const std::function<bool(const std::vector<WatchEvent>&, int64_t revision)>& fn,
                 const std::atomic<bool>& stop, int poll_ms = 200);

    // One POST of a JSON body to path on the first endpoint that answers.
    Result<std::string> post(const std::string& path, const std::string& body);

  private:
    // post() without authentication's retry: authorization is the header.
    Result<std::string> post_any(const std::string& path, const std::string& body,
                                 const std::string& authorization);
    // The auth token ("" without credentials); renew: ask etcd for a new one.
    Result<std::string> token(bool renew);

    std::vector<Endpoint> endpoints_;
    int timeout_ms_;
    const EtcdAuth auth_;
    std::mutex mu_;
    size_t current_ = 0;  // the endpoint that answered last
    std::string token_;   // the last auth token etcd gave
};

// The end of a prefix range: prefix with its last byte incremented (etcd's
// range_end for "every key starting with prefix").
std::string prefix_end(const std::string& prefix);

}  // namespace ember::platform::cluster
