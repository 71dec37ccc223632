// kvstore: a tiny service that initialises once, then answers requests.
//
// Start-up builds a 4 MiB table (visible work, reported on stderr). Then it
// reads one request per line from stdin:
//   get K        prints "K=<value>"
//   set K V      stores V at K, prints "ok"
//   info         prints "served=<n> inits=<n>"
//   entropy      prints fresh getrandom bytes, the AT_RANDOM bytes and both clocks
// It blocks reading stdin when idle, which is where Ember snapshots it
// (ember-vm run --snapshot-out).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <time.h>

#define TABLE_SIZE (1u << 20)
static unsigned table[TABLE_SIZE];
static unsigned long served, inits;

static long long now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    for (unsigned i = 0; i < TABLE_SIZE; i++) table[i] = i * 2654435761u;
    inits++;
    fprintf(stderr, "kvstore: initialised %u entries, monotonic=%lld\n", TABLE_SIZE,
            now_ns(CLOCK_MONOTONIC));
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        served++;
        unsigned k, v;
        if (sscanf(line, "get %u", &k) == 1) {
            printf("%u=%u\n", k, table[k % TABLE_SIZE]);
        } else if (sscanf(line, "set %u %u", &k, &v) == 2) {
            table[k % TABLE_SIZE] = v;
            printf("ok\n");
        } else if (strncmp(line, "info", 4) == 0) {
            printf("served=%lu inits=%lu\n", served, inits);
        } else if (strncmp(line, "entropy", 7) == 0) {
            unsigned char r[16];
            if (getrandom(r, sizeof r, 0) != sizeof r) return 2;
            const unsigned char* at = (const unsigned char*)getauxval(AT_RANDOM);
            printf("random=");
            for (int i = 0; i < 16; i++) printf("%02x", r[i]);
            printf(" at_random=");
            for (int i = 0; i < 16; i++) printf("%02x", at[i]);
            printf(" realtime=%lld monotonic=%lld\n", now_ns(CLOCK_REALTIME),
                   now_ns(CLOCK_MONOTONIC));
        } else {
            printf("error: unknown request\n");
        }
        fflush(stdout);
    }
    return 0;
}
