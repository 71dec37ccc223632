// kernel.h - the Ember guest kernel's internal API.
//
// The kernel is a freestanding C++ library OS that runs one static Linux
// executable. It runs at CPL 3 in the same address space as the application
// (see src/abi/ember_abi.h). Single vCPU; threads switch only inside the kernel at blocking calls
// (sched/sched.h), so there is no locking anywhere.
// Built with -fno-exceptions -fno-rtti -mgeneral-regs-only (no SSE: the
// application's vector registers survive syscalls untouched).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ember_abi.h"
#include "linux.h"

extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
}

namespace k {

size_t strnlen(const char* s, size_t max);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);

// ---- diagnostics ---------------------------------------------------------
// Formats like a tiny printf (%s %c %d %i %u %x %p %%, with l/ll/z length
// modifiers) and sends one line to the host through EMBER_HC_LOG.
void klog(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Ends the instance with a kernel crash report. Never returns.
[[noreturn]] void panic(const char* msg);

#define KSTR2(x) #x
#define KSTR(x) KSTR2(x)
// A check that never compiles out.
#define KCHECK(cond)                                                                        \
    do {                                                                                    \
        if (!(cond)) ::k::panic("check failed: " #cond " at " __FILE__ ":" KSTR(__LINE__)); \
    } while (0)

// ---- boot information and hypercalls -------------------------------------
ember_boot_info* boot();
// Issues hypercall `nr` with argument struct at GPA `arg`; returns hc_status.
int64_t hypercall(uint32_t nr, uint64_t arg);
[[noreturn]] void exit_instance(int status);

// ---- memory -------------------------------------------------------------
// Sets up the page pool from the boot info (call once, before any allocation).
void mm_init();
// Kernel heap: zeroed blocks, nullptr when memory is exhausted (callers turn
// that into -ENOMEM). kfree(nullptr) is a no-op.
void* kmalloc(size_t n);
void* kcalloc(size_t count, size_t size);  // nullptr on overflow too
void kfree(void* p);
// Page-granular allocation of guest memory for the application and for large
// kernel objects. Returned pages are zeroed. 0 when no range fits.
uint64_t pages_alloc(uint64_t npages);
void pages_free(uint64_t addr, uint64_t npages);
// Free guest memory, in bytes (for sysinfo).
uint64_t mem_free_bytes();

// ---- user memory ----------------------------------------------------------
// Application memory is [EMBER_GPA_APP_MIN, mem_size). A user pointer passed
// to a syscall must lie in it; anything else is -EFAULT, never a crash.
// Syscalls keep user addresses as uint64_t and reach them only through the
// helpers below, so a missing check cannot hide behind a plain dereference.
// Each returns 0 or -EFAULT; zero-length copies touch nothing and succeed.
bool user_ok(uint64_t addr, uint64_t len);
// user_ok for a range the kernel writes: above the identity map a
// read-only page is -EFAULT there, not a fault in the kernel.
bool user_ok_write(uint64_t addr, uint64_t len);
// Whether EMBER_SLOT_VA is mapped (syscall patching on).
inline bool slots_mapped() { return (boot()->flags & EMBER_FLAG_SYSCALL_PATCH) != 0; }
// Bytes of RAM (the rest of the identity map up to mem_size is the root
// filesystem's slot, which the kernel never writes).
inline uint64_t ram_size() {
    const uint64_t r = boot()->ram_size;
    return r && r <= boot()->mem_size ? r : boot()->mem_size;
}

[[nodiscard]] inline int64_t copy_to_user(uint64_t dst, const void* src, uint64_t n) {
    if (n == 0) return 0;
    if (!user_ok_write(dst, n)) return -EFAULT;
    memcpy(reinterpret_cast<void*>(dst), src, n);
    return 0;
}
[[nodiscard]] inline int64_t copy_from_user(void* dst, uint64_t src, uint64_t n) {
    if (n == 0) return 0;
    if (!user_ok(src, n)) return -EFAULT;
    memcpy(dst, reinterpret_cast<const void*>(src), n);
    return 0;
}
[[nodiscard]] inline int64_t clear_user(uint64_t dst, uint64_t n) {
    if (n == 0) return 0;
    if (!user_ok_write(dst, n)) return -EFAULT;
    memset(reinterpret_cast<void*>(dst), 0, n);
    return 0;
}
// One value of a fixed-size type (an int, a struct of the Linux ABI).
template <typename T>
[[nodiscard]] int64_t put_user(uint64_t dst, const T& v) {
    return copy_to_user(dst, &v, sizeof v);
}
template <typename T>
[[nodiscard]] int64_t get_user(T* v, uint64_t src) {
    return copy_from_user(v, src, sizeof *v);
}
// For bulk transfers that fill or drain a user buffer in place (read, write,
// send, recv, getdents, getrandom, epoll_wait), where a bounce copy would
// cost a second pass over the data: the checked range as a pointer the
// kernel may access for len bytes, or nullptr (the caller returns -EFAULT).
inline void* user_buffer(uint64_t addr, uint64_t len) {
    return user_ok(addr, len) ? reinterpret_cast<void*>(addr) : nullptr;
}
// The same for a buffer the kernel writes into (read-only pages: -EFAULT).
inline void* user_buffer_write(uint64_t addr, uint64_t len) {
    return user_ok_write(addr, len) ? reinterpret_cast<void*>(addr) : nullptr;
}
// Copies a NUL-terminated user string into `out` (at most cap bytes including
// the NUL). Returns length, or -EFAULT / -ENAMETOOLONG.
int64_t user_strncpy(char* out, uint64_t user_src, size_t cap);

// ---- time and randomness -------------------------------------------------
uint64_t monotonic_ns();
// Called after every hypercall that may have been the point a snapshot was
// taken at: picks up a new entropy seed.
void after_resume();
int64_t realtime_ns();
void random_fill(void* buf, size_t len);

// ---- console and stdin (ring buffers shared with the host) ---------------
void console_write(int fd, const void* buf, size_t len);
void console_flush();
// Reads stdin; blocks (EMBER_HC_WAIT) while empty and not at EOF unless
// nonblock, then returns -EAGAIN. Returns 0 at EOF.
int64_t stdin_read(void* buf, size_t len, bool nonblock);
bool stdin_readable();  // data or EOF pending (for poll)

// Blocks until one of `events` (EMBER_WAIT_*) is ready or the monotonic clock
// reaches deadline_ns (0 = none). Returns the ready set (0 on timeout). With
// several threads (sched/), other threads run meanwhile and the return may
// be early: callers re-check their condition in a loop.
uint32_t wait_events(uint32_t events, uint64_t deadline_ns);

// ---- introspection for /proc and /sys (read by fs/procfs) ----------------
// The first process: its pid is also its first thread's tid (process.cpp).
constexpr int32_t kProcessId = 1;

// Processes (proc/proc.cpp). The pid of the calling thread's process.
int32_t current_pid();
// The pids of every process not yet reaped (zombies too), up to cap of
// them, in no particular order; returns how many there are.
uint32_t process_pids(int32_t* out, uint32_t cap);
// What /proc/<pid>/status and stat say about a process.
struct ProcessInfo {
    int32_t pid, ppid, pgid, sid;
    int32_t exit_signal;
    char state;  // 'Z' a zombie, 'T' stopped, 0 otherwise (its threads say)
    int32_t stop_sig;
    uint32_t uid[4], gid[4];  // real, effective, saved, filesystem
    uint32_t ngroups;
    const uint32_t* groups;
    char comm[16];
    const char* exe;  // the executable's path
};
// false: no process with that pid.
bool process_info(int32_t pid, ProcessInfo* out);
// Loads pid's per-process state (fd table, cwd, umask; with `memory` also
// its mappings, initial stack and address space) in place of the running
// process's, so code written for the running process reads pid's;
// process_view_end() puts the caller's back. Inside a view only the same
// process's may begin again (it nests). false: no such process, (memory) a
// zombie, whose memory is gone, or another process inside a view.
bool process_view_begin(int32_t pid, bool memory);
void process_view_end();
// uname's node name, release and version (process.cpp), also in
// /proc/version and /proc/sys/kernel/{hostname,osrelease,version}.
inline constexpr char kUtsNodename[] = "ember";
inline constexpr char kUtsRelease[] = "6.1.0-ember";
inline constexpr char kUtsVersion[] = "#1 Ember";

// What a range of the application's address space is (mm_maps.cpp keeps
// the list as mm.cpp maps, protects and frees pages).
enum class MapKind : uint8_t { kNone, kImage, kAnon, kHeap, kStack, kFile };
struct MapRun {
    uint64_t start, end;  // page-aligned, end exclusive
    uint64_t offset;      // kImage, kFile: the file offset of start
    uint64_t ino;         // kFile: the mapped file's inode (0: unknown)
    uint32_t dev;         // kFile: its st_dev
    uint8_t prot;         // PROT_READ | PROT_WRITE | PROT_EXEC
    MapKind kind;
    bool shared;  // MAP_SHARED
};
// Calls fn for every mapping, in address order. fn must not map or free.
void mm_for_each_map(void (*fn)(void* ctx, const MapRun& run), void* ctx);

// The initial stack as process.cpp built it (for /proc/self/maps, stat,
// cmdline, environ and auxv).
struct ProcessStart {
    uint64_t stack_lo, stack_hi;  // the stack mapping
    uint64_t sp;                  // rsp at the application's entry (argc)
    uint64_t args, args_size;     // the argv then envp strings, NUL-separated
    const uint64_t* auxv;         // the auxiliary vector (a kernel copy)
    uint64_t auxv_words;
    uint64_t argc;  // how many of the strings are argv
};
// Records the start (marks the stack [stack], copies the auxv).
void note_process_start(const ProcessStart& s);
const ProcessStart& process_start();
// Gives the loaded process's AT_RANDOM bytes new values (for a restored
// instance) while they are still on its initial stack and writable.
void refresh_at_random(const uint8_t* fresh, size_t n);

// The live threads of the loaded process (introspect.cpp; the running one,
// or the one of a process_view), for /proc/<pid>/task and Threads:.
struct ThreadInfo {
    int32_t tid;
    char state;  // 'R' running or runnable, 'S' blocked
};
// Fills up to cap entries (creation order: thread.cpp appends, tids grow);
// returns how many threads live.
uint32_t thread_list(ThreadInfo* out, uint32_t cap);
// The same for every live thread of every process (/proc/stat, loadavg).
uint32_t thread_list_all(ThreadInfo* out, uint32_t cap);
// The signal sets /proc shows (bit sig-1): thread tid's pending and blocked
// ones, and its (loaded) process's pending, ignored and caught ones.
struct SignalSets {
    uint64_t pending, blocked, shared, ignored, caught;
};
void signal_sets(int32_t tid, SignalSets* out);
int32_t current_tid();

// ---- syscalls -----------------------------------------------------------
using SyscallFn = int64_t (*)(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                              uint64_t a5);
constexpr uint32_t kMaxSyscall = 512;
// Registration happens explicitly at start-up (syscalls_init calls each
// subsystem's register function); a later registration of nr replaces it.
void syscall_register(uint32_t nr, const char* name, SyscallFn fn);
const char* syscall_name(uint64_t nr);

// Subsystem registration functions, called once from kernel_main.
void register_process_syscalls();  // process.cpp: ids, exit_group, limits, uname, ...
void register_thread_syscalls();   // sched/: clone, exit, futex, yield, affinity, ...
void register_mm_syscalls();       // mm.cpp: brk, mmap, munmap, mprotect, ...
void register_time_syscalls();     // time.cpp: clock_*, nanosleep, ...
void register_fs_syscalls();       // fs/: files, directories, fds, pipes
void register_net_syscalls();      // net/: sockets, poll/select/epoll, eventfd, timerfd
// After fs_init: /etc/resolv.conf naming the VMM's resolver, unless the root
// filesystem has a usable one (net/resolv_conf.cpp).
void add_default_resolv_conf();

// ---- files (implemented in fs/) -----------------------------------------
// Builds the VFS from the rootfs cpio archive and a tmpfs at /tmp; opens
// fds 0, 1 and 2 on stdin and the console. Returns false (with klog) on a
// malformed archive.
bool fs_init(const uint8_t* cpio, uint64_t size);
// Reads file bytes for a file-backed mmap. -EBADF, -EACCES (not readable),
// -ENODEV (not a regular file) or the number of bytes read (short at EOF).
int64_t fs_pread_for_mmap(int fd, void* dst, uint64_t len, uint64_t off);
// The st_dev and st_ino of fd's file (for /proc/self/maps); false if fd is not open.
bool fs_fd_identity(int fd, uint32_t* dev, uint64_t* ino);

}  // namespace k
