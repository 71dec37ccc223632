/* vol_sqlite_svc.c - an HTTP/1.1 service keeping a SQLite database (WAL,
 * synchronous=FULL) on a volume, for the crash e2e tests:
 *   GET /put/N   inserts N in its own transaction and answers "ok N" only
 *                once the commit is durable (fsync'ed)
 *   GET /check   "integrity <PRAGMA integrity_check>\ncount <rows>\n"
 *   GET /keys    every key, one per line
 * The database (DIR/db, default /data) is opened at the first request, so
 * a snapshot taken while waiting for it holds no SQLite state.
 *
 * Usage: vol_sqlite_svc [DIR [PORT]] (default /data, 8080). Runs natively. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_loop.h"

static const char *dir = "/data";
static sqlite3 *db;
static char *out; /* the response body being built */
static size_t out_len, out_cap;

static void append(const char *s) {
    size_t n = strlen(s);
    if (out_len + n + 1 > out_cap) {
        out_cap = (out_len + n + 1) * 2;
        out = realloc(out, out_cap);
        if (!out) abort();
    }
    memcpy(out + out_len, s, n + 1);
    out_len += n;
}

static int respond(int fd, int status) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", out_len);
    return send_all(fd, head, (size_t)n) || send_all(fd, out ? out : "", out_len);
}

static int add_row(void *unused, int n, char **v, char **cols) {
    (void)unused;
    (void)cols;
    for (int i = 0; i < n; i++) {
        append(v[i] ? v[i] : "NULL");
        append("\n");
    }
    return 0;
}

static int open_db(void) {
    if (db) return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/db", dir);
    char *err = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT);",
                     NULL, NULL, &err) != SQLITE_OK) {
        append("error open: ");
        append(err ? err : sqlite3_errmsg(db));
        append("\n");
        sqlite3_free(err);
        sqlite3_close(db);
        db = NULL;
        return -1;
    }
    return 0;
}

static int handle(int fd, const char *req) {
    char path[256] = "", sql[256];
    char *err = NULL;
    out_len = 0;
    if (out) out[0] = 0;
    if (sscanf(req, "GET %255s", path) != 1) return append("only GET\n"), respond(fd, 404);
    if (open_db() != 0) return respond(fd, 500);
    long k;
    int rc;
    if (sscanf(path, "/put/%ld", &k) == 1) {
        /* A row of ~1 KiB: commits touch several pages. */
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO t VALUES(%ld, hex(randomblob(500)));", k);
        rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc == SQLITE_OK) {
            snprintf(sql, sizeof sql, "ok %ld\n", k);
            append(sql);
        }
    } else if (strcmp(path, "/check") == 0) {
        append("integrity ");
        rc = sqlite3_exec(db, "PRAGMA integrity_check;", add_row, NULL, &err);
        if (rc == SQLITE_OK) {
            append("count ");
            rc = sqlite3_exec(db, "SELECT count(*) FROM t;", add_row, NULL, &err);
        }
    } else if (strcmp(path, "/keys") == 0) {
        rc = sqlite3_exec(db, "SELECT k FROM t ORDER BY k;", add_row, NULL, &err);
    } else {
        append("not found\n");
        return respond(fd, 404);
    }
    if (rc != SQLITE_OK) {
        out_len = 0;
        append("error ");
        append(err ? err : sqlite3_errmsg(db));
        append("\n");
        sqlite3_free(err);
        return respond(fd, 500);
    }
    return respond(fd, 200);
}

int main(int argc, char **argv) {
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    if (argc > 1) dir = argv[1];
    return http_loop_run(port, "vol_sqlite_svc", handle);
}
