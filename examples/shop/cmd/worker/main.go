// Command worker prints the time in a few zones (it needs the zoneinfo the image carries),
// then records its run in its working directory, the image's volume: as the image's default
// user, it must be able to write there.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, zone := range []string{"Europe/Berlin", "Asia/Tokyo", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s %s\n", zone, at.In(loc).Format("15:04 MST"))
	}
	dir, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	runs := filepath.Join(dir, "runs.log")
	f, err := os.OpenFile(runs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fail(err)
	}
	if _, err := fmt.Fprintln(f, time.Now().UTC().Format(time.RFC3339)); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
	data, err := os.ReadFile(runs)
	if err != nil {
		fail(err)
	}
	fmt.Printf("run %d recorded in %s\n", strings.Count(string(data), "\n"), runs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "worker:", err)
	os.Exit(1)
}
