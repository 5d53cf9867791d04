// Package greeting is a library module of the workspace, used by the api module.
package greeting

import "fmt"

// For greets someone from the platform the program was built for.
func For(name, platform string) string {
	return fmt.Sprintf("hello %s from the workspace on %s", name, platform)
}
