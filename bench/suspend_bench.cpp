// suspend_bench: stateful scale to zero through the VMM's library API, one
// process. examples/counter serves; each round:
//
//   1. cold start from the base snapshot (Vm::restore into a new VM) and
//      its first response: the baseline;
//   2. GET /dirty/M (M MiB written), then Vm::suspend: request -> suspended
//      snapshot written and synced; bytes written;
//   3. resume into a new VM (Suspended::open_fd + Vm::restore +
//      Vm::resume_from) and its first response (the count must go on);
//   4. resume into the VM of step 1, reset to the base (what emberd does
//      when a warm VM is kept);
//   5. the overlay alone, two ways, on a private mapping of the base: copy
//      the saved pages (what resume_from does) against mmap MAP_FIXED of the
//      file's runs plus a first read of every page (a guest would fault).
//
// Usage: suspend_bench [--rounds N] [--dirty MIB] [--dir DIR]
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
double ms_since(int64_t t0) { return static_cast<double>(now_ns() - t0) / 1e6; }

void print_stats(const char* name, const char* unit, std::vector<double> v) {
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
        return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    std::printf("| %-52s | %4s | %5zu | %9.3f | %9.3f | %9.3f | %9.3f |\n", name, unit, v.size(),
                v.front(), pct(0.5), pct(0.99), v.back());
}

using testing_vm::http_get;

VmConfig instance_config() {
    VmConfig cfg;
    cfg.reusable = true;
    cfg.timeout_ns = 120ull * 1000000000;
    return cfg;
}

struct Running {
    std::unique_ptr<Vm> vm;
    RunReport report;
    std::thread t;
    void start() {
        t = std::thread([this] { report = vm->run(); });
    }
};

}  // namespace

int main(int argc, char** argv) {
    int rounds = 30;
    unsigned dirty_mib = 4;
    std::string dir = "/tmp";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
        if (a == "--dirty" && i + 1 < argc) dirty_mib = static_cast<unsigned>(std::atoi(argv[++i]));
        if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    }
    const std::string program = EMBER_EXAMPLES_GCC_DIR "/counter";
    const std::string base_path = dir + "/suspend_bench." + std::to_string(getpid()) + ".snap";
    const std::string susp_path = dir + "/suspend_bench." + std::to_string(getpid()) + ".susp";
    {
        auto r = run_vm(testing_vm::counter_snapshot_config(base_path));
        if (!r || r->outcome != Outcome::kSnapshotted) {
            std::fprintf(stderr, "cannot snapshot %s\n", program.c_str());
            return 1;
        }
    }
    auto base = snapshot::Snapshot::open(base_path);
    if (!base) {
        std::fprintf(stderr, "%s\n", base.message().c_str());
        return 1;
    }
    const auto base_id = snapshot::BaseId::of((*base)->header());
    const std::string dirty = "/dirty/" + std::to_string(dirty_mib);
    std::vector<double> cold, cold_first, suspend, bytes, pages, resume_new, resume_new_first,
        resume_reset, resume_reset_first, reset_only, overlay_copy, overlay_mmap;
    int errors = 0;
    for (int round = 0; round < rounds; ++round) {
        // 1. cold start from the base.
        Running a;
        int64_t t0 = now_ns();
        auto vm = Vm::restore(*base, instance_config());
        if (!vm) return std::fprintf(stderr, "restore: %s\n", vm.message().c_str()), 1;
        a.vm = std::move(*vm);
        cold.push_back(ms_since(t0));
        a.start();
        errors += http_get(*a.vm, "/") != "count 1\n";
        cold_first.push_back(ms_since(t0));
        errors += http_get(*a.vm, dirty) != "count 2\n";
        // 2. suspend.
        const int fd = ::open(susp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        t0 = now_ns();
        a.vm->suspend(fd);
        a.t.join();
        suspend.push_back(ms_since(t0));
        ::close(fd);
        if (a.report.outcome != Outcome::kSnapshotted) {
            std::fprintf(stderr, "suspend: %s\n", a.report.message.c_str());
            return 1;
        }
        bytes.push_back(static_cast<double>(a.report.stats.suspend_bytes) / (1 << 20));
        pages.push_back(static_cast<double>(a.report.stats.suspend_pages));
        // 3. resume into a new VM.
        Running b;
        t0 = now_ns();
        auto s = snapshot::Suspended::open_fd(::open(susp_path.c_str(), O_RDONLY | O_CLOEXEC),
                                              susp_path, base_id);
        auto vm2 = Vm::restore(*base, instance_config());
        if (!s || !vm2 || !(*vm2)->resume_from(**s))
            return std::fprintf(stderr, "resume into a new VM failed\n"), 1;
        b.vm = std::move(*vm2);
        resume_new.push_back(ms_since(t0));
        b.start();
        errors += http_get(*b.vm, "/") != "count 3\n";
        resume_new_first.push_back(ms_since(t0));
        b.vm->stop();
        b.t.join();
        // 4. resume into the first VM, reset to the base.
        t0 = now_ns();
        if (!a.vm->reset(instance_config())) return std::fprintf(stderr, "reset failed\n"), 1;
        reset_only.push_back(ms_since(t0));
        t0 = now_ns();
        auto s2 = snapshot::Suspended::open_fd(::open(susp_path.c_str(), O_RDONLY | O_CLOEXEC),
                                               susp_path, base_id);
        if (!s2 || !a.vm->resume_from(**s2))
            return std::fprintf(stderr, "resume into a reset VM failed\n"), 1;
        resume_reset.push_back(ms_since(t0));
        a.start();
        errors += http_get(*a.vm, "/") != "count 3\n";
        resume_reset_first.push_back(ms_since(t0));
        a.vm->stop();
        a.t.join();
        // 5. the overlay alone, copy against MAP_FIXED + first touch.
        {
            auto m = (*base)->map_memory();
            if (!m) return 1;
            t0 = now_ns();
            for (size_t i = 0; i < (*s2)->pages().size(); ++i)
                std::memcpy(m->host_base() + (*s2)->pages()[i] * 4096, (*s2)->page_data(i), 4096);
            overlay_copy.push_back(ms_since(t0));
        }
        {
            auto m = (*base)->map_memory();
            if (!m) return 1;
            const int sfd = ::open(susp_path.c_str(), O_RDONLY | O_CLOEXEC);
            const auto& pl = (*s2)->pages();
            const uint64_t data_off = static_cast<uint64_t>(lseek(sfd, 0, SEEK_END) -
                                                            static_cast<off_t>(pl.size() * 4096));
            t0 = now_ns();
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < pl.size();) {
                size_t j = i + 1;
                while (j < pl.size() && pl[j] == pl[j - 1] + 1) ++j;
                mmap(m->host_base() + pl[i] * 4096, (j - i) * 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_FIXED, sfd, static_cast<off_t>(data_off + i * 4096));
                i = j;
            }
            for (uint64_t p : pl) sink = sink + m->host_base()[p * 4096];
            overlay_mmap.push_back(ms_since(t0));
            ::close(sfd);
        }
    }
    std::printf(
        "suspend_bench: examples/counter, %u MiB dirtied per instance, %d rounds, files in "
        "%s\n\n",
        dirty_mib, rounds, dir.c_str());
    std::printf("| %-52s | %4s | %5s | %9s | %9s | %9s | %9s |\n", "what", "unit", "n", "min",
                "p50", "p99", "max");
    std::printf("|%s|------|-------|-----------|-----------|-----------|-----------|\n",
                std::string(54, '-').c_str());
    print_stats("cold start from base: restore (new VM)", "ms", cold);
    print_stats("cold start from base: restore -> first response", "ms", cold_first);
    print_stats("suspend: request -> file written and synced", "ms", suspend);
    print_stats("suspend: bytes written", "MiB", bytes);
    print_stats("suspend: pages written", "", pages);
    print_stats("resume, new VM: open + restore + overlay", "ms", resume_new);
    print_stats("resume, new VM: -> first response", "ms", resume_new_first);
    print_stats("reset VM to base (baseline of the next row)", "ms", reset_only);
    print_stats("resume, reset VM: open + overlay", "ms", resume_reset);
    print_stats("resume, reset VM: -> first response", "ms", resume_reset_first);
    print_stats("overlay alone: copy pages", "ms", overlay_copy);
    print_stats("overlay alone: mmap MAP_FIXED runs + first read", "ms", overlay_mmap);
    std::printf("\nwrong responses: %d\n", errors);
    ::unlink(base_path.c_str());
    ::unlink(susp_path.c_str());
    return errors ? 1 : 0;
}
