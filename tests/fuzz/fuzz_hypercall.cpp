// libFuzzer entry point for the VMM's hypercall handling
// (src/vmm/hypercalls.cpp), driven on the host as tests/unit/hypercall_test
// does: a hostile guest writes anything anywhere in its memory (argument
// structs, the boot-info page, the console and stdin rings) and makes
// hypercalls with any number and argument address. The input is a script of
// HcOp operations (fuzz_input.h); the run ends when a call ends the VM.
//
// Waits never block: the wall-clock deadline has passed and the stop flag
// is set. Besides crashes and sanitizer reports it fails when a call leaves
// a status the ABI does not define, when console output breaks the record
// limits, or when guest text reaches a log line or crash message unfiltered.
#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "abi/ember_abi.h"
#include "fuzz_input.h"
#include "vmm/hypercalls.h"

using namespace ember;
using namespace ember::fuzz;

namespace {

constexpr uint64_t kMemSize = EMBER_GPA_APP_MIN;  // everything the ABI places in memory
constexpr int kMaxOps = 1024;

void check_printable(const std::string& s) {
    for (char c : s) FUZZ_CHECK(c == '\n' || (c >= 0x20 && c <= 0x7e));
}

bool known_status(int64_t s) {
    return s == EMBER_OK || s == EMBER_EFAULT || s == EMBER_EINVAL || s == EMBER_ENOSYS ||
           s == EMBER_EAGAIN;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static std::vector<uint8_t> ram(kMemSize);
    std::memset(ram.data(), 0, ram.size());
    GuestMemory mem = GuestMemory::wrap(ram.data(), ram.size());
    VmConfig cfg;
    cfg.console = [](int fd, const char*, size_t len) {
        FUZZ_CHECK((fd == 1 || fd == 2) && len <= EMBER_CONSOLE_RECORD_MAX);
    };
    cfg.log = check_printable;
    VmStats stats;
    StreamHost net(mem, cfg.net, cfg.log);
    HypercallContext hc(mem, cfg, stats, /*wall_deadline=*/1, /*vcpu_fd=*/-1, net);
    const std::atomic<bool> stop{true};
    hc.set_stop_flag(&stop);

    Input in(data, size);
    for (int ops = 0; !in.empty() && ops < kMaxOps; ++ops) {
        switch (in.u8() % kHcOpCount) {
            case kHcWrite: {
                const uint64_t gpa = in.u32() % kMemSize;
                size_t n;
                const uint8_t* p = in.bytes(in.u16(), &n);
                if (n > kMemSize - gpa) n = kMemSize - gpa;
                std::memcpy(ram.data() + gpa, p, n);
                break;
            }
            case kHcCall: {
                const uint32_t nr = in.u8();
                const uint64_t arg = in.u64();
                HypercallAction a = hc.dispatch(nr, arg);
                // At a ready point the VMM takes the snapshot, then completes the call.
                if (a.ready_point) a = hc.complete_ready(nr, arg);
                check_printable(a.message);
                if (a.done) return 0;  // the VM ends here
                int64_t status;
                std::memcpy(&status,
                            ram.data() + EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, hc_status),
                            sizeof status);
                FUZZ_CHECK(known_status(status));
                break;
            }
            case kHcWantReady:
                hc.set_want_ready(in.u8() & 1);
                break;
            case kHcStdin:
                hc.read_stdin_now();
                break;
            case kHcConsole:
                hc.drain_console();
                break;
        }
    }
    return 0;
}
