// sockets_test.cpp - sockets served inside the instance, each compared with
// a native run of the same binary: AF_UNIX (examples/unix_sockets.c),
// loopback TCP and UDP (examples/loopback_sockets.c), both C libraries;
// Debian's busybox nc between two processes over loopback TCP, and Debian's
// python3 (socketpair, AF_UNIX, loopback TCP and UDP, fd passing, asyncio
// servers, multiprocessing's Listener with a forked client).
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "test_env.h"

namespace ember::test {
namespace {

class LocalSocketsTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(LocalSocketsTest, UnixSocketsBehaveAsNatively) {
    expect_as_native({example_path(GetParam(), "unix_sockets")});
}

TEST_P(LocalSocketsTest, LoopbackTcpAndUdpBehaveAsNatively) {
    expect_as_native({example_path(GetParam(), "loopback_sockets")});
}

// Queued socket data is guest memory: a snapshot taken at READY carries it.
TEST_P(LocalSocketsTest, SnapshotCarriesQueuedUnixSocketData) {
    TempDir dir;
    const std::string snap = dir / "u.snap";
    RunResult made = run_ember({"run", "--snapshot-out", snap,
                                example_path(GetParam(), "unix_sockets"), "--", "snapshot"});
    ASSERT_TRUE(made.exited && made.exit_code == 0) << describe(made);
    for (const std::string input : {"first\n", "second\n"}) {
        write_file(dir / "in", input);
        RunResult r = run_ember({"restore", "--stdin", dir / "in", snap});
        ASSERT_TRUE(r.exited && r.exit_code == 0) << describe(r);
        const std::string want =
            "stream 18 'queued in a stream'\ndatagram 15 'queued datagram'\nechoed " + input;
        EXPECT_EQ(r.out, want) << r.err;
    }
}

INSTANTIATE_TEST_SUITE_P(Libc, LocalSocketsTest, ::testing::Values("gcc", "musl"));

class SocketProgramsTest : public EmberTest {};

// Runs a script with busybox sh natively and in a microVM whose root fs
// holds busybox at /bin/busybox; stdout and status must agree. make_script
// gives the script; when native_must_contain is set, a native run without
// it (a host port another test took meanwhile) is retried with a fresh
// script, up to three times, before the comparison.
void ExpectBusyboxScriptAsNative(const std::function<std::string()>& make_script,
                                 const std::string& native_must_contain = "") {
    TempDir root;
    write_file(root / "bin/busybox", read_file(busybox_path()), 0755);
    std::string full;
    RunResult native;
    for (int attempt = 0; attempt < 3; attempt++) {
        full = "PATH=/bin:$PATH; " + make_script();
        native = run_native({busybox_path(), "sh", "-c", full}, root.path());
        ASSERT_TRUE(native.exited) << describe(native);
        if (native.out.find(native_must_contain) != std::string::npos) break;
    }
    auto vm = run_ember({"run", "--timeout", "30s", "--rootfs", root.path(), root / "bin/busybox",
                         "--", "sh", "-c", full});
    EXPECT_EQ(vm.out, native.out) << describe(vm);
    EXPECT_EQ(shell_status(vm), shell_status(native)) << describe(vm);
}

TEST_F(SocketProgramsTest, BusyboxNcTalksToItsOwnListenerAsNatively) {
    // The client retries until the listener (a background process) is up (up
    // to 20 s: a loaded CI host may take seconds to start the listener).
    ExpectBusyboxScriptAsNative(
        [] {
            const std::string port = std::to_string(free_port());
            return "busybox nc -l -p " + port + " > /tmp/ember-nc-out.$$ & i=0; " +
                   "until echo hello over nc | busybox nc 127.0.0.1 " + port +
                   " 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.1; done; wait; " +
                   "cat /tmp/ember-nc-out.$$; rm -f /tmp/ember-nc-out.$$; echo tries ok $((i < "
                   "200))";
        },
        "hello over nc");
}

// Debian's python3 with its standard library in a root fs tree.
TEST_F(SocketProgramsTest, Python3SocketsAsNatively) {
    const std::string py = "/usr/bin/python3";
    if (access(py.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << py;
    TempDir root;
    const std::string copy =
        "set -e; cd '" + root.path() + "'; mkdir -p usr/bin usr/lib; cp -L " + py +
        " usr/bin/python3; for l in $(ldd " + py +
        " | grep -o '/[^ ]*'); do mkdir -p .$(dirname $l); cp -L $l .$l; done; " + "v=$(" + py +
        " -c 'import sys; print(\"python%d.%d\" % sys.version_info[:2])'); " +
        "cp -a /usr/lib/$v usr/lib/; rm -rf usr/lib/$v/test usr/lib/$v/idlelib " +
        "usr/lib/$v/tkinter usr/lib/$v/ensurepip usr/lib/$v/lib2to3";
    ASSERT_EQ(std::system(copy.c_str()), 0);
    const std::string script = R"(
import array, os, socket, threading
a, b = socket.socketpair()
a.sendall(b"over a socketpair")
print(b.recv(64))
name = "\0ember-py-%d" % os.getpid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(name); s.listen()
c = socket.socket(socket.AF_UNIX); c.connect(name)
k, _ = s.accept(); c.sendall(b"unix ok"); print(k.recv(64))
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
def serve():
    x, _ = l.accept(); x.sendall(x.recv(100).upper()); x.close()
t = threading.Thread(target=serve); t.start()
y = socket.create_connection(("127.0.0.1", l.getsockname()[1]))
y.sendall(b"tcp to myself"); print(y.recv(100)); t.join()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"udp", u.getsockname())
d, addr = u.recvfrom(100); print(d, addr[0], addr[1] == v.getsockname()[1])
r, w = socket.socketpair()
socket.send_fds(r, [b"x"], [os.open("/", os.O_RDONLY)])
msg, fds, flags, _ = socket.recv_fds(w, 10, 4)
print(msg, len(fds), flags, os.path.isdir("/proc/self/fd/%d" % fds[0]))
import asyncio, multiprocessing as mp
from multiprocessing.connection import Client, Listener
path = "/tmp/ember-py-%d.sock" % os.getpid()
async def handle(r, w):
    w.write((await r.readline()).upper()); await w.drain(); w.close()
async def main():
    srv = await asyncio.start_unix_server(handle, path=path)
    r, w = await asyncio.open_unix_connection(path)
    w.write(b"asyncio over unix\n"); print(await r.readline()); w.close()
    srv.close(); await srv.wait_closed(); os.unlink(path)
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    r, w = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    w.write(b"asyncio over tcp\n"); print(await r.readline()); w.close()
    srv.close(); await srv.wait_closed()
asyncio.run(main())
with Listener(path, family="AF_UNIX") as l:
    p = mp.get_context("fork").Process(target=lambda: Client(path).send({"sq": [1, 4, 9]}))
    p.start()
    with l.accept() as c: print("from a forked process:", c.recv())
    p.join(); print("exit", p.exitcode)
)";
    write_file(root / "t.py", script);
    auto native = run_native({py, root / "t.py"});
    ASSERT_TRUE(native.exited) << describe(native);
    auto vm = run_ember({"run", "--timeout", "60s", "--mem", "256M", "--rootfs", root.path(),
                         root / "usr/bin/python3", "--", "/t.py"});
    EXPECT_EQ(vm.out, native.out) << describe(vm);
    EXPECT_EQ(shell_status(vm), shell_status(native)) << describe(vm);
}

}  // namespace
}  // namespace ember::test
