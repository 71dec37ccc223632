// thread_exit.c - how a multi-threaded process ends. Modes (argv[1]):
//   group:  a thread calls exit(3) while main waits in pthread_join
//   leader: main calls the exit syscall (status 7) while a thread still
//           runs; the thread prints, then exits with status 9
//   last:   main returns 0 from pthread_exit while a detached thread runs on
// The worker prints only after main has printed (a pipe orders them: a
// nap alone left the order to the scheduler on a loaded host).
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
    struct timespec ts = {0, ms * 1000000};
    nanosleep(&ts, NULL);
}

static void* group_exit(void* arg) {
    (void)arg;
    nap(2);
    printf("worker: exit(3)\n");
    fflush(stdout);
    _exit(3);
}

static int g_left[2];  // main writes a byte once it has printed

static void* outlive(void* arg) {
    char c;
    while (read(g_left[0], &c, 1) < 0) {
    }
    nap(5);
    printf("worker: main is gone, I still run\n");
    fflush(stdout);
    if (arg) syscall(SYS_exit, 9);
    return NULL;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "group";
    pthread_t t;
    if (strcmp(mode, "group") == 0) {
        pthread_create(&t, NULL, group_exit, NULL);
        pthread_join(t, NULL);
        printf("not reached\n");
        return 1;
    }
    if (pipe(g_left) != 0) return 2;
    pthread_create(&t, NULL, outlive, strcmp(mode, "leader") == 0 ? (void*)1 : NULL);
    printf("main: leaving\n");
    fflush(stdout);
    if (write(g_left[1], "x", 1) != 1) return 2;
    if (strcmp(mode, "leader") == 0) syscall(SYS_exit, 7);
    pthread_exit(NULL);
}
