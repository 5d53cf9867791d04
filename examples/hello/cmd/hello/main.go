// Command hello is a small HTTP server that says which platform it was built for and runs
// on. With -once it prints that line and exits, which is how the tests run it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func describe() string {
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello"
	}
	return fmt.Sprintf("%s from %s/%s (%s)", greeting, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func main() {
	listen := flag.String("listen", ":8080", "address to serve HTTP on")
	once := flag.Bool("once", false, "print the greeting and exit")
	flag.Parse()

	if *once {
		fmt.Println(describe())
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, describe())
	})
	log.Printf("listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
