// io.cpp - the kernel's side of the host interface: hypercalls, the console
// and stdin rings, blocking waits, clocks and entropy.
#include "common/ring.h"
#include "kernel.h"
#include "sched/signal.h"

namespace k {

ember_boot_info* boot() { return reinterpret_cast<ember_boot_info*>(EMBER_GPA_BOOT_INFO); }

int64_t hypercall(uint32_t nr, uint64_t arg) {
    boot()->stat_hypercalls++;
    const uint16_t port = static_cast<uint16_t>(EMBER_HC_PORT_BASE + nr);
    asm volatile("outl %0, %1" : : "a"(static_cast<uint32_t>(arg)), "Nd"(port) : "memory");
    return boot()->hc_status;
}

void exit_instance(int status) {
    console_flush();
    auto* a = reinterpret_cast<ember_hc_exit*>(EMBER_HC_SLOT_EXIT);
    a->status = status;
    for (;;) hypercall(EMBER_HC_EXIT, EMBER_HC_SLOT_EXIT);
}

// ---- console ring (producer) ----------------------------------------------
namespace {

ember_ring* console_ring() { return reinterpret_cast<ember_ring*>(EMBER_GPA_CONSOLE); }
uint8_t* console_data() { return reinterpret_cast<uint8_t*>(EMBER_GPA_CONSOLE + EMBER_RING_DATA); }
constexpr uint64_t kConsoleCap = ember::ring::kConsoleCap;
constexpr uint64_t kConsoleHdr = ember::ring::kConsoleHdr;

ember_ring* stdin_ring() { return reinterpret_cast<ember_ring*>(EMBER_GPA_STDIN); }
uint8_t* stdin_data() { return reinterpret_cast<uint8_t*>(EMBER_GPA_STDIN + EMBER_RING_DATA); }
constexpr uint64_t kStdinCap = ember::ring::kStdinCap;

void ring_put(uint64_t pos, const void* src, size_t n) {
    ember::ring::put_wrapped(console_data(), kConsoleCap, pos, src, n);
}

}  // namespace

void console_flush() {
    ember_ring* r = console_ring();
    if (r->head != r->tail) hypercall(EMBER_HC_CONSOLE, 0);
}

void console_write(int fd, const void* buf, size_t len) {
    const auto* p = static_cast<const uint8_t*>(buf);
    ember_ring* r = console_ring();
    while (len > 0) {
        const size_t chunk = len < EMBER_CONSOLE_RECORD_MAX ? len : EMBER_CONSOLE_RECORD_MAX;
        if (kConsoleCap - (r->head - r->tail) < chunk + kConsoleHdr) {
            hypercall(EMBER_HC_CONSOLE, 0);
            // The host drains everything; if it did not, drop rather than spin.
            if (kConsoleCap - (r->head - r->tail) < chunk + kConsoleHdr) return;
        }
        uint8_t hdr[kConsoleHdr];
        ember::ring::encode_console_header(hdr, static_cast<uint32_t>(chunk),
                                           static_cast<uint32_t>(fd));
        const uint64_t old_head = r->head;
        ring_put(old_head, hdr, kConsoleHdr);
        ring_put(old_head + kConsoleHdr, p, chunk);
        asm volatile("" ::: "memory");
        r->head = old_head + kConsoleHdr + chunk;
        if (boot()->flags & EMBER_FLAG_DOORBELL) {
            // Ring only when the host may be idle (it had consumed everything
            // before this record); the fence orders our head store before the
            // tail load (see the doorbell protocol in ember_abi.h).
            asm volatile("mfence" ::: "memory");
            if (r->tail == old_head)
                asm volatile("outb %%al, %0"
                             :
                             : "Nd"(static_cast<uint16_t>(EMBER_DOORBELL_PORT)), "a"(0)
                             : "memory");
        }
        p += chunk;
        len -= chunk;
    }
}

// ---- stdin ring (consumer) ------------------------------------------------
bool stdin_readable() {
    ember_ring* r = stdin_ring();
    return r->head != r->tail || (r->flags & EMBER_RING_EOF);
}

int64_t stdin_read(void* buf, size_t len, bool nonblock) {
    ember_ring* r = stdin_ring();
    if (len == 0) return 0;
    while (r->head == r->tail) {
        if (r->flags & EMBER_RING_EOF) return 0;
        if (nonblock) return -EAGAIN;
        if (signal_pending_now()) return -kErestartsys;
        wait_events(EMBER_WAIT_STDIN, 0);
    }
    uint64_t avail = r->head - r->tail;
    if (avail > kStdinCap) {  // corrupted: resynchronise
        r->tail = r->head;
        return -EIO;
    }
    const size_t n = len < avail ? len : avail;
    ember::ring::get_wrapped(stdin_data(), kStdinCap, r->tail, buf, n);
    r->tail += n;
    return static_cast<int64_t>(n);
}

// ---- clocks -----------------------------------------------------------------
namespace {
uint64_t g_ns_mult;      // ns per TSC tick, 32.32 fixed point
uint64_t g_ns_mult_khz;  // the tsc_khz g_ns_mult was computed for (restores may change it)

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}
}  // namespace

uint64_t monotonic_ns() {
    const ember_boot_info* b = boot();
    if (g_ns_mult_khz != b->tsc_khz) {
        g_ns_mult_khz = b->tsc_khz;
        g_ns_mult = (1000000ull << 32) / (b->tsc_khz ? b->tsc_khz : 1000000);
    }
    const uint64_t t = rdtsc();
    const uint64_t delta = t > b->tsc_base ? t - b->tsc_base : 0;
    const uint64_t ns =
        static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * g_ns_mult) >> 32);
    return static_cast<uint64_t>(b->mono_base_ns) + ns;
}

int64_t realtime_ns() {
    const ember_boot_info* b = boot();
    // Re-synchronise with the host's wall clock when the base is more than
    // a second old (one exit), so host clock adjustments reach the guest.
    // Boot, restore and each sync set a new base.
    if (monotonic_ns() - static_cast<uint64_t>(b->mono_base_ns) > 1000000000ull) {
        // Odd while the base changes: a vDSO read that a preemption split
        // around this sees another sequence number and reads again.
        boot()->clock_seq++;
        hypercall(EMBER_HC_CLOCK, 0);
        boot()->clock_seq++;
    }
    return b->wall_base_ns +
           static_cast<int64_t>(monotonic_ns() - static_cast<uint64_t>(b->mono_base_ns));
}

// ---- entropy: ChaCha20 keyed from the boot seed ---------------------------
namespace {

struct ChaCha {
    uint32_t key[8];
    uint64_t counter;
    uint64_t generation;  // boot()->seed_generation the key came from
    uint8_t block[64];
    uint32_t used;  // bytes of block consumed
};
ChaCha g_rng;

inline uint32_t rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }
inline void quarter(uint32_t* x, int a, int b, int c, int d) {
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 7);
}

void chacha_block(ChaCha& s) {
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 8; ++i) in[4 + i] = s.key[i];
    in[12] = static_cast<uint32_t>(s.counter);
    in[13] = static_cast<uint32_t>(s.counter >> 32);
    in[14] = in[15] = 0;
    uint32_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = in[i];
    for (int r = 0; r < 10; ++r) {
        quarter(x, 0, 4, 8, 12);
        quarter(x, 1, 5, 9, 13);
        quarter(x, 2, 6, 10, 14);
        quarter(x, 3, 7, 11, 15);
        quarter(x, 0, 5, 10, 15);
        quarter(x, 1, 6, 11, 12);
        quarter(x, 2, 7, 8, 13);
        quarter(x, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; ++i) {
        const uint32_t v = x[i] + in[i];
        s.block[4 * i] = static_cast<uint8_t>(v);
        s.block[4 * i + 1] = static_cast<uint8_t>(v >> 8);
        s.block[4 * i + 2] = static_cast<uint8_t>(v >> 16);
        s.block[4 * i + 3] = static_cast<uint8_t>(v >> 24);
    }
    ++s.counter;
    s.used = 0;
}

}  // namespace

void after_resume() {
    // A restore or reset set a new clock base (every thread was blocked).
    boot()->clock_seq += 2;
    // Restore clears tsc_app_start: record when this instance first ran.
    if (boot()->tsc_app_start == 0) boot()->tsc_app_start = __builtin_ia32_rdtsc();
    // A restored instance has a new seed: rekey now, and give the AT_RANDOM
    // bytes new values too (what libc derived from them at start-up, such as
    // the stack protector canary, cannot be changed).
    if (g_rng.generation != 0 && g_rng.generation != boot()->seed_generation) {
        uint8_t fresh[16];
        random_fill(fresh, sizeof fresh);
        refresh_at_random(fresh, sizeof fresh);
    }
}

void random_fill(void* buf, size_t len) {
    const ember_boot_info* b = boot();
    if (g_rng.generation != b->seed_generation) {
        // (Re)key from the seed the host placed in the boot info: a restored
        // instance gets a new seed and so a new stream.
        memcpy(g_rng.key, b->random_seed, sizeof g_rng.key);
        g_rng.counter = 0;
        g_rng.generation = b->seed_generation;
        g_rng.used = 64;
    }
    auto* out = static_cast<uint8_t*>(buf);
    while (len > 0) {
        if (g_rng.used == 64) chacha_block(g_rng);
        const size_t n = len < 64 - g_rng.used ? len : 64 - g_rng.used;
        memcpy(out, g_rng.block + g_rng.used, n);
        // Erase what was handed out (forward secrecy within the block).
        memset(g_rng.block + g_rng.used, 0, n);
        g_rng.used += static_cast<uint32_t>(n);
        out += n;
        len -= n;
    }
}

}  // namespace k
