package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openCached opens a SQLite database through the statement cache, on one
// connection as the store does, and returns the connection's cache too.
func openCached(t *testing.T) (*sql.DB, func() *cachingConn) {
	t.Helper()
	connector, err := newStmtCacheConnector(SQLiteDSN(filepath.Join(t.TempDir(), "c.db")))
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	conn := func() *cachingConn {
		c, err := db.Conn(context.Background())
		require.NoError(t, err)
		defer c.Close()
		var cc *cachingConn
		require.NoError(t, c.Raw(func(dc any) error { cc = dc.(*cachingConn); return nil }))
		return cc
	}
	return db, conn
}

func TestStmtCacheReusesStatements(t *testing.T) {
	db, conn := openCached(t)
	for i := range 5 {
		_, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, i)
		require.NoError(t, err)
	}
	first := conn().stmts[`INSERT INTO t (v) VALUES (?)`]
	require.NotNil(t, first, "the insert is cached")
	_, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, 5)
	require.NoError(t, err)
	assert.Same(t, first, conn().stmts[`INSERT INTO t (v) VALUES (?)`], "the same statement runs again")
	assert.False(t, first.busy)

	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM t`).Scan(&n))
	assert.Equal(t, 6, n)
}

// A query whose rows are open holds its statement: the same SQL run meanwhile (a
// nested lookup) gets a statement of its own, and neither disturbs the other.
func TestStmtCacheNestedSameQuery(t *testing.T) {
	db, conn := openCached(t)
	for i := range 3 {
		_, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, i)
		require.NoError(t, err)
	}
	tx, err := db.Begin()
	require.NoError(t, err)
	defer tx.Rollback()
	const q = `SELECT id FROM t WHERE id >= ? ORDER BY id`
	outer, err := tx.Query(q, 1)
	require.NoError(t, err)
	var got [][]int64
	for outer.Next() {
		var id int64
		require.NoError(t, outer.Scan(&id))
		inner, err := tx.Query(q, id)
		require.NoError(t, err)
		var ids []int64
		for inner.Next() {
			var x int64
			require.NoError(t, inner.Scan(&x))
			ids = append(ids, x)
		}
		require.NoError(t, inner.Close())
		got = append(got, ids)
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.NoError(t, tx.Commit())
	assert.Equal(t, [][]int64{{1, 2, 3}, {2, 3}, {3}}, got)
	assert.False(t, conn().stmts[q].busy, "closing the rows gives the statement back")
}

// A statement prepared by the caller is the cached one until the caller closes it;
// a failed statement is reset and runs again.
func TestStmtCachePreparedAndFailed(t *testing.T) {
	db, conn := openCached(t)
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	st, err := db.Prepare(ins)
	require.NoError(t, err)
	_, err = st.Exec(1, "a")
	require.NoError(t, err)
	assert.True(t, conn().stmts[ins].busy, "held while the caller has it")
	_, err = db.Exec(ins, 2, "b") // the same SQL meanwhile: a statement of its own
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.False(t, conn().stmts[ins].busy)

	_, err = db.Exec(ins, 1, "dup")
	require.Error(t, err, "primary key violation")
	_, err = db.Exec(ins, 3, "c")
	require.NoError(t, err, "the statement that failed runs again")
	var v string
	require.NoError(t, db.QueryRow(`SELECT group_concat(v, '') FROM t`).Scan(&v))
	assert.Equal(t, "abc", v)
}

// A cached statement still runs after the schema changed under it.
func TestStmtCacheSchemaChange(t *testing.T) {
	db, _ := openCached(t)
	const q = `SELECT * FROM t`
	rows, err := db.Query(q)
	require.NoError(t, err)
	cols, _ := rows.Columns()
	rows.Close()
	assert.Equal(t, []string{"id", "v"}, cols)
	_, err = db.Exec(`ALTER TABLE t ADD COLUMN w TEXT`)
	require.NoError(t, err)
	rows, err = db.Query(q)
	require.NoError(t, err)
	cols, _ = rows.Columns()
	rows.Close()
	assert.Equal(t, []string{"id", "v", "w"}, cols)
}

// The cache keeps at most stmtCacheSize statements, dropping the least recently used.
func TestStmtCacheEvicts(t *testing.T) {
	db, conn := openCached(t)
	for i := range stmtCacheSize + 10 {
		var n int
		require.NoError(t, db.QueryRow(`SELECT ? + `+strconv.Itoa(i), 1).Scan(&n))
		require.Equal(t, i+1, n)
	}
	c := conn()
	assert.Equal(t, stmtCacheSize, len(c.stmts))
	assert.Equal(t, stmtCacheSize, c.lru.Len())
	assert.Nil(t, c.stmts[`SELECT ? + 0`], "the oldest went")
	assert.NotNil(t, c.stmts[`SELECT ? + `+strconv.Itoa(stmtCacheSize+9)])
}
