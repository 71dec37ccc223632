#include "emberd_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "subprocess.h"

namespace ember::e2e {

// $EMBERD overrides the emberd under test (A/B benchmarks of two builds).
std::string emberd_path() {
    const char* p = std::getenv("EMBERD");
    return p && *p ? p : EMBERD_PATH;
}
std::string ember_cli_path() { return EMBER_CLI_PATH; }
std::string e2e_app_path() { return E2E_APP_PATH; }
std::string example_path(const std::string& name) {
    return std::string(EMBER_EXAMPLES_GCC_DIR) + "/" + name;
}
bool have_kvm() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }

namespace {

// A /proc file, "" when the process is gone (iostreams would throw on the
// read error of a process that exits while it is read).
std::string read_proc(const std::string& path) {
    std::string out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

pid_t parent_of(pid_t pid) {
    const std::string s = read_proc("/proc/" + std::to_string(pid) + "/status");
    const auto at = s.find("\nPPid:");
    return at == std::string::npos ? -1 : static_cast<pid_t>(std::atol(s.c_str() + at + 7));
}

}  // namespace

std::vector<pid_t> helper_pids(pid_t daemon, const std::string& role) {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc");
    if (!d) return out;
    const std::string flag = "--ember-role=" + role;
    while (dirent* e = readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
        if (pid <= 0) continue;
        const std::string cmd = read_proc("/proc/" + std::to_string(pid) + "/cmdline");
        // cmdline is NUL-separated: match one whole argument.
        if (cmd.find(std::string("\0") + flag + '\0') == std::string::npos) continue;
        int hops = 0;
        for (pid_t p = parent_of(pid); p > 1 && hops < 8; p = parent_of(p), ++hops) {
            if (p == daemon) {
                out.push_back(pid);
                break;
            }
        }
    }
    closedir(d);
    return out;
}

int kvm_vms(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = readdir(d)) {
        char target[PATH_MAX];
        const ssize_t len = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = 0;
        if (std::string(target) == "anon_inode:kvm-vm") ++n;
    }
    closedir(d);
    return n;
}

uint16_t free_port() {
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

pid_t helper_pid(pid_t daemon, const std::string& role) {
    const auto all = helper_pids(daemon, role);
    return all.empty() ? -1 : all.front();
}

namespace {

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

EmberdProcess::EmberdProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_(std::move(extra_args)) {
    log_path_ = data_dir_ + ".log";
}

EmberdProcess::~EmberdProcess() {
    if (pid_ > 0) kill9();
}

std::string EmberdProcess::output() const { return read_text(log_path_); }

std::string EmberdProcess::start() {
    if (!gw_port_) gw_port_ = free_port();
    if (!api_port_) api_port_ = free_port();
    std::vector<std::string> args = {emberd_path(),
                                     "--data-dir",
                                     data_dir_,
                                     "--gateway",
                                     "127.0.0.1:" + std::to_string(gw_port_),
                                     "--api",
                                     "127.0.0.1:" + std::to_string(api_port_)};
    args.insert(args.end(), extra_.begin(), extra_.end());
    return launch(args);
}

std::string EmberdProcess::start_with_config(const std::string& extra_lines) {
    if (!gw_port_) gw_port_ = free_port();
    if (!api_port_) api_port_ = free_port();
    const std::string path = data_dir_ + ".conf";
    std::ofstream(path) << "# written by the e2e test\ndata-dir = " << data_dir_
                        << "\ngateway = 127.0.0.1:" << gw_port_
                        << "\napi = \"127.0.0.1:" << api_port_ << "\"\n"
                        << extra_lines;
    std::vector<std::string> args = {emberd_path(), "--config", path};
    args.insert(args.end(), extra_.begin(), extra_.end());
    return launch(args);
}

std::string EmberdProcess::launch(std::vector<std::string> args) {
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(log);
    if (pid < 0) return "fork failed";
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int st;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return "emberd exited at start:\n" + output();
        }
        if (token_.empty()) token_ = read_text(data_dir_ + "/token");
        while (!token_.empty() && (token_.back() == '\n' || token_.back() == ' '))
            token_.pop_back();
        if (!token_.empty()) {
            auto r = api("GET", "/v1/info");
            if (r.status == 200) return "";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "emberd did not answer within 20 s:\n" + output();
}

void EmberdProcess::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

int EmberdProcess::terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1000; ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill9();
    return -1;
}

std::string EmberdProcess::restart() {
    if (pid_ > 0) terminate();
    return start();
}

HttpResponse EmberdProcess::api(const std::string& method, const std::string& path,
                                const std::string& body, const Headers& headers) {
    Headers h = headers;
    h.emplace_back("Authorization", "Bearer " + token_);
    if (!body.empty() && body[0] == '{') h.emplace_back("Content-Type", "application/json");
    return http_request(api_port_, method, path, body, h, 60000);
}

std::string EmberdProcess::upload(const std::string& file) {
    std::ifstream f(file, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto r = api("POST", "/v1/images", data, {{"Content-Type", "application/octet-stream"}});
    if (r.status != 200 && r.status != 201) return "";
    return nlohmann::json::parse(r.body)["sha256"].get<std::string>();
}

HttpResponse EmberdProcess::deploy(const std::string& name, const std::string& program,
                                   nlohmann::json extra) {
    nlohmann::json spec = extra.is_object() ? extra : nlohmann::json::object();
    spec["image"] = upload(program);
    const auto slash = program.find_last_of('/');
    if (!spec.contains("program")) spec["program"] = program.substr(slash + 1);
    return api("PUT", "/v1/services/" + name, spec.dump());
}

HttpResponse EmberdProcess::get(const std::string& service, const std::string& path,
                                int timeout_ms) {
    return http_request(gw_port_, "GET", path, "", {{"Host", service + ".localhost"}}, timeout_ms);
}

nlohmann::json EmberdProcess::instances(const std::string& service) {
    auto r = api("GET", "/v1/services/" + service + "/instances");
    if (r.status != 200) return nlohmann::json::array();
    return nlohmann::json::parse(r.body)["instances"];
}

CliResult run_cli(const EmberdProcess& d, const std::vector<std::string>& args) {
    test::RunOptions o;
    o.argv = {ember_cli_path(), "--api", "http://127.0.0.1:" + std::to_string(d.api_port()),
              "--data-dir", d.data_dir()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.timeout = std::chrono::milliseconds(60000);
    auto r = test::run_process(o);
    return CliResult{r.exited ? r.exit_code : -1, r.out, r.err};
}

TempDir::TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/ember-e2e.XXXXXX";
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    test::RunOptions o;
    o.argv = {"/bin/rm", "-rf", path_};
    (void)test::run_process(o);
}

}  // namespace ember::e2e
