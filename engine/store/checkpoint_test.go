package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Committed pages reach the database file while the store is open, though the WAL is
// far below the writer's own checkpoint threshold: the checkpointer copied them.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	before := fileSize(t, path)
	blob := strings.Repeat("x", 3000)
	for i := range 40 { // about 2.5 MB of WAL: 600 pages, walLimitPages is 16384
		require.NoError(t, s.tx(ctx, func(tx *sql.Tx) error {
			for j := range 20 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)`, i*100+j, blob, "2026-01-01T00:00:00.000Z"); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.Eventually(t, func() bool { return fileSize(t, path) > before+2<<20 }, 10*time.Second, 10*time.Millisecond,
		"the database file grows by what was committed (it is %d bytes, %d before)", fileSize(t, path), before)
	var n int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM customers`).Scan(&n))
	assert.Equal(t, 800, n)
}

// Close stops the checkpointer; the database reopens with everything committed.
func TestCheckpointerStopsOnClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "intake.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, name, created_at) VALUES ('a', 'A', '2026-01-01T00:00:00.000Z')`)
		return err
	}))
	require.NoError(t, s.Close())
	s.ckpt.wrote() // after close: nothing listens, and it does not block
	s2, err := Open(ctx, path)
	require.NoError(t, err)
	defer s2.Close()
	var name string
	require.NoError(t, s2.DB().QueryRowContext(ctx, `SELECT name FROM customers WHERE id = 'a'`).Scan(&name))
	assert.Equal(t, "A", name)
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}
