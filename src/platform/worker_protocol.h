// worker_protocol.h - the messages between emberd and its VM workers
// (worker_client.cpp is the parent's side, worker_main.cpp the worker's),
// over one ipc::Channel. Bodies are JSON objects, except console output
// (binary, it is the bulk). Ids are chosen by the parent, unique for the
// life of emberd: one space for prepares, opened snapshots and instances.
//
//   parent -> worker                      worker -> parent
//   prepare-fds {id} + fds (optional)
//   prepare {id, spec, dns} + fds         prepared {id, ok, error, pages, mem}
//   open {id, name, spec, dns} + snapshot fd  prepared {id, ...}
//   release {id}                          (a prepared snapshot no longer used)
//   restore {id, prepared}                restored {id, ok, error, reused,
//                                                   mem_base, mem_size}
//   adopt|post {id, port} + stream fd
//   run {id}                              end {id, stopped, description}
//   stop {id}, drop {id}
//   suspend {id} + file fd (rw)           end {..., suspended}
//   resume {id, prepared} + file fd (ro)  restored {id, ...}
//                                         console <id, fd, bytes>
//                                         connect {req, prepared, family,
//                                                  addr, port, udp}
//   connected {req, error} + socket fd
//                                         ready {sandbox | error}
//   ping {id}                             pong {id}
//     (emberd's heartbeat: the worker's channel thread answers at once; a
//     worker that does not answer in time is killed and replaced)
//
// dns: the names the service's egress rules allow and their addresses, as
// emberd resolved them ({"name": ["127.0.0.1", "::1"], ...}); the worker's
// VMs answer their guests' DNS queries from it (the worker cannot resolve).
//
// The worker runs guests and is not trusted: the parent parses its messages
// defensively (a malformed one is logged and ignored).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "vmm/dns_server.h"

namespace ember::platform::worker {

inline constexpr const char* kPrepare = "prepare";
inline constexpr const char* kPrepareFds = "prepare-fds";
inline constexpr const char* kOpen = "open";
inline constexpr const char* kPrepared = "prepared";
inline constexpr const char* kRelease = "release";
inline constexpr const char* kRestore = "restore";
inline constexpr const char* kRestored = "restored";
inline constexpr const char* kAdopt = "adopt";
inline constexpr const char* kPost = "post";
inline constexpr const char* kRun = "run";
inline constexpr const char* kStop = "stop";
inline constexpr const char* kDrop = "drop";
inline constexpr const char* kEnd = "end";
inline constexpr const char* kConsole = "console";
inline constexpr const char* kConnect = "connect";
inline constexpr const char* kConnected = "connected";
inline constexpr const char* kReady = "ready";
// Stateful scale to zero: an instance saves itself into the file (Guest::suspend)
// and ends; resume is restore plus that file (GuestFactory::resume).
inline constexpr const char* kSuspend = "suspend";
inline constexpr const char* kResume = "resume";
inline constexpr const char* kPing = "ping";
inline constexpr const char* kPong = "pong";

// Console bytes per message; longer output is split.
inline constexpr size_t kConsoleChunk = 32 * 1024;

// console body: the sink id (8 bytes, little-endian), the fd (1 byte), the bytes.
inline std::string encode_console(uint64_t id, int fd, const char* p, size_t n) {
    std::string b(9 + n, '\0');
    for (int i = 0; i < 8; ++i) b[static_cast<size_t>(i)] = static_cast<char>(id >> (8 * i));
    b[8] = static_cast<char>(fd == 2 ? 2 : 1);
    if (n) std::memcpy(b.data() + 9, p, n);
    return b;
}

inline bool decode_console(std::string_view b, uint64_t* id, int* fd, std::string_view* data) {
    if (b.size() < 9 || (b[8] != 1 && b[8] != 2)) return false;
    *id = 0;
    for (int i = 0; i < 8; ++i)
        *id |= uint64_t{static_cast<uint8_t>(b[static_cast<size_t>(i)])} << (8 * i);
    *fd = b[8];
    *data = b.substr(9);
    return true;
}

inline nlohmann::json encode_dns(const DnsServer::Table& t) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, addrs] : t) {
        auto& list = j[name] = nlohmann::json::array();
        for (const auto& a : addrs) {
            char text[INET6_ADDRSTRLEN] = {};
            if ((a.size() == 4 || a.size() == 16) &&
                inet_ntop(a.size() == 4 ? AF_INET : AF_INET6, a.data(), text, sizeof text))
                list.push_back(text);
        }
    }
    return j;
}

// Null when j is not an object; entries that are not addresses are left out.
inline std::shared_ptr<const DnsServer::Table> decode_dns(const nlohmann::json& j) {
    if (!j.is_object()) return nullptr;
    auto t = std::make_shared<DnsServer::Table>();
    for (const auto& [name, list] : j.items()) {
        auto& addrs = (*t)[name];
        if (!list.is_array()) continue;
        for (const auto& v : list) {
            if (!v.is_string()) continue;
            const std::string text = v.get<std::string>();
            uint8_t buf[16];
            if (inet_pton(AF_INET, text.c_str(), buf) == 1)
                addrs.emplace_back(buf, buf + 4);
            else if (inet_pton(AF_INET6, text.c_str(), buf) == 1)
                addrs.emplace_back(buf, buf + 16);
        }
    }
    return t;
}

}  // namespace ember::platform::worker
