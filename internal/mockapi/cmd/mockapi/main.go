// Command mockapi serves the OAuth2-protected mock API of internal/mockapi on
// localhost, for trying connectors and reproducing the retriever's measurements
// (docs/rate-limits.md). It prints the server's statistics when it stops.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/intakehq/intake/internal/mockapi"
)

func main() {
	var o mockapi.Options
	addr := flag.String("addr", "127.0.0.1:8790", "listen address")
	flag.IntVar(&o.Records, "records", 1500, "records served by GET /v1/items")
	flag.IntVar(&o.PageSize, "page-size", 100, "largest page")
	flag.IntVar(&o.TokenUses, "token-uses", 30, "API calls an access token survives (0: unlimited)")
	flag.Float64Var(&o.FailRate, "fail-rate", 0.03, "fraction of API calls answered 500")
	flag.IntVar(&o.RateLimit, "rate-limit", 20, "API calls allowed per window (0: unlimited)")
	flag.DurationVar(&o.RateWindow, "rate-window", time.Second, "rate-limit window (sliding)")
	flag.IntVar(&o.TruncateEvery, "truncate-every", 0, "cut every Nth body short (0: never)")
	flag.StringVar(&o.ClientAuth, "client-auth", "basic", "token endpoint client authentication: basic or post")
	flag.Parse()
	o.Seed = 1
	srv := mockapi.New(o)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mockapi:", err)
		os.Exit(1)
	}
	srv.SetURL("http://" + ln.Addr().String())
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	fmt.Printf("mockapi on http://%s (client id %s, secret %s); Ctrl-C prints its statistics\n", ln.Addr(), mockapi.DefaultClientID, mockapi.DefaultClientSecret)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	out, _ := json.Marshal(srv.Stats())
	fmt.Println(string(out))
}
