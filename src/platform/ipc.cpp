// Wire format of one datagram: a one-byte type length, the type, then the
// body; the fds ride in one SCM_RIGHTS control message.
#include "platform/ipc.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ember::platform::ipc {

namespace {

void close_all(std::vector<int>& fds) {
    for (int fd : fds)
        if (fd >= 0) ::close(fd);
    fds.clear();
}

}  // namespace

Message::Message(Message&& o) noexcept
    : type(std::move(o.type)), body(std::move(o.body)), fds(std::move(o.fds)) {
    o.fds.clear();
}

Message& Message::operator=(Message&& o) noexcept {
    if (this != &o) {
        close_all(fds);
        type = std::move(o.type);
        body = std::move(o.body);
        fds = std::move(o.fds);
        o.fds.clear();
    }
    return *this;
}

Message::~Message() { close_all(fds); }

int Message::take_fd(size_t i) { return i < fds.size() ? std::exchange(fds[i], -1) : -1; }

Channel& Channel::operator=(Channel&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

Channel::~Channel() {
    if (fd_ >= 0) ::close(fd_);
}

Status Channel::send(std::string_view type, std::string_view body, const std::vector<int>& fds) {
    if (type.empty() || type.size() > kMaxType)
        return Status::invalid_argument("ipc: message type must be 1-64 bytes");
    if (body.size() > kMaxBody) return Status::invalid_argument("ipc: message body too large");
    if (fds.size() > kMaxFds) return Status::invalid_argument("ipc: too many fds in one message");
    const auto tlen = static_cast<unsigned char>(type.size());
    iovec iov[3] = {{const_cast<unsigned char*>(&tlen), 1},
                    {const_cast<char*>(type.data()), type.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = body.empty() ? 2 : 3;
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!fds.empty()) {
        const size_t n = sizeof(int) * fds.size();
        mh.msg_control = ctl;
        mh.msg_controllen = CMSG_SPACE(n);
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n);
        std::memcpy(CMSG_DATA(c), fds.data(), n);
    }
    std::lock_guard lock(send_mu_);
    for (;;) {
        if (::sendmsg(fd_, &mh, MSG_NOSIGNAL) >= 0) return Status::ok();
        if (errno == EINTR) continue;
        if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
            return Status::unavailable("ipc: the peer is gone");
        return Status::from_errno("ipc: sendmsg");
    }
}

Status Channel::try_send(std::string_view type, std::string_view body) {
    if (type.empty() || type.size() > kMaxType || body.size() > kMaxBody)
        return Status::invalid_argument("ipc: bad message");
    const auto tlen = static_cast<unsigned char>(type.size());
    iovec iov[3] = {{const_cast<unsigned char*>(&tlen), 1},
                    {const_cast<char*>(type.data()), type.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = body.empty() ? 2 : 3;
    std::unique_lock lock(send_mu_, std::try_to_lock);
    if (!lock) return Status::unavailable("ipc: another send is in progress");
    if (::sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return Status::ok();
    return Status::from_errno("ipc: sendmsg");
}

Result<Message> Channel::recv() {
    // One byte more than the largest valid datagram, to see truncation; one
    // buffer per thread, so that a receive costs no allocation.
    thread_local std::vector<char> buf(1 + kMaxType + kMaxBody + 1);
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    ssize_t n;
    do n = ::recvmsg(fd_, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == ECONNRESET || errno == ENOTCONN) return Status::unavailable("ipc: peer gone");
        return Status::from_errno("ipc: recvmsg");
    }
    Message m;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            m.fds.push_back(fd);
        }
    }
    if (n == 0) return Status::unavailable("ipc: the peer closed the channel");
    // Checked after the fds are owned by m, so that they are closed.
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || m.fds.size() > kMaxFds)
        return Status::corruption("ipc: oversized message");
    const size_t tlen = static_cast<unsigned char>(buf[0]);
    if (tlen == 0 || tlen > kMaxType || 1 + tlen > static_cast<size_t>(n))
        return Status::corruption("ipc: malformed message header");
    m.type.assign(buf.data() + 1, tlen);
    m.body.assign(buf.data() + 1 + tlen, static_cast<size_t>(n) - 1 - tlen);
    return m;
}

void Channel::shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

Result<std::pair<Channel, Channel>> channel_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return Status::from_errno("ipc: socketpair");
    return std::pair<Channel, Channel>(Channel(sv[0]), Channel(sv[1]));
}

}  // namespace ember::platform::ipc
