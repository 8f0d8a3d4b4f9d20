package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
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
		interval time.Duration
		rounds   int
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "demo [--addr HOST:PORT] [--interval D] [--rounds N]",
		Short: "Run the engine against the bundled demo CRM: no setup, no internet",
		Long: `Start the bundled demo CRM (an HTTP API with API-key auth, cursor pagination and an
updated_since filter) on localhost, register customer "demo"'s integration with it,
sync its accounts, contacts and support tickets into the database (--db, default
./intake.db), each ticket linked to its contact and account, then
keep syncing every --interval while the CRM changes, printing what changed each
round, until Ctrl-C.

If no secret key exists, one is created at the default key file, because the
integration's API key is stored encrypted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDemo(cmd.Context(), addr, interval, rounds, seed)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "where the demo CRM listens (another free port is used if this one is taken)")
	cmd.Flags().DurationVar(&interval, "interval", 10*time.Second, "time between sync rounds")
	cmd.Flags().IntVar(&rounds, "rounds", 0, "stop after N rounds (0: run until Ctrl-C)")
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

func (a *app) runDemo(ctx context.Context, addr string, interval time.Duration, rounds int, seed int64) error {
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
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := map[string]any{"api_url": url}
	creds := map[string]any{"api_key": demoAPIKey}
	err = db.CreateIntegration(ctx, store.Integration{ID: demoIntegration, CustomerID: demoCustomer, Provider: demoProvider, Config: cfg}, creds, box)
	if errors.Is(err, store.ErrExists) {
		err = db.UpdateIntegration(ctx, demoIntegration, cfg, creds, box)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "integration %s of customer %s is registered in %s\n\n", demoIntegration, demoCustomer, a.db)

	job, err := pipeline.LoadJob(ctx, db, a.catalog(), box, demoIntegration, retrieve.Options{Logger: a.logger})
	if err != nil {
		return err
	}
	held, err := db.CountInteractions(ctx, demoIntegration, "")
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	for round := 1; rounds == 0 || round <= rounds; round++ {
		if round == 1 && held == 0 {
			fmt.Fprintln(out, "round 1: first sync")
		} else if round == 1 {
			fmt.Fprintf(out, "round 1: %s already holds %s from an earlier demo, so this sync asks only for what changed since then\n", a.db, plural(held, "interaction"))
		} else {
			select {
			case <-ctx.Done():
				a.demoEpilogue()
				return nil
			case <-time.After(interval):
			}
			ch := srv.Mutate(3+rng.IntN(6), 1+rng.IntN(4))
			fmt.Fprintf(out, "round %d: in the CRM, %s and %s changed; %s and %s were added; %s opened\n", round,
				plural(ch.Updated["accounts"], "account"), plural(ch.Updated["contacts"], "contact"),
				plural(ch.Created["accounts"], "account"), plural(ch.Created["contacts"], "contact"), plural(ch.Tickets, "ticket"))
		}
		p := a.newProgress()
		syncer := &pipeline.Syncer{Store: db, Logger: a.logger, OnPage: p.page}
		results, err := syncer.Sync(ctx, job)
		p.done()
		printSummary(out, results)
		if ctx.Err() != nil {
			a.demoEpilogue()
			return nil
		}
		if err != nil {
			return err
		}
		if round == 1 && rounds != 1 {
			fmt.Fprintf(out, "\nsyncing every %s; the demo CRM changes between rounds. Ctrl-C to stop.\n", interval)
		}
	}
	a.demoEpilogue()
	return nil
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
