// vmem.c - virtual memory as Linux gives it: large PROT_NONE reservations
// that cost no memory, pages committed by mprotect and MAP_FIXED, enforced
// protections (PROT_NONE and read-only pages fault with SEGV_ACCERR, an
// unmapped page with SEGV_MAPERR), bytes kept across PROT_NONE,
// MADV_DONTNEED zeroing, /proc/self/maps, and fork (private pages copied,
// MAP_SHARED pages shared), mincore, msync and mlock. Fixed addresses keep the output the same
// natively and under Ember. Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ul
static char* const R = (char*)0x300000000000ul;  // the test region, 1 MiB
static char* const S = (char*)0x300100000000ul;  // a MAP_SHARED page
static char* const H = (char*)0x310000000000ul;  // a hint
static char* const X = (char*)0x300200000000ul;  // a page of code

static sigjmp_buf g_jmp;
static volatile int g_code;
static volatile uintptr_t g_addr;

static void on_segv(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)uc;
    g_code = si->si_code;
    g_addr = (uintptr_t)si->si_addr;
    siglongjmp(g_jmp, 1);
}

// Reads (write=0) or writes one byte at p; prints whether it faulted and how.
static void probe(const char* what, char* p, int write) {
    g_code = 0;
    g_addr = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        if (write)
            *(volatile char*)p = 1;
        else
            (void)*(volatile char*)p;
        printf("%s: ok\n", what);
        return;
    }
    printf("%s: SIGSEGV code=%s addr_ok=%d\n", what,
           g_code == SEGV_ACCERR   ? "ACCERR"
           : g_code == SEGV_MAPERR ? "MAPERR"
                                   : "other",
           g_addr == (uintptr_t)p);
}

// Calls the code at p (a `ret`); prints whether the fetch faulted and how.
static void exec_probe(const char* what, char* p) {
    g_code = 0;
    g_addr = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        ((void (*)(void))p)();
        printf("%s: ok\n", what);
        return;
    }
    printf("%s: SIGSEGV code=%s addr_ok=%d\n", what, g_code == SEGV_ACCERR ? "ACCERR" : "other",
           g_addr == (uintptr_t)p);
}

static const char* err(int rc) {
    if (rc == 0) return "ok";
    return errno == ENOMEM   ? "ENOMEM"
           : errno == EINVAL ? "EINVAL"
           : errno == EFAULT ? "EFAULT"
                             : "other";
}

static void show_maps(void) {
    FILE* f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        if (lo >= (uintptr_t)R && lo < (uintptr_t)H + (1ul << 20))
            printf("maps: %lx-%lx %s\n", lo, hi, perms);
    }
    if (f) fclose(f);
}

// MADV_DONTNEED and fork by what each page of a mapping went through:
// never touched, only read, written, written then read-only (and back),
// written then PROT_NONE. Ember skips pages never written (their PTE's
// dirty bit is clear); every page must still read as on Linux.
static char* const Z = (char*)0x300300000000ul;  // 8 pages
static int first_nonzero(const char* p) {
    for (unsigned long i = 0; i < PAGE; ++i)
        if (p[i]) return p[i];
    return 0;
}
static void dontneed_by_history(void) {
    char* z = mmap(Z, 8 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("map Z: %s\n", z == Z ? "ok" : "elsewhere");
    (void)*(volatile char*)(Z + 1 * PAGE);
    Z[2 * PAGE + 9] = 2;
    Z[3 * PAGE + 9] = 3;
    mprotect(Z + 3 * PAGE, PAGE, PROT_READ);
    mprotect(Z + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE);
    Z[4 * PAGE + 9] = 4;
    mprotect(Z + 4 * PAGE, PAGE, PROT_READ);
    Z[5 * PAGE + 9] = 5;
    mprotect(Z + 5 * PAGE, PAGE, PROT_NONE);
    mprotect(Z + 6 * PAGE, PAGE, PROT_NONE);
    printf("dontneed Z: %d\n", madvise(Z, 7 * PAGE, MADV_DONTNEED));
    mprotect(Z + 5 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE);
    for (int i = 0; i < 8; ++i)
        printf("Z page %d after dontneed: %d\n", i, first_nonzero(Z + i * PAGE));
    Z[7 * PAGE + 9] = 7;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child Z: %d %d %d\n", first_nonzero(Z), first_nonzero(Z + 2 * PAGE),
               first_nonzero(Z + 7 * PAGE));
        Z[0] = 'c';
        printf("child writes a never-touched page: %d\n", first_nonzero(Z));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("parent Z after the child: %d\n", first_nonzero(Z));
    munmap(Z, 8 * PAGE);
}

// mremap of a mapping above guest memory: grown in place when the pages
// after it are free, refused without MREMAP_MAYMOVE when they are not,
// moved with it (the bytes follow, the old addresses fault), shrunk; a
// read-only mapping's tail is read-only.
static char* const M = (char*)0x300500000000ul;
static void mremap_virt(void) {
    char* m = mmap(M, 4 * PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("map M: %s\n", m == M ? "ok" : "elsewhere");
    for (int i = 0; i < 4; ++i) M[i * PAGE] = (char)('a' + i);
    char* g = mremap(M, 4 * PAGE, 8 * PAGE, 0);
    printf("grow in place: %s\n", g == M ? "same address" : "failed");
    printf("tail reads zero: %d\n", first_nonzero(M + 6 * PAGE) == 0);
    M[7 * PAGE] = 'h';
    char* b = mmap(M + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    printf("blocker: %s\n", b == M + 8 * PAGE ? "ok" : "elsewhere");
    printf("grow without MAYMOVE: %s\n", mremap(M, 8 * PAGE, 16 * PAGE, 0) == MAP_FAILED
                                             ? (errno == ENOMEM ? "ENOMEM" : "other error")
                                             : "grew");
    char* n = mremap(M, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
    printf("grow with MAYMOVE: %s\n", n == MAP_FAILED ? "failed"
                                      : n == M        ? "same address"
                                                      : "moved");
    if (n != MAP_FAILED) {
        printf("moved bytes: %c%c%c%c %c, tail zero %d\n", n[0], n[PAGE], n[2 * PAGE], n[3 * PAGE],
               n[7 * PAGE], first_nonzero(n + 12 * PAGE) == 0);
        n[15 * PAGE] = 'z';
        probe("read the old address", M, 0);
        printf("shrink: %s\n", mremap(n, 16 * PAGE, 2 * PAGE, 0) == n ? "ok" : "failed");
        probe("read past the shrunk end", n + 2 * PAGE, 0);
        munmap(n, 2 * PAGE);
    }
    char* r =
        mmap(M, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char* rg = mremap(r, 2 * PAGE, 4 * PAGE, 0);
    printf("grow read-only: %s\n", rg == M ? "same address" : "failed");
    probe("read the read-only tail", M + 3 * PAGE, 0);
    probe("write the read-only tail", M + 3 * PAGE, 1);
    munmap(M, 9 * PAGE);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);

    // 16 GiB of reservations: more than the guest's memory, free of cost.
    for (int i = 0; i < 4; ++i) {
        void* p =
            mmap(NULL, 4ul << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        printf("reserve 4 GiB #%d: %s\n", i, p == MAP_FAILED ? "failed" : "ok");
    }

    char* r =
        mmap(R, 1ul << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("reserve at R: %s\n", r == R ? "ok" : "elsewhere");
    probe("read reserved", R, 0);
    printf("mprotect rw: %d\n", mprotect(R, 16 * PAGE, PROT_READ | PROT_WRITE));
    for (unsigned long i = 0; i < 16 * PAGE; ++i) R[i] = (char)(i * 7);
    unsigned long sum = 0;
    for (unsigned long i = 0; i < 16 * PAGE; ++i) sum += (unsigned char)R[i];
    printf("sum: %lu\n", sum);
    probe("write past the committed pages", R + 16 * PAGE, 1);

    printf("mprotect r: %d\n", mprotect(R, PAGE, PROT_READ));
    probe("read read-only", R + 5, 0);
    probe("write read-only", R + 5, 1);
    printf("byte kept: %d\n", R[5] == (char)35);
    // The kernel does not write into a read-only page for a syscall: EFAULT.
    int pfd[2];
    if (pipe(pfd) == 0) {
        printf("write to pipe: %zd\n", write(pfd[1], "abc", 3));
        printf("read() into read-only: %s\n", err(read(pfd[0], R, 3) < 0 ? -1 : 0));
        printf("getrandom into read-only: %s\n", err(getrandom(R, 8, 0) < 0 ? -1 : 0));
        printf("pipe() into read-only: %s\n", err(pipe((int*)R)));
        printf("byte still kept: %d\n", R[0] == 0 && R[5] == (char)35);
        close(pfd[0]);
        close(pfd[1]);
    }

    printf("mprotect none: %d\n", mprotect(R + PAGE, PAGE, PROT_NONE));
    probe("read PROT_NONE", R + PAGE + 8, 0);
    printf("mprotect rw again: %d\n", mprotect(R + PAGE, PAGE, PROT_READ | PROT_WRITE));
    printf("bytes kept across PROT_NONE: %d\n", R[PAGE + 8] == (char)((PAGE + 8) * 7));

    // No execution from pages mapped without PROT_EXEC (NX), until mprotect.
    char* x = mmap(X, PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("map code page: %s\n", x == X ? "ok" : "elsewhere");
    X[0] = (char)0xc3;  // ret
    exec_probe("call into read-write page", X);
    printf("mprotect rx: %d\n", mprotect(X, PAGE, PROT_READ | PROT_EXEC));
    exec_probe("call into read-exec page", X);
    printf("mprotect rw: %d\n", mprotect(X, PAGE, PROT_READ | PROT_WRITE));
    exec_probe("call after exec taken away", X);
    munmap(X, PAGE);

    printf("madvise dontneed: %d\n", madvise(R + 2 * PAGE, PAGE, MADV_DONTNEED));
    int zero = 1;
    for (unsigned long i = 0; i < PAGE; ++i) zero &= R[2 * PAGE + i] == 0;
    printf("zero after dontneed: %d, neighbour kept: %d\n", zero,
           R[3 * PAGE] == (char)(3 * PAGE * 7));

    dontneed_by_history();
    mremap_virt();

    char* s = mmap(S, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("shared at S: %s\n", s == S ? "ok" : "elsewhere");
    char* h = mmap(H, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("hint honoured: %d\n", h == H);
    show_maps();

    R[4 * PAGE] = 'p';
    S[0] = 'p';
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child sees: %c %c\n", R[4 * PAGE], S[0]);
        R[4 * PAGE] = 'c';
        S[0] = 'c';
        probe("child read PROT_NONE", R + 20 * PAGE, 0);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    printf("parent sees: private %c shared %c\n", R[4 * PAGE], S[0]);

    printf("munmap: %d\n", munmap(R, 8 * PAGE));
    probe("read unmapped", R, 0);
    probe("read still mapped", R + 8 * PAGE, 0);
    printf("mprotect unmapped: %d\n", mprotect(R, PAGE, PROT_READ) == -1 ? -1 : 0);
    show_maps();

    // mincore: touched pages are resident, a reservation's untouched ones
    // are not; msync and mlock check flags and the mapping.
    unsigned char vec[4] = {9, 9, 9, 9};
    int rc = mincore(R + 14 * PAGE, 4 * PAGE, vec);
    printf("mincore: %d [%d %d %d %d]\n", rc, vec[0], vec[1], vec[2], vec[3]);
    printf("mincore unmapped: %s\n", err(mincore(R, PAGE, vec)));
    printf("mincore unaligned: %s\n", err(mincore(R + 8 * PAGE + 1, PAGE, vec)));
    printf("mlock: %s, munlock: %s\n", err(mlock(R + 8 * PAGE, 2 * PAGE)),
           err(munlock(R + 8 * PAGE, 2 * PAGE)));
    printf("mlock unmapped: %s\n", err(mlock(R, PAGE)));
    printf("mlockall bad flags: %s %s\n", err(mlockall(0)), err(mlockall(MCL_ONFAULT)));
    printf("msync: %s\n", err(msync(R + 8 * PAGE, PAGE, MS_SYNC)));
    printf("msync unmapped: %s\n", err(msync(R, PAGE, MS_SYNC)));
    printf("msync bad: %s %s\n", err(msync(R + 8 * PAGE, PAGE, MS_SYNC | MS_ASYNC)),
           err(msync(R + 8 * PAGE + 1, PAGE, MS_SYNC)));
    return 0;
}
