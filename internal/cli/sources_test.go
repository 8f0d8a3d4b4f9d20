package cli

import (
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bundled csv-files connector from the command line: validate, preview, add,
// sync twice (the second reads nothing), and the bad row in quarantine with its row.
func TestFilesConnectorFromTheCLI(t *testing.T) {
	env := testEnv(t)
	drops := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(drops, "accounts-2026-01.csv"), []byte(
		"id,name,domain,industry,employees,country,updated_at\n"+
			"1,Acme,acme.example,Manufacturing,250,US,2026-01-05T10:00:00Z\n"+
			"2,Globex,globex.example,Energy,,DE,\n"+
			"3,Initech\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(drops, "contacts-2026-01.csv"), []byte(
		"id,email,first_name,last_name,title,phone,account_id,updated_at\n10,Ana@Acme.example,Ana,Lima,CTO,,1,2026-01-06\n"), 0o644))

	r := run(t, env, "validate", "../../connectors/csv-files.yaml")
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "preview", "--connector", "../../connectors/csv-files.yaml", "--config", "location="+drops, "--trace")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stdout, "\n"), r.stdout)
	assert.Contains(t, r.stdout, `{"type":"contacts","id":"10","data":{"email":"ana@acme.example","name":"Ana Lima"`)
	assert.Contains(t, r.stderr, "→ READ accounts-2026-01.csv")
	assert.Contains(t, r.stderr, "accounts: skipped: record: accounts-2026-01.csv row 3 (line 4): 2 fields, but the header has 7 columns")

	r = run(t, env, "integrations", "add", "--customer", "initech", "--provider", "csv-files", "--config", "location="+drops)
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "sync", "--integration", "initech-csv-files")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+1 pages\s+3 records: 2 new, 0 updated, 0 unchanged, 1 quarantined`, r.stdout)
	assert.Regexp(t, `contacts\s+succeeded\s+1 pages\s+1 records: 1 new`, r.stdout)
	r = run(t, env, "sync", "--integration", "initech-csv-files")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+0 pages`, r.stdout)
	r = run(t, env, "quarantine", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "accounts-2026-01.csv row 3 (line 4): 2 fields, but the header has 7 columns")
}

// The bundled postgres and mysql connectors from the command line, against the real
// servers: preview with the page queries traced, add, sync, an update picked up, and
// the DSN's password nowhere in the output.
func TestSQLConnectorFromTheCLI(t *testing.T) {
	for _, db := range []struct{ provider, env string }{{"postgres", "INTAKE_TEST_POSTGRES_DSN"}, {"mysql", "INTAKE_TEST_MYSQL_DSN"}} {
		t.Run(db.provider, func(t *testing.T) {
			base := os.Getenv(db.env)
			if base == "" {
				t.Skipf("set %s to run the %s connector from the CLI against a real server (see docs/sql.md)", db.env, db.provider)
			}
			var b [4]byte
			_, _ = crand.Read(b[:])
			name := "intake_cli_" + hex.EncodeToString(b[:])
			var conn *sql.DB
			var dsn string
			var err error
			if db.provider == "postgres" {
				conn, err = sql.Open("pgx", base)
				require.NoError(t, err)
				_, err = conn.Exec("CREATE SCHEMA " + name)
				require.NoError(t, err)
				t.Cleanup(func() { _, _ = conn.Exec("DROP SCHEMA " + name + " CASCADE"); conn.Close() })
				sep := "?"
				if strings.Contains(base, "?") {
					sep = "&"
				}
				// A password the server ignores (trust) but the output must never show.
				dsn = strings.Replace(base, "postgres://postgres@", "postgres://postgres:Pw-ShouldNotShow-9@", 1) + sep + "search_path=" + name
				_, err = conn.Exec("SET search_path = " + name)
				require.NoError(t, err)
			} else {
				conn, err = sql.Open("mysql", base)
				require.NoError(t, err)
				_, err = conn.Exec("CREATE DATABASE " + name)
				require.NoError(t, err)
				t.Cleanup(func() { _, _ = conn.Exec("DROP DATABASE " + name); conn.Close() })
				cfg, err := mysql.ParseDSN(base)
				require.NoError(t, err)
				cfg.DBName = name
				dsn = cfg.FormatDSN()
				_, err = conn.Exec("USE " + name)
				require.NoError(t, err)
			}
			conn.SetMaxOpenConns(1) // keep the session's search_path or database
			for _, q := range []string{
				"CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(100), domain VARCHAR(100), employees INTEGER, updated_at TIMESTAMP NULL)",
				"CREATE TABLE contacts (id INTEGER PRIMARY KEY, email VARCHAR(100), first_name VARCHAR(50), last_name VARCHAR(50), account_id INTEGER, updated_at TIMESTAMP NULL)",
				"INSERT INTO accounts VALUES (1, 'Acme', 'acme.example', 250, '2026-01-05 10:00:00'), (2, 'Globex', 'globex.example', 1200, '2026-01-05 10:00:00'), (3, 'Initech', 'initech.example', 80, NULL)",
				"INSERT INTO contacts VALUES (10, 'Ana@Acme.example', 'Ana', 'Lima', 1, '2026-01-06 09:00:00')",
			} {
				_, err := conn.Exec(q)
				require.NoError(t, err, q)
			}
			env := testEnv(t)
			cfgFile := filepath.Join(t.TempDir(), "acme.yaml")
			require.NoError(t, os.WriteFile(cfgFile, []byte("dsn: '"+dsn+"'\n"), 0o600))
			spec := "../../connectors/" + db.provider + ".yaml"

			r := run(t, env, "preview", "--connector", spec, "--config-file", cfgFile, "--type", "accounts", "--trace")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, 3, strings.Count(r.stdout, "\n"))
			assert.Contains(t, r.stdout, `"id":"1","data":{"name":"Acme","domain":"acme.example","website":null,"industry":null,"employees":250,"country":null,"created_at":null,"updated_at":"2026-01-05T10:00:00Z"}`)
			assert.Contains(t, r.stderr, "→ SQL SELECT * FROM ")
			assert.Contains(t, r.stderr, "accounts page 2: 2 records")

			r = run(t, env, "integrations", "add", "--customer", "acme", "--provider", db.provider, "--config-file", cfgFile)
			require.Equal(t, 0, r.code, r.stderr)
			r = run(t, env, "sync", "--integration", "acme-"+db.provider)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Regexp(t, `accounts\s+succeeded\s+2 pages\s+3 records: 3 new`, r.stdout)
			assert.Regexp(t, `contacts\s+succeeded\s+1 pages\s+1 records: 1 new`, r.stdout)

			_, err = conn.Exec("UPDATE accounts SET employees = 300, updated_at = '2026-02-01 00:00:00' WHERE id = 1")
			require.NoError(t, err)
			r = run(t, env, "sync", "--integration", "acme-"+db.provider)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Regexp(t, `accounts\s+succeeded\s+1 pages\s+1 records: 0 new, 1 updated`, r.stdout)
			assert.Regexp(t, `contacts\s+succeeded\s+0 pages`, r.stdout)

			r = run(t, env, "integrations", "list")
			require.Equal(t, 0, r.code, r.stderr)
			assert.NotContains(t, r.stdout, "ShouldNotShow")
			r = run(t, env, "runs", "list")
			require.Equal(t, 0, r.code, r.stderr)
			assert.NotContains(t, r.stdout, "ShouldNotShow")

			// A table that is not there: exit 1, the reason, no password.
			require.NoError(t, os.WriteFile(cfgFile, []byte("dsn: '"+dsn+"'\naccounts_table: no_such_table\n"), 0o600))
			r = run(t, env, "preview", "--connector", spec, "--config-file", cfgFile, "--type", "accounts")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, "a table in query.from does not exist")
			assert.NotContains(t, r.stderr, "ShouldNotShow")
		})
	}
}
