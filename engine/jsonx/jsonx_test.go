package jsonx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
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
	// One Encoder for all inputs: what it remembers of one must not change another's
	// encoding.
	var enc Encoder
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		same(t, v)
		sameAsAppend(t, &enc, v)
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.UseNumber()
		if d.Decode(&v) == nil {
			same(t, v)
			sameAsAppend(t, &enc, v)
		}
	})
}

// sameAsAppend checks an Encoder, with what it remembers, against Append for v.
func sameAsAppend(t *testing.T, e *Encoder, v any) {
	t.Helper()
	want, wantErr := Append(nil, v, e.EscapeHTML)
	got, err := e.Append(nil, v)
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("Encoder.Append(%#v)\n got %s (%v)\nwant %s (%v)", v, got, err, want, wantErr)
	}
}

// An Encoder writes each object's keys sorted whatever key sets it remembers: the
// same keys again, as many other keys, a subset, a superset, nested objects, and
// more sets than it keeps.
func TestEncoderRemembersKeySets(t *testing.T) {
	obj := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	values := []any{
		obj("b", 1.0, "a", 2.0, "c", 3.0),
		obj("b", 4.0, "a", 5.0, "c", 6.0),           // the same keys
		obj("b", 1.0, "a", 2.0, "d", 3.0),           // as many keys, one other
		obj("a", 1.0, "b", 2.0),                     // a subset
		obj("a", 1.0, "b", 2.0, "c", 3.0, "e", 4.0), // a superset
		obj("z", obj("b", 1.0, "a", 2.0, "c", 3.0), "y", []any{obj("c", 1.0, "b", 2.0, "a", 3.0)}),
		obj("a", nil, "b", nil, "c", obj("y", 1.0, "x", obj()), "<", "&"),
	}
	for i := range 2 * maxKeyOrders { // more sets than it keeps
		values = append(values, obj(fmt.Sprint("k", i), 1.0, "b", 2.0, "a", 3.0))
	}
	values = append(values, values...) // and all again, remembered or dropped
	for _, html := range []bool{false, true} {
		e := &Encoder{EscapeHTML: html}
		for _, v := range values {
			sameAsAppend(t, e, v)
		}
		if len(e.orders.sets) != maxKeyOrders {
			t.Errorf("the encoder keeps %d key sets, want %d", len(e.orders.sets), maxKeyOrders)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	// A contact as the bench's mock serves it (internal/bench): 26 keys, four objects.
	rec := `{"address":{"city":"Berlin","country":"DE","postal_code":"10000","region":"BE","street":"1 Market Street"},` +
		`"company":{"domain":"company0.com","employees":10,"id":"co_0","industry":"software","name":"Company 0 GmbH"},"created_at":"2023-12-31T00:00:00Z",` +
		`"custom_fields":{"nps":0,"referral_code":"R0","renewal_month":1,"segment":"smb"},"deleted":false,"email":"a.0@Company0.com","email_opt_out":true,` +
		`"first_name":"Ana","id":"c_0","language":"en","last_name":"López","lead_status":"open","lifecycle_stage":"subscriber",` +
		`"linkedin_url":"https://www.linkedin.com/in/a0","mobile_phone":null,"notes":"Met at the spring conference; interested in the enterprise plan.",` +
		`"object":"contact","owner":{"email":"owner0@vendor.example","id":"u_0","name":"Owner 0"},"phone":"+49 30 1000000","score":0,"source":"web_form",` +
		`"tags":["vip","newsletter"],"timezone":"Europe/Berlin","title":"VP Sales","updated_at":"2024-01-01T00:00:00Z","version":0}`
	d := json.NewDecoder(strings.NewReader(rec))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
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
	// Into a reused buffer, with and without the key sets remembered.
	buf := make([]byte, 0, 4096)
	b.Run("jsonx-append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = Append(buf[:0], v, false)
		}
	})
	b.Run("jsonx-encoder", func(b *testing.B) {
		b.ReportAllocs()
		var e Encoder
		for b.Loop() {
			buf, _ = e.Append(buf[:0], v)
		}
	})
}
