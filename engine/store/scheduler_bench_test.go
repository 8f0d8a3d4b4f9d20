package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/intakehq/intake/internal/pgtest"
	"github.com/intakehq/intake/internal/schedseed"
)

// Scheduler scale (docs/scheduler-scale.md, make bench-scheduler): the daemon's queue
// with 100,000 integration objects, in two shapes, because a claim leases an
// integration (all its objects) while due times are per object:
//
//   - 25,000 integrations × 4 interaction types: a CRM-like connector (accounts,
//     contacts, deals, tickets), the common case;
//   - 100,000 integrations × 1 type: the most rows a claim can have to choose between.
//
// Every object has synced once and is due at last sync + 1h, its jitter spreading the
// due times evenly over the hour (seedWindow). The clock decides what fraction is due:
// at base + p × window, a share p of the objects is, so one seeded database serves
// every case without rewriting rows.

const (
	seedWindow = time.Hour
	claimBatch = 100 // claims per benchmark op: a daemon filling its free workers
)

var seedBase = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// seedSchedule fills s with shape's integrations and objects, every one synced once
// and due within seedWindow after seedBase.
func seedSchedule(tb testing.TB, s *Store, shape schedseed.Shape) {
	tb.Helper()
	start := time.Now()
	err := schedseed.Seed(context.Background(), s.DB(), schedseed.Options{Shape: shape, Base: seedBase, Window: seedWindow, Analyze: s.dialect == Postgres})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("seeded %v on %s in %v", shape, s.dialect, time.Since(start).Round(time.Millisecond))
}

// schedBackends runs fn on SQLite and, when INTAKE_TEST_POSTGRES_DSN is set, on
// PostgreSQL; open gives the benchmark it is called in a fresh store (a fresh
// PostgreSQL schema), closed when that benchmark ends.
func schedBackends(b *testing.B, fn func(b *testing.B, open func(b *testing.B, clock *testClock) *Store)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			fn(b, func(b *testing.B, clock *testClock) *Store {
				dsn := ""
				if backend == "sqlite" {
					dsn = filepath.Join(b.TempDir(), "intake.db")
				} else {
					dsn = pgtest.DSN(b)
				}
				s, err := Open(context.Background(), dsn, WithClock(clock.now))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// BenchmarkScheduler measures what the daemon's loop asks of the database, on each
// backend and shape:
//
//   - next_wake: the earliest due time, which the loop asks before each sleep;
//   - claim_none: a claim when nothing is due (an idle daemon woken up);
//   - due_backlog: the intake_due_backlog gauge, read at each metrics scrape;
//   - disabled=10%: next_wake and claim_none again once a tenth of the integrations
//     are disabled, their objects due a day ago when they were;
//   - claim100/due=P: 100 claims in a row when a share P of the objects is due (a
//     daemon filling its free workers); the leases are released between ops, outside
//     the timer, so every op sees the same queue.
func BenchmarkScheduler(b *testing.B) {
	schedBackends(b, func(b *testing.B, open func(*testing.B, *testClock) *Store) {
		for _, shape := range schedseed.Shapes {
			b.Run(shape.String(), func(b *testing.B) {
				clock := &testClock{t: seedBase}
				s := open(b, clock)
				seedSchedule(b, s, shape)
				benchScheduler(b, s, clock)
			})
		}
	})
}

func benchScheduler(b *testing.B, s *Store, clock *testClock) {
	ctx := context.Background()
	at := func(p float64) {
		clock.mu.Lock()
		clock.t = seedBase.Add(time.Duration(p * float64(seedWindow)))
		clock.mu.Unlock()
	}
	b.Run("next_wake", func(b *testing.B) {
		at(0)
		for b.Loop() {
			if _, ok, err := s.NextWake(ctx, "daemon-1", nil); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/find")
	})
	b.Run("claim_none", func(b *testing.B) {
		at(0)
		for b.Loop() {
			c, err := s.Claim(ctx, ClaimRequest{Owner: "daemon-1", TTL: time.Minute})
			if err != nil || c != nil {
				b.Fatal(c, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/claim")
	})
	b.Run("due_backlog/due=1%", func(b *testing.B) {
		at(0.01)
		for b.Loop() {
			if _, err := s.DueBacklog(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/count")
	})
	for _, p := range []float64{0.01, 0.10, 1} {
		b.Run(fmt.Sprintf("claim%d/due=%g%%", claimBatch, p*100), func(b *testing.B) {
			at(p)
			claims := 0
			b.ResetTimer()
			for range b.N {
				for range claimBatch {
					c, err := s.Claim(ctx, ClaimRequest{Owner: "daemon-1", TTL: time.Minute})
					if err != nil {
						b.Fatal(err)
					}
					if c == nil {
						break
					}
					claims++
				}
				b.StopTimer()
				if _, err := s.ReleaseLeases(ctx, "daemon-1"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if claims == 0 {
				b.Fatal("nothing claimed")
			}
			b.ReportMetric(float64(claims)/b.Elapsed().Seconds(), "claims/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(claims), "ms/claim")
		})
	}
	// Last, as it changes the database: a tenth of the integrations disabled (their
	// objects past due when they were), which claims and wake-ups must not walk past.
	b.Run("disabled=10%", func(b *testing.B) {
		at(0)
		var ids []string
		if err := func() error {
			rows, err := s.DB().QueryContext(ctx, `SELECT id FROM integrations ORDER BY id`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for n := 0; rows.Next(); n++ {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				if n%10 == 0 {
					ids = append(ids, id)
				}
			}
			return rows.Err()
		}(); err != nil {
			b.Fatal(err)
		}
		for _, id := range ids {
			if _, err := s.DB().ExecContext(ctx, `UPDATE integration_objects SET next_due_at = ? WHERE integration_id = ?`, formatTS(seedBase.Add(-24*time.Hour)), id); err != nil {
				b.Fatal(err)
			}
			if err := s.SetIntegrationStatus(ctx, id, StatusDisabled, "benchmark"); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("next_wake", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.NextWake(ctx, "daemon-1", nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/find")
		})
		b.Run("claim_none", func(b *testing.B) {
			for b.Loop() {
				if c, err := s.Claim(ctx, ClaimRequest{Owner: "daemon-1", TTL: time.Minute}); err != nil || c != nil {
					b.Fatal(c, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/claim")
		})
	})
}
