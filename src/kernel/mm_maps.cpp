// mm_maps.cpp - the application's mappings as /proc/self/maps lists them:
// a sorted array of non-overlapping runs, merged where Linux would merge
// VMAs (same kind, protection and file, contiguous offsets). Kernel
// allocations never enter it, so the list is what the application mapped.
#include "mm_maps.h"

namespace k {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;
constexpr uint64_t kMaxAuxvWords = 64;

MapRun* g_runs;  // kmalloc'd, g_cap entries, g_count in use, sorted by start
uint64_t g_count, g_cap;
// Set while the array changes: growing it frees the old array, and that
// free comes back here through release() (kernel pages, never in the list).
bool g_busy;
// clear() runs inside mm.cpp's release(), where allocating could hand out
// the very pages being freed (which MAP_FIXED then gives to the
// application). So clear() never grows the array: every change that may
// allocate leaves this many spare entries for the splits of later clears.
constexpr uint64_t kSpare = 8;

ProcessStart g_start;
uint64_t g_auxv[kMaxAuxvWords];

// Index of the first run that ends after addr (g_count if none).
uint64_t first_ending_after(uint64_t addr) {
    uint64_t lo = 0, hi = g_count;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (g_runs[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool has_offset(MapKind k) { return k == MapKind::kImage || k == MapKind::kFile; }

// The part of r from addr on.
MapRun tail_of(MapRun r, uint64_t addr) {
    if (has_offset(r.kind)) r.offset += addr - r.start;
    r.start = addr;
    return r;
}

bool mergeable(const MapRun& a, const MapRun& b) {
    return a.end == b.start && a.kind == b.kind && a.prot == b.prot && a.shared == b.shared &&
           a.ino == b.ino && a.dev == b.dev &&
           (!has_offset(a.kind) || a.offset + (a.end - a.start) == b.offset);
}

bool reserve(uint64_t n) {
    if (n <= g_cap) return true;
    uint64_t cap = g_cap ? g_cap * 2 : 16;  // 640 bytes: a small kmalloc block
    while (cap < n) cap *= 2;
    auto* a = static_cast<MapRun*>(kcalloc(cap, sizeof(MapRun)));
    if (!a) return false;
    if (g_count) memcpy(a, g_runs, g_count * sizeof(MapRun));
    MapRun* old = g_runs;
    g_runs = a;
    g_cap = cap;
    kfree(old);
    return true;
}

void erase(uint64_t i) {
    memmove(&g_runs[i], &g_runs[i + 1], (g_count - i - 1) * sizeof(MapRun));
    g_count--;
}

// Makes [start, end) be r (r == nullptr: unmapped), splitting the runs it
// cuts and merging with its neighbours. Out of memory (or of spare entries
// when it may not grow), the list may miss a mapping but never shows freed
// memory.
void assign(uint64_t start, uint64_t end, const MapRun* r, bool may_grow = true) {
    if (start >= end || g_busy) return;
    g_busy = true;
    const uint64_t i = first_ending_after(start);
    uint64_t j = i;
    while (j < g_count && g_runs[j].start < end) j++;
    MapRun pieces[3];
    uint64_t np = 0;
    if (i < j && g_runs[i].start < start) {
        pieces[np] = g_runs[i];
        pieces[np++].end = start;
    }
    if (r) {
        pieces[np] = *r;
        pieces[np].start = start;
        pieces[np++].end = end;
    }
    if (i < j && g_runs[j - 1].end > end) pieces[np++] = tail_of(g_runs[j - 1], end);
    uint64_t n = g_count - (j - i) + np;
    if (n > g_cap || (may_grow && n + kSpare > g_cap)) {
        if (!may_grow || !reserve(n + kSpare)) {
            while (np > 0 && n > g_cap) np--, n--;  // drop the right remnant first
            if (n > g_cap) np = 0, n = g_count - (j - i);
        }
    }
    memmove(&g_runs[i + np], &g_runs[j], (g_count - j) * sizeof(MapRun));
    memcpy(&g_runs[i], pieces, np * sizeof(MapRun));
    g_count = n;
    // The boundaries the change made: before, between and after the pieces.
    for (uint64_t k = i + np;; k--) {
        if (k >= 1 && k < g_count && mergeable(g_runs[k - 1], g_runs[k])) {
            g_runs[k - 1].end = g_runs[k].end;
            erase(k);
        }
        if (k == 0 || k == i) break;
    }
    g_busy = false;
}

uint8_t prot_bits(uint64_t prot) {
    return static_cast<uint8_t>(prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
}

struct Elf64Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
constexpr uint32_t kPtLoad = 1, kPfX = 1, kPfW = 2, kPfR = 4;

}  // namespace

namespace maps {

void reset() {
    kfree(g_runs);
    g_runs = nullptr;
    g_count = g_cap = 0;
    g_busy = false;
    g_start = ProcessStart{};
}

void init_image() {
    const ember_boot_info* b = boot();
    if (b->phent != sizeof(Elf64Phdr) || b->phnum == 0 || b->phnum > 256) return;
    if (!user_ok(b->phdr, b->phnum * sizeof(Elf64Phdr))) return;
    for (uint64_t n = 0; n < b->phnum; n++) {
        Elf64Phdr ph;
        memcpy(&ph, reinterpret_cast<const void*>(b->phdr + n * sizeof ph), sizeof ph);
        if (ph.type != kPtLoad || ph.memsz == 0) continue;
        const uint64_t va = ph.vaddr + b->load_bias;
        const uint64_t lo = va & ~(kPage - 1);
        const uint64_t file_end = (va + ph.filesz + kPage - 1) & ~(kPage - 1);
        const uint64_t mem_end = (va + ph.memsz + kPage - 1) & ~(kPage - 1);
        if (lo < b->image_lo || mem_end > b->image_hi || file_end > mem_end) continue;
        uint8_t prot = 0;
        if (ph.flags & kPfR) prot |= PROT_READ;
        if (ph.flags & kPfW) prot |= PROT_WRITE;
        if (ph.flags & kPfX) prot |= PROT_EXEC;
        MapRun r{};
        r.kind = MapKind::kImage;
        r.prot = prot;
        r.offset = ph.offset & ~(kPage - 1);
        assign(lo, file_end, &r);
        MapRun bss{};  // bss beyond the file's last page: anonymous, as on Linux
        bss.kind = MapKind::kAnon;
        bss.prot = prot;
        assign(file_end, mem_end, &bss);
    }
}

void set(uint64_t addr, uint64_t len, MapKind kind, uint64_t prot, bool shared, int fd,
         uint64_t off) {
    MapRun r{};
    r.kind = kind;
    r.prot = prot_bits(prot);
    r.shared = shared;
    if (kind == MapKind::kFile) {
        r.offset = off;
        if (!fs_fd_identity(fd, &r.dev, &r.ino)) r.kind = MapKind::kAnon;
    }
    assign(addr, addr + len, &r);
}

void protect(uint64_t addr, uint64_t len, uint64_t prot) {
    const uint64_t end = addr + len;
    for (uint64_t a = addr; a < end;) {
        const uint64_t i = first_ending_after(a);
        if (i >= g_count || g_runs[i].start >= end) break;
        const uint64_t s = a > g_runs[i].start ? a : g_runs[i].start;
        const uint64_t t = end < g_runs[i].end ? end : g_runs[i].end;
        MapRun r = tail_of(g_runs[i], s);
        r.prot = prot_bits(prot);
        assign(s, t, &r);
        a = t;
    }
}

void save(MapsState* s) {
    s->runs = g_runs;
    s->count = g_count;
    s->cap = g_cap;
    s->start = g_start;
    static_assert(sizeof s->auxv == sizeof g_auxv);
    memcpy(s->auxv, g_auxv, sizeof g_auxv);
}

void load(const MapsState* s) {
    g_runs = s->runs;
    g_count = s->count;
    g_cap = s->cap;
    g_busy = false;
    g_start = s->start;
    memcpy(g_auxv, s->auxv, sizeof g_auxv);
    g_start.auxv = g_auxv;
}

bool copy(MapsState* s) {
    save(s);
    s->runs = nullptr;
    if (g_cap) {
        s->runs = static_cast<MapRun*>(kcalloc(g_cap, sizeof(MapRun)));
        if (!s->runs) return false;
        memcpy(s->runs, g_runs, g_count * sizeof(MapRun));
    }
    return true;
}

void free_state(MapsState* s) {
    kfree(s->runs);
    s->runs = nullptr;
    s->count = s->cap = 0;
}

bool shared_at(uint64_t addr) {
    const uint64_t i = first_ending_after(addr);
    return i < g_count && g_runs[i].start <= addr && g_runs[i].shared;
}

MapKind kind_at(uint64_t addr) {
    const uint64_t i = first_ending_after(addr);
    return i < g_count && g_runs[i].start <= addr ? g_runs[i].kind : MapKind::kNone;
}

uint64_t prot_at(uint64_t addr) {
    const uint64_t i = first_ending_after(addr);
    return i < g_count && g_runs[i].start <= addr ? g_runs[i].prot : 0;
}

bool any_in(uint64_t addr, uint64_t len) {
    const uint64_t i = first_ending_after(addr);
    return i < g_count && g_runs[i].start < addr + len;
}

bool covers(uint64_t addr, uint64_t len) {
    uint64_t at = addr;
    for (uint64_t i = first_ending_after(addr); at < addr + len; ++i) {
        if (i >= g_count || g_runs[i].start > at) return false;
        at = g_runs[i].end;
    }
    return true;
}

bool within_one(uint64_t addr, uint64_t len) {
    const uint64_t i = first_ending_after(addr);
    return i < g_count && g_runs[i].start <= addr && g_runs[i].end - addr >= len;
}

uint64_t find_gap(uint64_t lo, uint64_t hi, uint64_t len) {
    if (hi < lo || hi - lo < len) return 0;
    // Runs before i end at or below hi; run i may straddle it.
    uint64_t i = first_ending_after(hi);
    uint64_t top = i < g_count && g_runs[i].start < hi ? g_runs[i].start : hi;
    for (;;) {
        const uint64_t below = i > 0 ? g_runs[i - 1].end : 0;
        const uint64_t floor = below > lo ? below : lo;
        if (top >= floor && top - floor >= len) return top - len;
        if (i == 0 || below <= lo) return 0;
        --i;
        top = g_runs[i].start;
    }
}

void clear(uint64_t addr, uint64_t len) { assign(addr, addr + len, nullptr, false); }

void prepare() {
    if (!g_busy && g_count + kSpare > g_cap) reserve(g_count + kSpare);
}

void move(uint64_t dst, uint64_t src, uint64_t old_len, uint64_t new_len) {
    MapRun last{};
    bool have_last = false;
    for (uint64_t a = src; a < src + old_len;) {
        const uint64_t i = first_ending_after(a);
        if (i >= g_count || g_runs[i].start >= src + old_len) break;
        const uint64_t s = a > g_runs[i].start ? a : g_runs[i].start;
        const uint64_t t = src + old_len < g_runs[i].end ? src + old_len : g_runs[i].end;
        last = tail_of(g_runs[i], s);
        have_last = true;
        if (dst != src) assign(dst + (s - src), dst + (t - src), &last);
        last = tail_of(last, t);  // what a page right after it would be
        a = t;
    }
    if (have_last && new_len > old_len) assign(dst + old_len, dst + new_len, &last);
}

}  // namespace maps

void mm_for_each_map(void (*fn)(void* ctx, const MapRun& run), void* ctx) {
    for (uint64_t i = 0; i < g_count; i++) fn(ctx, g_runs[i]);
}

void note_process_start(const ProcessStart& s) {
    g_start = s;
    const uint64_t words = s.auxv_words < kMaxAuxvWords ? s.auxv_words : kMaxAuxvWords;
    memcpy(g_auxv, s.auxv, words * sizeof(uint64_t));
    g_start.auxv = g_auxv;
    g_start.auxv_words = words;
    maps::set(s.stack_lo, s.stack_hi - s.stack_lo, MapKind::kStack, PROT_READ | PROT_WRITE, false);
}

const ProcessStart& process_start() { return g_start; }

void refresh_at_random(const uint8_t* fresh, size_t n) {
    for (uint64_t i = 0; i + 1 < g_start.auxv_words; i += 2) {
        if (g_start.auxv[i] != AT_RANDOM) continue;
        const uint64_t at = g_start.auxv[i + 1];
        if (at < g_start.stack_lo || at + n > g_start.stack_hi) return;
        if (!(maps::prot_at(at) & PROT_WRITE) || !(maps::prot_at(at + n - 1) & PROT_WRITE)) return;
        memcpy(reinterpret_cast<void*>(at), fresh, n);
        return;
    }
}

}  // namespace k
