package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/store"
)

// helpDesk is a mock help desk: tickets paged four at a time with an inclusive
// updated-since filter, and each ticket's comments, paged two at a time.
type helpDesk struct {
	mu       sync.Mutex
	tickets  map[int]deskTicket
	comments int          // per ticket
	removed  map[int]bool // comment ids no longer served
	// failTicket answers 500 to the comments of this ticket; 0: never.
	failTicket int

	// Concurrency: the first `expect` comment requests wait (up to 2s) until that
	// many are in flight at once, so that a bounded fetch reaches exactly its bound;
	// maxInFlight is the most seen.
	expect      int
	inFlight    int
	maxInFlight int
	full        chan struct{}

	commentFetches []int // ticket ids whose first page of comments was asked for
}

type deskTicket struct {
	Subject string
	Updated time.Time
}

func newHelpDesk(n, comments, expect int) *helpDesk {
	d := &helpDesk{tickets: map[int]deskTicket{}, comments: comments, removed: map[int]bool{}, expect: expect, full: make(chan struct{})}
	for i := 1; i <= n; i++ {
		d.tickets[i] = deskTicket{Subject: fmt.Sprintf("ticket %d", i), Updated: t0.Add(time.Duration(i) * time.Minute)}
	}
	if expect <= 1 {
		close(d.full)
	}
	return d
}

func (d *helpDesk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/tickets" {
		d.serveTickets(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/tickets/")
	idText, ok2 := strings.CutSuffix(rest, "/comments")
	id, err := strconv.Atoi(idText)
	if !ok || !ok2 || err != nil {
		http.NotFound(w, r)
		return
	}
	d.mu.Lock()
	first := r.URL.Query().Get("page_token") == ""
	if first {
		d.commentFetches = append(d.commentFetches, id)
	}
	d.inFlight++
	d.maxInFlight = max(d.maxInFlight, d.inFlight)
	if d.inFlight == d.expect {
		select {
		case <-d.full:
		default:
			close(d.full)
		}
	}
	fail := id == d.failTicket
	_, exists := d.tickets[id]
	d.mu.Unlock()
	select {
	case <-d.full:
	case <-time.After(2 * time.Second):
	}
	time.Sleep(2 * time.Millisecond) // overlap with the other fetches
	d.mu.Lock()
	d.inFlight--
	d.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if !exists {
		http.NotFound(w, r)
		return
	}
	d.mu.Lock()
	var all []map[string]any
	for k := range d.comments {
		if !d.removed[id*100+k] {
			all = append(all, map[string]any{"id": id*100 + k, "body": fmt.Sprintf("comment %d on %d", k, id)})
		}
	}
	d.mu.Unlock()
	start, _ := strconv.Atoi(r.URL.Query().Get("page_token"))
	body := map[string]any{"comments": all[min(start, len(all)):min(start+2, len(all))], "next": nil}
	if start+2 < len(all) {
		body["next"] = strconv.Itoa(start + 2)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (d *helpDesk) serveTickets(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	var ids []int
	for id, tk := range d.tickets {
		if !tk.Updated.Before(since) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := d.tickets[ids[i]], d.tickets[ids[j]]
		if !a.Updated.Equal(b.Updated) {
			return a.Updated.Before(b.Updated)
		}
		return ids[i] < ids[j]
	})
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := min(start+4, len(ids))
	out := []map[string]any{}
	for _, id := range ids[start:end] {
		tk := d.tickets[id]
		out = append(out, map[string]any{"id": id, "subject": tk.Subject, "updated_at": tk.Updated.Format(time.RFC3339)})
	}
	body := map[string]any{"tickets": out, "next": nil}
	if end < len(ids) {
		body["next"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (d *helpDesk) fetches() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := append([]int(nil), d.commentFetches...)
	sort.Ints(out)
	return out
}

func (d *helpDesk) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.commentFetches, d.maxInFlight = nil, 0
}

// deskSpec lists comments before tickets: the sync still runs tickets first.
func deskSpec(concurrency int) string {
	return fmt.Sprintf(`
provider: desk
config: {url: {}}
base_url: '${ .config.url }'
retries: 0
interaction_types:
  comments:
    kind: comment
    request: {path: '/tickets/${ .parent.id }/comments'}
    records: .comments[]
    id: .id
    pagination: {type: cursor, next: .next, param: page_token}
    parent:
      type: tickets
      fields: {ticket_id: .id, ticket_subject: .subject}
      concurrency: %d
    fields:
      body: .body
  tickets:
    kind: support_ticket
    request: {path: /tickets}
    records: .tickets[]
    id: .id
    pagination: {type: cursor, next: .next}
    incremental: {cursor: .updated_at, param: since, sorted: true}
    fields: {subject: .subject}
`, concurrency)
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func (fx *incFixture) count(t *testing.T, typ string) int {
	t.Helper()
	n, err := fx.db.CountInteractions(context.Background(), "acme-feed", typ)
	require.NoError(t, err)
	return n
}

// A child type fetches the comments of every ticket, from every page of tickets, with
// every page of each ticket's comments, at most parent.concurrency tickets at once,
// and carries the ticket's fields into each comment. Later syncs fetch only the
// comments of tickets that changed.
func TestChildTypeFetchesEveryParent(t *testing.T) {
	desk := newHelpDesk(10, 3, 3)
	fx := newIncFixture(t, desk, deskSpec(3), t0.Add(time.Hour))
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Len(t, results, 2)
	assert.Equal(t, "tickets", results[0].Type, "the parent type syncs first")
	assert.Equal(t, "comments", results[1].Type)
	require.NoError(t, results[1].Err)
	run := results[1].Run
	assert.Equal(t, store.RunSucceeded, run.Status)
	assert.Equal(t, seq(1, 10), desk.fetches(), "the tickets of all three pages")
	assert.Equal(t, 30, run.RecordsNew, "both pages of comments of each")
	assert.Equal(t, 20, run.Pages)
	assert.Equal(t, 3, desk.maxInFlight, "three tickets at a time, never more")
	assert.Equal(t, 30, fx.count(t, "comments"))

	rows, err := fx.db.ListInteractions(context.Background(), store.InteractionFilter{Type: "comments"})
	require.NoError(t, err)
	var data map[string]any
	for _, r := range rows {
		if r.ExternalID == "702" {
			require.NoError(t, json.Unmarshal(r.Data, &data))
		}
	}
	assert.Equal(t, map[string]any{"body": "comment 2 on 7", "ticket_id": float64(7), "ticket_subject": "ticket 7"}, data)

	// Two tickets change and one is new: only their comments are fetched.
	desk.mu.Lock()
	desk.tickets[2] = deskTicket{Subject: "ticket 2, reopened", Updated: t0.Add(30 * time.Minute)}
	desk.tickets[7] = deskTicket{Subject: "ticket 7", Updated: t0.Add(31 * time.Minute)} // a new comment bumps updated_at
	desk.tickets[11] = deskTicket{Subject: "ticket 11", Updated: t0.Add(32 * time.Minute)}
	desk.mu.Unlock()
	desk.reset()
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 7, 11}, desk.fetches(), "ticket 10, read again at the cursor but unchanged, is not")
	run = results[1].Run
	assert.Equal(t, 3, run.RecordsNew, "ticket 11's")
	assert.Equal(t, 3, run.RecordsUpdated, "ticket 2's: their ticket_subject changed")
	assert.Equal(t, 3, run.RecordsUnchanged, "ticket 7's")

	// Nothing changed: nothing is fetched.
	desk.reset()
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	assert.Empty(t, desk.fetches())
	assert.Equal(t, store.RunSucceeded, results[1].Run.Status)
}

// A parent's pages of children commit together, as a type's own pages do
// (CommitRecords), and the parts of one response count as one page. Each ticket has
// five comments, served two to a response, read in parts of one record.
func TestChildPagesCommitTogether(t *testing.T) {
	desk := newHelpDesk(4, 5, 1)
	fx := newIncFixture(t, desk, deskSpec(1), t0.Add(time.Hour))
	client, err := retrieve.NewClient(context.Background(), retrieve.Source{Connector: fx.conn, Config: map[string]any{"url": fx.url}},
		retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, PartSize: 1})
	require.NoError(t, err)
	fx.job.Client = client
	_, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job) // the tickets
	require.NoError(t, err)
	fx.job.Types = []string{"comments"}
	for _, tc := range []struct {
		name          string
		commitRecords int
		commits       []int
		pages         int
	}{
		{"each part on its own, counted as a page", 0, slices.Repeat([]int{1}, 20), 20},
		{"a ticket's comments at once: three pages", 1000, []int{5, 5, 5, 5}, 12},
		// The second response of each ticket is in both commits: two pages.
		{"three records or more at once", 3, []int{3, 2, 3, 2, 3, 2, 3, 2}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fx.db.DB().Exec(`DELETE FROM interactions WHERE integration_object_id IN (SELECT id FROM integration_objects WHERE interaction_type = 'comments')`)
			require.NoError(t, err)
			_, err = fx.db.DB().Exec(`UPDATE integration_objects SET cursor = NULL WHERE interaction_type = 'comments'`)
			require.NoError(t, err)
			cs := &countingStore{Store: fx.db}
			var events []PageEvent
			var mu sync.Mutex
			s := &Syncer{Store: cs, CommitRecords: tc.commitRecords, CommitWait: time.Hour,
				OnPage: func(e PageEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }}
			results, err := s.Sync(context.Background(), fx.job)
			require.NoError(t, err)
			require.Len(t, results, 1)
			require.NoError(t, results[0].Err)
			assert.Equal(t, tc.commits, cs.commits)
			assert.Equal(t, 20, fx.count(t, "comments"))
			assert.Equal(t, tc.pages, results[0].Run.Pages)
			assert.Len(t, events, tc.pages)
		})
	}
}

// A child sync that fails part-way resumes at the first parent it had not finished:
// the parents before it are not fetched again.
func TestChildTypeResumesAfterTheLastFinishedParent(t *testing.T) {
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			desk := newHelpDesk(10, 3, 0)
			desk.failTicket = 6
			fx := newIncFixture(t, desk, deskSpec(concurrency), t0.Add(time.Hour))
			results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			run := results[1].Run
			require.Equal(t, store.RunFailed, run.Status)
			assert.Contains(t, run.Error, "children of tickets 6: comments: page 1")
			if concurrency == 1 {
				var cur childCursor
				require.NoError(t, json.Unmarshal([]byte(fx.cursor(t, "comments")), &cur))
				assert.NotZero(t, cur.ScanAfter, "the first sync is under way")
				assert.Equal(t, 15, fx.count(t, "comments"), "tickets 1 to 5")
			}

			// Under the lock: a comments request the failed sync gave up on may still
			// be answered.
			desk.mu.Lock()
			desk.failTicket = 0
			desk.mu.Unlock()
			desk.reset()
			results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			require.Equal(t, store.RunSucceeded, results[1].Run.Status, results[1].Run.Error)
			fetched := desk.fetches()
			if concurrency == 1 {
				assert.Equal(t, seq(6, 10), fetched, "resumed at ticket 6, the first not finished")
			} else {
				// Ticket 6's failure cancels the tickets fetched with it, which may be
				// before it: the sync resumes at the first not finished, and fetches
				// each ticket from there on, and none before. (A request the first sync
				// cancelled may still reach the mock after it was reset: hence Compact.)
				require.NotEmpty(t, fetched)
				assert.LessOrEqual(t, fetched[0], 6)
				assert.Equal(t, seq(fetched[0], 10), slices.Compact(fetched))
			}
			assert.Equal(t, 30, fx.count(t, "comments"))
			total, distinct := fx.rows(t)
			assert.Equal(t, total, distinct)
			var after childCursor
			require.NoError(t, json.Unmarshal([]byte(fx.cursor(t, "comments")), &after))
			assert.Zero(t, after.ScanAfter, "the first sync is complete")
			assert.NotZero(t, after.Changes)
		})
	}
}

// Syncing the child type alone uses the parents already stored; a parent deleted at
// the source has no children to fetch.
func TestChildTypeAloneAndDeletedParents(t *testing.T) {
	desk := newHelpDesk(4, 2, 0)
	text := strings.Replace(deskSpec(2), "    fields: {subject: .subject}\n", "    fields: {subject: .subject}\n    deletes: {flag: .subject == \"gone\"}\n", 1)
	fx := newIncFixture(t, desk, text, t0.Add(time.Hour))
	job := fx.job
	job.Types = []string{"comments"}
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), job)
	require.NoError(t, err)
	assert.Equal(t, store.RunSucceeded, results[0].Run.Status)
	assert.Empty(t, desk.fetches(), "no tickets stored yet")

	job.Types = []string{"tickets"}
	_, err = (&Syncer{Store: fx.db}).Sync(context.Background(), job)
	require.NoError(t, err)
	desk.mu.Lock()
	desk.tickets[3] = deskTicket{Subject: "gone", Updated: t0.Add(20 * time.Minute)}
	desk.mu.Unlock()
	_, err = (&Syncer{Store: fx.db}).Sync(context.Background(), job)
	require.NoError(t, err)

	job.Types = []string{"comments"}
	desk.reset()
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), job)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, results[0].Run.Status, results[0].Run.Error)
	assert.Equal(t, []int{1, 2, 4}, desk.fetches(), "every stored ticket but the deleted one")
	assert.Equal(t, 6, fx.count(t, "comments"))
}

func TestParentsFirst(t *testing.T) {
	fx := newIncFixture(t, newHelpDesk(0, 0, 0), deskSpec(1), t0)
	assert.Equal(t, []string{"tickets", "comments"}, ParentsFirst(fx.conn, []string{"comments", "tickets"}))
	assert.Equal(t, []string{"comments"}, ParentsFirst(fx.conn, []string{"comments"}))
}

// deletes: {reconcile: true} on a child type: each parent's children are read in
// full, so the stored children of a re-fetched parent that did not come back are
// deleted, and so are the children of a parent deleted at the source.
func TestChildTypeReconcile(t *testing.T) {
	desk := newHelpDesk(4, 3, 0)
	text := strings.Replace(deskSpec(2), "    fields: {subject: .subject}\n", "    fields: {subject: .subject}\n    deletes: {flag: .subject == \"gone\"}\n", 1)
	text = strings.Replace(text, "    fields:\n      body: .body\n", "    fields:\n      body: .body\n    deletes: {reconcile: true}\n", 1)
	fx := newIncFixture(t, desk, text, t0.Add(time.Hour))
	results, err := (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Equal(t, 12, results[1].Run.RecordsNew)

	desk.mu.Lock()
	desk.removed[201] = true
	desk.tickets[2] = deskTicket{Subject: "ticket 2", Updated: t0.Add(20 * time.Minute)}
	desk.tickets[3] = deskTicket{Subject: "gone", Updated: t0.Add(21 * time.Minute)}
	desk.mu.Unlock()
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	run := results[1].Run
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, 4, run.RecordsDeleted, "201, and the three comments of ticket 3")
	assert.ElementsMatch(t, []string{"3", "201", "300", "301", "302"}, fx.deleteOps(t), "ticket 3 and the comments")

	rows, err := fx.db.ListInteractions(context.Background(), store.InteractionFilter{Type: "comments", Deleted: store.DeletedHide})
	require.NoError(t, err)
	assert.Len(t, rows, 8)
	tickets, err := fx.db.ListInteractions(context.Background(), store.InteractionFilter{Type: "tickets"})
	require.NoError(t, err)
	byExt := map[string]int64{}
	for _, tk := range tickets {
		byExt[tk.ExternalID] = tk.ID
	}
	for _, c := range rows {
		assert.Equal(t, byExt[c.ExternalID[:1]], c.ParentID, "comment %s points at its ticket", c.ExternalID)
	}

	// A comment that comes back is live again.
	desk.mu.Lock()
	delete(desk.removed, 201)
	desk.tickets[2] = deskTicket{Subject: "ticket 2", Updated: t0.Add(30 * time.Minute)}
	desk.mu.Unlock()
	results, err = (&Syncer{Store: fx.db}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	assert.Equal(t, 1, results[1].Run.RecordsUpdated)
	assert.Empty(t, fx.deletedAt(t)["201"])
}

// Preview of a child type fetches parents from the provider (nothing is stored) and
// each parent's children, with the parent's fields, up to the limit.
func TestPreviewChildType(t *testing.T) {
	desk := newHelpDesk(6, 3, 0)
	fx := newIncFixture(t, desk, deskSpec(1), t0.Add(time.Hour))
	var got []string
	err := Preview(context.Background(), fx.job.Client, fx.conn.InteractionTypes.Map["comments"], 7, func(m *process.Mapped, err error) error {
		require.NoError(t, err)
		got = append(got, m.ExternalID+" "+string(m.Data))
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 7)
	assert.Equal(t, `100 {"body":"comment 0 on 1","ticket_id":1,"ticket_subject":"ticket 1"}`, got[0])
	assert.Equal(t, `300 {"body":"comment 0 on 3","ticket_id":3,"ticket_subject":"ticket 3"}`, got[6])
	assert.Equal(t, []int{1, 2, 3}, desk.fetches())
	n, err := fx.db.CountInteractions(context.Background(), "acme-feed", "")
	require.NoError(t, err)
	assert.Zero(t, n)
}
