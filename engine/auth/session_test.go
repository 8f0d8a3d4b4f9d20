package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

const (
	sessUser     = "svc@example.com"
	sessPassword = "pw_Tt6Yy5Uu4Ii3Oo2"
)

// loginAPI answers POST /login with the nth answer of answers (the last repeats).
type loginAPI struct {
	*httptest.Server
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	bodies  []map[string]any
}

func newLoginAPI(t *testing.T, answers ...func(w http.ResponseWriter)) *loginAPI {
	t.Helper()
	a := &loginAPI{answers: answers}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/login" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		a.mu.Lock()
		a.bodies = append(a.bodies, body)
		n := len(a.bodies)
		a.mu.Unlock()
		a.answers[min(n, len(a.answers))-1](w)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *loginAPI) logins() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.bodies)
}

func (a *loginAPI) sent() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.bodies...)
}

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// sessionConnector loads a session-auth connector; expiry is "expires_in: ..." or
// "ttl: ..." or "".
func sessionConnector(t *testing.T, expiry string) *spec.Connector {
	t.Helper()
	src := fmt.Sprintf(`provider: sess
config: {url: {}}
credentials: {username: {}, password: {}}
base_url: '${ .config.url }/api'
auth:
  type: session
  login:
    path: /login
    body: {user: '${ .credentials.username }', password: '${ .credentials.password }'}
  session_token: .data.session
  %s
interaction_types:
  items: {kind: item, request: {path: /items}, records: '.items[]', id: .id}
`, expiry)
	c, err := spec.Load("sess.yaml", []byte(src))
	require.NoError(t, err, src)
	return c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSession(t *testing.T, conn *spec.Connector, api *loginAPI, clk *clock, retries int) Source {
	t.Helper()
	src, err := NewSource(Options{Connector: conn, Config: map[string]any{"url": api.URL},
		Store: NewMemoryCredentials(map[string]any{"username": sessUser, "password": sessPassword}), Owner: "p", Now: clk.Now, Retries: retries})
	require.NoError(t, err)
	_, ok := src.(*sessionSource)
	require.True(t, ok, "session auth gets a *sessionSource, got %T", src)
	return src
}

func TestSessionLogin(t *testing.T) {
	ctx := testCtx(t)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("expires_in", func(t *testing.T) {
		var n atomic.Int32
		api := newLoginAPI(t, func(w http.ResponseWriter) {
			answer(200, fmt.Sprintf(`{"data":{"session":"sess-%d","expires":600},"region":"eu"}`, n.Add(1)))(w)
		})
		clk := &clock{t: start}
		src := newSession(t, sessionConnector(t, "expires_in: .data.expires"), api, clk, 0)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sess-1", tok.Value)
		assert.Equal(t, "sess-1", tok.Vars["token"], ".auth.token is the session token")
		assert.Equal(t, "eu", tok.Vars["region"], "the rest of the login response is in .auth")
		assert.Equal(t, start.Add(600*time.Second), tok.Expiry)
		assert.Equal(t, []map[string]any{{"user": sessUser, "password": sessPassword}}, api.sent())

		clk.Add(500 * time.Second) // 100s left: more than refresh_before (1m)
		tok, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sess-1", tok.Value)
		assert.Equal(t, 1, api.logins())

		clk.Add(50 * time.Second) // 50s left
		tok, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sess-2", tok.Value)
		assert.Equal(t, 2, api.logins())
		assert.Equal(t, start.Add(1150*time.Second), tok.Expiry)
	})
	t.Run("expires_in beyond a Duration", func(t *testing.T) {
		for _, v := range []string{"1e12", "1e400", `"Inf"`, "9223372037"} {
			api := newLoginAPI(t, answer(200, `{"data":{"session":"s","expires":`+v+`}}`))
			clk := &clock{t: start}
			src := newSession(t, sessionConnector(t, "expires_in: .data.expires"), api, clk, 0)
			tok, err := src.Token(ctx)
			require.NoError(t, err, v)
			assert.True(t, tok.Expiry.IsZero(), "%s: no expiry, got %v", v, tok.Expiry)
			_, err = src.Token(ctx)
			require.NoError(t, err, v)
			assert.Equal(t, 1, api.logins(), "%s: the session is kept, not logged in again", v)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		api := newLoginAPI(t, answer(200, `{"data":{"session":"sess-ttl"}}`))
		clk := &clock{t: start}
		src := newSession(t, sessionConnector(t, "ttl: 10m"), api, clk, 0)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sess-ttl", tok.Value)
		assert.Equal(t, start.Add(10*time.Minute), tok.Expiry)
		clk.Add(8 * time.Minute)
		_, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, api.logins())
		clk.Add(90 * time.Second)
		_, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, api.logins())
	})
	t.Run("no expiry", func(t *testing.T) {
		api := newLoginAPI(t, answer(200, `{"data":{"session":"sess-forever"}}`))
		clk := &clock{t: start}
		src := newSession(t, sessionConnector(t, ""), api, clk, 0)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.True(t, tok.Expiry.IsZero())
		clk.Add(30 * 24 * time.Hour)
		_, err = src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, api.logins(), "a session without expiry lasts until refused")
	})
}

func TestSessionRefresh(t *testing.T) {
	ctx := testCtx(t)
	n := 0
	var mu sync.Mutex
	api := newLoginAPI(t, func(w http.ResponseWriter) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		answer(200, fmt.Sprintf(`{"data":{"session":"sess-%d"}}`, i))(w)
	})
	src := newSession(t, sessionConnector(t, ""), api, &clock{t: time.Now()}, 0)
	t1, err := src.Token(ctx)
	require.NoError(t, err)
	toks, errs := parallel(20, func() (*Token, error) { return src.Refresh(ctx, t1) })
	for i := range toks {
		require.NoError(t, errs[i])
		assert.Equal(t, "sess-2", toks[i].Value)
	}
	assert.Equal(t, 2, api.logins(), "20 refusals of one session log in once")
	again, err := src.Refresh(ctx, t1)
	require.NoError(t, err)
	assert.Equal(t, "sess-2", again.Value)
	assert.Equal(t, 2, api.logins())
}

func TestSessionLoginFailures(t *testing.T) {
	ctx := testCtx(t)
	start := time.Now()
	t.Run("refused", func(t *testing.T) {
		// The provider echoes what it was sent.
		api := newLoginAPI(t, answer(401, fmt.Sprintf(`{"error":"bad password %s for %s"}`, sessPassword, sessUser)))
		src := newSession(t, sessionConnector(t, ""), api, &clock{t: start}, 3)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
		assert.Contains(t, err.Error(), "HTTP 401")
		assert.NotContains(t, err.Error(), sessPassword)
		assert.Equal(t, 1, api.logins(), "a refused login is not retried")
	})
	t.Run("503 then success", func(t *testing.T) {
		api := newLoginAPI(t, answer(503, `{"error":"maintenance"}`), answer(200, `{"data":{"session":"sess-ok"}}`))
		src := newSession(t, sessionConnector(t, ""), api, &clock{t: start}, 2)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "sess-ok", tok.Value)
		assert.Equal(t, 2, api.logins())
	})
	t.Run("503 past the retries", func(t *testing.T) {
		api := newLoginAPI(t, answer(503, `{"error":"maintenance"}`))
		src := newSession(t, sessionConnector(t, ""), api, &clock{t: start}, 1)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.False(t, ae.Permanent)
		assert.Equal(t, 2, api.logins())
	})
	t.Run("no token in the answer", func(t *testing.T) {
		api := newLoginAPI(t, answer(200, `{"data":{}}`))
		src := newSession(t, sessionConnector(t, ""), api, &clock{t: start}, 2)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
		assert.Contains(t, err.Error(), ".data.session")
		assert.Equal(t, 1, api.logins())
	})
}
