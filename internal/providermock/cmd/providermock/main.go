// Command providermock serves one provider mock of internal/providermock on
// localhost, so that the bundled connector can be tried from the CLI without the
// internet:
//
//	go run ./internal/providermock/cmd/providermock -provider hubspot -values /tmp/hubspot.yaml
//	intake preview --connector connectors/hubspot.yaml --config-file /tmp/hubspot.yaml
//
// It prints where it listens and the config and credential values an integration
// uses against it (the mock's own, fake), writes them to -values as a file for
// --config-file, and prints the mock's counters when it stops.
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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/intakehq/intake/internal/providermock"
)

func main() {
	provider := flag.String("provider", "", "provider to serve: "+strings.Join(providermock.Providers, ", "))
	addr := flag.String("addr", "127.0.0.1:0", "listen address of the API (port 0: any free port)")
	loginAddr := flag.String("login-addr", "127.0.0.1:0", "listen address of the token endpoint (salesforce only)")
	values := flag.String("values", "", "also write the integration's values to this file, for --config-file")
	rateLimit := flag.Int("rate-limit", 0, "API requests admitted per window (0: the provider's documented limit, -1: none)")
	rateWindow := flag.Duration("rate-window", 0, "rate-limit window (0: the provider's)")
	changeEvery := flag.Duration("change-every", 0, "every so often, change 3 records of each type, as a live account would (0: never)")
	flag.Parse()
	if err := run(*provider, *addr, *loginAddr, *values, *rateLimit, *rateWindow, *changeEvery); err != nil {
		fmt.Fprintln(os.Stderr, "providermock:", err)
		os.Exit(1)
	}
}

func run(provider, addr, loginAddr, valuesFile string, rateLimit int, rateWindow, changeEvery time.Duration) error {
	if provider == "" {
		return fmt.Errorf("-provider is required (%s)", strings.Join(providermock.Providers, ", "))
	}
	m, err := providermock.New(provider, providermock.Common{RateLimit: rateLimit, RateWindow: rateWindow})
	if err != nil {
		return err
	}
	var servers []*http.Server
	for _, host := range m.Hosts() {
		a := addr
		if host == "login" {
			a = loginAddr
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("listen for %s: %w", host, err)
		}
		u := "http://" + ln.Addr().String()
		m.SetURL(host, u)
		hs := &http.Server{Handler: m.Handler(host), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, hs)
		go func() { _ = hs.Serve(ln) }()
		fmt.Printf("%s mock: %s on %s\n", provider, host, u)
	}
	vals := m.Values()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, _ := json.Marshal(vals[k]) // JSON scalars are YAML
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	fmt.Printf("\nvalues for --config-file (the mock's own, fake credentials):\n%s\n", b.String())
	if valuesFile != "" {
		if err := os.WriteFile(valuesFile, []byte(b.String()), 0o600); err != nil {
			return err
		}
		fmt.Printf("written to %s; try:\n  intake preview --connector connectors/%s.yaml --config-file %s --limit 3\n\n", valuesFile, provider, valuesFile)
	}
	counts := m.Counts()
	fmt.Printf("records: %v\nCtrl-C stops the mock and prints its counters.\n", counts)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if changeEvery > 0 {
		go func() {
			t := time.NewTicker(changeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					fmt.Printf("changed: %v\n", m.Change(3))
				}
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, hs := range servers {
		_ = hs.Shutdown(sctx)
	}
	out, _ := json.Marshal(m.Stats())
	fmt.Println(string(out))
	return nil
}
