package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
)

// The SQLite driver parses every statement each time it runs: a query or exec
// without a prepared statement is prepared, run and finalized. A page commit runs
// the same few dozen statements over and over, and parsing them was a tenth of its
// time. stmtCacheConnector gives each connection a cache of prepared statements, by
// SQL text, so a statement is parsed once per connection. SQLite re-prepares a
// cached statement by itself when the schema changes (sqlite3_prepare_v2).

// stmtCacheSize is how many statements a connection keeps, the least recently
// used going first. A page's statements are far fewer; the IN lists of different
// lengths are the most numerous.
const stmtCacheSize = 256

// stmtCacheConnector opens connections of a driver with a statement cache each.
type stmtCacheConnector struct {
	dsn string
	drv driver.Driver
}

// newStmtCacheConnector connects to dsn through the driver registered as "sqlite"
// (with the functions and hooks registered with it), a statement cache on each
// connection.
func newStmtCacheConnector(dsn string) (stmtCacheConnector, error) {
	reg, err := sql.Open("sqlite", "") // connects to nothing: it only names the driver
	if err != nil {
		return stmtCacheConnector{}, err
	}
	defer reg.Close()
	return stmtCacheConnector{dsn: dsn, drv: reg.Driver()}, nil
}

func (c stmtCacheConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c stmtCacheConnector) Driver() driver.Driver { return c.drv }

// innerConn is what the cache needs of the driver's connection.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachedStmt is a prepared statement of the cache. busy: a caller has it (a query
// whose rows are open, a prepared statement not yet closed); another caller of the
// same SQL meanwhile gets a statement of its own.
type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool
	elem  *list.Element
}

// cachingConn is a driver connection with a statement cache. database/sql uses a
// connection from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	innerConn
	stmts map[string]*cachedStmt
	lru   *list.List // front: most recently used
}

func newCachingConn(conn driver.Conn) (*cachingConn, error) {
	inner, ok := conn.(innerConn)
	if !ok {
		conn.Close()
		return nil, errors.New("statement cache: the driver's connection lacks context methods")
	}
	return &cachingConn{innerConn: inner, stmts: map[string]*cachedStmt{}, lru: list.New()}, nil
}

// take returns the cached statement of query, prepared if it is not cached, marked
// busy; nil, and no error, when the cached one is busy.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if s := c.stmts[query]; s != nil {
		if s.busy {
			return nil, nil
		}
		c.lru.MoveToFront(s.elem)
		s.busy = true
		return s, nil
	}
	st, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{query: query, stmt: st, busy: true}
	s.elem = c.lru.PushFront(s)
	c.stmts[query] = s
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back().Value.(*cachedStmt)
		if old.busy {
			break // the rest are older still; they go when it is free
		}
		c.lru.Remove(old.elem)
		delete(c.stmts, old.query)
		old.stmt.Close()
	}
	return s, nil
}

// stmtFor is a statement to run query with, and the function to call when done
// with it: the cached statement, or one of its own when that is busy.
func (c *cachingConn) stmtFor(ctx context.Context, query string) (driver.Stmt, func() error, error) {
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		st, err := c.innerConn.PrepareContext(ctx, query)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	return s.stmt, func() error { s.busy = false; return nil }, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, done, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	defer done()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, done, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		done()
		return nil, err
	}
	return &cachedRows{Rows: rows, done: done}, nil
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, done, err := c.stmtFor(ctx, query)
	if err != nil {
		return nil, err
	}
	return &cachedStmtHandle{Stmt: st, done: done}, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) Close() error {
	for _, s := range c.stmts {
		s.stmt.Close()
	}
	clear(c.stmts)
	return c.innerConn.Close()
}

// cachedStmtHandle is a cached statement handed out by Prepare: closing it gives it
// back to the cache.
type cachedStmtHandle struct {
	driver.Stmt
	done func() error
}

func (h *cachedStmtHandle) Close() error {
	if h.done == nil {
		return nil
	}
	done := h.done
	h.done = nil
	return done()
}

func (h *cachedStmtHandle) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return h.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (h *cachedStmtHandle) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return h.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// cachedRows are the rows of a cached statement: closing them (which resets the
// statement) gives it back to the cache.
type cachedRows struct {
	driver.Rows
	done func() error
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return err
}

// The column types the driver reports, passed on.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
