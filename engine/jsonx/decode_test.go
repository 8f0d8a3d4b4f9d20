package jsonx_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/jsonx"
)

func TestAtEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"id":1}`, true},
		{"{\"id\":1} \n\t", true},
		{`[1,2]`, true},
		{`0`, true},
		// json.Decoder.More is false before each of these closing brackets.
		{`{"id":1}}`, false},
		{`[1]]`, false},
		{`0}`, false},
		{`{"id":1} {"id":2}`, false},
		{`00`, false},
		{`{"id":1} x`, false},
		{`"a""b"`, false},
	} {
		dec := json.NewDecoder(strings.NewReader(tc.in))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := jsonx.AtEnd(dec); got != tc.want {
			t.Errorf("AtEnd after the first value of %q = %v, want %v", tc.in, got, tc.want)
		}
	}
}
