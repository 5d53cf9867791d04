// Package calc computes in C: a loop of its own, and a query run by the SQLite C library.
package calc

// #cgo LDFLAGS: -lsqlite3 -lm
// #include <stdlib.h>
// #include "calc.h"
import "C"

import "errors"

// Fib returns the n-th Fibonacci number.
func Fib(n int) uint64 {
	return uint64(C.calc_fib(C.int(n)))
}

// SumSquares returns 1² + 2² + … + n², as SQLite computes it.
func SumSquares(n int) (int64, error) {
	var cerr *C.char
	r := C.calc_sum_squares(C.int(n), &cerr)
	if cerr != nil {
		return 0, errors.New(C.GoString(cerr))
	}
	return int64(r), nil
}

// SQLiteVersion returns the version of the SQLite library the program runs with.
func SQLiteVersion() string {
	return C.GoString(C.calc_sqlite_version())
}
