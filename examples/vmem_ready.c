// vmem_ready.c - memory above guest RAM carried through a snapshot: reserves
// 64 MiB PROT_NONE (address space only), commits 1 MiB of it and fills it,
// then waits for a line on stdin (READY: the VMM may snapshot here). For
// each line it sums the region in double precision (SSE) and prints
// "sum=<n> line=<text>". Its own page tables are live across the snapshot.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define REGION (1ul << 20)

int main(void) {
    char* r = mmap(NULL, 64ul << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED || mprotect(r, REGION, PROT_READ | PROT_WRITE) != 0) {
        perror("mmap/mprotect");
        return 1;
    }
    uint32_t* w = (uint32_t*)r;
    for (size_t i = 0; i < REGION / sizeof *w; ++i) w[i] = (uint32_t)(i % 1000);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        double sum = 0;
        for (size_t i = 0; i < REGION / sizeof *w; ++i) sum += (double)w[i];
        line[strcspn(line, "\n")] = 0;
        printf("sum=%.0f line=%s\n", sum, line);
        fflush(stdout);
    }
    return 0;
}
