// hostile.c - an application that bypasses the Ember kernel and issues
// hypercalls itself with bad arguments: pointers outside guest memory,
// overflowing lengths, unknown call numbers. Each call's status (from
// ember_boot_info.hc_status) is printed as "name: status"; the VMM must answer
// with error codes and keep running. Two well-formed calls are controls.
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
        case EMBER_OK: return "OK";
        case EMBER_EFAULT: return "EFAULT";
        case EMBER_EINVAL: return "EINVAL";
        case EMBER_ENOSYS: return "ENOSYS";
        case EMBER_EAGAIN: return "EAGAIN";
        default: return "?";
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

int main(int argc, char** argv) {
    if (argc < 2 || strcmp(argv[1], "--in-ember") != 0) {
        fprintf(stderr, "usage: ember-vm run hostile -- --in-ember (runs only inside Ember)\n");
        return 2;
    }
    if (boot->magic != EMBER_BOOT_MAGIC) {
        printf("hostile: no Ember boot-info page at %#llx\n", (unsigned long long)EMBER_GPA_BOOT_INFO);
        return 3;
    }
    const uint64_t mem = boot->mem_size;
    static unsigned char buf[64];

    report("random_ok", random_call(EMBER_HC_SLOT_RANDOM, (uint64_t)(uintptr_t)buf, sizeof buf));
    report("random_buf_outside_memory", random_call(EMBER_HC_SLOT_RANDOM, 0xffff800000000000ull, 16));
    report("random_buf_past_end", random_call(EMBER_HC_SLOT_RANDOM, mem - 8, 64));
    report("random_len_huge", random_call(EMBER_HC_SLOT_RANDOM, (uint64_t)(uintptr_t)buf, 1ull << 40));
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
    } unknown[] = {{"unknown_next", EMBER_HC_COUNT}, {"unknown_0x40", 0x40}, {"unknown_0xff", 0xff}};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        boot->hc_status = 12345;
        report(unknown[i].name, hypercall_port(EMBER_HC_PORT_BASE + unknown[i].nr, EMBER_HC_SLOT_RANDOM));
    }
    puts("hostile: done");
    return 0;
}
