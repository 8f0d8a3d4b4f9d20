// Package chaos is the fault campaign of `make chaos` (docs/chaos.md): a provider in
// front of internal/bench's mock CRM that issues short-lived OAuth tokens, an HTTP
// handler that injects faults at random from a seed, the comparison of a store with
// the mock's truth, and the driver that runs `intake run`, kills it with SIGKILL at
// random moments and restarts it.
package chaos

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is a kind of failure the injector serves instead of (or before) the real answer.
type Fault int

const (
	Latency      Fault = iota // the real answer, 100-800ms late
	Reset                     // the connection is reset (RST) before any answer
	ServerError               // 500, 502 or 503 with a JSON error body
	TooMany                   // 429 with Retry-After: 1
	Truncated                 // 200 whose Content-Length promises the whole body, half of it, then the connection closes
	Malformed                 // 200 with a complete HTTP body that is not valid JSON (cut in the middle, HTML after)
	ExpiredToken              // 401 invalid_token: the bearer token presented is revoked, as if it had expired
	numFaults
)

var faultNames = [numFaults]string{"latency", "reset", "5xx", "429", "truncated", "malformed", "expired_token"}

func (f Fault) String() string {
	if f >= 0 && f < numFaults {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// AllFaults is every kind, in the order counts are reported.
func AllFaults() []Fault {
	out := make([]Fault, numFaults)
	for i := range out {
		out[i] = Fault(i)
	}
	return out
}

// InjectorOptions configures an Injector.
type InjectorOptions struct {
	Seed uint64  // the same seed draws the same sequence of decisions
	Rate float64 // fraction of requests that get a fault, 0 to 1
	// Kinds to draw from (each equally likely); nil means every kind.
	Kinds []Fault
	// Expire revokes the bearer token of r and reports whether it did; ExpiredToken is
	// served only then (a token just issued cannot have expired, and a request without
	// one has nothing to expire), else the request gets no fault. Nil: ExpiredToken is
	// never served.
	Expire func(r *http.Request) bool
	// NoFault lists path prefixes served without faults (the driver's own reads).
	NoFault []string
	// Log, when set, gets one line per request: when it arrived, the fault it got
	// ("-" for none), the method and the URL (path and query; never a header, so no
	// token).
	Log io.Writer
	// Sleep waits out Latency (default: a timer that stops when the request ends); tests
	// make it instant.
	Sleep func(r *http.Request, d time.Duration)
}

// Injector is an http.Handler that serves a fault instead of next's answer to a
// fraction of requests. Which requests and which faults come from a math/rand/v2 PCG
// seeded with Options.Seed, drawn under a lock in arrival order, so one sequence of
// requests gets one sequence of faults. It counts the faults it actually served.
type Injector struct {
	next http.Handler
	opts InjectorOptions

	mu  sync.Mutex
	rng *rand.Rand
	seq int64 // requests logged

	counts [numFaults]atomic.Int64
}

// NewInjector wraps next.
func NewInjector(next http.Handler, o InjectorOptions) *Injector {
	if len(o.Kinds) == 0 {
		o.Kinds = AllFaults()
	}
	if o.Sleep == nil {
		o.Sleep = func(r *http.Request, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
		}
	}
	return &Injector{next: next, opts: o, rng: rand.New(rand.NewPCG(o.Seed, 0x63686130))}
}

// decision is what the injector does with one request: its fault (or -1) and the
// random parameters the fault needs, all drawn at once so that the sequence of draws
// does not depend on which fault comes out.
type decision struct {
	fault   Fault
	latency time.Duration
	status  int
}

func (in *Injector) decide(r *http.Request) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	d := decision{fault: -1}
	hit := in.rng.Float64() < in.opts.Rate
	kind := in.opts.Kinds[in.rng.IntN(len(in.opts.Kinds))]
	d.latency = 100*time.Millisecond + time.Duration(in.rng.IntN(700))*time.Millisecond
	d.status = [...]int{500, 502, 503}[in.rng.IntN(3)]
	if hit {
		d.fault = kind
	}
	if in.opts.Log != nil && r != nil {
		in.seq++
		name := "-"
		if d.fault >= 0 {
			name = d.fault.String()
		}
		fmt.Fprintf(in.opts.Log, "%s %d %s %s %s\n", time.Now().UTC().Format("15:04:05.000"), in.seq, name, r.Method, r.URL.RequestURI())
	}
	return d
}

// Counts is how many faults of each kind were served.
func (in *Injector) Counts() map[Fault]int64 {
	out := make(map[Fault]int64, numFaults)
	for f := range numFaults {
		out[f] = in.counts[f].Load()
	}
	return out
}

// Total is how many faults were served.
func (in *Injector) Total() int64 {
	var n int64
	for f := range numFaults {
		n += in.counts[f].Load()
	}
	return n
}

// Summary lists the counts by kind, "latency=3 reset=1 ...".
func (in *Injector) Summary() string {
	var b strings.Builder
	for f := range numFaults {
		if f > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", f, in.counts[f].Load())
	}
	return b.String()
}

func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, p := range in.opts.NoFault {
		if strings.HasPrefix(r.URL.Path, p) {
			in.next.ServeHTTP(w, r)
			return
		}
	}
	d := in.decide(r)
	switch d.fault {
	case Latency:
		in.counts[Latency].Add(1)
		in.opts.Sleep(r, d.latency)
		in.next.ServeHTTP(w, r)
	case Reset:
		// Counted before the client can see it (tests read the counts right after).
		if !reset(w, func() { in.counts[Reset].Add(1) }) {
			in.next.ServeHTTP(w, r)
		}
	case ServerError:
		in.counts[ServerError].Add(1)
		writeJSON(w, d.status, `{"error":"injected server error"}`)
	case TooMany:
		in.counts[TooMany].Add(1)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, `{"error":"rate limit exceeded"}`)
	case Truncated:
		rec := httptest.NewRecorder()
		in.next.ServeHTTP(rec, r)
		truncate(w, rec, func() { in.counts[Truncated].Add(1) })
	case Malformed:
		rec := httptest.NewRecorder()
		in.next.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK || rec.Body.Len() < 2 {
			copyRecorded(w, rec, rec.Body.Bytes()) // nothing to spoil: an error answer stays as it is
			return
		}
		in.counts[Malformed].Add(1)
		body := rec.Body.Bytes()
		// Any prefix of a JSON document followed by text with no quote is invalid JSON:
		// a string left open stays open, anything else meets '<'.
		bad := append(body[:len(body)/2:len(body)/2], "<html>bad gateway</html>"...)
		copyRecorded(w, rec, bad)
	case ExpiredToken:
		if in.opts.Expire != nil && in.opts.Expire(r) {
			in.counts[ExpiredToken].Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The access token expired"`)
			writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_token"}`)
			return
		}
		in.next.ServeHTTP(w, r)
	default:
		in.next.ServeHTTP(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// copyRecorded sends rec's status and headers with body (Content-Length fixed up).
func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// reset closes the connection with an RST (SO_LINGER 0) before answering.
func reset(w http.ResponseWriter, count func()) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	count()
	_ = conn.Close()
	return true
}

// truncate sends rec's answer with its full Content-Length but only half of its body,
// then closes the connection: the client reads an unexpected EOF.
func truncate(w http.ResponseWriter, rec *httptest.ResponseRecorder, count func()) {
	body := rec.Body.Bytes()
	hj, ok := w.(http.Hijacker)
	if !ok || len(body) < 2 {
		copyRecorded(w, rec, body)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	count()
	writeHead(buf, rec, len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}

func writeHead(buf *bufio.ReadWriter, rec *httptest.ResponseRecorder, length int) {
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
	for k, vs := range rec.Header() {
		if k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(buf, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(buf, "Content-Length: %d\r\nConnection: close\r\n\r\n", length)
}
