package daemon_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/mockapi"
)

// A shutdown in the middle of a long sync: the daemon stops after the page in
// flight commits (with its cursor), records the run as cancelled, releases its
// lease and returns well within the grace period. The next daemon resumes from that
// cursor, and every record is stored exactly once.
func TestGracefulShutdownCheckpointsAndResumes(t *testing.T) {
	e := newEnv(t)
	items := mockapi.New(mockapi.Options{Records: 200, PageSize: 10})
	url := serve(t, slow(items.Handler(), 100*time.Millisecond))
	e.write("connectors/items.yaml", itemsSpec("items", "1h"))
	dbPath := filepath.Join(e.dir, "intake.db")
	cfg := e.config(dbPath, "")
	pre := openAgain(t, dbPath)
	addItems(t, pre, e.box, "acme-items", "acme", "items", url)
	require.NoError(t, pre.Close())

	d, stop := e.start(cfg, daemon.Options{Owner: "first"})
	db := d.Store()
	ctx := context.Background()
	eventually(t, 20*time.Second, "a few pages committed", func() bool {
		runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-items"})
		require.NoError(t, err)
		return len(runs) == 1 && runs[0].Pages >= 3
	})
	began := time.Now()
	require.NoError(t, stop())
	took := time.Since(began)
	assert.Less(t, took, 2*time.Second, "the page in flight takes ~100ms; the grace period is 5s")

	db = openAgain(t, dbPath)
	runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-items"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	first := runs[0]
	assert.Equal(t, store.RunCancelled, first.Status)
	assert.Contains(t, first.Error, "the daemon is shutting down")
	assert.Equal(t, "first", first.Owner)
	assert.Less(t, first.Pages, 20)
	obj, err := db.EnsureObject(ctx, "acme-items", "items")
	require.NoError(t, err)
	assert.NotEmpty(t, obj.Cursor, "the cursor committed with the last page")
	assert.Equal(t, first.CursorAfter, obj.Cursor)
	n, err := db.CountInteractions(ctx, "acme-items", "")
	require.NoError(t, err)
	assert.Equal(t, first.RecordsNew, n, "what was committed is what the run counted")
	in, err := db.Integration(ctx, "acme-items")
	require.NoError(t, err)
	assert.Empty(t, in.LeaseOwner, "the lease is released")
	assert.True(t, obj.NextDueAt.Before(time.Now()), "still due: the next daemon resumes at once")
	require.NoError(t, db.Close())

	// The next daemon resumes from the committed cursor.
	d2, stop2 := e.start(cfg, daemon.Options{Owner: "second"})
	eventually(t, 30*time.Second, "the sync finished", func() bool { return syncedOnce(t, d2.Store(), 1) })
	require.NoError(t, stop2())
	db = openAgain(t, dbPath)
	runs, err = db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-items"})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	assert.Equal(t, store.RunSucceeded, runs[0].Status)
	assert.Equal(t, "second", runs[0].Owner)
	assert.Equal(t, first.CursorAfter, runs[0].CursorBefore)
	n, err = db.CountInteractions(ctx, "acme-items", "")
	require.NoError(t, err)
	assert.Equal(t, 200, n)
	var inserts int
	require.NoError(t, db.DB().QueryRow(`SELECT COUNT(*) FROM changes WHERE op = 'insert' AND entity = 'interaction'`).Scan(&inserts))
	assert.Equal(t, 200, inserts, "each record stored exactly once")
}

// A provider that hangs: the page never ends, and the shutdown grace period bounds
// the exit.
func TestShutdownWithinGracePeriod(t *testing.T) {
	e := newEnv(t)
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	started := make(chan struct{}, 10)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"a","token_type":"bearer","expires_in":3600}`))
			return
		}
		started <- struct{}{}
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	e.write("connectors/items.yaml", itemsSpec("items", "1h"))
	dbPath := filepath.Join(e.dir, "intake.db")
	cfg := e.config(dbPath, "")
	cfg.ShutdownGrace = 2 * 1e9
	pre := openAgain(t, dbPath)
	addItems(t, pre, e.box, "acme-items", "acme", "items", url)
	require.NoError(t, pre.Close())

	_, stop := e.start(cfg, daemon.Options{})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the sync did not start")
	}
	began := time.Now()
	require.NoError(t, stop())
	took := time.Since(began)
	assert.Greater(t, took, time.Second, "the page in flight was given most of the grace period")
	assert.Less(t, took, 2500*time.Millisecond, "exit within the 2s grace period")
	db := openAgain(t, dbPath)
	runs, err := db.ListRuns(context.Background(), store.RunFilter{IntegrationID: "acme-items"})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, store.RunCancelled, runs[0].Status)
	assert.Contains(t, runs[0].Error, "grace period ran out")
	in, err := db.Integration(context.Background(), "acme-items")
	require.NoError(t, err)
	assert.Empty(t, in.LeaseOwner)
}

// A reload with a bad file is refused, says which file and where, and the daemon
// keeps running with what it had; a good one applies.
func TestReloadRefusesBadFilesAndKeepsRunning(t *testing.T) {
	e := newEnv(t)
	crm := newCRM(3, 10, 20)
	url := serve(t, crm.Handler())
	e.write("connectors/crm.yaml", crmSpec(t, "crm", "1h"))
	dbPath := filepath.Join(e.dir, "intake.db")
	cfg := e.config(dbPath, "")
	pre := openAgain(t, dbPath)
	addCRM(t, pre, e.box, "acme-crm", "acme", "crm", url)
	require.NoError(t, pre.Close())
	d, _ := e.start(cfg, daemon.Options{})
	db := d.Store()
	ctx := context.Background()
	eventually(t, 20*time.Second, "first sync", func() bool { return syncedOnce(t, db, 2) })

	refused := func(wantProblem string) {
		t.Helper()
		status, body := api(t, d, "POST", "/v1/reload", nil)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
		assert.Equal(t, "reload refused; the running configuration is kept", body["error"])
		var problems []string
		for _, p := range body["problems"].([]any) {
			problems = append(problems, p.(string))
		}
		assert.Contains(t, strings.Join(problems, "\n"), wantProblem)
		assert.Contains(t, e.logs.String(), "reload refused")
		hasMetric(t, scrape(t, d), "intake_config_last_reload_successful 0")
	}

	// A connector with a mistake.
	bad := e.write("connectors/broken.yaml", "provider: broken\nbase_url: https://x.example\ninteraction_types:\n  t:\n    kind: ticket\n    request: {path: /t}\n    recrods: .t[]\n    id: .id\n")
	refused(bad + `:7:5: interaction_types.t.recrods: unknown key "recrods" (did you mean "records"?)`)
	// The old set still runs: the CRM syncs on request.
	crm.Mutate(0, 2)
	status, _ := api(t, d, "POST", "/v1/integrations/acme-crm/sync", nil)
	require.Equal(t, http.StatusAccepted, status)
	eventually(t, 20*time.Second, "a sync after the refused reload", func() bool {
		runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-crm", Status: store.RunSucceeded})
		require.NoError(t, err)
		return len(runs) == 4
	})
	require.NoError(t, removeFile(bad))

	// A bad override.
	over := e.write("customers/acme/crm.yaml", "customer: acme\nprovider: crm\nbase_url: https://evil.example\n")
	refused(over + ":3:1: base_url: may not be changed per customer")
	require.NoError(t, removeFile(over))

	// A bad intake.yaml.
	good := strings.Replace(readFile(t, e.configFile), "workers: 3", "workers: 3\nwokers: 4", 1)
	e.write("intake.yaml", good)
	refused(e.configFile + `:5:1: wokers: unknown key "wokers" (did you mean "workers"?)`)

	// A good reload: a new frequency for acme, a new provider, and a key that needs a
	// restart.
	e.write("intake.yaml", strings.Replace(strings.Replace(good, "\nwokers: 4", "", 1), "workers: 3", "workers: 5", 1))
	e.write("customers/acme/crm.yaml", "customer: acme\nprovider: crm\nsync_every: 6h\n")
	e.write("connectors/crm-two.yaml", crmSpec(t, "crm-two", "1h"))
	status, body := api(t, d, "POST", "/v1/reload", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Contains(t, body["providers"], "crm-two")
	assert.Equal(t, []any{"workers"}, body["restart_needed"])
	hasMetric(t, scrape(t, d), "intake_config_last_reload_successful 1")
	objs, err := db.Objects(ctx, "acme-crm")
	require.NoError(t, err)
	for _, o := range objs {
		gap := o.NextDueAt.Sub(o.LastSyncedAt)
		assert.True(t, gap >= 6*time.Hour && gap < 6*time.Hour+37*time.Minute, "%s: rescheduled with the new frequency: %s", o.Type, gap)
	}
	// The running daemon keeps its workers until restarted.
	status, body = api(t, d, "GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// An integration whose provider has no connector is held back (not retried in a
// loop), and a reload that brings the connector syncs it at once.
func TestUnloadableIntegrationIsHeldUntilReload(t *testing.T) {
	e := newEnv(t)
	crm := newCRM(4, 5, 10)
	url := serve(t, crm.Handler())
	dbPath := filepath.Join(e.dir, "intake.db")
	cfg := e.config(dbPath, "")
	cfg.Schedule.RetryMax = config.Duration(time.Hour)
	pre := openAgain(t, dbPath)
	addCRM(t, pre, e.box, "acme-ghost", "acme", "ghost", url)
	require.NoError(t, pre.Close())
	d, _ := e.start(cfg, daemon.Options{})
	db := d.Store()
	ctx := context.Background()
	eventually(t, 20*time.Second, "the integration held back", func() bool {
		in, err := db.Integration(ctx, "acme-ghost")
		require.NoError(t, err)
		return in.LeaseOwner == d.Owner() && time.Until(in.LeaseExpiresAt) > 50*time.Minute
	})
	assert.Contains(t, e.logs.String(), `msg="integration cannot be loaded; retrying later"`)
	assert.Contains(t, e.logs.String(), `no connector for provider \"ghost\"`)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, strings.Count(e.logs.String(), "integration cannot be loaded"), "not retried in a loop")

	e.write("connectors/ghost.yaml", crmSpec(t, "ghost", "1h"))
	status, body := api(t, d, "POST", "/v1/reload", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	eventually(t, 20*time.Second, "synced after the reload", func() bool { return syncedOnce(t, db, 2) })
}
