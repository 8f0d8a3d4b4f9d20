package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

type result struct {
	code           int
	stdout, stderr string
}

// run executes the CLI in-process with its own environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func testEnv(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		"INTAKE_DB":         filepath.Join(dir, "intake.db"),
		"INTAKE_SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)),
		"INTAKE_CONNECTORS": filepath.Join(dir, "connectors"),
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("provider: x\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: ticket\n    request: {path: /t}\n    records: .t[]\n    id: .id\n    pagniation: {type: none}\n"), 0o644))

	r := run(t, nil, "validate", "../../connectors/demo-crm.yaml")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "demo-crm.yaml: ok (provider demo-crm, 3 interaction types)")

	r = run(t, nil, "validate", "../../connectors/demo-crm.yaml", bad)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, bad+`:9:5: interaction_types.t.pagniation: unknown key "pagniation" (did you mean "pagination"?)`)
	assert.Contains(t, r.stderr, "1 of 2 specs have problems")
}

func demoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(democrm.New(democrm.Options{Seed: 3}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestPreviewPrintsJSONLinesAndRedactsTrace(t *testing.T) {
	srv := demoServer(t)
	r := run(t, nil, "preview", "--connector", "../../connectors/demo-crm.yaml", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key",
		"--type", "contacts", "--limit", "150", "--trace")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 150)
	for _, l := range lines {
		var rec struct {
			Type string         `json:"type"`
			ID   string         `json:"id"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		assert.Equal(t, "contacts", rec.Type)
		assert.True(t, strings.HasPrefix(rec.ID, "con_"))
		assert.Equal(t, strings.ToLower(rec.Data["email"].(string)), rec.Data["email"], "the mapping lower-cases emails")
	}
	assert.Contains(t, r.stderr, "contacts page 1: 100 records")
	assert.Contains(t, r.stderr, "contacts page 2: 100 records")
	assert.Contains(t, r.stderr, " 200 (")
	assert.NotContains(t, r.stderr, "demo-key")
}

func TestPreviewRejectsUndeclaredSetting(t *testing.T) {
	r := run(t, nil, "preview", "--connector", "../../connectors/demo-crm.yaml", "--config", "api_ky=demo-key")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `demo-crm does not declare "api_ky"`)
	assert.NotContains(t, r.stderr, "demo-key")
}

func TestIntegrationsSyncAndInteractions(t *testing.T) {
	env := testEnv(t)
	srv := demoServer(t)
	r := run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "added integration acme-demo-crm")

	r = run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "already exists; choose another --id")

	r = run(t, env, "integrations", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "acme-demo-crm")
	assert.Contains(t, r.stdout, "[REDACTED]")
	assert.NotContains(t, r.stdout, "demo-key")
	r = run(t, env, "integrations", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "demo-key")

	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+2 pages\s+120 records: 120 new, 0 updated, 0 unchanged`, r.stdout)
	assert.Regexp(t, `contacts\s+succeeded\s+4 pages\s+360 records: 360 new, 0 updated, 0 unchanged`, r.stdout)

	r = run(t, env, "sync", "--integration", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+1 pages\s+\d+ records: 0 new, 0 updated, \d+ unchanged`, r.stdout)
	assert.NotContains(t, r.stdout, "contacts")

	r = run(t, env, "interactions", "list", "--type", "contacts", "--limit", "3", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	var it map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &it))
	assert.Equal(t, "contact", it["kind"])
	assert.Equal(t, "acme-demo-crm", it["integration"])

	// The key is needed to read credentials back; a wrong one is named, not guessed.
	env["INTAKE_SECRET_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{6}, 32))
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "sealed with key")

	env["INTAKE_SECRET_KEY"] = "not-a-key"
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "INTAKE_SECRET_KEY: secret key must be 32 bytes")

	db, err := os.ReadFile(env["INTAKE_DB"])
	require.NoError(t, err)
	assert.False(t, bytes.Contains(db, []byte("demo-key")), "credentials are encrypted at rest")
}

func TestSyncFailureExitsNonZeroWithReason(t *testing.T) {
	env := testEnv(t)
	srv := demoServer(t)
	r := run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=wrong-key-999")
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "HTTP 401 Unauthorized")
	assert.Contains(t, r.stderr, "3 of 3 interaction types failed")
	assert.NotContains(t, r.stdout+r.stderr, "wrong-key-999")
}

func TestDemoRunsRounds(t *testing.T) {
	env := testEnv(t)
	r := run(t, env, "demo", "--rounds", "1", "--interval", "1h", "--addr", "127.0.0.1:0", "--listen", "127.0.0.1:0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `admin API listening on http://127\.0\.0\.1:\d+`, r.stdout)
	assert.Contains(t, r.stdout, "daemon syncing demo-crm every 10s")
	assert.Regexp(t, `accounts\s+succeeded\s+2 pages\s+120 records: 120 new`, r.stdout)
	assert.Regexp(t, `contacts\s+succeeded\s+4 pages\s+360 records: 360 new`, r.stdout)
	assert.Regexp(t, `tickets\s+succeeded\s+3 pages\s+240 records: 240 new`, r.stdout)
	assert.Contains(t, r.stdout, "interactions list")

	r = run(t, env, "interactions", "list", "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 720, strings.Count(r.stdout, "\n"))

	// Running the demo again reuses the integration and its database, and syncs at
	// once from the cursor: a page at most (the CRM restarts with the same records,
	// dated from its new start), nothing new.
	r = run(t, env, "demo", "--rounds", "1", "--interval", "1h", "--addr", "127.0.0.1:0", "--listen", "127.0.0.1:0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `intake.db already holds 720 interactions from an earlier demo`, r.stdout)
	assert.Regexp(t, `contacts\s+succeeded\s+1 pages\s+\d+ records: 0 new`, r.stdout)
}

func TestKeyGenerate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "secret.key")
	r := run(t, nil, "key", "generate", "--out", path)
	require.Equal(t, 0, r.code, r.stderr)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	r = run(t, nil, "key", "generate", "--out", path)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "refusing to replace")
}

// intake sync takes the integration's lease, so it never syncs an integration a
// daemon is syncing, and a daemon never claims one intake sync is running.
func TestSyncRespectsDaemonLeases(t *testing.T) {
	env := testEnv(t)
	srv := demoServer(t)
	r := run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
	ctx := context.Background()
	db, err := store.Open(ctx, env["INTAKE_DB"])
	require.NoError(t, err)
	defer db.Close()
	c, err := db.Claim(ctx, store.ClaimRequest{Owner: "daemon-7", TTL: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "acme-demo-crm", c.IntegrationID)

	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "integration acme-demo-crm is being synced by daemon-7 right now; wait for it, or ask that daemon to sync again: POST /v1/integrations/acme-demo-crm/sync")

	require.NoError(t, db.ReleaseLease(ctx, "acme-demo-crm", "daemon-7"))
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	runs, err := db.ListRuns(ctx, store.RunFilter{IntegrationID: "acme-demo-crm"})
	require.NoError(t, err)
	require.Len(t, runs, 3, "accounts, contacts and tickets")
	assert.Regexp(t, `^intake-sync-.+-\d+$`, runs[0].Owner)
	in, err := db.Integration(ctx, "acme-demo-crm")
	require.NoError(t, err)
	assert.Empty(t, in.LeaseOwner, "released at the end")
}
