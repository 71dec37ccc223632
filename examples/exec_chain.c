// exec_chain.c - a chain of execve: each image makes the same syscall 100
// times from one site, then execs the next with one level fewer, so every
// level patches its syscall sites afresh in a new address space (ember-vm
// --stats then shows whether the last levels still take the fast path).
// argv[1]: the levels left (default 150). Prints one line; exits 0.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
    const int left = argc > 1 ? atoi(argv[1]) : 150;
    long sum = 0;
    for (int i = 0; i < 100; i++) sum += getppid() >= 0;
    if (sum != 100) return 1;
    if (left <= 0) {
        printf("exec chain done\n");
        return 0;
    }
    char next[16];
    snprintf(next, sizeof next, "%d", left - 1);
    execl("/proc/self/exe", "exec_chain", next, (char*)NULL);
    perror("execl");
    return 1;
}
