package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/internal/pgtest"
)

// Daemons that start together on an empty database migrate it once.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn) })
	}
	wg.Wait()
	for i, s := range stores {
		require.NoError(t, errs[i])
		t.Cleanup(func() { s.Close() })
	}
	var n, versions int
	require.NoError(t, stores[0].DB().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&n, &versions))
	assert.Equal(t, versions, n, "each migration recorded once")

	// Every text column sorts byte for byte whatever the database's locale.
	rows, err := stores[0].DB().QueryContext(ctx, `SELECT table_name || '.' || column_name, COALESCE(collation_name, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND data_type = 'text'`)
	require.NoError(t, err)
	defer rows.Close()
	cols := 0
	for rows.Next() {
		var col, coll string
		require.NoError(t, rows.Scan(&col, &coll))
		assert.Equal(t, "C", coll, col)
		cols++
	}
	require.NoError(t, rows.Err())
	assert.Greater(t, cols, 50)
}

// On PostgreSQL a change-feed seq is taken at insert and seen at commit; the feed is
// only safe to read by position if transactions that append to it commit in seq
// order. The trigger makes a second writer wait for the first one's commit.
func TestPostgresChangeFeedWritersCommitInOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	insert := func(tx *sql.Tx, id int64) int64 {
		var seq int64
		require.NoError(t, tx.QueryRowContext(ctx, insertChangeSQL+` RETURNING seq`, "2026-03-01T10:00:00.000Z", EntityInteraction, id, OpInsert, "acme", "acme-crm", "contacts", "x").Scan(&seq))
		return seq
	}
	t1, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	first := insert(t1, 1)

	second := make(chan int64, 1)
	go func() {
		t2, err := s.DB().BeginTx(ctx, nil)
		if !assert.NoError(t, err) {
			second <- 0
			return
		}
		seq := insert(t2, 2)
		assert.NoError(t, t2.Commit())
		second <- seq
	}()
	select {
	case seq := <-second:
		t.Fatalf("a second writer appended seq %d while the first (seq %d) had not committed", seq, first)
	case <-time.After(300 * time.Millisecond):
	}
	// Meanwhile a reader sees neither, and is not blocked.
	changes, err := s.Changes(ctx, ChangeFilter{})
	require.NoError(t, err)
	assert.Empty(t, changes)
	require.NoError(t, t1.Commit())
	got := <-second
	assert.Greater(t, got, first)
	changes, err = s.Changes(ctx, ChangeFilter{})
	require.NoError(t, err)
	require.Len(t, changes, 2)
	assert.Equal(t, []int64{first, got}, []int64{changes[0].Seq, changes[1].Seq})
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://intake:s3cret@db:5432/intake?sslmode=require":    "postgres://intake:xxxxx@db:5432/intake?sslmode=require",
		"postgresql://db/intake?password=s3cret&sslmode=disable":     "postgresql://db/intake?password=xxxxx&sslmode=disable",
		"postgres://intake@db/intake":                                "postgres://intake@db/intake",
		"/var/lib/intake/intake.db":                                  "/var/lib/intake/intake.db",
		"postgres://intake:s3cret@db:5432/intake?search_path=tenant": "postgres://intake:xxxxx@db:5432/intake?search_path=tenant",
	} {
		assert.Equal(t, want, RedactDSN(in), in)
	}
	_, err := Open(context.Background(), "postgres://intake:s3cret@[::1/x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

// Two integrations of one customer, synced at the same time by two daemons, resolve
// the same new accounts and contacts: each page that loses the race to create one is
// run again and links to it. One account per domain, one contact per address.
func TestPostgresConcurrentEntityResolution(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := Open(ctx, dsn) // another daemon: its own pool
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	for _, id := range []string{"acme-crm", "acme-desk"} {
		require.NoError(t, a.CreateIntegration(ctx, Integration{ID: id, CustomerID: "acme", Provider: strings.TrimPrefix(id, "acme-")}, nil, nil))
	}
	const pages, perPage = 15, 8
	syncAll := func(s *Store, integration string) error {
		obj, err := s.EnsureObject(ctx, integration, "accounts")
		if err != nil {
			return err
		}
		run, err := s.StartRun(ctx, obj)
		if err != nil {
			return err
		}
		for p := range pages {
			var page Page
			for i := range perPage {
				n := p*perPage + i
				page.Records = append(page.Records, Record{ExternalID: fmt.Sprintf("%s-%d", integration, n), Kind: "account",
					Data: []byte(`{}`), Raw: []byte(`{}`), Hash: "h", Match: &MatchKeys{Entity: EntityAccount, Domain: fmt.Sprintf("company%d.example", n), Name: fmt.Sprintf("Company %d", n)}})
			}
			if _, err := s.CommitPage(ctx, run, obj, page); err != nil {
				return err
			}
		}
		_, err = s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = syncAll(a, "acme-crm") })
	wg.Go(func() { errs[1] = syncAll(b, "acme-desk") })
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	var accounts, links int
	require.NoError(t, a.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE customer_id = 'acme'`).Scan(&accounts))
	require.NoError(t, a.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM entity_links WHERE customer_id = 'acme' AND entity = 'account'`).Scan(&links))
	assert.Equal(t, pages*perPage, accounts, "one account per domain")
	assert.Equal(t, 2*pages*perPage, links, "each record linked to it")
}
