// Command api prints a greeting from the workspace's greeting module.
package main

import (
	"fmt"
	"os"
	"runtime"

	"example.com/greeting"
)

func main() {
	name := "goapp"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Println(greeting.For(name, runtime.GOOS+"/"+runtime.GOARCH))
}
