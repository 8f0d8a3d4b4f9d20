package retrieve_test

import (
	"flag"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/internal/fuzzseed"
)

var writeSeeds = flag.Bool("seeds", false, "rewrite the seed-* files of testdata/fuzz from the real-world Link headers below")

// realLinkHeaders are Link headers as providers send them, and RFC 8288's examples.
var realLinkHeaders = map[string]string{
	"github":            `<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first"`,
	"github-first":      `<https://api.github.com/repositories/1300192/issues?page=2>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last"`,
	"github-since":      `<https://api.github.com/repositories/1300192/issues?state=all&since=2024-01-01T00%3A00%3A00Z&per_page=100&page=3>; rel="next", <https://api.github.com/repositories/1300192/issues?state=all&since=2024-01-01T00%3A00%3A00Z&per_page=100&page=1>; rel="first", <https://api.github.com/repositories/1300192/issues?state=all&since=2024-01-01T00%3A00%3A00Z&per_page=100&page=1>; rel="prev"`,
	"gitlab":            `<https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=1&per_page=3>; rel="prev", <https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=3&per_page=3>; rel="next", <https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=1&per_page=3>; rel="first", <https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=3&per_page=3>; rel="last"`,
	"shopify":           `<https://acme.myshopify.com/admin/api/2024-01/products.json?page_info=hijgklmn&limit=3>; rel="previous", <https://acme.myshopify.com/admin/api/2024-01/products.json?page_info=abcdefg&limit=3>; rel="next"`,
	"sentry":            `<https://sentry.io/api/0/projects/acme/web/issues/?&cursor=1420837590:0:1>; rel="previous"; results="false"; cursor="1420837590:0:1", <https://sentry.io/api/0/projects/acme/web/issues/?&cursor=1420837533:0:0>; rel="next"; results="true"; cursor="1420837533:0:0"`,
	"okta":              "<https://acme.okta.com/api/v1/users?limit=200>; rel=\"self\"\n<https://acme.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200>; rel=\"next\"",
	"rfc8288-title":     `<http://example.com/TheBook/chapter2>; rel="previous"; title="previous chapter"`,
	"rfc8288-extension": `</>; rel="http://example.net/foo"`,
	"rfc8288-anchor":    `</terms>; rel="copyright"; anchor="#foo"`,
	"rfc8288-title-ext": `</TheBook/chapter2>; rel="previous"; title*=UTF-8'de'letztes%20Kapitel, </TheBook/chapter4>; rel="next"; title*=UTF-8'de'n%c3%a4chstes%20Kapitel`,
	"rfc8288-two-rels":  `<http://example.org/>; rel="start http://example.net/relation/other"`,
	"quoted-commas":     `<https://x.test/items?ids=1,2,3;v=2>; title="one, two; \"three\""; rel=next, <https://x.test/9>;REL = "LAST"`,
	"garbage":           `garbage, <https://x.test/2> rel="next", <https://x.test/3; rel="next`,
}

// FuzzParseLinkHeader: ParseLinkHeader never panics on any header, returns lower-case
// relation names of the links it was given; and a header written by a formatter from
// any set of links (quoted and unquoted params, several relations, commas, semicolons
// and quotes inside titles and URLs, several header values) parses back to exactly
// those links, the first link of a relation winning.
func FuzzParseLinkHeader(f *testing.F) {
	for _, v := range malformedLinks {
		f.Add(v, []byte(v))
	}
	f.Fuzz(func(t *testing.T, header string, links []byte) {
		values := strings.Split(header, "\n")
		for rel, target := range retrieve.ParseLinkHeader(values) {
			if rel == "" || rel != strings.ToLower(rel) || len(strings.Fields(rel)) != 1 {
				t.Fatalf("relation %q of %q: want one lower-case token", rel, header)
			}
			if !strings.Contains(header, "<"+target+">") {
				t.Fatalf("target %q of %q is not one of its links", target, header)
			}
		}

		vals, want := formatLinks(&bytesGen{b: links})
		if got := retrieve.ParseLinkHeader(vals); !maps.Equal(got, want) {
			t.Fatalf("Link %q\n got  %q\n want %q", vals, got, want)
		}
	})
}

// bytesGen draws choices from the fuzzer's bytes; it gives zeros when they run out.
type bytesGen struct{ b []byte }

func (g *bytesGen) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

// pick returns one of choices.
func pick[T any](g *bytesGen, choices ...T) T { return choices[int(g.next())%len(choices)] }

// text draws up to max characters from alphabet.
func (g *bytesGen) text(alphabet string, max int) string {
	n := int(g.next()) % (max + 1)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[int(g.next())%len(alphabet)])
	}
	return b.String()
}

const (
	// Anything but '>' may appear in a target, as far as parsing goes.
	urlChars   = "abcXYZ0189-._~/?#[]@!$&'()*+,;=%: \"<\\"
	tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
	titleChars = "ab ,;=\"\\<>#'%"
)

// formatLinks writes up to 7 links drawn from g as Link header values, and returns the
// relations they announce, as ParseLinkHeader must read them.
func formatLinks(g *bytesGen) ([]string, map[string]string) {
	want := map[string]string{}
	var values []string
	var cur strings.Builder
	ws := func() string { return pick(g, "", "", " ", "\t", "  ") }
	n := int(g.next()) % 8
	for i := range n {
		if i > 0 {
			if g.next()%4 == 0 { // a new header value
				values = append(values, cur.String())
				cur.Reset()
			} else {
				cur.WriteString(ws() + "," + ws())
			}
		}
		target := pick(g, "https://api.github.com/repositories/1300192/issues?page=", "/items?page=", "", "?cursor=") + g.text(urlChars, 12)
		var rels []string
		for range int(g.next()) % 4 {
			rels = append(rels, pick(g, "next", "prev", "last", "first", "NEXT", "Next", "previous", "https://x.test/rels/more", "item")+g.text(tokenChars, 2))
		}
		var params []string
		param := func() string {
			switch g.next() % 5 {
			case 0:
				return pick(g, "title", "TITLE", "anchor") + ws() + "=" + ws() + quote(g.text(titleChars, 10))
			case 1:
				return pick(g, "type", "hreflang", "results") + "=" + g.text(tokenChars, 8)
			case 2:
				return pick(g, "crossorigin", "x")
			case 3:
				return "title*=UTF-8'de'n%c3%a4chstes%20Kapitel"
			}
			return "media=" + quote("screen, print")
		}
		for range int(g.next()) % 3 {
			params = append(params, param())
		}
		if len(rels) > 0 || g.next()%2 == 0 {
			name := pick(g, "rel", "REL", "Rel")
			v := strings.Join(rels, pick(g, " ", "  ", "\t"))
			if len(rels) != 1 || g.next()%2 == 0 {
				v = quote(v)
			}
			params = append(params, name+ws()+"="+ws()+v)
			// Only a link's first rel counts (RFC 8288 3.3).
			if g.next()%8 == 0 {
				params = append(params, `rel="ignored"`)
			}
		}
		for range int(g.next()) % 2 {
			params = append(params, param())
		}
		cur.WriteString("<" + target + ">")
		for _, p := range params {
			cur.WriteString(ws() + ";" + ws() + p)
		}
		for _, r := range rels {
			r = strings.ToLower(r)
			if _, ok := want[r]; !ok {
				want[r] = target
			}
		}
	}
	values = append(values, cur.String())
	return values, want
}

// quote writes an HTTP quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestFuzzSeeds rewrites the seed corpus with -seeds; without it, it checks that there
// is one.
func TestFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		if m, _ := filepath.Glob("testdata/fuzz/FuzzParseLinkHeader/seed-*"); len(m) == 0 {
			t.Error("FuzzParseLinkHeader has no seeds: run go test ./engine/retrieve -run TestFuzzSeeds -seeds")
		}
		return
	}
	var seeds []fuzzseed.Seed
	for name, h := range realLinkHeaders {
		// The header's bytes double as the formatter's choices.
		seeds = append(seeds, fuzzseed.Seed{Name: name, Values: []any{h, []byte(h)}})
	}
	seeds = append(seeds,
		fuzzseed.Seed{Name: "empty", Values: []any{"", []byte{}}},
		fuzzseed.Seed{Name: "many-links", Values: []any{"", []byte{7, 1, 0, 3, 5, 1, 2, 9, 1, 4, 4, 0, 3, 2, 1, 1, 1, 8, 0, 0, 2, 6, 200, 3, 3, 3, 1, 0, 7, 7, 7}}},
	)
	if err := fuzzseed.Write("FuzzParseLinkHeader", seeds); err != nil {
		t.Fatal(err)
	}
}
