package pipeline

// End-to-end acceptance tests of token-based auth and rate limits: LoadJob + Syncer
// against internal/mockapi (an OAuth2-protected API with expiring and rotating tokens,
// 5xx, 429 and truncated bodies) on httptest, with credentials sealed in a temporary
// SQLite store.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/mockapi"
	"github.com/intakehq/intake/internal/syncbuf"
)

// Credentials of the mock's OAuth client: long and distinctive, so that a leak is
// unambiguous.
const (
	e2eClientID     = "client-e2e-4Kp9"
	e2eClientSecret = "cs_e2e_Jd83Hs72Ks01Lq5"
	e2eIntegration  = "acme-mock"
)

// e2eConfig describes one scenario.
type e2eConfig struct {
	mock      mockapi.Options
	grant     string         // default client_credentials
	authExtra string         // appended inside the auth flow mapping
	baseURL   string         // default '${ .config.url }/v1'
	rateLimit string         // flow mapping; "" for none
	types     []string       // interaction types, all reading /v1/items; default items
	limit     int            // page size asked for; default 50
	creds     map[string]any // default: client id and secret (and refresh_token rt-0 for grant refresh_token)
	// config url; default the mock server's URL
	configURL string
	// tokenDelay slows the token endpoint down, so that refreshes overlap.
	tokenDelay time.Duration
}

// e2e is a running scenario: the mock API, its server (which records every access
// and refresh token it issues) and the store.
type e2e struct {
	api    *mockapi.Server
	srv    *httptest.Server
	cat    *spec.Catalog
	dbPath string
	db     *store.Store
	box    *secret.Box
	conn   *spec.Connector

	tokenDelay time.Duration

	mu      sync.Mutex
	access  []string
	refresh []string
}

func newE2E(t *testing.T, cfg e2eConfig) *e2e {
	t.Helper()
	ctx := context.Background()
	if cfg.grant == "" {
		cfg.grant = spec.GrantClientCredentials
	}
	if cfg.baseURL == "" {
		cfg.baseURL = "${ .config.url }/v1"
	}
	if len(cfg.types) == 0 {
		cfg.types = []string{"items"}
	}
	if cfg.limit == 0 {
		cfg.limit = 50
	}
	if cfg.mock.ClientID == "" {
		cfg.mock.ClientID, cfg.mock.ClientSecret = e2eClientID, e2eClientSecret
	}
	if cfg.mock.PageSize == 0 {
		cfg.mock.PageSize = cfg.limit
	}
	e := &e2e{api: mockapi.New(cfg.mock), tokenDelay: cfg.tokenDelay}
	e.srv = httptest.NewServer(e.wrap(e.api.Handler()))
	t.Cleanup(e.srv.Close)
	e.api.SetURL(e.srv.URL)

	var b strings.Builder
	fmt.Fprintf(&b, `provider: mockapi
config: {url: {}}
credentials: {client_id: {}, client_secret: {}, refresh_token: {required: false}}
base_url: '%s'
auth: {type: oauth2, grant: %s, token_url: '${ .config.url }/oauth/token'%s}
retries: 6
`, cfg.baseURL, cfg.grant, cfg.authExtra)
	if cfg.rateLimit != "" {
		fmt.Fprintf(&b, "rate_limit: %s\n", cfg.rateLimit)
	}
	b.WriteString("interaction_types:\n")
	for _, typ := range cfg.types {
		fmt.Fprintf(&b, `  %s:
    kind: item
    request: {path: /items}
    records: .items[]
    id: .id
    pagination: {type: cursor, next: .next, param: after, limit_param: limit, limit: %d}
    incremental: {cursor: .updated_at, param: updated_since}
    fields: {name: .name, email: .email}
`, typ, cfg.limit)
	}
	e.cat = spec.LoadCatalog("", fstest.MapFS{"mockapi.yaml": {Data: []byte(b.String())}})
	require.Empty(t, e.cat.Problems, b.String())
	var err error
	e.conn, err = e.cat.Get("mockapi")
	require.NoError(t, err)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.box, err = secret.NewBox(key)
	require.NoError(t, err)
	e.dbPath = filepath.Join(t.TempDir(), "intake.db")
	e.db = e.open(t)

	creds := cfg.creds
	if creds == nil {
		creds = map[string]any{"client_id": e2eClientID, "client_secret": e2eClientSecret}
		if cfg.grant == spec.GrantRefreshToken {
			creds["refresh_token"] = mockapi.DefaultRefreshToken
		}
	}
	configURL := cfg.configURL
	if configURL == "" {
		configURL = e.srv.URL
	}
	require.NoError(t, e.db.CreateIntegration(ctx, store.Integration{ID: e2eIntegration, CustomerID: "acme", Provider: "mockapi",
		Config: map[string]any{"url": configURL}}, creds, e.box))
	return e
}

// open opens another handle on the scenario's database, as another process would.
func (e *e2e) open(t *testing.T) *store.Store {
	t.Helper()
	db, err := store.Open(context.Background(), e.dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// wrap records the tokens the token endpoint hands out.
func (e *e2e) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			h.ServeHTTP(w, r)
			return
		}
		time.Sleep(e.tokenDelay)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil {
			e.mu.Lock()
			if body.AccessToken != "" {
				e.access = append(e.access, body.AccessToken)
			}
			if body.RefreshToken != "" {
				e.refresh = append(e.refresh, body.RefreshToken)
			}
			e.mu.Unlock()
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func (e *e2e) issued() (access, refresh []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.access...), append([]string(nil), e.refresh...)
}

func e2eOptions(owner string) retrieve.Options {
	return retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, Owner: owner}
}

// job loads the integration through LoadJob, on db.
func (e *e2e) job(t *testing.T, db *store.Store, opts retrieve.Options, types ...string) Job {
	t.Helper()
	job, err := LoadJob(context.Background(), db, e.cat, e.box, e2eIntegration, opts)
	require.NoError(t, err)
	job.Types = types
	return job
}

func e2eCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// counts returns how many rows each external id has under one interaction type.
func (e *e2e) counts(t *testing.T, typ string) map[string]int {
	t.Helper()
	rows, err := e.db.DB().Query(`SELECT i.external_id, COUNT(*) FROM interactions i
		JOIN integration_objects o ON o.id = i.integration_object_id
		WHERE o.integration_id = ? AND o.interaction_type = ? GROUP BY i.external_id`, e2eIntegration, typ)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// requireExactlyOnce checks that typ holds every record of the mock exactly once.
func (e *e2e) requireExactlyOnce(t *testing.T, typ string) {
	t.Helper()
	counts := e.counts(t, typ)
	stored := make([]string, 0, len(counts))
	for id, n := range counts {
		stored = append(stored, id)
		if n != 1 {
			t.Errorf("%s: record %s stored %d times", typ, id, n)
		}
	}
	sort.Strings(stored)
	want := e.api.RecordIDs()
	sort.Strings(want)
	require.Equal(t, want, stored, "%s: the stored ids are the API's", typ)
}

// storedToken reads the token state persisted for the integration.
func (e *e2e) storedToken(t *testing.T) auth.TokenState {
	t.Helper()
	vc, err := e.db.LoadCredentials(context.Background(), e2eIntegration, e.box)
	require.NoError(t, err)
	ts, ok := auth.TokenFromCredentials(vc.Values)
	require.True(t, ok, "no token state stored")
	return ts
}

func requireSucceeded(t *testing.T, results []Result, err error, records int) {
	t.Helper()
	require.NoError(t, err)
	require.NotEmpty(t, results)
	for _, r := range results {
		require.NoError(t, r.Err, r.Type)
		require.NotNil(t, r.Run, r.Type)
		assert.Equal(t, store.RunSucceeded, r.Run.Status, r.Type)
		assert.Equal(t, records, r.Run.RecordsNew, r.Type)
		assert.Empty(t, r.Run.ErrorClass, r.Type)
	}
}

// scenarioA is the hostile API of acceptance criterion (a).
func scenarioA() e2eConfig {
	return e2eConfig{mock: mockapi.Options{
		Records:       1500,
		PageSize:      50,
		TokenUses:     25,
		FailRate:      0.03,
		Seed:          7,
		RateLimit:     40,
		RateWindow:    200 * time.Millisecond,
		TruncateEvery: 17,
	}}
}

// scenarioTight overruns its rate limit for sure: 6 calls a second is far below what
// an unthrottled client does with small pages (hundreds a second, and still a dozen
// in half a second on a starved CI machine), while scenarioA's 40 per 200ms may not
// be reached (a sync commits each page of 50 before asking for the next). Each 429
// costs a one-second Retry-After, so it is kept short.
func scenarioTight() e2eConfig {
	return e2eConfig{limit: 5, mock: mockapi.Options{
		Records:       100,
		PageSize:      5,
		TokenUses:     5,
		FailRate:      0.03,
		Seed:          11,
		RateLimit:     6,
		RateWindow:    time.Second,
		TruncateEvery: 7,
	}}
}

// (a) Tokens that die every 25 calls, 3% 500s, a rate limit the spec does not know
// and truncated bodies: the sync succeeds and stores every record exactly once.
func TestE2EHostileAPI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   e2eConfig
		pages int
	}{{"40 per 200ms", scenarioA(), 30}, {"6 per 1s", scenarioTight(), 20}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, tc.cfg)
			results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
			requireSucceeded(t, results, err, tc.cfg.mock.Records)
			e.requireExactlyOnce(t, "items")
			st := e.api.Stats()
			t.Logf("stats: %+v", st)
			assert.Equal(t, tc.pages, results[0].Run.Pages)
			assert.GreaterOrEqual(t, st.Status401, 1, "the pages outlive a token")
			assert.GreaterOrEqual(t, st.ClientCredentialsGrants, 2)
			assert.GreaterOrEqual(t, st.Truncated, 1)
			if tc.cfg.mock.RateLimit == 6 {
				assert.Greater(t, st.Status429, 0, "the scenario does overrun the provider's limit")
			}
		})
	}
}

// (b) The same API with a spec rate_limit below the provider's: no 429 at all.
func TestE2ERateLimitPrevents429(t *testing.T) {
	t.Parallel()
	a := scenarioA()
	a.rateLimit = "{requests: 30, per: 200ms}"
	tight := scenarioTight()
	tight.rateLimit = "{requests: 4, per: 1s}"
	for name, cfg := range map[string]e2eConfig{"30 per 200ms under 40": a, "4 per 1s under 6": tight} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, cfg)
			results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
			requireSucceeded(t, results, err, cfg.mock.Records)
			e.requireExactlyOnce(t, "items")
			st := e.api.Stats()
			t.Logf("stats: %+v", st)
			assert.Equal(t, 0, st.Status429)
			assert.LessOrEqual(t, st.MaxCallsInWindow, cfg.mock.RateLimit)
			assert.GreaterOrEqual(t, st.Status401, 1, "the scenario still expires tokens")
		})
	}
}

// (c) Secrets never land in logs, traces or the database file: the client secret,
// every access token the mock issued and every refresh token.
func TestE2ESecretsNeverLand(t *testing.T) {
	for _, grant := range []string{spec.GrantClientCredentials, spec.GrantRefreshToken} {
		t.Run(grant, func(t *testing.T) {
			t.Parallel()
			cfg := scenarioA()
			cfg.grant = grant
			initialRefresh := "rt-initial-Qw7Er6Ty5"
			if grant == spec.GrantRefreshToken {
				cfg.mock.RotateRefresh = true
				cfg.mock.InitialRefreshToken = initialRefresh
				cfg.creds = map[string]any{"client_id": e2eClientID, "client_secret": e2eClientSecret, "refresh_token": initialRefresh}
			}
			e := newE2E(t, cfg)
			var buf syncbuf.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			opts := e2eOptions("proc-a")
			opts.Logger = logger
			var traces atomic.Int32
			opts.Trace = func(ev retrieve.TraceEvent) {
				traces.Add(1)
				b, _ := json.Marshal(ev)
				_, _ = buf.Write(append(b, '\n'))
			}
			results, err := (&Syncer{Store: e.db, Logger: logger}).Sync(e2eCtx(t), e.job(t, e.db, opts))
			requireSucceeded(t, results, err, 1500)
			e.requireExactlyOnce(t, "items")

			access, refresh := e.issued()
			require.GreaterOrEqual(t, len(access), 2, "tokens were refreshed")
			secrets := map[string]string{"client secret": e2eClientSecret}
			for i, a := range access {
				secrets[fmt.Sprintf("access token %d", i+1)] = a
			}
			if grant == spec.GrantRefreshToken {
				require.Len(t, refresh, len(access), "every refresh rotated the refresh token")
				secrets["initial refresh token"] = initialRefresh
				for i, r := range refresh {
					secrets[fmt.Sprintf("refresh token %d", i+1)] = r
				}
			}

			logs := buf.Bytes()
			assert.Contains(t, string(logs), `"msg":"sync run"`, "the log was written")
			assert.Contains(t, string(logs), "/oauth/token", "token requests were traced")
			assert.Greater(t, traces.Load(), int32(30))
			haystacks := map[string][]byte{"logs and traces": logs}
			for _, suffix := range []string{"", "-wal"} {
				b, err := os.ReadFile(e.dbPath + suffix)
				if os.IsNotExist(err) {
					continue
				}
				require.NoError(t, err)
				haystacks["database file "+filepath.Base(e.dbPath+suffix)] = b
			}
			for where, hay := range haystacks {
				for what, s := range secrets {
					assert.False(t, bytes.Contains(hay, []byte(s)), "%s found in %s", what, where)
					assert.False(t, bytes.Contains(hay, []byte(url.QueryEscape(s))), "%s (query-escaped) found in %s", what, where)
				}
			}
			// After a checkpoint the main file holds everything: still nothing in clear.
			require.NoError(t, e.db.Close())
			b, err := os.ReadFile(e.dbPath)
			require.NoError(t, err)
			for what, s := range secrets {
				assert.False(t, bytes.Contains(b, []byte(s)), "%s found in the checkpointed database", what)
			}
		})
	}
}

// (d) Two processes (two LoadJob, two clients, two token sources, one database) sync
// the same integration at once while its short-lived tokens are refreshed with
// rotating refresh tokens: no refresh token is ever presented twice.
func TestE2ERefreshRotationAcrossProcesses(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eConfig{
		mock:      mockapi.Options{Records: 300, PageSize: 10, RotateRefresh: true, TokenTTL: 2 * time.Second},
		grant:     spec.GrantRefreshToken,
		authExtra: ", refresh_before: 1s",
		// Slow enough that each sync outlives a couple of tokens.
		rateLimit: "{requests: 12, per: 1s}",
		limit:     10,
		types:     []string{"items_a", "items_b"},
		// A refresh takes longer than the gap between two requests of the other
		// process, which therefore finds its token due while the refresh is under way.
		tokenDelay: 150 * time.Millisecond,
	})
	ctx := e2eCtx(t)
	dbA, dbB := e.open(t), e.open(t)
	jobA := e.job(t, dbA, e2eOptions("proc-a"), "items_a")
	jobB := e.job(t, dbB, e2eOptions("proc-b"), "items_b")

	var wg sync.WaitGroup
	var resA, resB []Result
	var errA, errB error
	wg.Add(2)
	go func() {
		defer wg.Done()
		resA, errA = (&Syncer{Store: dbA}).Sync(ctx, jobA)
	}()
	go func() {
		defer wg.Done()
		resB, errB = (&Syncer{Store: dbB}).Sync(ctx, jobB)
	}()
	wg.Wait()
	requireSucceeded(t, resA, errA, 300)
	requireSucceeded(t, resB, errB, 300)
	e.requireExactlyOnce(t, "items_a")
	e.requireExactlyOnce(t, "items_b")

	st := e.api.Stats()
	t.Logf("stats: %+v", st)
	assert.Equal(t, 0, st.BurnedRefreshTokens, "a rotated-away refresh token was presented")
	assert.GreaterOrEqual(t, st.RefreshGrants, 3, "tokens were refreshed during the syncs")
	_, refresh := e.issued()
	assert.Len(t, refresh, st.RefreshGrants)
	assert.Equal(t, e.api.CurrentRefreshToken(), e.storedToken(t).RefreshToken)
}

// tokenPair obtains a token pair from the mock directly, as connecting would.
func (e *e2e) tokenPair(t *testing.T, refresh string) auth.TokenState {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e2eClientID, e2eClientSecret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return auth.TokenState{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, TokenType: "bearer",
		Expiry: time.Now().Add(time.Duration(body.ExpiresIn) * time.Second)}
}

// (e) The access token dies mid-pagination: the 401 on page 6 causes exactly one
// refresh, the sync carries on, and the rotated refresh token is persisted.
func TestE2ETokenExpiryMidPagination(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eConfig{
		mock:  mockapi.Options{Records: 500, PageSize: 50, RotateRefresh: true, TokenUses: 5},
		grant: spec.GrantRefreshToken,
	})
	ctx := context.Background()
	// The integration was connected: its credentials hold a token pair, and the
	// refresh token it was connected with has been rotated away since.
	connected := e.tokenPair(t, mockapi.DefaultRefreshToken)
	creds := map[string]any{"client_id": e2eClientID, "client_secret": e2eClientSecret, "refresh_token": mockapi.DefaultRefreshToken}
	require.NoError(t, e.db.UpdateIntegration(ctx, e2eIntegration, map[string]any{"url": e.srv.URL}, auth.WithToken(creds, connected), e.box))
	before := e.api.Stats()
	require.Equal(t, 1, before.RefreshGrants)

	results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
	requireSucceeded(t, results, err, 500)
	e.requireExactlyOnce(t, "items")
	assert.Equal(t, 10, results[0].Run.Pages)

	st := e.api.Stats()
	assert.Equal(t, 1, st.Status401, "the token died once, on page 6")
	assert.Equal(t, 1, st.RefreshGrants-before.RefreshGrants, "exactly one refresh")
	assert.Equal(t, 11, st.APICalls, "10 pages and the refused one")
	assert.Equal(t, 0, st.BurnedRefreshTokens, "the stored pair's refresh token was used, not the stale credentials.refresh_token")

	stored := e.storedToken(t)
	access, refresh := e.issued()
	require.Len(t, refresh, 2)
	assert.Equal(t, e.api.CurrentRefreshToken(), stored.RefreshToken)
	assert.Equal(t, refresh[1], stored.RefreshToken)
	assert.NotEqual(t, connected.RefreshToken, stored.RefreshToken)
	assert.Equal(t, access[len(access)-1], stored.AccessToken)
}

// (f) The token endpoint fails twice, then answers: the sync succeeds. A revoked
// refresh token fails the run as an auth failure, with no token in the error.
func TestE2ETokenEndpointFailures(t *testing.T) {
	t.Parallel()
	t.Run("503 twice", func(t *testing.T) {
		e := newE2E(t, e2eConfig{mock: mockapi.Options{Records: 120, PageSize: 50, TokenFailures: 2}})
		results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
		requireSucceeded(t, results, err, 120)
		e.requireExactlyOnce(t, "items")
		st := e.api.Stats()
		assert.Equal(t, 3, st.TokenRequests)
		assert.Equal(t, 1, st.ClientCredentialsGrants)
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		const revoked = "rt-revoked-Mn4Bv3Cx2"
		e := newE2E(t, e2eConfig{
			mock:  mockapi.Options{Records: 120, InitialRefreshToken: "rt-live-Zx9Yw8"},
			grant: spec.GrantRefreshToken,
			creds: map[string]any{"client_id": e2eClientID, "client_secret": e2eClientSecret, "refresh_token": revoked},
		})
		results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
		require.NoError(t, err, "a failed type is reported on its result")
		require.Len(t, results, 1)
		r := results[0]
		require.Error(t, r.Err)
		assert.Equal(t, store.RunFailed, r.Run.Status)
		assert.Equal(t, spec.ClassAuth, r.Run.ErrorClass)
		assert.Contains(t, r.Run.Error, "invalid_grant")
		for _, s := range []string{revoked, e2eClientSecret, "rt-live-Zx9Yw8"} {
			assert.NotContains(t, r.Run.Error, s)
			assert.NotContains(t, r.Err.Error(), s)
		}
		st := e.api.Stats()
		assert.Equal(t, 1, st.TokenRequests, "a refused grant is not retried")
		assert.Equal(t, 0, st.APICalls)
		assert.Empty(t, e.counts(t, "items"))
	})
}

// (g) Client authentication at the token endpoint: client_secret_post where the
// provider wants it works; the default (basic) against it is an auth failure, and so
// is post against a provider that wants basic.
func TestE2EClientAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, authExtra, mock string
		ok                    bool
	}{
		{"post against post", ", client_auth: client_secret_post", "post", true},
		{"basic (default) against basic", "", "basic", true},
		{"basic (default) against post", "", "post", false},
		{"post against basic", ", client_auth: client_secret_post", "basic", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, e2eConfig{mock: mockapi.Options{Records: 60, ClientAuth: tc.mock}, authExtra: tc.authExtra})
			results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
			if tc.ok {
				requireSucceeded(t, results, err, 60)
				e.requireExactlyOnce(t, "items")
				return
			}
			require.NoError(t, err)
			r := results[0]
			require.Error(t, r.Err)
			assert.Equal(t, spec.ClassAuth, r.Run.ErrorClass)
			assert.Contains(t, r.Run.Error, "invalid_client")
			assert.NotContains(t, r.Run.Error, e2eClientSecret)
			assert.Equal(t, 1, e.api.Stats().TokenRequests)
			assert.Equal(t, 0, e.api.Stats().APICalls)
		})
	}
}

// (h) The token response's extra fields are .auth: a Salesforce-style instance_url
// becomes the base URL, on another host than the token endpoint.
func TestE2EAuthExtrasInBaseURL(t *testing.T) {
	t.Parallel()
	e := newE2E(t, e2eConfig{
		mock:    mockapi.Options{Records: 120, ExtraTokenFields: map[string]any{"instance_url": "$URL"}},
		baseURL: "${ .auth.instance_url }/v1",
	})
	// The API answers on its own host; the login host (config.url) serves only tokens.
	var instanceCalls, loginAPICalls atomic.Int32
	instance := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instanceCalls.Add(1)
		e.api.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(instance.Close)
	e.api.SetURL(instance.URL)
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			loginAPICalls.Add(1)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		e.srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(login.Close)
	require.NoError(t, e.db.UpdateIntegration(context.Background(), e2eIntegration, map[string]any{"url": login.URL}, nil, e.box))

	results, err := (&Syncer{Store: e.db}).Sync(e2eCtx(t), e.job(t, e.db, e2eOptions("proc-a")))
	requireSucceeded(t, results, err, 120)
	e.requireExactlyOnce(t, "items")
	assert.Equal(t, int32(3), instanceCalls.Load(), "three pages from the instance")
	assert.Equal(t, int32(0), loginAPICalls.Load())
	assert.Equal(t, instance.URL, e.storedToken(t).Extra["instance_url"], "the extra field is persisted with the token")
}
