// fork_dlopen.c - the dynamic loader's state is per process: a forked child
// dlopen()s libm and calls into it, then exits; the parent, which never
// loaded libm, still does not see it (dlopen RTLD_NOLOAD), loads it itself
// and calls into it. Built dynamically linked (glibc). Exits 0.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int use_libm(const char* who) {
    void* h = dlopen("libm.so.6", RTLD_NOW);
    if (!h) {
        printf("%s: dlopen failed: %s\n", who, dlerror());
        return 1;
    }
    double (*cbrt_fn)(double) = (double (*)(double))dlsym(h, "cbrt");
    printf("%s: cbrt(27) = %.1f\n", who, cbrt_fn ? cbrt_fn(27.0) : -1.0);
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("parent before: libm %s\n",
           dlopen("libm.so.6", RTLD_NOW | RTLD_NOLOAD) ? "loaded" : "not loaded");
    pid_t pid = fork();
    if (pid == 0) _exit(use_libm("child"));
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
    printf("parent after: libm %s\n",
           dlopen("libm.so.6", RTLD_NOW | RTLD_NOLOAD) ? "loaded" : "not loaded");
    return use_libm("parent");
}
