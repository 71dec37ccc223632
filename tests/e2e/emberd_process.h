// emberd_process.h - a real emberd process for the end-to-end tests: its own
// data directory and free ports, started and killed like an operator would,
// and spoken to over HTTP (API with the token it generated, gateway by Host).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http_client.h"

namespace ember::e2e {

// Paths of the binaries under test (from CMake).
std::string emberd_path();
std::string ember_cli_path();
std::string e2e_app_path();
std::string example_path(const std::string& name);  // build/examples/gcc/<name>
// A loopback TCP port that was free a moment ago (0 if none was found).
uint16_t free_port();
bool have_kvm();

class EmberdProcess {
  public:
    // data_dir is created if needed and kept across restart().
    explicit EmberdProcess(std::string data_dir, std::vector<std::string> extra_args = {});
    ~EmberdProcess();  // SIGKILL if still running

    // Starts emberd and waits until its API answers; "" or an error message
    // with the daemon's output.
    std::string start();
    // The same, with the data directory and both addresses in a config file
    // (<data_dir>.conf, with extra_lines appended) instead of on the command
    // line: emberd --config FILE [extra_args].
    std::string start_with_config(const std::string& extra_lines = "");
    void kill9();
    // SIGTERM, then waits (SIGKILL after 10 s). Returns the exit status.
    int terminate();
    std::string restart();  // terminate() (if running) then start(), same ports and data dir
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    std::string output() const;  // what the daemon printed so far

    uint16_t gateway_port() const { return gw_port_; }
    uint16_t api_port() const { return api_port_; }
    const std::string& token() const { return token_; }
    const std::string& data_dir() const { return data_dir_; }

    // The API with the token; body is sent as JSON when it is an object.
    HttpResponse api(const std::string& method, const std::string& path,
                     const std::string& body = "", const Headers& headers = {});
    // Uploads a file as an image; its sha256 ("" on failure).
    std::string upload(const std::string& file);
    // PUT /v1/services/<name> with {image: upload(program), port, ...extra}.
    HttpResponse deploy(const std::string& name, const std::string& program,
                        nlohmann::json extra = {});
    // A request through the gateway, routed by Host: <service>.localhost.
    HttpResponse get(const std::string& service, const std::string& path, int timeout_ms = 30000);
    // The service's instances (GET .../instances).
    nlohmann::json instances(const std::string& service);

  private:
    std::string launch(std::vector<std::string> args);
    std::string data_dir_;
    std::vector<std::string> extra_;
    pid_t pid_ = -1;
    uint16_t gw_port_ = 0, api_port_ = 0;
    std::string token_;
    std::string log_path_;
};

// The helper process of emberd `daemon` started with --ember-role=ROLE (a
// descendant of it), or -1. The first one found when there are several.
pid_t helper_pid(pid_t daemon, const std::string& role);
// All of them.
std::vector<pid_t> helper_pids(pid_t daemon, const std::string& role);
// The KVM VMs process pid holds (its open kvm-vm fds); -1 when its fds
// cannot be read.
int kvm_vms(pid_t pid);

// Runs the ember CLI against d; returns exit status, stdout and stderr.
struct CliResult {
    int status = -1;
    std::string out, err;
};
CliResult run_cli(const EmberdProcess& d, const std::vector<std::string>& args);

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace ember::e2e
