// Package sqlsource reads interaction types out of a SQL database: PostgreSQL (and
// servers that speak its protocol, such as Redshift) through pgx, MySQL and MariaDB
// through go-sql-driver/mysql.
//
// Each page is one query in its own read-only transaction, bounded by a statement
// timeout, in keyset order: WHERE (cursor, tiebreaker) > (last row read) ORDER BY
// cursor, tiebreaker LIMIT n. The last row read is the position a sync commits with
// each page (see position), so rows that share one cursor value across a page
// boundary are neither skipped nor read twice, and an interrupted sync resumes after
// its last committed page. Rows become records (column → value, typed like decoded
// JSON) that go through the same mapping, validation and storing as API records.
package sqlsource

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
)

// Options tune a source. The zero value is production behaviour.
type Options struct {
	// Trace receives each page query (Kind "request", Method "SQL", URL the query and
	// its arguments) and each page (Kind "page").
	Trace func(retrieve.TraceEvent)
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// RetryWait is the first wait before retrying a transient failure (default 500ms);
	// it doubles with each attempt, up to 30s.
	RetryWait time.Duration
}

// Source reads one integration's database. It is safe for concurrent use; each
// Resume opens its own connection and closes it when done.
type Source struct {
	conn   *spec.Connector
	config map[string]any
	dsn    string
	redact *secret.Redactor
	opts   Options
}

// New renders the integration's DSN and checks that it parses. It does not connect.
func New(ctx context.Context, src retrieve.Source, opts Options) (*Source, error) {
	conn := src.Connector
	if conn.Source != spec.SourceSQL || conn.SQL == nil {
		return nil, fmt.Errorf("provider %s is not a sql connector", conn.Provider)
	}
	if opts.RetryWait == 0 {
		opts.RetryWait = 500 * time.Millisecond
	}
	s := &Source{conn: conn, config: orEmpty(src.Config), opts: opts, redact: secret.NewRedactor()}
	for _, v := range src.Credentials {
		s.redact.Add(expr.Text(v))
	}
	dsn, err := conn.SQL.DSN.RenderString(ctx, map[string]any{"config": s.config, "credentials": orEmpty(src.Credentials)})
	if err != nil {
		return nil, s.redact.Error(fmt.Errorf("render sql.dsn: %w", err))
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, permanent("sql.dsn is empty: supply the credential it reads (%s)", conn.SQL.DSN.Src)
	}
	s.dsn = dsn
	s.redact.Add(dsn)
	s.redact.Add(dsnSecrets(dsn)...)
	// Parse now: a malformed DSN is a setup mistake to report before any sync.
	switch conn.SQL.Driver {
	case spec.DriverPostgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, s.redact.Error(permanent("credentials.dsn is not a PostgreSQL connection string (postgres://user:password@host:5432/db?sslmode=require or host=... user=...): %w", err))
		}
		s.redact.Add(cfg.Password)
	case spec.DriverMySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, s.redact.Error(permanent("credentials.dsn is not a MySQL DSN (user:password@tcp(host:3306)/db): %w", err))
		}
		s.redact.Add(cfg.Passwd)
	}
	return s, nil
}

// Redact hides the integration's secrets (the DSN and its password) in text.
func (s *Source) Redact(text string) string { return s.redact.String(text) }

// Pages reads an interaction type from the start: preview.
func (s *Source) Pages(ctx context.Context, it *spec.InteractionType, _ retrieve.Query, fn func(retrieve.Page) error) error {
	return source.Pages(ctx, s, it, fn)
}

// Resume reads an interaction type from a stored position ("" reads everything),
// calling fn with each page and the position after it.
func (s *Source) Resume(ctx context.Context, it *spec.InteractionType, cursor string, fn func(source.Batch) error) error {
	if it.Query == nil {
		return fmt.Errorf("%s: interaction type has no query", it.Name)
	}
	pos, err := decodePosition(cursor)
	if err != nil {
		return permanent("%s: %w; `intake integrations resync` starts it over", it.Name, err)
	}
	db, d, err := s.open(ctx)
	if err != nil {
		return s.redact.Error(fmt.Errorf("%s: %w", it.Name, err))
	}
	defer db.Close()
	p, err := s.plan(ctx, it, d)
	if err != nil {
		return s.redact.Error(fmt.Errorf("%s: %w", it.Name, err))
	}
	r := &reader{s: s, db: db, p: p, it: it, fn: fn, pos: pos}
	err = r.run(ctx)
	if errors.Is(err, retrieve.ErrStopPaging) {
		return nil
	}
	if err != nil && ctx.Err() == nil {
		return s.redact.Error(err)
	}
	return err
}

// open connects and says which dialect the server speaks.
func (s *Source) open(ctx context.Context) (*sql.DB, dialect, error) {
	var db *sql.DB
	d := dialect{name: s.conn.SQL.Driver, rowValues: s.conn.SQL.RowValues()}
	switch s.conn.SQL.Driver {
	case spec.DriverPostgres:
		cfg, err := pgx.ParseConfig(s.dsn)
		if err != nil {
			return nil, d, permanent("parse credentials.dsn: %w", err)
		}
		db = stdlib.OpenDB(*cfg)
	case spec.DriverMySQL:
		cfg, err := mysql.ParseDSN(s.dsn)
		if err != nil {
			return nil, d, permanent("parse credentials.dsn: %w", err)
		}
		// Timestamps come back as time.Time, read and written in UTC, so that records
		// carry RFC 3339 times and a stored cursor binds back to the same instant.
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		if _, ok := cfg.Params["time_zone"]; !ok {
			cfg.Params["time_zone"] = "'+00:00'"
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, d, permanent("credentials.dsn: %w", err)
		}
		db = sql.OpenDB(c)
	default:
		return nil, d, permanent("unknown sql.driver %q", s.conn.SQL.Driver)
	}
	// Pages run one after another: one connection is all a sync needs.
	db.SetMaxOpenConns(1)
	err := s.retry(ctx, func() error {
		cctx, cancel := context.WithTimeout(ctx, s.conn.Timeout.D())
		defer cancel()
		if err := db.PingContext(cctx); err != nil {
			return failure("connect to "+d.name, err)
		}
		if d.name != spec.DriverMySQL {
			return nil
		}
		var version string
		if err := db.QueryRowContext(cctx, "SELECT VERSION()").Scan(&version); err != nil {
			return failure("read the server version", err)
		}
		if strings.Contains(strings.ToLower(version), "mariadb") {
			d.name = "mariadb"
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, d, err
	}
	return db, d, nil
}

// retry runs op until it succeeds, fails for good, or the connector's retries run out.
func (s *Source) retry(ctx context.Context, op func() error) error {
	wait := s.opts.RetryWait
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || ctx.Err() != nil || !retryable(err) || attempt >= *s.conn.Retries {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("retrying after a transient database error", "provider", s.conn.Provider, "attempt", attempt+1, "error", s.redact.String(err.Error()))
		}
		d := wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// reader pages through one interaction type.
type reader struct {
	s    *Source
	db   *sql.DB
	p    *plan
	it   *spec.InteractionType
	fn   func(source.Batch) error
	pos  position
	page int
}

func (r *reader) run(ctx context.Context) error {
	q := r.it.Query
	if q.Cursor == "" {
		// A full read: keyset on the tiebreaker alone, from the start every sync.
		var after *value
		for {
			rows, err := r.query(ctx, r.p.fullRead(after))
			if err != nil {
				return err
			}
			if rows.n > 0 {
				after = rows.lastTie
			}
			if err := r.emit(rows, ""); err != nil {
				return err
			}
			if rows.n < q.Limit {
				return nil
			}
		}
	}
	// Rows whose cursor is NULL first, by tiebreaker; then the rest in keyset order.
	for {
		rows, err := r.query(ctx, r.p.nulls(r.pos.NullsAfter))
		if err != nil {
			return err
		}
		if rows.n > 0 {
			r.pos.NullsAfter = rows.lastTie
			if err := r.emit(rows, r.pos.encode()); err != nil {
				return err
			}
		}
		if rows.n < q.Limit {
			break
		}
	}
	first := true
	for {
		var st stmt
		switch {
		case first && q.Lookback > 0 && r.pos.Cursor != nil:
			if r.pos.Cursor.T != "time" {
				return permanent("query.lookback needs a timestamp cursor column; %s holds %s values", q.Cursor, r.pos.Cursor.T)
			}
			t, _ := time.Parse(time.RFC3339Nano, r.pos.Cursor.V)
			st = r.p.since(t.Add(-q.Lookback.D()))
		default:
			var err error
			if st, err = r.p.after(r.pos.Cursor, r.pos.Tiebreaker); err != nil {
				return permanent("%w", err)
			}
		}
		first = false
		rows, err := r.query(ctx, st)
		if err != nil {
			return err
		}
		if rows.n > 0 {
			r.pos.Cursor, r.pos.Tiebreaker = rows.lastCursor, rows.lastTie
			if err := r.emit(rows, r.pos.encode()); err != nil {
				return err
			}
		}
		if rows.n < q.Limit {
			return nil
		}
	}
}

func (r *reader) emit(rows *pageRows, cursor string) error {
	r.page++
	if r.s.opts.Trace != nil {
		r.s.opts.Trace(retrieve.TraceEvent{Kind: "page", Type: r.it.Name, Page: r.page, Part: 1, Last: true, Records: rows.n})
	}
	return r.fn(source.Batch{Page: retrieve.Page{Number: r.page, Part: 1, Last: true, Records: rows.records}, Cursor: cursor})
}

// pageRows is one page read.
type pageRows struct {
	records    []any
	n          int
	lastCursor *value
	lastTie    *value
}

// query runs one page in its own read-only transaction, retrying transient failures.
func (r *reader) query(ctx context.Context, st stmt) (*pageRows, error) {
	var out *pageRows
	err := r.s.retry(ctx, func() error {
		var err error
		out, err = r.once(ctx, st)
		return err
	})
	return out, err
}

func (r *reader) once(ctx context.Context, st stmt) (*pageRows, error) {
	timeout := r.s.conn.SQL.StatementTimeout.D()
	// The server's timeout ends a slow query; this one ends a connection that hangs.
	qctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	start := time.Now()
	text := r.p.d.withTimeout(st.text, timeout)
	trace := func(err error) {
		if r.s.opts.Trace == nil {
			return
		}
		ev := retrieve.TraceEvent{Kind: "request", Method: "SQL", Type: r.it.Name, URL: r.s.redact.String(st.show()), Duration: time.Since(start)}
		if err != nil {
			ev.Err = r.s.redact.String(err.Error())
		}
		r.s.opts.Trace(ev)
	}
	tx, err := r.db.BeginTx(qctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		trace(err)
		return nil, failure("begin a read-only transaction", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	if r.p.d.name == spec.DriverPostgres {
		if _, err := tx.ExecContext(qctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds())); err != nil {
			trace(err)
			return nil, failure("set statement_timeout", err)
		}
	}
	rows, err := tx.QueryContext(qctx, text, st.args...)
	if err != nil {
		trace(err)
		return nil, failure("page query of "+r.it.Name, fmt.Errorf("%w; the query was: %s", err, st.show()))
	}
	defer rows.Close()
	out, err := r.read(rows)
	if err == nil {
		err = rows.Err()
		if err != nil {
			err = failure("read the rows of "+r.it.Name, err)
		}
	}
	trace(err)
	return out, err
}

// read turns the result set into records and notes the last row's position.
func (r *reader) read(rows *sql.Rows) (*pageRows, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, failure("read the columns of "+r.it.Name, err)
	}
	names := make([]string, len(types))
	cats := make([]category, len(types))
	seen := map[string]bool{}
	for i, t := range types {
		names[i], cats[i] = t.Name(), categorize(t.DatabaseTypeName())
		if seen[names[i]] {
			return nil, permanent("column %q appears twice in the result of query.from: give one of them another name (AS)", names[i])
		}
		seen[names[i]] = true
	}
	q := r.it.Query
	ci, ti := -1, columnIndex(names, q.Tiebreaker)
	if q.Cursor != "" {
		ci = columnIndex(names, q.Cursor)
		if ci < 0 {
			return nil, permanent("the result has no column %q (query.cursor); it has: %s", q.Cursor, strings.Join(names, ", "))
		}
	}
	if ti < 0 {
		return nil, permanent("the result has no column %q (query.tiebreaker, default id); it has: %s", q.Tiebreaker, strings.Join(names, ", "))
	}
	out := &pageRows{}
	raw := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var prevC, prevT *value
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, failure("read a row of "+r.it.Name, err)
		}
		rec := make(map[string]any, len(names))
		for i, n := range names {
			rec[n] = normalize(cats[i], raw[i])
		}
		tie, err := positionValue(cats[ti], raw[ti])
		if err != nil {
			return nil, permanent("query.tiebreaker %s: %w", q.Tiebreaker, err)
		}
		if tie == nil {
			return nil, permanent("query.tiebreaker %s is NULL in a row of %s: the tiebreaker must be a unique, non-null column (the primary key)", q.Tiebreaker, r.it.Name)
		}
		var cur *value
		if ci >= 0 {
			if cur, err = positionValue(cats[ci], raw[ci]); err != nil {
				return nil, permanent("query.cursor %s: %w", q.Cursor, err)
			}
		}
		if out.n > 0 && prevT != nil && *prevT == *tie && (prevC == nil) == (cur == nil) && (cur == nil || *prevC == *cur) {
			return nil, permanent("query.tiebreaker %s is not unique: two rows share %s = %s; choose a unique column (the primary key), or rows would be skipped", q.Tiebreaker, q.Tiebreaker, tie.V)
		}
		prevC, prevT = cur, tie
		out.records = append(out.records, rec)
		out.n++
		out.lastCursor, out.lastTie = cur, tie
	}
	return out, nil
}

// columnIndex finds a column by name: exactly, else ignoring case (MySQL names
// columns as the table declares them).
func columnIndex(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	for i, n := range names {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// dsnSecrets finds the password in a DSN even when it does not parse, so that a
// driver error quoting the DSN is redacted.
func dsnSecrets(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
	}
	// user:password@tcp(...) (MySQL) and scheme://user:password@host when url.Parse
	// refused the rest.
	rest := dsn
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if at := strings.LastIndex(rest, "@"); at > 0 {
		if _, pass, ok := strings.Cut(rest[:at], ":"); ok && pass != "" {
			out = append(out, pass)
		}
	}
	// key=value form: password=secret or password='se cret'.
	for _, m := range kvPasswordRe.FindAllStringSubmatch(dsn, -1) {
		out = append(out, strings.Trim(m[1], "'"))
	}
	return out
}

var kvPasswordRe = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
