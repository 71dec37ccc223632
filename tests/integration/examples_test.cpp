// examples_test.cpp - boots a microVM per test and runs the example programs
// of examples/, each built with gcc -static (glibc) and musl-gcc -static.
#include <algorithm>
#include <regex>

#include "ember_stats.h"
#include "test_env.h"

namespace ember::test {
namespace {

class ExampleTest : public EmberTest, public ::testing::WithParamInterface<std::string> {
  protected:
    std::string prog(const std::string& name) const { return example_path(GetParam(), name); }
};

TEST_P(ExampleTest, HelloPrintsGreetingAndExitsZero) {
    auto r = run_ember({"run", prog("hello")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "Hello from Ember!\n") << describe(r);
    EXPECT_EQ(r.err, "") << describe(r);
}

TEST_P(ExampleTest, StatsReportTimingsExitsAndSyscalls) {
    auto r = run_ember({"run", "--stats", prog("hello")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "Hello from Ember!\n") << describe(r);
    auto stats = parse_stats(r.err);
    for (const char* key :
         {"create_us", "first_insn_us", "run_us", "total_us", "exits", "syscalls"}) {
        ASSERT_TRUE(stats.count(key)) << "missing stats key " << key << "\n" << describe(r);
        EXPECT_GE(stats[key], 0) << key;
    }
    EXPECT_GE(stats["exits"], 1) << describe(r);
    EXPECT_GE(stats["syscalls"], 2) << "hello makes at least write and exit_group\n" << describe(r);
    EXPECT_LE(stats["create_us"], stats["total_us"]) << describe(r);
    EXPECT_LE(stats["run_us"], stats["total_us"]) << describe(r);
}

TEST_P(ExampleTest, ArgvAndEnvironmentReachTheProgram) {
    const std::string p = prog("echo_args");
    auto r = run_ember({"run", "--env", "GREETING=hello world", "--env", "EMPTY=", "--env", "X=1=2",
                        "--env", "HOME=/srv", p, "--", "one", "two words", "", "--not-an-option"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    // argv[0] is where the program is in the guest; a HOME of its own is
    // kept, PATH is added.
    EXPECT_EQ(r.out,
              "argc=5\n"
              "argv[0]=/bin/echo_args\n"
              "argv[1]=one\n"
              "argv[2]=two words\n"
              "argv[3]=\n"
              "argv[4]=--not-an-option\n"
              "env[0]=GREETING=hello world\n"
              "env[1]=EMPTY=\n"
              "env[2]=X=1=2\n"
              "env[3]=HOME=/srv\n"
              "env[4]=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
        << describe(r);
}

// Without --env a program gets only what a container runtime gives: PATH
// and HOME=/root (issue 9).
TEST_P(ExampleTest, DefaultEnvironmentIsPathAndHome) {
    auto r = run_ember({"run", prog("echo_args")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out,
              "argc=1\nargv[0]=/bin/echo_args\n"
              "env[0]=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
              "env[1]=HOME=/root\n")
        << describe(r);
}

// The vDSO: libc's clock calls read the clock in user mode (no syscall),
// consistent with the syscall's, as natively.
TEST_P(ExampleTest, VdsoClocksAsNativelyWithoutSyscalls) {
    expect_as_native({prog("vdso_clock")});
    auto r = run_ember({"run", "--stats", prog("vdso_clock")});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    auto stats = parse_stats(r.err);
    // 100,000 vDSO reads and 1,001 direct syscalls: about 1,000 in all.
    EXPECT_LT(stats["syscalls"], 1500) << describe(r);
}

TEST_P(ExampleTest, ExitStatusPropagates) {
    for (auto [arg, want] : std::vector<std::pair<std::string, int>>{
             {"0", 0}, {"1", 1}, {"42", 42}, {"255", 255}, {"256", 0}}) {
        SCOPED_TRACE("exit_status " + arg);
        auto r = run_ember({"run", prog("exit_status"), "--", arg});
        ASSERT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, want) << describe(r);
    }
}

std::string files_expected_head(const std::string& guest_path, const std::string& data) {
    char line[256];
    snprintf(line, sizeof line, "file %s: size=%zu fnv1a=%016llx\n", guest_path.c_str(),
             data.size(), static_cast<unsigned long long>(fnv1a64(data)));
    return line;
}

const char* kFilesTail =
    "tmp write/re-read: 100000 bytes ok\n"
    "rename/unlink: ok\n"
    "readdir: alpha bravo charlie\n"
    "mkdir/readdir/unlink: ok\n"
    "OK\n";

std::string pseudo_random_bytes(size_t n, uint32_t seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        s[i] = static_cast<char>(seed >> 16);
    }
    return s;
}

TEST_P(ExampleTest, FilesFromFileOptionAndTmpRoundTrip) {
    TempDir dir;
    const std::string data = pseudo_random_bytes(70001, 7);
    write_file(dir / "input.bin", data);
    auto r = run_ember({"run", "--file", (dir / "input.bin") + ":/data/input.bin", prog("files"),
                        "--", "/data/input.bin"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, files_expected_head("/data/input.bin", data) + kFilesTail) << describe(r);
}

TEST_P(ExampleTest, FilesFromRootfsDirectory) {
    TempDir dir;
    const std::string data = pseudo_random_bytes(5000, 3);
    write_file(dir / "root/etc/motd", "welcome\n");
    write_file(dir / "root/srv/deep/er/blob.bin", data);
    auto r =
        run_ember({"run", "--rootfs", dir / "root", prog("files"), "--", "/srv/deep/er/blob.bin"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, files_expected_head("/srv/deep/er/blob.bin", data) + kFilesTail)
        << describe(r);
}

TEST_P(ExampleTest, FilesRootfsIsReadOnly) {
    // files writes its scratch files into argv[2]; / is the read-only root fs.
    TempDir dir;
    write_file(dir / "root/a.txt", "abc");
    auto r = run_ember({"run", "--rootfs", dir / "root", prog("files"), "--", "/a.txt", "/"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_NE(r.out.find("FAIL: create //x"), std::string::npos) << describe(r);
}

TEST_P(ExampleTest, MemstressTouches32MiB) {
    auto r = run_ember({"run", "--mem", "128M", prog("memstress")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "touched and verified 32 MiB\nfreed\nrealloc growth to 8 MiB ok\nOK\n")
        << describe(r);
}

TEST_P(ExampleTest, MemoryExhaustionIsENOMEMNotACrash) {
    auto r = run_ember({"run", "--mem", "16M", prog("memstress")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 1) << "memstress should see a failed allocation and exit 1\n"
                              << describe(r);
    EXPECT_NE(r.out.find("FAIL: m"), std::string::npos) << describe(r);
}

TEST_P(ExampleTest, FpmathOutputEqualsNativeRun) {
    auto native = run_native({prog("fpmath")});
    ASSERT_TRUE(native.exited && native.exit_code == 0) << describe(native);
    auto r = run_ember({"run", prog("fpmath")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, native.out) << "native:\n" << native.out << "\nember:\n" << describe(r);
    EXPECT_EQ(r.out.find("CLOBBERED"), std::string::npos) << describe(r);
}

TEST_P(ExampleTest, NullPointerWriteIsReportedAsCrash) {
    // 0x7b8: a field of a struct reached through a NULL pointer; page 0 is unmapped.
    auto r = run_ember({"run", prog("nullcrash"), "--", "0x7b8"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 139) << describe(r);
    EXPECT_EQ(r.out, "nullcrash: writing to 0x7b8\n") << describe(r);
    EXPECT_NE(r.err.find("ember-vm: guest crashed"), std::string::npos) << describe(r);
    EXPECT_TRUE(std::regex_search(r.err, std::regex("0x0*7b8\\b", std::regex::icase)))
        << "the crash report should name the faulting address 0x7b8\n"
        << describe(r);
}

TEST_P(ExampleTest, NullPointerAtAddressZero) {
    auto r = run_ember({"run", prog("nullcrash")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 139) << describe(r);
    EXPECT_EQ(r.err.rfind("ember-vm: guest crashed", 0), 0u)
        << "stderr should start with the crash report\n"
        << describe(r);
}

TEST_P(ExampleTest, EndlessLoopIsStoppedByTimeout) {
    auto r = run_ember({"run", "--timeout", "300ms", prog("spin")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 124) << describe(r);
    EXPECT_GE(r.wall_ms, 250) << describe(r);
    EXPECT_LT(r.wall_ms, 3000) << "300ms timeout took " << r.wall_ms << " ms\n" << describe(r);
}

TEST_P(ExampleTest, EndlessLoopIsStoppedByCpuLimit) {
    auto r = run_ember({"run", "--cpu-limit", "300ms", "--timeout", "20s", prog("spin")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 152) << describe(r);
    EXPECT_LT(r.wall_ms, 10000) << describe(r);
}

TEST_P(ExampleTest, UnimplementedSyscallGivesENOSYS) {
    auto r = run_ember({"run", prog("enosys")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "ENOSYS handled\nio_uring_setup: r=-1 ENOSYS\n") << describe(r);
}

TEST_P(ExampleTest, TraceSyscallsNamesUnimplementedSyscallsOnce) {
    auto r = run_ember({"run", "--trace-syscalls", prog("enosys")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("ENOSYS handled"), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("999"), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("io_uring_setup"), std::string::npos) << describe(r);
    EXPECT_NE(r.err.find("425"), std::string::npos) << describe(r);
    size_t first = r.err.find("io_uring_setup");
    EXPECT_EQ(r.err.find("io_uring_setup", first + 1), std::string::npos)
        << "reported more than once\n"
        << describe(r);
}

TEST_P(ExampleTest, HostileHypercallsGetErrorCodes) {
    auto r = run_ember({"run", prog("hostile"), "--", "--in-ember"});
    ASSERT_TRUE(r.exited) << "the VMM must survive a hostile guest\n" << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    std::map<std::string, long long> status;
    std::regex line_re("^([a-z0-9_x]+): (-?[0-9]+) .*$");
    for (const auto& line : split_lines(r.out)) {
        std::smatch m;
        if (std::regex_match(line, m, line_re)) status[m[1]] = std::stoll(m[2]);
    }
    EXPECT_NE(r.out.find("hostile: done\n"), std::string::npos) << describe(r);
    ASSERT_TRUE(status.count("random_ok")) << describe(r);
    EXPECT_EQ(status["random_ok"], 0) << describe(r);
    EXPECT_EQ(status["log_ok"], 0) << describe(r);
    for (const char* bad : {"random_buf_outside_memory", "random_buf_past_end", "random_len_huge",
                            "random_len_wraps", "random_struct_outside_memory",
                            "random_struct_straddles_end", "log_len_too_big", "log_len_huge"}) {
        ASSERT_TRUE(status.count(bad)) << bad << "\n" << describe(r);
        EXPECT_LT(status[bad], 0) << bad << " must fail with an error code\n" << describe(r);
    }
    for (const char* unknown : {"unknown_next", "unknown_0x40", "unknown_0xff"}) {
        ASSERT_TRUE(status.count(unknown)) << unknown << "\n" << describe(r);
        EXPECT_EQ(status[unknown], -3) << unknown << " must give EMBER_ENOSYS\n" << describe(r);
    }
}

bool only_printable_lines(const std::string& s) {
    for (unsigned char c : s)
        if (c != '\n' && (c < 0x20 || c > 0x7e)) return false;
    return true;
}

TEST_P(ExampleTest, HostileFatalHypercallsEndOnlyTheVm) {
    struct Case {
        const char* mode;
        std::vector<int> statuses;
        const char* stderr_mentions;
    };
    const Case cases[] = {
        {"port-outside-range", {125}, "port"},         {"port-read", {125}, "port"},
        {"exit-struct-outside-memory", {125}, "exit"}, {"panic-message-garbage", {134}, "panic"},
        {"crash-unknown-kind", {125, 134}, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.mode);
        auto r = run_ember({"run", prog("hostile"), "--", "--in-ember", c.mode});
        ASSERT_TRUE(r.exited) << "the VMM must survive a hostile guest\n" << describe(r);
        EXPECT_NE(std::find(c.statuses.begin(), c.statuses.end(), r.exit_code), c.statuses.end())
            << describe(r);
        EXPECT_EQ(r.err.rfind("ember-vm: ", 0), 0u) << describe(r);
        EXPECT_NE(r.err.find(c.stderr_mentions), std::string::npos) << describe(r);
        EXPECT_TRUE(only_printable_lines(r.err)) << "guest bytes must be sanitised\n"
                                                 << describe(r);
        EXPECT_EQ(r.out.find("unexpected"), std::string::npos) << describe(r);
    }
}

TEST_P(ExampleTest, HostileConsoleRingDamageIsSurvived) {
    auto r = run_ember({"run", prog("hostile"), "--", "--in-ember", "console-ring-garbage"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.err.find("console"), std::string::npos) << "the VMM should say what happened\n"
                                                        << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Libc, ExampleTest, ::testing::Values("gcc", "musl"),
                         [](const auto& info) { return info.param; });

class StaticPieTest : public EmberTest {};

TEST_F(StaticPieTest, StaticPieHelloRuns) {
    auto r = run_ember({"run", example_path("gcc", "hello-pie")});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "Hello from Ember!\n") << describe(r);
}

class CliTest : public EmberTest {};

TEST_F(CliTest, InfoNamesTheHostKind) {
    auto r = run_ember({"info"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(r.out.find("pvm") != std::string::npos ||
                r.out.find("hardware") != std::string::npos)
        << describe(r);
}

TEST_F(CliTest, VersionPrintsOneLine) {
    auto r = run_ember({"--version"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_FALSE(r.out.empty()) << describe(r);
}

TEST_F(CliTest, StdinFileReachesTheProgram) {
    TempDir dir;
    write_file(dir / "in.txt", "three\nlines\nhere\n");
    auto r = run_ember({"run", "--stdin", dir / "in.txt", busybox_path(), "--", "wc", "-l"});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "3\n") << describe(r);
}

}  // namespace
}  // namespace ember::test
