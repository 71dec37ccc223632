// test_env.h - what the integration tests share: where ember-vm and the
// example binaries are, the KVM check, running ember-vm and native programs,
// temporary directories and small file helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "subprocess.h"

namespace ember::test {

// Paths baked in by tests/integration/CMakeLists.txt; $EMBER_VM overrides the
// path of ember-vm.
std::string ember_vm_path();
// The example `name` built with `libc` ("gcc" or "musl").
std::string example_path(const std::string& libc, const std::string& name);
// A loopback TCP port that was free a moment ago.
uint16_t free_port();
std::string busybox_path();

// /dev/kvm exists and is readable and writable by this process.
bool kvm_available();

// Runs ember-vm with `args` (ember-vm's own argv without argv[0]).
RunResult run_ember(const std::vector<std::string>& args);
// Runs a program natively with a fixed, small environment (no inherited
// variables) and an optional working directory.
RunResult run_native(const std::vector<std::string>& argv, const std::string& cwd = "",
                     const std::vector<std::string>& env = {});

std::vector<std::string> split_lines(const std::string& s);

// The exit status a shell sees: 128 + the signal for a native process
// killed by one, which is what ember-vm exits with for its guest.
int shell_status(const RunResult& r);

// Runs argv natively, then under `ember-vm run` (with vm_flags, a 20 s
// timeout), once with patched syscall sites and once with
// --no-syscall-patch: each must print the same stdout and end with the same
// status as the native run.
void expect_as_native(const std::vector<std::string>& argv,
                      const std::vector<std::string>& vm_flags = {});

// ember-vm rejected its input: a normal exit with one of `codes`, and stderr is
// exactly one line that starts with "ember-vm: ".
::testing::AssertionResult RejectedWithOneLine(const RunResult& r, std::vector<int> codes);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents by the
// destructor.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& contents, unsigned mode = 0644);
std::string read_file(const std::string& path);
uint64_t fnv1a64(const std::string& data);
// Sets a file's or directory's mtime and atime (seconds since the epoch).
void set_mtime(const std::string& path, int64_t seconds);

// Base fixture: skips (loudly) when /dev/kvm is unavailable and fails when
// ember-vm has not been built.
class EmberTest : public ::testing::Test {
  protected:
    void SetUp() override;
};

}  // namespace ember::test
