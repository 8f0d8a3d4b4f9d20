// Package providermock holds offline mocks of seven real provider APIs (HubSpot,
// Salesforce, Zendesk, Stripe, GitHub, Intercom, Jira), one per file. Each follows
// its provider's documented behaviour as recorded in the provider API notes: how it
// authenticates and how it refuses a bad token, how it pages (cursor formats,
// page-size caps, where the next page is announced and how the last page looks),
// how its changed-since filter compares timestamps, how it rate-limits and the error
// bodies it answers with. The bundled connectors in connectors/ are tested against
// them, and `go run ./internal/providermock/cmd/providermock -provider NAME` serves
// one on localhost for `intake preview` and `intake sync`.
//
// Every mock holds deterministic seeded data (a few hundred records per type, spread
// over several pages, some sharing a timestamp), a data clock that tests move, a
// Change method that updates or creates records as a live account would between two
// syncs, and counters for assertions.
package providermock

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Mock is what every provider mock offers, for table-driven tests and the command.
type Mock interface {
	// Provider is the provider name, as in connectors/PROVIDER.yaml.
	Provider() string
	// Hosts names the hosts the mock serves: "api" first, then any other (Salesforce
	// also serves "login", its token endpoint, on a host of its own).
	Hosts() []string
	// Handler serves one host.
	Handler(host string) http.Handler
	// SetURL tells the mock where a host is served, for the absolute URLs it writes
	// (next-page links, instance_url).
	SetURL(host, base string)
	// Values are the config and credential values an integration of the provider's
	// connector uses against the mock, by the names its spec declares.
	Values() map[string]any
	// Counts is how many records a full sync stores per interaction type of the
	// provider's connector, plus those Change deleted since: an incremental sync keeps
	// their rows, with deleted_at.
	Counts() map[string]int
	// Change makes n changes per interaction type at the data clock's current time, as
	// a live account would between two syncs, and returns what an incremental sync
	// must then store per interaction type.
	Change(n int) map[string]Delta
	// Throttle refuses n API requests, after the next `after` ones, with the
	// provider's own rate-limit answer.
	Throttle(after, n int)
	// Stats returns the counters; ResetStats zeroes them.
	Stats() Stats
	ResetStats()
}

// Delta is what an incremental sync must store after Change: records it has not
// seen, records whose content changed, and records the provider shows deleted (by a
// flag, a deleted-records endpoint, or their absence from a full list) that the
// connector tracks.
type Delta struct {
	Created, Updated, Deleted int
}

// Stats counts what a mock has seen.
type Stats struct {
	// Requests counts API requests, whatever their answer. Token requests are not
	// included.
	Requests int
	// TokenRequests counts requests to a token endpoint.
	TokenRequests int
	// Records counts records served in successful answers.
	Records int
	// RateLimited counts requests refused as rate-limited (429, or the provider's
	// own way of saying it).
	RateLimited int
	// EarlyRetries counts requests that arrived before the wait a rate-limit answer
	// asked for (Retry-After, or a reset time) was over.
	EarlyRetries int
	// Unauthorized counts requests refused for their credentials.
	Unauthorized int
	// Status counts answers by HTTP status, a token endpoint's included.
	Status map[int]int
}

// Serve starts an httptest server for every host of m and tells m their URLs. The
// returned function stops them.
func Serve(m Mock) (urls map[string]string, stop func()) {
	urls = map[string]string{}
	var servers []*httptest.Server
	for _, h := range m.Hosts() {
		srv := httptest.NewServer(m.Handler(h))
		servers = append(servers, srv)
		urls[h] = srv.URL
		m.SetURL(h, srv.URL)
	}
	return urls, func() {
		for _, s := range servers {
			s.Close()
		}
	}
}

// New returns the mock of a provider with its default options but the common ones
// given: the data clock and the rate limit.
func New(provider string, c Common) (Mock, error) {
	switch provider {
	case "hubspot":
		return NewHubSpot(HubSpotOptions{Common: c}), nil
	case "salesforce":
		return NewSalesforce(SalesforceOptions{Common: c}), nil
	case "zendesk":
		return NewZendesk(ZendeskOptions{Common: c}), nil
	case "stripe":
		return NewStripe(StripeOptions{Common: c}), nil
	case "github":
		return NewGitHub(GitHubOptions{Common: c}), nil
	case "intercom":
		return NewIntercom(IntercomOptions{Common: c}), nil
	case "jira":
		return NewJira(JiraOptions{Common: c}), nil
	}
	return nil, fmt.Errorf("no mock for provider %q (have: %v)", provider, Providers)
}

// Providers lists the providers that have a mock.
var Providers = []string{"hubspot", "salesforce", "zendesk", "stripe", "github", "intercom", "jira"}

// Common are the options every mock has.
type Common struct {
	// Now is the data clock: record timestamps, changed-since filters, token and
	// cursor expiry, and the times reset headers name. Nil means time.Now. Rate-limit
	// windows always count in real time, because clients wait in real time.
	Now func() time.Time
	// RateLimit is how many API requests the mock admits per RateWindow (sliding);
	// 0 means the provider's documented default, negative means unlimited.
	RateLimit  int
	RateWindow time.Duration
}

// Clock is a data clock that tests move by hand. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	running time.Time // when a running clock was at t, on the real clock; zero: stopped
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// NewRunningClock returns a clock that starts at t and runs at the real clock's pace,
// and that Advance moves ahead. A client that reads the same clock never sees a record
// dated after its own now, as with a real provider, and its waits pass in real time.
func NewRunningClock(t time.Time) *Clock { return &Clock{t: t, running: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running.IsZero() {
		return c.t.Add(time.Since(c.running))
	}
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// resetAt is when a rate-limit window that frees up at real time reset does so, on the
// data clock: what a reset header tells the client, which waits in real time.
func (c *core) resetAt(reset time.Time) time.Time { return c.now().Add(time.Until(reset)) }

// core is the state every mock shares: the lock, the data clock, the base URLs,
// counters and the rate limiter. Mocks embed it.
type core struct {
	mu   sync.Mutex
	now  func() time.Time
	urls map[string]string

	stats   Stats
	limiter window
	// forced rate-limit answers (Throttle): skip `throttleAfter` requests, then refuse
	// `throttleN`.
	throttleAfter, throttleN int
	// blockedUntil is when the last rate-limit answer said the client may come back;
	// requests before it count as EarlyRetries.
	blockedUntil time.Time
}

func newCore(c Common, defLimit int, defWindow time.Duration) core {
	if c.Now == nil {
		c.Now = time.Now
	}
	limit, win := c.RateLimit, c.RateWindow
	if limit == 0 {
		limit = defLimit
	}
	if win <= 0 {
		win = defWindow
	}
	return core{now: c.Now, urls: map[string]string{}, limiter: window{limit: limit, per: win}, stats: Stats{Status: map[int]int{}}}
}

// SetURL implements Mock.
func (c *core) SetURL(host, base string) { c.mu.Lock(); c.urls[host] = base; c.mu.Unlock() }

func (c *core) url(host string) string { return c.urls[host] }

// Stats implements Mock.
func (c *core) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Status = make(map[int]int, len(c.stats.Status))
	for k, v := range c.stats.Status {
		s.Status[k] = v
	}
	return s
}

// ResetStats implements Mock.
func (c *core) ResetStats() { c.mu.Lock(); c.stats = Stats{Status: map[int]int{}}; c.mu.Unlock() }

// Throttle implements Mock.
func (c *core) Throttle(after, n int) {
	c.mu.Lock()
	c.throttleAfter, c.throttleN = after, n
	c.mu.Unlock()
}

// admit counts an authenticated API request against the rate limit (the caller holds
// mu). It returns ok, or how long the client should wait. A forced refusal
// (Throttle) comes first; refused requests do not occupy the window.
func (c *core) admit() (bool, time.Duration) { return c.admitWith(&c.limiter) }

// admitWith is admit against another window than the mock's main one (an endpoint
// with a limit of its own).
func (c *core) admitWith(w *window) (bool, time.Duration) {
	real := time.Now()
	if !c.blockedUntil.IsZero() && real.Before(c.blockedUntil) {
		c.stats.EarlyRetries++
	}
	if c.throttleAfter > 0 {
		c.throttleAfter--
	} else if c.throttleN > 0 {
		c.throttleN--
		c.stats.RateLimited++
		return false, time.Second
	}
	ok, wait := w.admit(real)
	if !ok {
		c.stats.RateLimited++
	}
	return ok, wait
}

// asked records that a rate-limit answer told the client to wait d.
func (c *core) asked(d time.Duration) { c.blockedUntil = time.Now().Add(d) }

// window is a sliding-window request limit on the real clock.
type window struct {
	limit    int // <= 0: unlimited
	per      time.Duration
	admitted []time.Time
}

func (w *window) admit(now time.Time) (bool, time.Duration) {
	if w.limit <= 0 {
		return true, 0
	}
	cut := now.Add(-w.per)
	i := 0
	for i < len(w.admitted) && !w.admitted[i].After(cut) {
		i++
	}
	w.admitted = w.admitted[i:]
	if len(w.admitted) >= w.limit {
		return false, w.admitted[0].Add(w.per).Sub(now)
	}
	w.admitted = append(w.admitted, now)
	return true, 0
}

// remaining is how many requests the window still admits now, and when its oldest
// request leaves it.
func (w *window) remaining(now time.Time) (int, time.Time) {
	if w.limit <= 0 {
		return math.MaxInt32, now
	}
	cut := now.Add(-w.per)
	n := 0
	var oldest time.Time
	for _, t := range w.admitted {
		if t.After(cut) {
			if n == 0 {
				oldest = t
			}
			n++
		}
	}
	if n == 0 {
		return w.limit, now.Add(w.per)
	}
	return w.limit - n, oldest.Add(w.per)
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one, as a
// Retry-After header carries it.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// reply writes a JSON answer and counts it (the caller holds mu).
func (c *core) reply(w http.ResponseWriter, status int, body any) {
	c.stats.Status[status]++
	if status == http.StatusUnauthorized {
		c.stats.Unauthorized++
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, err := json.Marshal(body)
	if err != nil {
		panic(err) // mock bodies are plain data
	}
	_, _ = w.Write(b)
}

// replyRaw writes a pre-encoded or non-JSON answer and counts it.
func (c *core) replyRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	c.stats.Status[status]++
	if status == http.StatusUnauthorized {
		c.stats.Unauthorized++
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readJSON decodes a request body, numbers as json.Number.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.UseNumber()
	return dec.Decode(v)
}

// intParam reads an integer query parameter: def when absent, ok false when not a
// number.
func intParam(r *http.Request, name string, def int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// stamped is a record with a change time and an id, for sorting.
type stamped interface {
	stamp() time.Time
	key() string
}

// sortByStamp orders records by (time, id) ascending.
func sortByStamp[T stamped](xs []T) {
	sort.SliceStable(xs, func(i, j int) bool {
		a, b := xs[i], xs[j]
		if !a.stamp().Equal(b.stamp()) {
			return a.stamp().Before(b.stamp())
		}
		return a.key() < b.key()
	})
}

// Seeded timestamps lie between these two instants: safely in the past of any data
// clock a test or the command uses.
var (
	seedFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	seedTo   = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
)

// spread returns n ascending timestamps between seedFrom and seedTo at whole
// seconds, in groups that share one instant (group sizes cycle 1, 3, 1, 2), so that
// changed-since filters and cursors have ties to get right.
func spread(n int, salt int) []time.Time {
	sizes := []int{1, 3, 1, 2}
	groups := 0
	for left, g := n, 0; left > 0; g++ {
		left -= sizes[g%len(sizes)]
		groups++
	}
	step := seedTo.Sub(seedFrom) / time.Duration(max(groups, 1))
	out := make([]time.Time, 0, n)
	for g := 0; len(out) < n; g++ {
		at := seedFrom.Add(time.Duration(g)*step + time.Duration(salt)*time.Minute).Truncate(time.Second)
		for k := 0; k < sizes[g%len(sizes)] && len(out) < n; k++ {
			out = append(out, at)
		}
	}
	return out
}
