package daemon_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/mockapi"
	"github.com/intakehq/intake/internal/pgtest"
)

// The daemon end to end on SQLite: three customers, three providers (two CRMs with
// API keys, an OAuth2 API), integrations created through the admin API, synced on
// their own, then driven through the API: sync now, disable, enable, delete; the
// metrics and the per-run log lines say what happened.
func TestDaemonEndToEnd(t *testing.T) {
	e := newEnv(t)
	testEndToEnd(t, e, filepath.Join(e.dir, "intake.db"))
}

// The same on PostgreSQL.
func TestDaemonEndToEndPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	testEndToEnd(t, newEnv(t), dsn)
}

func testEndToEnd(t *testing.T, e *env, dsn string) {
	crmA, crmB := newCRM(1, 30, 60), newCRM(2, 20, 40)
	items := mockapi.New(mockapi.Options{Records: 45, PageSize: 10})
	urlA, urlB, urlItems := serve(t, crmA.Handler()), serve(t, crmB.Handler()), serve(t, items.Handler())
	e.write("connectors/crm-a.yaml", crmSpec(t, "crm-a", "1h"))
	e.write("connectors/crm-b.yaml", crmSpec(t, "crm-b", "1h"))
	e.write("connectors/items.yaml", itemsSpec("items", "1h"))
	e.write("customers/acme/crm-a.yaml", "customer: acme\nprovider: crm-a\nsync_every: 2h\n")
	cfg := e.config(dsn, "")

	var runsMu sync.Mutex
	var events []daemon.RunEvent
	d, stop := e.start(cfg, daemon.Options{OnRun: func(ev daemon.RunEvent) {
		runsMu.Lock()
		events = append(events, ev)
		runsMu.Unlock()
	}})
	db := d.Store()

	// Readiness, and the bearer token.
	status, body := api(t, d, "GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	resp, err := http.Get("http://" + d.Addr() + "/v1/integrations")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer realm="intake"`, resp.Header.Get("WWW-Authenticate"))
	resp, err = http.Get("http://" + d.Addr() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "healthz needs no token")

	// Create the integrations through the API; each is synced at once.
	for _, in := range []map[string]any{
		{"customer": "acme", "provider": "crm-a", "config": map[string]any{"api_url": urlA}, "credentials": map[string]any{"api_key": crmKey}},
		{"customer": "acme", "provider": "items", "config": map[string]any{"url": urlItems}, "credentials": map[string]any{"client_id": mockapi.DefaultClientID, "client_secret": mockapi.DefaultClientSecret}},
		{"customer": "globex", "provider": "crm-b", "config": map[string]any{"api_url": urlB}, "credentials": map[string]any{"api_key": crmKey}},
		{"customer": "globex", "provider": "items", "config": map[string]any{"url": urlItems}, "credentials": map[string]any{"client_id": mockapi.DefaultClientID, "client_secret": mockapi.DefaultClientSecret}},
		{"id": "initech-crm", "customer": "initech", "provider": "crm-a", "config": map[string]any{"api_url": urlA}, "credentials": map[string]any{"api_key": crmKey}},
	} {
		status, body := api(t, d, "POST", "/v1/integrations", in)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		assert.Equal(t, true, body["has_credentials"])
		assert.NotContains(t, body, "credentials")
	}
	eventually(t, 30*time.Second, "every object synced once", func() bool { return syncedOnce(t, db, 8) })

	ctx := context.Background()
	for id, want := range map[string]int{"acme-crm-a": 90, "acme-items": 45, "globex-crm-b": 60, "globex-items": 45, "initech-crm": 90} {
		n, err := db.CountInteractions(ctx, id, "")
		require.NoError(t, err)
		assert.Equal(t, want, n, id)
	}

	// The next runs: an hour on, two for acme's crm-a (its override), each with
	// its jitter share of at most a tenth.
	status, body = api(t, d, "GET", "/v1/integrations/acme-crm-a", nil)
	require.Equal(t, http.StatusOK, status)
	objs := body["objects"].([]any)
	require.Len(t, objs, 2)
	for _, o := range objs {
		o := o.(map[string]any)
		last, _ := time.Parse(time.RFC3339Nano, o["last_synced_at"].(string))
		next, _ := time.Parse(time.RFC3339Nano, o["next_due_at"].(string))
		gap := next.Sub(last)
		assert.True(t, gap >= 2*time.Hour && gap < 2*time.Hour+12*time.Minute, "%s: next run %s after the last", o["type"], gap)
	}
	status, body = api(t, d, "GET", "/v1/integrations/globex-items", nil)
	require.Equal(t, http.StatusOK, status)
	o := body["objects"].([]any)[0].(map[string]any)
	last, _ := time.Parse(time.RFC3339Nano, o["last_synced_at"].(string))
	next, _ := time.Parse(time.RFC3339Nano, o["next_due_at"].(string))
	assert.True(t, next.Sub(last) >= time.Hour && next.Sub(last) < 66*time.Minute, "globex-items: %s", next.Sub(last))

	// Runs, with the daemon that ran them.
	status, body = api(t, d, "GET", "/v1/runs?integration=acme-crm-a", nil)
	require.Equal(t, http.StatusOK, status)
	runs := body["runs"].([]any)
	require.Len(t, runs, 2)
	for _, r := range runs {
		r := r.(map[string]any)
		assert.Equal(t, "succeeded", r["status"])
		assert.Equal(t, d.Owner(), r["daemon"])
	}

	// Sync now: the CRM changed; only acme's integration runs again.
	ch := crmA.Mutate(3, 4)
	created := ch.Created["accounts"] + ch.Created["contacts"]
	status, body = api(t, d, "POST", "/v1/integrations/acme-crm-a/sync", nil)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	assert.ElementsMatch(t, []any{"accounts", "contacts"}, body["types"])
	eventually(t, 20*time.Second, "acme's second sync", func() bool {
		runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-crm-a", Status: store.RunSucceeded})
		require.NoError(t, err)
		return len(runs) == 4
	})
	n, err := db.CountInteractions(ctx, "acme-crm-a", "")
	require.NoError(t, err)
	assert.Equal(t, 90+created, n)
	others, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "initech-crm"})
	require.NoError(t, err)
	assert.Len(t, others, 2, "initech's integration is not due")
	status, body = api(t, d, "POST", "/v1/integrations/acme-crm-a/sync?type=deals", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["error"], `integration acme-crm-a has no interaction type "deals" (it has: accounts, contacts)`)

	// Disable, refuse a sync, enable (it runs again at once), delete.
	status, body = api(t, d, "POST", "/v1/integrations/initech-crm/disable", map[string]string{"reason": "customer left"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, "disabled", body["status"])
	assert.Equal(t, "customer left", body["disabled_reason"])
	status, body = api(t, d, "POST", "/v1/integrations/initech-crm/sync", nil)
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, body["error"], "integration initech-crm is disabled: enable it first")
	status, _ = api(t, d, "POST", "/v1/integrations/initech-crm/enable", nil)
	require.Equal(t, http.StatusOK, status)
	eventually(t, 20*time.Second, "initech synced after enabling", func() bool {
		runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "initech-crm"})
		require.NoError(t, err)
		return len(runs) == 4 && runs[0].Status == store.RunSucceeded && runs[1].Status == store.RunSucceeded
	})
	status, _ = api(t, d, "DELETE", "/v1/integrations/globex-items", nil)
	assert.Equal(t, http.StatusNoContent, status)
	status, body = api(t, d, "GET", "/v1/integrations/globex-items", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body["error"], "not found")

	// Creation errors.
	for _, tc := range []struct {
		body   map[string]any
		status int
		msg    string
	}{
		{map[string]any{"customer": "acme", "provider": "nope"}, 400, `no connector for provider "nope"`},
		{map[string]any{"customer": "acme", "provider": "crm-a", "config": map[string]any{"api_url": urlA, "region": "eu"}, "credentials": map[string]any{"api_key": "k"}}, 400, `crm-a does not declare "region"`},
		{map[string]any{"customer": "acme", "provider": "crm-a", "config": map[string]any{"api_url": urlA}, "credentials": map[string]any{"api_key": "k"}}, 409, "already exists"},
		{map[string]any{"customer": "acme"}, 400, "customer and provider are required"},
		{map[string]any{"customer": "ac me", "provider": "crm-a"}, 400, "customer must be 1 to 128 letters"},
		{map[string]any{"customer": "acme", "provider": "crm-a", "colour": "red"}, 400, `unknown field "colour"`},
	} {
		status, body := api(t, d, "POST", "/v1/integrations", tc.body)
		assert.Equal(t, tc.status, status, "%v", tc.body)
		assert.Contains(t, body["error"], tc.msg)
	}
	status, body = api(t, d, "PUT", "/v1/integrations", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Contains(t, body["error"], "PUT is not allowed here; use GET or POST")
	status, body = api(t, d, "GET", "/v2/nothing", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body["error"], "no such endpoint")

	// The change feed, page by page.
	status, body = api(t, d, "GET", "/v1/changes?since=0&limit=5", nil)
	require.Equal(t, http.StatusOK, status)
	changes := body["changes"].([]any)
	require.Len(t, changes, 5)
	assert.Equal(t, changes[4].(map[string]any)["seq"], body["next"])
	status, body = api(t, d, "GET", "/v1/changes?since="+strconv.Itoa(int(body["next"].(float64))), nil)
	require.Equal(t, http.StatusOK, status)
	assert.Greater(t, len(body["changes"].([]any)), 100)
	status, body = api(t, d, "GET", "/v1/changes", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["error"], "since is required")

	// Metrics.
	metrics := scrape(t, d)
	for _, want := range []string{
		`intake_records_total{outcome="new",provider="crm-b",type="accounts"} 20`,
		`intake_records_total{outcome="new",provider="items",type="items"} 90`,
		`intake_sync_runs_total{provider="items",status="succeeded",type="items"} 2`,
		`intake_pages_total{provider="items",type="items"} 10`,
		`intake_requests_total{provider="crm-b",status="200"} 2`,
		`intake_token_refreshes_total{provider="items"} 2`,
		`intake_sync_duration_seconds_count{provider="crm-b",status="succeeded",type="contacts"} 1`,
		`intake_due_backlog 0`,
		`intake_leases_held 0`,
		`intake_config_last_reload_successful 1`,
	} {
		hasMetric(t, metrics, want)
	}

	// One log line per run, with ids, counts and the duration.
	logs := e.logs.String()
	line := regexp.MustCompile(`msg="sync run" .*integration=globex-crm-b.* type=accounts run=\d+ status=succeeded pages=1 new=20 updated=0 unchanged=0 quarantined=0 unmatched=0 deleted=0 duration=\S+`)
	assert.Regexp(t, line, logs)
	assert.Contains(t, logs, "daemon="+d.Owner())
	runsMu.Lock()
	assert.GreaterOrEqual(t, len(events), 12)
	runsMu.Unlock()

	require.NoError(t, stop())
	// Leases are released at exit.
	var leased int
	require.NoError(t, openAgain(t, dsn).DB().QueryRow(`SELECT COUNT(*) FROM integrations WHERE lease_owner IS NOT NULL`).Scan(&leased))
	assert.Zero(t, leased)
}

func scrape(t *testing.T, d *daemon.Daemon) string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+d.Addr()+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.Token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// hasMetric checks that a scrape holds a sample, showing the samples of that metric
// when it does not.
func hasMetric(t *testing.T, scraped, want string) {
	t.Helper()
	if strings.Contains(scraped, "\n"+want+"\n") {
		return
	}
	name := want[:strings.IndexAny(want, "{ ")]
	var same []string
	for _, l := range strings.Split(scraped, "\n") {
		if strings.HasPrefix(l, name) {
			same = append(same, l)
		}
	}
	t.Errorf("no sample %s; %s has:\n%s", want, name, strings.Join(same, "\n"))
}

func openAgain(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// OAuth pages are for customers' browsers: no bearer token.
func TestOAuthEndpointsAreMounted(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	resp, err := http.Get("http://" + d.Addr() + "/oauth/callback?state=nope&code=x")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	resp, err = http.Get("http://" + d.Addr() + "/oauth/demo-crm/start?customer=acme")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.True(t, strings.Contains(string(b), "Not an OAuth provider"), "%s", b)
}
