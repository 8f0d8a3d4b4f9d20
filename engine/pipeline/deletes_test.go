package pipeline

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// deletedAt lists the stored items by external id with their deleted_at ("" while
// they exist).
func (fx *incFixture) deletedAt(t *testing.T) map[string]string {
	t.Helper()
	rows, err := fx.db.ListInteractions(context.Background(), store.InteractionFilter{})
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range rows {
		out[r.ExternalID] = r.DeletedAt
	}
	return out
}

func (fx *incFixture) deleteOps(t *testing.T) []string {
	t.Helper()
	cs, err := fx.db.Changes(context.Background(), store.ChangeFilter{Limit: store.MaxChangeLimit})
	require.NoError(t, err)
	var out []string
	for _, c := range cs {
		if c.Op == store.OpDelete {
			out = append(out, c.ExternalID)
		}
	}
	return out
}

// deletes: {flag}: the record says it is deleted; its row stays, with deleted_at, and
// clears it when the record comes back.
func TestDeletesFlag(t *testing.T) {
	feed := &incFeed{size: 10, order: "asc", filter: ">="}
	for i := range 5 {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * time.Minute), Deleted: i == 4})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, param: since}", "    deletes: {flag: .deleted}"), t0.Add(time.Hour))
	run := fx.sync(t, context.Background(), nil)
	assert.Equal(t, 5, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsDeleted)
	assert.NotEmpty(t, fx.deletedAt(t)["4"])

	feed.add(incRecord{ID: 1, Updated: t0.Add(10 * time.Minute), Deleted: true}, incRecord{ID: 4, Updated: t0.Add(11 * time.Minute)})
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, 1, run.RecordsDeleted)
	got := fx.deletedAt(t)
	assert.NotEmpty(t, got["1"])
	assert.Empty(t, got["4"], "it came back")
	assert.Equal(t, []string{"4", "1"}, fx.deleteOps(t))
	total, _ := fx.rows(t)
	assert.Equal(t, 5, total, "deleted records keep their rows")
}

// deletedFeed is a deleted-records endpoint: the ids deleted at or after since.
type deletedFeed struct {
	mu       sync.Mutex
	deleted  map[int]time.Time
	fail     bool
	requests []string // since of each request
}

func (d *deletedFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	since := r.URL.Query().Get("since")
	d.requests = append(d.requests, since)
	if d.fail {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var s time.Time
	if since != "" {
		s, _ = time.Parse(time.RFC3339, since)
	}
	out := []map[string]any{}
	for id, at := range d.deleted {
		if !at.Before(s) {
			out = append(out, map[string]any{"id": id, "deleted_at": at.Format(time.RFC3339)})
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"deleted": out})
}

// deletes: {request, records, id}: an endpoint listing deletions, read after the main
// request with the same cursor. With it, even a sorted feed's cursor waits for the
// deletions: a failure there leaves the cursor where it was, so the deletions of the
// range are asked for again.
func TestDeletesEndpoint(t *testing.T) {
	feed := &incFeed{size: 3, order: "asc", filter: ">="}
	for i := range 8 {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * time.Minute)})
	}
	dels := &deletedFeed{deleted: map[int]time.Time{}}
	mux := http.NewServeMux()
	mux.Handle("/items", feed)
	mux.Handle("/deleted", dels)
	fx := newIncFixture(t, mux, incSpec("{cursor: .updated_at, param: since, sorted: true}", `    deletes:
      request: {path: /deleted, params: {since: '${ .cursor }'}}
      records: .deleted[]
      id: .id`), t0.Add(time.Hour))
	run := fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, []string{""}, dels.requests, "a first sync without start asks for every deletion")
	last := t0.Add(7 * time.Minute).Format(time.RFC3339Nano)
	assert.Equal(t, last, fx.cursor(t, "items"))

	dels.deleted[2] = t0.Add(20 * time.Minute)
	dels.deleted[99] = t0.Add(20 * time.Minute) // never stored: ignored
	feed.add(incRecord{ID: 8, Updated: t0.Add(21 * time.Minute)})
	dels.fail = true
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunFailed, run.Status)
	assert.Equal(t, 1, run.RecordsNew, "the records of the range are stored")
	assert.Equal(t, last, fx.cursor(t, "items"), "but the cursor waits for the deletions of the range")

	dels.fail = false
	dels.requests = nil
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, []string{t0.Add(7 * time.Minute).Format(time.RFC3339)}, dels.requests, "the same cursor as the main request")
	assert.Equal(t, 1, run.RecordsDeleted)
	assert.NotEmpty(t, fx.deletedAt(t)["2"])
	assert.Equal(t, []string{"2"}, fx.deleteOps(t))
	assert.Equal(t, t0.Add(21*time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"))

	// Listed again: nothing new to mark.
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, 0, run.RecordsDeleted)
}

// A deleted-records endpoint that reads neither .cursor nor .window (HubSpot's list of
// archived records) lists every deletion whatever the range: it is read once per
// sync, after the last window, and a sorted feed's cursor does not wait for it.
func TestDeletesEndpointWithoutRange(t *testing.T) {
	feed := &incFeed{size: 3, order: "asc", filter: ">="}
	for i := range 8 {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * 20 * time.Minute)})
	}
	dels := &deletedFeed{deleted: map[int]time.Time{}}
	mux := http.NewServeMux()
	mux.Handle("/items", feed)
	mux.Handle("/deleted", dels)
	now := t0.Add(4 * time.Hour)
	fx := newIncFixture(t, mux, incSpec("{cursor: .updated_at, param: since, end_param: until, sorted: true, start: '"+t0.Format(time.RFC3339)+"', step: 1h}", `    deletes:
      request: {path: /deleted}
      records: .deleted[]
      id: .id`), now)
	require.False(t, fx.conn.InteractionTypes.Map["items"].Deletes.Ranged())
	run := fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Len(t, feed.queries, 4, "four windows")
	assert.Equal(t, []string{""}, dels.requests, "the deletions once, not per window")

	dels.deleted[2] = now
	feed.add(incRecord{ID: 8, Updated: now.Add(-time.Minute)})
	dels.fail = true
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunFailed, run.Status)
	assert.Equal(t, 1, run.RecordsNew)
	assert.Equal(t, now.Add(-time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"), "the sorted feed's cursor committed with its page")

	dels.fail = false
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, 1, run.RecordsDeleted)
	assert.NotEmpty(t, fx.deletedAt(t)["2"])

	// Reading .window or .cursor anywhere makes the request ranged.
	for _, req := range []string{
		`{path: /deleted, params: {since: '${ .cursor }'}}`,
		`{path: '/deleted/${ .window.start }'}`,
		`{path: /deleted, headers: {X-Since: '${ . | .cursor }'}}`,
	} {
		c, err := spec.Load("feed.yaml", []byte(incSpec("{cursor: .updated_at, param: since}", "    deletes:\n      request: "+req+"\n      records: .deleted[]\n      id: .id")))
		require.NoError(t, err, req)
		assert.True(t, c.InteractionTypes.Map["items"].Deletes.Ranged(), req)
	}
}

// deletes: {reconcile: true}: a full refresh marks what it did not see, but only after
// a sync that succeeded, and never after one that read nothing.
func TestDeletesReconcile(t *testing.T) {
	feed := &incFeed{size: 4, order: "asc"}
	for i := range 10 {
		feed.add(incRecord{ID: i, Updated: t0})
	}
	fx := newIncFixture(t, feed, `
provider: feed
config: {url: {}}
base_url: '${ .config.url }'
retries: 0
interaction_types:
  items:
    kind: item
    request: {path: /items}
    records: .data[]
    id: .id
    filter: .id != 7
    pagination: {type: cursor, next: .next}
    deletes: {reconcile: true}
`, t0)
	run := fx.sync(t, context.Background(), nil)
	assert.Equal(t, 9, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsFiltered)
	assert.Equal(t, 0, run.RecordsDeleted)

	feed.remove(3)
	feed.remove(8)
	feed.with(func() { feed.failPage = 2 + 3 }) // the second page of the second sync
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunFailed, run.Status)
	assert.Equal(t, 0, run.RecordsDeleted, "a failed sync saw only part of the records: it marks nothing")
	assert.Empty(t, fx.deleteOps(t))

	feed.with(func() { feed.failPage = 0 })
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, 2, run.RecordsDeleted)
	assert.ElementsMatch(t, []string{"3", "8"}, fx.deleteOps(t), "7 is filtered out, not deleted")

	// A cancelled sync marks nothing either.
	feed.remove(0)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Syncer{Store: fx.db, OnPage: func(PageEvent) { cancel() }}
	run = fx.sync(t, ctx, s)
	assert.Equal(t, store.RunCancelled, run.Status)
	assert.Equal(t, 0, run.RecordsDeleted)

	// An empty answer is not "everything was deleted".
	var saved []incRecord
	feed.with(func() { saved = feed.records })
	feed.with(func() { feed.records = nil })
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status)
	assert.Equal(t, 0, run.RecordsDeleted)

	// Records come back: their deleted_at is cleared.
	feed.with(func() { feed.records = saved })
	feed.add(incRecord{ID: 3, Updated: t0})
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, 1, run.RecordsDeleted, "0")
	assert.Equal(t, 1, run.RecordsUpdated, "3 is back")
	got := fx.deletedAt(t)
	assert.Empty(t, got["3"])
	assert.NotEmpty(t, got["8"])
	assert.NotEmpty(t, got["0"])
}
