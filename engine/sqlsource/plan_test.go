package sqlsource

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

func typeOf(t *testing.T, driver, query string) *spec.InteractionType {
	t.Helper()
	c, err := spec.Load("x.yaml", []byte(`
provider: x
source: sql
sql: {driver: `+driver+`}
config: {schema: {default: sales}}
credentials: {dsn: {}}
interaction_types:
  t:
    kind: account
    query: `+query+`
    id: .id
`))
	require.NoError(t, err)
	return c.InteractionTypes.Map["t"]
}

// The statements each dialect gets, by phase. Identifiers are quoted as written; a
// SELECT under from is read as a derived table; cursor and tiebreaker are always
// selected.
func TestStatements(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &value{"time", ts.Format(time.RFC3339Nano)}
	id := &value{"int", "42"}
	cases := []struct {
		name, driver, query string
		rowValues           bool
		build               func(p *plan) stmt
		want                string
	}{
		{"postgres first page", "postgres", "{from: '${ .config.schema }.accounts', select: [name], cursor: updated_at, where: 'deleted = false'}", true,
			func(p *plan) stmt { s, _ := p.after(nil, nil); return s },
			`SELECT "name", "updated_at", "id" FROM "sales"."accounts" WHERE "updated_at" IS NOT NULL AND (deleted = false) ORDER BY "updated_at", "id" LIMIT 1000`},
		{"postgres keyset", "postgres", "{from: accounts, cursor: updated_at, limit: 50}", true,
			func(p *plan) stmt { s, _ := p.after(c, id); return s },
			`SELECT * FROM "accounts" WHERE ("updated_at", "id") > ($1, $2) ORDER BY "updated_at", "id" LIMIT 50 [2026-01-02T03:04:05Z, 42]`},
		{"postgres spelled out", "postgres", "{from: accounts, cursor: updated_at, tiebreaker: uid}", false,
			func(p *plan) stmt { s, _ := p.after(c, &value{"text", "k"}); return s },
			`SELECT * FROM "accounts" WHERE ("updated_at" > $1 OR ("updated_at" = $2 AND "uid" > $3)) ORDER BY "updated_at", "uid" LIMIT 1000 [2026-01-02T03:04:05Z, 2026-01-02T03:04:05Z, k]`},
		{"mysql nulls", "mysql", "{from: accounts, cursor: updated_at}", true,
			func(p *plan) stmt { return p.nulls(id) },
			"SELECT * FROM `accounts` WHERE `updated_at` IS NULL AND `id` > ? ORDER BY `id` LIMIT 1000 [42]"},
		{"mysql subquery", "mysql", `{from: "SELECT a.id, a.name, GREATEST(a.updated_at, b.updated_at) AS changed FROM a JOIN b ON b.id = a.b_id;", cursor: changed}`, true,
			func(p *plan) stmt { return p.since(ts) },
			"SELECT * FROM (SELECT a.id, a.name, GREATEST(a.updated_at, b.updated_at) AS changed FROM a JOIN b ON b.id = a.b_id) AS intake_src WHERE `changed` >= ? ORDER BY `changed`, `id` LIMIT 1000 [2026-01-02T03:04:05Z]"},
		{"full read", "postgres", "{from: accounts}", true,
			func(p *plan) stmt { return p.fullRead(id) },
			`SELECT * FROM "accounts" WHERE "id" > $1 ORDER BY "id" LIMIT 1000 [42]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := typeOf(t, tc.driver, tc.query)
			s := &Source{config: map[string]any{"schema": "sales"}}
			p, err := s.plan(context.Background(), it, dialect{name: tc.driver, rowValues: tc.rowValues})
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.build(p).show())
		})
	}
}

func TestTimeoutPerDialect(t *testing.T) {
	q := "SELECT * FROM `t` LIMIT 1"
	assert.Equal(t, "SELECT /*+ MAX_EXECUTION_TIME(1500) */ * FROM `t` LIMIT 1", dialect{name: "mysql"}.withTimeout(q, 1500*time.Millisecond))
	assert.Equal(t, "SET STATEMENT max_statement_time=1.5 FOR "+q, dialect{name: "mariadb"}.withTimeout(q, 1500*time.Millisecond))
	assert.Equal(t, q, dialect{name: "postgres"}.withTimeout(q, time.Second), "PostgreSQL sets statement_timeout on the transaction")
}

func TestDSNSecrets(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://bob:s3cr%2Ft@db:5432/app":         "s3cr/t",
		"postgres://bob:s3cr3t@db:notaport/app":       "s3cr3t",
		"host=db user=bob password=s3cr3t dbname=app": "s3cr3t",
		"host=db password='se cret' dbname=app":       "se cret",
		"bob:s3cr3t@tcp(db:3306)/app?parseTime=true":  "s3cr3t",
		"bob:p@ss@tcp(db:3306)/app":                   "p@ss",
	} {
		assert.Contains(t, dsnSecrets(dsn), want, dsn)
	}
}

func TestStoredPositionMustParse(t *testing.T) {
	for _, bad := range []string{"2026-01-02T03:04:05Z", `{"cursor":{"t":"time","v":"x"},"tiebreaker":{"t":"int","v":"1"}}`, `{"cursor":{"t":"int","v":"1"}}`, `{"after":1}`} {
		_, err := decodePosition(bad)
		assert.Error(t, err, bad)
	}
	p, err := decodePosition(`{"nulls_after":{"t":"int","v":"3"},"cursor":{"t":"time","v":"2026-01-02T03:04:05.5Z"},"tiebreaker":{"t":"text","v":"a"}}`)
	require.NoError(t, err)
	assert.Equal(t, `{"nulls_after":{"t":"int","v":"3"},"cursor":{"t":"time","v":"2026-01-02T03:04:05.5Z"},"tiebreaker":{"t":"text","v":"a"}}`, p.encode())
	assert.Equal(t, "", position{}.encode(), "no position yet: nothing to store")
}
