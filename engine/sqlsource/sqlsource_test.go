package sqlsource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

const accountsSpec = `
provider: testdb
source: sql
sql: {driver: %DRIVER%, statement_timeout: 10s, row_comparison: %ROWCMP%}
credentials: {dsn: {}}
retries: 0
interaction_types:
  accounts:
    kind: account
    query: {from: accounts, select: [id, name, domain], cursor: updated_at, limit: 4%EXTRA%}
    id: .id
    fields:
      name: .name
      domain: .domain
      updated_at: .updated_at
`

func accountsConnector(t *testing.T, b *backend, rowCmp bool, extra string) *spec.Connector {
	y := strings.ReplaceAll(accountsSpec, "%ROWCMP%", strconv.FormatBool(rowCmp))
	return loadSpec(t, b, strings.ReplaceAll(y, "%EXTRA%", extra))
}

// seedAccounts creates accounts with 20 rows, inserted in random order: ids 1-3 have
// no updated_at, ids 4-13 share t0 (so pages of 4 split the tie), ids 14-20 follow a
// minute apart.
func seedAccounts(t *testing.T, b *backend) {
	t.Helper()
	b.exec(t, fmt.Sprintf("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name %s, domain %s, updated_at %s NULL)", b.text, b.text, b.timestamp))
	ids := rand.Perm(20)
	for _, i := range ids {
		id := i + 1
		var ts any
		switch {
		case id >= 14:
			ts = t0.Add(time.Duration(id-13) * time.Minute)
		case id >= 4:
			ts = t0
		}
		b.exec(t, "INSERT INTO accounts (id, name, domain, updated_at) VALUES (?, ?, ?, ?)", id, fmt.Sprintf("Account %d", id), fmt.Sprintf("a%d.example", id), ts)
	}
}

func requireOnce(t *testing.T, h *harness, n int) map[string]string {
	t.Helper()
	count, data := h.stored()
	require.Len(t, count, n)
	for id, c := range count {
		assert.Equal(t, 1, c, "account %s stored %d times", id, c)
	}
	return data
}

// A table read in pages of 4 while ten rows share one timestamp, three have none, and
// rows change between syncs: every row is stored exactly once, changed rows are picked
// up, and an idle sync reads nothing. With row-value comparison and without.
func TestKeysetSyncStoresEachRowOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, rowCmp := range []bool{true, false} {
			t.Run(fmt.Sprintf("row_comparison=%v", rowCmp), func(t *testing.T) {
				b.exec(t, "DROP TABLE IF EXISTS accounts")
				seedAccounts(t, b)
				h := newHarness(t, accountsConnector(t, b, rowCmp, ""), b.dsn)
				ctx := context.Background()

				run, err := h.sync(ctx, "accounts", nil)
				require.NoError(t, err)
				assert.Equal(t, store.RunSucceeded, run.Status)
				assert.Equal(t, 20, run.RecordsNew)
				assert.Equal(t, 6, run.Pages, "one page of the 3 NULL rows, then 17 rows in pages of 4")
				data := requireOnce(t, h, 20)
				assert.JSONEq(t, fmt.Sprintf(`{"name":"Account 7","domain":"a7.example","updated_at":%q}`, t0.Format(time.RFC3339Nano)), data["7"])
				assert.JSONEq(t, `{"name":"Account 2","domain":"a2.example","updated_at":null}`, data["2"])
				var pos map[string]any
				require.NoError(t, json.Unmarshal([]byte(h.cursor("accounts")), &pos))
				assert.Equal(t, map[string]any{
					"nulls_after": map[string]any{"t": "int", "v": "3"},
					"cursor":      map[string]any{"t": "time", "v": t0.Add(7 * time.Minute).Format(time.RFC3339Nano)},
					"tiebreaker":  map[string]any{"t": "int", "v": "20"},
				}, pos)

				// Between syncs: a row of the tie changes, a NULL row gets a timestamp, a
				// row with no timestamp and one with a new timestamp are added.
				t1 := t0.Add(time.Hour)
				b.exec(t, "UPDATE accounts SET name = ?, updated_at = ? WHERE id = ?", "Account 5 renamed", t1, 5)
				b.exec(t, "UPDATE accounts SET domain = ?, updated_at = ? WHERE id = ?", "two.example", t1, 2)
				b.exec(t, "INSERT INTO accounts (id, name, domain, updated_at) VALUES (?, ?, ?, ?)", 21, "Account 21", "a21.example", nil)
				b.exec(t, "INSERT INTO accounts (id, name, domain, updated_at) VALUES (?, ?, ?, ?)", 22, "Account 22", "a22.example", t1)

				run, err = h.sync(ctx, "accounts", nil)
				require.NoError(t, err)
				assert.Equal(t, 2, run.RecordsNew, "rows 21 and 22")
				assert.Equal(t, 2, run.RecordsUpdated, "rows 5 and 2")
				assert.Equal(t, 0, run.RecordsUnchanged, "nothing is read twice")
				data = requireOnce(t, h, 22)
				assert.Contains(t, data["5"], "Account 5 renamed")
				assert.Contains(t, data["2"], "two.example")

				run, err = h.sync(ctx, "accounts", nil)
				require.NoError(t, err)
				assert.Equal(t, 0, run.Pages, "an idle sync reads no rows")
				requireOnce(t, h, 22)
			})
		}
	})
}

// Cancelled after two pages, a sync resumes after the last committed page: the second
// run reads only what the first did not commit.
func TestResumeAfterCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		seedAccounts(t, b)
		h := newHarness(t, accountsConnector(t, b, true, ""), b.dsn)
		ctx, cancel := context.WithCancel(context.Background())
		pages := 0
		_, err := h.sync(ctx, "accounts", func(pipeline.PageEvent) {
			if pages++; pages == 2 {
				cancel()
			}
		})
		require.ErrorIs(t, err, context.Canceled)
		requireOnce(t, h, 7) // the 3 NULL rows, then 4

		run, err := h.sync(context.Background(), "accounts", nil)
		require.NoError(t, err)
		assert.Equal(t, 13, run.RecordsNew)
		assert.Equal(t, 0, run.RecordsUnchanged, "the resumed sync starts after the committed page")
		requireOnce(t, h, 20)
	})
}

// With lookback, a row committed late with a timestamp below the stored cursor is still
// read; rows inside the window are read again and skipped as unchanged.
func TestLookbackCatchesLateRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		seedAccounts(t, b)
		h := newHarness(t, accountsConnector(t, b, true, ", lookback: 3m"), b.dsn)
		_, err := h.sync(context.Background(), "accounts", nil)
		require.NoError(t, err)
		// Stored cursor: t0+7m. A row appears at t0+5m30s.
		b.exec(t, "INSERT INTO accounts (id, name, domain, updated_at) VALUES (?, ?, ?, ?)", 30, "Late", "late.example", t0.Add(5*time.Minute+30*time.Second))
		run, err := h.sync(context.Background(), "accounts", nil)
		require.NoError(t, err)
		assert.Equal(t, 1, run.RecordsNew)
		assert.Equal(t, 4, run.RecordsUnchanged, "rows at t0+4m..t0+7m are re-read")
		requireOnce(t, h, 21)
	})
}

// Without a cursor every sync reads the whole table, keyset on the tiebreaker, and
// keeps no position.
func TestFullReadWithoutCursor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		seedAccounts(t, b)
		conn := loadSpec(t, b, `
provider: testdb
source: sql
sql: {driver: %DRIVER%}
credentials: {dsn: {}}
interaction_types:
  accounts:
    kind: account
    query: {from: accounts, limit: 6, where: "domain <> 'a1.example'"}
    id: .id
    fields: {name: .name, domain: .domain}
`)
		h := newHarness(t, conn, b.dsn)
		for i := 0; i < 2; i++ {
			run, err := h.sync(context.Background(), "accounts", nil)
			require.NoError(t, err)
			assert.Equal(t, 4, run.Pages)
			assert.Equal(t, 19, run.RecordsNew+run.RecordsUnchanged, "sync %d", i)
		}
		requireOnce(t, h, 19)
		assert.Equal(t, "", h.cursor("accounts"))
	})
}

// Column values become the JSON an API would send: exact numbers, RFC 3339 times,
// dates, booleans, decoded JSON, binary as base64, NULL as null.
func TestRowValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		b.exec(t, fmt.Sprintf(`CREATE TABLE things (
			id BIGINT PRIMARY KEY, label %s, amount DECIMAL(20,4), ratio DOUBLE PRECISION, big BIGINT,
			active %s, born DATE, seen_at %s, doc %s, raw %s, missing %s NULL)`,
			b.text, b.boolean, b.timestamp, b.jsonType, b.bytes, b.text))
		b.exec(t, "INSERT INTO things VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			1, "héllo", "12345678901234.5678", 0.25, int64(9007199254740993), true, time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC), t0,
			`{"a": [1, 2.5, "x"]}`, []byte{0, 1, 2, 255}, nil)
		conn := loadSpec(t, b, `
provider: testdb
source: sql
sql: {driver: %DRIVER%}
credentials: {dsn: {}}
interaction_types:
  things:
    kind: thing
    query: {from: things, cursor: seen_at}
    id: .id
`)
		src, err := pipeline.NewClient(context.Background(), retrieve.Source{Connector: conn, Credentials: map[string]any{"dsn": b.dsn}}, retrieve.Options{})
		require.NoError(t, err)
		var got []string
		err = pipeline.Preview(context.Background(), src, conn.InteractionTypes.Map["things"], 0, func(m *process.Mapped, err error) error {
			require.NoError(t, err)
			got = append(got, string(m.Data))
			return nil
		})
		require.NoError(t, err)
		require.Len(t, got, 1)
		active, doc := `true`, `{"a":[1,2.5,"x"]}`
		if b.driver == spec.DriverMySQL {
			active = `1` // MySQL's BOOLEAN is TINYINT(1)
			var version string
			require.NoError(t, b.db.QueryRow("SELECT VERSION()").Scan(&version))
			if strings.Contains(version, "MariaDB") {
				doc = `"{\"a\": [1, 2.5, \"x\"]}"` // MariaDB's JSON is LONGTEXT
			}
		}
		assert.JSONEq(t, fmt.Sprintf(`{"id":1,"label":"héllo","amount":12345678901234.5678,"ratio":0.25,"big":9007199254740993,
			"active":%s,"born":"2020-02-29","seen_at":%q,"doc":%s,"raw":"AAEC/w==","missing":null}`, active, t0.Format(time.RFC3339Nano), doc), got[0])
		assert.Contains(t, got[0], `"amount":12345678901234.5678`, "decimals stay exact")
		assert.Contains(t, got[0], `"big":9007199254740993`, "bigints stay exact")
	})
}
