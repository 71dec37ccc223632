// ipc.h - messages between emberd's processes (the control plane, the
// gateway, the VM workers) over a SOCK_SEQPACKET Unix socket: each message is
// one datagram carrying a short type, an opaque body (JSON text or raw
// bytes) and up to kMaxFds file descriptors (SCM_RIGHTS). Connections, open
// snapshot files and published sockets travel this way, so the processes
// that run guests never open anything by name.
//
// The peer is not trusted: a malformed datagram is an error for that
// message (recv() fails with corruption), never a crash.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace ember::platform::ipc {

inline constexpr size_t kMaxFds = 8;
inline constexpr size_t kMaxType = 64;
// A body larger than this is refused by send() (keep bulk data in files).
inline constexpr size_t kMaxBody = 60 * 1024;

// A received message. Owns its fds: the destructor closes every fd not
// taken with take_fd().
struct Message {
    Message() = default;
    Message(Message&& o) noexcept;
    Message& operator=(Message&& o) noexcept;
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;
    ~Message();

    // The i-th fd, now owned by the caller; -1 when there is none.
    int take_fd(size_t i = 0);

    std::string type;
    std::string body;
    std::vector<int> fds;
};

// One end of a message socket. send() is thread-safe; recv() is meant for one
// reader thread.
class Channel {
  public:
    Channel() = default;
    explicit Channel(int fd) : fd_(fd) {}  // takes a SOCK_SEQPACKET socket
    Channel(Channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Channel& operator=(Channel&& o) noexcept;
    ~Channel();

    // Sends one message; fds are duplicated into the peer (the caller keeps
    // and still closes its own). unavailable when the peer is gone.
    Status send(std::string_view type, std::string_view body = {},
                const std::vector<int>& fds = {});
    // The same without waiting: unavailable at once when another thread is
    // sending or the peer's queue is full (a heartbeat must not hang on a
    // peer that stopped reading).
    Status try_send(std::string_view type, std::string_view body = {});
    // Waits for the next message. unavailable at the peer's end of stream
    // (it closed or died), corruption for a malformed datagram (its fds are
    // closed), io_error otherwise.
    Result<Message> recv();
    // Ends both directions: a recv() blocked in another thread returns
    // unavailable.
    void shutdown();

    int fd() const { return fd_; }
    // Gives up the socket without closing it.
    int release() { return std::exchange(fd_, -1); }
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
    std::mutex send_mu_;
};

// Two connected ends, close-on-exec.
Result<std::pair<Channel, Channel>> channel_pair();

}  // namespace ember::platform::ipc
