package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/expr"
)

// sessionSource logs in with the spec's login request and reuses the session token
// until it expires or is refused. Sessions live in the process: logging in again is
// cheap and spends nothing that another process could need.
type sessionSource struct {
	opts Options
	mu   sync.Mutex
	cur  *Token
}

func (s *sessionSource) fresh(t *Token) bool {
	if t == nil {
		return false
	}
	return t.Expiry.IsZero() || s.opts.Now().Add(s.opts.Connector.Auth.RefreshBefore.D()).Before(t.Expiry)
}

func (s *sessionSource) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh(s.cur) {
		return s.cur, nil
	}
	return s.login(ctx)
}

func (s *sessionSource) Refresh(ctx context.Context, stale *Token) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && stale != nil && s.cur.Value != stale.Value && s.fresh(s.cur) {
		return s.cur, nil
	}
	return s.login(ctx)
}

func (s *sessionSource) login(ctx context.Context) (*Token, error) {
	vc, err := s.opts.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{"config": orEmpty(s.opts.Config), "credentials": orEmpty(vc.Values)}
	req, err := s.buildLogin(ctx, vars)
	if err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}
	var lastErr error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return nil, err
			}
		}
		r, err := req()
		if err != nil {
			return nil, &Error{Permanent: true, Err: err}
		}
		resp, err := s.opts.HTTP.Do(r.WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = fmt.Errorf("login: %w", stripURL(err))
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || err != nil {
			lastErr = fmt.Errorf("login answered HTTP %d", resp.StatusCode)
			continue
		}
		if resp.StatusCode/100 != 2 {
			// The body may echo the credentials sent: report the status alone.
			return nil, &Error{Permanent: true, Err: fmt.Errorf("login refused: HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))}
		}
		return s.accept(ctx, body)
	}
	return nil, &Error{Err: lastErr}
}

func (s *sessionSource) accept(ctx context.Context, body []byte) (*Token, error) {
	a := s.opts.Connector.Auth
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &Error{Err: fmt.Errorf("login response is not JSON: %w", err)}
	}
	v, err := a.TokenPath.First(ctx, doc)
	if err != nil {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("auth.session_token: %w", err)}
	}
	tok := expr.Text(v)
	if tok == "" {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("auth.session_token %s found no token in the login response", a.TokenPath.Src)}
	}
	t := &Token{Value: tok, Vars: map[string]any{}}
	if m, ok := doc.(map[string]any); ok {
		t.Vars = maps.Clone(m)
	}
	t.Vars["token"] = tok
	switch {
	case a.ExpiresIn != nil:
		e, err := a.ExpiresIn.First(ctx, doc)
		if err != nil {
			return nil, &Error{Permanent: true, Err: fmt.Errorf("auth.expires_in: %w", err)}
		}
		var secs float64
		// Past a century it is as good as never (and past 292 years a Duration
		// wraps negative: a token expired on arrival, and a login per request).
		const never = 100 * 365 * 24 * 60 * 60
		if _, err := fmt.Sscan(expr.Text(e), &secs); err == nil && secs > 0 && secs < never {
			t.Expiry = s.opts.Now().Add(time.Duration(secs * float64(time.Second)))
		}
	case a.TTL > 0:
		t.Expiry = s.opts.Now().Add(a.TTL.D())
	}
	s.cur = t
	return t, nil
}

// buildLogin renders the login request once; the returned func makes a fresh
// *http.Request per attempt (a body can be read once).
func (s *sessionSource) buildLogin(ctx context.Context, vars map[string]any) (func() (*http.Request, error), error) {
	l := s.opts.Connector.Auth.Login
	path, err := l.Path.RenderString(ctx, vars)
	if err != nil {
		return nil, fmt.Errorf("render auth.login.path: %w", err)
	}
	u, err := s.loginURL(ctx, path)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	for _, k := range l.Params.Keys {
		v, err := l.Params.Map[k].Render(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("render auth.login.params.%s: %w", k, err)
		}
		if v != nil {
			q.Set(k, expr.Text(v))
		}
	}
	u.RawQuery = q.Encode()
	headers := http.Header{}
	for _, k := range l.Headers.Keys {
		v, err := l.Headers.Map[k].RenderString(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("render auth.login.headers.%s: %w", k, err)
		}
		headers.Set(k, v)
	}
	var body []byte
	if l.Body != nil {
		b, err := l.Body.Render(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("render auth.login.body: %w", err)
		}
		if body, err = json.Marshal(b); err != nil {
			return nil, err
		}
		headers.Set("Content-Type", "application/json")
	}
	headers.Set("Accept", "application/json")
	return func() (*http.Request, error) {
		r, err := http.NewRequest(l.Method, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, errors.New("login: invalid request")
		}
		r.Header = headers.Clone()
		return r, nil
	}, nil
}

// loginURL joins a relative login path to the base URL (which, for session auth,
// cannot depend on the session itself).
func (s *sessionSource) loginURL(ctx context.Context, path string) (*url.URL, error) {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return url.Parse(path)
	}
	base := s.opts.Connector.BaseURL
	if base == nil {
		return nil, errors.New("auth.login.path is relative and the spec has no base_url")
	}
	b, err := base.RenderString(ctx, map[string]any{"config": orEmpty(s.opts.Config), "auth": map[string]any{}})
	if err != nil {
		return nil, fmt.Errorf("render base_url for login: %w", err)
	}
	u, err := url.Parse(strings.TrimSuffix(b, "/") + "/" + strings.TrimPrefix(path, "/"))
	if err != nil {
		return nil, fmt.Errorf("login URL: %w", err)
	}
	return u, nil
}

// stripURL drops the URL from a transport error: it may carry query credentials.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
