// lib.cpp - the few libc routines the kernel (and the compiler) need, and
// the kernel's diagnostics: klog and panic.
#include <stdarg.h>

#include "kernel.h"

static_assert(EMBER_ABI_VERSION == 4, "entry.S encodes ABI version 4 in the kernel header");
static_assert(sizeof(ember_kernel_header) == 304, "entry.S encodes the header size");
static_assert(EMBER_GPA_KSTACK_TOP == 0xa0000, "entry.S hardcodes the kernel stack top");

extern "C" {

// rep movsb/stosb: fast on current CPUs, and the compiler cannot turn these
// loops back into calls to themselves.
void* memcpy(void* dst, const void* src, size_t n) {
    void* d = dst;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    // Overlapping with dst above src: copy backwards.
    d += n - 1;
    s += n - 1;
    asm volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void* memset(void* dst, int c, size_t n) {
    void* d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

}  // extern "C"

namespace k {

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) ++n;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return static_cast<uint8_t>(*a) - static_cast<uint8_t>(*b);
}

int strncmp(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return static_cast<uint8_t>(a[i]) - static_cast<uint8_t>(b[i]);
        if (!a[i]) return 0;
    }
    return 0;
}

namespace {

struct Buf {
    char* p;
    size_t cap, len;
    void put(char c) {
        if (len + 1 < cap) p[len] = c;
        ++len;
    }
    void puts(const char* s) {
        while (*s) put(*s++);
    }
    void num(uint64_t v, unsigned base, bool neg) {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = "0123456789abcdef"[v % base];
            v /= base;
        } while (v);
        if (neg) put('-');
        while (n) put(tmp[--n]);
    }
};

size_t vformat(char* out, size_t cap, const char* fmt, va_list ap) {
    Buf b{out, cap, 0};
    for (; *fmt; ++fmt) {
        if (*fmt != '%') {
            b.put(*fmt);
            continue;
        }
        ++fmt;
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'z') ++longs, ++fmt;
        switch (*fmt) {
            case 's': {
                const char* s = va_arg(ap, const char*);
                b.puts(s ? s : "(null)");
                break;
            }
            case 'c':
                b.put(static_cast<char>(va_arg(ap, int)));
                break;
            case 'd':
            case 'i': {
                int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
                b.num(v < 0 ? -static_cast<uint64_t>(v) : static_cast<uint64_t>(v), 10, v < 0);
                break;
            }
            case 'u':
                b.num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false);
                break;
            case 'x':
                b.num(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false);
                break;
            case 'p':
                b.puts("0x");
                b.num(reinterpret_cast<uint64_t>(va_arg(ap, void*)), 16, false);
                break;
            case '%':
                b.put('%');
                break;
            case 0:
                --fmt;
                break;
            default:
                b.put('%');
                b.put(*fmt);
                break;
        }
    }
    if (cap) out[b.len < cap ? b.len : cap - 1] = 0;
    return b.len < cap ? b.len : cap - 1;
}

}  // namespace

void klog(const char* fmt, ...) {
    auto* a = reinterpret_cast<ember_hc_log*>(EMBER_HC_SLOT_LOG);
    va_list ap;
    va_start(ap, fmt);
    a->len = vformat(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    hypercall(EMBER_HC_LOG, EMBER_HC_SLOT_LOG);
}

void panic(const char* msg) {
    console_flush();
    auto* c = reinterpret_cast<ember_hc_crash*>(EMBER_HC_SLOT_CRASH);
    memset(c, 0, sizeof *c);
    c->kind = EMBER_CRASH_KERNEL;
    c->syscall_nr = boot()->cur_syscall;
    size_t n = strnlen(msg, sizeof c->message - 1);
    memcpy(c->message, msg, n);
    c->message[n] = 0;
    hypercall(EMBER_HC_CRASH, EMBER_HC_SLOT_CRASH);
    for (;;) hypercall(EMBER_HC_EXIT, EMBER_HC_SLOT_EXIT);
}

}  // namespace k
