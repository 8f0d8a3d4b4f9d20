package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInsertStatement(t *testing.T) {
	const head = "INSERT INTO t (a, b, c) VALUES "
	tests := []struct {
		name string
		d    Dialect
		tail string
		rows [][]any
		sql  string
		args []any
	}{
		{
			name: "shared columns bound once",
			d:    SQLite,
			rows: [][]any{{"x", int64(1), nil}, {"x", int64(2), nil}},
			sql:  "INSERT INTO t (a, b, c) SELECT ?, column1, ? FROM (VALUES (?), (?))",
			args: []any{"x", nil, int64(1), int64(2)},
		},
		{
			name: "an upsert's ON follows a WHERE",
			d:    SQLite,
			tail: " ON CONFLICT (a) DO NOTHING",
			rows: [][]any{{"x", int64(1), "p"}, {"y", int64(1), "q"}},
			sql:  "INSERT INTO t (a, b, c) SELECT column1, ?, column2 FROM (VALUES (?, ?), (?, ?)) WHERE true ON CONFLICT (a) DO NOTHING",
			args: []any{int64(1), "x", "p", "y", "q"},
		},
		{
			name: "every column shared keeps the last in VALUES",
			d:    SQLite,
			rows: [][]any{{"x", int64(1), nil}, {"x", int64(1), nil}},
			sql:  "INSERT INTO t (a, b, c) SELECT ?, ?, column1 FROM (VALUES (?), (?))",
			args: []any{"x", int64(1), nil, nil},
		},
		{
			name: "a value and NULL differ, as do text and a number",
			d:    SQLite,
			rows: [][]any{{"1", int64(1), nil}, {int64(1), "1", ""}},
			sql:  "INSERT INTO t (a, b, c) VALUES (?, ?, ?), (?, ?, ?)",
			args: []any{"1", int64(1), nil, int64(1), "1", ""},
		},
		{
			name: "one row stays plain",
			d:    SQLite,
			rows: [][]any{{"x", int64(1), nil}},
			sql:  "INSERT INTO t (a, b, c) VALUES (?, ?, ?)",
			args: []any{"x", int64(1), nil},
		},
		{
			name: "PostgreSQL stays plain",
			d:    Postgres,
			rows: [][]any{{"x", int64(1), nil}, {"x", int64(2), nil}},
			sql:  "INSERT INTO t (a, b, c) VALUES (?, ?, ?), (?, ?, ?)",
			args: []any{"x", int64(1), nil, "x", int64(2), nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, args := insertStatement(tt.d, head, tt.tail, tt.rows)
			assert.Equal(t, tt.sql, q)
			assert.Equal(t, tt.args, args)
		})
	}
}

// TestInsertRowsSQLite runs the hoisted statements: rows keep their order (and so
// their AUTOINCREMENT positions), values their types, and an upsert its conflict
// clause.
func TestInsertRowsSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "i.db")))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL UNIQUE, n INTEGER, s TEXT, z TEXT)`)
	require.NoError(t, err)
	const head, tail = "INSERT INTO t (k, n, s, z) VALUES ", " ON CONFLICT (k) DO UPDATE SET s = excluded.s"
	var rows [][]any
	for i := range 250 {
		rows = append(rows, []any{string(rune('a'+i%26)) + string(rune('a'+i/26)), int64(7), "same", nil})
	}
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, insertRows(ctx, tx, SQLite, head, tail, rows, 100))
	// Again, changed: every row conflicts and takes the new s.
	for _, r := range rows {
		r[2] = "changed"
	}
	require.NoError(t, insertRows(ctx, tx, SQLite, head, tail, rows, 100))
	require.NoError(t, tx.Commit())

	got, err := db.QueryContext(ctx, `SELECT seq, k, typeof(n), n, s, z IS NULL FROM t ORDER BY seq`)
	require.NoError(t, err)
	defer got.Close()
	i := 0
	for got.Next() {
		var (
			seq, n   int64
			k, ty, s string
			null     bool
		)
		require.NoError(t, got.Scan(&seq, &k, &ty, &n, &s, &null))
		assert.Equal(t, int64(i+1), seq, "row %d", i)
		assert.Equal(t, rows[i][0], k, "row %d", i)
		assert.Equal(t, "integer", ty)
		assert.Equal(t, int64(7), n)
		assert.Equal(t, "changed", s)
		assert.True(t, null)
		i++
	}
	require.NoError(t, got.Err())
	assert.Equal(t, len(rows), i)
}

func TestPageMerge(t *testing.T) {
	p := Page{Records: []Record{{ExternalID: "1"}}, Filtered: 1, Cursor: "c1", PendingCursor: "p1"}
	p.Merge(Page{Records: []Record{{ExternalID: "2"}}, Quarantined: []Quarantined{{ExternalID: "q"}}, Filtered: 2})
	p.Merge(Page{Records: []Record{{ExternalID: "3"}}, Cursor: "c3"})
	assert.Zero(t, p.Pages, "left to the caller")
	assert.Len(t, p.Records, 3)
	assert.Equal(t, "3", p.Records[2].ExternalID)
	assert.Len(t, p.Quarantined, 1)
	assert.Equal(t, 3, p.Filtered)
	assert.Equal(t, "c3", p.Cursor, "the last cursor set wins")
	assert.Equal(t, "p1", p.PendingCursor, "a page without one keeps the one before")
}
