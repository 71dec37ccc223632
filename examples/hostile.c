// hostile.c - an application that bypasses the Ember kernel and issues
// hypercalls itself with bad arguments: pointers outside guest memory,
// overflowing lengths, unknown call numbers. Each call's status (from
// ember_boot_info.hc_status) is printed as "name: status"; the VMM must answer
// with error codes and keep running. Two well-formed calls are controls.
// With a MODE argument it instead makes one call that must end the VM with a
// diagnostic (bad port, unreadable exit struct, garbage crash report) or
// damages the console ring.
//
// Only meaningful inside an Ember microVM: natively the port I/O and the
// boot-info page do not exist, so it refuses to run without --in-ember.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "abi/ember_abi.h"

static volatile struct ember_boot_info* const boot =
    (volatile struct ember_boot_info*)EMBER_GPA_BOOT_INFO;

static int64_t hypercall_port(uint32_t port, uint64_t arg_gpa) {
    __asm__ volatile("outl %%eax, %%dx" ::"a"((uint32_t)arg_gpa), "d"((uint16_t)port) : "memory");
    return boot->hc_status;
}

static const char* status_name(int64_t s) {
    switch (s) {
        case EMBER_OK:
            return "OK";
        case EMBER_EFAULT:
            return "EFAULT";
        case EMBER_EINVAL:
            return "EINVAL";
        case EMBER_ENOSYS:
            return "ENOSYS";
        case EMBER_EAGAIN:
            return "EAGAIN";
        default:
            return "?";
    }
}

static void report(const char* name, int64_t status) {
    printf("%s: %lld %s\n", name, (long long)status, status_name(status));
}

static int64_t random_call(uint64_t struct_gpa, uint64_t buf, uint64_t len) {
    if (struct_gpa == EMBER_HC_SLOT_RANDOM) {
        volatile struct ember_hc_random* a = (volatile struct ember_hc_random*)EMBER_HC_SLOT_RANDOM;
        a->buf = buf;
        a->len = len;
    }
    boot->hc_status = 12345;  // so a VMM that does not write the status is noticed
    return hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_RANDOM, struct_gpa);
}

static int64_t log_call(uint64_t len, const char* msg) {
    volatile struct ember_hc_log* a = (volatile struct ember_hc_log*)EMBER_HC_SLOT_LOG;
    a->len = len;
    for (size_t i = 0; msg[i] && i < EMBER_LOG_MAX; i++) a->msg[i] = msg[i];
    boot->hc_status = 12345;
    return hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_LOG, EMBER_HC_SLOT_LOG);
}

// Attacks that end the VM (the VMM must stop it with a diagnostic) or that
// damage shared state; selected by argv[2].
static int fatal_mode(const char* mode) {
    fflush(stdout);
    if (!strcmp(mode, "port-outside-range")) {
        hypercall_port(EMBER_HC_PORT_BASE + 0x100, EMBER_HC_SLOT_RANDOM);
    } else if (!strcmp(mode, "port-read")) {
        uint32_t v;
        __asm__ volatile("inl %%dx, %%eax"
                         : "=a"(v)
                         : "d"((uint16_t)(EMBER_HC_PORT_BASE + EMBER_HC_RANDOM)));
    } else if (!strcmp(mode, "exit-struct-outside-memory")) {
        hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_EXIT, 0xfffff000u);
    } else if (!strcmp(mode, "panic-message-garbage")) {
        volatile struct ember_hc_crash* c = (volatile struct ember_hc_crash*)EMBER_HC_SLOT_CRASH;
        c->kind = EMBER_CRASH_KERNEL;
        for (size_t i = 0; i < sizeof c->message; i++) c->message[i] = (char)(i % 2 ? 0x1b : 0x07);
        hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_CRASH, EMBER_HC_SLOT_CRASH);
    } else if (!strcmp(mode, "crash-unknown-kind")) {
        volatile struct ember_hc_crash* c = (volatile struct ember_hc_crash*)EMBER_HC_SLOT_CRASH;
        c->kind = 0xdeadbeef;
        c->vector = 0xffffffff;
        hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_CRASH, EMBER_HC_SLOT_CRASH);
    } else if (!strcmp(mode, "console-ring-garbage")) {
        volatile struct ember_ring* r = (volatile struct ember_ring*)EMBER_GPA_CONSOLE;
        r->head = r->tail + (1ull << 40);
        hypercall_port(EMBER_HC_PORT_BASE + EMBER_HC_CONSOLE, 0);
        puts("hostile: after console ring damage");
        return 0;
    } else {
        fprintf(stderr, "hostile: unknown mode %s\n", mode);
        return 2;
    }
    puts("hostile: still running after a fatal hypercall (unexpected)");
    return 1;
}

int main(int argc, char** argv) {
    if (argc < 2 || strcmp(argv[1], "--in-ember") != 0) {
        fprintf(stderr,
                "usage: ember-vm run hostile -- --in-ember [MODE] (runs only inside Ember)\n");
        return 2;
    }
    if (boot->magic != EMBER_BOOT_MAGIC) {
        printf("hostile: no Ember boot-info page at %#llx\n",
               (unsigned long long)EMBER_GPA_BOOT_INFO);
        return 3;
    }
    if (argc > 2) return fatal_mode(argv[2]);
    const uint64_t mem = boot->mem_size;
    static unsigned char buf[64];

    report("random_ok", random_call(EMBER_HC_SLOT_RANDOM, (uint64_t)(uintptr_t)buf, sizeof buf));
    report("random_buf_outside_memory",
           random_call(EMBER_HC_SLOT_RANDOM, 0xffff800000000000ull, 16));
    report("random_buf_past_end", random_call(EMBER_HC_SLOT_RANDOM, mem - 8, 64));
    report("random_len_huge",
           random_call(EMBER_HC_SLOT_RANDOM, (uint64_t)(uintptr_t)buf, 1ull << 40));
    report("random_len_wraps", random_call(EMBER_HC_SLOT_RANDOM, EMBER_GPA_APP_MIN, ~0ull - 0xfff));
    report("random_struct_outside_memory", random_call(0xfffff000ull, 0, 0));
    if (mem < (1ull << 32)) report("random_struct_straddles_end", random_call(mem - 8, 0, 0));

    report("log_ok", log_call(22, "hostile: log hypercall"));
    report("log_len_too_big", log_call(EMBER_LOG_MAX + 1, "x"));
    report("log_len_huge", log_call(~0ull, "x"));

    // The first number past the defined calls, and two far beyond them.
    const struct {
        const char* name;
        uint32_t nr;
    } unknown[] = {
        {"unknown_next", EMBER_HC_COUNT}, {"unknown_0x40", 0x40}, {"unknown_0xff", 0xff}};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        boot->hc_status = 12345;
        report(unknown[i].name,
               hypercall_port(EMBER_HC_PORT_BASE + unknown[i].nr, EMBER_HC_SLOT_RANDOM));
    }
    puts("hostile: done");
    return 0;
}
