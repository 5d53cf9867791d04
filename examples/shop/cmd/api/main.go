// Command api serves the shop's configuration over HTTP. `api --health` checks a running
// server (the image's health check runs it: the image has no shell or curl), and
// `api --version` prints the version stamped in with -ldflags.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"time"
)

var version = "unset"

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	health := flag.Bool("health", false, "check the server on localhost and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	switch {
	case *showVersion:
		fmt.Printf("shop api %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
		return
	case *health:
		client := http.Client{Timeout: 2 * time.Second}
		resp, err := client.Get("http://127.0.0.1:8080/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		fmt.Println("healthy")
		return
	}

	config, err := os.ReadFile("/etc/shop/shop.json")
	if err != nil {
		log.Fatalf("reading the config: %v", err)
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "mode=%s wd=%s uid=%d config=%s", os.Getenv("SHOP_MODE"), wd, os.Getuid(), config)
	})
	log.Printf("shop api %s listening on %s", version, *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
