package retrieve

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/spec"
)

// streamPaths are the records paths FuzzStreamMatchesWhole reads documents with:
// .[], .data[], .a.b[].
var streamPaths = [][]string{{}, {"data"}, {"a", "b"}}

// FuzzStreamMatchesWhole reads any body both ways a JSON response is read: streamed,
// record by record, when records is a plain path, and decoded whole. Properties: one
// fails if and only if the other does; the records are the same (in order for an
// array; as a multiset for an object, whose values jq orders by key); the envelope
// the stream keeps for pagination and rules is the document without the records, or
// the whole document where the records are not where the path says. Documents with a
// duplicate key are left out: which of the two values counts is not defined by JSON,
// and the stream has handed out the first one's records before it sees the second.
func FuzzStreamMatchesWhole(f *testing.F) {
	for _, s := range []string{
		`{"data":[{"id":1},{"id":2}],"has_more":true}`,
		`{"meta":{"next":"x"},"data":[{"id":1}],"links":{"next":null}}`,
		`{"data":{"k1":{"id":1},"k2":{"id":2}}}`,
		`{"a":{"x":1,"b":[1,"two",null,[3]],"y":{"z":2}},"w":[]}`,
		`[{"id":1},{"id":2}]`,
		`{"data":null}`, `{"data":"err"}`, `{"error":"nope"}`, `{"a":5}`, `{"a":{"b":7}}`,
		`{"data":[]}`, `{"data":[1]} {"x":2}`, `{"data":[1,]}`, `{"data":[1]`, `{"data":[{"id":1e400}]}`,
		`{"data":[1],"data":[2]}`, `"text"`, `42`, `null`, `{"data":[{"id":12345678901234567890}]}`,
	} {
		for i := range streamPaths {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, pathSel uint8) {
		if len(bytes.TrimSpace(body)) == 0 || duplicateKeys(body) {
			return
		}
		path := streamPaths[int(pathSel)%len(streamPaths)]

		var whole any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		wholeErr := dec.Decode(&whole)
		if wholeErr == nil && !jsonx.AtEnd(dec) {
			wholeErr = errTrailingData
		}

		c := &Client{opts: Options{MaxBodyBytes: 1 << 20}}
		// A byte at a time, as a slow connection might deliver it.
		src, root, js, err := c.openStream(&bodyPlan{format: spec.FormatJSON, path: path}, iotest.OneByteReader(bytes.NewReader(body)), http.Header{})
		var recs []any
		if err == nil && js != nil {
			for {
				rec, ok, nerr := src.next(context.Background())
				if nerr != nil {
					err = nerr
					break
				}
				if !ok {
					break
				}
				recs = append(recs, rec)
			}
		}
		if (err != nil) != (wholeErr != nil) {
			t.Fatalf("%q on %v: stream error %v, whole error %v", body, path, err, wholeErr)
		}
		if err != nil {
			return
		}
		if js == nil {
			if !reflect.DeepEqual(root, whole) {
				t.Fatalf("%q on %v: read whole by the stream as %#v, decoded as %#v", body, path, root, whole)
			}
			if at, ok := valueAt(whole, path); ok && isContainer(at) {
				t.Fatalf("%q on %v: records are at the path but were not streamed", body, path)
			}
			return
		}
		at, ok := valueAt(whole, path)
		if !ok || !isContainer(at) {
			t.Fatalf("%q on %v: streamed %d records, but the document has none at the path", body, path, len(recs))
		}
		var want []any
		switch v := at.(type) {
		case []any:
			want = v
		case map[string]any:
			for _, x := range v {
				want = append(want, x)
			}
			recs, want = canonical(t, recs), canonical(t, want)
		}
		if len(recs) != len(want) || (len(want) > 0 && !reflect.DeepEqual(recs, want)) {
			t.Fatalf("%q on %v: streamed %#v, want %#v", body, path, recs, want)
		}
		if env := js.envelope(); !reflect.DeepEqual(env, without(whole, path)) {
			t.Fatalf("%q on %v: envelope %#v, want %#v", body, path, env, without(whole, path))
		}
	})
}

func isContainer(v any) bool {
	switch v.(type) {
	case []any, map[string]any:
		return true
	}
	return false
}

// valueAt follows path through objects.
func valueAt(doc any, path []string) (any, bool) {
	for _, k := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, false
		}
		if doc, ok = m[k]; !ok {
			return nil, false
		}
	}
	return doc, true
}

// without is doc with the value at path removed (a copy of the objects on the way).
func without(doc any, path []string) any {
	if len(path) == 0 {
		return nil
	}
	m := doc.(map[string]any)
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if len(path) == 1 {
		delete(out, path[0])
	} else {
		out[path[0]] = without(m[path[0]], path[1:])
	}
	return out
}

// canonical sorts values by their JSON text, to compare them as multisets.
func canonical(t *testing.T, vs []any) []any {
	type kv struct {
		text string
		v    any
	}
	s := make([]kv, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		s[i] = kv{string(b), v}
	}
	slices.SortFunc(s, func(a, b kv) int { return bytes.Compare([]byte(a.text), []byte(b.text)) })
	out := make([]any, len(s))
	for i := range s {
		out[i] = s[i].v
	}
	return out
}

// duplicateKeys reports whether any object of the (first) document repeats a key;
// false for text that is not JSON.
func duplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // an object's next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expect {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.expect = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return false
		}
		if top := stack[len(stack)-1]; top.obj {
			top.expect = true // a value ended: a key comes next
		}
	}
}
