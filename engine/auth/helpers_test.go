package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/internal/mockapi"
)

// Credentials the mock token endpoint accepts; long and distinctive so that a leak
// is unambiguous.
const (
	clientID     = "client-7Hq2"
	clientSecret = "cs_Wq9Lm3Zt7Rb5Kx1Vn8"
)

// tokenServer is the mock OAuth2 API on httptest, recording every access and refresh
// token its token endpoint issued.
type tokenServer struct {
	*httptest.Server
	api *mockapi.Server

	mu      sync.Mutex
	access  []string
	refresh []string
	delay   time.Duration // added to every token request, so concurrent callers pile up
}

func newTokenServer(t *testing.T, opts mockapi.Options) *tokenServer {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = clientID, clientSecret
	}
	ts := &tokenServer{api: mockapi.New(opts)}
	h := ts.api.Handler()
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			h.ServeHTTP(w, r)
			return
		}
		ts.mu.Lock()
		delay := ts.delay
		ts.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil {
			ts.mu.Lock()
			if body.AccessToken != "" {
				ts.access = append(ts.access, body.AccessToken)
			}
			if body.RefreshToken != "" {
				ts.refresh = append(ts.refresh, body.RefreshToken)
			}
			ts.mu.Unlock()
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	ts.api.SetURL(ts.URL)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) issued() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.access...)
}

func (ts *tokenServer) setDelay(d time.Duration) {
	ts.mu.Lock()
	ts.delay = d
	ts.mu.Unlock()
}

// oauthConnector loads a connector with oauth2 auth of grant against the mock; extra
// is appended inside the auth flow mapping (", client_auth: ...").
func oauthConnector(t *testing.T, grant, extra string) *spec.Connector {
	t.Helper()
	src := fmt.Sprintf(`provider: mock
config: {url: {}}
credentials: {client_id: {}, client_secret: {}, refresh_token: {required: false}}
base_url: '${ .config.url }/v1'
auth: {type: oauth2, grant: %s, token_url: '${ .config.url }/oauth/token'%s}
interaction_types:
  items: {kind: item, request: {path: /items}, records: '.items[]', id: .id}
`, grant, extra)
	c, err := spec.Load("mock.yaml", []byte(src))
	require.NoError(t, err, src)
	return c
}

func baseCreds() map[string]any {
	return map[string]any{"client_id": clientID, "client_secret": clientSecret}
}

// staleCreds holds an access token that expired an hour ago.
func staleCreds(extra map[string]any) map[string]any {
	c := baseCreds()
	for k, v := range extra {
		c[k] = v
	}
	return WithToken(c, TokenState{AccessToken: "at-stale", RefreshToken: str(extra["refresh_token"]), Expiry: time.Now().Add(-time.Hour)})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func newOAuth(t *testing.T, conn *spec.Connector, ts *tokenServer, store CredentialStore, owner string, mod func(*Options)) *oauthSource {
	t.Helper()
	o := Options{Connector: conn, Config: map[string]any{"url": ts.URL}, Store: store, Owner: owner, Retries: 2}
	if mod != nil {
		mod(&o)
	}
	src, err := NewSource(o)
	require.NoError(t, err)
	s, ok := src.(*oauthSource)
	require.True(t, ok, "oauth2 auth gets an *oauthSource, got %T", src)
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// storedToken reads the token state a CredentialStore holds.
func storedToken(t *testing.T, s CredentialStore) (TokenState, int64) {
	t.Helper()
	vc, err := s.Load(context.Background())
	require.NoError(t, err)
	ts, _ := TokenFromCredentials(vc.Values)
	return ts, vc.Version
}
