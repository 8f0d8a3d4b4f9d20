package connectors_test

// The bundled provider connectors, each run through the real engine (LoadJob, the
// pipeline's Syncer, a SQLite store) against its provider's offline mock in
// internal/providermock: a full sync stores every record exactly once with the
// mapped fields of testdata/providers/PROVIDER.golden, an incremental sync after the
// provider changed reads only what changed, and a rate-limit answer in the middle of
// a sync is obeyed and the sync completes.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/providermock"
)

var update = flag.Bool("update", false, "rewrite testdata/providers/*.golden")

// clockStart is where the mock providers' data clock starts in these tests: after
// every seeded record.
var clockStart = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// newClock is the data clock of a test's mock provider, which the engine's client reads
// too: from clockStart at the real clock's pace, moved ahead by Advance. A client on
// the real clock would see the provider's changes dated before syncs that missed them,
// which a windowed sync (incremental.step) rightly never reads again.
func newClock() *providermock.Clock { return providermock.NewRunningClock(clockStart) }

// fastOverride lifts the spec's pacing for the test: the mocks answer at once and some
// providers' real limits (Zendesk exports: 10 a minute) would make a test take
// minutes. Only the rates change (the integration's, and the endpoints' are dropped);
// the headers the spec reads stay.
const fastOverride = "customer: acme\nprovider: %s\nrate_limit: {requests: 200, per: 1s, burst: 20, endpoints: null}\n"

// providerEnv is one provider's mock, served, and an integration of its bundled
// connector in a fresh store.
type providerEnv struct {
	name  string
	clock *providermock.Clock
	mock  providermock.Mock
	cat   *spec.Catalog
	conn  *spec.Connector
	db    *store.Store
	box   *secret.Box
	id    string
	urls  map[string]string // host → where the mock serves it
}

func newProviderEnv(t *testing.T, name string) *providerEnv {
	t.Helper()
	clock := newClock()
	m, err := providermock.New(name, providermock.Common{Now: clock.Now, RateLimit: -1})
	require.NoError(t, err)
	return newEnvWith(t, m, clock, nil)
}

// newEnvWith serves m and registers an integration with m's values, changed by edit
// when it is not nil.
func newEnvWith(t *testing.T, m providermock.Mock, clock *providermock.Clock, edit func(map[string]any)) *providerEnv {
	t.Helper()
	ctx := context.Background()
	name := m.Provider()
	e := &providerEnv{name: name, clock: clock, mock: m, id: "acme-" + name}
	urls, stop := providermock.Serve(m)
	e.urls = urls
	t.Cleanup(stop)

	var err error
	e.cat = spec.LoadCatalog("", connectors.FS)
	require.Empty(t, e.cat.Problems)
	e.conn, err = e.cat.Get(name)
	require.NoError(t, err)
	e.db, err = store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { e.db.Close() })
	e.box, err = secret.NewBox(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)

	// As `intake integrations add` does: declared names only, defaults applied.
	vals := m.Values()
	if edit != nil {
		edit(vals)
	}
	settings, err := e.conn.ResolveSettings(vals)
	require.NoError(t, err, "the %s mock's values fit connectors/%s.yaml", name, name)
	require.NoError(t, e.db.CreateIntegration(ctx, store.Integration{ID: e.id, CustomerID: "acme", Provider: name, Config: settings.Config}, settings.Credentials, e.box))
	require.NoError(t, e.db.SetIntegrationOverride(ctx, e.id, fmt.Sprintf(fastOverride, name)))
	return e
}

// run runs one sync of the given interaction types (all when none) and returns the
// results, failed ones included.
func (e *providerEnv) run(t *testing.T, types ...string) []pipeline.Result {
	t.Helper()
	ctx := context.Background()
	job, err := pipeline.LoadJob(ctx, e.db, e.cat, e.box, e.id, retrieve.Options{RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond, Now: e.clock.Now})
	require.NoError(t, err)
	job.Types = types
	results, err := (&pipeline.Syncer{Store: e.db}).Sync(ctx, job)
	require.NoError(t, err)
	return results
}

// sync runs one sync of the given interaction types (all when none) and requires each
// to succeed.
func (e *providerEnv) sync(t *testing.T, types ...string) map[string]*store.Run {
	t.Helper()
	runs := map[string]*store.Run{}
	for _, r := range e.run(t, types...) {
		require.NoError(t, r.Err, "%s/%s", e.name, r.Type)
		require.Equal(t, store.RunSucceeded, r.Run.Status, "%s/%s: %s", e.name, r.Type, r.Run.Error)
		runs[r.Type] = r.Run
	}
	return runs
}

// stored counts the rows of each interaction type and reports any external id stored
// more than once.
func (e *providerEnv) stored(t *testing.T) map[string]int {
	t.Helper()
	rows, err := e.db.DB().Query(`SELECT o.interaction_type, i.external_id, COUNT(*) FROM interactions i
		JOIN integration_objects o ON o.id = i.integration_object_id GROUP BY o.interaction_type, i.external_id`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var typ, id string
		var n int
		require.NoError(t, rows.Scan(&typ, &id, &n))
		assert.Equal(t, 1, n, "%s %s stored %d times", typ, id, n)
		out[typ]++
	}
	require.NoError(t, rows.Err())
	return out
}

// quarantined lists quarantined records with their reasons.
func (e *providerEnv) quarantined(t *testing.T) []string {
	t.Helper()
	q, err := e.db.ListQuarantine(context.Background(), store.QuarantineFilter{})
	require.NoError(t, err)
	var out []string
	for _, x := range q {
		out = append(out, x.Type+" "+x.ExternalID+": "+x.Reason)
	}
	return out
}

// golden writes the mapped records of a sample (the first three of each type by
// external id), the per-type counts (deleted rows among them), and how each type's
// references to accounts and contacts resolved.
func (e *providerEnv) golden(t *testing.T, counts map[string]int) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, typ := range e.conn.InteractionTypes.Keys {
		var deleted int
		require.NoError(t, e.db.DB().QueryRow(`SELECT COUNT(*) FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id
			WHERE o.interaction_type = ? AND i.deleted_at IS NOT NULL`, typ).Scan(&deleted))
		fmt.Fprintf(&b, "# %s: %d records (%d deleted), kind %s\n", typ, counts[typ], deleted, e.conn.InteractionTypes.Map[typ].Kind)
		for _, l := range e.links(t, typ) {
			fmt.Fprintf(&b, "#   %s\n", l)
		}
		rows, err := e.db.DB().Query(`SELECT i.external_id, i.data FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id
			WHERE o.interaction_type = ? ORDER BY i.external_id LIMIT 3`, typ)
		require.NoError(t, err)
		for rows.Next() {
			var id, data string
			require.NoError(t, rows.Scan(&id, &data))
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, []byte(data), "", "  "))
			fmt.Fprintf(&b, "%s %s\n", id, pretty.String())
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	// The mock's port changes from run to run.
	out := b.String()
	for host, u := range e.urls {
		out = strings.ReplaceAll(out, u, "http://mock-"+host)
	}
	return []byte(out)
}

// links summarises how the references of one type's records resolved, by role,
// origin and outcome: "account ref crosswalk: 412".
func (e *providerEnv) links(t *testing.T, typ string) []string {
	t.Helper()
	rows, err := e.db.DB().Query(`SELECT k.role, k.origin, COALESCE(k.resolved_by, 'unresolved ' || k.reason), COUNT(*)
		FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id JOIN integration_objects o ON o.id = i.integration_object_id
		WHERE o.interaction_type = ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, typ)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var role, origin, how string
		var n int
		require.NoError(t, rows.Scan(&role, &origin, &how, &n))
		out = append(out, fmt.Sprintf("%s %s %s: %d", role, origin, how, n))
	}
	require.NoError(t, rows.Err())
	return out
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "providers", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run `go test ./connectors -run TestProviders -update` to create it")
	if !bytes.Equal(want, got) {
		gotPath := filepath.Join(os.TempDir(), "intake-"+name+".got")
		_ = os.WriteFile(gotPath, got, 0o644)
		t.Fatalf("mapped records differ from %s; diff %s %s (rerun with -update if the change is intended)", path, path, gotPath)
	}
}

// TestProviders: a full sync, an incremental sync and a sync through a rate-limit
// answer, for every bundled provider against its mock.
func TestProviders(t *testing.T) {
	for _, name := range providermock.Providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("full_then_incremental", func(t *testing.T) { testFullThenIncremental(t, name) })
			t.Run("rate_limited_mid_sync", func(t *testing.T) { testRateLimited(t, name) })
		})
	}
}

func testFullThenIncremental(t *testing.T, name string) {
	e := newProviderEnv(t, name)
	want := e.mock.Counts()
	runs := e.sync(t)
	assert.Empty(t, e.quarantined(t), "no record may be quarantined")
	got := e.stored(t)
	for _, typ := range e.conn.InteractionTypes.Keys {
		assert.Equal(t, want[typ], got[typ], "%s: records stored by the full sync", typ)
		assert.Greater(t, runs[typ].Pages, 1, "%s: the seeded data spans several pages", typ)
	}
	checkGolden(t, name, e.golden(t, got))

	// The provider changes twice: a minute after the first sync, and again 20 minutes
	// later, within the same day (Intercom compares days) and after the cursor the
	// second sync stored. After each change the clock moves on two minutes, since
	// Zendesk holds back the last minute.
	var previous map[string]providermock.Delta
	for round, gap := range []time.Duration{time.Minute, 20 * time.Minute} {
		e.clock.Advance(gap)
		delta := e.mock.Change(3)
		e.clock.Advance(2 * time.Minute)
		e.mock.ResetStats()
		runs = e.sync(t)
		assert.Empty(t, e.quarantined(t))
		got = e.stored(t)
		counts := e.mock.Counts()
		for _, typ := range e.conn.InteractionTypes.Keys {
			r, d := runs[typ], delta[typ]
			assert.Equal(t, counts[typ], got[typ], "round %d %s: records stored", round+2, typ)
			assert.Equal(t, d.Created, r.RecordsNew, "round %d %s: new records", round+2, typ)
			assert.Equal(t, d.Updated, r.RecordsUpdated, "round %d %s: updated records", round+2, typ)
			assert.Equal(t, d.Deleted, r.RecordsDeleted, "round %d %s: deleted records", round+2, typ)
			if e.conn.InteractionTypes.Map[typ].Incremental != nil {
				// Only the changes, plus the records that share the cursor's boundary or
				// fall inside the lookback (a few seeded ones, and the previous round's
				// changes, which share one instant), are read again, besides the records
				// of another type that shares the endpoint, filtered out.
				slack := 8 + previous[typ].Created + previous[typ].Updated
				assert.LessOrEqual(t, r.RecordsUnchanged, slack, "round %d %s: records re-read", round+2, typ)
				// One page, and one of deleted records where an endpoint lists them.
				pages := 1
				if e.conn.InteractionTypes.Map[typ].Deletes.Endpoint() != nil {
					pages = 2
				}
				assert.Equal(t, pages, r.Pages, "round %d %s: pages of the incremental sync", round+2, typ)
			}
		}
		previous = delta
		st := e.mock.Stats()
		assert.Zero(t, st.RateLimited)
		t.Logf("round %d: %d requests, %d records served", round+2, st.Requests, st.Records)
	}
}

func testRateLimited(t *testing.T, name string) {
	e := newProviderEnv(t, name)
	want := e.mock.Counts()
	e.mock.Throttle(2, 1) // the third API request is refused as rate-limited
	start := time.Now()
	e.sync(t)
	st := e.mock.Stats()
	assert.Equal(t, 1, st.RateLimited, "one rate-limit answer")
	assert.Zero(t, st.EarlyRetries, "no request before the wait the provider asked for was over")
	assert.Empty(t, e.quarantined(t))
	got := e.stored(t)
	for _, typ := range e.conn.InteractionTypes.Keys {
		assert.Equal(t, want[typ], got[typ], "%s: every record stored exactly once", typ)
	}
	t.Logf("%d requests, statuses %v, %s", st.Requests, st.Status, time.Since(start).Round(time.Millisecond))
}

// TestProviderDocs: every bundled provider has a page in docs/providers, listed in
// its index, and a mock.
func TestProviderDocs(t *testing.T) {
	index, err := os.ReadFile(filepath.Join("..", "docs", "providers", "README.md"))
	require.NoError(t, err)
	names, err := filepath.Glob("*.yaml")
	require.NoError(t, err)
	for _, n := range names {
		p := strings.TrimSuffix(n, ".yaml")
		if p == "demo-crm" {
			continue
		}
		data, err := os.ReadFile(n)
		require.NoError(t, err)
		conn, err := spec.Load(n, data)
		require.NoError(t, err)
		if conn.Source != spec.SourceHTTP && conn.Source != "" {
			// Databases and files are read for real in their tests (engine/sqlsource,
			// engine/filesource); their guides are docs/sql.md and docs/files.md.
			assert.Contains(t, string(index), "["+n+"]", "docs/providers/README.md lists %s", n)
			continue
		}
		_, err = os.Stat(filepath.Join("..", "docs", "providers", p+".md"))
		assert.NoError(t, err, "docs/providers/%s.md", p)
		assert.Contains(t, string(index), "("+p+".md)", "docs/providers/README.md links %s", p)
		assert.Contains(t, providermock.Providers, p, "internal/providermock has a mock of %s", p)
	}
}
