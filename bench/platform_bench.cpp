// platform_bench: emberd measured from outside, as a client sees it.
//
//   1. Cold starts through the gateway: N sequential requests to a service
//      deployed with isolation "request", so every request restores a fresh
//      instance from the snapshot. Client latency (request written ->
//      response read, on a kept-alive connection to the gateway) and the
//      stages emberd reports in Server-Timing (queue, restore, app = handed
//      to the guest -> first response byte, total inside the gateway).
//   1b. The same with spare_instances 1: each request still gets a fresh
//      instance, restored ahead of it.
//   2. Warm: the same server binary run natively on the host vs. a warm
//      instance behind the gateway, requests alternating between the two in
//      one loop (A/B in the same run): the latency the platform adds.
//   3. Warm throughput with wrk (when installed): native vs. gateway.
//
// Usage: platform_bench [--requests N] [--warm N] [--wrk-seconds S] [--wrk-conns C]
//                       [--program SERVER] [--memory-mb M] [-- EMBERD-OPTIONS...]
// SERVER (default examples/gcc/http_epoll) takes its port as its first
// argument and listens on 8080 by default; M is the services' memory_mb.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "emberd_process.h"
#include "subprocess.h"

using namespace ember::e2e;

namespace {

double now_us() {
    return std::chrono::duration<double, std::micro>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A kept-alive HTTP/1.1 connection with the least client work possible.
class Conn {
  public:
    explicit Conn(uint16_t port) : port_(port) { open(); }
    ~Conn() {
        if (fd_ >= 0) ::close(fd_);
    }
    // Sends GET / with the Host header and reads the whole response; returns
    // false on any error. headers gets the response head.
    bool get(const std::string& host, std::string* head, std::string* body) {
        const std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
        if (fd_ < 0 && !open()) return false;
        if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
            return reopen_fail();
        std::string buf;
        size_t head_end;
        while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(&buf)) return reopen_fail();
        }
        *head = buf.substr(0, head_end);
        std::string lower = *head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto cl = lower.find("content-length:");
        const size_t len =
            cl == std::string::npos ? 0 : std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
        while (buf.size() < head_end + 4 + len)
            if (!fill(&buf)) return reopen_fail();
        *body = buf.substr(head_end + 4, len);
        if (lower.find("connection: close") != std::string::npos) {
            ::close(fd_);
            fd_ = -1;
        }
        return true;
    }

  private:
    bool open() {
        fd_ = connect_to(port_);
        if (fd_ < 0) return false;
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return true;
    }
    bool fill(std::string* buf) {
        char b[16384];
        const ssize_t n = ::read(fd_, b, sizeof b);
        if (n <= 0) return false;
        buf->append(b, static_cast<size_t>(n));
        return true;
    }
    bool reopen_fail() {
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    uint16_t port_;
    int fd_ = -1;
};

// "queue;dur=0.002, restore;dur=0.35, ..." -> {queue: 2 us, restore: 350 us, ...}
std::map<std::string, double> server_timing_us(const std::string& head) {
    std::map<std::string, double> out;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto p = lower.find("server-timing:");
    if (p == std::string::npos) return out;
    const auto end = lower.find("\r\n", p);
    std::string v =
        head.substr(p + 14, end == std::string::npos ? std::string::npos : end - p - 14);
    size_t i = 0;
    while (i < v.size()) {
        size_t j = v.find(',', i);
        if (j == std::string::npos) j = v.size();
        std::string item = v.substr(i, j - i);
        const auto semi = item.find(";dur=");
        if (semi != std::string::npos) {
            std::string name = item.substr(0, semi);
            name.erase(0, name.find_first_not_of(' '));
            out[name] = std::stod(item.substr(semi + 5)) * 1000.0;
        }
        i = j + 1;
    }
    return out;
}

void row(const char* name, std::vector<double> v) {
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
        return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    std::printf("| %-46s | %6zu | %8.0f | %8.0f | %8.0f | %8.0f | %8.0f |\n", name, v.size(),
                v.front(), pct(0.5), pct(0.9), pct(0.99), v.back());
}

void table_head() {
    std::printf("| %-46s | %6s | %8s | %8s | %8s | %8s | %8s |\n", "microseconds", "n", "min",
                "p50", "p90", "p99", "max");
    std::printf("|%s|--------|----------|----------|----------|----------|----------|\n",
                std::string(48, '-').c_str());
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// wrk's "Requests/sec:" and "50%"/"99%" latency lines.
struct WrkResult {
    double rps = 0;
    std::string p50, p99;
};
WrkResult run_wrk(uint16_t port, const std::string& host, int secs, int conns) {
    ember::test::RunOptions o;
    o.argv = {"/usr/bin/wrk",
              "-t1",
              "-c" + std::to_string(conns),
              "-d" + std::to_string(secs) + "s",
              "--latency",
              "-H",
              "Host: " + host,
              "http://127.0.0.1:" + std::to_string(port) + "/"};
    o.inherit_env = true;
    auto r = ember::test::run_process(o);
    WrkResult w;
    auto field = [&](const std::string& key) {
        const auto p = r.out.find(key);
        if (p == std::string::npos) return std::string();
        size_t s = p + key.size();
        while (s < r.out.size() && r.out[s] == ' ') ++s;
        const auto e = r.out.find_first_of(" \n", s);
        return r.out.substr(s, e - s);
    };
    const std::string rps = field("Requests/sec:");
    w.rps = rps.empty() ? 0 : std::stod(rps);
    w.p50 = field(" 50%");
    w.p99 = field(" 99%");
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    int requests = 1000, warm = 2000, wrk_secs = 5, wrk_conns = 32, memory_mb = 0;
    std::string server = example_path("http_epoll");
    std::vector<std::string> emberd_args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            emberd_args.assign(argv + i + 1, argv + argc);
            break;
        }
        if (a == "--requests" && i + 1 < argc)
            requests = std::atoi(argv[++i]);
        else if (a == "--warm" && i + 1 < argc)
            warm = std::atoi(argv[++i]);
        else if (a == "--wrk-seconds" && i + 1 < argc)
            wrk_secs = std::atoi(argv[++i]);
        else if (a == "--wrk-conns" && i + 1 < argc)
            wrk_conns = std::atoi(argv[++i]);
        else if (a == "--program" && i + 1 < argc)
            server = argv[++i];
        else if (a == "--memory-mb" && i + 1 < argc)
            memory_mb = std::atoi(argv[++i]);
        else {
            std::fprintf(
                stderr,
                "usage: platform_bench [--requests N] [--warm N] [--wrk-seconds S] [--wrk-conns C] "
                "[--program SERVER] [--memory-mb M] [-- EMBERD-OPTIONS...]\n");
            return 2;
        }
    }
    if (!have_kvm()) {
        std::fprintf(stderr, "platform_bench: /dev/kvm is not available\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    TempDir tmp;
    EmberdProcess d(tmp.path() + "/data", emberd_args);
    if (auto err = d.start(); !err.empty()) {
        std::fprintf(stderr, "platform_bench: %s\n", err.c_str());
        return 1;
    }
    for (auto [name, extra] : std::vector<std::pair<std::string, nlohmann::json>>{
             {"cold", {{"isolation", "request"}}},
             {"spare",
              {{"isolation", "request"}, {"spare_instances", 1}, {"idle_timeout_ms", 600000}}},
             {"warm", {{"idle_timeout_ms", 600000}, {"concurrency", 256}}}}) {
        if (memory_mb > 0) extra["memory_mb"] = memory_mb;
        auto r = d.deploy(name, server, extra);
        if (r.status != 201) {
            std::fprintf(stderr, "platform_bench: deploy %s: %d %s\n", name.c_str(), r.status,
                         r.body.c_str());
            return 1;
        }
    }
    std::printf("emberd %s, gateway 127.0.0.1:%u; server: %s\n\n", d.data_dir().c_str(),
                d.gateway_port(), server.c_str());

    // 1. Cold starts.
    Conn gw(d.gateway_port());
    std::string head, body;
    constexpr int kWarmup = 20;
    std::vector<double> client, queue, restore, app, total;
    int failures = 0;
    for (int i = 0; i < kWarmup + requests; ++i) {
        const double t0 = now_us();
        if (!gw.get("cold.localhost", &head, &body) || head.rfind("HTTP/1.1 200", 0) != 0) {
            ++failures;
            continue;
        }
        const double t1 = now_us();
        if (i < kWarmup) continue;
        auto st = server_timing_us(head);
        if (!st.count("restore")) {
            std::fprintf(stderr,
                         "platform_bench: a request of the cold service was not a cold start\n");
            return 1;
        }
        client.push_back(t1 - t0);
        queue.push_back(st["queue"]);
        restore.push_back(st["restore"]);
        app.push_back(st["app"]);
        total.push_back(st["total"]);
    }
    std::printf(
        "## Cold start through the gateway (isolation \"request\": every request restores an "
        "instance)\n\n");
    std::printf(
        "%d sequential requests (after %d warm-up requests), one kept-alive client connection; %d "
        "failed.\n\n",
        requests, kWarmup, failures);
    table_head();
    row("client: request -> complete response", client);
    row("Server-Timing total (inside the gateway)", total);
    row("  queue (acquire -> instance assigned)", queue);
    row("  restore (assigned -> stream handed to guest)", restore);
    row("  app (handed -> first response byte)", app);
    {
        // How many instances started in a reused (reset) VM vs. a new one.
        const std::string m = d.api("GET", "/metrics").body;
        auto count = [&](const std::string& kind) {
            const std::string key = "ember_instance_restore_seconds_count{vm=\"" + kind + "\"} ";
            const auto p = m.find(key);
            return p == std::string::npos ? 0L : std::atol(m.c_str() + p + key.size());
        };
        std::printf("\ninstances started in a reused VM: %ld, in a new VM: %ld\n",
                    count("reused_vm"), count("new_vm"));
    }
    std::printf("\n");

    // 1b. The same with a spare: each request still gets a fresh instance,
    // restored ahead of it while the previous request ran.
    {
        std::vector<double> sc, stotal, sapp;
        int spare_ready = 0, spare_failures = 0;
        for (int i = 0; i < kWarmup + requests; ++i) {
            const double t0 = now_us();
            if (!gw.get("spare.localhost", &head, &body) || head.rfind("HTTP/1.1 200", 0) != 0) {
                ++spare_failures;
                continue;
            }
            const double t1 = now_us();
            if (i < kWarmup) continue;
            auto st = server_timing_us(head);
            if (!st.count("restore")) ++spare_ready;
            sc.push_back(t1 - t0);
            stotal.push_back(st["total"]);
            sapp.push_back(st["app"]);
        }
        std::printf(
            "## Fresh instance per request, restored ahead (isolation \"request\", spare_instances "
            "1)\n\n");
        std::printf(
            "%d sequential requests, each to a new instance that has served nothing; %d found "
            "their spare "
            "ready, the others joined it while it started; %d failed.\n\n",
            requests, spare_ready, spare_failures);
        table_head();
        row("client: request -> complete response", sc);
        row("Server-Timing total (inside the gateway)", stotal);
        row("  app (handed -> first response byte)", sapp);
        std::printf("\n");
    }

    // 2. Warm latency, native vs. gateway, alternating.
    const uint16_t native_port = free_port();
    pid_t native = ::fork();
    if (native == 0) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        const std::string port = std::to_string(native_port);
        ::execl(server.c_str(), server.c_str(), port.c_str(), nullptr);
        ::_exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Conn nat(native_port), wgw(d.gateway_port());
    std::vector<double> t_native, t_gateway, app_warm;
    for (int i = 0; i < 50; ++i) {
        nat.get("x", &head, &body);
        wgw.get("warm.localhost", &head, &body);
    }
    for (int i = 0; i < warm; ++i) {
        double t0 = now_us();
        if (nat.get("x", &head, &body)) t_native.push_back(now_us() - t0);
        t0 = now_us();
        if (wgw.get("warm.localhost", &head, &body)) {
            t_gateway.push_back(now_us() - t0);
            app_warm.push_back(server_timing_us(head)["app"]);
        }
    }
    std::printf(
        "## Warm requests: the same server natively vs. a warm instance behind the gateway\n\n");
    std::printf(
        "%d requests each, alternating native and gateway in one loop, kept-alive connections.\n\n",
        warm);
    table_head();
    const std::string base = server.substr(server.find_last_of('/') + 1);
    row(("native " + base + ": request -> response").c_str(), t_native);
    row("gateway -> warm instance: request -> response", t_gateway);
    row("  app (handed to the guest -> first byte)", app_warm);
    std::printf("\nadded latency at p50: %.0f us\n\n", median(t_gateway) - median(t_native));

    // 3. Throughput with wrk.
    if (::access("/usr/bin/wrk", X_OK) == 0) {
        auto n = run_wrk(native_port, "x", wrk_secs, wrk_conns);
        auto g = run_wrk(d.gateway_port(), "warm.localhost", wrk_secs, wrk_conns);
        std::printf("## Warm throughput: wrk -t1 -c%d -d%ds\n\n", wrk_conns, wrk_secs);
        std::printf("| target | requests/s | latency p50 | latency p99 |\n|---|---|---|---|\n");
        std::printf("| native %s | %.0f | %s | %s |\n", base.c_str(), n.rps, n.p50.c_str(),
                    n.p99.c_str());
        std::printf("| gateway -> warm instance | %.0f | %s | %s |\n", g.rps, g.p50.c_str(),
                    g.p99.c_str());
        std::printf("\nthroughput ratio gateway/native: %.2f\n", n.rps > 0 ? g.rps / n.rps : 0.0);
    } else {
        std::printf("(wrk not installed: throughput skipped)\n");
    }
    ::kill(native, SIGTERM);
    int st;
    ::waitpid(native, &st, 0);
    d.terminate();
    return failures ? 1 : 0;
}
