// vol_mmap.cpp - see vol_mmap.h.
#include "vol_mmap.h"

#include "fs/volume.h"
#include "mm_space.h"

namespace k {
namespace {

constexpr uint64_t kPage = EMBER_PAGE_SIZE;

struct Entry {
    Mm* mm;
    uint64_t start, end;  // page-aligned
    uint64_t off;         // file offset of start
    fs::Inode* inode;     // holds a reference
    bool writable;        // the fd was open for writing: bytes may go back to the host
    // Once the mapping was writable: a checksum per page of the bytes the
    // host has (kmalloc'd; sums_base is the allocation, sums its entry for
    // start). A page whose checksum changed is written back.
    uint64_t* sums_base;
    uint64_t* sums;
};

// A 64-bit checksum of one page (two multiply-rotate lanes over its words).
uint64_t page_sum(const uint8_t* p) {
    uint64_t a = 0x9e3779b97f4a7c15ull, b = 0xc2b2ae3d27d4eb4full;
    for (uint64_t k = 0; k < kPage; k += 16) {
        uint64_t x, y;
        memcpy(&x, p + k, 8);
        memcpy(&y, p + k + 8, 8);
        a = ((a ^ x) * 0xff51afd7ed558ccdull);
        a = (a << 31) | (a >> 33);
        b = ((b ^ y) * 0xc4ceb9fe1a85ec53ull);
        b = (b << 29) | (b >> 35);
    }
    a ^= b * 0x94d049bb133111ebull;
    return a ^ (a >> 31);
}

Entry* g_maps;
uint64_t g_count, g_cap;

bool reserve(uint64_t n) {
    if (n <= g_cap) return true;
    const uint64_t cap = n < 16 ? 16 : n * 2;
    auto* a = static_cast<Entry*>(kcalloc(cap, sizeof(Entry)));
    if (!a) return false;
    if (g_count) memcpy(a, g_maps, g_count * sizeof(Entry));
    kfree(g_maps);
    g_maps = a;
    g_cap = cap;
    return true;
}

void erase(uint64_t i) {
    fs::inode_put(g_maps[i].inode);
    kfree(g_maps[i].sums_base);
    g_maps[i] = g_maps[--g_count];
}

// A kernel pointer to the bytes of the current process's page va (or
// nullptr): the page itself where the kernel may touch it, else its frame
// where the frame reads the same in this address space.
uint8_t* page_ptr(uint64_t va, bool write) {
    if (write ? user_ok_write(va, kPage) : user_ok(va, kPage))
        return reinterpret_cast<uint8_t*>(va);
    if (va < kVirtLo) return nullptr;
    const uint64_t pa = write ? virt_frame_for_write(va) : virt_frame(va);
    if (!pa || pt_lookup(mm_current(), pa) != pa) return nullptr;
    return reinterpret_cast<uint8_t*>(pa);
}

// Checksums of the pages [start, end) as they are now into `into` (a page
// the kernel cannot read gets 0 and is compared once it can).
void sums_fill(uint64_t start, uint64_t end, uint64_t* into) {
    for (uint64_t va = start; va < end; va += kPage) {
        const uint8_t* p = page_ptr(va, false);
        into[(va - start) / kPage] = p ? page_sum(p) : 0;
    }
}

// e becomes writable: its checksums start from the bytes it holds now
// (the file's, as write() keeps them in step). false: no memory.
bool sums_start(Entry& e) {
    if (e.sums) return true;
    const uint64_t n = (e.end - e.start) / kPage;
    auto* a = static_cast<uint64_t*>(kmalloc(n * sizeof(uint64_t)));
    if (!a) return false;
    sums_fill(e.start, e.end, a);
    e.sums_base = e.sums = a;
    return true;
}

// Writes the changed pages of [lo, hi) of e (inside it) back to its file,
// up to the file's size, in runs of up to EMBER_VOLUME_IO_MAX bytes.
int64_t write_back(Entry& e, uint64_t lo, uint64_t hi) {
    if (!e.writable || !e.sums) return 0;
    int64_t err = 0;
    uint64_t run = 0, run_len = 0;  // the current run of changed pages
    auto flush = [&] {
        if (!run_len) return;
        const int64_t r = fs::vol_pwrite(e.inode, reinterpret_cast<const void*>(run), run_len,
                                         e.off + (run - e.start));
        if (r < 0 && !err) err = r;
        run_len = 0;
    };
    for (uint64_t va = lo; va < hi; va += kPage) {
        const uint64_t foff = e.off + (va - e.start);
        if (foff >= e.inode->size) break;
        const uint64_t n = e.inode->size - foff < kPage ? e.inode->size - foff : kPage;
        const uint8_t* p = page_ptr(va, false);
        uint64_t& sum = e.sums[(va - e.start) / kPage];
        const uint64_t now = p ? page_sum(p) : sum;
        if (now == sum) {
            flush();
            continue;
        }
        sum = now;
        if (p != reinterpret_cast<const uint8_t*>(va)) {  // through its frame: alone
            flush();
            const int64_t r = fs::vol_pwrite(e.inode, p, n, foff);
            if (r < 0 && !err) err = r;
            continue;
        }
        if (run_len && (run + run_len != va || run_len + n > EMBER_VOLUME_IO_MAX)) flush();
        if (!run_len) run = va;
        run_len += n;
    }
    flush();
    return err;
}

// Calls fn(entry, va, file offset, bytes) for the pieces of the current
// process's mappings of i that map file bytes [off, off+len).
template <typename Fn>
void each_file_piece(fs::Inode* i, uint64_t off, uint64_t len, Fn fn) {
    const uint64_t end = len > ~0ull - off ? ~0ull : off + len;
    Mm* mm = mm_current();
    for (uint64_t k = 0; k < g_count; k++) {
        Entry& e = g_maps[k];
        if (e.inode != i || e.mm != mm) continue;
        const uint64_t fend = e.off + (e.end - e.start);
        const uint64_t lo = off > e.off ? off : e.off, hi = end < fend ? end : fend;
        if (lo < hi) fn(e, e.start + (lo - e.off), lo, hi - lo);
    }
}

}  // namespace

int64_t volmap_check(int fd, uint64_t prot, bool shared) {
    const fs::File* f = fs::fd_get(fd);
    if (!shared || !f || !fs::is_vol(f->inode)) return 0;
    return (prot & PROT_WRITE) && !fs::file_can_write(f) ? -EACCES : 0;
}

int64_t volmap_add(int fd, uint64_t addr, uint64_t len, uint64_t off, uint64_t prot) {
    fs::File* f = fs::fd_get(fd);
    if (!f || !fs::is_vol(f->inode) || !fs::is_reg(f->inode)) return 0;
    if (!reserve(g_count + 1)) return -ENOMEM;
    Entry e = {mm_current(),          addr,    addr + len, off, f->inode,
               fs::file_can_write(f), nullptr, nullptr};
    if (e.writable && (prot & PROT_WRITE) && !sums_start(e)) return -ENOMEM;
    fs::inode_get(f->inode);
    g_maps[g_count++] = e;
    return 0;
}

int64_t volmap_protect(uint64_t addr, uint64_t len, uint64_t prot) {
    if (!(prot & PROT_WRITE)) return 0;
    Mm* mm = mm_current();
    for (uint64_t k = 0; k < g_count; k++) {
        Entry& e = g_maps[k];
        if (e.mm != mm || e.end <= addr || e.start >= addr + len) continue;
        if (!e.writable) return -EACCES;
        if (!sums_start(e)) return -ENOMEM;
    }
    return 0;
}

int64_t volmap_sync_range(uint64_t addr, uint64_t len, bool forget, bool durable) {
    if (!g_count) return 0;
    const uint64_t end = len > ~0ull - addr ? ~0ull : addr + len;
    Mm* mm = mm_current();
    const bool room = reserve(g_count + 1);  // a range inside one mapping splits it
    int64_t err = 0;
    for (uint64_t k = 0; k < g_count;) {
        Entry& e = g_maps[k];
        const uint64_t lo = addr > e.start ? addr : e.start, hi = end < e.end ? end : e.end;
        if (e.mm != mm || lo >= hi) {
            k++;
            continue;
        }
        int64_t r = write_back(e, lo, hi);
        if (r == 0 && durable && e.writable) r = fs::vol_host_fsync(e.inode, false);
        if (r < 0 && !err) err = r;
        if (!forget) {
            k++;
            continue;
        }
        if (hi < e.end && lo > e.start && room) {
            Entry t = {e.mm,    hi,         e.end,   e.off + (hi - e.start),
                       e.inode, e.writable, nullptr, nullptr};
            const uint64_t n = (e.end - hi) / kPage;
            if (e.sums && (t.sums_base = static_cast<uint64_t*>(kmalloc(n * sizeof(uint64_t))))) {
                memcpy(t.sums_base, e.sums + (hi - e.start) / kPage, n * sizeof(uint64_t));
                t.sums = t.sums_base;
            }
            if (!e.sums || t.sums) {  // else the tail is no longer written back
                fs::inode_get(e.inode);
                g_maps[g_count++] = t;
            }
        }
        if (lo > e.start) {
            e.end = lo;  // the part before the range stays (the tail is kept above)
            k++;
        } else if (hi < e.end) {
            if (e.sums) e.sums += (hi - e.start) / kPage;
            e.off += hi - e.start;
            e.start = hi;
            k++;
        } else {
            erase(k);
        }
    }
    return err;
}

void volmap_move(uint64_t old, uint64_t old_len, uint64_t dst, uint64_t new_len) {
    Mm* mm = mm_current();
    for (uint64_t k = 0; k < g_count;) {
        Entry& e = g_maps[k];
        if (e.mm != mm || e.start < old || e.start >= old + old_len) {
            k++;
            continue;
        }
        const uint64_t rel = e.start - old;
        if (rel >= new_len) {
            erase(k);
            continue;
        }
        const uint64_t n = e.end - e.start < new_len - rel ? e.end - e.start : new_len - rel;
        // The mapping's last piece grows with it (mremap of a file mapping);
        // the grown pages count as the host's until they change.
        const bool last = e.end >= old + old_len;
        const uint64_t old_pages = (e.end - e.start) / kPage;
        e.start = dst + rel;
        e.end = last ? dst + new_len : e.start + n;
        const uint64_t pages = (e.end - e.start) / kPage;
        if (e.sums && pages > old_pages) {
            auto* a = static_cast<uint64_t*>(kmalloc(pages * sizeof(uint64_t)));
            if (!a) {
                erase(k);  // no longer written back rather than written wrong
                continue;
            }
            memcpy(a, e.sums, old_pages * sizeof(uint64_t));
            sums_fill(e.start + old_pages * kPage, e.end, a + old_pages);
            kfree(e.sums_base);
            e.sums_base = e.sums = a;
        }
        k++;
    }
}

bool volmap_fork(Mm* child) {
    Mm* mm = mm_current();
    for (uint64_t k = 0, n = g_count; k < n; k++) {
        if (g_maps[k].mm != mm) continue;
        if (!reserve(g_count + 1)) return false;
        Entry c = g_maps[k];
        c.mm = child;
        if (c.sums) {
            const uint64_t n = (c.end - c.start) / kPage;
            if (!(c.sums_base = static_cast<uint64_t*>(kmalloc(n * sizeof(uint64_t)))))
                return false;
            memcpy(c.sums_base, g_maps[k].sums, n * sizeof(uint64_t));
            c.sums = c.sums_base;
        }
        fs::inode_get(c.inode);
        g_maps[g_count++] = c;
    }
    return true;
}

void volmap_forget(Mm* m) {
    for (uint64_t k = 0; k < g_count;) {
        if (g_maps[k].mm == m)
            erase(k);
        else
            k++;
    }
}

void volmap_sync_current() {
    Mm* mm = mm_current();
    for (uint64_t k = 0; k < g_count; k++)
        if (g_maps[k].mm == mm) write_back(g_maps[k], g_maps[k].start, g_maps[k].end);
}

int64_t volmap_flush(fs::Inode* i, uint64_t off, uint64_t len) {
    if (!g_count) return 0;
    int64_t err = 0;
    each_file_piece(i, off, len, [&](Entry& e, uint64_t va, uint64_t, uint64_t n) {
        const uint64_t lo = va & ~(kPage - 1);
        const uint64_t hi = (va + n + kPage - 1) & ~(kPage - 1);
        const int64_t r = write_back(e, lo, hi < e.end ? hi : e.end);
        if (r < 0 && !err) err = r;
    });
    return err;
}

void volmap_written(fs::Inode* i, const void* src, uint64_t off, uint64_t len) {
    if (!g_count) return;
    each_file_piece(i, off, len, [&](Entry& e, uint64_t va, uint64_t foff, uint64_t n) {
        const auto* s = static_cast<const uint8_t*>(src) + (foff - off);
        while (n) {
            const uint64_t in_page = kPage - va % kPage, c = n < in_page ? n : in_page;
            const uint64_t page = va & ~(kPage - 1);
            if (uint8_t* p = page_ptr(page, true)) {
                // A page that held the host's bytes still does; a changed
                // one stays changed (its other bytes are not the host's).
                uint64_t* sum = e.sums ? &e.sums[(page - e.start) / kPage] : nullptr;
                const bool clean = sum && page_sum(p) == *sum;
                memcpy(p + va % kPage, s, c);
                if (clean) *sum = page_sum(p);
            }
            va += c, s += c, n -= c;
        }
    });
}

void volmap_truncated(fs::Inode* i, uint64_t size) {
    if (!g_count) return;
    each_file_piece(i, size, ~0ull - size, [&](Entry&, uint64_t va, uint64_t, uint64_t n) {
        while (n) {
            const uint64_t in_page = kPage - va % kPage, c = n < in_page ? n : in_page;
            if (uint8_t* p = page_ptr(va & ~(kPage - 1), true)) memset(p + va % kPage, 0, c);
            va += c, n -= c;
        }
    });
}

}  // namespace k
