package chaos

import (
	"encoding/json"

	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/internal/bench"
)

// page is the answer of the handler under the injector: a JSON document long enough
// to cut in half.
const page = `{"data":[{"id":"c_1","name":"Ana"},{"id":"c_2","name":"Ben"}],"next_cursor":null}`

func pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, page)
	})
}

// Each kind of fault, served to every request (rate 1), reaches the client as the
// failure it stands for; the injector counts it.
func TestInjectorServesEachFault(t *testing.T) {
	tests := []struct {
		fault Fault
		check func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error)
	}{
		{Latency, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, page, string(body), "the real answer, late")
		}},
		{Reset, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.Error(t, err, "no answer at all")
		}},
		{ServerError, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.NoError(t, err)
			assert.Contains(t, []int{500, 502, 503}, resp.StatusCode)
		}},
		{TooMany, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.NoError(t, err)
			assert.Equal(t, 429, resp.StatusCode)
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		}},
		{Truncated, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, int64(len(page)), resp.ContentLength, "the header promises the whole body")
			assert.ErrorIs(t, bodyErr, io.ErrUnexpectedEOF)
			assert.Equal(t, page[:len(page)/2], string(body))
		}},
		{Malformed, func(t *testing.T, resp *http.Response, err error, body []byte, bodyErr error) {
			require.NoError(t, err)
			require.NoError(t, bodyErr, "a complete HTTP body")
			assert.Equal(t, 200, resp.StatusCode)
			assert.False(t, json.Valid(body), "not JSON: %s", body)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			var slept []time.Duration
			var mu sync.Mutex
			in := NewInjector(pageHandler(), InjectorOptions{Seed: 7, Rate: 1, Kinds: []Fault{tt.fault},
				Sleep: func(_ *http.Request, d time.Duration) { mu.Lock(); slept = append(slept, d); mu.Unlock() }})
			srv := httptest.NewServer(in)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get(srv.URL + "/v1/contacts")
			var body []byte
			var bodyErr error
			if err == nil {
				body, bodyErr = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			tt.check(t, resp, err, body, bodyErr)
			assert.Equal(t, int64(1), in.Counts()[tt.fault], "counted")
			assert.Equal(t, int64(1), in.Total())
			if tt.fault == Latency {
				require.Len(t, slept, 1)
				assert.GreaterOrEqual(t, slept[0], 100*time.Millisecond)
				assert.Less(t, slept[0], 800*time.Millisecond)
			}
		})
	}
}

// An expired token: the OAuth front revokes a token old enough and the injector
// answers 401 invalid_token; the token stays dead, a new one works. A token just
// issued is never expired (the request goes through, uncounted).
func TestInjectorExpiresTokens(t *testing.T) {
	var auth *OAuth
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	auth = NewOAuth(bench.NewMock(3), "X-API-Key", bench.APIKey, 2*time.Second)
	auth.now = func() time.Time { return now }
	in := NewInjector(auth, InjectorOptions{Seed: 1, Rate: 1, Kinds: []Fault{ExpiredToken}, Expire: auth.Expire})
	srv := httptest.NewServer(in)
	defer srv.Close()

	token := func() string {
		resp, err := http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {ClientSecret}})
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		var out struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.AccessToken
	}
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/contacts?limit=2", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	tok := token()
	assert.Equal(t, 200, get(tok), "a fresh token cannot have expired")
	assert.Zero(t, in.Total())
	now = now.Add(3 * time.Second)
	assert.Equal(t, 401, get(tok), "expired")
	assert.Equal(t, int64(1), in.Counts()[ExpiredToken])
	assert.Equal(t, 401, get(tok), "and stays expired (the OAuth front refuses it; not a second injected fault)")
	assert.Equal(t, int64(1), in.Total())
	assert.Equal(t, 200, get(token()), "a new token works")
	assert.Equal(t, 401, get("at-forged"))
}

// One seed, one sequence of decisions; another seed, another; rate 0 never faults.
func TestInjectorIsDeterministic(t *testing.T) {
	draw := func(seed uint64, rate float64) []decision {
		in := NewInjector(pageHandler(), InjectorOptions{Seed: seed, Rate: rate})
		out := make([]decision, 500)
		for i := range out {
			out[i] = in.decide(nil)
		}
		return out
	}
	a, b, c := draw(42, 0.2), draw(42, 0.2), draw(43, 0.2)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	kinds := map[Fault]int{}
	for _, d := range a {
		kinds[d.fault]++
	}
	assert.Len(t, kinds, int(numFaults)+1, "every kind, and no fault, comes out: %v", kinds)
	assert.InDelta(t, 400, kinds[-1], 40, "about 80%% of requests get no fault")
	for _, d := range draw(42, 0) {
		require.Equal(t, Fault(-1), d.fault)
	}
}

// The driver's own reads are never spoiled.
func TestInjectorNoFaultPaths(t *testing.T) {
	in := NewInjector(pageHandler(), InjectorOptions{Seed: 1, Rate: 1, Kinds: []Fault{ServerError}, NoFault: []string{"/_admin/"}})
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, httptest.NewRequest("GET", "/_admin/truth", nil))
	assert.Equal(t, 200, rec.Code)
	rec = httptest.NewRecorder()
	in.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/contacts", nil))
	assert.Equal(t, 503/100, rec.Code/100)
	assert.True(t, strings.HasPrefix(in.Summary(), "latency=0 reset=0 5xx=1"), in.Summary())
}
