// vdso_clock.c - the clocks through the vDSO (what libc's clock_gettime,
// gettimeofday and time call) against the clock_gettime syscall: 100,000
// monotonic reads never go back, also when every 100th is the syscall;
// realtime from both agree; the vDSO is there (AT_SYSINFO_EHDR). Prints
// what it found; the same natively and in Ember. In Ember the 100,000
// reads make no syscall (ember-vm --stats counts the 1,000 direct ones).
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
    printf("vdso: %s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
    struct timespec a, s;
    long long last = 0;
    int back = 0;
    for (int i = 0; i < 100000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (ns(a) < last) back++;
        last = ns(a);
        if (i % 100 == 0) {
            syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
            if (ns(s) < last) back++;
            last = ns(s);
        }
    }
    printf("monotonic reads that went back: %d\n", back);
    struct timespec r, rs;
    clock_gettime(CLOCK_REALTIME, &r);
    syscall(SYS_clock_gettime, CLOCK_REALTIME, &rs);
    const long long d = ns(rs) - ns(r);
    printf("realtime, vDSO then syscall, within 5 ms: %s\n", d >= 0 && d < 5000000 ? "yes" : "no");
    struct timeval tv;
    gettimeofday(&tv, NULL);
    const time_t t = time(NULL);
    printf("gettimeofday and time agree: %s\n",
           t - tv.tv_sec >= 0 && t - tv.tv_sec <= 1 ? "yes" : "no");
    struct timespec b1, b2;
    clock_gettime(CLOCK_BOOTTIME, &b1);
    clock_gettime(CLOCK_MONOTONIC_COARSE, &b2);
    printf("boottime and coarse monotonic set: %s\n", ns(b1) > 0 && ns(b2) > 0 ? "yes" : "no");
    struct timespec res;
    printf("resolution: %s\n",
           clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec >= 1 ? "ok"
                                                                                           : "bad");
    return 0;
}
