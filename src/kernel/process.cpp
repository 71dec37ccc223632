// process.cpp - the process: start-up per the x86-64 SysV ABI, identity,
// limits, TLS and exit_group. Threads, futexes and signals are in sched/.
#include "mm_space.h"
#include "proc/proc.h"

extern "C" [[noreturn]] void enter_user(uint64_t entry, uint64_t sp);
extern "C" const char vdso_image_start[];  // vdso_blob.S

namespace k {
namespace {

constexpr uint64_t kStackMax = 8ull << 20;
constexpr uint64_t kThreadStackMin = 256ull << 10;

linux_rlimit g_rlimits[16];

// Copies n bytes to the user stack below sp; returns the new sp.
uint64_t push_bytes(uint64_t sp, const void* src, size_t n) {
    sp -= n;
    memcpy(reinterpret_cast<void*>(sp), src, n);
    return sp;
}
}  // namespace

uint64_t build_initial_stack(const InitialStack& in) {
    // Strings first (argv/envp, execfn, platform, the AT_RANDOM bytes),
    // then argc, the argv and envp pointers and the auxv, 16-byte aligned.
    uint64_t sp = in.lo + in.size;
    sp = push_bytes(sp, in.strings, in.strings_len);
    const uint64_t strings = sp;
    sp = push_bytes(sp, "", 1);
    sp = push_bytes(sp, in.execfn, in.execfn_len);
    const uint64_t execfn = sp;
    sp = push_bytes(sp, "x86_64", 7);
    const uint64_t platform = sp;
    uint8_t rnd[16];
    random_fill(rnd, sizeof rnd);
    sp = push_bytes(sp, rnd, sizeof rnd);
    const uint64_t at_random = sp;
    sp &= ~15ull;

    const ember_boot_info* b = boot();
    const uint64_t auxv[][2] = {
        {AT_SYSINFO_EHDR, reinterpret_cast<uint64_t>(vdso_image_start)},
        {AT_PHDR, in.phdr},
        {AT_PHENT, in.phent},
        {AT_PHNUM, in.phnum},
        {AT_PAGESZ, EMBER_PAGE_SIZE},
        {AT_BASE, in.base},
        {AT_FLAGS, 0},
        {AT_ENTRY, in.entry},
        {AT_UID, 0},
        {AT_EUID, 0},
        {AT_GID, 0},
        {AT_EGID, 0},
        {AT_SECURE, 0},
        {AT_CLKTCK, 100},
        {AT_HWCAP, b->cpu_hwcap},
        {AT_HWCAP2, b->cpu_hwcap2},
        {AT_RANDOM, at_random},
        {AT_EXECFN, execfn},
        {AT_PLATFORM, platform},
        {AT_MINSIGSTKSZ, 2048},
        {AT_NULL, 0},
    };
    const uint64_t naux = sizeof auxv / sizeof auxv[0];
    const uint64_t words = 1 + in.argc + 1 + in.envc + 1 + 2 * naux;
    if (words % 2) sp -= 8;
    sp -= words * 8;
    auto* w = reinterpret_cast<uint64_t*>(sp);
    *w++ = in.argc;
    uint64_t p = strings;
    auto next_string = [&]() {
        const uint64_t s = p;
        p += strnlen(reinterpret_cast<const char*>(p), strings + in.strings_len - p) + 1;
        return s;
    };
    for (uint64_t i = 0; i < in.argc; ++i) *w++ = next_string();
    *w++ = 0;
    for (uint64_t i = 0; i < in.envc; ++i) *w++ = next_string();
    *w++ = 0;
    for (uint64_t i = 0; i < naux; ++i) {
        *w++ = auxv[i][0];
        *w++ = auxv[i][1];
    }
    note_process_start(
        {in.lo, in.lo + in.size, sp, strings, in.strings_len, &auxv[0][0], 2 * naux, in.argc});
    return sp;
}

[[noreturn]] void start_process() {
    ember_boot_info* b = boot();
    for (auto& r : g_rlimits) r = {~0ull, ~0ull};
    // RLIMIT_STACK's soft limit is also glibc's default thread stack size.
    // Every accessible page here is a frame of --mem (no overcommit), so it
    // scales with --mem: 1 MiB at the default 64M (about 50 live glibc
    // threads rather than 6), Linux's usual 8 MiB from 512M up. The same
    // as natively under `ulimit -s`; a program may raise it (setrlimit).
    uint64_t thread_stack = ram_size() / 64;
    if (thread_stack < kThreadStackMin) thread_stack = kThreadStackMin;
    if (thread_stack > kStackMax) thread_stack = kStackMax;
    g_rlimits[3] = {thread_stack & ~(EMBER_PAGE_SIZE - 1), ~0ull};  // RLIMIT_STACK
    g_rlimits[7] = {1024, 1024};                                    // RLIMIT_NOFILE

    uint64_t stack_size = kStackMax;
    if (stack_size > ram_size() / 8) stack_size = (ram_size() / 8) & ~(EMBER_PAGE_SIZE - 1);
    const uint64_t stack_lo = mm_map_anywhere(stack_size);
    if (!stack_lo) panic("no memory for the initial stack");
    // argv/envp strings come from EMBER_GPA_ARGS, where they are NUL-separated.
    const uint64_t args_size = b->args_size <= EMBER_ARGS_SIZE ? b->args_size : 0;
    InitialStack st{};
    st.lo = stack_lo;
    st.size = stack_size;
    st.strings = reinterpret_cast<const char*>(EMBER_GPA_ARGS);
    st.strings_len = args_size;
    st.argc = b->argc;
    st.envc = b->envc;
    st.execfn = b->execfn;
    st.execfn_len = strnlen(b->execfn, sizeof b->execfn - 1);
    st.phdr = b->phdr;
    st.phent = b->phent;
    st.phnum = b->phnum;
    st.base = b->interp_hi ? b->interp_base : 0;
    st.entry = b->entry;
    const uint64_t sp = build_initial_stack(st);
    b->tsc_app_start = __builtin_ia32_rdtsc();
    enter_user(b->interp_hi ? b->interp_entry : b->entry, sp);
}

namespace {

int64_t sys_arch_prctl(uint64_t code, uint64_t addr, uint64_t, uint64_t, uint64_t, uint64_t) {
    constexpr uint64_t kSetGs = 0x1001, kSetFs = 0x1002, kGetFs = 0x1003, kGetGs = 0x1004;
    switch (code) {
        case kSetFs:
            if (addr >> 47) return -EPERM;  // non-canonical
            wrfsbase(addr);
            return 0;
        case kSetGs:
            if (addr >> 47) return -EPERM;
            wrgsbase(addr);
            return 0;
        case kGetFs:
        case kGetGs:
            return put_user(addr, code == kGetFs ? rdfsbase() : rdgsbase());
        default:
            return -EINVAL;
    }
}

int64_t sys_uname(uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    linux_utsname u;
    memset(&u, 0, sizeof u);
    auto put = [](char* dst, const char* s) { memcpy(dst, s, strlen(s) + 1); };
    put(u.sysname, "Linux");
    put(u.nodename, kUtsNodename);
    // glibc refuses to run on kernels older than it was configured for.
    put(u.release, kUtsRelease);
    put(u.version, kUtsVersion);
    put(u.machine, "x86_64");
    put(u.domainname, "(none)");
    return put_user(buf, u);
}

int64_t sys_sysinfo(uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    linux_sysinfo s;
    memset(&s, 0, sizeof s);
    s.uptime = static_cast<int64_t>((monotonic_ns() - static_cast<uint64_t>(boot()->mono_base_ns)) /
                                    1000000000ull);
    s.totalram = ram_size();
    s.freeram = mem_free_bytes();
    s.procs = 1;
    s.mem_unit = 1;
    return put_user(buf, s);
}

int64_t sys_prlimit64(uint64_t pid, uint64_t res, uint64_t new_lim, uint64_t old_lim, uint64_t,
                      uint64_t) {
    if (pid != 0 && static_cast<int64_t>(pid) != proc_current()->pid) return -ESRCH;
    if (res >= 16) return -EINVAL;
    if (old_lim && put_user(old_lim, g_rlimits[res]) < 0) return -EFAULT;
    if (new_lim) {
        linux_rlimit l;
        if (get_user(&l, new_lim) < 0) return -EFAULT;
        if (l.cur > l.max) return -EINVAL;
        if (l.max > g_rlimits[res].max) return -EPERM;
        if (res == 7 && l.cur > 1024) return -EPERM;  // RLIMIT_NOFILE: fixed table
        g_rlimits[res] = l;
    }
    return 0;
}

int64_t sys_getrlimit(uint64_t res, uint64_t lim, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_prlimit64(0, res, 0, lim, 0, 0);
}
int64_t sys_setrlimit(uint64_t res, uint64_t lim, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_prlimit64(0, res, lim, 0, 0, 0);
}

int64_t sys_getrandom(uint64_t buf, uint64_t len, uint64_t flags, uint64_t, uint64_t, uint64_t) {
    if (flags & ~7ull) return -EINVAL;
    if (len > (1u << 25)) len = 1u << 25;
    void* out = user_buffer_write(buf, len);
    if (!out) return -EFAULT;
    random_fill(out, len);
    return static_cast<int64_t>(len);
}

// syscall(EMBER_SYS_READY): the application declares itself initialised.
int64_t sys_ember_ready(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    console_flush();
    hypercall(EMBER_HC_READY, 0);
    after_resume();
    return 0;
}

// rseq (per thread): the kernel only reports CPU 0, as Linux does at
// registration. It never aborts a registered critical section, although
// preemption and signals can now interrupt one (a known difference; glibc
// and musl use rseq only for the CPU id).
int64_t sys_rseq(uint64_t area, uint64_t len, uint64_t flags, uint64_t sig, uint64_t, uint64_t) {
    constexpr uint64_t kUnregister = 1;
    Thread* t = current();
    if (flags & kUnregister) {
        if (flags & ~kUnregister) return -EINVAL;
        if (!t->rseq || area != t->rseq || len != t->rseq_len) return -EINVAL;
        if (sig != t->rseq_sig) return -EPERM;
        t->rseq = 0;
        return 0;
    }
    if (flags) return -EINVAL;
    if (t->rseq)
        return area == t->rseq && len == t->rseq_len && sig == t->rseq_sig ? -EBUSY : -EINVAL;
    if (len < 32 || area % 32) return -EINVAL;
    if (!user_ok_write(area, len)) return -EFAULT;
    const uint32_t cpu[2] = {0, 0};  // cpu_id_start, cpu_id
    if (copy_to_user(area, cpu, sizeof cpu) < 0) return -EFAULT;
    t->rseq = area;
    t->rseq_len = static_cast<uint32_t>(len);
    t->rseq_sig = static_cast<uint32_t>(sig);
    return 0;
}

}  // namespace

void register_process_syscalls() {
    syscall_register(nr::arch_prctl, "arch_prctl", sys_arch_prctl);
    syscall_register(nr::uname, "uname", sys_uname);
    syscall_register(nr::sysinfo, "sysinfo", sys_sysinfo);
    syscall_register(nr::prlimit64, "prlimit64", sys_prlimit64);
    syscall_register(nr::getrlimit, "getrlimit", sys_getrlimit);
    syscall_register(nr::setrlimit, "setrlimit", sys_setrlimit);
    syscall_register(nr::getrandom, "getrandom", sys_getrandom);
    syscall_register(nr::rseq, "rseq", sys_rseq);
    syscall_register(EMBER_SYS_READY, "ember_ready", sys_ember_ready);
}

}  // namespace k
