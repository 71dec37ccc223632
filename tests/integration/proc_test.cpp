// proc_test.cpp - /proc and /sys in the guest: examples/proc_read states
// the same facts natively and in ember-vm (with either libc, patched
// syscall sites or not), its CPU count and MemTotal are the VM's (one vCPU,
// --mem), and Debian's busybox-static reads the files as on Linux.
#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class ProcTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

// proc_read's output without its "= " value lines, and those values by key.
struct ProcFacts {
    std::string facts;
    std::vector<std::pair<std::string, std::string>> values;
};
ProcFacts split_facts(const std::string& out) {
    ProcFacts f;
    for (const std::string& line : split_lines(out)) {
        if (line.rfind("= ", 0) == 0) {
            size_t sp = line.find(' ', 2);
            f.values.emplace_back(line.substr(2, sp - 2),
                                  sp == std::string::npos ? "" : line.substr(sp + 1));
        } else {
            f.facts += line + "\n";
        }
    }
    return f;
}
std::string value(const ProcFacts& f, const std::string& key) {
    for (const auto& [k, v] : f.values)
        if (k == key) return v;
    return "<missing>";
}

TEST_P(ProcTest, ProcReadStatesTheSameFactsAsNatively) {
    const std::string prog = example_path(GetParam(), "proc_read");
    RunResult native = run_native({prog});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    const ProcFacts want = split_facts(native.out);
    ASSERT_EQ(want.facts.find(": no\n"), std::string::npos) << "natively:\n" << native.out;
    for (bool patch : {true, false}) {
        std::vector<std::string> args = {"run"};
        if (!patch) args.push_back("--no-syscall-patch");
        args.push_back(prog);
        RunResult r = run_ember(args);
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        const ProcFacts got = split_facts(r.out);
        EXPECT_EQ(got.facts, want.facts) << (patch ? "patched" : "trapped") << "\n" << r.err;
        EXPECT_EQ(value(got, "cpus"), "1");
        EXPECT_EQ(value(got, "memtotal_kb"), "65536");  // the default --mem 64M
    }
}

TEST_P(ProcTest, MemTotalIsTheMemOption) {
    RunResult r = run_ember({"run", "--mem", "96M", example_path(GetParam(), "proc_read")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(value(split_facts(r.out), "memtotal_kb"), "98304");
}

INSTANTIATE_TEST_SUITE_P(Libc, ProcTest, ::testing::Values("gcc", "musl"));

class ProcBusyboxTest : public EmberTest {
  protected:
    RunResult busybox(const std::vector<std::string>& args) {
        std::vector<std::string> vm{"run", busybox_path(), "--"};
        vm.insert(vm.end(), args.begin(), args.end());
        return run_ember(vm);
    }
};

TEST_F(ProcBusyboxTest, NprocSaysOneCpu) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"nproc"}, {"nproc", "--all"}}) {
        RunResult r = busybox(args);
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        EXPECT_EQ(r.out, "1\n");
    }
    RunResult r = busybox({"cat", "/sys/devices/system/cpu/online"});
    EXPECT_EQ(r.out, "0\n") << describe(r);
}

TEST_F(ProcBusyboxTest, FreeShowsTheVmMemory) {
    RunResult r = run_ember({"run", "--mem", "128M", busybox_path(), "--", "free"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    std::vector<std::string> lines = split_lines(r.out);
    ASSERT_GE(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[1].rfind("Mem:", 0), 0u) << r.out;
    EXPECT_NE(lines[1].find(" 131072 "), std::string::npos) << r.out;  // total, in KiB
}

TEST_F(ProcBusyboxTest, PsListsTheOneProcess) {
    RunResult r = busybox({"ps"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    std::vector<std::string> lines = split_lines(r.out);
    ASSERT_EQ(lines.size(), 2u) << r.out;
    EXPECT_EQ(lines[0].rfind("PID ", 0), 0u) << r.out;
    EXPECT_EQ(lines[1].rfind("    1 ", 0), 0u) << r.out;
    EXPECT_NE(lines[1].find("/bin/busybox ps"), std::string::npos) << r.out;
}

TEST_F(ProcBusyboxTest, StatusAndMapsHaveWhatRuntimesParse) {
    RunResult r = busybox({"cat", "/proc/self/status"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    for (const char* line : {"Name:\tbusybox\n", "State:\tR (running)\n", "Tgid:\t1\n", "Pid:\t1\n",
                             "PPid:\t0\n", "Threads:\t1\n", "Cpus_allowed_list:\t0\n"})
        EXPECT_NE(r.out.find(line), std::string::npos) << line << r.out;
    for (const char* key : {"\nVmSize:", "\nVmRSS:", "\nVmStk:", "\nSigQ:", "\nSigBlk:",
                            "\nCapEff:", "\nMems_allowed_list:"})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << r.out;

    r = busybox({"cat", "/proc/self/maps"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    bool text = false, heap = false, stack = false;
    for (const std::string& l : split_lines(r.out)) {
        text |= l.find(" r-xp ") != std::string::npos && l.ends_with(" /bin/busybox");
        heap |= l.ends_with(" [heap]");
        stack |= l.find(" rw-p ") != std::string::npos && l.ends_with(" [stack]");
    }
    EXPECT_TRUE(text && heap && stack) << r.out;
}

}  // namespace
}  // namespace ember::test
