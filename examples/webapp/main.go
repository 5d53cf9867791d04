// Command webapp serves pages embedded at build time and answers /hello.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"strings"

	"example.com/webapp/internal/greet"
	"example.com/webapp/internal/web"
)

// Set at link time (the spec's go.x).
var (
	version = "unset"
	commit  = "unset"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	printVersion := flag.Bool("version", false, "print the version and commit, then exit")
	page := flag.String("page", "", "print an embedded page, then exit")
	flag.Parse()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	if *printVersion {
		fmt.Printf("webapp %s (commit %s) %s\n", version, commit, platform)
		return
	}
	if *page != "" {
		b, err := web.Page(*page)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greet.Greeting(r.URL.Query().Get("name"), platform))
	})
	mux.HandleFunc("/pages", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, strings.Join(web.Pages, "\n"))
	})
	log.Printf("webapp %s on %s, serving %s", version, platform, *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
