// sockets_test.cpp - sockets served inside the instance, each example
// compared with a native run of the same binary (both C libraries):
// AF_UNIX (examples/unix_sockets.c), loopback TCP and UDP
// (examples/loopback_sockets.c).
#include <string>

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

INSTANTIATE_TEST_SUITE_P(Libc, LocalSocketsTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
