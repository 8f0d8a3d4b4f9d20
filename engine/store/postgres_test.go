package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests check that the migrations, translated by Postgres.DDL, mean on PostgreSQL
// what they mean on SQLite. They run when INTAKE_TEST_POSTGRES_DSN names a database
// (CI sets it), each in a schema of its own that is dropped afterwards.

const postgresDSNEnv = "INTAKE_TEST_POSTGRES_DSN"

// openPostgres connects to the test database in a fresh schema. The schema is the
// search_path of every connection of the returned pool (a startup parameter), and is
// dropped when the test ends.
func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		t.Skip("set INTAKE_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run against PostgreSQL")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err, "open %s", postgresDSNEnv)
	t.Cleanup(func() { admin.Close() })
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "intake_test_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create a schema in the database of %s", postgresDSNEnv)
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() }) // before the schema is dropped: cleanups run last first
	var current string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&current))
	require.Equal(t, schema, current)
	return db
}

// schemaMigrationsDDL is the bookkeeping table Store.migrate creates (store.go).
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`

// migratePostgres applies every migration, in version order and each in its own
// transaction, translated by Postgres.DDL, as Store.migrate does on SQLite.
func migratePostgres(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, Postgres.DDL(schemaMigrationsDDL))
	require.NoError(t, err)
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	versions := map[int]string{}
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		require.NoError(t, err, "%s: name must start with a version number", name)
		require.NotContains(t, versions, v, "%s and %s have the same version", name, versions[v])
		versions[v] = name
	}
	sort.Slice(names, func(i, j int) bool { return versionOf(names[i]) < versionOf(names[j]) })
	for _, name := range names {
		body, err := fs.ReadFile(migrationFS, name)
		require.NoError(t, err)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		if _, err := tx.ExecContext(ctx, Postgres.DDL(string(body))); err != nil {
			tx.Rollback()
			t.Fatalf("%s on PostgreSQL: %v\n%s", name, err, Postgres.DDL(string(body)))
		}
		_, err = tx.ExecContext(ctx, Postgres.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), versionOf(name), "2026-01-02T03:04:05.000Z")
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
	}
}

func versionOf(name string) int {
	v, _ := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
	return v
}

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s.DB()
}

// The schema, as both databases describe it, reduced to what carries meaning.
type (
	dbSchema map[string]*dbTable
	dbTable  struct {
		Columns     []dbColumn
		PrimaryKey  string   // its columns
		Unique      []string // unique constraints and indexes but the primary key: "columns WHERE predicate"
		Indexes     []string // the other indexes
		ForeignKeys []string // "columns -> table(columns) ON DELETE action ON UPDATE action"
	}
	dbColumn struct {
		Name     string
		Type     string // PostgreSQL's name: bigint, text, bytea
		NotNull  bool
		Default  string // the expression, without PostgreSQL's ::type casts
		Identity bool   // numbered automatically: a rowid alias on SQLite, an identity column on PostgreSQL
	}
)

// sqliteTypes maps the declared types the migrations may use to the PostgreSQL type
// with the same meaning.
var sqliteTypes = map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}

func sqliteSchema(t *testing.T, db *sql.DB) dbSchema {
	t.Helper()
	ctx := context.Background()
	schema := dbSchema{}
	withoutRowid := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		var wr bool
		require.NoError(t, rows.Scan(&name, &wr))
		schema[name], withoutRowid[name] = &dbTable{}, wr
	}
	require.NoError(t, rows.Err())
	rows.Close()

	for name, tab := range schema {
		// Columns and the primary key.
		var pk []string
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", COALESCE(dflt_value, ''), pk FROM pragma_table_info(?) ORDER BY cid`, name)
		require.NoError(t, err)
		pkPos := map[string]int{}
		for rows.Next() {
			var c dbColumn
			var typ string
			var pos int
			require.NoError(t, rows.Scan(&c.Name, &typ, &c.NotNull, &c.Default, &pos))
			c.Type = sqliteTypes[strings.ToUpper(typ)]
			if c.Type == "" {
				c.Type = "sqlite " + typ + " (no PostgreSQL equivalent known to this test)"
			}
			if pos > 0 {
				pk = append(pk, c.Name)
				pkPos[c.Name] = pos
			}
			tab.Columns = append(tab.Columns, c)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		sort.Slice(pk, func(i, j int) bool { return pkPos[pk[i]] < pkPos[pk[j]] })
		tab.PrimaryKey = strings.Join(pk, ",")
		for i, c := range tab.Columns {
			// The rowid alias: numbered when the insert leaves it out, never NULL.
			if len(pk) == 1 && pk[0] == c.Name && strings.EqualFold(declaredType(t, db, name, c.Name), "INTEGER") && !withoutRowid[name] {
				tab.Columns[i].Identity, tab.Columns[i].NotNull = true, true
			}
		}

		// Indexes other than the primary key's.
		rows, err = db.QueryContext(ctx, `SELECT name, "unique", partial FROM pragma_index_list(?) WHERE origin != 'pk'`, name)
		require.NoError(t, err)
		type index struct {
			name            string
			unique, partial bool
		}
		var indexes []index
		for rows.Next() {
			var ix index
			require.NoError(t, rows.Scan(&ix.name, &ix.unique, &ix.partial))
			indexes = append(indexes, ix)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		for _, ix := range indexes {
			var cols []string
			rows, err := db.QueryContext(ctx, `SELECT COALESCE(name, '(expression)') FROM pragma_index_info(?) ORDER BY seqno`, ix.name)
			require.NoError(t, err)
			for rows.Next() {
				var c string
				require.NoError(t, rows.Scan(&c))
				cols = append(cols, c)
			}
			require.NoError(t, rows.Err())
			rows.Close()
			desc := strings.Join(cols, ",")
			if ix.partial {
				var def string
				require.NoError(t, db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, ix.name).Scan(&def))
				desc += " WHERE " + normPredicate(whereOf(def))
			}
			if ix.unique {
				tab.Unique = append(tab.Unique, desc)
			} else {
				tab.Indexes = append(tab.Indexes, desc)
			}
		}

		// Foreign keys.
		rows, err = db.QueryContext(ctx, `SELECT id, "table", "from", COALESCE("to", ''), on_delete, on_update FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name)
		require.NoError(t, err)
		type fk struct{ table, from, to, onDelete, onUpdate string }
		fks := map[int]*fk{}
		for rows.Next() {
			var id int
			var table, from, to, onDelete, onUpdate string
			require.NoError(t, rows.Scan(&id, &table, &from, &to, &onDelete, &onUpdate))
			f := fks[id]
			if f == nil {
				f = &fk{table: table, onDelete: onDelete, onUpdate: onUpdate}
				fks[id] = f
			}
			f.from, f.to = joinCol(f.from, from), joinCol(f.to, to)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		for _, f := range fks {
			require.NotEmpty(t, strings.Trim(f.to, ","), "%s: a foreign key to %s names no columns; name them so both databases agree", name, f.table)
			tab.ForeignKeys = append(tab.ForeignKeys, fmt.Sprintf("%s -> %s(%s) ON DELETE %s ON UPDATE %s", f.from, f.table, f.to, f.onDelete, f.onUpdate))
		}
		tab.sort()
	}
	return schema
}

func joinCol(list, col string) string {
	if list == "" {
		return col
	}
	return list + "," + col
}

// declaredType is a column's type exactly as declared (pragma_table_info keeps it).
func declaredType(t *testing.T, db *sql.DB, table, column string) string {
	var typ string
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT type FROM pragma_table_info(?) WHERE name = ?`, table, column).Scan(&typ))
	return typ
}

// whereOf returns the predicate of a CREATE INDEX statement: what follows its WHERE.
func whereOf(def string) string {
	toks := tokenize(def)
	for i, t := range toks {
		if t.kind == tokWord && strings.EqualFold(t.text, "WHERE") {
			return joinTokens(toks[i+1:])
		}
	}
	return ""
}

var blanks = regexp.MustCompile(`\s+`)

// normPredicate makes the predicates of both databases comparable: PostgreSQL writes
// (domain IS NOT NULL) for domain IS NOT NULL.
func normPredicate(p string) string {
	p = strings.NewReplacer("(", " ", ")", " ").Replace(strings.ToLower(p))
	return strings.TrimSpace(blanks.ReplaceAllString(p, " "))
}

// pgCast is the ::type PostgreSQL appends to the defaults it shows.
var pgCast = regexp.MustCompile(`::[a-z ]+$`)

var pgAction = map[string]string{"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

func postgresSchema(t *testing.T, db *sql.DB) dbSchema {
	t.Helper()
	ctx := context.Background()
	schema := dbSchema{}
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		schema[name] = &dbTable{}
	}
	require.NoError(t, rows.Err())
	rows.Close()

	for name, tab := range schema {
		rows, err := db.QueryContext(ctx, `SELECT column_name, data_type, is_nullable = 'NO', COALESCE(column_default, ''), is_identity = 'YES'
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, name)
		require.NoError(t, err)
		for rows.Next() {
			var c dbColumn
			require.NoError(t, rows.Scan(&c.Name, &c.Type, &c.NotNull, &c.Default, &c.Identity))
			c.Default = pgCast.ReplaceAllString(c.Default, "")
			tab.Columns = append(tab.Columns, c)
		}
		require.NoError(t, rows.Err())
		rows.Close()

		rows, err = db.QueryContext(ctx, `SELECT x.indisprimary, x.indisunique, COALESCE(pg_get_expr(x.indpred, x.indrelid), ''),
				(SELECT string_agg(COALESCE(a.attname, '(expression)'), ',' ORDER BY k.ord)
				 FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
				 LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum)
			FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relname = $1`, name)
		require.NoError(t, err)
		for rows.Next() {
			var primary, unique bool
			var pred, cols string
			require.NoError(t, rows.Scan(&primary, &unique, &pred, &cols))
			desc := cols
			if pred != "" {
				desc += " WHERE " + normPredicate(pred)
			}
			switch {
			case primary:
				tab.PrimaryKey = cols
			case unique:
				tab.Unique = append(tab.Unique, desc)
			default:
				tab.Indexes = append(tab.Indexes, desc)
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()

		rows, err = db.QueryContext(ctx, `SELECT r.relname, k.confdeltype, k.confupdtype,
				(SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
				 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
				(SELECT string_agg(a.attname, ',' ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
				 JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum)
			FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_class r ON r.oid = k.confrelid
			WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1`, name)
		require.NoError(t, err)
		for rows.Next() {
			var table, onDelete, onUpdate, from, to string
			require.NoError(t, rows.Scan(&table, &onDelete, &onUpdate, &from, &to))
			tab.ForeignKeys = append(tab.ForeignKeys, fmt.Sprintf("%s -> %s(%s) ON DELETE %s ON UPDATE %s", from, table, to, pgAction[onDelete], pgAction[onUpdate]))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		tab.sort()
	}
	return schema
}

func (t *dbTable) sort() {
	sort.Strings(t.Unique)
	sort.Strings(t.Indexes)
	sort.Strings(t.ForeignKeys)
}

// nullablePrimaryKeys are the differences the translation cannot remove, pinned so
// that they stay known: a TEXT PRIMARY KEY without NOT NULL accepts NULL on SQLite (a
// documented SQLite quirk kept for compatibility; only INTEGER PRIMARY KEY, STRICT and
// WITHOUT ROWID tables are exempt), while a PRIMARY KEY is NOT NULL on PostgreSQL. The
// store never writes a NULL id, so PostgreSQL's refusal only tightens the schema. Fix
// in a migration by declaring these NOT NULL (on SQLite that means rebuilding the
// table), then drop the entry; the test fails when an entry no longer differs, and on
// any new nullable primary key.
var nullablePrimaryKeys = map[string]string{
	"customers.id":        "0001_init.sql",
	"integrations.id":     "0001_init.sql",
	"oauth_apps.provider": "0004_oauth.sql",
	"oauth_states.state":  "0004_oauth.sql",
}

func TestPostgresSchemaMatchesSQLite(t *testing.T) {
	pg := openPostgres(t)
	migratePostgres(t, pg)
	want := sqliteSchema(t, openSQLite(t))
	got := postgresSchema(t, pg)

	for col, file := range nullablePrimaryKeys {
		table, name, _ := strings.Cut(col, ".")
		lite, ok := want[table]
		require.True(t, ok, "table %s of nullablePrimaryKeys is gone", table)
		for i, c := range lite.Columns {
			if c.Name != name {
				continue
			}
			if assert.False(t, c.NotNull, "%s (%s) is NOT NULL on SQLite now: remove it from nullablePrimaryKeys", col, file) {
				lite.Columns[i].NotNull = true // as PostgreSQL has it
			}
		}
	}

	var tables []string
	for name := range want {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	assert.ElementsMatch(t, tables, keys(got), "tables")
	for _, name := range tables {
		if got[name] == nil {
			continue
		}
		assert.Equal(t, want[name], got[name], "table %s: SQLite (expected) vs PostgreSQL (actual)", name)
	}
	// Sanity: the comparison sees what it should.
	require.Contains(t, want, "accounts")
	assert.Contains(t, want["accounts"].Unique, "customer_id,domain WHERE domain is not null")
	assert.Contains(t, want["changes"].Columns, dbColumn{Name: "seq", Type: "bigint", NotNull: true, Identity: true})
	assert.Contains(t, want["integration_objects"].ForeignKeys, "integration_id -> integrations(id) ON DELETE CASCADE ON UPDATE NO ACTION")
	assert.Contains(t, want["integrations"].Columns, dbColumn{Name: "status", Type: "text", NotNull: true, Default: "'enabled'"})
}

func keys(m dbSchema) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// backend is one database with the dialect its queries are rebound to.
type backend struct {
	db *sql.DB
	d  Dialect
}

func (b backend) exec(t *testing.T, q string, args ...any) (int64, error) {
	t.Helper()
	res, err := b.db.ExecContext(context.Background(), b.d.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	require.NoError(t, err)
	return n, nil
}

func (b backend) mustExec(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	n, err := b.exec(t, q, args...)
	require.NoError(t, err, q)
	return n
}

func (b backend) id(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.db.QueryRowContext(context.Background(), b.d.Rebind(q), args...).Scan(&id), q)
	return id
}

func (b backend) column(t *testing.T, q string, args ...any) []string {
	t.Helper()
	rows, err := b.db.QueryContext(context.Background(), b.d.Rebind(q), args...)
	require.NoError(t, err, q)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// violation names the constraint an error says was violated, "" for none.
func violation(err error) string {
	if err == nil {
		return ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return "unique"
		case "23503":
			return "foreign key"
		case "23502":
			return "not null"
		}
		return "postgres " + pgErr.Code + ": " + pgErr.Message
	}
	msg := err.Error()
	for _, c := range []string{"UNIQUE", "FOREIGN KEY", "NOT NULL"} {
		if strings.Contains(msg, c+" constraint failed") {
			return strings.ToLower(c)
		}
	}
	return msg
}

// Statements of the store, copied as they are (integrations.go, sync.go, entities.go).
const (
	insertCustomerSQL    = `INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`
	insertIntegrationSQL = `INSERT INTO integrations (id, customer_id, provider, status, config, credentials, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertObjectSQL      = `INSERT INTO integration_objects (integration_id, interaction_type) VALUES (?, ?) ON CONFLICT (integration_id, interaction_type) DO NOTHING`
	insertRunSQL         = `INSERT INTO sync_runs (integration_object_id, started_at, status, cursor_before) VALUES (?, ?, ?, ?) RETURNING id`
	insertInteractionSQL = `INSERT INTO interactions (integration_object_id, external_id, kind, data, raw, content_hash, source_updated_at, first_seen_at, updated_at, sync_run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	insertAccountSQL     = `INSERT INTO accounts (customer_id, domain, name, name_key, data, sources, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	upsertReviewSQL      = `INSERT INTO match_reviews (customer_id, entity, provider, integration_id, external_id, reason, candidates, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, entity, provider, external_id) DO UPDATE SET reason = excluded.reason, candidates = excluded.candidates, resolved_at = NULL`
)

// exercise runs the same writes on a fresh database and checks what they do; it
// returns what it saw, for the two databases to be compared.
func exercise(t *testing.T, b backend) []string {
	const now = "2026-01-02T03:04:05.000Z"
	var seen []string
	see := func(format string, args ...any) { seen = append(seen, fmt.Sprintf(format, args...)) }

	// Customers: ON CONFLICT DO NOTHING keeps the first row.
	see("customer: %d", b.mustExec(t, insertCustomerSQL, "acme", "Acme", now))
	see("customer again: %d", b.mustExec(t, insertCustomerSQL, "acme", "Other", now))
	see("customer other: %d", b.mustExec(t, insertCustomerSQL, "globex", "Globex", now))
	var name string
	require.NoError(t, b.db.QueryRow(b.d.Rebind(`SELECT name FROM customers WHERE id = ?`), "acme").Scan(&name))
	assert.Equal(t, "Acme", name)

	// Text compares and sorts byte for byte, like SQLite's BINARY collation (on
	// PostgreSQL: a database with collation C or C.UTF-8): ORDER BY id, provider,
	// external_id and the text timestamps and cursors compared with < depend on it.
	for _, id := range []string{"b", "B", "_x", "a-1", "a1", "A", "é", "z"} {
		b.mustExec(t, insertCustomerSQL, id, id, now)
	}
	see("customers in order: %v", b.column(t, `SELECT id FROM customers WHERE id > ? ORDER BY id`, "A"))

	// Integrations: bytes round-trip, defaults apply, ids are unique, customers must exist.
	sealed := []byte{0x00, 0xff, 0x10, 0x80, 0x00}
	see("integration: %d", b.mustExec(t, insertIntegrationSQL, "acme-hubspot", "acme", "hubspot", StatusEnabled, `{}`, sealed, "k1", now, now))
	_, err := b.exec(t, insertIntegrationSQL, "acme-hubspot", "acme", "hubspot", StatusEnabled, `{}`, nil, nil, now, now)
	see("integration duplicate id: %s", violation(err))
	_, err = b.exec(t, insertIntegrationSQL, "nobody-hubspot", "nobody", "hubspot", StatusEnabled, `{}`, nil, nil, now, now)
	see("integration of unknown customer: %s", violation(err))
	var creds []byte
	var version int64
	var lockOwner sql.NullString
	require.NoError(t, b.db.QueryRow(b.d.Rebind(`SELECT credentials, credentials_version, refresh_lock_owner FROM integrations WHERE id = ?`), "acme-hubspot").Scan(&creds, &version, &lockOwner))
	assert.Equal(t, sealed, creds)
	see("credentials %x version %d lock %v", creds, version, lockOwner.Valid)

	// Integration objects: numbered from 1, ON CONFLICT DO NOTHING keeps the row.
	see("object: %d", b.mustExec(t, insertObjectSQL, "acme-hubspot", "contacts"))
	see("object again: %d", b.mustExec(t, insertObjectSQL, "acme-hubspot", "contacts"))
	obj := b.id(t, `SELECT id FROM integration_objects WHERE integration_id = ? AND interaction_type = ?`, "acme-hubspot", "contacts")
	see("object id %d", obj)
	b.mustExec(t, insertObjectSQL, "acme-hubspot", "deals")
	obj2 := b.id(t, `SELECT id FROM integration_objects WHERE integration_id = ? AND interaction_type = ?`, "acme-hubspot", "deals")
	// PostgreSQL spends a number on the insert that conflicted: ids are unique and
	// increasing on both, not necessarily consecutive.
	see("second object after the first: %v", obj2 > obj)
	var failures int64
	require.NoError(t, b.db.QueryRow(b.d.Rebind(`SELECT consecutive_failures FROM integration_objects WHERE id = ?`), obj).Scan(&failures))
	see("consecutive_failures default %d", failures)

	// A run and two interactions, numbered from 1.
	run := b.id(t, insertRunSQL, obj, now, RunRunning, nil)
	see("run id %d", run)
	i1 := b.id(t, insertInteractionSQL, obj, "c1", "contact", `{}`, `{}`, "h1", nil, now, now, run)
	i2 := b.id(t, insertInteractionSQL, obj, "c2", "contact", `{}`, `{}`, "h2", "2026-01-01T00:00:00Z", now, now, run)
	see("interaction ids %d %d", i1, i2)
	err = b.db.QueryRow(b.d.Rebind(insertInteractionSQL), obj, "c1", "contact", `{}`, `{}`, "h1", nil, now, now, run).Scan(new(int64))
	see("interaction duplicate external id: %s", violation(err))
	_, err = b.exec(t, `INSERT INTO interactions (integration_object_id, external_id, kind, data, raw, content_hash, first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, obj, "c3", "contact", nil, `{}`, "h3", now, now)
	see("interaction without data: %s", violation(err))

	// The change feed: seq numbered from 1 and never handed out twice (AUTOINCREMENT
	// on SQLite, an identity column on PostgreSQL), even after the last one is deleted.
	var seqs []int64
	for _, id := range []int64{i1, i2, i1} {
		seqs = append(seqs, b.id(t, insertChangeSQL+` RETURNING seq`, now, EntityInteraction, id, OpInsert, "acme", "acme-hubspot", "contacts", "c1"))
	}
	b.mustExec(t, `DELETE FROM changes WHERE seq = ?`, seqs[2])
	seqs = append(seqs, b.id(t, insertChangeSQL+` RETURNING seq`, now, EntityInteraction, i2, OpUpdate, "acme", "acme-hubspot", "contacts", "c2"))
	assert.Equal(t, []int64{1, 2, 3, 4}, seqs)
	see("change seqs %v", seqs)

	// Accounts: the partial unique index allows any number of NULL domains, refuses a
	// customer's domain twice, and lets another customer have it.
	for _, domain := range []any{nil, nil, "acme.com"} {
		see("account domain %v: %d", domain, b.mustExec(t, insertAccountSQL, "acme", domain, "Acme", "acme", `{}`, `{}`, now, now))
	}
	_, err = b.exec(t, insertAccountSQL, "acme", "acme.com", "Acme Inc", "acme inc", `{}`, `{}`, now, now)
	see("account duplicate domain: %s", violation(err))
	_, err = b.exec(t, insertAccountSQL, "globex", "acme.com", "Acme", "acme", `{}`, `{}`, now, now)
	see("account domain of another customer: %s", violation(err))
	_, err = b.exec(t, insertAccountSQL, "nobody", "acme.com", "Acme", "acme", `{}`, `{}`, now, now)
	see("account of unknown customer: %s", violation(err))
	var accounts int64
	require.NoError(t, b.db.QueryRow(`SELECT COUNT(*) FROM accounts`).Scan(&accounts))
	see("accounts %d", accounts)

	// Match reviews: ON CONFLICT DO UPDATE updates the row in place and reopens it.
	b.mustExec(t, upsertReviewSQL, "acme", EntityAccount, "hubspot", "acme-hubspot", "x1", "2 accounts", "[1,2]", now)
	review := b.id(t, `SELECT id FROM match_reviews WHERE external_id = ?`, "x1")
	b.mustExec(t, `UPDATE match_reviews SET resolved_at = ? WHERE id = ?`, now, review)
	see("review upsert: %d", b.mustExec(t, upsertReviewSQL, "acme", EntityAccount, "hubspot", "acme-hubspot", "x1", "3 accounts", "[1,2,3]", now))
	var id int64
	var reason, candidates string
	var resolved sql.NullString
	require.NoError(t, b.db.QueryRow(`SELECT id, reason, candidates, resolved_at FROM match_reviews`).Scan(&id, &reason, &candidates, &resolved))
	see("review %d %s %s resolved %v", id-review, reason, candidates, resolved.Valid)

	// Interaction links (links.go): the upsert keeps one row, and its id, per
	// interaction and role; the partial indexes' lookups; the window query behind
	// intake accounts show; setting a contact's account only when it differs.
	acme := b.id(t, `SELECT id FROM accounts WHERE customer_id = ? AND domain = ?`, "acme", "acme.com")
	pending := b.id(t, upsertLinkSQL, "acme", i1, EntityAccount, OriginRef, "hubspot", "companies", "9001", nil, "acme.com", "Acme", nil, nil, nil,
		ReasonNotFound, "no account with hubspot/companies id 9001 or domain acme.com", nil, now)
	see("pending by domain: %v", b.column(t, `SELECT reason FROM interaction_links WHERE customer_id = ? AND ref_domain = ? AND entity_id IS NULL AND role = ?`, "acme", "acme.com", EntityAccount))
	relinked := b.id(t, upsertLinkSQL, "acme", i1, EntityAccount, OriginRef, "hubspot", "companies", "9001", nil, "acme.com", "Acme", nil, acme, ByDomain, nil, nil, nil, now)
	see("link upsert keeps its row: %v", relinked == pending)
	see("pending by domain after: %v", b.column(t, `SELECT reason FROM interaction_links WHERE customer_id = ? AND ref_domain = ? AND entity_id IS NULL AND role = ?`, "acme", "acme.com", EntityAccount))
	see("by provider id: %v", b.column(t, `SELECT resolved_by FROM interaction_links WHERE customer_id = ? AND role = ? AND provider = ? AND ref_id = ? AND origin IN (?, ?)`,
		"acme", EntityAccount, "hubspot", "9001", OriginRef, OriginCompany))
	b.mustExec(t, upsertLinkSQL, "acme", i2, EntityContact, OriginRef, "hubspot", nil, nil, "ana@acme.com", nil, nil, nil, nil, nil, ReasonNotFound, "no contact with email ana@acme.com", nil, now)
	see("unresolved by reason: %v", b.column(t, `SELECT k.reason || ' ' || COUNT(*) FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id
		WHERE k.entity_id IS NULL AND k.customer_id = ? GROUP BY k.reason ORDER BY 1`, "acme"))
	see("account interactions: %v", b.column(t, `SELECT via || ' ' || external_id || ' ' || total FROM (`+entityInteractionsSQL+`) x`,
		EntityAccount, acme, EntityAccount, EntityAccount, acme, LatestPerType))
	ana := b.id(t, `INSERT INTO contacts (customer_id, email, data, sources, created_at, updated_at) VALUES (?, ?, '{}', '{}', ?, ?) RETURNING id`, "acme", "ana@acme.com", now, now)
	see("fill account: %d", b.mustExec(t, fillContactAccountSQL, acme, now, ana))
	see("fill account again: %d", b.mustExec(t, fillContactAccountSQL, acme, now, ana))
	see("set same account: %d", b.mustExec(t, setContactAccountSQL, acme, now, ana, acme))

	// Foreign keys: deleting an integration cascades to its objects, runs and
	// interactions; a customer with accounts cannot be deleted.
	see("delete integration: %d", b.mustExec(t, `DELETE FROM integrations WHERE id = ?`, "acme-hubspot"))
	for _, table := range []string{"integration_objects", "sync_runs", "interactions", "interaction_links", "changes"} {
		var n int64
		require.NoError(t, b.db.QueryRow(`SELECT COUNT(*) FROM `+table).Scan(&n))
		see("%s left: %d", table, n)
	}
	_, err = b.exec(t, `DELETE FROM customers WHERE id = ?`, "acme")
	see("delete customer with accounts: %s", violation(err))
	return seen
}

func TestPostgresBehavesLikeSQLite(t *testing.T) {
	pg := openPostgres(t)
	migratePostgres(t, pg)
	lite := backend{openSQLite(t), SQLite}
	onPG := backend{pg, Postgres}

	want := exercise(t, lite)
	got := exercise(t, onPG)
	var collation string
	require.NoError(t, pg.QueryRow(`SELECT string_agg(key || '=' || value, ' ') FROM pg_database d, json_each_text(row_to_json(d))
		WHERE datname = current_database() AND key ~ 'coll|ctype|locale'`).Scan(&collation))
	assert.Equal(t, want, got, "SQLite (expected) vs PostgreSQL (actual). If only the order of customers differs, "+
		"the database (%s) does not sort text byte for byte as SQLite does: create it with the C or C.UTF-8 libc locale", collation)
	assert.Contains(t, want, "customers in order: [B _x a-1 a1 acme b globex z é]")
	assert.Contains(t, want, "account duplicate domain: unique")
	assert.Contains(t, want, "account domain of another customer: ")
	assert.Contains(t, want, "customer again: 0")
	assert.Contains(t, want, "interactions left: 0")
	assert.Contains(t, want, "link upsert keeps its row: true")
	assert.Contains(t, want, "account interactions: [domain c1 1]")
	assert.Contains(t, want, "set same account: 0")
	assert.Contains(t, want, "interaction_links left: 0")

	// The one known difference (nullablePrimaryKeys): SQLite takes a NULL text id.
	_, err := lite.exec(t, insertCustomerSQL, nil, "no id", "2026-01-02T03:04:05.000Z")
	assert.NoError(t, err, "SQLite refuses a NULL customers.id now: update nullablePrimaryKeys")
	_, err = onPG.exec(t, insertCustomerSQL, nil, "no id", "2026-01-02T03:04:05.000Z")
	assert.Equal(t, "not null", violation(err))
}
