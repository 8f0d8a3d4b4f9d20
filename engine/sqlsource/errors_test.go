package sqlsource_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/sqlsource"
	"github.com/intakehq/intake/engine/store"
)

const password = "pw-Sekrit-42"

// A wrong DSN, a missing table, a missing column, a query that writes and a query
// that runs too long each fail the sync with a class the failure policy can act on
// and a message that says what to fix, without the password.
func TestFailuresAreClassified(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		seedAccounts(t, b)
		goodSpec := accountsConnector(t, b, true, "")
		cases := []struct {
			name  string
			conn  *spec.Connector
			dsn   string
			class string
			msg   []string // substrings of the run's error
		}{
			{"missing table", loadSpec(t, b, strings.Replace(accountsSpecFor(b), "from: accounts", "from: acounts", 1)), b.dsn,
				spec.ClassPermanent, []string{"acounts", "a table in query.from does not exist"}},
			{"missing column", loadSpec(t, b, strings.Replace(accountsSpecFor(b), "cursor: updated_at", "cursor: modified_at", 1)), b.dsn,
				spec.ClassPermanent, []string{"modified_at", "a column named in query.select, cursor, tiebreaker or where does not exist"}},
			{"bad where", loadSpec(t, b, strings.Replace(accountsSpecFor(b), "limit: 4", "limit: 4, where: 'domain LIKE'", 1)), b.dsn,
				spec.ClassPermanent, []string{"the query is not valid SQL"}},
			{"unreachable server", goodSpec, unreachable(b), spec.ClassTransient, []string{"connect to", "could not be reached"}},
			{"wrong database", goodSpec, otherDatabase(t, b, "intake_no_such_db"), spec.ClassPermanent, []string{"the database named in the DSN does not exist"}},
			{"refused credentials", goodSpec, wrongPassword(t, b), spec.ClassAuth, []string{"refused the user name or password"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, tc.conn, tc.dsn)
				run, err := h.sync(context.Background(), "accounts", nil)
				require.Error(t, err)
				require.NotNil(t, run)
				assert.Equal(t, store.RunFailed, run.Status)
				t.Logf("%s: %s", run.ErrorClass, run.Error)
				assert.Equal(t, tc.class, run.ErrorClass, run.Error)
				for _, m := range tc.msg {
					assert.Contains(t, run.Error, m)
				}
				assert.NotContains(t, run.Error, password)
				assert.NotContains(t, err.Error(), password)
			})
		}
	})
}

func accountsSpecFor(b *backend) string {
	return strings.NewReplacer("%ROWCMP%", "true", "%EXTRA%", "").Replace(accountsSpec)
}

func unreachable(b *backend) string {
	if b.driver == spec.DriverPostgres {
		return "postgres://intake:" + password + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"
	}
	return "intake:" + password + "@tcp(127.0.0.1:1)/test?timeout=2s"
}

// otherDatabase is b's DSN naming another database.
func otherDatabase(t *testing.T, b *backend, name string) string {
	if b.driver == spec.DriverPostgres {
		return strings.Replace(b.dsn, "/test?", "/"+name+"?", 1)
	}
	cfg, err := mysql.ParseDSN(b.dsn)
	require.NoError(t, err)
	cfg.DBName = name
	return cfg.FormatDSN()
}

// wrongPassword is a DSN the server refuses: a role that does not exist (PostgreSQL,
// which may trust local connections whatever the password), or a user that exists
// with another password (MySQL).
func wrongPassword(t *testing.T, b *backend) string {
	if b.driver == spec.DriverPostgres {
		return strings.Replace(b.dsn, "postgres://postgres@", "postgres://intake_nobody:"+password+"@", 1)
	}
	user := uniqueName("intake_u_")
	b.exec(t, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'right-one'", user))
	t.Cleanup(func() { _, _ = b.db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	cfg, err := mysql.ParseDSN(b.dsn)
	require.NoError(t, err)
	cfg.User, cfg.Passwd = user, password
	return cfg.FormatDSN()
}

// Page queries run in read-only transactions with a statement timeout.
func TestReadOnlyAndStatementTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		seedAccounts(t, b)
		sleep, write := "pg_sleep(2)", "nextval('intake_seq')"
		if b.driver == spec.DriverMySQL {
			sleep = "SLEEP(2)"
		} else {
			b.exec(t, "CREATE SEQUENCE intake_seq")
		}
		slow := loadSpec(t, b, fmt.Sprintf(`
provider: testdb
source: sql
sql: {driver: %%DRIVER%%, statement_timeout: 200ms}
credentials: {dsn: {}}
retries: 0
interaction_types:
  accounts:
    kind: account
    query: {from: "SELECT id, updated_at, %s AS slept FROM accounts"}
    id: .id
`, sleep))
		h := newHarness(t, slow, b.dsn)
		run, err := h.sync(context.Background(), "accounts", nil)
		require.Error(t, err)
		assert.Equal(t, spec.ClassTransient, run.ErrorClass, run.Error)
		assert.Contains(t, run.Error, "ran longer than sql.statement_timeout")

		if b.driver == spec.DriverMySQL {
			return // a MySQL SELECT cannot write; START TRANSACTION READ ONLY is the driver's
		}
		writer := loadSpec(t, b, strings.Replace(accountsSpecFor(b), "from: accounts", fmt.Sprintf(`from: "SELECT id, name, domain, updated_at, %s AS n FROM accounts"`, write), 1))
		h = newHarness(t, writer, b.dsn)
		run, err = h.sync(context.Background(), "accounts", nil)
		require.Error(t, err)
		assert.Equal(t, spec.ClassPermanent, run.ErrorClass, run.Error)
		assert.Contains(t, run.Error, "read-only transaction")
	})
}

// A DSN that does not parse is refused before any connection, and its password is
// not in the message.
func TestMalformedDSN(t *testing.T) {
	for _, tc := range []struct{ driver, dsn string }{
		{spec.DriverPostgres, "postgres://bob:" + password + "@db.example:notaport/app"},
		{spec.DriverMySQL, "bob:" + password + "@tcp(db.example:3306/app"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			conn, err := spec.Load("x.yaml", []byte(`
provider: x
source: sql
sql: {driver: `+tc.driver+`}
credentials: {dsn: {}}
interaction_types:
  accounts: {kind: account, query: {from: accounts}, id: .id}
`))
			require.NoError(t, err)
			_, err = sqlsource.New(context.Background(), retrieve.Source{Connector: conn, Credentials: map[string]any{"dsn": tc.dsn}}, sqlsource.Options{})
			require.Error(t, err)
			assert.NotContains(t, err.Error(), password)
			assert.Contains(t, err.Error(), "credentials.dsn is not a")
			var ce *retrieve.ClassError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, spec.ClassPermanent, ce.Class)
		})
	}
}
