package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// feed is a mock API of n tickets in pages of size, cursor-paginated, with an
// inclusive updated_since filter, like Zendesk's or most CRMs' list endpoints.
type feed struct {
	n, size  int
	failPage int // answer 500 to this page number (1-based); 0: never
	reversed bool
	requests atomic.Int32
}

func (f *feed) updatedAt(i int) time.Time {
	// Pairs of records share a timestamp, so the inclusive boundary is exercised.
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i/2) * time.Minute)
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Header.Get("X-API-Key") != "secret-key-123" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var since time.Time
	if s := r.URL.Query().Get("updated_since"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	var ids []int
	for i := 0; i < f.n; i++ {
		if !f.updatedAt(i).Before(since) {
			ids = append(ids, i)
		}
	}
	if f.reversed {
		for l, r := 0, len(ids)-1; l < r; l, r = l+1, r-1 {
			ids[l], ids[r] = ids[r], ids[l]
		}
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	page := start/f.size + 1
	if page == f.failPage {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":"boom, key secret-key-123"}`)
		return
	}
	end := min(start+f.size, len(ids))
	var data []map[string]any
	for _, i := range ids[start:end] {
		data = append(data, map[string]any{"id": i, "subject": fmt.Sprintf("ticket %d", i), "updated_at": f.updatedAt(i).Format(time.RFC3339)})
	}
	body := map[string]any{"tickets": data, "next": nil}
	if end < len(ids) {
		body["next"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func connector(t *testing.T, sorted bool) *spec.Connector {
	t.Helper()
	c, err := spec.Load("tickets.yaml", []byte(fmt.Sprintf(`
provider: tickets
config: {url: {}}
credentials: {api_key: {}}
base_url: '${ .config.url }'
auth: {type: api_key, name: X-API-Key}
retries: 0
interaction_types:
  tickets:
    kind: ticket
    request: {path: /tickets}
    records: .tickets[]
    id: .id
    pagination: {type: cursor, next: .next}
    incremental: {cursor: .updated_at, param: updated_since, sorted: %v}
    fields:
      subject: .subject
`, sorted)))
	require.NoError(t, err)
	return c
}

type fixture struct {
	db   *store.Store
	job  Job
	feed *feed
}

func newFixture(t *testing.T, f *feed, sorted bool) *fixture {
	t.Helper()
	return newFixtureParts(t, f, sorted, 0)
}

// newFixtureParts is newFixture with the client's retrieve.Options.PartSize.
func newFixtureParts(t *testing.T, f *feed, sorted bool, partSize int) *fixture {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-tickets", CustomerID: "acme", Provider: "tickets"}, nil, nil))
	conn := connector(t, sorted)
	client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": srv.URL}, Credentials: map[string]any{"api_key": "secret-key-123"}},
		retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, PartSize: partSize})
	require.NoError(t, err)
	return &fixture{db: db, feed: f, job: Job{IntegrationID: "acme-tickets", Connector: conn, Client: client}}
}

func (fx *fixture) storedIDs(t *testing.T) map[string]int {
	t.Helper()
	rows, err := fx.db.DB().Query(`SELECT external_id, COUNT(*) FROM interactions GROUP BY external_id`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	return out
}

// storedOnce checks that n records are stored, none of them twice.
func (fx *fixture) storedOnce(t *testing.T, n int) {
	t.Helper()
	ids := fx.storedIDs(t)
	assert.Len(t, ids, n)
	for id, times := range ids {
		assert.Equal(t, 1, times, id)
	}
}

func (fx *fixture) cursor(t *testing.T) string {
	t.Helper()
	obj, err := fx.db.EnsureObject(context.Background(), "acme-tickets", "tickets")
	require.NoError(t, err)
	return obj.Cursor
}

// Cancelling a sync between pages and running it again stores every record exactly
// once, whether the cursor checkpoints per page (sorted) or per run (unsorted).
func TestCancelBetweenPagesThenResume(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			fx := newFixture(t, &feed{n: 50, size: 10}, sorted)
			ctx, cancel := context.WithCancel(context.Background())
			pages := 0
			s := &Syncer{Store: fx.db, OnPage: func(PageEvent) {
				if pages++; pages == 2 {
					cancel()
				}
			}}
			results, err := s.Sync(ctx, fx.job)
			require.ErrorIs(t, err, context.Canceled)
			require.Len(t, results, 1)
			assert.Equal(t, store.RunCancelled, results[0].Run.Status)
			assert.Len(t, fx.storedIDs(t), 20, "two pages committed before the cancel")
			if sorted {
				assert.Equal(t, fx.feed.updatedAt(19).Format(time.RFC3339Nano), fx.cursor(t), "the cursor covers the committed pages")
			} else {
				assert.Equal(t, "", fx.cursor(t), "an unsorted feed's cursor waits for a successful run")
			}

			results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			run := results[0].Run
			assert.Equal(t, store.RunSucceeded, run.Status)
			ids := fx.storedIDs(t)
			require.Len(t, ids, 50)
			for i := 0; i < 50; i++ {
				assert.Equal(t, 1, ids[strconv.Itoa(i)], "record %d", i)
			}
			assert.Equal(t, 30, run.RecordsNew, "the resumed run adds exactly what was missing")
			if sorted {
				assert.Equal(t, 2, run.RecordsUnchanged, "only the two records sharing the cursor's timestamp are re-read")
			} else {
				assert.Equal(t, 20, run.RecordsUnchanged)
			}
			assert.Equal(t, fx.feed.updatedAt(49).Format(time.RFC3339Nano), fx.cursor(t))
		})
	}
}

// failingStore fails the commit of one page, as a crash inside the transaction would.
type failingStore struct {
	*store.Store
	failOn int
	pages  int
}

func (f *failingStore) CommitPage(ctx context.Context, run int64, obj *store.Object, p store.Page) (store.PageResult, error) {
	if f.pages++; f.pages == f.failOn {
		return store.PageResult{}, errors.New("disk I/O error")
	}
	return f.Store.CommitPage(ctx, run, obj, p)
}

func TestFailedCommitLosesNothing(t *testing.T) {
	fx := newFixture(t, &feed{n: 35, size: 10}, true)
	_, err := (&Syncer{Store: &failingStore{Store: fx.db, failOn: 3}}).Sync(context.Background(), fx.job)
	require.NoError(t, err, "a failing type is reported on its result, not as Sync's error")
	assert.Len(t, fx.storedIDs(t), 20)
	assert.Equal(t, fx.feed.updatedAt(19).Format(time.RFC3339Nano), fx.cursor(t))

	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	fx.storedOnce(t, 35)
}

func TestProviderFailureRecordedRedactedAndCursorHeld(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			fx := newFixture(t, &feed{n: 30, size: 10, failPage: 3}, sorted)
			results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			r := results[0]
			require.Error(t, r.Err)
			assert.Equal(t, store.RunFailed, r.Run.Status)
			assert.Contains(t, r.Run.Error, "HTTP 500")
			assert.NotContains(t, r.Run.Error, "secret-key-123", "the API key the provider echoed is redacted")
			assert.NotContains(t, r.Err.Error(), "secret-key-123")
			if sorted {
				assert.Equal(t, fx.feed.updatedAt(19).Format(time.RFC3339Nano), fx.cursor(t), "never past the failed page")
			} else {
				assert.Equal(t, "", fx.cursor(t))
			}
			obj, err := fx.db.EnsureObject(context.Background(), "acme-tickets", "tickets")
			require.NoError(t, err)
			assert.Equal(t, 1, obj.ConsecutiveFailures)
		})
	}
}

// A feed that is not sorted by cursor (newest first) must not move the cursor past
// records it has not read yet: the cursor only moves when the whole run succeeds.
func TestUnsortedFeedCursorAdvancesOnlyOnSuccess(t *testing.T) {
	fx := newFixture(t, &feed{n: 30, size: 10, reversed: true}, false)
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	assert.Equal(t, fx.feed.updatedAt(29).Format(time.RFC3339Nano), fx.cursor(t))
	assert.Len(t, fx.storedIDs(t), 30)

	// The next run asks from the cursor (inclusive) and re-reads only the boundary.
	fx.feed.requests.Store(0)
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	assert.Equal(t, int32(1), fx.feed.requests.Load())
	assert.Equal(t, 2, results[0].Run.RecordsUnchanged, "the two records sharing the last timestamp")
	assert.Equal(t, 0, results[0].Run.RecordsNew)
}

func TestUnmappableRecordsAreQuarantined(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":1,"at":"2026-01-01T00:00:00Z"},{"id":null,"at":"2026-01-01T00:00:00Z"},{"id":3,"at":"yesterday"},{"id":4,"at":"2026-01-02T00:00:00Z"}]}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	conn, err := spec.Load("q.yaml", []byte(`
provider: q
config: {url: {}}
base_url: '${ .config.url }'
interaction_types:
  items:
    kind: note
    request: {path: /items}
    records: .items[]
    id: .id
    incremental: {cursor: .at}
`))
	require.NoError(t, err)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "q", CustomerID: "c", Provider: "q"}, nil, nil))
	client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": srv.URL}}, retrieve.Options{})
	require.NoError(t, err)
	results, err := (&Syncer{Store: db}).Sync(ctx, Job{IntegrationID: "q", Connector: conn, Client: client})
	require.NoError(t, err)
	run := results[0].Run
	assert.Equal(t, store.RunSucceeded, run.Status)
	assert.Equal(t, 2, run.RecordsNew)
	assert.Equal(t, 2, run.RecordsQuarantined)
	var reasons []string
	rows, err := db.DB().Query(`SELECT COALESCE(external_id, ''), reason FROM quarantine ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id, reason string
		require.NoError(t, rows.Scan(&id, &reason))
		reasons = append(reasons, id+": "+reason)
	}
	assert.Equal(t, []string{
		": id: .id gave null; it must yield a non-empty string or number",
		`3: incremental.cursor: cannot read "yesterday" as a time in format rfc3339`,
	}, reasons)
	obj, err := db.EnsureObject(ctx, "q", "items")
	require.NoError(t, err)
	assert.Equal(t, "2026-01-02T00:00:00Z", obj.Cursor, "quarantined records do not move the cursor")
}

// After the provider refuses the credentials, the other interaction types are not
// tried: they would be refused too, and each attempt is a failed login to its owner.
func TestAuthFailureSkipsRemainingTypes(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	ctx := context.Background()
	conn, err := spec.Load("two.yaml", []byte(`
provider: two
config: {url: {}}
credentials: {token: {}}
base_url: '${ .config.url }'
auth: {type: bearer}
interaction_types:
  a: {kind: note, request: {path: /a}, records: '.[]', id: .id}
  b: {kind: note, request: {path: /b}, records: '.[]', id: .id}
`))
	require.NoError(t, err)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "two.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "i", CustomerID: "c", Provider: "two"}, nil, nil))
	client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": srv.URL}, Credentials: map[string]any{"token": "revoked-token"}}, retrieve.Options{})
	require.NoError(t, err)
	results, err := (&Syncer{Store: db}).Sync(ctx, Job{IntegrationID: "i", Connector: conn, Client: client})
	require.NoError(t, err)
	require.Len(t, results, 2)
	require.NotNil(t, results[0].Run)
	assert.Equal(t, "auth", results[0].Run.ErrorClass)
	assert.Nil(t, results[1].Run, "b never ran")
	assert.ErrorContains(t, results[1].Err, "skipped: the provider refused the credentials while syncing a")
	assert.Equal(t, int32(1), requests.Load())
}
