// Package retrieve talks to a provider's HTTP API for one integration: it renders
// requests from the connector spec, authenticates, retries transient failures, pages
// through results and hands each page's records to its caller.
package retrieve

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
)

// Source is what a client needs to talk to one integration's provider.
type Source struct {
	Connector   *spec.Connector
	Config      map[string]any
	Credentials map[string]any
}

// Options tune a client. The zero value is production behaviour.
type Options struct {
	// Transport is the base round tripper (default: a clean pooled transport).
	Transport http.RoundTripper
	// Trace receives every HTTP attempt and every page; URLs are already redacted.
	Trace func(TraceEvent)
	// Now is the clock for the `now` template field (default time.Now).
	Now func() time.Time
	// RetryWaitMin and RetryWaitMax bound the exponential backoff (default 500ms, 30s).
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxBodyBytes caps a response body read whole, and one record (with the part of
	// the document around the records) of a body that streams (default 256 MiB).
	MaxBodyBytes int64
	// PartSize is the most records one Page callback gets (default 1000): a response
	// with more is handed over in parts, and a streamed body is never held whole.
	PartSize int
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Credentials persists the token state of oauth2 auth (refreshed and rotated
	// tokens). Nil keeps it in memory, starting from Source.Credentials (preview).
	Credentials auth.CredentialStore
	// Owner names this process in the cross-process refresh lease.
	Owner string
}

// TraceEvent is one HTTP attempt (Kind "request"), one page or part of a page of
// records (Kind "page"), or what pagination: auto detected in the first response
// (Kind "detect", described by Detail).
type TraceEvent struct {
	Kind     string
	Method   string
	URL      string
	Status   int
	Duration time.Duration
	Err      string
	Page     int
	Part     int  // page: the part of the response (see Page.Part)
	Last     bool // page: the response's last part
	Records  int
	Type     string
	Detail   string
}

// Client is bound to one integration. It is safe for concurrent use.
type Client struct {
	conn    *spec.Connector
	vars    map[string]any // config and now, the base of every template context
	base    *url.URL
	origin  string
	headers http.Header
	query   url.Values // auth carried in the query string
	user    string
	pass    string
	basic   bool
	redact  *secret.Redactor
	rc      *resty.Client
	opts    Options
	retries int
	tokens  auth.Source // nil unless auth is oauth2 or session
	limit   *limiter
	// dynamic: base_url or headers read .auth, so they are rendered per request.
	dynamic bool
	creds   map[string]any
}

const userAgent = "intake/1 (+https://github.com/intakehq/intake)"

// NewClient renders the integration's base URL, auth and headers once.
func NewClient(ctx context.Context, src Source, opts Options) (*Client, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = 500 * time.Millisecond
	}
	if opts.RetryWaitMax == 0 {
		opts.RetryWaitMax = 30 * time.Second
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 256 << 20
	}
	if opts.PartSize <= 0 {
		opts.PartSize = 1000
	}
	conn := src.Connector
	c := &Client{conn: conn, opts: opts, headers: http.Header{}, query: url.Values{}, retries: *conn.Retries}
	c.redact = secret.NewRedactor(secretStrings(src.Credentials)...)
	c.vars = map[string]any{"config": orEmpty(src.Config)}
	authVars := map[string]any{"config": orEmpty(src.Config), "credentials": orEmpty(src.Credentials)}

	c.creds = orEmpty(src.Credentials)
	c.dynamic = conn.Auth.Refreshable() && readsAuth(conn)
	if !c.dynamic {
		base, err := c.renderBase(ctx, nil)
		if err != nil {
			return nil, err
		}
		if base != nil {
			c.base, c.origin = base, origin(base)
		}
		if err := c.renderHeaders(ctx, nil, c.headers); err != nil {
			return nil, err
		}
	}
	if err := c.renderAuth(ctx, authVars); err != nil {
		return nil, err
	}
	c.limit = newLimiter(conn.RateLimit, opts.Now)

	rhc := retryablehttp.NewClient()
	rhc.Logger = nil // its log lines carry full URLs; tracing here is redacted instead
	rhc.RetryMax = c.retries
	rhc.RetryWaitMin, rhc.RetryWaitMax = opts.RetryWaitMin, opts.RetryWaitMax
	rhc.CheckRetry = checkRetry
	rhc.Backoff = backoff
	rhc.ErrorHandler = passthroughErrorHandler
	base := opts.Transport
	if base == nil {
		base = rhc.HTTPClient.Transport
	}
	rhc.HTTPClient = &http.Client{
		// timeout bounds the wait for the answer and then each read of its body, not
		// the whole exchange: a large body streams for as long as it keeps arriving.
		Transport: &transport{base: base, c: c, timeout: conn.Timeout.D()},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if origin(req.URL) != origin(via[0].URL) {
				return fmt.Errorf("%w (%s): credentials would follow it", errCrossHostRedirect, req.URL.Host)
			}
			return nil
		},
	}
	c.rc = resty.NewWithClient(rhc.StandardClient()).
		SetLogger(discardLogger{}).
		SetHeader("User-Agent", userAgent).
		SetHeader("Accept", "application/json")
	if conn.Auth.Refreshable() {
		store := opts.Credentials
		if store == nil {
			store = auth.NewMemoryCredentials(src.Credentials)
		}
		owner := opts.Owner
		if owner == "" {
			owner = defaultOwner()
		}
		// Token and login requests skip the retry stack and the limiter (a token
		// endpoint has limits of its own) but keep the trace and the timeout.
		tokenHTTP := &http.Client{Transport: &transport{base: base, c: c, noLimit: true}, Timeout: conn.Timeout.D(), CheckRedirect: rhc.HTTPClient.CheckRedirect}
		src, err := auth.NewSource(auth.Options{Connector: conn, Config: src.Config, Store: store, Owner: owner, HTTP: tokenHTTP, Now: opts.Now, Retries: c.retries})
		if err != nil {
			return nil, err
		}
		c.tokens = src
	}
	return c, nil
}

// readsAuth reports whether base_url or the top-level headers read .auth.
func readsAuth(conn *spec.Connector) bool {
	ts := []*spec.Template{conn.BaseURL}
	for _, k := range conn.Headers.Keys {
		ts = append(ts, conn.Headers.Map[k])
	}
	for _, t := range ts {
		if t == nil || t.Template == nil {
			continue
		}
		for _, q := range t.Queries() {
			for _, p := range q.RootPaths() {
				if p[0] == "auth" {
					return true
				}
			}
		}
	}
	return false
}

// renderBase renders base_url; authVars is the token's .auth, nil before there is one.
func (c *Client) renderBase(ctx context.Context, authVars map[string]any) (*url.URL, error) {
	if c.conn.BaseURL == nil {
		return nil, nil
	}
	s, err := c.conn.BaseURL.RenderString(ctx, map[string]any{"config": c.vars["config"], "auth": orEmpty(authVars)})
	if err != nil {
		return nil, c.redact.Error(fmt.Errorf("render base_url: %w", err))
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, c.redact.Error(fmt.Errorf("base_url %q is not an absolute URL", s))
	}
	return u, nil
}

func (c *Client) renderHeaders(ctx context.Context, authVars map[string]any, into http.Header) error {
	hv := map[string]any{"config": c.vars["config"], "credentials": c.creds, "auth": orEmpty(authVars), "now": c.opts.Now().UTC().Format(time.RFC3339)}
	for _, k := range c.conn.Headers.Keys {
		v, err := c.conn.Headers.Map[k].RenderString(ctx, hv)
		if err != nil {
			return c.redact.Error(fmt.Errorf("render headers.%s: %w", k, err))
		}
		into.Set(k, v)
	}
	return nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = crand.Read(b[:])
	return fmt.Sprintf("%s:%d:%x", host, os.Getpid(), b)
}

func (c *Client) renderAuth(ctx context.Context, vars map[string]any) error {
	a := c.conn.Auth
	renderMaybeEmpty := func(key string, t *spec.Template) (string, error) {
		v, err := t.RenderString(ctx, vars)
		if err != nil {
			return "", c.redact.Error(fmt.Errorf("render auth.%s: %w", key, err))
		}
		c.redact.Add(v)
		return v, nil
	}
	render := func(key string, t *spec.Template) (string, error) {
		v, err := renderMaybeEmpty(key, t)
		if err == nil && v == "" {
			return "", fmt.Errorf("auth.%s is empty: supply the credential it reads (%s)", key, t.Src)
		}
		return v, err
	}
	switch a.Type {
	case spec.AuthAPIKey:
		v, err := render("value", a.Value)
		if err != nil {
			return err
		}
		if a.In == "query" {
			c.query.Set(a.Name, v)
		} else {
			c.headers.Set(a.Name, v)
		}
	case spec.AuthBearer:
		v, err := render("token", a.Token)
		if err != nil {
			return err
		}
		c.headers.Set("Authorization", "Bearer "+v)
		c.redact.Add("Bearer " + v)
	case spec.AuthOAuth2, spec.AuthSession:
		// Tokens are obtained per request; see applyToken.
	case spec.AuthBasic:
		u, err := render("username", a.Username)
		if err != nil {
			return err
		}
		// An empty password is legitimate: Stripe's documented form is the secret key
		// as the user name and nothing after the colon (curl -u sk_test_...:).
		p, err := renderMaybeEmpty("password", a.Password)
		if err != nil {
			return err
		}
		c.user, c.pass, c.basic = u, p, true
		c.redact.Add(u + ":" + p)
	}
	return nil
}

// Redact hides the integration's secrets in s.
func (c *Client) Redact(s string) string { return c.redact.String(s) }

// Request is one HTTP request to the provider.
type Request struct {
	Method  string
	URL     string
	Query   url.Values
	Headers http.Header
	Body    any
}

// Response is a decoded provider response.
type Response struct {
	Status int
	Header http.Header
	URL    *url.URL
	Body   any
	// Ignored: a response rule said to skip this answer; it holds no records.
	Ignored bool
}

// HTTPError is a non-success answer from the provider, after retries.
type HTTPError struct {
	Method string
	URL    string // redacted
	Status int
	Body   string // redacted, truncated
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// BodyError is a response whose body could not be read or decoded, after retries.
type BodyError struct {
	URL string
	Err error
}

func (e *BodyError) Error() string { return fmt.Sprintf("read response of %s: %v", e.URL, e.Err) }
func (e *BodyError) Unwrap() error { return e.Err }

// Do sends req and decodes the JSON answer. Connection errors, 408, 429 and 5xx are
// retried inside the HTTP stack; here the answer is judged by the response rules and
// then by its status: truncated or malformed bodies and rules saying retry are retried
// with backoff, rate_limited pauses every request of the integration, a 401 (or
// refresh_then_retry) gets one token refresh, and fail ends with the rule's class.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	var out *Response
	err := c.exchange(ctx, req, nil, func(a *answer) error {
		out = &Response{Status: a.status, Header: a.header, URL: a.url, Body: a.body, Ignored: a.ignored}
		return nil
	})
	return out, err
}

// lateRule is a response rule that matched a streamed body only once it had been
// read to its end: the keys it reads came after the records.
type lateRule struct{ rule *spec.ResponseRule }

func (e *lateRule) Error() string { return "response rule matched at the end of the body" }

// exchange sends req until an answer is accepted and hands it to deliver: a 2xx answer
// no rule objects to, or an answer a rule says to ignore (a.ignored). plan says how
// to read a 2xx body (nil: one JSON document, read whole); a streamed body is open
// while deliver runs, and deliver's errors decide what happens next: a body cut short
// or malformed (a *BodyError) is asked for again with backoff, as is an answer a
// late rule (a *lateRule) says to retry; any other error ends the exchange as is.
func (c *Client) exchange(ctx context.Context, req Request, plan *bodyPlan, deliver func(*answer) error) error {
	refreshed := false
	var lastErr error
	for attempt := 0; attempt <= c.retries; {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		u, basePath, err := c.target(ctx, req, tok)
		if err != nil {
			return err
		}
		res, err := c.once(withEndpoint(ctx, endpointPath(u.Path, basePath)), req, u, tok, plan)
		if err != nil {
			var be *BodyError
			if !errors.As(err, &be) || ctx.Err() != nil {
				return err
			}
			lastErr = err
			attempt++
			if attempt <= c.retries {
				if err := sleep(ctx, backoff(c.opts.RetryWaitMin, c.opts.RetryWaitMax, attempt-1, nil)); err != nil {
					return err
				}
			}
			continue
		}
		rule := c.match(ctx, res, res.judgeable)
		action := spec.ActionFail
		switch {
		case rule != nil:
			action = rule.Action
		case res.status >= 200 && res.status <= 299:
			err := deliver(res)
			res.close()
			var late *lateRule
			var be *BodyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &late):
				rule, action = late.rule, late.rule.Action
			case errors.As(err, &be) && ctx.Err() == nil:
				// Cut short while streaming: the records handed over so far are handed
				// over again from the start (upserts make that harmless).
				lastErr = err
				attempt++
				if attempt <= c.retries {
					if err := sleep(ctx, backoff(c.opts.RetryWaitMin, c.opts.RetryWaitMax, attempt-1, nil)); err != nil {
						return err
					}
				}
				continue
			default:
				return err
			}
		case res.status == http.StatusUnauthorized && c.tokens != nil:
			action = spec.ActionRefreshThenRetry
		}
		res.close()
		herr := res.httpError(c)
		switch action {
		case spec.ActionIgnore:
			res.ignored = true
			return deliver(res)
		case spec.ActionRefreshThenRetry:
			if c.tokens == nil || refreshed {
				return &ClassError{Class: spec.ClassAuth, Err: herr}
			}
			refreshed = true
			if _, err := c.tokens.Refresh(ctx, tok); err != nil {
				return c.tokenError(err)
			}
			continue // a refresh is not a retry of the same failure
		case spec.ActionRetry, spec.ActionRateLimited:
			// A status alone would misclassify these (a 200 with an error body), so the
			// rule's action names the class once retries run out.
			lastErr = &ClassError{Class: spec.ClassTransient, Err: herr}
			attempt++
			wait := backoff(c.opts.RetryWaitMin, c.opts.RetryWaitMax, attempt-1, nil)
			if action == spec.ActionRateLimited {
				lastErr = &ClassError{Class: spec.ClassRateLimited, Err: herr}
				wait = c.limit.pauseFor(res.header, wait)
			}
			if attempt <= c.retries {
				if err := sleep(ctx, wait); err != nil {
					return err
				}
			}
			continue
		default: // fail, or an error status no rule covers
			if rule != nil {
				msg := herr.Error()
				if rule.Message != "" {
					msg = rule.Message + ": " + msg
				}
				return &ClassError{Class: rule.Class, Err: errors.New(msg)}
			}
			return herr
		}
	}
	return lastErr
}

// token returns the current token of token-based auth, nil for static auth.
func (c *Client) token(ctx context.Context) (*auth.Token, error) {
	if c.tokens == nil {
		return nil, nil
	}
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, c.tokenError(err)
	}
	c.redact.Add(tok.Value)
	return tok, nil
}

// tokenError classifies a failure to obtain a token: refused grants and clients are
// auth failures, anything else (the token endpoint down) is transient.
func (c *Client) tokenError(err error) error {
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Permanent {
		return &ClassError{Class: spec.ClassAuth, Err: c.redact.Error(err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &ClassError{Class: spec.ClassTransient, Err: c.redact.Error(err)}
}

// target builds the request URL: base URL (rendered per request when it reads .auth),
// the request's query, and auth carried in the query.
func (c *Client) target(ctx context.Context, req Request, tok *auth.Token) (*url.URL, string, error) {
	base, orig := c.base, c.origin
	if c.dynamic {
		var vars map[string]any
		if tok != nil {
			vars = tok.Vars
		}
		b, err := c.renderBase(ctx, vars)
		if err != nil {
			return nil, "", err
		}
		if b != nil {
			base, orig = b, origin(b)
		}
	}
	u, err := resolveAgainst(base, orig, req.URL)
	if err != nil {
		return nil, "", c.redact.Error(err)
	}
	var basePath string
	if base != nil {
		basePath = base.Path
	}
	q := u.Query()
	for k, vs := range req.Query {
		q[k] = vs
	}
	for k, vs := range c.query {
		if _, ok := q[k]; !ok {
			q[k] = vs
		}
	}
	if tok != nil && c.conn.Auth.In == "query" {
		v, err := c.tokenValue(ctx, tok)
		if err != nil {
			return nil, "", err
		}
		q.Set(c.conn.Auth.Name, v)
	}
	u.RawQuery = q.Encode()
	return u, basePath, nil
}

// endpointPath is a request's path as rate_limit.endpoints patterns name it: relative
// to base_url's path when under it (next-page URLs included), else in full.
func endpointPath(path, basePath string) string {
	basePath = strings.TrimSuffix(basePath, "/")
	if rel, ok := strings.CutPrefix(path, basePath); ok && basePath != "" && (rel == "" || rel[0] == '/') {
		return rel
	}
	return path
}

func (c *Client) tokenValue(ctx context.Context, tok *auth.Token) (string, error) {
	v, err := c.conn.Auth.Value.RenderString(ctx, map[string]any{"config": c.vars["config"], "auth": tok.Vars})
	if err != nil {
		return "", c.redact.Error(fmt.Errorf("render auth.value: %w", err))
	}
	c.redact.Add(v)
	return v, nil
}

// answer is one raw answer of the provider.
type answer struct {
	method string
	shown  string // redacted URL
	status int
	header http.Header
	url    *url.URL
	raw    []byte
	// body is the decoded JSON document; nil when empty or, for an error status, not
	// JSON. For a streamed body it is the envelope read so far (the document without
	// its records), and it is complete once records has reported its end.
	body any
	// records hands out a streamed body's records; nil when the body was read whole.
	records recordSource
	js      *jsonStream // records, when it is a streamed JSON document
	plan    *bodyPlan
	closer  io.Closer
	judged  map[*spec.ResponseRule]bool // body rules judged when the answer arrived
	ignored bool                        // a response rule said to skip this answer
	slot    *slotHandle                 // a streamed body's concurrency slot; nil without a cap
}

func (a *answer) close() {
	if a.closer != nil {
		_ = a.closer.Close()
		a.closer = nil
	}
}

// judgeable says whether rule r can be judged on the answer as it is now. A body read
// whole can always be judged. A streamed body is judged when its records start on the
// keys that came before them: a rule whose keys have not all arrived waits for the end
// of the body (see lateMatch); a JSON Lines or CSV body has no document, so its body
// rules see null.
func (a *answer) judgeable(r *spec.ResponseRule) bool {
	if a.js == nil || r.Body == nil {
		if a.judged != nil {
			a.judged[r] = true
		}
		return true
	}
	if !a.js.complete(a.plan.reads[r]) {
		return false
	}
	a.judged[r] = true
	return true
}

// lateMatch judges, once a streamed JSON body has been read to its end, the rules
// that had to wait for keys after the records.
func (c *Client) lateMatch(ctx context.Context, a *answer) *spec.ResponseRule {
	if a.js == nil {
		return nil
	}
	a.body = a.js.envelope()
	return c.match(ctx, a, func(r *spec.ResponseRule) bool { return !a.judged[r] })
}

func (a *answer) httpError(c *Client) *HTTPError {
	raw := a.raw
	if len(raw) == 0 && a.body != nil {
		raw, _ = json.Marshal(a.body) // a streamed envelope
	}
	snippet := strings.TrimSpace(string(raw))
	if len(snippet) > 512 {
		snippet = snippet[:512] + "…"
	}
	return &HTTPError{Method: a.method, URL: a.shown, Status: a.status, Body: c.redact.String(snippet)}
}

type rulesKey struct{}

// withRules carries an interaction type's response rules to Do.
func withRules(ctx context.Context, rules []*spec.ResponseRule) context.Context {
	return context.WithValue(ctx, rulesKey{}, rules)
}

// match returns the first response rule the answer satisfies among those judgeable
// says can be judged now: the interaction type's rules, then the connector's.
func (c *Client) match(ctx context.Context, a *answer, judgeable func(*spec.ResponseRule) bool) *spec.ResponseRule {
	typeRules, _ := ctx.Value(rulesKey{}).([]*spec.ResponseRule)
	var vars expr.Vars // built for the first rule with a body expression
	for _, rules := range [][]*spec.ResponseRule{typeRules, c.conn.ResponseRules} {
		for _, r := range rules {
			if len(r.Status) > 0 && !slices.Contains(r.Status, a.status) {
				continue
			}
			if !judgeable(r) {
				continue
			}
			if r.Body != nil {
				if vars == nil {
					vars = expr.Vars{"$headers": headerVars(a.header), "$status": a.status}
				}
				ok, err := r.Body.TruthyVars(ctx, a.body, vars)
				if err != nil || !ok {
					continue
				}
			}
			return r
		}
	}
	return nil
}

func (c *Client) once(ctx context.Context, req Request, u *url.URL, tok *auth.Token, plan *bodyPlan) (*answer, error) {
	var slot *slotHandle
	if plan.streams() && c.limit.sem != nil {
		slot = &slotHandle{}
		ctx = withSlot(ctx, slot)
	}
	r := c.rc.R().SetContext(ctx).SetDoNotParseResponse(true)
	headers := c.headers
	if c.dynamic {
		headers = http.Header{}
		var vars map[string]any
		if tok != nil {
			vars = tok.Vars
		}
		if err := c.renderHeaders(ctx, vars, headers); err != nil {
			return nil, err
		}
	}
	if plan != nil {
		r.SetHeader("Accept", accept[plan.format])
	}
	for k, vs := range headers {
		r.SetHeader(k, vs[0])
	}
	for k, vs := range req.Headers {
		r.SetHeader(k, vs[0])
	}
	if c.basic {
		r.SetBasicAuth(c.user, c.pass)
	}
	if tok != nil && c.conn.Auth.In != "query" {
		v, err := c.tokenValue(ctx, tok)
		if err != nil {
			return nil, err
		}
		r.SetHeader(c.conn.Auth.Name, v)
	}
	if req.Body != nil {
		r.SetHeader("Content-Type", "application/json").SetBody(req.Body)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	shown := c.redact.String(redactQuery(u))
	resp, err := r.Execute(method, u.String())
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.redact.Error(fmt.Errorf("%s %s: %w", method, shown, unwrapURLError(err)))
	}
	raw := resp.RawBody()
	a := &answer{method: method, shown: shown, status: resp.StatusCode(), header: resp.Header(), url: u, plan: plan}
	ok := a.status >= 200 && a.status <= 299
	if ok && plan.streams() {
		// Read as it arrives: only the part before the first record is read here.
		src, head, js, err := c.openStream(plan, raw, a.header)
		if err != nil {
			raw.Close()
			return nil, c.streamError(shown, err)
		}
		a.body, a.js, a.closer, a.slot = head, js, raw, slot
		if src != nil {
			a.records = src
		}
		if js != nil {
			a.judged = map[*spec.ResponseRule]bool{}
		}
		return a, nil
	}
	defer raw.Close()
	body, readErr := c.readAll(raw, a.header)
	a.raw = body
	if readErr != nil {
		if !ok {
			return a, nil // an error answer cut short is still an error answer
		}
		var tl *errTooLarge
		if errors.As(readErr, &tl) {
			return nil, fmt.Errorf("response of %s is larger than %d bytes", shown, c.opts.MaxBodyBytes)
		}
		return nil, &BodyError{URL: shown, Err: c.redact.Error(readErr)}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		err := dec.Decode(&a.body)
		switch {
		case !ok:
			if err != nil {
				a.body = nil // an HTML error page: rules can still match on status
			}
		case err != nil:
			return nil, &BodyError{URL: shown, Err: fmt.Errorf("invalid JSON (%d bytes): %w", len(body), err)}
		case !jsonx.AtEnd(dec):
			return nil, &BodyError{URL: shown, Err: errTrailingData}
		}
	}
	return a, nil
}

// accept is the Accept header of each body format.
var accept = map[string]string{
	spec.FormatJSON:  "application/json",
	spec.FormatJSONL: "application/x-ndjson, application/jsonl, application/json;q=0.9, */*;q=0.5",
	spec.FormatCSV:   "text/csv, */*;q=0.5",
}

// readAll reads a body whole, gzip undone, up to MaxBodyBytes.
func (c *Client) readAll(raw io.Reader, h http.Header) ([]byte, error) {
	r, err := decodeContent(raw, h)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(skipBOM(r), c.opts.MaxBodyBytes+1))
	if err != nil {
		return body, err
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, &errTooLarge{max: c.opts.MaxBodyBytes}
	}
	return body, nil
}

// streamError says what went wrong reading a streamed body: a records expression that
// fails and a record too large are final; the rest (a body cut short, malformed) is a
// *BodyError, asked for again.
func (c *Client) streamError(shown string, err error) error {
	var tl *errTooLarge
	if errors.Is(err, errRecords) || errors.As(err, &tl) {
		return c.redact.Error(err)
	}
	var be *BodyError
	if errors.As(err, &be) {
		return err
	}
	return &BodyError{URL: shown, Err: c.redact.Error(err)}
}

// resolveAgainst joins a path to the base URL; an absolute URL must share the base's
// origin so that credentials never go to another host.
func resolveAgainst(base *url.URL, baseOrigin, ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", ref, err)
	}
	if u.IsAbs() {
		if baseOrigin != "" && origin(u) != baseOrigin {
			return nil, fmt.Errorf("%w %s: it is not the base_url's host %s", errCrossHost, origin(u), baseOrigin)
		}
		return u, nil
	}
	if base == nil {
		return nil, fmt.Errorf("relative URL %q and no base_url", ref)
	}
	joined := *base
	joined.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(u.Path, "/")
	joined.RawPath = ""
	q := base.Query()
	for k, vs := range u.Query() {
		q[k] = vs
	}
	joined.RawQuery = q.Encode()
	return &joined, nil
}

// sensitiveParam matches query parameter names whose values are secrets even when the
// redactor does not know the value (signed next-page URLs, say).
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"key", "token", "secret", "password", "signature", "sig", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func redactQuery(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", "" // never sent; an implicit grant's token lives there
	if c.RawQuery == "" {
		return c.String()
	}
	// Pair by pair on the query as written, so that a pair url.ParseQuery refuses (a
	// bad escape, a ';') is still judged by its name rather than printed as is, and
	// the rest keeps its order and spelling.
	var b strings.Builder
	rest := c.RawQuery
	for rest != "" {
		i := strings.IndexAny(rest, "&;")
		pair, sep := rest, ""
		if i >= 0 {
			pair, sep, rest = rest[:i], rest[i:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		name, _, hasValue := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if hasValue && sensitiveParam(name) {
			pair = pair[:strings.IndexByte(pair, '=')+1] + secret.Mask
		}
		b.WriteString(pair)
		b.WriteString(sep)
	}
	c.RawQuery = b.String()
	return c.String()
}

// origin is u's scheme, host and port, compared case-insensitively and with the
// scheme's default port left out: a next link to https://api.example.com:443/ is on
// the host of base_url https://api.example.com.
func origin(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var (
	errTrailingData = errors.New("invalid JSON: trailing data after the first value")
	errCrossHost    = errors.New("refusing to send credentials to")
	errRecords      = errors.New("records")
)

// errCrossHostRedirect refuses a redirect off the base URL's host. It is final: the
// same request would be redirected again.
var errCrossHostRedirect = errors.New("refusing redirect to another host")

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if errors.Is(err, errCrossHostRedirect) {
		return false, nil
	}
	if err == nil && resp.StatusCode == http.StatusRequestTimeout {
		return true, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// passthroughErrorHandler returns the last answer once retries are exhausted, so that
// its status and body are reported, or the error alone: net/http logs a complaint when
// a round tripper returns both.
func passthroughErrorHandler(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	return resp, nil
}

// maxRetryAfter caps how long one Retry-After is obeyed.
const maxRetryAfter = 5 * time.Minute

// backoff waits what Retry-After says on 429 and 503, else exponentially with jitter.
func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	d := lo << min(attempt, 30)
	if d <= 0 || d > hi {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads Retry-After as delay seconds or an HTTP date (RFC 9110 10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil || errors.Is(err, strconv.ErrRange) {
		// Compared in seconds: multiplied first, a large delay wrapped around to a
		// negative one, and a wait of 0.
		return time.Duration(max(0, min(s, int(maxRetryAfter/time.Second)))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return clampDur(t.Sub(now), 0, maxRetryAfter), true
	}
	return 0, false
}

func clampDur(d, lo, hi time.Duration) time.Duration { return min(max(d, lo), hi) }

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

// transport paces every attempt through the rate limiter (retries included) and
// traces it with secrets redacted.
type transport struct {
	base    http.RoundTripper
	c       *Client
	noLimit bool
	timeout time.Duration // 0: none (the http.Client's own timeout applies)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var release func()
	if !t.noLimit {
		var err error
		if release, err = t.c.limit.wait(req.Context(), endpointOf(req.Context())); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	resp, err := t.roundTrip(req)
	if release != nil {
		if err != nil {
			release()
		} else {
			t.c.limit.observe(resp)
			rb := &releasingBody{ReadCloser: resp.Body, l: t.c.limit, release: release}
			if h, ok := req.Context().Value(slotKey{}).(*slotHandle); ok {
				h.set(rb)
			}
			resp.Body = rb
		}
	}
	if t.c.opts.Trace != nil {
		ev := TraceEvent{Kind: "request", Method: req.Method, URL: t.c.redact.String(redactQuery(req.URL)), Duration: time.Since(start)}
		if err != nil {
			ev.Err = t.c.redact.String(unwrapURLError(err).Error())
		} else {
			ev.Status = resp.StatusCode
		}
		t.c.opts.Trace(ev)
	}
	return resp, err
}

// errHeaderTimeout and errReadTimeout are the connector timeout running out: before the
// answer's headers, or in one read of its body.
var (
	errHeaderTimeout = errors.New("timeout: no answer in time")
	errReadTimeout   = errors.New("timeout: the response body stopped arriving")
)

// roundTrip applies the timeout: the headers must arrive within it, and then each read
// of the body must return within it. Time spent between reads (the caller storing the
// records read so far) does not count.
func (t *transport) roundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.timeout, func() { cancel(errHeaderTimeout) })
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() && err == nil {
		resp.Body.Close() // the answer came as the time ran out: its body is cut off
		err = context.Cause(ctx)
	}
	if err != nil {
		cause := context.Cause(ctx)
		cancel(nil)
		if errors.Is(cause, errHeaderTimeout) && req.Context().Err() == nil {
			return nil, fmt.Errorf("%w (%s)", errHeaderTimeout, t.timeout)
		}
		return nil, err
	}
	b := &timedBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, d: t.timeout}
	b.timer = time.AfterFunc(t.timeout, func() { cancel(errReadTimeout) })
	b.timer.Stop() // armed by each Read
	resp.Body = b
	return resp, nil
}

// timedBody fails a read that does not return within d by cancelling the request.
type timedBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
	timer  *time.Timer
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.d)
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), errReadTimeout) {
		err = fmt.Errorf("%w (%s)", errReadTimeout, b.d)
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.timer.Stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

func secretStrings(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s := expr.Text(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
