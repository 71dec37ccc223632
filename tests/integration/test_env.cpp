// test_env.cpp - shared helpers of the integration tests.
#include "test_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef EMBER_VM_PATH
#error "EMBER_VM_PATH must be defined by the build"
#endif

namespace ember::test {

std::string ember_vm_path() {
    const char* over = getenv("EMBER_VM");  // to test another build of ember-vm
    return over && *over ? over : EMBER_VM_PATH;
}

std::string example_path(const std::string& libc, const std::string& name) {
    if (libc == "musl") return std::string(EMBER_EXAMPLES_MUSL_DIR) + "/" + name;
    return std::string(EMBER_EXAMPLES_GCC_DIR) + "/" + name;
}

std::string busybox_path() { return EMBER_BUSYBOX; }

bool kvm_available() { return access("/dev/kvm", R_OK | W_OK) == 0; }

RunResult run_ember(const std::vector<std::string>& args) {
    RunOptions o;
    o.argv.push_back(ember_vm_path());
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.inherit_env = true;  // ember-vm's own environment; the guest's is empty
    return run_process(o);
}

RunResult run_native(const std::vector<std::string>& argv, const std::string& cwd,
                     const std::vector<std::string>& env) {
    RunOptions o;
    o.argv = argv;
    o.cwd = cwd;
    o.env = env;
    return run_process(o);
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

::testing::AssertionResult RejectedWithOneLine(const RunResult& r, std::vector<int> codes) {
    if (!r.started || !r.exited) {
        return ::testing::AssertionFailure() << "ember-vm did not exit normally: " << describe(r);
    }
    bool code_ok = false;
    std::string want;
    for (int c : codes) {
        code_ok |= r.exit_code == c;
        want += (want.empty() ? "" : " or ") + std::to_string(c);
    }
    if (!code_ok) {
        return ::testing::AssertionFailure() << "want status " << want << ", got " << describe(r);
    }
    auto lines = split_lines(r.err);
    if (lines.size() != 1 || r.err.back() != '\n' || lines[0].rfind("ember-vm: ", 0) != 0) {
        return ::testing::AssertionFailure()
               << "want exactly one stderr line starting with \"ember-vm: \", got " << describe(r);
    }
    return ::testing::AssertionSuccess() << "rejected: " << lines[0];
}

TempDir::TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ember-it-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        perror("mkdtemp");
        abort();
    }
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& contents, unsigned mode) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    f.close();
    if (!f || chmod(path.c_str(), mode) != 0) {
        ADD_FAILURE() << "cannot write " << path;
    }
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

uint64_t fnv1a64(const std::string& data) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

void set_mtime(const std::string& path, int64_t seconds) {
    struct timespec ts[2] = {{seconds, 0}, {seconds, 0}};
    if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
        ADD_FAILURE() << "utimensat " << path;
    }
}

void EmberTest::SetUp() {
    if (!kvm_available()) {
        static bool warned = false;
        if (!warned) {
            fprintf(stderr,
                    "\n*** /dev/kvm is not available to this user: SKIPPING every Ember "
                    "integration test (they boot real microVMs). ***\n\n");
            warned = true;
        }
        GTEST_SKIP() << "/dev/kvm is not available: Ember integration tests need KVM";
    }
    ASSERT_EQ(access(ember_vm_path().c_str(), X_OK), 0)
        << ember_vm_path() << " is missing or not executable: build ember-vm first";
    // Built root filesystems go to a cache shared by the test processes
    // (bounded, safe with concurrent runs), not to the user's ~/.cache.
    if (!getenv("EMBER_CACHE_DIR")) {
        const char* tmp = getenv("TMPDIR");
        setenv("EMBER_CACHE_DIR",
               (std::string(tmp && *tmp ? tmp : "/tmp") + "/ember-test-cache").c_str(), 1);
    }
}

uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

int shell_status(const RunResult& r) { return r.exited ? r.exit_code : 128 + r.term_signal; }

void expect_as_native(const std::vector<std::string>& argv,
                      const std::vector<std::string>& vm_flags) {
    RunResult native = run_native(argv);
    ASSERT_TRUE(native.started) << describe(native);
    for (bool patch : {true, false}) {
        std::vector<std::string> args = {"run", "--timeout", "20s"};
        args.insert(args.end(), vm_flags.begin(), vm_flags.end());
        if (!patch) args.push_back("--no-syscall-patch");
        args.push_back(argv[0]);
        if (argv.size() > 1) {
            args.push_back("--");
            args.insert(args.end(), argv.begin() + 1, argv.end());
        }
        RunResult r = run_ember(args);
        EXPECT_TRUE(r.exited) << describe(r);
        EXPECT_EQ(r.exit_code, shell_status(native)) << describe(r);
        EXPECT_EQ(r.out, native.out) << (patch ? "patched" : "trapped") << "\n" << r.err;
    }
}

}  // namespace ember::test
