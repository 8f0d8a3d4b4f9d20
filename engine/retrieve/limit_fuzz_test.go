package retrieve

import (
	"context"
	"math/big"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

var (
	delaySeconds = regexp.MustCompile(`^[+-]?[0-9]+$`)
	// decimalText is a number ParseFloat reads, with an exponent of at most 4 digits
	// (so that the exact oracle stays small).
	decimalText = regexp.MustCompile(`^[+-]?([0-9]{1,40}\.?[0-9]{0,40}|\.[0-9]{1,40})([eE][+-]?[0-9]{1,4})?$`)
)

var resetFormats = []string{"unix", "unix_ms", "seconds", "http_date", "rfc3339"}

// FuzzRateLimitHeaders reads any Retry-After, remaining and reset header values, as a
// provider might send them, in every reset_format. Properties: Retry-After is a wait
// between 0 and maxRetryAfter, and a count of seconds gives exactly that many (capped);
// a reset given as a number lies on the same side of now as the number says (no
// overflow turns the far future into the past); a pause after an answer is never
// negative-going into a wait, and one longer than maxResetWait fails the next request
// as rate_limited instead of waiting.
func FuzzRateLimitHeaders(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range [][3]string{
		{"3", "0", strconv.FormatInt(now.Add(5*time.Second).Unix(), 10)},
		{"86400", "0", strconv.FormatInt(now.Add(5*time.Second).UnixMilli(), 10)},
		{now.Add(7 * time.Second).Format(http.TimeFormat), "0", "2.5"},
		{"", "0", now.Add(6 * time.Second).Format(http.TimeFormat)},
		{"", "0", "2026-03-01T12:01Z"},
		{"99999999999", "-1", "1e30"},
		{"99999999999999999999999", "NaN", "NaN"},
		{"-5", "0", "+Inf"},
		{"1.5", "0.0", "-1e300"},
		{"", "0", strconv.FormatInt(now.Add(20*time.Hour).Unix(), 10)},
	} {
		for fmtIdx := range resetFormats {
			f.Add(s[0], s[1], s[2], uint8(fmtIdx), true)
			f.Add(s[0], s[1], s[2], uint8(fmtIdx), false)
		}
	}
	f.Fuzz(func(t *testing.T, retry, remaining, reset string, fmtIdx uint8, tooMany bool) {
		// Retry-After alone.
		d, ok := retryAfter(retry, now)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("Retry-After %q: wait %v outside [0, %v]", retry, d, maxRetryAfter)
		}
		if v := strings.TrimSpace(retry); delaySeconds.MatchString(v) && !strings.HasPrefix(v, "+") {
			n, _ := new(big.Int).SetString(v, 10)
			want := time.Duration(0)
			switch {
			case n.Cmp(big.NewInt(int64(maxRetryAfter/time.Second))) >= 0:
				want = maxRetryAfter
			case n.Sign() > 0:
				want = time.Duration(n.Int64()) * time.Second
			}
			if !ok || d != want {
				t.Fatalf("Retry-After %q: got %v, %v; want %v", retry, d, ok, want)
			}
		}

		format := resetFormats[int(fmtIdx)%len(resetFormats)]
		rl := &spec.RateLimit{Requests: 100, Per: spec.Duration(time.Second), Burst: 1,
			RemainingHeader: "X-Remaining", ResetHeader: "X-Reset", ResetFormat: format}
		clk := &fakeNow{t: now}
		l := newLimiter(rl, clk.Now)

		// A numeric reset lies on the side of now its number says.
		if v := strings.TrimSpace(reset); decimalText.MatchString(v) && format != "http_date" && format != "rfc3339" {
			at, ok := l.resetTime(http.Header{"X-Reset": {reset}})
			if r, exact := new(big.Rat).SetString(strings.TrimPrefix(v, "+")); exact && ok {
				// The reset in seconds since the epoch, compared with now at a margin
				// of two seconds (floats and truncation to the second blur it).
				sec := new(big.Rat).Set(r)
				switch format {
				case "unix_ms":
					sec.Quo(sec, big.NewRat(1000, 1))
				case "seconds":
					sec.Add(sec, big.NewRat(now.Unix(), 1))
				}
				lo, hi := big.NewRat(now.Unix()-2, 1), big.NewRat(now.Unix()+2, 1)
				switch {
				case sec.Cmp(hi) > 0 && !at.After(now):
					t.Fatalf("%s reset %q is after now but read as %v", format, reset, at)
				case sec.Cmp(lo) < 0 && at.After(now):
					t.Fatalf("%s reset %q is before now but read as %v", format, reset, at)
				}
			} else if exact && !ok {
				t.Fatalf("%s reset %q is a number but was not read", format, reset)
			}
		}

		// An answer, then the next request.
		status := http.StatusOK
		if tooMany {
			status = http.StatusTooManyRequests
		}
		l.observe(answerWith(status, "Retry-After", retry, "X-Remaining", remaining, "X-Reset", reset))
		paused := l.pausedFor()
		if tooMany {
			// A 429 alone pauses at most maxRetryAfter; only a spent quota (the
			// remaining header) waits for the reset itself.
			alone := *rl
			alone.RemainingHeader = ""
			l2 := newLimiter(&alone, clk.Now)
			l2.observe(answerWith(status, "Retry-After", retry, "X-Remaining", remaining, "X-Reset", reset))
			if p := l2.pausedFor(); p > maxRetryAfter || p < 0 {
				t.Fatalf("429 paused for %v, outside [0, %v]", p, maxRetryAfter)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a wait that would sleep returns at once
		_, err := l.wait(ctx, "/items")
		long := paused > maxResetWait
		if long != (err != nil && Classify(err) == spec.ClassRateLimited) {
			t.Fatalf("paused %v (bound %v): wait gave %v", paused, maxResetWait, err)
		}
	})
}
