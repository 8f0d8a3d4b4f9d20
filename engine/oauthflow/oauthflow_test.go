package oauthflow_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/oauthflow"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/syncbuf"
)

const (
	publicURL    = "https://connect.example.test"
	redirectURL  = publicURL + "/oauth/callback"
	clientID     = "app-client-id"
	clientSecret = "app-client-secret-Zq9"
)

// mockProvider is an OAuth2 authorization server following RFC 6749 4.1 with PKCE
// (RFC 7636, S256 only). Authorization is simulated: approve reads the authorize URL
// the browser was sent to and returns the callback URL the provider would redirect to.
type mockProvider struct {
	t          *testing.T
	srv        *httptest.Server
	clientAuth string // client_secret_basic or client_secret_post: the only one accepted

	mu         sync.Mutex
	codes      map[string]grant // issued, not yet redeemed
	n          int
	fail5xx    bool
	noRefresh  bool
	tokenCalls int
	lastForm   url.Values
}

type grant struct{ challenge, redirect, clientID string }

func newMockProvider(t *testing.T, clientAuth string) *mockProvider {
	m := &mockProvider{t: t, clientAuth: clientAuth, codes: map[string]grant{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.token))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mockProvider) approve(location string) string {
	t := m.t
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	require.Equal(t, m.srv.URL+"/authorize", u.Scheme+"://"+u.Host+u.Path, "redirected to the authorize URL")
	q := u.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, clientID, q.Get("client_id"))
	assert.Equal(t, redirectURL, q.Get("redirect_uri"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Equal(t, "read offline_access", q.Get("scope"))
	assert.Equal(t, "offline", q.Get("access_type"))
	assert.Equal(t, "eu", q.Get("region"), "authorize_url rendered with the config")
	assert.NotContains(t, location, clientSecret)
	state := q.Get("state")
	raw, err := base64.RawURLEncoding.DecodeString(state)
	require.NoError(t, err, "state is base64url")
	assert.Len(t, raw, 32)
	challenge := q.Get("code_challenge")
	require.Len(t, challenge, 43, "an S256 challenge is 32 bytes, base64url")

	m.mu.Lock()
	m.n++
	code := fmt.Sprintf("code-%d-xyz", m.n)
	m.codes[code] = grant{challenge: challenge, redirect: q.Get("redirect_uri"), clientID: q.Get("client_id")}
	m.mu.Unlock()
	return q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {state}}.Encode()
}

func (m *mockProvider) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "invalid_request", "bad form")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokenCalls++
	m.lastForm = r.PostForm
	if m.fail5xx {
		http.Error(w, "upstream exploded", http.StatusServiceUnavailable)
		return
	}
	// Client authentication (RFC 6749 2.3.1): exactly the registered method.
	user, pass, basic := r.BasicAuth()
	switch m.clientAuth {
	case spec.ClientSecretBasic:
		if !basic || user != clientID || pass != clientSecret || r.PostForm.Has("client_secret") {
			fail(401, "invalid_client", "client authentication failed (basic expected)")
			return
		}
	case spec.ClientSecretPost:
		if basic || r.PostForm.Get("client_id") != clientID || r.PostForm.Get("client_secret") != clientSecret {
			fail(401, "invalid_client", "client authentication failed (post expected)")
			return
		}
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		fail(400, "unsupported_grant_type", "")
		return
	}
	if r.PostForm.Get("audience") != "api-eu" {
		fail(400, "invalid_request", "audience token param missing")
		return
	}
	code := r.PostForm.Get("code")
	g, ok := m.codes[code]
	if !ok {
		fail(400, "invalid_grant", "authorization code is invalid or expired")
		return
	}
	delete(m.codes, code) // single use
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		fail(400, "invalid_grant", "code_verifier does not match the challenge")
		return
	}
	if r.PostForm.Get("redirect_uri") != g.redirect {
		fail(400, "invalid_grant", "redirect_uri mismatch")
		return
	}
	resp := map[string]any{
		"access_token": "at-" + code, "token_type": "Bearer", "expires_in": 3600,
		"instance_url": "https://eu7.acmecrm.example", "scope": "read offline_access",
	}
	if !m.noRefresh {
		resp["refresh_token"] = "rt-" + code
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func specYAML(tokenBase, clientAuth string) string {
	return fmt.Sprintf(`provider: acmecrm
title: Acme CRM
config:
  region: {pattern: '^[a-z]+$'}
  page_size: {type: integer, default: 50}
credentials:
  webhook_secret: {required: false}
base_url: 'https://api.acmecrm.example/${ .config.region }'
auth:
  type: oauth2
  grant: authorization_code
  authorize_url: '%[1]s/authorize?region=${ .config.region }'
  token_url: '%[1]s/token'
  scopes: [read, offline_access]
  client_auth: %[2]s
  token_params:
    audience: 'api-${ .config.region }'
interaction_types:
  accounts:
    kind: account
    request: {path: /accounts}
    records: .records[]
    id: .id
`, tokenBase, clientAuth)
}

const plainSpec = `provider: keyed
config:
  region: {default: us}
credentials:
  api_key: {}
base_url: 'https://keyed.example'
auth: {type: api_key, name: X-Key}
interaction_types:
  accounts:
    kind: account
    request: {path: /accounts}
    records: .records[]
    id: .id
`

type fixture struct {
	t      *testing.T
	h      *oauthflow.Handler
	db     *store.Store
	box    *secret.Box
	mock   *mockProvider
	now    time.Time
	logBuf *syncbuf.Buffer
}

func newFixture(t *testing.T, clientAuth string) *fixture {
	t.Helper()
	ctx := context.Background()
	mock := newMockProvider(t, clientAuth)
	dir := t.TempDir()
	src := specYAML(mock.srv.URL, clientAuth)
	_, err := spec.Load("acmecrm.yaml", []byte(src))
	require.NoError(t, err, "the test spec loads")
	connDir := filepath.Join(dir, "connectors")
	require.NoError(t, os.MkdirAll(connDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(connDir, "acmecrm.yaml"), []byte(src), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(connDir, "keyed.yaml"), []byte(plainSpec), 0o644))
	cat := spec.LoadCatalog(connDir, nil)
	require.Empty(t, cat.Problems)

	db, err := store.Open(ctx, filepath.Join(dir, "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	box, err := secret.NewBox(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	require.NoError(t, db.SetOAuthApp(ctx, store.OAuthApp{Provider: "acmecrm", ClientID: clientID, ClientSecret: clientSecret}, box))

	f := &fixture{t: t, db: db, box: box, mock: mock, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), logBuf: &syncbuf.Buffer{}}
	f.h = oauthflow.New(oauthflow.Options{
		Store: db, Box: box, Catalog: cat, PublicURL: publicURL + "/",
		HTTPClient: mock.srv.Client(),
		Logger:     slog.New(slog.NewTextHandler(f.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        func() time.Time { return f.now },
	})
	return f
}

func (f *fixture) get(target string) *httptest.ResponseRecorder {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// start follows a start link and returns the authorize URL it redirects to.
func (f *fixture) start(query string) string {
	f.t.Helper()
	rec := f.get(publicURL + "/oauth/acmecrm/start?" + query)
	require.Equal(f.t, http.StatusFound, rec.Code, rec.Body.String())
	return rec.Header().Get("Location")
}

func (f *fixture) credentials(id string) map[string]any {
	f.t.Helper()
	creds, err := f.db.Credentials(context.Background(), id, f.box)
	require.NoError(f.t, err)
	return creds
}

// noSecrets checks that nothing secret reached a page or the log.
func (f *fixture) noSecrets(texts ...string) {
	f.t.Helper()
	for _, s := range append(texts, f.logBuf.String()) {
		assert.NotContains(f.t, s, clientSecret)
		assert.NotContains(f.t, s, "at-code-")
		assert.NotContains(f.t, s, "rt-code-")
		assert.NotContains(f.t, s, "code-1-xyz")
	}
}

func TestFullFlowCreatesIntegration(t *testing.T) {
	for _, clientAuth := range []string{spec.ClientSecretPost, spec.ClientSecretBasic} {
		t.Run(clientAuth, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, clientAuth)
			loc := f.start("customer=acme&config.region=eu")
			callback := f.mock.approve(loc)

			rec := f.get(callback)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			body := rec.Body.String()
			assert.Contains(t, body, "Connected acmecrm for acme: integration acme-acmecrm. You can close this window.")
			assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			f.noSecrets(body, loc)

			// The mock only answers the right verifier and client authentication; it
			// also saw the spec's token_params.
			assert.Equal(t, 1, f.mock.tokenCalls)
			assert.Equal(t, "api-eu", f.mock.lastForm.Get("audience"))
			assert.Equal(t, clientAuth == spec.ClientSecretPost, f.mock.lastForm.Has("client_secret"))

			in, err := f.db.Integration(ctx, "acme-acmecrm")
			require.NoError(t, err)
			assert.Equal(t, "acme", in.CustomerID)
			assert.Equal(t, "acmecrm", in.Provider)
			assert.Equal(t, "eu", in.Config["region"])
			assert.EqualValues(t, 50, in.Config["page_size"], "config defaults applied")
			assert.True(t, in.HasSecrets)
			assert.Equal(t, f.box.KeyID(), in.KeyID)

			creds := f.credentials("acme-acmecrm")
			assert.Equal(t, clientID, creds["client_id"])
			assert.Equal(t, clientSecret, creds["client_secret"])
			tok, ok := auth.TokenFromCredentials(creds)
			require.True(t, ok)
			assert.Equal(t, "at-code-1-xyz", tok.AccessToken)
			assert.Equal(t, "rt-code-1-xyz", tok.RefreshToken)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)
			assert.Equal(t, "https://eu7.acmecrm.example", tok.Extra["instance_url"])
			assert.Equal(t, "read offline_access", tok.Extra["scope"])
			assert.NotContains(t, tok.Extra, "access_token")
			assert.NotContains(t, tok.Extra, "expires_in")

			// The callback cannot be replayed.
			rec = f.get(callback)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Contains(t, rec.Body.String(), "already used")
			assert.Equal(t, 1, f.mock.tokenCalls, "a reused state never reaches the token endpoint")
			f.noSecrets(rec.Body.String())
		})
	}
}

func TestClientAuthMismatchIsExplained(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	f.mock.clientAuth = spec.ClientSecretBasic // the provider expects the other method
	rec := f.get(f.mock.approve(f.start("customer=acme&config.region=eu")))
	assert.Equal(t, http.StatusBadGateway, rec.Code)
	assert.Contains(t, rec.Body.String(), "invalid_client")
	assert.Contains(t, rec.Body.String(), "tell the operator")
	assert.Contains(t, f.logBuf.String(), "HTTP 401")
	f.noSecrets(rec.Body.String())
	_, err := f.db.Integration(context.Background(), "acme-acmecrm")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnknownAndExpiredStates(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	rec := f.get(publicURL + "/oauth/callback?code=abc&state=nope")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "unknown state")

	rec = f.get(publicURL + "/oauth/callback?code=abc")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "no state")

	callback := f.mock.approve(f.start("customer=acme&config.region=eu"))
	f.now = f.now.Add(oauthflow.StateTTL + time.Second)
	rec = f.get(callback)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "expired")
	assert.Equal(t, 0, f.mock.tokenCalls)

	// Expired is used up too.
	rec = f.get(callback)
	assert.Contains(t, rec.Body.String(), "already used")
}

func TestProviderErrorPage(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	loc := f.start("customer=acme&config.region=eu")
	u, _ := url.Parse(loc)
	state := u.Query().Get("state")
	rec := f.get(publicURL + "/oauth/callback?" + url.Values{"error": {"access_denied"}, "error_description": {"The user said <b>no</b>"}, "state": {state}}.Encode())
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, "Access was not granted")
	assert.Contains(t, body, "access_denied: The user said &lt;b&gt;no&lt;/b&gt;", "provider text is escaped")
	assert.Equal(t, 0, f.mock.tokenCalls)
	assert.Contains(t, f.logBuf.String(), "access_denied")

	// The state was used up by the error.
	callback := f.mock.approve(loc)
	rec = f.get(callback)
	assert.Contains(t, rec.Body.String(), "already used")
}

func TestTokenEndpointFailures(t *testing.T) {
	t.Run("invalid_grant", func(t *testing.T) {
		f := newFixture(t, spec.ClientSecretPost)
		callback := f.mock.approve(f.start("customer=acme&config.region=eu"))
		callback = strings.Replace(callback, "code=code-1-xyz", "code=forged", 1)
		rec := f.get(callback)
		assert.Equal(t, http.StatusBadGateway, rec.Code)
		body := rec.Body.String()
		assert.Contains(t, body, "Authorization refused")
		assert.Contains(t, body, "invalid_grant")
		assert.Contains(t, body, "Start again")
		assert.Contains(t, f.logBuf.String(), `token endpoint answered HTTP 400, error \"invalid_grant\"`)
		assert.NotContains(t, f.logBuf.String(), "forged", "the code is never logged")
		f.noSecrets(body)
		_, err := f.db.Integration(context.Background(), "acme-acmecrm")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("wrong verifier", func(t *testing.T) {
		f := newFixture(t, spec.ClientSecretPost)
		loc := f.start("customer=acme&config.region=eu")
		// An attacker who intercepted the code cannot redeem it with another
		// authorization's verifier: swap the challenge the provider remembers.
		callback := f.mock.approve(loc)
		f.mock.mu.Lock()
		g := f.mock.codes["code-1-xyz"]
		g.challenge = strings.Repeat("A", 43)
		f.mock.codes["code-1-xyz"] = g
		f.mock.mu.Unlock()
		rec := f.get(callback)
		assert.Equal(t, http.StatusBadGateway, rec.Code)
		assert.Contains(t, rec.Body.String(), "invalid_grant")
	})
	t.Run("5xx", func(t *testing.T) {
		f := newFixture(t, spec.ClientSecretPost)
		f.mock.fail5xx = true
		rec := f.get(f.mock.approve(f.start("customer=acme&config.region=eu")))
		assert.Equal(t, http.StatusBadGateway, rec.Code)
		assert.Contains(t, rec.Body.String(), "token endpoint failed (HTTP 503)")
		assert.Contains(t, rec.Body.String(), "Try again")
		assert.NotContains(t, rec.Body.String(), "upstream exploded")
		assert.Contains(t, f.logBuf.String(), "HTTP 503")
		f.noSecrets(rec.Body.String())
	})
}

func TestStartRefusesBadLinks(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	require.NoError(t, f.db.CreateIntegration(context.Background(), store.Integration{ID: "other", CustomerID: "globex", Provider: "acmecrm"}, nil, nil))
	for _, tc := range []struct {
		name, target string
		status       int
		want         string
	}{
		{"undeclared config", "/oauth/acmecrm/start?customer=acme&config.region=eu&config.regoin=us", 400, `acmecrm does not declare config &#34;regoin&#34; (config: region, page_size)`},
		{"credential in link", "/oauth/acmecrm/start?customer=acme&config.region=eu&config.webhook_secret=s3cr3t-value", 400, "webhook_secret is a credential of acmecrm; credentials are never accepted in a link"},
		{"client secret in link", "/oauth/acmecrm/start?customer=acme&config.region=eu&config.client_secret=s3cr3t-value", 400, `does not declare config &#34;client_secret&#34;`},
		{"bad config value", "/oauth/acmecrm/start?customer=acme&config.region=EU", 400, "config.region: &#34;EU&#34; does not match pattern"},
		{"bad integer", "/oauth/acmecrm/start?customer=acme&config.region=eu&config.page_size=many", 400, "config.page_size"},
		{"missing config", "/oauth/acmecrm/start?customer=acme", 400, "acmecrm needs config.region"},
		{"no customer", "/oauth/acmecrm/start?config.region=eu", 400, "names no customer"},
		{"bad customer", "/oauth/acmecrm/start?customer=a%20b&config.region=eu", 400, "customer must be"},
		{"unknown parameter", "/oauth/acmecrm/start?customer=acme&config.region=eu&custmer=x", 400, `Unknown parameter &#34;custmer&#34;`},
		{"repeated parameter", "/oauth/acmecrm/start?customer=acme&customer=globex&config.region=eu", 400, "customer is given 2 times"},
		{"unknown provider", "/oauth/nope/start?customer=acme", 404, `no connector for provider &#34;nope&#34;`},
		{"not oauth", "/oauth/keyed/start?customer=acme", 400, "not connected through an OAuth authorization"},
		{"bad integration id", "/oauth/acmecrm/start?customer=acme&config.region=eu&integration=-x", 400, "integration must be"},
		{"another customer's integration", "/oauth/acmecrm/start?customer=acme&config.region=eu&integration=other", 409, "belongs to another customer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.get(publicURL + tc.target)
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), tc.want)
			assert.NotContains(t, rec.Body.String(), "s3cr3t-value")
			assert.NotContains(t, f.logBuf.String(), "s3cr3t-value")
			assert.Empty(t, rec.Header().Get("Location"))
		})
	}
	var n int
	require.NoError(t, f.db.DB().QueryRow(`SELECT COUNT(*) FROM oauth_states`).Scan(&n))
	assert.Zero(t, n, "a refused link records no state")
}

func TestStartWithoutOAuthApp(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	require.NoError(t, f.db.DeleteOAuthApp(context.Background(), "acmecrm"))
	rec := f.get(publicURL + "/oauth/acmecrm/start?customer=acme&config.region=eu")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "not set up yet")
	assert.Contains(t, f.logBuf.String(), "intake oauth app set --provider acmecrm")
}

func TestReconnectUpdatesIntegration(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, spec.ClientSecretBasic)
	rec := f.get(f.mock.approve(f.start("customer=acme&config.region=eu&config.page_size=20&integration=acme-crm")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "integration acme-crm.")
	creds := f.credentials("acme-crm")
	creds["webhook_secret"] = "whsec-kept"
	vc, err := f.db.LoadCredentials(ctx, "acme-crm", f.box)
	require.NoError(t, err)
	_, err = f.db.SaveCredentials(ctx, "acme-crm", creds, vc.Version, "", f.box)
	require.NoError(t, err)

	// integration= named a new id: it was created with it.
	in, err := f.db.Integration(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, "acme", in.CustomerID)

	// Auth failures disabled it; reconnecting is the fix and enables it again.
	require.NoError(t, f.db.SetIntegrationStatus(ctx, "acme-crm", store.StatusDisabled, "the provider refused the credentials"))

	// Reconnect: the link repeats no config; the provider sends no new refresh token.
	f.mock.noRefresh = true
	rec = f.get(f.mock.approve(f.start("customer=acme&integration=acme-crm")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "integration acme-crm.")

	in, err = f.db.Integration(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, store.StatusEnabled, in.Status, "a reconnect enables a disabled integration")
	assert.Equal(t, "eu", in.Config["region"], "the integration's config is kept")
	assert.EqualValues(t, 20, in.Config["page_size"])
	creds = f.credentials("acme-crm")
	tok, ok := auth.TokenFromCredentials(creds)
	require.True(t, ok)
	assert.Equal(t, "at-code-2-xyz", tok.AccessToken)
	assert.Equal(t, "rt-code-1-xyz", tok.RefreshToken, "the previous refresh token is kept when none is sent")
	assert.Equal(t, "whsec-kept", creds["webhook_secret"], "other credentials are kept")
	vc2, err := f.db.LoadCredentials(ctx, "acme-crm", f.box)
	require.NoError(t, err)
	assert.Greater(t, vc2.Version, vc.Version, "the credentials version moves, so a concurrent refresh cannot overwrite the new token")

	// A plain link for the same customer reconnects its default integration too.
	f.mock.noRefresh = false
	rec = f.get(f.mock.approve(f.start("customer=acme&config.region=eu")))
	require.Equal(t, http.StatusOK, rec.Code)
	rec = f.get(f.mock.approve(f.start("customer=acme&config.region=eu")))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	tok, _ = auth.TokenFromCredentials(f.credentials("acme-acmecrm"))
	assert.Equal(t, "at-code-4-xyz", tok.AccessToken)
	f.noSecrets(rec.Body.String())
}

func TestStateAndVerifierAtRest(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	loc := f.start("customer=acme&config.region=eu")
	u, _ := url.Parse(loc)
	var provider, customer, cfg, redirect, expires string
	var verifier []byte
	require.NoError(t, f.db.DB().QueryRow(`SELECT provider, customer_id, config, code_verifier, redirect_url, expires_at FROM oauth_states WHERE state = ?`, u.Query().Get("state")).
		Scan(&provider, &customer, &cfg, &verifier, &redirect, &expires))
	assert.Equal(t, "acmecrm", provider)
	assert.Equal(t, "acme", customer)
	assert.JSONEq(t, `{"region":"eu","page_size":50}`, cfg)
	assert.Equal(t, redirectURL, redirect)
	assert.Equal(t, f.now.Add(10*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"), expires, "fixed-width RFC 3339, so it compares as text")
	assert.NotEmpty(t, verifier)
	assert.NotContains(t, string(verifier), u.Query().Get("code_challenge"))
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, spec.ClientSecretPost)
	rec := f.get(publicURL + "/oauth/")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, publicURL+"/oauth/acmecrm/start?customer=acme", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestStartURL(t *testing.T) {
	assert.Equal(t, "https://x.test/oauth/acmecrm/start?customer=a%26b", oauthflow.StartURL("https://x.test/", "acmecrm", "a&b"))
}
