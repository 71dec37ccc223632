// boot_bench - boot-to-exit latency of a static hello in an Ember microVM,
// against the same binary run natively in the same run (A/B, interleaved).
//
//   boot_bench [--runs N] [--warmup N] [--ember-vm PATH] [--program PATH]...
//
// For every program (default: the gcc and musl builds of examples/hello) and
// every run it measures
//   (a) the whole `ember-vm run --stats PROGRAM` process: spawn to reap,
//   (b) the VMM's own timings from its "ember-vm: stats:" line (create_us,
//       first_insn_us, run_us, total_us) and its exit and syscall counts,
//   (c) the same PROGRAM run natively (spawn to reap),
// and ember-vm's peak RSS (ru_maxrss from wait4). Prints median, p90, p99,
// min and max. Exits 1 if any run failed (wrong status or output).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ember_stats.h"
#include "subprocess.h"

using ember::test::describe;
using ember::test::parse_stats;
using ember::test::run_process;
using ember::test::RunOptions;
using ember::test::RunResult;

namespace {

struct Series {
    std::string name, unit;
    std::vector<double> v;
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

void print_row(const Series& s) {
    if (s.v.empty()) {
        printf("| %-28s | %-4s | %9s | %9s | %9s | %9s | %9s |\n", s.name.c_str(), s.unit.c_str(),
               "n/a", "n/a", "n/a", "n/a", "n/a");
        return;
    }
    printf("| %-28s | %-4s | %9.1f | %9.1f | %9.1f | %9.1f | %9.1f |\n", s.name.c_str(),
           s.unit.c_str(), percentile(s.v, 50), percentile(s.v, 90), percentile(s.v, 99),
           *std::min_element(s.v.begin(), s.v.end()), *std::max_element(s.v.begin(), s.v.end()));
}

RunResult spawn(const std::vector<std::string>& argv) {
    RunOptions o;
    o.argv = argv;
    o.timeout = std::chrono::seconds(30);
    return run_process(o);
}

bool check_run(const RunResult& r, const char* what, const std::string& expect_out) {
    if (r.exited && r.exit_code == 0 && r.out == expect_out) return true;
    fprintf(stderr, "boot_bench: %s run failed: %s\n", what, describe(r).c_str());
    return false;
}

// Benchmarks one program; returns the number of failed runs.
int bench_program(const std::string& ember_vm, const std::string& program, int runs, int warmup) {
    const std::vector<std::string> vm_argv{ember_vm, "run", "--stats", program};
    const std::vector<std::string> native_argv{program};

    auto reference = spawn(native_argv);
    if (!reference.exited || reference.exit_code != 0) {
        fprintf(stderr, "boot_bench: native %s failed: %s\n", program.c_str(),
                describe(reference).c_str());
        return runs;
    }
    const std::string expect_out = reference.out;
    for (int i = 0; i < warmup; i++) {
        spawn(vm_argv);
        spawn(native_argv);
    }

    Series whole{"ember-vm run (whole process)", "us", {}};
    std::map<std::string, Series> vmm;
    const char* vmm_keys[] = {"create_us", "first_insn_us", "run_us", "total_us"};
    for (const char* k : vmm_keys) vmm[k] = Series{std::string("  in VMM: ") + k, "us", {}};
    Series native{"native (same binary)", "us", {}};
    Series exits{"exits per run", "", {}}, syscalls{"syscalls per run", "", {}};
    Series rss{"ember-vm peak RSS", "KiB", {}};
    int failed = 0;

    for (int i = 0; i < runs; i++) {
        // Alternate the order so neither side always runs on a warmer cache.
        RunResult vm, nat;
        if (i % 2 == 0) {
            vm = spawn(vm_argv);
            nat = spawn(native_argv);
        } else {
            nat = spawn(native_argv);
            vm = spawn(vm_argv);
        }
        if (check_run(nat, "native", expect_out))
            native.v.push_back(nat.wall_ms * 1000);
        else
            failed++;
        if (!check_run(vm, "ember-vm", expect_out)) {
            failed++;
            continue;
        }
        whole.v.push_back(vm.wall_ms * 1000);
        rss.v.push_back(static_cast<double>(vm.maxrss_kb));
        auto st = parse_stats(vm.err);
        for (const char* k : vmm_keys)
            if (st.count(k)) vmm[k].v.push_back(st[k]);
        if (st.count("exits")) exits.v.push_back(st["exits"]);
        if (st.count("syscalls")) syscalls.v.push_back(st["syscalls"]);
    }

    printf("\n### %s (%d runs, %d warm-up, %d failed)\n\n", program.c_str(), runs, warmup, failed);
    printf("| %-28s | %-4s | %9s | %9s | %9s | %9s | %9s |\n", "measure", "unit", "median", "p90",
           "p99", "min", "max");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(6, '-').c_str(),
           std::string(11, '-').c_str(), std::string(11, '-').c_str(), std::string(11, '-').c_str(),
           std::string(11, '-').c_str(), std::string(11, '-').c_str());
    print_row(whole);
    for (const char* k : vmm_keys) print_row(vmm[k]);
    print_row(native);
    print_row(exits);
    print_row(syscalls);
    print_row(rss);
    if (!whole.v.empty() && !native.v.empty()) {
        printf("\nember-vm / native median: %.1fx (%.0f us more)\n",
               percentile(whole.v, 50) / percentile(native.v, 50),
               percentile(whole.v, 50) - percentile(native.v, 50));
    }
    fflush(stdout);
    return failed;
}

[[noreturn]] void usage() {
    fprintf(stderr,
            "usage: boot_bench [--runs N] [--warmup N] [--ember-vm PATH] [--program PATH]...\n");
    exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 100, warmup = 5;
    std::string ember_vm = EMBER_VM_PATH;
    std::vector<std::string> programs;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage();
        if (a == "--runs")
            runs = atoi(argv[++i]);
        else if (a == "--warmup")
            warmup = atoi(argv[++i]);
        else if (a == "--ember-vm")
            ember_vm = argv[++i];
        else if (a == "--program")
            programs.push_back(argv[++i]);
        else
            usage();
    }
    if (runs < 1 || warmup < 0) usage();
    if (programs.empty()) {
        programs = {std::string(EMBER_EXAMPLES_GCC_DIR) + "/hello",
                    std::string(EMBER_EXAMPLES_MUSL_DIR) + "/hello"};
    }
    printf("## boot_bench: boot-to-exit, %s\n", ember_vm.c_str());
    printf(
        "(times in microseconds; whole process and native are spawn-to-reap in this process;\n"
        " 'in VMM' values come from ember-vm --stats)\n");
    int failed = 0;
    for (const auto& p : programs) failed += bench_program(ember_vm, p, runs, warmup);
    if (failed) fprintf(stderr, "boot_bench: %d runs failed\n", failed);
    return failed ? 1 : 0;
}
