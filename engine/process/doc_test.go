package process

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"testing"

	"github.com/intakehq/intake/engine/jsonx"
)

// TestDocValueIsTheDecodedJSON requires the document built beside a record's JSON to
// be what decoding that JSON gives, and docValue to decline what it cannot build.
func TestDocValueIsTheDecodedJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, "plain", "Köln <&>", "\u2028", 0.0, -1.5, 1e21, 1e-7, 42, int64(-3), json.Number("12.50"), json.Number(""),
		map[string]any{"a": []any{1.0, nil, map[string]any{"b": "c"}}, "é": false},
		[]any{}, map[string]any{},
	} {
		got, ok := docValue(v)
		if !ok {
			t.Errorf("docValue(%#v) declined", v)
			continue
		}
		enc, err := jsonx.MarshalNoHTML(v)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(enc))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("docValue(%#v) = %#v, decoding %s gives %#v", v, got, enc, want)
		}
	}
	for _, v := range []any{"bad \xff", map[string]any{"\xff": 1.0}, []any{"ok", "\xc3"}, big.NewInt(7), struct{}{}} {
		if _, ok := docValue(v); ok {
			t.Errorf("docValue(%#v) should decline", v)
		}
	}
}
