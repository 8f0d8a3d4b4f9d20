package retrieve

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	cases := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"1", time.Second, true},
		{"120", 2 * time.Minute, true},
		{" 3 ", 3 * time.Second, true},
		{"0", 0, true},
		{"-5", 0, true},
		{"86400", maxRetryAfter, true},
		// Multiplied out in nanoseconds, these wrapped around to no wait, or failed.
		{"10000000000", maxRetryAfter, true},
		{"99999999999999999999999", maxRetryAfter, true},
		{"-99999999999999999999999", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Tuesday, 05-Mar-24 06:07:38 GMT", 30 * time.Second, true}, // RFC 850
		{"Tue Mar  5 06:07:18 2024", 10 * time.Second, true},        // ANSI C asctime
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := retryAfter(tc.in, now)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestBackoff(t *testing.T) {
	resp := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	lo, hi := 10*time.Millisecond, 80*time.Millisecond
	t.Run("Retry-After on 429 and 503 wins over the bounds", func(t *testing.T) {
		assert.Equal(t, 2*time.Second, backoff(lo, hi, 0, resp(429, "2")))
		assert.Equal(t, 3*time.Second, backoff(lo, hi, 5, resp(503, "3")))
		assert.Equal(t, time.Duration(0), backoff(lo, hi, 0, resp(429, "0")))
	})
	t.Run("exponential with jitter otherwise", func(t *testing.T) {
		for _, tc := range []struct {
			attempt int
			resp    *http.Response
			max     time.Duration
		}{
			{0, nil, lo},
			{1, nil, 2 * lo},
			{2, resp(500, "7"), 4 * lo}, // Retry-After only counts on 429 and 503
			{3, resp(429, "later"), hi},
			{10, nil, hi},
			{62, nil, hi},
			{1000, nil, hi},
		} {
			for range 50 {
				d := backoff(lo, hi, tc.attempt, tc.resp)
				assert.GreaterOrEqual(t, d, tc.max/2, "attempt %d", tc.attempt)
				assert.LessOrEqual(t, d, tc.max, "attempt %d", tc.attempt)
			}
		}
	})
}

func TestRedactQuery(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://x.test/v1/items?api_key=abc&page=2", "https://x.test/v1/items?api_key=[REDACTED]&page=2"},
		{"https://x.test/v1/items?page=2&access_token=abc&X-Amz-Signature=f00", "https://x.test/v1/items?page=2&access_token=[REDACTED]&X-Amz-Signature=[REDACTED]"},
		// Pairs url.ParseQuery refuses are judged by their names all the same.
		{"https://x.test/v1/items?page=2&token=abc%zz123", "https://x.test/v1/items?page=2&token=[REDACTED]"},
		{"https://x.test/v1/items?a=1;sig=s3cr3t&b=2", "https://x.test/v1/items?a=1;sig=[REDACTED]&b=2"},
		{"https://x.test/v1/items?api%5Fkey=abc&token", "https://x.test/v1/items?api%5Fkey=[REDACTED]&token"},
		{"https://x.test/v1/items?page=2#access_token=abc", "https://x.test/v1/items?page=2"},
		{"https://user:pw@x.test/v1/items?page=2", "https://x.test/v1/items?page=2"},
		{"https://x.test/v1/items?q=a+b&page=2", "https://x.test/v1/items?q=a+b&page=2"},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.in)
		assert.NoError(t, err)
		assert.Equal(t, tc.want, redactQuery(u))
	}
}

// Two URLs are on one host when their origins are equal: case and a written-out
// default port do not matter; another port, scheme or host does.
func TestOrigin(t *testing.T) {
	same := [][2]string{
		{"https://api.example.com/v2", "https://API.Example.com:443/v2/items?page=2"},
		{"http://api.example.com", "HTTP://api.example.com:80/x"},
		{"https://[::1]:443/x", "https://[::1]/y"},
		{"https://[2001:DB8::1]:8443/", "https://[2001:db8::1]:8443/z"},
	}
	differ := [][2]string{
		{"https://api.example.com", "https://api.example.com:8443"},
		{"https://api.example.com", "http://api.example.com"},
		{"https://api.example.com:80", "http://api.example.com"},
		{"https://api.example.com", "https://api.example.com.evil.test"},
		{"https://api.example.com", "https://evil.test/api.example.com"},
		{"https://[::1]/", "https://[::2]/"},
	}
	for _, pair := range same {
		a, b := mustURL(t, pair[0]), mustURL(t, pair[1])
		assert.Equal(t, origin(a), origin(b), "%s and %s", pair[0], pair[1])
	}
	for _, pair := range differ {
		a, b := mustURL(t, pair[0]), mustURL(t, pair[1])
		assert.NotEqual(t, origin(a), origin(b), "%s and %s", pair[0], pair[1])
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
