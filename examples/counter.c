/* counter.c - an HTTP/1.1 server whose state lives only in memory, for
 * stateful scale to zero: every request adds one to a counter and gets the
 * new value back. Blocking sockets, one connection at a time (keep-alive).
 *
 *   GET /          -> 200, "count N\n" (N counts every request served)
 *   GET /dirty/M   -> 200, "count N\n" after writing M MiB (at most 16) of
 *                     a static buffer with the byte N % 251
 *   GET /sum       -> 200, "count N sum S\n": S adds up the buffer's bytes
 *                     (what /dirty wrote, checked after a resume)
 *
 * Usage: counter [PORT] (default 8080). Runs natively and in Ember. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_loop.h"

#define MAX_DIRTY_MIB 16

static unsigned long long count;
static unsigned char buffer[MAX_DIRTY_MIB << 20];
static size_t dirty_len;

static int handle(int fd, const char *req) {
    char path[256] = "";
    char body[128];
    if (sscanf(req, "GET %255s", path) != 1) return http_loop_respond(fd, 404, "only GET\n");
    ++count;
    if (strncmp(path, "/dirty/", 7) == 0) {
        size_t mib = strtoul(path + 7, NULL, 10);
        if (mib > MAX_DIRTY_MIB) mib = MAX_DIRTY_MIB;
        dirty_len = mib << 20;
        memset(buffer, (int)(count % 251), dirty_len);
    } else if (strcmp(path, "/sum") == 0) {
        unsigned long long sum = 0;
        for (size_t i = 0; i < dirty_len; ++i) sum += buffer[i];
        snprintf(body, sizeof body, "count %llu sum %llu\n", count, sum);
        return http_loop_respond(fd, 200, body);
    } else if (strcmp(path, "/") != 0) {
        return http_loop_respond(fd, 404, "not found\n");
    }
    snprintf(body, sizeof body, "count %llu\n", count);
    return http_loop_respond(fd, 200, body);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    return http_loop_run(port, "counter", handle);
}
