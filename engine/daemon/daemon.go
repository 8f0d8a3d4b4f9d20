// Package daemon runs intake as a long-lived service (intake run): the scheduler and
// its workers, the admin HTTP API with metrics and the OAuth connect endpoints, and
// the lifecycle around them (start, reload, graceful shutdown).
//
// Several daemons may share one PostgreSQL database: the database is the queue and
// the coordinator (engine/store leases), so they divide the work between them and
// take over the integrations of one that dies.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/intakehq/intake/engine/alert"
	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/oauthflow"
	"github.com/intakehq/intake/engine/schedule"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Options configure a Daemon.
type Options struct {
	// Config is the validated configuration to start with.
	Config *config.Config
	// ConfigFile and Flags are read again, the same way, on each reload.
	ConfigFile string
	Flags      config.Flags
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Bundled holds the bundled connector specs (connectors.FS); nil for none.
	Bundled fs.FS
	// Logger receives the daemon's log; LogLevel, when set, is the level a reload
	// changes.
	Logger   *slog.Logger
	LogLevel *slog.LevelVar
	// Stdout receives what an operator starting the daemon must see: where the admin
	// API listens and, when it was generated, its token. Nil prints nothing.
	Stdout io.Writer
	// Owner names this daemon in leases and sync runs; "" is HOST-PID-RANDOM.
	Owner string
	// Transport is the base HTTP transport to providers (tests); nil is the default.
	Transport http.RoundTripper
	// Clock drives the scheduler; nil is the system clock.
	Clock schedule.Clock
	// OnRun, when set, is called after each sync run (intake demo prints them).
	OnRun func(RunEvent)
}

// RunEvent is one finished sync run.
type RunEvent struct {
	IntegrationID, CustomerID, Provider, Type string
	Run                                       *store.Run
	Err                                       error
}

// runtime is what a reload replaces as a whole.
type runtime struct {
	cfg     *config.Config
	catalog *spec.Catalog
	policy  schedule.Policy
	alerts  *alert.Policy
	oauth   http.Handler
}

// Daemon is one running intake daemon.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	db      *store.Store
	box     *secret.Box
	owner   string
	token   string
	ln      net.Listener
	metrics *metrics
	loop    *schedule.Loop
	clock   schedule.Clock

	rt       atomic.Pointer[runtime]
	reloadMu sync.Mutex

	// jobCtx bounds every sync; it is cancelled when the shutdown grace runs out.
	jobCtx    context.Context
	jobCancel context.CancelCauseFunc
	draining  atomic.Bool
	ready     atomic.Bool

	holdMu sync.Mutex
	holds  map[string]bool // integrations held back after a load failure
}

// Errors that end syncs.
var (
	// errDraining ends a sync after its current page: the daemon is shutting down.
	errDraining = errors.New("the daemon is shutting down")
	// errGraceOver ends a sync whose page did not finish within the grace period.
	errGraceOver = errors.New("the shutdown grace period ran out")
)

// New opens the store, loads the connectors and overrides, and binds the admin API.
// Nothing runs until Run.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Config == nil {
		return nil, errors.New("daemon: no configuration")
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = schedule.RealClock{}
	}
	cfg := opts.Config
	d := &Daemon{opts: opts, log: opts.Logger, owner: opts.Owner, clock: opts.Clock, holds: map[string]bool{}}
	if d.owner == "" {
		d.owner = newOwnerID()
	}
	d.log = d.log.With("daemon", d.owner)
	box, err := secret.LoadBox(opts.Getenv, cfg.KeyFile)
	switch {
	case errors.Is(err, secret.ErrNoKey):
		d.log.Warn("no secret key configured: integrations with credentials cannot sync until one is", "hint", err.Error())
	case err != nil:
		return nil, err
	}
	d.box = box
	db, err := store.Open(ctx, cfg.Store, store.WithMaxConns(cfg.Workers+4), store.WithClock(opts.Clock.Now), store.WithLogger(d.log))
	if err != nil {
		return nil, err
	}
	d.db = db
	d.metrics = newMetrics(db)
	rt, problems := d.build(cfg)
	for _, p := range problems {
		// At start a bad file is refused and the rest runs (as in every command); a
		// reload is stricter: it keeps the running set.
		d.log.Warn("refused at start", "error", p.Error())
	}
	d.rt.Store(rt)
	d.metrics.configLoaded(true, opts.Clock.Now())
	d.loop = &schedule.Loop{Queue: db, Clock: opts.Clock, Owner: d.owner, Workers: cfg.Workers, Work: d.work, Logger: d.log}
	d.loop.Configure(cfg.Lease.Duration.D(), cfg.ProviderCaps())

	d.token = cfg.Admin.Token
	if cfg.Admin.Listen != "" {
		if d.ln, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			db.Close()
			return nil, fmt.Errorf("admin API: %w", err)
		}
		if d.token == "" {
			d.token = newToken()
		}
		if opts.Stdout != nil {
			// Standard output, not the log: the token is a secret.
			fmt.Fprintf(opts.Stdout, "admin API listening on http://%s\n", d.Addr())
			if cfg.Admin.Token == "" {
				fmt.Fprintf(opts.Stdout, "admin API bearer token (generated; set admin.token to choose one): %s\n", d.token)
			}
		}
	}
	// The OAuth handler needs the listen address for its default public URL.
	rt.oauth = d.oauthHandler(rt)
	return d, nil
}

// build makes a runtime from a configuration: the catalog with its override
// snapshot, the schedule and failure policies. problems lists what did not load.
func (d *Daemon) build(cfg *config.Config) (*runtime, []error) {
	cat := spec.LoadCatalog(cfg.Connectors, d.opts.Bundled)
	cat.CustomersDir = cfg.Customers
	problems := append([]error(nil), cat.Problems...)
	problems = append(problems, cat.SnapshotOverrides()...)
	rt := &runtime{
		cfg:     cfg,
		catalog: cat,
		policy: schedule.Policy{DefaultFrequency: cfg.Schedule.DefaultFrequency.D(), Jitter: cfg.Schedule.Jitter,
			RetryMin: cfg.Schedule.RetryMin.D(), RetryMax: cfg.Schedule.RetryMax.D()},
	}
	hook, err := cfg.OperatorWebhook()
	if err != nil {
		problems = append(problems, err)
	}
	rt.alerts = &alert.Policy{Store: d.db, Box: d.box, Operator: hook, DisableAfter: cfg.Alerts.DisableAfter, Logger: d.log, Now: d.clock.Now,
		OnAlert: func(a *store.Alert) { d.metrics.alerts.WithLabelValues(a.Kind).Inc() }}
	return rt, problems
}

func (d *Daemon) oauthHandler(rt *runtime) http.Handler {
	public := rt.cfg.Admin.PublicURL
	if public == "" && d.ln != nil {
		public = "http://" + d.ln.Addr().String()
	}
	return oauthflow.New(oauthflow.Options{Store: d.db, Box: d.box, Catalog: rt.catalog, PublicURL: public, Logger: d.log, Now: d.clock.Now})
}

func (d *Daemon) runtime() *runtime { return d.rt.Load() }

// Addr is where the admin API listens ("" when it is off).
func (d *Daemon) Addr() string {
	if d.ln == nil {
		return ""
	}
	return d.ln.Addr().String()
}

// Token is the admin API's bearer token (generated when the configuration sets none).
func (d *Daemon) Token() string { return d.token }

// Owner is this daemon's id in leases and sync runs.
func (d *Daemon) Owner() string { return d.owner }

// Store is the daemon's database handle.
func (d *Daemon) Store() *store.Store { return d.db }

// Run runs the daemon until ctx ends, then shuts down gracefully: it stops claiming
// work, lets each running sync commit the page it is on, cancels what is still
// running when the grace period nears its end, releases its leases and returns. It
// closes the store.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.db.Close()
	cfg := d.runtime().cfg
	d.jobCtx, d.jobCancel = context.WithCancelCause(context.WithoutCancel(ctx))
	defer d.jobCancel(nil)

	var srv *http.Server
	served := make(chan error, 1)
	if d.ln != nil {
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 90 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
		go func() { served <- srv.Serve(d.ln) }()
	}
	d.log.Info("daemon starting", "store", cfg.StoreShown(), "workers", cfg.Workers, "admin", d.Addr(),
		"lease", cfg.Lease.Duration, "heartbeat", cfg.Lease.Heartbeat, "dialect", d.db.Dialect().String())

	// Background duties live as long as ctx.
	var bg sync.WaitGroup
	bgCtx, bgCancel := context.WithCancel(ctx)
	bg.Go(func() { _ = d.db.Listen(bgCtx, d.loop.Wake) })
	bg.Go(func() { d.flushAlerts(bgCtx) })
	bg.Go(func() { d.pruneOAuthStates(bgCtx) })

	if err := d.reconcileAll(ctx, d.runtime()); err != nil && ctx.Err() == nil {
		d.log.Error("schedule integrations at start", "error", err)
	}
	d.ready.Store(true)
	loopDone := make(chan struct{})
	claimCtx, stopClaiming := context.WithCancel(ctx)
	defer stopClaiming()
	go func() {
		d.loop.Run(claimCtx)
		close(loopDone)
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-served:
		runErr = fmt.Errorf("admin API: %w", err)
	}

	// Shutdown.
	grace := d.runtime().cfg.ShutdownGrace.D()
	deadline := time.Now().Add(grace)
	d.log.Info("daemon stopping", "running", d.loop.Running(), "grace", grace)
	d.ready.Store(false)
	d.draining.Store(true)
	stopClaiming()
	reserve := min(5*time.Second, grace/5)
	hard := time.AfterFunc(time.Until(deadline.Add(-reserve)), func() { d.jobCancel(errGraceOver) })
	<-loopDone
	hard.Stop()
	bgCancel()
	bg.Wait()
	rctx, cancel := context.WithTimeout(context.Background(), max(time.Until(deadline), time.Second))
	defer cancel()
	if n, err := d.db.ReleaseLeases(rctx, d.owner); err != nil {
		d.log.Error("release leases", "error", err)
	} else if n > 0 {
		d.log.Info("released leases", "count", n)
	}
	if srv != nil {
		if err := srv.Shutdown(rctx); err != nil {
			d.log.Warn("admin API shutdown", "error", err)
		}
	}
	d.log.Info("daemon stopped")
	return runErr
}

// flushAlerts retries undelivered webhook deliveries every alerts.flush_every.
func (d *Daemon) flushAlerts(ctx context.Context) {
	for {
		every := d.runtime().cfg.Alerts.FlushEvery.D()
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := d.runtime().alerts.Flush(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("alert deliveries not flushed", "error", err)
		}
	}
}

// pruneOAuthStates deletes expired authorization states hourly.
func (d *Daemon) pruneOAuthStates(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := d.db.PruneOAuthStates(ctx, d.clock.Now()); err != nil && ctx.Err() == nil {
				d.log.Warn("prune OAuth states", "error", err)
			}
		}
	}
}

func newOwnerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "intake"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
