// Package greet is a dependency that exists only in vendor/: the build must not try to
// download it.
package greet

import "runtime"

// Hello returns a greeting naming the platform the program was built for.
func Hello(who string) string {
	return "hello " + who + " from vendored greet on " + runtime.GOOS + "/" + runtime.GOARCH
}
