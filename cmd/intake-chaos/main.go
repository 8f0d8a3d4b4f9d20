// Command intake-chaos is `make chaos` (docs/chaos.md): it runs the real `intake run`
// against a mock CRM, kills it with SIGKILL at random moments drawn from a seed,
// restarts it, changes the mock's data between rounds, optionally injects faults into
// every answer (latency, resets, 5xx, 429, truncated and malformed bodies, expired
// tokens), and finally compares the store with the mock's truth.
//
// A command of its own, not a subcommand of intake-bench: the bench measures one
// process's throughput and peak RSS against a floor, the campaign checks correctness
// across many processes; they share the mock (internal/bench) and nothing else.
//
//	intake-chaos [-intake bin/intake] [-seed 1] [-kills 50] [-records 20000]
//	             [-integrations 2] [-daemons 1] [-faults 0] [-page 250] [-retries -1]
//	             [-workers N] [-store postgres://...] [-max-delay 2s] [-timeout 3m]
//	             [-dir DIR] [-keep] [-log-level info]
//
// It ends with one line, and exits 1 if anything was lost, duplicated or mismatched,
// or a sync failed for a reason no fault explains:
//
//	chaos: kills=50 records=N lost=0 duplicated=0 mismatched=0
//	chaos: faults=F kills=10 records=N lost=0 duplicated=0 mismatched=0   (with -faults)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/intakehq/intake/internal/chaos"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	ok, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake-chaos:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) (bool, error) {
	fs := flag.NewFlagSet("intake-chaos", flag.ContinueOnError)
	o := chaos.Options{Out: os.Stdout, Log: os.Stderr}
	fs.StringVar(&o.Intake, "intake", "bin/intake", "the intake binary (built with `go build ./cmd/intake` when it does not exist)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the kill moments, the mock's changes and the faults")
	fs.IntVar(&o.Kills, "kills", 50, "SIGKILLs before the final sync")
	fs.IntVar(&o.Records, "records", 20000, "records the mock starts with (about 1 KB each)")
	fs.IntVar(&o.Integrations, "integrations", 2, "integrations syncing the mock, each of its own customer")
	fs.IntVar(&o.Workers, "workers", 0, "each daemon's workers (0: one per integration)")
	fs.IntVar(&o.Daemons, "daemons", 1, "daemons running at once on the one database; each round kills one of them")
	fs.Float64Var(&o.FaultRate, "faults", 0, "fraction of requests answered with an injected fault (0 to 1)")
	fs.IntVar(&o.PageSize, "page", 250, "records a page")
	fs.IntVar(&o.Retries, "retries", -1, "the connector's retries of a failed request (-1: the engine's default, 4); fewer let runs fail")
	fs.DurationVar(&o.MaxDelay, "max-delay", 2*time.Second, "a kill comes up to this long after the daemon begins syncing")
	fs.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "how long the final sync may take")
	fs.StringVar(&o.LogLevel, "log-level", "info", "the daemons' log level (their log is daemon.log in the work directory)")
	fs.StringVar(&o.Store, "store", "", "a PostgreSQL URL: run on a fresh schema of that database (dropped at the end unless -keep) instead of SQLite")
	fs.StringVar(&o.Dir, "dir", "", "work directory (intake.yaml, intake.db, daemon.log); default a temporary one")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary work directory")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if o.FaultRate < 0 || o.FaultRate > 1 {
		return false, fmt.Errorf("-faults must be in [0, 1]")
	}
	if _, err := os.Stat(o.Intake); err != nil {
		tmp, err := os.MkdirTemp("", "intake-chaos-bin-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(tmp)
		o.Intake = filepath.Join(tmp, "intake")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.Intake, "./cmd/intake")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return false, fmt.Errorf("go build ./cmd/intake: %w", err)
		}
	}
	res, err := chaos.Run(ctx, o)
	if err != nil {
		return false, err
	}
	fmt.Fprintln(o.Out, res.Summary(o.FaultRate > 0))
	return res.OK(), nil
}
