package pipeline

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

var update = flag.Bool("update", false, "rewrite the golden files under the repository's testdata/golden")

// TestDemoSyncGolden syncs the bundled demo connector against the demo CRM on a fixed
// clock, lets the CRM change, syncs again, and compares every stored row and both
// runs' counts with testdata/golden/demo_sync.golden.
func TestDemoSyncGolden(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	crm := democrm.New(democrm.Options{Seed: 42, Now: clock})
	srv := httptest.NewServer(crm.Handler())
	defer srv.Close()

	cat := spec.LoadCatalog("", connectors.FS)
	require.Empty(t, cat.Problems)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "demo.db"), store.WithClock(clock))
	require.NoError(t, err)
	defer db.Close()
	box, err := secret.NewBox(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "demo-crm", CustomerID: "demo", Provider: "demo-crm", Config: map[string]any{"api_url": srv.URL}},
		map[string]any{"api_key": "demo-key"}, box))

	var out bytes.Buffer
	for round := 1; round <= 2; round++ {
		if round == 2 {
			now = now.Add(time.Hour)
			ch := crm.Mutate(7, 4)
			fmt.Fprintf(&out, "# the CRM changed %v and created %v and %d tickets\n", ch.Updated, ch.Created, ch.Tickets)
		}
		job, err := LoadJob(ctx, db, cat, box, "demo-crm", retrieve.Options{Now: clock})
		require.NoError(t, err)
		results, err := (&Syncer{Store: db}).Sync(ctx, job)
		require.NoError(t, err)
		for _, r := range results {
			require.NoError(t, r.Err)
			fmt.Fprintf(&out, "round %d %s: status=%s pages=%d new=%d updated=%d unchanged=%d quarantined=%d cursor=%s\n", round, r.Type, r.Run.Status,
				r.Run.Pages, r.Run.RecordsNew, r.Run.RecordsUpdated, r.Run.RecordsUnchanged, r.Run.RecordsQuarantined, r.Run.CursorAfter)
		}
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT o.interaction_type, i.external_id, i.kind, i.data, COALESCE(i.source_updated_at, ''), i.first_seen_at, i.updated_at
		FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id ORDER BY o.interaction_type, i.external_id`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var typ, id, kind, data, src, first, updated string
		require.NoError(t, rows.Scan(&typ, &id, &kind, &data, &src, &first, &updated))
		fmt.Fprintf(&out, "%s %s %s source_updated_at=%s first_seen_at=%s updated_at=%s %s\n", typ, id, kind, src, first, updated, data)
	}
	require.NoError(t, rows.Err())

	// Accounts and contacts resolved from those records, with their crosswalk.
	ents, err := db.DB().QueryContext(ctx, `SELECT 'account', l.external_id, a.domain, COALESCE(a.name, ''), '' FROM accounts a JOIN entity_links l ON l.entity = 'account' AND l.entity_id = a.id
		UNION ALL SELECT 'contact', l.external_id, COALESCE(c.email, ''), COALESCE(c.name, ''), COALESCE((SELECT la.external_id FROM entity_links la WHERE la.entity = 'account' AND la.entity_id = c.account_id), '')
		FROM contacts c JOIN entity_links l ON l.entity = 'contact' AND l.entity_id = c.id ORDER BY 1, 2`)
	require.NoError(t, err)
	defer ents.Close()
	for ents.Next() {
		var entity, ext, key, name, account string
		require.NoError(t, ents.Scan(&entity, &ext, &key, &name, &account))
		fmt.Fprintf(&out, "%s %s key=%s name=%q account=%s\n", entity, ext, key, name, account)
	}
	require.NoError(t, ents.Err())

	// What every record refers to (interaction_links): a ticket's contact and account,
	// a contact's company, and what each resolved to, or why not.
	links, err := db.DB().QueryContext(ctx, `SELECT o.interaction_type, i.external_id, k.role, k.origin, COALESCE(k.resolved_by, ''), COALESCE(k.reason, ''), COALESCE(k.detail, ''),
		COALESCE(CASE k.role WHEN 'account' THEN (SELECT a.domain FROM accounts a WHERE a.id = k.entity_id) ELSE (SELECT c.email FROM contacts c WHERE c.id = k.entity_id) END, '')
		FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id JOIN integration_objects o ON o.id = i.integration_object_id ORDER BY 1, 2, 3`)
	require.NoError(t, err)
	defer links.Close()
	for links.Next() {
		var typ, ext, role, origin, by, reason, detail, entity string
		require.NoError(t, links.Scan(&typ, &ext, &role, &origin, &by, &reason, &detail, &entity))
		if reason != "" {
			fmt.Fprintf(&out, "link %s %s %s (%s) unresolved: %s: %s\n", typ, ext, role, origin, reason, detail)
			continue
		}
		fmt.Fprintf(&out, "link %s %s %s (%s) = %s by %s\n", typ, ext, role, origin, entity, by)
	}
	require.NoError(t, links.Err())

	golden := filepath.Join("..", "..", "testdata", "golden", "demo_sync.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run `go test ./engine/pipeline -run TestDemoSyncGolden -update` to create it")
	if !bytes.Equal(want, out.Bytes()) {
		got := filepath.Join(t.TempDir(), "demo_sync.got")
		_ = os.WriteFile(got, out.Bytes(), 0o644)
		t.Fatalf("stored rows differ from %s; diff %s %s (rerun with -update if the change is intended)", golden, golden, got)
	}
}
