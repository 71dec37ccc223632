// ws_hog.c - a hostile first instance for the VMM's working-set learning:
// the pages the first restored instance of a snapshot touched are populated
// ahead in every later instance, so a first instance that touches all of
// its memory would slow down every later restore of the service.
//
// Start-up fills a 24 MiB table (6144 pages, all present in the snapshot),
// then reads commands from stdin, where it blocks (and is snapshotted) when
// idle:
//   touch    reads every page of the table
//   dirty    writes every page of the table
//   grow N   allocates N MiB of new memory and writes every page of it
//            (pages that are absent from the snapshot)
//   get K    prints "K=<value>"
// It prints "ok" after each command and exits 0 at end of input.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_WORDS (6u << 20)
#define PAGE_WORDS 1024u
static unsigned table[TABLE_WORDS];

int main(void) {
    for (unsigned i = 0; i < TABLE_WORDS; i++) table[i] = i * 2654435761u + 1;
    char line[128];
    unsigned long sum = 0;
    while (fgets(line, sizeof line, stdin)) {
        unsigned n;
        if (strncmp(line, "touch", 5) == 0) {
            for (unsigned i = 0; i < TABLE_WORDS; i += PAGE_WORDS) sum += table[i];
        } else if (strncmp(line, "dirty", 5) == 0) {
            for (unsigned i = 0; i < TABLE_WORDS; i += PAGE_WORDS) table[i]++;
        } else if (sscanf(line, "grow %u", &n) == 1) {
            char* p = malloc((size_t)n << 20);
            if (!p) return 1;
            for (size_t off = 0; off < ((size_t)n << 20); off += 4096) p[off] = 1;
            sum += (unsigned char)p[4096];
        } else if (sscanf(line, "get %u", &n) == 1) {
            printf("%u=%u\n", n, table[n % TABLE_WORDS]);
            continue;
        }
        printf("ok\n");
        fflush(stdout);
    }
    return sum == 42;  // keeps the reads; never 42 in practice
}
