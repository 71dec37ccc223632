// restore_bench: ready-to-serve snapshots, measured through the VMM's
// library API in one process.
//
//   1. restore -> first guest instruction, restore -> response to one line
//      of input, over N restores of one snapshot (VMs pre-created by the
//      pool, as the design intends; teardown happens in the background);
//   2. the same program booted fresh (same request, same run) as baseline;
//   3. density: K restored instances alive at once, each having answered one
//      request and now idle waiting for more; host memory per instance from
//      /proc/self/smaps_rollup (Pss) and from /proc/meminfo (MemAvailable,
//      which also counts KVM's kernel-side memory).
//
// Usage: restore_bench --program PATH [--restores N] [--boots N] [--idle K]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "counter_vm.h"
#include "vmm/vmm.h"

using namespace ember;

namespace {

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

void print_stats(const char* name, std::vector<double> v) {
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
        return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    std::printf("| %-44s | %6zu | %9.1f | %9.1f | %9.1f | %9.1f | %9.1f |\n", name, v.size(),
                v.front(), pct(0.5), pct(0.9), pct(0.99), v.back());
}

int pipe_with(const std::string& input, bool close_write, int* write_end) {
    int p[2];
    if (pipe(p) != 0) return -1;
    if (!input.empty() &&
        write(p[1], input.data(), input.size()) != static_cast<ssize_t>(input.size()))
        return -1;
    if (close_write) {
        close(p[1]);
    } else if (write_end) {
        *write_end = p[1];
    }
    return p[0];
}

VmConfig boot_config(const std::string& program) { return testing_vm::app_config(program); }

uint64_t read_kb(const char* file, const char* key) {
    std::ifstream f(file);
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key, 0) == 0)
            return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string program;
    int restores = 1000, boots = 100, idle = 1000;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--program" && i + 1 < argc)
            program = argv[++i];
        else if (a == "--restores" && i + 1 < argc)
            restores = std::atoi(argv[++i]);
        else if (a == "--boots" && i + 1 < argc)
            boots = std::atoi(argv[++i]);
        else if (a == "--idle" && i + 1 < argc)
            idle = std::atoi(argv[++i]);
        else {
            std::fprintf(
                stderr,
                "usage: restore_bench --program PATH [--restores N] [--boots N] [--idle K]\n");
            return 2;
        }
    }
    if (program.empty() || access(program.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "restore_bench: --program PATH is required and must exist\n");
        return 2;
    }
    const std::string snap_path = "/tmp/ember_restore_bench_" + std::to_string(getpid()) + ".snap";
    const std::string request = "get 5\n";

    // The snapshot.
    VmConfig cfg = boot_config(program);
    cfg.snapshot_out = snap_path;
    cfg.console = [](int, const char*, size_t) {};
    auto made = run_vm(cfg);
    if (!made || made->outcome != Outcome::kSnapshotted) {
        std::fprintf(stderr, "restore_bench: could not snapshot %s: %s\n", program.c_str(),
                     made ? made->message.c_str() : made.message().c_str());
        return 1;
    }
    auto snap = snapshot::Snapshot::open(snap_path);
    if (!snap) {
        std::fprintf(stderr, "restore_bench: %s\n", snap.message().c_str());
        return 1;
    }
    struct stat st;
    stat(snap_path.c_str(), &st);
    std::printf("snapshot of %s: %llu pages present, %.1f MiB on disk, written in %.1f ms\n\n",
                program.c_str(), static_cast<unsigned long long>((*snap)->pages_present()),
                static_cast<double>(st.st_blocks) * 512 / 1048576.0, made->stats.snapshot_us / 1e3);

    // 1. restores (pool pre-filled in batches, outside the timed region).
    std::vector<double> to_first_insn, to_response, restore_setup, exits;
    constexpr int kBatch = 100;
    for (int done = 0; done < restores;) {
        const int n = std::min(kBatch, restores - done);
        if (auto s = prefill_vms(static_cast<size_t>(n)); !s) {
            std::fprintf(stderr, "restore_bench: %s\n", s.message().c_str());
            return 1;
        }
        for (int i = 0; i < n; ++i, ++done) {
            VmConfig rc;
            const int stdin_fd = pipe_with(request, true, nullptr);  // closed after the run
            rc.stdin_fd = stdin_fd;
            int64_t t_response = 0;
            rc.console = [&t_response](int fd, const char*, size_t) {
                if (fd == 1 && !t_response) t_response = now_ns();
            };
            const int64_t t0 = now_ns();
            auto vm = Vm::restore(*snap, std::move(rc));
            if (!vm) {
                std::fprintf(stderr, "restore_bench: restore: %s\n", vm.message().c_str());
                return 1;
            }
            RunReport r = (*vm)->run();
            if (r.outcome != Outcome::kExited || !t_response) {
                std::fprintf(stderr, "restore_bench: restored instance failed: %s\n",
                             r.message.c_str());
                return 1;
            }
            close(stdin_fd);
            to_first_insn.push_back(r.stats.first_insn_us);
            restore_setup.push_back(r.stats.create_us);
            to_response.push_back(static_cast<double>(t_response - t0) / 1e3);
            exits.push_back(static_cast<double>(r.stats.exits));
        }
    }

    // 1b. warm restores: one reusable VM reset to the snapshot for each
    // request (its memory mappings stay populated).
    std::vector<double> warm_response, warm_first_insn, warm_reset;
    {
        VmConfig rc;
        rc.reusable = true;
        rc.stdin_fd = pipe_with(request, true, nullptr);
        rc.console = [](int, const char*, size_t) {};
        auto vm = Vm::restore(*snap, std::move(rc));
        if (!vm) {
            std::fprintf(stderr, "restore_bench: restore: %s\n", vm.message().c_str());
            return 1;
        }
        (*vm)->run();
        for (int i = 0; i < restores; ++i) {
            VmConfig wc;
            wc.reusable = true;
            wc.stdin_fd = pipe_with(request, true, nullptr);
            int64_t t_response = 0;
            std::string out;
            wc.console = [&t_response, &out](int fd, const char* d, size_t n) {
                if (fd == 1 && !t_response) t_response = now_ns();
                if (fd == 1) out.append(d, n);
            };
            const int64_t t0 = now_ns();
            if (auto st = (*vm)->reset(std::move(wc)); !st) {
                std::fprintf(stderr, "restore_bench: reset: %s\n", st.message().c_str());
                return 1;
            }
            const int64_t t1 = now_ns();
            RunReport r = (*vm)->run();
            if (r.outcome != Outcome::kExited ||
                out != "5=" + std::to_string(5u * 2654435761u) + "\n") {
                std::fprintf(stderr, "restore_bench: warm instance failed: %s (%s)\n",
                             r.message.c_str(), out.c_str());
                return 1;
            }
            warm_reset.push_back(static_cast<double>(t1 - t0) / 1e3);
            // first_insn_us counts from the start of reset().
            warm_first_insn.push_back(r.stats.first_insn_us);
            warm_response.push_back(static_cast<double>(t_response - t0) / 1e3);
        }
    }

    // 2. fresh boots of the same program answering the same request.
    std::vector<double> boot_response, boot_first_insn;
    for (int i = 0; i < boots; ++i) {
        VmConfig bc = boot_config(program);
        bc.stdin_fd = pipe_with(request, true, nullptr);
        int64_t t_response = 0;
        bc.console = [&t_response](int fd, const char*, size_t) {
            if (fd == 1 && !t_response) t_response = now_ns();
        };
        const int64_t t0 = now_ns();
        auto r = run_vm(std::move(bc));
        if (!r || r->outcome != Outcome::kExited || !t_response) {
            std::fprintf(stderr, "restore_bench: fresh boot failed\n");
            return 1;
        }
        boot_response.push_back(static_cast<double>(t_response - t0) / 1e3);
        boot_first_insn.push_back(r->stats.first_insn_us);
    }

    std::printf("| %-44s | %6s | %9s | %9s | %9s | %9s | %9s |\n", "microseconds", "n", "min",
                "p50", "p90", "p99", "max");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), "--------", "-----------",
                "-----------", "-----------", "-----------", "-----------");
    print_stats("restore: setup (VM from pool, map, state)", restore_setup);
    print_stats("restore -> first guest instruction", to_first_insn);
    print_stats("restore -> response to one line", to_response);
    print_stats("warm restore: reset of a used VM", warm_reset);
    print_stats("warm restore -> first guest instruction", warm_first_insn);
    print_stats("warm restore -> response to one line", warm_response);
    print_stats("fresh boot -> first app instruction", boot_first_insn);
    print_stats("fresh boot -> response to one line", boot_response);
    std::sort(exits.begin(), exits.end());
    std::printf("\nuserspace exits per restored request: median %.0f\n", exits[exits.size() / 2]);

    // 3. density: idle restored instances, each answered one request and
    // now waits for more on a pipe that stays open.
    if (idle > 0) {
        (void)prefill_vms(0);
        sleep(1);  // let the reaper finish tearing down the VMs above
        const uint64_t pss0 = read_kb("/proc/self/smaps_rollup", "Pss:");
        const uint64_t avail0 = read_kb("/proc/meminfo", "MemAvailable:");
        std::vector<std::unique_ptr<Vm>> vms;
        std::vector<int> writers;
        std::vector<std::thread> threads;
        std::atomic<int> answered{0};
        // Restore latency of each idle instance, to see whether the n-th
        // costs more than the first (it must not).
        std::vector<double> restore_us;
        const int64_t t_idle0 = now_ns();
        for (int i = 0; i < idle; ++i) {
            const int64_t t0 = now_ns();
            VmConfig rc;
            int w = -1;
            rc.stdin_fd = pipe_with(request, false, &w);
            writers.push_back(w);
            rc.console = [&answered](int fd, const char*, size_t) {
                if (fd == 1) ++answered;
            };
            auto vm = Vm::restore(*snap, std::move(rc));
            if (!vm) {
                std::fprintf(stderr, "restore_bench: idle restore %d: %s\n", i,
                             vm.message().c_str());
                break;
            }
            restore_us.push_back(static_cast<double>(now_ns() - t0) / 1e3);
            Vm* p = vm->get();
            vms.push_back(std::move(*vm));
            threads.emplace_back([p] { p->run(); });
        }
        const double created_s = static_cast<double>(now_ns() - t_idle0) / 1e9;
        while (answered.load() < static_cast<int>(vms.size())) usleep(10000);
        const double answered_s = static_cast<double>(now_ns() - t_idle0) / 1e9;
        usleep(200000);
        const uint64_t pss1 = read_kb("/proc/self/smaps_rollup", "Pss:");
        const uint64_t avail1 = read_kb("/proc/meminfo", "MemAvailable:");
        const double n = static_cast<double>(vms.size());
        std::printf("\n%zu idle restored instances alive (each answered 1 request, now waiting):\n",
                    vms.size());
        std::printf("  host memory per instance, Pss (this process): %.0f KiB\n",
                    static_cast<double>(pss1 - pss0) / n);
        std::printf(
            "  host memory per instance, MemAvailable drop (incl. KVM kernel memory): %.0f KiB\n",
            static_cast<double>(avail0 > avail1 ? avail0 - avail1 : 0) / n);
        std::printf("  created in %.2f s, all answered after %.2f s\n", created_s, answered_s);
        const size_t tenth = std::max<size_t>(1, restore_us.size() / 10);
        auto median_of = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v.empty() ? 0.0 : v[v.size() / 2];
        };
        std::printf("  Vm::restore median: first tenth %.0f us, last tenth %.0f us\n",
                    median_of({restore_us.begin(), restore_us.begin() + tenth}),
                    median_of({restore_us.end() - tenth, restore_us.end()}));
        // Each tenth's median: flat when nothing grows with the number of VMs.
        std::printf("  Vm::restore median by tenth (us):");
        for (size_t t = 0; t + tenth <= restore_us.size(); t += tenth)
            std::printf(" %.0f", median_of({restore_us.begin() + static_cast<long>(t),
                                            restore_us.begin() + static_cast<long>(t + tenth)}));
        std::printf("\n");
        // Idle instances must cost no CPU: none of this process's threads
        // (vCPUs blocked on the host, the I/O thread) may tick for them.
        rusage ru0, ru1;
        getrusage(RUSAGE_SELF, &ru0);
        sleep(2);
        getrusage(RUSAGE_SELF, &ru1);
        auto cpu_s = [](const rusage& r) {
            return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
                   static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
        };
        std::printf("  CPU of this process while they idle: %.1f ms per second\n",
                    (cpu_s(ru1) - cpu_s(ru0)) * 1e3 / 2);
        const int64_t t_end0 = now_ns();
        for (int w : writers) close(w);  // EOF: every instance exits
        for (auto& t : threads) t.join();
        const int64_t t_end1 = now_ns();
        vms.clear();
        std::printf("  teardown: instances ended in %.2f s, VMs destroyed in %.2f s\n",
                    static_cast<double>(t_end1 - t_end0) / 1e9,
                    static_cast<double>(now_ns() - t_end1) / 1e9);
    }
    unlink(snap_path.c_str());
    return 0;
}
