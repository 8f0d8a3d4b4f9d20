package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

// helpdesk is a mock help desk API: 9 tickets, 3 a page, keyset-paginated by an opaque
// cursor in ascending updated_at order. Ticket 5 (on page 2) carries a requester
// email the provider exports as a number, a mapping the ticket schema must catch.
func helpdesk(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/tickets" {
			http.NotFound(w, r)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		var tickets []map[string]any
		for i := start; i < min(start+3, 9); i++ {
			var email any = fmt.Sprintf("user%d@acme.example", i)
			if i == 5 {
				email = 4155550123
			}
			tickets = append(tickets, map[string]any{
				"id": i, "subject": fmt.Sprintf("ticket %d", i), "status": "open",
				"requester":  map[string]any{"email": email},
				"updated_at": time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339),
			})
		}
		body := map[string]any{"tickets": tickets, "next": nil}
		if start+3 < 9 {
			body["next"] = strconv.Itoa(start + 3)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type kindsFixture struct {
	db  *store.Store
	job Job
}

func newKindsFixture(t *testing.T, strict bool) *kindsFixture {
	t.Helper()
	ctx := context.Background()
	srv := helpdesk(t)
	conn, err := spec.Load("helpdesk.yaml", []byte(fmt.Sprintf(`
provider: helpdesk
config: {url: {}}
base_url: '${ .config.url }/api'
retries: 0
interaction_types:
  tickets:
    kind: ticket
    strict: %v
    request: {path: /tickets}
    records: .tickets[]
    id: .id
    pagination: {type: cursor, next: .next}
    incremental: {cursor: .updated_at, sorted: true}
    fields:
      subject: .subject
      status: .status
      requester_email: .requester.email
      updated_at: .updated_at
`, strict)))
	require.NoError(t, err)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-helpdesk", CustomerID: "acme", Provider: "helpdesk"}, nil, nil))
	client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": srv.URL}}, retrieve.Options{})
	require.NoError(t, err)
	return &kindsFixture{db: db, job: Job{IntegrationID: "acme-helpdesk", CustomerID: "acme", Connector: conn, Client: client}}
}

func (fx *kindsFixture) stored(t *testing.T) []string {
	t.Helper()
	rows, err := fx.db.DB().Query(`SELECT external_id FROM interactions ORDER BY CAST(external_id AS INTEGER)`)
	require.NoError(t, err)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	return ids
}

type quarantined struct{ ID, Reason, Raw string }

func (fx *kindsFixture) quarantine(t *testing.T) []quarantined {
	t.Helper()
	rows, err := fx.db.DB().Query(`SELECT COALESCE(external_id, ''), reason, raw FROM quarantine ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []quarantined
	for rows.Next() {
		var q quarantined
		require.NoError(t, rows.Scan(&q.ID, &q.Reason, &q.Raw))
		out = append(out, q)
	}
	return out
}

// A mapped record that does not match its kind's schema is quarantined with the
// violation and its raw payload; the rest of the page and the run go on.
func TestInvalidRecordIsQuarantined(t *testing.T) {
	fx := newKindsFixture(t, false)
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.NoError(t, results[0].Err)
	run := results[0].Run
	assert.Equal(t, store.RunSucceeded, run.Status)
	assert.Equal(t, 8, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsQuarantined)
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "6", "7", "8"}, fx.stored(t))

	q := fx.quarantine(t)
	require.Len(t, q, 1)
	assert.Equal(t, "5", q[0].ID)
	assert.Equal(t, "fields.requester_email: must be an email address (text with an @) or null, not a number", q[0].Reason)
	assert.JSONEq(t, `{"id":5,"subject":"ticket 5","status":"open","requester":{"email":4155550123},"updated_at":"2026-01-01T00:05:00Z"}`, q[0].Raw)
}

// With strict, the first invalid record fails the run as bad data: its page stores
// nothing, and the cursor stays where the pages before it left it.
func TestStrictTypeFailsOnInvalidRecord(t *testing.T) {
	fx := newKindsFixture(t, true)
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Len(t, results, 1)
	r := results[0]
	require.Error(t, r.Err)
	assert.Equal(t, store.RunFailed, r.Run.Status)
	assert.Equal(t, spec.ClassBadData, r.Run.ErrorClass)
	assert.Equal(t, "tickets: page 2: record 5 does not match kind ticket (strict): fields.requester_email: must be an email address (text with an @) or null, not a number", r.Run.Error)
	assert.Equal(t, 3, r.Run.RecordsNew, "page 1 was committed before page 2 failed")
	assert.Equal(t, 0, r.Run.RecordsQuarantined)
	assert.Equal(t, []string{"0", "1", "2"}, fx.stored(t), "nothing of page 2 (tickets 3, 4 and 5) is stored")
	assert.Empty(t, fx.quarantine(t))
	obj, err := fx.db.EnsureObject(context.Background(), "acme-helpdesk", "tickets")
	require.NoError(t, err)
	assert.Equal(t, "2026-01-01T00:02:00Z", obj.Cursor, "the cursor covers page 1 only")
	assert.Equal(t, 1, obj.ConsecutiveFailures)
}

// Every record the bundled demo connector maps matches its built-in kind, whatever
// the demo CRM generates (other seeds than the golden test's, and after changes).
func TestDemoRecordsMatchTheirKinds(t *testing.T) {
	for _, seed := range []int64{1, 7, 2026} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			crm := democrm.New(democrm.Options{Seed: seed, Now: clock})
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
			for round := 1; round <= 2; round++ {
				if round == 2 {
					now = now.Add(time.Hour)
					crm.Mutate(20, 10)
				}
				job, err := LoadJob(ctx, db, cat, box, "demo-crm", retrieve.Options{Now: clock})
				require.NoError(t, err)
				results, err := (&Syncer{Store: db}).Sync(ctx, job)
				require.NoError(t, err)
				for _, r := range results {
					require.NoError(t, r.Err)
					assert.Zero(t, r.Run.RecordsQuarantined, "round %d %s", round, r.Type)
					assert.NotZero(t, r.Run.RecordsNew+r.Run.RecordsUpdated, "round %d %s", round, r.Type)
				}
			}
		})
	}
}
