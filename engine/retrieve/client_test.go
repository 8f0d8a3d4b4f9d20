package retrieve_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
)

func TestClientAuth(t *testing.T) {
	oddKey := "k/y+Q==9f8e&7d"
	cases := []struct {
		name  string
		auth  string
		creds map[string]any
		check authCheck
	}{
		{"api_key in a header", "{type: api_key, in: header, name: X-API-Key}", nil, wantHeaderKey},
		{"api_key in a header by default", "{type: api_key, name: X-API-Key}", nil, wantHeaderKey},
		{"api_key in the query", "{type: api_key, in: query, name: api_key}", nil, wantQueryKey("api_key")},
		{
			"api_key in the query, value needing escapes", "{type: api_key, in: query, name: code}",
			map[string]any{"api_key": oddKey},
			func(r *http.Request) string {
				if got := r.URL.Query().Get("code"); got != oddKey {
					return fmt.Sprintf("code = %q", got)
				}
				return ""
			},
		},
		{
			"api_key with a value template", `{type: api_key, name: Authorization, value: 'Token token="${ .credentials.api_key }"'}`, nil,
			func(r *http.Request) string {
				if got := r.Header.Get("Authorization"); got != `Token token="`+apiKey+`"` {
					return fmt.Sprintf("Authorization = %q", got)
				}
				return ""
			},
		},
		{"bearer", "{type: bearer}", map[string]any{"token": token}, wantBearer},
		{"basic", "{type: basic}", map[string]any{"username": username, "password": password}, wantBasic},
		{
			// Stripe's documented form: the key as the user name, nothing after the colon.
			"basic with an empty password", "{type: basic, username: '${ .credentials.api_key }', password: ''}", nil,
			func(r *http.Request) string {
				if got := r.Header.Get("Authorization"); got != "Basic "+base64.StdEncoding.EncodeToString([]byte(apiKey+":")) {
					return fmt.Sprintf("Authorization = %q", got)
				}
				return ""
			},
		},
		{
			"none", "{type: none}", map[string]any{},
			func(r *http.Request) string {
				if r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" || r.URL.RawQuery != "" {
					return "unexpected credentials"
				}
				return ""
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(2))})
			})
			c, it := load(t, specOpts{Auth: tc.auth})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: tc.creds}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
			assert.Equal(t, 1, api.Count())
		})
	}
}

func TestClientAuthMissingCredential(t *testing.T) {
	c, _ := load(t, specOpts{Auth: "{type: bearer}"})
	_, err := retrieve.NewClient(testCtx(t), retrieve.Source{Connector: c, Config: map[string]any{"url": "http://127.0.0.1:1"}}, retrieve.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "auth.token is empty")

	// A basic password may be empty; a basic user name may not.
	c, _ = load(t, specOpts{Auth: "{type: basic}"})
	_, err = retrieve.NewClient(testCtx(t), retrieve.Source{Connector: c, Config: map[string]any{"url": "http://127.0.0.1:1"}, Credentials: map[string]any{"password": password}}, retrieve.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "auth.username is empty")
	_, err = retrieve.NewClient(testCtx(t), retrieve.Source{Connector: c, Config: map[string]any{"url": "http://127.0.0.1:1"}, Credentials: map[string]any{"username": username}}, retrieve.Options{})
	require.NoError(t, err)
}

func TestClientQueryKeyOnNextPages(t *testing.T) {
	// A next URL or Link from the API does not carry the key (or does, once): the client
	// adds it, exactly once, to every page.
	cases := []struct {
		name       string
		pagination string
		link       func(base string, n int) (body any, header string)
	}{
		{
			"next_url without the key", "{type: next_url, next: .next}",
			func(base string, n int) (any, string) { return fmt.Sprintf("%s/v1/items?page=%d", base, n+1), "" },
		},
		{
			"next_url echoing the key", "{type: next_url, next: .next}",
			func(base string, n int) (any, string) {
				return fmt.Sprintf("/v1/items?page=%d&api_key=%s", n+1, url.QueryEscape(apiKey)), ""
			},
		},
		{
			"link without the key", "{type: link}",
			func(base string, n int) (any, string) {
				return nil, fmt.Sprintf(`</v1/items?page=%d>; rel="next"`, n+1)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var api *fakeAPI
			api = newAPI(t, wantQueryKey("api_key"), func(w http.ResponseWriter, r *http.Request, n int) {
				body := map[string]any{"data": rows(ids(n)[n-1:])}
				if n < 3 {
					next, link := tc.link(api.URL, n)
					body["next"] = next
					if link != "" {
						w.Header().Set("Link", link)
					}
				}
				writeJSON(w, http.StatusOK, body)
			})
			c, it := load(t, specOpts{Auth: "{type: api_key, in: query, name: api_key}", Pagination: tc.pagination})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(3), got)
			k := "api_key=" + url.QueryEscape(apiKey)
			assert.Equal(t, normAll([]string{"/v1/items?" + k, "/v1/items?page=2&" + k, "/v1/items?page=3&" + k}), api.Targets())
		})
	}
}

// statusSeq answers the nth request with statuses[n-1] (with its Retry-After, if
// any); after the list, with 200 and one record.
type step struct {
	status     int
	retryAfter string
}

func stepsHandler(t *testing.T, steps []step) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n > len(steps) {
			writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1))})
			return
		}
		s := steps[n-1]
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		writeJSON(w, s.status, map[string]any{"error": map[string]any{"code": s.status, "message": fmt.Sprintf("attempt %d failed", n)}})
	}
}

func TestClientRetries(t *testing.T) {
	cases := []struct {
		name       string
		retries    string
		steps      []step
		wantCalls  int
		wantStatus int // 0: success
	}{
		{"503 twice then 200", "2", []step{{503, ""}, {503, ""}}, 3, 0},
		{"503 twice then 200, more retries allowed", "4", []step{{503, ""}, {503, ""}}, 3, 0},
		{"502 and 504 then 200", "3", []step{{502, ""}, {504, ""}}, 3, 0},
		{"500 then 200", "1", []step{{500, ""}}, 2, 0},
		{"408 then 200", "1", []step{{408, ""}}, 2, 0},
		{"429 with Retry-After: 0 then 200", "1", []step{{429, "0"}}, 2, 0},
		{"429 with an HTTP date in the past then 200", "1", []step{{429, "Wed, 21 Oct 2015 07:28:00 GMT"}}, 2, 0},
		{"429 with an unreadable Retry-After then 200", "1", []step{{429, "soon"}}, 2, 0},
		{"retries exhausted on 500", "2", []step{{500, ""}, {500, ""}, {500, ""}}, 3, 500},
		{"retries exhausted on 429", "1", []step{{429, "0"}, {429, "0"}}, 2, 429},
		{"no retries", "0", []step{{503, ""}}, 1, 503},
		{"404 is not retried", "3", []step{{404, ""}}, 1, 404},
		{"400 is not retried", "3", []step{{400, ""}}, 1, 400},
		{"401 is not retried", "3", []step{{401, ""}}, 1, 401},
		{"403 is not retried", "3", []step{{403, ""}}, 1, 403},
		{"422 is not retried", "3", []step{{422, ""}}, 1, 422},
		{"501 is not retried", "3", []step{{501, ""}}, 1, 501},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, wantHeaderKey, stepsHandler(t, tc.steps))
			c, it := load(t, specOpts{Retries: tc.retries})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			assert.Equal(t, tc.wantCalls, api.Count(), "requests")
			if tc.wantStatus == 0 {
				require.NoError(t, err)
				assert.Equal(t, ids(1), got)
				return
			}
			require.Error(t, err)
			var he *retrieve.HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.wantStatus, he.Status)
			assert.Equal(t, http.MethodGet, he.Method)
			assert.Equal(t, api.URL+"/v1/items", he.URL)
			assert.Contains(t, he.Body, fmt.Sprintf("attempt %d failed", tc.wantCalls), "the body of the last answer")
			assert.Contains(t, err.Error(), fmt.Sprintf("HTTP %d %s", tc.wantStatus, http.StatusText(tc.wantStatus)))
			assert.Empty(t, got)
		})
	}
}

func TestClientRetryAfter(t *testing.T) {
	// Retry-After is obeyed even though the backoff is capped at 5ms.
	cases := []struct {
		name       string
		status     int
		retryAfter func() string
		minWait    time.Duration
	}{
		{"429 seconds", 429, func() string { return "1" }, 900 * time.Millisecond},
		{"503 seconds", 503, func() string { return "1" }, 900 * time.Millisecond},
		// An HTTP date has one-second resolution: the wait is anywhere up to 1s.
		{"429 HTTP date", 429, func() string { return time.Now().Add(time.Second).UTC().Format(http.TimeFormat) }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newAPI(t, wantHeaderKey, stepsHandler(t, []step{{tc.status, tc.retryAfter()}}))
			c, it := load(t, specOpts{Retries: "2"})
			start := time.Now()
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			elapsed := time.Since(start)
			require.NoError(t, err)
			assert.Equal(t, ids(1), got)
			assert.Equal(t, 2, api.Count())
			assert.GreaterOrEqual(t, elapsed, tc.minWait)
		})
	}
}

func TestClientPostBodyReplayedOnRetry(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type = %q", n, ct)
		}
		if n == 1 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "busy"})
			return
		}
		var in map[string]any
		if err := json.Unmarshal(bodyOf(r), &in); err != nil {
			t.Errorf("request %d: body %q: %v", n, bodyOf(r), err)
		}
		writeJSON(w, http.StatusOK, map[string]any{"echo": in})
	})
	c, _ := load(t, specOpts{Retries: "1"})
	cl := newClient(t, c, api.URL, clientOpts{})
	resp, err := cl.Do(testCtx(t), retrieve.Request{Method: http.MethodPost, URL: "/search", Body: map[string]any{"q": "open", "n": 2}})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.Status)
	calls := api.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, http.MethodPost, calls[1].Method)
	assert.Equal(t, "/v1/search", calls[1].Path)
	assert.JSONEq(t, `{"q":"open","n":2}`, string(calls[0].Body))
	assert.Equal(t, calls[0].Body, calls[1].Body, "the retry resends the same body")
	assert.Equal(t, map[string]any{"echo": map[string]any{"q": "open", "n": json.Number("2")}}, resp.Body)
}

func TestClientDoQuery(t *testing.T) {
	api := newAPI(t, wantQueryKey("api_key"), func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	c, _ := load(t, specOpts{Auth: "{type: api_key, in: query, name: api_key}"})
	cl := newClient(t, c, api.URL, clientOpts{})
	resp, err := cl.Do(testCtx(t), retrieve.Request{URL: "/items?sort=asc&page=1", Query: url.Values{"page": {"2"}, "q": {"a b"}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"ok": true}, resp.Body)
	assert.Equal(t, []string{norm("/v1/items?sort=asc&page=2&q=a+b&api_key=" + url.QueryEscape(apiKey))}, api.Targets())
}

// hijack takes over the connection, writes raw and closes it.
func hijack(t *testing.T, w http.ResponseWriter, raw string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Errorf("%T is not a Hijacker", w)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_, _ = buf.WriteString(raw)
	_ = buf.Flush()
	_ = conn.Close()
}

func TestClientBrokenBodies(t *testing.T) {
	good := `{"data":[{"id":"r01"},{"id":"r02"}]}`
	cases := []struct {
		name    string
		breakIt func(t *testing.T, w http.ResponseWriter)
	}{
		{"Content-Length longer than the body", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(good)))
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, good[:len(good)/2])
		}},
		{"connection closed in the middle of the body", func(t *testing.T, w http.ResponseWriter) {
			hijack(t, w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"+good[:20])
		}},
		{"chunked body cut short", func(t *testing.T, w http.ResponseWriter) {
			hijack(t, w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n"+good[:20]+"\r\n")
		}},
		{"connection closed before any answer", func(t *testing.T, w http.ResponseWriter) {
			hijack(t, w, "")
		}},
		{"half a JSON document, complete as HTTP", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, good[:len(good)/2])
		}},
		{"an HTML page with status 200", func(t *testing.T, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>Service temporarily unavailable</body></html>")
		}},
		{"trailing data after the JSON document", func(t *testing.T, w http.ResponseWriter) {
			_, _ = io.WriteString(w, good+`{"data":[]}`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					tc.breakIt(t, w)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, good)
			})
			c, it := load(t, specOpts{Retries: "2"})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
			assert.Equal(t, 2, api.Count())
		})
	}
}

func TestClientBodyErrorAfterRetries(t *testing.T) {
	cases := []struct {
		name    string
		retries string
		calls   int
		write   func(t *testing.T, w http.ResponseWriter)
		check   func(t *testing.T, be *retrieve.BodyError)
	}{
		{
			"malformed JSON every time", "2", 3,
			func(t *testing.T, w http.ResponseWriter) { _, _ = io.WriteString(w, `{"data": [1, 2,`) },
			func(t *testing.T, be *retrieve.BodyError) { assert.Contains(t, be.Err.Error(), "invalid JSON") },
		},
		{
			"malformed JSON, no retries", "0", 1,
			func(t *testing.T, w http.ResponseWriter) { _, _ = io.WriteString(w, `not json`) },
			func(t *testing.T, be *retrieve.BodyError) { assert.Contains(t, be.Err.Error(), "invalid JSON") },
		},
		{
			"truncated every time", "1", 2,
			func(t *testing.T, w http.ResponseWriter) {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, `{"data": [`)
			},
			func(t *testing.T, be *retrieve.BodyError) { assert.ErrorIs(t, be, io.ErrUnexpectedEOF) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { tc.write(t, w) })
			c, it := load(t, specOpts{Retries: tc.retries})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			var be *retrieve.BodyError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, api.URL+"/v1/items", be.URL)
			tc.check(t, be)
			assert.Equal(t, tc.calls, api.Count())
			assert.Empty(t, got)
		})
	}
}

func TestClientTimeoutRetried(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			<-r.Context().Done() // hang until the client gives up
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1))})
	})
	src := specOpts{Retries: "1"}.yaml()
	src = strings.Replace(src, "retries: 1\n", "retries: 1\ntimeout: 50ms\n", 1)
	c := mustLoad(t, src)
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), c.InteractionTypes.Map["items"], nil)
	require.NoError(t, err)
	assert.Equal(t, ids(1), got)
	assert.Equal(t, 2, api.Count())
}

// secretForms lists every way a credential could leak: raw, URL-escaped, base64.
func secretForms(creds map[string]any) []string {
	var out []string
	for _, v := range creds {
		s := v.(string)
		out = append(out, s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s)))
		// The Authorization header of a key sent as a basic user name (empty password).
		out = append(out, base64.StdEncoding.EncodeToString([]byte(s+":")))
	}
	if u, ok := creds["username"].(string); ok {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(u+":"+creds["password"].(string))))
	}
	return out
}

func TestClientSecretsNeverLeak(t *testing.T) {
	oddKey := "k/y+Q==9f8e&7d#x"
	cases := []struct {
		name     string
		auth     string
		creds    map[string]any
		check    authCheck
		urlShows string // what the redacted URL must contain
	}{
		{"api_key in a header", "{type: api_key, name: X-API-Key}", map[string]any{"api_key": apiKey}, wantHeaderKey, ""},
		{"api_key in the query", "{type: api_key, in: query, name: api_key}", map[string]any{"api_key": apiKey}, wantQueryKey("api_key"), "api_key=[REDACTED]"},
		{
			"api_key in a query parameter with an innocent name", "{type: api_key, in: query, name: code}",
			map[string]any{"api_key": oddKey},
			func(r *http.Request) string {
				if r.URL.Query().Get("code") != oddKey {
					return "code = " + r.URL.Query().Get("code")
				}
				return ""
			},
			"code=",
		},
		{"bearer", "{type: bearer}", map[string]any{"token": token}, wantBearer, ""},
		{"basic", "{type: basic}", map[string]any{"username": username, "password": password}, wantBasic, ""},
		{
			"basic with an empty password", "{type: basic, username: '${ .credentials.api_key }', password: ''}", map[string]any{"api_key": apiKey},
			func(r *http.Request) string {
				if u, p, ok := r.BasicAuth(); !ok || u != apiKey || p != "" {
					return fmt.Sprintf("basic auth = %q, %q, %v", u, p, ok)
				}
				return ""
			}, "",
		},
	}
	// echo answers like a careless API: it repeats what it received, credentials and all.
	echo := func(r *http.Request) map[string]any {
		return map[string]any{
			"url":           r.URL.String(),
			"query":         r.URL.RawQuery,
			"authorization": r.Header.Get("Authorization"),
			"x_api_key":     r.Header.Get("X-API-Key"),
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forms := secretForms(tc.creds)
			noLeak := func(where, s string) {
				t.Helper()
				for _, f := range forms {
					assert.NotContains(t, s, f, "%s leaks a credential", where)
				}
			}

			t.Run("error answer echoing the credentials", func(t *testing.T) {
				api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {
					m := echo(r)
					m["error"] = "invalid credentials"
					writeJSON(w, http.StatusForbidden, m)
				})
				c, it := load(t, specOpts{Auth: tc.auth, Retries: "0"})
				tr := &tracer{}
				_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: tc.creds, trace: tr}), it, nil)
				require.Error(t, err)
				var he *retrieve.HTTPError
				require.ErrorAs(t, err, &he)
				assert.Equal(t, http.StatusForbidden, he.Status)
				assert.Contains(t, he.Body, "[REDACTED]", "the echoed credentials are masked, not dropped")
				assert.Contains(t, he.Body, "invalid credentials")
				noLeak("error", err.Error())
				noLeak("HTTPError.URL", he.URL)
				noLeak("HTTPError.Body", he.Body)
				assert.Contains(t, he.URL, tc.urlShows)
				reqs := tr.kind("request")
				require.Len(t, reqs, 1)
				noLeak("trace URL", reqs[0].URL)
				assert.Contains(t, reqs[0].URL, tc.urlShows)
				assert.Equal(t, http.StatusForbidden, reqs[0].Status)
			})

			t.Run("retries exhausted", func(t *testing.T) {
				api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {
					writeJSON(w, http.StatusBadGateway, echo(r))
				})
				c, it := load(t, specOpts{Auth: tc.auth, Retries: "1"})
				tr := &tracer{}
				_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: tc.creds, trace: tr}), it, nil)
				var he *retrieve.HTTPError
				require.ErrorAs(t, err, &he)
				assert.Equal(t, http.StatusBadGateway, he.Status)
				noLeak("error", err.Error())
				require.Len(t, tr.kind("request"), 2)
				for _, ev := range tr.Events() {
					noLeak("trace URL", ev.URL)
					noLeak("trace error", ev.Err)
				}
			})

			t.Run("successful pages", func(t *testing.T) {
				api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {
					body := map[string]any{"data": rows(ids(n)[n-1:])}
					if n == 1 {
						body["next"] = "/v1/items?page=2"
					}
					writeJSON(w, http.StatusOK, body)
				})
				c, it := load(t, specOpts{Auth: tc.auth, Pagination: "{type: next_url, next: .next}"})
				tr := &tracer{}
				got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: tc.creds, trace: tr}), it, nil)
				require.NoError(t, err)
				assert.Equal(t, ids(2), got)
				require.Len(t, pages, 2)
				for _, p := range pages {
					noLeak("Page.URL", p.URL)
					assert.Contains(t, p.URL, tc.urlShows)
				}
				require.Len(t, tr.Events(), 4)
				for _, ev := range tr.Events() {
					noLeak("trace URL", ev.URL)
					assert.Contains(t, ev.URL, tc.urlShows)
				}
			})

			t.Run("repeated next URL carrying the credentials", func(t *testing.T) {
				api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {
					writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1)), "next": r.URL.String()})
				})
				c, it := load(t, specOpts{Auth: tc.auth, Pagination: "{type: next_url, next: .next}"})
				_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: tc.creds}), it, nil)
				require.ErrorIs(t, err, retrieve.ErrRepeatedToken)
				noLeak("error", err.Error())
			})

			t.Run("connection refused", func(t *testing.T) {
				api := newAPI(t, tc.check, func(w http.ResponseWriter, r *http.Request, n int) {})
				base := api.URL
				api.Close()
				c, it := load(t, specOpts{Auth: tc.auth, Retries: "1"})
				tr := &tracer{}
				_, _, err := collect(t, newClient(t, c, base, clientOpts{creds: tc.creds, trace: tr}), it, nil)
				require.Error(t, err)
				noLeak("error", err.Error())
				assert.Contains(t, err.Error(), tc.urlShows)
				require.Len(t, tr.kind("request"), 2)
				for _, ev := range tr.Events() {
					noLeak("trace URL", ev.URL)
					noLeak("trace error", ev.Err)
					assert.NotEmpty(t, ev.Err)
				}
			})
		})
	}
}

func TestClientRefusesOtherHosts(t *testing.T) {
	cases := []struct {
		name       string
		pagination string
		answer     func(w http.ResponseWriter, r *http.Request, other string)
		wantErr    string
		wantIDs    []string
	}{
		{
			name: "next_url on another host", pagination: "{type: next_url, next: .next}",
			answer: func(w http.ResponseWriter, r *http.Request, other string) {
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1)), "next": other + "/v1/items?page=2"})
			},
			wantErr: "refusing to send credentials", wantIDs: ids(1),
		},
		{
			name: "scheme-relative next_url on another host", pagination: "{type: next_url, next: .next}",
			answer: func(w http.ResponseWriter, r *http.Request, other string) {
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1)), "next": strings.TrimPrefix(other, "http:") + "/v1/items?page=2"})
			},
			wantErr: "refusing to send credentials", wantIDs: ids(1),
		},
		{
			name: "Link on another host", pagination: "{type: link}",
			answer: func(w http.ResponseWriter, r *http.Request, other string) {
				w.Header().Set("Link", "<"+other+`/v1/items?page=2>; rel="next"`)
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1))})
			},
			wantErr: "refusing to send credentials", wantIDs: ids(1),
		},
		{
			name: "redirect to another host",
			answer: func(w http.ResponseWriter, r *http.Request, other string) {
				http.Redirect(w, r, other+"/v1/items", http.StatusFound)
			},
			wantErr: "refusing redirect to another host", wantIDs: []string{},
		},
		{
			name: "permanent redirect to another host",
			answer: func(w http.ResponseWriter, r *http.Request, other string) {
				http.Redirect(w, r, other+"/v2/items", http.StatusPermanentRedirect)
			},
			wantErr: "refusing redirect to another host", wantIDs: []string{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := newAPI(t, nil, func(w http.ResponseWriter, r *http.Request, n int) {
				t.Errorf("request sent to the other host: %s %s (X-API-Key %q)", r.Method, r.URL, r.Header.Get("X-API-Key"))
				writeJSON(w, http.StatusOK, map[string]any{"data": rows([]string{"stolen"})})
			})
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { tc.answer(w, r, other.URL) })
			pagination := tc.pagination
			if pagination == "" {
				pagination = "{type: none}"
			}
			c, it := load(t, specOpts{Retries: "2", Pagination: pagination})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), apiKey)
			assert.Equal(t, tc.wantIDs, got)
			assert.Equal(t, 0, other.Count(), "requests to the other host")
			assert.Equal(t, 1, api.Count(), "a refusal is final: no retry")
		})
	}

	t.Run("request path on another host", func(t *testing.T) {
		other := newAPI(t, nil, func(w http.ResponseWriter, r *http.Request, n int) {
			t.Errorf("request sent to the other host: %s", r.URL)
		})
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {})
		c, _ := load(t, specOpts{})
		_, err := newClient(t, c, api.URL, clientOpts{}).Do(testCtx(t), retrieve.Request{URL: other.URL + "/v1/items"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refusing to send credentials")
		assert.Equal(t, 0, other.Count())
		assert.Equal(t, 0, api.Count())
	})
}

func TestClientFollowsSameHostRedirect(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/v1/items" {
			http.Redirect(w, r, "/v2/items?moved=1", http.StatusMovedPermanently)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(2))})
	})
	c, it := load(t, specOpts{})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, ids(2), got)
	assert.Equal(t, []string{"/v1/items", "/v2/items?moved=1"}, api.Targets())
}

func TestClientRedirectLoop(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		http.Redirect(w, r, fmt.Sprintf("/v1/items?hop=%d", n), http.StatusFound)
	})
	c, it := load(t, specOpts{Retries: "2"})
	_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stopped after 5 redirects")
	assert.Equal(t, 5, api.Count(), "5 requests (as net/http counts redirects), not retried")
}

func TestClientContextCanceled(t *testing.T) {
	// A provider that keeps failing must not hold a canceled sync.
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{})
	})
	c, it := load(t, specOpts{Retries: "20"})
	cl := newClient(t, c, api.URL, clientOpts{})
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() { errc <- cl.Pages(ctx, it, retrieve.Query{}, func(retrieve.Page) error { return nil }) }()
	for api.Count() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-errc
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, api.Count(), 21)
}
