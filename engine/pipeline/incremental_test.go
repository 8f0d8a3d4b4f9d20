package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// incFeed is a mock list endpoint with an incremental filter, paged by a cursor token
// (the offset into the filtered list, as many APIs' opaque tokens are), serving
// records {id, updated_at}. Its filter, order and failures are what each test needs.
type incFeed struct {
	mu      sync.Mutex
	records []incRecord
	size    int
	// filter is how the since parameter compares: ">=", ">" or "" (ignored: an API
	// without a since filter). until, when sent, is exclusive.
	filter string
	// order: "asc" (updated_at, then id), "desc", or "shuffled" (a fixed
	// permutation: an unsorted feed).
	order string
	// integer: since compares with the id, not updated_at.
	integer bool
	// failPage answers 500 to the n-th page request (1-based, counted over the feed's
	// life); 0: never.
	failPage int
	// failSince answers 500 to any request whose since is this value.
	failSince string

	pageRequests int
	queries      []rng // since and until of each first-page request, in order
}

type incRecord struct {
	ID      int
	Updated time.Time
	Deleted bool
}

type rng struct{ Since, Until string }

func (f *incFeed) add(recs ...incRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		replaced := false
		for i := range f.records {
			if f.records[i].ID == r.ID {
				f.records[i], replaced = r, true
			}
		}
		if !replaced {
			f.records = append(f.records, r)
		}
	}
}

// with changes the feed under its lock: a handler may still be answering a request
// that a cancelled sync gave up on.
func (f *incFeed) with(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

func (f *incFeed) remove(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.records {
		if f.records[i].ID == id {
			f.records = append(f.records[:i], f.records[i+1:]...)
			return
		}
	}
}

func (f *incFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	since, until := q.Get("since"), q.Get("until")
	if q.Get("cursor") == "" {
		f.queries = append(f.queries, rng{since, until})
	}
	f.pageRequests++
	if f.pageRequests == f.failPage || (f.failSince != "" && since == f.failSince) {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var list []incRecord
	for _, rec := range f.records {
		if !f.matches(rec, since, until) {
			continue
		}
		list = append(list, rec)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if !a.Updated.Equal(b.Updated) {
			return a.Updated.Before(b.Updated)
		}
		return a.ID < b.ID
	})
	switch f.order {
	case "desc":
		for l, r := 0, len(list)-1; l < r; l, r = l+1, r-1 {
			list[l], list[r] = list[r], list[l]
		}
	case "shuffled":
		rand.New(rand.NewSource(int64(len(list)))).Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	}
	start, _ := strconv.Atoi(q.Get("cursor"))
	end := min(start+f.size, len(list))
	data := []map[string]any{}
	for _, rec := range list[min(start, len(list)):end] {
		data = append(data, map[string]any{"id": rec.ID, "updated_at": rec.Updated.Format(time.RFC3339), "deleted": rec.Deleted})
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(list) {
		body["next"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (f *incFeed) matches(rec incRecord, since, until string) bool {
	if f.integer {
		if since == "" || f.filter == "" {
			return true
		}
		n, _ := strconv.Atoi(since)
		return rec.ID > n || (f.filter == ">=" && rec.ID == n)
	}
	if since != "" && f.filter != "" {
		s, err := time.Parse(time.RFC3339, since)
		if err != nil {
			panic("since " + since)
		}
		if rec.Updated.Before(s) || (f.filter == ">" && rec.Updated.Equal(s)) {
			return false
		}
	}
	if until != "" {
		u, err := time.Parse(time.RFC3339, until)
		if err != nil {
			panic("until " + until)
		}
		if !rec.Updated.Before(u) {
			return false
		}
	}
	return true
}

func (f *incFeed) firstQueries() []rng {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rng(nil), f.queries...)
}

func (f *incFeed) resetQueries() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries, f.pageRequests = nil, 0
}

// incFixture is a store, a client for srv and a connector whose one type is "items".
type incFixture struct {
	db   *store.Store
	job  Job
	now  time.Time
	conn *spec.Connector
	url  string // the mock's
}

// incSpec is a connector of one interaction type, items, reading /items with the
// given incremental section (and extra keys of the type, indented to its level).
func incSpec(incremental, extra string) string {
	return fmt.Sprintf(`
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
    pagination: {type: cursor, next: .next}
    incremental: %s
    fields:
      updated_at: .updated_at
%s`, incremental, extra)
}

func newIncFixture(t *testing.T, h http.Handler, specText string, now time.Time) *incFixture {
	t.Helper()
	ctx := context.Background()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-feed", CustomerID: "acme", Provider: "feed"}, nil, nil))
	conn, err := spec.Load("feed.yaml", []byte(specText))
	require.NoError(t, err)
	return &incFixture{db: db, now: now, conn: conn, job: fixtureJob(t, conn, srv.URL, now), url: srv.URL}
}

func fixtureJob(t *testing.T, conn *spec.Connector, url string, now time.Time) Job {
	t.Helper()
	client, err := retrieve.NewClient(context.Background(), retrieve.Source{Connector: conn, Config: map[string]any{"url": url}},
		retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return Job{IntegrationID: "acme-feed", CustomerID: "acme", Connector: conn, Client: client}
}

func (fx *incFixture) sync(t *testing.T, ctx context.Context, s *Syncer) *store.Run {
	t.Helper()
	if s == nil {
		s = &Syncer{Store: fx.db}
	}
	results, _ := s.Sync(ctx, fx.job)
	require.NotEmpty(t, results)
	require.NotNil(t, results[0].Run, "%v", results[0].Err)
	return results[len(results)-1].Run
}

// rows counts the stored interactions of items in total and per external id.
func (fx *incFixture) rows(t *testing.T) (total, distinct int) {
	t.Helper()
	require.NoError(t, fx.db.DB().QueryRow(`SELECT COUNT(*), COUNT(DISTINCT external_id) FROM interactions`).Scan(&total, &distinct))
	return total, distinct
}

func (fx *incFixture) cursor(t *testing.T, typ string) string {
	t.Helper()
	obj, err := fx.db.EnsureObject(context.Background(), "acme-feed", typ)
	require.NoError(t, err)
	return obj.Cursor
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The acceptance test of tie safety: 1,000 records share one timestamp, served over
// ten pages by an API whose since filter is inclusive (>=) or strict (>). A sync is
// cut off in the middle (the context cancelled after the fourth page, or the provider
// failing on the fifth), and run again: every record is stored exactly once, whether
// the feed is sorted (the cursor checkpoints per page, at the shared timestamp) or
// not (the cursor waits for a successful run).
func TestThousandRecordsOnOneTimestampSurviveACrash(t *testing.T) {
	for _, tc := range []struct {
		name   string
		order  string
		sorted bool
		filter string // the API's
	}{
		{"sorted inclusive", "asc", true, ">="},
		{"unsorted inclusive", "shuffled", false, ">="},
		{"sorted exclusive", "asc", true, ">"},
		{"unsorted exclusive", "shuffled", false, ">"},
	} {
		for _, crash := range []string{"cancel", "provider failure"} {
			t.Run(tc.name+"/"+crash, func(t *testing.T) {
				feed := &incFeed{size: 100, order: tc.order, filter: tc.filter}
				// 20 older records first, so the cursor has somewhere to come from.
				for i := range 20 {
					feed.add(incRecord{ID: 5000 + i, Updated: t0.Add(-time.Duration(20-i) * time.Minute)})
				}
				for i := range 1000 {
					feed.add(incRecord{ID: i, Updated: t0})
				}
				filter := "inclusive"
				if tc.filter == ">" {
					filter = "exclusive"
				}
				fx := newIncFixture(t, feed, incSpec(fmt.Sprintf("{cursor: .updated_at, param: since, sorted: %v, filter: %s}", tc.sorted, filter), ""), t0.Add(time.Hour))

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s := &Syncer{Store: fx.db}
				if crash == "cancel" {
					pages := 0
					s.OnPage = func(PageEvent) {
						if pages++; pages == 4 {
							cancel()
						}
					}
				} else {
					feed.with(func() { feed.failPage = 5 })
				}
				run := fx.sync(t, ctx, s)
				require.NotEqual(t, store.RunSucceeded, run.Status)
				total, distinct := fx.rows(t)
				assert.Equal(t, 400, total, "four pages committed")
				assert.Equal(t, total, distinct)
				if tc.sorted {
					assert.Equal(t, t0.Format(time.RFC3339Nano), fx.cursor(t, "items"), "the sorted feed checkpointed at the shared timestamp")
				} else {
					assert.Equal(t, "", fx.cursor(t, "items"))
				}

				feed.with(func() { feed.failPage = 0 })
				feed.resetQueries()
				run = fx.sync(t, context.Background(), nil)
				require.Equal(t, store.RunSucceeded, run.Status, run.Error)
				total, distinct = fx.rows(t)
				assert.Equal(t, 1020, total, "every record stored")
				assert.Equal(t, 1020, distinct, "and stored once")
				assert.Equal(t, 620, run.RecordsNew, "the re-run adds exactly what was missing")
				assert.Equal(t, t0.Format(time.RFC3339Nano), fx.cursor(t, "items"))
				if tc.sorted {
					sent := t0.Format(time.RFC3339)
					if tc.filter == ">" {
						sent = t0.Add(-time.Second).Format(time.RFC3339) // one unit below: the ties are read again
					}
					assert.Equal(t, sent, feed.firstQueries()[0].Since)
				}

				// And the next sync re-reads the boundary only, storing nothing new.
				run = fx.sync(t, context.Background(), nil)
				assert.Equal(t, 0, run.RecordsNew)
				assert.Equal(t, 1000, run.RecordsUnchanged)
				total, _ = fx.rows(t)
				assert.Equal(t, 1020, total)
			})
		}
	}
}

// The exclusive test above can fail: the same crash against the strict API, with the
// spec wrongly declaring an inclusive filter, loses the records that share the
// cursor's timestamp (the API answers "> cursor").
func TestStrictAPIDeclaredInclusiveLosesTies(t *testing.T) {
	feed := &incFeed{size: 100, order: "asc", filter: ">"}
	for i := range 1000 {
		feed.add(incRecord{ID: i, Updated: t0})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, param: since, sorted: true}", ""), t0.Add(time.Hour))
	feed.with(func() { feed.failPage = 5 })
	fx.sync(t, context.Background(), nil)
	feed.with(func() { feed.failPage = 0 })
	fx.sync(t, context.Background(), nil)
	total, _ := fx.rows(t)
	assert.Equal(t, 400, total, "600 records lost: the resumed request asked for updated_at > the shared timestamp")
}

// step slices the first backfill into windows; each completed window commits its end,
// so a failure in the third window resumes in the third window, not at the start.
func TestStepWindowsCheckpointAndResume(t *testing.T) {
	feed := &incFeed{size: 5, order: "shuffled", filter: ">="}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 4, 15, 6, 0, 0, 0, time.UTC)
	for i := range 30 {
		// One record every 3.5 days, from January 2 to April 14.
		feed.add(incRecord{ID: i, Updated: start.Add(24*time.Hour + time.Duration(i)*84*time.Hour)})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, param: since, end_param: until, start: 2026-01-01, step: 30d}", ""), now)
	windows := []rng{
		{"2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z"},
		{"2026-01-31T00:00:00Z", "2026-03-02T00:00:00Z"},
		{"2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"2026-04-01T00:00:00Z", "2026-04-15T06:00:00Z"}, // the last window ends now
	}

	feed.with(func() { feed.failSince = windows[2].Since })
	run := fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunFailed, run.Status)
	assert.Equal(t, windows[:3], feed.firstQueries())
	assert.Equal(t, "2026-03-02T00:00:00Z", fx.cursor(t, "items"), "the two completed windows are committed")
	_, stored := fx.rows(t)
	inFirstTwo := 0
	for _, r := range feed.records {
		if r.Updated.Before(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
			inFirstTwo++
		}
	}
	assert.Equal(t, inFirstTwo, stored)

	feed.with(func() { feed.failSince = "" })
	feed.resetQueries()
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, windows[2:], feed.firstQueries(), "resumed in the window it was in")
	total, distinct := fx.rows(t)
	assert.Equal(t, 30, total)
	assert.Equal(t, 30, distinct)
	assert.Equal(t, feed.records[29].Updated.Format(time.RFC3339Nano), fx.cursor(t, "items"), "the last window commits the newest record's cursor")
	assert.Equal(t, 30-inFirstTwo, run.RecordsNew)

	// The next sync is one range, from the cursor to now: no more windows.
	feed.resetQueries()
	fx.sync(t, context.Background(), nil)
	assert.Equal(t, []rng{{feed.records[29].Updated.Format(time.RFC3339), "2026-04-15T06:00:00Z"}}, feed.firstQueries())
}

// The window is also there for templates: .window.start and .window.end, formatted
// like the cursor (here unix seconds).
func TestWindowTemplateVars(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Query().Get("range"))
		mu.Unlock()
		fmt.Fprint(w, `{"data":[]}`)
	})
	now := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	fx := newIncFixture(t, srv, `
provider: feed
config: {url: {}}
base_url: '${ .config.url }'
interaction_types:
  items:
    kind: item
    request:
      path: /items
      params: {range: '${ .window.start }..${ .window.end }'}
    records: .data[]
    id: .id
    incremental: {cursor: .at, format: unix, initial_window: 20d, step: 7d}
`, now)
	run := fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	day := func(d int) int64 { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Unix() }
	assert.Equal(t, []string{
		fmt.Sprintf("%d..%d", day(0), day(7)), // December 31: now less 20 days
		fmt.Sprintf("%d..%d", day(7), day(14)),
		fmt.Sprintf("%d..%d", day(14), day(20)),
	}, got)
	assert.Equal(t, "2026-01-14T00:00:00Z", fx.cursor(t, "items"), "no records at all: the cursor is the end of the last complete window")
}

// initial_window: a first sync starts at now less the window when that is later than
// start; customers may change it in an override.
func TestInitialWindow(t *testing.T) {
	feed := &incFeed{size: 50, order: "asc", filter: ">="}
	now := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	text := incSpec("{cursor: .updated_at, param: since, start: 2020-01-01, initial_window: 90d}", "")
	fx := newIncFixture(t, feed, text, now)
	fx.sync(t, context.Background(), nil)
	assert.Equal(t, []rng{{Since: "2026-04-01T00:00:00Z"}}, feed.firstQueries(), "now less 90 days")

	// start later than now less the window wins.
	feed.resetQueries()
	fx2 := newIncFixture(t, feed, incSpec("{cursor: .updated_at, param: since, start: 2026-06-01, initial_window: 90d}", ""), now)
	fx2.sync(t, context.Background(), nil)
	assert.Equal(t, []rng{{Since: "2026-06-01T00:00:00Z"}}, feed.firstQueries())

	// A customer's override.
	base, err := spec.Load("feed.yaml", []byte(text))
	require.NoError(t, err)
	ov, err := spec.ParseOverride("customers/acme/feed.yaml", []byte("customer: acme\nprovider: feed\ninteraction_types:\n  items:\n    incremental:\n      initial_window: 7d\n"))
	require.NoError(t, err)
	l, err := spec.Apply(base, ov)
	require.NoError(t, err)
	feed.resetQueries()
	srv := httptest.NewServer(feed)
	defer srv.Close()
	job := fixtureJob(t, l.Connector, srv.URL, now)
	_, err = (&Syncer{Store: fx.db}).SyncType(context.Background(), job, l.Connector.InteractionTypes.Map["items"])
	require.NoError(t, err)
	assert.Equal(t, []rng{{Since: "2026-06-23T00:00:00Z"}}, feed.firstQueries())
}

// client_side: the API has no since filter, so every sync receives everything; the
// engine drops what is older than the cursor (counted as filtered) and stores the rest.
func TestClientSideFilter(t *testing.T) {
	feed := &incFeed{size: 10, order: "shuffled", filter: ""}
	for i := range 30 {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * time.Minute)})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, client_side: true, lookback: 2m}", ""), t0.Add(time.Hour))
	run := fx.sync(t, context.Background(), nil)
	assert.Equal(t, 30, run.RecordsNew)
	assert.Equal(t, 0, run.RecordsFiltered)
	assert.Equal(t, t0.Add(29*time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"))

	feed.add(incRecord{ID: 30, Updated: t0.Add(40 * time.Minute)}, incRecord{ID: 3, Updated: t0.Add(41 * time.Minute)})
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, 1, run.RecordsNew, "30")
	assert.Equal(t, 1, run.RecordsUpdated, "3, changed")
	assert.Equal(t, 3, run.RecordsUnchanged, "27, 28 and 29: within the lookback")
	assert.Equal(t, 26, run.RecordsFiltered, "older than the cursor less the lookback")
	assert.Equal(t, t0.Add(41*time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"))
	total, distinct := fx.rows(t)
	assert.Equal(t, 31, total)
	assert.Equal(t, 31, distinct)
}

// order: desc: a newest-first feed stops paging at the first page that reaches records
// older than the cursor, and commits its cursor only when the sync succeeds.
func TestNewestFirstStopsAtTheCursor(t *testing.T) {
	feed := &incFeed{size: 10, order: "desc", filter: ""}
	for i := range 50 {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * time.Minute)})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, order: desc}", ""), t0.Add(time.Hour))
	run := fx.sync(t, context.Background(), nil)
	assert.Equal(t, 50, run.RecordsNew)
	assert.Equal(t, 5, run.Pages, "every page: there is no cursor to stop at yet")

	feed.add(incRecord{ID: 50, Updated: t0.Add(51 * time.Minute)}, incRecord{ID: 51, Updated: t0.Add(52 * time.Minute)}, incRecord{ID: 7, Updated: t0.Add(53 * time.Minute)})
	feed.resetQueries()
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, 1, feed.pageRequests, "the first page already reaches records older than the cursor")
	assert.Equal(t, 2, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsUpdated)
	assert.Equal(t, 1, run.RecordsUnchanged, "49, at the cursor")
	assert.Equal(t, 6, run.RecordsFiltered, "the rest of the page")
	assert.Equal(t, t0.Add(53*time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"))

	// Interrupted after its first page, a newest-first sync keeps its old cursor: the
	// pages it did not read are older than the ones it did.
	for i := 100; i < 125; i++ {
		feed.add(incRecord{ID: i, Updated: t0.Add(time.Duration(i) * time.Minute)})
	}
	feed.resetQueries()
	feed.with(func() { feed.failPage = 2 })
	run = fx.sync(t, context.Background(), nil)
	assert.Equal(t, store.RunFailed, run.Status)
	assert.Equal(t, t0.Add(53*time.Minute).Format(time.RFC3339Nano), fx.cursor(t, "items"))
	feed.with(func() { feed.failPage = 0 })
	run = fx.sync(t, context.Background(), nil)
	require.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, 15, run.RecordsNew)
	total, distinct := fx.rows(t)
	assert.Equal(t, 77, total)
	assert.Equal(t, 77, distinct)
}

// format: integer: an ascending id cursor, stored as a decimal and sent as one.
func TestIntegerCursor(t *testing.T) {
	for _, filter := range []string{">=", ">"} {
		t.Run(filter, func(t *testing.T) {
			feed := &incFeed{size: 10, order: "asc", filter: filter, integer: true}
			for i := 1; i <= 25; i++ {
				feed.add(incRecord{ID: i, Updated: t0})
			}
			kw := "inclusive"
			if filter == ">" {
				kw = "exclusive"
			}
			fx := newIncFixture(t, feed, incSpec("{cursor: .id, format: integer, param: since, start: 5, sorted: true, filter: "+kw+"}", ""), t0)
			feed.with(func() { feed.failPage = 3 })
			run := fx.sync(t, context.Background(), nil)
			assert.Equal(t, store.RunFailed, run.Status)
			assert.Equal(t, "24", fx.cursor(t, "items"), "two pages of ten from 5: 5..24")
			feed.with(func() { feed.failPage = 0 })
			feed.resetQueries()
			run = fx.sync(t, context.Background(), nil)
			require.Equal(t, store.RunSucceeded, run.Status, run.Error)
			sent := "24"
			if filter == ">" {
				sent = "23"
			}
			assert.Equal(t, []rng{{Since: sent}}, feed.firstQueries())
			assert.Equal(t, "25", fx.cursor(t, "items"))
			total, distinct := fx.rows(t)
			assert.Equal(t, 21, total, "5..25")
			assert.Equal(t, 21, distinct)
			assert.Equal(t, 1, run.RecordsNew)
			assert.Equal(t, 1, run.RecordsUnchanged, "24, the boundary")
		})
	}
}

// A stored cursor that no longer fits the spec (its format changed) fails the sync
// with a clear error instead of being misread.
func TestStoredCursorOfAnotherFormat(t *testing.T) {
	feed := &incFeed{size: 10, order: "asc", filter: ">="}
	fx := newIncFixture(t, feed, incSpec("{cursor: .id, format: integer, param: since}", ""), t0)
	obj, err := fx.db.EnsureObject(context.Background(), "acme-feed", "items")
	require.NoError(t, err)
	run, err := fx.db.StartRun(context.Background(), obj)
	require.NoError(t, err)
	_, err = fx.db.CommitPage(context.Background(), run, obj, store.Page{Cursor: "2026-01-01T00:00:00Z"})
	require.NoError(t, err)
	_, err = (&Syncer{Store: fx.db}).SyncType(context.Background(), fx.job, fx.conn.InteractionTypes.Map["items"])
	assert.ErrorContains(t, err, `acme-feed/items: stored cursor "2026-01-01T00:00:00Z" is not an integer (the cursor has format integer)`)
}

// A preview reads the windows a first sync would, newest first, so that a limit is met
// by recent records without paging through years of empty windows.
func TestPreviewReadsNewestWindowFirst(t *testing.T) {
	feed := &incFeed{size: 5, order: "asc", filter: ">="}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 4, 15, 6, 0, 0, 0, time.UTC)
	for i := range 30 {
		feed.add(incRecord{ID: i, Updated: start.Add(24*time.Hour + time.Duration(i)*84*time.Hour)})
	}
	fx := newIncFixture(t, feed, incSpec("{cursor: .updated_at, param: since, end_param: until, start: 2026-01-01, step: 30d}", ""), now)
	var ids []string
	err := Preview(context.Background(), fx.job.Client, fx.conn.InteractionTypes.Map["items"], 3, func(m *process.Mapped, err error) error {
		require.NoError(t, err)
		ids = append(ids, m.ExternalID)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []rng{{"2026-04-01T00:00:00Z", "2026-04-15T06:00:00Z"}}, feed.firstQueries(), "the last window alone holds enough")
	assert.Equal(t, []string{"26", "27", "28"}, ids)
	total, _ := fx.rows(t)
	assert.Zero(t, total, "nothing stored")
}
