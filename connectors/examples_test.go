package connectors_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/intakehq/intake/internal/googlemock"
)

// The recipes under examples/ load, and docs/warehouses.md shows each one as it is.
func TestExamplesLoadAndAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/warehouses.md")
	require.NoError(t, err)
	files, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		c, err := spec.LoadFile(f)
		require.NoError(t, err, f)
		assert.Equal(t, strings.TrimSuffix(filepath.Base(f), ".yaml"), c.Provider)
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Contains(t, string(doc), string(data), "docs/warehouses.md must show %s as it is", f)
	}
	rs, err := spec.LoadFile("examples/redshift.yaml")
	require.NoError(t, err)
	assert.False(t, rs.SQL.RowValues(), "Redshift gets keyset conditions spelled out")
}

// bigQuery starts the Google mock with table crm.accounts: n rows in groups of seven
// sharing one timestamp, so that pages of 1000 end inside a group.
func bigQuery(t *testing.T, n int) (*googlemock.Server, []googlemock.Row) {
	t.Helper()
	g := googlemock.New()
	t.Cleanup(g.Close)
	base := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)
	rows := make([]googlemock.Row, n)
	for i := range rows {
		rows[i] = googlemock.Row{ID: int64(i + 1), UpdatedAt: base.Add(time.Duration(i/7) * time.Second),
			Cols: map[string]string{"name": fmt.Sprintf("Account %d", i+1), "domain": fmt.Sprintf("a%d.example", i+1), "employees": "12"}}
	}
	g.SetTable("crm.accounts", []string{"name", "domain", "industry", "employees"}, rows)
	return g, rows
}

func bigQuerySource(g *googlemock.Server) retrieve.Source {
	conn, err := spec.LoadFile("examples/bigquery.yaml")
	if err != nil {
		panic(err)
	}
	return retrieve.Source{Connector: conn,
		Config:      map[string]any{"project": "example-project", "dataset": "crm", "table": "accounts", "api_url": g.URL, "token_url": g.URL + "/token"},
		Credentials: map[string]any{"client_email": g.ClientEmail, "private_key": g.PrivateKeyPEM(), "private_key_id": g.KeyID}}
}

// The BigQuery recipe previews against a mock of jobs.query that answers like the real
// API: a service-account token, rows as {f: [{v}]}, an incomplete job retried.
func TestBigQueryRecipePreview(t *testing.T) {
	g, _ := bigQuery(t, 5)
	g.IncompleteNext(1)
	src := bigQuerySource(g)
	client, err := pipeline.NewClient(context.Background(), src, retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	require.NoError(t, err)
	var got []string
	err = pipeline.Preview(context.Background(), client, src.Connector.InteractionTypes.Map["accounts"], 0, func(m *process.Mapped, err error) error {
		require.NoError(t, err)
		got = append(got, m.ExternalID+" "+string(m.Data))
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 5)
	assert.Equal(t, `1 {"name":"Account 1","domain":"a1.example","industry":null,"employees":12,"updated_at":"2026-03-01T08:00:00Z"}`, got[0])
	qs := g.Queries()
	require.Len(t, qs, 2, "the incomplete job is asked again")
	assert.Contains(t, qs[0]["query"], "FROM `crm.accounts`")
	assert.Equal(t, 1, g.TokensIssued())
}

// Synced with the pipeline, every row is stored once across pages whose boundary
// splits a group of rows sharing a timestamp; the next sync reads only the changes.
func TestBigQueryRecipeSync(t *testing.T) {
	g, rows := bigQuery(t, 2500)
	src := bigQuerySource(g)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-bq", CustomerID: "acme", Provider: "bigquery"}, nil, nil))
	sync := func() *store.Run {
		client, err := pipeline.NewClient(ctx, src, retrieve.Options{})
		require.NoError(t, err)
		results, err := (&pipeline.Syncer{Store: db}).Sync(ctx, pipeline.Job{IntegrationID: "acme-bq", CustomerID: "acme", Connector: src.Connector, Client: client})
		require.NoError(t, err)
		require.NoError(t, results[0].Err)
		return results[0].Run
	}
	run := sync()
	assert.Equal(t, 2500, run.RecordsNew)
	assert.Equal(t, 3, run.Pages)
	n, err := db.CountInteractions(ctx, "acme-bq", "accounts")
	require.NoError(t, err)
	assert.Equal(t, 2500, n)

	// One row changes, two arrive.
	last := rows[len(rows)-1].UpdatedAt
	rows[10].UpdatedAt, rows[10].Cols = last.Add(time.Minute), map[string]string{"name": "Renamed", "domain": "a11.example"}
	rows = append(rows, googlemock.Row{ID: 2501, UpdatedAt: last.Add(time.Minute), Cols: map[string]string{"name": "New"}},
		googlemock.Row{ID: 2502, UpdatedAt: last.Add(2 * time.Minute), Cols: map[string]string{"name": "Newer"}})
	g.SetTable("crm.accounts", []string{"name", "domain", "industry", "employees"}, rows)
	before := len(g.Queries())
	run = sync()
	assert.Equal(t, 2, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsUpdated)
	assert.Equal(t, 1, len(g.Queries())-before, "one query: the changes fit one page")
	n, err = db.CountInteractions(ctx, "acme-bq", "accounts")
	require.NoError(t, err)
	assert.Equal(t, 2502, n)
}
