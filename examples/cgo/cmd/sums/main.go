// Command sums prints results computed in C, and the platform it runs on.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"example.com/sums/calc"
)

func main() {
	n := flag.Int("n", 100, "sum the squares of 1..n")
	fib := flag.Int("fib", 90, "which Fibonacci number to print")
	flag.Parse()
	sum, err := calc.SumSquares(*n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sums:", err)
		os.Exit(1)
	}
	fmt.Printf("fib(%d) = %d (C)\n", *fib, calc.Fib(*fib))
	fmt.Printf("sum of squares 1..%d = %d (SQLite %s)\n", *n, sum, calc.SQLiteVersion())
	fmt.Printf("platform %s/%s\n", runtime.GOOS, runtime.GOARCH)
}
