#include <stddef.h>

#include <sqlite3.h>

#include "calc.h"

uint64_t calc_fib(int n) {
    uint64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

int64_t calc_sum_squares(int n, const char **err) {
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t result = 0;
    *err = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        *err = "cannot open an in-memory database";
        goto done;
    }
    const char *sql =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1) "
        "SELECT sum(x * x) FROM c";
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        *err = "cannot prepare the query";
        goto done;
    }
    sqlite3_bind_int(stmt, 1, n);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        *err = "the query returned no row";
        goto done;
    }
    result = sqlite3_column_int64(stmt, 0);
done:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
}

const char *calc_sqlite_version(void) {
    return sqlite3_libversion();
}
