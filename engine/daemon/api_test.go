package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/internal/cli"
	"github.com/intakehq/intake/internal/democrm"
)

// Every endpoint but /healthz and the OAuth pages wants the bearer token, compared
// whole; every answer, errors included, is JSON.
func TestAdminAPIAuthentication(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	h := d.Handler()
	do := func(method, path, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(""))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	protected := []struct{ method, path string }{
		{"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/v1/integrations"}, {"POST", "/v1/integrations"},
		{"GET", "/v1/integrations/x"}, {"DELETE", "/v1/integrations/x"}, {"POST", "/v1/integrations/x/enable"},
		{"POST", "/v1/integrations/x/disable"}, {"POST", "/v1/integrations/x/sync"}, {"GET", "/v1/runs"},
		{"GET", "/v1/changes?since=0"}, {"POST", "/v1/reload"}, {"GET", "/v1/accounts"}, {"GET", "/v1/accounts/1"},
		{"GET", "/v1/contacts"}, {"GET", "/v1/contacts/1"}, {"GET", "/v1/links/unresolved"}, {"GET", "/nothing"},
	}
	for _, ep := range protected {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "bearer " + testToken, testToken, "Basic " + testToken} {
			rec := do(ep.method, ep.path, auth)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %q", ep.method, ep.path, auth)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Contains(t, body["error"], "missing or wrong bearer token")
		}
	}
	assert.Equal(t, http.StatusOK, do("GET", "/healthz", "").Code)
	assert.Equal(t, http.StatusOK, do("HEAD", "/healthz", "").Code)
	assert.Equal(t, http.StatusBadRequest, do("GET", "/oauth/callback", "").Code, "OAuth pages answer browsers without a token")
	assert.Equal(t, http.StatusOK, do("GET", "/v1/integrations", "Bearer "+testToken).Code)
	rec := do("DELETE", "/v1/runs", "Bearer "+testToken)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET", rec.Header().Get("Allow"))
	rec = do("GET", "/v1/runs?limit=0", "Bearer "+testToken)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `limit=\"0\": want a whole number from 1 to 1000`)
	rec = do("POST", "/v1/integrations", "Bearer "+testToken)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "the body is empty")
}

// A request body is one JSON object of at most 1 MiB: trailing data and an
// oversized body are refused with the reason, before anything is created.
func TestAdminAPIBodies(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	h := d.Handler()
	for _, tc := range []struct{ name, body, want string }{
		{"a second value", `{"customer":"acme","provider":"demo-crm"} {}`, "something follows the object"},
		{"a stray brace", `{"customer":"acme","provider":"demo-crm"}}`, "something follows the object"},
		{"too large", `{"customer":"acme","provider":"demo-crm","config":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`, "the body is larger than 1024 KiB"},
		{"an unknown key", `{"customer":"acme","provider":"demo-crm","colour":"red"}`, `unknown field "colour"`},
	} {
		req := httptest.NewRequest("POST", "/v1/integrations", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, tc.name)
		var answer map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &answer), tc.name)
		assert.Contains(t, answer["error"], tc.want, tc.name)
	}
	status, body := api(t, d, "GET", "/v1/integrations", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, body["integrations"], "nothing was created")
}

func TestChangesRefusesUnknownEntity(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	status, body := api(t, d, "GET", "/v1/changes?since=0&entity=deal", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `entity="deal": use interaction, account or contact`, body["error"])
	status, body = api(t, d, "GET", "/v1/changes?since=0&entity=account", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, body["changes"])
	assert.Equal(t, float64(0), body["next"])
}

// The read side: accounts, contacts and unresolved references, as the same objects
// the CLI prints with --json.
func TestAdminAPIEntitiesMatchTheCLI(t *testing.T) {
	e := newEnv(t)
	crm := democrm.New(democrm.Options{Seed: 3, APIKey: crmKey, Accounts: 30, Contacts: 60})
	url := serve(t, crm.Handler())
	data, err := connectors.FS.ReadFile("demo-crm.yaml")
	require.NoError(t, err)
	// Synced once: an hour between syncs keeps the data still while both read it.
	e.write("connectors/demo-crm.yaml", strings.Replace(string(data), "sync_every: 10s", "sync_every: 1h", 1))
	dbPath := filepath.Join(e.dir, "intake.db")
	cfg := e.config(dbPath, "")
	pre := openAgain(t, dbPath)
	addCRM(t, pre, e.box, "acme-demo-crm", "acme", "demo-crm", url)
	require.NoError(t, pre.Close())
	d, _ := e.start(cfg, daemon.Options{})
	db := d.Store()
	eventually(t, 30*time.Second, "accounts, contacts and tickets synced", func() bool { return syncedOnce(t, db, 3) })

	// cliJSON runs the CLI on the daemon's database and decodes its JSON lines.
	cliJSON := func(args ...string) []any {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), append([]string{"--db", dbPath}, args...),
			cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		require.Equal(t, 0, code, errb.String())
		rows := []any{}
		dec := json.NewDecoder(&out)
		for dec.More() {
			var v any
			require.NoError(t, dec.Decode(&v))
			rows = append(rows, v)
		}
		return rows
	}
	get := func(path string) map[string]any {
		t.Helper()
		status, body := api(t, d, "GET", path, nil)
		require.Equal(t, http.StatusOK, status, "%s: %v", path, body)
		return body
	}

	// Lists.
	body := get("/v1/accounts?limit=1000")
	accounts := body["accounts"].([]any)
	require.Len(t, accounts, 30)
	assert.Equal(t, cliJSON("accounts", "list", "--limit", "0", "--json"), accounts)
	assert.Len(t, get("/v1/accounts?limit=7")["accounts"], 7)
	assert.Len(t, get("/v1/accounts")["accounts"], 30, "the default limit is 50")
	assert.Equal(t, []any{}, get("/v1/accounts?customer=globex")["accounts"])
	body = get("/v1/contacts?limit=1000")
	require.Len(t, body["contacts"], 60)
	assert.Equal(t, cliJSON("contacts", "list", "--limit", "0", "--json"), body["contacts"])

	// The account with the most contacts, in full; then filters that find it.
	var acc map[string]any
	for _, a := range accounts {
		a := a.(map[string]any)
		if acc == nil || a["contacts"].(float64) > acc["contacts"].(float64) {
			acc = a
		}
	}
	id := strconv.FormatInt(int64(acc["id"].(float64)), 10)
	detail := get("/v1/accounts/" + id)
	assert.Equal(t, cliJSON("accounts", "show", id, "--json"), []any{detail})
	require.NotEmpty(t, detail["contacts"])
	require.NotEmpty(t, detail["interactions"])
	assert.Equal(t, cliJSON("accounts", "show", id, "--per-type", "1", "--json"), []any{get("/v1/accounts/" + id + "?per_type=1")})
	domain := acc["domain"].(string)
	assert.Equal(t, []any{acc}, get("/v1/accounts?domain=https://www." + strings.ToUpper(domain) + "/about")["accounts"], "a URL's registrable domain")
	assert.Contains(t, get("/v1/accounts?customer=acme&search=" + strings.ToUpper(domain))["accounts"], any(acc))

	contact := detail["contacts"].([]any)[0].(map[string]any)
	cid := strconv.FormatInt(int64(contact["id"].(float64)), 10)
	cdetail := get("/v1/contacts/" + cid)
	assert.Equal(t, cliJSON("contacts", "show", cid, "--json"), []any{cdetail})
	assert.Equal(t, cliJSON("contacts", "list", "--account", id, "--limit", "0", "--json"), get("/v1/contacts?limit=1000&account=" + id)["contacts"])
	byEmail := get("/v1/contacts?email=" + strings.ToUpper(contact["email"].(string)))["contacts"].([]any)
	require.Len(t, byEmail, 1)
	assert.Equal(t, contact["id"], byEmail[0].(map[string]any)["id"])

	// Unresolved references: counts by reason, then the references.
	body = get("/v1/links/unresolved?limit=1000")
	assert.Equal(t, cliJSON("links", "unresolved", "--by-reason", "--json"), body["counts"])
	unresolved := body["unresolved"].([]any)
	require.NotEmpty(t, unresolved, "the demo's tickets from people the CRM does not know")
	assert.Equal(t, cliJSON("links", "unresolved", "--limit", "0", "--json"), unresolved)
	body = get("/v1/links/unresolved?customer=acme&integration=acme-demo-crm&type=tickets&reason=not_found&limit=2")
	assert.Equal(t, cliJSON("links", "unresolved", "--by-reason", "--json"), body["counts"], "counts show every reason")
	assert.Equal(t, cliJSON("links", "unresolved", "--reason", "not_found", "--limit", "2", "--json"), body["unresolved"])
	body = get("/v1/links/unresolved?customer=globex")
	assert.Equal(t, []any{}, body["counts"])
	assert.Equal(t, []any{}, body["unresolved"])

	// Unknown ids and bad parameters.
	for path, want := range map[string]struct {
		status int
		err    string
	}{
		"/v1/accounts/99999":                  {http.StatusNotFound, "account 99999: not found"},
		"/v1/contacts/99999":                  {http.StatusNotFound, "contact 99999: not found"},
		"/v1/accounts/acme.com":               {http.StatusBadRequest, `account id "acme.com": use the id of GET /v1/accounts`},
		"/v1/contacts/0":                      {http.StatusBadRequest, `contact id "0": use the id of GET /v1/contacts`},
		"/v1/accounts/" + id + "?per_type=0":  {http.StatusBadRequest, `per_type="0": want a whole number from 1 to 1000`},
		"/v1/contacts/" + cid + "?per_type=x": {http.StatusBadRequest, `per_type="x": want a whole number from 1 to 1000`},
		"/v1/accounts?limit=1001":             {http.StatusBadRequest, `limit="1001": want a whole number from 1 to 1000`},
		"/v1/contacts?account=acme":           {http.StatusBadRequest, `account="acme": want a whole number from 1 to 4611686018427387904`},
		"/v1/links/unresolved?limit=-1":       {http.StatusBadRequest, `limit="-1": want a whole number from 1 to 1000`},
		"/v1/links/unresolved?reason=missing": {http.StatusBadRequest, `reason="missing": use not_found, ambiguous, no_account, contact_unresolved, unmatched`},
	} {
		status, body := api(t, d, "GET", path, nil)
		assert.Equal(t, want.status, status, path)
		assert.Equal(t, want.err, body["error"], path)
	}
	status, _ := api(t, d, "POST", "/v1/accounts", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}
