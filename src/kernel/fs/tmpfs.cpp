// tmpfs.cpp - the data of tmpfs files: growable zero-filled buffers.
//
// Small files live in the kernel heap; from kPageThreshold on they move to
// whole pages (pages_alloc) so that large files do not fragment the heap.
// Growth doubles the capacity, so n appends cost O(n) copies amortised.
#include "fs/vfs.h"

namespace k::fs {

namespace {
constexpr uint64_t kPageThreshold = 16 * 1024;
constexpr uint64_t kPage = EMBER_PAGE_SIZE;

uint8_t* alloc_bytes(uint64_t* cap, bool* in_pages) {
    if (*cap > kPageThreshold) {
        *cap = (*cap + kPage - 1) & ~(kPage - 1);
        *in_pages = true;
        return reinterpret_cast<uint8_t*>(pages_alloc(*cap / kPage));
    }
    *cap = (*cap + 15) & ~15ull;
    *in_pages = false;
    return static_cast<uint8_t*>(kmalloc(*cap));
}

// Makes room for `need` bytes. Existing bytes are kept; new ones are zero.
int64_t reserve(Inode* i, uint64_t need) {
    if (need <= i->cap) return 0;
    if (need > kMaxFileSize) return -EFBIG;
    uint64_t want = i->cap * 2;
    if (want < need) want = need;
    if (want < 64) want = 64;
    if (want > kMaxFileSize) want = kMaxFileSize;
    bool in_pages;
    uint64_t cap = want;
    uint8_t* p = alloc_bytes(&cap, &in_pages);
    if (!p && want != need) {  // memory is short: try without slack
        cap = need;
        p = alloc_bytes(&cap, &in_pages);
    }
    if (!p) return -ENOSPC;
    if (i->data) memcpy(p, i->data, i->size);
    tmpfs_free_data(i);
    i->data = p;
    i->cap = cap;
    i->data_in_pages = in_pages;
    return 0;
}
}  // namespace

void tmpfs_free_data(Inode* i) {
    if (!i->data) return;
    if (i->data_in_pages)
        pages_free(reinterpret_cast<uint64_t>(i->data), i->cap / kPage);
    else
        kfree(i->data);
    i->data = nullptr;
    i->cap = 0;
    i->data_in_pages = false;
}

int64_t tmpfs_write(Inode* i, const void* buf, uint64_t len, uint64_t off) {
    if (off > kMaxFileSize || len > kMaxFileSize - off) return -EFBIG;
    if (len == 0) return 0;
    int64_t r = reserve(i, off + len);
    if (r < 0) return r;
    memcpy(i->data + off, buf, len);
    if (off + len > i->size) i->size = off + len;
    inode_touch(i, true);
    return static_cast<int64_t>(len);
}

int64_t tmpfs_resize(Inode* i, uint64_t size) {
    if (size > kMaxFileSize) return -EFBIG;
    if (size > i->size) {
        int64_t r = reserve(i, size);
        if (r < 0) return r;
    } else if (size == 0) {
        tmpfs_free_data(i);
    } else if (i->data) {
        memset(i->data + size, 0, i->size - size);
    }
    i->size = size;
    inode_touch(i, true);
    return 0;
}

int64_t tmpfs_set_link(Inode* i, const char* target, uint32_t len) {
    auto* p = static_cast<uint8_t*>(kmalloc(len + 1));
    if (!p) return -ENOMEM;
    memcpy(p, target, len);
    tmpfs_free_data(i);
    i->data = p;
    i->cap = len + 1;
    i->data_in_pages = false;
    i->size = len;
    return 0;
}

}  // namespace k::fs
