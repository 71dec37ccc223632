// net_test_util.h - a fake VMM for the guest kernel's net code, and the
// fixture of the net tests.
//
// FakeHost owns the two rings. It decodes what the guest puts in the tx
// ring (at every wait and every EMBER_HC_CONSOLE, like the VMM's drain_tx)
// and encodes records into the rx ring exactly as src/vmm/stream_host.cpp does
// (16-byte headers, payload padded to 16, a PAD record before wrapping).
// Tests script it: records to deliver at the next wait, a callback run at
// every wait, and automatic credit for data the guest sends.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "fs_test_util.h"

namespace nettest {

struct Rec {
    uint16_t type = 0;
    uint32_t stream = 0;
    uint32_t arg = 0;
    std::string data;
};

class FakeHost {
  public:
    static constexpr uint64_t kRxCap = EMBER_NET_RX_SIZE - EMBER_RING_DATA;
    static constexpr uint64_t kTxCap = EMBER_NET_TX_SIZE - EMBER_RING_DATA;

    void reset();
    // Writes one record into the rx ring now; false when it does not fit.
    bool push(uint16_t type, uint32_t stream, uint32_t arg, const std::string& data = "");
    // Queues a record for the next wait (delivered in order, as room allows).
    void later(uint16_t type, uint32_t stream, uint32_t arg, const std::string& data = "") {
        later_.push_back({type, stream, arg, data});
    }
    // Decodes the tx ring into sent(); also adds DATA to data_of(stream).
    void drain();

    // The hooks of k::wait_events and EMBER_HC_CONSOLE.
    uint32_t on_wait(uint32_t events, uint64_t deadline);
    void on_kick() {
        drain();
        kicks++;
    }

    // Records of one type the guest sent (all of them when type < 0).
    std::vector<Rec> sent_of(int type) const;
    std::string data_of(uint32_t stream) const;
    uint64_t credit_returned(uint32_t stream) const;
    void clear_sent() { sent_.clear(); }

    uint8_t* rx() { return rx_; }
    uint8_t* tx() { return tx_; }
    ember_ring* rx_ring() { return reinterpret_cast<ember_ring*>(rx_); }
    ember_ring* tx_ring() { return reinterpret_cast<ember_ring*>(tx_); }

    std::function<void()> each_wait;  // run at every wait, before delivery
    bool auto_credit = false;         // answer every DATA with a WINDOW of its size
    int waits = 0, kicks = 0;
    uint32_t last_events = 0;
    uint64_t last_deadline = 0;
    bool malformed_tx = false;

  private:
    alignas(64) uint8_t rx_[EMBER_NET_RX_SIZE];
    alignas(64) uint8_t tx_[EMBER_NET_TX_SIZE];
    std::vector<Rec> sent_;
    std::deque<Rec> later_;
    int idle_waits_ = 0;
};

FakeHost& host();

// Linux constants for the tests (from libc headers).
inline std::string addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    ember_net_addr x{};
    x.family = EMBER_NET_AF_INET;
    x.port = port;
    x.addr[0] = a, x.addr[1] = b, x.addr[2] = c, x.addr[3] = d;
    return std::string(reinterpret_cast<const char*>(&x), sizeof x);
}

class NetTest : public fstest::FsTest {
  protected:
    void SetUp() override;

    using FsTest::sys;
    static int64_t socket4(int flags = 0) {
        return sys(SYS_socket, AF_INET, SOCK_STREAM | flags, 0);
    }
    static int64_t bind4(int64_t fd, uint16_t port, uint32_t addr = INADDR_ANY);
    static int64_t connect4(int64_t fd, uint16_t port, uint32_t addr = 0x7f000001);
    // A listening socket on `port`; returns its fd and its listener id.
    int64_t listener(uint16_t port, uint32_t* id, int flags = 0);
    // Delivers an ACCEPT for listener id now; returns the host stream id.
    uint32_t deliver_accept(uint32_t listener_id, uint16_t peer_port = 40000);
    // A connected socket from accept(); *stream is its host stream id.
    int64_t accepted(uint32_t* stream, int flags = 0);
    static int64_t send(int64_t fd, const std::string& s, int flags = 0) {
        return sys(SYS_sendto, static_cast<uint64_t>(fd), fstest::P(s.data()), s.size(),
                   static_cast<uint64_t>(flags), 0, 0);
    }
    // Receives up to n bytes ("<errno>" as text on failure).
    static std::string recv(int64_t fd, size_t n, int flags = 0);
    static int64_t errno_of(const std::string& s) {
        return s.size() > 1 && s[0] == '<' ? std::stoll(s.substr(1)) : 0;
    }
    static uint32_t poll1(int64_t fd, short events, int timeout_ms = 0);
    uint32_t next_host_id_ = EMBER_NET_HOST_ID | 1;
};

}  // namespace nettest
