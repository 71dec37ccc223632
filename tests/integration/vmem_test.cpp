// Virtual memory in the guest kernel: reservations larger than the guest's
// memory, committed by mprotect or MAP_FIXED, enforced protections with
// Linux's SIGSEGV codes, MADV_DONTNEED, /proc/self/maps and fork of such
// mappings give the same output and exit status as natively, with either
// libc (examples/vmem.c).
#include "test_env.h"

namespace ember::test {
namespace {

class VmemTest : public EmberTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(VmemTest, ReservationsProtectionsDontneedMapsAndForkAsNatively) {
    expect_as_native({example_path(GetParam(), "vmem")});
}

// --mem 16M is far below the 17 GiB the program reserves.
TEST_P(VmemTest, ReservationsTakeNoGuestMemory) {
    RunResult r = run_ember({"run", "--mem", "16M", example_path(GetParam(), "vmem")});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << describe(r);
    EXPECT_NE(r.out.find("reserve 4 GiB #3: ok\n"), std::string::npos) << r.out;
}

// mprotect inside a malloc'd block and a plain read-write mmap (memory in
// the identity-mapped pool): guard pages and read-only pages fault, and
// syscalls get EFAULT, as natively.
TEST_P(VmemTest, GuardPagesInMallocAndMmapMemoryFaultAsNatively) {
    expect_as_native({example_path(GetParam(), "guard_pages")});
}

INSTANTIATE_TEST_SUITE_P(Libc, VmemTest, ::testing::Values("gcc", "musl"));

}  // namespace
}  // namespace ember::test
