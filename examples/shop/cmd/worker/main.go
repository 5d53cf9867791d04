// Command worker prints the time in a few zones: it needs the zoneinfo the image carries.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, zone := range []string{"Europe/Berlin", "Asia/Tokyo", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		fmt.Printf("%s %s\n", zone, at.In(loc).Format("15:04 MST"))
	}
}
