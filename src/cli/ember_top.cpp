// ember top and ember open: the operator's views of a running emberd.
//
// top samples GET /v1/services and GET /metrics every interval and prints a
// table per sample: requests per second, p50/p99 latency over the interval
// (from the ember_request_duration_seconds histogram's bucket deltas, as
// Prometheus' histogram_quantile does), and totals of requests, cold starts
// and 5xx errors. On a terminal it redraws in place (ANSI clear) until q or
// Ctrl-C; --once prints one table, after one interval, and exits.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "common/units.h"
#include "ember_commands.h"
#include "platform/service_stats.h"

namespace ember::cli {

using nlohmann::json;

namespace {

// Per-service counters parsed from /metrics and their quantiles, as the
// console computes them (platform/service_stats.h).
using platform::histogram_quantile;
using platform::parse_service_totals;
using ServiceSample = platform::ServiceTotals;

std::string fmt_latency(double s) {
    if (std::isnan(s)) return "-";
    char b[32];
    const double ms = s * 1e3;
    std::snprintf(b, sizeof b, ms < 10 ? "%.2fms" : "%.0fms", ms);
    return b;
}

std::string fmt_count(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", v);
    return b;
}

std::string field(const json& s, const char* key) {
    if (!s.contains(key)) return "-";
    return s[key].is_string() ? s[key].get<std::string>() : s[key].dump();
}

std::string render(const json& services, const std::map<std::string, ServiceSample>& now,
                   const std::map<std::string, ServiceSample>& before, double secs) {
    const std::vector<std::string> head = {"NAME", "STATUS",   "INSTANCES", "REQ/S", "P50",
                                           "P99",  "REQUESTS", "COLD",      "ERRORS"};
    std::vector<std::vector<std::string>> rows;
    if (services.contains("services") && services["services"].is_array())
        for (const auto& s : services["services"]) {
            const std::string name = field(s, "name");
            const ServiceSample empty;
            const auto n = now.find(name), b = before.find(name);
            const ServiceSample& cur = n == now.end() ? empty : n->second;
            const ServiceSample& old = b == before.end() ? empty : b->second;
            char rate[32];
            std::snprintf(rate, sizeof rate, "%.1f",
                          secs > 0 ? std::max(0.0, cur.requests - old.requests) / secs : 0.0);
            rows.push_back({name, field(s, "status"), field(s, "instances"), rate,
                            fmt_latency(histogram_quantile(0.5, cur.latency, old.latency)),
                            fmt_latency(histogram_quantile(0.99, cur.latency, old.latency)),
                            fmt_count(cur.requests), fmt_count(cur.cold_starts),
                            fmt_count(cur.errors)});
        }
    std::string out = format_table(head, rows);
    if (rows.empty()) out += "(no services)\n";
    return out;
}

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// Raw-ish terminal for single keys (q) while ISIG keeps Ctrl-C a signal;
// restored by the destructor.
class KeyReader {
  public:
    KeyReader() : tty_(::isatty(0) == 1) {
        if (tty_ && ::tcgetattr(0, &saved_) == 0) {
            termios t = saved_;
            t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            t.c_cc[VMIN] = 0;
            t.c_cc[VTIME] = 0;
            raw_ = ::tcsetattr(0, TCSANOW, &t) == 0;
        }
    }
    ~KeyReader() {
        if (raw_) ::tcsetattr(0, TCSANOW, &saved_);
    }
    // Waits up to ms; true when q (or Q) was pressed.
    bool quit_within(int ms) {
        pollfd p{0, POLLIN, 0};
        if (!raw_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            return false;
        }
        if (::poll(&p, 1, ms) <= 0) return false;
        char c = 0;
        return ::read(0, &c, 1) == 1 && (c == 'q' || c == 'Q');
    }

  private:
    bool tty_, raw_ = false;
    termios saved_{};
};

}  // namespace

int cmd_top(const Global& g, const TopOptions& o) {
    auto ms = ember::parse_duration_ms(o.interval);
    if (!ms || *ms < 100 || *ms > 3600 * 1000)
        throw_failure("--interval: expected a duration from 100ms to 1h, got '" + o.interval + "'",
                      kExitUsage);
    Client c(g);
    auto metrics = [&] {
        auto r = request(c.endpoint(), "GET", "/metrics", c.token(), "", "");
        if (r.status >= 400) throw_failure(api_error(r));
        return parse_service_totals(r.body);
    };
    auto before = metrics();
    auto t_before = std::chrono::steady_clock::now();
    if (o.once) {
        std::this_thread::sleep_for(std::chrono::milliseconds(*ms));
        auto now = metrics();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_before).count();
        std::fputs(render(c.call("GET", "/v1/services"), now, before, secs).c_str(), stdout);
        return 0;
    }
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    KeyReader keys;
    const bool tty = ::isatty(1) == 1;
    while (!g_stop) {
        if (keys.quit_within(static_cast<int>(*ms)) || g_stop) break;
        auto now = metrics();
        const auto t_now = std::chrono::steady_clock::now();
        const double secs = std::chrono::duration<double>(t_now - t_before).count();
        const std::string table = render(c.call("GET", "/v1/services"), now, before, secs);
        // Home, clear the screen; then the table and the key help.
        if (tty) std::fputs("\x1b[H\x1b[2J", stdout);
        std::fprintf(stdout, "%s%s", table.c_str(), tty ? "\nq or Ctrl-C: quit\n" : "\n");
        std::fflush(stdout);
        before = std::move(now);
        t_before = t_now;
    }
    return 0;
}

int cmd_open(const Global& g, bool print_only) {
    const Endpoint ep = parse_url(g.api);
    // Whether emberd answers there (any status: the console asks for the
    // token itself); a connection error fails with the CLI's usual message.
    (void)request(ep, "GET", "/v1/info", "", "", "");
    const std::string url = "http://" + ep.host + ":" + ep.port + "/";
    std::printf("%s\n", url.c_str());
    std::fflush(stdout);
    const char* display = std::getenv("DISPLAY");
    const char* wayland = std::getenv("WAYLAND_DISPLAY");
    if (print_only || !((display && *display) || (wayland && *wayland))) return 0;
    // xdg-open from PATH, with the URL as its argument (no shell); its own
    // messages would only clutter the URL line.
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::string prog = "xdg-open", arg = url;
    char* argv[] = {prog.data(), arg.data(), nullptr};
    pid_t pid = -1;
    const int err = ::posix_spawnp(&pid, "xdg-open", &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0) return 0;  // no xdg-open: the printed URL is the answer
    int st = 0;
    if (::waitpid(pid, &st, 0) == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        std::fprintf(stderr, "ember: xdg-open could not open %s\n", url.c_str());
    return 0;
}

}  // namespace ember::cli
