// Dynamically linked programs: the VMM loads the program and its
// interpreter, the root filesystem gets the interpreter and the libraries
// from the host (no --rootfs) or from the tree given, and Debian's own
// programs (perl, bash, sqlite3) give the same output and exit status as a
// native run. Default /etc files answer getpwnam and the hosts lookup.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "test_env.h"

namespace ember::test {
namespace {

class DynamicTest : public EmberTest {};

bool host_has(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

TEST_F(DynamicTest, PieProgramWithHostLibrariesAsNatively) {
    expect_as_native({example_path("gcc", "hello-dynamic")});
}

TEST_F(DynamicTest, NonPieProgramLinkedAt4MiBAsNatively) {
    expect_as_native({example_path("gcc", "hello-dynamic-nopie")});
}

// The first program's loader (placed by the VMM above the page pool) is
// copied at fork like the rest of its memory: a child's dlopen does not
// change the parent's link maps (it crashed the parent when they were
// shared).
TEST_F(DynamicTest, DlopenInAForkedChildLeavesTheParentsLoaderAlone) {
    char libm[PATH_MAX];
    ASSERT_NE(::realpath("/lib/x86_64-linux-gnu/libm.so.6", libm), nullptr);
    expect_as_native({example_path("gcc", "fork_dlopen")},
                     {"--file", std::string(libm) + ":/lib/x86_64-linux-gnu/libm.so.6"});
}

TEST_F(DynamicTest, DebianPerlAsNatively) {
    expect_as_native({"/usr/bin/perl", "-e",
                      "my %h = map { $_ => $_ * $_ } 1..10; print join(',', map { $h{$_} } sort "
                      "{ $a <=> $b } keys %h), \"\\n\"; printf(\"%.3f\\n\", atan2(1, 1) * 4); "
                      "exit 3"});
}

TEST_F(DynamicTest, DebianBashBuiltinsAsNatively) {
    expect_as_native({"/usr/bin/bash", "-c",
                      "x=0; for i in 1 2 3 4 5; do x=$((x+i*i)); done; declare -A m=([k]=v); "
                      "printf '%s %d %s\\n' sum $x ${m[k]}; exit 5"});
}

TEST_F(DynamicTest, DebianSqlite3AsNatively) {
    if (!host_has("/usr/bin/sqlite3")) GTEST_SKIP() << "sqlite3 is not installed (scripts/deps.sh)";
    expect_as_native({"/usr/bin/sqlite3", ":memory:",
                      "create table t(a, b); insert into t values (1, 'one'), (2, 'two'); "
                      "select b, a * 21 from t order by a; select count(*) from t;"});
}

TEST_F(DynamicTest, RootfsTreeSuppliesTheInterpreterAndLibraries) {
    // A tree holding the loader and libc at the same paths as the host, with
    // /lib64 a symlink into it as on Debian: the interpreter is found through
    // the tree's own symlinks.
    TempDir root;
    const std::string libdir = root / "usr/lib/x86_64-linux-gnu";
    ASSERT_EQ(
        system(("mkdir -p " + libdir + " && cp -L /lib/x86_64-linux-gnu/libc.so.6 " +
                "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 " + libdir + " && ln -s usr/lib64 " +
                root / "lib64" + " && mkdir -p " + root / "usr/lib64" +
                " && ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 " +
                root / "usr/lib64/ld-linux-x86-64.so.2" + " && ln -s usr/lib " + root / "lib")
                   .c_str()),
        0);
    RunResult r = run_ember({"run", "--rootfs", root.path(), example_path("gcc", "hello-dynamic")});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "Hello from Ember!\n") << r.err;
}

TEST_F(DynamicTest, DefaultEtcFilesAnswerUserAndHostLookups) {
    // busybox-static reads /etc/passwd and /etc/group itself.
    RunResult r = run_ember({"run", busybox_path(), "--", "id", "nobody"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n") << r.err;
    RunResult hosts = run_ember({"run", busybox_path(), "--", "cat", "/etc/hosts"});
    EXPECT_NE(hosts.out.find("127.0.0.1\tlocalhost"), std::string::npos) << describe(hosts);
}

TEST_F(DynamicTest, UserEtcFilesWin) {
    TempDir dir;
    write_file(dir / "passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/false\n");
    RunResult r = run_ember({"run", "--file", dir / "passwd" + ":/etc/passwd", busybox_path(), "--",
                             "cat", "/etc/passwd"});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_EQ(r.out, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/false\n");
}

}  // namespace
}  // namespace ember::test
