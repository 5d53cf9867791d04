// Package web serves the pages embedded from dist/, which the build fills from the assets.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:generate go run ./gen

//go:embed dist
var dist embed.FS

// Handler serves the embedded pages.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return http.FileServer(http.FS(sub))
}

// Page returns an embedded page's bytes.
func Page(name string) ([]byte, error) {
	return dist.ReadFile("dist/" + name)
}
