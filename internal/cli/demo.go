package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

const (
	demoCustomer    = "demo"
	demoProvider    = "demo-crm"
	demoIntegration = "demo-crm"
	demoAPIKey      = "demo-key"
)

func (a *app) demoCmd() *cobra.Command {
	var (
		addr     string
		listen   string
		interval time.Duration
		rounds   int
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "demo [--addr HOST:PORT] [--listen HOST:PORT] [--interval D] [--rounds N]",
		Short: "Run the daemon against the bundled demo CRM: no setup, no internet",
		Long: `Start the bundled demo CRM (an HTTP API with API-key auth, cursor pagination and an
updated_since filter) on localhost, register customer "demo"'s integration with it,
and run the real daemon (intake run) on the database (--db, default ./intake.db):
it syncs the CRM's accounts, contacts and support tickets (each ticket linked to its
contact and account) at once and then every 10 seconds (the connector's sync_every),
while the CRM changes every --interval, and prints each sync run, until Ctrl-C. The
admin API listens on --listen; its address and token are printed.

If no secret key exists, one is created at the default key file, because the
integration's API key is stored encrypted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDemo(cmd.Context(), addr, listen, interval, rounds, seed)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "where the demo CRM listens (another free port is used if this one is taken)")
	cmd.Flags().StringVar(&listen, "listen", config.DefaultListen, "where the daemon's admin API listens (another free port is used if this one is taken)")
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Second, "time between changes in the demo CRM")
	cmd.Flags().IntVar(&rounds, "rounds", 0, "stop once each interaction type has synced N times (0: run until Ctrl-C)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the demo data")

	var serveAddr string
	serve := &cobra.Command{
		Use:   "serve [--addr HOST:PORT]",
		Short: "Only serve the demo CRM API (for `intake preview` and your own experiments)",
		Long: `Serve the demo CRM API until Ctrl-C. It accepts the API key "demo-key" in the
X-API-Key header and changes a few records every 10 seconds.

  intake preview --connector connectors/demo-crm.yaml --config api_key=demo-key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := democrm.New(democrm.Options{Seed: seed, APIKey: demoAPIKey})
			url, stop, err := serveDemo(cmd.Context(), srv, serveAddr)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(a.env.Stdout, "demo CRM listening on %s (API key %q); Ctrl-C to stop\n", url, demoAPIKey)
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-t.C:
					srv.Mutate(3, 2)
				}
			}
		},
	}
	serve.Flags().StringVar(&serveAddr, "addr", "127.0.0.1:8787", "listen address")
	cmd.AddCommand(serve)
	return cmd
}

// serveDemo starts the demo CRM on addr, or on a free port when addr is taken.
func serveDemo(ctx context.Context, srv *democrm.Server, addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, fmt.Errorf("demo CRM: %w", err)
		}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func (a *app) runDemo(ctx context.Context, addr, listen string, interval time.Duration, rounds int, seed int64) error {
	out := a.env.Stdout
	srv := democrm.New(democrm.Options{Seed: seed, APIKey: demoAPIKey})
	url, stop, err := serveDemo(ctx, srv, addr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "demo CRM serving %d accounts, %d contacts and %d tickets at %s\n", srv.Count("accounts"), srv.Count("contacts"), srv.Count("tickets"), url)

	box, err := a.box()
	if errors.Is(err, secret.ErrNoKey) {
		path := a.keyFile
		if path == "" {
			path = secret.DefaultKeyFile()
		}
		if err := secret.GenerateKeyFile(path); err != nil {
			return fmt.Errorf("create a secret key for the demo: %w", err)
		}
		fmt.Fprintf(out, "created a secret key at %s (it encrypts stored credentials)\n", path)
		box, err = a.box()
	}
	if err != nil {
		return err
	}
	held, err := a.registerDemo(ctx, box, url)
	if err != nil {
		return err
	}
	if held > 0 {
		fmt.Fprintf(out, "%s already holds %s from an earlier demo: the first syncs ask only for what changed since then\n", a.db, plural(held, "interaction"))
	}

	// The daemon, zero-config: the global flags, two workers, the admin API on
	// --listen or any free port.
	if ln, err := net.Listen("tcp", listen); err != nil {
		listen = "127.0.0.1:0"
	} else {
		ln.Close()
	}
	workers := 2
	flags := config.Flags{Store: &a.db, Connectors: &a.connectors, Customers: &a.customers, Listen: &listen, Workers: &workers,
		LogLevel: &a.logLevel, LogFormat: &a.logFormat}
	if a.keyFile != "" {
		flags.KeyFile = &a.keyFile
	}
	cfg, err := config.Load(config.Options{Getenv: a.env.Getenv, Flags: flags})
	if err != nil {
		return err
	}
	dctx, stopDaemon := context.WithCancel(ctx)
	defer stopDaemon()
	var mu sync.Mutex
	done := map[string]int{}
	d, err := daemon.New(dctx, daemon.Options{Config: cfg, Flags: flags, Getenv: a.env.Getenv, Bundled: connectors.FS, Logger: a.logger,
		Stdout: out, OnRun: func(ev daemon.RunEvent) {
			if ev.IntegrationID != demoIntegration {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			printSummary(out, []pipeline.Result{{Type: ev.Type, Run: ev.Run, Err: ev.Err}})
			if ev.Run != nil && ev.Run.Status == store.RunSucceeded {
				done[ev.Type]++
			}
			if rounds > 0 && done["accounts"] >= rounds && done["contacts"] >= rounds && done["tickets"] >= rounds {
				stopDaemon()
			}
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "daemon syncing %s every 10s (the connector's sync_every) with %d workers; the demo CRM changes every %s. Ctrl-C to stop.\n", demoIntegration, workers, interval)
	fmt.Fprintf(out, "  curl -H 'Authorization: Bearer %s' http://%s/v1/runs?limit=5\n\n", d.Token(), d.Addr())

	go func() {
		rng := rand.New(rand.NewPCG(uint64(seed), 2))
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-t.C:
			}
			ch := srv.Mutate(3+rng.IntN(6), 1+rng.IntN(4))
			mu.Lock()
			fmt.Fprintf(out, "in the demo CRM, %s and %s changed; %s and %s were added; %s opened\n",
				plural(ch.Updated["accounts"], "account"), plural(ch.Updated["contacts"], "contact"),
				plural(ch.Created["accounts"], "account"), plural(ch.Created["contacts"], "contact"), plural(ch.Tickets, "ticket"))
			mu.Unlock()
		}
	}()
	if err := d.Run(dctx); err != nil {
		return err
	}
	a.demoEpilogue()
	return nil
}

// registerDemo creates (or points at the demo CRM again) customer demo's
// integration, and returns how many interactions it already holds.
func (a *app) registerDemo(ctx context.Context, box *secret.Box, url string) (int, error) {
	db, err := a.openStore(ctx)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	cfg := map[string]any{"api_url": url}
	creds := map[string]any{"api_key": demoAPIKey}
	err = db.CreateIntegration(ctx, store.Integration{ID: demoIntegration, CustomerID: demoCustomer, Provider: demoProvider, Config: cfg}, creds, box)
	if errors.Is(err, store.ErrExists) {
		err = db.UpdateIntegration(ctx, demoIntegration, cfg, creds, box)
	}
	if err != nil {
		return 0, err
	}
	// The CRM may listen on another port than last time: sync it now.
	if err := db.SetIntegrationStatus(ctx, demoIntegration, store.StatusEnabled, ""); err != nil {
		return 0, err
	}
	if _, err := db.RequestSync(ctx, demoIntegration, nil); err != nil {
		return 0, err
	}
	fmt.Fprintf(a.env.Stdout, "integration %s of customer %s is registered in %s\n", demoIntegration, demoCustomer, a.db)
	return db.CountInteractions(ctx, demoIntegration, "")
}

func (a *app) demoEpilogue() {
	db := a.db
	fmt.Fprintf(a.env.Stdout, `
the data is in %[1]s. Look at it with:
  bin/intake --db %[1]s interactions list --limit 10
  bin/intake --db %[1]s interactions list --type contacts --json | jq .data
  bin/intake --db %[1]s accounts list --limit 10           (companies resolved from the records)
  bin/intake --db %[1]s accounts show 1                     (a company: its people, its latest tickets)
  bin/intake --db %[1]s links unresolved                    (tickets whose requester is not in the CRM)
  bin/intake --db %[1]s changes --since 0 --limit 5 --json   (the change feed)
  sqlite3 %[1]s 'SELECT kind, COUNT(*) FROM interactions GROUP BY kind'
  bin/intake --db %[1]s sync --integration %[2]s     (after 'bin/intake demo serve' in another terminal)
`, db, demoIntegration)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
