package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/syncbuf"
)

// A heartbeat waits for the page commit in progress (SQLite's one connection; on
// PostgreSQL the commit's FOR SHARE lock on the integration's row) instead of giving up
// after one heartbeat interval: a sync whose pages take longer than a beat to commit
// must not lose its lease to its own commits. Found by `make chaos` (docs/chaos.md):
// with 500ms beats and 2s leases on a busy machine, beat after beat timed out behind
// page commits, and live syncs lost their leases.
func TestHeartbeatWaitsForTheCommitInProgress(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "a", CustomerID: "acme", Provider: "crm"}, nil, nil))
	const every, ttl = 200 * time.Millisecond, 2 * time.Second
	c, err := db.Claim(ctx, store.ClaimRequest{Owner: "d1", TTL: ttl})
	require.NoError(t, err)
	require.NotNil(t, c)
	var claimedAt string
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT lease_heartbeat_at FROM integrations WHERE id = 'a'`).Scan(&claimedAt))
	time.Sleep(2 * time.Millisecond) // timestamps have milliseconds: a renewal is later
	var logs syncbuf.Buffer
	d := &Daemon{db: db, owner: "d1", log: slog.New(slog.NewTextHandler(&logs, nil))}

	// A page commit: it holds the store's one connection for 2.5 beats.
	conn, err := db.DB().Conn(ctx)
	require.NoError(t, err)
	beats := make(chan struct{})
	done := make(chan struct{})
	lost := make(chan error, 1)
	go func() {
		defer close(done)
		d.heartbeat(ctx, c, every, ttl, func(err error) { lost <- err }, beats)
	}()
	time.Sleep(every/2 + 5*every/2) // the first beat starts at 1 beat, waits 1.5 beats
	require.NoError(t, conn.Close())
	// The beat that waited lands as soon as the commit is done.
	renewed := func() bool {
		var at string
		require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT lease_heartbeat_at FROM integrations WHERE id = 'a'`).Scan(&at))
		return at > claimedAt
	}
	deadline := time.Now().Add(10 * time.Second)
	for !renewed() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(beats)
	<-done
	assert.NotContains(t, logs.String(), "lease heartbeat failed")
	assert.True(t, renewed(), "a heartbeat renewed the lease")
	select {
	case err := <-lost:
		t.Fatalf("lease lost: %v", err)
	default:
	}
}
