// Package greet makes the greeting the program answers with.
package greet

import "fmt"

// Greeting greets name on a platform.
func Greeting(name, platform string) string {
	if name == "" {
		name = "world"
	}
	return fmt.Sprintf("hello %s from %s", name, platform)
}
