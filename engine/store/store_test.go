package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/secret"
)

func testBox(t *testing.T, b byte) *secret.Box {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{b}, 32))
	require.NoError(t, err)
	return box
}

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := Open(context.Background(), path, WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	require.NoError(t, s.Close())
	s2, err := Open(ctx, path)
	require.NoError(t, err)
	defer s2.Close()
	var n int
	require.NoError(t, s2.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	require.NoError(t, err)
	assert.Equal(t, len(files), n, "each migration is applied once")
	var mode string
	require.NoError(t, s2.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestCredentialsAreSealedAtRest(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	box := testBox(t, 7)
	const token = "sk_live_SuperSecretValue123"
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "acme-x", CustomerID: "acme", Provider: "x", Config: map[string]any{"region": "eu"}},
		map[string]any{"api_key": token}, box))

	creds, err := s.Credentials(ctx, "acme-x", box)
	require.NoError(t, err)
	assert.Equal(t, token, creds["api_key"])

	in, err := s.Integration(ctx, "acme-x")
	require.NoError(t, err)
	assert.True(t, in.HasSecrets)
	assert.Equal(t, box.KeyID(), in.KeyID)
	assert.Equal(t, "eu", in.Config["region"])

	require.NoError(t, s.Close())
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte(token)), "%s holds the token in clear text", f)
		assert.False(t, bytes.Contains(data, []byte("SuperSecret")), "%s holds part of the token in clear text", f)
	}
}

func TestCredentialsWithWrongOrMissingKey(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "acme-x", CustomerID: "acme", Provider: "x"}, map[string]any{"token": "abcdefgh"}, testBox(t, 1)))

	_, err := s.Credentials(ctx, "acme-x", testBox(t, 2))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sealed with key "+testBox(t, 1).KeyID())
	assert.Contains(t, err.Error(), "configured key is "+testBox(t, 2).KeyID())
	assert.NotContains(t, err.Error(), "abcdefgh")

	_, err = s.Credentials(ctx, "acme-x", nil)
	assert.ErrorIs(t, err, secret.ErrNoKey)

	err = s.CreateIntegration(ctx, Integration{ID: "acme-y", CustomerID: "acme", Provider: "y"}, map[string]any{"token": "abcdefgh"}, nil)
	assert.ErrorIs(t, err, secret.ErrNoKey, "credentials are never stored unsealed")

	err = s.CreateIntegration(ctx, Integration{ID: "acme-x", CustomerID: "acme", Provider: "x"}, nil, nil)
	assert.ErrorIs(t, err, ErrExists)

	_, err = s.Integration(ctx, "nope")
	assert.ErrorIs(t, err, ErrNotFound)
}

// A sealed value copied onto another integration's row must not open: the integration
// id is bound into the ciphertext.
func TestSealedCredentialsAreBoundToTheirRow(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	box := testBox(t, 3)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "a", CustomerID: "c", Provider: "p"}, map[string]any{"k": "value-a"}, box))
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "b", CustomerID: "c", Provider: "p"}, map[string]any{"k": "value-b"}, box))
	_, err := s.DB().ExecContext(ctx, `UPDATE integrations SET credentials = (SELECT credentials FROM integrations WHERE id = 'a') WHERE id = 'b'`)
	require.NoError(t, err)
	_, err = s.Credentials(ctx, "b", box)
	require.Error(t, err)
}

func rec(id, data string) Record {
	return Record{ExternalID: id, Kind: "contact", Data: []byte(data), Raw: []byte(data), Hash: "h-" + data}
}

func TestCommitPageCountsAndCursor(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "i", CustomerID: "c", Provider: "p"}, nil, nil))
	obj, err := s.EnsureObject(ctx, "i", "contacts")
	require.NoError(t, err)
	run, err := s.StartRun(ctx, obj)
	require.NoError(t, err)

	res, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":2}`)}, Cursor: "2026-01-01T00:00:00Z"})
	require.NoError(t, err)
	assert.Equal(t, PageResult{New: 2}, res)
	assert.Equal(t, "2026-01-01T00:00:00Z", obj.Cursor)

	res, err = s.CommitPage(ctx, run, obj, Page{
		Records:     []Record{rec("1", `{"a":1}`), rec("2", `{"a":3}`), rec("3", `{"a":4}`)},
		Quarantined: []Quarantined{{ExternalID: "4", Reason: "id: null", Raw: []byte(`{}`)}},
	})
	require.NoError(t, err)
	assert.Equal(t, PageResult{New: 1, Updated: 1, Unchanged: 1, Quarantined: 1}, res)

	r, err := s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
	require.NoError(t, err)
	assert.Equal(t, 2, r.Pages)
	assert.Equal(t, [4]int{3, 1, 1, 1}, [4]int{r.RecordsNew, r.RecordsUpdated, r.RecordsUnchanged, r.RecordsQuarantined})
	assert.Equal(t, "2026-01-01T00:00:00Z", r.CursorAfter)

	n, err := s.CountInteractions(ctx, "i", "")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	rows, err := s.ListInteractions(ctx, InteractionFilter{IntegrationID: "i", Type: "contacts"})
	require.NoError(t, err)
	require.Len(t, rows, 3)
}

func TestPendingCursorOnlyPromotedOnSuccess(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "i", CustomerID: "c", Provider: "p"}, nil, nil))
	obj, err := s.EnsureObject(ctx, "i", "tickets")
	require.NoError(t, err)

	run, err := s.StartRun(ctx, obj)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `1`)}, PendingCursor: "2026-02-01T00:00:00Z"})
	require.NoError(t, err)
	r, err := s.FinishRun(ctx, run, obj, RunFailed, "transient", "boom")
	require.NoError(t, err)
	assert.Equal(t, "", r.CursorAfter, "a failed run never advances the cursor")
	obj, err = s.EnsureObject(ctx, "i", "tickets")
	require.NoError(t, err)
	assert.Equal(t, 1, obj.ConsecutiveFailures)
	assert.Equal(t, "", obj.Cursor)

	run, err = s.StartRun(ctx, obj)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `1`)}, PendingCursor: "2026-02-01T00:00:00Z"})
	require.NoError(t, err)
	r, err = s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
	require.NoError(t, err)
	assert.Equal(t, "2026-02-01T00:00:00Z", r.CursorAfter)
	obj, err = s.EnsureObject(ctx, "i", "tickets")
	require.NoError(t, err)
	assert.Equal(t, 0, obj.ConsecutiveFailures)
	assert.False(t, obj.LastSyncedAt.IsZero())
}

func TestStartRunMarksCrashedRunsInterrupted(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "i", CustomerID: "c", Provider: "p"}, nil, nil))
	obj, err := s.EnsureObject(ctx, "i", "tickets")
	require.NoError(t, err)
	first, err := s.StartRun(ctx, obj)
	require.NoError(t, err)
	// The process dies here; the next run starts.
	_, err = s.StartRun(ctx, obj)
	require.NoError(t, err)
	r, err := s.Run(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, RunInterrupted, r.Status)
	assert.True(t, strings.Contains(r.Error, "stopped"))
}

// Stored timestamps compare as text in SQL (leases, due times, ORDER BY), so their
// text order must be their time order, fractions included.
func TestTimestampsSortAsText(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	times := []time.Time{base, base.Add(100 * time.Millisecond), base.Add(450 * time.Millisecond), base.Add(time.Second), base.Add(10 * time.Second)}
	for i := 1; i < len(times); i++ {
		a, b := formatTS(times[i-1]), formatTS(times[i])
		assert.Less(t, a, b, "%s must sort before %s", a, b)
		assert.Len(t, b, len(a))
	}
	back := parseTS(sql.NullString{String: formatTS(times[2]), Valid: true})
	assert.True(t, back.Equal(times[2]))
}
