// etcd_process.h - a real single-member etcd for the cluster tests: its own
// data directory and loopback ports, started with fork/exec and killed by
// its pid. Tests skip, loudly, when the etcd binary is not installed
// (Debian: etcd-server, scripts/deps.sh).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ember::testing_etcd {

inline constexpr const char* kEtcdctl = "/usr/bin/etcdctl";

inline std::string etcd_binary() {
    for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
        if (::access(p, X_OK) == 0) return p;
    return "";
}

inline uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

inline bool port_open(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

class EtcdProcess {
  public:
    explicit EtcdProcess(std::string dir) : dir_(std::move(dir)) {}
    ~EtcdProcess() { kill9(); }

    // "" or what went wrong. The same ports and data across restarts.
    std::string start() {
        const std::string err = spawn();
        return err.empty() ? wait_ready() : err;
    }
    // start() in two steps: the members of a multi-member cluster must all
    // be spawned before any of them serves (they wait for a quorum).
    std::string spawn() {
        const std::string bin = etcd_binary();
        if (bin.empty()) return "etcd is not installed";
        if (!client_port_) client_port_ = free_loopback_port();
        if (!peer_port_) peer_port_ = free_loopback_port();
        const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
        const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
        const std::string initial =
            initial_cluster_.empty() ? name_ + "=" + peer : initial_cluster_;
        const std::string log = dir_ + "/etcd.log";
        pid_ = ::fork();
        if (pid_ == 0) {
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            const std::string data = dir_ + "/etcd-data";
            ::execl(bin.c_str(), bin.c_str(), "--name", name_.c_str(), "--data-dir", data.c_str(),
                    "--listen-client-urls", client.c_str(), "--advertise-client-urls",
                    client.c_str(), "--listen-peer-urls", peer.c_str(),
                    "--initial-advertise-peer-urls", peer.c_str(), "--initial-cluster",
                    initial.c_str(), nullptr);
            ::_exit(127);
        }
        return "";
    }
    std::string wait_ready() {
        const std::string log = dir_ + "/etcd.log";
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (std::chrono::steady_clock::now() < deadline) {
            if (port_open(client_port_)) return "";
            int st;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                return "etcd exited at start (see " + log + ")";
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return "etcd did not listen within 15 s (see " + log + ")";
    }
    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
    uint16_t port() const { return client_port_; }
    // Turns on etcd's authentication with etcdctl: a root user, and `user`
    // with `password` allowed to read and write the keys under `prefix`
    // only. "" or what went wrong.
    std::string enable_auth(const std::string& user, const std::string& password,
                            const std::string& prefix) {
        if (::access(kEtcdctl, X_OK) != 0) return "etcdctl is not installed (etcd-client)";
        const std::string ctl =
            std::string("ETCDCTL_API=3 ") + kEtcdctl + " --endpoints=" + url() + " ";
        const std::string log = " >>" + dir_ + "/etcdctl.log 2>&1";
        for (const std::string& args :
             {"user add root --new-user-password=root-" + password, "role add " + user,
              "role grant-permission " + user + " --prefix=true readwrite " + prefix,
              "user add " + user + " --new-user-password=" + password,
              "user grant-role " + user + " " + user, std::string("auth enable")})
            if (std::system((ctl + args + log).c_str()) != 0)
                return "etcdctl " + args + " failed (see " + dir_ + "/etcdctl.log)";
        return "";
    }
    // A member of a multi-member cluster: its name, its ports chosen ahead,
    // and every member's "name=http://127.0.0.1:PEER" (EtcdCluster).
    void set_member(std::string name, std::string initial_cluster) {
        name_ = std::move(name);
        initial_cluster_ = std::move(initial_cluster);
    }
    void choose_ports() {
        if (!client_port_) client_port_ = free_loopback_port();
        if (!peer_port_) peer_port_ = free_loopback_port();
    }
    std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }

  private:
    std::string name_ = "t";
    std::string initial_cluster_;
    std::string dir_;
    pid_t pid_ = -1;
    uint16_t client_port_ = 0, peer_port_ = 0;
};

// A 3-member etcd cluster on loopback: each member in dir/m<i>.
class EtcdCluster {
  public:
    explicit EtcdCluster(const std::string& dir, int members = 3) {
        std::string initial;
        for (int i = 0; i < members; ++i) {
            const std::string d = dir + "/m" + std::to_string(i);
            ::mkdir(d.c_str(), 0700);
            members_.push_back(std::make_unique<EtcdProcess>(d));
            members_.back()->choose_ports();
            initial +=
                (i ? "," : "") + ("m" + std::to_string(i)) + "=" + members_.back()->peer_url();
        }
        for (int i = 0; i < members; ++i) members_[i]->set_member("m" + std::to_string(i), initial);
    }
    std::string start() {
        for (auto& m : members_)
            if (std::string e = m->spawn(); !e.empty()) return e;
        for (auto& m : members_)
            if (std::string e = m->wait_ready(); !e.empty()) return e;
        return "";
    }
    std::string urls() const {
        std::string u;
        for (const auto& m : members_) u += (u.empty() ? "" : ",") + m->url();
        return u;
    }
    EtcdProcess& member(int i) { return *members_[i]; }

  private:
    std::vector<std::unique_ptr<EtcdProcess>> members_;
};

}  // namespace ember::testing_etcd
