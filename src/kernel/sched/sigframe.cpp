// sigframe.cpp - Linux's x86-64 rt_sigframe on the user stack, rt_sigreturn
// and sigaltstack (signal.h).
//
// The frame is what Linux builds (arch/x86/kernel/signal_64.c), so handlers
// that read or edit the ucontext (Go, Java, glibc's and musl's) see the
// layout they expect: the return address (sa_restorer), the ucontext (flags,
// link, the alternate stack, the sigcontext with every register, the mask),
// the siginfo, then the XSAVE area 64-byte aligned with the _fpx_sw_bytes
// and FP_XSTATE_MAGIC2 markers.
#include "sched/signal.h"

extern "C" [[noreturn]] void resume_user(const k::UserRegs* r);

namespace k {
namespace {

struct Sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip;
    uint64_t eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2, fpstate;
    uint64_t reserved[8];
};
static_assert(sizeof(Sigcontext) == 256, "struct sigcontext");

struct Ucontext {
    uint64_t flags, link;
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
    Sigcontext mc;
    uint64_t sigmask;
};
static_assert(sizeof(Ucontext) == 304, "struct ucontext");

struct RtSigframe {
    uint64_t pretcode;
    Ucontext uc;
    uint8_t info[128];
};
static_assert(sizeof(RtSigframe) == 440, "struct rt_sigframe");

constexpr uint64_t kUcFpXstate = 1, kUcSigcontextSs = 2, kUcStrictRestoreSs = 4;
constexpr uint32_t kFpXstateMagic1 = 0x46505853, kFpXstateMagic2 = 0x46505845;
constexpr int32_t kSsOnstack = 1, kSsDisable = 2;
constexpr uint64_t kMinSigstksz = 2048;
// The flags a handler may change (Linux's FIX_EFLAGS); the application
// always runs with IF and IOPL 3 (enter_user).
constexpr uint64_t kFixEflags = 0x50dd5, kAppEflags = 0x3202;
constexpr uint64_t kRedZone = 128;

alignas(64) uint8_t g_init_xsave[576];  // the init state: XSTATE_BV = 0, MXCSR default

void init_state_probe() {
    if (g_init_xsave[24]) return;
    xsave_probe();
    const uint32_t mxcsr = 0x1f80;
    memcpy(g_init_xsave + 24, &mxcsr, 4);
}

bool on_altstack(const Thread* t, uint64_t sp) {
    return t->ss_size && sp > t->ss_sp && sp - t->ss_sp <= t->ss_size;
}

int32_t altstack_flags(const Thread* t, uint64_t sp) {
    if (!t->ss_size) return kSsDisable;
    return on_altstack(t, sp) ? kSsOnstack : 0;
}

}  // namespace

bool sigframe_setup(UserRegs* r, int sig, const SigInfo& info, const KSigaction& act,
                    uint64_t saved_mask, uint64_t trapno, uint64_t err, uint64_t cr2) {
    if (!(act.flags & kSaRestorer)) return false;  // x86-64 Linux needs one too
    init_state_probe();
    Thread* t = current();
    uint64_t sp = r->rsp;
    if ((act.flags & kSaOnstack) && t->ss_size && !on_altstack(t, sp))
        sp = t->ss_sp + t->ss_size;
    else
        sp -= kRedZone;
    const uint64_t fx = (sp - (g_xsave.size + 4)) & ~63ull;
    sp = ((fx - sizeof(RtSigframe)) & ~15ull) - 8;
    if (!user_ok_write(sp, fx + g_xsave.size + 4 - sp)) return false;

    RtSigframe f{};
    f.pretcode = act.restorer;
    f.uc.flags = kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs;
    f.uc.ss_sp = t->ss_sp;
    f.uc.ss_flags = altstack_flags(t, r->rsp);
    f.uc.ss_size = t->ss_size;
    Sigcontext& m = f.uc.mc;
    m = {r->r8,  r->r9,  r->r10, r->r11, r->r12,     r->r13, r->r14, r->r15,    r->rdi, r->rsi,
         r->rbp, r->rbx, r->rdx, r->rax, r->rcx,     r->rsp, r->rip, r->rflags, 0x33,   0,
         0,      0x2b,   err,    trapno, saved_mask, cr2,    fx,     {}};
    f.uc.sigmask = saved_mask;
    memcpy(f.info, &info.signo, 12);
    memcpy(f.info + 16, info.f, sizeof info.f);
    memcpy(reinterpret_cast<void*>(sp), &f, sizeof f);

    // The application's vector state is live (the kernel never touches it):
    // save it into the frame, then give the handler the init state, as Linux.
    auto* area = reinterpret_cast<uint8_t*>(fx);
    memset(area + 512, 0, 64);  // XSAVE leaves most of the header as it was
    xsave(area);
    const uint32_t sw[4] = {kFpXstateMagic1, static_cast<uint32_t>(g_xsave.size + 4),
                            static_cast<uint32_t>(g_xsave.rfbm),
                            static_cast<uint32_t>(g_xsave.rfbm >> 32)};
    memcpy(area + 464, sw, sizeof sw);
    const uint32_t size32 = static_cast<uint32_t>(g_xsave.size);
    memcpy(area + 480, &size32, 4);
    memcpy(area + g_xsave.size, &kFpXstateMagic2, 4);
    xrstor(g_init_xsave);

    r->rdi = static_cast<uint64_t>(sig);
    r->rsi = sp + offsetof(RtSigframe, info);
    r->rdx = sp + offsetof(RtSigframe, uc);
    r->rax = 0;
    r->rsp = sp;
    r->rip = act.handler;
    r->rflags &= ~(0x400ull | 0x100ull | 0x10000ull);  // DF, TF, RF
    return true;
}

[[noreturn]] void return_to_user(UserRegs* r) {
    boot()->cur_syscall = -1;
    resume_user(r);
}

// The handler returned into sa_restorer, whose `syscall` comes here with
// rsp just above pretcode. Everything comes back from the frame, which the
// handler may have edited: registers (flags only within FIX_EFLAGS), the
// mask, the alternate stack and the XSAVE area (checked so that xrstor
// cannot fault; without one the vector state is reset).
int64_t sys_rt_sigreturn(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    init_state_probe();
    Thread* t = current();
    const uint64_t sp = current_frame()->rsp - 8;
    RtSigframe f;
    if (copy_from_user(&f, sp, sizeof f) < 0) {
        klog("rt_sigreturn: bad frame at %lx", sp);
        console_flush();
        exit_instance(128 + kSigSegv);
    }
    const Sigcontext& m = f.uc.mc;
    UserRegs r = {m.rax, m.rcx, m.rdx, m.rbx, m.rsp, m.rbp,
                  m.rsi, m.rdi, m.r8,  m.r9,  m.r10, m.r11,
                  m.r12, m.r13, m.r14, m.r15, m.rip, (m.eflags & kFixEflags) | kAppEflags};
    t->sigmask = f.uc.sigmask & ~(sigbit(kSigKill) | sigbit(kSigStop));
    if (!on_altstack(t, r.rsp) && !(f.uc.ss_flags & ~kSsDisable)) {
        if (f.uc.ss_flags == kSsDisable) {
            t->ss_sp = t->ss_size = 0;
        } else if (f.uc.ss_size >= kMinSigstksz) {
            t->ss_sp = f.uc.ss_sp;
            t->ss_size = f.uc.ss_size;
        }
    }
    const uint64_t fp = m.fpstate;
    if (fp && fp % 64 == 0 && user_ok(fp, g_xsave.size)) {
        auto* area = reinterpret_cast<uint8_t*>(fp);
        uint64_t bv;
        memcpy(&bv, area + 512, 8);
        bv &= g_xsave.rfbm;
        memcpy(area + 512, &bv, 8);
        memset(area + 520, 0, 56);  // XCOMP_BV and the reserved header bytes
        uint32_t mxcsr;
        memcpy(&mxcsr, area + 24, 4);
        mxcsr &= 0xffff;
        memcpy(area + 24, &mxcsr, 4);
        xrstor(area);
    } else {
        xrstor(g_init_xsave);
    }
    signal_deliver(&r, -1);
    return_to_user(&r);
}

int64_t sys_sigaltstack(uint64_t uss, uint64_t uoss, uint64_t, uint64_t, uint64_t, uint64_t) {
    Thread* t = current();
    const uint64_t sp = current_frame()->rsp;
    struct {
        uint64_t sp;
        int32_t flags, pad;
        uint64_t size;
    } ss, old = {t->ss_sp, altstack_flags(t, sp), 0, t->ss_size};
    if (uss) {
        if (get_user(&ss, uss) < 0) return -EFAULT;
        if (on_altstack(t, sp)) return -EPERM;
        constexpr int32_t kSsAutodisarm = 1 << 31;
        const int32_t mode = ss.flags & ~kSsAutodisarm;
        if (mode != 0 && mode != kSsDisable && mode != kSsOnstack) return -EINVAL;
        if (mode == kSsDisable) {
            t->ss_sp = t->ss_size = 0;
        } else {
            if (ss.size < kMinSigstksz) return -ENOMEM;
            t->ss_sp = ss.sp;
            t->ss_size = ss.size;
        }
    }
    return uoss && put_user(uoss, old) < 0 ? -EFAULT : 0;
}

}  // namespace k
