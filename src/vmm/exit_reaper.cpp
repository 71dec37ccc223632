// exit_reaper.cpp - see exit_reaper.h.
#include "vmm/exit_reaper.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace ember {
namespace {

// The pipe whose write end only the exiting process holds: the reaper's
// read returns end-of-file once that process has closed its descriptors,
// which the kernel does after releasing its hold on the address space.
int g_pipe[2] = {-1, -1};

// The reaper's stack and scratch, in the shared address space (which
// outlives the process's exit: the reaper still uses it).
alignas(16) char g_stack[16 * 1024];
constexpr int kMaxScan = 4096;
pollfd g_scan[kMaxScan];
int g_scan_count = 0;
// Set by the reaper once nothing visible outside is open in its copy of
// the descriptor table; the process waits for it so that, when its exit is
// seen, its ports and pipes are already closed (as without a reaper).
std::atomic<uint32_t> g_released{0};

// Whether the reaper closes descriptor fd: whatever the world outside can
// observe (a terminal or a pipe still open, a port still bound, a device),
// and the pipe's write end. It keeps the KVM VM and vCPU descriptors (anon
// inodes), event and timer fds and files: closing them last is the
// teardown it exists to do.
bool visible_outside(int fd) {
    if (fd == g_pipe[0]) return false;
    if (fd <= STDERR_FILENO || fd == g_pipe[1]) return true;
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    return S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
}

long futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const timespec* ts) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, ts, nullptr, 0);
}

int reaper(void*) {
    // One poll finds the open descriptors (the others answer POLLNVAL).
    for (int fd = 0; fd < g_scan_count; ++fd) g_scan[fd] = {fd, 0, 0};
    if (poll(g_scan, static_cast<nfds_t>(g_scan_count), 0) >= 0) {
        for (int fd = 0; fd < g_scan_count; ++fd)
            if (!(g_scan[fd].revents & POLLNVAL) && visible_outside(fd)) close(fd);
    } else {
        for (int fd = 0; fd < g_scan_count; ++fd)
            if (visible_outside(fd)) close(fd);
    }
    g_released.store(1, std::memory_order_release);
    futex(&g_released, FUTEX_WAKE, 1, nullptr);
    // Nothing is ever written: the read ends at end-of-file (the process is
    // gone) or on an error.
    char c;
    (void)read(g_pipe[0], &c, 1);
    return 0;
}

}  // namespace

Status prepare_exit_reaper() {
    if (g_pipe[0] >= 0) return Status::ok();
    if (pipe2(g_pipe, O_CLOEXEC) != 0) return Status::internal("exit reaper: pipe2 failed");
    return Status::ok();
}

void exit_leaving_teardown(int status) {
    std::fflush(nullptr);
    // EMBER_VM_INLINE_TEARDOWN=1: the old way, for side-by-side benchmarks.
    const char* inline_teardown = std::getenv("EMBER_VM_INLINE_TEARDOWN");
    if (g_pipe[0] >= 0 && !(inline_teardown && *inline_teardown == '1')) {
        struct rlimit rl {};
        g_scan_count = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            g_scan_count = static_cast<int>(rl.rlim_cur < kMaxScan ? rl.rlim_cur : kMaxScan);
        // If the clone fails (a sandbox without the rule), the process
        // exits as always and tears the VM down itself.
        if (clone(reaper, g_stack + sizeof g_stack, static_cast<int>(kReaperCloneFlags), nullptr) >
            0) {
            // Bounded: a reaper that is not scheduled in time only delays
            // the closing of what it holds, never the exit.
            // (errno is not read: the reaper shares this thread's TLS.)
            const timespec slice{0, 20'000'000};
            for (int i = 0; i < 10 && g_released.load(std::memory_order_acquire) == 0; ++i)
                futex(&g_released, FUTEX_WAIT, 0, &slice);
        }
    }
    _exit(status);
}

}  // namespace ember
