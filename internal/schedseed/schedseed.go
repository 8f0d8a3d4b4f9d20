// Package schedseed fills an intake database with many idle integration objects, for
// the scheduler scale benchmarks (engine/store, engine/daemon; docs/scheduler-scale.md).
// It writes rows directly, in one transaction of multi-row INSERTs, so that 100,000
// objects take seconds on SQLite and PostgreSQL alike.
package schedseed

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Types are the interaction types of a seeded integration, in order (Shape.Types of
// them).
var Types = []string{"accounts", "contacts", "deals", "tickets"}

// Shape is how many integrations, each with how many objects.
type Shape struct {
	Integrations, Types int
}

func (s Shape) String() string { return fmt.Sprintf("%dx%d", s.Integrations, s.Types) }

// Objects is the number of integration objects.
func (s Shape) Objects() int { return s.Integrations * s.Types }

// Shapes are the two the benchmarks measure, 100,000 objects each: a CRM-like
// connector (25,000 integrations × accounts, contacts, deals, tickets), and one type
// per integration (the most integrations, and so leases, to choose between).
var Shapes = []Shape{{25000, 4}, {100000, 1}}

// Options say what to seed.
type Options struct {
	Shape
	// Providers is the number of providers the integrations are spread over
	// (provider-0, provider-1, ...); 8 when zero.
	Providers int
	// Synced is when each object last synced successfully: its share (uniform in
	// [0, 1), fixed by a seeded generator) of Window, before Base.
	Base   time.Time
	Window time.Duration
	// Due is when an object that synced at synced is due; synced + Window when nil
	// (so that at Base + p × Window a share p of the objects is due).
	Due func(integrationID, typ string, synced time.Time) time.Time
	// Analyze runs ANALYZE afterwards (PostgreSQL: what autovacuum soon does after a
	// bulk load; the SQLite store never runs it).
	Analyze bool
}

const tsLayout = "2006-01-02T15:04:05.000Z" // the store's timestamps (engine/store)

// IntegrationID is the id of the i-th seeded integration.
func IntegrationID(i int) string { return fmt.Sprintf("int-%06d", i) }

// Seed writes o's customers (25 integrations each), enabled integrations and
// objects into db, a migrated intake database (a store's DB(): ? placeholders).
func Seed(ctx context.Context, db *sql.DB, o Options) error {
	if o.Providers == 0 {
		o.Providers = 8
	}
	if o.Due == nil {
		o.Due = func(_, _ string, synced time.Time) time.Time { return synced.Add(o.Window) }
	}
	ts := func(t time.Time) string { return t.UTC().Format(tsLayout) }
	created := ts(o.Base.Add(-48 * time.Hour))
	rng := rand.New(rand.NewPCG(1, 2))
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insert := func(head string, cols int, rows [][]any) error {
		const perStmt = 500 // 500 × 8 parameters stays under both databases' limits
		one := "(?" + strings.Repeat(", ?", cols-1) + ")"
		for len(rows) > 0 {
			n := min(perStmt, len(rows))
			var q strings.Builder
			q.WriteString(head)
			args := make([]any, 0, n*cols)
			for i, r := range rows[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(one)
				args = append(args, r...)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			rows = rows[n:]
		}
		return nil
	}
	customers := max(o.Integrations/25, 1)
	var rows [][]any
	for c := range customers {
		rows = append(rows, []any{fmt.Sprintf("cust-%06d", c), "Customer", created})
	}
	if err := insert(`INSERT INTO customers (id, name, created_at) VALUES `, 3, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for i := range o.Integrations {
		rows = append(rows, []any{IntegrationID(i), fmt.Sprintf("cust-%06d", i%customers),
			fmt.Sprintf("provider-%d", i%o.Providers), "enabled", "{}", 1, created, created})
	}
	if err := insert(`INSERT INTO integrations (id, customer_id, provider, status, config, has_objects, created_at, updated_at) VALUES `, 8, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for i := range o.Integrations {
		id := IntegrationID(i)
		for _, typ := range Types[:o.Types] {
			synced := o.Base.Add(time.Duration(rng.Int64N(int64(o.Window))) - o.Window).Truncate(time.Millisecond)
			rows = append(rows, []any{id, typ, "2026-01-01T00:00:00Z", ts(synced), ts(synced), ts(o.Due(id, typ, synced))})
		}
	}
	if err := insert(`INSERT INTO integration_objects (integration_id, interaction_type, cursor, last_synced_at, last_attempt_at, next_due_at) VALUES `, 6, rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if o.Analyze {
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			return err
		}
	}
	return nil
}
