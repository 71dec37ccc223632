// kernel_shim.h - the seam between the guest kernel's fs code, compiled for
// the host, and its tests.
//
// kernel_shim.cpp implements the kernel API that fs/ uses (k::kmalloc,
// k::user_ok, k::console_write, ...) on top of libc, and registers the fs
// syscalls in a table that shim::call dispatches. This header uses only
// <stdint.h>/<stddef.h>, because the kernel's linux.h and libc's headers
// define the same names (EPERM, SEEK_SET, ...) and cannot share a file.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace shim {

// Boots the fs (k::fs_init) on an archive that must outlive the test, and
// registers the syscalls on first use. Clears the captured console.
bool fs_init(const void* archive, uint64_t size);
// Runs syscall nr as the kernel's dispatcher would; -ENOSYS if unregistered.
int64_t call(unsigned nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
             uint64_t a4 = 0, uint64_t a5 = 0);
bool registered(unsigned nr);
// k::fs_pread_for_mmap.
int64_t pread_for_mmap(int fd, void* dst, uint64_t len, uint64_t off);

// After n more successful kmalloc/pages_alloc calls, every allocation fails
// until this is called again with n < 0.
void fail_allocs_after(int64_t n);
// kmalloc/pages_alloc calls so far (successful or not).
uint64_t alloc_calls();
void set_execfn(const char* path);

// The mapping list of src/kernel/mm_maps.cpp (/proc/self/maps). fs_init
// resets it to a text page at 0x400000 and a heap at 0x402000-0x404000.
// kind: k::MapKind's values (1 image, 2 anon, 3 heap, 4 stack, 5 file).
void map(uint64_t addr, uint64_t len, int kind, uint64_t prot, bool shared = false, int fd = -1,
         uint64_t off = 0);
void map_protect(uint64_t addr, uint64_t len, uint64_t prot);
void map_clear(uint64_t addr, uint64_t len);  // never allocates
void map_prepare();
void map_move(uint64_t dst, uint64_t src, uint64_t old_len, uint64_t new_len);
// mm_maps' queries for the address space above the identity map.
bool map_any_in(uint64_t addr, uint64_t len);
bool map_covers(uint64_t addr, uint64_t len);
uint64_t map_find_gap(uint64_t lo, uint64_t hi, uint64_t len);

// Lowest address k::user_ok accepts; everything below is a "bad pointer".
constexpr uint64_t kUserMin = 0x10000;

// The kernel's clocks (k::monotonic_ns advances 1 us per call on its own).
int64_t clock_ns();
void advance_clock(int64_t ns);

// ---- net (net_shim.cpp, linked into the net tests only) ----
// Registers the net syscalls and points the kernel's net rings at the given
// buffers (each a struct ember_ring followed by its data area).
void net_boot(void* rx, uint64_t rx_size, void* tx, uint64_t tx_size);
// Registers the clock syscalls (src/kernel/time.cpp).
void time_boot();

// ---- implemented by the test side ----
void console_write(int fd, const void* buf, size_t len);
int64_t stdin_read(void* buf, size_t len, bool nonblock);
bool stdin_readable();
void log_line(const char* msg);
// The host side of k::wait_events and of EMBER_HC_CONSOLE (net tests only).
uint32_t host_wait(uint32_t events, uint64_t deadline_ns);
void host_kick();

}  // namespace shim
