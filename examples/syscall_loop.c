// syscall_loop: makes N getppid() calls (one libc syscall site) and prints how
// long each took on average (TSC cycles), plus a checksum of the results, so
// tests can compare patched and unpatched syscall paths. Usage: syscall_loop [N]
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

int main(int argc, char** argv) {
    const long n = argc > 1 ? atol(argv[1]) : 10000;
    long sum = 0;
    const unsigned long long t0 = __rdtsc();
    for (long i = 0; i < n; i++) sum += getppid() + 1;
    const unsigned long long t1 = __rdtsc();
    printf("calls=%ld sum=%ld\n", n, sum);
    fprintf(stderr, "cycles_per_call=%llu\n", n ? (t1 - t0) / (unsigned long long)n : 0ull);
    return 0;
}
