// Command inventory serves a small product catalogue over HTTP, with Prometheus metrics,
// a request ID on every response and prices written in the client's language.
//
//	inventory serve --listen :8080
//	inventory report --lang de
package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"example.com/inventory/internal/catalog"
)

//go:embed items.yaml
var itemsYAML []byte

var version = "dev"

func main() {
	root := &cobra.Command{Use: "inventory", Short: "A product catalogue service", SilenceUsage: true}
	root.AddCommand(serveCmd(), reportCmd())
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}

func load() *catalog.Catalog {
	c, err := catalog.Parse(itemsYAML)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func reportCmd() *cobra.Command {
	var lang string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Print the stock and its value",
		RunE: func(cmd *cobra.Command, args []string) error {
			units, value := load().Totals()
			fmt.Fprintf(cmd.OutOrStdout(), "inventory %s on %s/%s: %d units worth %s\n",
				version, runtime.GOOS, runtime.GOARCH, units, catalog.Money(lang, value))
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "en", "language of the numbers (BCP 47)")
	return cmd
}

func serveCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the catalogue over HTTP",
		RunE: func(cmd *cobra.Command, args []string) error {
			log.Printf("inventory %s listening on %s", version, listen)
			srv := &http.Server{Addr: listen, Handler: router(load()), ReadHeaderTimeout: 5 * time.Second}
			return srv.ListenAndServe()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":8080", "address to listen on")
	return cmd
}

func router(c *catalog.Catalog) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inventory_requests_total",
		Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	reg.MustRegister(requests)

	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Request-Id", uuid.NewString())
			next.ServeHTTP(w, req)
		})
	})
	reply := func(w http.ResponseWriter, route string, code int, body any) {
		requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
	r.Get("/items", func(w http.ResponseWriter, req *http.Request) {
		reply(w, "/items", http.StatusOK, c.Items)
	})
	r.Get("/items/{sku}", func(w http.ResponseWriter, req *http.Request) {
		it, ok := c.Find(chi.URLParam(req, "sku"))
		if !ok {
			reply(w, "/items/{sku}", http.StatusNotFound, map[string]string{"error": "no such item"})
			return
		}
		lang := req.URL.Query().Get("lang")
		if lang == "" {
			lang = "en"
		}
		reply(w, "/items/{sku}", http.StatusOK, map[string]any{"item": it, "price": catalog.Money(lang, it.Price)})
	})
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return r
}
