// enosys.c - calls syscalls the Ember kernel does not implement and handles
// ENOSYS like a careful program would. Exits 0 when syscall 999 gives ENOSYS.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    errno = 0;
    long r = syscall(999, 1, 2, 3);
    if (r != -1 || errno != ENOSYS) {
        printf("syscall 999: r=%ld errno=%d (%s)\n", r, errno, strerror(errno));
        return 1;
    }
    puts("ENOSYS handled");
    // A real Linux syscall Ember does not provide: with --trace-syscalls the
    // kernel reports it by name. Natively it fails with another errno.
    errno = 0;
    r = syscall(SYS_io_uring_setup, 0, NULL);
    printf("io_uring_setup: r=%ld %s\n", r, errno == ENOSYS ? "ENOSYS" : "other errno");
    return 0;
}
