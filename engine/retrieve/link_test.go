package retrieve_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/intakehq/intake/engine/retrieve"
)

func TestParseLinkHeader(t *testing.T) {
	const gh = "https://api.github.com/repositories/1300192/issues"
	cases := []struct {
		name   string
		values []string
		want   map[string]string
	}{
		{
			name: "GitHub, several relations",
			values: []string{`<` + gh + `?page=2>; rel="prev", <` + gh + `?page=4>; rel="next", ` +
				`<` + gh + `?page=515>; rel="last", <` + gh + `?page=1>; rel="first"`},
			want: map[string]string{"prev": gh + "?page=2", "next": gh + "?page=4", "last": gh + "?page=515", "first": gh + "?page=1"},
		},
		{
			name:   "GitHub, first page",
			values: []string{`<` + gh + `?page=2>; rel="next", <` + gh + `?page=515>; rel="last"`},
			want:   map[string]string{"next": gh + "?page=2", "last": gh + "?page=515"},
		},
		{
			name:   "quoted rel with several values",
			values: []string{`<https://api.example.com/items?page=2>; rel="next last"`},
			want:   map[string]string{"next": "https://api.example.com/items?page=2", "last": "https://api.example.com/items?page=2"},
		},
		{
			name:   "rel with an extension relation type",
			values: []string{`<https://x.test/2>; rel="https://x.test/rels/more next"`},
			want:   map[string]string{"https://x.test/rels/more": "https://x.test/2", "next": "https://x.test/2"},
		},
		{
			name:   "params in any order",
			values: []string{`<https://x.test/2>; title="Page 2"; type="application/json"; rel="next", <https://x.test/9>; type=text/html; rel=last; hreflang=en`},
			want:   map[string]string{"next": "https://x.test/2", "last": "https://x.test/9"},
		},
		{
			name:   "commas and semicolons inside quoted params",
			values: []string{`<https://x.test/2>; title="one, two; three"; rel="next", <https://x.test/9>; title="a,b"; rel="last"`},
			want:   map[string]string{"next": "https://x.test/2", "last": "https://x.test/9"},
		},
		{
			name:   "escaped quotes inside a quoted param",
			values: []string{`<https://x.test/2>; title="say \"hi, there\""; rel="next"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "commas and semicolons inside the URL",
			values: []string{`<https://x.test/items?ids=1,2,3;v=2>; rel="next", <https://x.test/items?ids=9>; rel="last"`},
			want:   map[string]string{"next": "https://x.test/items?ids=1,2,3;v=2", "last": "https://x.test/items?ids=9"},
		},
		{
			name:   "unquoted rel",
			values: []string{`<https://x.test/2>; rel=next`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "relation types and param names are case-insensitive",
			values: []string{`<https://x.test/2>; REL="Next", <https://x.test/9>; Rel=LAST`},
			want:   map[string]string{"next": "https://x.test/2", "last": "https://x.test/9"},
		},
		{
			name:   "loose whitespace",
			values: []string{"  <https://x.test/2> ;rel = \"next\" ,\t<https://x.test/9>;rel=last  "},
			want:   map[string]string{"next": "https://x.test/2", "last": "https://x.test/9"},
		},
		{
			name:   "relative targets are returned as is",
			values: []string{`</items?page=2>; rel="next", <?page=9>; rel="last"`},
			want:   map[string]string{"next": "/items?page=2", "last": "?page=9"},
		},
		{
			name:   "no rel",
			values: []string{`<https://x.test/2>; title="next page"`},
			want:   map[string]string{},
		},
		{
			name:   "no rel on one link of two",
			values: []string{`<https://x.test/1>; anchor="#foo", <https://x.test/2>; rel="next"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "several Link header values",
			values: []string{`<https://x.test/2>; rel="next"`, `<https://x.test/9>; rel="last"`, `<https://x.test/1>; rel="first", <https://x.test/1>; rel="prev"`},
			want:   map[string]string{"next": "https://x.test/2", "last": "https://x.test/9", "first": "https://x.test/1", "prev": "https://x.test/1"},
		},
		{
			name:   "the first link of a relation wins",
			values: []string{`<https://x.test/2>; rel="next", <https://x.test/3>; rel="next"`, `<https://x.test/4>; rel="next"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "the first rel param of a link wins",
			values: []string{`<https://x.test/2>; rel="next"; rel="last"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "valueless params",
			values: []string{`<https://x.test/2>; crossorigin; rel="next"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "empty",
			values: []string{""},
			want:   map[string]string{},
		},
		{
			name:   "no values",
			values: nil,
			want:   map[string]string{},
		},
		{
			name:   "garbage before a link is skipped",
			values: []string{`garbage, <https://x.test/2>; rel="next"`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "missing semicolon: that link is skipped, the next one read",
			values: []string{`<https://x.test/2> rel="next", <https://x.test/9>; rel="last"`},
			want:   map[string]string{"last": "https://x.test/9"},
		},
		{
			name:   "unterminated target",
			values: []string{`<https://x.test/2; rel="next"`},
			want:   map[string]string{},
		},
		{
			name:   "unterminated quote",
			values: []string{`<https://x.test/2>; rel="next`},
			want:   map[string]string{"next": "https://x.test/2"},
		},
		{
			name:   "rel without a value",
			values: []string{`<https://x.test/2>; rel`},
			want:   map[string]string{},
		},
		{
			name:   "rel with an empty value",
			values: []string{`<https://x.test/2>; rel=""; rel="next"`},
			want:   map[string]string{},
		},
		{
			name:   "empty target",
			values: []string{`<>; rel="next"`},
			want:   map[string]string{"next": ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, retrieve.ParseLinkHeader(tc.values))
		})
	}
}

// malformedLinks must not panic or loop.
var malformedLinks = []string{
	"<", ">", "<>", "<<>>", "><", ";", ",", ";;;,,,", `"`, `\`, "=", "rel=next",
	`<u>;`, `<u>;;`, `<u>; =`, `<u>; =next`, `<u>; rel=`, `<u>; rel="`, `<u>; rel="\`, `<u>; rel=\`,
	`<u>; title="\"`, `<u>; rel="next"extra; rel=last`, `<u>; rel=next <v>; rel=last`,
	`<u>,<v>,<w`, `<u>;rel=next,,,<v>;rel=prev`, "<u>; rel=\x00next", "<\xff>; rel=\"\xfe\"",
	`<u>;;; rel=next`, `<u> ;`, `<u> ,`, `<u>;,rel=next`, `<u>; rel; rel=next`,
}

func TestParseLinkHeaderMalformed(t *testing.T) {
	for _, v := range malformedLinks {
		t.Run(v, func(t *testing.T) {
			assert.NotPanics(t, func() { checkLinks(t, []string{v}) })
			assert.NotPanics(t, func() { checkLinks(t, []string{v, v}) })
		})
	}
}

// checkLinks asserts what holds for any input: each relation is a non-empty word and
// each target a substring of the input.
func checkLinks(t *testing.T, values []string) {
	t.Helper()
	joined := strings.Join(values, "\n")
	for rel, target := range retrieve.ParseLinkHeader(values) {
		if rel == "" || strings.ContainsAny(rel, " \t\r\n") {
			t.Errorf("%q: relation %q", values, rel)
		}
		if !strings.Contains(joined, target) {
			t.Errorf("%q: target %q is not in the input", values, target)
		}
	}
}
