// nullcrash.c - writes through a NULL pointer. An optional argv[1] (e.g.
// 0x7b8, below 4096 so that it stays in the unmapped page 0) is added to the
// pointer, as a field access through a NULL struct pointer would, so that
// tests can look for that address in the crash report.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
    unsigned long offset = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    volatile char* p = (volatile char*)NULL + offset;
    printf("nullcrash: writing to %p\n", (void*)p);
    fflush(stdout);
    *(volatile int*)p = 42;
    puts("nullcrash: still alive (unexpected)");
    return 1;
}
