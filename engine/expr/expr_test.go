package expr_test

// The tests use only the standard library, in one style with the rest of the engine's
// older tests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/expr"
)

var ctx = context.Background()

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src   string
		token string // what the offset points at; "" for end of input
		msg   string
	}{
		{".a | ", "", `invalid jq ".a | ": unexpected EOF`},
		{".a[", "", `invalid jq ".a[": unexpected EOF`},
		{"if . then 1", "", `invalid jq "if . then 1": unexpected EOF`},
		{"{a: }", "}", `invalid jq "{a: }": unexpected token "}"`},
		{".a ) .b", ")", `invalid jq ".a ) .b": unexpected token ")"`},
		{".data[] | select(.status = = \"open\")", "= \"open\")", `invalid jq ".data[] | select(.status = = \"open\")": unexpected token "="`},
		{"[.a, .b]]", "]", `invalid jq "[.a, .b]]": unexpected token "]"`},
		{".a | map(.b", "", `invalid jq ".a | map(.b": unexpected EOF`},
		// 80 bytes on one line are still quoted.
		{".a | " + strings.Repeat("x", 73) + " |", "", `invalid jq ".a | ` + strings.Repeat("x", 73) + ` |": unexpected EOF`},
		// Longer or multi-line sources are not repeated: Offset locates the problem.
		{".a | " + strings.Repeat("x", 74) + " |", "", `invalid jq: unexpected EOF`},
		{".data[]\n| select(.status = = \"open\")", "= \"open\")", `invalid jq: unexpected token "="`},
		{"# a comment\n.a )", ")", `invalid jq: unexpected token ")"`},
		{".a |\r\n", "", `invalid jq: unexpected EOF`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			q, err := expr.Compile(tc.src)
			if err == nil {
				t.Fatalf("Compile succeeded: %v", q)
			}
			var ee *expr.Error
			if !errors.As(err, &ee) {
				t.Fatalf("error is %T, want *expr.Error", err)
			}
			if ee.Msg != tc.msg || err.Error() != tc.msg {
				t.Errorf("message = %q, want %q", ee.Msg, tc.msg)
			}
			if ee.Offset < 0 || ee.Offset > len(tc.src) {
				t.Fatalf("offset %d outside the source", ee.Offset)
			}
			if tc.token == "" {
				if ee.Offset != len(tc.src) {
					t.Errorf("offset %d, want %d (end of input)", ee.Offset, len(tc.src))
				}
			} else if !strings.HasPrefix(tc.src[ee.Offset:], tc.token) {
				t.Errorf("offset %d points at %q, want %q", ee.Offset, tc.src[ee.Offset:], tc.token)
			}
		})
	}

	// Errors found after parsing have no position.
	for src, msg := range map[string]string{
		"undefined_fn(1)":       `invalid jq "undefined_fn(1)": function not defined: undefined_fn/1`,
		"$nope":                 `invalid jq "$nope": variable not defined: $nope`,
		"input":                 `invalid jq "input": input(s)/0 is not allowed`,
		".a\n| undefined_fn(1)": "invalid jq: function not defined: undefined_fn/1",
	} {
		_, err := expr.Compile(src)
		var ee *expr.Error
		if !errors.As(err, &ee) || ee.Offset != -1 || ee.Msg != msg {
			t.Errorf("Compile(%q) = %#v, want offset -1 and %q", src, err, msg)
		}
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile of bad jq did not panic")
		}
	}()
	expr.MustCompile(".a |")
}

// TestEnvDisabled checks that a spec cannot read the process environment.
func TestEnvDisabled(t *testing.T) {
	const secret = "s3cr3t-from-the-environment"
	t.Setenv("INTAKE_TEST_SECRET", secret)
	t.Setenv("HOME", "/home/"+secret)
	for _, src := range []string{
		"env.HOME", "$ENV.HOME", "env.INTAKE_TEST_SECRET", "$ENV.INTAKE_TEST_SECRET",
		"env", "$ENV", "env | tostring", "$ENV | keys", "[env[]]", `$ENV | to_entries | map(.value) | join(",")`,
	} {
		t.Run(src, func(t *testing.T) {
			q, err := expr.Compile(src)
			if err != nil {
				return // refusing to compile is fine too
			}
			out, err := q.All(ctx, map[string]any{})
			if err != nil {
				return
			}
			js, _ := json.Marshal(out)
			if strings.Contains(string(js), secret) {
				t.Fatalf("%s leaks the environment: %s", src, js)
			}
			for _, v := range out {
				switch x := v.(type) {
				case nil:
				case map[string]any:
					if len(x) != 0 {
						t.Errorf("%s = %v, want empty", src, x)
					}
				case []any:
					if len(x) != 0 {
						t.Errorf("%s = %v, want empty", src, x)
					}
				case string:
					if x != "{}" && x != "" {
						t.Errorf("%s = %q", src, x)
					}
				default:
					t.Errorf("%s = %#v, want null or empty", src, v)
				}
			}
		})
	}
	tpl, err := expr.ParseTemplate("key=${ env.INTAKE_TEST_SECRET }${ $ENV.HOME }")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tpl.RenderString(ctx, nil); err != nil || got != "key=" {
		t.Errorf("template renders %q, %v; want key=", got, err)
	}
}

func TestFirstAllTruthy(t *testing.T) {
	input := map[string]any{"a": json.Number("1"), "list": []any{"x", "y"}, "f": false}
	tests := []struct {
		src    string
		all    []any
		first  any
		truthy bool
	}{
		{"empty", nil, nil, false},
		{".a", []any{json.Number("1")}, json.Number("1"), true},
		{".missing", []any{nil}, nil, false},
		{".f", []any{false}, false, false},
		{".list[]", []any{"x", "y"}, "x", true},
		{"1, 2", []any{1, 2}, 1, true},
		{"false, true", []any{false, true}, false, false},
		{"0", []any{0}, 0, true},
		{`""`, []any{""}, "", true},
		{"[]", []any{[]any{}}, []any{}, true},
		{"halt", nil, nil, false},
		{"1, halt, 2", []any{1}, 1, true},
		{".list[] | select(. == \"z\")", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			q := expr.MustCompile(tc.src)
			if q.String() != tc.src {
				t.Errorf("String() = %q", q.String())
			}
			all, err := q.All(ctx, input)
			if err != nil || !reflect.DeepEqual(all, tc.all) {
				t.Errorf("All = %#v, %v; want %#v", all, err, tc.all)
			}
			first, err := q.First(ctx, input)
			if err != nil || !reflect.DeepEqual(first, tc.first) {
				t.Errorf("First = %#v, %v; want %#v", first, err, tc.first)
			}
			truthy, err := q.Truthy(ctx, input)
			if err != nil || truthy != tc.truthy {
				t.Errorf("Truthy = %v, %v; want %v", truthy, err, tc.truthy)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	for src, want := range map[string]string{
		`error("boom")`: `jq "error(\"boom\")": error: boom`,
		`halt_error`:    `jq "halt_error": halt error: {"a":1}`,
		`.a[]`:          `jq ".a[]": cannot iterate over: number (1)`,
		`1, error("x")`: `jq "1, error(\"x\")": error: x`,
	} {
		q := expr.MustCompile(src)
		if _, err := q.All(ctx, map[string]any{"a": 1}); err == nil || err.Error() != want {
			t.Errorf("All(%s) error = %v, want %s", src, err, want)
		}
		if _, err := q.Truthy(ctx, map[string]any{"a": 1}); err == nil && src != `1, error("x")` {
			t.Errorf("Truthy(%s) succeeded", src)
		}
	}

	// First stops at the first output: an endless generator returns.
	if v, err := expr.MustCompile("repeat(1)").First(ctx, nil); err != nil || v != 1 {
		t.Errorf("First(repeat(1)) = %v, %v", v, err)
	}
	// First of "1, error" does not reach the error.
	if v, err := expr.MustCompile(`1, error("x")`).First(ctx, nil); err != nil || v != 1 {
		t.Errorf(`First(1, error("x")) = %v, %v`, v, err)
	}
	// A cancelled context stops an endless query.
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := expr.MustCompile("range(infinite)").All(c, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("All with a cancelled context = %v, want context.Canceled", err)
	}
	// Each stops at the callback's error and returns it as is.
	stop := errors.New("stop")
	n := 0
	err := expr.MustCompile("range(10)").Each(ctx, nil, func(any) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("Each = %v after %d calls, want stop after 3", err, n)
	}
}

func TestMarshalJSON(t *testing.T) {
	q := expr.MustCompile(`.a | "x"`)
	tpl, err := expr.ParseTemplate(`/t/${ .id }`)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(map[string]any{"q": q, "t": tpl})
	if err != nil || string(js) != `{"q":".a | \"x\"","t":"/t/${ .id }"}` {
		t.Errorf("json = %s, %v", js, err)
	}
}

func TestNumbersStayExact(t *testing.T) {
	const maxInt = "9223372036854775807" // 2^63-1, not representable in float64
	in := map[string]any{"id": json.Number(maxInt), "price": json.Number("12.50")}
	v, err := expr.MustCompile(".id").First(ctx, in)
	if err != nil || v != json.Number(maxInt) || expr.Text(v) != maxInt {
		t.Errorf(".id = %#v (%s), %v", v, expr.Text(v), err)
	}
	v, _ = expr.MustCompile(".price").First(ctx, in)
	if expr.Text(v) != "12.50" {
		t.Errorf(".price renders %q, want 12.50 as written", expr.Text(v))
	}
	v, _ = expr.MustCompile(".id + 1").First(ctx, in)
	if expr.Text(v) != "9223372036854775808" {
		t.Errorf(".id + 1 renders %q (%T)", expr.Text(v), v)
	}
	tpl, _ := expr.ParseTemplate("/items/${ .id }")
	if s, err := tpl.RenderString(ctx, in); err != nil || s != "/items/"+maxInt {
		t.Errorf("template renders %q, %v", s, err)
	}
}

func TestText(t *testing.T) {
	big63, _ := new(big.Int).SetString("9223372036854775808", 10)
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"", ""},
		{"plain text", "plain text"},
		{json.Number("9223372036854775807"), "9223372036854775807"},
		{json.Number("-9223372036854775808"), "-9223372036854775808"},
		{json.Number("12.50"), "12.50"},
		{json.Number("1e3"), "1e3"},
		{float64(3), "3"},
		{float64(-3), "-3"},
		{float64(0), "0"},
		{1.5, "1.5"},
		{0.1, "0.1"},
		{-2.25, "-2.25"},
		{float64(1709634030123), "1709634030123"},
		{float64(123456789012345), "123456789012345"},
		// Integral values never get an exponent, however large.
		{float64(1e15), "1000000000000000"},
		{float64(1709634030123456), "1709634030123456"}, // a microsecond timestamp
		{float64(-1e15), "-1000000000000000"},
		{float64(1 << 62), "4611686018427388000"}, // the shortest decimal that reads back
		{1e21, "1000000000000000000000"},
		{math.Copysign(0, -1), "0"},
		// Fractions print as decimals, down to 1e-6.
		{1709634030.123, "1709634030.123"},
		{1234567.5, "1234567.5"},
		{0.000001, "0.000001"},
		{-0.000125, "-0.000125"},
		{1e-7, "1e-07"},
		{math.NaN(), "null"},
		{math.Inf(1), "1.7976931348623157e+308"},
		{math.Inf(-1), "-1.7976931348623157e+308"},
		{42, "42"},
		{-7, "-7"},
		{big63, "9223372036854775808"},
		{true, "true"},
		{false, "false"},
		{map[string]any{}, "{}"},
		{[]any{}, "[]"},
		{map[string]any{"b": map[string]any{"c": true}, "a": []any{1, "x", nil}}, `{"a":[1,"x",null],"b":{"c":true}}`},
		{[]any{json.Number("1"), 2.5, "s"}, `[1,2.5,"s"]`},
		// No HTML escaping, no trailing newline.
		{map[string]any{"q": "<a&b>"}, `{"q":"<a&b>"}`},
		{[]any{"<script>", "a&b", "\u2028"}, `["<script>","a&b","\u2028"]`},
		{map[string]any{"q": "<a>", "n": 1e15}, `{"n":1000000000000000,"q":"<a>"}`},
	}
	for _, tc := range tests {
		if got := expr.Text(tc.in); got != tc.want {
			t.Errorf("Text(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

type renderCase struct {
	src  string
	want any
}

func TestTemplates(t *testing.T) {
	vars := map[string]any{
		"n":      json.Number("42"),
		"i":      7,
		"s":      "abc",
		"obj":    map[string]any{"k": "v"},
		"null":   nil,
		"config": map[string]any{"subdomain": "acme"},
	}
	tests := []renderCase{
		// Constants.
		{"", ""},
		{"abc", "abc"},
		{"/tickets?sort=-updated_at", "/tickets?sort=-updated_at"},
		{"cost: $5 {braces} }{", "cost: $5 {braces} }{"},
		// One segment keeps the value's type.
		{"${ .n }", json.Number("42")},
		{"${ .i }", 7},
		{"${.i}", 7},
		{"${ .obj }", map[string]any{"k": "v"}},
		{"${ .null }", nil},
		{"${ .missing }", nil},
		{"${ .i + 1 }", 8},
		{"${ [.s] }", []any{"abc"}},
		// Mixed text joins values as text; null is empty.
		{"https://${ .config.subdomain }.example.com/api", "https://acme.example.com/api"},
		{"/t/${ .n }/x", "/t/42/x"},
		{" ${ .n }", " 42"},
		{"${ .n } ", "42 "},
		{"a${ .null }b", "ab"},
		{"${ .s }${ .n }", "abc42"},
		{"${ .obj }!", `{"k":"v"}!`},
		// $${ is a literal ${.
		{"$${ .n }", "${ .n }"},
		{"a$${b", "a${b"},
		{"$${ .n } is ${ .n }", "${ .n } is 42"},
		{"${ .n } and $${x}", "42 and ${x}"},
		// "$${" is read left to right: in "$$${" the first "$" is plain text.
		{"$$${ .n }", "$${ .n }"},
		{"$$$${ .n }", "$$${ .n }"},
		{"$ ${ .n }", "$ 42"},
		{"$$ ${ .n }", "$$ 42"},
		// A "$" right before a segment is written as a segment of its own.
		{`${ "$" }${ .n }`, "$42"},
		{`price: ${ "$" }${ .n }.00`, "price: $42.00"},
		// Braces inside jq objects and strings do not end the segment.
		{"${ {a: 1} | .a }", 1},
		{`${ "}" }`, "}"},
		{`${ "{" }`, "{"},
		{`${ "\"}" }`, `"}`},
		{`x${ {"k": "}"} | .k }y`, "x}y"},
		{`${ {a: {b: .s}} | .a.b }`, "abc"},
		{`${ "\(.s)}" }`, "abc}"},
		// String interpolation holds expressions, which may hold strings with braces.
		{`${ "\("}")" }`, "}"},
		{`${ "a\("{")b" }`, "a{b"},
		{`${ "\("\("}")")" }`, "}"},
		{`${ "\( {k: "}"} | .k )\(.s)" }`, "}abc"},
		{`${ "\( ( "}" ) )" }`, "}"},
		{`x${ "\\" }y`, `x\y`},
		{`x${ "\\\"}" }y`, `x\"}y`},
		{`${ @base64 "\("}")" }`, "fQ=="},
		{`${ [.s, "]}"] | join("") }`, "abc]}"},
		// A comment runs to the end of its line, braces and quotes included.
		{"${ .s # } \" {\n }", "abc"},
		{"${ .s # a } b \\\n more comment }\n }", "abc"},
		{"a${ .s # }\r\n }b", "aabcb"},
		// A "#" in a string is no comment.
		{`${ "#}" }`, "#}"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			tpl, err := expr.ParseTemplate(tc.src)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			if tpl.String() != tc.src {
				t.Errorf("String() = %q", tpl.String())
			}
			got, err := tpl.Render(ctx, vars)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Render = %#v (%T), %v; want %#v (%T)", got, got, err, tc.want, tc.want)
			}
			wantConst := !strings.Contains(strings.ReplaceAll(tc.src, "$${", ""), "${")
			if tpl.IsConstant() != wantConst {
				t.Errorf("IsConstant = %v, want %v", tpl.IsConstant(), wantConst)
			}
			if wantConst != (len(tpl.Queries()) == 0) {
				t.Errorf("Queries() = %v", tpl.Queries())
			}
			s, err := tpl.RenderString(ctx, vars)
			if err != nil || s != expr.Text(tc.want) {
				t.Errorf("RenderString = %q, %v; want %q", s, err, expr.Text(tc.want))
			}
		})
	}

	tpl, _ := expr.ParseTemplate("a ${ .x } b ${ .y | tostring } c")
	var srcs []string
	for _, q := range tpl.Queries() {
		srcs = append(srcs, q.String())
	}
	if fmt.Sprintf("%q", srcs) != `[" .x " " .y | tostring "]` {
		t.Errorf("Queries() = %q", srcs)
	}

	tpl, _ = expr.ParseTemplate(`/t/${ error("no id") }`)
	if _, err := tpl.Render(ctx, vars); err == nil || !strings.Contains(err.Error(), "no id") {
		t.Errorf("Render error = %v, want the jq error", err)
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		src  string
		want []string // the source at each segment's Offset, up to its end
	}{
		{"", nil},
		{"plain $${ .x }", nil},
		{"${ .x }", []string{"${ .x }"}},
		{"a ${ .x } b ${ .y | tostring } c", []string{"${ .x }", "${ .y | tostring }"}},
		{"$${ .lit } ${ .x }", []string{"${ .x }"}},
		{"$$${ .lit }${.x}", []string{"${.x}"}},
		{`${ "$" }${ .x }`, []string{`${ "$" }`, "${ .x }"}},
		{`é ${ "\("}")" }/${ {a: 1} | .a }`, []string{`${ "\("}")" }`, "${ {a: 1} | .a }"}},
		{"line 1\n  ${ .x # }\n }", []string{"${ .x # }\n }"}},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			tpl, err := expr.ParseTemplate(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			segs := tpl.Segments()
			qs := tpl.Queries()
			if len(segs) != len(tc.want) || len(qs) != len(tc.want) {
				t.Fatalf("%d segments and %d queries, want %d", len(segs), len(qs), len(tc.want))
			}
			for i, seg := range segs {
				if seg.Query != qs[i] {
					t.Errorf("segment %d: query differs from Queries()[%d]", i, i)
				}
				if seg.Offset < 0 || seg.Offset >= len(tc.src) {
					t.Fatalf("segment %d: offset %d outside the source", i, seg.Offset)
				}
				if got := "${" + seg.Query.String() + "}"; got != tc.want[i] || !strings.HasPrefix(tc.src[seg.Offset:], got) {
					t.Errorf("segment %d at %d: source there is %q, segment %q, want %q", i, seg.Offset, tc.src[seg.Offset:], got, tc.want[i])
				}
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		src   string
		token string // what the offset points at
		msg   string
	}{
		{"${ .a", "${", `unterminated ${ in "${ .a"`},
		{"/t/${ .a", "${", `unterminated ${ in "/t/${ .a"`},
		{"/t/${ {a: 1 }", "${", `unterminated ${ in "/t/${ {a: 1 }"`},
		{`${ "}`, "${", `unterminated ${ in "${ \"}"`},
		{"$${ .a } ${ .b", "${ .b", `unterminated ${ in "$${ .a } ${ .b"`},
		{"${}", "${", `empty ${ } in "${}"`},
		{"x ${ } y", "${", `empty ${ } in "x ${ } y"`},
		{"x ${ .n | } y", "} y", `invalid jq " .n | ": unexpected EOF`},
		{"x ${ .a ) }", ") }", `invalid jq " .a ) ": unexpected token ")"`},
		{"${ .a } ${ {b: } }", "} }", `invalid jq " {b: } ": unexpected token "}"`},
		{`x ${ "\(")")" | } y`, "} y", `invalid jq " \"\\(\")\")\" | ": unexpected EOF`},
		{`${ "\("}" }`, "${", `unterminated ${ in "${ \"\\(\"}\" }"`},
		{"${ .a # }", "${", `unterminated ${ in "${ .a # }"`},
		{"ok ${ .a } ${ .b # \\\n }", "${ .b", `unterminated ${ in "ok ${ .a } ${ .b # \\\n }"`},
		{"${ .a ] }", "] }", `invalid jq " .a ] ": unexpected token "]"`},
		{"${ (.a }", "}", `invalid jq " (.a ": unexpected EOF`},
		{"${ {a: (.b }", "${", `unterminated ${ in "${ {a: (.b }"`},
		{"${ [1, 2 } x", "} x", `invalid jq " [1, 2 ": unexpected EOF`},
		{"x ${ .a |\n  map(.b }", "}", `invalid jq: unexpected EOF`},
		{"x ${ .a |\n  map(.b) ) }", ") }", `invalid jq: unexpected token ")"`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			tpl, err := expr.ParseTemplate(tc.src)
			if err == nil {
				t.Fatalf("ParseTemplate succeeded: %v", tpl)
			}
			var ee *expr.Error
			if !errors.As(err, &ee) {
				t.Fatalf("error is %T, want *expr.Error", err)
			}
			if ee.Msg != tc.msg {
				t.Errorf("message = %q, want %q", ee.Msg, tc.msg)
			}
			if ee.Offset < 0 || ee.Offset >= len(tc.src) {
				t.Fatalf("offset %d outside the source", ee.Offset)
			}
			if !strings.HasPrefix(tc.src[ee.Offset:], tc.token) {
				t.Errorf("offset %d points at %q, want %q", ee.Offset, tc.src[ee.Offset:], tc.token)
			}
		})
	}
}

func TestRootPaths(t *testing.T) {
	tests := []struct {
		src  string
		want string // fmt of [][]string
	}{
		{".config.subdomain", "[[config subdomain]]"},
		{".cursor", "[[cursor]]"},
		{".config.a.b.c", "[[config a]]"},
		{`."config"."x"`, "[[config x]]"},
		{".a[0]", "[[a]]"},
		{".a[]", "[[a]]"},
		{".a?", "[[a]]"},
		{".a.b?", "[[a b]]"},
		{".", "[]"},
		{"..", "[]"},
		{`"literal"`, "[]"},
		{"42", "[]"},
		// Pipes: only the left side reads the root.
		{".a | .b", "[[a]]"},
		{".config | .subdomain", "[[config]]"},
		{".a | .b | .c", "[[a]]"},
		{"(.a | .b), .c", "[[a] [c]]"},
		{".config.x | ascii_downcase", "[[config x]]"},
		{"{a: .x} | .a", "[[x]]"},
		// Alternatives, commas, operators.
		{".a // .b", "[[a] [b]]"},
		{".cursor // .config.start", "[[config start] [cursor]]"},
		{".a, .b", "[[a] [b]]"},
		{".a, .a", "[[a]]"},
		{".a + .b", "[[a] [b]]"},
		{".a == .b and .c", "[[a] [b] [c]]"},
		{"(.a)", "[[a]]"},
		// Object and array construction.
		{"{x: .config.a, y: .page.limit}", "[[config a] [page limit]]"},
		{`{"k": .a}`, "[[a]]"},
		{"[.a, .b.c]", "[[a] [b c]]"},
		{"[.a[] | .b]", "[[a]]"},
		// Conditionals.
		{"if .a then .b else .c end", "[[a] [b] [c]]"},
		{"if .a then .b elif .c then .d else .e end", "[[a] [b] [c] [d] [e]]"},
		{"if .page.token then .page.token else empty end", "[[page token]]"},
		// String interpolation.
		{`"\(.config.x)-\(.cursor)"`, "[[config x] [cursor]]"},
		{`@base64 "\(.credentials.user):\(.credentials.password)"`, "[[credentials password] [credentials user]]"},
		{`"x" + .a`, "[[a]]"},
		// Function arguments are not inspected.
		{"map(.x)", "[]"},
		{"select(.config.x)", "[]"},
		{"tostring", "[]"},
		{"[.items[] | select(.id == .config.y)]", "[[items]]"},
		{".a | length", "[[a]]"},
		// String indexes, at the first and second level, when they are literals.
		{`.["config"]`, "[[config]]"},
		{`.["config"]["x"]`, "[[config x]]"},
		{`.["config"].x`, "[[config x]]"},
		{`.config["x"]`, "[[config x]]"},
		{`.["config"]?`, "[[config]]"},
		{`.["a"][0]`, "[[a]]"},
		{`.["a"][1:2]`, "[[a]]"},
		{`.[1:2]`, "[]"},
		// Object shorthands read the key from the root; {$x} reads a variable.
		{"{config}", "[[config]]"},
		{`{"config"}`, "[[config]]"},
		{"{config, cursor: .page.token}", "[[config] [page token]]"},
		{"1 as $one | {$one}", "[]"},
		{`.a as $x | {$x}`, "[[a]]"},
		// Expressions that compute a key or an index run on the root too.
		{"{(.k): .v}", "[[k] [v]]"},
		{`{"a\(.k)": 1}`, "[[k]]"},
		{".[.k]", "[[k]]"},
		{".a[.k]", "[[a] [k]]"},
		{".a[.i:.j]", "[[a] [i] [j]]"},
		{`."\(.k)"`, "[[k]]"},
		{"(.a)[.k]", "[[a] [k]]"},
		// Bindings keep the root; |= runs its right side on the values it updates.
		{".k as $v | .b", "[[b] [k]]"},
		{".a as [$x] | .b | .c", "[[a] [b]]"},
		{".a |= .b", "[[a]]"},
		{".a = .b", "[[a] [b]]"},
		{".a += .b", "[[a] [b]]"},
		{"label $out | .a", "[[a]]"},
		{"-.a", "[[a]]"},
		{"try .a catch .b", "[[a]]"},
		{"reduce .a[] as $x (.b; . + $x.c)", "[[a] [b]]"},
		{"foreach .a[] as $x (.b; .c; .d)", "[[a] [b]]"},
		// Not recognised, so not reported: the list may be incomplete.
		{`getpath(["config", "x"])`, "[]"},
		{`.["con" + "fig"]`, "[]"},
		{`"config" as $k | .[$k]`, "[]"},
		{"def f: .config; f", "[]"},
		{`to_entries[] | select(.key == "config")`, "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			got := fmt.Sprint(expr.MustCompile(tc.src).RootPaths())
			if got != tc.want {
				t.Errorf("RootPaths() = %s, want %s", got, tc.want)
			}
		})
	}
}
