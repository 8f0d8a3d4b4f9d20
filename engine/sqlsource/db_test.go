package sqlsource_test

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/sqlsource"
	"github.com/intakehq/intake/engine/store"
)

const (
	envPostgres = "INTAKE_TEST_POSTGRES_DSN"
	envMySQL    = "INTAKE_TEST_MYSQL_DSN"
)

// backend is a fresh, empty schema (PostgreSQL) or database (MySQL, MariaDB) of its
// own, dropped when the test ends.
type backend struct {
	name   string // postgres or mysql
	driver string // spec.Driver*
	dsn    string // reaches the fresh schema or database
	db     *sql.DB
	// Column types for the seeded tables.
	timestamp, boolean, jsonType, bytes, text string
}

func uniqueName(prefix string) string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// allBackends are the databases the tests run against; one whose DSN variable is not
// set is skipped with a note saying how to run it.
var allBackends = []struct {
	name string
	open func(t *testing.T) *backend
}{{"postgres", postgresBackend}, {"mysql", mysqlBackend}}

func postgresBackend(t *testing.T) *backend {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skipf("set %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run the sql source tests against PostgreSQL", envPostgres)
	}
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	schema := uniqueName("intake_sqlsrc_")
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if !strings.Contains(dsn, "://") {
		t.Fatalf("%s must be a postgres:// URL", envPostgres)
	}
	scoped := dsn + sep + "search_path=" + schema
	db, err := sql.Open("pgx", scoped)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &backend{name: "postgres", driver: spec.DriverPostgres, dsn: scoped, db: db,
		timestamp: "timestamp(6)", boolean: "boolean", jsonType: "jsonb", bytes: "bytea", text: "text"}
}

func mysqlBackend(t *testing.T) *backend {
	t.Helper()
	dsn := os.Getenv(envMySQL)
	if dsn == "" {
		t.Skipf("set %s='root@tcp(127.0.0.1:3306)/test' to run the sql source tests against MySQL or MariaDB", envMySQL)
	}
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	admin, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := uniqueName("intake_sqlsrc_")
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE " + name) })
	cfg.DBName = name
	scoped := cfg.FormatDSN()
	tcfg := cfg.Clone()
	tcfg.ParseTime, tcfg.Loc = true, time.UTC
	tcfg.Params = map[string]string{"time_zone": "'+00:00'"}
	db, err := sql.Open("mysql", tcfg.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return &backend{name: "mysql", driver: spec.DriverMySQL, dsn: scoped, db: db,
		timestamp: "DATETIME(6)", boolean: "BOOLEAN", jsonType: "JSON", bytes: "VARBINARY(64)", text: "VARCHAR(200)"}
}

var placeholderRe = regexp.MustCompile(`\?`)

// exec runs a statement written with ? placeholders.
func (b *backend) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if b.driver == spec.DriverPostgres {
		n := 0
		query = placeholderRe.ReplaceAllStringFunc(query, func(string) string { n++; return fmt.Sprintf("$%d", n) })
	}
	_, err := b.db.Exec(query, args...)
	require.NoError(t, err, query)
}

// forEachBackend runs fn against each database the machine has.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	for _, b := range allBackends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// loadSpec loads a sql connector for b from YAML with %DRIVER% replaced.
func loadSpec(t *testing.T, b *backend, yaml string) *spec.Connector {
	t.Helper()
	c, err := spec.Load("testdb.yaml", []byte(strings.ReplaceAll(yaml, "%DRIVER%", b.driver)))
	require.NoError(t, err)
	return c
}

// harness syncs a sql connector into a fresh SQLite store.
type harness struct {
	t    *testing.T
	db   *store.Store
	conn *spec.Connector
	dsn  string
}

func newHarness(t *testing.T, conn *spec.Connector, dsn string) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-db", CustomerID: "acme", Provider: conn.Provider}, nil, nil))
	return &harness{t: t, db: db, conn: conn, dsn: dsn}
}

func (h *harness) client() *sqlsource.Source {
	h.t.Helper()
	src, err := sqlsource.New(context.Background(), retrieve.Source{Connector: h.conn, Credentials: map[string]any{"dsn": h.dsn}}, sqlsource.Options{RetryWait: time.Millisecond})
	require.NoError(h.t, err)
	return src
}

// sync runs one sync of every type and returns the run of typ.
func (h *harness) sync(ctx context.Context, typ string, onPage func(pipeline.PageEvent)) (*store.Run, error) {
	h.t.Helper()
	s := &pipeline.Syncer{Store: h.db, OnPage: onPage}
	results, err := s.Sync(ctx, pipeline.Job{IntegrationID: "acme-db", CustomerID: "acme", Connector: h.conn, Client: h.client(), Types: []string{typ}})
	if err != nil {
		return nil, err
	}
	require.Len(h.t, results, 1)
	return results[0].Run, results[0].Err
}

// stored returns how many interactions each external id has, and their data.
func (h *harness) stored() (map[string]int, map[string]string) {
	h.t.Helper()
	rows, err := h.db.DB().Query(`SELECT external_id, data FROM interactions`)
	require.NoError(h.t, err)
	defer rows.Close()
	count, data := map[string]int{}, map[string]string{}
	for rows.Next() {
		var id, d string
		require.NoError(h.t, rows.Scan(&id, &d))
		count[id]++
		data[id] = d
	}
	require.NoError(h.t, rows.Err())
	return count, data
}

func (h *harness) cursor(typ string) string {
	h.t.Helper()
	obj, err := h.db.EnsureObject(context.Background(), "acme-db", typ)
	require.NoError(h.t, err)
	return obj.Cursor
}
