package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/daemon"
)

// EnvConfig names intake.yaml when --config is not given.
const EnvConfig = "INTAKE_CONFIG"

func (a *app) runCmd() *cobra.Command {
	var (
		file    string
		workers int
		listen  string
		grace   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [--config intake.yaml] [--workers N] [--listen HOST:PORT] [--shutdown-grace D]",
		Short: "Run the daemon: sync every integration on its schedule and serve the admin API",
		Long: `Run intake as a service. The scheduler syncs each integration object when it is
due (its last successful sync + its frequency, never-synced ones first, failing
ones after a backoff), with --workers integrations at a time; the admin API serves
health, metrics, integrations, runs, the change feed and the OAuth connect pages.

Configuration comes from intake.yaml (--config, else $INTAKE_CONFIG, else
./intake.yaml when it exists; see docs/config.md). Flags win over the file, the
file over environment variables, those over defaults. With no file at all the
daemon runs on SQLite in ./intake.db.

Several daemons can share one PostgreSQL database (store: postgres://...): they
divide the integrations between them with leases, and take over those of a daemon
that dies.

SIGTERM or SIGINT stops it gracefully: no new work is claimed, each running sync
stops after the page it is on (its cursor commits with it), leases are released,
and it exits within shutdown_grace. SIGHUP (or POST /v1/reload) reloads
intake.yaml, the connectors and the overrides; a set with a bad file is refused
and the running one kept.`,
		Example: "  intake run\n  intake run --config /etc/intake/intake.yaml\n  intake --db postgres://intake@db/intake run --workers 16 --listen :8780",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Only flags given on the command line override intake.yaml.
			f := config.Flags{}
			if cmd.Flags().Changed("db") {
				f.Store = &a.db
			}
			if cmd.Flags().Changed("connectors") {
				f.Connectors = &a.connectors
			}
			if cmd.Flags().Changed("customers") {
				f.Customers = &a.customers
			}
			if cmd.Flags().Changed("key-file") {
				f.KeyFile = &a.keyFile
			}
			if cmd.Flags().Changed("log-level") {
				f.LogLevel = &a.logLevel
			}
			if cmd.Flags().Changed("log-format") {
				f.LogFormat = &a.logFormat
			}
			if cmd.Flags().Changed("workers") {
				f.Workers = &workers
			}
			if cmd.Flags().Changed("listen") {
				f.Listen = &listen
			}
			if cmd.Flags().Changed("shutdown-grace") {
				f.ShutdownGrace = &grace
			}
			if !cmd.Flags().Changed("config") {
				file = a.env.Getenv(EnvConfig)
				if file == "" {
					if _, err := os.Stat("intake.yaml"); err == nil {
						file = "intake.yaml"
					}
				}
			}
			return a.runDaemon(cmd.Context(), file, f)
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "intake.yaml to read (default $INTAKE_CONFIG, else ./intake.yaml when it exists)")
	cmd.Flags().IntVar(&workers, "workers", config.DefaultWorkers, "integrations synced at once (workers in intake.yaml)")
	cmd.Flags().StringVar(&listen, "listen", config.DefaultListen, `admin API address, HOST:PORT; "" turns it off (admin.listen)`)
	cmd.Flags().DurationVar(&grace, "shutdown-grace", config.DefaultShutdownGrace, "time to finish the pages in flight and exit on SIGTERM/SIGINT (shutdown_grace)")
	return cmd
}

// runDaemon loads the configuration and runs the daemon until ctx ends.
func (a *app) runDaemon(ctx context.Context, file string, flags config.Flags) error {
	cfg, err := config.Load(config.Options{File: file, Getenv: a.env.Getenv, Flags: flags})
	if err != nil {
		return err
	}
	logger, level := newLogger(a.env.Stderr, cfg.Log)
	d, err := daemon.New(ctx, daemon.Options{Config: cfg, ConfigFile: file, Flags: flags, Getenv: a.env.Getenv, Bundled: connectors.FS,
		Logger: logger, LogLevel: level, Stdout: a.env.Stdout})
	if err != nil {
		return err
	}
	out := a.env.Stdout
	from := "defaults and environment"
	if file != "" {
		from = file
	}
	fmt.Fprintf(out, "intake daemon %s: %s, %d workers (configuration: %s)\n", d.Owner(), cfg.StoreShown(), cfg.Workers, from)
	stopHUP := onReloadSignal(func() {
		if _, err := d.Reload(context.WithoutCancel(ctx)); err != nil {
			var re *daemon.ReloadError
			if !errors.As(err, &re) {
				logger.Error("reload", "error", err)
			}
			return
		}
	})
	defer stopHUP()
	if err := d.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "intake daemon stopped")
	return nil
}

// newLogger is the daemon's log: JSON or text on w, at a level a reload can change.
func newLogger(w io.Writer, c config.Log) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level)) // validated by config.Load
	level.Set(lvl)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// onReloadSignal calls reload on each SIGHUP until the returned stop is called.
func onReloadSignal(reload func()) (stop func()) {
	sigs := make(chan os.Signal, 1)
	if !notifyHUP(sigs) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sigs:
				reload()
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
