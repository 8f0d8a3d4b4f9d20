package pipeline

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

var benchRecords = flag.Int("bench-records", 10000, "records served by the demo CRM in BenchmarkDemoSync (a quarter accounts, a quarter tickets)")

// BenchmarkDemoSync measures a first sync of the demo connector through the whole
// engine: HTTP, JSON decoding, jq mapping, SQLite upserts, account and contact
// matching, ticket linking and the change feed. It reports records/s.
//
//	go test ./engine/pipeline -run '^$' -bench DemoSync -benchtime 1x -bench-records 100000
func BenchmarkDemoSync(b *testing.B) {
	ctx := context.Background()
	accounts, tickets := *benchRecords/4, *benchRecords/4
	crm := democrm.New(democrm.Options{Seed: 7, Accounts: accounts, Contacts: *benchRecords - accounts - tickets, Tickets: max(tickets, -1)})
	srv := httptest.NewServer(crm.Handler())
	defer srv.Close()
	cat := spec.LoadCatalog("", connectors.FS)
	box, err := secret.NewBox(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateIntegration(ctx, store.Integration{ID: "demo-crm", CustomerID: "demo", Provider: "demo-crm", Config: map[string]any{"api_url": srv.URL}},
			map[string]any{"api_key": "demo-key"}, box); err != nil {
			b.Fatal(err)
		}
		job, err := LoadJob(ctx, db, cat, box, "demo-crm", retrieve.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		results, err := (&Syncer{Store: db}).Sync(ctx, job)
		total += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, r := range results {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			n += r.Run.RecordsNew
		}
		if n != *benchRecords {
			b.Fatalf("stored %d records, want %d", n, *benchRecords)
		}
		db.Close()
	}
	b.ReportMetric(float64(*benchRecords*b.N)/total.Seconds(), "records/s")
}
