// guard_pages.c - mprotect inside ordinary memory, as Linux enforces it: a
// guard page made PROT_NONE inside a malloc'd block and inside a plain
// read-write mmap faults (SIGSEGV, SEGV_ACCERR, at the address), a
// read-only page faults on write only, the bytes survive, syscalls get
// EFAULT instead of touching such pages, MADV_DONTNEED, mremap and fork
// keep the protections. Exits 0; the output is the same natively.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ul

static sigjmp_buf g_jmp;
static volatile int g_code;
static volatile uintptr_t g_addr;
static char* g_base;  // addresses are printed relative to it

static void on_segv(int sig, siginfo_t* si, void* uc) {
    (void)sig;
    (void)uc;
    g_code = si->si_code;
    g_addr = (uintptr_t)si->si_addr;
    siglongjmp(g_jmp, 1);
}

static void probe(const char* what, char* p, int write) {
    g_code = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
        if (write)
            *(volatile char*)p = 1;
        else
            (void)*(volatile char*)p;
        printf("%s: ok\n", what);
        return;
    }
    printf("%s: SIGSEGV code=%s at base+%ld\n", what,
           g_code == SEGV_ACCERR   ? "ACCERR"
           : g_code == SEGV_MAPERR ? "MAPERR"
                                   : "other",
           (long)((char*)g_addr - g_base));
}

static const char* rc(long r) {
    if (r >= 0) return "ok";
    return errno == EFAULT ? "EFAULT" : errno == ENOMEM ? "ENOMEM" : "other";
}

// Four pages at b: 0 read-write, 1 PROT_NONE, 2 read-only, 3 read-write.
static void check(const char* name, char* b) {
    g_base = b;
    printf("-- %s\n", name);
    for (unsigned long i = 0; i < 4 * PAGE; ++i) b[i] = (char)(i % 251);
    printf("mprotect none: %d, read-only: %d\n", mprotect(b + PAGE, PAGE, PROT_NONE),
           mprotect(b + 2 * PAGE, PAGE, PROT_READ));
    probe("read below the guard", b + PAGE - 1, 0);
    probe("read the guard", b + PAGE + 5, 0);
    probe("write the guard", b + PAGE + 6, 1);
    probe("read read-only", b + 2 * PAGE + 7, 0);
    probe("write read-only", b + 2 * PAGE + 8, 1);
    probe("write above", b + 3 * PAGE, 1);
    b[3 * PAGE] = (char)(3 * PAGE % 251);
    int fd[2];
    if (pipe(fd) == 0) {
        printf("write() from the guard: %s\n", rc(write(fd[1], b + PAGE, 8)));
        printf("write() from read-only: %s\n", rc(write(fd[1], b + 2 * PAGE, 8)));
        printf("read() into read-only: %s\n", rc(read(fd[0], b + 2 * PAGE, 8)));
        printf("read() from the guard into read-only: %s\n", rc(read(fd[0], b + 2 * PAGE - 4, 8)));
        close(fd[0]);
        close(fd[1]);
    }
    printf("open() of a name in the guard: %s\n", rc(open(b + PAGE, 0)));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        probe("child reads the guard", b + PAGE, 0);
        probe("child writes read-only", b + 2 * PAGE, 1);
        probe("child reads read-only", b + 2 * PAGE + 9, 0);
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    printf("mprotect rw: %d %d\n", mprotect(b + PAGE, PAGE, PROT_READ | PROT_WRITE),
           mprotect(b + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE));
    int kept = 1;
    for (unsigned long i = 0; i < 4 * PAGE; ++i) kept &= b[i] == (char)(i % 251);
    printf("bytes kept: %d\n", kept);
    probe("write the old guard", b + PAGE, 1);
    // MADV_DONTNEED on a read-only page reads back zero.
    mprotect(b + 2 * PAGE, PAGE, PROT_READ);
    printf("dontneed read-only: %d\n", madvise(b + 2 * PAGE, PAGE, MADV_DONTNEED));
    printf("zero: %d\n", b[2 * PAGE + 8] == 0);
    probe("write read-only after dontneed", b + 2 * PAGE, 1);
    mprotect(b + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);

    // Inside a malloc'd block (the heap for glibc).
    char* m = malloc(16 * PAGE);
    char* b = (char*)(((uintptr_t)m + PAGE - 1) & ~(PAGE - 1));
    check("malloc", b);
    free(m);

    // Inside a read-write mmap made without a hint.
    char* r = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("mmap", r);

    // mremap keeps a read-only mapping read-only, moved or not; a range
    // over several mappings (a guard page splits one) cannot grow.
    mprotect(r + PAGE, PAGE, PROT_NONE);
    g_base = r;
    printf("-- mremap across a guard page: %s\n",
           mremap(r, 8 * PAGE, 32 * PAGE, MREMAP_MAYMOVE) == MAP_FAILED ? rc(-1) : "grew");
    mprotect(r, 8 * PAGE, PROT_READ);
    char* blocker = mmap(r + 8 * PAGE, PAGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char* n = mremap(r, 8 * PAGE, 32 * PAGE, MREMAP_MAYMOVE);
    printf("-- mremap read-only: %s\n", n == MAP_FAILED ? rc(-1) : "ok");
    if (n != MAP_FAILED) {
        g_base = n;
        probe("read the moved pages", n + PAGE, 0);
        probe("write the moved pages", n + PAGE, 1);
        probe("write the grown tail", n + 20 * PAGE, 1);
        printf("bytes moved: %d\n", n[3 * PAGE + 1] == (char)((3 * PAGE + 1) % 251));
        munmap(n, 32 * PAGE);
    }
    if (blocker != MAP_FAILED) munmap(blocker, PAGE);

    // A guard page that is unmapped and mapped again is ordinary memory.
    char* q = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_base = q;
    mprotect(q + PAGE, PAGE, PROT_NONE);
    munmap(q + PAGE, PAGE);
    char* again = mmap(q + PAGE, PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("-- remapped: %s\n", again == q + PAGE ? "ok" : "elsewhere");
    probe("write the remapped page", q + PAGE, 1);
    printf("done\n");
    return 0;
}
