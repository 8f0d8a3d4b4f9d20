package chaos

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The OAuth client the chaos connector authenticates as (client_credentials grant).
// Not secrets: the mock lives for one campaign on 127.0.0.1.
const (
	ClientID     = "chaos-client"
	ClientSecret = "chaos-client-secret"
)

// OAuth puts an OAuth2 client_credentials token endpoint (POST /oauth/token) in front
// of an API that wants an API key (internal/bench's mock): a request with a valid
// bearer token is passed on with the key, any other gets 401 invalid_token. Tokens
// are advertised for an hour, so the engine never refreshes them ahead of time;
// Expire revokes one early, as a provider does when it rotates keys or a token's
// real lifetime is shorter than announced, and the engine must refresh and retry.
type OAuth struct {
	next   http.Handler
	header string // the API key header next wants
	key    string
	minAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	tokens  map[string]time.Time // live token -> issued at
	issued  int
	revoked int
}

// NewOAuth fronts next, which wants key in header. Expire revokes only tokens at least
// minAge old: one just issued cannot have expired, and the engine rightly calls a 401
// on a token it has just been given an auth failure.
func NewOAuth(next http.Handler, header, key string, minAge time.Duration) *OAuth {
	return &OAuth{next: next, header: header, key: key, minAge: minAge, now: time.Now, tokens: map[string]time.Time{}}
}

// Issued is how many tokens the endpoint has granted.
func (o *OAuth) Issued() int { o.mu.Lock(); defer o.mu.Unlock(); return o.issued }

// Expire revokes the bearer token of r when it is live and at least minAge old.
func (o *OAuth) Expire(r *http.Request) bool {
	tok, ok := bearer(r)
	if !ok {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	at, live := o.tokens[tok]
	if !live || o.now().Sub(at) < o.minAge {
		return false
	}
	delete(o.tokens, tok)
	o.revoked++
	return true
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

func (o *OAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		o.token(w, r)
		return
	}
	tok, ok := bearer(r)
	o.mu.Lock()
	_, live := o.tokens[tok]
	o.mu.Unlock()
	if !ok || !live {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
		return
	}
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	r.Header.Set(o.header, o.key)
	o.next.ServeHTTP(w, r)
}

// token grants client_credentials, the client authenticated by HTTP Basic or in the
// form (RFC 6749 2.3.1), with RFC 6749 error bodies.
func (o *OAuth) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, `{"error":"invalid_request"}`)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_request"}`)
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(ClientID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(ClientSecret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client"}`)
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, `{"error":"unsupported_grant_type"}`)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "at-" + hex.EncodeToString(b[:])
	o.mu.Lock()
	o.tokens[tok] = o.now()
	o.issued++
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, `{"access_token":"`+tok+`","token_type":"Bearer","expires_in":3600}`)
}
