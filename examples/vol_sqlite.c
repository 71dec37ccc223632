/* vol_sqlite.c - SQLite (linked statically from Debian's libsqlite3-dev) on
 * a volume: opens DB (argv[1], default /data/t.db) in WAL mode, inserts
 * 1000 rows in one transaction, prints the row count and
 * PRAGMA integrity_check. Runs natively too. */
#include <sqlite3.h>
#include <stdio.h>

static int print_row(void* unused, int n, char** v, char** cols) {
    (void)unused;
    (void)cols;
    for (int i = 0; i < n; i++) printf("%s\n", v[i] ? v[i] : "NULL");
    return 0;
}

int main(int argc, char** argv) {
    sqlite3* db;
    char* err = NULL;
    if (sqlite3_open(argc > 1 ? argv[1] : "/data/t.db", &db) != SQLITE_OK) {
        printf("open: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    const char* sql =
        "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(x INTEGER, y TEXT);"
        "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<1000)"
        " INSERT INTO t SELECT i, hex(randomblob(50)) FROM c; COMMIT;"
        "SELECT count(*) FROM t; PRAGMA integrity_check;";
    if (sqlite3_exec(db, sql, print_row, NULL, &err) != SQLITE_OK) {
        printf("exec: %s\n", err);
        return 1;
    }
    sqlite3_close(db);
    return 0;
}
