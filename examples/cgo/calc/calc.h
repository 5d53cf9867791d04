#ifndef SUMS_CALC_H
#define SUMS_CALC_H

#include <stdint.h>

/* The n-th Fibonacci number, computed in C. */
uint64_t calc_fib(int n);

/* The sum of the squares of 1..n, computed by SQLite with a recursive query.
   Returns 0 and sets *err (a static string) on failure. */
int64_t calc_sum_squares(int n, const char **err);

/* The version of the SQLite library linked in. */
const char *calc_sqlite_version(void);

#endif
