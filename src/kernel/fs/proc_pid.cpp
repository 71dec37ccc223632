// proc_pid.cpp - the files of /proc/<pid> and /proc/<pid>/task/<tid>: maps,
// status, stat, statm, cmdline, environ, auxv, comm and mounts, in Linux's
// formats. generate_pid_file loads the process's state (a process view,
// kernel.h) so the code below reads "the loaded process"; a zombie has no
// memory left, and its memory files are empty (g_no_memory).
//
// Memory figures come from the mapping list (mm_maps.cpp). Guest memory is
// identity mapped and present, so "resident" is approximated by what is
// mapped accessible (not PROT_NONE); page-fault and context-switch counters
// are 0.
#include "fs/procfs.h"

namespace k::fs::proc {

namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

// The process being described is a zombie: no mappings, stack or auxv.
bool g_no_memory;
// The process being described (generate_pid_file).
ProcessInfo g_info;

// The command name (comm): the executable's base name, or prctl's.
void put_comm(Text& t) { t.put(g_info.comm, strnlen(g_info.comm, 15)); }

struct MemTotals {
    uint64_t size, rss, data, stack, exe, file;
    // For /proc/self/stat: the program's text and data, the heap's start.
    uint64_t code_lo, code_hi, data_lo, data_hi, brk_lo;
};

void add_run(void* ctx, const MapRun& r) {
    auto* m = static_cast<MemTotals*>(ctx);
    const uint64_t n = r.end - r.start;
    m->size += n;
    if (r.prot) m->rss += n;
    if (r.kind == MapKind::kStack) m->stack += n;
    if (r.kind == MapKind::kImage && (r.prot & PROT_EXEC)) {
        m->exe += n;
        if (!m->code_lo) m->code_lo = r.start;
        m->code_hi = r.end;
    }
    if (r.kind == MapKind::kImage && (r.prot & PROT_WRITE)) {
        if (!m->data_lo) m->data_lo = r.start;
        m->data_hi = r.end;
    }
    if (r.kind == MapKind::kHeap && !m->brk_lo) m->brk_lo = r.start;
    if (r.kind == MapKind::kImage || r.kind == MapKind::kFile) m->file += n;
    // VmData: private writable memory that is not the stack, as Linux counts it.
    if ((r.prot & PROT_WRITE) && !r.shared && r.kind != MapKind::kStack) m->data += n;
}

MemTotals mem_totals() {
    MemTotals m{};
    if (!g_no_memory) mm_for_each_map(add_run, &m);
    return m;
}

// The state letter of thread tid: 'R', 'S', or 'Z' for the process's first
// thread once it has exited while others run; 0 for no such thread.
char thread_state(int32_t tid, uint32_t* nthreads) {
    ThreadInfo small[64];
    uint32_t n = thread_list(nullptr, 0);
    ThreadInfo* list = n <= 64 ? small : static_cast<ThreadInfo*>(kcalloc(n, sizeof(ThreadInfo)));
    char st = 0;
    if (list) {
        const uint32_t cap = n <= 64 ? 64 : n;
        n = thread_list(list, cap);
        for (uint32_t i = 0; i < n && i < cap; i++)
            if (list[i].tid == tid) st = list[i].state;
        if (list != small) kfree(list);
    }
    *nthreads = n;
    if (st && tid == current_tid()) st = 'R';   // the reader itself
    if (!st && tid == g_info.pid) st = 'Z';     // the leader has exited
    if (st && g_info.state) st = g_info.state;  // the whole process is stopped or a zombie
    return st;
}

const char* state_name(char s) {
    switch (s) {
        case 'R':
            return "R (running)";
        case 'S':
            return "S (sleeping)";
        case 'T':
            return "T (stopped)";
        default:
            return "Z (zombie)";
    }
}

// The argv strings ([0]) and the envp strings ([1]) on the initial stack.
void arg_ranges(uint64_t* lo, uint64_t* mid, uint64_t* hi) {
    const ProcessStart& s = process_start();
    *lo = *mid = *hi = 0;
    if (g_no_memory || !s.args || !user_ok(s.args, s.args_size)) return;
    const auto* p = reinterpret_cast<const char*>(s.args);
    uint64_t at = 0;
    for (uint64_t i = 0; i < s.argc && at < s.args_size; i++)
        at += strnlen(p + at, s.args_size - at) + 1;
    *lo = s.args;
    *mid = s.args + (at < s.args_size ? at : s.args_size);
    *hi = s.args + s.args_size;
}

void gen_strings(Text& t, bool env) {
    uint64_t lo, mid, hi;
    arg_ranges(&lo, &mid, &hi);
    if (env)
        t.put(reinterpret_cast<const char*>(mid), hi - mid);
    else
        t.put(reinterpret_cast<const char*>(lo), mid - lo);
}

// ---- maps -----------------------------------------------------------------------

struct MapsCtx {
    Text* t;
    uint32_t exe_dev;
    uint64_t exe_ino;
};

void put_map(void* ctx, const MapRun& r) {
    auto* c = static_cast<MapsCtx*>(ctx);
    Text& t = *c->t;
    const uint64_t line = t.len;
    t.hex(r.start, 8);
    t.ch('-');
    t.hex(r.end, 8);
    t.ch(' ');
    t.ch(r.prot & PROT_READ ? 'r' : '-');
    t.ch(r.prot & PROT_WRITE ? 'w' : '-');
    t.ch(r.prot & PROT_EXEC ? 'x' : '-');
    t.ch(r.shared ? 's' : 'p');
    t.ch(' ');
    const bool image = r.kind == MapKind::kImage;
    const uint32_t dev = image ? c->exe_dev : r.kind == MapKind::kFile ? r.dev : 0;
    const uint64_t ino = image ? c->exe_ino : r.kind == MapKind::kFile ? r.ino : 0;
    t.hex(image || r.kind == MapKind::kFile ? r.offset : 0, 8);
    t.ch(' ');
    t.hex(dev >> 8, 2);  // our st_dev values are small: major 0
    t.ch(':');
    t.hex(dev & 0xff, 2);
    t.ch(' ');
    t.num(ino);
    t.ch(' ');
    const char* name = nullptr;
    char path[kPathMax];
    if (image) {
        name = g_info.exe;
    } else if (r.kind == MapKind::kHeap) {
        name = "[heap]";
    } else if (r.kind == MapKind::kStack) {
        name = "[stack]";
    } else if (r.kind == MapKind::kFile) {
        const Inode* i = inode_find(r.dev, r.ino);
        if (i && inode_path(i, path, sizeof path) > 0) name = path;
    }
    if (name) {
        // Linux pads the fields to 72 columns (25 + 6 * sizeof(void*) - 1).
        t.pad_to(line, 72);
        t.ch(' ');
        t.put(name);
    }
    t.ch('\n');
}

void gen_maps(Text& t) {
    MapsCtx c{&t, 0, 0};
    if (g_no_memory) return;
    Lookup lk;
    if (lookup(root(), g_info.exe, kFollow, &lk) == 0 && lk.node) {
        c.exe_dev = lk.node->dev ? lk.node->dev : static_cast<uint32_t>(lk.node->fs);
        c.exe_ino = lk.node->ino;
    }
    mm_for_each_map(put_map, &c);
}

// ---- status, stat, statm ------------------------------------------------------------

void gen_status(Text& t, int32_t tid, char state, uint32_t nthreads) {
    const MemTotals m = mem_totals();
    t.put("Name:\t");
    put_comm(t);
    t.put("\nUmask:\t0");
    t.ch(static_cast<char>('0' + ((umask() >> 6) & 7)));
    t.ch(static_cast<char>('0' + ((umask() >> 3) & 7)));
    t.ch(static_cast<char>('0' + (umask() & 7)));
    t.put("\nState:\t");
    t.put(state_name(state));
    t.put("\nTgid:\t");
    t.snum(g_info.pid);
    t.put("\nNgid:\t0\nPid:\t");
    t.snum(tid);
    t.put("\nPPid:\t");
    t.snum(g_info.ppid);
    t.put("\nTracerPid:\t0\nUid:");
    for (uint32_t id : g_info.uid) {
        t.ch('\t');
        t.num(id);
    }
    t.put("\nGid:");
    for (uint32_t id : g_info.gid) {
        t.ch('\t');
        t.num(id);
    }
    t.put("\nFDSize:\t");
    t.num(kMaxFds);
    // As Linux: each group then a space, and one more (trailing) space.
    t.put("\nGroups:\t");
    for (uint32_t i = 0; i < g_info.ngroups; i++) {
        if (i) t.ch(' ');
        t.num(g_info.groups[i]);
    }
    t.put(" \nNStgid:\t");
    t.snum(g_info.pid);
    t.put("\nNSpid:\t");
    t.snum(tid);
    t.put("\nNSpgid:\t");
    t.snum(g_info.pgid);
    t.put("\nNSsid:\t");
    t.snum(g_info.sid);
    t.put("\nKthread:\t0\n");
    t.kb("VmPeak", m.size);
    t.kb("VmSize", m.size);
    t.kb("VmLck", 0);
    t.kb("VmPin", 0);
    t.kb("VmHWM", m.rss);
    t.kb("VmRSS", m.rss);
    t.kb("RssAnon", m.rss - (m.file < m.rss ? m.file : m.rss));
    t.kb("RssFile", m.file < m.rss ? m.file : m.rss);
    t.kb("RssShmem", 0);
    t.kb("VmData", m.data);
    t.kb("VmStk", m.stack);
    t.kb("VmExe", m.exe);
    t.kb("VmLib", 0);
    t.kb("VmPTE", 0);
    t.kb("VmSwap", 0);
    t.put("HugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t");
    t.num(nthreads);
    t.put("\nSigQ:\t0/");
    t.num(kMaxFds);  // RLIMIT_SIGPENDING is not tracked: a plausible limit
    SignalSets s;
    signal_sets(tid, &s);
    const char* names[] = {"SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"};
    const uint64_t sets[] = {s.pending, s.shared, s.blocked, s.ignored, s.caught};
    for (int i = 0; i < 5; i++) {
        t.ch('\n');
        t.put(names[i]);
        t.put(":\t");
        t.hex(sets[i], 16);
    }
    t.put(
        "\nCapInh:\t0000000000000000\n"
        "CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
        "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"
        "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n"
        "Speculation_Store_Bypass:\tnot vulnerable\n"
        "SpeculationIndirectBranch:\tunknown\n"
        "Cpus_allowed:\t1\nCpus_allowed_list:\t0\n"
        "Mems_allowed:\t1\nMems_allowed_list:\t0\n"
        "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
}

void gen_stat(Text& t, int32_t tid, char state, uint32_t nthreads) {
    const MemTotals m = mem_totals();
    const ProcessStart& s = process_start();
    const ember_boot_info* b = boot();
    uint64_t arg_lo, arg_mid, arg_hi;
    arg_ranges(&arg_lo, &arg_mid, &arg_hi);
    t.snum(tid);
    t.put(" (");
    put_comm(t);
    t.put(") ");
    t.ch(state);
    // ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    t.ch(' ');
    t.snum(g_info.ppid);
    t.ch(' ');
    t.snum(g_info.pgid);
    t.ch(' ');
    t.snum(g_info.sid);
    t.put(" 0 -1 4194304 0 0 0 0 ");
    t.num(clock_ticks(uptime_ns()));  // utime: the run time (as CLOCK_PROCESS_CPUTIME_ID)
    // stime cutime cstime priority nice num_threads itrealvalue starttime
    t.put(" 0 0 0 20 0 ");
    t.num(nthreads);
    t.put(" 0 0 ");
    t.num(m.size);
    t.ch(' ');
    t.num(m.rss / kPage);
    t.put(" 18446744073709551615 ");
    t.num(m.code_lo);  // startcode, endcode
    t.ch(' ');
    t.num(m.code_hi);
    t.ch(' ');
    t.num(s.sp);  // startstack
    // kstkesp kstkeip signal blocked sigignore sigcatch wchan nswap cnswap
    // exit_signal processor rt_priority policy delayacct_blkio_ticks
    // guest_time cguest_time; the signal sets in decimal, the thread's
    // pending ones only and signals 1-31, as Linux prints them.
    SignalSets sig;
    signal_sets(tid, &sig);
    t.put(" 0 0 ");
    t.num(sig.pending & 0x7fffffffu);
    t.ch(' ');
    t.num(sig.blocked & 0x7fffffffu);
    t.ch(' ');
    t.num(sig.ignored & 0x7fffffffu);
    t.ch(' ');
    t.num(sig.caught & 0x7fffffffu);
    t.put(" 0 0 0 ");
    t.snum(g_info.exit_signal);
    t.put(" 0 0 0 0 0 0 ");
    t.num(m.data_lo);  // start_data, end_data, start_brk
    t.ch(' ');
    t.num(m.data_hi);
    t.ch(' ');
    t.num(m.brk_lo ? m.brk_lo : b->image_hi);
    t.ch(' ');
    t.num(arg_lo);
    t.ch(' ');
    t.num(arg_mid);
    t.ch(' ');
    t.num(arg_mid);
    t.ch(' ');
    t.num(arg_hi);
    t.put(" 0\n");
}

void gen_statm(Text& t) {
    const MemTotals m = mem_totals();
    t.num(m.size / kPage);
    t.ch(' ');
    t.num(m.rss / kPage);
    t.ch(' ');
    t.num(m.file / kPage);
    t.ch(' ');
    t.num(m.exe / kPage);
    t.put(" 0 ");
    t.num((m.data + m.stack) / kPage);
    t.put(" 0\n");
}

bool generate_file(uint8_t node, int32_t tid, Text& t);

}  // namespace

bool generate_pid_file(uint8_t node, int32_t pid, int32_t tid, Text& t) {
    if (!process_info(pid, &g_info)) return false;
    const bool memory = node != kComm && node != kMounts && node != kMountinfo;
    bool viewed = process_view_begin(pid, memory);
    g_no_memory = false;
    if (!viewed && memory) {  // a zombie: its memory is gone
        g_no_memory = true;
        viewed = process_view_begin(pid, false);
    }
    if (!viewed) return false;
    const bool ok = generate_file(node, tid, t);
    process_view_end();
    g_no_memory = false;
    return ok;
}

namespace {

bool generate_file(uint8_t node, int32_t tid, Text& t) {
    switch (node) {
        case kAuxv: {
            if (g_no_memory) return true;
            const ProcessStart& s = process_start();
            t.put(reinterpret_cast<const char*>(s.auxv), s.auxv_words * sizeof(uint64_t));
            return true;
        }
        case kCmdline:
            gen_strings(t, false);
            return true;
        case kEnviron:
            gen_strings(t, true);
            return true;
        case kComm:
            put_comm(t);
            t.ch('\n');
            return true;
        case kMaps:
            gen_maps(t);
            return true;
        case kMounts:
            t.put(
                "rootfs / rootfs ro 0 0\n"
                "tmpfs /tmp tmpfs rw,nosuid,nodev 0 0\n"
                "devtmpfs /dev devtmpfs rw,nosuid 0 0\n"
                "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n"
                "proc /proc proc ro,nosuid,nodev,noexec 0 0\n"
                "sysfs /sys sysfs ro,nosuid,nodev,noexec 0 0\n");
            return true;
        case kMountinfo:  // mount ids and st_dev as rootfs.cpp numbers them
            t.put(
                "1 0 0:1 / / ro - rootfs rootfs ro\n"
                "2 1 0:2 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw\n"
                "3 1 0:3 / /dev rw,nosuid - devtmpfs devtmpfs rw\n"
                "4 3 0:4 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw\n"
                "5 1 0:5 / /proc ro,nosuid,nodev,noexec - proc proc ro\n"
                "6 1 0:6 / /sys ro,nosuid,nodev,noexec - sysfs sysfs ro\n");
            return true;
        case kStatm:
            gen_statm(t);
            return true;
        case kStatus:
        case kPidStat: {
            uint32_t nthreads;
            char state = thread_state(tid, &nthreads);
            if (!state) return false;  // the thread has exited
            if (node == kStatus)
                gen_status(t, tid, state, nthreads);
            else
                gen_stat(t, tid, state, nthreads);
            return true;
        }
        default:
            return false;
    }
}

}  // namespace

}  // namespace k::fs::proc
