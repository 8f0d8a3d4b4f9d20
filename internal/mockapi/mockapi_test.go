package mockapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---- helpers ----

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tokenCall posts a form to /oauth/token through the handler. auth is
// "basic", "post" or "" (no client credentials at all).
func tokenCall(t *testing.T, h http.Handler, auth, id, secret string, form url.Values) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if auth == "post" {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth == "basic" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec, body
}

func grant(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// ccToken gets an access token with the client_credentials grant and default
// credentials over client_secret_basic.
func ccToken(t *testing.T, h http.Handler) string {
	t.Helper()
	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "client_credentials"))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return body["access_token"].(string)
}

func apiCall(h http.Handler, token, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/v1/items"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type pageBody struct {
	Items []struct {
		ID, Name, Email string
		UpdatedAt       string `json:"updated_at"`
	} `json:"items"`
	Next *string `json:"next"`
}

func decodePage(t *testing.T, rec *httptest.ResponseRecorder) pageBody {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var p pageBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

func errCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	s, _ := m["error"].(string)
	return s
}

func pkce(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ---- records and paging ----

func TestRecordsDefaults(t *testing.T) {
	s := New(Options{})
	ids := s.RecordIDs()
	require.Len(t, ids, 500)
	assert.Equal(t, "it_00001", ids[0])
	assert.Equal(t, "it_00500", ids[499])
	recs := s.Records()
	seen := map[string]int{}
	for i, r := range recs {
		assert.Equal(t, fmt.Sprintf("it_%05d", i+1), r.ID)
		assert.Equal(t, fmt.Sprintf("Item %d", i+1), r.Name)
		assert.Equal(t, fmt.Sprintf("user%d@example.com", i+1), r.Email)
		at, err := time.Parse(time.RFC3339, r.UpdatedAt)
		require.NoError(t, err)
		assert.Equal(t, r.UpdatedAt, at.UTC().Format(time.RFC3339), "seconds precision, UTC")
		assert.Equal(t, 2025, at.Year())
		if i > 0 {
			assert.False(t, at.Before(recs[i-1].at), "ordered by updated_at")
		}
		seen[r.UpdatedAt]++
	}
	shared := 0
	for _, n := range seen {
		if n > 1 {
			shared++
		}
	}
	assert.Greater(t, shared, 50, "several records share a second")
	first, _ := time.Parse(time.RFC3339, recs[0].UpdatedAt)
	last, _ := time.Parse(time.RFC3339, recs[499].UpdatedAt)
	assert.Greater(t, last.Sub(first), 300*24*time.Hour, "spread over the year")

	assert.Len(t, New(Options{Records: 7}).RecordIDs(), 7)
	assert.Empty(t, New(Options{Records: -1}).RecordIDs())
}

func TestPagingEveryRecordOnce(t *testing.T) {
	for _, limit := range []int{1, 7, 50, 1000} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			s := New(Options{Records: 123})
			h := s.Handler()
			tok := ccToken(t, h)
			var got []string
			q := fmt.Sprintf("?limit=%d", limit)
			pages := 0
			for {
				p := decodePage(t, apiCall(h, tok, q))
				pages++
				assert.LessOrEqual(t, len(p.Items), min(limit, DefaultPageSize), "clamped to PageSize")
				for _, it := range p.Items {
					got = append(got, it.ID)
				}
				if p.Next == nil {
					break
				}
				q = fmt.Sprintf("?limit=%d&after=%s", limit, url.QueryEscape(*p.Next))
			}
			assert.Equal(t, s.RecordIDs(), got)
			per := min(limit, DefaultPageSize)
			assert.Equal(t, (123+per-1)/per, pages, "no empty trailing page")
		})
	}
}

func TestPagingOverHTTPWithLinkAndDefaultLimit(t *testing.T) {
	s := New(Options{Records: 120, PageSize: 40})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	s.SetURL(ts.URL)
	tok := ccToken(t, s.Handler())

	var got []string
	next := ts.URL + "/v1/items"
	for next != "" {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var p pageBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Len(t, p.Items, 40)
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		next = ""
		if p.Next != nil {
			link := resp.Header.Get("Link")
			require.True(t, strings.HasPrefix(link, "<"+ts.URL+"/v1/items?"), link)
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		} else {
			assert.Empty(t, resp.Header.Get("Link"))
		}
	}
	assert.Equal(t, s.RecordIDs(), got)
}

func TestUpdatedSinceInclusiveAndCarriedInCursor(t *testing.T) {
	s := New(Options{Records: 200})
	h := s.Handler()
	tok := ccToken(t, h)
	recs := s.Records()
	// Find a second shared by several records, not the first ones.
	var since string
	for i := 50; i < len(recs)-2; i++ {
		if recs[i].UpdatedAt == recs[i+1].UpdatedAt && recs[i-1].UpdatedAt != recs[i].UpdatedAt {
			since = recs[i].UpdatedAt
			break
		}
	}
	require.NotEmpty(t, since)
	sinceT, _ := time.Parse(time.RFC3339, since)
	var want []string
	for _, r := range recs {
		if !r.at.Before(sinceT) {
			want = append(want, r.ID)
		}
	}

	var got []string
	q := "?limit=2&updated_since=" + url.QueryEscape(since)
	for {
		p := decodePage(t, apiCall(h, tok, q))
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		if p.Next == nil {
			break
		}
		// No updated_since on later pages: the cursor carries it.
		q = "?limit=2&after=" + url.QueryEscape(*p.Next)
	}
	assert.Equal(t, want, got)
	assert.Equal(t, since, recs[len(recs)-len(want)].UpdatedAt, "boundary second included")

	// A filter with an offset is honoured in absolute time.
	p := decodePage(t, apiCall(h, tok, "?limit=50&updated_since="+url.QueryEscape(sinceT.In(time.FixedZone("X", 2*3600)).Format(time.RFC3339))))
	assert.Equal(t, want[0], p.Items[0].ID)

	// After the last record: empty page, next null.
	p = decodePage(t, apiCall(h, tok, "?updated_since=2026-01-01T00:00:00Z"))
	assert.Empty(t, p.Items)
	assert.Nil(t, p.Next)
	assert.Equal(t, `{"items":[],"next":null}`, apiCall(h, tok, "?updated_since=2026-01-01T00:00:00Z").Body.String())
}

func TestBadQueryParams(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	tok := ccToken(t, h)
	for _, q := range []string{"?after=!!!", "?after=bm9wZQ", "?updated_since=yesterday", "?limit=ten"} {
		rec := apiCall(h, tok, q)
		assert.Equal(t, http.StatusBadRequest, rec.Code, q)
		assert.Equal(t, "invalid_request", errCode(t, rec), q)
	}
	assert.Len(t, decodePage(t, apiCall(h, tok, "?limit=0")).Items, 1, "limit below 1 is clamped to 1")
}

// ---- bearer tokens ----

func TestBearerRequired(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	for _, auth := range []string{"", "Bearer ", "Basic Y2xpZW50LTE6c2VjcmV0LTE=", "Bearer nope"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/items", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, auth)
		assert.Equal(t, "invalid_token", errCode(t, rec))
		assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `Bearer`)
		assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
	}
	st := s.Stats()
	assert.Equal(t, 4, st.APICalls)
	assert.Equal(t, 4, st.Status401)
}

func TestTokenTTLExpiry(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, TokenTTL: 30 * time.Minute})
	h := s.Handler()
	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "client_credentials"))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.EqualValues(t, 1800, body["expires_in"])
	assert.Equal(t, "bearer", body["token_type"])
	assert.Equal(t, DefaultScope, body["scope"])
	assert.NotContains(t, body, "refresh_token", "client_credentials issues no refresh token")
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	tok := body["access_token"].(string)

	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	clk.Add(30*time.Minute - time.Second)
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	clk.Add(time.Second)
	r := apiCall(h, tok, "")
	assert.Equal(t, http.StatusUnauthorized, r.Code)
	assert.Equal(t, `Bearer realm="mockapi", error="invalid_token", error_description="the access token expired"`, r.Header().Get("WWW-Authenticate"))
	assert.Equal(t, 1, s.Stats().Status401)
}

func TestTokenUses(t *testing.T) {
	s := New(Options{TokenUses: 3})
	h := s.Handler()
	tok := ccToken(t, h)
	for i := range 3 {
		assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code, "call %d", i+1)
	}
	for range 2 {
		r := apiCall(h, tok, "")
		assert.Equal(t, http.StatusUnauthorized, r.Code)
		assert.Equal(t, "invalid_token", errCode(t, r))
		assert.Contains(t, r.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
	}
	// Unauthorized calls do not use up a fresh token.
	apiCall(h, "bogus", "")
	tok2 := ccToken(t, h)
	for range 3 {
		assert.Equal(t, http.StatusOK, apiCall(h, tok2, "").Code)
	}
	assert.Equal(t, http.StatusUnauthorized, apiCall(h, tok2, "").Code)
	st := s.Stats()
	assert.Equal(t, 10, st.APICalls)
	assert.Equal(t, 4, st.Status401)
	assert.Equal(t, 2, st.ClientCredentialsGrants)
	assert.Equal(t, 2, st.TokenRequests)
}

// ---- refresh tokens ----

func TestRefreshWithoutRotation(t *testing.T) {
	s := New(Options{})
	h := s.Handler()
	for range 3 {
		rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", "rt-0"))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "rt-0", body["refresh_token"])
		assert.Equal(t, http.StatusOK, apiCall(h, body["access_token"].(string), "").Code)
	}
	assert.Equal(t, "rt-0", s.CurrentRefreshToken())
	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", "rt-unknown"))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "invalid_grant", body["error"])
	assert.NotEmpty(t, body["error_description"])
	st := s.Stats()
	assert.Equal(t, 3, st.RefreshGrants)
	assert.Equal(t, 0, st.BurnedRefreshTokens)
}

func TestRefreshRotation(t *testing.T) {
	s := New(Options{RotateRefresh: true, InitialRefreshToken: "start"})
	h := s.Handler()
	assert.Equal(t, "start", s.CurrentRefreshToken())

	rt := "start"
	var issued []string
	for range 3 {
		rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", rt))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		next := body["refresh_token"].(string)
		assert.NotEqual(t, rt, next)
		assert.Equal(t, next, s.CurrentRefreshToken())
		issued = append(issued, rt)
		rt = next
	}
	for i, old := range issued {
		rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", old))
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Equal(t, "invalid_grant", body["error"])
		assert.Equal(t, i+1, s.Stats().BurnedRefreshTokens)
	}
	// An unknown (never issued) token is invalid but not "burned".
	rec, _ := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", "never"))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	// The current token still works: reuse detection does not revoke it.
	rec, _ = tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", rt))
	assert.Equal(t, http.StatusOK, rec.Code)
	st := s.Stats()
	assert.Equal(t, 4, st.RefreshGrants)
	assert.Equal(t, 3, st.BurnedRefreshTokens)
	assert.Equal(t, 8, st.TokenRequests)
}

// ---- client authentication and request checks ----

func TestClientAuthBasic(t *testing.T) {
	s := New(Options{ClientID: "my app", ClientSecret: "s3cr+t/="})
	h := s.Handler()
	g := grant("grant_type", "client_credentials")

	rec, _ := tokenCall(t, h, "basic", "my app", "s3cr+t/=", g)
	assert.Equal(t, http.StatusOK, rec.Code, "form-encoded Basic credentials")

	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(g.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("my app", "s3cr+t/=")
	raw := httptest.NewRecorder()
	h.ServeHTTP(raw, req)
	assert.Equal(t, http.StatusOK, raw.Code, "raw Basic credentials")

	rec, body := tokenCall(t, h, "post", "my app", "s3cr+t/=", g)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "invalid_client", body["error"])
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Basic")

	rec, body = tokenCall(t, h, "basic", "my app", "wrong", g)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "invalid_client", body["error"])

	rec, _ = tokenCall(t, h, "", "", "", g)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)

	st := s.Stats()
	assert.Equal(t, 3, st.Status401)
	assert.Equal(t, 2, st.ClientCredentialsGrants)
}

func TestClientAuthPost(t *testing.T) {
	s := New(Options{ClientAuth: "post"})
	h := s.Handler()
	g := grant("grant_type", "client_credentials")

	rec, _ := tokenCall(t, h, "post", DefaultClientID, DefaultClientSecret, g)
	assert.Equal(t, http.StatusOK, rec.Code)

	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, g)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "invalid_client", body["error"])

	rec, body = tokenCall(t, h, "post", DefaultClientID, "nope", g)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "invalid_client", body["error"])
	assert.Equal(t, 2, s.Stats().Status401)
}

func TestTokenRequestValidation(t *testing.T) {
	s := New(Options{})
	h := s.Handler()

	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "invalid_request", errCode(t, rec))

	r2, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "password"))
	assert.Equal(t, http.StatusBadRequest, r2.Code)
	assert.Equal(t, "unsupported_grant_type", body["error"])

	r2, body = tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, url.Values{})
	assert.Equal(t, http.StatusBadRequest, r2.Code)
	assert.Equal(t, "invalid_request", body["error"])

	// charset parameter is fine.
	req = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/token", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestTokenFailures(t *testing.T) {
	s := New(Options{TokenFailures: 2})
	h := s.Handler()
	g := grant("grant_type", "client_credentials")
	for range 2 {
		rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, g)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "temporarily_unavailable", body["error"])
	}
	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, g)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.NotEmpty(t, body["access_token"])
	st := s.Stats()
	assert.Equal(t, 3, st.TokenRequests)
	assert.Equal(t, 1, st.ClientCredentialsGrants)
}

func TestExtraTokenFields(t *testing.T) {
	s := New(Options{ExtraTokenFields: map[string]any{
		"instance_url": "$URL",
		"issued_at":    "1708058728442",
		"expires_in":   nil, // Salesforce-like: no expires_in
		"token_type":   "Bearer",
	}})
	s.SetURL("http://127.0.0.1:1234/")
	_, body := tokenCall(t, s.Handler(), "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", "rt-0"))
	assert.Equal(t, "http://127.0.0.1:1234", body["instance_url"])
	assert.Equal(t, "1708058728442", body["issued_at"])
	assert.Equal(t, "Bearer", body["token_type"])
	assert.NotContains(t, body, "expires_in")
	assert.Equal(t, "rt-0", body["refresh_token"])
}

// ---- authorization code + PKCE ----

func TestAuthorizationCodePKCE(t *testing.T) {
	s := New(Options{RotateRefresh: true})
	h := s.Handler()
	const redirect = "http://127.0.0.1:8765/callback"
	verifier := strings.Repeat("v", 43)
	code := s.Approve(redirect, pkce(verifier), "items.read offline")
	g := grant("grant_type", "authorization_code", "code", code, "redirect_uri", redirect, "code_verifier", verifier)

	rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, g)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "items.read offline", body["scope"])
	rt := body["refresh_token"].(string)
	assert.Equal(t, rt, s.CurrentRefreshToken())
	assert.Equal(t, http.StatusOK, apiCall(h, body["access_token"].(string), "").Code)

	// Single use.
	rec, body = tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, g)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "invalid_grant", body["error"])

	// The issued refresh token works.
	rec, body = tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, grant("grant_type", "refresh_token", "refresh_token", rt))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "items.read offline", body["scope"])

	for name, bad := range map[string]url.Values{
		"wrong verifier":    grant("grant_type", "authorization_code", "redirect_uri", redirect, "code_verifier", strings.Repeat("w", 43)),
		"missing verifier":  grant("grant_type", "authorization_code", "redirect_uri", redirect),
		"redirect mismatch": grant("grant_type", "authorization_code", "redirect_uri", redirect+"x", "code_verifier", verifier),
		"plain challenge":   grant("grant_type", "authorization_code", "redirect_uri", redirect, "code_verifier", pkce(verifier)),
	} {
		bad.Set("code", s.Approve(redirect, pkce(verifier), ""))
		rec, body := tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret, bad)
		assert.Equal(t, http.StatusBadRequest, rec.Code, name)
		assert.Equal(t, "invalid_grant", body["error"], name)
	}
	// Wrong client never reaches the code.
	code = s.Approve(redirect, pkce(verifier), "")
	rec, _ = tokenCall(t, h, "post", DefaultClientID, DefaultClientSecret,
		grant("grant_type", "authorization_code", "code", code, "redirect_uri", redirect, "code_verifier", verifier))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	rec, _ = tokenCall(t, h, "basic", DefaultClientID, DefaultClientSecret,
		grant("grant_type", "authorization_code", "code", code, "redirect_uri", redirect, "code_verifier", verifier))
	assert.Equal(t, http.StatusOK, rec.Code, "code still valid after a client-auth failure")

	assert.Equal(t, 2, s.Stats().AuthCodeGrants)
	assert.Equal(t, 1, s.Stats().RefreshGrants)
}

func TestAuthorizationCodeExpires(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now})
	code := s.Approve("http://x/cb", "", "")
	clk.Add(11 * time.Minute)
	rec, body := tokenCall(t, s.Handler(), "basic", DefaultClientID, DefaultClientSecret,
		grant("grant_type", "authorization_code", "code", code, "redirect_uri", "http://x/cb"))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "invalid_grant", body["error"])
}

func TestAuthorizePage(t *testing.T) {
	s := New(Options{})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/authorize?client_id=%3Cb%3E&scope=items.read", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	assert.Contains(t, rec.Body.String(), "&lt;b&gt;")

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

// ---- rate limiting ----

func TestRateLimitSlidingWindowSeconds(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, RateLimit: 3, RateWindow: 2 * time.Second})
	h := s.Handler()
	tok := ccToken(t, h)

	// Calls at t=0, 0.5, 1.0 fill the window.
	for i := range 3 {
		r := apiCall(h, tok, "")
		require.Equal(t, http.StatusOK, r.Code)
		assert.Equal(t, "3", r.Header().Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(2-i), r.Header().Get("X-RateLimit-Remaining"))
		assert.Equal(t, strconv.FormatInt(clk.Now().Add(-time.Duration(i)*500*time.Millisecond).Add(2*time.Second).Unix(), 10), r.Header().Get("X-RateLimit-Reset"))
		if i < 2 {
			clk.Add(500 * time.Millisecond)
		}
	}
	// t=1.0: over the limit; the first slot frees at t=2.0.
	r := apiCall(h, tok, "")
	assert.Equal(t, http.StatusTooManyRequests, r.Code)
	assert.Equal(t, "1", r.Header().Get("Retry-After"))
	assert.Equal(t, "0", r.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, "3", r.Header().Get("X-RateLimit-Limit"))
	assert.NotEmpty(t, r.Header().Get("X-RateLimit-Reset"))

	clk.Add(900 * time.Millisecond) // t=1.9: still full, 0.1s to go, rounded up
	r = apiCall(h, tok, "")
	assert.Equal(t, http.StatusTooManyRequests, r.Code)
	assert.Equal(t, "1", r.Header().Get("Retry-After"))

	clk.Add(100 * time.Millisecond) // t=2.0: the t=0 call left the window
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	assert.Equal(t, http.StatusTooManyRequests, apiCall(h, tok, "").Code, "sliding, not fixed: t=0.5 and t=1.0 are still in")
	clk.Add(500 * time.Millisecond) // t=2.5
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)

	// Headers ride on 401s too.
	r = apiCall(h, "bogus", "")
	assert.Equal(t, http.StatusUnauthorized, r.Code)
	assert.Equal(t, "3", r.Header().Get("X-RateLimit-Limit"))

	st := s.Stats()
	assert.Equal(t, 3, st.Status429)
	assert.Equal(t, 9, st.APICalls)
	assert.Equal(t, 1, st.Status401)
	assert.Equal(t, 7, st.MaxCallsInWindow, "window (0.5, 2.5] saw 7 calls, 429s and 401s included")
}

func TestRateLimitRetryAfterLongWait(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, RateLimit: 1, RateWindow: 10 * time.Second})
	h := s.Handler()
	tok := ccToken(t, h)
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	clk.Add(2500 * time.Millisecond)
	r := apiCall(h, tok, "")
	assert.Equal(t, http.StatusTooManyRequests, r.Code)
	assert.Equal(t, "8", r.Header().Get("Retry-After"), "7.5s rounded up")
	clk.Add(7500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code, "honouring Retry-After is enough")
}

func TestRateLimitRetryAfterDate(t *testing.T) {
	clk := newClock()
	clk.Add(300 * time.Millisecond)
	s := New(Options{Now: clk.Now, RateLimit: 2, RetryAfterForm: "date"})
	h := s.Handler()
	tok := ccToken(t, h)
	t0 := clk.Now()
	apiCall(h, tok, "")
	clk.Add(200 * time.Millisecond)
	apiCall(h, tok, "")
	r := apiCall(h, tok, "")
	require.Equal(t, http.StatusTooManyRequests, r.Code)
	ra := r.Header().Get("Retry-After")
	when, err := http.ParseTime(ra)
	require.NoError(t, err, ra)
	assert.True(t, strings.HasSuffix(ra, " GMT"), ra)
	// Slot frees at t0+1s = 12:00:01.3, rounded up to the next whole second.
	assert.Equal(t, t0.Add(time.Second).Truncate(time.Second).Add(time.Second), when.UTC())
	clk.Add(when.Sub(clk.Now()))
	assert.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	assert.Equal(t, 1, s.Stats().Status429)
}

func TestMaxCallsInWindowWithoutLimit(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, RateWindow: time.Second})
	h := s.Handler()
	tok := ccToken(t, h)
	// Calls at 0, 0.3, 0.6, 0.9 | 1.2, 1.25, 1.3, 1.35, 1.4 | 3.0
	// Window (0.4, 1.4] holds 0.6, 0.9, 1.2, 1.25, 1.3, 1.35, 1.4 = 7.
	at := []time.Duration{0, 300, 600, 900, 1200, 1250, 1300, 1350, 1400, 3000}
	prev := time.Duration(0)
	for _, ms := range at {
		clk.Add((ms - prev) * time.Millisecond)
		prev = ms
		require.Equal(t, http.StatusOK, apiCall(h, tok, "").Code)
	}
	st := s.Stats()
	assert.Equal(t, 7, st.MaxCallsInWindow)
	assert.Equal(t, 0, st.Status429)
	assert.Empty(t, apiCall(h, tok, "").Header().Get("X-RateLimit-Limit"), "no headers when unlimited")

	// Exactly one window apart is not the same window.
	s2 := New(Options{Now: clk.Now})
	tok2 := ccToken(t, s2.Handler())
	apiCall(s2.Handler(), tok2, "")
	clk.Add(time.Second)
	apiCall(s2.Handler(), tok2, "")
	assert.Equal(t, 1, s2.Stats().MaxCallsInWindow)
}

func TestPacedClientNeverSees429(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, RateLimit: 5, TokenUses: 4})
	h := s.Handler()
	tok := ccToken(t, h)
	for range 100 { // a client-side limiter at 5/s: one call every 200ms
		r := apiCall(h, tok, "")
		if r.Code == http.StatusUnauthorized {
			tok = ccToken(t, h)
			clk.Add(200 * time.Millisecond)
			r = apiCall(h, tok, "")
		}
		require.Equal(t, http.StatusOK, r.Code)
		clk.Add(200 * time.Millisecond)
	}
	st := s.Stats()
	assert.Equal(t, 0, st.Status429)
	assert.Equal(t, 5, st.MaxCallsInWindow)
	assert.Equal(t, 24, st.Status401)
}

// ---- faults ----

func statusSeq(t *testing.T, opts Options, n int) []int {
	t.Helper()
	s := New(opts)
	h := s.Handler()
	tok := ccToken(t, h)
	out := make([]int, n)
	for i := range out {
		r := apiCall(h, tok, "?limit=1")
		out[i] = r.Code
		if r.Code == http.StatusInternalServerError {
			assert.Equal(t, "internal", errCode(t, r))
		}
	}
	fails := 0
	for _, c := range out {
		if c == http.StatusInternalServerError {
			fails++
		}
	}
	assert.Equal(t, fails, s.Stats().Status500)
	return out
}

func TestFailRate(t *testing.T) {
	const n = 2000
	a := statusSeq(t, Options{FailRate: 0.25, Seed: 42}, n)
	fails := 0
	for _, c := range a {
		if c == http.StatusInternalServerError {
			fails++
		} else {
			require.Equal(t, http.StatusOK, c)
		}
	}
	assert.InDelta(t, 0.25, float64(fails)/n, 0.04)
	assert.Equal(t, a, statusSeq(t, Options{FailRate: 0.25, Seed: 42}, n), "deterministic per seed")
	assert.NotEqual(t, a, statusSeq(t, Options{FailRate: 0.25, Seed: 43}, n), "different seed, different sequence")
	for _, c := range statusSeq(t, Options{Seed: 42}, 200) {
		assert.Equal(t, http.StatusOK, c)
	}
}

func TestTruncateEvery(t *testing.T) {
	s := New(Options{TruncateEvery: 3})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	s.SetURL(ts.URL)
	tok := ccToken(t, s.Handler())

	for i := 1; i <= 6; i++ {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/items", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		if i%3 == 0 {
			assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "call %d: %v", i, err)
			assert.Equal(t, int(resp.ContentLength)/2, len(body))
			var p pageBody
			assert.Error(t, json.Unmarshal(body, &p))
		} else {
			require.NoError(t, err, "call %d", i)
			var p pageBody
			require.NoError(t, json.Unmarshal(body, &p))
			assert.Len(t, p.Items, DefaultPageSize)
		}
	}
	assert.Equal(t, 2, s.Stats().Truncated)
}

func TestFaultOrder(t *testing.T) {
	// 401 before 429 before 500; truncation counts only would-be successes.
	clk := newClock()
	s := New(Options{Now: clk.Now, RateLimit: 1, FailRate: 1, TruncateEvery: 1})
	h := s.Handler()
	tok := ccToken(t, h)
	assert.Equal(t, http.StatusUnauthorized, apiCall(h, "", "").Code)
	assert.Equal(t, http.StatusInternalServerError, apiCall(h, tok, "").Code)
	assert.Equal(t, http.StatusTooManyRequests, apiCall(h, tok, "").Code)
	assert.Equal(t, http.StatusUnauthorized, apiCall(h, "", "").Code)
	st := s.Stats()
	assert.Equal(t, Stats{APICalls: 4, TokenRequests: 1, Status401: 2, Status429: 1, Status500: 1, ClientCredentialsGrants: 1, MaxCallsInWindow: 4}, st)
}

// ---- concurrency ----

func TestConcurrentClients(t *testing.T) {
	s := New(Options{Records: 300, TokenUses: 5, RotateRefresh: true, FailRate: 0.1, Seed: 7})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	s.SetURL(ts.URL)

	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := ""
			for i := 0; i < 25; i++ {
				if tok == "" {
					req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
					resp, err := http.DefaultClient.Do(req)
					if !assert.NoError(t, err) {
						return
					}
					var body map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					tok, _ = body["access_token"].(string)
				}
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/items?limit=%d", ts.URL, w+1), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized:
					tok = ""
				case http.StatusOK:
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	assert.Equal(t, 200, st.APICalls)
	assert.Equal(t, 200, ok+st.Status401+st.Status500)
	assert.Equal(t, st.TokenRequests, st.ClientCredentialsGrants)
}
