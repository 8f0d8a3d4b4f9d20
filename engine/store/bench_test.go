package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// benchPage is a page of n contact records of about 1 KB, numbered from first, each
// matched by address and naming its company, as the bench connector's are
// (internal/bench). gen changes their content.
func benchPage(first, n, gen int) Page {
	p := Page{Records: make([]Record, n)}
	for i := range n {
		id := first + i
		email := fmt.Sprintf("person%d@company%d.example", id, id%500)
		data := fmt.Sprintf(`{"email":%q,"name":"Person %d","title":"Title %d","company":"Company %d","gen":%d}`, email, id, gen, id%500, gen)
		raw := fmt.Sprintf(`{"id":"c%d","email":%q,"gen":%d,"pad":"%0800d"}`, id, email, gen, id)
		p.Records[i] = Record{
			ExternalID: fmt.Sprintf("c%d", id), Kind: "contact", Data: []byte(data), Raw: []byte(raw), Hash: fmt.Sprintf("h%d-%d", id, gen),
			Match: &MatchKeys{Entity: EntityContact, Email: email, EmailOrg: fmt.Sprintf("company%d.example", id%500), AccountRef: fmt.Sprintf("co%d", id%500),
				Name: fmt.Sprintf("Person %d", id), Fields: map[string]any{"email": email, "name": fmt.Sprintf("Person %d", id), "title": fmt.Sprintf("Title %d", gen)},
				At: time.Date(2026, 1, 1, 0, 0, gen, 0, time.UTC)},
		}
	}
	return p
}

// BenchmarkCommitPage measures CommitPage on SQLite with pages of 1,000 contacts:
// new records, each creating its contact (upsert and matching); the same records
// unchanged; the same records changed (an update and a survivorship merge each); and
// new records of a second provider matching the first one's contacts by address.
// It reports records/s, and the CPU time a record took, which moves less than the
// wall clock when the machine is busy.
//
//	go test ./engine/store -run '^$' -bench CommitPage -benchtime 20x
func BenchmarkCommitPage(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	cases := []struct {
		name string
		// setup commits what the measured pages find stored; page is the i-th
		// measured page.
		setup func(s *Store, first *Object, pages int)
		page  func(i int) Page
		obj   func(first, second *Object) *Object
	}{
		{"new", nil, func(i int) Page { return benchPage(i*n, n, 0) }, func(f, _ *Object) *Object { return f }},
		{"unchanged", func(s *Store, f *Object, pages int) { commitAll(b, s, f, pages) },
			func(i int) Page { return benchPage(i*n, n, 0) }, func(f, _ *Object) *Object { return f }},
		{"changed", func(s *Store, f *Object, pages int) { commitAll(b, s, f, pages) },
			func(i int) Page { return benchPage(i*n, n, 1) }, func(f, _ *Object) *Object { return f }},
		{"match-other-provider", func(s *Store, f *Object, pages int) { commitAll(b, s, f, pages) },
			func(i int) Page { return benchPage(i*n, n, 0) }, func(_, o *Object) *Object { return o }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for _, id := range []string{"crm-a", "crm-b"} {
				if err := s.CreateIntegration(ctx, Integration{ID: id, CustomerID: "acme", Provider: id}, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			first, err := s.EnsureObject(ctx, "crm-a", "contacts")
			if err != nil {
				b.Fatal(err)
			}
			second, err := s.EnsureObject(ctx, "crm-b", "contacts")
			if err != nil {
				b.Fatal(err)
			}
			if c.setup != nil {
				c.setup(s, first, b.N)
			}
			obj := c.obj(first, second)
			run, err := s.StartRun(ctx, obj)
			if err != nil {
				b.Fatal(err)
			}
			pages := make([]Page, b.N)
			for i := range pages {
				pages[i] = c.page(i)
				pages[i].Prepare(obj.IntegrationID)
			}
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := s.CommitPage(ctx, run, obj, pages[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(n*b.N), "cpu-µs/record")
		})
	}
}

// commitAll stores pages of the bench's records, as first generated, in obj.
func commitAll(b *testing.B, s *Store, obj *Object, pages int) {
	b.Helper()
	ctx := context.Background()
	run, err := s.StartRun(ctx, obj)
	if err != nil {
		b.Fatal(err)
	}
	for i := range pages {
		if _, err := s.CommitPage(ctx, run, obj, benchPage(i*1000, 1000, 0)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.FinishRun(ctx, run, obj, RunSucceeded, "", ""); err != nil {
		b.Fatal(err)
	}
}
