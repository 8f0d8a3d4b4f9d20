package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// PostgreSQL support. The store's SQL is written for SQLite with ? placeholders; on
// PostgreSQL a thin database/sql connector rewrites each query with Postgres.Rebind
// (cached per query text) before pgx sees it, and migrations go through Postgres.DDL.
// The rest of the package is the same code on both databases.

// Advisory lock keys (pg_advisory_xact_lock). They are database-wide, so they are
// taken only for short transactions.
const (
	// lockMigrations serialises migrations: daemons starting together on an empty
	// database apply each one once.
	lockKeyMigrations = 7253620001
	// lockChanges serialises the transactions that append to the change feed, from
	// their first insert into changes to their commit (see postgresSetup).
	lockKeyChanges = 7253620002
)

// DefaultMaxConns is the PostgreSQL pool size unless WithMaxConns says otherwise.
const DefaultMaxConns = 10

// NotifyChannel is the PostgreSQL channel on which writes that make work due (a new
// integration, an enabled one, a sync requested) wake the daemons (Store.Listen).
const NotifyChannel = "intake_schedule"

func openPG(ctx context.Context, dsn string, opts []Option) (*Store, error) {
	shown := RedactDSN(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN in some parse errors; say what is wrong without it.
		return nil, fmt.Errorf("open store %s: not a valid PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=...)", shown)
	}
	s := &Store{dialect: Postgres, now: time.Now, pg: cfg, maxConns: DefaultMaxConns, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.db = sql.OpenDB(&rebindConnector{inner: stdlib.GetConnector(*cfg)})
	s.db.SetMaxOpenConns(max(s.maxConns, 2))
	s.db.SetMaxIdleConns(max(s.maxConns, 2))
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store %s: %w", shown, err)
	}
	return s, nil
}

// lockMigrations takes the migration lock for the rest of tx (PostgreSQL; on SQLite
// the transaction's write lock already serialises them).
func (s *Store) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(lockKeyMigrations))
	return err
}

// postgresSetup installs what PostgreSQL needs beyond the shared schema; it is
// idempotent and runs after the migrations on every open.
//
// The change feed promises that a consumer who has read up to seq N never later
// sees a change with a seq <= N appear. On SQLite that holds because there is one
// writer at a time. On PostgreSQL an identity value is taken at insert time but
// becomes visible at commit: a transaction could take seq 7, another take 8 and
// commit first, and a reader would see 8, move past it, and miss 7 for ever. A
// statement trigger on changes takes a transaction-level advisory lock before each
// insert, so the transactions that append to the feed do so one after the other,
// each from its first change to its commit: seqs become visible in order. Readers
// take no lock.
func postgresSetup(ctx context.Context, tx *sql.Tx) error {
	stmts := []string{
		fmt.Sprintf(`CREATE OR REPLACE FUNCTION intake_changes_serialize() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(%d);
  RETURN NULL;
END
$fn$`, lockKeyChanges),
		`DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'intake_changes_serialize' AND tgrelid = 'changes'::regclass) THEN
    CREATE TRIGGER intake_changes_serialize BEFORE INSERT ON changes FOR EACH STATEMENT EXECUTE FUNCTION intake_changes_serialize();
  END IF;
END $do$`,
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("postgres setup: %w", err)
		}
	}
	return nil
}

// rebindConnector opens pgx connections whose queries are rewritten from SQLite
// placeholders (?) to PostgreSQL's ($1).
type rebindConnector struct {
	inner driver.Connector
	cache sync.Map // query -> rebound query
}

func (c *rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("pgx connector returned %T", conn)
	}
	return &rebindConn{Conn: pc, c: c}, nil
}

func (c *rebindConnector) Driver() driver.Driver { return c.inner.Driver() }

func (c *rebindConnector) rebind(q string) string {
	if v, ok := c.cache.Load(q); ok {
		return v.(string)
	}
	r := Postgres.Rebind(q)
	c.cache.Store(q, r)
	return r
}

// rebindConn is a pgx connection that rebinds every query; the other methods (begin,
// ping, reset, value checking) are pgx's own.
type rebindConn struct {
	*stdlib.Conn
	c *rebindConnector
}

func (r *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return r.Conn.Prepare(r.c.rebind(query))
}

func (r *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return r.Conn.PrepareContext(ctx, r.c.rebind(query))
}

func (r *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return r.Conn.ExecContext(ctx, r.c.rebind(query), args)
}

func (r *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return r.Conn.QueryContext(ctx, r.c.rebind(query), args)
}

// txRetry is tx, run again (up to five times in all) when the transaction failed
// only because a concurrent one got there first, on PostgreSQL: a unique key it was
// about to insert was inserted and committed meanwhile, a deadlock, a serialization
// failure. Run again, it sees the other transaction's rows. fn must be safe to run
// again (it starts from nothing but tx). On SQLite, with one writer at a time, none of
// this can happen, and tx is run once.
func (s *Store) txRetry(ctx context.Context, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, fn)
		if err == nil || s.dialect != Postgres || attempt == 5 || !raceLost(err) || ctx.Err() != nil {
			return err
		}
	}
}

// raceLost reports a PostgreSQL error that a retry resolves.
func raceLost(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "40P01", "40001": // unique_violation, deadlock_detected, serialization_failure
		return true
	}
	return false
}

// isUniqueViolation reports whether err is a unique or primary key constraint
// violation, on either database.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// RedactDSN hides the password of a PostgreSQL URL, for logs and errors. A SQLite
// path is returned as it is.
func RedactDSN(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// notify wakes the daemons listening on PostgreSQL (see Listen); a no-op on SQLite,
// where one daemon owns the file. Errors are not worth failing the write that made
// the work due: the daemons' timers catch up.
func (s *Store) notify(ctx context.Context) {
	if s.dialect != Postgres {
		return
	}
	_, _ = s.db.ExecContext(ctx, `SELECT pg_notify(?, '')`, NotifyChannel)
}

// Notify wakes every daemon listening on the database (PostgreSQL); on SQLite it does
// nothing.
func (s *Store) Notify(ctx context.Context) { s.notify(ctx) }

// Listen calls wake each time another process says work became due (Notify), until
// ctx ends. On SQLite it returns at once: there is no channel between processes, and
// a daemon relies on its timers. A lost connection is re-established after a pause.
func (s *Store) Listen(ctx context.Context, wake func()) error {
	if s.dialect != Postgres {
		return nil
	}
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		_ = err // reconnect; the daemon logs nothing here, its timers cover the gap
		t := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pg.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	wake() // whatever was notified while not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
