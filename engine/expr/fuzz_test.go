package expr_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/internal/fuzzseed"
)

var writeSeeds = flag.Bool("seeds", false, "rewrite the seed-* files of testdata/fuzz from the templates of the bundled connectors")

// templateVars are what a request template sees, with values of every JSON type and a
// string that looks like a template (it must not be read as one).
var templateVars = map[string]any{
	"s":      "a ${ .x } b",
	"n":      json.Number("9007199254740993"),
	"f":      1.5,
	"b":      true,
	"null":   nil,
	"obj":    map[string]any{"a": []any{json.Number("1"), "<&>"}},
	"config": map[string]any{"subdomain": "acme", "page_size": json.Number("100")},
	"page":   map[string]any{"token": "abc", "number": json.Number("2")},
	"cursor": "2024-01-01T00:00:00Z",
}

// segments are template segments with what each renders to, as a value alone and as
// text among other parts.
var segments = []struct {
	src  string
	val  any
	text string
}{
	{"${ .s }", "a ${ .x } b", "a ${ .x } b"},
	{"${.n}", json.Number("9007199254740993"), "9007199254740993"},
	{"${ .f }", 1.5, "1.5"},
	{"${ .b }", true, "true"},
	{"${ .null }", nil, ""},
	{"${ .missing.deeper }", nil, ""},
	{"${ .obj }", map[string]any{"a": []any{json.Number("1"), "<&>"}}, `{"a":[1,"<&>"]}`},
	{`${ "$" }`, "$", "$"},
	{`${ "}" }`, "}", "}"},
	{`${ {a: "}"} | .a }`, "}", "}"},
	{"${ .config.subdomain # a comment }\n}", "acme", "acme"},
	{`${ "\(.page.token)-\(.page.number)" }`, "abc-2", "abc-2"},
}

// escapeLiteral writes text as template source that renders to itself: "${" as
// "$${" and, right before a segment, a final run of "$" as a segment of its own (a
// "$" there would turn the segment's "${" into "$${", a literal).
func escapeLiteral(s string, beforeSegment bool) string {
	e := strings.ReplaceAll(s, "${", "$${")
	if beforeSegment {
		if run := len(e) - len(strings.TrimRight(e, "$")); run > 0 {
			e = e[:len(e)-run] + `${ "` + strings.Repeat("$", run) + `" }`
		}
	}
	return e
}

// safeToRender is how much of arbitrary jq the fuzzer runs. jq is a full language: a
// few bytes of it can loop forever or allocate gigabytes ("x" * 1e9, [range(1e9)],
// .[1e9] = 1), which is the spec author's to avoid, not the template code's. Short
// segments without repetition, arithmetic on strings, assignment or recursion still
// cover how templates join their parts.
var unsafeJQ = regexp.MustCompile(`[*=]|\.\.|\b(def|range|repeat|while|until|recurse|limit|pow|exp|exp2|exp10|ldexp|scalb|scalbln|significand|combinations|setpath|splits|implode|input|inputs|getpath|paths|leaf_paths|walk|env|halt|halt_error|debug|stderr)\b`)

// FuzzTemplate: ParseTemplate never panics on any string; an error locates itself
// inside the source; every segment is at its "${" in the source; text without "${"
// is a constant that renders to itself; any text escaped as documented ("$${", and a
// "$" right before a segment written as a segment) renders to itself, alone or between
// segments; and rendering a parsed template never panics.
func FuzzTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, src string, plan []byte) {
		tpl, err := expr.ParseTemplate(src)
		if err != nil {
			var ee *expr.Error
			if !errors.As(err, &ee) {
				t.Fatalf("ParseTemplate(%q): error is %T, want *expr.Error: %v", src, err, err)
			}
			if ee.Offset < -1 || ee.Offset >= len(src) {
				t.Fatalf("ParseTemplate(%q): offset %d outside the source: %v", src, ee.Offset, err)
			}
		} else {
			checkParsed(t, src, tpl)
		}

		// Text alone.
		lit, err := expr.ParseTemplate(escapeLiteral(src, false))
		if err != nil {
			t.Fatalf("escaped text %q does not parse: %v", escapeLiteral(src, false), err)
		}
		if !lit.IsConstant() {
			t.Fatalf("escaped text %q has segments", escapeLiteral(src, false))
		}
		if got := render(t, lit); got != src {
			t.Fatalf("escaped text %q renders as %q, want %q", escapeLiteral(src, false), got, src)
		}

		// Text between segments: plan picks where src is cut and which segment goes
		// at each cut.
		var b strings.Builder
		var want strings.Builder
		rest := src
		nseg := 0
		for i, p := range plan {
			if i == 8 {
				break
			}
			cut := min(int(p>>4), len(rest))
			text := rest[:cut]
			rest = rest[cut:]
			seg := segments[int(p&0x0f)%len(segments)]
			e := escapeLiteral(text, true)
			if strings.HasSuffix(e, `" }`) && strings.HasSuffix(text, "$") {
				nseg++ // the final "$"s became a segment
			}
			b.WriteString(e)
			b.WriteString(seg.src)
			want.WriteString(text + seg.text)
			nseg++
		}
		b.WriteString(escapeLiteral(rest, false))
		want.WriteString(rest)
		built, err := expr.ParseTemplate(b.String())
		if err != nil {
			t.Fatalf("template %q does not parse: %v", b.String(), err)
		}
		if got := len(built.Segments()); got != nseg {
			t.Fatalf("template %q has %d segments, want %d", b.String(), got, nseg)
		}
		got, err := built.RenderString(context.Background(), templateVars)
		if err != nil {
			t.Fatalf("template %q: %v", b.String(), err)
		}
		if got != want.String() {
			t.Fatalf("template %q renders as %q, want %q", b.String(), got, want.String())
		}
		// A template that is one segment keeps the value's type.
		if nseg == 1 && src == "" {
			v, err := built.Render(context.Background(), templateVars)
			seg := segments[int(plan[0]&0x0f)%len(segments)]
			if err != nil || !reflect.DeepEqual(v, seg.val) {
				t.Fatalf("template %q renders as %#v, %v; want %#v", b.String(), v, err, seg.val)
			}
		}
	})
}

// checkParsed checks a template that parsed: its segments sit at their "${" in order,
// a source without "${" is a constant that renders to itself, and rendering (of jq
// that cannot exhaust the machine) returns.
func checkParsed(t *testing.T, src string, tpl *expr.Template) {
	t.Helper()
	last := -1
	for i, seg := range tpl.Segments() {
		if seg.Offset <= last || !strings.HasPrefix(src[seg.Offset:], "${"+seg.Query.String()+"}") {
			t.Fatalf("ParseTemplate(%q): segment %d (%q) at offset %d", src, i, seg.Query.String(), seg.Offset)
		}
		if seg.Offset > 0 && src[seg.Offset-1] == '$' {
			// Read from left to right, that "$" would have begun a "$${", a literal.
			t.Fatalf("ParseTemplate(%q): segment %d at offset %d follows a lone $", src, i, seg.Offset)
		}
		last = seg.Offset
	}
	if !strings.Contains(src, "${") {
		if !tpl.IsConstant() {
			t.Fatalf("ParseTemplate(%q): text without ${ has segments", src)
		}
		if got := render(t, tpl); got != src {
			t.Fatalf("ParseTemplate(%q) renders as %q", src, got)
		}
		return
	}
	if len(src) > 64 {
		return
	}
	for _, q := range tpl.Queries() {
		if unsafeJQ.MatchString(q.String()) {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _ = tpl.Render(ctx, templateVars) // errors are fine; panics and hangs are not
}

func render(t *testing.T, tpl *expr.Template) string {
	t.Helper()
	s, err := tpl.RenderString(context.Background(), templateVars)
	if err != nil {
		t.Fatalf("render %q: %v", tpl.String(), err)
	}
	return s
}

// TestFuzzSeeds rewrites the seed corpus with -seeds: every string of the bundled
// connectors that holds "${" (their templates), and the tricky cases of the template
// syntax. Without -seeds it checks that there is one.
func TestFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		if m, _ := filepath.Glob("testdata/fuzz/FuzzTemplate/seed-*"); len(m) == 0 {
			t.Error("FuzzTemplate has no seeds: run go test ./engine/expr -run TestFuzzSeeds -seeds")
		}
		return
	}
	files, err := filepath.Glob("../../connectors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bundled connectors: %v", err)
	}
	found := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(*yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
				found[n.Value] = true
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(&doc)
	}
	tpls := make([]string, 0, len(found))
	for s := range found {
		tpls = append(tpls, s)
	}
	sort.Strings(tpls)
	var seeds []fuzzseed.Seed
	for i, s := range tpls {
		seeds = append(seeds, fuzzseed.Seed{Name: "connector-" + string(rune('a'+i/26)) + string(rune('a'+i%26)), Values: []any{s, []byte{0x10, 0x21}}})
	}
	for i, s := range []string{
		"", "plain", "$", "$$", "${", "$${", "$$${ .x }", "$${ .x } ${ .y }", `${ "$" }${ .x }`,
		"${}", "${ .a", `${ "}" }`, `${ {a: "}"} | .a }`, `${ "\(")" }`, "${ .a # }\n}",
		"${ .a } ${ .b # \\\n }", "x ${ .a |\n  map(.b) ) }", "é ${ .x }/\xff", "${ .config.subdomain }.zendesk.com",
	} {
		seeds = append(seeds, fuzzseed.Seed{Name: "syntax-" + string(rune('a'+i)), Values: []any{s, []byte{0x31, 0x07, 0xf2}}})
	}
	if err := fuzzseed.Write("FuzzTemplate", seeds); err != nil {
		t.Fatal(err)
	}
}
