// proc_sys.cpp - the system-wide files of /proc and /sys: cpuinfo (from
// CPUID, one processor), meminfo (--mem and the page allocator), stat,
// uptime, loadavg, version, /proc/sys/... and the CPU and huge-page files
// of /sys, all consistent with one vCPU and the instance's memory.
#include "fs/procfs.h"

namespace k::fs::proc {

namespace {

struct Regs {
    uint32_t a, b, c, d;
};

// CPUID traps on PVM hosts (~90 µs each on the Intel machines): only
// /proc/cpuinfo uses it, and keeps its text (cpuinfo_text).
Regs cpuid(uint32_t leaf, uint32_t sub = 0) {
    Regs r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
    return r;
}

// One flag of /proc/cpuinfo: CPUID leaf (subleaf), register (0-3 = a-d), bit.
struct Flag {
    uint32_t leaf;
    uint8_t sub, reg, bit;
    const char* name;
};
// In Linux's order (its capability words 0, 1, 4, 6, 9, 10, 16, 18).
constexpr Flag kFlags[] = {
    {1, 0, 3, 0, "fpu"},
    {1, 0, 3, 1, "vme"},
    {1, 0, 3, 2, "de"},
    {1, 0, 3, 3, "pse"},
    {1, 0, 3, 4, "tsc"},
    {1, 0, 3, 5, "msr"},
    {1, 0, 3, 6, "pae"},
    {1, 0, 3, 7, "mce"},
    {1, 0, 3, 8, "cx8"},
    {1, 0, 3, 9, "apic"},
    {1, 0, 3, 11, "sep"},
    {1, 0, 3, 12, "mtrr"},
    {1, 0, 3, 13, "pge"},
    {1, 0, 3, 14, "mca"},
    {1, 0, 3, 15, "cmov"},
    {1, 0, 3, 16, "pat"},
    {1, 0, 3, 17, "pse36"},
    {1, 0, 3, 19, "clflush"},
    {1, 0, 3, 23, "mmx"},
    {1, 0, 3, 24, "fxsr"},
    {1, 0, 3, 25, "sse"},
    {1, 0, 3, 26, "sse2"},
    {1, 0, 3, 27, "ss"},
    {1, 0, 3, 28, "ht"},
    {0x80000001, 0, 3, 11, "syscall"},
    {0x80000001, 0, 3, 20, "nx"},
    {0x80000001, 0, 3, 22, "mmxext"},
    {0x80000001, 0, 3, 25, "fxsr_opt"},
    {0x80000001, 0, 3, 26, "pdpe1gb"},
    {0x80000001, 0, 3, 27, "rdtscp"},
    {0x80000001, 0, 3, 29, "lm"},
    {1, 0, 2, 0, "pni"},
    {1, 0, 2, 1, "pclmulqdq"},
    {1, 0, 2, 3, "monitor"},
    {1, 0, 2, 9, "ssse3"},
    {1, 0, 2, 12, "fma"},
    {1, 0, 2, 13, "cx16"},
    {1, 0, 2, 17, "pcid"},
    {1, 0, 2, 19, "sse4_1"},
    {1, 0, 2, 20, "sse4_2"},
    {1, 0, 2, 21, "x2apic"},
    {1, 0, 2, 22, "movbe"},
    {1, 0, 2, 23, "popcnt"},
    {1, 0, 2, 24, "tsc_deadline_timer"},
    {1, 0, 2, 25, "aes"},
    {1, 0, 2, 26, "xsave"},
    {1, 0, 2, 28, "avx"},
    {1, 0, 2, 29, "f16c"},
    {1, 0, 2, 30, "rdrand"},
    {1, 0, 2, 31, "hypervisor"},
    {0x80000001, 0, 2, 0, "lahf_lm"},
    {0x80000001, 0, 2, 1, "cmp_legacy"},
    {0x80000001, 0, 2, 2, "svm"},
    {0x80000001, 0, 2, 3, "extapic"},
    {0x80000001, 0, 2, 4, "cr8_legacy"},
    {0x80000001, 0, 2, 5, "abm"},
    {0x80000001, 0, 2, 6, "sse4a"},
    {0x80000001, 0, 2, 7, "misalignsse"},
    {0x80000001, 0, 2, 8, "3dnowprefetch"},
    {0x80000001, 0, 2, 11, "xop"},
    {0x80000001, 0, 2, 16, "fma4"},
    {0x80000001, 0, 2, 22, "topoext"},
    {7, 0, 1, 0, "fsgsbase"},
    {7, 0, 1, 3, "bmi1"},
    {7, 0, 1, 4, "hle"},
    {7, 0, 1, 5, "avx2"},
    {7, 0, 1, 7, "smep"},
    {7, 0, 1, 8, "bmi2"},
    {7, 0, 1, 9, "erms"},
    {7, 0, 1, 10, "invpcid"},
    {7, 0, 1, 11, "rtm"},
    {7, 0, 1, 16, "avx512f"},
    {7, 0, 1, 17, "avx512dq"},
    {7, 0, 1, 18, "rdseed"},
    {7, 0, 1, 19, "adx"},
    {7, 0, 1, 20, "smap"},
    {7, 0, 1, 21, "avx512ifma"},
    {7, 0, 1, 23, "clflushopt"},
    {7, 0, 1, 24, "clwb"},
    {7, 0, 1, 28, "avx512cd"},
    {7, 0, 1, 29, "sha_ni"},
    {7, 0, 1, 30, "avx512bw"},
    {7, 0, 1, 31, "avx512vl"},
    {0xd, 1, 0, 0, "xsaveopt"},
    {0xd, 1, 0, 1, "xsavec"},
    {0xd, 1, 0, 2, "xgetbv1"},
    {0xd, 1, 0, 3, "xsaves"},
    {7, 0, 2, 1, "avx512vbmi"},
    {7, 0, 2, 2, "umip"},
    {7, 0, 2, 3, "pku"},
    {7, 0, 2, 6, "avx512_vbmi2"},
    {7, 0, 2, 8, "gfni"},
    {7, 0, 2, 9, "vaes"},
    {7, 0, 2, 10, "vpclmulqdq"},
    {7, 0, 2, 11, "avx512_vnni"},
    {7, 0, 2, 12, "avx512_bitalg"},
    {7, 0, 2, 14, "avx512_vpopcntdq"},
    {7, 0, 2, 16, "la57"},
    {7, 0, 2, 22, "rdpid"},
    {7, 0, 3, 4, "fsrm"},
    {7, 0, 3, 8, "avx512_vp2intersect"},
    {7, 0, 3, 10, "md_clear"},
    {7, 0, 3, 14, "serialize"},
    {7, 0, 3, 22, "amx_bf16"},
    {7, 0, 3, 23, "avx512_fp16"},
    {7, 0, 3, 24, "amx_tile"},
    {7, 0, 3, 25, "amx_int8"},
};

uint32_t reg_of(const Regs& r, uint8_t i) {
    return i == 0 ? r.a : i == 1 ? r.b : i == 2 ? r.c : r.d;
}

// The largest cache's size in KiB (what Linux shows as "cache size").
uint64_t cache_kb(uint32_t max_leaf, uint32_t max_ext, bool intel) {
    uint64_t best = 0;
    if (intel && max_leaf >= 4) {
        for (uint32_t i = 0; i < 8; i++) {
            Regs r = cpuid(4, i);
            if ((r.a & 0x1f) == 0) break;
            uint64_t size = static_cast<uint64_t>((r.b >> 22) + 1) * (((r.b >> 12) & 0x3ff) + 1) *
                            ((r.b & 0xfff) + 1) * (static_cast<uint64_t>(r.c) + 1);
            if (size / 1024 > best) best = size / 1024;
        }
    } else if (max_ext >= 0x80000006) {
        best = cpuid(0x80000006).c >> 16;  // L2, as Linux reports on AMD
    }
    return best;
}

void gen_cpuinfo_once(Text& t) {
    Regs v = cpuid(0);
    const uint32_t max_leaf = v.a;
    char vendor[13];
    memcpy(vendor, &v.b, 4);
    memcpy(vendor + 4, &v.d, 4);
    memcpy(vendor + 8, &v.c, 4);
    vendor[12] = 0;
    const uint32_t max_ext = cpuid(0x80000000).a;
    Regs l1 = cpuid(1);
    uint32_t family = (l1.a >> 8) & 0xf, model = (l1.a >> 4) & 0xf;
    if (family == 0xf) family += (l1.a >> 20) & 0xff;
    if (family >= 6) model += ((l1.a >> 16) & 0xf) << 4;
    t.put("processor\t: 0\nvendor_id\t: ");
    t.put(vendor);
    t.put("\ncpu family\t: ");
    t.num(family);
    t.put("\nmodel\t\t: ");
    t.num(model);
    t.put("\nmodel name\t: ");
    if (max_ext >= 0x80000004) {
        char name[49];
        for (uint32_t i = 0; i < 3; i++) {
            Regs r = cpuid(0x80000002 + i);
            memcpy(name + 16 * i, &r, 16);
        }
        name[48] = 0;
        uint64_t n = strlen(name);
        while (n && name[n - 1] == ' ') n--;
        const char* p = name;
        while (*p == ' ') p++, n--;
        t.put(n ? p : "unknown", n ? n : 7);  // Linux's words when CPUID has no name
    } else {
        t.put("unknown");
    }
    t.put("\nstepping\t: ");
    t.num(l1.a & 0xf);
    const uint64_t khz = boot()->tsc_khz;
    t.put("\ncpu MHz\t\t: ");
    t.num(khz / 1000);
    t.ch('.');
    t.num(khz % 1000 / 100);
    t.num(khz % 100 / 10);
    t.num(khz % 10);
    t.put("\ncache size\t: ");
    t.num(cache_kb(max_leaf, max_ext, strcmp(vendor, "GenuineIntel") == 0));
    t.put(
        " KB\nphysical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\n"
        "apicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\nfpu_exception\t: yes\n"
        "cpuid level\t: ");
    t.num(max_leaf);
    t.put("\nwp\t\t: yes\nflags\t\t:");
    Regs cache[6] = {};
    uint32_t cached_leaf[6] = {};
    uint8_t cached_sub[6] = {};
    for (const Flag& f : kFlags) {
        const uint32_t max = f.leaf >= 0x80000000 ? max_ext : max_leaf;
        if (f.leaf > max) continue;
        uint32_t slot = 0;  // a few leaves, each read once
        while (slot < 5 && cached_leaf[slot] &&
               (cached_leaf[slot] != f.leaf || cached_sub[slot] != f.sub))
            slot++;
        if (cached_leaf[slot] != f.leaf || cached_sub[slot] != f.sub) {
            cache[slot] = cpuid(f.leaf, f.sub);
            cached_leaf[slot] = f.leaf;
            cached_sub[slot] = f.sub;
        }
        if ((reg_of(cache[slot], f.reg) >> f.bit) & 1) {
            t.ch(' ');
            t.put(f.name);
        }
    }
    t.put("\nbugs\t\t:\nbogomips\t: ");
    t.num(khz * 2 / 1000);
    t.put(".");
    t.num(khz * 2 % 1000 / 100);
    t.num(khz * 2 % 100 / 10);
    t.put("\nclflush size\t: ");
    const uint32_t line = ((l1.b >> 8) & 0xff) * 8;
    t.num(line);
    t.put("\ncache_alignment\t: ");
    t.num(line);
    t.put("\naddress sizes\t: ");
    const uint32_t sizes = max_ext >= 0x80000008 ? cpuid(0x80000008).a : 0x3024;
    t.num(sizes & 0xff);
    t.put(" bits physical, ");
    t.num((sizes >> 8) & 0xff);
    t.put(" bits virtual\npower management:\n\n");
}

// The CPU does not change under a running instance (a snapshot restores
// only on a host with the same CPUID features), so the ~16 CPUIDs of
// /proc/cpuinfo (1.5 ms here) are paid once.
void gen_cpuinfo(Text& t) {
    static Text g_text;
    if (!g_text.len || g_text.failed) {
        g_text.release();
        gen_cpuinfo_once(g_text);
    }
    if (g_text.failed) {
        t.failed = true;
        return;
    }
    t.put(g_text.data, g_text.len);
}

// "Label:" padded to 16 columns, the value in 8, " kB" (Linux's show_val_kb).
void mem_line(Text& t, const char* label, uint64_t kb, bool unit = true) {
    const uint64_t line = t.len;
    t.put(label);
    t.ch(':');
    t.pad_to(line, 16);
    t.num(kb, 8);
    t.put(unit ? " kB\n" : "\n");
}

void gen_meminfo(Text& t) {
    const uint64_t total = ram_size() / 1024, free = mem_free_bytes() / 1024;
    mem_line(t, "MemTotal", total);
    mem_line(t, "MemFree", free);
    mem_line(t, "MemAvailable", free);
    static constexpr const char* kZero1[] = {
        "Buffers",      "Cached",         "SwapCached",   "Active",         "Inactive",
        "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable",
        "Mlocked",      "SwapTotal",      "SwapFree",     "Zswap",          "Zswapped",
        "Dirty",        "Writeback"};
    for (const char* l : kZero1) mem_line(t, l, 0);
    mem_line(t, "AnonPages", total - free);
    static constexpr const char* kZero2[] = {"Mapped",       "Shmem",        "KReclaimable",
                                             "Slab",         "SReclaimable", "SUnreclaim",
                                             "KernelStack",  "PageTables",   "SecPageTables",
                                             "NFS_Unstable", "Bounce",       "WritebackTmp"};
    for (const char* l : kZero2) mem_line(t, l, 0);
    mem_line(t, "CommitLimit", total);
    mem_line(t, "Committed_AS", total - free);
    mem_line(t, "VmallocTotal", 34359738367);
    static constexpr const char* kZero3[] = {"VmallocUsed",   "VmallocChunk",   "Percpu",
                                             "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped",
                                             "FileHugePages", "FilePmdMapped"};
    for (const char* l : kZero3) mem_line(t, l, 0);
    static constexpr const char* kCounts[] = {"HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                                              "HugePages_Surp"};
    for (const char* l : kCounts) mem_line(t, l, 0, false);
    mem_line(t, "Hugepagesize", 2048);
    mem_line(t, "Hugetlb", 0);
    mem_line(t, "DirectMap4k", total);
}

// Seconds with two decimals.
void put_centis(Text& t, uint64_t ns) {
    t.num(ns / 1000000000);
    t.ch('.');
    const uint64_t c = ns / 10000000 % 100;
    t.num(c / 10);
    t.num(c % 10);
}

void gen_stat(Text& t) {
    const uint64_t up = uptime_ns();
    ThreadInfo list[64];
    uint32_t n = thread_list_all(list, 64), running = 0;
    for (uint32_t i = 0; i < n && i < 64; i++) running += list[i].state == 'R';
    // The instance's CPU time is its run time (as CLOCK_PROCESS_CPUTIME_ID).
    static constexpr const char* kCpus[] = {"cpu  ", "cpu0 "};
    for (const char* cpu : kCpus) {
        t.put(cpu);
        t.num(clock_ticks(up));
        t.put(" 0 0 0 0 0 0 0 0 0\n");
    }
    t.put("intr 0\nctxt 0\nbtime ");
    t.snum((realtime_ns() - static_cast<int64_t>(up)) / 1000000000);
    t.put("\nprocesses ");  // forks since boot, as Linux counts them
    t.num(boot()->stat_forks + 1);
    t.put("\nprocs_running ");
    t.num(running ? running : 1);
    t.put("\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n");
}

void gen_loadavg(Text& t) {
    ThreadInfo list[64];
    uint32_t n = thread_list_all(list, 64), running = 0;
    int32_t last = kProcessId;
    for (uint32_t i = 0; i < n && i < 64; i++) {
        running += list[i].state == 'R';
        if (list[i].tid > last) last = list[i].tid;
    }
    t.put("0.00 0.00 0.00 ");
    t.num(running ? running : 1);
    t.ch('/');
    t.num(n);
    t.ch(' ');
    t.snum(last);
    t.ch('\n');
}

// A random (version 4) UUID; boot_id keeps the first one it gets.
void gen_uuid(Text& t, bool boot_id) {
    static uint8_t g_boot_id[16];
    static bool g_have_boot_id;
    uint8_t b[16];
    if (boot_id && g_have_boot_id) {
        memcpy(b, g_boot_id, sizeof b);
    } else {
        random_fill(b, sizeof b);
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    if (boot_id && !g_have_boot_id) {
        memcpy(g_boot_id, b, sizeof b);
        g_have_boot_id = true;
    }
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) t.ch('-');
        t.hex(b[i], 2);
    }
    t.ch('\n');
}

}  // namespace

uint64_t uptime_ns() { return monotonic_ns() - static_cast<uint64_t>(boot()->mono_base_ns); }
uint64_t clock_ticks(uint64_t ns) { return ns / 10000000; }

bool generate_sys_file(uint8_t node, Text& t) {
    switch (node) {
        case kCpuinfo:
            gen_cpuinfo(t);
            break;
        case kMeminfo:
            gen_meminfo(t);
            break;
        case kStat:
            gen_stat(t);
            break;
        case kUptime:
            put_centis(t, uptime_ns());
            t.put(" 0.00\n");
            break;
        case kLoadavg:
            gen_loadavg(t);
            break;
        case kVersion:
            t.put("Linux version ");
            t.put(kUtsRelease);
            t.put(" (ember@ember) (ember) ");
            t.put(kUtsVersion);
            t.ch('\n');
            break;
        case kFilesystems:
            t.put("nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tramfs\n");
            break;
        case kKernelCmdline:
            t.put("ember\n");
            break;
        case kHostname:
            t.put(kUtsNodename);
            t.ch('\n');
            break;
        case kOsrelease:
            t.put(kUtsRelease);
            t.ch('\n');
            break;
        case kOstype:
            t.put("Linux\n");
            break;
        case kKernelVersion:
            t.put(kUtsVersion);
            t.ch('\n');
            break;
        case kPidMax:
            t.put("4194304\n");
            break;
        case kThreadsMax:
            t.put("4096\n");  // sched/thread.cpp's kMaxThreads
            break;
        case kCapLastCap:
            t.put("40\n");
            break;
        case kBootId:
        case kUuid:
            gen_uuid(t, node == kBootId);
            break;
        case kEntropyAvail:
            t.put("256\n");
            break;
        case kOvercommit:
            t.put("0\n");
            break;
        case kMaxMapCount:
            t.put("65530\n");
            break;
        case kSomaxconn:
            t.put("4096\n");
            break;
        case kCpuOnline:
            t.put("0\n");  // one vCPU
            break;
        case kCpuKernelMax:
            t.put("8191\n");
            break;
        case kThpEnabled:
            t.put("always madvise [never]\n");
            break;
        case kThpDefrag:
            t.put("always defer defer+madvise madvise [never]\n");
            break;
        case kThpPmdSize:
            t.put("2097152\n");
            break;
        default:
            return false;
    }
    return true;
}

}  // namespace k::fs::proc
