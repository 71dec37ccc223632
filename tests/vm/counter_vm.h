// counter_vm.h - what VM tests and benchmarks share (tests/vm/suspend_test.cpp,
// bench/suspend_bench.cpp, bench/restore_bench.cpp): a program booted as
// /bin/app, the configuration that snapshots examples/counter once it is
// READY, and one HTTP GET to an instance over a stream handed to the VM
// (Vm::post_connection).
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vmm/cpio_writer.h"
#include "vmm/vm.h"

namespace ember::testing_vm {

inline std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
}

// Boots the program at `path` as /bin/app (argv {"app"}) with a root
// filesystem of /tmp and that file.
inline VmConfig app_config(const std::string& path) {
    VmConfig cfg;
    cfg.program = read_all(path);
    cfg.guest_path = "/bin/app";
    cfg.argv = {"app"};
    cpio::Writer w;
    (void)w.add_dir("tmp", 01777);
    (void)w.add_file("bin/app", cfg.program, 0755);
    cfg.rootfs = w.finish();
    return cfg;
}

// examples/counter (built by examples/CMakeLists.txt, at
// EMBER_EXAMPLES_GCC_DIR), whose snapshot is written to snapshot_out once
// it is READY; run it with run_vm.
#ifdef EMBER_EXAMPLES_GCC_DIR
inline VmConfig counter_snapshot_config(const std::string& snapshot_out) {
    VmConfig cfg = app_config(EMBER_EXAMPLES_GCC_DIR "/counter");
    cfg.snapshot_out = snapshot_out;
    return cfg;
}
#endif

// One GET on a new stream to the guest's port 8080; the response's body
// ("" on failure). The stream is closed afterwards.
inline std::string http_get(Vm& vm, const std::string& path) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return "";
    vm.post_connection(sv[1], 8080);
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    if (write(sv[0], req.data(), req.size()) != static_cast<ssize_t>(req.size())) return "";
    std::string resp;
    char buf[4096];
    for (;;) {
        const auto hdr_end = resp.find("\r\n\r\n");
        if (hdr_end != std::string::npos) {
            const auto cl = resp.find("Content-Length: ");
            const size_t len = cl == std::string::npos ? 0 : std::stoul(resp.substr(cl + 16));
            if (resp.size() >= hdr_end + 4 + len) {
                close(sv[0]);
                return resp.substr(hdr_end + 4, len);
            }
        }
        const ssize_t r = read(sv[0], buf, sizeof buf);
        if (r <= 0) break;
        resp.append(buf, static_cast<size_t>(r));
    }
    close(sv[0]);
    return "";
}

}  // namespace ember::testing_vm
