package retrieve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

// limitAPI is a fake API whose handler decides each answer; it counts requests and
// the most it had in flight at once.
type limitAPI struct {
	*httptest.Server
	calls, inflight, maxInflight atomic.Int32
}

func newLimitAPI(t *testing.T, h func(w http.ResponseWriter, n int)) *limitAPI {
	t.Helper()
	a := &limitAPI{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.calls.Add(1)
		cur := a.inflight.Add(1)
		for {
			m := a.maxInflight.Load()
			if cur <= m || a.maxInflight.CompareAndSwap(m, cur) {
				break
			}
		}
		h(w, int(n))
		a.inflight.Add(-1)
	}))
	t.Cleanup(a.Close)
	return a
}

func ok200(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"data":[]}`)
}

// limitClient builds a client for a spec with the given rate_limit flow mapping
// ("" for none).
func limitClient(t *testing.T, url, rateLimit string, retries int) *Client {
	t.Helper()
	rl := ""
	if rateLimit != "" {
		rl = "rate_limit: " + rateLimit + "\n"
	}
	src := fmt.Sprintf(`provider: lim
config: {url: {}}
base_url: '${ .config.url }'
retries: %d
%sinteraction_types:
  items: {kind: item, request: {path: /items}, records: '.data[]', id: .id}
`, retries, rl)
	conn, err := spec.Load("lim.yaml", []byte(src))
	require.NoError(t, err, src)
	c, err := NewClient(context.Background(), Source{Connector: conn, Config: map[string]any{"url": url}},
		Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	require.NoError(t, err)
	return c
}

// hammer sends requests from n goroutines until ctx ends and returns how many succeeded.
func hammer(ctx context.Context, c *Client, n int) int {
	var okCount atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := c.Do(ctx, Request{URL: "/items"}); err == nil {
					okCount.Add(1)
				} else {
					time.Sleep(time.Millisecond) // refused for now: do not spin
				}
			}
		}()
	}
	wg.Wait()
	return int(okCount.Load())
}

// The token bucket admits at most burst + rate × elapsed requests, whatever the
// number of callers: counts, not times, so a slow machine cannot make it fail.
func TestLimiterTokenBucket(t *testing.T) {
	cases := []struct {
		rateLimit string
		exact     int // 0: check max
		max       int
	}{
		// 1 per second, burst 1: in 300ms exactly one request goes.
		{"{requests: 1, per: 1s}", 1, 0},
		// burst 5: five go at once, the sixth would wait a second.
		{"{requests: 1, per: 1s, burst: 5}", 5, 0},
		{"{requests: 60, per: 1m, burst: 3}", 3, 0},
		// 10 per 100ms for 300ms: at most 1 + 30.
		{"{requests: 10, per: 100ms}", 0, 31},
	}
	for _, tc := range cases {
		t.Run(tc.rateLimit, func(t *testing.T) {
			t.Parallel()
			api := newLimitAPI(t, func(w http.ResponseWriter, _ int) { ok200(w) })
			c := limitClient(t, api.URL, tc.rateLimit, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			n := hammer(ctx, c, 8)
			calls := int(api.calls.Load())
			// A request in flight when the time is up reached the server but failed.
			assert.LessOrEqual(t, n, calls)
			if tc.exact > 0 {
				assert.Equal(t, tc.exact, calls)
			} else {
				assert.LessOrEqual(t, calls, tc.max)
				assert.GreaterOrEqual(t, calls, 3, "the limiter lets requests through")
			}
		})
	}
}

// Retries are paced like first attempts.
func TestLimiterPacesRetries(t *testing.T) {
	api := newLimitAPI(t, func(w http.ResponseWriter, _ int) { w.WriteHeader(http.StatusServiceUnavailable) })
	c := limitClient(t, api.URL, "{requests: 1, per: 1s, burst: 2}", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, Request{URL: "/items"})
	require.Error(t, err)
	assert.Equal(t, int32(2), api.calls.Load(), "two attempts fit the burst; the third waits for a token")
}

func TestLimiterConcurrencyCap(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(strconv.Itoa(conc), func(t *testing.T) {
			api := newLimitAPI(t, func(w http.ResponseWriter, _ int) {
				time.Sleep(30 * time.Millisecond)
				ok200(w)
			})
			c := limitClient(t, api.URL, fmt.Sprintf("{requests: 1000, per: 1s, burst: 100, concurrency: %d}", conc), 0)
			ctx := context.Background()
			var wg sync.WaitGroup
			var failed atomic.Int32
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := c.Do(ctx, Request{URL: "/items"}); err != nil {
						failed.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(0), failed.Load())
			assert.Equal(t, int32(12), api.calls.Load())
			assert.Equal(t, int32(conc), api.maxInflight.Load())
		})
	}
	t.Run("uncapped", func(t *testing.T) {
		// Without concurrency the same load does overlap: the cap above is real.
		api := newLimitAPI(t, func(w http.ResponseWriter, _ int) {
			time.Sleep(100 * time.Millisecond)
			ok200(w)
		})
		c := limitClient(t, api.URL, "{requests: 1000, per: 1s, burst: 100}", 0)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.Do(context.Background(), Request{URL: "/items"})
			}()
		}
		wg.Wait()
		assert.Greater(t, api.maxInflight.Load(), int32(3))
	})
}

// A 429 pauses every request of the integration, not just the one that got it.
func TestLimiterPauseOn429IsShared(t *testing.T) {
	api := newLimitAPI(t, func(w http.ResponseWriter, n int) {
		if n == 1 {
			w.Header().Set("X-Reset", "0.5")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		ok200(w)
	})
	c := limitClient(t, api.URL, "{requests: 1000, per: 1s, burst: 100, remaining_header: X-Remaining, reset_header: X-Reset, reset_format: seconds}", 0)
	ctx := context.Background()
	_, err := c.Do(ctx, Request{URL: "/items"})
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusTooManyRequests, he.Status)
	paused := time.Now()

	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(ctx, Request{URL: "/items"}); err != nil {
				failed.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, int32(1), api.calls.Load(), "no request goes during the pause")
	wg.Wait()
	assert.Equal(t, int32(0), failed.Load())
	assert.Equal(t, int32(5), api.calls.Load())
	assert.GreaterOrEqual(t, time.Since(paused), 400*time.Millisecond)
}

// remaining 0 with a reset header pauses until the reset; a positive remaining does not.
func TestLimiterRemainingAndReset(t *testing.T) {
	cases := []struct {
		format string
		reset  func() string
	}{
		{"seconds", func() string { return "0.5" }},
		{"unix_ms", func() string { return strconv.FormatInt(time.Now().Add(500*time.Millisecond).UnixMilli(), 10) }},
		{"rfc3339", func() string { return time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano) }},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			remaining := "0"
			var mu sync.Mutex
			api := newLimitAPI(t, func(w http.ResponseWriter, n int) {
				mu.Lock()
				w.Header().Set("X-Remaining", remaining)
				mu.Unlock()
				w.Header().Set("X-Reset", tc.reset())
				ok200(w)
			})
			c := limitClient(t, api.URL, "{requests: 1000, per: 1s, burst: 100, remaining_header: X-Remaining, reset_header: X-Reset, reset_format: "+tc.format+"}", 0)
			ctx := context.Background()
			_, err := c.Do(ctx, Request{URL: "/items"})
			require.NoError(t, err)
			exhausted := time.Now()
			mu.Lock()
			remaining = "5"
			mu.Unlock()
			done := make(chan error, 1)
			go func() {
				_, err := c.Do(ctx, Request{URL: "/items"})
				done <- err
			}()
			time.Sleep(200 * time.Millisecond)
			assert.Equal(t, int32(1), api.calls.Load(), "the next request waits for the reset")
			require.NoError(t, <-done)
			assert.Equal(t, int32(2), api.calls.Load())
			assert.GreaterOrEqual(t, time.Since(exhausted), 400*time.Millisecond)

			// Remaining above 0: no pause (a wrong one would last the reset, 500ms).
			go func() {
				for range 3 {
					if _, err := c.Do(ctx, Request{URL: "/items"}); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			assert.Eventually(t, func() bool { return api.calls.Load() == 5 }, 450*time.Millisecond, 5*time.Millisecond)
			require.NoError(t, <-done)
		})
	}
}

type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func answerWith(status int, kv ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

func (l *limiter) pausedFor() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pausedUntil.Sub(l.now())
}

func TestLimiterPauseSources(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rl := func(format string) *spec.RateLimit {
		return &spec.RateLimit{Requests: 100, Per: spec.Duration(time.Second), Burst: 1, RemainingHeader: "X-Remaining", ResetHeader: "X-Reset", ResetFormat: format}
	}
	cases := []struct {
		name string
		rl   *spec.RateLimit
		resp *http.Response
		want time.Duration
	}{
		{"429 Retry-After seconds", nil, answerWith(429, "Retry-After", "3"), 3 * time.Second},
		{"429 Retry-After date", nil, answerWith(429, "Retry-After", now.Add(7*time.Second).Format(http.TimeFormat)), 7 * time.Second},
		{"429 without hints", nil, answerWith(429), time.Second},
		{"429 reset header unix", rl("unix"), answerWith(429, "X-Reset", strconv.FormatInt(now.Add(4*time.Second).Unix(), 10)), 4 * time.Second},
		{"429 Retry-After wins over reset", rl("unix"), answerWith(429, "Retry-After", "2", "X-Reset", strconv.FormatInt(now.Add(9*time.Second).Unix(), 10)), 2 * time.Second},
		{"429 Retry-After capped", nil, answerWith(429, "Retry-After", "86400"), maxRetryAfter},
		{"remaining 0 unix", rl("unix"), answerWith(200, "X-Remaining", "0", "X-Reset", strconv.FormatInt(now.Add(5*time.Second).Unix(), 10)), 5 * time.Second},
		{"remaining 0 unix_ms", rl("unix_ms"), answerWith(200, "X-Remaining", "0", "X-Reset", strconv.FormatInt(now.Add(1500*time.Millisecond).UnixMilli(), 10)), 1500 * time.Millisecond},
		{"remaining 0 seconds", rl("seconds"), answerWith(200, "X-Remaining", "0", "X-Reset", "2.5"), 2500 * time.Millisecond},
		{"remaining 0 http_date", rl("http_date"), answerWith(200, "X-Remaining", "0", "X-Reset", now.Add(6*time.Second).Format(http.TimeFormat)), 6 * time.Second},
		{"remaining 0 rfc3339", rl("rfc3339"), answerWith(200, "X-Remaining", "0", "X-Reset", now.Add(6*time.Second).Format(time.RFC3339)), 6 * time.Second},
		{"remaining 0 rfc3339 with ms and an offset", rl("rfc3339"), answerWith(200, "X-Remaining", "0", "X-Reset", "2026-03-01T13:00:01.500+01:00"), 1500 * time.Millisecond},
		{"remaining 0 rfc3339 offset without a colon", rl("rfc3339"), answerWith(200, "X-Remaining", "0", "X-Reset", "2026-03-01T07:00:04-0500"), 4 * time.Second},
		// Jira's X-RateLimit-Reset: ISO 8601 to the minute.
		{"429 reset header rfc3339 minutes", rl("rfc3339"), answerWith(429, "X-Reset", "2026-03-01T12:01Z"), time.Minute},
		{"429 reset header rfc3339 minutes with an offset", rl("rfc3339"), answerWith(429, "X-Reset", "2026-03-01T23:02+1100"), 2 * time.Minute},
		{"429 reset header alone", &spec.RateLimit{Requests: 100, Per: spec.Duration(time.Second), Burst: 1, ResetHeader: "X-Reset", ResetFormat: "rfc3339"},
			answerWith(429, "X-Reset", "2026-03-01T12:00:08Z"), 8 * time.Second},
		{"remaining 0 rfc3339 unreadable", rl("rfc3339"), answerWith(200, "X-Remaining", "0", "X-Reset", "1772366408"), 0},
		{"remaining 1", rl("seconds"), answerWith(200, "X-Remaining", "1", "X-Reset", "2.5"), 0},
		{"remaining 0 without reset", rl("seconds"), answerWith(200, "X-Remaining", "0"), 0},
		{"remaining unreadable", rl("seconds"), answerWith(200, "X-Remaining", "lots", "X-Reset", "2.5"), 0},
		{"500", rl("seconds"), answerWith(500, "X-Reset", "2.5"), 0},
		// Numbers beyond int64 stay far in the future; converted unclamped they
		// wrapped into the past, and no pause at all.
		{"remaining 0 unix beyond int64", rl("unix"), answerWith(200, "X-Remaining", "0", "X-Reset", "1e30"), maxDur(now)},
		{"remaining 0 unix_ms beyond int64", rl("unix_ms"), answerWith(200, "X-Remaining", "0", "X-Reset", "99999999999999999999999"), maxDur(now)},
		{"remaining 0 seconds beyond int64 ns", rl("seconds"), answerWith(200, "X-Remaining", "0", "X-Reset", "1e300"), time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second))},
		{"429 reset beyond int64 is capped", rl("unix"), answerWith(429, "X-Reset", "1e30"), maxRetryAfter},
		{"429 Retry-After beyond int64 is capped", nil, answerWith(429, "Retry-After", "99999999999"), maxRetryAfter},
		{"429 Retry-After beyond int", nil, answerWith(429, "Retry-After", "99999999999999999999999"), maxRetryAfter},
		{"remaining 0 unix beyond float64", rl("unix"), answerWith(200, "X-Remaining", "0", "X-Reset", "1e700"), maxDur(now)},
		{"remaining 0 reset NaN", rl("unix"), answerWith(200, "X-Remaining", "0", "X-Reset", "NaN"), 0},
		{"remaining 0 reset Inf", rl("seconds"), answerWith(200, "X-Remaining", "0", "X-Reset", "+Inf"), 0},
		{"remaining NaN", rl("seconds"), answerWith(200, "X-Remaining", "NaN", "X-Reset", "2.5"), 0},
		{"remaining -1", rl("seconds"), answerWith(200, "X-Remaining", "-1", "X-Reset", "2.5"), 2500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeNow{t: now}
			l := newLimiter(tc.rl, clk.Now)
			l.observe(tc.resp)
			got := l.pausedFor()
			if tc.want == 0 {
				assert.LessOrEqual(t, got, time.Duration(0))
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// maxDur is how far from now the latest time a reset header can name lies: Sub
// saturates at the largest Duration.
func maxDur(now time.Time) time.Duration { return time.Unix(1<<62, 0).Sub(now) }

// An exhausted quota that resets more than maxResetWait away fails the next request
// as rate_limited at once, naming the reset; one within it is waited for.
func TestLimiterLongResetFails(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rl := &spec.RateLimit{Requests: 100, Per: spec.Duration(time.Second), Burst: 1, RemainingHeader: "X-Remaining", ResetHeader: "X-Reset", ResetFormat: "unix"}
	clk := &fakeNow{t: now}
	l := newLimiter(rl, clk.Now)
	l.observe(answerWith(200, "X-Remaining", "0", "X-Reset", strconv.FormatInt(now.Add(20*time.Hour).Unix(), 10)))
	// The deadline only keeps a regression from waiting 20 hours.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.wait(ctx, "/items")
	require.Error(t, err)
	assert.Equal(t, spec.ClassRateLimited, Classify(err))
	assert.EqualError(t, err, "X-Reset says the request quota is spent until 2026-03-02T08:00:00Z, more than 1h0m0s away: not waiting that long; the next sync tries again")

	// Within the bound: waited for (here until the caller gives up).
	clk.Add(19*time.Hour + 30*time.Minute)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_, err = l.wait(ctx2, "/items")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// Through the client: the answer that spends a daily quota is delivered; the next
// request is not sent and fails as rate_limited, without retries.
func TestClientDailyQuotaFails(t *testing.T) {
	api := newLimitAPI(t, func(w http.ResponseWriter, n int) {
		w.Header().Set("X-Remaining", "0")
		w.Header().Set("X-Reset", strconv.FormatInt(time.Now().Add(20*time.Hour).Unix(), 10))
		ok200(w)
	})
	c := limitClient(t, api.URL, "{requests: 10, per: 1s, remaining_header: X-Remaining, reset_header: X-Reset}", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Do(ctx, Request{URL: "/items"})
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Do(ctx, Request{URL: "/items"})
	require.Error(t, err)
	assert.Equal(t, spec.ClassRateLimited, Classify(err))
	assert.Contains(t, err.Error(), "X-Reset says the request quota is spent until")
	assert.Equal(t, int32(1), api.calls.Load(), "the second request is never sent")
	assert.Less(t, time.Since(start), 5*time.Second, "no retry waits")
}

// A paused limiter holds every caller until the pause ends, and lets a caller give up.
func TestLimiterWaitDuringPause(t *testing.T) {
	l := newLimiter(nil, time.Now)
	l.observe(answerWith(429, "Retry-After", "60"))
	var blocked atomic.Int32
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if _, err := l.wait(ctx, ""); errors.Is(err, context.DeadlineExceeded) {
				blocked.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(5), blocked.Load())

	// A later, shorter pause does not shorten a longer one.
	l.pauseUntil(time.Now().Add(time.Millisecond))
	assert.Greater(t, l.pausedFor(), 50*time.Second)
}

// After a 429 the rate halves (down to a sixteenth), then climbs back by a twentieth
// of the target per success, never past the target.
func TestLimiterAIMD(t *testing.T) {
	clk := &fakeNow{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l := newLimiter(&spec.RateLimit{Requests: 100, Per: spec.Duration(time.Second), Burst: 1}, clk.Now)
	limit := func() float64 { return float64(l.bucket.Limit()) }
	require.InDelta(t, 100, limit(), 1e-9)

	for _, want := range []float64{50, 25, 12.5, 6.25, 6.25} {
		l.observe(answerWith(http.StatusTooManyRequests))
		assert.InDelta(t, want, limit(), 1e-9)
	}
	l.observe(answerWith(http.StatusOK))
	assert.InDelta(t, 11.25, limit(), 1e-9)
	l.observe(answerWith(http.StatusInternalServerError))
	assert.InDelta(t, 11.25, limit(), 1e-9, "only successes speed up")
	for range 17 {
		l.observe(answerWith(http.StatusOK))
	}
	assert.InDelta(t, 96.25, limit(), 1e-9)
	l.observe(answerWith(http.StatusOK))
	assert.InDelta(t, 100, limit(), 1e-9, "capped at the target")
	l.observe(answerWith(http.StatusOK))
	assert.InDelta(t, 100, limit(), 1e-9)

	// A rate_limited rule's pause halves the rate the same way.
	d := l.pauseFor(http.Header{"Retry-After": {"2"}}, time.Second)
	assert.Equal(t, 2*time.Second, d)
	assert.InDelta(t, 50, limit(), 1e-9)
}

// Through the client: a 429 halves the integration's rate and successes restore it.
func TestLimiterAIMDThroughClient(t *testing.T) {
	api := newLimitAPI(t, func(w http.ResponseWriter, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		ok200(w)
	})
	c := limitClient(t, api.URL, "{requests: 1000, per: 1s, burst: 10}", 2)
	_, err := c.Do(context.Background(), Request{URL: "/items"})
	require.NoError(t, err)
	assert.Equal(t, int32(2), api.calls.Load())
	// 1000 halved by the 429, then +50 for the success that followed.
	assert.InDelta(t, 550, float64(c.limit.bucket.Limit()), 1e-9)
	for range 9 {
		_, err := c.Do(context.Background(), Request{URL: "/items"})
		require.NoError(t, err)
	}
	assert.InDelta(t, 1000, float64(c.limit.bucket.Limit()), 1e-9)
}

// rate_limit.endpoints paces the requests to some endpoints more tightly, wherever
// their URL came from (a path, an absolute next-page URL), and leaves the others alone.
func TestLimiterEndpoints(t *testing.T) {
	api := newLimitAPI(t, func(w http.ResponseWriter, n int) { ok200(w) })
	c := limitClient(t, api.URL+"/api/v2", "{requests: 1000, per: 1s, burst: 100, endpoints: {/incremental: {requests: 5, per: 1s}}}", 0)
	ctx := context.Background()
	do := func(u string) {
		t.Helper()
		_, err := c.Do(ctx, Request{URL: u})
		require.NoError(t, err)
	}
	start := time.Now()
	for range 6 {
		do("/items")
	}
	assert.Less(t, time.Since(start), 150*time.Millisecond, "other endpoints go at the integration's pace")

	start = time.Now()
	do("/incremental/tickets/cursor.json")
	do("/incremental/users/cursor.json?cursor=abc")
	do(api.URL + "/api/v2/incremental/organizations.json?start_time=1")
	do("/incremental.json")
	// One at once, then one every 200ms.
	assert.GreaterOrEqual(t, time.Since(start), 550*time.Millisecond, "every /incremental request waits for the endpoint's pace")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, int32(10), api.calls.Load())
}

func TestEndpointPath(t *testing.T) {
	for _, tc := range []struct{ path, base, want string }{
		{"/api/v2/incremental/tickets.json", "/api/v2", "/incremental/tickets.json"},
		{"/api/v2/incremental", "/api/v2/", "/incremental"},
		{"/api/v20/x", "/api/v2", "/api/v20/x"}, // not under the base path
		{"/items", "", "/items"},
		{"/other/items", "/api/v2", "/other/items"},
	} {
		assert.Equal(t, tc.want, endpointPath(tc.path, tc.base), "%s under %s", tc.path, tc.base)
	}
}
