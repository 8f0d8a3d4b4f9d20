package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/schedule"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/pgtest"
	"github.com/intakehq/intake/internal/schedseed"
)

// BenchmarkSchedulerDaemon starts a daemon over 100,000 idle integration objects
// (internal/schedseed's shapes: every object synced within the last hour, due within
// the next one, so nothing is due) on SQLite and PostgreSQL, and measures:
//
//   - s/start: from New until the daemon is ready (it reconciles every enabled
//     integration's objects with its spec first, engine/daemon reconcileAll);
//   - B/object: the Go heap the running, idle daemon holds beyond what the process
//     held before it started, per object (after GC): per-object state kept in memory;
//   - alloc-B/object: bytes allocated while starting, per object (garbage included).
//
// docs/scheduler-scale.md has the numbers; make bench-scheduler runs it.
func BenchmarkSchedulerDaemon(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			for _, shape := range schedseed.Shapes {
				b.Run(shape.String(), func(b *testing.B) {
					dir := b.TempDir()
					dsn := filepath.Join(dir, "intake.db")
					if backend == "postgres" {
						dsn = pgtest.DSN(b)
					}
					benchIdleDaemon(b, dir, dsn, shape)
				})
			}
		})
	}
}

// idleSpec is a connector whose interaction types are the seeded ones, synced hourly.
func idleSpec(provider string, types []string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "provider: %s\nbase_url: 'http://127.0.0.1:9'\nauth: {type: none}\nsync_every: 1h\ninteraction_types:\n", provider)
	for _, t := range types {
		fmt.Fprintf(&s, "  %s:\n    kind: contact\n    request: {path: /%s}\n    records: .items[]\n    id: .id\n    fields:\n      name: .name\n", t, t)
	}
	return s.String()
}

func benchIdleDaemon(b *testing.B, dir, dsn string, shape schedseed.Shape) {
	ctx := context.Background()
	const providers, freq, jitter = 8, time.Hour, 0.1
	conns := filepath.Join(dir, "connectors")
	if err := os.MkdirAll(conns, 0o755); err != nil {
		b.Fatal(err)
	}
	for p := range providers {
		name := fmt.Sprintf("provider-%d", p)
		if err := os.WriteFile(filepath.Join(conns, name+".yaml"), []byte(idleSpec(name, schedseed.Types[:shape.Types])), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "intake.yaml")
	yaml := fmt.Sprintf("store: %s\nconnectors: %s\nworkers: 4\nschedule: {jitter: %g}\nadmin: {listen: '127.0.0.1:0', token: %s}\n", dsn, conns, jitter, testToken)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	getenv := func(string) string { return "" }
	cfg, err := config.Load(config.Options{File: cfgFile, Getenv: getenv})
	if err != nil {
		b.Fatal(err)
	}

	// The due times the daemon's policy computes, so that starting rewrites none; the
	// earliest is 15 minutes away, so that nothing becomes due while it runs.
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	err = schedseed.Seed(ctx, db.DB(), schedseed.Options{Shape: shape, Providers: providers, Base: time.Now().Add(15 * time.Minute), Window: freq,
		Analyze: db.Dialect() == store.Postgres,
		Due: func(id, typ string, synced time.Time) time.Time {
			return synced.Add(freq + schedule.Jitter(id, typ, freq, jitter)).Truncate(time.Millisecond)
		}})
	db.Close()
	if err != nil {
		b.Fatal(err)
	}

	var heap, alloc uint64
	var started time.Duration
	for b.Loop() {
		before := heapAfterGC()
		t0 := time.Now()
		runCtx, cancel := context.WithCancel(ctx)
		d, err := daemon.New(runCtx, daemon.Options{Config: cfg, ConfigFile: cfgFile, Getenv: getenv})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		waitReady(b, d)
		started = time.Since(t0)
		// Idle: the loop has found nothing to claim and sleeps until the next due time.
		time.Sleep(500 * time.Millisecond)
		after := heapAfterGC()
		heap, alloc = after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc), after.TotalAlloc-before.TotalAlloc
		if n, err := d.Store().DueBacklog(ctx); err != nil || n != 0 {
			b.Fatalf("idle daemon: %d objects due (%v)", n, err)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	n := float64(shape.Objects())
	b.ReportMetric(started.Seconds(), "s/start")
	b.ReportMetric(float64(heap)/n, "B/object")
	b.ReportMetric(float64(alloc)/n, "alloc-B/object")
}

func heapAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

func waitReady(b *testing.B, d *daemon.Daemon) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+d.Addr()+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+d.Token())
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("the daemon was not ready within 10 minutes")
}
