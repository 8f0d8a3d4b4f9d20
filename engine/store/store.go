// Package store keeps customers, integrations, integration objects, sync runs and
// interactions in SQL. SQLite (embedded, WAL) is the default.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotFound is returned when a row asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	// pg is the connection config of a PostgreSQL store (Listen opens its own
	// connection with it); nil on SQLite.
	pg *pgx.ConnConfig
	// maxConns bounds the PostgreSQL pool.
	maxConns int
	// ckpt checkpoints a SQLite store's WAL in the background (checkpoint.go); nil on
	// PostgreSQL.
	ckpt *checkpointer
	log  *slog.Logger
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for timestamps (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets where the store logs what goes wrong in the background (a failed
// checkpoint); by default nowhere.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMaxConns bounds the number of PostgreSQL connections the store opens (default
// 10). SQLite always uses one: it has one writer at a time.
func WithMaxConns(n int) Option { return func(s *Store) { s.maxConns = n } }

// IsPostgres reports whether dsn names a PostgreSQL database (postgres:// or
// postgresql://) rather than a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating if needed) the database dsn names and applies pending
// migrations. dsn is a SQLite file path, optionally prefixed with "sqlite:", or a
// PostgreSQL URL (postgres://user@host:5432/db?sslmode=disable); with PostgreSQL,
// every table is created in the first schema of the connection's search_path (add
// &search_path=NAME to the URL to choose one).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if IsPostgres(dsn) {
		return openPG(ctx, dsn, opts)
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	// The writer checkpoints only past walLimitPages: the checkpointer does it before.
	writerDSN := SQLiteDSN(path) + "&_pragma=" + url.QueryEscape(fmt.Sprintf("wal_autocheckpoint(%d)", walLimitPages))
	conn, err := newStmtCacheConnector(writerDSN)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	// One writer at a time is how SQLite works; a single connection also keeps
	// BEGIN IMMEDIATE from failing with SQLITE_BUSY between our own goroutines.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, dialect: SQLite, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.ckpt, err = startCheckpointer(path, s.log); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Dialect is the SQL dialect of the database.
func (s *Store) Dialect() Dialect { return s.dialect }

// SQLiteDSN is the data source name Open gives the "sqlite" driver for the database
// file at path: WAL journal, synchronous=NORMAL, foreign keys on, BEGIN IMMEDIATE. The
// benchmark's floor (internal/bench) opens its database with the same settings.
//
// synchronous=NORMAL in WAL mode syncs the WAL at checkpoints, not at each commit: a
// committed transaction survives the process being killed (the WAL is in the OS page
// cache, and the next open replays it), and can be lost only to a power cut or an OS
// crash before the next checkpoint, which rolls the database back to an earlier
// consistent state (with its cursor), never a torn one.
func SQLiteDSN(path string) string {
	q := url.Values{}
	// temp_store=MEMORY keeps statement journals (an upsert or an UPDATE of several
	// rows inside a transaction writes one) off a temporary file: with it on disk, a
	// page commit spent a sixth of its time in pwrite. cache_size is 16 MiB a
	// connection (the default is 2 MiB), so the indexes a page probes stay cached.
	// The driver runs these sorted by name (busy_timeout first), not in this order:
	// a pragma that must precede journal_mode(WAL), such as page_size, would take no
	// effect here (docs/performance.md, "What was left").
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "synchronous(NORMAL)", "temp_store(MEMORY)", "cache_size(-16384)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	if s.ckpt != nil {
		s.ckpt.close()
	}
	return s.db.Close()
}

// DB exposes the handle for read-only inspection in tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) ts() string { return formatTS(s.now()) }

// tsLayout is RFC 3339 UTC with a fixed millisecond width, so that comparing the text
// (leases in SQL, ORDER BY) compares the times: RFC3339Nano trims trailing zeros, and
// "05Z" would sort after "05.1Z".
const tsLayout = "2006-01-02T15:04:05.000Z"

func formatTS(t time.Time) string { return t.UTC().Format(tsLayout) }

func parseTS(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

func (s *Store) migrate(ctx context.Context) error {
	// On PostgreSQL several daemons may start at once on an empty database: each step
	// takes the migration lock, so one applies it and the others find it applied.
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.dialect.DDL(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`))
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a version number", base)
		}
		if err := s.applyMigration(ctx, v, name); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	if s.dialect == Postgres {
		return s.tx(ctx, func(tx *sql.Tx) error {
			if err := s.lockMigrations(ctx, tx); err != nil {
				return err
			}
			return postgresSetup(ctx, tx)
		})
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, version int, name string) error {
	body, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockMigrations(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.dialect.DDL(string(body))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, s.ts())
		return err
	})
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.ckpt != nil {
		s.ckpt.wrote()
	}
	return nil
}
