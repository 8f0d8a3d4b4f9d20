package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/intakehq/intake/engine/alert"
	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

func (a *app) syncCmd() *cobra.Command {
	var (
		id    string
		types []string
		trace bool
	)
	cmd := &cobra.Command{
		Use:   "sync --integration ID [--type T]...",
		Short: "Sync an integration once: fetch what changed and store it",
		Long: `Run one sync of an integration: for each interaction type (or those named with
--type), ask the provider for what changed since the last successful sync, map
each record, and store it. Each page commits with its cursor, so an interrupted
sync (Ctrl-C, a crash) resumes where it stopped and stores nothing twice.

Exits 1 when any interaction type failed; the reason is printed and recorded on
the sync run.`,
		Example: "  intake sync --integration acme-demo-crm\n  intake sync --integration acme-zendesk --type tickets --trace",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			// Only an integration with credentials needs the key, and LoadJob says so;
			// a key that is configured but unreadable is an error here and now.
			box, err := a.box()
			if err != nil && !errors.Is(err, secret.ErrNoKey) {
				return err
			}
			// The same owner in the refresh lock as in the lease, so that whoever takes
			// the lease over from a killed intake sync also clears a refresh lock it
			// left (store.Claim, store.AcquireLease).
			opts := retrieve.Options{Logger: a.logger, Owner: cliOwner(), PartSize: pipeline.DefaultPartSize}
			if trace {
				opts.Trace = a.tracer()
			}
			operator, err := alert.OperatorFromEnv(a.env.Getenv)
			if err != nil {
				return err
			}
			disableAfter, err := alert.DisableAfterFromEnv(a.env.Getenv)
			if err != nil {
				return err
			}
			policy := &alert.Policy{Store: db, Box: box, Operator: operator, DisableAfter: disableAfter, Logger: a.logger}
			job, err := pipeline.LoadJob(ctx, db, a.catalog(), box, id, opts)
			var oerr *spec.OverrideError
			if errors.As(err, &oerr) {
				// A bad override stops this integration only, loudly.
				if perr := policy.Rejected(ctx, id, err); perr != nil {
					a.logger.Error("failure policy", "integration", id, "error", perr)
				}
				_ = policy.Flush(ctx)
				return fmt.Errorf("%w\nintegration %s is disabled until the override is fixed; then: intake integrations enable %s", err, id, id)
			}
			if err != nil {
				return err
			}
			job.Types = types
			// A daemon may be syncing this integration: take its lease, as a daemon
			// would, so that the two never sync it at once.
			owner := cliOwner()
			ok, holder, err := db.AcquireLease(ctx, id, owner, syncLease)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("integration %s is being synced by %s right now; wait for it, or ask that daemon to sync again: POST /v1/integrations/%s/sync", id, holder, id)
			}
			ctx, stopLease := context.WithCancelCause(ctx)
			defer stopLease(nil)
			go keepLease(ctx, db, id, owner, stopLease)
			defer func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = db.ReleaseLease(rctx, id, owner)
			}()
			p := a.newProgress()
			syncer := &pipeline.Syncer{Store: store.Leased{Store: db, Owner: owner}, Logger: a.logger, OnPage: p.page, Alerts: policy, CommitRecords: pipeline.DefaultCommitRecords}
			results, err := syncer.Sync(ctx, job)
			p.done()
			if ferr := policy.Flush(ctx); ferr != nil {
				a.logger.Warn("alert deliveries not flushed", "error", ferr)
			}
			failed := printSummary(a.env.Stdout, results)
			if err != nil {
				return err
			}
			if failed > 0 {
				return exitError{code: 1, msg: fmt.Sprintf("%d of %d interaction types failed", failed, len(results))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "integration", "", "integration id (required; intake integrations list shows them)")
	cmd.Flags().StringArrayVar(&types, "type", nil, "only this interaction type (repeatable; default: all)")
	cmd.Flags().BoolVar(&trace, "trace", false, "print each request, its status and records per page on stderr")
	_ = cmd.MarkFlagRequired("integration")
	return cmd
}

// syncLease is how long intake sync holds an integration without renewing it.
const syncLease = 2 * time.Minute

// cliOwner names this process in leases and sync runs.
func cliOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("intake-sync-%s-%d", host, os.Getpid())
}

// keepLease renews the lease until ctx ends; losing it stops the sync.
func keepLease(ctx context.Context, db *store.Store, id, owner string, stop context.CancelCauseFunc) {
	t := time.NewTicker(syncLease / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, err := db.RenewLease(ctx, id, owner, syncLease); err == nil && !ok {
			stop(store.ErrLeaseLost)
			return
		}
	}
}

// printSummary writes one line per interaction type and returns how many failed.
func printSummary(w io.Writer, results []pipeline.Result) int {
	width := 14
	for _, r := range results {
		width = max(width, len(r.Type))
	}
	failed := 0
	for _, r := range results {
		if r.Run == nil {
			failed++
			fmt.Fprintf(w, "%-*s failed: %v\n", width, r.Type, r.Err)
			continue
		}
		run := r.Run
		d := run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond)
		line := fmt.Sprintf("%-*s %-9s %3d pages  %5d records: %d new, %d updated, %d unchanged", width, r.Type, run.Status, run.Pages,
			run.RecordsNew+run.RecordsUpdated+run.RecordsUnchanged+run.RecordsQuarantined+run.RecordsFiltered, run.RecordsNew, run.RecordsUpdated, run.RecordsUnchanged)
		if run.RecordsQuarantined > 0 {
			line += fmt.Sprintf(", %d quarantined", run.RecordsQuarantined)
		}
		if run.RecordsFiltered > 0 {
			line += fmt.Sprintf(", %d filtered out", run.RecordsFiltered)
		}
		if run.RecordsUnmatched > 0 {
			line += fmt.Sprintf(", %d unmatched", run.RecordsUnmatched)
		}
		if run.RecordsDeleted > 0 {
			line += fmt.Sprintf("; %d deleted at the source", run.RecordsDeleted)
		}
		line += fmt.Sprintf("  (%s)", d)
		fmt.Fprintln(w, line)
		if run.Error != "" {
			failed++
			fmt.Fprintf(w, "%-*s error: %s\n", width, "", run.Error)
		}
	}
	return failed
}

// progress shows records arriving on a terminal; elsewhere it stays silent and the
// summary says what happened.
type progress struct {
	bar  *progressbar.ProgressBar
	typ  string
	recs int
}

func (a *app) newProgress() *progress {
	if !a.env.IsTerminal(a.env.Stderr) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(a.env.Stderr),
		progressbar.OptionSetDescription("syncing"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionShowIts(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)}
}

func (p *progress) page(ev pipeline.PageEvent) {
	if p.bar == nil {
		return
	}
	if ev.Type != p.typ {
		p.typ = ev.Type
		p.bar.Describe(fmt.Sprintf("syncing %s", ev.Type))
	}
	p.recs += ev.Records
	_ = p.bar.Add(ev.Records)
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
