package retrieve_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// rulesSpec is a bearer-auth connector whose items type pages by cursor (.next), with
// response rules at the connector level (connRules) and the type level (typeRules),
// each a YAML flow sequence ("" for none). extra is added at the top level.
type rulesSpec struct {
	connRules, typeRules, extra string
	retries                     int
}

func (r rulesSpec) load(t *testing.T) (*spec.Connector, *spec.InteractionType) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `provider: rules
config: {url: {}}
credentials: {token: {}}
base_url: '${ .config.url }/v1'
auth: {type: bearer}
retries: %d
`, r.retries)
	if r.extra != "" {
		b.WriteString(r.extra + "\n")
	}
	if r.connRules != "" {
		fmt.Fprintf(&b, "response_rules: %s\n", r.connRules)
	}
	b.WriteString(`interaction_types:
  items:
    kind: item
    request: {path: /items}
    records: .data[]
    id: .id
    pagination: {type: cursor, next: .next, param: cursor}
`)
	if r.typeRules != "" {
		fmt.Fprintf(&b, "    response_rules: %s\n", r.typeRules)
	}
	c := mustLoad(t, b.String())
	it, _ := c.InteractionTypes.Get("items")
	return c, it
}

func bearerClient(t *testing.T, c *spec.Connector, url string) *retrieve.Client {
	return newClient(t, c, url, clientOpts{creds: map[string]any{"token": token}})
}

// page answers one page of rows; next "" ends the feed.
func page(w http.ResponseWriter, ids []string, next string) {
	body := map[string]any{"data": rows(ids), "next": nil}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// A 200 that carries an error is retried when a rule says so.
func TestRuleRetry(t *testing.T) {
	rules := `[{body: '.error == "busy"', action: retry}]`
	t.Run("then success", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				writeJSON(w, http.StatusOK, map[string]any{"error": "busy"})
				return
			}
			page(w, ids(2), "")
		})
		c, it := rulesSpec{connRules: rules, retries: 2}.load(t)
		got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(2), got)
		assert.Equal(t, 2, api.Count())
	})
	t.Run("exhausted", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, map[string]any{"error": "busy"})
		})
		c, it := rulesSpec{connRules: rules, retries: 2}.load(t)
		got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.Error(t, err)
		assert.Empty(t, got, "an error answer is not a page")
		assert.Equal(t, 3, api.Count())
		assert.Contains(t, err.Error(), "busy")
		assert.Equal(t, spec.ClassTransient, retrieve.Classify(err), "what a rule retries is transient, also once retries run out")
	})
	t.Run("no rule: the error body is taken as a page", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusOK, map[string]any{"error": "busy"})
		})
		c, it := rulesSpec{retries: 2}.load(t)
		got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		assert.Equal(t, 1, api.Count())
		// .data[] over an object without data fails: the rule is what makes it a retry.
		require.Error(t, err)
		assert.Empty(t, got)
		assert.Equal(t, spec.ClassBadData, retrieve.Classify(err))
	})
}

// 403 with a RATE code means "slow down": pause (here by the reset header), then
// retry; exhausted, the failure is rate_limited.
func TestRuleRateLimited(t *testing.T) {
	const rl = `rate_limit: {requests: 1000, per: 1s, burst: 10, remaining_header: X-Remaining, reset_header: X-Reset, reset_format: seconds}`
	rules := `[{status: 403, body: '.code == "RATE"', action: rate_limited}]`
	t.Run("pause then success", func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			if n == 1 {
				w.Header().Set("X-Reset", "0.3")
				writeJSON(w, http.StatusForbidden, map[string]any{"code": "RATE"})
				return
			}
			page(w, ids(1), "")
		})
		c, it := rulesSpec{typeRules: rules, extra: rl, retries: 2}.load(t)
		got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(1), got)
		require.Equal(t, 2, api.Count())
		assert.GreaterOrEqual(t, at[1].Sub(at[0]), 250*time.Millisecond, "the retry waited for the reset")
	})
	t.Run("exhausted", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("X-Reset", "0.01")
			writeJSON(w, http.StatusForbidden, map[string]any{"code": "RATE"})
		})
		c, it := rulesSpec{typeRules: rules, extra: rl, retries: 2}.load(t)
		_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.Error(t, err)
		assert.Equal(t, 3, api.Count())
		assert.Equal(t, spec.ClassRateLimited, retrieve.Classify(err))
		var he *retrieve.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, http.StatusForbidden, he.Status)
	})
	t.Run("another 403 is permanent", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, http.StatusForbidden, map[string]any{"code": "SCOPE"})
		})
		c, it := rulesSpec{typeRules: rules, extra: rl, retries: 2}.load(t)
		_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.Error(t, err)
		assert.Equal(t, 1, api.Count())
		assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
	})
}

// A rule's body expression reads the answer's headers and status as $headers and
// $status: GitHub's 403 is a spent rate limit when x-ratelimit-remaining is 0, and a
// refusal otherwise, whatever its message says.
func TestRuleReadsHeadersAndStatus(t *testing.T) {
	const rl = `rate_limit: {requests: 1000, per: 1s, burst: 10, remaining_header: x-ratelimit-remaining, reset_header: x-ratelimit-reset, reset_format: unix}`
	rules := `[{status: [403, 429], body: '$headers["x-ratelimit-remaining"] == "0"', action: rate_limited},
	  {body: '$status >= 400 and $headers["x-maintenance"] == "1"', action: fail, class: transient, message: the provider is down for maintenance}]`
	forbidden := func(w http.ResponseWriter, remaining string) {
		w.Header().Set("X-RateLimit-Remaining", remaining)
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Add(time.Second).Unix()))
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "Resource not accessible by integration"})
	}
	t.Run("remaining 0: paused until the reset, then retried", func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			if n == 1 {
				forbidden(w, "0")
				return
			}
			page(w, ids(2), "")
		})
		c, it := rulesSpec{connRules: rules, extra: rl, retries: 2}.load(t)
		got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(2), got)
		require.Equal(t, 2, api.Count())
		assert.GreaterOrEqual(t, at[1].Unix(), at[0].Unix()+1, "the retry waited for x-ratelimit-reset")
	})
	t.Run("remaining left: a refusal", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) { forbidden(w, "4999") })
		c, it := rulesSpec{connRules: rules, extra: rl, retries: 2}.load(t)
		_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.Error(t, err)
		assert.Equal(t, 1, api.Count())
		assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
	})
	t.Run("$status", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("X-Maintenance", "1")
			writeJSON(w, http.StatusConflict, map[string]any{})
		})
		c, it := rulesSpec{connRules: rules, extra: rl, retries: 2}.load(t)
		_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.Error(t, err)
		assert.Equal(t, 1, api.Count())
		assert.Equal(t, spec.ClassTransient, retrieve.Classify(err))
		assert.Contains(t, err.Error(), "the provider is down for maintenance")
	})
	t.Run("streamed body: judged before any record", func(t *testing.T) {
		api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Reset", fmt.Sprint(time.Now().Unix()))
			}
			page(w, ids(3), "")
		})
		c, it := rulesSpec{connRules: `[{status: 200, body: '$headers["x-ratelimit-remaining"] == "0"', action: retry}]`, retries: 2}.load(t)
		got, pages, err := collect(t, bearerClient(t, c, api.URL), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(3), got, "the first answer's records were never handed over")
		assert.Len(t, pages, 1)
		assert.Equal(t, 2, api.Count())
	})
	t.Run("another variable is refused at load", func(t *testing.T) {
		_, err := spec.Load("r.yaml", []byte(`provider: r
base_url: https://r.example
response_rules: [{body: '$page > 3', action: fail}]
interaction_types:
  items: {kind: item, request: {path: /items}, records: '.[]', id: .id}
`))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "response_rules[0].body")
		assert.Contains(t, err.Error(), "available here: $headers, $status")
	})
}

// An ignored answer is an empty page that ends the paging, not a failure.
func TestRuleIgnore(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("cursor") == "" {
			page(w, ids(3), "p2")
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "gone"})
	}
	api := newAPI(t, wantBearer, handler)
	c, it := rulesSpec{connRules: `[{status: 404, action: ignore}]`, retries: 2}.load(t)
	got, pages, err := collect(t, bearerClient(t, c, api.URL), it, nil)
	require.NoError(t, err)
	assert.Equal(t, ids(3), got)
	assert.Equal(t, []int{1, 2}, pageNumbers(pages))
	assert.Empty(t, pages[1].Records)
	assert.Equal(t, 2, api.Count(), "paging stops at the ignored answer")

	api = newAPI(t, wantBearer, handler)
	c, it = rulesSpec{retries: 2}.load(t)
	_, _, err = collect(t, bearerClient(t, c, api.URL), it, nil)
	require.Error(t, err, "without the rule a 404 fails")
	assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
}

func TestRuleFail(t *testing.T) {
	api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
		// The provider echoes the request, credentials included.
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid filter", "echo": "Bearer " + token})
	})
	c, it := rulesSpec{connRules: `[{status: 400, action: fail, class: bad_data, message: "the provider refused the query"}]`, retries: 3}.load(t)
	_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
	require.Error(t, err)
	assert.Equal(t, 1, api.Count(), "fail is not retried")
	assert.Equal(t, spec.ClassBadData, retrieve.Classify(err))
	assert.Contains(t, err.Error(), "the provider refused the query: GET ")
	assert.Contains(t, err.Error(), "HTTP 400")
	assert.Contains(t, err.Error(), "invalid filter")
	assert.NotContains(t, err.Error(), token)
}

// A static bearer has nothing to refresh: a 401 is an auth failure at once.
func TestRule401WithStaticBearer(t *testing.T) {
	api := newAPI(t, nil, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
	})
	c, it := rulesSpec{retries: 3}.load(t)
	_, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
	require.Error(t, err)
	assert.Equal(t, 1, api.Count())
	assert.Equal(t, spec.ClassAuth, retrieve.Classify(err))
}

// The interaction type's rules are checked before the connector's; the first rule
// that matches wins.
func TestRuleOrder(t *testing.T) {
	answer := func(reason string) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			if n > 1 {
				page(w, ids(1), "")
				return
			}
			writeJSON(w, http.StatusConflict, map[string]any{"reason": reason})
		}
	}
	conn := `[{status: 409, action: fail, class: permanent, message: "connector rule"}, {status: 409, action: retry}]`
	typ := `[{status: 409, body: '.reason == "stale"', action: ignore}, {status: 409, body: '.reason == "busy"', action: retry}]`
	cases := []struct {
		reason  string
		calls   int
		wantErr string
		wantIDs []string
	}{
		{"stale", 1, "", []string{}},                    // type rule 1: ignore
		{"busy", 2, "", ids(1)},                         // type rule 2: retry
		{"other", 1, "connector rule: GET", []string{}}, // no type rule; connector rule 1, not 2
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			api := newAPI(t, wantBearer, answer(tc.reason))
			c, it := rulesSpec{connRules: conn, typeRules: typ, retries: 2}.load(t)
			got, _, err := collect(t, bearerClient(t, c, api.URL), it, nil)
			assert.Equal(t, tc.calls, api.Count())
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Equal(t, spec.ClassPermanent, retrieve.Classify(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantIDs, got)
		})
	}

	// Another interaction type's rules do not apply: the context carries them per call.
	api := newAPI(t, wantBearer, answer("stale"))
	c, _ := rulesSpec{connRules: conn, typeRules: typ, retries: 2}.load(t)
	_, err := bearerClient(t, c, api.URL).Do(testCtx(t), retrieve.Request{URL: "/items"})
	require.Error(t, err, "Do outside Pages sees only the connector's rules")
	assert.Contains(t, err.Error(), "connector rule")
}

// refresh_then_retry: a provider that says "expired" with a 403 gets one refresh.
func TestRuleRefreshThenRetry(t *testing.T) {
	for _, always := range []bool{false, true} {
		t.Run(fmt.Sprintf("always expired=%v", always), func(t *testing.T) {
			var tokens, calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/oauth/token":
					n := tokens.Add(1)
					writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("at-%d", n), "token_type": "bearer", "expires_in": 3600})
				case "/v1/items":
					calls.Add(1)
					if always || r.Header.Get("Authorization") == "Bearer at-1" {
						writeJSON(w, http.StatusForbidden, map[string]any{"error": "token_expired"})
						return
					}
					page(w, ids(2), "")
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			defer srv.Close()
			c := mustLoad(t, `provider: rt
config: {url: {}}
credentials: {client_id: {}, client_secret: {}}
base_url: '${ .config.url }/v1'
auth: {type: oauth2, grant: client_credentials, token_url: '${ .config.url }/oauth/token'}
retries: 2
response_rules: [{status: 403, body: '.error == "token_expired"', action: refresh_then_retry}]
interaction_types:
  items: {kind: item, request: {path: /items}, records: '.data[]', id: .id}
`)
			it, _ := c.InteractionTypes.Get("items")
			cl := newClient(t, c, srv.URL, clientOpts{creds: map[string]any{"client_id": "id", "client_secret": "cs_Ab12Cd34Ef56"}})
			got, _, err := collect(t, cl, it, nil)
			assert.Equal(t, int32(2), tokens.Load(), "one token, one refresh")
			assert.Equal(t, int32(2), calls.Load())
			if always {
				require.Error(t, err)
				assert.Equal(t, spec.ClassAuth, retrieve.Classify(err))
				assert.NotContains(t, err.Error(), "at-2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
		})
	}
}

func TestClassify(t *testing.T) {
	httpErr := func(status int) error {
		return fmt.Errorf("items: page 2: %w", &retrieve.HTTPError{Method: "GET", URL: "https://x/v1", Status: status})
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"cancelled", fmt.Errorf("items: %w", context.Canceled), ""},
		{"deadline", context.DeadlineExceeded, spec.ClassTransient},
		{"class error", fmt.Errorf("x: %w", &retrieve.ClassError{Class: spec.ClassBadData, Err: errors.New("bad")}), spec.ClassBadData},
		{"class error wins over its status", &retrieve.ClassError{Class: spec.ClassPermanent, Err: &retrieve.HTTPError{Status: 503}}, spec.ClassPermanent},
		{"auth refused", fmt.Errorf("x: %w", &auth.Error{Permanent: true, Err: errors.New("invalid_grant")}), spec.ClassAuth},
		{"token endpoint down", &auth.Error{Err: errors.New("HTTP 503")}, spec.ClassTransient},
		{"401", httpErr(401), spec.ClassAuth},
		{"400", httpErr(400), spec.ClassPermanent},
		{"403", httpErr(403), spec.ClassPermanent},
		{"404", httpErr(404), spec.ClassPermanent},
		{"422", httpErr(422), spec.ClassPermanent},
		{"408", httpErr(408), spec.ClassTransient},
		{"429", httpErr(429), spec.ClassRateLimited},
		{"500", httpErr(500), spec.ClassTransient},
		{"503", httpErr(503), spec.ClassTransient},
		{"invalid JSON", &retrieve.BodyError{URL: "u", Err: fmt.Errorf("invalid JSON: %w", &json.SyntaxError{Offset: 3})}, spec.ClassBadData},
		{"cut short", &retrieve.BodyError{URL: "u", Err: io.ErrUnexpectedEOF}, spec.ClassTransient},
		{"repeated page token", fmt.Errorf("items: %w", retrieve.ErrRepeatedToken), spec.ClassPermanent},
		{"connection refused", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), spec.ClassTransient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, retrieve.Classify(tc.err))
		})
	}
}

// Errors as the client really returns them.
func TestClassifyClientErrors(t *testing.T) {
	cases := []struct {
		name       string
		pagination string
		records    string
		answer     func(w http.ResponseWriter, r *http.Request, other string)
		want       string
	}{
		{"invalid JSON", "", "", func(w http.ResponseWriter, r *http.Request, _ string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"data": [}`)
		}, spec.ClassBadData},
		{"trailing data", "", "", func(w http.ResponseWriter, r *http.Request, _ string) {
			fmt.Fprint(w, `{"data": []} {"data": []}`)
		}, spec.ClassBadData},
		{"records expression fails", "", ".data[]", func(w http.ResponseWriter, r *http.Request, _ string) {
			fmt.Fprint(w, `{"data": 5}`)
		}, spec.ClassBadData},
		{"503 after retries", "", "", func(w http.ResponseWriter, r *http.Request, _ string) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, spec.ClassTransient},
		{"429 after retries", "", "", func(w http.ResponseWriter, r *http.Request, _ string) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		}, spec.ClassRateLimited},
		{"next page on another host", "{type: next_url, next: .next}", "", func(w http.ResponseWriter, r *http.Request, other string) {
			writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1)), "next": other + "/v1/items?page=2"})
		}, spec.ClassPermanent},
		{"repeated cursor", "{type: cursor, next: .next}", "", func(w http.ResponseWriter, r *http.Request, _ string) {
			writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1)), "next": "same"})
		}, spec.ClassPermanent},
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached the other host: %s", r.URL)
	}))
	defer other.Close()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { tc.answer(w, r, other.URL) })
			c, it := load(t, specOpts{Retries: "1", Pagination: tc.pagination, Records: tc.records})
			_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.Equal(t, tc.want, retrieve.Classify(err), "%v", err)
		})
	}
}
