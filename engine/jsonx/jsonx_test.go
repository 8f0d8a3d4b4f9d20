package jsonx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

// same checks Append against encoding/json for v, with and without HTML escaping.
func same(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := Marshal(v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Marshal(%#v): error %v, encoding/json: %v", v, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%#v)\n got %s\nwant %s", v, got, want)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	wantErr = enc.Encode(v)
	got, err = MarshalNoHTML(v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("MarshalNoHTML(%#v): error %v, encoding/json: %v", v, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, bytes.TrimRight(buf.Bytes(), "\n")) {
		t.Fatalf("MarshalNoHTML(%#v)\n got %s\nwant %s", v, got, buf.Bytes())
	}
}

func TestMatchesEncodingJSON(t *testing.T) {
	cases := []any{
		nil, true, false, "", "plain", `quote " and \ backslash`, "<b>&amp;</b>",
		"tab\tnew\nline\rcr\bbs\fff\x00\x01\x1f\x7f", "héllo wörld ✓ 日本", "bad \xff utf8 \xc3",
		"line\u2028sep\u2029", 0.0, -0.0, 1.0, -1.5, 3.14159, 1e20, 1e21, 1.5e21, 1e-6, 1e-7, 1.234e-9,
		123456789012345678.0, math.MaxFloat64, math.SmallestNonzeroFloat64, 42, int64(-7),
		json.Number("12.50"), json.Number("1e3"), math.Inf(1), math.NaN(),
		map[string]any{}, []any{}, map[string]any(nil), []any(nil),
		map[string]any{"z": 1.0, "a": []any{"x", nil, map[string]any{"k<": "v>"}}, "é": true, "": ""},
		[]any{1.0, "two", []any{3.0}, map[string]any{"b": 2.0, "a": 1.0}},
		map[string]any{"t": struct{ A int }{1}}, // a type of its own: encoding/json encodes it
	}
	for _, v := range cases {
		same(t, v)
	}
	// Objects with more members between them than Append's array holds: the members
	// move to a larger array while outer objects are half written.
	wide := func(n int, inner func(i int) any) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = inner(i)
		}
		return m
	}
	same(t, wide(40, func(i int) any { return float64(i) }))
	same(t, wide(20, func(i int) any {
		return wide(20, func(j int) any { return []any{wide(3, func(int) any { return i*100 + j })} })
	}))
}

// FuzzMatchesEncodingJSON decodes arbitrary JSON as the engine does and compares the
// two encoders on it.
func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x<y"]}`, `"\u2028\ud800"`, `[1e-7,1e21,0.1]`, `{"é":{"z":"\u0000"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		same(t, v)
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.UseNumber()
		if d.Decode(&v) == nil {
			same(t, v)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	var v any
	rec := `{"id":"c_1","email":"Ann.Lee@example.com","first_name":"Ann","last_name":"Lee","title":"VP Sales","phone":"+1 555 0100",
	"company":{"id":"co_9","name":"Example Inc","domain":"example.com"},"address":{"street":"1 Main St","city":"Springfield","country":"US"},
	"lifecycle_stage":"customer","score":87.5,"tags":["a","b","c"],"owner":{"id":"u_3","email":"owner@example.com"},"updated_at":"2024-01-01T00:00:00Z"}`
	if err := json.Unmarshal([]byte(rec), &v); err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
