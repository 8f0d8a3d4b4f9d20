package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Token is a token ready to use: Vars is what templates see as .auth.
type Token struct {
	Value  string // the secret itself, for redaction and identity
	Vars   map[string]any
	Expiry time.Time // zero: unknown
}

// Source hands out a valid token, obtaining a new one shortly before expiry.
type Source interface {
	// Token returns a token that is not about to expire.
	Token(ctx context.Context) (*Token, error)
	// Refresh replaces stale, which the provider refused, unless another caller already
	// did; it returns the token to use now.
	Refresh(ctx context.Context, stale *Token) (*Token, error)
}

// CredentialStore persists token state. *StoreCredentials implements it over the
// database; MemoryCredentials keeps it in the process (preview).
type CredentialStore interface {
	Load(ctx context.Context) (store.VersionedCredentials, error)
	Save(ctx context.Context, creds map[string]any, expect int64, owner string) (int64, error)
	Lock(ctx context.Context, owner string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, owner string) error
}

// Error is a failure to obtain a token; Permanent is set when the provider refused
// the grant or the client, which no retry will change.
type Error struct {
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return "obtain token: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Options configure a token source.
type Options struct {
	Connector *spec.Connector
	Config    map[string]any
	Store     CredentialStore
	Owner     string       // identifies this process in the refresh lease
	HTTP      *http.Client // for token and login requests
	Now       func() time.Time
	// Retries of a token request that failed with a connection error or 5xx.
	Retries int
	// LockWait bounds how long to wait for another process's refresh.
	LockWait time.Duration
}

// NewSource returns the token source of a connector's refreshable auth.
func NewSource(opts Options) (Source, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.LockWait == 0 {
		opts.LockWait = 45 * time.Second
	}
	switch opts.Connector.Auth.Type {
	case spec.AuthOAuth2:
		return &oauthSource{opts: opts}, nil
	case spec.AuthSession:
		return &sessionSource{opts: opts}, nil
	}
	return nil, fmt.Errorf("auth type %s has no token source", opts.Connector.Auth.Type)
}

// oauthSource obtains OAuth2 access tokens. A mutex makes refresh single-flight in the
// process; the store's lease makes it single-flight across processes, and the new
// token state (with a rotated refresh token) is saved before the token is used.
type oauthSource struct {
	opts Options
	mu   sync.Mutex
	cur  *TokenState
}

func (s *oauthSource) fresh(t *TokenState) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || s.opts.Now().Add(s.opts.Connector.Auth.RefreshBefore.D()).Before(t.Expiry)
}

func (s *oauthSource) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		// First use in this process: a stored token may still be good.
		vc, err := s.opts.Store.Load(ctx)
		if err != nil {
			return nil, err
		}
		if t, ok := TokenFromCredentials(vc.Values); ok {
			s.cur = &t
		}
	}
	if s.fresh(s.cur) {
		return asToken(s.cur), nil
	}
	return s.refreshLocked(ctx, s.cur)
}

func (s *oauthSource) Refresh(ctx context.Context, stale *Token) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && stale != nil && s.cur.AccessToken != stale.Value && s.fresh(s.cur) {
		return asToken(s.cur), nil // another request refreshed while this one waited
	}
	var staleState *TokenState
	if stale != nil {
		staleState = &TokenState{AccessToken: stale.Value}
	}
	return s.refreshLocked(ctx, staleState)
}

func asToken(t *TokenState) *Token {
	return &Token{Value: t.AccessToken, Vars: t.Vars(), Expiry: t.Expiry}
}

// refreshLocked obtains a new token under the cross-process lease, unless the stored
// token was already replaced by another process.
func (s *oauthSource) refreshLocked(ctx context.Context, stale *TokenState) (*Token, error) {
	owner := s.opts.Owner
	deadline := s.opts.Now().Add(s.opts.LockWait)
	for {
		ok, err := s.opts.Store.Lock(ctx, owner, s.opts.LockWait)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		// Another process is refreshing: wait, then use what it stored.
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
		vc, err := s.opts.Store.Load(ctx)
		if err != nil {
			return nil, err
		}
		if t, ok := TokenFromCredentials(vc.Values); ok && s.replaced(t, stale) {
			s.cur = &t
			return asToken(s.cur), nil
		}
		if s.opts.Now().After(deadline) {
			return nil, &Error{Err: errors.New("another process holds the refresh lock and did not finish")}
		}
	}
	saved := false
	defer func() {
		if !saved {
			_ = s.opts.Store.Unlock(context.WithoutCancel(ctx), owner)
		}
	}()
	// Re-read after acquiring: the holder before us may have refreshed already.
	vc, err := s.opts.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	prev, _ := TokenFromCredentials(vc.Values)
	if s.replaced(prev, stale) {
		s.cur = &prev
		return asToken(s.cur), nil
	}
	next, err := s.request(ctx, vc.Values, prev)
	if err != nil {
		return nil, err
	}
	// Persist before use: a rotated refresh token lost here would lock the
	// integration out.
	if _, err := s.opts.Store.Save(ctx, WithToken(vc.Values, next), vc.Version, owner); err != nil {
		return nil, fmt.Errorf("save refreshed token: %w", err)
	}
	saved = true
	s.cur = &next
	return asToken(s.cur), nil
}

// replaced reports whether t is a usable token other than stale.
func (s *oauthSource) replaced(t TokenState, stale *TokenState) bool {
	if !s.fresh(&t) {
		return false
	}
	return stale == nil || t.AccessToken != stale.AccessToken
}

// request calls the token endpoint, retrying connection errors and 5xx.
func (s *oauthSource) request(ctx context.Context, creds map[string]any, prev TokenState) (TokenState, error) {
	conn := s.opts.Connector
	if conn.Auth.Grant == spec.GrantJWTBearer {
		return s.jwtBearer(ctx, creds)
	}
	cfg, err := OAuthConfig(ctx, conn, s.opts.Config, creds, "")
	if err != nil {
		return TokenState{}, &Error{Permanent: true, Err: err}
	}
	// token_params go with client_credentials requests (and the code exchange); a
	// refresh sends only the grant's own fields.
	_, params, err := TokenParams(ctx, conn, s.opts.Config, creds)
	if err != nil {
		return TokenState{}, &Error{Permanent: true, Err: err}
	}
	refresh := prev.RefreshToken
	if refresh == "" {
		refresh, _ = creds["refresh_token"].(string)
	}
	// Token endpoints may echo what they were sent in an error body or description.
	hide := func(err error) error { return scrub(err, cfg.ClientSecret, refresh) }
	capture := &captureTransport{base: s.opts.HTTP.Transport}
	hc := *s.opts.HTTP
	hc.Transport = capture
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &hc)
	var lastErr error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return TokenState{}, err
			}
		}
		var tok *oauth2.Token
		switch conn.Auth.Grant {
		case spec.GrantClientCredentials:
			cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.Endpoint.TokenURL,
				Scopes: cfg.Scopes, AuthStyle: cfg.Endpoint.AuthStyle, EndpointParams: urlValues(params)}
			tok, err = cc.Token(ctx)
		default:
			if refresh == "" {
				return TokenState{}, &Error{Permanent: true, Err: errors.New("no refresh token: connect the integration again (intake oauth serve) or supply credentials.refresh_token")}
			}
			tok, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
		}
		if err == nil {
			return FromOAuth2(tok, prev.RefreshToken, capture.last()), nil
		}
		lastErr = hide(err)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			if re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
				// invalid_grant, invalid_client: a new attempt gets the same answer.
				return TokenState{}, &Error{Permanent: true, Err: hide(describe(re))}
			}
			lastErr = hide(describe(re)) // not re itself: its text carries the body
		}
		if ctx.Err() != nil {
			return TokenState{}, ctx.Err()
		}
	}
	return TokenState{}, &Error{Err: lastErr}
}

// describe reports a token endpoint refusal without echoing its body, which may
// carry the presented secret.
func describe(re *oauth2.RetrieveError) error {
	msg := fmt.Sprintf("token endpoint answered HTTP %d", re.Response.StatusCode)
	if re.ErrorCode != "" {
		msg += " " + re.ErrorCode
	}
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	return errors.New(msg)
}

// scrub replaces secrets (and their form-encoded spelling) in err's text.
func scrub(err error, secrets ...string) error {
	msg := err.Error()
	for _, v := range secrets {
		if v == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, v, secret.Mask)
		msg = strings.ReplaceAll(msg, url.QueryEscape(v), secret.Mask)
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

func backoff(attempt int) time.Duration {
	d := 200 * time.Millisecond << min(attempt-1, 6)
	return min(d, 10*time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func urlValues(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}
