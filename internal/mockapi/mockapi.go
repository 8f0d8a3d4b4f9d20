// Package mockapi is a configurable in-process mock of a production SaaS API
// protected by OAuth2. The engine's tests use it to prove that syncs survive
// access-token expiry, refresh-token rotation, 5xx, 429 and truncated bodies,
// and that a client-side rate limiter keeps it from ever answering 429.
//
// Endpoints:
//
//	POST /oauth/token      client_credentials, refresh_token and authorization_code
//	                       (PKCE S256) grants, form-encoded, RFC 6749 error bodies
//	GET  /oauth/authorize  a tiny HTML page (tests call Server.Approve instead)
//	GET  /v1/items         bearer-protected list: ?limit=&after=&updated_since=
//
// The order of checks on GET /v1/items is: bearer token (401), rate limit
// (429), request validation (400), FailRate (500), TruncateEvery (a 200 whose
// body is cut in half), then a normal 200.
//
// Definitions used by Stats:
//   - an API call is any request to /v1/items, whatever its answer;
//   - the rate limiter only sees calls that passed authentication, and only
//     calls it admitted occupy its window (a rejected call does not push the
//     window further out, so Retry-After is exact);
//   - MaxCallsInWindow is computed over every API call (401s and 429s
//     included), so it exceeds RateLimit exactly when something overran it;
//   - an access token's use is counted on every call that passed
//     authentication (including calls then answered 429, 400 or 500);
//   - Status401 counts 401s from both the API and the token endpoint
//     (invalid_client);
//   - grant counters count successful grants only.
package mockapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	mrand "math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults applied by New.
const (
	DefaultRecords      = 500
	DefaultPageSize     = 50
	DefaultClientID     = "client-1"
	DefaultClientSecret = "secret-1"
	DefaultTokenTTL     = time.Hour
	DefaultRateWindow   = time.Second
	DefaultRefreshToken = "rt-0"
	DefaultScope        = "items.read"

	authCodeTTL = 10 * time.Minute
	maxFormSize = 1 << 20
)

// Options configures a Server. The zero value is usable.
type Options struct {
	Records  int              // records served by GET /v1/items; 0 means 500, negative means none
	PageSize int              // max page size; 0 means 50 (?limit= is clamped to 1..PageSize)
	Now      func() time.Time // clock for token expiry, code expiry and rate windows; nil means time.Now

	// OAuth2
	ClientID, ClientSecret string         // defaults "client-1", "secret-1"
	ClientAuth             string         // "basic" (client_secret_basic, default) or "post" (client_secret_post)
	TokenTTL               time.Duration  // expires_in of issued access tokens; 0 means 1h
	TokenUses              int            // an access token dies after this many API calls (0 = unlimited)
	RotateRefresh          bool           // refresh_token grant rotates the refresh token and burns the old one
	InitialRefreshToken    string         // the refresh token valid at start; "" means "rt-0"
	TokenFailures          int            // the first N token requests answer 503
	ExtraTokenFields       map[string]any // merged into every token response; "$URL" is replaced by the base URL; a nil value removes a standard field

	// Faults on GET /v1/items
	FailRate       float64       // fraction of API calls answered 500, drawn from a PRNG seeded with Seed
	Seed           int64         // seed for FailRate
	RateLimit      int           // max API calls per RateWindow (sliding); 0 = unlimited
	RateWindow     time.Duration // 0 means 1s
	RetryAfterForm string        // "seconds" (default) or "date" (HTTP-date)
	TruncateEvery  int           // every Nth call that would otherwise succeed gets half its body; 0 = never
}

// Stats counts what the server has seen, for assertions.
type Stats struct {
	APICalls, TokenRequests, Status401, Status429, Status500, Truncated int
	ClientCredentialsGrants, RefreshGrants, AuthCodeGrants              int
	BurnedRefreshTokens                                                 int // refresh requests that presented an already-rotated token
	MaxCallsInWindow                                                    int // the highest number of API calls seen in any RateWindow (sliding)
}

// Record is one item served by GET /v1/items.
type Record struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	UpdatedAt string `json:"updated_at"`

	at time.Time
}

type accessToken struct {
	expires time.Time
	uses    int
	scope   string
}

type refreshToken struct {
	scope string
}

type authCode struct {
	redirectURI, challenge, scope string
	expires                       time.Time
}

// Server is the mock API. It is safe for concurrent use.
type Server struct {
	opts    Options
	now     func() time.Time
	records []Record // sorted by (updated_at, id); immutable after New

	mu       sync.Mutex
	baseURL  string
	stats    Stats
	rng      *mrand.Rand
	access   map[string]*accessToken
	refresh  map[string]*refreshToken // valid refresh tokens
	burned   map[string]bool          // rotated-away refresh tokens
	current  string                   // most recently issued refresh token
	codes    map[string]*authCode     // unredeemed authorization codes
	seq      int                      // token/code counter
	okCalls  int                      // calls that reached the truncation step
	arrivals []time.Time              // every API call in the last window
	admitted []time.Time              // calls admitted by the rate limiter in the last window
}

// New returns a Server configured by opts (defaults applied). It panics on an
// unknown ClientAuth or RetryAfterForm, which are programming errors.
func New(opts Options) *Server {
	switch {
	case opts.Records == 0:
		opts.Records = DefaultRecords
	case opts.Records < 0:
		opts.Records = 0
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	switch opts.ClientAuth {
	case "":
		opts.ClientAuth = "basic"
	case "basic", "post":
	default:
		panic(fmt.Sprintf("mockapi: ClientAuth must be \"basic\" or \"post\", got %q", opts.ClientAuth))
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.InitialRefreshToken == "" {
		opts.InitialRefreshToken = DefaultRefreshToken
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	switch opts.RetryAfterForm {
	case "":
		opts.RetryAfterForm = "seconds"
	case "seconds", "date":
	default:
		panic(fmt.Sprintf("mockapi: RetryAfterForm must be \"seconds\" or \"date\", got %q", opts.RetryAfterForm))
	}
	if opts.ExtraTokenFields != nil {
		extra := make(map[string]any, len(opts.ExtraTokenFields))
		for k, v := range opts.ExtraTokenFields {
			extra[k] = v
		}
		opts.ExtraTokenFields = extra
	}
	s := &Server{
		opts:    opts,
		now:     opts.Now,
		records: genRecords(opts.Records),
		rng:     mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x6d6f636b617069)),
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{opts.InitialRefreshToken: {scope: DefaultScope}},
		burned:  map[string]bool{},
		current: opts.InitialRefreshToken,
		codes:   map[string]*authCode{},
	}
	return s
}

// genRecords builds n records with ids it_00001.. and updated_at spread over
// 2025 at one-second precision. Consecutive ids are grouped (group sizes cycle
// 1, 3, 1, 2) and every record of a group shares one second, so keyset
// cursors must break ties on id. The result is sorted by (updated_at, id),
// which is also id order.
func genRecords(n int) []Record {
	if n == 0 {
		return nil
	}
	sizes := []int{1, 3, 1, 2}
	group := make([]int, n)
	g, left := 0, sizes[0]
	for i := range n {
		if left == 0 {
			g++
			left = sizes[g%len(sizes)]
		}
		group[i] = g
		left--
	}
	groups := g + 1
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start)
	step := span / time.Duration(groups)
	recs := make([]Record, n)
	for i := range recs {
		at := start.Add(time.Duration(group[i]) * step).Truncate(time.Second)
		recs[i] = Record{
			ID:        fmt.Sprintf("it_%05d", i+1),
			Name:      fmt.Sprintf("Item %d", i+1),
			Email:     fmt.Sprintf("user%d@example.com", i+1),
			UpdatedAt: at.Format(time.RFC3339),
			at:        at,
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return less(recs[i].at, recs[i].ID, recs[j].at, recs[j].ID) })
	return recs
}

func less(t1 time.Time, id1 string, t2 time.Time, id2 string) bool {
	if !t1.Equal(t2) {
		return t1.Before(t2)
	}
	return id1 < id2
}

// Handler returns the HTTP handler serving the mock API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// SetURL tells the server its base URL (used for "$URL" in ExtraTokenFields
// and for Link: rel="next" headers). Call it after httptest.NewServer.
func (s *Server) SetURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(u, "/")
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// CurrentRefreshToken returns the most recently issued refresh token (the
// initial one until a grant issues another).
func (s *Server) CurrentRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// RecordIDs returns the ids of all records, in the order GET /v1/items serves
// them ((updated_at, id) ascending, which is also id order).
func (s *Server) RecordIDs() []string {
	ids := make([]string, len(s.records))
	for i, r := range s.records {
		ids[i] = r.ID
	}
	return ids
}

// Records returns a copy of all records in serving order.
func (s *Server) Records() []Record {
	out := make([]Record, len(s.records))
	copy(out, s.records)
	return out
}

// Approve returns an authorization code for the authorization_code grant, as
// if a user had approved the app at /oauth/authorize. The code is single-use,
// valid for 10 minutes, and bound to redirectURI. If codeChallenge is not
// empty it is an S256 PKCE challenge and the token request must carry the
// matching code_verifier; if it is empty PKCE is not checked. An empty scope
// means "items.read".
func (s *Server) Approve(redirectURI, codeChallenge, scope string) string {
	if scope == "" {
		scope = DefaultScope
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	code := fmt.Sprintf("ac-%d-%s", s.seq, rand.Text())
	s.codes[code] = &authCode{
		redirectURI: redirectURI,
		challenge:   codeChallenge,
		scope:       scope,
		expires:     s.now().Add(authCodeTTL),
	}
	return code
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/token":
		s.serveToken(w, r)
	case "/oauth/authorize":
		s.serveAuthorize(w, r)
	case "/v1/items":
		s.serveItems(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "no such endpoint"})
	}
}

// ---- OAuth2 ----

type oauthError struct {
	status int
	code   string
	desc   string
}

func (s *Server) writeOAuthError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.status == http.StatusUnauthorized && s.opts.ClientAuth == "basic" {
		h.Set("WWW-Authenticate", `Basic realm="mockapi"`)
	}
	writeJSON(w, e.status, map[string]any{"error": e.code, "error_description": e.desc})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.TokenRequests++
	fail := s.stats.TokenRequests <= s.opts.TokenFailures
	s.mu.Unlock()
	if fail {
		s.writeOAuthError(w, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "the authorization server is temporarily unavailable"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeOAuthError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint only accepts POST"})
		return
	}
	resp, oerr := s.token(r)
	if oerr != nil {
		if oerr.status == http.StatusUnauthorized {
			s.mu.Lock()
			s.stats.Status401++
			s.mu.Unlock()
		}
		s.writeOAuthError(w, oerr)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) token(r *http.Request) (map[string]any, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormSize)
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "malformed form body"}
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			return nil, &oauthError{http.StatusBadRequest, "invalid_request", "parameter " + k + " repeated"}
		}
	}
	if e := s.authenticateClient(r, form); e != nil {
		return nil, e
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch gt := form.Get("grant_type"); gt {
	case "":
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "missing grant_type"}
	case "client_credentials":
		scope := form.Get("scope")
		if scope == "" {
			scope = DefaultScope
		}
		s.stats.ClientCredentialsGrants++
		return s.issueLocked(now, scope, ""), nil
	case "refresh_token":
		rt := form.Get("refresh_token")
		if rt == "" {
			return nil, &oauthError{http.StatusBadRequest, "invalid_request", "missing refresh_token"}
		}
		if s.burned[rt] {
			s.stats.BurnedRefreshTokens++
			return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "refresh token has already been used (rotated)"}
		}
		info, ok := s.refresh[rt]
		if !ok {
			return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or revoked"}
		}
		next := rt
		if s.opts.RotateRefresh {
			delete(s.refresh, rt)
			s.burned[rt] = true
			next = s.newRefreshLocked(info.scope)
		}
		s.stats.RefreshGrants++
		return s.issueLocked(now, info.scope, next), nil
	case "authorization_code":
		code := form.Get("code")
		if code == "" {
			return nil, &oauthError{http.StatusBadRequest, "invalid_request", "missing code"}
		}
		ac, ok := s.codes[code]
		if !ok {
			return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "authorization code is invalid or has already been used"}
		}
		delete(s.codes, code) // single-use: any presentation consumes it
		if !now.Before(ac.expires) {
			return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "authorization code expired"}
		}
		if form.Get("redirect_uri") != ac.redirectURI {
			return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request"}
		}
		if ac.challenge != "" {
			v := form.Get("code_verifier")
			if v == "" {
				return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "missing code_verifier"}
			}
			sum := sha256.Sum256([]byte(v))
			if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
				return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "PKCE verification failed"}
			}
		}
		s.stats.AuthCodeGrants++
		return s.issueLocked(now, ac.scope, s.newRefreshLocked(ac.scope)), nil
	default:
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + strconv.Quote(gt) + " is not supported"}
	}
}

// authenticateClient enforces the configured client authentication method.
// Credentials in the Basic header are form-encoded per RFC 6749 §2.3.1, but
// raw (unencoded) credentials are accepted too, as real servers do.
func (s *Server) authenticateClient(r *http.Request, form url.Values) *oauthError {
	bad := func(desc string) *oauthError {
		return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
	}
	switch s.opts.ClientAuth {
	case "post":
		if r.Header.Get("Authorization") != "" {
			return bad("client authentication failed: this client must use client_secret_post")
		}
		if form.Get("client_id") != s.opts.ClientID || form.Get("client_secret") != s.opts.ClientSecret {
			return bad("client authentication failed")
		}
	default: // basic
		user, pass, ok := r.BasicAuth()
		if !ok {
			return bad("client authentication failed: this client must use client_secret_basic")
		}
		if form.Has("client_secret") {
			return bad("client authentication failed: more than one authentication method used")
		}
		if !credMatch(user, s.opts.ClientID) || !credMatch(pass, s.opts.ClientSecret) {
			return bad("client authentication failed")
		}
		if form.Has("client_id") && form.Get("client_id") != s.opts.ClientID {
			return bad("client_id does not match the authenticated client")
		}
	}
	return nil
}

func credMatch(got, want string) bool {
	if got == want {
		return true
	}
	u, err := url.QueryUnescape(got)
	return err == nil && u == want
}

func (s *Server) newRefreshLocked(scope string) string {
	s.seq++
	rt := fmt.Sprintf("rt-%d", s.seq)
	s.refresh[rt] = &refreshToken{scope: scope}
	s.current = rt
	return rt
}

func (s *Server) issueLocked(now time.Time, scope, refresh string) map[string]any {
	s.seq++
	at := fmt.Sprintf("at-%d-%s", s.seq, rand.Text())
	s.access[at] = &accessToken{expires: now.Add(s.opts.TokenTTL), scope: scope}
	resp := map[string]any{
		"access_token": at,
		"token_type":   "bearer",
		"expires_in":   int64(s.opts.TokenTTL / time.Second),
		"scope":        scope,
	}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	for k, v := range s.opts.ExtraTokenFields {
		switch v := v.(type) {
		case nil:
			delete(resp, k)
		case string:
			if v == "$URL" {
				resp[k] = s.baseURL
			} else {
				resp[k] = v
			}
		default:
			resp[k] = v
		}
	}
	return resp
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "invalid_request", "error_description": "use GET"})
		return
	}
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "<!doctype html><title>Authorize</title><p>Allow %s to access %s?</p><form method=post><button>Allow</button></form>\n",
		html.EscapeString(q.Get("client_id")), html.EscapeString(q.Get("scope")))
}

// ---- API ----

type cursor struct {
	At    int64  `json:"t"`           // updated_at, unix seconds
	ID    string `json:"id"`          // last id served
	Since string `json:"s,omitempty"` // updated_since filter, RFC 3339
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if c.ID == "" {
		return c, fmt.Errorf("empty position")
	}
	if c.Since != "" {
		if _, err := time.Parse(time.RFC3339, c.Since); err != nil {
			return c, err
		}
	}
	return c, nil
}

type pageQuery struct {
	limit    int
	since    string // RFC 3339 or ""
	sinceT   time.Time
	after    *cursor
	badParam string
}

func (s *Server) parseQuery(q url.Values) pageQuery {
	pq := pageQuery{limit: s.opts.PageSize}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			pq.badParam = "limit must be an integer"
			return pq
		}
		pq.limit = min(max(n, 1), s.opts.PageSize)
	}
	pq.since = q.Get("updated_since")
	if a := q.Get("after"); a != "" {
		c, err := decodeCursor(a)
		if err != nil {
			pq.badParam = "after is not a valid cursor"
			return pq
		}
		pq.after = &c
		pq.since = c.Since // the filter travels with the cursor
	}
	if pq.since != "" {
		t, err := time.Parse(time.RFC3339, pq.since)
		if err != nil {
			pq.badParam = "updated_since must be an RFC 3339 timestamp"
			return pq
		}
		pq.sinceT = t
	}
	return pq
}

// page returns the records of one page and the cursor for the next, if any.
func (s *Server) page(pq pageQuery) ([]Record, *string) {
	recs := s.records
	start := 0
	if pq.since != "" {
		start = sort.Search(len(recs), func(i int) bool { return !recs[i].at.Before(pq.sinceT) })
	}
	if pq.after != nil {
		at := time.Unix(pq.after.At, 0)
		id := pq.after.ID
		start = max(start, sort.Search(len(recs), func(i int) bool { return less(at, id, recs[i].at, recs[i].ID) }))
	}
	end := min(start+pq.limit, len(recs))
	items := recs[start:end]
	if end >= len(recs) || len(items) == 0 {
		return items, nil
	}
	last := items[len(items)-1]
	next := encodeCursor(cursor{At: last.at.Unix(), ID: last.ID, Since: pq.since})
	return items, &next
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func ceilUnix(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

// pruneLocked drops window entries that are no longer in (now-RateWindow, now].
func pruneLocked(ts []time.Time, now time.Time, w time.Duration) []time.Time {
	cut := now.Add(-w)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	return ts[i:]
}

// rateHeadersLocked sets the X-RateLimit-* headers from the limiter state.
func (s *Server) rateHeadersLocked(h http.Header, now time.Time) {
	if s.opts.RateLimit <= 0 {
		return
	}
	reset := now.Unix()
	if len(s.admitted) > 0 {
		reset = ceilUnix(s.admitted[0].Add(s.opts.RateWindow))
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.opts.RateLimit-len(s.admitted), 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
}

func (s *Server) serveItems(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method_not_allowed"})
		return
	}
	pq := s.parseQuery(r.URL.Query())
	tokStr, hasTok := bearer(r)
	now := s.now()
	h := w.Header()
	win := s.opts.RateWindow

	s.mu.Lock()
	s.stats.APICalls++
	s.arrivals = append(pruneLocked(s.arrivals, now, win), now)
	s.stats.MaxCallsInWindow = max(s.stats.MaxCallsInWindow, len(s.arrivals))
	s.admitted = pruneLocked(s.admitted, now, win)

	// 1. Authentication.
	var authErr string
	tok := s.access[tokStr]
	switch {
	case !hasTok:
		authErr = "missing bearer token"
	case tok == nil:
		authErr = "the access token is invalid"
	case !now.Before(tok.expires):
		authErr = "the access token expired"
	case s.opts.TokenUses > 0 && tok.uses >= s.opts.TokenUses:
		authErr = "the access token has been revoked"
	}
	if authErr != "" {
		s.stats.Status401++
		s.rateHeadersLocked(h, now)
		s.mu.Unlock()
		h.Set("WWW-Authenticate", `Bearer realm="mockapi", error="invalid_token", error_description="`+authErr+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token", "error_description": authErr})
		return
	}
	tok.uses++

	// 2. Rate limit (sliding window over admitted calls).
	if l := s.opts.RateLimit; l > 0 {
		if len(s.admitted) >= l {
			s.stats.Status429++
			frees := s.admitted[len(s.admitted)-l].Add(win) // when a slot frees up
			s.rateHeadersLocked(h, now)
			s.mu.Unlock()
			if s.opts.RetryAfterForm == "date" {
				h.Set("Retry-After", time.Unix(ceilUnix(frees), 0).UTC().Format(http.TimeFormat))
			} else {
				secs := frees.Sub(now)
				h.Set("Retry-After", strconv.FormatInt(int64((secs+time.Second-1)/time.Second), 10))
			}
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate_limited", "error_description": "rate limit exceeded, retry later"})
			return
		}
		s.admitted = append(s.admitted, now)
		s.rateHeadersLocked(h, now)
	}

	// 3. Validation.
	if pq.badParam != "" {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": pq.badParam})
		return
	}

	// 4. Injected 500s.
	if s.opts.FailRate > 0 && s.rng.Float64() < s.opts.FailRate {
		s.stats.Status500++
		s.mu.Unlock()
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal"})
		return
	}

	// 5. Truncation.
	s.okCalls++
	truncate := s.opts.TruncateEvery > 0 && s.okCalls%s.opts.TruncateEvery == 0
	if truncate {
		s.stats.Truncated++
	}
	base := s.baseURL
	s.mu.Unlock()

	items, next := s.page(pq)
	body, err := json.Marshal(struct {
		Items []Record `json:"items"`
		Next  *string  `json:"next"`
	}{Items: append([]Record{}, items...), Next: next})
	if err != nil {
		panic(err) // cannot happen: plain strings only
	}
	if next != nil && base != "" {
		v := url.Values{"after": {*next}, "limit": {strconv.Itoa(pq.limit)}}
		h.Set("Link", "<"+base+"/v1/items?"+v.Encode()+`>; rel="next"`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if truncate {
		// Declared length stays the full one; the server closes the
		// connection after the short write and the client reads an
		// unexpected EOF.
		_, _ = w.Write(body[:len(body)/2])
		return
	}
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
