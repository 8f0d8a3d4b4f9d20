package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/intakehq/intake/engine/spec"
)

// limiter paces one integration's requests: a token bucket at the spec's rate, a cap
// on requests in flight, and a pause that a 429, a rate_limited rule or an exhausted
// remaining-requests header imposes on every request. After a 429 the rate halves and
// then climbs back as requests succeed (additive increase, multiplicative decrease),
// so a limit set a little too high settles below the provider's.
type limiter struct {
	now    func() time.Time
	bucket *rate.Limiter // nil: no rate_limit in the spec
	target rate.Limit
	sem    chan struct{} // nil: no concurrency cap
	spec   *spec.RateLimit
	// endpoints pace the requests to some endpoints more tightly (rate_limit.endpoints).
	endpoints []endpointBucket

	mu          sync.Mutex
	pausedUntil time.Time
}

func newLimiter(rl *spec.RateLimit, now func() time.Time) *limiter {
	l := &limiter{now: now, spec: rl}
	if rl == nil {
		return l
	}
	l.target = rate.Limit(float64(rl.Requests) / rl.Per.D().Seconds())
	l.bucket = rate.NewLimiter(l.target, rl.Burst)
	if rl.Concurrency > 0 {
		l.sem = make(chan struct{}, rl.Concurrency)
	}
	for _, k := range rl.Endpoints.Keys {
		e := rl.Endpoints.Map[k]
		l.endpoints = append(l.endpoints, endpointBucket{pattern: k, bucket: rate.NewLimiter(rate.Limit(float64(e.Requests)/e.Per.D().Seconds()), e.Burst)})
	}
	return l
}

// endpointBucket is one rate_limit.endpoints entry.
type endpointBucket struct {
	pattern string
	bucket  *rate.Limiter
}

type endpointKey struct{}

// withEndpoint carries a request's path, relative to base_url, to the limiter.
func withEndpoint(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, endpointKey{}, path)
}

func endpointOf(ctx context.Context) string {
	p, _ := ctx.Value(endpointKey{}).(string)
	return p
}

// wait blocks until a request to path (relative to base_url) may go; release must be
// called when it is done. The endpoint's own limits are waited for first, so that
// the integration's pace is not spent on a request that still has to wait.
func (l *limiter) wait(ctx context.Context, path string) (func(), error) {
	for _, e := range l.endpoints {
		if path == "" || !spec.MatchEndpoint(e.pattern, path) {
			continue
		}
		if err := e.bucket.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	for {
		l.mu.Lock()
		until := l.pausedUntil
		d := until.Sub(l.now())
		l.mu.Unlock()
		if d <= 0 {
			break
		}
		if d > maxResetWait {
			return nil, &ClassError{Class: spec.ClassRateLimited, Err: fmt.Errorf(
				"%s says the request quota is spent until %s, more than %s away: not waiting that long; the next sync tries again",
				l.spec.ResetHeader, until.UTC().Format(time.RFC3339), maxResetWait)}
		}
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	if l.bucket != nil {
		if err := l.bucket.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	if l.sem == nil {
		return func() {}, nil
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-l.sem }) }, nil
}

// maxResetWait is the longest an exhausted quota is waited for within a sync: an
// hourly window (GitHub's) is waited out; a daily quota fails the sync as
// rate_limited instead of holding a worker for hours, and the next scheduled run
// tries again. Only a reset header pauses that long (a 429 at most maxRetryAfter).
const maxResetWait = time.Hour

// observe adapts to an answer: a 429 pauses and slows down; a success speeds back up;
// an exhausted remaining-requests header pauses until the window resets.
func (l *limiter) observe(resp *http.Response) {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		l.pauseFor(resp.Header, time.Second)
	case resp.StatusCode/100 == 2 && l.bucket != nil:
		if cur := l.bucket.Limit(); cur < l.target {
			l.bucket.SetLimit(min(l.target, cur+l.target/20))
		}
	}
	if l.spec == nil || l.spec.RemainingHeader == "" {
		return
	}
	rem, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get(l.spec.RemainingHeader)), 64)
	if err != nil || !(rem <= 0) || math.IsInf(rem, -1) {
		return // NaN and -Inf are no count
	}
	if until, ok := l.resetTime(resp.Header); ok {
		l.pauseUntil(until)
	}
}

// pauseFor pauses every request for what the answer asks (Retry-After, else the reset
// header, else fallback), halves the rate, and returns the pause.
func (l *limiter) pauseFor(h http.Header, fallback time.Duration) time.Duration {
	d, ok := retryAfter(h.Get("Retry-After"), l.now())
	if !ok {
		if until, ok2 := l.resetTime(h); ok2 {
			d, ok = until.Sub(l.now()), true
		}
	}
	if !ok {
		d = fallback
	}
	d = clampDur(d, 0, maxRetryAfter)
	l.pauseUntil(l.now().Add(d))
	if l.bucket != nil {
		l.bucket.SetLimit(max(l.target/16, l.bucket.Limit()/2))
	}
	return d
}

func (l *limiter) pauseUntil(t time.Time) {
	l.mu.Lock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
	}
	l.mu.Unlock()
}

// resetTime reads the spec's reset header in its declared format.
func (l *limiter) resetTime(h http.Header) (time.Time, bool) {
	if l.spec == nil || l.spec.ResetHeader == "" {
		return time.Time{}, false
	}
	v := strings.TrimSpace(h.Get(l.spec.ResetHeader))
	if v == "" {
		return time.Time{}, false
	}
	switch l.spec.ResetFormat {
	case "http_date":
		t, err := http.ParseTime(v)
		return t, err == nil
	case "rfc3339":
		return parseISOTime(v)
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(f):
		return time.Time{}, false
	case err == nil && math.IsInf(f, 0):
		return time.Time{}, false // "Inf" written out is no time; 1e700 is a far one
	}
	// Converting a float beyond int64 to an integer gives an arbitrary value (on
	// amd64 the most negative), which read a reset far in the future as one long
	// past: no pause at all. Clamped, it is merely far.
	const limit = 1 << 62
	f = max(-limit, min(f, limit))
	switch l.spec.ResetFormat {
	case "seconds":
		const maxSec = float64(math.MaxInt64 / int64(time.Second))
		return l.now().Add(time.Duration(max(-maxSec, min(f, maxSec)) * float64(time.Second))), true
	case "unix_ms":
		return time.UnixMilli(int64(f)), true
	default:
		return time.Unix(int64(f), 0), true
	}
}

// isoLayouts are the ISO 8601 timestamps a reset header may carry: RFC 3339, an offset
// without its colon, and minute precision (Jira's X-RateLimit-Reset, 2026-01-15T12:01Z).
// Fractional seconds are accepted after the seconds.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z0700"}

func parseISOTime(v string) (time.Time, bool) {
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// slot takes a concurrency slot alone, without pacing: for a body that resumes
// reading (see releasingBody.resume).
func (l *limiter) slot(ctx context.Context) (func(), error) {
	if l.sem == nil {
		return func() {}, nil
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-l.sem }) }, nil
}

// releasingBody frees the concurrency slot once the body is closed: a request is in
// flight until its body has been read. A streamed body gives its slot back while the
// caller works on the records read so far (pause), and takes one again before reading
// on (resume): the caller may send requests of its own meanwhile (a child stream's),
// which would otherwise wait for a slot the body holds.
type releasingBody struct {
	io.ReadCloser
	l       *limiter
	mu      sync.Mutex
	release func() // nil while paused or closed
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.release != nil {
		b.release()
		b.release = nil
	}
	return err
}

func (b *releasingBody) pause() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

func (b *releasingBody) resume(ctx context.Context) error {
	b.mu.Lock()
	held := b.release != nil
	b.mu.Unlock()
	if held {
		return nil
	}
	release, err := b.l.slot(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.release = release
	b.mu.Unlock()
	return nil
}

type slotKey struct{}

// slotHandle receives the releasingBody of the request whose context carries it, so
// that the reader of a streamed body can pause and resume its slot.
type slotHandle struct {
	mu   sync.Mutex
	body *releasingBody
}

func withSlot(ctx context.Context, h *slotHandle) context.Context {
	return context.WithValue(ctx, slotKey{}, h)
}

func (h *slotHandle) set(b *releasingBody) {
	h.mu.Lock()
	h.body = b
	h.mu.Unlock()
}

func (h *slotHandle) get() *releasingBody {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.body
}

// pause gives the slot back while the caller works; resume takes one again.
func (h *slotHandle) pause() {
	if b := h.get(); b != nil {
		b.pause()
	}
}

func (h *slotHandle) resume(ctx context.Context) error {
	if b := h.get(); b != nil {
		return b.resume(ctx)
	}
	return nil
}
