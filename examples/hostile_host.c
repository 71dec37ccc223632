// hostile_host.c - a guest that tries to make the VMM spend host resources
// (memory, CPU, a blocked output pipe) beyond its own limits. Each MODE is
// one attack; the VMM must keep its memory and CPU within the per-instance
// bounds (docs/security.md, "Host resources per instance") and stop the
// guest only through its limits.
//
//   connect-flood SECONDS IPV4 PORT
//       writes EMBER_NET_CONNECT records with fresh stream ids straight into
//       the net tx ring and flushes it, for SECONDS, never reading the rx
//       ring. Prints "connect-flood: queued N, host took M".
//   listen-flood SECONDS
//       the same with EMBER_NET_LISTEN records for fresh listener ids.
//   doorbell-storm
//       rings the console doorbell in a loop, forever (stopped by
//       --cpu-limit or --timeout).
//   print-forever
//       writes lines to stdout forever, through the kernel.
//
// Only meaningful inside an Ember microVM: it writes guest-physical memory
// the kernel owns, so it refuses to run without --in-ember.
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi/ember_abi.h"

static volatile struct ember_boot_info* const boot =
    (volatile struct ember_boot_info*)EMBER_GPA_BOOT_INFO;
static volatile struct ember_ring* const tx = (volatile struct ember_ring*)EMBER_GPA_NET_TX;
static uint8_t* const tx_data = (uint8_t*)(EMBER_GPA_NET_TX + EMBER_RING_DATA);
static const uint64_t tx_cap = EMBER_NET_TX_SIZE - EMBER_RING_DATA;

static void flush_rings(void) {
    __asm__ volatile("outl %%eax, %%dx" ::"a"(0u),
                     "d"((uint16_t)(EMBER_HC_PORT_BASE + EMBER_HC_CONSOLE))
                     : "memory");
}

// Guest time without syscalls (a syscall could make the kernel read the net
// rings, which this program leaves to the host alone).
static uint64_t now_ms(void) { return __builtin_ia32_rdtsc() / boot->tsc_khz; }

// Appends one record (header + payload padded to 16) if it fits; a record
// that would cross the end of the data area is preceded by a PAD record.
static int tx_put(uint16_t type, uint32_t stream, uint32_t arg, const void* payload, uint32_t len) {
    const uint64_t need = sizeof(struct ember_net_rec) + ((len + 15u) & ~15u);
    const uint64_t head = tx->head, used = head - tx->tail;
    const uint64_t off = head % tx_cap, contiguous = tx_cap - off;
    const uint64_t skip = contiguous < need ? contiguous : 0;
    if (used + skip + need > tx_cap) return 0;
    if (skip) {
        const struct ember_net_rec pad = {EMBER_NET_PAD, 0, 0, (uint32_t)(skip - sizeof pad), 0};
        memcpy(tx_data + off, &pad, sizeof pad);
    }
    const struct ember_net_rec rec = {type, 0, stream, len, arg};
    uint8_t* at = tx_data + (head + skip) % tx_cap;
    memcpy(at, &rec, sizeof rec);
    memcpy(at + sizeof rec, payload, len);
    __asm__ volatile("" ::: "memory");
    tx->head = head + skip + need;
    return 1;
}

static int flood(const char* name, uint16_t type, uint64_t seconds, const struct ember_net_addr* a,
                 uint32_t port) {
    const uint64_t start_tail = tx->tail, end = now_ms() + seconds * 1000;
    uint64_t queued = 0, bytes = 0;
    uint32_t id = 1;
    while (now_ms() < end) {
        const uint64_t head = tx->head;
        while (tx_put(type, id, type == EMBER_NET_LISTEN ? port : 0, a, sizeof *a)) {
            ++queued;
            id = id % (EMBER_NET_HOST_ID - 1) + 1;
        }
        bytes += tx->head - head;
        flush_rings();
    }
    printf("%s: queued %llu, host took %llu bytes of %llu\n", name, (unsigned long long)queued,
           (unsigned long long)(tx->tail - start_tail), (unsigned long long)bytes);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 3 || strcmp(argv[1], "--in-ember") != 0) {
        fprintf(stderr,
                "usage: ember-vm run hostile_host -- --in-ember MODE [ARGS] (runs only inside "
                "Ember)\n");
        return 2;
    }
    if (boot->magic != EMBER_BOOT_MAGIC || boot->tsc_khz == 0) {
        printf("hostile_host: no Ember boot-info page\n");
        return 3;
    }
    const char* mode = argv[2];
    struct ember_net_addr a;
    memset(&a, 0, sizeof a);
    a.family = EMBER_NET_AF_INET;
    if (!strcmp(mode, "connect-flood") && argc == 6) {
        a.port = (uint16_t)atoi(argv[5]);
        if (inet_pton(AF_INET, argv[4], a.addr) != 1) return 2;
        return flood(mode, EMBER_NET_CONNECT, strtoull(argv[3], NULL, 10), &a, 0);
    }
    if (!strcmp(mode, "listen-flood") && argc == 4)
        return flood(mode, EMBER_NET_LISTEN, strtoull(argv[3], NULL, 10), &a, 8080);
    if (!strcmp(mode, "doorbell-storm")) {
        for (;;)
            __asm__ volatile("outb %%al, %%dx" ::"a"((uint8_t)0),
                             "d"((uint16_t)EMBER_DOORBELL_PORT));
    }
    if (!strcmp(mode, "print-forever")) {
        for (unsigned long n = 0;; n++)
            printf("line %lu: the reader of this pipe is not reading\n", n);
    }
    fprintf(stderr, "hostile_host: unknown mode or arguments: %s\n", mode);
    return 2;
}
