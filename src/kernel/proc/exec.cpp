// exec.cpp - execve and execveat: the kernel loads an ELF program (static,
// static-PIE, or dynamic through its PT_INTERP interpreter) or a `#!`
// script from the guest's file systems into a fresh address space.
//
// Everything that can fail with an error for the caller (the path, the
// arguments, the file's format, memory for the new space) is checked
// before the old address space goes; past that point a failure kills the
// process, as on Linux.
#include "common/elf.h"
#include "fs/syscalls.h"
#include "proc/proc.h"
#include "vol_mmap.h"

extern "C" [[noreturn]] void enter_user(uint64_t entry, uint64_t sp);

namespace k {
namespace {

namespace elf = ember::elf;

constexpr uint64_t kPage = EMBER_PAGE_SIZE;
constexpr uint64_t kArgPages = 32;  // argv + envp strings: 128 KiB at most
constexpr uint64_t kArgMax = kArgPages * kPage;
constexpr uint64_t kMaxStrings = 8192;
constexpr uint64_t kStackSize = 2ull << 20;
constexpr int kMaxScriptDepth = 4;

// The new program's argv and envp, copied out of the old address space:
// NUL-terminated strings back to back, argc of them then envc.
struct Args {
    char* buf;
    uint64_t len, argc, envc;
};

int64_t add_string(Args* a, const char* s, uint64_t n) {
    if (a->len + n + 1 > kArgMax) return -E2BIG;
    memcpy(a->buf + a->len, s, n);
    a->buf[a->len + n] = 0;
    a->len += n + 1;
    return 0;
}

// Appends the user's NULL-terminated vector of strings; *count gets its size.
int64_t copy_vector(Args* a, uint64_t uvec, uint64_t* count) {
    *count = 0;
    if (!uvec) return 0;  // Linux treats a null argv/envp as empty
    for (;;) {
        uint64_t p;
        if (get_user(&p, uvec + *count * 8) < 0) return -EFAULT;
        if (!p) return 0;
        if (*count >= kMaxStrings) return -E2BIG;
        const int64_t n = user_strncpy(a->buf + a->len, p, kArgMax - a->len);
        if (n == -ENAMETOOLONG) return -E2BIG;
        if (n < 0) return n;
        a->len += static_cast<uint64_t>(n) + 1;
        ++*count;
    }
}

// The i-th string of a, and the offset just past it.
const char* nth(const Args& a, uint64_t i) {
    const char* s = a.buf;
    for (uint64_t k = 0; k < i; ++k) s += strlen(s) + 1;
    return s;
}

// A regular file's bytes, in place (the rootfs archive or a tmpfs buffer).
int64_t file_bytes(fs::Inode* i, const uint8_t** data, uint64_t* size) {
    if (fs::is_dir(i)) return -EACCES;
    if (!fs::is_reg(i)) return -EACCES;
    if (!(i->mode & 0111)) return -EACCES;
    *data = i->rodata ? i->rodata : i->data;
    *size = i->size;
    if (!*data && *size) return -EACCES;
    return 0;
}

// A `#!` line: argv becomes interpreter [arg] path argv[1..].
int64_t rewrite_for_script(Args* a, const uint8_t* data, uint64_t size, const char* path,
                           char* interp) {
    uint64_t end = 2;
    while (end < size && end < 256 && data[end] != '\n') ++end;
    if (end >= size || data[end] != '\n') {
        if (end >= 256) return -ENOEXEC;
    }
    char line[256];
    const uint64_t n = end - 2;
    memcpy(line, data + 2, n);
    line[n] = 0;
    char* p = line;
    while (*p == ' ' || *p == '\t') ++p;
    char* name = p;
    while (*p && *p != ' ' && *p != '\t') ++p;
    char* arg = nullptr;
    if (*p) {
        *p++ = 0;
        while (*p == ' ' || *p == '\t') ++p;
        if (*p) {
            arg = p;
            char* e = p + strlen(p);
            while (e > arg && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
        }
    }
    if (!*name) return -ENOEXEC;
    const uint64_t name_len = strnlen(name, fs::kPathMax - 1);
    memcpy(interp, name, name_len + 1);
    // Rebuild the block: the new head, then the old argv[1..] and envp.
    auto* tmp = reinterpret_cast<char*>(pages_alloc(kArgPages));
    if (!tmp) return -ENOMEM;
    Args b{tmp, 0, 0, a->envc};
    int64_t r = add_string(&b, name, name_len);
    b.argc = 1;
    if (r == 0 && arg) {
        r = add_string(&b, arg, strlen(arg));
        b.argc++;
    }
    if (r == 0) {
        r = add_string(&b, path, strlen(path));
        b.argc++;
    }
    const char* rest = a->argc ? nth(*a, 1) : a->buf;
    const uint64_t rest_len = a->len - static_cast<uint64_t>(rest - a->buf);
    if (r == 0 && b.len + rest_len > kArgMax) r = -E2BIG;
    if (r == 0) {
        memcpy(b.buf + b.len, rest, rest_len);
        b.len += rest_len;
        b.argc += a->argc ? a->argc - 1 : 0;
        memcpy(a->buf, b.buf, b.len);
        a->len = b.len;
        a->argc = b.argc;
    }
    pages_free(reinterpret_cast<uint64_t>(tmp), kArgPages);
    return r;
}

uint8_t prot_of(uint32_t f) {
    return static_cast<uint8_t>(((f & elf::kFlagR) ? PROT_READ : 0) |
                                ((f & elf::kFlagW) ? PROT_WRITE : 0) |
                                ((f & elf::kFlagX) ? PROT_EXEC : 0));
}

// Maps and fills img's segments at bias in the (new, current) space.
bool load_segments(const elf::Image& img, const uint8_t* data, uint64_t bias) {
    for (uint32_t i = 0; i < img.nload; ++i) {
        const elf::Segment& s = img.load[i];
        const uint64_t va = s.vaddr + bias;
        const uint64_t lo = va & ~(kPage - 1), hi = (va + s.memsz + kPage - 1) & ~(kPage - 1);
        if (mm_map_fixed(lo, hi - lo) < 0) return false;
        memcpy(reinterpret_cast<void*>(va), data + s.offset, s.filesz);
        maps::set(lo, hi - lo, MapKind::kImage, prot_of(s.flags), false);
    }
    return true;
}

struct Loaded {
    uint64_t entry, phdr, phnum, base, prog_entry;
};

// The new program's initial stack, in a fresh mapping.
uint64_t build_stack(const Args& a, const Loaded& l, const char* execfn, uint64_t* lo_out) {
    const uint64_t lo = mm_map_anywhere(kStackSize);
    if (!lo) return 0;
    *lo_out = lo;
    InitialStack st{};
    st.lo = lo;
    st.size = kStackSize;
    st.strings = a.buf;
    st.strings_len = a.len;
    st.argc = a.argc;
    st.envc = a.envc;
    st.execfn = execfn;
    st.execfn_len = strlen(execfn);
    st.phdr = l.phdr;
    st.phent = 56;
    st.phnum = l.phnum;
    st.base = l.base;
    st.entry = l.prog_entry;
    return build_initial_stack(st);
}

// /proc/<pid>/exe of the new program: the file's path as its directory
// entries say (through /proc/self/exe or a symlink as well, as Linux shows
// it), else the path made absolute with the cwd. kmalloc'd; nullptr when
// out of memory.
char* exe_path(const fs::Inode* node, const char* path) {
    static char buf[fs::kPathMax];
    uint64_t len;
    if (const int64_t n = fs::inode_path(node, buf, sizeof buf); n > 0) {
        len = static_cast<uint64_t>(n - 1);
    } else {
        uint64_t at = 0;
        if (path[0] != '/') {
            while (path[0] == '.' && path[1] == '/') path += 2;
            const int64_t d = fs::dir_path(fs::cwd(), buf, sizeof buf);
            if (d > 0) at = static_cast<uint64_t>(d - 1);
            if (at > 0 && buf[at - 1] != '/') buf[at++] = '/';
        }
        const uint64_t plen = strnlen(path, sizeof buf - 1 - at);
        memcpy(buf + at, path, plen);
        len = at + plen;
    }
    buf[len] = 0;
    auto* out = static_cast<char*>(kmalloc(len + 1));
    if (out) memcpy(out, buf, len + 1);
    return out;
}

int64_t lookup_exec(int64_t dirfd, const char* path, bool empty_ok, fs::Inode** out) {
    fs::Lookup lk;
    if (int64_t r = fs::resolve_at(dirfd, path, fs::kFollow, empty_ok, &lk); r < 0) return r;
    *out = lk.node;
    return 0;
}

int64_t do_exec(int64_t dirfd, uint64_t upath, uint64_t uargv, uint64_t uenvp, uint64_t flags) {
    constexpr uint64_t kAtEmptyPath = 0x1000, kAtSymlinkNofollow = 0x100;
    if (flags & ~(kAtEmptyPath | kAtSymlinkNofollow)) return -EINVAL;
    static char path[fs::kPathMax];
    static char interp[fs::kPathMax];
    if (int64_t r = fs::copy_path(upath, flags & kAtEmptyPath, path); r < 0) return r;
    auto* buf = reinterpret_cast<char*>(pages_alloc(kArgPages));
    if (!buf) return -ENOMEM;
    auto fail = [&](int64_t r) {
        pages_free(reinterpret_cast<uint64_t>(buf), kArgPages);
        return r;
    };
    Args a{buf, 0, 0, 0};
    if (int64_t r = copy_vector(&a, uargv, &a.argc); r < 0) return fail(r);
    if (int64_t r = copy_vector(&a, uenvp, &a.envc); r < 0) return fail(r);

    fs::Inode* node = nullptr;
    if (int64_t r = lookup_exec(dirfd, path, flags & kAtEmptyPath, &node); r < 0) return fail(r);
    const uint8_t* data;
    uint64_t size;
    if (int64_t r = file_bytes(node, &data, &size); r < 0) return fail(r);
    for (int depth = 0; size >= 2 && data[0] == '#' && data[1] == '!'; ++depth) {
        if (depth >= kMaxScriptDepth) return fail(-ELOOP);
        if (int64_t r = rewrite_for_script(&a, data, size, path, interp); r < 0) return fail(r);
        memcpy(path, interp, strlen(interp) + 1);
        if (int64_t r = lookup_exec(AT_FDCWD, path, false, &node); r < 0) return fail(r);
        if (int64_t r = file_bytes(node, &data, &size); r < 0) return fail(r);
    }
    static elf::Image img, iimg;
    if (elf::parse(data, size, &img, true) != elf::Error::kOk) return fail(-ENOEXEC);
    const uint8_t* idata = nullptr;
    uint64_t isize = 0;
    if (img.interp_len) {
        memcpy(interp, data + img.interp_off, img.interp_len);
        interp[img.interp_len] = 0;
        fs::Inode* in = nullptr;
        if (int64_t r = lookup_exec(AT_FDCWD, interp, false, &in); r < 0) return fail(r);
        if (!fs::is_reg(in)) return fail(-EACCES);
        idata = in->rodata ? in->rodata : in->data;
        isize = in->size;
        if (!idata || elf::parse(idata, isize, &iimg, false) != elf::Error::kOk)
            return fail(-ENOEXEC);  // Linux: ELIBBAD
    }
    char* exe = exe_path(node, path);
    Mm* nm = exe ? mm_new_empty() : nullptr;
    if (!nm) {
        kfree(exe);
        return fail(-ENOMEM);
    }

    // The point of no return: the old program goes.
    Process* self = current()->proc;
    proc_kill_other_threads();
    volmap_sync_current();
    Mm* old = mm_current();
    mm_set_current(nm);
    self->mm = nm;
    proc_mm_drop(old);
    proc_release_vfork(self);
    fs::fd_close_on_exec();
    sigproc_exec();
    timers_exec();
    Thread* t = current();
    t->clear_tid = 0;
    t->robust_head = 0;
    t->rseq = 0;
    t->ss_flags = 2;  // SS_DISABLE
    t->ss_sp = t->ss_size = 0;
    const char* base = path;
    for (const char* s = path; *s; ++s)
        if (*s == '/') base = s + 1;
    cred_exec(&self->cred);
    memset(self->comm, 0, sizeof self->comm);
    memcpy(self->comm, base, strnlen(base, sizeof self->comm - 1));
    kfree(self->exe);
    self->exe = exe;

    const uint64_t bias = img.type == elf::kTypeDyn ? EMBER_PIE_BASE : 0;
    Loaded l{};
    l.prog_entry = img.entry + bias;
    l.entry = l.prog_entry;
    l.phnum = img.phnum;
    l.phdr = img.phdr_vaddr + bias;
    bool ok = load_segments(img, data, bias);
    mm_set_brk((img.hi + bias + kPage - 1) & ~(kPage - 1));
    if (ok && img.interp_len) {
        const uint64_t span = iimg.hi - iimg.lo;
        const uint64_t where = mm_map_anywhere(span + 0x10000);
        ok = where != 0;
        if (ok) {
            // 64 KiB-aligned, as the VMM places it at boot.
            const uint64_t ibase = (where + 0xffff) & ~0xffffull;
            const uint64_t ibias = ibase - iimg.lo;
            ok = load_segments(iimg, idata, ibias);
            l.base = ibase;
            l.entry = iimg.entry + ibias;
        }
    }
    uint64_t stack_lo = 0;
    const uint64_t sp = ok ? build_stack(a, l, path, &stack_lo) : 0;
    pages_free(reinterpret_cast<uint64_t>(buf), kArgPages);
    if (!sp) {
        klog("execve %s: out of memory while loading", path);
        proc_exit_current(9);
    }
    wrfsbase(0);
    wrgsbase(0);
    boot()->cur_syscall = -1;
    enter_user(l.entry, sp);
}

int64_t sys_execve(uint64_t path, uint64_t argv, uint64_t envp, uint64_t, uint64_t, uint64_t) {
    return do_exec(AT_FDCWD, path, argv, envp, 0);
}

int64_t sys_execveat(uint64_t dirfd, uint64_t path, uint64_t argv, uint64_t envp, uint64_t flags,
                     uint64_t) {
    return do_exec(fs::fd_arg(dirfd), path, argv, envp, flags);
}

}  // namespace

void register_exec_syscalls() {
    syscall_register(nr::execve, "execve", sys_execve);
    syscall_register(nr::execveat, "execveat", sys_execveat);
}

}  // namespace k
