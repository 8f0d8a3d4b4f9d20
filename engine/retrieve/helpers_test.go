package retrieve_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// Credentials the fake APIs accept. They are long and distinctive so that a leak in
// an error or trace is unambiguous.
const (
	apiKey   = "sk_test_51Hc9f8e7d6c5b4a3"
	token    = "tok_live_Zq8Xw7Vu6Ts5Rq4"
	username = "svc-intake@example.com"
	password = "pw_Mm3Nn4Oo5Pp6Qq7"
)

// call is one request a fake API received.
type call struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// target is the request's path and sorted query, comparable with norm.
func (c call) target() string {
	if len(c.Query) == 0 {
		return c.Path
	}
	return c.Path + "?" + c.Query.Encode()
}

// norm sorts the query of a "path?query" so expectations can be written in any order.
func norm(s string) string {
	path, q, ok := strings.Cut(s, "?")
	if !ok || q == "" {
		return path
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	return path + "?" + v.Encode()
}

func normAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = norm(s)
	}
	return out
}

// authCheck returns what is wrong with a request's credentials, or "".
type authCheck func(r *http.Request) string

func wantHeaderKey(r *http.Request) string {
	if got := r.Header.Get("X-API-Key"); got != apiKey {
		return fmt.Sprintf("X-API-Key = %q", got)
	}
	return ""
}

func wantQueryKey(name string) authCheck {
	return func(r *http.Request) string {
		if got := r.URL.Query()[name]; len(got) != 1 || got[0] != apiKey {
			return fmt.Sprintf("query %s = %q", name, got)
		}
		if r.Header.Get("X-API-Key") != "" || r.Header.Get("Authorization") != "" {
			return "credentials in a header too"
		}
		return ""
	}
}

func wantBearer(r *http.Request) string {
	if got := r.Header.Get("Authorization"); got != "Bearer "+token {
		return fmt.Sprintf("Authorization = %q", got)
	}
	return ""
}

func wantBasic(r *http.Request) string {
	u, p, ok := r.BasicAuth()
	if !ok || u != username || p != password {
		return fmt.Sprintf("basic auth = %q, %q, %v", u, p, ok)
	}
	return ""
}

// handlerFunc answers the nth (1-based) request a fake API received.
type handlerFunc func(w http.ResponseWriter, r *http.Request, n int)

// fakeAPI is an httptest server that records every request, refuses requests with the
// wrong credentials (as a real API would, with 401) and hands the rest to a handler.
type fakeAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
}

func newAPI(t *testing.T, auth authCheck, h handlerFunc) *fakeAPI {
	t.Helper()
	a := &fakeAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		a.mu.Lock()
		a.calls = append(a.calls, call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
		n := len(a.calls)
		a.mu.Unlock()
		if got := r.Header.Get("Accept"); got != "application/json" && !strings.HasPrefix(got, "application/x-ndjson,") && !strings.HasPrefix(got, "text/csv,") {
			t.Errorf("request %d: Accept = %q, want application/json (or JSON Lines, CSV)", n, got)
		}
		if got := r.Header.Get("User-Agent"); !strings.HasPrefix(got, "intake/") {
			t.Errorf("request %d: User-Agent = %q", n, got)
		}
		if auth != nil {
			if msg := auth(r); msg != "" {
				t.Errorf("request %d (%s %s): bad credentials: %s", n, r.Method, r.URL.Path, msg)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)), n)
	}))
	t.Cleanup(a.Close)
	return a
}

type bodyKey struct{}

// bodyOf returns the request body the fake API read before calling its handler.
func bodyOf(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

func (a *fakeAPI) Calls() []call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]call(nil), a.calls...)
}

func (a *fakeAPI) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

func (a *fakeAPI) Targets() []string {
	var out []string
	for _, c := range a.Calls() {
		out = append(out, c.target())
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ids returns n record ids r01, r02, ...
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%02d", i+1)
	}
	return out
}

// rows renders ids as API records.
func rows(ids []string) []map[string]any {
	out := make([]map[string]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"id": id, "name": "Item " + id, "updated_at": "2024-03-05T06:07:08Z"}
	}
	return out
}

// specOpts builds a one-interaction-type connector spec named test, type items.
type specOpts struct {
	Auth        string // YAML flow mapping; default api_key in header X-API-Key
	Retries     string // default 1
	Method      string // default GET
	Path        string // default /items
	Params      string // YAML flow mapping
	Headers     string // YAML flow mapping, request headers
	Body        string // YAML flow value
	Records     string // jq; default .data[]
	Pagination  string // YAML flow mapping; default none
	Incremental string // YAML flow mapping
	Response    string // YAML flow mapping
	Timeout     string // e.g. 100ms
}

func (o specOpts) yaml() string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, `provider: test
config:
  url: {}
credentials:
  api_key: {required: false}
  token: {required: false}
  username: {required: false}
  password: {required: false}
base_url: '${ .config.url }/v1'
auth: %s
retries: %s
%sinteraction_types:
  items:
    kind: item
    request:
      method: %s
      path: %s
`, or(o.Auth, "{type: api_key, in: header, name: X-API-Key}"), or(o.Retries, "1"), timeoutLine(o.Timeout), or(o.Method, "GET"), or(o.Path, "/items"))
	if o.Params != "" {
		fmt.Fprintf(&b, "      params: %s\n", o.Params)
	}
	if o.Headers != "" {
		fmt.Fprintf(&b, "      headers: %s\n", o.Headers)
	}
	if o.Body != "" {
		fmt.Fprintf(&b, "      body: %s\n", o.Body)
	}
	fmt.Fprintf(&b, "    records: %q\n    id: .id\n", or(o.Records, ".data[]"))
	if o.Pagination != "" {
		fmt.Fprintf(&b, "    pagination: %s\n", o.Pagination)
	}
	if o.Incremental != "" {
		fmt.Fprintf(&b, "    incremental: %s\n", o.Incremental)
	}
	if o.Response != "" {
		fmt.Fprintf(&b, "    response: %s\n", o.Response)
	}
	return b.String()
}

func timeoutLine(d string) string {
	if d == "" {
		return ""
	}
	return "timeout: " + d + "\n"
}

func mustLoad(t *testing.T, src string) *spec.Connector {
	t.Helper()
	c, err := spec.Load("test.yaml", []byte(src))
	require.NoError(t, err, "spec:\n%s", src)
	return c
}

func load(t *testing.T, o specOpts) (*spec.Connector, *spec.InteractionType) {
	t.Helper()
	c := mustLoad(t, o.yaml())
	it, ok := c.InteractionTypes.Get("items")
	require.True(t, ok)
	return c, it
}

// tracer collects trace events from any goroutine.
type tracer struct {
	mu     sync.Mutex
	events []retrieve.TraceEvent
}

func (tr *tracer) add(ev retrieve.TraceEvent) {
	tr.mu.Lock()
	tr.events = append(tr.events, ev)
	tr.mu.Unlock()
}

func (tr *tracer) Events() []retrieve.TraceEvent {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]retrieve.TraceEvent(nil), tr.events...)
}

func (tr *tracer) kind(k string) []retrieve.TraceEvent {
	var out []retrieve.TraceEvent
	for _, ev := range tr.Events() {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

type clientOpts struct {
	creds    map[string]any
	trace    *tracer
	partSize int
	maxBody  int64
}

func newClient(t *testing.T, c *spec.Connector, baseURL string, o clientOpts) *retrieve.Client {
	t.Helper()
	creds := o.creds
	if creds == nil {
		creds = map[string]any{"api_key": apiKey}
	}
	opts := retrieve.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, PartSize: o.partSize, MaxBodyBytes: o.maxBody}
	if o.trace != nil {
		opts.Trace = o.trace.add
	}
	cl, err := retrieve.NewClient(context.Background(), retrieve.Source{Connector: c, Config: map[string]any{"url": baseURL}, Credentials: creds}, opts)
	require.NoError(t, err)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// collect pages through it and returns the record ids in order and every page.
func collect(t *testing.T, cl *retrieve.Client, it *spec.InteractionType, since *time.Time) ([]string, []retrieve.Page, error) {
	t.Helper()
	got := []string{}
	var pages []retrieve.Page
	err := cl.Pages(testCtx(t), it, retrieve.Since(it, since), func(p retrieve.Page) error {
		pages = append(pages, p)
		for _, r := range p.Records {
			m, ok := r.(map[string]any)
			if !ok {
				return fmt.Errorf("record %v is not an object", r)
			}
			id, _ := m["id"].(string)
			got = append(got, id)
		}
		return nil
	})
	return got, pages, err
}

// pageNumbers returns the Number of each page.
func pageNumbers(pages []retrieve.Page) []int {
	out := []int{}
	for _, p := range pages {
		out = append(out, p.Number)
	}
	return out
}

func seq(n int) []int {
	out := []int{}
	for i := 1; i <= n; i++ {
		out = append(out, i)
	}
	return out
}
