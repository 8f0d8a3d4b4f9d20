package expr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// fastExprs are expressions of the forms fast.go evaluates, and some it must leave to
// gojq (fast false).
var fastExprs = []struct {
	src  string
	fast bool
}{
	{".email | ascii_downcase", true},
	{".email | ascii_upcase", true},
	{`[.first_name, .last_name] | map(select(. != null)) | join(" ")`, true},
	{`[.a, .b, .c] | join(", ")`, true},
	{`[.a, .b] | map(select(. == "x"))`, true},
	{".a // .b", true},
	{`.a // "none"`, true},
	{".a.b // .c | ascii_downcase", true},
	{"(.a | not)", true},
	{`select(.a != null) | .a`, true},
	{`.a == .b`, true},
	{`[]`, true},
	{`[.a, null, true, false, "s"]`, true},
	{"null", true},
	// Left to gojq.
	{".a | tostring", false},
	{`.a | join($sep)`, false},
	{`def ascii_downcase: "x"; .a | ascii_downcase`, false},
	{`.a as $x | $x`, false},
	{`[.a[]] | join(" ")`, false},
	{`"\(.a)"`, false},
	{`.a, .b`, false},
	{`.a | join(.sep)`, false},
	{`[.a] | .[0]`, false},
	{`1`, false},
	{`.a | map(.b)`, true},
}

// fastInputs reach every branch: strings with and without letters to change, nulls,
// missing keys, numbers, booleans, arrays and objects where a string is wanted.
var fastInputs = []string{
	`null`, `{}`, `"s"`, `[1,2]`, `{"a":null}`,
	`{"email":"Ana.Lopez@Example.COM","first_name":"Ana","last_name":"López"}`,
	`{"email":"already@lower.case","first_name":null,"last_name":"Solo"}`,
	`{"email":null}`, `{"email":42}`, `{"email":["x"]}`, `{"email":{"x":1}}`, `{"email":true}`,
	`{"first_name":1,"last_name":"x"}`, `{"first_name":false,"last_name":true}`,
	`{"a":"x","b":"x"}`, `{"a":"x","b":"y","c":null}`, `{"a":false,"b":"fallback"}`, `{"a":"x","b":1}`,
	`{"a":{"b":"MiXeD"},"c":"Other"}`, `{"a":{"b":null},"c":"OTHER"}`, `{"a":"str","c":"C"}`,
	`{"a":[{"b":"x"},{"b":null}]}`, `{"a":["x",null,"y"]}`, `{"a":{"k":"v"}}`, `{"a":[1,"x"]}`,
	`{"a":true,"b":true}`, `{"a":1,"b":1}`, `{"a":"é É Z z","b":null}`, `{"a":"x","b":true}`, `{"a":false,"b":"x"}`,
}

func decodeBoth(t testing.TB, in string) []any {
	var plain any
	if err := json.Unmarshal([]byte(in), &plain); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(in)))
	dec.UseNumber()
	var numbers any
	if err := dec.Decode(&numbers); err != nil {
		t.Fatal(err)
	}
	return []any{plain, numbers}
}

// agree runs q with and without its fast evaluator and reports where they differ.
func agree(ctx context.Context, q *Query, v any) (string, bool) {
	slow := *q
	slow.fast = nil
	got, gotErr := q.All(ctx, v)
	want, wantErr := slow.All(ctx, v)
	g, w := fmt.Sprintf("%#v, %v", got, gotErr), fmt.Sprintf("%#v, %v", want, wantErr)
	return fmt.Sprintf("got %s; gojq gives %s", g, w), g == w
}

// TestFastAgreesWithJQ runs each expression with and without fast.go over inputs
// decoded as the engine decodes (numbers as json.Number) and as encoding/json does by
// default, and requires the same outputs and the same errors.
func TestFastAgreesWithJQ(t *testing.T) {
	ctx := context.Background()
	for _, e := range fastExprs {
		q, err := Compile(e.src, "$sep")
		if err != nil {
			t.Fatalf("%s: %v", e.src, err)
		}
		if (q.fast != nil) != e.fast {
			t.Fatalf("%s: fast = %v, want %v", e.src, q.fast != nil, e.fast)
		}
		for _, in := range fastInputs {
			for _, v := range decodeBoth(t, in) {
				if diff, ok := agree(ctx, q, v); !ok {
					t.Errorf("%s on %s: %s", e.src, in, diff)
				}
			}
		}
	}
}

// TestFastAnswers pins that the common forms are answered without gojq on the
// records they are written for; agreement alone would hold if fast always gave up.
func TestFastAnswers(t *testing.T) {
	tests := []struct {
		src, in string
		want    any
	}{
		{".email | ascii_downcase", `{"email":"Ana.Lopez@Example.COM"}`, "ana.lopez@example.com"},
		{".email | ascii_downcase", `{"email":"é@x.io"}`, "é@x.io"},
		{".email | ascii_upcase", `{"email":"a-b"}`, "A-B"},
		{`[.first_name, .last_name] | map(select(. != null)) | join(" ")`, `{"first_name":"Ana","last_name":"López"}`, "Ana López"},
		{`[.first_name, .last_name] | map(select(. != null)) | join(" ")`, `{"last_name":"Solo"}`, "Solo"},
		{`[.first_name, .last_name] | map(select(. != null)) | join(" ")`, `{}`, ""},
		{`[.a, .b] | join("-")`, `{"a":null,"b":true}`, "-true"},
		{".a // .b", `{"a":false,"b":"y"}`, "y"},
		{".a // .b", `{"a":"x","b":"y"}`, "x"},
		{`.a == .b`, `{"a":"x","b":"x"}`, true},
		{`.a != null`, `{"a":1}`, true},
	}
	for _, tt := range tests {
		q := MustCompile(tt.src)
		var v any
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Fatal(err)
		}
		got, n, ok := q.fast(v)
		if !ok || n != 1 || got != tt.want {
			t.Errorf("%s on %s: fast gave %#v (n=%d, ok=%v), want %#v", tt.src, tt.in, got, n, ok, tt.want)
		}
	}
}

// FuzzFastAgreesWithJQ runs the expressions of fast.go's forms over arbitrary JSON
// documents, with and without fast.go.
func FuzzFastAgreesWithJQ(f *testing.F) {
	for i, in := range fastInputs {
		f.Add(uint8(i), in)
	}
	ctx := context.Background()
	var qs []*Query
	for _, e := range fastExprs {
		qs = append(qs, MustCompileVars(e.src, "$sep"))
	}
	f.Fuzz(func(t *testing.T, which uint8, doc string) {
		q := qs[int(which)%len(qs)]
		var v any
		dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return
		}
		if diff, ok := agree(ctx, q, v); !ok {
			t.Errorf("%s on %s: %s", q.src, doc, diff)
		}
	})
}

// MustCompileVars is MustCompile with variables.
func MustCompileVars(src string, vars ...string) *Query {
	q, err := Compile(src, vars...)
	if err != nil {
		panic(err)
	}
	return q
}
