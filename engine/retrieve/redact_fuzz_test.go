package retrieve

import (
	"net/url"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/secret"
)

// FuzzRedactQuery prints any URL as traces and errors do. Properties: what is
// printed parses as a URL without user info or fragment; every query pair whose
// name looks secret has the mask for its value; every other pair is printed as it was
// written, in its place.
func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{
		"https://x.test/v1/items?api_key=abc&page=2",
		"https://user:pw@x.test/v1/items?page=2&access_token=abc&X-Amz-Signature=f00#frag",
		"https://x.test/v1/items?page=2&token=abc%zz123",
		"https://x.test/v1/items?a=1;sig=s3cr3t&b=2&&=x&token",
		"https://x.test/v1/items?api%5Fkey=abc&q=a+b%20c",
		"https://x.test/relative?Password=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			// Printed URLs are requests' (a host always), and url.URL.String does
			// not round-trip a path of "//" without one.
			return
		}
		out := redactQuery(u)
		p, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", raw, out, err)
		}
		if p.User != nil || p.Fragment != "" {
			t.Fatalf("%q printed as %q, with user info or a fragment", raw, out)
		}
		in, got := queryPairs(u.RawQuery), queryPairs(p.RawQuery)
		if len(in) != len(got) {
			t.Fatalf("%q printed as %q: %d query pairs, want %d", raw, out, len(got), len(in))
		}
		for i, pair := range in {
			name, _, hasValue := strings.Cut(pair, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			want := pair
			if hasValue && sensitiveParam(name) {
				want = pair[:strings.IndexByte(pair, '=')+1] + secret.Mask
			}
			if got[i] != want {
				t.Fatalf("%q printed as %q: pair %d is %q, want %q", raw, out, i, got[i], want)
			}
		}
	})
}

func queryPairs(q string) []string {
	if q == "" {
		return nil
	}
	return strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
}
