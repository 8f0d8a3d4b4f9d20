package daemon_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
	"github.com/intakehq/intake/internal/mockapi"
	"github.com/intakehq/intake/internal/syncbuf"
)

const (
	testToken = "test-admin-token-0123456789"
	crmKey    = "demo-key"
)

var testKey = bytes.Repeat([]byte{9}, 32)

// env is a test world: mock providers on httptest servers, their connector specs in
// a connectors directory, an overrides directory, a secret key and an intake.yaml.
type env struct {
	t          *testing.T
	dir        string
	connectors string
	customers  string
	configFile string
	getenv     func(string) string
	box        *secret.Box
	logs       *syncbuf.Buffer
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{t: t, dir: dir, connectors: filepath.Join(dir, "connectors"), customers: filepath.Join(dir, "customers"), logs: &syncbuf.Buffer{}}
	require.NoError(t, os.MkdirAll(e.connectors, 0o755))
	require.NoError(t, os.MkdirAll(e.customers, 0o755))
	keyEnv := base64.StdEncoding.EncodeToString(testKey)
	e.getenv = func(k string) string {
		if k == secret.EnvKey {
			return keyEnv
		}
		return ""
	}
	box, err := secret.NewBox(testKey)
	require.NoError(t, err)
	e.box = box
	return e
}

func (e *env) write(path, text string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, path)
	require.NoError(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(e.t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

// crmSpec is the bundled demo CRM connector as provider name, syncing every every.
func crmSpec(t *testing.T, name, every string) string {
	data, err := connectors.FS.ReadFile("demo-crm.yaml")
	require.NoError(t, err)
	s := strings.Replace(string(data), "provider: demo-crm", "provider: "+name, 1)
	// Accounts and contacts only: the daemon's tests count two types per CRM, and the
	// demo's tickets (linking) are tested where linking is.
	s, _, ok := strings.Cut(s, "\n  tickets:\n")
	require.True(t, ok, "demo-crm.yaml has a tickets type, last")
	return strings.Replace(s+"\n", "sync_every: 10s", "sync_every: "+every, 1)
}

// itemsSpec is a connector for internal/mockapi: OAuth2 client credentials, cursor
// pages, a sorted updated_since feed.
func itemsSpec(name, every string) string {
	return `provider: ` + name + `
config:
  url: {}
credentials:
  client_id: {}
  client_secret: {}
base_url: '${ .config.url }'
auth:
  type: oauth2
  grant: client_credentials
  token_url: '${ .config.url }/oauth/token'
sync_every: ` + every + `
interaction_types:
  items:
    kind: contact
    request: {path: /v1/items}
    records: .items[]
    id: .id
    pagination: {type: cursor, param: after, next: .next, limit_param: limit, limit: 10}
    incremental: {cursor: .updated_at, param: updated_since, sorted: true}
    fields:
      name: .name
      email: .email
      updated_at: .updated_at
`
}

// slow delays every request of h by d (a provider far away, or a big page).
func slow(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
	})
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// config writes intake.yaml for store and loads it.
func (e *env) config(storeDSN string, extra string) *config.Config {
	e.t.Helper()
	e.configFile = e.write("intake.yaml", fmt.Sprintf(`store: %s
connectors: connectors
customers: customers
workers: 3
lease:
  duration: 6s
  heartbeat: 1s
schedule:
  retry_min: 1s
  retry_max: 2s
admin:
  listen: 127.0.0.1:0
  token: %s
shutdown_grace: 5s
log:
  level: debug
%s`, storeDSN, testToken, extra))
	cfg, err := config.Load(config.Options{File: e.configFile, Getenv: e.getenv})
	require.NoError(e.t, err)
	return cfg
}

// start runs a daemon until the test ends (or stop is called); stop waits for Run.
func (e *env) start(cfg *config.Config, opts daemon.Options) (*daemon.Daemon, func() error) {
	e.t.Helper()
	opts.Config, opts.ConfigFile, opts.Getenv, opts.Bundled = cfg, e.configFile, e.getenv, connectors.FS
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, opts)
	require.NoError(e.t, err)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("daemon did not stop within 30s")
			}
		})
		return runErr
	}
	e.t.Cleanup(func() { _ = stop() })
	if d.Addr() != "" {
		eventually(e.t, 20*time.Second, "the daemon ready", func() bool {
			status, _ := api(e.t, d, "GET", "/readyz", nil)
			return status == http.StatusOK
		})
	}
	return d, stop
}

// api calls the admin API of d.
func api(t *testing.T, d *daemon.Daemon, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+d.Addr()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+d.Token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return resp.StatusCode, out
}

// addCRM registers a customer's integration with a demo CRM.
func addCRM(t *testing.T, db *store.Store, box *secret.Box, id, customer, provider, url string) {
	t.Helper()
	require.NoError(t, db.CreateIntegration(context.Background(), store.Integration{ID: id, CustomerID: customer, Provider: provider,
		Config: map[string]any{"api_url": url}}, map[string]any{"api_key": crmKey}, box))
}

func addItems(t *testing.T, db *store.Store, box *secret.Box, id, customer, provider, url string) {
	t.Helper()
	require.NoError(t, db.CreateIntegration(context.Background(), store.Integration{ID: id, CustomerID: customer, Provider: provider,
		Config: map[string]any{"url": url}}, map[string]any{"client_id": mockapi.DefaultClientID, "client_secret": mockapi.DefaultClientSecret}, box))
}

func newCRM(seed int64, accounts, contacts int) *democrm.Server {
	return democrm.New(democrm.Options{Seed: seed, APIKey: crmKey, Accounts: accounts, Contacts: contacts, Tickets: -1})
}

// eventually polls cond every 50ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncedOnce reports whether wantObjects objects of enabled integrations have
// succeeded at least once and been rescheduled after it.
func syncedOnce(t *testing.T, db *store.Store, wantObjects int) bool {
	var n int
	require.NoError(t, db.DB().QueryRow(`SELECT COUNT(*) FROM integration_objects o JOIN integrations i ON i.id = o.integration_id
		WHERE i.status = 'enabled' AND o.last_synced_at IS NOT NULL AND o.next_due_at >= o.last_synced_at`).Scan(&n))
	return n >= wantObjects
}

func removeFile(p string) error { return os.Remove(p) }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}
