// Package retrieve talks to a provider's HTTP API for one integration: it renders
// requests from the connector spec, authenticates, retries transient failures, pages
// through results and hands each page's records to its caller.
package retrieve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/intakehq/intake/engine/expr"
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
	// MaxBodyBytes caps one response body (default 256 MiB).
	MaxBodyBytes int64
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// TraceEvent is one HTTP attempt (Kind "request") or one page of records (Kind "page").
type TraceEvent struct {
	Kind     string
	Method   string
	URL      string
	Status   int
	Duration time.Duration
	Err      string
	Page     int
	Records  int
	Type     string
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
	conn := src.Connector
	c := &Client{conn: conn, opts: opts, headers: http.Header{}, query: url.Values{}, retries: *conn.Retries}
	c.redact = secret.NewRedactor(secretStrings(src.Credentials)...)
	c.vars = map[string]any{"config": orEmpty(src.Config)}
	authVars := map[string]any{"config": orEmpty(src.Config), "credentials": orEmpty(src.Credentials)}

	if conn.BaseURL != nil {
		s, err := conn.BaseURL.RenderString(ctx, c.vars)
		if err != nil {
			return nil, c.redact.Error(fmt.Errorf("render base_url: %w", err))
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, c.redact.Error(fmt.Errorf("base_url %q is not an absolute URL", s))
		}
		c.base, c.origin = u, origin(u)
	}
	if err := c.renderAuth(ctx, authVars); err != nil {
		return nil, err
	}
	hv := map[string]any{"config": orEmpty(src.Config), "credentials": orEmpty(src.Credentials), "now": opts.Now().UTC().Format(time.RFC3339)}
	for _, k := range conn.Headers.Keys {
		v, err := conn.Headers.Map[k].RenderString(ctx, hv)
		if err != nil {
			return nil, c.redact.Error(fmt.Errorf("render headers.%s: %w", k, err))
		}
		c.headers.Set(k, v)
	}

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
		Transport: &tracingTransport{base: base, c: c},
		Timeout:   conn.Timeout.D(),
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
	return c, nil
}

func (c *Client) renderAuth(ctx context.Context, vars map[string]any) error {
	a := c.conn.Auth
	render := func(key string, t *spec.Template) (string, error) {
		v, err := t.RenderString(ctx, vars)
		if err != nil {
			return "", c.redact.Error(fmt.Errorf("render auth.%s: %w", key, err))
		}
		if v == "" {
			return "", fmt.Errorf("auth.%s is empty: supply the credential it reads (%s)", key, t.Src)
		}
		c.redact.Add(v)
		return v, nil
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
	case spec.AuthBasic:
		u, err := render("username", a.Username)
		if err != nil {
			return err
		}
		p, err := render("password", a.Password)
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

// Do sends req, retrying connection errors, 408, 429 and 5xx (inside the HTTP stack)
// and truncated or malformed bodies (here), and decodes the JSON body.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	u, err := c.resolve(req.URL)
	if err != nil {
		return nil, err
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
	u.RawQuery = q.Encode()
	var lastErr error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(c.opts.RetryWaitMin, c.opts.RetryWaitMax, attempt-1, nil)); err != nil {
				return nil, err
			}
		}
		resp, err := c.once(ctx, req, u)
		if err == nil {
			return resp, nil
		}
		var be *BodyError
		if !errors.As(err, &be) || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (c *Client) once(ctx context.Context, req Request, u *url.URL) (*Response, error) {
	r := c.rc.R().SetContext(ctx).SetDoNotParseResponse(true)
	for k, vs := range c.headers {
		r.SetHeader(k, vs[0])
	}
	for k, vs := range req.Headers {
		r.SetHeader(k, vs[0])
	}
	if c.basic {
		r.SetBasicAuth(c.user, c.pass)
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
	defer raw.Close()
	body, readErr := io.ReadAll(io.LimitReader(raw, c.opts.MaxBodyBytes+1))
	status := resp.StatusCode()
	if status < 200 || status > 299 {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 512 {
			snippet = snippet[:512] + "…"
		}
		return nil, &HTTPError{Method: method, URL: shown, Status: status, Body: c.redact.String(snippet)}
	}
	if readErr != nil {
		return nil, &BodyError{URL: shown, Err: c.redact.Error(readErr)}
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, fmt.Errorf("response of %s is larger than %d bytes", shown, c.opts.MaxBodyBytes)
	}
	out := &Response{Status: status, Header: resp.Header(), URL: u}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&out.Body); err != nil {
			return nil, &BodyError{URL: shown, Err: fmt.Errorf("invalid JSON (%d bytes): %w", len(body), err)}
		}
		if dec.More() {
			return nil, &BodyError{URL: shown, Err: errTrailingData}
		}
	}
	return out, nil
}

// resolve joins a path to the base URL; an absolute URL must share the base's origin so
// that credentials never go to another host.
func (c *Client) resolve(ref string) (*url.URL, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", c.redact.String(ref), err)
	}
	if u.IsAbs() {
		if c.origin != "" && origin(u) != c.origin {
			return nil, fmt.Errorf("%w %s: it is not the base_url's host %s", errCrossHost, origin(u), c.origin)
		}
		return u, nil
	}
	if c.base == nil {
		return nil, fmt.Errorf("relative URL %q and no base_url", ref)
	}
	joined := *c.base
	joined.Path = strings.TrimSuffix(c.base.Path, "/") + "/" + strings.TrimPrefix(u.Path, "/")
	joined.RawPath = ""
	q := c.base.Query()
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
	q := c.Query()
	changed := false
	for k := range q {
		if sensitiveParam(k) {
			q[k] = []string{secret.Mask}
			changed = true
		}
	}
	if changed {
		// Keep the mask readable rather than %5BREDACTED%5D.
		c.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(secret.Mask), secret.Mask)
	}
	c.User = nil
	return c.String()
}

func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

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
	if s, err := strconv.Atoi(v); err == nil {
		return clampDur(time.Duration(s)*time.Second, 0, maxRetryAfter), true
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

type tracingTransport struct {
	base http.RoundTripper
	c    *Client
}

func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
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
