#include "vmm/hypercalls.h"

#include <linux/kvm.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

#include "abi/ember_abi.h"
#include "common/clock.h"
#include "common/ring.h"
#include "vmm/x86.h"

namespace ember {
namespace {

const char* vector_name(uint32_t v) {
    static const char* const names[] = {"divide error (#DE)",
                                        "debug (#DB)",
                                        "NMI",
                                        "breakpoint (#BP)",
                                        "overflow (#OF)",
                                        "bound range (#BR)",
                                        "invalid opcode (#UD)",
                                        "device not available (#NM)",
                                        "double fault (#DF)",
                                        "coprocessor overrun",
                                        "invalid TSS (#TS)",
                                        "segment not present (#NP)",
                                        "stack fault (#SS)",
                                        "general protection (#GP)",
                                        "page fault (#PF)",
                                        "reserved",
                                        "x87 floating point (#MF)",
                                        "alignment check (#AC)",
                                        "machine check (#MC)",
                                        "SIMD floating point (#XM)",
                                        "virtualization (#VE)",
                                        "control protection (#CP)"};
    return v < sizeof names / sizeof names[0] ? names[v] : "unexpected vector";
}

// The signal Linux sends for an exception in user code (arch/x86/kernel/
// traps.c): a crash ends the instance with 128 + it, as the shell reports a
// process killed by that signal.
int crash_signal(uint32_t v) {
    switch (v) {
        case 0:   // #DE
        case 16:  // #MF
        case 19:  // #XM
            return SIGFPE;
        case 1:  // #DB
        case 3:  // #BP
            return SIGTRAP;
        case 6:  // #UD
            return SIGILL;
        case 11:  // #NP
        case 12:  // #SS
        case 17:  // #AC
            return SIGBUS;
        default:  // #GP, #PF, #BR, ...
            return SIGSEGV;
    }
}

// Keeps only printable ASCII (guest text is untrusted and goes to a terminal).
std::string printable(const char* s, size_t max) {
    std::string out;
    for (size_t i = 0; i < max && s[i]; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

}  // namespace

bool write_console_fd(int fd, const char* data, size_t len, const std::atomic<bool>& stop,
                      const std::atomic<int64_t>& deadline) {
    // Up to PIPE_BUF bytes at a time, each after poll() says fd has room:
    // a pipe with a free slot takes them without blocking. The I/O thread
    // gets no signal, so it looks at the limits every slice.
    constexpr int kSliceMs = 20;
    constexpr size_t kChunk = 4096;
    while (len > 0) {
        pollfd p{fd, POLLOUT, 0};
        int r = ::poll(&p, 1, 0);
        if (r == 0) {
            // No room: past the limits, give up at once (every record
            // after this one too); else wait a slice.
            const int64_t d = deadline.load();
            if (stop.load() || (d && mono_ns() >= d)) return false;
            r = ::poll(&p, 1, kSliceMs);
        }
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        if (p.revents & (POLLERR | POLLNVAL)) return false;
        const ssize_t n = ::write(fd, data, std::min(len, kChunk));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;  // the reader went away: output is dropped
        data += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

size_t getrandom_bytes(void* buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(static_cast<uint8_t*>(buf) + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        done += static_cast<size_t>(n);
    }
    return done;
}

void HypercallContext::set_status(int64_t status) {
    mem_.write_obj(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, hc_status), status);
}

HypercallAction HypercallContext::dispatch(uint32_t nr, uint64_t arg) {
    ++stats_.hypercalls;
    HypercallAction out;
    int64_t status = EMBER_OK;
    switch (nr) {
        case EMBER_HC_EXIT:
            drain_console();
            return do_exit(arg);
        case EMBER_HC_CONSOLE:
            drain_console();
            break;
        case EMBER_HC_WAIT: {
            drain_console();
            auto a = mem_.read_obj<ember_hc_wait>(arg);
            auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_STDIN);
            if (want_ready_ && a && (a->events & EMBER_WAIT_STDIN) && ring &&
                ring->head == ring->tail && !(ring->flags & EMBER_RING_EOF) && !stdin_eof_) {
                out.ready_point = true;
                return out;
            }
            // READY for a server: it waits on its listening sockets with no
            // connection pending and nothing else in flight.
            if (want_ready_ && a && (a->events & EMBER_WAIT_NET) &&
                !net_.guest_listeners().empty() && net_.open_streams() == 0) {
                net_.deliver_host_events();
                if (!net_.rx_pending() && net_.open_streams() == 0) {
                    out.ready_point = true;
                    return out;
                }
            }
            if (a && suspend_point(a->events)) {
                out.ready_point = true;
                return out;
            }
            status = do_wait(arg, &out);
            break;
        }
        case EMBER_HC_CLOCK:
            status = do_clock();
            break;
        case EMBER_HC_CR2: {
            kvm_sregs sregs{};
            if (!mem_.contains(arg, sizeof(ember_hc_cr2)))
                status = EMBER_EFAULT;
            else if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) != 0)
                status = EMBER_EAGAIN;
            else
                mem_.write_obj(arg, ember_hc_cr2{sregs.cr2});
            break;
        }
        case EMBER_HC_READY:
            drain_console();
            if (want_ready_) {
                out.ready_point = true;
                return out;
            }
            break;
        case EMBER_HC_RANDOM:
            status = do_random(arg);
            break;
        case EMBER_HC_CRASH:
            drain_console();
            return do_crash(arg);
        case EMBER_HC_LOG:
            status = do_log(arg);
            break;
        case EMBER_HC_VOLUME:
            status = do_volume(arg);
            break;
        default:
            status = EMBER_ENOSYS;
            break;
    }
    if (status != EMBER_OK) ++stats_.bad_hypercalls;
    set_status(status);
    return out;
}

int64_t HypercallContext::do_clock() {
    // Re-pairs the guest TSC with the host clocks, so the guest's wall clock
    // follows adjustments of the host's. Monotonic time must not go back:
    // the new base is never below the guest's current monotonic reading.
    auto b = mem_.read_obj<ember_boot_info>(EMBER_GPA_BOOT_INFO);
    if (!b || b->tsc_khz == 0) return EMBER_EINVAL;
    const uint64_t tsc = __builtin_ia32_rdtsc();
    const int64_t mono = mono_ns();
    const uint64_t delta = tsc > b->tsc_base ? tsc - b->tsc_base : 0;
    const int64_t guest_mono =
        b->mono_base_ns +
        static_cast<int64_t>(static_cast<unsigned __int128>(delta) * 1000000 / b->tsc_khz);
    const int64_t base = std::max(mono, guest_mono);
    mem_.write_obj(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, tsc_base), tsc);
    mem_.write_obj(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, mono_base_ns), base);
    mem_.write_obj(EMBER_GPA_BOOT_INFO + offsetof(ember_boot_info, wall_base_ns), wall_ns());
    return EMBER_OK;
}

HypercallAction HypercallContext::complete_ready(uint32_t nr, uint64_t arg) {
    HypercallAction out;
    int64_t status = EMBER_OK;
    if (nr == EMBER_HC_WAIT) status = do_wait(arg, &out);
    set_status(status);
    return out;
}

HypercallAction HypercallContext::do_exit(uint64_t arg) {
    HypercallAction out;
    out.done = true;
    auto a = mem_.read_obj<ember_hc_exit>(arg);
    if (!a) {
        // The guest wanted to stop but its struct is unreadable: still stop.
        out.outcome = Outcome::kVmError;
        out.message = "exit hypercall with an argument outside guest memory";
        return out;
    }
    out.outcome = Outcome::kExited;
    out.exit_status = a->status & 0xff;
    return out;
}

HypercallAction HypercallContext::do_crash(uint64_t arg) {
    HypercallAction out;
    out.done = true;
    auto c = mem_.read_obj<ember_hc_crash>(arg);
    if (!c) {
        out.outcome = Outcome::kVmError;
        out.message = "crash hypercall with an argument outside guest memory";
        return out;
    }
    char buf[1024];
    if (c->kind == EMBER_CRASH_EXCEPTION) {
        out.outcome = Outcome::kCrashed;
        out.exit_status = 128 + crash_signal(c->vector);
        int n = std::snprintf(buf, sizeof buf, "guest crashed: %s, vector %u, at rip=%#llx",
                              vector_name(c->vector), c->vector,
                              static_cast<unsigned long long>(c->rip));
        if (c->vector == x86::kVectorPageFault) {
            // The kernel runs at CPL 3 and cannot read CR2; the vCPU has it.
            kvm_sregs sregs{};
            if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) == 0) c->cr2 = sregs.cr2;
            const uint64_t e = c->error_code;
            n += std::snprintf(buf + n, sizeof buf - n, ": %s %s address %#llx",
                               (e & x86::kPfFetch)   ? "instruction fetch at"
                               : (e & x86::kPfWrite) ? "write to"
                                                     : "read from",
                               (e & x86::kPfProtection) ? "protected" : "unmapped",
                               static_cast<unsigned long long>(c->cr2));
        }
        n += std::snprintf(buf + n, sizeof buf - n, "\n  error_code=%#llx rsp=%#llx rflags=%#llx",
                           static_cast<unsigned long long>(c->error_code),
                           static_cast<unsigned long long>(c->rsp),
                           static_cast<unsigned long long>(c->rflags));
        static const char* const rn[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                           "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
        for (int i = 0; i < 16 && n < static_cast<int>(sizeof buf) - 40; ++i)
            n += std::snprintf(buf + n, sizeof buf - n, "%s%s=%#llx", i % 4 == 0 ? "\n  " : " ",
                               rn[i], static_cast<unsigned long long>(c->regs[i]));
        if (c->syscall_nr >= 0 && n < static_cast<int>(sizeof buf) - 40)
            std::snprintf(buf + n, sizeof buf - n, "\n  in syscall %lld",
                          static_cast<long long>(c->syscall_nr));
        out.message = buf;
    } else {
        out.outcome = Outcome::kKernelPanic;
        out.message = "guest kernel panic: " + printable(c->message, sizeof c->message);
    }
    return out;
}

int64_t HypercallContext::do_random(uint64_t arg) {
    auto a = mem_.read_obj<ember_hc_random>(arg);
    if (!a) return EMBER_EFAULT;
    if (a->len > EMBER_RANDOM_MAX) return EMBER_EINVAL;
    if (!mem_.contains(a->buf, a->len)) return EMBER_EFAULT;
    uint8_t tmp[EMBER_RANDOM_MAX];
    if (getrandom_bytes(tmp, a->len) != a->len) return EMBER_EAGAIN;
    mem_.write(a->buf, tmp, a->len);
    return EMBER_OK;
}

int64_t HypercallContext::do_volume(uint64_t arg) {
    auto a = mem_.read_obj<ember_hc_volume>(arg);
    if (!a) return EMBER_EFAULT;
    if (!volumes_) volumes_ = std::make_unique<VolumeHost>(cfg_.volumes);
    ++stats_.volume_ops;
    const int64_t st = volumes_->handle(mem_, &*a);
    if (st == EMBER_OK) {
        mem_.write_obj(arg + offsetof(ember_hc_volume, result), a->result);
        mem_.write_obj(arg + offsetof(ember_hc_volume, st), a->st);
    }
    return st;
}

int64_t HypercallContext::do_log(uint64_t arg) {
    auto a = mem_.read_obj<ember_hc_log>(arg);
    if (!a) return EMBER_EFAULT;
    if (a->len > EMBER_LOG_MAX) return EMBER_EINVAL;
    cfg_.log(printable(a->msg, a->len));
    return EMBER_OK;
}

void HypercallContext::drain_console() {
    net_.drain_tx();
    std::unique_lock<std::mutex> lock;
    if (console_mu_) lock = std::unique_lock<std::mutex>(*console_mu_);
    if (!drain_console_ring(mem_, cfg_)) ++stats_.bad_hypercalls;
}

bool drain_console_ring(GuestMemory& mem, const VmConfig& cfg) {
    constexpr uint64_t cap = ring::kConsoleCap;
    const uint8_t* data = mem.host_base() + EMBER_GPA_CONSOLE + EMBER_RING_DATA;
    volatile const uint64_t* head_p = reinterpret_cast<volatile const uint64_t*>(
        mem.host_base() + EMBER_GPA_CONSOLE + offsetof(ember_ring, head));
    auto ring = mem.read_obj<ember_ring>(EMBER_GPA_CONSOLE);
    if (!ring) return false;
    uint64_t tail = ring->tail;
    bool ok = true;
    std::vector<char> rec;
    for (;;) {
        // The guest may be running (doorbell): read head once, then only
        // the bytes it covers, which the guest wrote before publishing it.
        const uint64_t head = *head_p;
        std::atomic_thread_fence(std::memory_order_acquire);
        if (head - tail > cap) {
            cfg.log("console ring corrupted (head/tail out of range); output dropped");
            ok = false;
            tail = head;
        }
        while (tail != head) {
            if (head - tail < ring::kConsoleHdr) {
                tail = head;
                break;
            }
            uint8_t hdr[ring::kConsoleHdr];
            ring::get_wrapped(data, cap, tail, hdr, sizeof hdr);
            const ring::ConsoleHeader h = ring::decode_console_header(hdr);
            if (h.len > EMBER_CONSOLE_RECORD_MAX || h.len > head - tail - ring::kConsoleHdr ||
                (h.fd != 1 && h.fd != 2)) {
                cfg.log("console ring holds a malformed record; rest of the output dropped");
                ok = false;
                tail = head;
                break;
            }
            rec.resize(h.len);
            ring::get_wrapped(data, cap, tail + ring::kConsoleHdr, rec.data(), h.len);
            cfg.console(static_cast<int>(h.fd), rec.data(), h.len);
            tail += ring::kConsoleHdr + h.len;
        }
        mem.write_obj(EMBER_GPA_CONSOLE + offsetof(ember_ring, tail), tail);
        // Pairs with the guest's fence between publishing head and reading
        // tail: either it sees our tail and rings, or we see its head here.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (*head_p == tail) return ok;
    }
}

void HypercallContext::mark_stdin_eof() {
    stdin_eof_ = true;
    mem_.write_obj(EMBER_GPA_STDIN + offsetof(ember_ring, flags), EMBER_RING_EOF);
}

void HypercallContext::read_stdin_now() {
    constexpr uint64_t cap = ring::kStdinCap;
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_STDIN);
    if (!ring) return;
    uint64_t head = ring->head;
    if (head - ring->tail > cap) head = ring->tail;  // corrupted by the guest: reset
    if (head != ring->tail || (ring->flags & EMBER_RING_EOF)) return;
    if (cfg_.stdin_fd < 0 || stdin_eof_) {
        mark_stdin_eof();
        return;
    }
    pollfd p{cfg_.stdin_fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return;
    uint8_t buf[EMBER_STDIN_SIZE];
    const ssize_t n = ::read(cfg_.stdin_fd, buf, cap - (head - ring->tail));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        mark_stdin_eof();
        return;
    }
    uint8_t* data = mem_.host_base() + EMBER_GPA_STDIN + EMBER_RING_DATA;
    ring::put_wrapped(data, cap, head, buf, static_cast<size_t>(n));
    head += static_cast<uint64_t>(n);
    mem_.write_obj(EMBER_GPA_STDIN + offsetof(ember_ring, head), head);
}

// With a suspend requested: true when the guest waits for connections with
// none open or pending (then the VMM saves it here, as at READY). While it
// still has streams, they get end-of-file, as from peers that went away;
// the guest closes them and waits again.
bool HypercallContext::suspend_point(uint32_t events) {
    if (!suspend_ || !suspend_->load(std::memory_order_acquire)) return false;
    if (!(events & EMBER_WAIT_NET) || net_.guest_listeners().empty()) return false;
    if (net_.open_streams() > 0) {
        net_.end_streams();
        return false;
    }
    net_.deliver_host_events();
    return !net_.rx_pending() && net_.open_streams() == 0;
}

bool HypercallContext::stdin_ready() const {
    auto ring = mem_.read_obj<ember_ring>(EMBER_GPA_STDIN);
    return ring && (ring->head != ring->tail || (ring->flags & EMBER_RING_EOF));
}

int64_t HypercallContext::do_wait(uint64_t arg, HypercallAction* out) {
    auto a = mem_.read_obj<ember_hc_wait>(arg);
    if (!a) return EMBER_EFAULT;
    const uint32_t events = a->events & (EMBER_WAIT_STDIN | EMBER_WAIT_NET);
    // Guest monotonic time is host CLOCK_MONOTONIC (same TSC, same base).
    const int64_t deadline = static_cast<int64_t>(a->deadline_ns);
    if (events == 0 && deadline == 0) {
        out->done = true;
        out->outcome = Outcome::kDeadlock;
        out->message = "the guest waits forever with nothing that could wake it";
        return EMBER_EINVAL;
    }
    uint32_t ready = 0;
    // Tells the hook about the first block and, on every way out, the end.
    struct WaitGuard {
        const std::function<void(bool)>& hook;
        bool blocked = false;
        void block() {
            if (!blocked && hook) hook(true);
            blocked = true;
        }
        ~WaitGuard() {
            if (blocked && hook) hook(false);
        }
    } guard{wait_hook_};
    for (;;) {
        if (events & EMBER_WAIT_NET) {
            net_.deliver_host_events();
            if (net_.rx_pending()) ready |= EMBER_WAIT_NET;
        }
        if (events & EMBER_WAIT_STDIN) {
            if (!stdin_ready()) read_stdin_now();
            if (stdin_ready()) ready |= EMBER_WAIT_STDIN;
        }
        if (ready) break;
        if (suspend_point(events)) {
            out->ready_point = true;
            return EMBER_OK;
        }
        // suspend_point ended the streams: tell the guest.
        if ((events & EMBER_WAIT_NET) && net_.rx_pending()) continue;
        if (stop_ && stop_->load()) {
            out->done = true;
            out->outcome = Outcome::kStopped;
            out->message = "stopped by the host";
            return EMBER_OK;
        }
        const int64_t now = mono_ns();
        if (wall_deadline_ && now >= wall_deadline_) {
            out->done = true;
            out->outcome = Outcome::kTimeout;
            out->message = "wall-clock limit reached while the guest was waiting";
            return EMBER_OK;
        }
        if (deadline && now >= deadline) break;
        int64_t until = deadline;
        if (wall_deadline_ && (until == 0 || wall_deadline_ < until)) until = wall_deadline_;
        const int extra =
            (events & EMBER_WAIT_STDIN) && cfg_.stdin_fd >= 0 && !stdin_eof_ ? cfg_.stdin_fd : -1;
        guard.block();
        if (!(events & EMBER_WAIT_NET) && extra < 0) {
            timespec ts{static_cast<time_t>(until / 1000000000),
                        static_cast<long>(until % 1000000000)};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
        } else {
            net_.wait(until, extra);
        }
    }
    ember_hc_wait w = *a;
    w.ready = ready;
    mem_.write_obj(arg, w);
    return EMBER_OK;
}

}  // namespace ember
